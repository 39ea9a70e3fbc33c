//! Does a trail record a given kind of event? Basic and advanced event selectors.
//!
//! The question is always "is *every* event of this shape logged", so a selector that
//! conditions on a field this tool cannot know in advance (a user identity, an error code)
//! does not count as coverage. Prior tools raise false FAILs on advanced selectors; here both
//! forms are read by the same semantics as CloudTrail documents them.

use crate::model::{BasicSelector, EventSelectors, FieldSelector};

/// The shape of an event whose logging is in question.
#[derive(Debug, Clone, Copy)]
pub struct EventShape<'a> {
    /// `Management` or `Data`.
    pub category: &'a str,
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub read_only: bool,
    /// `(resources.type, resources.ARN)` for data events.
    pub resource: Option<(&'a str, &'a str)>,
}

/// Whether the selectors log every event of this shape.
pub fn logs(selectors: &EventSelectors, ev: &EventShape) -> bool {
    match selectors {
        EventSelectors::Basic(list) => list.iter().any(|s| basic_logs(s, ev)),
        EventSelectors::Advanced(list) => list
            .iter()
            .any(|s| s.field_selectors.iter().all(|f| field_matches(f, ev))),
    }
}

/// The selectors that leave out a read-only event only because it is a read: each would log
/// the same event were it a write (`readOnly = false`, `ReadWriteType = WriteOnly`), named as
/// the trail names it (an advanced selector's `Name`, else its position).
pub fn leaving_out(selectors: &EventSelectors, ev: &EventShape) -> Vec<String> {
    if !ev.read_only {
        return Vec::new();
    }
    let write = EventShape {
        read_only: false,
        ..*ev
    };
    match selectors {
        EventSelectors::Basic(list) => list
            .iter()
            .enumerate()
            .filter(|(_, s)| basic_logs(s, &write) && !basic_logs(s, ev))
            .map(|(i, s)| {
                format!(
                    "event selector {} (ReadWriteType = {})",
                    i + 1,
                    s.read_write_type
                )
            })
            .collect(),
        EventSelectors::Advanced(list) => list
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                let all = |e: &EventShape| s.field_selectors.iter().all(|f| field_matches(f, e));
                all(&write) && !all(ev)
            })
            .map(|(i, s)| {
                let name = s
                    .name
                    .as_ref()
                    .map_or(format!("advanced selector {}", i + 1), |n| format!("{n:?}"));
                format!("{name} (readOnly = false)")
            })
            .collect(),
    }
}

fn basic_logs(s: &BasicSelector, ev: &EventShape) -> bool {
    let rw = match s.read_write_type.as_str() {
        "ReadOnly" => ev.read_only,
        "WriteOnly" => !ev.read_only,
        _ => true,
    };
    if !rw {
        return false;
    }
    if ev.category == "Management" {
        return s.include_management_events
            && !s
                .exclude_management_event_sources
                .iter()
                .any(|x| x == ev.event_source);
    }
    let Some((kind, arn)) = ev.resource else {
        return false;
    };
    s.data_resources.iter().any(|d| {
        d.resource_type == kind
            && d.values.iter().any(|v| {
                // `arn:aws:s3` (all buckets, as the API returns it), a bucket `…:::b/` or a
                // prefix `…:::b/p`: each a prefix of the object ARN.
                arn.starts_with(v.as_str())
            })
    })
}

fn field_matches(f: &FieldSelector, ev: &EventShape) -> bool {
    let read_only = if ev.read_only { "true" } else { "false" };
    let value = match f.field.as_str() {
        "eventCategory" => Some(ev.category),
        "eventSource" => Some(ev.event_source),
        "eventName" => Some(ev.event_name),
        "readOnly" => Some(read_only),
        "eventType" => Some("AwsApiCall"),
        "resources.type" => ev.resource.map(|r| r.0),
        "resources.ARN" => ev.resource.map(|r| r.1),
        // userIdentity.arn, errorCode, sessionCredentialFromConsole, …: not knowable in
        // advance, so the selector cannot be relied on to log every such event.
        _ => None,
    };
    let Some(v) = value else { return false };
    let any = |list: &[String], test: &dyn Fn(&str) -> bool| list.iter().any(|x| test(x));
    (f.equals.is_empty() || any(&f.equals, &|x| v == x))
        && (f.starts_with.is_empty() || any(&f.starts_with, &|x| v.starts_with(x)))
        && (f.ends_with.is_empty() || any(&f.ends_with, &|x| v.ends_with(x)))
        && !any(&f.not_equals, &|x| v == x)
        && !any(&f.not_starts_with, &|x| v.starts_with(x))
        && !any(&f.not_ends_with, &|x| v.ends_with(x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AdvancedSelector, DataResource};

    const OBJ: &str = "arn:aws:s3:::results/secure/job/1";

    fn put() -> EventShape<'static> {
        EventShape {
            category: "Data",
            event_source: "s3.amazonaws.com",
            event_name: "PutObject",
            read_only: false,
            resource: Some(("AWS::S3::Object", OBJ)),
        }
    }

    fn gdk() -> EventShape<'static> {
        EventShape {
            category: "Management",
            event_source: "kms.amazonaws.com",
            event_name: "GenerateDataKey",
            read_only: true,
            resource: None,
        }
    }

    fn basic(rw: &str, mgmt: bool, exclude: &[&str], values: &[&str]) -> EventSelectors {
        EventSelectors::Basic(vec![BasicSelector {
            read_write_type: rw.into(),
            include_management_events: mgmt,
            exclude_management_event_sources: exclude.iter().map(|s| s.to_string()).collect(),
            data_resources: vec![DataResource {
                resource_type: "AWS::S3::Object".into(),
                values: values.iter().map(|s| s.to_string()).collect(),
            }],
        }])
    }

    fn fs(field: &str, op: &str, vals: &[&str]) -> FieldSelector {
        let v: Vec<String> = vals.iter().map(|s| s.to_string()).collect();
        let mut f = FieldSelector {
            field: field.into(),
            ..Default::default()
        };
        match op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            _ => unreachable!(),
        }
        f
    }

    fn advanced(sets: Vec<Vec<FieldSelector>>) -> EventSelectors {
        EventSelectors::Advanced(
            sets.into_iter()
                .map(|field_selectors| AdvancedSelector {
                    name: None,
                    field_selectors,
                })
                .collect(),
        )
    }

    #[test]
    fn selectors_that_keep_only_writes_are_named_for_a_read() {
        let get = EventShape {
            event_name: "GetObject",
            read_only: true,
            ..put()
        };
        assert_eq!(
            leaving_out(&basic("WriteOnly", true, &[], &["arn:aws:s3"]), &get),
            ["event selector 1 (ReadWriteType = WriteOnly)"]
        );
        assert!(leaving_out(&basic("All", true, &[], &["arn:aws:s3:::other/"]), &get).is_empty());
        let mut writes = advanced(vec![vec![
            fs("eventCategory", "Equals", &["Data"]),
            fs("readOnly", "Equals", &["false"]),
            fs("resources.ARN", "StartsWith", &["arn:aws:s3:::results/"]),
        ]]);
        if let EventSelectors::Advanced(list) = &mut writes {
            list[0].name = Some("Textract output writes".into());
        }
        assert_eq!(
            leaving_out(&writes, &get),
            ["\"Textract output writes\" (readOnly = false)"]
        );
        assert!(leaving_out(&writes, &put()).is_empty(), "only for reads");
    }

    #[test]
    fn basic_selector_table() {
        let cases: &[(&str, EventSelectors, EventShape, bool)] = &[
            (
                "all buckets",
                basic("All", true, &[], &["arn:aws:s3"]),
                put(),
                true,
            ),
            (
                "this bucket",
                basic("All", true, &[], &["arn:aws:s3:::results/"]),
                put(),
                true,
            ),
            (
                "this prefix",
                basic("WriteOnly", true, &[], &["arn:aws:s3:::results/secure/"]),
                put(),
                true,
            ),
            (
                "other bucket",
                basic("All", true, &[], &["arn:aws:s3:::other/"]),
                put(),
                false,
            ),
            (
                "reads only",
                basic("ReadOnly", true, &[], &["arn:aws:s3"]),
                put(),
                false,
            ),
            (
                "no data resources",
                basic("All", true, &[], &[]),
                put(),
                false,
            ),
            ("kms logged", basic("All", true, &[], &[]), gdk(), true),
            (
                "kms excluded",
                basic("All", true, &["kms.amazonaws.com"], &[]),
                gdk(),
                false,
            ),
            ("mgmt off", basic("All", false, &[], &[]), gdk(), false),
            (
                "write-only drops read-only kms calls",
                basic("WriteOnly", true, &[], &[]),
                gdk(),
                false,
            ),
        ];
        for (name, sel, ev, want) in cases {
            assert_eq!(logs(sel, ev), *want, "{name}");
        }
    }

    #[test]
    fn advanced_selector_table() {
        let data = |extra: Vec<FieldSelector>| {
            let mut v = vec![
                fs("eventCategory", "Equals", &["Data"]),
                fs("resources.type", "Equals", &["AWS::S3::Object"]),
            ];
            v.extend(extra);
            advanced(vec![v])
        };
        let cases: Vec<(&str, EventSelectors, EventShape, bool)> = vec![
            ("all objects", data(vec![]), put(), true),
            (
                "bucket prefix",
                data(vec![fs(
                    "resources.ARN",
                    "StartsWith",
                    &["arn:aws:s3:::results/"],
                )]),
                put(),
                true,
            ),
            (
                "other prefix",
                data(vec![fs(
                    "resources.ARN",
                    "StartsWith",
                    &["arn:aws:s3:::other/"],
                )]),
                put(),
                false,
            ),
            (
                "excluded prefix",
                data(vec![fs(
                    "resources.ARN",
                    "NotStartsWith",
                    &["arn:aws:s3:::results/"],
                )]),
                put(),
                false,
            ),
            (
                "reads only",
                data(vec![fs("readOnly", "Equals", &["true"])]),
                put(),
                false,
            ),
            (
                "writes only",
                data(vec![fs("readOnly", "Equals", &["false"])]),
                put(),
                true,
            ),
            (
                "put only",
                data(vec![fs("eventName", "Equals", &["PutObject"])]),
                put(),
                true,
            ),
            (
                "identity condition cannot guarantee",
                data(vec![fs(
                    "userIdentity.arn",
                    "NotStartsWith",
                    &["arn:aws:iam::1:role/x"],
                )]),
                put(),
                false,
            ),
            (
                "management all",
                advanced(vec![vec![fs("eventCategory", "Equals", &["Management"])]]),
                gdk(),
                true,
            ),
            (
                "management without kms",
                advanced(vec![vec![
                    fs("eventCategory", "Equals", &["Management"]),
                    fs("eventSource", "NotEquals", &["kms.amazonaws.com"]),
                ]]),
                gdk(),
                false,
            ),
            (
                "management only selector does not log data",
                advanced(vec![vec![fs("eventCategory", "Equals", &["Management"])]]),
                put(),
                false,
            ),
        ];
        for (name, sel, ev, want) in &cases {
            assert_eq!(logs(sel, ev), *want, "{name}");
        }
    }
}
