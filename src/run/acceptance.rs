//! The acceptance run (`gpugate run`): the stages of [`super::stages`] in the order the data
//! flows: probe → select the GPUs → plan → GPU by GPU (open, tune, measure with the peers' jobs
//! placed after a workload) → the peers' jobs placed at the end (the hardware encoder) → host
//! → gate and write; every GPU's health read at the start and the end, its Xid events watched
//! in between (`super::health`).

use crate::error::Error;

use super::health::HealthWatch;
use super::stages::{Probed, Runner};
use super::{check_sampling, Progress, RunOptions, RunOutcome};

/// Runs the acceptance run and writes run.json (after every workload) and every report.
/// Returns what it wrote; the report's `exit_code` is the process's.
pub fn run(opts: &RunOptions, progress: &mut dyn FnMut(Progress)) -> Result<RunOutcome, Error> {
    // Everything that can make the tool unable to run is checked before measuring, and
    // nothing is created before the arguments are known to be good.
    check_sampling(opts)?;
    let probed = Probed::probe(opts, progress)?;
    let mut runner = Runner::start(opts, progress, &probed)?;
    let health = HealthWatch::begin(&runner.gpus(), runner.started());
    let mut plan = runner.plan(&probed.profile, !probed.selected.is_empty());
    for gpu in runner.gpus() {
        if crate::stop::requested() {
            break;
        }
        if let Some(open) = runner.open_gpu(&gpu, &mut plan)? {
            runner.measure_gpu(&gpu, &open, &mut plan)?;
        }
    }
    runner.peers_at_end(&mut plan)?;
    runner.host(&plan)?;
    runner.record_health(health.end())?;
    runner.finish(&probed.profile)
}
