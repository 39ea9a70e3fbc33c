//! Text for people at a terminal: the summary first, then each job that did not pass (every
//! job with `--verbose`) with its findings and the lifecycle rows that matter, then skipped
//! evidence, integrity, the mute list and provenance. Everything fits the width it is given
//! ([`super::grid`]).
//!
//! By default a job shows the lifecycle rows a FAIL or INCONCLUSIVE finding cites and its
//! `Start*` record, and rows alike in all but object and time (a thousand pages written the
//! same way) fold into one with a count and range; `--verbose` shows every job and every row.
//! An actor or key ARN is printed whole once in the job's header and by a short name after,
//! when no other ARN in the job has that name; objects are shown relative to the job folder.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::grid::{Grid, Tint, Wrap, para};
use super::{RowCheck, Style, checks, provenance, rules_not_passed, status_label};
use crate::model::rfc3339;
use crate::report::{JobReport, Report, TimelineRow, Verdict};
use crate::rules::Status;

fn tinted(label: impl Into<String>) -> (String, Option<Tint>) {
    let label = label.into();
    let tint = Tint::of_status(&label);
    (label, tint)
}

fn plain(text: impl Into<String>) -> (String, Option<Tint>) {
    (text.into(), None)
}

/// Short names for the ARNs a job repeats (actors, keys), each used only when no other ARN in
/// the job has it, so two principals never read as one.
struct Names {
    short: HashMap<String, String>,
}

impl Names {
    fn of<'a>(arns: impl Iterator<Item = &'a str>) -> Names {
        let mut by_short: HashMap<String, Vec<&str>> = HashMap::new();
        for arn in arns {
            if let Some(s) = short_name(arn) {
                let v = by_short.entry(s).or_default();
                if !v.contains(&arn) {
                    v.push(arn);
                }
            }
        }
        Names {
            short: by_short
                .into_iter()
                .filter(|(_, v)| v.len() == 1)
                .map(|(s, v)| (v[0].to_owned(), s))
                .collect(),
        }
    }

    fn get<'a>(&'a self, arn: &'a str) -> &'a str {
        self.short.get(arn).map_or(arn, String::as_str)
    }

    /// `short = full` lines, sorted, for the job's header.
    fn legend(&self) -> Option<String> {
        let mut v: Vec<String> = self
            .short
            .iter()
            .map(|(full, short)| format!("{short} = {full}"))
            .collect();
        v.sort();
        (!v.is_empty()).then(|| v.join("\n"))
    }
}

/// The name an ARN goes by within one job: a role session's `role/session`, an IAM user's or
/// role's `user/name` / `role/name`, a KMS key's `key/id`; `None` for anything else.
fn short_name(arn: &str) -> Option<String> {
    let [_, service, _, _, resource] = crate::access::arn::split_arn(arn)?;
    match service {
        "sts" => resource.strip_prefix("assumed-role/").map(str::to_owned),
        "iam" if resource.starts_with("user/") || resource.starts_with("role/") => {
            Some(resource.to_owned())
        }
        "kms" if resource.starts_with("key/") => Some(resource.to_owned()),
        _ => None,
    }
}

/// An entry's actor (`ARN` or `ARN via service`) with its ARN shortened, and an AWS service
/// principal by its service name (`via textract`).
fn actor(names: &Names, e: &TimelineRow) -> String {
    match &e.via {
        Some(via) => format!(
            "{} via {}",
            names.get(&e.principal),
            via.strip_suffix(".amazonaws.com").unwrap_or(via)
        ),
        None => names.get(&e.principal).to_owned(),
    }
}

/// Texts in a list: all of them when few, else the first two, the last and the count.
fn range(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        _ if items.len() <= 4 => format!("{} objects: {}", items.len(), items.join(", ")),
        _ => format!(
            "{} objects: {}, {}, … {}",
            items.len(),
            items[0],
            items[1],
            items[items.len() - 1]
        ),
    }
}

/// How a job's text is shortened: object keys relative to its folder, ARNs by short name.
struct Job<'a> {
    j: &'a JobReport,
    /// The job folder's key prefix (`prefix/JobId/`).
    key_prefix: Option<String>,
    folder_uri: Option<String>,
    names: Names,
    checks: HashMap<&'a crate::model::EvidenceRef, RowCheck<'a>>,
}

impl<'a> Job<'a> {
    fn new(j: &'a JobReport) -> Job<'a> {
        let folder_uri = j.expected.as_ref().and_then(|e| e.output_location.clone());
        let key_prefix = super::folder_key(j).map(str::to_owned);
        let actors = j
            .timeline
            .iter()
            .map(|e| e.principal.as_str())
            .chain(j.requested.iter().map(|r| r.caller.as_str()))
            .chain(j.readers.iter().map(|r| r.principal.as_str()));
        let keys = j.timeline.iter().filter_map(|e| e.key.as_deref());
        Job {
            j,
            key_prefix,
            folder_uri,
            names: Names::of(actors.chain(keys)),
            checks: checks(&j.findings),
        }
    }

    /// An object relative to the job folder (unchanged outside it), the job's input document
    /// as `document` (the header names it).
    fn object(&self, key: &str) -> String {
        if self
            .j
            .requested
            .as_ref()
            .and_then(|r| r.document.as_deref())
            == Some(key)
        {
            return "document".into();
        }
        match &self.key_prefix {
            Some(p) if !p.is_empty() => key.strip_prefix(p.as_str()).unwrap_or(key).to_owned(),
            _ => key.to_owned(),
        }
    }

    /// An `s3://` URI relative to the job folder (unchanged outside it).
    fn uri(&self, uri: &str) -> String {
        match &self.folder_uri {
            Some(f) => uri.strip_prefix(f.as_str()).unwrap_or(uri).to_owned(),
            None => uri.to_owned(),
        }
    }

    fn check(&self, e: &TimelineRow) -> Option<&RowCheck<'a>> {
        self.checks.get(&e.evidence)
    }

    /// The row's look apart from object and time: rows alike in it fold.
    fn signature(&self, e: &TimelineRow) -> (String, String, String, String, String) {
        (
            e.action.clone(),
            e.actor.clone(),
            e.encryption.clone().unwrap_or_default(),
            e.key.clone().unwrap_or_default(),
            self.check(e).map(RowCheck::cell).unwrap_or_default(),
        )
    }
}

fn job(out: &mut String, j: &JobReport, style: Style) {
    let w = usize::from(style.width);
    let v = Job::new(j);
    para(
        out,
        "",
        "    ",
        &format!("Job {}  {}", j.job_id, j.verdict.label()),
        w,
    );
    let mut facts = super::job_facts(j);
    if let Some(names) = v.names.legend() {
        facts.push(("Names", names));
    }
    for (k, text) in facts {
        para(out, &format!("  {k:<13} "), &" ".repeat(16), &text, w);
    }
    findings(out, &v, style);
    lifecycle(out, &v, style);
    readers(out, &v, style);
    possible(out, &v, style);
    if j.verdict == Verdict::Pass {
        let _ = writeln!(out, "Passed on {} piece(s) of evidence:", j.proof.len());
        for p in &j.proof {
            para(out, "  - ", "    ", &v.uri(&p.to_string()), w);
        }
    }
    let passed = super::rules_passed(j);
    if !passed.is_empty() && j.verdict != Verdict::Pass {
        para(out, "Passed: ", "  ", &passed.join(", "), w);
    }
    out.push('\n');
}

/// The findings that did not pass, worst first, those alike in all but their object as one.
fn findings(out: &mut String, v: &Job<'_>, style: Style) {
    let w = usize::from(style.width);
    let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
    for f in super::findings_by_status(v.j)
        .into_iter()
        .filter(|f| matches!(f.status, Status::Fail | Status::Inconclusive))
    {
        let severity = super::severity_label(f);
        let head = match severity.is_empty() {
            true => format!("{} {}", status_label(f), f.rule_id),
            false => format!("{} {} ({severity})", status_label(f), f.rule_id),
        };
        let object = f
            .object
            .as_deref()
            .filter(|o| !f.message.contains(*o))
            .map(|o| v.uri(o));
        let body = match &f.muted {
            Some(m) => format!("{}\nmuted: {}", f.message, m.reason),
            None => f.message.clone(),
        };
        match groups.iter_mut().find(|(h, b, _)| *h == head && *b == body) {
            Some((_, _, objects)) => objects.extend(object),
            None => groups.push((head, body, object.into_iter().collect())),
        }
    }
    if groups.is_empty() {
        return;
    }
    out.push_str("Findings\n");
    for (head, body, objects) in groups {
        let head = match range(&objects) {
            r if r.is_empty() => head,
            r => format!("{head}: {r}"),
        };
        let head = match (style.color, Tint::of_status(&head)) {
            (true, Some(t)) => {
                let (status, rest) = head.split_once(' ').unwrap_or((&head, ""));
                format!("{}{status}\x1b[0m {rest}", t.code())
            }
            _ => head,
        };
        para(out, "  ", "    ", &head, w);
        para(out, "    ", "    ", &body, w);
    }
}

/// The lifecycle table: the rows that matter (every row with `--verbose`), rows alike folded.
fn lifecycle(out: &mut String, v: &Job<'_>, style: Style) {
    let j = v.j;
    let w = usize::from(style.width);
    if j.timeline.is_empty() {
        let _ = writeln!(out, "Lifecycle: no records of this job in the evidence");
        return;
    }
    let start = j.requested.as_ref().map(|r| &r.start_event);
    let shown: Vec<usize> = (0..j.timeline.len())
        .filter(|&i| {
            let e = &j.timeline[i];
            style.verbose
                || Some(&e.evidence) == start
                || v.check(e)
                    .is_some_and(|c| matches!(c.worst, Status::Fail | Status::Inconclusive))
        })
        .collect();
    // Rows alike fold (first occurrence's place) unless everything is asked for.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    if style.verbose {
        groups = shown.iter().map(|&i| vec![i]).collect();
    } else {
        let mut at: HashMap<_, usize> = HashMap::new();
        for &i in &shown {
            let sig = v.signature(&j.timeline[i]);
            match at.get(&sig) {
                Some(&g) => groups[g].push(i),
                None => {
                    at.insert(sig, groups.len());
                    groups.push(vec![i]);
                }
            }
        }
    }
    // One day: the date in the caption and times of day (RFC 3339 full-time) in the rows.
    let mut days = j
        .timeline
        .iter()
        .filter_map(|e| e.time)
        .map(|t| t.date_naive());
    let day = days.next().filter(|d| days.all(|x| x == *d));
    let at = |t: chrono::DateTime<chrono::Utc>| match day {
        Some(_) => t.format("%H:%M:%SZ").to_string(),
        None => rfc3339(t),
    };
    let mut grid = Grid::new(&[
        ("#", Wrap::Keep),
        ("Time", Wrap::Keep),
        ("Action / actor", Wrap::Wrap),
        ("Object", Wrap::Wrap),
        ("Encryption / key", Wrap::Wrap),
        ("Check", Wrap::Keep),
    ]);
    let mut legend = String::new();
    for g in &groups {
        let first = &j.timeline[g[0]];
        let last = &j.timeline[g[g.len() - 1]];
        let n = g[0] + 1;
        let number = match g.len() {
            1 => n.to_string(),
            k => format!("{n}\n×{k}"),
        };
        let times: Vec<_> = g.iter().filter_map(|&i| j.timeline[i].time).collect();
        let time = match (times.iter().min(), times.iter().max()) {
            (Some(a), Some(b)) if a != b => format!("{}\n{}", at(*a), at(*b)),
            (Some(a), _) => at(*a),
            _ => String::new(),
        };
        let objects: Vec<String> = g
            .iter()
            .filter_map(|&i| j.timeline[i].object.as_deref())
            .map(|o| v.object(o))
            .collect();
        let enc = [
            first.encryption.clone(),
            first.key.as_deref().map(|k| v.names.get(k).to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
        let check = v.check(first);
        grid.row(vec![
            plain(number),
            plain(time),
            plain(format!("{}\nby {}", first.action, actor(&v.names, first))),
            plain(range(&objects)),
            plain(enc),
            tinted(check.map(|c| c.worst.to_string()).unwrap_or_default()),
        ]);
        let rules = check
            .map(|c| format!(": {}", c.rules_line()))
            .filter(|r| r.len() > 2)
            .unwrap_or_default();
        let evidence = match g.len() {
            1 => v.uri(&first.evidence.to_string()),
            k => format!(
                "{k} records, {} … {}",
                v.uri(&first.evidence.to_string()),
                v.uri(&last.evidence.to_string())
            ),
        };
        para(
            &mut legend,
            &format!("  [{n}] "),
            "      ",
            &format!("{evidence}{rules}"),
            w,
        );
    }
    let hidden = j.timeline.len() - shown.len();
    let caption = format!(
        "Lifecycle{}{}",
        match day {
            Some(d) => format!(" on {d} (UTC)"),
            None => " (UTC)".into(),
        },
        match hidden {
            0 => String::new(),
            h => format!(
                ": {} of {} rows, the Start* record and those not passed ({h} passed or not judged; --verbose shows them)",
                shown.len(),
                j.timeline.len()
            ),
        },
    );
    para(out, "", "  ", &caption, w);
    let _ = writeln!(out, "{}Evidence\n{legend}", grid.render(w, style.color));
}

/// Who read the job's results, one row per principal: the shared columns folded into four to
/// fit a terminal (first and last read in one cell, source addresses and services under how).
fn readers(out: &mut String, v: &Job<'_>, style: Style) {
    if v.j.readers.is_empty() {
        let _ = writeln!(out, "{}\n", super::NO_READERS);
        return;
    }
    let mut grid = Grid::new(&[
        ("Principal", Wrap::Wrap),
        ("Read (UTC)", Wrap::Keep),
        ("Objects read", Wrap::Wrap),
        ("How / from / via", Wrap::Wrap),
    ]);
    for r in super::reader_rows(v.j) {
        let [principal, first, last, objects, how, ips, via] = &r[..] else {
            unreachable!("{} reader columns", super::READER_COLUMNS.len())
        };
        let when = if first == last {
            first.clone()
        } else {
            format!("{first}\n{last}")
        };
        let mut how = how.clone();
        for (label, list) in [("from", ips), ("via", via)] {
            for line in list.lines() {
                how.push_str(&format!("\n{label} {line}"));
            }
        }
        grid.row(vec![
            plain(v.names.get(principal)),
            plain(when),
            plain(objects.as_str()),
            plain(how),
        ]);
    }
    let _ = writeln!(
        out,
        "Readers\n{}",
        grid.render(usize::from(style.width), style.color)
    );
}

/// Who could read the job's results, by a static reading of the collected policies.
fn possible(out: &mut String, v: &Job<'_>, style: Style) {
    let Some(p) = &v.j.possible_readers else {
        return;
    };
    let w = usize::from(style.width);
    let wraps = [Wrap::Keep, Wrap::Wrap, Wrap::Wrap];
    let columns: Vec<_> = super::POSSIBLE_COLUMNS.into_iter().zip(wraps).collect();
    let mut grid = Grid::new(&columns);
    for r in super::possible_rows(p) {
        grid.row(r.iter().map(|c| plain(v.uri(c))).collect());
    }
    let _ = writeln!(
        out,
        "{}\n{}",
        super::POSSIBLE_TITLE,
        grid.render(w, style.color)
    );
    for line in super::possible_lines(p) {
        para(out, "  ", "    ", &line, w);
    }
    out.push('\n');
}

/// The summary: the counts, then one line per job worst first with the rules it did not pass.
fn summary(out: &mut String, report: &Report, style: Style) {
    let w = usize::from(style.width);
    let sum = &report.summary;
    para(
        out,
        "",
        "  ",
        &format!(
            "Summary: {} job(s): {} pass, {} fail, {} inconclusive; {} CloudTrail record(s) read, {} evidence item(s) skipped. Evidence captured {}.",
            sum.jobs,
            sum.pass,
            sum.fail,
            sum.inconclusive,
            report.evidence.cloudtrail_records,
            sum.skipped_evidence,
            rfc3339(report.evidence.captured_at),
        ),
        w,
    );
    if let Some(f) = &report.options.status {
        para(
            out,
            "  ",
            "  ",
            &format!(
                "--status {}: {} of {} job(s) shown",
                f.iter()
                    .map(|v| v.label().to_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
                report.jobs.len(),
                sum.jobs
            ),
            w,
        );
    }
    for j in super::jobs_by_verdict(report) {
        let label = j.verdict.label();
        let tint = Tint::of_status(label).filter(|_| style.color);
        let label = match tint {
            Some(t) => format!("{}{label:<12}\x1b[0m", t.code()),
            None => format!("{label:<12}"),
        };
        para(
            out,
            &format!("  {label}  "),
            &" ".repeat(16),
            &j.job_id.0,
            w.max(16 + j.job_id.0.len()),
        );
        let not = rules_not_passed(j);
        if !not.is_empty() {
            para(
                out,
                &" ".repeat(16),
                &" ".repeat(18),
                &format!("not passed: {}", not.join(", ")),
                w,
            );
        }
    }
    out.push('\n');
}

/// The whole report as text.
pub fn render(report: &Report, style: Style) -> String {
    let w = usize::from(style.width);
    let mut out = String::new();
    summary(&mut out, report, style);
    if report.jobs.is_empty() {
        out.push_str("No Textract jobs found in the evidence.\n\n");
    }
    let mut passed = 0;
    for j in super::jobs_by_verdict(report) {
        if j.verdict == Verdict::Pass && !style.verbose {
            passed += 1;
            continue;
        }
        job(&mut out, j, style);
    }
    if passed > 0 {
        para(
            &mut out,
            "",
            "",
            &format!(
                "{passed} PASS job(s) listed in the summary only; --verbose shows their lifecycles and proof."
            ),
            w,
        );
        out.push('\n');
    }
    if !report.evidence.skipped.is_empty() {
        let mut t = Grid::new(&[("Skipped evidence", Wrap::Wrap), ("Reason", Wrap::Wrap)]);
        for p in &report.evidence.skipped {
            t.row(vec![plain(&p.subject), plain(&p.reason)]);
        }
        let _ = writeln!(out, "{}", t.render(w, style.color));
    }
    if let Some(i) = &report.integrity {
        integrity(&mut out, i, style);
    }
    if let Some(m) = &report.mutelist {
        let mut t = Grid::new(&[
            ("Mute entry", Wrap::Keep),
            ("State", Wrap::Keep),
            ("Matched", Wrap::Keep),
            ("Reason", Wrap::Wrap),
        ]);
        for e in &m.entries {
            t.row(vec![
                plain(e.entry.index.to_string()),
                plain(e.state.label()),
                plain(e.matched.to_string()),
                plain(&e.entry.reason),
            ]);
        }
        para(
            &mut out,
            "",
            "  ",
            &format!(
                "Mute list {} ({} finding(s) muted)",
                m.file, report.summary.muted
            ),
            w,
        );
        let _ = writeln!(out, "{}", t.render(w, style.color));
    }
    if let Some(a) = &report.allowed_readers {
        let wraps = [
            Wrap::Keep,
            Wrap::Keep,
            Wrap::Keep,
            Wrap::Keep,
            Wrap::Wrap,
            Wrap::Keep,
        ];
        let columns: Vec<_> = super::ALLOWED_READER_COLUMNS
            .into_iter()
            .zip(wraps)
            .collect();
        let mut t = Grid::new(&columns);
        for r in super::allowed_reader_rows(a) {
            t.row(r.into_iter().map(plain).collect());
        }
        para(
            &mut out,
            "",
            "  ",
            &format!("Allowed readers {}", a.file),
            w,
        );
        let _ = writeln!(out, "{}", t.render(w, style.color));
    }
    out.push_str("Provenance\n");
    for (k, v) in provenance(report) {
        para(&mut out, &format!("  {k:<18} "), &" ".repeat(21), &v, w);
    }
    out
}

/// The run's digest validation: one summary line, then every problem by name.
fn integrity(out: &mut String, i: &crate::integrity::run::RunIntegrity, style: Style) {
    let r = &i.report;
    let mode = serde_json::to_value(i.mode).unwrap_or_default();
    let w = usize::from(style.width);
    let line = format!(
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
    para(out, "", "  ", &line, w);
    if r.digests_found == 0 && !r.files_not_covered.is_empty() {
        let line = format!(
            "No digests, not validated: the {} log file(s) read are taken as read.",
            r.files_not_covered.len()
        );
        para(out, "", "  ", &line, w);
    }
    let mut t = Grid::new(&[
        ("Integrity problem", Wrap::Keep),
        ("Subject", Wrap::Wrap),
        ("Detail", Wrap::Wrap),
    ]);
    let mut row = |kind: &str, subject: &str, detail: String| {
        t.row(vec![plain(kind), plain(subject), plain(detail)]);
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
    if !t.is_empty() {
        let _ = writeln!(out, "{}", t.render(w, style.color));
    }
    out.push('\n');
}

/// `textract-audit rules`: one line per rule.
pub fn rules_list(rules: &crate::rules::RuleSet, style: Style) -> String {
    let mut t = Grid::new(&[
        ("Rule", Wrap::Keep),
        ("Severity", Wrap::Keep),
        ("Title", Wrap::Wrap),
    ]);
    for r in &rules.rules {
        t.row(vec![
            plain(&r.id),
            plain(r.severity.to_string()),
            plain(&r.title),
        ]);
    }
    format!("{}\n", t.render(usize::from(style.width), style.color))
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
