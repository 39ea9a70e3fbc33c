//! On-disk evidence bundles (`docs/evidence-bundle.md`): load, write what a source gathered,
//! and seal a hand-made one.
//!
//! Loading fails as a whole only when the bundle cannot be interpreted at all (no manifest,
//! wrong schema). Every other defect (a missing, altered, unlisted or unreadable file) is an
//! [`EvidenceProblem`] naming the file: the rest is still read, and the checks that needed the
//! file become INCONCLUSIVE downstream.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{CallRecord, Gathered, RecordedCalls, assemble, interpret, live};
use crate::input::{Limits, ReadError, read_regular};
use crate::integrity;
use crate::integrity::signed_bundle::{
    self, BundleSignatureError, SIGNATURE_FILE, TrustAnchor, parse_signature_file,
};
use crate::model::{Evidence, EvidenceProblem, ProblemScope, Provenance, TimeWindow, TrailEvent};
use crate::trail;

/// The manifest schema this version reads and writes.
pub const SCHEMA: &str = "textract-audit-bundle/v1";
const MANIFEST: &str = "manifest.json";

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: String,
    pub captured_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudtrail_window: Option<TimeWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
    /// Relative path -> lowercase hex SHA-256 of the file's bytes.
    pub files: BTreeMap<String, String>,
    /// Evidence the collector met but could not use; reported as skipped on every load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<EvidenceProblem>,
}

/// Why a bundle could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: not an evidence bundle directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("{}: missing; every evidence bundle starts with a manifest (see docs/evidence-bundle.md)", .0.display())]
    MissingManifest(PathBuf),
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: invalid manifest: {cause}", path.display())]
    Manifest {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{}: schema {found:?} is not supported (this version reads {SCHEMA:?})", path.display())]
    Schema { path: PathBuf, found: String },
    #[error("{}: already holds an evidence bundle; choose a new directory", .0.display())]
    Exists(PathBuf),
    #[error("evidence bundle {} refused, not verified: {reason}", dir.display())]
    Refused { dir: PathBuf, reason: String },
}

/// Where `write` puts the CloudTrail records a source read through `LookupEvents`.
pub const LOOKUP_EVENTS_FILE: &str = "cloudtrail/lookup-events.json";

/// Refuses a directory that already holds a bundle (before anything is written into it).
pub fn check_new(dir: &Path) -> Result<(), BundleError> {
    match dir.join(MANIFEST).exists() {
        true => Err(BundleError::Exists(dir.to_owned())),
        false => Ok(()),
    }
}

/// Writes what a source gathered as a bundle in `dir` (created if needed; a directory that
/// already holds a manifest is refused): `api/{service}/{Operation}.json` per operation,
/// the CloudTrail records as [`LOOKUP_EVENTS_FILE`] and a manifest with every file's
/// SHA-256, the files already written at the relative paths `written` included (the trail
/// files `collect` copies, docs/integrity.md). Returns the number of evidence files.
pub fn write(
    dir: &Path,
    gathered: &Gathered,
    collector: &str,
    written: &[String],
) -> Result<usize, BundleError> {
    check_new(dir)?;
    let manifest_path = dir.join(MANIFEST);
    let mut files = BTreeMap::new();
    let cap = Limits::current().max_file_bytes;
    let mut bytes = Vec::new();
    for rel in written {
        let path = dir.join(rel);
        read_regular(&path, cap, &mut bytes).map_err(|e| io(&path)(e.into()))?;
        files.insert(rel.clone(), sha256_hex(&bytes));
    }
    let mut put = |rel: String, bytes: Vec<u8>| -> Result<(), BundleError> {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::write(&path, &bytes).map_err(io(&path))?;
        files.insert(rel, sha256_hex(&bytes));
        Ok(())
    };
    for ((service, op), records) in &gathered.calls {
        let mut text = serde_json::to_string_pretty(records).expect("call records serialize");
        text.push('\n');
        put(format!("api/{service}/{op}.json"), text.into_bytes())?;
    }
    if gathered.cloudtrail_window.is_some() || !gathered.records.is_empty() {
        put(LOOKUP_EVENTS_FILE.to_owned(), gathered.log_file())?;
    }
    let manifest = Manifest {
        schema: SCHEMA.to_owned(),
        captured_at: gathered.provenance.captured_at,
        account: gathered.provenance.account.clone(),
        region: gathered.provenance.region.clone(),
        cloudtrail_window: gathered.cloudtrail_window,
        collector: Some(collector.to_owned()),
        files,
        problems: gathered.problems.clone(),
    };
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    text.push('\n');
    fs::write(&manifest_path, text).map_err(io(&manifest_path))?;
    Ok(manifest.files.len())
}

/// Signs the bundle written in `dir` (`collect --sign-key`): `manifest.sig.json` for the
/// manifest's bytes as they are on disk.
pub async fn sign(
    dir: &Path,
    signer: &live::bundle_key::BundleSigner,
    signed_at: DateTime<Utc>,
) -> anyhow::Result<signed_bundle::BundleSignature> {
    let manifest = read_manifest_bytes(dir)?;
    let sig = signer.sign(&manifest, signed_at).await?;
    let path = dir.join(SIGNATURE_FILE);
    fs::write(&path, signed_bundle::to_file(&sig)).map_err(io(&path))?;
    Ok(sig)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |cause| BundleError::Io {
        path: path.to_owned(),
        cause,
    }
}

/// Reads the manifest, checking the schema version.
pub fn read_manifest(dir: &Path) -> Result<Manifest, BundleError> {
    parse_manifest(dir, &read_manifest_bytes(dir)?)
}

/// The manifest's bytes, as they are on disk (what a bundle signature signs).
fn read_manifest_bytes(dir: &Path) -> Result<Vec<u8>, BundleError> {
    if !dir.is_dir() {
        return Err(BundleError::NotADirectory(dir.to_owned()));
    }
    let path = dir.join(MANIFEST);
    let mut bytes = Vec::new();
    match read_regular(&path, Limits::current().max_file_bytes, &mut bytes) {
        Ok(()) => Ok(bytes),
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(BundleError::MissingManifest(path))
        }
        Err(e) => Err(io(&path)(e.into())),
    }
}

fn parse_manifest(dir: &Path, bytes: &[u8]) -> Result<Manifest, BundleError> {
    let path = dir.join(MANIFEST);
    // Check the schema before the rest, so a future version gets the version message,
    // not a confusing complaint about an unknown field.
    #[derive(Deserialize)]
    struct Version {
        schema: Option<String>,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|cause| BundleError::Manifest {
            path: path.clone(),
            cause,
        })?;
    if version.schema.as_deref() != Some(SCHEMA) {
        return Err(BundleError::Schema {
            path,
            found: version.schema.unwrap_or_else(|| "(none)".into()),
        });
    }
    serde_json::from_slice(bytes).map_err(|cause| BundleError::Manifest { path, cause })
}

/// Evidence files under the bundle: everything below `cloudtrail/` and `api/`, as
/// `/`-separated relative paths. Other top-level files (README.md, notes) are not evidence.
/// Each directory is listed once, however many links lead to it (a link cycle ends).
fn evidence_files(dir: &Path) -> Result<Vec<String>, BundleError> {
    let mut out = Vec::new();
    let mut listed = HashSet::new();
    for top in ["cloudtrail", "api"] {
        let mut stack = vec![dir.join(top)];
        while let Some(d) = stack.pop() {
            let entries = match fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&d)(e)),
            };
            for entry in entries {
                let path = entry.map_err(io(&d))?.path();
                if let Ok(meta) = fs::metadata(&path)
                    && meta.is_dir()
                {
                    if listed.insert((meta.dev(), meta.ino())) {
                        stack.push(path);
                    }
                } else if let Ok(rel) = path.strip_prefix(dir) {
                    let rel: Vec<_> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect();
                    out.push(rel.join("/"));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a problem with `rel` takes away, from where the file sits in the bundle.
fn scope_of(rel: &str) -> ProblemScope {
    if rel.starts_with("cloudtrail/") {
        let (from, until) = trail::file_time_range(rel).unzip();
        ProblemScope::CloudTrail { from, until }
    } else {
        let service = rel.split('/').nth(1).unwrap_or_default();
        interpret::service_scope(service, None)
    }
}

/// Loads a bundle into the evidence model (its signature, if any, not checked).
pub fn load(dir: &Path) -> Result<Evidence, BundleError> {
    load_manifest(dir, &read_manifest_bytes(dir)?, false)
}

/// Loads a bundle whose signature must verify against `anchor` first (docs/integrity.md,
/// "Signed bundles"): a bundle whose signature is missing, unreadable, made by another key
/// or invalid is refused as a whole, never read. Without an anchor the bundle is loaded
/// as [`load`] does, and a signature in it is said to be unchecked. `aws` reaches KMS for
/// `--trust-key` (in the key ARN's Region).
pub fn load_checked(
    dir: &Path,
    anchor: Option<&TrustAnchor>,
    aws: &live::Options,
) -> Result<Evidence, BundleError> {
    let manifest = read_manifest_bytes(dir)?;
    let sig_path = dir.join(SIGNATURE_FILE);
    let mut sig_bytes = Vec::new();
    let sig = match read_regular(&sig_path, MAX_SIGNATURE_FILE, &mut sig_bytes) {
        Ok(()) => Some(parse_signature_file(&sig_bytes)),
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(BundleSignatureError::File(e.to_string()))),
    };
    let refuse = |reason: String| BundleError::Refused {
        dir: dir.to_owned(),
        reason,
    };
    let Some(anchor) = anchor else {
        let mut evidence = load_manifest(dir, &manifest, false)?;
        if let Some(sig) = sig {
            evidence.provenance.sources.push(match sig {
                Ok(sig) => format!(
                    "bundle signature by {} not checked (no --trust-key or --trust-public-key)",
                    sig.key_id
                ),
                Err(e) => format!("bundle {SIGNATURE_FILE} not checked and unreadable: {e}"),
            });
        }
        return Ok(evidence);
    };
    let sig = match sig {
        None => {
            return Err(refuse(format!(
                "no {SIGNATURE_FILE}: the bundle is unsigned (or `bundle seal` removed its signature)"
            )));
        }
        Some(Err(e)) => return Err(refuse(e.to_string())),
        Some(Ok(sig)) => sig,
    };
    match anchor {
        TrustAnchor::PublicKey { file, key } => signed_bundle::verify(&manifest, &sig, key)
            .map_err(|e| refuse(format!("{e} (trusted public key {})", file.display())))?,
        TrustAnchor::Kms { key_arn } => {
            let options = live::Options {
                region: live::bundle_key::key_arn_region(key_arn).map(str::to_owned),
                ..aws.clone()
            };
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(io(dir))?
                .block_on(live::bundle_key::verify(&options, key_arn, &manifest, &sig))
                .map_err(|e| refuse(e.to_string()))?;
        }
    }
    let mut evidence = load_manifest(dir, &manifest, true)?;
    evidence.provenance.sources.push(format!(
        "bundle signature verified: {} with {}, signed at {}, checked against {}",
        sig.key_id,
        sig.signing_algorithm,
        crate::model::rfc3339(sig.signed_at),
        anchor
    ));
    Ok(evidence)
}

/// The largest signature file read.
const MAX_SIGNATURE_FILE: u64 = 64 << 10;

/// Loads the bundle with these manifest bytes; `trusted`: its signature verified, so the
/// CloudTrail keys it recorded (`ListPublicKeys`) are trusted too.
fn load_manifest(
    dir: &Path,
    manifest_bytes: &[u8],
    trusted: bool,
) -> Result<Evidence, BundleError> {
    let manifest = parse_manifest(dir, manifest_bytes)?;
    let mut problems = manifest.problems.clone();
    let mut problem = |rel: &str, reason: String| {
        problems.push(EvidenceProblem {
            subject: dir.join(rel).display().to_string(),
            reason,
            scope: scope_of(rel),
        });
    };

    let on_disk = evidence_files(dir)?;
    for rel in &on_disk {
        if !manifest.files.contains_key(rel) {
            problem(rel, "not listed in manifest.json; not used".into());
        }
    }

    let root = fs::canonicalize(dir).map_err(io(dir))?;
    let cap = Limits::current().max_file_bytes;
    let mut events: Vec<TrailEvent> = Vec::new();
    let mut calls = RecordedCalls::new();
    let mut log_files_read = 0usize;
    let mut integrity_inputs = integrity::run::Inputs::default();
    let mut bytes = Vec::new();
    let mut refused = Vec::new();
    for (rel, want) in &manifest.files {
        let path = match inside(&root, rel) {
            Ok(path) => path,
            Err(Outside::Path(why)) => {
                refused.push(EvidenceProblem {
                    subject: dir.join(MANIFEST).display().to_string(),
                    reason: format!("files entry {rel:?} {why}: refused, not read"),
                    scope: scope_of(rel),
                });
                continue;
            }
            Err(Outside::Unreadable(e)) => {
                problem(rel, format!("listed in manifest.json but unreadable: {e}"));
                continue;
            }
        };
        if let Err(e) = read_regular(&path, cap, &mut bytes) {
            problem(rel, format!("listed in manifest.json but unreadable: {e}"));
            continue;
        }
        let got = sha256_hex(&bytes);
        if !got.eq_ignore_ascii_case(want) {
            problem(
                rel,
                format!("SHA-256 {got} does not match the manifest's {want}; not used"),
            );
            continue;
        }
        if rel.starts_with("cloudtrail/") {
            if rel.contains("CloudTrail-Digest") {
                let at = dir.join(rel);
                if integrity::run::digest_end(&at).is_some() {
                    // Integrity evidence (docs/integrity.md): validated once the run has
                    // every source; its sidecar is read with it.
                    integrity_inputs.digests.push(integrity::DigestSource {
                        metadata: integrity::read_sidecar(&at),
                        id: integrity::ObjectId::Local(at),
                        gz: bytes.clone(),
                    });
                } else if !integrity::sidecar::is_sidecar(&at) {
                    problem(
                        rel,
                        "a digest file, not a log file; not read as records".into(),
                    );
                }
                continue;
            }
            let (sha256, decoded) = trail::decode_log_file_hashed(rel, &bytes);
            // The recorded LookupEvents answer is an API answer, as in the live run, not a
            // delivered log file: no digest can list it.
            if let Some(sha256) = sha256.filter(|_| rel != LOOKUP_EVENTS_FILE) {
                let (from, until) = trail::file_time_range(rel).unzip();
                integrity_inputs.logs.push(integrity::run::ReadLog {
                    id: integrity::ObjectId::Local(dir.join(rel)),
                    sha256: Some(sha256),
                    from,
                    until,
                });
            }
            match decoded {
                Ok(records) => {
                    log_files_read += 1;
                    events.extend(records);
                }
                Err(e) => problem(rel, format!("{e}; the file's records are not used")),
            }
        } else if let Some((service, op)) = api_file(rel) {
            match serde_json::from_slice::<Vec<CallRecord>>(&bytes) {
                Ok(records) => calls
                    .entry((service.to_owned(), op.to_owned()))
                    .or_default()
                    .extend(records),
                Err(e) => problem(rel, format!("invalid recorded calls: {e}; not used")),
            }
        } else {
            problem(rel, "not an evidence file this version reads (expected cloudtrail/… or api/{service}/{Operation}.json)".into());
        }
    }
    problems.append(&mut refused);
    let (service, op) = live::public_keys::OPERATION;
    if let Some(records) = calls
        .get(&(service.to_owned(), op.to_owned()))
        .filter(|r| !r.is_empty())
    {
        let origin = dir.join(format!("api/{service}/{op}.json"));
        if trusted {
            let (keys, notes) =
                live::public_keys::recorded_keys(records, &origin.display().to_string());
            integrity_inputs.keys.extend(keys);
            integrity_inputs.notes.extend(notes);
        } else {
            // Keys recorded in a bundle come from the bundle: whoever edited it could have
            // put their own there, with digests they signed.
            integrity_inputs.notes.push(format!(
                "{}: the recorded ListPublicKeys answer is not used, as the bundle's signature \
                 was not verified (--trust-key or --trust-public-key); give \
                 --cloudtrail-public-keys FILE from AWS, or digests have unknown keys",
                origin.display()
            ));
        }
    }
    // A window claimed with no CloudTrail log file to back it proves nothing.
    let cloudtrail_window = match manifest.cloudtrail_window {
        Some(w) if log_files_read == 0 => {
            problems.push(EvidenceProblem {
                subject: "manifest.json cloudtrail_window".into(),
                reason: format!(
                    "claims CloudTrail from {} to {} but no CloudTrail log file of the bundle \
                     could be read; the claim is not used",
                    crate::model::rfc3339(w.from),
                    crate::model::rfc3339(w.until)
                ),
                scope: ProblemScope::CloudTrail {
                    from: Some(w.from),
                    until: Some(w.until),
                },
            });
            None
        }
        w => w,
    };

    let provenance = Provenance {
        sources: vec![format!("bundle {}", dir.display())],
        account: manifest.account,
        region: manifest.region,
        captured_at: manifest.captured_at,
    };
    let mut evidence = assemble(provenance, &calls, events, cloudtrail_window, problems);
    evidence.integrity_inputs = Box::new(integrity_inputs);
    Ok(evidence)
}

/// Why a manifest path is not read.
enum Outside {
    /// It names something outside the bundle (or could): never opened, never hashed.
    Path(&'static str),
    /// It is inside as written but cannot be resolved (missing, permissions).
    Unreadable(std::io::Error),
}

/// The file a manifest path names, when it is inside the bundle `root` (canonical): a
/// relative `/`-separated path of plain names (no `..`, `.`, empty parts or absolute
/// paths) that, links resolved, still ends up under `root`. Checked before the file is
/// opened, so the report can never carry the hash of a file outside the bundle.
fn inside(root: &Path, rel: &str) -> Result<PathBuf, Outside> {
    if rel.starts_with('/') {
        return Err(Outside::Path("is an absolute path"));
    }
    if rel
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == ".." || part.contains('\0'))
    {
        return Err(Outside::Path(
            "is not a plain relative path (empty, `.` or `..` parts)",
        ));
    }
    let resolved = fs::canonicalize(root.join(rel)).map_err(Outside::Unreadable)?;
    if !resolved.starts_with(root) {
        return Err(Outside::Path("leads outside the bundle through a link"));
    }
    Ok(resolved)
}

/// `api/{service}/{Operation}.json` -> `(service, Operation)`.
fn api_file(rel: &str) -> Option<(&str, &str)> {
    let rest = rel.strip_prefix("api/")?;
    let (service, file) = rest.split_once('/')?;
    let op = file.strip_suffix(".json")?;
    (!op.contains('/')).then_some((service, op))
}

/// Recomputes `files` in the manifest of a bundle assembled by hand; a folder without a
/// manifest gets a new one, captured at `captured_at` (an existing manifest keeps its own).
pub fn seal(dir: &Path, captured_at: DateTime<Utc>) -> Result<Sealed, BundleError> {
    let (mut manifest, created) = match read_manifest(dir) {
        Ok(manifest) => (manifest, false),
        Err(BundleError::MissingManifest(_)) => (
            Manifest {
                schema: SCHEMA.into(),
                captured_at,
                account: None,
                region: None,
                cloudtrail_window: None,
                collector: Some(format!(
                    "{} {} bundle seal",
                    env!("CARGO_PKG_NAME"),
                    env!("CARGO_PKG_VERSION")
                )),
                files: BTreeMap::new(),
                problems: Vec::new(),
            },
            true,
        ),
        Err(e) => return Err(e),
    };
    // The manifest is about to change: the signature over the old one would only fail.
    let sig_path = dir.join(SIGNATURE_FILE);
    let dropped_signature = match fs::remove_file(&sig_path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(&sig_path)(e)),
    };
    manifest.files.clear();
    let cap = Limits::current().max_file_bytes;
    let mut bytes = Vec::new();
    for rel in evidence_files(dir)? {
        let path = dir.join(&rel);
        read_regular(&path, cap, &mut bytes).map_err(|e| io(&path)(e.into()))?;
        manifest.files.insert(rel, sha256_hex(&bytes));
    }
    let path = dir.join(MANIFEST);
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    text.push('\n');
    fs::write(&path, text).map_err(io(&path))?;
    Ok(Sealed {
        files: manifest.files.len(),
        created,
        dropped_signature,
    })
}

/// What `bundle seal` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// Evidence files listed in the manifest.
    pub files: usize,
    /// The folder had no manifest: a new one was written (captured now, or at the time given;
    /// no account, Region or CloudTrail window claimed).
    pub created: bool,
    /// The bundle was signed: `manifest.sig.json` was removed (it signed the old manifest;
    /// `--trust-key`/`--trust-public-key` refuse the bundle until it is signed again).
    pub dropped_signature: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_file_names() {
        assert_eq!(
            api_file("api/s3/HeadObject.json"),
            Some(("s3", "HeadObject"))
        );
        assert_eq!(api_file("api/s3/x/HeadObject.json"), None);
        assert_eq!(api_file("api/s3/HeadObject.txt"), None);
    }

    #[test]
    fn problems_in_cloudtrail_files_are_scoped_by_the_file_time() {
        match scope_of("cloudtrail/1_CloudTrail_us-east-1_20261120T1005Z_ab.json.gz") {
            ProblemScope::CloudTrail { from, until } => {
                assert!(from.is_some() && until.is_some())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(scope_of("api/kms/DescribeKey.json"), ProblemScope::Kms);
    }
}
