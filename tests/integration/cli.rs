//! The command line: exit codes, messages for bad input, and a whole run without a GPU.

use super::*;
use gpugate::model::{BackendKind, CheckKind, RunReport, Verdict, VerifyStatus};
use gpugate::workload::Precision;

#[test]
fn host_run_writes_a_full_report_and_fails_the_gpu_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = gpugate(&[
        "run",
        "--level",
        "quick",
        "--backend",
        "host",
        "--seed",
        "7",
        "--min-time",
        "0.05",
        "--timeout",
        "0.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    // auto wants at least one GPU; host results never count as GPU results.
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    let r: RunReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("latest/run.json")).unwrap())
            .unwrap();
    assert!(r.complete);
    assert_eq!(r.seed, 7);
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(!r.results.is_empty());
    for res in &r.results {
        assert_eq!(res.backend, BackendKind::Host);
        assert_eq!(
            res.verification.status,
            VerifyStatus::Passed,
            "{}: {:?}",
            res.id,
            res.verification
        );
        assert!(res.measurement.as_ref().unwrap().summary.n >= 3);
    }
    // every GEMM row names its implementation and math mode
    for res in r.results.iter().filter(|x| x.id.contains("gemm")) {
        assert!(!res.implementation.is_empty() && res.math_mode.is_some());
    }
    assert!(r
        .checks
        .iter()
        .any(|c| c.verdict == Verdict::Fail && c.kind == CheckKind::Inventory));
    let md = std::fs::read_to_string(out.join("latest/report.md")).unwrap();
    assert!(md.contains("FAIL"));
    let html = std::fs::read_to_string(out.join("latest/report.html")).unwrap();
    assert!(html.contains("gpugate: FAIL (exit 1)"));
    let junit = std::fs::read_to_string(out.join("latest/junit.xml")).unwrap();
    let suite = crate::junit::assert_matches_run(&junit, &r);
    assert!(matches!(
        suite.case("machine.gpu_count").unwrap().outcome,
        crate::junit::Outcome::Failure { .. }
    ));
    let console = stdout(&o);
    assert!(console.contains("exit 1"), "{console}");
    // progress went to stderr, one line per workload when not a terminal
    assert!(
        stderr(&o).contains(&format!("[{}/{}]", r.results.len(), r.results.len())),
        "{}",
        stderr(&o)
    );
}

#[test]
fn report_rerenders_a_saved_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = gpugate(&[
        "report",
        fixture("no-gpu-host-quick.run.json").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let saved: RunReport = serde_json::from_str(
        &std::fs::read_to_string(fixture("no-gpu-host-quick.run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(o.status.code(), Some(saved.exit_code), "{}", stderr(&o));
    let md = std::fs::read_to_string(dir.path().join("latest/report.md")).unwrap();
    assert!(md.contains(&saved.profile.name));
    let again: RunReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("latest/run.json")).unwrap())
            .unwrap();
    // The results are the run's; the checks are decided again (this schema 1 file recorded no
    // targets: auto is rebuilt from its GPUs, and the report says so).
    assert_eq!(
        again.results, saved.results,
        "re-rendering must not change the results"
    );
    assert_eq!(
        (again.verdict, again.exit_code),
        (saved.verdict, saved.exit_code)
    );
    assert!(again.checks.iter().any(|c| c.id == "run.complete"));
    assert!(
        again.notes.iter().any(|n| n.contains("checks recomputed")),
        "{:?}",
        again.notes
    );
}

fn assert_usage_error(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let e = stderr(o);
    assert!(
        e.contains(needle),
        "stderr does not mention {needle:?}:\n{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn unknown_profile_is_exit_2_and_lists_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    let o = gpugate(&[
        "run",
        "--profile",
        "g9.huge",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_usage_error(&o, "g9.huge");
    assert!(stderr(&o).contains("g2.large"));
}

#[test]
fn malformed_profile_is_exit_2_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "name = \"bad\"\ndescription = \"x\"\n[machine\ngpu_count = 1\n",
    )
    .unwrap();
    let o = gpugate(&[
        "run",
        "--profile",
        p.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_usage_error(&o, "bad.toml:3:");
}

#[test]
fn a_gpu_that_is_not_there_is_exit_2_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = gpugate(&["run", "--gpus", "97", "--out", out.to_str().unwrap()]);
    assert_usage_error(&o, "GPU 97");
    assert!(
        !out.exists(),
        "--out was created before the arguments were checked"
    );
    // The same for a profile that cannot be read.
    let o = gpugate(&[
        "run",
        "--profile",
        "g9.huge",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_usage_error(&o, "g9.huge");
    assert!(!out.exists());
}

/// Every error is said once, with the advice that fits it: an OS error once (not again as
/// the "cause"), "check the path" only where the path is the problem.
#[test]
fn profile_and_run_json_errors_are_one_message_with_the_right_advice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run =
        |profile: &str| gpugate(&["run", "--profile", profile, "--out", out.to_str().unwrap()]);
    let missing = dir.path().join("missing.toml");
    let o = run(missing.to_str().unwrap());
    assert_usage_error(&o, "Check the path");
    assert_eq!(
        stderr(&o).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"name = \"caf\xe9\"\n").unwrap();
    let o = run(latin1.to_str().unwrap());
    assert_usage_error(&o, "not UTF-8 text (invalid byte at offset 11)");
    assert!(!stderr(&o).contains("Check the path"), "{}", stderr(&o));

    let o = run("/dev/zero");
    assert_usage_error(&o, "larger than 1 MiB");
    assert!(!out.exists());

    let o = gpugate(&["report", "/dev/zero"]);
    assert_usage_error(&o, "larger than 256 MiB");
    let o = gpugate(&["report", missing.to_str().unwrap()]);
    assert_usage_error(&o, "Check the path");
    assert_eq!(
        stderr(&o).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unwritable_out_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = gpugate(&[
        "run",
        "--backend",
        "host",
        "--out",
        file.join("sub").to_str().unwrap(),
    ]);
    assert_usage_error(&o, "--out");
}

#[test]
fn report_refuses_truncated_foreign_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read_to_string(fixture("no-gpu-host-quick.run.json")).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    assert_usage_error(
        &gpugate(&["report", truncated.to_str().unwrap()]),
        "truncated",
    );
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"name": "not a run", "values": [1, 2, 3]}"#).unwrap();
    assert_usage_error(
        &gpugate(&["report", foreign.to_str().unwrap()]),
        "not a gpugate run.json",
    );
    let missing = dir.path().join("missing.json");
    assert_usage_error(
        &gpugate(&["report", missing.to_str().unwrap()]),
        "missing.json",
    );
}

#[test]
fn bad_arguments_are_exit_2() {
    assert_eq!(
        gpugate(&["run", "--level", "extreme"]).status.code(),
        Some(2)
    );
    assert_eq!(gpugate(&["frobnicate"]).status.code(), Some(2));
    // Sampling times: positive, at most an hour, the least within the timeout; nothing created.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (args, says) in [
        (vec!["--min-time", "0"], "0 s is out of range"),
        (vec!["--timeout", "-1"], "out of range"),
        (vec!["--min-time", "abc"], "not a number of seconds"),
        (vec!["--timeout", "7200"], "out of range"),
        (
            vec!["--min-time", "2"],
            "--min-time 2 s is longer than the timeout of 1 s (--level quick)",
        ),
        (
            vec!["--min-time", "0.5", "--timeout", "0.1"],
            "longer than the timeout of 0.1 s (--timeout)",
        ),
    ] {
        let mut all = vec!["run", "--level", "quick", "--backend", "host", "--out"];
        all.push(out.to_str().unwrap());
        all.extend(args.iter());
        let o = gpugate(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
}

#[test]
fn profiles_lists_and_shows_targets_with_sources() {
    let o = gpugate(&["profiles"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("g2.large") && stdout(&o).contains("g2.2xlarge"));
    let o = gpugate(&["profiles", "show", "g2.2xlarge"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("fp32_gemm") && s.contains("14"), "{s}");
    assert!(s.to_lowercase().contains("source"), "{s}");
}

#[test]
fn info_runs_without_a_gpu() {
    let o = gpugate(&["info"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("memory"));
    if no_gpu_here() {
        assert!(stdout(&o).contains("GPU unavailable"));
    }
    let o = gpugate(&["info", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["host"]["logical_cpus"].as_u64().unwrap() >= 1);
}

#[test]
fn selftest_without_a_gpu_fails_with_the_reason() {
    if !no_gpu_here() {
        return; // on a GPU machine, the ignored GPU tests cover selftest
    }
    let o = gpugate(&["selftest"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no GPU can be used"));
}

/// Whether the GPUs this process sees are gpugate-sim's (the ignored GPU tests then run at
/// small sizes, and a run must be allowed to pass on them).
fn simulated_gpus() -> bool {
    let inv = gpugate::probe::gpus();
    !inv.devices.is_empty() && inv.devices.iter().all(|d| d.simulated)
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_tests_on_the_simulator)"]
fn selftest_on_the_gpu_passes() {
    let mut args = vec!["selftest"];
    if simulated_gpus() {
        args.push("--no-large");
    }
    let o = gpugate(&args);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(" 0 failed"), "{}", stdout(&o));
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_tests_on_the_simulator)"]
fn quick_run_on_the_gpu_verifies_every_gpu_result() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = vec!["run", "--level", "quick", "--out", out.to_str().unwrap()];
    if simulated_gpus() {
        args.extend([
            // The simulator's samples are identical: the least sampling time a GPU needs is
            // only time here.
            "--min-time",
            "0.05",
            "--timeout",
            "0.5",
            "--gemm-sizes",
            "256",
            "--stream-mib",
            "2",
            "--video-sizes",
            "480x270,me=100x70",
            "--encode-frames",
            "30",
            "--allow-simulated",
        ]);
    }
    let o = Command::new(bin())
        .args(&args)
        .env("GPUGATE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .expect("gpugate runs");
    let r: RunReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("latest/run.json")).unwrap())
            .unwrap();
    assert!(r.complete, "{}", stderr(&o));
    assert!(!r.gpus.is_empty());
    assert!(
        !r.module_loads.is_empty(),
        "module load (JIT) times are recorded"
    );
    assert!(
        r.tuning.iter().all(|t| !t.entries.is_empty()),
        "GEMM variants were tuned"
    );
    let gpu: Vec<_> = r
        .results
        .iter()
        .filter(|w| w.backend == BackendKind::Cuda && w.role == gpugate::model::Role::Primary)
        .collect();
    assert!(!gpu.is_empty());
    // On a GPU with NVENC (the M40, real or simulated) the hardware encodes ran and verified.
    if r.gpus.iter().any(|g| g.nvenc.engines.unwrap_or(0) > 0) {
        assert!(
            gpu.iter()
                .any(|w| matches!(w.spec, gpugate::workload::WorkloadSpec::Encode { .. })),
            "no hardware encode result"
        );
    }
    for w in gpu {
        assert_eq!(w.error, None, "{}", w.id);
        assert_eq!(
            w.verification.status,
            VerifyStatus::Passed,
            "{}: {:?}",
            w.id,
            w.verification
        );
    }
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// The two ignored tests above, run by this test executable again under a simulated M40.
#[test]
fn gpu_tests_on_the_simulator() {
    if crate::sim::stand_down_for_the_real_gpu("gpu_tests_on_the_simulator") {
        return;
    }
    let exe = std::env::current_exe().expect("the test executable");
    let o = crate::sim::Sim::new(&["m40"])
        .command(
            &exe,
            &[
                "--ignored",
                "--exact",
                "cli::selftest_on_the_gpu_passes",
                "cli::quick_run_on_the_gpu_verifies_every_gpu_result",
            ],
        )
        .output()
        .expect("gpugate-sim runs");
    let text = format!("{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("test result: ok. 2 passed"), "{text}");
}

/// `gpugate selftest` on a simulated GPU of each architecture: every entry of every module the
/// device loads runs from the committed PTX and verifies (the default kernels at the self-test
/// shapes, then every GEMM variant at its own odd and tile-edge shapes).
fn selftest_on(model: &str) -> String {
    selftest_with(crate::sim::Sim::new(&[model]), model)
}

/// [`selftest_on`] on a given simulated machine (one GPU of `model`, e.g. on an older driver
/// whose JIT takes the same builds).
fn selftest_with(sim: crate::sim::Sim, model: &str) -> String {
    let t0 = std::time::Instant::now();
    let o = sim.gpugate(&["selftest", "--no-large", "--seed", "1"]);
    let out = stdout(&o);
    eprintln!(
        "selftest on {model} (driver {:?}): {:.1} s",
        sim.driver,
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{model} {:?}:\n{out}\n{}",
        sim.driver,
        stderr(&o)
    );
    assert!(out.contains(" 0 failed"), "{model}:\n{out}");
    // Every variant the architecture has ran, and no other.
    let cc = match model {
        "m40" => (5, 2),
        "a100" => (8, 0),
        _ => (9, 0),
    };
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        for k in gpugate::kernels::gemm_variants(p) {
            let line = format!(" {}\n", k.kernel.entry);
            assert_eq!(
                out.contains(&line),
                k.runs_on(cc),
                "{model}: {}:\n{out}",
                k.kernel.entry
            );
        }
    }
    out
}

#[test]
fn selftest_on_a_simulated_m40_runs_every_sm52_entry() {
    if crate::sim::stand_down_for_the_real_gpu("selftest_on_a_simulated_m40_runs_every_sm52_entry")
    {
        return;
    }
    let out = selftest_on("m40");
    assert!(
        !out.contains("dgemm_f64_tc_") && !out.contains("hgemm_f16_tc_"),
        "{out}"
    );
    assert!(!out.contains("_s4\n"), "{out}");
}

#[test]
fn selftest_on_a_simulated_a100_runs_the_cp_async_dmma_and_wmma_paths() {
    if crate::sim::stand_down_for_the_real_gpu(
        "selftest_on_a_simulated_a100_runs_the_cp_async_dmma_and_wmma_paths",
    ) {
        return;
    }
    let out = selftest_on("a100");
    for path in [
        "sgemm_f32_128x128x8_t8x8_s4",
        "dgemm_f64_tc_",
        "hgemm_f16_tc_",
    ] {
        assert!(out.contains(path), "{path}:\n{out}");
    }
}

/// Every kernel of the M40 on the drivers its fleets run, from the oldest gpugate supports, and
/// on its own, in the release binaries users build.
#[test]
fn selftest_on_a_simulated_m40_passes_on_r418_r450_r470_and_r525() {
    if crate::sim::stand_down_for_the_real_gpu(
        "selftest_on_a_simulated_m40_passes_on_r418_r450_r470_and_r525",
    ) {
        return;
    }
    // The release binaries, as the README tells users to build them: the simulator's old
    // drivers once failed to load only in that build. Each driver, and the model's own.
    for driver in ["418", "450", "470", "525"] {
        selftest_with(
            crate::sim::Sim::new(&["m40"]).driver(driver).release(),
            "m40",
        );
    }
    selftest_with(crate::sim::Sim::new(&["m40"]).release(), "m40");
}

/// R450 is the oldest driver whose JIT takes gemm's compute_80 build (PTX ISA 7.0): an A100 on
/// it runs its cp.async and DMMA paths. On R418 (ISA 6.4) it runs the compute_70 build instead,
/// and `gpugate info` says so before anything runs, naming R450 for the rest.
#[test]
fn a_simulated_a100_runs_its_sm80_paths_on_r450_and_the_compute_70_build_on_r418() {
    if crate::sim::stand_down_for_the_real_gpu(
        "a_simulated_a100_runs_its_sm80_paths_on_r450_and_the_compute_70_build_on_r418",
    ) {
        return;
    }
    let out = selftest_with(crate::sim::Sim::new(&["a100"]).driver("450"), "a100");
    for path in [
        "sgemm_f32_128x128x8_t8x8_s4",
        "dgemm_f64_tc_",
        "hgemm_f16_tc_",
    ] {
        assert!(out.contains(path), "{path}:\n{out}");
    }

    let r418 = crate::sim::Sim::new(&["a100"]).driver("418");
    let o = r418.gpugate(&["info"]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", stderr(&o));
    for want in [
        "driver CUDA 10.1, PTX ISA up to 6.4",
        "kernel module gemm: compute_70 build loads",
        "not compute_80",
        "R450+",
        "kernel module stream: compute_52 build loads",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    let o = r418.gpugate(&["info", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("info --json");
    let gemm = v["kernel_modules"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["module"] == "gemm"))
        .unwrap_or_else(|| panic!("no gemm module in {v}"));
    assert_eq!(gemm["target"], "compute_70", "{gemm}");
    assert_eq!(gemm["refused"], "compute_80", "{gemm}");
    assert_eq!(gemm["refused_min_driver"], "CUDA 11.0 (R450+)", "{gemm}");
}

#[test]
fn selftest_on_a_simulated_h100_runs_the_cp_async_dmma_and_wmma_paths() {
    if crate::sim::stand_down_for_the_real_gpu(
        "selftest_on_a_simulated_h100_runs_the_cp_async_dmma_and_wmma_paths",
    ) {
        return;
    }
    let out = selftest_on("h100");
    for path in [
        "dgemm_f64_128x64x8_t8x4_s3",
        "dgemm_f64_tc_",
        "hgemm_f16_tc_",
    ] {
        assert!(out.contains(path), "{path}:\n{out}");
    }
}

/// `gpugate info` on gpugate-sim: the M40's two NVENC engines (catalogue) with NVML's encoder
/// readings (idle: capacity 100 %, no sessions), and "no NVENC engine on this GPU" for the A100,
/// in the text and in --json.
#[test]
fn info_gives_each_simulated_gpu_its_nvenc_engines() {
    if crate::sim::stand_down_for_the_real_gpu("info_gives_each_simulated_gpu_its_nvenc_engines") {
        return;
    }
    let sim = crate::sim::Sim::new(&["m40", "a100"]);
    let o = sim.gpugate(&["info", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("info --json");
    let m40 = &v["gpus"][0]["nvenc"];
    assert_eq!(m40["engines"], 2, "{m40}");
    assert!(
        m40["source"].as_str().unwrap().contains("Support Matrix"),
        "{m40}"
    );
    assert_eq!(m40["nvml_encoder"], true, "{m40}");
    assert_eq!(m40["capacity_h264_percent"], 100, "{m40}");
    assert_eq!(m40["sessions"], 0, "{m40}");
    let a100 = &v["gpus"][1]["nvenc"];
    assert_eq!(a100["engines"], 0, "{a100}");
    assert_eq!(a100["nvml_encoder"], false, "{a100}");

    let o = sim.gpugate(&["info"]);
    let text = stdout(&o);
    assert!(
        text.contains("video encode: 2 NVENC engines (catalogue: Tesla M40 24GB"),
        "{text}"
    );
    assert!(
        text.contains("video encode NVML: H.264 capacity 100 %, utilisation 0 %, 0 sessions"),
        "{text}"
    );
    assert!(
        text.contains("video encode: no NVENC engine on this GPU (catalogue: NVIDIA A100"),
        "{text}"
    );
    // Without NVML (the no-nvml fault): the engines still come from the catalogue, and the
    // readings say why they are missing, never an error.
    let o = crate::sim::Sim::new(&["m40"])
        .fault("no-nvml")
        .gpugate(&["info", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("info --json");
    let m40 = &v["gpus"][0]["nvenc"];
    assert_eq!(m40["engines"], 2, "{m40}");
    assert!(m40["capacity_h264_percent"].is_null(), "{m40}");
    assert!(
        m40["nvml_note"]
            .as_str()
            .is_some_and(|n| n.starts_with("no encoder readings")),
        "{m40}"
    );
}

/// A full or closed stdout never panics (exit 101) and never decides a verdict: a command whose
/// product is stdout (profiles, info) exits 2 and says why on stderr; `report` writes its files
/// and keeps the verdict's exit code. (`print!` panicked on all three.)
#[test]
fn a_full_stdout_is_exit_2_or_the_verdict_never_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["profiles"][..],
        &["info", "--json"],
        &["profiles", "show", "g2.large"],
    ] {
        let o = Command::new(bin())
            .args(args)
            .stdout(full())
            .output()
            .expect("gpugate runs");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("could not write to standard output")
                && !stderr(&o).contains("panicked"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let run = fixture("no-gpu-host-quick.run.json");
    let stored: RunReport = serde_json::from_str(&std::fs::read_to_string(&run).unwrap()).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(bin())
        .args([
            "report",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(full())
        .output()
        .expect("gpugate runs");
    assert_eq!(o.status.code(), Some(stored.exit_code), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    for f in ["run.json", "report.md", "report.html", "junit.xml"] {
        assert!(out.join("latest").join(f).exists(), "{f} not written");
    }

    // A whole run with stdout and stderr both full: its verdict's exit code, its files written.
    let out = dir.path().join("run-out");
    let o = Command::new(bin())
        .args(host_run_args(&out))
        .stdout(full())
        .stderr(full())
        .status()
        .expect("gpugate runs");
    assert_eq!(
        o.code(),
        Some(1),
        "auto without a GPU fails its GPU count, nothing else"
    );
    let r: RunReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("latest/run.json")).unwrap())
            .unwrap();
    assert!(r.complete);

    // A pipe whose reader has gone (`gpugate info --json | true`): exit 2, no panic.
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is an open descriptor this test owns, handed over once.
    let write_end = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let o = Command::new(bin())
        .args(["info", "--json"])
        .stdout(write_end)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// `gpugate report` recomputes the checks, verdict and exit code; a stored one that disagrees
/// is a note in the report, never the exit code.
#[test]
fn report_decides_again_and_never_trusts_the_stored_verdict_or_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("no-gpu-g2.2xlarge-quick.run.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["verdict"], "fail");
    let cases = [
        // FAIL stored with exit 256: a u8 cast made it 0.
        ("fail", 256, 1),
        // PASS stored with exit 77, beside failing checks.
        ("pass", 77, 1),
        ("pass", 0, 1),
    ];
    for (verdict, code, want) in cases {
        v["verdict"] = verdict.into();
        v["exit_code"] = code.into();
        let p = dir.path().join(format!("{verdict}-{code}.json"));
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        let out = dir.path().join(format!("out-{verdict}-{code}"));
        let o = gpugate(&[
            "report",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(want),
            "{verdict} {code}: {}",
            stderr(&o)
        );
        let md = std::fs::read_to_string(out.join("latest/report.md")).unwrap();
        assert!(md.starts_with("# gpugate: FAIL (exit 1)"), "{md}");
        assert!(
            md.contains(&format!(
                "the run.json records verdict {} and exit code {code}",
                verdict.to_uppercase()
            )),
            "{verdict} {code}: the disagreement is a note:\n{md}"
        );
    }
}

/// Names behave the same everywhere: profiles (auto included), levels and backends in any case.
#[test]
fn names_are_case_insensitive_everywhere() {
    for name in ["AUTO", "auto", "G2.Large"] {
        let o = gpugate(&["profiles", "show", name]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    }
    assert!(stdout(&gpugate(&["profiles", "show", "Auto"]))
        .contains("auto (from the GPUs detected here)"));
    let dir = tempfile::tempdir().unwrap();
    let o = gpugate(&[
        "run",
        "--profile",
        "AUTO",
        "--level",
        "QUICK",
        "--backend",
        "Host",
        "--gpus",
        "97",
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    // Every name was taken; only the GPU that is not there is refused.
    assert_usage_error(&o, "--gpus names GPU 97");
}
