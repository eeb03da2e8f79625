//! The control mapping: what trailproof states about a run, and the controls each statement
//! evidences. One table, shown in `report.html`, in every JSON output, in the OSCAL
//! assessment results and the OCSF findings (see `docs/evidence-pack.md`).

use serde::Serialize;

use crate::coverage::{Category, Evidence, Gap};

/// A control of a framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Control {
    /// `cis-aws`, `aws-securityhub`, `nist-800-53-r4`, `nist-800-53-r5`.
    pub framework: &'static str,
    /// As the framework writes it: `3.1`, `CloudTrail.1`, `AU-2`, `AU-6(3)`.
    pub id: &'static str,
    pub title: &'static str,
}

impl Control {
    /// `framework:id`, the reference used in JSON (`nist-800-53-r5:AU-2`).
    pub fn reference(&self) -> String {
        format!("{}:{}", self.framework, self.id)
    }
}

const fn c(framework: &'static str, id: &'static str, title: &'static str) -> Control {
    Control {
        framework,
        id,
        title,
    }
}

const CIS: &str = "cis-aws";
const SH: &str = "aws-securityhub";
const R4: &str = "nist-800-53-r4";
const R5: &str = "nist-800-53-r5";

/// What trailproof states about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Statement {
    /// The configuration: a logging multi-region trail records read and write management events.
    Configuration,
    /// Read and write management events were delivered from every expected region.
    RegionalCoverage,
    /// Global-service events were delivered in the global region.
    GlobalCoverage,
    /// Every log file read is the one its signed digest lists, and the digest chains hold.
    Integrity,
}

/// The statements and the controls each evidences (NIST rev 4 and rev 5, CIS AWS Foundations,
/// Security Hub). The NIST controls for `Configuration` are those AWS lists as related
/// requirements of Security Hub CloudTrail.1; for `Integrity`, those of CloudTrail.4.
pub const TABLE: &[(Statement, &str, &[Control])] = &[
    (
        Statement::Configuration,
        "A multi-region trail is logging and records all read and write management events",
        &[
            CIS_3_1,
            CLOUDTRAIL_1,
            R5_AU2,
            R5_AU3,
            R5_AU12,
            R5_AU10,
            c(
                R5,
                "AU-6(3)",
                "Audit Record Review, Analysis, and Reporting | Correlate Audit Record Repositories",
            ),
            c(
                R5,
                "AU-6(4)",
                "Audit Record Review, Analysis, and Reporting | Central Review and Analysis",
            ),
            c(R5, "AU-14(1)", "Session Audit | System Start-up"),
            c(
                R5,
                "AC-2(4)",
                "Account Management | Automated Audit Actions",
            ),
            c(
                R5,
                "AC-4(26)",
                "Information Flow Enforcement | Audit Filtering Actions",
            ),
            c(
                R5,
                "AC-6(9)",
                "Least Privilege | Log Use of Privileged Functions",
            ),
            c(R5, "CA-7", "Continuous Monitoring"),
            c(
                R5,
                "SC-7(9)",
                "Boundary Protection | Restrict Threatening Outgoing Communications Traffic",
            ),
            c(
                R5,
                "SI-3(8)",
                "Malicious Code Protection | Detect Unauthorized Commands",
            ),
            c(R5, "SI-4(20)", "System Monitoring | Privileged Users"),
            c(
                R5,
                "SI-7(8)",
                "Software, Firmware, and Information Integrity | Auditing Capability for Significant Events",
            ),
            c(
                R5,
                "SA-8(22)",
                "Security and Privacy Engineering Principles | Accountability and Traceability",
            ),
            R4_AU2,
            R4_AU3,
            R4_AU12,
        ],
    ),
    (
        Statement::RegionalCoverage,
        "Read and write management events were delivered from every expected region for the whole window",
        &[
            CIS_3_1,
            CLOUDTRAIL_1,
            R5_AU2,
            R5_AU3,
            R5_AU12,
            R4_AU2,
            R4_AU3,
            R4_AU12,
        ],
    ),
    (
        Statement::GlobalCoverage,
        "Global-service events (IAM, STS, CloudFront, Route 53, sign-in) were delivered in the global region",
        &[CIS_3_1, CLOUDTRAIL_1, R5_AU2, R5_AU12, R4_AU2, R4_AU12],
    ),
    (
        Statement::Integrity,
        "Every log file read is the one its signed digest lists, and the digest chains are unbroken",
        &[
            c(
                CIS,
                "3.2",
                "Ensure CloudTrail log file validation is enabled",
            ),
            c(
                SH,
                "CloudTrail.4",
                "CloudTrail log file validation should be enabled",
            ),
            c(R5, "AU-9", "Protection of Audit Information"),
            R5_AU10,
            c(R4, "AU-9", "Protection of Audit Information"),
            c(R4, "AU-10", "Non-repudiation"),
        ],
    ),
];

const CIS_3_1: Control = c(CIS, "3.1", "Ensure CloudTrail is enabled in all regions");
const CLOUDTRAIL_1: Control = c(
    SH,
    "CloudTrail.1",
    "CloudTrail should be enabled and configured with at least one multi-Region trail that includes read and write management events",
);
const R5_AU2: Control = c(R5, "AU-2", "Event Logging");
const R5_AU3: Control = c(R5, "AU-3", "Content of Audit Records");
const R5_AU10: Control = c(R5, "AU-10", "Non-repudiation");
const R5_AU12: Control = c(R5, "AU-12", "Audit Record Generation");
const R4_AU2: Control = c(R4, "AU-2", "Audit Events");
const R4_AU3: Control = c(R4, "AU-3", "Content of Audit Records");
const R4_AU12: Control = c(R4, "AU-12", "Audit Generation");

impl Statement {
    pub fn as_str(self) -> &'static str {
        match self {
            Statement::Configuration => "configuration",
            Statement::RegionalCoverage => "regional_coverage",
            Statement::GlobalCoverage => "global_coverage",
            Statement::Integrity => "integrity",
        }
    }

    /// What it states, in one sentence.
    pub fn text(self) -> &'static str {
        TABLE
            .iter()
            .find(|(s, ..)| *s == self)
            .map(|(_, t, _)| *t)
            .expect("every statement is in the table")
    }

    /// The controls it evidences.
    pub fn controls(self) -> &'static [Control] {
        TABLE
            .iter()
            .find(|(s, ..)| *s == self)
            .map(|(.., c)| *c)
            .expect("every statement is in the table")
    }

    /// The statement a gap breaks.
    pub fn of_gap(g: &Gap) -> Statement {
        match g.category {
            Category::MgmtRead | Category::MgmtWrite | Category::Delivery => {
                Statement::RegionalCoverage
            }
            Category::Global => Statement::GlobalCoverage,
            Category::Integrity => Statement::Integrity,
        }
    }
}

/// The references (`framework:id`) of a statement's controls.
pub fn references(s: Statement) -> Vec<String> {
    s.controls().iter().map(Control::reference).collect()
}

/// Where a statement stands after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Result {
    /// Observed to hold.
    Satisfied,
    /// Observed not to hold.
    NotSatisfied,
    /// Not shown either way (unreadable evidence, a denied call): never satisfied.
    Unknown,
}

impl Result {
    pub fn as_str(self) -> &'static str {
        match self {
            Result::Satisfied => "satisfied",
            Result::NotSatisfied => "not_satisfied",
            Result::Unknown => "unknown",
        }
    }
}

/// One statement's result in a run, with its controls and the gaps behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub statement: Statement,
    pub text: &'static str,
    pub result: Result,
    /// Why, in one line.
    pub reason: String,
    /// Findings (gap rows) against it.
    pub findings: usize,
    pub controls: Vec<String>,
}

impl Assessment {
    fn new(statement: Statement, result: Result, reason: String, findings: usize) -> Self {
        Assessment {
            statement,
            text: statement.text(),
            result,
            reason,
            findings,
            controls: references(statement),
        }
    }
}

/// The log phase's statements from its gaps and verdict; `digests` tells whether digests took
/// part (without them, integrity is not assessed).
pub fn assess_log_phase(evidence: Evidence, gaps: &[Gap], digests: bool) -> Vec<Assessment> {
    let mut out = Vec::new();
    let mut statements = vec![Statement::RegionalCoverage, Statement::GlobalCoverage];
    if digests {
        statements.push(Statement::Integrity);
    }
    for s in statements {
        let mine: Vec<&Gap> = gaps.iter().filter(|g| Statement::of_gap(g) == s).collect();
        let definite = mine.iter().filter(|g| !g.kind.is_unknown()).count();
        // Unknown evidence anywhere leaves every coverage statement unproven.
        let unknown = mine.len() - definite
            + if s == Statement::Integrity {
                0
            } else {
                gaps.iter()
                    .filter(|g| g.kind.is_unknown() && Statement::of_gap(g) != s)
                    .count()
            };
        let (result, reason) = if definite > 0 {
            (
                Result::NotSatisfied,
                format!("{definite} finding(s) against it"),
            )
        } else if unknown > 0 || (s != Statement::Integrity && evidence != Evidence::Proven) {
            (
                Result::Unknown,
                format!("no finding, but {unknown} piece(s) of evidence could not be read"),
            )
        } else {
            (Result::Satisfied, "observed in the delivered logs".into())
        };
        out.push(Assessment::new(s, result, reason, mine.len()));
    }
    out
}

/// The configuration statement from the check verdict (`PASS`, `FAIL`, `INCONCLUSIVE`,
/// `ERROR`).
pub fn assess_configuration(verdict: &str, findings: usize) -> Assessment {
    let (result, reason) = match verdict {
        "PASS" => (
            Result::Satisfied,
            "the configuration check passed".to_owned(),
        ),
        "FAIL" => (
            Result::NotSatisfied,
            "the configuration check failed".to_owned(),
        ),
        v => (
            Result::Unknown,
            format!("the configuration check was {v}: not shown either way"),
        ),
    };
    Assessment::new(Statement::Configuration, result, reason, findings)
}

/// The mapping table as JSON outputs carry it.
#[derive(Debug, Serialize)]
pub struct MappingRow {
    pub statement: Statement,
    pub text: &'static str,
    pub controls: &'static [Control],
}

/// Every row of [`TABLE`].
pub fn mapping() -> Vec<MappingRow> {
    TABLE
        .iter()
        .map(|(statement, text, controls)| MappingRow {
            statement: *statement,
            text,
            controls,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::GapKind;

    #[test]
    fn every_statement_maps_to_cis_security_hub_and_both_nist_revisions() {
        for (s, _, controls) in TABLE {
            for fw in [CIS, SH, R4, R5] {
                assert!(
                    controls.iter().any(|c| c.framework == fw),
                    "{s:?} lacks {fw}"
                );
            }
        }
        assert!(references(Statement::Integrity).contains(&"nist-800-53-r5:AU-9".to_owned()));
        assert!(
            references(Statement::RegionalCoverage).contains(&"nist-800-53-r4:AU-12".to_owned())
        );
    }

    #[test]
    fn a_gap_breaks_its_statement_and_unknowns_never_satisfy() {
        let w = (0, 3_600);
        let gaps = vec![Gap::new("1", "us-east-1", GapKind::NoGlobalEvents, w, "")];
        let a = assess_log_phase(Evidence::Gaps, &gaps, true);
        let by = |s| a.iter().find(|x| x.statement == s).unwrap().result;
        assert_eq!(by(Statement::GlobalCoverage), Result::NotSatisfied);
        assert_eq!(by(Statement::RegionalCoverage), Result::Unknown);
        assert_eq!(by(Statement::Integrity), Result::Satisfied);
        let gaps = vec![Gap::new("1", "eu-west-1", GapKind::ListFailed, w, "")];
        let a = assess_log_phase(Evidence::Unknown, &gaps, false);
        assert!(a.iter().all(|x| x.result == Result::Unknown));
        assert_eq!(a.len(), 2);
        let a = assess_log_phase(Evidence::Proven, &[], true);
        assert!(a.iter().all(|x| x.result == Result::Satisfied));
    }
}
