//! Reading files an adversary may have shaped: only regular files, never more than a cap,
//! and the caps themselves (documented in docs/limits.md).
//!
//! Every evidence file (trail log files, bundle files), the mute list and the allow-list are
//! read through [`read_regular`]: a FIFO, a device such as `/dev/zero` (directly or through
//! a link) or a directory is refused by name instead of blocking or reading forever, and a
//! file larger than [`Limits::max_file_bytes`] is refused before it is read whole.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// The default of [`Limits::max_file_bytes`]: 256 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 << 20;
/// The default of [`Limits::max_inflate_ratio`].
pub const DEFAULT_MAX_INFLATE_RATIO: u64 = 100;
/// Inflated sizes up to this are never refused by the ratio (small files compress oddly).
pub const RATIO_FLOOR_BYTES: u64 = 1 << 20;

/// The environment variable that sets [`Limits::max_file_bytes`].
pub const MAX_FILE_BYTES_ENV: &str = "TEXTRACT_AUDIT_MAX_FILE_BYTES";
/// The environment variable that sets [`Limits::max_inflate_ratio`].
pub const MAX_INFLATE_RATIO_ENV: &str = "TEXTRACT_AUDIT_MAX_INFLATE_RATIO";

/// Caps on what one input file may cost. Peak memory of a trail scan is about
/// `workers x 2 x max_file_bytes` in the worst case, whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest file read at all, and the largest a gzip log file may inflate to.
    pub max_file_bytes: u64,
    /// The largest inflated / compressed size ratio of a gzip log file (above
    /// [`RATIO_FLOOR_BYTES`] inflated).
    pub max_inflate_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_inflate_ratio: DEFAULT_MAX_INFLATE_RATIO,
        }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

impl Limits {
    /// The caps from the environment ([`MAX_FILE_BYTES_ENV`], [`MAX_INFLATE_RATIO_ENV`]),
    /// defaults for unset variables; a value that is not a positive number is an error
    /// naming the variable.
    pub fn from_env() -> Result<Limits, String> {
        let var =
            |name: &str, default: u64, parse: fn(&str) -> Option<u64>| match std::env::var(name) {
                Err(std::env::VarError::NotPresent) => Ok(default),
                Ok(v) => parse(v.trim()).filter(|n| *n > 0).ok_or_else(|| {
                    format!("{name}={v:?}: expected a positive number (e.g. 512M, 2G, 1048576)")
                }),
                Err(e) => Err(format!("{name}: {e}")),
            };
        Ok(Limits {
            max_file_bytes: var(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES, parse_bytes)?,
            max_inflate_ratio: var(MAX_INFLATE_RATIO_ENV, DEFAULT_MAX_INFLATE_RATIO, |s| {
                s.parse().ok()
            })?,
        })
    }

    /// Reads the caps from the environment once, for the whole process (the CLI calls this
    /// first, so a bad value is a usage error before anything is read).
    pub fn init_from_env() -> Result<Limits, String> {
        let limits = Limits::from_env()?;
        Ok(*LIMITS.get_or_init(|| limits))
    }

    /// The process's caps: those [`Limits::init_from_env`] read, else the defaults.
    pub fn current() -> Limits {
        LIMITS.get().copied().unwrap_or_default()
    }

    /// The most a gzip file of `compressed` bytes may inflate to.
    pub fn max_inflated(&self, compressed: u64) -> u64 {
        self.max_file_bytes.min(
            compressed
                .saturating_mul(self.max_inflate_ratio)
                .max(RATIO_FLOOR_BYTES),
        )
    }
}

/// `1048576`, `512K`, `256M`, `2G` (powers of 1024).
fn parse_bytes(s: &str) -> Option<u64> {
    let (digits, shift) = match s.char_indices().last()? {
        (at, 'K' | 'k') => (&s[..at], 10),
        (at, 'M' | 'm') => (&s[..at], 20),
        (at, 'G' | 'g') => (&s[..at], 30),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

impl From<ReadError> for std::io::Error {
    fn from(e: ReadError) -> std::io::Error {
        match e {
            ReadError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read file: {0}")]
    Io(std::io::Error),
    #[error("not a regular file ({0}): not read")]
    NotRegular(&'static str),
    #[error("larger than {cap} bytes, its cap (see docs/limits.md): not read")]
    TooLarge { cap: u64 },
}

/// What kind of non-regular file `meta` describes, for messages.
pub fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

/// Reads `path` (links followed) into `buf` when it is a regular file of at most `cap`
/// bytes. The type is checked before opening (opening a FIFO blocks) and again on the
/// opened file; the read stops at `cap + 1` bytes whatever the file's size claims.
pub fn read_regular(path: &Path, cap: u64, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    buf.clear();
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(file_type_name(&meta)));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge { cap });
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let opened = file.metadata().map_err(ReadError::Io)?;
    if !opened.is_file() {
        return Err(ReadError::NotRegular(file_type_name(&opened)));
    }
    buf.reserve(opened.len().min(cap) as usize);
    file.take(cap.saturating_add(1))
        .read_to_end(buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > cap {
        buf.clear();
        return Err(ReadError::TooLarge { cap });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn mkfifo(path: &Path) {
        assert!(
            std::process::Command::new("mkfifo")
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    }

    #[test]
    fn byte_sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("512K"), Some(512 << 10));
        assert_eq!(parse_bytes("256m"), Some(256 << 20));
        assert_eq!(parse_bytes("2G"), Some(2 << 30));
        assert_eq!(parse_bytes("G"), None);
        assert_eq!(parse_bytes("x1"), None);
        assert_eq!(parse_bytes("99999999999999999999G"), None);
    }

    #[test]
    fn the_inflated_cap_is_the_smaller_of_size_and_ratio() {
        let l = Limits {
            max_file_bytes: 100 << 20,
            max_inflate_ratio: 10,
        };
        assert_eq!(l.max_inflated(1 << 20), 10 << 20);
        assert_eq!(l.max_inflated(50 << 20), 100 << 20);
        assert_eq!(
            l.max_inflated(10),
            RATIO_FLOOR_BYTES,
            "small files: the floor"
        );
        assert_eq!(l.max_inflated(u64::MAX), 100 << 20);
    }

    #[test]
    fn dev_zero_and_a_fifo_are_refused_without_reading() {
        let mut buf = Vec::new();
        let e = read_regular(Path::new("/dev/zero"), 1 << 20, &mut buf).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (a device): not read");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.json.gz");
        mkfifo(&fifo);
        let e = read_regular(&fifo, 1 << 20, &mut buf).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (a FIFO): not read");
        let e = read_regular(dir.path(), 1 << 20, &mut buf).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let mut buf = Vec::new();
        read_regular(&p, 10, &mut buf).unwrap();
        assert_eq!(buf, b"0123456789");
        let e = read_regular(&p, 9, &mut buf).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { cap: 9 }), "{e}");
        assert!(buf.is_empty());
    }
}
