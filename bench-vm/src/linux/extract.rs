//! Extracting the kernel from a bzImage on the host ("extract-vmlinux").
//!
//! The payload a bzImage's setup header points at (`super::bzimage`) is an
//! ELF `vmlinux` (stripped), compressed, followed by relocation information
//! for KASLR; the last four bytes of the payload hold the uncompressed size,
//! little-endian (`arch/x86/boot/compressed/Makefile`: every compressor but
//! gzip runs as `*_with_size`; gzip's own trailer ends with the same number),
//! which we use to check the result. The kernel's own
//! `scripts/extract-vmlinux` does the same, searching the file for
//! compression magic numbers instead of reading the header.
//!
//! Doing this once on the host and caching the result spares every boot the
//! decompressor's seconds under emulation. Debian's and Ubuntu's kernels are
//! XZ (with the x86 BCJ filter) or ZSTD, Fedora's and Arch's ZSTD, older ones
//! gzip: those three are supported, all with pure-Rust decoders (`xz4rust`,
//! a port of the XZ Embedded decoder the kernel itself uses; `ruzstd`;
//! `flate2` on `miniz_oxide`).

use super::bzimage::{is_elf, magic, BzImage, Compression, KernelImageError};
use std::io::Read;

/// Sanity bound on a decompressed kernel (Debian's is ~63 MiB).
pub const MAX_VMLINUX: usize = 1 << 30;

impl BzImage<'_> {
    /// Decompresses the payload into the ELF `vmlinux` (see the module docs).
    pub fn decompress(&self) -> Result<Vec<u8>, KernelImageError> {
        let payload = self.payload();
        let compression = self.compression();
        if payload.len() < 8 {
            return Err(KernelImageError::Truncated {
                what: "the compressed payload",
                end: 8,
                len: payload.len(),
            });
        }
        let trailer = &payload[payload.len() - 4..];
        let expected =
            u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
        if expected > MAX_VMLINUX {
            return Err(KernelImageError::Decompress {
                compression,
                detail: format!("the trailer claims {expected} bytes, more than any kernel"),
            });
        }
        // Every format but gzip has the size appended after the stream.
        let stream = &payload[..payload.len() - 4];
        let mut out = Vec::with_capacity(expected);
        // Never more than the trailer promised (+1 to see that it lied): a
        // corrupt stream must not make the host unpack gigabytes.
        let limit = expected as u64 + 1;
        let result = match compression {
            Compression::Xz => xz4rust::XzReader::new(std::io::Cursor::new(stream.to_vec()))
                .take(limit)
                .read_to_end(&mut out),
            Compression::Zstd => match ruzstd::decoding::StreamingDecoder::new(stream) {
                Ok(d) => d.take(limit).read_to_end(&mut out),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            },
            Compression::Gzip => flate2::read::GzDecoder::new(payload)
                .take(limit)
                .read_to_end(&mut out),
            Compression::None => {
                out.extend_from_slice(stream);
                Ok(out.len())
            }
            other => return Err(KernelImageError::UnsupportedCompression(other)),
        };
        if let Err(e) = result {
            return Err(KernelImageError::Decompress {
                compression,
                detail: e.to_string(),
            });
        }
        if compression != Compression::None && out.len() != expected {
            return Err(KernelImageError::SizeMismatch {
                expected,
                got: out.len(),
            });
        }
        if !is_elf(&out) {
            return Err(KernelImageError::NotElf(magic(&out)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::bzimage::tests::{fake_bzimage, fake_elf, gzip};

    #[test]
    fn gzip_payload_decompresses_to_elf() {
        let elf = fake_elf();
        let img = fake_bzimage(&gzip(&elf));
        let out = BzImage::parse(&img)
            .and_then(|b| b.decompress())
            .expect("decompresses");
        assert_eq!(out, elf);
    }

    #[test]
    fn corrupt_payload_is_named() {
        let mut payload = gzip(&fake_elf());
        let mid = payload.len() / 2;
        for b in &mut payload[mid..mid + 16] {
            *b ^= 0xff;
        }
        let img = fake_bzimage(&payload);
        let e = BzImage::parse(&img)
            .and_then(|b| b.decompress())
            .unwrap_err();
        assert!(
            matches!(
                e,
                KernelImageError::Decompress { .. } | KernelImageError::SizeMismatch { .. }
            ),
            "{e}"
        );
    }

    #[test]
    fn unsupported_compression_is_named() {
        let img = fake_bzimage(b"BZh91AY&SY and more bytes here");
        let e = BzImage::parse(&img)
            .and_then(|b| b.decompress())
            .unwrap_err();
        assert!(e.to_string().contains("bzip2"), "{e}");
    }
}
