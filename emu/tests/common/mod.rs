//! What the emulator test files share: a deterministic generator, the GEMM shapes every variant
//! runs at, and one way of launching a GEMM variant on the emulator.

// Each test file uses a part of this module.
#![allow(dead_code)]

use gpugate::kernels::GemmKernel;
use gpugate::workload::device::{as_bytes, as_bytes_mut, bytemuck_lite::Pod, KArg, KernelDevice};
use gpugate::workload::gemm::gemm_launch_config;
use gpugate_emu::EmuDevice;

/// A small deterministic generator (xorshift64*), enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
    /// A small integer in [-4, 4]: products and sums stay exact in f32 for our sizes.
    pub fn small_int(&mut self) -> f64 {
        self.below(9) as f64 - 4.0
    }
}

/// The shapes every GEMM variant is run at: degenerate, odd, skinny (a single row or column),
/// non-multiples of every tile, and shapes that take the vectorised paths with partial tiles.
pub const GEMM_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (31, 31, 31),
    (33, 65, 129),
    (1000, 999, 17),
    (130, 1, 7),
    (1, 130, 7),
    (5, 7, 2),
    (1, 1, 300),
    (257, 300, 1),
];

/// Shapes derived from a variant's own tile: exactly one tile, a multiple of the tile in every
/// dimension (vector paths everywhere, no partial tile), and one element past / short of it.
pub fn tile_shapes(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let (bm, bn, bk) = (kernel.bm as usize, kernel.bn as usize, kernel.bk as usize);
    vec![
        (bm, bn, bk),
        (2 * bm, 3 * bn, 5 * bk),
        (bm + 1, bn - 1, bk + 1),
        (bm - 1, bn + 1, 3 * bk - 1),
    ]
}

/// Runs `kernel` on A (m×k) and B (k×n) as the kernel reads them (`I`: f32, f64 or binary16
/// bits), each operand placed `offsets[i]` elements into its allocation (the elements before it
/// hold `pad`; to test unaligned operands). C (type `O`) starts as all-ones bytes (NaN in f32 and
/// f64), so an element that is never written shows; the elements before C must keep them.
/// Returns C (m×n).
pub fn run_gemm_at<I: Pod, O: Pod + Default>(
    kernel: &GemmKernel,
    (m, n, k): (usize, usize, usize),
    a: &[I],
    b: &[I],
    pad: I,
    offsets: [usize; 3],
) -> Vec<O> {
    let dev = EmuDevice::new();
    let upload = |bytes: &[u8]| {
        let buf = dev.alloc(bytes.len()).unwrap();
        dev.upload(buf, bytes).unwrap();
        buf
    };
    let padded = |v: &[I], off: usize| -> Vec<I> {
        let mut p = vec![pad; off];
        p.extend_from_slice(v);
        p
    };
    let da = upload(as_bytes(&padded(a, offsets[0])));
    let db = upload(as_bytes(&padded(b, offsets[1])));
    let c_len = (m * n + offsets[2]) * std::mem::size_of::<O>();
    let dc = upload(&vec![0xFF; c_len]);
    let args = [
        KArg::I32(m as i32),
        KArg::I32(n as i32),
        KArg::I32(k as i32),
        KArg::Buf(da),
        KArg::Buf(db),
        KArg::Buf(dc),
    ];
    let (si, so) = (std::mem::size_of::<I>(), std::mem::size_of::<O>());
    let byte_offsets = [0, 0, 0, si * offsets[0], si * offsets[1], so * offsets[2]];
    dev.launch_at(
        kernel.kernel,
        gemm_launch_config(kernel, m, n),
        &args,
        &byte_offsets,
    )
    .unwrap();
    let mut c = vec![O::default(); m * n + offsets[2]];
    dev.download(dc, as_bytes_mut(&mut c)).unwrap();
    for buf in [da, db, dc] {
        dev.free(buf);
    }
    assert_eq!(dev.live_buffers(), 0);
    assert!(
        as_bytes(&c[..offsets[2]]).iter().all(|x| *x == 0xFF),
        "{}: wrote before C",
        kernel.kernel.entry
    );
    c.split_off(offsets[2])
}
