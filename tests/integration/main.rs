//! Integration tests: the gpugate binary end to end (one test binary).

mod cli;
mod fixtures;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn gpugate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpugate"))
        .args(args)
        .output()
        .expect("gpugate runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fixtures are read relative to the package root (tests run there, here and on the device).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn no_gpu_here() -> bool {
    gpugate::probe::gpus().devices.is_empty()
}
