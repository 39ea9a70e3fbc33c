//! Running a parsed command: gather the evidence from the sources the flags name, build the
//! report, render it, and return the documented exit code. The one place where the pipeline
//! stages (evidence -> timeline -> rules -> report -> render) are called in order.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use chrono::Utc;

use crate::evidence::live::submit::Session;
use crate::evidence::live::trail_s3::{self};
use crate::evidence::local::{self, Wanted};
use crate::evidence::{self, Gathered, bundle, live};
use crate::model::{Evidence, EvidenceProblem, JobId, ProblemScope, Provenance, TimeWindow};
use crate::render::{self, Style};
use crate::report::Report;
use crate::report::mutelist::Mutelist;
use crate::report::{self, Policy, exit};
use crate::rules::RuleSet;
use crate::submit;
use crate::timeline;
use crate::trail::ScanProgress;

/// A mistake in the command line that clap cannot see: the process exits 2 with the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

use crate::cli::{
    AwsArgs, BundleCommand, Cli, Command, OutputArgs, RulesCommand, RulesFormat, SourceArgs,
    SubmitArgs, TrailArgs, WindowArgs,
};

/// How to draw for the given destination: colour only on a terminal without `NO_COLOR`;
/// the terminal's width, or 100 columns when not a terminal (stable output for files).
fn style(to_terminal: bool) -> Style {
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|_| to_terminal)
        .unwrap_or(100);
    Style { color, width }
}

fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("writing to standard output")?;
    out.flush().context("writing to standard output")
}

/// Reads the jobs' evidence from AWS. Every failed call is one line on standard error; it
/// is an error only when no call was answered at all (nothing to verify from).
/// An empty `jobs` discovers every job started in the window.
fn gather_live(options: &live::Options, jobs: &[JobId]) -> Result<Gathered> {
    let gathered = runtime()?.block_on(live::collect(options, jobs, evidence::now()))?;
    checked(gathered)
}

/// Prints one line per failed call; an error when no call was answered at all.
fn checked(gathered: Gathered) -> Result<Gathered> {
    for line in live::failure_lines(&gathered.calls) {
        eprintln!("{line}");
    }
    if !live::anything_read(&gathered.calls) {
        bail!("no AWS call succeeded (see the lines above): nothing to verify from");
    }
    Ok(gathered)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Adds the records of every trail source: directories as they are, buckets by downloading
/// the window's log files into a temporary folder first (problems and sources then name the
/// S3 objects, not the copies). `jobs` narrows the scan; empty means discovery.
fn add_trails(
    evidence: &mut Evidence,
    trail: &TrailArgs,
    aws: &live::Options,
    window: &WindowArgs,
    jobs: &[JobId],
) -> Result<()> {
    let user_window = window.resolve().map_err(anyhow::Error::msg)?;
    scan_trails(evidence, &trail.trail_dirs, user_window, jobs, trail.quiet)?;
    if trail.trails.is_empty() {
        return Ok(());
    }
    // Without a window from the user, the live evidence's window bounds the download.
    let bound = user_window.or(evidence.cloudtrail_window);
    let tmp = tempfile::tempdir().context("creating a folder for the downloaded trail files")?;
    let downloaded = runtime()?.block_on(trail_s3::download_all(
        aws,
        &trail.trails,
        bound,
        tmp.path(),
    ))?;
    for ((root, got), loc) in downloaded.into_iter().zip(&trail.trails) {
        let first_source = evidence.provenance.sources.len();
        let first_problem = evidence.problems.len();
        evidence.problems.extend(got.problems);
        // No log file in the window (yet): an empty trail, not a missing folder.
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        scan_trails(
            evidence,
            std::slice::from_ref(&root),
            bound,
            jobs,
            trail.quiet,
        )?;
        let local = format!("{}/", root.display());
        let remote = loc.uri("");
        for p in &mut evidence.problems[first_problem..] {
            p.subject = if p.subject == root.display().to_string() {
                loc.uri(&loc.prefix)
            } else {
                p.subject.replace(&local, &remote)
            };
        }
        for s in &mut evidence.provenance.sources[first_source..] {
            *s = s.replace(
                &format!("trail-dir {}", root.display()),
                &format!("trail {}", loc.uri(&loc.prefix)),
            ) + &format!(" ({} objects, {} bytes downloaded)", got.objects, got.bytes);
        }
    }
    Ok(())
}

/// Builds the evidence: a bundle, else live AWS (unless `--offline`), and on top the records
/// of every trail directory. `jobs` narrows the trail scan and the live collection; empty
/// means discovery.
fn gather(
    sources: &SourceArgs,
    window: &WindowArgs,
    aws: &live::Options,
    jobs: &[JobId],
) -> Result<Evidence> {
    let mut evidence = match (&sources.evidence, sources.live()) {
        (Some(dir), _) => bundle::load(dir)?,
        (None, true) => gather_live(aws, jobs)?.into_evidence(),
        (None, false) => no_evidence(Vec::new()),
    };
    add_trails(&mut evidence, &sources.trail, aws, window, jobs)?;
    Ok(evidence)
}

fn no_evidence(sources: Vec<String>) -> Evidence {
    Evidence::new(Provenance {
        sources,
        account: None,
        region: None,
        captured_at: evidence::now(),
    })
}

/// How many account and Region pairs are read at once: each pair has its own `LookupEvents`
/// quota, so the bound is about this machine and the caller's overall API rate, not CloudTrail.
const TARGET_CONCURRENCY: usize = 4;

/// `audit` over several accounts and Regions: every pair is read live in parallel (a pair
/// that cannot be read at all becomes a section with that problem, and the others go on),
/// the trails are scanned once and their records offered to every section, and each section
/// keeps the jobs started in the window in its own Region.
fn audit_parts(
    sources: &SourceArgs,
    targets: &[live::Options],
    window: &WindowArgs,
    audit_window: &TimeWindow,
) -> Result<Vec<(Evidence, Vec<JobId>)>> {
    let mut trail = no_evidence(Vec::new());
    add_trails(&mut trail, &sources.trail, &targets[0], window, &[])?;
    let captured_at = evidence::now();
    let gathered: Vec<Result<Gathered, String>> = runtime()?.block_on(async {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(TARGET_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, t) in targets.iter().cloned().enumerate() {
            let permits = permits.clone();
            tasks.spawn(async move {
                let _p = permits.acquire_owned().await.expect("semaphore open");
                let got = live::collect(&t, &[], captured_at).await;
                (i, got.map_err(|e| e.to_string()))
            });
        }
        let mut out: Vec<Option<Result<Gathered, String>>> = targets.iter().map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (i, got) = done.expect("collection task does not panic");
            out[i] = Some(got);
        }
        out.into_iter()
            .map(|g| g.expect("every target ran"))
            .collect()
    });
    let mut parts = Vec::new();
    for (target, got) in targets.iter().zip(gathered) {
        let label = target_label(target);
        let mut evidence = match got.map_err(anyhow::Error::msg).and_then(checked) {
            Ok(g) => g.into_evidence(),
            Err(e) => {
                eprintln!("error: {label}: {e:#}");
                let mut none = no_evidence(vec![format!("live {label} (not read)")]);
                none.provenance.region = target.region.clone();
                none.problems.push(EvidenceProblem {
                    subject: format!("live {label}"),
                    reason: format!("{e:#}"),
                    scope: ProblemScope::CloudTrail {
                        from: Some(audit_window.from),
                        until: Some(audit_window.until),
                    },
                });
                none
            }
        };
        evidence.add_records(trail.events.iter().cloned());
        evidence.problems.extend(trail.problems.iter().cloned());
        evidence
            .provenance
            .sources
            .extend(trail.provenance.sources.iter().cloned());
        let region = evidence.provenance.region.clone();
        let jobs = timeline::jobs_started_in(&evidence, audit_window, region.as_deref());
        parts.push((evidence, jobs));
    }
    Ok(parts)
}

/// `profile/role @ region`, for messages about one target.
fn target_label(t: &live::Options) -> String {
    let who = t
        .assume_role
        .as_ref()
        .map(|r| r.role_arn.clone())
        .or(t.profile.clone())
        .unwrap_or_else(|| "default credentials".into());
    format!(
        "{who} in {}",
        t.region.as_deref().unwrap_or("the default Region")
    )
}

/// Adds the trail directories' records, drawing progress on standard error when it is a
/// terminal.
fn scan_trails(
    evidence: &mut Evidence,
    dirs: &[PathBuf],
    window: Option<TimeWindow>,
    jobs: &[JobId],
    quiet: bool,
) -> Result<()> {
    if dirs.is_empty() {
        return Ok(());
    }
    let wanted = if jobs.is_empty() {
        Wanted::Discovery
    } else {
        Wanted::Jobs {
            ids: jobs.to_vec(),
            buckets: timeline::output_buckets(evidence, jobs),
        }
    };
    let progress = ScanProgress::default();
    let show = !quiet && std::io::stderr().is_terminal();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if show {
            s.spawn(|| draw_progress(&progress, &done));
        }
        let result = local::add_trail_dirs(evidence, dirs, window, &wanted, Some(&progress));
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// One status line, redrawn in place: files and MB done, rate, ETA.
fn draw_progress(p: &ScanProgress, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::Relaxed;
    let start = std::time::Instant::now();
    let mut drew = false;
    while !done.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (total, files) = (p.files_total.load(Relaxed), p.files_done.load(Relaxed));
        if total == 0 {
            continue;
        }
        let mb = p.bytes_uncompressed_done.load(Relaxed) as f64 / 1e6;
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let eta = if files > 0 {
            (total - files) as f64 * secs / files as f64
        } else {
            0.0
        };
        eprint!(
            "\rscanning trail: {files}/{total} files, {mb:.0} MB, {:.0} MB/s, ETA {eta:.0}s   ",
            mb / secs
        );
        drew = true;
    }
    if drew {
        eprint!("\r{:60}\r", "");
    }
}

/// The policy the report is built under, from the output flags; `None` (after saying why on
/// standard error) when the mute list cannot be used: the user's input to fix, exit 2.
fn policy(output: &OutputArgs, rules: &RuleSet) -> Result<Policy> {
    let mutelist = output
        .mutelist
        .as_deref()
        .map(|p| Mutelist::load(p, rules))
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    Ok(Policy {
        mutelist,
        fail_on: output.fail_on,
        redact: output.redact,
    })
}

/// Renders and writes the report in every format asked for; returns the exit code.
fn finish(report: Report, rules: &RuleSet, output: &OutputArgs) -> Result<u8> {
    let mut formats = output.format.clone();
    formats.sort();
    formats.dedup();
    match (&output.output_dir, &output.output) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for format in formats {
                let path = dir.join(format!("report.{}", format.extension()));
                let text = render::render(&report, rules, format, style(false));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        (None, _) if formats.len() > 1 => {
            return Err(Usage("several --format values need --output-dir DIR".into()).into());
        }
        (None, Some(path)) => {
            let text = render::render(&report, rules, formats[0], style(false));
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        (None, None) => {
            let to_terminal = std::io::stdout().is_terminal();
            write_stdout(&render::render(
                &report,
                rules,
                formats[0],
                style(to_terminal),
            ))?;
        }
    }
    let code = report.summary.exit_code;
    Ok(
        if output.exit_zero && (code == exit::FAIL || code == exit::INCONCLUSIVE) {
            exit::PASS
        } else {
            code
        },
    )
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    crate::input::Limits::init_from_env().map_err(Usage)?;
    let rules = RuleSet::builtin().context("the built-in rules are invalid")?;
    match cli.command {
        Command::Verify(args) => {
            check_sources(&args.sources, &args.window)?;
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            if jobs.is_empty() && args.sources.live() {
                return Err(Usage(
                    "verifying live needs --job-id (to find every job in a window, use `audit`)"
                        .into(),
                )
                .into());
            }
            let policy = policy(&args.output, &rules)?;
            let aws = args.aws.options(&args.window).map_err(Usage)?;
            let evidence = gather(&args.sources, &args.window, &aws, &jobs)?;
            let jobs = if jobs.is_empty() {
                timeline::discover_jobs(&evidence)
            } else {
                jobs
            };
            let report = report::build(&evidence, &rules, &jobs, &policy);
            finish(report, &rules, &args.output)
        }
        Command::Audit(args) => {
            check_sources(&args.sources, &args.window)?;
            let window = match (args.since, args.window.resolve()) {
                (Some(d), _) => {
                    let until = Utc::now();
                    TimeWindow {
                        from: until - d,
                        until,
                    }
                }
                (None, Ok(Some(w))) => w,
                (None, _) => unreachable!("clap requires --since or --from, checked above"),
            };
            let window_args = WindowArgs {
                from: Some(window.from),
                until: Some(window.until),
            };
            let policy = policy(&args.output, &rules)?;
            let targets = expanded_targets(&args.aws, &window_args)?;
            if targets.len() == 1 || !args.sources.live() {
                let evidence = gather(&args.sources, &window_args, &targets[0], &[])?;
                let jobs = timeline::jobs_started_in(&evidence, &window, None);
                let report = report::build(&evidence, &rules, &jobs, &policy);
                return finish(report, &rules, &args.output);
            }
            let parts = audit_parts(&args.sources, &targets, &window_args, &window)?;
            let parts: Vec<report::Part> = parts
                .iter()
                .map(|(evidence, jobs)| report::Part {
                    evidence,
                    jobs: jobs.clone(),
                })
                .collect();
            finish(
                report::build_parts(&parts, &rules, &policy),
                &rules,
                &args.output,
            )
        }
        Command::Collect(args) => {
            args.window.resolve().map_err(Usage)?;
            let aws = args.aws.options(&args.window).map_err(Usage)?;
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            let mut gathered = gather_live(&aws, &jobs)?;
            // The trails' records of these jobs join the bundle as recorded.
            let mut found = Evidence::new(gathered.provenance.clone());
            found.cloudtrail_window = gathered.cloudtrail_window;
            add_trails(&mut found, &args.trail, &aws, &args.window, &jobs)?;
            for problem in &found.problems {
                eprintln!("warning: {}: {}", problem.subject, problem.reason);
            }
            gathered.problems.extend(found.problems);
            gathered.records.extend(
                found
                    .events
                    .iter()
                    .map(|e| serde_json::to_value(e).expect("records serialize")),
            );
            gathered.provenance.sources = found.provenance.sources;
            let collector = format!(
                "{} {} collect ({})",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                gathered.provenance.sources.join(", ")
            );
            let n = bundle::write(&args.out, &gathered, &collector)?;
            eprintln!("collected {n} evidence file(s) into {}", args.out.display());
            Ok(exit::PASS)
        }
        Command::Submit(args) => run_submit(*args, &rules),
        Command::Rules(args) => {
            let text = match (&args.command, args.format) {
                (None, RulesFormat::Json) => serde_json::to_string_pretty(&rules.rules)? + "\n",
                (None, RulesFormat::Table) => {
                    crate::render::table::rules_list(&rules, style(std::io::stdout().is_terminal()))
                }
                (Some(RulesCommand::Show { id }), format) => {
                    let rule = rules.get(id).ok_or_else(|| {
                        Usage(format!("no rule {id:?}; `textract-audit rules` lists them"))
                    })?;
                    match format {
                        RulesFormat::Json => serde_json::to_string_pretty(rule)? + "\n",
                        RulesFormat::Table => crate::render::table::rule_detail(rule, &rules),
                    }
                }
            };
            print!("{text}");
            Ok(exit::PASS)
        }
        Command::Bundle(BundleCommand::Seal { dir }) => {
            let n = bundle::seal(&dir)?;
            eprintln!(
                "sealed {}: {n} evidence file(s) listed in manifest.json",
                dir.display()
            );
            Ok(exit::PASS)
        }
        Command::Completions { shell } => {
            crate::manual::completions(shell, &mut std::io::stdout().lock());
            Ok(exit::PASS)
        }
        Command::Man { out_dir } => {
            crate::manual::man(out_dir.as_deref(), &mut std::io::stdout().lock())
                .context("writing the man page")?;
            Ok(exit::PASS)
        }
    }
}

/// Usage checks clap cannot express: a backwards window, `--offline` with nothing to read.
fn check_sources(sources: &SourceArgs, window: &WindowArgs) -> Result<()> {
    window.resolve().map_err(Usage)?;
    if sources.offline && sources.evidence.is_none() && sources.trail.trail_dirs.is_empty() {
        return Err(
            Usage("--offline needs --evidence DIR or --trail-dir DIR to read".into()).into(),
        );
    }
    Ok(())
}

/// `submit`: preflight, start, wait, then verify the jobs as `verify --job-id` does.
fn run_submit(args: SubmitArgs, rules: &RuleSet) -> Result<u8> {
    use crate::submit::{CheckStatus, Tracked, WaitEnd};
    let plan = args.plan().map_err(Usage)?;
    let policy = policy(&args.output, rules)?;
    let no_window = WindowArgs {
        from: None,
        until: None,
    };
    let aws = args.aws.options(&no_window).map_err(Usage)?;
    let runtime = runtime()?;
    let (session, preflight) = runtime.block_on(async {
        let mut session = Session::connect(&aws).await?;
        let preflight = submit::preflight(&mut session, &plan, rules, evidence::now()).await;
        anyhow::Ok((session, preflight))
    })?;
    eprint!("{}", preflight.render(&plan, session.region()));
    if args.dry_run {
        return Ok(preflight.exit_code());
    }
    if preflight.status() == CheckStatus::WillFail && !args.force {
        eprintln!(
            "error: not starting: the preflight says the jobs would fail (fix the FAIL lines, or pass --force to start anyway)"
        );
        return Ok(exit::FAIL);
    }

    let session = std::sync::Arc::new(session);
    let submitted = runtime.block_on(submit::start_all(std::sync::Arc::clone(&session), &plan));
    let mut tracked = Vec::new();
    for s in &submitted {
        match &s.outcome {
            Ok((object, job)) => {
                eprintln!("started job {job} for {}", submit::s3_label(object));
                tracked.push(Tracked::new(job.clone(), plan.api, s.document.label()));
            }
            Err(e) => eprintln!("error: {}: {e}\n  fix: {}", s.document.label(), e.advice()),
        }
    }
    if tracked.is_empty() {
        eprintln!("error: no job could be started");
        return Ok(exit::ERROR);
    }
    let not_started = submitted.len() - tracked.len();
    let jobs: Vec<JobId> = tracked.iter().map(|t| t.job.clone()).collect();
    let later = submit::verify_command(&jobs, session.region(), &args.verify_flags());

    let live_display = !args.trail.quiet && std::io::stderr().is_terminal();
    let timeout = args
        .wait_timeout
        .to_std()
        .context("--wait-timeout must not be negative")?;
    let end = runtime.block_on(submit::wait(&session, &mut tracked, timeout, live_display));
    match end {
        WaitEnd::Interrupted => {
            eprintln!(
                "interrupted: stopped waiting for job(s) {}; verify them later with:\n  {later}",
                jobs.iter()
                    .map(|j| j.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(exit::INCONCLUSIVE);
        }
        WaitEnd::TimedOut => {
            for t in tracked.iter().filter(|t| !t.finished()) {
                eprintln!(
                    "timeout: job {} is still {} after {}s: INCONCLUSIVE; verify it later with:\n  {later}",
                    t.job,
                    t.status(),
                    timeout.as_secs()
                );
            }
        }
        WaitEnd::Finished => {}
    }
    for t in tracked.iter().filter(|t| t.status() == "FAILED") {
        eprintln!(
            "note: job {} FAILED: {}",
            t.job,
            t.progress
                .as_ref()
                .and_then(|p| p.status_message.as_deref())
                .unwrap_or("no StatusMessage")
        );
    }

    // Verification: the evidence `verify --job-id` reads, plus the trail's log files,
    // re-read until the data events arrive when asked to wait for them.
    // The Ctrl-C handler installed while waiting keeps the default action away: while the
    // evidence is read, Ctrl-C stops the run with the command to verify later.
    let interrupt = {
        let later = later.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: verify the job(s) later with:\n  {later}");
                std::process::exit(i32::from(exit::INCONCLUSIVE));
            }
        })
    };
    let base = gather_live(&aws, &jobs)?.into_evidence();
    let mut evidence = base.clone();
    add_trails(&mut evidence, &args.trail, &aws, &no_window, &jobs)?;
    // The wait for evidence below answers Ctrl-C itself (verifying with what there is).
    interrupt.abort();
    if let Some(limit) = args.wait_for_evidence {
        let limit = limit
            .to_std()
            .context("--wait-for-evidence must not be negative")?;
        let deadline = std::time::Instant::now() + limit;
        let mut pause = submit::MIN_POLL;
        loop {
            let waiting = submit::awaiting_data_events(&evidence, &jobs);
            if waiting.is_empty() {
                break;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                eprintln!(
                    "wait-for-evidence: after {}s the trail still has no S3 data events for {} job(s)",
                    limit.as_secs(),
                    waiting.len()
                );
                break;
            }
            eprintln!(
                "waiting for trail log files with the S3 data events of {} job(s) ({}s left)",
                waiting.len(),
                left.as_secs()
            );
            let interrupted = runtime.block_on(async {
                tokio::select! {
                    _ = tokio::time::sleep(pause.min(left)) => false,
                    _ = tokio::signal::ctrl_c() => true,
                }
            });
            if interrupted {
                eprintln!("interrupted: verifying with the evidence there is");
                break;
            }
            pause = (pause * 2).min(submit::MAX_POLL);
            evidence = base.clone();
            add_trails(&mut evidence, &args.trail, &aws, &no_window, &jobs)?;
        }
    }

    let report = report::build(&evidence, rules, &jobs, &policy);
    let missing_data_events = report.jobs.iter().any(|j| {
        j.findings.iter().any(|f| {
            f.rule_id == "evidence-data-events" && f.status == crate::rules::Status::Inconclusive
        })
    });
    let code = finish(report, rules, &args.output)?;
    if missing_data_events {
        let trail = if args.trail.trail_dirs.is_empty() && args.trail.trails.is_empty() {
            " --trail s3://TRAIL-BUCKET[/PREFIX]"
        } else {
            ""
        };
        eprintln!(
            "hint: S3 data events reach trail log files minutes after a job; once delivered, re-run:\n  {later}{trail}"
        );
    }
    let unfinished = end == WaitEnd::TimedOut || not_started > 0;
    Ok(
        if unfinished && code == exit::PASS && !args.output.exit_zero {
            exit::INCONCLUSIVE
        } else {
            code
        },
    )
}

/// With `--all-regions`, every account's enabled Regions in place of the one default.
fn expanded_targets(aws: &AwsArgs, window: &WindowArgs) -> Result<Vec<live::Options>> {
    let accounts = aws.targets(window);
    if !aws.all_regions {
        return Ok(accounts);
    }
    let rt = runtime()?;
    let mut out = Vec::new();
    for account in accounts {
        let regions = rt
            .block_on(live::enabled_regions(&account))
            .map_err(|e| anyhow::anyhow!("--all-regions for {}: {e}", target_label(&account)))?;
        out.extend(regions.into_iter().map(|r| live::Options {
            region: Some(r),
            ..account.clone()
        }));
    }
    if out.is_empty() {
        bail!("--all-regions: no enabled Region found");
    }
    Ok(out)
}
