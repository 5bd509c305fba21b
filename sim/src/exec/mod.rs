//! The execution engine: one kernel launch over a memory map.
//!
//! INTERFACE CONTRACT (the driver layer codes against exactly this; the implementation behind it
//! may change freely).
//!
//! How a launch runs:
//! - CTAs are handed out in order to `ExecOptions::workers` host threads. A CTA's warps run on
//!   one thread, each warp's 32 lanes in lockstep: every instruction is decoded once per warp and
//!   applied to the lanes of its register rows (`interp`, over the state in `warp`). Warps take turns in slices of a few
//!   dozen instructions until they finish or wait at a barrier (`block`).
//! - Divergence: lanes split into groups with their own PC; the lowest-PC group runs, groups
//!   merge where their PCs meet, and warp collectives wait until every group that can still run
//!   has arrived.
//! - Memory: global through the driver's regions (bounds per allocation, read-only `.const`),
//!   shared per CTA (zeroed at the start of each CTA, for determinism), local per thread,
//!   parameters read-only; generic addresses through the windows below. Every access is checked
//!   for bounds and natural alignment (a vector for its whole size).
//! - cp.async reads its source at issue and lands at the covering `wait_group`; until then the
//!   destination reads as `0xFF` bytes (a NaN as float, -1 as integer).
//! - A shuffle lane whose source lane does not execute the shuffle reads `0xFFFFFFFF` (undefined
//!   on a GPU).
//! - Results, counts and faults are deterministic: they do not depend on the worker count
//!   (`%clock` counts the CTA's own warp instructions).
//!
//! Counting ([`LaunchStats`]): `warp_instructions` counts every instruction a warp issues
//! (predicated-off included); `thread_instructions` adds the lanes of the issuing group;
//! FLOPs count the lanes whose guard predicate is true; global bytes are counted per executing
//! lane as accessed.

mod alu;
mod block;
mod collective;
mod interp;
mod lanes;
mod launch;
mod mem;
mod memops;
mod race;
mod tensor;
mod warp;

pub use launch::launch;

/// Generic addresses of shared memory: `cvta.shared` maps shared offset `o` to
/// `SHARED_WINDOW_BASE + o` (4 GiB window). Device allocations must not overlap the windows
/// (a launch over a memory map that does fails with [`LaunchErrorKind::InvalidConfig`]).
pub const SHARED_WINDOW_BASE: u64 = crate::ir::SHARED_WINDOW;
/// Generic addresses of local memory (`cvta.local`), a 4 GiB window.
pub const LOCAL_WINDOW_BASE: u64 = crate::ir::LOCAL_WINDOW;
/// Generic addresses of kernel parameters (`cvta.param`), a 4 GiB window.
pub const PARAM_WINDOW_BASE: u64 = crate::ir::PARAM_WINDOW;

/// One piece of memory a kernel may touch through the global (or generic) state space:
/// `len` bytes at device address `base`, stored at host address `ptr`.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub base: u64,
    pub len: u64,
    pub ptr: *mut u8,
    /// Read-only to kernels (module `.const` variables).
    pub read_only: bool,
}

/// Every region a launch may touch, sorted by `base`, not overlapping. The driver keeps the
/// memory alive and untouched by the host for the duration of [`launch`].
#[derive(Debug, Clone, Default)]
pub struct MemoryMap {
    pub regions: Vec<Region>,
}

// SAFETY: the regions point at memory the driver owns for the duration of a launch; kernels on
// several host threads write it through raw pointers only (as threads of a GPU would).
unsafe impl Send for MemoryMap {}
unsafe impl Sync for MemoryMap {}

/// Grid and block shape and dynamic shared memory of one launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub dynamic_shared_bytes: u32,
}

/// The device limits a launch is checked against (from the device model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    pub sm: u32,
    pub max_threads_per_block: u32,
    pub max_block_dim: [u32; 3],
    pub max_grid_dim: [u32; 3],
    /// Static + dynamic shared memory one block may use without opting in (48 KiB).
    pub max_shared_per_block: u32,
    /// What a block may use after cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES).
    pub max_shared_per_block_optin: u32,
}

/// Switches for one launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Host threads that run blocks in parallel (1 = on the calling thread).
    pub workers: usize,
    /// The shared-memory race detector.
    pub racecheck: bool,
    /// Flip one bit of one stored result (the `sdc` fault): `Some(None)` = the default bit (the
    /// most significant mantissa bit of a float, the top bit of an integer), `Some(Some(b))` =
    /// bit `b` of the stored element. Which store: the first `st.global` (or the first element of
    /// a vector store) that block (0,0,0) executes, in its lowest active lane.
    pub sdc: Option<Option<u32>>,
    /// Dynamic shared memory the launch may use, as raised by cuFuncSetAttribute
    /// (MAX_DYNAMIC_SHARED_SIZE_BYTES); 0 = not raised.
    pub max_dynamic_shared_bytes: u32,
    /// A bit of global memory that reads constant (the `stuck-bit` fault): forced to its value
    /// after every store and atomic of the launch, so no load ever sees another value.
    pub stuck: Option<StuckCell>,
}

/// One stuck bit of device memory: bit `bit` (0..7) of the byte at device address `address`
/// always holds `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckCell {
    pub address: u64,
    pub bit: u32,
    pub value: bool,
}

impl StuckCell {
    /// Forces the bit in the byte at host address `p`.
    ///
    /// # Safety
    /// `p` must be valid for one byte, for writes, for the duration of the call.
    pub unsafe fn force(&self, p: *mut u8) {
        // SAFETY: the caller's promise; an atomic so that concurrent GPU-style writers of the
        // same byte (other worker threads) never tear it.
        let b = unsafe { std::sync::atomic::AtomicU8::from_ptr(p) };
        let m = 1u8 << self.bit;
        if self.value {
            b.fetch_or(m, std::sync::atomic::Ordering::Relaxed);
        } else {
            b.fetch_and(!m, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What one launch executed: the time model's inputs and the byte counter of the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchStats {
    pub blocks: u64,
    pub threads: u64,
    /// Warp instructions issued (decoded once per warp).
    pub warp_instructions: u64,
    /// Instructions times active lanes.
    pub thread_instructions: u64,
    /// FP32 FLOPs on the CUDA cores: fma/mad = 2, add/sub/mul = 1, per active lane.
    pub flops_f32: u64,
    /// FP64 FLOPs on the CUDA cores, counted the same way.
    pub flops_f64: u64,
    /// FP16/BF16 FLOPs on the CUDA cores (packed f16x2 counts both halves).
    pub flops_f16: u64,
    /// Integer ALU operations per active lane (32-bit add, multiply, multiply-add, min/max,
    /// abs, logic, shift, bit-field, compare, select; the 64-bit forms count 2): the integer
    /// unit of the time model.
    pub int_ops: u64,
    /// Tensor-core FLOPs: mma/wmma with f64 inputs (2·m·n·k per warp instruction).
    pub tensor_flops_f64: u64,
    /// Tensor-core FLOPs with f16/bf16/tf32 inputs.
    pub tensor_flops_f16: u64,
    /// Bytes read from global memory (ld.global, ld through generic pointers into global,
    /// cp.async sources, atomics), per active lane, as accessed (not rounded to sectors).
    pub global_bytes_read: u64,
    pub global_bytes_written: u64,
}

/// Why a launch failed; `kind` picks the CUDA error code, `log` says what happened (kernel,
/// PTX line, block and thread, address), for stderr and the simulator's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError {
    pub kind: LaunchErrorKind,
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchErrorKind {
    /// Bad grid/block/shared configuration, rejected before anything ran:
    /// CUDA_ERROR_INVALID_VALUE.
    InvalidConfig,
    /// More threads than `.maxntid`/the device allows, or more shared memory than the device
    /// gives a block: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES (or INVALID_VALUE where the driver
    /// says so; see the driver layer).
    OutOfResources,
    /// CUDA_ERROR_ILLEGAL_ADDRESS (sticky).
    IllegalAddress,
    /// CUDA_ERROR_MISALIGNED_ADDRESS (sticky).
    MisalignedAddress,
    /// A misused warp or block collective (a `.sync.aligned` instruction reached by part of a
    /// warp, warps waiting at different barriers, a deadlock), or a shared-memory race:
    /// CUDA_ERROR_LAUNCH_FAILED (sticky).
    LaunchFailed,
    /// An instruction with a form the engine refuses at run time (`trap`, a bad operand value):
    /// CUDA_ERROR_ILLEGAL_INSTRUCTION (sticky).
    IllegalInstruction,
}
