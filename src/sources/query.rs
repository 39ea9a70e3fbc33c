//! CloudTrail read where it lives: Athena over the trail bucket (`--athena DB.TABLE`) or a
//! CloudTrail Lake event data store (`--cloudtrail-lake EDS`). The records the rounds need are
//! selected there and read back, instead of downloading the log files (docs/athena.md).
//!
//! For Athena the table's partition keys and projection come from its Glue definition
//! (`GetTable`) and every query is pruned to the window (widened for delivery lag) and the
//! run's Region. Queries select only the jobs' records ([`crate::pushdown::generate`]: every
//! value quoted, jobs batched under each engine's size limit), run polled with backoff,
//! results paged, and each row is rebuilt into the record a log file holds
//! ([`crate::pushdown::decode::row_to_record`]), so every rule sees the same facts. Each
//! query's id, partitions, bytes scanned, time and estimated cost are in the provenance; a
//! query that fails, or a row that does not decode, is a CloudTrail problem over the window,
//! so the jobs it may touch cannot pass.
//!
//! Discovery (`audit`) asks for the window's `Start*` records first, then for the records of
//! the jobs they name.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use chrono::{DateTime, Utc};

use super::live::runtime;
use super::{Gathering, Known, Settings, Source};
use crate::evidence::Part;
use crate::evidence::live::{self, sdk_config, shapes::wire_error};
use crate::model::{
    Evidence, EvidenceProblem, JobId, ProblemScope, Provenance, TimeWindow, TrailEvent,
    partition_of_region, rfc3339,
};
use crate::pushdown::decode::{Flavor, row_to_record};
use crate::pushdown::{Engine, JobTarget, Pruning, Selection, TableLayout, generate};
use crate::timeline;

/// The price per TB scanned (US East, 2026: Athena on demand, and Lake's $0.005 per GB), for
/// the provenance's estimate.
const USD_PER_TB: f64 = 5.0;
/// Athena bills at least 10 MB per query (Lake has no minimum).
const ATHENA_MIN_BILLED_BYTES: i64 = 10 * 1024 * 1024;
/// How long one query may run before it is given up (and cancelled).
const QUERY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Queries in flight at once. Athena's quota on active DML queries (running and queued,
/// shared by every workgroup of the account) varies by Region and answers
/// TooManyRequestsException beyond it (the SDK retries that, as throttling); Lake runs at most
/// 10 queries at once (MaxConcurrentQueriesException). 4 leaves room for the account's other
/// users.
const QUERY_CONCURRENCY: usize = 4;
/// Polling: first wait, and the longest.
const POLL_FIRST: Duration = Duration::from_millis(200);
const POLL_MAX: Duration = Duration::from_secs(5);

/// `--athena DB.TABLE` and its workgroup, catalog and result location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaTable {
    pub database: String,
    pub table: String,
    pub catalog: Option<String>,
    pub workgroup: Option<String>,
    /// `s3://…` for the results when the workgroup has no result location.
    pub output: Option<String>,
}

impl AthenaTable {
    /// `DB.TABLE` (neither part empty, no further dot).
    pub fn parse_name(text: &str) -> Result<(String, String), String> {
        match text.split_once('.') {
            Some((db, table)) if !db.is_empty() && !table.is_empty() && !table.contains('.') => {
                Ok((db.to_owned(), table.to_owned()))
            }
            _ => Err(format!("{text:?}: expected DATABASE.TABLE")),
        }
    }
}

/// Where the query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Athena(AthenaTable),
    /// A Lake event data store: its id, or its ARN (the id is its last part).
    Lake(String),
}

impl Store {
    fn label(&self) -> String {
        match self {
            Store::Athena(t) => format!("athena {}.{}", t.database, t.table),
            Store::Lake(eds) => format!("cloudtrail-lake {eds}"),
        }
    }
}

/// `--cloudtrail-lake`: an event data store id or ARN this tool can name in SQL.
pub fn parse_lake_store(text: &str) -> Result<String, String> {
    let id = text.rsplit('/').next().unwrap_or(text);
    match crate::pushdown::sql::lake_store_ok(id) && (id == text || text.starts_with("arn:")) {
        true => Ok(text.to_owned()),
        false => Err(format!(
            "{text:?}: expected an event data store id or ARN (letters, digits and -)"
        )),
    }
}

pub struct Query {
    store: Store,
    /// What was asked (the selection and the accounts pruned to) and what came back.
    read: Option<((Selection, Vec<String>), Part)>,
    /// Under `--dry-run`: the queries of the last round, not run.
    planned: Option<String>,
}

impl Query {
    pub fn new(store: Store) -> Query {
        Query {
            store,
            read: None,
            planned: None,
        }
    }
}

impl Source for Query {
    fn gather(&mut self, known: &Known, settings: &Settings) -> Result<Gathering> {
        let Some(window) = window(known, settings) else {
            let mut part = part(settings.now);
            part.evidence.problems.push(EvidenceProblem {
                subject: self.store.label(),
                reason: "no window to query: give --from/--until (or a source that records one)"
                    .into(),
                scope: ProblemScope::CloudTrail {
                    from: None,
                    until: None,
                },
            });
            return Ok(Gathering::Records(part));
        };
        let asked = (selection(known, window, &settings.aws), accounts(known));
        if let Some((a, part)) = &self.read
            && *a == asked
        {
            return Ok(Gathering::Records(part.clone()));
        }
        let (selection, accounts) = &asked;
        let got = if settings.dry_run {
            self.planned =
                Some(runtime()?.block_on(plan_queries(&self.store, selection, accounts, settings)));
            part(settings.now)
        } else {
            runtime()?.block_on(read(&self.store, selection, accounts, settings))
        };
        self.read = Some((asked, got.clone()));
        Ok(Gathering::Records(got))
    }

    fn grows(&mut self, next: &Known, settings: &Settings) -> bool {
        let Some((asked, _)) = &self.read else {
            return true;
        };
        window(next, settings)
            .is_some_and(|w| *asked != (self::selection(next, w, &settings.aws), accounts(next)))
    }

    fn refresh(&mut self) {
        self.read = None;
    }

    fn planned(&self) -> Option<String> {
        self.planned.clone()
    }
}

/// The window to query: the user's, else the recorded evidence's, else from the earliest
/// known Start record to now.
fn window(known: &Known, settings: &Settings) -> Option<TimeWindow> {
    settings.window.or(known.recorded_window).or_else(|| {
        let first = known.starts.values().map(|s| s.event_time).min()?;
        Some(TimeWindow {
            from: first - chrono::Duration::hours(1),
            until: settings.now,
        })
    })
}

/// What to select for what is known: the jobs with their output folders and requested keys,
/// or (no job ids) every Start* in the window.
fn selection(known: &Known, window: TimeWindow, aws: &live::Options) -> Selection {
    let jobs = known
        .jobs
        .iter()
        .map(|j| JobTarget {
            job_id: j.0.clone(),
            output: known
                .outputs
                .get(j)
                .map(|o| (o.bucket.clone(), o.prefix.clone())),
        })
        .collect();
    Selection {
        window: (window.from, window.until),
        jobs,
        discover: known.jobs.is_empty(),
        key_arns: key_arns(known.starts.values()),
        partition: partition_of_region(aws.region.as_deref().unwrap_or("us-east-1")).to_owned(),
    }
}

/// The accounts the jobs ran in (their Start records' recipient account), to prune an
/// organization table to; empty (every account) while any job's Start record is unknown or
/// when discovering.
fn accounts(known: &Known) -> Vec<String> {
    if known.jobs.is_empty() || known.unstarted().next().is_some() {
        return Vec::new();
    }
    let mut v: Vec<String> = known
        .starts
        .values()
        .filter_map(|s| s.recipient_account_id.clone())
        .collect();
    if v.len() < known.starts.len() {
        return Vec::new();
    }
    v.sort();
    v.dedup();
    v
}

/// The key ARNs the Start records asked for (ids and aliases are tied by context instead).
fn key_arns<'a>(starts: impl Iterator<Item = &'a TrailEvent>) -> Vec<String> {
    let mut arns: Vec<String> = starts
        .filter_map(|s| match crate::facts::decode(s) {
            crate::facts::Fact::Start(start) => start.kms_key_id,
            _ => None,
        })
        .filter(|k| k.starts_with("arn:") && k.contains(":key/"))
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

fn part(now: DateTime<Utc>) -> Part {
    Part {
        evidence: Evidence::new(Provenance {
            sources: Vec::new(),
            account: None,
            region: None,
            captured_at: now,
        }),
        covered: None,
    }
}

/// One query's outcome.
struct Ran {
    id: String,
    /// Each row's column names and values (`None`: SQL NULL).
    rows: Vec<(Vec<String>, Vec<Option<String>>)>,
    bytes: i64,
    millis: i64,
}

/// Runs `queries`, at most [`QUERY_CONCURRENCY`] at a time; the outcomes in the order of
/// `queries`, whatever order they finish in, so the report does not depend on it.
async fn run_all(ready: &Ready, queries: Vec<String>) -> Vec<Result<Ran, String>> {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(QUERY_CONCURRENCY));
    let tasks: Vec<_> = queries
        .into_iter()
        .map(|sql| {
            let slots = slots.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                match &ready {
                    Ready::Athena { client, table, .. } => run_athena(client, table, &sql).await,
                    Ready::Lake { client } => run_lake(client, &sql).await,
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(
            task.await
                .unwrap_or_else(|e| Err(format!("a query's task ended: {e}"))),
        );
    }
    out
}

/// The engine to query with, ready: the SQL dialect, the partitions (Athena), the client.
#[derive(Clone)]
enum Ready {
    Athena {
        client: aws_sdk_athena::Client,
        table: AthenaTable,
        pruning: Box<Pruning>,
    },
    Lake {
        client: aws_sdk_cloudtrail::Client,
    },
}

/// The engine's dialect and client for `store`; for Athena the table's layout, pruned to the
/// window and the run's Region.
async fn prepare(
    store: &Store,
    selection: &Selection,
    accounts: &[String],
    settings: &Settings,
) -> Result<(Engine, Ready), String> {
    let config = sdk_config(&settings.aws).await;
    Ok(match store {
        Store::Athena(table) => {
            let layout = layout(&config, table).await?;
            let regions: Vec<String> = settings.aws.region.iter().cloned().collect();
            (
                Engine::Athena {
                    catalog: table.catalog.clone(),
                    database: table.database.clone(),
                    table: table.table.clone(),
                },
                Ready::Athena {
                    client: aws_sdk_athena::Client::new(&config),
                    table: table.clone(),
                    pruning: Box::new(layout.prune(selection.window, accounts, &regions)),
                },
            )
        }
        Store::Lake(eds) => (
            Engine::Lake {
                event_data_store: eds.rsplit('/').next().unwrap_or(eds).to_owned(),
            },
            Ready::Lake {
                client: aws_sdk_cloudtrail::Client::new(&config),
            },
        ),
    })
}

/// `--dry-run`: the queries for `selection` and the partitions they read, not run.
async fn plan_queries(
    store: &Store,
    selection: &Selection,
    accounts: &[String],
    settings: &Settings,
) -> String {
    let label = store.label();
    let (engine, ready) = match prepare(store, selection, accounts, settings).await {
        Ok(p) => p,
        Err(why) => return format!("-- {label}: {why}\n"),
    };
    let pruning = match &ready {
        Ready::Athena { pruning, .. } => Some(pruning.as_ref()),
        Ready::Lake { .. } => None,
    };
    let mut out = format!(
        "-- {label}: from {} to {}; partitions: {}\n",
        rfc3339(selection.window.0),
        rfc3339(selection.window.1),
        pruning.map_or("none (the event data store)".to_owned(), Pruning::describe)
    );
    match generate(&engine, pruning, selection) {
        Ok(queries) => {
            let n = queries.len();
            for (i, sql) in queries.iter().enumerate() {
                out.push_str(&format!(
                    "-- query {} of {n} ({} bytes)\n{sql};\n",
                    i + 1,
                    sql.len()
                ));
            }
        }
        Err(e) => out.push_str(&format!("-- no query: {e}\n")),
    }
    if selection.discover {
        out.push_str(
            "-- then, for the jobs these Start records name, the same selection as for job ids\n",
        );
    }
    if let Some(sql) = pruning.and_then(|p| crate::pushdown::records_per_day(&engine, p)) {
        out.push_str(&format!("-- and the records per day (gaps)\n{sql};\n"));
    }
    out
}

/// Reads `selection` from the store; with discovery, then the records of the jobs found.
async fn read(
    store: &Store,
    selection: &Selection,
    accounts: &[String],
    settings: &Settings,
) -> Part {
    let mut part = part(settings.now);
    let label = store.label();
    let problem = |reason: String| EvidenceProblem {
        subject: label.clone(),
        reason,
        scope: ProblemScope::CloudTrail {
            from: Some(selection.window.0),
            until: Some(selection.window.1),
        },
    };
    let (engine, ready) = match prepare(store, selection, accounts, settings).await {
        Ok(p) => p,
        Err(why) => {
            part.evidence.problems.push(problem(why));
            return part;
        }
    };
    let (pruning, over) = match &ready {
        Ready::Athena { pruning, .. } => (Some(pruning.as_ref()), pruning.describe()),
        Ready::Lake { .. } => (None, "the event data store".to_owned()),
    };
    let mut selections = vec![selection.clone()];
    let mut all_ok = true;
    let mut i = 0;
    while i < selections.len() {
        let queries = match generate(&engine, pruning, &selections[i]) {
            Ok(q) => q,
            Err(e) => {
                part.evidence.problems.push(problem(e.to_string()));
                return part;
            }
        };
        let mut found = Vec::new();
        for ran in run_all(&ready, queries).await {
            match ran {
                Ok(ran) => {
                    let before = found.len();
                    let flavor = match store {
                        Store::Athena(_) => Flavor::Athena,
                        Store::Lake(_) => Flavor::Lake,
                    };
                    for (n, (columns, row)) in ran.rows.iter().enumerate() {
                        match row_to_record(flavor, columns, row) {
                            Ok(e) => found.push(e),
                            Err(e) => {
                                all_ok = false;
                                part.evidence.problems.push(problem(format!(
                                    "query {} row {}: {e}; the row is not used",
                                    ran.id,
                                    n + 1
                                )));
                            }
                        }
                    }
                    let billed = match store {
                        Store::Athena(_) => ran.bytes.max(ATHENA_MIN_BILLED_BYTES),
                        Store::Lake(_) => ran.bytes,
                    } as f64;
                    part.evidence.provenance.sources.push(format!(
                        "{label}: query {} over {over}: {} record(s), {} bytes scanned in {} ms (about ${:.4} at ${USD_PER_TB}/TB)",
                        ran.id,
                        found.len() - before,
                        ran.bytes,
                        ran.millis,
                        billed / 1e12 * USD_PER_TB
                    ));
                }
                Err(why) => {
                    all_ok = false;
                    part.evidence.problems.push(problem(why));
                }
            }
        }
        // Discovery: the jobs the Start records name, with their folders, next.
        if selections[i].discover && !found.is_empty() {
            let mut found_evidence = part.evidence.clone();
            found_evidence.add_records(found.iter().cloned());
            let jobs: Vec<JobId> = timeline::discover_jobs(&found_evidence);
            if !jobs.is_empty() {
                let known = Known {
                    jobs: jobs.clone(),
                    starts: timeline::start_records(&found_evidence, &jobs),
                    outputs: timeline::output_locations(&found_evidence, &jobs),
                    recorded_window: None,
                };
                let window = TimeWindow {
                    from: selection.window.0,
                    until: selection.window.1,
                };
                let mut next = self::selection(&known, window, &settings.aws);
                next.discover = false;
                selections.push(next);
            }
        }
        part.evidence.add_records(found);
        i += 1;
    }
    if all_ok {
        let window = TimeWindow {
            from: selection.window.0,
            until: selection.window.1,
        };
        part.covered = match &ready {
            Ready::Athena {
                client,
                table,
                pruning,
            } => match days_covered(client, table, &engine, pruning, window).await {
                Ok((covered, gaps)) => {
                    for gap in gaps {
                        part.evidence.problems.push(EvidenceProblem {
                            subject: label.clone(),
                            reason: format!(
                                "no records in the table from {} to {}: a gap in what it covers (log files missing, or not delivered yet)",
                                rfc3339(gap.from),
                                rfc3339(gap.until)
                            ),
                            scope: ProblemScope::CloudTrail {
                                from: Some(gap.from),
                                until: Some(gap.until),
                            },
                        });
                    }
                    covered
                }
                Err(why) => {
                    part.evidence.problems.push(problem(why));
                    None
                }
            },
            Ready::Lake { .. } => Some(window),
        };
        if let Some(c) = part.covered {
            part.evidence.provenance.sources.push(format!(
                "{label} holds records from {} to {}",
                rfc3339(c.from),
                rfc3339(c.until)
            ));
        }
    }
    part
}

/// What an Athena table covers of `window`: from its first to its last day partition with
/// records (none: nothing), and each day of the window without any as a gap.
async fn days_covered(
    client: &aws_sdk_athena::Client,
    table: &AthenaTable,
    engine: &Engine,
    pruning: &Pruning,
    window: TimeWindow,
) -> Result<(Option<TimeWindow>, Vec<TimeWindow>), String> {
    let Some(sql) = crate::pushdown::records_per_day(engine, pruning) else {
        return Ok((Some(window), Vec::new()));
    };
    let ran = run_athena(client, table, &sql).await?;
    let mut days = std::collections::BTreeSet::new();
    for (_, values) in &ran.rows {
        let day = values
            .first()
            .cloned()
            .flatten()
            .and_then(|d| pruning.parse_day(&d));
        let records: i64 = values
            .get(1)
            .cloned()
            .flatten()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        match day {
            Some(d) if records > 0 => {
                days.insert(d);
            }
            Some(_) => {}
            None => {
                return Err(format!(
                    "query {}: a day partition this tool cannot read",
                    ran.id
                ));
            }
        }
    }
    let midnight = |d: chrono::NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    // A window that ends at midnight does not reach into the day that starts there.
    let last_day = (window.until - chrono::Duration::nanoseconds(1))
        .date_naive()
        .max(window.from.date_naive());
    let wanted = window.from.date_naive()..=last_day;
    let with: Vec<chrono::NaiveDate> = days.into_iter().filter(|d| wanted.contains(d)).collect();
    let (Some(&first), Some(&last)) = (with.first(), with.last()) else {
        return Ok((None, vec![window]));
    };
    let gaps = window
        .from
        .date_naive()
        .iter_days()
        .take_while(|d| wanted.contains(d))
        .filter(|d| !with.contains(d))
        .map(|d| TimeWindow {
            from: midnight(d),
            until: midnight(d + chrono::Duration::days(1)),
        })
        .collect();
    let covered = TimeWindow {
        from: window.from.max(midnight(first)),
        until: window.until.min(midnight(last + chrono::Duration::days(1))),
    };
    Ok((Some(covered), gaps))
}

/// The Athena table's partition layout from its Glue definition.
async fn layout(
    config: &aws_config::SdkConfig,
    table: &AthenaTable,
) -> Result<TableLayout, String> {
    let out = aws_sdk_glue::Client::new(config)
        .get_table()
        .database_name(&table.database)
        .name(&table.table)
        .send()
        .await
        .map_err(|e| format!("glue:GetTable failed: {}", wire_error(&e)))?;
    let t = out.table();
    let keys: Vec<String> = t
        .map(|t| {
            t.partition_keys()
                .iter()
                .map(|k| k.name().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let parameters: BTreeMap<String, String> = t
        .and_then(|t| t.parameters())
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    TableLayout::from_glue(&keys, &parameters).map_err(|e| e.to_string())
}

/// How long to wait before the next poll, doubling to the longest; `None` once the query
/// has run too long.
fn next_pause(pause: &mut Duration, begun: Instant) -> Option<Duration> {
    if begun.elapsed() > QUERY_TIMEOUT {
        return None;
    }
    let now = *pause;
    *pause = (*pause * 2).min(POLL_MAX);
    Some(now)
}

/// Runs one Athena query to its end: started in the workgroup, polled with backoff, results
/// paged.
async fn run_athena(
    athena: &aws_sdk_athena::Client,
    table: &AthenaTable,
    sql: &str,
) -> Result<Ran, String> {
    let mut context = QueryExecutionContext::builder().database(&table.database);
    if let Some(c) = &table.catalog {
        context = context.catalog(c);
    }
    let started = athena
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(context.build())
        .set_work_group(table.workgroup.clone())
        .set_result_configuration(
            table
                .output
                .as_ref()
                .map(|o| ResultConfiguration::builder().output_location(o).build()),
        )
        .send()
        .await
        .map_err(|e| format!("athena:StartQueryExecution failed: {}", wire_error(&e)))?;
    let id = started.query_execution_id().unwrap_or_default().to_owned();
    let begun = Instant::now();
    let mut pause = POLL_FIRST;
    let execution = loop {
        let got = athena
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| format!("athena:GetQueryExecution {id} failed: {}", wire_error(&e)))?;
        let Some(execution) = got.query_execution().cloned() else {
            return Err(format!(
                "athena:GetQueryExecution {id}: no execution in the answer"
            ));
        };
        let status = execution.status();
        match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => break execution,
            Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                return Err(format!(
                    "query {id} {}: {}",
                    state.as_str(),
                    status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given")
                ));
            }
            _ if begun.elapsed() > QUERY_TIMEOUT => {
                let _ = athena
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await;
                return Err(format!(
                    "query {id} still running after {} s: stopped",
                    QUERY_TIMEOUT.as_secs()
                ));
            }
            _ => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(POLL_MAX);
            }
        }
    };
    let stats = execution.statistics();
    let bytes = stats.and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0);
    let millis = stats
        .and_then(|s| s.total_execution_time_in_millis())
        .unwrap_or(0);
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    let mut first_page = true;
    loop {
        let page = athena
            .get_query_results()
            .query_execution_id(&id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| format!("athena:GetQueryResults {id} failed: {}", wire_error(&e)))?;
        let Some(set) = page.result_set() else {
            break;
        };
        if first_page {
            columns = set
                .result_set_metadata()
                .map(|m| {
                    m.column_info()
                        .iter()
                        .map(|c| c.name().to_owned())
                        .collect()
                })
                .unwrap_or_default();
        }
        for (n, row) in set.rows().iter().enumerate() {
            let values: Vec<Option<String>> = row
                .data()
                .iter()
                .map(|d| d.var_char_value().map(str::to_owned))
                .collect();
            // A SELECT's first result row repeats the column names.
            let header = first_page
                && n == 0
                && values.len() == columns.len()
                && values
                    .iter()
                    .zip(&columns)
                    .all(|(v, c)| v.as_deref() == Some(c.as_str()));
            if !header {
                rows.push((columns.clone(), values));
            }
        }
        first_page = false;
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(Ran {
        id,
        rows,
        bytes,
        millis,
    })
}

fn timed_out(id: &str) -> String {
    format!(
        "query {id} still running after {} s: stopped",
        QUERY_TIMEOUT.as_secs()
    )
}

/// Runs one Lake query to its end: started, polled with backoff (`DescribeQuery`), results
/// paged. Each result row is a list of one-column maps.
async fn run_lake(lake: &aws_sdk_cloudtrail::Client, sql: &str) -> Result<Ran, String> {
    use aws_sdk_cloudtrail::types::QueryStatus;
    let started = lake
        .start_query()
        .query_statement(sql)
        .send()
        .await
        .map_err(|e| format!("cloudtrail:StartQuery failed: {}", wire_error(&e)))?;
    let id = started.query_id().unwrap_or_default().to_owned();
    let begun = Instant::now();
    let mut pause = POLL_FIRST;
    let described = loop {
        let got = lake
            .describe_query()
            .query_id(&id)
            .send()
            .await
            .map_err(|e| format!("cloudtrail:DescribeQuery {id} failed: {}", wire_error(&e)))?;
        match got.query_status() {
            Some(QueryStatus::Finished) => break got,
            Some(
                state @ (QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::TimedOut),
            ) => {
                return Err(format!(
                    "query {id} {}: {}",
                    state.as_str(),
                    got.error_message().unwrap_or("no reason given")
                ));
            }
            _ => match next_pause(&mut pause, begun) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    let _ = lake.cancel_query().query_id(&id).send().await;
                    return Err(timed_out(&id));
                }
            },
        }
    };
    let stats = described.query_statistics();
    let bytes = stats.and_then(|s| s.bytes_scanned()).unwrap_or(0);
    let millis = stats
        .and_then(|s| s.execution_time_in_millis())
        .map_or(0, i64::from);
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    let mut pause = POLL_FIRST;
    loop {
        let next = token.clone();
        let page = lake
            .get_query_results()
            .query_id(&id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| format!("cloudtrail:GetQueryResults {id} failed: {}", wire_error(&e)))?;
        // Results are whole only once the query says FINISHED here too: rows of a query
        // still running would read as "no such records".
        match page.query_status() {
            None | Some(QueryStatus::Finished) => {}
            Some(QueryStatus::Queued | QueryStatus::Running) => {
                match next_pause(&mut pause, begun) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(timed_out(&id)),
                }
                token = next;
                continue;
            }
            Some(other) => {
                return Err(format!(
                    "query {id} {} while its results were read: {}",
                    other.as_str(),
                    page.error_message().unwrap_or("no reason given")
                ));
            }
        }
        for row in page.query_result_rows() {
            let mut columns = Vec::with_capacity(row.len());
            let mut values = Vec::with_capacity(row.len());
            for cell in row {
                for (k, v) in cell {
                    columns.push(k.clone());
                    values.push(Some(v.clone()));
                }
            }
            rows.push((columns, values));
        }
        match page.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(Ran {
        id,
        rows,
        bytes,
        millis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_named_database_dot_table() {
        assert_eq!(
            AthenaTable::parse_name("lab_audit.cloudtrail_logs"),
            Ok(("lab_audit".into(), "cloudtrail_logs".into()))
        );
        for bad in ["cloudtrail_logs", ".t", "db.", "a.b.c"] {
            assert!(AthenaTable::parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lake_store_is_an_id_or_an_arn_ending_in_one() {
        let id = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
        assert!(parse_lake_store(id).is_ok());
        assert!(
            parse_lake_store(&format!(
                "arn:aws:cloudtrail:us-east-1:1:eventdatastore/{id}"
            ))
            .is_ok()
        );
        for bad in [
            "",
            "x; DROP",
            "a/b",
            "arn:aws:cloudtrail:us-east-1:1:eventdatastore/x y",
        ] {
            assert!(parse_lake_store(bad).is_err(), "{bad:?}");
        }
    }
}
