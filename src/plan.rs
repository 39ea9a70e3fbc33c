//! The plan: the command-line flags resolved once, before anything runs, into what a run
//! does: one `now`, the time window, the targets, the ordered sources, the report policy and
//! the outputs. Every later stage reads the plan, never clap structs; the exit-code policy
//! lives here and nowhere else.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::access::allowlist::AllowList;
use crate::cli::{AuditArgs, CollectArgs, OutputArgs, SourceArgs, VerifyArgs};
use crate::evidence::live;
use crate::evidence::live::trail_s3::TrailLocation;
use crate::integrity::signed_bundle::{TrustAnchor, TrustedPublicKey};
use crate::model::{EvidenceProblem, JobId, ProblemScope, TimeWindow, rfc3339};
use crate::render::Format;
use crate::report::mutelist::Mutelist;
use crate::report::{Policy, exit};
use crate::rules::RuleSet;

/// A mistake in the command line that clap cannot see: the process exits 2 with the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// What to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// These job ids.
    Jobs(Vec<JobId>),
    /// Every job the (local) evidence holds.
    Found,
    /// Every job started in this window (`audit`).
    StartedIn(TimeWindow),
}

/// One source of evidence, in the order the plan reads them.
#[derive(Debug, Clone)]
pub enum Source {
    /// An evidence bundle directory.
    Bundle(PathBuf),
    /// One account and Region read live.
    Live(live::Options),
    /// A downloaded trail.
    TrailDir(PathBuf),
    /// A trail's bucket.
    TrailBucket(TrailLocation),
    /// CloudTrail queried where it lives: an Athena table over a trail bucket, a Lake store.
    Query(crate::sources::Store),
}

/// Where and how the report is written.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Sorted, without repeats.
    pub formats: Vec<Format>,
    pub output: Option<PathBuf>,
    pub output_dir: Option<PathBuf>,
    pub exit_zero: bool,
    /// `--verbose`: every job and row in the table format.
    pub verbose: bool,
    /// `--width`: the table format's width, when given.
    pub width: Option<u16>,
}

/// A resolved run of `verify` or `audit`.
#[derive(Debug)]
pub struct Plan {
    /// The one "now" of the run: the default window's end, the capture time.
    pub now: DateTime<Utc>,
    /// The window the user asked for (`audit` always has one); it narrows what is read and,
    /// for `audit`, which jobs are reported. It never says what is covered.
    pub window: Option<TimeWindow>,
    pub targets: Targets,
    pub sources: Vec<Source>,
    /// How AWS is reached for the trail buckets (the first account and Region).
    pub aws: live::Options,
    /// No progress display.
    pub quiet: bool,
    /// `--dry-run`: the query sources print what they would run; no report.
    pub dry_run: bool,
    /// `--integrity` and `--cloudtrail-public-keys`.
    pub integrity: crate::integrity::run::Mode,
    pub public_keys: Option<PathBuf>,
    /// `--trust-key`/`--trust-public-key`: what the bundle's signature must verify with.
    pub trust: Option<TrustAnchor>,
    pub policy: Policy,
    pub outputs: Outputs,
}

impl Plan {
    /// `verify`: job ids (required live), sources, window, policy, outputs.
    pub fn verify(
        args: &VerifyArgs,
        rules: &RuleSet,
        now: DateTime<Utc>,
        quiet: bool,
    ) -> Result<Plan, Usage> {
        let window = resolve_window(args.window.from, args.window.until, now)?;
        let aws = args.aws.options(window)?;
        let sources = sources(&args.sources, &aws)?;
        let jobs: Vec<JobId> = args.job_ids.iter().cloned().map(JobId).collect();
        let live = sources.iter().any(|s| matches!(s, Source::Live(_)));
        if jobs.is_empty() && live {
            return Err(Usage(
                "verifying live needs --job-id (to find every job in a window, use `audit`)".into(),
            ));
        }
        let reads_window = sources.iter().any(|s| !matches!(s, Source::Bundle(_)));
        if window.is_some() && !reads_window {
            return Err(Usage(
                "--from/--until choose what is read from AWS and trail log files; a bundle \
                 keeps the window it was collected for: drop them, or add --trail-dir DIR"
                    .into(),
            ));
        }
        Ok(Plan {
            now,
            window,
            policy: policy(&args.output, rules, jobs.is_empty(), now)?,
            targets: if jobs.is_empty() {
                Targets::Found
            } else {
                Targets::Jobs(jobs)
            },
            sources,
            aws,
            quiet,
            dry_run: args.sources.dry_run,
            integrity: args.sources.trail.integrity,
            public_keys: args.sources.trail.cloudtrail_public_keys.clone(),
            trust: trust_anchor(&args.sources)?,
            outputs: outputs(&args.output),
        })
    }

    /// `collect`: the job ids, live AWS and the trails; what is gathered is written as a
    /// bundle, so there is no report policy and no output but the bundle.
    pub fn collect(args: &CollectArgs, now: DateTime<Utc>, quiet: bool) -> Result<Plan, Usage> {
        let window = resolve_window(args.window.from, args.window.until, now)?;
        let aws = args.aws.options(window)?;
        let mut sources = vec![Source::Live(aws.clone())];
        sources.extend(args.trail.trail_dirs.iter().cloned().map(Source::TrailDir));
        sources.extend(args.trail.trails.iter().cloned().map(Source::TrailBucket));
        sources.extend(args.trail.query_stores().into_iter().map(Source::Query));
        Ok(Plan {
            now,
            window,
            targets: Targets::Jobs(args.job_ids.iter().cloned().map(JobId).collect()),
            sources,
            aws,
            quiet,
            dry_run: false,
            integrity: args.trail.integrity,
            public_keys: args.trail.cloudtrail_public_keys.clone(),
            trust: None,
            policy: Policy::default(),
            outputs: Outputs {
                formats: Vec::new(),
                output: None,
                output_dir: None,
                exit_zero: false,
                verbose: false,
                width: None,
            },
        })
    }

    /// `audit`: the window (from `--since` or `--from/--until`, ending at the plan's `now`),
    /// every account and Region, sources, policy, outputs.
    pub fn audit(
        args: &AuditArgs,
        rules: &RuleSet,
        now: DateTime<Utc>,
        quiet: bool,
    ) -> Result<Plan, Usage> {
        let window = match args.since {
            Some(d) => Some(TimeWindow {
                from: now - d,
                until: now,
            }),
            None => resolve_window(args.window.from, args.window.until, now)?,
        }
        .ok_or_else(|| Usage("audit needs --since or --from".into()))?;
        let targets = args.aws.targets(Some(window));
        let aws = targets[0].clone();
        let mut sources = Vec::new();
        if let Some(dir) = &args.sources.evidence {
            sources.push(Source::Bundle(dir.clone()));
        } else if args.sources.live() {
            sources.extend(targets.into_iter().map(Source::Live));
        }
        sources.extend(local_sources(&args.sources)?);
        Ok(Plan {
            now,
            window: Some(window),
            targets: Targets::StartedIn(window),
            sources,
            aws,
            quiet,
            dry_run: args.sources.dry_run,
            integrity: args.sources.trail.integrity,
            public_keys: args.sources.trail.cloudtrail_public_keys.clone(),
            trust: trust_anchor(&args.sources)?,
            policy: policy(&args.output, rules, true, now)?,
            outputs: outputs(&args.output),
        })
    }

    pub fn bundle(&self) -> Option<&PathBuf> {
        self.sources.iter().find_map(|s| match s {
            Source::Bundle(dir) => Some(dir),
            _ => None,
        })
    }

    pub fn live(&self) -> Vec<&live::Options> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                Source::Live(o) => Some(o),
                _ => None,
            })
            .collect()
    }

    pub fn trail_dirs(&self) -> Vec<PathBuf> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                Source::TrailDir(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn trail_buckets(&self) -> Vec<TrailLocation> {
        self.sources
            .iter()
            .filter_map(|s| match s {
                Source::TrailBucket(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// The job ids asked for (empty when the jobs are found in the evidence).
    pub fn job_ids(&self) -> &[JobId] {
        match &self.targets {
            Targets::Jobs(ids) => ids,
            _ => &[],
        }
    }
}

/// `--trust-key ARN` (a key ARN: an alias can be pointed at another key) or
/// `--trust-public-key FILE` (read now: a key that cannot be used is a usage error).
fn trust_anchor(args: &SourceArgs) -> Result<Option<TrustAnchor>, Usage> {
    if let Some(arn) = &args.trust_key {
        if crate::evidence::live::bundle_key::key_arn_region(arn).is_none() {
            return Err(Usage(format!(
                "--trust-key {arn:?}: give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); \
                 an alias or key id is no trust anchor"
            )));
        }
        return Ok(Some(TrustAnchor::Kms {
            key_arn: arn.clone(),
        }));
    }
    let Some(file) = &args.trust_public_key else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    crate::input::read_regular(file, 1 << 20, &mut bytes)
        .map_err(|e| Usage(format!("--trust-public-key {}: {e}", file.display())))?;
    let key = TrustedPublicKey::parse(&bytes)
        .map_err(|e| Usage(format!("--trust-public-key {}: {e}", file.display())))?;
    Ok(Some(TrustAnchor::PublicKey {
        file: file.clone(),
        key,
    }))
}

/// The window of `--from/--until` (until defaults to `now`); a usage error when backwards.
pub fn resolve_window(
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<TimeWindow>, Usage> {
    let Some(from) = from else {
        return Ok(None);
    };
    let until = until.unwrap_or(now);
    if from > until {
        return Err(Usage("--from must not be after --until".into()));
    }
    Ok(Some(TimeWindow { from, until }))
}

/// The sources of `verify` in reading order: the bundle or live AWS, then the trails.
fn sources(args: &SourceArgs, live: &live::Options) -> Result<Vec<Source>, Usage> {
    let mut sources = Vec::new();
    if let Some(dir) = &args.evidence {
        sources.push(Source::Bundle(dir.clone()));
    } else if args.live() {
        sources.push(Source::Live(live.clone()));
    }
    sources.extend(local_sources(args)?);
    Ok(sources)
}

/// The trails; a usage error for `--offline` with nothing to read.
fn local_sources(args: &SourceArgs) -> Result<Vec<Source>, Usage> {
    if args.offline && args.evidence.is_none() && args.trail.trail_dirs.is_empty() {
        return Err(Usage(
            "--offline needs --evidence DIR or --trail-dir DIR to read".into(),
        ));
    }
    if args.dry_run && args.trail.query_stores().is_empty() {
        return Err(Usage(
            "--dry-run shows the queries of --athena or --cloudtrail-lake: give one".into(),
        ));
    }
    if args.offline && !args.trail.query_stores().is_empty() {
        return Err(Usage(
            "--athena and --cloudtrail-lake query AWS; they cannot be used with --offline".into(),
        ));
    }
    Ok(args
        .trail
        .trail_dirs
        .iter()
        .cloned()
        .map(Source::TrailDir)
        .chain(args.trail.trails.iter().cloned().map(Source::TrailBucket))
        .chain(args.trail.query_stores().into_iter().map(Source::Query))
        .collect())
}

/// The policy the report is built under; a usage error when the mute list or the allow-list
/// cannot be used.
pub fn policy(
    output: &OutputArgs,
    rules: &RuleSet,
    discovery: bool,
    now: DateTime<Utc>,
) -> Result<Policy, Usage> {
    let mutelist = output
        .mutelist
        .as_deref()
        .map(|p| Mutelist::load(p, rules))
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    let allowed_readers = output
        .allowed_readers
        .as_deref()
        .map(AllowList::load)
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    Ok(Policy {
        now,
        mutelist,
        allowed_readers,
        fail_on: output.fail_on,
        redact: output.redact,
        discovery,
        status: {
            let mut v = output.status.clone();
            v.sort();
            v.dedup();
            (!v.is_empty()).then_some(v)
        },
    })
}

pub fn outputs(output: &OutputArgs) -> Outputs {
    let mut formats = output.format.clone();
    formats.sort();
    formats.dedup();
    Outputs {
        formats,
        output: output.output.clone(),
        output_dir: output.output_dir.clone(),
        exit_zero: output.exit_zero,
        verbose: output.verbose,
        width: output.width,
    }
}

impl Outputs {
    /// The process exit code for a report's code: `unfinished` (jobs not started or still
    /// running) never lets a run be green; `--exit-zero` turns 3 and 4 into 0.
    pub fn exit_code(&self, report_code: u8, unfinished: bool) -> u8 {
        let code = if unfinished && report_code == exit::PASS {
            exit::INCONCLUSIVE
        } else {
            report_code
        };
        if self.exit_zero && (code == exit::FAIL || code == exit::INCONCLUSIVE) {
            exit::PASS
        } else {
            code
        }
    }
}

/// What the targets need from the evidence's CloudTrail window that it does not prove, as a
/// problem the report shows (and that keeps a run with nothing verified from being green):
/// `audit`'s window not wholly covered, or `verify` finding no job at all.
pub fn uncovered(
    targets: &Targets,
    covered: Option<TimeWindow>,
    jobs_found: usize,
) -> Option<EvidenceProblem> {
    let show = |w: TimeWindow| format!("{} to {}", rfc3339(w.from), rfc3339(w.until));
    let covered_text = covered.map_or("no CloudTrail window".to_owned(), |c| {
        format!("CloudTrail from {}", show(c))
    });
    match targets {
        Targets::StartedIn(w) if !covered.is_some_and(|c| c.covers(w)) => Some(EvidenceProblem {
            subject: format!("audit window {}", show(*w)),
            reason: format!(
                "the evidence covers {covered_text}: jobs started in the rest of the window \
                 were not looked for"
            ),
            scope: ProblemScope::CloudTrail {
                from: Some(w.from),
                until: Some(w.until),
            },
        }),
        Targets::Found if jobs_found == 0 => Some(EvidenceProblem {
            subject: "jobs".into(),
            reason: format!(
                "no Textract job found in the evidence ({covered_text}): nothing was verified"
            ),
            scope: ProblemScope::Textract,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn w(from: &str, until: &str) -> TimeWindow {
        TimeWindow {
            from: at(from),
            until: at(until),
        }
    }

    #[test]
    fn an_audit_window_the_evidence_does_not_cover_is_a_problem() {
        let audit = Targets::StartedIn(w("2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"));
        assert!(uncovered(&audit, None, 0).is_some());
        let part = w("2026-11-20T06:00:00Z", "2026-11-22T00:00:00Z");
        let p = uncovered(&audit, Some(part), 3).expect("partly covered");
        assert!(p.reason.contains("2026-11-20T06:00:00Z"), "{}", p.reason);
        let whole = w("2026-11-19T00:00:00Z", "2026-11-22T00:00:00Z");
        assert_eq!(uncovered(&audit, Some(whole), 0), None);
    }

    #[test]
    fn verify_finding_no_job_is_a_problem() {
        let whole = w("2026-11-19T00:00:00Z", "2026-11-22T00:00:00Z");
        assert!(uncovered(&Targets::Found, Some(whole), 0).is_some());
        assert_eq!(uncovered(&Targets::Found, Some(whole), 1), None);
        let jobs = Targets::Jobs(vec![JobId("j".into())]);
        assert_eq!(uncovered(&jobs, None, 1), None);
    }

    #[test]
    fn exit_policy_in_one_place() {
        let o = |exit_zero| Outputs {
            formats: vec![],
            output: None,
            output_dir: None,
            exit_zero,
            verbose: false,
            width: None,
        };
        assert_eq!(o(false).exit_code(exit::PASS, true), exit::INCONCLUSIVE);
        assert_eq!(o(false).exit_code(exit::FAIL, true), exit::FAIL);
        assert_eq!(o(true).exit_code(exit::FAIL, false), exit::PASS);
        assert_eq!(o(true).exit_code(exit::PASS, true), exit::PASS);
        assert_eq!(o(false).exit_code(exit::PASS, false), exit::PASS);
    }

    #[test]
    fn a_backwards_window_is_a_usage_error() {
        let now = at("2026-11-20T00:00:00Z");
        assert!(resolve_window(Some(now), Some(now - chrono::Duration::hours(1)), now).is_err());
        assert_eq!(
            resolve_window(Some(now - chrono::Duration::hours(1)), None, now)
                .unwrap()
                .map(|w| w.until),
            Some(now)
        );
    }
}
