//! The memory-test run (`gpugate memtest`): probe → select the GPUs → for each GPU, open it and
//! run the memory test ([`memtest_gpu`], the stage a burn-in calls too) → gate and write. It is
//! gated on the profile's machine block and its `[memtest]` requirement; the performance
//! targets are `gpugate run`'s, so the profile is recorded without them
//! ([`memtest_profile`]).

use crate::cuda::CudaDevice;
use crate::error::Error;
use crate::gate::Profile;
use crate::memtest::{self, MemtestOptions};
use crate::model::memtest::MemtestReport;
use crate::model::DeviceInfo;

use super::stages::{Probed, Runner};
use super::{Progress, RunOptions, RunOutcome};

/// What `gpugate memtest` is asked to do: the run's options (profile, GPUs, output, seed,
/// `--allow-simulated`) and the share of each GPU's free memory to test.
#[derive(Debug, Clone)]
pub struct MemtestRunOptions {
    pub run: RunOptions,
    /// Percent of each GPU's free memory, 1 to 100 ([`check_share`]).
    pub share_percent: f64,
}

/// `--memory-share` is a percentage from 1 to 100.
pub fn check_share(share_percent: f64) -> Result<(), Error> {
    if share_percent.is_finite() && (1.0..=100.0).contains(&share_percent) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--memory-share {share_percent}: give the share of each GPU's free memory to test as a \
         percentage from 1 to 100 (default {})",
        memtest::DEFAULT_SHARE_PERCENT
    )))
}

/// The profile a memory test is gated on: `p`'s machine block and `[memtest]` requirement,
/// without its performance targets (which a memory test does not measure).
pub fn memtest_profile(p: &Profile) -> Profile {
    Profile {
        description: format!(
            "{} — memory test: the machine block and [memtest]; the performance targets are \
             gpugate run's",
            p.description
        ),
        targets: Vec::new(),
        ..p.clone()
    }
}

/// Runs the memory test on every selected GPU and writes run.json (after each GPU) and every
/// report. Bad arguments (a share outside 1..=100, a bad profile, `--gpus` naming a GPU that
/// is not here) are an error before anything is created.
pub fn memtest(
    opts: &MemtestRunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome, Error> {
    check_share(opts.share_percent)?;
    let probed = Probed::probe(&opts.run, progress)?.map_profile(|p| memtest_profile(&p));
    let mut runner = Runner::start(&opts.run, progress, &probed)?;
    for gpu in runner.gpus() {
        if crate::stop::requested() {
            break;
        }
        memtest_gpu(&mut runner, &gpu, opts.share_percent)?;
    }
    runner.finish(&probed.profile)
}

/// The memory-test stage: opens `gpu`, tests `share_percent` of its free memory with a seed
/// derived from the run's, and keeps the result in the report (run.json saved). A GPU that
/// cannot be opened is kept as a test that could not run (its checks FAIL with the reason).
pub fn memtest_gpu(runner: &mut Runner, gpu: &DeviceInfo, share_percent: f64) -> Result<(), Error> {
    let seed = crate::seed::workload_seed(runner.seed(), &format!("gpu{}.memtest", gpu.index));
    let dev = match CudaDevice::open(gpu.index) {
        Ok((dev, loads)) => {
            runner.announce(Progress::ModulesLoaded {
                device: gpu.index,
                loads: &loads,
            });
            dev
        }
        Err(why) => {
            runner.note(format!(
                "GPU {} ({}) could not be used: {why}",
                gpu.index, gpu.name
            ));
            return runner.keep_memtest(MemtestReport {
                device: gpu.index,
                seed,
                requested_share_percent: share_percent,
                free_bytes: gpu.free_memory_bytes,
                total_bytes: gpu.total_memory_bytes,
                covered_bytes: 0,
                allocations: 0,
                patterns: Vec::new(),
                error: Some(format!("the GPU could not be opened: {why}")),
            });
        }
    };
    let opts = MemtestOptions::new(share_percent, seed);
    let report = memtest::run(&dev, gpu.index, &opts, &mut |p| {
        runner.announce(Progress::Memtest(p))
    });
    runner.keep_memtest(report)
}
