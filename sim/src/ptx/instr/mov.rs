//! `mov`: between registers, from immediates, special registers and variable addresses, and
//! packing and unpacking vectors (`mov.b64 d, {a, b}`).

use super::form::{mismatch, nops, Mods};
use super::operands::{by_width, dst, pdst, psrc, src};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

pub(super) fn compile_mov(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 2)?;
    let (d_op, a_op) = (&ins.operands[0], &ins.operands[1]);
    if ty == Ty::Pred {
        let d = pdst(fx, d_op, ins)?;
        let (a, neg) = psrc(fx, a_op, ins)?;
        fx.emit(pred_copy(d, a, neg), line, g);
        return Ok(());
    }
    // `{a, b}`: the part width and type of a vector of `n` parts packing a `ty`.
    let parts_of = |n: usize| -> CResult<(u32, Ty)> {
        let n = n as u32;
        if !(n == 2 || n == 4) || ty.bits() % n != 0 || ty.bits() / n < 8 {
            return mismatch(line, &ins.opcode, "bad vector operand");
        }
        let pb = ty.bits() / n;
        let pty = match pb {
            8 => Ty::B8,
            16 => Ty::B16,
            _ => Ty::B32,
        };
        Ok((pb, pty))
    };
    if let Operand::Vector(parts) = a_op {
        let (pb, pty) = parts_of(parts.len())?;
        let d = dst(fx, d_op, ty, false, ins)?;
        let mut ps = Vec::new();
        for p in parts {
            ps.push(src(fx, p, pty, pb == 8, ins)?);
        }
        fx.emit(
            Op::Pack {
                d,
                parts: ps.into_boxed_slice(),
                part_bits: pb as u8,
            },
            line,
            g,
        );
        return Ok(());
    }
    if let Operand::Vector(parts) = d_op {
        let (pb, pty) = parts_of(parts.len())?;
        let a = src(fx, a_op, ty, false, ins)?;
        let mut ps = Vec::new();
        for p in parts {
            ps.push(match p {
                Operand::Sink => None,
                _ => Some(dst(fx, p, pty, pb == 8, ins)?),
            });
        }
        fx.emit(
            Op::Unpack {
                a,
                parts: ps.into_boxed_slice(),
                part_bits: pb as u8,
            },
            line,
            g,
        );
        return Ok(());
    }
    if let Operand::Name(n, 0) = a_op {
        if let Resolved::Dyn(which) = fx.resolve(n, line)? {
            let d = dst(fx, d_op, ty, false, ins)?;
            fx.emit(ReadDynOp(d, which), line, g);
            return Ok(());
        }
    }
    let d = dst(fx, d_op, ty, false, ins)?;
    let a = src(fx, a_op, ty, false, ins)?;
    fx.emit(mov_op(d, a, ty.wide()), line, g);
    Ok(())
}

#[allow(non_snake_case)]
fn ReadDynOp(d: Opnd, which: Dyn) -> Op {
    Op::ReadDyn { d, which }
}

/// `mov` within one bank.
pub(super) fn mov_op(d: Opnd, a: Opnd, wide: bool) -> Op {
    by_width!(
        wide,
        Mov32,
        Mov64 {
            d: d.slot(),
            a: a.slot()
        }
    )
}

/// `d = a` (`invert`: `d = !a`) on predicates.
pub(super) fn pred_copy(d: Slot, a: Slot, invert: bool) -> Op {
    if invert {
        Op::Pred {
            f: PredOp::Not,
            d,
            a,
            b: a,
        }
    } else {
        Op::MovPred { d, a }
    }
}
