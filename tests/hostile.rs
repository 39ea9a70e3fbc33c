//! Issue 11, the file half: input shaped by an adversary (trail folders, bundles, entry
//! files) through the real binary. Each test is named after the defect it pins; each failed
//! (or hung, or panicked) on the code before the fix.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod fixture;
use fixture::{copy_dir, copy_fixture, first_file, root};

/// Runs the binary from the project root; kills it (and fails) after 60 s, so a defect that
/// hangs fails instead of blocking the suite.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("textract-audit {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The row4-sse-kms log file holding the job's own records (delivered 10:05).
fn job_log(bundle: &Path) -> PathBuf {
    first_file(&bundle.join("cloudtrail"), "T1005Z_")
}

fn seal(dir: &Path) {
    let out = run(&["bundle", "seal", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `verify` on a bundle: the exit code, the JSON report, and all it printed.
fn verify(dir: &Path) -> (i32, Value, String) {
    let out = run(&[
        "verify",
        "--evidence",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    (out.status.code().unwrap(), report, text)
}

fn skipped(report: &Value) -> Vec<(String, String)> {
    report["evidence"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// `gzip(X) + gzip(X)` ends with X's trailer: it was read as X alone and the job passed.
/// `zcat` reads both members, which is not a log file: the job is INCONCLUSIVE.
#[test]
fn a_log_file_with_a_repeated_gzip_member_is_not_read_as_its_first_member() {
    let (_tmp, dir) = copy_fixture("row4-sse-kms");
    let (code, report, _) = verify(&dir);
    assert_eq!(
        (code, report["jobs"][0]["verdict"].as_str()),
        (0, Some("pass"))
    );
    let log = job_log(&dir);
    let gz = fs::read(&log).unwrap();
    fs::write(&log, [gz.clone(), gz].concat()).unwrap();
    seal(&dir);
    let (code, report, _) = verify(&dir);
    assert_eq!(report["jobs"][0]["verdict"], "inconclusive");
    assert_eq!(code, 4);
    let named = skipped(&report);
    assert!(
        named.iter().any(
            |(s, r)| s.ends_with(log.file_name().unwrap().to_str().unwrap())
                && r.contains("invalid CloudTrail log JSON")
        ),
        "{named:?}"
    );
}

/// `--since 100000000d` overflowed the window start, `--since 106751991168d` the duration
/// parser: both panicked (exit 101). A duration too long is a usage error.
#[test]
fn since_durations_past_the_calendar_are_usage_errors_not_panics() {
    for since in ["100000000d", "106751991168d", "99999999999999999999w"] {
        let out = run(&[
            "audit",
            "--offline",
            "--trail-dir",
            "fixtures/demo/cloudtrail",
            "--since",
            since,
        ]);
        assert_eq!(out.status.code(), Some(2), "{since}: {}", stderr(&out));
        assert!(stderr(&out).contains("--since"), "{}", stderr(&out));
    }
}

/// A manifest `files` entry `/etc/…` was read and its SHA-256 printed (a hash oracle for
/// any file the user can read); `cloudtrail/../../other/x.json.gz` was loaded as evidence.
#[test]
fn manifest_paths_outside_the_bundle_are_refused_and_never_hashed() {
    let (tmp, dir) = copy_fixture("row4-sse-kms");
    // A log file outside the bundle, and a link from inside to it.
    let outside = tmp.path().join("other/x.json.gz");
    fs::create_dir_all(outside.parent().unwrap()).unwrap();
    fs::copy(job_log(&dir), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("cloudtrail/linked.json.gz")).unwrap();
    let secret = tmp.path().join("secret.txt");
    fs::write(&secret, "the outside file").unwrap();
    let secret_sha = "ad1b5e8ea24ee1f4fe9e8b93f8a1e9c3d28f8d5d4e0f0a2b0ad0a2f0e3d4b9c1";
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let files = manifest["files"].as_object_mut().unwrap();
    let entries = [
        secret.to_str().unwrap().to_owned(),
        "cloudtrail/../../other/x.json.gz".to_owned(),
        "api/./s3/HeadObject.json".to_owned(),
        "cloudtrail/linked.json.gz".to_owned(),
    ];
    for e in &entries {
        files.insert(e.clone(), Value::String(secret_sha.into()));
    }
    fs::write(&manifest_path, manifest.to_string()).unwrap();

    let (_, report, text) = verify(&dir);
    let named = skipped(&report);
    for e in &entries {
        let (_, reason) = named
            .iter()
            .find(|(s, r)| r.contains(&format!("{e:?}")) || s.ends_with(e.as_str()))
            .unwrap_or_else(|| panic!("{e} not named: {named:?}"));
        assert!(reason.contains("refused, not read"), "{e}: {reason}");
    }
    // No hash but the manifest's own claim appears: the outside files were never read.
    let sha_of = |p: &Path| {
        let out = Command::new("sha256sum").arg(p).output().unwrap();
        String::from_utf8_lossy(&out.stdout)[..64].to_owned()
    };
    for p in [&secret, &outside] {
        assert!(
            !text.contains(&sha_of(p)),
            "hash of {} printed",
            p.display()
        );
    }
    assert_eq!(report["jobs"][0]["verdict"], "inconclusive");
}

/// Two links to `.` in a bundle's `cloudtrail/` made loading exponential, and a FIFO
/// named `*.json.gz` in a trail folder blocked forever.
#[test]
fn link_cycles_and_fifos_in_evidence_folders_end_and_are_named() {
    let (_tmp, dir) = copy_fixture("row4-sse-kms");
    let ct = dir.join("cloudtrail");
    let trail = tempfile::tempdir().unwrap();
    copy_dir(&ct, trail.path());
    std::os::unix::fs::symlink(".", ct.join("loop1")).unwrap();
    std::os::unix::fs::symlink(".", ct.join("loop2")).unwrap();
    seal(&dir);
    let (code, report, _) = verify(&dir);
    assert_eq!(
        (code, report["jobs"][0]["verdict"].as_str()),
        (0, Some("pass"))
    );

    std::os::unix::fs::symlink(".", trail.path().join("loop1")).unwrap();
    std::os::unix::fs::symlink(".", trail.path().join("loop2")).unwrap();
    let log = job_log(&dir);
    let fifo_name = log
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .replace("T1005Z_", "T1010Z_");
    mkfifo(&trail.path().join(&fifo_name));
    std::os::unix::fs::symlink("/dev/zero", trail.path().join("zero.json.gz")).unwrap();
    let job = report["jobs"][0]["job_id"].as_str().unwrap().to_owned();
    let out = run(&[
        "verify",
        "--offline",
        "--trail-dir",
        trail.path().to_str().unwrap(),
        "--job-id",
        &job,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named = skipped(&report);
    let reason = |suffix: &str| {
        named
            .iter()
            .find(|(s, _)| s.ends_with(suffix))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{suffix} not named: {named:?}"))
    };
    assert!(reason(&fifo_name).contains("a FIFO"));
    assert!(reason("zero.json.gz").contains("a device"));
    assert!(reason("loop1").contains("already listed"));
    assert_eq!(
        report["jobs"][0]["verdict"], "inconclusive",
        "the FIFO is a gap"
    );
}

/// A FIFO or `/dev/zero` as `--mutelist` blocked or read until memory ran out: refused by
/// name, a usage error. (The allow-list is read by the same `EntryFile::read`, see its
/// unit test; it has no flag yet.)
#[test]
fn a_fifo_or_a_device_as_mutelist_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("mute.toml");
    mkfifo(&fifo);
    for file in [fifo.to_str().unwrap(), "/dev/zero"] {
        let out = run(&["verify", "--evidence", "fixtures/demo", "--mutelist", file]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(
            err.contains(file) && err.contains("not a regular file"),
            "{err}"
        );
    }
}

/// Error texts said their cause twice ("EOF while parsing …: EOF while parsing …").
#[test]
fn error_messages_say_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("manifest.json"), "{\"schema\":").unwrap();
    let out = run(&["verify", "--evidence", dir.path().to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.matches("EOF while parsing").count(), 1, "{err}");
    let out = run(&[
        "verify",
        "--offline",
        "--trail-dir",
        "/nonexistent/trail",
        "--job-id",
        "x",
    ]);
    let err = stderr(&out);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

/// A FIFO as a bundle's `manifest.json` blocked the loader.
#[test]
fn a_fifo_as_the_bundle_manifest_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("manifest.json"));
    let out = run(&["verify", "--evidence", dir.path().to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("manifest.json: not a regular file (a FIFO)"),
        "{err}"
    );
}
