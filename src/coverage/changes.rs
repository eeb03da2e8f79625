//! Trail changes: CloudTrail's own management events (and changes to the trail bucket's
//! policy and lifecycle) found in the window. An assessor's first question about a gap is
//! whether logging was turned off, and by whom; these rows answer it, beside the gaps.

use serde::Serialize;

use crate::time::parse_event_time;

/// CloudTrail API calls that change what is logged.
pub const CLOUDTRAIL_CHANGES: [&str; 7] = [
    "StopLogging",
    "StartLogging",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
    "DeleteTrail",
    "CreateTrail",
];

/// S3 API calls (as CloudTrail names them) that change who may write the trail's bucket or how
/// long it keeps the logs.
pub const BUCKET_CHANGES: [&str; 4] = [
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketLifecycle",
    "DeleteBucketLifecycle",
];

/// Whether an event (by source and name) is a trail change.
pub fn is_trail_change(source: Option<&str>, name: Option<&str>) -> bool {
    match (source, name) {
        (Some("cloudtrail.amazonaws.com"), Some(n)) => CLOUDTRAIL_CHANGES.contains(&n),
        (Some("s3.amazonaws.com"), Some(n)) => BUCKET_CHANGES.contains(&n),
        _ => false,
    }
}

/// Rows kept per run (the earliest); the rest are counted.
pub const MAX_TRAIL_CHANGES: usize = 10_000;

/// One trail change, with who, when, where and the result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TrailChange {
    /// Epoch seconds (the sort key: rows are in time order).
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
    pub event_time: i64,
    pub account_id: String,
    /// The region of the log file that delivered it.
    pub region: String,
    pub event_id: Option<String>,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: Option<String>,
    /// `userIdentity.arn`, else its type and principal id.
    pub actor: Option<String>,
    pub actor_type: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `success`, or the error code.
    pub result: String,
    pub error_message: Option<String>,
    /// The trail (`requestParameters.name` / `trailName`) or bucket (`bucketName`); bucket
    /// changes without a bucket name are not kept.
    pub target: Option<String>,
    /// `requestParameters`, as JSON (at most 2 KiB).
    pub request_parameters: Option<String>,
    pub log_file: String,
}

/// `requestParameters` kept per row.
const MAX_PARAMETERS: usize = 2_048;

impl TrailChange {
    /// A row from a whole record; `None` if its time cannot be read. `bucket`: the trail's
    /// bucket when known, to keep only bucket changes on it.
    pub fn of_record(
        v: &serde_json::Value,
        account: &str,
        region: &str,
        log_file: &str,
        bucket: Option<&str>,
    ) -> Option<TrailChange> {
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_owned);
        let event_time = s("/eventTime").as_deref().and_then(parse_event_time)?;
        let event_source = s("/eventSource")?;
        let event_name = s("/eventName")?;
        let target = s("/requestParameters/name")
            .or_else(|| s("/requestParameters/trailName"))
            .or_else(|| s("/requestParameters/bucketName"));
        // A bucket change names its bucket; on a known trail bucket, only that bucket's count.
        if event_source == "s3.amazonaws.com"
            && (target.is_none() || bucket.is_some_and(|b| target.as_deref() != Some(b)))
        {
            return None;
        }
        let actor = s("/userIdentity/arn").or_else(|| {
            let kind = s("/userIdentity/type")?;
            Some(match s("/userIdentity/principalId") {
                Some(p) => format!("{kind}:{p}"),
                None => kind,
            })
        });
        let request_parameters = v
            .get("requestParameters")
            .filter(|p| !p.is_null())
            .map(|p| {
                let mut t = p.to_string();
                if t.len() > MAX_PARAMETERS {
                    let mut cut = MAX_PARAMETERS;
                    while !t.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    t.truncate(cut);
                    t.push('…');
                }
                t
            });
        Some(TrailChange {
            event_time,
            account_id: account.to_owned(),
            region: region.to_owned(),
            event_id: s("/eventID"),
            event_source,
            event_name,
            aws_region: s("/awsRegion"),
            actor,
            actor_type: s("/userIdentity/type"),
            source_ip: s("/sourceIPAddress"),
            user_agent: s("/userAgent"),
            result: s("/errorCode").unwrap_or_else(|| "success".into()),
            error_message: s("/errorMessage"),
            target,
            request_parameters,
            log_file: log_file.to_owned(),
        })
    }

    /// Whether it stopped logging or removed a trail, and succeeded.
    pub fn stops_logging(&self) -> bool {
        self.result == "success"
            && matches!(self.event_name.as_str(), "StopLogging" | "DeleteTrail")
    }
}

/// Trail changes collected across workers: the earliest [`MAX_TRAIL_CHANGES`] in time order,
/// the same whatever order the files were read in; later ones are counted.
#[derive(Debug, Default, Clone)]
pub struct TrailChanges {
    pub rows: Vec<TrailChange>,
    pub dropped: u64,
}

impl TrailChanges {
    pub fn push(&mut self, row: TrailChange) {
        self.rows.push(row);
        if self.rows.len() >= 2 * MAX_TRAIL_CHANGES {
            self.settle();
        }
    }

    pub fn merge(&mut self, other: TrailChanges) {
        self.dropped += other.dropped;
        for r in other.rows {
            self.push(r);
        }
    }

    /// Sorts, removes duplicates (a file read twice) and keeps the earliest rows.
    pub fn settle(&mut self) {
        self.rows.sort();
        self.rows.dedup();
        if self.rows.len() > MAX_TRAIL_CHANGES {
            self.dropped += (self.rows.len() - MAX_TRAIL_CHANGES) as u64;
            self.rows.truncate(MAX_TRAIL_CHANGES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, t: &str, err: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "eventTime": t, "eventSource": "cloudtrail.amazonaws.com", "eventName": name,
            "awsRegion": "us-east-1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"},
            "requestParameters": {"name": "main-trail"}, "eventID": "e1",
        });
        if let Some(e) = err {
            v["errorCode"] = e.into();
        }
        v
    }

    #[test]
    fn a_row_names_who_what_when_and_the_result() {
        let r = TrailChange::of_record(
            &rec("StopLogging", "2026-01-01T03:00:00Z", None),
            "111122223333",
            "us-east-1",
            "k",
            None,
        )
        .unwrap();
        assert_eq!(
            r.actor.as_deref(),
            Some("arn:aws:iam::111122223333:user/mallory")
        );
        assert_eq!(r.target.as_deref(), Some("main-trail"));
        assert_eq!(r.result, "success");
        assert!(r.stops_logging());
        let denied = TrailChange::of_record(
            &rec("StopLogging", "2026-01-01T03:00:00Z", Some("AccessDenied")),
            "1",
            "us-east-1",
            "k",
            None,
        )
        .unwrap();
        assert_eq!(denied.result, "AccessDenied");
        assert!(!denied.stops_logging());
        assert!(is_trail_change(
            Some("s3.amazonaws.com"),
            Some("PutBucketPolicy")
        ));
        assert!(!is_trail_change(
            Some("s3.amazonaws.com"),
            Some("GetObject")
        ));
        assert!(!is_trail_change(
            Some("cloudtrail.amazonaws.com"),
            Some("DescribeTrails")
        ));
    }

    #[test]
    fn bucket_changes_on_other_buckets_are_not_trail_changes() {
        let v = serde_json::json!({"eventTime": "2026-01-01T03:00:00Z", "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketPolicy", "requestParameters": {"bucketName": "other"}});
        assert!(TrailChange::of_record(&v, "1", "r", "k", Some("trail-bucket")).is_none());
        assert!(TrailChange::of_record(&v, "1", "r", "k", None).is_some());
    }

    #[test]
    fn the_kept_rows_do_not_depend_on_arrival_order() {
        let rows: Vec<TrailChange> = (0..(MAX_TRAIL_CHANGES + 50))
            .map(|i| {
                let mut r = TrailChange::of_record(
                    &rec("UpdateTrail", "2026-01-01T03:00:00Z", None),
                    "1",
                    "r",
                    "k",
                    None,
                )
                .unwrap();
                r.event_time += i as i64;
                r
            })
            .collect();
        let (mut a, mut b) = (TrailChanges::default(), TrailChanges::default());
        for r in rows.iter().cloned() {
            a.push(r);
        }
        for r in rows.iter().rev().cloned() {
            b.push(r);
        }
        a.settle();
        b.settle();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.dropped, 50);
        assert_eq!(a.rows[0].event_time, rows[0].event_time);
    }
}
