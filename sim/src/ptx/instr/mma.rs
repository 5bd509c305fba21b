//! Warp matrix instructions: `mma.sync.aligned.m8n8k4.row.col.f64`, and `wmma.load`,
//! `wmma.mma`, `wmma.store` (shape m16n16k16; A and B in f16, C and D in f32 or f16). The wmma
//! fragment layout is the engine's own (see `exec::tensor`); load, mma and store agree on it,
//! as the ISA requires of any implementation.

use super::form::{mismatch, need_sm, nops, unknown, unsupported, Mods};
use super::operands::{address, src, vec_regs};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

pub(super) fn compile_mma(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let ok = m.has("sync") && m.has("aligned");
    if !ok {
        return mismatch(line, &ins.opcode, "mma needs .sync.aligned");
    }
    need_sm(fx, ins, "mma with .f64", 80)?;
    if !m.has("m8n8k4") {
        return unsupported(line, &ins.opcode, "only mma m8n8k4 with f64 is implemented");
    }
    if !(m.has("row") && m.has("col")) {
        return unsupported(line, &ins.opcode, "m8n8k4 f64 is .row.col");
    }
    let tys = m.types();
    m.finish()?;
    if tys != [Ty::F64, Ty::F64, Ty::F64, Ty::F64] {
        return unsupported(line, &ins.opcode, "only mma m8n8k4 with f64 is implemented");
    }
    nops(ins, 4)?;
    let d = vec_regs(fx, &ins.operands[0], 2, Ty::F64, true, ins)?;
    let a = vec_regs(fx, &ins.operands[1], 1, Ty::F64, false, ins)?;
    let b = vec_regs(fx, &ins.operands[2], 1, Ty::F64, false, ins)?;
    let c = vec_regs(fx, &ins.operands[3], 2, Ty::F64, false, ins)?;
    fx.emit(
        Op::Mma(Box::new(MmaSpec {
            d: [d[0], d[1]],
            a: a[0],
            b: b[0],
            c: [c[0], c[1]],
        })),
        line,
        g,
    );
    Ok(())
}

fn bad<T>(ins: &InstrAst, why: &str) -> CResult<T> {
    unsupported(ins.line, &ins.opcode, why)
}

/// Registers of a fragment: A/B f16 → 8 × .b32 (f16x2), C/D f32 → 8 × .f32, C/D f16 → 4.
fn frag_regs(frag: WmmaFrag, ty: Ty) -> usize {
    match (frag, ty) {
        (WmmaFrag::C, Ty::F16) => 4,
        _ => 8,
    }
}

fn reg_ty(ty: Ty) -> Ty {
    match ty {
        Ty::F32 => Ty::F32,
        _ => Ty::B32,
    }
}

pub(super) fn compile_wmma(fx: &mut Fx, ins: &InstrAst, mods: Vec<&str>, g: Guard) -> CResult<()> {
    need_sm(fx, ins, "wmma", 70)?;
    let mut it = mods.iter().copied();
    let verb = it.next().unwrap_or("");
    let mut rest: Vec<&str> = it.collect();
    let mut take = |m: &str| -> bool {
        if let Some(p) = rest.iter().position(|x| *x == m) {
            rest.remove(p);
            true
        } else {
            false
        }
    };
    if !(take("sync") && take("aligned")) {
        return cerr(ins.line, format!("'{}' needs .sync.aligned", ins.opcode));
    }
    if !take("m16n16k16") {
        return bad(ins, "only the m16n16k16 shape is implemented");
    }
    match verb {
        "load" | "store" => {
            let frag = if verb == "store" {
                if !take("d") {
                    return bad(ins, "wmma.store stores .d");
                }
                WmmaFrag::C
            } else if take("a") {
                WmmaFrag::A
            } else if take("b") {
                WmmaFrag::B
            } else if take("c") {
                WmmaFrag::C
            } else {
                return bad(ins, "wmma.load needs .a, .b or .c");
            };
            let row_major = if take("row") {
                true
            } else if take("col") {
                false
            } else {
                return bad(ins, "needs .row or .col");
            };
            let space = if take("shared") || take("shared::cta") {
                MemSpace::Shared
            } else if take("global") {
                MemSpace::Global
            } else {
                MemSpace::Generic
            };
            let ty = if take("f16") {
                Ty::F16
            } else if take("f32") {
                Ty::F32
            } else {
                return bad(ins, "only .f16 and .f32 fragments are implemented");
            };
            if let Some(x) = rest.first() {
                return bad(ins, &format!("modifier '.{x}'"));
            }
            if frag != WmmaFrag::C && ty != Ty::F16 {
                return bad(ins, "A and B fragments must be .f16");
            }
            let nregs = frag_regs(frag, ty);
            let (regs_op, addr_op, stride_op) = match (verb, ins.operands.as_slice()) {
                ("load", [r, a]) => (r, a, None),
                ("load", [r, a, s]) => (r, a, Some(s)),
                ("store", [a, r]) => (r, a, None),
                ("store", [a, r, s]) => (r, a, Some(s)),
                _ => return cerr(ins.line, format!("'{}': wrong operands", ins.opcode)),
            };
            let regs = vec_regs(fx, regs_op, nregs, reg_ty(ty), verb == "load", ins)?;
            let (loc, addr, off) = address(fx, addr_op, ins)?;
            let space = match loc {
                Some(l) => l.space(),
                None => space,
            };
            let stride = match stride_op {
                Some(s) => Some(src(fx, s, Ty::U32, false, ins)?.slot()),
                None => None,
            };
            let spec = Box::new(WmmaLdSt {
                frag,
                row_major,
                space,
                ty,
                regs,
                addr,
                off,
                stride,
            });
            let op = if verb == "load" {
                Op::WmmaLoad(spec)
            } else {
                Op::WmmaStore(spec)
            };
            fx.emit(op, ins.line, g);
            Ok(())
        }
        "mma" => {
            // wmma.mma.sync.aligned.alayout.blayout.shape.dtype.ctype
            let mut lay = Vec::new();
            for x in rest.iter() {
                if *x == "row" || *x == "col" {
                    lay.push(*x);
                }
            }
            rest.retain(|x| *x != "row" && *x != "col");
            if lay.len() != 2 {
                return bad(ins, "wmma.mma needs .alayout.blayout");
            }
            if rest.contains(&"satfinite") {
                return bad(ins, ".satfinite is not implemented");
            }
            let tys: Vec<Ty> = rest.iter().filter_map(|x| Ty::parse(x)).collect();
            if tys.len() != rest.len() || tys.len() != 2 {
                return bad(ins, "wmma.mma needs .dtype.ctype (f16/f32)");
            }
            let (dty, cty) = (tys[0], tys[1]);
            if !matches!(dty, Ty::F16 | Ty::F32) || !matches!(cty, Ty::F16 | Ty::F32) {
                return bad(
                    ins,
                    "only f16 inputs with f16/f32 accumulators are implemented",
                );
            }
            let [d, a, b, c] = ins.operands.as_slice() else {
                return cerr(ins.line, format!("'{}' takes 4 operands", ins.opcode));
            };
            let d = vec_regs(fx, d, frag_regs(WmmaFrag::C, dty), reg_ty(dty), true, ins)?;
            let a = vec_regs(fx, a, 8, Ty::B32, false, ins)?;
            let b = vec_regs(fx, b, 8, Ty::B32, false, ins)?;
            let c = vec_regs(fx, c, frag_regs(WmmaFrag::C, cty), reg_ty(cty), false, ins)?;
            fx.emit(
                Op::WmmaMma(Box::new(WmmaMma {
                    d,
                    a,
                    b,
                    c,
                    dty,
                    cty,
                })),
                ins.line,
                g,
            );
            Ok(())
        }
        _ => unknown(ins.line, &ins.opcode),
    }
}
