//! Running a parsed command: gather the evidence from the sources the flags name, build the
//! report, render it, and return the documented exit code. The one place where the pipeline
//! stages (evidence -> timeline -> rules -> report -> render) are called in order.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::evidence::live::submit::Session;
use crate::evidence::{self, Gathered, bundle, live};
use crate::integrity::{self, run::Mode};
use crate::model::{Evidence, EvidenceProblem, JobId, ProblemScope, TimeWindow};
use crate::render::{self, Style};
use crate::report::Report;
use crate::report::{self, exit};
use crate::rules::RuleSet;
use crate::sources::{self, checked, runtime};
use crate::submit;
use crate::timeline;

use crate::cli::{BundleCommand, Cli, Command, RulesCommand, RulesFormat, SubmitArgs};
use crate::plan::{self, Outputs, Plan, Targets, Usage};

/// How to draw for the given destination: colour only on a terminal without `NO_COLOR`;
/// `--width`, else the terminal's width (asked of the terminal, then `$COLUMNS`), else 100
/// columns (stable output for files and pipes).
fn style(to_terminal: bool, width: Option<u16>, verbose: bool) -> Style {
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let terminal = || {
        terminal_size::terminal_size_of(std::io::stdout())
            .map(|(w, _)| w.0)
            .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
    };
    let width = width
        .or_else(|| terminal().filter(|_| to_terminal))
        .unwrap_or(100)
        .max(40);
    Style {
        color,
        width,
        verbose,
    }
}

fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .context("writing to standard output")?;
    out.flush().context("writing to standard output")
}

/// The plan's sources, opened.
type Sources = Vec<Box<dyn sources::Source>>;

/// The plan's evidence for `jobs` (discovery when empty), gathered in rounds
/// ([`sources::gather`]) and its log files' integrity concluded; the sources are returned for
/// what they recorded (`collect`), with the `cloudtrail:ListPublicKeys` calls a live run made
/// for its digests' keys.
fn gather(plan: &Plan, jobs: &[JobId]) -> Result<(Sources, Evidence, Vec<evidence::CallRecord>)> {
    let mut sources = sources::open_all(&plan.sources);
    let mut evidence = sources::gather(&mut sources, jobs, &sources::settings(plan))?;
    let key_calls = conclude_integrity(
        &mut evidence,
        plan.integrity,
        plan.public_keys.as_ref(),
        plan.live().first().copied(),
    )?;
    Ok((sources, evidence, key_calls))
}

/// `--dry-run`: what the query sources would run, on standard output.
fn dry_run(sources: &[Box<dyn sources::Source>]) -> Result<u8> {
    let planned: Vec<String> = sources.iter().filter_map(|s| s.planned()).collect();
    write_stdout(&planned.join("\n"))?;
    Ok(exit::PASS)
}

/// Validates the digests and log files the sources handed in (docs/integrity.md); nothing
/// under `--integrity off`. `online`: a live run, whose digests' keys are asked of
/// `cloudtrail:ListPublicKeys`; the calls are returned for a bundle to record.
fn conclude_integrity(
    evidence: &mut Evidence,
    mode: Mode,
    keys: Option<&PathBuf>,
    online: Option<&live::Options>,
) -> Result<Vec<evidence::CallRecord>> {
    if mode == Mode::Off {
        return Ok(Vec::new());
    }
    let calls = match online {
        Some(options) if !evidence.integrity_inputs.digests.is_empty() => runtime()?.block_on(
            live::public_keys::fetch(options, &mut evidence.integrity_inputs),
        ),
        _ => Vec::new(),
    };
    let keys = integrity::run::load_keys(keys, &evidence.integrity_inputs.keys)?;
    evidence.integrity = Some(Box::new(integrity::run::conclude(
        &evidence.integrity_inputs,
        mode,
        &keys,
    )));
    Ok(calls)
}

/// How many account and Region pairs are read at once: each pair has its own `LookupEvents`
/// quota, so the bound is about this machine and the caller's overall API rate, not CloudTrail.
const TARGET_CONCURRENCY: usize = 4;

/// `audit` over several accounts and Regions: every pair is read live in parallel (a pair
/// that cannot be read at all becomes a section with that problem, and the others go on),
/// the trails are scanned once and their records offered to every section, and each section
/// keeps the jobs started in the window in its own Region.
fn audit_parts(
    plan: &Plan,
    targets: &[live::Options],
    audit_window: &TimeWindow,
) -> Result<Vec<(Evidence, Vec<JobId>)>> {
    let trail_sources: Vec<plan::Source> = plan
        .sources
        .iter()
        .filter(|s| {
            matches!(
                s,
                plan::Source::TrailDir(_) | plan::Source::TrailBucket(_) | plan::Source::Query(_)
            )
        })
        .cloned()
        .collect();
    let mut settings = sources::settings(plan);
    settings.window = Some(*audit_window);
    let mut trail = sources::gather(&mut sources::open_all(&trail_sources), &[], &settings)?;
    conclude_integrity(
        &mut trail,
        plan.integrity,
        plan.public_keys.as_ref(),
        Some(&targets[0]),
    )?;
    let captured_at = plan.now;
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
                let mut none = sources::empty(plan.now);
                none.provenance.sources = vec![format!("live {label} (not read)")];
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
        evidence.integrity = trail.integrity.clone();
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

/// Writes the report in one format to `out`, through a buffer; `what` names the destination in
/// errors.
fn write_report(
    report: &Report,
    rules: &RuleSet,
    format: render::Format,
    style: Style,
    out: impl Write,
    what: &str,
) -> Result<()> {
    let mut out = std::io::BufWriter::new(out);
    render::write(report, rules, format, style, &mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("writing {what}"))
}

/// Renders and writes the report in every format asked for; returns the exit code.
fn finish(report: Report, rules: &RuleSet, output: &Outputs, unfinished: bool) -> Result<u8> {
    let formats = output.formats.clone();
    let to_file = style(false, output.width, output.verbose);
    let create = |path: &std::path::Path| {
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))
    };
    match (&output.output_dir, &output.output) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for format in formats {
                let path = dir.join(format!("report.{}", format.extension()));
                let file = create(&path)?;
                write_report(
                    &report,
                    rules,
                    format,
                    to_file,
                    file,
                    &path.display().to_string(),
                )?;
            }
        }
        (None, _) if formats.len() > 1 => {
            return Err(Usage("several --format values need --output-dir DIR".into()).into());
        }
        (None, Some(path)) => {
            let file = create(path)?;
            write_report(
                &report,
                rules,
                formats[0],
                to_file,
                file,
                &path.display().to_string(),
            )?;
        }
        (None, None) => {
            let to_terminal = std::io::stdout().is_terminal();
            let style = style(to_terminal, output.width, output.verbose);
            let stdout = std::io::stdout().lock();
            write_report(
                &report,
                rules,
                formats[0],
                style,
                stdout,
                "to standard output",
            )?;
        }
    }
    Ok(output.exit_code(report.summary.exit_code, unfinished))
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    crate::input::Limits::init_from_env().map_err(Usage)?;
    let rules = RuleSet::builtin().context("the built-in rules are invalid")?;
    match cli.command {
        Command::Verify(args) => {
            let plan = Plan::verify(&args, &rules, evidence::now(), cli.quiet)?;
            let (sources, mut evidence, _) = gather(&plan, plan.job_ids())?;
            if plan.dry_run {
                return dry_run(&sources);
            }
            let jobs = match &plan.targets {
                Targets::Jobs(ids) => ids.clone(),
                _ => timeline::discover_jobs(&evidence),
            };
            evidence.problems.extend(plan::uncovered(
                &plan.targets,
                evidence.cloudtrail_window,
                jobs.len(),
            ));
            let report = report::build(&evidence, &rules, &jobs, &plan.policy);
            finish(report, &rules, &plan.outputs, false)
        }
        Command::Audit(args) => {
            let plan = Plan::audit(&args, &rules, evidence::now(), cli.quiet)?;
            let Targets::StartedIn(window) = plan.targets.clone() else {
                unreachable!("an audit plan targets a window")
            };
            let targets = expanded_targets(&plan, args.all_regions)?;
            if targets.len() <= 1 || plan.dry_run {
                let (sources, mut evidence, _) = gather(&plan, &[])?;
                if plan.dry_run {
                    return dry_run(&sources);
                }
                let jobs = timeline::jobs_started_in(&evidence, &window, None);
                evidence.problems.extend(plan::uncovered(
                    &plan.targets,
                    evidence.cloudtrail_window,
                    jobs.len(),
                ));
                let report = report::build(&evidence, &rules, &jobs, &plan.policy);
                return finish(report, &rules, &plan.outputs, false);
            }
            let mut parts = audit_parts(&plan, &targets, &window)?;
            for (evidence, jobs) in &mut parts {
                evidence.problems.extend(plan::uncovered(
                    &plan.targets,
                    evidence.cloudtrail_window,
                    jobs.len(),
                ));
            }
            let parts: Vec<report::Part> = parts
                .iter()
                .map(|(evidence, jobs)| report::Part {
                    evidence,
                    jobs: jobs.clone(),
                })
                .collect();
            finish(
                report::build_parts(&parts, &rules, &plan.policy),
                &rules,
                &plan.outputs,
                false,
            )
        }
        Command::Collect(args) => {
            let plan = Plan::collect(&args, evidence::now(), cli.quiet)?;
            // A key that cannot sign stops the run before anything is collected.
            let signer = match &args.sign_key {
                Some(key) => Some(
                    runtime()?.block_on(live::bundle_key::BundleSigner::prepare(&plan.aws, key))?,
                ),
                None => None,
            };
            let (sources, evidence, key_calls) = gather(&plan, plan.job_ids())?;
            let mut gathered = sources
                .iter()
                .find_map(|s| s.recorded())
                .expect("collect reads live AWS")
                .clone();
            if !key_calls.is_empty() {
                let (service, op) = live::public_keys::OPERATION;
                gathered
                    .calls
                    .insert((service.into(), op.into()), key_calls);
            }
            // What the later rounds and the trails added joins the bundle as recorded.
            let first = gathered.clone().into_evidence();
            let recorded: std::collections::BTreeSet<&str> =
                first.events.iter().map(|e| e.event_id.as_str()).collect();
            let added: Vec<&EvidenceProblem> = evidence
                .problems
                .iter()
                .filter(|p| !first.problems.contains(p))
                .collect();
            for problem in &added {
                eprintln!("warning: {}: {}", problem.subject, problem.reason);
            }
            gathered.problems.extend(added.into_iter().cloned());
            gathered.records.extend(
                evidence
                    .events
                    .iter()
                    .filter(|e| !recorded.contains(e.event_id.as_str()))
                    .map(|e| serde_json::to_value(e).expect("records serialize")),
            );
            gathered.provenance.sources = evidence.provenance.sources;
            let collector = format!(
                "{} {} collect ({})",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                gathered.provenance.sources.join(", ")
            );
            // With digests, the trail files themselves, so that the bundle validates offline.
            bundle::check_new(&args.out)?;
            let copied = runtime()?.block_on(integrity::bundle_copy::copy_into(
                &args.out,
                &evidence.integrity_inputs,
                &plan.aws,
            ))?;
            for problem in &copied.problems {
                eprintln!("warning: {}: {}", problem.subject, problem.reason);
            }
            gathered.problems.extend(copied.problems);
            let n = bundle::write(&args.out, &gathered, &collector, &copied.files)?;
            eprintln!("collected {n} evidence file(s) into {}", args.out.display());
            if let Some(signer) = &signer {
                let sig = runtime()?
                    .block_on(bundle::sign(&args.out, signer, evidence::now()))
                    .with_context(|| format!("{} is written but not signed", args.out.display()))?;
                eprintln!(
                    "signed its manifest with {} ({}): {}",
                    sig.key_id,
                    sig.signing_algorithm,
                    args.out
                        .join(integrity::signed_bundle::SIGNATURE_FILE)
                        .display()
                );
            }
            Ok(exit::PASS)
        }
        Command::Submit(args) => run_submit(*args, &rules, cli.quiet),
        Command::Rules(args) => {
            let text = match (&args.command, args.format) {
                (None, RulesFormat::Json) => serde_json::to_string_pretty(&rules.rules)? + "\n",
                (None, RulesFormat::Table) => crate::render::table::rules_list(
                    &rules,
                    style(std::io::stdout().is_terminal(), None, false),
                ),
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
        Command::Bundle(BundleCommand::Seal { dir, captured_at }) => {
            let sealed = bundle::seal(&dir, captured_at.unwrap_or_else(evidence::now))?;
            if sealed.created {
                eprintln!(
                    "created {}: no manifest.json was there; it claims no account, Region or \
                     CloudTrail window (add `cloudtrail_window` to claim one, see \
                     docs/evidence-bundle.md)",
                    dir.join("manifest.json").display()
                );
            }
            eprintln!(
                "sealed {}: {} evidence file(s) listed in manifest.json",
                dir.display(),
                sealed.files
            );
            if sealed.dropped_signature {
                eprintln!(
                    "removed {}: it signed the manifest as it was; the bundle is unsigned now, \
                     and --trust-key/--trust-public-key refuse it",
                    dir.join(integrity::signed_bundle::SIGNATURE_FILE).display()
                );
            }
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

/// `submit`: preflight, start, wait, then verify the jobs as `verify --job-id` does.
fn run_submit(args: SubmitArgs, rules: &RuleSet, quiet: bool) -> Result<u8> {
    use crate::submit::{CheckStatus, Tracked, WaitEnd};
    let plan = args.plan().map_err(Usage)?;
    let policy = crate::plan::policy(&args.output, rules, false, evidence::now())?;
    let outputs = crate::plan::outputs(&args.output);
    let aws = args.aws.options(None)?;
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

    let live_display = !quiet && std::io::stderr().is_terminal();
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
    let mut sources = sources::open_all(
        &std::iter::once(plan::Source::Live(aws.clone()))
            .chain(
                args.trail
                    .trail_dirs
                    .iter()
                    .cloned()
                    .map(plan::Source::TrailDir),
            )
            .chain(
                args.trail
                    .trails
                    .iter()
                    .cloned()
                    .map(plan::Source::TrailBucket),
            )
            .chain(
                args.trail
                    .query_stores()
                    .into_iter()
                    .map(plan::Source::Query),
            )
            .collect::<Vec<_>>(),
    );
    let settings = sources::Settings {
        now: evidence::now(),
        window: None,
        quiet,
        dry_run: false,
        integrity: args.trail.integrity,
        public_keys: args.trail.cloudtrail_public_keys.clone(),
        aws: aws.clone(),
        trust: None,
    };
    let mut evidence = sources::gather(&mut sources, &jobs, &settings)?;
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
            // The trails read again; a trail bucket fetches only the log files it does not
            // have yet.
            sources.iter_mut().for_each(|s| s.refresh());
            evidence = sources::gather(&mut sources, &jobs, &settings)?;
        }
    }

    conclude_integrity(
        &mut evidence,
        args.trail.integrity,
        args.trail.cloudtrail_public_keys.as_ref(),
        Some(&aws),
    )?;
    let report = report::build(&evidence, rules, &jobs, &policy);
    let missing_data_events = report.jobs.iter().any(|j| {
        j.findings.iter().any(|f| {
            f.rule_id == "evidence-data-events" && f.status == crate::rules::Status::Inconclusive
        })
    });
    let unfinished = end == WaitEnd::TimedOut || not_started > 0;
    let code = finish(report, rules, &outputs, unfinished)?;
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
    Ok(code)
}

/// With `--all-regions`, every account's enabled Regions in place of the one default.
fn expanded_targets(plan: &Plan, all_regions: bool) -> Result<Vec<live::Options>> {
    let accounts: Vec<live::Options> = plan.live().into_iter().cloned().collect();
    if !all_regions {
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
