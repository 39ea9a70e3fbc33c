//! Integrity against the local AWS lab (docs/integrity.md): bundles signed by `collect
//! --sign-key` with the lab's KMS (moto's `Sign`) and checked by `--trust-key` (moto's
//! `Verify`) and offline by `--trust-public-key` (the key `GetPublicKey` gives).
//!
//! Run as tests/lab.rs runs (`tests/common/mod.rs` starts the lab; `TEXTRACT_AUDIT_NO_LAB=1`
//! reports them ignored).

mod common;

use common::{Lab, Run, lab};
use serde_json::{Value, json};

/// A KMS key made in the lab; returns its ARN.
fn create_key(lab: &Lab, spec: &str, usage: &str) -> String {
    let made = lab.aws_json(
        "kms",
        "TrentService.CreateKey",
        &json!({"KeySpec": spec, "KeyUsage": usage, "Description": "bundle signing"}),
    );
    made["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
}

/// `verify --evidence DIR --format json` and `extra`, with KMS reached through
/// `AWS_ENDPOINT_URL` (a bundle run takes no `--endpoint-url`).
fn verify_bundle(lab: &Lab, dir: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--evidence", dir, "--format", "json"];
    args.extend(extra);
    lab.run_env(&args, &[("AWS_ENDPOINT_URL", &lab.endpoint)])
}

fn sources(run: &Run) -> String {
    run.report()["evidence"]["sources"].to_string()
}

fn assert_refused(run: &Run, dir: &str, why: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("evidence bundle {dir} refused, not verified")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(why), "{why:?} in {}", run.stderr);
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn collect_signs_with_kms_and_verify_trusts_only_that_key() {
    let lab = lab();
    let (_, job) = lab.job("row4", &json!({}));
    let rsa = create_key(&lab, "RSA_2048", "SIGN_VERIFY");
    let ecc = create_key(&lab, "ECC_NIST_P256", "SIGN_VERIFY");
    lab.aws_json(
        "kms",
        "TrentService.CreateAlias",
        &json!({"AliasName": "alias/bundles", "TargetKeyId": rsa}),
    );
    let tmp = tempfile::tempdir().unwrap();
    let unsigned = tmp.path().join("unsigned");
    let unsigned = unsigned.to_str().unwrap();
    assert_eq!(lab.collect(&job, unsigned, &[]).code, 0);

    for (key, given, algorithm) in [
        (&rsa, "alias/bundles", "RSASSA_PKCS1_V1_5_SHA_256"),
        (&ecc, ecc.as_str(), "ECDSA_SHA_256"),
    ] {
        let out = tmp.path().join(algorithm);
        let out = out.to_str().unwrap();
        let collected = lab.collect(&job, out, &["--sign-key", given]);
        assert_eq!(collected.code, 0, "{}", collected.stderr);
        assert!(
            collected
                .stderr
                .contains(&format!("signed its manifest with {key} ({algorithm})")),
            "{}",
            collected.stderr
        );
        let sig: Value =
            serde_json::from_slice(&std::fs::read(format!("{out}/manifest.sig.json")).unwrap())
                .unwrap();
        assert_eq!(sig["key_id"], key.as_str());
        assert_eq!(sig["signing_algorithm"], algorithm);

        // kms:Verify with the trusted key: the report the bundle gives unchecked.
        let plain = verify_bundle(&lab, out, &[]);
        assert!(
            sources(&plain).contains("not checked"),
            "{}",
            sources(&plain)
        );
        let checked = verify_bundle(&lab, out, &["--trust-key", key]);
        assert_eq!(checked.code, plain.code, "{}", checked.stderr);
        assert_eq!(checked.report()["jobs"], plain.report()["jobs"]);
        assert!(
            sources(&checked).contains(&format!(
                "bundle signature verified: {key} with {algorithm}"
            )),
            "{}",
            sources(&checked)
        );

        // Offline, with the public key KMS gives (outside the bundle).
        let public = lab.aws_json("kms", "TrentService.GetPublicKey", &json!({"KeyId": key}));
        let pem = tmp.path().join(format!("{algorithm}.b64"));
        std::fs::write(&pem, public["PublicKey"].as_str().unwrap()).unwrap();
        let offline = verify_bundle(&lab, out, &["--trust-public-key", pem.to_str().unwrap()]);
        assert_eq!(offline.code, plain.code, "{}", offline.stderr);
        assert!(sources(&offline).contains("bundle signature verified"));

        // Another key is not this one, even one KMS would verify with.
        let other = if key == &rsa { &ecc } else { &rsa };
        assert_refused(
            &verify_bundle(&lab, out, &["--trust-key", other]),
            out,
            &format!("signed by {key}, not by the trusted key {other}"),
        );
    }

    // A manifest edited after signing and its signature file made to match: KMS says no.
    let out = tmp.path().join("RSASSA_PKCS1_V1_5_SHA_256");
    let out = out.to_str().unwrap();
    let manifest_path = format!("{out}/manifest.json");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["collector"] = "edited".into();
    let edited = serde_json::to_vec_pretty(&manifest).unwrap();
    std::fs::write(&manifest_path, &edited).unwrap();
    let sig_path = format!("{out}/manifest.sig.json");
    let mut sig: Value = serde_json::from_slice(&std::fs::read(&sig_path).unwrap()).unwrap();
    sig["manifest_sha256"] = hex::encode(textract_audit::integrity::sha256(&edited)).into();
    std::fs::write(&sig_path, sig.to_string()).unwrap();
    assert_refused(
        &verify_bundle(&lab, out, &["--trust-key", &rsa]),
        out,
        "signature does not verify with the trusted key",
    );
    // The unsigned bundle, with a trust flag.
    assert_refused(
        &verify_bundle(&lab, unsigned, &["--trust-key", &rsa]),
        unsigned,
        "no manifest.sig.json",
    );
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_key_that_cannot_sign_stops_collect_before_anything_is_written() {
    let lab = lab();
    let (seed, job) = lab.job("row4", &json!({}));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    let out = out.to_str().unwrap();
    // The scenario's CMK encrypts; it does not sign.
    let cmk = seed["kms"]["key_arn"].as_str().unwrap();
    let collected = lab.collect(&job, out, &["--sign-key", cmk]);
    assert_eq!(collected.code, 1, "{}", collected.stderr);
    assert!(
        // (moto leaves KeyUsage out of a key created without one: "unknown" here.)
        collected.stderr.contains("is not a signing key (KeyUsage"),
        "{}",
        collected.stderr
    );
    assert!(!std::path::Path::new(out).exists());
    let missing = lab.collect(&job, out, &["--sign-key", "alias/no-such-key"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("NotFoundException"),
        "{}",
        missing.stderr
    );
}

/// Turns log file validation on for the scenario's trail: each `flush-trail` then also
/// delivers a signed digest (S3 user metadata `signature`, `signature-algorithm`).
fn validate_logs(lab: &Lab, seed: &Value) {
    lab.aws_json(
        "cloudtrail",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.UpdateTrail",
        &json!({"Name": seed["trail"]["name"], "EnableLogFileValidation": true}),
    );
}

fn trail_uri(seed: &Value) -> String {
    format!(
        "s3://{}/{}",
        seed["trail"]["bucket"].as_str().unwrap(),
        seed["trail"]["prefix"].as_str().unwrap()
    )
}

fn integrity(run: &Run) -> Value {
    run.report()["integrity"].clone()
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn trail_bucket_digests_validate_with_the_keys_list_public_keys_gives() {
    let lab = lab();
    let seed = lab.seed("row4");
    validate_logs(&lab, &seed);
    let job = lab.start(&seed);
    let flushed = lab.control("POST", "flush-trail", &json!({}));
    assert_eq!(len(&flushed["digests"]), 1, "{flushed:#}");
    let trail = trail_uri(&seed);

    // Live: the digest and its metadata come with the log files, its key from
    // ListPublicKeys; every log file read is validated, so even `require` passes.
    let run = lab.verify(&[&job], &["--trail", &trail, "--integrity", "require"]);
    let i = integrity(&run);
    assert_eq!(run.code, 0, "{i:#}\n{}", run.stderr);
    assert_eq!(i["digests_found"], 1, "{i:#}");
    assert_eq!(i["digests_verified"], 1, "{i:#}");
    assert_eq!(i["trusted_keys"], 1, "{i:#}");
    assert!(len(&i["files_validated"]) >= 1, "{i:#}");
    assert_eq!(len(&i["files_not_covered"]), 0, "{i:#}");
    assert!(
        i["files_validated"]
            .to_string()
            .contains("s3://lab-trail/ct/AWSLogs/"),
        "named as the S3 objects: {i:#}"
    );

    // A log file deleted from the bucket is listed in the digest but missing.
    let key = flushed["delivered"][0]["key"].as_str().unwrap();
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
                SignedHeaders=host, Signature=0";
    let (status, _) = lab.http(
        "DELETE",
        &format!("/lab-trail/{key}"),
        &[("Authorization", auth)],
        &Value::Null,
    );
    assert_eq!(status, 204);
    let run = lab.verify(&[&job], &["--trail", &trail]);
    let i = integrity(&run);
    assert_eq!(run.code, 4, "{i:#}");
    assert!(i["listed_but_missing"].to_string().contains(key), "{i:#}");

    // --integrity off reads no digest.
    let off = lab.verify(&[&job], &["--trail", &trail, "--integrity", "off"]);
    assert!(off.report().get("integrity").is_none_or(Value::is_null));
}

/// `collect` with the trail bucket copies the digests (with their metadata), the log files
/// and the ListPublicKeys answer into the bundle; offline, the recorded keys count only when
/// the bundle's signature is trusted.
#[test]
#[cfg_attr(no_lab, ignore = "needs the AWS lab (TEXTRACT_AUDIT_NO_LAB is set)")]
fn a_collected_bundle_validates_its_trail_files_offline_when_its_signature_is_trusted() {
    let lab = lab();
    let seed = lab.seed("row4");
    validate_logs(&lab, &seed);
    let job = lab.start(&seed);
    lab.control("POST", "flush-trail", &json!({}));
    let trail = trail_uri(&seed);
    let key = create_key(&lab, "RSA_2048", "SIGN_VERIFY");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle");
    let out = out.to_str().unwrap();
    let collected = lab.collect(&job, out, &["--trail", &trail, "--sign-key", &key]);
    assert_eq!(collected.code, 0, "{}", collected.stderr);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(format!("{out}/manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_object().unwrap();
    let has = |part: &str| files.keys().any(|k| k.contains(part));
    assert!(
        has("cloudtrail/trails/AWSLogs/123456789012/CloudTrail/us-east-1/"),
        "{files:#?}"
    );
    assert!(
        has("CloudTrail-Digest/us-east-1/") && has(".json.gz.metadata.json"),
        "{files:#?}"
    );
    assert!(
        files.contains_key("api/cloudtrail/ListPublicKeys.json"),
        "{files:#?}"
    );

    let require = ["--integrity", "require"];
    // Trusted: the recorded key verifies the digest; every log file is validated.
    let trusted = verify_bundle(
        &lab,
        out,
        &[&["--trust-key", key.as_str()][..], &require].concat(),
    );
    let i = integrity(&trusted);
    assert_eq!(trusted.code, 0, "{i:#}\n{}", trusted.stderr);
    assert_eq!(
        (i["digests_verified"].as_u64(), i["trusted_keys"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(len(&i["files_validated"]) >= 1, "{i:#}");
    assert_eq!(trusted.report()["jobs"][0]["verdict"], "pass");

    // Not trusted: the recorded key is not used; nothing is validated.
    let unchecked = verify_bundle(&lab, out, &require);
    let i = integrity(&unchecked);
    assert_eq!(unchecked.code, 4, "{i:#}");
    assert_eq!(i["digests_verified"], 0, "{i:#}");
    assert!(i["notes"].to_string().contains("not used"), "{i:#}");

    // The keys from AWS given by hand instead: validated again.
    let keys = lab.aws_json(
        "cloudtrail",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys",
        &json!({}),
    );
    let keys_file = tmp.path().join("keys.json");
    std::fs::write(&keys_file, keys.to_string()).unwrap();
    let given = verify_bundle(
        &lab,
        out,
        &[
            &["--cloudtrail-public-keys", keys_file.to_str().unwrap()][..],
            &require,
        ]
        .concat(),
    );
    assert_eq!(given.code, 0, "{}", given.stderr);
    assert_eq!(integrity(&given)["digests_verified"], 1);
}
