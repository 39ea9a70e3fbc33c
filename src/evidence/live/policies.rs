//! Stage 1, live source: what the static reading of who may read a job's results needs, read
//! through the SDK and recorded in the APIs' own JSON shapes (see `evidence::policies`):
//! - `kms:ListGrants` of a customer key (paged, 100 grants a page);
//! - `s3:GetBucketPolicy` and `s3:GetBucketPolicyStatus` of an output bucket
//!   (`NoSuchBucketPolicy` is recorded as the answer it is: the bucket has no policy).
//!
//! IAM Access Analyzer (`CheckNoPublicAccess`, `CheckAccessNotGranted`) would answer from
//! AWS's own reasoning; it is not called: the local AWS emulator the tests run against has no
//! Access Analyzer, so such calls could not be tested here, and the static reading stays the
//! answer, labelled as such.

use serde_json::{Value, json};

use super::Collector;
use super::shapes::{epoch, object, opt_str, wire_error};

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
        self.record("s3", "GetBucketPolicy", request.clone(), policy);
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
