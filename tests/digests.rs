//! Digest-chain validation through the CLI (issue 12): a fixture bundle gets its own signed
//! chain (tests/fixture/chain.rs), then each case bends the chain or the files, re-seals the
//! bundle as an editor would, and checks the named result and its verdict effect.

#[path = "fixture/chain.rs"]
mod chain;
mod fixture;

use std::fs;

use chain::{chained, integrity_findings, verdict};
use chrono::Duration;
use textract_audit::integrity::synth::{self, Hour};

const FIXTURE: &str = "row4-sse-kms";

fn count(report: &serde_json::Value, key: &str) -> usize {
    report["integrity"][key].as_array().unwrap().len()
}

fn statuses(report: &serde_json::Value) -> Vec<String> {
    integrity_findings(report)
        .into_iter()
        .map(|f| f.0)
        .collect()
}

#[test]
fn a_valid_chain_validates_every_log_file_and_the_job_passes() {
    let c = chained(FIXTURE, 4, |_| {});
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(verdict(&report), "pass");
    let i = &report["integrity"];
    assert_eq!(i["mode"], "auto");
    assert_eq!(i["digests_found"], 4);
    assert_eq!(i["digests_verified"], 4);
    assert_eq!(count(&report, "files_validated"), 5);
    for empty in [
        "files_not_covered",
        "hash_mismatches",
        "listed_but_missing",
        "chain_gaps",
        "bad_signatures",
        "unknown_keys",
    ] {
        assert_eq!(count(&report, empty), 0, "{empty}: {i:#}");
    }
    // The empty hours (08-09 and 11-12) have digests too: one covered stretch, 08 to 12.
    assert_eq!(i["covered"][0]["from"], "2026-11-20T08:00:00Z");
    assert_eq!(i["covered"][0]["until"], "2026-11-20T12:00:00Z");
    let findings = integrity_findings(&report);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].0, "pass");
    assert!(findings[0].1.contains("validated"), "{findings:?}");
    // `require` asks for nothing more here.
    let (report, code) = c.verify(&["--integrity", "require"]);
    assert_eq!((code, verdict(&report)), (0, "pass"));
    // The table says it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(["verify", "--evidence"])
        .arg(&c.bundle)
        .arg("--cloudtrail-public-keys")
        .arg(&c.keys)
        .output()
        .unwrap();
    // Words as the table wraps them, one space apart.
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(
            "4 digest(s) found, 4 verified with 1 trusted key(s); 5 log file(s) validated"
        ),
        "{text}"
    );
}

#[test]
fn one_byte_changed_in_a_log_file_is_a_hash_mismatch_naming_file_and_digest() {
    let c = chained(FIXTURE, 4, |_| {});
    let log = c.log_at("1005");
    let mut json = synth::inflate(&fs::read(&log).unwrap()).unwrap();
    let at = json
        .windows(13)
        .position(|w| w == b"\"userAgent\":\"")
        .unwrap()
        + 13;
    json[at] = if json[at] == b'a' { b'b' } else { b'a' };
    fs::write(&log, synth::gzip(&json)).unwrap();
    c.seal();
    let (report, code) = c.verify(&[]);
    assert_eq!((code, verdict(&report)), (4, "inconclusive"));
    assert_eq!(count(&report, "hash_mismatches"), 1);
    let m = &report["integrity"]["hash_mismatches"][0];
    assert!(
        m["file"]
            .as_str()
            .unwrap()
            .ends_with(log.file_name().unwrap().to_str().unwrap())
    );
    assert!(m["digest"].as_str().unwrap().contains("CloudTrail-Digest"));
    let findings = integrity_findings(&report);
    assert_eq!(statuses(&report), ["inconclusive"], "{findings:?}");
    assert!(findings[0].1.contains("hash mismatch") && findings[0].1.contains("CloudTrail-Digest"));
    let rule = report["jobs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule_id"] == "evidence-integrity")
        .unwrap();
    assert_eq!(rule["severity"], "high");
    // Off: nothing validated, the edit goes unseen (the bundle was re-sealed).
    let (report, code) = c.verify(&["--integrity", "off"]);
    assert_eq!((code, verdict(&report)), (0, "pass"));
    assert!(report.get("integrity").is_none());
}

#[test]
fn a_removed_log_file_is_listed_but_missing() {
    // The job's own file (10:05): listed but missing, inside its window.
    let c = chained(FIXTURE, 4, |_| {});
    let log = c.log_at("1005");
    fs::remove_file(&log).unwrap();
    c.seal();
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 4);
    assert_eq!(
        count(&report, "listed_but_missing"),
        1,
        "{:#}",
        report["integrity"]
    );
    let missing = &report["integrity"]["listed_but_missing"][0];
    let name = log.file_name().unwrap().to_str().unwrap();
    assert!(missing["file"].as_str().unwrap().ends_with(name));
    let findings = integrity_findings(&report);
    assert!(
        findings
            .iter()
            .any(|(s, m)| s == "inconclusive" && m.contains("but missing") && m.contains(name)),
        "{findings:?}"
    );
    // A file whose events (10:3x-10:4x, as its digest records) are outside the job's window
    // is reported, and leaves the job's verdict alone.
    let c = chained(FIXTURE, 4, |_| {});
    fs::remove_file(c.log_at("1045")).unwrap();
    c.seal();
    let (report, code) = c.verify(&[]);
    assert_eq!(count(&report, "listed_but_missing"), 1);
    assert_eq!(
        (code, verdict(&report)),
        (0, "pass"),
        "{:#}",
        report["jobs"][0]["findings"]
    );
}

#[test]
fn a_removed_digest_in_the_middle_is_a_chain_gap() {
    let c = chained(FIXTURE, 4, |_| {});
    c.remove_digest(1);
    c.seal();
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 4);
    let i = &report["integrity"];
    assert_eq!(count(&report, "chain_gaps"), 1, "{i:#}");
    assert_eq!(i["chain_gaps"][0]["cause"]["kind"], "missing-digest");
    // Its three log files are not covered by any digest now.
    assert_eq!(count(&report, "files_not_covered"), 3);
    assert_eq!(count(&report, "files_validated"), 2);
    let findings = integrity_findings(&report);
    assert!(
        findings
            .iter()
            .any(|(s, m)| s == "inconclusive" && m.contains("chain gap")),
        "{findings:?}"
    );
}

#[test]
fn a_digest_signed_by_another_key_is_an_unknown_key_or_a_bad_signature() {
    // Signed by the untrusted key, naming it: unknown key; its files are not validated and
    // the next digest's link to it is broken.
    let c = chained(FIXTURE, 4, |hours| hours[2].signer = 1);
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 4);
    assert_eq!(
        count(&report, "unknown_keys"),
        1,
        "{:#}",
        report["integrity"]
    );
    assert_eq!(count(&report, "files_not_covered"), 2);
    assert!(statuses(&report).iter().all(|s| s == "inconclusive"));
    // Signed by the untrusted key while naming the trusted one: bad signature.
    let c = chained(FIXTURE, 4, |hours| {
        hours[2].signer = 1;
        hours[2].claim_fingerprint_of = Some(0);
    });
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 4);
    assert_eq!(
        count(&report, "bad_signatures"),
        1,
        "{:#}",
        report["integrity"]
    );
    let findings = integrity_findings(&report);
    assert!(
        findings
            .iter()
            .any(|(s, m)| s == "inconclusive" && m.contains("signature does not verify")),
        "{findings:?}"
    );
}

#[test]
fn a_forged_previous_digest_hash_is_a_chain_gap() {
    let c = chained(FIXTURE, 4, |hours| hours[2].forge_previous_hash = true);
    let (report, code) = c.verify(&[]);
    assert_eq!(code, 4);
    let gaps = &report["integrity"]["chain_gaps"];
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps:#}");
    assert_eq!(gaps[0]["cause"]["kind"], "previous-hash-mismatch");
    assert!(statuses(&report).contains(&"inconclusive".to_owned()));
}

#[test]
fn a_backfill_chain_validates_what_the_hourly_chain_left_out() {
    // The 10:45 file is left out of the hourly digests: not covered, and under `require`
    // the job is INCONCLUSIVE.
    let late = std::cell::RefCell::new(Vec::new());
    let c = chained(FIXTURE, 4, |hours| {
        let at = hours[2]
            .logs
            .iter()
            .position(|l| l.key.contains("T1045Z"))
            .unwrap();
        late.borrow_mut().push(hours[2].logs.remove(at));
    });
    let (report, code) = c.verify(&["--integrity", "require"]);
    assert_eq!(code, 4);
    assert_eq!(count(&report, "files_not_covered"), 1);
    let findings = integrity_findings(&report);
    assert!(
        findings
            .iter()
            .any(|(s, m)| s == "inconclusive" && m.contains("--integrity require")),
        "{findings:?}"
    );
    // Under auto it is said, not held against the job.
    let (report, code) = c.verify(&[]);
    assert_eq!(
        (code, verdict(&report)),
        (0, "pass"),
        "{:#}",
        report["integrity"]
    );
    // A backfill chain delivered later lists it: everything validates.
    let [a, b] = chain::signers();
    let backfill = [
        Hour {
            logs: late.into_inner(),
            ..Hour::default()
        },
        Hour::default(),
    ];
    let written = synth::write_chain(
        &c.bundle.join("cloudtrail"),
        &chain::trail(),
        chain::first_start() + Duration::hours(5),
        &backfill,
        &[a, b],
        true,
    )
    .unwrap();
    assert!(written[0].key.ends_with("_backfill.json.gz"));
    c.seal();
    let (report, code) = c.verify(&["--integrity", "require"]);
    assert_eq!(
        (code, verdict(&report)),
        (0, "pass"),
        "{:#}",
        report["integrity"]
    );
    assert_eq!(count(&report, "files_validated"), 5);
    assert_eq!(report["integrity"]["digests_verified"], 6);
}

#[test]
fn an_empty_hour_has_a_digest_and_losing_it_is_a_gap_only_where_it_is() {
    // Five hours, 08-13: 11-12 and 12-13 are empty hours with digests of their own.
    let c = chained(FIXTURE, 5, |hours| {
        assert!(hours[3].logs.is_empty() && hours[4].logs.is_empty());
    });
    let (report, _) = c.verify(&[]);
    assert_eq!(report["integrity"]["digests_verified"], 5);
    assert_eq!(count(&report, "chain_gaps"), 0);
    // The 11-12 digest removed: a gap from 11:00 to 12:00, away from the job's window
    // (10:00-10:05): the job keeps its PASS, also under `require`.
    c.remove_digest(3);
    c.seal();
    let (report, code) = c.verify(&["--integrity", "require"]);
    let gaps = &report["integrity"]["chain_gaps"];
    assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps:#}");
    assert_eq!(gaps[0]["from"], "2026-11-20T11:00:00Z");
    assert_eq!(gaps[0]["until"], "2026-11-20T12:00:00Z");
    assert_eq!(
        (code, verdict(&report)),
        (0, "pass"),
        "{:#}",
        report["jobs"][0]["findings"]
    );
}

#[test]
fn without_digests_auto_keeps_the_verdict_and_require_does_not() {
    let (_tmp, bundle) = fixture::copy_fixture(FIXTURE);
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_textract-audit"))
            .args(["verify", "--format", "json", "--evidence"])
            .arg(&bundle)
            .args(extra)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (report, out.status.code().unwrap())
    };
    let (report, code) = run(&[]);
    assert_eq!((code, verdict(&report)), (0, "pass"));
    // Not a PASS of the rule: n/a (not listed), and the run says nothing was validated.
    assert!(integrity_findings(&report).is_empty());
    assert_eq!(count(&report, "files_not_covered"), 5);
    assert_eq!(report["integrity"]["digests_found"], 0);
    let (report, code) = run(&["--integrity", "require"]);
    assert_eq!((code, verdict(&report)), (4, "inconclusive"));
    let findings = integrity_findings(&report);
    assert!(
        findings[0].1.starts_with("no digests, not validated"),
        "{findings:?}"
    );
}

#[test]
fn a_trail_dir_with_digests_is_validated_like_a_bundle() {
    // The chain's files as a downloaded trail: digests under CloudTrail-Digest, sidecars.
    let c = chained(FIXTURE, 4, |_| {});
    let (report, _) = c.verify(&["--trail-dir", c.bundle.join("cloudtrail").to_str().unwrap()]);
    // Each file and digest is read twice (bundle and trail dir are one folder): counted once.
    assert_eq!(
        count(&report, "files_validated"),
        5,
        "{:#}",
        report["integrity"]
    );
    assert_eq!(report["integrity"]["digests_verified"], 4);
    let log = c.log_at("1005");
    let mut json = synth::inflate(&fs::read(&log).unwrap()).unwrap();
    let last = json.len() - 2;
    json[last] = if json[last] == b' ' { b'\n' } else { b' ' };
    let copy = tempfile::tempdir().unwrap();
    fixture::copy_dir(&c.bundle.join("cloudtrail"), copy.path());
    let in_copy = copy
        .path()
        .join(log.strip_prefix(c.bundle.join("cloudtrail")).unwrap());
    fs::write(&in_copy, synth::gzip(&json)).unwrap();
    let (report, code) = c.verify(&["--trail-dir", copy.path().to_str().unwrap()]);
    assert_eq!(code, 4);
    assert_eq!(
        count(&report, "hash_mismatches"),
        1,
        "{:#}",
        report["integrity"]
    );
    assert!(
        report["integrity"]["hash_mismatches"][0]["file"]
            .as_str()
            .unwrap()
            .starts_with(copy.path().to_str().unwrap())
    );
}

/// Issue 12, speed: a file that a digest verified with the keys known before the scan lists
/// has its whole-file check left to its hash. A broken file there is then not a parse
/// problem but a hash mismatch, and the job is INCONCLUSIVE all the same.
#[test]
fn a_broken_file_a_verified_digest_lists_is_a_hash_mismatch() {
    let c = chained(FIXTURE, 4, |_| {});
    let log = c.log_at("1005");
    let copy = tempfile::tempdir().unwrap();
    fixture::copy_dir(&c.bundle.join("cloudtrail"), copy.path());
    let in_copy = copy
        .path()
        .join(log.strip_prefix(c.bundle.join("cloudtrail")).unwrap());
    // Cut off, and with none of the job's records left for the prefilter to find.
    fs::write(&in_copy, synth::gzip(br#"{"Records":[{"eventID":"x"},"#)).unwrap();
    let (report, code) = c.verify(&["--trail-dir", copy.path().to_str().unwrap()]);
    assert_eq!((code, verdict(&report)), (4, "inconclusive"), "{report:#}");
    let mismatches = report["integrity"]["hash_mismatches"].to_string();
    assert!(
        mismatches.contains(in_copy.file_name().unwrap().to_str().unwrap()),
        "{mismatches}"
    );
    assert_eq!(statuses(&report), ["inconclusive"]);
    // The scanner did not read it as broken: its digest stood in for that check.
    assert_eq!(
        report["evidence"]["skipped"],
        serde_json::json!([]),
        "{report:#}"
    );
}
