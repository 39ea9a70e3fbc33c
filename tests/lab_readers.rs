//! The read side against the local AWS lab (`tests/lab/`, scenarios `readers*`): the binary
//! collects `ListGrants`, `GetBucketPolicy` and `GetBucketPolicyStatus` live into a bundle, the
//! static reading of that bundle names the lab's principals and flags what it should, and the
//! trail the lab delivers holds the reads (or, logging writes only, not the S3 ones).
//!
//! Like `tests/lab.rs`, they run against the harness's lab (`tests/common/mod.rs`).

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use common::{Lab, lab};
use serde_json::{Value, json};
use textract_audit::access::possible::{Answer, Flag, JobScope, possible_readers};
use textract_audit::evidence::bundle;
use textract_audit::model::{Evidence, Json, TimeWindow};

const START: &str = "arn:aws:iam::123456789012:user/lab-user";
const READER: &str = "arn:aws:iam::123456789012:user/lab-reader";
const THIRD: &str = "arn:aws:iam::123456789012:user/lab-analyst";

/// One scenario run: the job, its folder and when it ran, and the bundle `collect` wrote.
struct Run {
    folder: String,
    job: TimeWindow,
    evidence: Evidence,
    /// Holds the bundle (`bundle/`) and, once written, the allow-list.
    dir: tempfile::TempDir,
}

/// A `GetObject` signed with `access_key` (the lab tells principals apart by it).
fn get_object(lab: &Lab, access_key: &str, key: &str) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let (status, _) = lab.http(
        "GET",
        &format!("/lab-output/{key}"),
        &[("Authorization", &auth)],
        &Value::Null,
    );
    assert_eq!(status, 200, "GetObject {key} as {access_key}");
}

/// Seeds `scenario`, runs its job, lets the reader read both pages and the third principal
/// page 1 through a grant made after the job, delivers the trail, and collects.
fn run(lab: &Lab, scenario: &str) -> Run {
    run_with(lab, scenario, &json!({}))
}

/// [`run`], with `faults` set in the lab for the collection.
fn run_with(lab: &Lab, scenario: &str, faults: &Value) -> Run {
    let seed = lab.seed(scenario);
    let started = Utc::now().trunc_subsecs(0) - Duration::seconds(1);
    let job = lab.start(&seed);
    // The lab writes a job's results before Start* returns.
    let finished = Utc::now().trunc_subsecs(0);
    let folder = format!("{}/{job}/", seed["output"]["prefix"].as_str().unwrap());
    let principals = &seed["principals"];
    let key = |who: &str| {
        principals[who]["access_key_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for page in ["1", "2"] {
        get_object(lab, &key("reader"), &format!("{folder}{page}"));
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    lab.aws_json(
        "kms",
        "TrentService.CreateGrant",
        &json!({"KeyId": seed["kms"]["key_id"], "GranteePrincipal": THIRD, "Operations": ["Decrypt"]}),
    );
    get_object(lab, &key("third"), &format!("{folder}1"));
    lab.control("POST", "flush-trail", &json!({}));
    lab.faults(faults);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let collected = lab.collect(
        &job,
        out.to_str().unwrap(),
        &["--trail", "s3://lab-trail/ct"],
    );
    assert_eq!(collected.code, 0, "collect: {}", collected.stderr);
    for file in [
        "api/kms/ListGrants.json",
        "api/s3/GetBucketPolicy.json",
        "api/s3/GetBucketPolicyStatus.json",
        "api/access-analyzer/CheckNoPublicAccess.json",
        "api/access-analyzer/CheckAccessNotGranted.json",
    ] {
        assert!(out.join(file).is_file(), "{file} not collected");
    }
    Run {
        folder,
        job: TimeWindow {
            from: started,
            until: finished,
        },
        evidence: bundle::load(&out).unwrap(),
        dir,
    }
}

fn principals(answer: Option<&Answer>) -> Vec<String> {
    match answer {
        Some(Answer::Read { access, .. }) => access
            .grantees
            .iter()
            .map(|g| g.principal.to_string())
            .collect(),
        other => panic!("not read: {other:?}"),
    }
}

fn flag_names(flags: &[Flag]) -> Vec<String> {
    flags
        .iter()
        .map(|f| {
            serde_json::to_value(f).unwrap()["flag"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The static reading of the collected bundle.
fn reading(r: &Run) -> textract_audit::access::possible::PossibleReaders {
    let key = r
        .evidence
        .keys
        .iter()
        .find(|k| k.key_manager == "CUSTOMER")
        .expect("the CMK was described");
    let captured: DateTime<Utc> = r.evidence.provenance.captured_at;
    possible_readers(
        Some(key),
        r.evidence.buckets.get("lab-output"),
        &JobScope {
            partition: "aws",
            account: Some("123456789012"),
            output: Some(("lab-output", &r.folder)),
            job: Some(r.job),
            captured_at: captured,
        },
    )
}

/// `verify` of the collected bundle with an allow-list naming the start principal and the
/// reader: the exit code and the `readers-allowed` findings as `(status, message)`.
fn readers_allowed(lab: &Lab, r: &Run) -> (i32, Vec<(String, String)>) {
    let list = r.dir.path().join("allowed-readers.toml");
    std::fs::write(
        &list,
        format!(
            "[[reader]]\nbucket = \"lab-output\"\nprincipals = [\"{START}\", \"{READER}\"]\nreason = \"the lab's two principals\"\n"
        ),
    )
    .unwrap();
    let bundle = r.dir.path().join("bundle");
    let out = lab.run(&[
        "verify",
        "--evidence",
        bundle.to_str().unwrap(),
        "--allowed-readers",
        list.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", out.stdout, out.stderr));
    let found = report["jobs"][0]["findings"]
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
        .collect();
    (out.code, found)
}

/// `(eventName, principal)` of the delivered records that read the folder's page 1: S3
/// `GetObject` on it, or KMS `Decrypt` whose context is exactly its ARN.
fn page_one_reads(r: &Run) -> Vec<(String, String)> {
    let object = format!("{}1", r.folder);
    let arn = format!("arn:aws:s3:::lab-output/{object}");
    let mut reads: Vec<(String, String)> = r
        .evidence
        .events
        .iter()
        .filter(|e| {
            let key = e.request_parameters.get("key").and_then(Json::as_str);
            let context = e
                .request_parameters
                .pointer("/encryptionContext/aws:s3:arn")
                .and_then(Json::as_str);
            (e.event_name == "GetObject" && key == Some(&object))
                || (e.event_name == "Decrypt" && context == Some(&arn))
        })
        .map(|e| (e.event_name.clone(), e.actor()))
        .collect();
    reads.sort();
    reads
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn the_posts_design_names_both_principals_and_the_grant_that_outlives_the_job() {
    let lab = lab();
    let r = run(&lab, "readers");
    let readers = reading(&r);
    let root = "arn:aws:iam::123456789012:root";
    assert_eq!(principals(readers.decrypt.as_ref()), [root, START, READER]);
    assert_eq!(principals(readers.get_object.as_ref()), [START, READER]);
    assert_eq!(flag_names(&readers.flags), ["grant-outlives-job"]);
    // Access Analyzer (the lab's stand-in) was asked about both policies: not public, and
    // the read actions granted (to the two principals), in agreement with the static reading.
    let answers: Vec<(&str, &str)> = readers
        .analyzer
        .iter()
        .map(|a| (a.check, a.result.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("CheckNoPublicAccess", "PASS"),
            ("CheckAccessNotGranted", "FAIL"),
            ("CheckNoPublicAccess", "PASS"),
            ("CheckAccessNotGranted", "FAIL"),
        ],
        "{:#?}",
        readers.analyzer
    );
    assert!(
        readers.analyzer[0].line().starts_with(
            "Access Analyzer's answer, CheckNoPublicAccess (key policy of arn:aws:kms:"
        )
    );
    let Flag::GrantOutlivesJob { grant, .. } = &readers.flags[0] else {
        unreachable!()
    };
    assert_eq!(grant.grantee, THIRD);
    assert!(grant.created.is_some_and(|c| c > r.job.until));
    let reads = page_one_reads(&r);
    for (op, who) in [
        ("Decrypt", READER),
        ("Decrypt", THIRD),
        ("GetObject", READER),
        ("GetObject", THIRD),
    ] {
        assert!(
            reads.contains(&(op.to_owned(), who.to_owned())),
            "{op} by {who} not delivered: {reads:?}"
        );
    }
    // Through the CLI: the third principal's reads FAIL readers-allowed, by name.
    let (code, found) = readers_allowed(&lab, &r);
    assert_eq!(code, 3, "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "fail");
    assert!(found[0].1.starts_with(THIRD), "{found:?}");
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn an_open_key_policy_is_flagged() {
    let lab = lab();
    let r = run(&lab, "readers-open-key");
    let readers = reading(&r);
    assert!(principals(readers.decrypt.as_ref()).contains(&"everyone (*)".to_owned()));
    assert_eq!(
        flag_names(&readers.flags),
        ["everyone", "analyzer-says-public", "grant-outlives-job"]
    );
    assert!(
        readers.flags[0]
            .message()
            .contains("\"Anyone may decrypt\"")
    );
    // Access Analyzer's FAIL is flagged too, naming the statement.
    let analyzer = readers
        .flags
        .iter()
        .find(|f| f.kind() == "analyzer-says-public")
        .unwrap_or_else(|| panic!("{:#?}", readers.flags));
    assert!(
        analyzer
            .message()
            .contains("statement 4 (\"Anyone may decrypt\")"),
        "{}",
        analyzer.message()
    );
    assert!(
        readers
            .flags
            .iter()
            .all(|f| f.kind() != "analyzer-conflict"),
        "{:#?}",
        readers.flags
    );
}

/// The `possible_readers` of the one job of a JSON report.
fn possible_json(stdout: &str, stderr: &str) -> Value {
    let report: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    report["jobs"][0]["possible_readers"].clone()
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_bundle_verified_offline_shows_the_same_possible_readers_as_live() {
    let lab = lab();
    let r = run(&lab, "readers-open-key");
    let job = r.folder.split('/').rev().nth(1).unwrap().to_owned();
    let live = lab.verify(&[&job], &["--trail", "s3://lab-trail/ct"]);
    let bundle = r.dir.path().join("bundle");
    let offline = lab.run(&[
        "verify",
        "--evidence",
        bundle.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let (live, offline) = (
        possible_json(&live.stdout, &live.stderr),
        possible_json(&offline.stdout, &offline.stderr),
    );
    assert!(
        live["access_analyzer"]
            .as_array()
            .is_some_and(|a| a.len() == 4),
        "{live:#}"
    );
    assert_eq!(live, offline);
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn access_analyzer_denied_leaves_the_static_reading_labelled() {
    let lab = lab();
    let r = run_with(
        &lab,
        "readers-open-key",
        &json!({"access_denied": {"operation": "CheckNoPublicAccess"}}),
    );
    let readers = reading(&r);
    let denied: Vec<String> = readers
        .analyzer
        .iter()
        .filter(|a| a.check == "CheckNoPublicAccess")
        .map(|a| a.line())
        .collect();
    assert_eq!(denied.len(), 2, "{:#?}", readers.analyzer);
    for line in &denied {
        assert!(
            line.starts_with("IAM Access Analyzer CheckNoPublicAccess (")
                && line.contains("failed: AccessDeniedException")
                && line.ends_with("the static reading stands, a static reading only"),
            "{line}"
        );
    }
    // The static `*` finding stands; no analyzer flag replaces it.
    assert_eq!(
        flag_names(&readers.flags),
        ["everyone", "grant-outlives-job"]
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_writes_only_trail_delivers_no_s3_reads_but_the_kms_ones() {
    let lab = lab();
    let r = run(&lab, "readers-writes-only");
    let reads = page_one_reads(&r);
    assert!(
        reads.iter().all(|(op, _)| op == "Decrypt"),
        "a trail logging writes only delivered {reads:?}"
    );
    assert!(reads.contains(&("Decrypt".to_owned(), THIRD.to_owned())));
    // Through the CLI: the S3 reads could not be seen, so readers-allowed is INCONCLUSIVE
    // (never a PASS on the KMS reads alone), naming why.
    let (code, found) = readers_allowed(&lab, &r);
    assert!(
        found
            .iter()
            .any(|(s, m)| s == "inconclusive" && m.contains("S3 read data events")),
        "{found:?}"
    );
    assert!(found.iter().all(|(s, _)| s != "pass"), "{found:?}");
    assert!(code == 3 || code == 4, "{code}");
    // The writes are still there: the write side is not affected.
    assert!(
        r.evidence
            .events
            .iter()
            .any(|e| e.event_name == "PutObject")
    );
}
