//! Stage 1, live source: the evidence for a set of Textract jobs, read from AWS through the
//! official AWS SDK for Rust.
//!
//! Every call is recorded as a [`CallRecord`] in the API's own JSON shape (see [`shapes`]) and
//! CloudTrail records are kept as `LookupEvents` returns them, so what this module gathers is
//! exactly what `collect` writes into a bundle, and a live run and a run on that bundle are
//! interpreted by the same code. A failed call is evidence too: it is recorded as an `Error`
//! and never aborts the collection.
//!
//! Order of collection (each step needs the one before):
//! 1. CloudTrail `LookupEvents`, ONE windowed pass shared by all jobs, for Textract events
//!    (`Start*` says where the output went and which key was asked for), then for KMS events
//!    from the earliest `Start*` found (the window's start when none was found) to the window's
//!    end. Both passes share one limiter at the documented 2 requests per second.
//! 2. Textract `Get*` per job (the API of its `Start*`; when unknown, each API's `Get*` in
//!    turn until one knows the id).
//! 3. S3: `ListObjectsV2` of `{prefix}/{JobId}/` (paged), `HeadObject` of every object (at most
//!    [`HEAD_CONCURRENCY`] at a time), `GetBucketEncryption`/`GetBucketVersioning` per bucket
//!    (and its public-access block, policy and policy status).
//! 4. KMS: `DescribeKey` of every key identifier seen (the requested `KMSKeyId` as given, the
//!    keys in object heads and bucket defaults), `GetKeyRotationStatus`, `GetKeyPolicy` and
//!    `ListGrants` of customer keys, `ListAliases` (paged). Each key and bucket policy read is
//!    put to IAM Access Analyzer (`CheckNoPublicAccess`, `CheckAccessNotGranted`).
//! 5. CloudTrail: `DescribeTrails`, then `GetTrailStatus` and `GetEventSelectors` per trail.

pub mod bundle_key;
mod policies;
pub mod public_keys;
pub(crate) mod shapes;
pub mod submit;
pub mod trail_s3;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{CallRecord, Gathered, RecordedCalls, WireError, interpret};
use crate::model::{
    DEFAULT_OUTPUT_PREFIX, JobId, Provenance, TextractApi, TimeWindow, TrailEvent,
    job_output_prefix, str_ci,
};
use shapes::{object, opt_str, sdk_time, wire_error};

/// `HeadObject` calls in flight at once: a job can have thousands of result objects.
pub const HEAD_CONCURRENCY: usize = 16;

/// How far back CloudTrail is read when no window is given: Textract keeps a job readable
/// for 7 days, so a job worth verifying live started within them.
pub const DEFAULT_LOOKBACK_DAYS: i64 = 7;

/// `LookupEvents` is limited to 2 requests per second per account and Region.
const LOOKUP_EVENTS_PERIOD: Duration = Duration::from_millis(500);

/// The SDK's retry strategy (`AWS_RETRY_MODE`): `adaptive` also rate-limits the client when
/// AWS throttles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Standard,
    Adaptive,
}

/// Everything the live source needs, resolved from flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// A named profile from the shared AWS config files; the default chain otherwise.
    pub profile: Option<String>,
    /// The Region; the SDK's default chain (`AWS_REGION`, profile) otherwise.
    pub region: Option<String>,
    /// Send every call here (e.g. a local emulator); the SDK also honours `AWS_ENDPOINT_URL`.
    /// S3 is then addressed path-style.
    pub endpoint_url: Option<String>,
    /// CloudTrail window start; default [`DEFAULT_LOOKBACK_DAYS`] before `until`.
    pub from: Option<DateTime<Utc>>,
    /// CloudTrail window end; default the capture time.
    pub until: Option<DateTime<Utc>>,
    pub retry_mode: RetryMode,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Limit on each attempt of a call.
    pub attempt_timeout: Duration,
    /// A role to assume through STS (with the profile's or default credentials) for every
    /// call: how one run reads several accounts.
    pub assume_role: Option<AssumeRole>,
}

/// `sts:AssumeRole` parameters.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

/// Why live collection could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no AWS Region: pass --region, or set AWS_REGION or a region in the AWS profile")]
    NoRegion,
    /// The profile asked for (`--profile` or `AWS_PROFILE`) is in no shared AWS file.
    #[error(
        "the config profile ({0}) could not be found in the shared AWS config and credentials files"
    )]
    UnknownProfile(String),
    /// The provider chain found no credentials at all: said once, as the AWS CLI says it.
    #[error(
        "Unable to locate credentials. You can configure credentials by running \"aws configure\" (looked in the environment, the shared AWS files, web identity, the container and instance metadata)"
    )]
    NoCredentials,
    /// Credentials were configured but could not be had (an SSO session expired, a role that
    /// cannot be assumed, a credential process that failed, ...).
    #[error("could not get AWS credentials: {0}")]
    Credentials(String),
    #[error("the CloudTrail window is empty: --from {from} is not before --until {until}")]
    EmptyWindow {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

impl LiveError {
    /// Whether the user's flags or environment are what to fix (exit 2, a usage error).
    pub fn is_usage(&self) -> bool {
        matches!(self, LiveError::NoRegion | LiveError::UnknownProfile(_))
    }
}

/// Collects the evidence for `jobs` (every job started in the window when empty), stamped
/// with `captured_at`.
pub async fn collect(
    options: &Options,
    jobs: &[JobId],
    captured_at: DateTime<Utc>,
) -> Result<Gathered, LiveError> {
    let until = options.until.unwrap_or(captured_at);
    let from = options
        .from
        .unwrap_or(until - chrono::Duration::days(DEFAULT_LOOKBACK_DAYS));
    if from >= until {
        return Err(LiveError::EmptyWindow { from, until });
    }
    let mut c = Collector::new(options).await?;
    let region = c.region.clone();

    // 1. CloudTrail management events.
    let mut records = Vec::new();
    let mut window_read = true;
    match c
        .lookup_events("textract.amazonaws.com", TimeWindow { from, until })
        .await
    {
        Some(found) => records.extend(found),
        None => window_read = false,
    }
    let starts = start_events(&records, jobs);
    // No job ids: every job started in the window (`audit`).
    let discovered: Vec<JobId>;
    let jobs = if jobs.is_empty() {
        let ids: BTreeSet<JobId> = starts
            .iter()
            .filter_map(|s| str_ci(&s.response_elements, "jobId"))
            .map(|j| JobId(j.to_owned()))
            .collect();
        discovered = ids.into_iter().collect();
        &discovered[..]
    } else {
        jobs
    };
    let kms_from = starts
        .iter()
        .map(|s| s.event_time)
        .min()
        .unwrap_or(from)
        .max(from);
    match c
        .lookup_events(
            "kms.amazonaws.com",
            TimeWindow {
                from: kms_from,
                until,
            },
        )
        .await
    {
        Some(found) => records.extend(found),
        None => window_read = false,
    }

    // 2.-4. per job: status, output objects, buckets and keys.
    c.follow(jobs, &starts, true).await;

    // 5. Trail configuration.
    c.trails().await;

    let account = records
        .iter()
        .find_map(|r| r.get("recipientAccountId").and_then(Value::as_str))
        .map(str::to_owned);
    let mut where_ = match &options.endpoint_url {
        Some(url) => format!("live {region} via {url}"),
        None => format!("live AWS {region}"),
    };
    if let Some(role) = &options.assume_role {
        where_ = format!("{where_} as {}", role.role_arn);
    } else if let Some(profile) = &options.profile {
        where_ = format!("{where_} with profile {profile}");
    }
    Ok(Gathered {
        provenance: Provenance {
            sources: vec![where_],
            account,
            region: Some(region),
            captured_at,
        },
        calls: c.calls,
        records,
        cloudtrail_window: window_read.then_some(TimeWindow { from, until }),
        problems: Vec::new(),
    })
}

/// The next round for jobs whose `Start*` records another source found (a trail log file
/// holding the Start of a job older than `LookupEvents` reaches): the output folders those
/// records name are listed and HEADed, their buckets and keys described. No `LookupEvents`,
/// no `Get*` (the first round asked), no trail configuration (read once).
pub async fn follow_up(
    options: &Options,
    starts: &[TrailEvent],
    captured_at: DateTime<Utc>,
) -> Result<Gathered, LiveError> {
    let mut c = Collector::new(options).await?;
    let jobs: Vec<JobId> = starts
        .iter()
        .filter_map(|s| str_ci(&s.response_elements, "jobId"))
        .map(|j| JobId(j.to_owned()))
        .collect();
    c.follow(&jobs, starts, false).await;
    let region = c.region.clone();
    Ok(Gathered {
        provenance: Provenance {
            sources: Vec::new(),
            account: None,
            region: Some(region),
            captured_at,
        },
        calls: c.calls,
        records: Vec::new(),
        cloudtrail_window: None,
        problems: Vec::new(),
    })
}

/// The successful `Start*` records of `jobs` (of every job when empty), oldest first.
fn start_events(records: &[Value], jobs: &[JobId]) -> Vec<TrailEvent> {
    let mut starts: Vec<TrailEvent> = records
        .iter()
        .filter_map(|r| serde_json::from_value::<TrailEvent>(r.clone()).ok())
        .filter(|e| {
            e.event_source == "textract.amazonaws.com"
                && e.error_code.is_none()
                && TextractApi::from_start_operation(&e.event_name).is_some()
                && str_ci(&e.response_elements, "jobId")
                    .is_some_and(|j| jobs.is_empty() || jobs.iter().any(|job| job.0 == j))
        })
        .collect();
    starts.sort_by_key(|e| e.event_time);
    starts
}

/// One line per failed call, naming the call and its resource, for the user's terminal.
/// An unknown job id is a note: Textract forgets jobs after 7 days and verification goes on.
pub fn failure_lines(calls: &RecordedCalls) -> Vec<String> {
    const PER_KIND: usize = 10;
    let mut lines = Vec::new();
    for ((service, op), records) in calls {
        let mut shown: std::collections::BTreeMap<&str, usize> = Default::default();
        for rec in records {
            let Some(e) = &rec.error else { continue };
            if interpret::ANSWERS_NOT_FAILURES.contains(&e.code.as_str()) {
                continue;
            }
            let n = shown.entry(e.code.as_str()).or_default();
            *n += 1;
            if *n > PER_KIND {
                continue;
            }
            let resource = resource(&rec.request);
            lines.push(if e.code == "InvalidJobIdException" {
                format!(
                    "note: {service}:{op} {resource}: {}: {} (Textract keeps jobs 7 days; verifying from CloudTrail and S3)",
                    e.code, e.message
                )
            } else {
                format!("warning: {service}:{op} {resource}: {}: {}", e.code, e.message)
            });
        }
        for (code, n) in shown.into_iter().filter(|(_, n)| *n > PER_KIND) {
            lines.push(format!(
                "warning: {service}:{op}: {} more {code} failures",
                n - PER_KIND
            ));
        }
    }
    lines
}

/// Whether any call got an answer from AWS.
pub fn anything_read(calls: &RecordedCalls) -> bool {
    calls.values().flatten().any(|r| r.response.is_some())
}

/// The resource a recorded request is about, from its members.
fn resource(request: &Value) -> String {
    let s = |m: &str| request.get(m).and_then(Value::as_str);
    if let Some(job) = s("JobId") {
        return job.to_owned();
    }
    if let Some(bucket) = s("Bucket") {
        return format!(
            "s3://{bucket}/{}",
            s("Key").or(s("Prefix")).unwrap_or_default()
        );
    }
    if let Some(id) = s("KeyId").or(s("Name")).or(s("TrailName")) {
        return id.to_owned();
    }
    // Access Analyzer's policy checks name no resource, only its type or the access asked.
    if let Some(kind) = s("resourceType") {
        return format!("({kind} policy)");
    }
    if let Some(asked) = request
        .pointer("/access/0/resources/0")
        .and_then(Value::as_str)
    {
        return format!("(policy of {asked})");
    }
    let time =
        |m: &str| interpret::time(request, m).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    match (time("StartTime"), time("EndTime")) {
        (Some(from), Some(until)) => {
            let source = request
                .pointer("/LookupAttributes/0/AttributeValue")
                .and_then(Value::as_str)
                .unwrap_or("all");
            format!("{source} events {from} to {until}")
        }
        _ => "(account)".into(),
    }
}

/// Waits so that calls go out at most once per `period`.
struct RateLimiter {
    period: Duration,
    next: Option<Instant>,
}

impl RateLimiter {
    async fn wait(&mut self) {
        if let Some(next) = self.next {
            tokio::time::sleep_until(next).await;
        }
        self.next = Some(Instant::now() + self.period);
    }
}

/// The SDK configuration for `options`: the default chain with the profile, Region, endpoint,
/// retries and timeouts asked for, and the role assumed through STS when one is named.
pub(crate) async fn sdk_config(options: &Options) -> aws_config::SdkConfig {
    let retry = match options.retry_mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(options.max_attempts.max(1));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(options.attempt_timeout)
                .build(),
        );
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &options.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let Some(role) = &options.assume_role else {
        return config;
    };
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
        .session_name(&role.session_name)
        .configure(&config);
    if let Some(id) = &role.external_id {
        provider = provider.external_id(id);
    }
    config
        .into_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            provider.build().await,
        ))
        .build()
}

/// The SDK configuration for `options` and its Region, the profile and credentials checked
/// first (one message for a broken chain, not one per call).
async fn checked_config(options: &Options) -> Result<(aws_config::SdkConfig, String), LiveError> {
    check_profile(options).await?;
    let config = sdk_config(options).await;
    let region = config.region().ok_or(LiveError::NoRegion)?.to_string();
    check_credentials(&config).await?;
    Ok((config, region))
}

/// Refuses a profile name (`--profile`, else `AWS_PROFILE`) that no shared AWS file defines:
/// the SDK would otherwise go on with other credentials and no Region from it.
async fn check_profile(options: &Options) -> Result<(), LiveError> {
    let env = aws_types::os_shim_internal::Env::real();
    let Some(name) = options
        .profile
        .clone()
        .or_else(|| env.get("AWS_PROFILE").ok())
        .filter(|n| !n.is_empty())
    else {
        return Ok(());
    };
    let fs = aws_types::os_shim_internal::Fs::real();
    // The default files (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` honoured).
    let found = aws_config::profile::load(&fs, &env, &Default::default(), None)
        .await
        .is_ok_and(|set| set.get_profile(&name).is_some());
    match found {
        true => Ok(()),
        false => Err(LiveError::UnknownProfile(name)),
    }
}

/// Resolves the credentials once before any call, so that a missing or broken chain is one
/// message instead of the whole provider chain repeated for every call.
async fn check_credentials(config: &aws_config::SdkConfig) -> Result<(), LiveError> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_s3::config::ProvideCredentials;
    let Some(provider) = config.credentials_provider() else {
        return Err(LiveError::NoCredentials);
    };
    match provider.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(CredentialsError::CredentialsNotLoaded(_)) => Err(LiveError::NoCredentials),
        Err(e) => Err(LiveError::Credentials(shapes::one_line(&e))),
    }
}

/// The Regions enabled for the account `options` reaches (`account:ListRegions`, opt-in
/// status `ENABLED` or `ENABLED_BY_DEFAULT`), in name order. The Account Management API is
/// global; without a Region of its own the call is signed for us-east-1.
pub async fn enabled_regions(options: &Options) -> Result<Vec<String>, String> {
    use aws_sdk_account::types::RegionOptStatus;
    let mut options = options.clone();
    options.region.get_or_insert_with(|| "us-east-1".into());
    let client = aws_sdk_account::Client::new(&sdk_config(&options).await);
    let mut regions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| format!("account:ListRegions failed: {}", shapes::wire_error(&e)))?;
        regions.extend(
            page.regions()
                .iter()
                .filter_map(|r| r.region_name().map(str::to_owned)),
        );
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    regions.sort();
    Ok(regions)
}

struct Collector {
    region: String,
    textract: aws_sdk_textract::Client,
    s3: aws_sdk_s3::Client,
    kms: aws_sdk_kms::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
    analyzer: aws_sdk_accessanalyzer::Client,
    lookup_limiter: RateLimiter,
    calls: RecordedCalls,
}

macro_rules! get_job {
    ($client:expr, $method:ident, $job:expr) => {
        $client
            .$method()
            .job_id($job)
            .max_results(1)
            .send()
            .await
            .map(|out| shapes::textract_status!(out))
            .map_err(|e| wire_error(&e))
    };
}

impl Collector {
    async fn new(options: &Options) -> Result<Collector, LiveError> {
        let (config, region) = checked_config(options).await?;
        // Path-style addressing: an endpoint such as 127.0.0.1 has no bucket subdomains.
        let path_style = options.endpoint_url.is_some() || config.endpoint_url().is_some();
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(path_style)
            .build();
        Ok(Collector {
            region,
            textract: aws_sdk_textract::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            kms: aws_sdk_kms::Client::new(&config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
            analyzer: aws_sdk_accessanalyzer::Client::new(&config),
            lookup_limiter: RateLimiter {
                period: LOOKUP_EVENTS_PERIOD,
                next: None,
            },
            calls: RecordedCalls::new(),
        })
    }

    fn record(
        &mut self,
        service: &str,
        op: &str,
        request: Value,
        result: Result<Value, WireError>,
    ) {
        let (response, error) = match result {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        };
        self.calls
            .entry((service.to_owned(), op.to_owned()))
            .or_default()
            .push(CallRecord {
                request,
                response,
                error,
            });
    }

    /// One paged `LookupEvents` pass over `window` for one event source. The records are the
    /// parsed `CloudTrailEvent` strings (kept as a string when not JSON, so the decoder
    /// reports it); `None` when a page failed: the window was not read.
    async fn lookup_events(&mut self, source: &str, window: TimeWindow) -> Option<Vec<Value>> {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventSource)
            .attribute_value(source)
            .build()
            .expect("both required members are set");
        let mut records = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.lookup_limiter.wait().await;
            let request = object([
                (
                    "LookupAttributes",
                    json!([{"AttributeKey": "EventSource", "AttributeValue": source}]),
                ),
                ("StartTime", json!(window.from.timestamp())),
                ("EndTime", json!(window.until.timestamp())),
                ("MaxResults", json!(50)),
                ("NextToken", opt_str(token.as_deref())),
            ]);
            let result = self
                .cloudtrail
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(sdk_time(window.from))
                .end_time(sdk_time(window.until))
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    records.extend(
                        out.events()
                            .iter()
                            .filter_map(|e| e.cloud_trail_event())
                            .map(|raw| {
                                serde_json::from_str(raw)
                                    .unwrap_or_else(|_| Value::String(raw.to_owned()))
                            }),
                    );
                    token = out.next_token().map(str::to_owned);
                    // The events go to the CloudTrail records; the call keeps the paging.
                    let response = object([("NextToken", opt_str(token.as_deref()))]);
                    self.record("cloudtrail", "LookupEvents", request, Ok(response));
                    if token.is_none() {
                        return Some(records);
                    }
                }
                Err(e) => {
                    self.record("cloudtrail", "LookupEvents", request, Err(wire_error(&e)));
                    return None;
                }
            }
        }
    }

    /// Steps 2.-4. for `jobs`: the `Get*` status (when `status`), then the output folders,
    /// buckets and keys the jobs' `Start*` records (`starts`, oldest first) name.
    async fn follow(&mut self, jobs: &[JobId], starts: &[TrailEvent], status: bool) {
        let mut key_ids: BTreeSet<String> = BTreeSet::new();
        let mut buckets: BTreeSet<String> = BTreeSet::new();
        let mut folders: Vec<(String, String)> = Vec::new();
        for job in jobs {
            let start = starts
                .iter()
                .find(|s| str_ci(&s.response_elements, "jobId") == Some(&job.0));
            if status {
                let api = start.and_then(|s| TextractApi::from_start_operation(&s.event_name));
                self.job_status(job, api).await;
            }
            let Some(start) = start else { continue };
            let p = &start.request_parameters;
            if let Some(k) = str_ci(p, "kMSKeyId").filter(|k| !k.is_empty()) {
                key_ids.insert(k.to_owned());
            }
            if let Some(bucket) = str_ci(p, "outputConfig/s3Bucket") {
                let prefix = str_ci(p, "outputConfig/s3Prefix")
                    .filter(|s| !s.is_empty())
                    .unwrap_or(DEFAULT_OUTPUT_PREFIX);
                buckets.insert(bucket.to_owned());
                folders.push((bucket.to_owned(), job_output_prefix(prefix, job)));
            }
        }
        let mut objects = Vec::new();
        for (bucket, prefix) in &folders {
            for key in self.list_objects(bucket, prefix).await {
                objects.push((bucket.clone(), key));
            }
        }
        key_ids.extend(self.head_objects(objects).await);
        for bucket in &buckets {
            key_ids.extend(self.bucket_settings(bucket).await);
        }
        self.keys(&key_ids).await;
    }

    async fn get_status(&self, api: TextractApi, job: &str) -> Result<Value, WireError> {
        match api {
            TextractApi::DocumentAnalysis => get_job!(self.textract, get_document_analysis, job),
            TextractApi::DocumentTextDetection => {
                get_job!(self.textract, get_document_text_detection, job)
            }
            TextractApi::ExpenseAnalysis => get_job!(self.textract, get_expense_analysis, job),
            TextractApi::LendingAnalysis => get_job!(self.textract, get_lending_analysis, job),
        }
    }

    /// The job's status through the `Get*` of its API. Only the first page is read: status,
    /// page count, warnings and status message are on every page, the blocks are not evidence.
    async fn job_status(&mut self, job: &JobId, api: Option<TextractApi>) {
        let request = json!({"JobId": job.0, "MaxResults": 1});
        let (api, result) = match api {
            Some(api) => (api, self.get_status(api, &job.0).await),
            None => {
                // No Start* record: each API's Get* in turn until one knows the id (a job id
                // belongs to one API; the others answer InvalidJobIdException). When none
                // knows it, the first answer is the evidence.
                let mut first = None;
                let mut known = None;
                for api in TextractApi::ALL {
                    let result = self.get_status(api, &job.0).await;
                    let unknown = matches!(&result, Err(e) if e.code == "InvalidJobIdException");
                    if !unknown {
                        known = Some((api, result));
                        break;
                    }
                    first.get_or_insert((api, result));
                }
                known.or(first).expect("TextractApi::ALL is not empty")
            }
        };
        self.record("textract", api.get_operation(), request, result);
    }

    /// Every key under `prefix`, recording each page.
    async fn list_objects(&mut self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let request = object([
                ("Bucket", json!(bucket)),
                ("Prefix", json!(prefix)),
                ("ContinuationToken", opt_str(token.as_deref())),
            ]);
            let result = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    keys.extend(
                        out.contents()
                            .iter()
                            .filter_map(|o| o.key())
                            .map(str::to_owned),
                    );
                    token = out
                        .next_continuation_token()
                        .filter(|_| out.is_truncated().unwrap_or(false))
                        .map(str::to_owned);
                    self.record(
                        "s3",
                        "ListObjectsV2",
                        request,
                        Ok(shapes::list_objects_v2(&out)),
                    );
                    if token.is_none() {
                        return keys;
                    }
                }
                Err(e) => {
                    self.record("s3", "ListObjectsV2", request, Err(wire_error(&e)));
                    return keys;
                }
            }
        }
    }

    /// `HeadObject` of every object, [`HEAD_CONCURRENCY`] at a time; records them in key
    /// order and returns the KMS key ids the heads name.
    async fn head_objects(&mut self, objects: Vec<(String, String)>) -> BTreeSet<String> {
        let permits = Arc::new(Semaphore::new(HEAD_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for (bucket, key) in objects {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let s3 = self.s3.clone();
            tasks.spawn(async move {
                let result = s3.head_object().bucket(&bucket).key(&key).send().await;
                drop(permit);
                let result = result
                    .map(|out| shapes::head_object(&out))
                    .map_err(|e| wire_error(&e));
                (bucket, key, result)
            });
        }
        let mut heads = tasks.join_all().await;
        heads.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut key_ids = BTreeSet::new();
        for (bucket, key, result) in heads {
            if let Some(k) = result
                .as_ref()
                .ok()
                .and_then(|r| r.get("SSEKMSKeyId"))
                .and_then(Value::as_str)
            {
                key_ids.insert(k.to_owned());
            }
            self.record(
                "s3",
                "HeadObject",
                json!({"Bucket": bucket, "Key": key}),
                result,
            );
        }
        key_ids
    }

    /// Default encryption and versioning of an output bucket; returns the default KMS key, if any.
    async fn bucket_settings(&mut self, bucket: &str) -> Option<String> {
        let request = json!({ "Bucket": bucket });
        let encryption = self
            .s3
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .map(|o| shapes::bucket_encryption(&o))
            .map_err(|e| wire_error(&e));
        let default_key = encryption
            .as_ref()
            .ok()
            .and_then(|r| {
                r.pointer("/ServerSideEncryptionConfiguration/Rules/0/ApplyServerSideEncryptionByDefault/KMSMasterKeyID")
            })
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.record("s3", "GetBucketEncryption", request.clone(), encryption);
        let versioning = self
            .s3
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
            .map(|o| shapes::bucket_versioning(&o))
            .map_err(|e| wire_error(&e));
        self.record("s3", "GetBucketVersioning", request.clone(), versioning);
        let public_access = self
            .s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .map(|o| {
                let c = o.public_access_block_configuration();
                json!({"PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": c.and_then(|c| c.block_public_acls()),
                    "IgnorePublicAcls": c.and_then(|c| c.ignore_public_acls()),
                    "BlockPublicPolicy": c.and_then(|c| c.block_public_policy()),
                    "RestrictPublicBuckets": c.and_then(|c| c.restrict_public_buckets()),
                }})
            })
            .map_err(|e| wire_error(&e));
        self.record("s3", "GetPublicAccessBlock", request, public_access);
        self.bucket_policy(bucket).await;
        default_key
    }

    /// `DescribeKey` of every identifier (as given: an alias name resolves in the caller's
    /// account), rotation status of the customer keys found, and every alias.
    async fn keys(&mut self, ids: &BTreeSet<String>) {
        let mut customer_keys = BTreeSet::new();
        for id in ids {
            let result = self
                .kms
                .describe_key()
                .key_id(id)
                .send()
                .await
                .map(|o| shapes::describe_key(&o))
                .map_err(|e| wire_error(&e));
            if let Ok(r) = &result {
                let meta = &r["KeyMetadata"];
                if meta["KeyManager"] == "CUSTOMER" {
                    customer_keys.extend(meta["Arn"].as_str().map(str::to_owned));
                }
            }
            self.record("kms", "DescribeKey", json!({ "KeyId": id }), result);
        }
        for arn in customer_keys {
            let result = self
                .kms
                .get_key_rotation_status()
                .key_id(&arn)
                .send()
                .await
                .map(|o| json!({ "KeyRotationEnabled": o.key_rotation_enabled() }))
                .map_err(|e| wire_error(&e));
            self.record(
                "kms",
                "GetKeyRotationStatus",
                json!({ "KeyId": arn }),
                result,
            );
            // Who may decrypt the results: the key policy (its only name is `default`).
            let policy = self
                .kms
                .get_key_policy()
                .key_id(&arn)
                .policy_name("default")
                .send()
                .await
                .map(|o| json!({ "Policy": o.policy(), "PolicyName": o.policy_name() }))
                .map_err(|e| wire_error(&e));
            let document = policy
                .as_ref()
                .ok()
                .and_then(|p| p["Policy"].as_str())
                .map(str::to_owned);
            self.record(
                "kms",
                "GetKeyPolicy",
                json!({ "KeyId": arn, "PolicyName": "default" }),
                policy,
            );
            if let Some(document) = document {
                self.check_policy(super::policies::Checked::Key(&arn), &document)
                    .await;
            }
            self.grants(&arn).await;
        }
        let mut marker: Option<String> = None;
        loop {
            let request = object([("Marker", opt_str(marker.as_deref()))]);
            match self
                .kms
                .list_aliases()
                .set_marker(marker.clone())
                .send()
                .await
            {
                Ok(out) => {
                    marker = out
                        .next_marker()
                        .filter(|_| out.truncated())
                        .map(str::to_owned);
                    self.record(
                        "kms",
                        "ListAliases",
                        request,
                        Ok(shapes::list_aliases(&out)),
                    );
                    if marker.is_none() {
                        return;
                    }
                }
                Err(e) => {
                    self.record("kms", "ListAliases", request, Err(wire_error(&e)));
                    return;
                }
            }
        }
    }

    /// Every trail visible in the Region, with its status and selectors.
    async fn trails(&mut self) {
        let result = self
            .cloudtrail
            .describe_trails()
            .send()
            .await
            .map(|o| shapes::describe_trails(&o))
            .map_err(|e| wire_error(&e));
        let names: Vec<String> = result
            .as_ref()
            .ok()
            .and_then(|r| r["trailList"].as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|t| t["TrailARN"].as_str().or(t["Name"].as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        self.record("cloudtrail", "DescribeTrails", json!({}), result);
        for name in names {
            let status = self
                .cloudtrail
                .get_trail_status()
                .name(&name)
                .send()
                .await
                .map(|o| shapes::trail_status(&o))
                .map_err(|e| wire_error(&e));
            self.record(
                "cloudtrail",
                "GetTrailStatus",
                json!({ "Name": name }),
                status,
            );
            let selectors = self
                .cloudtrail
                .get_event_selectors()
                .trail_name(&name)
                .send()
                .await
                .map(|o| shapes::event_selectors(&o))
                .map_err(|e| wire_error(&e));
            self.record(
                "cloudtrail",
                "GetEventSelectors",
                json!({ "TrailName": name }),
                selectors,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_name_call_and_resource() {
        let mut calls = RecordedCalls::new();
        let err = |code: &str| CallRecord {
            request: json!({"Bucket": "b", "Key": "p/j/1"}),
            response: None,
            error: Some(WireError {
                code: code.into(),
                message: "Forbidden".into(),
            }),
        };
        calls.insert(
            ("s3".into(), "HeadObject".into()),
            (0..12).map(|_| err("403")).collect(),
        );
        calls.insert(
            ("textract".into(), "GetDocumentAnalysis".into()),
            vec![CallRecord {
                request: json!({"JobId": "j"}),
                response: None,
                error: Some(WireError {
                    code: "InvalidJobIdException".into(),
                    message: "gone".into(),
                }),
            }],
        );
        let lines = failure_lines(&calls);
        assert_eq!(
            lines[0],
            "warning: s3:HeadObject s3://b/p/j/1: 403: Forbidden"
        );
        assert_eq!(lines[10], "warning: s3:HeadObject: 2 more 403 failures");
        assert!(
            lines[11].starts_with("note: textract:GetDocumentAnalysis j: InvalidJobIdException")
        );
        assert!(!anything_read(&calls));
    }
}
