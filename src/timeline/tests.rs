//! Hostile evidence against correlation: each test starts from a fixture that PASSes,
//! adds or changes records the way an insider could, and checks the verdict is no longer
//! PASS (issue 9's false-PASS routes).

use serde_json::{Value, json};

use super::*;
use crate::evidence::bundle;
use crate::model::Json;
use crate::report::{Verdict, verdict};
use crate::rules::RuleSet;

/// Edits a record's nested map as a `serde_json::Value` (tests only: records keep [`Json`]).
fn edit(json: &mut Json, f: impl FnOnce(&mut Value)) {
    let mut v = serde_json::to_value(&*json).unwrap();
    f(&mut v);
    *json = v.into();
}

fn fixture(name: &str) -> Evidence {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    bundle::load(&dir).unwrap()
}

fn verdict_of(evidence: &Evidence) -> Verdict {
    let jobs = discover_jobs(evidence);
    assert_eq!(jobs.len(), 1);
    let rules = RuleSet::builtin().unwrap();
    verdict(&rules.evaluate(&build(evidence, &jobs[0])))
}

/// A copy of the record Textract wrote page 1 with, changed by `change`, one hour later.
fn page_one_overwrite(evidence: &Evidence, change: impl FnOnce(&mut TrailEvent)) -> TrailEvent {
    let mut e = evidence
        .events
        .iter()
        .find(|e| {
            e.event_name == "PutObject"
                && str_ci(&e.request_parameters, "key").is_some_and(|k| k.ends_with("/1"))
        })
        .expect("a page 1 write")
        .clone();
    e.event_id = "overwrite".into();
    e.event_time += Duration::minutes(30);
    change(&mut e);
    e
}

#[test]
fn route_2_client_set_user_agent_is_not_textract() {
    let mut evidence = fixture("row4-sse-kms");
    assert_eq!(verdict_of(&evidence), Verdict::Pass);
    let e = page_one_overwrite(&evidence, |e| {
        e.user_identity =
            json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
            "accountId": "111122223333"})
            .into();
        e.user_agent = Some("textract.amazonaws.com".into());
        e.source_ip_address = Some("textract.amazonaws.com".into());
    });
    evidence.add_records([e]);
    assert_eq!(verdict_of(&evidence), Verdict::Fail);
}

#[test]
fn route_2_textract_for_another_principal_is_not_the_jobs_write() {
    let mut evidence = fixture("row4-sse-kms");
    let e = page_one_overwrite(&evidence, |e| {
        edit(&mut e.user_identity, |u| {
            u["arn"] = json!("arn:aws:sts::111122223333:assumed-role/Other/x")
        });
    });
    evidence.add_records([e]);
    assert_eq!(verdict_of(&evidence), Verdict::Fail);
}

#[test]
fn route_2_unknown_writer_form_is_inconclusive_not_fail() {
    let mut evidence = fixture("row4-sse-kms");
    let e = page_one_overwrite(&evidence, |e| {
        edit(&mut e.user_identity, |u| {
            u["invokedBy"] = json!("batchoperations.s3.amazonaws.com")
        });
    });
    evidence.add_records([e]);
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

/// Row 3's one KMS record names the job in its context; `retarget` changes that value.
fn row3_with_context(retarget: impl Fn(&str) -> String) -> Evidence {
    let mut evidence = fixture("row3-textract-cmk");
    for e in &mut evidence.events {
        edit(&mut e.request_parameters, |p| {
            if let Some(Value::Object(c)) = p.get_mut("encryptionContext") {
                for v in c.values_mut() {
                    if let Some(s) = v.as_str() {
                        *v = json!(retarget(s));
                    }
                }
            }
        });
    }
    evidence
}

#[test]
fn route_6_context_naming_the_job_by_substring_is_not_credited() {
    assert_eq!(verdict_of(&row3_with_context(str::to_owned)), Verdict::Pass);
    let evidence = row3_with_context(|s| format!("{s}0"));
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

#[test]
fn route_6_context_naming_another_job_is_not_credited_by_time_and_key() {
    let evidence = row3_with_context(|_| "f".repeat(64));
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

#[test]
fn route_6_bucket_key_call_under_another_key_does_not_convict() {
    let mut evidence = fixture("row4-bucket-key");
    assert_eq!(verdict_of(&evidence), Verdict::Pass);
    let mut other = evidence
        .events
        .iter()
        .find(|e| e.event_name == "GenerateDataKey")
        .expect("a Bucket Key call")
        .clone();
    other.event_id = "other-job".into();
    edit(&mut other.request_parameters, |p| {
        p["keyId"] = json!("arn:aws:kms:us-east-1:111122223333:key/other")
    });
    evidence.add_records([other]);
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

#[test]
fn other_partitions_tie_by_their_own_arns() {
    let mut evidence = fixture("row4-sse-kms");
    for e in &mut evidence.events {
        e.aws_region = "cn-north-1".into();
        edit(&mut e.request_parameters, |p| {
            if let Some(Value::Object(c)) = p.get_mut("encryptionContext") {
                for v in c.values_mut() {
                    if let Some(s) = v.as_str() {
                        *v = json!(s.replace("arn:aws:s3", "arn:aws-cn:s3"));
                    }
                }
            }
        });
    }
    let jobs = discover_jobs(&evidence);
    let t = build(&evidence, &jobs[0]);
    assert!(
        t.kms_uses.iter().any(|k| k.tie == TIE_OBJECT),
        "{:?}",
        t.kms_uses
    );
}

#[test]
fn lending_folders_are_result_objects_and_strays_are_checked() {
    let prefix = "p/j/";
    assert_eq!(
        kind_of("p/j/detailedResponse/1", prefix),
        ObjectKind::ResultPage
    );
    assert_eq!(
        kind_of("p/j/summaryResponse/1", prefix),
        ObjectKind::ResultPage
    );
    assert_eq!(
        kind_of("p/j/splitDocuments/x/1.pdf", prefix),
        ObjectKind::ResultPage
    );
    assert_eq!(kind_of("p/j/detailedResponse/", prefix), ObjectKind::Other);
    assert_eq!(kind_of("p/j/notes.txt", prefix), ObjectKind::Other);
}

#[test]
fn correlating_in_parallel_gives_what_one_at_a_time_gives() {
    let evidence = fixture("demo");
    let jobs = discover_jobs(&evidence);
    let one: Vec<String> = jobs
        .iter()
        .map(|j| serde_json::to_string(&build(&evidence, j)).unwrap())
        .collect();
    let all: Vec<String> = build_all(&evidence, &jobs)
        .iter()
        .map(|t| serde_json::to_string(t).unwrap())
        .collect();
    assert_eq!(one, all);
}

#[test]
fn route_3_a_record_sharing_the_overwrites_event_id_does_not_remove_it() {
    let mut evidence = fixture("row4-sse-kms");
    let overwrite = page_one_overwrite(&evidence, |e| {
        e.user_identity =
            json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"}).into();
    });
    let mut decoy = evidence
        .events
        .iter()
        .find(|e| e.event_name == "GetRole")
        .expect("an unrelated record")
        .clone();
    decoy.event_id = overwrite.event_id.clone();
    decoy.event_time = overwrite.event_time;
    evidence.add_records([decoy, overwrite]);
    assert_eq!(evidence.conflicts.len(), 1, "{:?}", evidence.conflicts);
    assert_eq!(verdict_of(&evidence), Verdict::Fail);
    // An exact repeat is a duplicate, not a conflict.
    let again = evidence.events[0].clone();
    evidence.add_records([again]);
    assert_eq!(evidence.conflicts.len(), 1);
}

#[test]
fn route_4_a_conflict_about_the_requested_key_is_never_a_pass() {
    let mut evidence = fixture("row4-sse-kms");
    let arn = evidence.keys[0].arn.clone();
    evidence.conflicts.push(Conflict {
        subject: format!("kms:DescribeKey {arn}"),
        reason: "answers differ".into(),
        about: ConflictAbout::Key(arn.clone()),
        evidence: vec![EvidenceRef::KmsKey { arn }],
    });
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

#[test]
fn route_5_an_earlier_start_naming_the_used_key_does_not_hide_the_wrong_cmk() {
    let mut evidence = fixture("fail-wrong-cmk");
    assert_eq!(verdict_of(&evidence), Verdict::Fail);
    let used = evidence
        .events
        .iter()
        .find_map(|e| {
            (e.event_name == "PutObject")
                .then(|| {
                    str_ci(
                        &e.request_parameters,
                        "x-amz-server-side-encryption-aws-kms-key-id",
                    )
                })
                .flatten()
                .map(str::to_owned)
        })
        .expect("the key the writes used");
    let mut earlier = evidence
        .events
        .iter()
        .find(|e| e.event_name == "StartDocumentAnalysis")
        .unwrap()
        .clone();
    earlier.event_id = "earlier-start".into();
    earlier.event_time -= Duration::seconds(1);
    edit(&mut earlier.request_parameters, |p| {
        p["kMSKeyId"] = json!(used)
    });
    evidence.add_records([earlier]);
    assert_ne!(verdict_of(&evidence), Verdict::Pass);
    let jobs = discover_jobs(&evidence);
    let t = build(&evidence, &jobs[0]);
    assert!(
        t.conflicts
            .iter()
            .any(|c| c.about == ConflictAbout::Job(jobs[0].0.clone())),
        "{:?}",
        t.conflicts
    );
}

#[test]
fn route_8_a_truncated_listing_is_never_a_pass() {
    let mut evidence = fixture("row4-sse-kms");
    for l in &mut evidence.listings {
        l.complete = false;
    }
    assert_eq!(verdict_of(&evidence), Verdict::Inconclusive);
}

/// Issue 15: a job's reads are those of its own folder only: a copy whose source is one of
/// its results is a read, decoded from `x-amz-copy-source`; a look-alike folder and a KMS
/// context that only starts with a result's ARN are not.
#[test]
fn reads_are_the_jobs_folder_by_exact_key_and_context() {
    let mut evidence = fixture("readers-post-design");
    let job = discover_jobs(&evidence)[0].clone();
    let before = build(&evidence, &job).reads.len();
    let get = evidence
        .events
        .iter()
        .find(|e| e.event_name == "GetObject" && e.event_time.to_rfc3339().contains("T10:30"))
        .expect("the reader's GetObject")
        .clone();
    let key = str_ci(&get.request_parameters, "key").unwrap().to_owned();
    let analyst = json!({"type": "AssumedRole", "accountId": "111122223333",
        "arn": "arn:aws:sts::111122223333:assumed-role/Analytics/notebook"});
    let mut copy = get.clone();
    copy.event_id = "copy".into();
    copy.event_name = "CopyObject".into();
    copy.user_identity = analyst.clone().into();
    copy.request_parameters = json!({"bucketName": "elsewhere", "key": "stolen",
        "x-amz-copy-source": format!("acme-textract-results/{}?versionId=v",
            key.replace('/', "%2F"))})
    .into();
    let mut look_alike = get.clone();
    look_alike.event_id = "look-alike".into();
    look_alike.user_identity = analyst.clone().into();
    let folder = key.rsplit_once('/').unwrap().0;
    edit(&mut look_alike.request_parameters, |p| {
        p["key"] = json!(format!("{folder}x/1"))
    });
    let mut decrypt = evidence
        .events
        .iter()
        .find(|e| e.event_name == "Decrypt")
        .expect("a Decrypt")
        .clone();
    decrypt.event_id = "prefix-context".into();
    decrypt.user_identity = analyst.into();
    edit(&mut decrypt.request_parameters, |p| {
        p["encryptionContext"]["aws:s3:arn"] =
            json!(format!("arn:aws:s3:::acme-textract-results/{key}0"))
    });
    evidence.add_records([copy, look_alike, decrypt]);
    let t = build(&evidence, &job);
    let new: Vec<_> = t
        .reads
        .iter()
        .filter(|r| r.principal.contains("Analytics"))
        .collect();
    assert_eq!(t.reads.len(), before + 1, "{:?}", t.reads);
    assert_eq!(new.len(), 1);
    assert_eq!(
        new[0].operation,
        crate::access::observed::ReadOperation::CopyObjectSource
    );
    assert_eq!(new[0].object.as_ref().unwrap().key, key);
}
