//! The account verdict of `docs/decision-procedure.md` §4 steps 5–7, as a pure function of [`Facts`].

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::CheckOptions;
use super::selectors::{SelectorClass, classify, effective_complete};
use crate::aws::{ApiFailure, FailureKind};
use crate::check::Ruleset;
use crate::check::model::{Facts, RegionCatalog, Selectors, TrailFacts};
use crate::regions::{RegionSource, global_region};
use crate::time::rfc3339;

/// The account verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// A compliant trail exists and delivers.
    Pass,
    /// A compliant trail exists, but delivery or scope is degraded.
    Warn,
    /// No compliant trail.
    Fail,
    /// Facts that could decide it could not be read; never silently PASS or FAIL.
    Inconclusive,
    /// Nothing could be evaluated.
    Error,
}

impl Verdict {
    /// Exit code: 0 pass/warn, 1 fail or inconclusive, 2 error.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass | Verdict::Warn => 0,
            Verdict::Fail | Verdict::Inconclusive => 1,
            Verdict::Error => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Error => "ERROR",
        }
    }

    /// The verdict [`Verdict::as_str`] names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Verdict::Pass,
            Verdict::Warn,
            Verdict::Fail,
            Verdict::Inconclusive,
            Verdict::Error,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reason codes, spelled in output exactly as in the spec (`WRITE_ONLY`,
/// `EXCLUDES_SOURCE(kms)`, `PERMISSION_DENIED(cloudtrail:GetTrailStatus)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    NoTrails,
    NoMultiRegionTrail,
    NotLogging,
    MgmtEventsNotRecorded,
    ReadOnly,
    WriteOnly,
    ExcludesSource,
    NarrowedSelector,
    SplitSelectors,
    SplitAcrossTrails,
    DeliveryError,
    StaleDelivery,
    CopyNotVisible,
    RegionUnreachable,
    RegionTransitional,
    RegionsUnverified,
    OrgTrailUnreadable,
    PermissionDenied,
    ApiError,
    InvalidCredentials,
    /// No credentials were found (or the configured ones could not be loaded).
    NoCredentials,
    /// The profile's SSO session has expired: `aws sso login --profile NAME`.
    SsoTokenExpired,
    /// The endpoint (or the region's) did not answer.
    EndpointUnreachable,
    NoRegionsInScope,
    /// Informational: single-region trails cover every region (but CIS needs one multi-region trail).
    RegionalCoverageComplete,
    /// Informational: selectors together record every management event though none alone does.
    EffectiveCoverageComplete,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NoTrails => "NO_TRAILS",
            Code::NoMultiRegionTrail => "NO_MULTI_REGION_TRAIL",
            Code::NotLogging => "NOT_LOGGING",
            Code::MgmtEventsNotRecorded => "MGMT_EVENTS_NOT_RECORDED",
            Code::ReadOnly => "READ_ONLY",
            Code::WriteOnly => "WRITE_ONLY",
            Code::ExcludesSource => "EXCLUDES_SOURCE",
            Code::NarrowedSelector => "NARROWED_SELECTOR",
            Code::SplitSelectors => "SPLIT_SELECTORS",
            Code::SplitAcrossTrails => "SPLIT_ACROSS_TRAILS",
            Code::DeliveryError => "DELIVERY_ERROR",
            Code::StaleDelivery => "STALE_DELIVERY",
            Code::CopyNotVisible => "COPY_NOT_VISIBLE",
            Code::RegionUnreachable => "REGION_UNREACHABLE",
            Code::RegionTransitional => "REGION_TRANSITIONAL",
            Code::RegionsUnverified => "REGIONS_UNVERIFIED",
            Code::OrgTrailUnreadable => "ORG_TRAIL_UNREADABLE",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ApiError => "API_ERROR",
            Code::InvalidCredentials => "INVALID_CREDENTIALS",
            Code::NoCredentials => "NO_CREDENTIALS",
            Code::SsoTokenExpired => "SSO_TOKEN_EXPIRED",
            Code::EndpointUnreachable => "ENDPOINT_UNREACHABLE",
            Code::NoRegionsInScope => "NO_REGIONS_IN_SCOPE",
            Code::RegionalCoverageComplete => "REGIONAL_COVERAGE_COMPLETE",
            Code::EffectiveCoverageComplete => "EFFECTIVE_COVERAGE_COMPLETE",
        }
    }
}

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Fail,
    Inconclusive,
    Error,
}

/// One reason, with what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The reason code with its argument, as it appears in `reasons`: `EXCLUDES_SOURCE(kms)`.
    pub reason: String,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trail_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Finding {
    fn new(
        code: Code,
        arg: Option<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        let reason = match &arg {
            Some(a) => format!("{}({a})", code.as_str()),
            None => code.as_str().to_owned(),
        };
        let mut message = message.into();
        // A failed call's finding is one line under 200 characters, its reason included (the
        // SDK's whole chain is logged under `-v`).
        if matches!(
            code,
            Code::PermissionDenied
                | Code::ApiError
                | Code::InvalidCredentials
                | Code::NoCredentials
                | Code::SsoTokenExpired
                | Code::EndpointUnreachable
        ) {
            message = crate::aws::one_line(&message, 199 - reason.chars().count() - 2);
        }
        Finding {
            reason,
            code,
            arg,
            severity,
            message,
            trail_arn: None,
            region: None,
        }
    }

    fn trail(mut self, arn: &str) -> Self {
        self.trail_arn = Some(arn.to_owned());
        self
    }

    fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }
}

/// The verdict logic's view of one trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailAssessment {
    pub arn: String,
    pub name: String,
    pub home_region: String,
    pub owner_account: String,
    pub multi_region: bool,
    pub organization: bool,
    /// `None` when GetTrailStatus failed.
    pub is_logging: Option<bool>,
    /// Some selector alone records all read and write management events (CIS / AWS rule).
    pub strict_ok: Option<bool>,
    /// The selectors together record every management event.
    pub effective_complete: Option<bool>,
    pub selector_type: Option<&'static str>,
    pub selectors: Option<Vec<SelectorClass>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_delivery_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_delivery_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_error: Option<ApiFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectors_error: Option<ApiFailure>,
    /// Counts toward the verdict as a compliant trail.
    pub compliant: bool,
    /// What keeps this trail from being compliant (a reason string), if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    #[serde(skip)]
    classes: Vec<SelectorClass>,
}

/// Per-region coverage state (step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionState {
    Covered,
    NotCovered,
    CopyNotVisible,
    Unreachable,
}

impl RegionState {
    pub fn as_str(self) -> &'static str {
        match self {
            RegionState::Covered => "covered",
            RegionState::NotCovered => "not_covered",
            RegionState::CopyNotVisible => "copy_not_visible",
            RegionState::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionRow {
    pub region: String,
    pub opt_status: crate::regions::OptStatus,
    pub state: RegionState,
    /// Trails visible in the region (DescribeTrails), when it answered.
    pub visible_trails: Option<usize>,
    /// Logging trails with qualifying selectors that cover the region.
    pub covered_by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the log-stream phase will read for a compliant trail (step 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSource {
    pub trail_arn: String,
    pub trail_name: String,
    pub home_region: String,
    pub bucket: Option<String>,
    pub key_prefix: Option<String>,
    pub organization_trail: bool,
    /// The organization id in the key layout; `None` until known (the log phase reads it from
    /// the bucket's `AWSLogs/o-…/` folder).
    pub organization_id: Option<String>,
    pub regions: Vec<String>,
    pub accounts: Vec<String>,
    pub global_region: String,
    pub log_file_validation: bool,
}

/// The result of the decision procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// Reason strings of every finding at warn level or above, the decisive one first.
    pub reasons: Vec<String>,
    pub findings: Vec<Finding>,
    pub trails: Vec<TrailAssessment>,
    pub regions: Vec<RegionRow>,
    pub compliant_trails: Vec<String>,
    pub log_sources: Vec<LogSource>,
    /// Remediation steps (AWS CLI commands from the CIS text, filled in where we can).
    pub remediation: Vec<String>,
}

fn short_source(src: &str) -> &str {
    src.strip_suffix(".amazonaws.com").unwrap_or(src)
}

/// The one problem of a selector set that keeps it from being compliant, most specific first.
/// A reason code, its argument and a message.
type Issue = (Code, Option<String>, String);

fn selector_issue(classes: &[SelectorClass]) -> Issue {
    if !classes.iter().any(|c| c.management) {
        return (
            Code::MgmtEventsNotRecorded,
            None,
            "no selector records management events".into(),
        );
    }
    if effective_complete(classes) {
        return (
            Code::SplitSelectors,
            None,
            "read and write management events are recorded by separate selectors; CIS and Security Hub need one selector that records both".into(),
        );
    }
    // The management selector closest to full decides; ties prefer the milder problem.
    let distance = |c: &SelectorClass| {
        (!(c.read && c.write)) as u8 * 4
            + (!c.narrowed_by.is_empty()) as u8 * 2
            + (!c.excluded_sources.is_empty()) as u8
    };
    let best = classes
        .iter()
        .filter(|c| c.management)
        .min_by_key(|c| distance(c))
        .expect("a management selector");
    if best.read && !best.write {
        (
            Code::ReadOnly,
            None,
            "only read (readOnly=true) management events are recorded".into(),
        )
    } else if best.write && !best.read {
        (
            Code::WriteOnly,
            None,
            "only write (readOnly=false) management events are recorded".into(),
        )
    } else if let Some(field) = best.narrowed_by.first() {
        (
            Code::NarrowedSelector,
            Some(field.clone()),
            format!(
                "the management selector is narrowed by '{field}', so some management events are not recorded"
            ),
        )
    } else {
        let list: Vec<&str> = best
            .excluded_sources
            .iter()
            .map(|s| short_source(s))
            .collect();
        (
            Code::ExcludesSource,
            Some(list.join(",")),
            format!(
                "management events from {} are excluded",
                best.excluded_sources
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

fn assess(t: &TrailFacts) -> TrailAssessment {
    let status = t.status.as_ref().ok();
    let classes = t.selectors.as_ref().ok().map(classify);
    TrailAssessment {
        arn: t.trail.arn.clone(),
        name: t.trail.name.clone(),
        home_region: t.trail.home_region.clone(),
        owner_account: t.trail.owner_account.clone(),
        multi_region: t.trail.multi_region,
        organization: t.trail.organization,
        is_logging: status.map(|s| s.is_logging),
        strict_ok: classes
            .as_ref()
            .map(|c| c.iter().any(SelectorClass::is_full)),
        effective_complete: classes.as_ref().map(effective_complete),
        selector_type: t.selectors.as_ref().ok().map(|s| match s {
            Selectors::Classic(_) => "classic",
            Selectors::Advanced(_) => "advanced",
        }),
        latest_delivery_time: status.and_then(|s| s.latest_delivery_time).map(rfc3339),
        latest_delivery_error: status
            .and_then(|s| s.latest_delivery_error.clone())
            .filter(|e| !e.is_empty()),
        status_error: t.status.as_ref().err().cloned(),
        selectors_error: t.selectors.as_ref().err().cloned(),
        compliant: false,
        issue: None,
        selectors: classes.clone(),
        classes: classes.unwrap_or_default(),
    }
}

/// Whether the selectors qualify under the options: strict, or relaxed by the ruleset.
fn selectors_qualify(a: &TrailAssessment, opts: &CheckOptions) -> Option<bool> {
    a.strict_ok?;
    let strict = a.classes.iter().any(SelectorClass::is_full);
    let literal = opts.ruleset == Ruleset::CisLiteral
        && a.classes
            .iter()
            .any(SelectorClass::is_full_ignoring_exclusions);
    let semantic = opts.semantic && effective_complete(&a.classes);
    Some(strict || literal || semantic)
}

/// Runs the decision procedure.
pub fn evaluate(facts: &Facts, opts: &CheckOptions) -> Evaluation {
    let mut eval = Evaluation {
        verdict: Verdict::Error,
        reasons: Vec::new(),
        findings: Vec::new(),
        trails: Vec::new(),
        regions: Vec::new(),
        compliant_trails: Vec::new(),
        log_sources: Vec::new(),
        remediation: Vec::new(),
    };
    let identity = match &facts.identity {
        Ok(id) => id,
        Err(f) => {
            let actionable = |code| (code, None, f.message.clone());
            let (code, arg, message) = match f.kind {
                FailureKind::InvalidCredentials => actionable(Code::InvalidCredentials),
                FailureKind::NoCredentials => actionable(Code::NoCredentials),
                FailureKind::SsoLoginRequired => actionable(Code::SsoTokenExpired),
                FailureKind::Unreachable => actionable(Code::EndpointUnreachable),
                FailureKind::AccessDenied => {
                    (Code::PermissionDenied, Some(f.api.to_owned()), f.detail())
                }
                _ => (
                    Code::ApiError,
                    Some(f.api.to_owned()),
                    format!("Cannot establish the caller's identity: {}", f.summary()),
                ),
            };
            eval.findings
                .push(Finding::new(code, arg, Severity::Error, message));
            return finish(eval);
        }
    };

    if facts.regions.in_scope.is_empty() {
        eval.findings.push(Finding::new(
            Code::NoRegionsInScope,
            None,
            Severity::Error,
            "No region is in scope (all excluded or none enabled).",
        ));
        return finish(eval);
    }

    // Region reachability.
    let mut unreachable: Vec<(&str, &ApiFailure)> = Vec::new();
    for r in facts.regions.names() {
        if let Some(RegionCatalog::Unreachable { failure }) = facts.catalog.get(r) {
            unreachable.push((r, failure));
        }
    }
    if unreachable.len() == facts.regions.in_scope.len() {
        let kinds: BTreeSet<_> = unreachable.iter().map(|(_, f)| f.kind).collect();
        let (code, arg) = match kinds.iter().next() {
            Some(FailureKind::AccessDenied) if kinds.len() == 1 => (
                Code::PermissionDenied,
                Some("cloudtrail:DescribeTrails".to_owned()),
            ),
            Some(FailureKind::InvalidCredentials) if kinds.len() == 1 => {
                (Code::InvalidCredentials, None)
            }
            _ => (Code::RegionUnreachable, None),
        };
        let first = &unreachable[0].1;
        let first = format!(
            "{}: {}",
            first.region.as_deref().unwrap_or("?"),
            first.message
        );
        eval.findings.push(Finding::new(
            code,
            arg,
            Severity::Error,
            format!(
                "DescribeTrails failed in all {} regions in scope, nothing to evaluate: {first}",
                unreachable.len()
            ),
        ));
        return finish(eval);
    }

    // Per-trail assessment.
    let mut trails: Vec<TrailAssessment> = facts.trails.values().map(assess).collect();
    for a in &mut trails {
        a.compliant = a.multi_region
            && a.is_logging == Some(true)
            && selectors_qualify(a, opts) == Some(true);
    }
    let visible_in = |region: &str, arn: &str| match facts.catalog.get(region) {
        Some(RegionCatalog::Visible { arns }) => Some(arns.contains(arn)),
        _ => None,
    };

    // Semantic mode may accept read/write split across several logging multi-region trails.
    let mut joint = false;
    if opts.semantic && !trails.iter().any(|a| a.compliant) {
        let logging_mr: Vec<&TrailAssessment> = trails
            .iter()
            .filter(|a| a.multi_region && a.is_logging == Some(true))
            .collect();
        if effective_complete(
            logging_mr
                .iter()
                .flat_map(|a| a.classes.iter())
                .collect::<Vec<_>>(),
        ) {
            joint = true;
            for a in trails.iter_mut().filter(|a| {
                a.multi_region
                    && a.is_logging == Some(true)
                    && a.classes.iter().any(|c| c.management)
            }) {
                a.compliant = true;
            }
        }
    }

    // Issues per non-compliant trail, for the trail table.
    for a in trails.iter_mut().filter(|a| !a.compliant) {
        a.issue = Some(if a.is_logging == Some(false) {
            Code::NotLogging.as_str().to_owned()
        } else if let Some(f) = a.status_error.as_ref().or(a.selectors_error.as_ref()) {
            format!("UNKNOWN({})", f.api)
        } else if !a.multi_region {
            "SINGLE_REGION".to_owned()
        } else {
            let (code, arg, _) = selector_issue(&a.classes);
            Finding::new(code, arg, Severity::Info, "").reason
        });
    }

    let candidates: Vec<&TrailAssessment> = trails.iter().filter(|a| a.compliant).collect();

    // Region rows (step 6).
    for r in &facts.regions.in_scope {
        let reachable = !matches!(
            facts.catalog.get(&r.name),
            Some(RegionCatalog::Unreachable { .. }) | None
        );
        let visible = match facts.catalog.get(&r.name) {
            Some(RegionCatalog::Visible { arns }) => Some(arns.len()),
            _ => None,
        };
        // Multi-region trails cover where they are visible and compliant (alone, or jointly
        // under --semantic); single-region trails cover their home region.
        let covered_by: Vec<String> = trails
            .iter()
            .filter(|a| {
                if a.multi_region {
                    a.compliant && visible_in(&r.name, &a.arn) == Some(true)
                } else {
                    a.is_logging == Some(true)
                        && selectors_qualify(a, opts) == Some(true)
                        && a.home_region == r.name
                }
            })
            .map(|a| a.arn.clone())
            .collect();
        let (state, detail) = if !reachable {
            let f = match facts.catalog.get(&r.name) {
                Some(RegionCatalog::Unreachable { failure }) => failure.summary(),
                _ => "not queried".to_owned(),
            };
            (RegionState::Unreachable, Some(f))
        } else if !covered_by.is_empty() {
            (RegionState::Covered, None)
        } else if !candidates.is_empty() {
            (
                RegionState::CopyNotVisible,
                Some("no compliant multi-region trail is visible here".to_owned()),
            )
        } else {
            (RegionState::NotCovered, None)
        };
        eval.regions.push(RegionRow {
            region: r.name.clone(),
            opt_status: r.status,
            state,
            visible_trails: visible,
            covered_by,
            detail,
        });
    }

    // Scope findings common to every verdict.
    let mut scope_findings = Vec::new();
    for (r, f) in &unreachable {
        scope_findings.push(
            Finding::new(
                Code::RegionUnreachable,
                Some((*r).to_owned()),
                Severity::Warn,
                format!(
                    "Region {r} did not answer DescribeTrails; its trails are unknown ({}).",
                    f.summary()
                ),
            )
            .region(r),
        );
    }
    for r in facts
        .regions
        .in_scope
        .iter()
        .filter(|r| r.status.is_transitional())
    {
        scope_findings.push(
            Finding::new(
                Code::RegionTransitional,
                Some(r.name.clone()),
                Severity::Warn,
                format!(
                    "Region {} is {}; multi-region trail copies may be incomplete.",
                    r.name,
                    r.status.as_str()
                ),
            )
            .region(&r.name),
        );
    }
    if facts.regions.source == RegionSource::BuiltinUnverified {
        let why = facts
            .regions
            .discovery_failure
            .as_ref()
            .map(ApiFailure::summary)
            .unwrap_or_default();
        scope_findings.push(Finding::new(
            Code::RegionsUnverified,
            None,
            Severity::Warn,
            format!("Enabled regions could not be discovered ({why}); checked the partition's default regions only. Opt-in regions are unverified; grant account:ListRegions or pass --regions."),
        ));
    }

    if !candidates.is_empty() {
        decide_pass(&mut eval, facts, opts, &candidates, joint);
        eval.findings.extend(scope_findings);
        for row in eval
            .regions
            .iter()
            .filter(|r| r.state == RegionState::CopyNotVisible)
        {
            eval.findings.push(
                Finding::new(Code::CopyNotVisible, Some(row.region.clone()), Severity::Warn, format!("No compliant multi-region trail is visible in {}; expected briefly after an opt-in region is enabled.", row.region))
                    .region(&row.region),
            );
        }
        let global = global_region(&identity.partition).to_owned();
        for c in &candidates {
            let t = &facts.trails[&c.arn].trail;
            eval.log_sources.push(LogSource {
                trail_arn: t.arn.clone(),
                trail_name: t.name.clone(),
                home_region: t.home_region.clone(),
                bucket: t.s3_bucket.clone(),
                key_prefix: t.s3_key_prefix.clone().filter(|p| !p.is_empty()),
                organization_trail: t.organization,
                organization_id: None,
                regions: facts.regions.names().map(str::to_owned).collect(),
                accounts: vec![identity.account_id.clone()],
                global_region: global.clone(),
                log_file_validation: t.log_file_validation,
            });
        }
        eval.compliant_trails = candidates.iter().map(|c| c.arn.clone()).collect();
    } else if !decide_inconclusive(&mut eval, identity, &trails, opts) {
        decide_fail(&mut eval, &trails);
        eval.findings.extend(scope_findings);
    } else {
        eval.findings.extend(scope_findings);
    }
    eval.trails = trails;
    finish(eval)
}

fn decide_pass(
    eval: &mut Evaluation,
    facts: &Facts,
    opts: &CheckOptions,
    candidates: &[&TrailAssessment],
    joint: bool,
) {
    if !candidates
        .iter()
        .any(|c| c.classes.iter().any(SelectorClass::is_full))
    {
        if opts.ruleset == Ruleset::CisLiteral
            && let Some(c) = candidates.iter().find(|c| {
                c.classes
                    .iter()
                    .any(SelectorClass::is_full_ignoring_exclusions)
            })
        {
            let (code, arg, msg) = selector_issue(&c.classes);
            eval.findings.push(Finding::new(code, arg, Severity::Warn, format!("Trail {}: {msg} (accepted with a warning by the cis-literal ruleset; Security Hub fails it).", c.name)).trail(&c.arn));
        } else {
            let code = if joint {
                Code::SplitAcrossTrails
            } else {
                Code::SplitSelectors
            };
            eval.findings.push(Finding::new(code, None, Severity::Info, "Accepted by --semantic: read and write management events are recorded, but by separate selectors or trails; CIS and Security Hub fail this."));
            eval.findings.push(Finding::new(
                Code::EffectiveCoverageComplete,
                None,
                Severity::Info,
                "Effective coverage: complete.",
            ));
        }
    }
    // Delivery health: WARN only when every candidate is degraded.
    let max_age = opts.max_delivery_age.as_secs() as i64;
    let mut degraded = Vec::new();
    for c in candidates {
        let status = facts.trails[&c.arn].status.as_ref().ok();
        let error = status
            .and_then(|s| s.latest_delivery_error.as_deref())
            .filter(|e| !e.is_empty());
        let last = status.and_then(|s| s.latest_delivery_time);
        if let Some(e) = error {
            degraded.push(Finding::new(Code::DeliveryError, None, Severity::Warn, format!("Trail {} reports LatestDeliveryError={e}: log files are not reaching the bucket.", c.name)).trail(&c.arn));
        } else {
            match last {
                None => degraded.push(
                    Finding::new(
                        Code::StaleDelivery,
                        None,
                        Severity::Warn,
                        format!("Trail {} has never delivered a log file.", c.name),
                    )
                    .trail(&c.arn),
                ),
                Some(t) if facts.observed_at - t > max_age => degraded.push(
                    Finding::new(
                        Code::StaleDelivery,
                        None,
                        Severity::Warn,
                        format!(
                            "Trail {} last delivered at {} (more than {} ago).",
                            c.name,
                            rfc3339(t),
                            crate::time::human_duration(max_age)
                        ),
                    )
                    .trail(&c.arn),
                ),
                Some(_) => {}
            }
        }
    }
    if degraded.len() == candidates.len() {
        eval.findings.extend(degraded);
        eval.remediation.push("Check the trail's S3 bucket policy and KMS key policy allow cloudtrail.amazonaws.com to write (aws cloudtrail get-trail-status --name <trail-arn>).".into());
    }
}

/// INCONCLUSIVE when a trail whose facts could not be read could still qualify. Returns
/// whether it decided.
fn decide_inconclusive(
    eval: &mut Evaluation,
    identity: &super::model::Identity,
    trails: &[TrailAssessment],
    opts: &CheckOptions,
) -> bool {
    let mut decided = false;
    for a in trails.iter().filter(|a| a.multi_region) {
        let unknown = a.status_error.as_ref().or(a.selectors_error.as_ref());
        let Some(failure) = unknown else { continue };
        let could_log = a.is_logging != Some(false);
        // Unknown selectors could qualify; known ones qualify as the verdict reads them (strict,
        // cis-literal, or --semantic, where split selectors count).
        let could_select = a.strict_ok.is_none() || selectors_qualify(a, opts) == Some(true);
        if !(could_log && could_select) {
            continue;
        }
        decided = true;
        let finding = if a.organization && a.owner_account != identity.account_id {
            Finding::new(
                Code::OrgTrailUnreadable,
                None,
                Severity::Inconclusive,
                format!(
                    "Organization trail {} (owned by {}) could not be read from this member account: {}. Evaluate from the management or delegated-administrator account.",
                    a.name,
                    a.owner_account,
                    failure.summary()
                ),
            )
        } else if failure.kind == FailureKind::AccessDenied {
            Finding::new(
                Code::PermissionDenied,
                Some(failure.api.to_owned()),
                Severity::Inconclusive,
                // The reason names the action; the line, where and on what (the trail's ARN
                // names its region, when the failure has it).
                match &failure.resource {
                    Some(_) => failure.message.clone(),
                    None => format!(
                        "Trail {} ({}): {}",
                        a.name,
                        failure.region.as_deref().unwrap_or(&a.home_region),
                        failure.message
                    ),
                },
            )
        } else {
            Finding::new(
                Code::ApiError,
                Some(failure.api.to_owned()),
                Severity::Inconclusive,
                format!("Trail {}: {}", a.name, failure.summary()),
            )
        };
        eval.findings.push(finding.trail(&a.arn));
    }
    if decided {
        eval.remediation.push("Grant cloudtrail:GetTrailStatus and cloudtrail:GetEventSelectors (see the README's IAM policy), or run from the account that owns the trail.".into());
    }
    decided
}

fn decide_fail(eval: &mut Evaluation, trails: &[TrailAssessment]) {
    let put_selectors = |a: &TrailAssessment| {
        format!(
            "aws cloudtrail put-event-selectors --region {} --trail-name {} --event-selectors '[{{\"ReadWriteType\": \"All\",\"IncludeManagementEvents\": true, \"DataResources\": []}}]'",
            a.home_region, a.arn
        )
    };
    let create = [
        "aws cloudtrail create-trail --name <trail_name> --bucket-name <s3_bucket_for_cloudtrail> --is-multi-region-trail".to_owned(),
        "aws cloudtrail update-trail --name <trail_name> --is-multi-region-trail".to_owned(),
        "aws cloudtrail start-logging --name <trail_name>".to_owned(),
    ];
    if trails.is_empty() {
        eval.findings.push(Finding::new(Code::NoTrails, None, Severity::Fail, "No CloudTrail trail exists in any region in scope (CloudTrail Lake event data stores do not satisfy CIS 3.1)."));
        eval.remediation.extend(create);
        return;
    }
    let mr: Vec<&TrailAssessment> = trails.iter().filter(|a| a.multi_region).collect();
    if mr.is_empty() {
        eval.findings.push(Finding::new(
            Code::NoMultiRegionTrail,
            None,
            Severity::Fail,
            "No trail is multi-region.",
        ));
        if !eval.regions.is_empty() && eval.regions.iter().all(|r| r.state == RegionState::Covered)
        {
            eval.findings.push(Finding::new(Code::RegionalCoverageComplete, None, Severity::Info, "Regional coverage complete: single-region trails cover every region in scope, but CIS 3.1 requires a multi-region trail."));
        }
        eval.remediation.extend(create);
        return;
    }
    // Trails that are (or may be, status unknown) logging: their selectors decide the reason.
    // NOT_LOGGING only when every multi-region trail is known to be stopped.
    let logging: Vec<&TrailAssessment> = mr
        .iter()
        .copied()
        .filter(|a| a.is_logging != Some(false))
        .collect();
    if logging.is_empty() {
        for a in &mr {
            eval.findings.push(
                Finding::new(
                    Code::NotLogging,
                    None,
                    Severity::Fail,
                    format!(
                        "Multi-region trail {} is not logging (StopLogging).",
                        a.name
                    ),
                )
                .trail(&a.arn),
            );
            eval.remediation.push(format!(
                "aws cloudtrail start-logging --region {} --name {}",
                a.home_region, a.arn
            ));
        }
        return;
    }
    // Logging multi-region trails exist; their selectors fall short.
    if let Some(a) = logging.iter().find(|a| effective_complete(&a.classes)) {
        let (code, arg, msg) = selector_issue(&a.classes);
        eval.findings.push(
            Finding::new(
                code,
                arg,
                Severity::Fail,
                format!("Trail {}: {msg}.", a.name),
            )
            .trail(&a.arn),
        );
        eval.findings.push(Finding::new(Code::EffectiveCoverageComplete, None, Severity::Info, "Effective coverage: complete (the selectors together record every management event; --semantic accepts this)."));
        eval.remediation.push(put_selectors(a));
        return;
    }
    if logging.len() > 1
        && effective_complete(
            logging
                .iter()
                .flat_map(|a| a.classes.iter())
                .collect::<Vec<_>>(),
        )
    {
        let names: Vec<&str> = logging.iter().map(|a| a.name.as_str()).collect();
        eval.findings.push(Finding::new(Code::SplitAcrossTrails, None, Severity::Fail, format!("Read and write management events are split across trails ({}); CIS and Security Hub need one trail that records both.", names.join(", "))));
        eval.findings.push(Finding::new(
            Code::EffectiveCoverageComplete,
            None,
            Severity::Info,
            "Effective coverage (account): complete.",
        ));
        eval.remediation.push(put_selectors(logging[0]));
        return;
    }
    // Most specific: the logging trail whose best selector is closest to full.
    let issues: Vec<(&TrailAssessment, Issue)> = logging
        .iter()
        .map(|a| (*a, selector_issue(&a.classes)))
        .collect();
    let rank = |c: Code| match c {
        Code::ExcludesSource => 0,
        Code::NarrowedSelector => 1,
        Code::ReadOnly | Code::WriteOnly => 2,
        _ => 3,
    };
    let (a, (code, arg, msg)) = issues
        .into_iter()
        .min_by_key(|(_, (c, _, _))| rank(*c))
        .expect("logging trails");
    eval.findings.push(
        Finding::new(
            code,
            arg,
            Severity::Fail,
            format!("Trail {}: {msg}.", a.name),
        )
        .trail(&a.arn),
    );
    eval.remediation.push(put_selectors(a));
}

fn finish(mut eval: Evaluation) -> Evaluation {
    // Decisive findings first, then by severity.
    eval.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let top = eval
        .findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    eval.verdict = match top {
        Severity::Error => Verdict::Error,
        Severity::Inconclusive => Verdict::Inconclusive,
        Severity::Fail => Verdict::Fail,
        Severity::Warn => Verdict::Warn,
        Severity::Info => Verdict::Pass,
    };
    eval.reasons = eval
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warn)
        .map(|f| f.reason.clone())
        .collect();
    eval.reasons.dedup();
    eval
}
