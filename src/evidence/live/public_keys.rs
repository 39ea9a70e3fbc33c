//! CloudTrail's digest-signing keys read live (`cloudtrail:ListPublicKeys`) for the digests a
//! run's trails handed in (docs/integrity.md, "Public keys"). An answer read from AWS is
//! trusted like `--cloudtrail-public-keys`; recorded in a bundle it is trusted only when the
//! bundle's signature is (see [`crate::evidence::bundle::load_checked`]).

use std::collections::BTreeMap;

use aws_sdk_cloudtrail::primitives::{DateTime as SdkTime, DateTimeFormat};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::shapes::{sdk_time, wire_error};
use super::{Options, checked_config};
use crate::evidence::CallRecord;
use crate::integrity::run::Inputs;
use crate::integrity::{DigestName, PublicKeyInput, parse_list_public_keys};

/// The operation as bundles record it (`api/cloudtrail/ListPublicKeys.json`).
pub const OPERATION: (&str, &str) = ("cloudtrail", "ListPublicKeys");

/// How far around the digests' signing times the keys are asked for: a digest is signed
/// after its end time (a backfill digest at its generation time), with the key then valid.
const MARGIN_HOURS: i64 = 2;

/// The Regions of the digests handed in, each with the time range their keys must cover.
fn ranges(inputs: &Inputs) -> BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> {
    let mut out: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for d in &inputs.digests {
        let Some(name) = d.id.delivery_key().as_deref().and_then(DigestName::parse) else {
            continue;
        };
        let backfilled = d
            .metadata
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .and_then(|m| m.backfill_generation_timestamp.as_deref())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let (from, until) = (
            name.end.min(backfilled.unwrap_or(name.end)),
            name.end.max(backfilled.unwrap_or(name.end)),
        );
        let range = out.entry(name.region).or_insert((from, until));
        range.0 = range.0.min(from);
        range.1 = range.1.max(until);
    }
    out
}

/// Calls `ListPublicKeys` (every page) in each Region of the digests in `inputs`, over their
/// time range, adds the keys answered to `inputs.keys` (trusted: they came from AWS) and
/// returns the calls as recorded. A call that fails is recorded with its error and noted: its
/// digests then have an unknown key (fail closed). The request records `StartTime`/`EndTime`
/// in epoch seconds; the Region is the client's, as for every recorded call.
pub async fn fetch(options: &Options, inputs: &mut Inputs) -> Vec<CallRecord> {
    let ranges = ranges(inputs);
    if ranges.is_empty() {
        return Vec::new();
    }
    let mut records = Vec::new();
    for (region, (from, until)) in ranges {
        let regional = Options {
            region: Some(region.clone()),
            ..options.clone()
        };
        let config = match checked_config(&regional).await {
            Ok((config, _)) => config,
            Err(e) => {
                inputs.notes.push(format!(
                    "cloudtrail:ListPublicKeys in {region} not called: {e}; digests there have no trusted key"
                ));
                continue;
            }
        };
        let client = aws_sdk_cloudtrail::Client::new(&config);
        let (start, end) = (
            from - Duration::hours(MARGIN_HOURS),
            until + Duration::hours(MARGIN_HOURS),
        );
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({
                "StartTime": start.timestamp(),
                "EndTime": end.timestamp(),
            });
            if let Some(t) = &token {
                request["NextToken"] = t.clone().into();
            }
            let answer = client
                .list_public_keys()
                .start_time(sdk_time(start))
                .end_time(sdk_time(end))
                .set_next_token(token.take())
                .send()
                .await;
            let out = match answer {
                Ok(out) => out,
                Err(e) => {
                    records.push(CallRecord {
                        request,
                        response: None,
                        error: Some(wire_error(&e)),
                    });
                    break;
                }
            };
            records.push(CallRecord {
                request,
                response: Some(response_json(&out)),
                error: None,
            });
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    let (keys, notes) = recorded_keys(&records, "cloudtrail:ListPublicKeys (live)");
    inputs.keys.extend(keys);
    inputs.notes.extend(notes);
    records
}

/// The answer in the API's JSON shape (`Value` base64, times in epoch seconds), which is
/// also what `aws cloudtrail list-public-keys` prints and `--cloudtrail-public-keys` reads.
fn response_json(
    out: &aws_sdk_cloudtrail::operation::list_public_keys::ListPublicKeysOutput,
) -> Value {
    use base64::Engine;
    let time = |t: Option<&SdkTime>| {
        t.and_then(|t| t.fmt(DateTimeFormat::EpochSeconds).ok())
            .and_then(|s| s.parse::<f64>().ok())
    };
    let list: Vec<Value> = out
        .public_key_list()
        .iter()
        .map(|k| {
            json!({
                "Value": k.value().map(|v| base64::engine::general_purpose::STANDARD.encode(v.as_ref())),
                "ValidityStartTime": time(k.validity_start_time()),
                "ValidityEndTime": time(k.validity_end_time()),
                "Fingerprint": k.fingerprint(),
            })
        })
        .collect();
    let mut body = json!({ "PublicKeyList": list });
    if let Some(t) = out.next_token() {
        body["NextToken"] = t.into();
    }
    body
}

/// The keys of recorded `ListPublicKeys` calls (a bundle's `api/cloudtrail/ListPublicKeys.json`),
/// for a bundle whose signature is trusted; failed calls are notes.
pub fn recorded_keys(records: &[CallRecord], origin: &str) -> (Vec<PublicKeyInput>, Vec<String>) {
    let mut keys = Vec::new();
    let mut notes = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let origin = format!("{origin}[{i}]");
        match (&r.response, &r.error) {
            (Some(response), None) => {
                match parse_list_public_keys(response.to_string().as_bytes(), &origin) {
                    Ok(k) => keys.extend(k),
                    Err(e) => notes.push(e.to_string()),
                }
            }
            (_, Some(error)) => notes.push(format!(
                "{origin}: failed: {error}; its digests have no trusted key"
            )),
            (None, None) => notes.push(format!("{origin}: neither Response nor Error")),
        }
    }
    (keys, notes)
}
