//! Signed evidence bundles through the CLI, offline (issue 12, docs/integrity.md "Signed
//! bundles"): key pairs made here stand in for KMS keys (src/integrity/synth.rs
//! `BundleKey`), sign a fixture bundle's manifest as `collect --sign-key` does, and
//! `verify --evidence … --trust-public-key FILE` accepts exactly the bundles that key signed.
//! `--trust-key` and `collect --sign-key` with the lab's KMS are in tests/lab.rs.

#[path = "fixture/chain.rs"]
mod chain;
mod fixture;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};
use serde_json::Value;
use textract_audit::integrity::signed_bundle::{Hash, SIGNATURE_FILE, SigningAlgorithm};
use textract_audit::integrity::synth::BundleKey;

const FIXTURE: &str = "row4-sse-kms";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/0f0e0d0c-test";

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_textract-audit"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

/// `verify --evidence BUNDLE --format json` and `extra`.
fn verify(bundle: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "verify".as_ref(),
        "--evidence".as_ref(),
        bundle.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ];
    args.extend(extra);
    run(&args)
}

fn trusting(key_file: &Path) -> [&std::ffi::OsStr; 2] {
    ["--trust-public-key".as_ref(), key_file.as_os_str()]
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the fixture signed by `key`, and `key`'s public key written (outside the
/// bundle) as PEM and as DER.
struct Signed {
    _tmp: tempfile::TempDir,
    bundle: PathBuf,
    pem: PathBuf,
    der: PathBuf,
}

fn signed(key: &BundleKey, alg: SigningAlgorithm) -> Signed {
    let (tmp, bundle) = fixture::copy_fixture(FIXTURE);
    key.sign_bundle(&bundle, KEY_ARN, alg).unwrap();
    let pem = tmp.path().join("trusted.pem");
    let der = tmp.path().join("trusted.der");
    fs::write(&pem, key.public_pem()).unwrap();
    fs::write(&der, key.public_der()).unwrap();
    Signed {
        _tmp: tmp,
        bundle,
        pem,
        der,
    }
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: exit {:?}: {}", out.status.code(), stderr(out)))
}

/// Refused: exit 1, one line naming the bundle and why, no report.
fn assert_refused(out: &Output, bundle: &Path, why: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "no report for a refused bundle");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "evidence bundle {} refused, not verified",
            bundle.display()
        )),
        "{err}"
    );
    assert!(err.contains(why), "{why:?} in {err}");
}

#[test]
fn a_bundle_signed_by_the_trusted_key_verifies_as_it_would_unsigned() {
    let unsigned = {
        let (_tmp, bundle) = fixture::copy_fixture(FIXTURE);
        let out = verify(&bundle, &[]);
        (out.status.code(), report(&out)["jobs"].clone())
    };
    for (key, alg) in [
        (BundleKey::rsa(), SigningAlgorithm::RsaPkcs1(Hash::Sha256)),
        (BundleKey::rsa(), SigningAlgorithm::RsaPss(Hash::Sha256)),
        (
            BundleKey::ec(&ECDSA_P256_SHA256_ASN1_SIGNING),
            SigningAlgorithm::Ecdsa(Hash::Sha256),
        ),
        (
            BundleKey::ec(&ECDSA_P384_SHA384_ASN1_SIGNING),
            SigningAlgorithm::Ecdsa(Hash::Sha384),
        ),
    ] {
        let s = signed(&key, alg);
        for file in [&s.pem, &s.der] {
            let out = verify(&s.bundle, &trusting(file));
            let r = report(&out);
            assert_eq!(
                (out.status.code(), r["jobs"].clone()),
                unsigned,
                "{alg:?} {file:?}"
            );
            let sources = r["evidence"]["sources"].to_string();
            assert!(
                sources.contains(&format!(
                    "bundle signature verified: {KEY_ARN} with {}",
                    alg.kms_name()
                )),
                "{sources}"
            );
        }
    }
}

#[test]
fn an_edited_and_resealed_manifest_is_refused() {
    let key = BundleKey::rsa();
    let s = signed(&key, SigningAlgorithm::RsaPkcs1(Hash::Sha256));
    let sig = fs::read(s.bundle.join(SIGNATURE_FILE)).unwrap();
    // Someone removes a trail log file and re-seals: `bundle seal` drops the signature...
    let log = fixture_log(&s.bundle);
    fs::remove_file(&log).unwrap();
    let out = run(&["bundle".as_ref(), "seal".as_ref(), s.bundle.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "removed {}",
            s.bundle.join(SIGNATURE_FILE).display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!s.bundle.join(SIGNATURE_FILE).exists());
    assert_refused(
        &verify(&s.bundle, &trusting(&s.pem)),
        &s.bundle,
        "no manifest.sig.json",
    );
    // ...and putting the old signature back does not help: it signed the old manifest.
    fs::write(s.bundle.join(SIGNATURE_FILE), &sig).unwrap();
    assert_refused(
        &verify(&s.bundle, &trusting(&s.pem)),
        &s.bundle,
        "but manifest.json has",
    );
    // Nor does editing the signature file to name the new manifest's hash.
    let mut edited: Value = serde_json::from_slice(&sig).unwrap();
    let manifest = fs::read(s.bundle.join("manifest.json")).unwrap();
    edited["manifest_sha256"] = hex::encode(textract_audit::integrity::sha256(&manifest)).into();
    fs::write(s.bundle.join(SIGNATURE_FILE), edited.to_string()).unwrap();
    assert_refused(
        &verify(&s.bundle, &trusting(&s.pem)),
        &s.bundle,
        "signature does not verify with the trusted key",
    );
}

/// One of the bundle's trail log files.
fn fixture_log(bundle: &Path) -> PathBuf {
    let manifest: Value =
        serde_json::from_slice(&fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let rel = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("cloudtrail/") && k.ends_with(".json.gz"))
        .expect("the fixture has trail log files")
        .clone();
    bundle.join(rel)
}

#[test]
fn a_bundle_signed_by_another_key_is_refused() {
    let s = signed(&BundleKey::rsa(), SigningAlgorithm::RsaPkcs1(Hash::Sha256));
    // The signer's own public key, copied into the bundle, proves nothing: only the key the
    // trust flag names counts.
    fs::copy(&s.pem, s.bundle.join("signer.pem")).unwrap();
    // The trusted key is another RSA key, then an EC key.
    for (other, why) in [
        (
            BundleKey::rsa(),
            "signature does not verify with the trusted key",
        ),
        (
            BundleKey::ec(&ECDSA_P256_SHA256_ASN1_SIGNING),
            "does not fit the trusted",
        ),
    ] {
        fs::write(&s.pem, other.public_pem()).unwrap();
        assert_refused(&verify(&s.bundle, &trusting(&s.pem)), &s.bundle, why);
    }
}

#[test]
fn an_unsigned_bundle_is_refused_when_a_trust_flag_is_given_and_read_without_one() {
    let (tmp, bundle) = fixture::copy_fixture(FIXTURE);
    let pem = tmp.path().join("trusted.pem");
    fs::write(&pem, BundleKey::rsa().public_pem()).unwrap();
    assert_refused(
        &verify(&bundle, &trusting(&pem)),
        &bundle,
        "no manifest.sig.json: the bundle is unsigned",
    );
    // An unreadable signature file is refused too.
    fs::write(bundle.join(SIGNATURE_FILE), "{\"schema\": 1}").unwrap();
    assert_refused(
        &verify(&bundle, &trusting(&pem)),
        &bundle,
        "signature file:",
    );
    // Without a trust flag a signed bundle is read, and the report says the signature was
    // not checked.
    let key = BundleKey::rsa();
    fs::remove_file(bundle.join(SIGNATURE_FILE)).unwrap();
    key.sign_bundle(&bundle, KEY_ARN, SigningAlgorithm::RsaPkcs1(Hash::Sha256))
        .unwrap();
    let r = report(&verify(&bundle, &[]));
    assert!(
        r["evidence"]["sources"]
            .to_string()
            .contains("not checked (no --trust-key or --trust-public-key)"),
        "{}",
        r["evidence"]
    );
}

#[test]
fn trust_flags_need_a_bundle_a_usable_key_and_a_key_arn() {
    let (tmp, bundle) = fixture::copy_fixture(FIXTURE);
    let pem = tmp.path().join("trusted.pem");
    fs::write(&pem, BundleKey::rsa().public_pem()).unwrap();
    let not_a_key = tmp.path().join("not-a-key.pem");
    fs::write(
        &not_a_key,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                "verify".as_ref(),
                "--offline".as_ref(),
                "--trust-public-key".as_ref(),
                pem.as_os_str(),
            ],
            "--evidence",
        ),
        (
            vec![
                "verify".as_ref(),
                "--evidence".as_ref(),
                bundle.as_os_str(),
                "--trust-public-key".as_ref(),
                not_a_key.as_os_str(),
            ],
            "not a PUBLIC KEY",
        ),
        (
            vec![
                "verify".as_ref(),
                "--evidence".as_ref(),
                bundle.as_os_str(),
                "--trust-key".as_ref(),
                "alias/bundles".as_ref(),
            ],
            "an alias or key id is no trust anchor",
        ),
        (
            vec![
                "verify".as_ref(),
                "--evidence".as_ref(),
                bundle.as_os_str(),
                "--trust-key".as_ref(),
                KEY_ARN.as_ref(),
                "--trust-public-key".as_ref(),
                pem.as_os_str(),
            ],
            "cannot be used with",
        ),
    ];
    for (args, why) in cases {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{why:?} in {}", stderr(&out));
    }
}

/// The CloudTrail keys a bundle records (`api/cloudtrail/ListPublicKeys.json`, as `collect`
/// writes the live answer) verify its digests only when the bundle's signature verifies:
/// otherwise they come from the bundle, and whoever edited it could have put their own there.
#[test]
fn keys_recorded_in_a_bundle_are_trusted_only_when_its_signature_is() {
    let c = chain::chained(FIXTURE, 4, |_| {});
    let [a, _] = chain::signers();
    let start = chain::first_start();
    let recorded = serde_json::json!([{
        "Request": {"StartTime": start.timestamp(), "EndTime": start.timestamp() + 6 * 3600},
        "Response": {"PublicKeyList": [a.list_entry(start - chrono::Duration::days(1), start + chrono::Duration::days(30))]},
    }]);
    fs::write(
        c.bundle.join("api/cloudtrail/ListPublicKeys.json"),
        serde_json::to_vec_pretty(&recorded).unwrap(),
    )
    .unwrap();
    c.seal();
    let integrity = |out: &Output| report(out)["integrity"].clone();

    let require: [&std::ffi::OsStr; 2] = ["--integrity".as_ref(), "require".as_ref()];
    // Unsigned: the recorded keys are not used; every digest has an unknown key, so no log
    // file is validated and `require` makes the job INCONCLUSIVE.
    let unsigned = verify(&c.bundle, &require);
    let i = integrity(&unsigned);
    assert_eq!(
        (i["digests_verified"].as_u64(), i["trusted_keys"].as_u64()),
        (Some(0), Some(0)),
        "{i:#}"
    );
    assert_eq!(i["unknown_keys"].as_array().unwrap().len(), 4, "{i:#}");
    assert!(
        i.to_string()
            .contains("the recorded ListPublicKeys answer is not used"),
        "{i:#}"
    );
    assert_eq!(unsigned.status.code(), Some(4), "{}", stderr(&unsigned));

    // Signed, and the signature trusted: the recorded keys are trusted; the chain validates.
    let key = BundleKey::ec(&ECDSA_P256_SHA256_ASN1_SIGNING);
    key.sign_bundle(&c.bundle, KEY_ARN, SigningAlgorithm::Ecdsa(Hash::Sha256))
        .unwrap();
    let pem = c.bundle.parent().unwrap().join("trusted.pem");
    fs::write(&pem, key.public_pem()).unwrap();
    let trusted = verify(&c.bundle, &[&trusting(&pem)[..], &require[..]].concat());
    let i = integrity(&trusted);
    assert_eq!(
        (i["digests_verified"].as_u64(), i["trusted_keys"].as_u64()),
        (Some(4), Some(1)),
        "{i:#}"
    );
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    assert_eq!(report(&trusted)["jobs"][0]["verdict"], "pass");

    // Signed but not checked (no trust flag): as unsigned.
    let unchecked = integrity(&verify(&c.bundle, &[]));
    assert_eq!(
        unchecked["digests_verified"].as_u64(),
        Some(0),
        "{unchecked:#}"
    );
}
