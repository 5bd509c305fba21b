//! CU_FUNC_ATTRIBUTE_NUM_REGS without a register allocator: the largest number of 32-bit
//! register words live at once (live ranges from first to last reference, extended over loops
//! a value is live into), plus a small overhead, capped the way ptxas caps it (255, `.maxnreg`,
//! and the budget `.maxntid` × `.minnctapersm` leaves in a 64 K-register file).

use super::ast::FuncAst;
use super::ir::{Op, Opnd, Program};

/// Registers per thread a driver would report for this kernel (an estimate).
pub(crate) fn estimate(prog: &Program, f: &FuncAst) -> u32 {
    let n = prog.insts.len();
    let mut is_const32 = vec![false; prog.n32 as usize];
    let mut is_const64 = vec![false; prog.n64 as usize];
    for (s, _) in &prog.const32 {
        is_const32[*s as usize] = true;
    }
    for (s, _) in &prog.const64 {
        is_const64[*s as usize] = true;
    }
    for (o, _) in &prog.specials {
        if o.is64() {
            is_const64[o.slot() as usize] = true;
        } else {
            is_const32[o.slot() as usize] = true;
        }
    }
    // [first, last] reference of each slot; index 0..n32 then n32..n32+n64.
    let total = (prog.n32 + prog.n64) as usize;
    let mut first = vec![usize::MAX; total];
    let mut last = vec![0usize; total];
    for (i, ins) in prog.insts.iter().enumerate() {
        ins.op.visit_regs(&mut |o: Opnd| {
            let k = if o.is64() {
                if is_const64[o.slot() as usize] {
                    return;
                }
                prog.n32 as usize + o.slot() as usize
            } else {
                if is_const32[o.slot() as usize] {
                    return;
                }
                o.slot() as usize
            };
            first[k] = first[k].min(i);
            last[k] = last[k].max(i);
        });
    }
    // Loops: a value referenced before a loop and inside it is live through the loop.
    let loops: Vec<(usize, usize)> = prog
        .insts
        .iter()
        .enumerate()
        .filter_map(|(i, ins)| match ins.op {
            Op::Bra { target } if (target as usize) <= i => Some((target as usize, i)),
            _ => None,
        })
        .collect();
    for k in 0..total {
        if first[k] == usize::MAX {
            continue;
        }
        for &(t, e) in &loops {
            if first[k] < t && last[k] >= t && last[k] < e {
                last[k] = e;
            }
        }
    }
    let mut delta = vec![0i64; n + 1];
    for k in 0..total {
        if first[k] == usize::MAX {
            continue;
        }
        let w = if k >= prog.n32 as usize { 2 } else { 1 };
        delta[first[k]] += w;
        delta[last[k] + 1] -= w;
    }
    let mut live = 0i64;
    let mut peak = 0i64;
    for d in delta {
        live += d;
        peak = peak.max(live);
    }
    let mut regs = (peak as u32).saturating_add(6).clamp(16, 255);
    if let Some(m) = f.maxnreg {
        regs = regs.min(m.max(16));
    }
    if let (Some((x, y, z)), Some(min)) = (f.maxntid, f.minnctapersm) {
        let threads = (x * y * z).max(1);
        let warps = threads.div_ceil(32);
        let cap = 65536 / (warps * 32 * min.max(1)) / 8 * 8;
        regs = regs.min(cap.max(16));
    } else if let Some((x, y, z)) = f.maxntid {
        let threads = (x * y * z).max(1);
        let cap = 65536 / (threads.div_ceil(32) * 32) / 8 * 8;
        regs = regs.min(cap.max(16));
    }
    regs.min(255)
}
