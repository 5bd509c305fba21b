//! Collectives, and the checks that every lane they need takes part: the CTA barrier
//! instructions (`bar`, `barrier`: a warp's arrival; `block` releases the barrier), and the warp
//! collectives that exchange registers, `shfl.sync`, `vote.sync`, `redux.sync`.

use super::lanes::*;
use super::mem::Fault;
use super::warp::{Ctx, Warp, WarpState};
use super::LaunchErrorKind;
use crate::ir::{
    AtomOp, BarKind, BarSpec, Op, ReduxSpec, ShflMode, ShflSpec, VoteMode, VoteSpec, NO_MEMBERMASK,
};

/// The value a lane reads from a source lane that does not execute the shuffle (undefined on
/// a GPU; here an all-ones pattern, a NaN as a float, so that using it shows).
pub(crate) const SHFL_UNDEFINED: u32 = 0xFFFF_FFFF;

fn membermask(w: &Warp, slot: u32, exec: u32) -> u32 {
    if slot == NO_MEMBERMASK {
        exec
    } else {
        w.r32[slot as usize * 32 + exec.trailing_zeros() as usize]
    }
}

/// `shfl.sync.mode.b32 d[|p], a, b, c, membermask` as the ISA's pseudo-code defines it: `b`
/// gives the source lane or offset, `c` packs the clamp value (bits 0-4) and the segment mask
/// (bits 8-12).
pub(crate) fn shfl(w: &mut Warp, s: &ShflSpec, exec: u32) -> Result<(), Fault> {
    let m = membermask(w, s.mask, exec);
    check_members(w, m, exec, "shfl.sync")?;
    let a = get_row(&w.r32, s.a);
    let b = get_row(&w.r32, s.b);
    let c = get_row(&w.r32, s.c);
    let mut d = [0u32; 32];
    let mut pm = 0u32;
    for l in lanes(exec) {
        let i = l as usize;
        let bval = (b[i] & 31) as i32;
        let cval = (c[i] & 31) as i32;
        let seg = ((c[i] >> 8) & 31) as i32;
        let lane = l as i32;
        let max_lane = (lane & seg) | (cval & !seg);
        let min_lane = lane & seg;
        let (j, pval) = match s.mode {
            ShflMode::Up => {
                let j = lane - bval;
                (j, j >= max_lane)
            }
            ShflMode::Down => {
                let j = lane + bval;
                (j, j <= max_lane)
            }
            ShflMode::Bfly => {
                let j = lane ^ bval;
                (j, j <= max_lane)
            }
            ShflMode::Idx => {
                let j = min_lane | (bval & !seg);
                (j, j <= max_lane)
            }
        };
        let j = if pval { j } else { lane };
        d[i] = if (0..32).contains(&j) && exec >> j & 1 == 1 {
            a[j as usize]
        } else {
            SHFL_UNDEFINED
        };
        pm |= u32::from(pval) << l;
    }
    put_row(&mut w.r32, s.d, &d, exec);
    if let Some(p) = s.p {
        w.set_pred(p, exec, pm);
    }
    Ok(())
}

/// `vote.sync.{all,any,uni}.pred` / `vote.sync.ballot.b32`.
pub(crate) fn vote(w: &mut Warp, s: &VoteSpec, exec: u32) -> Result<(), Fault> {
    let m = membermask(w, s.mask, exec);
    check_members(w, m, exec, "vote.sync")?;
    let pv = (w.preds[s.a as usize] ^ if s.a_neg { u32::MAX } else { 0 }) & exec;
    match s.mode {
        VoteMode::Ballot => w.fill32(s.d, exec, pv),
        mode => {
            let v = match mode {
                VoteMode::All => pv == exec,
                VoteMode::Any => pv != 0,
                _ => pv == 0 || pv == exec,
            };
            w.set_pred(s.d, exec, if v { exec } else { 0 });
        }
    }
    Ok(())
}

/// `redux.sync.op.type d, a, membermask`.
pub(crate) fn redux(w: &mut Warp, s: &ReduxSpec, exec: u32) -> Result<(), Fault> {
    let m = membermask(w, s.mask, exec);
    check_members(w, m, exec, "redux.sync")?;
    let a = get_row(&w.r32, s.a);
    let mut acc: Option<u32> = None;
    for l in lanes(exec) {
        let v = a[l as usize];
        acc = Some(match acc {
            None => v,
            Some(x) => match s.op {
                AtomOp::Add => x.wrapping_add(v),
                AtomOp::Min if s.signed => (x as i32).min(v as i32) as u32,
                AtomOp::Max if s.signed => (x as i32).max(v as i32) as u32,
                AtomOp::Min => x.min(v),
                AtomOp::Max => x.max(v),
                AtomOp::And => x & v,
                AtomOp::Or => x | v,
                _ => x ^ v,
            },
        });
    }
    w.fill32(s.d, exec, acc.unwrap_or(0));
    Ok(())
}

/// A `.sync.aligned` matrix instruction must be executed by all 32 lanes of the warp (PTX: its
/// behaviour is undefined if any thread of the warp has exited).
pub(crate) fn check_aligned(w: &Warp, exec: u32, mask: u32, what: &str) -> Result<(), Fault> {
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

/// A CTA barrier instruction; returns whether the warp must wait (at the barrier: `block`
/// releases it).
pub(crate) fn barrier(
    ctx: &mut Ctx,
    w: &mut Warp,
    gi: usize,
    b: &BarSpec,
    exec: u32,
    mask: u32,
    pc: u32,
) -> Result<bool, Fault> {
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
        return Ok(false);
    }
    st.waiting.push((w.idx, pc));
    for g in w.groups.iter_mut() {
        g.parked = true;
    }
    w.state = WarpState::Waiting { id, pc };
    Ok(true)
}

fn launch_failed(msg: impl Into<String>) -> Fault {
    Fault::new(LaunchErrorKind::LaunchFailed, msg)
}

/// Lane list for logs: "lanes 0-15".
fn lane_list(m: u32) -> String {
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
