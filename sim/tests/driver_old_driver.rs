//! Before cuInit, and the `old-driver` fault: a CUDA 8.0 driver (PTX ISA 5.0), older than
//! gpugate's stream module needs (and than the oldest driver gpugate supports). One test: both
//! need a process of their own.

mod driver_common;

use std::ffi::{c_char, c_int, CStr};

use driver_common::*;
use gpugate_sim::nvml;

#[test]
fn calls_before_init_and_an_old_driver() {
    machine(&["m40"], &["old-driver"]);
    // SAFETY: valid out-pointers throughout.
    unsafe {
        // Before cuInit only the version query answers.
        let mut v = 0;
        ok(cuDriverGetVersion(&mut v));
        assert_eq!(v, 8000);
        let mut n = 0;
        assert_eq!(
            cuDeviceGetCount(&mut n),
            CUresult::CUDA_ERROR_NOT_INITIALIZED
        );
        let mut d: CUdevice = 0;
        assert_eq!(cuDeviceGet(&mut d, 0), CUresult::CUDA_ERROR_NOT_INITIALIZED);
        let mut c: CUcontext = std::ptr::null_mut();
        assert_eq!(
            cuCtxGetCurrent(&mut c),
            CUresult::CUDA_ERROR_NOT_INITIALIZED
        );
        assert_eq!(
            cuDevicePrimaryCtxRetain(&mut c, 0),
            CUresult::CUDA_ERROR_NOT_INITIALIZED
        );
        let mut p: CUdeviceptr = 0;
        assert_eq!(
            cuMemAlloc_v2(&mut p, 16),
            CUresult::CUDA_ERROR_NOT_INITIALIZED
        );
        let mut x = 0;
        assert_eq!(
            cuDeviceGetAttribute(&mut x, 16, 0),
            CUresult::CUDA_ERROR_NOT_INITIALIZED
        );

        init();
        ok(cuDeviceGetCount(&mut n));
        assert_eq!(n, 1);
        let ctx = new_ctx(0);

        // A module that needs ISA 6.0 (warp-synchronous shuffles: the stream module) is
        // refused; gpugate's compute_52 GEMM module declares ISA 4.1 and loads.
        for (name, text) in [
            (
                "stream",
                include_str!("../../kernels/ptx/stream.compute_52.ptx"),
            ),
            ("add_one (ISA 6.0)", ADD_ONE_PTX),
        ] {
            let (code, log) = load_ptx(text).expect_err(name);
            assert_eq!(code, CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "{name}");
            assert!(log.contains("5.0"), "{name}: {log}");
        }
        let gemm = include_str!("../../kernels/ptx/gemm.compute_52.ptx");
        assert!(gemm.contains("\n.version 4.1 "));
        let (m, _) = load_ptx(gemm).expect("ISA 4.1 loads on a CUDA 8.0 driver");
        ok(cuModuleUnload(m));
        // ISA 5.0 itself loads.
        let old = ADD_ONE_PTX.replace(".version 6.0", ".version 5.0");
        let (m, info) = load_ptx(&old).expect("ISA 5.0 is what CUDA 8.0 accepts");
        assert!(info.contains("JIT up to ISA 5.0"), "{info}");
        ok(cuModuleUnload(m));

        // NVML reports the same driver.
        assert_eq!(nvml::nvmlInit_v2(), 0);
        let mut buf = [0 as c_char; 80];
        assert_eq!(nvml::nvmlSystemGetDriverVersion(buf.as_mut_ptr(), 80), 0);
        assert!(CStr::from_ptr(buf.as_ptr())
            .to_str()
            .unwrap()
            .starts_with("375."));
        let mut cv: c_int = 0;
        assert_eq!(nvml::nvmlSystemGetCudaDriverVersion_v2(&mut cv), 0);
        assert_eq!(cv, 8000);
        assert_eq!(nvml::nvmlShutdown(), 0);

        // cuBLAS 12 answers its version, but cannot start on this driver, as the real one's
        // CUDA runtime cannot: CUBLAS_STATUS_NOT_INITIALIZED.
        use cudarc::cublas::sys::cublasStatus_t as S;
        use gpugate_sim::cublas::{cublasCreate_v2, cublasGetProperty};
        let mut major = 0;
        assert_eq!(cublasGetProperty(0, &mut major), S::CUBLAS_STATUS_SUCCESS);
        assert_eq!(major, 12);
        let mut h = std::ptr::null_mut();
        assert_eq!(cublasCreate_v2(&mut h), S::CUBLAS_STATUS_NOT_INITIALIZED);
        assert!(h.is_null());
        ok(cuCtxDestroy_v2(ctx));
    }
}
