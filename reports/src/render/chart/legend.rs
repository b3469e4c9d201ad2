//! Labels and legends: shortening long names, placing legend entries in
//! lines, and drawing each entry's key (a bar, a dot, a line).

use super::*;

/// Row labels longer than this are shortened in the chart.
pub(super) const MAX_LABEL_CHARS: usize = 44;

pub(super) fn shorten(label: &str) -> String {
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
pub(super) fn jitter(i: usize) -> f64 {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    ((i as f64 * GOLDEN).fract() - 0.5) * 0.6
}

/// Places legend entries left to right, wrapping onto new lines.
pub(super) struct Placed<'a> {
    pub(super) entry: &'a LegendEntry,
    pub(super) x: i32,
    pub(super) line: usize,
}

pub(super) fn legend_layout(entries: &[LegendEntry]) -> Vec<Placed<'_>> {
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

pub(super) fn draw_legend(
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
pub(super) fn key_width(key: Key) -> f64 {
    match key {
        Key::Swatch(_) => 18.0,
        Key::Line { .. } => 34.0,
        Key::Text => 0.0,
    }
}

/// The marker of a point on a line: filled on solid lines, a ring on
/// dashed ones, so that two series of one colour stay apart in grey print.
pub(super) fn point_marker<C: Into<ShapeStyle>>(
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
