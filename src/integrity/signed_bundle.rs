//! Signed evidence bundles, the offline core: the bytes a KMS asymmetric key signs for a
//! bundle, the signature file, and its verification with a public key the user trusts.
//!
//! A bundle's manifest lists the SHA-256 of every evidence file, so signing the manifest
//! signs the bundle; `bundle seal` can re-seal an edited manifest, but not re-sign it (it
//! removes the signature file). The signed message is a short statement naming the key, the
//! algorithm, the signing time and the manifest's SHA-256 (see [`BundleSignature::statement`]),
//! not the manifest itself, so that it stays under `kms:Sign`'s 4096-byte limit for
//! `MessageType: RAW`, a signature over some other document can never be taken for a bundle
//! signature, and none of the signature file's fields can be changed without breaking it.
//! KMS signs with RSASSA-PSS (salt as long as the hash), RSASSA-PKCS1-v1_5 or ECDSA (DER
//! signature, ANSI X9.62 / RFC 3279); `kms:GetPublicKey` gives the key as DER
//! SubjectPublicKeyInfo. The public key must come from outside the bundle: one inside it
//! proves nothing.

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sha256;

/// The signature file beside `manifest.json` (not listed in the manifest: it signs it).
pub const SIGNATURE_FILE: &str = "manifest.sig.json";
/// The signature file's schema.
pub const SIGNATURE_SCHEMA: &str = "textract-audit-bundle-signature/v1";
const STATEMENT_HEADER: &str = "textract-audit evidence bundle signature v1";

/// `manifest.sig.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    pub schema: String,
    /// The KMS key that signed (key ARN).
    pub key_id: String,
    /// The KMS signing algorithm (`RSASSA_PKCS1_V1_5_SHA_256`, `ECDSA_SHA_256`, …).
    pub signing_algorithm: String,
    /// When the bundle was signed (whole seconds, UTC).
    pub signed_at: DateTime<Utc>,
    /// SHA-256 of `manifest.json` (hex), as in the signed statement.
    pub manifest_sha256: String,
    /// The signature, base64 (as the KMS HTTP API and the AWS CLI print it).
    pub signature: String,
}

impl BundleSignature {
    /// The signature file for a manifest, before it is signed (`signature` empty): its
    /// [`statement`](Self::statement) is what `kms:Sign` is given.
    pub fn unsigned(
        manifest: &[u8],
        key_id: &str,
        algorithm: SigningAlgorithm,
        signed_at: DateTime<Utc>,
    ) -> BundleSignature {
        use chrono::SubsecRound;
        BundleSignature {
            schema: SIGNATURE_SCHEMA.to_owned(),
            key_id: key_id.to_owned(),
            signing_algorithm: algorithm.kms_name().to_owned(),
            signed_at: signed_at.trunc_subsecs(0),
            manifest_sha256: hex::encode(sha256(manifest)),
            signature: String::new(),
        }
    }

    /// With the signature KMS returned.
    pub fn signed(self, signature: &[u8]) -> BundleSignature {
        BundleSignature {
            signature: BASE64.encode(signature),
            ..self
        }
    }

    /// The message signed (`kms:Sign` with `MessageType: RAW`), rebuilt from the file's
    /// fields, every one of them covered:
    ///
    /// ```text
    /// textract-audit evidence bundle signature v1
    /// key arn:aws:kms:…
    /// signing-algorithm ECDSA_SHA_256
    /// signed-at 2026-12-03T12:00:00Z
    /// manifest.json sha256 <hex>
    /// ```
    pub fn statement(&self) -> Vec<u8> {
        format!(
            "{STATEMENT_HEADER}\nkey {}\nsigning-algorithm {}\nsigned-at {}\nmanifest.json sha256 {}\n",
            self.key_id,
            self.signing_algorithm,
            crate::model::rfc3339(self.signed_at),
            self.manifest_sha256.to_ascii_lowercase()
        )
        .into_bytes()
    }

    /// The signature's bytes.
    pub fn signature_bytes(&self) -> Result<Vec<u8>, BundleSignatureError> {
        BASE64
            .decode(self.signature.trim())
            .map_err(|e| BundleSignatureError::File(format!("signature is not base64: {e}")))
    }

    /// Checks that the file speaks of these manifest bytes and names an algorithm this
    /// version knows; returns the algorithm.
    pub fn check_manifest(
        &self,
        manifest: &[u8],
    ) -> Result<SigningAlgorithm, BundleSignatureError> {
        let algorithm =
            SigningAlgorithm::from_kms_name(&self.signing_algorithm).ok_or_else(|| {
                BundleSignatureError::UnknownAlgorithm(self.signing_algorithm.clone())
            })?;
        let actual = hex::encode(sha256(manifest));
        if !self.manifest_sha256.eq_ignore_ascii_case(&actual) {
            return Err(BundleSignatureError::ManifestChanged {
                claimed: self.manifest_sha256.clone(),
                actual,
            });
        }
        Ok(algorithm)
    }
}

/// The hash a signing algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// A KMS signing algorithm for RSA or ECC keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RsaPss(Hash),
    RsaPkcs1(Hash),
    Ecdsa(Hash),
}

const ALGORITHMS: [(&str, SigningAlgorithm); 9] = [
    ("RSASSA_PSS_SHA_256", SigningAlgorithm::RsaPss(Hash::Sha256)),
    ("RSASSA_PSS_SHA_384", SigningAlgorithm::RsaPss(Hash::Sha384)),
    ("RSASSA_PSS_SHA_512", SigningAlgorithm::RsaPss(Hash::Sha512)),
    (
        "RSASSA_PKCS1_V1_5_SHA_256",
        SigningAlgorithm::RsaPkcs1(Hash::Sha256),
    ),
    (
        "RSASSA_PKCS1_V1_5_SHA_384",
        SigningAlgorithm::RsaPkcs1(Hash::Sha384),
    ),
    (
        "RSASSA_PKCS1_V1_5_SHA_512",
        SigningAlgorithm::RsaPkcs1(Hash::Sha512),
    ),
    ("ECDSA_SHA_256", SigningAlgorithm::Ecdsa(Hash::Sha256)),
    ("ECDSA_SHA_384", SigningAlgorithm::Ecdsa(Hash::Sha384)),
    ("ECDSA_SHA_512", SigningAlgorithm::Ecdsa(Hash::Sha512)),
];

impl SigningAlgorithm {
    /// From KMS's name; `None` for names this version cannot verify (SM2DSA, ML-DSA,
    /// Ed25519, or unknown).
    pub fn from_kms_name(name: &str) -> Option<SigningAlgorithm> {
        ALGORITHMS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    pub fn kms_name(self) -> &'static str {
        ALGORITHMS
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .expect("every algorithm is named")
    }
}

/// The kind of a trusted public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    /// KMS `ECC_NIST_P256`, `ECC_NIST_P384`, `ECC_NIST_P521`, `ECC_SECG_P256K1`.
    Ec(Curve),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

/// A public key given by the user (`--trust-public-key FILE`).
#[derive(Debug, Clone)]
pub struct TrustedPublicKey {
    pub kind: KeyKind,
    der: Vec<u8>,
}

/// Why a bundle signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleSignatureError {
    #[error("public key file: {0}")]
    PublicKey(String),
    #[error("signature file: {0}")]
    File(String),
    #[error("signing algorithm {0:?} cannot be verified (RSA and ECDSA only)")]
    UnknownAlgorithm(String),
    #[error("signing algorithm {algorithm} does not fit the trusted {key:?} key")]
    AlgorithmDoesNotFitKey { algorithm: String, key: KeyKind },
    #[error("the signature file names manifest SHA-256 {claimed}, but manifest.json has {actual}")]
    ManifestChanged { claimed: String, actual: String },
    #[error(
        "signature does not verify with the trusted key: the manifest was changed after signing, or another key signed it"
    )]
    Invalid,
}

impl TrustedPublicKey {
    /// Reads a public key: PEM (`-----BEGIN PUBLIC KEY-----`), base64 of the DER (what
    /// `aws kms get-public-key --query PublicKey --output text` prints), or DER
    /// SubjectPublicKeyInfo (RSA PKCS#1 DER too).
    pub fn parse(bytes: &[u8]) -> Result<TrustedPublicKey, BundleSignatureError> {
        // DER starts with a SEQUENCE tag (0x30); anything else must be PEM or base64 text.
        let der = if bytes.first() == Some(&0x30) {
            bytes.to_vec()
        } else {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                BundleSignatureError::PublicKey("neither DER nor PEM/base64 text".into())
            })?;
            if text.contains("-----BEGIN")
                && !text.contains("-----BEGIN PUBLIC KEY-----")
                && !text.contains("-----BEGIN RSA PUBLIC KEY-----")
            {
                return Err(BundleSignatureError::PublicKey(
                    "PEM block is not a PUBLIC KEY".into(),
                ));
            }
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                .collect();
            BASE64.decode(body).map_err(|e| {
                BundleSignatureError::PublicKey(format!("neither DER nor base64/PEM: {e}"))
            })?
        };
        let fits =
            |alg: &'static dyn VerificationAlgorithm| ParsedPublicKey::new(alg, &der).is_ok();
        let kind = if fits(&signature::RSA_PSS_2048_8192_SHA256) {
            KeyKind::Rsa
        } else if fits(&signature::ECDSA_P256_SHA256_ASN1) {
            KeyKind::Ec(Curve::P256)
        } else if fits(&signature::ECDSA_P384_SHA384_ASN1) {
            KeyKind::Ec(Curve::P384)
        } else if fits(&signature::ECDSA_P521_SHA512_ASN1) {
            KeyKind::Ec(Curve::P521)
        } else if fits(&signature::ECDSA_P256K1_SHA256_ASN1) {
            KeyKind::Ec(Curve::Secp256k1)
        } else {
            return Err(BundleSignatureError::PublicKey(
                "not an RSA (2048 to 8192 bits) or NIST P-256/P-384/P-521 or secp256k1 public key"
                    .into(),
            ));
        };
        Ok(TrustedPublicKey { kind, der })
    }

    /// The verification algorithm for a KMS signing algorithm with this key, if KMS pairs them.
    fn algorithm(&self, alg: SigningAlgorithm) -> Option<&'static dyn VerificationAlgorithm> {
        use Hash::*;
        use SigningAlgorithm::*;
        Some(match (self.kind, alg) {
            (KeyKind::Rsa, RsaPss(Sha256)) => &signature::RSA_PSS_2048_8192_SHA256,
            (KeyKind::Rsa, RsaPss(Sha384)) => &signature::RSA_PSS_2048_8192_SHA384,
            (KeyKind::Rsa, RsaPss(Sha512)) => &signature::RSA_PSS_2048_8192_SHA512,
            (KeyKind::Rsa, RsaPkcs1(Sha256)) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, RsaPkcs1(Sha384)) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, RsaPkcs1(Sha512)) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (KeyKind::Ec(Curve::P256), Ecdsa(Sha256)) => &signature::ECDSA_P256_SHA256_ASN1,
            (KeyKind::Ec(Curve::Secp256k1), Ecdsa(Sha256)) => &signature::ECDSA_P256K1_SHA256_ASN1,
            (KeyKind::Ec(Curve::P384), Ecdsa(Sha384)) => &signature::ECDSA_P384_SHA384_ASN1,
            (KeyKind::Ec(Curve::P521), Ecdsa(Sha512)) => &signature::ECDSA_P521_SHA512_ASN1,
            _ => return None,
        })
    }
}

/// Where `verify`/`audit` take a bundle's trust from: the user, never the bundle.
#[derive(Debug, Clone)]
pub enum TrustAnchor {
    /// `--trust-key ARN`: checked with `kms:Verify`.
    Kms { key_arn: String },
    /// `--trust-public-key FILE`: checked offline.
    PublicKey {
        file: std::path::PathBuf,
        key: TrustedPublicKey,
    },
}

impl std::fmt::Display for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustAnchor::Kms { key_arn } => write!(f, "--trust-key {key_arn} (kms:Verify)"),
            TrustAnchor::PublicKey { file, .. } => {
                write!(f, "--trust-public-key {}", file.display())
            }
        }
    }
}

/// `manifest.sig.json`'s bytes.
pub fn to_file(sig: &BundleSignature) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(sig).expect("the signature file serializes");
    text.push('\n');
    text.into_bytes()
}

/// Reads `manifest.sig.json`.
pub fn parse_signature_file(bytes: &[u8]) -> Result<BundleSignature, BundleSignatureError> {
    let sig: BundleSignature =
        serde_json::from_slice(bytes).map_err(|e| BundleSignatureError::File(e.to_string()))?;
    if sig.schema != SIGNATURE_SCHEMA {
        return Err(BundleSignatureError::File(format!(
            "schema {:?} is not {SIGNATURE_SCHEMA:?}",
            sig.schema
        )));
    }
    Ok(sig)
}

/// Checks a bundle signature offline: the manifest's bytes, the signature file, and a
/// public key from outside the bundle.
pub fn verify(
    manifest: &[u8],
    sig: &BundleSignature,
    key: &TrustedPublicKey,
) -> Result<(), BundleSignatureError> {
    let algorithm = sig.check_manifest(manifest)?;
    let verifier =
        key.algorithm(algorithm)
            .ok_or_else(|| BundleSignatureError::AlgorithmDoesNotFitKey {
                algorithm: sig.signing_algorithm.clone(),
                key: key.kind,
            })?;
    let signature = sig.signature_bytes()?;
    ParsedPublicKey::new(verifier, &key.der)
        .map_err(|e| BundleSignatureError::PublicKey(e.to_string()))?
        .verify_sig(&sig.statement(), &signature)
        .map_err(|_| BundleSignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::synth::BundleKey;

    const MANIFEST: &[u8] = b"{\n  \"schema\": \"textract-audit-bundle/v1\",\n  \"files\": {\"cloudtrail/a.json.gz\": \"9f86d0\"}\n}\n";

    fn rsa() -> BundleKey {
        BundleKey::rsa()
    }

    fn ec(alg: &'static signature::EcdsaSigningAlgorithm) -> BundleKey {
        BundleKey::ec(alg)
    }

    fn signed(key: &BundleKey, alg: SigningAlgorithm, manifest: &[u8]) -> BundleSignature {
        key.sign_manifest(
            manifest,
            "arn:aws:kms:us-east-1:111122223333:key/k",
            alg,
            Utc::now(),
        )
    }

    #[test]
    fn kms_style_signatures_verify_with_the_trusted_key() {
        let r = rsa();
        let trusted = TrustedPublicKey::parse(&r.public_der()).unwrap();
        assert_eq!(trusted.kind, KeyKind::Rsa);
        for name in [
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
        ] {
            let alg = SigningAlgorithm::from_kms_name(name).unwrap();
            let sig = signed(&r, alg, MANIFEST);
            assert_eq!(verify(MANIFEST, &sig, &trusted), Ok(()), "{name}");
        }
        for (key, name, curve) in [
            (
                ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
                "ECDSA_SHA_256",
                Curve::P256,
            ),
            (
                ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
                "ECDSA_SHA_384",
                Curve::P384,
            ),
            (
                ec(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
                "ECDSA_SHA_512",
                Curve::P521,
            ),
            (
                ec(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
                "ECDSA_SHA_256",
                Curve::Secp256k1,
            ),
        ] {
            let trusted = TrustedPublicKey::parse(&key.public_der()).unwrap();
            assert_eq!(trusted.kind, KeyKind::Ec(curve));
            let sig = signed(
                &key,
                SigningAlgorithm::from_kms_name(name).unwrap(),
                MANIFEST,
            );
            assert_eq!(verify(MANIFEST, &sig, &trusted), Ok(()), "{name}");
        }
    }

    #[test]
    fn an_edited_manifest_or_another_key_is_refused() {
        let r = rsa();
        let trusted = TrustedPublicKey::parse(&r.public_der()).unwrap();
        let alg = SigningAlgorithm::RsaPss(Hash::Sha256);
        let sig = signed(&r, alg, MANIFEST);
        // Re-sealed after an edit: the manifest hash no longer matches.
        let edited = [MANIFEST, b" "].concat();
        assert!(matches!(
            verify(&edited, &sig, &trusted),
            Err(BundleSignatureError::ManifestChanged { .. })
        ));
        // Signature file edited to claim the new hash: the signature fails.
        let forged = BundleSignature {
            manifest_sha256: hex::encode(sha256(&edited)),
            ..sig.clone()
        };
        assert_eq!(
            verify(&edited, &forged, &trusted),
            Err(BundleSignatureError::Invalid)
        );
        // Any other field of the file changed: it is part of the statement signed.
        for changed in [
            BundleSignature {
                key_id: "arn:aws:kms:us-east-1:111122223333:key/other".into(),
                ..sig.clone()
            },
            BundleSignature {
                signed_at: sig.signed_at + chrono::Duration::days(1),
                ..sig.clone()
            },
        ] {
            assert_eq!(
                verify(MANIFEST, &changed, &trusted),
                Err(BundleSignatureError::Invalid)
            );
        }
        // Signed by another key, trusted key unchanged.
        let other = signed(&rsa(), alg, MANIFEST);
        assert_eq!(
            verify(MANIFEST, &other, &trusted),
            Err(BundleSignatureError::Invalid)
        );
    }

    #[test]
    fn algorithms_must_fit_the_key() {
        let r = rsa();
        let sig = signed(&r, SigningAlgorithm::RsaPkcs1(Hash::Sha256), MANIFEST);
        let p256 = ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING);
        let ec_key = TrustedPublicKey::parse(&p256.public_der()).unwrap();
        assert!(matches!(
            verify(MANIFEST, &sig, &ec_key),
            Err(BundleSignatureError::AlgorithmDoesNotFitKey { .. })
        ));
        let ec_sig = signed(&p256, SigningAlgorithm::Ecdsa(Hash::Sha256), MANIFEST);
        let wrong_hash = BundleSignature {
            signing_algorithm: "ECDSA_SHA_384".into(),
            ..ec_sig
        };
        assert!(matches!(
            verify(MANIFEST, &wrong_hash, &ec_key),
            Err(BundleSignatureError::AlgorithmDoesNotFitKey { .. })
        ));
        let sm2 = BundleSignature {
            signing_algorithm: "SM2DSA".into(),
            ..sig
        };
        assert_eq!(
            verify(
                MANIFEST,
                &sm2,
                &TrustedPublicKey::parse(&r.public_der()).unwrap()
            ),
            Err(BundleSignatureError::UnknownAlgorithm("SM2DSA".into()))
        );
    }

    #[test]
    fn public_keys_are_read_as_der_base64_or_pem() {
        let key = ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING);
        let der = key.public_der();
        let b64 = BASE64.encode(&der);
        let pem = key.public_pem();
        assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
        for input in [der.clone(), b64.clone().into_bytes(), pem.into_bytes()] {
            assert_eq!(
                TrustedPublicKey::parse(&input).unwrap().kind,
                KeyKind::Ec(Curve::P384)
            );
        }
        assert!(
            TrustedPublicKey::parse(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
        assert!(TrustedPublicKey::parse(b"\x30\x03\x02\x01\x01").is_err());
    }

    #[test]
    fn signature_files_round_trip_and_refuse_other_schemas() {
        let r = rsa();
        let sig = signed(&r, SigningAlgorithm::RsaPss(Hash::Sha256), MANIFEST);
        assert_eq!(parse_signature_file(&to_file(&sig)), Ok(sig.clone()));
        assert!(parse_signature_file(b"{\"schema\": \"x\"}").is_err());
        // The longest key ARN (alias names do not appear: the key's ARN is recorded).
        let long = BundleSignature {
            key_id: format!(
                "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-{}",
                "f".repeat(32)
            ),
            ..sig
        };
        assert!(long.statement().len() < 4096);
    }
}
