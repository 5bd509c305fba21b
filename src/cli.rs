//! Command-line interface (clap derive). No device access here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use clap::ValueEnum;

use gpugate::model::Level;
use gpugate::run::BackendChoice;

/// `--level`: the command line's names for [`Level`] (the run.json schema knows nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// A few seconds: one GEMM size per precision, stream and transfers at modest sizes.
    Quick,
    /// The acceptance default: larger GEMMs, full stream set, transfers.
    Standard,
    /// Everything standard does, with the largest sizes that fit and longer sampling.
    Full,
}

impl From<LevelArg> for Level {
    fn from(l: LevelArg) -> Level {
        match l {
            LevelArg::Quick => Level::Quick,
            LevelArg::Standard => Level::Standard,
            LevelArg::Full => Level::Full,
        }
    }
}

/// `--backend`: the command line's names for [`BackendChoice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// CUDA where a GPU can be used; otherwise the host, and the GPU checks fail with the reason.
    Auto,
    /// CUDA only.
    Cuda,
    /// The host CPU only (its results never count as GPU results).
    Host,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> BackendChoice {
        match b {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Cuda => BackendChoice::Cuda,
            BackendArg::Host => BackendChoice::Host,
        }
    }
}

/// Decides whether a GPU machine may go live: runs gpugate's own CUDA kernels, verifies every
/// result, compares the measurements with the machine's profile and exits with the verdict.
///
/// Exit codes: 0 every check passed · 1 a check failed · 2 the tool could not run ·
/// 3 nothing failed but something was inconclusive.
#[derive(Debug, Parser)]
#[command(name = "gpugate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inventory: GPUs (name, PCI id, compute capability, SMs, clocks, memory, bus width, driver,
    /// PTX ISA accepted) and the host (CPU, cores, memory, disk).
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The acceptance run: measure, verify, gate against a profile, write reports.
    Run {
        /// Built-in profile name (see `gpugate profiles`) or a TOML file. Default: auto, from the
        /// GPU models catalogue.
        #[arg(long, value_name = "NAME|FILE")]
        profile: Option<String>,
        /// How much work to do.
        #[arg(long, value_enum, ignore_case = true, default_value_t = LevelArg::Standard)]
        level: LevelArg,
        /// GPU ordinals to test, comma-separated (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        gpus: Option<Vec<u32>>,
        /// Which backend runs the workloads.
        #[arg(long, value_enum, ignore_case = true, default_value_t = BackendArg::Auto)]
        backend: BackendArg,
        /// Directory for run.json and the reports (created if missing).
        #[arg(long, value_name = "DIR", default_value = "gpugate-out")]
        out: PathBuf,
        /// Seed of the random inputs (default: fresh, recorded in run.json).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Time the GEMM kernel variants again instead of using the tuning cache
        /// ($GPUGATE_CACHE_DIR, else ~/.cache/gpugate/tuning.json).
        #[arg(long)]
        retune: bool,
        /// Square GEMM sizes to run in place of the level's, comma-separated (e.g. 256,512), for
        /// every precision; the GEMM variants are tuned at these sizes too.
        #[arg(long, value_name = "N,N,…", value_delimiter = ',',
              value_parser = clap::value_parser!(u32).range(1..=65536))]
        gemm_sizes: Option<Vec<u32>>,
        /// Size of each stream array and of each host↔device transfer, in MiB, in place of the
        /// level's (arrays smaller than 4 × the L2 cache measure the cache; the report says so).
        #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=1048576))]
        stream_mib: Option<u32>,
        /// Video frame sizes to run in place of the level's (1080p; 2160p too at full),
        /// comma-separated: WIDTHxHEIGHT for every stage, STAGE=WIDTHxHEIGHT for one (nv12,
        /// scale, me, dct), e.g. `640x360,me=160x90` (motion estimation costs about 100 times
        /// more per pixel than the other stages). Video targets are in 1080p frames per second:
        /// a result at another size is gated counted in 1080p frames by its pixel count, and
        /// says so.
        #[arg(long, value_name = "[STAGE=]WxH,…", value_delimiter = ',', value_parser = parse_video_size)]
        video_sizes: Option<Vec<gpugate::plan::VideoSize>>,
        /// Frames each hardware-encode session encodes, in place of the level's (300 at quick,
        /// 600 otherwise). Fewer make a quicker, noisier measurement: ffmpeg's start-up weighs
        /// more, and below about a second of encoding the rate includes it (the result says so).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        encode_frames: Option<u32>,
        /// The least time each workload is sampled, in seconds, in place of 0.5 (the warm-up
        /// is at most as long). The stopping rule still wants 10 samples and 0.5 % noise.
        #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_negative_numbers = true)]
        min_time: Option<f64>,
        /// The most time each workload is sampled, in seconds, in place of the level's (1 s
        /// quick, 5 s standard, 15 s full); at least --min-time.
        #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_negative_numbers = true)]
        timeout: Option<f64>,
        /// Let the checks of a simulated GPU (gpugate-sim) keep their verdicts, to test gpugate
        /// itself. Without it every check of a simulated device FAILS: a simulator can never put
        /// a machine into service.
        #[arg(long)]
        allow_simulated: bool,
    },
    /// The GPU memory test: the cuda_memtest / DCGM memtest patterns over a share of each GPU's
    /// free memory, every error with its address, bit, expected and found value; any error
    /// FAILS the GPU. Writes the same run directory and exit codes as `run`.
    Memtest {
        /// Built-in profile name or a TOML file: its machine block and `[memtest]` coverage
        /// (default: auto, 90 % of free memory).
        #[arg(long, value_name = "NAME|FILE")]
        profile: Option<String>,
        /// GPU ordinals to test, comma-separated (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        gpus: Option<Vec<u32>>,
        /// Share of each GPU's free memory to allocate and test, percent (1 to 100).
        #[arg(long, value_name = "PCT", default_value_t = gpugate::memtest::DEFAULT_SHARE_PERCENT,
              value_parser = parse_share, allow_negative_numbers = true)]
        memory_share: f64,
        /// Directory for run.json and the reports (created if missing).
        #[arg(long, value_name = "DIR", default_value = "gpugate-out")]
        out: PathBuf,
        /// Seed of the random patterns (default: fresh, recorded in run.json).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Let the checks of a simulated GPU (gpugate-sim) keep their verdicts, to test gpugate
        /// itself.
        #[arg(long)]
        allow_simulated: bool,
    },
    /// The burn-in: every GPU loaded at once for a while (SGEMM, DGEMM and a memory-bound
    /// triad over ring buffers filling most of the free memory), every repeated result compared
    /// bit for bit with the first, in intervals; gated and reported as `run` is.
    Burn {
        /// How long to load the GPUs (wall time): a number with ms, s, m, h or d. Default: the
        /// level's (quick 2m, standard 10m, full 60m).
        #[arg(long, value_name = "TIME", value_parser = gpugate::run::burn::parse_duration)]
        duration: Option<std::time::Duration>,
        /// How much work to do (the duration and GEMM size, unless given).
        #[arg(long, value_enum, ignore_case = true, default_value_t = LevelArg::Standard)]
        level: LevelArg,
        /// GPU ordinals to load, comma-separated, each once (default: all).
        #[arg(long, value_name = "LIST", value_delimiter = ',')]
        gpus: Option<Vec<u32>>,
        /// Built-in profile name or a TOML file (default: auto). Its FP32, FP64 and triad
        /// targets are gated.
        #[arg(long, value_name = "NAME|FILE")]
        profile: Option<String>,
        /// Directory for run.json and the reports (created if missing).
        #[arg(long, value_name = "DIR", default_value = "gpugate-out")]
        out: PathBuf,
        /// Length of one interval (a row of run.json, rewritten as it ends). Default: 10s.
        #[arg(long, value_name = "TIME", value_parser = gpugate::run::burn::parse_duration)]
        interval: Option<std::time::Duration>,
        /// Square size of the SGEMM and DGEMM load, in place of the level's (1024, 2048, 4096).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=65536))]
        gemm_size: Option<u32>,
        /// Share of each GPU's free memory the ring buffers fill, in percent (default 90).
        #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
        memory_share: Option<f64>,
        /// Seed of the random inputs (default: fresh, recorded in run.json).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Size of each peer-to-peer copy between two GPUs, MiB (1 to 4096; default 64).
        #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..=4096))]
        p2p_mib: Option<u32>,
        /// Time the GEMM kernel variants again instead of using the tuning cache.
        #[arg(long)]
        retune: bool,
        /// Let the checks of a simulated GPU (gpugate-sim) keep their verdicts (gpugate's own
        /// tests only).
        #[arg(long)]
        allow_simulated: bool,
    },
    /// Re-render every report from a saved run.json (no GPU needed).
    Report {
        /// A run.json written by `gpugate run`.
        run_json: PathBuf,
        /// Directory to write the reports to (default: beside run.json).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Merge many nodes' run.json files into one fleet report: each node's verdict, the
    /// distribution of every metric per GPU model, outliers (modified z-score), homogeneity.
    /// Exit 0 every node passed and none is a slow outlier · 1 a node failed or an expected
    /// node is missing · 2 nothing could be merged · 3 only outliers, inconclusive nodes or
    /// unreadable inputs.
    Fleet {
        /// run.json files, or directories searched for run.json and *.run.json.
        #[arg(required = true, value_name = "RUN_DIRS_OR_FILES")]
        inputs: Vec<PathBuf>,
        /// A file of the hostnames that must report, one a line (`#` comments): a node listed
        /// with no run.json FAILS ("no result").
        #[arg(long, value_name = "FILE")]
        expect_nodes: Option<PathBuf>,
        /// Directory for fleet.json and the reports (a run directory under it, as `run` writes).
        #[arg(long, value_name = "DIR", default_value = "gpugate-fleet")]
        out: PathBuf,
        /// The modified z-score beyond which a GPU is an outlier.
        #[arg(long, value_name = "Z", default_value_t = gpugate::fleet::DEFAULT_THRESHOLD)]
        threshold: f64,
    },
    /// Kubernetes gating (deploy/k8s): the patch that records a node's verdict, and
    /// node-problem-detector's custom plugin. Reads files only; sends nothing.
    K8s {
        #[command(subcommand)]
        action: K8sAction,
    },
    /// Gating a Slurm cluster (deploy/slurm/): the node health check Slurm runs, and the
    /// background run it starts.
    Slurm {
        #[command(subcommand)]
        action: SlurmAction,
    },
    /// List the built-in profiles, or show one with its targets.
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesAction>,
    },
    /// Every kernel at small, odd and large sizes against the references; nothing timed.
    /// Exit 1 on any mismatch or when no GPU can be used.
    Selftest {
        /// Seed of the random inputs (default: fresh).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Leave out the large cases (2048³ and 4097×1025×515 GEMMs, 64 Mi-element stream
        /// arrays, 64 MiB transfers): a quicker check, e.g. on a simulated GPU.
        #[arg(long)]
        no_large: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum K8sAction {
    /// Print the JSON Patch (RFC 6902, application/json-patch+json) that records the run's
    /// verdict on the node: label gpugate.io/verdict=pass|fail|inconclusive, taint
    /// gpugate.io/unhealthy:NoSchedule added on FAIL and removed on PASS; other labels and
    /// taints untouched. Prints nothing when nothing changes; one line on stderr says what
    /// it changes. Exit 0, or 2 when the node or run cannot be read.
    Patch {
        /// The node object as the API returns it (GET /api/v1/nodes/NAME), or - for stdin.
        #[arg(long, value_name = "FILE")]
        node_json: PathBuf,
        /// The node's last finished run (e.g. DIR/latest/run.json).
        #[arg(long, value_name = "RUN_JSON")]
        run: PathBuf,
    },
    /// node-problem-detector's custom plugin: the run's verdict as the exit status (0 PASS,
    /// 1 FAIL, 3 INCONCLUSIVE, 2 no readable run; NPD: OK, NonOK, Unknown) and the reason on
    /// stdout, within NPD's max_output_length.
    Npd {
        /// The node's last finished run (e.g. DIR/latest/run.json).
        #[arg(long, value_name = "RUN_JSON")]
        run: PathBuf,
        /// NPD's pluginConfig.max_output_length: the message is cut to this many bytes.
        #[arg(long, value_name = "BYTES", default_value_t = gpugate::k8s::npd::NPD_DEFAULT_MAX_OUTPUT)]
        max_output_length: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlurmAction {
    /// The health check, for Slurm's HealthCheckProgram or a Prolog / Epilog; returns at once.
    /// Reads the last finished run (STATE/out/latest/run.json): FAIL drains the node with the
    /// reason "gpugate: <first failing check>"; PASS resumes it only when the drain reason is
    /// gpugate's own (a person's drain is never undone). Then starts COMMAND in the background
    /// (`gpugate slurm run`) when the node is idle and no run is in progress. Exit 0 once it has acted, 2 when it
    /// could not (scontrol missing or failing, no such node, state directory not writable).
    Check {
        /// The Slurm node name (default: $SLURMD_NODENAME, else the short hostname).
        #[arg(long, value_name = "NAME")]
        node: Option<String>,
        /// This node's state directory (the lock, the runs in out/, run.log, checks.log).
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
        /// The scontrol program.
        #[arg(long, value_name = "PROGRAM", default_value = "scontrol")]
        scontrol: String,
        /// Act on the last finished run only; start none (in a Prolog: a job is about to start).
        #[arg(long)]
        no_start: bool,
        /// Start a run only when the last finished one is at least this old (a number with ms,
        /// s, m, h or d). Default: at every check when none is in progress.
        #[arg(long, value_name = "TIME", value_parser = gpugate::run::burn::parse_duration)]
        interval: Option<std::time::Duration>,
        /// The run, after `--` (gpugate adds `--out STATE/out`), e.g. `-- gpugate run --level quick`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// The background run the check starts: takes the node's lock (STATE/run.lock; exits at
    /// once when another run holds it) and runs COMMAND --out STATE/out to its end. Exit: the
    /// command's, 0 when another run holds the lock.
    Run {
        /// This node's state directory.
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
        /// The run, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// Show one profile (built-in name or TOML file) with its targets and their sources.
    Show { name: String },
}

/// `--memory-share`: a percentage from 1 to 100.
pub fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage (e.g. 90)"))?;
    gpugate::run::check_share(v).map_err(|e| e.to_string())?;
    Ok(v)
}

/// A time in seconds: a number above 0 and at most an hour.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds (e.g. 0.5)"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err(format!(
            "{s} s is out of range: give more than 0 and at most 3600 seconds"
        ));
    }
    Ok(v)
}

/// "me=160x90" → that size for motion estimation; "640x360" → for every stage.
pub fn parse_video_size(s: &str) -> Result<gpugate::plan::VideoSize, String> {
    let (stage, size) = match s.split_once('=') {
        Some((name, size)) => {
            let name = name.trim().to_ascii_lowercase();
            let stage = gpugate::workload::VideoStage::ALL
                .into_iter()
                .find(|st| st.as_str() == name)
                .ok_or_else(|| {
                    format!(
                        "{s:?}: unknown video stage {name:?}; the stages are nv12, scale, me, dct \
                         (e.g. me=160x90)"
                    )
                })?;
            (Some(stage), size)
        }
        None => (None, s),
    };
    let (width, height) = parse_frame_size(size).map_err(|e| e.to_string())?;
    Ok(gpugate::plan::VideoSize {
        stage,
        width,
        height,
    })
}

/// A frame size that is not WIDTHxHEIGHT with each side 16 to 16384 pixels: what was given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0:?} is not a frame size: write WIDTHxHEIGHT, e.g. 1920x1080 (each side 16 to 16384)")]
pub struct BadFrameSize(pub String);

/// "1920x1080" → (1920, 1080); each side 16 to 16384 pixels.
pub fn parse_frame_size(s: &str) -> Result<(usize, usize), BadFrameSize> {
    let bad = || BadFrameSize(s.to_string());
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let w: usize = w.trim().parse().map_err(|_| bad())?;
    let h: usize = h.trim().parse().map_err(|_| bad())?;
    if !(16..=16384).contains(&w) || !(16..=16384).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}
