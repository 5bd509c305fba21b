//! The merge proper: one record per node (the newest when a node sent several), nodes grouped
//! by profile, and per group the distribution of every metric on every GPU model with its
//! outliers, and the homogeneity of the nodes' attributes.

use std::collections::BTreeMap;

use super::model::{Attribute, Distribution, Group, Node, OddValue, Outlier, Point, Side};
use super::node::{NodeRecord, ATTRIBUTES};
use super::stats::{modified_z, quartiles};
use super::{MIN_GPUS_FOR_OUTLIERS, MIN_RELATIVE_DEVIATION};
use crate::model::Verdict;

/// One record per hostname: the newest run (latest `started_at`; RFC 3339 UTC sorts as text)
/// wins, and a note names the files left out.
pub fn newest_per_node(records: Vec<NodeRecord>, notes: &mut Vec<String>) -> Vec<NodeRecord> {
    let mut by_host: BTreeMap<String, Vec<NodeRecord>> = BTreeMap::new();
    for r in records {
        by_host.entry(r.node.hostname.clone()).or_default().push(r);
    }
    let mut out = Vec::with_capacity(by_host.len());
    for (host, mut rs) in by_host {
        rs.sort_by(|a, b| {
            (&b.node.started_at, &b.node.file).cmp(&(&a.node.started_at, &a.node.file))
        });
        if rs.len() > 1 {
            let older: Vec<String> = rs[1..]
                .iter()
                .map(|r| format!("{} (started {})", r.node.file, r.node.started_at))
                .collect();
            notes.push(format!(
                "node {host}: {} run.json files; the newest, {} (started {}), is merged and {} \
                 left out",
                rs.len(),
                rs[0].node.file,
                rs[0].node.started_at,
                older.join(", ")
            ));
        }
        out.push(rs.swap_remove(0));
    }
    out
}

/// The order nodes are listed in: FAIL, then INCONCLUSIVE, then the rest; by hostname.
pub fn sort_nodes(records: &mut [NodeRecord]) {
    let rank = |v: Verdict| match v {
        Verdict::Fail => 0,
        Verdict::Inconclusive => 1,
        _ => 2,
    };
    records.sort_by(|a, b| {
        (rank(a.node.verdict), &a.node.hostname).cmp(&(rank(b.node.verdict), &b.node.hostname))
    });
}

/// The groups, one per profile (by name), from records already in their final order.
pub fn groups(records: &[NodeRecord], threshold: f64) -> Vec<Group> {
    let mut by_profile: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_profile.entry(&r.node.profile).or_default().push(i);
    }
    by_profile
        .into_iter()
        .map(|(profile, members)| Group {
            profile: profile.to_string(),
            nodes: members.len(),
            metrics: distributions(records, &members, threshold),
            homogeneity: homogeneity(records, &members),
        })
        .collect()
}

/// Per GPU model and metric (and unit), the points of `members`, each judged.
fn distributions(records: &[NodeRecord], members: &[usize], threshold: f64) -> Vec<Distribution> {
    let mut by_key: BTreeMap<(&str, &str, &str), Vec<Point>> = BTreeMap::new();
    for &i in members {
        for m in &records[i].metrics {
            by_key
                .entry((&m.gpu_model, &m.name, &m.unit))
                .or_default()
                .push(Point {
                    node: i,
                    gpu: m.gpu,
                    value: m.value,
                });
        }
    }
    by_key
        .into_iter()
        .map(|((model, metric, unit), points)| {
            distribution(records, model, metric, unit, points, threshold)
        })
        .collect()
}

fn distribution(
    records: &[NodeRecord],
    model: &str,
    metric: &str,
    unit: &str,
    points: Vec<Point>,
    threshold: f64,
) -> Distribution {
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let q = quartiles(&values).expect("a distribution has a point");
    let (z, mut spread, spread_value) = modified_z(&values);
    let mut outliers = Vec::new();
    if values.len() < MIN_GPUS_FOR_OUTLIERS {
        spread = super::model::Spread::TooFew;
    } else {
        for (p, z) in points.iter().zip(&z) {
            let off = (p.value - q.median) / q.median;
            if z.abs() > threshold && off.abs() >= MIN_RELATIVE_DEVIATION {
                outliers.push(Outlier {
                    hostname: records[p.node].node.hostname.clone(),
                    node: p.node,
                    gpu: p.gpu,
                    value: p.value,
                    median: q.median,
                    z: *z,
                    percent_from_median: off * 100.0,
                    side: if *z < 0.0 { Side::Slow } else { Side::Fast },
                });
            }
        }
    }
    outliers.sort_by(|a, b| a.z.total_cmp(&b.z));
    Distribution {
        gpu_model: model.to_string(),
        metric: metric.to_string(),
        unit: unit.to_string(),
        n: values.len(),
        median: q.median,
        q1: q.q1,
        q3: q.q3,
        min: q.min,
        max: q.max,
        spread,
        spread_value,
        points,
        outliers,
    }
}

/// Per attribute, the value most of `members` have (ties: the first in text order) and the
/// nodes with any other.
fn homogeneity(records: &[NodeRecord], members: &[usize]) -> Vec<Attribute> {
    ATTRIBUTES
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let mut by_value: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for &i in members {
                let r = &records[i];
                let v = r.attributes.get(k).map_or("", |a| a.1.as_str());
                by_value.entry(v).or_default().push(&r.node.hostname);
            }
            let common = by_value
                .iter()
                .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
                .map(|(v, _)| v.to_string())
                .unwrap_or_default();
            let common_nodes = by_value.get(common.as_str()).map_or(0, Vec::len);
            let odd = by_value
                .into_iter()
                .filter(|(v, _)| *v != common)
                .map(|(v, hosts)| OddValue {
                    value: v.to_string(),
                    hostnames: hosts.into_iter().map(str::to_string).collect(),
                })
                .collect();
            Attribute {
                name: name.to_string(),
                common,
                common_nodes,
                odd,
            }
        })
        .collect()
}

/// Counts each node's slow outliers into it.
pub fn count_outliers(nodes: &mut [Node], groups: &[Group]) {
    for d in groups.iter().flat_map(|g| &g.metrics) {
        for o in d.outliers.iter().filter(|o| o.side == Side::Slow) {
            nodes[o.node].slow_outliers += 1;
        }
    }
}
