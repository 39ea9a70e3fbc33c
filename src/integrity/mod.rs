//! Stage 1c: proof that trail log files are the ones CloudTrail wrote (docs/integrity.md).
//!
//! CloudTrail delivers, every hour and for each trail, account and Region, a signed digest
//! file listing the SHA-256 of every log file it delivered in that hour and chaining to the
//! previous digest. This module validates that offline, as the CloudTrail user guide
//! specifies ("custom implementations of log file integrity validation"):
//!
//! * [`digest`] decodes a digest file; [`sidecar`] reads the S3 metadata that holds its
//!   signature; [`keys`] reads and checks CloudTrail's public keys;
//! * [`validate`] verifies every digest's signature (from its metadata, or from the next
//!   digest's `previousDigestSignature`: any signature that verifies under a trusted key
//!   proves the digest), walks each chain (regular and backfill apart) for links, gaps and
//!   hourly continuity, and indexes the log files that verified digests list;
//! * [`Validation::check_log`] is what the scanner calls for each log file it read, with
//!   the SHA-256 of the inflated bytes it already holds; [`Validation::report`] sums a run.
//!
//! Pure: no AWS SDK, no dependency on later stages. Sources hand in bytes and metadata;
//! what the results do to verdicts is decided downstream.

pub mod bundle_copy;
pub mod digest;
pub mod keys;
pub mod locate;
pub mod run;
pub mod sidecar;
pub mod signed_bundle;
pub mod synth;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use digest::{DigestFile, DigestFormatError, DigestName, LogEntry};
pub use keys::{KeyRing, PublicKeyInput, RejectedKey, TrustedKey, parse_list_public_keys};
pub use locate::ObjectId;
pub use sidecar::{DigestMetadata, SidecarError, read_sidecar, sidecar_path};

/// SHA-256 of a log file's inflated bytes, as the scanner computes it.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// The largest digest file read from disk (compressed); see [`digest::MAX_DIGEST_BYTES`].
pub const MAX_DIGEST_FILE: u64 = 16 << 20;

/// One digest file as a source found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSource {
    pub id: ObjectId,
    /// The object's bytes as stored (gzip).
    pub gz: Vec<u8>,
    /// Its S3 user metadata (from S3, or the sidecar); `Ok(None)` when there is none.
    pub metadata: Result<Option<DigestMetadata>, SidecarError>,
}

impl DigestSource {
    /// Reads a digest file and its sidecar from disk (regular files only, size-capped).
    pub fn read_local(path: &Path) -> std::io::Result<DigestSource> {
        let mut gz = Vec::new();
        crate::input::read_regular(path, MAX_DIGEST_FILE, &mut gz)?;
        Ok(DigestSource {
            id: ObjectId::Local(path.to_owned()),
            gz,
            metadata: read_sidecar(path),
        })
    }
}

/// Where a digest's verifying signature came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureVia {
    /// Its own S3 metadata or sidecar.
    Metadata,
    /// The `previousDigestSignature` of the digest that follows it.
    NextDigest { digest: String },
}

/// Why a digest could not be used. Its log files are then not validated by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DigestFault {
    #[error("malformed digest: {reason}")]
    Malformed { reason: String },
    #[error("not named like a CloudTrail digest (AWSLogs/…/CloudTrail-Digest/…)")]
    NotADigestName,
    #[error("moved: found here, but it was delivered as s3://{bucket}/{object}")]
    Moved { bucket: String, object: String },
    #[error("another copy of this digest has different content: {other}")]
    ConflictingCopies { other: String },
    #[error("signature algorithm {algorithm:?} is not SHA256withRSA")]
    UnsupportedAlgorithm { algorithm: String },
    #[error("no signature: no S3 metadata or sidecar, and no later digest records it")]
    NoSignature,
    #[error("public key {fingerprint} is not among the trusted keys")]
    UnknownKey { fingerprint: String },
    #[error("public key {fingerprint} was not valid at {at}")]
    KeyNotValid { fingerprint: String, at: String },
    #[error("signature does not verify with public key {fingerprint}")]
    BadSignature { fingerprint: String },
}

/// A digest and what became of it.
#[derive(Debug)]
pub struct DigestRecord {
    pub id: ObjectId,
    pub delivery_key: Option<String>,
    /// Decoded content; `None` when malformed.
    pub file: Option<DigestFile>,
    pub outcome: Result<SignatureVia, DigestFault>,
    /// The signature (hex, lowercase) that verified it.
    signature: Option<String>,
    metadata: Option<DigestMetadata>,
    /// Sidecar or other notes about this digest (read but not decisive).
    pub notes: Vec<String>,
}

impl DigestRecord {
    pub fn verified(&self) -> bool {
        self.outcome.is_ok()
    }

    fn label(&self) -> String {
        self.id.to_string()
    }
}

/// Why a stretch of a chain is not covered by linked, verified digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GapCause {
    /// The digest after the gap starts a new chain (all `previousDigest*` null): logging or
    /// validation was off, or the trail was recreated.
    ChainRestarted,
    /// The digest after the gap names a previous digest that is not in the evidence.
    MissingDigest { object: String },
    /// The digest after the gap names a previous digest that could not be verified.
    UnusableDigest { object: String, fault: String },
    /// Linked digests whose times do not meet (`digestStartTime` ≠ previous `digestEndTime`).
    Discontinuous { previous_end: String, start: String },
    /// `previousDigestHashValue` is not the SHA-256 of the previous digest.
    PreviousHashMismatch { object: String },
    /// `previousDigestSignature` is not the signature that verifies the previous digest.
    PreviousSignatureMismatch { object: String },
    /// The digest names a previous digest other than the one before it in time.
    OutOfOrder { object: String },
}

/// A break in a chain: between `after` (the last good digest, if any) and `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainGap {
    /// `{account}/{region}/{trail}` (and `(backfill)`).
    pub chain: String,
    pub backfill: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub before: String,
    /// Log files delivered between these times are not covered (from unknown: since ever).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub cause: GapCause,
}

/// A stretch of a regular chain covered by linked, verified, contiguous digests: every log
/// file delivered in it is listed in one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSpan {
    pub chain: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub digests: usize,
}

/// What validation says about one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogVerdict {
    /// Listed in a verified digest with this SHA-256.
    Validated { digest: usize },
    /// Listed in a verified digest with another SHA-256: the file changed after delivery.
    HashMismatch { digest: usize, expected: [u8; 32] },
    /// Verified digests list it with different hashes.
    Conflict { digests: Vec<usize> },
    /// Listed only in digests that could not be verified.
    DigestUnusable { digest: usize },
    /// No digest lists it.
    NotCovered,
    /// A verified digest lists it, but it was not hashed: no digest found before it was
    /// read listed it (see [`run::hash_wanted`]). Not validated.
    NotHashed { digest: usize },
}

/// A log file listed in a verified digest, for the caller to say whether it exists.
#[derive(Debug, Clone, Copy)]
pub struct ListedLog<'a> {
    pub digest: &'a ObjectId,
    pub entry: &'a LogEntry,
    /// The entry's delivery key (`AWSLogs/…`), when it has one.
    pub delivery_key: Option<&'a str>,
    digest_key: Option<&'a str>,
}

impl ListedLog<'_> {
    /// Where the file lies on disk when the digest was read from disk: beside the digest's
    /// own `AWSLogs` folder.
    pub fn local_path(&self) -> Option<PathBuf> {
        match self.digest {
            ObjectId::Local(path) => {
                locate::local_sibling(path, self.digest_key?, self.delivery_key?)
            }
            ObjectId::S3 { .. } => None,
        }
    }
}

/// Whether a listed log file exists in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Present,
    Missing,
    /// Not looked for (outside every job window, say).
    NotLookedFor,
}

/// All digests validated, indexed for the scanner.
#[derive(Debug, Default)]
pub struct Validation {
    pub digests: Vec<DigestRecord>,
    pub gaps: Vec<ChainGap>,
    pub spans: Vec<ChainSpan>,
    pub rejected_keys: Vec<RejectedKey>,
    /// Delivery key (or `s3://bucket/key`) -> (digest, entry) of verified digests.
    listed: HashMap<String, Vec<(usize, usize)>>,
    /// The same for digests that could not be verified.
    listed_unverified: HashMap<String, Vec<(usize, usize)>>,
}

/// The key a log entry is indexed by.
fn entry_index_key(bucket: &str, object: &str) -> String {
    let id = ObjectId::S3 {
        bucket: bucket.to_owned(),
        key: object.to_owned(),
    };
    id.delivery_key().unwrap_or_else(|| id.to_string())
}

/// Validates every digest against the trusted keys.
pub fn validate(sources: Vec<DigestSource>, keys: &KeyRing) -> Validation {
    let (mut records, mut prechecks): (Vec<_>, Vec<_>) = sources.into_iter().map(decode).unzip();
    mark_conflicting_copies(&records, &mut prechecks);
    verify_signatures(&mut records, prechecks, keys);
    let (gaps, spans) = walk_chains(&records);
    let mut v = Validation {
        gaps,
        spans,
        rejected_keys: keys.rejected.clone(),
        ..Validation::default()
    };
    for (d, record) in records.iter().enumerate() {
        let Some(file) = &record.file else { continue };
        let index = if record.verified() {
            &mut v.listed
        } else {
            &mut v.listed_unverified
        };
        for (e, entry) in file.log_files.iter().enumerate() {
            index
                .entry(entry_index_key(&entry.bucket, &entry.object))
                .or_default()
                .push((d, e));
        }
    }
    v.digests = records;
    v
}

/// Reads one source: decodes it and checks its name and the location it claims. The fault,
/// if any, is returned beside the record; signatures are checked later, once every digest
/// (and so every `previousDigestSignature`) is known.
fn decode(source: DigestSource) -> (DigestRecord, Option<DigestFault>) {
    let delivery_key = source.id.delivery_key();
    let mut record = DigestRecord {
        id: source.id,
        delivery_key,
        file: None,
        outcome: Err(DigestFault::NotADigestName),
        signature: None,
        metadata: None,
        notes: Vec::new(),
    };
    match source.metadata {
        Ok(meta) => record.metadata = meta,
        Err(e) => record.notes.push(format!("metadata unusable: {e}")),
    }
    let file = match DigestFile::from_gzip(&source.gz) {
        Ok(f) => f,
        Err(e) => {
            let reason = e.to_string();
            return (record, Some(DigestFault::Malformed { reason }));
        }
    };
    if !file.unknown_fields.is_empty() {
        record.notes.push(format!(
            "fields not in the documented digest structure: {}",
            file.unknown_fields.join(", ")
        ));
    }
    let claimed = ObjectId::S3 {
        bucket: file.bucket.clone(),
        key: file.object.clone(),
    };
    let in_place = match &record.id {
        ObjectId::S3 { .. } => record.id == claimed,
        ObjectId::Local(_) => record.delivery_key == claimed.delivery_key(),
    };
    let named_as_digest = record
        .delivery_key
        .as_deref()
        .is_some_and(|k| locate::tree(k) == locate::Tree::Digests)
        && DigestName::parse(&file.object).is_some();
    let metadata_algorithm = record
        .metadata
        .as_ref()
        .and_then(|m| m.signature_algorithm.clone())
        .filter(|a| a != digest::SIGNATURE_ALGORITHM);
    let fault = if !named_as_digest {
        Some(DigestFault::NotADigestName)
    } else if !in_place {
        Some(DigestFault::Moved {
            bucket: file.bucket.clone(),
            object: file.object.clone(),
        })
    } else if file.signature_algorithm != digest::SIGNATURE_ALGORITHM {
        Some(DigestFault::UnsupportedAlgorithm {
            algorithm: file.signature_algorithm.clone(),
        })
    } else {
        metadata_algorithm.map(|algorithm| DigestFault::UnsupportedAlgorithm { algorithm })
    };
    record.file = Some(file);
    (record, fault)
}

/// Two copies of one digest (same delivery key and bucket) with different bytes: neither is
/// believed on its own. Identical copies are one digest.
fn mark_conflicting_copies(records: &[DigestRecord], prechecks: &mut [Option<DigestFault>]) {
    let mut by_key: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let (Some(key), Some(file)) = (&r.delivery_key, &r.file) {
            by_key
                .entry((file.bucket.clone(), key.clone()))
                .or_default()
                .push(i);
        }
    }
    for copies in by_key.values().filter(|c| c.len() > 1) {
        let sha = |i: usize| records[i].file.as_ref().map(|f| f.sha256);
        if copies.iter().all(|&i| sha(i) == sha(copies[0])) {
            continue;
        }
        for &i in copies {
            let other = copies
                .iter()
                .find(|&&j| sha(j) != sha(i))
                .map(|&j| records[j].label())
                .unwrap_or_default();
            prechecks[i].get_or_insert(DigestFault::ConflictingCopies { other });
        }
    }
}

/// Decides each digest's outcome. A digest's candidate signatures are its metadata's and
/// every `previousDigestSignature` naming it; it is proven when one of them verifies under
/// the trusted key its fingerprint names.
fn verify_signatures(
    records: &mut [DigestRecord],
    prechecks: Vec<Option<DigestFault>>,
    keys: &KeyRing,
) {
    // (bucket, delivery key) -> signatures recorded by the digests that follow.
    let mut recorded: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for r in records.iter() {
        if let Some(prev) = r.file.as_ref().and_then(|f| f.previous.as_ref()) {
            let key = entry_index_key(&prev.bucket, &prev.object);
            recorded
                .entry((prev.bucket.clone(), key))
                .or_default()
                .push((r.label(), prev.signature.to_ascii_lowercase()));
        }
    }
    for (r, precheck) in records.iter_mut().zip(prechecks) {
        r.outcome = match (precheck, &r.file) {
            (Some(fault), _) => Err(fault),
            (None, None) => Err(DigestFault::NotADigestName),
            (None, Some(file)) => {
                let mut candidates: Vec<(SignatureVia, String)> = Vec::new();
                if let Some(sig) = r.metadata.as_ref().and_then(|m| m.signature.as_ref()) {
                    candidates.push((SignatureVia::Metadata, sig.to_ascii_lowercase()));
                }
                let key = (
                    file.bucket.clone(),
                    r.delivery_key.clone().unwrap_or_default(),
                );
                for (next, sig) in recorded.get(&key).into_iter().flatten() {
                    candidates.push((
                        SignatureVia::NextDigest {
                            digest: next.clone(),
                        },
                        sig.clone(),
                    ));
                }
                let outcome = check_signature(file, r.metadata.as_ref(), &candidates, keys);
                if let Ok(via) = &outcome {
                    let good = candidates
                        .iter()
                        .find(|(v, _)| v == via)
                        .map(|(_, s)| s.clone());
                    for (v, s) in &candidates {
                        if Some(s) != good.as_ref() {
                            r.notes.push(match v {
                                SignatureVia::Metadata => "the metadata's signature does not verify; another record of it does".to_owned(),
                                SignatureVia::NextDigest { digest } => format!("{digest} records a previous signature that does not verify this digest"),
                            });
                        }
                    }
                    r.signature = good;
                }
                outcome
            }
        };
    }
}

fn check_signature(
    file: &DigestFile,
    metadata: Option<&DigestMetadata>,
    candidates: &[(SignatureVia, String)],
    keys: &KeyRing,
) -> Result<SignatureVia, DigestFault> {
    let fingerprint = file.fingerprint.to_ascii_lowercase();
    let Some(key) = keys.get(&fingerprint) else {
        return Err(DigestFault::UnknownKey { fingerprint });
    };
    // The key must have been valid when the digest was signed: at its end time, or for a
    // backfill digest when it was generated (when known).
    let signed_at = if file.is_backfill() {
        metadata
            .and_then(|m| m.backfill_generation_timestamp.as_deref())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    } else {
        Some(file.end.time)
    };
    if let Some(at) = signed_at
        && !key.valid_at(at)
    {
        return Err(DigestFault::KeyNotValid {
            fingerprint,
            at: crate::model::rfc3339(at),
        });
    }
    if candidates.is_empty() {
        return Err(DigestFault::NoSignature);
    }
    let message = file.string_to_sign();
    for (via, sig) in candidates {
        if let Ok(bytes) = hex::decode(sig)
            && key.verifies(message.as_bytes(), &bytes)
        {
            return Ok(via.clone());
        }
    }
    Err(DigestFault::BadSignature { fingerprint })
}

/// Which chain a digest belongs to: one per bucket, prefix, account, Region, trail and home
/// Region, regular and backfill apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ChainKey {
    bucket: String,
    /// The object key up to the Region folder (`[prefix/]AWSLogs/[o-id/]{account}/CloudTrail-Digest/{region}`).
    folder: String,
    trail: String,
    home_region: String,
    backfill: bool,
}

impl ChainKey {
    fn of(file: &DigestFile) -> Option<(ChainKey, DigestName)> {
        let name = DigestName::parse(&file.object)?;
        let parts: Vec<&str> = file.object.split('/').collect();
        let folder = parts.get(..parts.len().checked_sub(4)?)?.join("/");
        Some((
            ChainKey {
                bucket: file.bucket.clone(),
                folder,
                trail: name.trail.clone(),
                home_region: name.home_region.clone(),
                backfill: name.backfill,
            },
            name,
        ))
    }

    fn label(&self, name: &DigestName) -> String {
        let kind = if self.backfill { " (backfill)" } else { "" };
        format!("{}/{}/{}{kind}", name.account, name.region, self.trail)
    }
}

/// Walks every chain of verified digests, oldest first, checking each link: the previous
/// digest it names, that digest's hash and signature, and (for hourly digests) that the
/// times meet. Returns the breaks and the covered stretches.
fn walk_chains(records: &[DigestRecord]) -> (Vec<ChainGap>, Vec<ChainSpan>) {
    let mut chains: BTreeMap<ChainKey, (String, Vec<usize>)> = BTreeMap::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if let (Some(file), Some(key)) = (&r.file, &r.delivery_key) {
            by_key
                .entry((file.bucket.clone(), key.clone()))
                .or_insert(i);
            if r.verified()
                && let Some((chain, name)) = ChainKey::of(file)
            {
                let label = chain.label(&name);
                chains
                    .entry(chain)
                    .or_insert_with(|| (label, Vec::new()))
                    .1
                    .push(i);
            }
        }
    }
    let mut gaps = Vec::new();
    let mut spans = Vec::new();
    for (chain, (label, mut members)) in chains {
        let file = |i: usize| records[i].file.as_ref().expect("verified digests decoded");
        members.sort_by_key(|&i| (file(i).end.time, records[i].label()));
        members.dedup_by_key(|i| file(*i).sha256);
        let mut run: Option<(DateTime<Utc>, DateTime<Utc>, usize)> = None;
        let mut previous: Option<usize> = None;
        for &b in &members {
            let fb = file(b);
            let gap = |after: Option<usize>, from: Option<DateTime<Utc>>, cause| ChainGap {
                chain: label.clone(),
                backfill: chain.backfill,
                after: after.map(|a| records[a].label()),
                before: records[b].label(),
                from,
                until: fb.start.time,
                cause,
            };
            let cause = link_fault(records, &by_key, previous, b, chain.backfill);
            match (cause, previous) {
                (None, Some(_)) => {
                    if let Some(r) = run.as_mut() {
                        r.1 = fb.end.time;
                        r.2 += 1;
                    }
                }
                (None, None) => {}
                (Some(cause), _) => {
                    if !chain.backfill
                        && let Some((from, until, digests)) = run.take()
                    {
                        spans.push(ChainSpan {
                            chain: label.clone(),
                            from,
                            until,
                            digests,
                        });
                    }
                    let from = previous.map(|a| file(a).end.time);
                    gaps.push(gap(previous, from, cause));
                }
            }
            if run.is_none() {
                run = Some((fb.start.time, fb.end.time, 1));
            }
            previous = Some(b);
        }
        if !chain.backfill
            && let Some((from, until, digests)) = run
        {
            spans.push(ChainSpan {
                chain: label.clone(),
                from,
                until,
                digests,
            });
        }
    }
    (gaps, spans)
}

/// What is wrong with the link from digest `b` back to `a` (the verified digest before it
/// in its chain, if any); `None` when the link holds or, for the oldest digest, when the
/// chain simply begins before the evidence.
fn link_fault(
    records: &[DigestRecord],
    by_key: &HashMap<(String, String), usize>,
    a: Option<usize>,
    b: usize,
    backfill: bool,
) -> Option<GapCause> {
    let fb = records[b].file.as_ref()?;
    let Some(prev) = &fb.previous else {
        // A starting digest. In a backfill chain each run of backfill digests may start
        // afresh; in the hourly chain it means the hours before it are not chained to it.
        return (a.is_some() && !backfill).then_some(GapCause::ChainRestarted);
    };
    let named = (
        prev.bucket.clone(),
        entry_index_key(&prev.bucket, &prev.object),
    );
    let object = prev.object.clone();
    match (by_key.get(&named).copied(), a) {
        (None, None) => None,
        (None, Some(_)) => Some(GapCause::MissingDigest { object }),
        (Some(x), _) if !records[x].verified() => Some(GapCause::UnusableDigest {
            object,
            fault: records[x]
                .outcome
                .as_ref()
                .err()
                .map(|f| f.to_string())
                .unwrap_or_default(),
        }),
        (Some(_), None) => None,
        (Some(x), Some(a))
            if x != a
                && records[x].file.as_ref().map(|f| f.sha256)
                    != records[a].file.as_ref().map(|f| f.sha256) =>
        {
            Some(GapCause::OutOfOrder { object })
        }
        (Some(_), Some(a)) => {
            let fa = records[a].file.as_ref()?;
            if prev.hash != fa.sha256 {
                Some(GapCause::PreviousHashMismatch { object })
            } else if Some(prev.signature.to_ascii_lowercase()) != records[a].signature {
                Some(GapCause::PreviousSignatureMismatch { object })
            } else if !backfill && fa.end.time != fb.start.time {
                Some(GapCause::Discontinuous {
                    previous_end: fa.end.text.clone(),
                    start: fb.start.text.clone(),
                })
            } else {
                None
            }
        }
    }
}

impl Validation {
    /// The verdict for one log file, given the SHA-256 of its inflated bytes. Cheap (one
    /// hash-map lookup): call it from the scan workers. An `S3` id matches only entries
    /// naming that bucket and key exactly; a `Local` one matches by delivery key.
    pub fn check_log(&self, id: &ObjectId, sha256: Option<&[u8; 32]>) -> LogVerdict {
        let listed = self.entries_for(&self.listed, id);
        if listed.is_empty() {
            return match self.entries_for(&self.listed_unverified, id).first() {
                Some(&(digest, _)) => LogVerdict::DigestUnusable { digest },
                None => LogVerdict::NotCovered,
            };
        }
        let hash = |&(d, e): &(usize, usize)| self.entry(d, e).hash;
        let first = hash(&listed[0]);
        if listed.iter().any(|x| hash(x) != first) {
            let mut digests: Vec<usize> = listed.iter().map(|&(d, _)| d).collect();
            digests.dedup();
            return LogVerdict::Conflict { digests };
        }
        let digest = listed[0].0;
        let Some(sha256) = sha256 else {
            return LogVerdict::NotHashed { digest };
        };
        if &first == sha256 {
            LogVerdict::Validated { digest }
        } else {
            LogVerdict::HashMismatch {
                digest,
                expected: first,
            }
        }
    }

    fn entry(&self, digest: usize, entry: usize) -> &LogEntry {
        &self.digests[digest]
            .file
            .as_ref()
            .expect("indexed digests decoded")
            .log_files[entry]
    }

    fn entries_for(
        &self,
        index: &HashMap<String, Vec<(usize, usize)>>,
        id: &ObjectId,
    ) -> Vec<(usize, usize)> {
        let key = match id {
            ObjectId::S3 { bucket, key } => entry_index_key(bucket, key),
            ObjectId::Local(_) => match id.delivery_key() {
                Some(k) => k,
                None => return Vec::new(),
            },
        };
        let Some(found) = index.get(&key) else {
            return Vec::new();
        };
        found
            .iter()
            .copied()
            .filter(|&(d, e)| match id {
                ObjectId::S3 { bucket, key } => {
                    let entry = self.entry(d, e);
                    &entry.bucket == bucket && &entry.object == key
                }
                ObjectId::Local(_) => true,
            })
            .collect()
    }

    /// The digest behind a verdict, for messages.
    pub fn digest(&self, index: usize) -> &DigestRecord {
        &self.digests[index]
    }

    /// Sums a run: the verdicts of the log files the scanner checked, and for each listed
    /// log file that none of them matched, whether it exists (`presence`).
    pub fn report(
        &self,
        checked: &[(ObjectId, LogVerdict)],
        mut presence: impl FnMut(&ListedLog) -> Presence,
    ) -> IntegrityReport {
        let mut report = IntegrityReport::default();
        let name = |d: usize| self.digests[d].label();
        let mut matched = std::collections::HashSet::new();
        for (id, verdict) in checked {
            matched.extend(self.entries_for(&self.listed, id));
            let file = id.to_string();
            match verdict {
                LogVerdict::Validated { digest } => report.files_validated.push(FileInDigest {
                    file,
                    digest: name(*digest),
                }),
                LogVerdict::HashMismatch { digest, expected } => {
                    report.hash_mismatches.push(HashMismatch {
                        file,
                        digest: name(*digest),
                        expected: hex::encode(expected),
                    })
                }
                LogVerdict::Conflict { digests } => report.conflicts.push(Conflict {
                    file,
                    digests: digests.iter().map(|&d| name(d)).collect(),
                }),
                LogVerdict::DigestUnusable { digest } => {
                    report.files_not_covered.push(NotCovered {
                        file,
                        reason: format!(
                            "listed only in {}, which could not be used: {}",
                            name(*digest),
                            self.digests[*digest]
                                .outcome
                                .as_ref()
                                .err()
                                .map(|f| f.to_string())
                                .unwrap_or_default()
                        ),
                    })
                }
                LogVerdict::NotCovered => report.files_not_covered.push(NotCovered {
                    file,
                    reason: "not listed in any digest".into(),
                }),
                LogVerdict::NotHashed { digest } => report.files_not_covered.push(NotCovered {
                    file,
                    reason: format!(
                        "listed in {}, found only after the file was read: not hashed",
                        name(*digest)
                    ),
                }),
            }
        }
        for (d, record) in self.digests.iter().enumerate() {
            match &record.outcome {
                Ok(_) => report.digests_verified += 1,
                Err(DigestFault::BadSignature { .. }) => {
                    report.bad_signatures.push(record.fault_report())
                }
                Err(DigestFault::UnknownKey { .. }) => {
                    report.unknown_keys.push(record.fault_report())
                }
                Err(_) => report.unusable_digests.push(record.fault_report()),
            }
            for note in &record.notes {
                report.notes.push(format!("{}: {note}", record.label()));
            }
            let Some(file) = record.file.as_ref().filter(|_| record.verified()) else {
                continue;
            };
            for (e, entry) in file.log_files.iter().enumerate() {
                if matched.contains(&(d, e)) {
                    continue;
                }
                let key = ObjectId::S3 {
                    bucket: entry.bucket.clone(),
                    key: entry.object.clone(),
                }
                .delivery_key();
                let listed = ListedLog {
                    digest: &record.id,
                    entry,
                    delivery_key: key.as_deref(),
                    digest_key: record.delivery_key.as_deref(),
                };
                match presence(&listed) {
                    Presence::Missing => report.listed_but_missing.push(MissingLog {
                        file: format!("s3://{}/{}", entry.bucket, entry.object),
                        digest: record.label(),
                        oldest_event: entry.oldest_event.as_ref().map(|s| s.time),
                        newest_event: entry.newest_event.as_ref().map(|s| s.time),
                    }),
                    Presence::Present => report.listed_not_read += 1,
                    Presence::NotLookedFor => report.listed_not_looked_for += 1,
                }
            }
        }
        report.digests_found = self.digests.len();
        report.chain_gaps = self.gaps.clone();
        report.covered = self.spans.clone();
        report.rejected_keys = self.rejected_keys.clone();
        report
    }
}

impl DigestRecord {
    fn fault_report(&self) -> DigestReport {
        DigestReport {
            digest: self.label(),
            fault: self.outcome.clone().err(),
        }
    }
}

/// A log file and the digest that speaks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInDigest {
    pub file: String,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashMismatch {
    pub file: String,
    pub digest: String,
    /// The SHA-256 the digest lists (hex).
    pub expected: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub file: String,
    pub digests: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotCovered {
    pub file: String,
    pub reason: String,
}

/// A log file a verified digest lists that is not in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingLog {
    pub file: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_event: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_event: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestReport {
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<DigestFault>,
}

/// What one run's integrity validation found (docs/integrity.md, "Results").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityReport {
    pub digests_found: usize,
    pub digests_verified: usize,
    pub files_validated: Vec<FileInDigest>,
    pub files_not_covered: Vec<NotCovered>,
    pub hash_mismatches: Vec<HashMismatch>,
    pub conflicts: Vec<Conflict>,
    pub listed_but_missing: Vec<MissingLog>,
    /// Listed, present, but not read by this run (not needed for its jobs).
    pub listed_not_read: usize,
    /// Listed, not looked for (outside what this run needed).
    pub listed_not_looked_for: usize,
    pub chain_gaps: Vec<ChainGap>,
    pub covered: Vec<ChainSpan>,
    pub bad_signatures: Vec<DigestReport>,
    pub unknown_keys: Vec<DigestReport>,
    pub unusable_digests: Vec<DigestReport>,
    pub rejected_keys: Vec<RejectedKey>,
    pub notes: Vec<String>,
}
