//! Live collection over a faulty path to AWS: the lab's wire faults (`tests/lab/awslab/wire.py`)
//! answer chosen operations with throttling, 500, 503, a reset connection, a stall or a cut
//! body, and the tool must retry what clears, name once what does not (operation, resource,
//! AWS error code, in one line), judge the affected checks INCONCLUSIVE, cut stalls at the
//! per-attempt timeout and never panic.
//!
//! The lab tests use the lab the harness starts (`tests/common/mod.rs`), as `tests/lab.rs`
//! does. The credential and Region tests need no lab: the tool stops before any call.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Lab, Run, lab, statuses};
use serde_json::{Value, json};

/// The answers a wire fault gives that the SDK sees as transient.
const TRANSIENT: [&str; 5] = ["throttle", "500", "503", "reset", "cut"];

/// Sets the lab's wire fault rules (replacing any).
fn wire(lab: &Lab, rules: Value) {
    lab.control("POST", "faults", &json!({ "wire": rules }));
}

/// The current wire rules, with their `hits`.
fn wire_rules(lab: &Lab) -> Vec<Value> {
    lab.control("GET", "faults", &json!({}))["faults"]["wire"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A row-4 job, finished, with no fault set yet; the seed and the job id.
fn row4(lab: &Lab) -> (Value, String) {
    lab.job("row4", &json!({}))
}

/// The report's one job, after checking the report is JSON and the run did not panic.
fn only_job(run: &Run) -> Value {
    assert_ne!(run.code, 101, "panicked: {}", run.stderr);
    run.report()["jobs"][0].clone()
}

/// Every warning line is one short line naming the call; no SDK `Debug` dump.
fn assert_readable(stderr: &str) {
    for line in stderr.lines() {
        assert!(line.len() < 300, "a long failure line: {line}");
        for debug in [
            "DispatchFailure {",
            "source:",
            "ConnectorError",
            "Some(",
            "kind:",
        ] {
            assert!(!line.contains(debug), "SDK Debug text in: {line}");
        }
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn wire_faults_that_clear_within_the_retries_are_absorbed() {
    let lab = lab();
    let (_, job) = row4(&lab);
    let baseline = lab.verify(&[&job], &[]);
    let expected = statuses(&only_job(&baseline));
    assert_eq!(baseline.code, 4, "{}", baseline.stderr);
    for answer in TRANSIENT {
        // Two failures each, on a JSON API, an S3 REST call and the paged CloudTrail read:
        // the third attempt (of the default 3) is answered.
        let rules: Vec<Value> = ["DescribeKey", "ListObjectsV2", "LookupEvents"]
            .iter()
            .map(|op| json!({"operation": op, "answer": answer, "count": 2}))
            .collect();
        wire(&lab, json!(rules));
        let run = lab.verify(&[&job], &[]);
        let got = statuses(&only_job(&run));
        assert_eq!(run.code, 4, "{answer}: {}", run.stderr);
        assert_eq!(got, expected, "{answer}: {}", run.stderr);
        assert!(
            run.stderr.is_empty(),
            "{answer}: retried, not reported: {}",
            run.stderr
        );
        for rule in wire_rules(&lab) {
            assert_eq!(
                rule["hits"], 2,
                "{answer}: each fault was met and retried: {rule}"
            );
        }
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn wire_fault_that_persists_is_named_once_and_its_checks_are_inconclusive() {
    let lab = lab();
    let (seed, job) = row4(&lab);
    let folder = format!(
        "s3://{}/{}/{job}/",
        seed["output"]["bucket"].as_str().unwrap(),
        seed["output"]["prefix"].as_str().unwrap()
    );
    let code = |answer: &str| match answer {
        "throttle" => "503",
        "500" => "500",
        "503" => "503",
        _ => "DispatchFailure",
    };
    for answer in ["throttle", "500", "503", "reset"] {
        wire(&lab, json!([{"operation": "HeadObject", "answer": answer}]));
        let run = lab.verify(&[&job], &["--max-attempts", "2"]);
        let j = only_job(&run);
        assert_eq!(run.code, 4, "{answer}: {}", run.stderr);
        assert_eq!(j["verdict"], "inconclusive", "{answer}");
        assert_eq!(
            statuses(&j).get("evidence-readable").map(String::as_str),
            Some("inconclusive"),
            "{answer}: {}",
            run.stderr
        );
        assert_readable(&run.stderr);
        // One line per object (three: .s3_access_check, 1, 2), whatever the retries.
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{answer}: {}", run.stderr);
        for name in [".s3_access_check", "1", "2"] {
            let prefix = format!("warning: s3:HeadObject {folder}{name}: {}", code(answer));
            assert_eq!(
                lines.iter().filter(|l| l.starts_with(&prefix)).count(),
                1,
                "{answer}: {prefix}\n{}",
                run.stderr
            );
        }
        // Each of the three calls was tried twice (HEAD answers carry no error code: S3's
        // `SlowDown` is then its status).
        assert_eq!(wire_rules(&lab)[0]["hits"], 6, "{answer}");
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn truncated_answer_is_named_once_and_never_read_as_evidence() {
    let lab = lab();
    let (_, job) = row4(&lab);
    wire(
        &lab,
        json!([
            {"operation": "DescribeKey", "answer": "truncate"},
            {"operation": "ListAliases", "answer": "truncate"},
        ]),
    );
    let run = lab.verify(&[&job], &[]);
    let j = only_job(&run);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_ne!(
        statuses(&j).get("requested-cmk").map(String::as_str),
        Some("pass"),
        "a cut DescribeKey answer proves nothing: {}",
        run.stderr
    );
    assert_readable(&run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: kms:"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning: kms:DescribeKey ")),
        "named: {}",
        run.stderr
    );
    assert!(
        lines.iter().all(|l| l.contains(": ResponseError: ")),
        "{}",
        run.stderr
    );
    assert_eq!(
        lines.len(),
        lines
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        "each call named once: {}",
        run.stderr
    );
}

/// A row-4 job verified with `operation` stalled for 90 s, 1 s attempts, 2 attempts: the run
/// and how long it took.
fn stalled_run(lab: &Lab, operation: &str) -> (Run, Duration) {
    let (_, job) = row4(lab);
    wire(
        lab,
        json!([{"operation": operation, "answer": "stall", "seconds": 90}]),
    );
    let started = Instant::now();
    let run = lab.verify(&[&job], &["--timeout", "1", "--max-attempts", "2"]);
    (run, started.elapsed())
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn stalled_call_is_cut_by_the_attempt_timeout() {
    let lab = lab();
    let (run, took) = stalled_run(&lab, "HeadObject");
    let j = only_job(&run);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(
        statuses(&j).get("evidence-readable").map(String::as_str),
        Some("inconclusive")
    );
    assert_readable(&run.stderr);
    let timeouts = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: s3:HeadObject ") && l.contains(": Timeout: "))
        .count();
    assert_eq!(timeouts, 3, "{}", run.stderr);
    // Far below one stall: the attempts were cut, not waited out.
    assert!(took < Duration::from_secs(45), "took {took:?}");
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn endpoint_that_stalls_every_call_ends_the_run_in_bounded_time() {
    let lab = lab();
    let (run, took) = stalled_run(&lab, "*");
    // Nothing answered: a runtime error naming why, after one line per failed call.
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_readable(&run.stderr);
    assert!(
        run.stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("error: no AWS call succeeded")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .all(|l| l.contains(": Timeout: ")),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

/// The binary with a clean environment plus `env`; the endpoint answers nothing (port 1), so
/// a test passes only if the tool stops before its first call.
fn run_without_lab(args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_textract-audit"));
    cmd.args(args)
        .args(["--endpoint-url", "http://127.0.0.1:1", "--job-id", "j1"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const KEYS: [(&str, &str); 2] = [("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")];

#[test]
fn no_credentials_is_said_once_like_the_aws_cli() {
    let run = run_without_lab(&["verify", "--region", "us-east-1"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("error: Unable to locate credentials."),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_profile_is_named_as_a_usage_error() {
    for (args, env) in [
        (
            vec!["verify", "--region", "us-east-1", "--profile", "nope"],
            vec![],
        ),
        (
            vec!["verify", "--region", "us-east-1"],
            vec![("AWS_PROFILE", "nope")],
        ),
    ] {
        // Even with keys in the environment: the SDK would go on with those.
        let env: Vec<(&str, &str)> = KEYS.iter().copied().chain(env).collect();
        let run = run_without_lab(&args, &env);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            "error: the config profile (nope) could not be found in the shared AWS config and credentials files"
        );
    }
}

#[test]
fn known_profile_is_accepted() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("cfg");
    std::fs::write(&config, "[profile audit]\nregion = us-east-1\n").unwrap();
    let config = config.to_str().unwrap();
    let run = run_without_lab(
        &["verify", "--profile", "audit", "--max-attempts", "1"],
        &[KEYS[0], KEYS[1], ("AWS_CONFIG_FILE", config)],
    );
    // Past the checks: the calls themselves fail (nothing listens on port 1).
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: cloudtrail:LookupEvents"),
        "{}",
        run.stderr
    );
    assert_readable(&run.stderr);
}

#[test]
fn missing_region_is_a_usage_error() {
    let run = run_without_lab(&["verify"], &KEYS);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("error: no AWS Region"),
        "{}",
        run.stderr
    );
}
