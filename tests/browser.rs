//! The HTML report in a real browser (lab tier): headless Chromium renders the demo report at
//! 1280 x 900, screenshots it, and a layout probe (`tests/browser/probe.js`, run in a copy of
//! the page) measures it. The page must not scroll sideways, folded or expanded, and every
//! job's verdict in the summary, and the FAIL job's badge, must be visible above the fold. The
//! fold is the viewport's height as the probe's run reports it (`innerHeight`: 757 px in a
//! 900 px window with `--dump-dom`, Chromium 156), so no higher than the screenshot's 900 px.
//!
//! The browser is Debian's `chromium` (or `TEXTRACT_AUDIT_CHROMIUM`), found at build time by
//! `build.rs`: without it the test is ignored with the reason, unless
//! `TEXTRACT_AUDIT_REQUIRE_BROWSER` is set (`.ci/run`), which makes a missing browser a failure.
//! What it wrote stays under `target/tmp/browser/`: the report, the probe's copy, the
//! screenshot `report.png` and the measurements `layout.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// A headless run of this small page takes about 2 s; a hung browser is killed after this.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> &'static str {
    option_env!("TEXTRACT_AUDIT_CHROMIUM_BIN").unwrap_or_else(|| {
        panic!(
            "TEXTRACT_AUDIT_REQUIRE_BROWSER is set, but no headless Chromium was found at \
             build time (`chromium` on PATH, or TEXTRACT_AUDIT_CHROMIUM): install it (Debian: \
             apt-get install chromium)"
        )
    })
}

/// Runs headless Chromium on `page` with `args`, its standard output into `stdout`, in a fresh
/// profile; panics (with its standard error) if it fails or hangs.
fn run_chromium(dir: &Path, page: &Path, args: &[&str], stdout: &Path) {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let stderr = dir.join("chromium.stderr");
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(fs::File::create(stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} still running after {BROWSER_TIMEOUT:?}; killed:\n{}",
                fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "{command:?}: {status}\n{}",
        fs::read_to_string(&stderr).unwrap_or_default()
    );
}

/// Width and height from a PNG's IHDR chunk, which the format puts first.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG ({} bytes)",
        png.len()
    );
    let be = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The JSON the probe left in `<pre id="layout-probe">` of the dumped DOM (serialised as
/// HTML text: `&`, `<`, `>` escaped).
fn probe_result(dom: &str) -> Value {
    let open = "<pre id=\"layout-probe\" hidden=\"\">";
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("the probe left no result; the DOM:\n{dom}"))
        + open.len();
    let text = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("probe result: {e}: {text}"))
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key} in {v}"))
}

/// Problems with one measured verdict: it must say `expected`, be drawn, uncovered and uncut,
/// and lie inside the viewport above the fold.
fn verdict_problems(what: &str, v: &Value, expected: &str, probe: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if v["text"] != expected {
        problems.push(format!(
            "{what}: says {} where the JSON says {expected}",
            v["text"]
        ));
    }
    for (flag, meaning) in [
        ("shown", "is not drawn (hidden, transparent or empty)"),
        ("on_top", "is covered by another element or off screen"),
        ("text_fits", "has its text cut off"),
    ] {
        if v[flag] != true {
            problems.push(format!("{what}: {meaning}"));
        }
    }
    let b = &v["box"];
    let (viewport, fold) = (num(probe, "client_width"), num(probe, "inner_height"));
    if num(b, "top") < 0.0 || num(b, "bottom") > fold {
        problems.push(format!("{what}: not above the fold ({fold} px): {b}"));
    }
    if num(b, "left") < 0.0 || num(b, "right") > viewport {
        problems.push(format!("{what}: outside the {viewport} px viewport: {b}"));
    }
    problems
}

#[test]
#[cfg_attr(
    no_lab,
    ignore = "lab tier: needs headless Chromium (TEXTRACT_AUDIT_NO_LAB is set)"
)]
#[cfg_attr(
    all(no_browser, not(no_lab)),
    ignore = "needs headless Chromium: none found at build time (`chromium` on PATH, or \
              TEXTRACT_AUDIT_CHROMIUM; Debian: apt-get install chromium)"
)]
fn demo_report_fits_1280_px_with_every_verdict_above_the_fold() {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();

    // The demo as the README runs it, as HTML and as the JSON the verdicts are judged against.
    let run = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["verify", "--evidence", "fixtures/demo", "--output-dir"])
        .arg(&dir)
        .args(["--format", "html", "--format", "json"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(3),
        "the demo exits 3 (one job FAILs):\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let page = dir.join("report.html");
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let jobs: Vec<(&str, String)> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let verdict = j["verdict"].as_str().unwrap().to_uppercase();
            (j["job_id"].as_str().unwrap(), verdict)
        })
        .collect();
    assert!(
        jobs.iter().any(|(_, v)| v == "FAIL"),
        "the demo has a FAIL job: {jobs:?}"
    );

    // The screenshot, of the page as served.
    let png = dir.join("report.png");
    let screenshot = format!("--screenshot={}", png.display());
    run_chromium(&dir, &page, &[&screenshot], &dir.join("screenshot.stdout"));
    let bytes = fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!(png_size(&bytes), (WIDTH, HEIGHT), "{}", png.display());

    // The probe, in a copy of the page.
    let html = fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("</body>").count(),
        1,
        "one </body> in the report"
    );
    let probe_page = dir.join("probe.html");
    let script = format!(
        "<script>\n{}</script>\n</body>",
        include_str!("browser/probe.js")
    );
    fs::write(&probe_page, html.replace("</body>", &script)).unwrap();
    let dom = dir.join("probe.dom.html");
    run_chromium(
        &dir,
        &probe_page,
        &["--virtual-time-budget=5000", "--dump-dom"],
        &dom,
    );
    let probe = probe_result(&fs::read_to_string(&dom).unwrap());
    fs::write(
        dir.join("layout.json"),
        serde_json::to_string_pretty(&probe).unwrap(),
    )
    .unwrap();
    let artifacts = format!(
        "screenshot {}, measurements {}",
        png.display(),
        dir.join("layout.json").display()
    );
    assert_eq!(
        num(&probe, "inner_width"),
        f64::from(WIDTH),
        "the window is {WIDTH} px wide ({artifacts})"
    );

    let mut problems = Vec::new();
    // No sideways scrolling, as served and with every <details> open.
    let viewport = num(&probe, "client_width");
    for state in ["folded", "expanded"] {
        let m = &probe[state];
        if num(m, "scroll_width") > viewport || num(m, "wide_count") > 0.0 {
            problems.push(format!(
                "{state}: the page is {} px wide in a {viewport} px viewport; {} element(s) \
                 reach past it: {}",
                m["scroll_width"], m["wide_count"], m["wide"]
            ));
        }
    }
    // Every job's verdict in the summary, once, as the JSON has it, above the fold.
    let summary = probe["summary"].as_array().unwrap();
    assert_eq!(
        summary.len(),
        jobs.len(),
        "one summary row per job ({artifacts})"
    );
    for (job, verdict) in &jobs {
        match summary.iter().find(|row| row["job"] == *job) {
            Some(row) => problems.extend(verdict_problems(
                &format!("summary verdict of {job}"),
                row,
                verdict,
                &probe,
            )),
            None => problems.push(format!("no summary row for {job}")),
        }
    }
    // The FAIL jobs come first: the first one's own badge is on the first screen too.
    let first = &probe["sections"][0];
    match jobs.iter().find(|(job, _)| first["job"] == *job) {
        Some((job, verdict)) if verdict == "FAIL" => problems.extend(verdict_problems(
            &format!("badge of the FAIL job {job}"),
            first,
            "FAIL",
            &probe,
        )),
        _ => problems.push(format!("the first job section is not a FAIL job: {first}")),
    }
    assert!(
        problems.is_empty(),
        "the HTML report's layout at {WIDTH} x {HEIGHT}:\n- {}\n({artifacts})",
        problems.join("\n- ")
    );
}
