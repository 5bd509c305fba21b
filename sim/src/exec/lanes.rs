//! Lane loops over a warp's register rows (`[slot][lane]`): copy a row out, compute 32 lanes
//! (vectorisable), write back under the execution mask. FMA rows use the host's fused
//! multiply-add instruction when it has one (detected once at run time), so that `fma.rn` is
//! one instruction per lane pair of vectors rather than a libm call per lane.

/// All 32 lanes.
pub(crate) const FULL: u32 = u32::MAX;

#[inline(always)]
pub(crate) fn get32(r: &[u32], s: u32) -> [u32; 32] {
    let b = s as usize * 32;
    let mut out = [0u32; 32];
    out.copy_from_slice(&r[b..b + 32]);
    out
}

#[inline(always)]
pub(crate) fn get64(r: &[u64], s: u32) -> [u64; 32] {
    let b = s as usize * 32;
    let mut out = [0u64; 32];
    out.copy_from_slice(&r[b..b + 32]);
    out
}

#[inline(always)]
pub(crate) fn put32(r: &mut [u32], s: u32, v: &[u32; 32], exec: u32) {
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

#[inline(always)]
pub(crate) fn put64(r: &mut [u64], s: u32, v: &[u64; 32], exec: u32) {
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

/// d = f(a, b) on 32-bit rows.
#[inline(always)]
pub(crate) fn bin32(r: &mut [u32], d: u32, a: u32, b: u32, exec: u32, f: impl Fn(u32, u32) -> u32) {
    let x = get32(r, a);
    let y = get32(r, b);
    let mut o = [0u32; 32];
    for i in 0..32 {
        o[i] = f(x[i], y[i]);
    }
    put32(r, d, &o, exec);
}

/// d = f(a, b) on 64-bit rows.
#[inline(always)]
pub(crate) fn bin64(r: &mut [u64], d: u32, a: u32, b: u32, exec: u32, f: impl Fn(u64, u64) -> u64) {
    let x = get64(r, a);
    let y = get64(r, b);
    let mut o = [0u64; 32];
    for i in 0..32 {
        o[i] = f(x[i], y[i]);
    }
    put64(r, d, &o, exec);
}

/// A lane mask of `f(a, b)` on 32-bit rows.
#[inline(always)]
pub(crate) fn cmp32(r: &[u32], a: u32, b: u32, f: impl Fn(u32, u32) -> bool) -> u32 {
    let x = get32(r, a);
    let y = get32(r, b);
    let mut m = 0u32;
    for i in 0..32 {
        m |= u32::from(f(x[i], y[i])) << i;
    }
    m
}

#[inline(always)]
pub(crate) fn cmp64(r: &[u64], a: u32, b: u32, f: impl Fn(u64, u64) -> bool) -> u32 {
    let x = get64(r, a);
    let y = get64(r, b);
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

#[inline(always)]
fn fma32_body(x: &[u32; 32], y: &[u32; 32], z: &[u32; 32], o: &mut [u32; 32]) {
    for i in 0..32 {
        o[i] = f32::from_bits(x[i])
            .mul_add(f32::from_bits(y[i]), f32::from_bits(z[i]))
            .to_bits();
    }
}

#[inline(always)]
fn fma64_body(x: &[u64; 32], y: &[u64; 32], z: &[u64; 32], o: &mut [u64; 32]) {
    for i in 0..32 {
        o[i] = f64::from_bits(x[i])
            .mul_add(f64::from_bits(y[i]), f64::from_bits(z[i]))
            .to_bits();
    }
}

/// # Safety
/// The host must have AVX2 and FMA ([`host_has_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma32_x86(x: &[u32; 32], y: &[u32; 32], z: &[u32; 32], o: &mut [u32; 32]) {
    fma32_body(x, y, z, o)
}

/// # Safety
/// The host must have AVX2 and FMA ([`host_has_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma64_x86(x: &[u64; 32], y: &[u64; 32], z: &[u64; 32], o: &mut [u64; 32]) {
    fma64_body(x, y, z, o)
}

/// d = fma(a, b, c) in f32, fused (IEEE round-to-nearest once).
#[inline(always)]
pub(crate) fn fma32(r: &mut [u32], d: u32, a: u32, b: u32, c: u32, exec: u32, hw: bool) {
    let x = get32(r, a);
    let y = get32(r, b);
    let z = get32(r, c);
    let mut o = [0u32; 32];
    #[cfg(target_arch = "x86_64")]
    {
        if hw {
            // SAFETY: `hw` is true only when the host reports AVX2 and FMA (host_has_fma).
            unsafe { fma32_x86(&x, &y, &z, &mut o) };
        } else {
            fma32_body(&x, &y, &z, &mut o);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = hw;
        fma32_body(&x, &y, &z, &mut o);
    }
    put32(r, d, &o, exec);
}

/// d = fma(a, b, c) in f64, fused.
#[inline(always)]
pub(crate) fn fma64(r: &mut [u64], d: u32, a: u32, b: u32, c: u32, exec: u32, hw: bool) {
    let x = get64(r, a);
    let y = get64(r, b);
    let z = get64(r, c);
    let mut o = [0u64; 32];
    #[cfg(target_arch = "x86_64")]
    {
        if hw {
            // SAFETY: `hw` is true only when the host reports AVX2 and FMA (host_has_fma).
            unsafe { fma64_x86(&x, &y, &z, &mut o) };
        } else {
            fma64_body(&x, &y, &z, &mut o);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = hw;
        fma64_body(&x, &y, &z, &mut o);
    }
    put64(r, d, &o, exec);
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
