//! End-to-end runs of the gpugate binary on gpugate-sim: a healthy simulated M40 machine passes
//! its profile, hardware encode included (Debian's ffmpeg drives the simulator's NVENC exactly
//! as on a real machine), and each fault the simulator can inject gives the verdict, exit code
//! and failed checks an operator must see.
//!
//! Every run is of the release binaries the README tells users to build (`cargo build --release
//! -p gpugate -p gpugate-sim`, run once by the first: [`crate::sim::release_binaries`]).
//!
//! The runs are small (`--level quick --gemm-sizes 384 --stream-mib 2`: 384 is a multiple of every
//! SGEMM tile, where a healthy M40 reaches its FP32 pass line) and use a copy of the G2
//! profile whose host block is this machine's (the GPU targets are untouched): the host checks
//! are about the machine the tests run on, which is not a G2.
//!
//! Hardware encode runs at 1080p as on a real machine, and its rate is wall-clock time: the
//! simulated engines give 540 frames per second per M40, but feeding them takes this machine's
//! CPU (ffmpeg reads and copies 3 MB per frame): about 1.4 cores at 540 fps, 0.8 at the 324 fps
//! pass line. So the runs whose encode rate must pass ([`Encode::Gated`]) run alone among these
//! tests (a lock), and the others encode few frames beside each other, with no target
//! ([`Encode::Reported`]) or with targets that must fail whatever the CPU ([`Encode::Failing`]).

use std::path::{Path, PathBuf};

use gpugate::model::{MeasurementWarning, RunReport, Verdict};

use crate::sim::Sim;
use crate::{stderr, stdout};

/// A copy of the built-in profile `name` whose host vCPUs, memory and disk are this machine's,
/// written into `dir`, without its nvenc_h264 targets: for the runs that are not about the
/// hardware encoder, whose encode rate depends on this machine's free CPU (see the module
/// documentation). Every other GPU line and target stays as shipped
/// ([`host_fit_profile_with_nvenc`] keeps those too).
pub(crate) fn host_fit_profile(name: &str, dir: &Path) -> PathBuf {
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
    /// The run's report.md.
    markdown: String,
    /// The run's directory (report files, charts), alive as long as this value.
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
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

    fn check(&self, id: &str) -> Option<&gpugate::model::Check> {
        self.report.checks.iter().find(|c| c.id == id)
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
    /// The targets kept, [`REPORTED_FRAMES`] per session, beside other runs: for a run whose
    /// encode check must fail whatever this machine's CPU does (a refused or failing session,
    /// no engine, or a rate the model bounds below the pass line), which a busy CPU can only
    /// make slower, never pass.
    Failing,
}

/// Frames per encode session where nothing judges the rate.
const REPORTED_FRAMES: &str = "30";
/// Frames per encode session where the rate is judged: four sessions at 135 fps each encode
/// for about 1.1 s, so ffmpeg's progress reports give a steady rate over most of it.
const GATED_FRAMES: usize = 150;

/// The lock that lets a [`Encode::Gated`] run have this machine's CPU to itself among these
/// tests (the others take it shared).
pub(crate) fn encode_lock() -> &'static std::sync::RwLock<()> {
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
    let profile = match encode {
        Encode::Gated | Encode::Failing => host_fit_profile_with_nvenc(profile, dir.path()),
        Encode::Reported => host_fit_profile(profile, dir.path()),
    };
    let mut r = sim_run_profile(sim, profile.to_str().unwrap(), extra, encode, dir.path());
    r._tmp = Some(dir);
    r
}

/// [`sim_run_with`] at the GEMM sizes `gemm` (`--gemm-sizes`).
fn sim_run_sized(sim: &Sim, profile: &str, extra: &[&str], encode: Encode, gemm: &str) -> SimRun {
    let mut args = vec!["--gemm-sizes", gemm];
    args.extend_from_slice(extra);
    sim_run_with(sim, profile, &args, encode)
}

/// gpugate run on `sim` against `profile` (a file, a built-in name or `auto`), small sizes, the
/// encode frames `encode` wants, with `extra` arguments (an option in `extra` replaces this
/// function's value for it, e.g. `--gemm-sizes 256`), writing into `dir`.
fn sim_run_profile(sim: &Sim, profile: &str, extra: &[&str], encode: Encode, dir: &Path) -> SimRun {
    // The binaries users build and run (and a tenth quicker than the test build's); these runs
    // are about verdicts, so without the race detector (a sixth of a run), which the GPU suite
    // and the selftests keep on for every kernel.
    let sim = &sim.clone().release().no_racecheck();
    let out = dir.join("out");
    let frames = match encode {
        Encode::Gated => GATED_FRAMES.to_string(),
        Encode::Reported | Encode::Failing => REPORTED_FRAMES.to_string(),
    };
    // The simulator's samples of a workload are identical: a short least sampling time (and a
    // shorter timeout, for the slow DGEMM and motion estimation) gives the same medians in a
    // third of the time. The jitter runs still take 10 samples or more.
    let defaults: [(&str, &str); 8] = [
        ("--min-time", "0.05"),
        ("--timeout", "0.5"),
        ("--gemm-sizes", "384"),
        ("--stream-mib", "2"),
        // Frames whose work outlasts the 4 µs launch interval of the simulated M40 even at one
        // frame per sample; motion estimation (≈100× the work per pixel) on a smaller one.
        ("--video-sizes", "480x270,me=100x70"),
        ("--encode-frames", &frames),
        ("--seed", "7"),
        ("--profile", profile),
    ];
    let mut args = vec!["run", "--backend", "cuda", "--level", "quick"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend_from_slice(&[flag, value]);
        }
    }
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let lock = encode_lock();
    let _alone = (encode == Encode::Gated).then(|| lock.write().unwrap_or_else(|p| p.into_inner()));
    let _shared = (encode != Encode::Gated).then(|| lock.read().unwrap_or_else(|p| p.into_inner()));
    let o = sim
        .command(&sim.gpugate_bin(), &args)
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
    let report: RunReport = serde_json::from_str(&json).expect("run.json parses");
    // junit.xml, read as a JUnit consumer reads it, says what run.json says.
    let junit = std::fs::read_to_string(out.join("latest/junit.xml")).unwrap();
    crate::junit::assert_matches_run(&junit, &report);
    let run_dir = std::fs::canonicalize(out.join("latest")).expect("DIR/latest");
    SimRun {
        code: o.status.code(),
        report,
        stdout: stdout(&o),
        stderr: stderr(&o),
        markdown: std::fs::read_to_string(run_dir.join("report.md")).unwrap_or_default(),
        dir: run_dir,
        _tmp: None,
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
    // The simulator's cuBLAS ran beside each GEMM (FP32, FP64, FP16 inputs at 384³), verified,
    // named as gpugate-sim's.
    let peers: Vec<_> = r
        .report
        .results
        .iter()
        .filter(|w| w.role == gpugate::model::Role::Peer)
        .collect();
    assert_eq!(peers.len(), 3, "{}", r.describe());
    for w in peers {
        assert!(
            w.implementation.starts_with("cuBLAS 12.4.5 (gpugate-sim) "),
            "{}: {}",
            w.id,
            w.implementation
        );
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
    // The smallest sizes: the verdict of a simulated device does not depend on its speed.
    let r = sim_run(
        &Sim::new(&["m40"]),
        "g2.large",
        &[
            "--gemm-sizes",
            "64",
            "--stream-mib",
            "1",
            "--video-sizes",
            "64x64",
        ],
    );
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
    // The driver itself said it is the simulator, and run.json records it.
    let g = &r.report.gpus[0];
    assert!(g.simulated, "{}", r.describe());
    let identity = g.driver_identity.as_deref().unwrap_or_default();
    assert!(identity.starts_with("gpugate-sim "), "{identity:?}");
    a_report_of_an_edited_simulated_run_is_still_simulated(&r.report);
}

/// `gpugate report` decides whether a device is simulated again from what run.json records
/// of it (the driver's identity and the name), never from the stored flag: a file edited to say
/// `"simulated": false`, or with the name's mark removed as well, still fails every GPU check
/// under the SIMULATED banner.
fn a_report_of_an_edited_simulated_run_is_still_simulated(run: &RunReport) {
    let original = serde_json::to_value(run).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let flag_false: Edit = |g| g["simulated"] = false.into();
    let unmarked: Edit = |g| {
        g["simulated"] = false.into();
        let name = g["name"].as_str().unwrap().replace(" (gpugate-sim)", "");
        g["name"] = name.into();
    };
    let no_identity: Edit = |g| {
        g["simulated"] = false.into();
        g.as_object_mut().unwrap().remove("driver_identity");
    };
    for (what, edit) in [
        ("simulated: false", flag_false),
        ("simulated: false, name unmarked", unmarked),
        ("simulated: false, no driver identity", no_identity),
    ] {
        let mut v = original.clone();
        for g in v["gpus"].as_array_mut().unwrap() {
            edit(g);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let o = std::process::Command::new(crate::bin())
            .args(["report", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("SIMULATED: GPU 0"), "{what}: {md}");
        let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
        let suites = crate::junit::read(&junit).unwrap();
        let case = suites[0]
            .case("gpu0.fp32_gemm")
            .unwrap_or_else(|| panic!("{what}: no gpu0.fp32_gemm case"));
        assert!(
            matches!(&case.outcome, crate::junit::Outcome::Failure { message, .. }
                if message.starts_with("simulated device")),
            "{what}: {:?}",
            case.outcome
        );
        assert_eq!(suites[0].property("simulated"), Some("true"), "{what}");
    }
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
/// passes g2.large end to end on each, and the run reports the driver it ran on. Like every
/// run of this file, it runs the release binaries users build: old drivers once failed only
/// there.
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
        // The simulator's cuBLAS is 12.4.5, which needs CUDA 12.0 (R525): before that the peer
        // is not run, and the note says why, as on a real machine with that driver and cuBLAS.
        let peers = r
            .report
            .results
            .iter()
            .filter(|w| w.role == gpugate::model::Role::Peer)
            .count();
        let refused = r
            .report
            .notes
            .iter()
            .find(|n| n.starts_with("cuBLAS peer not run: "));
        match (cuda >= 12000, refused) {
            (true, None) if peers == 3 => {}
            (false, Some(n))
                if peers == 0
                    && n.contains(
                        "cuBLAS 12.4.5 (gpugate-sim) was found, which needs an NVIDIA driver \
                         for CUDA 12.0 or newer (R525+)",
                    )
                    && n.contains(&format!("this driver is CUDA {}", cuda_label(cuda))) => {}
            (_, n) => failures.push(format!(
                "R{driver}: {peers} cuBLAS peer results, note {n:?}, notes {:?}",
                r.report.notes
            )),
        }
    }
    failures
}

/// `launch-fail-after=N` with N = 40 launches after the launch floor's
/// (`gpugate::measure::floor::FLOOR_LAUNCHES`, asserted below).
const LAUNCH_FAIL_AFTER: &str = "launch-fail-after=137";

/// "11.0, R450" for 11000: how gpugate names a driver in its notes.
fn cuda_label(cuda: u32) -> String {
    let branch = match cuda {
        10010 => "R418",
        11000 => "R450",
        11040 => "R470",
        _ => "?",
    };
    format!("{}.{}, {branch}", cuda / 1000, (cuda % 1000) / 10)
}

/// The cuBLAS peer beside every GEMM, on a simulated M40 whose model file gives cuBLAS other
/// efficiencies than gpugate's kernels reach (SGEMM 0.36, DGEMM 0.45, FP16-input gemmEx 0.54 of
/// the peak, against the model's 0.72 / 0.90 / 0.72 for kernels): each peer is verified, named
/// as gpugate-sim's cuBLAS, and its TFLOPS are the model's to 1e-4 (the launch gap plus 2·n³ at
/// peak × cuBLAS efficiency, at least the launch interval); each GEMM row's kernel / peer ratio
/// is the kernel's simulated time (its launches in the simulator's log) against the peer's
/// modelled one, to 1e-4, and where both are bound by the FP64 units (DGEMM at 256³) it is the
/// ratio of the efficiencies, 0.90 / 0.45 = 2, within 0.5 % (the 1 µs launch gap of each
/// ~0.2 ms call). report.md shows the rows, the GEMM chart draws the peer, and no check
/// gates a peer.
#[test]
fn the_cublas_peer_runs_beside_every_gemm_as_the_model_times_it() {
    if crate::sim::stand_down_for_the_real_gpu(
        "the_cublas_peer_runs_beside_every_gemm_as_the_model_times_it",
    ) {
        return;
    }
    use gpugate::model::Role;
    use gpugate::workload::{Precision, WorkloadSpec};
    let tmp = tempfile::tempdir().unwrap();
    let shown = std::process::Command::new(crate::sim::launcher())
        .args(["models", "m40"])
        .output()
        .unwrap();
    let mut model_text = String::from_utf8(shown.stdout).unwrap();
    for (from, to) in [
        ("sgemm_efficiency = 0.72", "sgemm_efficiency = 0.36"),
        ("dgemm_efficiency = 0.90", "dgemm_efficiency = 0.45"),
        ("hgemm_efficiency = 0.72", "hgemm_efficiency = 0.54"),
    ] {
        assert!(model_text.contains(from), "{from}");
        model_text = model_text.replace(from, to);
    }
    // The same key and name as the built-in M40 (same UUID, so the tuning cache is shared).
    let model_path = tmp.path().join("m40-slow-cublas.toml");
    std::fs::write(&model_path, &model_text).unwrap();
    let model: toml::Value = toml::from_str(&model_text).unwrap();
    let log = tmp.path().join("sim.jsonl");
    let r = sim_run_sized(
        &Sim::new(&[model_path.to_str().unwrap()]).log(&log),
        "g2.large",
        &["--allow-simulated"],
        Encode::Reported,
        "64,256",
    );
    let why = r.describe();
    assert!(
        r.report.notes.iter().any(|n| n
            .starts_with("cuBLAS peer: cuBLAS 12.4.5 (gpugate-sim) from /")
            && n.ends_with("libgpugate_sim.so, compared with gpugate's GEMMs, never gated")),
        "{why}"
    );
    // The simulator's log: each launch's simulated seconds.
    let launches: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "launch" && v["error"].is_null())
        .collect();
    let rows = gpugate::report::gemm::gemm_rows(&r.report);
    assert_eq!(rows.len(), 6, "3 precisions × 2 sizes: {why}");
    for row in &rows {
        let (n, _, _) = row.shape;
        let p = row.precision;
        let spec = WorkloadSpec::gemm(p, n, n, n);
        let peer = r
            .report
            .results
            .iter()
            .find(|w| w.role == Role::Peer && w.spec == spec)
            .unwrap_or_else(|| panic!("no peer for {}: {why}", row.id));
        assert!(
            peer.verification.passed(),
            "{}: {:?}",
            peer.id,
            peer.verification
        );
        assert_eq!(peer.error, None);
        assert!(
            peer.implementation
                .starts_with("cuBLAS 12.4.5 (gpugate-sim) "),
            "{}",
            peer.implementation
        );
        let flops = 2.0 * (n as f64).powi(3);
        let peer_s = crate::gpu::cublas::modelled_seconds(&model, p, (n, n, n));
        let peer_tf = row.peer_tflops.expect("a peer number");
        assert!(
            (peer_tf / (flops / peer_s / 1e12) - 1.0).abs() < 1e-4,
            "{}: peer {peer_tf} TFLOPS, modelled {}",
            row.id,
            flops / peer_s / 1e12
        );
        // gpugate's kernel: the variant the result names, its launches of this size.
        let entry = row.implementation.trim_start_matches("gpugate ");
        let kernel_s: Vec<f64> = launches
            .iter()
            .filter(|v| v["kernel"] == entry)
            .filter(|v| {
                let st = &v["stats"];
                let f: f64 = ["flops_f32", "flops_f64", "flops_f16"]
                    .iter()
                    .map(|k| st[k].as_f64().unwrap_or(0.0))
                    .sum();
                f >= flops && f <= flops * 1.05
            })
            .map(|v| v["seconds"].as_f64().unwrap())
            .collect();
        assert!(!kernel_s.is_empty(), "{entry} at {n}³ is not in the log");
        assert!(kernel_s.iter().all(|s| *s == kernel_s[0]), "{kernel_s:?}");
        let want = peer_s / kernel_s[0];
        let ratio = row.ratio_to_peer().expect("a ratio");
        assert!(
            (ratio / want - 1.0).abs() < 1e-4,
            "{}: kernel / peer {ratio}, the simulated times give {want}",
            row.id
        );
        if p == Precision::F64 && n == 256 {
            assert!((ratio / 2.0 - 1.0).abs() < 0.005, "{}: {ratio}", row.id);
        }
        // report.md: the row names the peer and gives the ratio.
        let line = gemm_row_line(&r, &row.id).unwrap();
        assert!(line.contains("| cuBLAS 12.4.5 (gpugate-sim) "), "{line}");
        assert!(
            line.ends_with(&format!("| {:.1}% |", ratio * 100.0)),
            "{line}"
        );
    }
    // Peers are never gated: no check is about one, and none of them failed.
    for c in &r.report.checks {
        assert!(!c.id.contains(".peer."), "{}: {why}", c.id);
        for e in &c.evidence {
            assert!(!e.contains(".peer."), "{} cites {e}", c.id);
        }
    }
    // The FP32 chart draws the peer: its legend and one red point per size, the 256³ one below
    // the kernel's (2.29 against 2.99 TFLOPS).
    let svg = std::fs::read_to_string(r.dir.join("gemm_gpu0_f32.svg")).unwrap();
    assert!(svg.contains("cuBLAS peer"), "no peer in the legend");
    let points = |fill: &str| -> Vec<(f64, f64)> {
        svg.split("<circle ")
            .skip(1)
            .filter(|c| c.contains(&format!("fill=\"{fill}\"")) && c.contains("r=\"4\""))
            .map(|c| {
                let attr = |a: &str| -> f64 {
                    let v = c.split(&format!("{a}=\"")).nth(1).unwrap();
                    v[..v.find('"').unwrap()].parse().unwrap()
                };
                (attr("cx"), attr("cy"))
            })
            .collect()
    };
    let (peer, kernel) = (points("#D62728"), points("#1F77B4"));
    assert_eq!((peer.len(), kernel.len()), (2, 2), "{peer:?} {kernel:?}");
    let right = |v: &[(f64, f64)]| *v.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
    assert!(right(&peer).1 > right(&kernel).1, "{peer:?} {kernel:?}");
}

/// Each fault, alone, on a simulated M40 gated by g2.large (with --allow-simulated): the exit
/// code and the checks that must fail.
#[test]
fn each_fault_gives_the_verdict_an_operator_must_see() {
    if crate::sim::stand_down_for_the_real_gpu("each_fault_gives_the_verdict_an_operator_must_see")
    {
        return;
    }
    assert_eq!(
        LAUNCH_FAIL_AFTER,
        format!(
            "launch-fail-after={}",
            40 + gpugate::measure::floor::FLOOR_LAUNCHES
        )
    );
    type Expect = fn(&SimRun) -> Result<(), String>;
    /// Name, GPU models, faults, exit code, what else must hold; the hardware encode reported
    /// unless the case keeps the encode targets (`with_nvenc`: each such case fails them).
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
                // Thermal slowdown in every sample: the health rule fails too, and the GPU
                // sits at its slowdown temperature, the limit where g2.large sets none.
                expect(r, "gpu0.health.hw_slowdown", Verdict::Fail)?;
                expect(r, "gpu0.health.temperature", Verdict::Fail)?;
                let warned = r.report.results.iter().any(|w| {
                    w.measurement
                        .as_ref()
                        .is_some_and(|m| m.warnings.iter().any(|x| matches!(x, MeasurementWarning::Throttled { .. })))
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
            // 40 launches after the floor's, which every GPU makes when it is opened.
            &[LAUNCH_FAIL_AFTER],
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
            "cublas-missing: the peer is not run, the note says where cuBLAS was looked for, \
             and the verdict is the healthy one (every check passes)",
            vec!["m40"],
            &["cublas-missing"],
            Some(0),
            |r| {
                peers_never_gated(r)?;
                let note = r
                    .report
                    .notes
                    .iter()
                    .find(|n| n.starts_with("cuBLAS peer not run: cuBLAS not found: looked for"))
                    .ok_or("no note says the peer was not run")?;
                for want in ["libcublas.so.12", "LD_LIBRARY_PATH (", "gpugate-sim-", "optional"] {
                    if !note.contains(want) {
                        return Err(format!("the note lacks {want:?}: {note}"));
                    }
                }
                if r.report.results.iter().any(|w| w.role == gpugate::model::Role::Peer) {
                    return Err("a peer result without cuBLAS".into());
                }
                let row = gemm_row_line(r, "gpu0.sgemm.384x384x384")?;
                if !row.contains("| not run | — | — |") {
                    return Err(format!("the GEMM row does not say the peer did not run: {row}"));
                }
                Ok(())
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
            "cublas-fail: each peer fails with CUBLAS_STATUS_EXECUTION_FAILED, said in the \
             warnings, a note and the GEMM rows, and the verdict is the healthy one",
            vec!["m40"],
            &["cublas-fail"],
            Some(0),
            |r| {
                peers_never_gated(r)?;
                let peers: Vec<_> = r
                    .report
                    .results
                    .iter()
                    .filter(|w| w.role == gpugate::model::Role::Peer)
                    .collect();
                if peers.len() != 3 {
                    return Err(format!("{} peer results, want 3", peers.len()));
                }
                for w in &peers {
                    let e = w.error.as_deref().unwrap_or("");
                    if !e.contains("cuBLAS 12.4.5 (gpugate-sim)")
                        || !e.contains("CUBLAS_STATUS_EXECUTION_FAILED")
                    {
                        return Err(format!("{}: error {e:?}", w.id));
                    }
                    if w.verification.status != gpugate::model::VerifyStatus::NotChecked {
                        return Err(format!("{}: {:?}", w.id, w.verification));
                    }
                }
                if !r.report.notes.iter().any(|n| n == "GPU 0: cuBLAS peer failed (see the warnings); peers are compared with gpugate's GEMMs, never gated") {
                    return Err("no note says the peer failed".into());
                }
                let warned = gpugate::report::warnings(&r.report);
                if !warned.iter().any(|w| w.subject.contains("gpu0.peer.sgemm.384x384x384")
                    && w.text.contains("CUBLAS_STATUS_EXECUTION_FAILED"))
                {
                    return Err(format!("no warning names the failed peer: {warned:?}"));
                }
                let row = gemm_row_line(r, "gpu0.dgemm.384x384x384")?;
                if !row.contains("| cuBLAS 12.4.5 (gpugate-sim) dgemm")
                    || !row.contains("| failed (see warnings) | — |")
                {
                    return Err(format!("the GEMM row does not say the peer failed: {row}"));
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
            "health: a double-bit ECC error, Xid 79, 101 PCIe replays and a full retirement \
             table fail naming GPU 0; an application Xid and a power cap are reported, not failed",
            vec!["m40"],
            &[
                "ecc=dbe@0",
                "xid=79@0",
                "xid=13@0",
                "pcie-replays=101",
                "retired-pages=62",
                "power-cap",
            ],
            Some(1),
            |r| {
                for (id, says) in [
                    ("gpu0.health.ecc_uncorrected", "uncorrectable ECC error(s) on GPU 0"),
                    ("gpu0.health.retirement_pending", "pending on GPU 0"),
                    ("gpu0.health.xid", "Xid 79 (GPU has fallen off the bus) at "),
                    ("gpu0.health.xid", "Xid 48 (double-bit ECC error)"),
                    ("gpu0.health.pcie_replays", "101 PCIe replay(s) on GPU 0"),
                    ("gpu0.health.retired_memory", "table of 63 pages is full"),
                ] {
                    expect(r, id, Verdict::Fail)?;
                    if !r.check_reason(id).contains(says) {
                        return Err(format!("{id} does not say {says:?}"));
                    }
                }
                expect(r, "gpu0.health.hw_slowdown", Verdict::Pass)?;
                if !r.check_reason("gpu0.health.hw_slowdown").contains("software power cap") {
                    return Err("hw_slowdown does not report the power cap".into());
                }
                if r.check_reason("gpu0.health.xid").contains("Xid 13") {
                    return Err("the application Xid 13 is counted as critical".into());
                }
                expect(r, "gpu0.health.ecc_corrected", Verdict::Pass)?;
                expect(r, "gpu0.fp32_gemm", Verdict::Pass)
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
                    Encode::Failing
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

/// Every check of the run passes (the healthy M40's verdict, exit 0), and none is about a peer.
fn peers_never_gated(r: &SimRun) -> Result<(), String> {
    for c in &r.report.checks {
        if c.verdict != Verdict::Pass && !encode_reported(c) {
            return Err(format!("{} is {}: {}", c.id, c.verdict, c.reason));
        }
        if c.id.contains(".peer.") || c.evidence.iter().any(|e| e.contains(".peer.")) {
            return Err(format!("{} gates a peer", c.id));
        }
    }
    Ok(())
}

/// The row of GEMM result `id` in report.md's GEMM section.
fn gemm_row_line(r: &SimRun, id: &str) -> Result<String, String> {
    r.markdown
        .split("## GEMM: gpugate kernel vs peak and cuBLAS")
        .nth(1)
        .and_then(|section| {
            section
                .lines()
                .find(|l| l.starts_with(&format!("| `{id}` |")))
        })
        .map(str::to_string)
        .ok_or_else(|| format!("no row for {id} in report.md's GEMM section"))
}

fn expect(r: &SimRun, id: &str, want: Verdict) -> Result<(), String> {
    match r.verdict(id) {
        Some(v) if v == want => Ok(()),
        Some(v) => Err(format!("{id} is {v}, want {want}: {}", r.check_reason(id))),
        None => Err(format!("no check {id}")),
    }
}

/// The GPU speed checks of the G2 profiles.
const SPEED_CHECKS: &[&str] = &[
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

/// `timer=zero` (the events report 0 ms between any two): every speed check of the GPU FAILS
/// saying its samples took 0 s of device time (the gate once saw infinite throughput there and
/// passed it), each result says so in its warnings and has no throughput, the floors are not
/// measured and say why, and the inventory still passes.
#[test]
fn timer_zero_fails_every_speed_check_with_the_zero_time_reason() {
    if crate::sim::stand_down_for_the_real_gpu(
        "timer_zero_fails_every_speed_check_with_the_zero_time_reason",
    ) {
        return;
    }
    let r = sim_run(
        &Sim::new(&["m40"]).fault("timer=zero"),
        "g2.large",
        // A zero time never satisfies the least sampling time: each workload samples until
        // its timeout, here a short one.
        &["--allow-simulated", "--timeout", "0.2"],
    );
    assert_eq!(r.code, Some(1), "{}", r.describe());
    for m in SPEED_CHECKS {
        let id = format!("gpu0.{m}");
        let c = r
            .check(&id)
            .unwrap_or_else(|| panic!("no {id}: {}", r.describe()));
        assert_eq!(c.verdict, Verdict::Fail, "{id}: {}", r.describe());
        assert!(
            c.reason.contains("not a valid measurement")
                && c.reason.contains("samples took 0 s of device time"),
            "{id}: {}",
            c.reason
        );
        assert!(c.hint.contains("impossible time"), "{id}: {}", c.hint);
        assert_eq!(c.observed, None, "{id}");
    }
    for id in ["gpu0.model", "gpu0.memory", "machine.gpu_count"] {
        assert_eq!(r.verdict(id), Some(Verdict::Pass), "{id}: {}", r.describe());
    }
    let measured: Vec<_> = r
        .report
        .results
        .iter()
        .filter(|w| w.device == Some(0) && !is_encode(w))
        .filter_map(|w| w.measurement.as_ref().map(|m| (w, m)))
        .collect();
    assert!(measured.len() >= SPEED_CHECKS.len(), "{}", r.describe());
    for (w, m) in measured {
        assert!(
            m.samples.iter().all(|s| *s == 0.0),
            "{}: {:?}",
            w.id,
            m.samples
        );
        assert!(m.throughput.median.is_nan(), "{}: {:?}", w.id, m.throughput);
        let n = m.samples.len();
        assert_eq!(
            m.warnings[0],
            MeasurementWarning::InvalidTime {
                invalid: n,
                samples: n,
                all_zero: true
            },
            "{}: {:?}",
            w.id,
            m.warnings
        );
    }
    let f = &r.report.floors[0];
    assert_eq!((f.launch_s, f.copy_s), (None, None), "{f:?}");
    assert!(
        f.note
            .as_deref()
            .is_some_and(|n| n.contains("the timer gave 0 s")),
        "{f:?}"
    );
}

/// The simulated M40's pinned host-to-device rate over `--stream-mib 2` (2 MiB per copy), in
/// GB/s, from its model (`sim/models/m40.toml`): PCIe 3.0 x16 is 16 lanes × 8 GT/s × 128/130 / 8
/// = 15.754 GB/s, × pcie_efficiency 0.79 = 12.446 GB/s; one copy of 2 097 152 B takes the
/// copy latency, 8 µs, plus 168.51 µs: 176.51 µs, 11.881 GB/s.
fn m40_h2d_2mib_gbps() -> f64 {
    let bytes = 2.0 * 1024.0 * 1024.0;
    let rate = 16.0 * 8.0 * 128.0 / 130.0 / 8.0 * 0.79 * 1e9;
    bytes / (8e-6 + bytes / rate) / 1e9
}

/// The host-fit copy of g2.large whose h2d pass line is the simulated M40's modelled h2d
/// throughput at 2 MiB (spec = that throughput, pass fraction 1): a noiseless run sits exactly
/// on it, and noise spreads its samples on both sides.
fn g2_large_with_h2d_line_at_the_model(dir: &Path) -> PathBuf {
    let path = host_fit_profile("g2.large", dir);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for (i, block) in text.split("\n[[target]]\n").enumerate() {
        if i > 0 {
            out.push_str("\n[[target]]\n");
        }
        if block.contains("metric = \"h2d\"") {
            let lines: Vec<String> = block
                .lines()
                .map(|l| match l.split('=').next().unwrap_or("").trim() {
                    "spec_gbps" => format!("spec_gbps = {:.9}", m40_h2d_2mib_gbps()),
                    "pass_fraction" => "pass_fraction = 1.0".to_string(),
                    _ => l.to_string(),
                })
                .collect();
            out.push_str(&lines.join("\n"));
            out.push('\n');
        } else {
            out.push_str(block);
        }
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// `jitter=SIGMA` puts noise of relative standard deviation SIGMA on every event time.
///
/// At 0.02, against a profile whose h2d pass line is the modelled 11.881 GB/s
/// ([`m40_h2d_2mib_gbps`]): each sample is 11.881 / (1 + 0.02·z) GB/s, so about half of them
/// are slower than the line and half faster; the noise interval keeps the middle 80 %, about
/// ±2.6 % (the 10th and 90th percentiles of z are ∓1.28), and straddles the line. The check is
/// INCONCLUSIVE, the run exits 3, and the result says it never reached the 0.5 % noise target
/// (in run.json and report.md). Nothing fails: every other check of g2.large has more than
/// 2.6 % of margin on the M40's model, which noise spreads about but does not move.
///
/// At 0.25, every measurement with enough samples is noisy (rel. stddev ≈ 25 % > 5 %) and says
/// so.
#[test]
fn jitter_on_the_pass_line_is_inconclusive_and_heavy_jitter_warns_of_noise() {
    if crate::sim::stand_down_for_the_real_gpu(
        "jitter_on_the_pass_line_is_inconclusive_and_heavy_jitter_warns_of_noise",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = g2_large_with_h2d_line_at_the_model(dir.path());
    let (moderate, heavy) = std::thread::scope(|s| {
        let moderate = s.spawn(|| {
            sim_run_profile(
                &Sim::new(&["m40"]).fault("jitter=0.02"),
                profile.to_str().unwrap(),
                &["--allow-simulated"],
                Encode::Reported,
                dir.path(),
            )
        });
        let heavy = s.spawn(|| {
            sim_run(
                &Sim::new(&["m40"]).fault("jitter=0.25"),
                "g2.large",
                &["--allow-simulated"],
            )
        });
        (moderate.join().unwrap(), heavy.join().unwrap())
    });

    let r = &moderate;
    assert_eq!(r.code, Some(3), "{}", r.describe());
    let model = m40_h2d_2mib_gbps();
    let c = r.check("gpu0.h2d").unwrap();
    assert_eq!(c.verdict, Verdict::Inconclusive, "{}", r.describe());
    assert!(c.reason.contains("straddles the pass line"), "{}", c.reason);
    assert!(c.hint.contains("--level full"), "{}", c.hint);
    assert!((c.required.unwrap() / model - 1.0).abs() < 1e-6, "{c:?}");
    // The median of many samples of 1 / (1 + 0.02·z) stays within 1 % of the model.
    let v = c.observed.unwrap();
    assert!((v / model - 1.0).abs() < 0.01, "{v} GB/s, model {model}");
    let w = r
        .report
        .results
        .iter()
        .find(|w| c.evidence.contains(&w.id))
        .unwrap();
    let m = w.measurement.as_ref().unwrap();
    assert!(
        (m.summary.rel_stddev - 0.02).abs() < 0.006,
        "rel. stddev {}",
        m.summary.rel_stddev
    );
    let noise = m
        .warnings
        .iter()
        .find(
            |x| matches!(x, MeasurementWarning::NoiseNotReached { target, .. } if *target == 0.005),
        )
        .unwrap_or_else(|| panic!("{:?}", m.warnings));
    assert!(r.markdown.contains(&noise.to_string()), "{}", r.markdown);
    assert!(
        r.markdown.contains("INCONCLUSIVE") && r.markdown.contains("straddles the pass line"),
        "{}",
        r.markdown
    );

    let r = &heavy;
    let noisy: Vec<f64> = r
        .report
        .results
        .iter()
        .filter(|w| w.device == Some(0) && !is_encode(w))
        .filter_map(|w| w.measurement.as_ref().map(|m| (w, m)))
        .filter(|(_, m)| m.summary.n >= 10)
        .map(|(w, m)| {
            assert!(
                m.warnings
                    .iter()
                    .any(|x| matches!(x, MeasurementWarning::Noisy { .. })),
                "{}: {:?}",
                w.id,
                m.warnings
            );
            m.summary.rel_stddev
        })
        .collect();
    assert!(noisy.len() >= 5, "{}", r.describe());
    let mut sorted = noisy.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!((median - 0.25).abs() < 0.05, "rel. stddev {noisy:?}");
    assert!(r.markdown.contains("noisy: rel. stddev"), "{}", r.markdown);
}

/// A simulated H100 run with `--gemm-sizes 256` and 2 MiB stream arrays: each GEMM takes the
/// H100's 2.5 µs launch interval (2·256³ FLOP in 2.5 µs: 13.42 TFLOPS, against pass lines of
/// 40.2 and 25.5), and the triad takes 0.8 µs + 6 291 456 B / (3352 GB/s × 0.89) = 2.909 µs
/// (2163 GB/s, against 2345). All three FAIL, and each says the size is too small to measure
/// this GPU, with the quick level's sizes, instead of pointing at clocks and throttling. The
/// floors recorded for the GPU are the model's: 2.5 µs per launch, 5 µs + 4 B / 52.3 GB/s per
/// copy.
#[test]
fn a_size_too_small_for_a_simulated_h100_says_so_and_names_the_levels_sizes() {
    if crate::sim::stand_down_for_the_real_gpu(
        "a_size_too_small_for_a_simulated_h100_says_so_and_names_the_levels_sizes",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = sim_run_profile(
        &Sim::new(&["h100"]),
        "auto",
        &["--allow-simulated", "--gemm-sizes", "256"],
        Encode::Reported,
        dir.path(),
    );
    assert_eq!(r.code, Some(1), "{}", r.describe());
    let f = &r.report.floors[0];
    let launch = f.launch_s.unwrap();
    assert!((launch / 2.5e-6 - 1.0).abs() < 1e-5, "{f:?}");
    let pcie5_x16 = 16.0 * 32.0 * 128.0 / 130.0 / 8.0 * 0.83 * 1e9;
    let copy = 5e-6 + 4.0 / pcie5_x16;
    assert!((f.copy_s.unwrap() / copy - 1.0).abs() < 1e-5, "{f:?}");
    let gemm = 2.0 * 256f64.powi(3) / 2.5e-6 / 1e12;
    let triad = 6_291_456.0 / (0.8e-6 + 6_291_456.0 / (3352e9 * 0.89)) / 1e9;
    for (id, model, sizes) in [
        (
            "gpu0.fp32_gemm",
            gemm,
            "FP32 GEMM 4096 (leave out --gemm-sizes)",
        ),
        (
            "gpu0.fp64_gemm",
            gemm,
            "FP64 GEMM 2048 (leave out --gemm-sizes)",
        ),
        (
            "gpu0.stream_triad",
            triad,
            "stream arrays of 64 MiB, or 4 × the L2 cache where that is larger",
        ),
    ] {
        let c = r
            .check(id)
            .unwrap_or_else(|| panic!("no {id}: {}", r.describe()));
        assert_eq!(c.verdict, Verdict::Fail, "{id}: {}", r.describe());
        let v = c.observed.unwrap();
        assert!((v / model - 1.0).abs() < 1e-3, "{id}: {v}, model {model}");
        assert!(
            c.reason.contains("too small to measure this GPU")
                && c.reason.contains("the 2.50 µs a launch costs on this GPU"),
            "{id}: {}",
            c.reason
        );
        assert!(
            c.hint
                .starts_with("the size is too small to measure this GPU")
                && c.hint.contains("run the quick level's sizes")
                && c.hint.contains(sizes),
            "{id}: {}",
            c.hint
        );
        assert!(!c.hint.contains("throttle"), "{id}: {}", c.hint);
        assert!(
            r.markdown.contains(&c.hint),
            "{id}: the report shows the check's hint"
        );
    }
}
