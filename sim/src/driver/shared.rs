//! What the driver and NVML both know about each simulated GPU: its model and faults, its
//! identity (UUID, PCI address) and the counters NVML reports from the driver's state (memory
//! in use, open contexts, ECC errors) and its power and heat (`crate::power`, driven by the
//! driver's operations). NVML reads these without taking the driver's lock and without
//! initialising the driver.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::config::{self, Config, ConfigError, GpuFaults};
use crate::model::DeviceModel;
use crate::power::{HeatState, Reading, Thermal};

/// One simulated GPU.
#[derive(Debug)]
pub struct Gpu {
    pub index: usize,
    pub model: Arc<DeviceModel>,
    pub faults: GpuFaults,
    /// cuDeviceGetUuid; NVML prints it as "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
    pub uuid: [u8; 16],
    pub pci_domain: u32,
    pub pci_bus: u32,
    pub pci_device: u32,
    /// Bytes of live device allocations (module variables included).
    pub used_bytes: AtomicU64,
    /// Contexts open on the device (an active primary context counts once).
    pub open_contexts: AtomicU32,
    /// Uncorrectable ECC errors since the process started (the `launch-fail-after` fault).
    pub ecc_uncorrected: AtomicU64,
    /// Launches so far (for `launch-fail-after`).
    pub launches: AtomicU64,
    /// The sticky error of the device (a CUresult value; 0 = none).
    pub sticky: AtomicU32,
    /// The constants of its power and heat (its model's, with `power-cap`).
    pub thermal: Thermal,
    /// Its power and heat now (`crate::power`).
    heat: Mutex<HeatState>,
    /// Launches running now on the host, and launches begun so far: whether a launch of
    /// another GPU overlapped one of this GPU, for `contention=F` ([`Gpu::contention_factor`]).
    pub in_flight: AtomicU32,
    pub began: AtomicU64,
}

/// An operation running on a GPU's SMs, for its power and heat: started when made, ended by
/// [`Busy::done`] with its busy share, or on drop (an error) as fully busy.
pub struct Busy<'a> {
    gpu: &'a Gpu,
    share: Option<f64>,
}

impl Busy<'_> {
    /// Ends the operation; `share`: the SMs' busy share of it on the simulated timeline.
    pub fn done(mut self, share: f64) {
        self.share = Some(share);
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut h = self.gpu.heat.lock().unwrap_or_else(|e| e.into_inner());
        let share = self.share.unwrap_or(1.0);
        h.end(&self.gpu.thermal, uptime_s(), share);
    }
}

/// What the other GPUs of the machine were doing when a launch of one GPU began
/// ([`Gpu::watch_others`]): whether one was running a launch, and how many each had begun.
#[derive(Debug)]
pub struct OthersWatch {
    busy: bool,
    began: Vec<u64>,
}

/// The PCI bus of GPU `index`: the model's entry for that index, or, when an earlier GPU of
/// another model took it, the next free one of the model's list, else the first free bus
/// number written with decimal digits only (so NVML's upper-case hex equals gpugate's
/// lower-case formatting).
fn pick_bus(model: &DeviceModel, index: usize, taken: &[u32]) -> u32 {
    let ids = &model.pci.bus_ids;
    (0..ids.len())
        .map(|k| ids[(index + k) % ids.len()])
        .chain((1..=0x99u32).filter(|b| b % 16 < 10))
        .find(|b| !taken.contains(b))
        .unwrap_or(0)
}

impl Gpu {
    fn new(index: usize, g: &config::GpuConfig, bus: u32) -> Gpu {
        let model = g.model.clone();
        let thermal = Thermal::of(&model.nvml, g.faults.health.power_cap);
        Gpu {
            heat: Mutex::new(HeatState::new(&thermal, uptime_s())),
            thermal,
            index,
            uuid: uuid_for(&model, index),
            pci_domain: model.pci.domain,
            pci_bus: bus,
            pci_device: 0,
            model,
            faults: g.faults.clone(),
            used_bytes: AtomicU64::new(0),
            open_contexts: AtomicU32::new(0),
            ecc_uncorrected: AtomicU64::new(0),
            launches: AtomicU64::new(0),
            sticky: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            began: AtomicU64::new(0),
        }
    }

    /// A launch starts on this GPU (see [`Gpu::contention_factor`]).
    pub fn launch_began(&self) {
        self.began.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// A launch ended on this GPU.
    pub fn launch_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// The other GPUs of the machine as a launch of this one begins (`None` without
    /// `contention=F`: nothing to watch).
    pub fn watch_others(&self) -> Option<OthersWatch> {
        self.faults.contention?;
        let m = machine().ok()?;
        let others = m.gpus.iter().filter(|g| g.index != self.index);
        Some(OthersWatch {
            busy: others
                .clone()
                .any(|g| g.in_flight.load(Ordering::Acquire) > 0),
            began: others.map(|g| g.began.load(Ordering::Acquire)).collect(),
        })
    }

    /// Whether another GPU ran a launch at some moment of this GPU's launch that began with
    /// `watch`: one was running when it began or is running now, or one began meanwhile.
    pub fn overlapped(&self, watch: &OthersWatch) -> bool {
        watch.busy || self.others_busy() || {
            let now = machine().map(|m| {
                m.gpus
                    .iter()
                    .filter(|g| g.index != self.index)
                    .map(|g| g.began.load(Ordering::Acquire))
                    .collect::<Vec<_>>()
            });
            now.is_ok_and(|n| n != watch.began)
        }
    }

    /// Whether another GPU of the machine is running a launch now.
    pub fn others_busy(&self) -> bool {
        machine().is_ok_and(|m| {
            m.gpus
                .iter()
                .any(|g| g.index != self.index && g.in_flight.load(Ordering::Acquire) > 0)
        })
    }

    /// The `contention=F` factor of work that ran while another GPU was loaded (`together`):
    /// F then, else 1.
    pub fn contention_factor(&self, together: bool) -> f64 {
        match self.faults.contention {
            Some(f) if together => f,
            _ => 1.0,
        }
    }

    /// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as gpugate formats the driver's UUID.
    pub fn uuid_string(&self) -> String {
        let h: Vec<String> = self.uuid.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "GPU-{}-{}-{}-{}-{}",
            h[0..4].concat(),
            h[4..6].concat(),
            h[6..8].concat(),
            h[8..10].concat(),
            h[10..16].concat()
        )
    }

    /// "00000000:BB:DD.0", as NVML prints it (and gpugate formats it from the driver).
    pub fn pci_bus_id(&self) -> String {
        format!(
            "{:08X}:{:02X}:{:02X}.0",
            self.pci_domain, self.pci_bus, self.pci_device
        )
    }

    /// The current PCIe link (gen, width): the `pcie` fault's, or the model's.
    pub fn pcie_link(&self) -> (u32, u32) {
        self.faults
            .pcie
            .unwrap_or((self.model.pci.gen, self.model.pci.width))
    }

    /// The SM clock the GPU holds under load, as a fraction of its max clock now: the model's
    /// throttle fraction under `throttle` and in the hardware slowdown of `thermal=RISE@T`,
    /// `POWER_CAP_CLOCK_FRACTION` under `power-cap`, else 1; times the sag of `drift=F@T`
    /// (`GpuFaults::drift_factor`).
    pub fn clock_fraction(&self) -> f64 {
        let now_s = uptime_s();
        let held = if self.faults.throttle || self.faults.health.hw_slowdown(now_s) {
            self.model.nvml.throttle_clock_fraction
        } else if self.faults.health.power_cap {
            crate::health::POWER_CAP_CLOCK_FRACTION
        } else {
            1.0
        };
        // `drift=F@T` sags on top of whatever holds the clock, with no reason of its own.
        held * self.faults.drift_factor(now_s)
    }

    /// The SM clock the GPU holds under load, MHz (see [`Gpu::clock_fraction`]).
    pub fn sm_clock_mhz(&self) -> u32 {
        let max = self.model.compute.sm_clock_max_mhz;
        (max as f64 * self.clock_fraction()).round() as u32
    }

    /// NVENC engines that work: the `nvenc-engines` fault's count, or the model's.
    pub fn nvenc_engines(&self) -> u32 {
        self.faults
            .nvenc_engines
            .unwrap_or(self.model.nvenc.engines)
    }

    /// An operation starts on the GPU's SMs now (`crate::power`).
    pub fn busy(&self) -> Busy<'_> {
        let mut h = self.heat.lock().unwrap_or_else(|e| e.into_inner());
        h.begin(&self.thermal, uptime_s());
        Busy {
            gpu: self,
            share: None,
        }
    }

    /// The GPU's power, temperature and utilisation now, from its load (`crate::power`).
    pub fn heat(&self) -> Reading {
        let mut h = self.heat.lock().unwrap_or_else(|e| e.into_inner());
        h.reading(&self.thermal, uptime_s())
    }

    pub fn is_open(&self) -> bool {
        self.open_contexts.load(Ordering::Relaxed) > 0
    }
}

/// A deterministic UUID per model and index: FNV-1a over both, spread by SplitMix64, with the
/// RFC 4122 version-4 and variant bits set (real GPU UUIDs look random too).
fn uuid_for(model: &DeviceModel, index: usize) -> [u8; 16] {
    let h = crate::fnv1a64(
        model
            .key
            .bytes()
            .chain(model.name.bytes())
            .chain((index as u64).to_le_bytes()),
    );
    let mut out = [0u8; 16];
    let mut s = h;
    for chunk in out.chunks_mut(8) {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_be_bytes());
    }
    out[6] = (out[6] & 0x0f) | 0x40;
    out[8] = (out[8] & 0x3f) | 0x80;
    out
}

/// The machine's configuration and its GPUs, built once from [`config::get`].
pub struct Machine {
    pub config: &'static Config,
    pub gpus: Vec<Gpu>,
}

static MACHINE: OnceLock<Result<Machine, BadMachine>> = OnceLock::new();

/// Why the simulated machine cannot be built: its configuration in the environment is bad.
#[derive(Debug, thiserror::Error)]
#[error(
    "bad configuration in the environment ({models}, {faults}): {0}; the simulated driver \
     reports CUDA_ERROR_INVALID_VALUE from cuInit (run COMMAND through `gpugate-sim`, which \
     checks its arguments first)",
    models = config::ENV_MODELS,
    faults = config::ENV_FAULTS
)]
pub struct BadMachine(&'static ConfigError);

/// When the simulated driver started in this process (the machine was first built).
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Wall-clock seconds since the simulated driver started in this process: the clock of the
/// health faults' times (`ecc=dbe@T`, `xid=N@T`, `thermal=RISE@T`; `crate::health`).
pub fn uptime_s() -> f64 {
    STARTED.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// The simulated machine, or why its configuration is bad (reported once on stderr).
pub fn machine() -> Result<&'static Machine, &'static BadMachine> {
    MACHINE
        .get_or_init(|| {
            match config::get().inspect(|_| {
                STARTED.get_or_init(Instant::now);
            }) {
                Ok(cfg) => Ok(Machine {
                    config: cfg,
                    gpus: {
                        let mut taken = Vec::new();
                        cfg.gpus
                            .iter()
                            .enumerate()
                            .map(|(i, g)| {
                                let bus = pick_bus(&g.model, i, &taken);
                                taken.push(bus);
                                Gpu::new(i, g, bus)
                            })
                            .collect()
                    },
                }),
                Err(e) => {
                    let bad = BadMachine(e);
                    super::log::stderr(&bad.to_string());
                    Err(bad)
                }
            }
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_distinct_and_well_formed() {
        let m40 = crate::model::load("m40").unwrap();
        let a = uuid_for(&m40, 0);
        assert_eq!(a, uuid_for(&m40, 0));
        assert_ne!(a, uuid_for(&m40, 1));
        let h100 = crate::model::load("h100").unwrap();
        assert_ne!(a, uuid_for(&h100, 0));
        let g = Gpu::new(
            1,
            &config::GpuConfig {
                model: Arc::new(m40),
                faults: GpuFaults::default(),
            },
            5,
        );
        let s = g.uuid_string();
        assert!(s.starts_with("GPU-") && s.len() == 40, "{s}");
        assert_eq!(g.pci_bus_id(), "00000000:05:00.0");
    }

    /// `contention=F` applies to work done together only; without the fault nothing is
    /// watched.
    #[test]
    fn contention_applies_only_together_and_only_with_the_fault() {
        let gpu = |faults| {
            Gpu::new(
                0,
                &config::GpuConfig {
                    model: Arc::new(crate::model::load("m40").unwrap()),
                    faults,
                },
                3,
            )
        };
        let healthy = gpu(GpuFaults::default());
        assert_eq!(healthy.contention_factor(true), 1.0);
        assert!(healthy.watch_others().is_none());
        let shared = gpu(GpuFaults {
            contention: Some(0.7),
            ..GpuFaults::default()
        });
        assert_eq!(shared.contention_factor(true), 0.7);
        assert_eq!(shared.contention_factor(false), 1.0);
        shared.launch_began();
        assert_eq!(shared.in_flight.load(Ordering::Acquire), 1);
        shared.launch_ended();
        assert_eq!(shared.in_flight.load(Ordering::Acquire), 0);
        assert_eq!(shared.began.load(Ordering::Acquire), 1);
        let idle = OthersWatch {
            busy: false,
            began: vec![],
        };
        let busy = OthersWatch {
            busy: true,
            began: vec![],
        };
        assert!(shared.overlapped(&busy));
        // No machine in this process's environment: no other GPU ran.
        assert!(!shared.overlapped(&idle) || machine().is_ok());
    }

    #[test]
    fn pci_buses_differ_per_gpu_whatever_the_models() {
        let h200 = crate::model::load("h200").unwrap();
        let h100 = crate::model::load("h100").unwrap();
        // h200's bus for GPU 0 is h100's for GPU 1.
        let b0 = pick_bus(&h200, 0, &[]);
        let b1 = pick_bus(&h100, 1, &[b0]);
        assert_ne!(b0, b1);
        assert_eq!(b1, h100.pci.bus_ids[2]);
        // Thirty-two GPUs of one model still get distinct, decimal-looking buses.
        let mut taken = Vec::new();
        for i in 0..32 {
            let b = pick_bus(&h100, i, &taken);
            assert!(!taken.contains(&b));
            assert!(b % 16 < 10 && (b / 16) % 16 < 10, "{b:#x}");
            taken.push(b);
        }
    }
}
