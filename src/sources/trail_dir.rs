//! Downloaded trails on disk: every `--trail-dir`, scanned together for the records the
//! jobs need (discovery: every Textract job's), rescanned only when what is wanted changes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use super::{Gathering, Known, Settings, Source};
use crate::evidence::Part;
use crate::evidence::local::{self, Wanted};
use crate::model::TimeWindow;
use crate::trail::ScanProgress;

pub struct TrailDirs {
    dirs: Vec<PathBuf>,
    scanned: Option<(Wanted, Part)>,
}

impl TrailDirs {
    pub fn new(dirs: Vec<PathBuf>) -> TrailDirs {
        TrailDirs {
            dirs,
            scanned: None,
        }
    }
}

impl Source for TrailDirs {
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering> {
        let want = wanted(known);
        if let Some((w, part)) = &self.scanned
            && *w == want
        {
            return Ok(Gathering::Records(part.clone()));
        }
        let part = scan(&self.dirs, settings.window, &want, settings)?;
        self.scanned = Some((want, part.clone()));
        Ok(Gathering::Records(part))
    }

    fn grows(&mut self, next: &Known, _: &Settings) -> bool {
        self.scanned
            .as_ref()
            .is_none_or(|(w, _)| *w != wanted(next))
    }

    fn refresh(&mut self) {
        self.scanned = None;
    }
}

/// The records a trail scan keeps for what is known: the jobs' (with the Bucket Key KMS calls
/// of their output buckets), or every job's.
pub(super) fn wanted(known: &Known) -> Wanted {
    if known.jobs.is_empty() {
        Wanted::Discovery
    } else {
        Wanted::Jobs {
            ids: known.jobs.clone(),
            buckets: known.output_buckets().into_iter().collect(),
        }
    }
}

/// Scans `dirs`, drawing progress on standard error when it is a terminal.
pub(super) fn scan(
    dirs: &[PathBuf],
    window: Option<TimeWindow>,
    wanted: &Wanted,
    settings: &Settings,
) -> Result<Part> {
    with_progress(settings, |progress| {
        local::scan_trail_dirs(
            dirs,
            window,
            wanted,
            Some(progress),
            settings.integrity,
            settings.now,
        )
    })
}

/// Runs a scan with its counters drawn on standard error when it is a terminal.
pub(super) fn with_progress<T>(settings: &Settings, scan: impl FnOnce(&ScanProgress) -> T) -> T {
    let progress = ScanProgress::default();
    let show = !settings.quiet && std::io::stderr().is_terminal();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if show {
            s.spawn(|| draw_progress(&progress, &done));
        }
        let result = scan(&progress);
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// One status line, redrawn in place: files and MB done, rate, ETA.
fn draw_progress(p: &ScanProgress, done: &AtomicBool) {
    use std::sync::atomic::Ordering::Relaxed;
    let start = std::time::Instant::now();
    let mut drew = false;
    while !done.load(Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (total, files) = (p.files_total.load(Relaxed), p.files_done.load(Relaxed));
        if total == 0 {
            continue;
        }
        let mb = p.bytes_uncompressed_done.load(Relaxed) as f64 / 1e6;
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let eta = if files > 0 {
            (total - files) as f64 * secs / files as f64
        } else {
            0.0
        };
        eprint!(
            "\rscanning trail: {files}/{total} files, {mb:.0} MB, {:.0} MB/s, ETA {eta:.0}s   ",
            mb / secs
        );
        drew = true;
    }
    if drew {
        eprint!("\r{:60}\r", "");
    }
}
