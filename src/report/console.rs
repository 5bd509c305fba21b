//! The console summary: the verdict and, right after it, one line per check that failed or was
//! inconclusive (observed against required, and why); then an aligned table of every check,
//! what to do about the ones that did not pass, and one closing line
//! `verdict: PASS|FAIL|INCONCLUSIVE (exit N)`. No colours.

use std::fmt::Write;

use super::{fmt_opt, fmt_pct, Reporter};
use crate::model::{RunReport, Verdict};

/// The console reporter (also written as summary.txt when asked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Console;

/// Aligns columns two spaces apart; `right[i]` right-aligns column i (numbers).
fn aligned(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, s) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(s.chars().count());
            if !right.get(i).copied().unwrap_or(false) {
                line.push_str(s);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(s);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl Reporter for Console {
    fn file_name(&self) -> &'static str {
        "summary.txt"
    }

    fn render(&self, r: &RunReport) -> String {
        let mut o = String::new();
        header(&mut o, r);
        why_first(&mut o, r);
        o.push('\n');
        if r.checks.is_empty() {
            let _ = writeln!(o, "no checks were evaluated");
        } else {
            checks_table(&mut o, r);
            failing_paragraphs(&mut o, r);
        }
        for n in &r.notes {
            let _ = writeln!(o, "note: {n}");
        }
        o.push('\n');
        if let Some(banner) = super::simulated_banner(r) {
            let _ = writeln!(o, "{banner}");
        }
        let _ = writeln!(o, "verdict: {} (exit {})", r.verdict, r.exit_code);
        o
    }
}

/// The run's line and its banners (simulated, GPU unavailable, incomplete).
fn header(o: &mut String, r: &RunReport) {
    let _ = writeln!(
        o,
        "gpugate {} · profile {} ({}) · level {} · seed {}",
        r.tool.version, r.profile.name, r.profile.origin, r.level, r.seed
    );
    if let Some(banner) = super::simulated_banner(r) {
        let _ = writeln!(o, "{banner}");
    }
    if let Some(why) = &r.gpu_unavailable {
        let _ = writeln!(o, "GPU unavailable: {why}");
    }
    if let Some(banner) = super::incomplete_banner(r) {
        let _ = writeln!(o, "{banner}");
    }
}

/// The verdict, and right after it every check that did not pass, one line each.
fn why_first(o: &mut String, r: &RunReport) {
    let attention = super::attention(r);
    if attention.is_empty() {
        let _ = writeln!(o, "\nverdict: {} (exit {})", r.verdict, r.exit_code);
        return;
    }
    let _ = writeln!(
        o,
        "\nverdict: {} (exit {}): {}",
        r.verdict,
        r.exit_code,
        super::attention_summary(&attention)
    );
    let width = attention.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &attention {
        let _ = writeln!(
            o,
            "  {:<width$}  {:<12}  {}",
            c.id,
            c.verdict.to_string(),
            super::attention_text(c)
        );
    }
}

/// Every check, one aligned row each, in profile order.
fn checks_table(o: &mut String, r: &RunReport) {
    let mut rows = vec![vec![
        "CHECK".to_string(),
        "VERDICT".to_string(),
        "OBSERVED".to_string(),
        "REQUIRED".to_string(),
        "% SPEC".to_string(),
        "UNIT".to_string(),
    ]];
    for c in &r.checks {
        rows.push(vec![
            c.id.clone(),
            c.verdict.to_string(),
            fmt_opt(c.observed, &c.unit),
            fmt_opt(c.required, &c.unit),
            fmt_pct(c.percent_of_spec),
            c.unit.clone(),
        ]);
    }
    o.push_str(&aligned(&rows, &[false, false, true, true, true, false]));
}

/// The reason and hint of every check that did not pass. Checks with the same verdict, reason
/// and hint (every target of a GPU that is not there, say) are one paragraph naming them all.
fn failing_paragraphs(o: &mut String, r: &RunReport) {
    let attention: Vec<_> = r
        .checks
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Inconclusive))
        .collect();
    if attention.is_empty() {
        return;
    }
    o.push('\n');
    let mut groups: Vec<(Verdict, &str, &str, Vec<&str>)> = Vec::new();
    for c in attention {
        match groups
            .iter_mut()
            .find(|g| g.0 == c.verdict && g.1 == c.reason.as_str() && g.2 == c.hint.as_str())
        {
            Some(g) => g.3.push(c.id.as_str()),
            None => groups.push((c.verdict, &c.reason, &c.hint, vec![c.id.as_str()])),
        }
    }
    for (verdict, reason, hint, ids) in groups {
        let _ = writeln!(o, "{verdict} {}: {reason}", ids.join(", "));
        if !hint.is_empty() {
            let _ = writeln!(o, "  hint: {hint}");
        }
    }
}
