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
    run::{Mode, ReadLog},
};
use crate::model::rfc3339;
use crate::model::{Evidence, EvidenceProblem, JobId, ProblemScope, TimeWindow};
use crate::trail::{self, FileKind, RecordFilter, ScanOptions, ScanProgress};

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
    let mut span: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    // Every directory is listed, and its digests read (around the files to read; with none,
    // around the window; every digest when there is none either), before any is scanned:
    // only the files some digest lists are worth hashing, whichever directory holds it.
    let mut listings = Vec::new();
    for dir in dirs {
        let listing = trail::list_trail_dir(dir, &windows)?;
        let mut dir_span: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        for f in listing.files.iter().filter(|f| f.kind == FileKind::Log) {
            if let (Some(from), Some(until)) = f.time_range() {
                dir_span = Some(match dir_span {
                    Some((a, b)) => (a.min(from), b.max(until)),
                    None => (from, until),
                });
            }
        }
        if let Some((from, until)) = dir_span {
            span = Some(match span {
                Some((a, b)) => (a.min(from), b.max(until)),
                None => (from, until),
            });
        }
        if integrity != Mode::Off {
            let around = dir_span.or(window.map(|w| (w.from, w.until)));
            integrity::run::local_digests(dir, around, &mut evidence.integrity_inputs);
        }
        listings.push((dir, listing));
    }
    let wanted =
        (integrity != Mode::Off).then(|| integrity::run::hash_wanted(&evidence.integrity_inputs));
    for (dir, listing) in listings {
        let options = ScanOptions {
            windows: &windows,
            threads: 0,
            progress,
            limits: crate::input::Limits::current(),
        };
        if listing.files.iter().all(|f| f.kind != FileKind::Log) {
            // Nothing to read is not the same as nothing happened.
            evidence.problems.push(EvidenceProblem {
                subject: dir.display().to_string(),
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
                ObjectId::Local(listing.files[i].path.clone())
                    .delivery_key()
                    .is_some_and(|k| w.contains(&k))
            };
            wanted.as_ref().is_some_and(listed)
        };
        let outcome = trail::scan::scan_files_hashing(
            &listing.files,
            &filter,
            &options,
            wanted
                .is_some()
                .then_some(&hash_file as &(dyn Fn(usize) -> bool + Sync)),
        );
        if integrity != Mode::Off {
            let inputs = &mut evidence.integrity_inputs;
            inputs
                .logs
                .extend(outcome.hashes.iter().map(|&(i, sha256)| {
                    let file = &listing.files[i];
                    let (from, until) = file.time_range();
                    ReadLog {
                        id: ObjectId::Local(file.path.clone()),
                        sha256,
                        from,
                        until,
                    }
                }));
        }
        let s = &outcome.stats;
        evidence.provenance.sources.push(format!(
            "trail-dir {}: {} files listed, {} pruned by time, {} read, {} skipped, {} unusable; {} of {} records kept",
            dir.display(),
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
    Ok(Part { evidence, covered })
}
