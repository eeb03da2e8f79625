//! The control mapping: what trailproof states about a run, and the controls each statement
//! evidences. One table, shown in `report.html`, in every JSON output, in the OSCAL
//! assessment results and the OCSF findings (see `docs/evidence-pack.md`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::coverage::{Category, Evidence, Gap, GapKind};

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
        Self::of_names(g.category.as_str(), g.kind.as_str())
    }

    /// The statement a gap row breaks, from its `category` and `kind` columns (so a row read
    /// back from `gaps.parquet` maps as the gap did).
    pub fn of_names(category: &str, kind: &str) -> Statement {
        // Records claiming another region, or dated after their delivery, are about what the
        // logs show, not about the digests.
        if kind == GapKind::RegionMismatch.as_str() || kind == GapKind::EventAfterDelivery.as_str()
        {
            return Statement::RegionalCoverage;
        }
        match category {
            c if c == Category::Global.as_str() => Statement::GlobalCoverage,
            c if c == Category::Integrity.as_str() => Statement::Integrity,
            _ => Statement::RegionalCoverage,
        }
    }

    /// The statement's controls as the report lists them beside a finding: every framework's,
    /// and of NIST rev 5 the core audit controls (the full list is in the mapping section).
    pub fn core_references(self) -> String {
        const CORE: [&str; 5] = ["AU-2", "AU-3", "AU-12", "AU-9", "AU-10"];
        self.controls()
            .iter()
            .filter(|c| c.framework != R5 || CORE.contains(&c.id))
            .map(Control::reference)
            .collect::<Vec<_>>()
            .join(", ")
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

/// What the log phase observed, as the statements need it.
pub struct LogPhaseFacts<'a> {
    pub evidence: Evidence,
    pub gaps: &'a [Gap],
    /// Digests took part (integrity is assessed only then).
    pub digests_in_use: bool,
    /// The expected regions were given (`--regions`, or `verify`'s configuration), not taken
    /// from the bucket's layout.
    pub regions_given: bool,
    /// The global region is among the expected regions (its global events were judged).
    pub global_expected: bool,
    pub global_region: &'a str,
    /// Silent stretches within the window were judged (`--max-silence`).
    pub silence_checked: bool,
    /// Log files read, by digest status.
    pub files_by_digest_status: &'a BTreeMap<&'static str, u64>,
    /// Successful `StopLogging` / `DeleteTrail` calls in the window, described.
    pub stops: Vec<String>,
}

/// The log phase's statements: a definite gap against a statement makes it not satisfied;
/// unknown evidence anywhere, or a check the run could not make (regions not given, silences
/// not judged, the global region not expected, logging stopped, log files no digest verified),
/// leaves it unknown; satisfied only when none of that holds.
pub fn assess_log_phase(f: &LogPhaseFacts<'_>) -> Vec<Assessment> {
    let mut out = Vec::new();
    let mut statements = vec![Statement::RegionalCoverage, Statement::GlobalCoverage];
    if f.digests_in_use {
        statements.push(Statement::Integrity);
    }
    let unknown = f.gaps.iter().filter(|g| g.kind.is_unknown()).count();
    for s in statements {
        let mine: Vec<&Gap> = f
            .gaps
            .iter()
            .filter(|g| Statement::of_gap(g) == s)
            .collect();
        let definite = mine.iter().filter(|g| !g.kind.is_unknown()).count();
        let mut caveats = Vec::new();
        if unknown > 0 {
            caveats.push(format!("{unknown} piece(s) of evidence could not be read"));
        }
        match s {
            Statement::RegionalCoverage => {
                if !f.regions_given {
                    caveats.push("the expected regions were taken from the bucket's layout, not given (--regions, or verify)".into());
                }
                if !f.silence_checked && !f.digests_in_use {
                    caveats.push(
                        "silences within the window were not judged (--max-silence, or digests)"
                            .into(),
                    );
                }
                if !f.stops.is_empty() {
                    caveats.push(format!(
                        "logging was stopped in the window: {}",
                        f.stops.join("; ")
                    ));
                }
                if f.evidence == Evidence::Unknown && f.gaps.is_empty() {
                    caveats.push("nothing was judged".into());
                }
            }
            Statement::GlobalCoverage => {
                if !f.global_expected {
                    caveats.push(format!(
                        "the global region {} is not among the expected regions: its global-service events were not judged",
                        f.global_region
                    ));
                }
            }
            Statement::Integrity => {
                let unverified: Vec<String> = f
                    .files_by_digest_status
                    .iter()
                    .filter(|(k, n)| **k != "valid" && **n > 0)
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                if !unverified.is_empty() {
                    caveats.push(format!(
                        "log files no valid digest verified: {}",
                        unverified.join(", ")
                    ));
                }
            }
            Statement::Configuration => {}
        }
        let (result, reason) = if definite > 0 {
            (
                Result::NotSatisfied,
                format!("{definite} finding(s) against it"),
            )
        } else if !caveats.is_empty() {
            (
                Result::Unknown,
                format!("no finding, but {}", caveats.join("; ")),
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
        "WARN" => (
            Result::Satisfied,
            "the configuration check passed, with warnings (see its findings)".to_owned(),
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

    fn facts<'a>(
        evidence: Evidence,
        gaps: &'a [Gap],
        files: &'a BTreeMap<&'static str, u64>,
    ) -> LogPhaseFacts<'a> {
        LogPhaseFacts {
            evidence,
            gaps,
            digests_in_use: true,
            regions_given: true,
            global_expected: true,
            global_region: "us-east-1",
            silence_checked: true,
            files_by_digest_status: files,
            stops: Vec::new(),
        }
    }

    fn by(a: &[Assessment], s: Statement) -> Result {
        a.iter().find(|x| x.statement == s).unwrap().result
    }

    #[test]
    fn a_gap_breaks_its_statement_and_unknowns_never_satisfy() {
        let w = (0, 3_600);
        let valid = BTreeMap::from([("valid", 10u64)]);
        let gaps = vec![Gap::new("1", "us-east-1", GapKind::NoGlobalEvents, w, "")];
        let a = assess_log_phase(&facts(Evidence::Gaps, &gaps, &valid));
        assert_eq!(by(&a, Statement::GlobalCoverage), Result::NotSatisfied);
        assert_eq!(by(&a, Statement::RegionalCoverage), Result::Satisfied);
        assert_eq!(by(&a, Statement::Integrity), Result::Satisfied);
        let gaps = vec![Gap::new("1", "eu-west-1", GapKind::ListFailed, w, "")];
        let mut f = facts(Evidence::Unknown, &gaps, &valid);
        f.digests_in_use = false;
        let a = assess_log_phase(&f);
        assert!(a.iter().all(|x| x.result == Result::Unknown));
        assert_eq!(a.len(), 2);
        let a = assess_log_phase(&facts(Evidence::Proven, &[], &valid));
        assert!(a.iter().all(|x| x.result == Result::Satisfied));
    }

    #[test]
    fn what_the_run_could_not_judge_is_never_satisfied() {
        let valid = BTreeMap::from([("valid", 10u64)]);
        // The global region outside the expected set: global coverage not judged.
        let mut f = facts(Evidence::Proven, &[], &valid);
        f.global_expected = false;
        assert_eq!(
            by(&assess_log_phase(&f), Statement::GlobalCoverage),
            Result::Unknown
        );
        // Regions from the layout; silences unjudged without digests; logging stopped.
        let mut f = facts(Evidence::Proven, &[], &valid);
        f.regions_given = false;
        assert_eq!(
            by(&assess_log_phase(&f), Statement::RegionalCoverage),
            Result::Unknown
        );
        let mut f = facts(Evidence::Proven, &[], &valid);
        f.digests_in_use = false;
        f.silence_checked = false;
        assert_eq!(
            by(&assess_log_phase(&f), Statement::RegionalCoverage),
            Result::Unknown
        );
        let mut f = facts(Evidence::Proven, &[], &valid);
        f.stops = vec!["StopLogging by x".into()];
        let a = assess_log_phase(&f);
        assert_eq!(by(&a, Statement::RegionalCoverage), Result::Unknown);
        assert!(a[0].reason.contains("StopLogging by x"));
        // Log files no digest verified: integrity unknown.
        let some = BTreeMap::from([("valid", 10u64), ("no_digest", 2)]);
        let a = assess_log_phase(&facts(Evidence::Proven, &[], &some));
        assert_eq!(by(&a, Statement::Integrity), Result::Unknown);
        // An unreadable object leaves integrity unknown too.
        let gaps = vec![Gap::new(
            "1",
            "eu-west-1",
            GapKind::ObjectUnreadable,
            (0, 1),
            "",
        )];
        let a = assess_log_phase(&facts(Evidence::Unknown, &gaps, &valid));
        assert_eq!(by(&a, Statement::Integrity), Result::Unknown);
        // A region mismatch is about coverage, not the digests.
        let gaps = vec![Gap::new(
            "1",
            "eu-west-1",
            GapKind::RegionMismatch,
            (0, 1),
            "",
        )];
        let a = assess_log_phase(&facts(Evidence::Gaps, &gaps, &valid));
        assert_eq!(by(&a, Statement::RegionalCoverage), Result::NotSatisfied);
        assert_eq!(by(&a, Statement::Integrity), Result::Satisfied);
    }
}
