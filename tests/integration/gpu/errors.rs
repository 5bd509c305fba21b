//! The GPU path's errors, matched by variant: an impossible allocation is out of memory, a
//! kernel that faults and an uncorrectable ECC error lose the context (sticky: every later call
//! fails the same way), and a driver older than R418 is refused as too old, by the device and by
//! the self-test alike.
//!
//! A lost context is lost for the whole process, and a driver is the whole machine's: each of
//! those cases runs alone, in a child of its own under gpugate-sim
//! ([`typed_errors_on_the_simulator`]); in any other process (the simulator suites, a real GPU)
//! they say there is nothing to check.

use gpugate::cuda::{CudaDevice, CudaError};
use gpugate::kernels::stream_kernel;
use gpugate::kernels::OLDEST_DRIVER;
use gpugate::selftest::SelftestError;
use gpugate::workload::device::{DeviceError, KArg, KernelDevice, LaunchConfig};
use gpugate::workload::{Precision, StreamOp};

use super::open;

/// Set by [`typed_errors_on_the_simulator`] for [`a_kernel_fault_loses_the_context`].
const KERNEL_FAULT: &str = "GPUGATE_TEST_KERNEL_FAULT";

fn copy_config() -> LaunchConfig {
    LaunchConfig {
        grid: (64, 1, 1),
        block: (256, 1, 1),
        shared_bytes: 0,
    }
}

fn is_lost(e: &DeviceError) -> bool {
    matches!(
        e.driver_error::<CudaError>(),
        Some(CudaError::ContextLost { .. })
    )
}

/// Twice the device's memory cannot be had: out of memory, and the device works on.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn an_impossible_allocation_is_out_of_memory() {
    let dev = open();
    let e = dev
        .alloc(2 * dev.props().total_memory as usize)
        .unwrap_err();
    assert!(
        matches!(
            e.driver_error::<CudaError>(),
            Some(CudaError::OutOfMemory { .. })
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("CUDA_ERROR_OUT_OF_MEMORY"), "{e}");
    let b = dev
        .alloc(1024)
        .expect("a small allocation after the refused one");
    dev.free(b);
}

/// A copy kernel told to run far past its 256-byte buffers faults (an illegal address): the
/// driver reports it at the next synchronisation, and then refuses everything.
#[test]
#[ignore = "needs a GPU, or the simulator (run by typed_errors_on_the_simulator)"]
fn a_kernel_fault_loses_the_context() {
    if std::env::var_os(KERNEL_FAULT).is_none() {
        eprintln!("not asked to fault a kernel here: nothing to check");
        return;
    }
    let dev = open();
    let small = dev.alloc(256).unwrap();
    let copy = stream_kernel(StreamOp::Copy, Precision::F32).unwrap();
    let args = [KArg::Buf(small), KArg::Buf(small), KArg::I64(1 << 22)];
    let e = match dev.launch(copy, copy_config(), &args) {
        Err(e) => e,
        Ok(()) => dev.synchronize().unwrap_err(),
    };
    assert!(is_lost(&e), "{e:?}");
    // Sticky: an allocation now fails the same way, not as out of memory.
    let again = dev.alloc(64).unwrap_err();
    assert!(is_lost(&again), "{again:?}");
    eprintln!("kernel fault: {e}");
}

/// Under `--fault launch-fail-after=0` the first launch reports an uncorrectable ECC error,
/// which loses the context like a kernel fault.
#[test]
#[ignore = "needs a GPU, or the simulator (run by typed_errors_on_the_simulator)"]
fn an_uncorrectable_ecc_error_loses_the_context() {
    let faults = std::env::var("GPUGATE_SIM_FAULTS").unwrap_or_default();
    if !faults.contains("launch-fail-after=0") {
        eprintln!("no ECC fault here: nothing to check");
        return;
    }
    let dev = open();
    let buf = dev.alloc(256).unwrap();
    let copy = stream_kernel(StreamOp::Copy, Precision::F32).unwrap();
    let args = [KArg::Buf(buf), KArg::Buf(buf), KArg::I64(64)];
    let e = match dev.launch(copy, copy_config(), &args) {
        Err(e) => e,
        Ok(()) => dev.synchronize().unwrap_err(),
    };
    assert!(is_lost(&e), "{e:?}");
    assert!(
        e.to_string().contains("CUDA_ERROR_ECC_UNCORRECTABLE"),
        "{e}"
    );
    assert!(is_lost(&dev.synchronize().unwrap_err()));
    eprintln!("ecc: {e}");
}

/// On a driver older than R418 nothing is opened: the device and the self-test both refuse it
/// as too old, naming the driver.
#[test]
#[ignore = "needs the simulator (run by typed_errors_on_the_simulator)"]
fn a_driver_older_than_r418_is_refused_as_too_old() {
    match gpugate::cuda::driver_status() {
        Err(CudaError::DriverTooOld { .. }) => {}
        other => {
            eprintln!("the driver here is not too old ({other:?}): nothing to check");
            return;
        }
    }
    let e = CudaDevice::open(0)
        .err()
        .expect("an R375 driver is refused");
    let CudaError::DriverTooOld { driver } = e else {
        panic!("{e:?}")
    };
    assert!(driver < OLDEST_DRIVER, "{driver}");
    let s =
        gpugate::selftest::selftest(1, false, &mut |c| panic!("a case ran: {c:?}")).unwrap_err();
    assert_eq!(s, SelftestError::Driver(CudaError::DriverTooOld { driver }));
    eprintln!("refused as too old: {s}");
}

/// Each case above in a child of its own under gpugate-sim's M40: the kernel fault, the ECC
/// fault (`launch-fail-after=0`) and an R375 driver (`--driver 375`).
#[test]
fn typed_errors_on_the_simulator() {
    if crate::sim::stand_down_for_the_real_gpu("typed_errors_on_the_simulator") {
        return;
    }
    use crate::sim::Sim;
    let m40 = || Sim::new(&["m40"]);
    let cases = [
        (
            m40().env(KERNEL_FAULT, "1"),
            "a_kernel_fault_loses_the_context",
            "kernel fault: ",
        ),
        (
            m40().fault("launch-fail-after=0"),
            "an_uncorrectable_ecc_error_loses_the_context",
            "ecc: ",
        ),
        (
            m40().driver("375"),
            "a_driver_older_than_r418_is_refused_as_too_old",
            "refused as too old: the NVIDIA driver (CUDA 8.0, R375)",
        ),
    ];
    for (sim, test, said) in cases {
        let name = format!("gpu::errors::{test}");
        let (passed, text) =
            super::gpu_suite_on_the_simulator::run_ignored_on(&sim, &["--exact", &name]);
        assert_eq!(passed, 1, "{test}:\n{text}");
        assert!(text.contains(said), "{test} did not say {said:?}:\n{text}");
    }
}
