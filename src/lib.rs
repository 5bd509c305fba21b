//! # gpugate
//!
//! Decides whether a GPU machine may go live. It runs its own CUDA kernels (PTX embedded in the
//! binary, loaded through `cudarc`), checks that every result is right, compares the
//! measurements with the machine's profile and writes a verdict with reports and an exit code.
//!
//! ## Data flow
//!
//! ```text
//! probe ──► plan ──► tune ──► measure ──► verify ──► gate ──► report
//! (what is   (profile +   (GEMM      (timed       (is the      (verdict   (run.json first;
//!  here)      level →      variants,  trials,      result       per check, everything else
//!             workloads)   cached)    telemetry)   right?)      exit code) rendered from it)
//! ```
//!
//! One [`model::RunReport`] is the single source of every output. Measuring never prints;
//! reporting never measures; only [`cuda`] touches cudarc.
//!
//! ## Units
//!
//! Throughput is decimal: GB/s = 1e9 B/s, TFLOPS = 1e12 FLOP/s. Times are seconds (f64).
//! Sizes of memory in the inventory are bytes.
//!
//! ## Glossary
//!
//! - *workload*: a closed description of work ([`workload::WorkloadSpec`]) with its bytes and FLOPs.
//! - *trial*: one workload prepared on one device ([`workload::Trial`]).
//! - *measurement*: timed samples of a trial with their statistics ([`model::Measurement`]).
//! - *verification*: the correctness verdict on a trial's output ([`model::Verification`]).
//! - *profile*: what a machine must have and reach ([`gate::Profile`]); *check*: one decision.
//! - *memory test*: the cuda_memtest / DCGM memtest patterns over a share of a GPU's free memory
//!   ([`memtest::run`]); any word read back wrong fails the GPU.
//! - *peer*: something a run measures on a GPU beside gpugate's own kernels ([`peer::Peer`]):
//!   the vendor GEMM library (cuBLAS), for comparison and never gated, and the hardware encoder
//!   (NVENC through ffmpeg), gated.

pub mod clock;
pub mod cuda;
pub mod error;
pub mod files;
pub mod fleet;
pub mod gate;
pub mod host;
pub mod k8s;
pub mod kernels;
pub mod measure;
pub mod memtest;
pub mod model;
pub mod p2p;
pub mod peer;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub mod seed;
pub mod selftest;
pub mod slurm;
pub mod stop;
pub mod util;
pub mod verify;
pub mod workload;

#[cfg(test)]
mod test_support;

/// A path of the source tree for tests: relative to the working directory where it exists there
/// (test executables also run from a copy of the tree on the GPU machine, where the build path
/// does not exist), else under the directory the crate was built from.
#[cfg(test)]
pub(crate) fn repo_path(rel: &str) -> std::path::PathBuf {
    let here = std::path::Path::new(rel);
    if here.exists() {
        here.to_path_buf()
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}
