//! The memory-test run (`gpugate memtest`): probe → select the GPUs → open them and test every
//! GPU's memory at the same time, one thread each ([`memtest_gpus`], the stage a burn-in calls
//! too) → gate and write. It is
//! gated on the profile's machine block and its `[memtest]` requirement; the performance
//! targets are `gpugate run`'s, so the profile is recorded without them
//! ([`memtest_profile`]).

use crate::cuda::CudaDevice;
use crate::error::Error;
use crate::gate::Profile;
use std::sync::mpsc;

use crate::memtest::{self, MemtestOptions, MemtestProgress};
use crate::model::memtest::{MemtestReport, PatternResult};
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
    let gpus = runner.gpus();
    memtest_gpus(&mut runner, &gpus, opts.share_percent)?;
    runner.finish(&probed.profile)
}

/// What a GPU's test thread tells the thread that holds the run.
enum Told {
    /// Its progress (`MemtestProgress`, with the pattern's result owned).
    Allocated {
        device: u32,
        bytes: u64,
        allocations: u32,
    },
    Started {
        device: u32,
        index: usize,
        total: usize,
        pattern: memtest::Pattern,
        bytes: u64,
    },
    Finished {
        device: u32,
        index: usize,
        total: usize,
        result: PatternResult,
    },
    Done(MemtestReport),
}

impl Told {
    /// The progress it carries (None for the result).
    fn progress(&self) -> Option<MemtestProgress<'_>> {
        Some(match self {
            Told::Done(_) => return None,
            Told::Allocated {
                device,
                bytes,
                allocations,
            } => MemtestProgress::Allocated {
                device: *device,
                bytes: *bytes,
                allocations: *allocations,
            },
            Told::Started {
                device,
                index,
                total,
                pattern,
                bytes,
            } => MemtestProgress::PatternStarted {
                device: *device,
                index: *index,
                total: *total,
                pattern: *pattern,
                bytes: *bytes,
            },
            Told::Finished {
                device,
                index,
                total,
                result,
            } => MemtestProgress::PatternFinished {
                device: *device,
                index: *index,
                total: *total,
                result,
            },
        })
    }

    fn of(p: MemtestProgress) -> Told {
        match p {
            MemtestProgress::Allocated {
                device,
                bytes,
                allocations,
            } => Told::Allocated {
                device,
                bytes,
                allocations,
            },
            MemtestProgress::PatternStarted {
                device,
                index,
                total,
                pattern,
                bytes,
            } => Told::Started {
                device,
                index,
                total,
                pattern,
                bytes,
            },
            MemtestProgress::PatternFinished {
                device,
                index,
                total,
                result,
            } => Told::Finished {
                device,
                index,
                total,
                result: result.clone(),
            },
        }
    }
}

/// The memory-test stage (`gpugate memtest`, and each burn before its load): every GPU of
/// `gpus` opened on this thread, then tested at the same time, one thread each, over
/// `share_percent` of its free memory with a seed derived from the run's. This thread, which
/// alone holds the run, announces their progress and keeps each GPU's result as it ends
/// (run.json saved). A GPU that cannot be opened is kept as a test that could not run (its
/// checks FAIL with the reason). Each GPU's memory is freed when its test ends; a stop request
/// ends every test between two steps.
pub fn memtest_gpus(
    runner: &mut Runner,
    gpus: &[DeviceInfo],
    share_percent: f64,
) -> Result<(), Error> {
    let mut open = Vec::new();
    for gpu in gpus {
        if crate::stop::requested() {
            break;
        }
        let seed = crate::seed::workload_seed(runner.seed(), &format!("gpu{}.memtest", gpu.index));
        match CudaDevice::open(gpu.index) {
            Ok((dev, loads)) => {
                runner.announce(Progress::ModulesLoaded {
                    device: gpu.index,
                    loads: &loads,
                });
                open.push((gpu.index, dev, MemtestOptions::new(share_percent, seed)));
            }
            Err(why) => not_opened(runner, gpu, seed, share_percent, &why.to_string())?,
        }
    }
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for (device, dev, opts) in &open {
            let tx = tx.clone();
            scope.spawn(move || {
                let report = memtest::run(dev, *device, opts, &mut |p| {
                    let _ = tx.send(Told::of(p));
                });
                let _ = tx.send(Told::Done(report));
            });
        }
        drop(tx);
        for told in rx {
            on_told(runner, told)?;
        }
        Ok(())
    })
}

/// One message of a test thread: announced, or the GPU's result kept.
fn on_told(runner: &mut Runner, told: Told) -> Result<(), Error> {
    match told {
        Told::Done(report) => runner.keep_memtest(report),
        other => {
            if let Some(p) = other.progress() {
                runner.announce(Progress::Memtest(p));
            }
            Ok(())
        }
    }
}

/// A GPU that could not be opened: noted, and kept as a test that could not run.
fn not_opened(
    runner: &mut Runner,
    gpu: &DeviceInfo,
    seed: u64,
    share_percent: f64,
    why: &str,
) -> Result<(), Error> {
    runner.note(format!(
        "GPU {} ({}) could not be used: {why}",
        gpu.index, gpu.name
    ));
    runner.keep_memtest(MemtestReport {
        device: gpu.index,
        seed,
        requested_share_percent: share_percent,
        free_bytes: gpu.free_memory_bytes,
        total_bytes: gpu.total_memory_bytes,
        covered_bytes: 0,
        allocations: 0,
        patterns: Vec::new(),
        error: Some(format!("the GPU could not be opened: {why}")),
    })
}
