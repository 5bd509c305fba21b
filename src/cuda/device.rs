//! [`CudaDevice`]: one GPU behind the [`KernelDevice`] interface.
//!
//! One primary context, one non-blocking stream, every embedded module loaded once at
//! [`CudaDevice::open`] (each load timed: that is the driver's PTX JIT), and a pair of timing
//! events. Everything goes through gpugate's own driver layer ([`super::driver`]): plain
//! `cuMemAlloc` memory (no memory pools), page-locked host memory from `cuMemHostAlloc`,
//! asynchronous copies and launches on the one stream, and no event but the two timing ones (no
//! per-buffer event tracking, so nothing is recorded inside a timed loop).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use cudarc::driver::sys;

use super::driver::{self, Context, DeviceMem, ElapsedFn, Event, Module, PinnedMem, Stream};
use super::{guarded, CudaError};
use crate::kernels::{select_modules, KernelModule, KernelSet, MODULES};
use crate::model::{DeviceInfo, ModuleLoad};
use crate::workload::device::{
    DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef, LaunchConfig, PinnedBuf,
};

/// The first driver (CUDA 12.8, branch R570) that exports `cuEventElapsedTime_v2`.
pub const ELAPSED_V2_MIN_DRIVER: u32 = 12080;

/// Which elapsed-time symbols to try, in order, for a driver version. Drivers before R570 have
/// only the original `cuEventElapsedTime`; later ones get `_v2` first.
pub fn elapsed_symbols(driver_cuda_version: u32) -> [&'static str; 2] {
    if driver_cuda_version >= ELAPSED_V2_MIN_DRIVER {
        ["cuEventElapsedTime_v2", "cuEventElapsedTime"]
    } else {
        ["cuEventElapsedTime", "cuEventElapsedTime_v2"]
    }
}

/// Encodes kernel arguments as 8-byte slots, each holding the value's native bytes at its start:
/// `cuLaunchKernel` reads `sizeof(param)` bytes from each pointer it is given.
pub(crate) fn encode_args(
    args: &[KArg],
    mut device_ptr: impl FnMut(DevBuf) -> Result<u64, DeviceError>,
) -> Result<Vec<u64>, DeviceError> {
    fn slot(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        u64::from_ne_bytes(b)
    }
    args.iter()
        .map(|a| {
            Ok(match *a {
                KArg::Buf(buf) => device_ptr(buf)?,
                KArg::BufAt(buf, offset) => {
                    if offset > buf.bytes {
                        return Err(DeviceError::Invalid(format!(
                            "launch: an argument points {offset} bytes into a {}-byte buffer",
                            buf.bytes
                        )));
                    }
                    device_ptr(buf)? + offset as u64
                }
                KArg::I32(v) => slot(&v.to_ne_bytes()),
                KArg::I64(v) => slot(&v.to_ne_bytes()),
                KArg::F32(v) => slot(&v.to_ne_bytes()),
                KArg::F64(v) => slot(&v.to_ne_bytes()),
            })
        })
        .collect()
}

/// Checks a launch configuration before it reaches the driver.
pub(crate) fn check_launch_config(cfg: &LaunchConfig) -> Result<(), DeviceError> {
    let (gx, gy, gz) = cfg.grid;
    let (bx, by, bz) = cfg.block;
    if gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 {
        return Err(DeviceError::Invalid(format!(
            "invalid launch configuration: grid {:?}, block {:?} (every dimension must be >= 1)",
            cfg.grid, cfg.block
        )));
    }
    if (bx as u64) * (by as u64) * (bz as u64) > 1024 {
        return Err(DeviceError::Invalid(format!(
            "invalid launch configuration: block {:?} has more than 1024 threads",
            cfg.block
        )));
    }
    Ok(())
}

/// The modules one [`CudaDevice`] loaded and their entry points (valid while the modules live).
struct Handles {
    modules: Vec<Module>,
    functions: HashMap<(&'static str, &'static str), sys::CUfunction>,
}

// SAFETY: CUfunction is an opaque driver handle; the driver API is thread safe and every use
// binds the owning context to the calling thread first.
unsafe impl Send for Handles {}
unsafe impl Sync for Handles {}

struct DeviceAlloc {
    mem: DeviceMem,
    /// Requested size (the allocation is at least one byte).
    bytes: usize,
}

struct PinnedAlloc {
    mem: PinnedMem,
    bytes: usize,
}

/// One GPU: a context, a stream, the embedded modules (per family, the highest build both the
/// device and the driver can take) and a timer.
///
/// `Send + Sync`; every method takes `&self` and serialises through internal locks. Launches,
/// copies and timer events go in order onto the one stream. Fields drop in declaration order
/// after [`Drop::drop`] has freed the buffers and modules: the events and the stream, then the
/// context, last.
pub struct CudaDevice {
    ordinal: u32,
    info: DeviceInfo,
    /// What was loaded of each kernel family, or why nothing.
    kernels: KernelSet,
    handles: Handles,
    buffers: Mutex<HashMap<u64, DeviceAlloc>>,
    pinned: Mutex<HashMap<u64, PinnedAlloc>>,
    next_id: AtomicU64,
    timer_started: Mutex<bool>,
    elapsed: ElapsedFn,
    start: Event,
    stop: Event,
    pub(super) stream: Stream,
    pub(super) ctx: Context,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn derr(what: &str, e: driver::DriverError) -> DeviceError {
    CudaError::call(what, e).into()
}

impl CudaDevice {
    /// Opens GPU `ordinal`: creates its context and stream, and loads, once, the build of every
    /// kernel family that both the device and the driver's JIT can take (the highest such), timing
    /// each load (the PTX JIT happens here, never in a sample). A family with no such build is
    /// not loaded ([`CudaDevice::kernel_set`] says why, and its workloads fail with that reason);
    /// the others are.
    ///
    /// Refuses, with what to do, a driver older than the oldest supported one (see
    /// [`super::driver_status`]), and a GPU of which no family at all can be loaded (the driver's
    /// JIT or the device is older than every module), or whose module fails to load.
    pub fn open(ordinal: u32) -> Result<(CudaDevice, Vec<ModuleLoad>), CudaError> {
        let status = super::driver_status()?;
        if ordinal >= status.device_count {
            return Err(CudaError::NoSuchGpu {
                ordinal,
                count: status.device_count,
            });
        }
        guarded(&format!("opening GPU {ordinal}"), || {
            Self::open_inner(ordinal, status.driver_cuda_version)
        })
    }

    fn open_inner(ordinal: u32, driver: u32) -> Result<(CudaDevice, Vec<ModuleLoad>), CudaError> {
        let ctx = Context::retain(ordinal).map_err(|e| CudaError::call("creating a context", e))?;
        let stream = Stream::new(&ctx).map_err(|e| CudaError::call("creating a stream", e))?;
        let info = super::device_info(&ctx, ordinal, driver)?;
        let cc = info.compute_capability;

        let elapsed = resolve_elapsed(driver)?;
        let event =
            || Event::timing(&ctx).map_err(|e| CudaError::call("creating a timing event", e));
        let (start, stop) = (event()?, event()?);

        let mut handles = Handles {
            modules: Vec::new(),
            functions: HashMap::new(),
        };
        let mut loads = Vec::new();
        let kernels = KernelSet {
            families: select_modules(MODULES, cc, driver),
        };
        let modules = modules_to_load(&kernels.families)?;
        // On an error below, `handles` drops: each module loaded so far is unloaded.
        for m in modules {
            let (module, seconds) = load_module(&ctx, m, driver)?;
            for entry in m.entries {
                let f = entry_point(&module, m, entry)?;
                handles.functions.insert((m.name, *entry), f);
            }
            handles.modules.push(module);
            loads.push(ModuleLoad {
                device: ordinal,
                module: m.name.to_string(),
                target: m.target.to_string(),
                seconds,
            });
        }

        Ok((
            CudaDevice {
                ordinal,
                info,
                kernels,
                handles,
                buffers: Mutex::new(HashMap::new()),
                pinned: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                timer_started: Mutex::new(false),
                elapsed,
                start,
                stop,
                stream,
                ctx,
            },
            loads,
        ))
    }

    /// CUDA ordinal.
    pub fn ordinal(&self) -> u32 {
        self.ordinal
    }

    /// The inventory of this device, as read when it was opened.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Which build of each kernel family was loaded, or why none (see
    /// [`crate::kernels::FamilyChoice::reason`]).
    pub fn kernel_set(&self) -> &KernelSet {
        &self.kernels
    }

    pub(super) fn bind(&self) -> Result<(), DeviceError> {
        self.ctx
            .bind()
            .map_err(|e| derr("binding the CUDA context", e))
    }

    /// The device address of a buffer (for the cuBLAS peer, which takes raw pointers).
    pub(super) fn device_ptr(&self, buf: DevBuf) -> Result<u64, DeviceError> {
        lock(&self.buffers)
            .get(&buf.id)
            .map(|a| a.mem.ptr())
            .ok_or_else(|| DeviceError::Invalid(format!("unknown device buffer {}", buf.id)))
    }

    /// Seconds between two completed events of this device's context.
    pub(super) fn elapsed_between(
        &self,
        start: &Event,
        stop: &Event,
    ) -> Result<f64, driver::DriverError> {
        self.ctx.bind()?;
        let mut ms = 0.0f32;
        // SAFETY: both events belong to this context and have completed (the caller
        // synchronised `stop`, recorded after `start` on the same stream).
        unsafe { (self.elapsed)(&mut ms, start.raw(), stop.raw()) }.result()?;
        Ok(ms as f64 * 1e-3)
    }

    fn elapsed_seconds(&self) -> Result<f64, DeviceError> {
        self.bind()?;
        let mut ms = 0.0f32;
        // SAFETY: both events belong to this context and have completed (`stop` was
        // synchronised, `start` was recorded before it on the same stream).
        unsafe { (self.elapsed)(&mut ms, self.start.raw(), self.stop.raw()) }
            .result()
            .map_err(|e| derr("reading the event timer", e))?;
        Ok(ms as f64 * 1e-3)
    }
}

/// Looks up the elapsed-time entry point this driver has (see [`elapsed_symbols`]).
fn resolve_elapsed(driver: u32) -> Result<ElapsedFn, CudaError> {
    driver::elapsed_fn(&elapsed_symbols(driver)).ok_or(CudaError::NoEventTimer { driver })
}

/// Loads one PTX module into the context, timing the load (JIT included). On failure the error
/// carries the JIT's own log; a PTX ISA the driver's JIT is too old for is
/// [`CudaError::PtxTooNew`].
fn load_module(ctx: &Context, m: &KernelModule, driver: u32) -> Result<(Module, f64), CudaError> {
    let t0 = Instant::now();
    let r = Module::load(ctx, m.ptx);
    let seconds = t0.elapsed().as_secs_f64();
    match r {
        Ok(module) => Ok((module, seconds)),
        Err((source, log)) if source.0 == sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => {
            Err(CudaError::PtxTooNew {
                module: m.name,
                target: m.target,
                ptx_isa: m.ptx_isa,
                driver,
                log,
                source,
            })
        }
        Err((source, log)) => Err(match CudaError::call("loading a kernel module", source) {
            CudaError::Driver { .. } => CudaError::ModuleLoad {
                module: m.name,
                target: m.target,
                ptx_isa: m.ptx_isa,
                log,
                source,
            },
            lost_or_out_of_memory => lost_or_out_of_memory,
        }),
    }
}

/// The modules to load, one per family that has a build the device and the driver can take;
/// [`CudaError::NoLoadableModule`] (why, per family) when no family has one: nothing gpugate
/// runs could run on this GPU.
pub(crate) fn modules_to_load<'a>(
    families: &[crate::kernels::FamilyChoice<'a>],
) -> Result<Vec<&'a KernelModule>, CudaError> {
    let loaded: Vec<&KernelModule> = families.iter().filter_map(|f| f.loaded).collect();
    if loaded.is_empty() && !families.is_empty() {
        let reasons: Vec<String> = families.iter().filter_map(|f| f.unavailable()).collect();
        return Err(CudaError::NoLoadableModule { reasons });
    }
    Ok(loaded)
}

/// Looks up one kernel entry point of a loaded module.
fn entry_point(
    module: &Module,
    m: &KernelModule,
    entry: &str,
) -> Result<sys::CUfunction, CudaError> {
    module
        .function(entry)
        .map_err(|source| CudaError::MissingKernel {
            module: m.name,
            target: m.target,
            entry: entry.to_string(),
            source,
        })
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // Nothing may still use what is freed below.
        let _ = self.stream.synchronize();
        lock(&self.buffers).clear();
        lock(&self.pinned).clear();
        self.handles.functions.clear();
        self.handles.modules.clear();
    }
}

impl CudaDevice {
    fn pinned_err(what: &str, id: u64) -> DeviceError {
        DeviceError::Invalid(format!("{what}: unknown pinned buffer {id}"))
    }

    /// Waits for the stream, so that no copy still uses a pinned buffer the host touches.
    fn quiesce(&self, what: &str) -> Result<(), DeviceError> {
        self.stream
            .synchronize()
            .map_err(|e| derr(&format!("{what}: waiting for the pinned buffer"), e))
    }
}

impl KernelDevice for CudaDevice {
    fn kernel_modules(&self) -> KernelSet {
        self.kernels.clone()
    }

    fn props(&self) -> DeviceProps {
        let free = self
            .ctx
            .mem_info()
            .map(|(free, _)| free as u64)
            .unwrap_or(self.info.free_memory_bytes);
        DeviceProps {
            name: self.info.name.clone(),
            sm_count: self.info.sm_count,
            l2_bytes: self.info.l2_cache_bytes,
            total_memory: self.info.total_memory_bytes,
            free_memory: free,
            compute_capability: self.info.compute_capability,
        }
    }

    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
        // Uninitialised until written; callers upload or launch first.
        let mem = DeviceMem::alloc(&self.ctx, bytes).map_err(|e| {
            derr(
                &format!("allocating {bytes} bytes on GPU {}", self.ordinal),
                e,
            )
        })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.buffers).insert(id, DeviceAlloc { mem, bytes });
        Ok(DevBuf { id, bytes })
    }

    fn free(&self, buf: DevBuf) {
        // Work on the stream may still use it: wait before the allocation goes back.
        let _ = self.stream.synchronize();
        lock(&self.buffers).remove(&buf.id);
    }

    fn upload(&self, dst: DevBuf, src: &[u8]) -> Result<(), DeviceError> {
        if src.is_empty() {
            return Ok(());
        }
        let bufs = lock(&self.buffers);
        let a = bufs.get(&dst.id).ok_or_else(|| {
            DeviceError::Invalid(format!("upload: unknown device buffer {}", dst.id))
        })?;
        if src.len() > a.bytes {
            return Err(DeviceError::Invalid(format!(
                "upload: {} bytes do not fit in a {}-byte buffer",
                src.len(),
                a.bytes
            )));
        }
        // SAFETY: `src.len()` bytes fit in the allocation; the source is pageable and borrowed,
        // so the stream is synchronised before this returns.
        unsafe { driver::copy_htod(&self.stream, a.mem.ptr(), src.as_ptr(), src.len()) }
            .map_err(|e| derr("copying host to device", e))?;
        self.stream
            .synchronize()
            .map_err(|e| derr("copying host to device", e))
    }

    fn download(&self, src: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        if dst.is_empty() {
            return Ok(());
        }
        let bufs = lock(&self.buffers);
        let a = bufs.get(&src.id).ok_or_else(|| {
            DeviceError::Invalid(format!("download: unknown device buffer {}", src.id))
        })?;
        if dst.len() > a.bytes {
            return Err(DeviceError::Invalid(format!(
                "download: asked for {} bytes from a {}-byte buffer",
                dst.len(),
                a.bytes
            )));
        }
        // SAFETY: `dst.len()` bytes lie inside the allocation; the destination is borrowed, so
        // the stream is synchronised before this returns (also on error: nothing may still
        // write into it).
        let r =
            unsafe { driver::copy_dtoh(&self.stream, dst.as_mut_ptr(), a.mem.ptr(), dst.len()) };
        let sync = self.stream.synchronize();
        r.map_err(|e| derr("copying device to host", e))?;
        sync.map_err(|e| derr("copying device to host", e))
    }

    fn launch(
        &self,
        kernel: KernelRef,
        cfg: LaunchConfig,
        args: &[KArg],
    ) -> Result<(), DeviceError> {
        check_launch_config(&cfg)?;
        let f = *self
            .handles
            .functions
            .get(&(kernel.module, kernel.entry))
            .ok_or_else(|| {
                DeviceError::Invalid(format!(
                    "kernel {}::{} is not loaded on GPU {}",
                    kernel.module, kernel.entry, self.ordinal
                ))
            })?;
        let bufs = lock(&self.buffers);
        // Only the addresses are read; an allocation outlives the launch because `free`
        // synchronises the stream first.
        let mut slots = encode_args(args, |b| {
            bufs.get(&b.id).map(|a| a.mem.ptr()).ok_or_else(|| {
                DeviceError::Invalid(format!("launch: unknown device buffer {}", b.id))
            })
        })?;
        let mut params: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|s| s as *mut u64 as *mut c_void)
            .collect();
        // SAFETY: `f` belongs to this context; `params` has one pointer per kernel parameter
        // in declaration order (the kernel table documents each signature), each pointing at
        // a slot that holds the value's bytes and lives until the call returns.
        unsafe {
            driver::launch(
                f,
                cfg.grid,
                cfg.block,
                cfg.shared_bytes,
                &self.stream,
                &mut params,
            )
        }
        .map_err(|e| CudaError::launch(kernel.entry, e).into())
    }

    fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError> {
        let mem = PinnedMem::alloc(&self.ctx, bytes)
            .map_err(|e| derr(&format!("allocating {bytes} pinned host bytes"), e))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.pinned).insert(id, PinnedAlloc { mem, bytes });
        Ok(PinnedBuf { id, bytes })
    }

    fn free_pinned(&self, buf: PinnedBuf) {
        let _ = self.stream.synchronize();
        lock(&self.pinned).remove(&buf.id);
    }

    fn write_pinned(&self, dst: PinnedBuf, src: &[u8]) -> Result<(), DeviceError> {
        let mut pinned = lock(&self.pinned);
        let p = pinned
            .get_mut(&dst.id)
            .ok_or_else(|| Self::pinned_err("write_pinned", dst.id))?;
        if src.len() > p.bytes {
            return Err(DeviceError::Invalid(format!(
                "write_pinned: {} bytes do not fit in a {}-byte buffer",
                src.len(),
                p.bytes
            )));
        }
        self.quiesce("write_pinned")?;
        p.mem.as_mut_slice()[..src.len()].copy_from_slice(src);
        Ok(())
    }

    fn read_pinned(&self, src: PinnedBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        let pinned = lock(&self.pinned);
        let p = pinned
            .get(&src.id)
            .ok_or_else(|| Self::pinned_err("read_pinned", src.id))?;
        if dst.len() > p.bytes {
            return Err(DeviceError::Invalid(format!(
                "read_pinned: asked for {} bytes from a {}-byte buffer",
                dst.len(),
                p.bytes
            )));
        }
        self.quiesce("read_pinned")?;
        dst.copy_from_slice(&p.mem.as_slice()[..dst.len()]);
        Ok(())
    }

    fn copy_h2d(&self, src: PinnedBuf, dst: DevBuf) -> Result<(), DeviceError> {
        let bufs = lock(&self.buffers);
        let pinned = lock(&self.pinned);
        let p = pinned
            .get(&src.id)
            .ok_or_else(|| Self::pinned_err("copy_h2d", src.id))?;
        let d = bufs.get(&dst.id).ok_or_else(|| {
            DeviceError::Invalid(format!("copy_h2d: unknown device buffer {}", dst.id))
        })?;
        if p.bytes == 0 {
            return Ok(());
        }
        if p.bytes > d.bytes {
            return Err(DeviceError::Invalid(format!(
                "copy_h2d: {} pinned bytes do not fit in a {}-byte device buffer",
                p.bytes, d.bytes
            )));
        }
        // SAFETY: the pinned buffer lives until `free_pinned`, which synchronises first; the
        // bytes fit in the device allocation.
        unsafe { driver::copy_htod(&self.stream, d.mem.ptr(), p.mem.as_ptr(), p.bytes) }
            .map_err(|e| derr("copying pinned host to device", e))
    }

    fn copy_d2h(&self, src: DevBuf, dst: PinnedBuf) -> Result<(), DeviceError> {
        let bufs = lock(&self.buffers);
        let mut pinned = lock(&self.pinned);
        let d = bufs.get(&src.id).ok_or_else(|| {
            DeviceError::Invalid(format!("copy_d2h: unknown device buffer {}", src.id))
        })?;
        let p = pinned
            .get_mut(&dst.id)
            .ok_or_else(|| Self::pinned_err("copy_d2h", dst.id))?;
        if d.bytes == 0 {
            return Ok(());
        }
        if d.bytes > p.bytes {
            return Err(DeviceError::Invalid(format!(
                "copy_d2h: {} device bytes do not fit in a {}-byte pinned buffer",
                d.bytes, p.bytes
            )));
        }
        // SAFETY: the pinned buffer lives until `free_pinned`, which synchronises first, and is
        // read on the host only after a synchronisation (`read_pinned`); the bytes fit.
        unsafe { driver::copy_dtoh(&self.stream, p.mem.as_mut_ptr(), d.mem.ptr(), d.bytes) }
            .map_err(|e| derr("copying device to pinned host", e))
    }

    fn synchronize(&self) -> Result<(), DeviceError> {
        self.stream
            .synchronize()
            .map_err(|e| derr(&format!("synchronising GPU {}", self.ordinal), e))
    }

    fn timer_start(&self) -> Result<(), DeviceError> {
        let mut started = lock(&self.timer_started);
        self.start
            .record(&self.stream)
            .map_err(|e| derr("recording the start event", e))?;
        *started = true;
        Ok(())
    }

    fn timer_stop(&self) -> Result<f64, DeviceError> {
        let mut started = lock(&self.timer_started);
        if !*started {
            return Err(DeviceError::Invalid(
                "timer_stop called without timer_start".into(),
            ));
        }
        self.stop
            .record(&self.stream)
            .map_err(|e| derr("recording the stop event", e))?;
        self.stop
            .synchronize()
            .map_err(|e| derr("waiting for the timed work", e))?;
        *started = false;
        self.elapsed_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::device::{as_bytes, as_bytes_mut};

    #[test]
    fn the_loader_refuses_a_gpu_only_when_no_family_can_load() {
        let families: std::collections::BTreeSet<_> = MODULES.iter().map(|m| m.name).collect();
        let load = |cc, driver| modules_to_load(&select_modules(MODULES, cc, driver));
        // The M40 loads one compute_52 build of every family, on R525 and on R450 alike.
        for driver in [12000, 11000] {
            let ok = load((5, 2), driver).unwrap();
            assert_eq!(ok.len(), families.len());
            assert!(ok.iter().all(|m| m.target == "compute_52"));
        }
        // An A100 on R418 loads every family: gemm from its compute_70 build.
        let a100 = load((8, 0), 10010).unwrap();
        assert_eq!(a100.len(), families.len());
        assert!(a100
            .iter()
            .any(|m| m.name == "gemm" && m.target == "compute_70"));
        // A Kepler GPU is below every build: refused, saying so per family.
        let e = load((3, 7), 12040).unwrap_err();
        let CudaError::NoLoadableModule { reasons } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            reasons.len(),
            families.len(),
            "one reason per family: {reasons:?}"
        );
        let e = e.to_string();
        assert!(
            e.contains("compute capability 3.7") && e.contains("compute_52"),
            "{e}"
        );
        assert!(e.contains("cannot test this GPU"), "{e}");
        // A CUDA 8.0 driver is older than every module: refused with the driver to install.
        let e = load((5, 2), 8000).unwrap_err();
        assert!(matches!(e, CudaError::NoLoadableModule { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("too old") && e.contains("CUDA 8.0"), "{e}");
        assert!(e.contains("CUDA 9.0 or newer (R384+)"), "{e}");
    }

    #[test]
    fn cuda_device_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<CudaDevice>();
    }

    #[test]
    fn elapsed_symbol_follows_the_driver_version() {
        assert_eq!(elapsed_symbols(12040)[0], "cuEventElapsedTime");
        assert_eq!(elapsed_symbols(12060)[0], "cuEventElapsedTime");
        assert_eq!(elapsed_symbols(12080)[0], "cuEventElapsedTime_v2");
        assert_eq!(elapsed_symbols(13000)[0], "cuEventElapsedTime_v2");
        // The other one is always the fallback.
        for v in [12000, 12080, 13000] {
            let s = elapsed_symbols(v);
            assert_ne!(s[0], s[1]);
        }
    }

    #[test]
    fn arguments_are_encoded_as_native_bytes_in_order() {
        let buf = DevBuf { id: 7, bytes: 64 };
        let args = [
            KArg::Buf(buf),
            KArg::I32(-2),
            KArg::I64(1 << 40),
            KArg::F32(1.5),
            KArg::F64(-0.25),
        ];
        let slots = encode_args(&args, |b| {
            assert_eq!(b, buf);
            Ok(0xdead_beef_0000_1000)
        })
        .unwrap();
        // A view into a buffer: its address plus the offset; past the end is an error.
        let at = encode_args(&[KArg::BufAt(buf, 12)], |_| Ok(0x1000)).unwrap();
        assert_eq!(at, [0x100c]);
        assert!(encode_args(&[KArg::BufAt(buf, 64)], |_| Ok(0x1000)).is_ok());
        assert!(encode_args(&[KArg::BufAt(buf, 65)], |_| Ok(0x1000)).is_err());
        assert_eq!(slots.len(), 5);
        assert_eq!(slots[0], 0xdead_beef_0000_1000);
        let bytes = |s: &u64| s.to_ne_bytes();
        assert_eq!(
            i32::from_ne_bytes(bytes(&slots[1])[..4].try_into().unwrap()),
            -2
        );
        assert_eq!(i64::from_ne_bytes(bytes(&slots[2])), 1 << 40);
        assert_eq!(
            f32::from_ne_bytes(bytes(&slots[3])[..4].try_into().unwrap()),
            1.5
        );
        assert_eq!(f64::from_ne_bytes(bytes(&slots[4])), -0.25);
        // An unknown buffer is an error, not a launch with a bad pointer.
        let e = encode_args(&args, |_| Err(DeviceError::Invalid("unknown".into()))).unwrap_err();
        assert_eq!(e, DeviceError::Invalid("unknown".into()));
    }

    #[test]
    fn launch_configurations_are_checked() {
        let ok = LaunchConfig {
            grid: (4, 1, 1),
            block: (256, 1, 1),
            shared_bytes: 0,
        };
        assert!(check_launch_config(&ok).is_ok());
        let zero = LaunchConfig {
            grid: (0, 1, 1),
            ..ok
        };
        assert!(check_launch_config(&zero).is_err());
        let big = LaunchConfig {
            block: (64, 32, 1),
            ..ok
        };
        assert!(check_launch_config(&big).is_err());
    }

    #[test]
    fn open_without_a_driver_is_a_clean_error() {
        if super::super::driver_library_present() {
            return; // covered by the GPU tests
        }
        let e = CudaDevice::open(0).err().expect("no driver here");
        assert_eq!(e, CudaError::NoDriver);
        assert!(e.to_string().contains("libcuda.so"), "{e}");
    }

    fn open0() -> CudaDevice {
        let (dev, loads) = CudaDevice::open(0).expect("open GPU 0");
        let families: std::collections::BTreeSet<_> = MODULES.iter().map(|m| m.name).collect();
        assert_eq!(
            loads.len(),
            families.len(),
            "one load per family: {loads:?}"
        );
        for l in &loads {
            assert_eq!(l.device, 0);
            assert!(l.seconds > 0.0 && l.seconds < 60.0, "{l:?}");
        }
        dev
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver, or the simulator (run by cuda::tests::gpu_tests_on_the_simulator)"]
    fn gpu_stream_copy_kernel_moves_the_bytes() {
        let dev = open0();
        let p = dev.props();
        assert!(p.sm_count > 0 && p.total_memory > 0);
        let n = 1000usize;
        let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
        let da = dev.alloc(n * 4).unwrap();
        let dc = dev.alloc(n * 4).unwrap();
        dev.upload(da, as_bytes(&a)).unwrap();
        let k = crate::kernels::stream_kernel(
            crate::workload::StreamOp::Copy,
            crate::workload::Precision::F32,
        )
        .unwrap();
        let cfg = LaunchConfig {
            grid: (4, 1, 1),
            block: (crate::kernels::STREAM_BLOCK, 1, 1),
            shared_bytes: 0,
        };
        dev.launch(k, cfg, &[KArg::Buf(da), KArg::Buf(dc), KArg::I64(n as i64)])
            .unwrap();
        dev.synchronize().unwrap();
        let mut c = vec![0f32; n];
        dev.download(dc, as_bytes_mut(&mut c)).unwrap();
        assert_eq!(a, c);
        // Unknown kernels and buffers are errors.
        let bad = KernelRef {
            module: "stream",
            entry: "no_such_kernel",
        };
        assert!(dev.launch(bad, cfg, &[]).is_err());
        dev.free(da);
        assert!(dev.upload(da, &[1, 2, 3]).is_err());
        dev.free(dc);
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver, or the simulator (run by cuda::tests::gpu_tests_on_the_simulator)"]
    fn gpu_event_timer_and_pinned_copies() {
        let dev = open0();
        let bytes = 64 << 20;
        let h = dev.alloc_pinned(bytes).unwrap();
        let d = dev.alloc(bytes).unwrap();
        let back = dev.alloc_pinned(bytes).unwrap();
        let src: Vec<u8> = (0..bytes).map(|i| (i * 7 + 3) as u8).collect();
        dev.write_pinned(h, &src).unwrap();
        assert!(dev.timer_stop().is_err(), "stop without start");
        dev.timer_start().unwrap();
        dev.copy_h2d(h, d).unwrap();
        let t = dev.timer_stop().unwrap();
        assert!(t > 0.0 && t < 10.0, "{t}");
        dev.timer_start().unwrap();
        dev.copy_d2h(d, back).unwrap();
        let t2 = dev.timer_stop().unwrap();
        assert!(t2 > 0.0 && t2 < 10.0, "{t2}");
        // The event timer measured the copy, not nothing: a host link moves 64 MiB at 0.1 to
        // 1000 GB/s (PCIe 1.0 x1 to NVLink-C2C), and two events around nothing are far faster.
        for secs in [t, t2] {
            let gbps = bytes as f64 / secs / 1e9;
            assert!((0.1..1000.0).contains(&gbps), "{gbps} GB/s");
        }
        // On gpugate-sim, exactly the time its model gives a pinned 64 MiB copy.
        if dev.info().is_simulated() {
            use gpugate_sim::driver::timing::{copy_seconds, CopyKind, Factors};
            let models = std::env::var(gpugate_sim::config::ENV_MODELS).unwrap_or_default();
            let first = models.split(',').find(|m| !m.is_empty()).unwrap_or("m40");
            let m = gpugate_sim::model::load(first).unwrap();
            for (secs, kind) in [
                (t, CopyKind::HostToDevice { pinned: true }),
                (t2, CopyKind::DeviceToHost { pinned: true }),
            ] {
                let want = copy_seconds(&m, Factors::healthy(&m), kind, bytes as u64);
                assert!(
                    ((secs - want) / want).abs() < 1e-4,
                    "{secs} s, modelled {want} s"
                );
            }
        }
        dev.timer_start().unwrap();
        let empty = dev.timer_stop().unwrap();
        assert!(
            empty >= 0.0 && empty < t / 10.0,
            "{empty} s around nothing, {t} s for a copy"
        );
        let mut out = vec![0u8; bytes];
        dev.read_pinned(back, &mut out).unwrap();
        assert!(out == src, "pinned round trip changed the bytes");
        dev.free_pinned(h);
        dev.free_pinned(back);
        dev.free(d);
    }
}
