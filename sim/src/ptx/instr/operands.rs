//! Operands as slots: value sources and destinations of a type (registers, immediates, special
//! registers, variable addresses), predicates, vectors of registers, addresses and the state
//! space an access uses; and [`by_width!`], the fast op of a register bank.

use super::form::{mismatch, Mods};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;
use crate::ptx::lex::Number;

/// `Op::$op64 { … }` for a 64-bit type, else `Op::$op32 { … }`: the fast ops come in pairs, one
/// per register bank.
macro_rules! by_width {
    ($wide:expr, $op32:ident, $op64:ident { $($f:ident $(: $v:expr)?),* $(,)? }) => {
        if $wide {
            Op::$op64 { $($f $(: $v)?),* }
        } else {
            Op::$op32 { $($f $(: $v)?),* }
        }
    };
}
pub(super) use by_width;

/// A value source of type `ty`: a register of that size (wider if `relaxed`), an immediate,
/// a special register, or a variable's address.
pub(super) fn src(
    fx: &mut Fx,
    op: &Operand,
    ty: Ty,
    relaxed: bool,
    ins: &InstrAst,
) -> CResult<Opnd> {
    let line = ins.line;
    match op {
        Operand::Imm(n) => {
            let Some(bits) = imm_bits(*n, ty) else {
                return mismatch(line, &ins.opcode, "immediate does not fit the type");
            };
            Ok(fx.const_slot(bits, ty.wide()))
        }
        Operand::Name(name, off) => match fx.resolve(name, line)? {
            Resolved::Reg(o, rt) => {
                if *off != 0 {
                    return mismatch(line, &ins.opcode, "register with an offset");
                }
                let ok = if relaxed {
                    rt.bits() >= ty.bits() || (rt.bits() == 16 && ty.bits() == 8)
                } else {
                    rt.bits() == ty.bits()
                };
                if !ok {
                    return mismatch(
                        line,
                        &ins.opcode,
                        &format!(
                            "register '{name}' is .{} but the type is .{}",
                            rt.name(),
                            ty.name()
                        ),
                    );
                }
                Ok(o)
            }
            Resolved::Special(o, sp) => {
                let wide = o.is64();
                if (ty.bits() == 64) != wide && (wide || ty.bits() != 16) {
                    return mismatch(line, &ins.opcode, &format!("special register '{name}'"));
                }
                let _ = sp;
                Ok(o)
            }
            Resolved::Var(loc) => {
                if !(ty.is_int() && ty.bits() >= 32) {
                    return mismatch(line, &ins.opcode, &format!("address of '{name}'"));
                }
                Ok(fx.addr_const(name, loc, *off, ty.bits() == 64))
            }
            Resolved::Pred(_) => mismatch(line, &ins.opcode, &format!("predicate '{name}'")),
            Resolved::Dyn(_) => mismatch(
                line,
                &ins.opcode,
                &format!("special register '{name}' may only be read by mov"),
            ),
        },
        _ => mismatch(line, &ins.opcode, "expected a register or an immediate"),
    }
}

/// Operands `first..first + N` as value sources of types `tys` (registers of exactly that
/// size), in order.
pub(super) fn srcs<const N: usize>(
    fx: &mut Fx,
    ins: &InstrAst,
    first: usize,
    tys: [Ty; N],
) -> CResult<[Opnd; N]> {
    let mut out = Vec::with_capacity(N);
    for (k, ty) in tys.into_iter().enumerate() {
        out.push(src(fx, &ins.operands[first + k], ty, false, ins)?);
    }
    Ok(out.try_into().expect("N operands"))
}

/// A destination register of type `ty` (wider if `relaxed`).
pub(super) fn dst(
    fx: &mut Fx,
    op: &Operand,
    ty: Ty,
    relaxed: bool,
    ins: &InstrAst,
) -> CResult<Opnd> {
    match op {
        Operand::Name(name, 0) => match fx.resolve(name, ins.line)? {
            Resolved::Reg(o, rt) => {
                let ok = if relaxed {
                    rt.bits() >= ty.bits()
                } else {
                    rt.bits() == ty.bits()
                };
                if !ok {
                    return mismatch(
                        ins.line,
                        &ins.opcode,
                        &format!(
                            "destination '{name}' is .{} but the type is .{}",
                            rt.name(),
                            ty.name()
                        ),
                    );
                }
                Ok(o)
            }
            _ => mismatch(
                ins.line,
                &ins.opcode,
                &format!("destination '{name}' is not a register"),
            ),
        },
        _ => mismatch(ins.line, &ins.opcode, "destination must be a register"),
    }
}

/// A predicate source: `%p`, `!%p` or a 0/1 immediate.
pub(super) fn psrc(fx: &mut Fx, op: &Operand, ins: &InstrAst) -> CResult<(Slot, bool)> {
    match op {
        Operand::Name(n, 0) => match fx.resolve(n, ins.line)? {
            Resolved::Pred(s) => Ok((s, false)),
            _ => mismatch(ins.line, &ins.opcode, &format!("'{n}' is not a predicate")),
        },
        Operand::NotPred(n) => match fx.resolve(n, ins.line)? {
            Resolved::Pred(s) => Ok((s, true)),
            _ => mismatch(ins.line, &ins.opcode, &format!("'{n}' is not a predicate")),
        },
        Operand::Imm(Number::Int(v)) => Ok((fx.const_pred(*v != 0), false)),
        _ => mismatch(ins.line, &ins.opcode, "expected a predicate"),
    }
}

pub(super) fn pdst(fx: &mut Fx, op: &Operand, ins: &InstrAst) -> CResult<Slot> {
    match op {
        Operand::Name(n, 0) => match fx.resolve(n, ins.line)? {
            Resolved::Pred(s) => Ok(s),
            _ => mismatch(ins.line, &ins.opcode, &format!("'{n}' is not a predicate")),
        },
        _ => mismatch(ins.line, &ins.opcode, "expected a predicate destination"),
    }
}

pub(super) fn vec_regs(
    fx: &mut Fx,
    op: &Operand,
    n: usize,
    ty: Ty,
    out: bool,
    ins: &InstrAst,
) -> CResult<Vec<Slot>> {
    let Operand::Vector(items) = op else {
        return mismatch(ins.line, &ins.opcode, "expected a vector operand");
    };
    if items.len() != n {
        return mismatch(
            ins.line,
            &ins.opcode,
            &format!("expected {n} registers, found {}", items.len()),
        );
    }
    let mut v = Vec::new();
    for it in items {
        let o = if out {
            dst(fx, it, ty, false, ins)?
        } else {
            src(fx, it, ty, false, ins)?
        };
        v.push(o.slot());
    }
    Ok(v)
}

/// An address operand: (the variable's location if the base is a variable, the base operand,
/// the offset).
pub(super) fn address(
    fx: &mut Fx,
    op: &Operand,
    ins: &InstrAst,
) -> CResult<(Option<SymLoc>, Opnd, i64)> {
    let Operand::Addr(a) = op else {
        return mismatch(ins.line, &ins.opcode, "expected an address [..]");
    };
    match &a.base {
        None => Ok((None, fx.const_slot(a.offset as u64, true), 0)),
        Some(name) => match fx.resolve(name, ins.line)? {
            Resolved::Reg(o, rt) => {
                if rt.bits() != 32 && rt.bits() != 64 {
                    return mismatch(
                        ins.line,
                        &ins.opcode,
                        "address register must be 32 or 64 bits",
                    );
                }
                Ok((None, o, a.offset))
            }
            Resolved::Var(loc) => {
                let o = fx.addr_const(name, loc, 0, true);
                Ok((Some(loc), o, a.offset))
            }
            Resolved::Special(o, _) => Ok((None, o, a.offset)),
            _ => mismatch(ins.line, &ins.opcode, &format!("bad address base '{name}'")),
        },
    }
}

/// The state space an access really uses, given the instruction's space and a variable base.
pub(super) fn access_space(
    fx: &Fx,
    explicit: Option<MemSpace>,
    loc: Option<SymLoc>,
    ins: &InstrAst,
) -> CResult<MemSpace> {
    match (explicit, loc) {
        (None, None) => Ok(MemSpace::Generic),
        (None, Some(l)) => Ok(l.space()),
        (Some(MemSpace::Param), Some(l)) => match l {
            SymLoc::Param(_) | SymLoc::Local(_) => Ok(l.space()),
            _ => mismatch(ins.line, &ins.opcode, "address is not a parameter"),
        },
        (Some(MemSpace::Param), None) => Ok(if fx.is_entry_ns {
            MemSpace::Param
        } else {
            MemSpace::Local
        }),
        (Some(s), Some(l)) => {
            let ls = l.space();
            if ls == s || (s == MemSpace::Global && ls == MemSpace::Const) {
                Ok(ls)
            } else {
                mismatch(
                    ins.line,
                    &ins.opcode,
                    &format!("a .{} variable accessed as .{}", ls.name(), s.name()),
                )
            }
        }
        (Some(s), None) => Ok(s),
    }
}

pub(super) fn space_mod(m: &mut Mods) -> Option<MemSpace> {
    m.one_of(&[
        "global",
        "shared",
        "shared::cta",
        "local",
        "param",
        "param::entry",
        "param::func",
        "const",
    ])
    .map(|s| match s {
        "global" => MemSpace::Global,
        "shared" | "shared::cta" => MemSpace::Shared,
        "local" => MemSpace::Local,
        "const" => MemSpace::Const,
        _ => MemSpace::Param,
    })
}
