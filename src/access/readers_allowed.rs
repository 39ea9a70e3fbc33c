//! The `readers-allowed` rule, as a pure function of a job's reads, what the CloudTrail
//! evidence can show about reads, and the allow-list.
//!
//! - A read by a principal the allow-list does not allow (no entry for the place, the
//!   principal or the operation, or only expired ones) is FAIL, one finding per principal
//!   naming it, the objects and the records. A proven read stays FAIL whatever else is
//!   missing.
//! - Otherwise, when reads could have gone unseen, INCONCLUSIVE with each reason: S3 read
//!   data events on the job's folder not logged (the trail logs writes only, or its selectors
//!   leave the folder out: the selector is named), Textract's read-only management events
//!   (`Get*`) not logged, a CloudTrail window that does not reach back to the job's start, or
//!   evidence that could not be read.
//! - Otherwise PASS, with the readers as the proof; without an allow-list the PASS says none
//!   was given and lists who read.
//!
//! The findings mirror the rules stage's outcome (status, message, object, evidence) so that
//! registering the rule is a mapping, not a rewrite.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::allowlist::{AllowList, ReadScope};
use super::arn::PrincipalArn;
use super::observed::{ReadEvent, ReaderRow, readers};
use crate::entry_file::EntryState;
use crate::model::{EvidenceRef, TimeWindow, rfc3339};

/// The rule's id, for the registry.
pub const RULE_ID: &str = "readers-allowed";

/// Whether one kind of read event is logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReadLogging {
    /// Every such read is logged, by this trail.
    Logged { trail: String },
    /// Not logged; `selectors` names the selectors that leave them out (a data selector that
    /// keeps only writes, one whose `resources.ARN` misses the folder, …).
    NotLogged {
        reason: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        selectors: Vec<String>,
    },
    /// Not known (no trail configuration, selectors not collected).
    Unknown { reason: String },
}

/// What the CloudTrail evidence can show about reads of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadCoverage {
    /// S3 read data events (`GetObject`, `HeadObject`, …: `readOnly: true`) on the folder.
    pub s3_reads: ReadLogging,
    /// Textract read-only management events (`Get*`).
    pub textract_reads: ReadLogging,
    /// The time range the CloudTrail evidence covers, or why it is not known.
    pub window: Result<TimeWindow, String>,
    /// Evidence that may hide reads of this job and could not be read, in words.
    pub gaps: Vec<String>,
}

/// One job's reads and what is needed to judge them.
#[derive(Debug, Clone, Copy)]
pub struct JobReads<'a> {
    pub reads: &'a [ReadEvent],
    /// The output folder, bucket and `{prefix}/{JobId}/`; `None` when the results stayed in
    /// Textract (then only `Get*` reads them).
    pub output: Option<(&'a str, &'a str)>,
    /// The job's `JobTag`, when its `Start*` record has one.
    pub job_tag: Option<&'a str>,
    /// Since when the results can be read: the job's start. `None`: unknown.
    pub since: Option<DateTime<Utc>>,
    pub coverage: &'a ReadCoverage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Inconclusive,
    Fail,
}

/// One finding of the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub status: Status,
    pub message: String,
    /// The one object the finding is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub evidence: Vec<EvidenceRef>,
}

/// How a read stands against the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowance {
    /// An active entry allows it.
    Allowed,
    /// Only entries that have expired would allow it.
    Expired(Vec<(usize, DateTime<Utc>)>),
    NotAllowed,
    /// The principal has no ARN (anonymous, or the record does not say): nothing allows it.
    NoArn,
}

/// One entry's outcome, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryOutcome {
    pub entry: usize,
    pub state: EntryState,
    /// Reads its place, principals and operations match (expired or not).
    pub matched: usize,
    /// Reads it allowed: the first active entry that matches allows.
    pub allowed: usize,
}

/// Judges reads against an allow-list across the jobs of a run, counting what each entry
/// did, the way the mute list's entries are reported (applied, expired, stale, shadowed).
pub struct Checker<'a> {
    list: &'a AllowList,
    at: DateTime<Utc>,
    matched: Vec<usize>,
    allowed: Vec<usize>,
}

impl<'a> Checker<'a> {
    /// Expiry is judged at `at`, the run's time.
    pub fn new(list: &'a AllowList, at: DateTime<Utc>) -> Checker<'a> {
        Checker {
            list,
            at,
            matched: vec![0; list.entries.len()],
            allowed: vec![0; list.entries.len()],
        }
    }

    fn check(&mut self, read: &ReadEvent, job: &JobReads<'_>) -> Allowance {
        let Ok(principal) = PrincipalArn::parse(&read.principal) else {
            return Allowance::NoArn;
        };
        let scope = match (&read.object, job.output) {
            (Some(o), _) => ReadScope {
                bucket: Some(&o.bucket),
                key: Some(&o.key),
                job_tag: job.job_tag,
            },
            (None, Some((bucket, folder))) => ReadScope {
                bucket: Some(bucket),
                key: Some(folder),
                job_tag: job.job_tag,
            },
            (None, None) => ReadScope {
                job_tag: job.job_tag,
                ..ReadScope::default()
            },
        };
        let mut expired = Vec::new();
        let mut allowed = false;
        for (i, e) in self.list.entries.iter().enumerate() {
            if !(e.covers(&scope) && e.allows(&principal, read.operation)) {
                continue;
            }
            self.matched[i] += 1;
            match e.expires {
                Some(t) if !e.active_at(self.at) => expired.push((e.index, t)),
                _ if !allowed => {
                    allowed = true;
                    self.allowed[i] += 1;
                }
                _ => {}
            }
        }
        match (allowed, expired.is_empty()) {
            (true, _) => Allowance::Allowed,
            (false, false) => Allowance::Expired(expired),
            (false, true) => Allowance::NotAllowed,
        }
    }

    /// Adds what another checker of the same list counted (jobs judged apart, in parallel,
    /// then reported together).
    pub fn absorb(&mut self, other: Checker<'_>) {
        assert!(
            std::ptr::eq(self.list, other.list) && self.at == other.at,
            "checkers of one list and one time"
        );
        for (a, b) in self.matched.iter_mut().zip(other.matched) {
            *a += b;
        }
        for (a, b) in self.allowed.iter_mut().zip(other.allowed) {
            *a += b;
        }
    }

    /// Every entry's outcome.
    pub fn finish(self) -> Vec<EntryOutcome> {
        self.list
            .entries
            .iter()
            .zip(self.matched.into_iter().zip(self.allowed))
            .map(|(e, (matched, allowed))| EntryOutcome {
                entry: e.index,
                state: EntryState::of(e.active_at(self.at), matched, allowed),
                matched,
                allowed,
            })
            .collect()
    }
}

fn finding(status: Status, message: String, evidence: Vec<EvidenceRef>) -> Finding {
    Finding {
        status,
        message,
        object: None,
        evidence,
    }
}

/// A row in words: `PRINCIPAL read N objects (A to B) at T1 to T2 (how) from IPs`.
fn describe(row: &ReaderRow) -> String {
    let when = if row.first == row.last {
        format!("at {}", rfc3339(row.first))
    } else {
        format!("from {} to {}", rfc3339(row.first), rfc3339(row.last))
    };
    let how: Vec<&str> = row.how.iter().map(String::as_str).collect();
    let what = if row.objects.count == 0 {
        "the results".to_owned()
    } else {
        row.objects.to_string()
    };
    let mut s = format!("{} read {what} {when} ({})", row.principal, how.join(", "));
    if !row.source_ips.is_empty() {
        let ips: Vec<&str> = row.source_ips.iter().map(String::as_str).collect();
        s.push_str(&format!(" from {}", ips.join(", ")));
    }
    if !row.via_services.is_empty() {
        let via: Vec<&str> = row.via_services.iter().map(String::as_str).collect();
        s.push_str(&format!(" through {}", via.join(", ")));
    }
    s
}

/// The rule for one job. With an allow-list, `checker` judges the reads (and counts what
/// its entries did); without one, the readers are listed as the proof.
pub fn evaluate(job: &JobReads<'_>, checker: Option<&mut Checker<'_>>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let file = checker.as_ref().map(|c| c.list.file.clone());
    if let Some(checker) = checker {
        let mut unallowed: BTreeMap<&str, (Vec<ReadEvent>, Vec<String>)> = BTreeMap::new();
        for read in job.reads {
            let why = match checker.check(read, job) {
                Allowance::Allowed => continue,
                Allowance::NotAllowed => None,
                Allowance::NoArn => {
                    Some("the record names no principal ARN, so no entry can allow it".to_owned())
                }
                Allowance::Expired(entries) => Some(
                    entries
                        .iter()
                        .map(|(i, t)| format!("entry {i} allowed it until {}", rfc3339(*t)))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            };
            let e = unallowed.entry(&read.principal).or_default();
            e.0.push(read.clone());
            e.1.extend(why);
        }
        for (reads, mut why) in unallowed.into_values() {
            why.sort();
            why.dedup();
            let row = &readers(&reads)[0];
            let file = file.as_deref().unwrap_or_default();
            let mut message = format!("{}: {file} does not allow it", describe(row));
            if !why.is_empty() {
                message.push_str(&format!(" ({})", why.join("; ")));
            }
            let mut f = finding(Status::Fail, message, row.events.clone());
            let objects: Vec<_> = reads.iter().filter_map(|r| r.object.as_ref()).collect();
            if let [one, rest @ ..] = objects.as_slice()
                && rest.iter().all(|o| o == one)
            {
                f.object = Some(one.uri());
            }
            findings.push(f);
        }
    }

    let rows = readers(job.reads);
    let evidence: Vec<EvidenceRef> = rows.iter().flat_map(|r| r.events.clone()).collect();
    let gaps = gaps(job);
    for reason in &gaps {
        findings.push(finding(
            Status::Inconclusive,
            format!("{reason}, so reads of the results may be missing"),
            evidence.clone(),
        ));
    }
    // An unknown window is a gap: past this point the window is known.
    let (Ok(window), true) = (&job.coverage.window, findings.is_empty()) else {
        return findings;
    };
    let since = job.since.unwrap_or(window.from);
    let span = format!("from {} to {}", rfc3339(since), rfc3339(window.until));
    let listed: Vec<String> = rows.iter().map(describe).collect();
    let message = match (&file, rows.is_empty()) {
        (_, true) => format!("no read of the job's results {span}"),
        (Some(file), false) => format!(
            "every read of the job's results {span} is allowed by {file}: {}",
            listed.join("; ")
        ),
        (None, false) => format!(
            "no allow-list given (--allowed-readers), so the readers {span} are the proof: {}",
            listed.join("; ")
        ),
    };
    vec![finding(Status::Pass, message, evidence)]
}

/// Why reads of the job may have gone unseen.
fn gaps(job: &JobReads<'_>) -> Vec<String> {
    let c = job.coverage;
    let mut out = Vec::new();
    let mut logging = |what: String, l: &ReadLogging| match l {
        ReadLogging::Logged { .. } => {}
        ReadLogging::NotLogged { reason, selectors } if selectors.is_empty() => {
            out.push(format!("{what} were not logged ({reason})"))
        }
        ReadLogging::NotLogged { reason, selectors } => out.push(format!(
            "{what} were not logged ({reason}; selectors: {})",
            selectors.join(", ")
        )),
        ReadLogging::Unknown { reason } => {
            out.push(format!("{what} may not have been logged ({reason})"))
        }
    };
    if let Some((bucket, folder)) = job.output {
        logging(
            format!("S3 read data events for s3://{bucket}/{folder}"),
            &c.s3_reads,
        );
    }
    logging("Textract read events (Get*)".to_owned(), &c.textract_reads);
    match (&c.window, job.since) {
        (Err(why), _) => out.push(format!(
            "the time the CloudTrail evidence covers is not known ({why})"
        )),
        (Ok(_), None) => out.push("when the job started is not known".to_owned()),
        (Ok(w), Some(since)) if since < w.from => out.push(format!(
            "the CloudTrail evidence starts at {}, after the job started at {}",
            rfc3339(w.from),
            rfc3339(since)
        )),
        _ => {}
    }
    out.extend(c.gaps.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::allowlist::AllowList;
    use crate::access::observed::ReadOperation::{Decrypt, GetObject, HeadObject, TextractGet};
    use crate::access::observed::tests::{ANALYST, FOLDER, READER, at, read};
    use std::path::Path;

    const PIPELINE: &str = "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker";

    fn logged() -> ReadLogging {
        ReadLogging::Logged {
            trail: "org-audit".into(),
        }
    }

    fn covered() -> ReadCoverage {
        ReadCoverage {
            s3_reads: logged(),
            textract_reads: logged(),
            window: Ok(TimeWindow {
                from: at(0),
                until: at(59),
            }),
            gaps: vec![],
        }
    }

    fn list(expires: &str) -> AllowList {
        AllowList::parse(
            Path::new("readers.toml"),
            &format!(
                r#"
                [[reader]]
                bucket = "acme-results"
                prefix = "secure/results/"
                principals = ["arn:aws:iam::111122223333:role/ResultsReader",
                              "arn:aws:sts::111122223333:assumed-role/DocPipeline/*"]
                reason = "the post's design"
                {expires}

                [[reader]]
                job_tag = "never-used"
                principals = ["arn:aws:iam::111122223333:user/nobody"]
                reason = "stale"
                "#
            ),
        )
        .unwrap()
    }

    fn reads() -> Vec<ReadEvent> {
        vec![
            read("g1", 2, PIPELINE, TextractGet, None),
            read("r1", 30, READER, GetObject, Some("1")),
            read("r2", 30, READER, Decrypt, Some("1")),
            read("r3", 31, READER, GetObject, Some("2")),
        ]
    }

    fn job<'a>(reads: &'a [ReadEvent], coverage: &'a ReadCoverage) -> JobReads<'a> {
        JobReads {
            reads,
            output: Some(("acme-results", FOLDER)),
            job_tag: None,
            since: Some(at(0)),
            coverage,
        }
    }

    fn run(job: &JobReads<'_>, list: Option<&AllowList>) -> (Vec<Finding>, Vec<EntryOutcome>) {
        match list {
            Some(l) => {
                let mut c = Checker::new(l, at(59));
                let f = evaluate(job, Some(&mut c));
                (f, c.finish())
            }
            None => (evaluate(job, None), vec![]),
        }
    }

    #[test]
    fn allowed_readers_pass_with_the_readers_as_proof() {
        let l = list("");
        let (reads, cov) = (reads(), covered());
        let (f, entries) = run(&job(&reads, &cov), Some(&l));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Pass);
        assert!(f[0].message.starts_with(
            "every read of the job's results from 2026-11-20T10:00:00Z to 2026-11-20T10:59:00Z is allowed by readers.toml: "
        ), "{}", f[0].message);
        assert!(f[0].message.contains(&format!("{READER} read 2 objects ({FOLDER}1 to {FOLDER}2) from 2026-11-20T10:30:00Z to 2026-11-20T10:31:00Z (kms:Decrypt, s3:GetObject) from 10.0.0.1")));
        assert_eq!(f[0].evidence.len(), 4);
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.state, e.matched, e.allowed))
                .collect::<Vec<_>>(),
            [(EntryState::Applied, 4, 4), (EntryState::Stale, 0, 0)]
        );
    }

    #[test]
    fn a_third_principal_fails_naming_it_the_objects_and_the_events() {
        let l = list("");
        let mut reads = reads();
        reads.push(read("a1", 35, ANALYST, GetObject, Some("1")));
        reads.push(read("a2", 35, ANALYST, Decrypt, Some("1")));
        let cov = covered();
        let (f, _) = run(&job(&reads, &cov), Some(&l));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(
            f[0].message,
            format!(
                "{ANALYST} read 1 object ({FOLDER}1) at 2026-11-20T10:35:00Z (kms:Decrypt, s3:GetObject) from 10.0.0.1: readers.toml does not allow it"
            )
        );
        assert_eq!(
            f[0].object.as_deref(),
            Some(&*format!("s3://acme-results/{FOLDER}1"))
        );
        let ids: Vec<String> = f[0].evidence.iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["GetObject a1", "Decrypt a2"]);
    }

    #[test]
    fn a_proven_unallowed_read_fails_even_when_reads_are_not_all_logged() {
        let l = list("");
        let reads = vec![read("a2", 35, ANALYST, Decrypt, Some("1"))];
        let cov = ReadCoverage {
            s3_reads: ReadLogging::NotLogged {
                reason: "org-audit logs data events for writes only".into(),
                selectors: vec!["\"Textract output writes\" (readOnly = false)".into()],
            },
            ..covered()
        };
        let (f, _) = run(&job(&reads, &cov), Some(&l));
        let statuses: Vec<Status> = f.iter().map(|f| f.status).collect();
        assert_eq!(statuses, [Status::Fail, Status::Inconclusive]);
    }

    #[test]
    fn reads_with_a_writes_only_trail_are_inconclusive_naming_the_selector() {
        let reads = vec![read("r2", 30, READER, Decrypt, Some("1"))];
        let cov = ReadCoverage {
            s3_reads: ReadLogging::NotLogged {
                reason: "org-audit logs data events for writes only".into(),
                selectors: vec!["\"Textract output writes\" (readOnly = false)".into()],
            },
            ..covered()
        };
        for l in [None, Some(list(""))] {
            let (f, _) = run(&job(&reads, &cov), l.as_ref());
            assert_eq!(f.len(), 1, "{f:#?}");
            assert_eq!(f[0].status, Status::Inconclusive);
            assert_eq!(
                f[0].message,
                format!(
                    "S3 read data events for s3://acme-results/{FOLDER} were not logged (org-audit logs data events for writes only; selectors: \"Textract output writes\" (readOnly = false)), so reads of the results may be missing"
                )
            );
        }
    }

    #[test]
    fn without_a_list_the_readers_are_the_proof_of_a_pass() {
        let mut reads = reads();
        reads.push(read("a1", 35, ANALYST, GetObject, Some("1")));
        let cov = covered();
        let (f, _) = run(&job(&reads, &cov), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].status, Status::Pass);
        assert!(f[0].message.starts_with("no allow-list given (--allowed-readers), so the readers from 2026-11-20T10:00:00Z to 2026-11-20T10:59:00Z are the proof: "));
        assert!(f[0].message.contains(&format!("{PIPELINE} read the results at 2026-11-20T10:02:00Z (textract:GetDocumentAnalysis) from 10.0.0.1; ")));
        assert!(f[0].message.contains(ANALYST));
        let (f, _) = run(&job(&[], &cov), None);
        assert_eq!(
            f[0].message,
            "no read of the job's results from 2026-11-20T10:00:00Z to 2026-11-20T10:59:00Z"
        );
    }

    #[test]
    fn every_gap_is_a_reason() {
        let cov = ReadCoverage {
            s3_reads: ReadLogging::Unknown {
                reason: "no trail configuration in the evidence".into(),
            },
            textract_reads: ReadLogging::NotLogged {
                reason: "management events are excluded".into(),
                selectors: vec![],
            },
            window: Ok(TimeWindow {
                from: at(10),
                until: at(59),
            }),
            gaps: vec!["cloudtrail/x.json.gz could not be read (truncated gzip)".into()],
        };
        let (f, _) = run(&job(&[], &cov), None);
        let m: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            m,
            [
                &*format!(
                    "S3 read data events for s3://acme-results/{FOLDER} may not have been logged (no trail configuration in the evidence), so reads of the results may be missing"
                ),
                "Textract read events (Get*) were not logged (management events are excluded), so reads of the results may be missing",
                "the CloudTrail evidence starts at 2026-11-20T10:10:00Z, after the job started at 2026-11-20T10:00:00Z, so reads of the results may be missing",
                "cloudtrail/x.json.gz could not be read (truncated gzip), so reads of the results may be missing",
            ]
        );
        let cov = ReadCoverage {
            window: Err("no window stated".into()),
            ..covered()
        };
        let (f, _) = run(
            &JobReads {
                since: None,
                ..job(&[], &cov)
            },
            None,
        );
        assert_eq!(
            f[0].message,
            "the time the CloudTrail evidence covers is not known (no window stated), so reads of the results may be missing"
        );
        let cov = covered();
        let (f, _) = run(
            &JobReads {
                since: None,
                ..job(&[], &cov)
            },
            None,
        );
        assert!(
            f[0].message
                .starts_with("when the job started is not known")
        );
        // Results kept by Textract: S3 read events are not needed.
        let cov = ReadCoverage {
            s3_reads: ReadLogging::Unknown { reason: "-".into() },
            ..covered()
        };
        let (f, _) = run(
            &JobReads {
                output: None,
                ..job(&[], &cov)
            },
            None,
        );
        assert_eq!(f[0].status, Status::Pass);
    }

    #[test]
    fn an_entry_an_earlier_one_always_beats_is_shadowed() {
        let text = r#"
            [[reader]]
            bucket = "acme-results"
            principals = ["arn:aws:iam::111122223333:role/ResultsReader"]
            reason = "first"
            [[reader]]
            bucket = "acme-results"
            prefix = "secure/"
            principals = ["arn:aws:iam::111122223333:role/ResultsReader"]
            reason = "second"
            "#;
        let l = AllowList::parse(Path::new("readers.toml"), text).unwrap();
        let reads = vec![read("r1", 30, READER, GetObject, Some("1"))];
        let cov = covered();
        let (f, entries) = run(&job(&reads, &cov), Some(&l));
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(
            entries.iter().map(|e| e.state).collect::<Vec<_>>(),
            [EntryState::Applied, EntryState::Shadowed]
        );
    }

    #[test]
    fn checkers_of_several_jobs_add_up() {
        let l = list("");
        let cov = covered();
        let (one, two) = (reads(), vec![read("r9", 40, READER, GetObject, Some("3"))]);
        let mut a = Checker::new(&l, at(59));
        let mut b = Checker::new(&l, at(59));
        evaluate(&job(&one, &cov), Some(&mut a));
        evaluate(&job(&two, &cov), Some(&mut b));
        a.absorb(b);
        let e = a.finish();
        assert_eq!(
            (e[0].matched, e[0].allowed, e[0].state),
            (5, 5, EntryState::Applied)
        );
        assert_eq!(e[1].state, EntryState::Stale);
    }

    #[test]
    fn expired_entries_allow_nothing_and_say_so() {
        let l = list("expires = 2026-11-19");
        let (reads, cov) = (reads(), covered());
        let (f, entries) = run(&job(&reads, &cov), Some(&l));
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f.iter().all(|f| f.status == Status::Fail));
        assert!(
            f[0].message.ends_with(
                "readers.toml does not allow it (entry 1 allowed it until 2026-11-20T00:00:00Z)"
            ),
            "{}",
            f[0].message
        );
        assert_eq!(entries[0].state, EntryState::Expired);
        assert_eq!((entries[0].matched, entries[0].allowed), (4, 0));
    }

    #[test]
    fn operations_job_tags_and_principals_without_an_arn() {
        let l = AllowList::parse(
            Path::new("readers.toml"),
            r#"
            [[reader]]
            job_tag = "claims"
            principals = ["arn:aws:iam::111122223333:user/auditor"]
            operations = ["s3:HeadObject"]
            reason = "textract-audit's own HeadObject calls"
            "#,
        )
        .unwrap();
        let auditor = "arn:aws:iam::111122223333:user/auditor";
        let reads = vec![
            read("h1", 50, auditor, HeadObject, Some("1")),
            read("h2", 51, auditor, GetObject, Some("1")),
            read("x1", 52, "AnonymousPrincipal", GetObject, Some("2")),
        ];
        let cov = covered();
        let tagged = JobReads {
            job_tag: Some("claims"),
            ..job(&reads, &cov)
        };
        let (f, entries) = run(&tagged, Some(&l));
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].message.starts_with("AnonymousPrincipal read 1 object"));
        assert!(
            f[0].message
                .ends_with("(the record names no principal ARN, so no entry can allow it)")
        );
        assert!(f[1].message.starts_with(&format!(
            "{auditor} read 1 object ({FOLDER}1) at 2026-11-20T10:51:00Z (s3:GetObject)"
        )));
        assert_eq!((entries[0].matched, entries[0].allowed), (1, 1));
        let (f, _) = run(&job(&reads, &cov), Some(&l));
        assert_eq!(f.len(), 2, "without the tag the entry covers nothing");
        assert!(f[1].message.starts_with(&format!("{auditor} read 1 object ({FOLDER}1) from 2026-11-20T10:50:00Z to 2026-11-20T10:51:00Z (s3:GetObject, s3:HeadObject)")), "{}", f[1].message);
    }
}
