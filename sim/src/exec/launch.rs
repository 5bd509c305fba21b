//! How one launch runs: the configuration checked against the kernel and the device, the
//! parameter buffer laid out, the CTAs handed out in order to the worker threads (each with a
//! [`Ctx`](super::warp::Ctx) of its own), a panic turned into a failed launch, the lowest
//! failing block's error returned, and the counts summed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{block, lanes, mem, race, warp};
use super::{
    DeviceLimits, ExecOptions, LaunchConfig, LaunchError, LaunchErrorKind, LaunchStats, MemoryMap,
    LOCAL_WINDOW_BASE, PARAM_WINDOW_BASE, SHARED_WINDOW_BASE,
};
use crate::ir::Kernel;

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
            stuck: opts.stuck.and_then(|c| {
                mem::GlobalMem::new(&mem.regions)
                    .lookup(c.address, 1)
                    .map(|(p, _)| (c, p as usize))
            }),
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
