//! Trail log files read straight from the trail's S3 bucket (`--trail s3://BUCKET[/PREFIX]`).
//!
//! The bucket is walked level by level (`AWSLogs/`, organization id, account, `CloudTrail/`,
//! Region) and, when a window is known, only the day folders that can hold its events are
//! listed. Objects are downloaded with bounded concurrency into a local folder that mirrors
//! their keys, where the same scanner as `--trail-dir` reads them. Every listing or download
//! that fails is an [`EvidenceProblem`] naming the S3 object or prefix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{Collector, LiveError, Options};
use crate::integrity::{DigestMetadata, sidecar_path};
use crate::model::{EvidenceProblem, ProblemScope, TimeWindow};
use crate::trail;

/// Downloads in flight at once.
const DOWNLOAD_CONCURRENCY: usize = 16;

/// `s3://BUCKET[/PREFIX]`, the trail's `S3BucketName` and `S3KeyPrefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailLocation {
    pub bucket: String,
    /// Without leading or trailing `/`; empty when the trail has no prefix.
    pub prefix: String,
}

impl TrailLocation {
    /// Parses `s3://BUCKET[/PREFIX]`.
    pub fn parse(uri: &str) -> Result<TrailLocation, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{uri:?}: expected s3://BUCKET[/PREFIX]"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{uri:?}: no bucket name"));
        }
        Ok(TrailLocation {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    fn logs_root(&self) -> String {
        if self.prefix.is_empty() {
            "AWSLogs/".into()
        } else {
            format!("{}/AWSLogs/", self.prefix)
        }
    }

    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// What a download produced: the local root to scan and what could not be fetched.
#[derive(Debug)]
pub struct Downloaded {
    pub objects: usize,
    pub bytes: u64,
    pub problems: Vec<EvidenceProblem>,
    /// The folders listed in full and the objects in them (a digest's listed log file that
    /// is not among them is missing from the bucket).
    pub listing: crate::integrity::run::S3Listing,
}

/// The day folders (`YYYY/MM/DD/`) whose log files can hold events of `window`: a file is
/// named for its delivery, up to [`trail::layout::DELIVERY_LAG_MARGIN`] after its events.
fn days(window: &TimeWindow) -> Vec<NaiveDate> {
    let first = (window.from - trail::layout::CLOCK_SKEW_MARGIN).date_naive();
    let last = (window.until + trail::layout::DELIVERY_LAG_MARGIN).date_naive();
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(d);
        d += Duration::days(1);
    }
    out
}

impl Collector {
    /// Common prefixes one level below `prefix`, or the error as a problem.
    async fn folders(
        &self,
        loc: &TrailLocation,
        prefix: &str,
    ) -> Result<Vec<String>, EvidenceProblem> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&loc.bucket)
                .prefix(prefix)
                .delimiter("/")
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    listing_problem(loc, prefix, &super::shapes::wire_error(&e).to_string())
                })?;
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Every object key under `prefix`.
    async fn keys_under(
        &self,
        loc: &TrailLocation,
        prefix: &str,
    ) -> Result<Vec<(String, i64)>, EvidenceProblem> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&loc.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    listing_problem(loc, prefix, &super::shapes::wire_error(&e).to_string())
                })?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| Some((o.key()?.to_owned(), o.size().unwrap_or(0)))),
            );
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// The `…/{tree}/{region}/` folders (`trees`: `CloudTrail`, `CloudTrail-Digest`) of
    /// every account (and organization) in the bucket, with the index of their tree.
    async fn region_folders(
        &self,
        loc: &TrailLocation,
        trees: &[&str],
        problems: &mut Vec<EvidenceProblem>,
    ) -> Vec<(usize, String)> {
        let mut accounts = Vec::new();
        match self.folders(loc, &loc.logs_root()).await {
            Ok(top) => {
                for f in top {
                    let name = f
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    if name.starts_with("o-") {
                        match self.folders(loc, &f).await {
                            Ok(inner) => accounts.extend(inner),
                            Err(p) => problems.push(p),
                        }
                    } else {
                        accounts.push(f);
                    }
                }
            }
            Err(p) => problems.push(p),
        }
        let mut regions = Vec::new();
        for account in accounts {
            // A Region found in either tree is listed in both: the log files of a Region
            // whose digests list them are looked for even when none is left.
            let mut names = std::collections::BTreeSet::new();
            for tree in trees {
                let folder = format!("{account}{tree}/");
                match self.folders(loc, &folder).await {
                    Ok(r) => names.extend(
                        r.into_iter()
                            .filter_map(|r| r.strip_prefix(&folder).map(str::to_owned)),
                    ),
                    Err(p) => problems.push(p),
                }
            }
            for (t, tree) in trees.iter().enumerate() {
                regions.extend(names.iter().map(|n| (t, format!("{account}{tree}/{n}"))));
            }
        }
        regions
    }

    /// Downloads the trail's log files that can hold events of `window` (all of them when
    /// `None`) into `dest`, mirroring their keys. With `digests`, also the digest files
    /// around the window (docs/integrity.md), each with its S3 user metadata (`signature`,
    /// `signature-algorithm`, which a plain download loses) written as the
    /// `NAME.json.gz.metadata.json` sidecar the trail-dir reader understands.
    pub async fn download_trail(
        &self,
        loc: &TrailLocation,
        window: Option<TimeWindow>,
        dest: &Path,
        digests: bool,
    ) -> Downloaded {
        let mut problems = Vec::new();
        let mut keys = Vec::new();
        let mut listing = crate::integrity::run::S3Listing {
            bucket: loc.bucket.clone(),
            ..Default::default()
        };
        let trees: &[&str] = if digests {
            &["CloudTrail", "CloudTrail-Digest"]
        } else {
            &["CloudTrail"]
        };
        for (tree, region) in self.region_folders(loc, trees, &mut problems).await {
            // A digest follows its log files by up to an hour, and the one after it (which
            // records its signature) by another: the reader keeps those ending from an hour
            // before the first log file read to three hours after the last.
            let around = window.map(|w| match tree {
                0 => w,
                _ => TimeWindow {
                    from: w.from - Duration::hours(2),
                    until: w.until + Duration::hours(4),
                },
            });
            let prefixes: Vec<String> = match &around {
                Some(w) => days(w)
                    .into_iter()
                    .map(|d| format!("{region}{}/", d.format("%Y/%m/%d")))
                    .collect(),
                None => vec![region.clone()],
            };
            for p in prefixes {
                match self.keys_under(loc, &p).await {
                    Ok(k) => {
                        listing.keys.extend(k.iter().map(|(k, _)| k.clone()));
                        listing.prefixes.push(p);
                        keys.extend(
                            k.into_iter()
                                .filter(|(k, _)| k.ends_with(".json.gz"))
                                .map(|(k, size)| (k, size, tree == 1)),
                        );
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
        let objects = keys.len();
        let fetches = keys
            .into_iter()
            .map(|(key, size, digest)| Fetch {
                bucket: loc.bucket.clone(),
                path: dest.join(&key),
                key,
                sidecar: digest,
                size,
            })
            // Fetched before into this folder (a later round, the next poll of
            // `submit --wait-for-evidence`): CloudTrail writes a log file (and a digest) once.
            .filter(|f| {
                !std::fs::metadata(&f.path).is_ok_and(|m| m.is_file() && m.len() == f.size as u64)
            })
            .collect();
        let (bytes, mut failed) = fetch_all(&self.s3, fetches).await;
        problems.append(&mut failed);
        Downloaded {
            objects,
            bytes,
            problems,
            listing,
        }
    }
}

/// One object to download to `path`; `sidecar`: a digest, whose user metadata is written
/// beside it; `size`: its listed size (`-1`: unknown).
pub struct Fetch {
    pub bucket: String,
    pub key: String,
    pub path: PathBuf,
    pub sidecar: bool,
    pub size: i64,
}

/// Downloads `fetches` with bounded concurrency; the bytes written, and a problem for each
/// object that could not be had, scoped to the time its name says.
async fn fetch_all(s3: &aws_sdk_s3::Client, fetches: Vec<Fetch>) -> (u64, Vec<EvidenceProblem>) {
    let permits = Arc::new(Semaphore::new(DOWNLOAD_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for f in fetches {
        let s3 = s3.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let got = match s3.get_object().bucket(&f.bucket).key(&f.key).send().await {
                Ok(out) => {
                    let metadata = out.metadata().cloned().unwrap_or_default();
                    out.body
                        .collect()
                        .await
                        .map(|b| (b.into_bytes(), metadata))
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(super::shapes::wire_error(&e).to_string()),
            };
            let written = got.and_then(|(bytes, metadata)| {
                let dir = f.path.parent().expect("keys have folders");
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&f.path, &bytes))
                    .and_then(|()| match f.sidecar && !metadata.is_empty() {
                        true => std::fs::write(
                            sidecar_path(&f.path),
                            DigestMetadata::from_map(metadata).to_sidecar_json(),
                        ),
                        false => Ok(()),
                    })
                    .map(|()| bytes.len() as u64)
                    .map_err(|e| e.to_string())
            });
            (f.bucket, f.key, written)
        });
    }
    let mut bytes = 0;
    let mut problems = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (bucket, key, written) = done.expect("download task does not panic");
        match written {
            Ok(n) => bytes += n,
            Err(reason) => {
                // A digest covers the hour before its end time.
                let (from, until) = match crate::integrity::DigestName::parse(&key) {
                    Some(d) => (Some(d.end - Duration::hours(1)), Some(d.end)),
                    None => trail::file_time_range(&key).unzip(),
                };
                problems.push(EvidenceProblem {
                    subject: format!("s3://{bucket}/{key}"),
                    reason: format!("download failed: {reason}"),
                    scope: ProblemScope::CloudTrail { from, until },
                });
            }
        }
    }
    (bytes, problems)
}

/// Downloads these objects (`collect` copying a trail's files into a bundle).
pub async fn download_objects(
    options: &Options,
    fetches: Vec<Fetch>,
) -> Result<Vec<EvidenceProblem>, LiveError> {
    if fetches.is_empty() {
        return Ok(Vec::new());
    }
    let collector = Collector::new(options).await?;
    Ok(fetch_all(&collector.s3, fetches).await.1)
}

fn listing_problem(loc: &TrailLocation, prefix: &str, reason: &str) -> EvidenceProblem {
    EvidenceProblem {
        subject: loc.uri(prefix),
        reason: format!("listing the trail's log files failed: {reason}"),
        scope: ProblemScope::CloudTrail {
            from: None,
            until: None,
        },
    }
}

/// Downloads every trail location's log files (and with `digests` its digest files) for
/// `window` under `dest`, one sub-folder per location (`dest/{n}/…`, keys mirrored).
pub async fn download_all(
    options: &Options,
    locations: &[TrailLocation],
    window: Option<TimeWindow>,
    dest: &Path,
    digests: bool,
) -> Result<Vec<(PathBuf, Downloaded)>, LiveError> {
    let collector = Collector::new(options).await?;
    let mut out = Vec::new();
    for (i, loc) in locations.iter().enumerate() {
        let root = dest.join(i.to_string());
        let got = collector.download_trail(loc, window, &root, digests).await;
        out.push((root, got));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn trail_uris() {
        assert_eq!(
            TrailLocation::parse("s3://logs/org/ct/").unwrap(),
            TrailLocation {
                bucket: "logs".into(),
                prefix: "org/ct".into()
            }
        );
        assert_eq!(
            TrailLocation::parse("s3://logs").unwrap().logs_root(),
            "AWSLogs/"
        );
        assert!(TrailLocation::parse("logs/x").is_err());
        assert!(TrailLocation::parse("s3:///x").is_err());
    }

    #[test]
    fn day_folders_cover_delivery_lag_across_midnight() {
        let w = TimeWindow {
            from: Utc.with_ymd_and_hms(2026, 11, 20, 0, 2, 0).unwrap(),
            until: Utc.with_ymd_and_hms(2026, 11, 20, 23, 30, 0).unwrap(),
        };
        let d: Vec<String> = days(&w).iter().map(|d| d.to_string()).collect();
        // 00:02 minus clock skew reaches back into the 19th; 23:30 plus lag into the 21st.
        assert_eq!(d, ["2026-11-19", "2026-11-20", "2026-11-21"]);
    }
}
