//! Command-line arguments (pure parsing) and their validation into [`Config`] values.
//!
//! Parsing does no I/O; `Config::try_from(Args)`-style validation happens in the `TryFrom`
//! implementations below, and clients are only built in [`crate::run`].

use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

use crate::error::{Error, Result};

/// Prove that CloudTrail really records every enabled region.
#[derive(Debug, Parser)]
#[command(name = "trailproof", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log verbosity: -v info, -vv debug, -vvv trace (logs go to stderr; RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Output")]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Configuration verdict: is there a multi-region, logging trail that records all read and
    /// write management events? (CIS AWS 3.1 / Security Hub CloudTrail.1)
    Check(CheckArgs),
}

/// Standard AWS settings, shared by every command that talks to AWS.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct AwsArgs {
    /// Named profile from the shared AWS config files (default: AWS_PROFILE or "default").
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE", help_heading = "AWS")]
    pub profile: Option<String>,

    /// Region for global calls (STS, account); default: the standard region chain, else the
    /// partition's default region.
    #[arg(long, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (an emulator, a VPC endpoint); AWS_ENDPOINT_URL is
    /// also honoured. S3 then uses path-style addressing.
    #[arg(long, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,

    /// Attempts per AWS call, including the first (standard retry mode, with backoff on
    /// throttling).
    #[arg(long, value_name = "N", default_value_t = 5, help_heading = "AWS")]
    pub max_attempts: u32,

    /// Connect timeout per AWS call (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, help_heading = "AWS")]
    pub connect_timeout: Duration,

    /// Timeout for a whole AWS call including retries (e.g. 60s).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "AWS")]
    pub operation_timeout: Duration,
}

/// Output format of a command's result on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A human summary.
    Text,
    /// One JSON document with a stable schema (see README, "JSON output").
    Json,
}

/// Which benchmark's reading of the rules decides the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ruleset {
    /// AWS Config `multi-region-cloudtrail-enabled` / Security Hub CloudTrail.1 parity:
    /// excluding KMS or RDS Data API events fails.
    Aws,
    /// The CIS text as written: excluded event sources only warn.
    CisLiteral,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// Output format.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        help_heading = "Output"
    )]
    pub format: Format,

    /// Rule reading: `aws` (Security Hub parity, default) or `cis-literal`.
    #[arg(
        long,
        value_enum,
        value_name = "RULESET",
        default_value = "aws",
        help_heading = "Rules"
    )]
    pub ruleset: Ruleset,

    /// Count split read/write selectors (in one trail or across trails) as compliant when
    /// together they record every management event. Off by default: CIS and Security Hub fail
    /// them.
    #[arg(long, help_heading = "Rules")]
    pub semantic: bool,

    /// A compliant trail whose last delivery is older than this warns (STALE_DELIVERY).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration, help_heading = "Rules")]
    pub max_delivery_age: Duration,

    /// Check exactly these regions (comma-separated) instead of discovering the enabled ones
    /// with account:ListRegions.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub regions: Option<Vec<String>>,

    /// Leave these regions out of scope (comma-separated); they are listed as excluded.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        help_heading = "Scope"
    )]
    pub exclude_regions: Vec<String>,

    /// At most this many AWS calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16, help_heading = "AWS")]
    pub concurrency: usize,
}

/// Validated settings of `check`.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    pub aws: AwsArgs,
    pub format: Format,
    pub options: crate::check::CheckOptions,
}

impl TryFrom<CheckArgs> for CheckConfig {
    type Error = Error;

    fn try_from(args: CheckArgs) -> Result<Self> {
        let regions = match args.regions {
            Some(list) => {
                let list: Vec<String> = list
                    .into_iter()
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err(Error::usage("--regions needs at least one region"));
                }
                for r in &list {
                    validate_region(r)?;
                }
                Some(list)
            }
            None => None,
        };
        for r in &args.exclude_regions {
            validate_region(r)?;
        }
        if args.concurrency == 0 {
            return Err(Error::usage("--concurrency must be at least 1"));
        }
        if args.aws.max_attempts == 0 {
            return Err(Error::usage("--max-attempts must be at least 1"));
        }
        Ok(CheckConfig {
            aws: args.aws,
            format: args.format,
            options: crate::check::CheckOptions {
                ruleset: args.ruleset,
                semantic: args.semantic,
                max_delivery_age: args.max_delivery_age,
                regions,
                exclude_regions: args.exclude_regions,
                concurrency: args.concurrency,
            },
        })
    }
}

/// A region name must look like one (`us-east-1`, `us-gov-west-1`, `cn-north-1`): lower-case
/// letters, digits and dashes, ending in a digit. This catches typos such as `us-east1` early.
fn validate_region(r: &str) -> Result<()> {
    let ok = r.len() >= 9
        && r.split('-').count() >= 3
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && r.as_bytes().last().is_some_and(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("'{r}' is not a region name")))
    }
}

/// Parses `90s`, `15m`, `24h`, `3d`, `2w` or a plain number of seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 90s, 15m, 24h, 3d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "'{s}': unknown unit '{unit}' (use s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> CheckConfig {
        let mut full = vec!["trailproof", "check"];
        full.extend_from_slice(args);
        let cli = Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{full:?}: {e}"));
        let Command::Check(a) = cli.command;
        CheckConfig::try_from(a).unwrap_or_else(|e| panic!("{full:?}: {e}"))
    }

    fn check_err(args: &[&str]) -> String {
        let mut full = vec!["trailproof", "check"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(&full) {
            Err(e) => e.to_string(),
            Ok(cli) => {
                let Command::Check(a) = cli.command;
                CheckConfig::try_from(a)
                    .expect_err(&format!("{full:?} should fail"))
                    .to_string()
            }
        }
    }

    #[test]
    fn durations() {
        for (input, secs) in [
            ("90", 90),
            ("90s", 90),
            ("15m", 900),
            ("24h", 86_400),
            ("3d", 259_200),
            ("1w", 604_800),
        ] {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_secs(secs)),
                "{input}"
            );
        }
        for bad in ["", "h", "3x", "-1h", "1.5h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn defaults() {
        let c = check(&[]);
        assert_eq!(c.format, Format::Text);
        assert_eq!(c.options.ruleset, Ruleset::Aws);
        assert!(!c.options.semantic);
        assert_eq!(c.options.max_delivery_age, Duration::from_secs(86_400));
        assert_eq!(c.options.regions, None);
        assert_eq!(c.aws.max_attempts, 5);
    }

    #[test]
    fn regions_flag() {
        let c = check(&["--regions", "us-east-1, eu-west-1"]);
        assert_eq!(
            c.options.regions,
            Some(vec!["us-east-1".into(), "eu-west-1".into()])
        );
        assert!(check_err(&["--regions", "us-east1"]).contains("not a region"));
        assert!(check_err(&["--regions", ","]).contains("at least one"));
        assert!(check_err(&["--exclude-regions", "EU-WEST-1"]).contains("not a region"));
    }

    #[test]
    fn ruleset_format_semantic() {
        let c = check(&["--ruleset", "cis-literal", "--format", "json", "--semantic"]);
        assert_eq!(c.options.ruleset, Ruleset::CisLiteral);
        assert_eq!(c.format, Format::Json);
        assert!(c.options.semantic);
        assert!(check_err(&["--ruleset", "nist"]).contains("invalid value"));
    }

    #[test]
    fn aws_flags() {
        let c = check(&[
            "--profile",
            "audit",
            "--region",
            "eu-west-1",
            "--endpoint-url",
            "http://127.0.0.1:5000",
            "--max-attempts",
            "3",
            "--connect-timeout",
            "2s",
            "--operation-timeout",
            "1m",
        ]);
        assert_eq!(c.aws.profile.as_deref(), Some("audit"));
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(c.aws.max_attempts, 3);
        assert_eq!(c.aws.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.aws.operation_timeout, Duration::from_secs(60));
        assert!(check_err(&["--max-attempts", "0"]).contains("at least 1"));
        assert!(check_err(&["--concurrency", "0"]).contains("at least 1"));
    }

    #[test]
    fn max_delivery_age() {
        assert_eq!(
            check(&["--max-delivery-age", "3d"])
                .options
                .max_delivery_age,
            Duration::from_secs(259_200)
        );
        assert!(check_err(&["--max-delivery-age", "soon"]).contains("not a duration"));
    }
}
