//! A digest's S3 user metadata, and the sidecar file that keeps it beside a downloaded copy.
//!
//! CloudTrail puts a digest's signature in the object's user metadata (`signature`,
//! `signature-algorithm`, and for backfill digests `backfill-generation-timestamp`), which a
//! plain download loses. In a trail directory or a bundle it lives next to the digest as
//! `NAME.json.gz.metadata.json`: the JSON object S3 returns as `Metadata` (what
//! `aws s3api head-object --query Metadata` prints), keys without `x-amz-meta-`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::digest::Members;
use crate::input::ReadError;

/// The suffix added to a digest's file name for its sidecar.
pub const SIDECAR_SUFFIX: &str = ".metadata.json";

/// A sidecar is a few hundred bytes; anything larger is refused unread.
const MAX_SIDECAR_BYTES: u64 = 64 << 10;

/// A digest object's user metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestMetadata {
    /// `signature`: hex RSA signature of the digest's string to sign.
    pub signature: Option<String>,
    /// `signature-algorithm`: `SHA256withRSA`.
    pub signature_algorithm: Option<String>,
    /// `backfill-generation-timestamp`, on backfill digests.
    pub backfill_generation_timestamp: Option<String>,
    /// Any other entries, kept as found.
    pub other: BTreeMap<String, String>,
}

impl DigestMetadata {
    /// From an S3 `Metadata` map (GetObject/HeadObject answer). S3 lowercases user metadata
    /// names; names are matched exactly, never by substring.
    pub fn from_map(map: impl IntoIterator<Item = (String, String)>) -> DigestMetadata {
        let mut meta = DigestMetadata::default();
        for (name, value) in map {
            match name.as_str() {
                "signature" => meta.signature = Some(value),
                "signature-algorithm" => meta.signature_algorithm = Some(value),
                "backfill-generation-timestamp" => meta.backfill_generation_timestamp = Some(value),
                _ => {
                    meta.other.insert(name, value);
                }
            }
        }
        meta
    }

    /// The map written to a sidecar or an S3 object.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = self.other.clone();
        for (name, value) in [
            ("signature", &self.signature),
            ("signature-algorithm", &self.signature_algorithm),
            (
                "backfill-generation-timestamp",
                &self.backfill_generation_timestamp,
            ),
        ] {
            if let Some(v) = value {
                map.insert(name.to_owned(), v.clone());
            }
        }
        map
    }

    /// The sidecar's bytes.
    pub fn to_sidecar_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(&self.to_map()).expect("string map");
        text.push('\n');
        text.into_bytes()
    }

    /// Reads sidecar bytes: a JSON object of strings, each name once.
    pub fn from_sidecar_json(bytes: &[u8]) -> Result<DigestMetadata, SidecarError> {
        let text = std::str::from_utf8(bytes).map_err(|e| SidecarError::Json(e.to_string()))?;
        let entries = serde_json::from_str::<Members>(text)
            .map_err(|e| SidecarError::Json(e.to_string()))?
            .0;
        let mut seen = std::collections::BTreeSet::new();
        let mut map = Vec::new();
        for (name, value) in entries {
            if !seen.insert(name.clone()) {
                return Err(SidecarError::Duplicate(name));
            }
            match serde_json::from_str::<String>(value.get()) {
                Ok(s) => map.push((name, s)),
                Err(_) => {
                    return Err(SidecarError::NotAString {
                        name,
                        found: value.get().to_owned(),
                    });
                }
            }
        }
        Ok(DigestMetadata::from_map(map))
    }
}

/// The sidecar path of a digest file.
pub fn sidecar_path(digest: &Path) -> PathBuf {
    let mut name = digest.as_os_str().to_owned();
    name.push(SIDECAR_SUFFIX);
    PathBuf::from(name)
}

/// Whether a path is a sidecar (and so not a digest or log file itself).
pub fn is_sidecar(path: &Path) -> bool {
    path.to_string_lossy().ends_with(SIDECAR_SUFFIX)
}

/// Why a sidecar could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidecarError {
    #[error("cannot read sidecar: {0}")]
    Read(String),
    #[error("sidecar is larger than {} KiB", MAX_SIDECAR_BYTES >> 10)]
    TooLarge,
    #[error("sidecar is not a JSON object: {0}")]
    Json(String),
    #[error("sidecar names {0:?} twice")]
    Duplicate(String),
    #[error("sidecar entry {name:?} is {found}, not a string")]
    NotAString { name: String, found: String },
}

/// Reads the sidecar of the digest at `digest`: `Ok(None)` when there is none.
pub fn read_sidecar(digest: &Path) -> Result<Option<DigestMetadata>, SidecarError> {
    let path = sidecar_path(digest);
    let mut bytes = Vec::new();
    match crate::input::read_regular(&path, MAX_SIDECAR_BYTES, &mut bytes) {
        Ok(()) => {}
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(ReadError::TooLarge { .. }) => return Err(SidecarError::TooLarge),
        Err(e) => return Err(SidecarError::Read(e.to_string())),
    }
    DigestMetadata::from_sidecar_json(&bytes).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_round_trip_and_keep_other_entries() {
        let meta = DigestMetadata::from_map([
            ("signature".to_owned(), "ab01".to_owned()),
            ("signature-algorithm".to_owned(), "SHA256withRSA".to_owned()),
            ("custom".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(meta.signature.as_deref(), Some("ab01"));
        assert_eq!(meta.other["custom"], "x");
        let dir = tempfile::tempdir().unwrap();
        let digest = dir.path().join("d.json.gz");
        assert_eq!(read_sidecar(&digest), Ok(None));
        std::fs::write(sidecar_path(&digest), meta.to_sidecar_json()).unwrap();
        assert!(
            sidecar_path(&digest)
                .to_string_lossy()
                .ends_with("d.json.gz.metadata.json")
        );
        assert!(is_sidecar(&sidecar_path(&digest)));
        assert_eq!(read_sidecar(&digest), Ok(Some(meta)));
    }

    #[test]
    fn bad_sidecars_are_named() {
        let cases: [(&[u8], &str); 4] = [
            (b"[1]", "sidecar is not a JSON object"),
            (
                b"{\"signature\": 5}",
                "sidecar entry \"signature\" is 5, not a string",
            ),
            (
                b"{\"signature\": \"a\", \"signature\": \"b\"}",
                "sidecar names \"signature\" twice",
            ),
            (b"{\"signature\": \"a\"", "sidecar is not a JSON object"),
        ];
        for (bytes, expected) in cases {
            let err = DigestMetadata::from_sidecar_json(bytes)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
