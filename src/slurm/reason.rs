//! The drain reason: "gpugate: <first failing check> (and N more)", within
//! [`MAX_REASON_CHARS`], and how a reason is recognised as gpugate's own.

use crate::fleet::model::FailingCheck;
use crate::model::Verdict;

/// Every reason gpugate sets starts with this; a reason that does not is someone else's.
pub const REASON_PREFIX: &str = "gpugate:";

/// The longest reason gpugate sets, in characters. Slurm 22.05 itself stores longer ones
/// (2,000 characters were accepted by `scontrol update` in the tests' cluster), but
/// `sinfo -R`, `scontrol show node` and dashboards show a reason on one line: gpugate's choice
/// is one that reads whole there, with the check's id and its numbers first.
pub const MAX_REASON_CHARS: usize = 128;

/// Whether `reason` (as `scontrol show node` gives it, without the "[user@time]" suffix) was
/// set by gpugate.
pub fn is_ours(reason: &str) -> bool {
    reason.trim_start().starts_with(REASON_PREFIX)
}

/// The reason a failing node is drained with: the first failing check's id and its one-line
/// text ([`crate::report::attention_text`]), then how many more checks failed, within
/// [`MAX_REASON_CHARS`] (the check's text is cut, marked with "…", before the count is).
/// Inconclusive checks are not counted: they do not drain a node.
pub fn drain_reason(failing: &[FailingCheck]) -> String {
    let failed: Vec<&FailingCheck> = failing
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    let Some(first) = failed.first() else {
        return format!("{REASON_PREFIX} the run failed (no failing check recorded)");
    };
    let suffix = match failed.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    let head = one_line(&format!("{REASON_PREFIX} {} {}", first.id, first.text));
    let budget = MAX_REASON_CHARS - suffix.chars().count();
    let head = if head.chars().count() > budget {
        let cut: String = head.chars().take(budget - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        head
    };
    format!("{head}{suffix}")
}

/// Control characters (a newline would end scontrol's line) as spaces, runs of white space as
/// one.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
