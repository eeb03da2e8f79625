//! The scenarios of `docs/decision-procedure.md` §5 that the moto server can express, set up through the
//! real SDK over HTTP and judged by the built binary. R = {us-east-1, eu-west-1} unless stated.

use crate::util::*;

const R: &[&str] = &["--regions", TWO_REGIONS];

#[tokio::test]
async fn s01_no_trails() {
    let a = Account::new().await;
    let got = a.check(R);
    assert_verdict(&got, "FAIL", Some("NO_TRAILS"), 1);
    // The configuration statement and the controls it evidences, in the JSON too.
    let c = &got.1["controls"][0];
    assert_eq!(c["statement"], "configuration");
    assert_eq!(c["result"], "not_satisfied");
    assert!(
        c["controls"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("cis-aws:3.1"))
    );
    assert_eq!(got.1["control_mapping"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn s02_default_classic_selector_passes() {
    let a = Account::new().await;
    let arn = a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let got = a.check(R);
    assert_verdict(&got, "PASS", None, 0);
    let report = &got.1;
    assert_eq!(report["controls"][0]["result"], "satisfied");
    assert_eq!(report["compliant_trails"][0], arn.as_str());
    // The hand-off to the log phase names the bucket and every region in scope.
    let src = &report["log_sources"][0];
    assert_eq!(src["bucket"], format!("tp-{}-main-trail", a.id));
    assert_eq!(
        src["regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    assert_eq!(src["accounts"], serde_json::json!([a.id]));
    assert_eq!(src["global_region"], "us-east-1");
    for row in report["regions"]["in_scope"].as_array().unwrap() {
        assert_eq!(row["state"], "covered", "{row}");
    }
}

#[tokio::test]
async fn s02_default_advanced_selector_passes() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![advanced(
            Some("Management events selector"),
            vec![mgmt_field()],
        )]),
    ))
    .await;
    assert_verdict(&a.check(R), "PASS", None, 0);
}

#[tokio::test]
async fn s03_stopped_trail_fails_not_logging() {
    let a = Account::new().await;
    a.trail(TrailSpec {
        logging: false,
        ..TrailSpec::mr("main-trail", all_mgmt())
    })
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("NOT_LOGGING"), 1);
}

#[tokio::test]
async fn s04_write_only() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("WriteOnly", true, &[], false)]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("WRITE_ONLY"), 1);
}

#[tokio::test]
async fn s05_read_only() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("ReadOnly", true, &[], false)]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("READ_ONLY"), 1);
}

#[tokio::test]
async fn s06_data_events_only() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("All", false, &[], true)]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("MGMT_EVENTS_NOT_RECORDED"), 1);
}

#[tokio::test]
async fn s07_excludes_kms_fails_and_warns_under_cis_literal() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("All", true, &["kms.amazonaws.com"], false)]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("EXCLUDES_SOURCE(kms)"), 1);
    let literal = a.check(&["--regions", TWO_REGIONS, "--ruleset", "cis-literal"]);
    assert_verdict(&literal, "WARN", Some("EXCLUDES_SOURCE(kms)"), 0);
}

#[tokio::test]
async fn s08_excludes_rdsdata() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic(
            "All",
            true,
            &["rdsdata.amazonaws.com"],
            false,
        )]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("EXCLUDES_SOURCE(rdsdata)"), 1);
}

#[tokio::test]
async fn s09_split_classic_selectors() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![
            classic("ReadOnly", true, &[], false),
            classic("WriteOnly", true, &[], false),
        ]),
    ))
    .await;
    let got = a.check(R);
    assert_verdict(&got, "FAIL", Some("SPLIT_SELECTORS"), 1);
    let notes: Vec<&str> = got.1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(notes.contains(&"EFFECTIVE_COVERAGE_COMPLETE"), "{notes:?}");
    assert_verdict(
        &a.check(&["--regions", TWO_REGIONS, "--semantic"]),
        "PASS",
        None,
        0,
    );
}

#[tokio::test]
async fn s10_data_selector_plus_all_management_passes() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![
            classic("All", false, &[], true),
            classic("All", true, &[], false),
        ]),
    ))
    .await;
    assert_verdict(&a.check(R), "PASS", None, 0);
}

#[tokio::test]
async fn s11_advanced_console_default_passes() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![advanced(
            Some("Management events selector"),
            vec![mgmt_field()],
        )]),
    ))
    .await;
    assert_verdict(&a.check(R), "PASS", None, 0);
}

#[tokio::test]
async fn s12_advanced_any_name_or_none_passes() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "named",
        Sel::Advanced(vec![advanced(Some("all-mgmt"), vec![mgmt_field()])]),
    ))
    .await;
    assert_verdict(&a.check(R), "PASS", None, 0);
    let b = Account::new().await;
    b.trail(TrailSpec::mr(
        "unnamed",
        Sel::Advanced(vec![advanced(None, vec![mgmt_field()])]),
    ))
    .await;
    assert_verdict(&b.check(R), "PASS", None, 0);
}

#[tokio::test]
async fn s13_advanced_read_only() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![advanced(
            None,
            vec![mgmt_field(), field("readOnly", "Equals", &["true"])],
        )]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("READ_ONLY"), 1);
}

#[tokio::test]
async fn s14_advanced_excludes_kms() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![advanced(
            Some("Exclude AWS KMS events"),
            vec![
                mgmt_field(),
                field("eventSource", "NotEquals", &["kms.amazonaws.com"]),
            ],
        )]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("EXCLUDES_SOURCE(kms)"), 1);
}

fn data_selector() -> aws_sdk_cloudtrail::types::AdvancedEventSelector {
    advanced(
        Some("S3 objects"),
        vec![
            field("eventCategory", "Equals", &["Data"]),
            field("resources.type", "Equals", &["AWS::S3::Object"]),
        ],
    )
}

#[tokio::test]
async fn s15_advanced_data_only() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![data_selector()]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("MGMT_EVENTS_NOT_RECORDED"), 1);
}

#[tokio::test]
async fn s16_advanced_read_only_plus_data() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![
            advanced(
                None,
                vec![mgmt_field(), field("readOnly", "Equals", &["true"])],
            ),
            data_selector(),
        ]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("READ_ONLY"), 1);
}

#[tokio::test]
async fn s17_advanced_split_read_and_write() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Advanced(vec![
            advanced(
                Some("reads"),
                vec![mgmt_field(), field("readOnly", "Equals", &["true"])],
            ),
            advanced(
                Some("writes"),
                vec![mgmt_field(), field("readOnly", "Equals", &["false"])],
            ),
        ]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("SPLIT_SELECTORS"), 1);
    assert_verdict(
        &a.check(&["--regions", TWO_REGIONS, "--semantic"]),
        "PASS",
        None,
        0,
    );
}

#[tokio::test]
async fn s18_split_across_two_trails() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "reads-trail",
        Sel::Classic(vec![classic("ReadOnly", true, &[], false)]),
    ))
    .await;
    a.trail(TrailSpec::mr(
        "writes-trail",
        Sel::Classic(vec![classic("WriteOnly", true, &[], false)]),
    ))
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("SPLIT_ACROSS_TRAILS"), 1);
    assert_verdict(
        &a.check(&["--regions", TWO_REGIONS, "--semantic"]),
        "PASS",
        None,
        0,
    );
}

#[tokio::test]
async fn s19_single_region_trails_everywhere() {
    let a = Account::new().await;
    for (name, home) in [("east-trail", "us-east-1"), ("west-trail", "eu-west-1")] {
        a.trail(TrailSpec {
            name,
            home,
            multi_region: false,
            ..TrailSpec::mr(name, all_mgmt())
        })
        .await;
    }
    let got = a.check(R);
    assert_verdict(&got, "FAIL", Some("NO_MULTI_REGION_TRAIL"), 1);
    let all: Vec<&str> = got.1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(all.contains(&"REGIONAL_COVERAGE_COMPLETE"), "{all:?}");
    for row in got.1["regions"]["in_scope"].as_array().unwrap() {
        assert_eq!(row["state"], "covered", "{row}");
    }
}

#[tokio::test]
async fn s20_one_single_region_trail() {
    let a = Account::new().await;
    a.trail(TrailSpec {
        multi_region: false,
        ..TrailSpec::mr("east-trail", all_mgmt())
    })
    .await;
    let got = a.check(R);
    assert_verdict(&got, "FAIL", Some("NO_MULTI_REGION_TRAIL"), 1);
    let states: Vec<(&str, &str)> = got.1["regions"]["in_scope"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["region"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [("eu-west-1", "not_covered"), ("us-east-1", "covered")]
    );
    let all: Vec<&str> = got.1["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(!all.contains(&"REGIONAL_COVERAGE_COMPLETE"), "{all:?}");
}

#[tokio::test]
async fn s21_data_only_multi_region_plus_single_region_all() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "data-trail",
        Sel::Classic(vec![classic("All", false, &[], true)]),
    ))
    .await;
    a.trail(TrailSpec {
        multi_region: false,
        ..TrailSpec::mr("east-trail", all_mgmt())
    })
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("MGMT_EVENTS_NOT_RECORDED"), 1);
}

#[tokio::test]
async fn s22_stopped_multi_region_plus_logging_single_region() {
    let a = Account::new().await;
    a.trail(TrailSpec {
        logging: false,
        ..TrailSpec::mr("mr-trail", all_mgmt())
    })
    .await;
    a.trail(TrailSpec {
        multi_region: false,
        ..TrailSpec::mr("east-trail", all_mgmt())
    })
    .await;
    assert_verdict(&a.check(R), "FAIL", Some("NOT_LOGGING"), 1);
}

#[tokio::test]
async fn s23_one_compliant_one_stopped_passes() {
    let a = Account::new().await;
    let good = a.trail(TrailSpec::mr("good-trail", all_mgmt())).await;
    a.trail(TrailSpec {
        logging: false,
        ..TrailSpec::mr("stopped-trail", all_mgmt())
    })
    .await;
    let got = a.check(R);
    assert_verdict(&got, "PASS", None, 0);
    assert_eq!(got.1["compliant_trails"], serde_json::json!([good]));
}

#[tokio::test]
async fn s27_org_trail_from_management_account_passes() {
    let a = Account::new().await;
    let arn = a
        .trail(TrailSpec {
            organization: true,
            prefix: Some("org-logs"),
            ..TrailSpec::mr("org-trail", all_mgmt())
        })
        .await;
    let got = a.check(R);
    assert_verdict(&got, "PASS", None, 0);
    let src = &got.1["log_sources"][0];
    assert_eq!(src["trail_arn"], arn.as_str());
    assert_eq!(src["organization_trail"], true);
    assert_eq!(src["key_prefix"], "org-logs");
}

#[tokio::test]
async fn s28_scope_outside_home_region_still_reads_home() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let got = a.check(&["--regions", "eu-west-1"]);
    assert_verdict(&got, "PASS", None, 0);
    assert_eq!(got.1["regions"]["in_scope"][0]["state"], "covered");
}

#[tokio::test]
async fn s29_opt_in_region_sees_shadow_copy() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let got = a.check(&["--regions", "us-east-1,eu-west-1,ap-east-1"]);
    assert_verdict(&got, "PASS", None, 0);
    let row = got.1["regions"]["in_scope"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "ap-east-1")
        .cloned()
        .unwrap();
    assert_eq!(row["state"], "covered", "{row}");
}

#[tokio::test]
async fn excluded_region_is_listed_not_checked() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let got = a.check(&[
        "--regions",
        "us-east-1,eu-west-1,af-south-1",
        "--exclude-regions",
        "af-south-1",
    ]);
    assert_verdict(&got, "PASS", None, 0);
    assert_eq!(
        got.1["regions"]["excluded"],
        serde_json::json!(["af-south-1"])
    );
    assert_eq!(got.1["regions"]["in_scope"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn s34_event_data_store_only_is_no_trails() {
    // moto answers CreateEventDataStore with HTTP 500, so the store cannot be created here;
    // trailproof reads no event-data-store API, so to it this account is the S01 account.
    let a = Account::new().await;
    let got = a.check(R);
    assert_verdict(&got, "FAIL", Some("NO_TRAILS"), 1);
    let msg = got.1["findings"][0]["message"].as_str().unwrap();
    assert!(msg.contains("event data stores do not satisfy"), "{msg}");
}

#[tokio::test]
async fn s35_org_trail_config_passes_log_phase_decides() {
    // Trusted access cannot be toggled in a way CloudTrail's API reflects; configuration
    // passes and names the organization layout for the log phase, which must find the
    // member prefixes.
    let a = Account::new().await;
    a.trail(TrailSpec {
        organization: true,
        ..TrailSpec::mr("org-trail", all_mgmt())
    })
    .await;
    let got = a.check(R);
    assert_verdict(&got, "PASS", None, 0);
    assert_eq!(got.1["log_sources"][0]["organization_trail"], true);
}

#[tokio::test]
async fn region_discovery_unavailable_falls_back_and_warns() {
    // moto does not serve account:ListRegions (HTTP 404): the scope falls back to the 17
    // default regions, marked unverified, and a compliant trail warns instead of passing.
    let a = Account::new().await;
    a.trail(TrailSpec::mr("main-trail", all_mgmt())).await;
    let got = a.check(&[]);
    assert_verdict(&got, "WARN", Some("REGIONS_UNVERIFIED"), 0);
    assert_eq!(got.1["regions"]["source"], "builtin_unverified");
    assert_eq!(got.1["regions"]["in_scope"].as_array().unwrap().len(), 17);
    assert_eq!(
        got.1["regions"]["discovery_failure"]["api"],
        "account:ListRegions"
    );
}

#[tokio::test]
async fn text_output_names_verdict_trail_and_remediation() {
    let a = Account::new().await;
    a.trail(TrailSpec::mr(
        "main-trail",
        Sel::Classic(vec![classic("WriteOnly", true, &[], false)]),
    ))
    .await;
    let out = a.run(&[
        "check",
        "--endpoint-url",
        endpoint(),
        "--regions",
        TWO_REGIONS,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("CloudTrail configuration: FAIL  [WRITE_ONLY]"),
        "{text}"
    );
    assert!(text.contains("main-trail"), "{text}");
    assert!(
        text.contains("aws cloudtrail put-event-selectors"),
        "{text}"
    );
    assert!(text.contains("\"ReadWriteType\": \"All\""), "{text}");
}
