//! CTA barriers and warp collectives: bar and barrier (sync, arrive, red), bar.warp.sync,
//! shfl, vote, activemask, redux.

use super::form::{mismatch, nops, unsupported, Mods};
use super::memory::ATOM_OPS;
use super::operands::{dst, pdst, psrc, src, srcs};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

pub(super) fn compile_bar(
    fx: &mut Fx,
    ins: &InstrAst,
    base: &str,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    if base == "bar" && m.has("warp") {
        if !m.has("sync") {
            return mismatch(line, &ins.opcode, "bar.warp needs .sync");
        }
        m.finish()?;
        nops(ins, 1)?;
        let mask = src(fx, &ins.operands[0], Ty::B32, false, ins)?;
        fx.emit(Op::WarpSync { mask: mask.slot() }, line, g);
        return Ok(());
    }
    m.has("cta");
    let aligned = base == "bar" || m.has("aligned");
    let kind = if m.has("sync") {
        BarKind::Sync { aligned }
    } else if m.has("arrive") {
        BarKind::Arrive
    } else if m.has("red") {
        let r = m.pick_or(
            &[
                ("popc", BarRed::Popc),
                ("and", BarRed::And),
                ("or", BarRed::Or),
            ],
            "bar.red needs .popc, .and or .or",
        )?;
        BarKind::Red(r)
    } else {
        return unsupported(line, &ins.opcode, "this barrier form is not implemented");
    };
    if let BarKind::Red(r) = kind {
        let want = if r == BarRed::Popc { Ty::U32 } else { Ty::Pred };
        if m.ty()? != want {
            return mismatch(line, &ins.opcode, "bar.red type");
        }
    }
    m.finish()?;
    let ops = &ins.operands;
    let (dst_red, rest) = match kind {
        BarKind::Red(r) => {
            if ops.len() < 3 || ops.len() > 4 {
                return nops(ins, 3);
            }
            let d = if r == BarRed::Popc {
                dst(fx, &ops[0], Ty::U32, false, ins)?.slot()
            } else {
                pdst(fx, &ops[0], ins)?
            };
            let (c, neg) = psrc(fx, &ops[ops.len() - 1], ins)?;
            (Some((d, c, neg)), &ops[1..ops.len() - 1])
        }
        _ => (None, &ops[..]),
    };
    if rest.is_empty() || rest.len() > 2 {
        return mismatch(
            line,
            &ins.opcode,
            "barrier needs an id and an optional count",
        );
    }
    if kind == BarKind::Arrive && rest.len() != 2 {
        return mismatch(line, &ins.opcode, "bar.arrive needs a thread count");
    }
    let id = src(fx, &rest[0], Ty::U32, false, ins)?.slot();
    let count = match rest.get(1) {
        Some(c) => Some(src(fx, c, Ty::U32, false, ins)?.slot()),
        None => None,
    };
    fx.emit(
        Op::Bar(Box::new(BarSpec {
            kind,
            id,
            count,
            red: dst_red,
        })),
        line,
        g,
    );
    Ok(())
}

pub(super) fn compile_shfl(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let sync = m.has("sync");
    let mode = m.pick_or(
        &[
            ("up", ShflMode::Up),
            ("down", ShflMode::Down),
            ("bfly", ShflMode::Bfly),
            ("idx", ShflMode::Idx),
        ],
        "shfl needs a mode",
    )?;
    let ty = m.ty()?;
    m.finish()?;
    if ty != Ty::B32 {
        return mismatch(line, &ins.opcode, "shfl needs .b32");
    }
    nops(ins, if sync { 5 } else { 4 })?;
    let (d, p) = match &ins.operands[0] {
        Operand::Pair(d, p) => (
            dst(fx, d, Ty::B32, false, ins)?.slot(),
            Some(pdst(fx, p, ins)?),
        ),
        other => (dst(fx, other, Ty::B32, false, ins)?.slot(), None),
    };
    let [a, b, c] = srcs(fx, ins, 1, [Ty::B32; 3])?.map(Opnd::slot);
    let mask = membermask(fx, ins, sync, 4)?;
    fx.emit(
        Op::Shfl(Box::new(ShflSpec {
            mode,
            d,
            p,
            a,
            b,
            c,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

pub(super) fn compile_vote(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let sync = m.has("sync");
    let mode = m.pick_or(
        &[
            ("all", VoteMode::All),
            ("any", VoteMode::Any),
            ("uni", VoteMode::Uni),
            ("ballot", VoteMode::Ballot),
        ],
        "vote needs a mode",
    )?;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, if sync { 3 } else { 2 })?;
    let d = if mode == VoteMode::Ballot {
        if ty != Ty::B32 {
            return mismatch(line, &ins.opcode, "vote.ballot needs .b32");
        }
        dst(fx, &ins.operands[0], Ty::B32, false, ins)?.slot()
    } else {
        if ty != Ty::Pred {
            return mismatch(line, &ins.opcode, "vote needs .pred");
        }
        pdst(fx, &ins.operands[0], ins)?
    };
    let (a, a_neg) = psrc(fx, &ins.operands[1], ins)?;
    let mask = membermask(fx, ins, sync, 2)?;
    fx.emit(
        Op::Vote(Box::new(VoteSpec {
            mode,
            d,
            a,
            a_neg,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

pub(super) fn compile_redux(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    if !m.has("sync") {
        return mismatch(line, &ins.opcode, "redux needs .sync");
    }
    let op = m.pick_or(&ATOM_OPS[..6], "redux needs an operation")?;
    let ty = m.ty()?;
    m.finish()?;
    if !matches!(ty, Ty::U32 | Ty::S32 | Ty::B32) {
        return unsupported(
            line,
            &ins.opcode,
            "only 32-bit integer redux is implemented",
        );
    }
    nops(ins, 3)?;
    let d = dst(fx, &ins.operands[0], ty, false, ins)?.slot();
    let a = src(fx, &ins.operands[1], ty, false, ins)?.slot();
    let mask = membermask(fx, ins, true, 2)?;
    fx.emit(
        Op::Redux(Box::new(ReduxSpec {
            op,
            signed: ty == Ty::S32,
            d,
            a,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

/// `activemask.b32 d`.
pub(super) fn compile_activemask(
    fx: &mut Fx,
    ins: &InstrAst,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    m.has("b32");
    m.finish()?;
    nops(ins, 1)?;
    let d = dst(fx, &ins.operands[0], Ty::B32, false, ins)?;
    fx.emit(Op::ActiveMask { d: d.slot() }, line, g);
    Ok(())
}

/// The membermask operand `k` of a `.sync` warp collective; [`NO_MEMBERMASK`] (the executing
/// lanes) for the pre-sm_70 form without one.
fn membermask(fx: &mut Fx, ins: &InstrAst, sync: bool, k: usize) -> CResult<Slot> {
    if sync {
        Ok(src(fx, &ins.operands[k], Ty::B32, false, ins)?.slot())
    } else {
        Ok(NO_MEMBERMASK)
    }
}
