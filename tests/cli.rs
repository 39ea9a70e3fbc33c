//! Integration tests: the real binary on every fixture bundle, offline.
//!
//! Snapshots live in `tests/snapshots/`; after an intended output change, regenerate them
//! with `UPDATE_SNAPSHOTS=1 cargo test --test cli` and review the diff.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[path = "fixture/chain.rs"]
mod chain;
mod fixture;
use fixture::{copy_fixture, first_file, root};

/// Runs the binary from the project root (so reports name `fixtures/...`, not absolute paths).
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .output()
        .expect("the binary runs")
}

fn fixtures() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root().join("fixtures"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .join("manifest.json")
                .exists()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    v.sort();
    assert!(v.len() >= 17, "fixtures found: {v:?}");
    v
}

fn json_report(fixture: &str) -> (Value, i32) {
    let out = run(&[
        "verify",
        "--evidence",
        &format!("fixtures/{fixture}"),
        "--format",
        "json",
    ]);
    let code = out.status.code().expect("exited");
    assert!(
        matches!(code, 0 | 3 | 4),
        "{fixture}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).expect("valid JSON"),
        code,
    )
}

/// `text` with the run's time (the report's `generated_at`, a second-precision UTC time within
/// a day of now, with or without its `Z`) replaced by `<run time>`: the one thing a snapshot
/// cannot pin.
fn run_time_masked(text: &str) -> String {
    const LEN: usize = "2026-11-20T11:00:00".len();
    let now = chrono::Utc::now().naive_utc();
    let shape = |b: &[u8]| {
        b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let candidate = text.get(i..i + LEN).filter(|c| shape(c.as_bytes()));
        let recent = candidate
            .and_then(|c| chrono::NaiveDateTime::parse_from_str(c, "%Y-%m-%dT%H:%M:%S").ok())
            .is_some_and(|t| (t - now).num_hours().abs() < 24);
        if recent {
            out.push_str("<run time>");
            i += LEN;
            if text[i..].starts_with('Z') {
                i += 1;
            }
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn snapshot(name: &str, actual: &str) {
    let actual = run_time_masked(actual);
    let actual = actual.as_str();
    let path = root().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run UPDATE_SNAPSHOTS=1 cargo test --test cli",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{name} differs from its snapshot at line {}:\n  want: {:?}\n  got:  {:?}\n(UPDATE_SNAPSHOTS=1 to accept)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn every_fixture_gives_the_verdicts_its_readme_states() {
    for fixture in fixtures() {
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(root().join("fixtures").join(&fixture).join("expected.json"))
                .unwrap(),
        )
        .unwrap();
        let (report, code) = json_report(&fixture);
        assert_eq!(report["schema"], "textract-audit/v1");
        let jobs: BTreeMap<&str, &Value> = report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| (j["job_id"].as_str().unwrap(), j))
            .collect();
        let want = expected["jobs"].as_object().unwrap();
        assert_eq!(jobs.len(), want.len(), "{fixture}: jobs found");
        let mut worst = 0;
        for (id, w) in want {
            let j = jobs
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{fixture}: job {id} missing"));
            assert_eq!(
                j["verdict"],
                w["verdict"],
                "{fixture}/{id}: {}",
                serde_json::to_string_pretty(&j["findings"]).unwrap()
            );
            for (status, key) in [("fail", "fail"), ("inconclusive", "inconclusive")] {
                let got: BTreeSet<&str> = j["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["status"] == status)
                    .map(|f| f["rule_id"].as_str().unwrap())
                    .collect();
                for rule in w[key].as_array().into_iter().flatten() {
                    assert!(
                        got.contains(rule.as_str().unwrap()),
                        "{fixture}/{id}: {rule} should be {status}, got {got:?}"
                    );
                }
            }
            for field in [
                "job_id",
                "verdict",
                "requested",
                "expected",
                "objects",
                "timeline",
                "findings",
            ] {
                assert!(j.get(field).is_some(), "{fixture}: jobs[].{field} missing");
            }
            worst = worst.max(match w["verdict"].as_str().unwrap() {
                "fail" => 2,
                "inconclusive" => 1,
                _ => 0,
            });
        }
        assert_eq!(code, [0, 4, 3][worst], "{fixture}: exit code");
        assert!(report["summary"]["jobs"].as_u64() == Some(want.len() as u64));
    }
}

#[test]
fn every_rule_fires_and_passes_somewhere() {
    let rules: Vec<String> =
        serde_json::from_slice::<Value>(&run(&["rules", "--format", "json"]).stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Fixture bundles carry no digests (fixtures/generate.py cannot sign): evidence-integrity
    // is exercised on row4-sse-kms with a generated chain, valid and forged.
    let valid = chain::chained("row4-sse-kms", 4, |_| {});
    let forged = chain::chained("row4-sse-kms", 4, |h| h[2].forge_previous_hash = true);
    let chained = [valid.verify(&[]).0, forged.verify(&[]).0];
    let reports = fixtures()
        .into_iter()
        .map(|f| json_report(&f).0)
        .chain(chained);
    for report in reports {
        for j in report["jobs"].as_array().unwrap() {
            for f in j["findings"].as_array().unwrap() {
                seen.entry(f["rule_id"].as_str().unwrap().to_owned())
                    .or_default()
                    .insert(f["status"].as_str().unwrap().to_owned());
            }
        }
    }
    for rule in rules {
        let s = seen.get(&rule).cloned().unwrap_or_default();
        assert!(s.contains("pass"), "no fixture passes {rule}: {s:?}");
        assert!(
            s.contains("fail") || s.contains("inconclusive"),
            "no fixture exercises {rule} failing: {s:?}"
        );
    }
}

#[test]
fn table_and_json_output_match_snapshots() {
    for fixture in fixtures() {
        let (report, _) = json_report(&fixture);
        snapshot(
            &format!("{fixture}.json"),
            &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
        );
        let out = run(&["verify", "--evidence", &format!("fixtures/{fixture}")]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains('\u{1b}'),
            "{fixture}: colour in non-terminal output"
        );
        snapshot(&format!("{fixture}.txt"), &text);
    }
}

#[test]
fn exit_zero_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--format",
        "json",
        "--exit-zero",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let report: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(report["summary"]["fail"], 1);
    assert_eq!(
        report["summary"]["exit_code"], 3,
        "the report keeps the real code"
    );
}

#[test]
fn job_id_selects_jobs_and_unknown_ids_are_inconclusive() {
    let (report, _) = json_report("demo");
    let first = report["jobs"][0]["job_id"].as_str().unwrap().to_owned();
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--job-id",
        &first,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["jobs"].as_array().unwrap().len(), 1);
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--job-id",
        &"f".repeat(64),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["jobs"][0]["verdict"], "inconclusive");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["verify"]).status.code(), Some(2));
    assert_eq!(
        run(&["verify", "--evidence", "x", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["rules", "show", "no-such-rule"]).status.code(),
        Some(2)
    );
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    assert!(help.contains("Exit codes"), "{help}");
}

#[test]
fn rules_list_and_show() {
    let list = String::from_utf8(run(&["rules"]).stdout).unwrap();
    for id in [
        "documented-mode",
        "requested-cmk",
        "row2-aws-managed-key",
        "evidence-readable",
    ] {
        assert!(list.contains(id), "{list}");
    }
    let show = String::from_utf8(run(&["rules", "show", "documented-mode"]).stdout).unwrap();
    assert!(show.contains("Documented table"), "{show}");
    assert!(show.contains("SSE-KMS with the customer CMK"), "{show}");
}

fn verify_dir(dir: &Path) -> (Output, Option<Value>) {
    let out = run(&[
        "verify",
        "--evidence",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn seal(dir: &Path) {
    let out = run(&["bundle", "seal", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn broken_bundles_fail_with_the_file_named() {
    // Bundle-level defects stop the run (exit 1) with the manifest named.
    type Break = fn(&Path);
    let cases: &[(&str, Break, &str)] = &[
        (
            "no manifest",
            |d| fs::remove_file(d.join("manifest.json")).unwrap(),
            "manifest.json: missing",
        ),
        (
            "manifest not JSON",
            |d| fs::write(d.join("manifest.json"), "{oops").unwrap(),
            "invalid manifest",
        ),
        (
            "future schema",
            |d| {
                let p = d.join("manifest.json");
                let t = fs::read_to_string(&p)
                    .unwrap()
                    .replace("textract-audit-bundle/v1", "textract-audit-bundle/v9");
                fs::write(p, t).unwrap();
            },
            "textract-audit-bundle/v9",
        ),
        (
            "unknown manifest field",
            |d| {
                let p = d.join("manifest.json");
                let t = fs::read_to_string(&p)
                    .unwrap()
                    .replacen('{', "{\"colector\": \"x\",", 1);
                fs::write(p, t).unwrap();
            },
            "unknown field `colector`",
        ),
    ];
    for (name, breakit, message) in cases {
        let (_tmp, dir) = copy_fixture("row4-sse-kms");
        breakit(&dir);
        let (out, _) = verify_dir(&dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(stderr.contains("manifest.json"), "{name}: {stderr}");
    }
}

/// The row4-sse-kms log file that holds the job's own records (delivered 10:05).
const JOB_LOG: &str = "T1005Z_";

#[test]
fn a_broken_log_file_outside_the_job_window_does_not_touch_the_job() {
    let (_tmp, dir) = copy_fixture("row4-sse-kms");
    let f = first_file(&dir.join("cloudtrail"), "T0915Z_");
    fs::write(&f, b"not gzip").unwrap();
    seal(&dir);
    let (out, json) = verify_dir(&dir);
    let report = json.unwrap();
    assert_eq!(report["jobs"][0]["verdict"], "pass");
    assert_eq!(report["summary"]["skipped_evidence"], 1, "still counted");
    // The jobs were discovered from the bundle: the broken file may hold another job's Start
    // record (an insider's own job, hidden by breaking its file), so the run is not green.
    assert_eq!(out.status.code(), Some(4));
    // Named by id, the job is judged on its own evidence, which the file does not touch.
    let job = report["jobs"][0]["job_id"].as_str().unwrap().to_owned();
    let named = run(&[
        "verify",
        "--evidence",
        dir.to_str().unwrap(),
        "--job-id",
        &job,
    ]);
    assert_eq!(named.status.code(), Some(0));
}

#[test]
fn unusable_evidence_files_are_named_counted_and_never_pass() {
    /// Breaks a file and returns it; then whether to re-seal, and the reason to expect.
    type Break = fn(&Path) -> PathBuf;
    let cases: &[(&str, Break, bool, &str)] = &[
        (
            "truncated gzip",
            |d| {
                let f = first_file(&d.join("cloudtrail"), JOB_LOG);
                let b = fs::read(&f).unwrap();
                fs::write(&f, &b[..b.len() / 2]).unwrap();
                f
            },
            true,
            "gzip",
        ),
        (
            "log file not JSON",
            |d| {
                let f = first_file(&d.join("cloudtrail"), JOB_LOG);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut gz, b"{\"Records\": [ {\"eventID\": 1").unwrap();
                fs::write(&f, gz.finish().unwrap()).unwrap();
                f
            },
            true,
            "JSON",
        ),
        (
            "record with wrong types",
            |d| {
                let f = first_file(&d.join("cloudtrail"), JOB_LOG);
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut gz, br#"{"Records": [{"eventID": 7, "eventTime": "x", "eventSource": "s3.amazonaws.com", "eventName": "PutObject"}]}"#).unwrap();
                fs::write(&f, gz.finish().unwrap()).unwrap();
                f
            },
            true,
            "not a CloudTrail record",
        ),
        (
            "empty log file",
            |d| {
                let f = first_file(&d.join("cloudtrail"), JOB_LOG);
                fs::write(&f, b"").unwrap();
                f
            },
            true,
            "empty file",
        ),
        (
            "recorded calls not JSON",
            |d| {
                let f = d.join("api/s3/HeadObject.json");
                fs::write(&f, "[{").unwrap();
                f
            },
            true,
            "invalid recorded calls",
        ),
        (
            "unknown member in a call record",
            |d| {
                let f = d.join("api/s3/HeadObject.json");
                let t = fs::read_to_string(&f).unwrap().replacen(
                    "\"Request\"",
                    "\"Requets\": 1, \"Request\"",
                    1,
                );
                fs::write(&f, t).unwrap();
                f
            },
            true,
            "unknown field",
        ),
        (
            "altered after sealing",
            |d| {
                let f = d.join("api/s3/HeadObject.json");
                let t = fs::read_to_string(&f).unwrap().replace("aws:kms", "AES256");
                fs::write(&f, t).unwrap();
                f
            },
            false,
            "does not match the manifest",
        ),
        (
            "listed but missing",
            |d| {
                let f = d.join("api/s3/HeadObject.json");
                fs::remove_file(&f).unwrap();
                f
            },
            false,
            "unreadable",
        ),
        (
            "present but not listed",
            |d| {
                let f = d.join("api/s3/Extra.json");
                fs::write(&f, "[]").unwrap();
                f
            },
            false,
            "not listed in manifest.json",
        ),
    ];
    for (name, breakit, reseal, reason) in cases {
        let (_tmp, dir) = copy_fixture("row4-sse-kms");
        let file = breakit(&dir);
        if *reseal {
            seal(&dir);
        }
        let (out, json) = verify_dir(&dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{name}: {stderr}");
        let report = json.unwrap_or_else(|| panic!("{name}: no JSON report"));
        let skipped = report["evidence"]["skipped"].as_array().unwrap();
        let named = skipped.iter().find(|s| {
            s["subject"]
                .as_str()
                .unwrap()
                .ends_with(file.file_name().unwrap().to_str().unwrap())
        });
        let named =
            named.unwrap_or_else(|| panic!("{name}: {} not named in {skipped:?}", file.display()));
        assert!(
            named["reason"].as_str().unwrap().contains(reason),
            "{name}: {named}"
        );
        assert!(report["summary"]["skipped_evidence"].as_u64().unwrap() >= 1);
        assert_eq!(report["jobs"][0]["verdict"], "inconclusive", "{name}");
    }
}

fn ids(report: &Value) -> Vec<String> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn audit_discovers_the_jobs_started_in_the_window_from_a_trail_dir() {
    let out = run(&[
        "audit",
        "--offline",
        "--trail-dir",
        "fixtures/demo/cloudtrail",
        "--from",
        "2026-11-20T10:05:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (all, _) = json_report("demo");
    let started_after_1005: Vec<String> = ids(&all).into_iter().skip(1).collect();
    assert_eq!(
        ids(&r),
        started_after_1005,
        "the 10:00 job is outside the window"
    );
    let sources = r["evidence"]["sources"].to_string();
    assert!(
        sources.contains("trail-dir fixtures/demo/cloudtrail"),
        "{sources}"
    );
    // Trail files alone carry no trail configuration: data-event checks cannot pass.
    for j in r["jobs"].as_array().unwrap() {
        assert_ne!(j["verdict"], "pass");
    }
    let backwards = run(&[
        "audit",
        "--offline",
        "--trail-dir",
        "x",
        "--from",
        "2026-11-20T10:00:00Z",
        "--until",
        "2026-11-20T09:00:00Z",
    ]);
    assert_eq!(backwards.status.code(), Some(2), "a backwards window");
    let nothing = run(&["audit", "--offline", "--since", "1d"]);
    assert_eq!(nothing.status.code(), Some(2), "--offline needs a source");
    let both = run(&[
        "audit",
        "--offline",
        "--region",
        "us-east-1",
        "--since",
        "1d",
        "--trail-dir",
        "x",
    ]);
    assert_eq!(both.status.code(), Some(2), "--offline refuses AWS flags");
}

#[test]
fn a_trail_dir_adds_to_a_bundle_without_duplicating_records() {
    let (bundle, _) = json_report("demo");
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--trail-dir",
        "fixtures/demo/cloudtrail",
        "--format",
        "json",
    ]);
    let both: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        both["evidence"]["cloudtrail_records"],
        bundle["evidence"]["cloudtrail_records"]
    );
    let verdicts = |r: &Value| {
        r["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["verdict"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&both), verdicts(&bundle));
}

#[test]
fn verify_offline_on_a_plain_directory_of_trail_files() {
    let (tmp, dir) = copy_fixture("row4-sse-kms");
    let plain = tmp.path().join("plain");
    fs::create_dir(&plain).unwrap();
    let job_log = first_file(&dir.join("cloudtrail"), JOB_LOG);
    fs::copy(&job_log, plain.join("a.json.gz")).unwrap();
    fs::write(plain.join("b.json.gz"), b"\x1f\x8b\x08 truncated").unwrap();
    let (report, _) = json_report("row4-sse-kms");
    let job = ids(&report).remove(0);
    let out = run(&[
        "verify",
        "--offline",
        "--trail-dir",
        plain.to_str().unwrap(),
        "--job-id",
        &job,
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let j = &r["jobs"][0];
    assert_eq!(
        j["requested"]["kms_key_id"],
        "1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert!(
        j["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "PutObject")
    );
    let skipped = r["evidence"]["skipped"].to_string();
    assert!(
        skipped.contains("b.json.gz") && skipped.contains("gzip"),
        "{skipped}"
    );
}

#[test]
fn an_audit_window_without_log_files_is_inconclusive_not_clean() {
    let out = run(&[
        "audit",
        "--offline",
        "--trail-dir",
        "fixtures/demo/cloudtrail",
        "--from",
        "2026-10-01T00:00:00Z",
        "--until",
        "2026-10-02T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["jobs"], 0);
    assert!(
        r["evidence"]["skipped"]
            .to_string()
            .contains("no CloudTrail log file here can hold events")
    );
}

/// The formats besides table and json, with their `--output-dir` file names.
const FORMATS: [(&str, &str); 5] = [
    ("csv", "report.csv"),
    ("sarif", "report.sarif"),
    ("junit", "report.xml"),
    ("markdown", "report.md"),
    ("html", "report.html"),
];

/// Runs `verify` on a fixture with every format into a temp dir; returns the dir and code.
fn all_formats(fixture: &str, extra: &[&str]) -> (tempfile::TempDir, i32) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "verify".to_owned(),
        "--evidence".into(),
        format!("fixtures/{fixture}"),
        "--output-dir".into(),
        dir.path().to_str().unwrap().into(),
    ];
    for f in ["table", "json"].into_iter().chain(FORMATS.map(|f| f.0)) {
        args.extend(["--format".to_owned(), f.to_owned()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let code = out.status.code().unwrap();
    assert!(
        matches!(code, 0 | 3 | 4),
        "{fixture}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "--output-dir writes nothing to stdout"
    );
    (dir, code)
}

#[test]
fn every_format_matches_snapshots_on_every_fixture() {
    for fixture in fixtures() {
        let (dir, code) = all_formats(&fixture, &[]);
        let (json, json_code) = json_report(&fixture);
        assert_eq!(
            code, json_code,
            "{fixture}: same exit code with --output-dir"
        );
        // Two runs: their run times (`generated_at`) may differ by a second, nothing else.
        let masked =
            |text: &str| -> Value { serde_json::from_str(&run_time_masked(text)).unwrap() };
        assert_eq!(
            masked(&fs::read_to_string(dir.path().join("report.json")).unwrap()),
            masked(&json.to_string()),
            "{fixture}: report.json is the --format json report"
        );
        let table = fs::read_to_string(dir.path().join("report.txt")).unwrap();
        let direct = run(&["verify", "--evidence", &format!("fixtures/{fixture}")]);
        assert_eq!(
            run_time_masked(&table),
            run_time_masked(&String::from_utf8(direct.stdout).unwrap()),
            "{fixture}: report.txt is the table"
        );
        for (_, file) in FORMATS {
            let text = fs::read_to_string(dir.path().join(file)).unwrap();
            snapshot(&format!("formats/{fixture}/{file}"), &text);
        }
    }
}

#[test]
fn several_formats_need_an_output_dir() {
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--format",
        "json",
        "--format",
        "sarif",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output-dir"));
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--output",
        "x.json",
        "--output-dir",
        "x",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--output and --output-dir conflict"
    );
    assert_eq!(
        run(&["rules", "--format", "sarif"]).status.code(),
        Some(2),
        "rules only print table or json"
    );
}

/// The validator's one-line JSON answers, by file name.
fn validate(python: &str, files: &[PathBuf]) -> Vec<Value> {
    let out = Command::new(python)
        .arg(root().join("tests/validate/validate_reports.py"))
        .args(files)
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "validator rejected a report:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
#[cfg_attr(
    no_lab,
    ignore = "needs the report validators' Python (TEXTRACT_AUDIT_NO_LAB is set)"
)]
fn sarif_validates_against_the_schema_and_junit_reads_back_with_its_counts() {
    let python = common::validator_python();
    let python = python.to_str().unwrap().to_owned();
    let mut checked = 0;
    for (fixture, extra) in fixtures().into_iter().map(|f| (f, vec![])).chain([(
        "demo".to_owned(),
        vec![
            "--redact",
            "--mutelist",
            "tests/validate/demo-mutelist.toml",
        ],
    )]) {
        let (dir, _) = all_formats(&fixture, &extra);
        let report: Value =
            serde_json::from_slice(&fs::read(dir.path().join("report.json")).unwrap()).unwrap();
        let answers = validate(
            &python,
            &[
                dir.path().join("report.sarif"),
                dir.path().join("report.xml"),
                dir.path().join("report.json"),
            ],
        );
        assert_eq!(
            (&answers[2]["kind"], &answers[2]["jobs"]),
            (&Value::from("textract-audit"), &report["summary"]["jobs"]),
            "{fixture}: report.json against the v1 schema"
        );
        let not_passed = report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|j| j["findings"].as_array().unwrap())
            .filter(|f| f["status"] == "fail" || f["status"] == "inconclusive")
            .count();
        assert_eq!(
            answers[0]["results"], not_passed,
            "{fixture}: SARIF results"
        );
        assert_eq!(answers[0]["rules"], rule_count(), "{fixture}: SARIF rules");
        let junit = &answers[1];
        assert_eq!(junit["suites"], report["summary"]["jobs"], "{fixture}");
        // Each job's failures are its rules with an unmuted FAIL: a FAIL job has at least
        // one, a job that is not FAIL has none.
        for (job, suite) in report["jobs"].as_array().unwrap().iter().zip(
            junit["cases"]
                .as_array()
                .unwrap()
                .chunk_by(|a, b| a["suite"] == b["suite"]),
        ) {
            let failed = suite.iter().filter(|c| c["outcome"] == "Failure").count();
            assert_eq!(
                failed > 0,
                job["verdict"] == "fail",
                "{fixture}: {}",
                job["job_id"]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, fixtures().len() + 1);
}

/// The v1 JSON schema, parsed.
fn report_schema() -> Value {
    let path = root().join("docs/schema/textract-audit-v1.schema.json");
    serde_json::from_slice(&fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// A report over two sections (accounts/Regions), built through the library as a multi-target
/// live `audit` builds it: the only way to get `sections` without AWS.
fn sectioned_report() -> String {
    use textract_audit::{evidence, report, rules, timeline};
    let rules = rules::RuleSet::builtin().unwrap();
    let evidence: Vec<_> = ["demo", "row4-sse-kms"]
        .iter()
        .map(|f| evidence::bundle::load(&root().join("fixtures").join(f)).unwrap())
        .collect();
    let parts: Vec<report::Part> = evidence
        .iter()
        .map(|e| report::Part {
            evidence: e,
            jobs: timeline::discover_jobs(e),
        })
        .collect();
    let r = report::build_parts(&parts, &rules, &report::Policy::default());
    assert_eq!(r.sections.len(), 2);
    textract_audit::render::json::render(&r)
}

#[test]
fn the_json_schema_names_the_report_schema_and_describes_every_field_the_reports_have() {
    let schema = report_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["properties"]["schema"]["const"],
        textract_audit::report::SCHEMA
    );
    // Every field a report has is described in the schema (additionalProperties stays open
    // for later v1 releases, so the schema itself would not notice an undocumented field).
    let mut reports: Vec<(String, Value)> = fixtures()
        .into_iter()
        .map(|f| {
            let (r, _) = json_report(&f);
            (f, r)
        })
        .collect();
    let (muted, _) = demo_json(&[
        "--redact",
        "--fail-on",
        "low",
        "--mutelist",
        "tests/validate/demo-mutelist.toml",
    ]);
    reports.push(("demo muted".into(), muted));
    reports.push((
        "sections".into(),
        serde_json::from_str(&sectioned_report()).unwrap(),
    ));
    for (name, report) in &reports {
        undescribed(&schema, vec![&schema], report, name);
        summary_agrees(report, name);
    }
}

/// What JSON Schema cannot say: the summary counts what the report holds.
fn summary_agrees(r: &Value, name: &str) {
    let s = &r["summary"];
    let jobs = r["jobs"].as_array().unwrap();
    let verdicts = |v: &str| jobs.iter().filter(|j| j["verdict"] == v).count();
    assert_eq!(s["jobs"], jobs.len(), "{name}");
    for v in ["pass", "fail", "inconclusive"] {
        assert_eq!(s[v], verdicts(v), "{name}: {v}");
    }
    let findings: Vec<&Value> = jobs
        .iter()
        .flat_map(|j| j["findings"].as_array().unwrap())
        .collect();
    let muted = findings.iter().filter(|f| f.get("muted").is_some()).count();
    assert_eq!(s["muted"], muted, "{name}");
    let mut counted: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for f in &findings {
        *counted
            .entry(f["rule_id"].as_str().unwrap().to_owned())
            .or_default()
            .entry(f["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(
        s["findings"],
        serde_json::to_value(&counted).unwrap(),
        "{name}"
    );
    assert_eq!(
        s["skipped_evidence"],
        r["evidence"]["skipped"].as_array().unwrap().len(),
        "{name}"
    );
}

/// Fails on any object member in `value` that none of `nodes` (with their `$ref`s, `allOf`,
/// `anyOf`, `oneOf` and `if`/`then`/`else` branches, taken together) describes.
fn undescribed<'a>(root: &'a Value, mut nodes: Vec<&'a Value>, value: &Value, at: &str) {
    let mut i = 0;
    while i < nodes.len() {
        let n = nodes[i];
        if let Some(r) = n["$ref"].as_str() {
            let path = r.strip_prefix('#').expect("local $ref");
            nodes.push(
                root.pointer(path)
                    .unwrap_or_else(|| panic!("{r} unresolved")),
            );
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            nodes.extend(n[key].as_array().into_iter().flatten());
        }
        for key in ["then", "else"] {
            if let Some(branch) = n.get(key) {
                nodes.push(branch);
            }
        }
        i += 1;
    }
    match value {
        Value::Object(members) => {
            for (k, v) in members {
                let described: Vec<&Value> = nodes
                    .iter()
                    .filter_map(|n| n["properties"].get(k))
                    .chain(
                        nodes
                            .iter()
                            .map(|n| &n["additionalProperties"])
                            .filter(|a| a.is_object()),
                    )
                    .collect();
                assert!(!described.is_empty(), "{at}/{k}: not in the schema");
                undescribed(root, described, v, &format!("{at}/{k}"));
            }
        }
        Value::Array(items) => {
            let described: Vec<&Value> = nodes.iter().filter_map(|n| n.get("items")).collect();
            for (j, item) in items.iter().enumerate() {
                undescribed(root, described.clone(), item, &format!("{at}/{j}"));
            }
        }
        _ => {}
    }
}

/// Runs the validator on one file that must be rejected; returns its complaint.
fn rejected(python: &str, file: &Path) -> String {
    let out = Command::new(python)
        .arg(root().join("tests/validate/validate_reports.py"))
        .arg(file)
        .output()
        .expect("the validator runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", file.display());
    stderr
}

#[test]
#[cfg_attr(
    no_lab,
    ignore = "needs the report validators' Python (TEXTRACT_AUDIT_NO_LAB is set)"
)]
fn json_reports_of_every_kind_validate_against_the_v1_schema_and_broken_ones_do_not() {
    let python = common::validator_python();
    let python = python.to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    // Every fixture's `--format json` (and with --output-dir, in the SARIF test) is validated
    // elsewhere; these are the reports no fixture gives on its own.
    let mut files = vec![write("sections.json", sectioned_report().as_bytes())];
    let (fail_on, _) = demo_json(&["--fail-on", "medium"]);
    files.push(write("fail-on.json", fail_on.to_string().as_bytes()));
    // Skipped evidence (scope `s3`) and `problem` evidence references.
    let (_tmp, bundle) = copy_fixture("row4-sse-kms");
    fs::remove_file(bundle.join("api/s3/HeadObject.json")).unwrap();
    let (_, skipped) = verify_dir(&bundle);
    let skipped = skipped.unwrap();
    assert!(skipped.to_string().contains(r#""type":"problem""#));
    files.push(write("skipped.json", skipped.to_string().as_bytes()));
    // No job found, CloudTrail skipped (scope `cloud-trail` with its times).
    let out = run(&[
        "audit",
        "--offline",
        "--trail-dir",
        "fixtures/demo/cloudtrail",
        "--from",
        "2026-10-01T00:00:00Z",
        "--until",
        "2026-10-02T00:00:00Z",
        "--format",
        "json",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""kind": "cloud-trail""#));
    files.push(write("empty-window.json", &out.stdout));
    let answers = validate(&python, &files);
    assert_eq!(answers.len(), files.len());
    assert!(answers.iter().all(|a| a["valid"] == true), "{answers:?}");

    // The check can fail: each of these breaks the contract in one place.
    let (demo, _) = demo_json(&[]);
    type Break = fn(&mut Value);
    let broken: [(&str, Break, &str); 5] = [
        (
            "verdict",
            |r| r["jobs"][0]["verdict"] = "maybe".into(),
            "/jobs/0/verdict: 'maybe' is not one of",
        ),
        (
            "job-id",
            |r| {
                r["jobs"][1].as_object_mut().unwrap().remove("job_id");
            },
            "/jobs/1: 'job_id' is a required property",
        ),
        (
            "time",
            |r| r["generated_at"] = "2026-11-20 11:00".into(),
            "/generated_at: '2026-11-20 11:00' is not a 'date-time'",
        ),
        (
            "schema",
            |r| r["schema"] = "textract-audit/v2".into(),
            "/schema: 'textract-audit/v1' was expected",
        ),
        (
            "severity",
            |r| r["jobs"][0]["findings"][0]["severity"] = "HIGH".into(),
            "/jobs/0/findings/0/severity: 'HIGH' is not one of",
        ),
    ];
    for (name, breakit, complaint) in broken {
        let mut r = demo.clone();
        breakit(&mut r);
        let file = write(&format!("broken-{name}.json"), r.to_string().as_bytes());
        let stderr = rejected(&python, &file);
        assert!(stderr.contains(complaint), "{name}: {stderr}");
    }
    // A field the schema does not know is fine: v1 grows additively.
    let mut grown = demo.clone();
    grown["jobs"][0]["added_in_a_later_v1"] = Value::from(true);
    grown["added_in_a_later_v1"] = serde_json::json!({"any": ["shape"]});
    validate(
        &python,
        &[write("grown.json", grown.to_string().as_bytes())],
    );
}

fn demo_json(extra: &[&str]) -> (Value, i32) {
    fixture_json("demo", extra)
}

#[test]
fn the_mute_list_mutes_expires_and_reports_stale_entries() {
    let (report, code) = demo_json(&["--mutelist", "tests/validate/demo-mutelist.toml"]);
    assert_eq!(code, 4, "the FAIL is muted; the INCONCLUSIVE job remains");
    assert_eq!(report["summary"]["fail"], 0);
    assert_eq!(
        report["options"]["mutelist"],
        "tests/validate/demo-mutelist.toml"
    );
    let states: Vec<(&str, u64)> = report["mutelist"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e["matched"].as_u64().unwrap()))
        .collect();
    assert_eq!(states[0].0, "applied");
    assert!(states[0].1 > 0);
    assert_eq!(states[1].0, "expired");
    assert!(
        states[1].1 > 0,
        "an expired entry says what it would still match"
    );
    assert_eq!(states[2], ("stale", 0));
    let muted: Vec<&Value> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["findings"].as_array().unwrap())
        .filter(|f| f.get("muted").is_some())
        .collect();
    assert_eq!(muted.len() as u64, states[0].1);
    assert_eq!(report["summary"]["muted"], muted.len());
    for f in &muted {
        assert_eq!(f["status"], "fail", "muted findings keep their status");
        assert_eq!(f["muted"]["entry"], 1);
        assert!(f["muted"]["reason"].as_str().unwrap().contains("SEC-"));
    }
    // Every format says so.
    let (dir, _) = all_formats("demo", &["--mutelist", "tests/validate/demo-mutelist.toml"]);
    for file in [
        "report.txt",
        "report.md",
        "report.html",
        "report.csv",
        "report.sarif",
        "report.xml",
    ] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains("SEC-"), "{file} names the mute reason");
    }
    let table = fs::read_to_string(dir.path().join("report.txt")).unwrap();
    for state in ["applied", "expired", "stale"] {
        assert!(table.contains(state), "{table}");
    }
}

#[test]
fn a_bad_mute_list_is_a_usage_error_naming_file_entry_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mute.toml");
    fs::write(
        &file,
        "[[mute]]\nrule = \"documented-mode\"\nreason = \"ok\"\n\n[[mute]]\nrule = \"documented-mode\"\nreason = \"x\"\nexpire = 2026-01-01\n",
    )
    .unwrap();
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--mutelist",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mute.toml: [[mute]] entry 2, field `expire`: unknown field"),
        "{err}"
    );
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--mutelist",
        "no/such/file.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `verify --format json` on a fixture with extra flags: the report and the exit code.
fn fixture_json(fixture: &str, extra: &[&str]) -> (Value, i32) {
    let evidence = format!("fixtures/{fixture}");
    let mut args = vec!["verify", "--evidence", &evidence, "--format", "json"];
    args.extend(extra);
    let out = run(&args);
    let code = out.status.code().unwrap();
    (
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&out.stderr))),
        code,
    )
}

/// The only job's `readers-allowed` findings as `(status, message)`.
fn readers_allowed(report: &Value) -> Vec<(String, String)> {
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    jobs[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "readers-allowed")
        .map(|f| {
            (
                f["status"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const ANALYST: &str = "arn:aws:sts::111122223333:assumed-role/Analytics/notebook";
const READER: &str = "arn:aws:sts::111122223333:assumed-role/ResultsReader/claims-app";

#[test]
fn a_reader_the_allow_list_does_not_name_fails_naming_it() {
    let list = "fixtures/readers-third-principal/allowed-readers.toml";
    let (report, code) = fixture_json("readers-third-principal", &["--allowed-readers", list]);
    assert_eq!(code, 3);
    assert_eq!(report["jobs"][0]["verdict"], "fail");
    let found = readers_allowed(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    let (status, message) = &found[0];
    assert_eq!(status, "fail");
    assert!(message.starts_with(ANALYST), "{message}");
    assert!(
        message.contains(list) && message.contains("does not allow"),
        "{message}"
    );
    assert!(
        !message.contains(READER),
        "the allowed reader is not blamed"
    );
    assert_eq!(report["options"]["allowed_readers"], list);
    let entries = report["allowed_readers"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["state"], "applied");
    assert_eq!(entries[0]["entry"], 1);
    assert!(entries[0]["allowed"].as_u64().unwrap() > 0);
    // The post's own design, under the same file, passes.
    let (post, code) = fixture_json(
        "readers-post-design",
        &[
            "--allowed-readers",
            "fixtures/readers-post-design/allowed-readers.toml",
        ],
    );
    assert_eq!(code, 0, "{:?}", readers_allowed(&post));
    assert!(readers_allowed(&post)[0].1.contains("is allowed by"));
}

#[test]
fn without_an_allow_list_the_readers_are_the_proof_and_listed_in_every_format() {
    let (report, code) = fixture_json("readers-third-principal", &[]);
    assert_eq!(code, 0);
    assert!(report["options"]["allowed_readers"].is_null());
    assert!(report.get("allowed_readers").is_none());
    let found = readers_allowed(&report);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "pass");
    assert!(
        found[0]
            .1
            .starts_with("no allow-list given (--allowed-readers)"),
        "{}",
        found[0].1
    );
    let rows = report["jobs"][0]["readers"].as_array().unwrap();
    let principals: Vec<&str> = rows
        .iter()
        .map(|r| r["principal"].as_str().unwrap())
        .collect();
    assert_eq!(
        principals,
        [
            "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker",
            READER,
            ANALYST
        ]
    );
    let reader = &rows[1];
    assert_eq!(reader["objects"]["count"], 2);
    assert!(reader["objects"]["first"].as_str().unwrap().ends_with("/1"));
    assert!(reader["objects"]["last"].as_str().unwrap().ends_with("/2"));
    assert_eq!(
        reader["how"],
        serde_json::json!(["kms:Decrypt", "s3:GetObject"])
    );
    assert_eq!(reader["source_ips"], serde_json::json!(["10.20.30.50"]));
    assert_eq!(reader["first"], "2026-11-20T10:30:00Z");
    assert_eq!(reader["last"], "2026-11-20T10:30:05Z");
    // A PASS job's details are in the table with --verbose only.
    let (dir, _) = all_formats("readers-third-principal", &["--verbose"]);
    for file in ["report.txt", "report.md", "report.html"] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains("Readers"), "{file} has the readers table");
        assert!(text.contains("10.20.30.40"), "{file} shows the source IP");
        // Table cells may wrap the ARN: its role name is enough.
        assert!(
            text.contains("Analytics"),
            "{file} names the third principal"
        );
    }
    for file in ["report.csv", "report.sarif", "report.xml"] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains("readers-allowed"), "{file} has the rule");
    }
}

#[test]
fn a_trail_that_logs_writes_only_leaves_readers_allowed_inconclusive_naming_the_selector() {
    for extra in [
        &[][..],
        &[
            "--allowed-readers",
            "fixtures/readers-writes-only-trail/allowed-readers.toml",
        ][..],
    ] {
        let (report, code) = fixture_json("readers-writes-only-trail", extra);
        assert_eq!(code, 4, "{extra:?}");
        let found = readers_allowed(&report);
        assert!(
            found.iter().all(|(s, _)| s == "inconclusive") && !found.is_empty(),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(_, m)| m.contains("\"Textract output writes\" (readOnly = false)")),
            "{found:?}"
        );
    }
}

#[test]
fn the_possible_readers_name_the_posts_principals_and_flag_the_open_key_policy() {
    let principals = |p: &Value, q: &str| -> Vec<String> {
        p[q]["principals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    let flags = |p: &Value| -> Vec<String> {
        p["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["flag"].as_str().unwrap().to_owned())
            .collect()
    };
    let role = |r: &str| format!("arn:aws:iam::111122223333:role/{r}");
    let (post, _) = fixture_json("readers-post-design", &[]);
    let p = &post["jobs"][0]["possible_readers"];
    assert!(p["method"].as_str().unwrap().starts_with("static reading"));
    assert_eq!(
        principals(p, "get_object"),
        [role("DocPipeline"), role("ResultsReader")]
    );
    assert_eq!(
        principals(p, "decrypt"),
        [
            "arn:aws:iam::111122223333:root".to_owned(),
            role("DocPipeline"),
            role("ResultsReader")
        ]
    );
    assert!(flags(p).is_empty(), "{p}");
    let (open, _) = fixture_json("readers-open-key-policy", &[]);
    let p = &open["jobs"][0]["possible_readers"];
    assert!(principals(p, "decrypt").contains(&"everyone (*)".to_owned()));
    assert_eq!(flags(p), ["full-key-access", "everyone", "other-account"]);
    let (third, _) = fixture_json("readers-third-principal", &[]);
    let p = &third["jobs"][0]["possible_readers"];
    assert_eq!(p["decrypt_grants"], serde_json::json!([role("Analytics")]));
    assert_eq!(flags(p), ["grant-outlives-job"]);
    let (dir, _) = all_formats("readers-open-key-policy", &["--verbose"]);
    for file in ["report.txt", "report.md", "report.html"] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains("Readers, possible (static reading"), "{file}");
        assert!(text.contains("flag everyone"), "{file}");
    }
}

#[test]
fn a_bad_allow_list_is_a_usage_error_naming_the_file_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[reader]]\nreason = \"x\"\nprincipals = [\n",
            "readers.toml:4: not valid TOML",
        ),
        (
            "[[reader]]\nreason = \"x\"\nprincipals = [\"arn:aws:iam::1:role/R\"]\n",
            "readers.toml: [[reader]] entry 1, field `principals[0]`",
        ),
    ];
    let file = dir.path().join("readers.toml");
    for (text, want) in cases {
        fs::write(&file, text).unwrap();
        for command in ["verify", "audit"] {
            let mut args = vec![command, "--evidence", "fixtures/demo"];
            if command == "audit" {
                args.extend(["--offline", "--since", "1d"]);
            }
            args.extend(["--allowed-readers", file.to_str().unwrap()]);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(2), "{command} {text:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(want), "{command} {text:?}: {err}");
        }
    }
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--allowed-readers",
        "no/such/readers.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/readers.toml"));
}

#[test]
fn fail_on_sets_the_severity_for_exit_3_without_changing_verdicts() {
    // The demo's only FAIL is row2-aws-managed-key, severity low.
    let (plain, code) = demo_json(&[]);
    assert_eq!(code, 3);
    let (low, code_low) = demo_json(&["--fail-on", "low"]);
    assert_eq!(code_low, 3);
    assert_eq!(low["options"]["fail_on"], "low");
    let (medium, code_medium) = demo_json(&["--fail-on", "medium"]);
    assert_eq!(
        code_medium, 4,
        "the low FAIL no longer counts; the INCONCLUSIVE job does"
    );
    assert_eq!(medium["summary"]["exit_code"], 4);
    let verdicts = |r: &Value| {
        r["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["verdict"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(verdicts(&medium), verdicts(&plain), "verdicts unchanged");
    // A fixture whose every job passes except a low FAIL exits 0 above low.
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/fail-row2-aws-s3-key",
        "--fail-on",
        "medium",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["summary"]["fail"], 1);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        run(&["verify", "--evidence", "fixtures/demo", "--fail-on", "info"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn redact_hides_accounts_and_principals_in_every_format_consistently() {
    let (dir, _) = all_formats("demo", &["--redact"]);
    let words = |text: &str| -> BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("account-") || w.starts_with("principal-"))
            .map(str::to_owned)
            .collect()
    };
    let json = fs::read_to_string(dir.path().join("report.json")).unwrap();
    let all = words(&json);
    for file in [
        "report.txt",
        "report.json",
        "report.csv",
        "report.sarif",
        "report.xml",
        "report.md",
        "report.html",
    ] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        for secret in ["111122223333", "DocPipeline", "etl-worker"] {
            assert!(!text.contains(secret), "{file}: {secret} not redacted");
        }
        let found = words(&text);
        assert!(found.contains("account-1"), "{file}: {found:?}");
        // Redaction happens once, on the report: no format has a placeholder of its own.
        assert!(found.is_subset(&all), "{file}: {found:?} vs {all:?}");
        if !matches!(file, "report.csv" | "report.sarif" | "report.xml") {
            // The formats that show the lifecycle show the caller the same way.
            assert!(
                text.contains("arn:aws:sts::account-1:assumed-role/principal-1/principal-2"),
                "{file}"
            );
        }
    }
}

#[test]
fn every_subcommand_has_working_help() {
    // clap checks its definitions only when a command is built: this builds every one.
    for cmd in [
        vec!["--help"],
        vec!["verify", "--help"],
        vec!["audit", "--help"],
        vec!["collect", "--help"],
        vec!["submit", "--help"],
        vec!["rules", "--help"],
        vec!["rules", "show", "--help"],
        vec!["bundle", "seal", "--help"],
    ] {
        let out = run(&cmd);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_job_muted_into_pass_lists_its_proof_and_a_duplicate_entry_is_shadowed() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mutelist.toml");
    fs::write(
        &list,
        "[[mute]]\nrule = \"row2-aws-managed-key\"\nreason = \"accepted (SEC-1)\"\n\n\
         [[mute]]\nrule = \"row2-aws-managed-key\"\nreason = \"the same, twice\"\n",
    )
    .unwrap();
    let (report, _) = json_report("fail-row2-aws-s3-key");
    let job = ids(&report).remove(0);
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/fail-row2-aws-s3-key",
        "--job-id",
        &job,
        "--mutelist",
        list.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["jobs"][0]["verdict"], "pass");
    assert!(
        !r["jobs"][0]["proof"].as_array().unwrap().is_empty(),
        "a PASS lists its proof"
    );
    let states: Vec<(&str, u64)> = r["mutelist"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["state"].as_str().unwrap(), e["muted"].as_u64().unwrap()))
        .collect();
    assert_eq!(states[0].0, "applied");
    assert!(states[0].1 >= 1);
    assert_eq!(states[1], ("shadowed", 0));
}

/// How many rules the binary has (`rules --format json`).
fn rule_count() -> usize {
    serde_json::from_slice::<Value>(&run(&["rules", "--format", "json"]).stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn completion_scripts_are_printed_for_each_shell_and_the_bash_one_parses() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(
            script.contains("verify") && script.contains("--evidence"),
            "{shell}"
        );
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("textract-audit.bash");
            fs::write(&path, &script).unwrap();
            let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(
                check.status.success(),
                "bash -n: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_page_renders_with_groff_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = run(&["man", "--out-dir", pages.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(run(&["man"]).stdout).unwrap();
    let written = fs::read_to_string(pages.join("textract-audit.1")).unwrap();
    assert!(printed == written, "the printed page is the written one");
    for page in [
        "textract-audit.1",
        "textract-audit-verify.1",
        "textract-audit-audit.1",
    ] {
        let rendered = Command::new("groff")
            // -k: UTF-8 input through preconv, as man(1) does.
            .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
            .arg(pages.join(page))
            .output()
            .expect("groff renders the man page (apt-get install groff-base)");
        let stderr = String::from_utf8_lossy(&rendered.stderr);
        assert!(
            rendered.status.success() && stderr.is_empty(),
            "{page}: {stderr}"
        );
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("SYNOPSIS"), "{page}");
    }
}

/// Issue 10, window defect 1: nothing proved is never green.
#[test]
fn audit_of_a_window_the_bundle_does_not_cover_exits_4_not_0() {
    for window in [
        &[
            "--from",
            "2026-10-01T00:00:00Z",
            "--until",
            "2026-10-02T00:00:00Z",
        ][..],
        &["--since", "24h"][..],
    ] {
        let mut args = vec!["audit", "--evidence", "fixtures/demo", "--format", "json"];
        args.extend(window);
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{window:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["summary"]["jobs"], 0);
        let skipped = r["evidence"]["skipped"].to_string();
        assert!(
            skipped.contains("audit window") && skipped.contains("were not looked for"),
            "{window:?}: {skipped}"
        );
    }
    // A window the bundle covers with no job in it is a proof of absence.
    let out = run(&[
        "audit",
        "--evidence",
        "fixtures/demo",
        "--from",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T09:01:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

/// Issue 10, window defect 1: a bundle with no evidence files verifies nothing.
#[test]
fn a_bundle_with_no_evidence_files_exits_4_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("manifest.json"),
        r#"{"schema": "textract-audit-bundle/v1", "captured_at": "2026-11-20T11:00:00Z", "files": {}}"#,
    )
    .unwrap();
    let out = run(&[
        "verify",
        "--evidence",
        tmp.path().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["evidence"]["skipped"]
            .to_string()
            .contains("nothing was verified"),
        "{}",
        r["evidence"]["skipped"]
    );
}

/// Issue 10, window defect 2: the user's --from/--until and one unrelated trail file never
/// replace the bundle's own coverage claim.
#[test]
fn user_window_and_an_unrelated_trail_file_do_not_widen_the_bundles_coverage() {
    let tmp = tempfile::tempdir().unwrap();
    let day = tmp
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20");
    fs::create_dir_all(&day).unwrap();
    let noise = first_file(
        &root().join("fixtures/inconclusive-window/cloudtrail"),
        "0915Z",
    );
    fs::copy(
        noise,
        day.join("111122223333_CloudTrail_us-east-1_20261120T1500Z_0123456789abcdef.json.gz"),
    )
    .unwrap();
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/inconclusive-window",
        "--trail-dir",
        tmp.path().to_str().unwrap(),
        "--from",
        "2026-11-19T00:00:00Z",
        "--until",
        "2026-11-30T00:00:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["evidence"]["cloudtrail_window"],
        serde_json::json!({"from": "2026-11-20T09:00:00Z", "until": "2026-11-20T09:30:00Z"})
    );
    assert_eq!(r["jobs"][0]["verdict"], "inconclusive");
}

/// Issue 10: a flag a command does not use is a usage error, not silently ignored.
#[test]
fn verify_evidence_with_from_until_and_nothing_to_apply_them_to_exits_2() {
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--from",
        "2026-11-20T09:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from/--until"));
    // With a trail to read, the window is applied to its files.
    let (_, code) = json_report("demo");
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--trail-dir",
        "fixtures/demo/cloudtrail",
        "--from",
        "2026-11-20T09:00:00Z",
    ]);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_missing_evidence_dir_trail_dir_and_mute_list_are_all_usage_errors() {
    for args in [
        vec!["verify", "--evidence", "no/such/bundle"],
        vec!["verify", "--evidence", "fixtures/demo/manifest.json"],
        vec![
            "verify",
            "--evidence",
            "fixtures/demo",
            "--trail-dir",
            "no/such/trail",
        ],
        vec![
            "verify",
            "--evidence",
            "fixtures/demo",
            "--mutelist",
            "no/such/mutes.toml",
        ],
        vec![
            "audit",
            "--since",
            "1d",
            "--offline",
            "--trail-dir",
            "no/such/trail",
        ],
        vec!["bundle", "seal", "no/such/bundle"],
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no/such") || stderr.contains("manifest.json"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn quiet_is_accepted_before_and_after_every_subcommand() {
    for args in [
        vec!["-q", "verify", "--evidence", "fixtures/demo"],
        vec!["verify", "-q", "--evidence", "fixtures/demo"],
        vec!["--quiet", "rules"],
        vec!["rules", "-q", "show", "requested-cmk"],
        vec!["completions", "bash", "-q"],
    ] {
        let out = run(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn each_subcommands_help_lists_only_flags_it_takes() {
    let help = |cmd: &str| String::from_utf8(run(&[cmd, "--help"]).stdout).unwrap();
    assert!(help("audit").contains("--all-regions"));
    for cmd in ["verify", "collect", "submit"] {
        assert!(!help(cmd).contains("--all-regions"), "{cmd} --help");
        let out = run(&[cmd, "--all-regions"]);
        assert_eq!(out.status.code(), Some(2), "{cmd} --all-regions");
    }
}

#[test]
fn bundle_seal_on_a_folder_without_a_manifest_creates_one() {
    let (_tmp, dir) = copy_fixture("fail-wrong-cmk");
    fs::remove_file(dir.join("manifest.json")).unwrap();
    let d = dir.to_str().unwrap();
    let out = run(&["bundle", "seal", d, "--captured-at", "2026-11-20T11:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("created") && stderr.contains("CloudTrail window"),
        "{stderr}"
    );
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["captured_at"], "2026-11-20T11:00:00Z");
    assert!(manifest.get("cloudtrail_window").is_none(), "{manifest}");
    assert!(
        manifest["files"].as_object().unwrap().len() > 3,
        "{manifest}"
    );
    // The new bundle loads; it claims no CloudTrail window, so nothing can PASS from it.
    let out = run(&["verify", "--evidence", d, "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(matches!(out.status.code(), Some(3 | 4)), "{report}");
    assert!(
        report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["verdict"] != "PASS"),
        "{report}"
    );
}

/// The table format at `width` columns (`--verbose` when asked).
fn table_at(fixture: &str, width: u16, verbose: bool) -> String {
    let width = width.to_string();
    let mut args = vec!["verify", "--evidence", fixture, "--width", width.as_str()];
    if verbose {
        args.push("--verbose");
    }
    String::from_utf8(run(&args).stdout).unwrap()
}

#[test]
fn tables_fit_80_and_100_columns_and_never_break_an_identifier() {
    for fixture in fixtures() {
        let (json, _) = json_report(&fixture);
        let path = format!("fixtures/{fixture}");
        for width in [80u16, 100] {
            for verbose in [false, true] {
                let text = table_at(&path, width, verbose);
                let at = format!("{fixture} at {width} columns (verbose {verbose})");
                for line in text.lines() {
                    assert!(
                        line.chars().count() <= usize::from(width),
                        "{at}: {} columns: {line}",
                        line.chars().count()
                    );
                }
                for job in json["jobs"].as_array().unwrap() {
                    let id = job["job_id"].as_str().unwrap();
                    assert!(text.contains(id), "{at}: job id {id} broken or missing");
                    let verdict = job["verdict"].as_str().unwrap().to_uppercase();
                    assert!(text.contains(&format!("{verdict} ")), "{at}: {verdict}");
                    for f in job["findings"].as_array().unwrap() {
                        let rule = f["rule_id"].as_str().unwrap();
                        let shown = verbose
                            || matches!(f["status"].as_str(), Some("fail" | "inconclusive"));
                        if shown && job["verdict"] != "pass" {
                            assert!(text.contains(rule), "{at}: rule {rule} broken or missing");
                        }
                    }
                    if !verbose {
                        continue;
                    }
                    for e in job["timeline"].as_array().unwrap() {
                        if let Some(id) = e["evidence"]["event_id"].as_str() {
                            assert!(text.contains(id), "{at}: event id {id} broken or missing");
                        }
                        if let Some(t) = e["time"].as_str() {
                            let time_of_day = &t[11..];
                            assert!(
                                text.contains(time_of_day),
                                "{at}: time {t} broken or missing"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn the_default_table_details_only_jobs_not_passed_and_verbose_shows_every_job_and_row() {
    let (json, _) = demo_json(&[]);
    let pass = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["verdict"] == "pass")
        .expect("the demo has a PASS job");
    let id = pass["job_id"].as_str().unwrap();
    let compact = table_at("fixtures/demo", 100, false);
    let verbose = table_at("fixtures/demo", 100, true);
    assert_eq!(
        compact.matches(id).count(),
        1,
        "the PASS job is in the summary only"
    );
    assert!(compact.contains("1 PASS job(s) listed in the summary only"));
    assert!(
        compact.starts_with("Summary: 3 job(s)"),
        "summary first:\n{compact}"
    );
    assert!(verbose.contains(&format!("Job {id}  PASS")));
    assert!(verbose.lines().count() > compact.lines().count() * 2);
    // Every row of every job in verbose; rows alike fold by default.
    let rows: usize = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["timeline"].as_array().unwrap().len())
        .sum();
    assert_eq!(verbose.matches("\n  [").count(), rows, "{verbose}");
    assert!(
        compact.contains("×3"),
        "three pages written alike fold:\n{compact}"
    );
}

#[test]
fn every_lifecycle_row_under_aws_s3_fails_and_names_the_rule() {
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/fail-row2-aws-s3-key",
        "--format",
        "markdown",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("alias/aws/s3"))
        .collect();
    assert!(
        rows.len() >= 9,
        "PutObject, GenerateDataKey and HeadObject rows: {rows:?}"
    );
    for r in rows {
        assert!(r.contains("| FAIL row2-aws-managed-key"), "{r}");
    }
    let table = table_at("fixtures/fail-row2-aws-s3-key", 100, true);
    let legend: Vec<&str> = table.lines().filter(|l| l.starts_with("  [3] ")).collect();
    assert!(
        legend
            .iter()
            .any(|l| l.contains("FAIL row2-aws-managed-key; PASS")),
        "{legend:?}"
    );
}

#[test]
fn status_filters_jobs_in_every_format_but_never_the_exit_code() {
    let (json, code) = demo_json(&["--status", "FAIL"]);
    assert_eq!(code, 3);
    let jobs = json["jobs"].as_array().unwrap();
    assert!(!jobs.is_empty() && jobs.iter().all(|j| j["verdict"] == "fail"));
    assert_eq!(json["summary"]["jobs"], 3, "the summary counts every job");
    assert_eq!(json["options"]["status"], serde_json::json!(["fail"]));
    let (all, _) = demo_json(&[]);
    let hidden: Vec<&str> = all["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["verdict"] != "fail")
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    let (dir, code) = all_formats("demo", &["--status", "fail", "--verbose"]);
    assert_eq!(code, 3);
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        for id in &hidden {
            assert!(
                !text.contains(id),
                "{}: shows filtered job {id}",
                path.display()
            );
        }
    }
    // Showing only the PASS jobs never turns a FAIL run green.
    let (pass_only, code) = demo_json(&["--status", "pass"]);
    assert_eq!(code, 3);
    assert!(
        pass_only["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["verdict"] == "pass")
    );
    let out = run(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--status",
        "passed",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown verdict is a usage error"
    );
}

#[test]
fn the_readme_json_key_list_names_every_key_the_schema_describes() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("- `json`: ")
        .expect("README describes the json format");
    let end = start + readme[start..].find("\n- `csv`").unwrap();
    let list = &readme[start..end];
    let schema = report_schema();
    let keys =
        |props: &Value| -> Vec<String> { props.as_object().unwrap().keys().cloned().collect() };
    let defs = &schema["$defs"];
    for (what, props) in [
        ("report", &schema["properties"]),
        ("job", &defs["job"]["properties"]),
        ("summary", &defs["summary"]["properties"]),
        ("options", &defs["options"]["properties"]),
    ] {
        for key in keys(props) {
            assert!(
                [
                    format!("`{key}`"),
                    format!("`{key}[]`"),
                    format!("\"{key}\"")
                ]
                .iter()
                .any(|k| list.contains(k.as_str())),
                "README's json list misses the {what} key {key}"
            );
        }
    }
}

#[test]
fn athena_flags_are_checked_before_anything_runs() {
    for args in [
        &[
            "verify",
            "--offline",
            "--trail-dir",
            "fixtures/demo/cloudtrail",
            "--athena",
            "db.t",
        ][..],
        &["verify", "--job-id", "j", "--athena", "just_a_table"][..],
        &["verify", "--job-id", "j", "--athena-workgroup", "w"][..],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
