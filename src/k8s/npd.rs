//! node-problem-detector's custom plugin protocol, answered from the node's last run: the
//! plugin's exit status is the condition's status (0 OK, 1 NonOK, anything else Unknown) and
//! its standard output the condition's message, which NPD trims and cuts at its
//! `max_output_length` (80 bytes unless its config says otherwise). gpugate keeps the message
//! within that length itself, so that the cut never falls in the middle of a word or a
//! character.
//!
//! The exit statuses are gpugate's own exit codes: 0 PASS (OK), 1 FAIL (NonOK: the condition
//! is set, with the first failing check as its message), 3 INCONCLUSIVE and 2 no run could be
//! read (both Unknown to NPD).

use crate::fleet::node::NodeRecord;
use crate::model::{exit, Verdict};

/// NPD's default `max_output_length`, which `deploy/k8s/npd.yaml` states explicitly.
pub const NPD_DEFAULT_MAX_OUTPUT: usize = 80;

/// What the plugin prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginAnswer {
    pub exit_code: i32,
    pub message: String,
}

/// The answer for a run that was read and decided again.
pub fn answer(node: &NodeRecord, max_len: usize) -> PluginAnswer {
    let n = &node.node;
    let failing = |v: Verdict| n.failing.iter().filter(move |c| c.verdict == v);
    let (exit_code, message) = match n.verdict {
        Verdict::Pass | Verdict::Skipped => {
            (exit::PASS, format!("gpugate PASS, run of {}", n.started_at))
        }
        Verdict::Fail => (exit::FAIL, first_of(failing(Verdict::Fail), "FAIL")),
        Verdict::Inconclusive => (
            exit::INCONCLUSIVE,
            first_of(failing(Verdict::Inconclusive), "INCONCLUSIVE"),
        ),
    };
    PluginAnswer {
        exit_code,
        message: cut(&message, max_len),
    }
}

/// The answer when no run could be read: Unknown, with why.
pub fn unreadable(reason: &str, max_len: usize) -> PluginAnswer {
    PluginAnswer {
        exit_code: exit::USAGE,
        message: cut(&format!("gpugate: no run: {reason}"), max_len),
    }
}

/// "gpugate FAIL (3): gpu0.sgemm…: observed … vs required …": how many checks, the first
/// one's id and text.
fn first_of<'a>(
    mut checks: impl Iterator<Item = &'a crate::fleet::model::FailingCheck>,
    verdict: &str,
) -> String {
    match checks.next() {
        None => format!("gpugate {verdict}"),
        Some(c) => {
            let more = checks.count();
            let count = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            format!("gpugate {verdict}{count}: {}: {}", c.id, one_line(&c.text))
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` on one line, trimmed, at most `max` bytes: cut at a character boundary with "…" when
/// longer.
pub fn cut(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.len() <= max {
        return s;
    }
    const MORE: &str = "…";
    if max < MORE.len() {
        return String::new();
    }
    let mut end = max - MORE.len();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", s[..end].trim_end())
}
