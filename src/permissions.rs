//! Least privilege: the one table of the IAM actions each command calls, and the policy
//! `trailproof permissions` prints from it (the README's policy is that output, tested).

use serde::Serialize;

/// A command that calls AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cmd {
    Check,
    Verify,
    Scan,
    Validate,
    /// `canary send` (and `verify --canary-send-and-wait`, which needs `verify`'s too): the
    /// one command that makes a write, a dry run; not in `all`, which is read-only.
    Canary,
}

impl Cmd {
    /// The commands `trailproof permissions all` covers: every read-only command (`canary`,
    /// which makes a dry-run write, has its own policy).
    pub const CLI: [Cmd; 4] = [Cmd::Check, Cmd::Verify, Cmd::Scan, Cmd::Validate];

    pub fn as_str(self) -> &'static str {
        match self {
            Cmd::Check => "check",
            Cmd::Verify => "verify",
            Cmd::Scan => "scan",
            Cmd::Validate => "validate",
            Cmd::Canary => "canary",
        }
    }
}

/// One IAM action: which commands call it, and why.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub action: &'static str,
    pub commands: &'static [Cmd],
    pub why: &'static str,
}

use Cmd::{Canary, Check, Scan, Validate, Verify};

/// Every IAM action trailproof calls, in the order the policy lists them. `verify` runs
/// `check` first; `scan` and `validate` with an `s3://` source read the bucket and, unless
/// `--public-keys FILE` is given, the digests' public keys.
pub const TABLE: &[Grant] = &[
    Grant {
        action: "sts:GetCallerIdentity",
        commands: &[Check, Verify, Canary],
        why: "the caller's account and partition",
    },
    Grant {
        action: "account:ListRegions",
        commands: &[Check, Verify, Canary],
        why: "the enabled regions (optional: without it the partition's defaults, REGIONS_UNVERIFIED)",
    },
    Grant {
        action: "cloudtrail:DescribeTrails",
        commands: &[Check, Verify, Canary],
        why: "the trails visible in each region",
    },
    Grant {
        action: "cloudtrail:GetTrailStatus",
        commands: &[Check, Verify],
        why: "whether each trail is logging and delivering",
    },
    Grant {
        action: "cloudtrail:GetEventSelectors",
        commands: &[Check, Verify],
        why: "which events each trail records",
    },
    Grant {
        action: "cloudtrail:ListPublicKeys",
        commands: &[Verify, Scan, Validate],
        why: "the keys that sign digests (not needed with --public-keys FILE)",
    },
    Grant {
        action: "s3:ListBucket",
        commands: &[Verify, Scan, Validate],
        why: "listing the delivered logs and digests",
    },
    Grant {
        action: "s3:GetObject",
        commands: &[Verify, Scan, Validate],
        why: "reading the delivered logs and digests",
    },
    Grant {
        action: "ec2:DeleteKeyPair",
        commands: &[Canary],
        why: "the canary's call, recorded by CloudTrail in each region",
    },
    Grant {
        action: "iam:ListAccountAliases",
        commands: &[Canary],
        why: "the canary's global-service call",
    },
];

/// The actions any of `commands` calls, in table order.
pub fn actions(commands: &[Cmd]) -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|g| g.commands.iter().any(|c| commands.contains(c)))
        .map(|g| g.action)
        .collect()
}

/// An IAM policy document, its fields in the conventional order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<&'static str>,
    pub resource: &'static str,
}

/// The least-privilege policy for `commands`: one statement allowing exactly their actions.
pub fn policy(commands: &[Cmd]) -> Policy {
    // Named after its commands; the four read-only ones together are plain `Trailproof`.
    let all = Cmd::CLI.iter().all(|c| commands.contains(c));
    let mut sid = String::from("Trailproof");
    for c in commands.iter().filter(|c| !all || !Cmd::CLI.contains(c)) {
        let name = c.as_str();
        sid.push_str(&name[..1].to_ascii_uppercase());
        sid.push_str(&name[1..]);
    }
    Policy {
        version: "2012-10-17",
        statement: vec![Statement {
            sid,
            effect: "Allow",
            action: actions(commands),
            resource: "*",
        }],
    }
}

/// [`policy`] as printed: pretty JSON with a final newline.
pub fn policy_text(commands: &[Cmd]) -> String {
    let mut s = serde_json::to_string_pretty(&policy(commands)).expect("a JSON value");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_gets_exactly_its_actions() {
        assert_eq!(
            actions(&[Check]),
            [
                "sts:GetCallerIdentity",
                "account:ListRegions",
                "cloudtrail:DescribeTrails",
                "cloudtrail:GetTrailStatus",
                "cloudtrail:GetEventSelectors"
            ]
        );
        assert_eq!(
            actions(&[Scan]),
            ["cloudtrail:ListPublicKeys", "s3:ListBucket", "s3:GetObject"]
        );
        assert_eq!(actions(&[Validate]), actions(&[Scan]));
        assert_eq!(actions(&[Verify]).len(), 8);
        assert_eq!(actions(&Cmd::CLI), actions(&[Verify]));
        assert_eq!(
            actions(&[Canary]),
            [
                "sts:GetCallerIdentity",
                "account:ListRegions",
                "cloudtrail:DescribeTrails",
                "ec2:DeleteKeyPair",
                "iam:ListAccountAliases"
            ]
        );
    }

    #[test]
    fn policy_is_one_statement_named_after_its_commands() {
        let p = &policy(&[Check]).statement[0];
        assert_eq!((p.sid.as_str(), p.resource), ("TrailproofCheck", "*"));
        assert_eq!(policy(&Cmd::CLI).statement[0].sid, "Trailproof");
        assert_eq!(
            policy(&[Scan, Validate]).statement[0].sid,
            "TrailproofScanValidate"
        );
        let text = policy_text(&[Check]);
        assert!(text.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\""));
        assert!(text.ends_with("}\n"));
    }
}
