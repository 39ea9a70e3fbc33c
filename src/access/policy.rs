//! Static reading of IAM policy documents (KMS key policies, S3 bucket policies), per the
//! grammar of the IAM JSON policy language (IAM user guide, "Grammar of the IAM JSON policy
//! language" and the element references for `Principal`, `NotPrincipal`, `Action`,
//! `NotAction`, `Resource`, `NotResource`, `Condition`).
//!
//! A document is parsed strictly: element names exactly as the grammar spells them, `Statement`
//! as one object or an array, every value of the type the grammar allows, and a JSON object
//! with the same key twice refused (which of two `Effect`s applies must never be decided by
//! the order they were read in). A statement that does not parse is kept as unreadable with
//! the reason and is never read as granting nothing; the other statements are still read.
//!
//! Evaluation answers "which principals may do this action on this resource (or on every
//! object under this folder)": the `Allow` statements that apply, then the `Deny` statements
//! that apply. A `Condition` is never evaluated here: a grant under one is listed as
//! restricted, and a `Deny` under one takes nobody out (it may not apply). A `Deny` takes a
//! principal out only when it surely covers the principal, the action and the whole target.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::arn::{PrincipalArn, PrincipalKind, is_account_id};
use super::glob::{Cover, Glob, Syntax};

/// The policy language versions the grammar defines.
pub const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// A principal as a resource policy names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PolicyPrincipal {
    /// `"*"` or `{"AWS": "*"}`: anyone (with `"*"` even anonymous callers).
    Everyone,
    /// An account (`"111122223333"` or `arn:P:iam::111122223333:root`): access is then up
    /// to the account's own IAM policies, which a resource policy does not show.
    Account {
        #[serde(skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        account: String,
    },
    /// An IAM user, role, assumed-role session or federated user.
    Arn {
        arn: PrincipalArn,
    },
    /// A unique id (`AROA…`, `AIDA…`): IAM writes it in place of a principal that was
    /// deleted; it matches no principal that exists now.
    UniqueId {
        id: String,
    },
    Service {
        name: String,
    },
    Federated {
        provider: String,
    },
    CanonicalUser {
        id: String,
    },
}

impl PolicyPrincipal {
    /// The account the principal belongs to, when the policy says.
    pub fn account(&self) -> Option<&str> {
        match self {
            PolicyPrincipal::Account { account, .. } => Some(account),
            PolicyPrincipal::Arn { arn } => Some(&arn.account),
            _ => None,
        }
    }

    /// Whether every principal `other` stands for is also one `self` stands for (`All`),
    /// some may be (`Maybe`), or none are (`None`). A role stands for its sessions, an
    /// account for everything in it, everyone for all.
    pub fn covers(&self, other: &PolicyPrincipal) -> Cover {
        use PolicyPrincipal as P;
        let same_partition = |a: Option<&str>, b: &str| a.is_none_or(|a| a == b);
        match (self, other) {
            (P::Everyone, _) => Cover::All,
            (_, P::Everyone) => Cover::Maybe,
            _ if self == other => Cover::All,
            (
                P::Account {
                    partition: p1,
                    account: a1,
                },
                P::Account {
                    partition: p2,
                    account: a2,
                },
            ) => {
                let partitions = p1.is_none() || p2.is_none() || p1 == p2;
                if a1 == a2 && partitions {
                    Cover::All
                } else {
                    Cover::None
                }
            }
            (P::Account { partition, account }, P::Arn { arn }) => {
                if &arn.account == account && same_partition(partition.as_deref(), &arn.partition) {
                    Cover::All
                } else {
                    Cover::None
                }
            }
            (P::Arn { arn }, P::Account { partition, account }) => {
                if &arn.account == account && same_partition(partition.as_deref(), &arn.partition) {
                    Cover::Maybe
                } else {
                    Cover::None
                }
            }
            (P::Arn { arn: a }, P::Arn { arn: b }) => {
                let role_and_session = matches!(a.kind, PrincipalKind::Role { .. })
                    && matches!(b.kind, PrincipalKind::AssumedRole { .. })
                    && a.partition == b.partition
                    && a.account == b.account
                    && a.role_name() == b.role_name();
                if role_and_session {
                    Cover::All
                } else {
                    Cover::None
                }
            }
            // Which principal a unique id stood for is not known here.
            (P::UniqueId { .. }, P::Account { .. } | P::Arn { .. } | P::UniqueId { .. })
            | (P::Account { .. } | P::Arn { .. }, P::UniqueId { .. }) => Cover::Maybe,
            _ => Cover::None,
        }
    }
}

impl fmt::Display for PolicyPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyPrincipal::Everyone => f.write_str("everyone (*)"),
            PolicyPrincipal::Account { partition, account } => match partition {
                Some(p) => write!(f, "arn:{p}:iam::{account}:root"),
                None => write!(f, "account {account}"),
            },
            PolicyPrincipal::Arn { arn } => write!(f, "{arn}"),
            PolicyPrincipal::UniqueId { id } => {
                write!(f, "{id} (unique id of a deleted principal)")
            }
            PolicyPrincipal::Service { name } => write!(f, "service {name}"),
            PolicyPrincipal::Federated { provider } => write!(f, "federated {provider}"),
            PolicyPrincipal::CanonicalUser { id } => write!(f, "canonical user {id}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Principal` (these) or `NotPrincipal` (everyone but these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "element", content = "principals")]
pub enum Principals {
    Principal(Vec<PolicyPrincipal>),
    NotPrincipal(Vec<PolicyPrincipal>),
}

/// `Action`/`Resource` (matches one of these) or `NotAction`/`NotResource` (matches none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub negated: bool,
    pub patterns: Vec<String>,
    globs: Vec<Glob>,
}

impl Matcher {
    fn new(negated: bool, patterns: Vec<String>, syntax: Syntax, fold_case: bool) -> Matcher {
        let globs = patterns
            .iter()
            .map(|p| Glob::new(p, syntax, fold_case))
            .collect();
        Matcher {
            negated,
            patterns,
            globs,
        }
    }

    /// How much of the target the element selects: what its patterns match, or for the
    /// `Not…` form, the rest.
    fn select(&self, each: impl Fn(&Glob) -> Cover) -> Cover {
        let matched = self.globs.iter().map(each).max().unwrap_or(Cover::None);
        match (self.negated, matched) {
            (false, c) => c,
            (true, Cover::None) => Cover::All,
            (true, Cover::All) => Cover::None,
            (true, Cover::Maybe) => Cover::Maybe,
        }
    }
}

/// One `Condition` test, as written: `StringEquals` `kms:ViaService` `[s3.….amazonaws.com]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}]",
            self.operator,
            self.key,
            self.values.join(", ")
        )
    }
}

/// Which statement of a document, for messages: 1-based, with its `Sid` when it has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StatementRef {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement {} ({sid:?})", self.index),
            None => write!(f, "statement {}", self.index),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub at: StatementRef,
    pub effect: Effect,
    pub principals: Principals,
    pub actions: Matcher,
    pub resources: Matcher,
    pub conditions: Vec<Condition>,
}

/// A part of a document that could not be read: where (`Statement[2].Principal.AWS[0]`) and
/// why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyError {
    pub at: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
    /// Statements that could not be read. What they grant or deny is unknown.
    pub unreadable: Vec<PolicyError>,
}

/// What an evaluation asks about.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One resource: a KMS key's ARN (a key policy's `"Resource": "*"` is the key itself).
    Resource(&'a str),
    /// Every object under a folder: `arn:P:s3:::bucket/prefix/JobId/`.
    ObjectsUnder(&'a str),
}

/// A principal an `Allow` statement lets do the action, after the `Deny` statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grantee {
    pub principal: PolicyPrincipal,
    pub statement: StatementRef,
    /// `All`: the whole target; `Maybe`: only part of it, or only if a policy variable has
    /// the right value.
    pub scope: Cover,
    /// Conditions of the granting statement: restricted, not evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Principals taken out of this grant: a `NotPrincipal`, or a `Deny` that surely
    /// applies to them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<PolicyPrincipal>,
    /// `Deny` statements that may take the grant away (under a condition, on part of the
    /// target, or for principals that may be among these): not evaluated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limited_by: Vec<StatementRef>,
}

impl Grantee {
    /// Whether anything but the principal and the whole target qualifies the grant.
    pub fn restricted(&self) -> bool {
        !self.conditions.is_empty() || self.scope != Cover::All || !self.limited_by.is_empty()
    }
}

/// A grant that a `Deny` takes away entirely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denied {
    pub grantee: Grantee,
    pub by: StatementRef,
}

/// The answer to one question about one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Access {
    pub grantees: Vec<Grantee>,
    pub denied: Vec<Denied>,
}

impl PolicyDocument {
    /// Parses a policy document's JSON text. `Err` only when the document as a whole cannot
    /// be read; a statement that cannot be read lands in [`PolicyDocument::unreadable`].
    pub fn parse(text: &str) -> Result<PolicyDocument, PolicyError> {
        let json: Json = serde_json::from_str(text).map_err(|e| PolicyError {
            at: String::new(),
            message: format!("not a JSON policy document: {e}"),
        })?;
        let Json::Obj(top) = json else {
            return Err(err("", "a policy document is a JSON object"));
        };
        let mut version = None;
        let mut id = None;
        let mut statement = None;
        for (k, v) in top {
            match k.as_str() {
                "Version" => match v {
                    Json::Str(s) if VERSIONS.contains(&s.as_str()) => version = Some(s),
                    other => {
                        return Err(err(
                            "Version",
                            &format!(
                                "expected \"2012-10-17\" or \"2008-10-17\", found {}",
                                other.describe()
                            ),
                        ));
                    }
                },
                "Id" => id = Some(string(&v, "Id")?),
                "Statement" => statement = Some(v),
                other => {
                    return Err(err(
                        other,
                        "unknown element (a policy has Version, Id and Statement)",
                    ));
                }
            }
        }
        let items = match statement {
            None => return Err(err("Statement", "missing")),
            Some(Json::Arr(items)) => items,
            Some(one @ Json::Obj(_)) => vec![one],
            Some(other) => {
                return Err(err(
                    "Statement",
                    &format!("expected an object or an array, found {}", other.describe()),
                ));
            }
        };
        // Policy variables exist from version 2012-10-17 on; before, `${…}` is literal text.
        let variables = version.as_deref() == Some("2012-10-17");
        let mut doc = PolicyDocument {
            version,
            id,
            statements: Vec::new(),
            unreadable: Vec::new(),
        };
        for (i, item) in items.into_iter().enumerate() {
            match statement_of(i + 1, item, variables) {
                Ok(s) => doc.statements.push(s),
                Err(e) => doc.unreadable.push(e),
            }
        }
        Ok(doc)
    }

    /// The principals that may do `action` on `target`.
    pub fn who_can(&self, action: &str, target: Target<'_>) -> Access {
        let mut access = Access::default();
        for st in &self.statements {
            let scope = st
                .actions
                .select(|g| g.matches(action))
                .min(resource_cover(st, target));
            if st.effect == Effect::Allow && scope != Cover::None {
                access.grantees.extend(grantees(st, scope));
            }
        }
        for deny in self.statements.iter().filter(|s| s.effect == Effect::Deny) {
            let action_cover = deny.actions.select(|g| g.matches(action));
            let resources = resource_cover(deny, target);
            if action_cover == Cover::None || resources == Cover::None {
                continue;
            }
            let sure =
                action_cover == Cover::All && resources == Cover::All && deny.conditions.is_empty();
            let mut kept = Vec::with_capacity(access.grantees.len());
            for mut g in std::mem::take(&mut access.grantees) {
                match (principal_cover(&deny.principals, &g.principal), sure) {
                    (Cover::None, _) => {}
                    (Cover::All, true) => {
                        access.denied.push(Denied {
                            grantee: g,
                            by: deny.at.clone(),
                        });
                        continue;
                    }
                    (Cover::Maybe, true) => match &deny.principals {
                        // A `Deny` naming some of the principals this grant stands for: they
                        // are out, the rest keeps the grant.
                        Principals::Principal(list) => g.except.extend(
                            list.iter()
                                .filter(|d| d.covers(&g.principal) != Cover::None)
                                .cloned(),
                        ),
                        Principals::NotPrincipal(_) => g.limited_by.push(deny.at.clone()),
                    },
                    _ => g.limited_by.push(deny.at.clone()),
                }
                kept.push(g);
            }
            access.grantees = kept;
        }
        access
    }

    /// The principals `Allow` statements give every action of `service` (`kms:*`, `*`, or a
    /// `NotAction` that names none of its actions) on `target`. `Deny` statements are not
    /// subtracted: the grant as written is what is asked about.
    pub fn full_access(&self, service: &str, target: Target<'_>) -> Vec<Grantee> {
        let prefix = format!("{}:", service.to_ascii_lowercase());
        self.statements
            .iter()
            .filter(|st| st.effect == Effect::Allow)
            .filter(|st| st.actions.select(|g| g.covers_extensions(&prefix)) == Cover::All)
            .map(|st| (st, resource_cover(st, target)))
            .filter(|(_, scope)| *scope != Cover::None)
            .flat_map(|(st, scope)| grantees(st, scope))
            .collect()
    }
}

fn resource_cover(st: &Statement, target: Target<'_>) -> Cover {
    st.resources.select(|g| match target {
        Target::Resource(arn) => g.matches(arn),
        Target::ObjectsUnder(folder) => g.covers_extensions(folder),
    })
}

fn grantees(st: &Statement, scope: Cover) -> Vec<Grantee> {
    let grantee = |principal: PolicyPrincipal, except: Vec<PolicyPrincipal>| Grantee {
        principal,
        statement: st.at.clone(),
        scope,
        conditions: st.conditions.clone(),
        except,
        limited_by: Vec::new(),
    };
    match &st.principals {
        Principals::Principal(list) => list.iter().map(|p| grantee(p.clone(), vec![])).collect(),
        Principals::NotPrincipal(list) => vec![grantee(PolicyPrincipal::Everyone, list.clone())],
    }
}

/// How surely a `Deny`'s principals include every principal `p` stands for.
fn principal_cover(denied: &Principals, p: &PolicyPrincipal) -> Cover {
    match denied {
        Principals::Principal(list) => list
            .iter()
            .map(|d| d.covers(p))
            .max()
            .unwrap_or(Cover::None),
        // Everyone but the listed: `p` is surely denied only when no listed principal is
        // related to it (how AWS matches a session against a `NotPrincipal` list naming its
        // role or account is subtle; relatedness keeps the grant).
        Principals::NotPrincipal(list) => {
            let related = list
                .iter()
                .any(|l| l.covers(p) != Cover::None || p.covers(l) != Cover::None);
            if related { Cover::Maybe } else { Cover::All }
        }
    }
}

fn err(at: &str, message: &str) -> PolicyError {
    PolicyError {
        at: at.to_owned(),
        message: message.to_owned(),
    }
}

fn string(v: &Json, at: &str) -> Result<String, PolicyError> {
    match v {
        Json::Str(s) => Ok(s.clone()),
        other => Err(err(
            at,
            &format!("expected a string, found {}", other.describe()),
        )),
    }
}

/// A string or a non-empty array of strings (the grammar's `*_string_list`).
fn strings(v: &Json, at: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::Str(s) => Ok(vec![s.clone()]),
        Json::Arr(items) if items.is_empty() => Err(err(at, "an empty list names nothing")),
        Json::Arr(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| string(x, &format!("{at}[{i}]")))
            .collect(),
        other => Err(err(
            at,
            &format!(
                "expected a string or a list of strings, found {}",
                other.describe()
            ),
        )),
    }
}

fn statement_of(index: usize, item: Json, variables: bool) -> Result<Statement, PolicyError> {
    let at = format!("Statement[{}]", index - 1);
    let Json::Obj(fields) = item else {
        return Err(err(
            &at,
            &format!("expected an object, found {}", item.describe()),
        ));
    };
    let (mut sid, mut effect, mut principals, mut actions, mut resources, mut conditions) =
        (None, None, None, None, None, Vec::new());
    for (k, v) in &fields {
        let here = format!("{at}.{k}");
        match k.as_str() {
            "Sid" => sid = Some(string(v, &here)?),
            "Effect" => {
                effect = Some(match string(v, &here)?.as_str() {
                    "Allow" => Effect::Allow,
                    "Deny" => Effect::Deny,
                    other => {
                        return Err(err(
                            &here,
                            &format!("{other:?} is neither \"Allow\" nor \"Deny\""),
                        ));
                    }
                })
            }
            "Principal" | "NotPrincipal" => {
                if principals.is_some() {
                    return Err(err(&at, "both Principal and NotPrincipal"));
                }
                let list = principal_list(v, &here)?;
                principals = Some(if k == "Principal" {
                    Principals::Principal(list)
                } else {
                    Principals::NotPrincipal(list)
                });
            }
            "Action" | "NotAction" => {
                if actions.is_some() {
                    return Err(err(&at, "both Action and NotAction"));
                }
                let list = strings(v, &here)?;
                actions = Some(Matcher::new(
                    k == "NotAction",
                    list,
                    Syntax::Policy { variables: false },
                    true,
                ));
            }
            "Resource" | "NotResource" => {
                if resources.is_some() {
                    return Err(err(&at, "both Resource and NotResource"));
                }
                let list = strings(v, &here)?;
                resources = Some(Matcher::new(
                    k == "NotResource",
                    list,
                    Syntax::Policy { variables },
                    false,
                ));
            }
            "Condition" => conditions = condition_block(v, &here)?,
            other => {
                return Err(err(
                    &here,
                    &format!(
                        "unknown element {other:?} (a statement has Sid, Effect, Principal or \
                         NotPrincipal, Action or NotAction, Resource or NotResource, Condition)"
                    ),
                ));
            }
        }
    }
    let missing = |what: &str| err(&at, &format!("no {what}"));
    Ok(Statement {
        at: StatementRef { index, sid },
        effect: effect.ok_or_else(|| missing("Effect"))?,
        // Key and bucket policies are resource policies: every statement names principals.
        principals: principals.ok_or_else(|| missing("Principal or NotPrincipal"))?,
        actions: actions.ok_or_else(|| missing("Action or NotAction"))?,
        resources: resources.ok_or_else(|| missing("Resource or NotResource"))?,
        conditions,
    })
}

fn principal_list(v: &Json, at: &str) -> Result<Vec<PolicyPrincipal>, PolicyError> {
    let map = match v {
        Json::Str(s) if s == "*" => return Ok(vec![PolicyPrincipal::Everyone]),
        Json::Obj(map) if !map.is_empty() => map,
        other => {
            return Err(err(
                at,
                &format!(
                    "expected \"*\" or an object of AWS, Service, Federated, CanonicalUser, \
                     found {}",
                    other.describe()
                ),
            ));
        }
    };
    let mut out = Vec::new();
    for (kind, values) in map {
        let here = format!("{at}.{kind}");
        for (i, value) in strings(values, &here)?.into_iter().enumerate() {
            let item = format!("{here}[{i}]");
            out.push(match kind.as_str() {
                "AWS" => aws_principal(value, &item)?,
                "Service" | "Federated" | "CanonicalUser" if value.contains('*') => {
                    return Err(err(
                        &item,
                        &format!("{value:?}: only AWS principals may be \"*\""),
                    ));
                }
                "Service" => PolicyPrincipal::Service { name: value },
                "Federated" => PolicyPrincipal::Federated { provider: value },
                "CanonicalUser" => PolicyPrincipal::CanonicalUser { id: value },
                other => {
                    return Err(err(
                        &here,
                        &format!(
                            "unknown principal type {other:?} (AWS, Service, Federated, \
                             CanonicalUser)"
                        ),
                    ));
                }
            });
        }
    }
    Ok(out)
}

/// Prefixes of IAM unique ids (IAM user guide, "Unique identifiers").
const UNIQUE_ID_PREFIXES: [&str; 6] = ["AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA"];

fn aws_principal(value: String, at: &str) -> Result<PolicyPrincipal, PolicyError> {
    if value == "*" {
        return Ok(PolicyPrincipal::Everyone);
    }
    if is_account_id(&value) {
        return Ok(PolicyPrincipal::Account {
            partition: None,
            account: value,
        });
    }
    if UNIQUE_ID_PREFIXES.iter().any(|p| value.starts_with(p))
        && value.len() > 4
        && value.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Ok(PolicyPrincipal::UniqueId { id: value });
    }
    if value.contains('*') {
        return Err(err(
            at,
            &format!(
                "{value:?}: a principal is \"*\" or a whole ARN; IAM allows no wildcard inside a \
                 principal ARN"
            ),
        ));
    }
    match PrincipalArn::parse(&value) {
        Ok(PrincipalArn {
            partition,
            account,
            kind: PrincipalKind::Root,
        }) => Ok(PolicyPrincipal::Account {
            partition: Some(partition),
            account,
        }),
        Ok(arn) => Ok(PolicyPrincipal::Arn { arn }),
        Err(why) => Err(err(at, &why)),
    }
}

fn condition_block(v: &Json, at: &str) -> Result<Vec<Condition>, PolicyError> {
    let Json::Obj(operators) = v else {
        return Err(err(
            at,
            &format!(
                "expected an object of condition operators, found {}",
                v.describe()
            ),
        ));
    };
    let mut out = Vec::new();
    for (operator, tests) in operators {
        let here = format!("{at}.{operator}");
        let Json::Obj(tests) = tests else {
            return Err(err(
                &here,
                &format!(
                    "expected an object of condition keys, found {}",
                    tests.describe()
                ),
            ));
        };
        if tests.is_empty() {
            return Err(err(&here, "an operator with no condition key"));
        }
        for (key, values) in tests {
            let key_at = format!("{here}.{key}");
            let scalar = |x: &Json, at: &str| match x {
                Json::Str(s) | Json::Num(s) => Ok(s.clone()),
                Json::Bool(b) => Ok(b.to_string()),
                other => Err(err(
                    at,
                    &format!(
                        "expected a string, number or boolean, found {}",
                        other.describe()
                    ),
                )),
            };
            let values = match values {
                Json::Arr(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| scalar(x, &format!("{key_at}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?,
                one => vec![scalar(one, &key_at)?],
            };
            out.push(Condition {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// JSON as read for a policy: like `serde_json::Value`, but an object that has the same key
/// twice is an error instead of keeping the last one.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Num(_) => "a number",
            Json::Str(_) => "a string",
            Json::Arr(_) => "an array",
            Json::Obj(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Num(n.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Num(n.to_string()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        Ok(Json::Num(n.to_string()))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut seen = BTreeSet::new();
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            fields.push((key, map.next_value()?));
        }
        Ok(Json::Obj(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const FOLDER: &str = "arn:aws:s3:::acme-results/secure/results/JOB/";

    fn doc(statements: &str) -> PolicyDocument {
        PolicyDocument::parse(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {statements}}}"#
        ))
        .unwrap()
    }

    fn names(access: &Access) -> Vec<String> {
        access
            .grantees
            .iter()
            .map(|g| g.principal.to_string())
            .collect()
    }

    fn arn(s: &str) -> PolicyPrincipal {
        PolicyPrincipal::Arn {
            arn: PrincipalArn::parse(s).unwrap(),
        }
    }

    #[test]
    fn every_principal_form_is_read() {
        let d = doc(
            r#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Principal": {
                "AWS": ["*", "111122223333", "arn:aws-cn:iam::444455556666:root",
                        "arn:aws:iam::111122223333:role/Reader",
                        "arn:aws:sts::111122223333:assumed-role/Reader/s1",
                        "arn:aws:iam::111122223333:user/bob", "AROAEXAMPLEID0000001"],
                "Service": "s3.amazonaws.com",
                "Federated": ["cognito-identity.amazonaws.com"],
                "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}}"#,
        );
        let p = &d.statements[0].principals;
        let Principals::Principal(list) = p else {
            panic!("{p:?}")
        };
        assert_eq!(list.len(), 10);
        assert_eq!(list[0], PolicyPrincipal::Everyone);
        assert_eq!(list[1].account(), Some("111122223333"));
        assert_eq!(
            list[2],
            PolicyPrincipal::Account {
                partition: Some("aws-cn".into()),
                account: "444455556666".into()
            }
        );
        assert!(matches!(list[6], PolicyPrincipal::UniqueId { .. }));
        assert!(matches!(list[7], PolicyPrincipal::Service { .. }));
        assert!(matches!(list[9], PolicyPrincipal::CanonicalUser { .. }));
        assert!(d.unreadable.is_empty());
    }

    #[test]
    fn statement_may_be_one_object_and_version_may_be_absent() {
        let d = PolicyDocument::parse(
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::acme-results/${aws:username}/*"}}"#,
        )
        .unwrap();
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.version, None);
        // Without 2012-10-17, `${…}` is literal text: this resource names no folder of ours.
        assert!(
            d.who_can("s3:GetObject", Target::ObjectsUnder(FOLDER))
                .grantees
                .is_empty()
        );
    }

    #[test]
    fn malformed_shapes_are_reported_never_read_as_no_one() {
        for (text, at, why) in [
            ("[]", "", "a JSON object"),
            (r#"{"Statement": []"#, "", "not a JSON policy document"),
            (
                r#"{"Version": "2020-01-01", "Statement": []}"#,
                "Version",
                "expected",
            ),
            (
                r#"{"Statement": [], "Extra": 1}"#,
                "Extra",
                "unknown element",
            ),
            (r#"{"Version": "2012-10-17"}"#, "Statement", "missing"),
            (
                r#"{"Statement": 5}"#,
                "Statement",
                "expected an object or an array",
            ),
        ] {
            let e = PolicyDocument::parse(text).unwrap_err();
            assert_eq!(
                (e.at.as_str(), e.message.contains(why)),
                (at, true),
                "{text}: {e}"
            );
        }
        let statements = [
            (
                r#"{"Effect": "allow", "Principal": "*", "Action": "a", "Resource": "*"}"#,
                "Effect",
            ),
            (
                r#"{"Effect": "Allow", "Action": "a", "Resource": "*"}"#,
                "no Principal",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "me", "Action": "a", "Resource": "*"}"#,
                "Principal",
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"}, "Action": "a", "Resource": "*"}"#,
                "no wildcard",
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": []}, "Action": "a", "Resource": "*"}"#,
                "empty list",
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"Robot": "x"}, "Action": "a", "Resource": "*"}"#,
                "unknown principal type",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "NotPrincipal": "*", "Action": "a", "Resource": "*"}"#,
                "both Principal",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "a", "NotAction": "b", "Resource": "*"}"#,
                "both Action",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "a"}"#,
                "no Resource",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": 3, "Resource": "*"}"#,
                "Action",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "a", "Resource": "*", "Condition": {"Bool": {"k": {"x": 1}}}}"#,
                "Condition.Bool.k",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "a", "Resource": "*", "Effects": "Deny"}"#,
                "unknown element",
            ),
            ("7", "expected an object"),
        ];
        for (st, why) in statements {
            let d = doc(&format!("[{st}]"));
            assert!(d.statements.is_empty(), "{st}");
            let e = &d.unreadable[0];
            assert!(e.to_string().contains(why), "{st}: {e}");
            assert!(e.at.starts_with("Statement[0]"), "{e}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_not_resolved_by_order() {
        let e = PolicyDocument::parse(
            r#"{"Statement": [{"Effect": "Deny", "Effect": "Allow", "Principal": "*",
                "Action": "kms:Decrypt", "Resource": "*"}]}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("\"Effect\" appears twice"), "{e}");
    }

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        for action in [
            "kms:Decrypt",
            "KMS:decrypt",
            "kms:*",
            "kms:De*",
            "kms:?ecrypt",
            "*",
        ] {
            let d = doc(&format!(
                r#"{{"Effect": "Allow", "Principal": {{"AWS": "111122223333"}}, "Action": "{action}", "Resource": "*"}}"#
            ));
            assert_eq!(
                d.who_can("kms:Decrypt", Target::Resource(KEY))
                    .grantees
                    .len(),
                1,
                "{action}"
            );
        }
        let d = doc(
            r#"{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:Encrypt", "Resource": "*"}"#,
        );
        assert!(
            d.who_can("kms:Decrypt", Target::Resource(KEY))
                .grantees
                .is_empty()
        );
        // NotAction grants everything it does not name.
        let d = doc(
            r#"{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"}"#,
        );
        assert_eq!(
            d.who_can("kms:Decrypt", Target::Resource(KEY))
                .grantees
                .len(),
            1
        );
        let d = doc(
            r#"{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "NotAction": "kms:*", "Resource": "*"}"#,
        );
        assert!(
            d.who_can("kms:Decrypt", Target::Resource(KEY))
                .grantees
                .is_empty()
        );
    }

    #[test]
    fn resources_select_the_folder_whole_or_in_part() {
        let d = doc(r#"[
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/All"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Page"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/secure/results/JOB/1"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Other"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/exports/*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Rest"}, "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::acme-results/exports/*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Bucket"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results"}
        ]"#);
        let a = d.who_can("s3:GetObject", Target::ObjectsUnder(FOLDER));
        let got: Vec<(String, Cover)> = a
            .grantees
            .iter()
            .map(|g| (g.principal.to_string(), g.scope))
            .collect();
        assert_eq!(
            got,
            [
                ("arn:aws:iam::111122223333:role/All".to_string(), Cover::All),
                (
                    "arn:aws:iam::111122223333:role/Page".to_string(),
                    Cover::Maybe
                ),
                (
                    "arn:aws:iam::111122223333:role/Rest".to_string(),
                    Cover::All
                ),
            ]
        );
    }

    #[test]
    fn an_unconditional_deny_takes_out_what_it_surely_covers() {
        let d = doc(r#"[
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/Reader", "arn:aws:iam::111122223333:role/Pipeline", "arn:aws:iam::444455556666:root"]}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Sid": "NoReaderSessions", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Reader"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "OnlyViaS3", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Pipeline"}, "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}
        ]"#);
        let a = d.who_can("kms:Decrypt", Target::Resource(KEY));
        assert_eq!(
            names(&a),
            [
                "arn:aws:iam::111122223333:role/Pipeline",
                "arn:aws:iam::444455556666:root"
            ]
        );
        assert_eq!(a.denied.len(), 1);
        assert_eq!(a.denied[0].by.sid.as_deref(), Some("NoReaderSessions"));
        // A conditional deny is not evaluated: the grant stays, limited by it.
        assert_eq!(a.grantees[0].limited_by[0].index, 3);
        assert!(a.grantees[0].restricted());
        assert!(!a.grantees[1].restricted());
    }

    #[test]
    fn a_role_deny_covers_its_sessions_and_an_account_deny_its_principals() {
        let allow_session = r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/Reader/s1"}, "Action": "kms:Decrypt", "Resource": "*"}"#;
        let deny = |who: &str| {
            format!(
                r#"[{allow_session}, {{"Effect": "Deny", "Principal": {{"AWS": "{who}"}}, "Action": "kms:Decrypt", "Resource": "*"}}]"#
            )
        };
        for (who, denied) in [
            ("arn:aws:iam::111122223333:role/ops/Reader", true),
            ("111122223333", true),
            ("arn:aws:iam::111122223333:root", true),
            ("arn:aws:iam::111122223333:role/Writer", false),
            ("444455556666", false),
            ("*", true),
        ] {
            let a = doc(&deny(who)).who_can("kms:Decrypt", Target::Resource(KEY));
            assert_eq!(a.grantees.is_empty(), denied, "{who}");
        }
    }

    #[test]
    fn denying_some_of_everyone_leaves_everyone_else() {
        let d = doc(r#"[
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/*"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/mallory"}, "Action": "s3:*", "Resource": "arn:aws:s3:::acme-results/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/secure/results/JOB/2"}
        ]"#);
        let a = d.who_can("s3:GetObject", Target::ObjectsUnder(FOLDER));
        assert_eq!(a.grantees.len(), 1);
        let g = &a.grantees[0];
        assert_eq!(g.principal, PolicyPrincipal::Everyone);
        assert_eq!(g.except, [arn("arn:aws:iam::111122223333:user/mallory")]);
        // Denying one object of the folder does not take the folder away.
        assert_eq!(g.limited_by[0].index, 3);
    }

    #[test]
    fn not_principal_allows_everyone_but_and_denies_everyone_but() {
        let d = doc(
            r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/mallory"}, "Action": "kms:Decrypt", "Resource": "*"}"#,
        );
        let a = d.who_can("kms:Decrypt", Target::Resource(KEY));
        assert_eq!(a.grantees[0].principal, PolicyPrincipal::Everyone);
        assert_eq!(
            a.grantees[0].except,
            [arn("arn:aws:iam::111122223333:user/mallory")]
        );
        let d = doc(r#"[
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/Reader", "arn:aws:iam::111122223333:user/bob"]}, "Action": "kms:Decrypt", "Resource": "*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:role/Reader"]}, "Action": "kms:Decrypt", "Resource": "*"}
        ]"#);
        let a = d.who_can("kms:Decrypt", Target::Resource(KEY));
        assert_eq!(names(&a), ["arn:aws:iam::111122223333:role/Reader"]);
        assert_eq!(a.grantees[0].limited_by.len(), 1);
    }

    #[test]
    fn policy_variables_make_a_grant_partial_and_a_deny_uncertain() {
        let d = doc(r#"[
            {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/${aws:username}/*"},
            {"Effect": "Deny", "Principal": {"AWS": "111122223333"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-results/${aws:PrincipalTag/team}*"}
        ]"#);
        let a = d.who_can("s3:GetObject", Target::ObjectsUnder(FOLDER));
        assert_eq!(a.grantees[0].scope, Cover::Maybe);
        assert_eq!(a.grantees[0].limited_by.len(), 1);
    }

    #[test]
    fn full_access_means_every_action_of_the_service() {
        let d = doc(r#"[
            {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "star", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Ops"}, "Action": "*", "Resource": "*"},
            {"Sid": "not", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Not"}, "NotAction": "s3:*", "Resource": "*"},
            {"Sid": "user", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/User"}, "Action": ["kms:Decrypt", "kms:Encrypt", "kms:Get*"], "Resource": "*"}
        ]"#);
        let sids: Vec<_> = d
            .full_access("kms", Target::Resource(KEY))
            .into_iter()
            .map(|g| g.statement.sid.unwrap())
            .collect();
        assert_eq!(sids, ["root", "star", "not"]);
    }

    #[test]
    fn conditions_are_kept_as_written() {
        let d = doc(
            r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": ["s3.us-east-1.amazonaws.com"]},
                              "Bool": {"aws:SecureTransport": true}}}"#,
        );
        let g = &d.who_can("kms:Decrypt", Target::Resource(KEY)).grantees[0];
        let text: Vec<String> = g.conditions.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "StringEquals kms:CallerAccount [111122223333]",
                "StringEquals kms:ViaService [s3.us-east-1.amazonaws.com]",
                "Bool aws:SecureTransport [true]"
            ]
        );
        assert!(g.restricted());
    }
}
