//! The machine profile a run was gated against, as run.json records it (schema 2 on) and as
//! profile TOML files spell it. Parsing, validation, the built-in profiles and `auto` live in
//! `crate::gate::profile`.

use serde::{Deserialize, Serialize};

/// What a target measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// FP32 GEMM (gpugate's own kernel, FP32 FMA, never TF32), TFLOPS.
    Fp32Gemm,
    /// FP64 GEMM (vector FP64, never DMMA), TFLOPS.
    Fp64Gemm,
    /// STREAM triad bandwidth, GB/s.
    StreamTriad,
    /// Host-to-device copies from pinned memory, GB/s.
    H2d,
    /// Device-to-host copies into pinned memory, GB/s.
    D2h,
    /// Video stage RGBA8 → NV12 at 1080p (gpugate's kernel), frames/s.
    VideoNv12,
    /// Video stage NV12 1080p → 720p bilinear scaling, frames/s.
    VideoScale,
    /// Video stage motion estimation at 1080p, frames/s.
    VideoMe,
    /// Video stage residual + 4×4 transform + quantisation at 1080p, frames/s.
    VideoDct,
    /// Hardware H.264 encode (NVENC through ffmpeg's h264_nvenc), 1080p, the aggregate frames/s
    /// of 2 × engines concurrent sessions on one GPU.
    NvencH264,
}

/// Whether a target applies to each GPU or to the sum over the machine's GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Gpu,
    Machine,
}

/// What the machine must have. Sizes are decimal GB (1e9 bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Match string for every GPU's CUDA device name (case-insensitive, whole words); empty
    /// accepts any model.
    #[serde(default)]
    pub gpu_model: String,
    /// Exactly this many GPUs must be usable.
    pub gpu_count: u32,
    /// Each GPU must report at least this much memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gpu_memory_gb: Option<f64>,
    /// At least this many logical CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_vcpus: Option<u32>,
    /// Nominal host memory; passes at >= `crate::gate::profile::HOST_SIZE_TOLERANCE` of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_memory_gb: Option<f64>,
    /// Nominal local disk; passes at >= `crate::gate::profile::HOST_SIZE_TOLERANCE` of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_disk_gb: Option<f64>,
    /// Minimum PCIe link generation of each GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_gen: Option<u32>,
    /// Minimum PCIe link width (lanes) of each GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcie_width: Option<u32>,
    /// Minimum hardware video encoders (NVENC engines) of each GPU, from the GPU models
    /// catalogue; a GPU whose count is unknown fails it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvenc_engines: Option<u32>,
}

/// One performance target: the pass line is spec × pass_fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub metric: Metric,
    pub scope: Scope,
    /// Only for this GPU ordinal (scope gpu); absent = every GPU. `auto` uses it on machines
    /// with mixed GPU models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<u32>,
    /// Spec value for fp32_gemm / fp64_gemm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_tflops: Option<f64>,
    /// Spec value for stream_triad / h2d / d2h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_gbps: Option<f64>,
    /// Spec value for the video stages and the hardware encoder, frames per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_fps: Option<f64>,
    /// Fraction of the spec a healthy machine must reach, in (0, 1].
    pub pass_fraction: f64,
    /// Where the spec value comes from (datasheet, instance type spec, derived).
    pub source: String,
}

/// A machine profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub machine: Machine,
    #[serde(rename = "target", default)]
    pub targets: Vec<Target>,
    /// What the GPU memory test must cover (`[memtest]`); absent: the gate's default
    /// (`crate::gate::DEFAULT_MEMTEST_COVERAGE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memtest: Option<MemtestTarget>,
    /// The health limits (ECC, retirement, PCIe replays, throttling); absent: the rules that
    /// need no limit still apply (`crate::gate::health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthLimits>,
    /// The burn-in's durations and limits (`[burn]`); absent: gpugate's defaults
    /// (`crate::run::burn::BurnDefaults`, `crate::gate::burn_drift::DEFAULT_MAX_DRIFT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<BurnLimits>,
    /// What peer-to-peer between the GPUs must give (`[p2p]`); absent: P2P is reported, never
    /// failed for its speed or for missing peer access (a wrong byte fails anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<P2pRequirement>,
}

/// The profile's peer-to-peer requirement (`[p2p]`): whether every pair of GPUs must reach
/// each other, and the least bandwidth of each peer copy test (GB/s, each direction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pRequirement {
    /// A pair without peer access both ways FAILS.
    #[serde(default)]
    pub require_peer_access: bool,
    /// Each peer copy test's median, per direction, below this FAILS (GB/s, decimal); absent:
    /// bandwidth is reported, not gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_gbps: Option<f64>,
    /// Where the requirement comes from.
    pub source: String,
}

/// The memory test's coverage requirement: a test over less of the free memory than this is
/// INCONCLUSIVE (nothing wrong was found, but not enough was looked at to vouch for the GPU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemtestTarget {
    /// Share of each GPU's free memory the test must cover, percent, in (0, 100].
    pub min_coverage_percent: f64,
    /// Where the number comes from.
    pub source: String,
}

/// The longest burn-in accepted, from the command line or a profile's `[burn]` durations: a
/// week (a year is a typing mistake, not a burn-in).
pub const MAX_BURN_DURATION_S: u64 = 7 * 24 * 3600;

/// The burn-in of the profile's machines (`[burn]` in a profile): how long each level loads
/// the GPUs and how far a GPU may drift or trail its neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnLimits {
    /// Wall time of the load per level, seconds; absent: gpugate's (2, 10, 60 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_duration_s: Option<f64>,
    /// The largest fall of a GPU's throughput from its first minute to the end of the burn,
    /// a share in (0, 1): a larger fall FAILS.
    pub max_drift: f64,
    /// Every GPU reaches at least (1 − this) × the best GPU of its machine, in (0, 1).
    pub within_machine_share: f64,
    /// Where each value comes from.
    pub source: String,
    /// The burn's own targets (`[[burn.target]]`, FP32, FP64 and triad only): each replaces
    /// the profile's target of the same metric, scope and GPU for a burn (a sustained,
    /// concurrent load is not the acceptance run's), or adds one; a machine-scope one is
    /// judged on the GPUs loaded at once. Empty: the profile's targets.
    #[serde(rename = "target", default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
}

/// What a healthy GPU of the profile may show during a run (`[health]` in a profile). A new
/// uncorrectable ECC error, a pending page retirement or row remap and a critical Xid fail
/// whatever the limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthLimits {
    /// New corrected (single-bit) ECC errors during the run above this FAIL; up to it they are
    /// reported.
    pub max_new_sbe: u64,
    /// PCIe replays (NVML's counter, since the driver loaded) above this FAIL.
    pub max_pcie_replays: u64,
    /// The share of telemetry samples in hardware slowdown or at a thermal limit above which
    /// the GPU FAILS, in [0, 1].
    pub max_throttle_share: f64,
    /// The size of the GPU's page-retirement table: this many retired pages FAIL (the table is
    /// full). Absent for GPUs that remap rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_pages_table: Option<u32>,
    /// The board's power target, W: reported beside the power drawn, never gated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_target_w: Option<f64>,
    /// The temperature limit, °C: a GPU whose sampled temperature reaches it during the run
    /// FAILS. Absent: the GPU's own slowdown temperature as NVML reports it
    /// (`GpuHealth::slowdown_temperature_c`), and "not available" where neither exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_temperature_c: Option<u32>,
    /// Where each value comes from.
    pub source: String,
}
