//! GPU benches: gpugate's kernels (and cuBLAS where found), timed with CUDA events through
//! `Trial::run` in `iter_custom`. With no usable GPU, or a simulated one (gpugate-sim), they
//! print why and skip.
//!
//! Throughput: GEMM groups count FLOPs as "elements" (criterion prints Gelem/s = GFLOP/s);
//! stream and transfer groups count bytes.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gpugate::cuda::CudaDevice;
use gpugate::kernels::gemm_maths;
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::device::KernelDevice;
use gpugate::workload::{
    Direction, GemmMath, Precision, StreamOp, Trial, VideoStage, WorkloadSpec,
};

fn device() -> Option<Arc<CudaDevice>> {
    let inv = gpugate::probe::gpus();
    if inv.devices.is_empty() {
        eprintln!(
            "gpu benches skipped: no GPU can be used ({})",
            inv.unavailable.unwrap_or_else(|| "none found".into())
        );
        return None;
    }
    if inv.devices[0].simulated {
        // A simulator's event times come from its time model: nothing to benchmark.
        eprintln!(
            "gpu benches skipped: GPU 0 is {:?}, a simulated GPU (gpugate-sim); its times are \
             not measurements",
            inv.devices[0].name
        );
        return None;
    }
    match CudaDevice::open(0) {
        Ok((d, _)) => Some(Arc::new(d)),
        Err(e) => {
            eprintln!("gpu benches skipped: GPU 0 could not be opened: {e}");
            None
        }
    }
}

fn timed(trial: &mut dyn Trial, iters: u64) -> Duration {
    Duration::from_secs_f64(trial.run(iters).expect("trial run failed"))
}

fn benches(c: &mut Criterion) {
    let Some(dev) = device() else { return };
    let backend = DeviceBackend::new(dev.clone(), Some(0), gpugate::model::BackendKind::Cuda);
    let cublas = gpugate::cuda::cublas_status();
    if let Err(e) = &cublas {
        eprintln!("cuBLAS peer benches skipped: {e}");
    }
    let cc = dev.props().compute_capability;
    for p in [Precision::F32, Precision::F64] {
        let mut g = c.benchmark_group(format!("gemm_{}_flops", p.as_str()));
        g.sample_size(10).measurement_time(Duration::from_secs(3));
        for s in [1024usize, 4096, 8192] {
            // Every path the device has: DGEMM also on the tensor cores (DMMA) from sm_80,
            // benched as "gpugate_tc" (never mixed with the CUDA-core numbers).
            for math in gemm_maths(p, cc) {
                // A path whose module build the driver could not load (an old driver) is
                // skipped with the reason.
                if let Some(why) = dev.kernel_set().why_no_gemm(p, math) {
                    eprintln!("gpugate GEMM bench skipped: {why}");
                    continue;
                }
                let spec = WorkloadSpec::Gemm {
                    precision: p,
                    m: s,
                    n: s,
                    k: s,
                    math,
                };
                g.throughput(Throughput::Elements(spec.work().flops as u64));
                let mut t = backend.prepare(&spec, 1).expect("prepare gemm");
                assert!(t.verify().is_ok());
                let name = match math {
                    GemmMath::CudaCores => "gpugate",
                    GemmMath::TensorCores => "gpugate_tc",
                };
                g.bench_function(BenchmarkId::new(name, s), |b| {
                    b.iter_custom(|n| timed(t.as_mut(), n))
                });
            }
            if cublas.is_ok() {
                let mut peer = dev
                    .cublas_gemm_trial(p, s, s, s, 1)
                    .expect("prepare cuBLAS");
                g.bench_function(BenchmarkId::new("cublas", s), |b| {
                    b.iter_custom(|n| timed(peer.as_mut(), n))
                });
            }
        }
        g.finish();
    }
    let n = 1usize << 26;
    for p in [Precision::F32, Precision::F64] {
        let mut g = c.benchmark_group(format!("stream_{}_bytes", p.as_str()));
        for op in StreamOp::ALL {
            let spec = WorkloadSpec::Stream {
                op,
                precision: p,
                n,
            };
            let k = gpugate::kernels::stream_kernel(op, p);
            if let Some(why) = dev.kernel_set().why_not(k, k.entry) {
                eprintln!("stream bench skipped: {why}");
                continue;
            }
            g.throughput(Throughput::Bytes(spec.work().bytes as u64));
            let mut t = backend.prepare(&spec, 1).expect("prepare stream");
            g.bench_function(op.as_str(), |b| b.iter_custom(|n| timed(t.as_mut(), n)));
        }
        g.finish();
    }
    let mut g = c.benchmark_group("transfer_bytes");
    for direction in [Direction::HostToDevice, Direction::DeviceToHost] {
        let spec = WorkloadSpec::Transfer {
            direction,
            bytes: 256 << 20,
            pinned: true,
        };
        g.throughput(Throughput::Bytes(spec.work().bytes as u64));
        let mut t = backend.prepare(&spec, 1).expect("prepare transfer");
        g.bench_function(direction.short(), |b| {
            b.iter_custom(|n| timed(t.as_mut(), n))
        });
    }
    g.finish();
    // Video stages at 1080p: one element = one frame, so criterion's elem/s is frames/s. Each
    // stage's output is verified after its bench (a wrong frame fails the bench).
    let mut g = c.benchmark_group("video_1080p_frames");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for stage in VideoStage::ALL {
        let k = gpugate::kernels::video_kernel(stage);
        if let Some(why) = dev.kernel_set().why_not(k, k.entry) {
            eprintln!("video bench skipped: {why}");
            continue;
        }
        let spec = WorkloadSpec::Video {
            stage,
            width: 1920,
            height: 1080,
        };
        g.throughput(Throughput::Elements(1));
        let mut t = backend.prepare(&spec, 1).expect("prepare video stage");
        g.bench_function(stage.as_str(), |b| b.iter_custom(|n| timed(t.as_mut(), n)));
        let v = t.verify().expect("verify video stage");
        assert!(v.passed(), "{}: {}", spec.name(), v.method);
    }
    g.finish();
}

criterion_group!(gpu, benches);
criterion_main!(gpu);
