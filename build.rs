//! Decides, at build time, which tests cannot run here, so libtest reports them as *ignored*
//! (with the reason) instead of counting a test that did nothing as passed:
//!
//! - `cfg(no_lab)`: `TEXTRACT_AUDIT_NO_LAB` is set (to anything but `0` or empty), the explicit
//!   opt-out of the tests that need Python from PyPI (the local AWS lab and the report
//!   validators; see `tests/common`).
//! - `cfg(no_samples)`: the real CloudTrail samples (`../shared/samples`, or
//!   `TEXTRACT_AUDIT_SAMPLES`) are not there.
//!
//! Changing either variable rebuilds; samples added later are seen once their folder is named
//! with `TEXTRACT_AUDIT_SAMPLES` (or after `touch build.rs`). `.ci/run` refuses both.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(no_lab)");
    println!("cargo::rustc-check-cfg=cfg(no_samples)");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_NO_LAB");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_SAMPLES");

    if std::env::var_os("TEXTRACT_AUDIT_NO_LAB").is_some_and(|v| !v.is_empty() && v != "0") {
        println!("cargo::rustc-cfg=no_lab");
    }

    let samples = std::env::var_os("TEXTRACT_AUDIT_SAMPLES").map_or_else(
        || PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("../shared/samples"),
        PathBuf::from,
    );
    if samples.is_dir() {
        // A folder is scanned recursively: a sample added, changed or removed rebuilds.
        println!("cargo::rerun-if-changed={}", samples.display());
    } else {
        println!("cargo::rustc-cfg=no_samples");
    }
}
