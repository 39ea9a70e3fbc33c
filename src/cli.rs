//! Command-line interface: clap definitions and the plan each subcommand runs.
//!
//! Flags are resolved here into calls on the pipeline stages; nothing below this module
//! knows about flags.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::evidence::{self, Gathered, bundle, live};
use crate::model::JobId;
use crate::render::{self, Format, Style};
use crate::report::{self, exit};
use crate::rules::RuleSet;

const EXIT_CODES: &str = "\
Exit codes:
  0  every job PASS
  1  runtime error (unreadable bundle, I/O failure, no AWS call answered at all)
  2  usage error
  3  at least one job FAIL
  4  no FAIL, but at least one job INCONCLUSIVE (evidence missing or unusable)
  --exit-zero turns 3 and 4 into 0.";

/// Verify where Amazon Textract stored a job's results and how they were encrypted.
#[derive(Debug, Parser)]
#[command(name = "textract-audit", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify Textract jobs, live from AWS or from an evidence bundle.
    Verify(VerifyArgs),
    /// Collect the evidence for Textract jobs from AWS into an evidence bundle.
    Collect(CollectArgs),
    /// List the rules, or show one.
    Rules(RulesArgs),
    /// Work with evidence bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Job id to verify (repeatable). Required live; with --evidence, every job found in
    /// the bundle when omitted.
    #[arg(
        long = "job-id",
        value_name = "ID",
        required_unless_present = "evidence"
    )]
    pub job_ids: Vec<String>,
    /// Verify from this evidence bundle directory (see docs/evidence-bundle.md) instead of
    /// reading AWS.
    #[arg(long, value_name = "DIR", conflicts_with = "aws")]
    pub evidence: Option<PathBuf>,
    // Trail log file sources (`--trail-dir DIR`, `--trail s3://BUCKET[/PREFIX]`) are added
    // here by the trail scanner; their records join the live or bundle evidence.
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Job id to collect evidence for (repeatable).
    #[arg(long = "job-id", value_name = "ID", required = true)]
    pub job_ids: Vec<String>,
    /// The bundle directory to write (created; must not hold a bundle already).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// How to reach AWS. Credentials come from the SDK's default chain (environment, profile,
/// SSO, credential process, container or instance role).
#[derive(Debug, Args)]
#[group(id = "aws", multiple = true)]
#[command(next_help_heading = "AWS (live evidence)")]
pub struct AwsArgs {
    /// AWS Region [default: the SDK's chain: AWS_REGION, then the profile].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files [default: AWS_PROFILE, then `default`].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (e.g. a local emulator); AWS_ENDPOINT_URL works
    /// too. S3 is then addressed path-style.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Start of the CloudTrail window read with LookupEvents (RFC 3339)
    /// [default: 7 days before --until, as Textract keeps jobs 7 days].
    #[arg(long, value_name = "TIME")]
    pub from: Option<DateTime<Utc>>,
    /// End of the CloudTrail window (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME")]
    pub until: Option<DateTime<Utc>>,
    /// SDK retry mode: `adaptive` also slows down when AWS throttles.
    #[arg(long, value_enum, default_value = "standard")]
    pub retry_mode: RetryModeArg,
    /// Attempts per AWS call, the first included.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Time limit on each attempt of an AWS call, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RetryModeArg {
    Standard,
    Adaptive,
}

impl AwsArgs {
    fn options(&self) -> live::Options {
        live::Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            from: self.from,
            until: self.until,
            retry_mode: match self.retry_mode {
                RetryModeArg::Standard => live::RetryMode::Standard,
                RetryModeArg::Adaptive => live::RetryMode::Adaptive,
            },
            max_attempts: self.max_attempts,
            attempt_timeout: Duration::from_secs(self.timeout),
        }
    }
}

/// Reads the jobs' evidence from AWS. Every failed call is one line on standard error; it
/// is an error only when no call was answered at all (nothing to verify from).
fn gather_live(aws: &AwsArgs, jobs: &[JobId]) -> Result<Gathered> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let gathered = runtime.block_on(live::collect(&aws.options(), jobs, evidence::now()))?;
    for line in live::failure_lines(&gathered.calls) {
        eprintln!("{line}");
    }
    if !live::anything_read(&gathered.calls) {
        bail!("no AWS call succeeded (see the lines above): nothing to verify from");
    }
    Ok(gathered)
}

/// Flags shared by every command that prints a report.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 0 even when jobs FAIL or are INCONCLUSIVE (runtime errors still exit 1).
    #[arg(long)]
    pub exit_zero: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: Option<RulesCommand>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: Format,
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

fn emit(text: &str, output: &OutputArgs) -> Result<()> {
    match &output.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .context("writing to standard output")?;
            out.flush().context("writing to standard output")
        }
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let rules = RuleSet::builtin().context("the built-in rules are invalid")?;
    match cli.command {
        Command::Verify(args) => {
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            let evidence = match &args.evidence {
                Some(dir) => bundle::load(dir)?,
                None => gather_live(&args.aws, &jobs)?.into_evidence(),
            };
            let report = report::build(&evidence, &rules, &jobs);
            let to_terminal = args.output.output.is_none() && std::io::stdout().is_terminal();
            emit(
                &render::render(&report, args.output.format, style(to_terminal)),
                &args.output,
            )?;
            let code = report.summary.exit_code;
            Ok(
                if args.output.exit_zero && (code == exit::FAIL || code == exit::INCONCLUSIVE) {
                    exit::PASS
                } else {
                    code
                },
            )
        }
        Command::Collect(args) => {
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            let gathered = gather_live(&args.aws, &jobs)?;
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
        Command::Rules(args) => {
            let text = match (&args.command, args.format) {
                (None, Format::Json) => serde_json::to_string_pretty(&rules.rules)? + "\n",
                (None, Format::Table) => {
                    crate::render::table::rules_list(&rules, style(std::io::stdout().is_terminal()))
                }
                (Some(RulesCommand::Show { id }), format) => {
                    let Some(rule) = rules.get(id) else {
                        eprintln!("error: no rule {id:?}; `textract-audit rules` lists them");
                        return Ok(exit::USAGE);
                    };
                    match format {
                        Format::Json => serde_json::to_string_pretty(rule)? + "\n",
                        Format::Table => crate::render::table::rule_detail(rule, &rules),
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
