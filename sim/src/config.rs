//! The simulated machine: which GPUs, which faults, and the switches of the simulator.
//!
//! The launcher (`gpugate-sim`) checks everything and hands it to the libraries through the
//! environment ([`ENV_MODELS`], [`ENV_FAULTS`], [`ENV_DRIVER`], [`ENV_LOG`], [`ENV_THREADS`],
//! [`ENV_RACECHECK`]).
//! The driver and NVML (one shared object, loaded once even under two names) parse it once, on
//! first use ([`get`]). With nothing set, the machine is one `m40`.
//!
//! Tests that call the exported functions in-process install a configuration first with
//! [`install_for_tests`].

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::model::{self, DeviceModel};

/// Comma-separated model names or absolute paths of model TOML files, one per GPU.
pub const ENV_MODELS: &str = "GPUGATE_SIM_MODELS";
/// Fault specs separated by `;` (a spec may contain a comma: `pcie=3,8`).
pub const ENV_FAULTS: &str = "GPUGATE_SIM_FAULTS";
/// A JSON-lines file that receives one record per launch, copy, memset and module load.
pub const ENV_LOG: &str = "GPUGATE_SIM_LOG";
/// Host threads that run the blocks of one launch (default: the host's cores).
pub const ENV_THREADS: &str = "GPUGATE_SIM_THREADS";
/// `0` turns the shared-memory race detector off (default `1`).
pub const ENV_RACECHECK: &str = "GPUGATE_SIM_RACECHECK";
/// The driver the whole machine runs, in place of the first model's: a branch (`418`, `R470`)
/// or a version (`470.256.02`); see [`crate::driver_releases`].
pub const ENV_DRIVER: &str = "GPUGATE_SIM_DRIVER";
/// A directory private to this simulated machine (the launcher makes one per launch) where
/// its processes share state: the book of NVENC engines and sessions (`crate::nvenc`).
/// Unset: each process is a machine of its own.
pub const ENV_STATE_DIR: &str = "GPUGATE_SIM_STATE_DIR";

/// The fault grammar, for `--help` and error messages.
pub const FAULT_GRAMMAR: &str = "\
Faults (--fault SPEC, repeatable; SPEC = [gpu=I:]FAULT, without gpu=I: every GPU):
  slow=F                 every kernel and copy runs at F times its throughput (0 < F <= 1)
  drift=F@T              a tired card: the SM clock sags with no throttle reason, from the
                         max when the driver starts, linearly, to F times it at T seconds
                         (0 < F < 1, T >= 0), and stays there; compute time follows the clock
                         and NVML reports it (copies and memory-bound work are unaffected)
  contention=F           work of this GPU done while another GPU of the machine runs a launch
                         (a kernel whose execution overlapped one of another GPU; a copy or
                         memset while one runs) runs at F times its throughput (0 < F <= 1):
                         GPUs that share a PCIe switch or a power supply, fast alone, slow
                         together
  throttle               SM clock held at the model's throttle fraction (60 %) of its max;
                         NVML reports the clock, the slowdown temperature and the SW + HW
                         thermal slowdown reasons; compute time scales with the clock
  sdc=SUBSTRING[@BIT]    in every launch of a kernel whose entry name contains SUBSTRING,
                         flip one bit of one stored result (default: the most significant
                         mantissa bit of a float, the top bit of an integer; BIT 0..63)
  sdc-after=N[@BIT]      from launch N+1 on the GPU (every kernel, counted as launch-fail-after
                         counts), flip one bit of one stored result as sdc does: a result
                         computed before is right, the same computation repeated later differs
  launch-fail-after=N    launch N+1 on the GPU fails as an uncorrectable ECC error
                         (CUDA_ERROR_ECC_UNCORRECTABLE, sticky; NVML counts 1 uncorrected error)
  oom-after=BYTES        allocations beyond BYTES live in total fail with
                         CUDA_ERROR_OUT_OF_MEMORY (BYTES: 1000, 64K, 512M, 2G = decimal;
                         64KiB, 512MiB, 2GiB = binary)
  pcie=GEN,WIDTH         the link runs at PCIe GEN (1..6) xWIDTH (1,2,4,8,16,32): copies slow
                         down and NVML's current link says so (its max link stays the model's)
  ecc=sbe@T | ecc=dbe@T  from T seconds after the driver started, NVML counts one corrected
                         (sbe) or uncorrected (dbe) ECC error, volatile and aggregate; a dbe
                         also retires its page (pending until a reset; a remapped row, pending,
                         on GPUs with row remapping) and raises Xid 48 to registered event sets
  retired-pages=N[,pending]  N pages already retired for multiple single-bit errors (a row
                         remapping GPU: N rows remapped for uncorrectable errors); ',pending':
                         a retirement (remap) waits for a reset
  xid=N@T                an Xid event N (1..=999) delivered at T to every NVML event set that
                         registered for critical Xid events on the GPU
  pcie-replays=N         NVML's PCIe replay counter reads N
  thermal=RISE[@T]       under load the temperature climbs RISE degrees C per second (0 < RISE
                         <= 100) from the model's load temperature up to its slowdown
                         temperature; from T the GPU is in hardware slowdown (HW slowdown + HW
                         thermal slowdown reasons, SM clock at the model's throttle fraction)
  power-cap              under load the board draws its power limit and the SW power cap
                         reason is on, the SM clock at POWER_CAP_CLOCK_FRACTION (95 %) of max
  old-driver             the driver is CUDA 8.0 (R375, PTX ISA 5.0): older than every module
                         gpugate ships (whole machine only)
  no-nvml                no libnvidia-ml.so.1 in front; the simulator's nvmlInit fails with
                         NVML_ERROR_LIBRARY_NOT_FOUND (whole machine only)
  timer=zero             cuEventElapsedTime reports 0 ms between any two events (a timer that
                         does not count)
  jitter=SIGMA           noise on event times: each elapsed time is scaled by 1 + SIGMA·z, z a
                         standard normal draw clamped to ±3, seeded by the two events' stamps
                         (reproducible; 0 < SIGMA <= 0.3: SIGMA is the relative standard
                         deviation)
  cublas-missing         no libcublas.so* in front (a machine without cuBLAS); the simulator's
                         cublasCreate fails with CUBLAS_STATUS_NOT_INITIALIZED (whole machine)
  cublas-fail            every cuBLAS GEMM on the GPU fails to launch with
                         CUBLAS_STATUS_EXECUTION_FAILED (handles, streams and math modes work)
  nvenc-fail             the hardware encoder is broken: every NvEncEncodePicture fails with
                         NV_ENC_ERR_GENERIC (sessions still open)
  nvenc-engines=N        only N of the model's NVENC engines work (0 to the model's count):
                         concurrent encode sessions share fewer engines; 0 = no encoder
  stuck-bit=ADDRESS:BIT[:V]
                         a memory cell that reads constant: bit BIT (0..63) of the 64-bit
                         little-endian word at device address ADDRESS (0x… or decimal; the
                         bit lands in byte ADDRESS + BIT/8) always holds V (0 or 1, default 1),
                         whatever kernels, copies and memsets write there; ADDRESS = any puts
                         the word in the middle of the largest allocation the program makes
                         (it moves to each larger one as it is made)
  no-p2p                 the GPU has no peer access to another GPU and none to it (a VM
                         without P2P, GPUs under different root complexes): cuDeviceCanAccessPeer
                         answers 0 for every pair it is in and cuCtxEnablePeerAccess fails with
                         CUDA_ERROR_PEER_ACCESS_UNSUPPORTED; cuMemcpyPeer still copies, staged
                         through host memory (device to host, then host to device) in time
  p2p-sdc                every peer copy (cuMemcpyPeer*, cuMemcpy* between two GPUs) that lands
                         in the GPU's memory has one bit flipped (bit 0 of its middle byte)
Examples: --fault slow=0.5   --fault gpu=1:drift=0.2@20   --fault gpu=1:throttle   --fault sdc=sgemm@22   --fault pcie=3,8
          --fault jitter=0.02   --fault timer=zero   --fault cublas-missing   --fault gpu=0:cublas-fail
          --fault nvenc-engines=1   --fault stuck-bit=any:5   --fault gpu=1:stuck-bit=0x200000100:33:0
          --fault contention=0.5";

/// The driver version the `old-driver` fault reports: CUDA 8.0.
pub const OLD_DRIVER_CUDA: u32 = 8000;
/// And its NVML driver version string (R375).
pub const OLD_DRIVER_VERSION: &str = "375.88";

/// What was wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A model name or file.
    Model(model::ModelError),
    /// A fault spec, with what was wrong.
    Fault { spec: String, reason: String },
    /// Another setting (threads, racecheck, log).
    Setting { name: String, reason: String },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Model(e) => write!(f, "{e}"),
            ConfigError::Fault { spec, reason } => write!(f, "bad fault '{spec}': {reason}"),
            ConfigError::Setting { name, reason } => write!(f, "bad {name}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<model::ModelError> for ConfigError {
    fn from(e: model::ModelError) -> Self {
        ConfigError::Model(e)
    }
}

/// One fault, as parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Slow(f64),
    /// `drift=F@T`: the SM clock sags linearly from the max at the driver's start to F × max
    /// at T seconds, with no throttle reason.
    Drift {
        floor: f64,
        at_s: f64,
    },
    /// `contention=F`: F × throughput while another GPU is loaded.
    Contention(f64),
    Throttle,
    Sdc {
        substring: String,
        bit: Option<u32>,
    },
    LaunchFailAfter(u64),
    OomAfter(u64),
    Pcie {
        gen: u32,
        width: u32,
    },
    OldDriver,
    NoNvml,
    /// Event timing reports 0 ms elapsed.
    TimerZero,
    /// Relative standard deviation of the noise on event times.
    Jitter(f64),
    CublasMissing,
    CublasFail,
    NvencFail,
    NvencEngines(u32),
    StuckBit(StuckBit),
    /// A health fault (ECC, retired pages, Xid, PCIe replays, thermal, power cap):
    /// `crate::health`.
    Health(crate::health::HealthFault),
    /// Corruption from launch `after` + 1 on, every kernel (see `sdc-after`).
    SdcAfter {
        after: u64,
        bit: Option<u32>,
    },
    /// No peer access to or from the GPU (`no-p2p`).
    NoP2p,
    /// Every peer copy into the GPU's memory has one bit flipped (`p2p-sdc`).
    P2pSdc,
}

/// The `stuck-bit` fault as given: where (None = `any`: inside the largest allocation), which
/// bit of the 64-bit word there, stuck at which value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckBit {
    pub address: Option<u64>,
    pub bit: u32,
    pub value: bool,
}

impl StuckBit {
    /// The cell, once the word's address is known: the byte that holds the bit.
    pub fn cell(&self, word: u64) -> crate::exec::StuckCell {
        crate::exec::StuckCell {
            address: word + u64::from(self.bit / 8),
            bit: self.bit % 8,
            value: self.value,
        }
    }
}

/// The largest `jitter=SIGMA`: with z clamped to ±3, every elapsed time stays above 0.1 × its
/// noiseless value.
pub const MAX_JITTER: f64 = 0.3;

/// A fault and the GPU it applies to (`None`: every GPU).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub gpu: Option<usize>,
    pub fault: Fault,
}

/// The faults of one GPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuFaults {
    /// Throughput factor (0, 1]; `None` = 1.
    pub slow: Option<f64>,
    /// `contention=F`: the throughput factor (0, 1] while another GPU of the machine is loaded
    /// (`crate::driver::shared::Gpu::contention_factor`); `None` = 1.
    pub contention: Option<f64>,
    /// `drift=F@T`: (F, T), the clock's sag ([`GpuFaults::drift_factor`]).
    pub drift: Option<(f64, f64)>,
    pub throttle: bool,
    /// (substring, bit) pairs, first match wins.
    pub sdc: Vec<(String, Option<u32>)>,
    pub launch_fail_after: Option<u64>,
    pub oom_after: Option<u64>,
    /// The current link (gen, width) in place of the model's.
    pub pcie: Option<(u32, u32)>,
    /// `timer=zero`: event elapsed times are 0 ms.
    pub timer_zero: bool,
    /// `jitter=SIGMA`: relative standard deviation of the noise on event elapsed times.
    pub jitter: Option<f64>,
    /// Every cuBLAS GEMM on the GPU fails (CUBLAS_STATUS_EXECUTION_FAILED).
    pub cublas_fail: bool,
    /// Every encoded picture fails (`nvenc-fail`).
    pub nvenc_fail: bool,
    /// Working NVENC engines in place of the model's (`nvenc-engines=N`).
    pub nvenc_engines: Option<u32>,
    /// A bit of device memory that reads constant (`stuck-bit=ADDRESS:BIT[:V]`).
    pub stuck_bit: Option<StuckBit>,
    /// The health faults (`crate::health`).
    pub health: crate::health::HealthFaults,
    /// `sdc-after=N[@BIT]`: (N, bit) — every launch after the N-th is corrupted.
    pub sdc_after: Option<(u64, Option<u32>)>,
    /// `no-p2p`: no peer access to or from the GPU.
    pub no_p2p: bool,
    /// `p2p-sdc`: one bit flipped in every peer copy into the GPU's memory.
    pub p2p_sdc: bool,
}

/// One simulated GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuConfig {
    pub model: Arc<DeviceModel>,
    pub faults: GpuFaults,
}

/// The whole simulated machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub gpus: Vec<GpuConfig>,
    /// Every GPU sees a CUDA 8.0 driver.
    pub old_driver: bool,
    /// The driver the machine runs (`--driver`), in place of the first model's.
    pub driver: Option<crate::driver_releases::Driver>,
    /// nvmlInit fails with NVML_ERROR_LIBRARY_NOT_FOUND.
    pub no_nvml: bool,
    /// No cuBLAS: the launcher offers no libcublas name, cublasCreate fails.
    pub cublas_missing: bool,
    pub log: Option<PathBuf>,
    pub threads: usize,
    pub racecheck: bool,
}

impl Config {
    /// A machine of `models` with no faults and default switches.
    pub fn new(models: Vec<DeviceModel>) -> Config {
        Config {
            gpus: models
                .into_iter()
                .map(|m| GpuConfig {
                    model: Arc::new(m),
                    faults: GpuFaults::default(),
                })
                .collect(),
            old_driver: false,
            driver: None,
            no_nvml: false,
            cublas_missing: false,
            log: None,
            threads: default_threads(),
            racecheck: true,
        }
    }

    /// Builds a machine from model names/paths and fault specs, checking every one.
    pub fn build(models: &[String], faults: &[String]) -> Result<Config, ConfigError> {
        let names: Vec<String> = if models.is_empty() {
            vec!["m40".to_string()]
        } else {
            models.to_vec()
        };
        let loaded = names
            .iter()
            .map(|n| model::load(n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut cfg = Config::new(loaded);
        for spec in faults {
            let f = parse_fault(spec)?;
            cfg.apply(spec, f)?;
        }
        cfg.check_cublas()?;
        Ok(cfg)
    }

    /// Applies one parsed fault.
    pub fn apply(&mut self, spec: &str, f: FaultSpec) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::Fault {
            spec: spec.to_string(),
            reason,
        };
        if let Some(i) = f.gpu {
            if i >= self.gpus.len() {
                return Err(bad(format!(
                    "gpu={i} but the machine has {} GPU(s) (numbered from 0)",
                    self.gpus.len()
                )));
            }
        }
        match &f.fault {
            Fault::OldDriver | Fault::NoNvml | Fault::CublasMissing => {
                if f.gpu.is_some() {
                    return Err(bad(
                        "old-driver, no-nvml and cublas-missing apply to the whole machine (one \
                         driver, one set of libraries), not to one GPU"
                            .to_string(),
                    ));
                }
                match f.fault {
                    Fault::OldDriver => self.old_driver = true,
                    Fault::NoNvml => self.no_nvml = true,
                    _ => self.cublas_missing = true,
                }
                return Ok(());
            }
            _ => {}
        }
        let targets: Vec<usize> = match f.gpu {
            Some(i) => vec![i],
            None => (0..self.gpus.len()).collect(),
        };
        for i in targets {
            if let Fault::NvencEngines(n) = f.fault {
                let m = &self.gpus[i].model;
                if n > m.nvenc.engines {
                    return Err(bad(format!(
                        "GPU {i} ({}) has {} NVENC engine(s): nvenc-engines can only take \
                         engines away (0 to {})",
                        m.key, m.nvenc.engines, m.nvenc.engines
                    )));
                }
            }
            let g = &mut self.gpus[i].faults;
            match &f.fault {
                Fault::Slow(x) => g.slow = Some(*x),
                Fault::Drift { floor, at_s } => g.drift = Some((*floor, *at_s)),
                Fault::Contention(x) => g.contention = Some(*x),
                Fault::Throttle => g.throttle = true,
                Fault::Sdc { substring, bit } => g.sdc.push((substring.clone(), *bit)),
                Fault::LaunchFailAfter(n) => g.launch_fail_after = Some(*n),
                Fault::OomAfter(b) => g.oom_after = Some(*b),
                Fault::Pcie { gen, width } => g.pcie = Some((*gen, *width)),
                Fault::TimerZero => g.timer_zero = true,
                Fault::Jitter(sigma) => g.jitter = Some(*sigma),
                Fault::CublasFail => g.cublas_fail = true,
                Fault::NvencFail => g.nvenc_fail = true,
                Fault::NvencEngines(n) => g.nvenc_engines = Some(*n),
                Fault::StuckBit(s) => g.stuck_bit = Some(*s),
                Fault::Health(h) => g.health.apply(h),
                Fault::SdcAfter { after, bit } => g.sdc_after = Some((*after, *bit)),
                Fault::NoP2p => g.no_p2p = true,
                Fault::P2pSdc => g.p2p_sdc = true,
                Fault::OldDriver | Fault::NoNvml | Fault::CublasMissing => {
                    unreachable!("handled above")
                }
            }
        }
        Ok(())
    }

    /// Reads the machine from the environment (see the `ENV_*` constants).
    pub fn from_env() -> Result<Config, ConfigError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        // The non-empty items of list variable `k`, separated by `sep`.
        let list = |k: &str, sep: char| -> Vec<String> {
            var(k).map_or_else(Vec::new, |v| {
                v.split(sep)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
        };
        let models = list(ENV_MODELS, ',');
        let faults = list(ENV_FAULTS, ';');
        let mut cfg = Config::build(&models, &faults)?;
        if let Some(d) = var(ENV_DRIVER) {
            cfg.driver =
                Some(
                    crate::driver_releases::parse(&d).map_err(|e| ConfigError::Setting {
                        name: ENV_DRIVER.to_string(),
                        reason: e.to_string(),
                    })?,
                );
        }
        cfg.log = var(ENV_LOG).map(PathBuf::from);
        if let Some(t) = var(ENV_THREADS) {
            cfg.threads = parse_threads(&t)?;
        }
        if let Some(r) = var(ENV_RACECHECK) {
            cfg.racecheck = match r.trim() {
                "1" => true,
                "0" => false,
                other => {
                    return Err(ConfigError::Setting {
                        name: ENV_RACECHECK.to_string(),
                        reason: format!("'{other}' (expected 0 or 1)"),
                    })
                }
            };
        }
        Ok(cfg)
    }

    /// What cuDriverGetVersion reports: CUDA 8.0 under `old-driver`, else the `--driver`
    /// release, else the first GPU's model's.
    pub fn driver_cuda_version(&self) -> u32 {
        if self.old_driver {
            OLD_DRIVER_CUDA
        } else if let Some(d) = &self.driver {
            d.cuda_version
        } else {
            self.gpus
                .first()
                .map(|g| g.model.driver.cuda_version)
                .unwrap_or(12040)
        }
    }

    /// What nvmlSystemGetDriverVersion reports.
    pub fn driver_version_string(&self) -> String {
        if self.old_driver {
            OLD_DRIVER_VERSION.to_string()
        } else if let Some(d) = &self.driver {
            d.version.clone()
        } else {
            self.gpus
                .first()
                .map(|g| g.model.driver.version.clone())
                .unwrap_or_default()
        }
    }

    /// The cuBLAS version the machine's library reports (major, minor, patch): its first GPU's
    /// model's (checked when the model was loaded).
    pub fn cublas_version(&self) -> (u32, u32, u32) {
        self.gpus
            .first()
            .and_then(|g| g.model.cublas.version_triple())
            .unwrap_or((12, 0, 0))
    }

    /// The machine's cuBLAS (its first GPU's model's) must support every GPU: cuBLAS 13 and
    /// newer dropped compute capability below 7.5.
    fn check_cublas(&self) -> Result<(), ConfigError> {
        let v = self.cublas_version();
        if v.0 < 13 {
            return Ok(());
        }
        match self
            .gpus
            .iter()
            .position(|g| g.model.compute.capability < model::CUBLAS_13_MIN_CAPABILITY)
        {
            Some(i) => Err(ConfigError::Setting {
                name: "cuBLAS".to_string(),
                reason: format!(
                    "the machine's cuBLAS is {}.{}.{} (GPU 0's model), which supports compute \
                     capability 7.5 and newer only, and GPU {i} is sm_{}: put a model with a \
                     cuBLAS 12 first",
                    v.0,
                    v.1,
                    v.2,
                    self.gpus[i].model.sm()
                ),
            }),
            None => Ok(()),
        }
    }

    /// The entry points (driver and NVML) this machine's driver does not have: the launcher
    /// hides them from the library it hands out.
    pub fn missing_entry_points(&self) -> Vec<&'static str> {
        crate::driver_releases::missing_entry_points(self.driver_cuda_version())
    }

    /// Whether a device attribute (`CUdevice_attribute` number) exists on this machine's
    /// driver; a newer one is CUDA_ERROR_INVALID_VALUE, as on the real driver.
    pub fn has_attribute(&self, attr: i32) -> bool {
        crate::driver_releases::attribute_since(attr) <= self.driver_cuda_version()
    }

    /// The newest PTX ISA the driver's JIT accepts.
    pub fn max_ptx_isa(&self) -> (u32, u32) {
        model::max_ptx_isa(self.driver_cuda_version())
    }

    /// The environment that describes this machine to the libraries (models as given).
    pub fn env_faults(specs: &[String]) -> String {
        specs.join(";")
    }
}

/// Host cores available to this process (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// A thread count ([`ENV_THREADS`]): a whole number from 1 to 1024.
pub fn parse_threads(s: &str) -> Result<usize, ConfigError> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(ConfigError::Setting {
            name: ENV_THREADS.to_string(),
            reason: format!("'{s}' (expected a whole number from 1 to 1024)"),
        }),
    }
}

impl GpuFaults {
    /// The clock's factor under `drift=F@T` at `now_s` seconds since the driver started: 1 at
    /// 0, falling linearly to F at T, F after (1 without the fault).
    pub fn drift_factor(&self, now_s: f64) -> f64 {
        match self.drift {
            Some((floor, at_s)) if now_s >= at_s => floor,
            Some((floor, at_s)) => 1.0 - (1.0 - floor) * (now_s.max(0.0) / at_s),
            None => 1.0,
        }
    }
}

/// `drift=F@T`, or why not.
fn parse_drift(v: &str) -> Result<Fault, &'static str> {
    const FORM: &str = "drift=F@T needs 0 < F < 1 and a time T >= 0 in seconds, e.g. drift=0.2@20";
    let (f, t) = v.split_once('@').ok_or(FORM)?;
    let floor: f64 = f.trim().parse().map_err(|_| FORM)?;
    let at_s: f64 = t.trim().parse().map_err(|_| FORM)?;
    if !(floor > 0.0 && floor < 1.0 && at_s.is_finite() && at_s >= 0.0) {
        return Err(FORM);
    }
    Ok(Fault::Drift { floor, at_s })
}

/// Parses one `--fault` spec (see [`FAULT_GRAMMAR`]).
pub fn parse_fault(spec: &str) -> Result<FaultSpec, ConfigError> {
    let bad = |reason: &str| ConfigError::Fault {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let s = spec.trim();
    let (gpu, rest) = match s.strip_prefix("gpu=") {
        Some(r) => {
            let (i, f) = r
                .split_once(':')
                .ok_or_else(|| bad("expected gpu=I:FAULT, e.g. gpu=1:throttle"))?;
            let i: usize = i
                .trim()
                .parse()
                .map_err(|_| bad("the GPU index must be a whole number (gpu=0:…)"))?;
            (Some(i), f.trim())
        }
        None => (None, s),
    };
    let (name, arg) = match rest.split_once('=') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (rest, None),
    };
    let need = |what: &str| -> Result<&str, ConfigError> {
        arg.filter(|a| !a.is_empty())
            .ok_or_else(|| bad(&format!("{name} needs a value: {name}={what}")))
    };
    let none = || -> Result<(), ConfigError> {
        if arg.is_some() {
            Err(bad(&format!("{name} takes no value")))
        } else {
            Ok(())
        }
    };
    let fault = match name {
        "slow" => {
            let v = need("F")?;
            let f: f64 = v
                .parse()
                .map_err(|_| bad("slow=F needs a number with 0 < F <= 1, e.g. slow=0.5"))?;
            if !(f > 0.0 && f <= 1.0) {
                return Err(bad("slow=F needs 0 < F <= 1, e.g. slow=0.5"));
            }
            Fault::Slow(f)
        }
        "drift" => parse_drift(need("F@T")?).map_err(&bad)?,
        "contention" => {
            let v = need("F")?;
            let bad_f = || bad("contention=F needs a number with 0 < F <= 1, e.g. contention=0.5");
            let f: f64 = v.parse().map_err(|_| bad_f())?;
            if !(f > 0.0 && f <= 1.0) {
                return Err(bad_f());
            }
            Fault::Contention(f)
        }
        "throttle" => {
            none()?;
            Fault::Throttle
        }
        "sdc" => {
            let v = need("SUBSTRING[@BIT]")?;
            let (sub, bit) =
                match v.rsplit_once('@') {
                    Some((s, b)) => {
                        let b: u32 =
                            b.trim().parse().ok().filter(|b| *b < 64).ok_or_else(|| {
                                bad("the bit must be a whole number from 0 to 63")
                            })?;
                        (s, Some(b))
                    }
                    None => (v, None),
                };
            if sub.trim().is_empty() {
                return Err(bad(
                    "sdc needs the kernel-name substring: sdc=SUBSTRING[@BIT]",
                ));
            }
            Fault::Sdc {
                substring: sub.trim().to_string(),
                bit,
            }
        }
        "launch-fail-after" => {
            let v = need("N")?;
            let n: u64 = v
                .parse()
                .map_err(|_| bad("launch-fail-after=N needs a whole number of launches"))?;
            Fault::LaunchFailAfter(n)
        }
        "oom-after" => {
            let v = need("BYTES")?;
            Fault::OomAfter(parse_bytes(v).map_err(|e| bad(&e.to_string()))?)
        }
        "pcie" => {
            let v = need("GEN,WIDTH")?;
            let (g, w) = v
                .split_once(',')
                .ok_or_else(|| bad("pcie needs GEN,WIDTH, e.g. pcie=3,8"))?;
            let gen: u32 = g
                .trim()
                .parse()
                .ok()
                .filter(|g| model::pcie_lane_gbps(*g).is_some())
                .ok_or_else(|| bad("the PCIe generation must be 1 to 6"))?;
            let width: u32 = w
                .trim()
                .parse()
                .ok()
                .filter(|w| model::PCIE_WIDTHS.contains(w))
                .ok_or_else(|| bad("the PCIe width must be 1, 2, 4, 8, 16 or 32"))?;
            Fault::Pcie { gen, width }
        }
        "old-driver" => {
            none()?;
            Fault::OldDriver
        }
        "no-nvml" => {
            none()?;
            Fault::NoNvml
        }
        "timer" => match need("zero")? {
            "zero" => Fault::TimerZero,
            _ => return Err(bad("the only timer fault is timer=zero")),
        },
        "jitter" => {
            let v = need("SIGMA")?;
            let sigma: f64 = v.parse().map_err(|_| {
                bad("jitter=SIGMA needs a number with 0 < SIGMA <= 0.3, e.g. jitter=0.02")
            })?;
            if !(sigma > 0.0 && sigma <= MAX_JITTER) {
                return Err(bad(
                    "jitter=SIGMA needs 0 < SIGMA <= 0.3 (a relative standard deviation), e.g. \
                     jitter=0.02",
                ));
            }
            Fault::Jitter(sigma)
        }
        "cublas-missing" => {
            none()?;
            Fault::CublasMissing
        }
        "cublas-fail" => {
            none()?;
            Fault::CublasFail
        }
        "nvenc-fail" => {
            none()?;
            Fault::NvencFail
        }
        "nvenc-engines" => {
            let v = need("N")?;
            let n: u32 = v.parse().map_err(|_| {
                bad("nvenc-engines=N needs a whole number of engines, e.g. nvenc-engines=1")
            })?;
            Fault::NvencEngines(n)
        }
        "stuck-bit" => {
            Fault::StuckBit(parse_stuck_bit(need("ADDRESS:BIT")?).map_err(|e| bad(&e.to_string()))?)
        }
        h if crate::health::HEALTH_FAULT_NAMES.contains(&h) => Fault::Health(
            crate::health::parse_health_fault(h, arg).map_err(|e| bad(&e.to_string()))?,
        ),
        "sdc-after" => parse_sdc_after(need("N[@BIT]")?).map_err(|r| bad(&r.to_string()))?,
        "no-p2p" => {
            none()?;
            Fault::NoP2p
        }
        "p2p-sdc" => {
            none()?;
            Fault::P2pSdc
        }
        "" => return Err(bad("empty fault")),
        other => {
            return Err(bad(&format!(
            "unknown fault '{other}' (known: slow, drift, contention, throttle, sdc, launch-fail-after, \
                 oom-after, pcie, old-driver, no-nvml, timer, jitter, cublas-missing, cublas-fail, \
                 nvenc-fail, nvenc-engines, stuck-bit, ecc, retired-pages, xid, pcie-replays, \
                 thermal, power-cap, sdc-after, no-p2p, p2p-sdc)"
            )))
        }
    };
    Ok(FaultSpec { gpu, fault })
}

/// A byte count that [`parse_bytes`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadByteCount {
    #[error("'{0}' is not a byte count (e.g. 1000, 512M, 2GiB)")]
    NotANumber(String),
    #[error(
        "unknown size suffix '{suffix}' in '{given}' (K, M, G, T = decimal; KiB, MiB, GiB, TiB \
         = binary)"
    )]
    UnknownSuffix { suffix: String, given: String },
    #[error("'{0}' is too large")]
    TooLarge(String),
}

/// A `stuck-bit` value that [`parse_stuck_bit`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadStuckBit {
    #[error("expected {STUCK_BIT_FORM}")]
    Form,
    #[error("the address '{0}' is not 'any', 0x… or a whole number ({STUCK_BIT_FORM})")]
    Address(String),
    #[error(
        "the address {given} is not 8-aligned: name the 64-bit word, {word:#x}, and count the \
         bit from it (bit k of byte {given} is BIT {first_bit}+k)"
    )]
    Unaligned {
        given: String,
        word: u64,
        first_bit: u64,
    },
    #[error("the bit must be a whole number from 0 to 63 ({STUCK_BIT_FORM})")]
    Bit,
    #[error("the stuck value '{0}' must be 0 or 1 ({STUCK_BIT_FORM})")]
    Value(String),
}

const STUCK_BIT_FORM: &str = "stuck-bit=ADDRESS:BIT[:V], e.g. stuck-bit=any:5 or \
                              stuck-bit=0x200000100:33:0";

/// `ADDRESS:BIT[:V]` of the `stuck-bit` fault: ADDRESS `any`, `0x…` or decimal, 8-aligned;
/// BIT 0..63; V 0 or 1 (default 1).
pub fn parse_stuck_bit(v: &str) -> Result<StuckBit, BadStuckBit> {
    let parts: Vec<&str> = v.split(':').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(BadStuckBit::Form);
    }
    let address = match parts[0] {
        "any" => None,
        a => {
            let n = match a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16),
                None => a.parse(),
            }
            .map_err(|_| BadStuckBit::Address(a.to_string()))?;
            if n % 8 != 0 {
                return Err(BadStuckBit::Unaligned {
                    given: a.to_string(),
                    word: n & !7,
                    first_bit: (n % 8) * 8,
                });
            }
            Some(n)
        }
    };
    let bit = parts[1]
        .parse::<u32>()
        .ok()
        .filter(|b| *b < 64)
        .ok_or(BadStuckBit::Bit)?;
    let value = match parts.get(2) {
        None | Some(&"1") => true,
        Some(&"0") => false,
        Some(other) => return Err(BadStuckBit::Value(other.to_string())),
    };
    Ok(StuckBit {
        address,
        bit,
        value,
    })
}

/// A `sdc-after` value that [`parse_sdc_after`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadSdcAfter {
    #[error("the bit must be a whole number from 0 to 63")]
    Bit,
    #[error("sdc-after=N needs a whole number of launches, e.g. sdc-after=500")]
    Launches,
}

/// `sdc-after=N[@BIT]`'s value: launches before the corruption starts, and the bit.
fn parse_sdc_after(v: &str) -> Result<Fault, BadSdcAfter> {
    let (n, bit) = match v.rsplit_once('@') {
        Some((n, b)) => {
            let b: u32 = b
                .trim()
                .parse()
                .ok()
                .filter(|b| *b < 64)
                .ok_or(BadSdcAfter::Bit)?;
            (n, Some(b))
        }
        None => (v, None),
    };
    let after: u64 = n.trim().parse().map_err(|_| BadSdcAfter::Launches)?;
    Ok(Fault::SdcAfter { after, bit })
}

/// A byte count: digits with an optional suffix. `K`, `M`, `G`, `T` (or `KB`…) are decimal
/// (1e3…), `KiB`, `MiB`, `GiB`, `TiB` (or `Ki`…) are binary (2^10…); `B` or nothing is bytes.
pub fn parse_bytes(s: &str) -> Result<u64, BadByteCount> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| BadByteCount::NotANumber(s.to_string()))?;
    let mult: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        other => {
            return Err(BadByteCount::UnknownSuffix {
                suffix: other.to_string(),
                given: s.to_string(),
            })
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| BadByteCount::TooLarge(s.to_string()))
}

static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();

/// The machine, read from the environment on first use (or as installed by a test).
pub fn get() -> Result<&'static Config, &'static ConfigError> {
    CONFIG.get_or_init(Config::from_env).as_ref()
}

/// Installs `cfg` as the machine of this process, for tests that call the exported functions
/// in-process. Returns false when a configuration is already in place (installed, or read from
/// the environment by an earlier call): the first one stays, so call this before anything else
/// (one configuration per test binary).
pub fn install_for_tests(cfg: Config) -> bool {
    CONFIG.set(Ok(cfg)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_parses() {
        let f = parse_fault("slow=0.5").unwrap();
        assert_eq!(f.gpu, None);
        assert_eq!(f.fault, Fault::Slow(0.5));
        assert_eq!(parse_fault("throttle").unwrap().fault, Fault::Throttle);
        assert_eq!(
            parse_fault("gpu=1:drift=0.2@20").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::Drift {
                    floor: 0.2,
                    at_s: 20.0
                }
            }
        );
        assert_eq!(
            parse_fault("gpu=1:sdc=sgemm@22").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::Sdc {
                    substring: "sgemm".into(),
                    bit: Some(22)
                }
            }
        );
        assert_eq!(
            parse_fault("sdc=triad").unwrap().fault,
            Fault::Sdc {
                substring: "triad".into(),
                bit: None
            }
        );
        assert_eq!(
            parse_fault("launch-fail-after=3").unwrap().fault,
            Fault::LaunchFailAfter(3)
        );
        assert_eq!(
            parse_fault("oom-after=2GiB").unwrap().fault,
            Fault::OomAfter(2 << 30)
        );
        assert_eq!(
            parse_fault("pcie=3,8").unwrap().fault,
            Fault::Pcie { gen: 3, width: 8 }
        );
        assert_eq!(parse_fault("old-driver").unwrap().fault, Fault::OldDriver);
        assert_eq!(parse_fault(" no-nvml ").unwrap().fault, Fault::NoNvml);
        assert_eq!(parse_fault("timer=zero").unwrap().fault, Fault::TimerZero);
        assert_eq!(
            parse_fault("gpu=0:jitter=0.02").unwrap(),
            FaultSpec {
                gpu: Some(0),
                fault: Fault::Jitter(0.02)
            }
        );
        assert_eq!(parse_fault("jitter=0.3").unwrap().fault, Fault::Jitter(0.3));
        assert_eq!(
            parse_fault("cublas-missing").unwrap().fault,
            Fault::CublasMissing
        );
        assert_eq!(
            parse_fault("gpu=1:cublas-fail").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::CublasFail
            }
        );
        assert_eq!(parse_fault("nvenc-fail").unwrap().fault, Fault::NvencFail);
        assert_eq!(
            parse_fault("gpu=1:nvenc-engines=1").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::NvencEngines(1)
            }
        );
        assert_eq!(parse_fault("no-p2p").unwrap().fault, Fault::NoP2p);
        assert_eq!(
            parse_fault("gpu=1:p2p-sdc").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::P2pSdc
            }
        );
    }

    /// `sdc-after=N[@BIT]`, per GPU as every fault; the GPU's faults record it.
    #[test]
    fn sdc_after_parses_with_and_without_a_bit() {
        assert_eq!(
            parse_fault("gpu=1:sdc-after=500@3").unwrap(),
            FaultSpec {
                gpu: Some(1),
                fault: Fault::SdcAfter {
                    after: 500,
                    bit: Some(3)
                }
            }
        );
        assert_eq!(
            parse_fault("sdc-after=0").unwrap().fault,
            Fault::SdcAfter {
                after: 0,
                bit: None
            }
        );
    }

    #[test]
    fn stuck_bits_parse() {
        let stuck = |spec: &str| match parse_fault(spec).unwrap() {
            FaultSpec {
                gpu,
                fault: Fault::StuckBit(s),
            } => (gpu, s.address, s.bit, s.value),
            other => panic!("{spec}: {other:?}"),
        };
        assert_eq!(stuck("stuck-bit=any:5"), (None, None, 5, true));
        assert_eq!(
            stuck("gpu=1:stuck-bit=0x200000100:33:0"),
            (Some(1), Some(0x2_0000_0100), 33, false)
        );
        assert_eq!(stuck("stuck-bit=4096:63:1"), (None, Some(4096), 63, true));
        // Bit 33 of the word at 0x100 is bit 1 of the byte at 0x104.
        let s = StuckBit {
            address: None,
            bit: 33,
            value: false,
        };
        assert_eq!(
            s.cell(0x100),
            crate::exec::StuckCell {
                address: 0x104,
                bit: 1,
                value: false
            }
        );
        let mut cfg = Config::build(&[], &["gpu=0:stuck-bit=any:7".to_string()]).unwrap();
        assert_eq!(cfg.gpus[0].faults.stuck_bit.map(|s| s.bit), Some(7));
        assert!(cfg
            .apply(
                "gpu=3:stuck-bit=any:7",
                parse_fault("gpu=3:stuck-bit=any:7").unwrap()
            )
            .is_err());
    }

    /// `drift=F@T`: full clock at the driver's start, F × at T and after, linear between.
    #[test]
    fn drift_sags_linearly_to_its_floor() {
        let mut g = GpuFaults::default();
        assert_eq!(g.drift_factor(7.0), 1.0);
        g.drift = Some((0.2, 20.0));
        for (now_s, want) in [
            (0.0, 1.0),
            (5.0, 0.8),
            (10.0, 0.6),
            (20.0, 0.2),
            (99.0, 0.2),
        ] {
            assert!((g.drift_factor(now_s) - want).abs() < 1e-12, "{now_s}");
        }
        g.drift = Some((0.5, 0.0));
        assert_eq!(g.drift_factor(0.0), 0.5);
        // `gpugate-sim --help` prints the grammar.
        assert!(FAULT_GRAMMAR.contains("drift=F@T"));
    }

    #[test]
    fn bad_faults_say_what_was_wrong() {
        for (spec, says) in [
            ("slow=0", "0 < F <= 1"),
            ("slow=1.5", "0 < F <= 1"),
            ("slow=fast", "number"),
            ("slow", "needs a value"),
            ("drift", "needs a value"),
            ("drift=0.5", "drift=F@T"),
            ("drift=1@5", "0 < F < 1"),
            ("drift=0@5", "0 < F < 1"),
            ("drift=0.5@-1", "T >= 0"),
            ("drift=0.5@soon", "T >= 0"),
            ("contention=0", "0 < F <= 1"),
            ("contention=1.2", "0 < F <= 1"),
            ("contention", "needs a value"),
            ("throttle=2", "takes no value"),
            ("sdc=", "needs a value"),
            ("sdc=@3", "substring"),
            ("sdc=x@64", "0 to 63"),
            ("launch-fail-after=-1", "whole number"),
            ("oom-after=12XB", "suffix"),
            ("pcie=7,16", "generation"),
            ("pcie=3,12", "width"),
            ("pcie=3", "GEN,WIDTH"),
            ("gpu=x:throttle", "whole number"),
            ("gpu=1", "gpu=I:FAULT"),
            ("timer", "needs a value"),
            ("timer=slow", "timer=zero"),
            ("jitter", "needs a value"),
            ("jitter=0", "0 < SIGMA <= 0.3"),
            ("jitter=0.5", "0 < SIGMA <= 0.3"),
            ("jitter=-0.1", "0 < SIGMA <= 0.3"),
            ("jitter=NaN", "0 < SIGMA <= 0.3"),
            ("jitter=lots", "number"),
            ("cublas-fail=1", "takes no value"),
            ("cublas-missing=yes", "takes no value"),
            ("nvenc-fail=1", "takes no value"),
            ("nvenc-engines", "needs a value"),
            ("nvenc-engines=two", "whole number"),
            ("stuck-bit", "needs a value"),
            ("stuck-bit=any", "ADDRESS:BIT"),
            ("stuck-bit=any:5:1:2", "ADDRESS:BIT"),
            ("stuck-bit=nowhere:5", "not 'any', 0x"),
            ("stuck-bit=0x10g:5", "not 'any', 0x"),
            (
                "stuck-bit=0x1003:5",
                "not 8-aligned: name the 64-bit word, 0x1000",
            ),
            ("stuck-bit=any:64", "0 to 63"),
            ("stuck-bit=any:x", "0 to 63"),
            ("stuck-bit=any:5:2", "must be 0 or 1"),
            ("sdc-after", "needs a value"),
            ("sdc-after=x", "whole number of launches"),
            ("sdc-after=-1", "whole number of launches"),
            ("sdc-after=5@64", "0 to 63"),
            ("no-p2p=1", "takes no value"),
            ("p2p-sdc=3", "takes no value"),
            ("melt", "unknown fault"),
            ("", "empty"),
        ] {
            let e = parse_fault(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
            assert!(e.contains(&format!("'{spec}'")), "{spec}: {e}");
        }
    }

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("64K").unwrap(), 64_000);
        assert_eq!(parse_bytes("64KiB").unwrap(), 65_536);
        assert_eq!(parse_bytes("512M").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("512mib").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2G").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("3B").unwrap(), 3);
        assert_eq!(parse_bytes("G"), Err(BadByteCount::NotANumber("G".into())));
        assert_eq!(
            parse_bytes("99999999999T"),
            Err(BadByteCount::TooLarge("99999999999T".into()))
        );
        assert!(matches!(
            parse_bytes("4Q"),
            Err(BadByteCount::UnknownSuffix { ref suffix, .. }) if suffix == "q"
        ));
    }

    #[test]
    fn faults_apply_to_one_gpu_or_all() {
        let c = Config::build(
            &["m40".into(), "m40".into()],
            &["gpu=1:slow=0.5".into(), "throttle".into()],
        )
        .unwrap();
        assert_eq!(c.gpus[0].faults.slow, None);
        assert_eq!(c.gpus[1].faults.slow, Some(0.5));
        assert!(c.gpus[0].faults.throttle && c.gpus[1].faults.throttle);
        let c = Config::build(&["m40".into(), "m40".into()], &["contention=0.5".into()]).unwrap();
        assert!(c.gpus.iter().all(|g| g.faults.contention == Some(0.5)));
        let c = Config::build(
            &["m40".into(), "m40".into()],
            &["gpu=1:jitter=0.05".into(), "timer=zero".into()],
        )
        .unwrap();
        assert_eq!(
            (c.gpus[0].faults.jitter, c.gpus[1].faults.jitter),
            (None, Some(0.05))
        );
        assert!(c.gpus[0].faults.timer_zero && c.gpus[1].faults.timer_zero);
        let e = Config::build(&["m40".into()], &["gpu=1:throttle".into()]).unwrap_err();
        assert!(e.to_string().contains("1 GPU(s)"), "{e}");
        let e = Config::build(&["m40".into()], &["gpu=0:old-driver".into()]).unwrap_err();
        assert!(e.to_string().contains("whole machine"), "{e}");
        let e = Config::build(&["m40".into()], &["gpu=0:cublas-missing".into()]).unwrap_err();
        assert!(e.to_string().contains("whole machine"), "{e}");
        let c = Config::build(
            &["m40".into(), "m40".into()],
            &["gpu=1:cublas-fail".into(), "cublas-missing".into()],
        )
        .unwrap();
        assert!(!c.gpus[0].faults.cublas_fail && c.gpus[1].faults.cublas_fail);
        assert!(c.cublas_missing);
        // The encoder faults: per GPU, and never more engines than the model has.
        let c = Config::build(
            &["m40".into(), "m40".into()],
            &["gpu=0:nvenc-engines=1".into(), "gpu=1:nvenc-fail".into()],
        )
        .unwrap();
        assert_eq!(c.gpus[0].faults.nvenc_engines, Some(1));
        assert!(!c.gpus[0].faults.nvenc_fail && c.gpus[1].faults.nvenc_fail);
        let e = Config::build(&["m40".into()], &["nvenc-engines=3".into()]).unwrap_err();
        assert!(e.to_string().contains("has 2 NVENC engine(s)"), "{e}");
        let e = Config::build(&["h100".into()], &["nvenc-engines=1".into()]).unwrap_err();
        assert!(e.to_string().contains("has 0 NVENC engine(s)"), "{e}");
    }

    #[test]
    fn the_machines_cublas_is_its_first_models_and_must_support_every_gpu() {
        let c = Config::build(&["h100".into(), "m40".into()], &[]).unwrap();
        assert_eq!(c.cublas_version(), (12, 8, 4));
        assert_eq!(
            Config::build(&[], &[]).unwrap().cublas_version(),
            (12, 4, 5)
        );
        // A cuBLAS 13 model first, an M40 second: cuBLAS 13 has no sm_52 support.
        let mut h100 = crate::model::load("h100").unwrap();
        h100.cublas.version = "13.0.2".into();
        let mut c = Config::new(vec![h100, crate::model::load("m40").unwrap()]);
        let e = c.check_cublas().unwrap_err().to_string();
        assert!(e.contains("13.0.2") && e.contains("GPU 1 is sm_52"), "{e}");
        c.gpus.truncate(1);
        assert!(c.check_cublas().is_ok());
    }

    #[test]
    fn driver_version_comes_from_the_first_gpu_or_the_old_driver_fault() {
        let c = Config::build(&["h100".into(), "m40".into()], &[]).unwrap();
        assert_eq!(c.driver_cuda_version(), 12080);
        assert_eq!(c.max_ptx_isa(), (8, 7));
        let c = Config::build(&[], &["old-driver".into()]).unwrap();
        assert_eq!(c.gpus.len(), 1);
        assert_eq!(c.gpus[0].model.key, "m40");
        assert_eq!(c.driver_cuda_version(), 8000);
        assert_eq!(c.max_ptx_isa(), (5, 0));
        assert!(c.driver_version_string().starts_with("375."));
    }

    #[test]
    fn a_driver_release_overrides_the_models_and_old_driver_overrides_both() {
        let mut c = Config::build(&["h100".into()], &[]).unwrap();
        c.driver = Some(crate::driver_releases::parse("418").unwrap());
        assert_eq!(c.driver_cuda_version(), 10010);
        assert_eq!(c.driver_version_string(), "418.226.00");
        assert!(c
            .missing_entry_points()
            .contains(&"cuDevicePrimaryCtxRelease_v2"));
        assert!(!c.has_attribute(115), "memory pools came with CUDA 11.2");
        assert!(c.has_attribute(16));
        c.old_driver = true;
        assert_eq!(c.driver_cuda_version(), 8000);
        let plain = Config::build(&["h100".into()], &[]).unwrap();
        assert!(plain.has_attribute(115));
        assert_eq!(
            plain.missing_entry_points(),
            crate::driver_releases::missing_entry_points(12080)
        );
    }

    #[test]
    fn health_faults_parse_per_gpu() {
        use crate::health::HealthFault as H;
        for (spec, gpu, want) in [
            (
                "ecc=sbe@0",
                None,
                H::Ecc {
                    double: false,
                    at_s: 0.0,
                },
            ),
            (
                "gpu=1:ecc=dbe@2.5",
                Some(1),
                H::Ecc {
                    double: true,
                    at_s: 2.5,
                },
            ),
            (
                "retired-pages=62",
                None,
                H::RetiredPages {
                    pages: 62,
                    pending: false,
                },
            ),
            (
                "retired-pages=3,pending",
                None,
                H::RetiredPages {
                    pages: 3,
                    pending: true,
                },
            ),
            ("gpu=0:xid=79@1", Some(0), H::Xid { xid: 79, at_s: 1.0 }),
            ("pcie-replays=120", None, H::PcieReplays(120)),
            (
                "thermal=2",
                None,
                H::Thermal {
                    rise_c_per_s: 2.0,
                    slowdown_at_s: None,
                },
            ),
            (
                "thermal=5@1.5",
                None,
                H::Thermal {
                    rise_c_per_s: 5.0,
                    slowdown_at_s: Some(1.5),
                },
            ),
            ("power-cap", None, H::PowerCap),
        ] {
            assert_eq!(
                parse_fault(spec).unwrap(),
                FaultSpec {
                    gpu,
                    fault: Fault::Health(want)
                },
                "{spec}"
            );
        }
        let c = Config::build(
            &["m40".into(), "m40".into()],
            &[
                "gpu=1:xid=13@0".into(),
                "xid=79@2".into(),
                "power-cap".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.gpus[0].faults.health.xids, vec![(79, 2.0)]);
        assert_eq!(c.gpus[1].faults.health.xids, vec![(13, 0.0), (79, 2.0)]);
        assert!(c.gpus[0].faults.health.power_cap && c.gpus[1].faults.health.power_cap);
    }

    #[test]
    fn bad_health_faults_say_what_was_wrong() {
        for (spec, says) in [
            ("ecc", "needs a value"),
            ("ecc=sbe", "needs a time"),
            ("ecc=tbe@1", "sbe@T"),
            ("ecc=dbe@-1", "not a time"),
            ("ecc=dbe@soon", "not a time"),
            ("retired-pages=many", "whole number"),
            ("retired-pages=3,later", "N,pending"),
            ("xid=79", "needs a time"),
            ("xid=0@1", "1 to 999"),
            ("xid=1000@1", "1 to 999"),
            ("pcie-replays=-3", "whole number"),
            ("thermal=0", "0 < RISE <= 100"),
            ("thermal=hot", "0 < RISE <= 100"),
            ("thermal=2@NaN", "not a time"),
            ("power-cap=200", "takes no value"),
        ] {
            let e = parse_fault(spec).unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
            assert!(e.contains(&format!("'{spec}'")), "{spec}: {e}");
        }
    }

    #[test]
    fn threads_are_checked() {
        assert_eq!(parse_threads("4").unwrap(), 4);
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("many").is_err());
    }
}
