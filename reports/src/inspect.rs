//! Reading a rendered report back: its charts, the texts each SVG draws and
//! how many shapes. The report's own tests and the browser test (which reads
//! the DOM Chromium built from the page) check a page through this one
//! reader, so that what "a drawn chart" means is defined once.
//!
//! It is a reader for pages this crate wrote (each chart is a
//! `<figure class="chart" id="…">` holding one `<svg>`), not an HTML parser.

/// One chart found on a page: its figure's id and its `<svg>` element
/// (empty when the figure holds none).
#[derive(Debug, Clone)]
pub struct ChartSvg {
    pub id: String,
    pub svg: String,
}

impl ChartSvg {
    /// The texts drawn in the SVG (axis labels, legend, title), unescaped.
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.svg.as_str();
        while let Some(start) = rest.find("<text") {
            rest = &rest[start..];
            let (Some(open_end), Some(close)) = (rest.find('>'), rest.find("</text>")) else {
                break;
            };
            if open_end < close {
                out.push(unescape(rest[open_end + 1..close].trim()));
            }
            rest = &rest[close + "</text>".len()..];
        }
        out
    }

    /// True when one of the drawn texts contains `needle`.
    pub fn has_text(&self, needle: &str) -> bool {
        self.texts().iter().any(|t| t.contains(needle))
    }

    /// Shapes drawn: bars, dots, lines, paths.
    pub fn shapes(&self) -> usize {
        ["<rect", "<circle", "<polyline", "<line", "<path"]
            .iter()
            .map(|tag| self.svg.matches(tag).count())
            .sum()
    }
}

/// Decodes the entities our escaping (and a browser's serialiser) writes.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every `<figure class="chart" id="…">` of the page, with the `<svg>` inside.
pub fn charts(html: &str) -> Vec<ChartSvg> {
    let marker = "<figure class=\"chart\" id=\"";
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let id = rest.split('"').next().unwrap_or_default().to_owned();
        let end = rest.find("</figure>").unwrap_or(rest.len());
        let figure = &rest[..end];
        let svg = match (figure.find("<svg"), figure.find("</svg>")) {
            (Some(a), Some(b)) if a < b => figure[a..b + "</svg>".len()].to_owned(),
            _ => String::new(),
        };
        out.push(ChartSvg { id, svg });
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_figures_texts_and_shapes() {
        let page = "<p>x</p><figure class=\"chart\" id=\"chart-a\"><figcaption>c</figcaption>\
                    <svg><rect/><text x=\"1\">a &lt; b &amp; it&#39;s</text><circle/></svg></figure>\
                    <figure class=\"chart\" id=\"chart-b\"><p>no svg</p></figure>";
        let found = charts(page);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id, "chart-a");
        assert_eq!(found[0].texts(), vec!["a < b & it's".to_owned()]);
        assert!(found[0].has_text("b & it"));
        assert_eq!(found[0].shapes(), 2);
        assert_eq!(found[1].id, "chart-b");
        assert!(found[1].svg.is_empty());
    }
}
