//! Snapshots: a guest saved at READY, restored into fresh VMs.
//!
//! A booted guest is nothing but its memory and its vCPU's registers (for
//! the bare guest: `crate::vcpu_state`). Save both, and any number of new
//! VMs can start from that point instead of booting: this is how Firecracker
//! starts microVMs in milliseconds (its `docs/snapshotting/snapshot-support.md`:
//! guest memory to a file, the VM state to another; a restore maps the memory
//! file `MAP_PRIVATE` and sets the state again).
//!
//! `MAP_PRIVATE` is the point (mmap(2)): the restored guest reads the
//! snapshot's pages straight from the page cache, shared by every VM
//! restored from it, and a page it writes is copied for it alone (copy on
//! write). N restored guests cost one snapshot plus what each one changed:
//! RSS counts the shared pages in every VM, PSS divides them among them.
//!
//! [`Snapshot::take`] saves a READY guest: it finishes the guest's last port
//! access (api.rst, `immediate_exit`), writes the pages of the boot region
//! [0, 4 MiB) that the guest touched into a sparse file (the scratch region is
//! still untouched at READY, which is checked) and keeps the vCPU state in
//! memory. [`Snapshot::restore`] times the restore in [`RESTORE_PHASES`]:
//!
//! | phase | what happens |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")` |
//! | `create_vm` | `KVM_CREATE_VM` |
//! | `map_snapshot` | guest RAM mapped, the file mapped `MAP_PRIVATE` over its first 4 MiB, memory slot |
//! | `vcpu_restore` | `KVM_CREATE_VCPU`, CPUID, then sregs, FPU/XSAVE, MSRs, regs |
//! | `resume` | first `KVM_RUN` until the guest asks for its first command |
//!
//! READY of a restored guest: it said READY before it was saved, so it
//! cannot say it again. What a guest does right after READY, in every
//! launch, is to ask for its first command: it returns from sending READY,
//! goes round its command loop and reads a command byte from the protocol
//! port (an `in`, a VM exit). A restored guest that gets there has run
//! restored code on restored registers, stack and memory, and is exactly
//! where a cold guest is after READY: waiting for a command. So `resume` ends
//! at that exit, one VM exit as a cold boot's READY is. The exit is left
//! unanswered until the first command comes, whose first byte is then put
//! where KVM takes it from (`vcpu_state::supply_pending_in`).
//!
//! [`Snapshot::restore_into`] restores into a VM of a pool
//! (`crate::warm`) instead: no VM or vCPU to create, the file mapped over
//! the start of its RAM, the registers set, `resume`
//! ([`RESTORE_INTO_PHASES`]). That is the snapshot used as Hyperlight
//! uses it, to reset a pooled sandbox to a known state.

use crate::bare::{BareVm, Ports, SLOT_BOOT};
use crate::error::{Error, GuestFault, Result};
use crate::phases::Phases;
use crate::snapshot_dir::SnapshotDir;
use crate::vcpu::Vcpu;
use crate::vcpu::{Flow, PortIo};
use crate::vcpu_state::{complete_pending_io, VcpuState};
use crate::vm::{Kvm, Vm};
use crate::warm::{fresh_memory, ParkedVm, WarmVm};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;
use workload::bare::{PORT_PROTOCOL, SCRATCH_BASE};

/// The phases of a restore (module docs).
pub const RESTORE_PHASES: [&str; 5] = [
    "kvm_open",
    "create_vm",
    "map_snapshot",
    "vcpu_restore",
    "resume",
];

/// The phases of a restore into a pooled VM ([`Snapshot::restore_into`]).
pub const RESTORE_INTO_PHASES: [&str; 3] = ["map_snapshot", "vcpu_restore", "resume"];

/// What the snapshot file covers: the boot region (image, stacks, tables).
const FILE_BYTES: u64 = SCRATCH_BASE;

/// A guest saved at READY: its memory in a file, its vCPU state.
pub struct Snapshot {
    state: VcpuState,
    ram_bytes: u64,
    /// Bytes of guest memory the file holds (the touched pages).
    saved_bytes: u64,
    file: File,
    // Last: the directory (and the file in it) goes when the snapshot does.
    dir: SnapshotDir,
}

impl Snapshot {
    /// Saves `vm`, which must be READY and not yet given a command. The
    /// guest stays usable (it can be shut down, or given commands).
    pub fn take(vm: &mut BareVm) -> Result<Snapshot> {
        let (size, host) = (vm.ram().size(), vm.ram().host_addr());
        if vm.read_pending {
            return Err(Error::Snapshot {
                step: "checking the guest",
                reason: "a restored guest waiting for its first command is snapshotted through \
                         its own snapshot, not again"
                    .into(),
            });
        }
        if scratch_touched(vm)? {
            return Err(Error::Snapshot {
                step: "checking the scratch region",
                reason: "the guest already used its scratch region: snapshots are taken at READY, \
                         before the first command"
                    .into(),
            });
        }
        complete_pending_io(vm.vcpu_mut())?;
        let state = VcpuState::save(vm.vcpu())?;

        let (dir, file, saved) = save_touched(host, FILE_BYTES)?;
        Ok(Snapshot {
            state,
            ram_bytes: size,
            saved_bytes: saved,
            file,
            dir,
        })
    }

    /// Guest memory the snapshot holds, bytes (the touched pages of the file).
    pub fn saved_bytes(&self) -> u64 {
        self.saved_bytes
    }

    /// Guest RAM of the VMs it restores, bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// Where the memory file is.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A fresh VM running the saved guest, timed in [`RESTORE_PHASES`];
    /// returned once the guest answered its first command.
    pub fn restore(&self, timeout: Duration) -> Result<BareVm> {
        let mut phases = Phases::start();
        let kvm = Kvm::open()?;
        phases.end("kvm_open");

        let mut vm = Vm::create(&kvm)?;
        phases.end("create_vm");

        // Plug the slot first, then map the file over its host range (KVM's
        // MMU notifier drops what the slot had mapped). The other order made
        // KVM_SET_USER_MEMORY_REGION wait for an SRCU grace period on PVM
        // (`kvm_swap_active_memslots` -> `synchronize_srcu`), about 3.7 ms a
        // step when other VMs exist, where this order took 0.07-0.12 ms.
        let host = vm.map_ram(self.ram_bytes)?.host_addr();
        vm.plug(SLOT_BOOT, 0, SCRATCH_BASE)?;
        map_file_over(host, &self.file, FILE_BYTES)?;
        phases.end("map_snapshot");

        let vcpu = Vcpu::create(&kvm, &vm, 0)?;
        self.state.restore(&vcpu)?;
        phases.end("vcpu_restore");

        let mut bare = BareVm::assemble(kvm, vm, vcpu, phases, Ports::default(), false);
        resume(&mut bare, timeout)?;
        Ok(bare)
    }

    /// The saved guest running in `parked`, a VM of the pool, timed in
    /// [`RESTORE_INTO_PHASES`]; its teardown parks the VM again.
    pub fn restore_into(&self, parked: ParkedVm, timeout: Duration) -> Result<WarmVm> {
        let mut phases = Phases::start();
        let (kvm, vm, mut vcpu, fresh) = parked.into_parts();
        let ram = vm.ram()?;
        if ram.size() != self.ram_bytes {
            return Err(Error::Snapshot {
                step: "restoring into a pooled VM",
                reason: format!(
                    "its RAM is {} bytes, the snapshot's {}",
                    ram.size(),
                    self.ram_bytes
                ),
            });
        }
        // Whatever the last guest left is replaced: the file over the boot
        // region, fresh memory over the rest. The memory slots stay.
        fresh_memory(ram.host_addr(), ram.size())?;
        map_file_over(ram.host_addr(), &self.file, FILE_BYTES)?;
        phases.end("map_snapshot");

        self.state.restore(&vcpu)?;
        vcpu.reset_exits();
        phases.end("vcpu_restore");

        let mut bare = BareVm::assemble(kvm, vm, vcpu, phases, Ports::default(), true);
        resume(&mut bare, timeout)?;
        Ok(WarmVm::from_parts(bare, fresh))
    }
}

/// The `resume` phase: runs the restored guest until its first read of a
/// command byte, which stays unanswered (module docs).
fn resume(bare: &mut BareVm, timeout: Duration) -> Result<()> {
    bare.vcpu_mut().run(&mut UntilFirstRead, Some(timeout))?;
    bare.read_pending = true;
    bare.end_phase("resume");
    Ok(())
}

/// Pauses the guest at its first read of the protocol port, without
/// answering it; anything else before that is not what a READY guest does.
struct UntilFirstRead;

impl PortIo for UntilFirstRead {
    fn write(&mut self, port: u16, data: &[u8]) -> std::result::Result<Flow, GuestFault> {
        Err(GuestFault::Protocol(format!(
            "a restored guest wrote {data:?} to port {port:#x} before asking for a command"
        )))
    }

    fn read(&mut self, port: u16, data: &mut [u8]) -> std::result::Result<Flow, GuestFault> {
        match (port, data.len()) {
            (PORT_PROTOCOL, 1) => Ok(Flow::Pause),
            (port, size) => Err(GuestFault::UnexpectedPort {
                port,
                write: false,
                size,
            }),
        }
    }
}

/// Writes the pages of guest RAM `[host, host + len)` that were touched
/// (resident) into a new sparse file `memory` of `len` bytes, in a new
/// [`SnapshotDir`]: the rest stays holes, read back as zeros. Returns the
/// directory, the file and the bytes written. The guest must be stopped.
pub(crate) fn save_touched(host: *mut u8, len: u64) -> Result<(SnapshotDir, File, u64)> {
    let dir = SnapshotDir::create()?;
    let path = dir.path().join("memory");
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(snap_err("creating the memory file"))?;
    file.set_len(len)
        .map_err(snap_err("sizing the memory file"))?;
    let page = crate::memory::page_size();
    let resident = resident_pages(host, len as usize, page)?;
    let mut saved = 0u64;
    for (i, touched) in resident.iter().enumerate() {
        if !touched {
            continue;
        }
        // SAFETY: page i lies inside the guest-RAM mapping (the callers pass
        // a part of their VM's RAM, which they keep alive); the guest is
        // stopped (they hold its vCPU), so nothing writes the page meanwhile.
        let bytes = unsafe { std::slice::from_raw_parts(host.add(i * page), page) };
        file.write_all_at(bytes, (i * page) as u64)
            .map_err(snap_err("writing the memory file"))?;
        saved += page as u64;
    }
    Ok((dir, file, saved))
}

/// Whether any page above the boot region is resident (the guest used its
/// scratch region).
fn scratch_touched(vm: &BareVm) -> Result<bool> {
    let ram = vm.ram();
    let page = crate::memory::page_size();
    let len = (ram.size() - FILE_BYTES) as usize;
    // SAFETY: FILE_BYTES < size (a bare VM has RAM above the boot region).
    let start = unsafe { ram.host_addr().add(FILE_BYTES as usize) };
    Ok(resident_pages(start, len, page)?.into_iter().any(|r| r))
}

/// Which pages of `[addr, addr + len)` (inside our own mapping) are resident.
fn resident_pages(addr: *mut u8, len: usize, page: usize) -> Result<Vec<bool>> {
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: the range lies inside a live mapping of this process (the
    // callers pass parts of guest RAM), and `vec` has a byte per page.
    let rc = unsafe { libc::mincore(addr.cast(), len, vec.as_mut_ptr()) };
    if rc != 0 {
        return Err(Error::os("mincore on guest RAM")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(vec.into_iter().map(|b| b & 1 != 0).collect())
}

/// Maps the snapshot file `MAP_PRIVATE` over the first `len` bytes of the
/// guest-RAM mapping at `host` (replacing those anonymous pages).
pub(crate) fn map_file_over(host: *mut u8, file: &File, len: u64) -> Result<()> {
    // SAFETY: the callers pass a [host, host + len) inside the guest-RAM
    // mapping of a VM whose guest is not running (a new VM, or a parked
    // one); MAP_FIXED replaces exactly those pages, and the whole range is
    // still unmapped at once when the RAM is dropped (vm-memory's munmap
    // covers it). No Rust reference points into it.
    let p = unsafe {
        libc::mmap(
            host.cast(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_NORESERVE,
            file.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED || p != host.cast() {
        return Err(Error::Snapshot {
            step: "mapping the memory file MAP_PRIVATE",
            reason: std::io::Error::last_os_error().to_string(),
        });
    }
    Ok(())
}

fn snap_err(step: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Snapshot {
        step,
        reason: e.to_string(),
    }
}
