//! Stage 2: raw evidence -> one ordered [`JobTimeline`] per Textract job.
//!
//! Correlation lives here and only here: which CloudTrail records, objects and KMS calls
//! belong to a job, which key each identifier means, and whether the trail could have
//! recorded what the rules need. The rules then judge the timeline without touching evidence.

pub mod keys;
pub mod selectors;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::model::rfc3339;
use crate::model::{
    ACCESS_CHECK_OBJECT, BucketSettings, CallError, DEFAULT_OUTPUT_PREFIX, Evidence,
    EvidenceProblem, EvidenceRef, HeadFacts, JobId, JobStatusFacts, KmsKey, ProblemScope, S3Object,
    Sse, TextractApi, TimeWindow, TrailEvent, bucket_arn, get_ci, job_output_prefix, str_ci,
};
pub use keys::ResolvedKey;
use selectors::EventShape;

const TEXTRACT: &str = "textract.amazonaws.com";

/// What the `Start*` call asked for, read from its CloudTrail record.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub api: TextractApi,
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub caller: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<S3Object>,
    /// `OutputConfig`; `None` when the job kept its results inside Textract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputLocation>,
    /// `KMSKeyId` resolved; `None` when none was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<ResolvedKey>,
    /// Further `Start*` records that returned the same job id (idempotent resubmissions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resubmissions: Vec<EvidenceRef>,
}

/// Where results go: `s3://{bucket}/{prefix}/{JobId}/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputLocation {
    pub bucket: String,
    /// The effective prefix (`textract_output` when the request named none).
    pub prefix: String,
    /// False when the prefix is Textract's default, or when the location was inferred from
    /// objects because the `Start*` record is missing.
    pub prefix_given: bool,
}

impl OutputLocation {
    /// The job's folder: `{prefix}/{JobId}/`.
    pub fn job_prefix(&self, job: &JobId) -> String {
        job_output_prefix(&self.prefix, job)
    }
}

/// The kind of object found in a job's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    /// `.s3_access_check`: Textract's write probe, not a result.
    AccessCheck,
    /// A numbered result page.
    ResultPage,
    /// Anything else (not written by Textract as far as anyone documents).
    Other,
}

/// One write of an output object (`PutObject`, `CopyObject`, `CreateMultipartUpload`).
#[derive(Debug, Clone, Serialize)]
pub struct Write {
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub operation: String,
    pub actor: String,
    /// Made by Textract (`invokedBy`/`sourceIPAddress`/`userAgent` is textract.amazonaws.com).
    pub by_textract: bool,
    /// The encryption S3 applied, from the response (the request when the response is silent).
    pub sse: Sse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<ResolvedKey>,
    /// `additionalEventData.SSEApplied`: who chose the mode (`SSE_KMS` vs `Default_SSE_KMS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_applied: Option<String>,
    /// The encryption header the request itself carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_sse: Option<String>,
}

/// An object in the job's output folder, with everything known about it.
#[derive(Debug, Clone, Serialize)]
pub struct OutputObject {
    pub object: S3Object,
    pub kind: ObjectKind,
    /// Listed by `ListObjectsV2` at capture time.
    pub listed: bool,
    /// `HeadObject` at capture time; `None` when it was not collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<Result<HeadFacts, CallError>>,
    /// The key in the `HeadObject` answer, resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_key: Option<ResolvedKey>,
    pub writes: Vec<Write>,
    /// `DeleteObject`/`DeleteObjects` records naming this object.
    pub deletes: Vec<EvidenceRef>,
}

impl OutputObject {
    pub fn evidence(&self) -> EvidenceRef {
        let head = self.head.as_ref().and_then(|h| h.as_ref().ok());
        EvidenceRef::S3Object {
            uri: self.object.uri(),
            version_id: head.and_then(|h| h.version_id.clone()),
            etag: head.and_then(|h| h.etag.clone()),
        }
    }

    /// The first write Textract made.
    pub fn textract_write(&self) -> Option<&Write> {
        self.writes.iter().find(|w| w.by_textract)
    }
}

/// A KMS call tied to the job: by encryption context (object or bucket ARN, or the job id),
/// or made by Textract on the requested key in the job's window.
#[derive(Debug, Clone, Serialize)]
pub struct KmsUse {
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub operation: String,
    pub actor: String,
    pub key: Option<ResolvedKey>,
    /// What tied the call to the job: `object`, `bucket` (Bucket Keys) or `textract`.
    pub tie: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
}

/// Whether the trail could have recorded some kind of event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Logging {
    Logged { trail: String },
    NotLogged { reason: String },
    Unknown { reason: String },
}

/// What the CloudTrail evidence can and cannot speak to for this job.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// The window the CloudTrail evidence covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudtrail_window: Option<TimeWindow>,
    /// `Ok` when the job's window lies inside it, else why not.
    pub job_window: Result<TimeWindow, String>,
    /// S3 write data events for the output objects.
    pub data_events: Logging,
    /// KMS management events (`GenerateDataKey`, read-only).
    pub kms_events: Logging,
}

/// One row of the lifecycle table.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub evidence: EvidenceRef,
}

/// Everything known about one job, in time order.
#[derive(Debug, Clone, Serialize)]
pub struct JobTimeline {
    pub job_id: JobId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<TextractApi>,
    /// From the `Start*` record; `None` when it is not in the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// The output location: requested, or inferred from objects when `request` is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputLocation>,
    /// Textract's `Get*` answer; `None` when not collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Result<JobStatusFacts, CallError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_evidence: Option<EvidenceRef>,
    /// The output folder's listing: `Ok(complete)` or the error; `None` when not collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Result<bool, CallError>>,
    pub objects: Vec<OutputObject>,
    pub kms_uses: Vec<KmsUse>,
    /// Changes to the requested key's state (`DisableKey`, `ScheduleKeyDeletion`, …), from
    /// the job's start on; `tie` says whether they fell while the job ran.
    pub key_changes: Vec<KmsUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<BucketSettings>,
    /// What KMS said about the requested key (`DescribeKey`, rotation, policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KmsKey>,
    pub coverage: Coverage,
    /// Evidence that could not be used and may bear on this job.
    pub problems: Vec<EvidenceProblem>,
    pub entries: Vec<Entry>,
    pub captured_at: DateTime<Utc>,
}

/// Every job id the evidence mentions: `Start*` responses, `Get*` requests, job statuses.
pub fn discover_jobs(evidence: &Evidence) -> Vec<JobId> {
    let mut ids = BTreeSet::new();
    for ev in evidence
        .events
        .iter()
        .filter(|e| e.event_source == TEXTRACT && !e.failed())
    {
        if TextractApi::from_start_operation(&ev.event_name).is_some() {
            ids.extend(str_ci(&ev.response_elements, "jobId").map(|j| JobId(j.into())));
        } else if TextractApi::from_get_operation(&ev.event_name).is_some() {
            ids.extend(str_ci(&ev.request_parameters, "jobId").map(|j| JobId(j.into())));
        }
    }
    ids.extend(evidence.job_statuses.iter().map(|s| s.job_id.clone()));
    ids.into_iter().collect()
}

/// The output buckets the jobs' `Start*` records name (to find Bucket Key KMS calls, whose
/// encryption context is the bucket, not an object).
pub fn output_buckets(evidence: &Evidence, jobs: &[JobId]) -> Vec<String> {
    let buckets: BTreeSet<String> = jobs
        .iter()
        .filter_map(|j| match start_events(evidence, j).first() {
            Some(start) => {
                str_ci(&start.request_parameters, "outputConfig/s3Bucket").map(str::to_owned)
            }
            None => infer_output(evidence, j).map(|o| o.bucket),
        })
        .collect();
    buckets.into_iter().collect()
}

/// The jobs whose `Start*` record falls in `window` (what `audit` verifies).
pub fn jobs_started_in(evidence: &Evidence, window: &TimeWindow) -> Vec<JobId> {
    let ids: BTreeSet<JobId> = evidence
        .events
        .iter()
        .filter(|e| {
            e.event_source == TEXTRACT
                && !e.failed()
                && TextractApi::from_start_operation(&e.event_name).is_some()
                && window.contains(e.event_time)
        })
        .filter_map(|e| str_ci(&e.response_elements, "jobId").map(|j| JobId(j.into())))
        .collect();
    ids.into_iter().collect()
}

/// The Region of the job's `Start*` record, if the evidence has it.
pub fn start_region(evidence: &Evidence, job: &JobId) -> Option<String> {
    start_events(evidence, job)
        .first()
        .map(|e| e.aws_region.clone())
}

/// The successful `Start*` records that returned this job id, oldest first (several after an
/// idempotent resubmission): the one Start lookup, also what the gathering rounds follow.
pub fn start_events<'a>(evidence: &'a Evidence, job: &JobId) -> Vec<&'a TrailEvent> {
    evidence
        .events
        .iter()
        .filter(|e| {
            e.event_source == TEXTRACT
                && !e.failed()
                && TextractApi::from_start_operation(&e.event_name).is_some()
                && str_ci(&e.response_elements, "jobId") == Some(job.0.as_str())
        })
        .collect()
}

/// Builds the timeline of one job.
pub fn build(evidence: &Evidence, job: &JobId) -> JobTimeline {
    let starts = start_events(evidence, job);
    let request = starts
        .first()
        .map(|s| read_request(evidence, s, &starts[1..]));
    let status = evidence.job_statuses.iter().find(|s| &s.job_id == job);
    let api = request.as_ref().map(|r| r.api).or(status.map(|s| s.api));
    let output = match &request {
        Some(r) => r.output.clone(),
        None => infer_output(evidence, job),
    };

    let mut t = JobTimeline {
        job_id: job.clone(),
        api,
        status: status.map(|s| s.outcome.clone()),
        status_evidence: status.map(|s| EvidenceRef::ApiCall {
            operation: format!("textract:{}", s.api.get_operation()),
            subject: job.0.clone(),
        }),
        output,
        listing: None,
        objects: Vec::new(),
        kms_uses: Vec::new(),
        key_changes: Vec::new(),
        bucket: None,
        key: None,
        coverage: Coverage {
            cloudtrail_window: evidence.cloudtrail_window,
            job_window: Err(String::new()),
            data_events: Logging::Unknown {
                reason: String::new(),
            },
            kms_events: Logging::Unknown {
                reason: String::new(),
            },
        },
        problems: Vec::new(),
        entries: Vec::new(),
        captured_at: evidence.provenance.captured_at,
        request,
    };
    if let Some(out) = t.output.clone() {
        collect_objects(evidence, &mut t, &out);
        t.bucket = evidence.buckets.get(&out.bucket).cloned();
    }
    t.key = t
        .request
        .as_ref()
        .and_then(|r| r.kms_key.as_ref())
        .and_then(|k| k.arn())
        .and_then(|arn| evidence.keys.iter().find(|k| k.arn == arn))
        .cloned();
    collect_kms(evidence, &mut t);
    let window = job_window(evidence, &t);
    t.problems = relevant_problems(evidence, &t, &window);
    t.entries = entries(evidence, &t);
    t.coverage = coverage(evidence, &t, window);
    t
}

/// The caller's region and account, for resolving key ids and aliases.
fn caller_context(ev: &TrailEvent) -> (String, Option<String>) {
    let account = ev
        .recipient_account_id
        .clone()
        .or_else(|| str_ci(&ev.user_identity, "accountId").map(str::to_owned));
    (ev.aws_region.clone(), account)
}

fn read_request(evidence: &Evidence, start: &TrailEvent, again: &[&TrailEvent]) -> Request {
    let p = &start.request_parameters;
    let (region, account) = caller_context(start);
    let document = get_ci(p, "documentLocation/s3Object").and_then(|o| {
        Some(S3Object {
            bucket: str_ci(o, "bucket")?.to_owned(),
            key: str_ci(o, "name")?.to_owned(),
            version_id: str_ci(o, "version").map(str::to_owned),
        })
    });
    let output = get_ci(p, "outputConfig").and_then(|o| {
        let bucket = str_ci(o, "s3Bucket")?.to_owned();
        let given = str_ci(o, "s3Prefix").filter(|s| !s.is_empty());
        Some(OutputLocation {
            bucket,
            prefix: given.unwrap_or(DEFAULT_OUTPUT_PREFIX).to_owned(),
            prefix_given: given.is_some(),
        })
    });
    let kms_key = str_ci(p, "kMSKeyId")
        .filter(|k| !k.is_empty())
        .map(|k| keys::resolve(evidence, k, Some(&region), account.as_deref()));
    Request {
        api: TextractApi::from_start_operation(&start.event_name).expect("filtered on Start*"),
        event: start.evidence(),
        time: start.event_time,
        caller: start.actor(),
        region,
        account,
        document,
        output,
        kms_key,
        resubmissions: again.iter().map(|e| e.evidence()).collect(),
    }
}

/// Without the `Start*` record, the output folder can still be found from objects whose key
/// holds `/{JobId}/`: listings, heads, or S3 data events.
fn infer_output(evidence: &Evidence, job: &JobId) -> Option<OutputLocation> {
    let needle = format!("/{job}/");
    let from_key = |bucket: &str, key: &str| {
        let at = key
            .find(&needle)
            .or_else(|| key.starts_with(&needle[1..]).then_some(0))?;
        Some(OutputLocation {
            bucket: bucket.to_owned(),
            prefix: key[..at].to_owned(),
            prefix_given: false,
        })
    };
    evidence
        .listings
        .iter()
        .find_map(|l| from_key(&l.bucket, &l.prefix))
        .or_else(|| {
            evidence
                .heads
                .iter()
                .find_map(|h| from_key(&h.object.bucket, &h.object.key))
        })
        .or_else(|| {
            evidence.events.iter().find_map(|e| {
                let (b, k) = s3_target(e)?;
                from_key(b, k)
            })
        })
}

/// `(bucket, key)` of an S3 object-level record.
fn s3_target(e: &TrailEvent) -> Option<(&str, &str)> {
    if e.event_source != "s3.amazonaws.com" {
        return None;
    }
    Some((
        str_ci(&e.request_parameters, "bucketName")?,
        str_ci(&e.request_parameters, "key")?,
    ))
}

/// Keys a `DeleteObjects` record names (`delete.Object[].Key`), else its object resources.
fn deleted_keys(e: &TrailEvent, bucket: &str) -> Vec<String> {
    let from_body = get_ci(&e.request_parameters, "delete/Object").map(|o| match o {
        Value::Array(list) => list
            .iter()
            .filter_map(|x| str_ci(x, "Key"))
            .map(str::to_owned)
            .collect(),
        single => str_ci(single, "Key")
            .map(str::to_owned)
            .into_iter()
            .collect(),
    });
    from_body.unwrap_or_else(|| {
        let prefix = format!("{}/", bucket_arn(bucket));
        e.resource_arns("AWS::S3::Object")
            .filter_map(|a| a.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    })
}

fn by_textract(e: &TrailEvent) -> bool {
    e.invoked_by() == Some(TEXTRACT)
        || e.source_ip_address.as_deref() == Some(TEXTRACT)
        || e.user_agent.as_deref() == Some(TEXTRACT)
}

fn kind_of(key: &str, job_prefix: &str) -> ObjectKind {
    match key.strip_prefix(job_prefix) {
        Some(ACCESS_CHECK_OBJECT) => ObjectKind::AccessCheck,
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            ObjectKind::ResultPage
        }
        _ => ObjectKind::Other,
    }
}

fn collect_objects(evidence: &Evidence, t: &mut JobTimeline, out: &OutputLocation) {
    let prefix = out.job_prefix(&t.job_id);
    let (region, account) = t
        .request
        .as_ref()
        .map(|r| (Some(r.region.clone()), r.account.clone()))
        .unwrap_or((
            evidence.provenance.region.clone(),
            evidence.provenance.account.clone(),
        ));
    let resolve = |k: &str| keys::resolve(evidence, k, region.as_deref(), account.as_deref());
    let mut objects: BTreeMap<String, OutputObject> = BTreeMap::new();

    // The listing that covers the job folder: its own prefix, or a parent prefix.
    let listing = evidence
        .listings
        .iter()
        .filter(|l| l.bucket == out.bucket && prefix.starts_with(&l.prefix))
        .max_by_key(|l| l.prefix.len());
    if let Some(l) = listing {
        t.listing = Some(l.outcome.as_ref().map(|_| l.complete).map_err(Clone::clone));
        if let Ok(list) = &l.outcome {
            for o in list.iter().filter(|o| o.key.starts_with(&prefix)) {
                entry(&mut objects, &out.bucket, &o.key, &prefix).listed = true;
            }
        }
    }
    for h in evidence
        .heads
        .iter()
        .filter(|h| h.object.bucket == out.bucket && h.object.key.starts_with(&prefix))
    {
        let o = entry(&mut objects, &out.bucket, &h.object.key, &prefix);
        o.head_key = h
            .outcome
            .as_ref()
            .ok()
            .and_then(|f| f.sse.key_id())
            .map(&resolve);
        o.head = Some(h.outcome.clone());
    }
    for e in &evidence.events {
        if e.event_source != "s3.amazonaws.com" || e.failed() {
            continue;
        }
        if matches!(e.event_name.as_str(), "DeleteObject" | "DeleteObjects") {
            let Some(bucket) = str_ci(&e.request_parameters, "bucketName") else {
                continue;
            };
            if bucket != out.bucket {
                continue;
            }
            for k in deleted_keys(e, bucket)
                .iter()
                .filter(|k| k.starts_with(&prefix))
            {
                entry(&mut objects, &out.bucket, k, &prefix)
                    .deletes
                    .push(e.evidence());
            }
            continue;
        }
        let Some((bucket, key)) = s3_target(e) else {
            continue;
        };
        if bucket != out.bucket || !key.starts_with(&prefix) {
            continue;
        }
        if !matches!(
            e.event_name.as_str(),
            "PutObject" | "CopyObject" | "CreateMultipartUpload"
        ) {
            entry(&mut objects, &out.bucket, key, &prefix);
            continue;
        }
        let header = |v: &Value, name: &str| str_ci(v, name).map(str::to_owned);
        let sse_value = header(&e.response_elements, "x-amz-server-side-encryption")
            .or_else(|| header(&e.request_parameters, "x-amz-server-side-encryption"));
        let key_id = header(
            &e.response_elements,
            "x-amz-server-side-encryption-aws-kms-key-id",
        )
        .or_else(|| {
            header(
                &e.request_parameters,
                "x-amz-server-side-encryption-aws-kms-key-id",
            )
        });
        let sse = Sse::from_header(sse_value.as_deref(), key_id.as_deref());
        let write = Write {
            event: e.evidence(),
            time: e.event_time,
            operation: e.event_name.clone(),
            actor: e.actor(),
            by_textract: by_textract(e),
            key: sse.key_id().map(&resolve),
            sse,
            sse_applied: str_ci(&e.additional_event_data, "SSEApplied").map(str::to_owned),
            requested_sse: header(&e.request_parameters, "x-amz-server-side-encryption"),
        };
        entry(&mut objects, &out.bucket, key, &prefix)
            .writes
            .push(write);
    }
    t.objects = objects.into_values().collect();
}

fn entry<'a>(
    objects: &'a mut BTreeMap<String, OutputObject>,
    bucket: &str,
    key: &str,
    prefix: &str,
) -> &'a mut OutputObject {
    objects
        .entry(key.to_owned())
        .or_insert_with(|| OutputObject {
            object: S3Object {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: None,
            },
            kind: kind_of(key, prefix),
            listed: false,
            head: None,
            head_key: None,
            writes: Vec::new(),
            deletes: Vec::new(),
        })
}

/// The time range the job's own activity spans: from the `Start*` call (or its first event)
/// to its last write (or the last thing Textract did), at least the start.
fn job_span(t: &JobTimeline) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut times: Vec<DateTime<Utc>> = t.request.iter().map(|r| r.time).collect();
    times.extend(
        t.objects
            .iter()
            .flat_map(|o| o.writes.iter().filter(|w| w.by_textract).map(|w| w.time)),
    );
    times.extend(
        t.kms_uses
            .iter()
            .filter(|k| k.tie != "bucket")
            .map(|k| k.time),
    );
    let from = t
        .request
        .as_ref()
        .map(|r| r.time)
        .or(times.iter().min().copied())?;
    let until = times.into_iter().max().unwrap_or(from).max(from);
    Some((from, until))
}

/// KMS calls that change a key's state.
const KEY_STATE_CHANGES: [&str; 4] = [
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
];
/// `KmsUse::tie` of a key state change made while the job ran.
pub const KEY_CHANGE_DURING_JOB: &str = "key state, during the job";
/// `KmsUse::tie` of a key state change made after the job.
pub const KEY_CHANGE_LATER: &str = "key state, after the job";

fn collect_kms(evidence: &Evidence, t: &mut JobTimeline) {
    let object_arns: BTreeMap<String, String> = t
        .objects
        .iter()
        .map(|o| (o.object.arn(), o.object.key.clone()))
        .collect();
    let bucket = t.output.as_ref().map(|o| bucket_arn(&o.bucket));
    let requested = t
        .request
        .as_ref()
        .and_then(|r| r.kms_key.as_ref())
        .and_then(|k| k.arn().map(str::to_owned));
    // Bucket-level (Bucket Key) and Textract-made calls carry no object: they are tied to the
    // job by time, from its start to a few minutes after its last write.
    let span = job_span(t).map(|(f, u)| TimeWindow {
        from: f,
        until: u + Duration::minutes(5),
    });
    let (region, account) = t
        .request
        .as_ref()
        .map(|r| (Some(r.region.clone()), r.account.clone()))
        .unwrap_or((
            evidence.provenance.region.clone(),
            evidence.provenance.account.clone(),
        ));
    for e in evidence
        .events
        .iter()
        .filter(|e| e.event_source == "kms.amazonaws.com" && !e.failed())
    {
        let context = get_ci(&e.request_parameters, "encryptionContext");
        let s3_arn = context.and_then(|c| str_ci(c, "aws:s3:arn"));
        let key = str_ci(&e.request_parameters, "keyId")
            .or_else(|| e.resource_arns("AWS::KMS::Key").next())
            .map(|k| keys::resolve(evidence, k, region.as_deref(), account.as_deref()));
        let in_span = span.is_some_and(|w| w.contains(e.event_time));
        if KEY_STATE_CHANGES.contains(&e.event_name.as_str()) {
            let on_requested =
                requested.is_some() && key.as_ref().and_then(|k| k.arn()) == requested.as_deref();
            let after_start = span.is_some_and(|w| e.event_time >= w.from);
            if on_requested && after_start {
                t.key_changes.push(KmsUse {
                    event: e.evidence(),
                    time: e.event_time,
                    operation: e.event_name.clone(),
                    actor: e.actor(),
                    key,
                    tie: if in_span {
                        KEY_CHANGE_DURING_JOB
                    } else {
                        KEY_CHANGE_LATER
                    },
                    object_key: None,
                });
            }
            continue;
        }
        let mentions_job = context.and_then(Value::as_object).is_some_and(|c| {
            c.values()
                .any(|v| v.as_str().is_some_and(|s| s.contains(&t.job_id.0)))
        });
        let (tie, object_key) = if let Some(k) = s3_arn.and_then(|a| object_arns.get(a)) {
            ("object", Some(k.clone()))
        } else if s3_arn.is_some() && s3_arn == bucket.as_deref() && in_span {
            ("bucket", None)
        } else if s3_arn.is_none()
            && (mentions_job
                || (by_textract(e)
                    && in_span
                    && requested.is_some()
                    && key.as_ref().and_then(|k| k.arn()) == requested.as_deref()))
        {
            ("textract", None)
        } else {
            continue;
        };
        t.kms_uses.push(KmsUse {
            event: e.evidence(),
            time: e.event_time,
            operation: e.event_name.clone(),
            actor: e.actor(),
            key,
            tie,
            object_key,
        });
    }
}

/// The job's window and whether the CloudTrail evidence covers it.
fn job_window(evidence: &Evidence, t: &JobTimeline) -> Result<TimeWindow, String> {
    let Some((from, until)) = job_span(t) else {
        return Err(
            "no record of the job's start or of any write it made: its time is unknown".into(),
        );
    };
    let job = TimeWindow { from, until };
    match evidence.cloudtrail_window {
        None => {
            Err("the evidence does not state which time range its CloudTrail records cover".into())
        }
        Some(w) if w.contains(from) && w.contains(until) => Ok(job),
        Some(w) => Err(format!(
            "the job ran {} to {}, the CloudTrail evidence covers {} to {}",
            rfc3339(from),
            rfc3339(until),
            rfc3339(w.from),
            rfc3339(w.until)
        )),
    }
}

fn coverage(evidence: &Evidence, t: &JobTimeline, window: Result<TimeWindow, String>) -> Coverage {
    let region = t
        .request
        .as_ref()
        .map(|r| r.region.clone())
        .or(evidence.provenance.region.clone());
    let start = window.as_ref().ok().map(|w| w.from);
    let data_events = match &t.output {
        None => Logging::NotLogged {
            reason: "no output bucket: no S3 data events to expect".into(),
        },
        Some(out) => data_event_logging(
            evidence,
            region.as_deref(),
            start,
            &out.bucket,
            &out.job_prefix(&t.job_id),
        ),
    };
    Coverage {
        cloudtrail_window: evidence.cloudtrail_window,
        job_window: window,
        data_events,
        kms_events: kms_event_logging(evidence, region.as_deref(), start),
    }
}

/// Whether a trail in the evidence records the S3 write data events of results under
/// `s3://{bucket}/{folder}` for a job in `region` started at `start` (also asked before a job
/// exists, by `submit`'s preflight).
pub fn data_event_logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    bucket: &str,
    folder: &str,
) -> Logging {
    // A representative result object: the question is whether writes there are logged.
    let arn = format!("{}/{folder}1", bucket_arn(bucket));
    trail_logs(
        evidence,
        region,
        start,
        &EventShape {
            category: "Data",
            event_source: "s3.amazonaws.com",
            event_name: "PutObject",
            read_only: false,
            resource: Some(("AWS::S3::Object", &arn)),
        },
        &format!("S3 write data events for s3://{bucket}/{folder}"),
    )
}

/// Whether a trail in the evidence records KMS management events (`GenerateDataKey`) in
/// `region` from `start`.
pub fn kms_event_logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
) -> Logging {
    trail_logs(
        evidence,
        region,
        start,
        &EventShape {
            category: "Management",
            event_source: "kms.amazonaws.com",
            event_name: "GenerateDataKey",
            read_only: true,
            resource: None,
        },
        "KMS management events",
    )
}

/// Whether some trail that was logging at `start` in `region` records `shape`.
fn trail_logs(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    shape: &EventShape,
    what: &str,
) -> Logging {
    if evidence.trails.is_empty() {
        return Logging::Unknown {
            reason: format!(
                "no trail configuration in the evidence, so whether {what} were logged is unknown"
            ),
        };
    }
    let mut unknown = Vec::new();
    let mut not = Vec::new();
    for trail in &evidence.trails {
        let name = trail.arn.clone().unwrap_or_else(|| trail.name.clone());
        let in_region = trail.is_multi_region
            || region.is_none()
            || trail
                .home_region
                .as_deref()
                .is_none_or(|h| Some(h) == region);
        if !in_region {
            not.push(format!("{name} is a single-Region trail elsewhere"));
            continue;
        }
        match trail.is_logging {
            Some(false) => {
                not.push(format!("{name} is not logging"));
                continue;
            }
            None => {
                unknown.push(format!("{name}: logging status not collected"));
                continue;
            }
            Some(true) => {}
        }
        if let (Some(since), Some(start)) = (trail.start_logging_time, start)
            && since > start
        {
            not.push(format!(
                "{name} started logging at {}, after the job started",
                rfc3339(since)
            ));
            continue;
        }
        match &trail.selectors {
            None => unknown.push(format!("{name}: event selectors not collected")),
            Some(Err(e)) => unknown.push(format!("{name}: GetEventSelectors failed ({e})")),
            Some(Ok(sel)) if selectors::logs(sel, shape) => return Logging::Logged { trail: name },
            Some(Ok(_)) => not.push(format!("{name}'s event selectors do not select them")),
        }
    }
    if !unknown.is_empty() {
        Logging::Unknown {
            reason: format!(
                "whether {what} were logged is unknown: {}",
                unknown.join("; ")
            ),
        }
    } else {
        Logging::NotLogged {
            reason: format!("{what} were not logged: {}", not.join("; ")),
        }
    }
}

/// Problems that may hide evidence about this job.
fn relevant_problems(
    evidence: &Evidence,
    t: &JobTimeline,
    window: &Result<TimeWindow, String>,
) -> Vec<EvidenceProblem> {
    let kms_involved = t.request.as_ref().is_some_and(|r| r.kms_key.is_some())
        || t.objects.iter().any(|o| o.head_key.is_some());
    evidence
        .problems
        .iter()
        .filter(|p| match &p.scope {
            ProblemScope::CloudTrail { from, until } => match window {
                // Widened for late delivery: a file named after the job may still hold it.
                Ok(w) => TimeWindow {
                    from: w.from - Duration::minutes(15),
                    until: w.until + Duration::minutes(15),
                }
                .overlaps(*from, *until),
                Err(_) => true,
            },
            ProblemScope::S3 { bucket } => match (&t.output, bucket) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(o), Some(b)) => &o.bucket == b,
            },
            ProblemScope::Kms => kms_involved,
            ProblemScope::Textract | ProblemScope::TrailConfig => true,
            ProblemScope::Unrelated => false,
        })
        .cloned()
        .collect()
}

fn enc_label(sse: &Sse, key: Option<&ResolvedKey>, bucket_key: bool) -> (String, Option<String>) {
    let mut label = sse.label();
    if bucket_key {
        label.push_str(" +BucketKey");
    }
    (label, key.map(ResolvedKey::label))
}

fn entries(evidence: &Evidence, t: &JobTimeline) -> Vec<Entry> {
    let mut out = Vec::new();
    if let Some(r) = &t.request {
        out.push(Entry {
            time: Some(r.time),
            actor: r.caller.clone(),
            action: r.api.start_operation().to_owned(),
            object: r.document.as_ref().map(S3Object::uri),
            encryption: None,
            key: r.kms_key.as_ref().map(|k| k.given.clone()),
            evidence: r.event.clone(),
        });
        for again in &r.resubmissions {
            let time = evidence
                .events
                .iter()
                .find(|e| &e.evidence() == again)
                .map(|e| e.event_time);
            out.push(Entry {
                time,
                actor: r.caller.clone(),
                action: "Start* again (same job id returned)".into(),
                object: None,
                encryption: None,
                key: None,
                evidence: again.clone(),
            });
        }
        // Textract reading the input document.
        if let Some(doc) = &r.document {
            for e in evidence.events.iter().filter(|e| {
                s3_target(e) == Some((doc.bucket.as_str(), doc.key.as_str()))
                    && e.event_time >= r.time
                    && job_span(t)
                        .is_some_and(|(_, until)| e.event_time <= until + Duration::minutes(5))
            }) {
                out.push(Entry {
                    time: Some(e.event_time),
                    actor: actor_label(e),
                    action: format!("{} (input)", e.event_name),
                    object: Some(doc.uri()),
                    encryption: None,
                    key: None,
                    evidence: e.evidence(),
                });
            }
        }
    }
    let prefix_events: Vec<&TrailEvent> = match &t.output {
        Some(o) => {
            let prefix = o.job_prefix(&t.job_id);
            evidence
                .events
                .iter()
                .filter(|e| {
                    s3_target(e).is_some_and(|(b, k)| b == o.bucket && k.starts_with(&prefix))
                        || (matches!(e.event_name.as_str(), "DeleteObject" | "DeleteObjects")
                            && deleted_keys(e, &o.bucket)
                                .iter()
                                .any(|k| k.starts_with(&prefix)))
                })
                .collect()
        }
        None => Vec::new(),
    };
    let writes: BTreeMap<&EvidenceRef, &Write> = t
        .objects
        .iter()
        .flat_map(|o| &o.writes)
        .map(|w| (&w.event, w))
        .collect();
    for e in prefix_events {
        let ev = e.evidence();
        let write = writes.get(&ev).copied();
        let (encryption, key) = match write {
            Some(w) => {
                let bk = str_ci(
                    &e.response_elements,
                    "x-amz-server-side-encryption-bucket-key-enabled",
                )
                .is_some_and(|v| v == "true")
                    || get_ci(
                        &e.response_elements,
                        "x-amz-server-side-encryption-bucket-key-enabled",
                    )
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let (mut l, k) = enc_label(&w.sse, w.key.as_ref(), bk);
                if let Some(a) = &w.sse_applied {
                    l = format!("{l} ({a})");
                }
                (Some(l), k)
            }
            None => (None, None),
        };
        out.push(Entry {
            time: Some(e.event_time),
            actor: actor_label(e),
            action: e.event_name.clone(),
            object: str_ci(&e.request_parameters, "key").map(str::to_owned),
            encryption,
            key,
            evidence: ev,
        });
    }
    for k in t.kms_uses.iter().chain(&t.key_changes) {
        out.push(Entry {
            time: Some(k.time),
            actor: k.actor.clone(),
            action: format!("kms:{} ({})", k.operation, k.tie),
            object: k.object_key.clone(),
            encryption: None,
            key: k.key.as_ref().map(ResolvedKey::label),
            evidence: k.event.clone(),
        });
    }
    for e in evidence.events.iter().filter(|e| {
        e.event_source == TEXTRACT
            && TextractApi::from_get_operation(&e.event_name).is_some()
            && str_ci(&e.request_parameters, "jobId") == Some(t.job_id.0.as_str())
    }) {
        out.push(Entry {
            time: Some(e.event_time),
            actor: e.actor(),
            action: e.event_name.clone(),
            object: None,
            encryption: None,
            key: None,
            evidence: e.evidence(),
        });
    }
    if let (Some(status), Some(ev)) = (&t.status, &t.status_evidence) {
        out.push(Entry {
            time: Some(t.captured_at),
            actor: "textract-audit".into(),
            action: match status {
                Ok(s) => format!("job status {} (at capture)", s.status),
                Err(e) => format!("job status unavailable: {}", e.code),
            },
            object: None,
            encryption: None,
            key: None,
            evidence: ev.clone(),
        });
    }
    for o in &t.objects {
        let Some(head) = &o.head else { continue };
        let (encryption, key) = match head {
            Ok(h) => {
                let (l, k) = enc_label(&h.sse, o.head_key.as_ref(), h.bucket_key_enabled);
                (Some(l), k)
            }
            Err(e) => (Some(format!("HeadObject failed: {}", e.code)), None),
        };
        out.push(Entry {
            time: Some(t.captured_at),
            actor: "textract-audit".into(),
            action: "HeadObject (stored state)".into(),
            object: Some(o.object.key.clone()),
            encryption,
            key,
            evidence: o.evidence(),
        });
    }
    out.sort_by_key(|a| a.time);
    out
}

/// `userIdentity` with the service that acted on its behalf, when one did.
fn actor_label(e: &TrailEvent) -> String {
    match e.invoked_by() {
        Some(by) => format!("{} via {by}", e.actor()),
        None if by_textract(e) => format!("{} via {TEXTRACT}", e.actor()),
        None => e.actor(),
    }
}
