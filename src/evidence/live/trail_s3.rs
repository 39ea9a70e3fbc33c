//! Trail log files read straight from the trail's S3 bucket (`--trail s3://BUCKET[/PREFIX]`).
//!
//! The bucket is walked level by level (`AWSLogs/`, organization id, account, `CloudTrail/`,
//! Region) and, when a window is known, only the day folders that can hold its events are
//! listed. Log files stream from S3 into the same scanner as `--trail-dir`'s, with bounded
//! concurrency and a bounded number of bytes between download and scan; nothing is written
//! to disk (`collect` alone writes the files it copies into a bundle). Every listing or
//! download that fails is an [`EvidenceProblem`] naming the S3 object or prefix.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use tokio::sync::Semaphore;

use super::{Collector, LiveError, Options};
use crate::integrity::{DigestMetadata, DigestSource};
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
    ) -> Result<Vec<(String, u64)>, EvidenceProblem> {
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
                    // A size S3 did not give (or a negative one) reads as 0: the download then
                    // refuses any byte as more than listed, by name.
                    .filter_map(|o| {
                        let size = o.size().and_then(|n| u64::try_from(n).ok());
                        Some((o.key()?.to_owned(), size.unwrap_or(0)))
                    }),
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

    /// The trail's objects that can hold events of `window` (all of them when `None`): log
    /// files, and with `digests` the digest files around the window (docs/integrity.md).
    async fn list_trail(
        &self,
        loc: &TrailLocation,
        window: Option<TimeWindow>,
        digests: bool,
    ) -> TrailKeys {
        let mut listed = TrailKeys {
            logs: Vec::new(),
            digests: Vec::new(),
            problems: Vec::new(),
            listing: crate::integrity::run::S3Listing {
                bucket: loc.bucket.clone(),
                ..Default::default()
            },
        };
        let trees: &[&str] = if digests {
            &["CloudTrail", "CloudTrail-Digest"]
        } else {
            &["CloudTrail"]
        };
        for (tree, region) in self.region_folders(loc, trees, &mut listed.problems).await {
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
                        listed.listing.keys.extend(k.iter().map(|(k, _)| k.clone()));
                        listed.listing.prefixes.push(p);
                        // A zero-byte key ending in `/` is a console folder, not an object.
                        let objects = k.into_iter().filter(|(k, _)| !k.ends_with('/'));
                        match tree {
                            0 => listed.logs.extend(objects),
                            _ => listed
                                .digests
                                .extend(objects.filter(|(k, _)| k.ends_with(".json.gz"))),
                        }
                    }
                    Err(e) => listed.problems.push(e),
                }
            }
        }
        listed
    }
}

/// What [`TrailReader::list`] found: keys with their listed sizes.
#[derive(Debug, Default)]
pub struct TrailKeys {
    /// Every object under the log tree's folders listed.
    pub logs: Vec<(String, u64)>,
    /// The digest files (`.json.gz`) under the digest tree's folders listed.
    pub digests: Vec<(String, u64)>,
    pub problems: Vec<EvidenceProblem>,
    /// The folders listed in full and the objects in them (a digest's listed log file that
    /// is not among them is missing from the bucket).
    pub listing: crate::integrity::run::S3Listing,
}

/// Reads a trail's bucket for a run: lists it, fetches its digests and streams its log
/// files, with one client for all the run's rounds.
pub struct TrailReader {
    collector: Collector,
}

/// One log file handed to the scanner: its index in the scanned list, its bytes (or why
/// they could not be had), and the share of the byte budget it holds until taken.
pub type Streamed = (
    usize,
    Result<Arc<Vec<u8>>, String>,
    Option<tokio::sync::OwnedSemaphorePermit>,
);

/// Bytes of log files downloaded but not yet taken by the scanner, at most.
pub const STREAM_BUDGET_BYTES: u64 = 64 << 20;

impl TrailReader {
    pub async fn new(options: &Options) -> Result<TrailReader, LiveError> {
        Ok(TrailReader {
            collector: Collector::new(options).await?,
        })
    }

    /// The log files (and with `digests` the digest files) that can hold events of
    /// `window` (every one when `None`), as [`Collector::list_trail`] lists them.
    pub async fn list(
        &self,
        loc: &TrailLocation,
        window: Option<TimeWindow>,
        digests: bool,
    ) -> TrailKeys {
        self.collector.list_trail(loc, window, digests).await
    }

    /// Fetches these digest files with their S3 user metadata (`signature`,
    /// `signature-algorithm`, which a plain download loses), and a problem naming each that
    /// could not be had.
    pub async fn digests(
        &self,
        bucket: &str,
        keys: Vec<(String, u64)>,
    ) -> (Vec<DigestSource>, Vec<EvidenceProblem>) {
        let s3 = &self.collector.s3;
        let fetches =
            keys.into_iter().map(|(key, size)| async move {
                let cap = size.min(crate::integrity::MAX_DIGEST_FILE);
                match get(s3, bucket, &key, size, cap).await {
                    Ok((gz, metadata)) => Ok(DigestSource {
                        id: crate::integrity::ObjectId::S3 {
                            bucket: bucket.to_owned(),
                            key,
                        },
                        gz,
                        metadata: Ok(
                            (!metadata.is_empty()).then(|| DigestMetadata::from_map(metadata))
                        ),
                    }),
                    Err(reason) => Err(download_problem(bucket, &key, &reason)),
                }
            });
        let (mut sources, mut problems): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
        for got in futures_bounded(fetches).await {
            match got {
                Ok(d) => sources.push(d),
                Err(p) => problems.push(p),
            }
        }
        sources.sort_by(|a, b| a.id.cmp(&b.id));
        problems.sort_by(|a, b| a.subject.cmp(&b.subject));
        (sources, problems)
    }

    /// Downloads `objects` (`(index, key, listed size)`) of `bucket` with bounded
    /// concurrency, each handed to `to` as it arrives; at most [`STREAM_BUDGET_BYTES`] are
    /// held between download and scan (a file larger than that alone). An object larger
    /// than `cap`, or than its listed size (changed since listed), is refused unread.
    /// `keep` sees every downloaded file first (a cache for the run's later rounds).
    pub async fn stream(
        &self,
        bucket: &str,
        objects: Vec<(usize, String, u64)>,
        cap: u64,
        to: tokio::sync::mpsc::UnboundedSender<Streamed>,
        keep: &(dyn Fn(&str, &Arc<Vec<u8>>) + Sync),
    ) {
        let budget = Arc::new(Semaphore::new(kib(STREAM_BUDGET_BYTES)));
        let s3 = &self.collector.s3;
        let fetches = objects.into_iter().map(|(index, key, size)| {
            let budget = budget.clone();
            let to = to.clone();
            async move {
                let share = kib(size.min(STREAM_BUDGET_BYTES)).max(1);
                let permit = budget
                    .acquire_many_owned(share as u32)
                    .await
                    .expect("semaphore open");
                let got = get(s3, bucket, &key, size, cap).await.map(|(bytes, _)| {
                    let bytes = Arc::new(bytes);
                    keep(&key, &bytes);
                    bytes
                });
                // The scanner stopped taking files only when it is done: nothing to do.
                let _ = to.send((index, got, Some(permit)));
            }
        });
        futures_bounded(fetches).await;
    }
}

/// Whole KiB, rounded up, for the byte budget's permits.
fn kib(bytes: u64) -> usize {
    bytes.div_ceil(1024) as usize
}

/// Runs `futures` with at most [`DOWNLOAD_CONCURRENCY`] at a time; results as they come.
async fn futures_bounded<T>(futures: impl IntoIterator<Item = impl Future<Output = T>>) -> Vec<T> {
    use futures_util::StreamExt as _;
    futures_util::stream::iter(futures)
        .buffer_unordered(DOWNLOAD_CONCURRENCY)
        .collect()
        .await
}

/// An object's bytes and its user metadata, read at most `cap` bytes and no more than
/// `listed` (the size its listing gave: more means it changed since).
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    listed: u64,
    cap: u64,
) -> Result<(Vec<u8>, std::collections::HashMap<String, String>), String> {
    if listed > cap {
        return Err(format!(
            "listed at {listed} bytes, more than the {cap} read from one file (see docs/limits.md)"
        ));
    }
    let mut out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| super::shapes::wire_error(&e).to_string())?;
    let metadata = out.metadata().cloned().unwrap_or_default();
    let mut bytes = Vec::with_capacity(listed as usize);
    while let Some(chunk) = out.body.try_next().await.map_err(|e| e.to_string())? {
        if (bytes.len() + chunk.len()) as u64 > listed {
            return Err(format!(
                "more than the {listed} bytes its listing gave: changed since listed, not read"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, metadata))
}

/// A download that failed, scoped to the time the object's name says (a digest covers the
/// hour before its end time).
fn download_problem(bucket: &str, key: &str, reason: &str) -> EvidenceProblem {
    let (from, until) = match crate::integrity::DigestName::parse(key) {
        Some(d) => (Some(d.end - Duration::hours(1)), Some(d.end)),
        None => trail::file_time_range(key).unzip(),
    };
    EvidenceProblem {
        subject: format!("s3://{bucket}/{key}"),
        reason: format!("download failed: {reason}"),
        scope: ProblemScope::CloudTrail { from, until },
    }
}

/// One object to download to `path`; `size`: its listed size (`-1`: unknown).
pub struct Fetch {
    pub bucket: String,
    pub key: String,
    pub path: PathBuf,
    pub size: i64,
}

/// Downloads `fetches` to disk with bounded concurrency; a problem for each object that
/// could not be had.
async fn fetch_all(s3: &aws_sdk_s3::Client, fetches: Vec<Fetch>) -> Vec<EvidenceProblem> {
    let cap = crate::input::Limits::current().max_file_bytes;
    let done = futures_bounded(fetches.into_iter().map(|f| async move {
        let listed = u64::try_from(f.size).unwrap_or(cap);
        let written = get(s3, &f.bucket, &f.key, listed, cap)
            .await
            .and_then(|(bytes, _)| {
                let dir = f.path.parent().expect("keys have folders");
                std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&f.path, &bytes))
                    .map_err(|e| e.to_string())
            });
        (f, written)
    }))
    .await;
    let mut problems: Vec<EvidenceProblem> = done
        .into_iter()
        .filter_map(|(f, written)| {
            let reason = written.err()?;
            Some(download_problem(&f.bucket, &f.key, &reason))
        })
        .collect();
    problems.sort_by(|a, b| a.subject.cmp(&b.subject));
    problems
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
    Ok(fetch_all(&collector.s3, fetches).await)
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
