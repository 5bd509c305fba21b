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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::ir::Kernel;

mod alu;
mod block;
mod collective;
mod interp;
mod lanes;
mod mem;
mod memops;
mod race;
mod tensor;
mod warp;

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

/// Runs one launch of `kernel` to completion. `params` holds each parameter's bytes, in
/// declaration order, each exactly `kernel.params()[i].size` long.
///
/// Configuration errors, checked before anything runs:
/// - wrong parameter count or sizes, a zero or too large block or grid dimension, more threads
///   than the device allows per block, a block other than `.reqntid`, shared memory (static +
///   dynamic) above `max_shared_per_block` (or, once raised by the driver,
///   `max_dynamic_shared_bytes` dynamic and `max_shared_per_block_optin` in all), device memory
///   inside the generic windows: [`LaunchErrorKind::InvalidConfig`] (CUDA_ERROR_INVALID_VALUE);
/// - more threads than `.maxntid`, or threads × registers above the 64 K-register file:
///   [`LaunchErrorKind::OutOfResources`] (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES).
///
/// Blocks run on `opts.workers` host threads; when several blocks fault, the error of the
/// lowest-numbered one is returned (deterministic), and blocks after it may not run.
pub fn launch(
    kernel: &Kernel,
    cfg: &LaunchConfig,
    params: &[&[u8]],
    mem: &MemoryMap,
    limits: &DeviceLimits,
    opts: &ExecOptions,
) -> Result<LaunchStats, LaunchError> {
    let shared_len = check_config(kernel, cfg, params, mem, limits, opts)?;
    let mut pbuf = vec![0u8; kernel.param_bytes];
    for (i, p) in params.iter().enumerate() {
        let o = kernel.param_offsets[i];
        pbuf[o..o + p.len()].copy_from_slice(p);
    }
    let nblocks = cfg.grid.iter().map(|&g| g as u64).product::<u64>();
    let threads = cfg.block.iter().product::<u32>();
    let workers = (opts.workers.max(1) as u64).min(nblocks).max(1) as usize;
    let next = AtomicU64::new(0);
    let first_fail = AtomicU64::new(u64::MAX);
    let failure: Mutex<Option<(u64, LaunchError)>> = Mutex::new(None);
    let totals: Mutex<LaunchStats> = Mutex::new(LaunchStats::default());
    let hw_fma = lanes::host_has_fma();

    let work = || {
        let mut ctx = warp::Ctx {
            kernel,
            prog: &kernel.prog,
            global: mem::GlobalMem::new(&mem.regions),
            params: &pbuf,
            shared: vec![0u8; shared_len],
            local_bytes: kernel.prog.local_bytes as usize,
            race: opts.racecheck.then(race::Race::default),
            sdc: None,
            stats: LaunchStats::default(),
            hw_fma,
            clock: 0,
            block: [0; 3],
            ntid: cfg.block,
            nctaid: cfg.grid,
            dyn_smem: cfg.dynamic_shared_bytes,
            bars: Vec::new(),
        };
        let mut warps = Vec::new();
        loop {
            let b = next.fetch_add(1, Ordering::Relaxed);
            if b >= nblocks || b > first_fail.load(Ordering::Relaxed) {
                break;
            }
            let gx = cfg.grid[0] as u64;
            let gy = cfg.grid[1] as u64;
            ctx.block = [
                (b % gx) as u32,
                ((b / gx) % gy) as u32,
                (b / (gx * gy)) as u32,
            ];
            ctx.sdc = if b == 0 { opts.sdc } else { None };
            ctx.clock = 0;
            // A panic here would be a simulator bug; it fails the launch instead of unwinding
            // into the driver's C ABI.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                block::run_block(&mut ctx, &mut warps, threads)
            }))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(LaunchError {
                    kind: LaunchErrorKind::LaunchFailed,
                    log: format!(
                        "kernel '{}': gpugate-sim internal error in block {b}: {what}",
                        kernel.name()
                    ),
                })
            });
            if let Err(e) = r {
                // The warps may be half-way through anything: start them afresh.
                warps.clear();
                first_fail.fetch_min(b, Ordering::Relaxed);
                let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                if f.as_ref().is_none_or(|(fb, _)| b < *fb) {
                    *f = Some((b, e));
                }
                break;
            }
        }
        let mut t = totals.lock().unwrap_or_else(|p| p.into_inner());
        add_stats(&mut t, &ctx.stats);
    };
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 1..workers {
                s.spawn(work);
            }
            work();
        });
    }
    if let Some((_, e)) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut st = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    st.blocks = nblocks;
    st.threads = nblocks * threads as u64;
    Ok(st)
}

fn add_stats(t: &mut LaunchStats, s: &LaunchStats) {
    t.warp_instructions += s.warp_instructions;
    t.thread_instructions += s.thread_instructions;
    t.flops_f32 += s.flops_f32;
    t.flops_f64 += s.flops_f64;
    t.flops_f16 += s.flops_f16;
    t.int_ops += s.int_ops;
    t.tensor_flops_f64 += s.tensor_flops_f64;
    t.tensor_flops_f16 += s.tensor_flops_f16;
    t.global_bytes_read += s.global_bytes_read;
    t.global_bytes_written += s.global_bytes_written;
}

fn config_error(kind: LaunchErrorKind, kernel: &Kernel, msg: String) -> LaunchError {
    LaunchError {
        kind,
        log: format!("kernel '{}': {msg}", kernel.name()),
    }
}

/// Checks a launch against the kernel and the device; returns the shared-memory size of a block.
fn check_config(
    kernel: &Kernel,
    cfg: &LaunchConfig,
    params: &[&[u8]],
    mem: &MemoryMap,
    limits: &DeviceLimits,
    opts: &ExecOptions,
) -> Result<usize, LaunchError> {
    use LaunchErrorKind::{InvalidConfig, OutOfResources};
    let bad = |m: String| Err(config_error(InvalidConfig, kernel, m));
    if params.len() != kernel.params.len() {
        return bad(format!(
            "{} parameters given, the kernel takes {}",
            params.len(),
            kernel.params.len()
        ));
    }
    for (i, (p, info)) in params.iter().zip(&kernel.params).enumerate() {
        if p.len() != info.size {
            return bad(format!(
                "parameter {i} has {} bytes, the kernel expects {}",
                p.len(),
                info.size
            ));
        }
    }
    for d in 0..3 {
        for (what, dims, max) in [
            ("block", cfg.block, limits.max_block_dim),
            ("grid", cfg.grid, limits.max_grid_dim),
        ] {
            if dims[d] == 0 || dims[d] > max[d] {
                return bad(format!(
                    "{what} dimension {} = {} (allowed 1..={})",
                    ["x", "y", "z"][d],
                    dims[d],
                    max[d]
                ));
            }
        }
    }
    let threads: u64 = cfg.block.iter().map(|&b| b as u64).product();
    if threads > limits.max_threads_per_block as u64 {
        return bad(format!(
            "{threads} threads per block, the device allows {}",
            limits.max_threads_per_block
        ));
    }
    if let Some((x, y, z)) = kernel.reqntid {
        if cfg.block != [x, y, z] {
            return bad(format!(
                "block ({},{},{}) differs from .reqntid ({x},{y},{z})",
                cfg.block[0], cfg.block[1], cfg.block[2]
            ));
        }
    }
    if let Some((x, y, z)) = kernel.maxntid {
        let max = x as u64 * y as u64 * z as u64;
        if threads > max {
            return Err(config_error(
                OutOfResources,
                kernel,
                format!("{threads} threads per block, the kernel's .maxntid allows {max}"),
            ));
        }
    }
    let regs = kernel.num_regs as u64 * threads.div_ceil(32) * 32;
    if regs > 65536 {
        return Err(config_error(
            OutOfResources,
            kernel,
            format!(
                "{threads} threads × {} registers exceed the 65536-register file",
                kernel.num_regs
            ),
        ));
    }
    let align = kernel.shared.dynamic_align.max(1) as u64;
    let base = (kernel.shared.static_bytes as u64).div_ceil(align) * align;
    let dynamic = cfg.dynamic_shared_bytes as u64;
    let total = if dynamic > 0 {
        base + dynamic
    } else {
        kernel.shared.static_bytes as u64
    };
    let limit = if opts.max_dynamic_shared_bytes > 0 {
        if dynamic > opts.max_dynamic_shared_bytes as u64 {
            return bad(format!(
                "{dynamic} bytes of dynamic shared memory, the function allows {}",
                opts.max_dynamic_shared_bytes
            ));
        }
        limits.max_shared_per_block_optin
    } else {
        limits.max_shared_per_block
    };
    if total > limit as u64 {
        return bad(format!(
            "{total} bytes of shared memory per block ({} static + {dynamic} dynamic), the limit is {limit}",
            kernel.shared.static_bytes
        ));
    }
    let mut prev_end = 0u64;
    for r in &mem.regions {
        if r.base < prev_end {
            return bad("memory map regions overlap or are not sorted by base".into());
        }
        prev_end = r.base.saturating_add(r.len);
        for w in [SHARED_WINDOW_BASE, LOCAL_WINDOW_BASE, PARAM_WINDOW_BASE] {
            if r.base < w + (1u64 << 32) && w < prev_end {
                return bad(format!(
                    "device memory [{:#x}, {:#x}) overlaps the simulator's generic window at {w:#x}",
                    r.base, prev_end
                ));
            }
        }
    }
    Ok(total as usize)
}
