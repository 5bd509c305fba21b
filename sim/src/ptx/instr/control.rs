//! Control flow: bra, and ret (an exit from the entry, a branch to the end of an inlined
//! `.func`).

use super::form::{nops, Mods};
use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

/// `bra{.uni} label`.
pub(super) fn compile_bra(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    m.has("uni");
    m.finish()?;
    nops(ins, 1)?;
    let Operand::Name(label, 0) = &ins.operands[0] else {
        return cerr(line, "bra needs a label");
    };
    let at = fx.emit(Op::Bra { target: 0 }, line, g);
    fx.branch_to(at, label, line);
    Ok(())
}

/// `ret{.uni}`: the end of the entry (an exit), or in an inlined `.func` a branch to the end of
/// its body.
pub(super) fn compile_ret(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    m.has("uni");
    m.finish()?;
    match fx.ret_target.clone() {
        Some((ns, label)) => {
            let at = fx.emit(Op::Bra { target: 0 }, line, g);
            let cur = fx.ns;
            fx.set_ns(ns);
            fx.branch_to(at, &label, line);
            fx.set_ns(cur);
        }
        None => {
            fx.emit(Op::Exit, line, g);
        }
    }
    Ok(())
}
