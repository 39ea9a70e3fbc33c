//! A self-contained HTML page: inline CSS and SVG, no scripts, no external assets, every piece
//! of evidence text escaped. The summary first, each row linking to its job; then the jobs worst
//! verdict first, each with its header, findings (worst first), a lifecycle timeline chart and
//! the lifecycle table, folded for PASS jobs; then skipped evidence, the mute list and
//! provenance. One function per section, so a new section is one more call in [`render`] or
//! [`job_body`].
//!
//! Identifiers (row numbers, timestamps, rule ids, statuses) never wrap; ARNs, URIs and other
//! long evidence text wrap after `/` and `:` first (`<wbr>`), anywhere only when a piece is
//! still too long for its column.

mod chart;

use std::fmt::Write as _;

use super::{escape_xml as esc, provenance, rules_not_passed};
use crate::model::rfc3339;
use crate::report::{JobReport, Report, Verdict};
use crate::rules::Status;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;line-height:1.35}\
h1{margin:0 0 .3em}h2{margin:1.2em 0 .4em}h3{margin:1em 0 .3em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.9em}\
th{background:#f3f3f3;white-space:nowrap}td{white-space:pre-wrap}\
td.id,td.st{white-space:pre}td.long,dd{overflow-wrap:anywhere}\
.PASS{color:#1a7f37}.FAIL{color:#cf222e}.INCONCLUSIVE{color:#9a6700}.st{font-weight:bold}\
.badge{display:inline-block;padding:0 .35em;border-radius:.2em;color:#fff;font-weight:bold;white-space:nowrap}\
.badge.PASS{background:#1a7f37}.badge.FAIL{background:#cf222e}.badge.INCONCLUSIVE{background:#9a6700}\
.muted{color:#666;font-style:italic}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em 1em}dt{font-weight:bold}dd{margin:0}\
details>summary{cursor:pointer;font-weight:bold;margin:.5em 0}\
svg.chart{display:block;width:100%;max-width:72em;height:auto;margin:.5em 0}\
svg.chart text{font-size:12px;fill:#222}svg.chart .axis{stroke:#888}svg.chart .lane{stroke:#e4e4e4}\
svg.chart .PASS{fill:#1a7f37}svg.chart .FAIL{fill:#cf222e}svg.chart .INCONCLUSIVE{fill:#9a6700}\
svg.chart .none{fill:#fff;stroke:#666;stroke-width:1.5}\
@media print{body{margin:0;font-size:10pt}*{print-color-adjust:exact;-webkit-print-color-adjust:exact}\
details::details-content{content-visibility:visible;display:block}details>summary{display:none}\
a{color:inherit;text-decoration:none}h2,h3{break-after:avoid}tr,svg.chart{break-inside:avoid}\
svg.chart{max-width:100%}}";

/// How a column's text may wrap.
#[derive(Clone, Copy)]
enum Col {
    /// Row numbers, timestamps, rule ids, severities: never wrapped (lines kept).
    Id,
    /// A status: never wrapped, coloured by the status it names.
    Status,
    /// Prose: wraps between words.
    Text,
    /// ARNs, URIs, keys and evidence ids: wrap after `/` and `:`, anywhere only if needed.
    Long,
}

/// The lifecycle table's columns ([`super::LIFECYCLE_COLUMNS`]) as they wrap.
const LIFECYCLE_COLS: [Col; super::LIFECYCLE_COLUMNS.len()] = [
    Col::Id,
    Col::Id,
    Col::Long,
    Col::Long,
    Col::Long,
    Col::Status,
    Col::Long,
];

/// The findings table's columns ([`super::FINDING_COLUMNS`]) as they wrap.
const FINDING_COLS: [Col; super::FINDING_COLUMNS.len()] = [
    Col::Status,
    Col::Id,
    Col::Id,
    Col::Long,
    Col::Long,
    Col::Text,
];

/// Escaped text with a line-break opportunity after each `/`, and after each `:` not followed
/// by a digit (so times like `08:36:54Z` never break).
fn esc_long(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::with_capacity(escaped.len() + escaped.len() / 8);
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let digit_next = chars.peek().is_some_and(char::is_ascii_digit);
        if c == '/' || (c == ':' && !digit_next) {
            out.push_str("<wbr>");
        }
    }
    out
}

/// The status a cell's text starts with, for its colour.
fn status_class(text: &str) -> Option<&'static str> {
    match text.split(' ').next().unwrap_or_default() {
        "PASS" => Some("PASS"),
        "FAIL" => Some("FAIL"),
        "INCONCLUSIVE" => Some("INCONCLUSIVE"),
        _ => None,
    }
}

fn td(col: Col, text: &str) -> String {
    match col {
        Col::Id => format!("<td class=\"id\">{}</td>", esc(text)),
        Col::Status => match status_class(text) {
            Some(c) => format!("<td class=\"st {c}\">{}</td>", esc(text)),
            None => format!("<td class=\"st\">{}</td>", esc(text)),
        },
        Col::Text => format!("<td>{}</td>", esc(text)),
        Col::Long => format!("<td class=\"long\">{}</td>", esc_long(text)),
    }
}

/// A table; each row is its optional `id` and its cells' HTML.
fn table(
    out: &mut String,
    head: &[&str],
    rows: impl IntoIterator<Item = (Option<String>, String)>,
) {
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (id, cells) in rows {
        match id {
            Some(id) => {
                let _ = write!(out, "<tr id=\"{}\">", esc(&id));
            }
            None => out.push_str("<tr>"),
        }
        out.push_str(&cells);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// A row's cells from its text, each column wrapping as `cols` says.
fn cells(cols: &[Col], texts: &[String]) -> String {
    cols.iter().zip(texts).map(|(&c, t)| td(c, t)).collect()
}

fn facts(out: &mut String, items: &[(&str, String)]) {
    out.push_str("<dl>\n");
    for (k, v) in items {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc_long(v));
    }
    out.push_str("</dl>\n");
}

fn badge(v: &str) -> String {
    format!("<span class=\"badge {v}\">{v}</span>")
}

/// The anchor of the `n`th job shown (0-based, in [`super::jobs_by_verdict`] order).
fn anchor(n: usize) -> String {
    format!("job-{}", n + 1)
}

fn head(out: &mut String, report: &Report) {
    let s = &report.summary;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Textract audit report {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>Textract audit report</h1>\n<p>{} job(s): {} pass, {} fail, {} inconclusive; {} finding(s) muted; {} evidence item(s) skipped. Exit code {}.</p>\n",
        esc(&rfc3339(report.generated_at)),
        s.jobs,
        s.pass,
        s.fail,
        s.inconclusive,
        s.muted,
        s.skipped_evidence,
        s.exit_code
    );
}

/// `2 FAIL, 1 INCONCLUSIVE, 18 PASS`: how many findings of each status a job has.
fn finding_counts(j: &JobReport) -> String {
    [Status::Fail, Status::Inconclusive, Status::Pass]
        .into_iter()
        .filter_map(|s| {
            let n = j.findings.iter().filter(|f| f.status == s).count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(out: &mut String, jobs: &[&JobReport]) {
    out.push_str("<h2 id=\"summary\">Summary</h2>\n");
    if jobs.is_empty() {
        out.push_str("<p>No Textract jobs found in the evidence.</p>\n");
        return;
    }
    table(
        out,
        &["Job", "Verdict", "Rules not passed", "Findings"],
        jobs.iter().enumerate().map(|(n, j)| {
            let v = j.verdict.label();
            let cells = format!(
                "<td class=\"long\"><a href=\"#{}\"><code>{}</code></a></td><td class=\"st {v}\">{v}</td>{}{}",
                anchor(n),
                esc_long(&j.job_id.0),
                td(Col::Id, &rules_not_passed(j).join("\n")),
                td(Col::Text, &finding_counts(j)),
            );
            (None, cells)
        }),
    );
}

fn job(out: &mut String, anchor: &str, j: &JobReport) {
    let v = j.verdict.label();
    let _ = writeln!(
        out,
        "<section id=\"{anchor}\" class=\"job\"><h2>Job <code>{}</code> {}</h2>",
        esc_long(&j.job_id.0),
        badge(v)
    );
    facts(out, &super::job_facts(j));
    // A PASS job's details are folded; what did not pass is open (and every job in print).
    let open = if j.verdict == Verdict::Pass {
        ""
    } else {
        " open"
    };
    let _ = writeln!(
        out,
        "<details{open}><summary>Findings and lifecycle ({} finding(s), {} lifecycle row(s))</summary>",
        j.findings.len(),
        j.timeline.len()
    );
    job_body(out, anchor, j);
    out.push_str("</details>\n</section>\n");
}

/// What a job's `<details>` holds, section by section.
fn job_body(out: &mut String, anchor: &str, j: &JobReport) {
    job_findings(out, j);
    job_lifecycle(out, anchor, j);
    job_readers(out, j);
    job_possible(out, j);
    job_proof(out, j);
}

fn job_possible(out: &mut String, j: &JobReport) {
    let Some(p) = &j.possible_readers else {
        return;
    };
    let _ = writeln!(out, "<h3>{}</h3>", esc(super::POSSIBLE_TITLE));
    let cols = [Col::Id, Col::Long, Col::Long];
    table(
        out,
        &super::POSSIBLE_COLUMNS,
        super::possible_rows(p)
            .iter()
            .map(|r| (None, cells(&cols, r))),
    );
    out.push_str("<ul>\n");
    for line in super::possible_lines(p) {
        let _ = writeln!(out, "<li>{}</li>", esc_long(&line));
    }
    out.push_str("</ul>\n");
}

fn job_readers(out: &mut String, j: &JobReport) {
    if j.readers.is_empty() {
        let _ = writeln!(out, "<p>{}.</p>", esc(super::NO_READERS));
        return;
    }
    out.push_str("<h3>Readers</h3>\n");
    let cols = [
        Col::Long,
        Col::Id,
        Col::Id,
        Col::Long,
        Col::Id,
        Col::Id,
        Col::Text,
    ];
    table(
        out,
        &super::READER_COLUMNS,
        super::reader_rows(j)
            .iter()
            .map(|r| (None, cells(&cols, r))),
    );
}

fn job_findings(out: &mut String, j: &JobReport) {
    if j.findings.is_empty() {
        return;
    }
    out.push_str("<h3>Findings</h3>\n");
    table(
        out,
        &super::FINDING_COLUMNS,
        super::findings_by_status(j)
            .into_iter()
            .map(|f| (None, cells(&FINDING_COLS, &super::finding_row(f)))),
    );
}

fn job_lifecycle(out: &mut String, anchor: &str, j: &JobReport) {
    if j.timeline.is_empty() {
        out.push_str("<p>Lifecycle: no records of this job in the evidence.</p>\n");
        return;
    }
    out.push_str("<h3>Lifecycle</h3>\n");
    out.push_str(&chart::lifecycle(j, anchor));
    table(
        out,
        &super::LIFECYCLE_COLUMNS,
        super::lifecycle_rows(j).iter().enumerate().map(|(i, r)| {
            (
                Some(chart::row_anchor(anchor, i)),
                cells(&LIFECYCLE_COLS, r),
            )
        }),
    );
}

fn job_proof(out: &mut String, j: &JobReport) {
    if j.proof.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p>Passed on {} piece(s) of evidence:</p><ul>",
        j.proof.len()
    );
    for p in &j.proof {
        let _ = writeln!(out, "<li>{}</li>", esc_long(&p.to_string()));
    }
    out.push_str("</ul>\n");
}

fn skipped(out: &mut String, report: &Report) {
    if report.evidence.skipped.is_empty() {
        return;
    }
    out.push_str("<h2>Skipped evidence</h2>\n");
    let cols = [Col::Long, Col::Text];
    table(
        out,
        &["Evidence", "Reason"],
        report
            .evidence
            .skipped
            .iter()
            .map(|p| (None, cells(&cols, &[p.subject.clone(), p.reason.clone()]))),
    );
}

fn allowed_readers(out: &mut String, report: &Report) {
    let Some(a) = &report.allowed_readers else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2>Allowed readers <code>{}</code></h2>",
        esc_long(&a.file)
    );
    let cols = [Col::Id, Col::Id, Col::Id, Col::Id, Col::Text, Col::Id];
    table(
        out,
        &super::ALLOWED_READER_COLUMNS,
        super::allowed_reader_rows(a)
            .iter()
            .map(|r| (None, cells(&cols, r))),
    );
}

fn mutelist(out: &mut String, report: &Report) {
    let Some(m) = &report.mutelist else { return };
    let _ = writeln!(out, "<h2>Mute list <code>{}</code></h2>", esc_long(&m.file));
    let cols = [Col::Id, Col::Id, Col::Id, Col::Text, Col::Id];
    table(
        out,
        &["Entry", "State", "Matched", "Reason", "Expires"],
        m.entries.iter().map(|e| {
            let row = [
                e.entry.index.to_string(),
                e.state.label().into(),
                e.matched.to_string(),
                e.entry.reason.clone(),
                e.entry.expires.map(rfc3339).unwrap_or_default(),
            ];
            (None, cells(&cols, &row))
        }),
    );
}

pub fn render(report: &Report) -> String {
    let jobs = super::jobs_by_verdict(report);
    let mut out = String::new();
    head(&mut out, report);
    summary(&mut out, &jobs);
    for (n, j) in jobs.iter().enumerate() {
        job(&mut out, &anchor(n), j);
    }
    skipped(&mut out, report);
    mutelist(&mut out, report);
    allowed_readers(&mut out, report);
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
        // Hostile text in what the chart's marks and the lifecycle table show.
        let row = &mut report.jobs[0].timeline[0];
        row.actor = "arn:aws:iam::1:role/x</svg><script>alert(2)</script>".into();
        row.key = Some("k\"><script>alert(3)</script>".into());
        row.object = Some("s3://b/</title><script>alert(4)</script>".into());
        let html = render(&report);
        assert!(!html.contains("<script"), "evidence text is escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert_eq!(html.matches("</svg>").count(), html.matches("<svg").count());
        for external in ["src=", "@import", "url("] {
            assert!(!html.contains(external), "no external asset: {external}");
        }
        for link in html.split("href=\"").skip(1) {
            assert!(link.starts_with('#'), "links stay in the page: {link:.40}");
        }
        assert_eq!(html.matches("<section id=").count(), report.jobs.len());
        assert!(html.contains(&report.tool.rules_sha256));
        assert!(html.contains("<h3>Lifecycle</h3>"));
    }
}
