//! Property test of issue 11: a single broken evidence file never turns a FAIL or
//! INCONCLUSIVE job into PASS, and never turns a run that was not green into exit 0.
//!
//! For every fixture bundle whose expected verdicts include FAIL or INCONCLUSIVE, and for
//! every evidence file its manifest lists, the test removes the file or corrupts it
//! (truncated, one byte flipped, garbage, invalid JSON, empty; a gzip log file also gets a
//! valid gzip of a non-log JSON), once with the manifest left as it is (the SHA-256s no
//! longer match) and once re-sealed with `bundle seal` (an attacker can re-seal). Each
//! broken bundle is verified in-process through the same `run` as the binary, once for the
//! fixture's jobs by id and once discovering the jobs, and the report is read back.
//!
//! Bounded: about 3,000 in-process runs on small bundles (measured: see docs/limits.md).

use std::fs;
use std::io::Write;
use std::path::Path;

use clap::Parser;
use serde_json::Value;
use textract_audit::cli::Cli;
use textract_audit::evidence::bundle;

mod fixture;
use fixture::{copy_dir, root};

/// How one evidence file is broken.
#[derive(Debug, Clone, Copy)]
enum Break {
    Remove,
    Truncate,
    FlipByte,
    Garbage,
    InvalidJson,
    Empty,
    /// A well-formed gzip file holding JSON that is no CloudTrail log (log files only).
    GzipNotALog,
}

const BREAKS: [Break; 7] = [
    Break::Remove,
    Break::Truncate,
    Break::FlipByte,
    Break::Garbage,
    Break::InvalidJson,
    Break::Empty,
    Break::GzipNotALog,
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Applies `how` to `path`; `false` when it does not apply to this file.
fn apply(how: Break, path: &Path) -> bool {
    let bytes = fs::read(path).unwrap();
    let new = match how {
        Break::Remove => {
            fs::remove_file(path).unwrap();
            return true;
        }
        Break::Truncate => bytes[..bytes.len() / 2].to_vec(),
        Break::FlipByte => {
            let mut b = bytes;
            let at = b.len() / 2;
            // XOR 0xff: an ASCII byte becomes invalid UTF-8, a gzip byte breaks its CRC.
            b[at] ^= 0xff;
            b
        }
        // A fixed xorshift stream: deterministic garbage of the file's size.
        Break::Garbage => {
            let mut x: u32 = 0x9e37_79b9;
            (0..bytes.len().max(64))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect()
        }
        Break::InvalidJson => b"{\"Records\": [{\"eventName\": ".to_vec(),
        Break::Empty => Vec::new(),
        Break::GzipNotALog if path.to_string_lossy().ends_with(".gz") => gzip(br#"{"Records": 5}"#),
        Break::GzipNotALog => return false,
    };
    fs::write(path, new).unwrap();
    true
}

/// A job's verdict and the run's exit code, from a JSON report.
struct Outcome {
    code: u8,
    verdicts: Vec<(String, String)>,
}

impl Outcome {
    fn verdict(&self, job: &str) -> Option<&str> {
        self.verdicts
            .iter()
            .find(|(id, _)| id == job)
            .map(|(_, v)| v.as_str())
    }
}

/// Verifies `dir` in-process (by job id when `jobs` is not empty, else discovering them).
fn verify(dir: &Path, jobs: &[&str], out: &Path) -> Outcome {
    let mut args = vec![
        "textract-audit".to_owned(),
        "verify".into(),
        "--evidence".into(),
        dir.display().to_string(),
        "--format".into(),
        "json".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    for j in jobs {
        args.extend(["--job-id".to_owned(), (*j).to_owned()]);
    }
    let _ = fs::remove_file(out);
    let code = match textract_audit::run::run(Cli::try_parse_from(&args).unwrap()) {
        Ok(code) => code,
        // A runtime error exits 1: never green, and no report to read.
        Err(_) => {
            return Outcome {
                code: 1,
                verdicts: Vec::new(),
            };
        }
    };
    let report: Value = serde_json::from_slice(&fs::read(out).unwrap()).unwrap();
    let verdicts = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_id"].as_str().unwrap().to_owned(),
                j["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    Outcome { code, verdicts }
}

/// The fixture bundles with a FAIL or INCONCLUSIVE job: (name, job id -> expected verdict).
fn non_passing_fixtures() -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(root().join("fixtures")).unwrap() {
        let dir = e.unwrap().path();
        let Ok(text) = fs::read(dir.join("expected.json")) else {
            continue;
        };
        let expected: Value = serde_json::from_slice(&text).unwrap();
        let jobs: Vec<(String, String)> = expected["jobs"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, j)| (id.clone(), j["verdict"].as_str().unwrap().to_owned()))
            .collect();
        if jobs.iter().any(|(_, v)| v != "pass") {
            out.push((
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                jobs,
            ));
        }
    }
    out.sort();
    out
}

/// The evidence files a bundle's manifest lists.
fn manifest_files(dir: &Path) -> Vec<String> {
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["files"].as_object().unwrap().keys().cloned().collect()
}

/// Breaks every evidence file of one fixture in every way; returns (runs, violations).
fn break_each_file(name: &str, expected: &[(String, String)], tmp: &Path) -> (usize, Vec<String>) {
    let src = root().join("fixtures").join(name);
    let report = tmp.join("report.json");
    let ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    let guarded: Vec<&str> = expected
        .iter()
        .filter(|(_, v)| v != "pass")
        .map(|(id, _)| id.as_str())
        .collect();
    // The unbroken bundle first: the baseline each broken variant is held to.
    let by_id = verify(&src, &ids, &report);
    let discovered = verify(&src, &[], &report);
    for (id, want) in expected {
        assert_eq!(by_id.verdict(id), Some(want.as_str()), "{name} {id}");
        assert_eq!(discovered.verdict(id), Some(want.as_str()), "{name} {id}");
    }
    assert_ne!(by_id.code, 0, "{name}");
    assert_ne!(discovered.code, 0, "{name}");

    let dir = tmp.join(name);
    copy_dir(&src, &dir);
    let mut runs = 0;
    let mut violations = Vec::new();
    for rel in manifest_files(&src) {
        for how in BREAKS {
            for reseal in [false, true] {
                // Back to the fixture: only the broken file and the manifest changed.
                for f in [rel.as_str(), "manifest.json"] {
                    fs::copy(src.join(f), dir.join(f)).unwrap();
                }
                if !apply(how, &dir.join(&rel)) {
                    continue;
                }
                if reseal {
                    // The manifest is there: its capture time is kept.
                    bundle::seal(&dir, chrono::DateTime::UNIX_EPOCH).unwrap();
                }
                for (mode, jobs) in [("by id", ids.as_slice()), ("discovered", &[][..])] {
                    runs += 1;
                    let got = verify(&dir, jobs, &report);
                    let case = format!(
                        "{name}: {rel} {how:?}{} ({mode})",
                        if reseal { ", re-sealed" } else { "" }
                    );
                    for id in &guarded {
                        if got.verdict(id) == Some("pass") {
                            violations.push(format!("{case}: job {id} PASSes"));
                        }
                    }
                    if got.code == 0 {
                        violations.push(format!("{case}: exit 0"));
                    }
                }
            }
        }
    }
    (runs, violations)
}

#[test]
fn broken_evidence_file_never_turns_fail_or_inconclusive_into_pass() {
    let started = std::time::Instant::now();
    let fixtures = non_passing_fixtures();
    assert!(fixtures.len() >= 10, "fixtures: {fixtures:?}");
    // Two workers (CI has two cores), each taking every other fixture.
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let fixtures = &fixtures;
                s.spawn(move || {
                    let tmp = tempfile::tempdir().unwrap();
                    let mut runs = 0;
                    let mut violations = Vec::new();
                    for (name, expected) in fixtures.iter().skip(w).step_by(2) {
                        let (n, v) = break_each_file(name, expected, tmp.path());
                        runs += n;
                        violations.extend(v);
                    }
                    (runs, violations)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let runs: usize = results.iter().map(|(n, _)| n).sum();
    let violations: Vec<&String> = results.iter().flat_map(|(_, v)| v).collect();
    eprintln!(
        "{runs} broken-bundle runs over {} fixtures in {:?}",
        fixtures.len(),
        started.elapsed()
    );
    assert!(
        violations.is_empty(),
        "{}",
        violations
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
