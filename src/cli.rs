//! Command-line interface: clap definitions and the plan each subcommand runs.
//!
//! Flags are resolved here into calls on the pipeline stages; nothing below this module
//! knows about flags.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use clap::{Args, Parser, Subcommand};

use crate::evidence::live::submit::{Session, UploadSse};
use crate::evidence::live::trail_s3::{self, TrailLocation};
use crate::evidence::local::{self, Wanted};
use crate::evidence::{self, Gathered, bundle, live};
use crate::model::{
    Evidence, EvidenceProblem, JobId, ProblemScope, Provenance, S3Object, TextractApi, TimeWindow,
};
use crate::render::{self, Format, Style};
use crate::report::Report;
use crate::report::mutelist::Mutelist;
use crate::report::{self, Policy, exit};
use crate::rules::{RuleSet, Severity};
use crate::submit;
use crate::timeline;
use crate::trail::ScanProgress;

const EXIT_CODES: &str = "\
Exit codes:
  0  every job PASS
  1  runtime error (unreadable bundle, I/O failure, no AWS call answered at all)
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
    /// Verify Textract jobs, live from AWS, from an evidence bundle or from trail log files.
    Verify(VerifyArgs),
    /// Discover every Textract job started in a time window and verify them all.
    Audit(AuditArgs),
    /// Collect the evidence for Textract jobs from AWS into an evidence bundle.
    Collect(CollectArgs),
    /// Start Textract jobs with chosen output settings, wait for them, then verify them.
    Submit(Box<SubmitArgs>),
    /// List the rules, or show one.
    Rules(RulesArgs),
    /// Work with evidence bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Job id to verify (repeatable). Required live; from local sources, every job found
    /// when omitted.
    #[arg(long = "job-id", value_name = "ID")]
    pub job_ids: Vec<String>,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The window: jobs started in the last DURATION (e.g. 24h, 7d, 90m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with_all = ["from", "until"], required_unless_present = "from")]
    pub since: Option<Duration>,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub sources: SourceArgs,
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
    /// Trail log files whose records of these jobs join the bundle.
    #[command(flatten)]
    pub trail: TrailArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

const SUBMIT_EXIT_CODES: &str = "\
Exit codes:
  0  every job PASS (with --dry-run: every preflight check ok)
  1  runtime error, or no job could be started
  2  usage error
  3  at least one job FAIL (with --dry-run, or without --force: a preflight check will fail)
  4  no FAIL, but at least one job INCONCLUSIVE, still running, not started, or interrupted
     (with --dry-run: a preflight check cannot be confirmed)
  --exit-zero turns 3 and 4 of the verification into 0.";

/// `submit`: which documents, which Textract API and output settings, how to wait.
#[derive(Debug, Args)]
#[command(after_help = SUBMIT_EXIT_CODES)]
pub struct SubmitArgs {
    /// A document in S3: s3://BUCKET/KEY[?versionId=V] (repeatable).
    #[arg(long = "document", value_name = "S3_URI", value_parser = submit::parse_s3_object)]
    pub documents: Vec<S3Object>,
    /// A local file to upload to --input, then submit (repeatable).
    #[arg(long = "upload", value_name = "FILE", requires = "input")]
    pub uploads: Vec<PathBuf>,
    /// Where uploads go: s3://BUCKET/PREFIX/ (the file name is appended).
    #[arg(long, value_name = "S3_URI", value_parser = submit::parse_s3_prefix)]
    pub input: Option<(String, String)>,
    /// Server-side encryption of the uploads.
    #[arg(long, value_enum, value_name = "SSE")]
    pub upload_sse: Option<UploadSseArg>,
    /// The KMS key of the uploads with --upload-sse aws:kms (without it S3 uses aws/s3).
    #[arg(long, value_name = "KEY")]
    pub upload_kms_key: Option<String>,
    /// A file with one document per line: s3://BUCKET/KEY[?versionId=V], or a local file
    /// (relative to the manifest) to upload to --input. `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The Textract API.
    #[arg(long, value_enum, default_value = "analysis")]
    pub api: ApiArg,
    /// Analysis features, comma-separated (required with --api analysis).
    #[arg(long, value_enum, value_delimiter = ',', ignore_case = true)]
    pub features: Vec<FeatureArg>,
    /// A query for the QUERIES feature (repeatable).
    #[arg(long = "query", value_name = "TEXT")]
    pub queries: Vec<String>,
    /// OutputConfig.S3Bucket: keep the results in this bucket (table rows 2 and 4).
    #[arg(long, value_name = "BUCKET")]
    pub output_bucket: Option<String>,
    /// OutputConfig.S3Prefix [Textract's default: textract_output].
    #[arg(long, value_name = "PREFIX", requires = "output_bucket")]
    pub output_prefix: Option<String>,
    /// KMSKeyId: key id, key ARN, alias name or alias ARN (table rows 3 and 4).
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// ClientRequestToken: resubmitting with the same token returns the same job; with
    /// several documents the n-th gets TOKEN-n.
    #[arg(long, value_name = "TOKEN")]
    pub client_request_token: Option<String>,
    /// JobTag, echoed in the completion notification.
    #[arg(long, value_name = "TAG")]
    pub job_tag: Option<String>,
    /// NotificationChannel.SNSTopicArn (with --sns-role-arn).
    #[arg(long, value_name = "ARN", requires = "sns_role_arn")]
    pub sns_topic_arn: Option<String>,
    /// NotificationChannel.RoleArn: the role Textract publishes to the topic with.
    #[arg(long, value_name = "ARN", requires = "sns_topic_arn")]
    pub sns_role_arn: Option<String>,
    /// Uploads and Start* calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = submit::DEFAULT_CONCURRENCY as u32, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub concurrency: u32,
    /// Stop waiting for the jobs after DURATION (e.g. 90s, 10m); running jobs are then
    /// INCONCLUSIVE. (`--timeout` is the per-attempt limit of each AWS call.)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10m")]
    pub wait_timeout: Duration,
    /// Keep re-reading the trail (--trail or --trail-dir) for up to DURATION until the jobs'
    /// S3 data events arrive (CloudTrail delivers log files minutes after the events).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_evidence: Option<Duration>,
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Run the preflight only: exit 0 when every check is ok, 4 when one cannot be
    /// confirmed, 3 when one will fail.
    #[arg(long)]
    pub dry_run: bool,
    /// Start the jobs even when a preflight check says they will fail.
    #[arg(long, conflicts_with = "dry_run")]
    pub force: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiArg {
    /// StartDocumentAnalysis.
    Analysis,
    /// StartDocumentTextDetection.
    Text,
    /// StartExpenseAnalysis.
    Expense,
    /// StartLendingAnalysis.
    Lending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum FeatureArg {
    Tables,
    Forms,
    Queries,
    Signatures,
    Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UploadSseArg {
    /// SSE-S3.
    #[value(name = "AES256")]
    Aes256,
    /// SSE-KMS (with --upload-kms-key, else the AWS managed aws/s3 key).
    #[value(name = "aws:kms")]
    AwsKms,
}

impl SubmitArgs {
    /// The resolved plan, or a usage error.
    fn plan(&self) -> Result<submit::Plan, String> {
        let mut documents: Vec<submit::Document> = self
            .documents
            .iter()
            .cloned()
            .map(submit::Document::S3)
            .collect();
        if let Some(input) = &self.input {
            for path in &self.uploads {
                documents.push(submit::upload(path, input)?);
            }
        }
        if let Some(manifest) = &self.manifest {
            documents.extend(submit::read_manifest(manifest, self.input.as_ref())?);
        }
        if documents.is_empty() {
            return Err(
                "nothing to submit: give --document, --upload with --input, or --manifest".into(),
            );
        }
        let api = match self.api {
            ApiArg::Analysis => TextractApi::DocumentAnalysis,
            ApiArg::Text => TextractApi::DocumentTextDetection,
            ApiArg::Expense => TextractApi::ExpenseAnalysis,
            ApiArg::Lending => TextractApi::LendingAnalysis,
        };
        let features: Vec<String> = self
            .features
            .iter()
            .map(|f| {
                clap::ValueEnum::to_possible_value(f)
                    .expect("no skipped variants")
                    .get_name()
                    .to_owned()
            })
            .collect();
        match (api, features.is_empty()) {
            (TextractApi::DocumentAnalysis, true) => {
                return Err("--api analysis needs --features (e.g. TABLES,FORMS)".into());
            }
            (TextractApi::DocumentAnalysis, false) => {}
            (_, false) => return Err("--features is for --api analysis only".into()),
            (_, true) => {}
        }
        let wants_queries = self.features.contains(&FeatureArg::Queries);
        if wants_queries == self.queries.is_empty() {
            return Err("the QUERIES feature and --query go together".into());
        }
        if self.upload_kms_key.is_some() && self.upload_sse != Some(UploadSseArg::AwsKms) {
            return Err("--upload-kms-key needs --upload-sse aws:kms".into());
        }
        if (self.upload_sse.is_some() || !self.uploads.is_empty()) && self.input.is_none() {
            return Err("uploading needs --input s3://BUCKET/PREFIX/".into());
        }
        if self.wait_for_evidence.is_some()
            && self.trail.trail_dirs.is_empty()
            && self.trail.trails.is_empty()
        {
            return Err("--wait-for-evidence needs a trail to re-read: --trail s3://BUCKET[/PREFIX] or --trail-dir DIR".into());
        }
        if let Some(token) = &self.client_request_token {
            let longest = if documents.len() > 1 {
                format!("{token}-{}", documents.len())
            } else {
                token.clone()
            };
            if longest.len() > 64
                || !token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "--client-request-token {token:?}: letters, digits, - and _ only, at most 64 characters (with the -n suffix of several documents)"
                ));
            }
        }
        Ok(submit::Plan {
            documents,
            api,
            features,
            queries: self.queries.clone(),
            output: self
                .output_bucket
                .clone()
                .map(|b| (b, self.output_prefix.clone())),
            kms_key: self.kms_key.clone(),
            client_request_token: self.client_request_token.clone(),
            job_tag: self.job_tag.clone(),
            notification: self.sns_topic_arn.clone().zip(self.sns_role_arn.clone()),
            upload_sse: self.upload_sse.map(|s| UploadSse {
                algorithm: match s {
                    UploadSseArg::Aes256 => "AES256".into(),
                    UploadSseArg::AwsKms => "aws:kms".into(),
                },
                kms_key: self.upload_kms_key.clone(),
            }),
            concurrency: self.concurrency as usize,
        })
    }

    /// The flags besides `--job-id` and `--region` that make `verify` read the same evidence.
    fn verify_flags(&self) -> Vec<(&'static str, String)> {
        let mut flags = Vec::new();
        flags.extend(self.aws.profile.iter().map(|p| ("--profile", p.clone())));
        flags.extend(self.aws.role_arn.iter().map(|r| ("--role-arn", r.clone())));
        flags.extend(self.aws.external_id.clone().map(|id| ("--external-id", id)));
        flags.extend(self.aws.endpoint_url.clone().map(|u| ("--endpoint-url", u)));
        for dir in &self.trail.trail_dirs {
            flags.push(("--trail-dir", dir.display().to_string()));
        }
        for loc in &self.trail.trails {
            flags.push(("--trail", loc.uri(&loc.prefix)));
        }
        flags
    }
}

/// Where evidence comes from besides live AWS.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Verify from this evidence bundle (see docs/evidence-bundle.md) instead of reading AWS.
    #[arg(long, value_name = "DIR", conflicts_with = "aws")]
    pub evidence: Option<PathBuf>,
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Make no network call of any kind (no credential lookup either): only --evidence and
    /// --trail-dir are read, and what would need AWS is INCONCLUSIVE.
    #[arg(long, conflicts_with_all = ["aws", "trails"])]
    pub offline: bool,
}

/// Trail log files: downloaded, or in the trail's bucket.
#[derive(Debug, Args)]
pub struct TrailArgs {
    /// A downloaded trail: the AWSLogs/… layout or a directory of .json.gz/.json log files
    /// (repeatable). Its records join the live or bundle evidence.
    #[arg(long = "trail-dir", value_name = "DIR")]
    pub trail_dirs: Vec<PathBuf>,
    /// The trail's bucket: its log files for the window are listed by date folder, downloaded
    /// and scanned like --trail-dir (repeatable; uses the AWS flags).
    #[arg(long = "trail", value_name = "s3://BUCKET[/PREFIX]", value_parser = TrailLocation::parse)]
    pub trails: Vec<TrailLocation>,
    /// No progress display on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

impl SourceArgs {
    /// Whether AWS is read: neither a bundle nor `--offline` was given.
    fn live(&self) -> bool {
        self.evidence.is_none() && !self.offline
    }
}

/// The CloudTrail time window.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Start of the CloudTrail window (RFC 3339): LookupEvents reads from here, trail files
    /// that cannot hold later events are skipped [live default: 7 days before --until, as
    /// Textract keeps jobs 7 days].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// End of the CloudTrail window (RFC 3339) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "from")]
    pub until: Option<DateTime<Utc>>,
}

impl WindowArgs {
    /// The window the user gave, if any; `None` with a message when it is backwards.
    fn resolve(&self) -> Result<Option<TimeWindow>, String> {
        let Some(from) = self.from else {
            return Ok(None);
        };
        let until = self.until.unwrap_or_else(Utc::now);
        if from > until {
            return Err("--from must not be after --until".into());
        }
        Ok(Some(TimeWindow { from, until }))
    }
}

/// How to reach AWS. Credentials come from the SDK's default chain (environment, profile,
/// SSO, credential process, container or instance role).
#[derive(Debug, Args)]
#[group(id = "aws", multiple = true)]
#[command(next_help_heading = "AWS (live evidence)")]
pub struct AwsArgs {
    /// AWS Region [default: the SDK's chain: AWS_REGION, then the profile]. `audit` takes
    /// it repeated and reads every Region.
    #[arg(long, value_name = "REGION")]
    pub region: Vec<String>,
    /// Named profile from the AWS config files [default: AWS_PROFILE, then `default`].
    /// `audit` takes it repeated: one account per profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// A role to assume through STS for every call (with the profile's or the default
    /// credentials). `audit` takes it repeated: one account per role.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Vec<String>,
    /// The external id the roles' trust policies require.
    #[arg(long, value_name = "ID", requires = "role_arn")]
    pub external_id: Option<String>,
    /// `audit` only: read every Region enabled for each account (account:ListRegions).
    #[arg(long, conflicts_with = "region")]
    pub all_regions: bool,
    /// Send every AWS call to this endpoint (e.g. a local emulator); AWS_ENDPOINT_URL works
    /// too. S3 is then addressed path-style.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
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
    /// Every account (profile or role) x Region pair to read, in flag order.
    fn targets(&self, window: &WindowArgs) -> Vec<live::Options> {
        let base = live::Options {
            profile: None,
            region: None,
            endpoint_url: self.endpoint_url.clone(),
            from: window.from,
            until: window.until,
            retry_mode: match self.retry_mode {
                RetryModeArg::Standard => live::RetryMode::Standard,
                RetryModeArg::Adaptive => live::RetryMode::Adaptive,
            },
            max_attempts: self.max_attempts,
            attempt_timeout: std::time::Duration::from_secs(self.timeout),
            assume_role: None,
        };
        let accounts: Vec<(Option<String>, Option<live::AssumeRole>)> = if self.role_arn.is_empty()
        {
            match self.profile.as_slice() {
                [] => vec![(None, None)],
                profiles => profiles.iter().map(|p| (Some(p.clone()), None)).collect(),
            }
        } else {
            // Roles are assumed with the (first) profile's credentials, or the default chain.
            self.role_arn
                .iter()
                .map(|arn| {
                    let role = live::AssumeRole {
                        role_arn: arn.clone(),
                        external_id: self.external_id.clone(),
                        session_name: env!("CARGO_PKG_NAME").into(),
                    };
                    (self.profile.first().cloned(), Some(role))
                })
                .collect()
        };
        let regions: Vec<Option<String>> = match self.region.as_slice() {
            [] => vec![None],
            r => r.iter().cloned().map(Some).collect(),
        };
        accounts
            .iter()
            .flat_map(|(profile, role)| {
                regions.iter().map(|region| live::Options {
                    profile: profile.clone(),
                    region: region.clone(),
                    assume_role: role.clone(),
                    ..base.clone()
                })
            })
            .collect()
    }

    /// With `--all-regions`, every account's enabled Regions in place of the one default.
    fn expanded_targets(&self, window: &WindowArgs) -> Result<Vec<live::Options>> {
        let accounts = self.targets(window);
        if !self.all_regions {
            return Ok(accounts);
        }
        let rt = runtime()?;
        let mut out = Vec::new();
        for account in accounts {
            let regions = rt.block_on(live::enabled_regions(&account)).map_err(|e| {
                anyhow::anyhow!("--all-regions for {}: {e}", target_label(&account))
            })?;
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

    /// The one account and Region a single-target command reads; a usage message otherwise.
    fn options(&self, window: &WindowArgs) -> Result<live::Options, String> {
        let mut targets = self.targets(window);
        if self.all_regions {
            return Err("--all-regions is for `audit`".into());
        }
        if targets.len() > 1 || self.profile.len() > 1 {
            return Err(
                "this command reads one account and Region: give --region, --profile and \
                 --role-arn at most once (`audit` reads several)"
                    .into(),
            );
        }
        Ok(targets.remove(0))
    }
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
        evidence.events.extend(trail.events.iter().cloned());
        evidence::normalize_events(&mut evidence.events);
        evidence.problems.extend(trail.problems.iter().cloned());
        evidence
            .provenance
            .sources
            .extend(trail.provenance.sources.iter().cloned());
        let region = evidence.provenance.region.clone();
        let jobs = timeline::jobs_started_in(&evidence, audit_window)
            .into_iter()
            .filter(|j| region.is_none() || timeline::start_region(&evidence, j) == region)
            .collect();
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
            if let Some(code) = check_sources(&args.sources, &args.window) {
                return Ok(code);
            }
            let jobs: Vec<JobId> = args.job_ids.into_iter().map(JobId).collect();
            if jobs.is_empty() && args.sources.live() {
                eprintln!(
                    "error: verifying live needs --job-id (to find every job in a window, use `audit`)"
                );
                return Ok(exit::USAGE);
            }
            let Some(policy) = policy(&args.output, &rules) else {
                return Ok(exit::USAGE);
            };
            let aws = match args.aws.options(&args.window) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(exit::USAGE);
                }
            };
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
            if let Some(code) = check_sources(&args.sources, &args.window) {
                return Ok(code);
            }
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
            let Some(policy) = policy(&args.output, &rules) else {
                return Ok(exit::USAGE);
            };
            let targets = args.aws.expanded_targets(&window_args)?;
            if targets.len() == 1 || !args.sources.live() {
                let evidence = gather(&args.sources, &window_args, &targets[0], &[])?;
                let jobs = timeline::jobs_started_in(&evidence, &window);
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
            if let Err(e) = args.window.resolve() {
                eprintln!("error: {e}");
                return Ok(exit::USAGE);
            }
            let aws = match args.aws.options(&args.window) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(exit::USAGE);
                }
            };
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

/// Usage checks clap cannot express: a backwards window, `--offline` with nothing to read.
fn check_sources(sources: &SourceArgs, window: &WindowArgs) -> Option<u8> {
    if let Err(e) = window.resolve() {
        eprintln!("error: {e}");
        return Some(exit::USAGE);
    }
    if sources.offline && sources.evidence.is_none() && sources.trail.trail_dirs.is_empty() {
        eprintln!("error: --offline needs --evidence DIR or --trail-dir DIR to read");
        return Some(exit::USAGE);
    }
    None
}

/// `submit`: preflight, start, wait, then verify the jobs as `verify --job-id` does.
fn run_submit(args: SubmitArgs, rules: &RuleSet) -> Result<u8> {
    use crate::submit::{CheckStatus, Tracked, WaitEnd};
    let plan = match args.plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let Some(policy) = policy(&args.output, rules) else {
        return Ok(exit::USAGE);
    };
    let no_window = WindowArgs {
        from: None,
        until: None,
    };
    let aws = match args.aws.options(&no_window) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
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
    let base = gather_live(&aws, &jobs)?.into_evidence();
    let mut evidence = base.clone();
    add_trails(&mut evidence, &args.trail, &aws, &no_window, &jobs)?;
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
