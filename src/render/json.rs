//! The `textract-audit/v1` JSON document.

use std::io::{self, Write};

use crate::report::Report;

/// Pretty JSON with a trailing newline, written as it is serialized: a report of many jobs is
/// never held as one string.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// [`write`] into a string.
pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    write(report, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
