//! Gating: machine profiles, the GPU models catalogue, and the rules that turn a run's
//! inventory and results into checks with verdicts.
//!
//! - [`profile`]: the profile schema, built-in profiles (embedded from `profiles/*.toml`),
//!   loading from a file, and `auto`.
//! - [`catalogue`]: reference numbers per GPU model (`profiles/gpus.toml`).
//! - [`evaluate()`]: the gate itself; [`health`]: the health rules (ECC, retirement, PCIe
//!   replays, Xid events, hardware slowdown), which a burn-in also calls on its own.

pub mod burn;
pub mod burn_drift;
pub mod catalogue;
pub mod evaluate;
pub mod health;
pub mod memtest;
pub mod p2p;
pub mod profile;

#[cfg(test)]
mod tests;

pub use catalogue::{catalogue, lookup_gpu, name_matches, GpuModel};
pub use evaluate::{
    evaluate, invalid_measurement, noise_interval, valid_value, workload_matches, TOO_SMALL_FACTOR,
};
pub use health::{critical_xid, health_checks, CRITICAL_XIDS};
pub use memtest::{DEFAULT_MEMTEST_COVERAGE, DEFAULT_MEMTEST_SOURCE};
pub use profile::{
    auto_profile, builtin_profiles, load_profile, parse_profile, peaks_for_device, Machine, Metric,
    Profile, ProfileError, Scope, Target,
};

use crate::model::{exit, Check, RunReport, Verdict};

/// The checks, verdict and exit code of a run, recomputed from its results and the profile it
/// records: what `gpugate run` decides at its end and `gpugate report` decides again, never
/// trusting the verdict or exit code stored in a run.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub checks: Vec<Check>,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// What the reader should know about how it was decided (a profile that had to be found
    /// again, a stored verdict that disagrees).
    pub notes: Vec<String>,
}

/// Why the profile a saved run was gated against cannot be had again.
#[derive(Debug, thiserror::Error)]
pub enum ProfileOfRunError {
    /// The built-in profile it names cannot be loaded (no longer built in).
    #[error(transparent)]
    Builtin(#[from] ProfileError),
    /// It was read from a file, and the run.json (older than schema 2) does not record its
    /// targets.
    #[error(
        "this run.json (schema {schema}) does not record the targets of its profile, which was \
         read from {path}"
    )]
    NotRecorded { schema: u32, path: String },
}

/// The profile a run was gated against: as recorded in it (schema 2 on); for an older
/// run.json, `auto` rebuilt from its GPUs or the built-in profile of that name. An error for an
/// older run.json gated against a file (its targets were not recorded), saying why.
pub fn profile_of(r: &RunReport) -> Result<Profile, ProfileOfRunError> {
    if let Some(p) = r.profile.recorded() {
        return Ok(p);
    }
    match r.profile.origin.as_str() {
        "auto" => Ok(auto_profile(&r.gpus)),
        "builtin" => Ok(load_profile(&r.profile.name)?.0),
        path => Err(ProfileOfRunError::NotRecorded {
            schema: r.schema_version,
            path: path.to_string(),
        }),
    }
}

/// Decides `r` against `profile` (the run's end) — see [`Decision`].
pub fn decide(profile: &Profile, r: &RunReport) -> Decision {
    let checks = evaluate(profile, r);
    let verdict = RunReport::overall(&checks);
    Decision {
        exit_code: exit::for_verdict(verdict),
        verdict,
        checks,
        notes: Vec::new(),
    }
}

/// Decides a saved run again from its results and recorded profile. A stored verdict or exit
/// code that disagrees with the recomputed one becomes a note (the recomputed one stands).
pub fn redecide(r: &RunReport) -> Decision {
    let mut d = match profile_of(r) {
        Ok(p) => {
            let mut d = decide(&p, r);
            if r.profile.recorded().is_none() {
                d.notes.push(format!(
                    "checks recomputed against the {} profile {} as this gpugate has it: the \
                     run.json (schema {}) does not record the targets it was gated against",
                    r.profile.origin, r.profile.name, r.schema_version
                ));
            }
            d
        }
        Err(why) => {
            // The stored checks are all there is; their verdicts still decide, not the stored
            // overall verdict or exit code.
            let mut checks = r.checks.clone();
            if !checks.iter().any(|c| c.id == "run.complete") {
                evaluate::completeness(r, &mut checks);
            }
            let verdict = RunReport::overall(&checks);
            // Nothing of the gate is worked out again for them (charts included).
            let no_intervals = if checks.iter().any(|c| c.noise_interval.is_some()) {
                ""
            } else {
                ". They record no noise intervals (run.json schema 3 on), so the checks and \
                 samples charts are not drawn"
            };
            Decision {
                checks,
                verdict,
                exit_code: exit::for_verdict(verdict),
                notes: vec![format!(
                    "checks as stored, not recomputed: {why}; the verdict and exit code are \
                     recomputed from them{no_intervals}"
                )],
            }
        }
    };
    // A run.json written mid-run holds a placeholder verdict; only a run that reached its
    // decision (complete or interrupted) stored one to compare.
    let decided = r.complete || r.interrupted.is_some();
    if decided && (r.verdict != d.verdict || r.exit_code != d.exit_code) {
        d.notes.push(format!(
            "the run.json records verdict {} and exit code {}, but its results and profile \
             give {} (exit {}): this report shows the recomputed verdict (the file was edited, \
             or written by a gpugate with other rules)",
            r.verdict, r.exit_code, d.verdict, d.exit_code
        ));
    }
    d
}
