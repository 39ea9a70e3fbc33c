//! Stage 2: evidence -> one ordered [`JobTimeline`] per Textract job.
//!
//! Correlation lives here and only here: which facts belong to a job and which key each
//! identifier means. Records are decoded once into facts and indexed ([`Index`]); a job's
//! timeline is built from lookups by exact identity (job id, `(bucket, key)`, exact encryption
//! context, key ARN), never by substring, time alone or a client-set field. Whether the trail
//! could have recorded what the rules need is not decided here: the timeline asks
//! [`crate::coverage`] and carries its answer. The rules then judge the timeline without
//! touching evidence.

pub mod keys;
pub(crate) mod problems;
mod reads;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::access::observed::ReadEvent;
use crate::access::readers_allowed::ReadCoverage;
use crate::coverage::{self, Coverage, Logging};
use crate::facts::{self, Context, Fact, Index, InvokedBy, S3Op, SseApplied};
use crate::model::{
    ACCESS_CHECK_OBJECT, BucketSettings, CallError, Conflict, ConflictAbout, DEFAULT_OUTPUT_PREFIX,
    Evidence, EvidenceProblem, EvidenceRef, HeadFacts, JobId, JobStatusFacts, KmsKey, Reading,
    S3Object, Sse, TextractApi, TimeWindow, TrailEvent, is_key_state_change, job_output_prefix,
    partition_of_region, str_ci,
};
pub use keys::ResolvedKey;
use problems::ProblemIndex;

/// What the `Start*` call asked for, read from its CloudTrail record.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub api: TextractApi,
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub caller: String,
    /// `userIdentity.arn` of the caller: whose writes are Textract's for this job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
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
    /// `JobTag`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_tag: Option<String>,
}

impl Request {
    /// The partition the job ran in, from its Region.
    pub fn partition(&self) -> &'static str {
        partition_of_region(&self.region)
    }
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
    /// A result object: a numbered page, or one of the lending layout's folders
    /// (`detailedResponse/`, `summaryResponse/`, `splitDocuments/`).
    ResultPage,
    /// Anything else in the folder: still an object whose encryption must match the table.
    Other,
}

/// Who made a write, as far as the evidence proves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "writer", content = "reason", rename_all = "kebab-case")]
pub enum Writer {
    /// `invokedBy` names Textract and the principal is the job's `Start*` caller.
    Textract,
    /// Someone else: a principal writing directly, or Textract for another principal.
    Other(String),
    /// A form this tool cannot judge (another service, no principal, no `Start*` record).
    Unknown(String),
}

/// One write of an output object (`PutObject`, `CopyObject`, `CreateMultipartUpload`).
#[derive(Debug, Clone, Serialize)]
pub struct Write {
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub operation: String,
    pub actor: String,
    pub writer: Writer,
    /// The encryption S3 applied, from the response (the request when the response is silent).
    pub sse: Sse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<ResolvedKey>,
    /// `additionalEventData.SSEApplied`: who chose the mode (`SSE_KMS` vs `Default_SSE_KMS`).
    pub sse_applied: Reading<SseApplied>,
    /// The encryption header the request itself carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_sse: Option<String>,
    pub bucket_key: bool,
}

impl Write {
    pub fn by_textract(&self) -> bool {
        self.writer == Writer::Textract
    }
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
        self.writes.iter().find(|w| w.by_textract())
    }
}

/// What tied a KMS call to the job.
pub const TIE_OBJECT: &str = "object";
/// A Bucket Key call on the output bucket inside the job's window: corroboration only, it
/// may be another job's.
pub const TIE_BUCKET: &str = "bucket";
/// An encryption context member exactly equal to the job id.
pub const TIE_JOB: &str = "textract";

/// A KMS call tied to the job: by exact encryption context (the object's ARN or the job
/// id), or a Bucket Key call on the output bucket in the job's window.
#[derive(Debug, Clone, Serialize)]
pub struct KmsUse {
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub operation: String,
    pub actor: String,
    pub key: Option<ResolvedKey>,
    /// What tied the call to the job: [`TIE_OBJECT`], [`TIE_BUCKET`] or [`TIE_JOB`].
    pub tie: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
}

/// What a lifecycle row records, for renderers that group rows (the HTML timeline chart).
/// Not in the JSON report: pipelines read the action itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// The `Start*` call (and any repeat returning the same job id).
    Start,
    /// Textract reading the input document.
    InputRead,
    /// An S3 write to the job's output folder, by Textract for this job or by anyone else.
    Write { by_textract: bool },
    /// A delete in the job's output folder.
    Delete,
    /// Any other object-level call in the output folder (`GetObject`, `HeadObject`, …).
    Read,
    /// A KMS call tied to the job, or a change to the requested key's state.
    Kms,
    /// A Textract `Get*` call naming the job.
    Poll,
    /// What this tool read at capture time (the job's status, the objects' stored state).
    Capture,
}

/// Who made a lifecycle row's call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Actor {
    /// The identity the record names ([`TrailEvent::actor`]), and the service that called on
    /// its behalf (`userIdentity.invokedBy`, verbatim), when one did.
    Principal { name: String, via: Option<String> },
    /// This tool, reading at capture time.
    Capture,
}

/// What a lifecycle row's call was, in AWS's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", content = "of", rename_all = "kebab-case")]
pub enum Action {
    /// The `Start*` call.
    Start(TextractApi),
    /// A further `Start*` record that returned the same job id.
    StartAgain,
    /// Textract reading the job's input document: the record's event name.
    InputRead(String),
    /// Any other recorded call (an S3 call in the output folder, a `Get*`): its event name.
    Call(String),
    /// A KMS call or key state change, and what tied it to the job ([`KmsUse::tie`]).
    Kms {
        operation: String,
        tie: &'static str,
    },
    /// The job's status as this tool read it at capture.
    Status(String),
    /// The job's status could not be read at capture: the error code.
    StatusUnavailable(String),
    /// An object's stored state as `HeadObject` answered at capture.
    StoredState,
}

/// The encryption a lifecycle row records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "encryption", rename_all = "kebab-case")]
pub enum Encryption {
    /// What S3 applied to a write or to the stored object, and for a write who chose the
    /// mode (`SSEApplied`; absent for the stored state).
    Applied {
        sse: Sse,
        bucket_key: bool,
        sse_applied: Reading<SseApplied>,
    },
    /// `HeadObject` failed: its error code.
    HeadFailed { code: String },
}

/// One row of the lifecycle table, as typed facts; [`crate::report`] words it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    #[serde(skip)]
    pub kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    pub actor: Actor,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// The key's name: as the request gave it for the `Start*` row, else
    /// [`ResolvedKey::label`].
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
    /// Evidence about this job that contradicts other evidence.
    pub conflicts: Vec<Conflict>,
    pub entries: Vec<Entry>,
    pub captured_at: DateTime<Utc>,
    /// Every read of the job's results, in time order (see [`crate::access::observed`]).
    pub reads: Vec<ReadEvent>,
    /// Whether the CloudTrail evidence could show every read.
    pub read_coverage: ReadCoverage,
    /// What digest validation says about the log files of this job's window; `None` under
    /// `--integrity off`.
    #[serde(skip)]
    pub integrity: Option<crate::integrity::run::JobIntegrity>,
}

/// Every job id the evidence mentions: `Start*` responses, `Get*` requests, job statuses.
pub fn discover_jobs(evidence: &Evidence) -> Vec<JobId> {
    let mut ids = BTreeSet::new();
    for e in &evidence.events {
        match facts::decode(e) {
            Fact::Start(s) => {
                ids.insert(s.job);
            }
            Fact::TextractGet { job } => {
                ids.insert(job);
            }
            _ => {}
        }
    }
    ids.extend(evidence.job_statuses.iter().map(|s| s.job_id.clone()));
    ids.into_iter().collect()
}

/// Each job's output location: from its `Start*` record, else inferred from its objects.
pub fn output_locations(evidence: &Evidence, jobs: &[JobId]) -> BTreeMap<JobId, OutputLocation> {
    let ix = Index::new(evidence);
    jobs.iter()
        .filter_map(|j| output_of(&ix, j).map(|o| (j.clone(), o)))
        .collect()
}

/// Each job's first successful `Start*` record (the one the gathering rounds follow: the
/// output folder and key it names are read next), in one pass over the records.
pub fn start_records(evidence: &Evidence, jobs: &[JobId]) -> BTreeMap<JobId, TrailEvent> {
    let wanted: BTreeSet<&JobId> = jobs.iter().collect();
    let mut out: BTreeMap<JobId, TrailEvent> = BTreeMap::new();
    for e in &evidence.events {
        let Fact::Start(s) = facts::decode(e) else {
            continue;
        };
        if !wanted.contains(&s.job) {
            continue;
        }
        match out.get(&s.job) {
            Some(had) if had.event_time <= e.event_time => {}
            _ => {
                out.insert(s.job.clone(), e.clone());
            }
        }
    }
    out
}

/// The jobs whose `Start*` record falls in `window` (what `audit` verifies), in `region`
/// when one is given.
pub fn jobs_started_in(
    evidence: &Evidence,
    window: &TimeWindow,
    region: Option<&str>,
) -> Vec<JobId> {
    let ids: BTreeSet<JobId> = evidence
        .events
        .iter()
        .filter(|e| window.contains(e.event_time))
        .filter(|e| region.is_none_or(|r| e.aws_region == r))
        .filter_map(|e| match facts::decode(e) {
            Fact::Start(s) => Some(s.job),
            _ => None,
        })
        .collect();
    ids.into_iter().collect()
}

/// Builds the timeline of one job (see [`build_all`] for many).
pub fn build(evidence: &Evidence, job: &JobId) -> JobTimeline {
    Index::new(evidence).timeline(job, &ProblemIndex::new(&evidence.problems))
}

/// Builds the timelines of many jobs (see [`correlate_all`]).
pub fn build_all(evidence: &Evidence, jobs: &[JobId]) -> Vec<JobTimeline> {
    correlate_all(evidence, jobs, |t| t)
}

/// `then` applied to the timeline of each job, in the order of `jobs`: the records are
/// indexed once, then the jobs are correlated in parallel on every core, each from lookups
/// (`O(records + jobs)`), and each timeline is dropped as soon as `then` has used it.
pub fn correlate_all<T: Send>(
    evidence: &Evidence,
    jobs: &[JobId],
    then: impl Fn(JobTimeline) -> T + Sync,
) -> Vec<T> {
    let ix = Index::new(evidence);
    let problems = ProblemIndex::new(&evidence.problems);
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(jobs.len().max(1));
    if threads <= 1 {
        return jobs
            .iter()
            .map(|j| then(ix.timeline(j, &problems)))
            .collect();
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let (ix, problems, then) = (&ix, &problems, &then);
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|j| then(ix.timeline(j, problems)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a correlation thread panicked"))
            .collect()
    })
}

/// The output location of a job: its `Start*` record's, else inferred from objects.
fn output_of(ix: &Index, job: &JobId) -> Option<OutputLocation> {
    match ix.starts(job).first() {
        Some(&i) => match ix.fact(i) {
            Fact::Start(s) => s.output.as_ref().map(|(bucket, prefix)| OutputLocation {
                bucket: bucket.clone(),
                prefix: prefix.clone().unwrap_or(DEFAULT_OUTPUT_PREFIX.into()),
                prefix_given: prefix.is_some(),
            }),
            _ => None,
        },
        None => infer_output(ix, job),
    }
}

/// Without the `Start*` record, the output folder can still be found from objects whose key
/// holds `{JobId}/` as a folder: listings, heads, or S3 data events.
fn infer_output(ix: &Index, job: &JobId) -> Option<OutputLocation> {
    ix.folders_of(job)
        .first()
        .map(|(bucket, prefix)| OutputLocation {
            bucket: bucket.clone(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            prefix_given: false,
        })
}

/// The caller's region and account, for resolving key ids and aliases.
fn caller_context(ev: &TrailEvent) -> (String, Option<String>) {
    let account = ev
        .recipient_account_id
        .clone()
        .or_else(|| str_ci(&ev.user_identity, "accountId").map(str::to_owned));
    (ev.aws_region.clone(), account)
}

/// Lending results live in these folders of the job folder (StartLendingAnalysis).
const LENDING_FOLDERS: [&str; 3] = ["detailedResponse/", "summaryResponse/", "splitDocuments/"];

fn kind_of(key: &str, job_prefix: &str) -> ObjectKind {
    match key.strip_prefix(job_prefix) {
        Some(ACCESS_CHECK_OBJECT) => ObjectKind::AccessCheck,
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            ObjectKind::ResultPage
        }
        Some(rest)
            if LENDING_FOLDERS
                .iter()
                .any(|f| rest.strip_prefix(f).is_some_and(|r| !r.is_empty())) =>
        {
            ObjectKind::ResultPage
        }
        _ => ObjectKind::Other,
    }
}

/// `KmsUse::tie` of a key state change made while the job ran.
pub const KEY_CHANGE_DURING_JOB: &str = "key state, during the job";
/// `KmsUse::tie` of a key state change made after the job.
pub const KEY_CHANGE_LATER: &str = "key state, after the job";

/// `userIdentity`, with the service that acted on its behalf when one did.
fn actor_of(e: &TrailEvent, invoked_by: &InvokedBy) -> Actor {
    let via = match invoked_by {
        InvokedBy::None => None,
        InvokedBy::Textract | InvokedBy::Service(_) | InvokedBy::Unrecognised(_) => {
            e.invoked_by().map(str::to_owned)
        }
    };
    Actor::Principal {
        name: e.actor(),
        via,
    }
}

/// The principal the record names, with no service acting for it.
fn principal(name: String) -> Actor {
    Actor::Principal { name, via: None }
}

/// Who made an S3 write for a job whose `Start*` caller is `caller`.
fn writer(invoked_by: &InvokedBy, principal: Option<&str>, caller: Option<&str>) -> Writer {
    match (invoked_by, principal) {
        (InvokedBy::None, Some(_)) => Writer::Other("written by someone other than Textract".into()),
        (InvokedBy::None, None) => {
            Writer::Unknown("the record names no principal (userIdentity.arn)".into())
        }
        (InvokedBy::Textract, Some(p)) => match caller {
            Some(c) if c == p => Writer::Textract,
            Some(c) => Writer::Other(format!(
                "written by Textract on behalf of {p}, not of the job's caller {c}"
            )),
            None => Writer::Unknown(
                "without the job's Start* record (its caller) a Textract write cannot be told from another job's".into(),
            ),
        },
        (InvokedBy::Textract, None) => {
            Writer::Unknown("Textract write with no principal (userIdentity.arn)".into())
        }
        (InvokedBy::Service(s), _) => Writer::Unknown(format!("written via {s}")),
        (InvokedBy::Unrecognised(v), _) => {
            Writer::Unknown(format!("userIdentity.invokedBy {v} is not recognised"))
        }
    }
}

impl Index<'_> {
    /// The timeline of one job, from lookups.
    fn timeline(&self, job: &JobId, problems: &ProblemIndex) -> JobTimeline {
        let evidence = self.evidence;
        let starts = self.starts(job);
        let request = starts.first().map(|&i| self.read_request(i, &starts[1..]));
        let status = self.statuses(job).next();
        let api = request.as_ref().map(|r| r.api).or(status.map(|s| s.api));
        let output = output_of(self, job);
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
            conflicts: Vec::new(),
            entries: Vec::new(),
            captured_at: evidence.provenance.captured_at,
            request,
            reads: Vec::new(),
            read_coverage: coverage::reads::unknown(),
            integrity: None,
        };
        if let Some(out) = t.output.clone() {
            self.collect_objects(&mut t, &out);
            t.bucket = evidence.buckets.get(&out.bucket).cloned();
        }
        t.key = t
            .request
            .as_ref()
            .and_then(|r| r.kms_key.as_ref())
            .and_then(|k| k.arn())
            .and_then(|arn| evidence.keys.iter().find(|k| k.arn == arn))
            .cloned();
        self.collect_kms(&mut t);
        let window = coverage::job_window(evidence, job_span(&t));
        let kms_involved = t.request.as_ref().is_some_and(|r| r.kms_key.is_some())
            || t.objects.iter().any(|o| o.head_key.is_some());
        t.problems = problems.for_job(
            &window,
            t.output.as_ref().map(|o| o.bucket.as_str()),
            kms_involved,
        );
        t.integrity = evidence
            .integrity
            .as_ref()
            .map(|run| crate::integrity::run::for_job(run, window.as_ref().ok()));
        t.entries = self.entries(&t);
        t.conflicts = self.conflicts_of(&t);
        t.coverage = coverage::of_job(evidence, &t, window);
        t.reads = self.reads_of(&t);
        t.read_coverage = coverage::reads::of_job(evidence, problems, &t);
        t
    }

    /// The conflicts bearing on the job: about its records, its objects, its keys, itself,
    /// and `Start*` records for it that ask for different things.
    fn conflicts_of(&self, t: &JobTimeline) -> Vec<Conflict> {
        let mut about: BTreeSet<ConflictAbout> = BTreeSet::new();
        about.insert(ConflictAbout::Job(t.job_id.0.clone()));
        for e in &t.entries {
            if let EvidenceRef::CloudtrailEvent { event_id, .. } = &e.evidence {
                about.insert(ConflictAbout::Event(event_id.clone()));
            }
        }
        let mut keys: Vec<&ResolvedKey> = t
            .request
            .iter()
            .filter_map(|r| r.kms_key.as_ref())
            .collect();
        for o in &t.objects {
            about.insert(ConflictAbout::Object(o.object.uri()));
            keys.extend(&o.head_key);
            keys.extend(o.writes.iter().filter_map(|w| w.key.as_ref()));
        }
        keys.extend(t.kms_uses.iter().filter_map(|k| k.key.as_ref()));
        about.extend(
            keys.into_iter()
                .filter_map(ResolvedKey::arn)
                .map(|a| ConflictAbout::Key(a.to_owned())),
        );
        let mut out: Vec<Conflict> = about
            .iter()
            .flat_map(|a| self.conflicts(a))
            .cloned()
            .collect();
        out.extend(self.start_conflict(&t.job_id));
        out
    }

    /// Several `Start*` records for one job id that differ in what they ask for or who
    /// asked: which one started the job cannot be told, so none is believed.
    fn start_conflict(&self, job: &JobId) -> Option<Conflict> {
        let asked = |i: usize| match self.fact(i) {
            Fact::Start(s) => Some((s, str_ci(&self.event(i).user_identity, "arn"))),
            _ => None,
        };
        let starts = self.starts(job);
        let first = asked(*starts.first()?);
        let differ: Vec<usize> = starts[1..]
            .iter()
            .copied()
            .filter(|&i| asked(i) != first)
            .collect();
        if differ.is_empty() {
            return None;
        }
        Some(Conflict {
            subject: format!("Start* records for job {job}"),
            reason: format!(
                "{} Start* records return this job id and differ in what they ask for (OutputConfig, KMSKeyId, document) or who asked; which one started the job is unknown",
                differ.len() + 1
            ),
            about: ConflictAbout::Job(job.0.clone()),
            evidence: std::iter::once(starts[0])
                .chain(differ)
                .map(|i| self.event(i).evidence())
                .collect(),
        })
    }

    fn read_request(&self, i: usize, again: &[usize]) -> Request {
        let e = self.event(i);
        let Fact::Start(s) = self.fact(i) else {
            unreachable!("indexed as a Start* fact")
        };
        let (region, account) = caller_context(e);
        let output = s.output.as_ref().map(|(bucket, prefix)| OutputLocation {
            bucket: bucket.clone(),
            prefix: prefix.clone().unwrap_or(DEFAULT_OUTPUT_PREFIX.into()),
            prefix_given: prefix.is_some(),
        });
        let mut kms_key = s
            .kms_key_id
            .as_deref()
            .map(|k| keys::resolve(self.evidence, k, Some(&region), account.as_deref()));
        // Start* records for the job naming different keys: which key was asked for is
        // unknown (see `start_conflict`), never the first record's word.
        let named: BTreeSet<Option<&str>> = std::iter::once(i)
            .chain(again.iter().copied())
            .filter_map(|j| match self.fact(j) {
                Fact::Start(s) => Some(s.kms_key_id.as_deref()),
                _ => None,
            })
            .collect();
        if named.len() > 1 {
            let names: Vec<&str> = named.iter().map(|n| n.unwrap_or("none")).collect();
            let given = s.kms_key_id.clone().unwrap_or_default();
            let why = format!(
                "the job's Start* records name different KMSKeyId values ({})",
                names.join(", ")
            );
            kms_key = Some(match kms_key {
                Some(k) => ResolvedKey { arn: Err(why), ..k },
                None => keys::unresolved(given, why),
            });
        }
        Request {
            api: s.api,
            event: e.evidence(),
            time: e.event_time,
            caller: e.actor(),
            principal: str_ci(&e.user_identity, "arn").map(str::to_owned),
            region,
            account,
            document: s.document.clone(),
            output,
            kms_key,
            resubmissions: again.iter().map(|&j| self.event(j).evidence()).collect(),
            job_tag: s.job_tag.clone(),
        }
    }

    fn context_of(&self, t: &JobTimeline) -> (Option<String>, Option<String>) {
        t.request
            .as_ref()
            .map(|r| (Some(r.region.clone()), r.account.clone()))
            .unwrap_or((
                self.evidence.provenance.region.clone(),
                self.evidence.provenance.account.clone(),
            ))
    }

    fn collect_objects(&self, t: &mut JobTimeline, out: &OutputLocation) {
        let evidence = self.evidence;
        let prefix = out.job_prefix(&t.job_id);
        let (region, account) = self.context_of(t);
        let resolve = |k: &str| keys::resolve(evidence, k, region.as_deref(), account.as_deref());
        let caller = t.request.as_ref().and_then(|r| r.principal.clone());
        let mut objects: BTreeMap<String, OutputObject> = BTreeMap::new();

        // The listing that covers the job folder: its own prefix, or a parent prefix.
        if let Some(l) = self.listing_for(&out.bucket, &prefix) {
            t.listing = Some(l.outcome.as_ref().map(|_| l.complete).map_err(Clone::clone));
            if let Ok(list) = &l.outcome {
                for o in list.iter().filter(|o| o.key.starts_with(&prefix)) {
                    entry(&mut objects, &out.bucket, &o.key, &prefix).listed = true;
                }
            }
        }
        for h in self.heads_under(&out.bucket, &prefix) {
            let o = entry(&mut objects, &out.bucket, &h.object.key, &prefix);
            o.head_key = h
                .outcome
                .as_ref()
                .ok()
                .and_then(|f| f.sse.key_id())
                .map(&resolve);
            o.head = Some(h.outcome.clone());
        }
        for (key, events) in self.folder(&out.bucket, &prefix) {
            for &i in events {
                let Fact::S3(a) = self.fact(i) else { continue };
                let e = self.event(i);
                let o = entry(&mut objects, &out.bucket, key, &prefix);
                match a.op {
                    S3Op::Delete => o.deletes.push(e.evidence()),
                    S3Op::Other => {}
                    S3Op::Write => o.writes.push(Write {
                        event: e.evidence(),
                        time: e.event_time,
                        operation: e.event_name.clone(),
                        actor: e.actor(),
                        writer: writer(&a.invoked_by, a.principal.as_deref(), caller.as_deref()),
                        key: a.sse.key_id().map(&resolve),
                        sse: a.sse.clone(),
                        sse_applied: a.sse_applied.clone(),
                        requested_sse: a.requested_sse.clone(),
                        bucket_key: a.bucket_key,
                    }),
                }
            }
        }
        t.objects = objects.into_values().collect();
    }

    fn collect_kms(&self, t: &mut JobTimeline) {
        let evidence = self.evidence;
        let partition = t.request.as_ref().map(Request::partition).or_else(|| {
            evidence
                .provenance
                .region
                .as_deref()
                .map(partition_of_region)
        });
        let requested = t
            .request
            .as_ref()
            .and_then(|r| r.kms_key.as_ref())
            .and_then(|k| k.arn().map(str::to_owned));
        // Bucket Key calls carry no object: they corroborate, from the job's start to a few
        // minutes after its last write.
        let span = job_span(t).map(|(f, u)| TimeWindow {
            from: f,
            until: u + Duration::minutes(5),
        });
        let (region, account) = self.context_of(t);
        let resolve = |k: &str| keys::resolve(evidence, k, region.as_deref(), account.as_deref());
        let mut tied: BTreeMap<usize, (&'static str, Option<String>)> = BTreeMap::new();
        let same_partition = |i: usize| match self.fact(i) {
            Fact::Kms(k) => match &k.context {
                Context::S3 { partition: p, .. } => partition.is_none_or(|want| want == p),
                _ => true,
            },
            _ => false,
        };
        for o in &t.objects {
            for &i in self.s3_context(&o.object.bucket, Some(&o.object.key)) {
                if same_partition(i) {
                    tied.insert(i, (TIE_OBJECT, Some(o.object.key.clone())));
                }
            }
        }
        if let Some(out) = &t.output {
            for &i in self.s3_context(&out.bucket, None) {
                let in_span = span.is_some_and(|w| w.contains(self.event(i).event_time));
                if in_span && same_partition(i) {
                    tied.entry(i).or_insert((TIE_BUCKET, None));
                }
            }
        }
        for &i in self.context_value(&t.job_id.0) {
            tied.entry(i).or_insert((TIE_JOB, None));
        }
        let use_of = |i: usize, tie: &'static str, object_key: Option<String>| {
            let (Fact::Kms(k), e) = (self.fact(i), self.event(i)) else {
                return None;
            };
            let change = is_key_state_change(&e.event_source, &k.operation);
            Some((
                change,
                KmsUse {
                    event: e.evidence(),
                    time: e.event_time,
                    operation: k.operation.clone(),
                    actor: e.actor(),
                    key: k.key_id.as_deref().map(&resolve),
                    tie,
                    object_key,
                },
            ))
        };
        for (i, (tie, object_key)) in tied {
            if let Some((false, u)) = use_of(i, tie, object_key) {
                t.kms_uses.push(u);
            }
        }
        // Changes to the requested key's state from the job's start on.
        for &i in requested
            .as_deref()
            .map_or(&[][..], |arn| self.key_changes(arn))
        {
            let time = self.event(i).event_time;
            let Some(w) = span.filter(|w| time >= w.from) else {
                continue;
            };
            let tie = if w.contains(time) {
                KEY_CHANGE_DURING_JOB
            } else {
                KEY_CHANGE_LATER
            };
            if let Some((true, u)) = use_of(i, tie, None) {
                t.key_changes.push(u);
            }
        }
    }

    fn entries(&self, t: &JobTimeline) -> Vec<Entry> {
        let mut out = Vec::new();
        if let Some(r) = &t.request {
            out.push(Entry {
                kind: EntryKind::Start,
                time: Some(r.time),
                actor: principal(r.caller.clone()),
                action: Action::Start(r.api),
                object: r.document.as_ref().map(S3Object::uri),
                encryption: None,
                key: r.kms_key.as_ref().map(|k| k.given.clone()),
                evidence: r.event.clone(),
            });
            for &i in self.starts(&t.job_id).iter().skip(1) {
                out.push(Entry {
                    kind: EntryKind::Start,
                    time: Some(self.event(i).event_time),
                    actor: principal(r.caller.clone()),
                    action: Action::StartAgain,
                    object: None,
                    encryption: None,
                    key: None,
                    evidence: self.event(i).evidence(),
                });
            }
            // Textract reading the input document.
            if let Some(doc) = &r.document {
                for &i in self.object(&doc.bucket, &doc.key) {
                    let (e, Fact::S3(a)) = (self.event(i), self.fact(i)) else {
                        continue;
                    };
                    if e.event_time >= r.time
                        && job_span(t)
                            .is_some_and(|(_, until)| e.event_time <= until + Duration::minutes(5))
                    {
                        out.push(Entry {
                            kind: EntryKind::InputRead,
                            time: Some(e.event_time),
                            actor: actor_of(e, &a.invoked_by),
                            action: Action::InputRead(e.event_name.clone()),
                            object: Some(doc.uri()),
                            encryption: None,
                            key: None,
                            evidence: e.evidence(),
                        });
                    }
                }
            }
        }
        let writes: BTreeMap<&EvidenceRef, &Write> = t
            .objects
            .iter()
            .flat_map(|o| &o.writes)
            .map(|w| (&w.event, w))
            .collect();
        if let Some(o) = &t.output {
            let prefix = o.job_prefix(&t.job_id);
            // In record order; a DeleteObjects naming several objects of the folder is one row.
            let rows: BTreeMap<usize, &str> = self
                .folder(&o.bucket, &prefix)
                .flat_map(|(key, events)| events.iter().map(move |&i| (i, key)))
                .collect();
            for (i, key) in rows {
                let (e, Fact::S3(a)) = (self.event(i), self.fact(i)) else {
                    continue;
                };
                let ev = e.evidence();
                let kind = match a.op {
                    S3Op::Write => EntryKind::Write {
                        by_textract: writes.get(&ev).is_some_and(|w| w.by_textract()),
                    },
                    S3Op::Delete => EntryKind::Delete,
                    S3Op::Other => EntryKind::Read,
                };
                let (encryption, k) = match writes.get(&ev) {
                    Some(w) => (
                        Some(Encryption::Applied {
                            sse: w.sse.clone(),
                            bucket_key: w.bucket_key,
                            sse_applied: w.sse_applied.clone(),
                        }),
                        w.key.as_ref().map(ResolvedKey::label),
                    ),
                    None => (None, None),
                };
                out.push(Entry {
                    kind,
                    time: Some(e.event_time),
                    actor: actor_of(e, &a.invoked_by),
                    action: Action::Call(e.event_name.clone()),
                    object: (a.keys.len() == 1).then(|| key.to_owned()),
                    encryption,
                    key: k,
                    evidence: ev,
                });
            }
        }
        for k in t.kms_uses.iter().chain(&t.key_changes) {
            out.push(Entry {
                kind: EntryKind::Kms,
                time: Some(k.time),
                actor: principal(k.actor.clone()),
                action: Action::Kms {
                    operation: k.operation.clone(),
                    tie: k.tie,
                },
                object: k.object_key.clone(),
                encryption: None,
                key: k.key.as_ref().map(ResolvedKey::label),
                evidence: k.event.clone(),
            });
        }
        for &i in self.gets(&t.job_id) {
            let e = self.event(i);
            out.push(Entry {
                kind: EntryKind::Poll,
                time: Some(e.event_time),
                actor: principal(e.actor()),
                action: Action::Call(e.event_name.clone()),
                object: None,
                encryption: None,
                key: None,
                evidence: e.evidence(),
            });
        }
        if let (Some(status), Some(ev)) = (&t.status, &t.status_evidence) {
            out.push(Entry {
                kind: EntryKind::Capture,
                time: Some(t.captured_at),
                actor: Actor::Capture,
                action: match status {
                    Ok(s) => Action::Status(s.status.clone()),
                    Err(e) => Action::StatusUnavailable(e.code.clone()),
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
                Ok(h) => (
                    Encryption::Applied {
                        sse: h.sse.clone(),
                        bucket_key: h.bucket_key_enabled,
                        sse_applied: Reading::Absent,
                    },
                    o.head_key.as_ref().map(ResolvedKey::label),
                ),
                Err(e) => (
                    Encryption::HeadFailed {
                        code: e.code.clone(),
                    },
                    None,
                ),
            };
            out.push(Entry {
                kind: EntryKind::Capture,
                time: Some(t.captured_at),
                actor: Actor::Capture,
                action: Action::StoredState,
                object: Some(o.object.key.clone()),
                encryption: Some(encryption),
                key,
                evidence: o.evidence(),
            });
        }
        out.sort_by_key(|a| a.time);
        out
    }
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
            .flat_map(|o| o.writes.iter().filter(|w| w.by_textract()).map(|w| w.time)),
    );
    times.extend(
        t.kms_uses
            .iter()
            .filter(|k| k.tie != TIE_BUCKET)
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

#[cfg(test)]
mod tests;
