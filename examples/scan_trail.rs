//! Drives the trail scanner from the command line until the CLI's `verify --trail-dir` is
//! wired: prints the scan's figures and the matched events' names as JSON.
//!
//! `cargo run --release --example scan_trail -- --trail-dir DIR [--job-id ID]... \
//!   [--bucket NAME]... [--discovery] [--threads N]`

use std::path::PathBuf;

use textract_audit::trail::{RecordFilter, ScanOptions, scan_trail_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut dir, mut ids, mut buckets, mut discovery, mut threads) =
        (None, Vec::new(), Vec::new(), false, 0);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--trail-dir" => dir = Some(PathBuf::from(value()?)),
            "--job-id" => ids.push(value()?),
            "--bucket" => buckets.push(value()?),
            "--discovery" => discovery = true,
            "--threads" => threads = value()?.parse()?,
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    let dir = dir.ok_or("--trail-dir DIR is required")?;
    let filter = if discovery {
        RecordFilter::discovery()
    } else {
        RecordFilter::jobs(&ids, &buckets)
    };
    let options = ScanOptions {
        threads,
        ..ScanOptions::default()
    };
    let out = scan_trail_dir(&dir, &filter, &options)?;
    let s = &out.stats;
    let secs = s.elapsed.as_secs_f64();
    let mut names = std::collections::BTreeMap::<&str, u64>::new();
    for e in &out.events {
        *names.entry(e.event_name.as_str()).or_default() += 1;
    }
    println!(
        "{}",
        serde_json::json!({
            "files_listed": s.files_listed, "files_pruned": s.files_pruned,
            "dirs_pruned": s.dirs_pruned, "files_read": s.files_read,
            "files_prefiltered": s.files_prefiltered, "files_skipped": s.files_skipped,
            "files_bad": s.files_bad, "bytes_compressed": s.bytes_compressed,
            "bytes_uncompressed": s.bytes_uncompressed, "records_seen": s.records_seen,
            "records_matched": s.records_matched, "seconds": secs,
            "mb_per_s": (s.bytes_uncompressed as f64 / 1e6 / secs).round(),
            "problems": out.problems.len(), "events": names,
        })
    );
    Ok(())
}
