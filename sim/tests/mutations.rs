//! Mutations of the committed PTX that the simulator must catch. Each test patches a copy of a
//! module (one named line, checked to hold what the patch expects, so that a regenerated PTX
//! breaks the test loudly instead of silently testing nothing), runs the same check on the
//! unpatched and the patched text, and asserts that the first passes and the second fails.

mod common;

use common::*;
use gpugate_sim::exec::{LaunchError, LaunchErrorKind, LaunchStats};

/// Replaces `from` by `to` on line `line` (1-based) of `text`, which must contain `from`.
fn patch_line(text: &str, line: usize, from: &str, to: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let l = &mut lines[line - 1];
    assert!(
        l.contains(from),
        "line {line} is `{l}`, expected it to contain `{from}`"
    );
    *l = l.replacen(from, to, 1);
    lines.join("\n") + "\n"
}

/// In the body of entry `entry`, applies `f` to every line.
fn patch_entry(text: &str, entry: &str, f: impl Fn(&str) -> Vec<String>) -> String {
    let mut out = Vec::new();
    let mut inside = false;
    let mut changed = 0;
    for l in text.lines() {
        if l.contains(&format!(".entry {entry}(")) {
            inside = true;
        } else if inside && l.starts_with(".visible .entry") {
            inside = false;
        }
        if inside {
            let v = f(l);
            if v.len() != 1 || v[0] != l {
                changed += 1;
            }
            out.extend(v);
        } else {
            out.push(l.to_string());
        }
    }
    assert!(changed > 0, "the patch of {entry} changed nothing");
    out.join("\n") + "\n"
}

/// A GEMM entry: its name, tile geometry (bm, bn, threads) and precision.
struct Entry {
    name: &'static str,
    tile: (u32, u32, u32),
    prec: Prec,
}

const DMMA: Entry = Entry {
    name: "dgemm_f64_tc_64x64x8_w32x32_s4",
    tile: (64, 64, 128),
    prec: Prec::F64,
};

const SGEMM: Entry = Entry {
    name: "sgemm_f32_128x128x8_t8x8",
    tile: (128, 128, 256),
    prec: Prec::F32,
};

/// A GEMM launch: the launch's result, C (as f64) and the reference.
fn gemm(
    text: &str,
    sm: u32,
    e: &Entry,
    (m, n, k): (usize, usize, usize),
    racecheck: bool,
) -> (Result<LaunchStats, LaunchError>, Vec<f64>, Vec<f64>) {
    let mut dev = Dev::new();
    let module = dev
        .load(text, sm)
        .unwrap_or_else(|err| panic!("{}: {}", e.name, err.log));
    let kern = kernel(&module, e.name);
    let mut rng = Rng(0xC0FFEE);
    let a: Vec<f64> = (0..m * k).map(|_| rng.f64(-1.0, 1.0)).collect();
    let b: Vec<f64> = (0..k * n).map(|_| rng.f64(-1.0, 1.0)).collect();
    let (pa, a) = dev.upload_as(e.prec, &a);
    let (pb, b) = dev.upload_as(e.prec, &b);
    let (pc, _) = dev.upload_as(e.prec, &vec![0.0; m * n]);
    let (bm, bn, threads) = e.tile;
    let grid = [(n as u32).div_ceil(bn), (m as u32).div_ceil(bm), 1];
    let mut o = opts();
    o.racecheck = racecheck;
    let args = gemm_args(m, n, k, pa, pb, pc);
    let r = dev.launch(&kern, grid, [threads, 1, 1], &args, o);
    (r, dev.read_as(e.prec, pc, m * n), gemm_ref(m, n, k, &a, &b))
}

/// The unpatched module computes C to within `tol`.
fn assert_right(
    text: &str,
    sm: u32,
    e: &Entry,
    shape: (usize, usize, usize),
    racecheck: bool,
    tol: f64,
) {
    let (r, got, want) = gemm(text, sm, e, shape, racecheck);
    r.unwrap();
    assert!(
        max_err(&got, &want) < tol,
        "unpatched {} must be right",
        e.name
    );
}

fn max_err(got: &[f64], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
}

// (a) ------------------------------------------------------------ wrong mma fragment index

fn dmma_mutation(patched: &str) {
    let text = ptx_text("gemm.compute_80.ptx");
    for sm in [80, 90] {
        let shape = (45, 70, 24);
        assert_right(&text, sm, &DMMA, shape, false, 1e-10);
        let (r, got, want) = gemm(patched, sm, &DMMA, shape, false);
        r.unwrap();
        assert!(
            max_err(&got, &want) > 1e-3,
            "sm_{sm}: the mutated fragment must give a wrong D (err {})",
            max_err(&got, &want)
        );
    }
}

#[test]
fn a_swapped_accumulator_fragment_order_gives_a_wrong_dgemm() {
    let text = ptx_text("gemm.compute_80.ptx");
    // c0/c1 (columns 2t and 2t+1 of the 8×8 tile) trade places in one mma of the k-loop.
    let patched = patch_line(
        &text,
        30787,
        "{%fd376, %fd375}, {%fd163}, {%fd164}, {%fd376, %fd375}",
        "{%fd375, %fd376}, {%fd163}, {%fd164}, {%fd375, %fd376}",
    );
    dmma_mutation(&patched);
}

#[test]
fn a_wrong_a_fragment_lane_index_gives_a_wrong_dgemm() {
    let text = ptx_text("gemm.compute_80.ptx");
    // a0 must be A[groupID][threadID_in_group]: index k by groupID (%r4) instead.
    let patched = patch_line(
        &text,
        30771,
        "mul.wide.s32 \t%rd297, %r5, 8;",
        "mul.wide.s32 \t%rd297, %r4, 8;",
    );
    dmma_mutation(&patched);
}

// (b) ------------------------------------------------------------------ a missing edge guard

#[test]
fn a_dropped_m_edge_guard_is_an_illegal_address() {
    let text = ptx_text("gemm.compute_52.ptx");
    let shape = (37, 45, 19);
    assert_right(&text, 52, &SGEMM, shape, true, 1e-4);
    // The epilogue's row guard `row >= M → skip the row`.
    let patched = patch_line(&text, 1226, "@%p88 bra \t$L__BB0_65;", "");
    let (r, _, _) = gemm(&patched, 52, &SGEMM, shape, true);
    let e = r.expect_err("the store past row M must fault");
    assert_eq!(e.kind, LaunchErrorKind::IllegalAddress, "{}", e.log);
    assert!(
        e.log.contains("st.global") || e.log.contains("global write"),
        "{}",
        e.log
    );
}

// (c) ---------------------------------------------------------- a misaligned 16-byte cp.async

#[test]
fn a_misaligned_16_byte_cp_async_faults() {
    let text = ptx_text("gemm.compute_80.ptx");
    let shape = (45, 70, 24);
    assert_right(&text, 80, &DMMA, shape, true, 1e-10);
    for (from, to) in [
        ("[%rd6], 16, %r95;", "[%rd6+8], 16, %r95;"),
        ("[%r94], [%rd6]", "[%r94+8], [%rd6]"),
    ] {
        let patched = patch_line(&text, 29694, from, to);
        let (r, _, _) = gemm(&patched, 80, &DMMA, shape, true);
        let e = r.expect_err("a 16-byte cp.async at an 8-byte offset must fault");
        assert_eq!(e.kind, LaunchErrorKind::MisalignedAddress, "{}", e.log);
    }
}

// (d) ---------------------------------------------------------------- a removed bar.sync

#[test]
fn a_removed_bar_sync_is_a_race() {
    let text = ptx_text("gemm.compute_52.ptx");
    let shape = (64, 64, 24);
    assert_right(&text, 52, &SGEMM, shape, true, 1e-4);
    // The barrier between staging the first tiles and reading them.
    let patched = patch_line(&text, 315, "bar.sync \t0;", "");
    let (r, _, _) = gemm(&patched, 52, &SGEMM, shape, true);
    let e = r.expect_err("the race must be detected");
    assert_eq!(e.kind, LaunchErrorKind::LaunchFailed, "{}", e.log);
    assert!(e.log.contains("race"), "{}", e.log);
}

// (e) ----------------------------------------------------------- a copy that moves bytes twice

fn copy_bytes(text: &str, n: usize) -> (u64, Vec<f32>, Vec<f32>) {
    let mut dev = Dev::new();
    let module = dev.load(text, 52).unwrap();
    let k = kernel(&module, "stream_copy_f32");
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let pa = dev.upload(&a);
    let pc = dev.alloc(n * 4);
    // The workload's geometry: ceil(n / 256) blocks, capped at 24 SMs × 256.
    let grid = n.div_ceil(256).min(24 * 256) as u32;
    let st = dev
        .launch(
            &k,
            [grid, 1, 1],
            [256, 1, 1],
            &[a_u64(pa), a_u64(pc), a_u64(n as u64)],
            opts(),
        )
        .unwrap();
    (
        st.global_bytes_read + st.global_bytes_written,
        dev.read(pc, n),
        a,
    )
}

#[test]
fn a_copy_that_moves_each_byte_twice_is_counted() {
    let text = ptx_text("stream.compute_52.ptx");
    for n in [10_000usize, 3 * 256 * 24 * 256 / 7] {
        let declared = 8.0 * n as f64;
        let (bytes, got, want) = copy_bytes(&text, n);
        assert_eq!(got, want);
        assert!(
            (bytes as f64 - declared).abs() <= 0.01 * declared,
            "unpatched copy moves {bytes} bytes for {n} elements"
        );
        // Every load and store of the copy loops done twice: same result, twice the bytes.
        let patched = patch_entry(&text, "stream_copy_f32", |l| {
            if l.contains("ld.global.nc.f32") || l.contains("st.global.f32") {
                vec![l.to_string(), l.to_string()]
            } else {
                vec![l.to_string()]
            }
        });
        let (bytes, got, want) = copy_bytes(&patched, n);
        assert_eq!(got, want, "the result alone does not show it");
        assert!(
            (bytes as f64 - declared).abs() > 0.5 * declared,
            "patched copy moved {bytes} bytes for {n} elements"
        );
    }
}
