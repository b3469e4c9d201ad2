//! Reading the rendered page back: its chart figures, the texts and shapes
//! drawn in each SVG.

/// One chart found on the page: its wrapper id and its `<svg>` element.
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
            let Some(open_end) = rest.find('>') else {
                break;
            };
            let Some(close) = rest.find("</text>") else {
                break;
            };
            out.push(unescape(rest[open_end + 1..close].trim()));
            rest = &rest[close..];
        }
        out
    }

    pub fn has_text(&self, needle: &str) -> bool {
        self.texts().iter().any(|t| t.contains(needle))
    }

    /// Shapes drawn: bars, dots, lines.
    pub fn shapes(&self) -> usize {
        ["<rect", "<circle", "<polyline", "<line"]
            .iter()
            .map(|tag| self.svg.matches(tag).count())
            .sum()
    }
}

pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every `<figure class="chart" id="…">` of the page with the `<svg>` inside.
pub fn charts(html: &str) -> Vec<ChartSvg> {
    let marker = "<figure class=\"chart\" id=\"";
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let id_end = rest.find('"').expect("an id attribute is quoted");
        let id = rest[..id_end].to_owned();
        let end = rest.find("</figure>").expect("every figure is closed");
        let figure = &rest[..end];
        let svg_start = figure
            .find("<svg")
            .expect("every chart figure holds an svg");
        let svg_end = figure.find("</svg>").expect("every svg is closed");
        out.push(ChartSvg {
            id,
            svg: figure[svg_start..svg_end + "</svg>".len()].to_owned(),
        });
        rest = &rest[end..];
    }
    out
}

pub fn chart<'a>(charts: &'a [ChartSvg], id: &str) -> &'a ChartSvg {
    charts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("chart {id} is on the page"))
}

pub const CHART_IDS: [&str; 7] = [
    "chart-ready",
    "chart-phases",
    "chart-distribution",
    "chart-memory",
    "chart-density",
    "chart-density-startup",
    "chart-throughput",
];

// ------------------------------------------------------------------ tests
