//! Interpreter throughput on one host core (one worker thread): a 256³ SGEMM with the default
//! variant (`sgemm_f32_128x128x8_t8x8`, grid (2, 2), 256 threads) and a 16 M-element
//! `stream_triad_f32` launched as gpugate launches it (256 threads per block,
//! min(⌈n/256⌉, SMs × 256) blocks for a 24-SM Tesla M40). Throughput is in thread-instructions
//! (`Throughput::Elements`): criterion's "elem/s" is thread-instructions per second. Each
//! workload runs with the race detector off and on.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gpugate_sim::exec::ExecOptions;

fn options(racecheck: bool) -> ExecOptions {
    ExecOptions {
        workers: 1,
        racecheck,
        sdc: None,
        max_dynamic_shared_bytes: 0,
        stuck: None,
    }
}

fn sgemm(c: &mut Criterion) {
    let mut dev = Dev::new();
    let module = dev.load(&ptx_text("gemm.compute_52.ptx"), 52).unwrap();
    let k = kernel(&module, "sgemm_f32_128x128x8_t8x8");
    let n = 256usize;
    let mut rng = Rng(7);
    let a: Vec<f32> = (0..n * n).map(|_| rng.f64(-1.0, 1.0) as f32).collect();
    let b: Vec<f32> = (0..n * n).map(|_| rng.f64(-1.0, 1.0) as f32).collect();
    let pa = dev.upload(&a);
    let pb = dev.upload(&b);
    let pc = dev.alloc(n * n * 4);
    let params = gemm_args(n, n, n, pa, pb, pc);
    let mut g = c.benchmark_group("sgemm_256");
    g.sample_size(20);
    for racecheck in [false, true] {
        let st = dev
            .launch(&k, [2, 2, 1], [256, 1, 1], &params, options(racecheck))
            .unwrap();
        g.throughput(Throughput::Elements(st.thread_instructions));
        let name = if racecheck { "racecheck" } else { "plain" };
        g.bench_function(name, |bch| {
            bch.iter(|| {
                dev.launch(&k, [2, 2, 1], [256, 1, 1], &params, options(racecheck))
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn triad(c: &mut Criterion) {
    let mut dev = Dev::new();
    let module = dev.load(&ptx_text("stream.compute_52.ptx"), 52).unwrap();
    let k = kernel(&module, "stream_triad_f32");
    let n = 16usize << 20;
    let pa = dev.alloc(n * 4);
    let pb = dev.upload(&vec![1.0f32; n]);
    let pc = dev.upload(&vec![2.0f32; n]);
    let grid = n.div_ceil(256).min(24 * 256) as u32;
    let params = vec![a_u64(pb), a_u64(pc), a_u64(pa), a_f32(0.4), a_u64(n as u64)];
    let mut g = c.benchmark_group("triad_16M");
    g.sample_size(10);
    for racecheck in [false, true] {
        let st = dev
            .launch(&k, [grid, 1, 1], [256, 1, 1], &params, options(racecheck))
            .unwrap();
        g.throughput(Throughput::Elements(st.thread_instructions));
        let name = if racecheck { "racecheck" } else { "plain" };
        g.bench_function(name, |bch| {
            bch.iter(|| {
                dev.launch(&k, [grid, 1, 1], [256, 1, 1], &params, options(racecheck))
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, sgemm, triad);
criterion_main!(benches);
