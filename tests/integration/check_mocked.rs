//! AWS paths the emulator cannot express (permission errors, member-account views of an
//! organization trail, unreachable or transitional regions, delivery errors, ListRegions),
//! driven through the library's real collector with `aws-smithy-mocks` clients.

use std::collections::HashMap;

use aws_sdk_account::operation::list_regions::{ListRegionsError, ListRegionsOutput};
use aws_sdk_account::types::{Region as AccountRegion, RegionOptStatus};
use aws_sdk_cloudtrail::operation::describe_trails::{DescribeTrailsError, DescribeTrailsOutput};
use aws_sdk_cloudtrail::operation::get_event_selectors::{
    GetEventSelectorsError, GetEventSelectorsOutput,
};
use aws_sdk_cloudtrail::operation::get_trail_status::{GetTrailStatusError, GetTrailStatusOutput};
use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType, Trail};
use aws_sdk_sts::operation::get_caller_identity::{
    GetCallerIdentityError, GetCallerIdentityOutput,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;
use trailproof::aws::CheckClients;
use trailproof::check::{self, CheckOptions, Verdict};

const CALLER: &str = "111122223333";
const MANAGEMENT: &str = "999988887777";

fn err(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("mocked {code}"))
        .build()
}

fn trail(account: &str, name: &str, org: bool) -> Trail {
    Trail::builder()
        .name(name)
        .trail_arn(arn(account, name))
        .home_region("us-east-1")
        .is_multi_region_trail(true)
        .is_organization_trail(org)
        .include_global_service_events(true)
        .s3_bucket_name("audit-bucket")
        .log_file_validation_enabled(true)
        .build()
}

fn arn(account: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:us-east-1:{account}:trail/{name}")
}

/// What a mocked account answers.
struct World {
    caller_ok: bool,
    list_regions: Result<Vec<(&'static str, RegionOptStatus)>, &'static str>,
    /// Per region: the visible trails, or an error code.
    describe: Vec<(&'static str, Result<Vec<Trail>, &'static str>)>,
    /// Per trail ARN: status, or an error code.
    status: Vec<(String, Result<GetTrailStatusOutput, &'static str>)>,
    selectors: Vec<(String, Result<Vec<EventSelector>, &'static str>)>,
}

fn all_mgmt() -> Vec<EventSelector> {
    vec![
        EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .build(),
    ]
}

fn logging(delivered_secs_ago: i64, error: Option<&str>) -> GetTrailStatusOutput {
    let now = trailproof::time::now_secs();
    let mut b = GetTrailStatusOutput::builder()
        .is_logging(true)
        .latest_delivery_time(DateTime::from_secs(now - delivered_secs_ago));
    if let Some(e) = error {
        b = b.latest_delivery_error(e);
    }
    b.build()
}

impl World {
    /// One compliant multi-region trail, visible in us-east-1 and eu-west-1, ListRegions ok.
    fn compliant() -> Self {
        let t = trail(CALLER, "main", false);
        World {
            caller_ok: true,
            list_regions: Ok(vec![
                ("us-east-1", RegionOptStatus::EnabledByDefault),
                ("eu-west-1", RegionOptStatus::EnabledByDefault),
            ]),
            describe: vec![
                ("us-east-1", Ok(vec![t.clone()])),
                ("eu-west-1", Ok(vec![t])),
            ],
            status: vec![(arn(CALLER, "main"), Ok(logging(300, None)))],
            selectors: vec![(arn(CALLER, "main"), Ok(all_mgmt()))],
        }
    }

    fn clients(self) -> CheckClients {
        let sts = if self.caller_ok {
            let rule = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
                GetCallerIdentityOutput::builder()
                    .account(CALLER)
                    .arn(format!(
                        "arn:aws:sts::{CALLER}:assumed-role/audit/trailproof"
                    ))
                    .build()
            });
            mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&rule])
        } else {
            let rule = mock!(aws_sdk_sts::Client::get_caller_identity)
                .then_error(|| GetCallerIdentityError::generic(err("InvalidClientTokenId")));
            mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&rule])
        };
        let account = match self.list_regions {
            Ok(list) => {
                let rule = mock!(aws_sdk_account::Client::list_regions).then_output(move || {
                    let regions: Vec<AccountRegion> = list
                        .iter()
                        .map(|(n, s)| {
                            AccountRegion::builder()
                                .region_name(*n)
                                .region_opt_status(s.clone())
                                .build()
                        })
                        .collect();
                    ListRegionsOutput::builder()
                        .set_regions(Some(regions))
                        .build()
                });
                mock_client!(aws_sdk_account, RuleMode::MatchAny, [&rule])
            }
            Err(code) => {
                let rule = mock!(aws_sdk_account::Client::list_regions)
                    .then_error(move || ListRegionsError::generic(err(code)));
                mock_client!(aws_sdk_account, RuleMode::MatchAny, [&rule])
            }
        };
        let mut rules = Vec::new();
        for (arn, result) in self.status {
            let a = arn.clone();
            let rule = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
                .match_requests(move |r| r.name() == Some(a.as_str()));
            rules.push(match result {
                Ok(out) => rule.then_output(move || out.clone()),
                Err(code) => rule.then_error(move || GetTrailStatusError::generic(err(code))),
            });
        }
        for (arn, result) in self.selectors {
            let a = arn.clone();
            let rule = mock!(aws_sdk_cloudtrail::Client::get_event_selectors)
                .match_requests(move |r| r.trail_name() == Some(a.as_str()));
            rules.push(match result {
                Ok(sel) => {
                    let a = arn.clone();
                    rule.then_output(move || {
                        GetEventSelectorsOutput::builder()
                            .trail_arn(&a)
                            .set_event_selectors(Some(sel.clone()))
                            .build()
                    })
                }
                Err(code) => rule.then_error(move || GetEventSelectorsError::generic(err(code))),
            });
        }
        let mut per_region: HashMap<String, aws_sdk_cloudtrail::Client> = HashMap::new();
        for (region, result) in self.describe {
            let describe = match result {
                Ok(trails) => {
                    mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(move || {
                        DescribeTrailsOutput::builder()
                            .set_trail_list(Some(trails.clone()))
                            .build()
                    })
                }
                Err(code) => mock!(aws_sdk_cloudtrail::Client::describe_trails)
                    .then_error(move || DescribeTrailsError::generic(err(code))),
            };
            let mut all = vec![describe];
            all.extend(rules.iter().cloned());
            per_region.insert(
                region.to_owned(),
                mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, all.iter()),
            );
        }
        // Home-region calls for trails homed outside the described regions use the first one's rules.
        let fallback = per_region
            .values()
            .next()
            .cloned()
            .expect("at least one region");
        CheckClients::new(sts, account, move |region| {
            per_region
                .get(region)
                .cloned()
                .unwrap_or_else(|| fallback.clone())
        })
    }
}

async fn run(world: World, opts: CheckOptions) -> check::Evaluation {
    check::run(&world.clients(), &opts).await.1
}

#[track_caller]
fn assert_eval(eval: &check::Evaluation, verdict: Verdict, first: Option<&str>) {
    assert_eq!(eval.verdict, verdict, "{eval:#?}");
    assert_eq!(eval.reasons.first().map(String::as_str), first, "{eval:#?}");
}

#[tokio::test]
async fn compliant_account_passes_with_list_regions_scope() {
    let eval = run(World::compliant(), CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Pass, None);
    assert_eq!(eval.regions.len(), 2);
    assert_eq!(eval.log_sources[0].bucket.as_deref(), Some("audit-bucket"));
}

#[tokio::test]
async fn s24_delivery_error_warns() {
    let mut w = World::compliant();
    w.status = vec![(arn(CALLER, "main"), Ok(logging(300, Some("AccessDenied"))))];
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Warn, Some("DELIVERY_ERROR"));
    assert!(
        eval.findings[0].message.contains("AccessDenied"),
        "{:?}",
        eval.findings[0]
    );
}

#[tokio::test]
async fn s25_delivery_three_days_old_warns() {
    let mut w = World::compliant();
    w.status = vec![(arn(CALLER, "main"), Ok(logging(3 * 86_400, None)))];
    assert_eval(
        &run(w, CheckOptions::default()).await,
        Verdict::Warn,
        Some("STALE_DELIVERY"),
    );
}

#[tokio::test]
async fn never_delivered_warns_stale() {
    let mut w = World::compliant();
    w.status = vec![(
        arn(CALLER, "main"),
        Ok(GetTrailStatusOutput::builder().is_logging(true).build()),
    )];
    assert_eval(
        &run(w, CheckOptions::default()).await,
        Verdict::Warn,
        Some("STALE_DELIVERY"),
    );
}

fn member_world(selectors: Result<Vec<EventSelector>, &'static str>) -> World {
    let t = trail(MANAGEMENT, "org-trail", true);
    World {
        describe: vec![
            ("us-east-1", Ok(vec![t.clone()])),
            ("eu-west-1", Ok(vec![t])),
        ],
        status: vec![(arn(MANAGEMENT, "org-trail"), Ok(logging(300, None)))],
        selectors: vec![(arn(MANAGEMENT, "org-trail"), selectors)],
        ..World::compliant()
    }
}

#[tokio::test]
async fn s26_org_trail_from_member_readable_passes() {
    let eval = run(member_world(Ok(all_mgmt())), CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Pass, None);
    assert_eq!(eval.trails[0].owner_account, MANAGEMENT);
}

#[tokio::test]
async fn s26_org_trail_from_member_unreadable_is_inconclusive() {
    let eval = run(
        member_world(Err("TrailNotFoundException")),
        CheckOptions::default(),
    )
    .await;
    assert_eval(&eval, Verdict::Inconclusive, Some("ORG_TRAIL_UNREADABLE"));
    assert!(
        eval.findings[0]
            .message
            .contains("management or delegated-administrator"),
        "{:?}",
        eval.findings[0]
    );
}

#[tokio::test]
async fn s29_opt_in_region_enabled_and_visible_passes() {
    let mut w = World::compliant();
    let t = trail(CALLER, "main", false);
    w.list_regions = Ok(vec![
        ("us-east-1", RegionOptStatus::EnabledByDefault),
        ("eu-west-1", RegionOptStatus::EnabledByDefault),
        ("ap-east-1", RegionOptStatus::Enabled),
    ]);
    w.describe.push(("ap-east-1", Ok(vec![t])));
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Pass, None);
    assert!(
        eval.regions
            .iter()
            .any(|r| r.region == "ap-east-1" && r.state.as_str() == "covered"),
        "{:?}",
        eval.regions
    );
}

#[tokio::test]
async fn opt_in_region_without_the_copy_warns() {
    let mut w = World::compliant();
    w.list_regions = Ok(vec![
        ("us-east-1", RegionOptStatus::EnabledByDefault),
        ("eu-west-1", RegionOptStatus::EnabledByDefault),
        ("ap-east-1", RegionOptStatus::Enabled),
    ]);
    w.describe.push(("ap-east-1", Ok(vec![])));
    assert_eval(
        &run(w, CheckOptions::default()).await,
        Verdict::Warn,
        Some("COPY_NOT_VISIBLE(ap-east-1)"),
    );
}

#[tokio::test]
async fn s30_not_opted_in_region_is_out_of_scope() {
    let mut w = World::compliant();
    w.list_regions = Ok(vec![
        ("us-east-1", RegionOptStatus::EnabledByDefault),
        ("eu-west-1", RegionOptStatus::EnabledByDefault),
        ("af-south-1", RegionOptStatus::Disabled),
    ]);
    let clients = w.clients();
    let (facts, eval) = check::run(&clients, &CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Pass, None);
    assert_eq!(facts.regions.not_enabled, ["af-south-1"]);
    assert!(
        !facts.catalog.contains_key("af-south-1"),
        "a disabled region is never queried"
    );
}

#[tokio::test]
async fn s31_unreachable_opt_in_region_warns() {
    let mut w = World::compliant();
    w.list_regions = Ok(vec![
        ("us-east-1", RegionOptStatus::EnabledByDefault),
        ("eu-west-1", RegionOptStatus::EnabledByDefault),
        ("ap-southeast-4", RegionOptStatus::Enabled),
    ]);
    w.describe
        .push(("ap-southeast-4", Err("UnrecognizedClientException")));
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(
        &eval,
        Verdict::Warn,
        Some("REGION_UNREACHABLE(ap-southeast-4)"),
    );
    let row = eval
        .regions
        .iter()
        .find(|r| r.region == "ap-southeast-4")
        .unwrap();
    assert_eq!(row.state.as_str(), "unreachable");
    assert!(
        row.detail
            .as_deref()
            .unwrap()
            .contains("UnrecognizedClientException"),
        "{row:?}"
    );
}

#[tokio::test]
async fn s31_enabling_region_warns_transitional() {
    let mut w = World::compliant();
    let t = trail(CALLER, "main", false);
    w.list_regions = Ok(vec![
        ("us-east-1", RegionOptStatus::EnabledByDefault),
        ("eu-west-1", RegionOptStatus::EnabledByDefault),
        ("me-central-1", RegionOptStatus::Enabling),
    ]);
    w.describe.push(("me-central-1", Ok(vec![t])));
    assert_eval(
        &run(w, CheckOptions::default()).await,
        Verdict::Warn,
        Some("REGION_TRANSITIONAL(me-central-1)"),
    );
}

#[tokio::test]
async fn s32_describe_trails_denied_everywhere_is_error() {
    let mut w = World::compliant();
    w.describe = vec![
        ("us-east-1", Err("AccessDeniedException")),
        ("eu-west-1", Err("AccessDeniedException")),
    ];
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(
        &eval,
        Verdict::Error,
        Some("PERMISSION_DENIED(cloudtrail:DescribeTrails)"),
    );
    assert_eq!(eval.verdict.exit_code(), 2);
}

#[tokio::test]
async fn s33_status_and_selectors_denied_is_inconclusive() {
    let mut w = World::compliant();
    w.status = vec![(arn(CALLER, "main"), Err("AccessDeniedException"))];
    w.selectors = vec![(arn(CALLER, "main"), Err("AccessDeniedException"))];
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(
        &eval,
        Verdict::Inconclusive,
        Some("PERMISSION_DENIED(cloudtrail:GetTrailStatus)"),
    );
    assert_eq!(eval.verdict.exit_code(), 1);
}

#[tokio::test]
async fn s33_selectors_denied_but_not_logging_still_fails() {
    // Unknown selectors cannot rescue a trail that is known to be stopped.
    let mut w = World::compliant();
    w.status = vec![(
        arn(CALLER, "main"),
        Ok(GetTrailStatusOutput::builder().is_logging(false).build()),
    )];
    w.selectors = vec![(arn(CALLER, "main"), Err("AccessDeniedException"))];
    assert_eval(
        &run(w, CheckOptions::default()).await,
        Verdict::Fail,
        Some("NOT_LOGGING"),
    );
}

#[tokio::test]
async fn one_trails_failure_does_not_spoil_another() {
    let mut w = World::compliant();
    let broken = trail(CALLER, "broken", false);
    for (_, trails) in &mut w.describe {
        trails.as_mut().unwrap().push(broken.clone());
    }
    w.status
        .push((arn(CALLER, "broken"), Err("ThrottlingException")));
    w.selectors
        .push((arn(CALLER, "broken"), Err("ThrottlingException")));
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Pass, None);
    let b = eval.trails.iter().find(|t| t.name == "broken").unwrap();
    assert_eq!(b.is_logging, None);
    assert_eq!(
        b.issue.as_deref(),
        Some("UNKNOWN(cloudtrail:GetTrailStatus)")
    );
}

#[tokio::test]
async fn list_regions_denied_falls_back_unverified() {
    let mut w = World::compliant();
    w.list_regions = Err("AccessDeniedException");
    // The fallback asks all 17 default regions; unlisted ones reuse us-east-1's answers.
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Warn, Some("REGIONS_UNVERIFIED"));
    assert_eq!(eval.regions.len(), 17);
}

#[tokio::test]
async fn invalid_credentials_is_error() {
    let mut w = World::compliant();
    w.caller_ok = false;
    let eval = run(w, CheckOptions::default()).await;
    assert_eval(&eval, Verdict::Error, Some("INVALID_CREDENTIALS"));
}

#[tokio::test]
async fn unknown_status_with_split_selectors_is_inconclusive_under_semantic() {
    let split = vec![
        EventSelector::builder()
            .read_write_type(ReadWriteType::ReadOnly)
            .include_management_events(true)
            .build(),
        EventSelector::builder()
            .read_write_type(ReadWriteType::WriteOnly)
            .include_management_events(true)
            .build(),
    ];
    let world = || {
        let mut w = World::compliant();
        w.status = vec![(arn(CALLER, "main"), Err("AccessDeniedException"))];
        w.selectors = vec![(arn(CALLER, "main"), Ok(split.clone()))];
        w
    };
    // Under --semantic the split selectors would qualify if the trail logs: not knowing is
    // INCONCLUSIVE, never FAIL.
    let semantic = CheckOptions {
        semantic: true,
        ..CheckOptions::default()
    };
    assert_eval(
        &run(world(), semantic).await,
        Verdict::Inconclusive,
        Some("PERMISSION_DENIED(cloudtrail:GetTrailStatus)"),
    );
    // Without it they cannot qualify whatever the status: FAIL, for the selectors, not NOT_LOGGING.
    assert_eval(
        &run(world(), CheckOptions::default()).await,
        Verdict::Fail,
        Some("SPLIT_SELECTORS"),
    );
}
