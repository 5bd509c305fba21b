//! Integration tests: the gpugate binary end to end (one test binary).

mod burn_runs;
mod cli;
mod features;
mod fixtures;
mod fleet;
mod gpu;
mod junit;
mod k8s;
mod lifecycle;
mod memtest_runs;
mod report_props;
mod sim;
mod sim_runs;
mod slurm;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The gpugate binary: `$GPUGATE_BIN`, else the one cargo built beside these tests, else (on the
/// GPU machine, where the tests run from a bundle) `../gpugate` next to this test executable.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GPUGATE_BIN") {
        return p.into();
    }
    let built = PathBuf::from(env!("CARGO_BIN_EXE_gpugate"));
    if built.exists() {
        return built;
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("gpugate"))
        .unwrap_or(built)
}

pub fn gpugate(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("gpugate runs")
}

/// The arguments of the quickest whole run there is: host backend, quick level, small sizes,
/// into `out`.
pub fn host_run_args(out: &std::path::Path) -> Vec<String> {
    [
        "run",
        "--backend",
        "host",
        "--level",
        "quick",
        "--gemm-sizes",
        "96",
        "--stream-mib",
        "1",
        "--seed",
        "5",
        "--min-time",
        "0.05",
        "--timeout",
        "0.5",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fixtures are read relative to the package root (tests run there, here and on the device).
/// Fixtures relative to the working directory (the project root, here and on the GPU machine),
/// else under the directory the tests were built from.
pub fn fixture(name: &str) -> PathBuf {
    let here = PathBuf::from("tests/fixtures");
    let dir = if here.exists() {
        here
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    };
    dir.join(name)
}

pub fn no_gpu_here() -> bool {
    gpugate::probe::gpus().devices.is_empty()
}
