//! The time model: how long the modelled GPU would take for what a launch executed, or for a
//! copy or memset. Pure and deterministic.
//!
//! Kernel:
//! ```text
//! t = max( launch_interval_us·1e-6,
//!          launch_gap_us·1e-6 + max( (flops_f32 + flops_f16) / (fp32_peak        · fp32_eff  · c · s),
//!                                    flops_f64              / (fp64_peak        · fp64_eff  · c · s),
//!                                    tensor_flops_f64       / (fp64_tensor_peak · tc64_eff  · c · s),
//!                                    tensor_flops_f16       / (fp16_tensor_peak · tc16_eff  · c · s),
//!                                    (global_bytes_read + global_bytes_written)
//!                                                           / (memory_bw        · mem_eff   · s),
//!                                    int_ops                / (SMs · int32_lanes · clock · issue_eff · c · s),
//!                                    thread_instructions    / (SMs · schedulers · 32 · clock · issue_eff · c · s) ) )
//! ```
//! `int_ops` are the integer ALU operations the lanes executed (`exec::LaunchStats`); the
//! integer rate is the 32-bit integer add throughput per SM (128 per clock on Maxwell, 64 from
//! Volta on), at the issue efficiency.
//! The launch interval is what the host's launch path takes per kernel: back-to-back kernels
//! shorter than it leave the GPU idle. Longer kernels are queued ahead by the host, and only
//! the GPU-side gap between them shows.
//! where `c` is the clock factor (`Gpu::clock_fraction`: 1, or the throttle fraction under
//! `throttle` and in the hardware slowdown of `thermal=RISE@T`, 0.95 under `power-cap`) and `s` the
//! `slow=F` factor (× the `contention=F` factor while another GPU of the machine is loaded:
//! `Gpu::contention_factor`). A model without tensor cores never sees tensor FLOPs (the PTX needs sm_70+);
//! if it did, they would count against the vector peak of the same precision.
//!
//! Copies: `copy_latency_us·1e-6 + bytes / rate` with rate = PCIe link (current gen × width) ×
//! pcie_eff × s for host↔device (× pageable_eff for host memory that is not pinned),
//! memory_bw × mem_eff × s / 2 for device→device on one GPU (each byte is read and written),
//! and the slower of the two links for a peer copy between contexts with peer access enabled
//! (without it, the driver stages the copy through host memory: the two links' times add up,
//! with two latencies). Memset: overhead + bytes / (memory_bw ·
//! mem_eff · s).
//!
//! Each GPU has a PCIe link of its own to the host (its root port; no PCIe switch is modelled),
//! full duplex, and each stream a clock of its own: copies on different GPUs' streams overlap
//! and never slow each other, and host memory (tens of GB/s on the hosts modelled, against a
//! link's 12.4 GB/s) is no limit. So two copies staged through host memory at once, the opposite
//! ways between two GPUs (gpugate's `host_staged_device_to_device_bidirectional_memcpy`: each
//! GPU's stream takes its own copy down to pinned host memory, both at once, then the other's
//! up from it, both at once), each take what one takes alone: its down leg at its source's
//! pinned rate plus its up leg at its destination's, and both ways together twice one way. On
//! a real machine whose two GPUs sit behind one PCIe switch, the two down legs share the
//! switch's uplink (and then the two up legs), and each copy can take up to twice as long:
//! the simulator does not model that, and a test of it would need a real pair.
//!
//! Event timing ([`reported_elapsed`]): `cuEventElapsedTime` reports the simulated time between
//! two events, 0 under `timer=zero`, and × (1 + SIGMA·z) under `jitter=SIGMA`, z a standard
//! normal draw clamped to ±3 and seeded by the two stamps and the GPU's launch count
//! ([`jitter_seed`]): the same sequence of calls gives the same times.

use crate::config::GpuFaults;
use crate::exec::LaunchStats;
use crate::model::{pcie_lane_gbps, DeviceModel};

use super::shared::Gpu;

/// What bounded a launch (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Overhead,
    Fp32,
    Fp64,
    Fp64Tensor,
    Fp16Tensor,
    Memory,
    Int32,
    Issue,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Overhead => "overhead",
            Bound::Fp32 => "fp32",
            Bound::Fp64 => "fp64",
            Bound::Fp64Tensor => "fp64_tensor",
            Bound::Fp16Tensor => "fp16_tensor",
            Bound::Memory => "memory",
            Bound::Int32 => "int32",
            Bound::Issue => "issue",
        }
    }
}

/// The fault factors of one GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factors {
    /// Clock factor for compute (throttle).
    pub clock: f64,
    /// Throughput factor for everything (slow=F, × contention=F while another GPU is loaded).
    pub slow: f64,
    /// The current PCIe link.
    pub link: (u32, u32),
}

impl Factors {
    /// A healthy GPU of `model`.
    pub fn healthy(model: &DeviceModel) -> Factors {
        Factors {
            clock: 1.0,
            slow: 1.0,
            link: (model.pci.gen, model.pci.width),
        }
    }

    /// The factors of a configured GPU for a copy or memset: together (`contention=F`) when
    /// another GPU is running a launch now.
    pub fn of(gpu: &Gpu) -> Factors {
        Factors::during(gpu, gpu.faults.contention.is_some() && gpu.others_busy())
    }

    /// The factors of a configured GPU for work done `together` with another GPU's or not.
    pub fn during(gpu: &Gpu, together: bool) -> Factors {
        Factors {
            clock: gpu.clock_fraction(),
            slow: gpu.faults.slow.unwrap_or(1.0) * gpu.contention_factor(together),
            link: gpu.pcie_link(),
        }
    }
}

/// Simulated seconds for one launch, and what bounded it.
pub fn kernel_seconds(model: &DeviceModel, f: Factors, s: &LaunchStats) -> (f64, Bound) {
    let (secs, _, bound) = kernel_time(model, f, s);
    (secs, bound)
}

/// Simulated seconds for one launch, the SMs' busy share of them (below 1 when the launch
/// interval bounds it: the GPU idles for the rest; `crate::power`), and what bounded it.
pub fn kernel_time(model: &DeviceModel, f: Factors, s: &LaunchStats) -> (f64, f64, Bound) {
    let t = &model.time;
    let c = &model.compute;
    let compute = f.clock * f.slow;
    let rate = |tflops: f64, eff: f64, scale: f64| tflops * 1e12 * eff * scale;
    let (tc64_peak, tc64_eff) = if t.fp64_tensor_tflops > 0.0 {
        (t.fp64_tensor_tflops, t.fp64_tensor_efficiency)
    } else {
        (t.fp64_tflops, t.fp64_efficiency)
    };
    let (tc16_peak, tc16_eff) = if t.fp16_tensor_tflops > 0.0 {
        (t.fp16_tensor_tflops, t.fp16_tensor_efficiency)
    } else {
        (t.fp32_tflops, t.fp32_efficiency)
    };
    let issue_rate = c.sm_count as f64
        * c.schedulers_per_sm as f64
        * c.warp_size as f64
        * c.sm_clock_max_mhz as f64
        * 1e6
        * t.issue_efficiency
        * compute;
    let int_rate = c.sm_count as f64
        * c.int32_lanes_per_sm as f64
        * c.sm_clock_max_mhz as f64
        * 1e6
        * t.issue_efficiency
        * compute;
    let units = [
        (
            Bound::Fp32,
            (s.flops_f32 + s.flops_f16) as f64 / rate(t.fp32_tflops, t.fp32_efficiency, compute),
        ),
        (
            Bound::Fp64,
            s.flops_f64 as f64 / rate(t.fp64_tflops, t.fp64_efficiency, compute),
        ),
        (
            Bound::Fp64Tensor,
            s.tensor_flops_f64 as f64 / rate(tc64_peak, tc64_eff, compute),
        ),
        (
            Bound::Fp16Tensor,
            s.tensor_flops_f16 as f64 / rate(tc16_peak, tc16_eff, compute),
        ),
        (
            Bound::Memory,
            (s.global_bytes_read + s.global_bytes_written) as f64
                / (t.memory_gbps * 1e9 * t.memory_efficiency * f.slow),
        ),
        (Bound::Int32, s.int_ops as f64 / int_rate),
        (Bound::Issue, s.thread_instructions as f64 / issue_rate),
    ];
    let (bound, work) = units
        .iter()
        .fold((Bound::Overhead, 0.0f64), |(b, m), &(u, v)| {
            if v > m {
                (u, v)
            } else {
                (b, m)
            }
        });
    let busy = t.launch_gap_us * 1e-6 + work;
    let interval = t.launch_interval_us * 1e-6;
    if busy < interval {
        (interval, busy / interval, Bound::Overhead)
    } else {
        (busy, 1.0, bound)
    }
}

/// The direction of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    HostToDevice {
        pinned: bool,
    },
    DeviceToHost {
        pinned: bool,
    },
    /// Both ends on the same GPU.
    DeviceToDevice,
    /// Between two GPUs; the other GPU's factors give its link. `direct`: peer access is
    /// enabled between their contexts, so the copy crosses the links once; otherwise the
    /// driver stages it through host memory (device to host, then host to device).
    Peer {
        other_link: (u32, u32),
        direct: bool,
    },
    HostToHost,
}

impl CopyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyKind::HostToDevice { .. } => "htod",
            CopyKind::DeviceToHost { .. } => "dtoh",
            CopyKind::DeviceToDevice => "dtod",
            CopyKind::Peer { .. } => "peer",
            CopyKind::HostToHost => "htoh",
        }
    }
}

/// PCIe link rate in B/s.
pub fn link_bytes_per_second(link: (u32, u32)) -> f64 {
    pcie_lane_gbps(link.0).unwrap_or(0.25) * 1e9 * link.1 as f64
}

/// Simulated seconds for a copy of `bytes`.
pub fn copy_seconds(model: &DeviceModel, f: Factors, kind: CopyKind, bytes: u64) -> f64 {
    let t = &model.time;
    let latency = t.copy_latency_us * 1e-6;
    if bytes == 0 {
        return latency;
    }
    let rate = match kind {
        CopyKind::HostToDevice { pinned } | CopyKind::DeviceToHost { pinned } => {
            let r = link_bytes_per_second(f.link) * t.pcie_efficiency * f.slow;
            if pinned {
                r
            } else {
                r * t.pageable_efficiency
            }
        }
        CopyKind::DeviceToDevice => t.memory_gbps * 1e9 * t.memory_efficiency * f.slow / 2.0,
        CopyKind::Peer {
            other_link,
            direct: true,
        } => {
            link_bytes_per_second(f.link).min(link_bytes_per_second(other_link))
                * t.pcie_efficiency
                * f.slow
        }
        CopyKind::Peer {
            other_link,
            direct: false,
        } => {
            // Staged: each byte crosses one link to the host, then the other: the two times
            // add up (1 / rate = 1 / r_a + 1 / r_b), and a second copy's latency.
            let r = |l| link_bytes_per_second(l) * t.pcie_efficiency * f.slow;
            let rate = 1.0 / (1.0 / r(f.link) + 1.0 / r(other_link));
            return 2.0 * latency + bytes as f64 / rate;
        }
        // Host memory: a memcpy on the host, at about 10 GB/s.
        CopyKind::HostToHost => 10e9,
    };
    latency + bytes as f64 / rate
}

/// The seed of one elapsed-time query's jitter: GPU `gpu`, the stamps of its two events (`t0`,
/// `t1`, simulated seconds) and the launches the GPU has made.
pub fn jitter_seed(gpu: usize, t0: f64, t1: f64, launches: u64) -> u64 {
    crate::fnv1a64(
        (gpu as u64)
            .to_le_bytes()
            .into_iter()
            .chain(t0.to_bits().to_le_bytes())
            .chain(t1.to_bits().to_le_bytes())
            .chain(launches.to_le_bytes()),
    )
}

/// SplitMix64's output function: a well-spread 64-bit value from `x`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal draw from `seed` (Box–Muller on two uniforms from SplitMix64), clamped to
/// ±3 so that a jittered time never reaches zero.
pub fn standard_normal(seed: u64) -> f64 {
    let a = mix(seed);
    let b = mix(a);
    // Uniforms in (0, 1]: 53 random bits, never zero (ln 0).
    let u = |x: u64| ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let z = (-2.0 * u(a).ln()).sqrt() * (2.0 * std::f64::consts::PI * u(b)).cos();
    z.clamp(-3.0, 3.0)
}

/// What `cuEventElapsedTime` reports, in seconds, for `secs` of simulated time between two
/// events of a GPU with `faults`: 0 under `timer=zero`, `secs` × (1 + SIGMA · z) under
/// `jitter=SIGMA` (z = [`standard_normal`]`(seed)`), else `secs`.
pub fn reported_elapsed(faults: &GpuFaults, secs: f64, seed: u64) -> f64 {
    if faults.timer_zero {
        return 0.0;
    }
    match faults.jitter {
        Some(sigma) => secs * (1.0 + sigma * standard_normal(seed)),
        None => secs,
    }
}

/// Simulated seconds for a memset of `bytes`.
pub fn memset_seconds(model: &DeviceModel, f: Factors, bytes: u64) -> f64 {
    let t = &model.time;
    (t.launch_gap_us * 1e-6 + bytes as f64 / (t.memory_gbps * 1e9 * t.memory_efficiency * f.slow))
        .max(t.launch_interval_us * 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::load;

    fn gemm(n: u64, f64_: bool) -> LaunchStats {
        let flops = 2 * n * n * n;
        LaunchStats {
            flops_f32: if f64_ { 0 } else { flops },
            flops_f64: if f64_ { flops } else { 0 },
            // gpugate's register-tiled SGEMM issues about 1.3 instructions per FMA.
            thread_instructions: n * n * n * 13 / 10,
            global_bytes_read: 2 * n * n * 4,
            global_bytes_written: n * n * 4,
            ..Default::default()
        }
    }

    fn tflops(n: u64, secs: f64) -> f64 {
        2.0 * (n * n * n) as f64 / secs / 1e12
    }

    #[test]
    fn a_healthy_m40_gives_what_a_healthy_m40_gives() {
        let m = load("m40").unwrap();
        let f = Factors::healthy(&m);
        let (t, b) = kernel_seconds(&m, f, &gemm(4096, false));
        assert_eq!(b, Bound::Fp32);
        let tf = tflops(4096, t);
        assert!((4.8..5.0).contains(&tf), "SGEMM {tf} TF");
        let (t, b) = kernel_seconds(&m, f, &gemm(2048, true));
        assert_eq!(b, Bound::Fp64);
        let tf = tflops(2048, t);
        assert!((0.18..0.2).contains(&tf), "DGEMM {tf} TF");
        // Triad over 3 × 64 MiB of doubles.
        let n = 8u64 << 20;
        let triad = LaunchStats {
            flops_f64: 2 * n,
            thread_instructions: 12 * n,
            global_bytes_read: 16 * n,
            global_bytes_written: 8 * n,
            ..Default::default()
        };
        let (t, b) = kernel_seconds(&m, f, &triad);
        assert_eq!(b, Bound::Memory);
        let gbps = 24.0 * n as f64 / t / 1e9;
        assert!((225.0..232.0).contains(&gbps), "triad {gbps} GB/s");
        // Pinned H2D on PCIe 3.0 x16.
        let bytes = 256u64 << 20;
        let t = copy_seconds(&m, f, CopyKind::HostToDevice { pinned: true }, bytes);
        let gbps = bytes as f64 / t / 1e9;
        assert!((12.0..13.0).contains(&gbps), "H2D {gbps} GB/s");
        let t2 = copy_seconds(&m, f, CopyKind::HostToDevice { pinned: false }, bytes);
        assert!(t2 > 1.5 * t, "pageable copies are slower");
    }

    #[test]
    fn short_kernels_take_the_launch_interval_long_ones_the_gap_plus_their_work() {
        let m = load("m40").unwrap();
        let f = Factors::healthy(&m);
        // An empty kernel: the host's launch path bounds it.
        let (t, b) = kernel_seconds(&m, f, &LaunchStats::default());
        assert_eq!(b, Bound::Overhead);
        assert!((t - m.time.launch_interval_us * 1e-6).abs() < 1e-12);
        // A 512³ SGEMM (54.5 µs of FP32 work on an M40): the work plus the GPU-side gap.
        let s = gemm(512, false);
        let work = s.flops_f32 as f64 / (m.time.fp32_tflops * 1e12 * m.time.fp32_efficiency);
        let (t, b) = kernel_seconds(&m, f, &s);
        assert_eq!(b, Bound::Fp32);
        assert!((t - (work + m.time.launch_gap_us * 1e-6)).abs() < 1e-12);
        // 256³ (6.8 µs of work) is just past the 4 µs interval: it still pays only the gap.
        let (t, b) = kernel_seconds(&m, f, &gemm(256, false));
        assert_eq!(b, Bound::Fp32);
        assert!((4.2..4.4).contains(&tflops(256, t)), "{}", tflops(256, t));
    }

    #[test]
    fn every_model_reaches_its_efficiency_on_a_large_gemm() {
        for key in crate::model::builtin_names() {
            let m = load(key).unwrap();
            let f = Factors::healthy(&m);
            let n = 16384;
            let (t, b) = kernel_seconds(&m, f, &gemm(n, false));
            assert_eq!(
                b,
                Bound::Fp32,
                "{key}: SGEMM is FP32-bound, not issue-bound"
            );
            let want = m.time.fp32_tflops * m.time.fp32_efficiency;
            assert!((tflops(n, t) / want - 1.0).abs() < 0.01, "{key}");
            let (t, b) = kernel_seconds(&m, f, &gemm(n, true));
            assert_eq!(b, Bound::Fp64, "{key}");
            let want = m.time.fp64_tflops * m.time.fp64_efficiency;
            assert!((tflops(n, t) / want - 1.0).abs() < 0.01, "{key}");
        }
    }

    /// An integer kernel (motion estimation: mostly 32-bit adds, subtracts and absolute
    /// values): bound by the integer unit on an H100 (64 per SM per clock, half the issue rate),
    /// by instruction issue on an M40 (128, the issue rate).
    #[test]
    fn integer_work_runs_at_the_integer_rate() {
        let s = LaunchStats {
            int_ops: 6_000_000_000,
            thread_instructions: 10_000_000_000,
            global_bytes_read: 4_000_000,
            ..Default::default()
        };
        let h100 = load("h100").unwrap();
        let (t, b) = kernel_seconds(&h100, Factors::healthy(&h100), &s);
        assert_eq!(b, Bound::Int32);
        let c = &h100.compute;
        let rate = c.sm_count as f64
            * c.int32_lanes_per_sm as f64
            * c.sm_clock_max_mhz as f64
            * 1e6
            * h100.time.issue_efficiency;
        assert!((t - (6e9 / rate + h100.time.launch_gap_us * 1e-6)).abs() < 1e-12);
        let m40 = load("m40").unwrap();
        let (_, b) = kernel_seconds(&m40, Factors::healthy(&m40), &s);
        assert_eq!(b, Bound::Issue);
        for key in crate::model::builtin_names() {
            let m = load(key).unwrap();
            assert!(m.compute.int32_lanes_per_sm <= m.compute.schedulers_per_sm * 32);
        }
    }

    #[test]
    fn h100_peaks() {
        let m = load("h100").unwrap();
        let f = Factors::healthy(&m);
        let tf = tflops(8192, kernel_seconds(&m, f, &gemm(8192, false)).0);
        assert!((49.0..53.0).contains(&tf), "SGEMM {tf}");
        let n = 8192u64;
        let dmma = LaunchStats {
            tensor_flops_f64: 2 * n * n * n,
            thread_instructions: n * n * n / 16,
            ..Default::default()
        };
        let (t, b) = kernel_seconds(&m, f, &dmma);
        assert_eq!(b, Bound::Fp64Tensor);
        let tf = tflops(n, t);
        assert!((55.0..61.0).contains(&tf), "DMMA {tf}");
        let bytes = 1u64 << 30;
        let gbps = bytes as f64
            / copy_seconds(&m, f, CopyKind::HostToDevice { pinned: true }, bytes)
            / 1e9;
        assert!((50.0..55.0).contains(&gbps), "H2D {gbps}");
    }

    #[test]
    fn faults_scale_throughput() {
        let m = load("m40").unwrap();
        let healthy = Factors::healthy(&m);
        let g = gemm(4096, false);
        let (t0, _) = kernel_seconds(&m, healthy, &g);
        let slow = Factors {
            slow: 0.5,
            ..healthy
        };
        let (t1, _) = kernel_seconds(&m, slow, &g);
        assert!((t1 / t0 - 2.0).abs() < 0.01, "{t0} {t1}");
        let throttled = Factors {
            clock: 0.6,
            ..healthy
        };
        let (t2, _) = kernel_seconds(&m, throttled, &g);
        assert!((t0 / t2 - 0.6).abs() < 0.01);
        // A PCIe link trained down to gen3 x8 halves the copy rate.
        let x8 = Factors {
            link: (3, 8),
            ..healthy
        };
        let bytes = 1u64 << 30;
        let a = copy_seconds(&m, healthy, CopyKind::DeviceToHost { pinned: true }, bytes);
        let b = copy_seconds(&m, x8, CopyKind::DeviceToHost { pinned: true }, bytes);
        assert!((b / a - 2.0).abs() < 0.01);
    }

    #[test]
    fn an_empty_launch_costs_the_overhead() {
        let m = load("m40").unwrap();
        let (t, b) = kernel_seconds(&m, Factors::healthy(&m), &LaunchStats::default());
        assert_eq!(b, Bound::Overhead);
        assert!((t - 4e-6).abs() < 1e-12);
    }

    /// `timer=zero` reports no time; `jitter=SIGMA` reports the time with that relative standard
    /// deviation, the same for the same seed, never below 1 − 3·SIGMA of it.
    #[test]
    fn timer_faults_change_what_events_report() {
        let healthy = GpuFaults::default();
        assert_eq!(reported_elapsed(&healthy, 2e-3, 7), 2e-3);
        let zero = GpuFaults {
            timer_zero: true,
            ..GpuFaults::default()
        };
        assert_eq!(reported_elapsed(&zero, 2e-3, 7), 0.0);
        let sigma = 0.05;
        let noisy = GpuFaults {
            jitter: Some(sigma),
            ..GpuFaults::default()
        };
        let n = 20_000;
        let times: Vec<f64> = (0..n)
            .map(|i| reported_elapsed(&noisy, 1.0, jitter_seed(0, i as f64, i as f64 + 1.0, i)))
            .collect();
        let mean = times.iter().sum::<f64>() / n as f64;
        let sd = (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        // The mean of 20 000 draws is within 4 standard errors (0.05 / √20000 each) of 1.
        assert!(
            (mean - 1.0).abs() < 4.0 * sigma / (n as f64).sqrt(),
            "mean {mean}"
        );
        assert!(
            (sd / sigma - 1.0).abs() < 0.03,
            "relative standard deviation {sd}"
        );
        let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(lo >= 1.0 - 3.0 * sigma, "{lo}");
        let seed = jitter_seed(1, 0.5, 0.75, 40);
        assert_eq!(
            reported_elapsed(&noisy, 0.25, seed),
            reported_elapsed(&noisy, 0.25, seed)
        );
        assert_ne!(seed, jitter_seed(1, 0.5, 0.75, 41));
    }

    #[test]
    fn deterministic() {
        let m = load("a100").unwrap();
        let f = Factors::healthy(&m);
        let g = gemm(1000, false);
        assert_eq!(kernel_seconds(&m, f, &g), kernel_seconds(&m, f, &g));
    }
}
