//! The evidence problems, filed once by what they take away, so that each job finds the ones
//! bearing on it by lookups (`O(log problems + found)`) instead of walking all of them: an
//! audit over a trail directory with many unreadable files stays linear in jobs + problems.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::model::{EvidenceProblem, ProblemScope, TimeWindow};

/// How far a job's window is widened for late delivery: a log file named after the job's
/// time may still hold its records.
pub(crate) const LATE_DELIVERY: Duration = Duration::minutes(15);

/// Indices into `Evidence::problems`, by scope.
pub(crate) struct ProblemIndex<'a> {
    problems: &'a [EvidenceProblem],
    cloudtrail: Spans,
    /// Every CloudTrail problem, for jobs whose window is unknown.
    all_cloudtrail: Vec<usize>,
    /// S3 problems naming no bucket (bear on every job with an output bucket).
    s3_any: Vec<usize>,
    s3_by_bucket: HashMap<&'a str, Vec<usize>>,
    kms: Vec<usize>,
    textract: Vec<usize>,
    trail_config: Vec<usize>,
}

impl<'a> ProblemIndex<'a> {
    pub(super) fn new(problems: &'a [EvidenceProblem]) -> ProblemIndex<'a> {
        let mut ix = ProblemIndex {
            problems,
            cloudtrail: Spans::default(),
            all_cloudtrail: Vec::new(),
            s3_any: Vec::new(),
            s3_by_bucket: HashMap::new(),
            kms: Vec::new(),
            textract: Vec::new(),
            trail_config: Vec::new(),
        };
        let mut spans = Vec::new();
        for (i, p) in problems.iter().enumerate() {
            match &p.scope {
                ProblemScope::CloudTrail { from, until } => {
                    ix.all_cloudtrail.push(i);
                    spans.push((
                        from.unwrap_or(DateTime::<Utc>::MIN_UTC),
                        until.unwrap_or(DateTime::<Utc>::MAX_UTC),
                        i,
                    ));
                }
                ProblemScope::S3 { bucket: None } => ix.s3_any.push(i),
                ProblemScope::S3 { bucket: Some(b) } => {
                    ix.s3_by_bucket.entry(b.as_str()).or_default().push(i)
                }
                ProblemScope::Kms => ix.kms.push(i),
                ProblemScope::Textract => ix.textract.push(i),
                ProblemScope::TrailConfig => ix.trail_config.push(i),
                ProblemScope::Unrelated => {}
            }
        }
        ix.cloudtrail = Spans::new(spans);
        ix
    }

    /// The problems that may hide evidence about a job, in evidence order: CloudTrail
    /// problems overlapping its window widened by [`LATE_DELIVERY`] (all of them when the
    /// window is unknown), S3 problems of its output bucket (or naming none), KMS problems
    /// when a key is involved, and Textract and trail-configuration problems always.
    pub(super) fn for_job(
        &self,
        window: &Result<TimeWindow, String>,
        output_bucket: Option<&str>,
        kms_involved: bool,
    ) -> Vec<EvidenceProblem> {
        let mut found = match window {
            Ok(w) => self
                .cloudtrail
                .overlapping(w.from - LATE_DELIVERY, w.until + LATE_DELIVERY),
            Err(_) => self.all_cloudtrail.clone(),
        };
        if let Some(bucket) = output_bucket {
            found.extend(&self.s3_any);
            found.extend(self.s3_by_bucket.get(bucket).into_iter().flatten());
        }
        if kms_involved {
            found.extend(&self.kms);
        }
        found.extend(&self.textract);
        found.extend(&self.trail_config);
        self.in_order(found)
    }

    /// The problems that may hide a read of results from `since` on (any time when unknown):
    /// CloudTrail problems not over before it, and trail-configuration problems.
    pub(crate) fn since(&self, since: Option<DateTime<Utc>>) -> Vec<EvidenceProblem> {
        let mut found = match since {
            Some(s) => self.cloudtrail.overlapping(s, DateTime::<Utc>::MAX_UTC),
            None => self.all_cloudtrail.clone(),
        };
        found.extend(&self.trail_config);
        self.in_order(found)
    }

    fn in_order(&self, mut found: Vec<usize>) -> Vec<EvidenceProblem> {
        found.sort_unstable();
        found.iter().map(|&i| self.problems[i].clone()).collect()
    }
}

/// Closed time intervals sorted by start, with a max-end tree over them: the intervals
/// meeting `[from, until]` are those starting by `until` (a prefix, by binary search) whose
/// end is at least `from` (found by descending only into subtrees whose max end reaches it).
#[derive(Default)]
struct Spans {
    /// `(start, end, problem index)`, by start.
    spans: Vec<(DateTime<Utc>, DateTime<Utc>, usize)>,
    /// `max_end[node]` over the node's range; node 0 is the root, children `2n+1`, `2n+2`.
    max_end: Vec<DateTime<Utc>>,
}

impl Spans {
    fn new(mut spans: Vec<(DateTime<Utc>, DateTime<Utc>, usize)>) -> Spans {
        spans.sort_unstable();
        let mut s = Spans {
            max_end: vec![DateTime::<Utc>::MIN_UTC; 4 * spans.len().max(1)],
            spans,
        };
        if !s.spans.is_empty() {
            s.fill(0, 0, s.spans.len());
        }
        s
    }

    fn fill(&mut self, node: usize, lo: usize, hi: usize) -> DateTime<Utc> {
        let max = if hi - lo == 1 {
            self.spans[lo].1
        } else {
            let mid = (lo + hi) / 2;
            self.fill(2 * node + 1, lo, mid)
                .max(self.fill(2 * node + 2, mid, hi))
        };
        self.max_end[node] = max;
        max
    }

    /// The problem indices of the intervals meeting `[from, until]`, in no order.
    fn overlapping(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<usize> {
        let starts_by = self.spans.partition_point(|s| s.0 <= until);
        let mut out = Vec::new();
        if starts_by > 0 {
            self.collect(0, 0, self.spans.len(), starts_by, from, &mut out);
        }
        out
    }

    fn collect(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        starts_by: usize,
        from: DateTime<Utc>,
        out: &mut Vec<usize>,
    ) {
        if lo >= starts_by || self.max_end[node] < from {
            return;
        }
        if hi - lo == 1 {
            out.push(self.spans[lo].2);
            return;
        }
        let mid = (lo + hi) / 2;
        self.collect(2 * node + 1, lo, mid, starts_by, from, out);
        self.collect(2 * node + 2, mid, hi, starts_by, from, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn problem(n: usize, scope: ProblemScope) -> EvidenceProblem {
        EvidenceProblem {
            subject: format!("p{n}"),
            reason: "unreadable".into(),
            scope,
        }
    }

    /// The plain filter the index replaces: every problem, judged one by one.
    fn plain(
        problems: &[EvidenceProblem],
        window: &Result<TimeWindow, String>,
        bucket: Option<&str>,
        kms: bool,
    ) -> Vec<EvidenceProblem> {
        problems
            .iter()
            .filter(|p| match &p.scope {
                ProblemScope::CloudTrail { from, until } => match window {
                    Ok(w) => TimeWindow {
                        from: w.from - Duration::minutes(15),
                        until: w.until + Duration::minutes(15),
                    }
                    .overlaps(*from, *until),
                    Err(_) => true,
                },
                ProblemScope::S3 { bucket: b } => match (bucket, b) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(o), Some(b)) => o == b,
                },
                ProblemScope::Kms => kms,
                ProblemScope::Textract | ProblemScope::TrailConfig => true,
                ProblemScope::Unrelated => false,
            })
            .cloned()
            .collect()
    }

    fn plain_since(problems: &[EvidenceProblem], since: Option<DateTime<Utc>>) -> Vec<String> {
        problems
            .iter()
            .filter(|p| match &p.scope {
                ProblemScope::CloudTrail { until, .. } => {
                    since.is_none_or(|s| until.is_none_or(|u| u >= s))
                }
                ProblemScope::TrailConfig => true,
                _ => false,
            })
            .map(|p| p.subject.clone())
            .collect()
    }

    fn subjects(p: Vec<EvidenceProblem>) -> Vec<String> {
        p.into_iter().map(|p| p.subject).collect()
    }

    /// A varied set: open-ended and unbounded intervals, intervals touching a window's widened
    /// edge exactly (in and a minute out), nested and overlapping ones, a long one spanning
    /// others, and every other scope, shuffled so evidence order differs from time order.
    fn varied() -> Vec<EvidenceProblem> {
        let ct = |from: Option<i64>, until: Option<i64>| ProblemScope::CloudTrail {
            from: from.map(at),
            until: until.map(at),
        };
        let mut scopes = vec![
            ct(Some(0), Some(5)),
            ct(Some(45), Some(50)),
            ct(Some(46), Some(50)),
            ct(Some(100), Some(115)),
            ct(Some(99), Some(100)),
            ct(Some(-600), Some(600)),
            ct(None, Some(10)),
            ct(Some(200), None),
            ct(None, None),
            ct(Some(60), Some(60)),
            ct(Some(120), Some(130)),
            ct(Some(10), Some(200)),
            ct(Some(70), Some(74)),
            ProblemScope::S3 { bucket: None },
            ProblemScope::S3 {
                bucket: Some("out".into()),
            },
            ProblemScope::S3 {
                bucket: Some("other".into()),
            },
            ProblemScope::Kms,
            ProblemScope::Textract,
            ProblemScope::TrailConfig,
            ProblemScope::Unrelated,
        ];
        for i in 0..40 {
            let from = (i * 37) % 300 - 50;
            scopes.push(ct(Some(from), Some(from + (i * 13) % 90)));
        }
        // A fixed shuffle: evidence order is not time order.
        let n = scopes.len();
        let mut order: Vec<usize> = (0..n).map(|i| (i * 17) % n).collect();
        order.dedup();
        assert_eq!(order.len(), n, "17 is coprime with {n}");
        order
            .into_iter()
            .enumerate()
            .map(|(k, i)| problem(k, scopes[i].clone()))
            .collect()
    }

    #[test]
    fn indexed_lookup_gives_what_the_plain_filter_gives() {
        let problems = varied();
        let ix = ProblemIndex::new(&problems);
        let mut windows: Vec<Result<TimeWindow, String>> = vec![Err("unknown".into())];
        for (from, until) in [
            (60, 85), // widened to 45..100: touches 45..50 and 99..100 / 100..115 exactly
            (61, 84), // widened to 46..99: in and a minute out at each edge
            (30, 30), // a point in time
            (-1000, -900),
            (1000, 1100),
            (-50, 400),
            (20, 25),
        ] {
            windows.push(Ok(TimeWindow {
                from: at(from),
                until: at(until),
            }));
        }
        for w in &windows {
            for bucket in [None, Some("out"), Some("none-such")] {
                for kms in [false, true] {
                    assert_eq!(
                        subjects(ix.for_job(w, bucket, kms)),
                        subjects(plain(&problems, w, bucket, kms)),
                        "{w:?} {bucket:?} {kms}"
                    );
                }
            }
        }
        for since in [
            None,
            Some(at(-1000)),
            Some(at(50)),
            Some(at(60)),
            Some(at(700)),
        ] {
            assert_eq!(
                subjects(ix.since(since)),
                plain_since(&problems, since),
                "{since:?}"
            );
        }
    }

    #[test]
    fn no_problems_find_none() {
        let ix = ProblemIndex::new(&[]);
        let w = Ok(TimeWindow {
            from: at(0),
            until: at(1),
        });
        assert!(ix.for_job(&w, Some("b"), true).is_empty());
        assert!(ix.since(Some(at(0))).is_empty());
    }
}
