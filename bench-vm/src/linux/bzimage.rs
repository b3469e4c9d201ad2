//! The bzImage format: what a distribution's `/boot/vmlinuz` is, and where
//! the kernel is inside it.
//!
//! A bzImage is three things glued together (Linux
//! `Documentation/arch/x86/boot.rst`, "THE ACTUAL BOOT PROTOCOL" and "DETAILS
//! OF HEADER FIELDS"):
//!
//! ```text
//! file offset 0      512-byte boot sector (legacy), with the setup header at 0x1f1
//!             0x200  real-mode setup code, setup_sects sectors of 512 bytes
//!     (setup_sects+1)*512   protected-mode code: a small decompressor ...
//!                           ... + payload_offset: the compressed kernel (payload_length bytes)
//! ```
//!
//! The *setup header* tells a boot loader everything it needs: the boot
//! protocol version (`HdrS` magic), where the compressed payload is, how
//! large the kernel is once unpacked (`init_size`), the highest address an
//! initramfs may use, the longest command line. Booting a bzImage means
//! running the decompressor inside the guest; under software emulation that
//! takes seconds (~3 s for Debian's XZ kernel). Since boot protocol 2.08 the
//! header points at the payload, so the host can decompress it once and
//! boot the resulting ELF `vmlinux` directly: [`BzImage::decompress`], in
//! `super::extract`. This module reads the header, finds the payload and
//! names its compression, by the magic numbers `scripts/extract-vmlinux`
//! looks for.

/// Offset of the setup header in the file (boot.rst: "the setup header at 0x1f1").
pub const SETUP_HEADER_OFFSET: usize = 0x1f1;
/// `HdrS`, the magic of boot protocol 2.00 and later, at 0x202.
pub const HDRS_MAGIC: u32 = 0x5372_6448;
/// The oldest protocol we accept: 2.08 added `payload_offset`/`payload_length`
/// (and 2.06 `cmdline_size`); 2.12 `xloadflags` for 64-bit entry.
pub const MIN_PROTOCOL: u16 = 0x020c;

/// Why a file is not a kernel we can use.
#[derive(Debug, thiserror::Error)]
pub enum KernelImageError {
    #[error("the kernel image is only {len} bytes: too short for a bzImage setup header (truncated, or not a kernel)")]
    TooShort { len: usize },
    #[error("not a Linux kernel: no x86 boot sector signature 0xAA55 at offset 0x1fe (is this a bzImage / vmlinuz?)")]
    NoBootSignature,
    #[error("not a bzImage: no 'HdrS' magic at offset 0x202 (a very old zImage, or not a kernel)")]
    NoHdrS,
    #[error("the kernel speaks boot protocol {}.{:02}; we need 2.12 or later (Linux 3.8+)", .0 >> 8, .0 & 0xff)]
    OldProtocol(u16),
    #[error("the kernel has no 64-bit entry point (xloadflags bit XLF_KERNEL_64 clear): a 32-bit kernel?")]
    No64BitEntry,
    #[error("the kernel image is truncated: its header places {what} up to byte {end} but the file has {len} bytes")]
    Truncated {
        what: &'static str,
        end: usize,
        len: usize,
    },
    #[error("the kernel payload is compressed with {0}, which we cannot decompress on the host (supported: xz, zstd, gzip); boot the bzImage itself instead")]
    UnsupportedCompression(Compression),
    #[error("decompressing the {compression} kernel payload failed: {detail} (a corrupt or truncated kernel image)")]
    Decompress {
        compression: Compression,
        detail: String,
    },
    #[error("the decompressed kernel is {got} bytes but its trailer says {expected}: corrupt kernel image")]
    SizeMismatch { expected: usize, got: usize },
    #[error("the decompressed kernel payload is not an ELF file (magic {0:02x?})")]
    NotElf([u8; 4]),
}

/// How the payload is compressed (by its first bytes, as
/// `scripts/extract-vmlinux` recognises them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Lzma,
    Lzo,
    Lz4,
    /// An ELF file as is (a kernel built with no compression).
    None,
    Unknown([u8; 4]),
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::Gzip => f.write_str("gzip"),
            Compression::Xz => f.write_str("xz"),
            Compression::Zstd => f.write_str("zstd"),
            Compression::Bzip2 => f.write_str("bzip2"),
            Compression::Lzma => f.write_str("lzma"),
            Compression::Lzo => f.write_str("lzo"),
            Compression::Lz4 => f.write_str("lz4"),
            Compression::None => f.write_str("no compression"),
            Compression::Unknown(m) => write!(f, "an unknown method (magic {m:02x?})"),
        }
    }
}

impl Compression {
    /// Recognises the compression from the payload's first bytes.
    pub fn detect(payload: &[u8]) -> Compression {
        let starts = |m: &[u8]| payload.starts_with(m);
        if starts(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if starts(b"BZh") {
            Compression::Bzip2
        } else if starts(&[0x5d, 0, 0]) {
            Compression::Lzma
        } else if starts(&[0x89, b'L', b'Z', b'O']) {
            Compression::Lzo
        } else if starts(&[0x02, 0x21, 0x4c, 0x18]) {
            Compression::Lz4
        } else if starts(b"\x7fELF") {
            Compression::None
        } else {
            Compression::Unknown(magic(payload))
        }
    }
}

/// The fields of the setup header a VMM needs (boot.rst, "DETAILS OF HEADER FIELDS").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupHeader {
    /// 0x1f1: sectors of real-mode setup code after the boot sector (0 means 4).
    pub setup_sects: u8,
    /// 0x206: boot protocol version, e.g. 0x020f for 2.15.
    pub version: u16,
    /// 0x20e: offset of the version string, less 0x200 (0: none).
    pub kernel_version_offset: u16,
    /// 0x211: LOADED_HIGH (bit 0), ...
    pub loadflags: u8,
    /// 0x22c: highest address the initramfs may end at (inclusive).
    pub initrd_addr_max: u32,
    /// 0x230: alignment the kernel wants when relocated.
    pub kernel_alignment: u32,
    /// 0x234: non-zero if the kernel can run at any suitably aligned address.
    pub relocatable_kernel: u8,
    /// 0x236: XLF_KERNEL_64 (bit 0): has the 64-bit entry at +0x200; ...
    pub xloadflags: u16,
    /// 0x238: longest command line, without the NUL.
    pub cmdline_size: u32,
    /// 0x248: payload offset from the start of the protected-mode code.
    pub payload_offset: u32,
    /// 0x24c: payload length.
    pub payload_length: u32,
    /// 0x258: preferred load address.
    pub pref_address: u64,
    /// 0x260: memory the kernel needs from its load address while it boots.
    pub init_size: u32,
}

/// `xloadflags` bit: the kernel has a 64-bit entry point at `load address + 0x200`.
pub const XLF_KERNEL_64: u16 = 1 << 0;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

/// A parsed bzImage, borrowing the file's bytes.
#[derive(Debug, Clone)]
pub struct BzImage<'a> {
    bytes: &'a [u8],
    pub header: SetupHeader,
}

impl<'a> BzImage<'a> {
    /// Checks and parses the setup header of a bzImage held in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<BzImage<'a>, KernelImageError> {
        // The header runs to 0x268 (kernel_info_offset) in protocol 2.15.
        if bytes.len() < 0x268 {
            return Err(KernelImageError::TooShort { len: bytes.len() });
        }
        if le16(bytes, 0x1fe) != 0xaa55 {
            return Err(KernelImageError::NoBootSignature);
        }
        if le32(bytes, 0x202) != HDRS_MAGIC {
            return Err(KernelImageError::NoHdrS);
        }
        let header = SetupHeader {
            setup_sects: bytes[0x1f1],
            version: le16(bytes, 0x206),
            kernel_version_offset: le16(bytes, 0x20e),
            loadflags: bytes[0x211],
            initrd_addr_max: le32(bytes, 0x22c),
            kernel_alignment: le32(bytes, 0x230),
            relocatable_kernel: bytes[0x234],
            xloadflags: le16(bytes, 0x236),
            cmdline_size: le32(bytes, 0x238),
            payload_offset: le32(bytes, 0x248),
            payload_length: le32(bytes, 0x24c),
            pref_address: le64(bytes, 0x258),
            init_size: le32(bytes, 0x260),
        };
        if header.version < MIN_PROTOCOL {
            return Err(KernelImageError::OldProtocol(header.version));
        }
        if header.xloadflags & XLF_KERNEL_64 == 0 {
            return Err(KernelImageError::No64BitEntry);
        }
        let image = BzImage { bytes, header };
        let pm = image.protected_mode_offset();
        if pm >= bytes.len() {
            return Err(KernelImageError::Truncated {
                what: "the protected-mode kernel",
                end: pm,
                len: bytes.len(),
            });
        }
        let (start, end) = image.payload_range();
        if end > bytes.len() || start >= end {
            return Err(KernelImageError::Truncated {
                what: "the compressed payload",
                end,
                len: bytes.len(),
            });
        }
        Ok(image)
    }

    /// Where the protected-mode code starts in the file: after the boot
    /// sector and `setup_sects` sectors of real-mode code.
    pub fn protected_mode_offset(&self) -> usize {
        let sects = if self.header.setup_sects == 0 {
            4
        } else {
            usize::from(self.header.setup_sects)
        };
        (sects + 1) * 512
    }

    /// The protected-mode kernel: what a 64-bit boot loads at 1 MiB or above.
    pub fn protected_mode_code(&self) -> &'a [u8] {
        &self.bytes[self.protected_mode_offset()..]
    }

    fn payload_range(&self) -> (usize, usize) {
        let start = self
            .protected_mode_offset()
            .saturating_add(self.header.payload_offset as usize);
        (
            start,
            start.saturating_add(self.header.payload_length as usize),
        )
    }

    /// The compressed kernel.
    pub fn payload(&self) -> &'a [u8] {
        let (start, end) = self.payload_range();
        &self.bytes[start..end]
    }

    pub fn compression(&self) -> Compression {
        Compression::detect(self.payload())
    }

    /// The human-readable version string the header points to, e.g.
    /// `6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ... Debian 6.1.192-2 (...)`.
    pub fn version_string(&self) -> Option<String> {
        if self.header.kernel_version_offset == 0 {
            return None;
        }
        let at = usize::from(self.header.kernel_version_offset) + 0x200;
        let rest = self.bytes.get(at..)?;
        let end = rest.iter().take(512).position(|&b| b == 0)?;
        let s = std::str::from_utf8(&rest[..end]).ok()?;
        Some(s.to_owned())
    }

    /// The release alone (`uname -r` in the guest), e.g. `6.1.0-56-amd64`.
    pub fn release(&self) -> Option<String> {
        self.version_string()
            .and_then(|s| s.split_whitespace().next().map(str::to_owned))
    }
}

/// True if `bytes` look like an ELF file (an uncompressed `vmlinux`).
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// The first four bytes (zero-padded): the magic number that names a
/// format, for error messages about unknown ones.
pub fn magic(bytes: &[u8]) -> [u8; 4] {
    let mut m = [0; 4];
    let n = bytes.len().min(4);
    m[..n].copy_from_slice(&bytes[..n]);
    m
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal fake bzImage: boot sector + 1 setup sector + protected-mode
    /// part whose payload is `payload`, with the version string "6.1.0-test (x) #1".
    pub(crate) fn fake_bzimage(payload: &[u8]) -> Vec<u8> {
        let setup_sects = 1u8;
        let pm = (usize::from(setup_sects) + 1) * 512;
        let payload_offset = 0x40usize;
        let mut b = vec![0u8; pm + payload_offset + payload.len()];
        b[0x1f1] = setup_sects;
        b[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
        b[0x202..0x206].copy_from_slice(&HDRS_MAGIC.to_le_bytes());
        b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        // Version string at 0x300 (offset less 0x200 = 0x100).
        b[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let v = b"6.1.0-test (x) #1\0";
        b[0x300..0x300 + v.len()].copy_from_slice(v);
        b[0x211] = 1;
        // code32_start: the protected-mode code loads at 1 MiB.
        b[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes());
        b[0x22c..0x230].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        b[0x230..0x234].copy_from_slice(&0x20_0000u32.to_le_bytes());
        b[0x234] = 1;
        b[0x236..0x238].copy_from_slice(&0x7fu16.to_le_bytes());
        b[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes());
        b[0x248..0x24c].copy_from_slice(&(payload_offset as u32).to_le_bytes());
        b[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        b[0x258..0x260].copy_from_slice(&0x100_0000u64.to_le_bytes());
        b[0x260..0x264].copy_from_slice(&0x200_0000u32.to_le_bytes());
        b[pm + payload_offset..].copy_from_slice(payload);
        b
    }

    pub(crate) fn fake_elf() -> Vec<u8> {
        let mut e = b"\x7fELF".to_vec();
        e.extend((0..10_000u32).map(|i| (i % 251) as u8));
        e
    }

    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).expect("writing to a Vec");
        enc.finish().expect("writing to a Vec")
    }

    #[test]
    fn parses_header_and_version() {
        let img = fake_bzimage(&gzip(&fake_elf()));
        let bz = BzImage::parse(&img).expect("valid fake bzImage");
        assert_eq!(bz.header.version, 0x020f);
        assert_eq!(bz.header.cmdline_size, 2047);
        assert_eq!(bz.protected_mode_offset(), 1024);
        assert_eq!(bz.compression(), Compression::Gzip);
        assert_eq!(bz.release().as_deref(), Some("6.1.0-test"));
    }

    #[test]
    fn not_a_kernel_is_named() {
        let junk = vec![0x42u8; 4096];
        let e = BzImage::parse(&junk).unwrap_err();
        assert!(matches!(e, KernelImageError::NoBootSignature), "{e}");
        assert!(e.to_string().contains("not a Linux kernel"));
        let e = BzImage::parse(b"#!/bin/sh\n").unwrap_err();
        assert!(matches!(e, KernelImageError::TooShort { len: 10 }), "{e}");
    }

    #[test]
    fn truncated_kernel_is_named() {
        let img = fake_bzimage(&gzip(&fake_elf()));
        let cut = &img[..img.len() - 100];
        let e = BzImage::parse(cut).unwrap_err();
        assert!(matches!(e, KernelImageError::Truncated { .. }), "{e}");
        assert!(e.to_string().contains("truncated"));
    }

    #[test]
    fn old_protocol_and_32_bit_are_refused() {
        let mut img = fake_bzimage(&gzip(&fake_elf()));
        img[0x206..0x208].copy_from_slice(&0x0204u16.to_le_bytes());
        assert!(matches!(
            BzImage::parse(&img),
            Err(KernelImageError::OldProtocol(0x0204))
        ));
        let mut img = fake_bzimage(&gzip(&fake_elf()));
        img[0x236] = 0;
        assert!(matches!(
            BzImage::parse(&img),
            Err(KernelImageError::No64BitEntry)
        ));
    }
}
