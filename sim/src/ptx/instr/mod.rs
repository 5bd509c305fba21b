//! Instruction selection: one PTX instruction (opcode, modifiers, operands) → IR ops. Every
//! modifier must be understood: an unknown one fails the load naming the instruction, never a
//! silent skip.
//!
//! [`compile_instr`] dispatches on the opcode to the `compile_*` of the instruction's family,
//! one file each (the map of opcodes to files is in the documentation of `crate::ptx`, in
//! `ptx/mod.rs`). What the families share: `form.rs` (the modifier set [`Mods`], the operand
//! count, the errors a wrong form gives) and `operands.rs` (sources, destinations, predicates,
//! addresses and state spaces as slots).

use super::ast::*;
use super::compile::*;
use crate::ir::*;

mod arith;
mod bits;
mod collective;
mod compare;
mod control;
mod cvt;
mod form;
mod memory;
mod mma;
mod mov;
mod operands;

use form::{emit_plain, unknown, unsupported, Mods};
use operands::space_mod;

/// What one statement compiles to is appended to `fx.prog`.
pub(crate) fn compile_body(fx: &mut Fx, stmts: &[Stmt]) -> CResult<()> {
    for s in stmts {
        match s {
            Stmt::Label(name, line) => fx.define_label(name, *line)?,
            Stmt::Reg(d) => fx.declare_reg(d)?,
            Stmt::Var(v) => fx.declare_local_var(v)?,
            Stmt::Block(inner) => {
                fx.push_scope();
                let r = compile_body(fx, inner);
                fx.pop_scope();
                r?;
            }
            Stmt::Instr(ins) => compile_instr(fx, ins)?,
        }
    }
    Ok(())
}

/// Compiles one instruction: its family's `compile_*` by opcode. The instructions without
/// operands that compile to one op (or to nothing) are compiled here.
pub(crate) fn compile_instr(fx: &mut Fx, ins: &InstrAst) -> CResult<()> {
    let g = guard(fx, ins)?;
    let base = ins.opcode.split('.').next().unwrap_or("");
    let line = ins.line;
    let mut m = Mods::new(&ins.opcode, line);
    match base {
        "mov" => mov::compile_mov(fx, ins, m, g),
        "cvt" => cvt::compile_cvt(fx, ins, m, g),
        "add" | "sub" | "mul" | "mad" | "fma" | "div" | "rem" | "mul24" | "mad24" | "sad" => {
            arith::compile_arith(fx, ins, base, m, g)
        }
        "abs" | "neg" | "not" | "cnot" | "popc" | "clz" | "brev" | "bfind" | "rcp" | "sqrt"
        | "rsqrt" | "ex2" | "lg2" | "sin" | "cos" | "tanh" => {
            arith::compile_unary(fx, ins, base, m, g)
        }
        "min" | "max" | "and" | "or" | "xor" | "shl" | "shr" | "copysign" => {
            arith::compile_binary(fx, ins, base, m, g)
        }
        "bfe" | "bfi" | "prmt" | "lop3" | "shf" | "slct" | "dp4a" | "dp2a" => {
            bits::compile_bits(fx, ins, base, m, g)
        }
        "setp" | "set" => compare::compile_setp(fx, ins, base == "set", m, g),
        "selp" => compare::compile_selp(fx, ins, m, g),
        "testp" => compare::compile_testp(fx, ins, m, g),
        "ld" | "ldu" | "st" => memory::compile_ldst(fx, ins, base == "st", m, g),
        "atom" | "red" => memory::compile_atom(fx, ins, base == "red", m, g),
        "cp" => memory::compile_cp(fx, ins, m, g),
        "cvta" => memory::compile_cvta(fx, ins, m, g),
        "isspacep" => memory::compile_isspacep(fx, ins, m, g),
        "bar" | "barrier" => collective::compile_bar(fx, ins, base, m, g),
        "shfl" => collective::compile_shfl(fx, ins, m, g),
        "vote" => collective::compile_vote(fx, ins, m, g),
        "activemask" => collective::compile_activemask(fx, ins, m, g),
        "redux" => collective::compile_redux(fx, ins, m, g),
        "mma" => mma::compile_mma(fx, ins, m, g),
        "wmma" => mma::compile_wmma(fx, ins, m.list.clone(), g),
        "bra" => control::compile_bra(fx, ins, m, g),
        "ret" => control::compile_ret(fx, ins, m, g),
        "call" => control::compile_call(fx, ins, m, g),
        "exit" => emit_plain(fx, ins, m, Op::Exit, g),
        "trap" | "brkpt" => emit_plain(fx, ins, m, Op::Trap, g),
        "membar" | "fence" => {
            m.one_of(&["cta", "gl", "sys", "gpu", "cluster"]);
            m.one_of(&["sc", "acq_rel"]);
            emit_plain(fx, ins, m, Op::Nop, g)
        }
        "nanosleep" | "pmevent" => {
            m.has("u32");
            m.has("mask");
            emit_plain(fx, ins, m, Op::Nop, g)
        }
        "prefetch" | "prefetchu" => {
            space_mod(&mut m);
            m.one_of(&["L1", "L2", "L2::evict_last", "L2::evict_normal"]);
            emit_plain(fx, ins, m, Op::Nop, g)
        }
        "ldmatrix" | "stmatrix" | "movmatrix" | "wgmma" | "tex" | "tld4" | "txq" | "suld"
        | "sust" | "sured" | "suq" | "mbarrier" | "elect" | "griddepcontrol" | "tcgen05"
        | "getctarank" | "mapa" | "multimem" | "alloca" | "stacksave" | "stackrestore"
        | "match" | "brx" | "addc" | "subc" | "madc" | "setmaxnreg" | "istypep" | "fns"
        | "bmsk" | "szext" | "bfind.shiftamt" | "createpolicy" | "discard" | "applypriority" => {
            unsupported(line, &ins.opcode, "not implemented")
        }
        _ => unknown(line, &ins.opcode),
    }
}

fn guard(fx: &mut Fx, ins: &InstrAst) -> CResult<Guard> {
    match &ins.guard {
        None => Ok(None),
        Some((name, neg)) => match fx.resolve(name, ins.line)? {
            Resolved::Pred(s) => Ok(Some((s, *neg))),
            _ => cerr(ins.line, format!("guard '{name}' is not a predicate")),
        },
    }
}
