//! Every environment by name: what `--env` accepts, and the row each name
//! builds.
//!
//! A name is `KIND` or `KIND:VARIANT` (`container:full`, `vm-bare:process`,
//! `peer:crun`); `native` is the baseline every ratio is relative to. An
//! environment this host cannot run is still built, as a row that says why
//! ([`super::Unavailable`] or the environment's own `unavailable`), so that
//! every run's table lists the same rows.

use super::{
    container, container_warm, native, peer, vm_bare, vm_bare_restored, vm_bare_warm, vm_linux,
};
use super::{Context, Environment};

/// Parses one `--env` name into an environment of this build. `explicit`:
/// the user named it (a missing prerequisite is then an error, not a skip).
pub fn by_name(name: &str, cx: &Context, explicit: bool) -> anyhow::Result<Box<dyn Environment>> {
    let exe = cx.exe;
    match name {
        "native" => Ok(Box::new(native::Native::new(exe.path().to_owned()))),
        "vm-bare" => Ok(Box::new(vm_bare::VmBare::new(vm_bare::Mode::InProcess))),
        "vm-bare:uart" => Ok(Box::new(vm_bare::VmBare::uart())),
        "container" => Ok(Box::new(container::ContainerEnv::new(
            "full",
            exe.path().to_owned(),
        )?)),
        "container:warm" => Ok(Box::new(container_warm::ContainerWarm::new(
            exe.path().to_owned(),
        ))),
        other if other.starts_with("container:") => Ok(Box::new(container::ContainerEnv::new(
            &other["container:".len()..],
            exe.path().to_owned(),
        )?)),
        "vm-bare:process" => Ok(Box::new(vm_bare::VmBare::own_process(
            cx.vmvc_exe.as_deref(),
        )?)),
        "vm-bare:warm" => Ok(Box::new(vm_bare_warm::VmBareWarm::new(
            vm_bare_warm::Start::Boot,
        ))),
        "vm-bare:restored+ksm" => Ok(Box::new(vm_bare_restored::VmBareRestored::with_ksm())),
        "vm-bare:restored+pool" => Ok(Box::new(vm_bare_warm::VmBareWarm::new(
            vm_bare_warm::Start::Restore(None),
        ))),
        "vm-bare:restored" => Ok(Box::<vm_bare_restored::VmBareRestored>::default()),
        "vm-linux" => vm_linux::from_context(cx, explicit, false),
        "vm-linux:process" => vm_linux::from_context(cx, explicit, true),
        "vm-linux:restored" => vm_linux::restored::from_context(cx, explicit),
        "peer:crun" | "peer:runc" | "peer:bwrap" => {
            let env = peer::PeerEnv::from_name(name, exe.path().to_owned())
                .ok_or_else(|| anyhow::anyhow!("no peer environment {name:?}"))?;
            Ok(Box::new(env))
        }
        "peer:qemu" => Ok(Box::new(peer::qemu_env(None))),
        "peer:qemu-linux" => peer::qemu_linux::from_context(cx, explicit),
        "peer:firecracker" => Ok(Box::new(peer::firecracker_env(cx.firecracker.clone()))),
        "peer:cloud-hypervisor" => Ok(Box::new(peer::cloud_hypervisor_env(
            cx.cloud_hypervisor.clone(),
        ))),
        other => anyhow::bail!(
            "unknown environment {other:?}; known environments: {}",
            KNOWN.join(", ")
        ),
    }
}

/// Every environment name `--env` accepts.
pub const KNOWN: &[&str] = &[
    "native",
    "container:chroot",
    "container:chroot+cgroup",
    "container:full",
    "container:full-nosec",
    "container:warm",
    "peer:crun",
    "peer:runc",
    "peer:bwrap",
    "vm-bare",
    "vm-bare:process",
    "vm-bare:uart",
    "peer:qemu",
    "peer:firecracker",
    "peer:cloud-hypervisor",
    "vm-bare:warm",
    "vm-bare:restored",
    "vm-bare:restored+pool",
    "vm-linux",
    "vm-linux:process",
    "vm-linux:restored",
    "peer:qemu-linux",
];

/// Rows `vmvc run` measures only when asked by name: they change something
/// on the whole host while they run (`vm-bare:restored+ksm` turns on the
/// kernel's same-page merging, then restores its settings).
pub const OPT_IN: &[&str] = &["vm-bare:restored+ksm"];
