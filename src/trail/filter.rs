//! Stage 1b (trail files), step 3: which records to keep, decided as cheaply as possible.
//!
//! A [`RecordFilter`] has an exact rule, applied to parsed records, and a byte prefilter
//! derived from it that is a *necessary* condition of the rule: a file, then a record, whose
//! raw bytes fail the prefilter cannot match and is never parsed. The prefilter must
//! therefore see through JSON escapes: CloudTrail writes `\u0026` for `&` and may write any
//! character (non-ASCII ones above all) as `\u....`, so a needle can be in a record without
//! its bytes being there. Rather than decode, the prefilter treats every escape that could
//! stand for a character of a needle as a possible match and lets the exact rule decide.

use memchr::memmem::Finder;
use serde_json::Value;

use crate::model::{
    Json, KEY_STATE_CHANGES, PARTITIONS, TrailEvent, bucket_arn, get_ci, is_key_state_change,
    parse_s3_arn, str_ci,
};

/// Which records a scan keeps.
#[derive(Debug, Clone)]
pub struct RecordFilter {
    rule: Rule,
    /// Any of these in a record's bytes makes it a candidate.
    finders: Vec<Finder<'static>>,
    /// A record is also a candidate when one of these and `"aws:s3:arn"` are both in it.
    bucket_finders: Vec<Finder<'static>>,
    /// Characters an escape may stand for and still be part of a match.
    escapable: CharSet,
}

#[derive(Debug, Clone)]
enum Rule {
    All,
    Needles {
        needles: Vec<String>,
        bucket_arns: Vec<String>,
        /// Also every KMS key state change (`DisableKey`, `ScheduleKeyDeletion`, …): they
        /// name no job, yet decide whether the job's key was usable while it ran.
        key_states: bool,
    },
    Discovery,
}

/// The literal needles discovery mode looks for (besides job-id-like path segments).
const TEXTRACT_SOURCE: &str = "textract.amazonaws.com";
const S3_ARN_CONTEXT: &str = "aws:s3:arn";
/// Textract job ids are 64 hexadecimal characters.
const JOB_ID_LEN: usize = 64;

impl RecordFilter {
    /// Keeps every record (no prefilter): the straightforward full parse.
    pub fn all() -> RecordFilter {
        RecordFilter {
            rule: Rule::All,
            finders: Vec::new(),
            bucket_finders: Vec::new(),
            escapable: CharSet::default(),
        }
    }

    /// Keeps records in which any needle occurs (case-sensitively) inside a string, key or
    /// value, once JSON escapes are decoded. Empty needles are ignored; no needles keep
    /// nothing.
    pub fn needles(needles: &[String]) -> RecordFilter {
        RecordFilter::build(needles, &[], false)
    }

    /// For `verify --job-id`: keeps records in which a job id occurs (as with
    /// [`RecordFilter::needles`]: Textract calls, result objects, KMS calls whose context is
    /// a result object) and the KMS calls S3 made with Bucket Keys for an output bucket
    /// (`encryptionContext["aws:s3:arn"]` equal to `arn:aws:s3:::{bucket}`). Matching the
    /// bucket ARN only there, not anywhere, keeps the other traffic of a busy output bucket
    /// out of the parse. KMS key state changes are kept too (see [`KEY_STATE_CHANGES`]).
    pub fn jobs(job_ids: &[String], output_buckets: &[String]) -> RecordFilter {
        RecordFilter::build(job_ids, output_buckets, true)
    }

    fn build(job_ids: &[String], output_buckets: &[String], key_states: bool) -> RecordFilter {
        let needles: Vec<String> = job_ids.iter().filter(|n| !n.is_empty()).cloned().collect();
        let bucket_arns: Vec<String> = output_buckets
            .iter()
            .flat_map(|b| PARTITIONS.map(|p| bucket_arn(p, b)))
            .collect();
        let mut escapable = CharSet::default();
        needles
            .iter()
            .chain(&bucket_arns)
            .for_each(|n| escapable.add_str(n));
        if !bucket_arns.is_empty() {
            escapable.add_str(S3_ARN_CONTEXT);
            escapable.add_str("requestParameters/encryptionContext");
        }
        let finder = |n: &str| Finder::new(n.as_bytes()).into_owned();
        let mut finders: Vec<Finder<'static>> = needles.iter().map(|n| finder(n)).collect();
        if key_states {
            KEY_STATE_CHANGES.iter().for_each(|n| escapable.add_str(n));
            finders.extend(KEY_STATE_CHANGES.iter().map(|n| finder(n)));
        }
        RecordFilter {
            finders,
            bucket_finders: bucket_arns.iter().map(|n| finder(n)).collect(),
            rule: Rule::Needles {
                needles,
                bucket_arns,
                key_states,
            },
            escapable,
        }
    }

    /// Discovery for `audit` (every Textract job of a window in one pass). Keeps:
    /// - every Textract event (`eventSource` `textract.amazonaws.com`), `Get*` polls included;
    /// - S3 events whose `requestParameters.key` or an `AWS::S3::Object` resource has a
    ///   path segment of 64 hex characters (a job folder `{prefix}/{JobId}/…`);
    /// - KMS events made for S3 (`encryptionContext["aws:s3:arn"]`) whose ARN is such an
    ///   object, or a bucket (Bucket Keys: one event per session, not per object).
    ///
    /// Trade-off: S3 objects under any 64-hex folder are kept (other tools name folders by
    /// SHA-256 too; later stages drop what no job claims), and KMS events for other S3
    /// objects are dropped, which keeps the result small on SSE-KMS-heavy trails;
    /// - every KMS key state change ([`KEY_STATE_CHANGES`]).
    pub fn discovery() -> RecordFilter {
        let mut escapable = CharSet::default();
        escapable.add_str(TEXTRACT_SOURCE);
        escapable.add_str(S3_ARN_CONTEXT);
        escapable.add_str("0123456789abcdefABCDEF/");
        KEY_STATE_CHANGES.iter().for_each(|n| escapable.add_str(n));
        RecordFilter {
            rule: Rule::Discovery,
            finders: [TEXTRACT_SOURCE, S3_ARN_CONTEXT]
                .iter()
                .chain(KEY_STATE_CHANGES.iter())
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            bucket_finders: Vec::new(),
            escapable,
        }
    }

    /// The byte prefilter, for a whole file or one raw record: `false` only when no record
    /// in `raw` can match.
    pub fn may_match(&self, raw: &[u8]) -> bool {
        match self.rule {
            Rule::All => true,
            Rule::Needles { .. } => {
                self.finders.iter().any(|f| f.find(raw).is_some())
                    || (self.bucket_finders.iter().any(|f| f.find(raw).is_some())
                        && memchr::memmem::find(raw, S3_ARN_CONTEXT.as_bytes()).is_some())
                    || escape_may_hide(raw, &self.escapable)
            }
            Rule::Discovery => {
                self.finders.iter().any(|f| f.find(raw).is_some())
                    || has_raw_job_segment(raw)
                    || escape_may_hide(raw, &self.escapable)
            }
        }
    }

    /// The exact rule on a parsed record. Returns the event when kept; a record that does
    /// not have the shape of a CloudTrail record is an error only when it would be kept
    /// (or, in discovery mode, when its shape decides).
    pub fn select(&self, record: Value) -> Result<Option<TrailEvent>, serde_json::Error> {
        match &self.rule {
            Rule::All => serde_json::from_value(record).map(Some),
            Rule::Needles {
                needles,
                bucket_arns,
                key_states,
            } => {
                let bucket_key_event = || {
                    record
                        .get("requestParameters")
                        .map(|p| Json::from(p.clone()))
                        .is_some_and(|p| {
                            get_ci(&p, "encryptionContext")
                                .and_then(|c| str_ci(c, S3_ARN_CONTEXT))
                                .is_some_and(|arn| bucket_arns.iter().any(|b| b == arn))
                        })
                };
                let key_state_event = || {
                    *key_states
                        && is_key_state_change(
                            record
                                .get("eventSource")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                            record
                                .get("eventName")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        )
                };
                if needles.iter().any(|n| contains_in_strings(&record, n))
                    || bucket_key_event()
                    || key_state_event()
                {
                    serde_json::from_value(record).map(Some)
                } else {
                    Ok(None)
                }
            }
            Rule::Discovery => {
                let event: TrailEvent = serde_json::from_value(record)?;
                Ok(discovery_keeps(&event).then_some(event))
            }
        }
    }
}

fn discovery_keeps(e: &TrailEvent) -> bool {
    match e.event_source.as_str() {
        TEXTRACT_SOURCE => true,
        "s3.amazonaws.com" => {
            str_ci(&e.request_parameters, "key").is_some_and(has_job_segment)
                || e.resource_arns("AWS::S3::Object").any(has_job_segment)
        }
        "kms.amazonaws.com" if is_key_state_change(&e.event_source, &e.event_name) => true,
        "kms.amazonaws.com" => e
            .request_parameters
            .get("encryptionContext")
            .and_then(|c| str_ci(c, S3_ARN_CONTEXT))
            .is_some_and(|arn| match parse_s3_arn(arn) {
                Some((_, _, None)) => true,
                Some((_, _, Some(key))) => has_job_segment(key),
                None => has_job_segment(arn),
            }),
        _ => false,
    }
}

/// Whether a decoded string has a `/`-separated segment of exactly 64 hex characters.
fn has_job_segment(s: &str) -> bool {
    s.split('/')
        .any(|seg| seg.len() == JOB_ID_LEN && seg.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Raw counterpart of [`has_job_segment`] for unescaped text: a run of exactly 64 hex
/// characters between `/` or `"` on both sides. (A segment written with escapes is caught
/// by [`escape_may_hide`].) Such a run covers at least one position in every 32, so only
/// those positions are probed and a run is measured only around a hex probe.
fn has_raw_job_segment(raw: &[u8]) -> bool {
    const STRIDE: usize = JOB_ID_LEN / 2;
    let mut at = 0;
    while at < raw.len() {
        if !raw[at].is_ascii_hexdigit() {
            at += STRIDE;
            continue;
        }
        let start = raw[..at]
            .iter()
            .rposition(|b| !b.is_ascii_hexdigit())
            .map_or(0, |p| p + 1);
        let end = raw[at..]
            .iter()
            .position(|b| !b.is_ascii_hexdigit())
            .map_or(raw.len(), |p| at + p);
        let bounded = |b: Option<&u8>| matches!(b, Some(b'/' | b'"'));
        if end - start == JOB_ID_LEN
            && bounded(start.checked_sub(1).and_then(|p| raw.get(p)))
            && bounded(raw.get(end))
        {
            return true;
        }
        at = end.max(at + 1) + STRIDE;
    }
    false
}

/// Whether a decoded string of `v` (an object key or a string value) contains `needle`.
fn contains_in_strings(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(items) => items.iter().any(|i| contains_in_strings(i, needle)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(needle) || contains_in_strings(v, needle)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A set of characters: ASCII exactly, everything else as one class.
#[derive(Debug, Clone)]
struct CharSet {
    ascii: [bool; 128],
    non_ascii: bool,
}

impl Default for CharSet {
    fn default() -> Self {
        CharSet {
            ascii: [false; 128],
            non_ascii: false,
        }
    }
}

impl CharSet {
    fn add_str(&mut self, s: &str) {
        for c in s.chars() {
            match usize::try_from(u32::from(c)) {
                Ok(i) if i < 128 => self.ascii[i] = true,
                _ => self.non_ascii = true,
            }
        }
    }

    fn contains_unit(&self, unit: u32) -> bool {
        match usize::try_from(unit) {
            Ok(i) if i < 128 => self.ascii[i],
            _ => self.non_ascii,
        }
    }
}

/// Whether `raw` has a JSON escape that could stand for a character in `set` (so a needle
/// made of those characters could be there without its bytes being there). Malformed
/// escapes answer yes: the parser will then report them.
fn escape_may_hide(raw: &[u8], set: &CharSet) -> bool {
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\\', &raw[from..]) {
        let at = from + found;
        let unit = match raw.get(at + 1) {
            Some(b'u') => {
                let hex = raw
                    .get(at + 2..at + 6)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                    Some(unit) => {
                        from = at + 6;
                        unit
                    }
                    None => return true,
                }
            }
            Some(&c) => {
                from = at + 2;
                match c {
                    b'"' | b'\\' | b'/' => u32::from(c),
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => 0x0a,
                    b'r' => 0x0d,
                    b't' => 0x09,
                    _ => return true,
                }
            }
            None => return true,
        };
        if set.contains_unit(unit) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> CharSet {
        let mut c = CharSet::default();
        c.add_str(s);
        c
    }

    #[test]
    fn route_1_key_state_changes_are_kept_by_the_job_and_discovery_filters() {
        let file = br#"{"Records":[
            {"eventID":"a","eventTime":"2026-11-20T10:00:30Z","eventSource":"kms.amazonaws.com",
             "eventName":"DisableKey","awsRegion":"us-east-1",
             "requestParameters":{"keyId":"arn:aws:kms:us-east-1:1:key/k"}},
            {"eventID":"b","eventTime":"2026-11-20T10:00:31Z","eventSource":"kms.amazonaws.com",
             "eventName":"Schedule\u004beyDeletion","awsRegion":"us-east-1",
             "requestParameters":{"keyId":"k"}},
            {"eventID":"c","eventTime":"2026-11-20T10:00:32Z","eventSource":"iam.amazonaws.com",
             "eventName":"DisableKey","awsRegion":"us-east-1"}]}"#;
        let kept = |f: &RecordFilter| -> Vec<String> {
            crate::trail::scan::select_records(file, f, &mut Default::default(), false)
                .unwrap()
                .into_iter()
                .map(|e| e.event_id)
                .collect()
        };
        let job = "0".repeat(64);
        assert_eq!(kept(&RecordFilter::jobs(&[job], &[])), ["a", "b"]);
        assert_eq!(kept(&RecordFilter::discovery()), ["a", "b"]);
        assert!(kept(&RecordFilter::needles(&["nothing".into()])).is_empty());
    }

    #[test]
    fn escapes_are_seen_through() {
        let hex = set("0123456789abcdef");
        assert!(!escape_may_hide(br#""a\u0026b \"q\" \/""#, &hex));
        assert!(escape_may_hide(br#""\u0061bc""#, &hex), "\\u0061 is 'a'");
        assert!(escape_may_hide(br#""\u0041bc""#, &set("A")));
        // An escaped backslash followed by a literal u0061 is not an escape of 'a'.
        assert!(!escape_may_hide(br#""\\u0061""#, &set("a0123456789")));
        assert!(escape_may_hide(br#""\\u0061""#, &set("\\")));
        // Non-ASCII escapes only matter to needles with non-ASCII characters.
        assert!(!escape_may_hide(br#""r\u00e9sum\u00e9""#, &set("resume")));
        assert!(escape_may_hide(br#""r\u00e9sum\u00e9""#, &set("résumé")));
        assert!(escape_may_hide(br#""\/""#, &set("a/b")));
        assert!(escape_may_hide(br#""\u00""#, &hex), "malformed");
        assert!(escape_may_hide(br#""\x""#, &hex), "malformed");
    }

    #[test]
    fn needle_prefilter_and_rule_agree_on_escaped_text() {
        let f = RecordFilter::needles(&["textract_output/résumé".into()]);
        let raw = r#"{"requestParameters":{"key":"textract_output/r\u00e9sum\u00e9/1"}}"#;
        assert!(f.may_match(raw.as_bytes()));
        let v: Value = serde_json::from_str(raw).unwrap();
        assert!(contains_in_strings(&v, "textract_output/résumé"));
        // An unrelated \u escape does not make a hex needle a candidate.
        let ids = RecordFilter::needles(&["0123abcd".into()]);
        assert!(!ids.may_match(br#"{"userAgent":"a\u0026b","x":"0123abc"}"#));
        assert!(ids.may_match(br#"{"k":"\u00301\u00323abcd"}"#));
        assert!(ids.may_match(br#"{"k":"x/0123abcd/1"}"#));
    }

    #[test]
    fn needles_match_keys_and_values_but_not_across_strings() {
        let v: Value =
            serde_json::from_str(r#"{"ab":"cd","list":[{"arn:aws:s3:::b":1}],"n":1234}"#).unwrap();
        assert!(contains_in_strings(&v, "arn:aws:s3:::b"));
        assert!(contains_in_strings(&v, "c"));
        assert!(!contains_in_strings(&v, "ab\":\"cd"));
        assert!(!contains_in_strings(&v, "1234"), "numbers are not strings");
    }

    #[test]
    fn job_segments_raw_and_decoded() {
        let id = "a".repeat(64);
        assert!(has_job_segment(&format!("textract_output/{id}/1")));
        assert!(has_job_segment(&format!("{id}/1")));
        assert!(!has_job_segment(&format!("textract_output/{id}0/1")));
        assert!(!has_job_segment(&format!("p/{}/1", "g".repeat(64))));
        assert!(has_raw_job_segment(
            format!(r#""key":"p/{id}/1""#).as_bytes()
        ));
        assert!(has_raw_job_segment(format!(r#""key":"{id}/1""#).as_bytes()));
        assert!(!has_raw_job_segment(
            format!(r#""key":"p/{id}0/1""#).as_bytes()
        ));
        assert!(!has_raw_job_segment(
            format!(r#""key":"p{id}/1""#).as_bytes()
        ));
    }

    fn event(json: Value) -> Value {
        let mut base = serde_json::json!({
            "eventID": "e", "eventTime": "2026-11-20T10:00:00Z", "awsRegion": "us-east-1"
        });
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        base
    }

    #[test]
    fn discovery_keeps_textract_job_objects_and_their_kms_events() {
        let f = RecordFilter::discovery();
        let id = "0f".repeat(32);
        let keep = |v: Value| f.select(event(v)).unwrap().is_some();
        assert!(keep(
            serde_json::json!({"eventSource": "textract.amazonaws.com", "eventName": "GetDocumentAnalysis"})
        ));
        assert!(keep(
            serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "requestParameters": {"bucketName": "b", "key": format!("textract_output/{id}/1")}})
        ));
        assert!(keep(
            serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "resources": [{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::b/out/{id}/2")}]})
        ));
        assert!(!keep(
            serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "requestParameters": {"bucketName": "b", "key": "photos/cat.jpg"}})
        ));
        assert!(keep(
            serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "GenerateDataKey",
            "requestParameters": {"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::b"}}})
        ));
        assert!(keep(
            serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
            "requestParameters": {"encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::b/x/{id}/1")}}})
        ));
        assert!(!keep(
            serde_json::json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
            "requestParameters": {"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::b/photos/cat.jpg"}}})
        ));
        assert!(!keep(
            serde_json::json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"})
        ));
        // Discovery needs the record's shape to decide: a bad one is an error.
        assert!(f.select(serde_json::json!({"eventSource": 3})).is_err());
    }
}
