//! Loads, stores, atomics and cp.async: per lane, resolve and check the address (space, bounds,
//! alignment, race detector), then move the bytes. Global bytes are counted as each active lane
//! accesses them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::alu::{ftz32, sx};
use super::lanes::{lanes, FULL};
use super::mem::{misaligned, out_of_bounds, Fault};
use super::race::RaceHit;
use super::warp::{CpEntry, Ctx, Warp};
use super::LaunchErrorKind;
use crate::ir::{classify, AtomOp, AtomSpec, CpAsyncSpec, MemSpace, MemSpec, Opnd, Ty};

/// What a shared-memory destination reads as while a cp.async into it is in flight.
pub(crate) const POISON: u8 = 0xFF;

/// The thread coordinates of CTA-linear thread `tid`.
pub(crate) fn thread_xyz(ntid: [u32; 3], tid: u32) -> (u32, u32, u32) {
    let x = tid % ntid[0].max(1);
    let y = (tid / ntid[0].max(1)) % ntid[1].max(1);
    let z = tid / (ntid[0].max(1) * ntid[1].max(1));
    (x, y, z)
}

/// A race detector hit as a fault.
pub(crate) fn race_fault(ctx: &Ctx, hit: RaceHit, write: bool, tid: u32, pc: u32) -> Fault {
    let line_of = |pc: u32| ctx.prog.insts.get(pc as usize).map_or(0, |i| i.line);
    let (px, py, pz) = thread_xyz(ctx.ntid, hit.prev.tid as u32);
    let (cx, cy, cz) = thread_xyz(ctx.ntid, tid);
    Fault::new(
        LaunchErrorKind::LaunchFailed,
        format!(
            "shared-memory race on byte {:#x}: {} by thread ({px},{py},{pz}) at PTX line {} and {} by thread ({cx},{cy},{cz}) at PTX line {} with no barrier between them{}",
            hit.off,
            if hit.prev_write { "write" } else { "read" },
            line_of(hit.prev.pc),
            if write { "write" } else { "read" },
            line_of(pc),
            if hit.prev.tid / 32 == tid as u16 / 32 {
                " (same warp: no bar.warp.sync)"
            } else {
                ""
            }
        ),
    )
    .at(tid % 32, hit.off as u64)
}

/// The race detector's check of one lane's shared-memory access of `[off, off + len)` at `pc`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn race_check(
    ctx: &mut Ctx,
    w: &Warp,
    write: bool,
    off: usize,
    len: usize,
    lane: u32,
    pc: u32,
) -> Result<(), Fault> {
    if let Some(r) = ctx.race.as_mut() {
        let tid = w.idx * 32 + lane;
        if let Err(hit) = r.access(write, off, len, tid as u16, w.wep, pc) {
            return Err(race_fault(ctx, hit, write, tid, pc));
        }
    }
    Ok(())
}

/// Counts `n` global bytes read or written.
#[inline(always)]
fn count_global(ctx: &mut Ctx, write: bool, n: u64) {
    if write {
        ctx.stats.global_bytes_written += n;
    } else {
        ctx.stats.global_bytes_read += n;
    }
}

/// Whether `[a, a + len)` lies within `n` bytes (every access here has `len` > 0, so `a` < `n`).
#[inline(always)]
fn fits(a: u64, len: u64, n: u64) -> bool {
    a <= n && len <= n - a
}

/// Resolves one lane's access of `len` bytes at `addr` in `space` to a host pointer, after
/// every check a GPU makes (and the race detector's). `is_global` reports a global access.
#[allow(clippy::too_many_arguments)]
#[inline]
fn resolve(
    ctx: &mut Ctx,
    w: &mut Warp,
    space: MemSpace,
    addr: u64,
    len: u64,
    write: bool,
    lane: u32,
    pc: u32,
) -> Result<(*mut u8, bool), Fault> {
    let (space, a) = if space == MemSpace::Generic {
        classify(addr)
    } else {
        (space, addr)
    };
    if a % len != 0 {
        return Err(misaligned(space, write, len, addr, lane));
    }
    let oob = |why: &str| Err(out_of_bounds(space, write, len, addr, lane, why));
    match space {
        MemSpace::Global | MemSpace::Const | MemSpace::Generic => {
            let Some((p, ro)) = ctx.global.lookup(a, len) else {
                return oob(&ctx.global.nearest(a));
            };
            if write && ro {
                return oob("constant memory is read-only");
            }
            if space != MemSpace::Const {
                count_global(ctx, write, len);
            }
            Ok((p, space != MemSpace::Const))
        }
        MemSpace::Shared => {
            let n = ctx.shared.len() as u64;
            if !fits(a, len, n) {
                return oob(&format!("the block has {n} bytes of shared memory"));
            }
            race_check(ctx, w, write, a as usize, len as usize, lane, pc)?;
            // SAFETY: a + len ≤ shared.len() was checked above.
            Ok((unsafe { ctx.shared.as_mut_ptr().add(a as usize) }, false))
        }
        MemSpace::Local => {
            let n = ctx.local_bytes as u64;
            if !fits(a, len, n) {
                return oob(&format!("the thread has {n} bytes of local memory"));
            }
            let base = lane as usize * ctx.local_bytes + a as usize;
            // SAFETY: base + len ≤ 32 · local_bytes = w.local.len() (lane < 32, a + len ≤ n).
            Ok((unsafe { w.local.as_mut_ptr().add(base) }, false))
        }
        MemSpace::Param => {
            let n = ctx.params.len() as u64;
            if write {
                return oob("kernel parameters are read-only");
            }
            if !fits(a, len, n) {
                return oob(&format!("the kernel has {n} bytes of parameters"));
            }
            // SAFETY: a + len ≤ params.len(); the pointer is only read through.
            Ok((
                unsafe { ctx.params.as_ptr().add(a as usize) as *mut u8 },
                false,
            ))
        }
    }
}

#[inline(always)]
fn rd_bytes(p: *const u8, n: usize) -> u64 {
    // SAFETY: callers pass pointers resolved for at least `n` bytes.
    unsafe {
        match n {
            1 => *p as u64,
            2 => (p as *const u16).read_unaligned() as u64,
            4 => (p as *const u32).read_unaligned() as u64,
            _ => (p as *const u64).read_unaligned(),
        }
    }
}

#[inline(always)]
fn wr_bytes(p: *mut u8, n: usize, v: u64) {
    // SAFETY: callers pass pointers resolved (and checked writable) for at least `n` bytes.
    unsafe {
        match n {
            1 => *p = v as u8,
            2 => (p as *mut u16).write_unaligned(v as u16),
            4 => (p as *mut u32).write_unaligned(v as u32),
            _ => (p as *mut u64).write_unaligned(v),
        }
    }
}

/// Every lane's pointer at once when all accesses are aligned and inside one allocation
/// (global) or inside shared memory (race detector off): the common case, checked with two
/// reductions over the lanes instead of a lookup per lane. `false`: take the per-lane path
/// (which also reports any fault precisely), unless `fault` holds a race the detector found.
/// (A `Result<bool, Fault>` costs the race-checked path 2 % more instructions.)
#[allow(clippy::too_many_arguments)]
#[inline]
fn fast_ptrs(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &MemSpec,
    exec: u32,
    total: u64,
    write: bool,
    ptrs: &mut [*mut u8; 32],
    pc: u32,
    fault: &mut Option<Fault>,
) -> bool {
    let row = w.row(s.addr);
    let off = s.off as u64;
    let mut addrs = [0u64; 32];
    for l in 0..32 {
        addrs[l] = row[l].wrapping_add(off);
    }
    let (mut lo, mut hi, mut mis) = (u64::MAX, 0u64, 0u64);
    if exec == FULL {
        for a in addrs {
            lo = lo.min(a);
            hi = hi.max(a);
            mis |= a;
        }
    } else {
        for l in lanes(exec) {
            let a = addrs[l as usize];
            lo = lo.min(a);
            hi = hi.max(a);
            mis |= a;
        }
    }
    if mis & (total - 1) != 0 {
        return false;
    }
    let (base, base_addr) = match s.space {
        MemSpace::Global => {
            let Some(span) = (hi - lo).checked_add(total) else {
                return false;
            };
            let Some((p, ro)) = ctx.global.lookup(lo, span) else {
                return false;
            };
            if write && ro {
                return false;
            }
            count_global(ctx, write, total * exec.count_ones() as u64);
            (p, lo)
        }
        MemSpace::Shared => {
            if !fits(hi, total, ctx.shared.len() as u64) {
                return false;
            }
            if let Some(r) = ctx.race.as_mut() {
                for l in lanes(exec) {
                    let tid = w.idx * 32 + l;
                    let a = addrs[l as usize] as usize;
                    if let Err(hit) = r.access(write, a, total as usize, tid as u16, w.wep, pc) {
                        *fault = Some(race_fault(ctx, hit, write, tid, pc));
                        return false;
                    }
                }
            }
            (ctx.shared.as_mut_ptr(), 0)
        }
        MemSpace::Param if !write => {
            if !fits(hi, total, ctx.params.len() as u64) {
                return false;
            }
            (ctx.params.as_ptr() as *mut u8, 0)
        }
        MemSpace::Local => {
            if !fits(hi, total, ctx.local_bytes as u64) {
                return false;
            }
            let lb = ctx.local_bytes;
            let base = w.local.as_mut_ptr();
            for l in lanes(exec) {
                // SAFETY: a + total ≤ local_bytes, inside lane l's frame of w.local.
                ptrs[l as usize] =
                    unsafe { base.add(l as usize * lb + addrs[l as usize] as usize) };
            }
            return true;
        }
        _ => return false,
    };
    for l in lanes(exec) {
        // SAFETY: every lane's [a, a + total) lies within [lo, hi + total), which was checked
        // to lie in one allocation (global) or in shared memory.
        ptrs[l as usize] = unsafe { base.add((addrs[l as usize] - base_addr) as usize) };
    }
    true
}

/// Every executing lane's host pointer for an access of `total` bytes per lane: all at once
/// where [`fast_ptrs`] can, else lane by lane. Returns the lanes whose access is global memory.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lane_ptrs(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &MemSpec,
    exec: u32,
    total: u64,
    write: bool,
    ptrs: &mut [*mut u8; 32],
    pc: u32,
) -> Result<u32, Fault> {
    let mut fault = None;
    if fast_ptrs(ctx, w, s, exec, total, write, ptrs, pc, &mut fault) {
        return Ok(if s.space == MemSpace::Global { exec } else { 0 });
    }
    if let Some(f) = fault {
        return Err(f);
    }
    let mut global = 0u32;
    for l in lanes(exec) {
        let a = w.rd(s.addr, l).wrapping_add(s.off as u64);
        let (p, g) = resolve(ctx, w, s.space, a, total, write, l, pc)?;
        ptrs[l as usize] = p;
        if g {
            global |= 1 << l;
        }
    }
    Ok(global)
}

/// A coalesced access: one scalar element per lane, all 32 lanes, consecutive addresses. The
/// lane row then is the memory image, moved with one copy. Returns the host pointer of lane 0's
/// element when the whole span is valid (aligned, one allocation or shared memory without the
/// race detector), and counts global bytes.
#[inline]
fn contiguous(ctx: &mut Ctx, w: &Warp, s: &MemSpec, exec: u32, write: bool) -> Option<*mut u8> {
    if exec != FULL || s.n != 1 || (write && ctx.sdc.is_some()) {
        return None;
    }
    let d = s.data[0]?;
    let elem = s.elem as u64;
    if !matches!((elem, d.is64()), (4, false) | (8, true)) {
        return None;
    }
    let a0 = w.rd(s.addr, 0).wrapping_add(s.off as u64);
    if !a0.is_multiple_of(elem) {
        return None;
    }
    let b = s.addr.slot() as usize * 32;
    let off = s.off as u64;
    let mut diff = 0u64;
    if s.addr.is64() {
        let r = &w.r64[b..b + 32];
        for (l, v) in r.iter().enumerate() {
            diff |= v.wrapping_add(off) ^ a0.wrapping_add(l as u64 * elem);
        }
    } else {
        let r = &w.r32[b..b + 32];
        for (l, v) in r.iter().enumerate() {
            diff |= (*v as u64).wrapping_add(off) ^ a0.wrapping_add(l as u64 * elem);
        }
    }
    let ok = diff == 0;
    if !ok {
        return None;
    }
    let span = 32 * elem;
    match s.space {
        MemSpace::Global => {
            let (p, ro) = ctx.global.lookup(a0, span)?;
            if write && ro {
                return None;
            }
            count_global(ctx, write, span);
            Some(p)
        }
        MemSpace::Shared if ctx.race.is_none() => {
            if !fits(a0, span, ctx.shared.len() as u64) {
                return None;
            }
            // SAFETY: [a0, a0 + span) lies in shared memory (checked).
            Some(unsafe { ctx.shared.as_mut_ptr().add(a0 as usize) })
        }
        _ => None,
    }
}

/// A coalesced access moves the 32 lanes of register `d` as one memory image at `p`: into the
/// row (`load`) or out of it.
///
/// # Safety
/// `p` must be valid for the row's 32 elements (and writable for a store), as
/// [`contiguous`] checks.
#[inline(always)]
unsafe fn copy_row(w: &mut Warp, d: Opnd, p: *mut u8, load: bool) {
    let b = d.slot() as usize * 32;
    // SAFETY: the caller's promise for p; the row is 32 elements of the register's width.
    unsafe {
        let (row, n) = if d.is64() {
            (w.r64[b..b + 32].as_mut_ptr() as *mut u8, 256)
        } else {
            (w.r32[b..b + 32].as_mut_ptr() as *mut u8, 128)
        };
        if load {
            std::ptr::copy_nonoverlapping(p, row, n);
        } else {
            std::ptr::copy_nonoverlapping(row, p, n);
        }
    }
}

/// `ld` (scalar and vector).
pub(crate) fn load(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &MemSpec,
    exec: u32,
    pc: u32,
) -> Result<(), Fault> {
    if let Some(p) = contiguous(ctx, w, s, exec, false) {
        if let Some(d) = s.data[0] {
            // SAFETY: contiguous checked the row's span at p.
            unsafe { copy_row(w, d, p, true) };
        }
        return Ok(());
    }
    let elem = s.elem as usize;
    let total = (elem * s.n as usize) as u64;
    let mut ptrs = [std::ptr::null_mut::<u8>(); 32];
    lane_ptrs(ctx, w, s, exec, total, false, &mut ptrs, pc)?;
    // Vectors of 32-bit elements into 32-bit registers (ld.shared.v4.f32 and friends): one
    // pass over the lanes.
    if elem == 4 && s.n > 1 && s.data.iter().all(|d| d.is_some_and(|o| !o.is64())) {
        let rows: [usize; 4] = std::array::from_fn(|k| {
            s.data
                .get(k)
                .copied()
                .flatten()
                .map_or(0, |o| o.slot() as usize * 32)
        });
        let n = s.n as usize;
        for l in lanes(exec) {
            let p = ptrs[l as usize] as *const u32;
            for (k, row) in rows.iter().enumerate().take(n) {
                // SAFETY: resolved for n × 4 bytes.
                w.r32[row + l as usize] = unsafe { p.add(k).read_unaligned() };
            }
        }
        return Ok(());
    }
    for (k, d) in s.data.iter().enumerate() {
        let Some(d) = d else { continue };
        let off = k * elem;
        let base = d.slot() as usize * 32;
        match (elem, d.is64()) {
            (4, false) => {
                for l in lanes(exec) {
                    // SAFETY: resolved for `total` bytes, off + 4 ≤ total.
                    let p = unsafe { ptrs[l as usize].add(off) };
                    w.r32[base + l as usize] = rd_bytes(p, 4) as u32;
                }
            }
            (8, true) => {
                for l in lanes(exec) {
                    // SAFETY: as above.
                    let p = unsafe { ptrs[l as usize].add(off) };
                    w.r64[base + l as usize] = rd_bytes(p, 8);
                }
            }
            _ => {
                for l in lanes(exec) {
                    // SAFETY: as above.
                    let p = unsafe { ptrs[l as usize].add(off) };
                    let mut v = rd_bytes(p, elem);
                    if s.sext && elem < 8 {
                        v = sx(v, elem as u32 * 8) as u64;
                    }
                    w.wr(*d, l, v);
                }
            }
        }
    }
    Ok(())
}

/// The bit an sdc fault flips in an element of type `ty`.
fn sdc_bit(ty: Ty, bit: Option<u32>) -> u32 {
    let width = ty.bits().max(8);
    match bit {
        Some(b) => b % width,
        None => match ty {
            Ty::F32 => 22,
            Ty::F64 => 51,
            Ty::F16 | Ty::F16x2 => 9,
            Ty::BF16 | Ty::BF16x2 => 6,
            _ => width - 1,
        },
    }
}

/// `st` (scalar and vector).
pub(crate) fn store(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &MemSpec,
    exec: u32,
    pc: u32,
) -> Result<(), Fault> {
    if let Some(p) = contiguous(ctx, w, s, exec, true) {
        if let Some(d) = s.data[0] {
            // SAFETY: contiguous checked the row's span at p (writable).
            unsafe { copy_row(w, d, p, false) };
        }
        force_stuck(ctx);
        return Ok(());
    }
    let elem = s.elem as usize;
    let total = (elem * s.n as usize) as u64;
    let mut ptrs = [std::ptr::null_mut::<u8>(); 32];
    let global = lane_ptrs(ctx, w, s, exec, total, true, &mut ptrs, pc)?;
    // The sdc fault: the first global store of the CTA, its lowest active lane, element 0.
    let mut flip: Option<(u32, u64)> = None;
    if global != 0 {
        if let Some(bit) = ctx.sdc.take() {
            flip = Some((global.trailing_zeros(), 1u64 << sdc_bit(s.ty, bit)));
        }
    }
    for (k, d) in s.data.iter().enumerate() {
        let Some(d) = d else { continue };
        let off = k * elem;
        for l in lanes(exec) {
            let mut v = w.rd(*d, l);
            if k == 0 {
                if let Some((fl, m)) = flip {
                    if fl == l {
                        v ^= m;
                    }
                }
            }
            // SAFETY: resolved and checked writable for `total` bytes, off + elem ≤ total.
            let p = unsafe { ptrs[l as usize].add(off) };
            wr_bytes(p, elem, v);
        }
    }
    force_stuck(ctx);
    Ok(())
}

/// The `stuck-bit` fault: whatever a store or atomic wrote, the stuck bit holds its value.
#[inline]
fn force_stuck(ctx: &Ctx) {
    if let Some((cell, p)) = ctx.stuck {
        // SAFETY: p was resolved in the launch's memory map, which the driver keeps alive for
        // the whole launch.
        unsafe { cell.force(p as *mut u8) };
    }
}

/// The new value of an atomic.
fn atom_apply(op: AtomOp, ty: Ty, old: u64, b: u64, c: u64) -> u64 {
    let bits = ty.bits();
    let m = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let v = match op {
        AtomOp::Add => match ty {
            Ty::F32 => {
                let x = ftz32(f32::from_bits(old as u32)) + ftz32(f32::from_bits(b as u32));
                ftz32(x).to_bits() as u64
            }
            Ty::F64 => (f64::from_bits(old) + f64::from_bits(b)).to_bits(),
            _ => old.wrapping_add(b),
        },
        AtomOp::Min => {
            if ty.is_signed() {
                sx(old, bits).min(sx(b, bits)) as u64
            } else {
                (old & m).min(b & m)
            }
        }
        AtomOp::Max => {
            if ty.is_signed() {
                sx(old, bits).max(sx(b, bits)) as u64
            } else {
                (old & m).max(b & m)
            }
        }
        AtomOp::Inc => {
            if (old & m) >= (b & m) {
                0
            } else {
                old + 1
            }
        }
        AtomOp::Dec => {
            if (old & m) == 0 || (old & m) > (b & m) {
                b
            } else {
                old - 1
            }
        }
        AtomOp::And => old & b,
        AtomOp::Or => old | b,
        AtomOp::Xor => old ^ b,
        AtomOp::Exch => b,
        AtomOp::Cas => {
            if (old & m) == (b & m) {
                c
            } else {
                old
            }
        }
    };
    v & m
}

/// Applies `f` to the value of host atomic `at` (a compare-and-swap loop); the old value.
macro_rules! cas_loop {
    ($at:expr, $f:expr) => {{
        let mut cur = $at.load(Ordering::Relaxed);
        loop {
            let new = $f(cur);
            match $at.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => break cur,
                Err(x) => cur = x,
            }
        }
    }};
}

/// Serialises atomics on host addresses that are not naturally aligned.
static ATOM_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `atom` / `red`: lanes in order, each a read-modify-write (host atomics for global memory,
/// which blocks on other worker threads may share).
pub(crate) fn atom(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &AtomSpec,
    exec: u32,
    pc: u32,
) -> Result<(), Fault> {
    let size = s.ty.bytes() as u64;
    for l in lanes(exec) {
        let addr = w.rd(s.addr, l).wrapping_add(s.off as u64);
        let (space, a) = if s.space == MemSpace::Generic {
            classify(addr)
        } else {
            (s.space, addr)
        };
        if !matches!(space, MemSpace::Global | MemSpace::Shared) {
            return Err(Fault::new(
                LaunchErrorKind::IllegalAddress,
                format!("atomic on a {} address {addr:#x}", space.name()),
            )
            .at(l, addr));
        }
        if a % size != 0 {
            return Err(misaligned(space, true, size, addr, l));
        }
        let b = w.rd(s.b, l);
        let c = s.c.map_or(0, |c| w.rd(c, l));
        let oob = |why: &str| Err(out_of_bounds(space, true, size, addr, l, why));
        let f = |x: u64| atom_apply(s.op, s.ty, x, b, c);
        let old;
        if space == MemSpace::Shared {
            // Atomics are not data races: no race-detector record.
            if !fits(a, size, ctx.shared.len() as u64) {
                return oob("outside shared memory");
            }
            // SAFETY: a + size ≤ shared.len().
            let p = unsafe { ctx.shared.as_mut_ptr().add(a as usize) };
            old = rd_bytes(p, size as usize);
            wr_bytes(p, size as usize, f(old));
        } else {
            let Some((p, ro)) = ctx.global.lookup(a, size) else {
                return oob(&ctx.global.nearest(a));
            };
            if ro {
                return oob("constant memory is read-only");
            }
            ctx.stats.global_bytes_read += size;
            ctx.stats.global_bytes_written += size;
            old = if !(p as usize).is_multiple_of(size as usize) {
                let _g = ATOM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
                let o = rd_bytes(p, size as usize);
                wr_bytes(p, size as usize, f(o));
                o
            } else if size == 4 {
                // SAFETY: p is 4-aligned and valid for 4 bytes for the whole launch; other
                // threads touch it only through atomics or plain GPU-style accesses.
                let at = unsafe { AtomicU32::from_ptr(p as *mut u32) };
                u64::from(cas_loop!(at, |x: u32| f(u64::from(x)) as u32))
            } else {
                // SAFETY: as above, 8-aligned.
                let at = unsafe { AtomicU64::from_ptr(p as *mut u64) };
                cas_loop!(at, f)
            };
        }
        if let Some(d) = s.d {
            w.wr(d, l, old);
        }
    }
    force_stuck(ctx);
    let _ = pc;
    Ok(())
}

/// `cp.async`: checks and reads the source now, poisons the destination, and queues the bytes
/// to land at the lane's covering wait_group.
pub(crate) fn cp_async(
    ctx: &mut Ctx,
    w: &mut Warp,
    s: &CpAsyncSpec,
    exec: u32,
    pc: u32,
) -> Result<(), Fault> {
    let cp = s.cp_size as u64;
    for l in lanes(exec) {
        let dst = w.rd(s.dst, l).wrapping_add(s.dst_off as u64);
        let src = w.rd(s.src, l).wrapping_add(s.src_off as u64);
        let mut n = match s.src_size {
            Some(o) => w.rd(o, l) & 0xffff_ffff,
            None => cp,
        };
        if let Some((p, neg)) = s.ignore_src {
            if (w.preds[p as usize] >> l & 1 == 1) != neg {
                n = 0;
            }
        }
        if n > cp {
            return Err(Fault::new(
                LaunchErrorKind::IllegalInstruction,
                format!("cp.async src-size {n} is larger than cp-size {cp}"),
            )
            .lane(l));
        }
        if !dst.is_multiple_of(cp) {
            return Err(misaligned(MemSpace::Shared, true, cp, dst, l));
        }
        if !src.is_multiple_of(cp) {
            return Err(misaligned(MemSpace::Global, false, cp, src, l));
        }
        let sn = ctx.shared.len() as u64;
        if !fits(dst, cp, sn) {
            return Err(out_of_bounds(
                MemSpace::Shared,
                true,
                cp,
                dst,
                l,
                &format!("the block has {sn} bytes of shared memory"),
            ));
        }
        let mut data = [0u8; 16];
        if n > 0 {
            let Some((p, _)) = ctx.global.lookup(src, n) else {
                let why = ctx.global.nearest(src);
                return Err(out_of_bounds(MemSpace::Global, false, n, src, l, &why));
            };
            for (k, b) in data.iter_mut().enumerate().take(n as usize) {
                // SAFETY: [src, src + n) lies in one allocation (lookup).
                *b = unsafe { *p.add(k) };
            }
            ctx.stats.global_bytes_read += n;
        }
        race_check(ctx, w, true, dst as usize, cp as usize, l, pc)?;
        ctx.shared[dst as usize..(dst + cp) as usize].fill(POISON);
        w.cp.push(CpEntry {
            lane: l as u8,
            len: cp as u8,
            group: w.committed[l as usize],
            dst: dst as u32,
            data,
            pc,
        });
    }
    Ok(())
}

/// `cp.async.wait_group n` (and wait_all): lands every copy of the executing lanes except those
/// of their `n` most recent committed groups (and uncommitted ones).
pub(crate) fn cp_wait(ctx: &mut Ctx, w: &mut Warp, n: u32, exec: u32) -> Result<(), Fault> {
    let mut i = 0;
    while i < w.cp.len() {
        let e = w.cp[i];
        let l = e.lane as u32;
        let limit = w.committed[l as usize].saturating_sub(n);
        if exec >> l & 1 == 1 && e.group < limit {
            let (d, len) = (e.dst as usize, e.len as usize);
            race_check(ctx, w, true, d, len, l, e.pc)?;
            ctx.shared[d..d + len].copy_from_slice(&e.data[..len]);
            w.cp.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// One lane's checked access (for the matrix instructions): the host pointer.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve_access(
    ctx: &mut Ctx,
    w: &mut Warp,
    space: MemSpace,
    addr: u64,
    len: u64,
    write: bool,
    lane: u32,
    pc: u32,
) -> Result<*mut u8, Fault> {
    resolve(ctx, w, space, addr, len, write, lane, pc).map(|r| r.0)
}
