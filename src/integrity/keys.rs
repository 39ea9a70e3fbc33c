//! CloudTrail's digest-signing public keys: read, checked, and used to verify signatures.
//!
//! Keys come from `cloudtrail:ListPublicKeys`, live or as the JSON
//! `aws cloudtrail list-public-keys` prints, both reduced to [`PublicKeyInput`] so the
//! source's shape stops here. AWS documents the value as DER PKCS#1 and warns the encoding
//! may change; its own sample holds a SubjectPublicKeyInfo key too, so both are accepted.
//! A digest names its key by `digestPublicKeyFingerprint`, which is the hex MD5 of the key's
//! DER bytes (checked against the four keys the CloudTrail documentation and the AWS CLI
//! examples print). A key is trusted only when its value is a usable RSA key and its
//! fingerprint is the MD5 of that value: a mislabelled key is refused by name rather than
//! silently verifying, or failing to verify, the wrong digests.

use std::collections::BTreeMap;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};
use md5::Digest as _;
use serde_json::Value;

/// How far a digest's signing time may lie outside its key's validity period and still be
/// accepted: the signature is made after `digestEndTime`, with the key current at that
/// moment, so the two clocks do not match exactly.
pub const VALIDITY_MARGIN: Duration = Duration::hours(1);

/// One public key as a source delivered it, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInput {
    /// `Fingerprint`, as given.
    pub fingerprint: String,
    /// `Value`: the key's DER bytes (an SDK's decoded blob), or their base64 text.
    pub value: Vec<u8>,
    pub validity_start: Option<DateTime<Utc>>,
    pub validity_end: Option<DateTime<Utc>>,
    /// Where the key came from, for messages (`keys.json: PublicKeyList[2]`).
    pub origin: String,
}

/// How a trusted key's DER is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyEncoding {
    /// `RSAPublicKey` (RFC 8017), what the documentation describes.
    Pkcs1,
    /// `SubjectPublicKeyInfo` (RFC 5280), as in the documentation's own sample.
    Spki,
}

/// A key that can verify digests.
pub struct TrustedKey {
    pub fingerprint: String,
    pub encoding: KeyEncoding,
    pub validity_start: Option<DateTime<Utc>>,
    pub validity_end: Option<DateTime<Utc>>,
    pub origin: String,
    der: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("fingerprint", &self.fingerprint)
            .field("encoding", &self.encoding)
            .field("origin", &self.origin)
            .finish()
    }
}

impl TrustedKey {
    /// Whether `signature` is this key's RSA PKCS#1 v1.5 SHA-256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }

    /// Whether the key was valid at `t`, within [`VALIDITY_MARGIN`]; a bound the source
    /// did not give is not checked.
    pub fn valid_at(&self, t: DateTime<Utc>) -> bool {
        self.validity_start.is_none_or(|s| t >= s - VALIDITY_MARGIN)
            && self.validity_end.is_none_or(|e| t <= e + VALIDITY_MARGIN)
    }
}

/// A key that was not trusted, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectedKey {
    pub origin: String,
    pub fingerprint: String,
    pub reason: String,
}

/// The trusted keys by fingerprint (lowercase hex), and the ones refused.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: BTreeMap<String, TrustedKey>,
    pub rejected: Vec<RejectedKey>,
}

impl KeyRing {
    /// Checks every input. Two inputs with one fingerprint but different values or validity
    /// are a conflict: both are refused, never the first or last one kept.
    pub fn build(inputs: impl IntoIterator<Item = PublicKeyInput>) -> KeyRing {
        let mut ring = KeyRing::default();
        let mut conflicted = std::collections::BTreeSet::new();
        for input in inputs {
            let key = match trust(&input) {
                Ok(key) => key,
                Err(reason) => {
                    ring.rejected.push(RejectedKey {
                        origin: input.origin,
                        fingerprint: input.fingerprint,
                        reason,
                    });
                    continue;
                }
            };
            if conflicted.contains(&key.fingerprint) {
                ring.reject_conflict(&key, None);
                continue;
            }
            match ring.keys.get(&key.fingerprint) {
                None => {
                    ring.keys.insert(key.fingerprint.clone(), key);
                }
                Some(have)
                    if have.der == key.der
                        && have.validity_start == key.validity_start
                        && have.validity_end == key.validity_end => {}
                Some(_) => {
                    let have = ring.keys.remove(&key.fingerprint).expect("present");
                    conflicted.insert(key.fingerprint.clone());
                    ring.reject_conflict(&key, Some(&have));
                    ring.reject_conflict(&have, Some(&key));
                }
            }
        }
        ring
    }

    fn reject_conflict(&mut self, key: &TrustedKey, other: Option<&TrustedKey>) {
        let with = other.map_or_else(|| "an earlier entry".to_owned(), |o| o.origin.clone());
        self.rejected.push(RejectedKey {
            origin: key.origin.clone(),
            fingerprint: key.fingerprint.clone(),
            reason: format!("conflicts with {with}: same fingerprint, different key or validity"),
        });
    }

    /// The trusted key with this fingerprint (case-insensitive hex).
    pub fn get(&self, fingerprint: &str) -> Option<&TrustedKey> {
        self.keys.get(&fingerprint.to_ascii_lowercase())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The hex MD5 of a key's DER bytes: CloudTrail's fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(md5::Md5::digest(der))
}

fn trust(input: &PublicKeyInput) -> Result<TrustedKey, String> {
    let stated = input.fingerprint.trim().to_ascii_lowercase();
    if stated.len() != 32 || !stated.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "fingerprint {:?} is not 32 hex digits",
            input.fingerprint
        ));
    }
    // The value is DER (an SDK's decoded blob) or its base64 text (the JSON the AWS CLI
    // prints: the CLI leaves blobs as the wire's base64, `blob_parser=identity`); the
    // fingerprint says which.
    let mut candidates = vec![input.value.clone()];
    if let Ok(text) = std::str::from_utf8(&input.value)
        && let Ok(der) = BASE64.decode(text.trim())
    {
        candidates.push(der);
    }
    let Some(der) = candidates
        .into_iter()
        .find(|der| fingerprint(der) == stated)
    else {
        return Err(format!(
            "fingerprint {stated} is not the MD5 of the key's value: refusing a mislabelled key"
        ));
    };
    // SEQUENCE { SEQUENCE { OID … } … } versus SEQUENCE { INTEGER n, INTEGER e }.
    let encoding = if der_second_tag(&der) == Some(0x30) {
        KeyEncoding::Spki
    } else {
        KeyEncoding::Pkcs1
    };
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der)
        .map_err(|e| format!("not a usable RSA public key (2048 to 8192 bits): {e}"))?;
    Ok(TrustedKey {
        fingerprint: stated,
        encoding,
        validity_start: input.validity_start,
        validity_end: input.validity_end,
        origin: input.origin.clone(),
        der,
        parsed,
    })
}

/// The tag of the first element inside a DER SEQUENCE.
fn der_second_tag(der: &[u8]) -> Option<u8> {
    if *der.first()? != 0x30 {
        return None;
    }
    let len_byte = *der.get(1)?;
    let header = if len_byte < 0x80 {
        2
    } else {
        2 + usize::from(len_byte & 0x7f)
    };
    der.get(header).copied()
}

/// Why a keys file could not be read at all (a single bad entry only rejects that key).
#[derive(Debug, thiserror::Error)]
pub enum KeysFileError {
    #[error("{origin}: invalid JSON: {cause}")]
    Json {
        origin: String,
        cause: serde_json::Error,
    },
    #[error("{origin}: {reason}")]
    Shape { origin: String, reason: String },
}

/// Reads the JSON `aws cloudtrail list-public-keys` prints (`{"PublicKeyList": [...]}`;
/// the user guide's sample spells it `publicKeyList`). Times may be epoch seconds (AWS CLI
/// v1, as a number or a string) or RFC 3339 (AWS CLI v2). Entries that cannot be read
/// become inputs that [`KeyRing::build`] refuses by name, so nothing is dropped unseen.
pub fn parse_list_public_keys(
    bytes: &[u8],
    origin: &str,
) -> Result<Vec<PublicKeyInput>, KeysFileError> {
    let shape = |reason: String| KeysFileError::Shape {
        origin: origin.to_owned(),
        reason,
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|cause| KeysFileError::Json {
        origin: origin.to_owned(),
        cause,
    })?;
    let obj = doc
        .as_object()
        .ok_or_else(|| shape("not a JSON object".into()))?;
    let lists: Vec<&str> = ["PublicKeyList", "publicKeyList"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let [list_name] = lists[..] else {
        return Err(shape(if lists.is_empty() {
            "no PublicKeyList".into()
        } else {
            "both PublicKeyList and publicKeyList".into()
        }));
    };
    let list = obj[list_name]
        .as_array()
        .ok_or_else(|| shape(format!("{list_name} is not an array")))?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let origin = format!("{origin}: {list_name}[{i}]");
            let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
            PublicKeyInput {
                fingerprint: text("Fingerprint").to_owned(),
                value: text("Value").as_bytes().to_vec(),
                validity_start: entry.get("ValidityStartTime").and_then(json_time),
                validity_end: entry.get("ValidityEndTime").and_then(json_time),
                origin,
            }
        })
        .collect())
}

/// A time as the AWS CLI prints it: epoch seconds (number or string) or RFC 3339.
fn json_time(v: &Value) -> Option<DateTime<Utc>> {
    let epoch = |s: f64| DateTime::from_timestamp_millis((s * 1000.0).round() as i64);
    match v {
        Value::Number(n) => epoch(n.as_f64()?),
        Value::String(s) => match s.parse::<f64>() {
            Ok(secs) => epoch(secs),
            Err(_) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user guide's `list-public-keys` sample (two PKCS#1 keys and one SPKI key).
    const GUIDE_SAMPLE: &str = r#"{
    "publicKeyList": [
        {
            "ValidityStartTime": "1436317441.0",
            "ValidityEndTime": "1438909441.0",
            "Value": "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97mqyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5HuWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB",
            "Fingerprint": "8eba5db5bea9b640d1c96a77256fe7f2"
        },
        {
            "ValidityStartTime": "1434589460.0",
            "ValidityEndTime": "1437181460.0",
            "Value": "MIIBCgKCAQEApfYL2FiZhpN74LNWVUzhR+VheYhwhYm8w0n5Gf6i95ylW5kBAWKVEmnAQG7BvS5g9SMqFDQx52fW7NWV44IvfJ2xGXT+wT+DgR6ZQ+6yxskQNqV5YcXj4Aa5Zz4jJfsYjDuO2MDTZNIzNvBNzaBJ+r2WIWAJ/Xq54kyF63B6WE38vKuDE7nSd1FqQuEoNBFLPInvgggYe2Ym1Refe2z71wNcJ2kY+q0h1BSHrSM8RWuJIw7MXwF9iQncg9jYzUlNJomozQzAG5wSRfbplcCYNY40xvGd/aAmO0m+Y+XFMrKwtLCwseHPvj843qVno6x4BJN9bpWnoPo9sdsbGoiK3QIDAQAB",
            "Fingerprint": "8933b39ddc64d26d8e14ffbf6566fee4"
        },
        {
            "ValidityStartTime": "1434589370.0",
            "ValidityEndTime": "1437181370.0",
            "Value": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIUz78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPKmHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB",
            "Fingerprint": "31e8b5433410dfb61a9dc45cc65b22ff"
        }
    ]
}"#;

    #[test]
    fn the_documented_keys_are_trusted_with_md5_fingerprints() {
        let inputs = parse_list_public_keys(GUIDE_SAMPLE.as_bytes(), "guide.json").unwrap();
        let ring = KeyRing::build(inputs);
        assert!(ring.rejected.is_empty(), "{:?}", ring.rejected);
        assert_eq!(ring.len(), 3);
        assert_eq!(
            ring.get("8EBA5DB5BEA9B640D1C96A77256FE7F2")
                .unwrap()
                .encoding,
            KeyEncoding::Pkcs1
        );
        let spki = ring.get("31e8b5433410dfb61a9dc45cc65b22ff").unwrap();
        assert_eq!(spki.encoding, KeyEncoding::Spki);
        assert_eq!(
            spki.validity_start.unwrap().to_rfc3339(),
            "2015-06-18T01:02:50+00:00"
        );
    }

    #[test]
    fn cli_v2_times_and_sdk_blobs_are_read() {
        let doc = GUIDE_SAMPLE
            .replace("publicKeyList", "PublicKeyList")
            .replace("\"1436317441.0\"", "\"2015-07-08T01:04:01+00:00\"")
            .replace("\"1438909441.0\"", "1438909441.0");
        let inputs = parse_list_public_keys(doc.as_bytes(), "v2.json").unwrap();
        assert_eq!(inputs[0].validity_start.unwrap().timestamp(), 1436317441);
        assert_eq!(inputs[0].validity_end.unwrap().timestamp(), 1438909441);
        // An SDK answer gives the decoded DER bytes.
        let der = BASE64.decode(&inputs[1].value).unwrap();
        let sdk = PublicKeyInput {
            value: der,
            ..inputs[1].clone()
        };
        assert!(
            KeyRing::build([sdk])
                .get("8933b39ddc64d26d8e14ffbf6566fee4")
                .is_some()
        );
    }

    #[test]
    fn mislabelled_broken_and_conflicting_keys_are_refused_by_name() {
        let mut inputs = parse_list_public_keys(GUIDE_SAMPLE.as_bytes(), "k.json").unwrap();
        // Key 0's value under key 1's fingerprint.
        let mut swapped = inputs[0].clone();
        swapped.fingerprint = inputs[1].fingerprint.clone();
        swapped.origin = "swapped".into();
        // A value whose fingerprint matches but that is no RSA key.
        let garbage = b"not a key".to_vec();
        let broken = PublicKeyInput {
            fingerprint: fingerprint(&garbage),
            value: garbage,
            origin: "broken".into(),
            ..inputs[0].clone()
        };
        // Key 2 again with another validity.
        let mut later = inputs[2].clone();
        later.validity_end = None;
        later.origin = "later".into();
        inputs.extend([swapped, broken, later]);
        let ring = KeyRing::build(inputs);
        let reasons: BTreeMap<&str, &str> = ring
            .rejected
            .iter()
            .map(|r| (r.origin.as_str(), r.reason.as_str()))
            .collect();
        assert!(reasons["swapped"].contains("is not the MD5 of the key's value"));
        assert!(reasons["broken"].starts_with("not a usable RSA public key"));
        assert!(reasons["later"].starts_with("conflicts with k.json: publicKeyList[2]"));
        assert!(reasons["k.json: publicKeyList[2]"].starts_with("conflicts with later"));
        assert!(ring.get("31e8b5433410dfb61a9dc45cc65b22ff").is_none());
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn unreadable_files_are_errors_naming_the_file() {
        let err = parse_list_public_keys(b"[]", "keys.json").unwrap_err();
        assert_eq!(err.to_string(), "keys.json: not a JSON object");
        let err = parse_list_public_keys(b"{\"PublicKeyList\": 3}", "keys.json").unwrap_err();
        assert_eq!(err.to_string(), "keys.json: PublicKeyList is not an array");
        assert!(
            parse_list_public_keys(b"{", "keys.json")
                .unwrap_err()
                .to_string()
                .starts_with("keys.json: invalid JSON")
        );
    }

    #[test]
    fn validity_is_checked_with_a_margin() {
        let inputs = parse_list_public_keys(GUIDE_SAMPLE.as_bytes(), "k.json").unwrap();
        let ring = KeyRing::build(inputs);
        let key = ring.get("8eba5db5bea9b640d1c96a77256fe7f2").unwrap();
        let start = key.validity_start.unwrap();
        assert!(key.valid_at(start - Duration::minutes(59)));
        assert!(!key.valid_at(start - Duration::minutes(61)));
        assert!(key.valid_at(key.validity_end.unwrap() + Duration::minutes(59)));
        assert!(!key.valid_at(key.validity_end.unwrap() + Duration::minutes(61)));
    }
}
