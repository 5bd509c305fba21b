//! Running gpugate on gpugate-sim, the simulated GPU of the workspace (`sim/`): where its
//! launcher is, and commands under it.
//!
//! `cargo test --workspace` builds the launcher (`gpugate-sim`) and its library beside the
//! gpugate binary; `$GPUGATE_SIM` names another launcher.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `gpugate-sim` launcher: `$GPUGATE_SIM`, else the one beside the gpugate binary (cargo
/// builds both into the same target directory).
pub fn launcher() -> PathBuf {
    if let Some(p) = std::env::var_os("GPUGATE_SIM") {
        return p.into();
    }
    let bin = crate::bin();
    let dir = bin.parent().unwrap_or(Path::new("."));
    let p = dir.join("gpugate-sim");
    assert!(
        p.exists(),
        "gpugate-sim is not built at {}: run the tests with `cargo test --workspace` (it builds \
         the simulator), or set GPUGATE_SIM to the launcher",
        p.display()
    );
    p
}

/// Whether a simulator test should stand down: true only where the launcher is not built but a
/// real GPU is here — the tree copied to a GPU machine with the device bundle, which carries
/// gpugate's binaries and tests but not the simulator. There the ignored GPU tests run on the
/// real GPU (`--include-ignored`), and this says so on stderr. Without a real GPU a missing
/// simulator is a test failure (see [`launcher`]), never a silent skip.
pub fn stand_down_for_the_real_gpu(test: &str) -> bool {
    let built = std::env::var_os("GPUGATE_SIM").is_some()
        || crate::bin()
            .parent()
            .is_some_and(|d| d.join("gpugate-sim").exists());
    if built {
        return false;
    }
    let inv = gpugate::probe::gpus();
    let real = !inv.devices.is_empty() && inv.devices.iter().all(|d| !d.simulated);
    if real {
        eprintln!(
            "{test}: not run: gpugate-sim is not built here, and this machine has a real GPU, \
             on which the ignored GPU tests run themselves (--include-ignored)"
        );
    }
    real
}

/// A simulated machine: GPU models (one per GPU) and faults, as `gpugate-sim` takes them.
#[derive(Debug, Clone, Default)]
pub struct Sim {
    pub models: Vec<String>,
    pub faults: Vec<String>,
    /// The driver release the machine runs (the simulator's `--driver`: "418", "R470",
    /// "470.256.02"); None: each model's own.
    pub driver: Option<String>,
    /// JSON-lines log of every launch and copy (the simulator's `--log`).
    pub log: Option<PathBuf>,
    /// Environment of the command (e.g. which case an ignored test is run for).
    pub env: Vec<(String, String)>,
    /// Run the release binaries the README tells users to build (`cargo build --release`), not
    /// the test build's: see [`release_binaries`].
    pub release: bool,
    /// The shared-memory race detector off (`--no-racecheck`): for runs about verdicts, whose
    /// kernels the GPU suite and the selftests already run with it on.
    pub no_racecheck: bool,
}

/// The release build of `gpugate` and `gpugate-sim` (the launcher and its library), as the
/// README tells users to build them: `cargo build --release -p gpugate -p gpugate-sim`, run once
/// per test binary (cargo does nothing when they are up to date). The compiler resolves calls
/// between exported functions differently in the release profile (the simulator's withheld
/// driver entry points once broke only there), so the tests of old drivers run these.
pub fn release_binaries() -> &'static (PathBuf, PathBuf) {
    static BUILT: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let t0 = std::time::Instant::now();
        let o = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--release", "-p", "gpugate", "-p", "gpugate-sim"])
            .output()
            .unwrap_or_else(|e| panic!("{cargo:?} build --release does not start: {e}"));
        assert!(
            o.status.success(),
            "cargo build --release -p gpugate -p gpugate-sim failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!(
            "release binaries built or up to date in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        // target/debug/gpugate (or target/release/gpugate, as `.ci/test` runs the tests) →
        // target/release/…: the same target directory (CARGO_TARGET_DIR included) in the
        // release profile.
        let debug = PathBuf::from(env!("CARGO_BIN_EXE_gpugate"));
        let dir = debug
            .parent()
            .and_then(|d| d.parent())
            .expect("the test build's target directory")
            .join("release");
        let pair = (dir.join("gpugate"), dir.join("gpugate-sim"));
        for p in [&pair.0, &pair.1] {
            assert!(p.exists(), "the release build left no {}", p.display());
        }
        pair
    })
}

impl Sim {
    /// One GPU of each model, in order.
    pub fn new(models: &[&str]) -> Sim {
        Sim {
            models: models.iter().map(|m| m.to_string()).collect(),
            ..Sim::default()
        }
    }

    pub fn fault(mut self, spec: &str) -> Sim {
        self.faults.push(spec.to_string());
        self
    }

    /// Runs the machine on driver release `spec` (`gpugate-sim --driver`).
    pub fn driver(mut self, spec: &str) -> Sim {
        self.driver = Some(spec.to_string());
        self
    }

    pub fn log(mut self, path: &Path) -> Sim {
        self.log = Some(path.to_path_buf());
        self
    }

    /// Sets `key` to `value` in the command's environment.
    pub fn env(mut self, key: &str, value: &str) -> Sim {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The machine with the release binaries of gpugate and gpugate-sim in place of the test
    /// build's ([`release_binaries`]).
    pub fn release(mut self) -> Sim {
        self.release = true;
        self
    }

    /// Without the shared-memory race detector (`gpugate-sim --no-racecheck`), which takes about
    /// a sixth of a simulated run.
    pub fn no_racecheck(mut self) -> Sim {
        self.no_racecheck = true;
        self
    }

    /// The gpugate binary this machine runs: the test build's ([`crate::bin`]) or the release
    /// build's.
    pub fn gpugate_bin(&self) -> PathBuf {
        if self.release {
            release_binaries().0.clone()
        } else {
            crate::bin()
        }
    }

    /// `program args…` with the simulated driver and NVML in front.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(if self.release {
            release_binaries().1.clone()
        } else {
            launcher()
        });
        for m in &self.models {
            c.arg("--model").arg(m);
        }
        for f in &self.faults {
            c.arg("--fault").arg(f);
        }
        if let Some(d) = &self.driver {
            c.arg("--driver").arg(d);
        }
        if let Some(l) = &self.log {
            c.arg("--log").arg(l);
        }
        if self.no_racecheck {
            c.arg("--no-racecheck");
        }
        c.arg("--").arg(program).args(args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// gpugate with `args` on this simulated machine.
    pub fn gpugate(&self, args: &[&str]) -> Output {
        self.command(&self.gpugate_bin(), args)
            .output()
            .expect("gpugate-sim runs")
    }
}
