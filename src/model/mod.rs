//! The data model shared by every stage: what was measured, verified and decided.
//!
//! [`RunReport`] is the single source of every output (run.json, report.md, the console table).
//! Everything here is plain data (serde); nothing here measures or prints.

use serde::{Deserialize, Serialize};

pub mod burn;
pub mod health;
pub mod memtest;
pub mod p2p;
pub mod profile;
pub mod spec;
pub mod telemetry;
pub mod tuning;
pub mod warning;

pub use spec::WorkloadSpec;
pub use warning::MeasurementWarning;

/// Version of the run.json schema. Bump on any incompatible change.
/// 2: the profile's machine block and targets are recorded (`profile.machine`,
/// `profile.targets`), each GPU's nominal peaks (`peaks`), `interrupted`, and the
/// `run.complete` check.
/// 3: a check records how it was decided: the noise interval it compared with its pass line
/// (`checks[].noise_interval`) and the result(s) its value came from (`checks[].decided_from`).
/// `gpugate report` reads 1 and 2 too: it decides their checks again, which records both.
/// 4: a measurement's warnings are typed (`results[].measurement.warnings[]`, objects tagged by
/// `kind` with their data, [`MeasurementWarning`]) where they were text. The text of 1 to 3 is
/// parsed when the file is read, into the warning that renders the same text.
/// 5: a burn-in's recorded profile may carry its own targets (`profile.burn.targets`, a
/// profile's `[[burn.target]]`), which the `[burn]` block of a schema-4 gpugate refuses as an
/// unknown key: a newer-schema message instead of "wrong shape". The burn's solo runs
/// (`burn.solo`), the P2P section (`p2p`) and the profile's `[p2p]` (`profile.p2p`) came with
/// it, optional. 4 reads as 5.
/// 6: a recorded profile's `[health]` may carry a temperature limit (`max_temperature_c`),
/// which the `[health]` block of a schema-5 gpugate refuses as an unknown key. Each GPU's
/// health records its NVML slowdown temperature (`health[].slowdown_temperature_c`) and each
/// burn interval its start on the run's clock (`burn.gpus[].intervals[].at_s`), both
/// optional. 5 reads as 6 (no temperature check without a limit recorded).
pub const SCHEMA_VERSION: u32 = 6;

/// serde for an f64 that may be NaN or infinite (a failed verification's error, a degenerate
/// sample's throughput): JSON has no such numbers, so they are written as `null` and `null` is
/// read back as NaN. Every such field says `#[serde(with = "nonfinite")]`; nothing else in the
/// schema needs to know.
pub mod nonfinite {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// How much work a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A few seconds: one GEMM size per precision, stream and transfers at modest sizes.
    Quick,
    /// The acceptance default: larger GEMMs, full stream set, transfers.
    Standard,
    /// Everything standard does, with the largest sizes that fit and longer sampling.
    Full,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Quick => "quick",
            Level::Standard => "standard",
            Level::Full => "full",
        })
    }
}

/// Which backend ran a workload. Host results never count as GPU results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Cuda,
    Host,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Cuda => "cuda",
            BackendKind::Host => "host",
        })
    }
}

/// The outcome of one check, and of the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Skipped,
    Inconclusive,
    Fail,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Skipped => "SKIPPED",
        })
    }
}

/// Bytes moved and operations done by one iteration of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Work {
    /// Minimum bytes that must cross the memory interface (or the bus) per iteration.
    pub bytes: f64,
    /// Floating-point operations per iteration (an FMA counts as 2).
    pub flops: f64,
    /// Integer operations per iteration, as the algorithm counts them (the video stages: a
    /// multiply-add counts as 2, an absolute difference as 2, a shift or a compare as 1).
    /// Absent in run.json files written before the video workloads: 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub int_ops: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Inventory of one GPU, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DeviceInfo {
    /// CUDA ordinal.
    pub index: u32,
    pub name: String,
    pub uuid: String,
    /// PCI bus id, `domain:bus:device.function`.
    pub pci_bus_id: String,
    pub compute_capability: (u32, u32),
    pub sm_count: u32,
    /// Maximum SM clock, kHz.
    pub sm_clock_khz: u32,
    /// Memory clock, kHz.
    pub memory_clock_khz: u32,
    pub memory_bus_width_bits: u32,
    pub total_memory_bytes: u64,
    pub free_memory_bytes: u64,
    pub l2_cache_bytes: u64,
    /// Driver version as CUDA reports it, e.g. 12040 for 12.4.
    pub driver_cuda_version: u32,
    /// Highest PTX ISA the driver's JIT accepts, e.g. "8.4".
    pub max_ptx_isa: String,
    pub pcie_link_gen: Option<u32>,
    pub pcie_link_width: Option<u32>,
    /// A simulated device (gpugate-sim), not a GPU: its numbers are not measurements, and its
    /// checks can pass only in a run given `--allow-simulated`. Derived, never trusted alone:
    /// gpugate sets it from [`DeviceInfo::is_simulated`] when it probes and again when it reads
    /// a run.json, so a file edited to say `false` is still simulated. Absent in run.json files
    /// written before the simulator existed: false.
    #[serde(default)]
    pub simulated: bool,
    /// What the driver library that enumerated this device declares itself to be, where it is
    /// not NVIDIA's: gpugate-sim's libcuda exports an entry point no NVIDIA driver has
    /// (`gpugateSimIdentity`) and this is its text ("gpugate-sim 0.1.0: a simulated NVIDIA
    /// driver …"). Absent (None) for NVIDIA's driver, and in run.json files written before
    /// gpugate looked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_identity: Option<String>,
    /// The hardware video encoders (NVENC): how many (GPU models catalogue), and what NVML
    /// says about them. Absent in run.json files written before gpugate looked: unknown.
    #[serde(default)]
    pub nvenc: NvencInfo,
}

/// A GPU's hardware video encoders (NVENC). The engine count comes from the GPU models
/// catalogue (NVIDIA's support matrix), or, for a GPU the catalogue does not know, "none" from
/// NVML when the driver says the GPU has no encoder; NVML has no engine count. The NVML
/// readings (H.264 encoder capacity, utilisation, sessions) are there where the driver's NVML
/// gives them, each `None` otherwise, with `nvml_note` saying why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct NvencInfo {
    /// NVENC engines on the chip: `Some(0)` = none, `None` = unknown.
    #[serde(default)]
    pub engines: Option<u32>,
    /// Where `engines` comes from.
    #[serde(default)]
    pub source: Option<String>,
    /// NVML: `Some(true)` when the driver reports an H.264 encoder, `Some(false)` when it says
    /// the GPU has none (NVML_ERROR_NOT_SUPPORTED), `None` when NVML could not tell.
    #[serde(default)]
    pub nvml_encoder: Option<bool>,
    /// NVML: H.264 encoder capacity left, % of the maximum (100 = idle).
    #[serde(default)]
    pub capacity_h264_percent: Option<u32>,
    /// NVML: encoder utilisation, %, over its last sampling period.
    #[serde(default)]
    pub utilization_percent: Option<u32>,
    /// NVML: active encode sessions on the GPU (any process).
    #[serde(default)]
    pub sessions: Option<u32>,
    /// NVML: trailing average frames per second of the active sessions.
    #[serde(default)]
    pub average_fps: Option<u32>,
    /// NVML: trailing average encode latency, µs.
    #[serde(default)]
    pub average_latency_us: Option<u32>,
    /// Why NVML readings are missing: no NVML, an entry point this driver's NVML lacks ("not
    /// available on this driver"), or the GPU has no encoder.
    #[serde(default)]
    pub nvml_note: Option<String>,
}

/// What `gpugate info` and the reports say of a GPU without NVENC.
pub const NO_NVENC: &str = "no NVENC engine on this GPU";
/// What they say when neither the catalogue nor NVML tells the engine count.
pub const NVENC_UNKNOWN: &str = "NVENC engine count unknown for this GPU";

impl NvencInfo {
    /// "2", "none" or "unknown": the engine count in a table cell.
    pub fn engines_cell(&self) -> String {
        match self.engines {
            Some(0) => "none".into(),
            Some(n) => n.to_string(),
            None => "unknown".into(),
        }
    }

    /// The engine count in words with its source: "2 NVENC engines (catalogue: …)", "no NVENC
    /// engine on this GPU (…)", "NVENC engine count unknown for this GPU (…)".
    pub fn engines_text(&self) -> String {
        let src = self
            .source
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        match self.engines {
            Some(0) => format!("{NO_NVENC}{src}"),
            Some(1) => format!("1 NVENC engine{src}"),
            Some(n) => format!("{n} NVENC engines{src}"),
            None => {
                let nvml = match self.nvml_encoder {
                    Some(true) => {
                        " (not in the catalogue; NVML reports an H.264 encoder but not how many \
                         engines)"
                    }
                    _ => " (not in the catalogue, and NVML does not tell)",
                };
                format!("{NVENC_UNKNOWN}{nvml}")
            }
        }
    }

    /// The NVML readings in words, or why there are none; None when there is nothing to say.
    pub fn nvml_text(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(c) = self.capacity_h264_percent {
            parts.push(format!("H.264 capacity {c} %"));
        }
        if let Some(u) = self.utilization_percent {
            parts.push(format!("utilisation {u} %"));
        }
        if let Some(n) = self.sessions {
            let mut s = format!("{n} session{}", if n == 1 { "" } else { "s" });
            if n > 0 {
                if let (Some(f), Some(l)) = (self.average_fps, self.average_latency_us) {
                    s.push_str(&format!(" (average {f} fps, {l} µs)"));
                }
            }
            parts.push(s);
        }
        let mut text = parts.join(", ");
        if let Some(note) = &self.nvml_note {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(note);
        }
        (!text.is_empty()).then(|| format!("NVML: {text}"))
    }
}

/// What a simulated device's name carries ("Tesla M40 24GB (gpugate-sim)"). No real GPU is
/// named so.
pub const SIMULATED_MARK: &str = "(gpugate-sim)";

/// Whether a CUDA device name is a simulated device's: it names gpugate-sim anywhere, in any
/// case (gpugate-sim itself only accepts names that end with [`SIMULATED_MARK`]; a name that
/// merely mentions it is no GPU's either).
pub fn is_simulated_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("gpugate-sim")
}

impl DeviceInfo {
    /// Whether this device is simulated, from what is known of it: the driver that enumerated
    /// it declared itself gpugate-sim ([`DeviceInfo::driver_identity`]), or its name names the
    /// simulator, or it was already marked simulated. A stored `simulated: false` never makes a
    /// device real on its own: this is how a run is decided, on the machine and from run.json.
    pub fn is_simulated(&self) -> bool {
        self.simulated || self.driver_identity.is_some() || is_simulated_name(&self.name)
    }
}

/// Inventory of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub kernel: String,
    pub cpu_model: String,
    pub logical_cpus: u32,
    pub memory_bytes: u64,
    /// Total size of local block devices (not partitions, loop or RAM disks).
    pub local_disk_bytes: u64,
}

/// One kernel module loaded onto one device, and what loading cost (JIT included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleLoad {
    pub device: u32,
    pub module: String,
    /// PTX target the module was built for, e.g. "compute_52".
    pub target: String,
    pub seconds: f64,
}

/// What one device, on its driver, loads of one kernel family: the build (the highest that both
/// the device and the driver's PTX JIT take), or why none. `gpugate info` shows one per family;
/// a run records those that did not get the device's best build (`RunReport::module_notes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleChoice {
    pub device: u32,
    pub module: String,
    /// The build that loads, e.g. "compute_70"; None when none can.
    #[serde(default)]
    pub target: Option<String>,
    /// Its PTX ISA version, e.g. "6.3".
    #[serde(default)]
    pub ptx_isa: Option<String>,
    /// The oldest driver that takes it, e.g. "CUDA 10.0 (R410+)".
    #[serde(default)]
    pub min_driver: Option<String>,
    /// The device's best build when the driver's JIT refused it (a lower build, or none, loads
    /// instead), e.g. "compute_80", and the oldest driver that takes it.
    #[serde(default)]
    pub refused: Option<String>,
    #[serde(default)]
    pub refused_ptx_isa: Option<String>,
    #[serde(default)]
    pub refused_min_driver: Option<String>,
    /// Why a lower build or none loads; the run's note says the same, and every workload that
    /// needed what is missing fails with it.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Summary statistics of a set of samples (seconds per iteration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    #[serde(with = "nonfinite")]
    pub median: f64,
    #[serde(with = "nonfinite")]
    pub mean: f64,
    #[serde(with = "nonfinite")]
    pub min: f64,
    #[serde(with = "nonfinite")]
    pub max: f64,
    #[serde(with = "nonfinite")]
    pub stddev: f64,
    /// stddev / mean.
    #[serde(with = "nonfinite")]
    pub rel_stddev: f64,
}

/// Why sampling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Relative noise fell below the target after the minimum samples and time.
    Converged,
    /// The time budget ran out before the noise target was met.
    Timeout,
    /// The sample cap was reached.
    MaxSamples,
    /// The run was asked to stop (SIGINT, SIGTERM) during sampling: fewer samples than the
    /// criterion wanted.
    Interrupted,
}

/// Throughput derived from the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// "TFLOPS" (1e12 FLOP/s) or "GB/s" (1e9 B/s).
    pub unit: String,
    /// From the median time.
    #[serde(with = "nonfinite")]
    pub median: f64,
    /// From the fastest sample.
    #[serde(with = "nonfinite")]
    pub best: f64,
    /// From the slowest sample.
    #[serde(with = "nonfinite")]
    pub worst: f64,
}

/// A timed measurement of one prepared workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Seconds per iteration, one entry per sample, in the order taken.
    pub samples: Vec<f64>,
    /// Iterations batched into each sample.
    pub iters_per_sample: u64,
    pub summary: Summary,
    pub throughput: Throughput,
    pub warmup_seconds: f64,
    pub total_seconds: f64,
    pub stop_reason: StopReason,
    /// Text only when rendered (`Display`); read from either form (`warning::read`).
    #[serde(deserialize_with = "warning::read")]
    pub warnings: Vec<MeasurementWarning>,
}

/// Outcome of a correctness check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    Passed,
    Failed,
    NotChecked,
}

/// One element that did not match its reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    /// Where, e.g. "C[12,7]" or "a[1023]" or "byte 4096".
    pub at: String,
    #[serde(with = "nonfinite")]
    pub expected: f64,
    #[serde(with = "nonfinite")]
    pub got: f64,
}

/// The correctness verdict on a workload's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub status: VerifyStatus,
    /// How it was checked, e.g. "Freivalds (3 vectors, f64) + 64 sampled elements in f64".
    pub method: String,
    /// Largest error seen, relative to the tolerance's scale.
    #[serde(with = "nonfinite")]
    pub max_error: f64,
    /// The tolerance that max_error is compared with.
    #[serde(with = "nonfinite")]
    pub tolerance: f64,
    /// Elements or bytes checked.
    pub checked: u64,
    /// The first mismatches (at most 10).
    pub mismatches: Vec<Mismatch>,
}

impl Verification {
    pub fn not_checked(method: impl Into<String>) -> Self {
        Verification {
            status: VerifyStatus::NotChecked,
            method: method.into(),
            max_error: 0.0,
            tolerance: 0.0,
            checked: 0,
            mismatches: Vec::new(),
        }
    }
    pub fn passed(&self) -> bool {
        self.status == VerifyStatus::Passed
    }
}

/// Whether a result is gpugate's own kernel or a vendor library run beside it for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Peer,
}

/// One workload run on one device: what ran, how fast, whether it was right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// Stable test name, e.g. "gpu0.sgemm.4096x4096x4096" or "host.stream.triad.f64".
    pub id: String,
    pub backend: BackendKind,
    /// GPU ordinal for CUDA results; None for host results.
    pub device: Option<u32>,
    pub device_name: String,
    pub role: Role,
    pub spec: WorkloadSpec,
    /// What produced the number: kernel entry, or library call.
    pub implementation: String,
    /// Math mode for GEMMs (e.g. "FP32 FMA", "cuBLAS pedantic FP32"); None otherwise.
    pub math_mode: Option<String>,
    pub work: Work,
    pub measurement: Option<Measurement>,
    pub verification: Verification,
    /// Set when the workload could not be prepared or run.
    pub error: Option<String>,
    /// GPU clocks, temperature, power and throttle reasons sampled (NVML) while it was measured.
    #[serde(default)]
    pub telemetry: Option<telemetry::TelemetrySummary>,
    /// The readings behind `telemetry`, timed from the start of the run (for the telemetry
    /// chart). Absent when NVML was not sampled, and in files written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub telemetry_trace: Vec<telemetry::TelemetryPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    Performance,
    Correctness,
    Inventory,
    /// About the run itself: `run.complete`.
    Run,
}

/// One gate decision: observed against required, with what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name, e.g. "gpu0.fp32_gemm" or "machine.gpu_count".
    pub id: String,
    pub kind: CheckKind,
    pub device: Option<u32>,
    /// Human title, e.g. "FP32 GEMM throughput".
    pub title: String,
    pub verdict: Verdict,
    pub observed: Option<f64>,
    /// The pass line (spec × pass fraction for performance checks).
    pub required: Option<f64>,
    /// The nominal (spec sheet) value the pass line derives from.
    pub spec: Option<f64>,
    /// observed / spec × 100.
    pub percent_of_spec: Option<f64>,
    pub unit: String,
    /// Where the target came from.
    pub source: Option<String>,
    /// Why the verdict is what it is.
    pub reason: String,
    /// What to do next.
    pub hint: String,
    /// Workload result ids this check looked at: every result of its metric and GPU(s),
    /// whether or not it ran, was verified or counted.
    pub evidence: Vec<String>,
    /// The noise interval of `observed` that the gate compared with the pass line (schema 3
    /// on): FAIL when all of it is below the line, PASS when all of it reaches it. Set only
    /// where a valid value was judged against a line; absent otherwise, and in the checks of an
    /// older run.json that are shown as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_interval: Option<Interval>,
    /// The ids of the result(s) `observed` and `noise_interval` came from (schema 3 on): the
    /// one result a GPU's check counted, one per GPU for a machine check (summed). Empty where
    /// no value was judged, and in the checks of an older run.json that are shown as stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decided_from: Vec<String>,
}

/// A closed interval `[lo, hi]` of values in a check's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// The profile a run was gated against, as recorded in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRef {
    pub name: String,
    /// "builtin", "auto", or the file path it was read from.
    pub origin: String,
    pub description: String,
    /// The profile's machine block as gated (schema 2 on), so that `gpugate report` recomputes
    /// every check from the run alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<profile::Machine>,
    /// The profile's targets as gated (schema 2 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<profile::Target>>,
    /// The profile's memory-test requirement, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memtest: Option<profile::MemtestTarget>,
    /// The profile's health limits as gated, where it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<profile::HealthLimits>,
    /// The profile's burn-in durations and limits, where it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<profile::BurnLimits>,
    /// The profile's peer-to-peer requirement (`[p2p]`), where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<profile::P2pRequirement>,
}

impl ProfileRef {
    /// The record of `p`, read from `origin`.
    pub fn of(p: &profile::Profile, origin: String) -> Self {
        ProfileRef {
            name: p.name.clone(),
            origin,
            description: p.description.clone(),
            machine: Some(p.machine.clone()),
            targets: Some(p.targets.clone()),
            memtest: p.memtest.clone(),
            health: p.health.clone(),
            burn: p.burn.clone(),
            p2p: p.p2p.clone(),
        }
    }

    /// The profile as recorded, when the run.json records it (schema 2 on).
    pub fn recorded(&self) -> Option<profile::Profile> {
        Some(profile::Profile {
            name: self.name.clone(),
            description: self.description.clone(),
            machine: self.machine.clone()?,
            targets: self.targets.clone()?,
            memtest: self.memtest.clone(),
            health: self.health.clone(),
            burn: self.burn.clone(),
            p2p: self.p2p.clone(),
        })
    }
}

/// One GPU's nominal peaks, recorded at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuPeaks {
    pub device: u32,
    /// The catalogue entry the GPU matched; None when the peaks were derived from its
    /// attributes.
    pub catalogue_model: Option<String>,
    /// CUDA-core (vector) peaks, TFLOPS.
    pub fp32_tflops: Option<f64>,
    pub fp64_tflops: Option<f64>,
    /// Dense tensor-core peaks from the catalogue, TFLOPS, where it has them.
    pub fp64_tensor_tflops: Option<f64>,
    pub fp16_tensor_tflops: Option<f64>,
    /// Memory bandwidth, GB/s.
    pub memory_gbps: Option<f64>,
    /// Where the numbers come from (the catalogue's datasheet source, or the derivation).
    pub source: String,
}

/// What one operation costs on a GPU whatever its size, measured when the GPU was opened
/// (`measure::floor`): the time of one kernel launch (an empty kernel, launched back to back)
/// and of one small host-to-device copy. A workload whose time at its pass line is within a
/// small factor of it is too small to measure the GPU, and the gate says so instead of blaming
/// the GPU. None where it could not be measured (`note` says why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuFloor {
    pub device: u32,
    /// Seconds per launch of an empty kernel, back to back: the fastest of a few timed batches.
    #[serde(default)]
    pub launch_s: Option<f64>,
    /// Seconds per host-to-device copy of a few bytes from pinned memory, back to back: the
    /// fastest of a few timed batches.
    #[serde(default)]
    pub copy_s: Option<f64>,
    /// Why a floor is missing (the timer gave no valid time, a launch failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How a run was stopped before its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// "SIGINT" or "SIGTERM".
    pub signal: String,
    /// RFC 3339, UTC: when the run stopped.
    pub at: String,
    /// Workloads finished (measured or failed) before it stopped…
    pub finished_workloads: usize,
    /// …of those planned.
    pub planned_workloads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_commit: Option<String>,
}

/// A whole acceptance run: the single source of every report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// False while the run is in progress (run.json is rewritten after each workload), and for
    /// a run that was interrupted or killed.
    pub complete: bool,
    /// Set when a signal stopped the run: what was measured is kept, the rest is missing, and
    /// the `run.complete` check fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interruption>,
    pub command_line: Vec<String>,
    pub seed: u64,
    pub level: Level,
    /// The backend asked for: "auto", "cuda" or "host".
    pub backend_requested: String,
    pub profile: ProfileRef,
    pub host: HostInfo,
    pub gpus: Vec<DeviceInfo>,
    /// Why no GPU could be used, when none could.
    pub gpu_unavailable: Option<String>,
    /// Each GPU's nominal peaks as this run knew them (catalogue or derived), so that a
    /// report rendered later by another gpugate gives the same "% of peak". Absent in schema 1
    /// files: reports then look the peaks up in their own catalogue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peaks: Vec<GpuPeaks>,
    /// Each GPU's launch and copy floor, measured when it was opened: what the gate compares a
    /// too-small workload with. Absent in files written before gpugate measured it (their
    /// checks then say nothing of a size too small), and for GPUs that could not be opened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floors: Vec<GpuFloor>,
    pub module_loads: Vec<ModuleLoad>,
    /// Kernel families a GPU did not load its best build of, because the driver's JIT (or the
    /// device) is too old: a lower build (`target` set) or none, and why. Absent in older
    /// run.json files, and when every GPU loaded its best builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module_notes: Vec<ModuleChoice>,
    /// GEMM variant choice per GPU (autotuned on the device, or from the tuning cache).
    #[serde(default)]
    pub tuning: Vec<tuning::TuningTable>,
    pub results: Vec<WorkloadResult>,
    pub checks: Vec<Check>,
    /// Run-level notes: an optional peer that was not found, a GPU that could not be opened, …
    #[serde(default)]
    pub notes: Vec<String>,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// The run was given `--allow-simulated`: checks of simulated devices keep their verdicts
    /// (otherwise each of them FAILS with "simulated device"). Absent in older run.json: false.
    #[serde(default)]
    pub allow_simulated: bool,
    /// The GPU memory test of each GPU tested (`gpugate memtest`; a burn-in's memory stage).
    /// Absent from runs that did not test memory, and from files written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memtest: Vec<memtest::MemtestReport>,
    /// Each GPU's health before and after the run, and its Xid events (`health`). Absent in
    /// files written before it was recorded, and where no GPU was used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<health::GpuHealth>,
    /// The burn-in's settings, intervals and errors (`gpugate burn`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<burn::BurnSection>,
    /// Peer-to-peer between the GPUs (a burn-in's P2P stage); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<p2p::P2pSection>,
}

impl RunReport {
    /// Whether any GPU of the run is simulated (every report then says so in its header).
    pub fn simulated(&self) -> bool {
        self.gpus.iter().any(|g| g.is_simulated())
    }

    /// The overall verdict of a set of checks: any Fail fails, else any Inconclusive, else Pass.
    pub fn overall(checks: &[Check]) -> Verdict {
        let mut v = Verdict::Pass;
        for c in checks {
            match c.verdict {
                Verdict::Fail => return Verdict::Fail,
                Verdict::Inconclusive => v = Verdict::Inconclusive,
                _ => {}
            }
        }
        v
    }
}

/// Exit codes (a contract, documented in the README).
pub mod exit {
    /// Every check passed.
    pub const PASS: i32 = 0;
    /// A check failed (performance, correctness or inventory).
    pub const FAIL: i32 = 1;
    /// The tool could not run (bad arguments, unreadable profile, I/O).
    pub const USAGE: i32 = 2;
    /// Nothing failed but something was inconclusive.
    pub const INCONCLUSIVE: i32 = 3;

    pub fn for_verdict(v: super::Verdict) -> i32 {
        match v {
            super::Verdict::Pass | super::Verdict::Skipped => PASS,
            super::Verdict::Fail => FAIL,
            super::Verdict::Inconclusive => INCONCLUSIVE,
        }
    }
}
