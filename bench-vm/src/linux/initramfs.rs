//! The initramfs: the guest's first (and here only) file system.
//!
//! At boot the kernel unpacks a cpio archive it finds in memory (where the
//! boot loader put it: `ramdisk_image`/`ramdisk_size` in the zero page) into
//! a RAM-backed root file system, then runs `/init` in it as PID 1 (Linux
//! `Documentation/filesystems/ramfs-rootfs-initramfs.rst`). No disk, no
//! driver, no file system module is needed: this is the smallest possible
//! userspace, and here it is just our workload binary.
//!
//! The archive format is cpio "newc" (`Documentation/driver-api/early-userspace/buffer-format.rst`):
//! each file is a 110-byte ASCII header (the magic `070701` and 13 fields of
//! 8 hex digits), its NUL-terminated name padded to 4 bytes, and its data
//! padded to 4 bytes; the file named `TRAILER!!!` ends the archive.
//!
//! [`Initramfs::for_init`] builds what `vm-linux` boots: `/init` (the
//! workload), `/dev/console` (the kernel opens it as init's stdin, stdout
//! and stderr; without it: "Warning: unable to open an initial console"),
//! `/dev/null`, and `/proc` for the workload to mount.

/// Why an archive cannot be written: an entry that a cpio reader (the
/// kernel's `init/initramfs.c`) would read back as something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpioError {
    #[error("initramfs entry {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("initramfs entry {name:?} is {len} bytes; a newc header holds sizes below 4 GiB")]
    TooLarge { name: String, len: usize },
}

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path without a leading `/`, e.g. `dev/console`.
    pub name: String,
    /// File type and permission bits, as in `st_mode`.
    pub mode: u32,
    /// For device nodes: (major, minor).
    pub rdev: (u32, u32),
    pub data: Vec<u8>,
}

/// `st_mode` file types (`inode(7)`).
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFLNK: u32 = 0o120000;

/// An initramfs being built.
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    entries: Vec<Entry>,
}

impl Initramfs {
    pub fn new() -> Initramfs {
        Initramfs::default()
    }

    /// The `vm-linux` initramfs: `init` is the program the kernel runs as PID 1.
    pub fn for_init(init: &[u8]) -> Initramfs {
        let mut fs = Initramfs::new();
        fs.dir("dev", 0o755);
        // Character devices 5:1 and 1:3 (Documentation/admin-guide/devices.txt).
        fs.char_dev("dev/console", 0o600, 5, 1);
        fs.char_dev("dev/null", 0o666, 1, 3);
        fs.dir("proc", 0o555);
        fs.dir("sys", 0o555);
        fs.dir("tmp", 0o1777);
        fs.file("init", 0o755, init.to_vec());
        fs
    }

    pub fn dir(&mut self, name: &str, perm: u32) -> &mut Self {
        self.push(name, S_IFDIR | perm, (0, 0), Vec::new())
    }

    pub fn file(&mut self, name: &str, perm: u32, data: Vec<u8>) -> &mut Self {
        self.push(name, S_IFREG | perm, (0, 0), data)
    }

    /// A symbolic link `name` -> `target` (in newc, the target is the data).
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.push(name, S_IFLNK | 0o777, (0, 0), target.as_bytes().to_vec())
    }

    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> &mut Self {
        self.push(name, S_IFCHR | perm, (major, minor), Vec::new())
    }

    fn push(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: Vec<u8>) -> &mut Self {
        self.entries.push(Entry {
            name: name.trim_start_matches('/').to_owned(),
            mode,
            rdev,
            data,
        });
        self
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The archive, uncompressed (the kernel would also take gzip etc., but
    /// decompressing costs the guest time and our archive is small).
    /// Refuses what newc cannot carry faithfully: an empty name, a NUL in a
    /// name (it ends the name), the end marker `TRAILER!!!` as a name (it
    /// ends the archive), a file of 4 GiB or more (the size field is 32-bit).
    /// The fuzz test `tests/fuzz_loaders.rs` found the first three written
    /// silently, read back as a different archive.
    pub fn to_cpio(&self) -> Result<Vec<u8>, CpioError> {
        for e in &self.entries {
            let bad = |why| CpioError::BadName {
                name: e.name.clone(),
                why,
            };
            if e.name.is_empty() {
                return Err(bad("an empty name (or only slashes)"));
            }
            if e.name.contains('\0') {
                return Err(bad("a NUL byte in the name would end it"));
            }
            if e.name == "TRAILER!!!" {
                return Err(bad("the name marks the end of a cpio archive"));
            }
            let len = e.data.len().max(e.name.len() + 1);
            if u32::try_from(len).is_err() {
                return Err(CpioError::TooLarge {
                    name: e.name.chars().take(64).collect(),
                    len,
                });
            }
        }
        let mut out = Vec::with_capacity(
            self.entries
                .iter()
                .map(|e| 120 + e.name.len() + e.data.len())
                .sum::<usize>()
                + 128,
        );
        for (i, e) in self.entries.iter().enumerate() {
            let nlink = if e.mode & S_IFDIR != 0 { 2 } else { 1 };
            write_entry(
                &mut out,
                i as u32 + 1,
                e.mode,
                nlink,
                e.rdev,
                &e.name,
                &e.data,
            );
        }
        write_entry(&mut out, 0, 0, 1, (0, 0), "TRAILER!!!", &[]);
        Ok(out)
    }
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() & 3 != 0 {
        out.push(0);
    }
}

fn write_entry(
    out: &mut Vec<u8>,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    name: &str,
    data: &[u8],
) {
    let fields = [
        ino,
        mode,
        0, // uid: root
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor (of the file system; unused)
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1, // namesize, with the NUL
        0,                     // check (only for the "070702" CRC format)
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

/// Reads a newc archive back (for tests and for checking what we built).
pub fn parse_cpio(mut bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    loop {
        if bytes.len() < 110 {
            return Err(format!("truncated header at offset {offset}"));
        }
        if &bytes[..6] != b"070701" {
            return Err(format!("bad magic at offset {offset}"));
        }
        let field = |i: usize| -> Result<u32, String> {
            let s =
                std::str::from_utf8(&bytes[6 + i * 8..14 + i * 8]).map_err(|e| e.to_string())?;
            u32::from_str_radix(s, 16).map_err(|e| format!("field {i} at offset {offset}: {e}"))
        };
        let (mode, filesize, rmaj, rmin, namesize) = (
            field(1)?,
            field(6)? as usize,
            field(9)?,
            field(10)?,
            field(11)? as usize,
        );
        let name_end = 110 + namesize;
        let data_start = name_end.div_ceil(4) * 4;
        let data_end = data_start + filesize;
        if bytes.len() < data_end || namesize == 0 {
            return Err(format!("truncated entry at offset {offset}"));
        }
        let name = String::from_utf8_lossy(&bytes[110..name_end - 1]).into_owned();
        if name == "TRAILER!!!" {
            return Ok(entries);
        }
        entries.push(Entry {
            name,
            mode,
            rdev: (rmaj, rmin),
            data: bytes[data_start..data_end].to_vec(),
        });
        let next = data_end.div_ceil(4) * 4;
        offset += next;
        bytes = &bytes[next.min(bytes.len())..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_linux_initramfs_has_init_and_console() {
        let init = b"\x7fELF pretend".to_vec();
        let cpio = Initramfs::for_init(&init).to_cpio().unwrap();
        assert_eq!(cpio.len() % 4, 0);
        let entries = parse_cpio(&cpio).expect("our own archive parses");
        let get = |n: &str| {
            entries
                .iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("{n} missing"))
        };
        let i = get("init");
        assert_eq!(i.data, init);
        assert_eq!(i.mode, S_IFREG | 0o755);
        let c = get("dev/console");
        assert_eq!(c.mode & 0o170000, S_IFCHR);
        assert_eq!(c.rdev, (5, 1));
        assert_eq!(get("dev").mode & 0o170000, S_IFDIR);
        // Directories come before what is in them (the kernel creates in order).
        let pos = |n: &str| entries.iter().position(|e| e.name == n);
        assert!(pos("dev") < pos("dev/console"));
    }

    #[test]
    fn header_layout_is_newc() {
        let mut fs = Initramfs::new();
        fs.file("a", 0o644, b"xyz".to_vec());
        let cpio = fs.to_cpio().unwrap();
        assert_eq!(&cpio[..6], b"070701");
        // namesize of "a" is 2, filesize 3.
        assert_eq!(&cpio[6 + 11 * 8..6 + 12 * 8], b"00000002");
        assert_eq!(&cpio[6 + 6 * 8..6 + 7 * 8], b"00000003");
        // name at 110, padded to 112, data at 112.
        assert_eq!(&cpio[110..112], b"a\0");
        assert_eq!(&cpio[112..115], b"xyz");
        assert!(cpio.windows(10).any(|w| w == b"TRAILER!!!"));
        assert!(parse_cpio(&cpio[..50]).is_err());
    }
}
