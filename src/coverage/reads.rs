//! What the CloudTrail evidence can say about the reads of a job's results: whether the
//! trails log S3 read data events on its folder and Textract's read-only `Get*` events, over
//! which window, and which unreadable CloudTrail evidence may hide a read. The input of
//! [`crate::access::readers_allowed`], with the reads the timeline found.

use chrono::{DateTime, Utc};

use super::selectors::EventShape;
use super::{TrailState, trail_state};
use crate::access::readers_allowed::{ReadCoverage, ReadLogging};
use crate::model::{Evidence, TextractApi, bucket_arn, partition_of_region};
use crate::timeline::JobTimeline;
use crate::timeline::problems::{LATE_DELIVERY, ProblemIndex};

/// Before the job is correlated: nothing known.
pub(crate) fn unknown() -> ReadCoverage {
    let unknown = || ReadLogging::Unknown {
        reason: "not yet correlated".into(),
    };
    ReadCoverage {
        s3_reads: unknown(),
        textract_reads: unknown(),
        window: Err("not yet correlated".into()),
        gaps: Vec::new(),
    }
}

fn logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    shape: &EventShape,
) -> ReadLogging {
    match trail_state(evidence, region, start, shape) {
        TrailState::Logged(trail) => ReadLogging::Logged { trail },
        TrailState::NoTrails => ReadLogging::Unknown {
            reason: "no trail configuration in the evidence".into(),
        },
        TrailState::Unknown(why) => ReadLogging::Unknown {
            reason: why.join("; "),
        },
        TrailState::NotLogged { why, selectors } => ReadLogging::NotLogged {
            reason: why.join("; "),
            selectors,
        },
    }
}

/// Whether the CloudTrail evidence could show every read of the job's results since it
/// started: S3 read data events on its folder, Textract's read-only `Get*` events, the window,
/// and the CloudTrail evidence that could not be read from the job's start on.
pub(crate) fn of_job(
    evidence: &Evidence,
    problems: &ProblemIndex,
    t: &JobTimeline,
) -> ReadCoverage {
    let region = super::region_of(evidence, t);
    let region = region.as_deref();
    let start = t.started();
    let partition = partition_of_region(region.unwrap_or_default());
    let s3_reads = match &t.output {
        None => ReadLogging::NotLogged {
            reason: "no output bucket: the results are read from Textract only".into(),
            selectors: Vec::new(),
        },
        Some(out) => {
            let arn = format!(
                "{}/{}1",
                bucket_arn(partition, &out.bucket),
                out.job_prefix(&t.job_id)
            );
            let shape = EventShape {
                category: "Data",
                event_source: "s3.amazonaws.com",
                event_name: "GetObject",
                read_only: true,
                resource: Some(("AWS::S3::Object", &arn)),
            };
            logging(evidence, region, start, &shape)
        }
    };
    let api = t.api.unwrap_or(TextractApi::DocumentAnalysis);
    let textract = EventShape {
        category: "Management",
        event_source: "textract.amazonaws.com",
        event_name: api.get_operation(),
        read_only: true,
        resource: None,
    };
    let window = evidence.cloudtrail_window.ok_or_else(|| {
        "the evidence does not state which time range its CloudTrail records cover".to_owned()
    });
    // Reads may come any time after the start: any unreadable CloudTrail evidence from then
    // on (widened for late delivery, as for the job's own records) may hide one.
    let gaps = problems
        .since(start.map(|s| s - LATE_DELIVERY))
        .into_iter()
        .map(|p| format!("{} could not be used ({})", p.subject, p.reason))
        .collect();
    ReadCoverage {
        s3_reads,
        textract_reads: logging(evidence, region, start, &textract),
        window,
        gaps,
    }
}
