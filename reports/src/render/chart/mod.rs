//! Two small chart models, drawn to SVG with plotters.
//!
//! Most charts of the report are the same shape ([`Chart`]): labelled rows (one per
//! environment, or per environment and run) along the vertical axis, and a
//! numeric horizontal axis on which each row carries marks: bars (stacked when
//! several), p5–p95 whiskers, dots for raw samples, a median tick. Describing
//! the row figures with one model keeps the plotting code in one place, and
//! horizontal rows leave room for long names like `container:chroot+cgroup`.
//! Quantities against a number (density: memory and startup against the
//! number of instances) are lines over a numeric axis instead ([`XyChart`]),
//! in one or more panels sharing a legend.
//!
//! A log axis is drawn by plotting `log10(value)` on a linear axis and
//! labelling the ticks with the values themselves: the same result as
//! plotters' log coordinates, with one coordinate type for every chart and
//! tick marks we choose (1-2-5 per decade) instead of crowded defaults.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::num;

mod axis;
mod legend;
mod rows;
mod xy;

use axis::*;
use legend::*;
pub use xy::{Panel, Series, XyChart, XyPoint};

/// Size of the SVG drawing; the page scales it down on narrow screens.
const WIDTH: u32 = 960;
/// Plotters font sizes (the SVG gets `size / 1.24` px).
const TITLE_FONT: f64 = 22.0;
const LABEL_FONT: f64 = 17.0;
/// Estimated width of one character of a label, pixels: plotters
/// without a font stack cannot measure text, so the layout estimates it.
const CHAR_PX: f64 = 7.6;
/// Height of one line of the legend, pixels.
const LEGEND_LINE_PX: i32 = 24;

/// Height of the legend above a plot, pixels (with a small gap below it).
fn legend_px(legend: &[LegendEntry]) -> u32 {
    let lines = legend_layout(legend).last().map_or(0, |e| e.line + 1);
    lines as u32 * LEGEND_LINE_PX as u32 + 8
}

/// Draws into one SVG document `content_px` high plus the title and axis
/// margins, and returns it as a string.
fn svg_of(
    content_px: u32,
    draw: impl FnOnce(
        &DrawingArea<SVGBackend, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> Result<String, String> {
    let height = 48 + content_px + 64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        draw(&root).map_err(|e| format!("plotting failed: {e}"))?;
        root.present()
            .map_err(|e| format!("plotting failed: {e}"))?;
    }
    Ok(svg)
}

/// How values map to the horizontal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Equal distances are equal ratios: for quantities that differ by orders
    /// of magnitude between environments (startup) or that are ratios.
    Log,
    /// Like `Log`, with ticks at powers of two: for instance counts 1, 2, 4, ….
    Log2,
}

/// What a row shows. Values are in the unit named by the axis description.
#[derive(Debug, Clone)]
pub enum Mark {
    /// A bar from `from` to `to`; `from` below the axis start is clipped,
    /// which is how a bar on a log axis "starts at the axis".
    Bar { from: f64, to: f64, color: usize },
    /// A horizontal line from `lo` to `hi` with end caps (p5–p95).
    Whisker { lo: f64, hi: f64 },
    /// One dot per raw sample, spread vertically so that equal values stay
    /// visible; the samples at the indices in `outliers` also get a red ring.
    Dots {
        values: Vec<f64>,
        color: usize,
        outliers: Vec<usize>,
    },
    /// A short vertical line, e.g. the median over the dots.
    Tick { at: f64 },
    /// One dot on the row's centre line: marks the end of a bar so that a
    /// value at the bar's origin (a ratio of 1) stays visible.
    Point { at: f64, color: usize },
}

#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    /// Leaves half a row of space above: separates groups (e.g. environments
    /// when several runs give each environment several rows).
    pub gap_before: bool,
    pub marks: Vec<Mark>,
}

/// An entry of the legend drawn above the plot.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub name: String,
    pub key: Key,
}

/// What a legend entry draws before its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A filled square in a series colour (bars, dots).
    Swatch(usize),
    /// A short line with a point: a line series; `color: None` draws it in
    /// black, to explain a line style (solid or dashed) shared by series.
    Line { color: Option<usize>, dashed: bool },
    /// Nothing: a text-only entry, used as the key from short run tags to
    /// full run labels, or to explain a mark in words.
    Text,
}

impl LegendEntry {
    pub fn swatch(name: impl Into<String>, color: usize) -> LegendEntry {
        LegendEntry {
            name: name.into(),
            key: Key::Swatch(color),
        }
    }

    pub fn line(name: impl Into<String>, color: Option<usize>, dashed: bool) -> LegendEntry {
        LegendEntry {
            name: name.into(),
            key: Key::Line { color, dashed },
        }
    }

    pub fn text(name: impl Into<String>) -> LegendEntry {
        LegendEntry {
            name: name.into(),
            key: Key::Text,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    /// Axis description, with the unit: "time to READY (µs, log scale)".
    pub x_desc: String,
    pub scale: Scale,
    pub rows: Vec<Row>,
    pub legend: Vec<LegendEntry>,
    /// A dashed vertical reference line, e.g. at native = 1 (the legend
    /// says what it is: a label inside the plot would collide with the rows).
    pub reference: Option<f64>,
    /// Height of one row in pixels.
    pub row_px: u32,
}

/// The ring around an outlier sample.
const OUTLIER: RGBColor = RGBColor(0xc0, 0x1c, 0x28);

/// A distinct colour per series: Tableau 10 (readable on white and in
/// grey-scale print, distinguishable by most colour-blind readers), then the
/// lighter Tableau 20 shades, because a VM and a container together have a
/// dozen distinct startup phases.
pub fn color(index: usize) -> RGBColor {
    // Thirty-six colours, no two alike (Tableau 10, then darker, lighter
    // and other hues), in a fixed order: the
    // same index is the same colour in every report. Phases use their own
    // fixed indices (figures/phases.rs), runs 0, 1, 2, ….
    const PALETTE: [u32; 36] = [
        0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f, 0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f,
        0xbab0ac, 0x1b2a6b, 0x17becf, 0x8c8c00, 0x6b0f1a, 0xce6dbd, 0x555555, 0xa6d854, 0xfdbf6f,
        0x80b1d3, 0xcab2d6, 0xe7298a, 0x1b9e77, 0x7570b3, 0xd95f02, 0xa6761d, 0x003f5c, 0xbc5090,
        0x66a61e, 0x8dd3c7, 0xfb8072, 0xffd92f, 0x6a3d9a, 0xb15928, 0x1f78b4, 0xe5c494, 0x4d004b,
    ];
    let rgb = PALETTE[index % PALETTE.len()];
    RGBColor((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(linear_ticks(0.0, 10.5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(
            log_ticks(30.0, 3000.0),
            vec![50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]
        );
        // Seven decades: powers of ten only.
        assert_eq!(log_ticks(1.0, 1e6).len(), 7);
        // Narrow range: still at least three ticks.
        assert!(log_ticks(110.0, 180.0).len() >= 3);
        assert_eq!(log2_ticks(0.8, 40.0), vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]);
    }

    #[test]
    fn jitter_stays_within_the_row() {
        assert!((0..1000).map(jitter).all(|j| j.abs() <= 0.3));
    }
}
