//! A self-contained HTML page: inline CSS, no scripts, no external assets, every piece of
//! evidence text escaped. The summary first, then per job its header, lifecycle table and
//! findings, then skipped evidence, the mute list and provenance.

use std::fmt::Write as _;

use super::{escape_xml as esc, provenance, rules_not_passed};
use crate::model::rfc3339;
use crate::report::{JobReport, Report};

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}\
th{background:#f3f3f3}td{white-space:pre-wrap;word-break:break-all}\
.PASS{color:#1a7f37;font-weight:bold}.FAIL{color:#cf222e;font-weight:bold}\
.INCONCLUSIVE{color:#9a6700;font-weight:bold}.muted{color:#666;font-style:italic}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}";

/// A `<td>`, with the status class when the text is a status.
fn td(text: &str) -> String {
    let class = text.split(' ').next().unwrap_or_default();
    if matches!(class, "PASS" | "FAIL" | "INCONCLUSIVE") {
        format!("<td class=\"{class}\">{}</td>", esc(text))
    } else {
        format!("<td>{}</td>", esc(text))
    }
}

fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            out.push_str(&td(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn facts(out: &mut String, items: &[(&str, String)]) {
    out.push_str("<dl>\n");
    for (k, v) in items {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    out.push_str("</dl>\n");
}

fn job(out: &mut String, j: &JobReport) {
    let v = j.verdict.label();
    let _ = writeln!(
        out,
        "<section><h2>Job <code>{}</code> <span class=\"{v}\">{v}</span></h2>",
        esc(&j.job_id.0)
    );
    let f = super::job_facts(j);
    facts(out, &f);
    if j.timeline.is_empty() {
        out.push_str("<p>Lifecycle: no records of this job in the evidence.</p>\n");
    } else {
        out.push_str("<h3>Lifecycle</h3>\n");
        table(out, &super::LIFECYCLE_COLUMNS, super::lifecycle_rows(j));
    }
    if !j.findings.is_empty() {
        out.push_str("<h3>Findings</h3>\n");
        table(out, &super::FINDING_COLUMNS, super::finding_rows(j));
    }
    if !j.proof.is_empty() {
        let _ = writeln!(
            out,
            "<p>Passed on {} piece(s) of evidence:</p><ul>",
            j.proof.len()
        );
        for p in &j.proof {
            let _ = writeln!(out, "<li>{}</li>", esc(&p.to_string()));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Textract audit report {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>Textract audit report</h1>\n<p>{} job(s): {} pass, {} fail, {} inconclusive; {} finding(s) muted; {} evidence item(s) skipped. Exit code {}.</p>\n<h2>Summary</h2>\n",
        esc(&rfc3339(report.generated_at)),
        s.jobs,
        s.pass,
        s.fail,
        s.inconclusive,
        s.muted,
        s.skipped_evidence,
        s.exit_code
    );
    if report.jobs.is_empty() {
        out.push_str("<p>No Textract jobs found in the evidence.</p>\n");
    } else {
        table(
            &mut out,
            &["Job", "Verdict", "Rules not passed"],
            report.jobs.iter().map(|j| {
                vec![
                    j.job_id.0.clone(),
                    j.verdict.label().into(),
                    rules_not_passed(j).join("\n"),
                ]
            }),
        );
    }
    for j in &report.jobs {
        job(&mut out, j);
    }
    if !report.evidence.skipped.is_empty() {
        out.push_str("<h2>Skipped evidence</h2>\n");
        table(
            &mut out,
            &["Evidence", "Reason"],
            report
                .evidence
                .skipped
                .iter()
                .map(|p| vec![p.subject.clone(), p.reason.clone()]),
        );
    }
    if let Some(m) = &report.mutelist {
        let _ = writeln!(out, "<h2>Mute list <code>{}</code></h2>", esc(&m.file));
        table(
            &mut out,
            &["Entry", "State", "Matched", "Reason", "Expires"],
            m.entries.iter().map(|e| {
                vec![
                    e.entry.index.to_string(),
                    e.state.label().into(),
                    e.matched.to_string(),
                    e.entry.reason.clone(),
                    e.entry.expires.map(rfc3339).unwrap_or_default(),
                ]
            }),
        );
    }
    out.push_str("<h2>Provenance</h2>\n");
    facts(&mut out, &provenance(report));
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::demo_report;

    #[test]
    fn self_contained_and_escaped() {
        let mut report = demo_report();
        report.jobs[0].findings[0].finding.message = "<script>alert(1)</script>".into();
        let html = render(&report);
        assert!(!html.contains("<script"), "evidence text is escaped");
        assert!(html.contains("&lt;script&gt;"));
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!html.contains(external), "no external asset: {external}");
        }
        assert_eq!(html.matches("<section>").count(), report.jobs.len());
        assert!(html.contains(&report.tool.rules_sha256));
        assert!(html.contains("<h3>Lifecycle</h3>"));
    }
}
