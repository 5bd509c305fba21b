//! Helpers shared by the driver and NVML test binaries: install a machine for this process,
//! call the exports, and a tiny PTX module.
#![allow(dead_code)]

use std::ffi::{c_int, c_void, CString};
use std::path::PathBuf;
use std::sync::OnceLock;

pub use cudarc::driver::sys::{
    CUcontext, CUdevice, CUdeviceptr, CUevent, CUfunction, CUmodule, CUresult, CUstream,
};
pub use gpugate_sim::driver::{context::*, device::*, launch::*, memory::*};
pub use gpugate_sim::driver::{module::*, stream::*};

use gpugate_sim::config::{self, Config};

/// Installs the machine of this test binary (once; every test calls it first) and returns
/// the path of its simulator log.
pub fn machine(models: &[&str], faults: &[&str]) -> &'static PathBuf {
    static LOG: OnceLock<PathBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
        let faults: Vec<String> = faults.iter().map(|s| s.to_string()).collect();
        let mut cfg = Config::build(&models, &faults).expect("test machine");
        let log = std::env::temp_dir().join(format!(
            "gpugate-sim-test-{}-{}.jsonl",
            std::process::id(),
            std::env::args()
                .next()
                .map(|a| a.rsplit('/').next().unwrap_or("t").to_string())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_file(&log);
        cfg.log = Some(log.clone());
        cfg.threads = 2;
        assert!(
            config::install_for_tests(cfg),
            "the machine must be installed before anything reads the configuration"
        );
        log
    })
}

/// Asserts CUDA_SUCCESS, naming the call.
#[track_caller]
pub fn ok(r: CUresult) {
    assert_eq!(r, CUresult::CUDA_SUCCESS);
}

pub fn init() {
    ok(cuInit(0));
}

/// A new context on `dev`, current on this thread.
pub fn new_ctx(dev: CUdevice) -> CUcontext {
    let mut c: CUcontext = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuCtxCreate_v2(&mut c, 0, dev) });
    c
}

pub fn alloc(bytes: usize) -> CUdeviceptr {
    let mut p: CUdeviceptr = 0;
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuMemAlloc_v2(&mut p, bytes) });
    p
}

pub fn htod(dst: CUdeviceptr, src: &[u8]) -> CUresult {
    // SAFETY: `src` is valid for its length.
    unsafe { cuMemcpyHtoD_v2(dst, src.as_ptr() as *const c_void, src.len()) }
}

pub fn dtoh(dst: &mut [u8], src: CUdeviceptr) -> CUresult {
    // SAFETY: `dst` is valid for its length.
    unsafe { cuMemcpyDtoH_v2(dst.as_mut_ptr() as *mut c_void, src, dst.len()) }
}

pub fn new_stream(flags: u32) -> CUstream {
    let mut s: CUstream = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuStreamCreate(&mut s, flags) });
    s
}

pub fn new_event(flags: u32) -> CUevent {
    let mut e: CUevent = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuEventCreate(&mut e, flags) });
    e
}

pub fn elapsed_ms(a: CUevent, b: CUevent) -> f32 {
    let mut ms = 0f32;
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuEventElapsedTime(&mut ms, a, b) });
    ms
}

pub fn attr(a: c_int, dev: CUdevice) -> Result<i32, CUresult> {
    let mut v = 0;
    // SAFETY: a valid out-pointer.
    match unsafe { cuDeviceGetAttribute(&mut v, a, dev) } {
        CUresult::CUDA_SUCCESS => Ok(v),
        e => Err(e),
    }
}

/// Loads PTX text with error and info log buffers; returns the module or (error, error log).
pub fn load_ptx(text: &str) -> Result<(CUmodule, String), (CUresult, String)> {
    use cudarc::driver::sys::CUjit_option as J;
    let image = CString::new(text).unwrap();
    let mut err = vec![0u8; 4096];
    let mut info = vec![0u8; 4096];
    let mut opts: [c_int; 5] = [
        J::CU_JIT_ERROR_LOG_BUFFER as c_int,
        J::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES as c_int,
        J::CU_JIT_INFO_LOG_BUFFER as c_int,
        J::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES as c_int,
        J::CU_JIT_WALL_TIME as c_int,
    ];
    let mut vals: [*mut c_void; 5] = [
        err.as_mut_ptr() as *mut c_void,
        err.len() as *mut c_void,
        info.as_mut_ptr() as *mut c_void,
        info.len() as *mut c_void,
        std::ptr::null_mut(),
    ];
    let mut m: CUmodule = std::ptr::null_mut();
    // SAFETY: NUL-terminated image; the option arrays hold 5 entries; the buffers outlive the
    // call.
    let r = unsafe {
        cuModuleLoadDataEx(
            &mut m,
            image.as_ptr() as *const c_void,
            5,
            opts.as_mut_ptr(),
            vals.as_mut_ptr(),
        )
    };
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    if r == CUresult::CUDA_SUCCESS {
        // The SIZE_BYTES slot now holds the bytes written.
        assert_eq!(vals[3] as usize, text(&info).len());
        Ok((m, text(&info)))
    } else {
        assert_eq!(vals[1] as usize, text(&err).len());
        Err((r, text(&err)))
    }
}

pub fn get_function(m: CUmodule, name: &str) -> Result<CUfunction, CUresult> {
    let n = CString::new(name).unwrap();
    let mut f: CUfunction = std::ptr::null_mut();
    // SAFETY: valid out-pointer and NUL-terminated name.
    match unsafe { cuModuleGetFunction(&mut f, m, n.as_ptr()) } {
        CUresult::CUDA_SUCCESS => Ok(f),
        e => Err(e),
    }
}

/// Launches `f` with 8-byte argument slots (as gpugate passes them).
pub fn launch(
    f: CUfunction,
    grid: u32,
    block: u32,
    stream: CUstream,
    args: &mut [u64],
) -> CUresult {
    let mut ptrs: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| a as *mut u64 as *mut c_void)
        .collect();
    // SAFETY: one pointer per parameter, each to 8 readable bytes.
    unsafe {
        cuLaunchKernel(
            f,
            grid,
            1,
            1,
            block,
            1,
            1,
            0,
            stream,
            ptrs.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    }
}

/// The JSON records of the simulator log.
pub fn log_records(path: &PathBuf) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A kernel that adds 1.0 to each of `n` floats, a global counter initialised to 7 and a
/// constant table; PTX ISA 6.0 for sm_52, as NVRTC writes it.
pub const ADD_ONE_PTX: &str = r#"
//
// Generated by hand for gpugate-sim's tests
//
.version 6.0
.target sm_52
.address_size 64

.visible .global .align 4 .u32 counter = 7;
.visible .const .align 4 .f32 scale[2] = {0f3F800000, 0f40000000};

.visible .entry add_one(
	.param .u64 add_one_param_0,
	.param .u32 add_one_param_1
)
.maxntid 256, 1, 1
{
	.reg .pred 	%p<2>;
	.reg .f32 	%f<3>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<5>;

	ld.param.u64 	%rd1, [add_one_param_0];
	ld.param.u32 	%r2, [add_one_param_1];
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mov.u32 	%r5, %tid.x;
	mad.lo.s32 	%r1, %r3, %r4, %r5;
	setp.ge.u32 	%p1, %r1, %r2;
	@%p1 bra 	$L__BB0_2;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.f32 	%f1, [%rd4];
	add.f32 	%f2, %f1, 0f3F800000;
	st.global.f32 	[%rd4], %f2;
$L__BB0_2:
	ret;
}
"#;

/// "GPU-xxxxxxxx-…" as gpugate formats a CUuuid (src/cuda/mod.rs::format_uuid).
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let h: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// "00000000:BB:DD.0" as gpugate formats the PCI attributes (src/cuda/mod.rs).
pub fn format_pci_bus_id(domain: u32, bus: u32, device: u32) -> String {
    format!("{domain:08x}:{bus:02x}:{device:02x}.0")
}

/// A device's UUID through the driver API.
pub fn uuid(dev: CUdevice) -> [u8; 16] {
    let mut u = cudarc::driver::sys::CUuuid { bytes: [0; 16] };
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuDeviceGetUuid_v2(&mut u, dev) });
    u.bytes.map(|b| b as u8)
}
