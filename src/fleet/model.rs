//! fleet.json: the [`FleetReport`], the single source of every fleet output (fleet.json,
//! report.md, report.html, junit.xml, the distribution charts). Plain data; nothing here reads
//! a file or prints.

use serde::{Deserialize, Serialize};

use crate::model::{ToolInfo, Verdict};

/// Version of the fleet.json schema (independent of run.json's). Bump on any incompatible
/// change.
pub const FLEET_SCHEMA_VERSION: u32 = 1;

/// A merged fleet: every node's verdict, the distributions and outliers per profile, GPU model
/// and metric, the homogeneity of what the nodes run, and what could not be merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// RFC 3339, UTC: when the fleet was merged.
    pub merged_at: String,
    /// The modified z-score beyond which a GPU is an outlier (`--threshold`, default 3.5).
    pub threshold: f64,
    /// The fleet's verdict: FAIL when a node fails or an expected node is missing,
    /// INCONCLUSIVE when only outliers, inconclusive nodes or unreadable inputs remain, else
    /// PASS.
    pub verdict: Verdict,
    pub exit_code: i32,
    /// Every merged node, failures first (then inconclusive, then outliers, then passes), by
    /// hostname within each.
    pub nodes: Vec<Node>,
    /// Hostnames listed in `--expect-nodes` with no run.json: each a failure ("no result").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Inputs that could not be merged, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// One group per profile the nodes were gated against.
    pub groups: Vec<Group>,
    /// What the merge decided and says: duplicates (the newest wins), several profiles, nodes
    /// not expected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One node: its run's verdict (decided again from its run.json, as `gpugate report` does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The hostname its run.json records (the file's path when it records none).
    pub hostname: String,
    /// The run.json merged for it.
    pub file: String,
    pub started_at: String,
    pub profile: String,
    pub verdict: Verdict,
    /// The run was simulated (gpugate-sim): its numbers are not measurements.
    pub simulated: bool,
    /// Its GPUs, by CUDA ordinal.
    pub gpus: Vec<NodeGpu>,
    /// Its checks that failed or were inconclusive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<FailingCheck>,
    /// How many of its GPU metrics are slow outliers.
    #[serde(default)]
    pub slow_outliers: usize,
}

/// A GPU of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeGpu {
    pub index: u32,
    pub name: String,
    pub uuid: String,
}

/// A check of a node's run that did not pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingCheck {
    pub id: String,
    pub verdict: Verdict,
    /// What it came to, on one line (observed vs required, and why).
    pub text: String,
}

/// An input that could not be merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

/// The nodes gated against one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub profile: String,
    pub nodes: usize,
    /// One per GPU model and metric.
    pub metrics: Vec<Distribution>,
    /// One per attribute the nodes should share.
    pub homogeneity: Vec<Attribute>,
}

/// How far a value is from the median is measured against this spread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spread {
    /// The median absolute deviation: z = 0.6745 · (x − median) / MAD.
    Mad,
    /// MAD was 0 (more than half the values equal the median): z = (x − median) /
    /// (1.253314 · mean absolute deviation), as Iglewicz and Hoaglin, and IBM, advise.
    MeanAbsoluteDeviation,
    /// Every value equal: nothing is an outlier.
    None,
    /// Fewer GPUs than [`crate::fleet::MIN_GPUS_FOR_OUTLIERS`]: the distribution is shown,
    /// nothing is judged.
    TooFew,
}

/// One metric on one GPU model across the group's nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub gpu_model: String,
    /// The result name without its GPU, e.g. "sgemm.4096x4096x4096", "stream.triad.f64".
    pub metric: String,
    pub unit: String,
    pub n: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
    pub spread: Spread,
    /// The spread's value (MAD, or the mean absolute deviation), in `unit`.
    pub spread_value: f64,
    /// One per GPU: the node's index in [`FleetReport::nodes`], the GPU and its value.
    pub points: Vec<Point>,
    /// The points beyond the threshold, slowest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outliers: Vec<Outlier>,
}

/// One GPU's value of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub node: usize,
    pub gpu: u32,
    pub value: f64,
}

/// Which side of the median an outlier is on. Every metric is a throughput: only the slow side
/// is a problem (exit 3); a fast one is named as information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Slow,
    Fast,
}

/// A GPU beyond the threshold: its value, the fleet's median and how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    pub hostname: String,
    pub node: usize,
    pub gpu: u32,
    pub value: f64,
    pub median: f64,
    /// The modified z-score.
    pub z: f64,
    /// (value − median) / median × 100.
    pub percent_from_median: f64,
    pub side: Side,
}

/// An attribute every node of a group should share, and the nodes that differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// "GPU model", "GPU memory", "driver", …
    pub name: String,
    /// The value most nodes have.
    pub common: String,
    /// How many nodes have it.
    pub common_nodes: usize,
    /// Every other value, with the nodes that have it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub odd: Vec<OddValue>,
}

/// A value of an attribute that differs from the common one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OddValue {
    pub value: String,
    pub hostnames: Vec<String>,
}

impl FleetReport {
    /// Whether any merged node was simulated.
    pub fn simulated_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| n.simulated).count()
    }

    /// Every slow outlier of the fleet, slowest (most negative z) first.
    pub fn slow_outliers(&self) -> Vec<(&Group, &Distribution, &Outlier)> {
        let mut v: Vec<_> = self.outliers(Side::Slow);
        v.sort_by(|a, b| a.2.z.total_cmp(&b.2.z));
        v
    }

    /// Every outlier on `side`, group by group.
    pub fn outliers(&self, side: Side) -> Vec<(&Group, &Distribution, &Outlier)> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.metrics.iter().flat_map(move |d| {
                    d.outliers
                        .iter()
                        .filter(move |o| o.side == side)
                        .map(move |o| (g, d, o))
                })
            })
            .collect()
    }
}
