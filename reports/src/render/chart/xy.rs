//! Line charts over a numeric axis ([`XyChart`]): one or more panels of
//! series (density: memory and startup against the number of instances).

use super::*;

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
pub(super) const XY_PLOT_PX: u32 = 340;

impl XyChart {
    /// True when no panel has a point that can be drawn.
    pub fn is_empty(&self) -> bool {
        self.panels.iter().all(|p| p.ranges().is_none())
    }

    pub fn to_svg(&self) -> Result<String, String> {
        if self.is_empty() {
            return Err("none of its figures is a usable number".to_owned());
        }
        let legend_px = legend_px(&self.legend);
        svg_of(legend_px + XY_PLOT_PX, |root| self.draw(root, legend_px))
    }

    pub(super) fn draw(
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
    pub(super) fn ranges(&self) -> Option<((f64, f64), (f64, f64))> {
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

    pub(super) fn draw(
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
