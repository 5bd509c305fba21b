//! Gating a Slurm cluster: the node health check (`gpugate slurm check`) that Slurm runs as
//! its `HealthCheckProgram` (or from a Prolog / Epilog), and the background run it starts
//! (`gpugate slurm run`). The shell around them, the sbatch script and the configuration file
//! are in `deploy/slurm/`.
//!
//! Slurm kills a health check after 60 s, and a gpugate run takes longer, so the check never
//! waits for one (as LBNL NHC's detached mode):
//!
//! ```text
//! gpugate slurm check   (returns at once)
//!   1. the last FINISHED run: STATE/out/latest/run.json (moved only once a run has written
//!      everything, src/report/layout.rs), read and decided again (fleet::node::read_node)
//!   2. the node as Slurm sees it: `scontrol show node -o NAME` (scontrol.rs)
//!   3. decide (decide.rs, pure): drain with "gpugate: …", resume, or leave alone
//!   4. act: `scontrol update NodeName=… State=DRAIN Reason=…` / `State=RESUME`
//!   5. the node idle, the last run old enough (--interval) and none in progress (the lock
//!      STATE/run.lock is free)? start `gpugate slurm run` detached (check.rs, start_decision)
//! gpugate slurm run     (holds STATE/run.lock while the configured command runs with
//!                        --out STATE/out; output in STATE/run.log)
//! ```
//!
//! A node drained by anyone else (its reason does not start with [`REASON_PREFIX`]) is never
//! resumed, and its reason is never overwritten.

mod background;
mod check;
mod decide;
mod reason;
mod scontrol;
#[cfg(test)]
mod tests;

pub use background::{run_locked, start_background, RunLock, LOCK_FILE, LOG_FILE, OUT_DIR};
pub use check::{check, start_decision, CheckOptions, CheckOutcome, Started, CHECKS_LOG};
pub use decide::{decide, Action, NodeResult};
pub use reason::{drain_reason, is_ours, MAX_REASON_CHARS, REASON_PREFIX};
pub use scontrol::{parse_show_node, NodeState, Scontrol};

use std::path::PathBuf;

/// Why the health check or the background run could not do its work (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The state directory could not be created or written.
    #[error(
        "cannot use the state directory {path}: {err}. Give --state-dir (GPUGATE_STATE_DIR in \
         the configuration file) a directory on the node's local disk that this user can write"
    )]
    StateDir { path: PathBuf, err: std::io::Error },
    /// scontrol could not be started.
    #[error(
        "cannot run {program}: {err}. Install Slurm's client commands (Debian: apt-get install \
         slurm-client) or give --scontrol the path of scontrol"
    )]
    ScontrolMissing {
        program: String,
        err: std::io::Error,
    },
    /// scontrol ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    ScontrolFailed {
        command: String,
        status: String,
        stderr: String,
    },
    /// scontrol's answer names no such node, or cannot be read.
    #[error(
        "`scontrol show node -o {node}` did not describe node {node:?} (it said: {said:?}); \
         check --node (SLURMD_NODENAME, else the short hostname)"
    )]
    NoSuchNode { node: String, said: String },
    /// No command to run was given.
    #[error(
        "no run command given: put the command after `--` (e.g. `gpugate slurm check -- \
         gpugate run --level quick`); its --out is added by gpugate"
    )]
    NoCommand,
    /// The background run could not be started.
    #[error("cannot start the background run {program}: {err}")]
    Spawn {
        program: String,
        err: std::io::Error,
    },
}
