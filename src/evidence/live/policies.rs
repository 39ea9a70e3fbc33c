//! Stage 1, live source: what the static reading of who may read a job's results needs, read
//! through the SDK and recorded in the APIs' own JSON shapes (see `evidence::policies`):
//! - `kms:ListGrants` of a customer key (paged, 100 grants a page);
//! - `s3:GetBucketPolicy` and `s3:GetBucketPolicyStatus` of an output bucket
//!   (`NoSuchBucketPolicy` is recorded as the answer it is: the bucket has no policy).
//!
//! - IAM Access Analyzer's `CheckNoPublicAccess` and `CheckAccessNotGranted` of each key
//!   policy and bucket policy read: AWS's own reasoning beside the static reading. A failed
//!   check (AccessDenied, not offered in the Region or partition, throttled after the SDK's
//!   retries) is recorded as the error it is; the static reading then stands alone.

use serde_json::{Value, json};

use aws_sdk_accessanalyzer::types::{
    Access, AccessCheckPolicyType, AccessCheckResourceType, ReasonSummary,
};

use super::Collector;
use super::shapes::{epoch, object, opt_str, wire_error};
use crate::evidence::policies::{ACCESS_NOT_GRANTED, ANALYZER, Checked, NO_PUBLIC_ACCESS};

/// Grants per `ListGrants` page (the API's maximum).
const GRANTS_PER_PAGE: i32 = 100;

impl Collector {
    /// Every grant on `key_arn`, recording each page.
    pub(super) async fn grants(&mut self, key_arn: &str) {
        let mut marker: Option<String> = None;
        loop {
            let request = object([
                ("KeyId", json!(key_arn)),
                ("Limit", json!(GRANTS_PER_PAGE)),
                ("Marker", opt_str(marker.as_deref())),
            ]);
            let result = self
                .kms
                .list_grants()
                .key_id(key_arn)
                .limit(GRANTS_PER_PAGE)
                .set_marker(marker.clone())
                .send()
                .await;
            match result {
                Ok(out) => {
                    marker = out
                        .next_marker()
                        .filter(|_| out.truncated())
                        .map(str::to_owned);
                    self.record("kms", "ListGrants", request, Ok(list_grants(&out)));
                    if marker.is_none() {
                        return;
                    }
                }
                Err(e) => {
                    self.record("kms", "ListGrants", request, Err(wire_error(&e)));
                    return;
                }
            }
        }
    }

    /// The bucket's policy and S3's verdict on whether it is public.
    pub(super) async fn bucket_policy(&mut self, bucket: &str) {
        let request = json!({ "Bucket": bucket });
        let policy = self
            .s3
            .get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(|o| object([("Policy", opt_str(o.policy()))]))
            .map_err(|e| wire_error(&e));
        let document = policy
            .as_ref()
            .ok()
            .and_then(|p| p["Policy"].as_str())
            .map(str::to_owned);
        self.record("s3", "GetBucketPolicy", request.clone(), policy);
        if let Some(document) = document {
            let partition = crate::model::partition_of_region(&self.region).to_owned();
            let checked = Checked::Bucket {
                name: bucket,
                partition: &partition,
            };
            self.check_policy(checked, &document).await;
        }
        let status = self
            .s3
            .get_bucket_policy_status()
            .bucket(bucket)
            .send()
            .await
            .map(|o| {
                json!({"PolicyStatus": object([(
                    "IsPublic",
                    json!(o.policy_status().and_then(|p| p.is_public())),
                )])})
            })
            .map_err(|e| wire_error(&e));
        self.record("s3", "GetBucketPolicyStatus", request, status);
    }
}

impl Collector {
    /// Access Analyzer's two checks of `document`, the resource policy of `checked`: can it
    /// grant public access, and does it grant the read action on the resource.
    pub(super) async fn check_policy(&mut self, checked: Checked<'_>, document: &str) {
        let kind = checked.resource_type();
        let request = json!({"policyDocument": document, "resourceType": kind});
        let public = self
            .analyzer
            .check_no_public_access()
            .policy_document(document)
            .resource_type(AccessCheckResourceType::from(kind))
            .send()
            .await
            .map(|o| check_answer(o.result().map(|r| r.as_str()), o.message(), o.reasons()))
            .map_err(|e| wire_error(&e));
        self.record(ANALYZER, NO_PUBLIC_ACCESS, request, public);
        let (action, resource) = (checked.action(), checked.resource());
        let request = json!({
            "policyDocument": document,
            "access": [{"actions": [action], "resources": [resource]}],
            "policyType": "RESOURCE_POLICY",
        });
        let access = Access::builder()
            .actions(action)
            .resources(resource)
            .build();
        let granted = self
            .analyzer
            .check_access_not_granted()
            .policy_document(document)
            .access(access)
            .policy_type(AccessCheckPolicyType::ResourcePolicy)
            .send()
            .await
            .map(|o| check_answer(o.result().map(|r| r.as_str()), o.message(), o.reasons()))
            .map_err(|e| wire_error(&e));
        self.record(ANALYZER, ACCESS_NOT_GRANTED, request, granted);
    }
}

/// A policy check's answer in its JSON shape (`result`, `message`, `reasons`).
fn check_answer(result: Option<&str>, message: Option<&str>, reasons: &[ReasonSummary]) -> Value {
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|r| {
            object([
                ("description", opt_str(r.description())),
                ("statementIndex", json!(r.statement_index())),
                ("statementId", opt_str(r.statement_id())),
            ])
        })
        .collect();
    object([
        ("result", opt_str(result)),
        ("message", opt_str(message)),
        ("reasons", Value::Array(reasons)),
    ])
}

/// `ListGrants` in its JSON shape.
fn list_grants(out: &aws_sdk_kms::operation::list_grants::ListGrantsOutput) -> Value {
    let grants: Vec<Value> = out
        .grants()
        .iter()
        .map(|g| {
            let constraints = g.constraints().map_or(Value::Null, |c| {
                object([
                    (
                        "EncryptionContextSubset",
                        c.encryption_context_subset()
                            .map_or(Value::Null, |m| json!(sorted(m))),
                    ),
                    (
                        "EncryptionContextEquals",
                        c.encryption_context_equals()
                            .map_or(Value::Null, |m| json!(sorted(m))),
                    ),
                    ("SourceArn", opt_str(c.source_arn())),
                ])
            });
            object([
                ("KeyId", opt_str(g.key_id())),
                ("GrantId", opt_str(g.grant_id())),
                ("Name", opt_str(g.name())),
                ("CreationDate", epoch(g.creation_date())),
                ("GranteePrincipal", opt_str(g.grantee_principal())),
                (
                    "GranteeServicePrincipal",
                    opt_str(g.grantee_service_principal()),
                ),
                ("RetiringPrincipal", opt_str(g.retiring_principal())),
                ("IssuingAccount", opt_str(g.issuing_account())),
                (
                    "Operations",
                    json!(
                        g.operations()
                            .iter()
                            .map(|o| o.as_str())
                            .collect::<Vec<_>>()
                    ),
                ),
                ("Constraints", constraints),
            ])
        })
        .collect();
    object([
        ("Grants", Value::Array(grants)),
        ("NextMarker", opt_str(out.next_marker())),
        ("Truncated", json!(out.truncated())),
    ])
}

fn sorted(
    m: &std::collections::HashMap<String, String>,
) -> std::collections::BTreeMap<&String, &String> {
    m.iter().collect()
}
