//! Table-driven tests of the evaluators: start from a real PASS timeline (built from a
//! fixture bundle), change one fact, and check what each rule concludes.

use super::*;
use crate::coverage::Logging;
use crate::evidence::bundle;
use crate::model::{CallError, JobId, Sse};
use crate::rules::{RuleSet, Severity};
use crate::timeline::{self, JobTimeline, ObjectKind};

fn timeline_of(fixture: &str) -> JobTimeline {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let evidence = bundle::load(&dir).unwrap();
    let jobs = timeline::discover_jobs(&evidence);
    assert_eq!(jobs.len(), 1, "{fixture} holds one job");
    timeline::build(&evidence, &jobs[0])
}

fn statuses(rules: &RuleSet, t: &JobTimeline, rule: &str) -> Vec<(Status, Severity)> {
    rules
        .evaluate(t)
        .into_iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| (f.status, f.severity))
        .collect()
}

fn worst(v: &[(Status, Severity)]) -> (Status, Severity) {
    *v.iter().max().expect("the rule gave an outcome")
}

fn other_key() -> ResolvedKey {
    ResolvedKey {
        given: "arn:aws:kms:us-east-1:111122223333:key/other".into(),
        arn: Ok("arn:aws:kms:us-east-1:111122223333:key/other".into()),
        key_manager: Some("CUSTOMER".into()),
        key_state: Some("Enabled".into()),
        aliases: vec![],
        aliases_listed: true,
    }
}

/// A key with no KMS metadata and no alias listing: aws/s3 or not cannot be told.
fn unknown_kind_key() -> ResolvedKey {
    ResolvedKey {
        key_manager: None,
        aliases_listed: false,
        ..other_key()
    }
}

fn aws_s3_key() -> ResolvedKey {
    ResolvedKey {
        aliases: vec!["alias/aws/s3".into()],
        key_manager: Some("AWS".into()),
        ..other_key()
    }
}

type Mutation = fn(&mut JobTimeline);

fn set_head(t: &mut JobTimeline, sse: Sse, key: Option<ResolvedKey>) {
    for o in t.objects.iter_mut() {
        if let Some(Ok(h)) = &mut o.head {
            h.sse = sse.clone();
        }
        o.head_key = key.clone();
    }
}

#[test]
fn mutations_of_a_passing_row4_job() {
    let rules = RuleSet::builtin().unwrap();
    let base = timeline_of("row4-sse-kms");
    for rule in REGISTRY.iter().map(|r| r.id) {
        let (s, _) = worst(&statuses(&rules, &base, rule));
        assert!(s <= Status::Pass, "baseline {rule} is {s}");
    }
    let cases: &[(&str, Mutation, &str, Status, Option<Severity>)] = &[
        (
            "stored SSE-S3",
            |t| set_head(t, Sse::SseS3, None),
            "documented-mode",
            Status::Fail,
            Some(Severity::High),
        ),
        (
            "stored DSSE with the key is stronger",
            |t| {
                let k = t.objects[0].head_key.clone();
                set_head(
                    t,
                    Sse::DsseKms {
                        key_id: Some("x".into()),
                    },
                    k,
                )
            },
            "documented-mode",
            Status::Fail,
            Some(Severity::Low),
        ),
        (
            "stored under another key",
            |t| {
                set_head(
                    t,
                    Sse::SseKms {
                        key_id: Some("o".into()),
                    },
                    Some(other_key()),
                )
            },
            "requested-cmk",
            Status::Fail,
            Some(Severity::High),
        ),
        (
            "stored under aws/s3",
            |t| {
                set_head(
                    t,
                    Sse::SseKms {
                        key_id: Some("o".into()),
                    },
                    Some(aws_s3_key()),
                )
            },
            "requested-cmk",
            Status::Fail,
            None,
        ),
        (
            "aws:kms with no key id",
            |t| set_head(t, Sse::SseKms { key_id: None }, None),
            "requested-cmk",
            Status::Fail,
            None,
        ),
        (
            // Issue 9 route 9: an unknown value stays unknown, never read as weaker.
            "unknown algorithm",
            |t| {
                set_head(
                    t,
                    Sse::Other {
                        value: "aws:future".into(),
                    },
                    None,
                )
            },
            "documented-mode",
            Status::Inconclusive,
            None,
        ),
        (
            "HeadObject denied",
            |t| {
                t.objects[1].head = Some(Err(CallError {
                    code: "AccessDenied".into(),
                    message: String::new(),
                }))
            },
            "evidence-readable",
            Status::Inconclusive,
            None,
        ),
        (
            "HeadObject not collected",
            |t| t.objects[1].head = None,
            "documented-mode",
            Status::Inconclusive,
            None,
        ),
        (
            "requested key unresolved",
            |t| {
                let k = t.request.as_mut().unwrap().kms_key.as_mut().unwrap();
                k.arn = Err("alias not collected".into());
            },
            "requested-cmk",
            Status::Inconclusive,
            None,
        ),
        (
            "written by someone else",
            |t| {
                let w = &mut t.objects[1].writes[0];
                w.writer = crate::timeline::Writer::Other("mallory".into());
                w.actor = "arn:aws:iam::111122223333:user/mallory".into();
            },
            "output-integrity",
            Status::Fail,
            None,
        ),
        (
            "modified after the write",
            |t| {
                let o = &mut t.objects[1];
                let later = o.writes[0].time + chrono::Duration::hours(1);
                if let Some(Ok(h)) = &mut o.head {
                    h.last_modified = crate::model::Reading::Read(later);
                }
            },
            "output-integrity",
            Status::Fail,
            None,
        ),
        (
            // Issue 9 route 7: an unreadable LastModified cannot switch the check off.
            "LastModified unreadable",
            |t| {
                if let Some(Ok(h)) = &mut t.objects[1].head {
                    h.last_modified = crate::model::Reading::Unrecognised("garbage".into());
                }
            },
            "output-integrity",
            Status::Inconclusive,
            None,
        ),
        (
            "deleted",
            |t| {
                let ev = t.objects[1].writes[0].event.clone();
                t.objects[1].deletes.push(ev);
            },
            "output-integrity",
            Status::Fail,
            None,
        ),
        (
            "no write records",
            |t| t.objects.iter_mut().for_each(|o| o.writes.clear()),
            "output-integrity",
            Status::Inconclusive,
            None,
        ),
        (
            "bucket default chose another key",
            |t| {
                let w = &mut t.objects[1].writes[0];
                w.sse_applied = crate::model::Reading::Read(crate::facts::SseApplied::Default(
                    "Default_SSE_KMS".into(),
                ));
                w.key = Some(other_key());
            },
            "bucket-default-override",
            Status::Fail,
            Some(Severity::High),
        ),
        (
            // Issue 9 route 9: an unknown SSEApplied is not "the request chose it".
            "SSEApplied unrecognised",
            |t| {
                t.objects[1].writes[0].sse_applied =
                    crate::model::Reading::Unrecognised("SSE_SOMETHING".into())
            },
            "bucket-default-override",
            Status::Inconclusive,
            None,
        ),
        (
            "no SSEApplied",
            |t| t.objects[1].writes[0].sse_applied = crate::model::Reading::Absent,
            "bucket-default-override",
            Status::Inconclusive,
            None,
        ),
        (
            "no Start record",
            |t| t.request = None,
            "evidence-start-event",
            Status::Inconclusive,
            None,
        ),
        (
            "no Start record: mode unknown",
            |t| t.request = None,
            "documented-mode",
            Status::Inconclusive,
            None,
        ),
        (
            "data events not logged",
            |t| t.coverage.data_events = Logging::NotLogged { reason: "r".into() },
            "evidence-data-events",
            Status::Inconclusive,
            None,
        ),
        (
            "data events unknown",
            |t| t.coverage.data_events = Logging::Unknown { reason: "r".into() },
            "evidence-data-events",
            Status::Inconclusive,
            None,
        ),
        (
            "kms events not logged",
            |t| t.coverage.kms_events = Logging::NotLogged { reason: "r".into() },
            "evidence-kms-events",
            Status::Inconclusive,
            None,
        ),
        (
            "window not covered",
            |t| t.coverage.job_window = Err("outside".into()),
            "evidence-window",
            Status::Inconclusive,
            None,
        ),
        (
            "succeeded without results",
            |t| {
                t.objects.retain(|o| o.kind != ObjectKind::ResultPage);
                t.listing = Some(Ok(true));
            },
            "results-present",
            Status::Fail,
            Some(Severity::High),
        ),
        (
            "no results, listing incomplete",
            |t| {
                t.objects.retain(|o| o.kind != ObjectKind::ResultPage);
                t.listing = Some(Ok(false));
            },
            "results-present",
            Status::Inconclusive,
            None,
        ),
        (
            "still running",
            |t| {
                if let Some(Ok(s)) = &mut t.status {
                    s.status = "IN_PROGRESS".into();
                }
            },
            "results-present",
            Status::Inconclusive,
            None,
        ),
        (
            "job failed",
            |t| {
                if let Some(Ok(s)) = &mut t.status {
                    s.status = "FAILED".into();
                }
            },
            "results-present",
            Status::NotApplicable,
            None,
        ),
    ];
    for (name, mutate, rule, want, severity) in cases {
        let mut t = base.clone();
        mutate(&mut t);
        let got = statuses(&rules, &t, rule);
        let (status, sev) = worst(&got);
        assert_eq!(status, *want, "{name}: {rule} gave {got:?}");
        if let Some(s) = severity {
            assert_eq!(sev, *s, "{name}: {rule} severity");
        }
    }
}

#[test]
fn a_job_still_running_is_never_a_pass_even_with_results_kept_by_textract() {
    let rules = RuleSet::builtin().unwrap();
    for fixture in ["row1-textract-default", "row3-textract-cmk"] {
        let mut t = timeline_of(fixture);
        if let Some(Ok(s)) = &mut t.status {
            s.status = "IN_PROGRESS".into();
        }
        let findings = rules.evaluate(&t);
        assert_eq!(
            crate::report::verdict(&findings),
            crate::report::Verdict::Inconclusive,
            "{fixture}"
        );
    }
}

#[test]
fn row2_aws_s3_key_names_the_documentation_conflict() {
    let rules = RuleSet::builtin().unwrap();
    let mut t = timeline_of("row2-sse-s3");
    set_head(
        &mut t,
        Sse::SseKms {
            key_id: Some("k".into()),
        },
        Some(aws_s3_key()),
    );
    let f: Vec<_> = rules
        .evaluate(&t)
        .into_iter()
        .filter(|f| f.rule_id == "row2-aws-managed-key")
        .collect();
    assert!(
        f.iter()
            .all(|f| f.status == Status::Fail && f.severity == Severity::Low),
        "{f:?}"
    );
    assert!(
        f[0].message.contains("OutputConfig reference"),
        "{}",
        f[0].message
    );
    // The same objects under a customer key are a stronger mode, not the doc conflict.
    set_head(
        &mut t,
        Sse::SseKms {
            key_id: Some("k".into()),
        },
        Some(other_key()),
    );
    let dm = statuses(&rules, &t, "documented-mode");
    assert_eq!(worst(&dm), (Status::Fail, Severity::Low));
    assert_eq!(
        worst(&statuses(&rules, &t, "row2-aws-managed-key")).0,
        Status::Pass
    );
    // A key the evidence cannot classify must not pass as "not aws/s3".
    let sse = Sse::SseKms {
        key_id: Some("k".into()),
    };
    set_head(&mut t, sse.clone(), Some(unknown_kind_key()));
    for w in t.objects.iter_mut().flat_map(|o| o.writes.iter_mut()) {
        w.sse = sse.clone();
        w.key = Some(unknown_kind_key());
    }
    let row2 = worst(&statuses(&rules, &t, "row2-aws-managed-key"));
    assert_eq!(row2.0, Status::Inconclusive);
    let dm = worst(&statuses(&rules, &t, "documented-mode"));
    assert_eq!(dm, (Status::Fail, Severity::Low));
}

#[test]
fn compare_table() {
    let rules = RuleSet::builtin().unwrap();
    let t = timeline_of("row4-sse-kms");
    let exp = rules.expected(&t).unwrap();
    let want_key = t.request.as_ref().unwrap().kms_key.clone().unwrap();
    let mut sse_s3_exp = exp.clone();
    sse_s3_exp.row = rules
        .table
        .iter()
        .find(|r| r.output_config && !r.kms_key)
        .unwrap()
        .clone();
    let kms = |k: Option<&str>| Sse::SseKms {
        key_id: k.map(str::to_owned),
    };
    let cases: Vec<(&Expected, Sse, Option<ResolvedKey>, Comparison)> = vec![
        (
            &exp,
            kms(Some("x")),
            Some(want_key.clone()),
            Comparison::Match,
        ),
        (
            &exp,
            kms(Some("x")),
            Some(other_key()),
            Comparison::OtherKey,
        ),
        (&exp, kms(None), None, Comparison::OtherKey),
        (&exp, Sse::SseS3, None, Comparison::Weaker),
        (&exp, Sse::None, None, Comparison::Weaker),
        (
            &exp,
            Sse::DsseKms {
                key_id: Some("x".into()),
            },
            Some(want_key.clone()),
            Comparison::Stronger,
        ),
        (&sse_s3_exp, Sse::SseS3, None, Comparison::Match),
        (
            &sse_s3_exp,
            kms(Some("x")),
            Some(unknown_kind_key()),
            Comparison::KmsOfUnknownKind,
        ),
        (
            &sse_s3_exp,
            kms(Some("x")),
            Some(aws_s3_key()),
            Comparison::AwsS3ForSseS3,
        ),
        (&sse_s3_exp, kms(None), None, Comparison::AwsS3ForSseS3),
        (
            &sse_s3_exp,
            kms(Some("x")),
            Some(other_key()),
            Comparison::Stronger,
        ),
        (&sse_s3_exp, Sse::SseC, None, Comparison::Weaker),
    ];
    for (e, sse, key, want) in cases {
        assert_eq!(compare(e, &sse, key.as_ref()), want, "{sse:?} {key:?}");
    }
}

#[test]
fn unknown_job_is_inconclusive_not_pass() {
    let rules = RuleSet::builtin().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/row4-sse-kms");
    let evidence = bundle::load(&dir).unwrap();
    let t = timeline::build(&evidence, &JobId("0".repeat(64)));
    let findings = rules.evaluate(&t);
    assert_eq!(
        crate::report::verdict(&findings),
        crate::report::Verdict::Inconclusive
    );
}

#[test]
fn unseen_encryption_is_never_a_pass() {
    let rules = RuleSet::builtin().unwrap();
    // Row 2: an object known only from the listing says nothing about aws/s3.
    let mut t = timeline_of("row2-sse-s3");
    let o = t
        .objects
        .iter_mut()
        .find(|o| o.kind == ObjectKind::ResultPage)
        .unwrap();
    o.head = None;
    o.writes.clear();
    let got = statuses(&rules, &t, "row2-aws-managed-key");
    assert_eq!(worst(&got).0, Status::Inconclusive, "{got:?}");
    // Row 4 with no objects and no KMS records: the absence of KMS calls proves nothing.
    let mut t = timeline_of("row4-sse-kms");
    t.objects.clear();
    t.kms_uses.clear();
    let got = statuses(&rules, &t, "evidence-kms-events");
    assert_eq!(worst(&got).0, Status::Inconclusive, "{got:?}");
}
