//! `submit`: run Textract jobs the way policy says they must run, then prove the result.
//!
//! Glue above the pipeline, like `cli`: a resolved [`Plan`] is preflighted (caller, bucket,
//! key and trail, judged from the evidence model by [`crate::coverage`], and the
//! documented table's promise), the jobs are started with bounded concurrency and waited for,
//! and `cli` then verifies them through exactly the path `verify --job-id` takes. The AWS
//! calls themselves are in [`crate::evidence::live::submit`].

mod preflight;
mod wait;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use preflight::{Check, CheckStatus, Preflight, preflight};
pub use wait::{MAX_POLL, MIN_POLL, Tracked, WaitEnd, wait};

use crate::coverage;
use crate::evidence::WireError;
use crate::evidence::live::submit::{Session, StartRequest, UploadError, UploadSse};
use crate::model::{
    DEFAULT_OUTPUT_PREFIX, Evidence, JobId, S3Object, TextractApi, job_output_prefix,
};
use crate::timeline;

/// `Start*` calls (and uploads) in flight at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// A document to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// Already in S3.
    S3(S3Object),
    /// A local file, uploaded to `target` first.
    Upload { path: PathBuf, target: S3Object },
}

impl Document {
    /// How the user named it.
    pub fn label(&self) -> String {
        match self {
            Document::S3(o) => s3_label(o),
            Document::Upload { path, .. } => path.display().to_string(),
        }
    }
}

/// `s3://bucket/key`, with `?versionId=` when a version is named.
pub fn s3_label(o: &S3Object) -> String {
    match &o.version_id {
        Some(v) => format!("{}?versionId={v}", o.uri()),
        None => o.uri(),
    }
}

/// Everything `submit` does, resolved from flags.
#[derive(Debug, Clone)]
pub struct Plan {
    pub documents: Vec<Document>,
    pub api: TextractApi,
    pub features: Vec<String>,
    pub queries: Vec<String>,
    /// `OutputConfig`: bucket and optional prefix.
    pub output: Option<(String, Option<String>)>,
    pub kms_key: Option<String>,
    /// The user's token; with several documents each gets `{token}-{n}` (n from 1).
    pub client_request_token: Option<String>,
    pub job_tag: Option<String>,
    pub notification: Option<(String, String)>,
    pub upload_sse: Option<UploadSse>,
    pub concurrency: usize,
}

impl Plan {
    /// The output bucket and a job's folder in it, `{prefix}/{JobId}/` (Textract's default
    /// prefix when none is given), the job id left as a placeholder.
    pub fn output_folder(&self) -> Option<(&str, String)> {
        self.output.as_ref().map(|(bucket, prefix)| {
            let prefix = prefix
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or(DEFAULT_OUTPUT_PREFIX);
            (
                bucket.as_str(),
                job_output_prefix(prefix, &JobId("{JobId}".into())),
            )
        })
    }

    /// The `Start*` request for the `n`th document (from 0), once it is in S3.
    fn request(&self, n: usize, document: S3Object) -> StartRequest {
        let token = self.client_request_token.as_ref().map(|t| {
            if self.documents.len() > 1 {
                format!("{t}-{}", n + 1)
            } else {
                t.clone()
            }
        });
        StartRequest {
            api: self.api,
            document,
            features: self.features.clone(),
            queries: self.queries.clone(),
            output: self.output.clone(),
            kms_key: self.kms_key.clone(),
            client_request_token: token,
            job_tag: self.job_tag.clone(),
            notification: self.notification.clone(),
        }
    }
}

/// `s3://BUCKET/KEY[?versionId=V]`.
pub fn parse_s3_object(s: &str) -> Result<S3Object, String> {
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{s:?}: expected s3://BUCKET/KEY[?versionId=V]"))?;
    let (path, version) = match rest.split_once("?versionId=") {
        Some((p, v)) if !v.is_empty() => (p, Some(v.to_owned())),
        Some(_) => return Err(format!("{s:?}: empty versionId")),
        None => (rest, None),
    };
    match path.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
            Ok(S3Object {
                bucket: bucket.into(),
                key: key.into(),
                version_id: version,
            })
        }
        _ => Err(format!("{s:?}: expected s3://BUCKET/KEY[?versionId=V]")),
    }
}

/// `s3://BUCKET[/PREFIX]`: where uploads go (the prefix gets a trailing `/`).
pub fn parse_s3_prefix(s: &str) -> Result<(String, String), String> {
    let rest = s
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{s:?}: expected s3://BUCKET/PREFIX/"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{s:?}: expected s3://BUCKET/PREFIX/"));
    }
    let prefix = match prefix.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    Ok((bucket.into(), prefix))
}

/// A local file to upload under `s3://{bucket}/{prefix}{file name}`.
pub fn upload(path: &Path, input: &(String, String)) -> Result<Document, String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    Ok(Document::Upload {
        path: path.to_owned(),
        target: S3Object {
            bucket: input.0.clone(),
            key: format!("{}{name}", input.1),
            version_id: None,
        },
    })
}

/// A manifest: one document per line, `s3://BUCKET/KEY[?versionId=V]`, or a local file
/// (relative to the manifest's folder) to upload to `input`. Blank lines and `#` comments
/// are skipped.
pub fn read_manifest(
    path: &Path,
    input: Option<&(String, String)>,
) -> Result<Vec<Document>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut documents = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("{}:{}: {e}", path.display(), n + 1);
        if line.starts_with("s3://") {
            documents.push(Document::S3(parse_s3_object(line).map_err(at)?));
        } else {
            let input = input.ok_or_else(|| {
                at(format!(
                    "{line:?} is a local file: uploading it needs --input s3://BUCKET/PREFIX/"
                ))
            })?;
            documents.push(upload(&base.join(line), input).map_err(at)?);
        }
    }
    if documents.is_empty() {
        return Err(format!("{}: no document in the manifest", path.display()));
    }
    Ok(documents)
}

/// Why a document's job was not started.
#[derive(Debug, thiserror::Error)]
pub enum StartFailure {
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("{operation}: {}: {}", error.code, error.message)]
    Start {
        operation: &'static str,
        error: WireError,
    },
}

impl StartFailure {
    /// What to fix, by AWS error code.
    pub fn advice(&self) -> &'static str {
        let code = match self {
            StartFailure::Upload(UploadError::Read { .. }) => return "check the file path",
            StartFailure::Upload(UploadError::Put { error, .. }) => error.code.as_str(),
            StartFailure::Start { error, .. } => error.code.as_str(),
        };
        start_advice(code)
    }
}

/// What to fix for an error code of `Start*` (or the upload's `PutObject`).
pub fn start_advice(code: &str) -> &'static str {
    match code {
        "InvalidS3ObjectException" => {
            "check the document's bucket, key and version, that it is in this Region and readable \
             by the caller (s3:GetObject), and that the output bucket exists in this Region and \
             allows the caller s3:PutObject"
        }
        "InvalidKMSKeyException" => {
            "the key must exist in this Region, be Enabled and symmetric (ENCRYPT_DECRYPT), and \
             allow the caller kms:GenerateDataKey, kms:Decrypt, kms:ReEncrypt* and kms:DescribeKey"
        }
        "AccessDeniedException" | "AccessDenied" | "403" => {
            "the caller needs the textract:Start* permission for this API, s3:GetObject on the \
             document, s3:PutObject on the output prefix and the KMS permissions on the key"
        }
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "SlowDown" => {
            "Textract is throttling: lower --concurrency, use --retry-mode adaptive or more \
             --max-attempts, or ask for a higher transactions-per-second quota"
        }
        "LimitExceededException" => {
            "too many concurrent jobs for the account: wait for running jobs to finish or ask for \
             a higher concurrent-jobs quota"
        }
        "BadDocumentException" => {
            "the document cannot be read: check it is a valid PDF, TIFF, JPEG or PNG"
        }
        "UnsupportedDocumentException" => {
            "the format is not supported by this API: asynchronous APIs take PDF, TIFF, JPEG and PNG"
        }
        "DocumentTooLargeException" => "the document exceeds Textract's size or page limits",
        "IdempotentParameterMismatchException" => {
            "this --client-request-token was used with other parameters: use a new token"
        }
        "InvalidParameterException" => {
            "a parameter is not valid for this API: check --features, --query, --output-prefix, \
             --job-tag and the notification channel"
        }
        "NoSuchBucket" | "404" => "the bucket does not exist in this Region",
        "InternalServerError" => "a Textract-side error: retry later",
        _ => "see the message; `textract-audit submit --dry-run` checks the settings",
    }
}

/// One document's submission.
#[derive(Debug)]
pub struct Submitted {
    pub document: Document,
    pub outcome: Result<(S3Object, JobId), StartFailure>,
}

/// Uploads (when asked) and starts every document, at most `plan.concurrency` at a time;
/// returns them in the plan's order.
pub async fn start_all(session: Arc<Session>, plan: &Plan) -> Vec<Submitted> {
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (n, document) in plan.documents.iter().enumerate() {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (session, plan, document) = (Arc::clone(&session), plan.clone(), document.clone());
        tasks.spawn(async move {
            let outcome = start_one(&session, &plan, n, &document).await;
            drop(permit);
            (n, Submitted { document, outcome })
        });
    }
    let mut done = tasks.join_all().await;
    done.sort_by_key(|(n, _)| *n);
    done.into_iter().map(|(_, s)| s).collect()
}

async fn start_one(
    session: &Session,
    plan: &Plan,
    n: usize,
    document: &Document,
) -> Result<(S3Object, JobId), StartFailure> {
    let object = match document {
        Document::S3(o) => o.clone(),
        Document::Upload { path, target } => {
            session
                .upload(path, target, plan.upload_sse.as_ref())
                .await?
        }
    };
    let request = plan.request(n, object.clone());
    let job = session
        .start(&request)
        .await
        .map_err(|error| StartFailure::Start {
            operation: plan.api.start_operation(),
            error,
        })?;
    Ok((object, job))
}

/// The jobs among `jobs` that wrote to a bucket whose trail logs data events, but whose
/// listed output objects have no write record in `evidence` yet (the trail has not delivered
/// them). A trail that does not log them at all is not waited for.
pub fn awaiting_data_events(evidence: &Evidence, jobs: &[JobId]) -> Vec<JobId> {
    jobs.iter()
        .filter(|job| {
            let t = timeline::build(evidence, job);
            t.output.is_some()
                && !matches!(t.coverage.data_events, coverage::Logging::NotLogged { .. })
                && t.objects.iter().any(|o| o.listed && o.writes.is_empty())
        })
        .cloned()
        .collect()
}

/// `textract-audit verify --job-id …` with the flags that reach the same account.
pub fn verify_command(jobs: &[JobId], region: &str, extra: &[(&str, String)]) -> String {
    let mut cmd = String::from("textract-audit verify");
    for j in jobs {
        cmd.push_str(&format!(" --job-id {j}"));
    }
    cmd.push_str(&format!(" --region {}", shell_word(region)));
    for (flag, value) in extra {
        cmd.push_str(&format!(" {flag} {}", shell_word(value)));
    }
    cmd
}

/// A word as a POSIX shell reads it back unchanged.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_documents_parse_with_and_without_a_version() {
        let o = parse_s3_object("s3://b/docs/a.pdf?versionId=v1").unwrap();
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("b", "docs/a.pdf"));
        assert_eq!(o.version_id.as_deref(), Some("v1"));
        assert_eq!(s3_label(&o), "s3://b/docs/a.pdf?versionId=v1");
        assert!(parse_s3_object("s3://b/k").unwrap().version_id.is_none());
        for bad in [
            "b/k",
            "s3://b",
            "s3://b/",
            "s3:///k",
            "s3://b/dir/",
            "s3://b/k?versionId=",
        ] {
            assert!(parse_s3_object(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upload_prefixes_get_one_trailing_slash() {
        assert_eq!(
            parse_s3_prefix("s3://b/in").unwrap(),
            ("b".into(), "in/".into())
        );
        assert_eq!(
            parse_s3_prefix("s3://b/in/").unwrap(),
            ("b".into(), "in/".into())
        );
        assert_eq!(
            parse_s3_prefix("s3://b").unwrap(),
            ("b".into(), String::new())
        );
        assert!(parse_s3_prefix("b/in").is_err());
    }

    #[test]
    fn manifest_mixes_s3_documents_and_local_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.txt");
        std::fs::write(&path, "# batch\ns3://b/one.pdf\n\n  two.pdf  \n").unwrap();
        let input = ("in".to_owned(), "up/".to_owned());
        let docs = read_manifest(&path, Some(&input)).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].label(), "s3://b/one.pdf");
        match &docs[1] {
            Document::Upload { path: p, target } => {
                assert_eq!(p, &dir.path().join("two.pdf"));
                assert_eq!(target.uri(), "s3://in/up/two.pdf");
            }
            other => panic!("{other:?}"),
        }
        let err = read_manifest(&path, None).unwrap_err();
        assert!(err.ends_with("docs.txt:4: \"two.pdf\" is a local file: uploading it needs --input s3://BUCKET/PREFIX/"), "{err}");
    }

    #[test]
    fn several_documents_get_numbered_tokens() {
        let doc = |k: &str| Document::S3(parse_s3_object(&format!("s3://b/{k}")).unwrap());
        let mut plan = Plan {
            documents: vec![doc("a")],
            api: TextractApi::DocumentTextDetection,
            features: vec![],
            queries: vec![],
            output: None,
            kms_key: None,
            client_request_token: Some("tok".into()),
            job_tag: None,
            notification: None,
            upload_sse: None,
            concurrency: 4,
        };
        let object = parse_s3_object("s3://b/a").unwrap();
        assert_eq!(
            plan.request(0, object.clone())
                .client_request_token
                .as_deref(),
            Some("tok")
        );
        plan.documents.push(doc("b"));
        assert_eq!(
            plan.request(1, object).client_request_token.as_deref(),
            Some("tok-2")
        );
    }

    #[test]
    fn verify_command_quotes_what_the_shell_would_split() {
        let cmd = verify_command(
            &[JobId("j1".into()), JobId("j2".into())],
            "us-east-1",
            &[("--trail-dir", "/tmp/my trail".into())],
        );
        assert_eq!(
            cmd,
            "textract-audit verify --job-id j1 --job-id j2 --region us-east-1 --trail-dir '/tmp/my trail'"
        );
    }

    #[test]
    fn every_documented_start_error_has_specific_advice() {
        let generic = start_advice("SomethingNew");
        for code in [
            "InvalidS3ObjectException",
            "InvalidKMSKeyException",
            "AccessDeniedException",
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "LimitExceededException",
            "BadDocumentException",
            "UnsupportedDocumentException",
            "IdempotentParameterMismatchException",
        ] {
            assert_ne!(start_advice(code), generic, "{code}");
        }
    }
}
