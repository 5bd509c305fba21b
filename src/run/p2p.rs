//! The P2P stage (`crate::p2p`) as a runner calls it: on the GPUs it opened, every pair's
//! access and copy tests, the section recorded in run.json (`RunReport::p2p`) and progress
//! announced. A burn-in calls it after its memory tests, before the load
//! (`run::burn`); with one GPU the section says there is nothing to test.

use crate::error::Error;
use crate::measure::StoppingCriterion;
use crate::model::DeviceInfo;
use crate::p2p::{test_all, P2pOptions};

use super::stages::{OpenGpu, Runner};
use super::Progress;

/// The least sampling time of one P2P test, seconds: a pair runs eight tests, so each samples
/// for at most the run's least time and at least this (the timeout and noise rules are the
/// run's).
pub const P2P_MIN_TIME: f64 = 0.2;

/// The sampling of one P2P test: the run's criterion with its least time and warm-up capped
/// ([`P2P_MIN_TIME`]), each sample's wall time a tenth of it at most.
pub fn p2p_criterion(run: &StoppingCriterion) -> StoppingCriterion {
    let min_time = run.min_time.min(P2P_MIN_TIME);
    StoppingCriterion {
        min_time,
        warmup_time: run.warmup_time.min(min_time / 2.0),
        max_sample_wall: run.max_sample_wall.min(min_time / run.min_samples as f64),
        ..run.clone()
    }
}

/// Tests peer to peer between the opened GPUs with copies of `bytes`, records the section.
pub fn p2p_gpus(
    runner: &mut Runner<'_>,
    open: &[(DeviceInfo, OpenGpu)],
    bytes: usize,
) -> Result<(), Error> {
    let opts = P2pOptions {
        bytes,
        seed: runner.seed(),
        crit: p2p_criterion(runner.criterion()),
    };
    let gpus: Vec<(u32, &crate::cuda::CudaDevice)> =
        open.iter().map(|(g, o)| (g.index, &*o.dev)).collect();
    let mut announce = |pair: (u32, u32), test: &str| {
        runner.announce(Progress::P2pTest { pair, test });
    };
    let section = test_all(&gpus, &opts, &mut announce, &crate::stop::requested);
    if let Some(n) = &section.note {
        runner.note(n.clone());
    }
    runner.record(|r| r.p2p = Some(section))
}
