//! Lane loops over a warp's register rows (`[slot][lane]`): copy a row out, compute 32 lanes
//! (vectorisable), write back under the execution mask. Each loop is generic over the bank's
//! lane type (`u32` for the 32-bit rows, `u64` for the 64-bit rows) and takes the per-lane
//! operation as a closure; both are `#[inline(always)]`, so every instruction still gets its own
//! loop, specialised for its bank and operation. FMA rows use the host's fused multiply-add
//! instruction when it has one (detected once at run time), so that `fma.rn` is one instruction
//! per lane pair of vectors rather than a libm call per lane.

/// All 32 lanes.
pub(crate) const FULL: u32 = u32::MAX;

/// Row `s` of a bank: its 32 lanes.
#[inline(always)]
pub(crate) fn get_row<T: Copy + Default>(r: &[T], s: u32) -> [T; 32] {
    let b = s as usize * 32;
    let mut out = [T::default(); 32];
    out.copy_from_slice(&r[b..b + 32]);
    out
}

/// Writes the lanes of `exec` of row `s`.
#[inline(always)]
pub(crate) fn put_row<T: Copy>(r: &mut [T], s: u32, v: &[T; 32], exec: u32) {
    let b = s as usize * 32;
    let d = &mut r[b..b + 32];
    if exec == FULL {
        d.copy_from_slice(v);
    } else {
        for i in 0..32 {
            d[i] = if exec >> i & 1 != 0 { v[i] } else { d[i] };
        }
    }
}

/// f on every lane of a row (from one bank to another, or the same).
#[inline(always)]
pub(crate) fn map_row<S: Copy, D: Copy + Default>(x: &[S; 32], f: impl Fn(S) -> D) -> [D; 32] {
    let mut o = [D::default(); 32];
    for i in 0..32 {
        o[i] = f(x[i]);
    }
    o
}

/// d = f(a) within one bank.
#[inline(always)]
pub(crate) fn un_row<T: Copy + Default>(
    r: &mut [T],
    d: u32,
    a: u32,
    exec: u32,
    f: impl Fn(T) -> T,
) {
    let o = map_row(&get_row(r, a), f);
    put_row(r, d, &o, exec);
}

/// d = f(a) from a row of one bank to a row of the other.
#[inline(always)]
pub(crate) fn conv_row<S: Copy + Default, D: Copy + Default>(
    src: &[S],
    dst: &mut [D],
    d: u32,
    a: u32,
    exec: u32,
    f: impl Fn(S) -> D,
) {
    put_row(dst, d, &map_row(&get_row(src, a), f), exec);
}

/// d = a on the lanes of `exec`.
#[inline(always)]
pub(crate) fn mov_row<T: Copy + Default>(r: &mut [T], d: u32, a: u32, exec: u32) {
    let x = get_row(r, a);
    put_row(r, d, &x, exec);
}

/// d = f(a, b).
#[inline(always)]
pub(crate) fn bin_row<T: Copy + Default>(
    r: &mut [T],
    d: u32,
    a: u32,
    b: u32,
    exec: u32,
    f: impl Fn(T, T) -> T,
) {
    let x = get_row(r, a);
    let y = get_row(r, b);
    let mut o = [T::default(); 32];
    for i in 0..32 {
        o[i] = f(x[i], y[i]);
    }
    put_row(r, d, &o, exec);
}

/// d = f(a, b, c).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn tern_row<T: Copy + Default>(
    r: &mut [T],
    d: u32,
    a: u32,
    b: u32,
    c: u32,
    exec: u32,
    f: impl Fn(T, T, T) -> T,
) {
    let x = get_row(r, a);
    let y = get_row(r, b);
    let z = get_row(r, c);
    let mut o = [T::default(); 32];
    for i in 0..32 {
        o[i] = f(x[i], y[i], z[i]);
    }
    put_row(r, d, &o, exec);
}

/// d = a where the lane's bit of `pm` is set, else b.
#[inline(always)]
pub(crate) fn select_row<T: Copy + Default>(
    r: &mut [T],
    d: u32,
    a: u32,
    b: u32,
    pm: u32,
    exec: u32,
) {
    let x = get_row(r, a);
    let y = get_row(r, b);
    let mut o = [T::default(); 32];
    for i in 0..32 {
        o[i] = if pm >> i & 1 != 0 { x[i] } else { y[i] };
    }
    put_row(r, d, &o, exec);
}

/// A lane mask of `f(a, b)`.
#[inline(always)]
pub(crate) fn cmp_row<T: Copy + Default>(r: &[T], a: u32, b: u32, f: impl Fn(T, T) -> bool) -> u32 {
    let x = get_row(r, a);
    let y = get_row(r, b);
    let mut m = 0u32;
    for i in 0..32 {
        m |= u32::from(f(x[i], y[i])) << i;
    }
    m
}

/// Whether the host has a hardware FMA (checked once).
pub(crate) fn host_has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // aarch64 and others: mul_add lowers to the native fused instruction.
        true
    }
}

/// The bits of a float lane: `u32` holds an f32, `u64` an f64.
pub(crate) trait FloatBits: Copy + Default {
    /// x·y + z rounded once (IEEE round-to-nearest), on the bits.
    fn fma(x: Self, y: Self, z: Self) -> Self;
}

impl FloatBits for u32 {
    #[inline(always)]
    fn fma(x: u32, y: u32, z: u32) -> u32 {
        f32::from_bits(x)
            .mul_add(f32::from_bits(y), f32::from_bits(z))
            .to_bits()
    }
}

impl FloatBits for u64 {
    #[inline(always)]
    fn fma(x: u64, y: u64, z: u64) -> u64 {
        f64::from_bits(x)
            .mul_add(f64::from_bits(y), f64::from_bits(z))
            .to_bits()
    }
}

#[inline(always)]
fn fma_body<T: FloatBits>(x: &[T; 32], y: &[T; 32], z: &[T; 32], o: &mut [T; 32]) {
    for i in 0..32 {
        o[i] = T::fma(x[i], y[i], z[i]);
    }
}

/// # Safety
/// The host must have AVX2 and FMA ([`host_has_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fma_x86<T: FloatBits>(x: &[T; 32], y: &[T; 32], z: &[T; 32], o: &mut [T; 32]) {
    fma_body(x, y, z, o)
}

/// d = fma(a, b, c) in the bank's float, fused (IEEE round-to-nearest once).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn fma_row<T: FloatBits>(
    r: &mut [T],
    d: u32,
    a: u32,
    b: u32,
    c: u32,
    exec: u32,
    hw: bool,
) {
    let x = get_row(r, a);
    let y = get_row(r, b);
    let z = get_row(r, c);
    let mut o = [T::default(); 32];
    #[cfg(target_arch = "x86_64")]
    {
        if hw {
            // SAFETY: `hw` is true only when the host reports AVX2 and FMA (host_has_fma).
            unsafe { fma_x86(&x, &y, &z, &mut o) };
        } else {
            fma_body(&x, &y, &z, &mut o);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = hw;
        fma_body(&x, &y, &z, &mut o);
    }
    put_row(r, d, &o, exec);
}

/// Iterates the set lanes of a mask.
#[inline(always)]
pub(crate) fn lanes(mut m: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        if m == 0 {
            None
        } else {
            let l = m.trailing_zeros();
            m &= m - 1;
            Some(l)
        }
    })
}
