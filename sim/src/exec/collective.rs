//! Warp collectives that exchange registers: `shfl.sync`, `vote.sync`, `redux.sync`.

use super::lanes::*;
use super::mem::Fault;
use super::warp::{check_members, Warp};
use crate::ir::{AtomOp, ReduxSpec, ShflMode, ShflSpec, VoteMode, VoteSpec, NO_MEMBERMASK};

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
