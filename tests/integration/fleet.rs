//! `gpugate fleet` end to end, on nodes made from a real run.json (a simulated two-M40 run,
//! tests/fixtures/fleet/): hostnames and measured values edited with serde_json, as many
//! nodes' files would differ. No GPU run: the merge reads files only.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::*;

fn base() -> Value {
    let text =
        std::fs::read_to_string(fixture("fleet/sim-m40x2-g2.2xlarge-quick.schema3.run.json"))
            .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Multiplies result `id`'s throughput by `f`: its samples (seconds per iteration) and
/// summary divided, its throughput multiplied, as a GPU that fast would have recorded them.
fn scale(run: &mut Value, id: &str, f: f64) {
    let w = run["results"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|w| w["id"] == id)
        .unwrap_or_else(|| panic!("no result {id}"));
    let m = &mut w["measurement"];
    for t in m["samples"].as_array_mut().unwrap() {
        *t = (t.as_f64().unwrap() / f).into();
    }
    for k in ["median", "mean", "min", "max", "stddev"] {
        m["summary"][k] = (m["summary"][k].as_f64().unwrap() / f).into();
    }
    for k in ["median", "best", "worst"] {
        m["throughput"][k] = (m["throughput"][k].as_f64().unwrap() * f).into();
    }
}

/// Node `i` of a fleet: the fixture renamed, every GPU result within ±0.4 % of it.
fn node(i: usize) -> Value {
    let mut r = base();
    r["host"]["hostname"] = format!("node{i:02}").into();
    let ids: Vec<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["backend"] == "cuda" && !w["measurement"].is_null())
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect();
    for (k, id) in ids.iter().enumerate() {
        let noise = ((i * 7 + k * 3) % 9) as f64 / 8.0 - 0.5;
        scale(&mut r, id, 1.0 + 0.008 * noise);
    }
    r
}

fn write(dir: &Path, name: &str, run: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, serde_json::to_string(run).unwrap()).unwrap();
    p
}

/// `gpugate fleet ARGS… --out OUT`: its output, and the fleet directory it wrote.
fn fleet(args: &[&Path], extra: &[&str], out: &Path) -> (Output, PathBuf) {
    let mut a: Vec<String> = vec!["fleet".into()];
    a.extend(args.iter().map(|p| p.display().to_string()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(["--out".into(), out.display().to_string()]);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    (gpugate(&a), out.join("latest"))
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn fleet_names_the_slow_but_passing_node_and_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    for i in 0..8 {
        let mut r = node(i);
        if i == 3 {
            // 10 % slow at FP32 GEMM: 4.25 TFLOPS, still above the profile's 4.2 line.
            scale(&mut r, "gpu1.sgemm.384x384x384", 0.9);
        }
        write(&runs, &format!("node{i:02}/run.json"), &r);
    }
    let (o, dir) = fleet(&[&runs], &[], &tmp.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let f = read_json(&dir.join("fleet.json"));
    assert_eq!(f["schema_version"], 1);
    assert_eq!(
        (f["verdict"].as_str(), f["exit_code"].as_i64()),
        (Some("inconclusive"), Some(3))
    );
    let nodes = f["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 8);
    let n3 = nodes.iter().find(|n| n["hostname"] == "node03").unwrap();
    assert_eq!(
        (n3["verdict"].as_str(), n3["slow_outliers"].as_u64()),
        (Some("pass"), Some(1))
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| `node03` | gpu1 | `sgemm.384x384x384` |"),
        "report.md names the outlier:\n{md}"
    );
    for f in ["report.html", "junit.xml"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(
        stdout(&o).contains("slow outlier node03 gpu1 sgemm.384x384x384"),
        "{}",
        stdout(&o)
    );
    // The same fleet without the slow GPU passes.
    std::fs::write(
        runs.join("node03/run.json"),
        serde_json::to_string(&node(3)).unwrap(),
    )
    .unwrap();
    let (o, _) = fleet(&[&runs], &[], &tmp.path().join("out"));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

/// Bad inputs beside good ones: each said, the rest merged.
#[test]
fn fleet_says_what_it_could_not_merge_and_merges_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    for i in 0..6 {
        write(&runs, &format!("node{i:02}/run.json"), &node(i));
    }
    // An older run of node01 that failed: the newest wins.
    let mut old = node(1);
    old["started_at"] = "2026-01-01T00:00:00Z".into();
    scale(&mut old, "gpu0.sgemm.384x384x384", 0.5);
    let old_path = write(&runs, "old/node01.run.json", &old);
    // Two nodes gated against another profile.
    for i in 6..8 {
        let mut r = node(i);
        r["profile"]["name"] = "g2.2xlarge-rack7".into();
        write(&runs, &format!("node{i:02}/run.json"), &r);
    }
    let good = std::fs::read_to_string(runs.join("node00/run.json")).unwrap();
    std::fs::create_dir_all(runs.join("cut")).unwrap();
    std::fs::write(runs.join("cut/run.json"), &good[..good.len() / 2]).unwrap();
    std::fs::create_dir_all(runs.join("other-tool")).unwrap();
    std::fs::write(
        runs.join("other-tool/run.json"),
        r#"{"benchmark": "superbench", "ok": true}"#,
    )
    .unwrap();
    let expect = tmp.path().join("nodes.txt");
    let names: Vec<String> = (0..9).map(|i| format!("node{i:02}")).collect();
    std::fs::write(&expect, names.join("\n")).unwrap();
    let (o, dir) = fleet(
        &[&runs],
        &["--expect-nodes", expect.to_str().unwrap()],
        &tmp.path().join("out"),
    );
    let (out, err) = (stdout(&o), stderr(&o));
    // node08 is listed and sent nothing: a failure.
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("cut/run.json") && err.contains("truncated"),
        "{err}"
    );
    assert!(
        err.contains("other-tool/run.json") && err.contains("not a gpugate run.json"),
        "{err}"
    );
    assert!(out.contains("FAIL node08: no result"), "{out}");
    let f = read_json(&dir.join("fleet.json"));
    assert_eq!(f["missing"], serde_json::json!(["node08"]));
    assert_eq!(f["unreadable"].as_array().unwrap().len(), 2);
    let notes = f["notes"].to_string();
    assert!(notes.contains("node node01: 2 run.json files"), "{notes}");
    assert!(notes.contains(old_path.to_str().unwrap()), "{notes}");
    assert!(notes.contains("2 profiles"), "{notes}");
    let n1 = f["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["hostname"] == "node01")
        .unwrap();
    assert_eq!(n1["verdict"], "pass", "the newest run of node01 is merged");
    let groups: Vec<(&str, u64)> = f["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["profile"].as_str().unwrap(), g["nodes"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, [("g2.2xlarge", 6), ("g2.2xlarge-rack7", 2)]);
    // Without the node list, what could not be read keeps the fleet from passing.
    let (o, _) = fleet(&[&runs], &[], &tmp.path().join("out2"));
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
}

/// Nothing to merge is exit 2 with a message that says why and what to pass, and writes
/// nothing.
#[test]
fn fleet_of_nothing_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let foreign = tmp.path().join("bench.json");
    std::fs::write(&foreign, "[1, 2, 3]").unwrap();
    let missing = tmp.path().join("nowhere");
    for (arg, needle) in [
        (&empty, "no run.json in this directory"),
        (&foreign, "is not a gpugate run.json"),
        (&missing, "cannot read it"),
    ] {
        let out = tmp.path().join("out");
        let (o, _) = fleet(&[arg.as_path()], &[], &out);
        assert_eq!(o.status.code(), Some(2), "{arg:?}");
        let err = stderr(&o);
        assert!(
            err.contains("nothing to merge") && err.contains(needle),
            "{err}"
        );
        assert!(!out.exists(), "nothing is written");
    }
    let o = gpugate(&["fleet"]);
    assert_eq!(o.status.code(), Some(2));
}
