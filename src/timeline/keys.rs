//! KMS key identifiers -> key ARNs.
//!
//! `KMSKeyId` may be a key id, key ARN, alias name or alias ARN, and S3 reports key ARNs:
//! every comparison happens after resolving both sides here. A name that cannot be resolved
//! from the evidence stays unresolved (and the checks that need it are INCONCLUSIVE); it is
//! never guessed equal to anything.

use serde::Serialize;

use crate::model::{Evidence, KmsKey};

/// A key identifier resolved as far as the evidence allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedKey {
    /// As it appeared (in the request, a header or an event).
    pub given: String,
    /// The key ARN, or why it could not be determined.
    pub arn: Result<String, String>,
    /// `AWS` for AWS managed keys such as `aws/s3`, `CUSTOMER`, or `None` when unknown.
    pub key_manager: Option<String>,
    /// `Enabled`, `Disabled`, `PendingDeletion`, … when known.
    pub key_state: Option<String>,
    /// The aliases that point at the key, when aliases were listed.
    pub aliases: Vec<String>,
    /// Whether the account's aliases were listed (so an empty `aliases` means none).
    pub aliases_listed: bool,
}

impl ResolvedKey {
    pub fn arn(&self) -> Option<&str> {
        self.arn.as_deref().ok()
    }

    /// Whether this is the AWS managed `aws/s3` key: by its alias, or, for a key S3 used,
    /// by `KeyManager: AWS` (the only AWS managed key S3 encrypts with is `aws/s3`).
    pub fn is_aws_s3(&self) -> bool {
        self.aws_s3() == Some(true)
    }

    /// `Some(true)` for `aws/s3`, `Some(false)` when the evidence shows it is another key
    /// (a customer key, or aliases were listed and `alias/aws/s3` does not point at it),
    /// `None` when the evidence cannot tell.
    pub fn aws_s3(&self) -> Option<bool> {
        if self.aliases.iter().any(|a| a == "alias/aws/s3")
            || self.given == "alias/aws/s3"
            || self.key_manager.as_deref() == Some("AWS")
        {
            Some(true)
        } else if self.key_manager.as_deref() == Some("CUSTOMER") || self.aliases_listed {
            Some(false)
        } else {
            None
        }
    }

    /// A short label: the alias when known, else the ARN, else what was given.
    pub fn label(&self) -> String {
        self.aliases
            .first()
            .cloned()
            .or_else(|| self.arn().map(str::to_owned))
            .unwrap_or_else(|| self.given.clone())
    }
}

/// Resolves `given` in the context of the caller's `region` and `account` (a bare key id or
/// alias names a key in the caller's account and Region).
pub fn resolve(
    evidence: &Evidence,
    given: &str,
    region: Option<&str>,
    account: Option<&str>,
) -> ResolvedKey {
    let arn = arn_of(evidence, given, region, account);
    let key = arn
        .as_ref()
        .ok()
        .and_then(|a| evidence.keys.iter().find(|k| &k.arn == a));
    let aliases = match (&evidence.aliases, &arn) {
        (Some(list), Ok(a)) => {
            let id = a.rsplit('/').next().unwrap_or_default();
            list.iter()
                .filter(|al| al.target_key_id.as_deref() == Some(id))
                .map(|al| al.alias_name.clone())
                .collect()
        }
        _ => Vec::new(),
    };
    ResolvedKey {
        given: given.to_owned(),
        key_manager: key.map(|k: &KmsKey| k.key_manager.clone()),
        key_state: key.map(|k| k.key_state.clone()),
        aliases,
        aliases_listed: evidence.aliases.is_some(),
        arn,
    }
}

/// A key identifier that cannot be resolved, and why.
pub fn unresolved(given: String, why: String) -> ResolvedKey {
    ResolvedKey {
        given,
        arn: Err(why),
        key_manager: None,
        key_state: None,
        aliases: Vec::new(),
        aliases_listed: false,
    }
}

fn arn_of(
    evidence: &Evidence,
    given: &str,
    region: Option<&str>,
    account: Option<&str>,
) -> Result<String, String> {
    // Direct evidence first: DescribeKey called with exactly this identifier.
    if let Some(k) = evidence.keys.iter().find(|k| k.answers_to(given)) {
        return Ok(k.arn.clone());
    }
    if given.starts_with("arn:") && given.contains(":key/") {
        return Ok(given.to_owned());
    }
    let is_alias =
        given.starts_with("alias/") || (given.starts_with("arn:") && given.contains(":alias/"));
    if is_alias {
        let Some(aliases) = &evidence.aliases else {
            return Err(format!(
                "alias {given} cannot be resolved: KMS aliases were not collected (ListAliases)"
            ));
        };
        let found = aliases
            .iter()
            .find(|a| a.alias_name == given || a.alias_arn == given)
            .ok_or_else(|| format!("alias {given} is not among the collected KMS aliases"))?;
        let target = found
            .target_key_id
            .as_deref()
            .ok_or_else(|| format!("alias {given} has no target key"))?;
        // The alias ARN carries the Region and account the key lives in.
        let (r, a) = match found.alias_arn.split(':').collect::<Vec<_>>()[..] {
            ["arn", _, "kms", r, a, _] => (Some(r), Some(a)),
            _ => (region, account),
        };
        return key_arn(evidence, target, r, a);
    }
    key_arn(evidence, given, region, account)
}

/// A bare key id -> its ARN: from DescribeKey evidence, else built from the caller's
/// account and Region (a key id always names a key there).
fn key_arn(
    evidence: &Evidence,
    id: &str,
    region: Option<&str>,
    account: Option<&str>,
) -> Result<String, String> {
    if let Some(k) = evidence.keys.iter().find(|k| k.key_id == id) {
        return Ok(k.arn.clone());
    }
    match (region, account) {
        (Some(r), Some(a)) => Ok(format!("arn:aws:kms:{r}:{a}:key/{id}")),
        _ => Err(format!(
            "key id {id} cannot be turned into an ARN: the caller's account or Region is unknown"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KmsAlias, Provenance};
    use chrono::Utc;

    const K1: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn evidence(aliases: Option<Vec<KmsAlias>>, keys: Vec<KmsKey>) -> Evidence {
        let mut e = Evidence::new(Provenance {
            sources: vec![],
            account: None,
            region: None,
            captured_at: Utc::now(),
        });
        e.aliases = aliases;
        e.keys = keys;
        e
    }

    fn alias(name: &str, target: &str) -> KmsAlias {
        KmsAlias {
            alias_name: name.into(),
            alias_arn: format!("arn:aws:kms:us-east-1:111122223333:{name}"),
            target_key_id: Some(target.into()),
        }
    }

    #[test]
    fn every_identifier_form_resolves_to_one_arn() {
        let ev = evidence(Some(vec![alias("alias/results", "k1")]), vec![]);
        let r = |g: &str| resolve(&ev, g, Some("us-east-1"), Some("111122223333")).arn;
        assert_eq!(r("k1"), Ok(K1.into()));
        assert_eq!(r(K1), Ok(K1.into()));
        assert_eq!(r("alias/results"), Ok(K1.into()));
        assert_eq!(
            r("arn:aws:kms:us-east-1:111122223333:alias/results"),
            Ok(K1.into())
        );
        assert!(r("alias/unknown").is_err());
    }

    #[test]
    fn aliases_not_collected_leave_alias_names_unresolved() {
        let ev = evidence(None, vec![]);
        let got = resolve(&ev, "alias/results", Some("us-east-1"), Some("1"));
        assert!(got.arn.unwrap_err().contains("ListAliases"));
    }

    #[test]
    fn aws_s3_key_is_recognised_by_alias() {
        let ev = evidence(Some(vec![alias("alias/aws/s3", "s3k")]), vec![]);
        let got = resolve(
            &ev,
            "arn:aws:kms:us-east-1:111122223333:key/s3k",
            None,
            None,
        );
        assert!(got.is_aws_s3());
        assert_eq!(got.label(), "alias/aws/s3");
    }

    #[test]
    fn bare_id_without_account_is_unresolved() {
        let ev = evidence(None, vec![]);
        assert!(resolve(&ev, "k1", None, None).arn.is_err());
    }
}
