//! Finding the cgroup hierarchies: which version carries the controllers.
//!
//! Both versions can be mounted at once. `/proc/self/mountinfo` lists every
//! mount with its filesystem type (`cgroup` for v1, `cgroup2`) and, for v1,
//! the controllers of each hierarchy in its super options (proc(5),
//! "/proc/pid/mountinfo"). We take v2 when its root lists the memory and
//! pids controllers in `cgroup.controllers`, else v1: what youki and systemd
//! do.

use crate::error::{io, Error, Result};
use std::fs;
use std::path::PathBuf;

/// The cgroup hierarchies this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1: one hierarchy per controller. `hybrid` says a (controller-less)
    /// cgroup2 tree is mounted too.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpu: Option<PathBuf>,
        hybrid: bool,
    },
    /// cgroup v2: the unified hierarchy mounted at `root`.
    V2 { root: PathBuf },
}

impl Layout {
    /// Reads `/proc/self/mountinfo` and picks the hierarchy that carries the
    /// memory and pids controllers: cgroup2 if it has them, else v1.
    pub fn detect() -> Result<Layout> {
        let text = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io("reading", "/proc/self/mountinfo"))?;
        let mut v2 = None;
        let (mut memory, mut pids, mut cpu) = (None, None, None);
        for line in text.lines() {
            // "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts"
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut right = right.split(' ');
            let (fstype, superopts) = (right.next(), right.nth(1).unwrap_or(""));
            let mount_point = PathBuf::from(mount_point);
            match fstype {
                Some("cgroup2") => v2 = v2.or(Some(mount_point)),
                Some("cgroup") => {
                    for opt in superopts.split(',') {
                        let slot = match opt {
                            "memory" => &mut memory,
                            "pids" => &mut pids,
                            "cpu" => &mut cpu,
                            _ => continue,
                        };
                        if slot.is_none() {
                            *slot = Some(mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(root) = &v2 {
            let controllers =
                fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            if has("memory") && has("pids") {
                return Ok(Layout::V2 { root: root.clone() });
            }
        }
        match (memory, pids) {
            (Some(memory), Some(pids)) => Ok(Layout::V1 {
                memory,
                pids,
                cpu,
                hybrid: v2.is_some(),
            }),
            _ => Err(Error::NoCgroups(format!(
                "neither a cgroup2 tree with the memory and pids controllers nor v1 memory and pids \
                 hierarchies are mounted (cgroup2: {v2:?}); mount one, e.g. \
                 `mount -t cgroup2 none /sys/fs/cgroup`"
            ))),
        }
    }

    /// cgroup v2 rooted at `root` (a cgroup2 mount or a directory in one).
    pub fn v2(root: impl Into<PathBuf>) -> Layout {
        Layout::V2 { root: root.into() }
    }

    /// `v1`, `v2` or `hybrid`.
    pub fn version(&self) -> &'static str {
        match self {
            Layout::V1 { hybrid: false, .. } => "v1",
            Layout::V1 { hybrid: true, .. } => "hybrid",
            Layout::V2 { .. } => "v2",
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Layout::V1 {
                memory,
                pids,
                cpu,
                hybrid,
            } => format!(
                "cgroup {} (controllers in v1: memory at {}, pids at {}, cpu at {})",
                if *hybrid { "hybrid" } else { "v1" },
                memory.display(),
                pids.display(),
                cpu.as_deref()
                    .map_or("-".into(), |p| p.display().to_string())
            ),
            Layout::V2 { root } => format!("cgroup v2 (unified hierarchy at {})", root.display()),
        }
    }

    pub(crate) fn is_v2(&self) -> bool {
        matches!(self, Layout::V2 { .. })
    }

    /// The hierarchy roots we create directories in, pids first (it lists
    /// the members on v1).
    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        match self {
            Layout::V1 {
                memory, pids, cpu, ..
            } => {
                let mut v = vec![pids.clone(), memory.clone()];
                v.extend(cpu.clone());
                v
            }
            Layout::V2 { root } => vec![root.clone()],
        }
    }
}
