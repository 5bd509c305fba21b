//! The background run: one at a time per node, by an exclusive lock (flock) on
//! `STATE/run.lock` that the running `gpugate slurm run` holds until its command ends (the
//! kernel releases it when the process dies, however it dies). The command writes its run
//! with `--out STATE/out`, whose `latest` link moves only once the run is finished, so a run
//! in progress is never what the health check reads.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use super::SlurmError;

/// The lock file in the state directory.
pub const LOCK_FILE: &str = "run.lock";
/// The background run's output (the last run's only).
pub const LOG_FILE: &str = "run.log";
/// The run directory (`--out`) of the background runs.
pub const OUT_DIR: &str = "out";

/// The lock, held while it lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock when no run holds it; `None` when one does.
    pub fn try_take(state_dir: &Path) -> Result<Option<RunLock>, SlurmError> {
        let path = state_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| state_err(state_dir, err))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(err)) => Err(state_err(state_dir, err)),
        }
    }
}

pub(super) fn state_err(dir: &Path, err: std::io::Error) -> SlurmError {
    SlurmError::StateDir {
        path: dir.to_path_buf(),
        err,
    }
}

/// Starts `gpugate slurm run --state-dir STATE -- COMMAND…` (the program `gpugate`) detached:
/// its own process group, no stdin, its output to `STATE/run.log`, never waited for. Returns
/// its process id, or `None` when a run is in progress already (nothing started).
pub fn start_background(
    gpugate: &Path,
    state_dir: &Path,
    command: &[String],
) -> Result<Option<u32>, SlurmError> {
    if command.is_empty() {
        return Err(SlurmError::NoCommand);
    }
    match RunLock::try_take(state_dir)? {
        None => return Ok(None),
        // Released at once: the run takes it itself (a second starter loses that race
        // and its run exits without running).
        Some(lock) => drop(lock),
    }
    let log = File::create(state_dir.join(LOG_FILE)).map_err(|err| state_err(state_dir, err))?;
    let log2 = log.try_clone().map_err(|err| state_err(state_dir, err))?;
    let child = Command::new(gpugate)
        .args(["slurm", "run", "--state-dir"])
        .arg(state_dir)
        .arg("--")
        .args(command)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn()
        .map_err(|err| SlurmError::Spawn {
            program: gpugate.display().to_string(),
            err,
        })?;
    Ok(Some(child.id()))
}

/// `gpugate slurm run`: takes the lock and runs `COMMAND… --out STATE/out`, waiting for it.
/// `None` when another run holds the lock (nothing run).
pub fn run_locked(state_dir: &Path, command: &[String]) -> Result<Option<ExitStatus>, SlurmError> {
    let (program, args) = command.split_first().ok_or(SlurmError::NoCommand)?;
    std::fs::create_dir_all(state_dir).map_err(|err| state_err(state_dir, err))?;
    let Some(_lock) = RunLock::try_take(state_dir)? else {
        return Ok(None);
    };
    let out: PathBuf = state_dir.join(OUT_DIR);
    let status = Command::new(program)
        .args(args)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .status()
        .map_err(|err| SlurmError::Spawn {
            program: program.clone(),
            err,
        })?;
    Ok(Some(status))
}
