//! gpugate binary: parse → run → render → exit code. All the work is in the library.

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use cli::{Cli, Command, K8sAction, ProfilesAction, SlurmAction};
use gpugate::model::exit;
use gpugate::report::{self, Reporter};
use gpugate::run::{self, Progress, RunOptions};

/// Whether a write to stdout failed (a closed pipe, a full disk). Output never decides the
/// verdict and never panics: a run or a report keeps its verdict's exit code (its files are
/// written); a command whose whole product is stdout (info, profiles) exits 2.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout, remembering a failure instead of panicking as `print!` does.
fn out(args: std::fmt::Arguments) {
    let mut o = std::io::stdout().lock();
    if o.write_fmt(args).and_then(|()| o.flush()).is_err() {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
    }
}

/// `print!` that never panics.
macro_rules! say {
    ($($t:tt)*) => { out(format_args!($($t)*)) };
}

/// `println!` that never panics.
macro_rules! sayln {
    () => { out(format_args!("\n")) };
    ($($t:tt)*) => { out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` that never panics (a closed stderr loses the message, not the exit code).
macro_rules! complain {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout_is_the_product =
        matches!(cli.command, Command::Info { .. } | Command::Profiles { .. });
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            complain!("gpugate: error: {e}");
            exit::USAGE
        }
    };
    let code = if STDOUT_FAILED.load(Ordering::Relaxed) && stdout_is_the_product {
        complain!("gpugate: error: could not write to standard output (closed pipe or full disk)");
        exit::USAGE
    } else {
        code
    };
    ExitCode::from(code as u8)
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Info { json } => Ok(info(json)),
        Command::Run {
            profile,
            level,
            gpus,
            backend,
            out,
            seed,
            retune,
            gemm_sizes,
            stream_mib,
            video_sizes,
            encode_frames,
            min_time,
            timeout,
            allow_simulated,
        } => run_command(&RunOptions {
            profile,
            level: level.into(),
            gpus,
            backend: backend.into(),
            out,
            seed,
            retune,
            sizes: gpugate::plan::SizeOverrides {
                gemm: gemm_sizes.map(|v| v.into_iter().map(|s| s as usize).collect()),
                stream_bytes: stream_mib.map(|m| (m as usize) << 20),
                video: video_sizes,
                encode_frames: encode_frames.map(|n| n as usize),
            },
            sampling: gpugate::measure::SamplingOverrides {
                min_time,
                max_time: timeout,
            },
            allow_simulated,
            command_line: std::env::args().collect(),
        }),
        Command::Memtest {
            profile,
            gpus,
            memory_share,
            out,
            seed,
            allow_simulated,
        } => memtest_command(&run::MemtestRunOptions {
            run: RunOptions {
                profile,
                level: gpugate::model::Level::Quick,
                gpus,
                backend: run::BackendChoice::Cuda,
                out,
                seed,
                retune: false,
                sizes: Default::default(),
                sampling: Default::default(),
                allow_simulated,
                command_line: std::env::args().collect(),
            },
            share_percent: memory_share,
        }),
        Command::Burn {
            duration,
            level,
            gpus,
            profile,
            out,
            interval,
            gemm_size,
            memory_share,
            seed,
            p2p_mib,
            retune,
            allow_simulated,
        } => burn_command(&run::BurnOptions {
            profile,
            level: level.into(),
            duration,
            interval,
            gemm_size: gemm_size.map(|n| n as usize),
            memory_share: memory_share.map(|pct| pct / 100.0),
            gpus,
            p2p_bytes: p2p_mib.map(|m| m as usize * (1 << 20)),
            out,
            seed,
            retune,
            allow_simulated,
            command_line: std::env::args().collect(),
        }),
        Command::Report { run_json, out } => report_command(&run_json, out.as_deref()),
        Command::Fleet {
            inputs,
            expect_nodes,
            out,
            threshold,
        } => fleet_command(
            &gpugate::fleet::FleetOptions {
                inputs,
                expect_nodes,
                threshold,
            },
            &out,
        ),
        Command::K8s {
            action: K8sAction::Patch { node_json, run },
        } => k8s_patch(&node_json, &run),
        Command::K8s {
            action:
                K8sAction::Npd {
                    run,
                    max_output_length,
                },
        } => Ok(k8s_npd(&run, max_output_length)),
        Command::Slurm {
            action:
                SlurmAction::Check {
                    node,
                    state_dir,
                    scontrol,
                    no_start,
                    interval,
                    command,
                },
        } => slurm_check(&gpugate::slurm::CheckOptions {
            node: node.unwrap_or_else(slurm_node_name),
            state_dir,
            command,
            scontrol,
            start: !no_start,
            interval,
        }),
        Command::Slurm {
            action: SlurmAction::Run { state_dir, command },
        } => slurm_run(&state_dir, &command),
        Command::Profiles { action: None } => Ok(profiles_list()),
        Command::Profiles {
            action: Some(ProfilesAction::Show { name }),
        } => profiles_show(&name),
        Command::Selftest { seed, no_large } => Ok(selftest_command(seed, no_large)),
    }
}

/// `gpugate run`: the acceptance run, with a progress line on stderr and the summary on stdout.
fn run_command(opts: &RunOptions) -> anyhow::Result<i32> {
    // SIGINT and SIGTERM stop the run at its next safe point; what was measured is
    // written as an incomplete run (its run.complete check fails: exit 1).
    gpugate::stop::install_signal_handlers();
    let mut line = ProgressLine::new();
    let done = run::run(opts, &mut |p| line.show(&p))?;
    line.finish();
    say!("{}", report::console::Console.render(&done.report));
    sayln!("reports written to {}", done.dir.dir.display());
    latest_line(&done.latest);
    Ok(done.report.exit_code)
}

/// `gpugate memtest`: the memory test, with progress on stderr and the summary on stdout.
fn memtest_command(opts: &run::MemtestRunOptions) -> anyhow::Result<i32> {
    gpugate::stop::install_signal_handlers();
    let mut line = ProgressLine::new();
    let done = run::memtest(opts, &mut |p| line.show(&p))?;
    line.finish();
    say!("{}", report::console::Console.render(&done.report));
    sayln!("reports written to {}", done.dir.dir.display());
    latest_line(&done.latest);
    Ok(done.report.exit_code)
}

/// `gpugate burn`: the burn-in, with a line per GPU and interval on stderr and the summary
/// on stdout; interrupted as `run` is.
fn burn_command(opts: &run::BurnOptions) -> anyhow::Result<i32> {
    gpugate::stop::install_signal_handlers();
    let mut line = ProgressLine::new();
    let done = run::burn(opts, &mut |p| line.show(&p))?;
    line.finish();
    say!("{}", report::console::Console.render(&done.report));
    sayln!("reports written to {}", done.dir.dir.display());
    latest_line(&done.latest);
    Ok(done.report.exit_code)
}

/// `gpugate report RUN.json [--out DIR]`: a saved run gated and rendered again.
fn report_command(
    run_json: &std::path::Path,
    out: Option<&std::path::Path>,
) -> anyhow::Result<i32> {
    let done = report::rerender(run_json, out)?;
    say!("{}", report::console::Console.render(&done.report));
    for p in &done.written {
        sayln!("wrote {}", p.display());
    }
    if let Some(latest) = &done.latest {
        latest_line(latest);
    }
    Ok(done.report.exit_code)
}

/// `gpugate fleet`: the nodes' runs merged; the summary on stdout, what was not merged on
/// stderr.
fn fleet_command(
    opts: &gpugate::fleet::FleetOptions,
    out_dir: &std::path::Path,
) -> anyhow::Result<i32> {
    let f = gpugate::fleet::merge_fleet(opts)?;
    for u in &f.unreadable {
        complain!("gpugate: not merged: {}: {}", u.path, u.reason);
    }
    let written = report::fleet::write_all(&f, out_dir)?;
    say!("{}", report::fleet::console(&f));
    sayln!("reports written to {}", written.dir.dir.display());
    latest_line(&written.latest);
    Ok(f.exit_code)
}

/// `gpugate k8s patch`: the patch on stdout (nothing when nothing changes), what it changes
/// on stderr.
fn k8s_patch(node_json: &std::path::Path, run: &std::path::Path) -> anyhow::Result<i32> {
    let plan = gpugate::k8s::plan_patch(node_json, run)?;
    if let Some(body) = plan.patch.body() {
        sayln!("{body}");
    }
    complain!("gpugate: {}", plan.summary());
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        anyhow::bail!("could not write the patch to standard output");
    }
    Ok(exit::PASS)
}

/// `gpugate k8s npd`: node-problem-detector's custom plugin; the exit status is the answer.
fn k8s_npd(run: &std::path::Path, max_len: usize) -> i32 {
    use gpugate::k8s::npd;
    let a = match gpugate::k8s::read_run(run) {
        Ok(r) => npd::answer(&r, max_len),
        Err(e) => {
            // NPD logs the plugin's stderr; the message keeps the reason alone.
            complain!("gpugate: error: {e}");
            let reason = match &e {
                gpugate::k8s::K8sError::Run { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            npd::unreadable(&reason, max_len)
        }
    };
    sayln!("{}", a.message);
    a.exit_code
}

/// The node's name for Slurm: $SLURMD_NODENAME (set by slurmd for its health check, Prolog
/// and Epilog), else the short hostname.
fn slurm_node_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            host.trim().split('.').next().unwrap_or("").to_string()
        })
}

/// `gpugate slurm check`: one line on stdout saying what it read and did.
fn slurm_check(opts: &gpugate::slurm::CheckOptions) -> anyhow::Result<i32> {
    let me = std::env::current_exe()?;
    let outcome = gpugate::slurm::check(opts, &me)?;
    sayln!("gpugate: {outcome}");
    Ok(exit::PASS)
}

/// `gpugate slurm run`: the background run, to its end.
fn slurm_run(state_dir: &std::path::Path, command: &[String]) -> anyhow::Result<i32> {
    match gpugate::slurm::run_locked(state_dir, command)? {
        None => {
            complain!("gpugate: a run is already in progress on this node (its lock is held): none started");
            Ok(exit::PASS)
        }
        Some(status) => {
            sayln!("gpugate: the run ended: {status}");
            Ok(status.code().unwrap_or(exit::USAGE))
        }
    }
}

/// `gpugate profiles`: the built-in profiles, one a line.
fn profiles_list() -> i32 {
    for p in gpugate::gate::builtin_profiles() {
        sayln!("{:<14} {}", p.name, p.description);
    }
    sayln!("\n`gpugate profiles show NAME` lists a profile's targets; `--profile FILE.toml` uses your own.");
    exit::PASS
}

/// `gpugate profiles show NAME`: one profile's machine and targets.
fn profiles_show(name: &str) -> anyhow::Result<i32> {
    // `auto` is built from the GPUs here, as `run` builds it.
    let (p, origin) = match run::resolve_profile(Some(name))? {
        Some(found) => found,
        None => (
            gpugate::gate::auto_profile(&gpugate::probe::gpus().devices),
            "from the GPUs detected here".to_string(),
        ),
    };
    say!("{}", report::info::render_profile(&p, &origin));
    Ok(exit::PASS)
}

/// `gpugate selftest`: every case a line on stdout, then the tally; exit 1 on any failure.
fn selftest_command(seed: Option<u64>, no_large: bool) -> i32 {
    let seed = seed.unwrap_or_else(run::fresh_seed);
    complain!("selftest: seed {seed}");
    let mut failed = 0usize;
    let mut total = 0usize;
    let res = gpugate::selftest::selftest(seed, !no_large, &mut |c| {
        total += 1;
        if !c.passed() {
            failed += 1;
        }
        selftest_case_lines(c);
    });
    match res {
        Err(why) => {
            sayln!("FAIL no GPU can be used: {why}");
            exit::FAIL
        }
        Ok(_) => {
            sayln!("{} passed, {} failed", total - failed, failed);
            if failed == 0 {
                exit::PASS
            } else {
                exit::FAIL
            }
        }
    }
}

/// One self-test case: its status line, its error and its first mismatches.
fn selftest_case_lines(c: &gpugate::selftest::SelftestCase) {
    let status = if c.passed() { "ok  " } else { "FAIL" };
    match c.variant {
        Some(v) => sayln!("{status} gpu{} {} {v}", c.device, describe_spec(&c.spec)),
        None => sayln!("{status} gpu{} {}", c.device, describe_spec(&c.spec)),
    }
    if let Some(e) = &c.error {
        sayln!("     error: {e}");
    }
    for m in c.verification.mismatches.iter().take(3) {
        sayln!("     {}: expected {} got {}", m.at, m.expected, m.got);
    }
}

/// Says where `DIR/latest` points now, or why it could not be moved.
fn latest_line(latest: &std::io::Result<std::path::PathBuf>) {
    match latest {
        Ok(p) => sayln!("{} now names this run", p.display()),
        Err(why) => complain!("gpugate: warning: the latest link was not moved: {why}"),
    }
}

fn describe_spec(spec: &gpugate::workload::WorkloadSpec) -> String {
    use gpugate::workload::WorkloadSpec::*;
    match *spec {
        Gemm { .. } => spec.name(),
        Stream { n, .. } => format!("{} n={n}", spec.name()),
        Transfer { bytes, .. } => format!("{} bytes={bytes}", spec.name()),
        Video { width, height, .. } => format!("{} {width}x{height}", spec.name()),
        Encode {
            width,
            height,
            sessions,
            frames,
            ..
        } => format!(
            "{} {width}x{height}, {sessions} session(s) × {frames} frames",
            spec.name()
        ),
    }
}

fn info(json: bool) -> i32 {
    let host = gpugate::probe::host();
    let inv = gpugate::probe::gpus();
    if json {
        let v = serde_json::json!({
            "host": host,
            "gpus": inv.devices,
            "gpu_unavailable": inv.unavailable,
            "kernel_modules": report::info::module_choices(&inv.devices),
        });
        sayln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        say!(
            "{}",
            report::info::render_inventory(&host, &inv.devices, inv.unavailable.as_deref())
        );
    }
    exit::PASS
}

/// One progress line on stderr: rewritten in place on a terminal, a line per workload otherwise.
struct ProgressLine {
    tty: bool,
    dirty: bool,
}

impl ProgressLine {
    fn new() -> Self {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }

    fn show(&mut self, p: &Progress) {
        let mut err = std::io::stderr().lock();
        match p {
            Progress::Probed {
                gpus, unavailable, ..
            } => {
                let _ = writeln!(err, "{}", probed_line(gpus, *unavailable));
            }
            Progress::ModulesLoaded { device, loads } => {
                let total: f64 = loads.iter().map(|l| l.seconds).sum();
                let _ = writeln!(
                    err,
                    "gpu{device}: loaded {} kernel modules in {:.3} s (JIT included)",
                    loads.len(),
                    total
                );
            }
            Progress::Tuning {
                device,
                precision,
                math,
                class,
            } => {
                self.clear(&mut err);
                let _ = writeln!(
                    err,
                    "gpu{device}: tuning {} GEMM variants on the {} for {class:?} sizes (cached for the next runs)",
                    precision.as_str(),
                    math.label()
                );
            }
            Progress::Note(n) => {
                self.clear(&mut err);
                let _ = writeln!(err, "note: {n}");
            }
            Progress::WorkloadStarted { index, total, id } => {
                self.rewrite(&mut err, format_args!("[{index}/{total}] {id} …"));
            }
            Progress::Sample {
                index,
                total,
                id,
                progress,
            } => {
                self.rewrite(
                    &mut err,
                    format_args!(
                        "[{index}/{total}] {id}  {} samples  {:.1} s  noise {:.2}%",
                        progress.samples,
                        progress.elapsed,
                        progress.rel_noise * 100.0
                    ),
                );
            }
            Progress::BurnInterval {
                device,
                row,
                left_s,
            } => {
                self.clear(&mut err);
                let _ = writeln!(err, "{}", burn_line(*device, row, *left_s));
            }
            Progress::WorkloadFinished {
                index,
                total,
                result,
            } => {
                self.clear(&mut err);
                let _ = writeln!(err, "[{index}/{total}] {}", finished_line(result));
            }
            Progress::Memtest(m) => self.memtest(&mut err, m),
            Progress::P2pTest { pair, test } => {
                self.rewrite(
                    &mut err,
                    format_args!("P2P GPU {} ↔ GPU {}: {test}", pair.0, pair.1),
                );
            }
        }
        let _ = err.flush();
    }

    /// A memory test's progress: pattern i of n over how many GB, and each pattern's errors.
    fn memtest(&mut self, err: &mut impl Write, p: &gpugate::memtest::MemtestProgress) {
        use gpugate::memtest::MemtestProgress as M;
        match p {
            M::Allocated {
                device,
                bytes,
                allocations,
            } => {
                self.clear(err);
                let _ = writeln!(
                    err,
                    "gpu{device}: memory test over {:.3} GB in {allocations} allocation(s)",
                    *bytes as f64 / 1e9
                );
            }
            M::PatternStarted {
                device,
                index,
                total,
                pattern,
                bytes,
            } => self.rewrite(
                err,
                format_args!(
                    "[{}/{total}] gpu{device}.memtest.{} over {:.3} GB …",
                    index + 1,
                    pattern.name(),
                    *bytes as f64 / 1e9
                ),
            ),
            M::PatternFinished {
                device,
                index,
                total,
                result,
            } => {
                self.clear(err);
                let what = match (&result.failed, result.errors) {
                    (_, n) if n > 0 => format!("{n} word(s) read back wrong"),
                    (Some(why), _) => format!("did not finish: {why}"),
                    (None, _) => "no error".to_string(),
                };
                let _ = writeln!(
                    err,
                    "[{}/{total}] gpu{device}.memtest.{}: {what}",
                    index + 1,
                    result.pattern
                );
            }
        }
    }

    /// On a terminal, replaces the line in place with `line` (left open); elsewhere nothing.
    fn rewrite(&mut self, err: &mut impl Write, line: std::fmt::Arguments) {
        if self.tty {
            let _ = write!(err, "\r\x1b[K{line}");
            self.dirty = true;
        }
    }

    fn clear(&mut self, err: &mut impl Write) {
        if self.dirty {
            let _ = write!(err, "\r\x1b[K");
            self.dirty = false;
        }
    }

    fn finish(&mut self) {
        let mut err = std::io::stderr().lock();
        self.clear(&mut err);
    }
}

/// What the probe found: the GPUs by name, or why none can be used.
fn probed_line(gpus: &[gpugate::model::DeviceInfo], unavailable: Option<&str>) -> String {
    match unavailable {
        Some(why) if gpus.is_empty() => format!("no GPU can be used: {why}"),
        _ => format!(
            "found {} GPU(s): {}",
            gpus.len(),
            gpus.iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A finished workload: its id, median throughput and verification (or error).
fn finished_line(result: &gpugate::model::WorkloadResult) -> String {
    // A simulated device's number is a test of gpugate, never a measurement: each line says so.
    let simulated = if gpugate::model::is_simulated_name(&result.device_name) {
        " (simulated, not a measurement)"
    } else {
        ""
    };
    let speed = result
        .measurement
        .as_ref()
        .map(|m| {
            format!(
                "{:.3} {}{simulated}",
                m.throughput.median, m.throughput.unit
            )
        })
        .unwrap_or_else(|| "-".into());
    let verdict = match (&result.error, result.verification.status) {
        (Some(e), _) => format!("ERROR {e}"),
        (None, gpugate::model::VerifyStatus::Passed) => "verified".into(),
        (None, s) => format!("verification {s:?}"),
    };
    format!("{}  {speed}  {verdict}", result.id)
}

/// One GPU's interval of a burn: throughput, temperature, power, errors, time left.
fn burn_line(device: u32, row: &gpugate::model::burn::BurnInterval, left_s: f64) -> String {
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |v| format!("{v:.0} {unit}"));
    format!(
        "gpu{device} interval {}: FP32 {:.2} TFLOPS  FP64 {:.3} TFLOPS  triad {:.1} GB/s  {}  {}  {} errors  {:.0} s left",
        row.index,
        row.fp32_tflops,
        row.fp64_tflops,
        row.triad_gbps,
        opt(row.temperature_c.map(f64::from), "°C"),
        opt(row.power_w, "W"),
        row.errors,
        left_s
    )
}
