//! `collect` copying the trail files a run validated into the bundle (docs/integrity.md,
//! "In a bundle"), so that the bundle's own verification validates the same log files
//! against the same digests: every digest read (with its S3 metadata as a sidecar), every
//! log file read, and every log file those digests list that the source has. Files go under
//! [`TRAIL_ROOT`] by their delivery key (`AWSLogs/…`), one tree, so that a digest's listed
//! log files lie beside it as in the bucket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::locate::local_sibling;
use super::run::Inputs;
use super::{DigestFile, ObjectId};
use crate::evidence::live::{self, trail_s3};
use crate::model::{EvidenceProblem, ProblemScope};

/// Where the copies go in a bundle.
pub const TRAIL_ROOT: &str = "cloudtrail/trails";

/// What was copied: bundle-relative paths of the files written, and what could not be.
#[derive(Debug, Default)]
pub struct Copied {
    pub files: Vec<String>,
    pub problems: Vec<EvidenceProblem>,
}

/// Where one copy comes from.
enum From {
    Bytes(Vec<u8>),
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

/// Copies into the bundle directory `dir` (not yet sealed). Nothing when the run found no
/// digest: without one nothing could be validated, and the jobs' records are in the bundle
/// already (`cloudtrail/lookup-events.json`).
pub async fn copy_into(
    dir: &Path,
    inputs: &Inputs,
    aws: &live::Options,
) -> std::io::Result<Copied> {
    let mut copied = Copied::default();
    if inputs.digests.is_empty() {
        return Ok(copied);
    }
    let mut plan: BTreeMap<String, From> = BTreeMap::new();
    let rel = |id: &ObjectId| id.delivery_key().map(|k| format!("{TRAIL_ROOT}/{k}"));
    let source = |id: &ObjectId| match id {
        ObjectId::Local(path) => From::Local(path.clone()),
        ObjectId::S3 { bucket, key } => From::S3 {
            bucket: bucket.clone(),
            key: key.clone(),
        },
    };
    for d in &inputs.digests {
        let Some(at) = rel(&d.id) else { continue };
        if let Ok(Some(meta)) = &d.metadata {
            plan.entry(format!("{at}{}", super::sidecar::SIDECAR_SUFFIX))
                .or_insert(From::Bytes(meta.to_sidecar_json()));
        }
        plan.entry(at).or_insert(From::Bytes(d.gz.clone()));
        // The log files it lists that the source has (read or not).
        let (Ok(file), Some(digest_key)) = (DigestFile::from_gzip(&d.gz), d.id.delivery_key())
        else {
            continue;
        };
        for entry in &file.log_files {
            let listed = ObjectId::S3 {
                bucket: entry.bucket.clone(),
                key: entry.object.clone(),
            };
            let (Some(log_key), Some(at)) = (listed.delivery_key(), rel(&listed)) else {
                continue;
            };
            let present = match &d.id {
                ObjectId::Local(path) => local_sibling(path, &digest_key, &log_key)
                    .filter(|p| p.is_file())
                    .map(From::Local),
                ObjectId::S3 { .. } => inputs
                    .s3_listings
                    .iter()
                    .any(|l| l.bucket == entry.bucket && l.keys.contains(&entry.object))
                    .then(|| source(&listed)),
            };
            if let Some(from) = present {
                plan.entry(at).or_insert(from);
            }
        }
    }
    for log in &inputs.logs {
        if let Some(at) = rel(&log.id) {
            plan.entry(at).or_insert_with(|| source(&log.id));
        }
    }

    let mut fetches = Vec::new();
    for (at, from) in plan {
        let path = dir.join(&at);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match from {
            From::Bytes(bytes) => std::fs::write(&path, bytes)?,
            From::Local(src) => match std::fs::copy(&src, &path) {
                Ok(_) => {}
                Err(e) => {
                    copied.problems.push(EvidenceProblem {
                        subject: src.display().to_string(),
                        reason: format!("not copied into the bundle: {e}"),
                        scope: scope_of(&at),
                    });
                    continue;
                }
            },
            From::S3 { bucket, key } => {
                fetches.push(trail_s3::Fetch {
                    bucket,
                    key,
                    path,
                    size: -1,
                });
                continue;
            }
        }
        copied.files.push(at);
    }
    let fetched: Vec<(String, PathBuf)> = fetches
        .iter()
        .map(|f| {
            (
                f.path.strip_prefix(dir).map(rel_string).unwrap_or_default(),
                f.path.clone(),
            )
        })
        .collect();
    match trail_s3::download_objects(aws, fetches).await {
        Ok(problems) => copied.problems.extend(problems),
        Err(e) => copied.problems.push(EvidenceProblem {
            subject: "trail log files for the bundle".into(),
            reason: format!("not downloaded: {e}"),
            scope: ProblemScope::CloudTrail {
                from: None,
                until: None,
            },
        }),
    }
    copied.files.extend(
        fetched
            .into_iter()
            .filter(|(_, p)| p.is_file())
            .map(|(at, _)| at),
    );
    copied.files.sort();
    Ok(copied)
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn scope_of(rel: &str) -> ProblemScope {
    let (from, until) = crate::trail::file_time_range(rel).unzip();
    ProblemScope::CloudTrail { from, until }
}
