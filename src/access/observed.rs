//! Readers, observed: every read of a job's results, and one row per principal.
//!
//! The input is neutral: [`ReadEvent`]s, each one read of the job's output already tied to the
//! job exactly (the S3 object under the job's folder; a KMS `Decrypt` whose encryption context
//! is exactly one of those objects' ARN; a Textract `Get*` naming the job id). Building them
//! from CloudTrail records is the correlation stage's work; here they are only aggregated.
//!
//! A row says who read, when first and last, which objects (a count and the range in page
//! order), how (`s3:GetObject`, `kms:Decrypt`, `textract:GetDocumentAnalysis`, …), from which
//! source IPs, and through which AWS services. A `Decrypt` that S3 makes for the reader's own
//! `GetObject` (`invokedBy: s3.amazonaws.com`) is how SSE-KMS works, not a read through another
//! service, and is not counted as one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{EvidenceRef, S3Object};

/// The kinds of read this audit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadOperation {
    GetObject,
    HeadObject,
    SelectObjectContent,
    /// `CopyObject` with the result object as the copy source.
    CopyObjectSource,
    RestoreObject,
    /// KMS `Decrypt` with the object's ARN as its exact encryption context.
    Decrypt,
    /// A Textract `Get*` call for the job id (the results straight from Textract).
    TextractGet,
}

impl ReadOperation {
    pub const ALL: [ReadOperation; 7] = [
        ReadOperation::GetObject,
        ReadOperation::HeadObject,
        ReadOperation::SelectObjectContent,
        ReadOperation::CopyObjectSource,
        ReadOperation::RestoreObject,
        ReadOperation::Decrypt,
        ReadOperation::TextractGet,
    ];

    /// The name the allow-list uses (`s3:GetObject`, `kms:Decrypt`, `textract:Get*`).
    pub fn name(self) -> &'static str {
        match self {
            ReadOperation::GetObject => "s3:GetObject",
            ReadOperation::HeadObject => "s3:HeadObject",
            ReadOperation::SelectObjectContent => "s3:SelectObjectContent",
            ReadOperation::CopyObjectSource => "s3:CopyObject",
            ReadOperation::RestoreObject => "s3:RestoreObject",
            ReadOperation::Decrypt => "kms:Decrypt",
            ReadOperation::TextractGet => "textract:Get*",
        }
    }

    pub fn from_name(name: &str) -> Option<ReadOperation> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl fmt::Display for ReadOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One read of a job's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadEvent {
    /// The CloudTrail record.
    pub event: EvidenceRef,
    pub time: DateTime<Utc>,
    /// The acting principal: its ARN when the record has one (`userIdentity.arn`), else how
    /// the record names it (`AnonymousPrincipal`, a principal id).
    pub principal: String,
    pub operation: ReadOperation,
    /// The result object read; `None` for a Textract `Get*` (the job's results as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<S3Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `userIdentity.invokedBy`: the AWS service that made the call for the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_service: Option<String>,
}

impl ReadEvent {
    /// How the principal read: the operation, with the Textract `Get*` named as recorded.
    pub fn how(&self) -> String {
        match (&self.event, self.operation) {
            (EvidenceRef::CloudtrailEvent { event_name, .. }, ReadOperation::TextractGet) => {
                format!("textract:{event_name}")
            }
            _ => self.operation.name().to_owned(),
        }
    }

    /// The service that read for the principal, when that is more than S3 decrypting for
    /// the principal's own `GetObject`.
    fn through_service(&self) -> Option<&str> {
        let via = self.via_service.as_deref()?;
        let s3_for_sse_kms =
            self.operation == ReadOperation::Decrypt && via.ends_with("s3.amazonaws.com");
        (!s3_for_sse_kms).then_some(via)
    }
}

/// The objects a principal read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectsRead {
    pub count: usize,
    /// The first and last in page order (`1` before `2` before `10`), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

impl fmt::Display for ObjectsRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.count, &self.first, &self.last) {
            (0, ..) => f.write_str("no objects"),
            (1, Some(k), _) => write!(f, "1 object ({k})"),
            (n, Some(a), Some(b)) => write!(f, "{n} objects ({a} to {b})"),
            (n, ..) => write!(f, "{n} objects"),
        }
    }
}

/// One principal's reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReaderRow {
    pub principal: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub objects: ObjectsRead,
    /// Operations, as [`ReadEvent::how`] names them.
    pub how: BTreeSet<String>,
    pub source_ips: BTreeSet<String>,
    /// AWS services that read for the principal (Athena, …); empty when it read itself.
    pub via_services: BTreeSet<String>,
    /// The records, in time order.
    pub events: Vec<EvidenceRef>,
}

/// Sorts object keys as pages: by the last path segment, numerically when it is a number.
fn page_order(key: &str) -> (u8, u128, &str) {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.parse::<u128>() {
        Ok(n) => (0, n, key),
        Err(_) => (1, 0, key),
    }
}

/// One row per principal, ordered by first read (then principal). Linear in the reads apart
/// from sorting; the same record given twice counts once.
pub fn readers(reads: &[ReadEvent]) -> Vec<ReaderRow> {
    let mut by_principal: BTreeMap<&str, Vec<&ReadEvent>> = BTreeMap::new();
    for r in reads {
        by_principal.entry(&r.principal).or_default().push(r);
    }
    let mut rows: Vec<ReaderRow> = by_principal
        .into_iter()
        .map(|(principal, mut list)| {
            list.sort_by(|a, b| (a.time, &a.event).cmp(&(b.time, &b.event)));
            list.dedup_by(|a, b| a.event == b.event && a.operation == b.operation);
            let mut keys: Vec<&str> = list
                .iter()
                .filter_map(|r| r.object.as_ref().map(|o| o.key.as_str()))
                .collect();
            keys.sort_by_key(|k| page_order(k));
            keys.dedup();
            let mut events: Vec<EvidenceRef> = Vec::with_capacity(list.len());
            for r in &list {
                if events.last() != Some(&r.event) {
                    events.push(r.event.clone());
                }
            }
            ReaderRow {
                principal: principal.to_owned(),
                first: list[0].time,
                last: list[list.len() - 1].time,
                objects: ObjectsRead {
                    count: keys.len(),
                    first: keys.first().map(|k| (*k).to_owned()),
                    last: keys.last().map(|k| (*k).to_owned()),
                },
                how: list.iter().map(|r| r.how()).collect(),
                source_ips: list.iter().filter_map(|r| r.source_ip.clone()).collect(),
                via_services: list
                    .iter()
                    .filter_map(|r| r.through_service().map(str::to_owned))
                    .collect(),
                events,
            }
        })
        .collect();
    rows.sort_by(|a, b| (a.first, &a.principal).cmp(&(b.first, &b.principal)));
    rows
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) const READER: &str = "arn:aws:sts::111122223333:assumed-role/ResultsReader/nb";
    pub(crate) const ANALYST: &str = "arn:aws:sts::111122223333:assumed-role/Analytics/notebook";
    pub(crate) const FOLDER: &str = "secure/results/JOB/";

    pub(crate) fn at(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 10, m, 0).unwrap()
    }

    /// A read of `page` (none for a Textract `Get*`) at 10:`minute`.
    pub(crate) fn read(
        id: &str,
        minute: u32,
        principal: &str,
        operation: ReadOperation,
        page: Option<&str>,
    ) -> ReadEvent {
        let event_name = match operation {
            ReadOperation::TextractGet => "GetDocumentAnalysis".to_owned(),
            ReadOperation::CopyObjectSource => "CopyObject".to_owned(),
            other => other.name().split(':').nth(1).unwrap().to_owned(),
        };
        ReadEvent {
            event: EvidenceRef::CloudtrailEvent {
                event_id: id.into(),
                event_name,
            },
            time: at(minute),
            principal: principal.into(),
            operation,
            object: page.map(|p| S3Object {
                bucket: "acme-results".into(),
                key: format!("{FOLDER}{p}"),
                version_id: None,
            }),
            source_ip: Some("10.0.0.1".into()),
            via_service: (operation == ReadOperation::Decrypt).then(|| "s3.amazonaws.com".into()),
        }
    }

    #[test]
    fn one_row_per_principal_with_times_objects_and_how() {
        let mut athena = read("e9", 40, ANALYST, ReadOperation::GetObject, Some("10"));
        athena.via_service = Some("athena.amazonaws.com".into());
        athena.source_ip = Some("athena.amazonaws.com".into());
        let reads = vec![
            read("e3", 31, READER, ReadOperation::GetObject, Some("2")),
            read("e1", 30, READER, ReadOperation::GetObject, Some("1")),
            read("e2", 30, READER, ReadOperation::Decrypt, Some("1")),
            read("e4", 31, READER, ReadOperation::Decrypt, Some("2")),
            read("e5", 32, READER, ReadOperation::TextractGet, None),
            athena,
            read("e8", 35, ANALYST, ReadOperation::GetObject, Some("9")),
            // The same record twice (a log file and LookupEvents) counts once.
            read("e8", 35, ANALYST, ReadOperation::GetObject, Some("9")),
        ];
        let rows = readers(&reads);
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r.principal, READER);
        assert_eq!((r.first, r.last), (at(30), at(32)));
        assert_eq!(
            r.objects.to_string(),
            format!("2 objects ({FOLDER}1 to {FOLDER}2)")
        );
        assert_eq!(
            r.how.iter().map(String::as_str).collect::<Vec<_>>(),
            [
                "kms:Decrypt",
                "s3:GetObject",
                "textract:GetDocumentAnalysis"
            ]
        );
        assert!(
            r.via_services.is_empty(),
            "S3 decrypting for a GetObject is not a service read"
        );
        assert_eq!(r.events.len(), 5);
        let a = &rows[1];
        assert_eq!(
            a.objects.to_string(),
            format!("2 objects ({FOLDER}9 to {FOLDER}10)")
        );
        assert_eq!(a.events.len(), 2);
        assert_eq!(
            a.via_services.iter().collect::<Vec<_>>(),
            ["athena.amazonaws.com"]
        );
        assert_eq!(a.source_ips.len(), 2);
    }

    #[test]
    fn a_textract_read_has_no_objects_and_no_reads_no_rows() {
        let rows = readers(&[read("e1", 5, READER, ReadOperation::TextractGet, None)]);
        assert_eq!(rows[0].objects.to_string(), "no objects");
        assert!(readers(&[]).is_empty());
    }

    #[test]
    fn operation_names_round_trip() {
        for op in ReadOperation::ALL {
            assert_eq!(ReadOperation::from_name(op.name()), Some(op));
        }
        assert_eq!(ReadOperation::from_name("s3:PutObject"), None);
    }
}
