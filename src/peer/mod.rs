//! Peers: what a run measures on a GPU that is not gpugate's own kernel. Two exist: the vendor
//! GEMM library (cuBLAS, measured beside each GEMM shape for comparison, never gated) and the
//! hardware video encoder (NVENC driven through ffmpeg, gated on its own target).
//!
//! Both sit behind one interface, [`Peer`]: a peer is set up once for the run (or says why it
//! cannot be, which becomes a note), plans its workloads on each GPU from that GPU's own plan,
//! and measures each of them into a [`WorkloadResult`] like any workload. The runner knows no
//! peer by name: it counts their jobs into the plan's total, runs each job where the peer
//! placed it (right after the own workload it accompanies, or after every GPU's own
//! workloads), and saves run.json after each.
//!
//! One file per peer: [`cublas`] (the vendor GEMM library) and [`nvenc`] (the hardware encoder:
//! its plan per GPU, the encodes through ffmpeg, and their results). Driving ffmpeg itself is
//! the workload's, in [`crate::workload::encode`].

pub mod cublas;
pub mod nvenc;

pub use cublas::{cublas_jobs, Cublas};
pub use nvenc::{encode_plan, encode_result, EncodePlan, Nvenc};

use std::sync::Arc;
use std::time::Instant;

use crate::cuda::{CudaDevice, CudaError};
use crate::gate::Profile;
use crate::measure::StoppingCriterion;
use crate::model::{DeviceInfo, Level, WorkloadResult};
use crate::probe::telemetry::GpuTelemetry;
use crate::run::Progress;
use crate::workload::WorkloadSpec;

/// One workload a peer runs on a GPU, and where in the GPU's run it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerJob {
    pub spec: WorkloadSpec,
    /// Right after this own workload of the GPU (same clocks and temperature, so the two
    /// compare); None: after every GPU's own workloads.
    pub after: Option<WorkloadSpec>,
}

/// gpugate's CUDA context on a peer's GPU, for the peers that run inside it (cuBLAS).
#[derive(Clone, Copy)]
pub enum Context<'a> {
    Open(&'a Arc<CudaDevice>),
    /// The GPU could not be opened: a peer that needs it fails with the same error.
    Failed(&'a CudaError),
    /// The GPU's own workloads are done and its context is gone (peers placed at the end).
    Closed,
}

/// What a peer's measurement may use: the GPU, gpugate's open context on it (or why there is
/// none), the run's seed and stopping rule, telemetry, and the progress callback.
pub struct PeerSite<'a> {
    pub gpu: &'a DeviceInfo,
    pub dev: Context<'a>,
    pub seed: u64,
    /// (this workload's number, the plan's total), for progress.
    pub position: (usize, usize),
    pub crit: &'a StoppingCriterion,
    pub telemetry: Option<&'a Arc<GpuTelemetry>>,
    /// When the run started: the zero of telemetry traces.
    pub epoch: Instant,
    pub progress: &'a mut dyn FnMut(Progress),
}

/// Something measured on a GPU beside gpugate's own kernels.
pub trait Peer {
    /// Its name, as notes say it: "cuBLAS", "hardware encode".
    fn name(&self) -> &'static str;
    /// Its jobs on `gpu`, given the workloads the GPU runs itself, in run order.
    fn plan(&self, gpu: &DeviceInfo, own: &[WorkloadSpec]) -> Vec<PeerJob>;
    /// Measures one of its jobs. Never fails: errors land in the result. A peer may keep what
    /// it learns for its next jobs (the encoder: that it cannot run at all on a GPU).
    fn measure(&mut self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult;
    /// The run note for a result of its that did not run, if it deserves one.
    fn failure_note(&self, _gpu: &DeviceInfo, _error: &str) -> Option<String> {
        None
    }
}

/// The peers of a run on GPUs: cuBLAS where it can run (else why not, as a note), and the
/// hardware encoder on the GPUs that have one or whose profile asks for it (`encode_frames`
/// per session in place of the level's, when the user set it: a note says so).
pub fn peers_for(
    profile: &Profile,
    gpus: &[DeviceInfo],
    level: Level,
    encode_frames: Option<usize>,
) -> (Vec<Box<dyn Peer>>, Vec<String>) {
    let mut peers: Vec<Box<dyn Peer>> = Vec::new();
    let mut notes = Vec::new();
    match Cublas::probe() {
        Ok(c) => {
            notes.push(c.found_note());
            peers.push(Box::new(c))
        }
        Err(why) => notes.push(format!("cuBLAS peer not run: {why}")),
    }
    let nvenc = Nvenc::new(profile, gpus, level, encode_frames);
    notes.extend(nvenc.frames_note());
    peers.push(Box::new(nvenc));
    (peers, notes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Measures `job` with `peer` on `gpu` with no context, at the quick level: its result and
    /// the progress it announced ("start <id>", "done <id>").
    pub(crate) fn site_run(
        peer: &mut dyn Peer,
        job: &PeerJob,
        gpu: &DeviceInfo,
    ) -> (WorkloadResult, Vec<String>) {
        let crit = StoppingCriterion::for_level(Level::Quick);
        let mut seen = Vec::new();
        let mut progress = |p: Progress| match p {
            Progress::WorkloadStarted { id, .. } => seen.push(format!("start {id}")),
            Progress::WorkloadFinished { result, .. } => seen.push(format!("done {}", result.id)),
            _ => {}
        };
        let site = PeerSite {
            gpu,
            dev: Context::Closed,
            seed: 7,
            position: (1, 1),
            crit: &crit,
            telemetry: None,
            epoch: Instant::now(),
            progress: &mut progress,
        };
        let r = peer.measure(job, site);
        (r, seen)
    }
}
