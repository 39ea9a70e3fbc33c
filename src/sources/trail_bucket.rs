//! A trail's bucket (`--trail s3://…`): the window's log files stream from S3 into the
//! scanner (no copy on disk), with their digests when integrity is on; problems, sources and
//! integrity name the S3 objects. Without a window from the user the recorded evidence's
//! window bounds the listing; job ids whose Start record is still unknown widen it back to
//! the oldest files. The files downloaded are kept in memory for the run's later rounds and
//! polls while they fit [`CACHE_BYTES`]; beyond it a later round downloads them again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use super::live::runtime;
use super::trail_dir::{wanted, with_progress};
use super::{Gathering, Known, LastRead, Settings, Source};
use crate::evidence::live::trail_s3::{Streamed, TrailLocation, TrailReader};
use crate::evidence::local::{self, Place, Wanted};
use crate::integrity::ObjectId;
use crate::integrity::run::{Mode, digest_around, digest_end_of};
use crate::model::{EvidenceProblem, TimeWindow};
use crate::trail::{self, Feed, TrailFile, TrailFileError};

/// Compressed bytes of log files kept for the run's later rounds, at most.
pub const CACHE_BYTES: u64 = 256 << 20;

pub struct TrailBucket {
    loc: TrailLocation,
    /// The runtime and the client, for the whole run (a client's connections belong to the
    /// runtime they were made on).
    reader: Option<(tokio::runtime::Runtime, TrailReader)>,
    /// Log files downloaded this run, by key.
    cache: Mutex<Cache>,
    /// The window listed for (`None` inside: back to the oldest files), and the scan.
    read: LastRead<(Option<TimeWindow>, Wanted)>,
    /// Searching back to the oldest files (job ids whose Start record is unknown).
    back_to_oldest: bool,
}

#[derive(Default)]
struct Cache {
    files: HashMap<String, Arc<Vec<u8>>>,
    bytes: u64,
}

impl Cache {
    /// Keeps `bytes` for `key` while the cache stays within [`CACHE_BYTES`]; bytes kept for an
    /// earlier version of the object (listed at another size) are given back first.
    fn keep(&mut self, key: &str, bytes: &Arc<Vec<u8>>) {
        if let Some(old) = self.files.remove(key) {
            self.bytes -= old.len() as u64;
        }
        let len = bytes.len() as u64;
        if self.bytes + len <= CACHE_BYTES {
            self.bytes += len;
            self.files.insert(key.to_owned(), bytes.clone());
        }
    }
}

impl TrailBucket {
    pub fn new(loc: TrailLocation) -> TrailBucket {
        TrailBucket {
            loc,
            reader: None,
            cache: Mutex::default(),
            read: LastRead::default(),
            back_to_oldest: false,
        }
    }

    /// The window to list for.
    fn window(&self, known: &Known, settings: &Settings) -> Option<TimeWindow> {
        match self.back_to_oldest {
            true => None,
            false => settings.window.or(known.recorded_window),
        }
    }
}

/// Log files handed to the scanner's workers as they arrive.
struct Arriving(Mutex<tokio::sync::mpsc::UnboundedReceiver<Streamed>>);

impl Feed for Arriving {
    fn next(&self, raw: &mut Vec<u8>) -> Option<(usize, Result<(), TrailFileError>)> {
        let (index, got, _budget) = self.0.lock().expect("no worker panics").blocking_recv()?;
        raw.clear();
        Some((
            index,
            got.map(|bytes| raw.extend_from_slice(&bytes))
                .map_err(TrailFileError::Download),
        ))
    }
}

impl Source for TrailBucket {
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering> {
        let window = self.window(known, settings);
        let want = wanted(known);
        let asked = (window, want);
        if let Some(part) = self.read.get(&asked) {
            return Ok(Gathering::Records(part));
        }
        let (window, want) = asked;
        if self.reader.is_none() {
            let rt = runtime()?;
            let reader = rt.block_on(TrailReader::new(&settings.aws))?;
            self.reader = Some((rt, reader));
        }
        let (rt, reader) = self.reader.as_ref().expect("made above");
        let (loc, cache) = (&self.loc, &self.cache);
        let bucket = loc.bucket.as_str();
        let integrity = settings.integrity != Mode::Off;
        let keys = rt.block_on(reader.list(loc, window, integrity));
        let windows: Vec<TimeWindow> = window.into_iter().collect();
        let listing = trail::layout::list_objects(
            keys.logs
                .iter()
                .map(|(key, size)| (PathBuf::from(loc.uri(key)), *size)),
            &windows,
        );
        let root = format!("s3://{bucket}/");
        let key_of = |f: &TrailFile| -> String {
            let path = f.path.to_string_lossy();
            path.strip_prefix(&root).unwrap_or(&path).to_owned()
        };
        let digest_problems = Mutex::new(Vec::<EvidenceProblem>::new());
        let (downloaded, from_cache) = (AtomicU64::new(0), AtomicU64::new(0));
        let cap = crate::input::Limits::current().max_file_bytes;
        let place = Place {
            label: format!("trail {}", loc.uri(&loc.prefix)),
            subject: loc.uri(&loc.prefix),
            listing,
            id: Box::new(|f: &TrailFile| ObjectId::S3 {
                bucket: bucket.to_owned(),
                key: key_of(f),
            }),
            digests: Box::new(|around, inputs| {
                let near: Vec<(String, u64)> = keys
                    .digests
                    .iter()
                    .filter(|(key, _)| {
                        let id = ObjectId::S3 {
                            bucket: bucket.to_owned(),
                            key: key.clone(),
                        };
                        digest_end_of(&id).is_some_and(|end| digest_around(around, end))
                    })
                    .cloned()
                    .collect();
                let (sources, problems) = rt.block_on(reader.digests(bucket, near));
                inputs.digests.extend(sources);
                digest_problems
                    .lock()
                    .expect("not poisoned")
                    .extend(problems);
            }),
            scan: Box::new(|files, filter, options, hash| {
                let (to, arriving) = tokio::sync::mpsc::unbounded_channel();
                let mut fetch = Vec::new();
                {
                    let cache = cache.lock().expect("not poisoned");
                    for (index, f) in files.iter().enumerate() {
                        let key = key_of(f);
                        // An object listed at another size than the bytes kept was
                        // replaced since: read again.
                        match cache.files.get(&key).filter(|b| b.len() as u64 == f.size) {
                            Some(bytes) => {
                                from_cache.fetch_add(1, Ordering::Relaxed);
                                let _ = to.send((index, Ok(bytes.clone()), None));
                            }
                            None => fetch.push((index, key, f.size)),
                        }
                    }
                }
                let keep = |key: &str, bytes: &Arc<Vec<u8>>| {
                    downloaded.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    cache.lock().expect("not poisoned").keep(key, bytes);
                };
                let feed = Arriving(Mutex::new(arriving));
                std::thread::scope(|s| {
                    let scan = s.spawn(|| trail::scan_fed(files, filter, options, hash, &feed));
                    rt.block_on(reader.stream(bucket, fetch, cap, to, &keep));
                    scan.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            }),
        };
        let mut part = with_progress(settings, |progress| {
            local::scan_places(
                vec![place],
                window,
                &want,
                Some(progress),
                settings.integrity,
                settings.public_keys.as_deref(),
                settings.now,
            )
        });
        let e = &mut part.evidence;
        let mut listed = keys.problems;
        listed.append(&mut digest_problems.into_inner().expect("not poisoned"));
        e.problems.splice(0..0, listed);
        if integrity {
            // To tell a digest's listed log file that the bucket lacks.
            e.integrity_inputs.s3_listings.push(keys.listing);
        }
        let (downloaded, from_cache) = (downloaded.into_inner(), from_cache.into_inner());
        for s in &mut e.provenance.sources {
            s.push_str(&format!(
                " ({downloaded} bytes downloaded, {from_cache} files from this run's earlier reads)"
            ));
        }
        Ok(Gathering::Records(self.read.keep((window, want), part)))
    }

    fn grows(&mut self, next: &Known, settings: &Settings) -> bool {
        let Some((window, want)) = self.read.key() else {
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
        self.read.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_object_gives_back_the_bytes_kept_for_its_old_version() {
        let mut cache = Cache::default();
        cache.keep("a", &Arc::new(vec![0; 100]));
        cache.keep("a", &Arc::new(vec![0; 40]));
        assert_eq!(cache.bytes, 40);
        assert_eq!(cache.files["a"].len(), 40);
        // Full: a new object is not kept, and an old one that no longer fits is dropped.
        cache.bytes = CACHE_BYTES - 10;
        cache.keep("b", &Arc::new(vec![0; 11]));
        assert!(!cache.files.contains_key("b"));
        cache.keep("a", &Arc::new(vec![0; 60]));
        assert!(!cache.files.contains_key("a"));
        assert_eq!(cache.bytes, CACHE_BYTES - 50);
    }
}
