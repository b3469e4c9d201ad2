//! Small readers of /proc and /sys (see proc(5)).

use crate::env::MemPart;
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

/// What a plain process costs: its proportional set size (shared pages
/// split among their users) and its page tables, which the kernel keeps
/// outside the process's own memory.
pub fn process_parts(pid: u32) -> anyhow::Result<Vec<MemPart>> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let pss = kb_field(&rollup, "Pss:").context("no Pss in smaps_rollup")?;
    let pte = kb_field(&status, "VmPTE:").unwrap_or(0);
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

#[cfg(test)]
mod tests {
    #[test]
    fn parses_kb_fields() {
        let t = "Rss:     1000 kB\nPss:  12 kB\nPss_Anon: 4 kB\n";
        assert_eq!(super::kb_field(t, "Pss:"), Some(12 * 1024));
        assert_eq!(super::kb_field(t, "Pss_Anon:"), Some(4 * 1024));
        assert_eq!(super::kb_field(t, "Swap:"), None);
    }
}
