//! The summary at the top of the page: one line per measured environment,
//! the figures a reader asks first (time to READY, memory over native, and
//! each throughput workload relative to native), as `vmvc run` prints them.
//! Everything else on the page explains and breaks down these numbers.

use super::format::{bytes, esc, num, TimeUnit};
use super::Page;
use crate::schema::EnvResult;

const WORKLOADS: [&str; 5] = ["cpu", "mem_bw", "random_access", "syscall", "boundary"];

/// The summary section, or nothing when no environment was measured.
pub(super) fn summary_section(page: &Page) -> String {
    let mut rows = String::new();
    for run in &page.runs {
        for env in run.res.environments.iter().filter(|e| e.skipped.is_none()) {
            rows.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
                esc(&page.row_label(&env.name, run)),
                ready(env),
                overhead(env)
            ));
            for w in WORKLOADS {
                rows.push_str(&format!("<td class=\"num\">{}</td>", ratio(env, w)));
            }
            rows.push_str("</tr>\n");
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    let heads: String = WORKLOADS
        .iter()
        .map(|w| format!("<th class=\"num\">{w}</th>"))
        .collect();
    format!(
        "<section id=\"summary\">\n<h2>At a glance</h2>\n<div class=\"table-wrap\"><table>\n\
         <caption>Median time to READY, memory over native, and each workload's rate relative \
         to native (1.00x = native speed, higher is faster)</caption>\n\
         <thead><tr><th>environment</th><th class=\"num\">READY</th>\
         <th class=\"num\">memory over native</th>{heads}</tr></thead>\n<tbody>\n{rows}\
         </tbody></table></div>\n</section>\n"
    )
}

fn ready(env: &EnvResult) -> String {
    match env.startup.as_ref().map(|s| s.ready.stats.median) {
        Some(s) if s.is_finite() => {
            let unit = TimeUnit::pick([s]);
            format!("{} {}", num(unit.of(s)), unit.symbol())
        }
        _ => "—".to_owned(),
    }
}

fn overhead(env: &EnvResult) -> String {
    match env.memory.as_ref().and_then(|m| m.overhead_vs_native_bytes) {
        Some(o) if o.is_finite() && o < 0.0 => format!("−{}", bytes(-o)),
        Some(o) if o.is_finite() => format!("+{}", bytes(o)),
        _ if env.name == "native" => "(baseline)".to_owned(),
        _ => "—".to_owned(),
    }
}

fn ratio(env: &EnvResult, workload: &str) -> String {
    env.throughput
        .iter()
        .find(|t| t.workload == workload)
        .and_then(|t| t.ratio_to_native)
        .filter(|r| r.is_finite())
        .map_or_else(|| "—".to_owned(), |r| format!("{}x", num(r)))
}
