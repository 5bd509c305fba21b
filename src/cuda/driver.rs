//! gpugate's own thin layer over the CUDA driver API (`cudarc::driver::sys`), so that every
//! entry point it calls is one the oldest supported driver has, or one it looks up by name and
//! does without.
//!
//! cudarc's safe layer (`CudaContext`, `CudaStream`, `CudaSlice`, …) is not used: it reads
//! `CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED` (CUDA 11.2) when it makes a context and fails on
//! older drivers, releases contexts with `cuDevicePrimaryCtxRelease_v2` (11.0), reads UUIDs with
//! `cuDeviceGetUuid_v2` (11.4), allocates through memory pools where they exist and records
//! events around buffers. What gpugate needs is small: a primary context, one stream, device and
//! pinned memory, asynchronous copies, timing events, modules and launches. Each wrapper here
//! owns one driver object and releases it on drop, never panicking.
//!
//! [`DRIVER_CALLS`] lists every driver entry point gpugate calls, with the CUDA release that
//! introduced it; [`check_entry_points`] runs before anything else touches the driver, so a
//! driver that lacks one is a clear error, never cudarc's "Missing symbol" panic.
//!
//! Every function that calls the driver expects [`super::driver_status`] to have succeeded
//! (the library is loaded, the entry points are there, `cuInit` was called).

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::sys;

pub(crate) use cudarc::driver::result::DriverError;

/// One driver call gpugate makes: the entry points that provide it, preferred first, each with
/// the CUDA release (as `cuDriverGetVersion` numbers it) that introduced it, and what gpugate
/// does when the driver exports none of them (None: it cannot run without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverCall {
    pub names: &'static [(&'static str, u32)],
    pub without: Option<&'static str>,
}

const fn required(name: &'static [(&'static str, u32)]) -> DriverCall {
    DriverCall {
        names: name,
        without: None,
    }
}

/// Every CUDA driver entry point gpugate calls (through `cudarc::driver::sys`, or looked up by
/// name), with the release that introduced it. From `cuda.h` (its `__CUDA_API_VERSION` guards
/// and `_v2` defines) and the CUDA Driver API reference. Nothing else is called: not memory
/// pools, not `cuCtxCreate`, not the per-thread-stream (`_ptsz`) forms.
pub const DRIVER_CALLS: &[DriverCall] = &[
    required(&[("cuDriverGetVersion", 2020)]),
    required(&[("cuInit", 2000)]),
    required(&[("cuGetErrorName", 6000)]),
    required(&[("cuGetErrorString", 6000)]),
    required(&[("cuDeviceGetCount", 2000)]),
    required(&[("cuDeviceGet", 2000)]),
    required(&[("cuDeviceGetName", 2000)]),
    required(&[("cuDeviceGetAttribute", 2000)]),
    DriverCall {
        names: &[("cuDeviceGetUuid_v2", 11040), ("cuDeviceGetUuid", 9020)],
        without: Some(
            "the inventory has no UUID for the GPU (NVML then finds it by its PCI bus id); \
             every supported driver has cuDeviceGetUuid",
        ),
    },
    required(&[("cuDevicePrimaryCtxRetain", 7000)]),
    required(&[
        ("cuDevicePrimaryCtxRelease_v2", 11000),
        ("cuDevicePrimaryCtxRelease", 7000),
    ]),
    required(&[("cuCtxGetCurrent", 4000)]),
    required(&[("cuCtxSetCurrent", 4000)]),
    required(&[("cuMemGetInfo_v2", 3020)]),
    required(&[("cuStreamCreate", 2000)]),
    required(&[("cuStreamSynchronize", 2000)]),
    required(&[("cuStreamDestroy_v2", 4000)]),
    required(&[("cuEventCreate", 2000)]),
    required(&[("cuEventRecord", 2000)]),
    required(&[("cuEventSynchronize", 2000)]),
    // Order by the driver's version: see `super::device::elapsed_symbols`.
    required(&[
        ("cuEventElapsedTime_v2", 12080),
        ("cuEventElapsedTime", 2000),
    ]),
    required(&[("cuEventDestroy_v2", 4000)]),
    required(&[("cuMemAlloc_v2", 3020)]),
    required(&[("cuMemFree_v2", 3020)]),
    required(&[("cuMemHostAlloc", 2020)]),
    required(&[("cuMemFreeHost", 2000)]),
    required(&[("cuMemcpyHtoDAsync_v2", 3020)]),
    required(&[("cuMemcpyDtoHAsync_v2", 3020)]),
    required(&[("cuModuleLoadDataEx", 2010)]),
    required(&[("cuModuleGetFunction", 2000)]),
    required(&[("cuModuleUnload", 2000)]),
    required(&[("cuLaunchKernel", 4000)]),
    // Peer to peer (the burn-in's P2P stage, `super::p2p`).
    required(&[("cuDeviceCanAccessPeer", 4000)]),
    required(&[("cuCtxEnablePeerAccess", 4000)]),
    required(&[("cuMemcpyPeerAsync", 4000)]),
];

/// The first of `names` that `has` finds.
pub fn first_present<'a>(names: &[&'a str], has: impl Fn(&str) -> bool) -> Option<&'a str> {
    names.iter().copied().find(|n| has(n))
}

/// The calls gpugate cannot do without that a driver exporting what `has` finds lacks, each as
/// "cuX (CUDA a.b+)" (or "cuX_v2 or cuX (…)").
pub fn missing_required(has: impl Fn(&str) -> bool) -> Vec<String> {
    DRIVER_CALLS
        .iter()
        .filter(|c| c.without.is_none() && c.names.iter().all(|(n, _)| !has(n)))
        .map(|c| {
            let names: Vec<&str> = c.names.iter().map(|(n, _)| *n).collect();
            let oldest = c.names.iter().map(|(_, v)| *v).min().unwrap_or(0);
            format!(
                "{} (CUDA {}+)",
                names.join(" or "),
                crate::kernels::cuda_version_string(oldest)
            )
        })
        .collect()
}

/// The entry point only gpugate-sim's driver exports: `const char *gpugateSimIdentity(void)`.
pub const SIMULATOR_IDENTITY_SYMBOL: &str = "gpugateSimIdentity";

/// What the loaded driver library declares itself to be, when it is not NVIDIA's: gpugate-sim
/// exports [`SIMULATOR_IDENTITY_SYMBOL`], which no NVIDIA driver has, returning a static string
/// ("gpugate-sim 0.1.0: a simulated NVIDIA driver …"). None for a driver without that entry point.
/// This is how gpugate knows a device is simulated: from the driver itself, never from what the
/// devices are called.
pub(crate) fn simulator_identity() -> Option<String> {
    catch_unwind(|| {
        // SAFETY: the library was found (`driver_library_present`); the symbol, where present,
        // is gpugate-sim's `const char *gpugateSimIdentity(void)`, which returns a static
        // NUL-terminated string.
        unsafe {
            let f = sys::culib()
                .get::<unsafe extern "C" fn() -> *const c_char>(
                    SIMULATOR_IDENTITY_SYMBOL.as_bytes(),
                )
                .ok()?;
            let p = f();
            if p.is_null() {
                // Something exports the name but says nothing: still not NVIDIA's driver.
                return Some(format!("{SIMULATOR_IDENTITY_SYMBOL} (no text)"));
            }
            Some(
                std::ffi::CStr::from_ptr(p)
                    .to_string_lossy()
                    .chars()
                    .take(256)
                    .collect(),
            )
        }
    })
    .ok()
    .flatten()
}

/// Whether the loaded driver library exports `name`.
pub(crate) fn exported(name: &str) -> bool {
    // SAFETY: the library was found (`driver_library_present`); only the address is looked up.
    catch_unwind(|| unsafe {
        sys::culib()
            .get::<unsafe extern "C" fn()>(name.as_bytes())
            .is_ok()
    })
    .unwrap_or(false)
}

/// A function of the driver library, looked up by name.
///
/// # Safety
/// `F` must be the entry point's true C signature.
unsafe fn symbol<F: Copy>(name: &str) -> Option<F> {
    catch_unwind(|| unsafe { sys::culib().get::<F>(name.as_bytes()).ok().map(|s| *s) })
        .ok()
        .flatten()
}

/// [`CudaError::MissingEntryPoints`](super::CudaError::MissingEntryPoints) naming every required
/// entry point this driver lacks (see [`missing_required`]).
pub(crate) fn check_entry_points(driver: u32) -> Result<(), super::CudaError> {
    let missing = missing_required(exported);
    if missing.is_empty() {
        return Ok(());
    }
    Err(super::CudaError::MissingEntryPoints { driver, missing })
}

/// Runs a release call from a destructor: never panics, whatever the driver does.
fn quietly(f: impl FnOnce() -> sys::CUresult) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Makes `ctx` current on this thread, unless it is already.
fn set_current(ctx: sys::CUcontext) -> Result<(), DriverError> {
    let mut cur: sys::CUcontext = std::ptr::null_mut();
    // SAFETY: out-parameter calls; `ctx` is a retained primary context.
    unsafe {
        sys::cuCtxGetCurrent(&mut cur).result()?;
        if cur != ctx {
            sys::cuCtxSetCurrent(ctx).result()?;
        }
    }
    Ok(())
}

/// How many CUDA devices the driver reports (after `cuInit`).
pub(crate) fn device_count() -> Result<i32, DriverError> {
    let mut n: c_int = 0;
    // SAFETY: out-parameter call.
    unsafe { sys::cuDeviceGetCount(&mut n) }.result()?;
    Ok(n)
}

type ReleaseFn = unsafe extern "C" fn(sys::CUdevice) -> sys::CUresult;
type UuidFn = unsafe extern "C" fn(*mut sys::CUuuid, sys::CUdevice) -> sys::CUresult;

/// Which primary-context release entry point to use: `_v2` (CUDA 11.0+), else the original.
pub const RELEASE_SYMBOLS: [&str; 2] =
    ["cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"];
/// Which UUID entry point to use: `_v2` (CUDA 11.4+), else the original (9.2+), else none.
pub const UUID_SYMBOLS: [&str; 2] = ["cuDeviceGetUuid_v2", "cuDeviceGetUuid"];

/// A device's primary context, retained for the life of this value (released on drop).
pub(crate) struct Context {
    device: sys::CUdevice,
    ctx: sys::CUcontext,
    release: ReleaseFn,
}

// SAFETY: a CUcontext is an opaque driver handle; the driver API is thread safe, and every
// call made with it binds it to the calling thread first.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    /// Retains the primary context of device `ordinal` and makes it current on this thread.
    pub fn retain(ordinal: u32) -> Result<Context, DriverError> {
        let mut device: sys::CUdevice = 0;
        // SAFETY: out-parameter calls; `device` comes from the driver.
        unsafe { sys::cuDeviceGet(&mut device, ordinal as c_int) }.result()?;
        let release = RELEASE_SYMBOLS
            .iter()
            // SAFETY: both have the signature `CUresult (CUdevice)`.
            .find_map(|n| unsafe { symbol::<ReleaseFn>(n) })
            .ok_or(DriverError(sys::CUresult::CUDA_ERROR_NOT_FOUND))?;
        let mut ctx: sys::CUcontext = std::ptr::null_mut();
        // SAFETY: out-parameter call on a valid device.
        unsafe { sys::cuDevicePrimaryCtxRetain(&mut ctx, device) }.result()?;
        let c = Context {
            device,
            ctx,
            release,
        };
        c.bind()?;
        Ok(c)
    }

    /// Makes this context current on the calling thread.
    pub fn bind(&self) -> Result<(), DriverError> {
        set_current(self.ctx)
    }

    pub fn raw(&self) -> sys::CUcontext {
        self.ctx
    }

    /// Whether this context's device can access `peer`'s memory (`cuDeviceCanAccessPeer`).
    pub fn can_access_peer(&self, peer: &Context) -> Result<bool, DriverError> {
        let mut can: c_int = 0;
        // SAFETY: out-parameter call on two valid devices.
        unsafe { sys::cuDeviceCanAccessPeer(&mut can, self.device, peer.device) }.result()?;
        Ok(can != 0)
    }

    /// Lets this context access `peer`'s memory (`cuCtxEnablePeerAccess`); already enabled is
    /// success.
    pub fn enable_peer_access(&self, peer: &Context) -> Result<(), DriverError> {
        self.bind()?;
        // SAFETY: two live contexts, this one current; flags must be 0.
        match unsafe { sys::cuCtxEnablePeerAccess(peer.ctx, 0) } {
            sys::CUresult::CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED => Ok(()),
            r => r.result(),
        }
    }

    pub fn attribute(&self, a: sys::CUdevice_attribute) -> Result<i32, DriverError> {
        let mut v: c_int = 0;
        // SAFETY: out-parameter call on a valid device.
        unsafe { sys::cuDeviceGetAttribute(&mut v, a, self.device) }.result()?;
        Ok(v)
    }

    pub fn name(&self) -> Result<String, DriverError> {
        let mut buf = [0 as c_char; 256];
        // SAFETY: the buffer holds `len` bytes; the driver NUL-terminates within them.
        unsafe { sys::cuDeviceGetName(buf.as_mut_ptr(), buf.len() as c_int, self.device) }
            .result()?;
        let bytes: Vec<u8> = buf
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The device's UUID, through the newest entry point the driver has; None when it has none
    /// (before CUDA 9.2) or the call fails.
    pub fn uuid(&self) -> Option<[u8; 16]> {
        // SAFETY: both have the signature `CUresult (CUuuid*, CUdevice)`.
        let f = UUID_SYMBOLS
            .iter()
            .find_map(|n| unsafe { symbol::<UuidFn>(n) })?;
        let mut u = sys::CUuuid { bytes: [0; 16] };
        // SAFETY: out-parameter call on a valid device.
        unsafe { f(&mut u, self.device) }.result().ok()?;
        Some(u.bytes.map(|b| b as u8))
    }

    /// (free, total) device memory, bytes.
    pub fn mem_info(&self) -> Result<(usize, usize), DriverError> {
        self.bind()?;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: out-parameter call with this context current.
        unsafe { sys::cuMemGetInfo_v2(&mut free, &mut total) }.result()?;
        Ok((free, total))
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let (release, device) = (self.release, self.device);
        // SAFETY: matches the successful retain of `new`.
        quietly(|| unsafe { release(device) });
    }
}

/// A stream of one context (non-blocking: it never waits for the legacy default stream).
pub(crate) struct Stream {
    ctx: sys::CUcontext,
    stream: sys::CUstream,
}

// SAFETY: opaque driver handles, used with their context bound.
unsafe impl Send for Stream {}
unsafe impl Sync for Stream {}

impl Stream {
    pub fn new(ctx: &Context) -> Result<Stream, DriverError> {
        ctx.bind()?;
        let mut stream: sys::CUstream = std::ptr::null_mut();
        // SAFETY: out-parameter call with the context current.
        unsafe {
            sys::cuStreamCreate(
                &mut stream,
                sys::CUstream_flags::CU_STREAM_NON_BLOCKING as c_uint,
            )
        }
        .result()?;
        Ok(Stream {
            ctx: ctx.raw(),
            stream,
        })
    }

    pub fn raw(&self) -> sys::CUstream {
        self.stream
    }

    /// Waits for everything issued on the stream.
    pub fn synchronize(&self) -> Result<(), DriverError> {
        set_current(self.ctx)?;
        // SAFETY: a live stream of the current context.
        unsafe { sys::cuStreamSynchronize(self.stream) }.result()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let (ctx, s) = (self.ctx, self.stream);
        quietly(|| {
            let _ = set_current(ctx);
            // SAFETY: created by `new`, destroyed once.
            unsafe { sys::cuStreamDestroy_v2(s) }
        });
    }
}

/// A timing event (`CU_EVENT_DEFAULT`: it records time).
pub(crate) struct Event {
    ctx: sys::CUcontext,
    event: sys::CUevent,
}

// SAFETY: opaque driver handles, used with their context bound.
unsafe impl Send for Event {}
unsafe impl Sync for Event {}

impl Event {
    pub fn timing(ctx: &Context) -> Result<Event, DriverError> {
        ctx.bind()?;
        let mut event: sys::CUevent = std::ptr::null_mut();
        // SAFETY: out-parameter call with the context current.
        unsafe { sys::cuEventCreate(&mut event, sys::CUevent_flags::CU_EVENT_DEFAULT as c_uint) }
            .result()?;
        Ok(Event {
            ctx: ctx.raw(),
            event,
        })
    }

    pub fn raw(&self) -> sys::CUevent {
        self.event
    }

    pub fn record(&self, stream: &Stream) -> Result<(), DriverError> {
        set_current(self.ctx)?;
        // SAFETY: the event and the stream belong to the current context.
        unsafe { sys::cuEventRecord(self.event, stream.raw()) }.result()
    }

    pub fn synchronize(&self) -> Result<(), DriverError> {
        set_current(self.ctx)?;
        // SAFETY: a live event of the current context.
        unsafe { sys::cuEventSynchronize(self.event) }.result()
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        let (ctx, e) = (self.ctx, self.event);
        quietly(|| {
            let _ = set_current(ctx);
            // SAFETY: created by `timing`, destroyed once.
            unsafe { sys::cuEventDestroy_v2(e) }
        });
    }
}

/// `cuEventElapsedTime` and `cuEventElapsedTime_v2` share this signature.
pub(crate) type ElapsedFn =
    unsafe extern "C" fn(*mut f32, sys::CUevent, sys::CUevent) -> sys::CUresult;

/// The elapsed-time entry point: the first of `names` the driver exports.
pub(crate) fn elapsed_fn(names: &[&str]) -> Option<ElapsedFn> {
    // SAFETY: every name given has the signature `CUresult (float*, CUevent, CUevent)`.
    names.iter().find_map(|n| unsafe { symbol::<ElapsedFn>(n) })
}

/// Device memory (`cuMemAlloc`; no memory pools), freed on drop.
pub(crate) struct DeviceMem {
    ctx: sys::CUcontext,
    ptr: sys::CUdeviceptr,
}

// SAFETY: a device address and an opaque context handle.
unsafe impl Send for DeviceMem {}
unsafe impl Sync for DeviceMem {}

impl DeviceMem {
    /// `bytes` (at least 1) of uninitialised device memory.
    pub fn alloc(ctx: &Context, bytes: usize) -> Result<DeviceMem, DriverError> {
        ctx.bind()?;
        let mut ptr: sys::CUdeviceptr = 0;
        // SAFETY: out-parameter call with the context current.
        unsafe { sys::cuMemAlloc_v2(&mut ptr, bytes.max(1)) }.result()?;
        Ok(DeviceMem {
            ctx: ctx.raw(),
            ptr,
        })
    }

    pub fn ptr(&self) -> u64 {
        self.ptr
    }
}

impl Drop for DeviceMem {
    fn drop(&mut self) {
        let (ctx, p) = (self.ctx, self.ptr);
        quietly(|| {
            let _ = set_current(ctx);
            // SAFETY: allocated by `alloc`, freed once; the owner synchronised first.
            unsafe { sys::cuMemFree_v2(p) }
        });
    }
}

/// Page-locked host memory (`cuMemHostAlloc`, flags 0: not write-combined, it is read back on
/// the host), freed on drop.
pub(crate) struct PinnedMem {
    ctx: sys::CUcontext,
    ptr: *mut u8,
    len: usize,
}

// SAFETY: host memory owned by this value; access is serialised by its owner.
unsafe impl Send for PinnedMem {}
unsafe impl Sync for PinnedMem {}

impl PinnedMem {
    /// `bytes` (at least 1) of page-locked host memory, zeroed.
    pub fn alloc(ctx: &Context, bytes: usize) -> Result<PinnedMem, DriverError> {
        Self::alloc_flags(ctx, bytes, 0)
    }

    /// [`PinnedMem::alloc`], page-locked for every context (`CU_MEMHOSTALLOC_PORTABLE`): a
    /// copy staged between two GPUs uses it from both.
    pub fn alloc_portable(ctx: &Context, bytes: usize) -> Result<PinnedMem, DriverError> {
        Self::alloc_flags(ctx, bytes, sys::CU_MEMHOSTALLOC_PORTABLE)
    }

    fn alloc_flags(ctx: &Context, bytes: usize, flags: c_uint) -> Result<PinnedMem, DriverError> {
        ctx.bind()?;
        let len = bytes.max(1);
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-parameter call with the context current.
        unsafe { sys::cuMemHostAlloc(&mut p, len, flags) }.result()?;
        // SAFETY: the driver returned `len` writable bytes.
        unsafe { std::ptr::write_bytes(p as *mut u8, 0, len) };
        Ok(PinnedMem {
            ctx: ctx.raw(),
            ptr: p as *mut u8,
            len,
        })
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    /// The bytes. The caller must have waited for every copy that uses them.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes owned by this value.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The bytes, writable. The caller must have waited for every copy that uses them.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `len` initialised bytes owned by this value, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for PinnedMem {
    fn drop(&mut self) {
        let (ctx, p) = (self.ctx, self.ptr);
        quietly(|| {
            let _ = set_current(ctx);
            // SAFETY: allocated by `alloc`, freed once; the owner synchronised first.
            unsafe { sys::cuMemFreeHost(p as *mut c_void) }
        });
    }
}

/// Host → device, asynchronously on `stream`.
///
/// # Safety
/// `src` must hold `bytes` readable bytes until the copy completes (pinned memory, or the
/// caller synchronises before the memory goes), and `dst` must be `bytes` writable device bytes.
pub(crate) unsafe fn copy_htod(
    stream: &Stream,
    dst: u64,
    src: *const u8,
    bytes: usize,
) -> Result<(), DriverError> {
    set_current(stream.ctx)?;
    // SAFETY: see the function's contract.
    unsafe { sys::cuMemcpyHtoDAsync_v2(dst, src as *const c_void, bytes, stream.raw()) }.result()
}

/// Device → host, asynchronously on `stream`.
///
/// # Safety
/// `dst` must hold `bytes` writable bytes until the copy completes, and `src` must be `bytes`
/// readable device bytes.
pub(crate) unsafe fn copy_dtoh(
    stream: &Stream,
    dst: *mut u8,
    src: u64,
    bytes: usize,
) -> Result<(), DriverError> {
    set_current(stream.ctx)?;
    // SAFETY: see the function's contract.
    unsafe { sys::cuMemcpyDtoHAsync_v2(dst as *mut c_void, src, bytes, stream.raw()) }.result()
}

/// Device → device between two contexts (`cuMemcpyPeerAsync`), on `stream`.
///
/// # Safety
/// `src` must be `bytes` readable device bytes of `src_ctx`'s device and `dst` `bytes`
/// writable ones of `dst_ctx`'s, alive until the copy completes.
pub(crate) unsafe fn copy_peer(
    stream: &Stream,
    (dst, dst_ctx): (u64, &Context),
    (src, src_ctx): (u64, &Context),
    bytes: usize,
) -> Result<(), DriverError> {
    set_current(stream.ctx)?;
    // SAFETY: see the function's contract.
    unsafe { sys::cuMemcpyPeerAsync(dst, dst_ctx.raw(), src, src_ctx.raw(), bytes, stream.raw()) }
        .result()
}

/// A loaded PTX module, unloaded on drop.
pub(crate) struct Module {
    ctx: sys::CUcontext,
    module: sys::CUmodule,
}

// SAFETY: opaque driver handles, used with their context bound.
unsafe impl Send for Module {}
unsafe impl Sync for Module {}

impl Module {
    /// Loads NUL-free PTX text into `ctx` (the driver's JIT runs here). On failure, the error
    /// and the JIT's log.
    pub fn load(ctx: &Context, ptx: &str) -> Result<Module, (DriverError, String)> {
        ctx.bind().map_err(|e| (e, String::new()))?;
        let image = CString::new(ptx).map_err(|_| {
            (
                DriverError(sys::CUresult::CUDA_ERROR_INVALID_IMAGE),
                "the PTX contains a NUL byte".to_string(),
            )
        })?;
        let mut log = vec![0u8; 8192];
        let mut options = [
            sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
            sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        ];
        let mut values: [*mut c_void; 2] =
            [log.as_mut_ptr() as *mut c_void, log.len() as *mut c_void];
        let mut module: sys::CUmodule = std::ptr::null_mut();
        // SAFETY: `image` is NUL-terminated PTX; the option arrays have equal length and the
        // log buffer outlives the call.
        let r = unsafe {
            sys::cuModuleLoadDataEx(
                &mut module,
                image.as_ptr() as *const c_void,
                options.len() as c_uint,
                options.as_mut_ptr(),
                values.as_mut_ptr(),
            )
        };
        match r.result() {
            Ok(()) => Ok(Module {
                ctx: ctx.raw(),
                module,
            }),
            Err(e) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                Err((e, String::from_utf8_lossy(&log[..end]).trim().to_string()))
            }
        }
    }

    /// A kernel entry point of this module.
    pub fn function(&self, name: &str) -> Result<sys::CUfunction, DriverError> {
        let name =
            CString::new(name).map_err(|_| DriverError(sys::CUresult::CUDA_ERROR_INVALID_VALUE))?;
        set_current(self.ctx)?;
        let mut f: sys::CUfunction = std::ptr::null_mut();
        // SAFETY: out-parameter call on a loaded module with its context current.
        unsafe { sys::cuModuleGetFunction(&mut f, self.module, name.as_ptr()) }.result()?;
        Ok(f)
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let (ctx, m) = (self.ctx, self.module);
        quietly(|| {
            let _ = set_current(ctx);
            // SAFETY: loaded by `load`, unloaded once.
            unsafe { sys::cuModuleUnload(m) }
        });
    }
}

/// Launches `f` on `stream`.
///
/// # Safety
/// `f` must belong to the stream's context, and `params` must hold one pointer per kernel
/// parameter, in order, each to a value of that parameter's size that lives until the call
/// returns.
pub(crate) unsafe fn launch(
    f: sys::CUfunction,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
    shared_bytes: u32,
    stream: &Stream,
    params: &mut [*mut c_void],
) -> Result<(), DriverError> {
    set_current(stream.ctx)?;
    // SAFETY: see the function's contract; no `extra` array.
    unsafe {
        sys::cuLaunchKernel(
            f,
            grid.0,
            grid.1,
            grid.2,
            block.0,
            block.1,
            block.2,
            shared_bytes,
            stream.raw(),
            params.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    }
    .result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{cuda_version_string, OLDEST_BRANCH, OLDEST_DRIVER};

    /// The entry points of the oldest supported driver: everything gpugate-sim's R418 exports
    /// (its table in `sim/src/driver_releases.rs` hides what came after CUDA 10.1).
    const R418_LACKS: &[&str] = &[
        "cuDevicePrimaryCtxRelease_v2",
        "cuDeviceGetUuid_v2",
        "cuMemAllocAsync",
        "cuMemFreeAsync",
        "cuEventElapsedTime_v2",
    ];

    fn every_name() -> Vec<&'static str> {
        DRIVER_CALLS
            .iter()
            .flat_map(|c| c.names.iter().map(|(n, _)| *n))
            .collect()
    }

    #[test]
    fn every_required_call_exists_in_the_oldest_supported_driver() {
        for c in DRIVER_CALLS {
            let oldest = c.names.iter().map(|(_, v)| *v).min().unwrap();
            if c.without.is_none() {
                assert!(oldest <= OLDEST_DRIVER, "{:?}", c.names);
            }
        }
        let r418 = |n: &str| !R418_LACKS.contains(&n);
        assert!(missing_required(r418).is_empty());
        // Memory pools and the context-creation calls are never used.
        let names = every_name();
        for never in [
            "cuMemAllocAsync",
            "cuMemFreeAsync",
            "cuCtxCreate_v2",
            "cuCtxSetFlags",
        ] {
            assert!(!names.contains(&never), "{never}");
        }
        assert_eq!(
            cuda_version_string(OLDEST_DRIVER),
            "10.1",
            "{OLDEST_BRANCH}"
        );
    }

    #[test]
    fn a_driver_without_a_required_call_is_named() {
        let no_launch = |n: &str| n != "cuLaunchKernel";
        assert_eq!(missing_required(no_launch), ["cuLaunchKernel (CUDA 4.0+)"]);
        // Both forms of a call must be missing for it to be missing.
        let no_release = |n: &str| !n.starts_with("cuDevicePrimaryCtxRelease");
        assert_eq!(
            missing_required(no_release),
            ["cuDevicePrimaryCtxRelease_v2 or cuDevicePrimaryCtxRelease (CUDA 7.0+)"]
        );
        // The UUID is optional: a driver without it is not refused.
        let no_uuid = |n: &str| !n.starts_with("cuDeviceGetUuid");
        assert!(missing_required(no_uuid).is_empty());
        assert!(missing_required(|_| false).len() > 20);
    }

    #[test]
    fn fallbacks_take_the_newest_entry_point_the_driver_has() {
        let all = |_: &str| true;
        let r418 = |n: &str| !R418_LACKS.contains(&n);
        let r375 = |n: &str| !R418_LACKS.contains(&n) && n != "cuDeviceGetUuid";
        assert_eq!(
            first_present(&RELEASE_SYMBOLS, all),
            Some("cuDevicePrimaryCtxRelease_v2")
        );
        assert_eq!(
            first_present(&RELEASE_SYMBOLS, r418),
            Some("cuDevicePrimaryCtxRelease")
        );
        assert_eq!(
            first_present(&UUID_SYMBOLS, all),
            Some("cuDeviceGetUuid_v2")
        );
        assert_eq!(first_present(&UUID_SYMBOLS, r418), Some("cuDeviceGetUuid"));
        assert_eq!(first_present(&UUID_SYMBOLS, r375), None);
        let elapsed = super::super::device::elapsed_symbols(10010);
        assert_eq!(first_present(&elapsed, r418), Some("cuEventElapsedTime"));
        // A driver of 12.8+ that (oddly) lacks _v2 still gets the original.
        let elapsed = super::super::device::elapsed_symbols(12080);
        assert_eq!(first_present(&elapsed, r418), Some("cuEventElapsedTime"));
        assert_eq!(first_present(&elapsed, all), Some("cuEventElapsedTime_v2"));
    }

    /// Every `sys::cu…(` call in `src/cuda/` is in [`DRIVER_CALLS`], so the table (and the
    /// check that the driver has each entry point before any is called) stays complete.
    #[test]
    fn every_driver_call_in_the_source_is_in_the_table() {
        let names = every_name();
        let sources = [
            include_str!("mod.rs"),
            include_str!("device.rs"),
            include_str!("driver.rs"),
            include_str!("blas.rs"),
        ];
        let mut seen = Vec::new();
        for src in sources {
            for (i, _) in src.match_indices("sys::cu") {
                let rest = &src[i + "sys::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // Calls only (not types such as cudaStream_t); culib loads the library, cuBLAS
                // has its own entry points.
                let call = rest[name.len()..].starts_with('(');
                if !call || name == "culib" || name.starts_with("cublas") {
                    continue;
                }
                assert!(
                    names.contains(&name.as_str()),
                    "{name} is not in DRIVER_CALLS"
                );
                seen.push(name);
            }
        }
        assert!(seen.len() > 20, "{seen:?}");
    }

    #[test]
    fn the_table_names_the_fallbacks_this_layer_uses() {
        let names = every_name();
        for n in RELEASE_SYMBOLS.iter().chain(&UUID_SYMBOLS) {
            assert!(names.contains(n), "{n}");
        }
        for n in super::super::device::elapsed_symbols(12080) {
            assert!(names.contains(&n), "{n}");
        }
    }
}
