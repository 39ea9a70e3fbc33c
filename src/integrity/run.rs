//! Validation in a run (docs/integrity.md, "In a run"): sources hand in the digests they
//! found and the SHA-256 of every log file they read; [`conclude`] validates them once with
//! the trusted keys, sums the run's [`IntegrityReport`] and places each result in time so
//! that [`for_job`] can tell a job which of them bear on its window.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{
    DigestFault, DigestName, DigestSource, GapCause, IntegrityReport, KeyRing, ListedLog,
    LogVerdict, ObjectId, Presence, locate, validate,
};
use crate::model::TimeWindow;
use crate::timeline::problems::LATE_DELIVERY;
use crate::trail::scan::Hashing;

/// `--integrity`: what digest validation does to verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Validate whatever has digests; failures make the jobs they touch INCONCLUSIVE, log
    /// files without a digest are said, not held against the job.
    #[default]
    Auto,
    /// As auto, and a job is INCONCLUSIVE when any log file it relies on is not validated.
    Require,
    /// Read no digest, hash nothing.
    Off,
}

/// A log file a source read, with the SHA-256 of its inflated bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadLog {
    pub id: ObjectId,
    /// `None`: not hashed, as no digest read lists it ([`hash_wanted`]).
    pub sha256: Option<[u8; 32]>,
    /// Its records' time range, from its name (`None`: unknown).
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// What the sources of one run hand in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub digests: Vec<DigestSource>,
    pub logs: Vec<ReadLog>,
    /// Digests that could not be read at all, keys that could not be had.
    pub notes: Vec<String>,
    /// What `--trail s3://` downloads listed, to tell a listed-but-missing object.
    pub s3_listings: Vec<S3Listing>,
    /// CloudTrail keys a trusted source handed in: a live `ListPublicKeys` answer, or the one
    /// recorded in a bundle whose signature verified.
    pub keys: Vec<super::PublicKeyInput>,
}

/// The folders of one bucket a download listed in full, and every object key found in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Listing {
    pub bucket: String,
    /// Key prefixes ending in `/` (day folders, or whole Region folders).
    pub prefixes: Vec<String>,
    pub keys: std::collections::BTreeSet<String>,
}

impl Inputs {
    /// Adds what another source handed in; the same digest, log file or note handed in twice
    /// (a bundle and a trail directory holding one file) is kept once.
    pub fn extend(&mut self, other: &Inputs) {
        for d in &other.digests {
            if !self.digests.contains(d) {
                self.digests.push(d.clone());
            }
        }
        for l in &other.logs {
            if !self.logs.contains(l) {
                self.logs.push(l.clone());
            }
        }
        for n in &other.notes {
            if !self.notes.contains(n) {
                self.notes.push(n.clone());
            }
        }
        for k in &other.keys {
            if !self.keys.contains(k) {
                self.keys.push(k.clone());
            }
        }
        for l in &other.s3_listings {
            if !self.s3_listings.contains(l) {
                self.s3_listings.push(l.clone());
            }
        }
    }
}

/// How far around the log files read a digest is still read: a file delivered at T is
/// listed in the digest of the hour that holds T (delivered up to an hour or so later), and
/// the digest after it records its signature.
const DIGEST_LEAD: i64 = 1;
const DIGEST_TRAIL: i64 = 3;

/// The digests (`…/CloudTrail-Digest/…/*.json.gz`, sidecars beside them) under `root`
/// whose end time falls in `around` widened by the hours above (all of them when `None`).
/// Each directory is listed once, however many links lead to it.
pub fn local_digests(
    root: &Path,
    around: Option<(DateTime<Utc>, DateTime<Utc>)>,
    inputs: &mut Inputs,
) {
    let mut visited = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() || !visited.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            inputs
                .notes
                .push(format!("{}: cannot list directory", dir.display()));
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                stack.push(path);
            } else if let Some(end) = digest_end(&path)
                && digest_around(around, end)
            {
                match DigestSource::read_local(&path) {
                    Ok(source) => inputs.digests.push(source),
                    Err(e) => inputs
                        .notes
                        .push(format!("{}: digest not readable: {e}", path.display())),
                }
            }
        }
    }
}

/// Whether the digest ending at `end` is read for log files whose records span `around`
/// (widened by the hours above; every digest when `None`).
pub fn digest_around(around: Option<(DateTime<Utc>, DateTime<Utc>)>, end: DateTime<Utc>) -> bool {
    around.is_none_or(|(from, until)| {
        from - Duration::hours(DIGEST_LEAD) <= end && end <= until + Duration::hours(DIGEST_TRAIL)
    })
}

/// The end time a digest file's path names, when it is one (`None` for sidecars, log files
/// and other files).
pub fn digest_end(path: &Path) -> Option<DateTime<Utc>> {
    digest_end_of(&ObjectId::Local(path.to_path_buf()))
}

/// The end time a digest's name says, when the object is one in CloudTrail's digest tree.
pub fn digest_end_of(id: &ObjectId) -> Option<DateTime<Utc>> {
    let key = id.delivery_key()?;
    if locate::tree(&key) != locate::Tree::Digests {
        return None;
    }
    DigestName::parse(&key).map(|n| n.end)
}

/// The delivery keys (`AWSLogs/…`) of the log files the digests in `inputs` list, decoded
/// but not yet verified: the files worth hashing. A file no digest lists is *not covered*
/// whatever its hash, so it is read without hashing (docs/integrity.md, "Cost").
pub fn hash_wanted(inputs: &Inputs) -> HashSet<String> {
    inputs
        .digests
        .iter()
        .filter_map(|d| super::DigestFile::from_gzip(&d.gz).ok())
        .flat_map(|f| f.log_files)
        .filter_map(|e| {
            ObjectId::S3 {
                bucket: e.bucket,
                key: e.object,
            }
            .delivery_key()
        })
        .collect()
}

/// What a scan does with each log file for validation: the files [`hash_wanted`] names are
/// hashed; of those, the ones that digests already verified with the keys known before the
/// scan list consistently have the prefilter's whole-file check left to their digest
/// ([`Hashing::HashProves`]).
pub struct HashPlan {
    listed: HashSet<String>,
    verified: Option<super::Validation>,
}

impl HashPlan {
    /// For the digests in `inputs`; `keys`: the keys trusted before the scan
    /// (`--cloudtrail-public-keys`), if any.
    pub fn new(inputs: &Inputs, keys: Option<&KeyRing>) -> HashPlan {
        let listed = hash_wanted(inputs);
        let verified = keys
            .filter(|_| !listed.is_empty())
            .map(|k| validate(inputs.digests.clone(), k));
        HashPlan { listed, verified }
    }

    pub fn for_file(&self, id: &ObjectId) -> Hashing {
        if !id.delivery_key().is_some_and(|k| self.listed.contains(&k)) {
            return Hashing::Skip;
        }
        match self.verified.as_ref().map(|v| v.check_log(id, None)) {
            // Listed, with one hash, in verified digests: the hash decides.
            Some(LogVerdict::NotHashed { .. }) => Hashing::HashProves,
            _ => Hashing::Hash,
        }
    }
}

/// How one result bears on the jobs whose window it overlaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weight {
    /// Listed in a verified digest with its hash.
    Validated,
    /// No verified digest speaks for it: held against a job only under `require`.
    NotValidated,
    /// The evidence was changed, removed or forged: every job it overlaps is INCONCLUSIVE.
    Failure,
}

/// One validation result placed in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    pub weight: Weight,
    /// Names the file and the digest.
    pub message: String,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// What validation found in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIntegrity {
    pub mode: Mode,
    /// Keys trusted (`--cloudtrail-public-keys`, live `ListPublicKeys`, a trusted bundle).
    pub trusted_keys: usize,
    #[serde(flatten)]
    pub report: IntegrityReport,
    /// Every result, in time, for the rule.
    #[serde(skip)]
    pub placed: Vec<Placed>,
}

/// Validates what the sources handed in.
pub fn conclude(inputs: &Inputs, mode: Mode, keys: &KeyRing) -> RunIntegrity {
    let v = validate(inputs.digests.clone(), keys);
    let mut placed = Vec::new();
    let checked: Vec<(ObjectId, LogVerdict)> = inputs
        .logs
        .iter()
        .map(|log| {
            let verdict = v.check_log(&log.id, log.sha256.as_ref());
            let name = |d: usize| v.digest(d).id.to_string();
            let (weight, message) = match &verdict {
                LogVerdict::Validated { digest } => (
                    Weight::Validated,
                    format!("{} validated by {}", log.id, name(*digest)),
                ),
                LogVerdict::HashMismatch { digest, expected } => (
                    Weight::Failure,
                    format!(
                        "{}: hash mismatch: {} lists SHA-256 {}; the file changed after CloudTrail delivered it",
                        log.id,
                        name(*digest),
                        hex::encode(expected)
                    ),
                ),
                LogVerdict::Conflict { digests } => (
                    Weight::Failure,
                    format!(
                        "{}: verified digests list it with different hashes: {}",
                        log.id,
                        digests.iter().map(|&d| name(d)).collect::<Vec<_>>().join(", ")
                    ),
                ),
                LogVerdict::DigestUnusable { digest } => {
                    let fault = v.digest(*digest).outcome.as_ref().err();
                    let weight = match fault {
                        Some(DigestFault::BadSignature { .. }) => Weight::Failure,
                        _ => Weight::NotValidated,
                    };
                    (
                        weight,
                        format!(
                            "{}: listed only in {}, which could not be used: {}",
                            log.id,
                            name(*digest),
                            fault.map(ToString::to_string).unwrap_or_default()
                        ),
                    )
                }
                LogVerdict::NotCovered => (
                    Weight::NotValidated,
                    format!("{}: not listed in any digest", log.id),
                ),
                LogVerdict::NotHashed { digest } => (
                    Weight::NotValidated,
                    format!(
                        "{}: listed in {}, found only after the file was read: not hashed",
                        log.id,
                        name(*digest)
                    ),
                ),
            };
            placed.push(Placed {
                weight,
                message,
                from: log.from,
                until: log.until,
            });
            (log.id.clone(), verdict)
        })
        .collect();
    let mut report = v.report(&checked, |listed| presence(listed, &inputs.s3_listings));
    report.notes.extend(inputs.notes.iter().cloned());
    for m in &report.listed_but_missing {
        let named = crate::trail::file_time_range(&m.file);
        placed.push(Placed {
            weight: Weight::Failure,
            message: format!(
                "{}: listed in {} but missing: deleted or not copied",
                m.file, m.digest
            ),
            from: m.oldest_event.or(named.map(|n| n.0)),
            until: m.newest_event.or(named.map(|n| n.1)),
        });
    }
    for gap in &report.chain_gaps {
        let weight = match gap.cause {
            GapCause::ChainRestarted | GapCause::Discontinuous { .. } => Weight::NotValidated,
            _ => Weight::Failure,
        };
        placed.push(Placed {
            weight,
            message: format!(
                "chain gap in {} before {}: {}",
                gap.chain,
                gap.before,
                gap_cause(&gap.cause)
            ),
            from: gap.from,
            until: Some(gap.until),
        });
    }
    RunIntegrity {
        mode,
        trusted_keys: keys.len(),
        report,
        placed,
    }
}

/// Whether a log file a verified digest lists is there: on disk beside the digest's
/// `AWSLogs` folder; in S3, in the folder listings the download made (an object in no folder
/// listed is not looked for).
fn presence(listed: &ListedLog, s3: &[S3Listing]) -> Presence {
    if let Some(p) = listed.local_path() {
        return match p.is_file() {
            true => Presence::Present,
            false => Presence::Missing,
        };
    }
    let (bucket, key) = (&listed.entry.bucket, &listed.entry.object);
    let listing = s3
        .iter()
        .filter(|l| &l.bucket == bucket)
        .find(|l| l.prefixes.iter().any(|p| key.starts_with(p.as_str())));
    match listing {
        Some(l) if l.keys.contains(key) => Presence::Present,
        Some(_) => Presence::Missing,
        None => Presence::NotLookedFor,
    }
}

pub fn gap_cause(cause: &GapCause) -> String {
    match cause {
        GapCause::ChainRestarted => {
            "the chain restarts (validation or logging was off, or the trail was recreated)".into()
        }
        GapCause::MissingDigest { object } => {
            format!("the previous digest {object} is not in the evidence")
        }
        GapCause::UnusableDigest { object, fault } => {
            format!("the previous digest {object} could not be used: {fault}")
        }
        GapCause::Discontinuous {
            previous_end,
            start,
        } => format!("the previous digest ends at {previous_end}, this one starts at {start}"),
        GapCause::PreviousHashMismatch { object } => {
            format!("previousDigestHashValue is not the SHA-256 of {object}")
        }
        GapCause::PreviousSignatureMismatch { object } => {
            format!("previousDigestSignature is not the signature of {object}")
        }
        GapCause::OutOfOrder { object } => {
            format!("names {object}, not the digest before it in time")
        }
    }
}

/// What validation says about one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIntegrity {
    pub mode: Mode,
    pub digests_found: usize,
    pub validated: usize,
    pub failures: Vec<String>,
    pub not_validated: Vec<String>,
}

/// The results that bear on a job: those overlapping its window (widened by
/// [`LATE_DELIVERY`], as for evidence problems), all of them when the window is unknown.
pub fn for_job(run: &RunIntegrity, window: Option<&TimeWindow>) -> JobIntegrity {
    let mut job = JobIntegrity {
        mode: run.mode,
        digests_found: run.report.digests_found,
        validated: 0,
        failures: Vec::new(),
        not_validated: Vec::new(),
    };
    let widened = window.map(|w| TimeWindow {
        from: w.from - LATE_DELIVERY,
        until: w.until + LATE_DELIVERY,
    });
    for p in &run.placed {
        if widened.is_some_and(|w| !w.overlaps(p.from, p.until)) {
            continue;
        }
        match p.weight {
            Weight::Validated => job.validated += 1,
            Weight::NotValidated => job.not_validated.push(p.message.clone()),
            Weight::Failure => job.failures.push(p.message.clone()),
        }
    }
    job
}

/// The trusted keys: `--cloudtrail-public-keys FILE` and the keys trusted sources handed in.
pub fn load_keys(
    path: Option<&PathBuf>,
    handed_in: &[super::PublicKeyInput],
) -> anyhow::Result<KeyRing> {
    let mut inputs = handed_in.to_vec();
    if let Some(path) = path {
        let mut bytes = Vec::new();
        crate::input::read_regular(path, 16 << 20, &mut bytes)
            .map_err(|e| anyhow::anyhow!("--cloudtrail-public-keys {}: {e}", path.display()))?;
        inputs.extend(super::parse_list_public_keys(
            &bytes,
            &path.display().to_string(),
        )?);
    }
    Ok(KeyRing::build(inputs))
}
