//! Cold, warm, restored: the same guest or container started three ways,
//! side by side, each against its own cold start.
//!
//! A row's start mode is the suffix of its name: `:warm` (a pool of VMs or a
//! zygote made before t0), `:restored` (a snapshot taken at READY, restored
//! into a fresh VM), `:restored+pool` (restored into a pooled VM) and
//! `:restored+ksm` (restored, with KSM merging equal pages). Its
//! cold counterpart is the same name without the suffix (`vm-bare`), or
//! `container:full` for `container:warm`. The figure is only on the page
//! when a run has such rows.

use super::*;

/// The start modes a row name can end with, and what each means.
const MODES: [(&str, &str); 4] = [
    (":warm", "warm"),
    (":restored+pool", "restored into a pooled VM"),
    (":restored+ksm", "restored, KSM on"),
    (":restored", "restored"),
];

/// Memory parts that say what a mode costs besides the instance itself.
const MODE_PARTS: [&str; 3] = ["pool_idle_vm", "snapshot_rss", "snapshot_pss"];

/// `(cold row, mode)` of a row name with a start-mode suffix.
pub fn start_mode(name: &str) -> Option<(String, &'static str)> {
    MODES.iter().find_map(|(suffix, mode)| {
        let base = name.strip_suffix(suffix)?;
        let cold = if base == "container" {
            "container:full".to_owned()
        } else {
            base.to_owned()
        };
        Some((cold, *mode))
    })
}

/// True when some run has a warm or restored row: the section is shown.
pub fn has_start_modes(page: &Page) -> bool {
    page.env_names().iter().any(|n| start_mode(n).is_some())
}

/// The figure: READY of each warm or restored row next to its cold row.
pub fn start_modes(page: &Page) -> Figure {
    let unit = startup_unit(page);
    let u = unit.symbol();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for run in &page.runs {
        let envs = &run.res.environments;
        let ready = |name: &str| {
            envs.iter()
                .find(|e| e.name == name && e.skipped.is_none())
                .and_then(|e| e.startup.as_ref())
                .map(|s| s.ready.stats.median)
        };
        for env in envs.iter().filter(|e| e.skipped.is_none()) {
            let Some((cold_name, mode)) = start_mode(&env.name) else {
                continue;
            };
            let Some(warm) = ready(&env.name) else {
                continue;
            };
            let cold = ready(&cold_name);
            for (label, value, first) in [
                (cold_name.as_str(), cold, true),
                (env.name.as_str(), Some(warm), false),
            ] {
                if let Some(v) = value {
                    rows.push(Row {
                        label: page.row_label(label, run),
                        gap_before: first && !rows.is_empty(),
                        marks: vec![Mark::Bar {
                            from: 0.0,
                            to: unit.of(v),
                            color: if first { 0 } else { 1 },
                        }],
                    });
                }
            }
            let mut row = name_cells(page, &env.name, run);
            row.extend([
                mode.to_owned(),
                cold_name.clone(),
                num(unit.of(warm)),
                cold.map_or("–".into(), |c| num(unit.of(c))),
                cold.filter(|c| *c > 0.0)
                    .map_or("–".into(), |c| format!("{}x", num(warm / c))),
                memory_total(env),
            ]);
            row.extend(MODE_PARTS.iter().map(|p| memory_part(env, p)));
            cells.push(row);
        }
    }
    let mut cols = name_cols(page, &["start mode", "cold row"]);
    cols.extend([
        num_col(format!("READY, median ({u})")),
        num_col(format!("cold READY, median ({u})")),
        num_col("x cold"),
        num_col("memory per instance (MiB)"),
        num_col("pool, per idle VM (MiB)"),
        num_col("snapshot pages, RSS (MiB)"),
        num_col("shared pages, PSS (MiB)"),
    ]);
    Figure {
        id: "start-modes",
        sentence: "The same guest started cold, warm (from a pool of VMs made before t0) and \
                   restored (from a snapshot taken at READY): each bar pair is a cold row and another \
                   way to the same READY, on a log axis; the table says what each way keeps in \
                   memory meanwhile."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Cold, warm and restored starts".to_owned(),
            x_desc: format!("time from t0 to READY ({u}, log scale)"),
            scale: Scale::Log,
            rows,
            legend: vec![
                LegendEntry::swatch("cold".to_owned(), 0),
                LegendEntry::swatch("warm or restored".to_owned(), 1),
            ],
            reference: None,
            row_px: 28,
        })),
        absent: "No warm or restored row has startup figures.".to_owned(),
        table: table(
            "Cold, warm and restored: READY and what each way keeps in memory",
            &cols,
            &cells,
        ),
        after: String::new(),
    }
}

fn memory_total(env: &EnvResult) -> String {
    env.memory
        .as_ref()
        .map_or("–".into(), |m| num(mib(m.total.stats.median)))
}

fn memory_part(env: &EnvResult, part: &str) -> String {
    env.memory
        .as_ref()
        .and_then(|m| m.components.iter().find(|c| c.name == part))
        .map_or("–".into(), |c| num(mib(c.bytes.stats.median)))
}
