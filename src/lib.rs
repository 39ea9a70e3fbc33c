//! textract-audit as a library: the pipeline stages the binary drives.

pub mod evidence;
pub mod model;
pub mod trail;
