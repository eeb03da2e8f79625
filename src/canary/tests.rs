use super::*;

fn file() -> CanaryFile {
    let probe = |kind, region: &str, (source, name, _): (&str, &str, &str), id: &str| Probe {
        kind,
        region: region.into(),
        event_source: source.into(),
        event_name: name.into(),
        sent_at: "2026-01-01T10:00:00Z".into(),
        request_id: Some(id.into()),
        outcome: Sent::Answered,
        error: None,
    };
    CanaryFile {
        schema: SCHEMA.into(),
        marker: "trailproof-canary-0123456789abcdef".into(),
        account_id: "111122223333".into(),
        partition: "aws".into(),
        global_region: "us-east-1".into(),
        sent_at: "2026-01-01T10:00:00Z".into(),
        probes: vec![
            probe(ProbeKind::Read, "eu-west-1", send::READ, "r-eu"),
            probe(ProbeKind::Write, "eu-west-1", send::WRITE, "w-eu"),
            probe(ProbeKind::Read, "us-east-1", send::READ, "r-us"),
            probe(ProbeKind::Write, "us-east-1", send::WRITE, "w-us"),
            probe(ProbeKind::Global, "us-east-1", send::GLOBAL, "g-us"),
        ],
    }
}

const SENT: i64 = 1_767_261_600; // 2026-01-01T10:00:00Z

/// A judge's scope with the 30-minute timeout.
fn scope<'a>(
    expects: &'a dyn Fn(&str, &str) -> bool,
    now: i64,
    listed: (i64, i64),
    unread: &'a [Gap],
) -> Scope<'a> {
    Scope {
        expects,
        now,
        timeout_s: 1_800,
        listed,
        unread,
    }
}

fn seen(id: &str, folder: &str, delivered_after: i64) -> Sighting {
    Sighting {
        key: format!("AWSLogs/111122223333/CloudTrail/{folder}/{id}.json.gz"),
        key_account: "111122223333".into(),
        key_region: folder.into(),
        delivered_at: SENT + delivered_after,
        request_id: Some(id.into()),
        event_source: None,
        event_name: None,
        aws_region: None,
        event_time: Some(SENT + 1),
        read_only: None,
        error_code: None,
    }
}

fn run(found: Vec<Sighting>, now: i64) -> (CanaryReport, Vec<Gap>) {
    let s = Sightings { found, dropped: 0 };
    let all = |_: &str, _: &str| true;
    let scope = Scope {
        expects: &all,
        now,
        timeout_s: 1_800,
        listed: (SENT - 3_600, SENT + 7_200),
        unread: &[],
    };
    judge(&file(), &s, &scope, &mut |_| None)
}

fn statuses(r: &CanaryReport) -> Vec<(&str, &str, &str)> {
    r.probes
        .iter()
        .map(|p| (p.region.as_str(), p.kind.as_str(), p.status.as_str()))
        .collect()
}

#[test]
fn every_probe_is_judged_by_what_was_found() {
    let found = vec![
        seen("r-eu", "eu-west-1", 300),
        // Late: 40 minutes after sending.
        seen("w-eu", "eu-west-1", 2_400),
        seen("r-us", "us-east-1", 300),
        // In another region's folder only.
        seen("w-us", "eu-west-1", 300),
        // The global probe: none.
    ];
    let (report, gaps) = run(found, SENT + 3_600);
    assert_eq!(
        statuses(&report),
        [
            ("eu-west-1", "read", "delivered"),
            ("eu-west-1", "write", "late"),
            ("us-east-1", "read", "delivered"),
            ("us-east-1", "write", "region_mismatch"),
            ("us-east-1", "global", "not_delivered"),
        ]
    );
    assert_eq!(report.probes[0].delivery_s, Some(300));
    let kinds: Vec<(&str, &str, &str)> = gaps
        .iter()
        .map(|g| (g.region.as_str(), g.category.as_str(), g.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("eu-west-1", "canary", "late"),
            ("us-east-1", "canary", "region_mismatch"),
            ("us-east-1", "canary", "not_delivered"),
        ]
    );
    assert!(gaps.iter().all(|g| !g.kind.is_unknown()));
}

#[test]
fn within_the_timeout_a_missing_canary_is_pending_and_unknown() {
    let (report, gaps) = run(vec![seen("r-eu", "eu-west-1", 300)], SENT + 600);
    assert_eq!(report.counts().get("pending"), Some(&4));
    assert_eq!(gaps.len(), 4);
    assert!(gaps.iter().all(|g| g.kind == GapKind::CanaryPending));
    assert!(gaps.iter().all(|g| g.kind.is_unknown()));
}

#[test]
fn a_failed_call_is_not_sent_unless_its_event_is_seen() {
    let mut f = file();
    f.probes.truncate(2);
    for p in &mut f.probes {
        p.outcome = Sent::Failed;
        p.error = Some("ec2:DeleteKeyPair: AccessDenied".into());
    }
    let s = Sightings {
        found: vec![seen("r-eu", "eu-west-1", 300)],
        dropped: 0,
    };
    let all = |_: &str, _: &str| true;
    let scope = scope(&all, SENT + 7_200, (SENT - 3_600, SENT + 7_200), &[]);
    let (report, gaps) = judge(&f, &s, &scope, &mut |_| Some(SENT + 320));
    assert_eq!(
        statuses(&report),
        [
            ("eu-west-1", "read", "delivered"),
            ("eu-west-1", "write", "not_sent")
        ]
    );
    assert_eq!(report.probes[0].last_modified, Some(SENT + 320));
    assert_eq!(report.probes[0].delivery_s, Some(300));
    assert_eq!(report.probes[0].event_to_key_s, Some(299));
    assert_eq!(report.probes[0].stored_after_s, Some(20));
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].kind, GapKind::CanaryNotSent);
    assert!(
        gaps[0].detail.contains("AccessDenied"),
        "{}",
        gaps[0].detail
    );
}

#[test]
fn probes_of_cells_the_run_does_not_judge_are_out_of_scope() {
    let s = Sightings::default();
    let only_eu = |_: &str, r: &str| r == "eu-west-1";
    let scope = scope(&only_eu, SENT + 7_200, (SENT - 3_600, SENT + 7_200), &[]);
    let (report, gaps) = judge(&file(), &s, &scope, &mut |_| None);
    assert_eq!(report.counts().get("out_of_scope"), Some(&3));
    assert_eq!(gaps.len(), 2);
    assert!(gaps.iter().all(|g| g.region == "eu-west-1"));
}

#[test]
fn without_a_request_id_the_event_itself_is_matched() {
    let mut f = file();
    f.probes.truncate(1);
    f.probes[0].request_id = None;
    let mut other = seen("x", "eu-west-1", 300);
    other.request_id = Some("someone-else".into());
    other.event_source = Some("cloudtrail.amazonaws.com".into());
    other.event_name = Some("DescribeTrails".into());
    other.aws_region = Some("eu-west-1".into());
    let s = Sightings {
        found: vec![other],
        dropped: 0,
    };
    let all = |_: &str, _: &str| true;
    let scope = scope(&all, SENT + 7_200, (SENT - 3_600, SENT + 7_200), &[]);
    let (report, _) = judge(&f, &s, &scope, &mut |_| None);
    assert_eq!(report.probes[0].status, ProbeStatus::Delivered);
}

#[test]
fn markers_are_checked_and_unique() {
    let a = new_marker();
    assert!(is_marker(&a), "{a}");
    assert!(aws_config::AppName::new(a.clone()).is_ok());
    assert_ne!(a, new_marker());
    assert!(!is_marker("trailproof-canary-xyz"));
    let mut f = file();
    f.marker = "other".into();
    assert!(f.check().is_err());
}

#[test]
fn the_file_round_trips_and_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("canary.json");
    file().write(&path).unwrap();
    assert_eq!(CanaryFile::read(&path).unwrap(), file());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    std::fs::write(&path, b"{\"schema\":\"x\"}").unwrap();
    assert!(CanaryFile::read(&path).is_err());
}

#[test]
fn a_probe_outside_the_deliveries_read_is_never_a_gap() {
    let s = Sightings::default();
    let all = |_: &str, _: &str| true;
    // Deliveries read up to 10 minutes after sending: the timeout (30m) ends after them.
    let scope = scope(&all, SENT + 7_200, (SENT - 3_600, SENT + 600), &[]);
    let (report, gaps) = judge(&file(), &s, &scope, &mut |_| None);
    assert_eq!(report.counts().get("pending"), Some(&5));
    assert!(gaps.iter().all(|g| g.kind.is_unknown()));
    // Sent before the first delivery read: not judged at all.
    let scope = Scope {
        listed: (SENT + 60, SENT + 9_000),
        ..scope
    };
    let (report, gaps) = judge(&file(), &s, &scope, &mut |_| None);
    assert_eq!(report.counts().get("out_of_scope"), Some(&5));
    assert!(gaps.is_empty());
}

#[test]
fn shards_reports_merge_into_the_report_of_one_run() {
    let found = vec![
        seen("r-eu", "eu-west-1", 300),
        seen("r-us", "us-east-1", 300),
    ];
    let run = |owns: &dyn Fn(&str, &str) -> bool| {
        let s = Sightings {
            found: found.clone(),
            dropped: 0,
        };
        let scope = scope(owns, SENT + 7_200, (SENT - 3_600, SENT + 7_200), &[]);
        judge(&file(), &s, &scope, &mut |_| None).0
    };
    let whole = run(&|_, _| true);
    let eu = run(&|_, r| r == "eu-west-1");
    let us = run(&|_, r| r != "eu-west-1");
    // Through summary.json and back, as `merge` reads them.
    let back = |r: &CanaryReport| -> CanaryReport {
        serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap()
    };
    let merged = CanaryReport::merge(vec![back(&eu), back(&us)]).unwrap();
    assert_eq!(merged, whole);
    let mut other = back(&us);
    other.marker = "trailproof-canary-ffffffffffffffff".into();
    assert!(CanaryReport::merge(vec![back(&eu), other]).is_none());
}

#[test]
fn a_probe_that_may_lie_in_an_unreadable_file_is_unknown_not_missing() {
    let s = Sightings::default();
    let all = |_: &str, _: &str| true;
    let unreadable = [Gap::new(
        "111122223333",
        "eu-west-1",
        GapKind::ObjectUnreadable,
        (SENT - 3_000, SENT + 600),
        "AWSLogs/…: truncated gzip",
    )];
    let scope = scope(
        &all,
        SENT + 7_200,
        (SENT - 3_600, SENT + 7_200),
        &unreadable,
    );
    let (report, gaps) = judge(&file(), &s, &scope, &mut |_| None);
    assert_eq!(report.counts().get("pending"), Some(&5));
    assert!(gaps.iter().all(|g| g.kind == GapKind::CanaryPending));
    assert!(
        gaps[0].detail.contains("could not be read"),
        "{}",
        gaps[0].detail
    );
    // Another account's unreadable file says nothing of these.
    let other = [Gap::new(
        "999999999999",
        "eu-west-1",
        GapKind::ObjectUnreadable,
        (SENT - 3_000, SENT + 600),
        "x",
    )];
    let scope = Scope {
        unread: &other,
        ..scope
    };
    let (report, _) = judge(&file(), &s, &scope, &mut |_| None);
    assert_eq!(report.counts().get("not_delivered"), Some(&5));
}
