//! Digest chains generated over a fixture's real log files (row4-sse-kms: log files
//! delivered at 09:15, 09:30, 09:45, 10:05 and 10:45 on 2026-11-20), then bent: each
//! case gives its named result.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::synth::{self, Hour, Signer, SynthTrail, WrittenDigest};
use super::*;

const FIXTURE: &str = "fixtures/row4-sse-kms/cloudtrail";

/// Key generation costs ~100 ms per key: two per test process.
fn signers() -> &'static [Signer; 2] {
    static SIGNERS: OnceLock<[Signer; 2]> = OnceLock::new();
    SIGNERS.get_or_init(|| [Signer::generate(), Signer::generate()])
}

fn trail() -> SynthTrail {
    SynthTrail {
        bucket: "lab-trail".into(),
        prefix: None,
        org_id: None,
        account: "111122223333".into(),
        region: "us-east-1".into(),
        name: "audit_trail".into(),
        home_region: "us-east-1".into(),
    }
}

/// 08:00-12:00: 08 and 11 are empty hours, 09 has three log files, 10 two.
fn first_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()
}

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    keys_file: PathBuf,
    digests: Vec<WrittenDigest>,
}

impl Lab {
    /// Copies the fixture's log files, then writes a chain shaped by `bend` over them and
    /// a keys file trusting signer 0 only.
    fn new(bend: impl FnOnce(&mut Vec<Hour>)) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bucket");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &root);
        let logs = synth::logs_in_dir(&root, None).unwrap();
        let mut hours = synth::by_delivery_hour(&logs, first_start(), 4);
        bend(&mut hours);
        let [a, b] = signers();
        let digests =
            synth::write_chain(&root, &trail(), first_start(), &hours, &[a, b], false).unwrap();
        let keys_file = dir.path().join("keys.json");
        synth::write_public_keys(
            &keys_file,
            &[a],
            first_start() - Duration::days(1),
            first_start() + Duration::days(30),
        )
        .unwrap();
        Lab {
            _dir: dir,
            root,
            keys_file,
            digests,
        }
    }

    fn keys(&self) -> KeyRing {
        let bytes = std::fs::read(&self.keys_file).unwrap();
        KeyRing::build(parse_list_public_keys(&bytes, "keys.json").unwrap())
    }

    fn validation(&self) -> Validation {
        let sources = synth::files_in(&self.root, locate::Tree::Digests)
            .unwrap()
            .iter()
            .map(|p| DigestSource::read_local(p).unwrap())
            .collect();
        validate(sources, &self.keys())
    }

    fn logs(&self) -> Vec<PathBuf> {
        synth::files_in(&self.root, locate::Tree::Logs).unwrap()
    }

    /// What a run that reads every log file present reports.
    fn run(&self) -> (Validation, IntegrityReport) {
        let v = self.validation();
        let checked: Vec<(ObjectId, LogVerdict)> = self
            .logs()
            .into_iter()
            .map(|p| {
                let inflated = synth::inflate(&std::fs::read(&p).unwrap()).unwrap();
                let id = ObjectId::Local(p);
                let verdict = v.check_log(&id, Some(&sha256(&inflated)));
                (id, verdict)
            })
            .collect();
        let report = v.report(&checked, |l| match l.local_path() {
            Some(p) if p.exists() => Presence::Present,
            Some(_) => Presence::Missing,
            None => Presence::NotLookedFor,
        });
        (v, report)
    }

    fn log_at(&self, time: &str) -> PathBuf {
        self.logs()
            .into_iter()
            .find(|p| p.to_string_lossy().contains(&format!("_20261120T{time}Z_")))
            .unwrap()
    }
}

/// Changes one hex digit of a digest's `previousDigestHashValue`, leaving its signature.
fn edit_previous_hash(path: &Path) {
    let json = String::from_utf8(synth::inflate(&std::fs::read(path).unwrap()).unwrap()).unwrap();
    let at = json.find("\"previousDigestHashValue\":\"").unwrap() + 27;
    let flipped = if &json[at..at + 1] == "0" { "1" } else { "0" };
    let edited = format!("{}{flipped}{}", &json[..at], &json[at + 1..]);
    std::fs::write(path, synth::gzip(edited.as_bytes())).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn names(items: &[impl AsRef<str>]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.as_ref().rsplit('/').next().unwrap().to_owned())
        .collect()
}

fn validated(report: &IntegrityReport) -> Vec<String> {
    names(
        &report
            .files_validated
            .iter()
            .map(|f| f.file.clone())
            .collect::<Vec<_>>(),
    )
}

#[test]
fn a_valid_chain_validates_every_log_file() {
    let lab = Lab::new(|_| {});
    let (v, report) = lab.run();
    assert_eq!(report.digests_found, 4);
    assert_eq!(report.digests_verified, 4);
    assert_eq!(report.files_validated.len(), 5, "{report:#?}");
    assert!(report.files_not_covered.is_empty() && report.hash_mismatches.is_empty());
    assert!(report.listed_but_missing.is_empty() && report.chain_gaps.is_empty());
    assert!(report.bad_signatures.is_empty() && report.unknown_keys.is_empty());
    assert!(
        report.unusable_digests.is_empty() && report.notes.is_empty(),
        "{report:#?}"
    );
    assert_eq!(report.covered.len(), 1);
    assert_eq!(report.covered[0].from, first_start());
    assert_eq!(report.covered[0].until, first_start() + Duration::hours(4));
    assert_eq!(report.covered[0].digests, 4);
    // The empty hours have digests too, with no log files.
    let empty = v
        .digests
        .iter()
        .filter(|d| d.file.as_ref().unwrap().log_files.is_empty())
        .count();
    assert_eq!(empty, 2);
}

#[test]
fn offline_only_the_newest_digest_needs_its_sidecar() {
    let lab = Lab::new(|_| {});
    for d in &lab.digests[..3] {
        std::fs::remove_file(sidecar_path(&d.path)).unwrap();
    }
    let (v, report) = lab.run();
    assert_eq!(report.digests_verified, 4);
    assert_eq!(report.files_validated.len(), 5);
    let via: Vec<_> = v
        .digests
        .iter()
        .map(|d| d.outcome.clone().unwrap())
        .collect();
    assert!(matches!(via[0], SignatureVia::NextDigest { .. }));
    assert_eq!(via[3], SignatureVia::Metadata);
    // Without the newest sidecar, the newest digest has no signature anywhere; the older
    // ones are still proven by the signatures it records.
    std::fs::remove_file(sidecar_path(&lab.digests[3].path)).unwrap();
    let (_, report) = lab.run();
    assert_eq!(report.digests_verified, 3);
    assert!(matches!(
        report.unusable_digests[0].fault,
        Some(DigestFault::NoSignature)
    ));
    assert_eq!(report.files_validated.len(), 5);
}

#[test]
fn one_byte_changed_in_a_log_file_is_a_hash_mismatch() {
    let lab = Lab::new(|_| {});
    let victim = lab.log_at("0930");
    let mut inflated = synth::inflate(&std::fs::read(&victim).unwrap()).unwrap();
    let at = inflated.iter().position(|&b| b == b'"').unwrap();
    inflated[at + 1] ^= 0x20;
    std::fs::write(&victim, synth::gzip(&inflated)).unwrap();
    let (_, report) = lab.run();
    assert_eq!(report.hash_mismatches.len(), 1);
    assert_eq!(report.hash_mismatches[0].file, victim.display().to_string());
    assert!(
        report.hash_mismatches[0]
            .digest
            .ends_with("_20261120T100000Z.json.gz")
    );
    assert_eq!(report.files_validated.len(), 4);
}

#[test]
fn a_removed_log_file_is_listed_but_missing() {
    let lab = Lab::new(|_| {});
    let victim = lab.log_at("1005");
    std::fs::remove_file(&victim).unwrap();
    let (_, report) = lab.run();
    assert_eq!(report.listed_but_missing.len(), 1, "{report:#?}");
    let missing = &report.listed_but_missing[0];
    assert!(
        missing
            .file
            .ends_with(victim.file_name().unwrap().to_str().unwrap())
    );
    assert!(missing.digest.ends_with("_20261120T110000Z.json.gz"));
    assert!(missing.oldest_event.is_some() && missing.newest_event.is_some());
    assert_eq!(report.files_validated.len(), 4);
    assert!(report.chain_gaps.is_empty());
}

#[test]
fn a_removed_digest_in_the_middle_is_a_gap_and_its_files_are_not_covered() {
    let lab = Lab::new(|_| {});
    std::fs::remove_file(&lab.digests[1].path).unwrap();
    let (_, report) = lab.run();
    assert_eq!(report.chain_gaps.len(), 1, "{report:#?}");
    let gap = &report.chain_gaps[0];
    assert_eq!(
        gap.cause,
        GapCause::MissingDigest {
            object: lab.digests[1].key.clone()
        }
    );
    assert_eq!(gap.from, Some(first_start() + Duration::hours(1)));
    assert_eq!(gap.until, first_start() + Duration::hours(2));
    // The three 09:xx files were listed only in the removed digest.
    assert_eq!(report.files_not_covered.len(), 3);
    assert!(
        report
            .files_not_covered
            .iter()
            .all(|f| f.reason == "not listed in any digest")
    );
    assert_eq!(validated(&report).len(), 2);
    assert_eq!(report.covered.len(), 2);
}

#[test]
fn a_digest_signed_by_a_key_not_trusted_is_an_unknown_key() {
    let lab = Lab::new(|hours| hours[2].signer = 1);
    let (_, report) = lab.run();
    assert_eq!(report.unknown_keys.len(), 1);
    assert_eq!(
        report.unknown_keys[0].fault,
        Some(DigestFault::UnknownKey {
            fingerprint: signers()[1].fingerprint.clone()
        })
    );
    // Its files are not covered, and the chain breaks around it.
    assert_eq!(report.files_not_covered.len(), 2);
    assert!(matches!(
        report.chain_gaps[0].cause,
        GapCause::UnusableDigest { .. }
    ));
}

#[test]
fn a_digest_signed_by_another_key_under_the_trusted_fingerprint_is_a_bad_signature() {
    let lab = Lab::new(|hours| {
        hours[2].signer = 1;
        hours[2].claim_fingerprint_of = Some(0);
    });
    let (_, report) = lab.run();
    assert_eq!(report.bad_signatures.len(), 1, "{report:#?}");
    assert!(
        report.bad_signatures[0]
            .digest
            .ends_with("_20261120T110000Z.json.gz")
    );
    assert_eq!(report.files_validated.len(), 3);
}

#[test]
fn a_forged_previous_digest_hash_breaks_the_link() {
    // Signed with the trusted key, so only the link check can catch it.
    let lab = Lab::new(|hours| hours[2].forge_previous_hash = true);
    let (_, report) = lab.run();
    assert_eq!(report.digests_verified, 4);
    assert_eq!(report.chain_gaps.len(), 1);
    assert_eq!(
        report.chain_gaps[0].cause,
        GapCause::PreviousHashMismatch {
            object: lab.digests[1].key.clone()
        }
    );
    assert_eq!(report.covered.len(), 2);
}

#[test]
fn a_previous_digest_hash_edited_after_signing_is_a_bad_signature() {
    let lab = Lab::new(|_| {});
    edit_previous_hash(&lab.digests[2].path);
    let (_, report) = lab.run();
    assert_eq!(report.bad_signatures.len(), 1);
    assert!(
        report.bad_signatures[0]
            .digest
            .ends_with("_20261120T110000Z.json.gz")
    );
    // The digest before it is still proven by its own sidecar.
    assert_eq!(report.digests_verified, 3);
}

#[test]
fn an_empty_hour_is_covered_and_removing_it_is_a_gap() {
    let lab = Lab::new(|_| {});
    let (v, _) = lab.run();
    let empty = &v.digests[3];
    assert!(empty.verified() && empty.file.as_ref().unwrap().log_files.is_empty());
    assert_eq!(empty.file.as_ref().unwrap().newest_event, None);
    // Hour 08:00-09:00 had no activity; without its digest, 09:00's names a missing one,
    // but it is the oldest digest left, so the chain simply starts later: no gap.
    std::fs::remove_file(&lab.digests[0].path).unwrap();
    let (_, report) = lab.run();
    assert!(report.chain_gaps.is_empty());
    assert_eq!(report.covered[0].from, first_start() + Duration::hours(1));
    // Removing an empty hour between two others is a gap like any other.
    let lab = Lab::new(|hours| hours.push(Hour::default()));
    std::fs::remove_file(&lab.digests[3].path).unwrap();
    let (_, report) = lab.run();
    assert!(matches!(
        report.chain_gaps[0].cause,
        GapCause::MissingDigest { .. }
    ));
    assert_eq!(report.files_validated.len(), 5);
}

#[test]
fn a_restarted_chain_is_a_gap() {
    let lab = Lab::new(|hours| hours[2].restart = true);
    let (_, report) = lab.run();
    assert_eq!(report.chain_gaps.len(), 1);
    assert_eq!(report.chain_gaps[0].cause, GapCause::ChainRestarted);
    assert_eq!(report.files_validated.len(), 5);
}

#[test]
fn a_backfill_chain_covers_what_the_hourly_digests_left_out() {
    // The 10:45 file is left out of the hourly digest and delivered in two backfill digests.
    let late = std::cell::RefCell::new(Vec::new());
    let lab = Lab::new(|hours| {
        let at = hours[2]
            .logs
            .iter()
            .position(|l| l.key.contains("T1045Z"))
            .unwrap();
        late.borrow_mut().push(hours[2].logs.remove(at));
    });
    let (_, report) = lab.run();
    assert_eq!(report.files_not_covered.len(), 1);
    let backfill = vec![
        Hour {
            logs: late.into_inner(),
            ..Hour::default()
        },
        Hour::default(),
    ];
    let [a, b] = signers();
    let written = synth::write_chain(
        &lab.root,
        &trail(),
        first_start() + Duration::hours(5),
        &backfill,
        &[a, b],
        true,
    )
    .unwrap();
    assert!(written[0].key.ends_with("_backfill.json.gz"));
    let (_, report) = lab.run();
    assert_eq!(report.digests_verified, 6, "{report:#?}");
    assert_eq!(report.files_validated.len(), 5);
    assert!(report.chain_gaps.is_empty());
    // The backfill chain is its own: losing its first digest breaks it, not the hourly one.
    std::fs::remove_file(sidecar_path(&written[0].path)).unwrap();
    std::fs::remove_file(&written[0].path).unwrap();
    let (_, report) = lab.run();
    assert_eq!(report.files_not_covered.len(), 1);
    assert!(
        report.chain_gaps.is_empty(),
        "oldest digest left: the chain starts later"
    );
    assert_eq!(report.covered.len(), 1);
}

#[test]
fn a_moved_digest_is_not_used() {
    let lab = Lab::new(|_| {});
    let from = &lab.digests[2].path;
    let to = lab
        .root
        .join("elsewhere/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/21")
        .join(from.file_name().unwrap());
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::rename(from, &to).unwrap();
    std::fs::rename(sidecar_path(from), sidecar_path(&to)).unwrap();
    let (_, report) = lab.run();
    assert!(matches!(
        report.unusable_digests[0].fault,
        Some(DigestFault::Moved { .. })
    ));
    assert_eq!(report.files_not_covered.len(), 2);
}

#[test]
fn s3_objects_match_only_their_exact_bucket_and_key() {
    let lab = Lab::new(|_| {});
    let v = lab.validation();
    let path = lab.log_at("0915");
    let sha = sha256(&synth::inflate(&std::fs::read(&path).unwrap()).unwrap());
    let key = ObjectId::Local(path).delivery_key().unwrap();
    let s3 = |bucket: &str, key: &str| ObjectId::S3 {
        bucket: bucket.into(),
        key: key.into(),
    };
    assert!(matches!(
        v.check_log(&s3("lab-trail", &key), Some(&sha)),
        LogVerdict::Validated { .. }
    ));
    assert_eq!(
        v.check_log(&s3("other-bucket", &key), Some(&sha)),
        LogVerdict::NotCovered
    );
    assert_eq!(
        v.check_log(&s3("lab-trail", &format!("p/{key}")), Some(&sha)),
        LogVerdict::NotCovered
    );
    assert!(matches!(
        v.check_log(&s3("lab-trail", &key), Some(&[0; 32])),
        LogVerdict::HashMismatch { .. }
    ));
    // Listed but not hashed (found after it was read): not validated, never a pass.
    assert!(matches!(
        v.check_log(&s3("lab-trail", &key), None),
        LogVerdict::NotHashed { .. }
    ));
    // Not listed: not covered, hashed or not.
    assert_eq!(
        v.check_log(&s3("other-bucket", &key), None),
        LogVerdict::NotCovered
    );
}

#[test]
fn conflicting_copies_of_a_digest_are_both_refused() {
    let lab = Lab::new(|_| {});
    let v = lab.validation();
    let mut sources: Vec<DigestSource> = lab
        .digests
        .iter()
        .map(|d| DigestSource::read_local(&d.path).unwrap())
        .collect();
    // A second copy of digest 1 (from another folder holding the same tree) with other bytes.
    let mut other = DigestSource::read_local(&lab.digests[1].path).unwrap();
    let json = synth::inflate(&other.gz).unwrap();
    other.gz = synth::gzip(&[json.as_slice(), b" "].concat());
    other.id = ObjectId::Local(
        Path::new("/copy").join(
            ObjectId::Local(lab.digests[1].path.clone())
                .delivery_key()
                .unwrap(),
        ),
    );
    sources.push(other);
    let v2 = validate(sources, &lab.keys());
    let faults: Vec<_> = v2
        .digests
        .iter()
        .filter(|d| matches!(d.outcome, Err(DigestFault::ConflictingCopies { .. })))
        .collect();
    assert_eq!(faults.len(), 2);
    assert_eq!(v.digests.iter().filter(|d| d.verified()).count(), 4);
}

/// What `aws cloudtrail validate-logs` counts, from ours or from the AWS CLI.
#[derive(Debug, PartialEq, Eq)]
struct CliCounts {
    valid_digests: usize,
    invalid_digests: usize,
    valid_backfill_digests: usize,
    valid_logs: usize,
    invalid_logs: usize,
}

impl CliCounts {
    /// Our report in the CLI's terms: a digest the CLI cannot validate or cannot find is
    /// "invalid"; a log file whose hash differs or that is missing is "invalid".
    fn ours(v: &Validation, report: &IntegrityReport) -> CliCounts {
        let backfill = |d: &DigestRecord| d.file.as_ref().is_some_and(|f| f.is_backfill());
        let missing = report
            .chain_gaps
            .iter()
            .filter(|g| matches!(g.cause, GapCause::MissingDigest { .. }))
            .count();
        CliCounts {
            valid_digests: v
                .digests
                .iter()
                .filter(|d| d.verified() && !backfill(d))
                .count(),
            invalid_digests: v.digests.iter().filter(|d| !d.verified()).count() + missing,
            valid_backfill_digests: v
                .digests
                .iter()
                .filter(|d| d.verified() && backfill(d))
                .count(),
            valid_logs: report.files_validated.len(),
            invalid_logs: report.hash_mismatches.len() + report.listed_but_missing.len(),
        }
    }

    fn aws_cli(python: &str, lab: &Lab) -> (CliCounts, serde_json::Value) {
        let t = trail();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integrity/awscli_validate.py");
        let out = std::process::Command::new(python)
            .arg(script)
            .arg(&lab.root)
            .arg(&t.bucket)
            .arg(&lab.keys_file)
            .arg(format!(
                "arn:aws:cloudtrail:{}:{}:trail/{}",
                t.home_region, t.account, t.name
            ))
            .arg(&t.region)
            .arg(crate::model::rfc3339(first_start()))
            .arg(crate::model::rfc3339(first_start() + Duration::hours(8)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let n = |k: &str| v[k].as_u64().unwrap() as usize;
        let counts = CliCounts {
            valid_digests: n("valid_digests"),
            invalid_digests: n("invalid_digests") + n("invalid_backfill_digests"),
            valid_backfill_digests: n("valid_backfill_digests"),
            valid_logs: n("valid_logs"),
            invalid_logs: n("invalid_logs"),
        };
        (counts, v)
    }
}

#[test]
#[ignore = "cross-check with the AWS CLI's validator: needs TEXTRACT_AUDIT_AWSCLI_PYTHON (docs/integrity.md); .ci/run runs it"]
fn the_aws_cli_validator_agrees_case_by_case() {
    let python = std::env::var("TEXTRACT_AUDIT_AWSCLI_PYTHON").expect(
        "TEXTRACT_AUDIT_AWSCLI_PYTHON: a Python with tests/integrity/requirements-awscli.txt",
    );
    type Case = (&'static str, fn(&mut Vec<Hour>), fn(&Lab));
    let cases: [Case; 9] = [
        ("valid chain with empty hours", |_| {}, |_| {}),
        (
            "one byte changed in a log file",
            |_| {},
            |lab| {
                let victim = lab.log_at("0930");
                let mut inflated = synth::inflate(&std::fs::read(&victim).unwrap()).unwrap();
                inflated[2] ^= 0x20;
                std::fs::write(&victim, synth::gzip(&inflated)).unwrap();
            },
        ),
        (
            "a removed log file",
            |_| {},
            |lab| std::fs::remove_file(lab.log_at("1005")).unwrap(),
        ),
        (
            "a removed digest in the middle",
            |_| {},
            |lab| {
                std::fs::remove_file(&lab.digests[1].path).unwrap();
                std::fs::remove_file(sidecar_path(&lab.digests[1].path)).unwrap();
            },
        ),
        (
            "a digest signed by a key not trusted",
            |h| h[2].signer = 1,
            |_| {},
        ),
        (
            "a digest signed by another key under the trusted fingerprint",
            |h| {
                h[2].signer = 1;
                h[2].claim_fingerprint_of = Some(0);
            },
            |_| {},
        ),
        (
            "previousDigestHashValue edited after signing",
            |_| {},
            |lab| edit_previous_hash(&lab.digests[2].path),
        ),
        (
            "a backfill chain",
            |h| {
                h[2].logs.retain(|l| !l.key.contains("T1045Z"));
            },
            |lab| {
                let logs = synth::logs_in_dir(&lab.root, None).unwrap();
                let late: Vec<_> = logs
                    .into_iter()
                    .filter(|l| l.key.contains("T1045Z"))
                    .collect();
                let [a, b] = signers();
                let hours = [
                    Hour {
                        logs: late,
                        ..Hour::default()
                    },
                    Hour::default(),
                ];
                synth::write_chain(
                    &lab.root,
                    &trail(),
                    first_start() + Duration::hours(5),
                    &hours,
                    &[a, b],
                    true,
                )
                .unwrap();
            },
        ),
        (
            "a forged previousDigestHashValue, signed",
            |h| h[2].forge_previous_hash = true,
            |_| {},
        ),
    ];
    for (name, bend, tamper) in cases {
        let lab = Lab::new(bend);
        tamper(&lab);
        let (v, report) = lab.run();
        let ours = CliCounts::ours(&v, &report);
        let (cli, raw) = CliCounts::aws_cli(&python, &lab);
        assert_eq!(ours, cli, "{name}: ours {ours:?}, AWS CLI {raw}");
        if name.starts_with("a forged") {
            // The AWS CLI checks each digest's own signature but never compares
            // previousDigestHashValue with the previous digest: only we see the broken link.
            assert_eq!(cli.invalid_digests, 0, "{name}: {raw}");
            assert!(
                matches!(
                    report.chain_gaps[..],
                    [ChainGap {
                        cause: GapCause::PreviousHashMismatch { .. },
                        ..
                    }]
                ),
                "{name}"
            );
        } else {
            assert!(
                report.chain_gaps.iter().all(|g| matches!(
                    g.cause,
                    GapCause::MissingDigest { .. } | GapCause::UnusableDigest { .. }
                )),
                "{name}: {:?}",
                report.chain_gaps
            );
        }
    }
}

/// A source's keys and bucket listings join the run's inputs with its digests and log files
/// (a trail bucket's listing is what tells a log file its digest lists but the bucket lacks).
#[test]
fn inputs_from_several_sources_keep_their_keys_and_listings() {
    let part = run::Inputs {
        keys: vec![PublicKeyInput {
            fingerprint: "ab".into(),
            value: b"MIIB".to_vec(),
            validity_start: None,
            validity_end: None,
            origin: "live".into(),
        }],
        s3_listings: vec![run::S3Listing {
            bucket: "trail".into(),
            prefixes: vec!["AWSLogs/".into()],
            keys: ["AWSLogs/a.json.gz".to_owned()].into(),
        }],
        ..run::Inputs::default()
    };
    let mut all = run::Inputs::default();
    all.extend(&part);
    all.extend(&part);
    assert_eq!(all, part, "kept once");
}
