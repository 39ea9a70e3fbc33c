//! Stage 4 (report): `--redact`, applied once to the finished report so every format shows
//! the same placeholders.
//!
//! Account ids (any run of exactly 12 digits) become `account-N`, and the names in IAM and
//! STS principal ARNs (`user/…`, `role/…`, `assumed-role/ROLE/SESSION`, `federated-user/…`,
//! `group/…`) become `principal-N`, numbered in order of first appearance: the same input
//! gives the same placeholder everywhere in one report. Mute lists match before redaction.

use std::collections::HashMap;

use super::mutelist::{EntryOutcome, MutelistReport, Pattern};
use super::{
    EvidenceSummary, ExpectedOut, JobReport, ObjectOut, PossibleOut, Report, Requested, Stored,
    TimelineRow,
};
use crate::access::observed::ReaderRow;
use crate::model::{EvidenceProblem, EvidenceRef, ProblemScope};
use crate::rules::Finding;

/// The IAM/STS resource types whose path components name a principal.
const PRINCIPAL_TYPES: [&str; 6] = [
    "user",
    "role",
    "assumed-role",
    "federated-user",
    "group",
    "instance-profile",
];

/// Characters that end an ARN inside free text.
fn ends_arn(c: char) -> bool {
    c.is_whitespace() || "\"'`,;()[]{}<>|".contains(c)
}

/// Consistent placeholders for one report.
#[derive(Debug, Default)]
pub struct Redactor {
    accounts: HashMap<String, String>,
    principals: HashMap<String, String>,
}

impl Redactor {
    fn placeholder(map: &mut HashMap<String, String>, kind: &str, value: &str) -> String {
        let n = map.len() + 1;
        map.entry(value.to_owned())
            .or_insert_with(|| format!("{kind}-{n}"))
            .clone()
    }

    /// Redacts one piece of text.
    pub fn text(&mut self, s: &str) -> String {
        let s = self.principal_names(s);
        self.account_ids(&s)
    }

    fn principal_names(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find("arn:") {
            out.push_str(&rest[..at]);
            let arn_len = rest[at..].find(ends_arn).unwrap_or(rest.len() - at);
            let arn = &rest[at..at + arn_len];
            out.push_str(&self.arn(arn));
            rest = &rest[at + arn_len..];
        }
        out.push_str(rest);
        out
    }

    fn arn(&mut self, arn: &str) -> String {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, _, resource] = parts[..] else {
            return arn.to_owned();
        };
        if service != "iam" && service != "sts" {
            return arn.to_owned();
        }
        let Some((kind, names)) = resource.split_once('/') else {
            return arn.to_owned();
        };
        if !PRINCIPAL_TYPES.contains(&kind) {
            return arn.to_owned();
        }
        let names: Vec<String> = names
            .split('/')
            .map(|n| {
                if n.is_empty() {
                    String::new()
                } else {
                    Self::placeholder(&mut self.principals, "principal", n)
                }
            })
            .collect();
        format!(
            "{}{kind}/{}",
            &arn[..arn.len() - resource.len()],
            names.join("/")
        )
    }

    fn account_ids(&mut self, s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if i - start == 12 {
                    out.push_str(&s[copied..start]);
                    out.push_str(&Self::placeholder(
                        &mut self.accounts,
                        "account",
                        &s[start..i],
                    ));
                    copied = i;
                }
            } else {
                i += 1;
            }
        }
        out.push_str(&s[copied..]);
        out
    }
}

/// Something holding text that may name an account or a principal.
pub trait Redact {
    fn redact(&mut self, r: &mut Redactor);
}

impl Redact for String {
    fn redact(&mut self, r: &mut Redactor) {
        *self = r.text(self);
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact(&mut self, r: &mut Redactor) {
        if let Some(v) = self {
            v.redact(r);
        }
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact(&mut self, r: &mut Redactor) {
        for v in self {
            v.redact(r);
        }
    }
}

// The walks below destructure every struct whole, so a field added later cannot slip past
// redaction unnoticed: the compiler asks whether it needs hiding.

impl Redact for Report {
    fn redact(&mut self, r: &mut Redactor) {
        let Report {
            schema: _,
            tool: _,
            generated_at: _,
            evidence,
            jobs,
            // Keys are rule ids and statuses, values counts: nothing to hide.
            summary: _,
            sections,
            options,
            mutelist,
            integrity,
            allowed_readers,
        } = self;
        integrity.redact(r);
        evidence.redact(r);
        sections.redact(r);
        jobs.redact(r);
        mutelist.redact(r);
        options.mutelist.redact(r);
        options.allowed_readers.redact(r);
        if let Some(a) = allowed_readers {
            a.file.redact(r);
            for e in &mut a.entries {
                e.reason.redact(r);
            }
        }
    }
}

/// The integrity section holds file and digest names, fingerprints and reasons in many
/// shapes: every string in it is redacted, whatever field it is in.
impl Redact for crate::integrity::run::RunIntegrity {
    fn redact(&mut self, r: &mut Redactor) {
        fn walk(v: &mut serde_json::Value, r: &mut Redactor) {
            match v {
                serde_json::Value::String(s) => s.redact(r),
                serde_json::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, r)),
                serde_json::Value::Object(o) => o.values_mut().for_each(|v| walk(v, r)),
                _ => {}
            }
        }
        let mut value = serde_json::to_value(&*self).expect("the integrity section serializes");
        walk(&mut value, r);
        let placed = std::mem::take(&mut self.placed);
        *self = serde_json::from_value(value).expect("redaction keeps the section's shape");
        self.placed = placed;
    }
}

impl Redact for EvidenceSummary {
    fn redact(&mut self, r: &mut Redactor) {
        let EvidenceSummary {
            sources,
            account,
            region,
            captured_at: _,
            cloudtrail_window: _,
            cloudtrail_records: _,
            collected: _,
            skipped,
        } = self;
        sources.redact(r);
        account.redact(r);
        region.redact(r);
        skipped.redact(r);
    }
}

impl Redact for EvidenceProblem {
    fn redact(&mut self, r: &mut Redactor) {
        self.subject.redact(r);
        self.reason.redact(r);
        if let ProblemScope::S3 { bucket } = &mut self.scope {
            bucket.redact(r);
        }
    }
}

impl Redact for EvidenceRef {
    fn redact(&mut self, r: &mut Redactor) {
        match self {
            EvidenceRef::CloudtrailEvent {
                event_id,
                event_name,
            } => {
                event_id.redact(r);
                event_name.redact(r);
            }
            EvidenceRef::S3Object {
                uri,
                version_id,
                etag,
            } => {
                uri.redact(r);
                version_id.redact(r);
                etag.redact(r);
            }
            EvidenceRef::KmsKey { arn } => arn.redact(r),
            EvidenceRef::ApiCall { operation, subject } => {
                operation.redact(r);
                subject.redact(r);
            }
            EvidenceRef::Problem { subject } => subject.redact(r),
        }
    }
}

impl Redact for JobReport {
    fn redact(&mut self, r: &mut Redactor) {
        let JobReport {
            job_id,
            verdict: _,
            account,
            region,
            api,
            requested,
            expected,
            job_status,
            objects,
            output_bucket,
            kms_key,
            timeline,
            readers,
            possible_readers,
            findings,
            proof,
        } = self;
        if let Some(p) = possible_readers {
            let PossibleOut {
                method: _,
                decrypt,
                decrypt_grants,
                get_object,
                flags,
                notes,
                access_analyzer,
            } = p;
            for a in access_analyzer {
                a.document.redact(r);
                a.asked.redact(r);
                a.message.redact(r);
                a.reasons.redact(r);
                a.error.redact(r);
            }
            for a in [decrypt, get_object].into_iter().flatten() {
                a.document.redact(r);
                a.principals.redact(r);
                a.reason.redact(r);
            }
            decrypt_grants.redact(r);
            for f in flags {
                f.message.redact(r);
            }
            notes.redact(r);
        }
        if let Some(b) = output_bucket {
            b.name.redact(r);
            b.default_encryption.redact(r);
        }
        if let Some(k) = kms_key {
            k.arn.redact(r);
            k.policy.redact(r);
        }
        job_id.0.redact(r);
        account.redact(r);
        region.redact(r);
        api.redact(r);
        requested.redact(r);
        expected.redact(r);
        job_status.redact(r);
        objects.redact(r);
        timeline.redact(r);
        readers.redact(r);
        for f in findings {
            f.finding.redact(r);
            if let Some(m) = &mut f.muted {
                m.reason.redact(r);
            }
        }
        proof.redact(r);
    }
}

impl Redact for ReaderRow {
    fn redact(&mut self, r: &mut Redactor) {
        let ReaderRow {
            principal,
            first: _,
            last: _,
            objects,
            how: _,
            // Addresses and service names name no account or principal.
            source_ips: _,
            via_services: _,
            events,
        } = self;
        principal.redact(r);
        objects.first.redact(r);
        objects.last.redact(r);
        events.redact(r);
    }
}

impl Redact for Requested {
    fn redact(&mut self, r: &mut Redactor) {
        self.start_event.redact(r);
        self.caller.redact(r);
        self.region.redact(r);
        self.document.redact(r);
        self.output.redact(r);
        self.kms_key_id.redact(r);
        self.kms_key_arn.redact(r);
    }
}

impl Redact for ExpectedOut {
    fn redact(&mut self, r: &mut Redactor) {
        self.documented.redact(r);
        self.output_location.redact(r);
        self.kms_key_arn.redact(r);
    }
}

impl Redact for ObjectOut {
    fn redact(&mut self, r: &mut Redactor) {
        self.uri.redact(r);
        self.stored.redact(r);
    }
}

impl Redact for Stored {
    fn redact(&mut self, r: &mut Redactor) {
        match self {
            Stored::Head {
                encryption,
                kms_key_arn,
                kms_key_alias,
                etag,
                version_id,
                ..
            } => {
                encryption.redact(r);
                kms_key_arn.redact(r);
                kms_key_alias.redact(r);
                etag.redact(r);
                version_id.redact(r);
            }
            Stored::Error { error } => error.redact(r),
        }
    }
}

impl Redact for TimelineRow {
    fn redact(&mut self, r: &mut Redactor) {
        self.actor.redact(r);
        // The same text as in `actor`, so the same placeholders.
        self.principal.redact(r);
        self.via.redact(r);
        self.action.redact(r);
        self.object.redact(r);
        self.encryption.redact(r);
        self.key.redact(r);
        self.evidence.redact(r);
    }
}

impl Redact for Finding {
    fn redact(&mut self, r: &mut Redactor) {
        self.message.redact(r);
        self.object.redact(r);
        self.evidence.redact(r);
    }
}

impl Redact for MutelistReport {
    fn redact(&mut self, r: &mut Redactor) {
        self.file.redact(r);
        self.entries.redact(r);
    }
}

impl Redact for EntryOutcome {
    fn redact(&mut self, r: &mut Redactor) {
        let e = &mut self.entry;
        for p in [
            &mut e.account,
            &mut e.region,
            &mut e.job_id,
            &mut e.bucket,
            &mut e.rule,
        ]
        .into_iter()
        .flatten()
        {
            p.redact(r);
        }
        e.reason.redact(r);
    }
}

impl Redact for Pattern {
    fn redact(&mut self, r: &mut Redactor) {
        self.0.redact(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_and_principals_get_stable_placeholders() {
        let mut r = Redactor::default();
        assert_eq!(
            r.text("arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker via textract.amazonaws.com"),
            "arn:aws:sts::account-1:assumed-role/principal-1/principal-2 via textract.amazonaws.com"
        );
        assert_eq!(
            r.text("arn:aws:iam::444455556666:role/DocPipeline and arn:aws:iam::111122223333:user/alice"),
            "arn:aws:iam::account-2:role/principal-1 and arn:aws:iam::account-1:user/principal-3"
        );
        assert_eq!(
            r.text("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "arn:aws:kms:us-east-1:account-1:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "key ids are not principals"
        );
        assert_eq!(
            r.text("s3://aws-cloudtrail-logs-444455556666/AWSLogs/444455556666/x"),
            "s3://aws-cloudtrail-logs-account-2/AWSLogs/account-2/x"
        );
        assert_eq!(
            r.text("1234567890123 and 12345678901 stay"),
            "1234567890123 and 12345678901 stay",
            "only exactly 12 digits are account ids"
        );
        assert_eq!(
            r.text("(arn:aws:iam::111122223333:user/ops/alice)"),
            "(arn:aws:iam::account-1:user/principal-4/principal-3)"
        );
    }
}
