//! The allow-list of readers (`--allowed-readers FILE`, `docs/allowed-readers.md`): parsed
//! raw, validated into [`AllowList`] with errors that name the file, the entry and the field,
//! then matched against the principals that read a job's results.
//!
//! An entry names where (a bucket and optionally a key prefix, or a Textract job tag, or
//! both), who (principal ARNs, with `*` allowed only in the role and session names), what
//! (optionally, the read operations), why (a required reason) and until when (an optional
//! expiry, judged against the run's time). Principals are compared by their parsed parts
//! ([`PrincipalArn`]), never by substring, and exactly (case included): a principal the
//! file does not name is not allowed.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::arn::{PrincipalArn, PrincipalKind, is_account_id, is_partition, split_arn};
use super::glob::{Cover, Glob, Syntax};
use super::observed::ReadOperation;
use crate::entry_file::{EntryFile, EntryFileError};
use crate::model::expiry;

/// A principal an entry allows: an IAM user, a role (its sessions included), an
/// assumed-role session or a federated user, `*` allowed in role and session names only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PrincipalPattern {
    text: String,
    #[serde(skip)]
    parts: PatternParts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternParts {
    /// Users and federated users: exactly this principal.
    Exact(PrincipalArn),
    /// A role by path and name (the name may hold `*`); its sessions too.
    Role {
        partition: String,
        account: String,
        path: String,
        name: Glob,
    },
    Session {
        partition: String,
        account: String,
        role: Glob,
        session: Glob,
    },
}

impl PrincipalPattern {
    /// Validates one principal of an entry; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<PrincipalPattern, String> {
        let [partition, service, region, account, resource] =
            split_arn(text).ok_or_else(|| format!("{text:?} is not an ARN"))?;
        for (part, what) in [
            (partition, "partition"),
            (service, "service"),
            (region, "Region"),
            (account, "account"),
        ] {
            if part.contains('*') {
                return Err(format!(
                    "{text:?}: `*` is allowed only in role and session names, not in the {what}"
                ));
            }
        }
        if !is_partition(partition) || !is_account_id(account) {
            // Let the principal parser name what is wrong.
            PrincipalArn::parse(text)?;
        }
        // The structure is checked with each `*` standing for one name character.
        let probe = PrincipalArn::parse(&text.replace('*', "x"))?;
        let star_only = |s: &str| Glob::new(s, Syntax::StarOnly, false);
        let parts = match probe.kind {
            PrincipalKind::Root => {
                return Err(format!(
                    "{text:?}: an account root would allow every principal of the account; name \
                     its roles, users or sessions"
                ));
            }
            PrincipalKind::User { .. } | PrincipalKind::FederatedUser { .. } => {
                if text.contains('*') {
                    return Err(format!(
                        "{text:?}: `*` is allowed only in role and session names"
                    ));
                }
                PatternParts::Exact(probe)
            }
            PrincipalKind::Role { path, .. } => {
                let name = resource.rsplit('/').next().unwrap_or_default();
                if resource[..resource.len() - name.len()].contains('*') {
                    return Err(format!(
                        "{text:?}: `*` is allowed in the role name, not in its path"
                    ));
                }
                PatternParts::Role {
                    partition: partition.to_owned(),
                    account: account.to_owned(),
                    path,
                    name: star_only(name),
                }
            }
            PrincipalKind::AssumedRole { .. } => {
                let rest = resource.strip_prefix("assumed-role/").unwrap_or_default();
                let (role, session) = rest.split_once('/').unwrap_or_default();
                PatternParts::Session {
                    partition: partition.to_owned(),
                    account: account.to_owned(),
                    role: star_only(role),
                    session: star_only(session),
                }
            }
        };
        Ok(PrincipalPattern {
            text: text.to_owned(),
            parts,
        })
    }

    /// Whether the observed principal is one this pattern allows.
    pub fn matches(&self, observed: &PrincipalArn) -> bool {
        let sure = |g: &Glob, s: &str| g.matches(s) == Cover::All;
        match (&self.parts, &observed.kind) {
            (PatternParts::Exact(p), _) => p == observed,
            (
                PatternParts::Role {
                    partition,
                    account,
                    path,
                    name,
                },
                kind,
            ) if *partition == observed.partition && *account == observed.account => match kind {
                PrincipalKind::Role { path: p, name: n } => p == path && sure(name, n),
                // A session ARN carries the role's name, not its path.
                PrincipalKind::AssumedRole { role, .. } => sure(name, role),
                _ => false,
            },
            (
                PatternParts::Session {
                    partition,
                    account,
                    role,
                    session,
                },
                PrincipalKind::AssumedRole {
                    role: r,
                    session: s,
                },
            ) => {
                *partition == observed.partition
                    && *account == observed.account
                    && sure(role, r)
                    && sure(session, s)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for PrincipalPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A validated `[[reader]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReaderEntry {
    /// 1-based position in the file.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// A literal key prefix within `bucket`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The Textract `JobTag` of the jobs whose results the entry covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_tag: Option<String>,
    pub principals: Vec<PrincipalPattern>,
    /// The reads allowed; `None`: every kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<ReadOperation>>,
    pub reason: String,
    /// The first instant the entry no longer allows (a date `D` means the end of `D`, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// Where a read happened, for matching entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadScope<'a> {
    pub bucket: Option<&'a str>,
    /// The object's key, or for a Textract `Get*` the job's output folder.
    pub key: Option<&'a str>,
    pub job_tag: Option<&'a str>,
}

impl ReaderEntry {
    /// Whether the entry covers this place (every field it gives matches; a field the read
    /// does not have never matches).
    pub fn covers(&self, scope: &ReadScope<'_>) -> bool {
        let bucket = match &self.bucket {
            None => true,
            Some(b) => {
                scope.bucket == Some(b.as_str())
                    && self
                        .prefix
                        .as_deref()
                        .is_none_or(|p| scope.key.is_some_and(|k| k.starts_with(p)))
            }
        };
        let tag = self
            .job_tag
            .as_deref()
            .is_none_or(|t| scope.job_tag == Some(t));
        bucket && tag
    }

    /// Whether the entry allows this principal this kind of read (expiry aside).
    pub fn allows(&self, principal: &PrincipalArn, operation: ReadOperation) -> bool {
        self.principals.iter().any(|p| p.matches(principal))
            && self
                .operations
                .as_ref()
                .is_none_or(|ops| ops.contains(&operation))
    }

    /// Whether the entry still applies at `at`.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|e| at < e)
    }
}

/// A validated allow-list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowList {
    /// Where it was read from, as given.
    pub file: String,
    pub entries: Vec<ReaderEntry>,
}

const TABLE: &str = "reader";
const FIELDS: &str = "bucket, prefix, job_tag, principals, operations, reason, expires";

impl AllowList {
    /// Reads and validates an allow-list file.
    pub fn load(path: &Path) -> Result<AllowList, EntryFileError> {
        let text = EntryFile { path, table: TABLE }.read()?;
        Self::parse(path, &text)
    }

    /// Validates allow-list text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<AllowList, EntryFileError> {
        let file = EntryFile { path, table: TABLE };
        let entries = file
            .entries(text)?
            .into_iter()
            .enumerate()
            .map(|(i, table)| entry(&file, i + 1, table))
            .collect::<Result<_, _>>()?;
        Ok(AllowList {
            file: path.display().to_string(),
            entries,
        })
    }
}

/// One `[[reader]]` table, validated.
fn entry(
    file: &EntryFile<'_>,
    index: usize,
    table: toml::Table,
) -> Result<ReaderEntry, EntryFileError> {
    let err = |field: Option<&str>, message: String| file.error(index, field, message);
    let text = |key: &str, v: &toml::Value| match v {
        toml::Value::String(s) if s.trim().is_empty() => {
            Err(err(Some(key), "must not be empty (leave it out)".into()))
        }
        toml::Value::String(s) => Ok(s.clone()),
        other => Err(err(
            Some(key),
            format!("expected a string, found a {}", other.type_str()),
        )),
    };
    let list = |key: &str, v: &toml::Value| -> Result<Vec<String>, EntryFileError> {
        let toml::Value::Array(items) = v else {
            return Err(err(
                Some(key),
                format!("expected an array of strings, found a {}", v.type_str()),
            ));
        };
        if items.is_empty() {
            return Err(err(Some(key), "must name at least one".into()));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, x)| text(&format!("{key}[{i}]"), x))
            .collect()
    };
    let mut e = ReaderEntry {
        index,
        bucket: None,
        prefix: None,
        job_tag: None,
        principals: Vec::new(),
        operations: None,
        reason: String::new(),
        expires: None,
    };
    for (key, value) in &table {
        match key.as_str() {
            "bucket" => {
                let b = text(key, value)?;
                if !is_bucket_name(&b) {
                    return Err(err(
                        Some(key),
                        format!("{b:?} is not an S3 bucket name (no `*`: name the bucket)"),
                    ));
                }
                e.bucket = Some(b);
            }
            "prefix" => {
                let p = text(key, value)?;
                if p.contains('*') || p.starts_with('/') {
                    return Err(err(
                        Some(key),
                        format!(
                            "{p:?}: a key prefix is literal (`*` is no wildcard here) and starts \
                             without `/`"
                        ),
                    ));
                }
                e.prefix = Some(p);
            }
            "job_tag" => e.job_tag = Some(text(key, value)?),
            "principals" => {
                for (i, p) in list(key, value)?.iter().enumerate() {
                    e.principals.push(
                        PrincipalPattern::parse(p)
                            .map_err(|m| err(Some(&format!("principals[{i}]")), m))?,
                    );
                }
            }
            "operations" => {
                let mut ops = Vec::new();
                for (i, name) in list(key, value)?.iter().enumerate() {
                    ops.push(ReadOperation::from_name(name).ok_or_else(|| {
                        let known: Vec<&str> =
                            ReadOperation::ALL.iter().map(|o| o.name()).collect();
                        err(
                            Some(&format!("operations[{i}]")),
                            format!("{name:?} is not one of {}", known.join(", ")),
                        )
                    })?);
                }
                e.operations = Some(ops);
            }
            "reason" => match value {
                toml::Value::String(s) => e.reason = s.trim().to_owned(),
                other => {
                    return Err(err(
                        Some(key),
                        format!("expected a string, found a {}", other.type_str()),
                    ));
                }
            },
            "expires" => e.expires = Some(expiry(value).map_err(|m| err(Some(key), m))?),
            _ => {
                return Err(err(
                    Some(key),
                    format!("unknown field; expected one of {FIELDS}"),
                ));
            }
        }
    }
    if e.reason.is_empty() {
        return Err(err(Some("reason"), "a non-empty reason is required".into()));
    }
    if e.principals.is_empty() {
        return Err(err(
            Some("principals"),
            "required: the principals that may read".into(),
        ));
    }
    if e.prefix.is_some() && e.bucket.is_none() {
        return Err(err(
            Some("prefix"),
            "a prefix needs the bucket it is in".into(),
        ));
    }
    if e.bucket.is_none() && e.job_tag.is_none() {
        return Err(err(
            None,
            "give a bucket (and prefix) or a job_tag: where the principals may read".into(),
        ));
    }
    Ok(e)
}

/// S3's naming rules for general purpose buckets: 3 to 63 lowercase letters, digits, dots
/// and hyphens, beginning and ending with a letter or digit.
fn is_bucket_name(b: &str) -> bool {
    let edge = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && edge(b.bytes().next())
        && edge(b.bytes().last())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse(text: &str) -> Result<AllowList, String> {
        AllowList::parse(Path::new("readers.toml"), text).map_err(|e| e.to_string())
    }

    fn arn(s: &str) -> PrincipalArn {
        PrincipalArn::parse(s).unwrap()
    }

    fn pattern(s: &str) -> PrincipalPattern {
        PrincipalPattern::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_valid_list_parses() {
        let l = parse(
            r#"
            [[reader]]
            bucket = "acme-textract-results"
            prefix = "secure/results/"
            principals = ["arn:aws:iam::111122223333:role/ResultsReader",
                          "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-*"]
            reason = "the post's read-only role (SEC-77)"
            expires = 2027-06-30

            [[reader]]
            job_tag = "claims"
            principals = ["arn:aws:iam::111122223333:user/auditor"]
            operations = ["s3:HeadObject", "textract:Get*"]
            reason = "textract-audit's own HeadObject and Get* calls"
            "#,
        )
        .unwrap();
        assert_eq!(l.entries.len(), 2);
        let e = &l.entries[0];
        assert_eq!(
            e.expires,
            Some(Utc.with_ymd_and_hms(2027, 7, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            e.principals[1].to_string(),
            "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-*"
        );
        assert_eq!(
            l.entries[1].operations.as_deref(),
            Some(&[ReadOperation::HeadObject, ReadOperation::TextractGet][..])
        );
        assert!(parse("").unwrap().entries.is_empty());
    }

    #[test]
    fn errors_name_the_file_entry_and_field() {
        let ok = r#"bucket = "acme-results"
principals = ["arn:aws:iam::111122223333:role/R"]
reason = "x"
"#;
        let cases = [
            (format!("[[reader]]\n{ok}[[reader]]\n{ok}resaon = \"x\"\n"), "readers.toml: [[reader]] entry 2, field `resaon`: unknown field"),
            ("[[reader]]\nbucket = \"acme-results\"\nprincipals = [\"arn:aws:iam::111122223333:role/R\"]\n".into(), "entry 1, field `reason`: a non-empty reason is required"),
            (ok.replace("reason = \"x\"", "reason = \"  \""), "field `reason`: a non-empty reason is required"),
            (ok.replace("acme-results", ""), "field `bucket`: must not be empty"),
            ("[[reader]]\nbucket = \"acme-results\"\nreason = \"x\"\n".into(), "field `principals`: required"),
            (ok.replace("role/R\"]", "role/R\", \"arn:aws:iam::111122223333:role/ops*/R\"]"), "field `principals[1]`: \"arn:aws:iam::111122223333:role/ops*/R\": `*` is allowed in the role name, not in its path"),
            (ok.replace("role/R", "user/bo*"), "field `principals[0]`: \"arn:aws:iam::111122223333:user/bo*\": `*` is allowed only in role and session names"),
            (ok.replace("111122223333:role/R", "*:role/R"), "not in the account"),
            (ok.replace("arn:aws:iam::111122223333:role/R", "arn:aws:iam::111122223333:root"), "an account root would allow every principal"),
            (ok.replace("arn:aws:iam::111122223333:role/R", "arn:aws:iam::1111:role/R"), "12-digit"),
            (ok.replace("arn:aws:iam::111122223333:role/R", "ResultsReader"), "is not an ARN"),
            (ok.replace("principals = [\"arn:aws:iam::111122223333:role/R\"]", "principals = []"), "field `principals`: must name at least one"),
            (ok.replace("acme-results", "acme-*"), "field `bucket`: \"acme-*\" is not an S3 bucket name"),
            (format!("{ok}prefix = \"secure/*\"\n"), "field `prefix`: \"secure/*\": a key prefix is literal"),
            ("principals = [\"arn:aws:iam::111122223333:role/R\"]\nreason = \"x\"\nprefix = \"p/\"\n".into(), "field `prefix`: a prefix needs the bucket"),
            ("principals = [\"arn:aws:iam::111122223333:role/R\"]\nreason = \"x\"\n".into(), "entry 1: give a bucket (and prefix) or a job_tag"),
            (format!("{ok}operations = [\"s3:PutObject\"]\n"), "field `operations[0]`: \"s3:PutObject\" is not one of s3:GetObject"),
            (format!("{ok}expires = \"soon\"\n"), "field `expires`: \"soon\" is not an RFC 3339 date"),
            (format!("{ok}bucket = 3\n"), "not valid TOML"),
        ];
        for (text, want) in cases {
            let text = if text.starts_with("[[reader]]") {
                text
            } else {
                format!("[[reader]]\n{text}")
            };
            let e = parse(&text).unwrap_err();
            assert!(e.contains(want), "{text:?}\n  got: {e}\n  want: {want}");
        }
        let e = parse("[readers]\n").unwrap_err();
        assert!(e.contains("unknown top-level key `readers`"), "{e}");
        let e = parse("reader = 1\n").unwrap_err();
        assert!(e.contains("must be an array of tables"), "{e}");
    }

    #[test]
    fn role_patterns_match_the_role_and_its_sessions() {
        let p = pattern("arn:aws:iam::111122223333:role/results/Reader*");
        for (observed, want) in [
            ("arn:aws:sts::111122223333:assumed-role/Reader/nb", true),
            (
                "arn:aws:sts::111122223333:assumed-role/ReaderBatch/nb",
                true,
            ),
            ("arn:aws:iam::111122223333:role/results/Reader", true),
            ("arn:aws:iam::111122223333:role/other/Reader", false),
            ("arn:aws:sts::111122223333:assumed-role/reader/nb", false),
            ("arn:aws:sts::111122223333:assumed-role/MyReader/nb", false),
            ("arn:aws:sts::444455556666:assumed-role/Reader/nb", false),
            ("arn:aws-cn:sts::111122223333:assumed-role/Reader/nb", false),
            ("arn:aws:iam::111122223333:user/Reader", false),
        ] {
            assert_eq!(p.matches(&arn(observed)), want, "{observed}");
        }
    }

    #[test]
    fn session_user_and_federated_patterns() {
        let s = pattern("arn:aws:sts::111122223333:assumed-role/*/etl-*");
        assert!(s.matches(&arn(
            "arn:aws:sts::111122223333:assumed-role/DocPipeline/etl-worker"
        )));
        assert!(!s.matches(&arn(
            "arn:aws:sts::111122223333:assumed-role/DocPipeline/notebook"
        )));
        assert!(
            !s.matches(&arn("arn:aws:iam::111122223333:role/DocPipeline")),
            "a session pattern is not the role"
        );
        let u = pattern("arn:aws-us-gov:iam::111122223333:user/team/bob");
        assert!(u.matches(&arn("arn:aws-us-gov:iam::111122223333:user/team/bob")));
        assert!(!u.matches(&arn("arn:aws-us-gov:iam::111122223333:user/bob")));
        assert!(!u.matches(&arn("arn:aws:iam::111122223333:user/team/bob")));
        let f = pattern("arn:aws:sts::111122223333:federated-user/alice");
        assert!(f.matches(&arn("arn:aws:sts::111122223333:federated-user/alice")));
        assert!(!f.matches(&arn("arn:aws:sts::111122223333:federated-user/alice2")));
    }

    #[test]
    fn entries_cover_places_and_allow_principals_and_operations() {
        let l = parse(
            r#"
            [[reader]]
            bucket = "acme-results"
            prefix = "secure/"
            job_tag = "claims"
            principals = ["arn:aws:iam::111122223333:role/Reader"]
            operations = ["s3:GetObject", "kms:Decrypt"]
            reason = "x"
            expires = "2026-11-20T12:00:00Z"
            "#,
        )
        .unwrap();
        let e = &l.entries[0];
        let here = ReadScope {
            bucket: Some("acme-results"),
            key: Some("secure/JOB/1"),
            job_tag: Some("claims"),
        };
        assert!(e.covers(&here));
        assert!(
            !e.covers(&ReadScope {
                job_tag: None,
                ..here
            }),
            "all given fields must match"
        );
        assert!(!e.covers(&ReadScope {
            key: Some("exports/x"),
            ..here
        }));
        assert!(!e.covers(&ReadScope {
            bucket: Some("acme-results2"),
            ..here
        }));
        let reader = arn("arn:aws:sts::111122223333:assumed-role/Reader/s");
        assert!(e.allows(&reader, ReadOperation::Decrypt));
        assert!(!e.allows(&reader, ReadOperation::HeadObject));
        assert!(!e.allows(
            &arn("arn:aws:iam::111122223333:user/Reader"),
            ReadOperation::GetObject
        ));
        let noon = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        assert!(e.active_at(noon - chrono::Duration::seconds(1)));
        assert!(!e.active_at(noon));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for (b, ok) in [
            ("acme-results", true),
            ("a.b-c", true),
            ("ab", false),
            ("Acme", false),
            ("-acme", false),
            ("acme_results", false),
        ] {
            assert_eq!(is_bucket_name(b), ok, "{b}");
        }
    }
}
