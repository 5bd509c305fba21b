//! `gpugate fleet`: many nodes' run.json files merged into one [`FleetReport`] (fleet.json),
//! from which every fleet report is rendered (`report::fleet`).
//!
//! - [`read`]: the run.json files among the arguments, read in parallel.
//! - [`node`]: one run reduced to a node's record (verdict, failing checks, metrics, attributes).
//! - [`merge`]: one record per node (the newest wins), groups per profile, distributions,
//!   outliers, homogeneity.
//! - [`stats`]: quartiles and the modified z-score.
//! - [`model`]: fleet.json's schema.
//!
//! Outliers: per profile, GPU model and metric, a GPU whose modified z-score is beyond the
//! threshold (default [`DEFAULT_THRESHOLD`]) and whose value is at least
//! [`MIN_RELATIVE_DEVIATION`] from the median is an outlier, even when it passes its profile.
//! Every metric is a throughput: a slow outlier makes the fleet INCONCLUSIVE (exit 3) unless
//! something fails; a fast one is named as information.

pub mod merge;
pub mod model;
pub mod node;
pub mod read;
pub mod stats;

use std::path::{Path, PathBuf};

pub use model::{FleetReport, FLEET_SCHEMA_VERSION};

use crate::model::{exit, Verdict};

/// The modified z-score beyond which a GPU is an outlier (Iglewicz and Hoaglin's 3.5).
pub const DEFAULT_THRESHOLD: f64 = 3.5;
/// Fewer GPUs than this in a distribution: it is shown, nothing in it is judged (a z-score of
/// three or four values says little).
pub const MIN_GPUS_FOR_OUTLIERS: usize = 5;
/// A GPU closer than this (relative) to the median is never an outlier, whatever its z-score:
/// gpugate's sampler stops at 0.5 % noise, so a difference under 1 % is within what one
/// measurement can tell, even in a fleet so uniform that its MAD is smaller still.
pub const MIN_RELATIVE_DEVIATION: f64 = 0.01;

/// Why a fleet could not be merged (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("nothing to merge: {detail}. Pass the run.json files of the nodes, or directories holding them (a run directory, or the --out directory of `gpugate run`)")]
    NothingToMerge { detail: String },
    #[error("cannot read --expect-nodes {}: {source}. Pass a text file with one hostname per line", path.display())]
    ExpectNodes {
        path: PathBuf,
        source: crate::files::ReadError,
    },
    #[error("--threshold {0} is not a modified z-score above 0; the usual value is 3.5")]
    Threshold(f64),
}

/// What `gpugate fleet` is asked to merge.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// run.json files and directories holding them.
    pub inputs: Vec<PathBuf>,
    /// A file of hostnames, one a line (`#` starts a comment).
    pub expect_nodes: Option<PathBuf>,
    pub threshold: f64,
}

/// The hostnames of an `--expect-nodes` file: one a line, blank lines and `#` comments
/// ignored, each once.
pub fn parse_expected(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let name = line.split('#').next().unwrap_or("").trim();
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// At most [`NAMES_SHOWN`] names, then how many more: a note about 10,000 nodes stays a line.
pub fn some_names(names: &[&str]) -> String {
    let mut s = names
        .iter()
        .take(NAMES_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        s.push_str(&format!(" and {} more", names.len() - NAMES_SHOWN));
    }
    s
}

/// How many names a line lists before "and N more".
pub const NAMES_SHOWN: usize = 20;

/// What the fleet's verdict is decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub failed_nodes: usize,
    pub missing_nodes: usize,
    pub inconclusive_nodes: usize,
    pub slow_outliers: usize,
    pub unreadable_inputs: usize,
}

/// The fleet's verdict: FAIL when a node failed or an expected node sent nothing; else
/// INCONCLUSIVE when a node was inconclusive, a GPU is a slow outlier or an input could not be
/// read (it may have been a node's result); else PASS.
pub fn verdict(t: &Tally) -> Verdict {
    if t.failed_nodes > 0 || t.missing_nodes > 0 {
        Verdict::Fail
    } else if t.inconclusive_nodes + t.slow_outliers + t.unreadable_inputs > 0 {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    }
}

/// Reads `--expect-nodes`.
fn expected(path: &Path) -> Result<Vec<String>, FleetError> {
    crate::files::read_text_capped(path, 64 << 20, "node list")
        .map(|t| parse_expected(&t))
        .map_err(|source| FleetError::ExpectNodes {
            path: path.to_path_buf(),
            source,
        })
}

/// Merges the nodes' run.json files. Exit-2 errors only when nothing can be merged (or an
/// option is wrong); every other problem is said in the report.
pub fn merge_fleet(opts: &FleetOptions) -> Result<FleetReport, FleetError> {
    if !(opts.threshold.is_finite() && opts.threshold > 0.0) {
        return Err(FleetError::Threshold(opts.threshold));
    }
    let expect = opts.expect_nodes.as_deref().map(expected).transpose()?;
    let (files, mut unreadable) = read::find_inputs(&opts.inputs);
    let mut records = Vec::with_capacity(files.len());
    for r in read::read_all(&files) {
        match r {
            Ok(rec) => records.push(rec),
            Err(u) => unreadable.push(u),
        }
    }
    if records.is_empty() {
        let detail = match unreadable.as_slice() {
            [] => "no input given".to_string(),
            u => u
                .iter()
                .map(|u| format!("{}: {}", u.path, u.reason))
                .collect::<Vec<_>>()
                .join("; "),
        };
        return Err(FleetError::NothingToMerge { detail });
    }
    Ok(assemble(records, unreadable, expect, opts.threshold))
}

/// The fleet report of records already read.
pub fn assemble(
    records: Vec<node::NodeRecord>,
    unreadable: Vec<model::Unreadable>,
    expect: Option<Vec<String>>,
    threshold: f64,
) -> FleetReport {
    let mut notes = Vec::new();
    let mut records = merge::newest_per_node(records, &mut notes);
    merge::sort_nodes(&mut records);
    let groups = merge::groups(&records, threshold);
    if groups.len() > 1 {
        let names: Vec<String> = groups
            .iter()
            .map(|g| format!("{} ({} nodes)", g.profile, g.nodes))
            .collect();
        notes.push(format!(
            "the nodes were gated against {} profiles: {}; each is merged on its own (its \
             distributions, outliers and homogeneity)",
            groups.len(),
            names.join(", ")
        ));
    }
    let mut nodes: Vec<model::Node> = records.into_iter().map(|r| r.node).collect();
    merge::count_outliers(&mut nodes, &groups);
    let missing = missing_nodes(&nodes, expect.as_deref(), &mut notes);
    let count = |v: Verdict| nodes.iter().filter(|n| n.verdict == v).count();
    let tally = Tally {
        failed_nodes: count(Verdict::Fail),
        missing_nodes: missing.len(),
        inconclusive_nodes: count(Verdict::Inconclusive),
        slow_outliers: nodes.iter().map(|n| n.slow_outliers).sum(),
        unreadable_inputs: unreadable.len(),
    };
    let verdict = verdict(&tally);
    FleetReport {
        schema_version: FLEET_SCHEMA_VERSION,
        tool: crate::run::stages::tool_info(),
        merged_at: crate::clock::now_rfc3339(),
        threshold,
        verdict,
        exit_code: exit::for_verdict(verdict),
        nodes,
        missing,
        unreadable,
        groups,
        notes,
    }
}

/// The expected hostnames with no node; a note names the nodes that were not expected.
fn missing_nodes(
    nodes: &[model::Node],
    expect: Option<&[String]>,
    notes: &mut Vec<String>,
) -> Vec<String> {
    let Some(expect) = expect else {
        return Vec::new();
    };
    let have: std::collections::HashSet<&str> = nodes.iter().map(|n| n.hostname.as_str()).collect();
    let listed: std::collections::HashSet<&str> = expect.iter().map(String::as_str).collect();
    let extra: Vec<&str> = nodes
        .iter()
        .map(|n| n.hostname.as_str())
        .filter(|h| !listed.contains(h))
        .collect();
    if !extra.is_empty() {
        notes.push(format!(
            "{} node{} reported without being listed in --expect-nodes (merged all the same): {}",
            extra.len(),
            if extra.len() == 1 { "" } else { "s" },
            some_names(&extra)
        ));
    }
    expect
        .iter()
        .filter(|h| !have.contains(h.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
