//! Synthetic digest chains for tests and the lab: own RSA key pairs, digest files, their
//! sidecars and the `list-public-keys` JSON, over given log files, written exactly as
//! CloudTrail delivers them (docs/integrity.md, "Test generator").
//!
//! Each hour can be bent the way an attacker or a fault would: signed by another key,
//! claiming another key's fingerprint, chaining with a forged `previousDigestHashValue`,
//! starting a new chain. What tests then change on disk (a byte of a log file, a removed
//! file) they change themselves. [`BundleKey`] stands in for a KMS key signing bundles.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::keys::fingerprint;
use super::sidecar::{DigestMetadata, sidecar_path};
use super::{digest, sha256};

/// An RSA key pair standing in for CloudTrail's Regional signing key.
pub struct Signer {
    pair: RsaKeyPair,
    /// The public key's DER (PKCS#1 `RSAPublicKey`, as ListPublicKeys documents it).
    pub public_der: Vec<u8>,
    pub fingerprint: String,
}

impl Signer {
    /// A fresh 2048-bit key pair.
    pub fn generate() -> Signer {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let public_der = pair.public_key().as_ref().to_vec();
        Signer {
            fingerprint: fingerprint(&public_der),
            public_der,
            pair,
        }
    }

    /// RSA PKCS#1 v1.5 SHA-256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .expect("RSA signing");
        sig
    }

    /// This key as one `PublicKeyList` entry of `aws cloudtrail list-public-keys` (AWS CLI
    /// v1 epoch times).
    pub fn list_entry(
        &self,
        valid_from: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    ) -> serde_json::Value {
        serde_json::json!({
            "ValidityStartTime": valid_from.timestamp() as f64,
            "ValidityEndTime": valid_until.timestamp() as f64,
            "Value": base64::engine::general_purpose::STANDARD.encode(&self.public_der),
            "Fingerprint": self.fingerprint,
        })
    }
}

/// Writes `{"PublicKeyList": [...]}` for these keys, valid over `[from, until]`.
pub fn write_public_keys(
    path: &Path,
    signers: &[&Signer],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> std::io::Result<()> {
    let list: Vec<_> = signers.iter().map(|s| s.list_entry(from, until)).collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "PublicKeyList": list }))?;
    write_file(path, text.as_bytes())
}

/// A stand-in for a KMS asymmetric key, for signed-bundle tests: signs a bundle's
/// statement as `kms:Sign` does and gives its public key as `kms:GetPublicKey` does (DER
/// SubjectPublicKeyInfo).
pub enum BundleKey {
    Rsa(RsaKeyPair),
    Ec(aws_lc_rs::signature::EcdsaKeyPair),
}

impl BundleKey {
    /// A fresh RSA 2048 key (KMS `RSA_2048`).
    pub fn rsa() -> BundleKey {
        BundleKey::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
    }

    /// A fresh ECC key on the curve of `alg` (KMS `ECC_NIST_P256`, …).
    pub fn ec(alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm) -> BundleKey {
        BundleKey::Ec(aws_lc_rs::signature::EcdsaKeyPair::generate(alg).expect("EC key generation"))
    }

    /// The signature of `message` with `alg` (which must fit the key, as KMS requires).
    pub fn sign(&self, alg: super::signed_bundle::SigningAlgorithm, message: &[u8]) -> Vec<u8> {
        use super::signed_bundle::{Hash, SigningAlgorithm as A};
        use aws_lc_rs::signature as sig;
        let rng = SystemRandom::new();
        match self {
            BundleKey::Rsa(k) => {
                let enc: &'static dyn sig::RsaEncoding = match alg {
                    A::RsaPss(Hash::Sha256) => &sig::RSA_PSS_SHA256,
                    A::RsaPss(Hash::Sha384) => &sig::RSA_PSS_SHA384,
                    A::RsaPss(Hash::Sha512) => &sig::RSA_PSS_SHA512,
                    A::RsaPkcs1(Hash::Sha256) => &RSA_PKCS1_SHA256,
                    A::RsaPkcs1(Hash::Sha384) => &sig::RSA_PKCS1_SHA384,
                    A::RsaPkcs1(Hash::Sha512) => &sig::RSA_PKCS1_SHA512,
                    A::Ecdsa(_) => panic!("an RSA key does not sign {alg:?}"),
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, message, &mut out).expect("RSA signing");
                out
            }
            BundleKey::Ec(k) => k
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
        }
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        match self {
            BundleKey::Rsa(k) => k.public_key().as_der().expect("DER").as_ref().to_vec(),
            BundleKey::Ec(k) => k.public_key().as_der().expect("DER").as_ref().to_vec(),
        }
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.public_der());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// The signature file for `manifest`, as `collect --sign-key` writes it.
    pub fn sign_manifest(
        &self,
        manifest: &[u8],
        key_id: &str,
        alg: super::signed_bundle::SigningAlgorithm,
        signed_at: DateTime<Utc>,
    ) -> super::signed_bundle::BundleSignature {
        let unsigned =
            super::signed_bundle::BundleSignature::unsigned(manifest, key_id, alg, signed_at);
        let signature = self.sign(alg, &unsigned.statement());
        unsigned.signed(&signature)
    }

    /// Signs the bundle in `dir`: writes `manifest.sig.json` for its `manifest.json`.
    pub fn sign_bundle(
        &self,
        dir: &Path,
        key_id: &str,
        alg: super::signed_bundle::SigningAlgorithm,
    ) -> std::io::Result<()> {
        let manifest = std::fs::read(dir.join("manifest.json"))?;
        let sig = self.sign_manifest(&manifest, key_id, alg, Utc::now());
        std::fs::write(
            dir.join(super::signed_bundle::SIGNATURE_FILE),
            super::signed_bundle::to_file(&sig),
        )
    }
}

/// Where a trail delivers.
#[derive(Debug, Clone)]
pub struct SynthTrail {
    pub bucket: String,
    /// The trail's S3 key prefix, without slashes at either end.
    pub prefix: Option<String>,
    pub org_id: Option<String>,
    pub account: String,
    pub region: String,
    pub name: String,
    pub home_region: String,
}

impl SynthTrail {
    fn awslogs(&self) -> String {
        let prefix = self
            .prefix
            .as_ref()
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        let org = self
            .org_id
            .as_ref()
            .map(|o| format!("{o}/"))
            .unwrap_or_default();
        format!("{prefix}AWSLogs/{org}{}", self.account)
    }

    /// The S3 key of the digest whose hour ends at `end`.
    pub fn digest_key(&self, end: DateTime<Utc>, backfill: bool) -> String {
        format!(
            "{}/CloudTrail-Digest/{}/{}/{}_CloudTrail-Digest_{}_{}_{}_{}{}.json.gz",
            self.awslogs(),
            self.region,
            end.format("%Y/%m/%d"),
            self.account,
            self.region,
            self.name,
            self.home_region,
            end.format("%Y%m%dT%H%M%SZ"),
            if backfill { "_backfill" } else { "" },
        )
    }
}

/// A log file a digest lists.
#[derive(Debug, Clone)]
pub struct SynthLog {
    /// Full S3 key (`[prefix/]AWSLogs/…/CloudTrail/…`).
    pub key: String,
    /// SHA-256 of the uncompressed content.
    pub sha256: [u8; 32],
    pub oldest_event: Option<DateTime<Utc>>,
    pub newest_event: Option<DateTime<Utc>>,
}

/// One digest of a chain and how to bend it.
#[derive(Debug, Clone, Default)]
pub struct Hour {
    pub logs: Vec<SynthLog>,
    /// Index into the signers signing it (0 unless changed).
    pub signer: usize,
    /// Put this signer's fingerprint in the digest instead of the real signer's.
    pub claim_fingerprint_of: Option<usize>,
    /// Chain to the previous digest with a wrong `previousDigestHashValue`.
    pub forge_previous_hash: bool,
    /// Start a new chain here (all `previousDigest*` null).
    pub restart: bool,
}

/// A digest file as written.
#[derive(Debug, Clone)]
pub struct WrittenDigest {
    pub path: PathBuf,
    pub key: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub signature_hex: String,
}

/// The digest JSON in CloudTrail's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DigestJson<'a> {
    aws_account_id: &'a str,
    digest_start_time: String,
    digest_end_time: String,
    #[serde(rename = "digestS3Bucket")]
    digest_s3_bucket: &'a str,
    #[serde(rename = "digestS3Object")]
    digest_s3_object: &'a str,
    digest_public_key_fingerprint: &'a str,
    digest_signature_algorithm: &'a str,
    newest_event_time: Option<String>,
    oldest_event_time: Option<String>,
    #[serde(rename = "previousDigestS3Bucket")]
    previous_digest_s3_bucket: Option<&'a str>,
    #[serde(rename = "previousDigestS3Object")]
    previous_digest_s3_object: Option<String>,
    previous_digest_hash_value: Option<String>,
    previous_digest_hash_algorithm: Option<&'a str>,
    previous_digest_signature: Option<String>,
    log_files: Vec<LogJson<'a>>,
}

#[derive(Serialize)]
struct LogJson<'a> {
    #[serde(rename = "s3Bucket")]
    s3_bucket: &'a str,
    #[serde(rename = "s3Object")]
    s3_object: &'a str,
    #[serde(rename = "hashValue")]
    hash_value: String,
    #[serde(rename = "hashAlgorithm")]
    hash_algorithm: &'a str,
    #[serde(rename = "newestEventTime")]
    newest_event_time: Option<String>,
    #[serde(rename = "oldestEventTime")]
    oldest_event_time: Option<String>,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes one chain of digests under `root` (the bucket's root), one per hour from
/// `first_start`, each with its sidecar. Backfill chains are named `…_backfill.json.gz`
/// and carry `backfill-generation-timestamp` (three hours after their end).
pub fn write_chain(
    root: &Path,
    trail: &SynthTrail,
    first_start: DateTime<Utc>,
    hours: &[Hour],
    signers: &[&Signer],
    backfill: bool,
) -> std::io::Result<Vec<WrittenDigest>> {
    let mut written: Vec<WrittenDigest> = Vec::new();
    let mut previous: Option<(String, [u8; 32], String)> = None;
    for (i, hour) in hours.iter().enumerate() {
        let start = first_start + Duration::hours(i as i64);
        let end = start + Duration::hours(1);
        let key = trail.digest_key(end, backfill);
        let signer = signers[hour.signer];
        let claimed = signers[hour.claim_fingerprint_of.unwrap_or(hour.signer)];
        let prev = if hour.restart {
            None
        } else {
            previous.as_ref()
        };
        let events = |pick: fn(&SynthLog) -> Option<DateTime<Utc>>, newest: bool| {
            let times = hour.logs.iter().filter_map(pick);
            if newest { times.max() } else { times.min() }.map(stamp)
        };
        let json = DigestJson {
            aws_account_id: &trail.account,
            digest_start_time: stamp(start),
            digest_end_time: stamp(end),
            digest_s3_bucket: &trail.bucket,
            digest_s3_object: &key,
            digest_public_key_fingerprint: &claimed.fingerprint,
            digest_signature_algorithm: digest::SIGNATURE_ALGORITHM,
            newest_event_time: events(|l| l.newest_event, true),
            oldest_event_time: events(|l| l.oldest_event, false),
            previous_digest_s3_bucket: prev.map(|_| trail.bucket.as_str()),
            previous_digest_s3_object: prev.map(|p| p.0.clone()),
            previous_digest_hash_value: prev.map(|p| {
                let mut h = p.1;
                if hour.forge_previous_hash {
                    h[0] ^= 1;
                }
                hex::encode(h)
            }),
            previous_digest_hash_algorithm: prev.map(|_| digest::HASH_ALGORITHM),
            previous_digest_signature: prev.map(|p| p.2.clone()),
            log_files: hour
                .logs
                .iter()
                .map(|l| LogJson {
                    s3_bucket: &trail.bucket,
                    s3_object: &l.key,
                    hash_value: hex::encode(l.sha256),
                    hash_algorithm: digest::HASH_ALGORITHM,
                    newest_event_time: l.newest_event.map(stamp),
                    oldest_event_time: l.oldest_event.map(stamp),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&json)?;
        // Signed through the decoder, so the generator and the validator share one
        // string to sign (and every generated digest decodes).
        let decoded = digest::DigestFile::from_json(&bytes).map_err(std::io::Error::other)?;
        let signature_hex = hex::encode(signer.sign(decoded.string_to_sign().as_bytes()));
        let path = key.split('/').fold(root.to_path_buf(), |p, c| p.join(c));
        write_file(&path, &gzip(&bytes))?;
        let metadata = DigestMetadata {
            signature: Some(signature_hex.clone()),
            signature_algorithm: Some(digest::SIGNATURE_ALGORITHM.to_owned()),
            backfill_generation_timestamp: backfill.then(|| stamp(end + Duration::hours(3))),
            ..DigestMetadata::default()
        };
        write_file(&sidecar_path(&path), &metadata.to_sidecar_json())?;
        previous = Some((key.clone(), sha256(&bytes), signature_hex.clone()));
        written.push(WrittenDigest {
            path,
            key,
            start,
            end,
            signature_hex,
        });
    }
    Ok(written)
}

/// The log files under `root` (a trail bucket's copy, `…/AWSLogs/…/CloudTrail/…`), with
/// the SHA-256 of their inflated content and their records' time range, keyed as
/// `prefix/` + their path from `AWSLogs`. Sorted by key.
pub fn logs_in_dir(root: &Path, prefix: Option<&str>) -> std::io::Result<Vec<SynthLog>> {
    let mut out = Vec::new();
    for path in files_in(root, super::locate::Tree::Logs)? {
        let inflated = inflate(&std::fs::read(&path)?).map_err(std::io::Error::other)?;
        let (oldest, newest) = event_range(&inflated);
        let key = super::ObjectId::Local(path)
            .delivery_key()
            .expect("filtered by files_in");
        out.push(SynthLog {
            key: prefix.map_or(key.clone(), |p| format!("{p}/{key}")),
            sha256: sha256(&inflated),
            oldest_event: oldest,
            newest_event: newest,
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The `.json.gz` files under `root` in CloudTrail's delivery layout, of one tree (log
/// files, or digests without their sidecars), sorted.
pub fn files_in(root: &Path, tree: super::locate::Tree) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(key) = super::ObjectId::Local(path.clone()).delivery_key()
                && super::locate::tree(&key) == tree
                && key.ends_with(".json.gz")
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Groups logs into the hours of a chain starting at `first_start`, by the delivery time in
/// their names; logs outside the `hours` are left out.
pub fn by_delivery_hour(logs: &[SynthLog], first_start: DateTime<Utc>, hours: usize) -> Vec<Hour> {
    let mut out = vec![Hour::default(); hours];
    for log in logs {
        let Some(name) = crate::trail::layout::parse_log_name(&log.key) else {
            continue;
        };
        let offset = (name.delivered - first_start).num_hours();
        if name.delivered >= first_start && (offset as usize) < hours {
            out[offset as usize].logs.push(log.clone());
        }
    }
    out
}

fn event_range(json: &[u8]) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let times: Vec<DateTime<Utc>> = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("Records").and_then(|r| r.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get("eventTime")?.as_str()?.parse().ok())
        .collect();
    (times.iter().min().copied(), times.iter().max().copied())
}

/// Gzip, as CloudTrail writes it (one member).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

/// Inflates a gzip file, or returns plain bytes as they are (as the scanner reads them).
pub fn inflate(bytes: &[u8]) -> Result<Vec<u8>, crate::trail::TrailFileError> {
    if !crate::trail::inflate::is_gzip(bytes) {
        return Ok(bytes.to_vec());
    }
    Ok(crate::trail::inflate::Inflater::default()
        .inflate(bytes, &crate::input::Limits::current())?
        .to_vec())
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
}
