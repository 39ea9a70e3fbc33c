//! The fuzz entry points, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and by
//! `tests/fuzz_corpus.rs`, which replays every corpus and crash input through them on plain
//! `cargo test`. Each takes the fuzzer's bytes, feeds them to the real code path (files are
//! written to a scratch directory and read through the same capped reader as the CLI), and
//! panics only when an invariant breaks. See docs/limits.md ("Fuzzing").
#![allow(dead_code)] // Each target uses one entry.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use textract_audit::evidence::bundle;
use textract_audit::input::Limits;
use textract_audit::report::mutelist::Mutelist;
use textract_audit::rules::RuleSet;
use textract_audit::trail::{RecordFilter, ScanOptions, decode_log_file, scan_trail_dir};

/// The name a fuzzed log file gets: a real CloudTrail name, so the layout reads it.
pub const LOG_NAME: &str = "111122223333_CloudTrail_us-east-1_20261120T1005Z_fuzz.json.gz";

/// A scratch directory emptied before each input (one per process; fuzzing runs inputs one at
/// a time, and each test of the replay owns its entry).
pub fn scratch(name: &str) -> PathBuf {
    static BASE: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = BASE
        .get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
        .path()
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().expect("the built-in rules"))
}

/// One trail log file (gzip or not, named `.json.gz`) through the trail scan with its caps:
/// the byte prefilter of a discovery run must never hide a file the full parse refuses, nor
/// keep a record the full parse does not have.
pub fn trail_log_file(data: &[u8]) {
    let dir = scratch("trail");
    fs::write(dir.join(LOG_NAME), data).expect("write the log file");
    let options = ScanOptions {
        windows: &[],
        threads: 1,
        progress: None,
        limits: Limits::current(),
    };
    let scan = |filter: &RecordFilter| scan_trail_dir(&dir, filter, &options).expect("listed");
    let full = scan(&RecordFilter::all());
    let prefiltered = scan(&RecordFilter::discovery());
    assert!(
        full.problems.len() <= 1 && prefiltered.problems.len() <= 1,
        "one file, at most one problem"
    );
    if prefiltered.problems.is_empty() {
        assert!(
            full.problems.is_empty(),
            "the prefilter accepted a file the full parse refuses: {:?}",
            full.problems
        );
    }
    assert!(prefiltered.events.len() <= full.events.len());
    for e in &prefiltered.events {
        assert!(
            full.events.iter().any(|f| f.event_id == e.event_id),
            "prefiltered record {} not in the full parse",
            e.event_id
        );
    }
    // The in-memory decoder agrees with the scan on whether the file is usable.
    let decoded = decode_log_file(LOG_NAME, data);
    assert_eq!(decoded.is_ok(), full.problems.is_empty(), "{decoded:?}");
    if let Ok(events) = decoded {
        assert_eq!(events.len(), full.events.len());
    }
}

/// One CloudTrail record (JSON) through record selection and the record decoder.
pub fn record(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(Some(event)) = RecordFilter::all().select(value) {
        let _ = textract_audit::facts::decode(&event);
    }
}

/// A mute list file through the CLI's loader (capped read, UTF-8, TOML, validation).
pub fn mutelist(data: &[u8]) {
    let path = scratch("mutelist").join("mutelist.toml");
    fs::write(&path, data).expect("write the mute list");
    let _ = Mutelist::load(&path, rules());
}

/// The files of a packed bundle: `[path length: u8][path][content length: u32 LE][content]`
/// repeated (lengths clamped to what is left). Paths that would leave the directory are
/// skipped here (the manifest may still name anything: that is the loader's to refuse).
pub fn unpack(data: &[u8]) -> Vec<(PathBuf, &[u8])> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let (path, tail) = tail.split_at(usize::from(n).min(tail.len()));
        let (len, tail) = tail.split_at(4.min(tail.len()));
        let mut le = [0u8; 4];
        le[..len.len()].copy_from_slice(len);
        let len = (u32::from_le_bytes(le) as usize).min(tail.len());
        let (content, tail) = tail.split_at(len);
        rest = tail;
        let path = PathBuf::from(String::from_utf8_lossy(path).into_owned());
        let plain = path.components().count() > 0
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if plain && out.len() < 64 {
            out.push((path, content));
        }
    }
    out
}

/// The inverse of [`unpack`] for the files under `dir` (to seed the corpus from fixtures).
pub fn pack(dir: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("a bundle directory") {
            let p = e.expect("an entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy();
        if rel.ends_with("README.md") || rel == "expected.json" {
            continue;
        }
        let content = fs::read(&p).expect("a bundle file");
        out.push(u8::try_from(rel.len()).expect("a short path"));
        out.extend_from_slice(rel.as_bytes());
        out.extend_from_slice(&(content.len() as u32).to_le_bytes());
        out.extend_from_slice(&content);
    }
    out
}

/// A packed bundle (see [`unpack`]) written out and loaded by the bundle loader.
pub fn bundle(data: &[u8]) {
    let dir = scratch("bundle");
    for (rel, content) in unpack(data) {
        let path = dir.join(rel);
        // A later file may sit where an earlier one made a directory, or the reverse.
        if let Some(parent) = path.parent()
            && fs::create_dir_all(parent).is_ok()
        {
            let _ = fs::write(&path, content);
        }
    }
    let _ = bundle::load(&dir);
}
