//! The fleet merge on records made from a real (simulated) two-GPU run.

use std::path::Path;

use super::model::{Side, Spread};
use super::node::{record, NodeRecord};
use super::*;

/// The fixture's node: a simulated G2.2xlarge (two M40s) that passes (`--allow-simulated`).
pub(crate) fn base() -> NodeRecord {
    static BASE: std::sync::OnceLock<NodeRecord> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fleet/sim-m40x2-g2.2xlarge-quick.schema3.run.json");
        let mut run = crate::report::load_run(&path).unwrap();
        crate::report::decide_again(&mut run);
        record(&run, &path)
    })
    .clone()
}

/// `n` copies of the base node named node00…, each metric multiplied by a deterministic noise
/// of ±0.4 % (so the spread is honest, and no honest node is 1 % off).
pub(crate) fn fleet(n: usize) -> Vec<NodeRecord> {
    (0..n)
        .map(|i| {
            let mut r = base();
            r.node.hostname = format!("node{i:02}");
            r.node.file = format!("/runs/node{i:02}/run.json");
            for (k, m) in r.metrics.iter_mut().enumerate() {
                let noise = ((i * 7 + k * 3) % 9) as f64 / 8.0 - 0.5; // -0.5 ..= 0.5
                m.value *= 1.0 + 0.008 * noise;
            }
            r
        })
        .collect()
}

fn scale(r: &mut NodeRecord, gpu: u32, metric: &str, factor: f64) {
    for m in r.metrics.iter_mut() {
        if m.gpu == gpu && m.name == metric {
            m.value *= factor;
        }
    }
}

#[test]
fn the_fixture_node_passes_with_metrics_for_both_gpus() {
    let b = base();
    assert_eq!(b.node.verdict, crate::model::Verdict::Pass);
    assert!(b.node.simulated);
    assert!(b
        .metrics
        .iter()
        .any(|m| m.gpu == 1 && m.name == "sgemm.384x384x384"));
    assert!(b.metrics.iter().all(|m| m.value > 0.0));
}

/// The exit-code rules, one row per case.
#[test]
fn verdict_rules() {
    let t = |f, m, i, o, u| Tally {
        failed_nodes: f,
        missing_nodes: m,
        inconclusive_nodes: i,
        slow_outliers: o,
        unreadable_inputs: u,
    };
    use crate::model::Verdict::*;
    for (tally, want, code) in [
        (t(0, 0, 0, 0, 0), Pass, 0),
        (t(1, 0, 0, 0, 0), Fail, 1),
        (t(0, 1, 0, 0, 0), Fail, 1),
        (t(1, 0, 3, 2, 1), Fail, 1),
        (t(0, 0, 1, 0, 0), Inconclusive, 3),
        (t(0, 0, 0, 1, 0), Inconclusive, 3),
        (t(0, 0, 0, 0, 1), Inconclusive, 3),
        (t(0, 1, 0, 1, 0), Fail, 1),
    ] {
        assert_eq!(verdict(&tally), want, "{tally:?}");
        assert_eq!(exit::for_verdict(verdict(&tally)), code, "{tally:?}");
    }
}

#[test]
fn a_slow_but_passing_gpu_is_a_slow_outlier_and_the_fleet_is_inconclusive() {
    let mut nodes = fleet(10);
    scale(&mut nodes[4], 1, "sgemm.384x384x384", 0.9);
    scale(&mut nodes[7], 0, "stream.triad.f64", 1.1);
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    assert_eq!((f.verdict, f.exit_code), (Verdict::Inconclusive, 3));
    let slow = f.slow_outliers();
    assert_eq!(slow.len(), 1, "{slow:?}");
    let (_, d, o) = slow[0];
    assert_eq!(
        (d.metric.as_str(), o.hostname.as_str(), o.gpu),
        ("sgemm.384x384x384", "node04", 1)
    );
    assert!(
        o.z < -DEFAULT_THRESHOLD && (o.percent_from_median + 10.0).abs() < 1.0,
        "{o:?}"
    );
    assert_eq!(d.spread, Spread::Mad);
    let fast = f.outliers(Side::Fast);
    assert_eq!(fast.len(), 1);
    assert_eq!(fast[0].2.hostname, "node07");
    assert_eq!(
        f.nodes
            .iter()
            .find(|n| n.hostname == "node04")
            .unwrap()
            .slow_outliers,
        1
    );
    assert_eq!(
        f.nodes
            .iter()
            .find(|n| n.hostname == "node07")
            .unwrap()
            .slow_outliers,
        0
    );
}

#[test]
fn a_fast_outlier_alone_passes() {
    let mut nodes = fleet(10);
    scale(&mut nodes[3], 0, "dgemm.384x384x384", 1.2);
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    assert_eq!(f.outliers(Side::Fast).len(), 1);
    assert_eq!((f.verdict, f.exit_code), (Verdict::Pass, 0));
}

#[test]
fn honest_noise_and_small_differences_are_no_outliers() {
    // A fleet of identical values but one 0.5 % lower: its z-score is far beyond 3.5 (MAD is 0),
    // but half a percent is within one measurement's noise.
    let mut nodes: Vec<NodeRecord> = (0..10)
        .map(|i| {
            let mut r = base();
            r.node.hostname = format!("n{i}");
            r
        })
        .collect();
    scale(&mut nodes[2], 0, "sgemm.384x384x384", 0.995);
    let f = assemble(nodes.clone(), Vec::new(), None, DEFAULT_THRESHOLD);
    assert!(f.slow_outliers().is_empty());
    assert_eq!(f.verdict, Verdict::Pass);
    // 5 % lower among identical values: MAD is 0, the mean absolute deviation judges it.
    scale(&mut nodes[2], 0, "sgemm.384x384x384", 0.95);
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    let slow = f.slow_outliers();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].1.spread, Spread::MeanAbsoluteDeviation);
}

#[test]
fn too_few_gpus_are_shown_but_not_judged() {
    // Two nodes, two GPUs each: four values per metric.
    let mut nodes = fleet(2);
    scale(&mut nodes[0], 0, "sgemm.384x384x384", 0.5);
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    let d = &f.groups[0].metrics[0];
    assert_eq!((d.n, d.spread), (4, Spread::TooFew));
    assert!(f.slow_outliers().is_empty());
}

#[test]
fn a_missing_expected_node_fails_and_an_unexpected_one_is_noted() {
    let expect = vec!["node00".into(), "node01".into(), "gone".into()];
    let mut nodes = fleet(2);
    nodes.push({
        let mut r = base();
        r.node.hostname = "stranger".into();
        r
    });
    let f = assemble(nodes, Vec::new(), Some(expect), DEFAULT_THRESHOLD);
    assert_eq!(f.missing, ["gone"]);
    assert_eq!((f.verdict, f.exit_code), (Verdict::Fail, 1));
    assert!(
        f.notes.iter().any(|n| n.contains("stranger")),
        "{:?}",
        f.notes
    );
}

#[test]
fn the_newest_of_two_files_for_one_node_wins_and_it_is_said() {
    let mut nodes = fleet(6);
    let mut old = nodes[1].clone();
    old.node.started_at = "2020-01-01T00:00:00Z".into();
    old.node.file = "/old/run.json".into();
    old.node.verdict = Verdict::Fail;
    nodes.push(old);
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    assert_eq!(f.nodes.len(), 6);
    assert_eq!(f.verdict, Verdict::Pass);
    let n = f.nodes.iter().find(|n| n.hostname == "node01").unwrap();
    assert_eq!(n.file, "/runs/node01/run.json");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("node node01: 2 run.json files") && n.contains("/old/run.json")),
        "{:?}",
        f.notes
    );
}

#[test]
fn nodes_of_different_profiles_are_merged_per_profile() {
    let mut nodes = fleet(8);
    for r in &mut nodes[5..] {
        r.node.profile = "g2.large".into();
    }
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    let names: Vec<(&str, usize)> = f
        .groups
        .iter()
        .map(|g| (g.profile.as_str(), g.nodes))
        .collect();
    assert_eq!(names, [("g2.2xlarge", 5), ("g2.large", 3)]);
    assert!(
        f.notes.iter().any(|n| n.contains("2 profiles")),
        "{:?}",
        f.notes
    );
    // A group's points are its own nodes only.
    let g = &f.groups[1];
    assert!(g.metrics.iter().all(|d| d
        .points
        .iter()
        .all(|p| f.nodes[p.node].profile == "g2.large")));
}

#[test]
fn an_odd_driver_is_named() {
    let mut nodes = fleet(6);
    nodes[3].attributes[2].1 = "CUDA 11.4".into();
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    let a = &f.groups[0].homogeneity[2];
    assert_eq!(
        (a.name.as_str(), a.common.as_str(), a.common_nodes),
        ("driver (CUDA version)", "CUDA 12.4", 5)
    );
    assert_eq!(a.odd.len(), 1);
    assert_eq!(
        (a.odd[0].value.as_str(), a.odd[0].hostnames.as_slice()),
        ("CUDA 11.4", &["node03".to_string()][..])
    );
    assert!(f.groups[0]
        .homogeneity
        .iter()
        .enumerate()
        .all(|(i, a)| i == 2 || a.odd.is_empty()));
}

#[test]
fn failing_nodes_come_first_with_their_failing_checks() {
    let mut nodes = fleet(6);
    nodes[5].node.verdict = Verdict::Fail;
    nodes[5].node.failing.push(model::FailingCheck {
        id: "gpu0.fp32_gemm".into(),
        verdict: Verdict::Fail,
        text: "observed 3 TFLOPS vs required 4.2 TFLOPS".into(),
    });
    let f = assemble(nodes, Vec::new(), None, DEFAULT_THRESHOLD);
    assert_eq!(f.nodes[0].hostname, "node05");
    assert_eq!((f.verdict, f.exit_code), (Verdict::Fail, 1));
}

#[test]
fn expected_nodes_file_format() {
    assert_eq!(
        parse_expected("a\n  b  # rack 2\n\n# c\na\nd\r\n"),
        ["a", "b", "d"]
    );
}

#[test]
fn a_bad_threshold_or_nothing_to_merge_is_an_error() {
    let opts = |inputs: Vec<std::path::PathBuf>, threshold| FleetOptions {
        inputs,
        expect_nodes: None,
        threshold,
    };
    assert!(matches!(
        merge_fleet(&opts(vec![], 0.0)),
        Err(FleetError::Threshold(_))
    ));
    let empty = tempfile::tempdir().unwrap();
    let e = merge_fleet(&opts(vec![empty.path().into()], 3.5)).unwrap_err();
    assert!(
        e.to_string().contains("no run.json in this directory"),
        "{e}"
    );
}

/// Eleven GPUs around 100 with a MAD of exactly 1: z = 0.6745 · (x − 100), so the threshold
/// 3.5 lies at x = 94.81. Just beyond it is an outlier, just inside it is not.
#[test]
fn the_threshold_is_where_the_modified_z_score_puts_it() {
    let at = |x: f64, threshold: f64| {
        let values = [
            98.0, 99.0, 100.0, 101.0, 102.0, 98.0, 99.0, 101.0, 102.0, 100.0, x,
        ];
        let nodes: Vec<NodeRecord> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut r = base();
                r.node.hostname = format!("h{i:02}");
                r.metrics.truncate(1);
                r.metrics[0].value = *v;
                r
            })
            .collect();
        let f = assemble(nodes, Vec::new(), None, threshold);
        let d = &f.groups[0].metrics[0];
        assert_eq!(
            (d.median, d.spread, d.spread_value),
            (100.0, Spread::Mad, 1.0)
        );
        d.outliers
            .iter()
            .map(|o| o.hostname.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(at(94.7, 3.5), ["h10"]);
    assert!(at(94.9, 3.5).is_empty());
    assert!(at(94.7, 3.6).is_empty());
    assert_eq!(at(96.5, 2.0), ["h10"]);
}
