//! Partition pruning from the Glue table definition (`GetTable`): which partition key is
//! the day, the account and the Region, read from `storage.location.template` and the
//! projection settings rather than asked of the user.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::sql::{quote_ident, quote_literal};
use crate::trail::layout::{CLOCK_SKEW_MARGIN, DELIVERY_LAG_MARGIN};

/// What a CloudTrail table's partitions mean, derived from its Glue definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    /// Partition key holding the delivery day, with its `projection.*.format` (Java date
    /// pattern, e.g. `yyyy/MM/dd`).
    pub day: Option<(String, String)>,
    /// Partition key holding the account id (the path segment after `AWSLogs/[o-id/]`).
    pub account: Option<String>,
    /// Partition key holding the Region (the segment after `CloudTrail/`).
    pub region: Option<String>,
    /// Partition keys this layout does not understand: never constrained (read in full).
    pub other: Vec<String>,
    /// The organization id in the location template, when it is an organization trail.
    pub organization: Option<String>,
}

/// Why a table's definition cannot be used for pruning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("partition key {0} has projection type date but no projection.{0}.format")]
    DateWithoutFormat(String),
    #[error("projection.{key}.format {format:?} is not a day format this tool can write")]
    UnsupportedDateFormat { key: String, format: String },
}

impl TableLayout {
    /// Reads a layout from the table's partition keys and parameters (`Table.Parameters`).
    /// A table without projection but with a `timestamp`-like key still prunes when its
    /// location template says where the key sits.
    pub fn from_glue(
        partition_keys: &[String],
        parameters: &BTreeMap<String, String>,
    ) -> Result<TableLayout, LayoutError> {
        let template = parameters
            .get("storage.location.template")
            .map(String::as_str)
            .unwrap_or("");
        let segments: Vec<&str> = template.split('/').collect();
        let key_at = |index: usize| -> Option<String> {
            let segment = segments.get(index)?;
            let name = segment.strip_prefix("${")?.strip_suffix('}')?;
            partition_keys
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
        };
        let logs = segments.iter().position(|s| *s == "AWSLogs");
        let organization = logs
            .and_then(|i| segments.get(i + 1))
            .filter(|s| s.starts_with("o-"))
            .map(|s| s.to_string());
        let account = logs.and_then(|i| key_at(i + 1 + usize::from(organization.is_some())));
        let region = segments
            .iter()
            .position(|s| *s == "CloudTrail")
            .and_then(|i| key_at(i + 1));
        let mut day = None;
        for key in partition_keys {
            let kind = parameters.get(&format!("projection.{key}.type"));
            if kind.map(String::as_str) != Some("date") {
                continue;
            }
            let format = parameters
                .get(&format!("projection.{key}.format"))
                .ok_or_else(|| LayoutError::DateWithoutFormat(key.clone()))?;
            if !matches!(
                format.as_str(),
                "yyyy/MM/dd" | "yyyy-MM-dd" | "yyyy/MM/dd/HH"
            ) {
                return Err(LayoutError::UnsupportedDateFormat {
                    key: key.clone(),
                    format: format.clone(),
                });
            }
            day = Some((key.clone(), format.clone()));
        }
        let known = [&account, &region, &day.as_ref().map(|(k, _)| k.clone())];
        let other = partition_keys
            .iter()
            .filter(|k| !known.iter().any(|n| n.as_deref() == Some(k.as_str())))
            .cloned()
            .collect();
        Ok(TableLayout {
            day,
            account,
            region,
            other,
            organization,
        })
    }

    /// The partitions a query for `window` reads: every delivery day from the window's
    /// start (less clock skew) to its end plus the delivery lag, and the accounts and
    /// Regions asked for (empty: all of them).
    pub fn prune(
        &self,
        window: (DateTime<Utc>, DateTime<Utc>),
        accounts: &[String],
        regions: &[String],
    ) -> Pruning {
        let first = (window.0 - CLOCK_SKEW_MARGIN).date_naive();
        let last = (window.1 + DELIVERY_LAG_MARGIN).date_naive();
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        Pruning {
            days: self.day.as_ref().map(|_| days),
            accounts: self.account.as_ref().map(|_| accounts.to_vec()),
            regions: self.region.as_ref().map(|_| regions.to_vec()),
            layout: self.clone(),
        }
    }
}

/// The partitions one query reads; `None` in a dimension: the table has no such key, so
/// every value of it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruning {
    pub days: Option<Vec<NaiveDate>>,
    pub accounts: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    layout: TableLayout,
}

impl Pruning {
    /// The day partition key, when the table has one.
    pub fn day_key(&self) -> Option<&str> {
        self.layout.day.as_ref().map(|(k, _)| k.as_str())
    }

    /// A day partition's value (`2026/11/20`, `2026-11-20`, `2026/11/20/07`) as its date.
    pub fn parse_day(&self, value: &str) -> Option<NaiveDate> {
        let (_, format) = self.layout.day.as_ref()?;
        let pattern = match format.as_str() {
            "yyyy-MM-dd" => "%Y-%m-%d",
            _ => "%Y/%m/%d",
        };
        NaiveDate::parse_from_str(value.get(..10)?, pattern).ok()
    }

    /// The SQL conjunct constraining the partition keys (`TRUE` when nothing can be).
    pub fn predicate(&self) -> String {
        let mut parts = Vec::new();
        if let (Some((key, format)), Some(days)) = (&self.layout.day, &self.days)
            && let (Some(first), Some(last)) = (days.first(), days.last())
        {
            let render = |d: &NaiveDate, end: bool| -> String {
                match format.as_str() {
                    "yyyy-MM-dd" => d.format("%Y-%m-%d").to_string(),
                    "yyyy/MM/dd/HH" if end => format!("{}/23", d.format("%Y/%m/%d")),
                    "yyyy/MM/dd/HH" => format!("{}/00", d.format("%Y/%m/%d")),
                    _ => d.format("%Y/%m/%d").to_string(),
                }
            };
            parts.push(format!(
                "{} BETWEEN {} AND {}",
                quote_ident(key),
                quote_literal(&render(first, false)),
                quote_literal(&render(last, true))
            ));
        }
        for (key, values) in [
            (&self.layout.account, &self.accounts),
            (&self.layout.region, &self.regions),
        ] {
            if let (Some(key), Some(values)) = (key, values)
                && !values.is_empty()
            {
                let list: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
                parts.push(format!("{} IN ({})", quote_ident(key), list.join(", ")));
            }
        }
        if parts.is_empty() {
            "TRUE".to_string()
        } else {
            parts.join(" AND ")
        }
    }

    /// One line per dimension, for `--dry-run` and the provenance ("all" when the
    /// dimension is not constrained).
    pub fn describe(&self) -> String {
        let days = match &self.days {
            Some(days) if !days.is_empty() => format!(
                "{} to {} ({} days)",
                days[0],
                days[days.len() - 1],
                days.len()
            ),
            _ => "all days (the table has no day partition)".to_string(),
        };
        let list = |v: &Option<Vec<String>>, what: &str| match v {
            Some(v) if !v.is_empty() => v.join(","),
            Some(_) => format!("all {what}"),
            None => format!("all {what} (no {what} partition)"),
        };
        format!(
            "days {days}; accounts {}; regions {}",
            list(&self.accounts, "accounts"),
            list(&self.regions, "regions")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn lab_table() -> TableLayout {
        TableLayout::from_glue(
            &keys(&["account", "region", "timestamp"]),
            &params(&[
                ("projection.enabled", "true"),
                ("projection.timestamp.type", "date"),
                ("projection.timestamp.format", "yyyy/MM/dd"),
                ("projection.account.type", "enum"),
                ("projection.region.type", "enum"),
                (
                    "storage.location.template",
                    "s3://b/ct/AWSLogs/${account}/CloudTrail/${region}/${timestamp}",
                ),
            ]),
        )
        .unwrap()
    }

    #[test]
    fn keys_are_found_by_template_position_not_by_name() {
        let layout = TableLayout::from_glue(
            &keys(&["acct", "where_", "day"]),
            &params(&[
                ("projection.day.type", "date"),
                ("projection.day.format", "yyyy/MM/dd"),
                (
                    "storage.location.template",
                    "s3://b/AWSLogs/o-abc123/${acct}/CloudTrail/${where_}/${day}",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(layout.account.as_deref(), Some("acct"));
        assert_eq!(layout.region.as_deref(), Some("where_"));
        assert_eq!(layout.day, Some(("day".into(), "yyyy/MM/dd".into())));
        assert_eq!(layout.organization.as_deref(), Some("o-abc123"));
        assert!(layout.other.is_empty());
    }

    #[test]
    fn single_region_table_has_only_a_day_key() {
        let layout = TableLayout::from_glue(
            &keys(&["timestamp"]),
            &params(&[
                ("projection.timestamp.type", "date"),
                ("projection.timestamp.format", "yyyy/MM/dd"),
                (
                    "storage.location.template",
                    "s3://b/AWSLogs/111122223333/CloudTrail/us-east-1/${timestamp}",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(layout.account, None);
        assert_eq!(layout.region, None);
        let pruning = layout.prune(
            (
                Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 12, 1, 11, 0, 0).unwrap(),
            ),
            &["111122223333".into()],
            &[],
        );
        assert_eq!(
            pruning.predicate(),
            r#""timestamp" BETWEEN '2026/12/01' AND '2026/12/01'"#
        );
        assert!(pruning.describe().contains("no accounts partition"));
    }

    #[test]
    fn window_near_midnight_reads_the_next_day_for_delivery_lag() {
        let pruning = lab_table().prune(
            (
                Utc.with_ymd_and_hms(2026, 12, 1, 0, 2, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap(),
            ),
            &["123456789012".into()],
            &["us-east-1".into(), "eu-south-1".into()],
        );
        assert_eq!(
            pruning.predicate(),
            "\"timestamp\" BETWEEN '2026/11/30' AND '2026/12/02' AND \"account\" IN \
             ('123456789012') AND \"region\" IN ('us-east-1', 'eu-south-1')"
        );
        assert_eq!(pruning.days.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn hostile_region_values_are_quoted() {
        let pruning =
            lab_table().prune((Utc::now(), Utc::now()), &[], &["x') OR TRUE OR ('".into()]);
        assert!(
            pruning
                .predicate()
                .ends_with(r#""region" IN ('x'') OR TRUE OR (''')"#)
        );
    }

    #[test]
    fn a_date_key_without_format_is_an_error() {
        let error =
            TableLayout::from_glue(&keys(&["day"]), &params(&[("projection.day.type", "date")]))
                .unwrap_err();
        assert_eq!(error, LayoutError::DateWithoutFormat("day".into()));
    }

    #[test]
    fn unknown_keys_are_kept_as_unconstrained() {
        let layout = TableLayout::from_glue(&keys(&["shard"]), &BTreeMap::new()).unwrap();
        assert_eq!(layout.other, vec!["shard".to_string()]);
        let pruning = layout.prune((Utc::now(), Utc::now()), &[], &[]);
        assert_eq!(pruning.predicate(), "TRUE");
    }
}
