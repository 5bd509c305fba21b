//! The patches gpugate sends, asserted as the exact JSON; the plugin's answers, exactly; and
//! property tests that a person's labels and taints always survive.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::npd::{answer, cut, unreadable};
use super::patch::{node_patch, summary, Change};
use crate::fleet::model::{FailingCheck, Node};
use crate::fleet::node::NodeRecord;
use crate::model::Verdict;

// Keys in sorted order, as serde_json writes an object (the API server compares a `test`
// value as JSON, whatever the order of its keys).
const OURS: &str = r#"{"effect":"NoSchedule","key":"gpugate.io/unhealthy"}"#;
const PERSON: &str = r#"{"effect":"NoSchedule","key":"team/maintenance","value":"disk"}"#;
const NOEXEC: &str =
    r#"{"effect":"NoExecute","key":"gpugate.io/unhealthy","timeAdded":"2026-12-07T10:00:00Z"}"#;

/// A node as the API returns it: `labels` and `taints` are JSON text, or None for absent.
fn node(labels: Option<&str>, taints: Option<&str>) -> Value {
    let mut n = json!({
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": { "name": "gpu-7", "resourceVersion": "4711" },
        "spec": { "podCIDR": "10.0.7.0/24" },
        "status": { "conditions": [] }
    });
    if let Some(l) = labels {
        n["metadata"]["labels"] = serde_json::from_str(l).unwrap();
    }
    if let Some(t) = taints {
        n["spec"]["taints"] = serde_json::from_str(t).unwrap();
    }
    n
}

/// A case: its name, the node's labels and taints (JSON text, None: absent), the verdict and
/// the exact patch (or "(none)").
type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Verdict, String);

fn body(n: &Value, v: Verdict) -> String {
    node_patch(n, v, "node.json")
        .unwrap()
        .body()
        .unwrap_or_else(|| "(none)".into())
}

#[test]
fn patches_are_exactly_these() {
    let l_none = r#"{"kubernetes.io/hostname":"gpu-7"}"#;
    let l_pass = r#"{"kubernetes.io/hostname":"gpu-7","gpugate.io/verdict":"pass"}"#;
    let l_fail = r#"{"kubernetes.io/hostname":"gpu-7","gpugate.io/verdict":"fail"}"#;
    let with_ours = format!("[{PERSON},{OURS}]");
    let ours_first = format!("[{OURS},{PERSON}]");
    let person = format!("[{PERSON}]");
    let both_of_ours = format!("[{OURS},{PERSON},{OURS}]");
    let noexec = format!("[{NOEXEC}]");
    #[rustfmt::skip]
    let table: Vec<Case> = vec![
        ("first pass, no taints", Some(l_none), None, Verdict::Pass,
         r#"[{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"}]"#.into()),
        ("pass again: nothing", Some(l_pass), Some(&person), Verdict::Pass, "(none)".into()),
        ("pass, label absent, taints []", Some(l_none), Some("[]"), Verdict::Pass,
         r#"[{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"}]"#.into()),
        ("fail, a person's taint: ours appended, the list tested",
         Some(l_pass), Some(&person), Verdict::Fail,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{PERSON}]}},{{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"fail"}},{{"op":"add","path":"/spec/taints/-","value":{OURS}}}]"#)),
        ("fail, no taints: the list created, resourceVersion tested",
         Some(l_none), None, Verdict::Fail,
         format!(r#"[{{"op":"test","path":"/metadata/resourceVersion","value":"4711"}},{{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"fail"}},{{"op":"add","path":"/spec/taints","value":[{OURS}]}}]"#)),
        ("fail, taints []: appended", Some(l_fail), Some("[]"), Verdict::Fail,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[]}},{{"op":"add","path":"/spec/taints/-","value":{OURS}}}]"#)),
        ("fail again, tainted already: nothing", Some(l_fail), Some(&with_ours), Verdict::Fail,
         "(none)".into()),
        ("fail, label fail but our taint gone (a person removed it): added again",
         Some(l_fail), Some(&person), Verdict::Fail,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{PERSON}]}},{{"op":"add","path":"/spec/taints/-","value":{OURS}}}]"#)),
        ("pass after fail: ours removed by index, the person's kept",
         Some(l_fail), Some(&with_ours), Verdict::Pass,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{PERSON},{OURS}]}},{{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"}},{{"op":"remove","path":"/spec/taints/1"}}]"#)),
        ("pass, ours first", Some(l_fail), Some(&ours_first), Verdict::Pass,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{OURS},{PERSON}]}},{{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"}},{{"op":"remove","path":"/spec/taints/0"}}]"#)),
        ("pass, ours twice: highest index first", Some(l_pass), Some(&both_of_ours), Verdict::Pass,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{OURS},{PERSON},{OURS}]}},{{"op":"remove","path":"/spec/taints/2"}},{{"op":"remove","path":"/spec/taints/0"}}]"#)),
        ("pass: our key with another effect is a person's, kept", Some(l_pass), Some(&noexec),
         Verdict::Pass, "(none)".into()),
        ("fail: our key with another effect does not count as ours", Some(l_fail), Some(&noexec),
         Verdict::Fail,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{NOEXEC}]}},{{"op":"add","path":"/spec/taints/-","value":{OURS}}}]"#)),
        ("inconclusive on a tainted node: label only, the taint stays",
         Some(l_fail), Some(&with_ours), Verdict::Inconclusive,
         r#"[{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"inconclusive"}]"#.into()),
        ("inconclusive on a clean node: label only, no taint",
         Some(l_pass), None, Verdict::Inconclusive,
         r#"[{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"inconclusive"}]"#.into()),
        ("no labels at all: the map created, resourceVersion tested", None, None, Verdict::Pass,
         r#"[{"op":"test","path":"/metadata/resourceVersion","value":"4711"},{"op":"add","path":"/metadata/labels","value":{"gpugate.io/verdict":"pass"}}]"#.into()),
        ("skipped counts as pass", Some(l_fail), Some(&with_ours), Verdict::Skipped,
         format!(r#"[{{"op":"test","path":"/spec/taints","value":[{PERSON},{OURS}]}},{{"op":"add","path":"/metadata/labels/gpugate.io~1verdict","value":"pass"}},{{"op":"remove","path":"/spec/taints/1"}}]"#)),
    ];
    for (case, labels, taints, verdict, want) in table {
        let n = node(labels, taints);
        assert_eq!(body(&n, verdict), want, "{case}");
    }
}

#[test]
fn the_summary_line_says_what_changes() {
    let n = node(Some("{}"), Some(&format!("[{PERSON}]")));
    let p = node_patch(&n, Verdict::Fail, "-").unwrap();
    assert_eq!(p.changes, [Change::Label("fail"), Change::TaintAdded]);
    assert_eq!(
        summary("gpu-7", Verdict::Fail, &p),
        "node gpu-7: verdict fail: label gpugate.io/verdict=fail, taint gpugate.io/unhealthy:NoSchedule added"
    );
    let n = node(Some(r#"{"gpugate.io/verdict":"pass"}"#), None);
    let p = node_patch(&n, Verdict::Pass, "-").unwrap();
    assert_eq!(
        summary("gpu-7", Verdict::Pass, &p),
        "node gpu-7: verdict pass: nothing to change (label and taint already right)"
    );
}

#[test]
fn what_is_not_a_node_is_refused_saying_why() {
    let cases: Vec<(Value, &str)> = vec![
        (json!([1]), "not a JSON object"),
        (
            json!({"kind": "Pod", "metadata": {}}),
            "its kind is \"Pod\"",
        ),
        (json!({"metadata": {}}), "no \"kind\""),
        (json!({"kind": "Node"}), "no \"metadata\""),
        (
            json!({"kind": "Node", "metadata": {"resourceVersion": "1"}}),
            "no metadata.name",
        ),
        (
            json!({"kind": "Node", "metadata": {"name": "a"}}),
            "no metadata.resourceVersion",
        ),
        (
            json!({"kind": "Node", "metadata": {"name": "a", "resourceVersion": "1", "labels": []}}),
            "metadata.labels is not an object",
        ),
        (
            json!({"kind": "Node", "metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"taints": {}}}),
            "spec.taints is not a list",
        ),
        (
            json!({"kind": "Node", "metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"taints": [{"effect": "NoSchedule"}]}}),
            "has no key",
        ),
    ];
    for (n, want) in cases {
        let e = node_patch(&n, Verdict::Pass, "node.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want) && e.contains("node.json"), "{n}: {e}");
    }
}

/// A `test` operation that did not hold: the API server refuses the whole patch (422).
#[derive(Debug, PartialEq)]
struct TestFailed(String);

/// Applies a JSON Patch as the API server would (the subset gpugate sends): a `test` that
/// does not hold refuses the whole patch; an operation that cannot apply is a bug of the
/// patch, and panics.
fn apply(doc: &mut Value, ops: &Value) -> Result<(), TestFailed> {
    for op in ops.as_array().unwrap() {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let last = last.replace("~1", "/").replace("~0", "~");
        match op["op"].as_str().unwrap() {
            "test" => {
                if doc.pointer(path) != Some(&op["value"]) {
                    return Err(TestFailed(path.to_string()));
                }
            }
            "add" => match doc.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.insert(last, op["value"].clone());
                }
                Some(Value::Array(a)) if last == "-" => a.push(op["value"].clone()),
                p => panic!("add {path}: its parent is {p:?}"),
            },
            "remove" => {
                let a = doc.pointer_mut(parent).and_then(Value::as_array_mut);
                let a = a.unwrap_or_else(|| panic!("remove {path}: no list"));
                let i: usize = last.parse().unwrap();
                assert!(i < a.len(), "remove {path}: past the end");
                a.remove(i);
            }
            o => panic!("unexpected op {o}"),
        }
    }
    Ok(())
}

fn arb_taint() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("gpugate.io/unhealthy".to_string()),
        Just("gpugate.io/other".to_string()),
        "[a-z]{1,6}(/[a-z]{1,4})?",
    ];
    let effect = prop_oneof![
        Just("NoSchedule"),
        Just("NoExecute"),
        Just("PreferNoSchedule")
    ];
    (key, effect, proptest::option::of("[a-z]{0,5}")).prop_map(|(k, e, v)| match v {
        Some(v) => json!({"key": k, "value": v, "effect": e}),
        None => json!({"key": k, "effect": e}),
    })
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z/.]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("kind".to_string()),
                    Just("metadata".to_string()),
                    Just("key".to_string()),
                    "[a-z]{1,5}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Pass),
        Just(Verdict::Fail),
        Just(Verdict::Inconclusive),
        Just(Verdict::Skipped)
    ]
}

fn arb_node() -> impl Strategy<Value = Value> {
    let labels = proptest::option::of(proptest::collection::btree_map(
        prop_oneof![Just("gpugate.io/verdict".to_string()), "[a-z./]{1,10}"],
        prop_oneof![
            Just("pass".to_string()),
            Just("fail".to_string()),
            "[a-z]{0,4}"
        ],
        0..5,
    ));
    let taints = proptest::option::of(proptest::collection::vec(arb_taint(), 0..6));
    (labels, taints).prop_map(|(l, t)| {
        let mut n = node(None, None);
        if let Some(l) = l {
            n["metadata"]["labels"] = serde_json::to_value(l).unwrap();
        }
        if let Some(t) = t {
            n["spec"]["taints"] = Value::Array(t);
        }
        n
    })
}

fn others(n: &Value) -> (Vec<Value>, Vec<(String, Value)>) {
    let taints = n["spec"]["taints"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|t| !super::patch::is_gpugate_taint(t))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let labels = n["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != super::VERDICT_LABEL)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    (taints, labels)
}

proptest! {
    /// Whatever the node and verdict: after the patch, every other taint and label is as it
    /// was (in order), the label says the verdict, gpugate's taint is there once on FAIL and
    /// not at all on PASS, and applying the patch for the same verdict again changes nothing.
    #[test]
    fn other_labels_and_taints_are_always_preserved(n in arb_node(), v in arb_verdict()) {
        let p = node_patch(&n, v, "-").unwrap();
        let mut after = n.clone();
        if let Some(b) = p.body() {
            let ops: Value = serde_json::from_str(&b).unwrap();
            apply(&mut after, &ops).unwrap();
        }
        prop_assert_eq!(others(&after), others(&n));
        prop_assert_eq!(
            after["metadata"]["labels"][super::VERDICT_LABEL].as_str(),
            Some(super::label_value(v))
        );
        let ours = after["spec"]["taints"].as_array().map_or(0, |t| {
            t.iter().filter(|t| super::patch::is_gpugate_taint(t)).count()
        });
        let before = n["spec"]["taints"].as_array().map_or(0, |t| {
            t.iter().filter(|t| super::patch::is_gpugate_taint(t)).count()
        });
        match v {
            Verdict::Fail => prop_assert_eq!(ours, before.max(1)),
            Verdict::Pass | Verdict::Skipped => prop_assert_eq!(ours, 0),
            Verdict::Inconclusive => prop_assert_eq!(ours, before),
        }
        prop_assert!(node_patch(&after, v, "-").unwrap().body().is_none());
    }

    /// A patch that changes the taints fails as a whole when someone changed them in between.
    #[test]
    fn a_concurrent_change_of_the_taints_makes_the_patch_fail(
        n in arb_node(), v in arb_verdict(), t in arb_taint()
    ) {
        let p = node_patch(&n, v, "-").unwrap();
        let touches_taints = p.changes.iter().any(|c| !matches!(c, Change::Label(_)));
        prop_assume!(touches_taints);
        let mut changed = n.clone();
        match changed["spec"]["taints"].as_array_mut() {
            Some(a) => a.push(t),
            None => {
                changed["spec"]["taints"] = json!([t]);
                changed["metadata"]["resourceVersion"] = "4712".into();
            }
        }
        let ops: Value = serde_json::from_str(&p.body().unwrap()).unwrap();
        prop_assert!(apply(&mut changed, &ops).is_err());
    }

    /// Any JSON at all, or a node with any value in the places the patch reads: a patch or
    /// an error, never a panic.
    #[test]
    fn any_json_gives_a_patch_or_an_error(v in arb_json(), at in 0usize..4, w in arb_verdict()) {
        let _ = node_patch(&v, w, "-");
        let mut n = node(Some("{}"), Some("[]"));
        let slot = ["/metadata/labels", "/spec/taints", "/metadata/name", "/metadata/resourceVersion"][at];
        *n.pointer_mut(slot).unwrap() = v;
        let _ = node_patch(&n, w, "-");
    }

    #[test]
    fn the_message_fits_npd_and_is_cut_at_a_character(s in "\\PC{0,200}", max in 0usize..120) {
        let c = cut(&s, max);
        prop_assert!(c.len() <= max);
        prop_assert!(!c.contains('\n'));
    }
}

fn record(verdict: Verdict, failing: &[(&str, Verdict, &str)]) -> NodeRecord {
    NodeRecord {
        node: Node {
            hostname: "gpu-7".into(),
            file: "run.json".into(),
            started_at: "2026-12-07T21:00:00Z".into(),
            profile: "g2.2xlarge".into(),
            verdict,
            simulated: false,
            gpus: Vec::new(),
            failing: failing
                .iter()
                .map(|(id, v, text)| FailingCheck {
                    id: id.to_string(),
                    verdict: *v,
                    text: text.to_string(),
                })
                .collect(),
            slow_outliers: 0,
        },
        metrics: Vec::new(),
        attributes: Vec::new(),
    }
}

#[test]
fn npd_answers_are_exactly_these() {
    let slow = (
        "gpu1.sgemm.2048x2048x2048",
        Verdict::Fail,
        "observed 3.1 TFLOPS vs required 6.3 TFLOPS",
    );
    let noisy = (
        "gpu0.stream.triad.f64",
        Verdict::Inconclusive,
        "within noise",
    );
    let sdc = (
        "gpu0.burn.sdc",
        Verdict::Fail,
        "12 flipped bits\nin 3 intervals",
    );
    #[rustfmt::skip]
    let table: Vec<(NodeRecord, usize, i32, &str)> = vec![
        (record(Verdict::Pass, &[]), 80, 0, "gpugate PASS, run of 2026-12-07T21:00:00Z"),
        (record(Verdict::Skipped, &[]), 80, 0, "gpugate PASS, run of 2026-12-07T21:00:00Z"),
        (record(Verdict::Fail, &[noisy, sdc, slow]), 200, 1,
         "gpugate FAIL (+1 more): gpu0.burn.sdc: 12 flipped bits in 3 intervals"),
        (record(Verdict::Fail, &[slow]), 80, 1,
         "gpugate FAIL: gpu1.sgemm.2048x2048x2048: observed 3.1 TFLOPS vs required 6.3…"),
        (record(Verdict::Inconclusive, &[noisy]), 80, 3,
         "gpugate INCONCLUSIVE: gpu0.stream.triad.f64: within noise"),
        (record(Verdict::Fail, &[]), 80, 1, "gpugate FAIL"),
    ];
    for (r, max, code, msg) in table {
        let a = answer(&r, max);
        assert_eq!(
            (a.exit_code, a.message.as_str()),
            (code, msg),
            "{:?}",
            r.node.verdict
        );
        assert!(a.message.len() <= max);
    }
    let a = unreadable("no such file", 80);
    assert_eq!(
        (a.exit_code, a.message.as_str()),
        (2, "gpugate: no run: no such file")
    );
}
