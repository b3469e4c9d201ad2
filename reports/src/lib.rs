//! vmvc results and reports.
//!
//! Two things live here, both free of KVM, root and I/O beyond reading files:
//! - [`schema`]: the serde structures of `results.json`;
//! - [`render_html`]: a pure function from one or more results to one
//!   self-contained HTML page (inline SVG charts, no network);
//! - [`claims`]: the blog post's claims, each with a verdict computed from a run;
//! - [`inspect`]: reading a rendered page's charts back, for tests.

pub mod claims;
pub mod inspect;
mod render;
pub mod schema;

pub use render::render_html;
pub use schema::*;

use std::path::{Path, PathBuf};

/// Errors reading a results file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot read results file {path}: {source} (give the results.json that `vmvc run` printed)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a vmvc results file: {why} (give the results.json that `vmvc run` printed)"
    )]
    NotAFile { path: PathBuf, why: String },
    #[error(
        "{path} is not a vmvc results file (expected the JSON written by `vmvc run`): {source}"
    )]
    NotResults {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} has schema_version {found}, this vmvc reads version {expected}; \
         re-run `vmvc run` with this version or use the vmvc that wrote it"
    )]
    Version {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
}

/// Reads and validates one `results.json`.
pub fn load(path: &Path) -> Result<Results, ReportError> {
    let read = |source| ReportError::Read {
        path: path.to_owned(),
        source,
    };
    let not = |why: String| ReportError::NotAFile {
        path: path.to_owned(),
        why,
    };
    // A directory, /dev/zero or a pipe would fail late or never end.
    let meta = std::fs::metadata(path).map_err(read)?;
    if !meta.is_file() {
        return Err(not("it is a directory or a device, not a file".into()));
    }
    if meta.len() > MAX_RESULTS_FILE {
        return Err(not(format!(
            "it is {} bytes, more than any run writes",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        not(format!(
            "it is not text (invalid UTF-8 at byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path)
}

/// Larger than any results file a run writes (a full run's is ~1 MB).
pub const MAX_RESULTS_FILE: u64 = 256 << 20;

/// Parses results text; `path` only names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Results, ReportError> {
    // Check the version before the full structure so that a file from another
    // version gets the version error, not a confusing "missing field".
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| ReportError::NotResults {
            path: path.to_owned(),
            source,
        })?;
    if let Some(found) = value.get("schema_version").and_then(|v| v.as_u64()) {
        if found != u64::from(SCHEMA_VERSION) {
            return Err(ReportError::Version {
                path: path.to_owned(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
    }
    serde_json::from_value(value).map_err(|source| ReportError::NotResults {
        path: path.to_owned(),
        source,
    })
}
