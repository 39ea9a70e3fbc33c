//! CSV: one row per finding (PASS included), for spreadsheets and SIEM imports.
//!
//! The columns are a contract, like the JSON's field names: [`COLUMNS`] only grows at the
//! end. Provenance is repeated on each row so a row copied elsewhere still says which run and
//! which rules produced it.

use crate::report::Report;

/// The header row, in order.
pub const COLUMNS: [&str; 14] = [
    "job_id",
    "verdict",
    "rule_id",
    "status",
    "severity",
    "object",
    "message",
    "evidence",
    "muted",
    "mute_reason",
    "mute_expires",
    "generated_at",
    "tool_version",
    "rules_sha256",
];

pub fn render(report: &Report) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let generated = crate::model::rfc3339(report.generated_at);
    w.write_record(COLUMNS).expect("writing to memory");
    for j in &report.jobs {
        for f in &j.findings {
            let evidence: Vec<String> = f.evidence.iter().map(|e| e.to_string()).collect();
            let row: [String; COLUMNS.len()] = [
                j.job_id.0.clone(),
                j.verdict.label().to_owned(),
                f.rule_id.clone(),
                f.status.to_string(),
                f.severity.to_string(),
                f.object.clone().unwrap_or_default(),
                f.message.clone(),
                evidence.join("; "),
                f.muted.is_some().to_string(),
                f.muted
                    .as_ref()
                    .map(|m| m.reason.clone())
                    .unwrap_or_default(),
                f.muted
                    .as_ref()
                    .and_then(|m| m.expires)
                    .map(crate::model::rfc3339)
                    .unwrap_or_default(),
                generated.clone(),
                report.tool.version.to_owned(),
                report.tool.rules_sha256.clone(),
            ];
            w.write_record(&row).expect("writing to memory");
        }
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8 in, UTF-8 out")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::demo_report;

    #[test]
    fn one_row_per_finding_with_quoting_that_round_trips() {
        let mut report = demo_report();
        let tricky = "a \"quoted\", multi\nline message";
        report.jobs[0].findings[0].finding.message = tricky.into();
        let text = render(&report);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap(),
            &::csv::StringRecord::from(COLUMNS.to_vec())
        );
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        let findings: usize = report.jobs.iter().map(|j| j.findings.len()).sum();
        assert_eq!(rows.len(), findings);
        assert_eq!(&rows[0][6], tricky);
        assert_eq!(&rows[0][0], report.jobs[0].job_id.0.as_str());
        assert!(rows.iter().any(|r| &r[3] == "FAIL" && &r[1] == "FAIL"));
        assert!(rows.iter().all(|r| r[13].len() == 64));
    }
}
