//! Stage 1c: CloudTrail records -> typed facts, decoded once.
//!
//! The only place that reads the JSON of a CloudTrail record. Each record becomes one
//! [`Fact`] in AWS's own vocabulary (a `Start*` request, an S3 object access, a KMS call, a
//! Textract `Get*`), and [`Index`] files them by job id, `(bucket, key)`, exact encryption
//! context and key once, so correlating a job is a set of lookups, never a pass over all
//! records. A value this code does not recognise is kept as [`Reading::Unrecognised`]; it is
//! never mapped to a valid value. Fields CloudTrail Lake and Athena deliver as JSON strings
//! are decoded, never read as absent.

mod decode;
mod index;

pub use decode::{
    Context, Fact, InvokedBy, KmsCall, S3Access, S3Op, SseApplied, Start, decode, is_textract,
};
pub use index::Index;
