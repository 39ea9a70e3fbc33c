//! The lifecycle timeline chart of one job: inline SVG, no script, no font or asset of its own.
//!
//! One lane per kind of record (Start, Textract's input read and writes, KMS calls, `Get*`
//! polls, later reads, other writes and deletes, what was read at capture), on a time axis that
//! breaks across long quiet gaps (a job of two minutes captured an hour later keeps its two
//! minutes readable). Each mark is coloured *and shaped* by its row's check (colour is not the
//! only cue, also in print), carries a `<title>` naming its rows and links to them in the
//! lifecycle table; marks closer than a mark's width merge into one with a count. Output
//! depends only on the report: the same report gives the same bytes.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::super::{checks, escape_xml as esc};
use crate::model::rfc3339;
use crate::report::JobReport;
use crate::rules::Status;
use crate::timeline::EntryKind;

/// The lanes, top to bottom.
const LANES: [&str; 8] = [
    "Start",
    "Input read",
    "Textract writes",
    "KMS calls",
    "Get* polls",
    "Reads of output",
    "Other writes, deletes",
    "Read at capture",
];

fn lane(kind: EntryKind) -> usize {
    match kind {
        EntryKind::Start => 0,
        EntryKind::InputRead => 1,
        EntryKind::Write { by_textract: true } => 2,
        EntryKind::Kms => 3,
        EntryKind::Poll => 4,
        EntryKind::Read => 5,
        EntryKind::Write { by_textract: false } | EntryKind::Delete => 6,
        EntryKind::Capture => 7,
    }
}

// Geometry, in SVG user units.
const WIDTH: f64 = 960.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 18.0;
const LANE_HEIGHT: f64 = 26.0;
/// The width of the break drawn across a long quiet gap.
const GAP: f64 = 30.0;
/// The narrowest a segment of the axis gets.
const MIN_SEGMENT: f64 = 70.0;
/// Marks keep this far from their segment's ends.
const INSET: f64 = 10.0;
/// Marks of one lane closer than this merge.
const MERGE: f64 = 12.0;

/// The anchor of row `i` (0-based) of the lifecycle table of the job anchored at `job`.
pub(super) fn row_anchor(job: &str, i: usize) -> String {
    format!("{job}-row-{}", i + 1)
}

/// A stretch of the time axis without a long gap, in milliseconds since the epoch.
struct Segment {
    from: i64,
    until: i64,
    x: f64,
    width: f64,
}

impl Segment {
    fn x_of(&self, t: i64) -> f64 {
        if self.until == self.from {
            self.x + self.width / 2.0
        } else {
            let inner = self.width - 2.0 * INSET;
            self.x + INSET + inner * (t - self.from) as f64 / (self.until - self.from) as f64
        }
    }
}

/// Splits the sorted, distinct `times` where a quiet gap is longer than a quarter of the whole
/// span (and than a minute), and lays the segments out across the plot.
fn segments(times: &[i64]) -> Vec<Segment> {
    let (first, last) = (times[0], times[times.len() - 1]);
    let long = ((last - first) / 4).max(60_000);
    let mut bounds: Vec<(i64, i64)> = vec![(first, first)];
    for &t in &times[1..] {
        let current = bounds.last_mut().expect("one segment");
        if t - current.1 > long {
            bounds.push((t, t));
        } else {
            current.1 = t;
        }
    }
    let n = bounds.len() as f64;
    let room = WIDTH - LEFT - RIGHT - (n - 1.0) * GAP;
    let min = MIN_SEGMENT.min(room / n);
    let spans: i64 = bounds.iter().map(|(a, b)| b - a).sum();
    let mut x = LEFT;
    bounds
        .into_iter()
        .map(|(from, until)| {
            let share = if spans == 0 {
                1.0 / n
            } else {
                (until - from) as f64 / spans as f64
            };
            let width = min + (room - n * min) * share;
            let s = Segment {
                from,
                until,
                x,
                width,
            };
            x += width + GAP;
            s
        })
        .collect()
}

/// Tick steps, in milliseconds.
const STEPS: [i64; 17] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000,
];

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("a time the report holds")
}

/// The ticks of a segment: `(ms, label)`, at most one per 90 units, at least one.
fn ticks(s: &Segment) -> Vec<(i64, String)> {
    let span = s.until - s.from;
    let most = ((s.width / 90.0) as i64).max(1);
    let step = STEPS
        .into_iter()
        .find(|step| span / step < most)
        .unwrap_or(STEPS[STEPS.len() - 1] * (span / (most * STEPS[STEPS.len() - 1]) + 1));
    let label = |ms: i64| {
        let f = if step < 60_000 { "%H:%M:%S" } else { "%H:%M" };
        time(ms).format(f).to_string()
    };
    let mut t = s.from.div_euclid(step) * step;
    if t < s.from {
        t += step;
    }
    let mut out = Vec::new();
    while t <= s.until {
        out.push((t, label(t)));
        t += step;
    }
    if out.is_empty() {
        out.push((s.from, time(s.from).format("%H:%M:%S").to_string()));
    }
    out
}

/// The CSS class of a check: the status, or `none` when no rule judged the row.
fn class(check: Option<Status>) -> &'static str {
    match check {
        Some(Status::Fail) => "FAIL",
        Some(Status::Inconclusive) => "INCONCLUSIVE",
        Some(Status::Pass) => "PASS",
        Some(Status::NotApplicable) | None => "none",
    }
}

/// A mark centred at `(x, y)`: FAIL a diamond, INCONCLUSIVE a triangle, PASS a disc, a row no
/// rule judged a ring.
fn shape(out: &mut String, class: &str, x: f64, y: f64) {
    let _ = match class {
        "FAIL" => write!(
            out,
            "<polygon class=\"FAIL\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>",
            x,
            y - 7.0,
            x + 7.0,
            y,
            x,
            y + 7.0,
            x - 7.0,
            y
        ),
        "INCONCLUSIVE" => write!(
            out,
            "<polygon class=\"INCONCLUSIVE\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/>",
            x,
            y - 7.0,
            x + 7.0,
            y + 6.0,
            x - 7.0,
            y + 6.0
        ),
        "PASS" => write!(
            out,
            "<circle class=\"PASS\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\"/>"
        ),
        _ => write!(
            out,
            "<circle class=\"none\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\"/>"
        ),
    };
}

/// One drawn mark: the rows it stands for (indexes into the timeline) and where.
struct Mark {
    lane: usize,
    x: f64,
    rows: Vec<usize>,
    check: Option<Status>,
}

/// The chart of `j`'s lifecycle, its rows linking to `{anchor}-row-{n}`; empty when no row has
/// a time.
pub(super) fn lifecycle(j: &JobReport, anchor: &str) -> String {
    let checks = checks(&j.findings);
    let check = |i: usize| checks.get(&j.timeline[i].evidence).map(|c| c.worst);
    let timed: Vec<(usize, i64)> = j
        .timeline
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.time.map(|t| (i, t.timestamp_millis())))
        .collect();
    if timed.is_empty() {
        return String::new();
    }
    let mut times: Vec<i64> = timed.iter().map(|&(_, t)| t).collect();
    times.sort_unstable();
    times.dedup();
    let segments = segments(&times);
    let x_of = |t: i64| {
        let s = segments
            .iter()
            .rev()
            .find(|s| s.from <= t)
            .expect("a segment starts at the first time");
        s.x_of(t)
    };

    // Marks per lane, left to right; a mark closer than MERGE to its lane's previous one joins it.
    let mut placed: Vec<(usize, f64, usize)> = timed
        .iter()
        .map(|&(i, t)| (lane(j.timeline[i].kind), x_of(t), i))
        .collect();
    placed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut marks: Vec<Mark> = Vec::new();
    for (lane, x, i) in placed {
        match marks.last_mut() {
            Some(m) if m.lane == lane && x - m.x < MERGE => {
                m.rows.push(i);
                m.check = m.check.max(check(i));
            }
            _ => marks.push(Mark {
                lane,
                x,
                rows: vec![i],
                check: check(i),
            }),
        }
    }
    let mut lanes: Vec<usize> = marks.iter().map(|m| m.lane).collect();
    lanes.dedup();
    let y_of = |lane: usize| {
        let k = lanes.iter().position(|&l| l == lane).expect("a used lane");
        TOP + k as f64 * LANE_HEIGHT + LANE_HEIGHT / 2.0
    };
    let axis = TOP + lanes.len() as f64 * LANE_HEIGHT;
    let height = axis + 62.0;

    let mut out = String::new();
    let id = esc(&j.job_id.0);
    let _ = writeln!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{anchor}-chart-title {anchor}-chart-desc\">"
    );
    let _ = writeln!(
        out,
        "<title id=\"{anchor}-chart-title\">Lifecycle timeline of job {id}</title>"
    );
    let (first, last) = (times[0], times[times.len() - 1]);
    let untimed = j.timeline.len() - timed.len();
    let _ = writeln!(
        out,
        "<desc id=\"{anchor}-chart-desc\">{} row(s) from {} to {} (UTC), one lane per kind of record, each mark shaped and coloured by its row's check{}.</desc>",
        timed.len(),
        rfc3339(time(first)),
        rfc3339(time(last)),
        if untimed > 0 {
            format!("; {untimed} row(s) without a time are only in the table")
        } else {
            String::new()
        }
    );
    // Lanes.
    for &l in &lanes {
        let y = y_of(l);
        let _ = writeln!(
            out,
            "<line class=\"lane\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 10.0,
            y + 4.0,
            esc(LANES[l])
        );
    }
    // The axis: its segments, ticks, dates and the gaps between segments.
    let mut date = String::new();
    for (k, s) in segments.iter().enumerate() {
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{:.1}\" y1=\"{axis:.1}\" x2=\"{:.1}\" y2=\"{axis:.1}\"/>",
            s.x,
            s.x + s.width
        );
        for (t, label) in ticks(s) {
            let x = s.x_of(t);
            let _ = writeln!(
                out,
                "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{axis:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                axis + 4.0,
                axis + 16.0
            );
        }
        let day = time(s.from).format("%Y-%m-%d").to_string();
        if day != date {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{day} UTC</text>",
                s.x,
                axis + 31.0
            );
            date = day;
        }
        if let Some(next) = segments.get(k + 1) {
            let x = s.x + s.width + GAP / 2.0;
            let _ = writeln!(
                out,
                "<line class=\"axis\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/><line class=\"axis\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} later</text>",
                x - 5.0,
                axis + 5.0,
                x - 1.0,
                axis - 5.0,
                x + 1.0,
                axis + 5.0,
                x + 5.0,
                axis - 5.0,
                TOP - 6.0,
                duration(next.from - s.until)
            );
        }
    }
    // The marks.
    for m in &marks {
        let y = y_of(m.lane);
        let rows: Vec<String> = m
            .rows
            .iter()
            .map(|&i| {
                let e = &j.timeline[i];
                let mut line = format!(
                    "#{} {} {} by {}",
                    i + 1,
                    e.time.map(rfc3339).unwrap_or_default(),
                    e.action,
                    e.actor
                );
                if let Some(o) = &e.object {
                    let _ = write!(line, ", {o}");
                }
                let _ = write!(
                    line,
                    ": {}",
                    match check(i) {
                        Some(s @ (Status::Fail | Status::Inconclusive | Status::Pass)) =>
                            s.to_string(),
                        _ => "not judged by a rule".into(),
                    }
                );
                esc(&line)
            })
            .collect();
        let _ = write!(
            out,
            "<a href=\"#{}\"><g><title>{}</title>",
            row_anchor(anchor, m.rows[0]),
            rows.join("\n")
        );
        shape(&mut out, class(m.check), m.x, y);
        if m.rows.len() > 1 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">\u{d7}{}</text>",
                m.x + 9.0,
                y - 6.0,
                m.rows.len()
            );
        }
        out.push_str("</g></a>\n");
    }
    // The legend.
    let y = axis + 50.0;
    let mut x = LEFT;
    for (c, label) in [
        ("FAIL", "FAIL"),
        ("INCONCLUSIVE", "INCONCLUSIVE"),
        ("PASS", "PASS"),
        ("none", "not judged by a rule"),
    ] {
        shape(&mut out, c, x, y - 4.0);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{y:.1}\">{label}</text>",
            x + 11.0
        );
        x += 30.0 + 7.5 * label.len() as f64;
    }
    out.push_str("\n</svg>\n");
    out
}

/// `58 min`, `3 h 5 min`, `2 d 4 h`: a gap's length, rounded down.
fn duration(ms: i64) -> String {
    let min = ms / 60_000;
    match (min / 1440, min % 1440 / 60, min % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_quiet_gap_breaks_the_axis_and_short_ones_do_not() {
        let min = 60_000;
        let s = segments(&[0, 30_000, 2 * min, 60 * min]);
        assert_eq!(
            s.iter().map(|s| (s.from, s.until)).collect::<Vec<_>>(),
            [(0, 2 * min), (60 * min, 60 * min)]
        );
        assert!(s[0].width > s[1].width, "the busy stretch gets the room");
        let last = &s[s.len() - 1];
        assert!(
            (last.x + last.width - (WIDTH - RIGHT)).abs() < 1e-6,
            "fills the plot"
        );
        assert_eq!(segments(&[0, min, 2 * min, 3 * min]).len(), 1);
        assert_eq!(duration(58 * min), "58 min");
        assert_eq!(duration(125 * min), "2 h 5 min");
        assert_eq!(duration(3 * 1440 * min + 61 * min), "3 d 1 h");
    }

    #[test]
    fn ticks_are_round_times_inside_their_segment() {
        let s = Segment {
            from: 1_000,
            until: 121_000,
            x: LEFT,
            width: 500.0,
        };
        let t = ticks(&s);
        assert_eq!(
            t.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["00:00:30", "00:01:00", "00:01:30", "00:02:00"]
        );
        assert!(t.iter().all(|&(ms, _)| (s.from..=s.until).contains(&ms)));
        let point = Segment {
            from: 5_000,
            until: 5_000,
            x: LEFT,
            width: 70.0,
        };
        assert_eq!(ticks(&point), [(5_000, "00:00:05".to_owned())]);
    }
}
