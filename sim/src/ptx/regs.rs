//! Register allocation of the compiled program: liveness over the control-flow graph, live
//! intervals, and a linear scan that packs PTX's virtual registers into as few register-file
//! slots as possible (a warp's register file stays small and cache-resident, and is cheap to
//! clear for every CTA). Constants and special registers keep slots of their own.
//!
//! Each lane follows the scalar program, and every instruction writes only its executing
//! lanes' columns, so sharing a slot between registers whose scalar live ranges do not overlap
//! is safe whatever the divergence. A predicated write does not end its destination's earlier
//! value (the other lanes keep it).
//!
//! The same liveness gives CU_FUNC_ATTRIBUTE_NUM_REGS: the most 32-bit register words live at
//! once, plus a small overhead, capped as ptxas caps it (255, `.maxnreg`, and the budget
//! `.maxntid` × `.minnctapersm` leaves in a 64 K-register file).

use super::ast::FuncAst;
use crate::ir::{Op, Opnd, Program, Role, NO_GUARD};

struct BitSet {
    w: Vec<u64>,
}

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet {
            w: vec![0; n.div_ceil(64)],
        }
    }
    fn set(&mut self, i: usize) {
        self.w[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.w[i / 64] &= !(1 << (i % 64));
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.w.iter().enumerate().flat_map(|(k, &x)| {
            let mut m = x;
            std::iter::from_fn(move || {
                if m == 0 {
                    None
                } else {
                    let b = m.trailing_zeros() as usize;
                    m &= m - 1;
                    Some(k * 64 + b)
                }
            })
        })
    }
}

/// Packs registers into slots; returns the peak number of 32-bit words live at once.
pub(crate) fn allocate(prog: &mut Program) -> u32 {
    let n32 = prog.n32 as usize;
    let n64 = prog.n64 as usize;
    let n = n32 + n64;
    let pinned = pinned(prog, n32, n);
    let (uses, defs) = uses_and_defs(prog, n32, &pinned);
    let cfg = Cfg::new(prog);
    let live_out = liveness(&cfg, &uses, &defs, n);
    let (start, end, peak) = intervals(&cfg, &uses, &defs, &live_out, n32, n);
    let (map, next) = linear_scan(&pinned, &start, &end, n32);
    rewrite(prog, &map, next, n32);
    peak
}

/// A register's index among all of them: the 32-bit bank's first, then the 64-bit bank's.
fn reg_id(n32: usize, o: Opnd) -> usize {
    if o.is64() {
        n32 + o.slot() as usize
    } else {
        o.slot() as usize
    }
}

/// The registers that keep slots of their own: constants and special registers.
fn pinned(prog: &Program, n32: usize, n: usize) -> Vec<bool> {
    let mut pinned = vec![false; n];
    for (s, _) in &prog.const32 {
        pinned[*s as usize] = true;
    }
    for (s, _) in &prog.const64 {
        pinned[n32 + *s as usize] = true;
    }
    for (o, _) in &prog.specials {
        pinned[reg_id(n32, *o)] = true;
    }
    pinned
}

/// The registers each instruction reads and writes (pinned ones left out). A guarded write is
/// also a read: the lanes it does not write keep the old value.
fn uses_and_defs(
    prog: &mut Program,
    n32: usize,
    pinned: &[bool],
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let len = prog.insts.len();
    let mut uses: Vec<Vec<usize>> = Vec::with_capacity(len);
    let mut defs: Vec<Vec<usize>> = Vec::with_capacity(len);
    for ins in prog.insts.iter_mut() {
        let guarded = ins.guard != NO_GUARD;
        let mut u = Vec::new();
        let mut d = Vec::new();
        ins.op.for_each_reg(&mut |o: &mut Opnd, r: Role| {
            let k = reg_id(n32, *o);
            if pinned[k] {
                return;
            }
            match r {
                Role::Use => u.push(k),
                Role::Def => {
                    if guarded {
                        u.push(k);
                    }
                    d.push(k);
                }
                Role::UseDef => {
                    u.push(k);
                    d.push(k);
                }
            }
        });
        uses.push(u);
        defs.push(d);
    }
    (uses, defs)
}

/// The control-flow graph: basic blocks (`starts`) and their successors.
struct Cfg {
    len: usize,
    starts: Vec<usize>,
    succ: Vec<Vec<usize>>,
}

impl Cfg {
    fn new(prog: &Program) -> Cfg {
        let len = prog.insts.len();
        let mut leader = vec![false; len + 1];
        leader[0] = true;
        for (i, ins) in prog.insts.iter().enumerate() {
            match ins.op {
                Op::Bra { target } => {
                    leader[(target as usize).min(len)] = true;
                    leader[i + 1] = true;
                }
                Op::Exit | Op::Trap => leader[i + 1] = true,
                _ => {}
            }
        }
        let starts: Vec<usize> = (0..len).filter(|&i| leader[i]).collect();
        let nb = starts.len();
        let mut block_of = vec![0usize; len];
        for (b, &s) in starts.iter().enumerate() {
            let e = starts.get(b + 1).copied().unwrap_or(len);
            block_of[s..e].iter_mut().for_each(|x| *x = b);
        }
        let end_of = |b: usize| starts.get(b + 1).copied().unwrap_or(len);
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); nb];
        for (b, out) in succ.iter_mut().enumerate() {
            let last = end_of(b) - 1;
            let ins = &prog.insts[last];
            let guarded = ins.guard != NO_GUARD;
            let fall = last + 1 < len;
            match ins.op {
                Op::Bra { target } => {
                    if (target as usize) < len {
                        out.push(block_of[target as usize]);
                    }
                    if guarded && fall {
                        out.push(block_of[last + 1]);
                    }
                }
                Op::Exit | Op::Trap => {
                    if guarded && fall {
                        out.push(block_of[last + 1]);
                    }
                }
                _ => {
                    if fall {
                        out.push(block_of[last + 1]);
                    }
                }
            }
        }
        Cfg { len, starts, succ }
    }

    fn blocks(&self) -> usize {
        self.starts.len()
    }

    /// One past block `b`'s last instruction.
    fn end_of(&self, b: usize) -> usize {
        self.starts.get(b + 1).copied().unwrap_or(self.len)
    }
}

/// gen/kill per block, then live-in/out to a fixed point; the registers live out of each block.
fn liveness(cfg: &Cfg, uses: &[Vec<usize>], defs: &[Vec<usize>], n: usize) -> Vec<BitSet> {
    let (nb, starts, succ) = (cfg.blocks(), &cfg.starts, &cfg.succ);
    let mut gen: Vec<BitSet> = (0..nb).map(|_| BitSet::new(n)).collect();
    let mut kill: Vec<BitSet> = (0..nb).map(|_| BitSet::new(n)).collect();
    for b in 0..nb {
        for i in (starts[b]..cfg.end_of(b)).rev() {
            for &k in &defs[i] {
                kill[b].set(k);
                gen[b].clear(k);
            }
            for &k in &uses[i] {
                gen[b].set(k);
            }
        }
    }
    let mut live_in: Vec<BitSet> = (0..nb).map(|_| BitSet::new(n)).collect();
    let mut live_out: Vec<BitSet> = (0..nb).map(|_| BitSet::new(n)).collect();
    let words = n.div_ceil(64);
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..nb).rev() {
            for wi in 0..words {
                let mut out = 0u64;
                for &s in &succ[b] {
                    out |= live_in[s].w[wi];
                }
                live_out[b].w[wi] = out;
                let inn = gen[b].w[wi] | (out & !kill[b].w[wi]);
                if inn != live_in[b].w[wi] {
                    live_in[b].w[wi] = inn;
                    changed = true;
                }
            }
        }
    }
    live_out
}

/// Live intervals (hulls of every position a register is live at or defined at): each
/// register's first and last position, and the most 32-bit words live at once.
fn intervals(
    cfg: &Cfg,
    uses: &[Vec<usize>],
    defs: &[Vec<usize>],
    live_out: &[BitSet],
    n32: usize,
    n: usize,
) -> (Vec<usize>, Vec<usize>, u32) {
    let mut start = vec![usize::MAX; n];
    let mut end = vec![0usize; n];
    let mut peak = 0u32;
    let weight = |k: usize| if k >= n32 { 2u32 } else { 1 };
    for (b, out) in live_out.iter().enumerate() {
        let mut live = BitSet::new(n);
        live.w.copy_from_slice(&out.w);
        for i in (cfg.starts[b]..cfg.end_of(b)).rev() {
            let mut words_live = 0u32;
            for k in live.iter() {
                start[k] = start[k].min(i);
                end[k] = end[k].max(i);
                words_live += weight(k);
            }
            for &k in &defs[i] {
                start[k] = start[k].min(i);
                end[k] = end[k].max(i);
                live.clear(k);
            }
            for &k in &uses[i] {
                start[k] = start[k].min(i);
                end[k] = end[k].max(i);
                live.set(k);
            }
            peak = peak.max(words_live);
        }
    }
    (start, end, peak)
}

/// Pinned slots first, in their order; then a linear scan per bank. The slot of every register
/// (`u32::MAX`: never used) and the slots used per bank.
fn linear_scan(
    pinned: &[bool],
    start: &[usize],
    end: &[usize],
    n32: usize,
) -> (Vec<u32>, [u32; 2]) {
    let n = pinned.len();
    let mut map = vec![u32::MAX; n];
    let mut next = [0u32; 2];
    for k in 0..n {
        if pinned[k] {
            let bank = usize::from(k >= n32);
            map[k] = next[bank];
            next[bank] += 1;
        }
    }
    let mut order: Vec<usize> = (0..n)
        .filter(|&k| !pinned[k] && start[k] != usize::MAX)
        .collect();
    order.sort_by_key(|&k| (start[k], k));
    let mut free: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    // active: (end, slot, bank)
    let mut active: Vec<(usize, u32, usize)> = Vec::new();
    for k in order {
        let s = start[k];
        active.retain(|&(e, slot, bank)| {
            if e < s {
                free[bank].push(slot);
                false
            } else {
                true
            }
        });
        let bank = usize::from(k >= n32);
        let slot = match free[bank].pop() {
            Some(x) => x,
            None => {
                let x = next[bank];
                next[bank] += 1;
                x
            }
        };
        map[k] = slot;
        active.push((end[k], slot, bank));
    }
    (map, next)
}

/// Rewrites every operand, constant and special-register slot to its new slot.
fn rewrite(prog: &mut Program, map: &[u32], next: [u32; 2], n32: usize) {
    let remap = |o: Opnd| -> Opnd {
        let m = map[reg_id(n32, o)];
        if o.is64() {
            Opnd::r64(m)
        } else {
            Opnd::r32(m)
        }
    };
    for ins in prog.insts.iter_mut() {
        ins.op.for_each_reg(&mut |o: &mut Opnd, _r: Role| {
            if map[reg_id(n32, *o)] != u32::MAX {
                *o = remap(*o);
            }
        });
    }
    for (s, _) in prog.const32.iter_mut() {
        *s = map[*s as usize];
    }
    for (s, _) in prog.const64.iter_mut() {
        *s = map[n32 + *s as usize];
    }
    for (o, _) in prog.specials.iter_mut() {
        *o = remap(*o);
    }
    prog.n32 = next[0];
    prog.n64 = next[1];
}

/// Registers per thread a driver would report for this kernel (an estimate from `peak`).
pub(crate) fn estimate(peak: u32, f: &FuncAst) -> u32 {
    let mut regs = peak.saturating_add(6).clamp(16, 255);
    if let Some(m) = f.maxnreg {
        regs = regs.min(m.max(16));
    }
    if let Some((x, y, z)) = f.maxntid {
        let threads = (x * y * z).max(1);
        let warps = threads.div_ceil(32);
        let min = f.minnctapersm.unwrap_or(1).max(1);
        let cap = 65536 / (warps * 32 * min) / 8 * 8;
        regs = regs.min(cap.max(16));
    }
    regs.min(255)
}
