//! Stage 3: rules, loaded from `rules/*.toml` and evaluated against job timelines.
//!
//! Rule files are parsed raw, then validated into [`RuleSet`] (unique ids, one evaluator per
//! rule, exactly one documented table with all four rows); evaluators only ever see the
//! validated form. Evaluators say *what* happened ([`Outcome`]); this module alone turns that
//! into a [`Finding`] with the rule's severity.
//!
//! Adding a rule `my-rule` is, and nothing else needs to be kept in sync:
//!
//! 1. `rules/my-rule.toml`: id, title, severity, rationale, remediation, references;
//! 2. `src/rules/eval/my_rule.rs`: `pub(super) fn evaluate(Option<&Expected>, &JobTimeline) ->
//!    Vec<Outcome>`, pure, with its own wording (shared helpers are in `eval/mod.rs`);
//! 3. one line `my_rule => "my-rule",` in `register_rules!` (`src/rules/eval/mod.rs`), from
//!    which the file name, its compiled-in text, the evaluator and the list of ids derive;
//! 4. a fixture under `fixtures/` that makes it fail or go inconclusive, with its
//!    `expected.json` (the CLI tests check that every rule both passes and fires somewhere).
//!
//! A registered rule without its file does not compile; a file in `rules/` that is not
//! registered fails `every_file_in_rules_dir_is_compiled_in`.

mod eval;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::readers_allowed::{self, Checker};
use crate::model::EvidenceRef;
use crate::timeline::{JobTimeline, ResolvedKey};

/// Ordered severities (SARIF and `--fail-on` map from these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        })
    }
}

/// A finding's status. Ordered so that the worst is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The rule does not apply to this job (e.g. no KMS key involved).
    NotApplicable,
    Pass,
    Inconclusive,
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::NotApplicable => "n/a",
            Status::Pass => "PASS",
            Status::Inconclusive => "INCONCLUSIVE",
            Status::Fail => "FAIL",
        })
    }
}

/// A rule file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    title: String,
    severity: Severity,
    severity_if_stronger: Option<Severity>,
    rationale: String,
    remediation: String,
    references: Vec<String>,
    #[serde(default)]
    table: Vec<TableRow>,
}

/// A validated rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_if_stronger: Option<Severity>,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<String>,
    /// The file the rule came from.
    pub file: String,
}

/// Where the documented table says results are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentedLocation {
    Textract,
    CustomerBucket,
}

/// How the documented table says results are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentedEncryption {
    AwsOwnedKey,
    SseS3,
    RequestedCmk,
}

/// One row of the documented OutputConfig x KMSKeyId table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRow {
    pub output_config: bool,
    pub kms_key: bool,
    pub location: DocumentedLocation,
    pub encryption: DocumentedEncryption,
    pub documented: String,
}

/// What the table says a job's results should be, given what it asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Expected {
    pub row: TableRow,
    /// `s3://bucket/prefix/JobId/` for the customer-bucket rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The requested key, resolved, for the CMK rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<ResolvedKey>,
}

/// Why the rule files are not usable.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rules/{file}: {cause}")]
    Parse {
        file: String,
        cause: toml::de::Error,
    },
    #[error("rules/{file}: {message}")]
    Invalid { file: String, message: String },
}

/// All rules and the documented table, validated.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub table: Vec<TableRow>,
    /// SHA-256 over the rule files' names and contents: which rules judged a report.
    pub sha256: String,
}

impl RuleSet {
    /// The rules compiled into this binary.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        Self::from_files(
            eval::REGISTRY
                .iter()
                .map(|r| (r.file.to_owned(), r.text.to_owned())),
        )
    }

    /// Parses and validates rule files given as `(file name, contents)`.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<RuleSet, RuleError> {
        let mut rules = Vec::new();
        let mut table: Option<(String, Vec<TableRow>)> = None;
        let mut ids = BTreeSet::new();
        let mut hash = Sha256::new();
        for (file, text) in files {
            hash.update(file.as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
            let raw: RawRule = toml::from_str(&text).map_err(|cause| RuleError::Parse {
                file: file.clone(),
                cause,
            })?;
            let invalid = |message: String| RuleError::Invalid {
                file: file.clone(),
                message,
            };
            if !ids.insert(raw.id.clone()) {
                return Err(invalid(format!("duplicate rule id {:?}", raw.id)));
            }
            if format!("{}.toml", raw.id) != file {
                return Err(invalid(format!(
                    "rule id {:?} must match the file name",
                    raw.id
                )));
            }
            if eval::evaluator(&raw.id).is_none() {
                return Err(invalid(format!("no evaluator for rule id {:?}", raw.id)));
            }
            if raw.references.is_empty()
                || raw.rationale.trim().is_empty()
                || raw.remediation.trim().is_empty()
            {
                return Err(invalid(
                    "rationale, remediation and references are required".into(),
                ));
            }
            if !raw.table.is_empty() {
                if let Some((other, _)) = &table {
                    return Err(invalid(format!(
                        "a documented table is already defined in {other}"
                    )));
                }
                validate_table(&raw.table).map_err(&invalid)?;
                table = Some((file.clone(), raw.table.clone()));
            }
            rules.push(Rule {
                id: raw.id,
                title: raw.title,
                severity: raw.severity,
                severity_if_stronger: raw.severity_if_stronger,
                rationale: raw.rationale.trim().to_owned(),
                remediation: raw.remediation.trim().to_owned(),
                references: raw.references,
                file,
            });
        }
        for id in eval::REGISTRY.iter().map(|r| r.id) {
            if !ids.contains(id) {
                return Err(RuleError::Invalid {
                    file: format!("{id}.toml"),
                    message: "an evaluator exists but its rule file does not".into(),
                });
            }
        }
        let Some((_, table)) = table else {
            return Err(RuleError::Invalid {
                file: "*.toml".into(),
                message: "no rule defines the documented table ([[table]])".into(),
            });
        };
        Ok(RuleSet {
            rules,
            table,
            sha256: hex::encode(hash.finalize()),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The row of the documented table (numbered from 1) for a job with or without
    /// `OutputConfig` and `KMSKeyId`.
    pub fn documented_row(&self, output_config: bool, kms_key: bool) -> Option<(usize, &TableRow)> {
        self.table
            .iter()
            .enumerate()
            .find(|(_, row)| row.output_config == output_config && row.kms_key == kms_key)
            .map(|(i, row)| (i + 1, row))
    }

    /// The documented outcome for a job, from what its `Start*` record asked for.
    pub fn expected(&self, t: &JobTimeline) -> Option<Expected> {
        let r = t.request.as_ref()?;
        let (_, row) = self.documented_row(r.output.is_some(), r.kms_key.is_some())?;
        let row = row.clone();
        Some(Expected {
            location: r
                .output
                .as_ref()
                .map(|o| format!("s3://{}/{}", o.bucket, o.job_prefix(&t.job_id))),
            key: r.kms_key.clone(),
            row,
        })
    }

    /// Evaluates every rule against one job.
    pub fn evaluate(&self, t: &JobTimeline) -> Vec<Finding> {
        self.evaluate_with(t, None)
    }

    /// Evaluates every rule against one job; with `readers`, `readers-allowed` judges the
    /// reads against its allow-list (and counts what the entries did) instead of listing them.
    pub fn evaluate_with(
        &self,
        t: &JobTimeline,
        mut readers: Option<&mut Checker<'_>>,
    ) -> Vec<Finding> {
        let expected = self.expected(t);
        let mut findings = Vec::new();
        for rule in &self.rules {
            let evaluate = eval::evaluator(&rule.id).expect("validated at load");
            let outcomes = match readers.as_deref_mut() {
                Some(checker) if rule.id == readers_allowed::RULE_ID => {
                    eval::readers_allowed::with_checker(t, Some(checker))
                }
                _ => evaluate(expected.as_ref(), t),
            };
            for o in outcomes {
                let severity = match (o.stronger, rule.severity_if_stronger) {
                    (true, Some(s)) => s,
                    _ => rule.severity,
                };
                findings.push(Finding {
                    rule_id: rule.id.clone(),
                    status: o.status,
                    severity,
                    message: o.message,
                    object: o.object,
                    evidence: o.evidence,
                });
            }
        }
        findings
    }
}

fn validate_table(rows: &[TableRow]) -> Result<(), String> {
    for (output, kms) in [(false, false), (true, false), (false, true), (true, true)] {
        let n = rows
            .iter()
            .filter(|r| r.output_config == output && r.kms_key == kms)
            .count();
        if n != 1 {
            return Err(format!(
                "the documented table needs exactly one row for output_config={output}, kms_key={kms} (found {n})"
            ));
        }
    }
    for r in rows {
        let bucket = r.location == DocumentedLocation::CustomerBucket;
        if bucket != r.output_config {
            return Err(format!(
                "row {r:?}: location must be customer-bucket exactly when output_config is true"
            ));
        }
        if (r.encryption == DocumentedEncryption::RequestedCmk) != r.kms_key {
            return Err(format!(
                "row {r:?}: encryption must be requested-cmk exactly when kms_key is true"
            ));
        }
    }
    Ok(())
}

/// What an evaluator found: the facts, no wording of severity.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// A deviation toward stronger protection than documented (mapped to the rule's
    /// `severity_if_stronger`).
    pub stronger: bool,
    pub message: String,
    pub object: Option<String>,
    pub evidence: Vec<EvidenceRef>,
}

/// A rule's verdict on one job (or one object of it), with the evidence behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub status: Status,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub evidence: Vec<EvidenceRef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_and_ids_are_unique() {
        let set = RuleSet::builtin().unwrap();
        assert_eq!(set.rules.len(), eval::REGISTRY.len());
        assert_eq!(set.table.len(), 4);
    }

    #[test]
    fn every_file_in_rules_dir_is_compiled_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = eval::REGISTRY.iter().map(|r| r.file.to_owned()).collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
    }

    fn files_with(replace: &str, with: &str) -> Vec<(String, String)> {
        eval::REGISTRY
            .iter()
            .map(|r| (r.file.to_owned(), r.text.replacen(replace, with, 1)))
            .collect()
    }

    #[test]
    fn a_table_missing_a_row_is_refused() {
        let files = files_with(
            "output_config = true\nkms_key = true",
            "output_config = true\nkms_key = false",
        );
        let err = RuleSet::from_files(files).unwrap_err().to_string();
        assert!(err.contains("documented-mode.toml"), "{err}");
        assert!(err.contains("exactly one row"), "{err}");
    }

    #[test]
    fn unknown_fields_in_a_rule_are_refused_with_the_file_name() {
        let files = files_with(
            "severity = \"low\"",
            "severity = \"low\"\nseverty = \"high\"",
        );
        let err = RuleSet::from_files(files).unwrap_err().to_string();
        assert!(err.contains("row2-aws-managed-key.toml"), "{err}");
    }

    #[test]
    fn a_rule_without_evaluator_is_refused() {
        let mut files = files_with("", "");
        files.push((
            "made-up.toml".into(),
            eval::REGISTRY[1].text.replace("requested-cmk", "made-up"),
        ));
        let err = RuleSet::from_files(files).unwrap_err().to_string();
        assert!(err.contains("no evaluator"), "{err}");
    }

    #[test]
    fn a_registered_rule_without_its_file_is_refused() {
        let files = eval::REGISTRY
            .iter()
            .filter(|r| r.id != "cmk-state")
            .map(|r| (r.file.to_owned(), r.text.to_owned()));
        let err = RuleSet::from_files(files).unwrap_err().to_string();
        assert!(err.contains("cmk-state.toml"), "{err}");
        assert!(err.contains("its rule file does not"), "{err}");
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::High > Severity::Low);
        assert!(Status::Fail > Status::Inconclusive && Status::Inconclusive > Status::Pass);
    }
}
