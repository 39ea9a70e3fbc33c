//! The `textract-audit/v1` JSON document.

use crate::report::Report;

/// Pretty JSON with a trailing newline.
pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report serializes");
    s.push('\n');
    s
}
