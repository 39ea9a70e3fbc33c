//! Stage 1b (trail files), step 2: gzip decompression of one log file.
//!
//! CloudTrail writes single-member gzip files with the uncompressed size in the trailer
//! (ISIZE), so the fast path is libdeflate in one shot into a buffer of exactly that size
//! (measured in docs/performance.md). The trailer is only trusted when it is plausible and
//! the result checks out against it; anything else (multi-member files, files over 4 GiB
//! whose ISIZE wrapped, trailers that lie) goes through flate2's streaming decoder, which
//! reads every member as `gzip -d` does. Neither path inflates past the file's cap
//! ([`Limits::max_inflated`]): a file that would is refused.

use std::io::Read;

use libdeflater::{DecompressionError, Decompressor};

use super::TrailFileError;
use crate::input::Limits;

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
    /// Decompresses a whole gzip file (all members) and returns the uncompressed bytes;
    /// refuses it when they would be more than `limits` allow for its size.
    pub fn inflate(&mut self, gz: &[u8], limits: &Limits) -> Result<&[u8], TrailFileError> {
        let cap = limits.max_inflated(gz.len() as u64);
        let n = match self.one_shot(gz, cap) {
            Some(n) => n,
            None => {
                self.out.clear();
                flate2::read::MultiGzDecoder::new(gz)
                    .take(cap.saturating_add(1))
                    .read_to_end(&mut self.out)
                    .map_err(TrailFileError::Gzip)?;
                if self.out.len() as u64 > cap {
                    self.out.clear();
                    return Err(TrailFileError::TooLarge { cap });
                }
                self.out.len()
            }
        };
        Ok(&self.out[..n])
    }

    /// The one-shot path; `None` when its result cannot be trusted and the streaming
    /// decoder must decide (which also produces the precise error for corrupt data).
    fn one_shot(&mut self, gz: &[u8], cap: u64) -> Option<usize> {
        let trailer: [u8; 8] = gz
            .len()
            .checked_sub(8)
            .map(|at| gz[at..].try_into().ok())??;
        let crc = u32::from_le_bytes(trailer[..4].try_into().ok()?);
        let isize = u32::from_le_bytes(trailer[4..].try_into().ok()?) as usize;
        if isize as u64 > (gz.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) || isize as u64 > cap
        {
            return None;
        }
        if self.out.len() < isize {
            self.out.resize(isize, 0);
        }
        match self
            .decompressor
            .gzip_decompress(gz, &mut self.out[..isize])
        {
            // libdeflate checks the first member's own trailer but ignores what follows the
            // member: the output must also match the file's last trailer, and those 8 bytes
            // must occur nowhere else in the file. (The first member's trailer equals them,
            // so a member ending before the file's end leaves a second copy: forged or
            // repeated members, trailing bytes that end like the first trailer.)
            Ok(n)
                if n == isize
                    && libdeflater::crc32(&self.out[..n]) == crc
                    && memchr::memmem::find(&gz[..gz.len() - 1], &trailer).is_none() =>
            {
                Some(n)
            }
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

    fn inflate(inf: &mut Inflater, gz: &[u8]) -> Result<Vec<u8>, TrailFileError> {
        inf.inflate(gz, &Limits::default()).map(<[u8]>::to_vec)
    }

    /// What `gzip -d` makes of the bytes (every member, trailers checked).
    fn gunzip(gz: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn one_shot_and_buffer_reuse() {
        let mut inf = Inflater::default();
        let big = b"{\"Records\":[]}".repeat(1000);
        assert_eq!(inflate(&mut inf, &gzip(&big)).unwrap(), &big[..]);
        assert_eq!(inflate(&mut inf, &gzip(b"small")).unwrap(), b"small");
        assert_eq!(inflate(&mut inf, &gzip(b"")).unwrap(), b"");
    }

    #[test]
    fn multi_member_files_are_read_whole() {
        let mut two = gzip(b"first member, ");
        two.extend(gzip(b"second"));
        let mut inf = Inflater::default();
        assert_eq!(inflate(&mut inf, &two).unwrap(), b"first member, second");
        // Same-sized members: the first member's trailer alone would pass the size check.
        let mut same = gzip(b"aaaa");
        same.extend(gzip(b"bbbb"));
        assert_eq!(inflate(&mut inf, &same).unwrap(), b"aaaabbbb");
    }

    /// Issue 11: `gzip(X) + gzip(X)` ends with X's own trailer, so the one-shot path took
    /// the first member for the whole file and dropped the second.
    #[test]
    fn two_identical_members_are_read_as_two_not_one() {
        let x = br#"{"Records":[{"eventName":"PutObject"}]}"#.repeat(20);
        let mut file = gzip(&x);
        file.extend(gzip(&x));
        let mut inf = Inflater::default();
        let got = inflate(&mut inf, &file).unwrap();
        assert_eq!(got, gunzip(&file).unwrap());
        assert_eq!(got.len(), 2 * x.len());
    }

    /// Issue 11: `gzip(X) + gzip(Y)` whose last 8 bytes are X's trailer read as X alone,
    /// hiding Y (another principal's overwrite); `gzip -d` sees Y and fails on its CRC.
    #[test]
    fn a_second_member_behind_a_copied_first_trailer_is_not_dropped() {
        let x = br#"{"Records":[{"eventName":"GetObject"}]}"#;
        let y = br#"{"Records":[{"eventName":"PutObject","who":"mallory"}]}"#;
        let gx = gzip(x);
        let mut file = gx.clone();
        file.extend(gzip(y));
        let at = file.len() - 8;
        file[at..].copy_from_slice(&gx[gx.len() - 8..]);
        assert!(gunzip(&file).is_err(), "gzip -d refuses it");
        let mut inf = Inflater::default();
        let got = inflate(&mut inf, &file);
        assert!(
            matches!(got, Err(TrailFileError::Gzip(_))),
            "{:?}",
            got.map(|b| String::from_utf8_lossy(&b).into_owned())
        );
        // Bytes after the member that end like its trailer: not a gzip file either.
        let mut junk = gx.clone();
        junk.extend_from_slice(b"hidden records");
        junk.extend_from_slice(&gx[gx.len() - 8..]);
        assert!(matches!(
            inflate(&mut inf, &junk),
            Err(TrailFileError::Gzip(_))
        ));
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
            assert!(inflate(&mut inf, &gz).is_err());
        }
    }

    /// Issue 11: a 1 MB file of 1 GiB of zeros took 1 GB of memory, a trailer claiming
    /// 4 GiB 2.1 GB. Now inflation stops at the cap and the file is refused.
    #[test]
    fn a_gzip_bomb_is_refused_at_the_cap_without_the_memory() {
        let zeros = gzip(&vec![0u8; 8 << 20]);
        let limits = Limits {
            max_file_bytes: 2 << 20,
            max_inflate_ratio: 1000,
        };
        let mut inf = Inflater::default();
        let e = inf.inflate(&zeros, &limits).unwrap_err();
        assert!(
            matches!(e, TrailFileError::TooLarge { cap } if cap == 2 << 20),
            "{e}"
        );
        assert!(inf.out.capacity() <= 5 << 20, "{}", inf.out.capacity());
        // By ratio: 8 MiB out of about 8 KiB.
        let e = inf.inflate(&zeros, &Limits::default()).unwrap_err();
        assert!(matches!(e, TrailFileError::TooLarge { .. }), "{e}");
        assert!(
            e.to_string().contains("TEXTRACT_AUDIT_MAX_INFLATE_RATIO"),
            "{e}"
        );
        // A trailer that claims 4 GiB is not believed: no buffer of that size.
        let mut liar = gzip(b"{}");
        let at = liar.len() - 4;
        liar[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut inf = Inflater::default();
        assert!(inf.inflate(&liar, &Limits::default()).is_err());
        assert!(inf.out.capacity() < 1 << 20);
    }

    #[test]
    fn truncated_and_garbage_input_are_errors() {
        let gz = gzip(&b"0123456789".repeat(1000));
        let mut inf = Inflater::default();
        assert!(inflate(&mut inf, &gz[..gz.len() / 2]).is_err());
        assert!(inflate(&mut inf, &gz[..gz.len() - 3]).is_err());
        assert!(inflate(&mut inf, &[0x1f, 0x8b, 0, 0]).is_err());
        let mut trailing = gz.clone();
        trailing.extend_from_slice(b"garbage after the member");
        assert!(inflate(&mut inf, &trailing).is_err());
    }
}
