//! Command-line interface: clap definitions and the plan each subcommand runs.
//!
//! Flags are resolved here into calls on the pipeline stages; nothing below this module
//! knows about flags.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Parser, Subcommand};

use crate::evidence::bundle;
use crate::evidence::local::{self, LocalSources, Wanted};
use crate::model::{Evidence, JobId, TimeWindow};
use crate::render::{self, Format, Style};
use crate::report::mutelist::Mutelist;
use crate::report::{self, Policy, exit};
use crate::rules::{RuleSet, Severity};
use crate::trail::ScanProgress;
use crate::{report::Report, timeline};

const EXIT_CODES: &str = "\
Exit codes:
  0  every job PASS
  1  runtime error (unreadable bundle, I/O failure)
  2  usage error
  3  at least one job FAIL
  4  no FAIL, but at least one job INCONCLUSIVE (evidence missing or unusable)
  --exit-zero turns 3 and 4 into 0. Muted findings never count; with --fail-on SEVERITY,
  FAIL findings below SEVERITY do not make 3 (verdicts in the report are unchanged).";

/// Verify where Amazon Textract stored a job's results and how they were encrypted.
#[derive(Debug, Parser)]
#[command(name = "textract-audit", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify Textract jobs from recorded evidence.
    Verify(VerifyArgs),
    /// Discover every Textract job started in a time window and verify them all.
    Audit(AuditArgs),
    /// List the rules, or show one.
    Rules(RulesArgs),
    /// Work with evidence bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Job id to verify (repeatable); every job found in the evidence when omitted.
    #[arg(long = "job-id", value_name = "ID")]
    pub job_ids: Vec<String>,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Only trail files that can hold events from this time on are read (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// Only trail files that can hold events up to this time are read (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "from")]
    pub until: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The window: jobs started in the last DURATION (e.g. 24h, 7d, 90m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with_all = ["from", "until"], required_unless_present = "from")]
    pub since: Option<Duration>,
    /// The window's start (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "until")]
    pub from: Option<DateTime<Utc>>,
    /// The window's end (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "from")]
    pub until: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where evidence comes from (collecting from live AWS is not available in this version, so
/// at least one local source is required).
#[derive(Debug, Args)]
#[group(id = "source", required = true, multiple = true)]
pub struct SourceArgs {
    /// An evidence bundle directory (see docs/evidence-bundle.md).
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// A downloaded trail: the AWSLogs/… layout or a directory of .json.gz/.json log files
    /// (repeatable).
    #[arg(long = "trail-dir", value_name = "DIR")]
    pub trail_dirs: Vec<PathBuf>,
}

/// How to read the sources.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Make no network call of any kind (no credential lookup either): only --evidence and
    /// --trail-dir are read, and what would need AWS is INCONCLUSIVE.
    #[arg(long)]
    pub offline: bool,
    /// No progress display on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Flags shared by every command that prints a report.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format; repeat it with --output-dir to write several reports at once.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Vec<Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,
    /// Write report.{txt,json,csv,sarif,xml,md,html} into DIR, one per --format (created if
    /// missing).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Exit 0 even when jobs FAIL or are INCONCLUSIVE (runtime errors still exit 1).
    #[arg(long)]
    pub exit_zero: bool,
    /// A mute list (TOML, see docs/mutelist.md): matching findings keep their status but no
    /// longer count for verdicts and the exit code.
    #[arg(long, value_name = "FILE")]
    pub mutelist: Option<PathBuf>,
    /// Only FAIL findings of this severity or higher make exit code 3 (default: any).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: Option<Severity>,
    /// Replace account ids and IAM/STS principal names with placeholders in every format.
    #[arg(long)]
    pub redact: bool,
}

/// `rules --format`: only the two formats a rule list has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: Option<RulesCommand>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: RulesFormat,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print one rule in full.
    Show {
        /// The rule id (see `textract-audit rules`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Recompute the SHA-256 of every evidence file into manifest.json (for bundles
    /// assembled by hand).
    Seal {
        /// The bundle directory.
        dir: PathBuf,
    },
}

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

/// Reads the sources, drawing scan progress on standard error when it is a terminal.
fn gather(
    sources: &SourceArgs,
    read: &ReadArgs,
    window: Option<TimeWindow>,
    wanted: &Wanted,
) -> Result<Evidence> {
    let local_sources = LocalSources {
        bundle: sources.evidence.clone(),
        trail_dirs: sources.trail_dirs.clone(),
        window,
    };
    let progress = ScanProgress::default();
    let show = !read.quiet && !sources.trail_dirs.is_empty() && std::io::stderr().is_terminal();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        if show {
            s.spawn(|| draw_progress(&progress, &done));
        }
        let result = local::read(&local_sources, wanted, Some(&progress));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
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
fn policy(output: &OutputArgs, rules: &RuleSet) -> Option<Policy> {
    let mutelist = match output.mutelist.as_deref().map(|p| Mutelist::load(p, rules)) {
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return None;
        }
        m => m.transpose().ok().flatten(),
    };
    Some(Policy {
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
            eprintln!("error: several --format values need --output-dir DIR");
            return Ok(exit::USAGE);
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

/// `--fail-on`: the four severities a FAIL finding can be thresholded at.
fn parse_fail_on(s: &str) -> Result<Severity, String> {
    match s {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        _ => Err(format!("{s:?}: expected low, medium, high or critical")),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2026-11-20T10:00:00Z)"))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, e.g. 24h"))?;
    match unit {
        "s" => Ok(Duration::seconds(n)),
        "m" => Ok(Duration::minutes(n)),
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        _ => Err(format!("{s:?}: the unit must be s, m, h, d or w")),
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let rules = RuleSet::builtin().context("the built-in rules are invalid")?;
    match cli.command {
        Command::Verify(args) => {
            let window = args.from.map(|from| TimeWindow {
                from,
                until: args.until.unwrap_or_else(Utc::now),
            });
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            let wanted = if jobs.is_empty() {
                Wanted::Discovery
            } else {
                Wanted::Jobs {
                    ids: jobs.clone(),
                    buckets: Vec::new(),
                }
            };
            let Some(policy) = policy(&args.output, &rules) else {
                return Ok(exit::USAGE);
            };
            let evidence = gather(&args.sources, &args.read, window, &wanted)?;
            let jobs = if jobs.is_empty() {
                timeline::discover_jobs(&evidence)
            } else {
                jobs
            };
            let report = report::build(&evidence, &rules, &jobs, &policy);
            finish(report, &rules, &args.output)
        }
        Command::Audit(args) => {
            let window = match (args.since, args.from, args.until) {
                (Some(d), _, _) => {
                    let until = Utc::now();
                    TimeWindow {
                        from: until - d,
                        until,
                    }
                }
                (None, Some(from), Some(until)) if from <= until => TimeWindow { from, until },
                (None, Some(_), Some(_)) => {
                    eprintln!("error: --from must not be after --until");
                    return Ok(exit::USAGE);
                }
                _ => unreachable!("clap requires --since or --from with --until"),
            };
            let Some(policy) = policy(&args.output, &rules) else {
                return Ok(exit::USAGE);
            };
            let evidence = gather(&args.sources, &args.read, Some(window), &Wanted::Discovery)?;
            let jobs = timeline::jobs_started_in(&evidence, &window);
            let report = report::build(&evidence, &rules, &jobs, &policy);
            finish(report, &rules, &args.output)
        }
        Command::Rules(args) => {
            let text = match (&args.command, args.format) {
                (None, RulesFormat::Json) => serde_json::to_string_pretty(&rules.rules)? + "\n",
                (None, RulesFormat::Table) => {
                    crate::render::table::rules_list(&rules, style(std::io::stdout().is_terminal()))
                }
                (Some(RulesCommand::Show { id }), format) => {
                    let Some(rule) = rules.get(id) else {
                        eprintln!("error: no rule {id:?}; `textract-audit rules` lists them");
                        return Ok(exit::USAGE);
                    };
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
    }
}
