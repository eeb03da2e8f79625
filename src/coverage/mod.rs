//! The coverage model: counters per (account, region, hour of eventTime) ([`aggregate`]),
//! the gap rows ([`gaps`]: every kind, the one place a row is made), and the evaluation of
//! the expected set into gaps, per-region results and the evidence verdict ([`evaluate`]).
//! How events are classified is described in `docs/log-format.md`.

pub mod aggregate;
pub mod changes;
pub mod evaluate;
pub mod gaps;

pub use aggregate::{
    Aggregate, Counters, FileContext, FileCounter, GLOBAL_SOURCES, Hours, is_global_source,
};
pub use changes::{TrailChange, TrailChanges};
pub use evaluate::{
    Evidence, Expectation, RegionResult, RegionStatus, coverage_rows, evaluate, observed_window,
};
pub use gaps::{Category, Gap, GapKind};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Record;

    fn rec<'a>(time: &'a str, region: &'a str, source: &'a str, ro: Option<bool>) -> Record<'a> {
        Record {
            event_time: Some(time.into()),
            aws_region: Some(region.into()),
            event_source: Some(source.into()),
            read_only: ro,
            management_event: Some(true),
            event_category: Some("Management".into()),
            ..Default::default()
        }
    }

    const H0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn exp(regions: &[&str], hours: i64) -> Expectation {
        Expectation {
            accounts: vec!["111122223333".into()],
            regions: regions.iter().map(|s| s.to_string()).collect(),
            global_region: "us-east-1".into(),
            window: (H0, H0 + hours * 3_600),
            max_silence_hours: Some(2),
            late_threshold_s: 3_600,
            attested: Default::default(),
            silent_since: Default::default(),
            shard: None,
            next_start: H0 + hours * 3_600,
        }
    }

    /// A global-service read and write in us-east-1's first hour.
    fn prove_first_hour(agg: &mut Aggregate) {
        let t = crate::time::rfc3339(H0 + 60);
        count(
            agg,
            "us-east-1",
            H0 + 600,
            &[
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(false)),
            ],
        );
    }

    fn count(agg: &mut Aggregate, region: &str, delivered: i64, records: &[Record<'_>]) {
        let mut fc = FileCounter::new((H0, H0 + 6 * 3_600), 3_600);
        let ctx = FileContext {
            account: "111122223333",
            region,
            delivered_at: delivered,
            compressed_bytes: 100,
        };
        for r in records {
            fc.event(&ctx, agg, r);
        }
        fc.finish(&ctx, agg);
    }

    #[test]
    fn counts_cells_by_event_hour() {
        let mut agg = Aggregate::default();
        count(
            &mut agg,
            "us-east-1",
            H0 + 3_900,
            &[
                rec(
                    "2026-01-01T00:59:00Z",
                    "us-east-1",
                    "iam.amazonaws.com",
                    Some(true),
                ),
                rec(
                    "2026-01-01T01:01:00Z",
                    "us-east-1",
                    "ec2.amazonaws.com",
                    Some(false),
                ),
                rec(
                    "2026-01-01T01:02:00Z",
                    "eu-west-1",
                    "ec2.amazonaws.com",
                    Some(true),
                ),
                rec(
                    "2026-01-01T01:03:00Z",
                    "us-east-2",
                    "signin.amazonaws.com",
                    Some(false),
                ),
                rec(
                    "2025-12-31T23:00:00Z",
                    "us-east-1",
                    "ec2.amazonaws.com",
                    Some(true),
                ),
                rec("garbage", "us-east-1", "ec2.amazonaws.com", Some(true)),
            ],
        );
        let hours = &agg.cells["111122223333"]["us-east-1"];
        let h0 = &hours[&H0];
        assert_eq!(
            (
                h0.mgmt_read,
                h0.global_read,
                h0.log_files,
                h0.max_delivery_lag_s
            ),
            (1, 1, 1, 3_900 - 3_540)
        );
        let h1 = &hours[&(H0 + 3_600)];
        assert_eq!(
            (h1.mgmt_read, h1.mgmt_write, h1.global_write, h1.log_files),
            (1, 2, 1, 1)
        );
        assert_eq!(
            h1.mismatched_events, 1,
            "eu-west-1 claim counts; the global sign-in in us-east-2 does not"
        );
        assert_eq!((agg.outside_window, agg.bad_time), (1, 1));
    }

    #[test]
    fn evaluation_finds_each_gap_kind_once() {
        let mut agg = Aggregate::default();
        // us-east-1: reads, writes, global in hours 0-1 and 4-5; silent 2-3.
        for h in [0, 1, 4, 5] {
            let t = crate::time::rfc3339(H0 + h * 3_600 + 60);
            count(
                &mut agg,
                "us-east-1",
                H0 + h * 3_600 + 600,
                &[
                    rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                    rec(&t, "us-east-1", "ec2.amazonaws.com", Some(false)),
                ],
            );
        }
        // eu-west-1: reads only, every hour, one late in hour 3.
        for h in 0..6 {
            let t = crate::time::rfc3339(H0 + h * 3_600 + 60);
            let delivered = H0 + h * 3_600 + if h == 3 { 3 * 3_600 } else { 600 };
            count(
                &mut agg,
                "eu-west-1",
                delivered,
                &[rec(&t, "eu-west-1", "ec2.amazonaws.com", Some(true))],
            );
        }
        let (gaps, results) = evaluate(&agg, &exp(&["eu-west-1", "us-east-1"], 6), Vec::new());
        let got: Vec<(&str, &str, &str, i64, i64)> = gaps
            .iter()
            .map(|g| {
                (
                    g.region.as_str(),
                    g.category.as_str(),
                    g.kind.as_str(),
                    (g.start - H0) / 3_600,
                    (g.end - H0) / 3_600,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("eu-west-1", "mgmt_write", "no_events", 0, 6),
                ("eu-west-1", "delivery", "late_delivery", 3, 4),
                ("us-east-1", "delivery", "no_log_files", 2, 4),
            ],
            "{gaps:#?}"
        );
        assert!(
            results.iter().all(|r| r.status == RegionStatus::Gap),
            "{results:#?}"
        );
    }

    #[test]
    fn a_failed_listing_is_unknown_never_a_gap() {
        // eu-west-1 has nothing at all, and its listing failed for the whole window.
        let mut agg = Aggregate::default();
        prove_first_hour(&mut agg);
        let e = exp(&["eu-west-1", "us-east-1"], 6);
        let failed = || {
            Gap::new(
                "111122223333",
                "eu-west-1",
                GapKind::ListFailed,
                (H0, H0 + 6 * 3_600),
                "listing failed",
            )
        };
        let (gaps, results) = evaluate(&agg, &e, vec![failed()]);
        let eu: Vec<&str> = gaps
            .iter()
            .filter(|g| g.region == "eu-west-1")
            .map(|g| g.kind.as_str())
            .collect();
        assert_eq!(
            eu,
            ["list_failed"],
            "no absence rule may add a gap: {gaps:#?}"
        );
        assert_eq!(results[0].status, RegionStatus::Unknown);
        // us-east-1's silent hours 1-5 are a real silence gap; without it the run is UNKNOWN.
        let e = Expectation {
            max_silence_hours: None,
            ..e
        };

        let (gaps, results) = evaluate(&agg, &e, vec![failed()]);
        assert_eq!(
            Evidence::of(&results, &gaps),
            Evidence::Unknown,
            "{gaps:#?}"
        );
    }

    #[test]
    fn a_definite_gap_stays_a_gap_beside_something_unknown() {
        let mut agg = Aggregate::default();
        prove_first_hour(&mut agg);
        agg.unreadable(
            "111122223333",
            "us-east-1",
            H0 + 3 * 3_600,
            (H0, H0 + 6 * 3_600),
        );
        let tampered = Gap::of_object(
            "111122223333",
            "us-east-1",
            H0 + 600,
            GapKind::HashMismatch,
            "x",
        );
        let e = Expectation {
            max_silence_hours: None,
            ..exp(&["us-east-1"], 6)
        };
        let (_, results) = evaluate(&agg, &e, vec![tampered]);
        assert_eq!(results[0].status, RegionStatus::Gap);
        let (_, results) = evaluate(&agg, &e, Vec::new());
        assert_eq!(results[0].status, RegionStatus::Unknown);
    }

    #[test]
    fn events_dated_after_their_delivery_prove_nothing() {
        let mut agg = Aggregate::default();
        // A file delivered at 00:35 holding events of 02:00-03:00.
        let t = crate::time::rfc3339(H0 + 2 * 3_600 + 60);
        count(
            &mut agg,
            "us-east-1",
            H0 + 35 * 60,
            &[
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(false)),
            ],
        );
        // Within the allowance (the stamp's minute and clock skew) an event still counts.
        let ok = crate::time::rfc3339(H0 + 35 * 60 + 300);
        count(
            &mut agg,
            "us-east-1",
            H0 + 35 * 60,
            &[rec(&ok, "us-east-1", "ec2.amazonaws.com", Some(true))],
        );
        assert_eq!(agg.after_delivery, 2);
        let hours = &agg.cells["111122223333"]["us-east-1"];
        assert!(!hours.contains_key(&(H0 + 2 * 3_600)), "{hours:?}");
        assert_eq!(hours[&H0].mgmt_read, 1);
        let (gaps, results) = evaluate(&agg, &exp(&["us-east-1"], 6), Vec::new());
        let kinds: Vec<&str> = gaps.iter().map(|g| g.kind.as_str()).collect();
        assert!(kinds.contains(&"event_after_delivery"), "{kinds:?}");
        assert!(kinds.contains(&"no_events"), "no write counted: {kinds:?}");
        assert_eq!(results[0].status, RegionStatus::Gap);
    }

    #[test]
    fn unreadable_objects_make_coverage_unknown_never_proven() {
        let mut agg = Aggregate::default();
        prove_first_hour(&mut agg);
        let e = Expectation {
            max_silence_hours: None,
            ..exp(&["us-east-1"], 1)
        };
        let (_, ok) = evaluate(&agg, &e, Vec::new());
        assert_eq!(ok[0].status, RegionStatus::Proven);
        agg.unreadable("111122223333", "us-east-1", H0 + 1_200, e.window);
        let (_, results) = evaluate(&agg, &e, Vec::new());
        assert_eq!(results[0].status, RegionStatus::Unknown);
    }

    #[test]
    fn a_silence_carried_from_the_previous_run_continues_across_the_boundary() {
        // The previous run ended with us-east-1 silent for 1 hour (since H0 - 1h); this run's
        // first hour is silent too, then events: 2 silent hours with --max-silence 2.
        let mut agg = Aggregate::default();
        let t = crate::time::rfc3339(H0 + 3_600 + 60);
        count(
            &mut agg,
            "us-east-1",
            H0 + 3_600 + 600,
            &[
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(true)),
                rec(&t, "us-east-1", "iam.amazonaws.com", Some(false)),
            ],
        );
        let alone = exp(&["us-east-1"], 3);
        let (gaps, results) = evaluate(&agg, &alone, Vec::new());
        assert!(
            !gaps.iter().any(|g| g.kind == GapKind::NoLogFiles),
            "{gaps:#?}"
        );
        assert_eq!(results[0].silent_since, Some(H0 + 2 * 3_600));
        let mut carried = alone.clone();
        carried
            .silent_since
            .insert(("111122223333".into(), "us-east-1".into()), H0 - 3_600);
        let (gaps, _) = evaluate(&agg, &carried, Vec::new());
        let silence: Vec<(i64, i64)> = gaps
            .iter()
            .filter(|g| g.kind == GapKind::NoLogFiles)
            .map(|g| (g.start, g.end))
            .collect();
        assert_eq!(silence, [(H0 - 3_600, H0 + 3_600)]);
        // With a grace of an hour the next run starts at H0 + 2h: a silence reaching it is
        // carried even when the last hour was busy (or unknown) in this run.
        let mut late = Aggregate::default();
        let t = crate::time::rfc3339(H0 + 2 * 3_600 + 60);
        count(
            &mut late,
            "us-east-1",
            H0 + 2 * 3_600 + 600,
            &[rec(&t, "us-east-1", "iam.amazonaws.com", Some(true))],
        );
        let grace = Expectation {
            next_start: H0 + 2 * 3_600,
            ..alone.clone()
        };
        let (_, results) = evaluate(&late, &grace, Vec::new());
        assert_eq!(results[0].silent_since, Some(H0));
        let (_, results) = evaluate(&late, &alone, Vec::new());
        assert_eq!(results[0].silent_since, None);
        // A window silent throughout carries the earlier start on.
        let quiet = Aggregate::default();
        let (_, results) = evaluate(&quiet, &carried, Vec::new());
        assert_eq!(results[0].silent_since, Some(H0 - 3_600));
        let (_, results) = evaluate(&quiet, &alone, Vec::new());
        assert_eq!(results[0].silent_since, Some(H0));
    }
}
