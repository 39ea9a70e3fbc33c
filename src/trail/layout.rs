//! Stage 1b (trail files), step 1: listing a trail directory and pruning it by time.
//!
//! Knows CloudTrail's delivery layout (`AWSLogs/[{o-id}/]{account}/CloudTrail/{region}/
//! YYYY/MM/DD/{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json.gz`), reads
//! account, region and delivery time from names, and skips whole date directories whose
//! files cannot hold events of any job window. Any other folder of `.json.gz`/`.json` files
//! is accepted too; their files are read whatever their time.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::model::{EvidenceProblem, ProblemScope, TimeWindow};

/// How much older than its file's name time a record can be. CloudTrail documents
/// delivery "within about 15 minutes"; late deliveries of up to an hour have been seen, so
/// the margin is four times the documented lag.
pub const DELIVERY_LAG_MARGIN: Duration = Duration::hours(1);

/// How much newer than its file's name time a record can be: none in principle, five
/// minutes for clock skew between the recording host and the delivering one.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::minutes(5);

/// What a file found under the trail directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A log file (`.json.gz` or `.json`): read.
    Log,
    /// A digest file (`CloudTrail-Digest` in its path): integrity data, not records.
    Digest,
    /// Anything else: not read, reported.
    Other,
}

/// What a CloudTrail log file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogName {
    pub account: String,
    pub region: String,
    /// The delivery time in the name (`YYYYMMDDTHHmmZ`).
    pub delivered: DateTime<Utc>,
    /// The organization id (`o-…`) for organization trails, from the path.
    pub org_id: Option<String>,
}

impl LogName {
    /// The time range this file's records can fall in (see [`DELIVERY_LAG_MARGIN`]).
    pub fn time_range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.delivered - DELIVERY_LAG_MARGIN,
            self.delivered + CLOCK_SKEW_MARGIN,
        )
    }
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailFile {
    pub path: PathBuf,
    pub kind: FileKind,
    /// Parsed from the name; `None` when the name is not a CloudTrail name.
    pub name: Option<LogName>,
    /// Size on disk (compressed size for `.json.gz`).
    pub size: u64,
}

impl TrailFile {
    /// The file's record time range, `(None, None)` when its name has no time.
    pub fn time_range(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        match &self.name {
            Some(n) => {
                let (from, until) = n.time_range();
                (Some(from), Some(until))
            }
            None => (None, None),
        }
    }

    /// A problem about this file, scoped to the CloudTrail time range it covers.
    pub fn problem(&self, reason: impl Into<String>) -> EvidenceProblem {
        let (from, until) = self.time_range();
        EvidenceProblem {
            subject: self.path.display().to_string(),
            reason: reason.into(),
            scope: ProblemScope::CloudTrail { from, until },
        }
    }
}

/// The files to read, after pruning, and what the walk saw.
#[derive(Debug, Default)]
pub struct Listing {
    /// Log files to read, sorted by path.
    pub files: Vec<TrailFile>,
    /// Every file seen (log, digest, other), pruned ones included.
    pub files_listed: u64,
    /// Log files left out because their name time is outside every window.
    pub files_pruned: u64,
    /// Digest and other files, not read.
    pub files_skipped: u64,
    /// Date directories (`YYYY/MM/DD`, `YYYY/MM`, `YYYY`) left out without being listed.
    pub dirs_pruned: u64,
    /// Directories that could not be read, misplaced digests and unknown objects.
    pub problems: Vec<EvidenceProblem>,
}

/// Why a trail directory could not be listed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list trail directory {path}: {cause}")]
pub struct TrailDirError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

/// Classifies a path by its name: digest when `CloudTrail-Digest` is in the path, log for
/// `.json.gz`/`.json`, other otherwise.
/// Whether a file not named like a log file might still be one (compressed, or JSON under an
/// odd name such as `….json.gz.1`): such a file is a gap in the CloudTrail evidence.
fn could_be_a_log(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.contains(".json") || name.contains(".gz") || !name.contains('.')
}

pub fn classify(path: &Path) -> FileKind {
    let text = path.to_string_lossy();
    if text.contains("CloudTrail-Digest") {
        FileKind::Digest
    } else if text.ends_with(".json.gz") || text.ends_with(".json") {
        FileKind::Log
    } else {
        FileKind::Other
    }
}

/// Parses `{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json[.gz]` out of a
/// path; the organization id comes from an `o-…` folder right after `AWSLogs`.
pub fn parse_log_name(path: &str) -> Option<LogName> {
    let name = path.rsplit(['/', '\\']).next()?;
    let mut parts = name.splitn(5, '_');
    let account = parts.next()?;
    if parts.next()? != "CloudTrail" {
        return None;
    }
    let region = parts.next()?;
    let stamp = parts.next()?;
    parts.next()?; // the unique part must be there
    if account.is_empty() || region.is_empty() || stamp.len() != 14 {
        return None;
    }
    let delivered = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()?
        .and_utc();
    // `time_range` must be representable (a name is input: year 262142 is parseable).
    delivered.checked_sub_signed(DELIVERY_LAG_MARGIN)?;
    delivered.checked_add_signed(CLOCK_SKEW_MARGIN)?;
    let mut components = path.split(['/', '\\']);
    let org_id = components
        .by_ref()
        .find(|c| *c == "AWSLogs")
        .and_then(|_| components.next())
        .filter(|c| c.starts_with("o-"))
        .map(str::to_owned);
    Some(LogName {
        account: account.to_owned(),
        region: region.to_owned(),
        delivered,
        org_id,
    })
}

/// Whether a record time range overlaps any window; no windows means everything is wanted.
fn wanted(windows: &[TimeWindow], from: DateTime<Utc>, until: DateTime<Utc>) -> bool {
    windows.is_empty() || windows.iter().any(|w| w.overlaps(Some(from), Some(until)))
}

/// What a directory's place in the CloudTrail layout says about its files' records.
enum DateDir {
    /// Not a `CloudTrail/{region}/YYYY[/MM[/DD]]` directory.
    No,
    /// A date directory: its files' records fall in `[from, until)` (delivery lag and
    /// clock skew included).
    Span(DateTime<Utc>, DateTime<Utc>),
    /// Numbered like a date directory but no representable date (`2026/13`, `262142/12/31`).
    Invalid,
}

/// For a directory at `CloudTrail/{region}/YYYY[/MM[/DD]]`, the times its files' records can
/// have, all arithmetic checked (folder names are input).
fn date_dir(components: &[String]) -> DateDir {
    let Some(at) = components.iter().rposition(|c| c == "CloudTrail") else {
        return DateDir::No;
    };
    let Some(date) = components.get(at + 2..).and_then(|parts| {
        parts
            .iter()
            .map(|c| c.parse::<i32>().ok().filter(|n| *n >= 0))
            .collect::<Option<Vec<i32>>>()
    }) else {
        return DateDir::No;
    };
    let day = |y: i32, m: i32, d: i32| {
        Some(
            NaiveDate::from_ymd_opt(y, m.try_into().ok()?, d.try_into().ok()?)?
                .and_hms_opt(0, 0, 0)?
                .and_utc(),
        )
    };
    let span = match date[..] {
        [y] => day(y, 1, 1).zip(y.checked_add(1).and_then(|ny| day(ny, 1, 1))),
        [y, m] => {
            let next = if m == 12 {
                y.checked_add(1).and_then(|ny| day(ny, 1, 1))
            } else {
                m.checked_add(1).and_then(|nm| day(y, nm, 1))
            };
            day(y, m, 1).zip(next)
        }
        [y, m, d] => day(y, m, d)
            .and_then(|start| Some((start, start.checked_add_signed(Duration::days(1))?))),
        _ => return DateDir::No,
    };
    let widened = span.and_then(|(start, end)| {
        Some((
            start.checked_sub_signed(DELIVERY_LAG_MARGIN)?,
            end.checked_add_signed(CLOCK_SKEW_MARGIN)?,
        ))
    });
    match widened {
        Some((from, until)) => DateDir::Span(from, until),
        None => DateDir::Invalid,
    }
}

/// Lists `root` recursively and prunes by `windows` (empty: keep everything). Folders named
/// `CloudTrail-Digest` and `CloudTrail-Insight` are not entered: they hold no event records.
/// Links are followed, each directory is listed once (a link cycle or a second link to a
/// listed directory is reported, not followed), and only regular files are listed as files.
pub fn list_trail_dir(root: &Path, windows: &[TimeWindow]) -> Result<Listing, TrailDirError> {
    let mut listing = Listing::default();
    let meta = std::fs::metadata(root).map_err(|cause| TrailDirError {
        path: root.to_owned(),
        cause,
    })?;
    if !meta.is_dir() {
        visit_file(root.to_owned(), &meta, windows, &mut listing);
    } else {
        std::fs::read_dir(root).map_err(|cause| TrailDirError {
            path: root.to_owned(),
            cause,
        })?;
        let mut visited = HashSet::from([(meta.dev(), meta.ino())]);
        walk(root, &mut Vec::new(), windows, &mut listing, &mut visited);
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

const ANY_TIME: ProblemScope = ProblemScope::CloudTrail {
    from: None,
    until: None,
};

fn walk(
    dir: &Path,
    components: &mut Vec<String>,
    windows: &[TimeWindow],
    out: &mut Listing,
    visited: &mut HashSet<(u64, u64)>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            let scope = match date_dir(components) {
                DateDir::Span(from, until) => ProblemScope::CloudTrail {
                    from: Some(from),
                    until: Some(until),
                },
                DateDir::No | DateDir::Invalid => ANY_TIME,
            };
            out.problems.push(EvidenceProblem {
                subject: dir.display().to_string(),
                reason: format!("cannot list directory: {e}"),
                scope,
            });
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.problems.push(EvidenceProblem {
                    subject: dir.display().to_string(),
                    reason: format!("cannot list directory: {e}"),
                    scope: ANY_TIME,
                });
                continue;
            }
        };
        let path = entry.path();
        // Follows symlinks, as a user pointing at a folder of links expects.
        let Ok(meta) = std::fs::metadata(&path) else {
            out.problems.push(EvidenceProblem {
                subject: path.display().to_string(),
                reason: "cannot read file metadata (dangling link?)".into(),
                scope: ANY_TIME,
            });
            continue;
        };
        if !meta.is_dir() {
            visit_file(path, &meta, windows, out);
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "CloudTrail-Digest" || name == "CloudTrail-Insight" {
            continue;
        }
        if !visited.insert((meta.dev(), meta.ino())) {
            out.problems.push(EvidenceProblem {
                subject: path.display().to_string(),
                reason: "a link to a directory already listed (a cycle, or a second link): \
                         not listed again"
                    .into(),
                scope: ProblemScope::Unrelated,
            });
            continue;
        }
        if classify(&path) == FileKind::Log {
            let time = parse_log_name(&path.to_string_lossy()).map(|n| n.time_range());
            out.problems.push(EvidenceProblem {
                subject: path.display().to_string(),
                reason: "a directory where a log file was expected: no records read from it".into(),
                scope: ProblemScope::CloudTrail {
                    from: time.map(|t| t.0),
                    until: time.map(|t| t.1),
                },
            });
        }
        components.push(name);
        match date_dir(components) {
            DateDir::Span(from, until) if !wanted(windows, from, until) => out.dirs_pruned += 1,
            DateDir::Invalid => {
                out.problems.push(EvidenceProblem {
                    subject: path.display().to_string(),
                    reason: "numbered like a CloudTrail date folder but not a valid date: \
                             its files are read whatever their time"
                        .into(),
                    scope: ProblemScope::Unrelated,
                });
                walk(&path, components, windows, out, visited);
            }
            _ => walk(&path, components, windows, out, visited),
        }
        components.pop();
    }
}

fn visit_file(path: PathBuf, meta: &std::fs::Metadata, windows: &[TimeWindow], out: &mut Listing) {
    out.files_listed += 1;
    let kind = classify(&path);
    let name = parse_log_name(&path.to_string_lossy());
    let file = TrailFile {
        path,
        kind,
        name,
        size: meta.len(),
    };
    if !meta.is_file() {
        // A FIFO would block the reader, a device never end: never opened.
        out.files_skipped += 1;
        let mut problem = file.problem(format!(
            "not a regular file ({}): not read",
            crate::input::file_type_name(meta)
        ));
        if !could_be_a_log(&file.path) {
            problem.scope = ProblemScope::Unrelated;
        }
        out.problems.push(problem);
        return;
    }
    place(file, windows, out);
}

/// Lists objects that are not on disk (a trail bucket's keys, as `(name, size)`; the name
/// is what problems call the object) as [`list_trail_dir`] lists files, pruned by `windows`.
pub fn list_objects(
    objects: impl IntoIterator<Item = (PathBuf, u64)>,
    windows: &[TimeWindow],
) -> Listing {
    let mut listing = Listing::default();
    for (path, size) in objects {
        listing.files_listed += 1;
        let file = TrailFile {
            kind: classify(&path),
            name: parse_log_name(&path.to_string_lossy()),
            path,
            size,
        };
        place(file, windows, &mut listing);
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    listing
}

/// Files a log file to read, pruned, or skipped with the reason.
fn place(file: TrailFile, windows: &[TimeWindow], out: &mut Listing) {
    match file.kind {
        FileKind::Log => match &file.name {
            Some(n) if !wanted(windows, n.time_range().0, n.time_range().1) => {
                out.files_pruned += 1;
            }
            _ => out.files.push(file),
        },
        FileKind::Digest => {
            out.files_skipped += 1;
            out.problems
                .push(file.problem("digest file outside a CloudTrail-Digest folder: not read"));
        }
        FileKind::Other => {
            out.files_skipped += 1;
            let mut problem =
                file.problem("not a CloudTrail log file (.json.gz or .json): not read");
            if !could_be_a_log(&file.path) {
                // A README or a notes file cannot hide records: it takes no evidence away.
                problem.scope = ProblemScope::Unrelated;
            }
            out.problems.push(problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_standard_and_org_trail_names() {
        let p = "bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/\
                 111122223333_CloudTrail_us-east-1_20261120T1005Z_a1B2c3D4e5F6g7H8.json.gz";
        let n = parse_log_name(p).unwrap();
        assert_eq!(n.account, "111122223333");
        assert_eq!(n.region, "us-east-1");
        assert_eq!(n.delivered, t("2026-11-20T10:05:00Z"));
        assert_eq!(n.org_id, None);

        let org = "AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-3/2026/01/02/\
                   111122223333_CloudTrail_eu-west-3_20260102T2355Z_x.json.gz";
        let n = parse_log_name(org).unwrap();
        assert_eq!(n.org_id.as_deref(), Some("o-abc123def4"));
        assert_eq!(n.region, "eu-west-3");
        assert_eq!(n.delivered, t("2026-01-02T23:55:00Z"));

        assert_eq!(parse_log_name("plain/events.json.gz"), None);
        assert_eq!(
            parse_log_name("111122223333_CloudTrail_us-east-1_20261340T1005Z_a.json.gz"),
            None,
            "month 13 is not a time"
        );
        assert_eq!(
            parse_log_name(
                "111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261120T100500Z.json.gz"
            ),
            None
        );
    }

    #[test]
    fn classifies_logs_digests_and_others() {
        assert_eq!(classify(Path::new("a/b.json.gz")), FileKind::Log);
        assert_eq!(classify(Path::new("a/b.json")), FileKind::Log);
        assert_eq!(
            classify(Path::new(
                "AWSLogs/1/CloudTrail-Digest/r/2026/01/01/x.json.gz"
            )),
            FileKind::Digest
        );
        assert_eq!(classify(Path::new("a/README.md")), FileKind::Other);
    }

    #[test]
    fn file_range_is_widened_by_the_documented_margins() {
        let n = parse_log_name("1_CloudTrail_r_20261120T1005Z_u.json.gz").unwrap();
        assert_eq!(
            n.time_range(),
            (t("2026-11-20T09:05:00Z"), t("2026-11-20T10:10:00Z"))
        );
    }

    fn write(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"{}").unwrap();
    }

    #[test]
    fn prunes_files_and_date_directories_at_the_edges() {
        let dir = tempfile::tempdir().unwrap();
        let base = "AWSLogs/111122223333/CloudTrail/us-east-1";
        let f = |day: &str, stamp: &str| {
            format!("{base}/{day}/111122223333_CloudTrail_us-east-1_{stamp}_u.json.gz")
        };
        // Window 2026-11-20 10:00..10:30.
        let w = [TimeWindow {
            from: t("2026-11-20T10:00:00Z"),
            until: t("2026-11-20T10:30:00Z"),
        }];
        // Delivered 5 min before the window starts: records are older still, but
        // clock skew makes it possible: kept.
        write(dir.path(), &f("2026/11/20", "20261120T0955Z"));
        // Delivered 6 minutes before: pruned.
        write(dir.path(), &f("2026/11/20", "20261120T0954Z"));
        // Delivered an hour after the window ends: its records may be that old: kept.
        write(dir.path(), &f("2026/11/20", "20261120T1130Z"));
        // One minute later: pruned.
        write(dir.path(), &f("2026/11/20", "20261120T1131Z"));
        // The next day's directory is pruned without listing.
        write(dir.path(), &f("2026/11/21", "20261121T0000Z"));
        // A whole other month and year.
        write(dir.path(), &f("2026/10/20", "20261020T1000Z"));
        write(dir.path(), &f("2025/11/20", "20251120T1000Z"));
        // No time in the name: always read. Digest and other files: skipped, reported.
        write(dir.path(), "loose/events.json");
        write(dir.path(), "loose/CloudTrail-Digest-copy.json.gz");
        write(dir.path(), "loose/notes.txt");
        // Digest folders are not entered.
        write(
            dir.path(),
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/20/d.json.gz",
        );

        let l = list_trail_dir(dir.path(), &w).unwrap();
        let names: Vec<String> = l
            .files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "111122223333_CloudTrail_us-east-1_20261120T0955Z_u.json.gz",
                "111122223333_CloudTrail_us-east-1_20261120T1130Z_u.json.gz",
                "events.json"
            ]
        );
        assert_eq!(l.files_pruned, 2);
        assert_eq!(l.dirs_pruned, 3, "2026/11/21, 2026/10 and 2025");
        assert_eq!(l.files_skipped, 2);
        assert_eq!(l.files_listed, 7);
        assert_eq!(l.problems.len(), 2);
        let scope_of = |suffix: &str| {
            l.problems
                .iter()
                .find(|p| p.subject.ends_with(suffix))
                .map(|p| p.scope.clone())
        };
        // A misplaced digest copy could be a log under a wrong name: a gap of unknown time.
        assert_eq!(
            scope_of("CloudTrail-Digest-copy.json.gz"),
            Some(ProblemScope::CloudTrail {
                from: None,
                until: None
            })
        );
        assert_eq!(scope_of("notes.txt"), Some(ProblemScope::Unrelated));

        // No windows: nothing pruned.
        let all = list_trail_dir(dir.path(), &[]).unwrap();
        assert_eq!(all.files.len(), 8);
        assert_eq!((all.files_pruned, all.dirs_pruned), (0, 0));
    }

    #[test]
    fn notes_in_a_trail_folder_are_listed_but_take_no_evidence_away() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "README.md");
        write(
            dir.path(),
            "odd/111_CloudTrail_us-east-1_20261120T1005Z_ab.json.gz.1",
        );
        let listing = list_trail_dir(dir.path(), &[]).unwrap();
        let scope = |suffix: &str| {
            listing
                .problems
                .iter()
                .find(|p| p.subject.ends_with(suffix))
                .map(|p| p.scope.clone())
                .unwrap_or_else(|| panic!("{suffix} not reported"))
        };
        assert_eq!(scope("README.md"), ProblemScope::Unrelated);
        assert!(
            matches!(scope(".json.gz.1"), ProblemScope::CloudTrail { .. }),
            "a possible log is a gap"
        );
    }

    fn reason_for<'a>(listing: &'a Listing, suffix: &str) -> &'a EvidenceProblem {
        listing
            .problems
            .iter()
            .find(|p| p.subject.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not reported: {:?}", listing.problems))
    }

    /// Issue 11: two symlinks to `.` made the walk exponential (it never ended).
    #[test]
    fn links_to_listed_directories_are_followed_once() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "logs/a.json.gz");
        std::os::unix::fs::symlink(".", dir.path().join("logs/self1")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("logs/self2")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("logs/up")).unwrap();
        // A link to a directory not listed otherwise is followed.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), "b.json.gz");
        std::os::unix::fs::symlink(other.path(), dir.path().join("linked")).unwrap();
        let listing = list_trail_dir(dir.path(), &[]).unwrap();
        let names: Vec<String> = listing
            .files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["linked/b.json.gz", "logs/a.json.gz"]);
        for link in ["self1", "self2", "up"] {
            let p = reason_for(&listing, link);
            assert!(p.reason.contains("already listed"), "{p:?}");
            assert_eq!(p.scope, ProblemScope::Unrelated);
        }
    }

    /// Issue 11: a FIFO named `*.json.gz` blocked the reader forever, a link to
    /// `/dev/zero` read until memory ran out.
    #[test]
    fn fifos_and_devices_are_refused_by_name_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir
            .path()
            .join("111_CloudTrail_us-east-1_20261120T1005Z_ab.json.gz");
        crate::input::tests::mkfifo(&fifo);
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json.gz")).unwrap();
        let listing = list_trail_dir(dir.path(), &[]).unwrap();
        assert!(listing.files.is_empty(), "{:?}", listing.files);
        let p = reason_for(&listing, "_ab.json.gz");
        assert_eq!(p.reason, "not a regular file (a FIFO): not read");
        assert!(
            matches!(p.scope, ProblemScope::CloudTrail { from: Some(_), .. }),
            "a gap in its time"
        );
        assert_eq!(
            reason_for(&listing, "zero.json.gz").reason,
            "not a regular file (a device): not read"
        );
        assert_eq!(listing.files_skipped, 2);
    }

    /// Issue 11: a directory named `x.json.gz` where a log file should be was ignored.
    #[test]
    fn a_directory_named_like_a_log_file_is_a_named_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(
            dir.path()
                .join("111_CloudTrail_us-east-1_20261120T1005Z_ab.json.gz"),
        )
        .unwrap();
        let listing = list_trail_dir(dir.path(), &[]).unwrap();
        let p = reason_for(&listing, "_ab.json.gz");
        assert!(
            p.reason.starts_with("a directory where a log file"),
            "{p:?}"
        );
        assert!(matches!(
            p.scope,
            ProblemScope::CloudTrail { from: Some(_), .. }
        ));
    }

    /// Issue 11: `CloudTrail/us-east-1/262142/12/31` panicked (the day after is past
    /// chrono's last date).
    #[test]
    fn date_folders_at_the_end_of_time_are_named_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let base = "AWSLogs/1/CloudTrail/us-east-1";
        write(
            dir.path(),
            &format!("{base}/262142/12/31/1_CloudTrail_us-east-1_2621421231T2359Z_a.json.gz"),
        );
        write(
            dir.path(),
            &format!("{base}/262142/1_CloudTrail_us-east-1_2621421231T2358Z_b.json.gz"),
        );
        write(dir.path(), &format!("{base}/2026/13/c.json.gz"));
        write(
            dir.path(),
            &format!("{base}/2147483647/2147483647/d.json.gz"),
        );
        let w = [TimeWindow {
            from: t("2026-11-20T10:00:00Z"),
            until: t("2026-11-20T10:30:00Z"),
        }];
        let listing = list_trail_dir(dir.path(), &w).unwrap();
        // Unrepresentable times: read whatever their time, never pruned on a guess.
        assert_eq!(listing.files.len(), 4, "{:?}", listing.files);
        assert!(listing.files.iter().all(|f| f.name.is_none()));
        for folder in ["262142/12/31", "262142", "2026/13", "2147483647/2147483647"] {
            let p = reason_for(&listing, folder);
            assert!(p.reason.contains("not a valid date"), "{p:?}");
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let e = list_trail_dir(Path::new("/nonexistent/trail"), &[]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/trail"), "{e}");
    }
}
