//! Result rows back to CloudTrail records.
//!
//! The generated SQL returns every nested column as JSON text (see [`super::sql`]):
//! Athena's `requestparameters`/`responseelements`/`additionaleventdata` are the record's
//! JSON already, `useridentity`/`resources` come through `json_format(CAST(... AS JSON))`
//! with lower-case field names; Lake's `map<string,string>` columns come as JSON objects
//! whose nested values are JSON *strings*. Each row is rebuilt into the record a log file
//! holds and decoded by the same [`TrailEvent`] deserializer.
//!
//! Fail closed: a nested value that looks like JSON but does not parse, a `readOnly` that
//! is not a boolean, or a column that is not JSON where JSON is required rejects the row
//! (reported, never dropped): a nested field must never read as absent, which would turn
//! a job that asked for OutputConfig and a key (row 4) into one that asked for neither.

use serde_json::{Map, Value};

use crate::model::TrailEvent;

/// CloudTrail's field names, to restore case from Athena's lower-case columns and struct
/// fields. Unknown names are kept as they come (every reader matches case-insensitively).
const FIELD_NAMES: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "managementEvent",
    // userIdentity and resources
    "type",
    "principalId",
    "arn",
    "accountId",
    "invokedBy",
    "accessKeyId",
    "userName",
    "onBehalfOf",
    "userId",
    "identityStoreArn",
    "sessionContext",
    "attributes",
    "mfaAuthenticated",
    "creationDate",
    "sessionIssuer",
    "ec2RoleDelivery",
    "webIdFederationData",
    "federatedProvider",
];

/// Columns whose text is JSON (a struct/array cast, or a CloudTrail JSON string).
const JSON_COLUMNS: &[&str] = &[
    "userIdentity",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
];

/// Why a row could not be rebuilt into a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("column {column} is not JSON: {detail}")]
    NotJson { column: String, detail: String },
    #[error("{column}.{key} looks like nested JSON but does not parse: {detail}")]
    NestedNotJson {
        column: String,
        key: String,
        detail: String,
    },
    #[error("readOnly is {0:?}, not true or false")]
    ReadOnly(String),
    #[error("row has {values} values for {columns} columns")]
    Width { columns: usize, values: usize },
    #[error("not a CloudTrail record: {0}")]
    Record(String),
}

/// How nested values come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Athena: nested columns hold the record's JSON as it was.
    Athena,
    /// Lake: maps whose nested values are JSON strings, to be parsed back.
    Lake,
}

fn canonical(name: &str) -> String {
    let wanted = if name.eq_ignore_ascii_case("requestId") {
        "requestID"
    } else if name.eq_ignore_ascii_case("eventId") {
        "eventID"
    } else if name.eq_ignore_ascii_case("sharedEventId") {
        "sharedEventID"
    } else {
        name
    };
    FIELD_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(wanted))
        .map_or_else(|| name.to_string(), |n| n.to_string())
}

/// Restores field-name case and drops nulls inside a struct (a log file omits them).
fn restore_struct(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (canonical(&k), restore_struct(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(restore_struct).collect()),
        other => other,
    }
}

/// Lake: a map's values that hold nested JSON are parsed back into JSON.
fn unstring_map(column: &str, value: Value) -> Result<Value, DecodeError> {
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let mut out = Map::new();
    for (key, item) in map {
        let item = match item {
            Value::String(text)
                if text.trim_start().starts_with('{') || text.trim_start().starts_with('[') =>
            {
                serde_json::from_str(&text).map_err(|e| DecodeError::NestedNotJson {
                    column: column.to_string(),
                    key: key.clone(),
                    detail: e.to_string(),
                })?
            }
            other => other,
        };
        out.insert(key, item);
    }
    Ok(Value::Object(out))
}

/// Lake's `eventTime` (`2026-12-01 10:00:00.000`) as a record writes it.
fn lake_time(text: &str) -> String {
    let trimmed = text.trim().replace(' ', "T");
    let base = trimmed
        .split('.')
        .next()
        .unwrap_or(&trimmed)
        .trim_end_matches('Z');
    format!("{base}Z")
}

/// Rebuilds one result row (`columns[i]` names `values[i]`; `None` is SQL NULL).
pub fn row_to_record(
    flavor: Flavor,
    columns: &[String],
    values: &[Option<String>],
) -> Result<TrailEvent, DecodeError> {
    if columns.len() != values.len() {
        return Err(DecodeError::Width {
            columns: columns.len(),
            values: values.len(),
        });
    }
    let mut record = Map::new();
    for (column, value) in columns.iter().zip(values) {
        let Some(text) = value else { continue };
        let name = canonical(column);
        let value = if JSON_COLUMNS.contains(&name.as_str()) {
            let parsed: Value = serde_json::from_str(text).map_err(|e| DecodeError::NotJson {
                column: name.clone(),
                detail: e.to_string(),
            })?;
            match (flavor, name.as_str()) {
                (_, "userIdentity" | "resources") => restore_struct(parsed),
                (Flavor::Lake, _) => unstring_map(&name, parsed)?,
                (Flavor::Athena, _) => parsed,
            }
        } else if name == "readOnly" || name == "managementEvent" {
            match text.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(DecodeError::ReadOnly(text.clone())),
            }
        } else if name == "eventTime" && flavor == Flavor::Lake {
            Value::String(lake_time(text))
        } else {
            Value::String(text.clone())
        };
        record.insert(name, value);
    }
    serde_json::from_value(Value::Object(record)).map_err(|e| DecodeError::Record(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::str_ci;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn some(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    const ATHENA_COLUMNS: &[&str] = &[
        "eventversion",
        "useridentity",
        "eventtime",
        "eventsource",
        "eventname",
        "awsregion",
        "requestparameters",
        "responseelements",
        "requestid",
        "eventid",
        "readonly",
        "resources",
        "eventcategory",
    ];

    fn athena_start(request: &str) -> Vec<Option<String>> {
        vec![
            some("1.11"),
            some(
                r#"{"type":"IAMUser","principalid":"AIDA1","arn":"arn:aws:iam::1:user/u","accountid":"1","invokedby":null,"username":"u"}"#,
            ),
            some("2026-12-01T10:00:00Z"),
            some("textract.amazonaws.com"),
            some("StartDocumentAnalysis"),
            some("us-east-1"),
            some(request),
            some(r#"{"jobId":"j1"}"#),
            some("r1"),
            some("e1"),
            some("false"),
            None,
            some("Management"),
        ]
    }

    #[test]
    fn athena_row_rebuilds_the_record_with_nested_output_config() {
        let request = r#"{"outputConfig":{"s3Bucket":"b","s3Prefix":"p"},"kMSKeyId":"alias/k"}"#;
        let event = row_to_record(
            Flavor::Athena,
            &cols(ATHENA_COLUMNS),
            &athena_start(request),
        )
        .unwrap();
        assert_eq!(event.event_id, "e1");
        assert_eq!(event.read_only, Some(false));
        assert_eq!(
            str_ci(&event.request_parameters, "outputConfig/s3Bucket"),
            Some("b")
        );
        assert_eq!(str_ci(&event.response_elements, "jobId"), Some("j1"));
        assert_eq!(
            event
                .user_identity
                .get("principalId")
                .and_then(crate::model::Json::as_str),
            Some("AIDA1")
        );
        assert!(event.user_identity.get("invokedBy").is_none());
    }

    #[test]
    fn lake_nested_value_as_string_never_reads_as_absent() {
        // Lake: outputConfig comes back as a JSON *string* inside the map.
        let columns = cols(&[
            "eventID",
            "eventTime",
            "eventSource",
            "eventName",
            "requestParameters",
            "readOnly",
        ]);
        let values = vec![
            some("e1"),
            some("2026-12-01 10:00:00.000"),
            some("textract.amazonaws.com"),
            some("StartDocumentAnalysis"),
            some(
                r#"{"outputConfig":"{\"s3Bucket\":\"b\",\"s3Prefix\":\"p\"}","kMSKeyId":"alias/k"}"#,
            ),
            some("false"),
        ];
        let event = row_to_record(Flavor::Lake, &columns, &values).unwrap();
        assert_eq!(
            str_ci(&event.request_parameters, "outputConfig/s3Bucket"),
            Some("b")
        );
        assert_eq!(
            str_ci(&event.request_parameters, "kMSKeyId"),
            Some("alias/k")
        );
        assert_eq!(event.event_time.to_rfc3339(), "2026-12-01T10:00:00+00:00");
    }

    #[test]
    fn lake_nested_value_that_does_not_parse_rejects_the_row() {
        let columns = cols(&["eventID", "requestParameters"]);
        let values = vec![
            some("e1"),
            some(r#"{"outputConfig":"{s3Bucket=b, s3Prefix=p}"}"#),
        ];
        assert!(matches!(
            row_to_record(Flavor::Lake, &columns, &values),
            Err(DecodeError::NestedNotJson { key, .. }) if key == "outputConfig"
        ));
    }

    #[test]
    fn athena_struct_rendering_is_not_json_and_rejects_the_row() {
        // A raw struct (`{type=IAMUser, ...}`) instead of the CAST AS JSON the SQL asks for.
        let mut values = athena_start("{}");
        values[1] = some("{type=IAMUser, arn=arn:aws:iam::1:user/u}");
        assert!(matches!(
            row_to_record(Flavor::Athena, &cols(ATHENA_COLUMNS), &values),
            Err(DecodeError::NotJson { column, .. }) if column == "userIdentity"
        ));
    }

    #[test]
    fn read_only_must_be_a_boolean() {
        let mut values = athena_start("{}");
        values[10] = some("maybe");
        assert_eq!(
            row_to_record(Flavor::Athena, &cols(ATHENA_COLUMNS), &values).unwrap_err(),
            DecodeError::ReadOnly("maybe".into())
        );
    }

    #[test]
    fn width_mismatch_is_an_error() {
        assert!(matches!(
            row_to_record(Flavor::Athena, &cols(&["eventid"]), &[]),
            Err(DecodeError::Width { .. })
        ));
    }

    #[test]
    fn resources_arn_case_is_restored() {
        let mut values = athena_start("{}");
        values[11] = some(
            r#"[{"arn":"arn:aws:kms:us-east-1:1:key/k","accountid":"1","type":"AWS::KMS::Key"}]"#,
        );
        let event = row_to_record(Flavor::Athena, &cols(ATHENA_COLUMNS), &values).unwrap();
        assert_eq!(
            event.resources[0].arn.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
    }
}
