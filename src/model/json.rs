//! A compact, lossless JSON value for the nested maps a kept CloudTrail record carries
//! (`userIdentity`, `requestParameters`, `responseElements`, `additionalEventData`).
//!
//! `serde_json::Value` keeps an object in a `BTreeMap`, whose first node holds room for
//! eleven members whatever the object's size: about 640 bytes for a two-member
//! `sessionContext`. An audit keeps tens of millions of such maps in memory at once, so
//! here an object is one boxed slice of its members, sorted by key exactly as a
//! `BTreeMap` sorts them: the same members, the same order when written back, binary
//! search to read, and nothing held beyond what the record said. Member names repeat from
//! record to record (`sessionContext`, `x-amz-server-side-encryption`, …), so each is held
//! once and shared ([`Name`]).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Number;

/// An object member's name, shared by every object that uses it.
pub type Name = Arc<str>;

/// How many distinct names each thread shares; past that a name is held by its object
/// alone, so input made of ever new names costs what it would unshared, never more.
const NAMES_SHARED: usize = 4096;

thread_local! {
    static NAMES: RefCell<HashSet<Name>> = RefCell::new(HashSet::new());
}

fn name(key: &str) -> Name {
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(shared) = names.get(key) {
            return shared.clone();
        }
        let name = Name::from(key);
        if names.len() < NAMES_SHARED {
            names.insert(name.clone());
        }
        name
    })
}

/// One JSON value. Objects have unique keys, sorted (byte order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Box<str>),
    Array(Box<[Json]>),
    Object(Box<[(Name, Json)]>),
}

impl Json {
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(Name, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The member named exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        let members = self.as_object()?;
        members
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &members[i].1)
    }

    /// The member named `key`, else the first (in key order) whose name equals it ignoring
    /// ASCII case.
    pub fn get_ignore_case(&self, key: &str) -> Option<&Json> {
        let members = self.as_object()?;
        position_ignore_case(members, key).map(|i| &members[i].1)
    }

    /// Removes and returns the member [`Json::get_ignore_case`] would return.
    pub fn take_ignore_case(self, key: &str) -> Option<Json> {
        let Json::Object(members) = self else {
            return None;
        };
        let mut members = members.into_vec();
        let i = position_ignore_case(&members, key)?;
        Some(members.swap_remove(i).1)
    }

    /// A `/`-separated path from the root (`/sessionContext/sessionIssuer/arn`), names matched
    /// exactly. Unlike a JSON Pointer it has no `~` escapes: a name holding `/` is not reached.
    pub fn pointer(&self, pointer: &str) -> Option<&Json> {
        pointer
            .strip_prefix('/')?
            .split('/')
            .try_fold(self, |cur, seg| cur.get(seg))
    }

    /// An object from members in any order; `Err` names a repeated key.
    fn object(mut members: Vec<(Name, Json)>) -> Result<Json, String> {
        members.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = members.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("duplicate key {:?}", pair[0].0));
        }
        Ok(Json::Object(members.into_boxed_slice()))
    }
}

/// Where [`Json::get_ignore_case`] finds `key`: the exact name, else the first ignoring case.
fn position_ignore_case(members: &[(Name, Json)], key: &str) -> Option<usize> {
    members
        .binary_search_by(|(k, _)| k.as_ref().cmp(key))
        .ok()
        .or_else(|| {
            members
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(key))
        })
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => items.serialize(s),
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members.iter() {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom(format!("{n} is not a JSON number")))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.into()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s.into_boxed_str()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items.into_boxed_slice()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            members.push((name(&k), v));
        }
        Json::object(members).map_err(de::Error::custom)
    }
}

impl From<serde_json::Value> for Json {
    fn from(v: serde_json::Value) -> Json {
        use serde_json::Value;
        match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(s.into_boxed_str()),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            // A map's keys are unique and already in order.
            Value::Object(map) => Json::Object(
                map.into_iter()
                    .map(|(k, v)| (name(&k), Json::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_writes_back_what_it_read_in_the_order_serde_json_does() {
        let text = r#"{"b":[1,-2,2.5,true,null,"x"],"a":{"z":{},"Y":"y"},"":""}"#;
        let compact: Json = serde_json::from_str(text).unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&compact).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
        assert_eq!(Json::from(value.clone()), compact);
        assert_eq!(serde_json::from_value::<Json>(value).unwrap(), compact);
        assert_eq!(
            compact.to_string(),
            r#"{"":"","a":{"Y":"y","z":{}},"b":[1,-2,2.5,true,null,"x"]}"#
        );
    }

    #[test]
    fn names_are_shared_between_objects() {
        let a: Json = serde_json::from_str(r#"{"sessionContext":1}"#).unwrap();
        let b = Json::from(json!({"sessionContext": 2}));
        let (Json::Object(a), Json::Object(b)) = (a, b) else {
            panic!("objects")
        };
        assert!(Arc::ptr_eq(&a[0].0, &b[0].0));
    }

    #[test]
    fn a_repeated_key_is_an_error_not_a_choice() {
        let err = serde_json::from_str::<Json>(r#"{"k":1,"j":0,"k":2}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key \"k\""), "{err}");
    }

    #[test]
    fn members_are_found_exactly_then_ignoring_case() {
        let v = Json::from(json!({"Key": 1, "key": 2, "KEYS": 3, "s": {"t": "u"}}));
        assert_eq!(v.get("key"), Some(&Json::Number(2.into())));
        assert_eq!(v.get("KEY"), None);
        // Case-insensitively, the first in key order ("Key" < "key").
        assert_eq!(v.get_ignore_case("KEY"), Some(&Json::Number(1.into())));
        assert_eq!(v.pointer("/s/t").and_then(Json::as_str), Some("u"));
        assert_eq!(v.pointer("s/t"), None);
        assert_eq!(
            v.clone().take_ignore_case("kEy"),
            Some(Json::Number(1.into()))
        );
        assert_eq!(Json::Null.get("key"), None);
    }
}
