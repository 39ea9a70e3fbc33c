//! Tables for people: per job a header, the lifecycle table, the findings; then a summary.

use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::{Style, checks, provenance, rules_not_passed, status_label};
use crate::model::rfc3339;
use crate::report::{JobReport, Report, Verdict};
use crate::rules::Status;

fn table(style: Style, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width)
        .set_header(header.iter().map(Cell::new));
    if !style.color {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t
}

/// Keeps these columns at their content's width (times, numbers, statuses never wrap).
fn fit_content(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
}

fn status_cell(label: &str, style: Style) -> Cell {
    let cell = Cell::new(label);
    if !style.color {
        return cell;
    }
    match label {
        "PASS" => cell.fg(Color::Green),
        "FAIL" => cell.fg(Color::Red),
        "INCONCLUSIVE" => cell.fg(Color::Yellow),
        _ => cell,
    }
}

fn job(out: &mut String, j: &JobReport, style: Style) {
    let _ = writeln!(out, "Job {}  {}", j.job_id, j.verdict.label());
    let head = super::job_facts(j);
    for (k, v) in head {
        for (i, line) in v.lines().enumerate() {
            let _ = writeln!(out, "  {:<13} {line}", if i == 0 { k } else { "" });
        }
    }

    // Object keys are shown relative to the job folder the header names.
    let folder = super::folder_key(j);
    let short = |o: &str| -> String {
        folder
            .and_then(|f| o.strip_prefix(f))
            .unwrap_or(o)
            .to_owned()
    };
    let mut life = table(
        style,
        &[
            "#",
            "Time (UTC)",
            "Action / actor",
            "Object",
            "Encryption / key",
            "Check",
        ],
    );
    fit_content(&mut life, &[0, 1, 5]);
    for (col, min) in [(2, 28), (3, 14), (4, 18)] {
        if let Some(c) = life.column_mut(col) {
            c.set_constraint(comfy_table::ColumnConstraint::LowerBoundary(
                comfy_table::Width::Fixed(min),
            ));
        }
    }
    let mut legend = String::new();
    let checks = checks(&j.findings);
    for (i, e) in j.timeline.iter().enumerate() {
        let n = i + 1;
        let enc = match (&e.encryption, &e.key) {
            (Some(enc), Some(k)) => format!("{enc}\n{k}"),
            (Some(enc), None) => enc.clone(),
            (None, Some(k)) => k.clone(),
            (None, None) => String::new(),
        };
        let check = checks
            .get(&e.evidence)
            .map(|s| s.to_string())
            .unwrap_or_default();
        life.add_row(vec![
            Cell::new(n),
            Cell::new(e.time.map(rfc3339).unwrap_or_default()),
            Cell::new(format!("{}\nby {}", e.action, e.actor)),
            Cell::new(e.object.as_deref().map(&short).unwrap_or_default()),
            Cell::new(enc),
            status_cell(&check, style),
        ]);
        let _ = writeln!(legend, "  [{n}] {}", e.evidence);
    }
    if j.timeline.is_empty() {
        let _ = writeln!(out, "Lifecycle: no records of this job in the evidence");
    } else {
        let _ = writeln!(out, "Lifecycle\n{life}\nEvidence\n{legend}");
    }

    readers(out, j, style);

    let mut f = table(style, &["Check", "Rule", "Severity", "Finding"]);
    fit_content(&mut f, &[0, 2]);
    for x in j.findings.iter().filter(|f| f.status != Status::Pass) {
        let msg = match &x.object {
            Some(o) if !x.message.contains(o.as_str()) => format!(
                "{}: {}",
                short(
                    o.strip_prefix("s3://")
                        .and_then(|p| p.split_once('/'))
                        .map(|p| p.1)
                        .unwrap_or(o)
                ),
                x.message
            ),
            _ => x.message.clone(),
        };
        let msg = match &x.muted {
            Some(m) => format!("{msg}\nmuted: {}", m.reason),
            None => msg,
        };
        f.add_row(vec![
            status_cell(&status_label(x), style),
            Cell::new(&x.rule_id),
            Cell::new(super::severity_label(x)),
            Cell::new(msg),
        ]);
    }
    if f.row_count() > 0 {
        let _ = writeln!(out, "Findings\n{f}");
    }
    if j.verdict == Verdict::Pass {
        let _ = writeln!(out, "Passed on {} piece(s) of evidence:", j.proof.len());
        for p in &j.proof {
            let _ = writeln!(out, "  - {p}");
        }
    }
    let passed = super::rules_passed(j);
    if !passed.is_empty() && j.verdict != Verdict::Pass {
        let _ = writeln!(out, "Passed: {}", passed.join(", "));
    }
    out.push('\n');
}

/// Who read the job's results, one row per principal.
fn readers(out: &mut String, j: &JobReport, style: Style) {
    if j.readers.is_empty() {
        let _ = writeln!(out, "{}", super::NO_READERS);
        return;
    }
    // The shared columns folded into four, to fit a terminal: first and last read in one
    // cell, the source addresses and services under how.
    let mut t = table(
        style,
        &[
            "Principal",
            "Read (UTC)",
            "Objects read",
            "How / from / via",
        ],
    );
    fit_content(&mut t, &[1]);
    for r in super::reader_rows(j) {
        let [principal, first, last, objects, how, ips, via] = &r[..] else {
            unreachable!("{} reader columns", super::READER_COLUMNS.len())
        };
        let when = if first == last {
            first.clone()
        } else {
            format!("{first}\n{last}")
        };
        let mut how = how.clone();
        for (label, v) in [("from", ips), ("via", via)] {
            for line in v.lines() {
                how.push_str(&format!("\n{label} {line}"));
            }
        }
        t.add_row(vec![principal.clone(), when, objects.clone(), how]);
    }
    let _ = writeln!(out, "Readers\n{t}");
}

/// The whole report as text.
pub fn render(report: &Report, style: Style) -> String {
    let mut out = String::new();
    for j in &report.jobs {
        job(&mut out, j, style);
    }
    if report.jobs.is_empty() {
        out.push_str("No Textract jobs found in the evidence.\n\n");
    }
    if !report.evidence.skipped.is_empty() {
        let mut t = table(style, &["Skipped evidence", "Reason"]);
        for p in &report.evidence.skipped {
            t.add_row(vec![p.subject.as_str(), p.reason.as_str()]);
        }
        let _ = writeln!(out, "{t}\n");
    }
    if let Some(i) = &report.integrity {
        integrity(&mut out, i, style);
    }
    let mut s = table(style, &["Job", "Verdict", "Rules not passed"]);
    fit_content(&mut s, &[0, 1]);
    for j in &report.jobs {
        s.add_row(vec![
            Cell::new(&j.job_id),
            status_cell(j.verdict.label(), style),
            Cell::new(rules_not_passed(j).join("\n")),
        ]);
    }
    let sum = &report.summary;
    let _ = writeln!(
        out,
        "Summary\n{s}\n{} job(s): {} pass, {} fail, {} inconclusive; {} CloudTrail record(s) read, {} evidence item(s) skipped. Evidence captured {}.",
        sum.jobs,
        sum.pass,
        sum.fail,
        sum.inconclusive,
        report.evidence.cloudtrail_records,
        sum.skipped_evidence,
        rfc3339(report.evidence.captured_at),
    );
    if let Some(m) = &report.mutelist {
        let mut t = table(style, &["Mute entry", "State", "Matched", "Reason"]);
        fit_content(&mut t, &[0, 1, 2]);
        for e in &m.entries {
            t.add_row(vec![
                Cell::new(e.entry.index),
                Cell::new(e.state.label()),
                Cell::new(e.matched),
                Cell::new(&e.entry.reason),
            ]);
        }
        let _ = writeln!(
            out,
            "\nMute list {} ({} finding(s) muted)\n{t}",
            m.file, sum.muted
        );
    }
    if let Some(a) = &report.allowed_readers {
        let mut t = table(style, &super::ALLOWED_READER_COLUMNS);
        fit_content(&mut t, &[0, 1, 2, 3, 5]);
        for r in super::allowed_reader_rows(a) {
            t.add_row(r);
        }
        let _ = writeln!(out, "\nAllowed readers {}\n{t}", a.file);
    }
    out.push_str("\nProvenance\n");
    for (k, v) in provenance(report) {
        let _ = writeln!(out, "  {k:<18} {v}");
    }
    out
}

/// The run's digest validation: one summary line, then every problem by name.
fn integrity(out: &mut String, i: &crate::integrity::run::RunIntegrity, style: Style) {
    let r = &i.report;
    let mode = serde_json::to_value(i.mode).unwrap_or_default();
    let _ = writeln!(
        out,
        "Log file integrity (--integrity {}): {} digest(s) found, {} verified with {} trusted key(s); {} log file(s) validated, {} not covered, {} hash mismatch(es), {} listed but missing, {} chain gap(s), {} bad signature(s), {} unknown key(s).",
        mode.as_str().unwrap_or_default(),
        r.digests_found,
        r.digests_verified,
        i.trusted_keys,
        r.files_validated.len(),
        r.files_not_covered.len(),
        r.hash_mismatches.len(),
        r.listed_but_missing.len(),
        r.chain_gaps.len(),
        r.bad_signatures.len(),
        r.unknown_keys.len(),
    );
    if r.digests_found == 0 && !r.files_not_covered.is_empty() {
        let _ = writeln!(
            out,
            "No digests, not validated: the {} log file(s) read are taken as read.",
            r.files_not_covered.len()
        );
    }
    let mut t = table(style, &["Integrity problem", "Subject", "Detail"]);
    fit_content(&mut t, &[0]);
    let mut rows = 0;
    let mut row = |kind: &str, subject: &str, detail: String| {
        t.add_row(vec![kind, subject, detail.as_str()]);
        rows += 1;
    };
    for m in &r.hash_mismatches {
        row(
            "hash mismatch",
            &m.file,
            format!("{} lists SHA-256 {}", m.digest, m.expected),
        );
    }
    for c in &r.conflicts {
        row("conflict", &c.file, c.digests.join(", "));
    }
    for m in &r.listed_but_missing {
        row(
            "listed but missing",
            &m.file,
            format!("listed in {}", m.digest),
        );
    }
    for g in &r.chain_gaps {
        row(
            "chain gap",
            &g.before,
            format!(
                "{} from {} to {}: {}",
                g.chain,
                g.from.map_or("its start".into(), rfc3339),
                rfc3339(g.until),
                crate::integrity::run::gap_cause(&g.cause)
            ),
        );
    }
    for (kind, list) in [
        ("bad signature", &r.bad_signatures),
        ("unknown key", &r.unknown_keys),
        ("unusable digest", &r.unusable_digests),
    ] {
        for d in list {
            let why = d
                .fault
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            row(kind, &d.digest, why);
        }
    }
    for k in &r.rejected_keys {
        row(
            "rejected key",
            &k.fingerprint,
            format!("{}: {}", k.origin, k.reason),
        );
    }
    if rows > 0 {
        let _ = writeln!(out, "{t}");
    }
    out.push('\n');
}

/// `textract-audit rules`: one line per rule.
pub fn rules_list(rules: &crate::rules::RuleSet, style: Style) -> String {
    let mut t = table(style, &["Rule", "Severity", "Title"]);
    for r in &rules.rules {
        t.add_row(vec![
            Cell::new(&r.id),
            Cell::new(r.severity),
            Cell::new(&r.title),
        ]);
    }
    format!("{t}\n")
}

/// `textract-audit rules show ID`.
pub fn rule_detail(rule: &crate::rules::Rule, rules: &crate::rules::RuleSet) -> String {
    let mut out = format!("{}: {}\nSeverity: {}", rule.id, rule.title, rule.severity);
    if let Some(s) = rule.severity_if_stronger {
        let _ = write!(
            out,
            " ({s} when the deviation is toward stronger protection)"
        );
    }
    let _ = write!(
        out,
        "\nFile: rules/{}\n\nRationale\n{}\n\nRemediation\n{}\n\nReferences\n",
        rule.file, rule.rationale, rule.remediation
    );
    for r in &rule.references {
        let _ = writeln!(out, "  {r}");
    }
    if rule.id == "documented-mode" {
        out.push_str("\nDocumented table (OutputConfig x KMSKeyId)\n");
        for row in &rules.table {
            let _ = writeln!(
                out,
                "  OutputConfig {:<3}  KMSKeyId {:<3}  -> {}",
                if row.output_config { "yes" } else { "no" },
                if row.kms_key { "yes" } else { "no" },
                row.documented
            );
        }
    }
    out
}
