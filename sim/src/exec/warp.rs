//! One warp: its register file (`[slot][lane]`), its lane groups, and the interpreter loop.
//!
//! Divergence: the warp's non-exited lanes are split into groups, each with its own PC. The
//! group with the lowest PC runs (min-PC scheduling); it runs straight on until it reaches the
//! PC of another group (they merge), diverges at a branch, exits, or reaches a collective
//! (barrier, warp sync, shuffle, vote, mma, wmma). A collective runs only when no other group
//! can still run: until then the group waits ("parked"), so lanes that reconverge first join it.

use super::alu;
use super::lanes::*;
use super::mem::{Fault, GlobalMem};
use super::race::Race;
use super::{LaunchErrorKind, LaunchStats};
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

/// A set of lanes at one PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    pub pc: u32,
    pub mask: u32,
    /// Waiting at a collective until no other group can run.
    pub parked: bool,
}

/// One pending cp.async of one lane: lands in shared memory at its covering wait_group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpEntry {
    pub lane: u8,
    pub len: u8,
    /// The lane's commit-group number this copy belongs to.
    pub group: u32,
    pub dst: u32,
    pub data: [u8; 16],
    pub pc: u32,
}

/// Where a warp stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WarpState {
    Ready,
    /// At a CTA barrier (`id`), arrived with its live lanes.
    Waiting {
        id: u32,
        pc: u32,
    },
    Done,
}

/// One warp of a CTA.
pub(crate) struct Warp {
    pub idx: u32,
    pub r32: Vec<u32>,
    pub r64: Vec<u64>,
    pub preds: Vec<u32>,
    pub groups: Vec<Group>,
    /// Lanes that are threads of the CTA.
    pub exists: u32,
    /// Lanes that have not exited.
    pub live: u32,
    /// 32 per-lane local frames.
    pub local: Vec<u8>,
    pub cp: Vec<CpEntry>,
    pub committed: [u32; 32],
    /// Warp-sync epoch (race detector).
    pub wep: u16,
    pub state: WarpState,
}

impl Warp {
    pub fn new() -> Warp {
        Warp {
            idx: 0,
            r32: Vec::new(),
            r64: Vec::new(),
            preds: Vec::new(),
            groups: Vec::new(),
            exists: 0,
            live: 0,
            local: Vec::new(),
            cp: Vec::new(),
            committed: [0; 32],
            wep: 0,
            state: WarpState::Done,
        }
    }

    /// One operand's lane value (zero-extended).
    #[inline]
    pub fn rd(&self, o: Opnd, lane: u32) -> u64 {
        let i = o.slot() as usize * 32 + lane as usize;
        if o.is64() {
            self.r64[i]
        } else {
            self.r32[i] as u64
        }
    }

    /// Writes one lane of an operand (truncated to the register's width).
    #[inline]
    pub fn wr(&mut self, o: Opnd, lane: u32, v: u64) {
        let i = o.slot() as usize * 32 + lane as usize;
        if o.is64() {
            self.r64[i] = v;
        } else {
            self.r32[i] = v as u32;
        }
    }

    /// Sets predicate `d` to `v` in the lanes of `exec`.
    #[inline(always)]
    pub fn set_pred(&mut self, d: u32, exec: u32, v: u32) {
        let p = &mut self.preds[d as usize];
        *p = (*p & !exec) | (v & exec);
    }

    /// Writes `v` to the lanes of `exec` of 32-bit register `d`.
    #[inline]
    pub fn fill32(&mut self, d: u32, exec: u32, v: u32) {
        for l in super::lanes::lanes(exec) {
            self.r32[d as usize * 32 + l as usize] = v;
        }
    }

    /// Group `gi` continues at `pc` with lanes `mask`.
    #[inline(always)]
    fn save(&mut self, gi: usize, pc: u32, mask: u32) {
        self.groups[gi].pc = pc;
        self.groups[gi].mask = mask;
    }

    /// A whole operand row as u64 lanes.
    #[inline]
    pub fn row(&self, o: Opnd) -> [u64; 32] {
        let b = o.slot() as usize * 32;
        let mut out = [0u64; 32];
        if o.is64() {
            out.copy_from_slice(&self.r64[b..b + 32]);
        } else {
            for (k, v) in out.iter_mut().enumerate() {
                *v = self.r32[b + k] as u64;
            }
        }
        out
    }
}

/// Per-barrier state of a CTA.
#[derive(Debug, Clone, Default)]
pub(crate) struct BarState {
    /// Threads arrived.
    pub arrived: u32,
    /// Expected thread count when the barrier names one.
    pub count: Option<u32>,
    /// Warps waiting (warp index, the barrier's PC).
    pub waiting: Vec<(u32, u32)>,
    /// bar.red accumulators.
    pub popc: u32,
    pub all: bool,
    pub any: bool,
}

/// The execution context of one CTA on one worker thread.
pub(crate) struct Ctx<'a> {
    pub kernel: &'a Kernel,
    pub prog: &'a Program,
    pub global: GlobalMem<'a>,
    pub params: &'a [u8],
    pub shared: Vec<u8>,
    pub local_bytes: usize,
    pub race: Option<Race>,
    /// The sdc fault still to apply in this CTA (None: nothing pending).
    pub sdc: Option<Option<u32>>,
    pub stats: LaunchStats,
    pub hw_fma: bool,
    pub clock: u64,
    pub block: [u32; 3],
    pub ntid: [u32; 3],
    pub nctaid: [u32; 3],
    pub dyn_smem: u32,
    pub bars: Vec<BarState>,
}

/// A fault with the PC of the instruction that raised it.
pub(crate) type Res<T> = Result<T, (u32, Fault)>;

/// Why a group's run ended.
enum Ev {
    /// Pick a group again.
    Resched,
    /// The warp now waits at a CTA barrier.
    Wait,
    /// The warp's time slice is used up (it stays ready).
    Yield,
}

fn launch_failed(msg: impl Into<String>) -> Fault {
    Fault::new(LaunchErrorKind::LaunchFailed, msg)
}

/// Lane list for logs: "lanes 0-15".
pub(crate) fn lane_list(m: u32) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < 32 {
        if m >> i & 1 == 1 {
            let s = i;
            while i + 1 < 32 && m >> (i + 1) & 1 == 1 {
                i += 1;
            }
            parts.push(if s == i {
                format!("{s}")
            } else {
                format!("{s}-{i}")
            });
        }
        i += 1;
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
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
            Op::Sh64 { f, d, a, b } => {
                let x = get_row(&w.r64, *a);
                let y = get_row(&w.r32, *b);
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
                put_row(&mut w.r64, *d, &o, exec);
            }
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
            Op::MulWide { signed, d, a, b } => {
                let x = get_row(&w.r32, *a);
                let y = get_row(&w.r32, *b);
                let mut o = [0u64; 32];
                if *signed {
                    for i in 0..32 {
                        o[i] = ((x[i] as i32 as i64) * (y[i] as i32 as i64)) as u64;
                    }
                } else {
                    for i in 0..32 {
                        o[i] = x[i] as u64 * y[i] as u64;
                    }
                }
                put_row(&mut w.r64, *d, &o, exec);
            }
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
            Op::CvtGen(s) => {
                for l in lanes(exec) {
                    let a = w.rd(s.a, l);
                    let b = s.b.map_or(0, |b| w.rd(b, l));
                    let v = alu::cvt(s, a, b);
                    w.wr(s.d, l, v);
                }
            }
            Op::Testp { test, ty, d, a } => {
                let mut m = 0u32;
                for l in lanes(exec) {
                    if alu::testp(*test, *ty, w.rd(*a, l)) {
                        m |= 1 << l;
                    }
                }
                w.set_pred(*d, exec, m);
            }
            Op::Pack {
                d,
                parts,
                part_bits,
            } => {
                let pb = *part_bits as u32;
                let pm = alu::trunc(u64::MAX, pb);
                for l in lanes(exec) {
                    let mut v = 0u64;
                    for (k, p) in parts.iter().enumerate() {
                        v |= (w.rd(*p, l) & pm) << (pb * k as u32);
                    }
                    w.wr(*d, l, v);
                }
            }
            Op::Unpack {
                a,
                parts,
                part_bits,
            } => {
                let pb = *part_bits as u32;
                let pm = alu::trunc(u64::MAX, pb);
                for l in lanes(exec) {
                    let v = w.rd(*a, l);
                    for (k, p) in parts.iter().enumerate() {
                        if let Some(p) = p {
                            w.wr(*p, l, (v >> (pb * k as u32)) & pm);
                        }
                    }
                }
            }
            Op::ReadDyn { d, which } => {
                let v = match which {
                    Dyn::Clock => ctx.clock & 0xffff_ffff,
                    Dyn::Clock64 => ctx.clock,
                    Dyn::GlobalTimer => ctx.clock.wrapping_mul(1000),
                };
                for l in lanes(exec) {
                    w.wr(*d, l, v);
                }
            }
            Op::Cvta {
                to_generic,
                space,
                d,
                a,
            } => {
                for l in lanes(exec) {
                    let v = w.rd(*a, l);
                    let out = if *to_generic {
                        crate::ir::to_generic(*space, v)
                    } else {
                        crate::ir::from_generic(*space, v)
                    };
                    w.wr(*d, l, out);
                }
            }
            Op::IsSpace { space, d, a } => {
                let mut m = 0u32;
                for l in lanes(exec) {
                    let (s, _) = classify(w.rd(*a, l));
                    let yes = match space {
                        MemSpace::Global | MemSpace::Const => s == MemSpace::Global,
                        other => s == *other,
                    };
                    if yes {
                        m |= 1 << l;
                    }
                }
                w.set_pred(*d, exec, m);
            }
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
                if let Some(e) = barrier(ctx, w, gi, b, exec, mask, pc).map_err(|f| (pc, f))? {
                    w.save(gi, pc, mask);
                    break 'run e;
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

/// A `.sync.aligned` matrix instruction must be executed by all 32 lanes of the warp (PTX: its
/// behaviour is undefined if any thread of the warp has exited).
fn check_aligned(w: &Warp, exec: u32, mask: u32, what: &str) -> Result<(), Fault> {
    if w.live != FULL {
        return Err(launch_failed(format!(
            "{what} in a warp whose lanes {} have exited or do not exist",
            lane_list(!w.live)
        )));
    }
    if exec != w.live || mask != w.live || w.groups.len() != 1 {
        return Err(launch_failed(format!(
            "{what} reached by only part of the warp: lanes {} execute it, live lanes {}",
            lane_list(exec),
            lane_list(w.live)
        )));
    }
    Ok(())
}

/// Every non-exited lane a membermask names must execute the instruction, and every executing
/// lane must be named (PTX: the instruction waits for "all non-exited threads corresponding to
/// membermask"; lanes that exited, or never existed in a partial warp, may be named).
pub(crate) fn check_members(w: &Warp, m: u32, exec: u32, what: &str) -> Result<(), Fault> {
    let m_live = m & w.live;
    if m_live & !exec != 0 {
        return Err(launch_failed(format!(
            "{what}: membermask {m:#010x} names lanes {} that do not execute it (executing: {}, live: {})",
            lane_list(m_live & !exec),
            lane_list(exec),
            lane_list(w.live)
        )));
    }
    if exec & !m != 0 {
        return Err(launch_failed(format!(
            "{what}: lanes {} execute it but are not in membermask {m:#010x}",
            lane_list(exec & !m)
        )));
    }
    Ok(())
}

/// A CTA barrier instruction; returns `Some(Ev::Wait)` when the warp must wait.
fn barrier(
    ctx: &mut Ctx,
    w: &mut Warp,
    gi: usize,
    b: &BarSpec,
    exec: u32,
    mask: u32,
    pc: u32,
) -> Result<Option<Ev>, Fault> {
    let lane0 = exec.trailing_zeros() as usize;
    let id = w.r32[b.id as usize * 32 + lane0];
    if id >= 16 {
        return Err(Fault::new(
            LaunchErrorKind::IllegalInstruction,
            format!("barrier id {id} is out of range (0-15)"),
        ));
    }
    let count = b.count.map(|c| w.r32[c as usize * 32 + lane0]);
    if let Some(c) = count {
        if c % 32 != 0 || c == 0 {
            return Err(Fault::new(
                LaunchErrorKind::IllegalInstruction,
                format!("barrier thread count {c} is not a positive multiple of 32"),
            ));
        }
    }
    let aligned = matches!(b.kind, BarKind::Sync { aligned: true } | BarKind::Red(_));
    if aligned {
        if exec != w.live || mask != w.live || w.groups.len() != 1 {
            return Err(launch_failed(format!(
                "bar.sync (barrier {id}) reached by only part of the warp: lanes {} arrive, live lanes {}",
                lane_list(exec),
                lane_list(w.live)
            )));
        }
    } else {
        if exec != mask {
            return Err(launch_failed(format!(
                "barrier {id}: predicated off for lanes {} of the arriving group",
                lane_list(mask & !exec)
            )));
        }
        for (i, g) in w.groups.iter().enumerate() {
            if i == gi {
                continue;
            }
            let other = ctx.prog.insts.get(g.pc as usize).map(|x| &x.op);
            let same = matches!(other, Some(Op::Bar(ob)) if w.r32[ob.id as usize * 32 + g.mask.trailing_zeros() as usize] == id);
            if !same {
                return Err(launch_failed(format!(
                    "barrier {id}: lanes {} of the warp are not at a barrier {id}",
                    lane_list(g.mask)
                )));
            }
        }
    }
    let threads = w.live.count_ones();
    let Some(st) = ctx.bars.get_mut(id as usize) else {
        return Err(launch_failed("barrier state"));
    };
    if let Some(c) = count {
        if st.count.is_some_and(|x| x != c) && st.arrived > 0 {
            return Err(launch_failed(format!(
                "barrier {id}: thread counts {} and {c} in use at once",
                st.count.unwrap_or(0)
            )));
        }
        st.count = Some(c);
    }
    st.arrived += threads;
    if let (BarKind::Red(_), Some((_, p, neg))) = (b.kind, b.red) {
        let v = (w.preds[p as usize] ^ if neg { u32::MAX } else { 0 }) & exec;
        st.popc += v.count_ones();
        st.all &= v == exec;
        st.any |= v != 0;
    }
    if b.kind == BarKind::Arrive {
        return Ok(None);
    }
    st.waiting.push((w.idx, pc));
    for g in w.groups.iter_mut() {
        g.parked = true;
    }
    w.state = WarpState::Waiting { id, pc };
    Ok(Some(Ev::Wait))
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
