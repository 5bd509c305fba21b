//! Device models: what a simulated GPU reports and how fast it is.
//!
//! A model is a TOML file (schema: [`DeviceModel`]). The built-in ones (`m40`, `a100`, `h100`,
//! `h200`) are embedded from `sim/models/*.toml`; a path to a file of the same schema may be
//! given instead of a name, exactly as gpugate takes a profile name or a file.
//!
//! Everything a driver or NVML call reports about a device comes from here (names, attributes,
//! clocks, memory, PCIe link, power, temperature), as does the time model that turns what a
//! launch executed into simulated seconds (see `driver::timing`). Each file names its sources.

use serde::Deserialize;
use std::path::Path;

/// What every simulated device's name ends with (gpugate's `model::SIMULATED_MARK`). The
/// simulator refuses a model whose name does not, so no simulated device can be named as a GPU.
pub const SIMULATED_MARK: &str = "(gpugate-sim)";

/// The built-in models: (name, TOML text), in the order `gpugate-sim models` lists them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("m40", include_str!("../models/m40.toml")),
    ("a100", include_str!("../models/a100.toml")),
    ("h100", include_str!("../models/h100.toml")),
    ("h200", include_str!("../models/h200.toml")),
];

/// One simulated GPU model. Every section is required; units are in the key names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceModel {
    /// Short name (`m40`); for a model file without one, the file stem.
    #[serde(default)]
    pub key: String,
    /// The CUDA/NVML device name; always says "(gpugate-sim)".
    pub name: String,
    pub architecture: String,
    /// Where the numbers come from (datasheets, whitepapers, published measurements).
    pub source: String,
    pub compute: Compute,
    pub memory: Memory,
    pub pci: Pci,
    pub driver: Driver,
    pub nvml: Nvml,
    pub nvenc: Nvenc,
    pub time: TimeModel,
    pub cublas: Cublas,
}

/// The SMs and the limits of a launch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    /// Compute capability (major, minor): [5, 2] for sm_52.
    pub capability: [u32; 2],
    pub sm_count: u32,
    /// FP32 lanes (CUDA cores) per SM.
    pub fp32_lanes_per_sm: u32,
    /// 32-bit integer operations per SM per clock (the CUDA Programming Guide's throughput of
    /// 32-bit integer add/subtract): the integer unit of the time model.
    pub int32_lanes_per_sm: u32,
    /// Warp schedulers per SM, each issuing one warp instruction per clock: the
    /// instruction-issue unit of the time model (schedulers × warp size thread-instructions
    /// per SM per clock).
    pub schedulers_per_sm: u32,
    /// Highest (boost) SM clock: CU_DEVICE_ATTRIBUTE_CLOCK_RATE and NVML's max SM clock.
    pub sm_clock_max_mhz: u32,
    /// Base clock: NVML's default applications clock.
    pub sm_clock_base_mhz: u32,
    /// SM clock NVML reports while no context is open on the device.
    pub sm_clock_idle_mhz: u32,
    pub max_threads_per_block: u32,
    pub max_block_dim: [u32; 3],
    pub max_grid_dim: [u32; 3],
    pub max_threads_per_sm: u32,
    pub max_blocks_per_sm: u32,
    pub warp_size: u32,
    pub regs_per_block: u32,
    pub regs_per_sm: u32,
    /// Static + dynamic shared memory per block without opting in (48 KiB).
    pub shared_per_block: u32,
    /// Per block after cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES).
    pub shared_per_block_optin: u32,
    pub shared_per_sm: u32,
    /// Shared memory the system reserves per block (1 KiB from sm_80).
    pub reserved_shared_per_block: u32,
    pub total_constant_bytes: u32,
    pub async_engines: u32,
    pub concurrent_kernels: bool,
    pub cooperative_launch: bool,
    /// cuCtxGetStreamPriorityRange: [least, greatest].
    pub stream_priority_range: [i32; 2],
    /// CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO.
    pub single_to_double_ratio: u32,
}

/// Device memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// What cuDeviceTotalMem and NVML report.
    pub total_bytes: u64,
    pub bus_width_bits: u32,
    /// CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE (in MHz here): bandwidth = 2 × clock × bus / 8.
    pub clock_mhz: u32,
    pub l2_bytes: u32,
    pub ecc_enabled: bool,
    /// CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: cudarc then allocates with cuMemAllocAsync.
    pub memory_pools: bool,
    pub unified_addressing: bool,
    pub managed_memory: bool,
    /// What a context costs: cuMemGetInfo's free = total − this − live allocations.
    pub context_reserved_bytes: u64,
}

/// The PCIe function and its link.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pci {
    pub domain: u32,
    /// PCI bus numbers of GPU 0, 1, … (GPU i takes entry i modulo the length, or the next one
    /// no earlier GPU of the machine took). Written with decimal digits only, so NVML's
    /// upper-case hex equals gpugate's lower-case formatting.
    pub bus_ids: Vec<u32>,
    /// NVML's pciDeviceId: (device id << 16) | vendor id 0x10DE.
    pub device_id: u32,
    pub subsystem_id: u32,
    /// The most the link can run: NVML's max link generation and width.
    pub gen: u32,
    pub width: u32,
}

/// The driver that comes with this model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Driver {
    /// As cuDriverGetVersion reports it: 12040 = CUDA 12.4.
    pub cuda_version: u32,
    /// As nvmlSystemGetDriverVersion reports it: "550.127.05".
    pub version: String,
}

/// Values only NVML reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nvml {
    pub power_limit_w: u32,
    /// Board power idle, at the idle temperature (`crate::power`: the power and heat follow
    /// the load).
    pub idle_power_w: u32,
    /// Board power at full load, levelled off at the load temperature.
    pub load_power_w: u32,
    /// The temperature an idle GPU levels off at.
    pub idle_temperature_c: u32,
    /// The temperature a fully loaded GPU levels off at.
    pub load_temperature_c: u32,
    /// Where thermal slowdown starts: the temperature the `throttle` fault reports.
    pub slowdown_temperature_c: u32,
    pub video_clock_mhz: u32,
    /// The SM clock under the `throttle` fault, as a fraction of the max clock.
    pub throttle_clock_fraction: f64,
    /// Static (leakage) power that a degree of die temperature adds, W per °C
    /// (`crate::power`).
    pub leakage_w_per_c: f64,
    /// Time constant of the first-order heating and cooling, seconds (`crate::power`).
    pub thermal_time_constant_s: f64,
}

/// The hardware video encoder (NVENC) of the simulated `libnvidia-encode.so.1`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nvenc {
    /// NVENC engines on the chip. 0: no encoder (an encode session is refused with
    /// NV_ENC_ERR_UNSUPPORTED_DEVICE, and NVML's encoder queries are NOT_SUPPORTED).
    pub engines: u32,
    /// 1920×1080 H.264 frames per second one engine encodes (fastest preset); a frame of
    /// another size takes its pixel count's share of that time. 0 where there is no engine.
    pub h264_1080p_fps_per_engine: f64,
    /// Concurrent encode sessions the driver allows on this GPU (one more is refused with
    /// NV_ENC_ERR_OUT_OF_MEMORY, as GeForce drivers do); 0 = no limit (Tesla and data-centre
    /// boards).
    pub max_sessions: u32,
    /// Where the engine count and the rate come from.
    pub source: String,
}

/// The time model: peaks at the max SM clock and the fraction of each that a good kernel or copy
/// reaches on a healthy card (see `driver::timing` for the formula).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeModel {
    pub fp32_tflops: f64,
    pub fp64_tflops: f64,
    /// DMMA peak; 0 = no FP64 tensor cores.
    pub fp64_tensor_tflops: f64,
    /// FP16 in, FP32 accumulate, dense; 0 = no tensor cores.
    pub fp16_tensor_tflops: f64,
    pub memory_gbps: f64,
    pub fp32_efficiency: f64,
    pub fp64_efficiency: f64,
    pub fp64_tensor_efficiency: f64,
    pub fp16_tensor_efficiency: f64,
    pub memory_efficiency: f64,
    /// The fraction of the schedulers' issue rate (one warp instruction per scheduler per
    /// clock) that kernels sustain.
    pub issue_efficiency: f64,
    /// Pinned host↔device copies reach this fraction of the PCIe link rate.
    pub pcie_efficiency: f64,
    /// Pageable (not pinned) host memory runs at this fraction of the pinned rate.
    pub pageable_efficiency: f64,
    /// The shortest time one launch occupies a stream, as the event timer sees back-to-back
    /// launches: what the host's launch path takes per kernel. A kernel shorter than this
    /// leaves the GPU idle for the rest (memsets too).
    pub launch_interval_us: f64,
    /// The GPU-side gap between back-to-back kernels when the host keeps ahead of the GPU
    /// (added to every kernel that runs longer than the launch interval allows).
    pub launch_gap_us: f64,
    /// Added to every copy.
    pub copy_latency_us: f64,
}

/// The cuBLAS the simulator serves beside this model's driver (`libcublas.so`, see
/// `crate::cublas`): the version it reports and the fraction of the peak each GEMM reaches. A
/// cuBLAS GEMM takes the launch gap plus its FLOPs at the peak of the unit it runs on × its
/// efficiency (or its bytes at the memory rate, whichever is longer), at least the launch
/// interval, with the `slow` and `throttle` factors of a kernel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cublas {
    /// What cublasGetProperty reports, "MAJOR.MINOR.PATCH" ("12.4.5"). The machine's cuBLAS is
    /// its first GPU's model's; cuBLAS N needs a driver for CUDA N.0 or newer.
    pub version: String,
    /// cublasSgemm (and cublasGemmEx in FP32): fraction of the FP32 peak, in every math mode.
    pub sgemm_efficiency: f64,
    /// cublasDgemm (and cublasGemmEx in FP64): fraction of the FP64 tensor-core peak in default
    /// math where the model has FP64 tensor cores (cuBLAS uses DMMA there), else, and in
    /// pedantic math, of the FP64 peak.
    pub dgemm_efficiency: f64,
    /// cublasGemmEx with FP16 A and B and FP32 compute: fraction of the FP16 tensor-core peak in
    /// default math where the model has tensor cores, else, and in pedantic math, of the FP32
    /// peak (the halves are converted and multiplied on the FP32 units).
    pub hgemm_efficiency: f64,
    /// Where the version and the efficiencies come from.
    pub source: String,
}

impl Cublas {
    /// The version as (major, minor, patch); None when it is not three whole numbers.
    pub fn version_triple(&self) -> Option<(u32, u32, u32)> {
        let mut it = self
            .version
            .trim()
            .split('.')
            .map(|x| x.parse::<u32>().ok());
        let v = (it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(v)
    }
}

/// cuBLAS 13 dropped the GPUs before compute capability 7.5 (Maxwell, Pascal, Volta).
pub const CUBLAS_13_MIN_CAPABILITY: [u32; 2] = [7, 5];

/// Why a model could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// Neither a built-in name nor a path that exists.
    Unknown(String),
    /// The file could not be read.
    Io { path: String, reason: String },
    /// Not valid TOML of this schema, or a value out of range.
    Invalid { what: String, reason: String },
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Unknown(name) => write!(
                f,
                "unknown model '{name}': built-in models are {}; or give the path of a model \
                 TOML file",
                builtin_names().join(", ")
            ),
            ModelError::Io { path, reason } => {
                write!(f, "cannot read model file {path}: {reason}")
            }
            ModelError::Invalid { what, reason } => write!(f, "model {what}: {reason}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// Names of the built-in models.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a built-in model.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, t)| *t)
}

/// A built-in model by name, or a model file by path (a name that contains a `/` or ends in
/// `.toml` is a path).
pub fn load(name_or_path: &str) -> Result<DeviceModel, ModelError> {
    let s = name_or_path.trim();
    if let Some(text) = builtin_text(s) {
        return parse(text, s);
    }
    let looks_like_path = s.contains('/') || s.ends_with(".toml");
    let path = Path::new(s);
    if !looks_like_path && !path.exists() {
        return Err(ModelError::Unknown(s.to_string()));
    }
    let text = read_model_file(path, s)?;
    let stem = path
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.to_string());
    let mut m = parse(&text, s)?;
    if m.key.is_empty() {
        m.key = stem;
    }
    Ok(m)
}

/// The most a model file may hold. The built-in ones are about 4 KiB.
pub const MAX_MODEL_BYTES: u64 = 1 << 20;

/// A model file's text: a regular file of at most [`MAX_MODEL_BYTES`], in UTF-8. Anything else
/// (a device such as `/dev/zero`, a FIFO, a directory, a huge file) is refused at once, never
/// read without end.
fn read_model_file(path: &Path, name: &str) -> Result<String, ModelError> {
    use std::io::Read;
    let io = |reason: String| ModelError::Io {
        path: name.to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    let meta = file.metadata().map_err(|e| io(e.to_string()))?;
    if !meta.is_file() {
        return Err(io(
            "not a regular file: give a model TOML file (`gpugate-sim models m40` \
                       prints one to copy)"
                .into(),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(io(format!(
            "larger than {} KiB: a model file is a few KiB of TOML",
            MAX_MODEL_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| io("not UTF-8 text: a model file is TOML".into()))
}

/// Parses and checks a model's TOML text; `what` names it in errors.
pub fn parse(text: &str, what: &str) -> Result<DeviceModel, ModelError> {
    let m: DeviceModel = toml::from_str(text).map_err(|e| ModelError::Invalid {
        what: what.to_string(),
        reason: e.to_string(),
    })?;
    m.validate(what)?;
    Ok(m)
}

impl DeviceModel {
    /// The `[nvml]` constants the power and heat model (`crate::power`) relies on: what is
    /// wrong with them, if anything.
    fn heat_problem(&self) -> Option<String> {
        let n = &self.nvml;
        if !(n.idle_power_w < n.load_power_w && n.load_power_w <= n.power_limit_w) {
            return Some("nvml: need idle_power_w < load_power_w <= power_limit_w".into());
        }
        if n.idle_temperature_c >= n.load_temperature_c {
            return Some("nvml: need idle_temperature_c < load_temperature_c".into());
        }
        if !(n.thermal_time_constant_s > 0.0 && n.thermal_time_constant_s.is_finite()) {
            return Some("nvml.thermal_time_constant_s must be > 0".into());
        }
        let th = crate::power::Thermal::of(n, false);
        if !(n.leakage_w_per_c >= 0.0 && th.dynamic_w > 0.0) {
            return Some(format!(
                "nvml.leakage_w_per_c must be >= 0 and leave load_power_w above idle_power_w \
                 at the idle temperature ({} W x {} C is too much)",
                n.leakage_w_per_c,
                n.load_temperature_c - n.idle_temperature_c
            ));
        }
        None
    }

    /// Checks the ranges that the driver relies on; `what` names the model in the error.
    pub fn validate(&self, what: &str) -> Result<(), ModelError> {
        let bad = |reason: String| ModelError::Invalid {
            what: what.to_string(),
            reason,
        };
        let c = &self.compute;
        let t = &self.time;
        let positive = [
            ("compute.sm_count", c.sm_count as f64),
            ("compute.fp32_lanes_per_sm", c.fp32_lanes_per_sm as f64),
            ("compute.int32_lanes_per_sm", c.int32_lanes_per_sm as f64),
            ("compute.schedulers_per_sm", c.schedulers_per_sm as f64),
            ("compute.sm_clock_max_mhz", c.sm_clock_max_mhz as f64),
            (
                "compute.max_threads_per_block",
                c.max_threads_per_block as f64,
            ),
            ("compute.warp_size", c.warp_size as f64),
            ("compute.max_threads_per_sm", c.max_threads_per_sm as f64),
            ("compute.max_blocks_per_sm", c.max_blocks_per_sm as f64),
            ("compute.regs_per_sm", c.regs_per_sm as f64),
            ("memory.total_bytes", self.memory.total_bytes as f64),
            ("memory.bus_width_bits", self.memory.bus_width_bits as f64),
            ("memory.clock_mhz", self.memory.clock_mhz as f64),
            ("pci.gen", self.pci.gen as f64),
            ("pci.width", self.pci.width as f64),
            ("driver.cuda_version", self.driver.cuda_version as f64),
            ("time.fp32_tflops", t.fp32_tflops),
            ("time.fp64_tflops", t.fp64_tflops),
            ("time.memory_gbps", t.memory_gbps),
        ];
        for (k, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                return Err(bad(format!("{k} must be > 0")));
            }
        }
        let b = &self.cublas;
        let fractions = [
            ("cublas.sgemm_efficiency", b.sgemm_efficiency),
            ("cublas.dgemm_efficiency", b.dgemm_efficiency),
            ("cublas.hgemm_efficiency", b.hgemm_efficiency),
            ("time.fp32_efficiency", t.fp32_efficiency),
            ("time.fp64_efficiency", t.fp64_efficiency),
            ("time.memory_efficiency", t.memory_efficiency),
            ("time.pcie_efficiency", t.pcie_efficiency),
            ("time.pageable_efficiency", t.pageable_efficiency),
            (
                "nvml.throttle_clock_fraction",
                self.nvml.throttle_clock_fraction,
            ),
        ];
        for (k, v) in fractions {
            if !(v > 0.0 && v <= 1.0) {
                return Err(bad(format!("{k} must be in (0, 1], not {v}")));
            }
        }
        for (k, peak, eff) in [
            (
                "fp64_tensor",
                t.fp64_tensor_tflops,
                t.fp64_tensor_efficiency,
            ),
            (
                "fp16_tensor",
                t.fp16_tensor_tflops,
                t.fp16_tensor_efficiency,
            ),
        ] {
            if peak < 0.0 || !peak.is_finite() {
                return Err(bad(format!("time.{k}_tflops must be >= 0 (0 = none)")));
            }
            if peak > 0.0 && !(eff > 0.0 && eff <= 1.0) {
                return Err(bad(format!("time.{k}_efficiency must be in (0, 1]")));
            }
        }
        if !(t.issue_efficiency > 0.0 && t.issue_efficiency.is_finite()) {
            return Err(bad("time.issue_efficiency must be > 0".to_string()));
        }
        if t.launch_interval_us < 0.0 || t.launch_gap_us < 0.0 || t.copy_latency_us < 0.0 {
            return Err(bad(
                "time.launch_interval_us, launch_gap_us and copy_latency_us must be >= 0".into(),
            ));
        }
        if c.max_block_dim.contains(&0) || c.max_grid_dim.contains(&0) {
            return Err(bad(
                "compute.max_block_dim / max_grid_dim must be >= 1".to_string()
            ));
        }
        if c.shared_per_block_optin < c.shared_per_block {
            return Err(bad(
                "compute.shared_per_block_optin must be >= shared_per_block".to_string(),
            ));
        }
        if let Some(problem) = self.heat_problem() {
            return Err(bad(problem));
        }
        if self.pci.bus_ids.is_empty() || self.pci.bus_ids.iter().any(|&b| b > 0xff) {
            return Err(bad("pci.bus_ids must list bus numbers 0..=255".to_string()));
        }
        if self.memory.context_reserved_bytes >= self.memory.total_bytes {
            return Err(bad(
                "memory.context_reserved_bytes must be below total_bytes".to_string(),
            ));
        }
        if !self.name.trim_end().ends_with(SIMULATED_MARK) {
            return Err(bad(format!(
                "name {:?} must say it is simulated: end with \"{SIMULATED_MARK}\" (e.g. \
                 \"Tesla M40 24GB {SIMULATED_MARK}\"), as every simulated device's name does",
                self.name
            )));
        }
        let e = &self.nvenc;
        if e.engines > 0
            && !(e.h264_1080p_fps_per_engine > 0.0 && e.h264_1080p_fps_per_engine.is_finite())
        {
            return Err(bad(
                "nvenc.h264_1080p_fps_per_engine must be > 0 where there are engines".into(),
            ));
        }
        if e.h264_1080p_fps_per_engine < 0.0 || !e.h264_1080p_fps_per_engine.is_finite() {
            return Err(bad(
                "nvenc.h264_1080p_fps_per_engine must be >= 0".to_string()
            ));
        }
        if e.engines > 16 {
            return Err(bad(format!("nvenc.engines {} (at most 16)", e.engines)));
        }
        if e.source.trim().is_empty() {
            return Err(bad(
                "nvenc.source must say where the numbers come from".to_string()
            ));
        }
        if self.driver.version.trim().is_empty() {
            return Err(bad("driver.version must not be empty".to_string()));
        }
        match b.version_triple() {
            None | Some((0, _, _)) => {
                return Err(bad(format!(
                    "cublas.version {:?} must be MAJOR.MINOR.PATCH, e.g. \"12.4.5\"",
                    b.version
                )))
            }
            Some((major, _, _)) if major >= 13 && c.capability < CUBLAS_13_MIN_CAPABILITY => {
                return Err(bad(format!(
                    "cublas.version {}: cuBLAS 13 and newer support compute capability 7.5 and \
                     newer only, and this model is sm_{}: give it a cuBLAS 12",
                    b.version,
                    self.sm()
                )))
            }
            Some(_) => {}
        }
        if b.source.trim().is_empty() {
            return Err(bad(
                "cublas.source must say where the version and efficiencies come from".into(),
            ));
        }
        Ok(())
    }

    /// The SM version as PTX spells it: 52 for compute capability 5.2.
    pub fn sm(&self) -> u32 {
        self.compute.capability[0] * 10 + self.compute.capability[1]
    }

    /// Theoretical DRAM bandwidth from the attributes, GB/s (1e9 B/s).
    pub fn attribute_bandwidth_gbps(&self) -> f64 {
        2.0 * self.memory.clock_mhz as f64 * 1e6 * self.memory.bus_width_bits as f64 / 8.0 / 1e9
    }

    /// FP32 peak from the attributes, TFLOPS (FMA = 2 FLOPs).
    pub fn attribute_fp32_tflops(&self) -> f64 {
        let c = &self.compute;
        c.sm_count as f64 * c.fp32_lanes_per_sm as f64 * 2.0 * c.sm_clock_max_mhz as f64 * 1e6
            / 1e12
    }
}

/// The PCIe data rate of one lane in GB/s (1e9 B/s) after line encoding, for generations 1–6
/// (2.5/5 GT/s with 8b/10b, 8/16/32 GT/s with 128b/130b, 64 GT/s PAM4 with FLIT 242/256).
pub fn pcie_lane_gbps(gen: u32) -> Option<f64> {
    Some(match gen {
        1 => 2.5 * 8.0 / 10.0 / 8.0,
        2 => 5.0 * 8.0 / 10.0 / 8.0,
        3 => 8.0 * 128.0 / 130.0 / 8.0,
        4 => 16.0 * 128.0 / 130.0 / 8.0,
        5 => 32.0 * 128.0 / 130.0 / 8.0,
        6 => 64.0 * 242.0 / 256.0 / 8.0,
        _ => return None,
    })
}

/// The PCIe link widths a GPU can train to.
pub const PCIE_WIDTHS: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// The newest PTX ISA (major, minor) that the JIT of a driver for CUDA `cuda_version` accepts.
///
/// From the PTX ISA release history (PTX ISA manual, "Release Notes"): ISA 6.0 came with CUDA
/// 9.0, … 7.8 with 11.8, 8.0 with 12.0, 8.5 with 12.5 (12.6 kept 8.5), 8.6 with 12.7, 8.7
/// with 12.8, 8.8 with 12.9, 9.0 with 13.0, 9.1 with 13.1; before 9.0: 5.0 with CUDA 8.0, 4.3
/// with 7.5, 4.2 with 7.0, 4.1 with 6.5, 4.0 with 6.0, 3.2 with 5.5, 3.1 with 5.0. A driver
/// newer than the table accepts at least the newest ISA it knows.
pub fn max_ptx_isa(cuda_version: u32) -> (u32, u32) {
    const TABLE: &[(u32, (u32, u32))] = &[
        (13010, (9, 1)),
        (13000, (9, 0)),
        (12090, (8, 8)),
        (12080, (8, 7)),
        (12070, (8, 6)),
        (12050, (8, 5)),
        (12040, (8, 4)),
        (12030, (8, 3)),
        (12020, (8, 2)),
        (12010, (8, 1)),
        (12000, (8, 0)),
        (11080, (7, 8)),
        (11070, (7, 7)),
        (11060, (7, 6)),
        (11050, (7, 5)),
        (11040, (7, 4)),
        (11030, (7, 3)),
        (11020, (7, 2)),
        (11010, (7, 1)),
        (11000, (7, 0)),
        (10020, (6, 5)),
        (10010, (6, 4)),
        (10000, (6, 3)),
        (9020, (6, 2)),
        (9010, (6, 1)),
        (9000, (6, 0)),
        (8000, (5, 0)),
        (7050, (4, 3)),
        (7000, (4, 2)),
        (6050, (4, 1)),
        (6000, (4, 0)),
        (5050, (3, 2)),
        (5000, (3, 1)),
    ];
    TABLE
        .iter()
        .find(|(v, _)| cuda_version >= *v)
        .map(|(_, isa)| *isa)
        .unwrap_or((3, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<DeviceModel> {
        builtin_names()
            .into_iter()
            .map(|n| load(n).unwrap_or_else(|e| panic!("{n}: {e}")))
            .collect()
    }

    #[test]
    fn every_builtin_model_loads_and_is_consistent() {
        for m in all() {
            assert!(!m.key.is_empty(), "{}", m.name);
            assert!(m.name.ends_with("(gpugate-sim)"), "{}", m.name);
            assert!(!m.source.is_empty());
            // The datasheet peaks agree with the attributes within 1.5 %.
            let bw = m.attribute_bandwidth_gbps();
            assert!(
                (bw / m.time.memory_gbps - 1.0).abs() < 0.015,
                "{}: attributes give {bw} GB/s, time model {}",
                m.key,
                m.time.memory_gbps
            );
            let fp32 = m.attribute_fp32_tflops();
            assert!(
                (fp32 / m.time.fp32_tflops - 1.0).abs() < 0.015,
                "{}: attributes give {fp32} TF, time model {}",
                m.key,
                m.time.fp32_tflops
            );
            // Bus ids are decimal-looking, so upper- and lower-case hex agree.
            for b in &m.pci.bus_ids {
                let s = format!("{b:02x}");
                assert_eq!(s, s.to_uppercase(), "{}: bus {b:#x}", m.key);
            }
        }
    }

    #[test]
    fn builtin_keys_match_their_names() {
        for (name, _) in BUILTIN {
            assert_eq!(load(name).unwrap().key, *name);
        }
        assert_eq!(load("M40").unwrap().key, "m40");
    }

    #[test]
    fn catalogue_numbers() {
        let m40 = load("m40").unwrap();
        assert_eq!(m40.sm(), 52);
        assert_eq!(m40.compute.sm_count, 24);
        assert_eq!(m40.driver.cuda_version, 12040);
        assert_eq!(m40.time.fp64_tensor_tflops, 0.0);
        assert_eq!(m40.nvenc.engines, 2);
        assert_eq!(m40.nvenc.h264_1080p_fps_per_engine, 270.0);
        assert_eq!(m40.nvenc.max_sessions, 0);
        let h100 = load("h100").unwrap();
        assert_eq!(h100.sm(), 90);
        assert_eq!(h100.driver.cuda_version, 12080);
        assert_eq!(h100.nvenc.engines, 0);
        let h200 = load("h200").unwrap();
        assert_eq!(h200.driver.cuda_version, 12090);
        assert!(h200.memory.total_bytes > 140_000_000_000);
        let a100 = load("a100").unwrap();
        assert_eq!(a100.sm(), 80);
        assert_eq!(a100.driver.cuda_version, 12020);
        // Each model's cuBLAS is a 12.x its driver runs, as the toolkit of that driver ships it.
        for m in [&m40, &h100, &h200, &a100] {
            let (major, minor, _) = m.cublas.version_triple().unwrap();
            assert_eq!(major, 12, "{}", m.key);
            assert_eq!(minor, (m.driver.cuda_version % 1000) / 10, "{}", m.key);
            assert!(m.driver.cuda_version >= major * 1000, "{}", m.key);
        }
        // The published cuBLAS SGEMM of the M40: 4.93 TF.
        let sgemm = m40.time.fp32_tflops * m40.cublas.sgemm_efficiency;
        assert!((sgemm - 4.93).abs() < 0.02, "{sgemm}");
    }

    #[test]
    fn unknown_names_and_bad_files_are_errors() {
        let e = load("v100").unwrap_err();
        assert!(matches!(e, ModelError::Unknown(_)));
        assert!(e.to_string().contains("m40, a100, h100, h200"), "{e}");
        let e = load("/nonexistent/model.toml").unwrap_err();
        assert!(matches!(e, ModelError::Io { .. }), "{e}");
        let e = parse("name = 3", "x").unwrap_err();
        assert!(matches!(e, ModelError::Invalid { .. }), "{e}");
        // A real name without the simulated label is refused.
        let text = builtin_text("m40")
            .unwrap()
            .replace("Tesla M40 24GB (gpugate-sim)", "Tesla M40 24GB");
        let e = parse(&text, "x").unwrap_err();
        assert!(e.to_string().contains("simulated"), "{e}");
        // So is one that carries the simulator's name anywhere but at the end, marked.
        for name in [
            "Tesla M40 24GB gpugate-sim edition",
            "Tesla M40 24GB (gpugate-sim) edition",
            "gpugate-sim Tesla M40 24GB",
        ] {
            let text = builtin_text("m40")
                .unwrap()
                .replace("Tesla M40 24GB (gpugate-sim)", name);
            let e = parse(&text, "x").unwrap_err();
            assert!(
                e.to_string().contains("end with \"(gpugate-sim)\""),
                "{name}: {e}"
            );
        }
        // A device, a directory or a huge file is refused at once, never read without end.
        for path in ["/dev/zero", "/tmp"] {
            let e = load(path).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{path}: {e}");
        }
        let dir = std::env::temp_dir().join(format!("gpugate-sim-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_MODEL_BYTES as usize + 1]).unwrap();
        let e = load(big.to_str().unwrap()).unwrap_err();
        assert!(e.to_string().contains("larger than 1024 KiB"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
        // Out-of-range efficiencies are refused.
        let text = builtin_text("m40")
            .unwrap()
            .replace("fp32_efficiency = 0.72", "fp32_efficiency = 1.5");
        let e = parse(&text, "x").unwrap_err();
        assert!(e.to_string().contains("fp32_efficiency"), "{e}");
        // The cuBLAS block: a version of three numbers, efficiencies in (0, 1], and no cuBLAS 13
        // on a GPU it dropped.
        let m40 = builtin_text("m40").unwrap();
        for (from, to, says) in [
            (
                "version = \"12.4.5\"",
                "version = \"12.4\"",
                "MAJOR.MINOR.PATCH",
            ),
            (
                "version = \"12.4.5\"",
                "version = \"13.0.0\"",
                "compute capability 7.5",
            ),
            (
                "sgemm_efficiency = 0.72",
                "sgemm_efficiency = 0",
                "cublas.sgemm_efficiency",
            ),
            (
                "hgemm_efficiency = 0.72",
                "hgemm_efficiency = 1.2",
                "cublas.hgemm_efficiency",
            ),
        ] {
            assert!(m40.contains(from), "{from}");
            let e = parse(&m40.replace(from, to), "x").unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
        let e = parse(&m40.replace("[cublas]", "[cublas_]"), "x").unwrap_err();
        assert!(e.to_string().contains("cublas"), "{e}");
        // Engines without a rate are refused.
        let text = builtin_text("m40").unwrap().replace(
            "h264_1080p_fps_per_engine = 270.0",
            "h264_1080p_fps_per_engine = 0.0",
        );
        let e = parse(&text, "x").unwrap_err();
        assert!(e.to_string().contains("h264_1080p_fps_per_engine"), "{e}");
    }

    #[test]
    fn model_files_override_like_profiles() {
        let dir = std::env::temp_dir().join(format!("gpugate-sim-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("my-m40.toml");
        let text = builtin_text("m40")
            .unwrap()
            .replace("key = \"m40\"\n", "")
            .replace("sm_count = 24", "sm_count = 12");
        std::fs::write(&path, text).unwrap();
        let m = load(path.to_str().unwrap()).unwrap();
        assert_eq!(m.key, "my-m40");
        assert_eq!(m.compute.sm_count, 12);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ptx_isa_follows_nvidias_release_table() {
        for (v, isa) in [
            (8000, (5, 0)),
            (9000, (6, 0)),
            (9010, (6, 1)),
            (9020, (6, 2)),
            (10000, (6, 3)),
            (10010, (6, 4)),
            (10020, (6, 5)),
            (11000, (7, 0)),
            (11040, (7, 4)),
            (11080, (7, 8)),
            (12000, (8, 0)),
            (12040, (8, 4)),
            (12050, (8, 5)),
            (12060, (8, 5)),
            (12070, (8, 6)),
            (12080, (8, 7)),
            (12090, (8, 8)),
            (13000, (9, 0)),
            (13010, (9, 1)),
            (13020, (9, 1)),
        ] {
            assert_eq!(max_ptx_isa(v), isa, "CUDA {v}");
        }
    }

    #[test]
    fn pcie_rates() {
        let g3 = pcie_lane_gbps(3).unwrap() * 16.0;
        assert!((g3 - 15.75).abs() < 0.01, "{g3}");
        let g5 = pcie_lane_gbps(5).unwrap() * 16.0;
        assert!((g5 - 63.0).abs() < 0.1, "{g5}");
        assert!(pcie_lane_gbps(0).is_none() && pcie_lane_gbps(7).is_none());
    }
}
