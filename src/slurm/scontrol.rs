//! Slurm's view of a node, through `scontrol`: `scontrol show node -o NAME` read into a
//! [`NodeState`], and the two updates gpugate makes (drain with a reason, resume).

use std::process::Command;

use super::SlurmError;

/// A node as `scontrol show node -o` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    pub name: String,
    /// The base state and its flags, upper case: "IDLE+DRAIN" → ["IDLE", "DRAIN"].
    pub state: Vec<String>,
    /// The reason, without the "[user@time]" Slurm appends; `None` when there is none.
    pub reason: Option<String>,
}

impl NodeState {
    /// Drained or draining (Slurm shows both as the DRAIN flag on the base state).
    pub fn drained(&self) -> bool {
        self.has("DRAIN") || self.has("DRAINED") || self.has("DRAINING")
    }

    /// Down (not responding, or set down): Slurm's own to bring back.
    pub fn down(&self) -> bool {
        self.has("DOWN")
    }

    fn has(&self, s: &str) -> bool {
        self.state.iter().any(|x| x == s)
    }
}

/// Reads one node's line of `scontrol show node -o`: `NodeName=`, `State=` and `Reason=`
/// (which runs to the end of the line, or to the next known key on older releases, and ends
/// with " [user@time]"). `None` when the text names no node.
pub fn parse_show_node(text: &str) -> Option<NodeState> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("NodeName="))?;
    let name = value(line, "NodeName")?;
    let state = value(line, "State")
        .map(|s| {
            s.split('+')
                .map(|f| f.trim_end_matches('*').to_ascii_uppercase())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let reason = line.find(" Reason=").map(|at| {
        let rest = &line[at + " Reason=".len()..];
        // Fields that may follow Reason on one line in some releases.
        let end = [" Comment=", " Extra=", " ResumeAfterTime="]
            .iter()
            .filter_map(|k| rest.find(k))
            .min()
            .unwrap_or(rest.len());
        strip_stamp(rest[..end].trim()).to_string()
    });
    Some(NodeState {
        name,
        state,
        reason: reason.filter(|r| !r.is_empty() && r != "(null)" && r != "none"),
    })
}

/// The value of a space-free `Key=value` field.
fn value(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// "text [root@2026-12-07T21:00:50]" → "text".
fn strip_stamp(reason: &str) -> &str {
    match reason.rfind(" [") {
        Some(at) if reason.ends_with(']') && reason[at..].contains('@') => reason[..at].trim_end(),
        _ => reason,
    }
}

/// The scontrol program gpugate drives.
#[derive(Debug, Clone)]
pub struct Scontrol {
    pub program: String,
}

impl Scontrol {
    /// The node's state now.
    pub fn show(&self, node: &str) -> Result<NodeState, SlurmError> {
        let out = self.run(&["show", "node", "-o", node])?;
        parse_show_node(&out).ok_or_else(|| SlurmError::NoSuchNode {
            node: node.to_string(),
            said: out.trim().chars().take(200).collect(),
        })
    }

    /// `scontrol update NodeName=NODE State=DRAIN Reason=REASON`.
    pub fn drain(&self, node: &str, reason: &str) -> Result<(), SlurmError> {
        let name = format!("NodeName={node}");
        let reason = format!("Reason={reason}");
        self.run(&["update", &name, "State=DRAIN", &reason])
            .map(drop)
    }

    /// `scontrol update NodeName=NODE State=RESUME`.
    pub fn resume(&self, node: &str) -> Result<(), SlurmError> {
        let name = format!("NodeName={node}");
        self.run(&["update", &name, "State=RESUME"]).map(drop)
    }

    fn run(&self, args: &[&str]) -> Result<String, SlurmError> {
        let out = Command::new(&self.program)
            .args(args)
            .output()
            .map_err(|err| SlurmError::ScontrolMissing {
                program: self.program.clone(),
                err,
            })?;
        if !out.status.success() {
            return Err(SlurmError::ScontrolFailed {
                command: format!("{} {}", self.program, args.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
