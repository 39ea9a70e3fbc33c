//! Replays the fuzz corpora and every crash the fuzzers found (`fuzz/corpus/{target}/`,
//! `fuzz/regressions/{target}/`) through the fuzz targets' own entry points
//! (`fuzz/entries.rs`), so plain `cargo test` keeps them fixed on stable: no input may panic
//! or take more than a few seconds.
//!
//! `cargo test --test fuzz_corpus -- --ignored write_seed_corpus` rewrites the seeds from the
//! fixtures (see docs/limits.md, "Fuzzing").

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../fuzz/entries.rs"]
mod entries;
mod fixture;
use fixture::root;

/// The most one input may take here (a debug build; the fuzzers run far faster).
const PER_INPUT: Duration = Duration::from_secs(10);

fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = root().join("fuzz").join(kind).join(target);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        out.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    }
    out.sort();
    out
}

fn replay(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    for path in files {
        let data = fs::read(&path).unwrap();
        let started = Instant::now();
        entry(&data);
        let took = started.elapsed();
        assert!(took < PER_INPUT, "{} took {took:?}", path.display());
    }
}

#[test]
fn fuzz_corpus_trail_log_file() {
    replay("trail_log_file", entries::trail_log_file);
}

#[test]
fn fuzz_corpus_bundle() {
    replay("bundle", entries::bundle);
}

#[test]
fn fuzz_corpus_record() {
    replay("record", entries::record);
}

#[test]
fn fuzz_corpus_mutelist() {
    replay("mutelist", entries::mutelist);
}

/// The packed form of a bundle comes back as the same files.
#[test]
fn packed_bundle_unpacks_to_its_files() {
    let dir = root().join("fixtures/demo");
    let packed = entries::pack(&dir);
    let files = entries::unpack(&packed);
    assert!(files.iter().any(|(p, _)| p == Path::new("manifest.json")));
    for (rel, content) in files {
        assert_eq!(
            fs::read(dir.join(&rel)).unwrap(),
            content,
            "{}",
            rel.display()
        );
    }
}

fn put(target: &str, name: &str, data: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

#[test]
#[ignore = "writes the seed corpora into fuzz/corpus (run by hand)"]
fn write_seed_corpus() {
    let logs = root().join("fixtures/demo/cloudtrail/AWSLogs/111122223333/CloudTrail/us-east-1");
    let mut stack = vec![logs];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let gz = fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            put("trail_log_file", &name, &gz);
            let mut json = String::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_string(&mut json)
                .unwrap();
            put("trail_log_file", &format!("{name}.plain"), json.as_bytes());
            let log: serde_json::Value = serde_json::from_str(&json).unwrap();
            for r in log["Records"].as_array().unwrap() {
                n += 1;
                put(
                    "record",
                    &format!("demo-{n:03}.json"),
                    r.to_string().as_bytes(),
                );
            }
        }
    }
    for f in ["demo", "fail-overwritten", "inconclusive-access-denied"] {
        put(
            "bundle",
            f,
            &entries::pack(&root().join("fixtures").join(f)),
        );
    }
    let mute = fs::read(root().join("tests/validate/demo-mutelist.toml")).unwrap();
    put("mutelist", "demo-mutelist.toml", &mute);
}
