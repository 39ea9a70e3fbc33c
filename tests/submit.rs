//! `submit` end to end against the local AWS lab (`tests/lab/`): preflight, `Start*` through
//! the AWS SDK, waiting, and the verification `verify --job-id` would give.
//!
//! Like `tests/lab.rs` they run against the harness's lab (the usage test needs none).
//!
//! Live evidence has no S3 data events (they exist only in trail log files), so a job that
//! wrote to a bucket is INCONCLUSIVE for exactly the checks that need them unless the test
//! hands the trail's delivered log files over with `--trail-dir`.

mod common;

use std::process::Command;

use common::{Lab, Run, lab, statuses};
use serde_json::{Value, json};

/// Without S3 data events these are the checks that cannot conclude for a bucket job:
/// the writes themselves, and who wrote (integrity).
const NEED_DATA_EVENTS: [&str; 2] = ["evidence-data-events", "output-integrity"];

/// Resets the lab and creates `scenario` without running its job, with `faults` set.
fn seeded(lab: &Lab, scenario: &str, faults: &Value) -> Value {
    let seed = lab.seed(scenario);
    lab.faults(faults);
    seed
}

/// `submit` with the seeded scenario's document and output settings, JSON report.
fn submit(lab: &Lab, seed: &Value, extra: &[&str]) -> Run {
    let params = &seed["job"]["params"];
    let document = format!(
        "s3://{}/{}",
        seed["input"]["bucket"].as_str().unwrap(),
        seed["input"]["key"].as_str().unwrap()
    );
    let mut args: Vec<String> = [
        "submit",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &lab.endpoint,
        "--document",
        &document,
        "--format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    if seed["job"]["api"] == "StartDocumentTextDetection" {
        args.extend(["--api", "text"].map(String::from));
    } else {
        args.extend(["--features", "TABLES,FORMS"].map(String::from));
    }
    if let Some(bucket) = params["OutputConfig"]["S3Bucket"].as_str() {
        args.extend(["--output-bucket".into(), bucket.into()]);
    }
    if let Some(prefix) = params["OutputConfig"]["S3Prefix"].as_str() {
        args.extend(["--output-prefix".into(), prefix.into()]);
    }
    if let Some(key) = params["KMSKeyId"].as_str() {
        args.extend(["--kms-key".into(), key.into()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.run(&args)
}

/// The rules a job did not PASS (nor skip as not applicable).
fn not_passed(job: &Value, status: &str) -> Vec<String> {
    statuses(job)
        .into_iter()
        .filter(|(_, s)| s == status)
        .map(|(r, _)| r)
        .collect()
}

#[test]
fn usage_errors_need_no_aws() {
    let run = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["submit", "--features", "TABLES", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing to submit"));
    let run = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["submit", "--document", "s3://b/k", "--features", "QUERIES"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("the QUERIES feature and --query go together")
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn each_table_row_end_to_end() {
    let lab = lab();
    for (scenario, row, verdict, code) in [
        ("row1", 1, "pass", 0),
        ("row2", 2, "inconclusive", 4),
        ("row2-text", 2, "inconclusive", 4),
        ("row3", 3, "pass", 0),
        ("row4", 4, "inconclusive", 4),
        ("row4-bucket-key", 4, "inconclusive", 4),
    ] {
        let seed = seeded(&lab, scenario, &json!({}));
        let run = submit(&lab, &seed, &[]);
        let context = format!("{scenario}: exit {}\nstderr:\n{}", run.code, run.stderr);
        assert!(run.stderr.contains("preflight: "), "{context}");
        assert!(run.stderr.contains(" will fail\n"), "{context}");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.trim_start().starts_with("=>")
                    && l.contains(&format!("table   row {row}: "))),
            "{context}"
        );
        let report = run.report();
        let jobs = report["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 1, "{context}");
        let job = &jobs[0];
        assert_eq!(
            run.started(),
            [job["job_id"].as_str().unwrap()],
            "{context}"
        );
        assert_eq!(job["job_status"], "SUCCEEDED", "{context}");
        assert_eq!(job["verdict"], verdict, "{context}");
        assert_eq!(run.code, code, "{context}");
        assert!(not_passed(job, "fail").is_empty(), "{context}");
        let inconclusive = not_passed(job, "inconclusive");
        if row == 2 || row == 4 {
            assert_eq!(inconclusive, NEED_DATA_EVENTS, "{context}");
            assert!(
                run.stderr
                    .contains("hint: S3 data events reach trail log files"),
                "{context}"
            );
            assert!(
                run.stderr.contains(&format!(
                    "textract-audit verify --job-id {} --region us-east-1",
                    job["job_id"].as_str().unwrap()
                )),
                "{context}"
            );
        } else {
            assert!(inconclusive.is_empty(), "{context}");
            assert!(!run.stderr.contains("hint:"), "{context}");
        }
        for rule in ["documented-mode", "evidence-start-event", "evidence-window"] {
            assert_eq!(statuses(job)[rule], "pass", "{rule}: {context}");
        }
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn waiting_for_evidence_rereads_the_trail_until_the_data_events_arrive() {
    let lab = lab();
    let seed = seeded(&lab, "row4", &json!({}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    std::thread::scope(|s| {
        // The trail delivers its log files while `submit` is already waiting for them.
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(2500));
            lab.control("POST", "flush-trail", &json!({}));
        });
        let run = submit(
            &lab,
            &seed,
            &["--trail", &trail, "--wait-for-evidence", "30s"],
        );
        let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
        assert!(
            run.stderr
                .contains("waiting for trail log files with the S3 data events of 1 job(s)"),
            "{context}"
        );
        let job = &run.report()["jobs"][0];
        assert_eq!(job["verdict"], "pass", "{context}");
        assert_eq!(run.code, 0, "{context}");
        assert_eq!(statuses(job)["evidence-data-events"], "pass", "{context}");
        assert!(!run.stderr.contains("hint:"), "{context}");
    });
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn several_documents_are_submitted_and_verified_together() {
    let lab = lab();
    let seed = seeded(&lab, "row2", &json!({}));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("scan.pdf");
    std::fs::write(
        &local,
        b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n",
    )
    .unwrap();
    let manifest = dir.path().join("batch.txt");
    std::fs::write(
        &manifest,
        "# two more\ns3://lab-input/docs/sample.pdf\nscan.pdf\n",
    )
    .unwrap();
    let run = submit(
        &lab,
        &seed,
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--input",
            "s3://lab-input/uploads/",
            "--upload-sse",
            "aws:kms",
            "--upload-kms-key",
            "alias/lab-textract",
            "--concurrency",
            "2",
        ],
    );
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let started = run.started();
    assert_eq!(started.len(), 3, "{context}");
    assert!(
        run.stderr.contains("upload  scan.pdf") || run.stderr.contains("scan.pdf ("),
        "{context}"
    );
    let report = run.report();
    let ids: Vec<&str> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, started, "one report, in submission order: {context}");
    assert_eq!(run.code, 4, "{context}");
    for job in report["jobs"].as_array().unwrap() {
        assert_eq!(
            not_passed(job, "inconclusive"),
            NEED_DATA_EVENTS,
            "{context}"
        );
    }
    // The upload asked for SSE-KMS with the CMK: the lab's data event says what S3 applied.
    let events = lab.control("GET", "events", &json!({}));
    let put = events["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["eventName"] == "PutObject" && r["requestParameters"]["key"] == "uploads/scan.pdf"
        })
        .cloned()
        .expect("the upload's PutObject record");
    assert_eq!(put["additionalEventData"]["SSEApplied"], "SSE_KMS", "{put}");
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn resubmitting_with_the_same_token_returns_the_same_job() {
    let lab = lab();
    let seed = seeded(&lab, "row2", &json!({}));
    let first = submit(&lab, &seed, &["--client-request-token", "audit-42"]);
    let second = submit(&lab, &seed, &["--client-request-token", "audit-42"]);
    assert_eq!(first.started().len(), 1, "{}", first.stderr);
    assert_eq!(first.started(), second.started(), "{}", second.stderr);
    let other = submit(&lab, &seed, &["--client-request-token", "audit-43"]);
    assert_ne!(first.started(), other.started(), "{}", other.stderr);
    // The same token with other settings is refused by Textract, with the fix.
    let mismatch = submit(
        &lab,
        &seed,
        &["--client-request-token", "audit-42", "--job-tag", "other"],
    );
    assert_eq!(mismatch.code, 1, "{}", mismatch.stderr);
    assert!(
        mismatch
            .stderr
            .contains("StartDocumentAnalysis: IdempotentParameterMismatchException"),
        "{}",
        mismatch.stderr
    );
    assert!(
        mismatch
            .stderr
            .contains("fix: this --client-request-token was used with other parameters"),
        "{}",
        mismatch.stderr
    );
    assert!(
        mismatch
            .stderr
            .ends_with("error: no job could be started\n"),
        "{}",
        mismatch.stderr
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_job_that_fails_is_reported_and_not_a_pass() {
    let lab = lab();
    let seed = seeded(&lab, "row2", &json!({"job_status": "FAILED"}));
    let run = submit(&lab, &seed, &[]);
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let job = &run.report()["jobs"][0];
    assert_eq!(job["job_status"], "FAILED", "{context}");
    assert_eq!(job["verdict"], "inconclusive", "{context}");
    assert_eq!(run.code, 4, "{context}");
    assert!(
        run.stderr.contains(&format!(
            "note: job {} FAILED: ",
            job["job_id"].as_str().unwrap()
        )),
        "{context}"
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_job_still_running_at_the_timeout_is_inconclusive_with_the_command_for_later() {
    let lab = lab();
    let seed = seeded(&lab, "row2", &json!({"job_status": "IN_PROGRESS"}));
    let began = std::time::Instant::now();
    let run = submit(&lab, &seed, &["--wait-timeout", "3s"]);
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    let waited = began.elapsed().as_secs_f64();
    assert!((3.0..10.0).contains(&waited), "waited {waited}s: {context}");
    let job = &run.report()["jobs"][0];
    let id = job["job_id"].as_str().unwrap();
    assert_eq!(job["job_status"], "IN_PROGRESS", "{context}");
    assert_eq!(job["verdict"], "inconclusive", "{context}");
    assert_eq!(
        statuses(job)["results-present"],
        "inconclusive",
        "{context}"
    );
    assert_eq!(run.code, 4, "{context}");
    assert!(
        run.stderr.contains(&format!(
            "timeout: job {id} is still IN_PROGRESS after 3s: INCONCLUSIVE"
        )),
        "{context}"
    );
    assert!(
        run.stderr.contains(&format!(
            "  textract-audit verify --job-id {id} --region us-east-1 --endpoint-url {}\n",
            lab.endpoint
        )),
        "{context}"
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn preflight_catches_a_disabled_key() {
    let lab = lab();
    let seed = seeded(&lab, "row4", &json!({}));
    lab.aws_json(
        "kms",
        "TrentService.DisableKey",
        &json!({"KeyId": seed["kms"]["key_id"]}),
    );
    let line = |run: &Run| {
        run.stderr
            .lines()
            .find(|l| l.trim_start().starts_with("FAIL") && l.contains(" key "))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no FAIL key line:\n{}", run.stderr))
    };

    let dry = submit(&lab, &seed, &["--dry-run"]);
    assert_eq!(dry.code, 3, "{}", dry.stderr);
    assert!(
        line(&dry).contains("KeyState is Disabled (must be Enabled)"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stdout.is_empty() && dry.started().is_empty(),
        "{}",
        dry.stderr
    );

    let refused = submit(&lab, &seed, &[]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("error: not starting: the preflight says the jobs would fail"),
        "{}",
        refused.stderr
    );

    // Started anyway, Textract refuses the key: the AWS code and what to fix.
    let forced = submit(&lab, &seed, &["--force"]);
    assert_eq!(forced.code, 1, "{}", forced.stderr);
    assert!(
        forced
            .stderr
            .contains("StartDocumentAnalysis: InvalidKMSKeyException"),
        "{}",
        forced.stderr
    );
    assert!(
        forced
            .stderr
            .contains("fix: the key must exist in this Region, be Enabled"),
        "{}",
        forced.stderr
    );

    // The same settings with the key enabled again: every check is ok.
    lab.aws_json(
        "kms",
        "TrentService.EnableKey",
        &json!({"KeyId": seed["kms"]["key_id"]}),
    );
    let ok = submit(&lab, &seed, &["--dry-run"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stderr
            .ends_with("preflight: 6 ok, 0 cannot be confirmed, 0 will fail\n"),
        "{}",
        ok.stderr
    );
}
