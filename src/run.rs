//! The acceptance run: probe → plan → measure → verify → gate, producing one [`RunReport`].
//!
//! Nothing here prints: progress goes to a callback, and run.json is rewritten after every
//! workload so that a crash keeps what finished.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::gate::{self, Profile};
use crate::measure::tune::SizeClass;
use crate::measure::{self, SampleProgress, StoppingCriterion};
use crate::model::{
    BackendKind, DeviceInfo, HostInfo, Level, ModuleChoice, ModuleLoad, Role, RunReport, ToolInfo,
    Verification, WorkloadResult,
};
use crate::plan::{SizeOverrides, STREAM_L2_FACTOR};
use crate::probe::telemetry::{GpuTelemetry, TelemetrySummary};
use crate::report;
use crate::workload::device::DeviceProps;
use crate::workload::{GemmMath, Precision, Trial, WorkloadSpec};

/// Which backend to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// CUDA where a GPU can be used; otherwise the host, and the GPU checks fail with the reason.
    Auto,
    /// CUDA only.
    Cuda,
    /// The host CPU only (its results never count as GPU results).
    Host,
}

impl BackendChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cuda => "cuda",
            BackendChoice::Host => "host",
        }
    }
}

/// What `gpugate run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Built-in profile name or TOML path; None = auto (from the GPU catalogue).
    pub profile: Option<String>,
    pub level: Level,
    /// GPU ordinals to test; None = all.
    pub gpus: Option<Vec<u32>>,
    pub backend: BackendChoice,
    pub out: PathBuf,
    /// None = a fresh seed (recorded in the report).
    pub seed: Option<u64>,
    /// Time the GEMM variants again instead of using the tuning cache.
    pub retune: bool,
    /// Sizes the user set in place of the level's (`--gemm-sizes`, `--stream-mib`).
    pub sizes: SizeOverrides,
    /// Sampling times the user set in place of the level's (`--min-time`, `--timeout`).
    pub sampling: crate::measure::SamplingOverrides,
    /// Checks of simulated devices keep their verdicts (`--allow-simulated`).
    pub allow_simulated: bool,
    pub command_line: Vec<String>,
}

/// Progress of a run, for a progress line.
#[derive(Debug)]
pub enum Progress<'a> {
    Probed {
        host: &'a HostInfo,
        gpus: &'a [DeviceInfo],
        unavailable: Option<&'a str>,
    },
    ModulesLoaded {
        device: u32,
        loads: &'a [ModuleLoad],
    },
    /// Timing the GEMM variants of one precision, math and size class (autotuning).
    Tuning {
        device: u32,
        precision: Precision,
        math: GemmMath,
        class: SizeClass,
    },
    WorkloadStarted {
        index: usize,
        total: usize,
        id: &'a str,
    },
    Sample {
        index: usize,
        total: usize,
        id: &'a str,
        progress: SampleProgress,
    },
    WorkloadFinished {
        index: usize,
        total: usize,
        result: &'a WorkloadResult,
    },
    Note(&'a str),
}

pub fn tool_info() -> ToolInfo {
    ToolInfo {
        name: "gpugate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: option_env!("GPUGATE_GIT_COMMIT").map(str::to_string),
    }
}

/// Creates the run's own directory under `root` (`root/runs/<id>/`, see
/// [`report::layout`]), once the arguments are known to be good and before anything is
/// measured.
pub fn create_run_dir(root: &Path, started_at: &str) -> Result<report::layout::RunDir, Error> {
    report::layout::create_run_dir(root, started_at).map_err(|err| Error::Output {
        path: root.to_path_buf(),
        err,
    })
}

/// What a run leaves behind.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    /// The run's own directory, with every report in it.
    pub dir: report::layout::RunDir,
    /// `DIR/latest`, now naming this run; or why it could not be moved (the run's files are
    /// written either way).
    pub latest: Result<PathBuf, String>,
}

pub(crate) fn props_of(d: &DeviceInfo) -> DeviceProps {
    DeviceProps {
        name: d.name.clone(),
        sm_count: d.sm_count,
        l2_bytes: d.l2_cache_bytes,
        total_memory: d.total_memory_bytes,
        free_memory: d.free_memory_bytes,
        compute_capability: d.compute_capability,
    }
}

/// Stable id of a workload result.
pub fn result_id(device: Option<u32>, role: Role, spec: &WorkloadSpec) -> String {
    let dev = match device {
        Some(i) => format!("gpu{i}"),
        None => "host".into(),
    };
    match role {
        Role::Primary => format!("{dev}.{}", spec.name()),
        Role::Peer => format!("{dev}.peer.{}", spec.name()),
    }
}

/// How often telemetry is sampled while a workload is measured.
pub const TELEMETRY_PERIOD: std::time::Duration = std::time::Duration::from_millis(50);

/// A warning when the GPU reported throttle reasons during a measurement.
pub fn throttle_warning(t: &TelemetrySummary) -> Option<String> {
    if t.samples == 0 || t.throttled_fraction <= 0.0 {
        return None;
    }
    Some(format!(
        "throttled during {:.0}% of the measurement ({}){}",
        t.throttled_fraction * 100.0,
        t.throttle_reasons.join(", "),
        match (t.sm_clock_mhz_median, t.max_sm_clock_mhz) {
            (Some(held), Some(max)) => format!("; SM clock held {held:.0} of {max} MHz"),
            _ => String::new(),
        }
    ))
}

/// A sampler warning on a GPU result, with the GPU's likely causes (the sampler's own text
/// says only what the samples show: a host CPU result keeps it so, with no guess about
/// throttling).
pub fn gpu_warning(w: String) -> String {
    if w.starts_with(measure::NOISY_PREFIX) {
        format!("{w}: another process on the GPU, clock changes or throttling")
    } else if w.starts_with(measure::DRIFT_PREFIX) {
        format!("{w} (thermal or power throttling?)")
    } else {
        w
    }
}

/// Where a result comes from.
pub(crate) struct Slot {
    pub(crate) backend: BackendKind,
    pub(crate) device: Option<u32>,
    pub(crate) device_name: String,
    pub(crate) role: Role,
}

/// Announces, prepares, measures and verifies one workload. Never fails: errors land in the
/// result. `prepare` gets the result's id (each workload's seed derives from it). `telemetry`
/// is the GPU's NVML, sampled while the workload is measured, with the instant the run started
/// (the zero of the trace's times).
pub(crate) fn run_one<'d>(
    spec: &WorkloadSpec,
    at: &Slot,
    (index, total): (usize, usize),
    prepare: impl FnOnce(&str) -> Result<Box<dyn Trial + 'd>, crate::workload::WorkloadError>,
    crit: &StoppingCriterion,
    telemetry: Option<(&Arc<GpuTelemetry>, Instant)>,
    progress: &mut dyn FnMut(Progress),
) -> WorkloadResult {
    let id = result_id(at.device, at.role, spec);
    progress(Progress::WorkloadStarted {
        index,
        total,
        id: &id,
    });
    let mut result = WorkloadResult {
        id: id.clone(),
        backend: at.backend,
        device: at.device,
        device_name: at.device_name.clone(),
        role: at.role,
        spec: *spec,
        implementation: String::new(),
        math_mode: None,
        work: spec.work(),
        measurement: None,
        verification: Verification::not_checked("not run"),
        error: None,
        telemetry: None,
        telemetry_trace: Vec::new(),
    };
    match prepare(&id) {
        Err(e) => result.error = Some(format!("could not prepare: {e}")),
        Ok(mut trial) => {
            let mut on_sample = |p| {
                progress(Progress::Sample {
                    index,
                    total,
                    id: &id,
                    progress: p,
                })
            };
            let how = Sampling {
                crit,
                telemetry,
                on_sample: &mut on_sample,
            };
            measure_and_verify(trial.as_mut(), how, &mut result);
        }
    }
    progress(Progress::WorkloadFinished {
        index,
        total,
        result: &result,
    });
    result
}

/// The profile `--profile` names, loaded before anything is measured; None for `auto` (built
/// from the GPUs found). Names behave the same everywhere: `auto`, like the built-in names, in
/// any case.
/// How a prepared workload is sampled: the stopping rule, NVML (with the run's start, the zero
/// of its trace) and where each sample's progress goes.
struct Sampling<'s> {
    crit: &'s StoppingCriterion,
    telemetry: Option<(&'s Arc<GpuTelemetry>, Instant)>,
    on_sample: &'s mut dyn FnMut(SampleProgress),
}

/// Measures a prepared workload (with telemetry around it) and verifies its output, into
/// `result`; a failure on the way is the result's error.
fn measure_and_verify(trial: &mut dyn Trial, how: Sampling<'_>, result: &mut WorkloadResult) {
    let info = trial.info();
    result.implementation = info.implementation;
    result.math_mode = info.math_mode;
    let recorder = how
        .telemetry
        .map(|(t, epoch)| t.clone().start(TELEMETRY_PERIOD, epoch));
    let measured = measure::measure_until(
        trial,
        &result.spec,
        how.crit,
        how.on_sample,
        &crate::stop::requested,
    );
    if let Some(recorded) = recorder.map(|r| r.finish()) {
        result.telemetry = Some(recorded.summary);
        result.telemetry_trace = recorded.trace;
    }
    match measured {
        Ok(mut m) => {
            if result.backend == BackendKind::Cuda {
                m.warnings = m.warnings.into_iter().map(gpu_warning).collect();
            }
            if let Some(w) = result.telemetry.as_ref().and_then(throttle_warning) {
                m.warnings.push(w);
            }
            result.measurement = Some(m);
        }
        // Still verify: a run that failed part-way may have left wrong output behind.
        Err(e) => result.error = Some(format!("failed while running: {e}")),
    }
    match trial.verify() {
        Ok(v) => result.verification = v,
        Err(e) => {
            result
                .error
                .get_or_insert(format!("could not read the result back: {e}"));
        }
    }
}

pub fn resolve_profile(
    name: Option<&str>,
) -> Result<Option<(Profile, String)>, gate::ProfileError> {
    match name {
        None => Ok(None),
        Some(p) if p.eq_ignore_ascii_case("auto") => Ok(None),
        Some(p) => gate::load_profile(p).map(Some),
    }
}

pub use crate::clock::{now_rfc3339, rfc3339};
pub use crate::runner::run;
pub use crate::seed::{fresh_seed, workload_seed};

/// The run's notes and records for GPU `gpu`'s kernel families that did not load the GPU's best
/// build because the driver's JIT (or the device) is too old: "GPU 0: gemm: compute_70 build
/// loaded instead of compute_80: …", or "GPU 0: kernel module 'stream' not loaded, its workloads
/// fail: …". Nothing for a family that loaded its best build.
pub fn module_notes(gpu: u32, set: &crate::kernels::KernelSet) -> Vec<(String, ModuleChoice)> {
    set.families
        .iter()
        .filter_map(|f| {
            let record = f.record(gpu);
            let reason = record.reason.as_deref()?;
            let note = match f.loaded {
                Some(_) => format!("GPU {gpu}: {reason}"),
                None => format!(
                    "GPU {gpu}: kernel module '{}' not loaded, its workloads fail: {reason}",
                    f.family
                ),
            };
            Some((note, record))
        })
        .collect()
}

/// A note for the report when `--stream-mib` makes the stream arrays smaller than
/// [`STREAM_L2_FACTOR`] × the GPU's L2 cache: the bandwidth measured is then partly the cache's.
pub(crate) fn small_stream_note(sizes: &SizeOverrides, d: &DeviceInfo) -> Option<String> {
    let bytes = sizes.stream_bytes?;
    let floor = STREAM_L2_FACTOR as u64 * d.l2_cache_bytes;
    (floor > 0 && (bytes as u64) < floor).then(|| {
        format!(
            "GPU {}: stream arrays of {} MiB (--stream-mib) are smaller than {STREAM_L2_FACTOR} × \
             its L2 cache ({:.1} MiB): their bandwidth may be partly the cache's, not DRAM's",
            d.index,
            bytes >> 20,
            floor as f64 / (1u64 << 20) as f64
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    #[test]
    fn throttling_is_a_warning_with_reasons_and_clock() {
        let mut t = crate::probe::telemetry::summarize(&[], Some(1114), None);
        assert_eq!(throttle_warning(&t), None, "no samples, no warning");
        t.samples = 20;
        t.throttled_fraction = 0.25;
        t.throttle_reasons = vec!["hw_thermal_slowdown".into(), "sw_power_cap".into()];
        t.sm_clock_mhz_median = Some(948.0);
        let w = throttle_warning(&t).unwrap();
        assert_eq!(
            w,
            "throttled during 25% of the measurement (hw_thermal_slowdown, sw_power_cap); SM clock held 948 of 1114 MHz"
        );
        t.throttled_fraction = 0.0;
        assert_eq!(throttle_warning(&t), None);
    }

    #[test]
    fn one_peer_per_gpu_precision_and_shape_whatever_the_math() {
        let mut props = props_of(&DeviceInfo {
            compute_capability: (9, 0),
            total_memory_bytes: 80 << 30,
            free_memory_bytes: 79 << 30,
            l2_cache_bytes: 50 << 20,
            ..Default::default()
        });
        let mut jobs = Vec::new();
        for d in [0, 1] {
            for s in plan(Level::Standard, BackendKind::Cuda, Some(&props)) {
                jobs.push((Some(d), s));
            }
        }
        for s in plan(Level::Standard, BackendKind::Host, None) {
            jobs.push((None, s));
        }
        let gemms = |p: Precision, math: GemmMath| {
            jobs.iter()
                .filter(|(d, s)| {
                    *d == Some(0)
                        && matches!(*s, WorkloadSpec::Gemm { precision, math: m, .. }
                            if precision == p && m == math)
                })
                .count()
        };
        let (s, d, dtc, htc) = (
            gemms(Precision::F32, GemmMath::CudaCores),
            gemms(Precision::F64, GemmMath::CudaCores),
            gemms(Precision::F64, GemmMath::TensorCores),
            gemms(Precision::F16, GemmMath::TensorCores),
        );
        assert!(
            d > 0 && d == dtc,
            "sm_90 runs every DGEMM size on both maths"
        );
        // DGEMM: one peer per shape, not one per math; none for the host.
        let peers = |jobs: &[(Option<u32>, WorkloadSpec)]| {
            (0..2)
                .map(|g| {
                    let own: Vec<WorkloadSpec> = jobs
                        .iter()
                        .filter(|(d, _)| *d == Some(g))
                        .map(|(_, s)| *s)
                        .collect();
                    crate::peer::cublas_jobs(&own).len()
                })
                .sum::<usize>()
        };
        assert_eq!(peers(&jobs), 2 * (s + d + htc));
        // A peer is recorded on the CUDA-core spec, so its id names no math.
        let tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 2048,
            n: 2048,
            k: 2048,
            math: GemmMath::TensorCores,
        };
        let p = tc.peer_spec().unwrap();
        assert_eq!(p, WorkloadSpec::gemm(Precision::F64, 2048, 2048, 2048));
        assert_eq!(
            result_id(Some(0), Role::Peer, &p),
            "gpu0.peer.dgemm.2048x2048x2048"
        );
        assert_eq!(
            result_id(Some(0), Role::Primary, &tc),
            "gpu0.dgemm.tc.2048x2048x2048"
        );
        // An older GPU: no tensor-core DGEMM, one peer per GEMM as before.
        props.compute_capability = (5, 2);
        let old: Vec<_> = plan(Level::Standard, BackendKind::Cuda, Some(&props))
            .into_iter()
            .map(|s| (Some(0), s))
            .collect();
        let n_gemm = old
            .iter()
            .filter(|(_, s)| matches!(s, WorkloadSpec::Gemm { .. }))
            .count();
        assert_eq!(peers(&old), n_gemm);
    }

    #[test]
    fn module_notes_say_which_build_loaded_and_what_to_install() {
        use crate::kernels::{select_modules, KernelModule, KernelSet};
        // The best builds: nothing to note.
        assert!(module_notes(0, &KernelSet::select((8, 0), 11000)).is_empty());
        assert!(module_notes(0, &KernelSet::select((5, 2), 10010)).is_empty());
        // An A100 on R418: gemm from compute_70, said so.
        let notes = module_notes(1, &KernelSet::select((8, 0), 10010));
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].0,
            "GPU 1: gemm: compute_70 build loaded instead of compute_80: the driver's JIT accepts \
             up to PTX ISA 6.4; compute_80 needs 7.0 (R450+)"
        );
        let r = &notes[0].1;
        assert_eq!((r.device, r.module.as_str()), (1, "gemm"));
        assert_eq!(r.target.as_deref(), Some("compute_70"));
        assert_eq!(r.refused.as_deref(), Some("compute_80"));
        assert_eq!(r.refused_min_driver.as_deref(), Some("CUDA 11.0 (R450+)"));
        // A stream build patched to PTX ISA 8.0 on R470: that family is not loaded, its
        // workloads fail, and the note names R525.
        static PATCHED: [KernelModule; 2] = [
            KernelModule {
                name: "gemm",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "4.1",
                ptx: "",
                entries: &[],
            },
            KernelModule {
                name: "stream",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "8.0",
                ptx: "",
                entries: &[],
            },
        ];
        let set = KernelSet {
            families: select_modules(&PATCHED, (5, 2), 11040),
        };
        let notes = module_notes(0, &set);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].0.starts_with(
                "GPU 0: kernel module 'stream' not loaded, its workloads fail: the driver is too \
                 old for kernel module 'stream' (compute_52, PTX ISA 8.0)"
            ) && notes[0].0.contains("CUDA 12.0 or newer (R525+)"),
            "{}",
            notes[0].0
        );
        assert_eq!(notes[0].1.target, None);
        // The record survives run.json, and a run.json without module_notes still loads.
        let json = serde_json::to_string(&notes[0].1).unwrap();
        assert_eq!(
            serde_json::from_str::<ModuleChoice>(&json).unwrap(),
            notes[0].1
        );
        let old: ModuleChoice = serde_json::from_str(r#"{"device": 0, "module": "gemm"}"#).unwrap();
        assert_eq!((old.target, old.reason), (None, None));
    }

    /// `--profile AUTO` is `auto`, as `G2.LARGE` is g2.large (it was refused).
    #[test]
    fn profile_names_are_case_insensitive_auto_included() {
        for auto in ["auto", "AUTO", "Auto"] {
            assert!(resolve_profile(Some(auto)).unwrap().is_none(), "{auto}");
        }
        assert!(resolve_profile(None).unwrap().is_none());
        let (p, origin) = resolve_profile(Some("G2.LARGE")).unwrap().unwrap();
        assert_eq!((p.name.as_str(), origin.as_str()), ("g2.large", "builtin"));
        assert!(resolve_profile(Some("g9.huge")).is_err());
    }
}
