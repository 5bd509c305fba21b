//! Gating: machine profiles, the GPU models catalogue, and the rules that turn a run's
//! inventory and results into checks with verdicts.
//!
//! - [`profile`]: the profile schema, built-in profiles (embedded from `profiles/*.toml`),
//!   loading from a file, and `auto`.
//! - [`catalogue`]: reference numbers per GPU model (`profiles/gpus.toml`).
//! - [`evaluate()`]: the gate itself.

pub mod catalogue;
pub mod evaluate;
pub mod profile;

#[cfg(test)]
mod tests;

pub use catalogue::{catalogue, lookup_gpu, name_matches, GpuModel};
pub use evaluate::{evaluate, noise_interval, workload_matches};
pub use profile::{
    auto_profile, builtin_profiles, load_profile, parse_profile, Machine, Metric, Profile,
    ProfileError, Scope, Target,
};
