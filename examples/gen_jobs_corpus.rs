//! Writes the correlation benchmark's corpus (see benches/audit_scale.sh): N complete jobs in
//! one day of CloudTrail log files, each a Start, P result writes with their GenerateDataKey
//! and a Get* poll, among NOISE unrelated records per job record.
//!
//! `cargo run --release --example gen_jobs_corpus -- --out DIR --jobs N [--pages P] [--noise K] [--seed S]`
//! writes the job ids to `DIR/jobs.txt`, one a line, in start order.

use std::path::PathBuf;

use textract_audit::trail::synth::{JobsSpec, write_jobs_corpus};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = None;
    let mut spec = JobsSpec::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--jobs" => spec.jobs = value()?.parse()?,
            "--pages" => spec.pages = value()?.parse()?,
            "--noise" => spec.noise = value()?.parse()?,
            "--seed" => spec.seed = value()?.parse()?,
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    let corpus = write_jobs_corpus(&out, &spec)?;
    let ids: String = corpus
        .targets
        .iter()
        .map(|t| t.job_id.clone() + "\n")
        .collect();
    std::fs::write(out.join("jobs.txt"), ids)?;
    eprintln!(
        "{} jobs x {} pages, noise {}: {} files, {} records, {:.1} MB uncompressed, {:.1} MB gzip",
        spec.jobs,
        spec.pages,
        spec.noise,
        corpus.files.len(),
        corpus.records,
        corpus.bytes_uncompressed as f64 / 1e6,
        corpus.bytes_compressed as f64 / 1e6
    );
    Ok(())
}
