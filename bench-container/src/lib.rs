//! `bench-container`: a container from scratch, in a few hundred lines on
//! top of [`nix`], to see that "a container" is an ordinary process that the
//! kernel shows a different world and holds to limits.
//!
//! # What a container is made of
//!
//! **Namespaces** (namespaces(7)) change what a process *sees*. Each is
//! created by a `CLONE_NEW*` flag to `clone(2)`; the child is the first
//! member:
//!
//! | namespace | flag | isolates |
//! |---|---|---|
//! | mount | `CLONE_NEWNS` | the mount table: mounts made inside are invisible outside (once `/` is made private, mount_namespaces(7)) |
//! | pid | `CLONE_NEWPID` | process ids: the child is PID 1 of a new numbering and sees only its descendants (pid_namespaces(7)); when it exits, the kernel kills the rest |
//! | uts | `CLONE_NEWUTS` | hostname and NIS domain name (uts_namespaces(7)) |
//! | ipc | `CLONE_NEWIPC` | System V IPC objects and POSIX message queues (ipc_namespaces(7)) |
//! | net | `CLONE_NEWNET` | network devices, addresses, routes, ports, firewall: a new one has only `lo`, down (network_namespaces(7)); the most expensive one to create |
//!
//! | user | `CLONE_NEWUSER` | user and group ids: root inside maps to an ordinary user outside, and the capabilities it holds count only for namespaces and mounts that belong to it (user_namespaces(7)); what lets a normal user do all of the above: a [`Runtime::rootless`] adds it to every container ([`userns`]) |
//!
//! (Not used here: cgroup namespaces, which hide the cgroup path.)
//!
//! **The root directory** decides which files a process can name.
//! `chroot(2)` changes only the process's root directory: the mounts stay,
//! the current directory may stay outside, and a root process can chroot
//! again into a subdirectory and walk `..` out of the old root (the classic
//! escape; the man page says chroot "is not intended to be used for any kind
//! of security purpose"). `pivot_root(2)` instead changes the root *mount*
//! of the whole mount namespace; once the old root is unmounted
//! (`MNT_DETACH`), the host's tree is not reachable by any path at all. That
//! is why the `full` profile uses pivot_root in a new mount namespace.
//!
//! **Control groups** change how much a process can *use*: memory, CPU
//! time, number of processes. See [`cgroup`] and the kernel's
//! `Documentation/admin-guide/cgroup-v2.rst` and `cgroup-v1/`.
//!
//! # The three profiles
//!
//! - [`Profile::Chroot`]: chroot only, the "directory jail";
//! - [`Profile::ChrootCgroup`]: chroot and a cgroup, the classic definition;
//! - [`Profile::Full`]: mount, pid, uts, ipc and net namespaces,
//!   pivot_root with the old root detached, a read-only bind of the rootfs,
//!   its own `/proc` and hostname, and a cgroup.
//!
//! # Use
//!
//! ```no_run
//! use bench_container::{Profile, RootfsBuilder, Runtime, Spec};
//! use std::sync::Arc;
//! # fn main() -> bench_container::Result<()> {
//! let runtime = Runtime::new()?; // detects cgroup v1/v2, cleans up crashed runs
//! let rootfs = Arc::new(RootfsBuilder::new().file("/path/to/static-prog", "/prog").build()?);
//! let mut c = runtime.spawn(&Spec::new("demo", Profile::Full, rootfs, "/prog"))?;
//! println!("phases: {:?}", c.marks());
//! let exit = c.wait()?;
//! # Ok(()) }
//! ```
//!
//! Everything a launch creates is released on every path by RAII: a
//! [`Container`] kills and reaps its process and removes its cgroup on drop,
//! a [`Rootfs`] removes its temp dir, a [`Runtime`] its cgroup directory.
//! What a killed launcher leaves behind is found and removed by the next
//! [`Runtime::new`] (see [`owner`]).

pub mod cgroup;
pub mod container;
pub mod error;
pub mod memory;
pub mod owner;
pub mod rootfs;
pub mod userns;

pub use cgroup::{ChargeSplit, CpuQuota, Layout, Limits, Usage};
pub use container::zygote::{self, Forked, Zygote};
pub use container::{validate_name, Container, Exit, Profile, Runtime, Spec, Teardown};
pub use error::{Error, Result};
pub use memory::MemoryReport;
pub use rootfs::{Rootfs, RootfsBuilder};
pub use userns::IdMap;

/// True when running as root (euid 0): what namespaces, mounts and cgroups need here.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
