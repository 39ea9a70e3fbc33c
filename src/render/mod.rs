//! Stage 5: the report rendered for people (tables) and pipelines (JSON).
//!
//! Renderers read only the [`Report`]; none of them judge anything.

pub mod json;
pub mod table;

use clap::ValueEnum;

use crate::report::Report;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lifecycle tables and verdicts for people.
    Table,
    /// The versioned `textract-audit/v1` document.
    Json,
}

/// How to draw tables.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colour (only on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Total width in columns.
    pub width: u16,
}

/// Renders the report in one format.
pub fn render(report: &Report, format: Format, style: Style) -> String {
    match format {
        Format::Table => table::render(report, style),
        Format::Json => json::render(report),
    }
}
