//! The benchmark's baseline: inflate every log file under a folder with the scanner's own
//! backend and threading, and nothing else.
//!
//! `cargo run --release --example inflate_only -- DIR [THREADS]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use textract_audit::input::Limits;
use textract_audit::trail::inflate::Inflater;
use textract_audit::trail::list_trail_dir;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: inflate_only DIR [THREADS]")?;
    let threads: usize = match args.next() {
        Some(t) => t.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let started = Instant::now();
    let files = list_trail_dir(dir.as_ref(), &[])?.files;
    let next = AtomicUsize::new(0);
    let limits = Limits::from_env()?;
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut inflater, mut raw, mut bytes) = (Inflater::default(), Vec::new(), 0);
                    while let Some(f) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        raw.clear();
                        std::io::Read::read_to_end(&mut std::fs::File::open(&f.path)?, &mut raw)?;
                        bytes += inflater
                            .inflate(&raw, &limits)
                            .map_err(std::io::Error::other)?
                            .len() as u64;
                    }
                    Ok::<u64, std::io::Error>(bytes)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker panicked"))
            .sum::<std::io::Result<u64>>()
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"files\":{},\"bytes_uncompressed\":{total},\"seconds\":{secs:.3},\"mb_per_s\":{:.0}}}",
        files.len(),
        total as f64 / 1e6 / secs
    );
    Ok(())
}
