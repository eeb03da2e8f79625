//! One CloudTrail record, projected to the fields coverage needs, and what it counts as.
//!
//! Strings borrow from the decode buffer unless the parser had to unescape them. A missing
//! optional field stays `None` and is counted as unknown downstream, never guessed.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// `readOnly` and `managementEvent` are booleans, but some producers write `"true"`. A
/// visitor (not an untagged enum, which buffers) keeps this on the fast path.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct Flag;
    impl<'de> serde::de::Visitor<'de> for Flag {
        type Value = Option<bool>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a boolean, \"true\" or \"false\"")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(if v.eq_ignore_ascii_case("true") {
                Some(true)
            } else if v.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            })
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Flag)
        }
    }
    d.deserialize_option(Flag)
}

/// `userIdentity`, projected.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<Cow<'a, str>>,
}

/// One record, projected to the fields coverage needs; strings borrow from the buffer unless
/// the parser had to unescape them.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow)]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(deserialize_with = "flag")]
    pub read_only: Option<bool>,
    #[serde(deserialize_with = "flag")]
    pub management_event: Option<bool>,
    #[serde(borrow)]
    pub event_category: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
    /// Where the record lies in the document (`[start, end)` bytes) when the extractor read
    /// it; `None` from the full parsers. Lets a rare record be read whole without a second
    /// pass over the document.
    #[serde(skip)]
    pub span: Option<(usize, usize)>,
}

/// What an event counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClass {
    ManagementRead,
    ManagementWrite,
    /// A management event whose `readOnly` is absent.
    ManagementUnknown,
    Data,
    /// Insight, network activity, or no category information at all.
    Other,
}

impl Record<'_> {
    /// Classifies by `eventCategory`, else `managementEvent`, else (records written before
    /// CloudTrail added either field, `eventVersion` 1.05 and earlier) by [`legacy_class`];
    /// `readOnly` decides read or write and is never guessed.
    pub fn class(&self) -> EventClass {
        let management = match (self.event_category.as_deref(), self.management_event) {
            (Some("Management"), _) => true,
            (Some("Data"), _) => return EventClass::Data,
            (Some(_), _) => return EventClass::Other,
            (None, Some(m)) => m,
            (None, None) => match legacy_class(
                self.event_type.as_deref(),
                self.event_source.as_deref(),
                self.event_name.as_deref(),
            ) {
                Legacy::Management => true,
                Legacy::Data => return EventClass::Data,
                Legacy::Other => return EventClass::Other,
            },
        };
        if !management {
            return EventClass::Other;
        }
        match self.read_only {
            Some(true) => EventClass::ManagementRead,
            Some(false) => EventClass::ManagementWrite,
            None => EventClass::ManagementUnknown,
        }
    }
}

/// What a record without `eventCategory` and `managementEvent` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Management,
    Data,
    Other,
}

/// The rule for records with neither `eventCategory` nor `managementEvent`: API calls, console
/// actions and console sign-ins are management events, unless the call is a data-event
/// operation (S3 object-level calls, Lambda `Invoke`, DynamoDB item-level calls); anything
/// else (service events, records without `eventType`) is other.
pub fn legacy_class(event_type: Option<&str>, source: Option<&str>, name: Option<&str>) -> Legacy {
    let call = match event_type {
        Some(t) if t == "AwsApiCall" || t == "AwsConsoleAction" => true,
        // CloudTrail has written both spellings.
        Some(t) if t.eq_ignore_ascii_case("AwsConsoleSignIn") => true,
        _ => false,
    };
    if !call {
        return Legacy::Other;
    }
    if is_data_operation(source.unwrap_or(""), name.unwrap_or("")) {
        Legacy::Data
    } else {
        Legacy::Management
    }
}

/// S3 object-level operations (CloudTrail's S3 data events).
const S3_OBJECT_OPERATIONS: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateMultipartUpload",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjects",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "HeadObject",
    "ListParts",
    "PostObject",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "RestoreObject",
    "SelectObjectContent",
    "UploadPart",
    "UploadPartCopy",
];

/// DynamoDB item-level operations (CloudTrail's DynamoDB data events).
const DYNAMODB_ITEM_OPERATIONS: &[&str] = &[
    "BatchExecuteStatement",
    "BatchGetItem",
    "BatchWriteItem",
    "DeleteItem",
    "ExecuteStatement",
    "ExecuteTransaction",
    "GetItem",
    "PutItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "TransactWriteItems",
    "UpdateItem",
];

/// Whether an API call is a data-event operation rather than a management event.
pub fn is_data_operation(source: &str, name: &str) -> bool {
    match source {
        "s3.amazonaws.com" => S3_OBJECT_OPERATIONS.contains(&name),
        "lambda.amazonaws.com" => name == "Invoke" || name.starts_with("Invoke"),
        "dynamodb.amazonaws.com" => DYNAMODB_ITEM_OPERATIONS.contains(&name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy<'a>(
        version: &'a str,
        ty: Option<&'a str>,
        source: &'a str,
        name: &'a str,
        ro: Option<bool>,
    ) -> Record<'a> {
        let _ = version; // eventVersion is not consulted: only the fields present decide.
        Record {
            event_type: ty.map(Into::into),
            event_source: Some(source.into()),
            event_name: Some(name.into()),
            read_only: ro,
            ..Default::default()
        }
    }

    #[test]
    fn legacy_records_are_classified_by_the_documented_rule() {
        let cases = [
            // eventVersion 1.02-1.05 API calls, with and without readOnly.
            (
                legacy(
                    "1.02",
                    Some("AwsApiCall"),
                    "kms.amazonaws.com",
                    "ListKeys",
                    Some(true),
                ),
                EventClass::ManagementRead,
            ),
            (
                legacy(
                    "1.03",
                    Some("AwsApiCall"),
                    "ec2.amazonaws.com",
                    "RunInstances",
                    Some(false),
                ),
                EventClass::ManagementWrite,
            ),
            (
                legacy(
                    "1.05",
                    Some("AwsApiCall"),
                    "ec2.amazonaws.com",
                    "DescribeVpcs",
                    None,
                ),
                EventClass::ManagementUnknown,
            ),
            // A legacy S3 object-level call and a Lambda invocation are data events.
            (
                legacy(
                    "1.04",
                    Some("AwsApiCall"),
                    "s3.amazonaws.com",
                    "GetObject",
                    Some(true),
                ),
                EventClass::Data,
            ),
            (
                legacy(
                    "1.05",
                    Some("AwsApiCall"),
                    "lambda.amazonaws.com",
                    "Invoke",
                    Some(false),
                ),
                EventClass::Data,
            ),
            // A bucket-level S3 call stays management.
            (
                legacy(
                    "1.05",
                    Some("AwsApiCall"),
                    "s3.amazonaws.com",
                    "PutBucketPolicy",
                    Some(false),
                ),
                EventClass::ManagementWrite,
            ),
            // Console sign-ins (both spellings) and console actions.
            (
                legacy(
                    "1.02",
                    Some("AwsConsoleSignIn"),
                    "signin.amazonaws.com",
                    "ConsoleLogin",
                    Some(false),
                ),
                EventClass::ManagementWrite,
            ),
            (
                legacy(
                    "1.05",
                    Some("AwsConsoleSignin"),
                    "signin.amazonaws.com",
                    "ConsoleLogin",
                    None,
                ),
                EventClass::ManagementUnknown,
            ),
            (
                legacy(
                    "1.05",
                    Some("AwsConsoleAction"),
                    "s3.amazonaws.com",
                    "ConsoleBrowse",
                    Some(true),
                ),
                EventClass::ManagementRead,
            ),
            // Service events and records without eventType are not management events.
            (
                legacy(
                    "1.05",
                    Some("AwsServiceEvent"),
                    "kms.amazonaws.com",
                    "RotateKey",
                    Some(false),
                ),
                EventClass::Other,
            ),
            (
                legacy(
                    "1.05",
                    None,
                    "ec2.amazonaws.com",
                    "RunInstances",
                    Some(false),
                ),
                EventClass::Other,
            ),
        ];
        for (r, want) in cases {
            assert_eq!(r.class(), want, "{r:?}");
        }
        // Either field present decides as before: managementEvent false is not management.
        let mut r = legacy(
            "1.06",
            Some("AwsApiCall"),
            "ec2.amazonaws.com",
            "RunInstances",
            Some(false),
        );
        r.management_event = Some(false);
        assert_eq!(r.class(), EventClass::Other);
        r.event_category = Some("Management".into());
        assert_eq!(r.class(), EventClass::ManagementWrite);
    }
}
