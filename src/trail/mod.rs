//! CloudTrail trail log files: decoding (gzip + `{"Records":[…]}`) and time ranges from names.
//!
//! First, simple version: the fast parallel scanner replaces the internals, keeping these
//! signatures (the bundle loader calls them).

use std::io::Read;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::model::TrailEvent;

/// Why a log file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrailFileError {
    #[error("gzip stream is corrupt or truncated: {0}")]
    Gzip(std::io::Error),
    #[error("invalid CloudTrail log JSON: {0}")]
    Json(serde_json::Error),
}

#[derive(Deserialize)]
struct LogFile {
    #[serde(rename = "Records")]
    records: Vec<TrailEvent>,
}

/// Decodes one log file's bytes (gzip detected by its magic bytes, else plain JSON) into
/// its records. Any error rejects the whole file: a partial file could hide the one event
/// that matters.
pub fn decode_log_file(bytes: &[u8]) -> Result<Vec<TrailEvent>, TrailFileError> {
    let json: std::borrow::Cow<[u8]> = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(TrailFileError::Gzip)?;
        out.into()
    } else {
        bytes.into()
    };
    let file: LogFile = serde_json::from_slice(&json).map_err(TrailFileError::Json)?;
    Ok(file.records)
}

/// The time range a CloudTrail log file's records may fall in, from its name
/// (`{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json.gz`). The name's time is
/// the delivery time: records are up to about 15 minutes older (widened to an hour here, as
/// late delivery happens), never newer than five minutes after it.
pub fn file_time_range(path: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let name = path.rsplit('/').next()?;
    let stamp = name
        .split('_')
        .find(|p| p.len() == 14 && p.as_bytes()[8] == b'T' && p.ends_with('Z'))?;
    let t = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()?
        .and_utc();
    Some((t - Duration::hours(1), t + Duration::minutes(5)))
}
