//! One CloudTrail digest file, decoded ("CloudTrail digest file structure" in the CloudTrail
//! user guide).
//!
//! The bytes that are hashed and signed are the uncompressed digest exactly as delivered, so
//! decoding keeps their SHA-256 and the original text of every field the string to sign
//! uses. Every documented field is read and typed; a field of the wrong type, a missing
//! required field or a duplicated one makes the file malformed, by name. Fields the
//! documentation does not list are kept by name, never silently dropped.

use std::io::Read;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The only signature algorithm CloudTrail documents for digests.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// The only hash algorithm CloudTrail documents for log files and previous digests.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// The largest uncompressed digest accepted. A digest lists one hour of log files of one
/// account and Region, a few hundred bytes each; 64 MiB is far above any real one and
/// bounds what a crafted file can cost.
pub const MAX_DIGEST_BYTES: u64 = 64 << 20;

/// A UTC time as written in the digest: its text (used verbatim in the string to sign)
/// and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub text: String,
    pub time: DateTime<Utc>,
}

/// The previous digest a digest chains to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousDigest {
    pub bucket: String,
    pub object: String,
    /// SHA-256 of the previous digest's uncompressed bytes.
    pub hash: [u8; 32],
    /// The previous digest's signature, hex, as written.
    pub signature: String,
}

/// One `logFiles[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub bucket: String,
    pub object: String,
    /// SHA-256 of the log file's uncompressed content.
    pub hash: [u8; 32],
    pub newest_event: Option<Stamp>,
    pub oldest_event: Option<Stamp>,
}

/// A decoded digest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFile {
    /// SHA-256 of the uncompressed bytes (what `previousDigestHashValue` and the string to
    /// sign refer to).
    pub sha256: [u8; 32],
    pub account: String,
    pub start: Stamp,
    pub end: Stamp,
    pub bucket: String,
    pub object: String,
    pub fingerprint: String,
    pub signature_algorithm: String,
    pub newest_event: Option<Stamp>,
    pub oldest_event: Option<Stamp>,
    /// `None` in a starting digest, where all five `previousDigest*` fields are null.
    pub previous: Option<PreviousDigest>,
    pub log_files: Vec<LogEntry>,
    /// Fields the documented structure does not have, as `name` or `logFiles[i].name`.
    pub unknown_fields: Vec<String>,
}

/// Why a digest file cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestFormatError {
    #[error("not a gzip file")]
    NotGzip,
    #[error("gzip stream is corrupt or truncated: {0}")]
    Gzip(String),
    #[error("data after the end of the gzip stream")]
    TrailingData,
    #[error("uncompressed digest is larger than {} MiB", MAX_DIGEST_BYTES >> 20)]
    TooLarge,
    #[error("not UTF-8 JSON")]
    NotUtf8,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("field {0} is missing")]
    Missing(String),
    #[error("field {0} appears twice")]
    Duplicate(String),
    #[error("field {field}: {reason}")]
    Field { field: String, reason: String },
    #[error("previousDigest* fields are partly null ({0}): a starting digest has all five null")]
    PartialPrevious(String),
}

impl DigestFile {
    /// Decodes a digest file as delivered (gzip, one member).
    pub fn from_gzip(gz: &[u8]) -> Result<DigestFile, DigestFormatError> {
        DigestFile::from_json(&inflate_one_member(gz, MAX_DIGEST_BYTES)?)
    }

    /// Decodes uncompressed digest bytes.
    pub fn from_json(bytes: &[u8]) -> Result<DigestFile, DigestFormatError> {
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        let text = std::str::from_utf8(bytes).map_err(|_| DigestFormatError::NotUtf8)?;
        let mut top = Fields::parse(text, "")?;
        let digest = DigestFile {
            sha256,
            account: top.string("awsAccountId")?,
            start: top.stamp("digestStartTime")?,
            end: top.stamp("digestEndTime")?,
            bucket: top.string("digestS3Bucket")?,
            object: top.string("digestS3Object")?,
            fingerprint: top.string("digestPublicKeyFingerprint")?,
            signature_algorithm: top.string("digestSignatureAlgorithm")?,
            newest_event: top.optional_stamp("newestEventTime")?,
            oldest_event: top.optional_stamp("oldestEventTime")?,
            previous: previous(&mut top)?,
            log_files: log_files(&mut top)?,
            unknown_fields: Vec::new(),
        };
        Ok(DigestFile {
            unknown_fields: top.unknown,
            ..digest
        })
    }

    /// The string CloudTrail signs: `digestEndTime \n digestS3Bucket/digestS3Object \n
    /// hex(SHA-256 of the uncompressed digest) \n previousDigestSignature`, with the literal
    /// `null` when there is no previous signature (as the AWS CLI does, "to match the Java
    /// implementation").
    pub fn string_to_sign(&self) -> String {
        let previous = self
            .previous
            .as_ref()
            .map_or("null", |p| p.signature.as_str());
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.end.text,
            self.bucket,
            self.object,
            hex::encode(self.sha256),
            previous
        )
    }

    /// Whether the object name is a backfill digest (`…_backfill.json.gz`).
    pub fn is_backfill(&self) -> bool {
        is_backfill_name(&self.object)
    }
}

/// Whether an object name or path is a backfill digest's.
pub fn is_backfill_name(name: &str) -> bool {
    name.ends_with("_backfill.json.gz")
}

/// What a digest object's name says:
/// `{account}_CloudTrail-Digest_{region}_{trail}_{homeRegion}_{YYYYMMDDTHHMMSSZ}[_backfill].json.gz`
/// (trail names may hold underscores, Region names never do).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DigestName {
    pub account: String,
    pub region: String,
    pub trail: String,
    pub home_region: String,
    pub end: DateTime<Utc>,
    pub backfill: bool,
}

impl DigestName {
    pub fn parse(object: &str) -> Option<DigestName> {
        let name = object.rsplit('/').next()?;
        let backfill = is_backfill_name(name);
        let stem = name.strip_suffix(if backfill {
            "_backfill.json.gz"
        } else {
            ".json.gz"
        })?;
        let (account, rest) = stem.split_once("_CloudTrail-Digest_")?;
        let (region, rest) = rest.split_once('_')?;
        let (rest, stamp) = rest.rsplit_once('_')?;
        let (trail, home_region) = rest.rsplit_once('_')?;
        let end = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
            .ok()?
            .and_utc();
        if [account, region, trail, home_region]
            .iter()
            .any(|s| s.is_empty())
        {
            return None;
        }
        Some(DigestName {
            account: account.to_owned(),
            region: region.to_owned(),
            trail: trail.to_owned(),
            home_region: home_region.to_owned(),
            end,
            backfill,
        })
    }
}

/// Inflates exactly one gzip member, refusing trailing data (as the AWS CLI refuses it for
/// log files) and anything over `limit` bytes.
fn inflate_one_member(gz: &[u8], limit: u64) -> Result<Vec<u8>, DigestFormatError> {
    if !gz.starts_with(&[0x1f, 0x8b]) {
        return Err(DigestFormatError::NotGzip);
    }
    let mut decoder = flate2::bufread::GzDecoder::new(gz);
    let mut out = Vec::new();
    (&mut decoder)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| DigestFormatError::Gzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(DigestFormatError::TooLarge);
    }
    if !decoder.into_inner().is_empty() {
        return Err(DigestFormatError::TrailingData);
    }
    Ok(out)
}

fn previous(top: &mut Fields) -> Result<Option<PreviousDigest>, DigestFormatError> {
    const NAMES: [&str; 5] = [
        "previousDigestS3Bucket",
        "previousDigestS3Object",
        "previousDigestHashValue",
        "previousDigestHashAlgorithm",
        "previousDigestSignature",
    ];
    let mut values = Vec::new();
    for name in NAMES {
        values.push(top.nullable_string(name)?);
    }
    let present: Vec<&str> = NAMES
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_some())
        .map(|(n, _)| *n)
        .collect();
    if present.is_empty() {
        return Ok(None);
    }
    if present.len() < NAMES.len() {
        return Err(DigestFormatError::PartialPrevious(present.join(", ")));
    }
    let mut values = values.into_iter().flatten();
    let mut next = || values.next().unwrap_or_default();
    let (bucket, object, hash, algorithm, signature) = (next(), next(), next(), next(), next());
    expect_algorithm("previousDigestHashAlgorithm", &algorithm)?;
    Ok(Some(PreviousDigest {
        bucket,
        object,
        hash: sha256_hex("previousDigestHashValue", &hash)?,
        signature,
    }))
}

fn log_files(top: &mut Fields) -> Result<Vec<LogEntry>, DigestFormatError> {
    let raw = top.take("logFiles")?;
    let items: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|e| field_error("logFiles", e))?;
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut f = Fields::parse(item.get(), &format!("logFiles[{i}]."))?;
        let algorithm = f.string("hashAlgorithm")?;
        expect_algorithm(&f.name("hashAlgorithm"), &algorithm)?;
        let hash = f.string("hashValue")?;
        entries.push(LogEntry {
            bucket: f.string("s3Bucket")?,
            object: f.string("s3Object")?,
            hash: sha256_hex(&f.name("hashValue"), &hash)?,
            newest_event: f.optional_stamp("newestEventTime")?,
            oldest_event: f.optional_stamp("oldestEventTime")?,
        });
        top.unknown.append(&mut f.unknown);
    }
    Ok(entries)
}

fn expect_algorithm(field: &str, value: &str) -> Result<(), DigestFormatError> {
    if value == HASH_ALGORITHM {
        Ok(())
    } else {
        Err(DigestFormatError::Field {
            field: field.to_owned(),
            reason: format!("hash algorithm {value:?} is not {HASH_ALGORITHM}"),
        })
    }
}

fn sha256_hex(field: &str, value: &str) -> Result<[u8; 32], DigestFormatError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).map_err(|_| DigestFormatError::Field {
        field: field.to_owned(),
        reason: format!("{value:?} is not a hex SHA-256"),
    })?;
    Ok(out)
}

fn field_error(field: &str, e: impl std::fmt::Display) -> DigestFormatError {
    DigestFormatError::Field {
        field: field.to_owned(),
        reason: e.to_string(),
    }
}

/// Parses a time the way the digest writes it (`2015-08-17T14:01:31Z`); any RFC 3339 UTC
/// time is accepted.
fn parse_stamp(field: &str, text: String) -> Result<Stamp, DigestFormatError> {
    let time = DateTime::parse_from_rfc3339(&text)
        .map_err(|e| field_error(field, format!("{text:?} is not an RFC 3339 time: {e}")))?
        .with_timezone(&Utc);
    Ok(Stamp { text, time })
}

/// The members of one JSON object, in order, duplicates kept so that they can be refused.
struct Fields<'a> {
    prefix: String,
    members: Vec<(String, &'a RawValue)>,
    unknown: Vec<String>,
}

/// Every documented member name, top level and in `logFiles[]`.
const KNOWN_TOP: [&str; 15] = [
    "awsAccountId",
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
    "newestEventTime",
    "oldestEventTime",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
    "logFiles",
];
const KNOWN_LOG: [&str; 6] = [
    "s3Bucket",
    "s3Object",
    "hashValue",
    "hashAlgorithm",
    "newestEventTime",
    "oldestEventTime",
];

impl<'a> Fields<'a> {
    fn parse(text: &'a str, prefix: &str) -> Result<Fields<'a>, DigestFormatError> {
        let members = serde_json::from_str::<Members>(text)
            .map_err(|e| DigestFormatError::Json(e.to_string()))?
            .0;
        let known: &[&str] = if prefix.is_empty() {
            &KNOWN_TOP
        } else {
            &KNOWN_LOG
        };
        let mut seen = std::collections::HashSet::new();
        let mut unknown = Vec::new();
        for (name, _) in &members {
            if !seen.insert(name.as_str()) {
                return Err(DigestFormatError::Duplicate(format!("{prefix}{name}")));
            }
            if !known.contains(&name.as_str()) {
                unknown.push(format!("{prefix}{name}"));
            }
        }
        Ok(Fields {
            prefix: prefix.to_owned(),
            members,
            unknown,
        })
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn get(&self, field: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, v)| *v)
    }

    fn take(&self, field: &str) -> Result<&'a RawValue, DigestFormatError> {
        self.get(field)
            .ok_or_else(|| DigestFormatError::Missing(self.name(field)))
    }

    fn string(&self, field: &str) -> Result<String, DigestFormatError> {
        serde_json::from_str(self.take(field)?.get()).map_err(|e| field_error(&self.name(field), e))
    }

    /// A field that must be present and may be null.
    fn nullable_string(&self, field: &str) -> Result<Option<String>, DigestFormatError> {
        serde_json::from_str(self.take(field)?.get()).map_err(|e| field_error(&self.name(field), e))
    }

    fn stamp(&self, field: &str) -> Result<Stamp, DigestFormatError> {
        parse_stamp(&self.name(field), self.string(field)?)
    }

    /// A time that may be absent or null (an hour with no log files has none).
    fn optional_stamp(&self, field: &str) -> Result<Option<Stamp>, DigestFormatError> {
        match self.get(field) {
            None => Ok(None),
            Some(raw) => {
                let text: Option<String> = serde_json::from_str(raw.get())
                    .map_err(|e| field_error(&self.name(field), e))?;
                text.map(|t| parse_stamp(&self.name(field), t)).transpose()
            }
        }
    }
}

/// A JSON object's members in order, duplicates included (so that they can be refused:
/// serde_json's own maps keep the last one silently).
pub(crate) struct Members<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user guide's sample digest, verbatim.
    pub(crate) const SAMPLE: &str = r#"{
  "awsAccountId": "111122223333",
  "digestStartTime": "2015-08-17T14:01:31Z",
  "digestEndTime": "2015-08-17T15:01:31Z",
  "digestS3Bucket": "S3-bucket-name",
  "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
  "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
  "digestSignatureAlgorithm": "SHA256withRSA",
  "newestEventTime": "2015-08-17T14:52:27Z",
  "oldestEventTime": "2015-08-17T14:42:27Z",
  "previousDigestS3Bucket": "S3-bucket-name",
  "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
  "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
  "previousDigestHashAlgorithm": "SHA-256",
  "previousDigestSignature": "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3652fc4dfc30937e4d5f4cc7f796e7a258fb50a43ac427f2237f6e505d4efaf373d156e15e3b68dea9f58111d395b62628d6bd367a9024d2183b5c5f6e19466d3a996b92df705bc997b8a0e13430f241d733cf95df4e41bb6c304c3f58363043572ea57a27085639ce187e679c0d81c7519b1184fa77fb7ab0b0e40a32dace6e1eefc3995c5ae182da49b62b26398cebb52a2201a6387b75b89c83e5570bcb9bba6c34a80f2f00a1c6ebe07d1ff149eccd812dc805bb3eeff6657db32a6cb48d2d096404eb76181877bc6ebb8cd0b23f823200155b2fd8848d428e46e8456328a",
  "logFiles": [
    {
      "s3Bucket": "S3-bucket-name",
      "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
      "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
      "hashAlgorithm": "SHA-256",
      "newestEventTime": "2015-08-17T14:52:27Z",
      "oldestEventTime": "2015-08-17T14:42:27Z"
    }
  ]
}"#;

    fn edit(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from}");
        SAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn the_documented_sample_decodes_field_by_field() {
        let d = DigestFile::from_json(SAMPLE.as_bytes()).unwrap();
        assert_eq!(d.account, "111122223333");
        assert_eq!(d.start.text, "2015-08-17T14:01:31Z");
        assert_eq!(d.end.time.to_rfc3339(), "2015-08-17T15:01:31+00:00");
        assert_eq!(d.fingerprint, "31e8b5433410dfb61a9dc45cc65b22ff");
        assert_eq!(d.signature_algorithm, SIGNATURE_ALGORITHM);
        let p = d.previous.as_ref().unwrap();
        assert!(p.object.ends_with("_20150817T140131Z.json.gz"));
        assert_eq!(
            hex::encode(p.hash),
            "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d"
        );
        assert_eq!(d.log_files.len(), 1);
        assert_eq!(
            hex::encode(d.log_files[0].hash),
            "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6"
        );
        assert!(d.unknown_fields.is_empty());
        let to_sign = d.string_to_sign();
        let lines: Vec<&str> = to_sign.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "2015-08-17T15:01:31Z");
        assert_eq!(lines[1], format!("S3-bucket-name/{}", d.object));
        assert_eq!(lines[2], hex::encode(Sha256::digest(SAMPLE.as_bytes())));
        assert_eq!(lines[3], p.signature);
    }

    #[test]
    fn a_starting_digest_signs_the_literal_null() {
        let mut text = SAMPLE.to_owned();
        for f in [
            "previousDigestS3Bucket",
            "previousDigestS3Object",
            "previousDigestHashValue",
            "previousDigestHashAlgorithm",
            "previousDigestSignature",
        ] {
            let start = text.find(&format!("\"{f}\": \"")).unwrap();
            let value_start = start + f.len() + 4;
            let end = value_start + 1 + text[value_start + 1..].find('"').unwrap() + 1;
            text.replace_range(value_start..end, "null");
        }
        let d = DigestFile::from_json(text.as_bytes()).unwrap();
        assert_eq!(d.previous, None);
        assert!(d.string_to_sign().ends_with("\nnull"));
    }

    #[test]
    fn an_empty_hour_has_no_log_files_and_null_event_times() {
        let text = edit(
            r#""newestEventTime": "2015-08-17T14:52:27Z",
  "oldestEventTime": "2015-08-17T14:42:27Z",
  "previous"#,
            r#""newestEventTime": null,
  "oldestEventTime": null,
  "previous"#,
        );
        let start = text.find("\"logFiles\": [").unwrap();
        let text = format!("{}\"logFiles\": []\n}}", &text[..start]);
        let d = DigestFile::from_json(text.as_bytes()).unwrap();
        assert!(d.log_files.is_empty());
        assert_eq!(d.newest_event, None);
    }

    #[test]
    fn malformed_fields_are_named() {
        let cases = [
            (
                edit("\"awsAccountId\": \"111122223333\",", ""),
                "field awsAccountId is missing",
            ),
            (
                edit(
                    "\"digestEndTime\": \"2015-08-17T15:01:31Z\"",
                    "\"digestEndTime\": 5",
                ),
                "field digestEndTime: invalid type",
            ),
            (
                edit(
                    "\"digestStartTime\": \"2015-08-17T14:01:31Z\"",
                    "\"digestStartTime\": \"yesterday\"",
                ),
                "field digestStartTime: \"yesterday\" is not an RFC 3339 time",
            ),
            (
                edit(
                    "\"hashAlgorithm\": \"SHA-256\"",
                    "\"hashAlgorithm\": \"MD5\"",
                ),
                "field logFiles[0].hashAlgorithm: hash algorithm \"MD5\"",
            ),
            (
                edit("\"hashValue\": \"9bb6", "\"hashValue\": \"zz"),
                "field logFiles[0].hashValue:",
            ),
            (
                edit(
                    "\"previousDigestHashValue\": \"97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d\"",
                    "\"previousDigestHashValue\": null",
                ),
                "partly null",
            ),
            (
                edit(
                    "\"awsAccountId\": \"111122223333\",",
                    "\"awsAccountId\": \"111122223333\", \"awsAccountId\": \"444455556666\",",
                ),
                "field awsAccountId appears twice",
            ),
            (
                edit("\"logFiles\": [", "\"logFiles\": {\"a\": ["),
                "invalid JSON",
            ),
        ];
        for (text, expected) in cases {
            let err = DigestFile::from_json(text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(expected) || err.contains(expected),
                "{err} / {expected}"
            );
        }
        assert_eq!(
            DigestFile::from_json(b"\xff\xfe").unwrap_err(),
            DigestFormatError::NotUtf8
        );
    }

    #[test]
    fn unknown_fields_are_kept_by_name() {
        let text = edit(
            "\"awsAccountId\"",
            "\"futureField\": {\"x\": 1}, \"awsAccountId\"",
        )
        .replacen("\"s3Bucket\"", "\"size\": 12, \"s3Bucket\"", 1);
        let d = DigestFile::from_json(text.as_bytes()).unwrap();
        assert_eq!(d.unknown_fields, ["futureField", "logFiles[0].size"]);
    }

    #[test]
    fn gzip_is_one_bounded_member() {
        let gz = |data: &[u8]| {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert!(DigestFile::from_gzip(&gz(SAMPLE.as_bytes())).is_ok());
        let mut two = gz(SAMPLE.as_bytes());
        two.extend(gz(b"{}"));
        assert_eq!(
            DigestFile::from_gzip(&two).unwrap_err(),
            DigestFormatError::TrailingData
        );
        assert_eq!(
            DigestFile::from_gzip(SAMPLE.as_bytes()).unwrap_err(),
            DigestFormatError::NotGzip
        );
        let full = gz(SAMPLE.as_bytes());
        assert!(matches!(
            DigestFile::from_gzip(&full[..full.len() - 5]).unwrap_err(),
            DigestFormatError::Gzip(_)
        ));
        let bomb = gz(&vec![b' '; 4097]);
        assert_eq!(
            inflate_one_member(&bomb, 4096).unwrap_err(),
            DigestFormatError::TooLarge
        );
        assert_eq!(inflate_one_member(&bomb, 4097).unwrap().len(), 4097);
    }

    #[test]
    fn digest_names_parse_from_both_ends() {
        let n = DigestName::parse("AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_my_trail_name_us-east-1_20150817T150131Z.json.gz").unwrap();
        assert_eq!(n.trail, "my_trail_name");
        assert_eq!(n.region, "us-east-2");
        assert_eq!(n.home_region, "us-east-1");
        assert!(!n.backfill);
        let b = DigestName::parse("111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z_backfill.json.gz").unwrap();
        assert!(b.backfill);
        assert_eq!(b.end.to_rfc3339(), "2015-08-17T15:01:31+00:00");
        assert_eq!(
            DigestName::parse("111122223333_CloudTrail_us-east-2_20150817T1501Z_x.json.gz"),
            None
        );
    }
}
