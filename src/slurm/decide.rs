//! The decision, pure: from the last finished run's verdict and the node's state in Slurm,
//! drain, resume or leave the node alone. Table-tested in `tests.rs`.

use super::reason::is_ours;
use super::scontrol::NodeState;

/// What the last finished run says about the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeResult {
    /// No run has finished yet.
    NoRun,
    Pass,
    /// Failed: the reason to drain with ([`super::drain_reason`]).
    Fail {
        reason: String,
    },
    /// Nothing failed, something was not proven: neither drained nor resumed.
    Inconclusive,
    /// The last run.json could not be read (gpugate's problem, not the node's): nothing
    /// changes.
    Unreadable {
        why: String,
    },
}

/// What the health check does to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `scontrol update … State=DRAIN Reason=…`.
    Drain { reason: String },
    /// `scontrol update … State=RESUME`: only ever for a drain of gpugate's own.
    Resume,
    /// Nothing, and why.
    Leave { why: String },
}

/// The rules:
///
/// - a reason that is not gpugate's (a person's drain, Slurm's "Not responding", a reboot
///   request) is never overwritten and its node never resumed, whatever the run says;
/// - FAIL drains (or updates gpugate's own reason when it changed);
/// - PASS resumes a node drained by gpugate, unless it is also down (Slurm's to bring back);
/// - INCONCLUSIVE, or no finished run yet: nothing changes.
pub fn decide(result: &NodeResult, node: &NodeState) -> Action {
    let leave = |why: String| Action::Leave { why };
    let current = node.reason.as_deref().unwrap_or("");
    if !current.is_empty() && !is_ours(current) {
        return leave(format!(
            "its reason is not gpugate's ({current:?}): left to whoever set it"
        ));
    }
    let ours = !current.is_empty() && node.drained();
    match result {
        NodeResult::NoRun => leave("no run has finished yet".into()),
        NodeResult::Inconclusive => leave("the last run was inconclusive: nothing changes".into()),
        NodeResult::Unreadable { why } => leave(format!("the last run cannot be read: {why}")),
        NodeResult::Fail { reason } if ours && current == reason => {
            leave("already drained by gpugate with this reason".into())
        }
        NodeResult::Fail { reason } => Action::Drain {
            reason: reason.clone(),
        },
        NodeResult::Pass if ours && node.down() => {
            leave("passed, but the node is down: Slurm brings it back".into())
        }
        NodeResult::Pass if ours => Action::Resume,
        NodeResult::Pass => leave("passed; not drained by gpugate".into()),
    }
}
