//! Gap rows: every kind in one enum with its category, and the one place a row is made.
//!
//! A new kind of gap is a variant of [`GapKind`] (its name in `gaps.parquet` and its
//! category), one rule in `coverage::evaluate` or the finding that raises it, and a test.

use serde::{Serialize, Serializer};

/// Gap categories (the `category` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    MgmtRead,
    MgmtWrite,
    Global,
    Delivery,
    Integrity,
    /// A canary probe (`--canary`) that was not delivered as it should have been.
    Canary,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::MgmtRead => "mgmt_read",
            Category::MgmtWrite => "mgmt_write",
            Category::Global => "global",
            Category::Delivery => "delivery",
            Category::Integrity => "integrity",
            Category::Canary => "canary",
        }
    }
}

/// Gap kinds (the `kind` column), each with its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GapKind {
    /// No read management event in the window (`mgmt_read/no_events`).
    NoReadEvents,
    /// No write management event in the window (`mgmt_write/no_events`).
    NoWriteEvents,
    /// No global-service event in the global region (`global/no_events`).
    NoGlobalEvents,
    /// A run of silent hours at least `--max-silence` long.
    NoLogFiles,
    /// An object could not be read: its cells are unknown.
    ObjectUnreadable,
    /// Non-global events claiming another region than the one that delivered them.
    RegionMismatch,
    /// Events delivered later than `--late-after`.
    LateDelivery,
    /// Events dated after the delivery stamp of the file that holds them: CloudTrail cannot
    /// deliver an event before it happens, so they prove nothing.
    EventAfterDelivery,
    /// Listing a prefix failed: what it holds is unknown.
    ListFailed,
    /// No digest vouches for this time (log file validation off, or a digest deleted).
    NoDigest,
    /// A log file a valid digest lists is not in the bucket.
    LogMissing,
    /// A log file delivered in a digest's window that no digest lists.
    LogUnlisted,
    /// A log file's content differs from what its digest lists.
    HashMismatch,
    /// A digest failed its checks (signature, location, links, algorithms, format).
    DigestInvalid,
    /// A digest could not be read or verified: what it vouches for is unknown.
    DigestUnverified,
    /// A canary probe not found in the delivered logs after its timeout.
    CanaryNotDelivered,
    /// A canary probe delivered after its timeout.
    CanaryLate,
    /// A canary probe delivered in another region's log files.
    CanaryRegionMismatch,
    /// A canary probe not delivered yet, within its timeout: unknown.
    CanaryPending,
    /// A canary call that failed: nothing is known of it.
    CanaryNotSent,
}

impl GapKind {
    /// Every kind.
    pub const ALL: [GapKind; 20] = [
        GapKind::NoReadEvents,
        GapKind::NoWriteEvents,
        GapKind::NoGlobalEvents,
        GapKind::NoLogFiles,
        GapKind::ObjectUnreadable,
        GapKind::RegionMismatch,
        GapKind::LateDelivery,
        GapKind::EventAfterDelivery,
        GapKind::ListFailed,
        GapKind::NoDigest,
        GapKind::LogMissing,
        GapKind::LogUnlisted,
        GapKind::HashMismatch,
        GapKind::DigestInvalid,
        GapKind::DigestUnverified,
        GapKind::CanaryNotDelivered,
        GapKind::CanaryLate,
        GapKind::CanaryRegionMismatch,
        GapKind::CanaryPending,
        GapKind::CanaryNotSent,
    ];

    /// The kind of a row read back: its `category` and `kind` columns.
    pub fn from_names(category: &str, kind: &str) -> Option<GapKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.category().as_str() == category && k.as_str() == kind)
    }

    /// Kinds that make coverage unknown rather than a gap.
    pub const UNKNOWN: [GapKind; 5] = [
        GapKind::ObjectUnreadable,
        GapKind::ListFailed,
        GapKind::DigestUnverified,
        GapKind::CanaryPending,
        GapKind::CanaryNotSent,
    ];

    /// Whether this kind makes coverage unknown rather than a gap.
    pub fn is_unknown(self) -> bool {
        Self::UNKNOWN.contains(&self)
    }

    /// Whether the `kind` column value `name` is one of [`GapKind::UNKNOWN`].
    pub fn name_is_unknown(name: &str) -> bool {
        Self::UNKNOWN.iter().any(|k| k.as_str() == name)
    }

    /// The `category` column.
    pub fn category(self) -> Category {
        match self {
            GapKind::NoReadEvents => Category::MgmtRead,
            GapKind::NoWriteEvents => Category::MgmtWrite,
            GapKind::NoGlobalEvents => Category::Global,
            GapKind::NoLogFiles
            | GapKind::ObjectUnreadable
            | GapKind::LateDelivery
            | GapKind::ListFailed => Category::Delivery,
            GapKind::RegionMismatch
            | GapKind::EventAfterDelivery
            | GapKind::NoDigest
            | GapKind::LogMissing
            | GapKind::LogUnlisted
            | GapKind::HashMismatch
            | GapKind::DigestInvalid
            | GapKind::DigestUnverified => Category::Integrity,
            GapKind::CanaryNotDelivered
            | GapKind::CanaryLate
            | GapKind::CanaryRegionMismatch
            | GapKind::CanaryPending
            | GapKind::CanaryNotSent => Category::Canary,
        }
    }

    /// The `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::NoReadEvents | GapKind::NoWriteEvents | GapKind::NoGlobalEvents => "no_events",
            GapKind::NoLogFiles => "no_log_files",
            GapKind::ObjectUnreadable => "object_unreadable",
            GapKind::RegionMismatch | GapKind::CanaryRegionMismatch => "region_mismatch",
            GapKind::LateDelivery => "late_delivery",
            GapKind::EventAfterDelivery => "event_after_delivery",
            GapKind::ListFailed => "list_failed",
            GapKind::NoDigest => "no_digest",
            GapKind::LogMissing => "log_missing",
            GapKind::LogUnlisted => "log_unlisted",
            GapKind::HashMismatch => "hash_mismatch",
            GapKind::DigestInvalid => "digest_invalid",
            GapKind::DigestUnverified => "digest_unverified",
            GapKind::CanaryNotDelivered => "not_delivered",
            GapKind::CanaryLate => "late",
            GapKind::CanaryPending => "pending",
            GapKind::CanaryNotSent => "not_sent",
        }
    }
}

impl Serialize for GapKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One row of `gaps.parquet`. Made only here ([`Gap::new`], [`Gap::of_object`]): the private
/// field keeps struct literals out of every other module (`#[non_exhaustive]` would only keep
/// them out of other crates).
#[allow(clippy::manual_non_exhaustive)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub account_id: String,
    pub region: String,
    pub category: Category,
    pub kind: GapKind,
    /// Epoch seconds, inclusive.
    pub start: i64,
    /// Epoch seconds, exclusive.
    pub end: i64,
    pub detail: String,
    /// Keeps rows from being built anywhere but here.
    #[serde(skip)]
    made_here: (),
}

impl Gap {
    /// A gap of `kind` over `[start, end)`; the category follows from the kind.
    pub fn new(
        account_id: impl Into<String>,
        region: impl Into<String>,
        kind: GapKind,
        (start, end): (i64, i64),
        detail: impl Into<String>,
    ) -> Self {
        Gap {
            account_id: account_id.into(),
            region: region.into(),
            category: kind.category(),
            kind,
            start,
            end,
            detail: detail.into(),
            made_here: (),
        }
    }

    /// A finding about one delivered object: it covers the hour before its delivery stamp.
    pub fn of_object(
        account_id: &str,
        region: &str,
        delivered_at: i64,
        kind: GapKind,
        detail: impl Into<String>,
    ) -> Self {
        Gap::new(
            account_id,
            region,
            kind,
            (delivered_at - crate::time::HOUR, delivered_at),
            detail,
        )
    }
}

/// The order of `gaps.parquet`: account, region, start, category, kind (then end and detail).
pub fn sort(gaps: &mut [Gap]) {
    gaps.sort_by(|a, b| {
        // Total: rows come from workers in any order, and the table must not depend on it.
        (
            &a.account_id,
            &a.region,
            a.start,
            a.category,
            a.kind,
            a.end,
            &a.detail,
        )
            .cmp(&(
                &b.account_id,
                &b.region,
                b.start,
                b.category,
                b.kind,
                b.end,
                &b.detail,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_category_and_name() {
        let g = Gap::of_object("1", "r", 7_200, GapKind::HashMismatch, "x");
        assert_eq!((g.start, g.end), (3_600, 7_200));
        assert_eq!(g.category, Category::Integrity);
        for (kind, cat, name) in [
            (GapKind::NoReadEvents, "mgmt_read", "no_events"),
            (GapKind::NoWriteEvents, "mgmt_write", "no_events"),
            (GapKind::NoGlobalEvents, "global", "no_events"),
            (GapKind::ObjectUnreadable, "delivery", "object_unreadable"),
            (GapKind::RegionMismatch, "integrity", "region_mismatch"),
        ] {
            assert_eq!((kind.category().as_str(), kind.as_str()), (cat, name));
        }
        assert_eq!(
            serde_json::to_value(GapKind::NoWriteEvents).unwrap(),
            serde_json::json!("no_events")
        );
        // Every kind is read back from its two columns, and only from them.
        for k in GapKind::ALL {
            assert_eq!(
                GapKind::from_names(k.category().as_str(), k.as_str()),
                Some(k)
            );
        }
        assert_eq!(GapKind::from_names("global", "no_log_files"), None);
    }
}
