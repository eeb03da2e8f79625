//! Whole records, for the rare events a report shows in full (trail changes), when the
//! extractor declined the document and gave no byte spans: a second, targeted pass over it,
//! materializing only the records asked for.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The records at `wanted` (ascending indices into `Records`), as JSON values, in order.
pub fn records_at(data: &[u8], wanted: &[usize]) -> Result<Vec<serde_json::Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let out = (&mut de)
        .deserialize_map(Envelope { wanted })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(out)
}

struct Envelope<'w> {
    wanted: &'w [usize],
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = Vec<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a Records array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" && out.is_none() {
                out = Some(map.next_value_seed(Records {
                    wanted: self.wanted,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        out.ok_or_else(|| serde::de::Error::missing_field("Records"))
    }
}

struct Records<'w> {
    wanted: &'w [usize],
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = Vec<serde_json::Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = Vec<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.wanted.len());
        let mut next = self.wanted.iter().peekable();
        let mut i = 0usize;
        loop {
            if next.peek().is_some_and(|w| **w == i) {
                next.next();
                match seq.next_element::<serde_json::Value>()? {
                    Some(v) => out.push(v),
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_wanted_records_are_built() {
        let doc = br#"{"x":1,"Records":[{"a":0},{"a":1},{"a":2,"b":{"c":[1]}},{"a":3}]}"#;
        let v = records_at(doc, &[1, 2]).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["a"], 1);
        assert_eq!(v[1]["b"]["c"][0], 1);
        assert!(records_at(doc, &[]).unwrap().is_empty());
        assert!(records_at(doc, &[9]).unwrap().is_empty());
        assert!(records_at(b"{\"Records\":[", &[0]).is_err());
    }
}
