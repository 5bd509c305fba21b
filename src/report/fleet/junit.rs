//! The fleet's junit.xml: one test case per node (`<hostname>`, failing as its run did), one per
//! check of a node that did not pass (`<hostname>.<check id>`), one per slow outlier
//! (`<hostname>.gpuN.<metric>.outlier`, a failure of type "outlier"), one per missing node
//! (a failure of type "no result") and one per input that could not be read. A passing check of
//! a node has no test case of its own here: its run's junit.xml has it.

use std::fmt::Write;

use super::document::sig;
use crate::fleet::model::{FleetReport, Side};
use crate::model::Verdict;
use crate::util::xml_escape as esc;

/// A test case: name, class, and its failure (type, message) unless it passed.
struct Case {
    name: String,
    class: &'static str,
    failure: Option<(&'static str, String)>,
}

fn cases(f: &FleetReport) -> Vec<Case> {
    let mut out = Vec::new();
    for h in &f.missing {
        out.push(Case {
            name: h.clone(),
            class: "gpugate.fleet.node",
            failure: Some((
                "no result",
                "listed in --expect-nodes, no run.json found".into(),
            )),
        });
    }
    for n in &f.nodes {
        let failure = match n.verdict {
            Verdict::Fail => Some(("fail", format!("{} checks did not pass", n.failing.len()))),
            Verdict::Inconclusive => Some(("inconclusive", "a check was inconclusive".into())),
            _ => None,
        };
        out.push(Case {
            name: n.hostname.clone(),
            class: "gpugate.fleet.node",
            failure,
        });
        for c in &n.failing {
            let kind = if c.verdict == Verdict::Fail {
                "fail"
            } else {
                "inconclusive"
            };
            out.push(Case {
                name: format!("{}.{}", n.hostname, c.id),
                class: "gpugate.fleet.check",
                failure: Some((kind, c.text.clone())),
            });
        }
    }
    for (g, d, o) in f.outliers(Side::Slow) {
        out.push(Case {
            name: format!("{}.gpu{}.{}.outlier", o.hostname, o.gpu, d.metric),
            class: "gpugate.fleet.outlier",
            failure: Some((
                "outlier",
                format!(
                    "{} {unit} against the fleet's median {} {unit} ({:+.1} %, modified z-score \
                     {:.1}) for {} on {} (profile {})",
                    sig(o.value),
                    sig(o.median),
                    o.percent_from_median,
                    o.z,
                    d.metric,
                    d.gpu_model,
                    g.profile,
                    unit = d.unit
                ),
            )),
        });
    }
    for u in &f.unreadable {
        out.push(Case {
            name: u.path.clone(),
            class: "gpugate.fleet.input",
            failure: Some(("unreadable", u.reason.clone())),
        });
    }
    out
}

/// junit.xml of the fleet.
pub fn render(f: &FleetReport) -> String {
    let cases = cases(f);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut o = String::new();
    let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        o,
        r#"<testsuites name="gpugate fleet" tests="{}" failures="{failures}">"#,
        cases.len()
    );
    let _ = writeln!(
        o,
        r#"  <testsuite name="gpugate.fleet" tests="{}" failures="{failures}" timestamp="{}">"#,
        cases.len(),
        esc(&f.merged_at)
    );
    let _ = writeln!(o, "    <properties>");
    for (k, v) in [
        ("verdict", f.verdict.to_string()),
        ("exit_code", f.exit_code.to_string()),
        ("nodes", f.nodes.len().to_string()),
        ("threshold", f.threshold.to_string()),
        ("simulated_nodes", f.simulated_nodes().to_string()),
    ] {
        let _ = writeln!(o, r#"      <property name="{k}" value="{}"/>"#, esc(&v));
    }
    let _ = writeln!(o, "    </properties>");
    for c in &cases {
        let _ = write!(
            o,
            r#"    <testcase classname="{}" name="{}" time="0">"#,
            c.class,
            esc(&c.name)
        );
        match &c.failure {
            None => {}
            Some((kind, msg)) => {
                let _ = write!(
                    o,
                    r#"<failure type="{kind}" message="{m}">{m}</failure>"#,
                    m = esc(msg)
                );
            }
        }
        let _ = writeln!(o, "</testcase>");
    }
    let _ = writeln!(o, "  </testsuite>");
    let _ = writeln!(o, "</testsuites>");
    o
}
