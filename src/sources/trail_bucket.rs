//! A trail's bucket (`--trail s3://…`): the window's log files are downloaded into a folder
//! kept for the run and scanned like a trail directory; problems, sources and integrity name
//! the S3 objects, not the copies. Without a window from the user the recorded evidence's
//! window bounds the download; job ids whose Start record is still unknown widen it back to
//! the oldest files.

use anyhow::{Context as _, Result};

use super::live::runtime;
use super::trail_dir::{scan, wanted};
use super::{Gathering, Known, Settings, Source};
use crate::evidence::Part;
use crate::evidence::live::trail_s3::{self, TrailLocation};
use crate::evidence::local::Wanted;
use crate::model::TimeWindow;

pub struct TrailBucket {
    loc: TrailLocation,
    /// Where the log files are downloaded to, for the whole run.
    folder: Option<tempfile::TempDir>,
    /// The window downloaded for (`None` inside: back to the oldest files), and the scan.
    read: Option<(Option<TimeWindow>, Wanted, Part)>,
    /// Searching back to the oldest files (job ids whose Start record is unknown).
    back_to_oldest: bool,
}

impl TrailBucket {
    pub fn new(loc: TrailLocation) -> TrailBucket {
        TrailBucket {
            loc,
            folder: None,
            read: None,
            back_to_oldest: false,
        }
    }

    /// The window to download for.
    fn window(&self, known: &Known, settings: &Settings) -> Option<TimeWindow> {
        match self.back_to_oldest {
            true => None,
            false => settings.window.or(known.recorded_window),
        }
    }
}

impl Source for TrailBucket {
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering> {
        let window = self.window(known, settings);
        let want = wanted(known);
        if let Some((w, wa, part)) = &self.read
            && *w == window
            && *wa == want
        {
            return Ok(Gathering::Records(part.clone()));
        }
        let folder = match &self.folder {
            Some(f) => f,
            None => self.folder.insert(
                tempfile::tempdir().context("creating a folder for the downloaded trail files")?,
            ),
        };
        let (root, got) = runtime()?
            .block_on(trail_s3::download_all(
                &settings.aws,
                std::slice::from_ref(&self.loc),
                window,
                folder.path(),
                settings.integrity != crate::integrity::run::Mode::Off,
            ))?
            .remove(0);
        // No log file in the window (yet): an empty trail, not a missing folder.
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut part = scan(std::slice::from_ref(&root), window, &want, settings)?;
        let e = &mut part.evidence;
        let local = format!("{}/", root.display());
        let remote = self.loc.uri("");
        for p in &mut e.problems {
            p.subject = if p.subject == root.display().to_string() {
                self.loc.uri(&self.loc.prefix)
            } else {
                p.subject.replace(&local, &remote)
            };
        }
        e.problems.splice(0..0, got.problems);
        // The copies are gone after this run: name the objects they came from (digests too).
        e.integrity_inputs
            .name_s3_objects((0, 0), &root, got.listing);
        for s in &mut e.provenance.sources {
            *s = s.replace(
                &format!("trail-dir {}", root.display()),
                &format!("trail {}", self.loc.uri(&self.loc.prefix)),
            ) + &format!(" ({} objects, {} bytes downloaded)", got.objects, got.bytes);
        }
        self.read = Some((window, want, part.clone()));
        Ok(Gathering::Records(part))
    }

    fn grows(&mut self, next: &Known, settings: &Settings) -> bool {
        let Some((window, want, _)) = &self.read else {
            return true;
        };
        if next.unstarted().next().is_some() && settings.window.is_none() && window.is_some() {
            self.back_to_oldest = true;
            return true;
        }
        *want != wanted(next)
    }

    fn note(&self) -> Option<String> {
        self.back_to_oldest.then(|| {
            format!(
                "trail {} searched back to its oldest log files for job ids whose Start record \
                 is not in the default window",
                self.loc.uri(&self.loc.prefix)
            )
        })
    }

    fn refresh(&mut self) {
        self.read = None;
    }
}
