//! The facts `check` gathers from AWS, in our own types so that the decision procedure is
//! pure and can be tested without any client.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::aws::ApiFailure;
use crate::regions::RegionScope;

/// Who is calling (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub account_id: String,
    pub arn: String,
    /// `aws`, `aws-us-gov` or `aws-cn`, from the caller ARN.
    pub partition: String,
}

/// A trail as `DescribeTrails` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Trail {
    pub arn: String,
    pub name: String,
    pub home_region: String,
    /// The account in the ARN: for an organization trail seen from a member, the management
    /// (or delegated administrator) account.
    pub owner_account: String,
    pub multi_region: bool,
    pub organization: bool,
    pub include_global_service_events: bool,
    pub s3_bucket: Option<String>,
    pub s3_key_prefix: Option<String>,
    pub log_file_validation: bool,
}

/// What `GetTrailStatus` says (only the fields the verdict uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TrailStatus {
    pub is_logging: bool,
    /// Epoch seconds of the last successful log delivery; `None` if never delivered.
    pub latest_delivery_time: Option<i64>,
    /// Non-empty when the last delivery failed (e.g. `AccessDenied`, `NoSuchBucket`).
    pub latest_delivery_error: Option<String>,
    pub latest_digest_delivery_error: Option<String>,
    /// The region whose endpoint answered (the home region unless that call failed).
    pub read_from_region: String,
}

/// Classic `ReadWriteType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ReadWriteType {
    All,
    ReadOnly,
    WriteOnly,
    /// A value this build does not know; treated as narrowing.
    Other(String),
}

/// A classic event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicSelector {
    /// `None` means the API default (`All`).
    pub read_write_type: Option<ReadWriteType>,
    /// `None` means the API default (`true`).
    pub include_management_events: Option<bool>,
    /// `None` and `[]` both mean "no exclusions".
    pub exclude_management_event_sources: Option<Vec<String>>,
    pub data_resources: usize,
}

/// One field condition of an advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

impl FieldSelector {
    /// The operators that carry values, by name, for messages and classification.
    pub fn operators(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        [
            ("Equals", self.equals.as_slice()),
            ("StartsWith", self.starts_with.as_slice()),
            ("EndsWith", self.ends_with.as_slice()),
            ("NotEquals", self.not_equals.as_slice()),
            ("NotStartsWith", self.not_starts_with.as_slice()),
            ("NotEndsWith", self.not_ends_with.as_slice()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }
}

/// An advanced event selector. Its `name` is free text and never consulted by the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AdvancedSelector {
    pub name: Option<String>,
    pub field_selectors: Vec<FieldSelector>,
}

/// A trail's selectors: either classic or advanced ("You cannot apply both").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "selectors", rename_all = "snake_case")]
pub enum Selectors {
    Classic(Vec<ClassicSelector>),
    Advanced(Vec<AdvancedSelector>),
}

/// Everything known about one trail; each API's answer or its failure, isolated per trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailFacts {
    pub trail: Trail,
    pub status: Result<TrailStatus, ApiFailure>,
    pub selectors: Result<Selectors, ApiFailure>,
}

/// What `DescribeTrails` in one region returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RegionCatalog {
    /// The region answered; these trail ARNs are visible there.
    Visible { arns: BTreeSet<String> },
    /// The region did not answer. Never read as "no trails".
    Unreachable { failure: ApiFailure },
}

/// All facts of one `check` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// When the facts were gathered (epoch seconds).
    pub observed_at: i64,
    pub identity: Result<Identity, ApiFailure>,
    pub regions: RegionScope,
    pub catalog: BTreeMap<String, RegionCatalog>,
    pub trails: BTreeMap<String, TrailFacts>,
}

/// Parses `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` into (partition, region, account).
pub fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next()?;
    let _service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    parts.next()?;
    Some((partition, region, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse() {
        assert_eq!(
            parse_arn("arn:aws:cloudtrail:us-east-1:111122223333:trail/main"),
            Some(("aws", "us-east-1", "111122223333"))
        );
        assert_eq!(
            parse_arn("arn:aws-us-gov:sts::123456789012:assumed-role/a/b"),
            Some(("aws-us-gov", "", "123456789012"))
        );
        assert_eq!(parse_arn("not-an-arn"), None);
        assert_eq!(parse_arn("arn:aws:cloudtrail:us-east-1"), None);
    }
}
