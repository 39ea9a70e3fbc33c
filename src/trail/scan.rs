//! Stage 1b (trail files), step 4: the parallel scan of listed log files.
//!
//! Each worker takes the next file, reads it, inflates it into its own reused buffer, runs
//! the [`RecordFilter`] prefilter over the whole file, and only when that may match splits
//! `Records` into raw record slices (serde_json `RawValue`, no trees) and parses the
//! records that pass the prefilter. Memory is bounded by one file per worker plus the
//! matched events. A file that fails anywhere loses all its records and becomes an
//! [`EvidenceProblem`]: a partial file could hide the decisive event.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::input::{Limits, read_regular};
use crate::model::{EvidenceProblem, TimeWindow, TrailEvent};

use super::filter::RecordFilter;
use super::inflate::Inflater;
use super::layout::{Listing, TrailDirError, TrailFile, list_trail_dir};
use super::{TrailFileError, log_json};

/// Counters a scan updates as it goes, for a progress display (read them from another
/// thread while [`scan_files`] runs).
#[derive(Debug, Default)]
pub struct ScanProgress {
    pub files_total: AtomicU64,
    /// Size on disk of the files to scan, for a progress bar in bytes.
    pub bytes_compressed_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_compressed_done: AtomicU64,
    pub bytes_uncompressed_done: AtomicU64,
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files seen under the trail directory.
    pub files_listed: u64,
    /// Log files left out by time (see `layout::DELIVERY_LAG_MARGIN`).
    pub files_pruned: u64,
    /// Date directories left out by time without listing them.
    pub dirs_pruned: u64,
    /// Log files opened and inflated.
    pub files_read: u64,
    /// Read files that the prefilter skipped whole (no needle, no telling escape).
    pub files_prefiltered: u64,
    /// Digest and other files, not read.
    pub files_skipped: u64,
    /// Files that became problems.
    pub files_bad: u64,
    pub bytes_compressed: u64,
    pub bytes_uncompressed: u64,
    /// Records split out of files that passed the file prefilter.
    pub records_seen: u64,
    /// Records kept.
    pub records_matched: u64,
    pub elapsed: Duration,
}

/// The result of a scan: kept events (in file order, then record order), what it did, and
/// the files that could not be used.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    pub events: Vec<TrailEvent>,
    pub stats: ScanStats,
    pub problems: Vec<EvidenceProblem>,
    /// From [`scan_files_hashing`] with `hash`: each inflated file's index in the scanned
    /// list and, when asked for, the SHA-256 of its inflated bytes, computed while the worker
    /// held them (sorted by index).
    pub hashes: Vec<(usize, Option<[u8; 32]>)>,
}

/// How to scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// Job windows; files that cannot hold events in any of them are not read. Empty:
    /// read everything.
    pub windows: &'a [TimeWindow],
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    pub progress: Option<&'a ScanProgress>,
    /// Caps on each file's size and inflation.
    pub limits: Limits,
}

/// Lists `root`, prunes it by `options.windows` and scans what is left.
pub fn scan_trail_dir(
    root: &Path,
    filter: &RecordFilter,
    options: &ScanOptions,
) -> Result<ScanOutcome, TrailDirError> {
    let started = Instant::now();
    let listing = list_trail_dir(root, options.windows)?;
    let mut outcome = scan_files(&listing.files, filter, options);
    let Listing {
        files_listed,
        files_pruned,
        files_skipped,
        dirs_pruned,
        mut problems,
        ..
    } = listing;
    problems.append(&mut outcome.problems);
    outcome.problems = problems;
    outcome.stats = ScanStats {
        files_listed,
        files_pruned,
        files_skipped,
        dirs_pruned,
        elapsed: started.elapsed(),
        ..outcome.stats
    };
    Ok(outcome)
}

/// Scans the given log files in parallel (whatever their kind: the caller chose them).
pub fn scan_files(
    files: &[TrailFile],
    filter: &RecordFilter,
    options: &ScanOptions,
) -> ScanOutcome {
    scan_files_hashing(files, filter, options, None)
}

/// What to do for integrity validation with each file's inflated bytes, by index in the
/// scanned list.
pub type HashWanted<'a> = &'a (dyn Fn(usize) -> Hashing + Sync);

/// What a scan does with one file's inflated bytes for integrity validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashing {
    /// Not hashed: no digest lists the file.
    Skip,
    /// Hashed, for the digest that lists it.
    Hash,
    /// Hashed, and a digest whose signature already verified lists it. Its hash proves the
    /// file is the one CloudTrail wrote, whole, or fails validation by name (every job it
    /// overlaps is then INCONCLUSIVE): the prefilter's own whole-file check of a file it skips
    /// is left to the digest.
    HashProves,
}

/// As [`scan_files`]; with `hash`, every file inflated is reported in `hashes`, and the
/// inflated bytes of those `hash` says (by index) are hashed for integrity validation
/// (src/integrity) while the worker holds them.
pub fn scan_files_hashing(
    files: &[TrailFile],
    filter: &RecordFilter,
    options: &ScanOptions,
    hash: Option<HashWanted>,
) -> ScanOutcome {
    let disk = Disk {
        files,
        next: AtomicU64::new(0),
        cap: options.limits.max_file_bytes,
    };
    scan_fed(files, filter, options, hash, &disk)
}

/// Where a scan's bytes come from: the files on disk, or objects as they are downloaded.
pub trait Feed: Sync {
    /// The next file to scan: its index in the scanned list, with its bytes put in `raw`, or
    /// why they could not be had; `None` when every file was handed out.
    fn next(&self, raw: &mut Vec<u8>) -> Option<(usize, Result<(), TrailFileError>)>;
}

/// Files read from disk in list order, each at most `cap` bytes.
struct Disk<'a> {
    files: &'a [TrailFile],
    next: AtomicU64,
    cap: u64,
}

impl Feed for Disk<'_> {
    fn next(&self, raw: &mut Vec<u8>) -> Option<(usize, Result<(), TrailFileError>)> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let file = self.files.get(index)?;
        Some((
            index,
            read_regular(&file.path, self.cap, raw).map_err(TrailFileError::Read),
        ))
    }
}

/// Scans `files` (the list `feed`'s indices point into) in parallel, their bytes taken from
/// `feed`; as [`scan_files_hashing`] otherwise. Results are in list order whatever order
/// the feed hands the files out in.
pub fn scan_fed(
    files: &[TrailFile],
    filter: &RecordFilter,
    options: &ScanOptions,
    hash: Option<HashWanted>,
    feed: &dyn Feed,
) -> ScanOutcome {
    let started = Instant::now();
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(files.len().max(1));
    if let Some(p) = options.progress {
        p.files_total
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        p.bytes_compressed_total.fetch_add(bytes, Ordering::Relaxed);
    }
    let parts: Vec<WorkerResult> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| worker(files, filter, options, hash, feed)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });

    let mut stats = ScanStats::default();
    let mut kept = Vec::new();
    let mut problems = Vec::new();
    let mut hashes = Vec::new();
    for part in parts {
        stats.files_read += part.stats.files_read;
        stats.files_prefiltered += part.stats.files_prefiltered;
        stats.files_bad += part.stats.files_bad;
        stats.bytes_compressed += part.stats.bytes_compressed;
        stats.bytes_uncompressed += part.stats.bytes_uncompressed;
        stats.records_seen += part.stats.records_seen;
        kept.extend(part.kept);
        problems.extend(part.problems);
        hashes.extend(part.hashes);
    }
    hashes.sort_by_key(|(file, _)| *file);
    kept.sort_by_key(|(file, _)| *file);
    problems.sort_by_key(|(file, _)| *file);
    // One buffer of the exact size: the records of a busy day are the run's largest data.
    let mut events = Vec::with_capacity(kept.iter().map(|(_, e)| e.len()).sum());
    for (_, mut file) in kept {
        events.append(&mut file);
    }
    stats.records_matched = events.len() as u64;
    stats.elapsed = started.elapsed();
    ScanOutcome {
        events,
        stats,
        problems: problems.into_iter().map(|(_, p)| p).collect(),
        hashes,
    }
}

#[derive(Default)]
struct WorkerResult {
    stats: ScanStats,
    kept: Vec<(usize, Vec<TrailEvent>)>,
    problems: Vec<(usize, EvidenceProblem)>,
    hashes: Vec<(usize, Option<[u8; 32]>)>,
}

fn worker(
    files: &[TrailFile],
    filter: &RecordFilter,
    options: &ScanOptions,
    hashing: Option<HashWanted>,
    feed: &dyn Feed,
) -> WorkerResult {
    let mut result = WorkerResult::default();
    let mut raw = Vec::new();
    let mut inflater = Inflater::default();
    while let Some((index, read)) = feed.next(&mut raw) {
        let file = &files[index];
        let mut uncompressed = 0;
        let mut hash = None;
        let scanned = read.and_then(|()| {
            scan_bytes(
                file,
                filter,
                options,
                &raw,
                &mut inflater,
                &mut result.stats,
                &mut uncompressed,
                hashing.map(|wanted| (wanted(index), &mut hash)),
            )
        });
        result.hashes.extend(hash.map(|h| (index, h)));
        match scanned {
            Ok(events) if !events.is_empty() => result.kept.push((index, events)),
            Ok(_) => {}
            Err(e) => {
                result.stats.files_bad += 1;
                result.problems.push((index, file.problem(e.to_string())));
            }
        }
        if let Some(p) = options.progress {
            p.files_done.fetch_add(1, Ordering::Relaxed);
            p.bytes_compressed_done
                .fetch_add(raw.len() as u64, Ordering::Relaxed);
            p.bytes_uncompressed_done
                .fetch_add(uncompressed, Ordering::Relaxed);
        }
    }
    result
}

/// Scans one file's bytes (`raw`, as read); `Err` is why the whole file is unusable. When
/// given, `hash` receives, once the file is inflated, the SHA-256 of the inflated bytes if
/// its flag says so (also for a file whose JSON is then refused: a digest can still say
/// whether it is the file CloudTrail wrote), `None` otherwise.
#[allow(clippy::too_many_arguments)]
fn scan_bytes(
    file: &TrailFile,
    filter: &RecordFilter,
    options: &ScanOptions,
    raw: &[u8],
    inflater: &mut Inflater,
    stats: &mut ScanStats,
    uncompressed: &mut u64,
    hash: Option<(Hashing, &mut Option<Option<[u8; 32]>>)>,
) -> Result<Vec<TrailEvent>, TrailFileError> {
    stats.files_read += 1;
    stats.bytes_compressed += raw.len() as u64;
    let json = log_json(&file.path.to_string_lossy(), raw, inflater, &options.limits)?;
    let mut proven = false;
    if let Some((wanted, hash)) = hash {
        *hash = Some((wanted != Hashing::Skip).then(|| crate::integrity::sha256(json)));
        proven = wanted == Hashing::HashProves;
    }
    *uncompressed = json.len() as u64;
    stats.bytes_uncompressed += json.len() as u64;
    select_records(json, filter, stats, proven)
}

/// A log file with its records left as raw JSON text.
#[derive(Deserialize)]
struct RawLogFile<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<&'a RawValue>,
}

/// A record as a [`Value`], refusing duplicate keys at any depth (escaped spellings
/// included): CloudTrail never writes them, and which of two `eventName`s counts must not
/// be left to the parser (serde_json keeps the last, others the first).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// The records of one log file's JSON that `filter` keeps. `digest_proves`: a verified
/// digest's hash will prove the file whole (see [`Hashing::HashProves`]), so a file without a
/// candidate record is skipped without the whole-file check.
pub(crate) fn select_records(
    json: &[u8],
    filter: &RecordFilter,
    stats: &mut ScanStats,
    digest_proves: bool,
) -> Result<Vec<TrailEvent>, TrailFileError> {
    let text = std::str::from_utf8(json).map_err(|e| TrailFileError::Utf8(e.valid_up_to()))?;
    if text.trim_ascii().is_empty() {
        return Err(TrailFileError::Empty);
    }
    // Only a file read whole proves that it holds nothing for the jobs: a cut-off or broken
    // file, `{"Records": 5}` and records that are not objects are problems, skipped or not.
    // The shortcut proves the common case; anything else is split into raw records (one
    // validating pass, no trees), which names the defect.
    let candidate = filter.may_match(json);
    if !candidate && (digest_proves || super::validate::is_plain_log_file(text)) {
        stats.files_prefiltered += 1;
        return Ok(Vec::new());
    }
    let file: RawLogFile = serde_json::from_str(text).map_err(|e| {
        TrailFileError::Json(if e.is_eof() {
            format!("{e} (truncated?)")
        } else {
            e.to_string()
        })
    })?;
    if let Some(index) = file.records.iter().position(|r| !r.get().starts_with('{')) {
        return Err(TrailFileError::Record {
            index,
            message: "not a JSON object".into(),
        });
    }
    if !candidate {
        stats.files_prefiltered += 1;
        return Ok(Vec::new());
    }
    let mut kept = Vec::new();
    for (index, raw) in file.records.iter().enumerate() {
        let raw = raw.get();
        stats.records_seen += 1;
        if !filter.may_match(raw.as_bytes()) {
            continue;
        }
        let record_error = |e: serde_json::Error| TrailFileError::Record {
            index,
            message: e.to_string(),
        };
        let Strict(value) = serde_json::from_str(raw).map_err(record_error)?;
        if let Some(event) = filter.select(value).map_err(record_error)? {
            kept.push(event);
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::model::ProblemScope;
    use crate::trail::synth::{CorpusSpec, write_corpus};
    use crate::trail::{decode_log_file, inflate::Inflater};

    fn samples_dir() -> PathBuf {
        crate::model::tests::samples_dir()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn put(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn options() -> ScanOptions<'static> {
        ScanOptions {
            threads: 2,
            ..ScanOptions::default()
        }
    }

    #[test]
    #[cfg_attr(
        no_samples,
        ignore = "needs the CloudTrail samples: ../shared/samples or TEXTRACT_AUDIT_SAMPLES, absent at build time"
    )]
    fn real_samples_decode_and_scan() {
        let dir = tempfile::tempdir().unwrap();
        let mut total = 0;
        for entry in std::fs::read_dir(samples_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let array: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let file = format!(
                "{{\"Records\":{}}}",
                std::fs::read_to_string(&path).unwrap()
            );
            let events = decode_log_file("x.json.gz", &gzip(file.as_bytes())).unwrap();
            assert_eq!(events.len(), array.len(), "{}", path.display());
            assert_eq!(decode_log_file("x.json", file.as_bytes()).unwrap(), events);
            total += events.len();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            put(dir.path(), &format!("{name}.gz"), &gzip(file.as_bytes()));
        }
        assert_eq!(total, 310, "the samples README counts 310 records");

        // The sample that updates event selectors, found by its event name: a needle that
        // occurs in exactly one place of the whole corpus.
        let filter = RecordFilter::needles(&["PutEventSelectors".into()]);
        let out = scan_trail_dir(dir.path(), &filter, &options()).unwrap();
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert_eq!(out.stats.files_read, 35);
        assert!(out.stats.files_prefiltered >= 30, "{:?}", out.stats);
        let names: Vec<&str> = out.events.iter().map(|e| e.event_name.as_str()).collect();
        assert_eq!(names, ["PutEventSelectors"]);
        assert_eq!(
            out.events[0].actor(),
            "arn:aws:iam::958312252124:user/christophe"
        );
    }

    const JOB: &str = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9";

    fn record(name: &str, key: &str) -> String {
        format!(
            r#"{{"eventID":"{name}","eventTime":"2026-11-20T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"{name}","requestParameters":{{"key":"{key}"}}}}"#
        )
    }

    /// Hands out files in reverse order from memory, the one at `lost` as a failed download.
    struct Backwards {
        bytes: std::sync::Mutex<Vec<(usize, Vec<u8>)>>,
        lost: usize,
    }

    impl Feed for Backwards {
        fn next(&self, raw: &mut Vec<u8>) -> Option<(usize, Result<(), TrailFileError>)> {
            let (index, bytes) = self.bytes.lock().unwrap().pop()?;
            raw.clear();
            raw.extend_from_slice(&bytes);
            Some((
                index,
                match index == self.lost {
                    true => Err(TrailFileError::Download("AccessDenied".into())),
                    false => Ok(()),
                },
            ))
        }
    }

    #[test]
    fn a_fed_scan_keeps_list_order_whatever_order_files_arrive_in() {
        let dir = tempfile::tempdir().unwrap();
        let base = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20";
        for (i, stamp) in ["20261120T1000Z", "20261120T1005Z", "20261120T1010Z"]
            .iter()
            .enumerate()
        {
            let body = format!(
                r#"{{"Records":[{}]}}"#,
                record(&format!("Put{i}"), &format!("out/{JOB}/{i}"))
            );
            put(
                dir.path(),
                &format!("{base}/111122223333_CloudTrail_us-east-1_{stamp}_u.json.gz"),
                &gzip(body.as_bytes()),
            );
        }
        let files = list_trail_dir(dir.path(), &[]).unwrap().files;
        let filter = RecordFilter::needles(&[JOB.to_owned()]);
        let from_disk = scan_files(&files, &filter, &options());
        let arriving = |lost| Backwards {
            bytes: std::sync::Mutex::new(
                files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (i, std::fs::read(&f.path).unwrap()))
                    .collect(),
            ),
            lost,
        };
        let fed = scan_fed(&files, &filter, &options(), None, &arriving(usize::MAX));
        let names = |o: &ScanOutcome| -> Vec<String> {
            o.events.iter().map(|e| e.event_name.clone()).collect()
        };
        assert_eq!(names(&fed), ["Put0", "Put1", "Put2"]);
        assert_eq!(names(&fed), names(&from_disk));
        assert_eq!(fed.stats.files_read, 3);
        // A file that could not be downloaded loses its records and is named.
        let lost = scan_fed(&files, &filter, &options(), None, &arriving(1));
        assert_eq!(names(&lost), ["Put0", "Put2"]);
        assert_eq!(lost.stats.files_bad, 1);
        assert_eq!(lost.problems.len(), 1);
        assert_eq!(
            lost.problems[0].subject,
            files[1].path.display().to_string()
        );
        assert_eq!(lost.problems[0].reason, "download failed: AccessDenied");
    }

    #[test]
    fn bad_files_become_named_problems_and_the_scan_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let base = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20";
        let name =
            |stamp: &str| format!("{base}/111122223333_CloudTrail_us-east-1_{stamp}_u.json.gz");
        let good = format!(
            r#"{{"Records":[{}]}}"#,
            record("Good", &format!("out/{JOB}/1"))
        );
        put(dir.path(), &name("20261120T1000Z"), &gzip(good.as_bytes()));
        let truncated = gzip(good.as_bytes());
        put(
            dir.path(),
            &name("20261120T1005Z"),
            &truncated[..truncated.len() - 10],
        );
        put(
            dir.path(),
            &name("20261120T1010Z"),
            &gzip(format!(r#"{{"Records":[{},{{"eventID": ]}}"#, record("Lost", JOB)).as_bytes()),
        );
        let bad_type =
            record("Typed", &format!("out/{JOB}/2")).replace(r#""2026-11-20T10:00:00Z""#, "12");
        put(
            dir.path(),
            &name("20261120T1015Z"),
            &gzip(format!(r#"{{"Records":[{},{bad_type}]}}"#, record("Lost2", JOB)).as_bytes()),
        );
        put(dir.path(), &name("20261120T1020Z"), b"");
        put(dir.path(), &name("20261120T1025Z"), &gzip(b""));
        // Cut off after a record that does not match: still a problem (records were lost).
        put(
            dir.path(),
            &name("20261120T1030Z"),
            &gzip(br#"{"Records":[{"eventID":"x"},"#),
        );
        put(
            dir.path(),
            &name("20261120T1035Z"),
            &gzip(br#"{"NotRecords":[]}"#),
        );
        put(
            dir.path(),
            &format!("{base}/CloudTrail-Digest.json.gz"),
            b"{}",
        );
        put(dir.path(), "stray/object.bin", b"\x00\x01");

        let filter = RecordFilter::needles(&[JOB.to_owned()]);
        let out = scan_trail_dir(dir.path(), &filter, &options()).unwrap();
        let names: Vec<&str> = out.events.iter().map(|e| e.event_name.as_str()).collect();
        assert_eq!(names, ["Good"], "bad files lose all their records");

        let reason = |stamp: &str| {
            let p = out
                .problems
                .iter()
                .find(|p| p.subject.contains(stamp))
                .unwrap_or_else(|| panic!("no problem for {stamp}: {:?}", out.problems));
            let t: chrono::DateTime<chrono::Utc> = format!(
                "{}-{}-{}T{}:{}:00Z",
                &stamp[..4],
                &stamp[4..6],
                &stamp[6..8],
                &stamp[9..11],
                &stamp[11..13]
            )
            .parse()
            .unwrap();
            assert_eq!(
                p.scope,
                ProblemScope::CloudTrail {
                    from: Some(t - chrono::Duration::hours(1)),
                    until: Some(t + chrono::Duration::minutes(5))
                }
            );
            p.reason.clone()
        };
        assert!(reason("20261120T1005Z").starts_with("gzip stream is corrupt"));
        assert!(reason("20261120T1010Z").starts_with("invalid CloudTrail log JSON"));
        assert!(reason("20261120T1015Z").starts_with("record 1 is not a CloudTrail record"));
        assert_eq!(reason("20261120T1020Z"), "empty file");
        assert_eq!(reason("20261120T1025Z"), "empty file");
        assert!(reason("20261120T1030Z").contains("truncated"));
        assert!(reason("20261120T1035Z").contains("missing field `Records`"));
        let unknown = |needle: &str| {
            let p = out
                .problems
                .iter()
                .find(|p| p.subject.contains(needle))
                .unwrap();
            assert_eq!(
                p.scope,
                ProblemScope::CloudTrail {
                    from: None,
                    until: None
                }
            );
            p.reason.clone()
        };
        assert!(unknown("CloudTrail-Digest.json.gz").starts_with("digest file"));
        let other = out
            .problems
            .iter()
            .find(|p| p.subject.contains("object.bin"))
            .unwrap();
        assert!(other.reason.starts_with("not a CloudTrail log file"));
        assert_eq!(
            other.scope,
            ProblemScope::Unrelated,
            "named, counted, no gap"
        );
        assert_eq!(out.problems.len(), 9);
        assert_eq!(out.stats.files_bad, 7);
        assert_eq!(out.stats.files_skipped, 2);
        assert_eq!(out.stats.files_read, 8);
        assert_eq!(out.stats.records_matched, 1);
    }

    /// Issue 11: the byte prefilter dropped, with no problem reported, files it found no
    /// needle in, even when they were not log files at all; a job whose record sat in such
    /// a file passed. Each must be a named problem; valid JSON with an escaped key is fine.
    #[test]
    fn files_the_prefilter_skips_must_still_be_whole_log_files() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(&str, Vec<u8>, Option<&str>)] = &[
            (
                "broken.json.gz",
                gzip(br#"{"Records":[{"a":1}"#),
                Some("invalid CloudTrail log JSON"),
            ),
            (
                "garbage.json.gz",
                gzip(br#"{"Records":[] x}"#),
                Some("invalid CloudTrail log JSON"),
            ),
            (
                "five.json.gz",
                gzip(br#"{"Records": 5}"#),
                Some("invalid type: integer `5`"),
            ),
            (
                "twice.json.gz",
                gzip(br#"{"Records":[],"\u0052ecords":[{}]}"#),
                Some("duplicate field"),
            ),
            (
                "scalar.json.gz",
                gzip(br#"{"Records":[{"a":1}, 5]}"#),
                Some("record 1 is not a CloudTrail record: not a JSON object"),
            ),
            (
                "plain.json.gz",
                br#"{"Records":[]}"#.to_vec(),
                Some("named .json.gz but not gzip data"),
            ),
            (
                "latin1.json.gz",
                gzip(b"{\"Records\":[{\"a\":\"\xe9\"}]}"),
                Some("not UTF-8 text (invalid bytes at offset 18)"),
            ),
            (
                "escaped.json.gz",
                gzip(br#"{"\u0052ecords":[{"eventID":"x"}]}"#),
                None,
            ),
            ("plain.json", br#" {"Records":[]}"#.to_vec(), None),
        ];
        for (name, bytes, _) in cases {
            put(dir.path(), name, bytes);
        }
        let filter = RecordFilter::needles(&[JOB.to_owned()]);
        let out = scan_trail_dir(dir.path(), &filter, &options()).unwrap();
        for (name, _, reason) in cases {
            let problem = out
                .problems
                .iter()
                .find(|p| p.subject.ends_with(&format!("/{name}")));
            match (reason, problem) {
                (Some(reason), Some(p)) => {
                    assert!(p.reason.contains(reason), "{name}: {}", p.reason)
                }
                (None, None) => {}
                _ => panic!("{name}: expected {reason:?}, got {problem:?}"),
            }
        }
        assert_eq!(out.stats.files_prefiltered, 2);
        assert_eq!(out.stats.files_bad, 7);
    }

    /// A record with two `eventName`s was read as the last one (serde_json's choice): a
    /// forged record could show a reader what it wants. Duplicate keys, at any depth and
    /// however spelled, reject the file.
    #[test]
    fn a_record_with_a_duplicate_key_is_a_problem_not_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let key = format!("out/{JOB}/1");
        let dup = record("GetObject", &key).replacen(
            r#""eventName":"GetObject""#,
            r#""eventName":"PutObject","\u0065ventName":"GetObject""#,
            1,
        );
        let nested = record("GetObject", &key).replacen(
            r#""requestParameters":{"#,
            r#""requestParameters":{"key":"other","#,
            1,
        );
        put(
            dir.path(),
            "dup.json.gz",
            &gzip(format!(r#"{{"Records":[{dup}]}}"#).as_bytes()),
        );
        put(
            dir.path(),
            "nested.json.gz",
            &gzip(format!(r#"{{"Records":[{nested}]}}"#).as_bytes()),
        );
        let filter = RecordFilter::needles(&[JOB.to_owned()]);
        let out = scan_trail_dir(dir.path(), &filter, &options()).unwrap();
        assert!(out.events.is_empty(), "{:?}", out.events);
        let reasons: Vec<&str> = out.problems.iter().map(|p| p.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "record 0 is not a CloudTrail record: duplicate key \"eventName\" at line 1 column 131",
                "record 0 is not a CloudTrail record: duplicate key \"key\" at line 1 column 155",
            ]
        );
    }

    #[derive(Deserialize)]
    struct RawFile {
        #[serde(rename = "Records")]
        records: Vec<Value>,
    }

    /// The straightforward way: inflate and parse every record of every file, then apply
    /// the exact rule.
    fn full_parse(dir: &Path, filter: &RecordFilter) -> Vec<TrailEvent> {
        let listing = list_trail_dir(dir, &[]).unwrap();
        let mut inflater = Inflater::default();
        let mut out = Vec::new();
        for f in &listing.files {
            let gz = std::fs::read(&f.path).unwrap();
            let file: RawFile =
                serde_json::from_slice(inflater.inflate(&gz, &Limits::default()).unwrap()).unwrap();
            for r in file.records {
                out.extend(filter.select(r).unwrap());
            }
        }
        out
    }

    #[test]
    fn prefiltered_scan_equals_full_parse_on_a_generated_corpus() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CorpusSpec {
            target_bytes: 6 << 20,
            file_bytes: 400_000,
            seed: 7,
            jobs: 3,
            ..CorpusSpec::default()
        };
        let corpus = write_corpus(dir.path(), &spec).unwrap();
        assert_eq!(corpus.targets.len(), 3);
        let ids: Vec<String> = corpus.targets.iter().map(|t| t.job_id.clone()).collect();
        let cases = [
            (
                RecordFilter::needles(&[ids[0].clone(), ids[2].clone()]),
                true,
            ),
            (
                RecordFilter::jobs(&ids[1..2], &[corpus.targets[1].bucket.clone()]),
                true,
            ),
            // Only ever written escaped (\u00e9, \u00f6, \u003d): found through escapes.
            (
                RecordFilter::needles(&["résumé".into(), "jörg".into()]),
                false,
            ),
            (
                RecordFilter::needles(&["AccessDenied".into(), "=".into()]),
                false,
            ),
            (RecordFilter::discovery(), false),
        ];
        for (i, (filter, rare)) in cases.iter().enumerate() {
            let expected = full_parse(dir.path(), filter);
            let progress = ScanProgress::default();
            let opts = ScanOptions {
                progress: Some(&progress),
                ..options()
            };
            let out = scan_trail_dir(dir.path(), filter, &opts).unwrap();
            let done = |c: &AtomicU64| c.load(Ordering::Relaxed);
            assert_eq!(done(&progress.files_done), corpus.files.len() as u64);
            assert_eq!(done(&progress.files_total), corpus.files.len() as u64);
            assert_eq!(
                done(&progress.bytes_compressed_total),
                corpus.bytes_compressed
            );
            assert_eq!(
                done(&progress.bytes_compressed_done),
                out.stats.bytes_compressed
            );
            assert_eq!(
                done(&progress.bytes_uncompressed_done),
                corpus.bytes_uncompressed
            );
            assert_eq!(out.stats.bytes_uncompressed, corpus.bytes_uncompressed);
            assert!(out.problems.is_empty(), "{:?}", out.problems);
            assert!(!expected.is_empty(), "case {i} must match something");
            assert_eq!(out.events.len(), expected.len(), "case {i}");
            assert!(
                out.events == expected,
                "case {i}: same events in the same order"
            );
            assert_eq!(out.stats.records_matched, expected.len() as u64);
            if *rare {
                assert!(
                    out.stats.files_prefiltered > 0 && out.stats.records_seen < corpus.records,
                    "case {i}: the prefilter must have skipped work: {:?}",
                    out.stats
                );
            }
        }
    }
}
