//! `gpugate slurm check`, the health check: act on the last finished run, then start the
//! next one in the background when none is running. It never waits for a run.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::background::{start_background, state_err, OUT_DIR};
use super::decide::{decide, Action, NodeResult};
use super::reason::drain_reason;
use super::scontrol::{NodeState, Scontrol};
use super::SlurmError;
use crate::model::Verdict;

/// One line per check, appended in the state directory: what it read, what it did.
pub const CHECKS_LOG: &str = "checks.log";

/// What the health check is asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// The Slurm node name (SLURMD_NODENAME when slurmd runs the check).
    pub node: String,
    /// The node's own state directory: the lock, the runs (`out/`), the logs.
    pub state_dir: PathBuf,
    /// The run to start (`--out STATE/out` is added), e.g. `gpugate run --level quick`.
    pub command: Vec<String>,
    /// The scontrol program.
    pub scontrol: String,
    /// Start a run when none is in progress (off in a Prolog: a job is about to start).
    pub start: bool,
    /// Start one only when the last finished run is at least this old.
    pub interval: Option<Duration>,
}

/// Whether the check started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Yes {
        pid: u32,
    },
    InProgress,
    NotDue {
        age: Duration,
    },
    /// The node is not idle (a job, or not yet registered): its GPUs are not gpugate's.
    Busy {
        state: String,
    },
    Disabled,
}

/// What one check saw and did.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    pub node: String,
    pub result: NodeResult,
    /// The run.json it was read from.
    pub result_file: Option<PathBuf>,
    pub before: NodeState,
    pub action: Action,
    pub started: Started,
}

/// The health check: read the last finished run, decide, act through scontrol, start the
/// next run. Appends its line to `STATE/checks.log`.
pub fn check(opts: &CheckOptions, gpugate: &Path) -> Result<CheckOutcome, SlurmError> {
    let dir = &opts.state_dir;
    std::fs::create_dir_all(dir).map_err(|err| state_err(dir, err))?;
    let (result, result_file, age) = last_result(dir);
    let scontrol = Scontrol {
        program: opts.scontrol.clone(),
    };
    let before = scontrol.show(&opts.node)?;
    let action = decide(&result, &before);
    match &action {
        Action::Drain { reason } => scontrol.drain(&opts.node, reason)?,
        Action::Resume => scontrol.resume(&opts.node)?,
        Action::Leave { .. } => {}
    }
    let started = match start_decision(opts.start, &before, age, opts.interval) {
        Some(not) => not,
        None => match start_background(gpugate, dir, &opts.command)? {
            Some(pid) => Started::Yes { pid },
            None => Started::InProgress,
        },
    };
    let outcome = CheckOutcome {
        node: opts.node.clone(),
        result,
        result_file,
        before,
        action,
        started,
    };
    log_line(dir, &outcome)?;
    Ok(outcome)
}

/// Why no run is started, or `None`: start one (unless one is in progress). A run starts
/// only on an idle node (drained or not), never beside a job, and only when the last finished
/// run is at least `interval` old.
pub fn start_decision(
    start: bool,
    node: &NodeState,
    age: Option<Duration>,
    interval: Option<Duration>,
) -> Option<Started> {
    if !start {
        return Some(Started::Disabled);
    }
    if node.state.first().map(String::as_str) != Some("IDLE") {
        return Some(Started::Busy {
            state: node.state.join("+"),
        });
    }
    match (age, interval) {
        (Some(age), Some(every)) if age < every => Some(Started::NotDue { age }),
        _ => None,
    }
}

/// The last finished run (`STATE/out/latest/run.json`), decided again, and its age.
fn last_result(dir: &Path) -> (NodeResult, Option<PathBuf>, Option<Duration>) {
    let path = dir
        .join(OUT_DIR)
        .join(crate::report::layout::LATEST)
        .join("run.json");
    let Ok(meta) = std::fs::metadata(&path) else {
        return (NodeResult::NoRun, None, None);
    };
    let age = meta.modified().ok().and_then(|t| t.elapsed().ok());
    let result = match crate::fleet::node::read_node(&path) {
        Err(u) => NodeResult::Unreadable { why: u.reason },
        Ok(rec) => match rec.node.verdict {
            Verdict::Fail => NodeResult::Fail {
                reason: drain_reason(&rec.node.failing),
            },
            Verdict::Inconclusive => NodeResult::Inconclusive,
            Verdict::Pass | Verdict::Skipped => NodeResult::Pass,
        },
    };
    (result, Some(path), age)
}

fn log_line(dir: &Path, outcome: &CheckOutcome) -> Result<(), SlurmError> {
    let line = format!("{} {outcome}\n", crate::clock::now_rfc3339());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(CHECKS_LOG))
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|err| state_err(dir, err))
}

impl fmt::Display for CheckOutcome {
    /// "node n2: FAIL (gpugate: …) → drained | run started (pid 4242)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let result = match &self.result {
            NodeResult::NoRun => "no finished run".to_string(),
            NodeResult::Pass => "PASS".into(),
            NodeResult::Fail { reason } => format!("FAIL ({reason})"),
            NodeResult::Inconclusive => "INCONCLUSIVE".into(),
            NodeResult::Unreadable { why } => format!("last run unreadable ({why})"),
        };
        let state = self.before.state.join("+");
        let action = match &self.action {
            Action::Drain { .. } => "drained".to_string(),
            Action::Resume => "resumed".into(),
            Action::Leave { why } => format!("left alone: {why}"),
        };
        let started = match &self.started {
            Started::Yes { pid } => format!("run started (pid {pid})"),
            Started::InProgress => "a run is in progress".into(),
            Started::NotDue { age } => format!("last run {} s old: none started", age.as_secs()),
            Started::Busy { state } => format!("not idle ({state}): no run started"),
            Started::Disabled => "no run started (--no-start)".into(),
        };
        write!(
            f,
            "node {} ({state}): {result} → {action} | {started}",
            self.node
        )
    }
}
