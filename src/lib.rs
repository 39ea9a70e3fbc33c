//! textract-audit: verify where Amazon Textract stored a job's results and how they were
//! encrypted.
//!
//! The pipeline, one module per stage, imports running downward only:
//! `sources` (over `evidence` / `trail`) -> `timeline` (which asks `coverage` what the trail
//! could have recorded) -> `rules` -> `report` -> `render`, all sharing `model`.

pub mod access;
pub mod cli;
pub mod coverage;
pub mod entry_file;
pub mod evidence;
pub mod facts;
pub mod input;
pub mod integrity;
pub mod manual;
pub mod model;
pub mod plan;
pub mod pushdown;
pub mod render;
pub mod report;
pub mod rules;
pub mod run;
pub mod sources;
pub mod submit;
pub mod timeline;
pub mod trail;
