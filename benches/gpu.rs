//! GPU benches: gpugate's kernels (and cuBLAS where found), timed with CUDA events through
//! `Trial::run` in `iter_custom`. With no usable GPU, or a simulated one (gpugate-sim), they
//! print why and skip.
//!
//! Throughput: GEMM groups count FLOPs as "elements" (criterion prints Gelem/s = GFLOP/s;
//! after each GEMM bench the TFLOPS of its median is printed as the reports give it), stream
//! and transfer groups count decimal bytes (GB/s = 1e9 B/s, as in the reports), video groups
//! count frames. GEMMs run the variant the tuner picks at each size (as a run does); every
//! bench's output is verified after it has run, and a wrong result fails the bench.

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

/// Verifies a trial after its bench ran: a wrong result fails the bench.
fn verified(what: &str, t: &mut dyn Trial) {
    let v = t
        .verify()
        .unwrap_or_else(|e| panic!("{what}: reading the result back failed: {e}"));
    assert!(
        v.passed(),
        "{what}: wrong result ({}; max error {:.3e}, tolerance {:.3e})",
        v.method,
        v.max_error,
        v.tolerance
    );
}

/// The TFLOPS of a GEMM trial, from a short run with gpugate's own sampler (the unit the
/// reports use; criterion prints elements per second).
fn tflops(what: &str, spec: &WorkloadSpec, t: &mut dyn Trial) {
    let crit = gpugate::measure::StoppingCriterion::for_level(gpugate::model::Level::Quick);
    match gpugate::measure::measure(t, spec, &crit, &mut |_| {}) {
        Ok(m) => eprintln!(
            "{what}: {:.3} TFLOPS median ({} samples, rel. stddev {:.2}%)",
            m.throughput.median,
            m.summary.n,
            m.summary.rel_stddev * 100.0
        ),
        Err(e) => panic!("{what}: {e}"),
    }
}

fn benches(c: &mut Criterion) {
    let Some(dev) = device() else { return };
    let mut backend = DeviceBackend::new(dev.clone(), Some(0), gpugate::model::BackendKind::Cuda);
    let info = gpugate::probe::gpus().devices.remove(0);
    let mut table = gpugate::measure::tune::TuningTable::new(
        0,
        gpugate::measure::tune::TuningKey::for_device(&info),
    );
    let cublas = gpugate::cuda::cublas_status();
    if let Err(e) = &cublas {
        eprintln!("cuBLAS peer benches skipped: {e}");
    }
    let cc = dev.props().compute_capability;
    for p in [Precision::F32, Precision::F64, Precision::F16] {
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
                // The variant a run would use at this size: tuned here, as a run tunes.
                let class = gpugate::measure::tune::SizeClass::of(s, s, s);
                match gpugate::measure::tune::tune_class_at(
                    &dev,
                    p,
                    math,
                    cc,
                    class,
                    s,
                    gpugate::measure::tune::TuneBudget::default(),
                    1,
                ) {
                    Ok(entry) => {
                        eprintln!(
                            "{} {math:?} {s}: tuned variant {}",
                            p.as_str(),
                            entry.variant
                        );
                        table.replace(entry);
                        backend.tuning = Some(table.clone());
                    }
                    Err(why) => eprintln!("{} {math:?} {s}: not tuned ({why})", p.as_str()),
                }
                let mut t = backend.prepare(&spec, 1).expect("prepare gemm");
                let name = match math {
                    GemmMath::CudaCores => "gpugate",
                    GemmMath::TensorCores => "gpugate_tc",
                };
                g.bench_function(BenchmarkId::new(name, s), |b| {
                    b.iter_custom(|n| timed(t.as_mut(), n))
                });
                let what = format!("{} {name} {s}", spec.name());
                verified(&what, t.as_mut());
                tflops(&what, &spec, t.as_mut());
            }
            if cublas.is_ok() {
                let mut peer = dev
                    .cublas_gemm_trial(p, s, s, s, 1)
                    .expect("prepare cuBLAS");
                g.bench_function(BenchmarkId::new("cublas", s), |b| {
                    b.iter_custom(|n| timed(peer.as_mut(), n))
                });
                let what = format!("{} cuBLAS {s}", p.as_str());
                verified(&what, peer.as_mut());
                tflops(
                    &what,
                    &WorkloadSpec::Gemm {
                        precision: p,
                        m: s,
                        n: s,
                        k: s,
                        math: GemmMath::CudaCores,
                    },
                    peer.as_mut(),
                );
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
            let Some(k) = gpugate::kernels::stream_kernel(op, p) else {
                continue;
            };
            if let Some(why) = dev.kernel_set().why_not(k, k.entry) {
                eprintln!("stream bench skipped: {why}");
                continue;
            }
            g.throughput(Throughput::BytesDecimal(spec.work().bytes as u64));
            let mut t = backend.prepare(&spec, 1).expect("prepare stream");
            g.bench_function(op.as_str(), |b| b.iter_custom(|n| timed(t.as_mut(), n)));
            verified(&spec.name(), t.as_mut());
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
        g.throughput(Throughput::BytesDecimal(spec.work().bytes as u64));
        let mut t = backend.prepare(&spec, 1).expect("prepare transfer");
        g.bench_function(direction.short(), |b| {
            b.iter_custom(|n| timed(t.as_mut(), n))
        });
        verified(&spec.name(), t.as_mut());
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
        verified(&spec.name(), t.as_mut());
    }
    g.finish();
}

criterion_group!(gpu, benches);
criterion_main!(gpu);
