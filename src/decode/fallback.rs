//! The fallback parser: serde_json over the buffer, records streamed one at a time to the
//! visitor. It builds no tape and holds no list of records, so parsing adds memory only for
//! the record at hand and the nesting depth, whatever the document (simd-json's tape needed
//! about seventeen times the input for a document of numbers).

use std::fmt;

use serde::Deserializer as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Record;

/// Parses `{"Records":[…]}` from `data`, calling `visit` for each record; the record count.
pub fn parse(data: &[u8], visit: &mut dyn FnMut(&Record<'_>)) -> Result<usize, String> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let n = (&mut de)
        .deserialize_map(Envelope { visit })
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(n)
}

struct Envelope<'v> {
    visit: &'v mut dyn FnMut(&Record<'_>),
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a Records array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut n = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" {
                if n.is_some() {
                    return Err(serde::de::Error::duplicate_field("Records"));
                }
                n = Some(map.next_value_seed(Records {
                    visit: &mut *self.visit,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        n.ok_or_else(|| serde::de::Error::missing_field("Records"))
    }
}

struct Records<'v> {
    visit: &'v mut dyn FnMut(&Record<'_>),
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(r) = seq.next_element::<Record<'de>>()? {
            (self.visit)(&r);
            n += 1;
        }
        Ok(n)
    }
}
