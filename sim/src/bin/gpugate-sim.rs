//! `gpugate-sim`: runs a command with the simulated CUDA driver and NVML in front.
//!
//! It checks every argument first (exit 2 with what was wrong), finds the simulator's shared
//! library, makes a directory of symlinks to it named as the real libraries (`libcuda.so`,
//! `libcuda.so.1`, `libnvidia-ml.so.1`, `libnvidia-ml.so`, `libcublas.so`,
//! `libcublas.so.MAJOR`, `libnvidia-encode.so.1`, `libnvidia-encode.so`), puts that directory
//! first on `LD_LIBRARY_PATH`, makes a state directory for the machine (shared by the command's
//! processes: the NVENC engines), describes the machine in the environment (see
//! `gpugate_sim::config`) and replaces itself with the command, so exit codes and signals pass
//! through.

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use gpugate_sim::config::{self, Config};
use gpugate_sim::model;

const USAGE: &str = "\
Usage: gpugate-sim [--model NAME|FILE]... [--fault SPEC]... [--driver VERSION] [--log FILE]
                   [--threads N] [--no-racecheck] -- COMMAND [ARGS...]
       gpugate-sim models [NAME]
       gpugate-sim --help

Runs COMMAND with a simulated NVIDIA driver (libcuda.so.1), NVML (libnvidia-ml.so.1) and
cuBLAS (libcublas.so.MAJOR) and the video encoder (libnvidia-encode.so.1, the NVENC API
ffmpeg's h264_nvenc uses) in front: the GPUs execute the PTX they are given, cuBLAS its GEMMs,
and the encoder H.264 (lossless, timed by the model's NVENC engines), on this machine's CPU.
Nothing they report is a GPU measurement, and every device is named \"… (gpugate-sim)\".

Options:
  --model NAME|FILE   one GPU of a built-in model (m40, a100, h100, h200) or of a model TOML
                      file; repeat for more GPUs (two `--model m40` make a two-GPU machine).
                      Default: one m40. `gpugate-sim models` lists them; `gpugate-sim models
                      m40` prints one to copy and edit.
  --fault SPEC        a fault (grammar below); repeatable
  --driver VERSION    the driver the machine runs, in place of the first model's: a branch
                      (418, R450, 470) or a version (470.256.02). It sets the CUDA version
                      the driver reports, the PTX ISA its JIT accepts (R418 6.4, R450 7.0,
                      R470 7.4, R525 8.0, …) and its entry points: those that driver did not
                      have yet are not in the library handed to COMMAND (dlsym finds
                      nothing), and newer device attributes are CUDA_ERROR_INVALID_VALUE
  --log FILE          write a JSON-lines record of every launch, copy, memset and module load
                      (kernel, grid, block, executed counts, simulated seconds, errors)
  --threads N         host threads that run the blocks of one launch (default: all cores)
  --no-racecheck      turn the shared-memory race detector off
  -h, --help          this text

Exit status: COMMAND's own (it replaces this process); 2 for bad arguments; 126/127 when
COMMAND cannot be run.
";

const ENV_HELP: &str = "\
Environment set for COMMAND: LD_LIBRARY_PATH (the simulator's directory first),
GPUGATE_SIM_MODELS, GPUGATE_SIM_FAULTS, GPUGATE_SIM_STATE_DIR (the machine's shared state: its
NVENC engines and sessions, across COMMAND's processes), and GPUGATE_SIM_DRIVER /
GPUGATE_SIM_LOG / GPUGATE_SIM_THREADS / GPUGATE_SIM_RACECHECK when given. GPUGATE_SIM_LIB names
the simulator's shared library when it is not beside this program (or in deps/ beside it).

Examples:
  gpugate-sim -- gpugate run --backend cuda --allow-simulated
  gpugate-sim --model m40 --model m40 --fault gpu=1:slow=0.5 -- gpugate run --allow-simulated
  gpugate-sim --model h100 --fault throttle --log sim.jsonl -- cargo test
";

/// What the command line asked for.
#[derive(Debug, Default)]
struct Args {
    models: Vec<String>,
    faults: Vec<String>,
    driver: Option<String>,
    log: Option<PathBuf>,
    threads: Option<usize>,
    no_racecheck: bool,
    command: Vec<OsString>,
}

enum Action {
    Run(Args),
    Models(Option<String>),
    Help,
}

/// A usage error: the message, and whether to show the fault grammar with it.
struct Bad(String, bool);

fn utf8(what: &str, v: OsString) -> Result<String, Bad> {
    v.into_string()
        .map_err(|v| Bad(format!("{what} {v:?} is not valid UTF-8"), false))
}

fn parse(argv: Vec<OsString>) -> Result<Action, Bad> {
    let mut it = argv.into_iter().peekable();
    let mut a = Args::default();
    match it.peek().and_then(|s| s.to_str()) {
        None => {
            return Err(Bad(
                "missing `-- COMMAND`: say which command to run with the simulated GPUs".into(),
                false,
            ))
        }
        Some("models") => {
            it.next();
            let name = it.next().map(|n| utf8("model name", n)).transpose()?;
            if let Some(extra) = it.next() {
                return Err(Bad(
                    format!("unexpected argument {extra:?} after `models`"),
                    false,
                ));
            }
            return Ok(Action::Models(name));
        }
        _ => {}
    }
    while let Some(arg) = it.next() {
        let Some(s) = arg.to_str() else {
            // A command may have any bytes in its name.
            a.command.push(arg);
            a.command.extend(it);
            break;
        };
        let (flag, inline) = match s.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(OsString::from(v))),
            _ => (s.to_string(), None),
        };
        let mut value = |name: &str| -> Result<OsString, Bad> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| Bad(format!("{name} needs a value"), name == "--fault"))
        };
        match flag.as_str() {
            "--" => {
                a.command.extend(it);
                break;
            }
            "-h" | "--help" => return Ok(Action::Help),
            "--model" => {
                let v = utf8("--model", value("--model")?)?;
                a.models.push(v);
            }
            "--fault" => {
                let v = utf8("--fault", value("--fault")?)?;
                a.faults.push(v);
            }
            "--driver" => {
                let v = utf8("--driver", value("--driver")?)?;
                gpugate_sim::driver_releases::parse(&v)
                    .map_err(|e| Bad(format!("--driver: {e}"), false))?;
                a.driver = Some(v);
            }
            "--log" => a.log = Some(PathBuf::from(value("--log")?)),
            "--threads" => {
                let v = utf8("--threads", value("--threads")?)?;
                a.threads = Some(
                    config::parse_threads(&v).map_err(|e| Bad(format!("--threads {e}"), false))?,
                );
            }
            "--no-racecheck" => {
                if inline.is_some() {
                    return Err(Bad("--no-racecheck takes no value".into(), false));
                }
                a.no_racecheck = true;
            }
            f if f.starts_with('-') => {
                return Err(Bad(format!("unknown option '{f}'"), false));
            }
            _ => {
                // The command, without `--`.
                a.command.push(arg);
                a.command.extend(it);
                break;
            }
        }
    }
    if a.command.is_empty() {
        return Err(Bad(
            "missing `-- COMMAND`: say which command to run with the simulated GPUs".into(),
            false,
        ));
    }
    Ok(Action::Run(a))
}

/// Model arguments as the libraries receive them: built-in names as is, files as absolute
/// paths (the command may change directory).
fn model_env(models: &[String]) -> Result<Vec<String>, Bad> {
    models
        .iter()
        .map(|m| {
            let m = m.trim();
            if model::builtin_text(m).is_some() {
                return Ok(m.to_ascii_lowercase());
            }
            let p = std::fs::canonicalize(m)
                .map_err(|e| Bad(format!("cannot read model file {m}: {e}"), false))?;
            let s = p
                .to_str()
                .ok_or_else(|| Bad(format!("model path {p:?} is not valid UTF-8"), false))?
                .to_string();
            if s.contains(',') {
                return Err(Bad(
                    format!("model path {s} contains ',', which separates models; rename it"),
                    false,
                ));
            }
            Ok(s)
        })
        .collect()
}

/// The simulator's shared library: $GPUGATE_SIM_LIB, else the newer of the one beside this
/// program and the one in `deps/` beside it (`cargo build` leaves one beside the launcher and
/// `cargo test` updates only the one in `deps/`: the older may be stale).
fn find_library() -> Result<PathBuf, Bad> {
    const NAME: &str = "libgpugate_sim.so";
    if let Some(p) = std::env::var_os("GPUGATE_SIM_LIB").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return std::fs::canonicalize(&p).map_err(|e| {
            Bad(
                format!("GPUGATE_SIM_LIB={} cannot be used: {e}", p.display()),
                false,
            )
        });
    }
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| Bad(format!("cannot find this program's own path: {e}"), false))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    // Both may exist: `cargo build` leaves the library beside the launcher, `cargo test`
    // rebuilds it in deps/ only. The newer one is the one built from the current sources.
    let cands = [dir.join(NAME), dir.join("deps").join(NAME)];
    let newest = cands
        .iter()
        .filter_map(|c| Some((std::fs::metadata(c).ok()?.modified().ok()?, c)))
        .filter(|(_, c)| c.is_file())
        .max_by_key(|(t, _)| *t);
    if let Some((_, cand)) = newest {
        return std::fs::canonicalize(cand)
            .map_err(|e| Bad(format!("{}: {e}", cand.display()), false));
    }
    let tried: Vec<String> = cands.iter().map(|c| c.display().to_string()).collect();
    Err(Bad(
        format!(
            "cannot find the simulator library {NAME} (looked at {}); build it with `cargo \
             build -p gpugate-sim` or set GPUGATE_SIM_LIB to its path",
            tried.join(", ")
        ),
        false,
    ))
}

/// The library names the directory offers: the driver's and the encoder's (one file, so ld.so
/// maps it once and both share one machine), NVML's (unless `no-nvml`) and cuBLAS's for its
/// major version `cublas` (unless `cublas-missing`: None).
fn library_names(nvml: bool, cublas: Option<u32>) -> Vec<String> {
    let mut v: Vec<String> = [
        "libcuda.so",
        "libcuda.so.1",
        "libnvidia-encode.so.1",
        "libnvidia-encode.so",
    ]
    .map(String::from)
    .to_vec();
    if nvml {
        v.extend([
            "libnvidia-ml.so.1".to_string(),
            "libnvidia-ml.so".to_string(),
        ]);
    }
    if let Some(major) = cublas {
        v.extend(["libcublas.so".to_string(), format!("libcublas.so.{major}")]);
    }
    v
}

/// Makes (or reuses) the directory the command's library path starts with, keyed by the
/// library's path and build and the machine's driver: symlinks named as the real libraries, to
/// `lib` — or, where the machine's driver is older than some of the simulator's entry points, to
/// a copy of `lib` in which those are hidden (made once per directory, never replaced).
fn library_dir(lib: &Path, nvml: bool, cfg: &Config) -> Result<PathBuf, Bad> {
    let cublas = (!cfg.cublas_missing).then(|| cfg.cublas_version().0);
    let fail = |what: String| Bad(what, false);
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    // Keyed by the library's path and by this build of it (size, modification time, inode), so
    // that a directory's names never change target: a process loads libcuda.so.1 at start and
    // libcublas.so.12 or libnvidia-encode.so.1 later, by name, and both must be the same loaded
    // object. (Rewriting the copy at every launch, as the launcher once did, let a concurrent
    // launch swap the file in between: the process then ran two simulators that did not share
    // contexts, memory or streams.) A rebuilt library gets a directory of its own.
    let built =
        std::fs::metadata(lib).map_err(|e| fail(format!("cannot read {}: {e}", lib.display())))?;
    let stamp = format!(
        "{}:{}:{}:{}",
        built.len(),
        built.mtime(),
        built.mtime_nsec(),
        built.ino()
    );
    let key = gpugate_sim::fnv1a64(
        lib.as_os_str()
            .as_encoded_bytes()
            .iter()
            .chain(stamp.as_bytes())
            .copied(),
    );
    let hidden = cfg.missing_entry_points();
    let driver = if hidden.is_empty() {
        String::new()
    } else {
        format!("-cuda{}", cfg.driver_cuda_version())
    };
    let dir = base.join(format!(
        "gpugate-sim-{uid}-{key:016x}{driver}{}{}",
        if nvml { "" } else { "-no-nvml" },
        match cublas {
            Some(major) => format!("-cublas{major}"),
            None => "-no-cublas".to_string(),
        }
    ));
    match std::fs::create_dir(&dir) {
        Ok(()) => {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(format!("cannot set up {}: {e}", dir.display())))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(format!("cannot create {}: {e}", dir.display()))),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| fail(format!("cannot use {}: {e}", dir.display())))?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(fail(format!(
            "{} exists but is not a directory owned by you; remove it",
            dir.display()
        )));
    }
    // What the names point at: the library, or its copy for this driver.
    let target = if hidden.is_empty() {
        lib.to_path_buf()
    } else {
        let bytes =
            std::fs::read(lib).map_err(|e| fail(format!("cannot read {}: {e}", lib.display())))?;
        let patched = gpugate_sim::elf::hide_symbols(&bytes, &hidden).map_err(|e| {
            fail(format!(
                "cannot make a CUDA {} driver from {}: {e}",
                gpugate_sim::driver_releases::cuda_string(cfg.driver_cuda_version()),
                lib.display()
            ))
        })?;
        let copy = dir.join("libgpugate_sim.so");
        // Written once per directory and never replaced (see the key above): a running process
        // may still load a second name that points at it.
        // Concurrent launches race to create it: a hard link is made only where the name is
        // free, so the first one's file stays and the others drop theirs.
        if !copy.is_file() {
            let tmp = dir.join(format!(".libgpugate_sim.so.{}", std::process::id()));
            std::fs::write(&tmp, patched)
                .and_then(|()| match std::fs::hard_link(&tmp, &copy) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                    _ => Ok(()),
                })
                .map_err(|e| fail(format!("cannot write {}: {e}", copy.display())))?;
            let _ = std::fs::remove_file(&tmp);
        }
        copy
    };
    for name in library_names(nvml, cublas) {
        let link = dir.join(&name);
        if std::fs::read_link(&link).is_ok_and(|t| t == target) {
            continue;
        }
        // Atomically: a new link under a temporary name, renamed over the old one.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)
            .and_then(|()| std::fs::rename(&tmp, &link))
            .map_err(|e| fail(format!("cannot make {}: {e}", link.display())))?;
    }
    if !nvml {
        for name in ["libnvidia-ml.so.1", "libnvidia-ml.so"] {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    if cublas.is_none() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("libcublas") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(dir)
}

/// Whether process `pid` exists.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The state directory of the machine this launch makes: `machine-<pid>` in `dir`, named by
/// this process's id, which COMMAND keeps (exec). The directories of machines whose process is
/// gone are removed first.
fn machine_dir(dir: &Path) -> Result<PathBuf, Bad> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("machine-"))
                .and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| !alive(p)) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let m = dir.join(format!("machine-{}", std::process::id()));
    // One left by an earlier process with this id.
    let _ = std::fs::remove_dir_all(&m);
    std::fs::create_dir(&m)
        .map_err(|e| Bad(format!("cannot create {}: {e}", m.display()), false))?;
    Ok(m)
}

fn list_models(name: Option<String>) -> ExitCode {
    if let Some(n) = name {
        return match model::builtin_text(&n) {
            Some(t) => {
                print!("{t}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "gpugate-sim: unknown model '{n}' (built-in: {})",
                    model::builtin_names().join(", ")
                );
                ExitCode::from(2)
            }
        };
    }
    println!(
        "{:<6} {:<38} {:<6} {:>4} {:>9}  {:<9} {:<8} DRIVER",
        "MODEL", "DEVICE NAME", "SM", "SMs", "MEMORY", "FP32", "MEM BW"
    );
    for n in model::builtin_names() {
        match model::load(n) {
            Ok(m) => println!(
                "{:<6} {:<38} sm_{:<3} {:>4} {:>6.1} GB  {:>5.1} TF  {:>5.0} GB/s  CUDA {}.{} ({}), PCIe {}.0 x{}, cuBLAS {}",
                m.key,
                m.name,
                m.sm(),
                m.compute.sm_count,
                m.memory.total_bytes as f64 / 1e9,
                m.time.fp32_tflops,
                m.time.memory_gbps,
                m.driver.cuda_version / 1000,
                (m.driver.cuda_version % 1000) / 10,
                m.driver.version,
                m.pci.gen,
                m.pci.width,
                m.cublas.version
            ),
            Err(e) => println!("{n:<6} (broken: {e})"),
        }
    }
    ExitCode::SUCCESS
}

fn run(a: Args) -> Result<std::convert::Infallible, (Bad, Option<i32>)> {
    let bad = |b: Bad| (b, None);
    // Everything is checked before anything is set up.
    let mut cfg = Config::build(&a.models, &a.faults).map_err(|e| {
        let grammar = matches!(e, config::ConfigError::Fault { .. });
        bad(Bad(e.to_string(), grammar))
    })?;
    if let Some(d) = &a.driver {
        cfg.driver = Some(
            gpugate_sim::driver_releases::parse(d).map_err(|e| bad(Bad(e.to_string(), false)))?,
        );
    }
    for f in &a.faults {
        if f.contains(';') {
            return Err(bad(Bad(
                format!("bad fault '{f}': ';' separates faults in the environment"),
                true,
            )));
        }
    }
    let models = model_env(&a.models).map_err(bad)?;
    let log = match &a.log {
        Some(p) => {
            std::fs::File::create(p).map_err(|e| {
                bad(Bad(
                    format!("cannot write the log file {}: {e}", p.display()),
                    false,
                ))
            })?;
            Some(
                std::fs::canonicalize(p)
                    .map_err(|e| bad(Bad(format!("cannot resolve {}: {e}", p.display()), false)))?,
            )
        }
        None => None,
    };
    let lib = find_library().map_err(bad)?;
    let dir = library_dir(&lib, !cfg.no_nvml, &cfg).map_err(bad)?;
    let state = machine_dir(&dir).map_err(bad)?;

    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    let mut path = dir.clone().into_os_string();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|o| !o.is_empty()) {
        path.push(":");
        path.push(old);
    }
    cmd.env("LD_LIBRARY_PATH", path);
    cmd.env(config::ENV_MODELS, models.join(","));
    cmd.env(config::ENV_FAULTS, a.faults.join(";"));
    cmd.env(config::ENV_STATE_DIR, &state);
    match &a.driver {
        Some(d) => cmd.env(config::ENV_DRIVER, d),
        None => cmd.env_remove(config::ENV_DRIVER),
    };
    if let Some(l) = &log {
        cmd.env(config::ENV_LOG, l);
    }
    if let Some(t) = a.threads {
        cmd.env(config::ENV_THREADS, t.to_string());
    }
    if a.no_racecheck {
        cmd.env(config::ENV_RACECHECK, "0");
    }
    let err = cmd.exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    Err((
        Bad(
            format!("cannot run {:?}: {err}", a.command[0].to_string_lossy()),
            false,
        ),
        Some(code),
    ))
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let action = match parse(argv) {
        Ok(a) => a,
        Err(Bad(msg, grammar)) => {
            eprintln!("gpugate-sim: {msg}\n");
            eprint!("{USAGE}");
            if grammar {
                eprintln!("\n{}", config::FAULT_GRAMMAR);
            }
            return ExitCode::from(2);
        }
    };
    match action {
        Action::Help => {
            print!("{USAGE}\n{}\n\n{ENV_HELP}", config::FAULT_GRAMMAR);
            ExitCode::SUCCESS
        }
        Action::Models(name) => list_models(name),
        Action::Run(a) => match run(a) {
            Ok(never) => match never {},
            Err((Bad(msg, grammar), code)) => {
                eprintln!("gpugate-sim: {msg}");
                if grammar {
                    eprintln!("\n{}", config::FAULT_GRAMMAR);
                }
                ExitCode::from(code.unwrap_or(2) as u8)
            }
        },
    }
}
