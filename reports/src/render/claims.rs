//! The claims section at the top of the page: the blog post's eight claims,
//! each with its verdict in every run, then the experiment, the rule and the
//! figures behind each verdict ([`crate::claims`] computes them).

use super::format::esc;
use super::Page;
use crate::claims::{evaluate, Claim, Verdict};

/// The section, or nothing for a page without runs.
pub(super) fn claims_section(page: &Page) -> String {
    let per_run: Vec<Vec<Claim>> = page.runs.iter().map(|r| evaluate(r.res)).collect();
    let Some(first) = per_run.first() else {
        return String::new();
    };
    let mut html = String::from(
        "<section id=\"claims\">\n<h2>The claims, checked</h2>\n\
         <p>A popular introduction to Docker (\"Docker 시작하기 #1\") teaches the eight claims \
         below. Each is tested by an experiment of this run, and its verdict is <em>computed</em> \
         from this run's figures by the rule written under it: on another machine, or with \
         another runtime, a verdict can come out otherwise. \"Not tested here\" means this run \
         has no figure that could decide it.</p>\n",
    );

    // The verdicts at a glance: one row per claim, one column per run.
    html.push_str(
        "<div class=\"table-wrap\"><table class=\"verdicts\">\n<thead><tr><th>#</th><th>claim</th>",
    );
    for run in &page.runs {
        let head = if page.comparing() {
            format!("run {}", run.no)
        } else {
            "verdict".to_owned()
        };
        html.push_str(&format!("<th>{head}</th>"));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for (i, claim) in first.iter().enumerate() {
        html.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td><a href=\"#claim-{}\">{}</a></td>",
            claim.no,
            claim.no,
            esc(claim.english)
        ));
        for claims in &per_run {
            if let Some(c) = claims.get(i) {
                html.push_str(&format!("<td>{}</td>", badge(c.verdict)));
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");

    for (i, claim) in first.iter().enumerate() {
        html.push_str(&format!(
            "<div class=\"claim\" id=\"claim-{}\">\n<h3>{}. {}</h3>\n<p class=\"ko\" lang=\"ko\">{}</p>\n",
            claim.no,
            claim.no,
            esc(claim.english),
            esc(claim.korean)
        ));
        html.push_str(&format!(
            "<p><strong>Experiment.</strong> {}</p>\n<p><strong>Rule.</strong> {}</p>\n",
            esc(claim.experiment),
            esc(claim.rule)
        ));
        for (run, claims) in page.runs.iter().zip(&per_run) {
            let Some(c) = claims.get(i) else { continue };
            let on = if page.comparing() {
                format!(" in run {}", run.no)
            } else {
                String::new()
            };
            html.push_str(&format!(
                "<p><strong>Verdict{on}:</strong> {}</p>\n",
                badge(c.verdict)
            ));
            if c.evidence.is_empty() {
                html.push_str("<p class=\"absent\">No figure of this run bears on it.</p>\n");
            } else {
                html.push_str("<ul class=\"evidence\">");
                for e in &c.evidence {
                    html.push_str(&format!("<li>{}</li>", esc(e)));
                }
                html.push_str("</ul>\n");
            }
        }
        html.push_str("</div>\n");
    }
    html.push_str("</section>\n");
    html
}

/// A verdict as a coloured label (the colour repeats the word, for print).
fn badge(v: Verdict) -> String {
    let class = match v {
        Verdict::True => "true",
        Verdict::HalfTrue => "half",
        Verdict::False => "false",
        Verdict::NotTested => "untested",
    };
    format!("<span class=\"verdict {class}\">{}</span>", v.as_str())
}
