//! Axes: where the ticks go and how they are labelled, linear, log10
//! (1-2-5 per decade) or log2, on a plotters coordinate of our own.

use super::*;

/// A linear axis with exactly the ticks we give it. (plotters' own
/// `with_key_points` wrapper does the same but cannot be labelled for `f64`:
/// a plotters axis type needs a formatting option, and this one says "format
/// with the closure given to the mesh".)
pub(super) struct Ticked {
    pub(super) range: Range<f64>,
    pub(super) ticks: Vec<f64>,
}

impl Ticked {
    pub(super) fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
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

/// The horizontal axis: its range in data units and where the ticks go.
pub(super) struct Axis {
    pub(super) scale: Scale,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl Axis {
    pub(super) fn new(scale: Scale, lo: f64, hi: f64) -> Axis {
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
    pub(super) fn pos(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => v,
            Scale::Log => v.log10(),
            Scale::Log2 => v.log2(),
        }
    }

    /// Position on the drawn axis -> data value (for tick labels).
    pub(super) fn value(&self, pos: f64) -> f64 {
        match self.scale {
            Scale::Linear => pos,
            Scale::Log => 10f64.powf(pos),
            Scale::Log2 => 2f64.powf(pos),
        }
    }
}

/// About six ticks at round values (1, 2 or 5 times a power of ten apart).
pub(super) fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
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
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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
pub(super) fn log2_ticks(lo: f64, hi: f64) -> Vec<f64> {
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
