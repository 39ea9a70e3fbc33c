//! Readers, possible: who the job's key policy, the key's grants and the output bucket's
//! policy let read its results, and what in them deserves a flag. A static reading, labelled
//! so everywhere ([`METHOD`]).
//!
//! The two questions are the ones AWS's design for Textract output turns on:
//! - who may `kms:Decrypt` with the job's key (the key policy, then the grants);
//! - who may `s3:GetObject` every object of the job's folder, `{prefix}/{JobId}/*` (the
//!   bucket policy).
//!
//! What a static reading of resource policies cannot see is said, never guessed:
//! - a key policy statement for the key's own account (the default key policy's "Enable IAM
//!   User Permissions") hands the decision to that account's IAM policies, which are not read
//!   here: the answer names the account, with a note;
//! - principals of the bucket's own account may read through their IAM policies whatever the
//!   bucket policy says, unless it denies them;
//! - a `Condition` is counted as restricting and is not evaluated;
//! - a policy, or a statement, that could not be read makes the answer incomplete, never
//!   "no one".
//!
//! Flags: everyone (`*`) without a restricting condition, principals of another account,
//! `kms:*` (or `*`) to any principal but the administrative one, grants that outlive the job,
//! S3's own verdict that the bucket policy is public, and unreadable policies. The
//! administrative principal of a key is its own account (`arn:P:iam::OWNER:root`), the one
//! principal the default key policy gives `kms:*`, so that IAM policies in the account decide;
//! `kms:*` to anyone else (a role, a user, another account, a service, everyone) is flagged.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::analyzer::{AnalyzerReading, compare};
use super::arn::split_arn;
use super::policy::{Access, Grantee, PolicyDocument, PolicyError, PolicyPrincipal, Target};
use crate::model::{BucketSettings, KmsGrant, KmsKey, TimeWindow, rfc3339};

/// How every answer here was reached.
pub const METHOD: &str = "static reading of the key policy, the key's grants and the bucket \
    policy: conditions are counted as restricting and are not evaluated, IAM identity policies \
    are not read";

/// The action asked about on the key.
pub const DECRYPT: &str = "kms:Decrypt";
/// The action asked about on the job's folder.
pub const GET_OBJECT: &str = "s3:GetObject";
/// KMS grant operations that decrypt the results.
const GRANT_DECRYPT: &str = "Decrypt";

/// What the reading needs to know about the job.
#[derive(Debug, Clone, Copy)]
pub struct JobScope<'a> {
    /// The partition of the job's account (see [`crate::model::partition_of_region`]).
    pub partition: &'a str,
    /// The account that owns the output bucket (the job's account); `None`: unknown, and
    /// principals of other accounts cannot be told apart in the bucket policy.
    pub account: Option<&'a str>,
    /// The output folder: bucket and `{prefix}/{JobId}/`. `None`: no output bucket.
    pub output: Option<(&'a str, &'a str)>,
    /// From the job's start to its last result written; `None` when unknown.
    pub job: Option<TimeWindow>,
    pub captured_at: DateTime<Utc>,
}

/// One policy's answer to one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Answer {
    /// The policy was read. When `unreadable` is not empty, statements that could not be read
    /// may grant more than `access` says.
    Read {
        document: String,
        #[serde(flatten)]
        access: Access,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        unreadable: Vec<PolicyError>,
    },
    /// There is no such policy (a bucket without a bucket policy).
    NoPolicy { document: String },
    /// The policy is not known: not collected, the call failed, or it is not a policy.
    Unknown { document: String, reason: String },
}

/// A grant as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantReading {
    pub grant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The grantee principal, or the service principal for a service grant.
    pub grantee: String,
    pub operations: Vec<String>,
    /// Its constraints as written: restricted, not evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Whether it lets the grantee decrypt (the results can be read with it).
    pub decrypts: bool,
}

/// The key's grants.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Grants {
    Read { grants: Vec<GrantReading> },
    Unknown { reason: String },
}

/// Something in the policies an auditor should look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flag", rename_all = "kebab-case")]
pub enum Flag {
    /// Everyone (`*`, `{"AWS": "*"}` or an `Allow` with `NotPrincipal`) without a condition.
    Everyone {
        document: String,
        grantee: Grantee,
        /// What limits the grant anyway (the bucket's public-access block).
        #[serde(skip_serializing_if = "Option::is_none")]
        mitigated_by: Option<String>,
    },
    /// Everyone, under a condition that is not evaluated here.
    EveryoneUnderCondition { document: String, grantee: Grantee },
    /// A principal of an account other than the key's or the bucket's.
    OtherAccount {
        document: String,
        grantee: String,
        account: String,
    },
    /// `kms:*` (or `*`) to a principal other than the key's own account.
    FullKeyAccess { document: String, grantee: Grantee },
    /// A decrypting grant still live after the job, made at or after its start (or at an
    /// unknown time).
    GrantOutlivesJob {
        grant: GrantReading,
        #[serde(skip_serializing_if = "Option::is_none")]
        job_ended: Option<DateTime<Utc>>,
    },
    /// `GetBucketPolicyStatus` says the bucket policy is public: S3's own evaluation.
    S3SaysPublic { bucket: String },
    /// A policy, a statement of it, or the key's grants are not known: whom they let read
    /// cannot be said.
    Unknown { document: String, reason: String },
    /// IAM Access Analyzer's `CheckNoPublicAccess` says FAIL: the policy may grant public
    /// access (flagged as the static `*` finding is).
    AnalyzerSaysPublic { document: String, detail: String },
    /// Access Analyzer and the static reading disagree: both are reported, neither picked.
    AnalyzerConflict {
        document: String,
        check: &'static str,
        detail: String,
    },
}

impl Flag {
    /// The flag's name, as the JSON tags it (`everyone`, `grant-outlives-job`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Flag::Everyone { .. } => "everyone",
            Flag::EveryoneUnderCondition { .. } => "everyone-under-condition",
            Flag::OtherAccount { .. } => "other-account",
            Flag::FullKeyAccess { .. } => "full-key-access",
            Flag::GrantOutlivesJob { .. } => "grant-outlives-job",
            Flag::S3SaysPublic { .. } => "s3-says-public",
            Flag::Unknown { .. } => "unknown",
            Flag::AnalyzerSaysPublic { .. } => "analyzer-says-public",
            Flag::AnalyzerConflict { .. } => "analyzer-conflict",
        }
    }

    /// The flag in words.
    pub fn message(&self) -> String {
        match self {
            Flag::Everyone {
                document,
                grantee,
                mitigated_by,
            } => {
                let mut m = format!(
                    "{document}, {}: {} with no condition{}",
                    grantee.statement,
                    grantee.principal,
                    except(grantee)
                );
                if let Some(by) = mitigated_by {
                    m.push_str(&format!(" ({by})"));
                }
                m
            }
            Flag::EveryoneUnderCondition { document, grantee } => format!(
                "{document}, {}: {}{} under a condition not evaluated here ({})",
                grantee.statement,
                grantee.principal,
                except(grantee),
                conditions(grantee)
            ),
            Flag::OtherAccount {
                document,
                grantee,
                account,
            } => format!("{document}: {grantee} is in another account ({account})"),
            Flag::FullKeyAccess { document, grantee } => format!(
                "{document}, {}: every KMS action (kms:*) to {}, which is not the key's own \
                 account",
                grantee.statement, grantee.principal
            ),
            Flag::GrantOutlivesJob { grant, job_ended } => {
                let created = grant.created.map_or("at an unknown time".to_owned(), |t| {
                    format!("at {}", rfc3339(t))
                });
                let ended = job_ended.map_or("the job's end is unknown".to_owned(), |t| {
                    format!("the job ended at {}", rfc3339(t))
                });
                format!(
                    "grant {} lets {} decrypt with the key ({}); made {created}, still live at \
                     capture; {ended}",
                    grant.grant_id,
                    grant.grantee,
                    grant.operations.join(", ")
                )
            }
            Flag::S3SaysPublic { bucket } => {
                format!(
                    "S3 reports the bucket policy of s3://{bucket} as public (GetBucketPolicyStatus)"
                )
            }
            Flag::Unknown { document, reason } => {
                format!("{document}: {reason}: whom it lets read cannot be said")
            }
            Flag::AnalyzerSaysPublic { document, detail } => {
                format!(
                    "{document}: IAM Access Analyzer says it may grant public access ({detail})"
                )
            }
            Flag::AnalyzerConflict {
                document,
                check,
                detail,
            } => format!(
                "{document}: IAM Access Analyzer ({check}) and the static reading disagree: \
                 {detail}; both are reported, neither is taken"
            ),
        }
    }
}

fn except(g: &Grantee) -> String {
    if g.except.is_empty() {
        return String::new();
    }
    let names: Vec<String> = g.except.iter().map(ToString::to_string).collect();
    format!(" except {}", names.join(", "))
}

fn conditions(g: &Grantee) -> String {
    let c: Vec<String> = g.conditions.iter().map(ToString::to_string).collect();
    c.join("; ")
}

/// The whole reading for one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PossibleReaders {
    pub method: &'static str,
    /// Who may `kms:Decrypt` with the key; `None` when the job involves no customer key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypt: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// Who may `s3:GetObject` the folder; `None` when the job has no output bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_object: Option<Answer>,
    pub flags: Vec<Flag>,
    /// What the reading cannot see, in words.
    pub notes: Vec<String>,
    /// IAM Access Analyzer's answers about the same policies (empty when it was not asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analyzer: Vec<AnalyzerReading>,
}

/// Reads the policies of `key` (the job's key, `None` when it has no customer key) and of
/// the output `bucket` (its settings, `None` when not collected) for `scope`.
pub fn possible_readers(
    key: Option<&KmsKey>,
    bucket: Option<&BucketSettings>,
    scope: &JobScope<'_>,
) -> PossibleReaders {
    let mut out = PossibleReaders {
        method: METHOD,
        decrypt: None,
        grants: None,
        get_object: None,
        flags: Vec::new(),
        notes: Vec::new(),
        analyzer: Vec::new(),
    };
    if let Some(key) = key {
        read_key(key, scope, &mut out);
    }
    if let Some((name, folder)) = scope.output {
        read_bucket(name, folder, bucket, scope, &mut out);
    }
    out
}

fn read_key(key: &KmsKey, scope: &JobScope<'_>, out: &mut PossibleReaders) {
    let document = format!("key policy of {}", key.arn);
    let owner = split_arn(&key.arn).map(|[_, _, _, account, _]| account.to_owned());
    let target = Target::Resource(&key.arn);
    let answer = match key.policy.as_deref() {
        None => Answer::Unknown {
            reason: if key.key_manager == "AWS" {
                "an AWS managed key: its policy was not collected".into()
            } else {
                "not collected (GetKeyPolicy was not recorded, or failed)".into()
            },
            document: document.clone(),
        },
        Some(text) => match PolicyDocument::parse(text) {
            Err(e) => Answer::Unknown {
                document: document.clone(),
                reason: e.to_string(),
            },
            Ok(doc) => {
                for grantee in doc.full_access("kms", target) {
                    let administrative = matches!(&grantee.principal,
                        PolicyPrincipal::Account { account, .. } if Some(account) == owner.as_ref());
                    if !administrative {
                        out.flags.push(Flag::FullKeyAccess {
                            document: document.clone(),
                            grantee,
                        });
                    }
                }
                Answer::Read {
                    document: document.clone(),
                    access: doc.who_can(DECRYPT, target),
                    unreadable: doc.unreadable,
                }
            }
        },
    };
    flag_answer(&answer, owner.as_deref(), None, out);
    if let Answer::Read { access, .. } = &answer {
        for g in &access.grantees {
            if let PolicyPrincipal::Account { account, .. } = &g.principal {
                out.notes.push(format!(
                    "{document}, {}: account {account} may decrypt; which of its principals can \
                     is decided by its IAM policies, which this static reading does not read",
                    g.statement
                ));
            }
        }
    }
    if let Some(checks) = &key.access_analyzer {
        let readings = compare(
            &document,
            checks,
            &answer,
            DECRYPT,
            &key.arn,
            true,
            &mut out.flags,
        );
        out.analyzer.extend(readings);
    }
    out.decrypt = Some(answer);
    out.grants = Some(read_grants(key, owner.as_deref(), scope, out));
}

fn read_grants(
    key: &KmsKey,
    owner: Option<&str>,
    scope: &JobScope<'_>,
    out: &mut PossibleReaders,
) -> Grants {
    let reason = match &key.grants {
        Some(Ok(list)) => return read_grant_list(key, list, owner, scope, out),
        None => "ListGrants was not collected".to_owned(),
        Some(Err(e)) => format!("ListGrants failed: {e}"),
    };
    out.flags.push(Flag::Unknown {
        document: format!("grants on {}", key.arn),
        reason: reason.clone(),
    });
    Grants::Unknown { reason }
}

fn read_grant_list(
    key: &KmsKey,
    list: &[KmsGrant],
    owner: Option<&str>,
    scope: &JobScope<'_>,
    out: &mut PossibleReaders,
) -> Grants {
    let grants: Vec<GrantReading> = list.iter().map(grant_reading).collect();
    let job_ended = scope.job.map(|w| w.until);
    for g in grants.iter().filter(|g| g.decrypts) {
        let outlives = match (scope.job, g.created) {
            (Some(w), Some(created)) => created >= w.from && scope.captured_at > w.until,
            (Some(w), None) => scope.captured_at > w.until,
            (None, _) => true,
        };
        if outlives {
            out.flags.push(Flag::GrantOutlivesJob {
                grant: g.clone(),
                job_ended,
            });
        }
        if let (Some(owner), Some(account)) = (owner, grantee_account(&g.grantee))
            && account != owner
        {
            out.flags.push(Flag::OtherAccount {
                document: format!("grant {} on {}", g.grant_id, key.arn),
                grantee: g.grantee.clone(),
                account: account.to_owned(),
            });
        }
    }
    Grants::Read { grants }
}

fn grantee_account(grantee: &str) -> Option<&str> {
    split_arn(grantee).map(|[_, _, _, account, _]| account)
}

fn grant_reading(g: &KmsGrant) -> GrantReading {
    GrantReading {
        grant_id: g.grant_id.clone(),
        name: g.name.clone(),
        grantee: g
            .grantee_principal
            .clone()
            .or_else(|| g.grantee_service_principal.clone())
            .unwrap_or_else(|| "(no grantee recorded)".into()),
        operations: g.operations.clone(),
        constraints: g
            .constraints
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect(),
        created: g.created,
        decrypts: g.operations.iter().any(|o| o == GRANT_DECRYPT),
    }
}

fn read_bucket(
    name: &str,
    folder: &str,
    bucket: Option<&BucketSettings>,
    scope: &JobScope<'_>,
    out: &mut PossibleReaders,
) {
    let document = format!("bucket policy of s3://{name}");
    let folder_arn = format!("arn:{}:s3:::{name}/{folder}", scope.partition);
    let unknown = |reason: String| Answer::Unknown {
        document: document.clone(),
        reason,
    };
    let answer = match bucket.and_then(|b| b.policy.as_ref()) {
        None => unknown("not collected (GetBucketPolicy was not recorded)".into()),
        Some(Err(e)) => unknown(format!("GetBucketPolicy failed: {e}")),
        Some(Ok(None)) => Answer::NoPolicy {
            document: document.clone(),
        },
        Some(Ok(Some(text))) => match PolicyDocument::parse(text) {
            Err(e) => unknown(e.to_string()),
            Ok(doc) => Answer::Read {
                document: document.clone(),
                access: doc.who_can(GET_OBJECT, Target::ObjectsUnder(&folder_arn)),
                unreadable: doc.unreadable,
            },
        },
    };
    let blocked = bucket.and_then(|b| b.public_access_blocked.as_ref());
    let mitigation = matches!(blocked, Some(Ok(true))).then(|| {
        "the bucket's public-access block (RestrictPublicBuckets) limits a public policy to \
         AWS services and principals of the bucket's account"
            .to_owned()
    });
    flag_answer(&answer, scope.account, mitigation, out);
    if let Some(Ok(true)) = bucket.and_then(|b| b.policy_public.as_ref()) {
        out.flags.push(Flag::S3SaysPublic {
            bucket: name.to_owned(),
        });
    }
    match scope.account {
        Some(account) => out.notes.push(format!(
            "principals of account {account} may also read s3://{name}/{folder} through their \
             IAM policies unless the bucket policy denies them: identity policies are not read"
        )),
        None => out.notes.push(format!(
            "the account of s3://{name} is not known: principals of other accounts cannot be \
             told apart in its bucket policy"
        )),
    }
    match blocked {
        Some(Ok(_)) => {}
        Some(Err(e)) => out.notes.push(format!(
            "the public-access block of s3://{name} is not known ({e})"
        )),
        None => out.notes.push(format!(
            "the public-access block of s3://{name} was not collected"
        )),
    }
    if let Some(checks) = bucket.and_then(|b| b.access_analyzer.as_ref()) {
        let objects = format!("arn:{}:s3:::{name}/*", scope.partition);
        let readings = compare(
            &document,
            checks,
            &answer,
            GET_OBJECT,
            &objects,
            false,
            &mut out.flags,
        );
        out.analyzer.extend(readings);
    }
    out.get_object = Some(answer);
}

/// Flags for what one answer grants: everyone, other accounts, an unreadable policy.
fn flag_answer(
    answer: &Answer,
    owner: Option<&str>,
    mitigation: Option<String>,
    out: &mut PossibleReaders,
) {
    let (document, access, unreadable) = match answer {
        Answer::Read {
            document,
            access,
            unreadable,
        } => (document, access, unreadable),
        Answer::Unknown { document, reason } => {
            out.flags.push(Flag::Unknown {
                document: document.clone(),
                reason: reason.clone(),
            });
            return;
        }
        Answer::NoPolicy { .. } => return,
    };
    for e in unreadable {
        out.flags.push(Flag::Unknown {
            document: document.clone(),
            reason: e.to_string(),
        });
    }
    for g in &access.grantees {
        if g.principal == PolicyPrincipal::Everyone {
            out.flags.push(if g.conditions.is_empty() {
                Flag::Everyone {
                    document: document.clone(),
                    grantee: g.clone(),
                    mitigated_by: mitigation.clone(),
                }
            } else {
                Flag::EveryoneUnderCondition {
                    document: document.clone(),
                    grantee: g.clone(),
                }
            });
        }
        if let (Some(owner), Some(account)) = (owner, g.principal.account())
            && account != owner
        {
            out.flags.push(Flag::OtherAccount {
                document: document.clone(),
                grantee: g.principal.to_string(),
                account: account.to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallError;
    use chrono::TimeZone;
    use serde_json::json;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, h, m, 0).unwrap()
    }

    fn key(policy: Option<serde_json::Value>, grants: Option<Vec<KmsGrant>>) -> KmsKey {
        KmsKey {
            arn: KEY.into(),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            key_manager: "CUSTOMER".into(),
            key_state: "Enabled".into(),
            key_usage: None,
            key_spec: None,
            multi_region: false,
            rotation_enabled: Some(true),
            policy: policy.map(|p| p.to_string()),
            looked_up_as: vec![],
            grants: grants.map(Ok),
            access_analyzer: None,
        }
    }

    fn scope() -> JobScope<'static> {
        JobScope {
            partition: "aws",
            account: Some("111122223333"),
            output: Some(("acme-results", "secure/results/JOB/")),
            job: Some(TimeWindow {
                from: at(10, 0),
                until: at(10, 2),
            }),
            captured_at: at(11, 0),
        }
    }

    /// The post's design: the account (IAM decides), the pipeline role, the reader role.
    fn post_key_policy() -> serde_json::Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Start and write", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:role/DocPipeline"},
             "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"], "Resource": "*"},
            {"Sid": "Read only", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::111122223333:role/ResultsReader"},
             "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]})
    }

    fn bucket(policy: Option<serde_json::Value>, blocked: bool) -> BucketSettings {
        BucketSettings {
            public_access_blocked: Some(Ok(blocked)),
            policy: Some(Ok(policy.map(|p| p.to_string()))),
            policy_public: Some(Ok(false)),
            ..BucketSettings::default()
        }
    }

    fn decrypters(r: &PossibleReaders) -> Vec<String> {
        match r.decrypt.as_ref().unwrap() {
            Answer::Read { access, .. } => access
                .grantees
                .iter()
                .map(|g| g.principal.to_string())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_posts_design_names_its_two_principals_and_flags_nothing() {
        let k = key(Some(post_key_policy()), Some(vec![]));
        let b = bucket(
            Some(json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Reader", "Effect": "Allow",
                 "Principal": {"AWS": "arn:aws:iam::111122223333:role/ResultsReader"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/secure/results/*"},
                {"Sid": "TLS only", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": "arn:aws:s3:::acme-results/*",
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})),
            true,
        );
        let r = possible_readers(Some(&k), Some(&b), &scope());
        assert_eq!(
            decrypters(&r),
            [
                "arn:aws:iam::111122223333:root",
                "arn:aws:iam::111122223333:role/DocPipeline",
                "arn:aws:iam::111122223333:role/ResultsReader"
            ]
        );
        assert_eq!(r.flags, [], "{:#?}", r.flags);
        assert!(
            r.notes[0].contains("decided by its IAM policies"),
            "{:?}",
            r.notes
        );
        let Some(Answer::Read { access, .. }) = &r.get_object else {
            panic!("{:?}", r.get_object)
        };
        assert_eq!(access.grantees.len(), 1);
        // The TLS deny is conditional: restricted, not evaluated.
        assert_eq!(access.grantees[0].limited_by[0].index, 2);
        assert_eq!(r.method, METHOD);
    }

    #[test]
    fn an_open_key_policy_is_flagged_and_so_are_other_accounts_and_full_access() {
        let mut p = post_key_policy();
        p["Statement"].as_array_mut().unwrap().extend([
            json!({"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
            json!({"Sid": "Partner", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::444455556666:role/PartnerReader"},
                   "Action": "kms:Decrypt", "Resource": "*"}),
            json!({"Sid": "Ops", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::111122223333:role/KeyOps"}, "Action": "kms:*", "Resource": "*"}),
            json!({"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                   "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}),
        ]);
        let r = possible_readers(Some(&key(Some(p), None)), None, &scope());
        let kinds: Vec<String> = r.flags.iter().map(Flag::message).collect();
        assert_eq!(kinds.len(), 6, "{kinds:#?}");
        assert!(kinds[0].starts_with("key policy of arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab, statement 6 (\"Ops\"): every KMS action"));
        assert!(kinds[1].contains("statement 4 (\"Open\"): everyone (*) with no condition"));
        assert!(kinds[2].contains(
            "arn:aws:iam::444455556666:role/PartnerReader is in another account (444455556666)"
        ));
        assert!(kinds[3].contains(
            "under a condition not evaluated here (StringEquals aws:PrincipalOrgID [o-abc])"
        ));
        assert!(
            kinds[4].contains("grants on arn:aws:kms")
                && kinds[4].contains("ListGrants was not collected")
        );
        assert!(kinds[5].starts_with("bucket policy of s3://acme-results: not collected"));
    }

    #[test]
    fn grants_that_outlive_the_job_are_flagged() {
        let grant =
            |id: &str, grantee: &str, ops: &[&str], created: Option<DateTime<Utc>>| KmsGrant {
                grant_id: id.into(),
                name: None,
                grantee_principal: Some(grantee.into()),
                grantee_service_principal: None,
                retiring_principal: None,
                issuing_account: Some("arn:aws:iam::111122223333:root".into()),
                operations: ops.iter().map(|s| s.to_string()).collect(),
                constraints: [(
                    "EncryptionContextSubset".to_owned(),
                    json!({"aws:s3:arn": "arn:aws:s3:::acme-results/secure/results/JOB/1"}),
                )]
                .into(),
                created,
            };
        let grants = vec![
            grant(
                "standing",
                "arn:aws:iam::111122223333:role/Etl",
                &["Decrypt"],
                Some(at(9, 0)),
            ),
            grant(
                "for-the-job",
                "arn:aws:iam::111122223333:role/Analytics",
                &["Decrypt", "DescribeKey"],
                Some(at(10, 1)),
            ),
            grant(
                "encrypt-only",
                "arn:aws:iam::111122223333:role/Writer",
                &["GenerateDataKey"],
                Some(at(10, 1)),
            ),
            grant(
                "when",
                "arn:aws:iam::444455556666:role/Partner",
                &["Decrypt"],
                None,
            ),
        ];
        let k = key(Some(post_key_policy()), Some(grants));
        let r = possible_readers(
            Some(&k),
            None,
            &JobScope {
                output: None,
                ..scope()
            },
        );
        let messages: Vec<String> = r.flags.iter().map(Flag::message).collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].starts_with(
            "grant for-the-job lets arn:aws:iam::111122223333:role/Analytics decrypt"
        ));
        assert!(messages[0].contains("made at 2026-11-20T10:01:00Z, still live at capture; the job ended at 2026-11-20T10:02:00Z"));
        assert!(messages[1].contains("grant when") && messages[1].contains("at an unknown time"));
        assert!(messages[2].contains("444455556666"));
        let Some(Grants::Read { grants }) = &r.grants else {
            panic!()
        };
        assert!(grants[0].constraints[0].starts_with("EncryptionContextSubset {"));
        assert!(!grants[2].decrypts);
    }

    #[test]
    fn what_is_not_known_is_said_never_read_as_no_one() {
        let mut k = key(None, None);
        let r = possible_readers(Some(&k), None, &scope());
        assert!(matches!(r.decrypt, Some(Answer::Unknown { .. })));
        assert!(matches!(r.grants, Some(Grants::Unknown { .. })));
        assert!(matches!(r.get_object, Some(Answer::Unknown { .. })));
        assert!(r.flags.iter().all(|f| matches!(f, Flag::Unknown { .. })));
        assert_eq!(r.flags.len(), 3);
        k.policy = Some(r#"{"Statement": [{"Effect": "Allow", "Principal": "*"}]}"#.into());
        k.grants = Some(Err(CallError {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        }));
        let r = possible_readers(Some(&k), None, &scope());
        let Some(Answer::Read {
            access, unreadable, ..
        }) = &r.decrypt
        else {
            panic!()
        };
        assert!(access.grantees.is_empty());
        assert_eq!(
            unreadable.len(),
            1,
            "the statement is reported, not dropped"
        );
        assert!(
            r.flags[0]
                .message()
                .contains("Statement[0]: no Action or NotAction: whom it lets read cannot be said"),
            "{}",
            r.flags[0].message()
        );
        assert!(
            matches!(&r.grants, Some(Grants::Unknown { reason }) if reason.contains("AccessDeniedException"))
        );
        k.key_manager = "AWS".into();
        k.policy = None;
        let r = possible_readers(
            Some(&k),
            None,
            &JobScope {
                output: None,
                ..scope()
            },
        );
        assert!(r.get_object.is_none());
        assert!(
            matches!(&r.decrypt, Some(Answer::Unknown { reason, .. }) if reason.contains("AWS managed"))
        );
    }

    #[test]
    fn a_public_bucket_policy_is_flagged_and_the_access_block_said() {
        let open = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/*"}]});
        let mut b = bucket(Some(open), true);
        b.policy_public = Some(Ok(true));
        let r = possible_readers(None, Some(&b), &scope());
        assert!(r.decrypt.is_none());
        let m: Vec<String> = r.flags.iter().map(Flag::message).collect();
        assert_eq!(m.len(), 2, "{m:#?}");
        assert!(m[0].contains("everyone (*) with no condition (the bucket's public-access block"));
        assert!(m[1].contains("S3 reports the bucket policy of s3://acme-results as public"));
        let none = bucket(None, false);
        let r = possible_readers(None, Some(&none), &scope());
        assert!(matches!(r.get_object, Some(Answer::NoPolicy { .. })));
        assert_eq!(r.flags, []);
        let r = possible_readers(
            None,
            Some(&none),
            &JobScope {
                account: None,
                ..scope()
            },
        );
        assert!(r.notes[0].contains("cannot be told apart"));
    }

    #[test]
    fn flag_kinds_are_the_json_tags() {
        let grantee = Grantee {
            principal: PolicyPrincipal::Everyone,
            statement: crate::access::policy::StatementRef {
                index: 1,
                sid: None,
            },
            scope: crate::access::glob::Cover::All,
            conditions: vec![],
            except: vec![],
            limited_by: vec![],
        };
        let grant = GrantReading {
            grant_id: "g".into(),
            name: None,
            grantee: "x".into(),
            operations: vec![],
            constraints: vec![],
            created: None,
            decrypts: true,
        };
        let doc = || "d".to_owned();
        for f in [
            Flag::Everyone {
                document: doc(),
                grantee: grantee.clone(),
                mitigated_by: None,
            },
            Flag::EveryoneUnderCondition {
                document: doc(),
                grantee: grantee.clone(),
            },
            Flag::OtherAccount {
                document: doc(),
                grantee: doc(),
                account: doc(),
            },
            Flag::FullKeyAccess {
                document: doc(),
                grantee,
            },
            Flag::GrantOutlivesJob {
                grant,
                job_ended: None,
            },
            Flag::S3SaysPublic { bucket: doc() },
            Flag::Unknown {
                document: doc(),
                reason: doc(),
            },
        ] {
            assert_eq!(serde_json::to_value(&f).unwrap()["flag"], f.kind());
        }
    }

    #[test]
    fn the_folder_arn_carries_the_partition() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws-cn:iam::111122223333:role/R"},
             "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::acme-results/*"}]});
        let b = bucket(Some(policy), true);
        let found = |partition| {
            let r = possible_readers(
                None,
                Some(&b),
                &JobScope {
                    partition,
                    ..scope()
                },
            );
            matches!(r.get_object, Some(Answer::Read { access, .. }) if access.grantees.len() == 1)
        };
        assert!(found("aws-cn"));
        assert!(!found("aws"));
    }
}
