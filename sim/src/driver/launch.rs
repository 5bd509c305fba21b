//! Kernel launches and occupancy.
//!
//! `cuLaunchKernel` reads each parameter's bytes (`Kernel::params()[i].size` from
//! `kernelParams[i]`), runs the launch to completion with [`crate::exec::launch`] over the
//! context's memory (and that of peers it has access to), and advances the stream's clock by
//! the time model. A configuration the engine rejects before running anything
//! (CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES) is returned at once and is
//! not sticky. A fault while running (illegal or misaligned address, a broken collective, an
//! illegal instruction), and the `launch-fail-after` fault's uncorrectable ECC error, are
//! sticky: the launch returns CUDA_SUCCESS, as the real asynchronous launch would, and every
//! later call on the device returns the error. The engine's log goes to stderr and the
//! simulator's log file.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::Ordering;

use cudarc::driver::sys::{CUfunction, CUresult, CUstream};
use serde_json::json;

use super::module::{function, function_on, max_threads_per_block};
use super::state::driver;
use super::timing::{self, Factors};
use super::{errors, guard, log, out, CuResult};
use crate::exec::{self, DeviceLimits, ExecOptions, LaunchConfig, LaunchErrorKind};

/// The CUDA error of an engine error kind, and whether it is sticky.
pub fn launch_error_code(kind: LaunchErrorKind) -> (CUresult, bool) {
    use CUresult as R;
    match kind {
        LaunchErrorKind::InvalidConfig => (R::CUDA_ERROR_INVALID_VALUE, false),
        LaunchErrorKind::OutOfResources => (R::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, false),
        LaunchErrorKind::IllegalAddress => (R::CUDA_ERROR_ILLEGAL_ADDRESS, true),
        LaunchErrorKind::MisalignedAddress => (R::CUDA_ERROR_MISALIGNED_ADDRESS, true),
        LaunchErrorKind::LaunchFailed => (R::CUDA_ERROR_LAUNCH_FAILED, true),
        LaunchErrorKind::IllegalInstruction => (R::CUDA_ERROR_ILLEGAL_INSTRUCTION, true),
    }
}

/// The limits a launch on a device of `model` is checked against.
pub fn device_limits(model: &crate::model::DeviceModel) -> DeviceLimits {
    let c = &model.compute;
    DeviceLimits {
        sm: model.sm(),
        max_threads_per_block: c.max_threads_per_block,
        max_block_dim: c.max_block_dim,
        max_grid_dim: c.max_grid_dim,
        max_shared_per_block: c.shared_per_block,
        max_shared_per_block_optin: c.shared_per_block_optin,
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn launch(
    f: CUfunction,
    grid: [c_uint; 3],
    block: [c_uint; 3],
    shared: c_uint,
    stream: CUstream,
    kernel_params: *mut *mut c_void,
    extra: *mut *mut c_void,
) -> CuResult {
    let d = driver()?;
    let (kernel, fctx, target, dev, max_dyn) = {
        let st = d.lock();
        let fr = function(&st, f)?;
        let (c, target) = st.target(stream)?;
        if c != fr.ctx {
            // The stream (or the current context, for the default stream) is not the
            // function's context.
            return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
        }
        let dev = st.ctxs[&c].device;
        (
            fr.kernel.clone(),
            fr.ctx,
            target,
            dev,
            fr.max_dynamic_shared.unwrap_or(0),
        )
    };
    d.sticky(dev)?;
    if !extra.is_null() {
        log::stderr(
            "cuLaunchKernel: the `extra` argument (CU_LAUNCH_PARAM_BUFFER_POINTER) is not \
             supported by gpugate-sim; pass kernelParams (CUDA_ERROR_INVALID_VALUE)",
        );
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let infos = kernel.params();
    if !infos.is_empty() && kernel_params.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(infos.len());
    for (i, p) in infos.iter().enumerate() {
        // SAFETY: kernelParams holds one pointer per parameter, each to `size` readable bytes
        // (the cuLaunchKernel contract).
        let ptr = unsafe { *kernel_params.add(i) } as *const u8;
        if ptr.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: as above.
        bytes.push(unsafe { std::slice::from_raw_parts(ptr, p.size) }.to_vec());
    }
    let params: Vec<&[u8]> = bytes.iter().map(|b| b.as_slice()).collect();
    // A launch record of the log: what every one says, and `rest`.
    let record = |rest: serde_json::Value| {
        let mut r = json!({
            "event": "launch",
            "gpu": dev,
            "kernel": kernel.name(),
            "grid": grid,
            "block": block,
            "dynamic_shared_bytes": shared,
            "stream": log::handle(stream),
        });
        if let (Some(r), serde_json::Value::Object(rest)) = (r.as_object_mut(), rest) {
            r.extend(rest);
        }
        log::record(r);
    };

    let gpu = d.gpu(dev);
    let n = gpu.launches.fetch_add(1, Ordering::AcqRel) + 1;
    if let Some(after) = gpu.faults.launch_fail_after {
        if n > after {
            // The `launch-fail-after` fault: this launch hits an uncorrectable ECC error.
            gpu.ecc_uncorrected.fetch_max(1, Ordering::AcqRel);
            let code = CUresult::CUDA_ERROR_ECC_UNCORRECTABLE;
            d.set_sticky(dev, code);
            let msg = format!(
                "GPU {dev}: launch {n} of {} hit an uncorrectable ECC error (fault \
                 launch-fail-after={after}); every later call returns {}",
                kernel.name(),
                errors::name(code)
            );
            log::stderr(&msg);
            if log::enabled() {
                record(json!({"error": {"code": errors::name(code), "log": msg}}));
            }
            return Ok(());
        }
    }

    let cfg = LaunchConfig {
        grid,
        block,
        dynamic_shared_bytes: shared,
    };
    let sdc = gpu
        .faults
        .sdc
        .iter()
        .find(|(sub, _)| kernel.name().contains(sub.as_str()))
        .map(|(_, bit)| *bit)
        // `sdc-after=N`: every launch after the N-th on this GPU.
        .or(gpu
            .faults
            .sdc_after
            .filter(|(after, _)| n > *after)
            .map(|(_, bit)| bit));
    let (map, keep, stuck) = {
        let st = d.lock();
        let (map, keep) = st.memory_map(fctx);
        (map, keep, st.stuck_cell(dev))
    };
    let opts = ExecOptions {
        workers: d.machine.config.threads.max(1),
        racecheck: d.machine.config.racecheck,
        sdc,
        max_dynamic_shared_bytes: max_dyn,
        stuck,
    };
    let limits = device_limits(&gpu.model);
    let busy = gpu.busy();
    let watch = gpu.watch_others();
    gpu.launch_began();
    let result = exec::launch(&kernel, &cfg, &params, &map, &limits, &opts);
    gpu.launch_ended();
    let together = watch.is_some_and(|w| gpu.overlapped(&w));
    drop(keep);

    match result {
        Ok(stats) => {
            let (secs, share, bound) =
                timing::kernel_time(&gpu.model, Factors::during(gpu, together), &stats);
            busy.done(share);
            let (start, end) = d.lock().enqueue(target, secs);
            if log::enabled() {
                record(json!({
                    "stats": stats_json(&stats),
                    "sdc": sdc.is_some(),
                    "seconds": secs,
                    "start": start,
                    "end": end,
                    "bound": bound.as_str(),
                    "error": null,
                }));
            }
            Ok(())
        }
        Err(e) => {
            let (code, sticky) = launch_error_code(e.kind);
            if !sticky {
                // Refused before anything ran: not a launch for `launch-fail-after`.
                gpu.launches.fetch_sub(1, Ordering::AcqRel);
            }
            let msg = format!(
                "GPU {dev} ({}): {} in {}: {}",
                gpu.model.name,
                errors::name(code),
                kernel.name(),
                e.log
            );
            log::stderr(&msg);
            if log::enabled() {
                record(json!({
                    "sticky": sticky,
                    "error": {"code": errors::name(code), "log": e.log},
                }));
            }
            if sticky {
                d.set_sticky(dev, code);
                Ok(())
            } else {
                Err(code)
            }
        }
    }
}

fn stats_json(s: &exec::LaunchStats) -> serde_json::Value {
    json!({
        "blocks": s.blocks,
        "threads": s.threads,
        "warp_instructions": s.warp_instructions,
        "thread_instructions": s.thread_instructions,
        "flops_f32": s.flops_f32,
        "flops_f64": s.flops_f64,
        "flops_f16": s.flops_f16,
        "int_ops": s.int_ops,
        "tensor_flops_f64": s.tensor_flops_f64,
        "tensor_flops_f16": s.tensor_flops_f16,
        "global_bytes_read": s.global_bytes_read,
        "global_bytes_written": s.global_bytes_written,
    })
}

/// `CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, gridDimY, gridDimZ,
/// unsigned int blockDimX, blockDimY, blockDimZ, unsigned int sharedMemBytes, CUstream
/// hStream, void **kernelParams, void **extra)`: `extra` is not supported
/// (CUDA_ERROR_INVALID_VALUE, with a line on stderr naming it).
///
/// # Safety
/// `kernel_params` must hold one pointer per kernel parameter, each to that parameter's bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn cuLaunchKernel(
    f: CUfunction,
    grid_x: c_uint,
    grid_y: c_uint,
    grid_z: c_uint,
    block_x: c_uint,
    block_y: c_uint,
    block_z: c_uint,
    shared: c_uint,
    stream: CUstream,
    kernel_params: *mut *mut c_void,
    extra: *mut *mut c_void,
) -> CUresult {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe {
        launch(
            f,
            [grid_x, grid_y, grid_z],
            [block_x, block_y, block_z],
            shared,
            stream,
            kernel_params,
            extra,
        )
    })
}

/// `CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int
/// blockSize, size_t dynamicSMemSize)`: the least of the SM's block, thread, register and
/// shared-memory limits (registers from the front end's estimate, allocated per warp in
/// units of 256).
///
/// # Safety
/// `num_blocks` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuOccupancyMaxActiveBlocksPerMultiprocessor(
    num_blocks: *mut c_int,
    func: CUfunction,
    block_size: c_int,
    dynamic_smem: usize,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        if num_blocks.is_null() || block_size <= 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let st = d.lock();
        let (fr, dev) = function_on(&st, func)?;
        let c = &d.gpu(dev).model.compute;
        let bs = block_size as u64;
        if bs > max_threads_per_block(fr, c.max_threads_per_block) as u64 {
            // SAFETY: checked non-null.
            return unsafe { out(num_blocks, 0) };
        }
        let warps = bs.div_ceil(c.warp_size as u64);
        let regs = (fr.kernel.num_regs() as u64 * c.warp_size as u64).div_ceil(256) * 256;
        let by_regs = (c.regs_per_sm as u64)
            .checked_div(regs * warps)
            .unwrap_or(u64::MAX);
        let smem = fr.kernel.static_shared_bytes() as u64
            + dynamic_smem as u64
            + c.reserved_shared_per_block as u64;
        let by_smem = (c.shared_per_sm as u64)
            .checked_div(smem)
            .unwrap_or(u64::MAX);
        let by_threads = c.max_threads_per_sm as u64 / (warps * c.warp_size as u64);
        let n = (c.max_blocks_per_sm as u64)
            .min(by_threads)
            .min(by_regs)
            .min(by_smem);
        // SAFETY: checked non-null.
        unsafe { out(num_blocks, n.min(i32::MAX as u64) as c_int) }
    })
}
