//! Reports: every output is rendered from one [`RunReport`]; reporting never measures.
//!
//! - [`json`]: run.json, the source of truth (pretty serde JSON with `schema_version`).
//! - [`markdown`]: report.md, for people and for publishing.
//! - [`html`]: report.html, one self-contained page with the charts inline.
//! - [`junit`]: junit.xml, every check as a JUnit test case.
//! - [`console`]: the compact summary printed at the end of a run.
//! - [`info`]: the inventory text of `gpugate info`.
//! - [`rerender`]: `gpugate report`, a saved run decided again ([`decide_again`]) and rendered
//!   once more.
//!
//! run.json is written atomically (a temporary file renamed over the old one), so a crash
//! mid-write keeps the previous complete file. [`load_run`] reads it back, on any machine, with
//! errors that say what is wrong with the file.

pub mod burn;
pub mod charts;
pub mod console;
pub mod document;
pub mod fleet;
pub mod gemm;
pub mod health;
pub mod html;
pub mod info;
pub mod json;
pub mod junit;
pub mod layout;
pub mod markdown;
pub mod memtest;
pub mod p2p;
mod rerender;
pub mod video;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::model::{Check, RunReport, Verdict, SCHEMA_VERSION};

pub use console::Console;
pub use json::Json;
pub use markdown::Markdown;
pub use rerender::{decide_again, rerender, Rerendered};

/// The warning every report carries at its top when a GPU of the run was simulated
/// (gpugate-sim): which GPUs, that nothing is a measurement, and whether their checks were let
/// pass. None for a run on real GPUs only.
pub fn simulated_banner(r: &RunReport) -> Option<String> {
    let sims: Vec<String> = r
        .gpus
        .iter()
        .filter(|g| g.is_simulated())
        .map(|g| format!("GPU {} ({})", g.index, g.name))
        .collect();
    if sims.is_empty() {
        return None;
    }
    Some(format!(
        "SIMULATED: {} {} simulated on the CPU by gpugate-sim; no number in this report is a GPU \
         measurement. {}",
        sims.join(", "),
        if sims.len() == 1 { "is" } else { "are" },
        if r.allow_simulated {
            "The run was given --allow-simulated: checks of simulated devices keep their \
             verdicts, for testing gpugate itself."
        } else {
            "Every check of a simulated device FAILS (pass --allow-simulated only to test \
             gpugate itself)."
        }
    ))
}

/// The warning every report carries at its top when the run did not finish: interrupted (by
/// which signal, when, after how many workloads) or saved mid-run and never completed. None
/// for a complete run.
pub fn incomplete_banner(r: &RunReport) -> Option<String> {
    if r.complete {
        return None;
    }
    Some(match &r.interrupted {
        Some(i) => format!(
            "INCOMPLETE: the run was interrupted by {} at {} after {}. What was measured is \
             reported; the rest was not measured, and the run FAILS (check run.complete).",
            i.signal,
            i.at,
            crate::model::memtest::done_so_far(
                &r.memtest,
                i.finished_workloads,
                i.planned_workloads
            )
        ),
        None => "INCOMPLETE: this run.json was saved mid-run and never completed (the run was \
                 killed or crashed, or is still running). Results and checks are missing, and \
                 the run FAILS (check run.complete)."
            .to_string(),
    })
}

/// Renders a run into one output format.
pub trait Reporter {
    /// The file name the output is written under, e.g. "report.md".
    fn file_name(&self) -> &'static str;
    /// The whole output.
    fn render(&self, r: &RunReport) -> String;
}

/// Why a saved run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {}: {source}{}", path.display(), if source.is_os_error() { ". Check the path (it names a run.json written by `gpugate run`)" } else { "" })]
    Io {
        path: PathBuf,
        source: crate::files::ReadError,
    },
    #[error(
        "{}: the file is truncated or not JSON: {message} at line {line} column {column}. \
         A run that was killed mid-write keeps its previous run.json; re-run if none is complete",
        path.display()
    )]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{} is not a gpugate run.json ({detail}). Pass the run.json that `gpugate run` wrote", path.display())]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "{} was written by a newer gpugate (schema {found}); this one reads schema {SCHEMA_VERSION}. \
         Render it with a gpugate at least as new as the one that wrote it",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: u64 },
}

/// The largest run.json read back (a full run with every sample is a few MiB).
pub const MAX_RUN_JSON_BYTES: u64 = 256 << 20;

/// Reads a run.json written by `gpugate run`.
pub fn load_run(path: &Path) -> Result<RunReport, ReportError> {
    let text =
        crate::files::read_text_capped(path, MAX_RUN_JSON_BYTES, "run.json").map_err(|source| {
            ReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
    parse_run(&text, path)
}

/// Reads the text of a run.json; `path` names it in the errors.
pub fn parse_run(text: &str, path: &Path) -> Result<RunReport, ReportError> {
    let foreign = |detail: String| ReportError::Foreign {
        path: path.to_path_buf(),
        detail,
    };
    let invalid = |e: serde_json::Error| ReportError::Invalid {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    };
    if !text.trim_start().starts_with('{') {
        // Not an object: the full parse tells text that is not JSON from other JSON.
        serde_json::from_str::<serde_json::Value>(text).map_err(invalid)?;
        return Err(foreign("its top level is not an object".into()));
    }
    // The header alone: serde_json checks the whole text's syntax without building a tree of
    // it (a `Value` of a 300 kB run.json cost as much again as the typed parse, which
    // `gpugate fleet` pays once per node).
    let header: Header = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            foreign(format!("wrong shape: {}", strip_position(&e.to_string())))
        }
        _ => invalid(e),
    })?;
    let version = match header.schema_version {
        None => return Err(foreign("it has no schema_version".into())),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| foreign(format!("schema_version is {v}, not a number")))?,
    };
    if version > SCHEMA_VERSION as u64 {
        return Err(ReportError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
        });
    }
    if version == 0 {
        return Err(foreign("schema_version 0 was never written".into()));
    }
    // NaN and infinite numbers were written as null; `model::nonfinite` reads them back.
    let mut run = serde_json::from_str::<RunReport>(text).map_err(|e| {
        foreign(format!(
            "wrong shape: {} at line {} column {}",
            strip_position(&e.to_string()),
            e.line(),
            e.column()
        ))
    })?;
    // Whether a device is simulated is derived again from what the file records of it (the
    // driver's identity, the device's name), never taken from the stored flag alone.
    for g in &mut run.gpus {
        g.simulated = g.is_simulated();
    }
    Ok(run)
}

/// What [`parse_run`] reads of a file before the whole of it: its schema version, if any.
#[derive(serde::Deserialize)]
struct Header {
    #[serde(default)]
    schema_version: Option<serde_json::Value>,
}

/// serde_json appends " at line L column C" to its messages; we say it our own way.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Writes `text` to `dir/name` through a temporary file of this writer's own and a rename
/// ([`crate::files::write_atomic`]), so readers (and a crash) see either the old complete file
/// or the new one, never a torn one, and concurrent writers never fail each other.
fn write_atomic(dir: &Path, name: &str, text: &str) -> Result<PathBuf, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    crate::files::write_atomic(dir, name, text.as_bytes())
}

/// Writes `dir/run.json` atomically (a temporary file, then a rename). Returns its path.
pub fn write_json_atomic(r: &RunReport, dir: &Path) -> Result<PathBuf, std::io::Error> {
    write_atomic(dir, Json.file_name(), &Json.render(r))
}

/// Writes run.json and every report (report.md, report.html, junit.xml, the charts) into
/// `dir`. Returns their paths.
pub fn write_all(r: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut written = vec![write_json_atomic(r, dir)?];
    written.extend(write_reports(r, dir)?);
    Ok(written)
}

/// Every report of a run, rendered in memory: (file name, contents) for run.json, report.md,
/// report.html, junit.xml and each chart, then the console summary (named "console").
pub fn render_all(r: &RunReport) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let reporters: [&dyn Reporter; 4] = [&Json, &Markdown, &html::Html, &junit::Junit];
    for rep in reporters {
        out.push((rep.file_name().to_string(), rep.render(r)));
    }
    for c in charts::all(r) {
        out.push((c.file_name, c.svg));
    }
    out.push(("console".into(), Console.render(r)));
    out
}

/// Writes every report but run.json into `dir`. Returns their paths.
pub fn write_reports(r: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut written = Vec::new();
    for (name, text) in render_all(r) {
        if name != Json.file_name() && name != "console" {
            written.push(write_atomic(dir, &name, &text)?);
        }
    }
    Ok(written)
}

/// One line of a report's warnings: what it is about (a result id, or "host") and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub subject: String,
    pub text: String,
}

/// The warnings every report lists: each GPU result's sampler warnings and each result that
/// did not run (results that failed for the same reason are one line). The sampler warnings of host CPU results (noise on a shared or busy CPU is
/// the rule, and they are never gated) are folded into one line.
pub fn warnings(r: &RunReport) -> Vec<Warning> {
    let mut out = Vec::new();
    let host: Vec<&crate::model::WorkloadResult> = r
        .results
        .iter()
        .filter(|w| w.backend == crate::model::BackendKind::Host)
        .collect();
    for w in &r.results {
        if let Some(m) = &w.measurement {
            if w.backend == crate::model::BackendKind::Cuda {
                for msg in &m.warnings {
                    out.push(Warning {
                        subject: w.id.clone(),
                        text: msg.to_string(),
                    });
                }
            }
        }
        if let Some(e) = &w.error {
            let text = format!("did not run: {e}");
            // Results that failed for the same reason are one line naming them all.
            match out.iter_mut().find(|x| x.text == text) {
                Some(same) => {
                    same.subject.push_str(", ");
                    same.subject.push_str(&w.id);
                }
                None => out.push(Warning {
                    subject: w.id.clone(),
                    text,
                }),
            }
        }
    }
    // An interrupted measurement is said as it is, for the host too.
    for w in &host {
        if let Some(m) = &w.measurement {
            for msg in m.warnings.iter().filter(|m| interrupted(m)) {
                out.push(Warning {
                    subject: w.id.clone(),
                    text: msg.to_string(),
                });
            }
        }
    }
    let warned: Vec<&crate::model::Measurement> = host
        .iter()
        .filter_map(|w| w.measurement.as_ref())
        .filter(|m| m.warnings.iter().any(|w| !interrupted(w)))
        .collect();
    if !warned.is_empty() {
        let noise: Vec<f64> = warned
            .iter()
            .map(|m| m.summary.rel_stddev * 100.0)
            .collect();
        let lo = noise.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = noise.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.push(Warning {
            subject: "host".into(),
            text: format!(
                "{} of {} host CPU results were noisy or drifted while sampled (rel. stddev \
                 {lo:.1}–{hi:.1} %): usual on a shared or busy CPU; host results are \
                 reported, never gated",
                warned.len(),
                host.len()
            ),
        });
    }
    out
}

fn interrupted(w: &crate::model::MeasurementWarning) -> bool {
    matches!(w, crate::model::MeasurementWarning::Interrupted { .. })
}

// ---------------------------------------------------------------- formatting shared by renderers

pub use crate::util::fmt_value;

/// An optional number, "—" when absent.
pub fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".to_string(), |v| fmt_value(v, unit))
}

/// The checks a reader must see first: every FAIL and INCONCLUSIVE, in check order.
pub fn attention(r: &RunReport) -> Vec<&Check> {
    r.checks
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Inconclusive))
        .collect()
}

/// What a check that did not pass came to, on one line: "observed 3.1 TFLOPS vs required
/// 4.2 TFLOPS: <reason>" (the values only where the check has them).
pub fn attention_text(c: &Check) -> String {
    let values = match (c.observed, c.required) {
        (None, None) => String::new(),
        (o, q) => {
            let with_unit = |v: Option<f64>| match v {
                Some(_) if !c.unit.is_empty() => format!("{} {}", fmt_opt(v, &c.unit), c.unit),
                _ => fmt_opt(v, &c.unit),
            };
            match o {
                None => format!("required {}", with_unit(q)),
                Some(_) => format!("observed {} vs required {}", with_unit(o), with_unit(q)),
            }
        }
    };
    match (values.is_empty(), c.reason.trim().is_empty()) {
        (true, true) => "(no reason recorded)".into(),
        (true, false) => c.reason.clone(),
        (false, true) => values,
        (false, false) => format!("{values}: {}", c.reason),
    }
}

/// "2 checks failed, 1 inconclusive": the count behind the verdict.
pub fn attention_summary(checks: &[&Check]) -> String {
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let inconclusive = checks.len() - failed;
    let mut parts = Vec::new();
    if failed > 0 {
        parts.push(format!(
            "{failed} check{} failed",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if inconclusive > 0 {
        parts.push(format!("{inconclusive} inconclusive"));
    }
    parts.join(", ")
}

/// A percentage with one decimal, "—" when absent.
pub fn fmt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |v| format!("{v:.1}%"))
}

/// Bytes as decimal GB with one decimal.
pub fn fmt_gb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e9)
}
