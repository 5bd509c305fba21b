//! Per-lane semantics of the generic path: integer and floating-point operations in every
//! type, rounding mode, `.ftz` and `.sat`, conversions, comparisons. Values travel as raw bits
//! in a `u64` (zero-extended from the register).
//!
//! Directed roundings (`.rz`, `.rm`, `.rp`) are exact: the round-to-nearest result is corrected
//! by the sign of its error, which error-free transformations (two-sum, fma residues) give
//! exactly.

use crate::ir::{AluFn, AluSpec, BoolOp, CmpOp, CvtSpec, IRnd, Rnd, SetpSpec, Ty};
use half::{bf16, f16};

/// Sign-extends the low `bits` of `v`.
#[inline]
pub(crate) fn sx(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }
}

/// The low `bits` of `v`.
#[inline]
pub(crate) fn trunc(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

// ------------------------------------------------------------------------------- float basics

/// Flushes an f32 subnormal to a zero of the same sign.
#[inline]
pub(crate) fn ftz32(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// `x`, flushed to zero if it is subnormal and `ftz` is set.
#[inline]
fn flush(x: f32, ftz: bool) -> f32 {
    if ftz {
        ftz32(x)
    } else {
        x
    }
}

/// For float type `$f`: `$sat` (`.sat`: clamped to [0, 1], NaN to 0), `$up`/`$down` (the next
/// value towards +∞/−∞) and `$dir`, which corrects a round-to-nearest result `r` to rounding
/// `mode`, given the sign of (exact − r).
macro_rules! float_rounding {
    ($f:ident, $sat:ident, $up:ident, $down:ident, $dir:ident) => {
        fn $sat(x: $f) -> $f {
            if x.is_nan() {
                0.0
            } else {
                x.clamp(0.0, 1.0)
            }
        }

        fn $up(x: $f) -> $f {
            if x.is_nan() || x == $f::INFINITY {
                return x;
            }
            if x == 0.0 {
                return $f::from_bits(1);
            }
            let b = x.to_bits();
            $f::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
        }

        fn $down(x: $f) -> $f {
            -$up(-x)
        }

        fn $dir(r: $f, err: f64, mode: Rnd, inputs_finite: bool) -> $f {
            if r.is_nan() {
                return r;
            }
            if r.is_infinite() && inputs_finite {
                // Overflow: the exact value is finite.
                return match mode {
                    Rnd::Rz => $f::MAX.copysign(r),
                    Rnd::Rm if r > 0.0 => $f::MAX,
                    Rnd::Rp if r < 0.0 => -$f::MAX,
                    _ => r,
                };
            }
            if err == 0.0 || err.is_nan() {
                return r;
            }
            match mode {
                Rnd::Rn | Rnd::Rna => r,
                Rnd::Rz => {
                    if (r > 0.0 && err < 0.0) || (r < 0.0 && err > 0.0) {
                        if r > 0.0 {
                            $down(r)
                        } else {
                            $up(r)
                        }
                    } else {
                        r
                    }
                }
                Rnd::Rm => {
                    if err < 0.0 {
                        $down(r)
                    } else {
                        r
                    }
                }
                Rnd::Rp => {
                    if err > 0.0 {
                        $up(r)
                    } else {
                        r
                    }
                }
            }
        }
    };
}

float_rounding!(f64, sat01_64, next_up64, next_down64, dir64);
float_rounding!(f32, sat01_32, next_up32, next_down32, dir32);

/// (a + b, exact error) for finite inputs.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// An f64 value rounded to f32 with `mode` (the f64 is taken as exact, with an extra error
/// term `lo` of smaller magnitude).
fn f64_to_f32_dir(x: f64, lo: f64, mode: Rnd) -> f32 {
    let r = x as f32;
    let err = if (r as f64) == x { lo } else { x - r as f64 };
    dir32(r, err, mode, x.is_finite())
}

pub(crate) fn add64(a: f64, b: f64, mode: Rnd) -> f64 {
    let r = a + b;
    if mode == Rnd::Rn || !(r.is_finite() || a.is_finite() && b.is_finite()) {
        return r;
    }
    let (_, e) = two_sum(a, b);
    dir64(r, e, mode, a.is_finite() && b.is_finite())
}

pub(crate) fn mul64(a: f64, b: f64, mode: Rnd) -> f64 {
    let r = a * b;
    if mode == Rnd::Rn {
        return r;
    }
    let e = a.mul_add(b, -r);
    dir64(r, e, mode, a.is_finite() && b.is_finite())
}

pub(crate) fn fma64(a: f64, b: f64, c: f64, mode: Rnd) -> f64 {
    let r = a.mul_add(b, c);
    if mode == Rnd::Rn || !r.is_finite() {
        return if r.is_finite() || mode == Rnd::Rn {
            r
        } else {
            dir64(
                r,
                0.0,
                mode,
                a.is_finite() && b.is_finite() && c.is_finite(),
            )
        };
    }
    let p = a * b;
    let pe = a.mul_add(b, -p);
    let (s1, e1) = two_sum(p, c);
    let t = s1 - r;
    let err = t + (e1 + pe);
    dir64(r, err, mode, true)
}

pub(crate) fn div64(a: f64, b: f64, mode: Rnd) -> f64 {
    let q = a / b;
    if mode == Rnd::Rn || !q.is_finite() || q == 0.0 && a == 0.0 {
        return q;
    }
    let rem = (-q).mul_add(b, a);
    let err = if b > 0.0 { rem } else { -rem };
    dir64(q, err, mode, a.is_finite() && b.is_finite() && b != 0.0)
}

pub(crate) fn sqrt64(a: f64, mode: Rnd) -> f64 {
    let r = a.sqrt();
    if mode == Rnd::Rn || !r.is_finite() || r == 0.0 {
        return r;
    }
    let rem = (-r).mul_add(r, a);
    dir64(r, rem, mode, true)
}

pub(crate) fn add32(a: f32, b: f32, mode: Rnd) -> f32 {
    let r = a + b;
    if mode == Rnd::Rn {
        return r;
    }
    let exact = a as f64 + b as f64;
    // a + b of two f32 is exact in f64 unless the exponents are very far apart; the two-sum
    // residue covers that case.
    let (_, lo) = two_sum(a as f64, b as f64);
    f64_to_f32_dir(exact, lo, mode)
}

pub(crate) fn mul32(a: f32, b: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a * b;
    }
    f64_to_f32_dir(a as f64 * b as f64, 0.0, mode)
}

pub(crate) fn fma32(a: f32, b: f32, c: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a.mul_add(b, c);
    }
    let p = a as f64 * b as f64;
    let (s, e) = two_sum(p, c as f64);
    f64_to_f32_dir(s, e, mode)
}

pub(crate) fn div32(a: f32, b: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a / b;
    }
    let q = a as f64 / b as f64;
    let rem = (-q).mul_add(b as f64, a as f64);
    let lo = if b > 0.0 { rem } else { -rem };
    f64_to_f32_dir(q, lo, mode)
}

pub(crate) fn sqrt32(a: f32, mode: Rnd) -> f32 {
    if mode == Rnd::Rn {
        return a.sqrt();
    }
    let r = (a as f64).sqrt();
    let rem = (-r).mul_add(r, a as f64);
    f64_to_f32_dir(r, rem, mode)
}

/// PTX min (`max` false) or max: a NaN operand yields the other operand (`nan_prop`: a NaN);
/// two NaNs a canonical NaN; −0 < +0.
fn fminmax(a: f64, b: f64, nan_prop: bool, max: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        if nan_prop || (a.is_nan() && b.is_nan()) {
            return f64::NAN;
        }
        return if a.is_nan() { b } else { a };
    }
    if a == b {
        return if a.is_sign_negative() != max { a } else { b };
    }
    if (a < b) != max {
        a
    } else {
        b
    }
}

// -------------------------------------------------------------------- half and bfloat16 bits

fn h2f(b: u64) -> f64 {
    f16::from_bits(b as u16).to_f64()
}

fn bf2f(b: u64) -> f64 {
    bf16::from_bits(b as u16).to_f64()
}

/// An f64 (taken as exact) to f16 bits with rounding.
fn f2h(x: f64, mode: Rnd) -> u64 {
    let r = f16::from_f64(x);
    if mode == Rnd::Rn || r.is_nan() || !x.is_finite() {
        return r.to_bits() as u64;
    }
    let rv = r.to_f64();
    let err = x - rv;
    let step = |h: f16, up: bool| -> f16 {
        let v = h.to_f64();
        let b = h.to_bits();
        let nb = if v == 0.0 {
            if up {
                0x0001
            } else {
                0x8001
            }
        } else if (v > 0.0) == up {
            b + 1
        } else {
            b - 1
        };
        f16::from_bits(nb)
    };
    let out = if r.is_infinite() {
        match mode {
            Rnd::Rz => f16::MAX.to_f64().copysign(x),
            Rnd::Rm if x > 0.0 => f16::MAX.to_f64(),
            Rnd::Rp if x < 0.0 => -f16::MAX.to_f64(),
            _ => rv,
        }
    } else if err == 0.0 {
        rv
    } else {
        match mode {
            Rnd::Rz if (rv > 0.0 && err < 0.0) || (rv < 0.0 && err > 0.0) => {
                step(r, rv < 0.0).to_f64()
            }
            Rnd::Rm if err < 0.0 => step(r, false).to_f64(),
            Rnd::Rp if err > 0.0 => step(r, true).to_f64(),
            _ => rv,
        }
    };
    f16::from_f64(out).to_bits() as u64
}

fn f2bf(x: f64, mode: Rnd) -> u64 {
    let r = bf16::from_f64(x);
    if mode == Rnd::Rn || r.is_nan() || !x.is_finite() {
        return r.to_bits() as u64;
    }
    // bf16 is the top half of an f32: round through f32 with the mode, then truncate toward
    // the mode's direction.
    let f = f64_to_f32_dir(x, 0.0, mode);
    let bits = f.to_bits();
    let low = bits & 0xffff;
    let mut hi = bits >> 16;
    if low != 0 {
        let neg = bits >> 31 == 1;
        let up = match mode {
            Rnd::Rz => false,
            Rnd::Rm => neg,
            Rnd::Rp => !neg,
            _ => false,
        };
        if up {
            hi += 1;
        }
    }
    hi as u64
}

// --------------------------------------------------------------------------- float by type

/// A float operand's value (f16/bf16/f32/f64 bits → f64).
pub(crate) fn fval(ty: Ty, bits: u64, ftz: bool) -> f64 {
    match ty {
        Ty::F32 => flush(f32::from_bits(bits as u32), ftz) as f64,
        Ty::F64 => f64::from_bits(bits),
        Ty::F16 | Ty::F16x2 => h2f(bits & 0xffff),
        Ty::BF16 | Ty::BF16x2 => bf2f(bits & 0xffff),
        _ => f64::from_bits(bits),
    }
}

fn fbits(ty: Ty, x: f64, mode: Rnd, ftz: bool, sat: bool) -> u64 {
    let x = if sat { sat01_64(x) } else { x };
    match ty {
        Ty::F32 => flush(f64_to_f32_dir(x, 0.0, mode), ftz).to_bits() as u64,
        Ty::F64 => x.to_bits(),
        Ty::F16 | Ty::F16x2 => f2h(x, mode),
        _ => f2bf(x, mode),
    }
}

/// One float operation in `ty` (scalar types; packed types go half by half).
fn float_op(s: &AluSpec, ty: Ty, a: u64, b: u64, c: u64) -> u64 {
    let ftz = s.ftz;
    let m = s.rnd;
    if ty == Ty::F32 {
        let ld = |v: u64| flush(f32::from_bits(v as u32), ftz);
        let (fa, fb, fc) = (ld(a), ld(b), ld(c));
        let r: f32 = match s.f {
            AluFn::Add => add32(fa, fb, m),
            AluFn::Sub => add32(fa, -fb, m),
            AluFn::Mul => mul32(fa, fb, m),
            AluFn::Fma => fma32(fa, fb, fc, m),
            AluFn::Div => {
                if s.approx {
                    fa / fb
                } else {
                    div32(fa, fb, m)
                }
            }
            AluFn::Abs => f32::from_bits(fa.to_bits() & 0x7fff_ffff),
            AluFn::Neg => f32::from_bits(fa.to_bits() ^ 0x8000_0000),
            AluFn::Min => fminmax(fa as f64, fb as f64, false, false) as f32,
            AluFn::Max => fminmax(fa as f64, fb as f64, false, true) as f32,
            AluFn::MinNaN => fminmax(fa as f64, fb as f64, true, false) as f32,
            AluFn::MaxNaN => fminmax(fa as f64, fb as f64, true, true) as f32,
            AluFn::Rcp => {
                if s.approx {
                    1.0 / fa
                } else {
                    div32(1.0, fa, m)
                }
            }
            AluFn::Sqrt => {
                if s.approx {
                    fa.sqrt()
                } else {
                    sqrt32(fa, m)
                }
            }
            AluFn::Rsqrt => 1.0 / fa.sqrt(),
            AluFn::Ex2 => fa.exp2(),
            AluFn::Lg2 => fa.log2(),
            AluFn::Sin => fa.sin(),
            AluFn::Cos => fa.cos(),
            AluFn::Tanh => fa.tanh(),
            AluFn::Copysign => fb.copysign(fa),
            _ => 0.0,
        };
        let r = if s.sat { sat01_32(r) } else { r };
        return flush(r, ftz).to_bits() as u64;
    }
    if ty == Ty::F64 {
        let fa = f64::from_bits(a);
        let fb = f64::from_bits(b);
        let fc = f64::from_bits(c);
        let r = match s.f {
            AluFn::Add => add64(fa, fb, m),
            AluFn::Sub => add64(fa, -fb, m),
            AluFn::Mul => mul64(fa, fb, m),
            AluFn::Fma => fma64(fa, fb, fc, m),
            AluFn::Div => div64(fa, fb, m),
            AluFn::Abs => f64::from_bits(a & !(1 << 63)),
            AluFn::Neg => f64::from_bits(a ^ (1 << 63)),
            AluFn::Min => fminmax(fa, fb, false, false),
            AluFn::Max => fminmax(fa, fb, false, true),
            AluFn::MinNaN => fminmax(fa, fb, true, false),
            AluFn::MaxNaN => fminmax(fa, fb, true, true),
            AluFn::Rcp => {
                if s.approx {
                    1.0 / fa
                } else {
                    div64(1.0, fa, m)
                }
            }
            AluFn::Sqrt => {
                if s.approx {
                    fa.sqrt()
                } else {
                    sqrt64(fa, m)
                }
            }
            AluFn::Rsqrt => 1.0 / fa.sqrt(),
            AluFn::Ex2 => fa.exp2(),
            AluFn::Lg2 => fa.log2(),
            AluFn::Sin => fa.sin(),
            AluFn::Cos => fa.cos(),
            AluFn::Tanh => fa.tanh(),
            AluFn::Copysign => fb.copysign(fa),
            _ => 0.0,
        };
        let r = if s.sat { sat01_64(r) } else { r };
        return r.to_bits();
    }
    // f16 / bf16 scalars, computed in f64 and rounded once.
    let conv = |v: u64| {
        if matches!(ty, Ty::F16 | Ty::F16x2) {
            h2f(v)
        } else {
            bf2f(v)
        }
    };
    let (fa, fb, fc) = (conv(a), conv(b), conv(c));
    let r = match s.f {
        AluFn::Add => fa + fb,
        AluFn::Sub => fa - fb,
        AluFn::Mul => fa * fb,
        AluFn::Fma => fa.mul_add(fb, fc),
        AluFn::Div => fa / fb,
        AluFn::Abs => return a & 0x7fff,
        AluFn::Neg => return (a ^ 0x8000) & 0xffff,
        AluFn::Min => fminmax(fa, fb, false, false),
        AluFn::Max => fminmax(fa, fb, false, true),
        AluFn::MinNaN => fminmax(fa, fb, true, false),
        AluFn::MaxNaN => fminmax(fa, fb, true, true),
        AluFn::Rcp => 1.0 / fa,
        AluFn::Sqrt => fa.sqrt(),
        AluFn::Rsqrt => 1.0 / fa.sqrt(),
        AluFn::Ex2 => fa.exp2(),
        AluFn::Lg2 => fa.log2(),
        AluFn::Sin => fa.sin(),
        AluFn::Cos => fa.cos(),
        AluFn::Tanh => fa.tanh(),
        _ => 0.0,
    };
    let scalar = if matches!(ty, Ty::F16 | Ty::F16x2) {
        Ty::F16
    } else {
        Ty::BF16
    };
    fbits(scalar, r, m, false, s.sat)
}

// ------------------------------------------------------------------------------- integer ops

fn popc(v: u64) -> u64 {
    v.count_ones() as u64
}

/// prmt: selects bytes of {b, a} by the selector c (mode 0) or a fixed mode.
fn prmt(a: u32, b: u32, c: u32, mode: u8) -> u32 {
    let bytes = ((b as u64) << 32 | a as u64).to_le_bytes();
    let sel = |n: u32| -> u32 {
        let idx = (n & 7) as usize;
        let v = bytes[idx] as u32;
        if n & 8 != 0 {
            // sign-replicate the byte's top bit
            if v & 0x80 != 0 {
                0xff
            } else {
                0
            }
        } else {
            v
        }
    };
    let s = c & 3;
    let pick = |k: u32| bytes[(k & 7) as usize] as u32;
    let out: [u32; 4] = match mode {
        0 => [sel(c), sel(c >> 4), sel(c >> 8), sel(c >> 12)],
        1 => [pick(s), pick(s + 1), pick(s + 2), pick(s + 3)],
        2 => [
            pick(s),
            pick(s.wrapping_sub(1)),
            pick(s.wrapping_sub(2)),
            pick(s.wrapping_sub(3)),
        ],
        3 => [pick(s), pick(s), pick(s), pick(s)],
        4 => match s {
            0 => [pick(0), pick(1), pick(2), pick(3)],
            1 => [pick(1), pick(1), pick(2), pick(3)],
            2 => [pick(2), pick(2), pick(2), pick(3)],
            _ => [pick(3), pick(3), pick(3), pick(3)],
        },
        5 => match s {
            0 => [pick(0), pick(0), pick(0), pick(0)],
            1 => [pick(0), pick(1), pick(1), pick(1)],
            2 => [pick(0), pick(1), pick(2), pick(2)],
            _ => [pick(0), pick(1), pick(2), pick(3)],
        },
        _ => {
            let lo = s & 1;
            [
                pick(lo * 2),
                pick(lo * 2 + 1),
                pick(lo * 2),
                pick(lo * 2 + 1),
            ]
        }
    };
    out[0] | out[1] << 8 | out[2] << 16 | out[3] << 24
}

fn lop3(a: u32, b: u32, c: u32, lut: u8) -> u32 {
    let mut r = 0u32;
    for i in 0..8u32 {
        if lut >> i & 1 == 1 {
            let ma = if i & 4 != 0 { a } else { !a };
            let mb = if i & 2 != 0 { b } else { !b };
            let mc = if i & 1 != 0 { c } else { !c };
            r |= ma & mb & mc;
        }
    }
    r
}

/// mul24/mad24 `.lo`/`.hi` (`f`): the 48-bit product of the low 24 bits of `a` and `b`, its low
/// or its middle 32 bits, plus `uc` for mad24.
fn mul24(f: AluFn, signed: bool, a: u64, b: u64, uc: u64) -> u64 {
    let (x, y) = if signed {
        (sx(a, 24) as i128, sx(b, 24) as i128)
    } else {
        ((a & 0xff_ffff) as i128, (b & 0xff_ffff) as i128)
    };
    let p = (x * y) as u64;
    let v = if matches!(f, AluFn::Mul24Hi | AluFn::Mad24Hi) {
        p >> 16
    } else {
        p
    };
    if matches!(f, AluFn::Mad24Lo | AluFn::Mad24Hi) {
        v.wrapping_add(uc)
    } else {
        v
    }
}

/// Integer division. Division by zero does not trap: all ones, as the hardware gives.
fn int_div(signed: bool, ia: i64, ib: i64, ua: u64, ub: u64) -> u64 {
    if signed {
        if ib == 0 {
            u64::MAX
        } else {
            ia.wrapping_div(ib) as u64
        }
    } else {
        ua.checked_div(ub).unwrap_or(u64::MAX)
    }
}

/// Integer remainder; by zero, the dividend.
fn int_rem(signed: bool, ia: i64, ib: i64, ua: u64, ub: u64) -> u64 {
    if signed {
        if ib == 0 {
            ia as u64
        } else {
            ia.wrapping_rem(ib) as u64
        }
    } else if ub == 0 {
        ua
    } else {
        ua % ub
    }
}

/// bfind: the position of the most significant bit that differs from the sign (of a negative
/// signed value: the most significant 0), counted from bit 0 or, with `.shiftamt`, as the left
/// shift that brings it to the top; 0xffffffff where there is none.
fn bfind(signed: bool, ia: i64, ua: u64, bits: u32, shiftamt: bool) -> u64 {
    let v = if signed && ia < 0 {
        !ua & trunc(u64::MAX, bits)
    } else {
        ua
    };
    if v == 0 {
        return 0xffff_ffff;
    }
    let pos = 63 - v.leading_zeros() as u64;
    if shiftamt {
        (bits as u64 - 1) - pos
    } else {
        pos
    }
}

/// bfe: `len` (c) bits of `ua` from bit `pos` (b), zero- or sign-extended.
fn bfe(ua: u64, b: u64, c: u64, bits: u32, signed: bool) -> u64 {
    let pos = (b & 0xff) as u32;
    let len = (c & 0xff) as u32;
    let msb = bits - 1;
    let sbit = if signed {
        if len == 0 {
            false
        } else {
            let k = (pos + len - 1).min(msb);
            ua >> k & 1 == 1
        }
    } else {
        false
    };
    let mut out = 0u64;
    for i in 0..bits {
        let bit = if i < len && pos + i <= msb {
            ua >> (pos + i) & 1 == 1
        } else {
            sbit
        };
        if bit {
            out |= 1 << i;
        }
    }
    out
}

/// bfi: `ub` with `len` (e) bits from bit `pos` (c) replaced by the low bits of `ua`.
fn bfi(ua: u64, ub: u64, c: u64, e: u64, bits: u32) -> u64 {
    let pos = (c & 0xff) as u32;
    let len = (e & 0xff) as u32;
    let mut f = ub;
    for i in 0..len {
        if pos + i >= bits {
            break;
        }
        let bit = ua >> i & 1;
        f = (f & !(1 << (pos + i))) | bit << (pos + i);
    }
    f
}

/// shf: the 64-bit funnel {b, a} shifted by c; the result is its middle (`left`) or low word.
fn funnel_shift(a: u64, b: u64, c: u64, clamp: bool, left: bool) -> u64 {
    let n = c as u32;
    let n = if clamp { n.min(32) } else { n & 31 };
    let v = (b << 32) | (a & 0xffff_ffff);
    let out = if left { (v << n) >> 32 } else { v >> n };
    out & 0xffff_ffff
}

/// dp4a: `c` plus the four products of the bytes of `a` and `b`.
fn dp4a(a: u64, b: u64, c: u64, a_signed: bool, b_signed: bool) -> u64 {
    let mut acc = c as u32;
    for k in 0..4 {
        let x = (a >> (8 * k)) & 0xff;
        let y = (b >> (8 * k)) & 0xff;
        let x = if a_signed { sx(x, 8) } else { x as i64 };
        let y = if b_signed { sx(y, 8) } else { y as i64 };
        acc = acc.wrapping_add((x * y) as u32);
    }
    acc as u64
}

/// dp2a: `c` plus the two products of the halves of `a` and two bytes of `b` (its low or, with
/// `hi`, its high two).
fn dp2a(a: u64, b: u64, c: u64, a_signed: bool, b_signed: bool, hi: bool) -> u64 {
    let mut acc = c as u32;
    for k in 0..2 {
        let x = (a >> (16 * k)) & 0xffff;
        let x = if a_signed { sx(x, 16) } else { x as i64 };
        let byte = (b >> (8 * (k + if hi { 2 } else { 0 }))) & 0xff;
        let y = if b_signed { sx(byte, 8) } else { byte as i64 };
        acc = acc.wrapping_add((x * y) as u32);
    }
    acc as u64
}

/// The generic per-lane ALU: `a`, `b`, `c`, `e` are the operand bits (zero-extended from their
/// registers); the result's low bits are written to the destination register.
pub(crate) fn eval(s: &AluSpec, a: u64, b: u64, c: u64, e: u64) -> u64 {
    let ty = s.ty;
    if ty.is_float() {
        if matches!(ty, Ty::F16x2 | Ty::BF16x2) && !matches!(s.f, AluFn::Slct) {
            let lo = float_op(s, ty, a & 0xffff, b & 0xffff, c & 0xffff);
            let hi = float_op(
                s,
                ty,
                (a >> 16) & 0xffff,
                (b >> 16) & 0xffff,
                (c >> 16) & 0xffff,
            );
            return (lo & 0xffff) | (hi & 0xffff) << 16;
        }
        if s.f != AluFn::Slct {
            return float_op(s, ty, a, b, c);
        }
    }
    let bits = ty.bits();
    let signed = ty.is_signed();
    let ua = trunc(a, bits);
    let ub = trunc(b, bits);
    let uc = trunc(c, bits);
    let ia = sx(a, bits);
    let ib = sx(b, bits);
    let ic = sx(c, bits);
    let wide_bits = (bits * 2).min(64);
    // The full product a·b (its low 128 bits).
    let product = || {
        if signed {
            (ia as i128 * ib as i128) as u128
        } else {
            ua as u128 * ub as u128
        }
    };
    let sat = s.sat && signed;
    let saturate = |v: i128| v.clamp(min_s(bits), max_s(bits)) as u64;
    let r: u64 = match s.f {
        AluFn::Add if sat => saturate(ia as i128 + ib as i128),
        AluFn::Add => ua.wrapping_add(ub),
        AluFn::Sub if sat => saturate(ia as i128 - ib as i128),
        AluFn::Sub => ua.wrapping_sub(ub),
        AluFn::Mul => ua.wrapping_mul(ub),
        AluFn::MulHi => (product() >> bits) as u64,
        AluFn::MulWide => product() as u64,
        AluFn::MadLo => ua.wrapping_mul(ub).wrapping_add(uc),
        AluFn::MadHi => {
            let p = (product() >> bits) as u64;
            if sat {
                saturate(sx(p, bits) as i128 + ic as i128)
            } else {
                p.wrapping_add(uc)
            }
        }
        AluFn::MadWide => {
            let cw = if signed { sx(c, wide_bits) as u64 } else { c };
            return trunc((product() as u64).wrapping_add(cw), wide_bits);
        }
        AluFn::Mul24Lo | AluFn::Mul24Hi | AluFn::Mad24Lo | AluFn::Mad24Hi => {
            mul24(s.f, signed, a, b, uc)
        }
        AluFn::Div => int_div(signed, ia, ib, ua, ub),
        AluFn::Rem => int_rem(signed, ia, ib, ua, ub),
        AluFn::Abs => ia.unsigned_abs(),
        AluFn::Neg => ua.wrapping_neg(),
        AluFn::Min | AluFn::MinNaN => {
            if signed {
                ia.min(ib) as u64
            } else {
                ua.min(ub)
            }
        }
        AluFn::Max | AluFn::MaxNaN => {
            if signed {
                ia.max(ib) as u64
            } else {
                ua.max(ub)
            }
        }
        AluFn::And => ua & ub,
        AluFn::Or => ua | ub,
        AluFn::Xor => ua ^ ub,
        AluFn::Not => !ua,
        AluFn::Cnot => u64::from(ua == 0),
        AluFn::Shl => {
            let n = b as u32;
            if n >= bits {
                0
            } else {
                ua << n
            }
        }
        AluFn::Shr => {
            let n = b as u32;
            if signed {
                (ia >> n.min(bits - 1).min(63)) as u64
            } else if n >= bits {
                0
            } else {
                ua >> n
            }
        }
        AluFn::Popc => return popc(ua),
        AluFn::Clz => return (ua.leading_zeros() - (64 - bits)) as u64,
        AluFn::Brev => ua.reverse_bits() >> (64 - bits),
        AluFn::Bfind | AluFn::BfindShift => {
            return bfind(signed, ia, ua, bits, s.f == AluFn::BfindShift)
        }
        AluFn::Bfe => bfe(ua, b, c, bits, signed),
        AluFn::Bfi => bfi(ua, ub, c, e, bits),
        AluFn::Prmt(mode) => prmt(a as u32, b as u32, c as u32, mode) as u64,
        AluFn::Lop3(lut) => lop3(a as u32, b as u32, c as u32, lut) as u64,
        AluFn::ShfL { clamp } | AluFn::ShfR { clamp } => {
            funnel_shift(a, b, c, clamp, matches!(s.f, AluFn::ShfL { .. }))
        }
        AluFn::Sad => {
            let d = if signed {
                (ia as i128 - ib as i128).unsigned_abs() as u64
            } else {
                ua.abs_diff(ub)
            };
            uc.wrapping_add(d)
        }
        AluFn::Slct => {
            let take_a = if s.cty == Ty::F32 {
                flush(f32::from_bits(c as u32), s.ftz) >= 0.0
            } else {
                (c as u32 as i32) >= 0
            };
            if take_a {
                a
            } else {
                b
            }
        }
        AluFn::Dp4a { a_signed, b_signed } => dp4a(a, b, c, a_signed, b_signed),
        AluFn::Dp2a {
            a_signed,
            b_signed,
            hi,
        } => dp2a(a, b, c, a_signed, b_signed, hi),
        _ => 0,
    };
    let out_bits = if matches!(s.f, AluFn::MulWide) {
        wide_bits
    } else {
        bits
    };
    trunc(r, out_bits)
}

fn min_s(bits: u32) -> i128 {
    -(1i128 << (bits - 1))
}

fn max_s(bits: u32) -> i128 {
    (1i128 << (bits - 1)) - 1
}

// ------------------------------------------------------------------------------ comparisons

/// An integer or float comparison in type `ty` (`ftz` flushes f32 inputs).
pub(crate) fn compare(cmp: CmpOp, ty: Ty, ftz: bool, a: u64, b: u64) -> bool {
    if ty.is_float() {
        let x = fval(ty, a, ftz);
        let y = fval(ty, b, ftz);
        let un = x.is_nan() || y.is_nan();
        return match cmp {
            CmpOp::Eq => x == y,
            CmpOp::Ne => !un && x != y,
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
            CmpOp::Equ => un || x == y,
            CmpOp::Neu => un || x != y,
            CmpOp::Ltu => un || x < y,
            CmpOp::Leu => un || x <= y,
            CmpOp::Gtu => un || x > y,
            CmpOp::Geu => un || x >= y,
            CmpOp::Num => !un,
            CmpOp::Nan => un,
        };
    }
    let bits = ty.bits();
    if ty.is_signed() {
        int_compare(cmp, sx(a, bits), sx(b, bits))
    } else {
        int_compare(cmp, trunc(a, bits), trunc(b, bits))
    }
}

/// An integer comparison (the float-only comparisons are false).
fn int_compare<T: Ord>(cmp: CmpOp, x: T, y: T) -> bool {
    match cmp {
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
        CmpOp::Lt => x < y,
        CmpOp::Le => x <= y,
        CmpOp::Gt => x > y,
        CmpOp::Ge => x >= y,
        _ => false,
    }
}

/// setp/set for one lane: (p, q) predicates or the `set` value.
pub(crate) fn setp(s: &SetpSpec, a: u64, b: u64, c: bool) -> (bool, bool) {
    let t = compare(s.cmp, s.ty, s.ftz, a, b);
    match s.comb {
        None => (t, !t),
        Some((op, _, _)) => match op {
            BoolOp::And => (t && c, !t && c),
            BoolOp::Or => (t || c, !t || c),
            BoolOp::Xor => (t ^ c, !t ^ c),
        },
    }
}

/// The value `set` writes for a true/false outcome in type `dty`.
pub(crate) fn set_value(dty: Ty, v: bool) -> u64 {
    match dty {
        Ty::F32 => {
            if v {
                1.0f32.to_bits() as u64
            } else {
                0
            }
        }
        _ => {
            if v {
                trunc(u64::MAX, dty.bits())
            } else {
                0
            }
        }
    }
}

// ------------------------------------------------------------------------------ conversions

fn round_int(x: f64, r: IRnd) -> f64 {
    match r {
        IRnd::Rni => x.round_ties_even(),
        IRnd::Rzi => x.trunc(),
        IRnd::Rmi => x.floor(),
        IRnd::Rpi => x.ceil(),
    }
}

fn int_range(ty: Ty) -> (i128, i128) {
    let bits = ty.bits();
    if ty.is_signed() {
        (min_s(bits), max_s(bits))
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// An integer (given as i128) to float bits with rounding `mode`.
fn int_to_float(v: i128, dty: Ty, mode: Rnd) -> u64 {
    match dty {
        Ty::F64 => {
            let r = v as f64;
            let err = if r.is_finite() {
                (v - r as i128) as f64
            } else {
                0.0
            };
            dir64(r, err, mode, true).to_bits()
        }
        Ty::F32 => {
            let r = v as f32;
            let err = if r.is_finite() {
                (v - r as i128) as f64
            } else {
                0.0
            };
            dir32(r, err, mode, true).to_bits() as u64
        }
        Ty::F16 => f2h(v as f64, mode),
        _ => f2bf(v as f64, mode),
    }
}

/// A full cvt for one lane (`b` is the second source of the packing forms).
pub(crate) fn cvt(s: &CvtSpec, a: u64, b: u64) -> u64 {
    let (dty, sty) = (s.dty, s.sty);
    if matches!(dty, Ty::F16x2 | Ty::BF16x2) {
        let scalar = if dty == Ty::F16x2 { Ty::F16 } else { Ty::BF16 };
        let one = |v: u64| {
            let x = fval(sty, v, s.ftz);
            let x = if s.relu && x < 0.0 { 0.0 } else { x };
            fbits(scalar, x, s.rnd.unwrap_or(Rnd::Rn), false, s.sat)
        };
        // d = {a → high half, b → low half}
        return (one(a) << 16) | one(b);
    }
    let sbits = sty.bits();
    if sty.is_float() {
        let x = fval(sty, a, s.ftz);
        if dty.is_float() {
            let x = match s.irnd {
                Some(r) => round_int(x, r),
                None => x,
            };
            let x = if s.relu && x < 0.0 { 0.0 } else { x };
            let mode = s.rnd.unwrap_or(Rnd::Rn);
            if dty == Ty::F64 {
                let x = if s.sat { sat01_64(x) } else { x };
                return x.to_bits();
            }
            return fbits(dty, x, mode, s.ftz && dty == Ty::F32, s.sat);
        }
        // float → integer: round, then saturate (always); NaN → 0.
        if x.is_nan() {
            return 0;
        }
        let r = round_int(x, s.irnd.unwrap_or(IRnd::Rzi));
        let (lo, hi) = int_range(dty);
        let v = if r <= lo as f64 {
            lo
        } else if r >= hi as f64 {
            hi
        } else {
            r as i128
        };
        return trunc(v as u64, dty.bits());
    }
    // integer source
    let v: i128 = if sty.is_signed() {
        sx(a, sbits) as i128
    } else {
        trunc(a, sbits) as i128
    };
    if dty.is_float() {
        return int_to_float(v, dty, s.rnd.unwrap_or(Rnd::Rn));
    }
    let v = if s.sat {
        let (lo, hi) = int_range(dty);
        v.clamp(lo, hi)
    } else {
        v
    };
    // Without .sat: sign- or zero-extension by the source, truncation to the destination
    // (a wider destination register receives the destination type's extension).
    let out = trunc(v as u64, dty.bits());
    if dty.is_signed() {
        sx(out, dty.bits()) as u64
    } else {
        out
    }
}

/// testp for one lane.
pub(crate) fn testp(test: u8, ty: Ty, a: u64) -> bool {
    let x = fval(ty, a, false);
    match test {
        0 => x.is_finite(),
        1 => x.is_infinite(),
        2 => !x.is_nan(),
        3 => x.is_nan(),
        4 => {
            if ty == Ty::F32 {
                f32::from_bits(a as u32).is_normal()
            } else {
                x.is_normal()
            }
        }
        _ => {
            if ty == Ty::F32 {
                f32::from_bits(a as u32).is_subnormal()
            } else {
                x.is_subnormal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_rounding_f32() {
        let a = 1.0f32;
        let b = f32::EPSILON / 4.0;
        assert_eq!(add32(a, b, Rnd::Rn), 1.0);
        assert_eq!(add32(a, b, Rnd::Rz), 1.0);
        assert_eq!(add32(a, b, Rnd::Rp), 1.0 + f32::EPSILON);
        assert_eq!(add32(-a, -b, Rnd::Rm), -(1.0 + f32::EPSILON));
        assert_eq!(add32(-a, -b, Rnd::Rz), -1.0);
        // 1/3 rounds up to nearest, so .rp agrees with .rn and .rm is one ulp below.
        let rn = 1.0f32 / 3.0;
        assert_eq!(div32(1.0, 3.0, Rnd::Rp), rn);
        assert_eq!(div32(1.0, 3.0, Rnd::Rm), f32::from_bits(rn.to_bits() - 1));
        assert_eq!(div32(1.0, 3.0, Rnd::Rz), f32::from_bits(rn.to_bits() - 1));
        // f64: sqrt(2) = 1.41421356237309504880…, its nearest double 1.41421356237309514547…
        // lies above it.
        let s = 2f64.sqrt();
        assert_eq!(sqrt64(2.0, Rnd::Rp), s);
        assert_eq!(sqrt64(2.0, Rnd::Rm), f64::from_bits(s.to_bits() - 1));
    }

    #[test]
    fn prmt_default_and_lop3() {
        // prmt with selector 0x3210 returns a.
        assert_eq!(prmt(0x4433_2211, 0x8877_6655, 0x3210, 0), 0x4433_2211);
        assert_eq!(prmt(0x4433_2211, 0x8877_6655, 0x7654, 0), 0x8877_6655);
        // lop3 0xF0 = a
        assert_eq!(lop3(0x1234, 0xffff, 0, 0xf0), 0x1234);
        assert_eq!(lop3(0xf0, 0xcc, 0xaa, 0x80), 0xf0 & 0xcc & 0xaa);
    }
}
