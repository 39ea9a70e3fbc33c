//! The lifecycle rows worded: the one place where a timeline [`Entry`]'s typed facts become
//! the text that the JSON report's `timeline[]` carries and every renderer shows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{EvidenceRef, Reading};
use crate::timeline::{Action, Actor, Encryption, Entry, EntryKind};

/// The actor of the rows that record what this tool read at capture time.
const TOOL: &str = "textract-audit";

/// One row of the lifecycle table, worded.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    /// For renderers that group rows (the HTML timeline chart); not in the JSON report.
    #[serde(skip)]
    pub kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// The principal, with ` via {service}` when a service called on its behalf.
    pub actor: String,
    /// The principal alone and the service, for renderers that shorten names.
    #[serde(skip)]
    pub principal: String,
    #[serde(skip)]
    pub via: Option<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub evidence: EvidenceRef,
}

impl From<&Entry> for TimelineRow {
    fn from(e: &Entry) -> TimelineRow {
        let (principal, via) = match &e.actor {
            Actor::Principal { name, via } => (name.clone(), via.clone()),
            Actor::Capture => (TOOL.to_owned(), None),
        };
        TimelineRow {
            kind: e.kind,
            time: e.time,
            actor: match &via {
                Some(by) => format!("{principal} via {by}"),
                None => principal.clone(),
            },
            principal,
            via,
            action: action(&e.action),
            object: e.object.clone(),
            encryption: e.encryption.as_ref().map(encryption),
            key: e.key.clone(),
            evidence: e.evidence.clone(),
        }
    }
}

fn action(a: &Action) -> String {
    match a {
        Action::Start(api) => api.start_operation().to_owned(),
        Action::StartAgain => "Start* again (same job id returned)".into(),
        Action::InputRead(name) => format!("{name} (input)"),
        Action::Call(name) => name.clone(),
        Action::Kms { operation, tie } => format!("kms:{operation} ({tie})"),
        Action::Status(status) => format!("job status {status} (at capture)"),
        Action::StatusUnavailable(code) => format!("job status unavailable: {code}"),
        Action::StoredState => "HeadObject (stored state)".into(),
    }
}

fn encryption(e: &Encryption) -> String {
    match e {
        Encryption::Applied {
            sse,
            bucket_key,
            sse_applied,
        } => {
            let mut label = sse.label();
            if *bucket_key {
                label.push_str(" +BucketKey");
            }
            match sse_applied {
                Reading::Read(a) => format!("{label} ({})", a.value()),
                Reading::Unrecognised(a) => format!("{label} (SSEApplied unrecognised: {a})"),
                Reading::Absent => label,
            }
        }
        Encryption::HeadFailed { code } => format!("HeadObject failed: {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::SseApplied;
    use crate::model::Sse;
    use crate::timeline::TIE_OBJECT;

    fn row(actor: Actor, action: Action, encryption: Option<Encryption>) -> TimelineRow {
        TimelineRow::from(&Entry {
            kind: EntryKind::Kms,
            time: None,
            actor,
            action,
            object: None,
            encryption,
            key: None,
            evidence: EvidenceRef::ApiCall {
                operation: "kms:GenerateDataKey".into(),
                subject: "k".into(),
            },
        })
    }

    #[test]
    fn a_service_call_names_the_principal_and_the_service() {
        let r = row(
            Actor::Principal {
                name: "arn:aws:iam::111122223333:role/r".into(),
                via: Some("textract.amazonaws.com".into()),
            },
            Action::Kms {
                operation: "GenerateDataKey".into(),
                tie: TIE_OBJECT,
            },
            Some(Encryption::Applied {
                sse: Sse::SseKms { key_id: None },
                bucket_key: true,
                sse_applied: Reading::Read(SseApplied::Default("Default_SSE_KMS".into())),
            }),
        );
        assert_eq!(
            r.actor,
            "arn:aws:iam::111122223333:role/r via textract.amazonaws.com"
        );
        assert_eq!(r.principal, "arn:aws:iam::111122223333:role/r");
        assert_eq!(r.action, "kms:GenerateDataKey (object)");
        assert_eq!(
            r.encryption.as_deref(),
            Some("SSE-KMS +BucketKey (Default_SSE_KMS)")
        );
    }

    #[test]
    fn what_the_tool_read_and_unknown_values_are_worded_as_such() {
        let r = row(
            Actor::Capture,
            Action::StatusUnavailable("AccessDenied".into()),
            Some(Encryption::Applied {
                sse: Sse::SseS3,
                bucket_key: false,
                sse_applied: Reading::Unrecognised("42".into()),
            }),
        );
        assert_eq!((r.actor.as_str(), r.via), ("textract-audit", None));
        assert_eq!(r.action, "job status unavailable: AccessDenied");
        assert_eq!(
            r.encryption.as_deref(),
            Some("SSE-S3 (SSEApplied unrecognised: 42)")
        );
        let failed = Encryption::HeadFailed { code: "403".into() };
        assert_eq!(encryption(&failed), "HeadObject failed: 403");
    }
}
