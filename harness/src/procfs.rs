//! Small readers of /proc and /sys (see proc(5)).

use crate::measure::MemPart;
use anyhow::Context;

/// Value of `key` (e.g. `Pss:`) in a `Key:   123 kB` file, in bytes.
pub fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Reads `/proc/meminfo` field `key` (with the colon), bytes.
pub fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    kb_field(&text, key)
}

/// Pages sitting on the kernel's per-CPU free lists (`count:` lines of
/// /proc/zoneinfo). The kernel does not count them in MemFree/MemAvailable,
/// and each CPU's list can hold up to `high:` pages — tens of MiB here.
pub fn percpu_free_pages(zoneinfo: &str) -> u64 {
    zoneinfo
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("count:"))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .sum()
}

/// Memory the host could still give out, bytes: MemAvailable plus the
/// per-CPU free lists. Without the latter, instances that reuse pages just
/// freed by a previous one would look free of charge.
pub fn available_memory() -> Option<u64> {
    let pcp = std::fs::read_to_string("/proc/zoneinfo")
        .map(|z| percpu_free_pages(&z))
        .unwrap_or(0);
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    Some(meminfo("MemAvailable:")? + pcp * page)
}

/// A process's page tables (`VmPTE` in /proc/PID/status), bytes: kernel
/// memory outside the process's own mappings.
pub fn page_tables(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    Ok(kb_field(&status, "VmPTE:").unwrap_or(0))
}

/// What a plain process costs: its proportional set size (shared pages
/// split among their users) and its page tables, which the kernel keeps
/// outside the process's own memory.
pub fn process_parts(pid: u32) -> anyhow::Result<Vec<MemPart>> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    let pss = kb_field(&rollup, "Pss:").context("no Pss in smaps_rollup")?;
    let pte = page_tables(pid)?;
    Ok(vec![
        MemPart {
            name: "workload",
            description: "the workload process's proportional set size (PSS)",
            bytes: pss,
            counts_in_total: true,
        },
        MemPart {
            name: "page_tables",
            description: "the process's page tables (VmPTE), kernel memory",
            bytes: pte,
            counts_in_total: true,
        },
    ])
}

/// Host pids of every process below `pid`, parents before children.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children(p) {
            if !found.contains(&c) {
                found.push(c);
                todo.push(c);
            }
        }
    }
    found
}

/// Direct children of `pid`. The kernel lists a child under the *thread*
/// that created it (proc(5), /proc/PID/task/TID/children), and a Go program
/// like runc may fork from any thread: so every thread is read. Kernels
/// built without CONFIG_PROC_CHILDREN lack that file; then every process's
/// parent is read instead.
pub fn children(pid: u32) -> Vec<u32> {
    let parse = |text: &str| -> Vec<u32> {
        text.split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut kids = Vec::new();
    let mut have_file = false;
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            have_file = true;
            kids.extend(parse(&text));
        }
    }
    if have_file {
        return kids;
    }
    let Ok(all) = std::fs::read_dir("/proc") else {
        return kids;
    };
    for e in all.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u32>().ok());
        if ppid == Some(pid) {
            kids.push(p);
        }
    }
    kids
}

/// The process's name (`/proc/PID/comm`: the executable's name, at most 15 bytes).
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_kb_fields() {
        let t = "Rss:     1000 kB\nPss:  12 kB\nPss_Anon: 4 kB\n";
        assert_eq!(super::kb_field(t, "Pss:"), Some(12 * 1024));
        assert_eq!(super::kb_field(t, "Pss_Anon:"), Some(4 * 1024));
        assert_eq!(super::kb_field(t, "Swap:"), None);
    }

    #[test]
    fn sums_percpu_lists() {
        let z = "Node 0, zone Normal\n  pages free 5\n    cpu: 0\n              count:    2657\n              high:     16713\n    cpu: 1\n              count: 3\n";
        assert_eq!(super::percpu_free_pages(z), 2660);
    }

    #[test]
    fn children_of_a_child() {
        let mut c = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let me = std::process::id();
        assert!(super::descendants(me).contains(&c.id()));
        let _ = c.kill();
        let _ = c.wait();
    }
}
