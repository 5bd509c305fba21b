//! The committed PTX (kernels/ptx) on the simulator: every module loads for its own and higher
//! targets (and not below), and every entry of every module runs at small odd shapes against a
//! host reference, with the race detector on.

mod common;

use common::*;
use gpugate_sim::ptx::{LoadErrorKind, LoadOptions, Module};

#[test]
fn every_module_loads_for_its_own_and_higher_targets() {
    for (file, sm) in MODULES {
        let text = ptx_text(file);
        for dev in [52u32, 70, 80, 90] {
            let opts = LoadOptions {
                sm: dev,
                max_isa: (8, 4),
            };
            let r = Module::load(&text, &opts, &mut |_v| Ok(0x1000));
            if dev >= *sm {
                let m = r.unwrap_or_else(|e| panic!("{file} on sm_{dev}: {}", e.log));
                assert!(!m.kernel_names().is_empty());
                assert_eq!(m.target_sm(), *sm);
                // The .version line the module declares (kernels/build.py sets the lowest
                // its instructions allow), with build.py's comment after it.
                let line = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(".version "))
                    .unwrap();
                let v = line.split_whitespace().next().unwrap();
                let (maj, min) = v.split_once('.').unwrap();
                assert_eq!(
                    m.isa(),
                    (maj.parse().unwrap(), min.parse().unwrap()),
                    "{file}"
                );
            } else {
                let e = r.err().expect("must not load below its target");
                assert_eq!(e.kind, LoadErrorKind::InvalidPtx, "{file} on sm_{dev}");
                assert!(
                    e.log.contains("SM version specified by .target is higher"),
                    "{}",
                    e.log
                );
            }
        }
    }
}

/// A GEMM entry's geometry from its name: (bm, bn, threads). CUDA-core entries are
/// `<s|d|h>gemm_<type>_<bm>x<bn>x<bk>_t<tm>x<tn>[_s<stages>]` (a thread per tm×tn),
/// tensor-core ones `<d|h>gemm_<f64|f16>_tc_<bm>x<bn>x<bk>_w<wm>x<wn>_s<stages>` (a warp per
/// wm×wn).
fn geometry(name: &str) -> (u32, u32, u32) {
    let tc = name.contains("_tc_");
    let parts: Vec<&str> = name.split('_').collect();
    let dims = |s: &str| -> Vec<u32> { s.split('x').map(|x| x.parse().unwrap()).collect() };
    let (tile, per, lanes) = if tc { (3, 4, 32) } else { (2, 3, 1) };
    let (tile, per) = (dims(parts[tile]), dims(&parts[per][1..]));
    (
        tile[0],
        tile[1],
        (tile[0] / per[0]) * (tile[1] / per[1]) * lanes,
    )
}

/// Runs GEMM entry `name` at (m, n, k) and checks C against the f64 reference.
fn check_gemm(
    dev_sm: u32,
    module: &Module,
    dev: &mut Dev,
    name: &str,
    m: usize,
    n: usize,
    k: usize,
) {
    let kern = kernel(module, name);
    let (bm, bn, threads) = geometry(name);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (m * 131 + n * 7 + k) as u64);
    let a: Vec<f64> = (0..m * k).map(|_| rng.f64(-1.0, 1.0)).collect();
    let b: Vec<f64> = (0..k * n).map(|_| rng.f64(-1.0, 1.0)).collect();
    // Inputs and output: f32, f64, or f16 inputs into f32.
    let (pin, pout) = match &name[..5] {
        "sgemm" => (Prec::F32, Prec::F32),
        "dgemm" => (Prec::F64, Prec::F64),
        _ => (Prec::F16, Prec::F32),
    };
    let (pa, a_used) = dev.upload_as(pin, &a);
    let (pb, b_used) = dev.upload_as(pin, &b);
    let (pc, _) = dev.upload_as(pout, &vec![f64::NAN; m * n]);
    let grid = [
        (n as u32).div_ceil(bn).max(1),
        (m as u32).div_ceil(bm).max(1),
        1,
    ];
    let st = dev
        .launch(
            &kern,
            grid,
            [threads, 1, 1],
            &gemm_args(m, n, k, pa, pb, pc),
            opts(),
        )
        .unwrap_or_else(|e| panic!("{name} sm_{dev_sm} {m}x{n}x{k}: {}", e.log));
    let want = gemm_ref(m, n, k, &a_used, &b_used);
    let got = dev.read_as(pout, pc, m * n);
    let tol = if pout == Prec::F64 { 1e-12 } else { 2e-6 } * (k as f64 + 1.0);
    for i in 0..m * n {
        let err = (got[i] - want[i]).abs();
        assert!(
            err <= tol,
            "{name} sm_{dev_sm} {m}x{n}x{k}: C[{}][{}] = {} want {} (err {err:e})",
            i / n,
            i % n,
            got[i],
            want[i]
        );
    }
    if k > 0 {
        let fl = st.flops_f32 + st.flops_f64 + st.tensor_flops_f64 + st.tensor_flops_f16;
        assert!(fl >= (2 * m * n * k) as u64, "{name}: {fl} flops counted");
    }
}

fn run_module(file: &str, sm: u32, shapes: &[(usize, usize, usize)]) {
    let text = ptx_text(file);
    let mut dev = Dev::new();
    let module = dev
        .load(&text, sm)
        .unwrap_or_else(|e| panic!("{file}: {}", e.log));
    for name in module.kernel_names() {
        for &(m, n, k) in shapes {
            check_gemm(sm, &module, &mut dev, &name, m, n, k);
        }
    }
}

#[test]
fn gemm_compute_52_entries_match_the_reference() {
    run_module(
        "gemm.compute_52.ptx",
        52,
        &[(37, 45, 19), (130, 67, 9), (5, 3, 0)],
    );
}

#[test]
fn gemm_compute_70_entries_match_the_reference() {
    run_module("gemm.compute_70.ptx", 70, &[(37, 45, 19), (67, 130, 33)]);
}

#[test]
fn gemm_compute_80_entries_match_the_reference_on_sm80() {
    run_module(
        "gemm.compute_80.ptx",
        80,
        &[(37, 45, 19), (67, 130, 33), (5, 3, 0)],
    );
}

#[test]
fn gemm_compute_80_entries_match_the_reference_on_sm90() {
    run_module("gemm.compute_80.ptx", 90, &[(33, 70, 17)]);
}

fn stream_case(prec: &str, op: &str, n: usize, grid: u32) {
    let text = ptx_text("stream.compute_52.ptx");
    let mut dev = Dev::new();
    let module = dev.load(&text, 52).unwrap();
    let name = format!("stream_{op}_{prec}");
    let k = kernel(&module, &name);
    let mut rng = Rng(12345 + n as u64);
    let xs: Vec<f64> = (0..3 * n).map(|_| rng.f64(0.5, 1.5)).collect();
    let scalar = 0.4f64;
    let (p, sz) = if prec == "f32" {
        (Prec::F32, 4)
    } else {
        (Prec::F64, 8)
    };
    let a = dev.upload_as(p, &xs[..n]).0;
    let b = dev.upload_as(p, &xs[n..2 * n]).0;
    let c = dev.upload_as(p, &xs[2 * n..]).0;
    let partial = dev.alloc(grid as usize * sz);
    let s = if prec == "f32" {
        a_f32(scalar as f32)
    } else {
        a_f64(scalar)
    };
    let nn = a_u64(n as u64);
    let params = match op {
        "copy" => vec![a_u64(a), a_u64(c), nn],
        "scale" => vec![a_u64(c), a_u64(b), s, nn],
        "add" => vec![a_u64(a), a_u64(b), a_u64(c), nn],
        "triad" => vec![a_u64(b), a_u64(c), a_u64(a), s, nn],
        _ => vec![a_u64(a), a_u64(b), a_u64(partial), nn],
    };
    let st = dev
        .launch(&k, [grid, 1, 1], [256, 1, 1], &params, opts())
        .unwrap_or_else(|e| panic!("{name}: {}", e.log));
    let ra = dev.read_as(p, a, n);
    let rb = dev.read_as(p, b, n);
    let rc = dev.read_as(p, c, n);
    let (ia, ib, ic) = (&xs[..n], &xs[n..2 * n], &xs[2 * n..]);
    let tol = if prec == "f32" { 1e-6 } else { 1e-14 };
    let close = |x: f64, y: f64| (x - y).abs() <= tol * y.abs().max(1.0);
    let nb = (n * sz) as u64;
    let (reads, writes) = match op {
        "copy" => {
            for i in 0..n {
                assert!(close(rc[i], ia[i]), "{name}[{i}]");
            }
            (nb, nb)
        }
        "scale" => {
            for i in 0..n {
                assert!(close(rb[i], scalar * ic[i]), "{name}[{i}]");
            }
            (nb, nb)
        }
        "add" => {
            for i in 0..n {
                assert!(close(rc[i], ia[i] + ib[i]), "{name}[{i}]");
            }
            (2 * nb, nb)
        }
        "triad" => {
            for i in 0..n {
                assert!(close(ra[i], ib[i] + scalar * ic[i]), "{name}[{i}]");
            }
            (2 * nb, nb)
        }
        _ => {
            let got: f64 = dev.read_as(p, partial, grid as usize).iter().sum();
            let want: f64 = ia.iter().zip(ib).map(|(x, y)| x * y).sum();
            assert!((got - want).abs() <= 1e-4 * want, "{name}: {got} vs {want}");
            (2 * nb, grid as u64 * sz as u64)
        }
    };
    assert_eq!(st.global_bytes_read, reads, "{name} bytes read");
    assert_eq!(st.global_bytes_written, writes, "{name} bytes written");
}

#[test]
fn stream_entries_match_the_reference_and_move_their_bytes() {
    for prec in ["f32", "f64"] {
        for op in ["copy", "scale", "add", "triad", "dot"] {
            stream_case(prec, op, 4099, 3);
            stream_case(prec, op, 1000, 8);
        }
    }
}

#[test]
fn damaged_ptx_fails_cleanly() {
    // Truncations and byte damage of a committed module: an error or a module, never a panic.
    let text = ptx_text("stream.compute_52.ptx");
    let bytes = text.as_bytes();
    let opts = LoadOptions {
        sm: 90,
        max_isa: (8, 4),
    };
    let mut rng = Rng(99);
    for i in 0..120 {
        let cut = (rng.next() % bytes.len() as u64) as usize;
        let mut damaged = bytes[..cut].to_vec();
        if i % 2 == 1 {
            // and a flipped byte somewhere before the cut
            if cut > 0 {
                let k = (rng.next() % cut as u64) as usize;
                damaged[k] = b"{}[]();,.%@!+-0x9"[(rng.next() % 17) as usize];
            }
        }
        let s = String::from_utf8_lossy(&damaged);
        let r = std::panic::catch_unwind(|| Module::load(&s, &opts, &mut |_| Ok(0x1000)).is_ok());
        assert!(r.is_ok(), "panicked on a damaged module (cut {cut})");
    }
}
