//! Where evidence comes from, behind one seam. A [`Source`] is given what is known so far
//! ([`Known`]: the job ids, their `Start*` records, the output buckets, the window) and hands
//! back its evidence: the base (a bundle as recorded, live AWS answers) or CloudTrail records
//! with their provenance (a [`Part`]). [`gather`] runs the plan's sources in rounds to a fixed
//! point: each round offers every source what the round before learnt, and stops when no source
//! would add anything.
//!
//! A new kind of source is one module here, one line in [`open`], its flag in `cli`/`plan`
//! and a fixture (see docs/sources.md).

mod bundle;
mod live;
mod query;
mod trail_bucket;
mod trail_dir;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::evidence::{Gathered, Part};
use crate::integrity::run::Mode;
use crate::model::{Evidence, JobId, Provenance, TimeWindow, TrailEvent};
use crate::plan::{self, Plan};
use crate::timeline::{self, OutputLocation};

pub use live::{checked, runtime};
pub use query::{AthenaTable, Store, parse_lake_store};

/// What the rounds have learnt, offered to every source.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// The jobs asked for; empty: every job the sources hold (discovery).
    pub jobs: Vec<JobId>,
    /// The `Start*` record of each job that has one so far (its first).
    pub starts: BTreeMap<JobId, TrailEvent>,
    /// Where each job's results go, so far (a folder to read; its bucket's Bucket Key KMS
    /// calls name the bucket).
    pub outputs: BTreeMap<JobId, OutputLocation>,
    /// The CloudTrail window of the recorded evidence (a bundle's, `LookupEvents`'): what a
    /// trail bucket is downloaded for when the user gave no window.
    pub recorded_window: Option<TimeWindow>,
}

impl Known {
    /// What `evidence` says about `jobs`, in one pass over its records.
    pub fn of(evidence: &Evidence, jobs: &[JobId]) -> Known {
        Known {
            jobs: jobs.to_vec(),
            starts: timeline::start_records(evidence, jobs),
            outputs: timeline::output_locations(evidence, jobs),
            recorded_window: None,
        }
    }

    /// Everything either knows (the rounds only ever learn more).
    fn with(mut self, other: &Known) -> Known {
        for (job, start) in &other.starts {
            let mine = self
                .starts
                .entry(job.clone())
                .or_insert_with(|| start.clone());
            if start.event_time < mine.event_time {
                *mine = start.clone();
            }
        }
        for (job, out) in &other.outputs {
            self.outputs
                .entry(job.clone())
                .or_insert_with(|| out.clone());
        }
        self.recorded_window = self.recorded_window.or(other.recorded_window);
        self
    }

    /// The buckets the jobs' results go to.
    pub fn output_buckets(&self) -> BTreeSet<String> {
        self.outputs.values().map(|o| o.bucket.clone()).collect()
    }

    /// The jobs asked for whose `Start*` record is still unknown.
    pub fn unstarted(&self) -> impl Iterator<Item = &JobId> {
        self.jobs.iter().filter(|j| !self.starts.contains_key(*j))
    }
}

/// How the run reads, the same for every source.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The run's one "now": the capture time of live evidence.
    pub now: DateTime<Utc>,
    /// The window the user asked for: it narrows what is read, it never says what is covered.
    pub window: Option<TimeWindow>,
    pub quiet: bool,
    /// `--dry-run`: the query sources plan their queries but do not run them.
    pub dry_run: bool,
    pub integrity: Mode,
    /// `--cloudtrail-public-keys`: known before any trail is scanned.
    pub public_keys: Option<std::path::PathBuf>,
    /// How AWS is reached for the trail buckets (and KMS for `--trust-key`).
    pub aws: crate::evidence::live::Options,
    /// What a bundle's signature must verify with (`--trust-key`, `--trust-public-key`).
    pub trust: Option<crate::integrity::signed_bundle::TrustAnchor>,
}

/// What one source hands back for a round.
pub enum Gathering {
    /// The evidence the others add to: a bundle as recorded, live AWS answers.
    Base(Evidence),
    /// CloudTrail records with their provenance.
    Records(Part),
}

/// One place evidence comes from.
pub trait Source {
    /// Its evidence, given what is known so far.
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering>;
    /// Whether, knowing `next`, it would hand back more than it did this round.
    fn grows(&mut self, next: &Known, settings: &Settings) -> bool;
    /// A note for the provenance about how far it read (said once, after the rounds).
    fn note(&self) -> Option<String> {
        None
    }
    /// Under `--dry-run`: what it would run (a query source's SQL and partitions).
    fn planned(&self) -> Option<String> {
        None
    }
    /// The live calls as recorded, for a bundle (`collect`); only live AWS has them.
    fn recorded(&self) -> Option<&Gathered> {
        None
    }
    /// Forgets what it read, so the next [`gather`] reads again (only what is new, where the
    /// source can tell): `submit --wait-for-evidence` polls this way.
    fn refresh(&mut self) {}
}

/// What a source read last, for a later round that asks the same again (another source
/// grew): kept whole only while it is small, so that a big scan is never held twice (once
/// here, once in the evidence); a big one is read again when asked again.
pub struct LastRead<K> {
    read: Option<(K, Option<Part>)>,
}

impl<K> Default for LastRead<K> {
    fn default() -> Self {
        LastRead { read: None }
    }
}

/// The most records [`LastRead`] keeps a copy of.
pub const KEEP_RECORDS: usize = 20_000;

impl<K: PartialEq> LastRead<K> {
    /// What the last read was for.
    pub fn key(&self) -> Option<&K> {
        self.read.as_ref().map(|(k, _)| k)
    }

    /// A copy of the last read, when it was for `key` and was kept.
    pub fn get(&self, key: &K) -> Option<Part> {
        match &self.read {
            Some((k, Some(part))) if k == key => Some(part.clone()),
            _ => None,
        }
    }

    /// Remembers that `part` was read for `key` (keeping a copy when small) and hands it on.
    pub fn keep(&mut self, key: K, part: Part) -> Part {
        let small = part.evidence.events.len() <= KEEP_RECORDS;
        self.read = Some((key, small.then(|| part.clone())));
        part
    }

    pub fn forget(&mut self) {
        self.read = None;
    }
}

/// The registry: the plan's source as a [`Source`].
pub fn open(source: &plan::Source) -> Box<dyn Source> {
    match source {
        plan::Source::Bundle(dir) => Box::new(bundle::Bundle::new(dir.clone())),
        plan::Source::Live(options) => Box::new(live::Live::new(options.clone())),
        plan::Source::TrailDir(dir) => Box::new(trail_dir::TrailDirs::new(vec![dir.clone()])),
        plan::Source::TrailBucket(loc) => Box::new(trail_bucket::TrailBucket::new(loc.clone())),
        plan::Source::Query(store) => Box::new(query::Query::new(store.clone())),
    }
}

/// The plan's sources, in its order; its trail directories as one source, scanned together
/// (one pass on all cores, one window their file names cover).
pub fn open_all(plan_sources: &[plan::Source]) -> Vec<Box<dyn Source>> {
    let dirs: Vec<std::path::PathBuf> = plan_sources
        .iter()
        .filter_map(|s| match s {
            plan::Source::TrailDir(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    let mut dirs_opened = false;
    for s in plan_sources {
        match s {
            plan::Source::TrailDir(_) if dirs_opened => {}
            plan::Source::TrailDir(_) => {
                dirs_opened = true;
                sources.push(Box::new(trail_dir::TrailDirs::new(dirs.clone())));
            }
            other => sources.push(open(other)),
        }
    }
    sources
}

/// The run's settings from the plan.
pub fn settings(plan: &Plan) -> Settings {
    Settings {
        now: plan.now,
        window: plan.window,
        quiet: plan.quiet,
        dry_run: plan.dry_run,
        integrity: plan.integrity,
        public_keys: plan.public_keys.clone(),
        aws: plan.aws.clone(),
        trust: plan.trust.clone(),
    }
}

/// At most this many rounds follow the evidence: each round can only add Start records,
/// output buckets or a wider trail window, and there are finitely many of those for the
/// targets; the bound keeps an adversarial input from making the loop long.
pub const MAX_ROUNDS: usize = 4;

/// The evidence of `sources` for `jobs` (discovery when empty), gathered in rounds to a fixed
/// point: round 1 reads every source in order, each next round offers them what the round
/// before learnt (Start records found only in the trails are followed live; output buckets
/// learnt since widen the trail scans to their Bucket Key calls; job ids whose Start record
/// is still unknown search the trails back to their oldest files). Stops when no source would
/// add anything; the count of rounds is in the provenance when there is more than one source.
pub fn gather(
    sources: &mut [Box<dyn Source>],
    jobs: &[JobId],
    settings: &Settings,
) -> Result<Evidence> {
    let mut known = Known {
        jobs: jobs.to_vec(),
        ..Known::default()
    };
    let mut rounds = 0;
    let evidence = loop {
        rounds += 1;
        let (evidence, recorded_window) = round(sources, &known, settings)?;
        let mut next = Known::of(&evidence, jobs).with(&known);
        next.recorded_window = recorded_window;
        // Every source is asked (each prepares its next round), not just until one says yes.
        let mut grows = false;
        for s in sources.iter_mut() {
            grows |= s.grows(&next, settings);
        }
        known = next;
        if !grows || rounds == MAX_ROUNDS {
            break evidence;
        }
    };
    let mut evidence = evidence;
    evidence
        .provenance
        .sources
        .extend(sources.iter().filter_map(|s| s.note()));
    if sources.len() > 1 {
        evidence
            .provenance
            .sources
            .push(format!("evidence gathered in {rounds} round(s)"));
    }
    Ok(evidence)
}

/// One round: the sources in order, each told what is known from the round before and from
/// the sources before it in this round.
/// Returns the round's evidence and the recorded evidence's CloudTrail window.
fn round(
    sources: &mut [Box<dyn Source>],
    before: &Known,
    settings: &Settings,
) -> Result<(Evidence, Option<TimeWindow>)> {
    let mut evidence: Option<Evidence> = None;
    let mut recorded_window = None;
    for s in sources.iter_mut() {
        let mut known = match &evidence {
            Some(e) => Known::of(e, &before.jobs).with(before),
            None => before.clone(),
        };
        known.recorded_window = recorded_window;
        match s.gather(&known, settings)? {
            Gathering::Base(base) => match &mut evidence {
                None => {
                    recorded_window = base.cloudtrail_window;
                    evidence = Some(base);
                }
                Some(_) => anyhow::bail!("two sources of recorded evidence in one run"),
            },
            Gathering::Records(part) => {
                part.add_to(evidence.get_or_insert_with(|| empty(settings.now)));
            }
        }
    }
    Ok((
        evidence.unwrap_or_else(|| empty(settings.now)),
        recorded_window,
    ))
}

/// Evidence of nothing, captured `now`.
pub fn empty(now: DateTime<Utc>) -> Evidence {
    Evidence::new(Provenance {
        sources: Vec::new(),
        account: None,
        region: None,
        captured_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(records: usize) -> Part {
        let mut evidence = empty(crate::evidence::now());
        evidence.events = (0..records)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "eventID": format!("e{i}"),
                    "eventTime": "2026-11-20T10:00:00Z",
                    "eventSource": "s3.amazonaws.com",
                    "eventName": "GetObject",
                }))
                .unwrap()
            })
            .collect();
        Part {
            evidence,
            covered: None,
        }
    }

    #[test]
    fn a_small_read_is_kept_for_the_next_round_a_big_one_is_read_again() {
        let mut last = LastRead::default();
        let handed = last.keep(1, part(3));
        assert_eq!(handed.evidence.events.len(), 3);
        assert_eq!(last.key(), Some(&1));
        assert_eq!(last.get(&1).map(|p| p.evidence.events.len()), Some(3));
        assert!(
            last.get(&2).is_none(),
            "asked for something else: read again"
        );

        let handed = last.keep(2, part(KEEP_RECORDS + 1));
        assert_eq!(handed.evidence.events.len(), KEEP_RECORDS + 1);
        // What it was read for is remembered (the source does not grow), not the records.
        assert_eq!(last.key(), Some(&2));
        assert!(last.get(&2).is_none());

        last.forget();
        assert_eq!(last.key(), None);
    }
}
