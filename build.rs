//! Decides, at build time, which tests cannot run here, so libtest reports them as *ignored*
//! (with the reason) instead of counting a test that did nothing as passed:
//!
//! - `cfg(no_lab)`: `TEXTRACT_AUDIT_NO_LAB` is set (to anything but `0` or empty), the explicit
//!   opt-out of the tests that need Python from PyPI (the local AWS lab and the report
//!   validators; see `tests/common`).
//! - `cfg(no_samples)`: the real CloudTrail samples (`../shared/samples`, or
//!   `TEXTRACT_AUDIT_SAMPLES`) are not there.
//! - `cfg(no_browser)`: no headless Chromium for the HTML report's browser test
//!   (`tests/browser.rs`): `TEXTRACT_AUDIT_CHROMIUM` (a path or a name) or else `chromium` is not
//!   on `PATH`. Unless `TEXTRACT_AUDIT_REQUIRE_BROWSER` is set (as `.ci/run` does): then the
//!   test runs and a missing browser fails it. A browser found is passed to the tests as
//!   `env!("TEXTRACT_AUDIT_CHROMIUM_BIN")`.
//!
//! Changing any of these variables rebuilds; samples added later are seen once their folder is
//! named with `TEXTRACT_AUDIT_SAMPLES` (or after `touch build.rs`), a browser installed later
//! into a `PATH` folder is seen at the next build. `.ci/run` refuses the opt-out and missing
//! samples, and requires the browser.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(no_lab)");
    println!("cargo::rustc-check-cfg=cfg(no_samples)");
    println!("cargo::rustc-check-cfg=cfg(no_browser)");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_NO_LAB");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_SAMPLES");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_CHROMIUM");
    println!("cargo::rerun-if-env-changed=TEXTRACT_AUDIT_REQUIRE_BROWSER");

    if flag("TEXTRACT_AUDIT_NO_LAB") {
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

    browser();
}

/// A yes/no variable: set to anything but `0` or empty.
fn flag(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Finds the browser for `tests/browser.rs`, like a shell would: `TEXTRACT_AUDIT_CHROMIUM` as a
/// path (if it names one) or a name, else `chromium`, in the `PATH` folders.
fn browser() {
    let name = std::env::var_os("TEXTRACT_AUDIT_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    let found = if Path::new(&name).components().count() > 1 {
        Some(PathBuf::from(&name)).filter(|p| p.is_file())
    } else {
        dirs.iter().map(|d| d.join(&name)).find(|p| p.is_file())
    };
    match found {
        Some(bin) => {
            // Removed or replaced later: decide again.
            println!("cargo::rerun-if-changed={}", bin.display());
            println!(
                "cargo::rustc-env=TEXTRACT_AUDIT_CHROMIUM_BIN={}",
                bin.display()
            );
        }
        None => {
            // Installed later (`apt-get install chromium` adds it to /usr/bin): decide again.
            for dir in dirs.iter().filter(|d| d.is_dir()) {
                println!("cargo::rerun-if-changed={}", dir.display());
            }
            if !flag("TEXTRACT_AUDIT_REQUIRE_BROWSER") {
                println!("cargo::rustc-cfg=no_browser");
            }
        }
    }
}
