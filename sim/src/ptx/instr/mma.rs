//! Warp matrix instructions: `mma.sync.aligned.m8n8k4.row.col.f64`.

use super::form::{mismatch, need_sm, nops, unsupported, Mods};
use super::operands::vec_regs;
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
