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
    /// Classifies by `eventCategory`, else `managementEvent`; never guesses.
    pub fn class(&self) -> EventClass {
        let management = match self.event_category.as_deref() {
            Some("Management") => true,
            Some("Data") => return EventClass::Data,
            Some(_) => return EventClass::Other,
            None => self.management_event == Some(true),
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
