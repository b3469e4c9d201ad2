//! Memory: what one idle instance costs the host, split into its parts
//! (PSS of the processes, cgroup charge, guest RAM, KVM's page tables)
//! (DESIGN.md, "Memory").

use super::*;

/// Every memory part our environments report; a part's colour is its place
/// here ([`stable_color`]), the same in every report.
const PART_ORDER: [&str; 13] = [
    "workload",
    "workload_pss",
    "page_tables",
    "runtime",
    "cgroup_charge",
    "cgroup_anon",
    "cgroup_file",
    "cgroup_kernel",
    "uncharged_file",
    "guest_ram",
    "vmm",
    "kvm_page_tables",
    "guest_kernel",
];

/// Figure 3, memory per instance: the host-cost components, stacked, in MiB.
pub fn memory(page: &Page) -> Figure {
    let mut part_names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    let stats_cells = |m: &Metric| {
        [
            num(mib(m.stats.median)),
            pct(m.stats.cv),
            num(mib(m.stats.p5)),
            num(mib(m.stats.p95)),
        ]
    };
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(memory) = &env.memory else {
            without.push(label);
            return;
        };
        let mut marks = Vec::new();
        let mut at = 0.0;
        for part in &memory.components {
            let mut row = name_cells(page, &env.name, run);
            row.push(part.name.clone());
            row.push(if part.counts_in_total {
                "yes".to_owned()
            } else {
                "no (shown for information)".to_owned()
            });
            row.extend(stats_cells(&part.bytes));
            row.push(part.description.clone());
            cells.push(row);

            // Only host cost is stacked: the others (e.g. what the guest
            // kernel uses, already inside guest RAM) would count twice.
            let median = mib(part.bytes.stats.median);
            if part.counts_in_total && !part_names.contains(&part.name) {
                part_names.push(part.name.clone());
            }
            if part.counts_in_total && median.is_finite() && median >= 0.0 {
                marks.push(Mark::Bar {
                    from: at,
                    to: at + median,
                    color: stable_color(&PART_ORDER, &part.name),
                });
                at += median;
            }
        }
        let mut total = name_cells(page, &env.name, run);
        total.extend(["total host cost".to_owned(), "sum".to_owned()]);
        total.extend(stats_cells(&memory.total));
        total.push(match memory.overhead_vs_native_bytes {
            Some(o) => format!("{} MiB more than native", num(mib(o))),
            None => String::new(),
        });
        cells.push(total);
        let mut working_set = name_cells(page, &env.name, run);
        working_set.extend([
            "working set".to_owned(),
            "inside the above".to_owned(),
            num(mib(memory.working_set_bytes as f64)),
            String::new(),
            String::new(),
            String::new(),
            "memory the workload touched before the measurement".to_owned(),
        ]);
        cells.push(working_set);
        rows.push(Row {
            label,
            gap_before: first && page.comparing(),
            marks,
        });
    });

    let mut legend: Vec<LegendEntry> = part_names
        .iter()
        .map(|name| LegendEntry::swatch(name.clone(), stable_color(&PART_ORDER, name)))
        .collect();
    legend.extend(page.run_key());
    let mut cols = name_cols(page, &["part", "host cost"]);
    cols.extend([
        num_col("median (MiB)"),
        num_col("CV (%)"),
        num_col("p5 (MiB)"),
        num_col("p95 (MiB)"),
        text_col("what it is"),
    ]);
    Figure {
        id: "memory",
        sentence: "What one idle instance holding the same working set costs the host, split into \
                   its parts (medians): the difference with native is the price of isolation, \
                   paid again by every instance, so it decides how many fit on one machine."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Memory per instance, by component".to_owned(),
            x_desc: "host memory per idle instance (MiB)".to_owned(),
            scale: Scale::Linear,
            rows,
            legend,
            reference: None,
            row_px: 28,
        })),
        absent: "No environment has memory figures, so there is no memory chart.".to_owned(),
        table: table("Memory per instance, every component", &cols, &cells),
        after: missing("memory figures", &without),
    }
}
