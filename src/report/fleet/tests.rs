//! The fleet reports of a small fleet made from a real (simulated) node: report.md against its
//! snapshot, junit.xml as a JUnit reader reads it, the charts, fleet.json read back.

use super::*;
use crate::fleet::model::{FailingCheck, Unreadable};
use crate::fleet::tests::fleet;
use crate::fleet::{assemble, DEFAULT_THRESHOLD};
use crate::model::Verdict;

/// Ten nodes: node04's gpu1 10 % slow at FP32 GEMM (it passes its profile), node07's gpu0 10 %
/// fast at the f64 triad, node09 failing a check, node02 on another driver, one node missing
/// and one input unreadable.
fn sample() -> FleetReport {
    let mut nodes = fleet(10);
    for m in nodes[4].metrics.iter_mut() {
        if m.gpu == 1 && m.name == "sgemm.384x384x384" {
            m.value *= 0.9;
        }
    }
    for m in nodes[7].metrics.iter_mut() {
        if m.gpu == 0 && m.name == "stream.triad.f64" {
            m.value *= 1.1;
        }
    }
    nodes[9].node.verdict = Verdict::Fail;
    nodes[9].node.failing.push(FailingCheck {
        id: "gpu0.memory".into(),
        verdict: Verdict::Fail,
        text: "observed 12.0 vs required 22.0: 12 GB, the profile wants 22".into(),
    });
    nodes[2].attributes[2].1 = "CUDA 11.4".into();
    let unreadable = vec![Unreadable {
        path: "in/node-x/run.json".into(),
        reason: "the file is truncated".into(),
    }];
    let expect = (0..10)
        .map(|i| format!("node{i:02}"))
        .chain(["node10".into()])
        .collect();
    let mut f = assemble(nodes, unreadable, Some(expect), DEFAULT_THRESHOLD);
    f.merged_at = "2026-12-07T18:00:00Z".into();
    f.tool.version = "0.0.0-snapshot".into();
    f.tool.git_commit = None;
    f
}

fn file<'a>(all: &'a [(String, String)], name: &str) -> &'a str {
    &all.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn report_md_matches_its_snapshot_and_names_the_slow_node_first() {
    let all = render_all(&sample());
    let md = file(&all, "report.md");
    crate::report::tests::check_snapshot("fleet.md", md);
    let why = md.find("## Why FAIL").expect("why first");
    let slow = md[why..]
        .find("| `node04` | gpu1 | `sgemm.384x384x384`")
        .expect("slow outlier");
    assert!(why + slow < md.find("## Profile").unwrap());
    assert!(md.contains("`node10` **FAIL** no result"), "{md}");
    assert!(md.contains("CUDA 11.4: node02"));
}

#[test]
fn junit_has_a_case_per_node_failing_check_outlier_missing_node_and_input() {
    let f = sample();
    let xml = junit::render(&f);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no test case {name}"))
    };
    let failure = |name: &str| {
        case(name)
            .children()
            .find(|n| n.has_tag_name("failure"))
            .and_then(|n| n.attribute("type"))
    };
    assert_eq!(failure("node00"), None);
    assert_eq!(failure("node09"), Some("fail"));
    assert_eq!(failure("node09.gpu0.memory"), Some("fail"));
    assert_eq!(failure("node10"), Some("no result"));
    assert_eq!(
        failure("node04.gpu1.sgemm.384x384x384.outlier"),
        Some("outlier")
    );
    assert_eq!(failure("in/node-x/run.json"), Some("unreadable"));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    // 10 nodes, 1 failing check, 1 slow outlier, 1 missing node, 1 unreadable input.
    assert_eq!(cases, 14);
}

#[test]
fn fleet_json_reads_back_as_the_same_report() {
    let f = sample();
    let back: FleetReport = serde_json::from_str(&json(&f)).unwrap();
    assert_eq!(back, f);
    assert_eq!(back.schema_version, crate::fleet::FLEET_SCHEMA_VERSION);
}

#[test]
fn a_chart_per_metric_with_the_outliers_labelled() {
    let f = sample();
    let charts = crate::report::charts::fleet::charts(&f);
    let n: usize = f.groups.iter().map(|g| g.metrics.len()).sum();
    assert_eq!(charts.len(), n);
    for c in &charts {
        roxmltree::Document::parse(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.file_name));
    }
    let sgemm = charts
        .iter()
        .find(|c| c.title.starts_with("SIMULATED, not a measurement: sgemm"))
        .unwrap();
    assert!(
        sgemm.svg.contains("node04 gpu1"),
        "the slow GPU is labelled"
    );
    let names: std::collections::HashSet<&str> =
        charts.iter().map(|c| c.file_name.as_str()).collect();
    assert_eq!(names.len(), charts.len(), "file names are unique");
}

/// A fleet of more GPUs than the chart draws one by one: a histogram strip, every outlier
/// still a labelled point, and a chart that stays small.
#[test]
fn a_large_fleets_chart_stays_small() {
    let mut nodes = fleet(1200);
    for r in &mut nodes {
        r.metrics.retain(|m| m.name == "sgemm.384x384x384");
    }
    for m in nodes[500].metrics.iter_mut() {
        m.value *= 0.8;
    }
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    let charts = crate::report::charts::fleet::charts(&f);
    assert_eq!(charts.len(), 1);
    let svg = &charts[0].svg;
    assert!(f.groups[0].metrics[0].n > crate::report::charts::fleet::MAX_POINTS);
    assert!(svg.contains("node500 gpu0") && svg.contains("2400 GPUs, darker: more"));
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
}

#[test]
fn run_text_is_escaped_in_html() {
    let mut f = sample();
    f.nodes[0].hostname = "<script>x</script>".into();
    let html = file(&render_all(&f), "report.html").to_string();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
}
