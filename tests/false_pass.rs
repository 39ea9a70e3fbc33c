//! Regression tests for the false-PASS routes of issue 9 (and the two window routes of
//! issue 10), through the public CLI.
//!
//! Each test copies a fixture bundle into a temporary directory, bends its evidence the way
//! an insider could (records in CloudTrail's own shape, API answers in the APIs' own JSON),
//! re-seals it with `bundle seal` and runs `verify`/`audit`. Where it helps, the test first
//! checks that the honest variant of the same evidence gets the verdict the issue demands,
//! so the hostile variant is known to differ only by the twist it names.
//!
//! Every route test gave a false PASS before its fix. A test still marked
//! `#[ignore = "issue N route …"]` gives one on the current code; the stage that fixes the
//! route removes the mark (`cargo test --test false_pass -- --ignored` lists what is open).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

mod fixture;
use fixture::{copy_dir, root};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .output()
        .expect("the binary runs")
}

const ACCOUNT: &str = "111122223333";
const CMK_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// The job of `fixtures/row4-sse-kms` and its output folder.
const ROW4_JOB: &str = "0c7133bccee36c4eb1a3c184b53f8231238a088a43d08c0d403cbe9bfc64b932";
/// The log file (by name time) that holds each fixture job's Start and writes.
const JOB_LOG: &str = "T1005Z_";

/// A fixture bundle copied into a temporary directory, to bend.
struct Case {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Case {
    fn of(fixture: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(fixture);
        copy_dir(&root().join("fixtures").join(fixture), &dir);
        Case { _tmp: tmp, dir }
    }

    /// A fresh empty directory beside the bundle.
    fn sibling(&self, name: &str) -> PathBuf {
        let p = self.dir.parent().unwrap().join(name);
        fs::create_dir_all(&p).unwrap();
        p
    }

    /// The bundle's log file whose name contains `pattern`.
    fn log(&self, pattern: &str) -> PathBuf {
        first_file(&self.dir.join("cloudtrail"), pattern)
    }

    /// Rewrites the records of one log file.
    fn edit_log(&self, pattern: &str, f: impl FnOnce(&mut Vec<Value>)) {
        let path = self.log(pattern);
        let mut records = read_records(&path);
        f(&mut records);
        write_records(&path, &records);
    }

    /// Rewrites one recorded API answer file (`api/{service}/{Operation}.json`).
    fn edit_api(&self, rel: &str, f: impl FnOnce(&mut Vec<Value>)) {
        let path = self.dir.join("api").join(rel);
        let mut calls: Vec<Value> = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        f(&mut calls);
        fs::write(&path, serde_json::to_vec_pretty(&calls).unwrap()).unwrap();
    }

    /// Re-seals the bundle and verifies it (plus `extra` flags) as JSON.
    fn verify(&self, extra: &[&str]) -> Report {
        seal(&self.dir);
        let mut args = vec!["verify", "--evidence", self.dir.to_str().unwrap()];
        args.extend(extra);
        args.extend(["--format", "json"]);
        Report::of(&args)
    }
}

/// A report read back from the CLI, with its exit code.
struct Report {
    json: Value,
    code: i32,
    stderr: String,
}

impl Report {
    fn of(args: &[&str]) -> Report {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: no JSON report ({e}): {stderr}"));
        Report {
            json,
            code: out.status.code().expect("exited"),
            stderr,
        }
    }

    fn job(&self, id: &str) -> &Value {
        self.json["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == id)
            .unwrap_or_else(|| panic!("job {id} missing: {}", self.json))
    }

    /// The statuses of one rule's findings for a job (`pass`, `fail`, `inconclusive`, …).
    fn statuses(&self, id: &str, rule: &str) -> Vec<String> {
        self.job(id)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule_id"] == rule)
            .map(|f| f["status"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The job's verdict is `verdict`, `rule` has a finding with that status, and the exit
    /// code follows (3 for FAIL, 4 for INCONCLUSIVE).
    fn assert_job(&self, id: &str, verdict: &str, rule: &str) {
        let job = self.job(id);
        let findings = serde_json::to_string_pretty(&job["findings"]).unwrap();
        assert_eq!(job["verdict"], verdict, "{id}: {findings}\n{}", self.stderr);
        assert!(
            self.statuses(id, rule).iter().any(|s| s == verdict),
            "{id}: {rule} should be {verdict}: {findings}"
        );
        let want = if verdict == "fail" { 3 } else { 4 };
        assert_eq!(self.code, want, "exit code: {}", self.stderr);
    }

    /// The job is not PASS: `rule` is FAIL or INCONCLUSIVE (either is honest where the
    /// evidence conflicts), and the exit code is 3 or 4 accordingly.
    fn assert_not_pass(&self, id: &str, rule: &str) {
        let job = self.job(id);
        let findings = serde_json::to_string_pretty(&job["findings"]).unwrap();
        assert_ne!(job["verdict"], "pass", "{id}: {findings}\n{}", self.stderr);
        assert!(
            self.statuses(id, rule)
                .iter()
                .any(|s| s == "fail" || s == "inconclusive"),
            "{id}: {rule} should not pass: {findings}"
        );
        let want = if job["verdict"] == "fail" { 3 } else { 4 };
        assert_eq!(self.code, want, "exit code: {}", self.stderr);
    }

    /// Some non-passing finding of the job names `needle` (in its message or evidence).
    fn assert_named(&self, id: &str, needle: &str) {
        let named = self.job(id)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] != "pass")
            .any(|f| f.to_string().contains(needle));
        assert!(
            named,
            "{id}: no FAIL/INCONCLUSIVE finding names {needle}: {}",
            serde_json::to_string_pretty(&self.job(id)["findings"]).unwrap()
        );
    }
}

/// The first file (in name order) under `dir` whose path contains `pattern`.
fn first_file(dir: &Path, pattern: &str) -> PathBuf {
    let mut stack = vec![dir.to_owned()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().contains(pattern) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {pattern} under {}", dir.display()))
}

fn read_records(path: &Path) -> Vec<Value> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["Records"].as_array().unwrap().clone()
}

/// Writes a log file as trails deliver it: gzip of `{"Records":[…]}`.
fn write_records(path: &Path, records: &[Value]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&serde_json::to_vec(&json!({ "Records": records })).unwrap())
        .unwrap();
    gz.finish().unwrap();
}

/// A trail folder (`AWSLogs/{account}/CloudTrail/{region}/YYYY/MM/DD/`) holding one log file
/// named for `hhmm` on the fixtures' day.
fn trail_dir_with(dir: &Path, hhmm: &str, records: &[Value]) {
    let day = dir.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20"));
    write_records(
        &day.join(format!(
            "{ACCOUNT}_CloudTrail_us-east-1_20261120T{hhmm}Z_feedc0de00000001.json.gz"
        )),
        records,
    );
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

/// The index of the record with this eventName whose `requestParameters.key` ends in `suffix`.
fn find_s3(records: &[Value], event: &str, suffix: &str) -> usize {
    records
        .iter()
        .position(|r| {
            r["eventName"] == event
                && r["requestParameters"]["key"]
                    .as_str()
                    .is_some_and(|k| k.ends_with(suffix))
        })
        .unwrap_or_else(|| panic!("no {event} of …{suffix}"))
}

/// The index of the GenerateDataKey whose `aws:s3:arn` context ends in `suffix`.
fn find_kms(records: &[Value], suffix: &str) -> usize {
    records
        .iter()
        .position(|r| {
            r["eventName"] == "GenerateDataKey"
                && r["requestParameters"]["encryptionContext"]["aws:s3:arn"]
                    .as_str()
                    .is_some_and(|k| k.ends_with(suffix))
        })
        .unwrap_or_else(|| panic!("no GenerateDataKey for …{suffix}"))
}

/// IAM user `mallory`, as in `fixtures/fail-overwritten`.
fn mallory() -> Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAMALLORYEXAMPLE01",
        "arn": "arn:aws:iam::111122223333:user/mallory",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAMALLORYEXAMPLE01",
        "userName": "mallory"
    })
}

/// The Analytics role session of the fixtures' noise (not the Start caller).
fn analytics(invoked_by: Option<&str>) -> Value {
    let mut id = json!({
        "type": "AssumedRole",
        "principalId": "AROAQ4KD2XEAMPLE0002:notebook",
        "arn": "arn:aws:sts::111122223333:assumed-role/Analytics/notebook",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAQ4KD2XEAMPLE0002",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAQ4KD2XEAMPLE0002",
                "arn": "arn:aws:iam::111122223333:role/Analytics",
                "accountId": ACCOUNT,
                "userName": "Analytics"
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-11-20T08:30:00Z", "mfaAuthenticated": "false"}
        }
    });
    if let Some(by) = invoked_by {
        id["invokedBy"] = json!(by);
    }
    id
}

/// Row 4's page `2` overwritten at 10:30 by `who` (re-encrypted with the requested CMK, so
/// the stored encryption still looks right), with S3's GenerateDataKey for it, and the
/// listing and HeadObject showing the new object. Returns the overwrite's eventID.
fn overwrite_page_2(case: &Case, who: Value, user_agent: &str, source_ip: &str) -> String {
    let event_id = overwrite_record_of_page_2(case, who, user_agent, source_ip);
    let new_object = |o: &mut Value| {
        o["LastModified"] = json!("2026-11-20T10:30:00+00:00");
        o["ETag"] = json!("\"0badc0ffee0badc0ffee0badc0ffee00\"");
    };
    case.edit_api("s3/HeadObject.json", |calls| {
        let c = calls
            .iter_mut()
            .find(|c| c["Request"]["Key"].as_str().unwrap().ends_with("/2"))
            .unwrap();
        new_object(&mut c["Response"]);
        c["Response"]["ContentLength"] = json!(1024);
    });
    case.edit_api("s3/ListObjectsV2.json", |calls| {
        for o in calls[0]["Response"]["Contents"].as_array_mut().unwrap() {
            if o["Key"].as_str().unwrap().ends_with("/2") {
                new_object(o);
                o["Size"] = json!(1024);
            }
        }
    });
    event_id
}

/// Only the trail side of [`overwrite_page_2`]: the 10:30 PutObject of page `2` by `who` and
/// S3's GenerateDataKey for it; the listing and HeadObject are left as captured.
fn overwrite_record_of_page_2(
    case: &Case,
    who: Value,
    user_agent: &str,
    source_ip: &str,
) -> String {
    let event_id = "5e1f0c4a-7d1b-4c55-9a0e-0b7e2e6f3a10".to_owned();
    case.edit_log(JOB_LOG, |records| {
        let mut put = records[find_s3(records, "PutObject", "/2")].clone();
        put["userIdentity"] = who.clone();
        put["eventTime"] = json!("2026-11-20T10:30:00Z");
        put["sourceIPAddress"] = json!(source_ip);
        put["userAgent"] = json!(user_agent);
        put["eventID"] = json!(event_id);
        put["requestID"] = json!("9C1D2E3F4A5B6C7D");
        put["additionalEventData"]["bytesTransferredIn"] = json!(1024);
        let mut gdk = records[find_kms(records, "/2")].clone();
        let mut kms_id = who;
        kms_id["invokedBy"] = json!("s3.amazonaws.com");
        gdk["userIdentity"] = kms_id;
        gdk["eventTime"] = json!("2026-11-20T10:30:00Z");
        gdk["eventID"] = json!("5e1f0c4a-7d1b-4c55-9a0e-0b7e2e6f3a11");
        gdk["requestID"] = json!("5e1f0c4a-7d1b-4c55-9a0e-0b7e2e6f3a12");
        records.push(put);
        records.push(gdk);
    });
    event_id
}

const AWS_CLI: &str =
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6";

#[test]
fn the_honest_overwrite_of_a_result_page_fails_output_integrity() {
    // The base of routes 2 and 3: the same overwrite, told honestly, FAILs.
    let case = Case::of("row4-sse-kms");
    overwrite_page_2(&case, mallory(), AWS_CLI, "198.51.100.7");
    case.verify(&[])
        .assert_job(ROW4_JOB, "fail", "output-integrity");
}

/// A `DisableKey` on the requested CMK by `ops-admin` at 10:01:00, while the job ran.
fn disable_key_record() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA0PSADM1NEXAMPLE1",
            "arn": "arn:aws:iam::111122223333:user/ops-admin",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIA0PSADM1NEXAMPLE1",
            "userName": "ops-admin"
        },
        "eventTime": "2026-11-20T10:01:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "DisableKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.44",
        "userAgent": AWS_CLI,
        "requestParameters": {"keyId": CMK_ARN},
        "responseElements": null,
        "requestID": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
        "eventID": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
        "readOnly": false,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": CMK_ARN}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    })
}

#[test]
fn a_key_disabled_while_the_job_ran_fails_cmk_state_from_a_bundle() {
    // The base of route 1: the record inside the bundle FAILs cmk-state.
    let case = Case::of("row4-sse-kms");
    case.edit_log(JOB_LOG, |records| records.push(disable_key_record()));
    case.verify(&[]).assert_job(ROW4_JOB, "fail", "cmk-state");
}

#[test]
fn route_1_key_state_change_in_trail_dir_is_not_dropped() {
    let case = Case::of("row4-sse-kms");
    let trail = case.sibling("trail");
    trail_dir_with(&trail, "1005", &[disable_key_record()]);
    case.verify(&["--trail-dir", trail.to_str().unwrap()])
        .assert_job(ROW4_JOB, "fail", "cmk-state");
}

#[test]
fn route_2_client_set_user_agent_is_not_textract() {
    let case = Case::of("row4-sse-kms");
    overwrite_page_2(
        &case,
        mallory(),
        "textract.amazonaws.com",
        "textract.amazonaws.com",
    );
    case.verify(&[])
        .assert_job(ROW4_JOB, "fail", "output-integrity");
}

#[test]
fn route_2_write_invoked_by_textract_for_another_principal_is_not_the_jobs() {
    let case = Case::of("row4-sse-kms");
    overwrite_page_2(
        &case,
        analytics(Some("textract.amazonaws.com")),
        "textract.amazonaws.com",
        "textract.amazonaws.com",
    );
    case.verify(&[])
        .assert_job(ROW4_JOB, "fail", "output-integrity");
}

#[test]
fn route_3_duplicate_event_id_is_a_conflict_not_a_duplicate() {
    // Sanity: the overwrite record alone (the stored object as captured) FAILs.
    let honest = Case::of("row4-sse-kms");
    overwrite_record_of_page_2(&honest, mallory(), AWS_CLI, "198.51.100.7");
    honest
        .verify(&[])
        .assert_job(ROW4_JOB, "fail", "output-integrity");
    let case = Case::of("row4-sse-kms");
    let event_id = overwrite_record_of_page_2(&case, mallory(), AWS_CLI, "198.51.100.7");
    // An unrelated record (the fixtures' iam:GetRole noise) with the overwrite's eventID and
    // eventTime, placed just before it in the same log file.
    let noise = read_records(&case.log("T0915Z_"))[0].clone();
    case.edit_log(JOB_LOG, |records| {
        let at = records
            .iter()
            .position(|r| r["eventID"] == event_id.as_str())
            .unwrap();
        let mut decoy = noise;
        decoy["eventID"] = json!(event_id);
        decoy["eventTime"] = json!("2026-11-20T10:30:00Z");
        records.insert(at, decoy);
    });
    let r = case.verify(&[]);
    r.assert_not_pass(ROW4_JOB, "output-integrity");
    r.assert_named(ROW4_JOB, &event_id);
}

/// A second, different DescribeKey answer for the same request.
fn conflicting_describe_key(case: &Case, state: &str, enabled: bool) {
    case.edit_api("kms/DescribeKey.json", |calls| {
        let mut other = calls[0].clone();
        other["Response"]["KeyMetadata"]["KeyState"] = json!(state);
        other["Response"]["KeyMetadata"]["Enabled"] = json!(enabled);
        calls.push(other);
    });
}

#[test]
fn route_4_conflicting_describe_key_answers_are_not_resolved_silently() {
    // Sanity: the Disabled answer alone FAILs cmk-state.
    let alone = Case::of("row4-sse-kms");
    alone.edit_api("kms/DescribeKey.json", |calls| {
        for c in calls.iter_mut() {
            c["Response"]["KeyMetadata"]["KeyState"] = json!("Disabled");
            c["Response"]["KeyMetadata"]["Enabled"] = json!(false);
        }
    });
    alone.verify(&[]).assert_job(ROW4_JOB, "fail", "cmk-state");
    // Enabled first, Disabled second: a conflict, not a PASS.
    let case = Case::of("row4-sse-kms");
    conflicting_describe_key(&case, "Disabled", false);
    case.verify(&[]).assert_not_pass(ROW4_JOB, "cmk-state");
}

/// The id of the report's only job.
fn only_job(r: &Report) -> String {
    let jobs = r.json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{}", r.json);
    jobs[0]["job_id"].as_str().unwrap().to_owned()
}

#[test]
fn route_4_conflicting_job_status_answers_are_not_resolved_silently() {
    let case = Case::of("fail-no-results");
    let honest = case.verify(&[]);
    let job = only_job(&honest);
    honest.assert_job(&job, "fail", "results-present");
    // A FAILED answer for the same job id, recorded before the SUCCEEDED one.
    let op = first_file(&case.dir.join("api/textract"), ".json");
    let op = op.file_name().unwrap().to_str().unwrap().to_owned();
    case.edit_api(&format!("textract/{op}"), |calls| {
        let mut failed = calls[0].clone();
        failed["Response"] = json!({
            "JobStatus": "FAILED",
            "StatusMessage": "INTERNAL_ERROR",
            "DocumentMetadata": {"Pages": 0},
            "Warnings": []
        });
        calls.insert(0, failed);
    });
    case.verify(&[]).assert_not_pass(&job, "results-present");
}

#[test]
fn route_4_conflicting_head_object_answers_are_not_resolved_silently() {
    let sse_s3 = |c: &mut Value| {
        c["Response"]["ServerSideEncryption"] = json!("AES256");
        c["Response"].as_object_mut().unwrap().remove("SSEKMSKeyId");
    };
    // Sanity: page 1 stored as AES256 alone FAILs documented-mode.
    let alone = Case::of("row4-sse-kms");
    alone.edit_api("s3/HeadObject.json", |calls| sse_s3(&mut calls[1]));
    alone
        .verify(&[])
        .assert_job(ROW4_JOB, "fail", "documented-mode");
    // The AES256 answer first, then the honest one for the same object: no silent PASS.
    let case = Case::of("row4-sse-kms");
    case.edit_api("s3/HeadObject.json", |calls| {
        let mut first = calls[1].clone();
        sse_s3(&mut first);
        calls.insert(1, first);
    });
    case.verify(&[])
        .assert_not_pass(ROW4_JOB, "documented-mode");
}

#[test]
fn route_5_several_start_records_for_one_job_are_compared() {
    let case = Case::of("fail-wrong-cmk");
    let honest = case.verify(&[]);
    let job = only_job(&honest);
    honest.assert_job(&job, "fail", "requested-cmk");
    // An earlier Start record for the same job id naming the key that was actually used.
    let heads: Vec<Value> =
        serde_json::from_slice(&fs::read(case.dir.join("api/s3/HeadObject.json")).unwrap())
            .unwrap();
    let used = heads
        .iter()
        .find_map(|c| c["Response"]["SSEKMSKeyId"].as_str())
        .expect("the key actually used")
        .to_owned();
    assert_ne!(used, CMK_ARN);
    case.edit_log(JOB_LOG, |records| {
        let at = records
            .iter()
            .position(|r| r["eventName"].as_str().unwrap().starts_with("Start"))
            .unwrap();
        let mut earlier = records[at].clone();
        earlier["eventTime"] = json!("2026-11-20T09:59:58Z");
        earlier["eventID"] = json!("3b4c5d6e-7f80-4192-a3b4-c5d6e7f80911");
        earlier["requestID"] = json!("3b4c5d6e-7f80-4192-a3b4-c5d6e7f80912");
        earlier["requestParameters"]["kMSKeyId"] = json!(used);
        records.insert(at, earlier);
    });
    case.verify(&[]).assert_not_pass(&job, "requested-cmk");
}

#[test]
fn route_6_kms_event_of_another_job_is_not_credited() {
    let case = Case::of("row3-textract-cmk");
    let honest = case.verify(&[]);
    let job = only_job(&honest);
    assert_eq!(honest.job(&job)["verdict"], "pass", "{}", honest.json);
    // Sanity: without Textract's GenerateDataKey the control is INCONCLUSIVE.
    let missing = Case::of("row3-textract-cmk");
    missing.edit_log(JOB_LOG, |records| {
        records.retain(|r| r["eventName"] != "GenerateDataKey")
    });
    missing
        .verify(&[])
        .assert_job(&job, "inconclusive", "evidence-kms-events");
    // The same record (same time, same key, made by Textract) naming another job.
    let other = "1f8243cdd0f47d5fe1b4d2e3c6f8a9b0a1b2c3d4e5f60718293a4b5c6d7e8f";
    rewrite_textract_job_context(&case, &job, other);
    case.verify(&[])
        .assert_job(&job, "inconclusive", "evidence-kms-events");
}

/// Rewrites the `aws:textract:jobId` encryption context naming `job` to `to`.
fn rewrite_textract_job_context(case: &Case, job: &str, to: &str) {
    let mut changed = 0;
    case.edit_log(JOB_LOG, |records| {
        for r in records.iter_mut() {
            let ctx = &mut r["requestParameters"]["encryptionContext"]["aws:textract:jobId"];
            if ctx == job {
                *ctx = json!(to);
                changed += 1;
            }
        }
    });
    assert!(changed > 0, "no context names {job}");
}

#[test]
fn kms_events_naming_the_same_object_in_another_jobs_folder_are_not_credited() {
    // Sanity: without the job's GenerateDataKey records, the KMS control is not proved.
    let is_job_gdk = |r: &Value| {
        r["eventName"] == "GenerateDataKey"
            && r["requestParameters"]["encryptionContext"]["aws:s3:arn"]
                .as_str()
                .is_some_and(|a| a.contains(ROW4_JOB))
    };
    let missing = Case::of("row4-sse-kms");
    missing.edit_log(JOB_LOG, |records| records.retain(|r| !is_job_gdk(r)));
    let honest = missing.verify(&[]);
    honest.assert_job(ROW4_JOB, "inconclusive", "evidence-kms-events");
    // The same records, at the same times under the same key, but each context names the
    // same object in another job's folder: still not this job's.
    let other = "1f8243cdd0f47d5fe1b4d2e3c6f8a9b0a1b2c3d4e5f60718293a4b5c6d7e8f";
    let case = Case::of("row4-sse-kms");
    case.edit_log(JOB_LOG, |records| {
        for r in records.iter_mut().filter(|r| is_job_gdk(r)) {
            let ctx = &mut r["requestParameters"]["encryptionContext"]["aws:s3:arn"];
            *ctx = json!(ctx.as_str().unwrap().replace(ROW4_JOB, other));
        }
    });
    case.verify(&[])
        .assert_job(ROW4_JOB, "inconclusive", "evidence-kms-events");
}

#[test]
fn route_6_kms_context_is_tied_exactly_not_by_substring() {
    let case = Case::of("row3-textract-cmk");
    let honest = case.verify(&[]);
    let job = only_job(&honest);
    assert_eq!(honest.job(&job)["verdict"], "pass", "{}", honest.json);
    rewrite_textract_job_context(&case, &job, &format!("{job}0"));
    let r = case.verify(&[]);
    let job_json = r.job(&job);
    assert_ne!(job_json["verdict"], "pass", "{}", job_json["findings"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
}

/// Row 4 with page 2 changed at 10:30 (HeadObject/listing), no write record for it.
fn changed_without_a_record(last_modified: &str) -> Case {
    let case = Case::of("row4-sse-kms");
    case.edit_api("s3/HeadObject.json", |calls| {
        calls[2]["Response"]["LastModified"] = json!(last_modified);
        calls[2]["Response"]["ETag"] = json!("\"0badc0ffee0badc0ffee0badc0ffee00\"");
    });
    case
}

#[test]
fn an_object_changed_after_textract_wrote_it_is_caught_from_rfc3339_last_modified() {
    // The base of route 7.
    changed_without_a_record("2026-11-20T10:30:00+00:00")
        .verify(&[])
        .assert_not_pass(ROW4_JOB, "output-integrity");
}

#[test]
fn route_7_http_date_last_modified_is_read() {
    changed_without_a_record("Fri, 20 Nov 2026 10:30:00 GMT")
        .verify(&[])
        .assert_not_pass(ROW4_JOB, "output-integrity");
}

#[test]
fn route_7_unreadable_last_modified_is_inconclusive() {
    changed_without_a_record("yesterday-ish")
        .verify(&[])
        .assert_job(ROW4_JOB, "inconclusive", "output-integrity");
}

#[test]
fn route_8_truncated_listing_is_inconclusive() {
    let case = Case::of("row4-sse-kms");
    case.edit_api("s3/ListObjectsV2.json", |calls| {
        let r = &mut calls[0]["Response"];
        r["IsTruncated"] = json!(true);
        r["MaxKeys"] = json!(3);
        r["NextContinuationToken"] = json!("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    });
    let r = case.verify(&[]);
    let job = r.job(ROW4_JOB);
    assert_eq!(job["verdict"], "inconclusive", "{}", job["findings"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let text = job["findings"].to_string().to_lowercase();
    assert!(
        text.contains("truncat") || text.contains("listobjectsv2"),
        "the incomplete listing is named: {text}"
    );
}

#[test]
fn route_9_unknown_sse_applied_stays_unknown() {
    let case = Case::of("row2-sse-s3");
    let honest = case.verify(&[]);
    let job = only_job(&honest);
    assert_eq!(honest.job(&job)["verdict"], "pass", "{}", honest.json);
    let mut changed = 0;
    case.edit_log(JOB_LOG, |records| {
        for r in records.iter_mut() {
            let ours = r["requestParameters"]["key"].to_string().contains(&job);
            let applied = &mut r["additionalEventData"]["SSEApplied"];
            if ours && applied.is_string() {
                *applied = json!("Default_SSE_FUTURE");
                changed += 1;
            }
        }
    });
    assert!(changed > 0, "the job's writes carry SSEApplied");
    case.verify(&[])
        .assert_job(&job, "inconclusive", "bucket-default-override");
}

#[test]
fn route_9_null_server_side_encryption_is_unknown_not_none() {
    for garbage in [Value::Null, json!(7)] {
        let case = Case::of("row4-sse-kms");
        case.edit_api("s3/HeadObject.json", |calls| {
            calls[1]["Response"]["ServerSideEncryption"] = garbage.clone();
        });
        let r = case.verify(&[]);
        let job = r.job(ROW4_JOB);
        assert_eq!(
            job["verdict"], "inconclusive",
            "{garbage}: {}",
            job["findings"]
        );
        assert_eq!(r.code, 4, "{garbage}: {}", r.stderr);
    }
}

#[test]
fn route_mute_star_does_not_mute_inconclusive_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let mute = dir.path().join("mute.toml");
    fs::write(
        &mute,
        "[[mute]]\nrule = \"*\"\naccount = \"111122223333\"\nreason = \"accepted (SEC-1)\"\n",
    )
    .unwrap();
    let r = Report::of(&[
        "verify",
        "--evidence",
        "fixtures/demo",
        "--mutelist",
        mute.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let unmuted_inconclusive = r.json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["findings"].as_array().unwrap())
        .filter(|f| f["status"] == "inconclusive" && f.get("muted").is_none())
        .count();
    assert!(
        unmuted_inconclusive > 0,
        "missing evidence cannot be muted away: {}",
        r.json["jobs"]
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
}

#[test]
fn issue_10_route_1_nothing_verified_is_not_green() {
    for window in [
        &[
            "--from",
            "2026-10-01T00:00:00Z",
            "--until",
            "2026-10-02T00:00:00Z",
        ][..],
        &["--since", "24h"][..],
    ] {
        let mut args = vec!["audit", "--evidence", "fixtures/demo"];
        args.extend(window);
        args.extend(["--format", "json"]);
        let r = Report::of(&args);
        assert_eq!(
            r.code, 4,
            "{window:?}: nothing proved is not green: {}",
            r.json
        );
    }
    // A bundle with no evidence files at all.
    let case = Case::of("row4-sse-kms");
    fs::remove_dir_all(case.dir.join("api")).unwrap();
    fs::remove_dir_all(case.dir.join("cloudtrail")).unwrap();
    seal(&case.dir);
    let out = run(&[
        "audit",
        "--evidence",
        case.dir.to_str().unwrap(),
        "--from",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
    ]);
    assert!(
        matches!(out.status.code(), Some(1 | 4)),
        "an empty bundle proves nothing: {:?} {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn issue_10_route_2_user_window_does_not_replace_the_covered_window() {
    // Row 4 whose bundle claims CloudTrail coverage only up to 10:00:30: the Start (10:00:00)
    // is covered, the result writes (10:01:30) are not.
    let case = Case::of("row4-sse-kms");
    let manifest = case.dir.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
    m["cloudtrail_window"]["until"] = json!("2026-11-20T10:00:30Z");
    fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    case.verify(&[])
        .assert_job(ROW4_JOB, "inconclusive", "evidence-window");
    // One unrelated log file (the fixtures' iam:GetRole noise) in a trail folder, and the
    // user's window: the covered window is still what the sources prove.
    let noise = read_records(&case.log("T0915Z_"));
    let trail = case.sibling("trail");
    trail_dir_with(&trail, "1045", &noise[..1]);
    case.verify(&[
        "--from",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
        "--trail-dir",
        trail.to_str().unwrap(),
    ])
    .assert_job(ROW4_JOB, "inconclusive", "evidence-window");
}
