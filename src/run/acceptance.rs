//! The acceptance run (`gpugate run`): the stages of [`super::stages`] in the order the data
//! flows: probe → select the GPUs → plan → GPU by GPU (open, tune, measure with the peers' jobs
//! placed after a workload) → the peers' jobs placed at the end (the hardware encoder) → host
//! → gate and write; every GPU's health read at the start and the end, its Xid events watched
//! in between (`super::health`).

use crate::error::Error;
use crate::gate;
use crate::probe;

use super::health::HealthWatch;
use super::stages::{select_gpus, Runner};
use super::{check_sampling, resolve_profile, Progress, RunOptions, RunOutcome};

/// Runs the acceptance run and writes run.json (after every workload) and every report.
/// Returns what it wrote; the report's `exit_code` is the process's.
pub fn run(opts: &RunOptions, progress: &mut dyn FnMut(Progress)) -> Result<RunOutcome, Error> {
    // Everything that can make the tool unable to run is checked before measuring, and
    // nothing is created before the arguments are known to be good.
    check_sampling(opts)?;
    let resolved = resolve_profile(opts.profile.as_deref())?;
    let host = probe::host();
    let inv = probe::gpus();
    progress(Progress::Probed {
        host: &host,
        gpus: &inv.devices,
        unavailable: inv.unavailable.as_deref(),
    });
    let selected = select_gpus(opts.gpus.as_deref(), &inv)?;
    let (profile, origin) = match resolved {
        Some(p) => p,
        None => (gate::auto_profile(&inv.devices), "auto".to_string()),
    };
    let mut runner = Runner::start(opts, progress, &profile, origin, host, &inv, &selected)?;
    let health = HealthWatch::begin(&runner.gpus(), runner.started());
    let mut plan = runner.plan(&profile, !selected.is_empty());
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
    runner.finish(&profile)
}
