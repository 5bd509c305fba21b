//! The interpreter loop: runs one warp's instructions, each decoded once per warp and applied
//! to the lanes of its register rows, with the fast lane loops of one register bank.
//!
//! Divergence: the warp's non-exited lanes are split into groups, each with its own PC. The
//! group with the lowest PC runs (min-PC scheduling); it runs straight on until it reaches the
//! PC of another group (they merge), diverges at a branch, exits, or reaches a collective
//! (barrier, warp sync, shuffle, vote, mma, wmma). A collective runs only when no other group
//! can still run: until then the group waits ("parked"), so lanes that reconverge first join it.

use super::alu;
use super::collective::{barrier, check_aligned, check_members};
use super::lanes::*;
use super::mem::Fault;
use super::warp::{Ctx, Group, Res, Warp, WarpState};
use super::LaunchErrorKind;
use crate::ir::*;

// The fast paths of one register bank. Macros, not generics over the bank: the operations
// need the bank's signed and float types, and each expansion is the same specialised lane loop
// per operation and bank that the engine would otherwise spell out twice.

/// `$f` (an [`IntOp`]) on the rows of bank `$r` (lanes `$u`, signed `$s`).
macro_rules! int_rows {
    ($r:expr, $f:expr, $d:expr, $a:expr, $b:expr, $exec:expr, $u:ty, $s:ty) => {{
        let (r, d, a, b, exec) = ($r, $d, $a, $b, $exec);
        const BITS: $u = <$u>::BITS as $u;
        let shl = |x: $u, y: $u| if y >= BITS { 0 } else { x << y };
        let shr = |x: $u, y: $u| if y >= BITS { 0 } else { x >> y };
        match $f {
            IntOp::Add => bin_row(r, d, a, b, exec, |x: $u, y| x.wrapping_add(y)),
            IntOp::Sub => bin_row(r, d, a, b, exec, |x: $u, y| x.wrapping_sub(y)),
            IntOp::MulLo => bin_row(r, d, a, b, exec, |x: $u, y| x.wrapping_mul(y)),
            IntOp::And => bin_row(r, d, a, b, exec, |x: $u, y| x & y),
            IntOp::Or => bin_row(r, d, a, b, exec, |x: $u, y| x | y),
            IntOp::Xor => bin_row(r, d, a, b, exec, |x: $u, y| x ^ y),
            IntOp::Shl => bin_row(r, d, a, b, exec, shl),
            IntOp::ShrU => bin_row(r, d, a, b, exec, shr),
            IntOp::ShrS => bin_row(r, d, a, b, exec, |x: $u, y| {
                ((x as $s) >> y.min(BITS - 1)) as $u
            }),
            IntOp::MinS => bin_row(r, d, a, b, exec, |x: $u, y| (x as $s).min(y as $s) as $u),
            IntOp::MinU => bin_row(r, d, a, b, exec, |x: $u, y| x.min(y)),
            IntOp::MaxS => bin_row(r, d, a, b, exec, |x: $u, y| (x as $s).max(y as $s) as $u),
            IntOp::MaxU => bin_row(r, d, a, b, exec, |x: $u, y| x.max(y)),
        }
    }};
}

/// `$f` (an [`FOp`]) on the rows of bank `$r`, whose lanes are the bits of `$fl`.
macro_rules! float_rows {
    ($r:expr, $f:expr, $d:expr, $a:expr, $b:expr, $exec:expr, $fl:ty) => {{
        let (r, d, a, b, exec) = ($r, $d, $a, $b, $exec);
        let fb = <$fl>::from_bits;
        match $f {
            FOp::Add => bin_row(r, d, a, b, exec, |x, y| (fb(x) + fb(y)).to_bits()),
            FOp::Sub => bin_row(r, d, a, b, exec, |x, y| (fb(x) - fb(y)).to_bits()),
            FOp::Mul => bin_row(r, d, a, b, exec, |x, y| (fb(x) * fb(y)).to_bits()),
        }
    }};
}

/// `fn $name(bank, cmp, t, a, b) -> lane mask`: the fast setp of bank `$u` (signed `$s`,
/// float `$fl`, whose PTX type is `$fty`).
macro_rules! setp_rows {
    ($name:ident, $u:ty, $s:ty, $fl:ty, $fty:expr) => {
        fn $name(r: &[$u], cmp: CmpOp, t: CmpTy, a: u32, b: u32) -> u32 {
            let f = <$fl>::from_bits;
            match (t, cmp) {
                (CmpTy::S | CmpTy::U, CmpOp::Eq) => cmp_row(r, a, b, |x, y| x == y),
                (CmpTy::S | CmpTy::U, CmpOp::Ne) => cmp_row(r, a, b, |x, y| x != y),
                (CmpTy::S, CmpOp::Lt) => cmp_row(r, a, b, |x, y| (x as $s) < (y as $s)),
                (CmpTy::S, CmpOp::Le) => cmp_row(r, a, b, |x, y| (x as $s) <= (y as $s)),
                (CmpTy::S, CmpOp::Gt) => cmp_row(r, a, b, |x, y| (x as $s) > (y as $s)),
                (CmpTy::S, CmpOp::Ge) => cmp_row(r, a, b, |x, y| (x as $s) >= (y as $s)),
                (CmpTy::U, CmpOp::Lt) => cmp_row(r, a, b, |x, y| x < y),
                (CmpTy::U, CmpOp::Le) => cmp_row(r, a, b, |x, y| x <= y),
                (CmpTy::U, CmpOp::Gt) => cmp_row(r, a, b, |x, y| x > y),
                (CmpTy::U, CmpOp::Ge) => cmp_row(r, a, b, |x, y| x >= y),
                (CmpTy::F, CmpOp::Eq) => cmp_row(r, a, b, |x, y| f(x) == f(y)),
                (CmpTy::F, CmpOp::Ne) => cmp_row(r, a, b, |x, y| {
                    !f(x).is_nan() && !f(y).is_nan() && f(x) != f(y)
                }),
                (CmpTy::F, CmpOp::Lt) => cmp_row(r, a, b, |x, y| f(x) < f(y)),
                (CmpTy::F, CmpOp::Le) => cmp_row(r, a, b, |x, y| f(x) <= f(y)),
                (CmpTy::F, CmpOp::Gt) => cmp_row(r, a, b, |x, y| f(x) > f(y)),
                (CmpTy::F, CmpOp::Ge) => cmp_row(r, a, b, |x, y| f(x) >= f(y)),
                (_, c) => cmp_row(r, a, b, |x: $u, y: $u| {
                    alu::compare(c, $fty, false, u64::from(x), u64::from(y))
                }),
            }
        }
    };
}

/// Why a group's run ended.
enum Ev {
    /// Pick a group again.
    Resched,
    /// The warp now waits at a CTA barrier.
    Wait,
    /// The warp's time slice is used up (it stays ready).
    Yield,
}

/// Warp instructions a warp runs before the CTA's next ready warp gets its turn. Warps of a CTA
/// advance together (as on a GPU), so that the coalesced accesses of neighbouring warps reach
/// host memory close together in time (cache lines, pages and prefetchers shared) instead of
/// one warp's whole grid-stride loop after another's.
pub(crate) const SLICE: u32 = 64;

/// Runs the warp until it finishes, waits at a CTA barrier, or has run `SLICE` instructions.
pub(crate) fn run(ctx: &mut Ctx, w: &mut Warp) -> Res<()> {
    let mut budget = SLICE;
    loop {
        if w.groups.is_empty() {
            w.state = WarpState::Done;
            return Ok(());
        }
        // Merge groups that met.
        if w.groups.len() > 1 {
            w.groups.sort_by_key(|g| g.pc);
            let mut k = 0;
            while k + 1 < w.groups.len() {
                if w.groups[k].pc == w.groups[k + 1].pc {
                    let g = w.groups.remove(k + 1);
                    w.groups[k].mask |= g.mask;
                    w.groups[k].parked |= g.parked;
                } else {
                    k += 1;
                }
            }
        }
        // The lowest-PC group that can run; if every group waits at a collective, the lowest
        // one goes ahead.
        let gi = match w.groups.iter().position(|g| !g.parked) {
            Some(i) => i,
            None => {
                w.groups[0].parked = false;
                0
            }
        };
        let solo = !w
            .groups
            .iter()
            .enumerate()
            .any(|(i, g)| i != gi && !g.parked);
        let stop = w
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != gi)
            .map(|(_, g)| g.pc)
            .min()
            .unwrap_or(u32::MAX);
        match exec_group(ctx, w, gi, stop, solo, &mut budget)? {
            Ev::Resched => {
                if budget == 0 {
                    return Ok(());
                }
            }
            Ev::Wait | Ev::Yield => return Ok(()),
        }
    }
}

/// Runs group `gi` from its PC: with the host's AVX2 and FMA when it has them (the lane loops
/// then use 256-bit vectors), else with the baseline instruction set.
fn exec_group(
    ctx: &mut Ctx,
    w: &mut Warp,
    gi: usize,
    stop: u32,
    solo: bool,
    budget: &mut u32,
) -> Res<Ev> {
    #[cfg(target_arch = "x86_64")]
    if ctx.hw_fma {
        // SAFETY: hw_fma is true only when the host reports AVX2 and FMA (host_has_fma).
        return unsafe { exec_group_avx2(ctx, w, gi, stop, solo, budget) };
    }
    exec_group_body(ctx, w, gi, stop, solo, budget)
}

/// # Safety
/// The host must have AVX2 and FMA (`ctx.hw_fma`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exec_group_avx2(
    ctx: &mut Ctx,
    w: &mut Warp,
    gi: usize,
    stop: u32,
    solo: bool,
    budget: &mut u32,
) -> Res<Ev> {
    exec_group_body(ctx, w, gi, stop, solo, budget)
}

/// The dispatch loop: runs group `gi` until it reaches `stop` (another group's PC), leaves the
/// straight line (a branch that diverges, an exit, a collective it must wait at) or has used
/// `budget`, counting what it issues.
///
/// One function on purpose, although long: the loop keeps the PC, the group's mask and the
/// counters in locals across instructions, and the arms that move control (bra, exit, trap,
/// the parking of a collective, bar) change them in place and leave the loop. Every other arm
/// is one call to a lane loop (here, in `lanes`, or in the instruction files), so the match
/// reads as the table of what each op does.
#[inline(always)]
fn exec_group_body(
    ctx: &mut Ctx,
    w: &mut Warp,
    gi: usize,
    stop: u32,
    solo: bool,
    budget: &mut u32,
) -> Res<Ev> {
    let prog = ctx.prog;
    let insts = &prog.insts[..];
    let hw = ctx.hw_fma;
    let mut pc = w.groups[gi].pc;
    let mut mask = w.groups[gi].mask;
    let mut n_warp = 0u64;
    let mut n_thread = 0u64;
    let mut fl = [0u64; 4];
    let mut n_int = 0u64;
    let mut left = *budget;
    let ev = 'run: loop {
        if pc == stop {
            w.save(gi, pc, mask);
            break 'run Ev::Resched;
        }
        if left == 0 {
            w.save(gi, pc, mask);
            break 'run Ev::Yield;
        }
        left -= 1;
        let Some(inst) = insts.get(pc as usize) else {
            break 'run Ev::Resched;
        };
        let exec = if inst.guard == NO_GUARD {
            mask
        } else {
            mask & (w.preds[inst.guard as usize] ^ inst.guard_xor)
        };
        n_warp += 1;
        n_thread += mask.count_ones() as u64;
        if exec == 0 {
            pc += 1;
            continue;
        }
        if inst.flops != 0 {
            fl[inst.flop_kind as usize & 3] += inst.flops as u64 * exec.count_ones() as u64;
        }
        n_int += inst.int_ops as u64 * exec.count_ones() as u64;
        let r = &mut w.r32[..];
        match &inst.op {
            Op::Fma32 { d, a, b, c } => fma_row(r, *d, *a, *b, *c, exec, hw),
            Op::Fma64 { d, a, b, c } => fma_row(&mut w.r64, *d, *a, *b, *c, exec, hw),
            Op::I32 { f, d, a, b } => int_rows!(r, *f, *d, *a, *b, exec, u32, i32),
            Op::I64 { f, d, a, b } => int_rows!(&mut w.r64[..], *f, *d, *a, *b, exec, u64, i64),
            Op::Sh64 { f, d, a, b } => sh64_row(w, *f, *d, *a, *b, exec),
            Op::F32 { f, d, a, b } => float_rows!(r, *f, *d, *a, *b, exec, f32),
            Op::F64 { f, d, a, b } => float_rows!(&mut w.r64[..], *f, *d, *a, *b, exec, f64),
            Op::Mad32 { d, a, b, c } => tern_row(r, *d, *a, *b, *c, exec, |x: u32, y, z| {
                x.wrapping_mul(y).wrapping_add(z)
            }),
            Op::Mad64 { d, a, b, c } => {
                tern_row(&mut w.r64, *d, *a, *b, *c, exec, |x: u64, y, z| {
                    x.wrapping_mul(y).wrapping_add(z)
                })
            }
            Op::MulWide { signed, d, a, b } => mul_wide_row(w, *signed, *d, *a, *b, exec),
            Op::Setp32 { cmp, t, d, a, b } => {
                let m = setp32(&w.r32, *cmp, *t, *a, *b);
                w.set_pred(*d, exec, m);
            }
            Op::Setp64 { cmp, t, d, a, b } => {
                let m = setp64(&w.r64, *cmp, *t, *a, *b);
                w.set_pred(*d, exec, m);
            }
            Op::Selp32 { d, a, b, p } => {
                let pm = w.preds[*p as usize];
                select_row(r, *d, *a, *b, pm, exec);
            }
            Op::Selp64 { d, a, b, p } => {
                let pm = w.preds[*p as usize];
                select_row(&mut w.r64, *d, *a, *b, pm, exec);
            }
            Op::Mov32 { d, a } => mov_row(r, *d, *a, exec),
            Op::Mov64 { d, a } => mov_row(&mut w.r64, *d, *a, exec),
            Op::MovPred { d, a } => {
                let v = w.preds[*a as usize];
                w.set_pred(*d, exec, v);
            }
            Op::Pred { f, d, a, b } => {
                let x = w.preds[*a as usize];
                let y = w.preds[*b as usize];
                let v = match f {
                    PredOp::And => x & y,
                    PredOp::Or => x | y,
                    PredOp::Xor => x ^ y,
                    PredOp::Not => !x,
                };
                w.set_pred(*d, exec, v);
            }
            Op::Cvt { k, d, a } => cvt_fast(w, *k, *d, *a, exec),
            Op::Bra { target } => {
                if exec == mask {
                    pc = *target;
                    if w.groups.len() > 1 {
                        w.save(gi, pc, mask);
                        break 'run Ev::Resched;
                    }
                    continue;
                }
                // Divergence: the taken lanes form a new group.
                w.save(gi, pc + 1, mask & !exec);
                w.groups.push(Group {
                    pc: *target,
                    mask: exec,
                    parked: false,
                });
                break 'run Ev::Resched;
            }
            Op::Exit => {
                w.live &= !exec;
                w.cp.retain(|e| exec >> e.lane & 1 == 0);
                mask &= !exec;
                if mask == 0 {
                    w.groups.remove(gi);
                    break 'run Ev::Resched;
                }
                w.groups[gi].mask = mask;
            }
            Op::Trap => {
                return Err((
                    pc,
                    Fault::new(LaunchErrorKind::IllegalInstruction, "trap executed")
                        .lane(exec.trailing_zeros()),
                ));
            }
            Op::Nop => {}
            Op::Alu(s) => alu_row(w, s, exec),
            Op::Setp(s) => setp_row(w, s, exec),
            Op::CvtGen(s) => cvt_gen_row(w, s, exec),
            Op::Testp { test, ty, d, a } => testp_row(w, *test, *ty, *d, *a, exec),
            Op::Pack {
                d,
                parts,
                part_bits,
            } => pack_row(w, *d, parts, *part_bits, exec),
            Op::Unpack {
                a,
                parts,
                part_bits,
            } => unpack_row(w, *a, parts, *part_bits, exec),
            Op::ReadDyn { d, which } => read_dyn(ctx, w, *d, *which, exec),
            Op::Cvta {
                to_generic,
                space,
                d,
                a,
            } => cvta_row(w, *to_generic, *space, *d, *a, exec),
            Op::IsSpace { space, d, a } => isspace_row(w, *space, *d, *a, exec),
            Op::ActiveMask { d } => w.fill32(*d, exec, mask),
            Op::Ld(s) => super::memops::load(ctx, w, s, exec, pc).map_err(|f| (pc, f))?,
            Op::St(s) => super::memops::store(ctx, w, s, exec, pc).map_err(|f| (pc, f))?,
            Op::Atom(s) => super::memops::atom(ctx, w, s, exec, pc).map_err(|f| (pc, f))?,
            Op::CpAsync(s) => super::memops::cp_async(ctx, w, s, exec, pc).map_err(|f| (pc, f))?,
            Op::CpCommit => {
                for l in lanes(exec) {
                    w.committed[l as usize] += 1;
                }
            }
            Op::CpWait { n } => super::memops::cp_wait(ctx, w, *n, exec).map_err(|f| (pc, f))?,
            // ---- collectives: run only when no other group of the warp can still run.
            Op::Bar(_)
            | Op::WarpSync { .. }
            | Op::Shfl(_)
            | Op::Vote(_)
            | Op::Redux(_)
            | Op::Mma(_)
            | Op::WmmaLoad(_)
            | Op::WmmaStore(_)
            | Op::WmmaMma(_)
                if !solo =>
            {
                w.groups[gi] = Group {
                    pc,
                    mask,
                    parked: true,
                };
                break 'run Ev::Resched;
            }
            Op::Bar(b) => {
                if barrier(ctx, w, gi, b, exec, mask, pc).map_err(|f| (pc, f))? {
                    w.save(gi, pc, mask);
                    break 'run Ev::Wait;
                }
            }
            Op::WarpSync { mask: ms } => {
                let m = w.r32[*ms as usize * 32 + exec.trailing_zeros() as usize];
                check_members(w, m, exec, "bar.warp.sync").map_err(|f| (pc, f))?;
                w.wep = w.wep.wrapping_add(1);
            }
            Op::Shfl(s) => super::collective::shfl(w, s, exec).map_err(|f| (pc, f))?,
            Op::Vote(s) => super::collective::vote(w, s, exec).map_err(|f| (pc, f))?,
            Op::Redux(s) => super::collective::redux(w, s, exec).map_err(|f| (pc, f))?,
            Op::Mma(s) => {
                check_aligned(w, exec, mask, "mma.sync.aligned").map_err(|f| (pc, f))?;
                super::tensor::mma_f64(w, s);
                ctx.stats.tensor_flops_f64 += 2 * 8 * 8 * 4;
            }
            Op::WmmaLoad(s) => {
                check_aligned(w, exec, mask, "wmma.load.sync.aligned").map_err(|f| (pc, f))?;
                super::tensor::wmma_move(ctx, w, s, exec, pc, false).map_err(|f| (pc, f))?;
            }
            Op::WmmaStore(s) => {
                check_aligned(w, exec, mask, "wmma.store.sync.aligned").map_err(|f| (pc, f))?;
                super::tensor::wmma_move(ctx, w, s, exec, pc, true).map_err(|f| (pc, f))?;
            }
            Op::WmmaMma(s) => {
                check_aligned(w, exec, mask, "wmma.mma.sync.aligned").map_err(|f| (pc, f))?;
                super::tensor::wmma_mma(w, s);
                ctx.stats.tensor_flops_f16 += 2 * 16 * 16 * 16;
            }
        }
        pc += 1;
    };
    *budget = left;
    ctx.stats.warp_instructions += n_warp;
    ctx.stats.thread_instructions += n_thread;
    ctx.stats.flops_f32 += fl[FLOPS_F32 as usize];
    ctx.stats.flops_f64 += fl[FLOPS_F64 as usize];
    ctx.stats.flops_f16 += fl[FLOPS_F16 as usize];
    ctx.stats.int_ops += n_int;
    ctx.clock = ctx.clock.wrapping_add(n_warp);
    Ok(ev)
}

setp_rows!(setp32, u32, i32, f32, Ty::F32);
setp_rows!(setp64, u64, i64, f64, Ty::F64);

fn cvt_fast(w: &mut Warp, k: CvtFast, d: u32, a: u32, exec: u32) {
    let (r32, r64) = (&mut w.r32[..], &mut w.r64[..]);
    match k {
        CvtFast::S64S32 => conv_row(r32, r64, d, a, exec, |x: u32| x as i32 as i64 as u64),
        CvtFast::U64U32 => conv_row(r32, r64, d, a, exec, |x: u32| x as u64),
        CvtFast::Trunc64 => conv_row(r64, r32, d, a, exec, |x: u64| x as u32),
        CvtFast::F64F32 => conv_row(r32, r64, d, a, exec, |x: u32| {
            (f32::from_bits(x) as f64).to_bits()
        }),
        CvtFast::F32S32 => un_row(r32, d, a, exec, |x: u32| (x as i32 as f32).to_bits()),
        CvtFast::F32U32 => un_row(r32, d, a, exec, |x: u32| (x as f32).to_bits()),
        CvtFast::F32F16 => un_row(r32, d, a, exec, |x: u32| {
            half::f16::from_bits(x as u16).to_f32().to_bits()
        }),
        CvtFast::F32F64 => conv_row(r64, r32, d, a, exec, |x: u64| {
            (f64::from_bits(x) as f32).to_bits()
        }),
        CvtFast::F64S32 => conv_row(r32, r64, d, a, exec, |x: u32| (x as i32 as f64).to_bits()),
        CvtFast::F64U32 => conv_row(r32, r64, d, a, exec, |x: u32| (x as f64).to_bits()),
    }
}

fn alu_row(w: &mut Warp, s: &AluSpec, exec: u32) {
    let a = w.row(s.a);
    let b = w.row(s.b);
    let c = w.row(s.c);
    let e = w.row(s.e);
    for l in lanes(exec) {
        let i = l as usize;
        let v = alu::eval(s, a[i], b[i], c[i], e[i]);
        w.wr(s.d, l, v);
    }
}

fn setp_row(w: &mut Warp, s: &SetpSpec, exec: u32) {
    let a = w.row(s.a);
    let b = w.row(s.b);
    let cm = match s.comb {
        Some((_, c, neg)) => w.preds[c as usize] ^ if neg { u32::MAX } else { 0 },
        None => 0,
    };
    let mut pm = 0u32;
    let mut qm = 0u32;
    for l in lanes(exec) {
        let i = l as usize;
        let (p, q) = alu::setp(s, a[i], b[i], cm >> l & 1 == 1);
        if let Some((d, dty)) = s.set_dst {
            w.wr(d, l, alu::set_value(dty, p));
        }
        pm |= u32::from(p) << l;
        qm |= u32::from(q) << l;
    }
    if let Some(p) = s.p {
        w.set_pred(p, exec, pm);
    }
    if let Some(q) = s.q {
        w.set_pred(q, exec, qm);
    }
}

/// A 64-bit shift by a 32-bit amount (`Op::Sh64`).
#[inline(always)]
fn sh64_row(w: &mut Warp, f: IntOp, d: u32, a: u32, b: u32, exec: u32) {
    let x = get_row(&w.r64, a);
    let y = get_row(&w.r32, b);
    let mut o = [0u64; 32];
    match f {
        IntOp::Shl => {
            for i in 0..32 {
                o[i] = if y[i] >= 64 { 0 } else { x[i] << y[i] };
            }
        }
        IntOp::ShrU => {
            for i in 0..32 {
                o[i] = if y[i] >= 64 { 0 } else { x[i] >> y[i] };
            }
        }
        _ => {
            for i in 0..32 {
                o[i] = ((x[i] as i64) >> y[i].min(63)) as u64;
            }
        }
    }
    put_row(&mut w.r64, d, &o, exec);
}

/// `mul.wide` of 32-bit registers into a 64-bit one (`Op::MulWide`).
#[inline(always)]
fn mul_wide_row(w: &mut Warp, signed: bool, d: u32, a: u32, b: u32, exec: u32) {
    let x = get_row(&w.r32, a);
    let y = get_row(&w.r32, b);
    let mut o = [0u64; 32];
    if signed {
        for i in 0..32 {
            o[i] = ((x[i] as i32 as i64) * (y[i] as i32 as i64)) as u64;
        }
    } else {
        for i in 0..32 {
            o[i] = x[i] as u64 * y[i] as u64;
        }
    }
    put_row(&mut w.r64, d, &o, exec);
}

/// A conversion of the generic path (`Op::CvtGen`).
#[inline(always)]
fn cvt_gen_row(w: &mut Warp, s: &CvtSpec, exec: u32) {
    for l in lanes(exec) {
        let a = w.rd(s.a, l);
        let b = s.b.map_or(0, |b| w.rd(b, l));
        let v = alu::cvt(s, a, b);
        w.wr(s.d, l, v);
    }
}

/// `testp` (`Op::Testp`).
#[inline(always)]
fn testp_row(w: &mut Warp, test: u8, ty: Ty, d: u32, a: Opnd, exec: u32) {
    let mut m = 0u32;
    for l in lanes(exec) {
        if alu::testp(test, ty, w.rd(a, l)) {
            m |= 1 << l;
        }
    }
    w.set_pred(d, exec, m);
}

/// `mov d, {a, b, …}`: parts low to high (`Op::Pack`).
#[inline(always)]
fn pack_row(w: &mut Warp, d: Opnd, parts: &[Opnd], part_bits: u8, exec: u32) {
    let pb = part_bits as u32;
    let pm = alu::trunc(u64::MAX, pb);
    for l in lanes(exec) {
        let mut v = 0u64;
        for (k, p) in parts.iter().enumerate() {
            v |= (w.rd(*p, l) & pm) << (pb * k as u32);
        }
        w.wr(d, l, v);
    }
}

/// `mov {a, b, …}, d` (`Op::Unpack`).
#[inline(always)]
fn unpack_row(w: &mut Warp, a: Opnd, parts: &[Option<Opnd>], part_bits: u8, exec: u32) {
    let pb = part_bits as u32;
    let pm = alu::trunc(u64::MAX, pb);
    for l in lanes(exec) {
        let v = w.rd(a, l);
        for (k, p) in parts.iter().enumerate() {
            if let Some(p) = p {
                w.wr(*p, l, (v >> (pb * k as u32)) & pm);
            }
        }
    }
}

/// `%clock`, `%clock64`, `%globaltimer` (`Op::ReadDyn`): the CTA's own warp instructions.
#[inline(always)]
fn read_dyn(ctx: &Ctx, w: &mut Warp, d: Opnd, which: Dyn, exec: u32) {
    let v = match which {
        Dyn::Clock => ctx.clock & 0xffff_ffff,
        Dyn::Clock64 => ctx.clock,
        Dyn::GlobalTimer => ctx.clock.wrapping_mul(1000),
    };
    for l in lanes(exec) {
        w.wr(d, l, v);
    }
}

/// `cvta` and `cvta.to` (`Op::Cvta`).
#[inline(always)]
fn cvta_row(w: &mut Warp, to_generic: bool, space: MemSpace, d: Opnd, a: Opnd, exec: u32) {
    for l in lanes(exec) {
        let v = w.rd(a, l);
        let out = if to_generic {
            crate::ir::to_generic(space, v)
        } else {
            crate::ir::from_generic(space, v)
        };
        w.wr(d, l, out);
    }
}

/// `isspacep` (`Op::IsSpace`).
#[inline(always)]
fn isspace_row(w: &mut Warp, space: MemSpace, d: u32, a: Opnd, exec: u32) {
    let mut m = 0u32;
    for l in lanes(exec) {
        let (s, _) = classify(w.rd(a, l));
        let yes = match space {
            MemSpace::Global | MemSpace::Const => s == MemSpace::Global,
            other => s == other,
        };
        if yes {
            m |= 1 << l;
        }
    }
    w.set_pred(d, exec, m);
}
