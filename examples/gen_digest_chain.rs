//! The integrity benchmark's corpus: an hourly CloudTrail digest chain per account and
//! Region over the log files of a trail folder (e.g. the one `gen_trail_corpus` writes), signed
//! by a key made here, and KEYS_FILE: the `list-public-keys` JSON trusting it (keep it outside
//! DIR, where the scanner would list it). See docs/performance.md, "Log file integrity".
//!
//! `cargo run --release --example gen_digest_chain -- DIR KEYS_FILE`

use std::collections::BTreeMap;

use chrono::{DurationRound, TimeDelta};
use textract_audit::integrity::synth::{self, Signer, SynthTrail};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: gen_digest_chain DIR KEYS_FILE";
    let dir = args.next().ok_or(usage)?;
    let keys = args.next().ok_or(usage)?;
    let root = std::path::Path::new(&dir);
    let signer = Signer::generate();
    // AWSLogs/{account}/CloudTrail/{region}/…: one chain per account and Region.
    let mut trails: BTreeMap<(String, String), Vec<synth::SynthLog>> = BTreeMap::new();
    for log in synth::logs_in_dir(root, None)? {
        let parts: Vec<&str> = log.key.split('/').collect();
        trails
            .entry((parts[1].to_owned(), parts[3].to_owned()))
            .or_default()
            .push(log);
    }
    let (mut first, mut last) = (None, None);
    let mut digests = 0;
    for ((account, region), logs) in &trails {
        let delivered: Vec<_> = logs
            .iter()
            .filter_map(|l| textract_audit::trail::layout::parse_log_name(&l.key))
            .map(|n| n.delivered)
            .collect();
        let (Some(from), Some(until)) = (delivered.iter().min(), delivered.iter().max()) else {
            continue;
        };
        let start = from.duration_trunc(TimeDelta::hours(1))?;
        let hours = ((*until - start).num_hours() + 1) as usize;
        let trail = SynthTrail {
            bucket: "bench-trail".into(),
            prefix: None,
            org_id: None,
            account: account.clone(),
            region: region.clone(),
            name: "bench".into(),
            home_region: region.clone(),
        };
        let shaped = synth::by_delivery_hour(logs, start, hours);
        digests += synth::write_chain(root, &trail, start, &shaped, &[&signer], false)?.len();
        first = first.min(Some(start)).or(Some(start));
        last = last.max(Some(start + TimeDelta::hours(hours as i64)));
    }
    let (Some(first), Some(last)) = (first, last) else {
        return Err("no log files in the CloudTrail layout".into());
    };
    synth::write_public_keys(
        keys.as_ref(),
        &[&signer],
        first - TimeDelta::days(1),
        last + TimeDelta::days(1),
    )?;
    println!(
        "{digests} digests over {} trail(s); keys in {keys}",
        trails.len()
    );
    Ok(())
}
