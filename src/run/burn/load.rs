//! One GPU's load: a ring of sets, each an SGEMM, a DGEMM and an FP64 triad with inputs and an
//! output of its own (so that the ring spreads over the share of memory the burn was given),
//! all prepared by the GPU's backend (the tuned GEMM variants, random inputs from one seed per
//! lane: every set of a lane computes the same result). A round launches each set's three
//! kernels in turn, the memory-bound triad between the two GEMMs. The first result of each lane
//! is checked against the reference (Freivalds for the GEMMs, gold values for the triad) and
//! kept on the GPU; every later result is compared with it bit for bit on the GPU
//! ([`super::compare`]: one compare launch per set and lane, only the count and a small log
//! copied back).

use std::sync::Arc;

use crate::cuda::CudaDevice;
use crate::model::burn::{FreivaldsRecord, SdcRecord, MAX_SDC_RECORDS};
use crate::model::{VerifyStatus, WorkloadSpec};
use crate::verify::bits::hex_bits;
use crate::workload::backend::{Backend, DeviceBackend};
use crate::workload::device::{DevBuf, KernelDevice};
use crate::workload::gemm::gemm_device_bytes;
use crate::workload::{Precision, StreamOp, Trial, WorkloadError};

use super::compare::{DeviceLog, Logged};

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

/// One lane of the ring: its kind, one trial per set, and its first result once checked (a
/// copy in device memory and the size of one element).
type LaneRing = (Lane, Vec<Box<dyn Trial>>, Option<(DevBuf, usize)>);

/// A ring set of one lane that differed from the lane's first result in a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Differed {
    lane: usize,
    set: usize,
}

/// The ring of one GPU: per lane, one trial per set and the first result, and the comparisons'
/// error log, all on the GPU `dev`.
pub(crate) struct GpuLoad {
    dev: Arc<dyn KernelDevice>,
    lanes: Vec<LaneRing>,
    log: DeviceLog,
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
        let dev: Arc<dyn KernelDevice> = backend.device.clone();
        let log = DeviceLog::new(dev.as_ref(), MAX_SDC_RECORDS)?;
        Ok(GpuLoad {
            dev,
            lanes,
            log,
            sets,
        })
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
    /// and kept, copied into device memory of its own, for the bit-for-bit comparisons. A lane
    /// whose first result is wrong keeps none.
    pub(crate) fn first_results(
        &mut self,
        interval: usize,
    ) -> Result<Vec<FreivaldsRecord>, WorkloadError> {
        let mut records = Vec::new();
        for (lane, trials, first) in self.lanes.iter_mut() {
            trials[0].run(1)?;
            let record = reference_check(*lane, trials[0].as_mut(), 0, interval)?;
            if record.passed {
                *first = Some(keep_on_device(self.dev.as_ref(), trials[0].as_mut())?);
            }
            records.push(record);
        }
        Ok(records)
    }

    /// The reference check (Freivalds', or the triad's gold values) repeated where it can say
    /// something new: in every lane that differed, its first set that did (is that result
    /// wrong, or is it the kept first result that changed?); in every lane that keeps no first
    /// result, set `interval` (mod the ring). A set identical to its lane's first result would
    /// pass the same deterministic check that result passed, so it is not copied back for it.
    pub(crate) fn periodic_check(
        &mut self,
        interval: usize,
        differed: &[Differed],
    ) -> Result<Vec<FreivaldsRecord>, WorkloadError> {
        let sets = self.sets;
        let mut records = Vec::new();
        for (i, (lane, trials, first)) in self.lanes.iter_mut().enumerate() {
            let set = match first {
                None => interval % sets,
                Some(_) => match differed.iter().find(|d| d.lane == i) {
                    Some(d) => d.set,
                    None => continue,
                },
            };
            records.push(reference_check(*lane, trials[set].as_mut(), set, interval)?);
        }
        Ok(records)
    }

    /// Every set's last result compared bit for bit with its lane's first result, on the GPU:
    /// queues, behind the round, the kernel that clears the log and one compare launch per
    /// set and lane; nothing waits for them ([`GpuLoad::read_comparison`] does).
    pub(crate) fn queue_comparison(&self) -> Result<(), WorkloadError> {
        let dev = self.dev.as_ref();
        self.log.clear(dev)?;
        for (i, (_, trials, first)) in self.lanes.iter().enumerate() {
            let Some((reference, elem)) = *first else {
                continue;
            };
            for (set, trial) in trials.iter().enumerate() {
                let (found, _) = trial.device_output().ok_or_else(no_device_output)?;
                self.log
                    .compare(dev, (reference, found), elem, tag(i, set))?;
            }
        }
        Ok(())
    }

    /// The queued comparison's result, once the GPU has done it: the count, with the
    /// differences the log holds (the first [`MAX_SDC_RECORDS`] of the run recorded in `sdc`)
    /// and the sets they were in.
    pub(crate) fn read_comparison(
        &self,
        interval: usize,
        sdc: &mut Vec<SdcRecord>,
    ) -> Result<(u64, Vec<Differed>), WorkloadError> {
        let (count, logged) = self.log.read(self.dev.as_ref())?;
        let mut differed: Vec<Differed> = Vec::new();
        for l in logged {
            if sdc.len() < MAX_SDC_RECORDS {
                sdc.push(self.sdc_record(interval, &l));
            }
            let d = untag(l.tag);
            if d.lane < self.lanes.len() && d.set < self.sets && !differed.contains(&d) {
                differed.push(d);
            }
        }
        Ok((count, differed))
    }

    /// A logged difference as run.json records it.
    fn sdc_record(&self, interval: usize, l: &Logged) -> SdcRecord {
        let d = untag(l.tag);
        let (buffer, elem) = match self.lanes.get(d.lane) {
            Some((lane, _, Some((_, elem)))) if d.set < self.sets => (
                format!("{} ring set {}, {}", lane.name(), d.set, lane.output()),
                *elem,
            ),
            _ => (format!("unknown buffer (the log's tag {:#x})", l.tag), 8),
        };
        SdcRecord {
            interval,
            buffer,
            element: l.element,
            expected_bits: hex_bits(l.expected, elem),
            found_bits: hex_bits(l.found, elem),
        }
    }
}

impl Drop for GpuLoad {
    fn drop(&mut self) {
        for (_, _, first) in &self.lanes {
            if let Some((buf, _)) = first {
                self.dev.free(*buf);
            }
        }
        self.log.free(self.dev.as_ref());
    }
}

/// The compare log's name for set `set` of lane `lane`.
fn tag(lane: usize, set: usize) -> u64 {
    ((lane as u64) << 32) | set as u64
}

fn untag(tag: u64) -> Differed {
    Differed {
        lane: (tag >> 32) as usize,
        set: (tag & 0xFFFF_FFFF) as usize,
    }
}

fn no_device_output() -> WorkloadError {
    WorkloadError::Unsupported(
        "the burn compares results on the GPU, and this workload has no output buffer there".into(),
    )
}

/// The last result of `trial` copied into a device buffer of its own (freed by the load).
fn keep_on_device(
    dev: &dyn KernelDevice,
    trial: &mut dyn Trial,
) -> Result<(DevBuf, usize), WorkloadError> {
    let (_, elem) = trial.device_output().ok_or_else(no_device_output)?;
    let (bytes, _) = trial.output()?;
    let buf = dev.alloc(bytes.len())?;
    if let Err(e) = dev.upload(buf, &bytes) {
        dev.free(buf);
        return Err(e.into());
    }
    Ok((buf, elem))
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
