//! The environments section: what ran in each row, the notes a reader needs
//! to read its figures, and what was not measured and why.

use super::format::esc;
use super::Page;
use crate::schema::EnvResult;

/// Said once per run that has rootless rows.
const ROOTLESS_NOTE: &str = "<p class=\"rootless\">Rows marked <em>(rootless)</em> ran without \
root: each container had a user namespace of its own, in which root is the user who ran vmvc \
and nobody else exists on the host's side. Their startup includes creating that namespace (in \
<code>clone</code>) and writing its id map (<code>userns_map</code>, or inside the tool for the \
peers). A rootless container is not the same thing as a root one: compare with a run as root.</p>\n";

/// What ran where, the notes a reader needs, and what was not measured and why.
pub(super) fn environments_section(page: &Page) -> String {
    let mut html = String::from("<section id=\"environments\">\n<h2>Environments</h2>\n");
    for run in &page.runs {
        if page.comparing() {
            html.push_str(&format!("<h3>Run {}: {}</h3>\n", run.no, esc(&run.label())));
        }
        let (skipped, measured): (Vec<&EnvResult>, Vec<&EnvResult>) = run
            .res
            .environments
            .iter()
            .partition(|e| e.skipped.is_some());

        if run.res.environments.iter().any(|e| e.rootless) {
            html.push_str(ROOTLESS_NOTE);
        }
        if measured.is_empty() {
            html.push_str("<p class=\"absent\">No environment was measured in this run.</p>\n");
        } else {
            html.push_str("<dl class=\"envs\">\n");
            for env in measured {
                html.push_str(&format!(
                    "<dt>{}</dt>\n<dd>{}{}</dd>\n",
                    esc(&env.name),
                    esc(&env.description),
                    notes(&env.notes)
                ));
            }
            html.push_str("</dl>\n");
        }

        if !skipped.is_empty() {
            html.push_str("<h4>Not measured</h4>\n<ul class=\"skipped\">\n");
            for env in skipped {
                let reason = env.skipped.as_deref().unwrap_or_default();
                html.push_str(&format!(
                    "<li><strong>{}</strong>: {}{}</li>\n",
                    esc(&env.name),
                    esc(reason),
                    notes(&env.notes)
                ));
            }
            html.push_str("</ul>\n");
        }
    }
    html.push_str("</section>\n");
    html
}

fn notes(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let items: String = notes
        .iter()
        .map(|n| format!("<li>{}</li>", esc(n)))
        .collect();
    format!("<ul class=\"notes\">{items}</ul>")
}
