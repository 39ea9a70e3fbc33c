//! JUnit XML, for CI systems that chart test results.
//!
//! One `<testsuite>` per job, one `<testcase>` per rule that applies to the job (rules whose
//! every finding was n/a have none). A testcase's outcome is its worst unmuted finding:
//! FAIL -> `<failure>`, INCONCLUSIVE -> `<skipped message=…>`, PASS -> plain. A rule whose
//! only non-passing findings are muted is `<skipped message="muted: …">`. `--fail-on` does
//! not change failures: it only changes the exit code. Provenance is in each suite's
//! `<properties>`, and skipped evidence in `<system-err>`.

use std::fmt::Write as _;

use super::{escape_xml as esc, provenance};
use crate::report::{JobReport, Report, ReportedFinding};
use crate::rules::Status;

enum Outcome<'a> {
    Passed,
    Failed(Vec<&'a ReportedFinding>),
    Inconclusive(Vec<&'a ReportedFinding>),
    Muted(Vec<&'a ReportedFinding>),
}

fn outcome<'a>(findings: &[&'a ReportedFinding]) -> Outcome<'a> {
    let unmuted = |s: Status| -> Vec<&'a ReportedFinding> {
        findings
            .iter()
            .copied()
            .filter(|f| f.muted.is_none() && f.status == s)
            .collect()
    };
    let fails = unmuted(Status::Fail);
    if !fails.is_empty() {
        return Outcome::Failed(fails);
    }
    let inconclusive = unmuted(Status::Inconclusive);
    if !inconclusive.is_empty() {
        return Outcome::Inconclusive(inconclusive);
    }
    let muted: Vec<&ReportedFinding> = findings
        .iter()
        .copied()
        .filter(|f| f.muted.is_some())
        .collect();
    if muted.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Muted(muted)
    }
}

/// The findings as text: one paragraph each, with the object and the evidence.
fn details(findings: &[&ReportedFinding]) -> String {
    let mut s = String::new();
    for f in findings {
        let _ = writeln!(s, "{} [{}] {}", f.status, f.severity, f.message);
        if let Some(o) = &f.object {
            let _ = writeln!(s, "  object: {o}");
        }
        for e in &f.evidence {
            let _ = writeln!(s, "  evidence: {e}");
        }
        if let Some(m) = &f.muted {
            let _ = writeln!(s, "  muted: {}", m.reason);
        }
    }
    s
}

/// The rules of a job in the order their findings appear, with their findings.
fn by_rule(j: &JobReport) -> Vec<(&str, Vec<&ReportedFinding>)> {
    let mut v: Vec<(&str, Vec<&ReportedFinding>)> = Vec::new();
    for f in &j.findings {
        match v.iter_mut().find(|(r, _)| *r == f.rule_id) {
            Some((_, fs)) => fs.push(f),
            None => v.push((&f.rule_id, vec![f])),
        }
    }
    v
}

fn suite(out: &mut String, report: &Report, j: &JobReport) -> (usize, usize, usize) {
    let cases = by_rule(j);
    let mut body = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for (rule, findings) in &cases {
        let _ = write!(
            body,
            "    <testcase name=\"{}\" classname=\"textract-audit.{}\" time=\"0\"",
            esc(rule),
            esc(&j.job_id.0)
        );
        match outcome(findings) {
            Outcome::Passed => body.push_str("/>\n"),
            Outcome::Failed(fs) => {
                failures += 1;
                let _ = write!(
                    body,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(&fs[0].message),
                    fs.iter().map(|f| f.severity).max().expect("non-empty"),
                    esc(&details(&fs))
                );
            }
            Outcome::Inconclusive(fs) => {
                skipped += 1;
                let _ = write!(
                    body,
                    ">\n      <skipped message=\"{}\">{}</skipped>\n    </testcase>\n",
                    esc(&format!("INCONCLUSIVE: {}", fs[0].message)),
                    esc(&details(&fs))
                );
            }
            Outcome::Muted(fs) => {
                skipped += 1;
                let reason = &fs[0].muted.as_ref().expect("muted").reason;
                let _ = write!(
                    body,
                    ">\n      <skipped message=\"{}\">{}</skipped>\n    </testcase>\n",
                    esc(&format!("muted: {reason}")),
                    esc(&details(&fs))
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\" timestamp=\"{}\">",
        esc(&format!("job {} {}", j.job_id, j.verdict.label())),
        cases.len(),
        report.generated_at.format("%Y-%m-%dT%H:%M:%S"),
    );
    out.push_str("    <properties>\n");
    let mut props = vec![
        ("job_id", j.job_id.0.clone()),
        ("verdict", j.verdict.label().to_owned()),
    ];
    props.extend(provenance(report));
    for (k, v) in props {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            esc(k),
            esc(&v)
        );
    }
    out.push_str("    </properties>\n");
    out.push_str(&body);
    if !report.evidence.skipped.is_empty() {
        out.push_str("    <system-err>");
        for p in &report.evidence.skipped {
            out.push_str(&esc(&format!(
                "evidence not used: {}: {}\n",
                p.subject, p.reason
            )));
        }
        out.push_str("</system-err>\n");
    }
    out.push_str("  </testsuite>\n");
    (cases.len(), failures, skipped)
}

pub fn render(report: &Report) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for j in &report.jobs {
        let (t, f, s) = suite(&mut suites, report, j);
        tests += t;
        failures += f;
        skipped += s;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"textract-audit\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">\n{suites}</testsuites>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::report::tests::demo_report;

    fn count(s: &str, needle: &str) -> usize {
        s.matches(needle).count()
    }

    #[test]
    fn counts_match_the_testcases() {
        let report = demo_report();
        let xml = render(&report);
        let cases = count(&xml, "<testcase ");
        let rules_per_job: usize = report.jobs.iter().map(|j| by_rule(j).len()).sum();
        assert_eq!(cases, rules_per_job);
        assert!(xml.contains(&format!("tests=\"{cases}\"")));
        let failures = count(&xml, "<failure ");
        let skipped = count(&xml, "<skipped ");
        assert!(failures > 0 && skipped > 0, "{xml}");
        assert!(xml.contains(&format!(
            "<testsuites name=\"textract-audit\" tests=\"{cases}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\""
        )));
        assert_eq!(count(&xml, "<testsuite "), 3);
        let pass = report
            .jobs
            .iter()
            .find(|j| j.verdict == Verdict::Pass)
            .unwrap();
        assert!(xml.contains(&format!(
            "name=\"job {} PASS\" tests=\"{}\" failures=\"0\" errors=\"0\" skipped=\"0\"",
            pass.job_id,
            by_rule(pass).len()
        )));
    }

    #[test]
    fn muted_failures_are_skipped_with_the_reason() {
        let mut report = demo_report();
        let j = report
            .jobs
            .iter_mut()
            .find(|j| j.verdict == Verdict::Fail)
            .unwrap();
        for f in &mut j.findings {
            if f.status == Status::Fail {
                f.muted = Some(crate::report::mutelist::Muted {
                    reason: "risk <accepted>".into(),
                    expires: None,
                    entry: 1,
                });
            }
        }
        let xml = render(&report);
        assert_eq!(count(&xml, "<failure "), 0, "{xml}");
        assert!(xml.contains("message=\"muted: risk &lt;accepted&gt;\""));
    }
}
