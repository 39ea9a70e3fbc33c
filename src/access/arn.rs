//! AWS principal ARNs, parsed once into their parts and compared by those parts, never by
//! substring: `arn:aws:sts::111122223333:assumed-role/Reader/etl` is a session of the role
//! `arn:aws:iam::111122223333:role/ops/Reader` because partition, account and role name are
//! equal, not because one string contains the other.
//!
//! The forms (IAM user guide, "IAM identifiers"; every partition: `aws`, `aws-cn`,
//! `aws-us-gov`, …):
//!
//! | form | ARN |
//! |---|---|
//! | account (root) | `arn:P:iam::ACCOUNT:root` |
//! | IAM user | `arn:P:iam::ACCOUNT:user/[PATH/]NAME` |
//! | IAM role | `arn:P:iam::ACCOUNT:role/[PATH/]NAME` |
//! | assumed-role session | `arn:P:sts::ACCOUNT:assumed-role/ROLE/SESSION` (no path) |
//! | federated user | `arn:P:sts::ACCOUNT:federated-user/NAME` |

use std::fmt;

use serde::Serialize;

/// A principal named by its ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PrincipalArn {
    pub partition: String,
    pub account: String,
    pub kind: PrincipalKind,
}

/// What kind of principal an ARN names, with the parts that identify it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PrincipalKind {
    /// The account itself (`…:root`).
    Root,
    /// `path` is `/` or `/a/b/`, as IAM writes it.
    User {
        path: String,
        name: String,
    },
    Role {
        path: String,
        name: String,
    },
    AssumedRole {
        role: String,
        session: String,
    },
    FederatedUser {
        name: String,
    },
}

/// Whether `s` is a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` can be a partition name (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, …).
pub fn is_partition(s: &str) -> bool {
    s == "aws"
        || s.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty()
                && rest.split('-').all(|w| {
                    !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

/// The parts of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (the resource may
/// hold further `:`).
pub(crate) fn split_arn(arn: &str) -> Option<[&str; 5]> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    Some([partition, service, region, account, resource])
}

impl PrincipalArn {
    /// Parses a principal ARN; the error says what is wrong with it.
    pub fn parse(arn: &str) -> Result<PrincipalArn, String> {
        let [partition, service, region, account, resource] =
            split_arn(arn).ok_or_else(|| format!("{arn:?} is not an ARN"))?;
        if !is_partition(partition) {
            return Err(format!("{arn:?}: {partition:?} is not a partition"));
        }
        if service != "iam" && service != "sts" {
            return Err(format!(
                "{arn:?} names no IAM user, role, assumed-role session, federated user or \
                 account root"
            ));
        }
        if !region.is_empty() {
            return Err(format!(
                "{arn:?}: IAM and STS principal ARNs have no Region"
            ));
        }
        if !is_account_id(account) {
            return Err(format!("{arn:?}: {account:?} is not a 12-digit account id"));
        }
        let kind = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => PrincipalKind::Root,
            ("iam", Some(("user", rest))) => {
                let (path, name) = path_and_name(arn, rest)?;
                PrincipalKind::User { path, name }
            }
            ("iam", Some(("role", rest))) => {
                let (path, name) = path_and_name(arn, rest)?;
                PrincipalKind::Role { path, name }
            }
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session)) if !role.is_empty() && segment(session) => {
                    PrincipalKind::AssumedRole {
                        role: role.to_owned(),
                        session: session.to_owned(),
                    }
                }
                _ => {
                    return Err(format!(
                        "{arn:?}: an assumed-role ARN is …:assumed-role/ROLE/SESSION"
                    ));
                }
            },
            ("sts", Some(("federated-user", name))) if segment(name) => {
                PrincipalKind::FederatedUser {
                    name: name.to_owned(),
                }
            }
            _ => {
                return Err(format!(
                    "{arn:?} names no IAM user, role, assumed-role session, federated user or \
                     account root"
                ));
            }
        };
        Ok(PrincipalArn {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
        })
    }

    /// The role this principal acts as, by name: a role, or an assumed-role session of it.
    pub fn role_name(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Role { name, .. } => Some(name),
            PrincipalKind::AssumedRole { role, .. } => Some(role),
            _ => None,
        }
    }
}

fn segment(s: &str) -> bool {
    !s.is_empty() && !s.contains('/')
}

/// `[PATH/]NAME` of a user or role: the path as IAM writes it (`/` when none).
fn path_and_name(arn: &str, rest: &str) -> Result<(String, String), String> {
    let (path, name) = match rest.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_owned(), rest),
    };
    if name.is_empty() || path.contains("//") {
        return Err(format!("{arn:?}: empty name or path segment"));
    }
    Ok((path, name.to_owned()))
}

impl fmt::Display for PrincipalArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, a) = (&self.partition, &self.account);
        match &self.kind {
            PrincipalKind::Root => write!(f, "arn:{p}:iam::{a}:root"),
            PrincipalKind::User { path, name } => write!(f, "arn:{p}:iam::{a}:user{path}{name}"),
            PrincipalKind::Role { path, name } => write!(f, "arn:{p}:iam::{a}:role{path}{name}"),
            PrincipalKind::AssumedRole { role, session } => {
                write!(f, "arn:{p}:sts::{a}:assumed-role/{role}/{session}")
            }
            PrincipalKind::FederatedUser { name } => {
                write!(f, "arn:{p}:sts::{a}:federated-user/{name}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::partition_of_region;

    #[test]
    fn every_form_round_trips_in_every_partition() {
        for partition in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"] {
            for arn in [
                format!("arn:{partition}:iam::111122223333:root"),
                format!("arn:{partition}:iam::111122223333:user/mallory"),
                format!("arn:{partition}:iam::111122223333:user/division/team/bob"),
                format!("arn:{partition}:iam::111122223333:role/service-role/Reader"),
                format!("arn:{partition}:sts::111122223333:assumed-role/Reader/etl@x.com"),
                format!("arn:{partition}:sts::111122223333:federated-user/alice"),
            ] {
                let parsed = PrincipalArn::parse(&arn).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(parsed.to_string(), arn);
                assert_eq!(parsed.partition, partition);
            }
        }
    }

    #[test]
    fn parts_are_typed() {
        let role = PrincipalArn::parse("arn:aws:iam::111122223333:role/ops/Reader").unwrap();
        assert_eq!(
            role.kind,
            PrincipalKind::Role {
                path: "/ops/".into(),
                name: "Reader".into()
            }
        );
        let session =
            PrincipalArn::parse("arn:aws:sts::111122223333:assumed-role/Reader/etl").unwrap();
        assert_eq!(role.role_name(), session.role_name());
        assert_eq!(session.account, "111122223333");
    }

    #[test]
    fn malformed_principals_say_why() {
        for (arn, why) in [
            ("arn:aws:iam::1111:user/x", "12-digit"),
            ("arn:aws:iam:us-east-1:111122223333:user/x", "no Region"),
            ("arn:aws:s3:::bucket/key", "names no IAM user"),
            (
                "arn:aws:iam::111122223333:group/admins",
                "names no IAM user",
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/Reader",
                "ROLE/SESSION",
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/Reader/a/b",
                "ROLE/SESSION",
            ),
            ("arn:aws:iam::111122223333:user/", "empty name"),
            ("arn:Aws:iam::111122223333:root", "not a partition"),
            ("user/x", "not an ARN"),
        ] {
            let err = PrincipalArn::parse(arn).unwrap_err();
            assert!(err.contains(why), "{arn}: {err}");
        }
    }

    #[test]
    fn partitions_follow_regions() {
        assert_eq!(partition_of_region("us-east-1"), "aws");
        assert_eq!(partition_of_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of_region("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition_of_region("us-iso-east-1"), "aws-iso");
        assert!(is_partition("aws-iso-f") && !is_partition("aws-") && !is_partition("azure"));
    }
}
