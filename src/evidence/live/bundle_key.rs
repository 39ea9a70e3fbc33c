//! Evidence bundles signed with a KMS asymmetric key (docs/integrity.md, "Signed bundles"):
//! `collect --sign-key` (`kms:DescribeKey`, `kms:Sign`) and `--trust-key` (`kms:Verify`).
//! What is signed and how a signature is checked offline is in
//! [`crate::integrity::signed_bundle`].

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec};
use chrono::{DateTime, Utc};

use super::shapes::wire_error;
use super::{Options, checked_config};
use crate::integrity::signed_bundle::{
    BundleSignature, BundleSignatureError, Hash, SigningAlgorithm,
};

/// The algorithms `collect --sign-key` signs with, first listed by the key first. PKCS#1
/// v1.5 before PSS for RSA keys: deterministic, the scheme CloudTrail signs its digests with,
/// and one every verifier pads alike (moto's PSS uses the longest salt where KMS uses one as
/// long as the hash, so PSS signatures of the lab would not verify offline).
const PREFERENCE: [SigningAlgorithm; 5] = [
    SigningAlgorithm::RsaPkcs1(Hash::Sha256),
    SigningAlgorithm::RsaPss(Hash::Sha256),
    SigningAlgorithm::Ecdsa(Hash::Sha256),
    SigningAlgorithm::Ecdsa(Hash::Sha384),
    SigningAlgorithm::Ecdsa(Hash::Sha512),
];

/// The algorithm to sign with, from the key's `SigningAlgorithms`.
pub fn choose_algorithm<'a>(
    listed: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<SigningAlgorithm> {
    PREFERENCE
        .into_iter()
        .find(|a| listed.clone().into_iter().any(|l| l == a.kms_name()))
}

/// A KMS key ready to sign bundles: described, usable, its algorithm chosen.
pub struct BundleSigner {
    kms: aws_sdk_kms::Client,
    /// The key's ARN (what the signature file records, and `--trust-key` names).
    pub key_arn: String,
    pub algorithm: SigningAlgorithm,
}

impl BundleSigner {
    /// Describes `key` (id, ARN, alias name or alias ARN): it must be an enabled
    /// `SIGN_VERIFY` key listing an algorithm this version verifies. Called before anything
    /// is collected, so that a key that cannot sign stops `collect` at once.
    pub async fn prepare(options: &Options, key: &str) -> anyhow::Result<BundleSigner> {
        let (config, _) = checked_config(options).await?;
        let kms = aws_sdk_kms::Client::new(&config);
        let described = kms.describe_key().key_id(key).send().await.map_err(|e| {
            anyhow::anyhow!("--sign-key {key}: kms:DescribeKey: {}", wire_error(&e))
        })?;
        let meta = described.key_metadata().ok_or_else(|| {
            anyhow::anyhow!("--sign-key {key}: kms:DescribeKey gave no KeyMetadata")
        })?;
        let key_arn = meta
            .arn()
            .ok_or_else(|| anyhow::anyhow!("--sign-key {key}: kms:DescribeKey gave no Arn"))?
            .to_owned();
        if meta.key_usage() != Some(&KeyUsageType::SignVerify) {
            anyhow::bail!(
                "--sign-key {key}: {key_arn} is not a signing key (KeyUsage {}; an asymmetric \
                 SIGN_VERIFY key is needed)",
                meta.key_usage().map_or("unknown", |u| u.as_str())
            );
        }
        if meta.key_state() != Some(&KeyState::Enabled) {
            anyhow::bail!(
                "--sign-key {key}: {key_arn} is not enabled (KeyState {})",
                meta.key_state().map_or("unknown", |s| s.as_str())
            );
        }
        let listed: Vec<&str> = meta
            .signing_algorithms()
            .iter()
            .map(|a| a.as_str())
            .collect();
        let algorithm = choose_algorithm(listed.iter().copied()).ok_or_else(|| {
            anyhow::anyhow!(
                "--sign-key {key}: {key_arn} signs with {} only; this version signs with RSA \
                 (RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PSS_SHA_256) or ECC (ECDSA_SHA_*) keys",
                listed.join(", ")
            )
        })?;
        Ok(BundleSigner {
            kms,
            key_arn,
            algorithm,
        })
    }

    /// Signs a manifest's bytes (`kms:Sign`, `MessageType: RAW`); the answer must name the
    /// key and algorithm asked for.
    pub async fn sign(
        &self,
        manifest: &[u8],
        signed_at: DateTime<Utc>,
    ) -> anyhow::Result<BundleSignature> {
        let unsigned =
            BundleSignature::unsigned(manifest, &self.key_arn, self.algorithm, signed_at);
        let out = self
            .kms
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(unsigned.statement()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::from(self.algorithm.kms_name()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("kms:Sign with {}: {}", self.key_arn, wire_error(&e)))?;
        if out.key_id() != Some(self.key_arn.as_str())
            || out.signing_algorithm().map(|a| a.as_str()) != Some(self.algorithm.kms_name())
        {
            anyhow::bail!(
                "kms:Sign answered for key {:?} with {:?}, not {} with {}",
                out.key_id(),
                out.signing_algorithm().map(|a| a.as_str()),
                self.key_arn,
                self.algorithm.kms_name()
            );
        }
        let signature = out
            .signature()
            .ok_or_else(|| anyhow::anyhow!("kms:Sign with {} gave no Signature", self.key_arn))?;
        Ok(unsigned.signed(signature.as_ref()))
    }
}

/// Why `--trust-key` refuses a signature.
#[derive(Debug, thiserror::Error)]
pub enum KmsCheckError {
    #[error(transparent)]
    Signature(#[from] BundleSignatureError),
    #[error("signed by {found}, not by the trusted key {trusted}")]
    OtherKey { found: String, trusted: String },
    #[error("the signature could not be checked with kms:Verify: {0}")]
    Unchecked(String),
}

/// Checks a bundle signature with `kms:Verify` on the trusted key (its ARN, from the user):
/// the signature file must name that key, speak of these manifest bytes, and KMS must say
/// the signature is valid. Any failure to ask is a refusal too.
pub async fn verify(
    options: &Options,
    trusted_arn: &str,
    manifest: &[u8],
    sig: &BundleSignature,
) -> Result<(), KmsCheckError> {
    if sig.key_id != trusted_arn {
        return Err(KmsCheckError::OtherKey {
            found: sig.key_id.clone(),
            trusted: trusted_arn.to_owned(),
        });
    }
    let algorithm = sig.check_manifest(manifest)?;
    let signature = sig.signature_bytes()?;
    let (config, _) = checked_config(options)
        .await
        .map_err(|e| KmsCheckError::Unchecked(e.to_string()))?;
    let answer = aws_sdk_kms::Client::new(&config)
        .verify()
        .key_id(trusted_arn)
        .message(Blob::new(sig.statement()))
        .message_type(MessageType::Raw)
        .signature(Blob::new(signature))
        .signing_algorithm(SigningAlgorithmSpec::from(algorithm.kms_name()))
        .send()
        .await;
    match answer {
        Ok(out) if out.signature_valid() && out.key_id() == Some(trusted_arn) => Ok(()),
        Ok(out) if out.signature_valid() => Err(KmsCheckError::Unchecked(format!(
            "kms:Verify answered for key {:?}",
            out.key_id()
        ))),
        Ok(_) => Err(BundleSignatureError::Invalid.into()),
        Err(e) => {
            let wire = wire_error(&e);
            if wire.code == "KMSInvalidSignatureException" {
                Err(BundleSignatureError::Invalid.into())
            } else {
                Err(KmsCheckError::Unchecked(wire.to_string()))
            }
        }
    }
}

/// The Region of a KMS key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`); `None` for
/// anything else (an alias can be pointed at another key, so it is no trust anchor).
pub fn key_arn_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts[..] {
        ["arn", partition, "kms", region, account, resource]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource
                    .strip_prefix("key/")
                    .is_some_and(|id| !id.is_empty()) =>
        {
            Some(region)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_algorithm_is_chosen_from_what_the_key_lists() {
        let rsa = [
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_512",
        ];
        assert_eq!(
            choose_algorithm(rsa.iter().copied()),
            Some(SigningAlgorithm::RsaPkcs1(Hash::Sha256))
        );
        assert_eq!(
            choose_algorithm(["RSASSA_PSS_SHA_256"].iter().copied()),
            Some(SigningAlgorithm::RsaPss(Hash::Sha256))
        );
        assert_eq!(
            choose_algorithm(["ECDSA_SHA_384"].iter().copied()),
            Some(SigningAlgorithm::Ecdsa(Hash::Sha384))
        );
        assert_eq!(choose_algorithm(["SM2DSA"].iter().copied()), None);
        assert_eq!(choose_algorithm(["ML_DSA_SHAKE_256"].iter().copied()), None);
    }

    #[test]
    fn only_key_arns_are_trust_anchors() {
        assert_eq!(
            key_arn_region("arn:aws:kms:eu-west-1:111122223333:key/1234abcd"),
            Some("eu-west-1")
        );
        assert_eq!(
            key_arn_region("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1"),
            Some("us-gov-west-1")
        );
        for not in [
            "alias/bundles",
            "arn:aws:kms:eu-west-1:111122223333:alias/bundles",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:1111:key/x",
            "arn:aws:kms::111122223333:key/x",
            "arn:aws:kms:eu-west-1:111122223333:key/",
        ] {
            assert_eq!(key_arn_region(not), None, "{not}");
        }
    }
}
