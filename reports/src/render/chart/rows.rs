//! Drawing a row chart ([`Chart`]): one labelled row per environment, bars,
//! whiskers, dots and ticks along one numeric axis, then the legend.

use super::*;

impl Chart {
    /// The horizontal axis range in data units, or `None` when no row holds
    /// a value that can be drawn (all missing, or non-positive on a log axis).
    pub(super) fn x_range(&self) -> Option<(f64, f64)> {
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
    pub(super) fn row_centres(&self) -> (Vec<f64>, f64) {
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

        let legend_px = legend_px(&self.legend);
        let plot_px = (rows_height * f64::from(self.row_px)).ceil() as u32;
        svg_of(legend_px + plot_px, |root| {
            self.draw(root, &axis, &centres, rows_height, legend_px)
        })
    }

    pub(super) fn draw(
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
