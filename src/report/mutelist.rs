//! Stage 4 (report): the mute list, parsed raw, validated into [`Mutelist`], applied once.
//!
//! A mute entry suppresses FAIL and INCONCLUSIVE findings from a job's verdict and the exit
//! code without hiding them: muted findings keep their status and say why they are muted.
//! Rules never see the mute list; [`crate::report::build`] applies it in one place and
//! reports every entry's outcome (applied, expired, stale), the way cargo-deny reports
//! allow-list entries that matched nothing.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::entry_file::EntryState;
use crate::entry_file::{EntryFile, EntryFileError};
use crate::model::expiry;
use crate::rules::RuleSet;

/// One `[[mute]]` entry as written (every field checked for its type, unknown ones refused).
#[derive(Debug, Default)]
struct RawEntry {
    account: Option<String>,
    region: Option<String>,
    job_id: Option<String>,
    bucket: Option<String>,
    rule: Option<String>,
    reason: Option<String>,
    /// A TOML date or date-time, or a string holding an RFC 3339 date or date-time.
    expires: Option<toml::Value>,
}

/// A pattern: literal text where `*` matches any run of characters (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pattern(pub(super) String);

impl Pattern {
    pub fn matches(&self, value: &str) -> bool {
        glob(self.0.as_bytes(), value.as_bytes())
    }

    /// Only `*`s: matches every value.
    fn is_universal(&self) -> bool {
        self.0.bytes().all(|b| b == b'*')
    }

    /// No `*`: names one value.
    fn is_literal(&self) -> bool {
        !self.0.contains('*')
    }
}

/// `*`-only glob, iterative with one backtrack point (linear in practice).
fn glob(p: &[u8], v: &[u8]) -> bool {
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A validated mute entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MuteEntry {
    /// 1-based position in the file.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<Pattern>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Pattern>,
    pub reason: String,
    /// The first instant the entry no longer mutes (a date `D` means the end of `D`, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// What a finding is matched on. A field the finding does not have (no bucket, unknown
/// account) never matches an entry that names that field.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub job_id: &'a str,
    pub bucket: Option<&'a str>,
    pub rule: &'a str,
    /// An INCONCLUSIVE finding of an evidence rule (`evidence-*`): evidence that is missing,
    /// unreadable or contradicts itself. Only an entry naming that rule literally mutes it,
    /// never a wildcard or an entry without `rule`.
    pub evidence_gap: bool,
}

impl MuteEntry {
    /// All the fields the entry gives match the subject.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        let field = |p: &Option<Pattern>, v: Option<&str>| match p {
            None => true,
            Some(p) => v.is_some_and(|v| p.matches(v)),
        };
        if s.evidence_gap && !self.rule.as_ref().is_some_and(Pattern::is_literal) {
            return false;
        }
        field(&self.account, s.account)
            && field(&self.region, s.region)
            && field(&self.job_id, Some(s.job_id))
            && field(&self.bucket, s.bucket)
            && field(&self.rule, Some(s.rule))
    }

    /// Whether the entry still mutes at `at`.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.expires.is_none_or(|e| at < e)
    }
}

/// A validated mute list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutelist {
    /// Where it was read from, as given.
    pub file: String,
    pub entries: Vec<MuteEntry>,
}

impl Mutelist {
    /// Reads and validates a mute list file.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<Mutelist, EntryFileError> {
        let text = EntryFile {
            path,
            table: "mute",
        }
        .read()?;
        Self::parse(path, &text, rules)
    }

    /// Validates mute list text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str, rules: &RuleSet) -> Result<Mutelist, EntryFileError> {
        let file = EntryFile {
            path,
            table: "mute",
        };
        let tables = file.entries(text)?;
        let mut entries = Vec::with_capacity(tables.len());
        for (i, table) in tables.into_iter().enumerate() {
            let index = i + 1;
            let err = |field: Option<&str>, message: String| file.error(index, field, message);
            let mut raw = RawEntry::default();
            for (key, value) in table {
                let text = |v: toml::Value| match v {
                    toml::Value::String(s) => Ok(Some(s)),
                    other => Err(err(
                        Some(&key),
                        format!("expected a string, found a {}", other.type_str()),
                    )),
                };
                match key.as_str() {
                    "account" => raw.account = text(value)?,
                    "region" => raw.region = text(value)?,
                    "job_id" => raw.job_id = text(value)?,
                    "bucket" => raw.bucket = text(value)?,
                    "rule" => raw.rule = text(value)?,
                    "reason" => raw.reason = text(value)?,
                    "expires" => raw.expires = Some(value),
                    _ => {
                        return Err(err(
                            Some(&key),
                            "unknown field; expected one of account, region, job_id, bucket, \
                             rule, reason, expires"
                                .into(),
                        ));
                    }
                }
            }
            let reason = raw
                .reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .ok_or_else(|| err(Some("reason"), "a non-empty reason is required".into()))?;
            let pattern = |field: &'static str, v: Option<String>| -> Result<_, EntryFileError> {
                match v {
                    Some(v) if v.is_empty() => {
                        Err(err(Some(field), "must not be empty (leave it out)".into()))
                    }
                    v => Ok(v.map(Pattern)),
                }
            };
            if let Some(a) = &raw.account
                && !a.bytes().all(|b| b.is_ascii_digit() || b == b'*')
            {
                return Err(err(
                    Some("account"),
                    format!("{a:?} is not a 12-digit account id or a pattern of one"),
                ));
            }
            if let Some(r) = &raw.rule
                && !r.contains('*')
                && rules.get(r).is_none()
            {
                return Err(err(
                    Some("rule"),
                    format!("no rule {r:?} (`textract-audit rules` lists them)"),
                ));
            }
            let entry = MuteEntry {
                index,
                account: pattern("account", raw.account)?,
                region: pattern("region", raw.region)?,
                job_id: pattern("job_id", raw.job_id)?,
                bucket: pattern("bucket", raw.bucket)?,
                rule: pattern("rule", raw.rule)?,
                reason,
                expires: raw
                    .expires
                    .map(|v| expiry(&v).map_err(|m| err(Some("expires"), m)))
                    .transpose()?,
            };
            // `rule = "*"` (or only `*` anywhere) matches everything as surely as no field.
            if [
                &entry.account,
                &entry.region,
                &entry.job_id,
                &entry.bucket,
                &entry.rule,
            ]
            .iter()
            .all(|p| p.as_ref().is_none_or(Pattern::is_universal))
            {
                return Err(err(
                    None,
                    "give at least one of account, region, job_id, bucket, rule that is not \
                     only `*` (an entry matching everything would mute the whole report)"
                        .into(),
                ));
            }
            entries.push(entry);
        }
        Ok(Mutelist {
            file: path.display().to_string(),
            entries,
        })
    }
}

/// Why a finding is muted, as the JSON carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Muted {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// The `[[mute]]` entry (1-based) that muted it.
    pub entry: usize,
}

/// One entry's outcome, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryOutcome {
    #[serde(flatten)]
    pub entry: MuteEntry,
    pub state: EntryState,
    /// FAIL and INCONCLUSIVE findings the entry's fields match.
    pub matched: usize,
    /// Findings this entry muted (an earlier matching entry mutes first).
    pub muted: usize,
}

/// The mute list's part of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MutelistReport {
    pub file: String,
    /// Expiry is judged at this time: the report's `generated_at`, the run's time.
    pub evaluated_at: DateTime<Utc>,
    pub entries: Vec<EntryOutcome>,
}

/// Applies a mute list to findings one at a time, keeping the per-entry counts.
pub struct Applier<'a> {
    list: &'a Mutelist,
    at: DateTime<Utc>,
    matched: Vec<usize>,
    muted: Vec<usize>,
}

impl<'a> Applier<'a> {
    pub fn new(list: &'a Mutelist, at: DateTime<Utc>) -> Self {
        Applier {
            list,
            at,
            matched: vec![0; list.entries.len()],
            muted: vec![0; list.entries.len()],
        }
    }

    /// The first active entry (in file order) matching the subject. Every matching entry,
    /// active or expired, is counted, so an expired entry says what it would still mute.
    pub fn apply(&mut self, s: &Subject<'_>) -> Option<Muted> {
        let mut muted = None;
        for (i, e) in self.list.entries.iter().enumerate() {
            if e.matches(s) {
                self.matched[i] += 1;
                if muted.is_none() && e.active_at(self.at) {
                    self.muted[i] += 1;
                    muted = Some(Muted {
                        reason: e.reason.clone(),
                        expires: e.expires,
                        entry: e.index,
                    });
                }
            }
        }
        muted
    }

    pub fn finish(self) -> MutelistReport {
        let entries = self
            .list
            .entries
            .iter()
            .zip(self.matched.into_iter().zip(self.muted))
            .map(|(e, (matched, muted))| EntryOutcome {
                state: EntryState::of(e.active_at(self.at), matched, muted),
                entry: e.clone(),
                matched,
                muted,
            })
            .collect();
        MutelistReport {
            file: self.list.file.clone(),
            evaluated_at: self.at,
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn parse(text: &str) -> Result<Mutelist, String> {
        Mutelist::parse(Path::new("mute.toml"), text, &rules()).map_err(|e| e.to_string())
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn globs() {
        let p = |s: &str| Pattern(s.into());
        assert!(p("us-*").matches("us-east-1"));
        assert!(!p("us-*").matches("eu-west-1"));
        assert!(p("*").matches(""));
        assert!(p("a*c*e").matches("abcde"));
        assert!(!p("a*c*e").matches("abcdf"));
        assert!(p("exact").matches("exact"));
        assert!(!p("exact").matches("exactly"));
    }

    #[test]
    fn a_valid_list_parses_dates_and_times() {
        let m = parse(
            r#"
            [[mute]]
            rule = "evidence-kms-events"
            region = "us-*"
            reason = "KMS events excluded on purpose (SEC-12)"
            expires = 2026-12-31

            [[mute]]
            bucket = "acme-*"
            reason = "migration"
            expires = "2026-11-20T10:30:00Z"
            "#,
        )
        .unwrap();
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.entries[0].expires, Some(at("2027-01-01T00:00:00Z")));
        assert_eq!(m.entries[1].expires, Some(at("2026-11-20T10:30:00Z")));
        assert_eq!(m.entries[1].index, 2);
    }

    #[test]
    fn errors_name_the_file_entry_and_field() {
        let cases = [
            (
                "[[mute]]\nrule = \"documented-mode\"\nreason = \"x\"\n[[mute]]\nrule = \"documented-mode\"\nresaon = \"x\"\n",
                "mute.toml: [[mute]] entry 2, field `resaon`",
            ),
            (
                "[[mute]]\nrule = \"documented-mode\"\n",
                "entry 1, field `reason`: a non-empty reason is required",
            ),
            (
                "[[mute]]\nrule = \"no-such-rule\"\nreason = \"x\"\n",
                "entry 1, field `rule`: no rule \"no-such-rule\"",
            ),
            (
                "[[mute]]\naccount = \"acme\"\nreason = \"x\"\n",
                "entry 1, field `account`",
            ),
            (
                "[[mute]]\nrule = \"documented-mode\"\nreason = \"x\"\nexpires = \"next week\"\n",
                "entry 1, field `expires`: \"next week\" is not an RFC 3339 date",
            ),
            (
                "[[mute]]\nreason = \"everything\"\n",
                "entry 1: give at least one of",
            ),
            (
                "[[mute]]\nrule = 3\nreason = \"x\"\n",
                "entry 1, field `rule`",
            ),
            ("[mutes]\n", "unknown top-level key `mutes`"),
            ("[[mute]\n", "mute.toml:1: not valid TOML"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_wildcard_rule_neither_gets_round_the_guard_nor_mutes_evidence_gaps() {
        for only_stars in ["rule = \"*\"", "rule = \"**\"\njob_id = \"*\""] {
            let err = parse(&format!("[[mute]]\n{only_stars}\nreason = \"x\"\n")).unwrap_err();
            assert!(err.to_string().contains("everything"), "{err}");
        }
        let m = parse(
            "[[mute]]\nrule = \"*\"\njob_id = \"j\"\nreason = \"x\"\n\
             [[mute]]\nrule = \"evidence-readable\"\njob_id = \"j\"\nreason = \"y\"\n",
        )
        .unwrap();
        let gap = Subject {
            job_id: "j",
            rule: "evidence-readable",
            evidence_gap: true,
            ..Subject::default()
        };
        assert!(!m.entries[0].matches(&gap));
        assert!(m.entries[1].matches(&gap), "a literal rule may mute it");
        assert!(m.entries[0].matches(&Subject {
            evidence_gap: false,
            ..gap
        }));
    }

    #[test]
    fn all_given_fields_must_match() {
        let m =
            parse("[[mute]]\nrule = \"documented-mode\"\nbucket = \"acme-*\"\nreason = \"x\"\n")
                .unwrap();
        let e = &m.entries[0];
        let s = Subject {
            job_id: "j",
            rule: "documented-mode",
            bucket: Some("acme-results"),
            ..Subject::default()
        };
        assert!(e.matches(&s));
        assert!(!e.matches(&Subject {
            bucket: Some("other"),
            ..s
        }));
        assert!(
            !e.matches(&Subject { bucket: None, ..s }),
            "unknown never matches"
        );
        assert!(!e.matches(&Subject {
            rule: "requested-cmk",
            ..s
        }));
    }

    #[test]
    fn applier_counts_applied_expired_and_stale() {
        let m = parse(
            r#"
            [[mute]]
            job_id = "j1"
            reason = "live"
            [[mute]]
            job_id = "j1"
            reason = "old"
            expires = 2020-01-01
            [[mute]]
            job_id = "j9"
            reason = "gone"
            "#,
        )
        .unwrap();
        let mut a = Applier::new(&m, at("2026-11-20T11:00:00Z"));
        let s = Subject {
            job_id: "j1",
            rule: "documented-mode",
            ..Subject::default()
        };
        let muted = a.apply(&s).unwrap();
        assert_eq!((muted.reason.as_str(), muted.entry), ("live", 1));
        let r = a.finish();
        let states: Vec<_> = r.entries.iter().map(|e| (e.state, e.matched)).collect();
        assert_eq!(
            states,
            [
                (EntryState::Applied, 1),
                (EntryState::Expired, 1),
                (EntryState::Stale, 0)
            ]
        );
    }

    #[test]
    fn an_expired_entry_does_not_mute() {
        let m = parse("[[mute]]\njob_id = \"j1\"\nreason = \"x\"\nexpires = 2026-11-19\n").unwrap();
        let s = Subject {
            job_id: "j1",
            rule: "documented-mode",
            ..Subject::default()
        };
        assert!(
            Applier::new(&m, at("2026-11-19T23:59:59Z"))
                .apply(&s)
                .is_some()
        );
        assert!(
            Applier::new(&m, at("2026-11-20T00:00:00Z"))
                .apply(&s)
                .is_none()
        );
    }
}
