//! Stage 5: the report rendered for people (table, markdown, html) and pipelines (json, csv,
//! sarif, junit).
//!
//! Renderers read only the [`Report`]; none of them judge anything. Muting, `--fail-on` and
//! `--redact` were applied when the report was built, so every format says the same thing.

pub mod csv;
pub mod grid;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod table;

use std::collections::HashMap;
use std::io::{self, Write};

use clap::ValueEnum;

use crate::model::EvidenceRef;
use crate::model::rfc3339;
use crate::report::{
    AllowedReadersReport, JobReport, PolicyAnswerOut, PossibleOut, Report, ReportedFinding,
};
use crate::rules::{RuleSet, Status};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Format {
    /// Lifecycle tables and verdicts for people.
    Table,
    /// The versioned `textract-audit/v1` document.
    Json,
    /// One row per finding, stable columns (see README).
    Csv,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one testcase per job and rule.
    Junit,
    /// Markdown for tickets and wikis.
    Markdown,
    /// A self-contained HTML page.
    Html,
}

impl Format {
    /// The file extension used with `--output-dir` (`report.{ext}`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Junit => "xml",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }
}

/// How to draw tables.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colour (only on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Total width in columns.
    pub width: u16,
    /// Every job and every lifecycle row (`--verbose`), not only what did not pass.
    pub verbose: bool,
}

/// The facts of a job's header, in order, for every renderer: what was asked, what the table
/// says follows, and where the job was found.
pub fn job_facts(j: &JobReport) -> Vec<(&'static str, String)> {
    let mut facts: Vec<(&'static str, String)> = Vec::new();
    if let Some(a) = &j.account {
        facts.push(("Account", a.clone()));
    }
    if let Some(r) = &j.region {
        facts.push(("Region", r.clone()));
    }
    facts.push(("API", j.api.clone().unwrap_or_else(|| "unknown".into())));
    match &j.requested {
        Some(r) => {
            facts.push(("Started", format!("{} by {}", rfc3339(r.time), r.caller)));
            if let Some(d) = &r.document {
                facts.push(("Document", d.clone()));
            }
            facts.push((
                "OutputConfig",
                match &r.output {
                    Some(o) if r.output_prefix_defaulted => format!("{o} (default prefix)"),
                    Some(o) => o.clone(),
                    None => "none (results kept by Textract)".into(),
                },
            ));
            facts.push((
                "KMSKeyId",
                r.kms_key_id.clone().unwrap_or_else(|| "none".into()),
            ));
            if let Some(arn) = r
                .kms_key_arn
                .as_ref()
                .filter(|a| r.kms_key_id.as_ref() != Some(a))
            {
                facts.push(("Key ARN", arn.clone()));
            }
        }
        None => facts.push((
            "Requested",
            "unknown: no Start* record in the evidence".into(),
        )),
    }
    if let Some(e) = &j.expected {
        facts.push(("Expected", e.documented.clone()));
        if let Some(l) = &e.output_location {
            facts.push(("Job folder", l.clone()));
        }
    }
    if let Some(s) = &j.job_status {
        facts.push(("Job status", s.clone()));
    }
    if let Some(b) = &j.output_bucket {
        let unknown = || "not collected".to_owned();
        facts.push((
            "Bucket",
            format!(
                "default {}; versioning {}; public access {}",
                b.default_encryption.clone().unwrap_or_else(unknown),
                b.versioning.clone().unwrap_or_else(unknown),
                b.public_access.clone().unwrap_or_else(unknown),
            ),
        ));
    }
    if let Some(k) = &j.kms_key {
        facts.push((
            "Key state",
            format!(
                "{} ({} managed), rotation {}, policy {}",
                k.key_state,
                k.key_manager.to_lowercase(),
                match k.rotation_enabled {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "not collected",
                },
                if k.policy.is_some() {
                    "in the JSON report"
                } else {
                    "not collected"
                }
            ),
        ));
    }
    facts
}

/// Writes the report in one format to `out`. JSON is written as it is serialized; the other
/// formats are rendered whole first.
pub fn write(
    report: &Report,
    rules: &RuleSet,
    format: Format,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => json::write(report, out),
        _ => out.write_all(render(report, rules, format, style).as_bytes()),
    }
}

/// Renders the report in one format. SARIF needs the rules' metadata for its rule list.
pub fn render(report: &Report, rules: &RuleSet, format: Format, style: Style) -> String {
    match format {
        Format::Table => table::render(report, style),
        Format::Json => json::render(report),
        Format::Csv => csv::render(report),
        Format::Sarif => sarif::render(report, rules),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// How the findings judged one lifecycle row: the worst status among the findings that cite
/// its evidence (the "Check" column) and every rule that judged it, each at its worst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowCheck<'a> {
    pub worst: Status,
    /// `(rule, its worst status on this row)` in first-finding order; `n/a` findings left out.
    pub rules: Vec<(&'a str, Status)>,
}

impl RowCheck<'_> {
    /// The rules that judged the row, worst status first: `FAIL row2-aws-managed-key; PASS
    /// bucket-default-override, output-integrity`.
    pub fn rules_line(&self) -> String {
        let mut groups = Vec::new();
        for status in [Status::Fail, Status::Inconclusive, Status::Pass] {
            let ids: Vec<&str> = self
                .rules
                .iter()
                .filter(|(_, s)| *s == status)
                .map(|(r, _)| *r)
                .collect();
            if !ids.is_empty() {
                groups.push(format!("{status} {}", ids.join(", ")));
            }
        }
        groups.join("; ")
    }

    /// The cell of the document formats: one line per rule that judged the row, worst first
    /// (`FAIL row2-aws-managed-key`, then `PASS output-integrity`, …), so it starts with the
    /// row's worst status; the bare status when only `n/a` findings cite it.
    pub fn cell(&self) -> String {
        let mut rules = self.rules.clone();
        rules.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
        match rules.is_empty() {
            true => self.worst.to_string(),
            false => rules
                .iter()
                .map(|(r, s)| format!("{s} {r}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// For each piece of evidence, how the findings that cite it judged it (a lifecycle row's
/// "Check" column). Built once per job, so a row costs one lookup however many findings the
/// job has.
pub(crate) fn checks(findings: &[ReportedFinding]) -> HashMap<&EvidenceRef, RowCheck<'_>> {
    let mut rows: HashMap<&EvidenceRef, RowCheck<'_>> = HashMap::new();
    for f in findings {
        for ev in &f.evidence {
            let row = rows.entry(ev).or_insert(RowCheck {
                worst: f.status,
                rules: Vec::new(),
            });
            row.worst = row.worst.max(f.status);
            if f.status == Status::NotApplicable {
                continue;
            }
            match row.rules.iter_mut().find(|(r, _)| *r == f.rule_id) {
                Some((_, s)) => *s = (*s).max(f.status),
                None => row.rules.push((&f.rule_id, f.status)),
            }
        }
    }
    rows
}

/// The rules a job did not pass (FAIL or INCONCLUSIVE, muted or not), in report order.
pub(crate) fn rules_not_passed(j: &JobReport) -> Vec<&str> {
    let mut rules: Vec<&str> = Vec::new();
    for f in &j.findings {
        if matches!(f.status, Status::Fail | Status::Inconclusive)
            && !rules.contains(&f.rule_id.as_str())
        {
            rules.push(&f.rule_id);
        }
    }
    rules
}

/// The rules every finding of which passed, in first-finding order: a rule with one FAIL or
/// INCONCLUSIVE finding among PASS ones is not passed.
pub(crate) fn rules_passed(j: &JobReport) -> Vec<&str> {
    let not_passed = rules_not_passed(j);
    let mut rules: Vec<&str> = Vec::new();
    for f in &j.findings {
        let id = f.rule_id.as_str();
        if f.status == Status::Pass && !not_passed.contains(&id) && !rules.contains(&id) {
            rules.push(id);
        }
    }
    rules
}

/// A finding's status as shown, with `(muted)` when the mute list muted it.
pub(crate) fn status_label(f: &ReportedFinding) -> String {
    match &f.muted {
        Some(_) => format!("{} (muted)", f.status),
        None => f.status.to_string(),
    }
}

/// The report's provenance as labelled lines, the same in every format for people.
pub(crate) fn provenance(report: &Report) -> Vec<(&'static str, String)> {
    let e = &report.evidence;
    let c = &e.collected;
    let mut v = vec![
        (
            "Tool",
            format!("{} {}", report.tool.name, report.tool.version),
        ),
        ("Rules (SHA-256)", report.tool.rules_sha256.clone()),
        ("Generated", rfc3339(report.generated_at)),
        ("Evidence captured", rfc3339(e.captured_at)),
    ];
    if let Some(a) = &e.account {
        v.push(("Account", a.clone()));
    }
    if let Some(r) = &e.region {
        v.push(("Region", r.clone()));
    }
    v.push((
        "CloudTrail window",
        match &e.cloudtrail_window {
            Some(w) => format!("{} to {}", rfc3339(w.from), rfc3339(w.until)),
            None => "unknown (no job is covered)".into(),
        },
    ));
    for s in &e.sources {
        v.push(("Source", s.clone()));
    }
    v.push((
        "Read",
        format!(
            "{} CloudTrail record(s), {} trail configuration(s), {} job status(es), {} prefix listing(s), {} object head(s), {} bucket(s), {} KMS key(s), {}",
            e.cloudtrail_records,
            c.trails,
            c.job_statuses,
            c.prefix_listings,
            c.object_heads,
            c.buckets,
            c.kms_keys,
            match c.kms_aliases {
                Some(n) => format!("{n} KMS alias(es)"),
                None => "KMS aliases not listed".into(),
            }
        ),
    ));
    v.push(("Skipped evidence", format!("{} item(s)", e.skipped.len())));
    let o = &report.options;
    v.push((
        "Fail on",
        match o.fail_on {
            Some(s) => format!("FAIL findings of severity {s} or higher"),
            None => "any FAIL finding".into(),
        },
    ));
    if let Some(m) = &o.mutelist {
        v.push(("Mute list", m.clone()));
    }
    if let Some(a) = &o.allowed_readers {
        v.push(("Allowed readers", a.clone()));
    }
    if o.redacted {
        v.push((
            "Redacted",
            "account ids and principal names replaced by placeholders".into(),
        ));
    }
    v
}

/// Escapes text for XML and HTML content and attribute values, dropping the characters
/// XML 1.0 cannot carry at all.
pub(crate) fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The lifecycle table's columns in the document formats (markdown, html).
pub const LIFECYCLE_COLUMNS: [&str; 7] = [
    "#",
    "Time (UTC)",
    "Action / actor",
    "Object",
    "Encryption / key",
    "Check",
    "Evidence",
];

/// One row per timeline entry, in [`LIFECYCLE_COLUMNS`] order (multi-line cells use `\n`).
pub fn lifecycle_rows(j: &JobReport) -> Vec<Vec<String>> {
    let checks = checks(&j.findings);
    j.timeline
        .iter()
        .enumerate()
        .map(|(i, e)| {
            vec![
                (i + 1).to_string(),
                e.time.map(rfc3339).unwrap_or_default(),
                format!("{}\nby {}", e.action, e.actor),
                e.object.clone().unwrap_or_default(),
                [e.encryption.as_deref(), e.key.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n"),
                checks
                    .get(&e.evidence)
                    .map(RowCheck::cell)
                    .unwrap_or_default(),
                e.evidence.to_string(),
            ]
        })
        .collect()
}

pub const READER_COLUMNS: [&str; 7] = [
    "Principal",
    "First read (UTC)",
    "Last read (UTC)",
    "Objects read",
    "How",
    "Source IP",
    "Via AWS service",
];

/// The key prefix of the job's folder (`prefix/JOBID/`), when the report knows it: object
/// keys are shown relative to it.
pub(crate) fn folder_key(j: &JobReport) -> Option<&str> {
    let f = j.expected.as_ref()?.output_location.as_deref()?;
    let path = f.strip_prefix("s3://").unwrap_or(f);
    Some(path.split_once('/').map(|x| x.1).unwrap_or_default())
}

/// One row per principal that read the job's results, in [`READER_COLUMNS`] order; object
/// keys relative to the job's folder.
pub fn reader_rows(j: &JobReport) -> Vec<Vec<String>> {
    let list = |s: &std::collections::BTreeSet<String>| {
        s.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
    };
    let short = |k: &Option<String>| {
        k.as_deref().map(|k| {
            folder_key(j)
                .and_then(|f| k.strip_prefix(f))
                .unwrap_or(k)
                .to_owned()
        })
    };
    j.readers
        .iter()
        .map(|r| {
            vec![
                r.principal.clone(),
                rfc3339(r.first),
                rfc3339(r.last),
                crate::access::observed::ObjectsRead {
                    count: r.objects.count,
                    first: short(&r.objects.first),
                    last: short(&r.objects.last),
                }
                .to_string(),
                list(&r.how),
                list(&r.source_ips),
                list(&r.via_services),
            ]
        })
        .collect()
}

/// The heading of who could read, saying how it was reached.
pub const POSSIBLE_TITLE: &str = "Readers, possible (static reading of the collected policies)";

pub const POSSIBLE_COLUMNS: [&str; 3] = ["Action", "Policy", "Principals it lets"];

/// Who could read the job's results, one row per question, in [`POSSIBLE_COLUMNS`] order.
pub fn possible_rows(p: &PossibleOut) -> Vec<Vec<String>> {
    let answer = |action: &str, a: &PolicyAnswerOut| {
        let policy = match &a.reason {
            Some(r) => format!("{} ({}: {r})", a.document, a.state),
            None if a.state == "read" => a.document.clone(),
            None => format!("{} ({})", a.document, a.state),
        };
        vec![action.to_owned(), policy, a.principals.join("\n")]
    };
    let mut rows = Vec::new();
    if let Some(a) = &p.decrypt {
        rows.push(answer("kms:Decrypt", a));
        rows.push(vec![
            "kms:Decrypt".into(),
            "the key's grants".into(),
            match &p.decrypt_grants {
                Some(g) if g.is_empty() => "none".into(),
                Some(g) => g.join("\n"),
                None => "unknown (see the flags)".into(),
            },
        ]);
    }
    if let Some(a) = &p.get_object {
        rows.push(answer("s3:GetObject", a));
    }
    rows
}

/// The flags, the notes and the method, one line each, for under the table.
pub fn possible_lines(p: &PossibleOut) -> Vec<String> {
    p.flags
        .iter()
        .map(|f| format!("flag {}: {}", f.flag, f.message))
        .chain(p.access_analyzer.iter().map(|a| a.line()))
        .chain(p.notes.iter().map(|n| format!("note: {n}")))
        .chain([format!("method: {}", p.method)])
        .collect()
}

/// The readers section's line when no principal read the job's results.
pub const NO_READERS: &str = "Readers: no read of the job's results in the evidence";

pub const ALLOWED_READER_COLUMNS: [&str; 6] =
    ["Entry", "State", "Matched", "Allowed", "Reason", "Expires"];

/// One row per `--allowed-readers` entry, in [`ALLOWED_READER_COLUMNS`] order.
pub fn allowed_reader_rows(a: &AllowedReadersReport) -> Vec<Vec<String>> {
    a.entries
        .iter()
        .map(|e| {
            vec![
                e.outcome.entry.to_string(),
                e.outcome.state.label().into(),
                e.outcome.matched.to_string(),
                e.outcome.allowed.to_string(),
                e.reason.clone(),
                e.expires.map(rfc3339).unwrap_or_default(),
            ]
        })
        .collect()
}

/// A finding's severity as people read it: a failure's weight, so shown on FAIL findings only
/// (the machine formats keep the rule's severity on every finding).
pub(crate) fn severity_label(f: &ReportedFinding) -> String {
    match f.status {
        Status::Fail => f.severity.to_string(),
        _ => String::new(),
    }
}

/// The findings table's columns in the document formats.
pub const FINDING_COLUMNS: [&str; 6] = ["Check", "Rule", "Severity", "Object", "Finding", "Muted"];

/// One row per finding, in [`FINDING_COLUMNS`] order.
pub fn finding_rows(j: &JobReport) -> Vec<Vec<String>> {
    j.findings.iter().map(finding_row).collect()
}

/// A finding as a row in [`FINDING_COLUMNS`] order.
pub(crate) fn finding_row(f: &ReportedFinding) -> Vec<String> {
    vec![
        status_label(f),
        f.rule_id.clone(),
        severity_label(f),
        f.object.clone().unwrap_or_default(),
        f.message.clone(),
        f.muted
            .as_ref()
            .map(|m| m.reason.clone())
            .unwrap_or_default(),
    ]
}

/// A job's findings worst first (FAIL, INCONCLUSIVE, PASS, n/a), report order within a status.
pub(crate) fn findings_by_status(j: &JobReport) -> Vec<&ReportedFinding> {
    let mut findings: Vec<&ReportedFinding> = j.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.status));
    findings
}

/// The jobs worst verdict first (FAIL, INCONCLUSIVE, PASS), by job id within a verdict.
pub(crate) fn jobs_by_verdict(report: &Report) -> Vec<&JobReport> {
    let mut jobs: Vec<&JobReport> = report.jobs.iter().collect();
    jobs.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then_with(|| a.job_id.0.cmp(&b.job_id.0))
    });
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_with_one_finding_not_passed_is_never_listed_as_passed() {
        let report = crate::report::tests::demo_report();
        let inconclusive = report
            .jobs
            .iter()
            .find(|j| j.verdict == crate::report::Verdict::Inconclusive)
            .expect("the demo has an INCONCLUSIVE job");
        let not_passed = rules_not_passed(inconclusive);
        assert!(not_passed.contains(&"documented-mode"), "{not_passed:?}");
        for j in &report.jobs {
            let passed = rules_passed(j);
            let not_passed = rules_not_passed(j);
            assert!(
                passed.iter().all(|r| !not_passed.contains(r)),
                "{}: {passed:?} / {not_passed:?}",
                j.job_id
            );
        }
    }

    #[test]
    fn xml_escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape_xml("<a href=\"x\">'&'</a>\u{1}\n"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\n"
        );
    }

    #[test]
    fn extensions_are_distinct() {
        let mut exts: Vec<&str> = Format::value_variants()
            .iter()
            .map(|f| f.extension())
            .collect();
        exts.sort();
        exts.dedup();
        assert_eq!(exts.len(), Format::value_variants().len());
    }
}
