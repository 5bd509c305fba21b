//! One CTA: its warps, shared memory and barriers. Warps run one at a time until they finish or
//! wait at a barrier; a barrier releases when every live thread (or the named count) arrived.
//! Warps waiting at different `bar.sync` instructions, or a barrier nobody can complete, fail
//! the launch.

use super::interp;
use super::mem::Fault;
use super::memops::thread_xyz;
use super::warp::{BarState, Ctx, Group, Warp, WarpState};
use super::{LaunchError, LaunchErrorKind};
use crate::ir::{BarKind, BarRed, Op, Special};

/// The log of a fault: kernel, PTX line, block, thread, address.
pub(crate) fn fault_log(ctx: &Ctx, warp_idx: Option<u32>, pc: Option<u32>, f: &Fault) -> String {
    let mut s = format!("kernel '{}': {}", ctx.kernel.name(), f.msg);
    if let Some(pc) = pc {
        if let Some(i) = ctx.prog.insts.get(pc as usize) {
            s.push_str(&format!("; PTX line {}", i.line));
        }
    }
    s.push_str(&format!(
        "; block ({},{},{})",
        ctx.block[0], ctx.block[1], ctx.block[2]
    ));
    if let (Some(wi), Some(l)) = (warp_idx, f.lane) {
        let (x, y, z) = thread_xyz(ctx.ntid, wi * 32 + l);
        s.push_str(&format!(", thread ({x},{y},{z})"));
    }
    if let Some(a) = f.addr {
        s.push_str(&format!(", address {a:#x}"));
    }
    s
}

fn block_error(ctx: &Ctx, kind: LaunchErrorKind, msg: String) -> LaunchError {
    LaunchError {
        kind,
        log: format!(
            "kernel '{}': {}; block ({},{},{})",
            ctx.kernel.name(),
            msg,
            ctx.block[0],
            ctx.block[1],
            ctx.block[2]
        ),
    }
}

/// Prepares warp `idx` of a CTA of `threads` threads.
fn init_warp(ctx: &Ctx, w: &mut Warp, idx: u32, threads: u32) {
    let p = ctx.prog;
    w.idx = idx;
    w.r32.clear();
    w.r32.resize(p.n32 as usize * 32, 0);
    w.r64.clear();
    w.r64.resize(p.n64 as usize * 32, 0);
    w.preds.clear();
    w.preds.resize(p.npred as usize, 0);
    for (s, v) in &p.const32 {
        let b = *s as usize * 32;
        w.r32[b..b + 32].fill(*v);
    }
    for (s, v) in &p.const64 {
        let b = *s as usize * 32;
        w.r64[b..b + 32].fill(*v);
    }
    for (s, m) in &p.constpred {
        w.preds[*s as usize] = *m;
    }
    let first = idx * 32;
    let n = threads.saturating_sub(first).min(32);
    let exists = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
    let nwarps = threads.div_ceil(32);
    let xyz: [(u32, u32, u32); 32] =
        std::array::from_fn(|l| thread_xyz(ctx.ntid, first + l as u32));
    for (o, sp) in &p.specials {
        for l in 0..32u32 {
            let (x, y, z) = xyz[l as usize];
            let v: u64 = match sp {
                Special::Tid(c) => [x, y, z][*c as usize] as u64,
                Special::Ntid(c) => ctx.ntid[*c as usize] as u64,
                Special::Ctaid(c) => ctx.block[*c as usize] as u64,
                Special::Nctaid(c) => ctx.nctaid[*c as usize] as u64,
                Special::LaneId => l as u64,
                Special::WarpId => idx as u64,
                Special::NWarpId => nwarps.max(1) as u64,
                Special::SmId | Special::GridId | Special::Zero => 0,
                Special::NSmId => 1,
                Special::LaneMaskEq => 1u64 << l,
                Special::LaneMaskLe => ((1u64 << (l + 1)) - 1) & 0xffff_ffff,
                Special::LaneMaskLt => (1u64 << l) - 1,
                Special::LaneMaskGe => (u32::MAX << l) as u64,
                Special::LaneMaskGt => {
                    if l == 31 {
                        0
                    } else {
                        (u32::MAX << (l + 1)) as u64
                    }
                }
                Special::DynSmemSize => ctx.dyn_smem as u64,
                Special::TotalSmemSize => ctx.shared.len() as u64,
            };
            w.wr(*o, l, v);
        }
    }
    w.groups.clear();
    w.groups.push(Group {
        pc: 0,
        mask: exists,
        parked: false,
    });
    w.exists = exists;
    w.live = exists;
    w.local.clear();
    w.local.resize(ctx.local_bytes * 32, 0);
    w.cp.clear();
    w.committed = [0; 32];
    w.wep = 0;
    w.state = WarpState::Ready;
}

/// Runs one CTA to completion.
pub(crate) fn run_block(
    ctx: &mut Ctx,
    warps: &mut Vec<Warp>,
    threads: u32,
) -> Result<(), LaunchError> {
    let nw = threads.div_ceil(32) as usize;
    while warps.len() < nw {
        warps.push(Warp::new());
    }
    ctx.shared.fill(0);
    if let Some(r) = ctx.race.as_mut() {
        r.begin_block(ctx.shared.len());
    }
    ctx.bars.clear();
    ctx.bars.resize(
        16,
        BarState {
            all: true,
            ..BarState::default()
        },
    );
    for (i, w) in warps.iter_mut().enumerate().take(nw) {
        init_warp(ctx, w, i as u32, threads);
    }
    loop {
        for w in warps.iter_mut().take(nw) {
            if w.state == WarpState::Ready {
                let idx = w.idx;
                interp::run(ctx, w).map_err(|(pc, f)| LaunchError {
                    kind: f.kind,
                    log: fault_log(ctx, Some(idx), Some(pc), &f),
                })?;
            }
        }
        if warps.iter().take(nw).all(|w| w.state == WarpState::Done) {
            return Ok(());
        }
        if warps.iter().take(nw).any(|w| w.state == WarpState::Ready) {
            continue;
        }
        release_barriers(ctx, &mut warps[..nw])?;
    }
}

/// Releases every barrier whose thread count is complete; fails on mismatched or deadlocked
/// barriers.
fn release_barriers(ctx: &mut Ctx, warps: &mut [Warp]) -> Result<(), LaunchError> {
    let live: u32 = warps
        .iter()
        .filter(|w| w.state != WarpState::Done)
        .map(|w| w.live.count_ones())
        .sum();
    let mut released = false;
    for id in 0..ctx.bars.len() {
        let st = ctx.bars[id].clone();
        if st.waiting.is_empty() {
            continue;
        }
        let expected = st.count.unwrap_or(live);
        if st.arrived < expected {
            continue;
        }
        if st.count.is_none() {
            let first = st.waiting[0].1;
            if let Some(&(wj, pj)) = st.waiting.iter().find(|(_, p)| *p != first) {
                let line = |pc: u32| ctx.prog.insts.get(pc as usize).map_or(0, |i| i.line);
                let wi = st.waiting[0].0;
                return Err(block_error(
                    ctx,
                    LaunchErrorKind::LaunchFailed,
                    format!(
                        "warps wait at different bar.sync instructions: warp {wi} at PTX line {}, warp {wj} at PTX line {}",
                        line(first),
                        line(pj)
                    ),
                ));
            }
        }
        for &(wi, pc) in &st.waiting {
            let Some(w) = warps.get_mut(wi as usize) else {
                continue;
            };
            // bar.red: the reduction of every arrived thread, to each waiting lane.
            if let Some(Op::Bar(b)) = ctx.prog.insts.get(pc as usize).map(|i| &i.op) {
                if let (BarKind::Red(kind), Some((d, _, _))) = (b.kind, b.red) {
                    let live = w.live;
                    match kind {
                        BarRed::Popc => w.fill32(d, live, st.popc),
                        BarRed::And => w.set_pred(d, live, if st.all { live } else { 0 }),
                        BarRed::Or => w.set_pred(d, live, if st.any { live } else { 0 }),
                    }
                }
            }
            for g in w.groups.iter_mut() {
                if matches!(
                    ctx.prog.insts.get(g.pc as usize).map(|i| &i.op),
                    Some(Op::Bar(_))
                ) {
                    g.pc += 1;
                }
                g.parked = false;
            }
            w.wep = w.wep.wrapping_add(1);
            w.state = WarpState::Ready;
        }
        let s = &mut ctx.bars[id];
        s.arrived = s.arrived.saturating_sub(expected);
        s.waiting.clear();
        s.count = None;
        s.popc = 0;
        s.all = true;
        s.any = false;
        if let Some(r) = ctx.race.as_mut() {
            r.barrier();
        }
        released = true;
    }
    if !released {
        let mut waits = Vec::new();
        for w in warps.iter() {
            if let WarpState::Waiting { id, pc } = w.state {
                let line = ctx.prog.insts.get(pc as usize).map_or(0, |i| i.line);
                waits.push(format!("warp {} at barrier {id} (PTX line {line})", w.idx));
            }
        }
        let detail: Vec<String> = ctx
            .bars
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.waiting.is_empty())
            .map(|(i, b)| {
                format!(
                    "barrier {i}: {} of {} threads arrived",
                    b.arrived,
                    b.count.unwrap_or(live)
                )
            })
            .collect();
        return Err(block_error(
            ctx,
            LaunchErrorKind::LaunchFailed,
            format!(
                "barrier deadlock: {}; {}",
                waits.join(", "),
                detail.join(", ")
            ),
        ));
    }
    Ok(())
}
