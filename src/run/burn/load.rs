//! One GPU's load: a ring of sets, each an SGEMM, a DGEMM and an FP64 triad with inputs and an
//! output of its own (so that the ring spreads over the share of memory the burn was given),
//! all prepared by the GPU's backend (the tuned GEMM variants, random inputs from one seed per
//! lane: every set of a lane computes the same result). A round launches each set's three
//! kernels in turn, the memory-bound triad between the two GEMMs. The first result of each lane
//! is checked against the reference (Freivalds for the GEMMs, gold values for the triad) and
//! kept; every later result is compared with it bit for bit ([`crate::verify::bits`]).

use crate::cuda::CudaDevice;
use crate::model::burn::{FreivaldsRecord, SdcRecord, MAX_SDC_RECORDS};
use crate::model::{VerifyStatus, WorkloadSpec};
use crate::verify::bits::{compare_bits, hex_bits};
use crate::workload::backend::{Backend, DeviceBackend};
use crate::workload::gemm::gemm_device_bytes;
use crate::workload::{Precision, StreamOp, Trial, WorkloadError};

/// The three lanes, in launch order within a set.
pub(crate) const LANES: [Lane; 3] = [Lane::Sgemm, Lane::Triad, Lane::Dgemm];

/// One kind of kernel of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    Sgemm,
    Dgemm,
    Triad,
}

impl Lane {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lane::Sgemm => "sgemm",
            Lane::Dgemm => "dgemm",
            Lane::Triad => "triad",
        }
    }

    /// The workload this lane runs, at GEMM size `n` and `triad` elements.
    pub(crate) fn spec(self, n: usize, triad: usize) -> WorkloadSpec {
        match self {
            Lane::Sgemm => WorkloadSpec::gemm(Precision::F32, n, n, n),
            Lane::Dgemm => WorkloadSpec::gemm(Precision::F64, n, n, n),
            Lane::Triad => WorkloadSpec::Stream {
                op: StreamOp::Triad,
                precision: Precision::F64,
                n: triad,
            },
        }
    }

    /// The output buffer's name in an SDC record.
    fn output(self) -> &'static str {
        match self {
            Lane::Sgemm | Lane::Dgemm => "C",
            Lane::Triad => "a",
        }
    }
}

/// Device bytes of one set of the ring.
pub(crate) fn set_bytes(n: usize, triad: usize) -> u64 {
    gemm_device_bytes(Precision::F32, n, n, n)
        + gemm_device_bytes(Precision::F64, n, n, n)
        + 3 * 8 * triad as u64
}

/// Sets that fit in `budget` bytes: at least one.
pub(crate) fn ring_sets(budget: u64, n: usize, triad: usize) -> usize {
    ((budget / set_bytes(n, triad).max(1)) as usize).max(1)
}

/// What one lane did since it was last asked: device seconds and launches.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) seconds: f64,
    pub(crate) launches: u64,
}

/// One lane of the ring: its kind, one trial per set, and its first result (bytes and the
/// size of one element) once checked.
type LaneRing = (Lane, Vec<Box<dyn Trial>>, Option<(Vec<u8>, usize)>);

/// The ring of one GPU: per lane, one trial per set and the first result.
pub(crate) struct GpuLoad {
    lanes: Vec<LaneRing>,
    pub(crate) sets: usize,
}

impl GpuLoad {
    /// Prepares up to `sets` sets on the GPU, set by set; each lane's inputs come from its own
    /// seed. A set that does not fit (the free memory shrank since the probe) ends the ring
    /// there, once at least one set is in place; the first set's failure is the load's.
    pub(crate) fn prepare(
        backend: &DeviceBackend<CudaDevice>,
        (n, triad): (usize, usize),
        sets: usize,
        seed_of: impl Fn(Lane) -> u64,
    ) -> Result<GpuLoad, WorkloadError> {
        let mut lanes: Vec<LaneRing> = LANES.iter().map(|l| (*l, Vec::new(), None)).collect();
        for set in 0..sets {
            let trials: Result<Vec<_>, _> = LANES
                .iter()
                .map(|lane| backend.prepare(&lane.spec(n, triad), seed_of(*lane)))
                .collect();
            match trials {
                Ok(trials) => {
                    for (ring, trial) in lanes.iter_mut().zip(trials) {
                        ring.1.push(trial);
                    }
                }
                Err(e) if set == 0 => return Err(e),
                Err(_) => break,
            }
        }
        let sets = lanes[0].1.len();
        Ok(GpuLoad { lanes, sets })
    }

    /// One round: every set's kernels, lane by lane within the set; the device time of each
    /// lane's launches (one timed launch each) added to `tally`.
    pub(crate) fn round(&mut self, tally: &mut [Tally; 3]) -> Result<(), WorkloadError> {
        for set in 0..self.sets {
            for (i, (_, trials, _)) in self.lanes.iter_mut().enumerate() {
                tally[i].seconds += trials[set].run(1)?;
                tally[i].launches += 1;
            }
        }
        Ok(())
    }

    /// The first result of each lane (set 0, after one launch): checked against the reference
    /// and kept for the bit-for-bit comparisons. A lane whose first result is wrong keeps none.
    pub(crate) fn first_results(
        &mut self,
        interval: usize,
    ) -> Result<Vec<FreivaldsRecord>, WorkloadError> {
        let mut records = Vec::new();
        for (lane, trials, first) in self.lanes.iter_mut() {
            trials[0].run(1)?;
            let record = reference_check(*lane, trials[0].as_mut(), 0, interval)?;
            if record.passed {
                *first = Some(trials[0].output()?);
            }
            records.push(record);
        }
        Ok(records)
    }

    /// Freivalds' (or the triad's gold-value) check of set `set`'s last result in every lane.
    pub(crate) fn periodic_check(
        &mut self,
        set: usize,
        interval: usize,
    ) -> Result<Vec<FreivaldsRecord>, WorkloadError> {
        let set = set % self.sets;
        self.lanes
            .iter_mut()
            .map(|(lane, trials, _)| reference_check(*lane, trials[set].as_mut(), set, interval))
            .collect()
    }

    /// Every set's last result compared bit for bit with its lane's first result: the
    /// differences (the first [`MAX_SDC_RECORDS`] recorded) and their count.
    pub(crate) fn compare(
        &mut self,
        interval: usize,
        sdc: &mut Vec<SdcRecord>,
    ) -> Result<u64, WorkloadError> {
        let mut count = 0;
        for (lane, trials, first) in self.lanes.iter_mut() {
            let Some((expected, elem)) = first.as_ref() else {
                continue;
            };
            for (set, trial) in trials.iter_mut().enumerate() {
                let (found, _) = trial.output()?;
                let room = MAX_SDC_RECORDS.saturating_sub(sdc.len());
                let diff = compare_bits(expected, &found, *elem, room);
                count += diff.count;
                sdc.extend(diff.first.into_iter().map(|(i, e, f)| SdcRecord {
                    interval,
                    buffer: format!("{} ring set {set}, {}", lane.name(), lane.output()),
                    element: i,
                    expected_bits: hex_bits(e, *elem),
                    found_bits: hex_bits(f, *elem),
                }));
            }
        }
        Ok(count)
    }
}

/// One result of `lane` checked against its reference.
fn reference_check(
    lane: Lane,
    trial: &mut dyn Trial,
    set: usize,
    interval: usize,
) -> Result<FreivaldsRecord, WorkloadError> {
    let v = trial.verify()?;
    let passed = v.status == VerifyStatus::Passed;
    let detail = match v.mismatches.first() {
        Some(m) if !passed => format!(
            "{}: {} expected {} got {}",
            v.method, m.at, m.expected, m.got
        ),
        _ => v.method.clone(),
    };
    Ok(FreivaldsRecord {
        interval,
        buffer: format!("{} ring set {set}, {}", lane.name(), lane.output()),
        passed,
        detail,
        first_mismatch: v.mismatches.first().filter(|_| !passed).cloned(),
    })
}
