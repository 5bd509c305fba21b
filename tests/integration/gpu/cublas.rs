//! The cuBLAS peer through gpugate's CUDA path (`CudaDevice::cublas_gemm_trial`): every
//! precision verified at shapes that catch a wrong leading dimension or a swapped operand in the
//! row-major-through-column-major call, timed by the device's events. On gpugate-sim the time of
//! each call is the model's: read from the simulator's model file of the device (`sim/models/`),
//! through the time model written out here. The fault cases (a cuBLAS whose GEMMs fail, a
//! cuBLAS result corrupted by an `sdc` fault) run in children of their own
//! ([`cublas_faults_on_the_simulator`]); anywhere else they say there is nothing to check.

use std::path::Path;

use gpugate::cuda::{cublas_status, BlasError};
use gpugate::model::VerifyStatus;
use gpugate::workload::device::KernelDevice;
use gpugate::workload::Precision;

use super::{open, simulated};

const ALL: [Precision; 3] = [Precision::F32, Precision::F64, Precision::F16];

/// The simulator's model file whose device name is `name`, as TOML.
fn sim_model(name: &str) -> toml::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim/models");
    for entry in std::fs::read_dir(&dir).expect("sim/models") {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let v: toml::Value = toml::from_str(&text).unwrap();
        if v["name"].as_str() == Some(name) {
            return v;
        }
    }
    panic!("no model in {} is named {name:?}", dir.display())
}

/// Seconds the model gives one call of the peer's GEMM of `p` at m×n×k (SGEMM in pedantic
/// math, DGEMM and the FP16-input gemmEx in default math, beta = 0): the launch gap plus the
/// FLOPs at the peak of the unit cuBLAS uses × its cuBLAS efficiency (or the bytes at the
/// memory rate, if longer), at least the launch interval.
pub(crate) fn modelled_seconds(
    model: &toml::Value,
    p: Precision,
    (m, n, k): (usize, usize, usize),
) -> f64 {
    let t = &model["time"];
    let c = &model["cublas"];
    let f = |v: &toml::Value, key: &str| v[key].as_float().unwrap_or_else(|| panic!("{key}"));
    let (peak, eff, bytes_in, bytes_out) = match p {
        Precision::F32 => (f(t, "fp32_tflops"), f(c, "sgemm_efficiency"), 4, 4),
        Precision::F64 if f(t, "fp64_tensor_tflops") > 0.0 => {
            (f(t, "fp64_tensor_tflops"), f(c, "dgemm_efficiency"), 8, 8)
        }
        Precision::F64 => (f(t, "fp64_tflops"), f(c, "dgemm_efficiency"), 8, 8),
        Precision::F16 if f(t, "fp16_tensor_tflops") > 0.0 => {
            (f(t, "fp16_tensor_tflops"), f(c, "hgemm_efficiency"), 2, 4)
        }
        Precision::F16 => (f(t, "fp32_tflops"), f(c, "hgemm_efficiency"), 2, 4),
    };
    let flops = 2.0 * (m * n * k) as f64;
    let bytes = ((m * k + k * n) * bytes_in + m * n * bytes_out) as f64;
    let compute = flops / (peak * 1e12 * eff);
    let memory = bytes / (f(t, "memory_gbps") * 1e9 * f(t, "memory_efficiency"));
    (f(t, "launch_gap_us") * 1e-6 + compute.max(memory)).max(f(t, "launch_interval_us") * 1e-6)
}

/// Every precision at degenerate, odd, skinny and tile-breaking shapes: the peer's result is
/// right (Freivalds plus sampled elements, as gpugate's own GEMMs are checked).
#[test]
#[ignore = "needs a GPU with cuBLAS, or the simulator (run by gpu_suite_on_the_simulator)"]
fn the_cublas_peer_verifies_at_odd_shapes() {
    let dev = open();
    let lib = cublas_status().expect("cuBLAS is found and fits the driver");
    assert_eq!(lib.simulated, simulated(&dev), "{lib:?}");
    for p in ALL {
        for (m, n, k) in [
            (1, 1, 1),
            (33, 65, 17),
            (130, 1, 7),
            (1, 130, 7),
            (64, 48, 200),
        ] {
            let mut t = dev
                .cublas_gemm_trial(p, m, n, k, 11)
                .unwrap_or_else(|e| panic!("{p:?} {m}x{n}x{k}: {e}"));
            assert!(t.info().implementation.starts_with(&lib.label()));
            t.run(1)
                .unwrap_or_else(|e| panic!("{p:?} {m}x{n}x{k}: {e}"));
            let v = t.verify().unwrap();
            assert!(v.passed(), "{p:?} {m}x{n}x{k}: {v:?}");
        }
    }
}

/// On gpugate-sim, the events around the peer's calls measure what the model says each call
/// takes: its TFLOPS are the cuBLAS efficiency of the unit it runs on × that unit's peak, less
/// the launch gap. Each precision runs at the smallest square size (a multiple of 64, from 256)
/// whose FLOPs outlast the launch interval on the model, so the efficiency, not the interval,
/// sets the time (256³ on the M40; up to 960³ for the FP16 tensor cores of an H100).
#[test]
#[ignore = "needs the simulator (run by gpu_suite_on_the_simulator); on a GPU it checks nothing"]
fn the_cublas_peer_takes_the_modelled_time_on_the_simulator() {
    let dev = open();
    if !simulated(&dev) {
        eprintln!("not a simulated GPU: its time is measured, not modelled; nothing to check");
        return;
    }
    let model = sim_model(&dev.props().name);
    let interval = model["time"]["launch_interval_us"].as_float().unwrap() * 1e-6;
    for p in ALL {
        let n = (256..=1024)
            .step_by(64)
            .find(|&n| modelled_seconds(&model, p, (n, n, n)) > 1.2 * interval)
            .expect("a size that outlasts the launch interval");
        let shape = (n, n, n);
        let mut t = dev.cublas_gemm_trial(p, n, n, n, 5).unwrap();
        let iters = 3;
        let per_call = t.run(iters).unwrap() / iters as f64;
        let want = modelled_seconds(&model, p, shape);
        assert!(
            (per_call / want - 1.0).abs() < 1e-5,
            "{p:?} {n}³: {per_call} s per call, the model says {want} s"
        );
        assert!(t.verify().unwrap().passed());
        eprintln!(
            "{p:?} {n}³: {:.3} TFLOPS as modelled",
            2.0 * (n as f64).powi(3) / per_call / 1e12
        );
    }
}

/// Under `--fault cublas-fail` the peer prepares (handle, stream, math mode) and its GEMM fails
/// with CUBLAS_STATUS_EXECUTION_FAILED, named; its C is then no result, so it is not verified
/// (never "wrong": a failed peer must not become a correctness failure of the GPU). The cuBLAS
/// 13 hint stays out of it: this cuBLAS is 12.
#[test]
#[ignore = "needs the simulator (run by cublas_faults_on_the_simulator)"]
fn a_failing_cublas_fails_the_peer_and_leaves_nothing_to_verify() {
    let faults = std::env::var("GPUGATE_SIM_FAULTS").unwrap_or_default();
    if !faults.contains("cublas-fail") {
        eprintln!("no cublas-fail fault here: nothing to check");
        return;
    }
    let dev = open();
    for p in ALL {
        let mut t = dev.cublas_gemm_trial(p, 32, 32, 32, 1).expect("prepares");
        let e = t.run(2).unwrap_err();
        let Some(BlasError::Call { source, .. }) = e.backend_error::<BlasError>() else {
            panic!("{p:?}: {e:?}")
        };
        assert_eq!(
            source.0,
            cudarc::cublas::sys::cublasStatus_t::CUBLAS_STATUS_EXECUTION_FAILED
        );
        let msg = e.to_string();
        assert!(
            msg.contains("(gpugate-sim)") && !msg.contains("Note"),
            "{msg}"
        );
        let v = t.verify().unwrap();
        assert_eq!(v.status, VerifyStatus::NotChecked, "{p:?}: {v:?}");
        eprintln!("cublas-fail: {msg}");
    }
}

/// Under `--fault sdc=cublas_sgemm` one bit of the peer SGEMM's result flips: its verification
/// catches it (the peer's GEMM is checked like gpugate's own), and the DGEMM peer still passes.
#[test]
#[ignore = "needs the simulator (run by cublas_faults_on_the_simulator)"]
fn a_corrupted_cublas_result_fails_its_verification() {
    let faults = std::env::var("GPUGATE_SIM_FAULTS").unwrap_or_default();
    if !faults.contains("sdc=cublas_sgemm") {
        eprintln!("no sdc fault on cuBLAS here: nothing to check");
        return;
    }
    let dev = open();
    let mut t = dev
        .cublas_gemm_trial(Precision::F32, 64, 64, 64, 9)
        .unwrap();
    t.run(1).unwrap();
    let v = t.verify().unwrap();
    assert_eq!(v.status, VerifyStatus::Failed, "{v:?}");
    assert!(!v.mismatches.is_empty(), "{v:?}");
    let mut d = dev
        .cublas_gemm_trial(Precision::F64, 64, 64, 64, 9)
        .unwrap();
    d.run(1).unwrap();
    assert!(d.verify().unwrap().passed());
    eprintln!("sdc caught: {} mismatches", v.mismatches.len());
}

/// The fault cases above, each in a child of its own under a simulated M40.
#[test]
fn cublas_faults_on_the_simulator() {
    if crate::sim::stand_down_for_the_real_gpu("cublas_faults_on_the_simulator") {
        return;
    }
    use crate::sim::Sim;
    for (fault, test, said) in [
        (
            "cublas-fail",
            "a_failing_cublas_fails_the_peer_and_leaves_nothing_to_verify",
            "cublas-fail: cuBLAS 12.4.5 (gpugate-sim) sgemm: CublasError(CUBLAS_STATUS_EXECUTION_FAILED)",
        ),
        (
            "sdc=cublas_sgemm",
            "a_corrupted_cublas_result_fails_its_verification",
            "sdc caught: ",
        ),
    ] {
        let name = format!("gpu::cublas::{test}");
        let sim = Sim::new(&["m40"]).fault(fault);
        let (passed, text) =
            super::gpu_suite_on_the_simulator::run_ignored_on(&sim, &["--exact", &name]);
        assert_eq!(passed, 1, "{test}:\n{text}");
        assert!(text.contains(said), "{test} did not say {said:?}:\n{text}");
    }
}
