//! Memory: ld, ldu and st (every space, vectors, cache hints), atom and red, cp.async with
//! commit_group, wait_group and wait_all, cvta (space ↔ generic) and isspacep.

use super::form::{mismatch, need, need_sm, nops, unknown, unsupported, Mods};
use super::mov::mov_op;
use super::operands::{access_space, address, dst, pdst, psrc, space_mod, src};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;
use crate::ptx::lex::Number;

pub(super) fn compile_ldst(
    fx: &mut Fx,
    ins: &InstrAst,
    store: bool,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let sp = space_mod(&mut m);
    let nc = m.has("nc");
    let hint = m.list.contains(&"L2::cache_hint");
    m.drop_hints();
    let n: u8 = match m.one_of(&["v2", "v4", "v8"]) {
        Some("v2") => 2,
        Some("v4") => 4,
        Some(_) => return unsupported(line, &ins.opcode, ".v8 is not implemented"),
        None => 1,
    };
    let ty = m.ty()?;
    m.finish()?;
    if nc && sp != Some(MemSpace::Global) {
        return mismatch(line, &ins.opcode, ".nc needs .global");
    }
    if store && matches!(sp, Some(MemSpace::Const)) {
        return mismatch(line, &ins.opcode, "stores to .const");
    }
    if ty == Ty::Pred {
        return mismatch(line, &ins.opcode, "predicate type");
    }
    let want = 2 + usize::from(hint);
    nops(ins, want)?;
    let (data_op, addr_op) = if store {
        (&ins.operands[1], &ins.operands[0])
    } else {
        (&ins.operands[0], &ins.operands[1])
    };
    let (loc, addr, off) = address(fx, addr_op, ins)?;
    let space = access_space(fx, sp, loc, ins)?;
    let items: Vec<&Operand> = match data_op {
        Operand::Vector(v) => v.iter().collect(),
        other => vec![other],
    };
    if items.len() != n as usize {
        return mismatch(line, &ins.opcode, "vector size does not match");
    }
    let mut data = Vec::new();
    for it in items {
        if let Operand::Sink = it {
            if store {
                return mismatch(line, &ins.opcode, "sink in a store");
            }
            data.push(None);
            continue;
        }
        let o = if store {
            src(fx, it, ty, true, ins)?
        } else {
            dst(fx, it, ty, true, ins)?
        };
        data.push(Some(o));
    }
    let elem = ty.bytes() as u8;
    let spec = MemSpec {
        space,
        elem,
        n,
        sext: ty.is_signed(),
        ty,
        data,
        addr,
        off,
    };
    let op = if store {
        Op::St(Box::new(spec))
    } else {
        Op::Ld(Box::new(spec))
    };
    fx.emit(op, line, g);
    Ok(())
}

/// The operations of atom/red (redux takes the first six).
pub(super) const ATOM_OPS: [(&str, AtomOp); 10] = [
    ("add", AtomOp::Add),
    ("min", AtomOp::Min),
    ("max", AtomOp::Max),
    ("and", AtomOp::And),
    ("or", AtomOp::Or),
    ("xor", AtomOp::Xor),
    ("inc", AtomOp::Inc),
    ("dec", AtomOp::Dec),
    ("exch", AtomOp::Exch),
    ("cas", AtomOp::Cas),
];

pub(super) fn compile_atom(
    fx: &mut Fx,
    ins: &InstrAst,
    red: bool,
    mut m: Mods,
    g: Guard,
) -> CResult<()> {
    let line = ins.line;
    let sp = space_mod(&mut m);
    m.drop_hints();
    m.has("noftz");
    let op = m.pick(&ATOM_OPS);
    let op = need(op, ins, "an operation")?;
    let ty = m.ty()?;
    m.finish()?;
    if !(ty.bits() == 32 || ty.bits() == 64) {
        return unsupported(
            line,
            &ins.opcode,
            "only 32- and 64-bit atomics are implemented",
        );
    }
    if ty.is_float() && !matches!(op, AtomOp::Add | AtomOp::Exch) {
        return mismatch(line, &ins.opcode, "float atomics support add and exch");
    }
    if matches!(op, AtomOp::Inc | AtomOp::Dec) && ty != Ty::U32 {
        return mismatch(line, &ins.opcode, "inc/dec need .u32");
    }
    if red && op == AtomOp::Cas {
        return mismatch(line, &ins.opcode, "red.cas");
    }
    let cas = op == AtomOp::Cas;
    let k = usize::from(!red);
    nops(ins, k + 2 + usize::from(cas))?;
    let d = if red {
        None
    } else {
        Some(dst(fx, &ins.operands[0], ty, false, ins)?)
    };
    let (loc, addr, off) = address(fx, &ins.operands[k], ins)?;
    let space = access_space(fx, sp, loc, ins)?;
    if !matches!(
        space,
        MemSpace::Global | MemSpace::Shared | MemSpace::Generic
    ) {
        return mismatch(
            line,
            &ins.opcode,
            "atomics need .global, .shared or generic addresses",
        );
    }
    let b = src(fx, &ins.operands[k + 1], ty, false, ins)?;
    let c = if cas {
        Some(src(fx, &ins.operands[k + 2], ty, false, ins)?)
    } else {
        None
    };
    fx.emit(
        Op::Atom(Box::new(AtomSpec {
            op,
            ty,
            space,
            d,
            addr,
            off,
            b,
            c,
        })),
        line,
        g,
    );
    Ok(())
}

pub(super) fn compile_cp(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    if !m.has("async") {
        return unknown(line, &ins.opcode);
    }
    if m.has("commit_group") {
        m.finish()?;
        nops(ins, 0)?;
        fx.emit(Op::CpCommit, line, g);
        fx.prog.uses_cp_async = true;
        return Ok(());
    }
    if m.has("wait_group") {
        m.finish()?;
        nops(ins, 1)?;
        let Operand::Imm(Number::Int(n)) = ins.operands[0] else {
            return mismatch(line, &ins.opcode, "wait_group needs an immediate");
        };
        fx.emit(Op::CpWait { n: n as u32 }, line, g);
        fx.prog.uses_cp_async = true;
        return Ok(());
    }
    if m.has("wait_all") {
        m.finish()?;
        nops(ins, 0)?;
        fx.emit(Op::CpCommit, line, g);
        fx.emit(Op::CpWait { n: 0 }, line, g);
        fx.prog.uses_cp_async = true;
        return Ok(());
    }
    need_sm(fx, ins, "cp.async", 80)?;
    if m.list
        .iter()
        .any(|x| x.starts_with("bulk") || *x == "mbarrier")
    {
        return unsupported(
            line,
            &ins.opcode,
            "bulk and mbarrier copies are not implemented",
        );
    }
    let cg = m.pick_or(&[("ca", false), ("cg", true)], "cp.async needs .ca or .cg")?;
    if m.one_of(&["shared", "shared::cta"]).is_none() || !m.has("global") {
        return mismatch(line, &ins.opcode, "cp.async copies .global to .shared");
    }
    let hint = m.has("L2::cache_hint");
    m.one_of(&["L2::64B", "L2::128B", "L2::256B"]);
    m.finish()?;
    if ins.operands.len() < 3 {
        return nops(ins, 3);
    }
    let (dl, dst_a, dst_off) = address(fx, &ins.operands[0], ins)?;
    if dl.is_some_and(|l| l.space() != MemSpace::Shared) {
        return mismatch(line, &ins.opcode, "destination is not .shared");
    }
    let (sl, src_a, src_off) = address(fx, &ins.operands[1], ins)?;
    if sl.is_some_and(|l| !matches!(l.space(), MemSpace::Global | MemSpace::Const)) {
        return mismatch(line, &ins.opcode, "source is not .global");
    }
    let Operand::Imm(Number::Int(cp)) = ins.operands[2] else {
        return mismatch(line, &ins.opcode, "cp-size must be an immediate");
    };
    if !matches!(cp, 4 | 8 | 16) {
        return mismatch(line, &ins.opcode, "cp-size must be 4, 8 or 16");
    }
    if cg && cp != 16 {
        return mismatch(line, &ins.opcode, "cp.async.cg needs cp-size 16");
    }
    let rest = &ins.operands[3..ins.operands.len() - usize::from(hint)];
    let mut src_size = None;
    let mut ignore = None;
    match rest {
        [] => {}
        [op] => match op {
            Operand::Name(n, 0) if matches!(fx.resolve(n, line)?, Resolved::Pred(_)) => {
                ignore = Some(psrc(fx, op, ins)?);
            }
            Operand::NotPred(_) => ignore = Some(psrc(fx, op, ins)?),
            _ => src_size = Some(src(fx, op, Ty::U32, false, ins)?),
        },
        _ => return mismatch(line, &ins.opcode, "too many operands"),
    }
    fx.prog.uses_cp_async = true;
    fx.emit(
        Op::CpAsync(Box::new(CpAsyncSpec {
            dst: dst_a,
            dst_off,
            src: src_a,
            src_off,
            cp_size: cp as u8,
            src_size,
            ignore_src: ignore,
            cg,
        })),
        line,
        g,
    );
    Ok(())
}

pub(super) fn compile_cvta(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let to = m.has("to");
    let sp = need(space_mod(&mut m), ins, "a state space")?;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 2)?;
    if !matches!(ty, Ty::U32 | Ty::U64) {
        return mismatch(line, &ins.opcode, "cvta needs .u32 or .u64");
    }
    let d = dst(fx, &ins.operands[0], ty, false, ins)?;
    // `cvta.space d, var`: the generic address of a variable, known now.
    if let Operand::Name(name, off) = &ins.operands[1] {
        if let Resolved::Var(loc) = fx.resolve(name, line)? {
            if to {
                return mismatch(line, &ins.opcode, "cvta.to of a variable");
            }
            if loc.space() != sp && !(sp == MemSpace::Global && loc.space() == MemSpace::Const) {
                return mismatch(line, &ins.opcode, "variable in another state space");
            }
            let generic = |a: u64| -> u64 {
                match loc {
                    SymLoc::Shared(_) => SHARED_WINDOW.wrapping_add(a),
                    SymLoc::Local(_) => LOCAL_WINDOW.wrapping_add(a),
                    SymLoc::Param(_) => PARAM_WINDOW.wrapping_add(a),
                    SymLoc::Global(_) | SymLoc::Const(_) => a,
                }
            };
            let c = if let SymLoc::Shared(u64::MAX) = loc {
                // Dynamic shared: patched offset, converted at run time.
                let o = fx.addr_const(name, loc, *off, ty.wide());
                fx.emit(
                    Op::Cvta {
                        to_generic: true,
                        space: MemSpace::Shared,
                        d,
                        a: o,
                    },
                    line,
                    g,
                );
                return Ok(());
            } else {
                fx.const_slot(generic(loc.addr().wrapping_add(*off as u64)), ty.wide())
            };
            fx.emit(mov_op(d, c, ty.wide()), line, g);
            return Ok(());
        }
    }
    let a = src(fx, &ins.operands[1], ty, false, ins)?;
    if matches!(sp, MemSpace::Global | MemSpace::Const) {
        // The global and const windows are the device addresses themselves.
        fx.emit(mov_op(d, a, ty.wide()), line, g);
        return Ok(());
    }
    fx.emit(
        Op::Cvta {
            to_generic: !to,
            space: sp,
            d,
            a,
        },
        line,
        g,
    );
    Ok(())
}

/// `isspacep.space p, a`.
pub(super) fn compile_isspacep(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let sp = need(space_mod(&mut m), ins, "a state space")?;
    m.finish()?;
    nops(ins, 2)?;
    let d = pdst(fx, &ins.operands[0], ins)?;
    let a = src(fx, &ins.operands[1], Ty::U64, false, ins)?;
    fx.emit(Op::IsSpace { space: sp, d, a }, line, g);
    Ok(())
}
