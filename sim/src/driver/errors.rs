//! `cuGetErrorName` / `cuGetErrorString`: static names and the driver's own short descriptions
//! (the text a real `libcuda` returns, e.g. "an illegal memory access was encountered").

use std::ffi::{c_char, c_int};

use cudarc::driver::sys::CUresult;

use super::guard;

/// (code, name, description) for every code this driver can return, and the common others.
const TABLE: &[(c_int, &str, &str)] = &[
    (0, "CUDA_SUCCESS\0", "no error\0"),
    (1, "CUDA_ERROR_INVALID_VALUE\0", "invalid argument\0"),
    (2, "CUDA_ERROR_OUT_OF_MEMORY\0", "out of memory\0"),
    (3, "CUDA_ERROR_NOT_INITIALIZED\0", "initialization error\0"),
    (4, "CUDA_ERROR_DEINITIALIZED\0", "driver shutting down\0"),
    (
        5,
        "CUDA_ERROR_PROFILER_DISABLED\0",
        "profiler disabled while using external profiling tool\0",
    ),
    (
        6,
        "CUDA_ERROR_PROFILER_NOT_INITIALIZED\0",
        "profiler not initialized: call cudaProfilerInitialize()\0",
    ),
    (
        7,
        "CUDA_ERROR_PROFILER_ALREADY_STARTED\0",
        "profiler already started\0",
    ),
    (
        8,
        "CUDA_ERROR_PROFILER_ALREADY_STOPPED\0",
        "profiler already stopped\0",
    ),
    (
        34,
        "CUDA_ERROR_STUB_LIBRARY\0",
        "CUDA driver is a stub library\0",
    ),
    (
        46,
        "CUDA_ERROR_DEVICE_UNAVAILABLE\0",
        "CUDA-capable device(s) is/are busy or unavailable\0",
    ),
    (
        100,
        "CUDA_ERROR_NO_DEVICE\0",
        "no CUDA-capable device is detected\0",
    ),
    (
        101,
        "CUDA_ERROR_INVALID_DEVICE\0",
        "invalid device ordinal\0",
    ),
    (
        102,
        "CUDA_ERROR_DEVICE_NOT_LICENSED\0",
        "device doesn't have valid Grid license\0",
    ),
    (
        200,
        "CUDA_ERROR_INVALID_IMAGE\0",
        "device kernel image is invalid\0",
    ),
    (
        201,
        "CUDA_ERROR_INVALID_CONTEXT\0",
        "invalid device context\0",
    ),
    (
        202,
        "CUDA_ERROR_CONTEXT_ALREADY_CURRENT\0",
        "context already current\0",
    ),
    (
        205,
        "CUDA_ERROR_MAP_FAILED\0",
        "mapping of buffer object failed\0",
    ),
    (
        206,
        "CUDA_ERROR_UNMAP_FAILED\0",
        "unmapping of buffer object failed\0",
    ),
    (207, "CUDA_ERROR_ARRAY_IS_MAPPED\0", "array is mapped\0"),
    (
        208,
        "CUDA_ERROR_ALREADY_MAPPED\0",
        "resource already mapped\0",
    ),
    (
        209,
        "CUDA_ERROR_NO_BINARY_FOR_GPU\0",
        "no kernel image is available for execution on the device\0",
    ),
    (
        210,
        "CUDA_ERROR_ALREADY_ACQUIRED\0",
        "resource already acquired\0",
    ),
    (211, "CUDA_ERROR_NOT_MAPPED\0", "resource not mapped\0"),
    (
        212,
        "CUDA_ERROR_NOT_MAPPED_AS_ARRAY\0",
        "resource not mapped as array\0",
    ),
    (
        213,
        "CUDA_ERROR_NOT_MAPPED_AS_POINTER\0",
        "resource not mapped as pointer\0",
    ),
    (
        214,
        "CUDA_ERROR_ECC_UNCORRECTABLE\0",
        "uncorrectable ECC error encountered\0",
    ),
    (
        215,
        "CUDA_ERROR_UNSUPPORTED_LIMIT\0",
        "limit is not supported on this architecture\0",
    ),
    (
        216,
        "CUDA_ERROR_CONTEXT_ALREADY_IN_USE\0",
        "exclusive-thread device already in use by a different thread\0",
    ),
    (
        217,
        "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED\0",
        "peer access is not supported between these two devices\0",
    ),
    (
        218,
        "CUDA_ERROR_INVALID_PTX\0",
        "a PTX JIT compilation failed\0",
    ),
    (
        219,
        "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT\0",
        "invalid OpenGL or DirectX context\0",
    ),
    (
        220,
        "CUDA_ERROR_NVLINK_UNCORRECTABLE\0",
        "uncorrectable NVLink error detected during the execution\0",
    ),
    (
        221,
        "CUDA_ERROR_JIT_COMPILER_NOT_FOUND\0",
        "PTX JIT compiler library not found\0",
    ),
    (
        222,
        "CUDA_ERROR_UNSUPPORTED_PTX_VERSION\0",
        "the provided PTX was compiled with an unsupported toolchain.\0",
    ),
    (
        223,
        "CUDA_ERROR_JIT_COMPILATION_DISABLED\0",
        "PTX JIT compilation was disabled\0",
    ),
    (300, "CUDA_ERROR_INVALID_SOURCE\0", "invalid source\0"),
    (301, "CUDA_ERROR_FILE_NOT_FOUND\0", "file not found\0"),
    (
        302,
        "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND\0",
        "shared object symbol not found\0",
    ),
    (
        303,
        "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED\0",
        "shared object initialization failed\0",
    ),
    (
        304,
        "CUDA_ERROR_OPERATING_SYSTEM\0",
        "OS call failed or operation not supported on this OS\0",
    ),
    (
        400,
        "CUDA_ERROR_INVALID_HANDLE\0",
        "invalid resource handle\0",
    ),
    (
        401,
        "CUDA_ERROR_ILLEGAL_STATE\0",
        "the operation cannot be performed in the present state\0",
    ),
    (500, "CUDA_ERROR_NOT_FOUND\0", "named symbol not found\0"),
    (600, "CUDA_ERROR_NOT_READY\0", "device not ready\0"),
    (
        700,
        "CUDA_ERROR_ILLEGAL_ADDRESS\0",
        "an illegal memory access was encountered\0",
    ),
    (
        701,
        "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES\0",
        "too many resources requested for launch\0",
    ),
    (
        702,
        "CUDA_ERROR_LAUNCH_TIMEOUT\0",
        "the launch timed out and was terminated\0",
    ),
    (
        703,
        "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING\0",
        "launch uses incompatible texturing mode\0",
    ),
    (
        704,
        "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED\0",
        "peer access is already enabled\0",
    ),
    (
        705,
        "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED\0",
        "peer access has not been enabled\0",
    ),
    (
        708,
        "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE\0",
        "cannot set while device is active in this process\0",
    ),
    (
        709,
        "CUDA_ERROR_CONTEXT_IS_DESTROYED\0",
        "context is destroyed\0",
    ),
    (710, "CUDA_ERROR_ASSERT\0", "device-side assert triggered\0"),
    (
        711,
        "CUDA_ERROR_TOO_MANY_PEERS\0",
        "peer mapping resources exhausted\0",
    ),
    (
        712,
        "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED\0",
        "part or all of the requested memory range is already mapped\0",
    ),
    (
        713,
        "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED\0",
        "pointer does not correspond to a registered memory region\0",
    ),
    (
        714,
        "CUDA_ERROR_HARDWARE_STACK_ERROR\0",
        "hardware stack error\0",
    ),
    (
        715,
        "CUDA_ERROR_ILLEGAL_INSTRUCTION\0",
        "an illegal instruction was encountered\0",
    ),
    (
        716,
        "CUDA_ERROR_MISALIGNED_ADDRESS\0",
        "misaligned address\0",
    ),
    (
        717,
        "CUDA_ERROR_INVALID_ADDRESS_SPACE\0",
        "operation not supported on global/shared address space\0",
    ),
    (718, "CUDA_ERROR_INVALID_PC\0", "invalid program counter\0"),
    (
        719,
        "CUDA_ERROR_LAUNCH_FAILED\0",
        "unspecified launch failure\0",
    ),
    (
        720,
        "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE\0",
        "too many blocks in cooperative launch\0",
    ),
    (
        800,
        "CUDA_ERROR_NOT_PERMITTED\0",
        "operation not permitted\0",
    ),
    (
        801,
        "CUDA_ERROR_NOT_SUPPORTED\0",
        "operation not supported\0",
    ),
    (
        802,
        "CUDA_ERROR_SYSTEM_NOT_READY\0",
        "system not yet initialized\0",
    ),
    (
        803,
        "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH\0",
        "system has unsupported display driver / cuda driver combination\0",
    ),
    (
        804,
        "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE\0",
        "forward compatibility was attempted on non supported HW\0",
    ),
    (909, "CUDA_ERROR_TIMEOUT\0", "wait operation timed out\0"),
    (999, "CUDA_ERROR_UNKNOWN\0", "unknown error\0"),
];

fn entry(code: c_int) -> Option<&'static (c_int, &'static str, &'static str)> {
    TABLE.iter().find(|(c, _, _)| *c == code)
}

/// The name of a code without its NUL ("CUDA_ERROR_INVALID_VALUE"), or `"CUDA_ERROR_<n>"`.
pub fn name(code: CUresult) -> String {
    match entry(code as c_int) {
        Some((_, n, _)) => n.trim_end_matches('\0').to_string(),
        None => format!("CUDA_ERROR_{}", code as c_int),
    }
}

/// The description of a code without its NUL.
pub fn description(code: CUresult) -> String {
    match entry(code as c_int) {
        Some((_, _, d)) => d.trim_end_matches('\0').to_string(),
        None => "unknown error".to_string(),
    }
}

/// `CUresult cuGetErrorName(CUresult error, const char **pStr)`
///
/// # Safety
/// `p_str` must be NULL or point to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn cuGetErrorName(error: c_int, p_str: *mut *const c_char) -> CUresult {
    guard(|| {
        if p_str.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        match entry(error) {
            Some((_, n, _)) => {
                // SAFETY: checked non-null above; the caller provides the storage.
                unsafe { *p_str = n.as_ptr() as *const c_char };
                Ok(())
            }
            None => {
                // SAFETY: as above.
                unsafe { *p_str = std::ptr::null() };
                Err(CUresult::CUDA_ERROR_INVALID_VALUE)
            }
        }
    })
}

/// `CUresult cuGetErrorString(CUresult error, const char **pStr)`
///
/// # Safety
/// `p_str` must be NULL or point to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn cuGetErrorString(error: c_int, p_str: *mut *const c_char) -> CUresult {
    guard(|| {
        if p_str.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        match entry(error) {
            Some((_, _, d)) => {
                // SAFETY: checked non-null above.
                unsafe { *p_str = d.as_ptr() as *const c_char };
                Ok(())
            }
            None => {
                // SAFETY: as above.
                unsafe { *p_str = std::ptr::null() };
                Err(CUresult::CUDA_ERROR_INVALID_VALUE)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_nul_terminated_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (c, n, d) in TABLE {
            assert!(seen.insert(*c), "duplicate {c}");
            assert!(n.ends_with('\0') && d.ends_with('\0'), "{n}");
            assert_eq!(n.matches('\0').count(), 1, "{n}");
            assert!(n.starts_with("CUDA_"), "{n}");
        }
    }

    #[test]
    fn names_match_cudarcs_enum() {
        for (c, n, _) in TABLE {
            // SAFETY: every code in the table is a variant of cudarc's CUresult (checked by
            // name below).
            let r: CUresult = unsafe { std::mem::transmute::<u32, CUresult>(*c as u32) };
            assert_eq!(format!("{r:?}\0"), *n);
        }
    }
}
