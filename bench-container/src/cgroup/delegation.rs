//! Delegation: a cgroup v2 subtree that an unprivileged user may manage.
//!
//! The kernel's `Documentation/admin-guide/cgroup-v2.rst` ("Delegation")
//! lets an administrator hand a subtree to a user by making its directory
//! and its `cgroup.procs`, `cgroup.threads` and `cgroup.subtree_control`
//! files the user's. The user may then create child cgroups, enable the
//! controllers the parent passes down, and move processes, but only between
//! cgroups whose common ancestor's `cgroup.procs` it may write: a process
//! outside the subtree cannot be moved in (this is also checked for
//! `clone3(CLONE_INTO_CGROUP)`). systemd delegates this way to every user
//! (`user@UID.service`, see systemd.resource-control(5) `Delegate=`); a
//! program started from a desktop terminal or with `systemd-run --user
//! --scope` runs inside it.
//!
//! Only cgroup v2 is delegated: the v1 documentation warns that v1
//! delegation is unsafe, and on a hybrid host the controllers are in v1.
//! Rootless containers therefore get a cgroup only on a v2 host, inside a
//! delegated subtree that holds the launcher itself.

use super::layout::Layout;
use nix::unistd::{access, AccessFlags};
use std::path::{Path, PathBuf};

/// The environment variable naming a subtree an administrator delegated
/// (chowned) for vmvc, e.g. `/sys/fs/cgroup/vmvc-users/alice`.
pub const ENV: &str = "VMVC_CGROUP";

/// Finds a delegated cgroup v2 subtree this process may use, as a [`Layout`]
/// rooted there; or says, in a sentence with the fix, why there is none.
pub fn find() -> Result<Layout, String> {
    let root = match Layout::detect() {
        Ok(Layout::V2 { root }) => root,
        Ok(l) => {
            return Err(format!(
                "this host's controllers are in cgroup {} and the kernel delegates only cgroup v2 \
                 subtrees to users (cgroup-v2.rst, \"Delegation\"); boot with \
                 systemd.unified_cgroup_hierarchy=1 for a v2-only host, or run vmvc as root",
                l.version()
            ))
        }
        Err(e) => return Err(e.to_string()),
    };
    let own = own_cgroup().ok_or("cannot read this process's cgroup (/proc/self/cgroup)")?;
    let (dir, how) = match std::env::var_os(ENV) {
        Some(given) => (PathBuf::from(given), format!("${ENV}")),
        None => match systemd_user_cgroup(&own) {
            Some(rel) => (root.join(rel), "systemd's user delegation".into()),
            None => {
                return Err(format!(
                    "no delegated cgroup v2 subtree: this process is in {} (not inside systemd's \
                     user@{}.service); start vmvc with `systemd-run --user --scope -p Delegate=yes \
                     vmvc run ...`, or have an administrator delegate a subtree (mkdir \
                     /sys/fs/cgroup/vmvc-users/$USER; chown $USER that directory and its \
                     cgroup.procs, cgroup.threads and cgroup.subtree_control) and set {ENV} to it \
                     while running vmvc from inside it",
                    own.display(),
                    nix::unistd::Uid::current()
                ))
            }
        },
    };
    check(&root, &dir, &own).map_err(|why| format!("{} ({how}): {why}", dir.display()))?;
    Ok(Layout::V2 { root: dir })
}

/// Is `dir` a delegated subtree we can use: ours to write, holding this
/// process, passing down memory and pids?
fn check(root: &Path, dir: &Path, own: &Path) -> Result<(), String> {
    let inside = dir
        .strip_prefix(root)
        .map_err(|_| format!("not under the cgroup2 mount {}", root.display()))?;
    let top = Path::new("/").join(inside);
    if !own.starts_with(&top) {
        return Err(format!(
            "this process is in {}, outside the subtree, so it may not move a child in \
             (start vmvc from a cgroup inside it)",
            own.display()
        ));
    }
    if own == top {
        // cgroup v2's "no internal processes" rule: a cgroup that hands
        // controllers down to children may not hold processes itself.
        return Err(format!(
            "this process is in {} itself, so its controllers cannot be passed down \
             (no internal processes, cgroup-v2.rst); start vmvc from a child cgroup of it",
            own.display()
        ));
    }
    for f in ["", "cgroup.procs", "cgroup.subtree_control"] {
        let p = dir.join(f);
        access(&p, AccessFlags::W_OK).map_err(|e| {
            format!(
                "{} is not writable ({e}): the subtree is not delegated to this user; \
                 chown it as cgroup-v2.rst \"Delegation\" says",
                p.display()
            )
        })?;
    }
    let have = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let missing: Vec<&str> = ["memory", "pids"]
        .into_iter()
        .filter(|c| !have.split_whitespace().any(|x| x == *c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the controllers {} are not passed down to it (its cgroup.controllers: {:?}); \
             enable them in every ancestor's cgroup.subtree_control (systemd: Delegate=memory pids)",
            missing.join(" "),
            have.trim()
        ));
    }
    Ok(())
}

/// This process's cgroup v2 path (`0::/...` in /proc/self/cgroup).
fn own_cgroup() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(PathBuf::from)
}

/// The `user@UID.service` ancestor of `own`, relative to the v2 root.
fn systemd_user_cgroup(own: &Path) -> Option<PathBuf> {
    let unit = format!("user@{}.service", nix::unistd::Uid::current());
    own.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == unit.as_str()))
        .and_then(|a| a.strip_prefix("/").ok())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_delegates_the_users_own_service() {
        let uid = nix::unistd::Uid::current();
        let own = PathBuf::from(format!(
            "/user.slice/user-{uid}.slice/user@{uid}.service/app.slice/term.scope"
        ));
        assert_eq!(
            systemd_user_cgroup(&own),
            Some(PathBuf::from(format!(
                "user.slice/user-{uid}.slice/user@{uid}.service"
            )))
        );
        // A login session's scope is outside the user's service: not delegated.
        let session = PathBuf::from(format!("/user.slice/user-{uid}.slice/session-3.scope"));
        assert_eq!(systemd_user_cgroup(&session), None);
    }

    /// `check` on a directory tree shaped like a cgroup2 mount.
    #[test]
    fn a_subtree_must_hold_us_be_ours_and_pass_down_memory_and_pids() {
        let root = std::env::temp_dir().join(format!("vmvc-deleg-test-{}", std::process::id()));
        let dir = root.join("users/me");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["cgroup.procs", "cgroup.subtree_control"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        std::fs::write(dir.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        assert_eq!(check(&root, &dir, Path::new("/users/me/shell")), Ok(()));
        let outside = check(&root, &dir, Path::new("/system.slice/ssh.service")).unwrap_err();
        assert!(outside.contains("outside the subtree"), "{outside}");
        let inside = check(&root, &dir, Path::new("/users/me")).unwrap_err();
        assert!(inside.contains("no internal processes"), "{inside}");
        std::fs::write(dir.join("cgroup.controllers"), "cpu\n").unwrap();
        let missing = check(&root, &dir, Path::new("/users/me/shell")).unwrap_err();
        assert!(missing.contains("memory pids"), "{missing}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
