//! `gpugate report`: a saved run decided again and every report rendered from it once more, on
//! any machine ([`rerender`]). Nothing is measured: the checks, verdict and exit code come from
//! the run's results and the profile it records ([`decide_again`], through [`gate::redecide`]).

use std::path::{Path, PathBuf};

use super::layout;
use crate::clock::now_rfc3339;
use crate::error::Error;
use crate::gate;
use crate::model::RunReport;

/// What `gpugate report` leaves behind.
#[derive(Debug)]
pub struct Rerendered {
    pub report: RunReport,
    /// The directory the reports were written to.
    pub dir: PathBuf,
    pub written: Vec<PathBuf>,
    /// With `--out`: `DIR/latest`, or why it could not be moved.
    pub latest: Option<std::io::Result<PathBuf>>,
}

/// Replaces a saved run's checks, verdict and exit code with those its results and recorded
/// profile give ([`gate::redecide`]), adding its notes.
pub fn decide_again(report: &mut RunReport) {
    let decision = gate::redecide(report);
    report.checks = decision.checks;
    report.verdict = decision.verdict;
    report.exit_code = decision.exit_code;
    report.notes.extend(decision.notes);
}

/// `gpugate report`: reads a saved run and renders every report from it. Without `out` the
/// reports are written beside the run.json (its run.json is never rewritten: it is the
/// record); with `out` into a run directory of their own under it, as a run writes them.
pub fn rerender(run_json: &Path, out: Option<&Path>) -> Result<Rerendered, Error> {
    let mut report = super::load_run(run_json)?;
    decide_again(&mut report);
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |err| Error::Output { path, err }
    };
    match out {
        None => {
            let dir = match run_json.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let written = super::write_reports(&report, &dir).map_err(fail(&dir))?;
            Ok(Rerendered {
                report,
                dir,
                written,
                latest: None,
            })
        }
        Some(root) => {
            let run_dir = layout::create_run_dir(root, &now_rfc3339()).map_err(fail(root))?;
            let written = super::write_all(&report, &run_dir.dir).map_err(fail(&run_dir.dir))?;
            let latest = super::layout::point_latest(&run_dir);
            Ok(Rerendered {
                report,
                dir: run_dir.dir,
                written,
                latest: Some(latest),
            })
        }
    }
}
