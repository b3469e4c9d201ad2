//! Finding the report's charts by id (the reader itself is
//! `reports::inspect`).

pub use reports::inspect::{charts, ChartSvg};

/// The chart `id` of the page's charts; a test failure when it is missing.
pub fn chart<'a>(charts: &'a [ChartSvg], id: &str) -> &'a ChartSvg {
    charts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("chart {id} is on the page"))
}

pub const CHART_IDS: [&str; 8] = [
    "chart-ready",
    "chart-phases",
    "chart-teardown",
    "chart-distribution",
    "chart-memory",
    "chart-density",
    "chart-density-startup",
    "chart-throughput",
];
