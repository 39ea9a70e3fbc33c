//! The reads of a job's results, tied to the job exactly, and whether the trails could show
//! them all: the input of [`crate::access::observed`] and [`crate::access::readers_allowed`].
//!
//! Every read comes from a lookup (the job folder's S3 calls, the copies whose source is in
//! it, the KMS calls whose context is one of its objects, the `Get*` calls naming the job):
//! its cost is what it returns, never a pass over all records.

use chrono::{DateTime, Utc};

use super::problems::{LATE_DELIVERY, ProblemIndex};
use super::selectors::EventShape;
use super::{JobTimeline, Request, TrailState, job_span, trail_state};
use crate::access::observed::{ReadEvent, ReadOperation};
use crate::access::readers_allowed::{ReadCoverage, ReadLogging};
use crate::facts::{Context, Fact, Index};
use crate::model::{
    Evidence, S3Object, TextractApi, TimeWindow, TrailEvent, bucket_arn, partition_of_region,
    str_ci,
};

/// The S3 object-level reads this audit counts, by event name.
fn s3_read(event_name: &str) -> Option<ReadOperation> {
    Some(match event_name {
        "GetObject" => ReadOperation::GetObject,
        "HeadObject" => ReadOperation::HeadObject,
        "SelectObjectContent" => ReadOperation::SelectObjectContent,
        "RestoreObject" => ReadOperation::RestoreObject,
        _ => return None,
    })
}

/// The acting principal as the record names it: its ARN, else its principal id or type.
fn principal(e: &TrailEvent) -> String {
    ["arn", "principalId", "type"]
        .iter()
        .find_map(|k| str_ci(&e.user_identity, k))
        .unwrap_or("unknown")
        .to_owned()
}

fn read(e: &TrailEvent, operation: ReadOperation, object: Option<S3Object>) -> ReadEvent {
    ReadEvent {
        event: e.evidence(),
        time: e.event_time,
        principal: principal(e),
        operation,
        object,
        // A service acting for the principal puts its own name there, not an address.
        source_ip: e
            .source_ip_address
            .clone()
            .filter(|ip| Some(ip.as_str()) != e.invoked_by()),
        via_service: e.invoked_by().map(str::to_owned),
    }
}

fn object(bucket: &str, key: &str) -> S3Object {
    S3Object {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: None,
    }
}

impl Index<'_> {
    /// Every read of the job's results, in time order.
    pub(super) fn reads_of(&self, t: &JobTimeline) -> Vec<ReadEvent> {
        let mut reads = Vec::new();
        if let Some(out) = &t.output {
            let prefix = out.job_prefix(&t.job_id);
            for (key, events) in self.folder(&out.bucket, &prefix) {
                for &i in events {
                    let e = self.event(i);
                    if let (Fact::S3(_), Some(op)) = (self.fact(i), s3_read(&e.event_name)) {
                        reads.push(read(e, op, Some(object(&out.bucket, key))));
                    }
                }
            }
            for (key, events) in self.copied_from(&out.bucket, &prefix) {
                for &i in events {
                    let o = Some(object(&out.bucket, key));
                    reads.push(read(self.event(i), ReadOperation::CopyObjectSource, o));
                }
            }
            let partition = t.request.as_ref().map(Request::partition);
            for o in &t.objects {
                for &i in self.s3_context(&o.object.bucket, Some(&o.object.key)) {
                    let Fact::Kms(k) = self.fact(i) else { continue };
                    let same_partition = match &k.context {
                        Context::S3 { partition: p, .. } => partition.is_none_or(|want| want == p),
                        _ => false,
                    };
                    if k.operation == "Decrypt" && same_partition {
                        let e = self.event(i);
                        reads.push(read(e, ReadOperation::Decrypt, Some(o.object.clone())));
                    }
                }
            }
        }
        for &i in self.gets(&t.job_id) {
            reads.push(read(self.event(i), ReadOperation::TextractGet, None));
        }
        reads.sort_by(|a, b| (a.time, &a.event).cmp(&(b.time, &b.event)));
        reads
    }
}

impl JobTimeline {
    /// When the job started: its `Start*` call, else its first recorded activity.
    pub fn started(&self) -> Option<DateTime<Utc>> {
        job_span(self).map(|(from, _)| from)
    }

    /// From the job's start to the last result Textract wrote (later reads and key uses are
    /// not the job's).
    pub fn results_window(&self) -> Option<TimeWindow> {
        let from = self.started()?;
        let until = self
            .objects
            .iter()
            .flat_map(|o| o.writes.iter().filter(|w| w.by_textract()).map(|w| w.time))
            .max()
            .map_or(from, |t| t.max(from));
        Some(TimeWindow { from, until })
    }
}

/// Before the job is correlated: nothing known.
pub(super) fn unknown_coverage() -> ReadCoverage {
    let unknown = || ReadLogging::Unknown {
        reason: "not yet correlated".into(),
    };
    ReadCoverage {
        s3_reads: unknown(),
        textract_reads: unknown(),
        window: Err("not yet correlated".into()),
        gaps: Vec::new(),
    }
}

fn logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    shape: &EventShape,
) -> ReadLogging {
    match trail_state(evidence, region, start, shape) {
        TrailState::Logged(trail) => ReadLogging::Logged { trail },
        TrailState::NoTrails => ReadLogging::Unknown {
            reason: "no trail configuration in the evidence".into(),
        },
        TrailState::Unknown(why) => ReadLogging::Unknown {
            reason: why.join("; "),
        },
        TrailState::NotLogged { why, selectors } => ReadLogging::NotLogged {
            reason: why.join("; "),
            selectors,
        },
    }
}

/// Whether the CloudTrail evidence could show every read of the job's results since it
/// started: S3 read data events on its folder, Textract's read-only `Get*` events, the window,
/// and the CloudTrail evidence that could not be read from the job's start on.
pub(super) fn coverage(
    evidence: &Evidence,
    problems: &ProblemIndex,
    t: &JobTimeline,
) -> ReadCoverage {
    let region = t
        .request
        .as_ref()
        .map(|r| r.region.clone())
        .or(evidence.provenance.region.clone());
    let region = region.as_deref();
    let start = t.started();
    let partition = partition_of_region(region.unwrap_or_default());
    let s3_reads = match &t.output {
        None => ReadLogging::NotLogged {
            reason: "no output bucket: the results are read from Textract only".into(),
            selectors: Vec::new(),
        },
        Some(out) => {
            let arn = format!(
                "{}/{}1",
                bucket_arn(partition, &out.bucket),
                out.job_prefix(&t.job_id)
            );
            let shape = EventShape {
                category: "Data",
                event_source: "s3.amazonaws.com",
                event_name: "GetObject",
                read_only: true,
                resource: Some(("AWS::S3::Object", &arn)),
            };
            logging(evidence, region, start, &shape)
        }
    };
    let api = t.api.unwrap_or(TextractApi::DocumentAnalysis);
    let textract = EventShape {
        category: "Management",
        event_source: "textract.amazonaws.com",
        event_name: api.get_operation(),
        read_only: true,
        resource: None,
    };
    let window = evidence.cloudtrail_window.ok_or_else(|| {
        "the evidence does not state which time range its CloudTrail records cover".to_owned()
    });
    // Reads may come any time after the start: any unreadable CloudTrail evidence from then
    // on (widened for late delivery, as for the job's own records) may hide one.
    let gaps = problems
        .since(start.map(|s| s - LATE_DELIVERY))
        .into_iter()
        .map(|p| format!("{} could not be used ({})", p.subject, p.reason))
        .collect();
    ReadCoverage {
        s3_reads,
        textract_reads: logging(evidence, region, start, &textract),
        window,
        gaps,
    }
}
