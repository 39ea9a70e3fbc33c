//! Waiting for started jobs: `Get*` polls with backoff, a progress display, a deadline and
//! Ctrl-C.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use crate::evidence::WireError;
use crate::evidence::live::submit::{JobProgress, Session};
use crate::model::{JobId, TextractApi};

/// The first poll interval; it doubles after every poll up to [`MAX_POLL`].
pub const MIN_POLL: Duration = Duration::from_secs(1);
pub const MAX_POLL: Duration = Duration::from_secs(15);

/// How often the terminal display is redrawn between polls.
const REDRAW: Duration = Duration::from_millis(500);

/// A started job being waited for.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub job: JobId,
    pub api: TextractApi,
    /// The document, as the user named it.
    pub document: String,
    /// The last answer of `Get*`.
    pub progress: Option<JobProgress>,
    /// The last poll's error, when it failed.
    pub poll_error: Option<WireError>,
}

impl Tracked {
    pub fn new(job: JobId, api: TextractApi, document: String) -> Tracked {
        Tracked {
            job,
            api,
            document,
            progress: None,
            poll_error: None,
        }
    }

    /// Textract reported an end state (`SUCCEEDED`, `FAILED`, `PARTIAL_SUCCESS`).
    pub fn finished(&self) -> bool {
        self.progress
            .as_ref()
            .is_some_and(|p| p.status != "IN_PROGRESS")
    }

    /// `IN_PROGRESS`, `SUCCEEDED`, …, or `unknown` before the first answer.
    pub fn status(&self) -> &str {
        self.progress
            .as_ref()
            .map_or("unknown", |p| p.status.as_str())
    }

    fn line(&self) -> String {
        let mut s = format!("job {} ({}): {}", self.job, self.document, self.status());
        if let Some(p) = &self.progress {
            if let Some(pages) = p.pages {
                s.push_str(&format!(", {pages} page(s)"));
            }
            if let Some(m) = &p.status_message {
                s.push_str(&format!(": {m}"));
            }
        }
        if let Some(e) = &self.poll_error {
            s.push_str(&format!(
                " (last {} failed: {}: {})",
                self.api.get_operation(),
                e.code,
                e.message
            ));
        }
        s
    }
}

/// How waiting ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// Every job reached an end state.
    Finished,
    /// The deadline passed with jobs still running.
    TimedOut,
    /// Ctrl-C.
    Interrupted,
}

/// Polls every unfinished job until all finish, `timeout` passes or Ctrl-C. On a terminal
/// (`live_display`) one status line is redrawn in place; otherwise each change of a job's
/// status is one log line.
pub async fn wait(
    session: &Session,
    jobs: &mut [Tracked],
    timeout: Duration,
    live_display: bool,
) -> WaitEnd {
    let started = Instant::now();
    let deadline = started + timeout;
    let polling = async {
        let mut interval = MIN_POLL;
        let mut next_poll = started;
        loop {
            if Instant::now() >= next_poll {
                for j in jobs.iter_mut().filter(|j| !j.finished()) {
                    let before = j.line();
                    match session.poll(j.api, &j.job).await {
                        Ok(p) => {
                            j.progress = Some(p);
                            j.poll_error = None;
                        }
                        Err(e) => j.poll_error = Some(e),
                    }
                    if !live_display && j.line() != before {
                        eprintln!("[{:>4}s] {}", started.elapsed().as_secs(), j.line());
                    }
                }
                next_poll = Instant::now() + interval;
                interval = (interval * 2).min(MAX_POLL);
            }
            if live_display {
                draw(jobs, started.elapsed());
            }
            if jobs.iter().all(Tracked::finished) {
                return WaitEnd::Finished;
            }
            let now = Instant::now();
            if now >= deadline {
                return WaitEnd::TimedOut;
            }
            let tick = if live_display {
                now + REDRAW
            } else {
                next_poll
            };
            tokio::time::sleep_until(tick.min(next_poll).min(deadline)).await;
        }
    };
    let end = tokio::select! {
        end = polling => end,
        _ = tokio::signal::ctrl_c() => WaitEnd::Interrupted,
    };
    if live_display {
        // Leave the last state on screen, one line per job.
        eprint!("\r{:100}\r", "");
        for j in jobs.iter() {
            eprintln!("{}", j.line());
        }
    }
    end
}

/// One status line: counts per status, pages so far, elapsed time.
fn draw(jobs: &[Tracked], elapsed: Duration) {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for j in jobs {
        *counts.entry(j.status()).or_default() += 1;
    }
    let statuses: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let pages: i64 = jobs
        .iter()
        .filter_map(|j| j.progress.as_ref().and_then(|p| p.pages))
        .sum();
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\rwaiting: {} job(s): {}, {pages} page(s), {}s elapsed   ",
        jobs.len(),
        statuses.join(", "),
        elapsed.as_secs()
    );
    let _ = err.flush();
}
