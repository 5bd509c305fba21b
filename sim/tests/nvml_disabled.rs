//! The `no-nvml` fault: the simulator's own nvmlInit fails as a missing library would.

use gpugate_sim::config::{install_for_tests, Config};
use gpugate_sim::nvml::*;

#[test]
fn nvml_init_fails_with_library_not_found() {
    let cfg = Config::build(&["m40".to_string()], &["no-nvml".to_string()]).unwrap();
    assert!(install_for_tests(cfg));
    let mut n = 0;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(nvmlInit_v2(), NVML_ERROR_LIBRARY_NOT_FOUND);
        assert_eq!(nvmlInit(), NVML_ERROR_LIBRARY_NOT_FOUND);
        assert_eq!(nvmlInitWithFlags(0), NVML_ERROR_LIBRARY_NOT_FOUND);
        assert_eq!(nvmlDeviceGetCount_v2(&mut n), NVML_ERROR_UNINITIALIZED);
        assert_eq!(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    }
    // The driver itself is unaffected.
    assert_eq!(
        gpugate_sim::driver::device::cuInit(0),
        cudarc::driver::sys::CUresult::CUDA_SUCCESS
    );
}
