//! SQL generation for Athena's CloudTrail table and CloudTrail Lake: what to select, how
//! every value is quoted, and how jobs are batched under each engine's size limit.
//!
//! The SQL is a *superset* filter: it keeps every record that can matter (decoded values,
//! so JSON escapes cannot hide one), and the evidence rounds then tie records to jobs
//! exactly, as they do for log files. Values are never spliced unquoted: string literals
//! double `'` (Trino has no backslash escapes), identifiers double `"`.

use chrono::{DateTime, SecondsFormat, Utc};

use super::partition::Pruning;
use crate::model::bucket_arn;

/// Athena's limit on a query string, in bytes.
pub const ATHENA_MAX_QUERY_BYTES: usize = 262_144;
/// CloudTrail Lake's limit on a query statement, in characters.
pub const LAKE_MAX_QUERY_CHARS: usize = 10_000;

/// A Trino string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A Trino quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Which engine the SQL is for: they name columns and nested values differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// Athena over a trail bucket: `catalog`, `database`, `table`; JSON strings for
    /// `requestparameters` & co., structs for `useridentity`/`resources`.
    Athena {
        catalog: Option<String>,
        database: String,
        table: String,
    },
    /// CloudTrail Lake: the event data store id; `map<string,string>` columns.
    Lake { event_data_store: String },
}

/// One job's ties to records: its id and, with OutputConfig, its output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTarget {
    pub job_id: String,
    /// `(bucket, prefix)`; the folder is `{prefix}/{job_id}/`.
    pub output: Option<(String, String)>,
}

/// What the evidence rounds need from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Event time window (records outside it are not selected).
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// Jobs to verify; empty with `discover`: every Start* in the window.
    pub jobs: Vec<JobTarget>,
    /// Every Textract `Start*` in the window (`audit --since`).
    pub discover: bool,
    /// Key ARNs the jobs asked for or their outputs carry: KMS events on them, including
    /// key-state changes.
    pub key_arns: Vec<String>,
    /// ARN partition of the buckets (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub partition: String,
}

/// Why no SQL can be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    #[error(
        "one job alone makes a query of {size} (limit {limit}); job id starts {job:?}: \
         it cannot be pushed down"
    )]
    JobTooLarge {
        size: usize,
        limit: usize,
        job: String,
    },
    #[error("nothing to select: no job ids, no discovery")]
    Empty,
}

impl Engine {
    fn limit(&self) -> usize {
        match self {
            Engine::Athena { .. } => ATHENA_MAX_QUERY_BYTES,
            Engine::Lake { .. } => LAKE_MAX_QUERY_CHARS,
        }
    }

    fn size(&self, sql: &str) -> usize {
        match self {
            Engine::Athena { .. } => sql.len(),
            Engine::Lake { .. } => sql.chars().count(),
        }
    }

    fn from(&self) -> String {
        match self {
            Engine::Athena {
                catalog,
                database,
                table,
            } => {
                let mut parts: Vec<String> = catalog.iter().map(|c| quote_ident(c)).collect();
                parts.push(quote_ident(database));
                parts.push(quote_ident(table));
                parts.join(".")
            }
            // Lake names the store by its id, unquoted; ids are `[A-Za-z0-9-]`, anything
            // else is refused by the caller (see `lake_store_ok`).
            Engine::Lake { event_data_store } => event_data_store.clone(),
        }
    }

    /// Column `name` (CloudTrail's camelCase name) as this engine spells it.
    fn col(&self, name: &str) -> String {
        match self {
            Engine::Athena { .. } => name.to_ascii_lowercase(),
            Engine::Lake { .. } => name.to_string(),
        }
    }

    /// A scalar string at a JSON path of a nested column (`requestParameters`, ...).
    /// Athena: `json_extract_scalar` over the JSON string. Lake: the map's top-level
    /// value, through `json_extract_scalar` again when the path goes deeper.
    fn nested(&self, column: &str, path: &[&str]) -> String {
        let json_path = |path: &[&str]| -> String {
            let mut text = "$".to_string();
            for segment in path {
                if segment.chars().all(|c| c.is_ascii_alphanumeric()) {
                    text.push('.');
                    text.push_str(segment);
                } else {
                    text.push_str(&format!("[\"{segment}\"]"));
                }
            }
            quote_literal(&text)
        };
        match self {
            Engine::Athena { .. } => format!(
                "json_extract_scalar({}, {})",
                self.col(column),
                json_path(path)
            ),
            Engine::Lake { .. } => {
                let top = format!("element_at({}, {})", column, quote_literal(path[0]));
                if path.len() == 1 {
                    top
                } else {
                    format!("json_extract_scalar({top}, {})", json_path(&path[1..]))
                }
            }
        }
    }

    /// The columns read back, nested ones as JSON text (Athena renders structs and maps
    /// as `{k=v}`, which is not JSON and loses types).
    fn select_list(&self) -> String {
        let json = |c: &str| {
            format!(
                "json_format(CAST({} AS JSON)) AS {}",
                self.col(c),
                self.col(c)
            )
        };
        let plain = |c: &str| self.col(c);
        let mut columns = vec![
            plain("eventVersion"),
            json("userIdentity"),
            plain("eventTime"),
            plain("eventSource"),
            plain("eventName"),
            plain("awsRegion"),
            plain("sourceIPAddress"),
            plain("userAgent"),
            plain("errorCode"),
            plain("errorMessage"),
        ];
        for nested in [
            "requestParameters",
            "responseElements",
            "additionalEventData",
        ] {
            columns.push(match self {
                Engine::Athena { .. } => plain(nested),
                Engine::Lake { .. } => json(nested),
            });
        }
        columns.extend([
            plain("requestId"),
            plain("eventId"),
            match self {
                Engine::Athena { .. } => plain("readOnly"),
                Engine::Lake { .. } => "CAST(readOnly AS VARCHAR) AS readOnly".to_string(),
            },
            json("resources"),
            plain("eventType"),
            plain("recipientAccountId"),
            plain("sharedEventId"),
            plain("eventCategory"),
        ]);
        columns.join(", ")
    }

    /// The event-time window conjunct. Athena's `eventtime` is the record's ISO string,
    /// which orders as time; Lake's `eventTime` is a timestamp.
    fn window(&self, window: (DateTime<Utc>, DateTime<Utc>)) -> String {
        match self {
            Engine::Athena { .. } => {
                let iso =
                    |t: DateTime<Utc>| quote_literal(&t.to_rfc3339_opts(SecondsFormat::Secs, true));
                format!("eventtime BETWEEN {} AND {}", iso(window.0), iso(window.1))
            }
            Engine::Lake { .. } => {
                let ts = |t: DateTime<Utc>| {
                    format!(
                        "timestamp {}",
                        quote_literal(&t.format("%Y-%m-%d %H:%M:%S").to_string())
                    )
                };
                format!("eventTime BETWEEN {} AND {}", ts(window.0), ts(window.1))
            }
        }
    }

    /// `any_match` over the `resources` ARNs; `test` names the ARN `{arn}`.
    fn any_resource(&self, test: &str) -> String {
        format!(
            "any_match({}, r -> {})",
            self.col("resources"),
            test.replace("{arn}", "r.arn")
        )
    }
}

/// True if `id` can name a Lake event data store in SQL (an id or the id part of an ARN).
pub fn lake_store_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quote_literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record-selecting disjunction for `jobs` (and discovery, and keys).
fn selection_predicate(engine: &Engine, selection: &Selection, jobs: &[JobTarget]) -> String {
    let source = engine.col("eventSource");
    let name = engine.col("eventName");
    let mut any = Vec::new();
    if selection.discover {
        any.push(format!(
            "({source} = 'textract.amazonaws.com' AND starts_with({name}, 'Start'))"
        ));
    }
    if !jobs.is_empty() {
        let ids: Vec<String> = jobs.iter().map(|j| j.job_id.clone()).collect();
        any.push(format!(
            "({source} = 'textract.amazonaws.com' AND ({} IN ({ids}) OR {} IN ({ids})))",
            engine.nested("responseElements", &["jobId"]),
            engine.nested("requestParameters", &["jobId"]),
            ids = list(&ids)
        ));
    }
    let folders: Vec<(String, String)> = jobs
        .iter()
        .filter_map(|j| {
            let (bucket, prefix) = j.output.as_ref()?;
            let prefix = prefix.trim_end_matches('/');
            Some((bucket.clone(), format!("{prefix}/{}/", j.job_id)))
        })
        .collect();
    for (bucket, folder) in &folders {
        let object_arn = format!("{}/{folder}", bucket_arn(&selection.partition, bucket));
        // S3 data events on objects of the folder (the key decoded, or the resource ARN),
        // and KMS events whose encryption context is one of those objects.
        any.push(format!(
            "({source} = 's3.amazonaws.com' AND (({} = {} AND starts_with({}, {})) OR {}))",
            engine.nested("requestParameters", &["bucketName"]),
            quote_literal(bucket),
            engine.nested("requestParameters", &["key"]),
            quote_literal(folder),
            engine.any_resource(&format!(
                "starts_with({{arn}}, {})",
                quote_literal(&object_arn)
            ))
        ));
        any.push(format!(
            "({source} = 'kms.amazonaws.com' AND starts_with({}, {}))",
            engine.nested("requestParameters", &["encryptionContext", "aws:s3:arn"]),
            quote_literal(&object_arn)
        ));
    }
    let mut buckets: Vec<String> = jobs
        .iter()
        .filter_map(|j| {
            j.output
                .as_ref()
                .map(|(b, _)| bucket_arn(&selection.partition, b))
        })
        .collect();
    buckets.sort();
    buckets.dedup();
    if !buckets.is_empty() {
        // Bucket Keys: the context is the bucket ARN.
        any.push(format!(
            "({source} = 'kms.amazonaws.com' AND {} IN ({}))",
            engine.nested("requestParameters", &["encryptionContext", "aws:s3:arn"]),
            list(&buckets)
        ));
    }
    if !selection.key_arns.is_empty() {
        // Every KMS event on the keys: data-key calls and key-state changes alike.
        any.push(format!(
            "({source} = 'kms.amazonaws.com' AND {})",
            engine.any_resource(&format!("{{arn}} IN ({})", list(&selection.key_arns)))
        ));
    }
    any.join(" OR ")
}

/// Athena: the number of records in each day partition the pruning reads, so that a day with
/// none is a gap in what the table covers, not a clean day. `None` when the table has no
/// day partition (or for Lake, which has no partitions).
pub fn records_per_day(engine: &Engine, pruning: &Pruning) -> Option<String> {
    let key = pruning.day_key()?;
    match engine {
        Engine::Athena { .. } => Some(format!(
            "SELECT {key} AS day, count(*) AS records FROM {} WHERE {} GROUP BY 1",
            engine.from(),
            pruning.predicate(),
            key = quote_ident(key)
        )),
        Engine::Lake { .. } => None,
    }
}

fn query(
    engine: &Engine,
    pruning: Option<&Pruning>,
    selection: &Selection,
    jobs: &[JobTarget],
) -> String {
    let partitions = match (engine, pruning) {
        (Engine::Athena { .. }, Some(p)) => format!("({}) AND ", p.predicate()),
        _ => String::new(),
    };
    format!(
        "SELECT {} FROM {} WHERE {partitions}{} AND ({})",
        engine.select_list(),
        engine.from(),
        engine.window(selection.window),
        selection_predicate(engine, selection, jobs)
    )
}

/// The queries for `selection`, jobs batched so that every query is under the engine's
/// size limit. Discovery and key events go in the first query only.
///
/// Packing is linear: a job's cost is what it adds to an empty query, which counts its
/// share of every shared list and the lists' own wrappers, so the sum over-estimates the
/// real query; each query is still measured before it is kept.
pub fn generate(
    engine: &Engine,
    pruning: Option<&Pruning>,
    selection: &Selection,
) -> Result<Vec<String>, SqlError> {
    if selection.jobs.is_empty() && !selection.discover && selection.key_arns.is_empty() {
        return Err(SqlError::Empty);
    }
    let limit = engine.limit();
    let later = Selection {
        discover: false,
        key_arns: Vec::new(),
        ..selection.clone()
    };
    let build = |batch: &[JobTarget], first: bool| {
        query(
            engine,
            pruning,
            if first { selection } else { &later },
            batch,
        )
    };
    let too_large = |sql: &str, job: &JobTarget| SqlError::JobTooLarge {
        size: engine.size(sql),
        limit,
        job: job.job_id.chars().take(80).collect(),
    };
    let mut queries: Vec<String> = Vec::new();
    let mut batch: Vec<JobTarget> = Vec::new();
    let mut estimate = 0;
    for job in &selection.jobs {
        let first = queries.is_empty();
        let empty = engine.size(&build(&[], first));
        let alone = build(std::slice::from_ref(job), first);
        if engine.size(&alone) > limit {
            return Err(too_large(&alone, job));
        }
        let cost = engine.size(&alone) - empty;
        if !batch.is_empty() && empty + estimate + cost > limit {
            let sql = build(&batch, first);
            if engine.size(&sql) > limit {
                return Err(too_large(&sql, &batch[0]));
            }
            queries.push(sql);
            batch.clear();
            estimate = 0;
        }
        batch.push(job.clone());
        estimate += cost;
    }
    if !batch.is_empty() || queries.is_empty() {
        let sql = build(&batch, queries.is_empty());
        if let Some(job) = batch.first()
            && engine.size(&sql) > limit
        {
            return Err(too_large(&sql, job));
        }
        queries.push(sql);
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn athena() -> Engine {
        Engine::Athena {
            catalog: None,
            database: "db".into(),
            table: "cloudtrail_logs".into(),
        }
    }

    fn lake() -> Engine {
        Engine::Lake {
            event_data_store: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
        }
    }

    fn selection(ids: &[String]) -> Selection {
        Selection {
            window: (
                Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
            ),
            jobs: ids
                .iter()
                .map(|id| JobTarget {
                    job_id: id.clone(),
                    output: Some(("lab-output".into(), "textract-results".into())),
                })
                .collect(),
            discover: false,
            key_arns: vec![],
            partition: "aws".into(),
        }
    }

    fn job_ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:064x}")).collect()
    }

    #[test]
    fn literals_double_quotes_and_nothing_else() {
        assert_eq!(quote_literal("a'b"), "'a''b'");
        assert_eq!(quote_literal(r"a\'"), r"'a\'''");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn hostile_job_id_and_prefix_stay_inside_literals() {
        let hostile = "x') OR 1=1 --".to_string();
        let mut s = selection(std::slice::from_ref(&hostile));
        s.jobs[0].output = Some(("b".into(), "p' OR '1'='1".into()));
        let sql = generate(&athena(), None, &s).unwrap().remove(0);
        assert!(sql.contains("'x'') OR 1=1 --'"), "{sql}");
        assert!(sql.contains("'p'' OR ''1''=''1/x'') OR 1=1 --/'"), "{sql}");
        // Every quote in the SQL is balanced: stripping literals leaves no stray quote.
        let mut inside = false;
        let mut outside = String::new();
        for c in sql.chars() {
            if c == '\'' {
                inside = !inside;
            } else if !inside {
                outside.push(c);
            }
        }
        assert!(!inside);
        assert!(!outside.contains("OR 1=1"), "{outside}");
    }

    #[test]
    fn athena_query_selects_jobs_folders_and_keys_with_partitions() {
        let mut s = selection(&job_ids(1));
        s.key_arns = vec!["arn:aws:kms:us-east-1:123456789012:key/k".into()];
        let sql = generate(&athena(), None, &s).unwrap().remove(0);
        assert!(sql.starts_with(
            "SELECT eventversion, json_format(CAST(useridentity AS JSON)) AS useridentity"
        ));
        assert!(sql.contains("FROM \"db\".\"cloudtrail_logs\" WHERE eventtime BETWEEN '2026-12-01T10:00:00Z' AND '2026-12-01T12:00:00Z'"));
        assert!(sql.contains("json_extract_scalar(responseelements, '$.jobId') IN ('000"));
        assert!(sql.contains(
            "json_extract_scalar(requestparameters, '$.encryptionContext[\"aws:s3:arn\"]')"
        ));
        assert!(sql.contains(
            "any_match(resources, r -> r.arn IN ('arn:aws:kms:us-east-1:123456789012:key/k'))"
        ));
        assert!(sql.contains(
            "'textract-results/0000000000000000000000000000000000000000000000000000000000000000/'"
        ));
    }

    #[test]
    fn lake_reads_map_values() {
        let sql = generate(&lake(), None, &selection(&job_ids(1)))
            .unwrap()
            .remove(0);
        assert!(sql.contains("FROM 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d WHERE eventTime BETWEEN timestamp '2026-12-01 10:00:00'"));
        assert!(sql.contains("element_at(responseElements, 'jobId') IN ("));
        assert!(sql.contains(
            "json_extract_scalar(element_at(requestParameters, 'encryptionContext'), '$[\"aws:s3:arn\"]')"
        ));
        assert!(sql.contains("json_format(CAST(requestParameters AS JSON)) AS requestParameters"));
    }

    #[test]
    fn one_thousand_jobs_batch_under_each_limit() {
        let s = selection(&job_ids(1000));
        // Athena's 262,144 bytes hold about 200 jobs with output folders, Lake's 10,000
        // characters 8.
        for (engine, expected) in [(athena(), 5), (lake(), 125)] {
            let queries = generate(&engine, None, &s).unwrap();
            assert_eq!(queries.len(), expected, "{engine:?}");
            let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
            for q in &queries {
                assert!(
                    engine.size(q) <= engine.limit(),
                    "{} > {}",
                    engine.size(q),
                    engine.limit()
                );
                let ids: std::collections::BTreeSet<&str> = q
                    .split('\'')
                    .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect();
                for id in ids {
                    *seen.entry(id.to_string()).or_default() += 1;
                }
            }
            // Every job id lands in exactly one query.
            assert_eq!(seen.len(), 1000);
            assert!(seen.values().all(|n| *n == 1));
        }
    }

    #[test]
    fn discovery_alone_is_one_query() {
        let mut s = selection(&[]);
        s.discover = true;
        let queries = generate(&athena(), None, &s).unwrap();
        assert_eq!(queries.len(), 1);
        assert!(queries[0].contains("starts_with(eventname, 'Start')"));
    }

    #[test]
    fn nothing_to_select_is_an_error() {
        assert_eq!(
            generate(&athena(), None, &selection(&[])),
            Err(SqlError::Empty)
        );
    }

    #[test]
    fn a_job_too_large_for_lake_is_named() {
        let s = selection(&["j".repeat(9_000)]);
        assert!(matches!(
            generate(&lake(), None, &s),
            Err(SqlError::JobTooLarge { .. })
        ));
    }

    #[test]
    fn lake_store_names_are_checked() {
        assert!(lake_store_ok("0a1b2c3d-4e5f"));
        assert!(!lake_store_ok("x; DROP"));
        assert!(!lake_store_ok(""));
    }
}
