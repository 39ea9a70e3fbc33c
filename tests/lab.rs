//! Integration tests against the local AWS lab (`tests/lab/`): the real binary reads live
//! evidence through the AWS SDK over HTTP, for the four rows of the documented table and each
//! fault the lab injects, and `collect` then offline `verify --evidence` gives the same report.
//!
//! `cargo test` runs them against the lab the harness starts (`tests/common/mod.rs`), or against
//! `TEXTRACT_AUDIT_LAB_ENDPOINT` when set; `TEXTRACT_AUDIT_NO_LAB=1` reports them ignored.
//!
//! The lab is one shared account, so the tests take turns (one lock). S3 data events exist only
//! in trail log files: with live evidence alone every job's `evidence-data-events` check is
//! INCONCLUSIVE and FAIL cases FAIL on `HeadObject`; with the lab's trail bucket added
//! (`--trail s3://lab-trail/ct`, after the lab delivers its log files) every row PASSes and the
//! trail-delivery faults show.

mod common;

use common::{Lab, Run, lab, statuses};
use serde_json::{Value, json};

/// Runs `scenario`'s job with `faults` live and checks the verdict, the exit code and the
/// worst status of each rule named in `expect` (`(rule, status)`).
fn check(
    lab: &Lab,
    scenario: &str,
    faults: Value,
    verdict: &str,
    code: i32,
    expect: &[(&str, &str)],
) -> Run {
    let (_, job) = lab.job(scenario, &faults);
    let run = lab.verify(&[&job], &[]);
    assert_verdict(&run, &job, verdict, code, expect);
    run
}

fn assert_verdict(run: &Run, job: &str, verdict: &str, code: i32, expect: &[(&str, &str)]) {
    let report = run.report();
    common::validate_report_schema(&report);
    let j = &report["jobs"][0];
    let got = statuses(j);
    let context = format!(
        "job {job}: exit {}, {got:?}\nstderr:\n{}",
        run.code, run.stderr
    );
    assert_eq!(j["job_id"], job, "{context}");
    assert_eq!(j["verdict"], verdict, "{context}");
    assert_eq!(run.code, code, "{context}");
    for (rule, status) in expect {
        assert_eq!(
            got.get(*rule).map(String::as_str),
            Some(*status),
            "{rule}: {context}"
        );
    }
}

/// Without trail log files, S3 data events are never evidence: INCONCLUSIVE, never PASS.
const NO_DATA_EVENTS: (&str, &str) = ("evidence-data-events", "inconclusive");

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn row1_textract_default_passes() {
    let lab = lab();
    check(
        &lab,
        "row1",
        json!({}),
        "pass",
        0,
        &[
            ("documented-mode", "pass"),
            ("evidence-start-event", "pass"),
        ],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn row2_sse_s3_is_inconclusive_only_for_data_events() {
    let lab = lab();
    let run = check(
        &lab,
        "row2",
        json!({}),
        "inconclusive",
        4,
        &[
            ("documented-mode", "pass"),
            ("results-present", "pass"),
            ("row2-aws-managed-key", "pass"),
            NO_DATA_EVENTS,
        ],
    );
    assert!(run.stderr.is_empty(), "no call failed: {}", run.stderr);
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn row3_textract_cmk_passes() {
    let lab = lab();
    check(
        &lab,
        "row3",
        json!({}),
        "pass",
        0,
        &[("requested-cmk", "pass"), ("evidence-kms-events", "pass")],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn row4_sse_kms_with_the_cmk_is_inconclusive_only_for_data_events() {
    let lab = lab();
    for scenario in ["row4", "row4-bucket-key"] {
        check(
            &lab,
            scenario,
            json!({}),
            "inconclusive",
            4,
            &[
                ("documented-mode", "pass"),
                ("requested-cmk", "pass"),
                ("evidence-kms-events", "pass"),
                ("evidence-window", "pass"),
                NO_DATA_EVENTS,
            ],
        );
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_wrong_key_fails_requested_cmk() {
    let lab = lab();
    // The seed empties the lab: the other key is made after it.
    let seed = lab.seed("row4");
    let other = lab.aws_json(
        "kms",
        "TrentService.CreateKey",
        &json!({"Description": "not the job's key"}),
    );
    lab.faults(&json!({"wrong_key": other["KeyMetadata"]["Arn"]}));
    let job = lab.start(&seed);
    let run = lab.verify(&[&job], &[]);
    assert_verdict(
        &run,
        &job,
        "fail",
        3,
        &[
            ("requested-cmk", "fail"),
            ("results-present", "pass"),
            NO_DATA_EVENTS,
        ],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_sse_s3_instead_of_kms_fails_documented_mode() {
    let lab = lab();
    check(
        &lab,
        "row4",
        json!({"sse_s3_instead_of_kms": true}),
        "fail",
        3,
        &[("documented-mode", "fail")],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_aws_s3_key_fails_rows_2_and_4() {
    let lab = lab();
    check(
        &lab,
        "row4",
        json!({"use_aws_s3_key": true}),
        "fail",
        3,
        &[("requested-cmk", "fail")],
    );
    check(
        &lab,
        "row2",
        json!({"use_aws_s3_key": true}),
        "fail",
        3,
        &[("row2-aws-managed-key", "fail")],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_overwrite_after_completion_fails_on_the_head() {
    let lab = lab();
    let run = check(
        &lab,
        "row4",
        json!({"overwrite_after_completion": {"key_suffix": "/1"}}),
        "fail",
        3,
        &[("documented-mode", "fail"), ("requested-cmk", "pass")],
    );
    // The live evidence cannot say who wrote: that needs the data events.
    assert_eq!(
        statuses(&run.report()["jobs"][0])["output-integrity"],
        "inconclusive"
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn faults_on_trail_delivery_do_not_change_live_evidence() {
    let lab = lab();
    // Dropped data events and KMS events left out of log files touch only trail log files;
    // LookupEvents still has the KMS events and live evidence never had data events.
    for faults in [
        json!({"drop_data_events": true}),
        json!({"exclude_kms_events": true}),
    ] {
        check(
            &lab,
            "row4",
            faults,
            "inconclusive",
            4,
            &[
                ("requested-cmk", "pass"),
                ("evidence-kms-events", "pass"),
                NO_DATA_EVENTS,
            ],
        );
    }
    // A trail that excludes KMS events cannot prove their absence.
    check(
        &lab,
        "row4-no-kms-events",
        json!({}),
        "inconclusive",
        4,
        &[("evidence-kms-events", "inconclusive")],
    );
}

/// Runs `scenario`'s job with `faults`, has the lab deliver its trail log files, and
/// verifies live with the trail bucket as a source (`--trail s3://lab-trail/ct`).
fn check_with_trail(
    lab: &Lab,
    scenario: &str,
    faults: Value,
    verdict: &str,
    code: i32,
    expect: &[(&str, &str)],
) -> Run {
    let (seed, job) = lab.job(scenario, &faults);
    lab.control("POST", "flush-trail", &json!({}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    let run = lab.verify(&[&job], &["--trail", &trail]);
    assert_verdict(&run, &job, verdict, code, expect);
    let sources = run.report()["evidence"]["sources"].to_string();
    assert!(sources.contains(&format!("trail {trail}")), "{sources}");
    run
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn trail_bucket_completes_the_evidence_and_every_row_passes() {
    let lab = lab();
    for scenario in ["row1", "row2", "row3", "row4", "row4-bucket-key"] {
        check_with_trail(
            &lab,
            scenario,
            json!({}),
            "pass",
            0,
            &[
                ("evidence-start-event", "pass"),
                ("evidence-window", "pass"),
            ],
        );
    }
    let run = check_with_trail(&lab, "row4", json!({}), "pass", 0, &[]);
    let j = &run.report()["jobs"][0];
    assert_eq!(statuses(j)["evidence-data-events"], "pass");
    assert_eq!(statuses(j)["output-integrity"], "pass");
}

/// Issue 10: the trail bucket's log files stream into the scanner; nothing is copied to a
/// temporary folder first (an organization trail's day is many GB), so a run needs none.
#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_trail_bucket_is_read_without_a_temporary_folder() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    lab.control("POST", "flush-trail", &json!({}));
    let trail = trail_uri(&seed);
    let run = lab.run_env(
        &[
            "verify",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &lab.endpoint,
            "--job-id",
            &job,
            "--format",
            "json",
            "--trail",
            &trail,
        ],
        &[("TMPDIR", "/nonexistent/textract-audit-no-tmp")],
    );
    let context = format!("exit {}\nstderr:\n{}", run.code, run.stderr);
    assert_eq!(run.code, 0, "{context}");
    let j = &run.report()["jobs"][0];
    assert_eq!(statuses(j)["evidence-data-events"], "pass", "{context}");
    let sources = run.report()["evidence"]["sources"].to_string();
    assert!(sources.contains("bytes downloaded"), "{sources}");
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn trail_delivery_faults_are_inconclusive_and_overwrites_fail() {
    let lab = lab();
    check_with_trail(
        &lab,
        "row4",
        json!({"drop_data_events": true}),
        "inconclusive",
        4,
        &[("evidence-data-events", "inconclusive")],
    );
    check_with_trail(
        &lab,
        "row4",
        json!({"overwrite_after_completion": {"key_suffix": "/1"}}),
        "fail",
        3,
        &[("output-integrity", "fail"), ("documented-mode", "fail")],
    );
    check_with_trail(
        &lab,
        "row2-bucket-default-kms",
        json!({}),
        "fail",
        3,
        &[("bucket-default-override", "fail")],
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_job_failed_or_in_progress_is_not_a_pass() {
    let lab = lab();
    for (status, expect) in [
        ("FAILED", vec![NO_DATA_EVENTS]),
        (
            "IN_PROGRESS",
            vec![("results-present", "inconclusive"), NO_DATA_EVENTS],
        ),
    ] {
        let run = check(
            &lab,
            "row2",
            json!({"job_status": status}),
            "inconclusive",
            4,
            &expect,
        );
        assert_eq!(run.report()["jobs"][0]["job_status"], status);
    }
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_throttling_within_retries_is_absorbed_beyond_them_is_inconclusive() {
    let lab = lab();
    let (_, job) = lab.job("row4", &json!({}));
    lab.faults(&json!({"throttle": {"operation": "LookupEvents", "count": 1}}));
    let run = lab.verify(&[&job], &[]);
    assert_verdict(
        &run,
        &job,
        "inconclusive",
        4,
        &[("evidence-window", "pass"), ("requested-cmk", "pass")],
    );
    assert!(
        run.stderr.is_empty(),
        "retried, not reported: {}",
        run.stderr
    );

    lab.faults(&json!({"throttle": {"operation": "LookupEvents", "count": 4}}));
    let run = lab.verify(&[&job], &["--max-attempts", "2"]);
    assert_verdict(
        &run,
        &job,
        "inconclusive",
        4,
        &[("evidence-window", "inconclusive")],
    );
    let report = run.report();
    assert!(
        report["evidence"]["cloudtrail_window"].is_null(),
        "no window claimed"
    );
    assert!(
        run.stderr.lines().any(|l| l
            .starts_with("warning: cloudtrail:LookupEvents textract.amazonaws.com events")
            && l.contains("ThrottlingException")),
        "{}",
        run.stderr
    );
    let skipped = report["evidence"]["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|p| {
        p["subject"]
            .as_str()
            .unwrap()
            .starts_with("cloudtrail:LookupEvents")
    }));
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn fault_access_denied_names_the_object_and_is_inconclusive() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    lab.faults(&json!({"access_denied": {"operation": "HeadObject", "key_suffix": "/2"}}));
    let run = lab.verify(&[&job], &[]);
    assert_verdict(
        &run,
        &job,
        "inconclusive",
        4,
        &[
            ("evidence-readable", "inconclusive"),
            ("requested-cmk", "pass"),
        ],
    );
    let object = format!(
        "s3://{}/{}/{job}/2",
        seed["output"]["bucket"].as_str().unwrap(),
        seed["output"]["prefix"].as_str().unwrap()
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines,
        [format!("warning: s3:HeadObject {object}: 403: Forbidden")],
        "{}",
        run.stderr
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn unknown_job_id_continues_and_says_so() {
    let lab = lab();
    lab.job("row4", &json!({}));
    let unknown = "0".repeat(64);
    let run = lab.verify(&[&unknown], &[]);
    assert_verdict(
        &run,
        &unknown,
        "inconclusive",
        4,
        &[("evidence-start-event", "inconclusive")],
    );
    assert!(
        run.stderr.lines().any(|l| l.starts_with(&format!(
            "note: textract:GetDocumentAnalysis {unknown}: InvalidJobIdException"
        ))),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn unreachable_endpoint_is_a_runtime_error() {
    let lab = lab();
    // A port nobody listens on: take one from the OS and free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = lab.run(&[
        "verify",
        "--job-id",
        "j",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &endpoint,
        "--max-attempts",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("warning: cloudtrail:LookupEvents")
                && l.contains("DispatchFailure")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("error: no AWS call succeeded"),
        "{}",
        run.stderr
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn collected_bundle_verifies_to_the_same_report() {
    let lab = lab();
    let (_, job) = lab.job("row4", &json!({}));
    lab.faults(&json!({"access_denied": {"operation": "HeadObject", "key_suffix": "/2"}}));
    // A fixed window ending before either run, so that both read the same CloudTrail range
    // (each run's own Get* call is a management event too, after the window).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let until = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let window = ["--from", "2026-01-01T00:00:00Z", "--until", &until];
    let live = lab.verify(&[&job], &window);
    assert_eq!(live.code, 4, "{}", live.stderr);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let out = out.to_str().unwrap();
    let collected = lab.collect(&job, out, &window);
    assert_eq!(collected.code, 0, "{}", collected.stderr);
    assert!(
        collected.stderr.contains("403: Forbidden"),
        "failures are reported: {}",
        collected.stderr
    );
    for file in [
        "manifest.json",
        "cloudtrail/lookup-events.json",
        "api/cloudtrail/LookupEvents.json",
        "api/s3/HeadObject.json",
        "api/textract/GetDocumentAnalysis.json",
    ] {
        assert!(dir.path().join("bundle").join(file).exists(), "{file}");
    }
    let offline = lab.run(&["verify", "--evidence", out, "--format", "json"]);
    assert_eq!(offline.code, live.code, "{}", offline.stderr);

    // Two collections a moment apart: the capture time (and with it the status times) and the
    // run time (`generated_at`) are the things allowed to differ; the sources say where each
    // came from.
    let (mut live, mut offline) = (live.report(), offline.report());
    let stamp = |r: &Value| r["evidence"]["captured_at"].as_str().unwrap().to_owned();
    let live_text = live.to_string().replace(&stamp(&live), &stamp(&offline));
    live = serde_json::from_str(&live_text).unwrap();
    for r in [&mut live, &mut offline] {
        r["evidence"]["sources"] = Value::Null;
        r["generated_at"] = Value::Null;
    }
    assert_eq!(live, offline);
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn collect_with_the_trail_bucket_gives_a_bundle_that_passes_offline() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    lab.control("POST", "flush-trail", &json!({}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let out = out.to_str().unwrap();
    let collected = lab.collect(&job, out, &["--trail", &trail]);
    assert_eq!(collected.code, 0, "{}", collected.stderr);
    let offline = lab.run(&["verify", "--evidence", out, "--format", "json"]);
    assert_verdict(
        &offline,
        &job,
        "pass",
        0,
        &[("evidence-data-events", "pass")],
    );
    let timeline = offline.report()["jobs"][0]["timeline"].to_string();
    assert!(
        timeline.contains("PutObject"),
        "the data events are in the bundle"
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn audit_discovers_live_jobs_from_lookup_events() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    lab.control("POST", "flush-trail", &json!({}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    let run = lab.run(&[
        "audit",
        "--since",
        "1h",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &lab.endpoint,
        "--trail",
        &trail,
        "--format",
        "json",
    ]);
    assert_verdict(&run, &job, "pass", 0, &[]);
    assert_eq!(
        run.report()["summary"]["jobs"],
        1,
        "exactly the one job started"
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn audit_reads_several_regions_and_roles_into_one_sectioned_report() {
    let lab = lab();
    let (seed, east) = lab.job("row2", &json!({}));
    let api = seed["job"]["api"].as_str().unwrap();
    let west = lab.aws_json_in(
        "us-west-2",
        "textract",
        &format!("Textract.{api}"),
        &seed["job"]["params"],
    )["JobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = lab.run(&[
        "audit",
        "--since",
        "1h",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
        "--endpoint-url",
        &lab.endpoint,
        "--format",
        "json",
    ]);
    let r = run.report();
    assert_eq!(
        r["sections"].as_array().map(Vec::len),
        Some(2),
        "{}",
        run.stderr
    );
    common::validate_report_schema(&r);
    let found: Vec<(String, String)> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job_id"].as_str().unwrap().into(),
                j["region"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(east, "us-east-1".into()), (west, "us-west-2".into())]
    );
    assert_eq!(
        r["evidence"]["region"],
        Value::Null,
        "no single Region for the whole report"
    );

    // --all-regions: the lab account's enabled Regions (ListRegions), not the disabled one.
    let run = lab.run(&[
        "audit",
        "--since",
        "1h",
        "--all-regions",
        "--endpoint-url",
        &lab.endpoint,
        "--format",
        "json",
    ]);
    let r = run.report();
    let regions: Vec<&str> = r["sections"]
        .as_array()
        .unwrap_or_else(|| panic!("no sections: {}", run.stderr))
        .iter()
        .map(|s| s["region"].as_str().unwrap())
        .collect();
    assert_eq!(
        regions,
        ["eu-south-1", "us-east-1", "us-west-2"],
        "ap-east-1 is not enabled"
    );
    assert_eq!(r["summary"]["jobs"], 2, "{}", run.stderr);

    // Two roles (one account in the lab): assumed through STS, one section each.
    let role = |name: &str| format!("arn:aws:iam::123456789012:role/{name}");
    let (auditor, reader) = (role("auditor"), role("reader"));
    let run = lab.run(&[
        "audit",
        "--since",
        "1h",
        "--region",
        "us-east-1",
        "--role-arn",
        &auditor,
        "--role-arn",
        &reader,
        "--external-id",
        "x-123",
        "--endpoint-url",
        &lab.endpoint,
        "--format",
        "json",
    ]);
    let r = run.report();
    let sections = r["sections"].to_string();
    assert!(
        sections.contains(&format!("as {auditor}")) && sections.contains(&format!("as {reader}")),
        "{sections}\n{}",
        run.stderr
    );
    assert_eq!(r["summary"]["jobs"], 2, "the us-east-1 job, once per role");

    // verify reads one account and Region: several are a usage error.
    let usage = lab.run(&[
        "verify",
        "--job-id",
        "x",
        "--region",
        "us-east-1",
        "--region",
        "us-west-2",
    ]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

/// Issue 10: an expired job (Textract has forgotten it, `LookupEvents` does not reach its
/// Start record) is verified from the trail: its Start record, found only in the trail's log
/// files, is followed in a next round, so the output folder it names is listed and HEADed and
/// the stored encryption is checked.
#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn an_expired_job_is_verified_from_the_trail_in_a_second_round() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    lab.control("POST", "flush-trail", &json!({}));
    lab.faults(&json!({"forget_jobs": true, "no_event_history": true}));
    let trail = format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    );
    let run = lab.verify(&[&job], &["--trail", &trail]);
    lab.faults(&json!({"forget_jobs": null, "no_event_history": null}));
    let report = run.report();
    common::validate_report_schema(&report);
    let j = &report["jobs"][0];
    let got = statuses(j);
    let context = format!("exit {}, {got:?}\nstderr:\n{}", run.code, run.stderr);
    assert_eq!(got["evidence-start-event"], "pass", "{context}");
    assert_eq!(got["documented-mode"], "pass", "{context}");
    assert_eq!(got["requested-cmk"], "pass", "{context}");
    assert!(
        !j.to_string().contains("HeadObject was not collected"),
        "{context}"
    );
    let sources = report["evidence"]["sources"].to_string();
    assert!(
        sources.contains("evidence gathered in 2 round(s)"),
        "{sources}"
    );
    // The second round reads the log files again from memory: streamed, nothing on disk,
    // nothing downloaded twice.
    assert!(
        sources.contains("(0 bytes downloaded, 1 files from this run's earlier reads)"),
        "{sources}"
    );
}

/// Issue 10: with no Start record, each API's `Get*` is asked until one knows the id: a
/// lending job is read with `GetLendingAnalysis`, not called expired by `GetDocumentAnalysis`.
#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_lending_job_without_a_start_record_is_read_with_its_own_get() {
    let lab = lab();
    let (_, job) = lab.job("row2-lending", &json!({}));
    lab.faults(&json!({"no_event_history": true}));
    let run = lab.verify(&[&job], &[]);
    lab.faults(&json!({"no_event_history": null}));
    let report = run.report();
    common::validate_report_schema(&report);
    let j = &report["jobs"][0];
    assert_eq!(j["api"], "StartLendingAnalysis", "{}", run.stderr);
    assert_eq!(j["job_status"], "SUCCEEDED", "{}", run.stderr);
    assert!(
        !run.stderr.contains("InvalidJobIdException"),
        "{}",
        run.stderr
    );
}

/// Every scenario the lab seeds (tests/lab/awslab/seed.py).
const LAB_SCENARIOS: [&str; 9] = [
    "row1",
    "row2",
    "row2-text",
    "row2-bucket-default-kms",
    "row3",
    "row4",
    "row4-bucket-key",
    "row2-lending",
    "row4-no-kms-events",
];

fn trail_uri(seed: &Value) -> String {
    format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    )
}

/// `run` (through a query source) judged the job as the downloaded trail does: verdict, exit
/// code and every rule's status.
fn same_as_downloaded(lab: &Lab, seed: &Value, job: &str, run: &Run, scenario: &str) {
    let downloaded = lab.verify(&[job], &["--trail", &trail_uri(seed)]);
    let (a, b) = (run.report(), downloaded.report());
    common::validate_report_schema(&a);
    assert_eq!(
        (run.code, &a["jobs"][0]["verdict"]),
        (downloaded.code, &b["jobs"][0]["verdict"]),
        "{scenario}: {}",
        a["jobs"][0]["findings"]
    );
    assert_eq!(
        statuses(&a["jobs"][0]),
        statuses(&b["jobs"][0]),
        "{scenario}: the same findings as from the log files"
    );
}

/// `--athena` with the seed's table and workgroup.
fn athena_flags(seed: &Value) -> Vec<String> {
    let a = &seed["athena"];
    vec![
        "--athena".into(),
        format!(
            "{}.{}",
            a["database"].as_str().unwrap(),
            a["table"].as_str().unwrap()
        ),
        "--athena-workgroup".into(),
        a["workgroup"].as_str().unwrap().into(),
    ]
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn athena_over_the_trail_bucket_judges_as_the_downloaded_trail_does() {
    let lab = lab();
    for scenario in LAB_SCENARIOS {
        let (seed, job) = lab.job(scenario, &json!({}));
        lab.control("POST", "flush-trail", &json!({}));
        let flags = athena_flags(&seed);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let athena = lab.verify(&[&job], &flags);
        let sources = athena.report()["evidence"]["sources"].to_string();
        assert!(
            sources.contains("athena lab_audit.cloudtrail_logs: query ")
                && sources.contains("bytes scanned")
                && sources.contains("regions us-east-1"),
            "{sources}"
        );
        same_as_downloaded(&lab, &seed, &job, &athena, scenario);
    }
    // Discovery over a window finds the same jobs as the downloaded trail.
    let (seed, _) = lab.job("row4", &json!({}));
    lab.control("POST", "flush-trail", &json!({}));
    let flags = athena_flags(&seed);
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--since",
            "2h",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &lab.endpoint,
            "--format",
            "json",
        ];
        args.extend(extra);
        let run = lab.run(&args);
        let mut ids: Vec<String> = run.report()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let trail = trail_uri(&seed);
    let by_athena = audit(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!by_athena.is_empty());
    assert_eq!(by_athena, audit(&["--trail", &trail]));
    // An overwrite after Textract wrote is found through Athena too.
    let (seed, job) = lab.job(
        "row4",
        &json!({"overwrite_after_completion": {"key_suffix": "/1"}}),
    );
    lab.control("POST", "flush-trail", &json!({}));
    let flags = athena_flags(&seed);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let run = lab.verify(&[&job], &flags);
    assert_verdict(&run, &job, "fail", 3, &[("output-integrity", "fail")]);
    // Days the table has no records for are gaps, named, not clean days; what it covers
    // starts at its first day with records.
    let from = (chrono::Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let mut windowed = flags.clone();
    windowed.extend(["--from", from.as_str()]);
    let run = lab.verify(&[&job], &windowed);
    let report = run.report();
    let skipped = report["evidence"]["skipped"].to_string();
    assert!(
        skipped.contains("no records in the table from"),
        "{skipped}"
    );
    let sources = report["evidence"]["sources"].to_string();
    assert!(
        sources.contains("athena lab_audit.cloudtrail_logs holds records from"),
        "{sources}"
    );
    // --dry-run prints the queries and partitions and runs none.
    let ran_before = lab.control("GET", "queries", &json!({}))["queries"]
        .as_array()
        .unwrap()
        .len();
    let mut dry = flags.clone();
    dry.push("--dry-run");
    let run = lab.verify(&[&job], &dry);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("-- query 1 of 1 (")
            && run.stdout.contains("SELECT ")
            && run.stdout.contains("\"timestamp\" BETWEEN")
            && run.stdout.contains(&job)
            && run.stdout.contains("regions us-east-1")
            && run.stdout.contains("accounts 123456789012;"),
        "{}",
        run.stdout
    );
    let ran_after = lab.control("GET", "queries", &json!({}))["queries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(ran_before, ran_after, "a dry run runs no query");
    // A query Athena cancels leaves the job unproven, naming the query.
    lab.faults(&json!({"query_state": {"state": "CANCELLED", "reason": "lab cancelled"}}));
    let run = lab.verify(&[&job], &flags);
    lab.faults(&json!({"query_state": null}));
    assert_ne!(run.code, 0, "{}", run.stderr);
    let skipped = run.report()["evidence"]["skipped"].to_string();
    assert!(skipped.contains("CANCELLED: lab cancelled"), "{skipped}");
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn cloudtrail_lake_judges_as_the_downloaded_trail_does() {
    let lab = lab();
    for scenario in LAB_SCENARIOS {
        let (seed, job) = lab.job(scenario, &json!({}));
        lab.control("POST", "flush-trail", &json!({}));
        let eds = seed["lake"]["event_data_store"].as_str().unwrap();
        let lake = lab.verify(&[&job], &["--cloudtrail-lake", eds]);
        let sources = lake.report()["evidence"]["sources"].to_string();
        assert!(
            sources.contains(&format!("cloudtrail-lake {eds}: query ")),
            "{sources}"
        );
        same_as_downloaded(&lab, &seed, &job, &lake, scenario);
    }
}
