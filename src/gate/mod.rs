//! Gating: machine profiles, the GPU models catalogue, and the rules that turn a run's
//! inventory and results into checks with verdicts.
//!
//! - [`profile`]: the profile schema, built-in profiles (embedded from `profiles/*.toml`),
//!   loading from a file, and `auto`.
//! - [`catalogue`]: reference numbers per GPU model (`profiles/gpus.toml`).
//! - [`evaluate()`]: the gate itself.

pub mod burn;
pub mod catalogue;
pub mod evaluate;
pub mod profile;

#[cfg(test)]
mod tests;

pub use catalogue::{catalogue, lookup_gpu, name_matches, GpuModel};
pub use evaluate::{
    evaluate, invalid_measurement, noise_interval, valid_value, workload_matches, TOO_SMALL_FACTOR,
};
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

/// The profile a run was gated against: as recorded in it (schema 2 on); for an older
/// run.json, `auto` rebuilt from its GPUs or the built-in profile of that name. None for an
/// older run.json gated against a file (its targets were not recorded), with why.
pub fn profile_of(r: &RunReport) -> Result<Profile, String> {
    if let Some(p) = r.profile.recorded() {
        return Ok(p);
    }
    match r.profile.origin.as_str() {
        "auto" => Ok(auto_profile(&r.gpus)),
        "builtin" => load_profile(&r.profile.name)
            .map(|(p, _)| p)
            .map_err(|e| e.to_string()),
        path => Err(format!(
            "this run.json (schema {}) does not record the targets of its profile, which was \
             read from {path}",
            r.schema_version
        )),
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
