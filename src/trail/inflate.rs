//! Stage 1b (trail files), step 2: gzip decompression of one log file.
//!
//! CloudTrail writes single-member gzip files with the uncompressed size in the trailer
//! (ISIZE), so the fast path is libdeflate in one shot into a buffer of exactly that size
//! (measured in docs/performance.md). The trailer is only trusted when it is plausible and
//! the result checks out against it; anything else (multi-member files, files over 4 GiB
//! whose ISIZE wrapped, trailers that lie) goes through flate2's streaming decoder.

use std::io::Read;

use libdeflater::{DecompressionError, Decompressor};

/// The largest ratio DEFLATE can reach (258 bytes per 2-bit code, about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Whether bytes start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// A reusable gzip decompressor: keeps its libdeflate state and output buffer between
/// files, so a worker allocates once for the largest file it sees.
pub struct Inflater {
    decompressor: Decompressor,
    out: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            decompressor: Decompressor::new(),
            out: Vec::new(),
        }
    }
}

impl Inflater {
    /// Decompresses a whole gzip file (all members) and returns the uncompressed bytes.
    pub fn inflate(&mut self, gz: &[u8]) -> std::io::Result<&[u8]> {
        let n = match self.one_shot(gz) {
            Some(n) => n,
            None => {
                self.out.clear();
                flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut self.out)?;
                self.out.len()
            }
        };
        Ok(&self.out[..n])
    }

    /// The one-shot path; `None` when its result cannot be trusted and the streaming
    /// decoder must decide (which also produces the precise error for corrupt data).
    fn one_shot(&mut self, gz: &[u8]) -> Option<usize> {
        let trailer: [u8; 8] = gz
            .len()
            .checked_sub(8)
            .map(|at| gz[at..].try_into().ok())??;
        let crc = u32::from_le_bytes(trailer[..4].try_into().ok()?);
        let isize = u32::from_le_bytes(trailer[4..].try_into().ok()?) as usize;
        if isize as u64 > (gz.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) {
            return None;
        }
        if self.out.len() < isize {
            self.out.resize(isize, 0);
        }
        match self
            .decompressor
            .gzip_decompress(gz, &mut self.out[..isize])
        {
            // libdeflate checks the first member's own trailer but ignores trailing bytes:
            // the output must also match the file's last trailer, else there is more.
            Ok(n) if n == isize && libdeflater::crc32(&self.out[..n]) == crc => Some(n),
            Ok(_) | Err(DecompressionError::InsufficientSpace | DecompressionError::BadData) => {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn one_shot_and_buffer_reuse() {
        let mut inf = Inflater::default();
        let big = b"{\"Records\":[]}".repeat(1000);
        assert_eq!(inf.inflate(&gzip(&big)).unwrap(), &big[..]);
        assert_eq!(inf.inflate(&gzip(b"small")).unwrap(), b"small");
        assert_eq!(inf.inflate(&gzip(b"")).unwrap(), b"");
    }

    #[test]
    fn multi_member_files_are_read_whole() {
        let mut two = gzip(b"first member, ");
        two.extend(gzip(b"second"));
        let mut inf = Inflater::default();
        assert_eq!(inf.inflate(&two).unwrap(), b"first member, second");
        // Same-sized members: the first member's trailer alone would pass the size check.
        let mut same = gzip(b"aaaa");
        same.extend(gzip(b"bbbb"));
        assert_eq!(inf.inflate(&same).unwrap(), b"aaaabbbb");
    }

    #[test]
    fn lying_trailers_fall_back_to_streaming() {
        let data = b"records records records".repeat(50);
        let mut gz = gzip(&data);
        let at = gz.len() - 4;
        // Too small (as for a file over 4 GiB) and implausibly large sizes.
        for lie in [10u32, u32::MAX] {
            gz[at..].copy_from_slice(&lie.to_le_bytes());
            let mut inf = Inflater::default();
            // flate2 checks the trailer too, so the lie is an error, not silent data.
            assert!(inf.inflate(&gz).is_err());
        }
    }

    #[test]
    fn truncated_and_garbage_input_are_errors() {
        let gz = gzip(&b"0123456789".repeat(1000));
        let mut inf = Inflater::default();
        assert!(inf.inflate(&gz[..gz.len() / 2]).is_err());
        assert!(inf.inflate(&gz[..gz.len() - 3]).is_err());
        assert!(inf.inflate(&[0x1f, 0x8b, 0, 0]).is_err());
        let mut trailing = gz.clone();
        trailing.extend_from_slice(b"garbage after the member");
        assert!(inf.inflate(&trailing).is_err());
    }
}
