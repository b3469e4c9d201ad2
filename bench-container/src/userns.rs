//! User namespaces: root in a box, not on the host.
//!
//! A user namespace (`CLONE_NEWUSER`, user_namespaces(7)) gives a process a
//! numbering of users and groups of its own. Its creator gets every
//! capability *inside* it, so it may create the other namespaces, mount,
//! `pivot_root` and `chroot` there; the kernel checks each of these against
//! the namespace that owns the resource, never against the host. Outside,
//! the process is still the user who started it: its files, signals and
//! limits are that user's.
//!
//! What a uid inside means outside is the namespace's *map*, written once
//! into `/proc/PID/uid_map` and `gid_map` as lines `inside outside count`.
//! An unprivileged user may write exactly one line there, mapping one id
//! inside to its own uid (and, for `gid_map`, only after writing `deny` to
//! `/proc/PID/setgroups`, so that dropping a group cannot grant access).
//! Wider maps need the setuid helpers newuidmap(1) and newgidmap(1), which
//! allow the *subordinate* ranges the administrator granted in
//! `/etc/subuid` and `/etc/subgid` (subuid(5)): how podman and rootless
//! Docker give a container 65,536 ids.
//!
//! Until the map is written, the child's uid is unmapped (seen as the
//! overflow id 65534) and `execve` would drop its capabilities, so the child
//! waits on a pipe until the launcher has written the map.

use crate::error::{Error, Result};
use nix::unistd::{Gid, Pid, Uid};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How the ids inside a container's user namespace map to the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMap {
    /// `0 UID 1`: root inside is the launching user, nobody else exists.
    /// Written by the launcher itself; needs no helper and no admin.
    Single { uid: u32, gid: u32 },
    /// `0 UID 1` plus `1 START COUNT` from `/etc/subuid` and `/etc/subgid`,
    /// written by newuidmap/newgidmap.
    Subordinate { uid: u32, gid: u32, sub: SubIds },
}

/// A user's subordinate ids and the helpers that map them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubIds {
    /// (first id, count) from /etc/subuid and /etc/subgid.
    pub uids: (u32, u32),
    pub gids: (u32, u32),
    pub newuidmap: PathBuf,
    pub newgidmap: PathBuf,
}

impl IdMap {
    /// The map for the current user: subordinate ranges when the user has
    /// both and the helpers are installed, else the single-id map.
    /// `VMVC_IDMAP=single` asks for the single-id map anyway (to compare
    /// what the two cost).
    pub fn detect() -> IdMap {
        let (uid, gid) = (Uid::current().as_raw(), Gid::current().as_raw());
        if std::env::var("VMVC_IDMAP").as_deref() == Ok("single") {
            return IdMap::Single { uid, gid };
        }
        let name = nix::unistd::User::from_uid(Uid::current())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default();
        let helpers = (find_helper("newuidmap"), find_helper("newgidmap"));
        let ranges = (
            subordinate_range(Path::new("/etc/subuid"), &name, uid),
            subordinate_range(Path::new("/etc/subgid"), &name, gid),
        );
        match (helpers, ranges) {
            ((Some(newuidmap), Some(newgidmap)), (Some(uids), Some(gids))) => IdMap::Subordinate {
                uid,
                gid,
                sub: SubIds {
                    uids,
                    gids,
                    newuidmap,
                    newgidmap,
                },
            },
            _ => IdMap::Single { uid, gid },
        }
    }

    /// One line for notes and `vmvc doctor`.
    pub fn describe(&self) -> String {
        match self {
            IdMap::Single { uid, gid } => format!(
                "single-id map: root (0) inside is uid {uid} / gid {gid} outside, no other id exists \
                 inside (written by vmvc to /proc/PID/uid_map and gid_map)"
            ),
            IdMap::Subordinate { uid, sub, .. } => format!(
                "subordinate map: 0 inside is uid {uid}, 1..{} inside are uids {}..{} \
                 (gids {}..{}) from /etc/subuid and /etc/subgid (written by newuidmap/newgidmap)",
                sub.uids.1,
                sub.uids.0,
                u64::from(sub.uids.0) + u64::from(sub.uids.1) - 1,
                sub.gids.0,
                u64::from(sub.gids.0) + u64::from(sub.gids.1) - 1,
            ),
        }
    }

    /// Writes this map for `pid`, a child just cloned with `CLONE_NEWUSER`.
    pub(crate) fn write(&self, pid: Pid) -> Result<()> {
        match self {
            IdMap::Single { uid, gid } => {
                let proc = PathBuf::from(format!("/proc/{pid}"));
                let put = |file: &str, text: String| {
                    std::fs::write(proc.join(file), text).map_err(|e| Error::IdMap {
                        step: "writing the single-id map",
                        why: format!("{}/{file}: {e}", proc.display()),
                    })
                };
                put("uid_map", format!("0 {uid} 1\n"))?;
                // gid_map is refused until setgroups(2) is disabled (user_namespaces(7)).
                put("setgroups", "deny\n".into())?;
                put("gid_map", format!("0 {gid} 1\n"))
            }
            IdMap::Subordinate { uid, gid, sub } => {
                run_helper(&sub.newuidmap, pid, *uid, sub.uids)?;
                run_helper(&sub.newgidmap, pid, *gid, sub.gids)
            }
        }
    }
}

/// `newuidmap PID 0 ID 1 1 START COUNT` (or newgidmap).
fn run_helper(helper: &Path, pid: Pid, id: u32, (start, count): (u32, u32)) -> Result<()> {
    let args = [pid.as_raw() as u32, 0, id, 1, 1, start, count].map(|n| n.to_string());
    let out = Command::new(helper)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::IdMap {
            step: "starting the id-map helper",
            why: format!("{}: {e}", helper.display()),
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::IdMap {
        step: "mapping subordinate ids",
        why: format!(
            "{} {} failed ({}): {}",
            helper.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    })
}

/// The setuid helper `name` in the usual places (they live in /usr/bin).
fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The user's first range in a subuid(5)-style file (`name-or-id:start:count`).
pub fn subordinate_range(file: &Path, name: &str, id: u32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        let mine = (!name.is_empty() && who == name) || who.parse::<u32>().ok() == Some(id);
        let (start, count) = (start.parse().ok()?, count.parse::<u32>().ok()?);
        (mine && count > 0).then_some((start, count))
    })
}

/// Can this user create a user namespace? Tries for real, in a forked
/// child (a multi-threaded process may not unshare(CLONE_NEWUSER)), and
/// explains a refusal with the setting that causes it.
pub fn probe() -> std::result::Result<(), String> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    // SAFETY: the child only calls unshare(2) and _exit(2), both
    // async-signal-safe; it touches no lock or allocation of the parent's.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
                Ok(()) => 0,
                Err(e) => (e as i32).clamp(1, 255),
            };
            // SAFETY: ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, code)) => Err(blocked_why(nix::errno::Errno::from_raw(code))),
            other => Err(format!("the probe child ended oddly: {other:?}")),
        },
        Err(e) => Err(format!("fork for the user-namespace probe: {e}")),
    }
}

/// Why unshare(CLONE_NEWUSER) failed, and the fix, from the sysctls that
/// distributions use to restrict it.
fn blocked_why(errno: nix::errno::Errno) -> String {
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let setting = if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref()
        == Some("1")
    {
        "Ubuntu's AppArmor restricts unprivileged user namespaces \
         (kernel.apparmor_restrict_unprivileged_userns = 1); allow them with \
         `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or give vmvc an AppArmor \
         profile with `userns,` (as Ubuntu ships for bwrap and podman)"
    } else if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        "kernel.unprivileged_userns_clone = 0 (Debian's switch); allow them with \
         `sudo sysctl kernel.unprivileged_userns_clone=1`"
    } else if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        "user.max_user_namespaces = 0; allow them with `sudo sysctl user.max_user_namespaces=15000`"
    } else {
        "no known sysctl explains it (a seccomp filter or a container around vmvc may forbid \
         CLONE_NEWUSER); run vmvc as root instead"
    };
    format!("unprivileged user namespaces are not allowed here ({errno}): {setting}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_id() {
        let dir = std::env::temp_dir().join(format!("vmvc-subuid-test-{}", std::process::id()));
        std::fs::write(&dir, "alice:100000:65536\n1002:200000:1000\nbob:300000:0\n").unwrap();
        assert_eq!(
            subordinate_range(&dir, "alice", 1001),
            Some((100000, 65536))
        );
        assert_eq!(subordinate_range(&dir, "carol", 1002), Some((200000, 1000)));
        assert_eq!(subordinate_range(&dir, "bob", 1003), None, "empty range");
        assert_eq!(subordinate_range(&dir, "", 7), None);
        std::fs::remove_file(&dir).unwrap();
    }
}
