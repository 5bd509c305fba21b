//! What a run is asked to do and what it says while it runs: the options ([`RunOptions`],
//! [`BackendChoice`]) and their checks before anything is created ([`check_sampling`]), the
//! progress callback's events ([`Progress`]) and what a run leaves behind ([`RunOutcome`]).

use std::path::PathBuf;

use crate::error::Error;
use crate::measure::tune::SizeClass;
use crate::measure::{SampleProgress, StoppingCriterion};
use crate::model::{DeviceInfo, HostInfo, Level, ModuleLoad, RunReport, WorkloadResult};
use crate::plan::SizeOverrides;
use crate::report;
use crate::workload::{GemmMath, Precision};

/// Which backend to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// CUDA where a GPU can be used; otherwise the host, and the GPU checks fail with the reason.
    Auto,
    /// CUDA only.
    Cuda,
    /// The host CPU only (its results never count as GPU results).
    Host,
}

impl BackendChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Cuda => "cuda",
            BackendChoice::Host => "host",
        }
    }
}

/// What `gpugate run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Built-in profile name or TOML path; None = auto (from the GPU catalogue).
    pub profile: Option<String>,
    pub level: Level,
    /// GPU ordinals to test; None = all.
    pub gpus: Option<Vec<u32>>,
    pub backend: BackendChoice,
    pub out: PathBuf,
    /// None = a fresh seed (recorded in the report).
    pub seed: Option<u64>,
    /// Time the GEMM variants again instead of using the tuning cache.
    pub retune: bool,
    /// Sizes the user set in place of the level's (`--gemm-sizes`, `--stream-mib`).
    pub sizes: SizeOverrides,
    /// Sampling times the user set in place of the level's (`--min-time`, `--timeout`).
    pub sampling: crate::measure::SamplingOverrides,
    /// Checks of simulated devices keep their verdicts (`--allow-simulated`).
    pub allow_simulated: bool,
    pub command_line: Vec<String>,
}

/// Progress of a run, for a progress line.
#[derive(Debug)]
pub enum Progress<'a> {
    Probed {
        host: &'a HostInfo,
        gpus: &'a [DeviceInfo],
        unavailable: Option<&'a str>,
    },
    ModulesLoaded {
        device: u32,
        loads: &'a [ModuleLoad],
    },
    /// Timing the GEMM variants of one precision, math and size class (autotuning).
    Tuning {
        device: u32,
        precision: Precision,
        math: GemmMath,
        class: SizeClass,
    },
    WorkloadStarted {
        index: usize,
        total: usize,
        id: &'a str,
    },
    Sample {
        index: usize,
        total: usize,
        id: &'a str,
        progress: SampleProgress,
    },
    WorkloadFinished {
        index: usize,
        total: usize,
        result: &'a WorkloadResult,
    },
    Note(&'a str),
    /// The memory test of one GPU (`gpugate memtest`).
    Memtest(crate::memtest::MemtestProgress<'a>),
    /// A peer-to-peer copy test starts between two GPUs (a burn-in's P2P stage).
    P2pTest {
        pair: (u32, u32),
        test: &'a str,
    },
    /// A burn-in interval ended on one GPU (`gpugate burn`), with the burn's time left.
    BurnInterval {
        device: u32,
        row: &'a crate::model::burn::BurnInterval,
        left_s: f64,
    },
}

/// What a run leaves behind.
#[derive(Debug)]
pub struct RunOutcome {
    pub report: RunReport,
    /// The run's own directory, with every report in it.
    pub dir: report::layout::RunDir,
    /// `DIR/latest`, now naming this run; or why it could not be moved (the run's files are
    /// written either way).
    pub latest: std::io::Result<PathBuf>,
}

/// `--min-time` must not exceed the timeout it runs under (`--timeout`, else the level's).
pub fn check_sampling(opts: &RunOptions) -> Result<(), Error> {
    let crit = StoppingCriterion::for_level_with(opts.level, opts.sampling);
    if crit.min_time > crit.max_time {
        return Err(Error::Usage(format!(
            "--min-time {} s is longer than the timeout of {} s ({}): lower --min-time or raise \
             --timeout",
            crit.min_time,
            crit.max_time,
            if opts.sampling.max_time.is_some() {
                "--timeout".to_string()
            } else {
                format!("--level {}", opts.level)
            }
        )));
    }
    Ok(())
}

/// The note a run records when the user set its sampling times.
pub(crate) fn sampling_note(opts: &RunOptions, crit: &StoppingCriterion) -> Option<String> {
    opts.sampling.any().then(|| {
        format!(
            "sampling: at least {} s and at most {} s per workload (--min-time / --timeout in \
             place of the level's 0.5 s and {} s); still at least 10 samples and 0.5 % noise \
             to stop early",
            crit.min_time,
            crit.max_time,
            StoppingCriterion::for_level(opts.level).max_time
        )
    })
}
