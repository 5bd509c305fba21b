//! Host benches: the CPU backend's workloads, which always run.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use gpugate::host::HostBackend;
use gpugate::workload::backend::Backend;
use gpugate::workload::{Precision, StreamOp, WorkloadSpec};

fn benches(c: &mut Criterion) {
    let host = HostBackend::new(gpugate::probe::host().cpu_model);
    for p in [Precision::F32, Precision::F64] {
        let mut g = c.benchmark_group(format!("host_gemm_{}_flops", p.as_str()));
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        for s in [256usize, 1024] {
            let spec = WorkloadSpec::gemm(p, s, s, s);
            g.throughput(Throughput::Elements(spec.work().flops as u64));
            let mut t = host.prepare(&spec, 1).expect("prepare");
            g.bench_function(BenchmarkId::from_parameter(s), |b| {
                b.iter_custom(|n| Duration::from_secs_f64(t.run(n).expect("run")))
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("host_stream_f64_bytes");
    g.sample_size(10);
    for op in StreamOp::ALL {
        let spec = WorkloadSpec::Stream {
            op,
            precision: Precision::F64,
            n: 1 << 23,
        };
        g.throughput(Throughput::BytesDecimal(spec.work().bytes as u64));
        let mut t = host.prepare(&spec, 1).expect("prepare");
        g.bench_function(op.as_str(), |b| {
            b.iter_custom(|n| Duration::from_secs_f64(t.run(n).expect("run")))
        });
    }
    g.finish();
}

criterion_group!(host, benches);
criterion_main!(host);
