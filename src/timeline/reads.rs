//! The reads of a job's results, tied to the job exactly: the input of
//! [`crate::access::observed`] and, with [`crate::coverage::reads`] (whether the trails could
//! show them all), of [`crate::access::readers_allowed`].
//!
//! Every read comes from a lookup (the job folder's S3 calls, the copies whose source is in
//! it, the KMS calls whose context is one of its objects, the `Get*` calls naming the job):
//! its cost is what it returns, never a pass over all records.

use chrono::{DateTime, Utc};

use super::{JobTimeline, Request, job_span};
use crate::access::observed::{ReadEvent, ReadOperation};
use crate::facts::{Context, Fact, Index};
use crate::model::{S3Object, TimeWindow, TrailEvent, str_ci};

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
