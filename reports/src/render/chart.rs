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
    const PALETTE: [u32; 20] = [
        0x4e79a7, 0xf28e2b, 0xe15759, 0x76b7b2, 0x59a14f, 0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f,
        0xbab0ac, 0xa0cbe8, 0xffbe7d, 0x8cd17d, 0x86bcb6, 0xd37295, 0x79706e, 0xd4a6c8, 0xd7b5a6,
        0xb6992d, 0xfabfd2,
    ];
    let rgb = PALETTE[index % PALETTE.len()];
    RGBColor((rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8)
}

impl Chart {
    /// The horizontal axis range in data units, or `None` when no row holds
    /// a value that can be drawn (all missing, or non-positive on a log axis).
    fn x_range(&self) -> Option<(f64, f64)> {
        let usable = |v: &f64| v.is_finite() && (self.scale == Scale::Linear || *v > 0.0);
        let mut values: Vec<f64> = Vec::new();
        for row in &self.rows {
            for mark in &row.marks {
                match mark {
                    Mark::Bar { from, to, .. } => values.extend([*from, *to]),
                    Mark::Whisker { lo, hi } => values.extend([*lo, *hi]),
                    Mark::Dots { values: v, .. } => values.extend(v),
                    Mark::Tick { at } | Mark::Point { at, .. } => values.push(*at),
                }
            }
        }
        // The reference line alone is not data: only widen a range that exists.
        let has_data = values.iter().any(usable);
        values.extend(self.reference);
        let (lo, hi) = values
            .into_iter()
            .filter(usable)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !has_data {
            return None;
        }
        Some(match self.scale {
            // Bars start at zero; leave a little room right of the longest.
            Scale::Linear => {
                let hi = if hi > 0.0 { hi * 1.05 } else { 1.0 };
                (lo.min(0.0), hi)
            }
            // A margin of a factor 1.5 each side keeps whisker caps and dots
            // off the frame; a single value still gets a readable range.
            Scale::Log | Scale::Log2 => (lo / 1.5, hi * 1.5),
        })
    }

    /// The row centres in chart coordinates (y grows upwards in plotters, so
    /// the first row gets the largest y and is drawn at the top) and the
    /// total height of the row axis.
    fn row_centres(&self) -> (Vec<f64>, f64) {
        let mut from_top = Vec::with_capacity(self.rows.len());
        let mut cursor = 0.0_f64;
        for row in &self.rows {
            if row.gap_before && cursor > 0.0 {
                cursor += 0.5;
            }
            from_top.push(cursor + 0.5);
            cursor += 1.0;
        }
        let total = cursor.max(1.0);
        (from_top.into_iter().map(|c| total - c).collect(), total)
    }

    /// Draws the chart; the result is one `<svg>` element.
    pub fn to_svg(&self) -> Result<String, String> {
        let (lo, hi) = self
            .x_range()
            .ok_or_else(|| "none of its figures is a usable number".to_owned())?;
        let axis = Axis::new(self.scale, lo, hi);
        let (centres, rows_height) = self.row_centres();

        let legend_lines = legend_layout(&self.legend).last().map_or(0, |e| e.line + 1);
        let legend_px = legend_lines as u32 * LEGEND_LINE_PX as u32 + 8;
        let plot_px = (rows_height * f64::from(self.row_px)).ceil() as u32;
        let height = 48 + legend_px + plot_px + 64;

        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            self.draw(&root, &axis, &centres, rows_height, legend_px)
                .map_err(|e| format!("plotting failed: {e}"))?;
            root.present()
                .map_err(|e| format!("plotting failed: {e}"))?;
        }
        Ok(svg)
    }

    fn draw(
        &self,
        root: &DrawingArea<SVGBackend, Shift>,
        axis: &Axis,
        centres: &[f64],
        rows_height: f64,
        legend_px: u32,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, ("sans-serif", TITLE_FONT))?;
        let (legend_area, plot_area) = body.split_vertically(legend_px);
        draw_legend(&legend_area, &self.legend)?;

        // Room on the left for the longest row label, within reason: a
        // longer label is shortened (the table under the chart has it whole).
        let longest = self
            .rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(0)
            .min(MAX_LABEL_CHARS);
        let label_px = (longest as f64 * CHAR_PX) as u32 + 16;

        let x_ticks: Vec<f64> = axis.ticks.iter().map(|v| axis.pos(*v)).collect();
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_right(24)
            .margin_top(4)
            .x_label_area_size(58)
            .y_label_area_size(label_px)
            .build_cartesian_2d(
                Ticked::new(axis.pos(axis.lo)..axis.pos(axis.hi), x_ticks),
                Ticked::new(0.0..rows_height, centres.to_vec()),
            )?;

        let x_label = |v: &f64| num(axis.value(*v));
        let y_label = |v: &f64| {
            centres
                .iter()
                .position(|c| (c - v).abs() < 1e-6)
                .and_then(|i| self.rows.get(i))
                .map(|r| shorten(&r.label))
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(self.x_desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .draw()?;

        let clip = |v: f64| axis.pos(v.clamp(axis.lo, axis.hi));
        for (row, &y) in self.rows.iter().zip(centres) {
            for mark in &row.marks {
                match mark {
                    Mark::Bar { from, to, color: c } => {
                        if !(from.is_finite() && to.is_finite()) {
                            continue;
                        }
                        let rect = Rectangle::new(
                            [(clip(*from), y - 0.35), (clip(*to), y + 0.35)],
                            color(*c).filled(),
                        );
                        chart.plotting_area().draw(&rect)?;
                    }
                    Mark::Whisker { lo, hi } => {
                        if !(lo.is_finite() && hi.is_finite()) {
                            continue;
                        }
                        let (a, b) = (clip(*lo), clip(*hi));
                        let ink = BLACK.stroke_width(1);
                        for line in [
                            vec![(a, y), (b, y)],
                            vec![(a, y - 0.2), (a, y + 0.2)],
                            vec![(b, y - 0.2), (b, y + 0.2)],
                        ] {
                            chart.plotting_area().draw(&PathElement::new(line, ink))?;
                        }
                    }
                    Mark::Dots {
                        values,
                        color: c,
                        outliers,
                    } => {
                        let style = color(*c).mix(0.55).filled();
                        let drawable =
                            |v: &f64| v.is_finite() && (axis.scale == Scale::Linear || *v > 0.0);
                        let dots = values
                            .iter()
                            .enumerate()
                            .filter(|(_, v)| drawable(v))
                            .map(|(i, v)| Circle::new((clip(*v), y + jitter(i)), 3, style));
                        chart.draw_series(dots)?;
                        let ring = OUTLIER.stroke_width(2);
                        let rings = outliers
                            .iter()
                            .filter_map(|&i| values.get(i).map(|v| (i, v)))
                            .filter(|(_, v)| drawable(v))
                            .map(|(i, v)| Circle::new((clip(*v), y + jitter(i)), 6, ring));
                        chart.draw_series(rings)?;
                    }
                    Mark::Point { at, color: c } => {
                        if !at.is_finite() {
                            continue;
                        }
                        let dot = Circle::new((clip(*at), y), 5, color(*c).filled());
                        chart.plotting_area().draw(&dot)?;
                    }
                    Mark::Tick { at } => {
                        if !at.is_finite() {
                            continue;
                        }
                        let x = clip(*at);
                        let line = vec![(x, y - 0.45), (x, y + 0.45)];
                        chart
                            .plotting_area()
                            .draw(&PathElement::new(line, BLACK.stroke_width(3)))?;
                    }
                }
            }
        }

        if let Some(at) = self.reference.filter(|at| at.is_finite()) {
            let x = clip(at);
            // Dashed (5 px on, 4 px off) so that it reads as a reference, not as data.
            chart.draw_series(DashedLineSeries::new(
                [(x, 0.0), (x, rows_height)],
                5,
                4,
                BLACK.into(),
            ))?;
        }
        Ok(())
    }
}

/// A chart of lines over a numeric x axis (e.g. memory against the number
/// of instances), in one or more panels side by side sharing one legend.
#[derive(Debug, Clone)]
pub struct XyChart {
    pub title: String,
    pub legend: Vec<LegendEntry>,
    pub panels: Vec<Panel>,
}

/// One plot of an [`XyChart`].
#[derive(Debug, Clone)]
pub struct Panel {
    /// Short heading over the panel; empty for a single panel.
    pub title: String,
    /// Axis descriptions, with units.
    pub x_desc: String,
    pub y_desc: String,
    pub x_scale: Scale,
    pub y_scale: Scale,
    pub series: Vec<Series>,
}

/// One line: points joined in order of x, solid or dashed.
#[derive(Debug, Clone)]
pub struct Series {
    pub color: usize,
    pub dashed: bool,
    pub points: Vec<XyPoint>,
}

#[derive(Debug, Clone, Copy)]
pub struct XyPoint {
    pub x: f64,
    pub y: f64,
    /// A vertical whisker (e.g. p5–p95) through the point.
    pub span: Option<(f64, f64)>,
}

/// Height of the plot of an [`XyChart`] panel, pixels.
const XY_PLOT_PX: u32 = 340;

impl XyChart {
    /// True when no panel has a point that can be drawn.
    pub fn is_empty(&self) -> bool {
        self.panels.iter().all(|p| p.ranges().is_none())
    }

    pub fn to_svg(&self) -> Result<String, String> {
        if self.is_empty() {
            return Err("none of its figures is a usable number".to_owned());
        }
        let legend_lines = legend_layout(&self.legend).last().map_or(0, |e| e.line + 1);
        let legend_px = legend_lines as u32 * LEGEND_LINE_PX as u32 + 8;
        let height = 48 + legend_px + XY_PLOT_PX + 64;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            self.draw(&root, legend_px)
                .map_err(|e| format!("plotting failed: {e}"))?;
            root.present()
                .map_err(|e| format!("plotting failed: {e}"))?;
        }
        Ok(svg)
    }

    fn draw(
        &self,
        root: &DrawingArea<SVGBackend, Shift>,
        legend_px: u32,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
        root.fill(&WHITE)?;
        let body = root.titled(&self.title, ("sans-serif", TITLE_FONT))?;
        let (legend_area, plots) = body.split_vertically(legend_px);
        draw_legend(&legend_area, &self.legend)?;
        let count = self.panels.len().max(1);
        let areas = plots.split_evenly((1, count));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

impl Panel {
    /// The x and y axis ranges in data units, or `None` with nothing to draw.
    fn ranges(&self) -> Option<((f64, f64), (f64, f64))> {
        let usable = |scale: Scale, v: f64| v.is_finite() && (scale == Scale::Linear || v > 0.0);
        let points = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| usable(self.x_scale, p.x) && usable(self.y_scale, p.y))
        };
        let fold = |values: &mut dyn Iterator<Item = f64>| {
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
        };
        let (x_lo, x_hi) = fold(&mut points().map(|p| p.x));
        let spans = points()
            .flat_map(|p| p.span.map(|(a, b)| [a, b]).unwrap_or([p.y, p.y]))
            .filter(|v| usable(self.y_scale, *v));
        let (y_lo, y_hi) = fold(&mut points().map(|p| p.y).chain(spans));
        if !(x_lo.is_finite() && y_lo.is_finite()) {
            return None;
        }
        let pad = |scale: Scale, lo: f64, hi: f64| match scale {
            // Memory starts at zero, so that lines can be compared by height.
            Scale::Linear => (lo.min(0.0), if hi > 0.0 { hi * 1.08 } else { 1.0 }),
            Scale::Log | Scale::Log2 => (lo / 1.3, hi * 1.3),
        };
        Some((pad(self.x_scale, x_lo, x_hi), pad(self.y_scale, y_lo, y_hi)))
    }

    fn draw(
        &self,
        area: &DrawingArea<SVGBackend, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
        let Some(((x_lo, x_hi), (y_lo, y_hi))) = self.ranges() else {
            return Ok(());
        };
        let x_axis = Axis::new(self.x_scale, x_lo, x_hi);
        let y_axis = Axis::new(self.y_scale, y_lo, y_hi);
        let area = if self.title.is_empty() {
            area.clone()
        } else {
            area.titled(&self.title, ("sans-serif", LABEL_FONT))?
        };
        let ticks = |axis: &Axis| axis.ticks.iter().map(|v| axis.pos(*v)).collect::<Vec<_>>();
        let mut chart = ChartBuilder::on(&area)
            .margin_right(24)
            .margin_top(8)
            .x_label_area_size(58)
            .y_label_area_size(84)
            .build_cartesian_2d(
                Ticked::new(x_axis.pos(x_axis.lo)..x_axis.pos(x_axis.hi), ticks(&x_axis)),
                Ticked::new(y_axis.pos(y_axis.lo)..y_axis.pos(y_axis.hi), ticks(&y_axis)),
            )?;
        let x_label = |v: &f64| num(x_axis.value(*v));
        let y_label = |v: &f64| num(y_axis.value(*v));
        chart
            .configure_mesh()
            .bold_line_style(RGBColor(225, 225, 225))
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", LABEL_FONT))
            .draw()?;

        let usable =
            |axis: &Axis, v: f64| v.is_finite() && (axis.scale == Scale::Linear || v > 0.0);
        let at = |p: &XyPoint| (x_axis.pos(p.x), y_axis.pos(p.y));
        // Half the width of a whisker cap, in drawn x units.
        let cap = (x_axis.pos(x_axis.hi) - x_axis.pos(x_axis.lo)) * 0.012;
        for series in &self.series {
            let mut points: Vec<XyPoint> = series
                .points
                .iter()
                .copied()
                .filter(|p| usable(&x_axis, p.x) && usable(&y_axis, p.y))
                .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            let ink = color(series.color);
            let line = ink.stroke_width(2);
            let coords: Vec<(f64, f64)> = points.iter().map(at).collect();
            if series.dashed {
                chart.draw_series(DashedLineSeries::new(coords.clone(), 7, 5, line))?;
            } else {
                chart.draw_series(LineSeries::new(coords.clone(), line))?;
            }
            for p in &points {
                let Some((lo, hi)) = p.span else { continue };
                if !(usable(&y_axis, lo) && usable(&y_axis, hi)) {
                    continue;
                }
                let x = x_axis.pos(p.x);
                let (a, b) = (y_axis.pos(lo), y_axis.pos(hi));
                for segment in [
                    vec![(x, a), (x, b)],
                    vec![(x - cap, a), (x + cap, a)],
                    vec![(x - cap, b), (x + cap, b)],
                ] {
                    chart
                        .plotting_area()
                        .draw(&PathElement::new(segment, ink.stroke_width(1)))?;
                }
            }
            let style: ShapeStyle = if series.dashed {
                WHITE.filled()
            } else {
                ink.filled()
            };
            chart.draw_series(coords.iter().map(|c| Circle::new(*c, 4, style)))?;
            if series.dashed {
                chart.draw_series(coords.iter().map(|c| Circle::new(*c, 4, line)))?;
            }
        }
        Ok(())
    }
}

/// A linear axis with exactly the ticks we give it. (plotters' own
/// `with_key_points` wrapper does the same but cannot be labelled for `f64`:
/// a plotters axis type needs a formatting option, and this one says "format
/// with the closure given to the mesh".)
struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked { range, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    /// Value -> pixel, linearly between the ends of the axis.
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.range.start) / (self.range.end - self.range.start);
        // `as` saturates (and maps NaN to 0): odd data cannot make this panic.
        limit.0 + (f64::from(limit.1 - limit.0) * fraction).round() as i32
    }

    /// The ticks, and no light grid lines between them.
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Row labels longer than this are shortened in the chart.
const MAX_LABEL_CHARS: usize = 44;

fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_owned()
    } else {
        let head: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// A deterministic vertical offset for the i-th dot of a strip plot, within
/// ±0.3 of a row: successive multiples of the golden ratio spread evenly, so
/// samples with equal values form a visible cloud instead of one dot. No
/// randomness: the same results always draw the same picture.
fn jitter(i: usize) -> f64 {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    ((i as f64 * GOLDEN).fract() - 0.5) * 0.6
}

/// Places legend entries left to right, wrapping onto new lines.
struct Placed<'a> {
    entry: &'a LegendEntry,
    x: i32,
    line: usize,
}

fn legend_layout(entries: &[LegendEntry]) -> Vec<Placed<'_>> {
    let mut placed = Vec::with_capacity(entries.len());
    let (mut x, mut line) = (16.0, 0);
    let mut previous_had_key = false;
    for entry in entries {
        let key_px = key_width(entry.key);
        let width = key_px + entry.name.chars().count() as f64 * CHAR_PX + 24.0;
        // Wrap when the line is full, and start the text-only run key on a
        // line of its own so that it does not read as one more series.
        let has_key = entry.key != Key::Text;
        let key_starts = !has_key && previous_had_key;
        previous_had_key = has_key;
        if (x + width > f64::from(WIDTH) - 16.0 || key_starts) && x > 16.0 {
            x = 16.0;
            line += 1;
        }
        placed.push(Placed {
            entry,
            x: x as i32,
            line,
        });
        x += width;
    }
    placed
}

fn draw_legend(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[LegendEntry],
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let font = ("sans-serif", LABEL_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for p in legend_layout(entries) {
        let y = 12 + p.line as i32 * LEGEND_LINE_PX;
        let x = p.x;
        match p.entry.key {
            Key::Swatch(c) => {
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 12, y + 6)],
                    color(c).filled(),
                ))?;
            }
            Key::Line { color: c, dashed } => {
                let ink = c.map_or(BLACK, color);
                let style = ink.stroke_width(2);
                if dashed {
                    for start in [x, x + 10, x + 20] {
                        area.draw(&PathElement::new(vec![(start, y), (start + 6, y)], style))?;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(x, y), (x + 26, y)], style))?;
                }
                area.draw(&point_marker((x + 13, y), ink, dashed))?;
            }
            Key::Text => {}
        }
        let x = x + key_width(p.entry.key) as i32;
        area.draw(&Text::new(p.entry.name.clone(), (x, y), font.clone()))?;
    }
    Ok(())
}

/// Room a legend key takes before the entry's name, pixels.
fn key_width(key: Key) -> f64 {
    match key {
        Key::Swatch(_) => 18.0,
        Key::Line { .. } => 34.0,
        Key::Text => 0.0,
    }
}

/// The marker of a point on a line: filled on solid lines, a ring on
/// dashed ones, so that two series of one colour stay apart in grey print.
fn point_marker<C: Into<ShapeStyle>>(
    at: (i32, i32),
    ink: C,
    hollow: bool,
) -> Circle<(i32, i32), i32> {
    let style: ShapeStyle = ink.into();
    if hollow {
        Circle::new(at, 4, style.stroke_width(2))
    } else {
        Circle::new(at, 4, style.filled())
    }
}

/// The horizontal axis: its range in data units and where the ticks go.
struct Axis {
    scale: Scale,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(scale: Scale, lo: f64, hi: f64) -> Axis {
        // A degenerate range (all values equal) still needs a width.
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            match scale {
                Scale::Linear => (lo - 1.0, hi + 1.0),
                Scale::Log | Scale::Log2 => (lo / 2.0, hi * 2.0),
            }
        };
        let ticks = match scale {
            Scale::Linear => linear_ticks(lo, hi),
            Scale::Log => log_ticks(lo, hi),
            Scale::Log2 => log2_ticks(lo, hi),
        };
        Axis {
            scale,
            lo,
            hi,
            ticks,
        }
    }

    /// Data value -> position on the drawn (linear) axis.
    fn pos(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.log10(),
            Scale::Log2 => v.log2(),
        }
    }

    /// Position on the drawn axis -> data value (for tick labels).
    fn value(&self, pos: f64) -> f64 {
        match self.scale {
            Scale::Linear => pos,
            Scale::Log => 10f64.powf(pos),
            Scale::Log2 => 2f64.powf(pos),
        }
    }
}

/// About six ticks at round values (1, 2 or 5 times a power of ten apart).
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = match raw / magnitude {
        n if n < 1.5 => 1.0,
        n if n < 3.5 => 2.0,
        n if n < 7.5 => 5.0,
        _ => 10.0,
    } * magnitude;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Multiplying (instead of adding steps) avoids drift like 0.30000000000000004.
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks on a log axis: 1-2-5 in each decade; only powers of ten when that
/// would crowd the axis; every mantissa 1..9, then round linear values,
/// when the range is too narrow for 1-2-5 to give at least three.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let within = |mantissas: &[f64]| -> Vec<f64> {
        let first = lo.log10().floor() as i32;
        let last = hi.log10().ceil() as i32;
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    let one_two_five = within(&[1.0, 2.0, 5.0]);
    if one_two_five.len() > 10 {
        let decades = within(&[1.0]);
        let stride = decades.len().div_ceil(8).max(1);
        return decades.into_iter().step_by(stride).collect();
    }
    if one_two_five.len() >= 3 {
        return one_two_five;
    }
    let all = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if all.len() >= 3 {
        return all;
    }
    linear_ticks(lo, hi)
        .into_iter()
        .filter(|v| *v > 0.0)
        .collect()
}

/// Powers of two inside the range, at most about eight of them.
fn log2_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let first = lo.log2().ceil() as i32;
    let last = hi.log2().floor() as i32;
    if first > last {
        return log_ticks(lo, hi);
    }
    let stride = ((last - first) as usize / 8 + 1).max(1);
    (first..=last)
        .step_by(stride)
        .map(|e| 2f64.powi(e))
        .collect()
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
