//! The `gpugate-sim` launcher: argument checking, the model list, the environment and library
//! directory it gives a command, exit codes, and a cudarc session through the real dynamic
//! loading path (this test binary re-run under the launcher).

mod driver_common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gpugate-sim");

fn sim(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run gpugate-sim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "gpugate-sim-launcher-{}-{name}",
        std::process::id()
    ))
}

#[test]
fn bad_faults_exit_2_with_the_reason_and_the_grammar() {
    for (spec, says) in [
        ("slow=1.5", "0 < F <= 1"),
        ("slow", "needs a value"),
        ("melt", "unknown fault 'melt'"),
        ("sdc=x@99", "0 to 63"),
        ("pcie=9,16", "generation"),
        ("oom-after=3XB", "suffix"),
        ("gpu=4:throttle", "1 GPU(s)"),
        ("gpu=0:no-nvml", "whole machine"),
        ("launch-fail-after=x", "whole number"),
        ("jitter=1", "0 < SIGMA <= 0.3"),
        ("timer=off", "timer=zero"),
        ("nvenc-engines=3", "has 2 NVENC engine(s)"),
        ("nvenc-fail=yes", "takes no value"),
    ] {
        let out = sim(&["--fault", spec, "--", "true"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(says), "{spec}: {err}");
        assert!(err.contains(&format!("'{spec}'")), "{spec}: {err}");
        assert!(err.contains("Faults (--fault SPEC"), "the grammar: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_arguments_exit_2_and_say_what_was_wrong() {
    for (args, says) in [
        (
            vec!["--model", "v100", "--", "true"],
            "unknown model 'v100'",
        ),
        (
            vec!["--model", "/no/such/model.toml", "--", "true"],
            "model.toml",
        ),
        (vec!["--threads", "0", "--", "true"], "--threads"),
        (
            vec!["--frobnicate", "--", "true"],
            "unknown option '--frobnicate'",
        ),
        (vec!["--model", "m40"], "missing `-- COMMAND`"),
        (vec![], "missing `-- COMMAND`"),
        (vec!["--model"], "--model needs a value"),
        (vec!["--no-racecheck=1", "--", "true"], "takes no value"),
        (
            vec!["--log", "/no/such/dir/log.jsonl", "--", "true"],
            "log file",
        ),
        (vec!["models", "v100"], "unknown model 'v100'"),
    ] {
        let out = sim(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A library that is not there.
    let out = Command::new(BIN)
        .env("GPUGATE_SIM_LIB", "/no/such/libgpugate_sim.so")
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("GPUGATE_SIM_LIB"));
}

#[test]
fn models_lists_the_built_in_models() {
    let out = sim(&["models"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    for (key, name) in [
        ("m40", "Tesla M40 24GB (gpugate-sim)"),
        ("a100", "NVIDIA A100-SXM4-40GB (gpugate-sim)"),
        ("h100", "NVIDIA H100 80GB HBM3 (gpugate-sim)"),
        ("h200", "NVIDIA H200 (gpugate-sim)"),
    ] {
        let line = s
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing: {s}"));
        assert!(line.contains(name), "{line}");
    }
    assert_eq!(s.lines().count(), 5, "a header and one line per model: {s}");
    // One model's TOML, to copy and edit.
    let out = sim(&["models", "h100"]);
    assert!(out.status.success());
    let toml = text(&out.stdout);
    gpugate_sim::model::parse(&toml, "h100").expect("a valid model file");
}

#[test]
fn help_documents_the_grammar() {
    let out = sim(&["--help"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    for want in [
        "Usage: gpugate-sim",
        "--model NAME|FILE",
        "slow=F",
        "sdc=SUBSTRING[@BIT]",
        "launch-fail-after=N",
        "oom-after=BYTES",
        "pcie=GEN,WIDTH",
        "old-driver",
        "no-nvml",
        "timer=zero",
        "jitter=SIGMA",
        "cublas-missing",
        "cublas-fail",
        "libcublas.so",
        "nvenc-fail",
        "nvenc-engines=N",
        "libnvidia-encode.so.1",
        "GPUGATE_SIM_STATE_DIR",
        "gpu=I:",
        "GPUGATE_SIM_MODELS",
    ] {
        assert!(s.contains(want), "{want} missing from --help");
    }
}

/// A model "file" that is a device or a directory is exit 2 at once: read without a bound,
/// `/dev/zero` never ended. (Waits at most 20 s, then kills it and fails.)
#[test]
fn a_model_that_is_not_a_regular_file_is_refused_at_once() {
    for path in ["/dev/zero", "/dev/null", "/"] {
        let mut child = Command::new(BIN)
            .args(["--model", path, "--", "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > std::time::Duration::from_secs(20) {
                let _ = child.kill();
                panic!("gpugate-sim --model {path} did not return in 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{path}: {err}");
        assert!(
            err.contains("not a regular file") && err.contains(path),
            "{path}: {err}"
        );
    }
}

/// The environment `env` printed, as pairs.
fn env_of(out: &Output) -> Vec<(String, String)> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// The library the launcher uses: the newer of the one beside it and the one in deps/.
fn library() -> PathBuf {
    let dir = Path::new(BIN).parent().unwrap();
    let newest = [
        dir.join("libgpugate_sim.so"),
        dir.join("deps/libgpugate_sim.so"),
    ]
    .into_iter()
    .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
    .max_by_key(|(t, _)| *t)
    .expect("the cdylib is built beside the launcher");
    std::fs::canonicalize(newest.1).unwrap()
}

#[test]
fn the_command_sees_the_library_directory_and_the_machine() {
    let model_file = tmp("mine.toml");
    std::fs::write(
        &model_file,
        gpugate_sim::model::builtin_text("m40").unwrap(),
    )
    .unwrap();
    let log = tmp("env.jsonl");
    let out = Command::new(BIN)
        .env("LD_LIBRARY_PATH", "/opt/elsewhere")
        .args([
            "--model",
            "m40",
            "--model",
            "H100",
            "--model",
            model_file.to_str().unwrap(),
            "--fault",
            "gpu=1:pcie=3,8",
            "--fault",
            "throttle",
            "--log",
            log.to_str().unwrap(),
            "--threads",
            "3",
            "--no-racecheck",
            "--",
            "env",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = env_of(&out);
    let path = get(&env, "LD_LIBRARY_PATH").unwrap();
    let (dir, rest) = path.split_once(':').unwrap();
    assert_eq!(rest, "/opt/elsewhere", "prepended, not replaced");
    let lib = library();
    // The machine's driver is its first GPU's (the M40's, CUDA 12.4), which lacks
    // cuEventElapsedTime_v2 (12.8): the names point at a copy of the library without it. Its
    // cuBLAS is the M40 model's, 12.x.
    assert!(dir.ends_with("-cuda12040-cublas12"), "{dir}");
    let copy = Path::new(dir).join("libgpugate_sim.so");
    assert_eq!(
        std::fs::metadata(&copy).unwrap().len(),
        std::fs::metadata(&lib).unwrap().len()
    );
    // One file under every name: the driver, NVML and the encoder share one machine.
    for name in [
        "libcuda.so",
        "libcuda.so.1",
        "libnvidia-ml.so.1",
        "libcublas.so",
        "libcublas.so.12",
        "libnvidia-encode.so.1",
        "libnvidia-encode.so",
    ] {
        let target = std::fs::read_link(Path::new(dir).join(name)).unwrap();
        assert_eq!(target, copy, "{name}");
    }
    let canon = std::fs::canonicalize(&model_file).unwrap();
    assert_eq!(
        get(&env, "GPUGATE_SIM_MODELS"),
        Some(format!("m40,h100,{}", canon.display()).as_str())
    );
    assert_eq!(
        get(&env, "GPUGATE_SIM_FAULTS"),
        Some("gpu=1:pcie=3,8;throttle")
    );
    assert_eq!(
        get(&env, "GPUGATE_SIM_LOG"),
        Some(std::fs::canonicalize(&log).unwrap().to_str().unwrap())
    );
    assert_eq!(get(&env, "GPUGATE_SIM_THREADS"), Some("3"));
    assert_eq!(get(&env, "GPUGATE_SIM_RACECHECK"), Some("0"));
    // The directory is reused.
    let again = sim(&["--", "env"]);
    let env2 = env_of(&again);
    assert_eq!(
        get(&env2, "LD_LIBRARY_PATH").unwrap().split(':').next(),
        Some(dir)
    );
    assert_eq!(
        get(&env2, "GPUGATE_SIM_MODELS"),
        Some(""),
        "default: one m40"
    );
    let _ = std::fs::remove_file(model_file);
    let _ = std::fs::remove_file(log);
}

/// Each launch is a machine with a state directory of its own (where its processes share the
/// NVENC engines), named by the command's process id; the directories of machines whose
/// process is gone are removed by the next launch.
#[test]
fn each_launch_gets_a_machine_state_directory_and_stale_ones_go() {
    let out = sim(&[
        "--",
        "sh",
        "-c",
        "echo $GPUGATE_SIM_STATE_DIR; echo $$; test -d $GPUGATE_SIM_STATE_DIR",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let state = PathBuf::from(lines.next().unwrap());
    let pid = lines.next().unwrap();
    assert_eq!(
        state.file_name().unwrap().to_str().unwrap(),
        format!("machine-{pid}"),
        "named by the command's process id (the launcher execs it)"
    );
    let lib_dir = state.parent().unwrap().to_path_buf();
    assert!(
        lib_dir.join("libcuda.so.1").exists(),
        "{}",
        lib_dir.display()
    );
    // A machine whose process has exited: its directory goes at the next launch.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = lib_dir.join(format!("machine-{dead}"));
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("nvenc-gpu0"), "left over").unwrap();
    let again = sim(&["--", "true"]);
    assert!(again.status.success());
    assert!(!stale.exists(), "{} is left over", stale.display());
    assert!(!state.exists(), "the first launch's machine has ended too");
}

#[test]
fn no_nvml_leaves_libnvidia_ml_out() {
    let out = sim(&["--fault", "no-nvml", "--", "env"]);
    assert!(out.status.success());
    let env = env_of(&out);
    let dir = get(&env, "LD_LIBRARY_PATH")
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(names.contains(&"libcuda.so.1".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("libnvidia-ml")),
        "{names:?}"
    );
    assert_eq!(get(&env, "GPUGATE_SIM_FAULTS"), Some("no-nvml"));
}

/// The names in the library directory a run gets.
fn library_names_of(out: &Output) -> Vec<String> {
    let env = env_of(out);
    let dir = get(&env, "LD_LIBRARY_PATH")
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// cuBLAS is offered under its major version's name, and left out under `cublas-missing`; a
/// machine whose cuBLAS is 13 (a model file) names libcublas.so.13.
#[test]
fn cublas_names_follow_the_machines_cublas_and_cublas_missing_leaves_them_out() {
    let out = sim(&["--fault", "cublas-missing", "--", "env"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names = library_names_of(&out);
    assert!(names.contains(&"libcuda.so.1".to_string()), "{names:?}");
    assert!(
        names.contains(&"libnvidia-ml.so.1".to_string()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("libcublas")),
        "{names:?}"
    );
    let with = library_names_of(&sim(&["--", "env"]));
    assert!(
        with.contains(&"libcublas.so".to_string()) && with.contains(&"libcublas.so.12".to_string()),
        "{with:?}"
    );
    let model_file = tmp("cublas13.toml");
    std::fs::write(
        &model_file,
        gpugate_sim::model::builtin_text("h100")
            .unwrap()
            .replace("version = \"12.8.4\"", "version = \"13.0.2\""),
    )
    .unwrap();
    let out = sim(&["--model", model_file.to_str().unwrap(), "--", "env"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names = library_names_of(&out);
    assert!(names.contains(&"libcublas.so.13".to_string()), "{names:?}");
    // cuBLAS 13 has no Maxwell support: an M40 behind it is refused before anything runs.
    let out = sim(&[
        "--model",
        model_file.to_str().unwrap(),
        "--model",
        "m40",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("GPU 1 is sm_52"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_file(model_file);
}

/// Runs in a child under the launcher (GPUGATE_SIM_DLOPEN=1): the driver, NVML and cuBLAS
/// names load with every symbol bound at once (RTLD_NOW). A no-op otherwise.
#[test]
fn helper_dlopen_now() {
    if std::env::var_os("GPUGATE_SIM_DLOPEN").is_none() {
        return;
    }
    for name in [c"libcuda.so.1", c"libnvidia-ml.so.1", c"libcublas.so.12"] {
        // SAFETY: dlopen with a NUL-terminated name; dlerror's text is read at once.
        unsafe {
            let h = libc::dlopen(name.as_ptr(), libc::RTLD_NOW);
            assert!(
                !h.is_null(),
                "{name:?}: {}",
                std::ffi::CStr::from_ptr(libc::dlerror()).to_string_lossy()
            );
        }
    }
    println!("dlopen ok");
}

/// The launcher can withhold any entry point for an old driver without breaking the library:
/// on R375, which lacks the most, the library it hands out loads with RTLD_NOW. (The release
/// build once referred to nvmlDeviceGetCurrentClocksEventReasons from its older twin by name,
/// and every `--driver` before R535 then failed to load: "no NVIDIA driver found".)
#[test]
fn an_old_driver_hides_entry_points_without_breaking_the_library() {
    assert!(!gpugate_sim::driver_releases::missing_entry_points(8000).is_empty());
    let me = std::env::current_exe().unwrap();
    let out = Command::new(BIN)
        .env("GPUGATE_SIM_DLOPEN", "1")
        .args(["--driver", "375", "--"])
        .arg(me)
        .args(["--exact", "helper_dlopen_now", "--nocapture"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("dlopen ok"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
}

#[test]
fn exit_codes_and_signals_pass_through() {
    assert_eq!(sim(&["--", "sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(
        sim(&["sh", "-c", "exit 3"]).status.code(),
        Some(3),
        "without --"
    );
    let out = sim(&["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(
        out.status.signal(),
        Some(15),
        "the command replaced the launcher"
    );
    let out = sim(&["--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("cannot run"));
}

/// Runs in a child process under the launcher (GPUGATE_SIM_HELPER=1): cudarc finds the
/// simulated driver by name on LD_LIBRARY_PATH, as gpugate does. A no-op otherwise.
#[test]
fn helper_cudarc_session() {
    if std::env::var_os("GPUGATE_SIM_HELPER").is_none() {
        return;
    }
    use cudarc::driver::{result, sys, CudaContext};
    // SAFETY: only probes the library by name.
    assert!(unsafe { sys::is_culib_present() });
    assert_eq!(CudaContext::device_count().unwrap(), 2);
    let ctx = CudaContext::new(1).unwrap();
    assert_eq!(ctx.name().unwrap(), "NVIDIA H100 80GB HBM3 (gpugate-sim)");
    assert_eq!(ctx.compute_capability().unwrap(), (9, 0));
    assert!(ctx.has_async_alloc(), "memory pools are supported");
    let (free, total) = ctx.mem_get_info().unwrap();
    assert!(free < total);
    let stream = ctx.new_stream().unwrap();
    let data: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
    let start = ctx
        .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
        .unwrap();
    let stop = ctx
        .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
        .unwrap();
    start.record(&stream).unwrap();
    let d = stream.clone_htod(&data).unwrap();
    stop.record(&stream).unwrap();
    let ms = start.elapsed_ms(&stop).unwrap();
    assert!(ms > 0.0, "{ms}");
    assert_eq!(stream.clone_dtoh(&d).unwrap(), data);
    // Pinned memory through cudarc.
    // SAFETY: written before it is read.
    let mut pinned = unsafe { ctx.alloc_pinned::<f32>(1000) }.unwrap();
    stream.memcpy_dtoh(&d, &mut pinned).unwrap();
    assert_eq!(pinned.as_slice().unwrap(), &data[..]);
    // A module.
    let image = std::ffi::CString::new(driver_common::ADD_ONE_PTX).unwrap();
    // SAFETY: NUL-terminated PTX; the context is current.
    let m =
        unsafe { result::module::load_data(image.as_ptr() as *const std::ffi::c_void) }.unwrap();
    // SAFETY: the module is loaded in the current context.
    unsafe { result::module::get_function(m, std::ffi::CString::new("add_one").unwrap()) }.unwrap();
    // NVML is the same library under its own name.
    // SAFETY: dlopen/dlsym with NUL-terminated names; the symbols have the NVML signatures.
    unsafe {
        let h = libc::dlopen(c"libnvidia-ml.so.1".as_ptr(), libc::RTLD_NOW);
        assert!(!h.is_null(), "libnvidia-ml.so.1 is on the library path");
        let init: extern "C" fn() -> i32 =
            std::mem::transmute(libc::dlsym(h, c"nvmlInit_v2".as_ptr()));
        let count: extern "C" fn(*mut u32) -> i32 =
            std::mem::transmute(libc::dlsym(h, c"nvmlDeviceGetCount_v2".as_ptr()));
        assert_eq!(init(), 0);
        let mut n = 0;
        assert_eq!(count(&mut n), 0);
        assert_eq!(n, 2);
        // cuBLAS too: dlopen by its name hands back the object already mapped.
        let cuda = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_NOW);
        let cublas = libc::dlopen(c"libcublas.so.12".as_ptr(), libc::RTLD_NOW);
        assert!(!cublas.is_null(), "libcublas.so.12 is on the library path");
        assert_eq!(cuda, cublas, "one object under every name");
    }
    // cudarc's cuBLAS (the safe layer: a handle on this stream, SGEMM on this context's
    // memory) through the same dynamic loading path as gpugate's peer.
    {
        use cudarc::cublas::{sys as bsys, CudaBlas, Gemm, GemmConfig};
        // SAFETY: only probes the library by name.
        assert!(unsafe { bsys::is_culib_present() });
        let blas = CudaBlas::new(stream.clone()).unwrap();
        let a = stream.clone_htod(&[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let b = stream.clone_htod(&[0.0f32, 1.0, 1.0, 0.0]).unwrap();
        let mut c = stream.alloc_zeros::<f32>(4).unwrap();
        let cfg = GemmConfig {
            transa: bsys::cublasOperation_t::CUBLAS_OP_N,
            transb: bsys::cublasOperation_t::CUBLAS_OP_N,
            m: 2,
            n: 2,
            k: 2,
            alpha: 1.0f32,
            lda: 2,
            ldb: 2,
            beta: 0.0f32,
            ldc: 2,
        };
        // SAFETY: 2×2 operands of the sizes the configuration gives.
        unsafe { blas.gemm(cfg, &a, &b, &mut c) }.unwrap();
        // Column-major A·[[0,1],[1,0]] swaps A's columns.
        assert_eq!(stream.clone_dtoh(&c).unwrap(), [3.0, 4.0, 1.0, 2.0]);
    }
    println!("helper ok: {ms} ms");
}

#[test]
fn cudarc_runs_on_the_simulated_driver() {
    let log = tmp("cudarc.jsonl");
    let me = std::env::current_exe().unwrap();
    let out = Command::new(BIN)
        .env("GPUGATE_SIM_HELPER", "1")
        // cudarc built for CUDA 13 times events with cuEventElapsedTime_v2, which drivers
        // have from R570 (CUDA 12.8) on: an M40 machine on R570.
        .args([
            "--model", "m40", "--model", "h100", "--driver", "570", "--log",
        ])
        .arg(&log)
        .arg("--")
        .arg(me)
        .args([
            "--exact",
            "helper_cudarc_session",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("helper ok"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let recs = driver_common::log_records(&log);
    let h2d = recs
        .iter()
        .find(|r| r["event"] == "copy" && r["kind"] == "htod")
        .expect("the upload is logged");
    assert_eq!(h2d["bytes"], 4000);
    assert_eq!(h2d["gpu"], 1);
    assert!(recs
        .iter()
        .any(|r| r["event"] == "module_load" && r["entries"][0] == "add_one"));
    let gemm = recs
        .iter()
        .find(|r| r["event"] == "cublas")
        .expect("the cuBLAS GEMM is logged");
    assert_eq!(
        (gemm["gpu"].as_u64(), gemm["call"].as_str()),
        (Some(1), Some("cublasSgemm_v2"))
    );
    let _ = std::fs::remove_file(log);
}
