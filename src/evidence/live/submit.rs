//! Stage 1, live, active side: the AWS calls `submit` makes before and while a job runs.
//!
//! `submit` starts Textract jobs and then verifies them through the ordinary live collection;
//! what it needs on the way (upload the document, preflight the settings, `Start*`, poll
//! `Get*`) is here because only `evidence` talks to the AWS SDK. The preflight's bucket, key
//! and trail facts are recorded calls interpreted into the [`Evidence`] model, so they are
//! judged by the same timeline code that judges a finished job.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_textract::types::{
    DocumentLocation, FeatureType, NotificationChannel, OutputConfig, QueriesConfig, Query,
    S3Object as TextractS3Object,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::shapes::wire_error;
use super::{Collector, LiveError, Options};
use crate::evidence::{WireError, assemble};
use crate::model::{Evidence, JobId, Provenance, S3Object, TextractApi};

/// What one `Start*` call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    pub api: TextractApi,
    pub document: S3Object,
    /// `FeatureTypes` of `StartDocumentAnalysis` (`TABLES`, `FORMS`, `QUERIES`, …).
    pub features: Vec<String>,
    /// `QueriesConfig.Queries[].Text`, with `QUERIES`.
    pub queries: Vec<String>,
    /// `OutputConfig`: bucket and optional prefix.
    pub output: Option<(String, Option<String>)>,
    /// `KMSKeyId` as the user gave it (id, ARN, alias name or alias ARN).
    pub kms_key: Option<String>,
    pub client_request_token: Option<String>,
    pub job_tag: Option<String>,
    /// `NotificationChannel`: SNS topic ARN and the role Textract publishes with.
    pub notification: Option<(String, String)>,
}

/// Textract's answer to one `Get*` poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobProgress {
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `PARTIAL_SUCCESS`.
    pub status: String,
    pub status_message: Option<String>,
    /// `DocumentMetadata.Pages` once Textract knows it.
    pub pages: Option<i64>,
}

/// Server-side encryption for an upload, as the `x-amz-server-side-encryption` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSse {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    /// `SSEKMSKeyId` with `aws:kms`; without one S3 uses the AWS managed `aws/s3` key.
    pub kms_key: Option<String>,
}

/// Why a local file could not be uploaded.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("s3:PutObject s3://{bucket}/{key}: {}: {}", error.code, error.message)]
    Put {
        bucket: String,
        key: String,
        error: WireError,
    },
}

/// An AWS session for `submit`: the live collector's clients and configuration.
pub struct Session {
    c: Collector,
}

macro_rules! start_common {
    ($builder:expr, $req:expr) => {{
        let req: &StartRequest = $req;
        let location = DocumentLocation::builder()
            .s3_object(
                TextractS3Object::builder()
                    .bucket(&req.document.bucket)
                    .name(&req.document.key)
                    .set_version(req.document.version_id.clone())
                    .build(),
            )
            .build();
        let output = req.output.as_ref().map(|(bucket, prefix)| {
            OutputConfig::builder()
                .s3_bucket(bucket)
                .set_s3_prefix(prefix.clone())
                .build()
                .expect("S3Bucket is set")
        });
        let channel = req.notification.as_ref().map(|(topic, role)| {
            NotificationChannel::builder()
                .sns_topic_arn(topic)
                .role_arn(role)
                .build()
                .expect("both members are set")
        });
        $builder
            .document_location(location)
            .set_output_config(output)
            .set_kms_key_id(req.kms_key.clone())
            .set_client_request_token(req.client_request_token.clone())
            .set_job_tag(req.job_tag.clone())
            .set_notification_channel(channel)
    }};
}

impl Session {
    pub async fn connect(options: &Options) -> Result<Session, LiveError> {
        Ok(Session {
            c: Collector::new(options).await?,
        })
    }

    /// The Region every call goes to.
    pub fn region(&self) -> &str {
        &self.c.region
    }

    /// The facts a preflight judges, as evidence: the output bucket's default encryption,
    /// `DescribeKey` of the requested key (and the account's aliases), and every trail with
    /// its status and selectors. Failed calls are in the evidence's problems.
    pub async fn preflight_evidence(
        &mut self,
        output_bucket: Option<&str>,
        kms_key: Option<&str>,
        captured_at: DateTime<Utc>,
    ) -> Evidence {
        if let Some(bucket) = output_bucket {
            self.c.bucket_settings(bucket).await;
        }
        if let Some(key) = kms_key {
            self.c.keys(&BTreeSet::from([key.to_owned()])).await;
        }
        self.c.trails().await;
        let calls = std::mem::take(&mut self.c.calls);
        let provenance = Provenance {
            sources: vec![format!("live {}", self.c.region)],
            account: None,
            region: Some(self.c.region.clone()),
            captured_at,
        };
        assemble(provenance, &calls, Vec::new(), None, Vec::new())
    }

    /// `HeadObject` of an input document: can the caller read it?
    pub async fn head_object(&self, object: &S3Object) -> Result<(), WireError> {
        self.c
            .s3
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| wire_error(&e))
    }

    /// `HeadBucket`: does the bucket exist, and may the caller see it?
    pub async fn head_bucket(&self, bucket: &str) -> Result<(), WireError> {
        self.c
            .s3
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| wire_error(&e))
    }

    /// Uploads a local file; returns the new object (with its version id when the bucket is
    /// versioned).
    pub async fn upload(
        &self,
        path: &Path,
        target: &S3Object,
        sse: Option<&UploadSse>,
    ) -> Result<S3Object, UploadError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| UploadError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        let out = self
            .c
            .s3
            .put_object()
            .bucket(&target.bucket)
            .key(&target.key)
            .body(body)
            .set_server_side_encryption(
                sse.map(|s| ServerSideEncryption::from(s.algorithm.as_str())),
            )
            .set_ssekms_key_id(sse.and_then(|s| s.kms_key.clone()))
            .send()
            .await
            .map_err(|e| UploadError::Put {
                bucket: target.bucket.clone(),
                key: target.key.clone(),
                error: wire_error(&e),
            })?;
        Ok(S3Object {
            version_id: out.version_id().map(str::to_owned),
            ..target.clone()
        })
    }

    /// Calls the `Start*` of the request's API; returns the job id.
    pub async fn start(&self, req: &StartRequest) -> Result<JobId, WireError> {
        let t = &self.c.textract;
        let job_id = match req.api {
            TextractApi::DocumentAnalysis => {
                let queries = (!req.queries.is_empty()).then(|| {
                    QueriesConfig::builder()
                        .set_queries(Some(
                            req.queries
                                .iter()
                                .map(|q| Query::builder().text(q).build().expect("Text is set"))
                                .collect(),
                        ))
                        .build()
                        .expect("Queries is set")
                });
                start_common!(t.start_document_analysis(), req)
                    .set_feature_types(Some(
                        req.features
                            .iter()
                            .map(|f| FeatureType::from(f.as_str()))
                            .collect(),
                    ))
                    .set_queries_config(queries)
                    .send()
                    .await
                    .map(|o| o.job_id)
                    .map_err(|e| wire_error(&e))
            }
            TextractApi::DocumentTextDetection => {
                start_common!(t.start_document_text_detection(), req)
                    .send()
                    .await
                    .map(|o| o.job_id)
                    .map_err(|e| wire_error(&e))
            }
            TextractApi::ExpenseAnalysis => start_common!(t.start_expense_analysis(), req)
                .send()
                .await
                .map(|o| o.job_id)
                .map_err(|e| wire_error(&e)),
            TextractApi::LendingAnalysis => start_common!(t.start_lending_analysis(), req)
                .send()
                .await
                .map(|o| o.job_id)
                .map_err(|e| wire_error(&e)),
        }?;
        job_id.map(JobId).ok_or_else(|| WireError {
            code: "ResponseError".into(),
            message: format!("{} answered without a JobId", req.api.start_operation()),
        })
    }

    /// One `Get*` of the job's API (first page only: the status, not the results).
    pub async fn poll(&self, api: TextractApi, job: &JobId) -> Result<JobProgress, WireError> {
        let answer = self.c.get_status(api, &job.0).await?;
        let text = |m: &str| answer.get(m).and_then(Value::as_str).map(str::to_owned);
        Ok(JobProgress {
            status: text("JobStatus").unwrap_or_else(|| "UNKNOWN".into()),
            status_message: text("StatusMessage"),
            pages: answer
                .pointer("/DocumentMetadata/Pages")
                .and_then(Value::as_i64),
        })
    }
}
