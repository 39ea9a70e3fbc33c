//! Downloaded trails, read with no network at all.
//!
//! Trail directories add CloudTrail records (S3 data events above all, which exist only in
//! trail log files) to whatever a bundle or live AWS gave; every file that could not be used is an
//! [`EvidenceProblem`] naming it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::Part;
use crate::integrity::{
    self, ObjectId,
    run::{Inputs, Mode, ReadLog},
};
use crate::model::rfc3339;
use crate::model::{Evidence, EvidenceProblem, JobId, ProblemScope, TimeWindow};
use crate::trail::scan::HashWanted;
use crate::trail::{
    self, FileKind, Listing, RecordFilter, ScanOptions, ScanOutcome, ScanProgress, TrailFile,
};

/// Which records a trail scan keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Records of these jobs (and Bucket Key KMS calls for these buckets).
    Jobs {
        ids: Vec<JobId>,
        buckets: Vec<String>,
    },
    /// Every Textract job's records (for `audit` and for `verify` without job ids).
    Discovery,
}

/// A time range of records (`from`, `until`).
type Span = (DateTime<Utc>, DateTime<Utc>);

/// Hands in a place's digests around a span.
type DigestsFn<'a> = dyn FnOnce(Option<Span>, &mut Inputs) + 'a;

/// Scans a place's listed files (`trail::scan_files_hashing` for files on disk).
type ScanFn<'a> =
    dyn FnOnce(&[TrailFile], &RecordFilter, &ScanOptions, Option<HashWanted>) -> ScanOutcome + 'a;

/// Trail log files from one place, listed, with how to read them.
pub struct Place<'a> {
    /// How the provenance names the place (`trail-dir DIR`, `trail s3://BUCKET/PREFIX`).
    pub label: String,
    /// What a problem about the place as a whole names.
    pub subject: String,
    pub listing: Listing,
    /// The name integrity validation knows a file by.
    pub id: Box<dyn Fn(&TrailFile) -> ObjectId + Sync + 'a>,
    /// Hands in the place's digests whose files can hold records of the time range given (its
    /// log files' span, else the window; `None`: every digest).
    pub digests: Box<DigestsFn<'a>>,
    pub scan: Box<ScanFn<'a>>,
}

/// Scans every trail directory, with every unusable file as a problem. `window` (the user's)
/// limits the files read; `progress` receives the counters. Unless `integrity` is off, the
/// digests around the files to read are kept for validation, with every file read, hashed as
/// it is scanned when a digest lists it.
pub fn scan_trail_dirs(
    dirs: &[PathBuf],
    window: Option<TimeWindow>,
    wanted: &Wanted,
    progress: Option<&ScanProgress>,
    integrity: Mode,
    captured_at: DateTime<Utc>,
) -> anyhow::Result<Part> {
    let windows: Vec<TimeWindow> = window.into_iter().collect();
    let mut places = Vec::new();
    for dir in dirs {
        places.push(Place {
            label: format!("trail-dir {}", dir.display()),
            subject: dir.display().to_string(),
            listing: trail::list_trail_dir(dir, &windows)?,
            id: Box::new(|f: &TrailFile| ObjectId::Local(f.path.clone())),
            digests: Box::new(move |around, inputs: &mut Inputs| {
                integrity::run::local_digests(dir, around, inputs)
            }),
            scan: Box::new(trail::scan::scan_files_hashing),
        });
    }
    Ok(scan_places(
        places,
        window,
        wanted,
        progress,
        integrity,
        captured_at,
    ))
}

/// Scans the places' files for what is `wanted`, as [`scan_trail_dirs`] says.
pub fn scan_places(
    places: Vec<Place>,
    window: Option<TimeWindow>,
    wanted: &Wanted,
    progress: Option<&ScanProgress>,
    integrity: Mode,
    captured_at: DateTime<Utc>,
) -> Part {
    let mut evidence = Evidence::new(crate::model::Provenance {
        sources: Vec::new(),
        account: None,
        region: None,
        captured_at,
    });
    let filter = match wanted {
        Wanted::Jobs { ids, buckets } => {
            let ids: Vec<String> = ids.iter().map(|j| j.0.clone()).collect();
            RecordFilter::jobs(&ids, buckets)
        }
        Wanted::Discovery => RecordFilter::discovery(),
    };
    let windows: Vec<TimeWindow> = window.into_iter().collect();
    let mut span: Option<Span> = None;
    // Every place is listed, and its digests read (around the files to read; with none,
    // around the window; every digest when there is none either), before any is scanned:
    // only the files some digest lists are worth hashing, whichever place holds it.
    let mut listed = Vec::new();
    for place in places {
        let mut place_span: Option<Span> = None;
        for f in place
            .listing
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Log)
        {
            if let (Some(from), Some(until)) = f.time_range() {
                place_span = Some(match place_span {
                    Some((a, b)) => (a.min(from), b.max(until)),
                    None => (from, until),
                });
            }
        }
        if let Some((from, until)) = place_span {
            span = Some(match span {
                Some((a, b)) => (a.min(from), b.max(until)),
                None => (from, until),
            });
        }
        if integrity != Mode::Off {
            let around = place_span.or(window.map(|w| (w.from, w.until)));
            (place.digests)(around, &mut evidence.integrity_inputs);
        }
        listed.push((
            place.label,
            place.subject,
            place.listing,
            place.id,
            place.scan,
        ));
    }
    let wanted =
        (integrity != Mode::Off).then(|| integrity::run::hash_wanted(&evidence.integrity_inputs));
    for (label, subject, listing, id, scan) in listed {
        let options = ScanOptions {
            windows: &windows,
            threads: 0,
            progress,
            limits: crate::input::Limits::current(),
        };
        if listing.files.iter().all(|f| f.kind != FileKind::Log) {
            // Nothing to read is not the same as nothing happened.
            evidence.problems.push(EvidenceProblem {
                subject,
                reason: match window {
                    Some(w) => format!(
                        "no CloudTrail log file here can hold events from {} to {}",
                        rfc3339(w.from),
                        rfc3339(w.until)
                    ),
                    None => "no CloudTrail log files found".into(),
                },
                scope: ProblemScope::CloudTrail {
                    from: window.map(|w| w.from),
                    until: window.map(|w| w.until),
                },
            });
        }
        let hash_file = |i: usize| {
            let listed = |w: &std::collections::HashSet<String>| {
                id(&listing.files[i])
                    .delivery_key()
                    .is_some_and(|k| w.contains(&k))
            };
            wanted.as_ref().is_some_and(listed)
        };
        let outcome = scan(
            &listing.files,
            &filter,
            &options,
            wanted.is_some().then_some(&hash_file as HashWanted),
        );
        if integrity != Mode::Off {
            let inputs = &mut evidence.integrity_inputs;
            inputs
                .logs
                .extend(outcome.hashes.iter().map(|&(i, sha256)| {
                    let file = &listing.files[i];
                    let (from, until) = file.time_range();
                    ReadLog {
                        id: id(file),
                        sha256,
                        from,
                        until,
                    }
                }));
        }
        let s = &outcome.stats;
        evidence.provenance.sources.push(format!(
            "{label}: {} files listed, {} pruned by time, {} read, {} skipped, {} unusable; {} of {} records kept",
            listing.files_listed,
            listing.files_pruned,
            s.files_read,
            listing.files_skipped,
            s.files_bad,
            s.records_matched,
            s.records_seen,
        ));
        evidence.add_records(outcome.events);
        evidence.problems.extend(listing.problems);
        evidence.problems.extend(outcome.problems);
    }
    // The window the trail evidence speaks for is what its log files' names cover (files
    // present; a missing file is not detectable without digests, so this is the weakest
    // claim and is said so in the sources), cut to the window the files were read for. The
    // user's --from/--until only narrow what is read: they never widen what is covered.
    let covered = span
        .map(|(from, until)| TimeWindow { from, until })
        .and_then(|s| match window {
            Some(w) => s.intersect(&w),
            None => Some(s),
        });
    Part { evidence, covered }
}
