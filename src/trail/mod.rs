//! Stage 1b: CloudTrail trail log files, from a folder to the few records that matter.
//!
//! The pipeline inside: [`layout`] lists a trail folder and prunes it by the jobs' time
//! windows (delivery lag included), [`inflate`] decompresses a file, [`filter`] decides
//! from raw bytes which records can matter and from parsed ones which do, and [`scan`] runs
//! that in parallel with bounded memory, turning unusable files into evidence problems.
//! [`synth`] writes realistic synthetic trails for tests and the benchmark.

pub mod filter;
pub mod inflate;
pub mod layout;
pub mod scan;
pub mod synth;
mod validate;

use chrono::{DateTime, Utc};

pub use filter::RecordFilter;
pub use layout::{FileKind, Listing, LogName, TrailDirError, TrailFile, list_trail_dir};
pub use scan::{
    Feed, ScanOptions, ScanOutcome, ScanProgress, ScanStats, scan_fed, scan_files, scan_trail_dir,
};

use crate::model::TrailEvent;

/// Why a log file could not be used (all of its records are then dropped).
#[derive(Debug, thiserror::Error)]
pub enum TrailFileError {
    #[error("{0}")]
    Read(crate::input::ReadError),
    /// An object that could not be had from S3 (`--trail s3://`).
    #[error("download failed: {0}")]
    Download(String),
    #[error("empty file")]
    Empty,
    #[error("named .json.gz but not gzip data")]
    NotGzip,
    #[error("gzip stream is corrupt or truncated: {0}")]
    Gzip(std::io::Error),
    #[error(
        "inflates to more than {cap} bytes, the cap for a file of its size (set by {} and {}, see docs/limits.md)",
        crate::input::MAX_FILE_BYTES_ENV,
        crate::input::MAX_INFLATE_RATIO_ENV
    )]
    TooLarge { cap: u64 },
    #[error("not UTF-8 text (invalid bytes at offset {0})")]
    Utf8(usize),
    #[error("invalid CloudTrail log JSON: {0}")]
    Json(String),
    #[error("record {index} is not a CloudTrail record: {message}")]
    Record { index: usize, message: String },
}

/// The JSON text of a log file: inflated when it is gzip (a `.json.gz` must be), else the
/// bytes as they are.
pub(crate) fn log_json<'a>(
    name: &str,
    raw: &'a [u8],
    inflater: &'a mut inflate::Inflater,
    limits: &crate::input::Limits,
) -> Result<&'a [u8], TrailFileError> {
    if raw.trim_ascii().is_empty() {
        Err(TrailFileError::Empty)
    } else if inflate::is_gzip(raw) {
        inflater.inflate(raw, limits)
    } else if name.ends_with(".gz") {
        Err(TrailFileError::NotGzip)
    } else {
        Ok(raw)
    }
}

/// Decodes one log file's bytes (gzip detected by its magic bytes, else plain JSON, which
/// a file named `.json.gz` may not be) into all its records. Any error rejects the whole
/// file: a partial file could hide the one event that matters.
pub fn decode_log_file(name: &str, bytes: &[u8]) -> Result<Vec<TrailEvent>, TrailFileError> {
    decode(name, bytes, false).1
}

/// As [`decode_log_file`], with the SHA-256 of the inflated bytes when they could be
/// inflated (for integrity validation: the hash is taken from the bytes decoded, no second
/// read).
pub fn decode_log_file_hashed(
    name: &str,
    bytes: &[u8],
) -> (Option<[u8; 32]>, Result<Vec<TrailEvent>, TrailFileError>) {
    decode(name, bytes, true)
}

/// Decodes a log file, hashing its inflated bytes only when asked (the plain decoder is on
/// paths where no digest is ever compared).
fn decode(
    name: &str,
    bytes: &[u8],
    hash: bool,
) -> (Option<[u8; 32]>, Result<Vec<TrailEvent>, TrailFileError>) {
    let mut inflater = inflate::Inflater::default();
    match log_json(name, bytes, &mut inflater, &crate::input::Limits::current()) {
        Ok(json) => (
            hash.then(|| crate::integrity::sha256(json)),
            scan::select_records(json, &RecordFilter::all(), &mut ScanStats::default()),
        ),
        Err(e) => (None, Err(e)),
    }
}

/// The time range a CloudTrail log file's records may fall in, from its name
/// (`{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json.gz`): the name's time is
/// the delivery time, records are older by up to [`layout::DELIVERY_LAG_MARGIN`] and newer
/// by at most [`layout::CLOCK_SKEW_MARGIN`].
pub fn file_time_range(path: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    layout::parse_log_name(path).map(|n| n.time_range())
}
