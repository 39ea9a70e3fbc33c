//! Live AWS for one account and Region: round 1 reads the jobs (Start records from
//! `LookupEvents`, job status, the output folders and keys they name); a later round follows
//! the Start records other sources found (a job older than `LookupEvents`' window).

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::{Gathering, Known, Settings, Source};
use crate::evidence::{Gathered, live};
use crate::model::{JobId, TrailEvent};
use crate::timeline;

pub struct Live {
    options: live::Options,
    gathered: Option<Gathered>,
    /// The jobs whose Start record has been followed (their folders and keys read).
    followed: BTreeSet<JobId>,
    /// Start records learnt since, to follow next round.
    pending: Vec<TrailEvent>,
}

impl Live {
    pub fn new(options: live::Options) -> Live {
        Live {
            options,
            gathered: None,
            followed: BTreeSet::new(),
            pending: Vec::new(),
        }
    }
}

impl Source for Live {
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering> {
        let gathered = match self.gathered.as_mut() {
            None => {
                let g = gather_live(&self.options, &known.jobs, settings.now)?;
                let evidence = g.clone().into_evidence();
                self.followed
                    .extend(timeline::start_records(&evidence, &known.jobs).into_keys());
                self.gathered = Some(g);
                return Ok(Gathering::Base(evidence));
            }
            Some(g) => g,
        };
        if !self.pending.is_empty() {
            let starts = std::mem::take(&mut self.pending);
            let more =
                runtime()?.block_on(live::follow_up(&self.options, &starts, settings.now))?;
            for (call, records) in more.calls {
                gathered.calls.entry(call).or_default().extend(records);
            }
            self.followed.extend(
                starts
                    .iter()
                    .filter_map(|s| crate::model::str_ci(&s.response_elements, "jobId"))
                    .map(|j| JobId(j.to_owned())),
            );
        }
        Ok(Gathering::Base(gathered.clone().into_evidence()))
    }

    fn grows(&mut self, next: &Known, _: &Settings) -> bool {
        self.pending = next
            .starts
            .iter()
            .filter(|(job, _)| !self.followed.contains(*job))
            .map(|(_, start)| start.clone())
            .collect();
        !self.pending.is_empty()
    }

    fn recorded(&self) -> Option<&Gathered> {
        self.gathered.as_ref()
    }
}

/// Reads the jobs' evidence from AWS. Every failed call is one line on standard error; it
/// is an error only when no call was answered at all (nothing to verify from).
/// An empty `jobs` discovers every job started in the window.
pub fn gather_live(
    options: &live::Options,
    jobs: &[JobId],
    now: DateTime<Utc>,
) -> Result<Gathered> {
    let gathered = runtime()?.block_on(live::collect(options, jobs, now))?;
    checked(gathered)
}

/// Prints one line per failed call; an error when no call was answered at all.
pub fn checked(gathered: Gathered) -> Result<Gathered> {
    for line in live::failure_lines(&gathered.calls) {
        eprintln!("{line}");
    }
    if !live::anything_read(&gathered.calls) {
        bail!("no AWS call succeeded (see the lines above): nothing to verify from");
    }
    Ok(gathered)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
