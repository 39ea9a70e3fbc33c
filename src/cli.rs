//! Command-line interface: the clap definitions, and their conversion into the plain values
//! (`live::Options`, `submit::Plan`) the pipeline takes; [`crate::plan`] resolves them into a
//! run's plan. What each subcommand then
//! does is in [`crate::run`]; nothing below these two modules knows about flags.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use clap::{Args, Parser, Subcommand};

use crate::evidence::live;
use crate::evidence::live::submit::UploadSse;
use crate::evidence::live::trail_s3::TrailLocation;
use crate::model::{S3Object, TextractApi, TimeWindow};
use crate::plan::Usage;
use crate::render::Format;
use crate::report::Verdict;
use crate::rules::Severity;
use crate::submit;

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
    /// No progress display on standard error (accepted before or after the subcommand).
    #[arg(long, short, global = true)]
    pub quiet: bool,
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
    /// Print the shell completion script (bash: `source <(textract-audit completions bash)`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (`textract-audit man | man -l -`), or write one page per command.
    Man {
        /// Write textract-audit.1 and one page per subcommand (textract-audit-verify.1, …) here.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
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
    /// Read every Region enabled for each account (account:ListRegions).
    #[arg(long, conflicts_with = "region", help_heading = "AWS (live evidence)")]
    pub all_regions: bool,
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
    /// Sign the bundle's manifest with this KMS asymmetric key (kms:Sign; RSA or ECC, key
    /// id, ARN or alias): writes manifest.sig.json beside it.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<String>,
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
    pub(crate) fn plan(&self) -> Result<submit::Plan, String> {
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
    pub(crate) fn verify_flags(&self) -> Vec<(&'static str, String)> {
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
    #[arg(long, value_name = "DIR", conflicts_with = "aws", value_parser = existing_dir)]
    pub evidence: Option<PathBuf>,
    #[command(flatten)]
    pub trail: TrailArgs,
    /// Refuse the bundle unless its manifest.sig.json verifies with this KMS key
    /// (kms:Verify): its key ARN, not an alias; called in the ARN's Region with the default
    /// credentials (AWS_PROFILE, AWS_ENDPOINT_URL honoured).
    #[arg(
        long,
        value_name = "KEY_ARN",
        requires = "evidence",
        conflicts_with = "trust_public_key",
        help_heading = "Signed bundles"
    )]
    pub trust_key: Option<String>,
    /// Refuse the bundle unless its manifest.sig.json verifies offline with this public key:
    /// PEM, DER SubjectPublicKeyInfo or its base64 (`aws kms get-public-key`), kept outside
    /// the bundle.
    #[arg(
        long,
        value_name = "FILE",
        requires = "evidence",
        help_heading = "Signed bundles"
    )]
    pub trust_public_key: Option<PathBuf>,
    /// Make no network call of any kind (no credential lookup either): only --evidence and
    /// --trail-dir are read, and what would need AWS is INCONCLUSIVE.
    #[arg(long, conflicts_with_all = ["aws", "trails"])]
    pub offline: bool,
    /// Print the SQL --athena / --cloudtrail-lake would run and the partitions it would read,
    /// without running it (the other sources are read to know the jobs); no report.
    #[arg(long)]
    pub dry_run: bool,
}

/// Trail log files: downloaded, or in the trail's bucket.
#[derive(Debug, Args)]
pub struct TrailArgs {
    /// A downloaded trail: the AWSLogs/… layout or a directory of .json.gz/.json log files
    /// (repeatable). Its records join the live or bundle evidence.
    #[arg(long = "trail-dir", value_name = "DIR", value_parser = existing_dir)]
    pub trail_dirs: Vec<PathBuf>,
    /// The trail's bucket: its log files for the window are listed by date folder, downloaded
    /// and scanned like --trail-dir (repeatable; uses the AWS flags).
    #[arg(long = "trail", value_name = "s3://BUCKET[/PREFIX]", value_parser = TrailLocation::parse)]
    pub trails: Vec<TrailLocation>,
    /// An Athena table over the trail bucket (DATABASE.TABLE, as the Athena user guide's
    /// CloudTrail table with partition projection): the records the jobs need are selected
    /// there and read back instead of downloading the log files (docs/athena.md; uses the AWS
    /// flags).
    #[arg(long, value_name = "DATABASE.TABLE", value_parser = parse_athena_table)]
    pub athena: Option<(String, String)>,
    /// The Athena workgroup to run the queries in [default: primary].
    #[arg(long, value_name = "NAME", requires = "athena")]
    pub athena_workgroup: Option<String>,
    /// The Athena data catalog of the table [default: the workgroup's, AwsDataCatalog].
    #[arg(long, value_name = "NAME", requires = "athena")]
    pub athena_catalog: Option<String>,
    /// Where Athena writes query results, when the workgroup has no result location.
    #[arg(long, value_name = "s3://BUCKET/PREFIX/", requires = "athena")]
    pub athena_output: Option<String>,
    /// A CloudTrail Lake event data store (id or ARN): the records the jobs need are selected
    /// there (docs/athena.md; uses the AWS flags).
    #[arg(long, value_name = "EDS", value_parser = crate::sources::parse_lake_store)]
    pub cloudtrail_lake: Option<String>,
    /// CloudTrail digest validation of the log files read (docs/integrity.md): auto
    /// validates what has digests, require makes a job INCONCLUSIVE when a log file it relies
    /// on is not validated, off reads no digest.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = crate::integrity::run::Mode::Auto)]
    pub integrity: crate::integrity::run::Mode,
    /// CloudTrail's public keys for the digests: the JSON `aws cloudtrail list-public-keys`
    /// prints. Without it no digest verifies (each is reported with an unknown key).
    #[arg(long, value_name = "FILE")]
    pub cloudtrail_public_keys: Option<PathBuf>,
}

impl SourceArgs {
    /// Whether AWS is read: neither a bundle nor `--offline` was given.
    pub(crate) fn live(&self) -> bool {
        self.evidence.is_none() && !self.offline
    }
}

/// The CloudTrail time window.
#[derive(Debug, Args)]
pub struct WindowArgs {
    /// Start of the CloudTrail window (RFC 3339, or a date: its midnight UTC): LookupEvents reads from here, trail files
    /// that cannot hold later events are skipped [live default: 7 days before --until, as
    /// Textract keeps jobs 7 days].
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// End of the CloudTrail window (RFC 3339, or a date: through its end, UTC) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_until, requires = "from")]
    pub until: Option<DateTime<Utc>>,
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
    pub(crate) fn targets(&self, window: Option<TimeWindow>) -> Vec<live::Options> {
        let base = live::Options {
            profile: None,
            region: None,
            endpoint_url: self.endpoint_url.clone(),
            from: window.map(|w| w.from),
            until: window.map(|w| w.until),
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

    /// The one account and Region a single-target command reads; a usage message otherwise.
    pub(crate) fn options(&self, window: Option<TimeWindow>) -> Result<live::Options, Usage> {
        let mut targets = self.targets(window);
        if targets.len() > 1 || self.profile.len() > 1 {
            return Err(Usage(
                "this command reads one account and Region: give --region, --profile and \
                 --role-arn at most once (`audit` reads several)"
                    .into(),
            ));
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
    /// Who may read the results (TOML, see docs/allowed-readers.md): `readers-allowed` FAILs
    /// a read by any other principal. Without it, the rule lists the readers.
    #[arg(long, value_name = "FILE")]
    pub allowed_readers: Option<PathBuf>,
    /// Only FAIL findings of this severity or higher make exit code 3 (default: any).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: Option<Severity>,
    /// Replace account ids and IAM/STS principal names with placeholders in every format.
    #[arg(long)]
    pub redact: bool,
    /// Only the jobs with these verdicts in the report, in every format (comma-separated:
    /// fail, inconclusive, pass). The summary counts and the exit code still cover every job.
    #[arg(long, value_name = "VERDICTS", value_delimiter = ',', value_parser = parse_status)]
    pub status: Vec<Verdict>,
    /// Table format: every job and every lifecycle row, unfolded (default: the summary, then
    /// each job that did not pass with the rows that matter).
    #[arg(long, visible_alias = "details")]
    pub verbose: bool,
    /// Table format: lay out for this many columns [default: the terminal's width, else
    /// $COLUMNS, else 100].
    #[arg(long, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..))]
    pub width: Option<u16>,
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
        #[arg(value_parser = existing_dir)]
        dir: PathBuf,
        /// When the evidence was captured, for a folder without a manifest.json (one is
        /// created) [default: now]. An existing manifest keeps its own time.
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        captured_at: Option<DateTime<Utc>>,
    },
}

/// `--fail-on`: the four severities a FAIL finding can be thresholded at.
fn parse_fail_on(s: &str) -> Result<Severity, String> {
    match s.to_ascii_lowercase().as_str() {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        _ => Err(format!("{s:?}: expected low, medium, high or critical")),
    }
}

/// `--athena DATABASE.TABLE`.
fn parse_athena_table(s: &str) -> Result<(String, String), String> {
    crate::sources::AthenaTable::parse_name(s)
}

impl TrailArgs {
    /// `--athena` (with its settings) and `--cloudtrail-lake`, when given.
    pub fn query_stores(&self) -> Vec<crate::sources::Store> {
        use crate::sources::{AthenaTable, Store};
        let athena = self.athena.clone().map(|(database, table)| {
            Store::Athena(AthenaTable {
                database,
                table,
                catalog: self.athena_catalog.clone(),
                workgroup: self.athena_workgroup.clone(),
                output: self.athena_output.clone(),
            })
        });
        athena
            .into_iter()
            .chain(self.cloudtrail_lake.clone().map(Store::Lake))
            .collect()
    }
}

/// `--status`: a verdict, in any case.
fn parse_status(s: &str) -> Result<Verdict, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "pass" => Ok(Verdict::Pass),
        "fail" => Ok(Verdict::Fail),
        "inconclusive" => Ok(Verdict::Inconclusive),
        _ => Err(format!("{s:?}: expected fail, inconclusive or pass")),
    }
}

/// A directory the command reads: a path that is not one is a usage error (exit 2), as a
/// missing `--mutelist` file is.
fn existing_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path),
        Ok(_) => Err("not a directory".into()),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// `--from`: an RFC 3339 date-time, or a date alone meaning its midnight UTC.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Some(day) = crate::model::date_midnight(s) {
        return Ok(day);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{e} (expected RFC 3339, e.g. 2026-11-20T10:00:00Z, or a date, 2026-11-20)")
        })
}

/// `--until`: as `--from`, but a date alone means through the end of that day, as an
/// `expires` date in the mute list does.
fn parse_until(s: &str) -> Result<DateTime<Utc>, String> {
    crate::model::date_end(s).map_or_else(|| parse_time(s), Ok)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| "expected a number and a unit, e.g. 24h".to_owned())?;
    let duration = match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => return Err("the unit must be s, m, h, d or w".to_owned()),
    };
    // Bounded so that any time minus it is a time (`--since` from now).
    duration
        .filter(|d| *d <= Duration::days(MAX_DURATION_DAYS))
        .ok_or_else(|| format!("at most {MAX_DURATION_DAYS}d (100 years)"))
}

/// The longest duration any flag takes.
const MAX_DURATION_DAYS: i64 = 36_525;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_accepts_any_case() {
        assert_eq!(parse_fail_on("HIGH"), Ok(Severity::High));
        assert_eq!(parse_fail_on("Medium"), Ok(Severity::Medium));
        assert!(parse_fail_on("severe").is_err());
    }

    #[test]
    fn a_date_alone_is_midnight_utc_from_and_the_end_of_the_day_until() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(parse_time("2026-11-20"), Ok(t("2026-11-20T00:00:00Z")));
        assert_eq!(parse_until("2026-11-20"), Ok(t("2026-11-21T00:00:00Z")));
        assert_eq!(
            parse_time("2026-11-20T10:00:00+02:00"),
            Ok(t("2026-11-20T08:00:00Z"))
        );
        assert_eq!(
            parse_until("2026-11-20T10:00:00Z"),
            Ok(t("2026-11-20T10:00:00Z"))
        );
        assert!(parse_time("2026-11-31").is_err());
        assert!(parse_time("20 Nov 2026").is_err());
    }
}
