//! SDK values -> the API's own JSON shape (members named as in the API reference), so that
//! a live call is recorded exactly as a bundle holds it (`docs/evidence-bundle.md`).
//!
//! Only the members [`crate::evidence::interpret`] reads (and a few that help a human reading
//! a bundle) are written; names are the API's. Times follow each protocol's JSON form as the
//! AWS CLI prints it: RFC 3339 for S3 (XML protocol), epoch seconds for the JSON protocols.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{DateTime as SdkTime, DateTimeFormat};
use serde_json::{Map, Value, json};

use crate::evidence::WireError;

/// A JSON object from `(member, value)` pairs, leaving out absent (`Null`) members as the
/// API does.
pub fn object(members: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<_, _>>(),
    )
}

pub fn opt_str(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// A timestamp as the S3 (XML) protocol's JSON rendering: RFC 3339.
pub fn rfc3339(t: Option<&SdkTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .map_or(Value::Null, Value::String)
}

/// A timestamp as the JSON protocols carry it: epoch seconds.
pub fn epoch(t: Option<&SdkTime>) -> Value {
    t.map_or(Value::Null, |t| json!(t.as_secs_f64()))
}

/// `chrono` time -> SDK time (whole seconds are enough for CloudTrail windows).
pub fn sdk_time(t: chrono::DateTime<chrono::Utc>) -> SdkTime {
    SdkTime::from_secs(t.timestamp())
}

/// An SDK failure as a recorded error. Service errors keep the service's code; a service
/// error without one (S3 answers `HEAD` with a bare status) is recorded as the AWS CLI
/// reports it, the status as code and its reason as message. Client-side failures get codes
/// of their own (`DispatchFailure`, `Timeout`, `ResponseError`, `ConstructionFailure`), so a
/// bundle shows whether AWS answered at all.
pub fn wire_error<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> WireError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let context = one_line(err);
    let (code, message) = match err {
        SdkError::ServiceError(service) => match err.code() {
            Some(code) => (
                code.to_owned(),
                err.message().unwrap_or(&context).to_owned(),
            ),
            // A success status whose body could not be read (cut, not the API's shape).
            None if service.raw().status().is_success() => ("ResponseError".to_owned(), context),
            None => {
                let status = service.raw().status();
                let reason = http_reason(status.as_u16());
                (
                    status.as_u16().to_string(),
                    err.message().unwrap_or(reason).to_owned(),
                )
            }
        },
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), context),
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), context),
        SdkError::ResponseError(_) => ("ResponseError".to_owned(), context),
        _ => ("ConstructionFailure".to_owned(), context),
    };
    WireError { code, message }
}

/// An error and its causes in one line a person reads: each cause's message once, joined
/// by `: ` (a cause whose text its parent already says is left out), whitespace runs made
/// one space; never the `Debug` dump the SDK's `DisplayErrorContext` appends.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

fn http_reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// `Get*` of any Textract API: the members the status is read from (no `Blocks`: the
/// results are not evidence of where they were stored).
macro_rules! textract_status {
    ($out:expr) => {{
        let out = &$out;
        $crate::evidence::live::shapes::object([
            ("JobStatus", $crate::evidence::live::shapes::opt_str(out.job_status().map(|s| s.as_str()))),
            ("StatusMessage", $crate::evidence::live::shapes::opt_str(out.status_message())),
            (
                "DocumentMetadata",
                out.document_metadata()
                    .map_or(serde_json::Value::Null, |m| serde_json::json!({ "Pages": m.pages() })),
            ),
            (
                "Warnings",
                serde_json::Value::Array(
                    out.warnings()
                        .iter()
                        .map(|w| {
                            $crate::evidence::live::shapes::object([
                                ("ErrorCode", $crate::evidence::live::shapes::opt_str(w.error_code())),
                                ("Pages", serde_json::json!(w.pages())),
                            ])
                        })
                        .collect(),
                ),
            ),
        ])
    }};
}
pub(crate) use textract_status;

pub fn list_objects_v2(out: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> Value {
    object([
        (
            "Contents",
            Value::Array(
                out.contents()
                    .iter()
                    .map(|o| {
                        object([
                            ("Key", opt_str(o.key())),
                            ("LastModified", rfc3339(o.last_modified())),
                            ("ETag", opt_str(o.e_tag())),
                            ("Size", json!(o.size())),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("IsTruncated", json!(out.is_truncated().unwrap_or(false))),
        (
            "NextContinuationToken",
            opt_str(out.next_continuation_token()),
        ),
        ("KeyCount", json!(out.key_count())),
    ])
}

pub fn head_object(out: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Value {
    object([
        ("LastModified", rfc3339(out.last_modified())),
        ("ETag", opt_str(out.e_tag())),
        ("VersionId", opt_str(out.version_id())),
        ("ContentLength", json!(out.content_length())),
        (
            "ServerSideEncryption",
            opt_str(out.server_side_encryption().map(|s| s.as_str())),
        ),
        ("SSEKMSKeyId", opt_str(out.ssekms_key_id())),
        (
            "SSECustomerAlgorithm",
            opt_str(out.sse_customer_algorithm()),
        ),
        ("BucketKeyEnabled", json!(out.bucket_key_enabled())),
    ])
}

pub fn bucket_encryption(
    out: &aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput,
) -> Value {
    let rules: Vec<Value> = out
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            object([
                (
                    "ApplyServerSideEncryptionByDefault",
                    r.apply_server_side_encryption_by_default()
                        .map_or(Value::Null, |d| {
                            object([
                                ("SSEAlgorithm", json!(d.sse_algorithm().as_str())),
                                ("KMSMasterKeyID", opt_str(d.kms_master_key_id())),
                            ])
                        }),
                ),
                ("BucketKeyEnabled", json!(r.bucket_key_enabled())),
            ])
        })
        .collect();
    json!({ "ServerSideEncryptionConfiguration": { "Rules": rules } })
}

pub fn bucket_versioning(
    out: &aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput,
) -> Value {
    object([
        ("Status", opt_str(out.status().map(|s| s.as_str()))),
        ("MFADelete", opt_str(out.mfa_delete().map(|s| s.as_str()))),
    ])
}

pub fn describe_key(out: &aws_sdk_kms::operation::describe_key::DescribeKeyOutput) -> Value {
    let Some(m) = out.key_metadata() else {
        return json!({});
    };
    json!({
        "KeyMetadata": object([
            ("AWSAccountId", opt_str(m.aws_account_id())),
            ("KeyId", json!(m.key_id())),
            ("Arn", opt_str(m.arn())),
            ("CreationDate", epoch(m.creation_date())),
            ("Enabled", json!(m.enabled())),
            ("Description", opt_str(m.description())),
            ("KeyState", opt_str(m.key_state().map(|s| s.as_str()))),
            ("DeletionDate", epoch(m.deletion_date())),
            ("KeyManager", opt_str(m.key_manager().map(|s| s.as_str()))),
            ("KeyUsage", opt_str(m.key_usage().map(|s| s.as_str()))),
            ("KeySpec", opt_str(m.key_spec().map(|s| s.as_str()))),
            ("MultiRegion", json!(m.multi_region())),
        ])
    })
}

pub fn list_aliases(out: &aws_sdk_kms::operation::list_aliases::ListAliasesOutput) -> Value {
    object([
        (
            "Aliases",
            Value::Array(
                out.aliases()
                    .iter()
                    .map(|a| {
                        object([
                            ("AliasName", opt_str(a.alias_name())),
                            ("AliasArn", opt_str(a.alias_arn())),
                            ("TargetKeyId", opt_str(a.target_key_id())),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("Truncated", json!(out.truncated())),
        ("NextMarker", opt_str(out.next_marker())),
    ])
}

pub fn describe_trails(
    out: &aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput,
) -> Value {
    let trails: Vec<Value> = out
        .trail_list()
        .iter()
        .map(|t| {
            object([
                ("Name", opt_str(t.name())),
                ("TrailARN", opt_str(t.trail_arn())),
                ("HomeRegion", opt_str(t.home_region())),
                ("IsMultiRegionTrail", json!(t.is_multi_region_trail())),
                ("IsOrganizationTrail", json!(t.is_organization_trail())),
                ("S3BucketName", opt_str(t.s3_bucket_name())),
                ("S3KeyPrefix", opt_str(t.s3_key_prefix())),
                ("KmsKeyId", opt_str(t.kms_key_id())),
                (
                    "LogFileValidationEnabled",
                    json!(t.log_file_validation_enabled()),
                ),
            ])
        })
        .collect();
    json!({ "trailList": trails })
}

pub fn trail_status(
    out: &aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput,
) -> Value {
    object([
        ("IsLogging", json!(out.is_logging())),
        ("StartLoggingTime", epoch(out.start_logging_time())),
        ("StopLoggingTime", epoch(out.stop_logging_time())),
        ("LatestDeliveryError", opt_str(out.latest_delivery_error())),
    ])
}

pub fn event_selectors(
    out: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> Value {
    let basic: Vec<Value> = out
        .event_selectors()
        .iter()
        .map(|e| {
            object([
                (
                    "ReadWriteType",
                    opt_str(e.read_write_type().map(|r| r.as_str())),
                ),
                (
                    "IncludeManagementEvents",
                    json!(e.include_management_events()),
                ),
                (
                    "DataResources",
                    Value::Array(
                        e.data_resources()
                            .iter()
                            .map(|d| {
                                object([
                                    ("Type", opt_str(d.r#type())),
                                    ("Values", json!(d.values())),
                                ])
                            })
                            .collect(),
                    ),
                ),
                (
                    "ExcludeManagementEventSources",
                    json!(e.exclude_management_event_sources()),
                ),
            ])
        })
        .collect();
    let advanced: Vec<Value> = out
        .advanced_event_selectors()
        .iter()
        .map(|a| {
            object([
                ("Name", opt_str(a.name())),
                (
                    "FieldSelectors",
                    Value::Array(
                        a.field_selectors()
                            .iter()
                            .map(|f| {
                                let list = |l: &[String]| {
                                    if l.is_empty() { Value::Null } else { json!(l) }
                                };
                                object([
                                    ("Field", json!(f.field())),
                                    ("Equals", list(f.equals())),
                                    ("StartsWith", list(f.starts_with())),
                                    ("EndsWith", list(f.ends_with())),
                                    ("NotEquals", list(f.not_equals())),
                                    ("NotStartsWith", list(f.not_starts_with())),
                                    ("NotEndsWith", list(f.not_ends_with())),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    object([
        ("TrailARN", opt_str(out.trail_arn())),
        ("EventSelectors", Value::Array(basic)),
        ("AdvancedEventSelectors", Value::Array(advanced)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    #[test]
    fn one_line_says_each_cause_once_without_debug_text() {
        let err = Layer {
            text: "dispatch failure",
            source: Some(Box::new(Layer {
                text: "io error:\n  connection reset",
                source: Some(Box::new(Layer {
                    text: "connection reset",
                    source: None,
                })),
            })),
        };
        assert_eq!(
            one_line(&err),
            "dispatch failure: io error: connection reset"
        );
    }
}
