//! Every output of `gpugate fleet`, rendered from one [`FleetReport`] as a run's are from one
//! `RunReport`: fleet.json, report.md and report.html (the run's document model and renderers),
//! junit.xml, and one SVG chart per profile, GPU model and metric. Writing goes through the
//! run's layout: `DIR/runs/<id>/` and `DIR/latest`.

pub mod console;
pub mod document;
pub mod junit;

pub use console::console;

use std::path::{Path, PathBuf};

use super::charts;
use super::layout::{self, RunDir};
use crate::fleet::FleetReport;

/// fleet.json: the report as pretty JSON.
pub fn json(f: &FleetReport) -> String {
    let mut s = serde_json::to_string_pretty(f).expect("a FleetReport serialises");
    s.push('\n');
    s
}

/// Every fleet output in memory: (file name, contents).
pub fn render_all(f: &FleetReport) -> Vec<(String, String)> {
    let charts = charts::fleet::charts(f);
    let doc = document::build(f, &charts);
    let mut out = vec![
        ("fleet.json".to_string(), json(f)),
        (
            "report.md".to_string(),
            super::markdown::render_document(&doc),
        ),
        (
            "report.html".to_string(),
            super::html::render_document(&doc),
        ),
        ("junit.xml".to_string(), junit::render(f)),
    ];
    out.extend(charts.into_iter().map(|c| (c.file_name, c.svg)));
    out
}

/// Where a fleet was written.
#[derive(Debug)]
pub struct Written {
    pub dir: RunDir,
    pub files: Vec<PathBuf>,
    /// `DIR/latest`, or why it could not be moved.
    pub latest: std::io::Result<PathBuf>,
}

/// Writes every fleet output into a run directory of its own under `root`, then points
/// `root/latest` at it.
pub fn write_all(f: &FleetReport, root: &Path) -> Result<Written, crate::error::Error> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |err| crate::error::Error::Output { path, err }
    };
    let dir = layout::create_run_dir(root, &f.merged_at).map_err(fail(root))?;
    let mut files = Vec::new();
    for (name, text) in render_all(f) {
        files.push(super::write_atomic(&dir.dir, &name, &text).map_err(fail(&dir.dir))?);
    }
    let latest = layout::point_latest(&dir);
    Ok(Written { dir, files, latest })
}

#[cfg(test)]
mod tests;
