//! The JSON Patch (RFC 6902, `Content-Type: application/json-patch+json`) that records a
//! verdict on a node, computed from the node exactly as the API returned it.
//!
//! Why a JSON Patch with `test` operations rather than a merge or strategic merge patch: a
//! taint is removed from a list by its index, and the index is only right for the list that
//! was read. The patch therefore starts with a `test` of what it builds on, and the API server
//! applies none of it when that changed in between (HTTP 422): the script reads the node again
//! and recomputes, instead of overwriting someone else's change.
//!
//! - A change to the taints tests `/spec/taints` as read: a concurrent change to the node's
//!   status, annotations or other labels (the kubelet's, a controller's) does not make it fail;
//!   a concurrent change of the taints (a person tainting the node) does.
//! - Where a list or map that gpugate adds to is absent, RFC 6902 cannot test for absence, so
//!   the patch tests `/metadata/resourceVersion` instead: any change to the node in between
//!   makes it fail.
//! - Setting the label on an existing label map needs no test: `add` of one member replaces
//!   that member only.
//!
//! Rules: PASS → label `pass`, gpugate's taint removed where present. FAIL → label `fail`,
//! gpugate's taint added once. INCONCLUSIVE → label `inconclusive`, taints unchanged: an
//! inconclusive run (a measurement within its noise of the line) neither condemns a node
//! nor clears a node that failed; the next run decides. Nothing to change → no operation
//! (the script sends nothing). A taint or label that is not gpugate's is never touched.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{label_value, K8sError, TAINT_EFFECT, TAINT_KEY, VERDICT_LABEL};
use crate::model::Verdict;

/// One operation of a JSON Patch (RFC 6902), serialised as the API server reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    Test { path: String, value: Value },
    Add { path: String, value: Value },
    Remove { path: String },
}

/// What a patch changes, for the line gpugate prints on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The verdict label set (from what it was, if anything).
    Label(&'static str),
    TaintAdded,
    TaintRemoved,
}

/// The patch for one node: its operations (none: send nothing) and what they change.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePatch {
    pub ops: Vec<PatchOp>,
    pub changes: Vec<Change>,
}

impl NodePatch {
    /// The body to send, or `None` when nothing changes.
    pub fn body(&self) -> Option<String> {
        if self.ops.is_empty() {
            return None;
        }
        Some(serde_json::to_string(&self.ops).expect("a patch serialises"))
    }
}

/// The parts of a node the patch depends on, as read.
struct NodeView<'a> {
    name: &'a str,
    resource_version: &'a str,
    labels: Option<&'a Map<String, Value>>,
    taints: Option<&'a Vec<Value>>,
}

/// `~` and `/` escaped for a JSON Pointer (RFC 6901).
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Whether a taint is gpugate's: its key and effect.
pub fn is_gpugate_taint(t: &Value) -> bool {
    t.get("key").and_then(Value::as_str) == Some(TAINT_KEY)
        && t.get("effect").and_then(Value::as_str) == Some(TAINT_EFFECT)
}

/// The taint gpugate adds.
pub fn gpugate_taint() -> Value {
    json!({ "key": TAINT_KEY, "effect": TAINT_EFFECT })
}

/// The node's name, as the object says.
pub fn node_name<'a>(node: &'a Value, source_name: &str) -> Result<&'a str, K8sError> {
    view(node, source_name).map(|v| v.name)
}

fn view<'a>(node: &'a Value, source_name: &str) -> Result<NodeView<'a>, K8sError> {
    let bad = |reason: &str| K8sError::NotANode {
        source_name: source_name.to_string(),
        reason: reason.to_string(),
    };
    let obj = node.as_object().ok_or_else(|| bad("not a JSON object"))?;
    match obj.get("kind").and_then(Value::as_str) {
        Some("Node") => {}
        Some(k) => return Err(bad(&format!("its kind is {k:?}, not \"Node\""))),
        None => return Err(bad("it has no \"kind\"")),
    }
    let meta = obj
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("it has no \"metadata\" object"))?;
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("it has no metadata.name"))?;
    let resource_version = meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("it has no metadata.resourceVersion (was it read from the API?)"))?;
    let labels = match meta.get("labels") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(bad("metadata.labels is not an object")),
    };
    let taints = match obj.get("spec").and_then(|s| s.get("taints")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a),
        Some(_) => return Err(bad("spec.taints is not a list")),
    };
    if let Some(t) = taints {
        if t.iter()
            .any(|t| t.get("key").and_then(Value::as_str).is_none())
        {
            return Err(bad("a taint in spec.taints has no key"));
        }
    }
    Ok(NodeView {
        name,
        resource_version,
        labels,
        taints,
    })
}

/// The operations being built: the tests first, then the changes.
#[derive(Default)]
struct Builder {
    tests: Vec<PatchOp>,
    ops: Vec<PatchOp>,
    changes: Vec<Change>,
    /// Something is added where nothing was: test the resourceVersion.
    guard_version: bool,
}

/// The patch that records `verdict` on `node` (the object as the API returned it).
/// `source_name` names where the node came from, for the error messages.
pub fn node_patch(
    node: &Value,
    verdict: Verdict,
    source_name: &str,
) -> Result<NodePatch, K8sError> {
    let n = view(node, source_name)?;
    let mut b = Builder::default();
    label(&n, label_value(verdict), &mut b);
    taint(&n, verdict, &mut b);
    if b.ops.is_empty() {
        return Ok(NodePatch {
            ops: Vec::new(),
            changes: Vec::new(),
        });
    }
    let mut ops = Vec::new();
    if b.guard_version {
        ops.push(PatchOp::Test {
            path: "/metadata/resourceVersion".into(),
            value: n.resource_version.into(),
        });
    }
    ops.extend(b.tests);
    ops.extend(b.ops);
    Ok(NodePatch {
        ops,
        changes: b.changes,
    })
}

/// The verdict label: set where it is not `want` already.
fn label(n: &NodeView, want: &'static str, b: &mut Builder) {
    match n.labels {
        Some(l) if l.get(VERDICT_LABEL).and_then(Value::as_str) == Some(want) => return,
        Some(_) => b.ops.push(PatchOp::Add {
            path: format!("/metadata/labels/{}", pointer_token(VERDICT_LABEL)),
            value: want.into(),
        }),
        None => {
            b.guard_version = true;
            b.ops.push(PatchOp::Add {
                path: "/metadata/labels".into(),
                value: json!({ VERDICT_LABEL: want }),
            });
        }
    }
    b.changes.push(Change::Label(want));
}

/// gpugate's taint: added once on FAIL, removed on PASS, left alone otherwise.
fn taint(n: &NodeView, verdict: Verdict, b: &mut Builder) {
    let ours: Vec<usize> = n.taints.map_or_else(Vec::new, |t| {
        t.iter()
            .enumerate()
            .filter(|(_, t)| is_gpugate_taint(t))
            .map(|(i, _)| i)
            .collect()
    });
    match (verdict, n.taints) {
        (Verdict::Fail, Some(t)) if ours.is_empty() => {
            b.tests.push(taints_test(t));
            b.ops.push(PatchOp::Add {
                path: "/spec/taints/-".into(),
                value: gpugate_taint(),
            });
            b.changes.push(Change::TaintAdded);
        }
        (Verdict::Fail, None) => {
            b.guard_version = true;
            b.ops.push(PatchOp::Add {
                path: "/spec/taints".into(),
                value: json!([gpugate_taint()]),
            });
            b.changes.push(Change::TaintAdded);
        }
        (Verdict::Pass | Verdict::Skipped, Some(t)) if !ours.is_empty() => {
            b.tests.push(taints_test(t));
            // Highest index first: each removal leaves the lower indices where they were.
            for i in ours.into_iter().rev() {
                b.ops.push(PatchOp::Remove {
                    path: format!("/spec/taints/{i}"),
                });
            }
            b.changes.push(Change::TaintRemoved);
        }
        _ => {}
    }
}

fn taints_test(taints: &[Value]) -> PatchOp {
    PatchOp::Test {
        path: "/spec/taints".into(),
        value: Value::Array(taints.to_vec()),
    }
}

/// One line saying what the patch does to node `name`.
pub fn summary(name: &str, verdict: Verdict, patch: &NodePatch) -> String {
    let v = label_value(verdict);
    if patch.changes.is_empty() {
        return format!(
            "node {name}: verdict {v}: nothing to change (label and taint already right)"
        );
    }
    let what: Vec<String> = patch
        .changes
        .iter()
        .map(|c| match c {
            Change::Label(l) => format!("label {VERDICT_LABEL}={l}"),
            Change::TaintAdded => format!("taint {TAINT_KEY}:{TAINT_EFFECT} added"),
            Change::TaintRemoved => format!("taint {TAINT_KEY}:{TAINT_EFFECT} removed"),
        })
        .collect();
    format!("node {name}: verdict {v}: {}", what.join(", "))
}
