//! Video stages: host references in the integer arithmetic of `kernels/video.cu`, and exact
//! checks of the device's outputs against them.
//!
//! Every stage is integer-exact, so every comparison is for equality (tolerance 0; `max_error`
//! is the largest |expected − got|):
//!
//! - colour (RGBA8 → NV12, BT.709 limited range), with `>>` an arithmetic shift (floor):
//!   `Y = ((47R + 157G + 16B + 128) >> 8) + 16` per pixel;
//!   `Cb = ((−26ΣR − 86ΣG + 112ΣB + 512) >> 10) + 128`,
//!   `Cr = ((112ΣR − 102ΣG − 10ΣB + 512) >> 10) + 128` per 2×2 block (Σ over the block,
//!   coordinates clamped to the frame);
//! - scaling (NV12 W×H → ⌈2W/3⌉×⌈2H/3⌉, bilinear, 8 fractional bits): output sample `o` of a
//!   plane of `n_out` maps to `s = ⌊(2o + 1)·n_in·128 / n_out⌋ − 128` (in 1/256 pixel),
//!   `s = max(s, 0)`, `i0 = min(s >> 8, n_in − 1)`, `f = s & 255`, `i1 = min(i0 + 1, n_in − 1)`,
//!   and the sample is `(p00(256−fx)(256−fy) + p01·fx(256−fy) + p10(256−fx)fy + p11·fx·fy +
//!   32768) >> 16`, in each of Y, Cb and Cr;
//! - motion estimation: full search of every full 16×16 macroblock over the vectors in
//!   [−16, 16]² whose candidate lies inside the frame; lowest SAD, then smallest |vx| + |vy|,
//!   then raster order (smaller vy, then smaller vx); partial macroblocks are not searched;
//! - residual, H.264 4×4 forward core transform and quantisation at QP 28 of every full 4×4
//!   block: `level = sign(c)·((|c|·MF + 87381) >> 19)`, MF = 8192 (row and column even), 3355
//!   (both odd), 5243 (otherwise); partial blocks are skipped.

use crate::model::{Mismatch, Verification, VerifyStatus};

use super::MAX_MISMATCHES;

/// Largest frame side the kernels take (the scaler's position mapping is 32-bit).
pub const MAX_SIDE: usize = 4096;
/// Search range of motion estimation, in pixels either way.
pub const ME_RANGE: i32 = 16;
/// Quantiser of the transform stage: QP 28 → qbits = 15 + 28/6 = 19, rounding offset 2^19/6.
pub const QBITS: u32 = 19;
pub const QUANT_OFFSET: i32 = (1 << QBITS) / 6;
/// H.264's MF for QP % 6 = 4: (both even, both odd, otherwise).
pub const QUANT_MF: [i32; 3] = [8192, 3355, 5243];

/// Chroma plane size of NV12 at `w`×`h`: ⌈w/2⌉ × ⌈h/2⌉ Cb,Cr pairs.
pub fn chroma_dims(w: usize, h: usize) -> (usize, usize) {
    (w.div_ceil(2), h.div_ceil(2))
}

/// Bytes of an NV12 frame: the Y plane and the interleaved Cb,Cr plane (pitch 2⌈w/2⌉).
pub fn nv12_bytes(w: usize, h: usize) -> usize {
    let (cw, ch) = chroma_dims(w, h);
    w * h + 2 * cw * ch
}

/// Output size of the scaler: ⌈2w/3⌉ × ⌈2h/3⌉ (1920×1080 → 1280×720).
pub fn scaled_dims(w: usize, h: usize) -> (usize, usize) {
    ((2 * w).div_ceil(3), (2 * h).div_ceil(3))
}

/// Full macroblocks (the ones searched).
pub fn macroblocks(w: usize, h: usize) -> (usize, usize) {
    (w / 16, h / 16)
}

/// Full 4×4 blocks (the ones transformed).
pub fn blocks4(w: usize, h: usize) -> (usize, usize) {
    (w / 4, h / 4)
}

// ---------------------------------------------------------------------------------- colour

pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    (((47 * r + 157 * g + 16 * b + 128) >> 8) + 16) as u8
}

/// (Cb, Cr) from the sums of R, G and B over a 2×2 block.
pub fn chroma(sr: i32, sg: i32, sb: i32) -> (u8, u8) {
    let cb = ((-26 * sr - 86 * sg + 112 * sb + 512) >> 10) + 128;
    let cr = ((112 * sr - 102 * sg - 10 * sb + 512) >> 10) + 128;
    (cb as u8, cr as u8)
}

/// RGBA8 (4 bytes per pixel, R first, row pitch 4w) → NV12.
pub fn rgba_to_nv12(rgba: &[u8], w: usize, h: usize) -> Vec<u8> {
    assert_eq!(rgba.len(), 4 * w * h);
    let (cw, ch) = chroma_dims(w, h);
    let mut out = vec![0u8; nv12_bytes(w, h)];
    for y in 0..h {
        for x in 0..w {
            let p = &rgba[4 * (y * w + x)..];
            out[y * w + x] = luma(p[0], p[1], p[2]);
        }
    }
    for cy in 0..ch {
        for cx in 0..cw {
            let mut s = [0i32; 3];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let x = (2 * cx + dx).min(w - 1);
                let y = (2 * cy + dy).min(h - 1);
                for (c, sum) in s.iter_mut().enumerate() {
                    *sum += rgba[4 * (y * w + x) + c] as i32;
                }
            }
            let (cb, cr) = chroma(s[0], s[1], s[2]);
            let at = w * h + cy * 2 * cw + 2 * cx;
            out[at] = cb;
            out[at + 1] = cr;
        }
    }
    out
}

// --------------------------------------------------------------------------------- scaling

/// Input position of output sample `o` of `n_out` in a plane of `n_in` samples: (i0, i1, weight
/// of i1 in 1/256).
pub fn map_position(o: usize, n_in: usize, n_out: usize) -> (usize, usize, u32) {
    let num = ((2 * o + 1) as u32) * (n_in as u32) * 128;
    let s = ((num / n_out as u32) as i32 - 128).max(0);
    let i0 = ((s >> 8) as usize).min(n_in - 1);
    let f = (s & 255) as u32;
    (i0, (i0 + 1).min(n_in - 1), f)
}

/// One bilinear sample from four neighbours and the weights of the second column / row.
pub fn bilinear(p00: u8, p01: u8, p10: u8, p11: u8, fx: u32, fy: u32) -> u8 {
    let (gx, gy) = (256 - fx, 256 - fy);
    let v = p00 as u32 * (gx * gy)
        + p01 as u32 * (fx * gy)
        + p10 as u32 * (gx * fy)
        + p11 as u32 * (fx * fy)
        + 32768;
    (v >> 16) as u8
}

/// Scales one plane of `n_x`×`n_y` samples read at `at(x, y)` to `o_x`×`o_y`, writing sample
/// (x, y) through `put`.
fn scale_plane(
    (n_x, n_y): (usize, usize),
    (o_x, o_y): (usize, usize),
    at: impl Fn(usize, usize) -> u8,
    mut put: impl FnMut(usize, usize, u8),
) {
    let cols: Vec<_> = (0..o_x).map(|o| map_position(o, n_x, o_x)).collect();
    for oy in 0..o_y {
        let (y0, y1, fy) = map_position(oy, n_y, o_y);
        for (ox, &(x0, x1, fx)) in cols.iter().enumerate() {
            put(
                ox,
                oy,
                bilinear(at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1), fx, fy),
            );
        }
    }
}

/// NV12 `w`×`h` → NV12 `ow`×`oh`.
pub fn scale_nv12(src: &[u8], w: usize, h: usize, ow: usize, oh: usize) -> Vec<u8> {
    assert_eq!(src.len(), nv12_bytes(w, h));
    let mut out = vec![0u8; nv12_bytes(ow, oh)];
    scale_plane(
        (w, h),
        (ow, oh),
        |x, y| src[y * w + x],
        |x, y, v| out[y * ow + x] = v,
    );
    let (cw, ch) = chroma_dims(w, h);
    let (ocw, och) = chroma_dims(ow, oh);
    for c in 0..2 {
        let (sy, oy0) = (w * h, ow * oh);
        let mut plane = vec![0u8; ocw * och];
        scale_plane(
            (cw, ch),
            (ocw, och),
            |x, y| src[sy + y * 2 * cw + 2 * x + c],
            |x, y, v| plane[y * ocw + x] = v,
        );
        for y in 0..och {
            for x in 0..ocw {
                out[oy0 + y * 2 * ocw + 2 * x + c] = plane[y * ocw + x];
            }
        }
    }
    out
}

// ----------------------------------------------------------------------- motion estimation

/// One macroblock's result: the best vector and its SAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Motion {
    pub vx: i32,
    pub vy: i32,
    pub sad: u32,
}

impl Motion {
    /// The kernel's word: SAD << 16 | (vy + 16) << 8 | (vx + 16).
    pub fn pack(self) -> u32 {
        (self.sad << 16) | (((self.vy + ME_RANGE) as u32) << 8) | (self.vx + ME_RANGE) as u32
    }
    pub fn unpack(v: u32) -> Motion {
        Motion {
            vx: (v & 255) as i32 - ME_RANGE,
            vy: ((v >> 8) & 255) as i32 - ME_RANGE,
            sad: v >> 16,
        }
    }
}

/// The vectors along one axis whose 16-pixel candidate at block origin `b` lies in `0..n`.
pub fn me_axis(b: usize, n: usize) -> std::ops::RangeInclusive<i32> {
    let lo = (-ME_RANGE).max(-(b as i32));
    let hi = ME_RANGE.min(n as i32 - 16 - b as i32);
    lo..=hi
}

/// SAD of the macroblock at (bx, by) of `cur` against `refr` displaced by (vx, vy).
pub fn sad16(
    cur: &[u8],
    refr: &[u8],
    w: usize,
    (bx, by): (usize, usize),
    (vx, vy): (i32, i32),
) -> u32 {
    let rx = (bx as i32 + vx) as usize;
    let ry = (by as i32 + vy) as usize;
    let mut s = 0u32;
    for j in 0..16 {
        let c = &cur[(by + j) * w + bx..][..16];
        let r = &refr[(ry + j) * w + rx..][..16];
        s += c
            .iter()
            .zip(r)
            .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs())
            .sum::<u32>();
    }
    s
}

/// Full search of macroblock (mx, my): the lowest SAD, then the smallest |vx| + |vy|, then
/// raster order.
pub fn me_search(cur: &[u8], refr: &[u8], w: usize, h: usize, mx: usize, my: usize) -> Motion {
    let (bx, by) = (16 * mx, 16 * my);
    let mut best: Option<(u32, i32, i32, i32)> = None;
    for vy in me_axis(by, h) {
        for vx in me_axis(bx, w) {
            let key = (
                sad16(cur, refr, w, (bx, by), (vx, vy)),
                vx.abs() + vy.abs(),
                vy,
                vx,
            );
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
    }
    let (sad, _, vy, vx) = best.expect("a full macroblock has the zero vector");
    Motion { vx, vy, sad }
}

/// Whether the candidate of vector `v` is inside the frame for macroblock (mx, my): then a
/// reference that is the current frame translated by `v` gives exactly `v` with SAD 0.
pub fn me_interior(w: usize, h: usize, mx: usize, my: usize, v: (i32, i32)) -> bool {
    me_axis(16 * mx, w).contains(&v.0) && me_axis(16 * my, h).contains(&v.1)
}

// ------------------------------------------------------------------ transform + quantiser

/// H.264 forward core transform Y = Cf·X·Cf^T (X[row][column]).
pub fn forward4x4(x: [[i32; 4]; 4]) -> [[i32; 4]; 4] {
    fn pass(v: [i32; 4]) -> [i32; 4] {
        let (e0, e1, e2, e3) = (v[0] + v[3], v[1] + v[2], v[1] - v[2], v[0] - v[3]);
        [e0 + e1, 2 * e3 + e2, e0 - e1, e3 - 2 * e2]
    }
    let mut t = [[0; 4]; 4];
    for r in 0..4 {
        t[r] = pass(x[r]);
    }
    let mut y = [[0; 4]; 4];
    for c in 0..4 {
        let col = pass([t[0][c], t[1][c], t[2][c], t[3][c]]);
        for k in 0..4 {
            y[k][c] = col[k];
        }
    }
    y
}

/// MF of coefficient (row k, column c).
pub fn quant_mf(k: usize, c: usize) -> i32 {
    if (k | c) & 1 == 0 {
        QUANT_MF[0]
    } else if (k & c) & 1 == 1 {
        QUANT_MF[1]
    } else {
        QUANT_MF[2]
    }
}

/// level = sign(c)·((|c|·MF + 87381) >> 19).
pub fn quantise(c: i32, mf: i32) -> i32 {
    let a = (c.abs() * mf + QUANT_OFFSET) >> QBITS;
    if c < 0 {
        -a
    } else {
        a
    }
}

/// Levels of every full 4×4 block of `cur − pred`, in place (pitch 4⌊w/4⌋, 4⌊h/4⌋ rows).
pub fn dct_quant(cur: &[u8], pred: &[u8], w: usize, h: usize) -> Vec<i16> {
    let (bw, bh) = blocks4(w, h);
    let pitch = 4 * bw;
    let mut out = vec![0i16; pitch * 4 * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let mut x = [[0i32; 4]; 4];
            for (r, row) in x.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    let i = (4 * by + r) * w + 4 * bx + c;
                    *v = cur[i] as i32 - pred[i] as i32;
                }
            }
            let y = forward4x4(x);
            for (k, row) in y.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    out[(4 * by + k) * pitch + 4 * bx + c] = quantise(*v, quant_mf(k, c)) as i16;
                }
            }
        }
    }
    out
}

// ----------------------------------------------------------------------------------- checks

/// Exact comparisons: how many, the largest |expected − got|, the first mismatches.
#[derive(Debug, Default)]
pub struct Exact {
    checked: u64,
    failed: bool,
    max_diff: f64,
    mismatches: Vec<Mismatch>,
}

impl Exact {
    /// Compares `got` with `expected` element by element; `at(i)` names element i.
    pub fn slice<T: Copy + PartialEq + Into<f64>>(
        &mut self,
        expected: &[T],
        got: &[T],
        at: impl Fn(usize) -> String,
    ) {
        if expected.len() != got.len() {
            self.mismatch("length".into(), expected.len() as f64, got.len() as f64);
        }
        for (i, (e, g)) in expected.iter().zip(got).enumerate() {
            self.one(*e, *g, || at(i));
        }
    }

    /// One value.
    pub fn one<T: Copy + PartialEq + Into<f64>>(
        &mut self,
        expected: T,
        got: T,
        at: impl FnOnce() -> String,
    ) {
        self.checked += 1;
        if expected != got {
            let (e, g) = (expected.into(), got.into());
            self.max_diff = self.max_diff.max((e - g).abs());
            self.mismatch(at(), e, g);
        }
    }

    fn mismatch(&mut self, at: String, expected: f64, got: f64) {
        self.failed = true;
        if self.mismatches.len() < MAX_MISMATCHES {
            self.mismatches.push(Mismatch { at, expected, got });
        }
    }

    pub fn finish(self, method: String) -> Verification {
        Verification {
            status: if self.failed {
                VerifyStatus::Failed
            } else {
                VerifyStatus::Passed
            },
            method,
            max_error: self.max_diff,
            tolerance: 0.0,
            checked: self.checked,
            mismatches: self.mismatches,
        }
    }
}

/// Names byte `i` of an NV12 frame of `w`×`h`: "frame 3 Y(12,7)", "frame 3 Cr(5,2)".
pub fn nv12_at(frame: usize, w: usize, h: usize, i: usize) -> String {
    if i < w * h {
        return format!("frame {frame} Y({},{})", i % w, i / w);
    }
    let (cw, _) = chroma_dims(w, h);
    let j = i - w * h;
    let plane = if j.is_multiple_of(2) { "Cb" } else { "Cr" };
    format!(
        "frame {frame} {plane}({},{})",
        (j % (2 * cw)) / 2,
        j / (2 * cw)
    )
}

/// Checks NV12 frame `frame` (colour conversion of `rgba`).
pub fn check_nv12_frame(
    tally: &mut Exact,
    frame: usize,
    rgba: &[u8],
    w: usize,
    h: usize,
    got: &[u8],
) {
    let want = rgba_to_nv12(rgba, w, h);
    tally.slice(&want, got, |i| nv12_at(frame, w, h, i));
}

/// Checks scaled frame `frame` (of NV12 `src`, `w`×`h`).
pub fn check_scale_frame(
    tally: &mut Exact,
    frame: usize,
    src: &[u8],
    w: usize,
    h: usize,
    got: &[u8],
) {
    let (ow, oh) = scaled_dims(w, h);
    let want = scale_nv12(src, w, h, ow, oh);
    tally.slice(&want, got, |i| nv12_at(frame, ow, oh, i));
}

/// Checks the levels of frame `frame`.
pub fn check_dct_frame(
    tally: &mut Exact,
    frame: usize,
    cur: &[u8],
    pred: &[u8],
    w: usize,
    h: usize,
    got: &[i16],
) {
    let want = dct_quant(cur, pred, w, h);
    let pitch = 4 * blocks4(w, h).0;
    tally.slice(&want, got, |i| {
        let (x, y) = (i % pitch, i / pitch);
        format!(
            "frame {frame} block({},{}) level[{}][{}]",
            x / 4,
            y / 4,
            y % 4,
            x % 4
        )
    });
}

/// Motion estimation of frame `frame`: every macroblock whose candidate at `truth` is inside
/// the frame must give `truth` with SAD 0 (the reference is the current frame translated by
/// it); the macroblocks in `search` (indices) are searched in full on the host and compared.
#[allow(clippy::too_many_arguments)]
pub fn check_me_frame(
    tally: &mut Exact,
    frame: usize,
    cur: &[u8],
    refr: &[u8],
    w: usize,
    h: usize,
    truth: (i32, i32),
    search: &[usize],
    got: &[u32],
) {
    let (mbw, mbh) = macroblocks(w, h);
    if got.len() != mbw * mbh {
        tally.mismatch("length".into(), (mbw * mbh) as f64, got.len() as f64);
        return;
    }
    let name = |mb: usize, want: Motion, got: u32| {
        let g = Motion::unpack(got);
        format!(
            "frame {frame} MB({},{}): want ({},{}) SAD {}, got ({},{}) SAD {} (packed words)",
            mb % mbw,
            mb / mbw,
            want.vx,
            want.vy,
            want.sad,
            g.vx,
            g.vy,
            g.sad
        )
    };
    let known = Motion {
        vx: truth.0,
        vy: truth.1,
        sad: 0,
    };
    for (mb, &g) in got.iter().enumerate() {
        if me_interior(w, h, mb % mbw, mb / mbw, truth) {
            tally.one(known.pack(), g, || name(mb, known, g));
        }
    }
    for &mb in search {
        let want = me_search(cur, refr, w, h, mb % mbw, mb / mbw);
        tally.one(want.pack(), got[mb], || name(mb, want, got[mb]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Colour pairs worked by hand from the formulas.
    #[test]
    fn colour_of_known_pixels() {
        // Black and white: Y = 16 and 235 (limited range); grey has neutral chroma.
        assert_eq!(luma(0, 0, 0), 16);
        // 220·255 + 128 = 56228; >> 8 = 219; + 16.
        assert_eq!(luma(255, 255, 255), 235);
        for v in [0, 1, 77, 128, 254, 255] {
            let s = 4 * v;
            assert_eq!(chroma(s, s, s), (128, 128), "grey {v}");
        }
        // Red: Y = (47·255 + 128) >> 8 + 16 = 12113 >> 8 + 16 = 47 + 16 = 63.
        assert_eq!(luma(255, 0, 0), 63);
        // Cb = (−26·1020 + 512) >> 10 + 128 = (−26008 >> 10) + 128 = −26 + 128 = 102;
        // Cr = (112·1020 + 512) >> 10 + 128 = (114752 >> 10) + 128 = 112 + 128 = 240.
        assert_eq!(chroma(1020, 0, 0), (102, 240));
        // Green: Y = (157·255 + 128) >> 8 + 16 = 40163 >> 8 + 16 = 156 + 16 = 172;
        // Cb = (−87720 + 512) >> 10 = −85.16… → −86 (floor) → 42; Cr = (−104040 + 512) >> 10
        // = −101.1… → −102 → 26.
        assert_eq!(luma(0, 255, 0), 172);
        assert_eq!(chroma(0, 1020, 0), (42, 26));
        // Blue: Y = (16·255 + 128) >> 8 + 16 = 4208 >> 8 + 16 = 32; Cb = 114752 >> 10 + 128 =
        // 240; Cr = (−10200 + 512) >> 10 = −9.46… → −10 → 118.
        assert_eq!(luma(0, 0, 255), 32);
        assert_eq!(chroma(0, 0, 1020), (240, 118));
        // A 2×2 frame: one chroma pair from the average of four different pixels.
        let rgba = [
            255, 0, 0, 9, /* */ 0, 255, 0, 9, //
            0, 0, 255, 9, /* */ 255, 255, 255, 9,
        ];
        // ΣR = ΣG = ΣB = 510: grey → (128, 128).
        assert_eq!(rgba_to_nv12(&rgba, 2, 2), vec![63, 172, 32, 235, 128, 128]);
        // A 3×1 frame: the odd column's block repeats its pixel (ΣR = 4·255 → red's chroma)
        // and the row repeats too.
        let rgba = [0, 0, 0, 0, /* */ 0, 0, 0, 0, /* */ 255, 0, 0, 0];
        let out = rgba_to_nv12(&rgba, 3, 1);
        assert_eq!(nv12_bytes(3, 1), 3 + 4);
        assert_eq!(out, vec![16, 16, 63, 128, 128, 102, 240]);
    }

    #[test]
    fn scaling_maps_1080p_to_720p_at_one_and_a_half() {
        assert_eq!(scaled_dims(1920, 1080), (1280, 720));
        assert_eq!(scaled_dims(3840, 2160), (2560, 1440));
        assert_eq!(scaled_dims(50, 38), (34, 26));
        // s = 1.5·o + 0.25: (0, 1, 64), (1, 2, 192), (3, 4, 64).
        assert_eq!(map_position(0, 1920, 1280), (0, 1, 64));
        assert_eq!(map_position(1, 1920, 1280), (1, 2, 192));
        assert_eq!(map_position(2, 1920, 1280), (3, 4, 64));
        assert_eq!(map_position(1279, 1920, 1280), (1918, 1919, 192));
        // Weights: 3/4 of p00 and 1/4 of p01 (fx = 64, fy = 0): (100·192·256 + 200·64·256 +
        // 32768) >> 16 = (4915200 + 3276800 + 32768) >> 16 = 125.
        assert_eq!(bilinear(100, 200, 0, 0, 64, 0), 125);
        // All four at fx = fy = 128: the rounded mean.
        assert_eq!(bilinear(0, 1, 1, 1, 128, 128), 1); // (3·16384 + 32768) >> 16 = 1.25 → 1
        assert_eq!(bilinear(0, 0, 0, 1, 128, 128), 0); // 0.25 + 0.5 → 0
        assert_eq!(bilinear(255, 255, 255, 255, 200, 17), 255);
        // A 3×3 NV12 frame → 2×2: every output sample by hand. Luma rows 10 20 30 / 40 50 60 /
        // 70 80 90; positions: o = 0 → s = ⌊3·128/2⌋ − 128 = 64 (0, 1, 64); o = 1 →
        // ⌊9·128/2⌋ − 128 = 448 (1, 2, 192).
        let mut src = vec![10, 20, 30, 40, 50, 60, 70, 80, 90];
        // chroma 2×2 pairs: Cb 100 110 / 120 130, Cr 7 7 / 7 7.
        src.extend_from_slice(&[100, 7, 110, 7, 120, 7, 130, 7]);
        let out = scale_nv12(&src, 3, 3, 2, 2);
        // Y(0,0): x 0..1 w 64, y 0..1 w 64: 10 + 10·0.25 + 30·0.25 = 20 → 20.
        // Y(1,0): x 1..2 w 192, y 0..1 w 64: 20 + 10·0.75 + 30·0.25 = 35.
        // Y(0,1): x 0..1 w 64, y 1..2 w 192: 40 + 2.5 + 22.5 = 65. Y(1,1): 50 + 7.5 + 22.5 = 80.
        // Chroma 2×2 → 1×1: o = 0 of 1 from 2: s = ⌊2·128⌋ − 128 = 128 (0, 1, 128):
        // Cb = the mean of 100 110 120 130 = 115; Cr = 7.
        assert_eq!(out, vec![20, 35, 65, 80, 115, 7]);
    }

    #[test]
    fn one_block_through_the_transform_and_the_quantiser() {
        // A DC block: X = 10 everywhere → Y[0][0] = 16·10 = 160, the rest 0.
        let y = forward4x4([[10; 4]; 4]);
        let mut want = [[0; 4]; 4];
        want[0][0] = 160;
        assert_eq!(y, want);
        // Rows 1 2 3 4: each row → [10, 2·(1−4) + (2−3) = −7, 0, (1−4) − 2·(2−3) = −1]; the
        // columns are constant → 4× in row 0 only.
        let y = forward4x4([[1, 2, 3, 4]; 4]);
        assert_eq!(y, [[40, -28, 0, -4], [0; 4], [0; 4], [0; 4]]);
        // A single 1 at (0,0): Y[k][c] = Cf[k][0]·Cf[c][0] = [1 2 1 1] ⊗ [1 2 1 1].
        let mut x = [[0; 4]; 4];
        x[0][0] = 1;
        let y = forward4x4(x);
        let a = [1, 2, 1, 1];
        for k in 0..4 {
            for c in 0..4 {
                assert_eq!(y[k][c], a[k] * a[c]);
            }
        }
        // Quantiser: 160 at DC, MF 8192: (160·8192 + 87381) >> 19 = 1398101 >> 19 = 2.
        assert_eq!(quant_mf(0, 0), 8192);
        assert_eq!(quantise(160, 8192), 2);
        assert_eq!(quantise(-160, 8192), -2);
        // −28 at (0,1), MF 5243: (28·5243 + 87381) >> 19 = 234185 >> 19 = 0.
        assert_eq!(quant_mf(0, 1), 5243);
        assert_eq!(quantise(-28, 5243), 0);
        // (1,1) is odd/odd: MF 3355; 500·3355 + 87381 = 1764881 >> 19 = 3.
        assert_eq!(quant_mf(1, 1), 3355);
        assert_eq!(quant_mf(3, 1), 3355);
        assert_eq!(quant_mf(2, 1), 5243);
        assert_eq!(quantise(500, 3355), 3);
        // The rounding threshold: |c|·8192 + 87381 ≥ 2^19 ⇔ |c| ≥ 53.34: 53 → 0, 54 → 1.
        assert_eq!(quantise(53, 8192), 0);
        assert_eq!(quantise(54, 8192), 1);
        // A 5×5 frame: one full block (the last column and row are skipped), in place.
        let cur: Vec<u8> = (0..25).map(|i| 60 + (i % 5) as u8 * 10).collect();
        let pred = vec![50u8; 25];
        // X rows = 10 20 30 40 → 10·(rows 1 2 3 4): Y row 0 = [400, −280, 0, −40].
        // Levels: (400·8192 + 87381) >> 19 = 3364181 >> 19 = 6; (280·5243 + 87381) >> 19 =
        // 1555421 >> 19 = 2 → −2; 0; (40·5243 + 87381) >> 19 = 0.
        let out = dct_quant(&cur, &pred, 5, 5);
        let mut want = vec![0i16; 16];
        want[0] = 6;
        want[1] = -2;
        assert_eq!(out, want);
    }

    #[test]
    fn motion_search_finds_a_translation_and_breaks_ties() {
        let (w, h) = (50, 38);
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u8
        };
        let cur: Vec<u8> = (0..w * h).map(|_| next()).collect();
        let (dx, dy) = (5i32, -3i32);
        let refr: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as i32 - dx, (i / w) as i32 - dy);
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    cur[y as usize * w + x as usize]
                } else {
                    7
                }
            })
            .collect();
        assert_eq!(macroblocks(w, h), (3, 2));
        // MB (0,1) at (0,16): the candidate (5,13) is inside → exact.
        assert!(me_interior(w, h, 0, 1, (dx, dy)));
        assert_eq!(
            me_search(&cur, &refr, w, h, 0, 1),
            Motion {
                vx: 5,
                vy: -3,
                sad: 0
            }
        );
        // MB (0,0): vy = −3 is outside; the search stays in the frame.
        assert!(!me_interior(w, h, 0, 0, (dx, dy)));
        assert_eq!(me_axis(0, h), 0..=16);
        assert_eq!(me_axis(32, w), -16..=2);
        let m = me_search(&cur, &refr, w, h, 0, 0);
        assert!(m.vy >= 0 && m.sad > 0);
        // Ties: a flat frame has SAD 0 everywhere → the zero vector (smallest |mv|).
        let flat = vec![9u8; w * h];
        assert_eq!(
            me_search(&flat, &flat, w, h, 1, 1),
            Motion {
                vx: 0,
                vy: 0,
                sad: 0
            }
        );
        // Two columns of period 2: SAD 0 at every even vx: |mv| ties between −2 and +2 are
        // broken by raster order (the smaller vx) only after |mv|; vectors (0,0) win first.
        let stripes: Vec<u8> = (0..w * h).map(|i| (i % w % 2) as u8 * 100).collect();
        let shifted: Vec<u8> = (0..w * h).map(|i| ((i % w + 1) % 2) as u8 * 100).collect();
        // SAD 0 at every odd vx; smallest |mv| = 1 at vx = ±1 (vy = 0): raster order → −1.
        assert_eq!(
            me_search(&stripes, &shifted, w, h, 1, 1),
            Motion {
                vx: -1,
                vy: 0,
                sad: 0
            }
        );
        let p = Motion {
            vx: -16,
            vy: 16,
            sad: 65280,
        };
        assert_eq!(Motion::unpack(p.pack()), p);
        assert_eq!(p.pack(), (65280 << 16) | (32 << 8));
    }

    #[test]
    fn exact_checks_name_the_first_mismatches() {
        let mut t = Exact::default();
        t.slice(&[1u8, 2, 3], &[1, 2, 3], |i| format!("{i}"));
        assert!(t.finish("m".into()).passed());
        let mut t = Exact::default();
        let want = rgba_to_nv12(&[1; 4 * 4 * 2], 4, 2);
        let mut got = want.clone();
        got[9] ^= 1;
        t.slice(&want, &got, |i| nv12_at(3, 4, 2, i));
        let v = t.finish("m".into());
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.checked, 12);
        assert_eq!(v.mismatches[0].at, "frame 3 Cr(0,0)");
        assert_eq!(v.max_error, 1.0);
    }
}
