//! Command-line interface: clap definitions and the plan each subcommand runs.
//!
//! Flags are resolved here into calls on the pipeline stages; nothing below this module
//! knows about flags.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::evidence::bundle;
use crate::model::JobId;
use crate::render::{self, Format, Style};
use crate::report::{self, exit};
use crate::rules::RuleSet;

const EXIT_CODES: &str = "\
Exit codes:
  0  every job PASS
  1  runtime error (unreadable bundle, I/O failure)
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
    /// Verify Textract jobs from recorded evidence.
    Verify(VerifyArgs),
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
    /// An evidence bundle directory (see docs/evidence-bundle.md).
    #[arg(long, value_name = "DIR")]
    pub evidence: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
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
            let evidence = bundle::load(&args.evidence)?;
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
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
