//! The shared nouns of the pipeline.
//!
//! Every stage (evidence, trail, timeline, rules, report, render) imports this module and
//! this module imports none of them. Types here describe *what was observed* in AWS's own
//! vocabulary; judging it is the job of later stages.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod json;
pub use json::Json;

/// Default `S3Prefix` Textract uses when `OutputConfig` names only a bucket.
pub const DEFAULT_OUTPUT_PREFIX: &str = "textract_output";

/// A job's output folder under the output prefix: `{prefix}/{JobId}/` (`{JobId}/` when the
/// prefix is empty).
pub fn job_output_prefix(prefix: &str, job: &JobId) -> String {
    let p = prefix.trim_end_matches('/');
    if p.is_empty() {
        format!("{job}/")
    } else {
        format!("{p}/{job}/")
    }
}

/// The KMS calls that change a key's state (CloudTrail `eventName`s of `kms.amazonaws.com`).
pub const KEY_STATE_CHANGES: [&str; 4] = [
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
];

/// Whether a record is a key state change (see [`KEY_STATE_CHANGES`]).
pub fn is_key_state_change(event_source: &str, event_name: &str) -> bool {
    event_source == "kms.amazonaws.com" && KEY_STATE_CHANGES.contains(&event_name)
}

/// The object Textract writes to test write access before the result pages.
pub const ACCESS_CHECK_OBJECT: &str = ".s3_access_check";

/// UTC RFC 3339 to the second, the one time format of every report.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A date alone (`2026-11-20`, no time): its first instant, midnight UTC.
pub fn date_midnight(text: &str) -> Option<DateTime<Utc>> {
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

/// A date alone, read as "through the end of that day": the first instant of the next day, UTC.
pub fn date_end(text: &str) -> Option<DateTime<Utc>> {
    date_midnight(text)?.checked_add_signed(chrono::Duration::days(1))
}

/// The first instant an entry with this `expires` no longer applies (mute list, allow-list):
/// an RFC 3339 date-time, or a date meaning "through the end of that day, UTC", as a TOML
/// date/date-time or a string.
pub fn expiry(value: &toml::Value) -> Result<DateTime<Utc>, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err(format!(
                "expected an RFC 3339 date or date-time, found a {}",
                other.type_str()
            ));
        }
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(end) = date_end(&text) {
        return Ok(end);
    }
    Err(format!(
        "{text:?} is not an RFC 3339 date (2026-12-31) or date-time with offset \
         (2026-12-31T18:00:00Z)"
    ))
}

/// A Textract asynchronous job id (64 hex characters on AWS; any string is accepted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The asynchronous Textract APIs that take `OutputConfig` and `KMSKeyId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TextractApi {
    DocumentAnalysis,
    DocumentTextDetection,
    ExpenseAnalysis,
    LendingAnalysis,
}

impl TextractApi {
    pub const ALL: [TextractApi; 4] = [
        TextractApi::DocumentAnalysis,
        TextractApi::DocumentTextDetection,
        TextractApi::ExpenseAnalysis,
        TextractApi::LendingAnalysis,
    ];

    /// The `Start*` operation name, as it appears in CloudTrail `eventName`.
    pub fn start_operation(self) -> &'static str {
        match self {
            TextractApi::DocumentAnalysis => "StartDocumentAnalysis",
            TextractApi::DocumentTextDetection => "StartDocumentTextDetection",
            TextractApi::ExpenseAnalysis => "StartExpenseAnalysis",
            TextractApi::LendingAnalysis => "StartLendingAnalysis",
        }
    }

    /// The `Get*` operation that reads the job's status and results.
    pub fn get_operation(self) -> &'static str {
        match self {
            TextractApi::DocumentAnalysis => "GetDocumentAnalysis",
            TextractApi::DocumentTextDetection => "GetDocumentTextDetection",
            TextractApi::ExpenseAnalysis => "GetExpenseAnalysis",
            TextractApi::LendingAnalysis => "GetLendingAnalysis",
        }
    }

    pub fn from_start_operation(name: &str) -> Option<TextractApi> {
        Self::ALL.into_iter().find(|a| a.start_operation() == name)
    }

    pub fn from_get_operation(name: &str) -> Option<TextractApi> {
        Self::ALL.into_iter().find(|a| {
            a.get_operation() == name
                // GetLendingAnalysisSummary reads the same job.
                || (name.starts_with(a.get_operation()) && *a == TextractApi::LendingAnalysis)
        })
    }
}

impl fmt::Display for TextractApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.start_operation())
    }
}

/// An S3 object reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct S3Object {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl S3Object {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// `arn:{partition}:s3:::bucket`: the encryption context S3 uses with Bucket Keys.
pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// The AWS partitions whose ARNs this tool reads and builds.
pub const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// The partition a Region belongs to: `cn-*` is `aws-cn`, `us-gov-*` is `aws-us-gov`, the
/// ISO Regions have their own, everything else is `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    const BY_PREFIX: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    BY_PREFIX
        .iter()
        .find(|(p, _)| region.starts_with(p))
        .map_or("aws", |(_, partition)| partition)
}

/// `arn:{partition}:s3:::bucket[/key]` split into partition, bucket and key, for the three
/// partitions only; anything else is `None`.
pub fn parse_s3_arn(arn: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    if !PARTITIONS.contains(&partition) {
        return None;
    }
    let path = rest.strip_prefix("s3:::")?;
    match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() => Some((partition, bucket, Some(key))),
        None if !path.is_empty() => Some((partition, path, None)),
        _ => None,
    }
}

/// A value read from evidence: absent, read, or present in a form this tool does not
/// recognise (kept verbatim, never mapped to a valid value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "value", rename_all = "kebab-case")]
pub enum Reading<T> {
    Absent,
    Read(T),
    Unrecognised(String),
}

impl<T> Reading<T> {
    pub fn read(&self) -> Option<&T> {
        match self {
            Reading::Read(v) => Some(v),
            _ => None,
        }
    }
}

/// Server-side encryption as S3 reports it, kept open-ended: unknown algorithms
/// (`aws:kms:dsse` today, whatever comes next) are carried, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case")]
pub enum Sse {
    /// `AES256`.
    SseS3,
    /// `aws:kms`; `key_id` is what S3 reported (normally the key ARN), `None` when absent.
    SseKms {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
    },
    /// `aws:kms:dsse`.
    DsseKms {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_id: Option<String>,
    },
    /// Customer-provided keys (`SSE-C`).
    SseC,
    /// No encryption header at all (only possible for objects written before 2023).
    None,
    /// A value this tool does not know; kept verbatim.
    Other { value: String },
}

impl Sse {
    /// Builds the mode from the `x-amz-server-side-encryption` value and optional key id.
    pub fn from_header(value: Option<&str>, key_id: Option<&str>) -> Sse {
        let key_id = key_id.filter(|k| !k.is_empty()).map(str::to_owned);
        match value {
            None | Some("") => Sse::None,
            Some(v) if v.eq_ignore_ascii_case("AES256") => Sse::SseS3,
            Some(v) if v.eq_ignore_ascii_case("aws:kms") => Sse::SseKms { key_id },
            Some(v) if v.eq_ignore_ascii_case("aws:kms:dsse") => Sse::DsseKms { key_id },
            Some(v) => Sse::Other {
                value: v.to_owned(),
            },
        }
    }

    pub fn key_id(&self) -> Option<&str> {
        match self {
            Sse::SseKms { key_id } | Sse::DsseKms { key_id } => key_id.as_deref(),
            _ => None,
        }
    }

    /// A short human label: `SSE-S3`, `SSE-KMS`, `DSSE-KMS`, `SSE-C`, `none`, or the raw value.
    pub fn label(&self) -> String {
        match self {
            Sse::SseS3 => "SSE-S3".into(),
            Sse::SseKms { .. } => "SSE-KMS".into(),
            Sse::DsseKms { .. } => "DSSE-KMS".into(),
            Sse::SseC => "SSE-C".into(),
            Sse::None => "none".into(),
            Sse::Other { value } => value.clone(),
        }
    }
}

/// One S3 `HeadObject` result (or the failure to get one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectHead {
    pub object: S3Object,
    pub outcome: Result<HeadFacts, CallError>,
}

/// What `HeadObject` told about an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFacts {
    pub sse: Sse,
    pub bucket_key_enabled: bool,
    /// `LastModified`: RFC 3339 or an HTTP-date, else unrecognised (never read as absent).
    pub last_modified: Reading<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<i64>,
}

/// An AWS call that failed, as evidence: the code is what matters (`AccessDenied`, `NoSuchKey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// A `ListObjectsV2` of one prefix: the keys found, and whether the listing is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefixListing {
    pub bucket: String,
    pub prefix: String,
    pub outcome: Result<Vec<ListedObject>, CallError>,
    /// False when the last recorded page was truncated: keys may be missing.
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedObject {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// A bucket's default encryption and related settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BucketSettings {
    /// `GetBucketEncryption`: the default rule, or the error (e.g. AccessDenied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_encryption: Option<Result<BucketDefaultEncryption, CallError>>,
    /// `GetBucketVersioning` status (`Enabled`, `Suspended`, or `None` = never enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Result<Option<String>, CallError>>,
    /// `GetPublicAccessBlock`: whether all four public-access blocks are on
    /// (`NoSuchPublicAccessBlockConfiguration` is recorded as the error it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_blocked: Option<Result<bool, CallError>>,
    /// `GetBucketPolicy`: the policy document; `Ok(None)` when the bucket has none
    /// (`NoSuchBucketPolicy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Result<Option<String>, CallError>>,
    /// `GetBucketPolicyStatus`: whether S3 itself judges the bucket policy public (`false`
    /// when there is no policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_public: Option<Result<bool, CallError>>,
    /// IAM Access Analyzer's checks of the bucket policy; `None` when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_analyzer: Option<PolicyChecks>,
}

/// IAM Access Analyzer's answers about one resource policy document (live collection asks
/// them; a bundle carries them as recorded calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PolicyChecks {
    /// `CheckNoPublicAccess`: can the policy grant public access to its resource type?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_public_access: Option<Result<AnalyzerAnswer, CallError>>,
    /// `CheckAccessNotGranted`: is the read action (`kms:Decrypt`, `s3:GetObject`) not
    /// granted by the policy?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_not_granted: Option<Result<AnalyzerAnswer, CallError>>,
}

/// One Access Analyzer policy check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerAnswer {
    /// `PASS` or `FAIL` (as the API spells it).
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The statements behind a `FAIL`, as the API describes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<AnalyzerReason>,
}

/// A `ReasonSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzerReason {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_index: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketDefaultEncryption {
    pub sse: Sse,
    pub bucket_key_enabled: bool,
}

/// What KMS says about a key (`DescribeKey`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmsKey {
    pub arn: String,
    pub key_id: String,
    /// `AWS` (AWS managed, e.g. `aws/s3`) or `CUSTOMER`.
    pub key_manager: String,
    pub key_state: String,
    /// `ENCRYPT_DECRYPT` for keys S3 and Textract can encrypt with; `None` when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    /// `SYMMETRIC_DEFAULT` for keys S3 and Textract can encrypt with; `None` when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    #[serde(default)]
    pub multi_region: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    /// The key policy document (`GetKeyPolicy`), when collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The identifiers `DescribeKey` was called with that returned this key (an alias
    /// name, a key id, …): direct evidence of what they resolve to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub looked_up_as: Vec<String>,
    /// `ListGrants`: every grant on the key at capture, or why they are not known (a failed
    /// or truncated listing); `None` when not collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Result<Vec<KmsGrant>, CallError>>,
    /// IAM Access Analyzer's checks of the key policy; `None` when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_analyzer: Option<PolicyChecks>,
}

/// A grant on a KMS key, as `ListGrants` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmsGrant {
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The principal the grant lets use the key (an ARN, or an account's root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_principal: Option<String>,
    /// The AWS service principal the grant lets use the key, for service grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_service_principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_account: Option<String>,
    /// `Decrypt`, `GenerateDataKey`, … as KMS names them.
    pub operations: Vec<String>,
    /// `Constraints` as KMS reports them (`EncryptionContextEquals`, `EncryptionContextSubset`,
    /// …), member by member; empty when the grant has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

impl KmsKey {
    /// Whether `id` (ARN, key id, or an identifier DescribeKey was asked with) names this key.
    pub fn answers_to(&self, id: &str) -> bool {
        self.arn == id || self.key_id == id || self.looked_up_as.iter().any(|l| l == id)
    }
}

/// A KMS alias (`ListAliases`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmsAlias {
    pub alias_name: String,
    pub alias_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
}

/// Textract's own word on a job (`Get*` without the blocks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job_id: JobId,
    pub api: TextractApi,
    pub outcome: Result<JobStatusFacts, CallError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatusFacts {
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `PARTIAL_SUCCESS`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When this status was read (the collection time).
    pub observed_at: DateTime<Utc>,
}

/// A trail's configuration: enough to decide what it records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
    #[serde(default)]
    pub is_multi_region: bool,
    #[serde(default)]
    pub is_organization: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
    /// `GetTrailStatus.IsLogging`; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_logging: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_logging_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_logging_time: Option<DateTime<Utc>>,
    /// `GetEventSelectors`; `None` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectors: Option<Result<EventSelectors, CallError>>,
}

/// Basic or advanced event selectors, as `GetEventSelectors` returns them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventSelectors {
    Basic(Vec<BasicSelector>),
    Advanced(Vec<AdvancedSelector>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasicSelector {
    /// `All`, `ReadOnly`, `WriteOnly`.
    pub read_write_type: String,
    pub include_management_events: bool,
    #[serde(default)]
    pub exclude_management_event_sources: Vec<String>,
    #[serde(default)]
    pub data_resources: Vec<DataResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataResource {
    pub resource_type: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvancedSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub field_selectors: Vec<FieldSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FieldSelector {
    pub field: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_equals: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_starts_with: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ends_with: Vec<String>,
}

/// One CloudTrail record, as it appears in trail log files (`Records[]`), in
/// `LookupEvents`' `CloudTrailEvent` string, or in a bundle. Nested parameter maps stay
/// JSON ([`Json`], compact: an audit keeps millions of records): their shape varies by
/// service and is read by key, case-insensitively.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailEvent {
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    pub event_source: String,
    pub event_name: String,
    #[serde(default)]
    pub aws_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
    /// CloudTrail spells it `sourceIPAddress`, not as camelCase would.
    #[serde(
        default,
        rename = "sourceIPAddress",
        alias = "sourceIpAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub user_identity: Json,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub request_parameters: Json,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub response_elements: Json,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub additional_event_data: Json,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<TrailResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(
        default,
        rename = "sharedEventID",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_event_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailResource {
    #[serde(
        default,
        rename = "ARN",
        alias = "arn",
        skip_serializing_if = "Option::is_none"
    )]
    pub arn: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl TrailEvent {
    /// The acting principal's ARN (`userIdentity.arn`), or for AWS services `invokedBy`.
    pub fn actor(&self) -> String {
        let id = &self.user_identity;
        let field = |k: &str| id.get(k).and_then(Json::as_str).map(str::to_owned);
        field("arn")
            .or_else(|| {
                id.pointer("/sessionContext/sessionIssuer/arn")
                    .and_then(Json::as_str)
                    .map(str::to_owned)
            })
            .or_else(|| field("invokedBy"))
            .or_else(|| field("principalId"))
            .or_else(|| field("type"))
            .unwrap_or_else(|| "unknown".into())
    }

    /// `userIdentity.invokedBy` (set when an AWS service called on a principal's behalf).
    pub fn invoked_by(&self) -> Option<&str> {
        self.user_identity.get("invokedBy").and_then(Json::as_str)
    }

    /// Whether the call failed (`errorCode` present).
    pub fn failed(&self) -> bool {
        self.error_code.is_some()
    }

    /// `requestParameters` value at a `/`-separated path, keys matched case-insensitively.
    pub fn request(&self, path: &str) -> Option<&Json> {
        get_ci(&self.request_parameters, path)
    }

    /// `responseElements` value at a path, keys matched case-insensitively.
    pub fn response(&self, path: &str) -> Option<&Json> {
        get_ci(&self.response_elements, path)
    }

    /// `additionalEventData` value at a path, keys matched case-insensitively.
    pub fn additional(&self, path: &str) -> Option<&Json> {
        get_ci(&self.additional_event_data, path)
    }

    /// ARNs in `resources[]`, optionally only those of one type (`AWS::KMS::Key`).
    pub fn resource_arns<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.resource_type.as_deref() == Some(kind))
            .filter_map(|r| r.arn.as_deref())
    }
}

/// Reads a `/`-separated path in a JSON object, matching keys case-insensitively
/// (CloudTrail's casing of Textract's request keys is unconfirmed; see DOMAIN.md §4).
/// Path segments never split a key that itself contains `/`.
pub fn get_ci<'a>(value: &'a Json, path: &str) -> Option<&'a Json> {
    let mut cur = value;
    for seg in path.split('/') {
        cur = cur.get_ignore_case(seg)?;
    }
    // Lake and Athena deliver nested maps as JSON strings; callers get the string as is.
    Some(cur)
}

/// A string at a path (see [`get_ci`]); numbers and booleans are not coerced.
pub fn str_ci<'a>(value: &'a Json, path: &str) -> Option<&'a str> {
    get_ci(value, path).and_then(Json::as_str)
}

/// A piece of evidence that could not be used, and why. Always reported, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceProblem {
    /// What could not be read: a file path, an `s3://` URI, or an API call with its resource.
    pub subject: String,
    pub reason: String,
    /// What the problem takes away (which checks become INCONCLUSIVE).
    pub scope: ProblemScope,
}

/// Which evidence a problem removes, so that only the affected jobs lose their PASS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProblemScope {
    /// CloudTrail records between these times (all times when unknown) may be missing.
    CloudTrail {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
    /// Facts about S3 objects, buckets or prefixes in this bucket (all buckets when `None`).
    S3 {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<String>,
    },
    /// KMS key facts.
    Kms,
    /// Textract job status.
    Textract,
    /// Trail configuration.
    TrailConfig,
    /// Nothing: a file that cannot hold evidence this tool reads (a README in a trail
    /// folder), listed so that nothing is dropped unseen.
    Unrelated,
}

/// The time range the CloudTrail evidence was gathered for. Events outside it were not
/// looked for, so a job whose window falls outside is not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl TimeWindow {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t <= self.until
    }

    pub fn overlaps(&self, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
        from.is_none_or(|f| f <= self.until) && until.is_none_or(|u| u >= self.from)
    }

    /// The part of `self` inside `other`; `None` when they do not meet.
    pub fn intersect(&self, other: &TimeWindow) -> Option<TimeWindow> {
        let w = TimeWindow {
            from: self.from.max(other.from),
            until: self.until.min(other.until),
        };
        (w.from <= w.until).then_some(w)
    }

    /// One window covering both, when they overlap or touch; `None` when a gap lies between
    /// them (a gap is not covered, so the two cannot be claimed as one window).
    pub fn join(&self, other: &TimeWindow) -> Option<TimeWindow> {
        (self.from <= other.until && other.from <= self.until).then_some(TimeWindow {
            from: self.from.min(other.from),
            until: self.until.max(other.until),
        })
    }

    /// Whether every instant of `other` is inside `self`.
    pub fn covers(&self, other: &TimeWindow) -> bool {
        self.from <= other.from && other.until <= self.until
    }
}

/// Where the evidence came from, for the report's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `bundle`, `live`, `trail-dir`, … with the location.
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub captured_at: DateTime<Utc>,
}

/// Everything collected for a verification, from whatever source. The timeline and the
/// rules see only this, so a bundle and a live account give the same report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub provenance: Provenance,
    /// CloudTrail records (management and data events), in any order, duplicates allowed.
    pub events: Vec<TrailEvent>,
    /// The window the CloudTrail evidence covers; `None`: unknown, nothing is covered.
    pub cloudtrail_window: Option<TimeWindow>,
    pub trails: Vec<TrailConfig>,
    pub job_statuses: Vec<JobStatus>,
    pub listings: Vec<PrefixListing>,
    pub heads: Vec<ObjectHead>,
    pub buckets: BTreeMap<String, BucketSettings>,
    pub keys: Vec<KmsKey>,
    /// `None`: aliases were not listed (alias names cannot be resolved).
    pub aliases: Option<Vec<KmsAlias>>,
    pub problems: Vec<EvidenceProblem>,
    /// Pieces of evidence that contradict each other: kept, never resolved by order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    /// Digests found and log files hashed, for integrity validation (docs/integrity.md).
    #[serde(skip)]
    pub integrity_inputs: Box<crate::integrity::run::Inputs>,
    /// What validation found, once the run has concluded it.
    #[serde(skip)]
    pub integrity: Option<Box<crate::integrity::run::RunIntegrity>>,
}

/// Two or more pieces of evidence that should agree and do not (two different records with
/// one `eventID`, two different answers for one resource). Neither is believed over the
/// other: the checks that need them cannot pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// What they disagree about: `eventID …`, `kms:DescribeKey arn:…`, `s3:HeadObject s3://…`.
    pub subject: String,
    pub reason: String,
    pub about: ConflictAbout,
    pub evidence: Vec<EvidenceRef>,
}

/// What a conflict bears on, so that only the jobs it touches lose their PASS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "kebab-case")]
pub enum ConflictAbout {
    /// A CloudTrail `eventID`.
    Event(String),
    /// A KMS key ARN.
    Key(String),
    /// A Textract job id.
    Job(String),
    /// An S3 object URI (`s3://bucket/key`).
    Object(String),
}

impl Evidence {
    /// No evidence yet, from these sources.
    pub fn new(provenance: Provenance) -> Evidence {
        Evidence {
            provenance,
            events: Vec::new(),
            cloudtrail_window: None,
            trails: Vec::new(),
            job_statuses: Vec::new(),
            listings: Vec::new(),
            heads: Vec::new(),
            buckets: BTreeMap::new(),
            keys: Vec::new(),
            aliases: None,
            problems: Vec::new(),
            conflicts: Vec::new(),
            integrity_inputs: Default::default(),
            integrity: None,
        }
    }
}

/// A pointer to one piece of evidence, so a finding or a timeline row can say what proves it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EvidenceRef {
    /// A CloudTrail record.
    CloudtrailEvent {
        event_id: String,
        event_name: String,
    },
    /// An S3 object as `HeadObject` or `ListObjectsV2` showed it.
    S3Object {
        uri: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
    },
    /// A KMS key.
    KmsKey { arn: String },
    /// A recorded API call (`textract:GetDocumentAnalysis`, `cloudtrail:GetEventSelectors`).
    ApiCall { operation: String, subject: String },
    /// A piece of evidence that could not be used.
    Problem { subject: String },
}

impl fmt::Display for EvidenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceRef::CloudtrailEvent {
                event_id,
                event_name,
            } => write!(f, "{event_name} {event_id}"),
            EvidenceRef::S3Object {
                uri,
                version_id,
                etag,
            } => {
                write!(f, "{uri}")?;
                if let Some(v) = version_id {
                    write!(f, " version {v}")?;
                }
                if let Some(e) = etag {
                    write!(f, " ETag {}", e.trim_matches('"'))?;
                }
                Ok(())
            }
            EvidenceRef::KmsKey { arn } => f.write_str(arn),
            EvidenceRef::ApiCall { operation, subject } => write!(f, "{operation} {subject}"),
            EvidenceRef::Problem { subject } => write!(f, "unusable: {subject}"),
        }
    }
}

impl TrailEvent {
    /// This record as evidence.
    pub fn evidence(&self) -> EvidenceRef {
        EvidenceRef::CloudtrailEvent {
            event_id: self.event_id.clone(),
            event_name: self.event_name.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The real CloudTrail records beside the project (`../shared/samples`, as CI lays it
    /// out, or `TEXTRACT_AUDIT_SAMPLES`): the tests that need them are ignored when `build.rs` finds
    /// none (`cfg(no_samples)`), and `.ci/run` requires them.
    pub(crate) fn samples_dir() -> std::path::PathBuf {
        let dir = std::env::var_os("TEXTRACT_AUDIT_SAMPLES").map_or_else(
            || std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/samples")),
            std::path::PathBuf::from,
        );
        assert!(
            dir.is_dir(),
            "samples not found at {}: set TEXTRACT_AUDIT_SAMPLES",
            dir.display()
        );
        dir.join("stratus-red-team")
    }

    #[test]
    fn get_ci_matches_keys_in_any_case() {
        let v: Json = json!({"OutputConfig": {"S3Bucket": "b"}, "kMSKeyId": "k"}).into();
        assert_eq!(str_ci(&v, "outputConfig/s3Bucket"), Some("b"));
        assert_eq!(str_ci(&v, "KMSKeyId"), Some("k"));
        assert_eq!(str_ci(&v, "outputConfig/s3Prefix"), None);
    }

    #[test]
    fn sse_from_header_keeps_unknown_values() {
        assert_eq!(Sse::from_header(Some("AES256"), None), Sse::SseS3);
        assert_eq!(
            Sse::from_header(Some("aws:kms"), Some("arn:k")),
            Sse::SseKms {
                key_id: Some("arn:k".into())
            }
        );
        assert_eq!(
            Sse::from_header(Some("aws:kms"), Some("")),
            Sse::SseKms { key_id: None }
        );
        assert_eq!(
            Sse::from_header(Some("aws:fancy"), None),
            Sse::Other {
                value: "aws:fancy".into()
            }
        );
        assert_eq!(Sse::from_header(None, None), Sse::None);
    }

    #[test]
    fn textract_api_names_round_trip() {
        for api in TextractApi::ALL {
            assert_eq!(
                TextractApi::from_start_operation(api.start_operation()),
                Some(api)
            );
            assert_eq!(
                TextractApi::from_get_operation(api.get_operation()),
                Some(api)
            );
        }
        assert_eq!(
            TextractApi::from_get_operation("GetLendingAnalysisSummary"),
            Some(TextractApi::LendingAnalysis)
        );
        assert_eq!(TextractApi::from_start_operation("StartFoo"), None);
    }

    #[test]
    #[cfg_attr(
        no_samples,
        ignore = "needs the CloudTrail samples: ../shared/samples or TEXTRACT_AUDIT_SAMPLES, absent at build time"
    )]
    fn trail_event_parses_a_real_record() {
        let raw = std::fs::read_to_string(
            samples_dir().join("aws.defense-evasion.cloudtrail-event-selectors.json"),
        )
        .unwrap();
        let records: Vec<TrailEvent> = serde_json::from_str(&raw).unwrap();
        assert_eq!(records[0].event_name, "PutEventSelectors");
        assert_eq!(
            records[0].actor(),
            "arn:aws:iam::958312252124:user/christophe"
        );
    }
}
