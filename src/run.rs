//! Running a parsed command: gather the evidence from the sources the flags name, build the
//! report, render it, and return the documented exit code. The one place where the pipeline
//! stages (evidence -> timeline -> rules -> report -> render) are called in order.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::evidence::live::submit::Session;
use crate::evidence::live::trail_s3::{self};
use crate::evidence::local::{self, Wanted};
use crate::evidence::{self, Gathered, bundle, live};
use crate::integrity::{self, run::Mode};
use crate::model::{
    Evidence, EvidenceProblem, JobId, ProblemScope, Provenance, TimeWindow, TrailEvent,
};
use crate::render::{self, Style};
use crate::report::Report;
use crate::report::{self, exit};
use crate::rules::RuleSet;
use crate::submit;
use crate::timeline;
use crate::trail::ScanProgress;

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

/// Reads the jobs' evidence from AWS. Every failed call is one line on standard error; it
/// is an error only when no call was answered at all (nothing to verify from).
/// An empty `jobs` discovers every job started in the window.
fn gather_live(options: &live::Options, jobs: &[JobId], now: DateTime<Utc>) -> Result<Gathered> {
    let gathered = runtime()?.block_on(live::collect(options, jobs, now))?;
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

/// The trails to scan and how: the directories and buckets, and the windows their files are
/// read for (`None`: back to their oldest files).
struct TrailScan<'a> {
    dirs: &'a [PathBuf],
    buckets: &'a [trail_s3::TrailLocation],
    aws: &'a live::Options,
    /// For directories: the user's window (they are on disk already).
    window: Option<TimeWindow>,
    /// For buckets: what is downloaded.
    bucket_window: Option<TimeWindow>,
    quiet: bool,
    integrity: Mode,
}

/// Adds the records of every trail source: directories as they are, buckets by downloading
/// the window's log files into a temporary folder first (problems and sources then name the
/// S3 objects, not the copies). `jobs` narrows the scan (with the Bucket Key calls of
/// `output_buckets`); empty means discovery.
fn add_trails(
    evidence: &mut Evidence,
    scan: &TrailScan<'_>,
    jobs: &[JobId],
    output_buckets: &[String],
) -> Result<()> {
    let wanted = wanted(jobs, output_buckets);
    scan_trails(evidence, scan.dirs, scan.window, &wanted, scan)?;
    if scan.buckets.is_empty() {
        return Ok(());
    }
    let tmp = tempfile::tempdir().context("creating a folder for the downloaded trail files")?;
    let downloaded = runtime()?.block_on(trail_s3::download_all(
        scan.aws,
        scan.buckets,
        scan.bucket_window,
        tmp.path(),
        scan.integrity != Mode::Off,
    ))?;
    for ((root, got), loc) in downloaded.into_iter().zip(scan.buckets) {
        let first_source = evidence.provenance.sources.len();
        let first_problem = evidence.problems.len();
        let first = evidence.integrity_inputs.counts();
        evidence.problems.extend(got.problems);
        // No log file in the window (yet): an empty trail, not a missing folder.
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        scan_trails(
            evidence,
            std::slice::from_ref(&root),
            scan.bucket_window,
            &wanted,
            scan,
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
        // The copies are gone after this run: name the objects they came from.
        evidence
            .integrity_inputs
            .name_s3_objects(first, &root, got.listing);
        for s in &mut evidence.provenance.sources[first_source..] {
            *s = s.replace(
                &format!("trail-dir {}", root.display()),
                &format!("trail {}", loc.uri(&loc.prefix)),
            ) + &format!(" ({} objects, {} bytes downloaded)", got.objects, got.bytes);
        }
    }
    Ok(())
}

fn wanted(jobs: &[JobId], buckets: &[String]) -> Wanted {
    if jobs.is_empty() {
        Wanted::Discovery
    } else {
        Wanted::Jobs {
            ids: jobs.to_vec(),
            buckets: buckets.to_vec(),
        }
    }
}

/// What the first round read: a bundle as recorded, or live calls that later rounds add to.
enum Base {
    Recorded(Evidence),
    Live(Gathered),
}

impl Base {
    fn evidence(&self) -> Evidence {
        match self {
            Base::Recorded(e) => e.clone(),
            Base::Live(g) => g.clone().into_evidence(),
        }
    }
}

/// At most this many rounds follow the evidence: each round can only add Start records,
/// output buckets or a wider trail window, and there are finitely many of those for the
/// targets; the bound keeps an adversarial input from making the loop long.
const MAX_ROUNDS: usize = 4;

/// Gathers the evidence for `jobs` (discovery when empty) in rounds to a fixed point.
/// Round 1 reads the bundle or live AWS (Start records, job status, what they name) and the
/// trails; each next round follows what the one before found: live, the output folders and
/// keys of Start records found only in the trails (a job older than `LookupEvents`' window);
/// in the trails, the Bucket Key KMS calls of output buckets learnt since, and with job ids
/// whose Start record is still unknown and no `--from`, the trail files back to the oldest.
/// Stops when a round adds nothing; the count of rounds is in the provenance.
fn gather(plan: &Plan, jobs: &[JobId]) -> Result<(Base, Evidence)> {
    let live = plan.live().first().copied();
    let mut base = match (plan.bundle(), live) {
        (Some(dir), _) => {
            Base::Recorded(bundle::load_checked(dir, plan.trust.as_ref(), &plan.aws)?)
        }
        (None, Some(options)) => Base::Live(gather_live(options, jobs, plan.now)?),
        (None, None) => Base::Recorded(no_evidence(Vec::new(), plan.now)),
    };
    let dirs = plan.trail_dirs();
    let buckets = plan.trail_buckets();
    let mut first = base.evidence();
    let mut scan = TrailScan {
        dirs: &dirs,
        buckets: &buckets,
        aws: &plan.aws,
        window: plan.window,
        // Without a window from the user, the live evidence's window bounds the download.
        bucket_window: plan.window.or(first.cloudtrail_window),
        quiet: plan.quiet,
        integrity: plan.integrity,
    };
    let mut followed: Vec<JobId> = jobs
        .iter()
        .filter(|j| timeline::start_record(&first, j).is_some())
        .cloned()
        .collect();
    let mut output_buckets = timeline::output_buckets(&first, jobs);
    add_trails(&mut first, &scan, jobs, &output_buckets)?;
    let mut evidence = first;
    let mut rounds = 1;
    let mut notes = Vec::new();
    while rounds < MAX_ROUNDS {
        let mut grew = false;
        // Start records the first round did not have: follow them live.
        let new_starts: Vec<TrailEvent> = jobs
            .iter()
            .filter(|j| !followed.contains(j))
            .filter_map(|j| timeline::start_record(&evidence, j).cloned())
            .collect();
        if let (Base::Live(gathered), Some(options), false) =
            (&mut base, live, new_starts.is_empty())
        {
            let more = runtime()?.block_on(live::follow_up(options, &new_starts, plan.now))?;
            for (call, records) in more.calls {
                gathered.calls.entry(call).or_default().extend(records);
            }
            grew = true;
        }
        followed.extend(
            new_starts
                .iter()
                .filter_map(|s| crate::model::str_ci(&s.response_elements, "jobId"))
                .map(|j| JobId(j.to_owned())),
        );
        let now_buckets = timeline::output_buckets(&evidence, jobs);
        if now_buckets != output_buckets {
            output_buckets = now_buckets;
            grew = true;
        }
        let unstarted = jobs
            .iter()
            .any(|j| timeline::start_record(&evidence, j).is_none());
        if unstarted && plan.window.is_none() && scan.bucket_window.is_some() && !buckets.is_empty()
        {
            scan.bucket_window = None;
            notes.push(
                "trail buckets searched back to their oldest log files for job ids whose \
                 Start record is not in the default window"
                    .to_owned(),
            );
            grew = true;
        }
        if !grew {
            break;
        }
        rounds += 1;
        evidence = base.evidence();
        add_trails(&mut evidence, &scan, jobs, &output_buckets)?;
    }
    evidence.provenance.sources.extend(notes);
    let online = live.filter(|_| matches!(base, Base::Live(_)));
    let key_calls = conclude_integrity(
        &mut evidence,
        plan.integrity,
        plan.public_keys.as_ref(),
        online,
    )?;
    if let (Base::Live(gathered), false) = (&mut base, key_calls.is_empty()) {
        let (service, op) = live::public_keys::OPERATION;
        gathered
            .calls
            .entry((service.into(), op.into()))
            .or_default()
            .extend(key_calls);
    }
    // One source alone has nothing to follow into.
    if plan.sources.len() > 1 {
        evidence
            .provenance
            .sources
            .push(format!("evidence gathered in {rounds} round(s)"));
    }
    Ok((base, evidence))
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

fn no_evidence(sources: Vec<String>, now: DateTime<Utc>) -> Evidence {
    Evidence::new(Provenance {
        sources,
        account: None,
        region: None,
        captured_at: now,
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
    plan: &Plan,
    targets: &[live::Options],
    audit_window: &TimeWindow,
) -> Result<Vec<(Evidence, Vec<JobId>)>> {
    let mut trail = no_evidence(Vec::new(), plan.now);
    let (dirs, buckets) = (plan.trail_dirs(), plan.trail_buckets());
    let scan = TrailScan {
        dirs: &dirs,
        buckets: &buckets,
        aws: &targets[0],
        window: Some(*audit_window),
        bucket_window: Some(*audit_window),
        quiet: plan.quiet,
        integrity: plan.integrity,
    };
    add_trails(&mut trail, &scan, &[], &[])?;
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
                let mut none = no_evidence(vec![format!("live {label} (not read)")], plan.now);
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

/// Adds the trail directories' records, drawing progress on standard error when it is a
/// terminal.
fn scan_trails(
    evidence: &mut Evidence,
    dirs: &[PathBuf],
    window: Option<TimeWindow>,
    wanted: &Wanted,
    scan: &TrailScan<'_>,
) -> Result<()> {
    if dirs.is_empty() {
        return Ok(());
    }
    let progress = ScanProgress::default();
    let show = !scan.quiet && std::io::stderr().is_terminal();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if show {
            s.spawn(|| draw_progress(&progress, &done));
        }
        let result = local::add_trail_dirs(
            evidence,
            dirs,
            window,
            wanted,
            Some(&progress),
            scan.integrity,
        );
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

/// Renders and writes the report in every format asked for; returns the exit code.
fn finish(report: Report, rules: &RuleSet, output: &Outputs, unfinished: bool) -> Result<u8> {
    let formats = output.formats.clone();
    match (&output.output_dir, &output.output) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for format in formats {
                let path = dir.join(format!("report.{}", format.extension()));
                let text = render::render(
                    &report,
                    rules,
                    format,
                    style(false, output.width, output.verbose),
                );
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        (None, _) if formats.len() > 1 => {
            return Err(Usage("several --format values need --output-dir DIR".into()).into());
        }
        (None, Some(path)) => {
            let text = render::render(
                &report,
                rules,
                formats[0],
                style(false, output.width, output.verbose),
            );
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        (None, None) => {
            let to_terminal = std::io::stdout().is_terminal();
            write_stdout(&render::render(
                &report,
                rules,
                formats[0],
                style(to_terminal, output.width, output.verbose),
            ))?;
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
            let (_, mut evidence) = gather(&plan, plan.job_ids())?;
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
            if targets.len() <= 1 {
                let (_, mut evidence) = gather(&plan, &[])?;
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
            let (base, evidence) = gather(&plan, plan.job_ids())?;
            let Base::Live(mut gathered) = base else {
                unreachable!("collect reads live AWS")
            };
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
    let base = gather_live(&aws, &jobs, evidence::now())?.into_evidence();
    let output_buckets = timeline::output_buckets(&base, &jobs);
    let scan = TrailScan {
        dirs: &args.trail.trail_dirs,
        buckets: &args.trail.trails,
        aws: &aws,
        window: None,
        bucket_window: base.cloudtrail_window,
        quiet,
        integrity: args.trail.integrity,
    };
    let mut evidence = base.clone();
    add_trails(&mut evidence, &scan, &jobs, &output_buckets)?;
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
            add_trails(&mut evidence, &scan, &jobs, &output_buckets)?;
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
