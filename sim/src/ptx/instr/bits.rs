//! Bit fields, permutes, funnel shifts, select and dot products: bfe bfi prmt lop3 shf slct
//! dp4a dp2a, all lowered to `Op::Alu`.

use super::arith::{alu, alu_op};
use super::form::{mismatch, nops, Mods};
use super::operands::{dst, srcs};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;
use crate::ptx::lex::Number;

pub(super) fn compile_bits(
    fx: &mut Fx,
    ins: &InstrAst,
    base: &str,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let s = match base {
        "bfe" => {
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 4)?;
            if !(ty.is_int() && ty.bits() >= 32) {
                return mismatch(line, &ins.opcode, "bfe needs a 32/64-bit integer type");
            }
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [ty, Ty::U32, Ty::U32])?;
            AluSpec {
                cty: Ty::U32,
                ..alu(AluFn::Bfe, ty, d, a, b, c)
            }
        }
        "bfi" => {
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 5)?;
            if !(ty.is_int() && ty.bits() >= 32) {
                return mismatch(line, &ins.opcode, "bfi needs a 32/64-bit type");
            }
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [a, b, c, e] = srcs(fx, ins, 1, [ty, ty, Ty::U32, Ty::U32])?;
            AluSpec {
                e,
                cty: Ty::U32,
                ..alu(AluFn::Bfi, ty, d, a, b, c)
            }
        }
        "prmt" => {
            let mode = m.pick(&[
                ("f4e", 1),
                ("b4e", 2),
                ("rc8", 3),
                ("ecl", 4),
                ("ecr", 5),
                ("rc16", 6),
            ]);
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 4)?;
            if ty != Ty::B32 {
                return mismatch(line, &ins.opcode, "prmt needs .b32");
            }
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [ty, ty, ty])?;
            alu(AluFn::Prmt(mode.unwrap_or(0)), ty, d, a, b, c)
        }
        "lop3" => {
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 5)?;
            if ty != Ty::B32 {
                return mismatch(line, &ins.opcode, "lop3 needs .b32");
            }
            let Operand::Imm(Number::Int(lut)) = ins.operands[4] else {
                return mismatch(line, &ins.opcode, "lop3 needs an immediate LUT");
            };
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [ty, ty, ty])?;
            alu(AluFn::Lop3((lut & 0xff) as u8), ty, d, a, b, c)
        }
        "shf" => {
            let dir = m.one_of(&["l", "r"]).ok_or(CompileError {
                line,
                msg: "shf needs .l or .r".into(),
            })?;
            let clamp = m.pick_or(
                &[("wrap", false), ("clamp", true)],
                "shf needs .wrap or .clamp",
            )?;
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 4)?;
            if ty != Ty::B32 {
                return mismatch(line, &ins.opcode, "shf needs .b32");
            }
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [ty, ty, Ty::U32])?;
            let f = if dir == "l" {
                AluFn::ShfL { clamp }
            } else {
                AluFn::ShfR { clamp }
            };
            alu(f, ty, d, a, b, c)
        }
        "slct" => {
            let ftz = m.has("ftz");
            let tys = m.types();
            m.finish()?;
            nops(ins, 4)?;
            let [dty, cty] = *tys.as_slice() else {
                return mismatch(line, &ins.opcode, "slct needs .dtype.ctype");
            };
            if !matches!(cty, Ty::S32 | Ty::F32) || dty.bits() < 16 {
                return mismatch(line, &ins.opcode, "slct needs .s32 or .f32 for c");
            }
            let d = dst(fx, &ins.operands[0], dty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [dty, dty, cty])?;
            AluSpec {
                ftz,
                cty,
                ..alu(AluFn::Slct, dty, d, a, b, c)
            }
        }
        _ => {
            // dp4a.atype.btype d, a, b, c / dp2a.mode.atype.btype d, a, b, c
            let hi = if base == "dp2a" {
                m.pick_or(&[("lo", false), ("hi", true)], "dp2a needs .lo or .hi")?
            } else {
                false
            };
            let tys = m.types();
            m.finish()?;
            nops(ins, 4)?;
            let [at, bt] = *tys.as_slice() else {
                return mismatch(line, &ins.opcode, "needs .atype.btype");
            };
            let signed_d = at.is_signed() || bt.is_signed();
            let dty = if signed_d { Ty::S32 } else { Ty::U32 };
            let d = dst(fx, &ins.operands[0], dty, false, ins)?;
            let [a, b, c] = srcs(fx, ins, 1, [Ty::B32, Ty::B32, dty])?;
            let (a_signed, b_signed) = (at.is_signed(), bt.is_signed());
            let f = if base == "dp4a" {
                AluFn::Dp4a { a_signed, b_signed }
            } else {
                AluFn::Dp2a {
                    a_signed,
                    b_signed,
                    hi,
                }
            };
            alu(f, dty, d, a, b, c)
        }
    };
    fx.emit(alu_op(s), line, g);
    Ok(())
}
