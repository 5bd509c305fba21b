//! The fleet merge at scale, with a generator of realistic run.json files.
//!
//! ```sh
//! cargo bench --bench fleet                                  # 1,000 nodes in a temporary directory: generate, merge, render
//! cargo bench --bench fleet -- generate DIR 10000            # write 10,000 nodes' run.json under DIR
//! /usr/bin/time -v target/release/gpugate fleet DIR --out OUT   # then measure the merge itself
//! ```
//!
//! Each node is the committed two-GPU run (tests/fixtures/fleet/, a simulated G2.2xlarge, so
//! every node of the generated fleet is marked simulated) with its own hostname, GPU UUIDs and
//! start time, every GPU a little faster or slower (±1 %, and every sample ±0.3 % around it);
//! one node in 200 has a GPU 8 % slow at FP32 GEMM (passing), one in 500 a GPU whose FP64
//! GEMM is at half speed (failing its profile), and one in 1,000 sent a second, older file.
//! Written pretty-printed, as gpugate writes run.json (about 310 kB a node). Generated from a
//! seed: the same arguments give the same files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fleet/sim-m40x2-g2.2xlarge-quick.schema3.run.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("fixture parses")
}

/// Result `w` as measured by a GPU `speed` times as fast, each sample with its own noise.
fn rescale(w: &mut Value, speed: f64, rng: &mut ChaCha8Rng) {
    let m = &mut w["measurement"];
    let Some(samples) = m["samples"].as_array() else {
        return;
    };
    let old: Vec<f64> = samples.iter().filter_map(Value::as_f64).collect();
    if old.is_empty() {
        return;
    }
    let new: Vec<f64> = old
        .iter()
        .map(|t| t / speed * (1.0 + rng.gen_range(-0.003..0.003)))
        .collect();
    let mut sorted = new.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let mean = new.iter().sum::<f64>() / n as f64;
    let sd = (new.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let old_s = m["summary"].clone();
    let ratio = |k: &str, t: f64| old_s[k].as_f64().map_or(1.0, |o| o / t);
    for (k, t) in [
        ("median", median),
        ("best", sorted[0]),
        ("worst", sorted[n - 1]),
    ] {
        let key = match k {
            "best" => "min",
            "worst" => "max",
            other => other,
        };
        if let Some(v) = m["throughput"][k].as_f64() {
            m["throughput"][k] = (v * ratio(key, t)).into();
        }
    }
    m["samples"] = new.into();
    for (k, v) in [
        ("median", median),
        ("mean", mean),
        ("min", sorted[0]),
        ("max", sorted[n - 1]),
        ("stddev", sd),
        ("rel_stddev", sd / mean),
    ] {
        m["summary"][k] = v.into();
    }
}

/// Node `i` of the generated fleet.
fn node(base: &Value, i: usize, rng: &mut ChaCha8Rng) -> Value {
    let mut r = base.clone();
    let host = format!("gpu-node-{i:05}");
    r["host"]["hostname"] = host.clone().into();
    r["started_at"] = format!(
        "2026-12-07T{:02}:{:02}:{:02}Z",
        6 + i / 3600 % 12,
        i / 60 % 60,
        i % 60
    )
    .into();
    for g in r["gpus"].as_array_mut().expect("gpus") {
        let idx = g["index"].as_u64().unwrap_or(0);
        g["uuid"] = format!("GPU-{:08x}-{idx:04x}-4000-8000-{i:012x}", 0x6d34_3000 + i).into();
    }
    let speed: Vec<f64> = (0..2).map(|_| 1.0 + rng.gen_range(-0.01..0.01)).collect();
    for w in r["results"].as_array_mut().expect("results") {
        if w["backend"] != "cuda" || w["measurement"].is_null() {
            continue;
        }
        let gpu = w["device"].as_u64().unwrap_or(0) as usize;
        let id = w["id"].as_str().unwrap_or("").to_string();
        let mut s = speed[gpu.min(1)];
        if i % 200 == 17 && id == "gpu1.sgemm.384x384x384" {
            s *= 0.92;
        }
        if i % 500 == 123 && id == "gpu0.dgemm.384x384x384" {
            s *= 0.5;
        }
        rescale(w, s, rng);
    }
    r
}

/// Writes `n` nodes under `dir` (`gpu-node-NNNNN/run.json`, and `gpu-node-NNNNN/old.run.json`
/// for the duplicates).
fn generate(dir: &Path, n: usize) -> usize {
    let base = fixture();
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut files = 0;
    for i in 0..n {
        let r = node(&base, i, &mut rng);
        let d = dir.join(format!("gpu-node-{i:05}"));
        std::fs::create_dir_all(&d).expect("create node directory");
        std::fs::write(
            d.join("run.json"),
            serde_json::to_vec_pretty(&r).expect("json"),
        )
        .expect("write");
        files += 1;
        if i % 1000 == 500 {
            let mut old = r.clone();
            old["started_at"] = "2026-12-01T00:00:00Z".into();
            std::fs::write(
                d.join("old.run.json"),
                serde_json::to_vec_pretty(&old).expect("json"),
            )
            .expect("write");
            files += 1;
        }
    }
    files
}

/// Generates `n` nodes in a temporary directory and times the merge and the rendering.
fn bench(n: usize) {
    let tmp = std::env::temp_dir().join(format!("gpugate-fleet-bench-{}", std::process::id()));
    let t = Instant::now();
    let files = generate(&tmp, n);
    println!(
        "generated {files} run.json files for {n} nodes in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let f = gpugate::fleet::merge_fleet(&gpugate::fleet::FleetOptions {
        inputs: vec![tmp.clone()],
        expect_nodes: None,
        threshold: gpugate::fleet::DEFAULT_THRESHOLD,
    })
    .expect("merge");
    let merged = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let out = gpugate::report::fleet::render_all(&f);
    let rendered = t.elapsed().as_secs_f64();
    let html = out
        .iter()
        .find(|(n, _)| n == "report.html")
        .map_or(0, |x| x.1.len());
    println!(
        "fleet_merge/{n} nodes: merged in {merged:.2} s, rendered in {rendered:.2} s \
         (report.html {:.1} MB); verdict {}, {} slow outliers, {} failing nodes",
        html as f64 / 1e6,
        f.verdict,
        f.slow_outliers().len(),
        f.nodes
            .iter()
            .filter(|n| n.verdict == gpugate::model::Verdict::Fail)
            .count()
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [cmd, dir, n] if cmd == "generate" => {
            let n: usize = n.parse().expect("a number of nodes");
            let files = generate(&PathBuf::from(dir), n);
            println!("wrote {files} run.json files for {n} nodes under {dir}");
        }
        [] => bench(1000),
        // `cargo bench` passes a filter; run the bench unless it names another one.
        [filter] if "fleet_merge".contains(filter.as_str()) => bench(1000),
        _ => {}
    }
}
