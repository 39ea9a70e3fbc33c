//! Stage 1c: CloudTrail evidence read where it lives, in Athena (a CloudTrail table over
//! the trail bucket) or CloudTrail Lake, instead of downloading the log files.
//!
//! [`partition`] reads the table's layout from its Glue definition and prunes partitions
//! to the window (widened for delivery lag), accounts and Regions; [`sql`] writes the
//! queries (every value quoted, jobs batched under each engine's size limit); [`decode`]
//! rebuilds each result row into the CloudTrail record a log file would hold, so every
//! rule sees the same facts from either source.
//!
//! The runners are the `--athena` and `--cloudtrail-lake` source (`sources::query`,
//! docs/athena.md). Not built yet: `--dry-run`.

pub mod decode;
pub mod partition;
pub mod sql;

pub use partition::{LayoutError, Pruning, TableLayout};
pub use sql::{Engine, JobTarget, Selection, SqlError, generate, records_per_day};
