//! Integration tests: the real binary on every fixture bundle, offline.
//!
//! Snapshots live in `tests/snapshots/`; after an intended output change, regenerate them
//! with `UPDATE_SNAPSHOTS=1 cargo test --test cli` and review the diff.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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

fn snapshot(name: &str, actual: &str) {
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
    for fixture in fixtures() {
        let (report, _) = json_report(&fixture);
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

/// A copy of a fixture to break.
fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join(name);
    copy_dir(&root().join("fixtures").join(name), &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            fs::copy(e.path(), to).unwrap();
        }
    }
}

/// The first file (in name order) under `dir` whose path contains `pattern`.
fn first_file(dir: &Path, pattern: &str) -> PathBuf {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(pattern) {
                return p;
            }
        }
    }
    panic!("no {pattern} under {}", dir.display());
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
    assert_eq!(out.status.code(), Some(0));
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
