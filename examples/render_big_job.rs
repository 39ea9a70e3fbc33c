//! Times correlating and rendering one job with many result pages (issue 9: a 10,000-page
//! job rendered as a table in under 2 s). Built from the `row4-sse-kms` fixture: page `1`'s
//! PutObject, GenerateDataKey and HeadObject are copied for pages 1..=PAGES.
//!
//!     cargo run --release --example render_big_job -- [PAGES=10000]

use std::time::Instant;

use textract_audit::evidence::bundle;
use textract_audit::model::{ObjectHead, TrailEvent, str_ci};
use textract_audit::render::{self, Format, Style};
use textract_audit::report::{self, Policy};
use textract_audit::rules::RuleSet;
use textract_audit::timeline;

fn main() {
    let pages: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("PAGES is a number"))
        .unwrap_or(10_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/row4-sse-kms");
    let mut evidence = bundle::load(&dir).expect("the fixture loads");
    let page_one = |e: &&TrailEvent| {
        str_ci(&e.request_parameters, "key").is_some_and(|k| k.ends_with("/1"))
            || str_ci(&e.request_parameters, "encryptionContext/aws:s3:arn")
                .is_some_and(|k| k.ends_with("/1"))
    };
    let templates: Vec<TrailEvent> = evidence.events.iter().filter(page_one).cloned().collect();
    let head: ObjectHead = evidence
        .heads
        .iter()
        .find(|h| h.object.key.ends_with("/1"))
        .expect("page 1 has a HeadObject")
        .clone();
    let mut events = Vec::new();
    for n in 2..=pages {
        for t in &templates {
            let mut e = t.clone();
            e.event_id = format!("{}-{n}", e.event_id);
            let text = serde_json::to_string(&e.request_parameters).unwrap();
            e.request_parameters =
                serde_json::from_str(&text.replace("/1\"", &format!("/{n}\""))).unwrap();
            events.push(e);
        }
        let mut h = head.clone();
        h.object.key = h.object.key.replace("/1", &format!("/{n}"));
        evidence.heads.push(h);
    }
    evidence.add_records(events);
    let rules = RuleSet::builtin().unwrap();
    let jobs = timeline::discover_jobs(&evidence);
    let t0 = Instant::now();
    let report = report::build(&evidence, &rules, &jobs, &Policy::default());
    let built = t0.elapsed();
    let table = |verbose| {
        let t = Instant::now();
        let style = Style {
            color: false,
            width: 160,
            verbose,
        };
        let text = render::render(&report, &rules, Format::Table, style);
        (t.elapsed(), text.lines().count())
    };
    let (folded, folded_lines) = table(false);
    let (full, full_lines) = table(true);
    println!(
        "pages={pages} records={} timeline_rows={} correlate+judge={:.3}s table={:.3}s ({folded_lines} lines, rows folded) table --verbose={:.3}s ({full_lines} lines)",
        evidence.events.len(),
        report.jobs[0].timeline.len(),
        built.as_secs_f64(),
        folded.as_secs_f64(),
        full.as_secs_f64(),
    );
}
