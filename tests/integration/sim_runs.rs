//! End-to-end runs of the gpugate binary on gpugate-sim: a healthy simulated M40 machine passes
//! its profile, hardware encode included (Debian's ffmpeg drives the simulator's NVENC exactly
//! as on a real machine), and each fault the simulator can inject gives the verdict, exit code
//! and failed checks an operator must see.
//!
//! The runs are small (`--level quick --gemm-sizes 384 --stream-mib 2`: 384 is a multiple of every
//! SGEMM tile, where a healthy M40 reaches its FP32 pass line) and use a copy of the G2
//! profile whose host block is this machine's (the GPU targets are untouched): the host checks
//! are about the machine the tests run on, which is not a G2.
//!
//! Hardware encode runs at 1080p as on a real machine, and its rate is wall-clock time: the
//! simulated engines give 540 frames per second per M40, but feeding them takes this machine's
//! CPU (ffmpeg reads and copies 3 MB per frame): about 1.4 cores at 540 fps, 0.8 at the 324 fps
//! pass line. So the runs whose encode rate is judged ([`Encode::Gated`]) run alone among these
//! tests (a lock), and the others encode few frames with no target ([`Encode::Reported`]).

use std::path::{Path, PathBuf};

use gpugate::model::{RunReport, Verdict};

use crate::sim::Sim;
use crate::{stderr, stdout};

/// A copy of the built-in profile `name` whose host vCPUs, memory and disk are this machine's,
/// written into `dir`, without its nvenc_h264 targets: for the runs that are not about the
/// hardware encoder, whose encode rate depends on this machine's free CPU (see the module
/// documentation). Every other GPU line and target stays as shipped
/// ([`host_fit_profile_with_nvenc`] keeps those too).
fn host_fit_profile(name: &str, dir: &Path) -> PathBuf {
    let path = host_fit_profile_with_nvenc(name, dir);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for block in text.split("\n[[target]]\n") {
        if out.is_empty() {
            out.push_str(block);
        } else if !block.contains("metric = \"nvenc_h264\"") {
            out.push_str("\n[[target]]\n");
            out.push_str(block);
        }
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// [`host_fit_profile`] with the nvenc_h264 targets kept.
fn host_fit_profile_with_nvenc(name: &str, dir: &Path) -> PathBuf {
    let src = std::fs::read_to_string(format!("profiles/{name}.toml"))
        .or_else(|_| {
            std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("profiles/{name}.toml")),
            )
        })
        .expect("profile readable");
    let h = gpugate::probe::host();
    let mut out = String::new();
    for line in src.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        let line = match key {
            "host_vcpus" => format!("host_vcpus = {}", h.logical_cpus),
            "host_memory_gb" => format!("host_memory_gb = {:.3}", h.memory_bytes as f64 / 1e9),
            "local_disk_gb" => format!("local_disk_gb = {:.3}", h.local_disk_bytes as f64 / 1e9),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join(format!("{name}.host-fit.toml"));
    std::fs::write(&path, out).unwrap();
    path
}

/// One tuning cache for every run of this test binary: the simulated GPUs of a model have the
/// same UUIDs in every run, so the GEMM variants are timed once (a fault that changes the
/// driver version or breaks a variant tunes again, as on a real machine).
fn tuning_cache() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
        .path()
        .to_path_buf()
}

/// What one simulated run left behind.
struct SimRun {
    code: Option<i32>,
    report: RunReport,
    stdout: String,
    stderr: String,
    /// The simulator's log, when the machine kept one.
    log: Option<PathBuf>,
}

impl SimRun {
    fn verdict(&self, id: &str) -> Option<Verdict> {
        self.report
            .checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.verdict)
    }

    fn check_reason(&self, id: &str) -> String {
        self.report
            .checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.reason.clone())
            .unwrap_or_default()
    }

    fn describe(&self) -> String {
        let checks: Vec<String> = self
            .report
            .checks
            .iter()
            .map(|c| format!("{} {} ({})", c.id, c.verdict, c.reason))
            .collect();
        format!(
            "exit {:?}\nchecks:\n  {}\nnotes: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            checks.join("\n  "),
            self.report.notes,
            self.stdout,
            self.stderr
        )
    }
}

/// How a run treats the hardware encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encode {
    /// The profile's nvenc_h264 targets stripped; [`REPORTED_FRAMES`] per session (the encode
    /// runs wherever the catalogue lists engines, and is reported).
    Reported,
    /// The targets kept, [`GATED_FRAMES`] per session, and no other run of these tests at the
    /// same time (the rate needs this machine's CPU).
    Gated,
}

/// Frames per encode session where nothing judges the rate.
const REPORTED_FRAMES: &str = "30";
/// Frames per encode session where the rate is judged: four sessions at 135 fps each encode
/// for about 1.1 s, so ffmpeg's progress reports give a steady rate over most of it.
const GATED_FRAMES: usize = 150;

/// The lock that lets a [`Encode::Gated`] run have this machine's CPU to itself among these
/// tests (the others take it shared).
fn encode_lock() -> &'static std::sync::RwLock<()> {
    static LOCK: std::sync::RwLock<()> = std::sync::RwLock::new(());
    &LOCK
}

/// gpugate run on `sim` against the host-fit copy of `profile`, small sizes, with `extra`
/// arguments; hardware encode reported, not gated.
fn sim_run(sim: &Sim, profile: &str, extra: &[&str]) -> SimRun {
    sim_run_with(sim, profile, extra, Encode::Reported)
}

/// [`sim_run`], with the hardware encode as `encode` says.
fn sim_run_with(sim: &Sim, profile: &str, extra: &[&str], encode: Encode) -> SimRun {
    let dir = tempfile::tempdir().unwrap();
    let (profile, frames) = match encode {
        Encode::Gated => (
            host_fit_profile_with_nvenc(profile, dir.path()),
            GATED_FRAMES.to_string(),
        ),
        Encode::Reported => (
            host_fit_profile(profile, dir.path()),
            REPORTED_FRAMES.to_string(),
        ),
    };
    let out = dir.path().join("out");
    let mut args = vec![
        "run",
        "--backend",
        "cuda",
        "--level",
        "quick",
        "--gemm-sizes",
        "384",
        "--stream-mib",
        "2",
        // Frames whose work outlasts the 4 µs launch interval of the simulated M40 even at one
        // frame per sample; motion estimation (≈100× the work per pixel) on a smaller one.
        "--video-sizes",
        "480x270,me=100x70",
        "--encode-frames",
        &frames,
        "--seed",
        "7",
        "--profile",
        profile.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let lock = encode_lock();
    let _alone = (encode == Encode::Gated).then(|| lock.write().unwrap_or_else(|p| p.into_inner()));
    let _shared =
        (encode == Encode::Reported).then(|| lock.read().unwrap_or_else(|p| p.into_inner()));
    let o = sim
        .command(&crate::bin(), &args)
        .env("GPUGATE_CACHE_DIR", tuning_cache())
        .output()
        .expect("gpugate-sim runs");
    let json = std::fs::read_to_string(out.join("latest/run.json")).unwrap_or_else(|e| {
        panic!(
            "no run.json ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        )
    });
    SimRun {
        code: o.status.code(),
        report: serde_json::from_str(&json).expect("run.json parses"),
        stdout: stdout(&o),
        stderr: stderr(&o),
        log: sim.log.clone(),
    }
}

/// The checks a G2 profile makes of one GPU.
const GPU_CHECKS: &[&str] = &[
    "model",
    "memory",
    "pcie_gen",
    "pcie_width",
    "fp32_gemm",
    "fp64_gemm",
    "stream_triad",
    "h2d",
    "d2h",
    "video_nv12",
    "video_scale",
    "video_me",
    "video_dct",
];

fn assert_all_pass(r: &SimRun) {
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert!(!r.report.checks.is_empty());
    for c in &r.report.checks {
        if encode_reported(c) {
            continue;
        }
        assert_eq!(c.verdict, Verdict::Pass, "{}: {}", c.id, r.describe());
    }
}

/// The hardware encode check of a profile copy without nvenc_h264 targets: the simulated M40
/// has NVENC engines (catalogue), so the encode runs; without a target it is reported
/// (SKIPPED), never gated.
fn encode_reported(c: &gpugate::model::Check) -> bool {
    c.id.ends_with(".nvenc_h264") && c.verdict == Verdict::Skipped
}

/// Whether a result is a hardware encode run.
fn is_encode(w: &gpugate::model::WorkloadResult) -> bool {
    matches!(w.spec, gpugate::workload::WorkloadSpec::Encode { .. })
}

/// The video targets' integer bound assumes gpugate's kernels execute
/// `kernel_int_instructions_per_op` integer instructions per operation `video_work` counts:
/// re-measured here from the simulator's launch log (every launch of a stage: its integer
/// instructions over its frames × the counted operations per frame), within 5 %.
fn video_kernels_execute_what_the_targets_assume(log: &Path) {
    use gpugate::workload::video::{kernel_int_instructions_per_op, video_work};
    use gpugate::workload::VideoStage;
    let text = std::fs::read_to_string(log).unwrap();
    for (stage, (w, h)) in [
        (VideoStage::Nv12, (480, 270)),
        (VideoStage::Scale, (480, 270)),
        (VideoStage::Me, (100, 70)),
        (VideoStage::Dct, (480, 270)),
    ] {
        let entry = gpugate::kernels::video_kernel(stage).entry;
        let (mut int_ops, mut frames) = (0.0, 0.0);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["event"] == "launch" && v["kernel"] == entry && v["error"].is_null() {
                int_ops += v["stats"]["int_ops"].as_f64().unwrap();
                frames += v["grid"][2].as_f64().unwrap();
            }
        }
        assert!(frames > 0.0, "no launch of {entry} in the log");
        let measured = int_ops / (frames * video_work(stage, w, h).int_ops);
        let assumed = kernel_int_instructions_per_op(stage);
        assert!(
            (measured / assumed - 1.0).abs() < 0.05,
            "{entry}: the kernel executes {measured:.3} integer instructions per counted \
             operation, the targets assume {assumed}: update kernel_int_instructions_per_op and \
             the G2 profiles' video targets"
        );
    }
}

/// Every GPU result sampled by NVML records its samples as a trace (`telemetry_trace`): as many
/// points as the summary counts, time-ordered from the start of the run (so one workload's
/// points follow the previous one's), with the summary's hottest temperature and lowest SM
/// clock. At least one result has a non-empty trace.
fn traces_agree_with_summaries(report: &RunReport) -> Result<(), String> {
    let mut last_at = 0.0;
    let mut traced = 0;
    for w in report.results.iter().filter(|w| w.device == Some(0)) {
        let Some(t) = &w.telemetry else {
            if !w.telemetry_trace.is_empty() {
                return Err(format!("{}: a trace without a summary", w.id));
            }
            continue;
        };
        let trace = &w.telemetry_trace;
        if trace.len() != t.samples || trace.is_empty() {
            return Err(format!(
                "{}: {} points, {} samples",
                w.id,
                trace.len(),
                t.samples
            ));
        }
        traced += 1;
        for p in trace {
            if p.at_s < last_at {
                return Err(format!("{}: at {} s after {last_at} s", w.id, p.at_s));
            }
            last_at = p.at_s;
        }
        let hottest = trace.iter().filter_map(|p| p.sample.temperature_c).max();
        let slowest = trace.iter().filter_map(|p| p.sample.sm_clock_mhz).min();
        if (hottest, slowest) != (t.temperature_c_max, t.sm_clock_mhz_min) {
            return Err(format!(
                "{}: trace max {hottest:?} °C, min {slowest:?} MHz; summary {:?} °C, {:?} MHz",
                w.id, t.temperature_c_max, t.sm_clock_mhz_min
            ));
        }
    }
    if traced == 0 {
        return Err("no result has a telemetry trace".into());
    }
    Ok(())
}

/// The modelled encode rate of one M40 (sim/models/m40.toml): 270 1080p fps per engine, two
/// engines.
const M40_ENGINE_FPS: f64 = 270.0;

/// The hardware encode results of GPU `gpu` in `r`: (sessions, fps median) of each.
fn encode_rates(r: &SimRun, gpu: u32) -> Vec<(usize, f64)> {
    r.report
        .results
        .iter()
        .filter(|w| w.device == Some(gpu))
        .filter_map(|w| match w.spec {
            gpugate::workload::WorkloadSpec::Encode { sessions, .. } => {
                Some((sessions, w.measurement.as_ref()?.throughput.median))
            }
            _ => None,
        })
        .collect()
}

/// The encode records of GPU `gpu` in a simulator log, by session (process id, session id):
/// (engine, engine seconds, done) of each picture, in order.
type Sessions = std::collections::BTreeMap<(u64, u64), Vec<(u64, f64, f64)>>;

fn encode_sessions(log: &Path, gpu: u64) -> Sessions {
    let mut sessions = Sessions::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["event"] != "encode" || v["gpu"] != gpu {
            continue;
        }
        let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
        sessions
            .entry((
                v["pid"].as_u64().unwrap_or(0),
                v["session"].as_u64().unwrap_or(0),
            ))
            .or_default()
            .push((v["engine"].as_u64().unwrap_or(0), f("seconds"), f("done")));
    }
    sessions
}

/// How busy GPU `gpu`'s engines were while the four sessions of the concurrent run were all
/// encoding (the last four sessions of the log): the engine time inside that window over the
/// window times the engines used. Below 1 the engines waited for pictures: ffmpeg, on this
/// machine's CPU, was late with them (the simulated engines never idle otherwise).
fn engines_busy(log: &Path, gpu: u64) -> Option<f64> {
    let sessions = encode_sessions(log, gpu);
    let mut by_start: Vec<&Vec<(u64, f64, f64)>> = sessions.values().collect();
    by_start.sort_by(|a, b| (a[0].2 - a[0].1).total_cmp(&(b[0].2 - b[0].1)));
    let four = by_start.get(by_start.len().checked_sub(4)?..)?;
    let t0 = four.iter().map(|s| s[0].2 - s[0].1).fold(0.0, f64::max);
    let t1 = four
        .iter()
        .map(|s| s[s.len() - 1].2)
        .fold(f64::INFINITY, f64::min);
    let engines: std::collections::BTreeSet<u64> =
        four.iter().flat_map(|s| s.iter().map(|p| p.0)).collect();
    let busy: f64 = four
        .iter()
        .flat_map(|s| s.iter())
        .map(|&(_, secs, done)| (done.min(t1) - (done - secs).max(t0)).max(0.0))
        .sum();
    (t1 > t0).then(|| busy / ((t1 - t0) * engines.len() as f64))
}

/// A run whose encode rate is judged, with the simulator's log: tried again (three tries in
/// all) only when an nvenc_h264 check failed while the simulated engines stood idle more than
/// 10 % of the concurrent run, waiting for pictures — this machine's CPU, busy with other work,
/// could not feed them, which says nothing of gpugate or the simulator. Any other failure is
/// returned at once.
fn gated_run(models: &[&str], profile: &str) -> SimRun {
    let mut tries = Vec::new();
    loop {
        let log = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        let r = sim_run_with(
            &Sim::new(models).log(&log),
            profile,
            &["--allow-simulated"],
            Encode::Gated,
        );
        let failed = r
            .report
            .checks
            .iter()
            .any(|c| c.id.ends_with("nvenc_h264") && c.verdict != Verdict::Pass);
        let busy: Vec<f64> = (0..models.len() as u64)
            .filter_map(|g| engines_busy(&log, g))
            .collect();
        let starved = busy.iter().any(|&b| b < 0.9);
        if !(failed && starved) || tries.len() == 2 {
            if failed && starved {
                eprintln!(
                    "{profile}: the engines were starved in every try (busy {tries:?}, then \
                     {busy:?}): this machine's CPU could not feed them"
                );
            }
            // Keep the log for the assertions (removed with the process's temporary files).
            let _ = log.keep();
            return r;
        }
        eprintln!(
            "{profile}: an nvenc_h264 check failed with the engines busy only {busy:?} of the \
             time (the CPU was late with pictures): again"
        );
        tries.push(busy);
    }
}

/// What the simulator's log says of the encodes of GPU `gpu`: every 1080p picture held its
/// engine for exactly 1 / 270 s (the model), pictures never overlapped on an engine, and the
/// sessions of each run were spread over both engines (the concurrent run's four, two on each).
fn encodes_follow_the_model(log: &Path, gpu: u64) -> Result<(), String> {
    let text = std::fs::read_to_string(log).map_err(|e| e.to_string())?;
    let mut by_engine: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = Default::default();
    let mut sessions: std::collections::BTreeMap<(u64, u64), u64> = Default::default();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if v["event"] != "encode" || v["gpu"] != gpu {
            continue;
        }
        let secs = v["seconds"].as_f64().unwrap_or(0.0);
        if v["width"] != 1920 || v["height"] != 1080 || (secs - 1.0 / M40_ENGINE_FPS).abs() > 1e-9 {
            return Err(format!(
                "a picture that is not the model's 1080p frame: {v}"
            ));
        }
        let engine = v["engine"].as_u64().unwrap_or(99);
        let done = v["done"].as_f64().unwrap_or(0.0);
        by_engine
            .entry(engine)
            .or_default()
            .push((done - secs, done));
        sessions.insert(
            (
                v["pid"].as_u64().unwrap_or(0),
                v["session"].as_u64().unwrap_or(0),
            ),
            engine,
        );
    }
    if by_engine.len() != 2 {
        return Err(format!(
            "pictures on engines {:?}, want 0 and 1",
            by_engine.keys()
        ));
    }
    for (e, spans) in &mut by_engine {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1 - 1e-9) {
            return Err(format!("engine {e}: two pictures at once: {w:?}"));
        }
    }
    // Five sessions (one alone, then four at once): the four take two engines each.
    let on = |e| sessions.values().filter(|&&x| x == e).count();
    if sessions.len() != 5 || on(0) < 2 || on(1) < 2 {
        return Err(format!("sessions and their engines: {sessions:?}"));
    }
    Ok(())
}

/// A healthy simulated M40 against g2.large as shipped (host block fitted to this machine, the
/// NVENC targets kept, `--allow-simulated`): every check passes, the hardware encode included.
/// Debian's ffmpeg encodes 1080p through the simulator's libnvidia-encode exactly as gpugate
/// drives it on a real machine; every bitstream decodes to the frames sent.
///
/// The rates: the simulator's log shows the model exactly (1/270 s per picture, four sessions
/// over two engines, never two pictures at once on one). What ffmpeg measures is wall-clock
/// time, so it is the model's only while this machine's CPU keeps up: the concurrent rate is
/// asserted between the pass line (324 fps, 60 % of 540: the check passes) and the model's 540
/// plus 10 % (the edges of the steady window, read from ffmpeg's reports every 0.1 s, are
/// interpolated); one session, on one engine, at most 270 plus 10 %.
#[test]
fn healthy_simulated_m40_passes_g2_large_including_the_hardware_encoder() {
    if crate::sim::stand_down_for_the_real_gpu(
        "healthy_simulated_m40_passes_g2_large_including_the_hardware_encoder",
    ) {
        return;
    }
    let r = gated_run(&["m40"], "g2.large");
    let log = r.log.clone().expect("the run kept a log");
    assert_all_pass(&r);
    for check in GPU_CHECKS.iter().chain(&["nvenc_engines", "nvenc_h264"]) {
        assert_eq!(
            r.verdict(&format!("gpu0.{check}")),
            Some(Verdict::Pass),
            "{check}: {}",
            r.describe()
        );
    }
    let rates = encode_rates(&r, 0);
    let x4 = rates.iter().find(|(s, _)| *s == 4).map(|(_, f)| *f);
    let x1 = rates.iter().find(|(s, _)| *s == 1).map(|(_, f)| *f);
    let (Some(x4), Some(x1)) = (x4, x1) else {
        panic!("encode results: {rates:?}\n{}", r.describe());
    };
    assert!(
        (324.0..=2.0 * M40_ENGINE_FPS * 1.1).contains(&x4),
        "four sessions: {x4} fps\n{}",
        r.describe()
    );
    assert!(
        x1 > 0.0 && x1 <= M40_ENGINE_FPS * 1.1,
        "one session: {x1} fps"
    );
    if let Err(e) = encodes_follow_the_model(&log, 0) {
        panic!("{e}");
    }
    for w in r.report.results.iter().filter(|w| is_encode(w)) {
        assert!(
            w.implementation.contains("h264_nvenc"),
            "{}",
            w.implementation
        );
        assert!(w.verification.passed(), "{}: {:?}", w.id, w.verification);
        assert_eq!(
            w.verification.checked,
            match w.spec {
                gpugate::workload::WorkloadSpec::Encode { sessions, .. } => sessions as u64,
                _ => 0,
            },
            "every session's bitstream read back"
        );
    }
    video_kernels_execute_what_the_targets_assume(&log);
    let _ = std::fs::remove_file(&log);
    assert!(r.report.complete && r.report.allow_simulated);
    assert_eq!(r.report.gpus.len(), 1);
    assert!(
        r.report.gpus[0].simulated,
        "run.json marks the GPU simulated"
    );
    assert!(r.report.gpus[0].name.ends_with("(gpugate-sim)"));
    // Every GPU result ran on the simulated GPU, verified: gpugate's own kernels and the
    // hardware encoder.
    for w in r.report.results.iter().filter(|w| w.device == Some(0)) {
        assert_eq!(w.error, None, "{}", w.id);
        assert!(w.verification.passed(), "{}: {:?}", w.id, w.verification);
    }
    assert!(
        r.report.notes.iter().any(|n| n.contains("--encode-frames")),
        "{:?}",
        r.report.notes
    );
    // NVML was there: telemetry was sampled, and run.json keeps the timed samples behind each
    // summary.
    if let Err(e) = traces_agree_with_summaries(&r.report) {
        panic!("{e}\n{}", r.describe());
    }
    assert!(r.stdout.contains("SIMULATED"), "{}", r.stdout);
}

#[test]
fn simulated_m40_without_allow_simulated_fails_every_gpu_check() {
    if crate::sim::stand_down_for_the_real_gpu(
        "simulated_m40_without_allow_simulated_fails_every_gpu_check",
    ) {
        return;
    }
    let r = sim_run(&Sim::new(&["m40"]), "g2.large", &[]);
    assert_eq!(r.code, Some(1), "{}", r.describe());
    for check in GPU_CHECKS {
        let id = format!("gpu0.{check}");
        assert_eq!(
            r.verdict(&id),
            Some(Verdict::Fail),
            "{id}: {}",
            r.describe()
        );
        assert!(r.check_reason(&id).starts_with("simulated device"));
    }
    assert_eq!(r.verdict("host.vcpus"), Some(Verdict::Pass));
}

/// Two healthy M40s against g2.2xlarge, the NVENC targets kept: every check passes, the
/// machine's summed encode rate included.
#[test]
fn two_healthy_simulated_m40s_pass_g2_2xlarge_with_machine_targets() {
    if crate::sim::stand_down_for_the_real_gpu(
        "two_healthy_simulated_m40s_pass_g2_2xlarge_with_machine_targets",
    ) {
        return;
    }
    let r = gated_run(&["m40", "m40"], "g2.2xlarge");
    if let Some(log) = &r.log {
        for gpu in [0, 1] {
            if let Err(e) = encodes_follow_the_model(log, gpu) {
                panic!("GPU {gpu}: {e}");
            }
        }
        let _ = std::fs::remove_file(log);
    }
    assert_all_pass(&r);
    for id in [
        "machine.gpu_count",
        "machine.fp32_gemm",
        "machine.fp64_gemm",
        "machine.nvenc_h264",
        "gpu0.nvenc_h264",
        "gpu1.nvenc_h264",
    ] {
        assert_eq!(r.verdict(id), Some(Verdict::Pass), "{id}: {}", r.describe());
    }
    // Each GPU's four sessions ran on its own engines: the same rate on both, within the band
    // of the one-GPU test.
    for gpu in [0, 1] {
        let x4 = encode_rates(&r, gpu)
            .into_iter()
            .find(|(s, _)| *s == 4)
            .map(|(_, f)| f)
            .unwrap_or(0.0);
        assert!(
            (324.0..=2.0 * M40_ENGINE_FPS * 1.1).contains(&x4),
            "GPU {gpu}: {x4} fps"
        );
    }
    assert_eq!(r.verdict("gpu1.fp32_gemm"), Some(Verdict::Pass));
    assert_ne!(r.report.gpus[0].uuid, r.report.gpus[1].uuid);
}

/// The driver branches M40 images carry, from the oldest gpugate supports (R418: CUDA 10.1, PTX
/// ISA 6.4, no `cuDevicePrimaryCtxRelease_v2`, `cuDeviceGetUuid_v2`, memory pools or newer
/// device attributes, NVML without the clocks-event reasons) to R525: a healthy simulated M40
/// passes g2.large end to end on each, and the run reports the driver it ran on.
#[test]
fn healthy_simulated_m40_passes_g2_large_on_r418_r450_r470_and_r525() {
    if crate::sim::stand_down_for_the_real_gpu(
        "healthy_simulated_m40_passes_g2_large_on_r418_r450_r470_and_r525",
    ) {
        return;
    }
    let drivers = [
        ("418", 10010, "6.4"),
        ("450", 11000, "7.0"),
        ("470", 11040, "7.4"),
        ("525", 12000, "8.0"),
    ];
    // Two drivers at a time (each tunes its GEMM variants: the cache is keyed by driver).
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&(driver, cuda, isa)) =
                    drivers.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    let found = one_driver(driver, cuda, isa);
                    failures.lock().unwrap().extend(found);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// What is wrong with a healthy g2.large run of a simulated M40 on one driver, if anything.
fn one_driver(driver: &str, cuda: u32, isa: &str) -> Vec<String> {
    let mut failures = Vec::new();
    {
        let t0 = std::time::Instant::now();
        let r = sim_run(
            &Sim::new(&["m40"]).driver(driver),
            "g2.large",
            &["--allow-simulated"],
        );
        eprintln!("R{driver}: {:.1} s", t0.elapsed().as_secs_f64());
        let bad: Vec<String> = r
            .report
            .checks
            .iter()
            .filter(|c| c.verdict != Verdict::Pass && !encode_reported(c))
            .map(|c| format!("{} {} ({})", c.id, c.verdict, c.reason))
            .collect();
        if r.code != Some(0) || !bad.is_empty() {
            failures.push(format!("R{driver}: {bad:?}\n{}", r.describe()));
            return failures;
        }
        let g = &r.report.gpus[0];
        if (g.driver_cuda_version, g.max_ptx_isa.as_str()) != (cuda, isa) {
            failures.push(format!(
                "R{driver}: the run says CUDA {} ISA {}, want {cuda} {isa}",
                g.driver_cuda_version, g.max_ptx_isa
            ));
        }
        for check in GPU_CHECKS {
            if r.verdict(&format!("gpu0.{check}")) != Some(Verdict::Pass) {
                failures.push(format!("R{driver}: no passing gpu0.{check}"));
            }
        }
        // Every GPU result ran, verified, with device time from the events, and telemetry was
        // sampled (R418's NVML has every reading gpugate takes).
        for w in r
            .report
            .results
            .iter()
            .filter(|w| w.device == Some(0) && !is_encode(w))
        {
            if w.error.is_some() || !w.verification.passed() {
                failures.push(format!("R{driver}: {} {:?}", w.id, w.error));
            }
        }
        if let Err(e) = traces_agree_with_summaries(&r.report) {
            failures.push(format!("R{driver}: telemetry: {e}"));
        }
        if let Some(n) = r.report.notes.iter().find(|n| n.contains("not available")) {
            failures.push(format!("R{driver}: {n}"));
        }
    }
    failures
}

/// Each fault, alone, on a simulated M40 gated by g2.large (with --allow-simulated): the exit
/// code and the checks that must fail.
#[test]
fn each_fault_gives_the_verdict_an_operator_must_see() {
    if crate::sim::stand_down_for_the_real_gpu("each_fault_gives_the_verdict_an_operator_must_see")
    {
        return;
    }
    type Expect = fn(&SimRun) -> Result<(), String>;
    /// Name, GPU models, faults, exit code, what else must hold; the hardware encode reported
    /// unless the case is gated (`with_nvenc`).
    type Case = (
        &'static str,
        Vec<&'static str>,
        &'static [&'static str],
        Option<i32>,
        Expect,
    );
    let with_nvenc = |name: &str| name.starts_with("nvenc") || name.starts_with("an H100");
    let cases: Vec<Case> = vec![
        (
            "sdc: the named workload's correctness check fails, however fast",
            vec!["m40"],
            &["sdc=sgemm"],
            Some(1),
            |r| {
                let v = r
                    .report
                    .checks
                    .iter()
                    .find(|c| c.id.starts_with("gpu0.sgemm.") && c.id.ends_with(".verify"));
                match v {
                    Some(c) if c.verdict == Verdict::Fail => {}
                    _ => return Err("no failed gpu0.sgemm.*.verify check".into()),
                }
                expect(r, "gpu0.fp32_gemm", Verdict::Fail)?;
                expect(r, "gpu0.fp64_gemm", Verdict::Pass)
            },
        ),
        (
            "sdc in motion estimation: the video.me check fails, the other stages pass",
            vec!["m40"],
            &["sdc=video_me"],
            Some(1),
            |r| {
                expect(r, "gpu0.video.me.100x70.verify", Verdict::Fail)?;
                expect(r, "gpu0.video_me", Verdict::Fail)?;
                expect(r, "gpu0.video_nv12", Verdict::Pass)?;
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
            },
        ),
        (
            "slow=0.5: the FP32 GEMM target fails",
            vec!["m40"],
            &["slow=0.5"],
            Some(1),
            |r| {
                expect(r, "gpu0.fp32_gemm", Verdict::Fail)?;
                expect(r, "gpu0.model", Verdict::Pass)
            },
        ),
        (
            "throttle: FP32 GEMM fails, and the result says it was throttled",
            vec!["m40"],
            &["throttle"],
            Some(1),
            |r| {
                expect(r, "gpu0.fp32_gemm", Verdict::Fail)?;
                let warned = r.report.results.iter().any(|w| {
                    w.measurement
                        .as_ref()
                        .is_some_and(|m| m.warnings.iter().any(|x| x.contains("throttled")))
                });
                if warned {
                    Ok(())
                } else {
                    Err("no result carries a throttling warning".into())
                }
            },
        ),
        (
            "pcie=3,8: a link trained down to x8 fails both transfer targets",
            vec!["m40"],
            &["pcie=3,8"],
            Some(1),
            |r| {
                expect(r, "gpu0.h2d", Verdict::Fail)?;
                expect(r, "gpu0.d2h", Verdict::Fail)?;
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
            },
        ),
        (
            "launch-fail-after: the GPU fails with the reason, earlier results are kept",
            vec!["m40"],
            &["launch-fail-after=40"],
            Some(1),
            |r| {
                let failed: Vec<_> = r
                    .report
                    .results
                    .iter()
                    .filter(|w| w.error.as_deref().is_some_and(|e| e.contains("ECC")))
                    .collect();
                if failed.is_empty() {
                    return Err("no result names the uncorrectable ECC error".into());
                }
                if !r
                    .report
                    .results
                    .iter()
                    .any(|w| w.error.is_none() && w.measurement.is_some())
                {
                    return Err("the results that finished before the failure are lost".into());
                }
                if !r.report.complete {
                    return Err("the run did not finish its report".into());
                }
                Ok(())
            },
        ),
        (
            "oom-after=4MiB: workloads that need more memory fail with out of memory, the rest pass",
            vec!["m40"],
            &["oom-after=4MiB"],
            Some(1),
            |r| {
                // 384³ GEMMs fit in 4 MiB; three 2 MiB stream arrays do not.
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)?;
                expect(r, "gpu0.stream_triad", Verdict::Fail)?;
                let oom = r.report.results.iter().any(|w| {
                    w.error
                        .as_deref()
                        .is_some_and(|e| e.contains("CUDA_ERROR_OUT_OF_MEMORY"))
                });
                if oom {
                    Ok(())
                } else {
                    Err("no result names CUDA_ERROR_OUT_OF_MEMORY".into())
                }
            },
        ),
        (
            "old-driver (CUDA 8.0, R375): refused before any other call, the GPU count fails \
             saying which driver to install",
            vec!["m40"],
            &["old-driver"],
            Some(1),
            |r| {
                expect(r, "machine.gpu_count", Verdict::Fail)?;
                let why = r.check_reason("machine.gpu_count");
                for want in [
                    "the NVIDIA driver (CUDA 8.0, R375) is older than the oldest gpugate \
                     supports, R418 (CUDA 10.1)",
                    "Install R418 or newer",
                ] {
                    if !why.contains(want) {
                        return Err(format!("the GPU count's reason lacks {want:?}: {why}"));
                    }
                }
                if !r.stdout.contains("older than the oldest gpugate supports") {
                    return Err("the console does not show the reason".into());
                }
                if r.report.results.iter().any(|w| w.device.is_some()) {
                    return Err("something ran on the refused driver".into());
                }
                Ok(())
            },
        ),
        (
            "no-nvml: telemetry not sampled, and still a verdict",
            vec!["m40"],
            &["no-nvml"],
            Some(0),
            |r| {
                if !r.report.notes.iter().any(|n| n.contains("no telemetry")) {
                    return Err("no note says telemetry was not sampled".into());
                }
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
            },
        ),
        (
            "nvenc-fail: the hardware encode check fails with ffmpeg's error, the rest passes",
            vec!["m40"],
            &["nvenc-fail"],
            Some(1),
            |r| {
                expect(r, "gpu0.nvenc_h264", Verdict::Fail)?;
                let why = r.check_reason("gpu0.nvenc_h264");
                for want in [
                    "EncodePicture failed!: generic error (20)",
                    "simulated fault nvenc-fail",
                ] {
                    if !why.contains(want) {
                        return Err(format!("the reason lacks {want:?}: {why}"));
                    }
                }
                expect(r, "gpu0.nvenc_engines", Verdict::Pass)?;
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
            },
        ),
        (
            // One engine: the simulator's log shows every picture of every session on engine 0
            // for 1/270 s (the model), and the rate ffmpeg measures is at most 270 fps (+ 10 %
            // for the steady window's edges, as in the healthy test). Its floor is this
            // machine's CPU, not the model: it is not asserted.
            "nvenc-engines=1: the encode is too slow and fails, the engine count still passes",
            vec!["m40"],
            &["nvenc-engines=1"],
            Some(1),
            |r| {
                expect(r, "gpu0.nvenc_h264", Verdict::Fail)?;
                let why = r.check_reason("gpu0.nvenc_h264");
                if !why.contains("below the pass line") {
                    return Err(format!("not failed as too slow: {why}"));
                }
                let x4 = encode_rates(r, 0)
                    .into_iter()
                    .find(|(s, _)| *s == 4)
                    .map(|(_, f)| f)
                    .unwrap_or(0.0);
                if !(x4 > 0.0 && x4 <= M40_ENGINE_FPS * 1.1) {
                    return Err(format!("four sessions on one engine: {x4} fps"));
                }
                let log = r.log.as_deref().ok_or("no simulator log")?;
                let sessions = encode_sessions(log, 0);
                let pictures: Vec<&(u64, f64, f64)> = sessions.values().flatten().collect();
                if sessions.len() != 5
                    || pictures
                        .iter()
                        .any(|p| p.0 != 0 || (p.1 - 1.0 / M40_ENGINE_FPS).abs() > 1e-9)
                {
                    return Err(format!("not every picture on engine 0 for 1/270 s: {sessions:?}"));
                }
                // The catalogue still gives the M40 two engines: the throughput check is the
                // one that sees the missing engine.
                expect(r, "gpu0.nvenc_engines", Verdict::Pass)?;
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
            },
        ),
        (
            "nvenc-engines=0: the driver refuses the session as on a GPU without NVENC, and \
             reports no encoder",
            vec!["m40"],
            &["nvenc-engines=0"],
            Some(1),
            |r| {
                expect(r, "gpu0.nvenc_h264", Verdict::Fail)?;
                let why = r.check_reason("gpu0.nvenc_h264");
                for want in [
                    "the driver refused an encode session",
                    "OpenEncodeSessionEx failed: unsupported device (2)",
                ] {
                    if !why.contains(want) {
                        return Err(format!("the reason lacks {want:?}: {why}"));
                    }
                }
                expect(r, "gpu0.nvenc_engines", Verdict::Fail)?;
                let why = r.check_reason("gpu0.nvenc_engines");
                if !why.contains("the driver reports no encoder") {
                    return Err(format!("nvenc_engines: {why}"));
                }
                Ok(())
            },
        ),
        (
            "an H100 under g2.large: no NVENC engine, the encode check fails saying so",
            vec!["h100"],
            &[],
            Some(1),
            |r| {
                expect(r, "gpu0.nvenc_h264", Verdict::Fail)?;
                let why = r.check_reason("gpu0.nvenc_h264");
                if !why.contains("no NVENC engine on this GPU") {
                    return Err(format!("the reason: {why}"));
                }
                expect(r, "gpu0.nvenc_engines", Verdict::Fail)?;
                expect(r, "gpu0.model", Verdict::Fail)
            },
        ),
        (
            "gpu=1:slow=0.5 on two GPUs: only GPU 1 fails",
            vec!["m40", "m40"],
            &["gpu=1:slow=0.5"],
            Some(1),
            |r| {
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)?;
                expect(r, "gpu1.fp32_gemm", Verdict::Fail)
            },
        ),
    ];
    // Two cases at a time: a simulated run leaves cores idle between launches (the sampler, the
    // host's verification), and this table is the longest test.
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((name, models, faults, code, check)) = cases.get(i) else {
                    break;
                };
                let log = tempfile::NamedTempFile::new().unwrap().into_temp_path();
                let mut sim = Sim::new(models);
                if with_nvenc(name) {
                    sim = sim.log(&log);
                }
                for f in faults.iter() {
                    sim = sim.fault(f);
                }
                let profile = if models.len() == 2 {
                    "g2.2xlarge"
                } else {
                    "g2.large"
                };
                let encode = if with_nvenc(name) {
                    Encode::Gated
                } else {
                    Encode::Reported
                };
                let r = sim_run_with(&sim, profile, &["--allow-simulated"], encode);
                let failed = if r.code != *code {
                    Some(format!(
                        "{name}: exit {:?}, want {code:?}\n{}",
                        r.code,
                        r.describe()
                    ))
                } else {
                    check(&r)
                        .err()
                        .map(|why| format!("{name}: {why}\n{}", r.describe()))
                };
                if let Some(f) = failed {
                    failures.lock().unwrap().push(f);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

fn expect(r: &SimRun, id: &str, want: Verdict) -> Result<(), String> {
    match r.verdict(id) {
        Some(v) if v == want => Ok(()),
        Some(v) => Err(format!("{id} is {v}, want {want}: {}", r.check_reason(id))),
        None => Err(format!("no check {id}")),
    }
}
