//! Modules (PTX text only), their functions and globals, and function attributes.
//!
//! `cuModuleLoadData(Ex)` runs the PTX front end ([`crate::ptx::Module::load`]) with the
//! device's SM and the newest PTX ISA the (simulated) driver's JIT accepts; module variables
//! are placed in device memory of the current context. A load error is
//! CUDA_ERROR_INVALID_PTX or CUDA_ERROR_UNSUPPORTED_PTX_VERSION with the front end's log in the
//! JIT error log buffer (CU_JIT_ERROR_LOG_BUFFER / _SIZE_BYTES); a successful load writes a
//! line to the info log (CU_JIT_INFO_LOG_BUFFER / _SIZE_BYTES) and its wall time to
//! CU_JIT_WALL_TIME.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::sys::{
    CUdeviceptr, CUfunction, CUfunction_attribute_enum as F, CUjit_option_enum as J, CUmodule,
    CUresult,
};
use serde_json::json;

use super::state::{driver, function_handle, id_of, module_handle, Allocation, FunctionRec};
use super::state::{Inner, Kind, ModuleRec};
use super::{guard, log, out, CuResult};
use crate::ptx::{self, LoadError, LoadErrorKind, LoadOptions, ModuleVar};

/// A log buffer from the JIT options: (buffer, size, index of the SIZE_BYTES option).
type LogTarget = Option<(*mut c_char, usize, usize)>;

/// The JIT options this driver reads or writes.
#[derive(Default)]
struct JitOptions {
    info: LogTarget,
    error: LogTarget,
    /// Index of CU_JIT_WALL_TIME (an output).
    wall_time: Option<usize>,
}

/// Reads the option arrays of cuModuleLoadDataEx. Options other than the log buffers and the
/// wall time are accepted and have no effect (there is no code generation to tune); a value
/// outside the CUjit_option enum is CUDA_ERROR_INVALID_VALUE.
///
/// # Safety
/// `options` and `values` must each hold `n` entries (when `n > 0`).
unsafe fn read_options(
    n: c_uint,
    options: *mut c_int,
    values: *mut *mut c_void,
) -> CuResult<JitOptions> {
    let mut o = JitOptions::default();
    if n == 0 {
        return Ok(o);
    }
    if options.is_null() || values.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let (mut info_buf, mut info_size, mut err_buf, mut err_size) = (None, None, None, None);
    for i in 0..n as usize {
        // SAFETY: both arrays hold `n` entries (the caller's promise).
        let (opt, val) = unsafe { (*options.add(i), *values.add(i)) };
        if !(0..J::CU_JIT_NUM_OPTIONS as c_int).contains(&opt) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let is = |j: J| opt == j as c_int;
        // The SIZE_BYTES values are unsigned ints passed in the pointer-sized slot.
        let size = val as usize & 0xffff_ffff;
        if is(J::CU_JIT_INFO_LOG_BUFFER) {
            info_buf = Some(val as *mut c_char);
        } else if is(J::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) {
            info_size = Some((size, i));
        } else if is(J::CU_JIT_ERROR_LOG_BUFFER) {
            err_buf = Some(val as *mut c_char);
        } else if is(J::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
            err_size = Some((size, i));
        } else if is(J::CU_JIT_WALL_TIME) {
            o.wall_time = Some(i);
        }
    }
    if let (Some(b), Some((s, i))) = (info_buf, info_size) {
        o.info = Some((b, s, i));
    }
    if let (Some(b), Some((s, i))) = (err_buf, err_size) {
        o.error = Some((b, s, i));
    }
    Ok(o)
}

/// Writes `text` into a log buffer (capped, NUL-terminated) and the bytes written into the
/// option's value slot (the SIZE_BYTES option is IN: size, OUT: bytes filled).
///
/// # Safety
/// The buffer must hold its declared size; `values` must hold the slot.
unsafe fn write_log(target: LogTarget, values: *mut *mut c_void, text: &str) {
    let Some((buf, size, slot)) = target else {
        return;
    };
    if buf.is_null() || size == 0 {
        return;
    }
    let n = text.len().min(size - 1);
    // SAFETY: `buf` holds `size` bytes and n + 1 <= size; the slot is within `values`.
    unsafe {
        super::write_c_string(buf, size, text);
        *values.add(slot) = n as *mut c_void;
    }
}

/// The image as PTX text, or why it is not.
///
/// # Safety
/// `image` must be a NUL-terminated string (or a binary image with a header).
unsafe fn image_text(image: *const c_void) -> Result<String, (CUresult, String)> {
    if image.is_null() {
        return Err((CUresult::CUDA_ERROR_INVALID_VALUE, "no image".into()));
    }
    // Up to 4 bytes, stopping at a NUL: a binary image starts with a magic number.
    let mut head = [0u8; 4];
    for (i, h) in head.iter_mut().enumerate() {
        // SAFETY: bytes up to and including the first NUL are readable (a C string), and a
        // binary image is longer than its 4-byte magic.
        *h = unsafe { *(image as *const u8).add(i) };
        if *h == 0 {
            break;
        }
    }
    if &head == b"\x7fELF" || head == [0x50, 0xed, 0x55, 0xba] || head == [0xb1, 0x43, 0x62, 0x46] {
        return Err((
            CUresult::CUDA_ERROR_INVALID_IMAGE,
            "gpugate-sim: this is a cubin or fatbin image; the simulator runs PTX text only".into(),
        ));
    }
    // SAFETY: the caller's NUL-terminated text.
    let c = unsafe { CStr::from_ptr(image as *const c_char) };
    c.to_str().map(str::to_string).map_err(|e| {
        (
            CUresult::CUDA_ERROR_INVALID_PTX,
            format!("gpugate-sim: the PTX is not valid UTF-8 ({e})"),
        )
    })
}

/// The CUDA error of a front-end error kind.
pub fn load_error_code(kind: LoadErrorKind) -> CUresult {
    match kind {
        LoadErrorKind::InvalidPtx => CUresult::CUDA_ERROR_INVALID_PTX,
        LoadErrorKind::UnsupportedPtxVersion => CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION,
    }
}

/// # Safety
/// As cuModuleLoadDataEx.
unsafe fn load(
    pmod: *mut CUmodule,
    image: *const c_void,
    n: c_uint,
    options: *mut c_int,
    values: *mut *mut c_void,
) -> CuResult {
    // SAFETY: forwarded caller contract.
    let opts = unsafe { read_options(n, options, values)? };
    // Every failure leaves a line in the error log, so its SIZE_BYTES output is always set.
    let fail = |code: CUresult, why: &str| -> CuResult {
        let msg = format!(
            "gpugate-sim: {} ({}){why}",
            super::errors::name(code),
            super::errors::description(code)
        );
        // SAFETY: the caller's log buffer and option values.
        unsafe { write_log(opts.error, values, &msg) };
        Err(code)
    };
    let d = match driver() {
        Ok(d) => d,
        Err(code) => return fail(code, ""),
    };
    if pmod.is_null() {
        return fail(
            CUresult::CUDA_ERROR_INVALID_VALUE,
            ": no module out-pointer",
        );
    }
    let current = {
        let st = d.lock();
        st.current().map(|c| (c, st.ctxs[&c].device))
    };
    let (ctx, dev) = match current {
        Ok(x) => x,
        Err(code) => return fail(code, ": no current context"),
    };
    if let Err(code) = d.sticky(dev) {
        return fail(code, ": an earlier kernel fault on this device is sticky");
    }
    let gpu = d.gpu(dev);
    // SAFETY: forwarded caller contract.
    let text = match unsafe { image_text(image) } {
        Ok(t) => t,
        Err((code, msg)) => {
            // SAFETY: the caller's log buffer and option values.
            unsafe { write_log(opts.error, values, &msg) };
            return Err(code);
        }
    };
    let lo = LoadOptions {
        sm: gpu.model.sm(),
        max_isa: d.machine.config.max_ptx_isa(),
    };
    let mut placed: Vec<(String, Arc<Allocation>, bool)> = Vec::new();
    let mut oom = false;
    let mut place = |v: &ModuleVar| -> Result<u64, LoadError> {
        let mut st = d.lock();
        match st.allocate(gpu, ctx, v.size.max(1) as u64, v.constant) {
            Ok(a) => {
                let n = v.init.len().min(v.size);
                // SAFETY: the allocation holds at least `size` bytes.
                unsafe { std::ptr::copy_nonoverlapping(v.init.as_ptr(), a.ptr, n) };
                let base = a.base;
                placed.push((v.name.clone(), a, v.constant));
                Ok(base)
            }
            Err(_) => {
                oom = true;
                Err(LoadError {
                    kind: LoadErrorKind::InvalidPtx,
                    log: format!(
                        "gpugate-sim: out of device memory placing module variable '{}' ({} \
                         bytes)",
                        v.name, v.size
                    ),
                })
            }
        }
    };
    let t0 = Instant::now();
    let result = ptx::Module::load(&text, &lo, &mut place);
    let ms = t0.elapsed().as_secs_f32() * 1e3;
    if let Some(slot) = opts.wall_time {
        // SAFETY: the slot is within `values`; CU_JIT_WALL_TIME's output is a float written
        // over the option value.
        unsafe { (values.add(slot) as *mut f32).write_unaligned(ms) };
    }
    match result {
        Err(e) => {
            {
                let mut st = d.lock();
                for (_, a, _) in &placed {
                    let _ = st.free(d.machine, a.base);
                }
            }
            // SAFETY: the caller's log buffer and option values.
            unsafe { write_log(opts.error, values, &e.log) };
            let code = if oom {
                CUresult::CUDA_ERROR_OUT_OF_MEMORY
            } else {
                load_error_code(e.kind)
            };
            if log::enabled() {
                log::record(json!({
                    "event": "module_load",
                    "gpu": dev,
                    "error": {"code": super::errors::name(code), "log": e.log},
                }));
            }
            Err(code)
        }
        Ok(m) => {
            let m = Arc::new(m);
            let isa = m.isa();
            let names = m.kernel_names();
            let info = format!(
                "gpugate-sim: loaded PTX ISA {}.{} for sm_{} on {} (JIT up to ISA {}.{}): {} \
                 entr{}",
                isa.0,
                isa.1,
                m.target_sm(),
                gpu.model.name,
                lo.max_isa.0,
                lo.max_isa.1,
                names.len(),
                if names.len() == 1 { "y" } else { "ies" }
            );
            let const_bytes = placed
                .iter()
                .filter(|(_, _, c)| *c)
                .map(|(_, a, _)| a.size)
                .sum();
            let vars = placed
                .iter()
                .map(|(n, a, _)| (n.clone(), a.base, a.size))
                .collect();
            let id = {
                let mut st = d.lock();
                let id = st.new_id();
                st.modules.insert(
                    id,
                    ModuleRec {
                        ctx,
                        module: m.clone(),
                        vars,
                        functions: HashMap::new(),
                        const_bytes,
                    },
                );
                id
            };
            // SAFETY: the caller's log buffer and option values.
            unsafe { write_log(opts.info, values, &info) };
            if log::enabled() {
                log::record(json!({
                    "event": "module_load",
                    "gpu": dev,
                    "isa": format!("{}.{}", isa.0, isa.1),
                    "target": format!("sm_{}", m.target_sm()),
                    "entries": names,
                    "error": null,
                }));
            }
            // SAFETY: checked non-null.
            unsafe { out(pmod, module_handle(id)) }
        }
    }
}

/// `CUresult cuModuleLoadData(CUmodule *module, const void *image)`
///
/// # Safety
/// `image` must be NUL-terminated PTX text.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadData(pmod: *mut CUmodule, image: *const c_void) -> CUresult {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { load(pmod, image, 0, std::ptr::null_mut(), std::ptr::null_mut()) })
}

/// `CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
/// CUjit_option *options, void **optionValues)`
///
/// # Safety
/// `image` must be NUL-terminated PTX text; the option arrays must hold `n` entries.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoadDataEx(
    pmod: *mut CUmodule,
    image: *const c_void,
    n: c_uint,
    options: *mut c_int,
    values: *mut *mut c_void,
) -> CUresult {
    // SAFETY: forwarded caller contract.
    guard(|| unsafe { load(pmod, image, n, options, values) })
}

/// `CUresult cuModuleLoad(CUmodule *module, const char *fname)`: a PTX file
/// (CUDA_ERROR_FILE_NOT_FOUND when it cannot be read).
///
/// # Safety
/// `fname` must be NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn cuModuleLoad(pmod: *mut CUmodule, fname: *const c_char) -> CUresult {
    guard(|| {
        driver()?;
        if fname.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: the caller's NUL-terminated path.
        let path = unsafe { CStr::from_ptr(fname) }
            .to_string_lossy()
            .into_owned();
        let mut bytes = std::fs::read(&path).map_err(|_| CUresult::CUDA_ERROR_FILE_NOT_FOUND)?;
        bytes.retain(|&b| b != 0);
        bytes.push(0);
        // SAFETY: `bytes` is NUL-terminated and outlives the call.
        unsafe {
            load(
                pmod,
                bytes.as_ptr() as *const c_void,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        }
    })
}

fn module_id(h: CUmodule) -> CuResult<u64> {
    id_of(Kind::Module, h as usize).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

/// `CUresult cuModuleUnload(CUmodule hmod)`: frees its variables; its functions become invalid.
#[no_mangle]
pub extern "C" fn cuModuleUnload(h: CUmodule) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let id = module_id(h)?;
        let m = st
            .modules
            .remove(&id)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        for (_, base, _) in &m.vars {
            let _ = st.free(d.machine, *base);
        }
        st.functions.retain(|_, f| f.module != id);
        Ok(())
    })
}

/// `CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)`:
/// CUDA_ERROR_NOT_FOUND for a name that is not an entry.
///
/// # Safety
/// `name` must be NULL or NUL-terminated; `hfunc` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuModuleGetFunction(
    hfunc: *mut CUfunction,
    h: CUmodule,
    name: *const c_char,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        if hfunc.is_null() || name.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: the caller's NUL-terminated name.
        let name = unsafe { CStr::from_ptr(name) }
            .to_str()
            .map_err(|_| CUresult::CUDA_ERROR_NOT_FOUND)?
            .to_string();
        let mut st = d.lock();
        let id = module_id(h)?;
        let m = st
            .modules
            .get(&id)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        if let Some(f) = m.functions.get(&name) {
            let f = *f;
            // SAFETY: checked non-null.
            return unsafe { out(hfunc, function_handle(f)) };
        }
        let kernel = m
            .module
            .kernel(&name)
            .ok_or(CUresult::CUDA_ERROR_NOT_FOUND)?;
        let rec = FunctionRec {
            ctx: m.ctx,
            module: id,
            kernel,
            max_dynamic_shared: None,
            carveout: -1,
            isa: m.module.isa(),
            target_sm: m.module.target_sm(),
            const_bytes: m.const_bytes,
        };
        let fid = st.new_id();
        st.functions.insert(fid, rec);
        st.modules
            .get_mut(&id)
            .expect("checked above")
            .functions
            .insert(name, fid);
        // SAFETY: checked non-null.
        unsafe { out(hfunc, function_handle(fid)) }
    })
}

/// `CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char
/// *name)`: either out-pointer may be NULL.
///
/// # Safety
/// `name` must be NULL or NUL-terminated; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuModuleGetGlobal_v2(
    dptr: *mut CUdeviceptr,
    bytes: *mut usize,
    h: CUmodule,
    name: *const c_char,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        if name.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: the caller's NUL-terminated name.
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        let st = d.lock();
        let m = st
            .modules
            .get(&module_id(h)?)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        let (_, base, size) = m
            .vars
            .iter()
            .find(|(n, _, _)| *n == name)
            .ok_or(CUresult::CUDA_ERROR_NOT_FOUND)?;
        // SAFETY: each is written only when non-null.
        unsafe {
            if !dptr.is_null() {
                dptr.write(*base);
            }
            if !bytes.is_null() {
                bytes.write(*size as usize);
            }
        }
        Ok(())
    })
}

pub(crate) fn function_id(h: CUfunction) -> CuResult<u64> {
    id_of(Kind::Function, h as usize).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

/// The live function `h`.
pub(crate) fn function(st: &Inner, h: CUfunction) -> CuResult<&FunctionRec> {
    st.functions
        .get(&function_id(h)?)
        .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

/// The live function `h` and the device of its context.
pub(crate) fn function_on(st: &Inner, h: CUfunction) -> CuResult<(&FunctionRec, usize)> {
    let f = function(st, h)?;
    let dev = st
        .ctxs
        .get(&f.ctx)
        .map(|c| c.device)
        .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
    Ok((f, dev))
}

/// The most threads a block of `f` may have on `max_per_block` device: the device limit,
/// `.maxntid` and `.reqntid`, whichever is least.
pub fn max_threads_per_block(f: &FunctionRec, device_max: u32) -> u32 {
    let prod = |(x, y, z): (u32, u32, u32)| x.saturating_mul(y).saturating_mul(z);
    let mut m = device_max;
    if let Some(t) = f.kernel.maxntid() {
        m = m.min(prod(t));
    }
    if let Some(t) = f.kernel.reqntid() {
        m = m.min(prod(t));
    }
    m
}

/// `CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)`:
/// MAX_THREADS_PER_BLOCK (device, .maxntid, .reqntid), SHARED_SIZE_BYTES (static),
/// CONST_SIZE_BYTES, LOCAL_SIZE_BYTES, NUM_REGS (the front end's estimate), PTX_VERSION,
/// BINARY_VERSION (the device's SM: what the JIT compiles for), CACHE_MODE_CA,
/// MAX_DYNAMIC_SHARED_SIZE_BYTES, PREFERRED_SHARED_MEMORY_CARVEOUT, and the cluster attributes
/// (0).
///
/// # Safety
/// `pi` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuFuncGetAttribute(
    pi: *mut c_int,
    attrib: c_int,
    hfunc: CUfunction,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        if pi.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let st = d.lock();
        let (f, dev) = function_on(&st, hfunc)?;
        let m = &d.gpu(dev).model;
        let k = &f.kernel;
        let is = |a: F| attrib == a as c_int;
        let static_shared = k.static_shared_bytes();
        let v: i64 = match () {
            _ if is(F::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK) => {
                max_threads_per_block(f, m.compute.max_threads_per_block) as i64
            }
            _ if is(F::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES) => static_shared as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES) => f.const_bytes as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES) => k.local_bytes() as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_NUM_REGS) => k.num_regs() as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_PTX_VERSION) => (f.isa.0 * 10 + f.isa.1) as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_BINARY_VERSION) => m.sm() as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_CACHE_MODE_CA) => 0,
            _ if is(F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) => f
                .max_dynamic_shared
                .unwrap_or(m.compute.shared_per_block.saturating_sub(static_shared))
                as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) => f.carveout as i64,
            _ if is(F::CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET)
                || is(F::CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH)
                || is(F::CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT)
                || is(F::CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH)
                || is(F::CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED)
                || is(F::CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE) =>
            {
                0
            }
            _ => return Err(CUresult::CUDA_ERROR_INVALID_VALUE),
        };
        // SAFETY: checked non-null.
        unsafe { out(pi, v.clamp(i32::MIN as i64, i32::MAX as i64) as c_int) }
    })
}

/// `CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)`:
/// MAX_DYNAMIC_SHARED_SIZE_BYTES (up to the device's opt-in maximum less the static shared
/// memory) and PREFERRED_SHARED_MEMORY_CARVEOUT (-1 to 100); the rest are read-only.
#[no_mangle]
pub extern "C" fn cuFuncSetAttribute(hfunc: CUfunction, attrib: c_int, value: c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let (_, dev) = function_on(&st, hfunc)?;
        let optin = d.gpu(dev).model.compute.shared_per_block_optin;
        let fid = function_id(hfunc)?;
        let f = st.functions.get_mut(&fid).expect("checked above");
        let is = |a: F| attrib == a as c_int;
        if is(F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
            let max = optin.saturating_sub(f.kernel.static_shared_bytes());
            if value < 0 || value as u32 > max {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            f.max_dynamic_shared = Some(value as u32);
            Ok(())
        } else if is(F::CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) {
            if !(-1..=100).contains(&value) {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            f.carveout = value;
            Ok(())
        } else {
            Err(CUresult::CUDA_ERROR_INVALID_VALUE)
        }
    })
}

/// `CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)`: a preference
/// (0–3), accepted and ignored.
#[no_mangle]
pub extern "C" fn cuFuncSetCacheConfig(hfunc: CUfunction, config: c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        let st = d.lock();
        function(&st, hfunc)?;
        if !(0..=3).contains(&config) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        Ok(())
    })
}
