//! The burn-in section of run.json (`gpugate burn`): what the burn was asked to do, and per GPU
//! its intervals, the silent data corruption it found and its Freivalds checks. Optional in
//! run.json (absent for `gpugate run` and in older files); the burn's throughput results are
//! ordinary [`super::WorkloadResult`]s, gated like an acceptance run's.

use serde::{Deserialize, Serialize};

/// A burn-in: its settings and what each GPU did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnSection {
    /// How long the burn was asked to load the GPUs, seconds (wall time).
    pub duration_s: f64,
    /// Length of one interval, seconds (wall time).
    pub interval_s: f64,
    /// Square GEMM size of the SGEMM and DGEMM load.
    pub gemm_size: usize,
    /// Elements of each triad array.
    pub triad_elements: usize,
    /// Share of each GPU's free memory the ring buffers were asked to fill (0 to 1).
    pub memory_share: f64,
    /// A GPU must reach at least (1 − this) × the best GPU of the machine, per metric.
    pub within_machine_share: f64,
    /// Where `within_machine_share` came from.
    pub within_machine_source: String,
    /// The largest fall of a GPU's throughput from its first minute to its end (a share);
    /// absent in older files (the gate's default then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drift: Option<f64>,
    /// Where `max_drift` came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_source: Option<String>,
    /// Where `duration_s` came from (the command line, the profile's `[burn]`, gpugate's
    /// level default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_source: Option<String>,
    /// One entry per loaded GPU.
    pub gpus: Vec<GpuBurn>,
    /// The solo phase: each GPU loaded alone, one after the other, before the machine is
    /// loaded at once (two GPUs or more; empty with one GPU and in older files). Information
    /// beside the machine's concurrent totals, never gated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub solo: Vec<SoloRun>,
}

impl SoloRun {
    /// Its value of `metric` (NaN for a metric the burn does not measure).
    pub fn value(&self, metric: super::profile::Metric) -> f64 {
        use super::profile::Metric;
        match metric {
            Metric::Fp32Gemm => self.fp32_tflops,
            Metric::Fp64Gemm => self.fp64_tflops,
            Metric::StreamTriad => self.triad_gbps,
            _ => f64::NAN,
        }
    }
}

/// One GPU loaded alone, the other GPUs idle (the burn's solo phase): the same ring and lanes
/// as its load, for about one interval.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SoloRun {
    pub device: u32,
    /// Wall time of its rounds, seconds.
    pub duration_s: f64,
    /// Rounds run (each one launch per set and lane).
    pub rounds: usize,
    /// The median over its rounds of each lane's throughput, from device time (NaN when no
    /// round ran).
    #[serde(with = "super::nonfinite")]
    pub fp32_tflops: f64,
    #[serde(with = "super::nonfinite")]
    pub fp64_tflops: f64,
    #[serde(with = "super::nonfinite")]
    pub triad_gbps: f64,
}

/// One GPU's burn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuBurn {
    pub device: u32,
    /// Sets in the ring (each an SGEMM, a DGEMM and a triad with its own inputs and output).
    pub ring_sets: usize,
    /// Device bytes the ring holds.
    pub ring_bytes: u64,
    /// The intervals, in order; rewritten into run.json as each ends.
    pub intervals: Vec<BurnInterval>,
    /// Every bit-for-bit difference from the first result (the first ones, at most
    /// [`MAX_SDC_RECORDS`]); `sdc_count` counts them all.
    pub sdc: Vec<SdcRecord>,
    /// Elements that differed from the first result, in all.
    pub sdc_count: u64,
    /// Freivalds' check of the first result of each input set, and periodically after.
    pub freivalds: Vec<FreivaldsRecord>,
    /// Why the load stopped early on this GPU (a failed launch, an allocation refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// At most this many SDC records are kept per GPU (all are counted).
pub const MAX_SDC_RECORDS: usize = 32;

/// One finished interval of a GPU on the run's clock (seconds since the run started): from
/// its start to the end of its comparison and reference check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub index: usize,
    pub from_s: f64,
    pub to_s: f64,
}

/// The interval (of `spans`, in order) that a moment `at_s` falls in: an interval runs from
/// its start to the next one's start (its comparison and reference check included), the last
/// one to its end; None before the first or after the last.
pub fn interval_of(spans: &[Span], at_s: f64) -> Option<usize> {
    let k = spans.iter().rposition(|s| s.from_s <= at_s)?;
    let last = k + 1 == spans.len();
    (!last || at_s <= spans[k].to_s).then_some(spans[k].index)
}

impl GpuBurn {
    /// The spans of the intervals that recorded theirs (`BurnInterval::span_s`, schema 6).
    pub fn spans(&self) -> Vec<Span> {
        self.intervals
            .iter()
            .filter_map(|i| {
                i.span_s.map(|[from_s, to_s]| Span {
                    index: i.index,
                    from_s,
                    to_s,
                })
            })
            .collect()
    }
}

/// One interval of one GPU.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BurnInterval {
    /// 0, 1, 2, …
    pub index: usize,
    /// Seconds since the load started (wall time).
    pub t_start_s: f64,
    pub t_end_s: f64,
    /// Throughput over the interval's launches, from device time (NaN when none ran).
    #[serde(with = "super::nonfinite")]
    pub fp32_tflops: f64,
    #[serde(with = "super::nonfinite")]
    pub fp64_tflops: f64,
    #[serde(with = "super::nonfinite")]
    pub triad_gbps: f64,
    /// Kernels launched in the interval.
    pub launches: u64,
    /// Device time of those kernels, seconds.
    pub busy_s: f64,
    /// Elements found different from the first result in this interval.
    pub errors: u64,
    /// Median SM clock, highest temperature, median power (NVML; absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_reasons: Vec<String>,
    /// The interval on the run's clock (seconds since the run started): its start and the end
    /// of its comparison, as its health events are placed (`interval_of`); the gate names the
    /// interval a temperature or slowdown began in from it. Absent before schema 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_s: Option<[f64; 2]>,
}

/// One element that differed, bit for bit, from the first result of the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdcRecord {
    pub interval: usize,
    /// Which buffer, e.g. "sgemm ring set 3, C".
    pub buffer: String,
    /// Element index in the buffer.
    pub element: u64,
    /// The bits of the first result and of this one, as hexadecimal.
    pub expected_bits: String,
    pub found_bits: String,
}

/// A Freivalds (or reference) check of one result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreivaldsRecord {
    pub interval: usize,
    pub buffer: String,
    pub passed: bool,
    /// The verification's method and, on a failure, its first mismatch.
    pub detail: String,
    /// On a failure, the first element that did not match its reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_mismatch: Option<super::Mismatch>,
}
