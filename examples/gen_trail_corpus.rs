//! Writes a synthetic CloudTrail corpus for the scanner benchmark (see benches/trail_scan.sh).
//!
//! `cargo run --release --example gen_trail_corpus -- --out DIR --mb N --seed S`
//! prints the hidden target job ids and writes them to `DIR/targets.txt`.

use std::path::PathBuf;

use textract_audit::trail::synth::{CorpusSpec, write_corpus};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut out = None;
    let mut spec = CorpusSpec::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--mb" => spec.target_bytes = value()?.parse::<u64>()? << 20,
            "--seed" => spec.seed = value()?.parse()?,
            "--jobs" => spec.jobs = value()?.parse()?,
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    let corpus = write_corpus(&out, &spec)?;
    let mut targets = String::new();
    for t in &corpus.targets {
        println!("{} {} {}", t.job_id, t.bucket, t.started.to_rfc3339());
        targets.push_str(&format!("{}\n", t.job_id));
    }
    std::fs::write(out.join("targets.txt"), targets)?;
    eprintln!(
        "{} files, {} records, {:.1} MB uncompressed ({:.0} B/record), {:.1} MB gzip",
        corpus.files.len(),
        corpus.records,
        corpus.bytes_uncompressed as f64 / 1e6,
        corpus.bytes_uncompressed as f64 / corpus.records.max(1) as f64,
        corpus.bytes_compressed as f64 / 1e6
    );
    Ok(())
}
