//! The short summary `gpugate fleet` prints: the verdict with the counts, then the nodes that
//! failed or are missing and the slow outliers (the first [`LINES`] of each), then the notes.

use std::fmt::Write;

use super::document::{plural, sig};
use crate::fleet::model::{FleetReport, Node};
use crate::model::Verdict;

/// Lines of each kind printed before "… and N more".
pub const LINES: usize = 10;

/// The console summary of a fleet.
pub fn console(f: &FleetReport) -> String {
    let mut o = String::new();
    let count = |v: Verdict| f.nodes.iter().filter(|n| n.verdict == v).count();
    let slow = f.slow_outliers();
    let _ = writeln!(
        o,
        "fleet: {} (exit {}): {} nodes merged, {} PASS, {} FAIL, {} INCONCLUSIVE; {} missing; \
         {}; {} not merged",
        f.verdict,
        f.exit_code,
        f.nodes.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Inconclusive),
        f.missing.len(),
        plural(slow.len(), "slow outlier"),
        plural(f.unreadable.len(), "input")
    );
    if f.simulated_nodes() > 0 {
        let _ = writeln!(
            o,
            "SIMULATED: {} of {} nodes ran on gpugate-sim; nothing here is a GPU measurement",
            f.simulated_nodes(),
            f.nodes.len()
        );
    }
    let mut lines: Vec<String> = f
        .missing
        .iter()
        .map(|h| format!("  FAIL {h}: no result (listed in --expect-nodes)"))
        .collect();
    let bad: Vec<&Node> = f
        .nodes
        .iter()
        .filter(|n| n.verdict != Verdict::Pass)
        .collect();
    lines.extend(bad.iter().map(|n| {
        let first = n
            .failing
            .first()
            .map_or(String::new(), |c| format!(" {}: {}", c.id, c.text));
        format!("  {} {}:{first}", n.verdict, n.hostname)
    }));
    more(&mut o, lines);
    let outliers = slow
        .iter()
        .map(|(_, d, x)| {
            format!(
                "  slow outlier {} gpu{} {}: {} {unit} vs fleet median {} {unit} ({:+.1} %, z {:.1})",
                x.hostname,
                x.gpu,
                d.metric,
                sig(x.value),
                sig(x.median),
                x.percent_from_median,
                x.z,
                unit = d.unit
            )
        })
        .collect();
    more(&mut o, outliers);
    for n in &f.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}

fn more(o: &mut String, lines: Vec<String>) {
    for l in lines.iter().take(LINES) {
        let _ = writeln!(o, "{l}");
    }
    if lines.len() > LINES {
        let _ = writeln!(o, "  … and {} more (see the reports)", lines.len() - LINES);
    }
}
