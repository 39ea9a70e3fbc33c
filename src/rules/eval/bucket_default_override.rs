//! `bucket-default-override`: see `rules/bucket-default-override.toml` for what it checks and why.

use crate::facts::SseApplied;
use crate::model::Reading;
use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::{Comparison, compare, describe, in_bucket, na, on, outcome, textract_objects};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(exp) = in_bucket(expected) else {
        return na("no OutputConfig: no bucket involved");
    };
    let mut out = Vec::new();
    for o in textract_objects(t) {
        let Some(w) = o.textract_write() else {
            continue;
        };
        let unknown = match &w.sse_applied {
            Reading::Read(a) => Err(a),
            Reading::Unrecognised(v) => Ok(format!(
                "SSEApplied {v} is not a value this tool recognises"
            )),
            Reading::Absent => Ok("record has no SSEApplied".to_owned()),
        };
        let applied = match unknown {
            Err(a) => a,
            Ok(why) => {
                out.push(on(
                    o,
                    outcome(
                        Status::Inconclusive,
                        format!("{} {why}: who chose the encryption is unknown", w.operation),
                        vec![w.event.clone()],
                    ),
                ));
                continue;
            }
        };
        let by_default = matches!(applied, SseApplied::Default(_));
        let applied = applied.value();
        if !by_default {
            out.push(on(
                o,
                outcome(
                    Status::Pass,
                    format!("SSEApplied {applied}: the request chose the encryption"),
                    vec![w.event.clone()],
                ),
            ));
            continue;
        }
        let seen = describe(&w.sse, w.key.as_ref());
        let mut res = match compare(exp, &w.sse, w.key.as_ref()) {
            Comparison::Unrecognised(v) => outcome(
                Status::Inconclusive,
                format!("SSEApplied {applied}: encryption {v} is not a value this tool recognises"),
                vec![w.event.clone()],
            ),
            Comparison::Match => outcome(
                Status::Pass,
                format!(
                    "SSEApplied {applied}: the bucket default chose {seen}, which is the documented mode"
                ),
                vec![w.event.clone()],
            ),
            c => {
                let mut x = outcome(
                    Status::Fail,
                    format!(
                        "SSEApplied {applied}: the bucket default chose {seen} instead of the documented {}",
                        exp.row.documented
                    ),
                    vec![w.event.clone()],
                );
                x.stronger = matches!(c, Comparison::Stronger | Comparison::AwsS3ForSseS3);
                x
            }
        };
        res.object = Some(o.object.uri());
        out.push(res);
    }
    if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no write records for the results (see evidence-data-events)",
            vec![],
        ));
    }
    out
}
