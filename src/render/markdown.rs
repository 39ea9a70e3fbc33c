//! Markdown for tickets and wikis (GitHub-flavoured tables): the summary, then per job its
//! header, lifecycle table and findings, then skipped evidence, the mute list and provenance.
//!
//! Cell text is escaped so evidence cannot break a table or inject markup: `|` and
//! backslashes are escaped, `<`, `>` and `&` become entities, newlines become `<br>`.

use std::fmt::Write as _;

use super::{provenance, rules_not_passed};
use crate::model::rfc3339;
use crate::report::{JobReport, Report};

/// Escapes text for a table cell or a line of prose.
pub(crate) fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            '*' => out.push_str("\\*"),
            '_' => out.push_str("\\_"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", cell(c));
    }
    out.push('\n');
}

fn header(out: &mut String, names: &[&str]) {
    row(
        out,
        &names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    out.push('|');
    for _ in names {
        out.push_str("---|");
    }
    out.push('\n');
}

fn job(out: &mut String, j: &JobReport) {
    let _ = writeln!(
        out,
        "\n## Job {}: {}\n",
        cell(&j.job_id.0),
        j.verdict.label()
    );
    let facts = super::job_facts(j);
    for (k, v) in facts {
        let _ = writeln!(out, "- **{k}**: {}", cell(&v));
    }
    if j.timeline.is_empty() {
        out.push_str("\nLifecycle: no records of this job in the evidence.\n");
    } else {
        out.push_str("\n### Lifecycle\n\n");
        header(out, &super::LIFECYCLE_COLUMNS);
        for r in super::lifecycle_rows(j) {
            row(out, &r);
        }
    }
    if j.readers.is_empty() {
        let _ = writeln!(out, "\n{}.", super::NO_READERS);
    } else {
        out.push_str("\n### Readers\n\n");
        header(out, &super::READER_COLUMNS);
        for r in super::reader_rows(j) {
            row(out, &r);
        }
    }
    if let Some(p) = &j.possible_readers {
        let _ = writeln!(out, "\n### {}\n", super::POSSIBLE_TITLE);
        header(out, &super::POSSIBLE_COLUMNS);
        for r in super::possible_rows(p) {
            row(out, &r);
        }
        out.push('\n');
        for line in super::possible_lines(p) {
            let _ = writeln!(out, "- {}", cell(&line));
        }
    }
    if !j.findings.is_empty() {
        out.push_str("\n### Findings\n\n");
        header(out, &super::FINDING_COLUMNS);
        for r in super::finding_rows(j) {
            row(out, &r);
        }
    }
    if !j.proof.is_empty() {
        let _ = writeln!(out, "\nPassed on {} piece(s) of evidence:\n", j.proof.len());
        for p in &j.proof {
            let _ = writeln!(out, "- {}", cell(&p.to_string()));
        }
    }
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "# Textract audit report\n\n{} job(s): {} pass, {} fail, {} inconclusive; {} finding(s) muted; {} evidence item(s) skipped. Exit code {}.\n\n## Summary\n\n",
        s.jobs, s.pass, s.fail, s.inconclusive, s.muted, s.skipped_evidence, s.exit_code
    );
    if report.jobs.is_empty() {
        out.push_str("No Textract jobs found in the evidence.\n");
    } else {
        header(&mut out, &["Job", "Verdict", "Rules not passed"]);
        for j in &report.jobs {
            row(
                &mut out,
                &[
                    j.job_id.0.clone(),
                    j.verdict.label().into(),
                    rules_not_passed(j).join(", "),
                ],
            );
        }
    }
    for j in &report.jobs {
        job(&mut out, j);
    }
    if !report.evidence.skipped.is_empty() {
        out.push_str("\n## Skipped evidence\n\n");
        header(&mut out, &["Evidence", "Reason"]);
        for p in &report.evidence.skipped {
            row(&mut out, &[p.subject.clone(), p.reason.clone()]);
        }
    }
    if let Some(m) = &report.mutelist {
        let _ = writeln!(out, "\n## Mute list {}\n", cell(&m.file));
        header(
            &mut out,
            &["Entry", "State", "Matched", "Reason", "Expires"],
        );
        for e in &m.entries {
            row(
                &mut out,
                &[
                    e.entry.index.to_string(),
                    e.state.label().into(),
                    e.matched.to_string(),
                    e.entry.reason.clone(),
                    e.entry.expires.map(rfc3339).unwrap_or_default(),
                ],
            );
        }
    }
    if let Some(a) = &report.allowed_readers {
        let _ = writeln!(out, "\n## Allowed readers {}\n", cell(&a.file));
        header(&mut out, &super::ALLOWED_READER_COLUMNS);
        for r in super::allowed_reader_rows(a) {
            row(&mut out, &r);
        }
    }
    out.push_str("\n## Provenance\n\n");
    for (k, v) in provenance(report) {
        let _ = writeln!(out, "- **{k}**: {}", cell(&v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::demo_report;

    #[test]
    fn cells_cannot_break_tables_or_inject_markup() {
        assert_eq!(cell("a|b\n<script>"), "a\\|b<br>&lt;script&gt;");
    }

    #[test]
    fn every_job_has_its_sections_and_rows_have_equal_columns() {
        let report = demo_report();
        let md = render(&report);
        for j in &report.jobs {
            assert!(md.contains(&format!("## Job {}: {}", j.job_id, j.verdict.label())));
        }
        assert!(md.contains(&report.tool.rules_sha256));
        for block in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let widths: Vec<usize> = block
                .lines()
                .map(|l| l.replace("\\|", "").matches('|').count())
                .collect();
            assert!(widths.windows(2).all(|w| w[0] == w[1]), "{block}");
        }
    }
}
