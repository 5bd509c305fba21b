//! `cvt`: every integer and float pair, with integer and float roundings, `.sat`, `.ftz`,
//! `.relu`, and f16/bf16 packing.

use super::form::{mismatch, nops, unsupported, Mods};
use super::operands::{dst, src};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

pub(super) fn compile_cvt(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let rnd = m.rnd();
    let irnd = m.pick(&[
        ("rni", IRnd::Rni),
        ("rzi", IRnd::Rzi),
        ("rmi", IRnd::Rmi),
        ("rpi", IRnd::Rpi),
    ]);
    let ftz = m.has("ftz");
    let sat = m.has("sat");
    let relu = m.has("relu");
    if m.has("satfinite") {
        return unsupported(line, &ins.opcode, ".satfinite is not implemented");
    }
    let tys = m.types();
    m.finish()?;
    let [dty, sty] = tys.as_slice() else {
        return mismatch(line, &ins.opcode, "cvt needs .dtype.atype");
    };
    let (dty, sty) = (*dty, *sty);
    if dty == Ty::Pred || sty == Ty::Pred {
        return mismatch(line, &ins.opcode, "cvt of predicates");
    }
    if rnd.is_some() && irnd.is_some() {
        return mismatch(line, &ins.opcode, "two rounding modifiers");
    }
    let fd = dty.is_float();
    let fs = sty.is_float();
    // Rounding rules: int→float and narrowing float→float need a float rounding; float→int
    // needs an integer rounding; float→float of the same size may take an integer rounding.
    if fs && !fd && irnd.is_none() {
        return mismatch(
            line,
            &ins.opcode,
            "float-to-integer cvt needs .rni/.rzi/.rmi/.rpi",
        );
    }
    if !fs && fd && irnd.is_some() {
        return mismatch(line, &ins.opcode, "integer rounding on an integer source");
    }
    let pack = dty == Ty::F16x2 || dty == Ty::BF16x2;
    nops(ins, if pack { 3 } else { 2 })?;
    let d = dst(fx, &ins.operands[0], dty, true, ins)?;
    let a = src(fx, &ins.operands[1], sty, true, ins)?;
    let b = if pack {
        Some(src(fx, &ins.operands[2], sty, true, ins)?)
    } else {
        None
    };
    let plain = !ftz && !sat && !relu && !pack;
    let fast = if plain {
        match (dty, sty) {
            (Ty::S64 | Ty::U64 | Ty::B64, Ty::S32) if d.is64() && !a.is64() => {
                Some(CvtFast::S64S32)
            }
            (Ty::S64 | Ty::U64 | Ty::B64, Ty::U32 | Ty::B32) if d.is64() && !a.is64() => {
                Some(CvtFast::U64U32)
            }
            (Ty::S32 | Ty::U32 | Ty::B32, Ty::S64 | Ty::U64 | Ty::B64) if !d.is64() && a.is64() => {
                Some(CvtFast::Trunc64)
            }
            (Ty::F64, Ty::F32) if irnd.is_none() && rnd.is_none() => Some(CvtFast::F64F32),
            (Ty::F32, Ty::S32) if matches!(rnd, Some(Rnd::Rn)) => Some(CvtFast::F32S32),
            (Ty::F32, Ty::U32) if matches!(rnd, Some(Rnd::Rn)) => Some(CvtFast::F32U32),
            (Ty::F32, Ty::F16) if irnd.is_none() && rnd.is_none() && !a.is64() => {
                Some(CvtFast::F32F16)
            }
            (Ty::F32, Ty::F64) if matches!(rnd, Some(Rnd::Rn)) => Some(CvtFast::F32F64),
            (Ty::F64, Ty::S32) if rnd.is_some() => Some(CvtFast::F64S32),
            (Ty::F64, Ty::U32) if rnd.is_some() => Some(CvtFast::F64U32),
            _ => None,
        }
    } else {
        None
    };
    if let Some(k) = fast {
        fx.emit(
            Op::Cvt {
                k,
                d: d.slot(),
                a: a.slot(),
            },
            line,
            g,
        );
        return Ok(());
    }
    if fd && !fs && rnd.is_none() {
        return mismatch(
            line,
            &ins.opcode,
            "integer-to-float cvt needs a rounding modifier",
        );
    }
    if fd && fs && dty.bits() < sty.bits() && rnd.is_none() && irnd.is_none() {
        return mismatch(
            line,
            &ins.opcode,
            "narrowing float cvt needs a rounding modifier",
        );
    }
    let spec = CvtSpec {
        dty,
        sty,
        rnd,
        irnd,
        sat,
        ftz,
        relu,
        d,
        a,
        b,
    };
    fx.emit(Op::CvtGen(Box::new(spec)), line, g);
    Ok(())
}
