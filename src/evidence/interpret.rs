//! Recorded API calls -> the evidence model.
//!
//! The only place that knows the JSON shapes of AWS responses. Bundles and the live collector
//! both hand their calls here, so the two can never read the same response differently.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::{CallRecord, RecordedCalls};
use crate::model::{
    AdvancedSelector, BasicSelector, BucketDefaultEncryption, CallError, Conflict, ConflictAbout,
    DataResource, EventSelectors, Evidence, EvidenceProblem, EvidenceRef, FieldSelector, HeadFacts,
    JobId, JobStatus, JobStatusFacts, KmsAlias, KmsKey, ListedObject, ObjectHead, PrefixListing,
    ProblemScope, Reading, S3Object, Sse, TextractApi, TrailConfig,
};

/// The operations this tool reads; a recorded operation not listed here is reported as not used.
pub const KNOWN_OPERATIONS: &[(&str, &str)] = &[
    ("textract", "GetDocumentAnalysis"),
    ("textract", "GetDocumentTextDetection"),
    ("textract", "GetExpenseAnalysis"),
    ("textract", "GetLendingAnalysis"),
    ("s3", "ListObjectsV2"),
    ("s3", "HeadObject"),
    ("s3", "GetBucketEncryption"),
    ("s3", "GetBucketVersioning"),
    ("kms", "DescribeKey"),
    ("kms", "ListAliases"),
    ("kms", "GetKeyRotationStatus"),
    ("kms", "GetKeyPolicy"),
    ("s3", "GetPublicAccessBlock"),
    ("cloudtrail", "DescribeTrails"),
    ("cloudtrail", "GetTrailStatus"),
    ("cloudtrail", "GetEventSelectors"),
    ("cloudtrail", "LookupEvents"),
    // Read by the bundle loader for digest validation (docs/integrity.md), not here.
    super::live::public_keys::OPERATION,
];

/// Error codes that are answers, not failures: the thing asked about does not exist.
pub const ANSWERS_NOT_FAILURES: &[&str] = &[
    "NoSuchPublicAccessBlockConfiguration",
    super::policies::NO_BUCKET_POLICY,
];

/// Which evidence a failed or unreadable call of this service takes away.
pub fn service_scope(service: &str, bucket: Option<&str>) -> ProblemScope {
    match service {
        "s3" => ProblemScope::S3 {
            bucket: bucket.map(str::to_owned),
        },
        "kms" => ProblemScope::Kms,
        "textract" => ProblemScope::Textract,
        _ => ProblemScope::TrailConfig,
    }
}

/// Interprets every recorded call into `facts` (job statuses are dated by its capture time).
pub fn interpret(calls: &RecordedCalls, facts: &mut Evidence) {
    let captured_at = facts.provenance.captured_at;
    let get = |service: &str, op: &str| -> &[CallRecord] {
        calls
            .get(&(service.to_owned(), op.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };

    for ((service, op), records) in calls {
        let op_id = (service.as_str(), op.as_str());
        if !KNOWN_OPERATIONS.contains(&op_id) && !super::policies::OPERATIONS.contains(&op_id) {
            facts.problems.push(EvidenceProblem {
                subject: format!("{service}:{op} ({} recorded calls)", records.len()),
                reason: "operation not used by this version of textract-audit".into(),
                scope: service_scope(service, None),
            });
        }
    }

    for api in TextractApi::ALL {
        for rec in get("textract", api.get_operation()) {
            let Some(job) = s(&rec.request, "JobId") else {
                facts
                    .problems
                    .push(missing_member("textract", api.get_operation(), "JobId"));
                continue;
            };
            let job_id = JobId(job.to_owned());
            let answer = outcome(rec, |r| job_status(r, captured_at));
            // Paged Get* calls repeat the status: one answer of a job is enough, unless a
            // later one says something else (then neither is believed).
            match facts.job_statuses.iter_mut().find(|j| j.job_id == job_id) {
                None => facts.job_statuses.push(JobStatus {
                    job_id,
                    api,
                    outcome: answer,
                }),
                Some(known) if known.outcome == answer || known.api != api => {}
                Some(known) => {
                    let subject = format!("textract:{} {job_id}", api.get_operation());
                    facts.conflicts.push(conflicting(
                        &subject,
                        ConflictAbout::Job(job_id.0.clone()),
                        EvidenceRef::ApiCall {
                            operation: format!("textract:{}", api.get_operation()),
                            subject: job_id.0.clone(),
                        },
                    ));
                    known.outcome = Err(conflicting_answers(&subject));
                }
            }
        }
    }

    facts.listings = listings(get("s3", "ListObjectsV2"), &mut facts.problems);

    for rec in get("s3", "HeadObject") {
        let (Some(bucket), Some(key)) = (s(&rec.request, "Bucket"), s(&rec.request, "Key")) else {
            facts
                .problems
                .push(missing_member("s3", "HeadObject", "Bucket/Key"));
            continue;
        };
        let object = S3Object {
            bucket: bucket.into(),
            key: key.into(),
            version_id: s(&rec.request, "VersionId").map(str::to_owned),
        };
        let answer = outcome(rec, head_facts);
        match facts.heads.iter_mut().find(|h| h.object == object) {
            None => facts.heads.push(ObjectHead {
                object,
                outcome: answer,
            }),
            Some(known) if known.outcome == answer => {}
            Some(known) => {
                let subject = format!("s3:HeadObject {}", object.uri());
                facts.conflicts.push(conflicting(
                    &subject,
                    ConflictAbout::Object(object.uri()),
                    EvidenceRef::S3Object {
                        uri: object.uri(),
                        version_id: object.version_id.clone(),
                        etag: None,
                    },
                ));
                known.outcome = Err(conflicting_answers(&subject));
            }
        }
    }

    for rec in get("s3", "GetBucketEncryption") {
        if let Some(bucket) = s(&rec.request, "Bucket") {
            facts
                .buckets
                .entry(bucket.into())
                .or_default()
                .default_encryption = Some(outcome(rec, bucket_encryption));
        }
    }
    for rec in get("s3", "GetBucketVersioning") {
        if let Some(bucket) = s(&rec.request, "Bucket") {
            facts.buckets.entry(bucket.into()).or_default().versioning =
                Some(outcome(rec, |r| s(r, "Status").map(str::to_owned)));
        }
    }

    for rec in get("s3", "GetPublicAccessBlock") {
        let Some(bucket) = s(&rec.request, "Bucket") else {
            continue;
        };
        // No configuration at all is an answer: nothing is blocked.
        let none_configured = rec
            .error
            .as_ref()
            .is_some_and(|e| e.code == "NoSuchPublicAccessBlockConfiguration");
        let blocked = if none_configured {
            Ok(false)
        } else {
            outcome(rec, |r| {
                [
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                ]
                .iter()
                .all(|m| {
                    r.pointer(&format!("/PublicAccessBlockConfiguration/{m}"))
                        .and_then(Value::as_bool)
                        == Some(true)
                })
            })
        };
        facts
            .buckets
            .entry(bucket.into())
            .or_default()
            .public_access_blocked = Some(blocked);
    }

    for rec in get("kms", "DescribeKey") {
        let asked = s(&rec.request, "KeyId").unwrap_or_default().to_owned();
        match outcome(rec, kms_key) {
            Ok(Some(key)) => match facts.keys.iter_mut().find(|k| k.arn == key.arn) {
                Some(known) => {
                    known.looked_up_as.push(asked);
                    let differs = known.key_state != key.key_state
                        || known.key_manager != key.key_manager
                        || known.key_id != key.key_id
                        || known.key_usage != key.key_usage
                        || known.key_spec != key.key_spec
                        || known.multi_region != key.multi_region;
                    if differs
                        && !facts
                            .conflicts
                            .iter()
                            .any(|c| c.about == ConflictAbout::Key(key.arn.clone()))
                    {
                        facts.conflicts.push(conflicting(
                            &format!("kms:DescribeKey {}", key.arn),
                            ConflictAbout::Key(key.arn.clone()),
                            EvidenceRef::KmsKey {
                                arn: key.arn.clone(),
                            },
                        ));
                    }
                    // What the answers disagree on is unknown, never the first one's word.
                    if known.key_state != key.key_state {
                        known.key_state = UNKNOWN.into();
                    }
                    if known.key_manager != key.key_manager {
                        known.key_manager = UNKNOWN.into();
                    }
                }
                None => facts.keys.push(KmsKey {
                    looked_up_as: vec![asked],
                    ..key
                }),
            },
            Ok(None) => facts
                .problems
                .push(missing_member("kms", "DescribeKey", "KeyMetadata")),
            Err(e) => facts.problems.push(EvidenceProblem {
                subject: format!("kms:DescribeKey {asked}"),
                reason: e.to_string(),
                scope: ProblemScope::Kms,
            }),
        }
    }
    for rec in get("kms", "GetKeyRotationStatus") {
        let asked = s(&rec.request, "KeyId").unwrap_or_default();
        let enabled = rec
            .response
            .as_ref()
            .and_then(|r| r.get("KeyRotationEnabled"))
            .and_then(Value::as_bool);
        if let Some(key) = facts.keys.iter_mut().find(|k| k.answers_to(asked)) {
            key.rotation_enabled = enabled;
        }
    }

    for rec in get("kms", "GetKeyPolicy") {
        let asked = s(&rec.request, "KeyId").unwrap_or_default();
        let policy = rec
            .response
            .as_ref()
            .and_then(|r| s(r, "Policy"))
            .map(str::to_owned);
        if let Some(key) = facts.keys.iter_mut().find(|k| k.answers_to(asked)) {
            key.policy = policy;
        }
    }

    let alias_calls = get("kms", "ListAliases");
    if !alias_calls.is_empty() {
        let mut aliases = Vec::new();
        let mut complete = true;
        for rec in alias_calls {
            match outcome(rec, |r| Some(list_aliases(r))) {
                Ok(Some(page)) => aliases.extend(page),
                _ => complete = false,
            }
        }
        if complete {
            facts.aliases = Some(aliases);
        } else {
            facts.problems.push(EvidenceProblem {
                subject: "kms:ListAliases".into(),
                reason: "a recorded page failed; alias names cannot be resolved".into(),
                scope: ProblemScope::Kms,
            });
        }
    }

    // The events a LookupEvents page returned are CloudTrail records (kept as such); the
    // call itself only matters when it failed: the window it was to read is not covered.
    for rec in get("cloudtrail", "LookupEvents") {
        if let Err(e) = outcome(rec, |_| ()) {
            let (from, until) = (
                time(&rec.request, "StartTime"),
                time(&rec.request, "EndTime"),
            );
            let source = rec
                .request
                .pointer("/LookupAttributes/0/AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or("all sources");
            facts.problems.push(EvidenceProblem {
                subject: format!("cloudtrail:LookupEvents {source}"),
                reason: format!("{e}; CloudTrail management events were not read"),
                scope: ProblemScope::CloudTrail { from, until },
            });
        }
    }

    facts.trails = trails(calls, &mut facts.problems);
    super::policies::interpret(calls, facts);
}

/// The value of a `KeyMetadata` member that is not known (not given, or answers disagree).
const UNKNOWN: &str = "UNKNOWN";

/// Two recorded answers for `subject` that differ.
fn conflicting(subject: &str, about: ConflictAbout, evidence: EvidenceRef) -> Conflict {
    Conflict {
        subject: subject.to_owned(),
        reason: "recorded answers for this call differ; none is believed over the others".into(),
        about,
        evidence: vec![evidence],
    }
}

/// What is left of an answer that conflicts with another: an error naming the conflict.
fn conflicting_answers(subject: &str) -> CallError {
    CallError {
        code: "ConflictingAnswers".into(),
        message: format!("recorded answers for {subject} differ"),
    }
}

fn missing_member(service: &str, op: &str, member: &str) -> EvidenceProblem {
    EvidenceProblem {
        subject: format!("{service}:{op}"),
        reason: format!("a recorded call has no {member}"),
        scope: service_scope(service, None),
    }
}

/// The response read by `read`, or the recorded error. A response `read` cannot make sense
/// of is an error too (`MalformedResponse`), never a silent default.
pub(super) fn outcome<T>(rec: &CallRecord, read: impl FnOnce(&Value) -> T) -> Result<T, CallError> {
    match (&rec.response, &rec.error) {
        (_, Some(e)) => Err(CallError {
            code: e.code.clone(),
            message: e.message.clone(),
        }),
        (Some(r), None) => Ok(read(r)),
        (None, None) => Err(CallError {
            code: "MalformedRecord".into(),
            message: "call record has neither Response nor Error".into(),
        }),
    }
}

pub(super) fn s<'a>(v: &'a Value, member: &str) -> Option<&'a str> {
    v.get(member).and_then(Value::as_str)
}

fn b(v: &Value, member: &str) -> bool {
    v.get(member).and_then(Value::as_bool).unwrap_or(false)
}

/// A timestamp as AWS JSON carries it: RFC 3339 text or epoch seconds.
pub fn time(v: &Value, member: &str) -> Option<DateTime<Utc>> {
    match v.get(member)? {
        Value::String(t) => DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            Utc.timestamp_millis_opt((secs * 1000.0).round() as i64)
                .single()
        }
        _ => None,
    }
}

/// `LastModified` as the SDK gives it (RFC 3339, epoch seconds) or as S3's raw header
/// carries it (an HTTP-date, `Wed, 21 Oct 2026 07:28:00 GMT`); anything else is kept as
/// unrecognised so the checks that need it cannot pass.
fn last_modified(r: &Value) -> Reading<DateTime<Utc>> {
    match r.get("LastModified") {
        None | Some(Value::Null) => Reading::Absent,
        Some(v) => time(r, "LastModified")
            .or_else(|| {
                v.as_str()
                    .and_then(|t| DateTime::parse_from_rfc2822(t).ok())
                    .map(|t| t.with_timezone(&Utc))
            })
            .map(Reading::Read)
            .unwrap_or_else(|| Reading::Unrecognised(v.to_string())),
    }
}

fn strings(v: &Value, member: &str) -> Vec<String> {
    v.get(member)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn job_status(r: &Value, observed_at: DateTime<Utc>) -> JobStatusFacts {
    JobStatusFacts {
        status: s(r, "JobStatus").unwrap_or("UNKNOWN").to_owned(),
        status_message: s(r, "StatusMessage").map(str::to_owned),
        pages: r.pointer("/DocumentMetadata/Pages").and_then(Value::as_i64),
        warnings: r
            .get("Warnings")
            .and_then(Value::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(|w| s(w, "ErrorCode").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        observed_at,
    }
}

fn head_facts(r: &Value) -> HeadFacts {
    HeadFacts {
        // SSE-C objects answer with the customer algorithm and no ServerSideEncryption.
        sse: match s(r, "SSECustomerAlgorithm") {
            Some(_) => Sse::SseC,
            // Present but not text (null, a number): unrecognised, never "no encryption".
            None => match (r.get("ServerSideEncryption"), r.get("SSEKMSKeyId")) {
                (Some(v), _) | (_, Some(v)) if !v.is_string() => Sse::Other {
                    value: v.to_string(),
                },
                _ => Sse::from_header(s(r, "ServerSideEncryption"), s(r, "SSEKMSKeyId")),
            },
        },
        bucket_key_enabled: b(r, "BucketKeyEnabled"),
        last_modified: last_modified(r),
        etag: s(r, "ETag").map(str::to_owned),
        version_id: s(r, "VersionId").map(str::to_owned),
        content_length: r.get("ContentLength").and_then(Value::as_i64),
    }
}

fn listings(records: &[CallRecord], problems: &mut Vec<EvidenceProblem>) -> Vec<PrefixListing> {
    // Pages of one listing share Bucket and Prefix; a page's ContinuationToken names the page
    // before it. Join every page; the listing is complete when some page was not truncated.
    let mut by_prefix: BTreeMap<(String, String), PrefixListing> = BTreeMap::new();
    for rec in records {
        let Some(bucket) = s(&rec.request, "Bucket") else {
            problems.push(missing_member("s3", "ListObjectsV2", "Bucket"));
            continue;
        };
        let prefix = s(&rec.request, "Prefix").unwrap_or_default();
        let entry = by_prefix
            .entry((bucket.into(), prefix.into()))
            .or_insert_with(|| PrefixListing {
                bucket: bucket.into(),
                prefix: prefix.into(),
                outcome: Ok(Vec::new()),
                complete: false,
            });
        match outcome(rec, |r| {
            let objects: Vec<ListedObject> = r
                .get("Contents")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter_map(|o| {
                            Some(ListedObject {
                                key: s(o, "Key")?.to_owned(),
                                last_modified: time(o, "LastModified"),
                                etag: s(o, "ETag").map(str::to_owned),
                                size: o.get("Size").and_then(Value::as_i64),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            (objects, b(r, "IsTruncated"))
        }) {
            Ok((objects, truncated)) => {
                if let Ok(list) = &mut entry.outcome {
                    list.extend(objects);
                }
                entry.complete |= !truncated;
            }
            Err(e) => entry.outcome = Err(e),
        }
    }
    by_prefix.into_values().collect()
}

fn bucket_encryption(r: &Value) -> BucketDefaultEncryption {
    let rule = r
        .pointer("/ServerSideEncryptionConfiguration/Rules/0")
        .cloned()
        .unwrap_or(Value::Null);
    let default = rule
        .get("ApplyServerSideEncryptionByDefault")
        .cloned()
        .unwrap_or(Value::Null);
    BucketDefaultEncryption {
        sse: Sse::from_header(s(&default, "SSEAlgorithm"), s(&default, "KMSMasterKeyID")),
        bucket_key_enabled: b(&rule, "BucketKeyEnabled"),
    }
}

fn kms_key(r: &Value) -> Option<KmsKey> {
    let m = r.get("KeyMetadata")?;
    Some(KmsKey {
        arn: s(m, "Arn")?.to_owned(),
        key_id: s(m, "KeyId")?.to_owned(),
        key_manager: s(m, "KeyManager").unwrap_or(UNKNOWN).to_owned(),
        key_state: s(m, "KeyState").unwrap_or(UNKNOWN).to_owned(),
        key_usage: s(m, "KeyUsage").map(str::to_owned),
        key_spec: s(m, "KeySpec").map(str::to_owned),
        multi_region: b(m, "MultiRegion"),
        rotation_enabled: None,
        policy: None,
        looked_up_as: Vec::new(),
        grants: None,
        access_analyzer: None,
    })
}

fn list_aliases(r: &Value) -> Vec<KmsAlias> {
    r.get("Aliases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|a| {
                    Some(KmsAlias {
                        alias_name: s(a, "AliasName")?.to_owned(),
                        alias_arn: s(a, "AliasArn").unwrap_or_default().to_owned(),
                        target_key_id: s(a, "TargetKeyId").map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn trails(calls: &RecordedCalls, problems: &mut Vec<EvidenceProblem>) -> Vec<TrailConfig> {
    let get = |op: &str| {
        calls
            .get(&("cloudtrail".to_owned(), op.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let mut trails: Vec<TrailConfig> = Vec::new();
    for rec in get("DescribeTrails") {
        match outcome(rec, |r| {
            r.get("trailList").and_then(Value::as_array).cloned()
        }) {
            Ok(Some(list)) => trails.extend(list.iter().filter_map(|t| {
                Some(TrailConfig {
                    name: s(t, "Name")?.to_owned(),
                    arn: s(t, "TrailARN").map(str::to_owned),
                    home_region: s(t, "HomeRegion").map(str::to_owned),
                    is_multi_region: b(t, "IsMultiRegionTrail"),
                    is_organization: b(t, "IsOrganizationTrail"),
                    s3_bucket: s(t, "S3BucketName").map(str::to_owned),
                    s3_prefix: s(t, "S3KeyPrefix").map(str::to_owned),
                    is_logging: None,
                    start_logging_time: None,
                    stop_logging_time: None,
                    selectors: None,
                })
            })),
            Ok(None) => problems.push(missing_member("cloudtrail", "DescribeTrails", "trailList")),
            Err(e) => problems.push(EvidenceProblem {
                subject: "cloudtrail:DescribeTrails".into(),
                reason: e.to_string(),
                scope: ProblemScope::TrailConfig,
            }),
        }
    }
    let find = |trails: &mut Vec<TrailConfig>, name: &str| -> Option<usize> {
        trails
            .iter()
            .position(|t| t.name == name || t.arn.as_deref() == Some(name))
    };
    for rec in get("GetTrailStatus") {
        let name = s(&rec.request, "Name").unwrap_or_default();
        let Some(i) = find(&mut trails, name) else {
            continue;
        };
        match outcome(rec, |r| {
            (
                r.get("IsLogging").and_then(Value::as_bool),
                time(r, "StartLoggingTime"),
                time(r, "StopLoggingTime"),
            )
        }) {
            Ok((logging, start, stop)) => {
                trails[i].is_logging = logging;
                trails[i].start_logging_time = start;
                trails[i].stop_logging_time = stop;
            }
            Err(e) => problems.push(EvidenceProblem {
                subject: format!("cloudtrail:GetTrailStatus {name}"),
                reason: e.to_string(),
                scope: ProblemScope::TrailConfig,
            }),
        }
    }
    for rec in get("GetEventSelectors") {
        let name = s(&rec.request, "TrailName").unwrap_or_default();
        if let Some(i) = find(&mut trails, name) {
            trails[i].selectors = Some(outcome(rec, event_selectors));
        }
    }
    trails
}

fn event_selectors(r: &Value) -> EventSelectors {
    if let Some(adv) = r.get("AdvancedEventSelectors").and_then(Value::as_array)
        && !adv.is_empty()
    {
        return EventSelectors::Advanced(
            adv.iter()
                .map(|a| AdvancedSelector {
                    name: s(a, "Name").map(str::to_owned),
                    field_selectors: a
                        .get("FieldSelectors")
                        .and_then(Value::as_array)
                        .map(|f| f.iter().map(field_selector).collect())
                        .unwrap_or_default(),
                })
                .collect(),
        );
    }
    EventSelectors::Basic(
        r.get("EventSelectors")
            .and_then(Value::as_array)
            .map(|sel| {
                sel.iter()
                    .map(|e| BasicSelector {
                        read_write_type: s(e, "ReadWriteType").unwrap_or("All").to_owned(),
                        include_management_events: e
                            .get("IncludeManagementEvents")
                            .and_then(Value::as_bool)
                            .unwrap_or(true),
                        exclude_management_event_sources: strings(
                            e,
                            "ExcludeManagementEventSources",
                        ),
                        data_resources: e
                            .get("DataResources")
                            .and_then(Value::as_array)
                            .map(|d| {
                                d.iter()
                                    .map(|d| DataResource {
                                        resource_type: s(d, "Type").unwrap_or_default().into(),
                                        values: strings(d, "Values"),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn field_selector(f: &Value) -> FieldSelector {
    FieldSelector {
        field: s(f, "Field").unwrap_or_default().to_owned(),
        equals: strings(f, "Equals"),
        starts_with: strings(f, "StartsWith"),
        ends_with: strings(f, "EndsWith"),
        not_equals: strings(f, "NotEquals"),
        not_starts_with: strings(f, "NotStartsWith"),
        not_ends_with: strings(f, "NotEndsWith"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(c: &RecordedCalls) -> Evidence {
        let mut e = Evidence::new(crate::model::Provenance {
            sources: vec![],
            account: None,
            region: None,
            captured_at: Utc::now(),
        });
        interpret(c, &mut e);
        e
    }

    fn calls(entries: &[(&str, &str, Value)]) -> RecordedCalls {
        let mut c = RecordedCalls::new();
        for (svc, op, rec) in entries {
            c.entry((svc.to_string(), op.to_string()))
                .or_default()
                .push(serde_json::from_value(rec.clone()).unwrap());
        }
        c
    }

    #[test]
    fn head_object_error_is_kept_per_object() {
        let c = calls(&[
            (
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k"},
                "Response": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:k",
                             "BucketKeyEnabled": true, "LastModified": "2026-11-20T10:00:00+00:00"}}),
            ),
            (
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k2"},
                "Error": {"Code": "AccessDenied", "Message": "Access Denied"}}),
            ),
        ]);
        let f = facts(&c);
        assert_eq!(f.heads.len(), 2);
        let ok = f.heads[0].outcome.as_ref().unwrap();
        assert_eq!(ok.sse.key_id(), Some("arn:k"));
        assert!(ok.bucket_key_enabled);
        assert_eq!(
            f.heads[1].outcome.as_ref().unwrap_err().code,
            "AccessDenied"
        );
    }

    #[test]
    fn listing_pages_join_and_truncation_is_incomplete() {
        let c = calls(&[
            (
                "s3",
                "ListObjectsV2",
                json!({"Request": {"Bucket": "b", "Prefix": "p/"},
                "Response": {"Contents": [{"Key": "p/1"}], "IsTruncated": true, "NextContinuationToken": "t"}}),
            ),
            (
                "s3",
                "ListObjectsV2",
                json!({"Request": {"Bucket": "b", "Prefix": "p/", "ContinuationToken": "t"},
                "Response": {"Contents": [{"Key": "p/2"}], "IsTruncated": false}}),
            ),
            (
                "s3",
                "ListObjectsV2",
                json!({"Request": {"Bucket": "b", "Prefix": "q/"},
                "Response": {"Contents": [{"Key": "q/1"}], "IsTruncated": true}}),
            ),
        ]);
        let f = facts(&c);
        assert_eq!(f.listings.len(), 2);
        assert!(f.listings[0].complete);
        assert_eq!(f.listings[0].outcome.as_ref().unwrap().len(), 2);
        assert!(!f.listings[1].complete);
    }

    #[test]
    fn describe_key_records_the_identifier_it_was_asked_with() {
        let meta = json!({"KeyMetadata": {"Arn": "arn:aws:kms:us-east-1:1:key/k1", "KeyId": "k1",
            "KeyManager": "CUSTOMER", "KeyState": "Enabled"}});
        let c = calls(&[
            (
                "kms",
                "DescribeKey",
                json!({"Request": {"KeyId": "alias/x"}, "Response": meta}),
            ),
            (
                "kms",
                "DescribeKey",
                json!({"Request": {"KeyId": "k1"}, "Response": meta}),
            ),
            (
                "kms",
                "GetKeyRotationStatus",
                json!({"Request": {"KeyId": "k1"}, "Response": {"KeyRotationEnabled": true}}),
            ),
        ]);
        let f = facts(&c);
        assert_eq!(f.keys.len(), 1);
        assert_eq!(f.keys[0].looked_up_as, vec!["alias/x", "k1"]);
        assert_eq!(f.keys[0].rotation_enabled, Some(true));
        assert!(
            f.aliases.is_none(),
            "no ListAliases recorded means aliases unknown"
        );
    }

    #[test]
    fn advanced_selectors_win_over_empty_basic_ones() {
        let c = calls(&[
            (
                "cloudtrail",
                "DescribeTrails",
                json!({"Request": {}, "Response": {"trailList": [{"Name": "t", "TrailARN": "arn:t"}]}}),
            ),
            (
                "cloudtrail",
                "GetEventSelectors",
                json!({"Request": {"TrailName": "arn:t"}, "Response": {
                "EventSelectors": [], "AdvancedEventSelectors": [{"Name": "d", "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]}]}]}}),
            ),
            (
                "cloudtrail",
                "GetTrailStatus",
                json!({"Request": {"Name": "t"}, "Response": {"IsLogging": true, "StartLoggingTime": 1.7e9}}),
            ),
        ]);
        let f = facts(&c);
        let t = &f.trails[0];
        assert_eq!(t.is_logging, Some(true));
        assert!(t.start_logging_time.is_some());
        match t.selectors.as_ref().unwrap().as_ref().unwrap() {
            EventSelectors::Advanced(a) => assert_eq!(a[0].field_selectors[0].equals, vec!["Data"]),
            other => panic!("expected advanced selectors, got {other:?}"),
        }
    }

    #[test]
    fn public_access_block_absent_means_nothing_blocked() {
        let all = json!({"PublicAccessBlockConfiguration": {"BlockPublicAcls": true,
            "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}});
        let mut partial = all.clone();
        partial["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = json!(false);
        let c = calls(&[
            (
                "s3",
                "GetPublicAccessBlock",
                json!({"Request": {"Bucket": "a"}, "Response": all}),
            ),
            (
                "s3",
                "GetPublicAccessBlock",
                json!({"Request": {"Bucket": "b"}, "Response": partial}),
            ),
            (
                "s3",
                "GetPublicAccessBlock",
                json!({"Request": {"Bucket": "c"},
                "Error": {"Code": "NoSuchPublicAccessBlockConfiguration", "Message": "none"}}),
            ),
            (
                "s3",
                "GetPublicAccessBlock",
                json!({"Request": {"Bucket": "d"},
                "Error": {"Code": "AccessDenied", "Message": "no"}}),
            ),
        ]);
        let f = facts(&c);
        let got = |b: &str| {
            f.buckets[b]
                .public_access_blocked
                .clone()
                .unwrap()
                .map_err(|e| e.code)
        };
        assert_eq!(got("a"), Ok(true));
        assert_eq!(got("b"), Ok(false));
        assert_eq!(got("c"), Ok(false));
        assert_eq!(got("d"), Err("AccessDenied".into()));
    }

    #[test]
    fn route_7_last_modified_as_http_date_is_read_and_garbage_is_unrecognised() {
        let head = |lm: Value| {
            let c = calls(&[(
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k"},
                "Response": {"ServerSideEncryption": "AES256", "LastModified": lm}}),
            )]);
            facts(&c).heads[0].outcome.clone().unwrap().last_modified
        };
        let want = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(head(json!("2026-11-20T10:00:00Z")), Reading::Read(want));
        assert_eq!(
            head(json!("Fri, 20 Nov 2026 10:00:00 GMT")),
            Reading::Read(want)
        );
        assert!(matches!(head(json!("yesterday")), Reading::Unrecognised(_)));
    }

    #[test]
    fn route_9_null_or_number_server_side_encryption_is_not_none() {
        for bad in [json!(null), json!(1)] {
            let c = calls(&[(
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k"},
                "Response": {"ServerSideEncryption": bad}}),
            )]);
            let sse = facts(&c).heads[0].outcome.clone().unwrap().sse;
            assert!(matches!(sse, Sse::Other { .. }), "{sse:?}");
        }
    }

    #[test]
    fn route_4_conflicting_answers_are_kept_as_conflicts_not_resolved_by_order() {
        let meta = |state: &str| {
            json!({"KeyMetadata": {"Arn": "arn:aws:kms:us-east-1:1:key/k1", "KeyId": "k1",
            "KeyManager": "CUSTOMER", "KeyState": state}})
        };
        let job = "j".repeat(64);
        let c = calls(&[
            (
                "kms",
                "DescribeKey",
                json!({"Request": {"KeyId": "k1"}, "Response": meta("Enabled")}),
            ),
            (
                "kms",
                "DescribeKey",
                json!({"Request": {"KeyId": "k1"}, "Response": meta("Disabled")}),
            ),
            (
                "textract",
                "GetDocumentAnalysis",
                json!({"Request": {"JobId": job}, "Response": {"JobStatus": "FAILED"}}),
            ),
            (
                "textract",
                "GetDocumentAnalysis",
                json!({"Request": {"JobId": job}, "Response": {"JobStatus": "SUCCEEDED"}}),
            ),
            (
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k"},
                "Response": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:k"}}),
            ),
            (
                "s3",
                "HeadObject",
                json!({"Request": {"Bucket": "b", "Key": "k"},
                "Response": {"ServerSideEncryption": "AES256"}}),
            ),
        ]);
        let f = facts(&c);
        assert_eq!(f.conflicts.len(), 3, "{:?}", f.conflicts);
        assert_eq!(f.keys[0].key_state, "UNKNOWN");
        assert_eq!(
            f.job_statuses[0].outcome.as_ref().unwrap_err().code,
            "ConflictingAnswers"
        );
        assert_eq!(f.heads.len(), 1);
        assert_eq!(
            f.heads[0].outcome.as_ref().unwrap_err().code,
            "ConflictingAnswers"
        );
    }

    #[test]
    fn sse_c_objects_are_sse_c_not_unencrypted() {
        let c = calls(&[(
            "s3",
            "HeadObject",
            json!({"Request": {"Bucket": "b", "Key": "k"},
            "Response": {"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": "x"}}),
        )]);
        assert_eq!(facts(&c).heads[0].outcome.as_ref().unwrap().sse, Sse::SseC);
    }

    #[test]
    fn unknown_operations_are_reported_not_dropped() {
        let c = calls(&[("s3", "GetObjectAcl", json!({"Request": {}, "Response": {}}))]);
        let f = facts(&c);
        assert_eq!(f.problems.len(), 1);
        assert!(f.problems[0].subject.contains("GetObjectAcl"));
    }
}
