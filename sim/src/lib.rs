//! # gpugate-sim
//!
//! A simulated NVIDIA GPU for machines without one: a CUDA driver (`libcuda.so.1`), NVML
//! (`libnvidia-ml.so.1`), cuBLAS (`libcublas.so.12`) and the encoder library
//! (`libnvidia-encode.so.1`) that run on the CPU, execute the PTX that gpugate ships (and its
//! cuBLAS peer's GEMMs) and encode H.264 for ffmpeg, so that every line of gpugate's GPU path,
//! the hardware-encode check included, runs in `cargo test`. It is a test tool: nothing it
//! reports is a GPU measurement, and every device it shows is named "… (gpugate-sim)".
//!
//! Layers (each only uses the ones above it):
//!
//! - `ir`: the contract between the front end and the engine: the compiled instructions and
//!   kernel (`ptx::Kernel` is `ir::Kernel`), and the generic-address windows. `ptx` and `exec`
//!   both build on it, and neither uses the other.
//! - [`ptx`]: the front end. PTX text → a checked, compiled module (entries, parameters, shared
//!   and local memory, module-scope variables), or CUDA_ERROR_INVALID_PTX naming what it does not
//!   know.
//! - [`exec`]: the execution engine. One kernel launch over a memory map: warps of 32 lanes in
//!   lockstep, blocks in parallel on the host's cores, bounds/alignment checks, the shared-memory
//!   race detector, and the counts (instructions, FLOPs, global bytes) the time model uses.
//! - `driver_releases`: the NVIDIA driver releases the simulated driver can be (`--driver`):
//!   the CUDA version, PTX ISA, entry points and attributes of each.
//! - `model`, `config`: device models (TOML) and faults, from the launcher's environment.
//! - `driver`: the CUDA driver API (`cu*` symbols, C ABI) over `ptx` and `exec`, with the time
//!   model behind events.
//! - `power`: the load-following power and heat of each GPU (what NVML reports of them),
//!   driven by the driver's operations.
//! - `nvml`: the NVML API (`nvml*` symbols).
//! - [`cublas`]: the cuBLAS entry points gpugate's cuBLAS peer calls (`cublas*` symbols), in the
//!   same library, over the driver's contexts, streams and memory.
//! - [`nvenc`]: NVIDIA's encoder library (`libnvidia-encode.so.1`, the NVENC API that ffmpeg's
//!   `h264_nvenc` drives), with a lossless H.264 encoder timed by the model's engines.
//! - the `gpugate-sim` binary: runs a command with the simulated libraries in front.

pub mod config;
pub mod cublas;
pub mod driver;
pub mod driver_releases;
pub mod elf;
pub mod exec;
pub mod health;
pub(crate) mod ir;
pub mod model;
pub mod nvenc;
pub mod nvml;
pub mod nvml_health;
pub mod power;
pub mod ptx;

/// FNV-1a, 64 bits (stable UUIDs per model, stable directory names per library path).
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
