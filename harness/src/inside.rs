//! A shell inside a container: busybox in a rootfs of its own, started by
//! `bench-container` with the same profile as a measured row.
//!
//! The workload binary answers only the measuring protocol; to *look* at a
//! container (`uname -r`, `hostname`, `ps`, `cat /proc/self/cgroup`) a
//! student wants a shell. busybox is one static executable that is every
//! common command at once (it picks the command from `argv[1]` or the name
//! it was started by), so a rootfs that holds it alone is enough: nothing
//! from the host's `/bin` or `/lib` is visible inside. Debian's
//! `busybox-static` package puts it at `/bin/busybox` (scripts/setup.sh
//! installs it).

use anyhow::Context;
use bench_container::{Container, Limits, Profile, Rootfs, RootfsBuilder, Runtime, Spec};
use std::path::PathBuf;
use std::sync::Arc;

/// Where busybox lives inside the rootfs.
pub const BUSYBOX_IN_ROOTFS: &str = "/bin/busybox";

/// The host's static busybox, or why there is none.
pub fn busybox() -> anyhow::Result<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .context(
            "no busybox on this host: install Debian's busybox-static \
             (scripts/setup.sh does), a static build that runs with no libraries",
        )
}

/// `/bin/cat -> busybox`, … for every applet: the shell then finds each
/// command as a file, as it would on a real system. Without the links
/// busybox runs an applet by re-executing itself through `/proc/self/exe`,
/// which a root without `/proc` (a plain chroot) does not have.
fn link_applets(busybox: &std::path::Path, rootfs: &Rootfs) -> anyhow::Result<()> {
    let bin = rootfs.host_path(std::path::Path::new("/bin"));
    for name in applets(busybox)? {
        std::os::unix::fs::symlink("busybox", bin.join(&name))
            .with_context(|| format!("linking /bin/{name} to busybox in the rootfs"))?;
    }
    Ok(())
}

/// The applets `busybox --list` names (plain words only, not `busybox`).
pub(crate) fn applets(busybox: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .context("asking busybox for its applets")?;
    Ok(String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(str::trim)
        // Applet names are plain words; anything else is not one.
        .filter(|n| !n.is_empty() && *n != "busybox" && !n.contains('/'))
        .map(String::from)
        .collect())
}

/// A container of `profile` whose rootfs holds only busybox, ready to start
/// busybox commands. Dropping it removes the rootfs and the cgroups.
pub struct BusyboxBox {
    profile: Profile,
    /// `Spec::secure`: the security defaults of the full profile.
    secure: bool,
    limits: Limits,
    runtime: Runtime,
    rootfs: Arc<Rootfs>,
}

impl BusyboxBox {
    pub fn new(profile: Profile) -> anyhow::Result<BusyboxBox> {
        let busybox = busybox()?;
        let runtime = if profile.uses_cgroup() {
            Runtime::new().context("setting up cgroups for the busybox container")?
        } else {
            Runtime::without_cgroups()
        };
        let rootfs = RootfsBuilder::new()
            .file(&busybox, BUSYBOX_IN_ROOTFS)
            .build()
            .context("assembling a rootfs that holds busybox")?;
        link_applets(&busybox, &rootfs)?;
        Ok(BusyboxBox {
            profile,
            secure: profile == Profile::Full,
            limits: Limits::default(),
            runtime,
            rootfs: Arc::new(rootfs),
        })
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Turns the full profile's security defaults off (`full-nosec`) or on.
    pub fn set_secure(&mut self, secure: bool) {
        self.secure = secure;
    }

    /// Limits for the containers it starts (their cgroup's memory, pids
    /// and CPU bandwidth); only for a profile with a cgroup.
    pub fn set_limits(&mut self, limits: Limits) -> anyhow::Result<()> {
        let any =
            limits.memory_bytes.is_some() || limits.pids_max.is_some() || limits.cpu.is_some();
        if any && !self.profile.uses_cgroup() {
            anyhow::bail!(
                "the {} profile has no cgroup, so nothing can hold it to a limit: \
                 use --profile chroot+cgroup or full",
                self.profile.name()
            );
        }
        self.limits = limits;
        Ok(())
    }

    /// Starts `busybox <args…>` in a new container called `name`, with
    /// `PATH=/bin` so that its applets are found by name, stdout (and
    /// stderr) to `stdout` when given, the launcher's otherwise.
    pub fn spawn(
        &self,
        name: &str,
        args: &[&str],
        stdout: Option<std::os::fd::RawFd>,
    ) -> anyhow::Result<Container> {
        let mut spec = Spec::new(name, self.profile, self.rootfs.clone(), BUSYBOX_IN_ROOTFS);
        spec.args = args.iter().map(|a| a.to_string()).collect();
        spec.env = vec!["PATH=/bin".into(), "HOME=/".into()];
        if let Some(term) = std::env::var_os("TERM") {
            spec.env.push(format!("TERM={}", term.to_string_lossy()));
        }
        spec.limits = self.limits;
        spec.secure = self.secure;
        // A shell expects /dev/null (`cmd &` reads it) and friends.
        spec.devices = self.profile == Profile::Full;
        spec.stdout = stdout;
        spec.stderr = stdout;
        spec.hostname = Some(format!("vmvc-{}", self.profile.name().replace('+', "-")));
        self.runtime
            .spawn(&spec)
            .with_context(|| format!("starting busybox in container:{}", self.profile.name()))
    }
}
