//! One node's run, reduced to what the fleet needs: its verdict and failing checks, its GPU
//! metrics and the attributes the fleet compares. A run.json is read through the run's own
//! loader ([`report::load_run`], which reads every older schema) and decided again as
//! `gpugate report` does ([`report::decide_again`]); the `RunReport` is dropped as soon as its
//! record is made, so a fleet of 10,000 nodes never holds 10,000 runs.

use std::path::Path;

use super::model::{FailingCheck, Node, NodeGpu, Unreadable};
use crate::model::{BackendKind, Role, RunReport, Verdict};
use crate::report;

/// A node as the merge sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    pub node: Node,
    /// Its GPU metrics, one per verified result.
    pub metrics: Vec<Metric>,
    /// (attribute, value) for the homogeneity table, in [`ATTRIBUTES`] order.
    pub attributes: Vec<(&'static str, String)>,
}

/// One verified GPU result's throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub gpu: u32,
    pub gpu_model: String,
    /// The result id without its GPU ("sgemm.4096x4096x4096", "stream.triad.f64").
    pub name: String,
    pub unit: String,
    pub value: f64,
}

/// The attributes every node of a profile should share. VBIOS is not among them: run.json
/// does not record it.
pub const ATTRIBUTES: [&str; 6] = [
    "GPU model",
    "GPU memory",
    "driver (CUDA version)",
    "PCIe link",
    "gpugate version",
    "profile machine and targets (fingerprint)",
];

/// Reads, decides again and reduces one run.json.
pub fn read_node(path: &Path) -> Result<NodeRecord, Unreadable> {
    let mut run = report::load_run(path).map_err(|e| Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    report::decide_again(&mut run);
    Ok(record(&run, path))
}

/// The record of a run already decided.
pub fn record(run: &RunReport, path: &Path) -> NodeRecord {
    let hostname = match run.host.hostname.trim() {
        "" => format!("(no hostname) {}", path.display()),
        h => h.to_string(),
    };
    let failing = report::attention(run)
        .into_iter()
        .map(|c| FailingCheck {
            id: c.id.clone(),
            verdict: c.verdict,
            text: report::attention_text(c),
        })
        .collect();
    let verdict = match run.verdict {
        Verdict::Skipped => Verdict::Pass,
        v => v,
    };
    NodeRecord {
        node: Node {
            hostname,
            file: path.display().to_string(),
            started_at: run.started_at.clone(),
            profile: run.profile.name.clone(),
            verdict,
            simulated: run.simulated(),
            gpus: run
                .gpus
                .iter()
                .map(|g| NodeGpu {
                    index: g.index,
                    name: g.name.clone(),
                    uuid: g.uuid.clone(),
                })
                .collect(),
            failing,
            slow_outliers: 0,
        },
        metrics: metrics(run),
        attributes: attributes(run),
    }
}

/// Every primary GPU result that ran, was verified right and has a finite throughput above 0.
fn metrics(run: &RunReport) -> Vec<Metric> {
    run.results
        .iter()
        .filter(|w| w.backend == BackendKind::Cuda && w.role == Role::Primary)
        .filter(|w| w.error.is_none() && w.verification.passed())
        .filter_map(|w| {
            let gpu = w.device?;
            let m = w.measurement.as_ref()?;
            let value = m.throughput.median;
            if !(value.is_finite() && value > 0.0) {
                return None;
            }
            let name = w.id.split_once('.').map_or(w.id.as_str(), |(_, n)| n);
            let gpu_model = run
                .gpus
                .iter()
                .find(|g| g.index == gpu)
                .map_or_else(|| w.device_name.clone(), |g| g.name.clone());
            Some(Metric {
                gpu,
                gpu_model,
                name: name.to_string(),
                unit: m.throughput.unit.clone(),
                value,
            })
        })
        .collect()
}

/// Distinct values in order of first appearance, joined.
fn distinct(values: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    if seen.is_empty() {
        "no GPU".into()
    } else {
        seen.join(", ")
    }
}

fn attributes(run: &RunReport) -> Vec<(&'static str, String)> {
    let g = &run.gpus;
    let models = distinct(g.iter().map(|d| {
        let n = g.iter().filter(|x| x.name == d.name).count();
        format!("{n} × {}", d.name)
    }));
    let memory = distinct(g.iter().map(|d| {
        format!(
            "{:.1} GiB",
            d.total_memory_bytes as f64 / (1u64 << 30) as f64
        )
    }));
    let driver = distinct(g.iter().map(|d| {
        let v = d.driver_cuda_version;
        format!("CUDA {}.{}", v / 1000, (v % 1000) / 10)
    }));
    let link = distinct(
        g.iter()
            .map(|d| match (d.pcie_link_gen, d.pcie_link_width) {
                (Some(gen), Some(w)) => format!("gen {gen} x{w}"),
                _ => "unknown".into(),
            }),
    );
    let version = match &run.tool.git_commit {
        Some(c) => format!("{} ({c})", run.tool.version),
        None => run.tool.version.clone(),
    };
    let targets = match (&run.profile.machine, &run.profile.targets) {
        (Some(m), Some(t)) => {
            let text = serde_json::to_string(&(m, t)).unwrap_or_default();
            format!("{:016x}", crate::util::fnv1a64(text.bytes()))
        }
        _ => "not recorded (schema 1 run.json)".into(),
    };
    let values = [models, memory, driver, link, version, targets];
    ATTRIBUTES.into_iter().zip(values).collect()
}
