//! Read-side access: who read a job's results, who was allowed to, and who could have.
//!
//! A stage beside the timeline, made of pure functions over neutral inputs and the shared
//! nouns in [`crate::model`] only:
//! - [`policy`]: static reading of IAM policy documents (key policies, bucket policies);
//! - [`possible`]: the principals the key policy, the key's grants and the bucket policy let
//!   read a job's results, with what deserves a flag;
//! - [`analyzer`]: IAM Access Analyzer's answers beside the static reading;
//! - [`allowlist`]: the `--allowed-readers` file, validated, and matching of observed
//!   principals against it;
//! - [`observed`]: the reads of a job's results, one row per principal;
//! - [`readers_allowed`]: the `readers-allowed` rule as a pure function of those.

pub mod allowlist;
pub mod analyzer;
pub mod arn;
pub mod glob;
pub mod observed;
pub mod policy;
pub mod possible;
pub mod readers_allowed;

#[cfg(test)]
mod fixture_tests;
