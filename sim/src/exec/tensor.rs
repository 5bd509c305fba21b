//! Warp matrix instructions.
//!
//! `mma.sync.aligned.m8n8k4.row.col.f64`: the fragments the PTX ISA defines (groupID = lane >> 2,
//! threadID_in_group = lane % 4): a0 = A[groupID][threadID_in_group],
//! b0 = B[threadID_in_group][groupID], c_i/d_i = C/D[groupID][2·threadID_in_group + i].
//!
//! `wmma` m16n16k16: the ISA leaves the fragment layout to the implementation; this one is
//! (e = element number, row-major index into the 16×16 matrix, row = e / 16, col = e % 16):
//! - A, B (f16, eight .f16x2 registers): register j, half h of lane l holds element
//!   e = ((2j + h)·32 + l) mod 256 (every element twice, like the hardware's);
//! - C, D in f32 (eight registers): register j of lane l holds e = 32j + l;
//! - C, D in f16 (four .f16x2 registers): register j, half h of lane l holds e = (2j + h)·32 + l.
//!
//! `wmma.load`/`wmma.store` need the same address and stride in every lane, the address aligned
//! to the 32-byte fragment and each row (or column) start to 16 bytes (the CUDA C++ rule for
//! `ldm`: a multiple of 8 halves or 4 floats); each lane moves its own elements, so bounds and
//! the race detector see lane-attributed accesses.

use super::mem::Fault;
use super::memops::resolve_access;
use super::warp::{Ctx, Warp};
use super::LaunchErrorKind;
use crate::ir::{MmaSpec, Ty, WmmaFrag, WmmaLdSt, WmmaMma};
use half::f16;

/// D = A·B + C (M×K by K×N): each product added to the running sum with one rounding
/// (`mul_add`), k in order.
fn mma<T: Copy + Default, const M: usize, const N: usize, const K: usize>(
    a: &[[T; K]; M],
    b: &[[T; N]; K],
    c: &[[T; N]; M],
    mul_add: impl Fn(T, T, T) -> T,
) -> [[T; N]; M] {
    let mut d = [[T::default(); N]; M];
    for i in 0..M {
        for j in 0..N {
            let mut acc = c[i][j];
            for k in 0..K {
                acc = mul_add(a[i][k], b[k][j], acc);
            }
            d[i][j] = acc;
        }
    }
    d
}

/// Half `h` (0 = low) of a packed f16x2 register.
fn half_of(v: u32, h: usize) -> u32 {
    if h == 0 {
        v & 0xffff
    } else {
        v >> 16
    }
}

/// `old` with half `h` replaced by the 16 bits of `bits`.
fn with_half(old: u32, h: usize, bits: u32) -> u32 {
    if h == 0 {
        (old & 0xffff_0000) | bits
    } else {
        (old & 0xffff) | bits << 16
    }
}

/// `mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64` over the whole warp.
pub(crate) fn mma_f64(w: &mut Warp, s: &MmaSpec) {
    let mut a = [[0f64; 4]; 8];
    let mut b = [[0f64; 8]; 4];
    let mut c = [[0f64; 8]; 8];
    for l in 0..32usize {
        let (g, t) = (l >> 2, l % 4);
        a[g][t] = f64::from_bits(w.r64[s.a as usize * 32 + l]);
        b[t][g] = f64::from_bits(w.r64[s.b as usize * 32 + l]);
        for i in 0..2 {
            c[g][2 * t + i] = f64::from_bits(w.r64[s.c[i] as usize * 32 + l]);
        }
    }
    let d = mma(&a, &b, &c, f64::mul_add);
    for l in 0..32usize {
        let (g, t) = (l >> 2, l % 4);
        for i in 0..2 {
            w.r64[s.d[i] as usize * 32 + l] = d[g][2 * t + i].to_bits();
        }
    }
}

/// (row, col) and register position of each element a lane holds: (register, half, row, col).
fn frag_elems(frag: WmmaFrag, ty: Ty, lane: u32) -> Vec<(usize, usize, usize, usize)> {
    let mut v = Vec::with_capacity(16);
    let l = lane as usize;
    match (frag, ty) {
        (WmmaFrag::C, Ty::F32) => {
            for j in 0..8 {
                let e = 32 * j + l;
                v.push((j, 0, e / 16, e % 16));
            }
        }
        (WmmaFrag::C, _) => {
            for j in 0..4 {
                for h in 0..2 {
                    let e = (2 * j + h) * 32 + l;
                    v.push((j, h, e / 16, e % 16));
                }
            }
        }
        _ => {
            for j in 0..8 {
                for h in 0..2 {
                    let e = ((2 * j + h) * 32 + l) % 256;
                    v.push((j, h, e / 16, e % 16));
                }
            }
        }
    }
    v
}

/// The common address and stride of a wmma load/store, checked.
fn wmma_geometry(w: &Warp, s: &WmmaLdSt, exec: u32) -> Result<(u64, u64), Fault> {
    let l0 = exec.trailing_zeros();
    let base = w.rd(s.addr, l0).wrapping_add(s.off as u64);
    let stride = s
        .stride
        .map_or(16, |st| w.r32[st as usize * 32 + l0 as usize] as u64);
    for l in super::lanes::lanes(exec) {
        let b = w.rd(s.addr, l).wrapping_add(s.off as u64);
        let st = s
            .stride
            .map_or(16, |st| w.r32[st as usize * 32 + l as usize] as u64);
        if b != base || st != stride {
            return Err(Fault::new(
                LaunchErrorKind::LaunchFailed,
                format!(
                    "wmma: lanes use different addresses or strides ({base:#x}/{stride} in lane {l0}, {b:#x}/{st} in lane {l})"
                ),
            )
            .lane(l));
        }
    }
    let esize = s.ty.bytes() as u64;
    if !base.is_multiple_of(32) {
        return Err(Fault::new(
            LaunchErrorKind::MisalignedAddress,
            format!("wmma: matrix address {base:#x} is not aligned to its 32-byte fragment"),
        )
        .at(l0, base));
    }
    if !(stride * esize).is_multiple_of(16) || stride < 16 {
        return Err(Fault::new(
            LaunchErrorKind::MisalignedAddress,
            format!(
                "wmma: stride {stride} elements ({} bytes) leaves rows unaligned (a multiple of 16 bytes and at least 16 elements is needed)",
                stride * esize
            ),
        )
        .at(l0, base));
    }
    Ok((base, stride))
}

/// The address of element (r, c) of a wmma load/store's matrix.
fn elem_addr(s: &WmmaLdSt, base: u64, stride: u64, r: usize, c: usize) -> u64 {
    let idx = if s.row_major {
        r as u64 * stride + c as u64
    } else {
        c as u64 * stride + r as u64
    };
    base.wrapping_add(idx * s.ty.bytes() as u64)
}

/// `wmma.load.{a,b,c}` or (`store`) `wmma.store.d` (whose fragment is C).
pub(crate) fn wmma_move(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &WmmaLdSt,
    exec: u32,
    pc: u32,
    store: bool,
) -> Result<(), Fault> {
    let (base, stride) = wmma_geometry(w, s, exec)?;
    let esize = s.ty.bytes() as u64;
    for l in super::lanes::lanes(exec) {
        for (j, h, r, c) in frag_elems(s.frag, s.ty, l) {
            let addr = elem_addr(s, base, stride, r, c);
            let p = resolve_access(ctx, w, s.space, addr, esize, store, l, pc)?;
            let slot = s.regs[j] as usize * 32 + l as usize;
            let v = w.r32[slot];
            // SAFETY (all four): resolved (writable for a store) for `esize` bytes.
            match (store, esize) {
                (false, 4) => w.r32[slot] = unsafe { (p as *const u32).read_unaligned() },
                (false, _) => {
                    let x = unsafe { (p as *const u16).read_unaligned() } as u32;
                    w.r32[slot] = with_half(v, h, x);
                }
                (true, 4) => unsafe { (p as *mut u32).write_unaligned(v) },
                (true, _) => unsafe { (p as *mut u16).write_unaligned(half_of(v, h) as u16) },
            }
        }
    }
    Ok(())
}

fn gather_f16(w: &Warp, regs: &[u32]) -> [[f32; 16]; 16] {
    let mut m = [[0f32; 16]; 16];
    for l in 0..32u32 {
        for (j, h, r, c) in frag_elems(WmmaFrag::A, Ty::F16, l) {
            if j >= 4 {
                continue;
            }
            let v = w.r32[regs[j] as usize * 32 + l as usize];
            m[r][c] = f16::from_bits(half_of(v, h) as u16).to_f32();
        }
    }
    m
}

/// `wmma.mma` m16n16k16: D = A·B + C, products exact, sums in f32 (rounded to f16 for an f16
/// D).
pub(crate) fn wmma_mma(w: &mut Warp, s: &WmmaMma) {
    let a = gather_f16(w, &s.a);
    let b = gather_f16(w, &s.b);
    let mut c = [[0f32; 16]; 16];
    for l in 0..32u32 {
        for (j, h, r, col) in frag_elems(WmmaFrag::C, s.cty, l) {
            let v = w.r32[s.c[j] as usize * 32 + l as usize];
            c[r][col] = if s.cty == Ty::F32 {
                f32::from_bits(v)
            } else {
                f16::from_bits(half_of(v, h) as u16).to_f32()
            };
        }
    }
    let d = mma(&a, &b, &c, f32::mul_add);
    for l in 0..32u32 {
        for (j, h, r, col) in frag_elems(WmmaFrag::C, s.dty, l) {
            let slot = s.d[j] as usize * 32 + l as usize;
            if s.dty == Ty::F32 {
                w.r32[slot] = d[r][col].to_bits();
            } else {
                let bits = f16::from_f32(d[r][col]).to_bits() as u32;
                w.r32[slot] = with_half(w.r32[slot], h, bits);
            }
        }
    }
}
