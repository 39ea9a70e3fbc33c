//! Recorded calls -> the evidence model, for what the static reading of who may read needs:
//! `kms:ListGrants` (the key's grants), `s3:GetBucketPolicy` (the bucket policy) and
//! `s3:GetBucketPolicyStatus` (S3's own verdict on whether that policy is public); and IAM
//! Access Analyzer's `CheckNoPublicAccess` and `CheckAccessNotGranted` of the key and bucket
//! policies, attached to the key or bucket whose collected policy is the document checked.
//!
//! Shapes as the API references define them (`docs/evidence-bundle.md`). Two records that
//! answer the same question differently (two policies for one bucket, two versions of one
//! grant page) are a conflict: the fact becomes unknown and the conflict is reported, never
//! settled by which record came first.

use std::collections::BTreeMap;

use serde_json::Value;

use super::interpret::{outcome, s, time};
use super::{CallRecord, RecordedCalls};
use crate::access::possible::{DECRYPT, GET_OBJECT};
use crate::model::{
    AnalyzerAnswer, AnalyzerReason, CallError, Evidence, EvidenceProblem, KmsGrant, PolicyChecks,
    ProblemScope,
};

/// The operations read here (the interpreter's list of known operations includes them).
pub const OPERATIONS: &[(&str, &str)] = &[
    ("kms", "ListGrants"),
    ("s3", "GetBucketPolicy"),
    ("s3", "GetBucketPolicyStatus"),
    (ANALYZER, NO_PUBLIC_ACCESS),
    (ANALYZER, ACCESS_NOT_GRANTED),
];

/// IAM Access Analyzer, as the recorded calls name its service.
pub const ANALYZER: &str = "access-analyzer";
pub const NO_PUBLIC_ACCESS: &str = "CheckNoPublicAccess";
pub const ACCESS_NOT_GRANTED: &str = "CheckAccessNotGranted";

/// The resource a policy check is about.
#[derive(Debug, Clone, Copy)]
pub enum Checked<'a> {
    /// A KMS key, by ARN: is `kms:Decrypt` on it granted?
    Key(&'a str),
    /// An S3 bucket: is `s3:GetObject` on its objects (`arn:P:s3:::NAME/*`) granted?
    Bucket { name: &'a str, partition: &'a str },
}

impl Checked<'_> {
    /// The `resourceType` of `CheckNoPublicAccess`.
    pub fn resource_type(&self) -> &'static str {
        match self {
            Checked::Key(_) => "AWS::KMS::Key",
            Checked::Bucket { .. } => "AWS::S3::Bucket",
        }
    }

    /// The read action `CheckAccessNotGranted` asks about.
    pub fn action(&self) -> &'static str {
        match self {
            Checked::Key(_) => DECRYPT,
            Checked::Bucket { .. } => GET_OBJECT,
        }
    }

    /// The resource `CheckAccessNotGranted` asks about.
    pub fn resource(&self) -> String {
        match self {
            Checked::Key(arn) => (*arn).to_owned(),
            Checked::Bucket { name, partition } => format!("arn:{partition}:s3:::{name}/*"),
        }
    }

    /// Whether a recorded `CheckAccessNotGranted` request asks exactly this one question
    /// (the bucket's partition is taken as recorded).
    fn asked_by(&self, request: &Value) -> bool {
        let one = |member: &str| -> Option<&str> {
            match request
                .pointer(&format!("/access/0/{member}"))?
                .as_array()?
                .as_slice()
            {
                [one] => one.as_str(),
                _ => None,
            }
        };
        let single = request
            .get("access")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() == 1);
        let resource_matches = match (self, one("resources")) {
            (Checked::Key(arn), Some(r)) => r == *arn,
            (Checked::Bucket { name, .. }, Some(r)) => r
                .strip_prefix("arn:")
                .and_then(|r| r.split_once(":s3:::"))
                .is_some_and(|(_, rest)| rest == format!("{name}/*")),
            (_, None) => false,
        };
        single && one("actions") == Some(self.action()) && resource_matches
    }
}

/// S3's answer when a bucket has no policy: an answer, not a failure.
pub const NO_BUCKET_POLICY: &str = "NoSuchBucketPolicy";

/// Interprets the recorded grants and bucket policies into `facts` (after the keys are known).
pub fn interpret(calls: &RecordedCalls, facts: &mut Evidence) {
    let get = |service: &str, op: &str| -> &[CallRecord] {
        calls
            .get(&(service.to_owned(), op.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    for (key, grants) in grant_listings(get("kms", "ListGrants"), &mut facts.problems) {
        match facts.keys.iter_mut().find(|k| k.answers_to(&key)) {
            Some(k) => k.grants = Some(grants),
            None => facts.problems.push(EvidenceProblem {
                subject: format!("kms:ListGrants {key}"),
                reason: "no DescribeKey answer names this key; its grants are not used".into(),
                scope: ProblemScope::Kms,
            }),
        }
    }
    let policies = per_bucket(
        get("s3", "GetBucketPolicy"),
        "GetBucketPolicy",
        |r| match r {
            None => Some(None),
            Some(r) => s(r, "Policy").map(|p| Some(p.to_owned())),
        },
    );
    let statuses = per_bucket(
        get("s3", "GetBucketPolicyStatus"),
        "GetBucketPolicyStatus",
        |r| match r {
            // No policy: nothing in a policy makes the bucket public.
            None => Some(false),
            Some(r) => r.pointer("/PolicyStatus/IsPublic").and_then(Value::as_bool),
        },
    );
    for (bucket, (answer, problems)) in policies {
        facts.problems.extend(problems);
        facts.buckets.entry(bucket).or_default().policy = Some(answer);
    }
    for (bucket, (answer, problems)) in statuses {
        facts.problems.extend(problems);
        facts.buckets.entry(bucket).or_default().policy_public = Some(answer);
    }
    let public = get(ANALYZER, NO_PUBLIC_ACCESS);
    let granted = get(ANALYZER, ACCESS_NOT_GRANTED);
    for key in &mut facts.keys {
        let Some(document) = key.policy.as_deref() else {
            continue;
        };
        let checked = Checked::Key(&key.arn);
        key.access_analyzer =
            policy_checks(checked, document, public, granted, &mut facts.problems);
    }
    for (name, bucket) in &mut facts.buckets {
        let Some(Ok(Some(document))) = bucket.policy.as_ref() else {
            continue;
        };
        // Any partition: the record says which one was asked about.
        let checked = Checked::Bucket {
            name,
            partition: "",
        };
        bucket.access_analyzer =
            policy_checks(checked, document, public, granted, &mut facts.problems);
    }
}

/// Access Analyzer's recorded answers about `document` as the policy of `checked`; `None`
/// when it was not asked.
fn policy_checks(
    checked: Checked<'_>,
    document: &str,
    public: &[CallRecord],
    granted: &[CallRecord],
    problems: &mut Vec<EvidenceProblem>,
) -> Option<PolicyChecks> {
    let about = |rec: &&CallRecord| s(&rec.request, "policyDocument") == Some(document);
    let (document_name, scope) = match checked {
        Checked::Key(arn) => (format!("the key policy of {arn}"), ProblemScope::Kms),
        Checked::Bucket { name, .. } => (
            format!("the bucket policy of s3://{name}"),
            ProblemScope::S3 {
                bucket: Some(name.to_owned()),
            },
        ),
    };
    let subject = |op: &str| format!("{ANALYZER}:{op} of {document_name}");
    let mut answer = |records: Vec<&CallRecord>, op: &str| {
        let mut known: Option<Result<AnalyzerAnswer, CallError>> = None;
        for rec in records {
            let answer = outcome(rec, check_answer).and_then(|a| a.ok_or_else(malformed));
            match &mut known {
                None => known = Some(answer),
                Some(k) => merge(k, answer, problems, subject(op), scope.clone()),
            }
        }
        known
    };
    let no_public_access = answer(
        public
            .iter()
            .filter(about)
            .filter(|r| s(&r.request, "resourceType") == Some(checked.resource_type()))
            .collect(),
        NO_PUBLIC_ACCESS,
    );
    let access_not_granted = answer(
        granted
            .iter()
            .filter(about)
            .filter(|r| checked.asked_by(&r.request))
            .collect(),
        ACCESS_NOT_GRANTED,
    );
    (no_public_access.is_some() || access_not_granted.is_some()).then_some(PolicyChecks {
        no_public_access,
        access_not_granted,
    })
}

/// A policy check's response; `None` when its `result` is not `PASS` or `FAIL`.
fn check_answer(r: &Value) -> Option<AnalyzerAnswer> {
    let result = s(r, "result").filter(|v| matches!(*v, "PASS" | "FAIL"))?;
    let reasons = match r.get("reasons") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => list
            .as_array()?
            .iter()
            .map(|x| AnalyzerReason {
                description: s(x, "description").map(str::to_owned),
                statement_index: x.get("statementIndex").and_then(Value::as_i64),
                statement_id: s(x, "statementId").map(str::to_owned),
            })
            .collect(),
    };
    Some(AnalyzerAnswer {
        result: result.to_owned(),
        message: s(r, "message").map(str::to_owned),
        reasons,
    })
}

/// What one kind of bucket call answered, per bucket: `read` gets the response (`None` for
/// `NoSuchBucketPolicy`) and says `None` when the response lacks what it needs.
fn per_bucket<T: PartialEq + Clone>(
    records: &[CallRecord],
    op: &str,
    read: impl Fn(Option<&Value>) -> Option<T>,
) -> BTreeMap<String, (Result<T, CallError>, Vec<EvidenceProblem>)> {
    let mut out: BTreeMap<String, (Result<T, CallError>, Vec<EvidenceProblem>)> = BTreeMap::new();
    for rec in records {
        let Some(bucket) = s(&rec.request, "Bucket") else {
            continue;
        };
        let no_policy = rec
            .error
            .as_ref()
            .is_some_and(|e| e.code == NO_BUCKET_POLICY);
        let answer = if no_policy {
            read(None).ok_or_else(malformed)
        } else {
            outcome(rec, |r| read(Some(r))).and_then(|v| v.ok_or_else(malformed))
        };
        match out.get_mut(bucket) {
            None => {
                out.insert(bucket.to_owned(), (answer, Vec::new()));
            }
            Some((known, problems)) => {
                let scope = ProblemScope::S3 {
                    bucket: Some(bucket.to_owned()),
                };
                merge(
                    known,
                    answer,
                    problems,
                    format!("s3:{op} s3://{bucket}"),
                    scope,
                );
            }
        }
    }
    out
}

fn malformed() -> CallError {
    CallError {
        code: "MalformedResponse".into(),
        message: "the recorded response lacks the member this call answers with".into(),
    }
}

fn conflicting() -> CallError {
    CallError {
        code: "ConflictingAnswers".into(),
        message: "recorded calls answer differently".into(),
    }
}

/// Another record of a call already answered. An answer takes the place of a failure (a
/// retry that got through), whatever their order; two different answers are a conflict.
fn merge<T: PartialEq>(
    known: &mut Result<T, CallError>,
    answer: Result<T, CallError>,
    problems: &mut Vec<EvidenceProblem>,
    subject: String,
    scope: ProblemScope,
) {
    match (&*known, &answer) {
        (Ok(a), Ok(b)) if a != b => {
            problems.push(EvidenceProblem {
                subject,
                reason: "two recorded calls give different answers; neither is used".into(),
                scope,
            });
            *known = Err(conflicting());
        }
        (Err(e), Ok(_)) if e.code != "ConflictingAnswers" => *known = answer,
        _ => {}
    }
}

/// One `ListGrants` page: its grants and whether it is truncated, or why it is not known.
type Page = Result<(Vec<KmsGrant>, bool), CallError>;

/// The grants of each key (key -> marker -> page), from its `ListGrants` pages: joined by marker, complete when a
/// page says it is the last one.
fn grant_listings(
    records: &[CallRecord],
    problems: &mut Vec<EvidenceProblem>,
) -> BTreeMap<String, Result<Vec<KmsGrant>, CallError>> {
    let mut pages: BTreeMap<String, BTreeMap<String, Page>> = BTreeMap::new();
    for rec in records {
        let Some(key) = s(&rec.request, "KeyId") else {
            continue;
        };
        let marker = s(&rec.request, "Marker").unwrap_or_default().to_owned();
        let page = outcome(rec, grant_page).and_then(|p| p.ok_or_else(malformed));
        let known = pages.entry(key.to_owned()).or_default();
        match known.get_mut(&marker) {
            None => {
                known.insert(marker, page);
            }
            Some(p) => merge(
                p,
                page,
                problems,
                format!("kms:ListGrants {key}"),
                ProblemScope::Kms,
            ),
        }
    }
    pages
        .into_iter()
        .map(|(key, pages)| {
            let mut grants = Vec::new();
            let mut complete = false;
            for page in pages.into_values() {
                match page {
                    Ok((list, truncated)) => {
                        grants.extend(list);
                        complete |= !truncated;
                    }
                    Err(e) => return (key, Err(e)),
                }
            }
            let listing = if complete {
                Ok(grants)
            } else {
                Err(CallError {
                    code: "IncompleteListing".into(),
                    message: "no recorded ListGrants page is the last one: grants may be missing"
                        .into(),
                })
            };
            (key, listing)
        })
        .collect()
}

/// One `ListGrants` page: its grants and whether more pages follow; `None` when a grant has
/// no `GrantId` or the page no `Grants` list.
fn grant_page(r: &Value) -> Option<(Vec<KmsGrant>, bool)> {
    let grants = r
        .get("Grants")?
        .as_array()?
        .iter()
        .map(|g| {
            Some(KmsGrant {
                grant_id: s(g, "GrantId")?.to_owned(),
                name: s(g, "Name").filter(|n| !n.is_empty()).map(str::to_owned),
                grantee_principal: s(g, "GranteePrincipal").map(str::to_owned),
                grantee_service_principal: s(g, "GranteeServicePrincipal").map(str::to_owned),
                retiring_principal: s(g, "RetiringPrincipal").map(str::to_owned),
                issuing_account: s(g, "IssuingAccount").map(str::to_owned),
                operations: g
                    .get("Operations")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                constraints: g
                    .get("Constraints")
                    .and_then(Value::as_object)
                    .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                created: time(g, "CreationDate"),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let truncated = r.get("Truncated").and_then(Value::as_bool).unwrap_or(false);
    Some((grants, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::interpret;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn facts(entries: &[(&str, &str, Value)]) -> Evidence {
        let mut c = RecordedCalls::new();
        c.entry(("kms".into(), "DescribeKey".into()))
            .or_default()
            .push(
                serde_json::from_value(
                    json!({"Request": {"KeyId": KEY}, "Response": {"KeyMetadata": {
                    "Arn": KEY, "KeyId": "k1", "KeyManager": "CUSTOMER", "KeyState": "Enabled"}}}),
                )
                .unwrap(),
            );
        for (svc, op, rec) in entries {
            c.entry((svc.to_string(), op.to_string()))
                .or_default()
                .push(serde_json::from_value(rec.clone()).unwrap());
        }
        let mut e = Evidence::new(crate::model::Provenance {
            sources: vec![],
            account: None,
            region: None,
            captured_at: chrono::Utc::now(),
        });
        interpret::interpret(&c, &mut e);
        e
    }

    fn grant(id: &str) -> Value {
        json!({"KeyId": KEY, "GrantId": id, "Name": "", "CreationDate": 1.7634e9,
               "GranteePrincipal": "arn:aws:iam::111122223333:role/Analytics",
               "IssuingAccount": "arn:aws:iam::111122223333:root",
               "Operations": ["Decrypt", "DescribeKey"],
               "Constraints": {"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::b/p/1"}}})
    }

    #[test]
    fn grant_pages_join_and_attach_to_their_key() {
        let f = facts(&[
            (
                "kms",
                "ListGrants",
                json!({"Request": {"KeyId": KEY, "Limit": 100},
                "Response": {"Grants": [grant("g1")], "NextMarker": "m", "Truncated": true}}),
            ),
            (
                "kms",
                "ListGrants",
                json!({"Request": {"KeyId": KEY, "Limit": 100, "Marker": "m"},
                "Response": {"Grants": [grant("g2")], "Truncated": false}}),
            ),
        ]);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let grants = f.keys[0].grants.clone().unwrap().unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0].grant_id, "g1");
        assert_eq!(grants[0].name, None);
        assert_eq!(grants[0].operations, ["Decrypt", "DescribeKey"]);
        assert!(grants[0].created.is_some());
        assert!(
            grants[0]
                .constraints
                .contains_key("EncryptionContextSubset")
        );
    }

    #[test]
    fn a_truncated_failed_or_conflicting_listing_is_not_known() {
        let page = |id: &str, truncated: bool| json!({"Request": {"KeyId": KEY}, "Response": {"Grants": [grant(id)], "Truncated": truncated}});
        let code = |f: &Evidence| f.keys[0].grants.clone().unwrap().unwrap_err().code;
        assert_eq!(
            code(&facts(&[("kms", "ListGrants", page("g1", true))])),
            "IncompleteListing"
        );
        let denied = json!({"Request": {"KeyId": KEY}, "Error": {"Code": "AccessDeniedException", "Message": "no"}});
        assert_eq!(
            code(&facts(&[("kms", "ListGrants", denied)])),
            "AccessDeniedException"
        );
        let f = facts(&[
            ("kms", "ListGrants", page("g1", false)),
            ("kms", "ListGrants", page("g2", false)),
        ]);
        assert_eq!(code(&f), "ConflictingAnswers");
        assert_eq!(f.problems[0].subject, format!("kms:ListGrants {KEY}"));
        let f = facts(&[(
            "kms",
            "ListGrants",
            json!({"Request": {"KeyId": KEY}, "Response": {"Grants": [{"Operations": []}]}}),
        )]);
        assert_eq!(code(&f), "MalformedResponse");
        let other = json!({"Request": {"KeyId": "arn:aws:kms:us-east-1:111122223333:key/k9"}, "Response": {"Grants": []}});
        let f = facts(&[("kms", "ListGrants", other)]);
        assert!(f.problems[0].reason.contains("no DescribeKey answer"));
    }

    #[test]
    fn access_analyzer_answers_attach_to_the_policy_they_checked() {
        let policy = r#"{"Statement":[]}"#;
        let key_policy = json!({"Request": {"KeyId": KEY, "PolicyName": "default"},
            "Response": {"Policy": policy}});
        let public = |result: &str| {
            json!({"Request": {"policyDocument": policy, "resourceType": "AWS::KMS::Key"},
            "Response": {"result": result, "message": "m", "reasons": [{"description": "d", "statementIndex": 0}]}})
        };
        let asked = |action: &str| {
            json!({"Request": {"policyDocument": policy,
            "access": [{"actions": [action], "resources": [KEY]}], "policyType": "RESOURCE_POLICY"},
            "Error": {"Code": "AccessDeniedException", "Message": "no"}})
        };
        let f = facts(&[
            ("kms", "GetKeyPolicy", key_policy.clone()),
            (ANALYZER, NO_PUBLIC_ACCESS, public("FAIL")),
            (ANALYZER, ACCESS_NOT_GRANTED, asked("kms:Decrypt")),
            // Another question about the same document is not this one's answer.
            (ANALYZER, ACCESS_NOT_GRANTED, asked("kms:Encrypt")),
        ]);
        let checks = f.keys[0].access_analyzer.clone().unwrap();
        let answer = checks.no_public_access.unwrap().unwrap();
        assert_eq!(answer.result, "FAIL");
        assert_eq!(answer.reasons[0].statement_index, Some(0));
        assert_eq!(
            checks.access_not_granted.unwrap().unwrap_err().code,
            "AccessDeniedException"
        );
        // Two different answers are a conflict, not the first one's word.
        let f = facts(&[
            ("kms", "GetKeyPolicy", key_policy),
            (ANALYZER, NO_PUBLIC_ACCESS, public("FAIL")),
            (ANALYZER, NO_PUBLIC_ACCESS, public("PASS")),
        ]);
        let checks = f.keys[0].access_analyzer.clone().unwrap();
        assert_eq!(
            checks.no_public_access.unwrap().unwrap_err().code,
            "ConflictingAnswers"
        );
        assert!(checks.access_not_granted.is_none());
    }

    #[test]
    fn bucket_policies_and_their_status() {
        let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let f = facts(&[
            (
                "s3",
                "GetBucketPolicy",
                json!({"Request": {"Bucket": "a"}, "Response": {"Policy": policy}}),
            ),
            (
                "s3",
                "GetBucketPolicy",
                json!({"Request": {"Bucket": "b"},
                "Error": {"Code": "NoSuchBucketPolicy", "Message": "The bucket policy does not exist"}}),
            ),
            (
                "s3",
                "GetBucketPolicy",
                json!({"Request": {"Bucket": "c"}, "Error": {"Code": "AccessDenied", "Message": "no"}}),
            ),
            (
                "s3",
                "GetBucketPolicy",
                json!({"Request": {"Bucket": "d"}, "Response": {"Policy": policy}}),
            ),
            (
                "s3",
                "GetBucketPolicy",
                json!({"Request": {"Bucket": "d"}, "Response": {"Policy": "{}"}}),
            ),
            (
                "s3",
                "GetBucketPolicyStatus",
                json!({"Request": {"Bucket": "a"}, "Response": {"PolicyStatus": {"IsPublic": true}}}),
            ),
            (
                "s3",
                "GetBucketPolicyStatus",
                json!({"Request": {"Bucket": "b"},
                "Error": {"Code": "NoSuchBucketPolicy", "Message": "none"}}),
            ),
            (
                "s3",
                "GetBucketPolicyStatus",
                json!({"Request": {"Bucket": "c"}, "Response": {}}),
            ),
        ]);
        let b = |name: &str| f.buckets[name].clone();
        assert_eq!(b("a").policy, Some(Ok(Some(policy.to_owned()))));
        assert_eq!(b("a").policy_public, Some(Ok(true)));
        assert_eq!(b("b").policy, Some(Ok(None)));
        assert_eq!(b("b").policy_public, Some(Ok(false)));
        assert_eq!(b("c").policy.unwrap().unwrap_err().code, "AccessDenied");
        assert_eq!(
            b("c").policy_public.unwrap().unwrap_err().code,
            "MalformedResponse"
        );
        assert_eq!(
            b("d").policy.unwrap().unwrap_err().code,
            "ConflictingAnswers"
        );
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert_eq!(f.problems[0].subject, "s3:GetBucketPolicy s3://d");
        // A failure then an answer (or the reverse) is a retry that got through.
        for order in [[0, 1], [1, 0]] {
            let recs = [
                json!({"Request": {"Bucket": "e"}, "Error": {"Code": "SlowDown", "Message": "slow"}}),
                json!({"Request": {"Bucket": "e"}, "Response": {"Policy": policy}}),
            ];
            let f = facts(&order.map(|i| ("s3", "GetBucketPolicy", recs[i].clone())));
            assert_eq!(f.buckets["e"].policy, Some(Ok(Some(policy.to_owned()))));
        }
    }
}
