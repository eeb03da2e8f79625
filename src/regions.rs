//! Region scope: which regions must be covered, and how we know.
//!
//! Discovery uses `account:ListRegions`, which reports every region's opt-in state, including
//! the transitional `ENABLING`/`DISABLING` ones. When that call is denied or not served, the
//! scope falls back to the partition's regions that are enabled by default and is marked
//! *unverified*; `--regions` overrides discovery entirely.

use serde::Serialize;

use crate::aws::{ApiFailure, FailureKind};
use crate::error::{Error, Result};

/// Whether `r` follows the region grammar of the AWS partitions: a geography (`us`, `eu`,
/// `ap`, `sa`, `ca`, `me`, `af`, `il`, `mx`, `cn`, `eusc`), optional qualifiers (`gov`, `iso`,
/// `isob`, `isof`, `isoe`, or a two-letter country as in `eusc-de-east-1`), a direction
/// (`north`, `south`, `east`, `west`, `central` and the four diagonals), and a number 1-99.
/// `us-east-1`, `us-gov-west-1`, `cn-northwest-1` and `us-isob-east-1` are; `us-east1`,
/// `xx-fake-9` and `US-EAST-1` are not.
pub fn is_region_name(r: &str) -> bool {
    const GEOS: [&str; 11] = [
        "us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn", "eusc",
    ];
    const QUALIFIERS: [&str; 5] = ["gov", "iso", "isob", "isof", "isoe"];
    const DIRECTIONS: [&str; 9] = [
        "north",
        "south",
        "east",
        "west",
        "central",
        "northeast",
        "northwest",
        "southeast",
        "southwest",
    ];
    let parts: Vec<&str> = r.split('-').collect();
    let [geo, middle @ .., direction, number] = parts.as_slice() else {
        return false;
    };
    GEOS.contains(geo)
        && middle.len() <= 2
        && middle.iter().all(|q| {
            QUALIFIERS.contains(q) || (q.len() == 2 && q.bytes().all(|b| b.is_ascii_lowercase()))
        })
        && DIRECTIONS.contains(direction)
        && !number.is_empty()
        && number.len() <= 2
        && !number.starts_with('0')
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// A region name must follow the partitions' grammar ([`is_region_name`]). This catches typos
/// such as `us-east1` early.
pub fn validate(r: &str) -> Result<()> {
    if is_region_name(r) {
        Ok(())
    } else {
        Err(Error::usage(format!("'{r}' is not a region name")))
    }
}

/// Validates every region of a list.
pub fn validate_all(list: Option<&[String]>) -> Result<()> {
    list.into_iter().flatten().try_for_each(|r| validate(r))
}

/// A region's opt-in state as far as we know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptStatus {
    /// Enabled by default; cannot be disabled.
    EnabledByDefault,
    /// An opt-in region that the account enabled.
    Enabled,
    /// Being enabled: in scope, but a multi-region trail's copy may not exist yet.
    Enabling,
    /// Being disabled: in scope until it finishes.
    Disabling,
    /// Not enabled: out of scope.
    Disabled,
    /// Named with `--regions`, or assumed from the built-in list.
    Unknown,
}

impl OptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OptStatus::EnabledByDefault => "enabled_by_default",
            OptStatus::Enabled => "enabled",
            OptStatus::Enabling => "enabling",
            OptStatus::Disabling => "disabling",
            OptStatus::Disabled => "disabled",
            OptStatus::Unknown => "unknown",
        }
    }

    pub fn from_list_regions(s: &str) -> Self {
        match s {
            "ENABLED_BY_DEFAULT" => OptStatus::EnabledByDefault,
            "ENABLED" => OptStatus::Enabled,
            "ENABLING" => OptStatus::Enabling,
            "DISABLING" => OptStatus::Disabling,
            "DISABLED" => OptStatus::Disabled,
            _ => OptStatus::Unknown,
        }
    }

    /// In scope: every state but `Disabled`.
    pub fn in_scope(self) -> bool {
        self != OptStatus::Disabled
    }

    pub fn is_transitional(self) -> bool {
        matches!(self, OptStatus::Enabling | OptStatus::Disabling)
    }
}

/// Where the region scope came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionSource {
    /// `account:ListRegions`.
    ListRegions,
    /// `--regions`.
    Flag,
    /// The partition's default-enabled regions, because discovery failed: opt-in regions the
    /// account may have enabled are not known.
    BuiltinUnverified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopedRegion {
    pub name: String,
    pub status: OptStatus,
}

/// The regions to cover, the ones left out and why, and how the scope was determined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionScope {
    pub source: RegionSource,
    pub in_scope: Vec<ScopedRegion>,
    /// Not enabled (`not-opted-in` / `DISABLED`): listed, not checked.
    pub not_enabled: Vec<String>,
    /// Removed with `--exclude-regions`.
    pub excluded: Vec<String>,
    /// Why discovery fell back to the built-in list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_failure: Option<ApiFailure>,
}

impl RegionScope {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.in_scope.iter().map(|r| r.name.as_str())
    }
}

/// The partition of a region name.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-iso") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The region where a partition records global-service events (IAM, STS global endpoint,
/// CloudFront, Route 53, sign-in).
pub fn global_region(partition: &str) -> &'static str {
    match partition {
        "aws-us-gov" => "us-gov-west-1",
        "aws-cn" => "cn-north-1",
        _ => "us-east-1",
    }
}

/// Regions enabled by default (no opt-in) per partition, used only when discovery fails.
pub fn default_enabled_regions(partition: &str) -> &'static [&'static str] {
    match partition {
        "aws-us-gov" => &["us-gov-east-1", "us-gov-west-1"],
        "aws-cn" => &["cn-north-1", "cn-northwest-1"],
        _ => &[
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    }
}

/// Builds the scope from `--regions`.
pub fn from_flag(regions: &[String], exclude: &[String]) -> RegionScope {
    let mut names: Vec<String> = regions.to_vec();
    names.sort();
    names.dedup();
    finish(
        RegionSource::Flag,
        names.into_iter().map(|n| (n, OptStatus::Unknown)).collect(),
        exclude,
        None,
    )
}

/// Builds the scope from `ListRegions` results: (region, opt status string).
pub fn from_list_regions(listed: Vec<(String, String)>, exclude: &[String]) -> RegionScope {
    let all = listed
        .into_iter()
        .map(|(n, s)| (n, OptStatus::from_list_regions(&s)))
        .collect();
    finish(RegionSource::ListRegions, all, exclude, None)
}

/// Builds the fallback scope for a partition after discovery failed.
pub fn builtin(partition: &str, exclude: &[String], failure: ApiFailure) -> RegionScope {
    let all = default_enabled_regions(partition)
        .iter()
        .map(|n| (n.to_string(), OptStatus::Unknown))
        .collect();
    finish(RegionSource::BuiltinUnverified, all, exclude, Some(failure))
}

fn finish(
    source: RegionSource,
    mut all: Vec<(String, OptStatus)>,
    exclude: &[String],
    discovery_failure: Option<ApiFailure>,
) -> RegionScope {
    all.sort();
    let mut scope = RegionScope {
        source,
        in_scope: Vec::new(),
        not_enabled: Vec::new(),
        excluded: Vec::new(),
        discovery_failure,
    };
    for (name, status) in all {
        if exclude.contains(&name) {
            scope.excluded.push(name);
        } else if status.in_scope() {
            scope.in_scope.push(ScopedRegion { name, status });
        } else {
            scope.not_enabled.push(name);
        }
    }
    scope
}

/// Discovers the enabled regions with `account:ListRegions` (all pages), falling back to the
/// built-in list for `partition` when the call fails.
pub async fn discover(
    client: &aws_sdk_account::Client,
    partition: &str,
    exclude: &[String],
) -> RegionScope {
    let mut listed = Vec::new();
    let mut pages = client.list_regions().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for r in page.regions() {
                    if let Some(name) = r.region_name() {
                        let status = r
                            .region_opt_status()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default();
                        // ListRegions is per partition already; keep only this partition's.
                        if partition_of_region(name) == partition {
                            listed.push((name.to_owned(), status));
                        }
                    }
                }
            }
            Err(err) => {
                let failure = ApiFailure::from_sdk("account:ListRegions", None, &err);
                tracing::warn!(error = %failure.summary(), "Region discovery failed; falling back to the default-enabled regions.");
                return builtin(partition, exclude, failure);
            }
        }
    }
    if listed.is_empty() {
        let failure = ApiFailure::new(
            "account:ListRegions",
            None,
            FailureKind::Service,
            "ListRegions returned no regions for this partition",
        );
        return builtin(partition, exclude, failure);
    }
    from_list_regions(listed, exclude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_grammar_is_the_partitions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "ap-southeast-5",
            "il-central-1",
            "mx-central-1",
            "us-isob-east-1",
            "eusc-de-east-1",
            "ca-west-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "xx-fake-9",
            "us-east1",
            "US-EAST-1",
            "us-east-0",
            "us-east-100",
            "sagov-westsouth-1",
            "us-east-1a",
            "eu--west-1",
            "",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn list_regions_scope() {
        let listed = vec![
            ("us-east-1".into(), "ENABLED_BY_DEFAULT".into()),
            ("ap-east-1".into(), "ENABLED".into()),
            ("me-central-1".into(), "ENABLING".into()),
            ("af-south-1".into(), "DISABLED".into()),
            ("eu-west-1".into(), "ENABLED_BY_DEFAULT".into()),
        ];
        let s = from_list_regions(listed, &["eu-west-1".into()]);
        assert_eq!(s.source, RegionSource::ListRegions);
        assert_eq!(
            s.names().collect::<Vec<_>>(),
            ["ap-east-1", "me-central-1", "us-east-1"]
        );
        assert_eq!(s.not_enabled, ["af-south-1"]);
        assert_eq!(s.excluded, ["eu-west-1"]);
        assert!(
            s.in_scope
                .iter()
                .any(|r| r.name == "me-central-1" && r.status.is_transitional())
        );
    }

    #[test]
    fn partitions() {
        for (region, partition, global) in [
            ("eu-west-1", "aws", "us-east-1"),
            ("us-gov-east-1", "aws-us-gov", "us-gov-west-1"),
            ("cn-northwest-1", "aws-cn", "cn-north-1"),
        ] {
            assert_eq!(partition_of_region(region), partition, "{region}");
            assert_eq!(global_region(partition), global, "{partition}");
            assert!(
                default_enabled_regions(partition).contains(&global),
                "{partition}"
            );
        }
        assert_eq!(default_enabled_regions("aws").len(), 17);
    }

    #[test]
    fn builtin_is_marked_unverified() {
        let f = ApiFailure::new(
            "account:ListRegions",
            None,
            FailureKind::AccessDenied,
            "denied",
        );
        let s = builtin("aws", &[], f);
        assert_eq!(s.source, RegionSource::BuiltinUnverified);
        assert_eq!(s.in_scope.len(), 17);
        assert!(s.discovery_failure.is_some());
    }
}
