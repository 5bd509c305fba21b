//! Kubernetes gating: what gpugate changes on a node from the verdict of the node's last run.
//! Nothing here talks to a cluster (gpugate has no HTTP client): the container's entrypoint
//! (`deploy/k8s/gpugate-node.sh`) reads the node with curl, `gpugate k8s patch` computes the
//! patch from it and sends nothing, and the script sends the patch with curl.
//!
//! - [`patch`]: the node as the API returned it + the verdict → the exact JSON Patch
//!   (RFC 6902) that records the verdict: the label [`VERDICT_LABEL`], and the taint
//!   [`TAINT_KEY`]`:`[`TAINT_EFFECT`] on failure, removed by gpugate alone when the node
//!   passes again. Every other label and taint (a person's) is left as it was.
//! - [`npd`]: node-problem-detector's custom plugin protocol (exit 0 OK, 1 NonOK, other
//!   Unknown, the message on stdout within its length limit), from the same run: the node
//!   condition with the reason.
//!
//! The verdict is the one `gpugate report` gives the node's run.json: read and decided again
//! through [`crate::fleet::node::read_node`], as `gpugate fleet` reads a node.

pub mod npd;
pub mod patch;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::fleet::node::{read_node, NodeRecord};
use crate::model::Verdict;

/// The label that carries a node's verdict: `pass`, `fail` or `inconclusive`.
pub const VERDICT_LABEL: &str = "gpugate.io/verdict";
/// The key of gpugate's taint. A taint is gpugate's when it has this key and [`TAINT_EFFECT`].
pub const TAINT_KEY: &str = "gpugate.io/unhealthy";
/// The effect of gpugate's taint: nothing new is scheduled on a failed node; what runs there
/// keeps running (draining it is the operator's decision).
pub const TAINT_EFFECT: &str = "NoSchedule";

/// Why a node or a run could not be read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("cannot read the node object {source_name}: {reason}. Pass the node as the API returns it (GET /api/v1/nodes/NAME, or `kubectl get node NAME -o json`), or - for standard input")]
    NodeUnreadable { source_name: String, reason: String },
    #[error("{source_name} is not a Kubernetes Node object: {reason}. Pass the node as the API returns it (GET /api/v1/nodes/NAME, or `kubectl get node NAME -o json`)")]
    NotANode { source_name: String, reason: String },
    #[error("cannot use the run {}: {reason}. Pass the run.json of the node's last finished run (e.g. DIR/latest/run.json of `gpugate run --out DIR`)", path.display())]
    Run { path: PathBuf, reason: String },
}

/// The label value of a verdict. A run with nothing gated (every check skipped) is a pass, as
/// `gpugate fleet` counts it.
pub fn label_value(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass | Verdict::Skipped => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The node's last run, read and decided again as `gpugate report` decides it.
pub fn read_run(path: &Path) -> Result<NodeRecord, K8sError> {
    read_node(path).map_err(|u| K8sError::Run {
        path: path.to_path_buf(),
        reason: u.reason,
    })
}
