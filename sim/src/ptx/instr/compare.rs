//! Comparisons and selects: setp and set (every comparison, `.and/.or/.xor` with a third
//! predicate, `p|q`), selp, testp.

use super::form::{mismatch, need, nops, Mods};
use super::operands::{by_width, dst, pdst, psrc, src, srcs};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

/// The comparisons of setp/set: (modifier, operation, whether it forces an unsigned compare).
const COMPARISONS: [(&str, CmpOp, bool); 18] = [
    ("eq", CmpOp::Eq, false),
    ("ne", CmpOp::Ne, false),
    ("lt", CmpOp::Lt, false),
    ("le", CmpOp::Le, false),
    ("gt", CmpOp::Gt, false),
    ("ge", CmpOp::Ge, false),
    ("lo", CmpOp::Lt, true),
    ("ls", CmpOp::Le, true),
    ("hi", CmpOp::Gt, true),
    ("hs", CmpOp::Ge, true),
    ("equ", CmpOp::Equ, false),
    ("neu", CmpOp::Neu, false),
    ("ltu", CmpOp::Ltu, false),
    ("leu", CmpOp::Leu, false),
    ("gtu", CmpOp::Gtu, false),
    ("geu", CmpOp::Geu, false),
    ("num", CmpOp::Num, false),
    ("nan", CmpOp::Nan, false),
];

pub(super) fn compile_setp(
    fx: &mut Fx,
    ins: &InstrAst,
    is_set: bool,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    // The first comparison of the table that is present (a second one is left over).
    let Some((_, cmp, force_u)) = COMPARISONS.into_iter().find(|(s, _, _)| m.has(s)) else {
        return mismatch(line, &ins.opcode, "missing comparison");
    };
    let boolop = m.pick(&[
        ("and", BoolOp::And),
        ("or", BoolOp::Or),
        ("xor", BoolOp::Xor),
    ]);
    let ftz = m.has("ftz");
    let tys = m.types();
    m.finish()?;
    let (ty, set_dty) = if is_set {
        match tys.as_slice() {
            [d, s] => (*s, Some(*d)),
            _ => return mismatch(line, &ins.opcode, "set needs .dtype.stype"),
        }
    } else {
        match tys.as_slice() {
            [t] => (*t, None),
            _ => return mismatch(line, &ins.opcode, "setp needs one type"),
        }
    };
    if force_u && ty.is_float() {
        return mismatch(line, &ins.opcode, "unsigned comparison of floats");
    }
    if !ty.is_float()
        && matches!(
            cmp,
            CmpOp::Equ
                | CmpOp::Neu
                | CmpOp::Ltu
                | CmpOp::Leu
                | CmpOp::Gtu
                | CmpOp::Geu
                | CmpOp::Num
                | CmpOp::Nan
        )
    {
        return mismatch(line, &ins.opcode, "float comparison of integers");
    }
    let nexp = if boolop.is_some() { 4 } else { 3 };
    nops(ins, nexp)?;
    let [a, b] = srcs(fx, ins, 1, [ty, ty])?;
    let comb = match boolop {
        Some(bo) => {
            let (c, neg) = psrc(fx, &ins.operands[3], ins)?;
            Some((bo, c, neg))
        }
        None => None,
    };
    if let Some(dty) = set_dty {
        let d = dst(fx, &ins.operands[0], dty, false, ins)?;
        let spec = SetpSpec {
            cmp,
            ty,
            ftz,
            p: None,
            q: None,
            a,
            b,
            comb,
            set_dst: Some((d, dty)),
        };
        fx.emit(Op::Setp(Box::new(spec)), line, g);
        return Ok(());
    }
    let (p, q) = match &ins.operands[0] {
        Operand::Pair(p, q) => (pdst(fx, p, ins)?, Some(pdst(fx, q, ins)?)),
        other => (pdst(fx, other, ins)?, None),
    };
    let t = if ty.is_float() {
        CmpTy::F
    } else if ty.is_signed() && !force_u {
        CmpTy::S
    } else {
        CmpTy::U
    };
    let fast_ty = matches!(ty, Ty::F32 | Ty::F64) || (ty.is_int() && ty.bits() >= 32);
    if comb.is_none() && q.is_none() && !ftz && fast_ty {
        let (a, b) = (a.slot(), b.slot());
        fx.emit(
            by_width!(ty.wide(), Setp32, Setp64 { cmp, t, d: p, a, b }),
            line,
            g,
        );
        return Ok(());
    }
    let spec = SetpSpec {
        cmp,
        // lo/ls/hi/hs on a signed type compare as unsigned.
        ty: if force_u {
            match ty.bits() {
                16 => Ty::U16,
                32 => Ty::U32,
                _ => Ty::U64,
            }
        } else {
            ty
        },
        ftz,
        p: Some(p),
        q,
        a,
        b,
        comb,
        set_dst: None,
    };
    fx.emit(Op::Setp(Box::new(spec)), line, g);
    Ok(())
}

/// `selp.type d, a, b, p`.
pub(super) fn compile_selp(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 4)?;
    let d = dst(fx, &ins.operands[0], ty, false, ins)?;
    let [mut a, mut b] = srcs(fx, ins, 1, [ty, ty])?;
    let (p, neg) = psrc(fx, &ins.operands[3], ins)?;
    if neg {
        std::mem::swap(&mut a, &mut b);
    }
    let (d, a, b) = (d.slot(), a.slot(), b.slot());
    fx.emit(by_width!(ty.wide(), Selp32, Selp64 { d, a, b, p }), line, g);
    Ok(())
}

/// `testp.op.type p, a` (finite, infinite, number, notanumber, normal, subnormal).
pub(super) fn compile_testp(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let test = m.pick(&[
        ("finite", 0),
        ("infinite", 1),
        ("number", 2),
        ("notanumber", 3),
        ("normal", 4),
        ("subnormal", 5),
    ]);
    let test = need(test, ins, "a test")?;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 2)?;
    if ty != Ty::F32 && ty != Ty::F64 {
        return mismatch(line, &ins.opcode, "testp needs .f32 or .f64");
    }
    let d = pdst(fx, &ins.operands[0], ins)?;
    let a = src(fx, &ins.operands[1], ty, false, ins)?;
    fx.emit(Op::Testp { test, ty, d, a }, line, g);
    Ok(())
}
