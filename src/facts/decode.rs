//! One CloudTrail record -> one [`Fact`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::json::Name;
use crate::model::{JobId, Json, Reading, S3Object, Sse, TextractApi, TrailEvent, parse_s3_arn};

const TEXTRACT: &str = "textract.amazonaws.com";

/// Whether an `invokedBy` value names Textract (`textract.amazonaws.com` or its forward
/// access session form `fas.textract.amazonaws.com`).
pub fn is_textract(service: &str) -> bool {
    service == TEXTRACT || service.strip_prefix("fas.") == Some(TEXTRACT)
}

/// What a CloudTrail record says, in AWS's own vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A successful `Start*` that returned a job id.
    Start(Start),
    /// A Textract `Get*` naming a job.
    TextractGet { job: JobId },
    /// A successful S3 object-level call.
    S3(S3Access),
    /// A successful KMS call.
    Kms(KmsCall),
    /// Nothing this tool correlates (another service, a failed call).
    Other,
    /// A record of a kind this tool reads whose fields it could not read.
    Unreadable { reason: String },
}

/// `userIdentity.invokedBy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokedBy {
    None,
    Textract,
    /// Another AWS service (`s3.amazonaws.com`, `AWS Internal`, …).
    Service(String),
    /// Present but not a string.
    Unrecognised(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub api: TextractApi,
    pub job: JobId,
    pub document: Option<S3Object>,
    /// `outputConfig`: bucket and the prefix as given (`None` when none was given).
    pub output: Option<(String, Option<String>)>,
    pub kms_key_id: Option<String>,
    /// `JobTag`, when given.
    pub job_tag: Option<String>,
}

/// The S3 object-level operations the timeline tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Op {
    /// `PutObject`, `CopyObject`, `CreateMultipartUpload` (`InitiateMultipartUpload` in
    /// some AWS documentation), `CompleteMultipartUpload`: the object's content is set.
    Write,
    Delete,
    /// Any other object-level call (`GetObject`, `HeadObject`, …).
    Other,
}

/// `additionalEventData.SSEApplied`: who chose the encryption.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum SseApplied {
    /// `SSE_S3`, `SSE_KMS`, `SSE_C`: the request asked for it.
    Requested(String),
    /// `Default_SSE_S3`, `Default_SSE_KMS`: the bucket default applied.
    Default(String),
}

impl SseApplied {
    fn parse(v: &str) -> Option<SseApplied> {
        match v {
            "SSE_S3" | "SSE_KMS" | "SSE_C" | "DSSE_KMS" => Some(SseApplied::Requested(v.into())),
            "Default_SSE_S3" | "Default_SSE_KMS" | "Default_DSSE_KMS" => {
                Some(SseApplied::Default(v.into()))
            }
            _ => None,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            SseApplied::Requested(v) | SseApplied::Default(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct S3Access {
    pub op: S3Op,
    pub bucket: String,
    /// The object keys the call names (several for `DeleteObjects`).
    pub keys: Vec<String>,
    pub principal: Option<String>,
    pub invoked_by: InvokedBy,
    /// The encryption S3 applied (the response; the request when the response is silent).
    pub sse: Sse,
    pub requested_sse: Option<String>,
    pub sse_applied: Reading<SseApplied>,
    pub bucket_key: bool,
    /// `CopyObject`'s source object (`x-amz-copy-source`), `(bucket, key)`: a read of it.
    pub copy_source: Option<(String, String)>,
}

/// `requestParameters.encryptionContext`.
#[derive(Debug, Clone, PartialEq)]
pub enum Context {
    None,
    /// `aws:s3:arn`: an object, or a bucket with S3 Bucket Keys.
    S3 {
        partition: String,
        bucket: String,
        key: Option<String>,
    },
    /// Any other context, member by member (string values only).
    Other(BTreeMap<String, String>),
    /// An `aws:s3:arn` or a context this tool cannot read.
    Unrecognised(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KmsCall {
    pub operation: String,
    /// `requestParameters.keyId`, else the `AWS::KMS::Key` resource.
    pub key_id: Option<String>,
    pub context: Context,
    pub principal: Option<String>,
    pub invoked_by: InvokedBy,
}

/// A member of an object at a `/`-separated path, keys matched case-insensitively; an object
/// delivered as a JSON string (CloudTrail Lake, Athena) is decoded on the way. `Err` names a
/// step that was neither an object nor a string holding one.
fn at<'a>(root: &'a Json, path: &str) -> Result<Option<Cow<'a, Json>>, String> {
    let mut cur: Cow<'a, Json> = Cow::Borrowed(root);
    for seg in path.split('/') {
        if cur.is_null() {
            return Ok(None);
        }
        if let Json::String(text) = cur.as_ref() {
            let parsed: Json = serde_json::from_str(text)
                .map_err(|_| format!("{path}: a string where an object was expected"))?;
            cur = Cow::Owned(parsed);
        }
        let next = match cur {
            Cow::Borrowed(obj @ Json::Object(_)) => obj.get_ignore_case(seg).map(Cow::Borrowed),
            Cow::Owned(obj @ Json::Object(_)) => obj.take_ignore_case(seg).map(Cow::Owned),
            _ => return Err(format!("{path}: not an object")),
        };
        match next {
            Some(v) => cur = v,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// A string member; `Err` when present but not a string (or the path is unreadable).
fn text(root: &Json, path: &str) -> Result<Option<String>, String> {
    match at(root, path)? {
        None => Ok(None),
        Some(v) => match v.as_ref() {
            Json::Null => Ok(None),
            Json::String(s) => Ok(Some(s.to_string())),
            other => Err(format!("{path}: {other} is not a string")),
        },
    }
}

fn invoked_by(e: &TrailEvent) -> InvokedBy {
    match at(&e.user_identity, "invokedBy") {
        Ok(None) => InvokedBy::None,
        Ok(Some(v)) => match v.as_ref() {
            Json::Null => InvokedBy::None,
            Json::String(s) if is_textract(s) => InvokedBy::Textract,
            Json::String(s) => InvokedBy::Service(s.to_string()),
            other => InvokedBy::Unrecognised(other.to_string()),
        },
        Err(e) => InvokedBy::Unrecognised(e),
    }
}

fn principal(e: &TrailEvent) -> Option<String> {
    text(&e.user_identity, "arn").ok().flatten()
}

/// Decodes one record. Failed calls are [`Fact::Other`]: they changed nothing.
pub fn decode(e: &TrailEvent) -> Fact {
    if e.failed() {
        return Fact::Other;
    }
    let result = match e.event_source.as_str() {
        TEXTRACT => textract(e),
        "s3.amazonaws.com" => s3(e),
        "kms.amazonaws.com" => kms(e),
        _ => Ok(Fact::Other),
    };
    result.unwrap_or_else(|reason| Fact::Unreadable {
        reason: format!("{} {}: {reason}", e.event_name, e.event_id),
    })
}

fn textract(e: &TrailEvent) -> Result<Fact, String> {
    if let Some(api) = TextractApi::from_start_operation(&e.event_name) {
        let Some(job) = text(&e.response_elements, "jobId")? else {
            return Ok(Fact::Other);
        };
        let p = &e.request_parameters;
        let document = match text(p, "documentLocation/s3Object/bucket")? {
            Some(bucket) => text(p, "documentLocation/s3Object/name")?.map(|key| S3Object {
                bucket,
                key,
                version_id: text(p, "documentLocation/s3Object/version").ok().flatten(),
            }),
            None => None,
        };
        let output = match text(p, "outputConfig/s3Bucket")? {
            Some(bucket) => Some((
                bucket,
                text(p, "outputConfig/s3Prefix")?.filter(|s| !s.is_empty()),
            )),
            None => None,
        };
        return Ok(Fact::Start(Start {
            api,
            job: JobId(job),
            document,
            output,
            kms_key_id: text(p, "kMSKeyId")?.filter(|k| !k.is_empty()),
            job_tag: text(p, "jobTag")?.filter(|t| !t.is_empty()),
        }));
    }
    if TextractApi::from_get_operation(&e.event_name).is_some() {
        return Ok(match text(&e.request_parameters, "jobId")? {
            Some(job) => Fact::TextractGet { job: JobId(job) },
            None => Fact::Other,
        });
    }
    Ok(Fact::Other)
}

fn s3_op(name: &str) -> Option<S3Op> {
    Some(match name {
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "InitiateMultipartUpload"
        | "CompleteMultipartUpload" => S3Op::Write,
        "DeleteObject" | "DeleteObjects" => S3Op::Delete,
        "ListObjects" | "ListObjectsV2" | "ListBuckets" => return None,
        _ => S3Op::Other,
    })
}

/// An S3 encryption header: absent, a value, or something that is not a string.
fn sse_header(v: &Json, name: &str) -> Result<Option<Reading<String>>, String> {
    Ok(at(v, name)?.map(|v| match v.as_ref() {
        Json::String(s) if !s.is_empty() => Reading::Read(s.to_string()),
        other => Reading::Unrecognised(other.to_string()),
    }))
}

fn s3(e: &TrailEvent) -> Result<Fact, String> {
    let Some(op) = s3_op(&e.event_name) else {
        return Ok(Fact::Other);
    };
    let p = &e.request_parameters;
    let Some(bucket) = text(p, "bucketName")? else {
        return Ok(Fact::Other);
    };
    let mut keys: Vec<String> = text(p, "key")?.into_iter().collect();
    if e.event_name == "DeleteObjects" {
        match at(p, "delete/Object")? {
            Some(list) => match list.as_ref() {
                Json::Array(items) => {
                    for item in items {
                        keys.extend(text(item, "Key")?);
                    }
                }
                single => keys.extend(text(single, "Key")?),
            },
            None => keys.extend(e.resource_arns("AWS::S3::Object").filter_map(|a| {
                parse_s3_arn(a)
                    .filter(|(_, b, _)| *b == bucket)
                    .and_then(|(_, _, k)| k.map(str::to_owned))
            })),
        }
    }
    if keys.is_empty() {
        return Ok(Fact::Other);
    }
    const SSE: &str = "x-amz-server-side-encryption";
    const KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
    let r = &e.response_elements;
    let value = match sse_header(r, SSE)? {
        Some(v) => Some(v),
        None => sse_header(p, SSE)?,
    };
    let key_id = match sse_header(r, KEY_ID)? {
        Some(v) => Some(v),
        None => sse_header(p, KEY_ID)?,
    };
    let sse = match (value, key_id) {
        (Some(Reading::Unrecognised(v)), _) | (_, Some(Reading::Unrecognised(v))) => {
            Sse::Other { value: v }
        }
        (v, k) => Sse::from_header(
            v.as_ref().and_then(Reading::read).map(String::as_str),
            k.as_ref().and_then(Reading::read).map(String::as_str),
        ),
    };
    let sse_applied = match text(&e.additional_event_data, "SSEApplied") {
        Ok(None) => Reading::Absent,
        Ok(Some(v)) => SseApplied::parse(&v)
            .map(Reading::Read)
            .unwrap_or(Reading::Unrecognised(v)),
        Err(why) => Reading::Unrecognised(why),
    };
    let bucket_key = match at(r, "x-amz-server-side-encryption-bucket-key-enabled")? {
        Some(v) => {
            matches!(v.as_ref(), Json::Bool(true))
                || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
        }
        None => false,
    };
    Ok(Fact::S3(S3Access {
        op,
        bucket,
        keys,
        principal: principal(e),
        invoked_by: invoked_by(e),
        sse,
        requested_sse: text(p, SSE).ok().flatten(),
        sse_applied,
        bucket_key,
        copy_source: match e.event_name.as_str() {
            "CopyObject" => text(p, "x-amz-copy-source")?.and_then(|s| copy_source(&s)),
            _ => None,
        },
    }))
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, the key URL-encoded.
fn copy_source(value: &str) -> Option<(String, String)> {
    let path = value.split_once('?').map_or(value, |(p, _)| p);
    let (bucket, key) = path.strip_prefix('/').unwrap_or(path).split_once('/')?;
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    let key = String::from_utf8(out).ok()?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key))
}

fn kms(e: &TrailEvent) -> Result<Fact, String> {
    let p = &e.request_parameters;
    let key_id =
        text(p, "keyId")?.or_else(|| e.resource_arns("AWS::KMS::Key").next().map(str::to_owned));
    let context = match at(p, "encryptionContext")? {
        None => Context::None,
        Some(c) => match c.as_ref() {
            Json::Null => Context::None,
            Json::Object(members) => context(members),
            Json::String(text) => match serde_json::from_str(text) {
                Ok(Json::Object(members)) => context(&members),
                _ => Context::Unrecognised(format!("encryptionContext {text}")),
            },
            other => Context::Unrecognised(format!("encryptionContext {other}")),
        },
    };
    Ok(Fact::Kms(KmsCall {
        operation: e.event_name.clone(),
        key_id,
        context,
        principal: principal(e),
        invoked_by: invoked_by(e),
    }))
}

fn context(members: &[(Name, Json)]) -> Context {
    let mut out = BTreeMap::new();
    for (k, v) in members.iter().map(|(k, v)| (&**k, v)) {
        let Some(v) = v.as_str() else {
            return Context::Unrecognised(format!("encryptionContext {k}: {v}"));
        };
        if k == "aws:s3:arn" {
            return match parse_s3_arn(v) {
                Some((partition, bucket, key)) => Context::S3 {
                    partition: partition.to_owned(),
                    bucket: bucket.to_owned(),
                    key: key.map(str::to_owned),
                },
                None => Context::Unrecognised(format!("aws:s3:arn {v}")),
            };
        }
        out.insert(k.to_string(), v.to_owned());
    }
    Context::Other(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn event(v: Value) -> TrailEvent {
        let mut base = json!({"eventID": "e", "eventTime": "2026-11-20T10:00:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "awsRegion": "us-east-1"});
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn s3_fact(v: Value) -> S3Access {
        match decode(&event(v)) {
            Fact::S3(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_sse_applied_stays_unrecognised() {
        let a = s3_fact(json!({"requestParameters": {"bucketName": "b", "key": "k"},
            "additionalEventData": {"SSEApplied": "Whatever"}}));
        assert_eq!(a.sse_applied, Reading::Unrecognised("Whatever".into()));
        let a = s3_fact(json!({"requestParameters": {"bucketName": "b", "key": "k"},
            "additionalEventData": {"SSEApplied": "Default_SSE_KMS"}}));
        assert_eq!(
            a.sse_applied,
            Reading::Read(SseApplied::Default("Default_SSE_KMS".into()))
        );
    }

    #[test]
    fn null_or_number_encryption_header_is_not_none() {
        for bad in [json!(null), json!(7)] {
            let a = s3_fact(json!({"requestParameters": {"bucketName": "b", "key": "k"},
                "responseElements": {"x-amz-server-side-encryption": bad}}));
            assert!(matches!(a.sse, Sse::Other { .. }), "{:?}", a.sse);
        }
        let a = s3_fact(json!({"requestParameters": {"bucketName": "b", "key": "k"}}));
        assert_eq!(a.sse, Sse::None);
    }

    #[test]
    fn fields_delivered_as_json_strings_are_decoded() {
        let a = s3_fact(json!({
            "requestParameters": "{\"bucketName\": \"b\", \"key\": \"k\"}",
            "responseElements": "{\"x-amz-server-side-encryption\": \"AES256\"}",
            "userIdentity": {"arn": "arn:aws:iam::1:user/u", "invokedBy": "fas.textract.amazonaws.com"}}));
        assert_eq!((a.bucket.as_str(), a.keys[0].as_str()), ("b", "k"));
        assert_eq!(a.sse, Sse::SseS3);
        assert_eq!(a.invoked_by, InvokedBy::Textract);
        let k = decode(&event(json!({"eventSource": "kms.amazonaws.com",
            "eventName": "GenerateDataKey",
            "requestParameters": {"keyId": "k",
                "encryptionContext": "{\"aws:s3:arn\": \"arn:aws-cn:s3:::b/p/1\"}"}})));
        let Fact::Kms(k) = k else { panic!() };
        assert_eq!(
            k.context,
            Context::S3 {
                partition: "aws-cn".into(),
                bucket: "b".into(),
                key: Some("p/1".into())
            }
        );
    }

    #[test]
    fn a_copy_names_its_source_decoded() {
        let a = s3_fact(json!({"eventName": "CopyObject",
            "requestParameters": {"bucketName": "b", "key": "copy",
                "x-amz-copy-source": "/results/out/job/1%20a?versionId=v1"}}));
        assert_eq!(
            a.copy_source,
            Some(("results".into(), "out/job/1 a".into()))
        );
        let a = s3_fact(json!({"eventName": "CopyObject",
            "requestParameters": {"bucketName": "b", "key": "copy", "x-amz-copy-source": "nokey"}}));
        assert_eq!(a.copy_source, None);
    }

    #[test]
    fn multipart_initiation_is_a_write_by_either_name() {
        for name in ["CreateMultipartUpload", "InitiateMultipartUpload"] {
            let a = s3_fact(json!({"eventName": name,
                "requestParameters": {"bucketName": "b", "key": "k"}}));
            assert_eq!(a.op, S3Op::Write);
        }
    }

    #[test]
    fn a_non_string_where_an_object_is_expected_is_unreadable_not_absent() {
        let f = decode(&event(
            json!({"requestParameters": {"bucketName": "b", "key": 5}}),
        ));
        assert!(matches!(f, Fact::Unreadable { .. }), "{f:?}");
    }

    #[test]
    fn user_agent_never_makes_textract() {
        let a = s3_fact(json!({"requestParameters": {"bucketName": "b", "key": "k"},
            "userAgent": "textract.amazonaws.com", "sourceIPAddress": "textract.amazonaws.com",
            "userIdentity": {"arn": "arn:aws:iam::1:user/u"}}));
        assert_eq!(a.invoked_by, InvokedBy::None);
    }
}
