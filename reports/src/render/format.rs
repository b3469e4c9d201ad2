//! Text helpers shared by every part of the page: HTML escaping, numbers
//! with units, and plain HTML tables.
//!
//! Everything here turns data into *text*; nothing decides what to show.

/// Escapes text for HTML element content and quoted attribute values.
///
/// Every string that comes from a results file (environment names, notes,
/// hostnames, kernel command lines) goes through here before it reaches the
/// page: a file is data, never markup.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number with about three significant digits and no trailing zeros:
/// `1234.4 -> "1234"`, `0.01234 -> "0.0123"`, `2.0 -> "2"`.
/// Missing figures (NaN, infinities) print as an em dash.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor();
    if !(-4.0..9.0).contains(&magnitude) {
        // Far outside what the chosen units produce; scientific notation
        // stays readable where positional notation would not.
        return format!("{v:.2e}");
    }
    // Decimals that leave three significant digits (none for large numbers).
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A fraction as a percentage number, `0.042 -> "4.2"` (the unit is in the
/// column heading or follows the caller's text).
pub fn pct(fraction: f64) -> String {
    num(fraction * 100.0)
}

/// How many samples were flagged as outliers: `"none"`, `"3 outliers flagged"`.
pub fn outliers(flagged: &[usize]) -> String {
    match flagged.len() {
        0 => "none".to_owned(),
        1 => "1 outlier flagged".to_owned(),
        k => format!("{k} outliers flagged"),
    }
}

/// The unit in which a set of durations reads best. Results store seconds;
/// startups range from tens of microseconds (a process) to seconds (a Linux
/// guest under emulation), so each chart picks one unit for all its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Micros,
    Millis,
    Seconds,
}

impl TimeUnit {
    /// Picks the unit from the largest value to show (seconds): below 1 ms
    /// everything reads in µs; below 10 s in ms (so 2.5 s reads 2500 ms and a
    /// log axis from µs-scale to s-scale values stays in one familiar unit).
    pub fn pick(seconds: impl IntoIterator<Item = f64>) -> TimeUnit {
        let max = seconds
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max);
        if max < 1e-3 {
            TimeUnit::Micros
        } else if max < 10.0 {
            TimeUnit::Millis
        } else {
            TimeUnit::Seconds
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Micros => "µs",
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
        }
    }

    /// Seconds -> this unit.
    pub fn of(self, seconds: f64) -> f64 {
        match self {
            TimeUnit::Micros => seconds * 1e6,
            TimeUnit::Millis => seconds * 1e3,
            TimeUnit::Seconds => seconds,
        }
    }
}

/// Appends a unit unless the number is missing (no "— ms").
fn with_unit(number: String, unit: &str) -> String {
    if number == "—" {
        number
    } else {
        format!("{number} {unit}")
    }
}

pub const MIB: f64 = 1024.0 * 1024.0;

/// Bytes -> MiB, the unit of every memory figure on the page.
pub fn mib(bytes: f64) -> f64 {
    bytes / MIB
}

/// Bytes as text with a binary prefix chosen from the size.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    with_unit(num(value), UNITS[unit])
}

/// A rate in its results unit (`ops/s`, `bytes/s`, ...) with a prefix:
/// binary for bytes (`12.3 GiB/s`), decimal otherwise (`45.6 M ops/s`).
pub fn rate(value: f64, unit: &str) -> String {
    if unit == "bytes/s" {
        let text = bytes(value);
        return if text == "—" { text } else { text + "/s" };
    }
    let (scaled, prefix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G "),
        v if v >= 1e6 => (value / 1e6, "M "),
        v if v >= 1e3 => (value / 1e3, "k "),
        _ => (value, ""),
    };
    with_unit(num(scaled), &format!("{prefix}{unit}"))
}

/// One column of a [`table`]: its heading and whether it holds numbers
/// (right-aligned so that digits line up).
pub struct Col {
    pub title: String,
    pub numeric: bool,
}

pub fn text_col(title: impl Into<String>) -> Col {
    Col {
        title: title.into(),
        numeric: false,
    }
}

pub fn num_col(title: impl Into<String>) -> Col {
    Col {
        title: title.into(),
        numeric: true,
    }
}

/// An HTML table from plain-text cells. Cells are escaped here, in one
/// place, so callers never build markup from data.
pub fn table(caption: &str, cols: &[Col], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<div class=\"table-wrap\"><table>\n");
    html.push_str(&format!("<caption>{}</caption>\n<thead><tr>", esc(caption)));
    for col in cols {
        html.push_str(&format!("<th{}>{}</th>", class(col), esc(&col.title)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let attr = cols.get(i).map(class).unwrap_or("");
            html.push_str(&format!("<td{attr}>{}</td>", esc(cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    html
}

fn class(col: &Col) -> &'static str {
    if col.numeric {
        " class=\"num\""
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(0.012345), "0.0123");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(99.96), "100");
        assert_eq!(num(f64::NAN), "—");
        assert_eq!(num(-1.5), "-1.5");
    }

    #[test]
    fn units_follow_the_data() {
        assert_eq!(TimeUnit::pick([50e-6, 400e-6]), TimeUnit::Micros);
        assert_eq!(TimeUnit::pick([50e-6, 2.5]), TimeUnit::Millis);
        assert_eq!(TimeUnit::pick([f64::NAN]), TimeUnit::Micros);
        assert_eq!(TimeUnit::Millis.of(0.0025), 2.5);
        assert_eq!(bytes(3.0 * MIB), "3 MiB");
        assert_eq!(rate(12.5e9, "bytes/s"), "11.6 GiB/s");
        assert_eq!(rate(45.6e6, "ops/s"), "45.6 M ops/s");
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
