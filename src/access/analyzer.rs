//! IAM Access Analyzer's answers beside the static reading: shown labelled as its answer,
//! a `FAIL` of `CheckNoPublicAccess` flagged as the static `*` finding is, and a
//! disagreement with the static reading reported as a conflict (both said, neither picked).
//! A check that failed is said by name with its error; the static reading then stands.

use serde::Serialize;

use super::policy::StatementRef;
use super::possible::{Answer, Flag};
use crate::model::{AnalyzerAnswer, CallError, PolicyChecks};

/// One check as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzerReading {
    pub document: String,
    /// `CheckNoPublicAccess` or `CheckAccessNotGranted`.
    pub check: &'static str,
    /// The question put, in words.
    pub asked: String,
    /// `PASS`, `FAIL`, or `failed` (the call failed: `error` says why).
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AnalyzerReading {
    /// The reading in one line, labelled as Access Analyzer's answer (or as the static
    /// reading standing alone when the call failed).
    pub fn line(&self) -> String {
        match &self.error {
            Some(e) => format!(
                "IAM Access Analyzer {} ({}) failed: {e}; the static reading stands, a static \
                 reading only",
                self.check, self.asked
            ),
            None => {
                let mut l = format!(
                    "Access Analyzer's answer, {} ({}): {}",
                    self.check, self.asked, self.result
                );
                if let Some(m) = &self.message {
                    l.push_str(&format!(" ({m})"));
                }
                if !self.reasons.is_empty() {
                    l.push_str(&format!("; {}", self.reasons.join("; ")));
                }
                l
            }
        }
    }
}

/// Readings and flags for one policy: `checks` (Access Analyzer's), `answer` (the static
/// reading of the read action), `flags` (the static flags so far, read for `*` findings).
/// `exact` says whether `CheckAccessNotGranted` asked the static reading's own question (the
/// key) rather than a wider one (every object of the bucket, not only the job's folder).
pub fn compare(
    document: &str,
    checks: &PolicyChecks,
    answer: &Answer,
    action: &str,
    resource: &str,
    exact: bool,
    flags: &mut Vec<Flag>,
) -> Vec<AnalyzerReading> {
    let mut out = Vec::new();
    let everyone_static = flags
        .iter()
        .any(|f| matches!(f, Flag::Everyone { document: d, .. } if d == document));
    let everyone_any = everyone_static
        || flags.iter().any(
            |f| matches!(f, Flag::EveryoneUnderCondition { document: d, .. } if d == document),
        );
    if let Some(r) = &checks.no_public_access {
        let reading = reading(
            document,
            "CheckNoPublicAccess",
            "can it grant public access".into(),
            r,
        );
        if let Ok(a) = r {
            let fail = a.result == "FAIL";
            if fail {
                flags.push(Flag::AnalyzerSaysPublic {
                    document: document.to_owned(),
                    detail: reading.line(),
                });
            }
            let conflict = match fail {
                false if everyone_static => Some(
                    "the static reading finds everyone (*) with no condition; Access Analyzer says PASS",
                ),
                true if !everyone_any => Some(
                    "Access Analyzer says FAIL (public); the static reading finds no everyone (*) grant",
                ),
                _ => None,
            };
            if let Some(c) = conflict {
                flags.push(Flag::AnalyzerConflict {
                    document: document.to_owned(),
                    check: "CheckNoPublicAccess",
                    detail: c.to_owned(),
                });
            }
        }
        out.push(reading);
    }
    if let Some(r) = &checks.access_not_granted {
        let asked = format!("is {action} on {resource} not granted");
        let reading = reading(document, "CheckAccessNotGranted", asked, r);
        if let (
            Ok(a),
            Answer::Read {
                access, unreadable, ..
            },
        ) = (r, answer)
        {
            let static_grants = !access.grantees.is_empty();
            let conflict = match (a.result.as_str(), static_grants) {
                ("PASS", true) => Some(format!(
                    "the static reading finds principals that may {action}; Access Analyzer says PASS (not granted)"
                )),
                ("FAIL", false) if exact && unreadable.is_empty() => Some(format!(
                    "Access Analyzer says FAIL ({action} granted); the static reading finds no principal"
                )),
                _ => None,
            };
            if let Some(c) = conflict {
                flags.push(Flag::AnalyzerConflict {
                    document: document.to_owned(),
                    check: "CheckAccessNotGranted",
                    detail: c,
                });
            }
        }
        out.push(reading);
    }
    out
}

fn reading(
    document: &str,
    check: &'static str,
    asked: String,
    r: &Result<AnalyzerAnswer, CallError>,
) -> AnalyzerReading {
    let base = AnalyzerReading {
        document: document.to_owned(),
        check,
        asked: format!("{document}: {asked}"),
        result: "failed".into(),
        message: None,
        reasons: Vec::new(),
        error: None,
    };
    match r {
        Err(e) => AnalyzerReading {
            error: Some(e.to_string()),
            ..base
        },
        Ok(a) => AnalyzerReading {
            result: a.result.clone(),
            message: a.message.clone(),
            reasons: a
                .reasons
                .iter()
                .map(|x| {
                    let at = match (x.statement_index, &x.statement_id) {
                        (None, None) => "a statement".to_owned(),
                        (Some(i), sid) => StatementRef {
                            index: usize::try_from(i).map_or(0, |i| i + 1),
                            sid: sid.clone(),
                        }
                        .to_string(),
                        (None, Some(id)) => format!("statement {id:?}"),
                    };
                    match &x.description {
                        Some(d) => format!("{at}: {d}"),
                        None => at,
                    }
                })
                .collect(),
            ..base
        },
    }
}
