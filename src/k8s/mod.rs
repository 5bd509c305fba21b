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

use serde_json::Value;

use crate::fleet::node::{read_node, NodeRecord};
use crate::model::Verdict;

/// The most a node object may be (a node with many images listed is tens of KiB).
pub const NODE_JSON_CAP: u64 = 16 << 20;

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

/// The node object from a file, or from standard input when `source` is `-`.
pub fn read_node_object(source: &Path) -> Result<Value, K8sError> {
    let name = source.display().to_string();
    let unreadable = |reason: String| K8sError::NodeUnreadable {
        source_name: name.clone(),
        reason,
    };
    let text = if source == Path::new("-") {
        use std::io::Read;
        let mut buf = String::new();
        std::io::stdin()
            .take(NODE_JSON_CAP + 1)
            .read_to_string(&mut buf)
            .map_err(|e| unreadable(e.to_string()))?;
        if buf.len() as u64 > NODE_JSON_CAP {
            return Err(unreadable(format!(
                "it is larger than {NODE_JSON_CAP} bytes"
            )));
        }
        buf
    } else {
        crate::files::read_text_capped(source, NODE_JSON_CAP, "node object")
            .map_err(|e| unreadable(e.to_string()))?
    };
    serde_json::from_str(&text).map_err(|e| unreadable(format!("it is not JSON: {e}")))
}

/// What `gpugate k8s patch` computes: the node's name, the run's verdict and the patch.
#[derive(Debug, Clone)]
pub struct PatchPlan {
    pub node: String,
    pub verdict: Verdict,
    pub patch: patch::NodePatch,
}

impl PatchPlan {
    /// One line saying what the patch changes.
    pub fn summary(&self) -> String {
        patch::summary(&self.node, self.verdict, &self.patch)
    }
}

/// The node read from `node_source` (a file or `-`), the run from `run`, and the patch that
/// records the run's verdict on the node.
pub fn plan_patch(node_source: &Path, run: &Path) -> Result<PatchPlan, K8sError> {
    let node = read_node_object(node_source)?;
    let record = read_run(run)?;
    let source_name = node_source.display().to_string();
    let verdict = record.node.verdict;
    Ok(PatchPlan {
        node: patch::node_name(&node, &source_name)?.to_string(),
        verdict,
        patch: patch::node_patch(&node, verdict, &source_name)?,
    })
}
