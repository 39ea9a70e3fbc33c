//! TOML files made of one array of tables, one table per entry (the mute list's `[[mute]]`,
//! the allow-list's `[[reader]]`): read, checked for shape, and the errors, which always name
//! the file, and the entry (1-based) and field when the problem is inside one. What an entry
//! means is validated by the module that owns the file.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why an entry file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EntryFileError {
    #[error("{file}: {cause}")]
    Read {
        file: PathBuf,
        cause: crate::input::ReadError,
    },
    #[error("{file}: not UTF-8 text (invalid bytes at offset {at})")]
    Utf8 { file: PathBuf, at: usize },
    #[error("{file}:{line}: not valid TOML: {message}")]
    Syntax {
        file: PathBuf,
        /// 1-based, where the parser stopped.
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: PathBuf, message: String },
    #[error("{file}: [[{table}]] entry {index}{}: {message}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
    Entry {
        file: PathBuf,
        table: &'static str,
        /// 1-based, in file order.
        index: usize,
        field: Option<String>,
        message: String,
    },
}

/// A file of `[[table]]` entries.
#[derive(Debug, Clone, Copy)]
pub struct EntryFile<'a> {
    pub path: &'a Path,
    pub table: &'static str,
}

impl EntryFile<'_> {
    /// The file's text: a regular file (a FIFO or a device is refused, not waited on) of
    /// at most [`Limits::max_file_bytes`](crate::input::Limits).
    pub fn read(&self) -> Result<String, EntryFileError> {
        let mut bytes = Vec::new();
        let cap = crate::input::Limits::current().max_file_bytes;
        crate::input::read_regular(self.path, cap, &mut bytes).map_err(|cause| {
            EntryFileError::Read {
                file: self.path.to_owned(),
                cause,
            }
        })?;
        String::from_utf8(bytes).map_err(|e| EntryFileError::Utf8 {
            file: self.path.to_owned(),
            at: e.utf8_error().valid_up_to(),
        })
    }

    /// The entries of `text`, in file order: the tables of the one top-level array.
    pub fn entries(&self, text: &str) -> Result<Vec<toml::Table>, EntryFileError> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| EntryFileError::Syntax {
            file: self.path.to_owned(),
            line: e.span().map_or(1, |at| line_at(text, at.start)),
            message: e.message().to_owned(),
        })?;
        let shape = |message: String| EntryFileError::Shape {
            file: self.path.to_owned(),
            message,
        };
        let table = self.table;
        if let Some(other) = doc.keys().find(|k| *k != table) {
            return Err(shape(format!(
                "unknown top-level key `{other}` (only [[{table}]] entries are allowed)"
            )));
        }
        let items = match doc.get(table) {
            None => return Ok(Vec::new()),
            Some(toml::Value::Array(a)) => a,
            Some(_) => {
                return Err(shape(format!(
                    "`{table}` must be an array of tables ([[{table}]])"
                )));
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                toml::Value::Table(t) => Ok(t.clone()),
                other => Err(self.error(
                    i + 1,
                    None,
                    format!("expected a table, found a {}", other.type_str()),
                )),
            })
            .collect()
    }

    /// An error in entry `index` (1-based), in `field` when given.
    pub fn error(&self, index: usize, field: Option<&str>, message: String) -> EntryFileError {
        EntryFileError::Entry {
            file: self.path.to_owned(),
            table: self.table,
            index,
            field: field.map(str::to_owned),
            message,
        }
    }
}

/// What an entry did over a run, reported so that a list can be kept tidy (as cargo-deny
/// reports allow-list entries that matched nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Had an effect: muted a finding, allowed a read.
    Applied,
    /// Past its `expires` at the run's time: does nothing (what it matched is still counted).
    Expired,
    /// Active but matched nothing: a candidate for removal.
    Stale,
    /// Active and matching, but an earlier entry had the effect each time: it has no effect
    /// as written.
    Shadowed,
}

impl EntryState {
    /// The state of an entry `active` at the run's time that matched `matched` times and had
    /// the effect (was the first active match) `applied` times.
    pub fn of(active: bool, matched: usize, applied: usize) -> EntryState {
        if !active {
            EntryState::Expired
        } else if matched == 0 {
            EntryState::Stale
        } else if applied == 0 {
            EntryState::Shadowed
        } else {
            EntryState::Applied
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EntryState::Applied => "applied",
            EntryState::Expired => "expired",
            EntryState::Stale => "stale",
            EntryState::Shadowed => "shadowed",
        }
    }
}

/// The 1-based line of byte `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11: a FIFO or `/dev/zero` as a mute list or allow-list blocked or read until
    /// memory ran out.
    #[test]
    fn devices_and_fifos_are_refused_by_name_not_read() {
        let file = EntryFile {
            path: Path::new("/dev/zero"),
            table: "reader",
        };
        let e = file.read().unwrap_err().to_string();
        assert_eq!(e, "/dev/zero: not a regular file (a device): not read");
        let dir = tempfile::tempdir().unwrap();
        let latin1 = dir.path().join("l.toml");
        std::fs::write(&latin1, b"# caf\xe9\n").unwrap();
        let e = EntryFile {
            path: &latin1,
            table: "mute",
        }
        .read()
        .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("not UTF-8 text (invalid bytes at offset 5)"),
            "{e}"
        );
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let file = EntryFile {
            path: Path::new("a.toml"),
            table: "reader",
        };
        let e = file
            .entries("[[reader]]\nreason = \"r\"\nbucket = \n")
            .unwrap_err();
        assert!(
            e.to_string().starts_with("a.toml:3: not valid TOML: "),
            "{e}"
        );
    }
}
