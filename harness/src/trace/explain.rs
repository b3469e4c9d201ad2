//! What each system call of a launch does, in one line, with where to read
//! more: the man pages for the container's calls, the KVM API document
//! (Linux `Documentation/virt/kvm/api.rst`) for the VMM's ioctls.
//!
//! Only the calls that build, enter or tear down the environment are
//! explained; the rest (memory mappings, reads of vmvc's own files,
//! signals, timers) are counted, not narrated.

use super::strace::Call;

/// One narrated step: what it did and where that is documented.
pub struct Step {
    pub what: String,
    pub source: String,
}

fn step(what: impl Into<String>, source: impl Into<String>) -> Option<Step> {
    Some(Step {
        what: what.into(),
        source: source.into(),
    })
}

/// The explanation of `c`, or `None` for a call not worth narrating.
pub fn explain(c: &Call) -> Option<Step> {
    let a = c.args.as_str();
    match c.name.as_str() {
        "openat" if a.contains("\"/dev/kvm\"") => step(
            "opens /dev/kvm: the VMM's handle on the kernel's hypervisor",
            "KVM API, 2 \"File descriptors\"",
        ),
        "ioctl" => kvm_ioctl(c),
        "mkdir" if a.contains("/sys/fs/cgroup") && !c.result.starts_with("-1") => step(
            "creates a cgroup: the kernel makes its control files (limits, accounting)",
            "cgroups(7)",
        ),
        "rmdir" if a.contains("/sys/fs/cgroup") => step(
            "removes the cgroup (it must hold no process any more)",
            "cgroups(7)",
        ),
        "write" if a.contains("cgroup.procs") || a.contains("/tasks>") => step(
            "moves a process into the cgroup: from now on its memory and CPU are charged there",
            "cgroups(7)",
        ),
        "clone3" | "clone" | "unshare" => {
            let ns: Vec<&str> = [
                ("CLONE_NEWNS", "mount"),
                ("CLONE_NEWPID", "pid"),
                ("CLONE_NEWUTS", "uts"),
                ("CLONE_NEWIPC", "ipc"),
                ("CLONE_NEWNET", "net"),
                ("CLONE_NEWUSER", "user"),
                ("CLONE_NEWCGROUP", "cgroup"),
            ]
            .iter()
            .filter(|(flag, _)| a.contains(flag))
            .map(|(_, name)| *name)
            .collect();
            if ns.is_empty() {
                step(
                    "makes the child process, sharing every namespace with its parent",
                    "clone(2)",
                )
            } else {
                let net = if ns.contains(&"net") {
                    "; a new network namespace means a new network stack (loopback, routing, sockets), the dearest of them"
                } else {
                    ""
                };
                step(
                    format!(
                        "makes the child in new {} namespaces: the same kernel shows it a different world{net}",
                        ns.join(", ")
                    ),
                    "namespaces(7), clone(2)",
                )
            }
        }
        "vfork" | "fork" => step("makes the child process", "fork(2)"),
        // A masked or read-only path this kernel lacks: skipped, as runc does.
        "mount" if c.result.starts_with("-1 ENOENT") => step(
            "nothing to mask or protect: this kernel has no such path (skipped, as runc does)",
            "OCI runtime spec, config-linux.md",
        ),
        "mount" if c.result.starts_with("-1 ENOTDIR") => step(
            "a directory, not a file: masked with an empty tmpfs instead (next call)",
            "mount(2), ENOTDIR",
        ),
        "mount" => mount(a),
        "umount2" if a.contains("MNT_DETACH") => step(
            "detaches the old root: from now on no path leads back to the host's files",
            "umount(2), pivot_root(2)",
        ),
        "pivot_root" => step(
            "makes the container's rootfs the root of its mount namespace",
            "pivot_root(2)",
        ),
        "prctl" if a.contains("PR_SET_NO_NEW_PRIVS") => step(
            "sets no_new_privs: no set-uid or file-capability program can raise privileges again",
            "prctl(2), Documentation/userspace-api/no_new_privs.rst",
        ),
        "prctl" if a.contains("PR_CAP_AMBIENT") => step(
            "clears the ambient capabilities (after dropping the rest from the bounding set, one prctl each)",
            "capabilities(7)",
        ),
        "capset" => step(
            "keeps runc's 14 capabilities, effective and permitted; inheritable empty",
            "capset(2), capabilities(7)",
        ),
        "seccomp" if a.contains("SECCOMP_SET_MODE_FILTER") && !c.result.starts_with("-1") => step(
            "installs a seccomp filter: the kernel checks every later system call against it",
            "seccomp(2)",
        ),
        "chroot" => step(
            "changes where path lookups start: only the files change, no namespace",
            "chroot(2)",
        ),
        "sethostname" => step(
            "sets the hostname, seen only inside the new UTS namespace",
            "uts_namespaces(7)",
        ),
        "execve" => step(
            "replaces the child's program with the workload (or the tool): the same process, new code",
            "execve(2)",
        ),
        "socketpair" => step(
            "makes the socket the workload will say READY on",
            "socketpair(2)",
        ),
        "wait4" | "waitid" if !c.result.starts_with('0') && !c.result.starts_with("-1") => step(
            "reaps the child: collects its exit status, and its pid is free again",
            "wait(2)",
        ),
        "kill" | "pidfd_send_signal" => step("sends the workload a signal to stop it", "kill(2)"),
        "close" if a.contains("kvm-vm") => step(
            "closes the VM: KVM frees what it kept for the guest (the guest RAM is the VMM's own memory)",
            "KVM API, KVM_CREATE_VM; close(2)",
        ),
        "close" if a.contains("kvm-vcpu") => step("closes the vCPU", "KVM API, KVM_CREATE_VCPU; close(2)"),
        _ => None,
    }
}

/// The mount calls of a container's root set-up.
fn mount(a: &str) -> Option<Step> {
    if a.contains("MS_PRIVATE") {
        step(
            "makes every mount private: nothing mounted inside propagates to the host",
            "mount_namespaces(7)",
        )
    } else if a.contains("\"proc\"") {
        step(
            "mounts a procfs that shows only the container's pid namespace",
            "proc(5), pid_namespaces(7)",
        )
    } else if a.contains("\"/dev/null\"") {
        step(
            "masks a /proc file that shows the host (/proc/kcore, /proc/keys...): /dev/null over it",
            "OCI runtime spec, config-linux.md \"Masked Paths\"",
        )
    } else if a.contains("\"tmpfs\"") && a.contains("MS_RDONLY") {
        step(
            "masks a /proc directory that shows the host: an empty read-only tmpfs over it",
            "OCI runtime spec, config-linux.md \"Masked Paths\"",
        )
    } else if a.contains("/proc/") && a.contains("MS_REMOUNT") && a.contains("MS_RDONLY") {
        step(
            "makes a /proc path read-only (/proc/sys...): kernel-wide settings can be read, not written",
            "OCI runtime spec, config-linux.md \"Readonly Paths\"",
        )
    } else if a.contains("/proc/") && a.contains("MS_BIND") {
        step(
            "binds a /proc path onto itself, to remount it read-only next",
            "mount(2)",
        )
    } else if a.contains("MS_REMOUNT") && a.contains("MS_RDONLY") {
        step("makes the rootfs read-only", "mount(2)")
    } else if a.contains("MS_BIND") {
        step(
            "bind-mounts the rootfs onto itself: pivot_root needs a mount point",
            "mount(2), pivot_root(2)",
        )
    } else {
        step("mounts a file system", "mount(2)")
    }
}

/// The KVM ioctls, each as the KVM API document describes it.
fn kvm_ioctl(c: &Call) -> Option<Step> {
    let req = c.args.split(", ").nth(1)?.trim();
    let src = format!("KVM API (Documentation/virt/kvm/api.rst), {req}");
    let what = match req {
        "KVM_GET_API_VERSION" => "asks the KVM API version (12 since Linux 2.6.22)".to_owned(),
        "KVM_CREATE_VM" => {
            "creates a VM: a new guest address space, empty, and KVM's state for it".to_owned()
        }
        "KVM_GET_VCPU_MMAP_SIZE" => {
            "asks the size of kvm_run, the page a vCPU shares with the VMM".to_owned()
        }
        "KVM_SET_USER_MEMORY_REGION" => {
            "lends guest RAM: a range of this process's memory becomes guest physical memory"
                .to_owned()
        }
        "KVM_CREATE_VCPU" => "creates a virtual CPU".to_owned(),
        "KVM_GET_SUPPORTED_CPUID" => "asks which CPU features KVM can offer a guest".to_owned(),
        "KVM_SET_CPUID2" => "tells the vCPU which CPU features its guest sees (CPUID)".to_owned(),
        "KVM_GET_SREGS" => "reads the special registers (segments, CR0/CR3/CR4, EFER)".to_owned(),
        "KVM_SET_SREGS" => {
            "writes the special registers: paging and long mode on, before the first instruction"
                .to_owned()
        }
        "KVM_GET_REGS" => {
            "reads the general registers (e.g. the guest's RIP after it stopped)".to_owned()
        }
        "KVM_SET_REGS" => "writes the general registers: RIP at the guest's entry point".to_owned(),
        "KVM_SET_TSS_ADDR" | "KVM_SET_IDENTITY_MAP_ADDR" => {
            format!("{req}: guest addresses KVM keeps for itself on Intel CPUs")
        }
        "KVM_CREATE_IRQCHIP" => {
            "creates the interrupt controllers (PIC, IOAPIC, local APICs) inside KVM".to_owned()
        }
        "KVM_CREATE_PIT2" => "creates the PC timer (PIT) inside KVM".to_owned(),
        "KVM_SET_MSRS" | "KVM_GET_MSRS" => format!("{req}: model-specific registers of the vCPU"),
        "KVM_SET_FPU" | "KVM_SET_XSAVE" | "KVM_SET_XCRS" => format!("{req}: more vCPU state"),
        "KVM_GET_LAPIC" | "KVM_SET_LAPIC" => format!(
            "{req}: the vCPU's local APIC registers (a Linux guest: LINT0 and LINT1 wired for \
             the PIC's interrupts and NMI, as on a PC)"
        ),
        "KVM_IRQ_LINE" => "raises an interrupt line of the guest".to_owned(),
        "KVM_IRQFD" => "ties an eventfd to an interrupt line of the guest: a write to it \
                        raises the interrupt without an ioctl (the UART's IRQ 4)"
            .to_owned(),
        "KVM_RUN" => {
            let reason = c
                .result
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .unwrap_or("no exit reason shown");
            return step(
                format!(
                    "runs the guest until it exits: {reason}, {}",
                    exit_meaning(reason)
                ),
                "KVM API (Documentation/virt/kvm/api.rst), KVM_RUN and \"The kvm_run structure\"",
            );
        }
        other if other.starts_with("KVM_") => other.to_owned(),
        _ => return None,
    };
    step(what, src)
}

/// What a VM exit reason means for our guests.
fn exit_meaning(reason: &str) -> &'static str {
    match reason {
        "KVM_EXIT_IO" => {
            "the guest used an I/O port, and KVM hands the access to the VMM (a VM exit)"
        }
        "KVM_EXIT_MMIO" => "the guest touched device memory the VMM emulates",
        "KVM_EXIT_HLT" => "the guest halted its CPU",
        "KVM_EXIT_SHUTDOWN" => "the guest's CPU shut down (a triple fault)",
        "KVM_EXIT_INTR" => "a signal for the VMM thread interrupted the guest (a timeout)",
        "KVM_EXIT_INTERNAL_ERROR" => "KVM could not go on (an instruction it cannot emulate)",
        _ => "the VMM decides what happens next",
    }
}
