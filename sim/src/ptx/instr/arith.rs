//! Arithmetic and logic on registers, by number of sources: three-operand arithmetic (add sub
//! mul mad fma div rem mul24 mad24 sad), one source (abs neg not cnot popc clz brev bfind, and
//! the float functions rcp sqrt rsqrt ex2 lg2 sin cos tanh), two sources (min max and or xor
//! shl shr copysign). Most lower to a fast op of one register bank; the rest to `Op::Alu`.

use super::form::{mismatch, nops, unsupported, Mods};
use super::mov::pred_copy;
use super::operands::{by_width, dst, pdst, psrc, src, srcs};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

/// add sub mul mad fma div rem mul24 mad24 sad: the modifiers and operands read and checked,
/// then lowered to a fast op ([`fast_arith`]) or the generic one ([`generic_arith`]).
pub(super) fn compile_arith(
    fx: &mut Fx,
    ins: &InstrAst,
    base: &str,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let rnd = m.rnd();
    let ftz = m.has("ftz");
    let sat = m.has("sat");
    let approx = m.has("approx");
    let full = m.has("full");
    let hilo = m.one_of(&["lo", "hi", "wide"]);
    if m.has("cc") {
        return unsupported(line, &ins.opcode, "carry (.cc) is not implemented");
    }
    m.has("relu");
    let ty = m.ty()?;
    m.finish()?;
    let float = ty.is_float();
    let fk = float_kind(ty);
    let pairs = if matches!(ty, Ty::F16x2 | Ty::BF16x2) {
        2
    } else {
        1
    };
    let three = matches!(base, "mad" | "fma" | "mad24" | "sad");
    nops(ins, if three { 4 } else { 3 })?;
    if !float && (rnd.is_some() || ftz || approx || full) {
        return mismatch(
            line,
            &ins.opcode,
            "rounding/ftz modifiers on an integer type",
        );
    }
    if float && hilo.is_some() {
        return mismatch(line, &ins.opcode, ".lo/.hi/.wide on a float type");
    }
    let wide = hilo == Some("wide");
    let dty = if wide {
        match ty {
            Ty::S16 => Ty::S32,
            Ty::U16 => Ty::U32,
            Ty::S32 => Ty::S64,
            Ty::U32 => Ty::U64,
            _ => return mismatch(line, &ins.opcode, ".wide needs a 16- or 32-bit type"),
        }
    } else {
        ty
    };
    let d = dst(fx, &ins.operands[0], dty, false, ins)?;
    let a = src(fx, &ins.operands[1], ty, false, ins)?;
    let b = src(fx, &ins.operands[2], ty, false, ins)?;
    let c = if three {
        src(fx, &ins.operands[3], dty, false, ins)?
    } else {
        a
    };
    let x = Arith {
        base,
        ty,
        rnd,
        ftz,
        sat,
        approx,
        full,
        hilo,
        d,
        a,
        b,
        c,
    };
    let op = match fast_arith(fx, ins, &x)? {
        Some(op) => op,
        None => generic_arith(ins, &x)?,
    };
    let at = fx.emit(op, line, g);
    if float {
        let flops = match base {
            "fma" | "mad" => 2,
            "add" | "sub" | "mul" => 1,
            _ => 0,
        };
        fx.set_flops(at, flops * pairs, fk);
    }
    Ok(())
}

/// An arithmetic instruction as [`compile_arith`] read it: its opcode, modifiers and operands
/// (`c` is `a` for the two-operand forms).
struct Arith<'s> {
    base: &'s str,
    ty: Ty,
    rnd: Option<Rnd>,
    ftz: bool,
    sat: bool,
    approx: bool,
    full: bool,
    hilo: Option<&'static str>,
    d: Opnd,
    a: Opnd,
    b: Opnd,
    c: Opnd,
}

/// The fast op of one register bank, where `x` has one: f32/f64 add, sub, mul and fma at
/// round-to-nearest without `.ftz`/`.sat`; 32/64-bit integer add, sub, mul.lo and mad.lo;
/// mul.wide of 32 bits. `None`: the generic ALU computes it.
fn fast_arith(fx: &Fx, ins: &InstrAst, x: &Arith) -> CResult<Option<Op>> {
    let line = ins.line;
    let Arith {
        base,
        ty,
        rnd,
        ftz,
        sat,
        approx,
        hilo,
        ..
    } = *x;
    let float = ty.is_float();
    let wide = hilo == Some("wide");
    let plain_f = float && matches!(rnd, None | Some(Rnd::Rn)) && !ftz && !sat;
    let (sd, sa, sb, sc) = (x.d.slot(), x.a.slot(), x.b.slot(), x.c.slot());
    let op = match base {
        "add" | "sub" | "mul" if plain_f && (ty == Ty::F32 || ty == Ty::F64) => {
            let f = match base {
                "add" => FOp::Add,
                "sub" => FOp::Sub,
                _ => FOp::Mul,
            };
            by_width!(
                ty.wide(),
                F32,
                F64 {
                    f,
                    d: sd,
                    a: sa,
                    b: sb
                }
            )
        }
        "fma" | "mad" if plain_f && (ty == Ty::F32 || ty == Ty::F64) && !approx => {
            if base == "mad" && rnd.is_none() && fx.m.sm >= 20 {
                return mismatch(line, &ins.opcode, "mad.f32/f64 needs a rounding modifier");
            }
            by_width!(
                ty.wide(),
                Fma32,
                Fma64 {
                    d: sd,
                    a: sa,
                    b: sb,
                    c: sc
                }
            )
        }
        "add" | "sub" | "mul"
            if !float
                && !sat
                && (base != "mul" || hilo == Some("lo"))
                && (ty.bits() == 32 || ty.bits() == 64) =>
        {
            let f = match base {
                "add" => IntOp::Add,
                "sub" => IntOp::Sub,
                _ => IntOp::MulLo,
            };
            by_width!(
                ty.wide(),
                I32,
                I64 {
                    f,
                    d: sd,
                    a: sa,
                    b: sb
                }
            )
        }
        "mul" if wide && ty.bits() == 32 => Op::MulWide {
            signed: ty.is_signed(),
            d: sd,
            a: sa,
            b: sb,
        },
        "mad" if hilo == Some("lo") && !sat && (ty.bits() == 32 || ty.bits() == 64) => {
            by_width!(
                ty.wide(),
                Mad32,
                Mad64 {
                    d: sd,
                    a: sa,
                    b: sb,
                    c: sc
                }
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(op))
}

/// `Op::Alu` for every other form: the [`AluFn`] of the opcode and `.lo/.hi/.wide`, refused
/// where the PTX ISA has no such form.
fn generic_arith(ins: &InstrAst, x: &Arith) -> CResult<Op> {
    let line = ins.line;
    let Arith {
        base,
        ty,
        rnd,
        ftz,
        sat,
        approx,
        full,
        hilo,
        d,
        a,
        b,
        c,
    } = *x;
    let float = ty.is_float();
    let f = match (base, hilo) {
        ("add", _) => AluFn::Add,
        ("sub", _) => AluFn::Sub,
        ("mul", None) if float => AluFn::Mul,
        ("mul", Some("lo")) => AluFn::Mul,
        ("mul", Some("hi")) => AluFn::MulHi,
        ("mul", Some("wide")) => AluFn::MulWide,
        ("mad", None) if float => AluFn::Fma,
        ("fma", None) if float => AluFn::Fma,
        ("mad", Some("lo")) => AluFn::MadLo,
        ("mad", Some("hi")) => AluFn::MadHi,
        ("mad", Some("wide")) => AluFn::MadWide,
        ("div", None) => AluFn::Div,
        ("rem", None) if !float => AluFn::Rem,
        ("mul24", Some("lo")) => AluFn::Mul24Lo,
        ("mul24", Some("hi")) => AluFn::Mul24Hi,
        ("mad24", Some("lo")) => AluFn::Mad24Lo,
        ("mad24", Some("hi")) => AluFn::Mad24Hi,
        ("sad", None) if !float => AluFn::Sad,
        _ => return mismatch(line, &ins.opcode, "bad combination of modifiers"),
    };
    // fma.f16 needs .rn too, but be lenient: a missing rounding is round-to-nearest.
    if float && base == "div" && ty == Ty::F32 && rnd.is_none() && !approx && !full {
        return mismatch(
            line,
            &ins.opcode,
            "div.f32 needs .approx, .full or a rounding",
        );
    }
    if (f == AluFn::Mul24Lo || f == AluFn::Mul24Hi || f == AluFn::Mad24Lo || f == AluFn::Mad24Hi)
        && ty.bits() != 32
    {
        return mismatch(line, &ins.opcode, "mul24/mad24 need a 32-bit type");
    }
    Ok(alu_op(AluSpec {
        rnd: rnd.unwrap_or(Rnd::Rn),
        ftz,
        sat,
        approx: approx || full,
        ..alu(f, ty, d, a, b, c)
    }))
}

pub(super) fn compile_unary(
    fx: &mut Fx,
    ins: &InstrAst,
    base: &str,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let rnd = m.rnd();
    let ftz = m.has("ftz");
    let sat = m.has("sat");
    let approx = m.has("approx");
    let full = m.has("full");
    let shiftamt = m.has("shiftamt");
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 2)?;
    let f = match base {
        "abs" => AluFn::Abs,
        "neg" => AluFn::Neg,
        "not" => AluFn::Not,
        "cnot" => AluFn::Cnot,
        "popc" => AluFn::Popc,
        "clz" => AluFn::Clz,
        "brev" => AluFn::Brev,
        "bfind" => {
            if shiftamt {
                AluFn::BfindShift
            } else {
                AluFn::Bfind
            }
        }
        "rcp" => AluFn::Rcp,
        "sqrt" => AluFn::Sqrt,
        "rsqrt" => AluFn::Rsqrt,
        "ex2" => AluFn::Ex2,
        "lg2" => AluFn::Lg2,
        "sin" => AluFn::Sin,
        "cos" => AluFn::Cos,
        _ => AluFn::Tanh,
    };
    let transcendental = matches!(
        f,
        AluFn::Rcp
            | AluFn::Sqrt
            | AluFn::Rsqrt
            | AluFn::Ex2
            | AluFn::Lg2
            | AluFn::Sin
            | AluFn::Cos
            | AluFn::Tanh
    );
    if transcendental && !ty.is_float() {
        return mismatch(line, &ins.opcode, "needs a float type");
    }
    if matches!(
        f,
        AluFn::Sin | AluFn::Cos | AluFn::Ex2 | AluFn::Lg2 | AluFn::Rsqrt | AluFn::Tanh
    ) && !approx
        && ty == Ty::F32
    {
        return mismatch(line, &ins.opcode, "needs .approx");
    }
    if matches!(f, AluFn::Rcp | AluFn::Sqrt) && !approx && rnd.is_none() {
        return mismatch(line, &ins.opcode, "needs .approx or a rounding modifier");
    }
    if ty == Ty::Pred {
        if f != AluFn::Not {
            return mismatch(line, &ins.opcode, "predicate type");
        }
        let d = pdst(fx, &ins.operands[0], ins)?;
        let (a, neg) = psrc(fx, &ins.operands[1], ins)?;
        fx.emit(pred_copy(d, a, !neg), line, g);
        return Ok(());
    }
    let dty = match f {
        AluFn::Popc | AluFn::Clz | AluFn::Bfind | AluFn::BfindShift => Ty::U32,
        _ => ty,
    };
    let d = dst(fx, &ins.operands[0], dty, false, ins)?;
    let a = src(fx, &ins.operands[1], ty, false, ins)?;
    if f == AluFn::Not && (ty.bits() == 32 || ty.bits() == 64) {
        // not.b32 d, a == xor with all ones.
        let ones = fx.const_slot(u64::MAX, ty.wide());
        let (f, d, a, b) = (IntOp::Xor, d.slot(), a.slot(), ones.slot());
        fx.emit(by_width!(ty.wide(), I32, I64 { f, d, a, b }), line, g);
        return Ok(());
    }
    let s = AluSpec {
        rnd: rnd.unwrap_or(Rnd::Rn),
        ftz,
        sat,
        approx: approx || full,
        ..alu(f, ty, d, a, a, a)
    };
    fx.emit(alu_op(s), line, g);
    Ok(())
}

pub(super) fn compile_binary(
    fx: &mut Fx,
    ins: &InstrAst,
    base: &str,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let ftz = m.has("ftz");
    let nan = m.has("NaN");
    let relu = m.has("relu");
    if m.has("xorsign") || m.has("abs") {
        return unsupported(line, &ins.opcode, ".xorsign.abs is not implemented");
    }
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 3)?;
    if relu {
        return unsupported(line, &ins.opcode, ".relu is not implemented");
    }
    if ty == Ty::Pred {
        let f = match base {
            "and" => PredOp::And,
            "or" => PredOp::Or,
            "xor" => PredOp::Xor,
            _ => return mismatch(line, &ins.opcode, "predicate type"),
        };
        let d = pdst(fx, &ins.operands[0], ins)?;
        let (a, an) = psrc(fx, &ins.operands[1], ins)?;
        let (b, bn) = psrc(fx, &ins.operands[2], ins)?;
        if an || bn {
            return mismatch(line, &ins.opcode, "negated predicate operands");
        }
        fx.emit(Op::Pred { f, d, a, b }, line, g);
        return Ok(());
    }
    let shift = base == "shl" || base == "shr";
    let d = dst(fx, &ins.operands[0], ty, false, ins)?;
    let bty = if shift { Ty::U32 } else { ty };
    let [a, b] = srcs(fx, ins, 1, [ty, bty])?;
    let int_fast = !ty.is_float() && (ty.bits() == 32 || ty.bits() == 64);
    let fast = if int_fast {
        match base {
            "and" => Some(IntOp::And),
            "or" => Some(IntOp::Or),
            "xor" => Some(IntOp::Xor),
            "shl" => Some(IntOp::Shl),
            "shr" => Some(if ty.is_signed() {
                IntOp::ShrS
            } else {
                IntOp::ShrU
            }),
            "min" => Some(if ty.is_signed() {
                IntOp::MinS
            } else {
                IntOp::MinU
            }),
            "max" => Some(if ty.is_signed() {
                IntOp::MaxS
            } else {
                IntOp::MaxU
            }),
            _ => None,
        }
    } else {
        None
    };
    if let Some(f) = fast {
        let (d, a, b) = (d.slot(), a.slot(), b.slot());
        let op = if ty.wide() && shift {
            Op::Sh64 { f, d, a, b }
        } else {
            by_width!(ty.wide(), I32, I64 { f, d, a, b })
        };
        fx.emit(op, line, g);
        return Ok(());
    }
    let f = match base {
        "and" => AluFn::And,
        "or" => AluFn::Or,
        "xor" => AluFn::Xor,
        "shl" => AluFn::Shl,
        "shr" => AluFn::Shr,
        "min" if nan => AluFn::MinNaN,
        "max" if nan => AluFn::MaxNaN,
        "min" => AluFn::Min,
        "max" => AluFn::Max,
        _ => AluFn::Copysign,
    };
    if f == AluFn::Copysign && !(ty == Ty::F32 || ty == Ty::F64) {
        return mismatch(line, &ins.opcode, "copysign needs .f32 or .f64");
    }
    let s = AluSpec {
        ftz,
        cty: if shift { Ty::U32 } else { ty },
        ..alu(f, ty, d, a, b, a)
    };
    fx.emit(alu_op(s), line, g);
    Ok(())
}

/// A generic ALU op with the defaults: round to nearest, no `.ftz`/`.sat`/`.approx`, `e` = `a`,
/// `cty` = `ty`.
pub(super) fn alu(f: AluFn, ty: Ty, d: Opnd, a: Opnd, b: Opnd, c: Opnd) -> AluSpec {
    AluSpec {
        f,
        ty,
        d,
        a,
        b,
        c,
        e: a,
        rnd: Rnd::Rn,
        ftz: false,
        sat: false,
        approx: false,
        cty: ty,
    }
}

pub(super) fn alu_op(s: AluSpec) -> Op {
    Op::Alu(Box::new(s))
}

fn float_kind(ty: Ty) -> u8 {
    match ty {
        Ty::F32 => FLOPS_F32,
        Ty::F64 => FLOPS_F64,
        Ty::F16 | Ty::F16x2 | Ty::BF16 | Ty::BF16x2 => FLOPS_F16,
        _ => FLOPS_NONE,
    }
}
