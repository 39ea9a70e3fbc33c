//! What the CloudTrail evidence can and cannot speak to for a job: whether the time range it
//! was gathered for holds the job's window, and whether a trail in the evidence, logging in
//! the job's Region from its start, has event selectors that record each kind of event the
//! rules need (S3 write and read data events on the job's folder, KMS `GenerateDataKey`,
//! Textract's `Get*`).
//!
//! The timeline correlates the records there are; this stage says what records there could
//! have been, so that a missing record is read as proof only where the trail would have
//! logged it. [`selectors`] evaluates event selectors; [`reads`] is what the trail can say
//! about the reads of a job's results.

pub mod reads;
pub mod selectors;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Evidence, TimeWindow, bucket_arn, partition_of_region, rfc3339};
use crate::timeline::JobTimeline;
use selectors::EventShape;

/// Whether the trail could have recorded some kind of event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Logging {
    Logged { trail: String },
    NotLogged { reason: String },
    Unknown { reason: String },
}

/// What the CloudTrail evidence can and cannot speak to for this job.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// The window the CloudTrail evidence covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudtrail_window: Option<TimeWindow>,
    /// `Ok` when the job's window lies inside it, else why not.
    pub job_window: Result<TimeWindow, String>,
    /// S3 write data events for the output objects.
    pub data_events: Logging,
    /// KMS management events (`GenerateDataKey`, read-only).
    pub kms_events: Logging,
}

/// The job's window, from the span of its own activity (`None` when its time is unknown),
/// and whether the CloudTrail evidence covers it.
pub(crate) fn job_window(
    evidence: &Evidence,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<TimeWindow, String> {
    let Some((from, until)) = span else {
        return Err(
            "no record of the job's start or of any write it made: its time is unknown".into(),
        );
    };
    let job = TimeWindow { from, until };
    match evidence.cloudtrail_window {
        None => {
            Err("the evidence does not state which time range its CloudTrail records cover".into())
        }
        Some(w) if w.contains(from) && w.contains(until) => Ok(job),
        Some(w) => Err(format!(
            "the job ran {} to {}, the CloudTrail evidence covers {} to {}",
            rfc3339(from),
            rfc3339(until),
            rfc3339(w.from),
            rfc3339(w.until)
        )),
    }
}

/// The Region the job ran in: its Start request's, else the evidence's.
pub(crate) fn region_of(evidence: &Evidence, t: &JobTimeline) -> Option<String> {
    t.request
        .as_ref()
        .map(|r| r.region.clone())
        .or(evidence.provenance.region.clone())
}

/// What the CloudTrail evidence covers for the job `t`, whose window is `window`.
pub(crate) fn of_job(
    evidence: &Evidence,
    t: &JobTimeline,
    window: Result<TimeWindow, String>,
) -> Coverage {
    let region = region_of(evidence, t);
    let start = window.as_ref().ok().map(|w| w.from);
    let data_events = match &t.output {
        None => Logging::NotLogged {
            reason: "no output bucket: no S3 data events to expect".into(),
        },
        Some(out) => data_event_logging(
            evidence,
            region.as_deref(),
            start,
            &out.bucket,
            &out.job_prefix(&t.job_id),
        ),
    };
    Coverage {
        cloudtrail_window: evidence.cloudtrail_window,
        job_window: window,
        data_events,
        kms_events: kms_event_logging(evidence, region.as_deref(), start),
    }
}

/// Whether a trail in the evidence records the S3 write data events of results under
/// `s3://{bucket}/{folder}` for a job in `region` started at `start` (also asked before a job
/// exists, by `submit`'s preflight).
pub fn data_event_logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    bucket: &str,
    folder: &str,
) -> Logging {
    // A representative result object: the question is whether writes there are logged.
    let partition = partition_of_region(region.unwrap_or_default());
    let arn = format!("{}/{folder}1", bucket_arn(partition, bucket));
    trail_logs(
        evidence,
        region,
        start,
        &EventShape {
            category: "Data",
            event_source: "s3.amazonaws.com",
            event_name: "PutObject",
            read_only: false,
            resource: Some(("AWS::S3::Object", &arn)),
        },
        &format!("S3 write data events for s3://{bucket}/{folder}"),
    )
}

/// Whether a trail in the evidence records KMS management events (`GenerateDataKey`) in
/// `region` from `start`.
pub fn kms_event_logging(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
) -> Logging {
    trail_logs(
        evidence,
        region,
        start,
        &EventShape {
            category: "Management",
            event_source: "kms.amazonaws.com",
            event_name: "GenerateDataKey",
            read_only: true,
            resource: None,
        },
        "KMS management events",
    )
}

/// Whether some trail that was logging at `start` in `region` records `shape`.
fn trail_logs(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    shape: &EventShape,
    what: &str,
) -> Logging {
    match trail_state(evidence, region, start, shape) {
        TrailState::Logged(trail) => Logging::Logged { trail },
        TrailState::NoTrails => Logging::Unknown {
            reason: format!(
                "no trail configuration in the evidence, so whether {what} were logged is unknown"
            ),
        },
        TrailState::Unknown(why) => Logging::Unknown {
            reason: format!("whether {what} were logged is unknown: {}", why.join("; ")),
        },
        TrailState::NotLogged { why, .. } => Logging::NotLogged {
            reason: format!("{what} were not logged: {}", why.join("; ")),
        },
    }
}

/// What the trails in the evidence say about one shape of event.
enum TrailState {
    Logged(String),
    NoTrails,
    /// Why it is not known, per trail.
    Unknown(Vec<String>),
    /// Why each trail does not log it, and the selectors that would log it were it a write
    /// (see [`selectors::leaving_out`]).
    NotLogged {
        why: Vec<String>,
        selectors: Vec<String>,
    },
}

fn trail_state(
    evidence: &Evidence,
    region: Option<&str>,
    start: Option<DateTime<Utc>>,
    shape: &EventShape,
) -> TrailState {
    if evidence.trails.is_empty() {
        return TrailState::NoTrails;
    }
    let mut unknown = Vec::new();
    let mut not = Vec::new();
    let mut leaving_out = Vec::new();
    for trail in &evidence.trails {
        let name = trail.arn.clone().unwrap_or_else(|| trail.name.clone());
        let in_region = trail.is_multi_region
            || region.is_none()
            || trail
                .home_region
                .as_deref()
                .is_none_or(|h| Some(h) == region);
        if !in_region {
            not.push(format!("{name} is a single-Region trail elsewhere"));
            continue;
        }
        match trail.is_logging {
            Some(false) => {
                not.push(format!("{name} is not logging"));
                continue;
            }
            None => {
                unknown.push(format!("{name}: logging status not collected"));
                continue;
            }
            Some(true) => {}
        }
        if let (Some(since), Some(start)) = (trail.start_logging_time, start)
            && since > start
        {
            not.push(format!(
                "{name} started logging at {}, after the job started",
                rfc3339(since)
            ));
            continue;
        }
        match &trail.selectors {
            None => unknown.push(format!("{name}: event selectors not collected")),
            Some(Err(e)) => unknown.push(format!("{name}: GetEventSelectors failed ({e})")),
            Some(Ok(sel)) if selectors::logs(sel, shape) => return TrailState::Logged(name),
            Some(Ok(sel)) => {
                not.push(format!("{name}'s event selectors do not select them"));
                leaving_out.extend(selectors::leaving_out(sel, shape));
            }
        }
    }
    if unknown.is_empty() {
        TrailState::NotLogged {
            why: not,
            selectors: leaving_out,
        }
    } else {
        TrailState::Unknown(unknown)
    }
}
