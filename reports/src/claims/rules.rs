//! The eight claims and their rules. Each function reads the run's figures
//! through [`Figures`], writes the figures it used as evidence, and applies
//! the rule its `rule` text states, nothing else.

use super::{signed_bytes, time, Claim, Figures, Verdict};
use crate::render::format::bytes;
use crate::schema::Identity;

type Rule = fn(&Figures, usize) -> Claim;

pub(super) const ALL: [Rule; 8] = [
    lightweight_vm,
    chroot_cgroup_guest_os,
    chroot_isolates,
    no_hypervisor,
    engine_is_kernel_interface,
    independent_os,
    lighter_than_vms,
    kernel_per_vm,
];

/// Where the rig's reference run is, for claims a host cannot test.
const RIG_REFERENCE: &str = "results/reference/rig/ in the vmvc repository is a run in the rig \
     (an emulated AMD-V machine) where Linux guests boot";

/// "The container's kernel", as the shell inside answered, against the host's.
/// `Some(true)`: the host's kernel (release and, where readable, boot id).
fn same_kernel_as_host(f: &Figures, env: &str, ev: &mut Vec<String>) -> Option<bool> {
    let (host_release, host_boot) = f.host_kernel();
    let id = f.identity(env)?;
    let release = id.kernel_release.as_deref()?;
    let mut same = release == host_release;
    ev.push(format!(
        "uname -r inside {env}: {release}; on the host: {host_release}"
    ));
    if let (Some(inside), Some(host)) = (id.boot_id.as_deref(), host_boot) {
        same &= inside == host;
        ev.push(format!(
            "boot id inside {env} {} the host's ({inside})",
            if inside == host {
                "equals"
            } else {
                "differs from"
            }
        ));
    }
    Some(same)
}

fn lightweight_vm(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let c = f.container();
    let same = c.and_then(|c| same_kernel_as_host(f, &c.name, &mut ev));
    let syscall_native = c.and_then(|c| {
        ev.push(f.ratio_text(c, "syscall"));
        f.native_speed(c, "syscall")
    });
    for vm in f.vms() {
        ev.push(f.ratio_text(vm, "syscall"));
    }
    // A VM has a kernel of its own (or none): a box on the host's kernel is not one.
    let is_vm = match (same, syscall_native) {
        (Some(same), _) => Some(!same),
        (None, Some(native)) => Some(!native),
        (None, None) => None,
    };
    Claim {
        no,
        korean: "도커 컨테이너는 경량화된 VM이다.",
        english: "A Docker container is a lightweight VM.",
        experiment: "Ask a shell inside the container which kernel it runs on (uname -r, boot id), and compare the container's system-call rate with native's.",
        rule: "A VM runs a kernel of its own (or none). True if the container answers with a kernel other than the host's; false if it answers with the host's release and boot id — or, without that answer, if its system calls run at native speed within 5 % or within the run's confidence interval.",
        evidence: ev,
        verdict: Verdict::of_parts(&[is_vm]),
    }
}

fn chroot_cgroup_guest_os(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let classic = f.env("container:chroot+cgroup");
    let built = classic.map(|c| {
        ev.push(f.ready_text(c));
        f.ready(c).is_some()
    });
    let c = f.container();
    let guest_os = c
        .and_then(|c| same_kernel_as_host(f, &c.name, &mut ev))
        .map(|same| !same);
    if let Some(o) = c.and_then(|c| f.overhead(c).map(|o| (c, o))) {
        ev.push(format!(
            "{} memory over native: {} (no second kernel's memory)",
            o.0.name,
            signed_bytes(o.1)
        ));
    }
    Claim {
        no,
        korean: "컨테이너는 chroot와 cgroup으로 만든 블록이고, 그 안에서 게스트 OS가 돈다.",
        english: "A container is a block made of chroot and cgroup, in which a guest OS runs.",
        experiment: "Start the workload in a box of chroot and a cgroup only (container:chroot+cgroup); ask a shell inside a container which kernel it runs on.",
        rule: "Two parts. (a) A box of chroot and cgroup: holds if container:chroot+cgroup started the workload. (b) A guest OS runs inside: holds only if the container answers with a kernel other than the host's. Both: true; one: half true; neither: false.",
        evidence: ev,
        verdict: Verdict::of_parts(&[built, guest_os]),
    }
}

fn chroot_isolates(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let host_name = f.identity("native").and_then(|i| i.hostname.clone());
    let mut views = |env: &str| -> Option<bool> {
        let id = f.identity(env)?;
        let own_pids = id.pid_inside.is_some() && id.pid_inside != id.pid_on_host;
        let own_name = id.hostname.is_some() && id.hostname != host_name;
        ev.push(format!(
            "a shell in {env} sees pid {} (the host: {}) and hostname {}",
            id.pid_inside.map_or("?".into(), |p| p.to_string()),
            id.pid_on_host.map_or("?".into(), |p| p.to_string()),
            id.hostname.as_deref().unwrap_or("?")
        ));
        Some(own_pids || own_name)
    };
    let chroot_isolates = views("container:chroot");
    let _ = views("container:full");
    // Files: the shell ran from a rootfs that holds only busybox, so chroot
    // did change what it sees; the claim is that it is *the* isolation.
    let verdict = match chroot_isolates {
        None => Verdict::NotTested,
        Some(true) => Verdict::True,
        Some(false) => Verdict::HalfTrue,
    };
    Claim {
        no,
        korean: "chroot가 컨테이너의 격리된 환경이다.",
        english: "chroot is the container's isolated environment.",
        experiment: "Ask a shell in container:chroot and in container:full for its pid and hostname, and look the same process up in the host's /proc (NSpid).",
        rule: "chroot changes the files a process sees (each shell runs from a rootfs holding only busybox). True if under chroot alone the shell also gets a pid or hostname of its own; half true if it sees the host's pids and hostname, so that the rest of the isolation must come from namespaces.",
        evidence: ev,
        verdict,
    }
}

fn no_hypervisor(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let c = f.container();
    let no_hv = c.and_then(|c| {
        ev.push(f.ratio_text(c, "cpu"));
        ev.push(f.ratio_text(c, "syscall"));
        Some(!f.slower(c, "cpu")? && !f.slower(c, "syscall")?)
    });
    // The reason given: chroot + cgroup alone. It holds if the classic box
    // isolates what container:full isolates; it does not if only the
    // namespaces give a private pid and hostname.
    let full = f.identity("container:full");
    let classic = f.identity("container:chroot+cgroup");
    let because = match (full, classic) {
        (Some(full), Some(classic)) => {
            let private = |i: &Identity| i.pid_inside.is_some() && i.pid_inside != i.pid_on_host;
            ev.push(format!(
                "pid inside container:full {}, inside container:chroot+cgroup {} (host pid {})",
                full.pid_inside.map_or("?".into(), |p| p.to_string()),
                classic.pid_inside.map_or("?".into(), |p| p.to_string()),
                classic.pid_on_host.map_or("?".into(), |p| p.to_string()),
            ));
            Some(private(classic) || !private(full))
        }
        _ => None,
    };
    if let Some(full) = f.env("container:full") {
        if let Some(clone) = f.phase(full, "clone") {
            ev.push(format!(
                "container:full's clone with five namespaces takes {}",
                time(clone)
            ));
        }
    }
    Claim {
        no,
        korean: "도커는 하이퍼바이저가 필요 없다. chroot가 파일을, cgroup이 자원을 나눠 주기 때문이다.",
        english: "Docker needs no hypervisor, because chroot gives the files and cgroup the resources.",
        experiment: "Compare the container's cpu and syscall rates with native's; ask container:full and container:chroot+cgroup for their pids.",
        rule: "Two parts. (a) No hypervisor: holds if neither the container's cpu nor its syscall rate is slower than native's (by more than 5 % and outside the run's confidence interval). (b) Because of chroot and cgroup: holds only if chroot+cgroup alone isolates what container:full isolates (a pid of its own). Both: true; one: half true; neither: false.",
        evidence: ev,
        verdict: Verdict::of_parts(&[no_hv, because]),
    }
}

fn engine_is_kernel_interface(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    // Every container row: ours and the container runtimes among the peers
    // (not the VMMs among them, whose guests have kernels of their own).
    let mut rows = f.rows("container:");
    rows.extend(
        ["peer:crun", "peer:runc", "peer:bwrap"]
            .iter()
            .filter_map(|n| f.env(n)),
    );
    let mut tested = Vec::new();
    for r in rows {
        ev.push(f.ratio_text(r, "syscall"));
        tested.push(f.slower(r, "syscall"));
    }
    let any_slower: Option<bool> = tested
        .iter()
        .copied()
        .collect::<Option<Vec<bool>>>()
        .map(|v| v.iter().any(|x| *x));
    let verdict = match (tested.is_empty(), any_slower) {
        (true, _) | (_, None) => Verdict::NotTested,
        (false, Some(false)) => Verdict::False,
        (false, Some(true)) => Verdict::HalfTrue,
    };
    Claim {
        no,
        korean: "도커 엔진이 호스트 OS와 컨테이너 사이에서 통합된 커널 인터페이스 역할을 한다.",
        english: "The Docker engine is the unified kernel interface between the host OS and the containers.",
        experiment: "Run a trivial system call in every container row (ours and the real runtimes) and compare its rate with native's.",
        rule: "If something stood between a container and the kernel, every system call would pay for it. False if no container row's syscall rate is slower than native's (by more than 5 % and outside the run's confidence interval): the host kernel answers directly; half true if some row is slower (something costs extra on that path, e.g. a filter), which still says nothing of an engine.",
        evidence: ev,
        verdict,
    }
}

fn independent_os(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let (_, host_boot) = f.host_kernel();
    let answered = f
        .run
        .identities
        .iter()
        .filter(|i| i.env.starts_with("container:") && i.error.is_none() && i.boot_id.is_some())
        .find_map(|i| Some((i.env.clone(), i.boot_id.clone()?)));
    let own = match (answered, host_boot) {
        (Some((env, inside)), Some(host)) => {
            ev.push(format!(
                "boot id inside {env}: {inside}; on the host: {host}"
            ));
            Some(inside != host)
        }
        _ => None,
    };
    if let Some(c) = f.container() {
        if let Some(o) = f.overhead(c) {
            ev.push(format!(
                "{} memory over native: {}",
                c.name,
                signed_bytes(o)
            ));
        }
    }
    Claim {
        no,
        korean: "각 컨테이너는 독립된 운영체제다.",
        english: "Each container is an independent operating system.",
        experiment: "Read the boot id inside a container and on the host: each running kernel draws its own at boot.",
        rule: "True if the container's boot id differs from the host's (a kernel of its own); false if it is the same (the host's kernel, shared). Not tested without a boot id from inside (a chroot without /proc cannot read one).",
        evidence: ev,
        verdict: Verdict::of_parts(&[own]),
    }
}

fn lighter_than_vms(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let c = f.env("container:full").or_else(|| f.container());
    let vms = f.vms();
    let (lighter, efficient) = match c {
        Some(c) if !vms.is_empty() => {
            ev.push(f.ready_text(c));
            let c_ready = f.ready(c);
            let c_over = f.overhead(c);
            let mut lighter = true;
            let mut slower = false;
            for vm in &vms {
                ev.push(f.ready_text(vm));
                if let Some(o) = f.overhead(vm) {
                    ev.push(format!(
                        "{} memory over native: {}",
                        vm.name,
                        signed_bytes(o)
                    ));
                }
                ev.push(f.ratio_text(vm, "cpu"));
                ev.push(f.ratio_text(vm, "syscall"));
                lighter &= matches!((c_ready, f.ready(vm)), (Some(a), Some(b)) if a * 10.0 <= b)
                    && matches!((c_over, f.overhead(vm)), (Some(a), Some(b)) if a < b);
                slower |=
                    f.slower(vm, "cpu") == Some(true) || f.slower(vm, "syscall") == Some(true);
            }
            (Some(lighter), Some(slower))
        }
        _ => (None, None),
    };
    Claim {
        no,
        korean: "컨테이너는 커널을 공유하므로 VM보다 훨씬 가볍고 자원 효율적이다.",
        english: "Containers are far lighter and more resource-efficient than VMs, because they share the kernel.",
        experiment: "Compare container:full with every VM row: time to READY, memory over native, and the cpu and syscall rates while running.",
        rule: "Two parts. (a) Far lighter: the container reaches READY at least 10x sooner than every VM and costs less memory. (b) More efficient while running: some VM runs cpu or syscall slower than native by more than 5 % and outside the run's confidence interval. Both: true; one: half true; neither: false.",
        evidence: ev,
        verdict: Verdict::of_parts(&[lighter, efficient]),
    }
}

fn kernel_per_vm(f: &Figures, no: usize) -> Claim {
    let mut ev = Vec::new();
    let bare = f.first(&["vm-bare", "vm-bare:process"]);
    if let Some(b) = bare {
        ev.push(format!(
            "{} reached READY in {} with no kernel in the guest",
            b.name,
            f.ready(b).map_or("—".into(), time)
        ));
    }
    let linux = f.first(&["vm-linux", "vm-linux:process"]);
    let verdict = match linux {
        Some(l) => {
            let kernel = f.component(l, "guest_kernel");
            if let Some(k) = kernel {
                ev.push(format!(
                    "{}: the guest kernel keeps {} of guest RAM for itself, READY after {}",
                    l.name,
                    bytes(k),
                    f.ready(l).map_or("—".into(), time)
                ));
            }
            // (a) needs a kernel: false if a bare VM ran without one.
            // (b) which wastes resources: holds if the guest kernel's own use is measured.
            Verdict::of_parts(&[bare.map(|_| false), kernel.map(|k| k > 0.0)])
        }
        None => {
            let why = f
                .skipped("vm-linux")
                .unwrap_or("no Linux guest was asked for in this run");
            ev.push(format!("vm-linux did not run: {why}"));
            ev.push(format!("Where it ran: {RIG_REFERENCE}."));
            Verdict::NotTested
        }
    };
    Claim {
        no,
        korean: "VM은 게스트마다 커널이 필요해서 자원을 낭비한다.",
        english: "A VM needs a kernel per guest, which wastes resources.",
        experiment: "Boot a Linux guest (vm-linux) and read what its kernel keeps for itself; run the bare guest (vm-bare), which has no kernel.",
        rule: "Two parts. (a) A VM needs a kernel: false if vm-bare ran the workload with none. (b) The kernel per guest costs resources: holds if vm-linux measured the guest kernel's own memory. Both: true; one: half true; neither: false. Not tested without a Linux guest.",
        evidence: ev,
        verdict,
    }
}
