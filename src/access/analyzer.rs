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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::policy::PolicyDocument;
    use crate::access::possible::DECRYPT;
    use crate::model::AnalyzerReason;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k";

    fn answer(result: &str) -> Result<AnalyzerAnswer, CallError> {
        Ok(AnalyzerAnswer {
            result: result.into(),
            message: None,
            reasons: vec![AnalyzerReason {
                description: Some("d".into()),
                statement_index: Some(0),
                statement_id: Some("Open".into()),
            }],
        })
    }

    fn read(policy: &str) -> Answer {
        let doc = PolicyDocument::parse(policy).unwrap();
        Answer::Read {
            document: "key policy".into(),
            access: doc.who_can(DECRYPT, crate::access::policy::Target::Resource(KEY)),
            unreadable: doc.unreadable,
        }
    }

    #[test]
    fn a_pass_never_hides_a_static_flag_and_a_fail_is_flagged() {
        let open = r#"{"Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}"#;
        let static_flag = || {
            let doc = PolicyDocument::parse(open).unwrap();
            let g = doc.who_can(DECRYPT, crate::access::policy::Target::Resource(KEY));
            vec![Flag::Everyone {
                document: "key policy".into(),
                grantee: g.grantees[0].clone(),
                mitigated_by: None,
            }]
        };
        let checks = |public: &str, granted: &str| PolicyChecks {
            no_public_access: Some(answer(public)),
            access_not_granted: Some(answer(granted)),
        };
        // PASS against a static `*`: both kept, a conflict said.
        let mut flags = static_flag();
        let r = compare(
            "key policy",
            &checks("PASS", "FAIL"),
            &read(open),
            DECRYPT,
            KEY,
            true,
            &mut flags,
        );
        let kinds: Vec<&str> = flags.iter().map(Flag::kind).collect();
        assert_eq!(kinds, ["everyone", "analyzer-conflict"]);
        assert!(
            r[0].line()
                .starts_with("Access Analyzer's answer, CheckNoPublicAccess")
        );
        assert!(
            r[1].line().contains("statement 1 (\"Open\"): d"),
            "{}",
            r[1].line()
        );
        // FAIL in agreement: flagged, no conflict.
        let mut flags = static_flag();
        compare(
            "key policy",
            &checks("FAIL", "FAIL"),
            &read(open),
            DECRYPT,
            KEY,
            true,
            &mut flags,
        );
        let kinds: Vec<&str> = flags.iter().map(Flag::kind).collect();
        assert_eq!(kinds, ["everyone", "analyzer-says-public"]);
        // Not granted by the analyzer, granted by the static reading: a conflict.
        let mut flags = static_flag();
        compare(
            "key policy",
            &checks("FAIL", "PASS"),
            &read(open),
            DECRYPT,
            KEY,
            true,
            &mut flags,
        );
        assert!(flags.iter().any(|f| matches!(
            f,
            Flag::AnalyzerConflict {
                check: "CheckAccessNotGranted",
                ..
            }
        )));
        // A failed call: said by name, the static reading stands.
        let failed = PolicyChecks {
            no_public_access: Some(Err(CallError {
                code: "AccessDeniedException".into(),
                message: "no".into(),
            })),
            access_not_granted: None,
        };
        let mut flags = static_flag();
        let r = compare(
            "key policy",
            &failed,
            &read(open),
            DECRYPT,
            KEY,
            true,
            &mut flags,
        );
        assert_eq!(flags.len(), 1);
        assert!(r[0].line().contains("CheckNoPublicAccess (key policy: can it grant public access) failed: AccessDeniedException: no; the static reading stands"), "{}", r[0].line());
    }
}
