//! Control flow: bra; call of a `.func`, and ret.
//!
//! `call`: the callee's body is compiled in place (inlined) with fresh registers and labels.
//! Parameters and return values live in the thread's local frame: a caller's `.param` variable
//! and the callee's formal name denote the same bytes; a register or an immediate argument is
//! stored into a fresh frame slot first. `ret` in the callee branches to the end of its inlined
//! body, so divergent returns reconverge there; `ret` in the entry is an exit.

use super::compile_body;
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

fn param_bytes(p: &ParamDecl) -> CResult<(u64, u64)> {
    let Some(eb) = type_bytes(&p.ty) else {
        return cerr(p.line, format!("bad parameter type '{}'", p.ty));
    };
    let mut n = 1u64;
    for d in &p.dims {
        match d {
            Some(k) => n = n.saturating_mul(*k),
            None => return cerr(p.line, "unsized parameter"),
        }
    }
    Ok((eb * n, p.align.map_or(eb, u64::from).max(1)))
}

/// Compiles `call{.uni} (rets), f, (args);` by inlining `f`.
pub(super) fn compile_call(fx: &mut Fx, ins: &InstrAst, _m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    if !matches!(ins.opcode.as_str(), "call" | "call.uni") {
        return cerr(
            line,
            format!(
                "instruction '{}' is not supported by gpugate-sim",
                ins.opcode
            ),
        );
    }
    if g.is_some() {
        return cerr(
            line,
            "a predicated call is not supported by gpugate-sim (branch around it instead)",
        );
    }
    let ops = &ins.operands;
    let (rets, name, args) = match ops.as_slice() {
        [Operand::Name(f, 0)] => (&[][..], f, &[][..]),
        [Operand::Name(f, 0), Operand::List(a)] => (&[][..], f, a.as_slice()),
        [Operand::List(r), Operand::Name(f, 0)] => (r.as_slice(), f, &[][..]),
        [Operand::List(r), Operand::Name(f, 0), Operand::List(a)] => {
            (r.as_slice(), f, a.as_slice())
        }
        _ => {
            return cerr(
                line,
                "call form not supported by gpugate-sim (indirect calls and prototypes)",
            )
        }
    };
    let Some(callee) = fx.m.funcs.get(name.as_str()).copied() else {
        return cerr(line, format!("call of undefined function '{name}'"));
    };
    let Some(body) = &callee.body else {
        return cerr(
            line,
            format!("call of external function '{name}' is not supported by gpugate-sim"),
        );
    };
    if callee.kind != FuncKind::Func {
        return cerr(line, format!("call of entry '{name}'"));
    }
    if fx.call_stack.iter().any(|f| f == name) || fx.call_stack.len() > 64 {
        return cerr(
            line,
            format!("recursive call of '{name}' is not supported by gpugate-sim"),
        );
    }
    if rets.len() != callee.rets.len() || args.len() != callee.params.len() {
        return cerr(line, format!("call of '{name}': wrong number of arguments"));
    }
    // Bind formals to frame locations (resolved in the caller's scope).
    let mut binds: Vec<(String, SymLoc)> = Vec::new();
    let mut copy_out: Vec<(Opnd, Ty, u64)> = Vec::new();
    for (formal, actual) in callee.params.iter().zip(args) {
        if formal.space != ".param" {
            return cerr(
                formal.line,
                ".reg parameters are not supported by gpugate-sim",
            );
        }
        let (size, align) = param_bytes(formal)?;
        match actual {
            Operand::Name(n, 0) => match fx.resolve(n, line)? {
                Resolved::Var(l @ SymLoc::Local(_)) => binds.push((formal.name.clone(), l)),
                Resolved::Reg(o, rt) => {
                    let off = fx.alloc_local(size.max(rt.bytes() as u64), align);
                    frame_access(fx, true, off, o, rt, line);
                    binds.push((formal.name.clone(), SymLoc::Local(off)));
                }
                _ => return cerr(line, format!("argument '{n}' cannot be passed")),
            },
            Operand::Imm(n) => {
                let ty = Ty::parse(&formal.ty).unwrap_or(Ty::B32);
                let Some(bits) = imm_bits(*n, ty) else {
                    return cerr(line, "immediate argument does not fit");
                };
                let v = fx.const_slot(bits, ty.wide());
                let off = fx.alloc_local(size, align);
                frame_access(fx, true, off, v, ty, line);
                binds.push((formal.name.clone(), SymLoc::Local(off)));
            }
            _ => return cerr(line, "bad call argument"),
        }
    }
    for (formal, actual) in callee.rets.iter().zip(rets) {
        let (size, align) = param_bytes(formal)?;
        match actual {
            Operand::Name(n, 0) => match fx.resolve(n, line)? {
                Resolved::Var(l @ SymLoc::Local(_)) => binds.push((formal.name.clone(), l)),
                Resolved::Reg(o, rt) => {
                    let off = fx.alloc_local(size.max(rt.bytes() as u64), align);
                    binds.push((formal.name.clone(), SymLoc::Local(off)));
                    copy_out.push((o, rt, off));
                }
                _ => return cerr(line, format!("return value '{n}' cannot be received")),
            },
            _ => return cerr(line, "bad call return operand"),
        }
    }
    fx.push_scope();
    for (n, l) in &binds {
        fx.declare_var(n, *l);
    }
    let saved_ns = fx.enter_ns();
    let ret_label = fx.fresh_label();
    let saved_ret = fx.ret_target.replace((fx.ns, ret_label.clone()));
    let saved_entry = std::mem::replace(&mut fx.is_entry_ns, false);
    fx.call_stack.push(name.clone());
    let r = compile_body(fx, body);
    fx.call_stack.pop();
    let r = r.and_then(|_| fx.define_label(&ret_label, line));
    fx.ret_target = saved_ret;
    fx.is_entry_ns = saved_entry;
    fx.set_ns(saved_ns);
    fx.pop_scope();
    r?;
    for (o, ty, off) in copy_out {
        frame_access(fx, false, off, o, ty, line);
    }
    Ok(())
}

/// Stores register `v` (of type `ty`) to the frame slot at local offset `off`, or loads it
/// from there.
fn frame_access(fx: &mut Fx, store: bool, off: u64, v: Opnd, ty: Ty, line: u32) {
    let addr = fx.const_slot(off, true);
    let spec = Box::new(MemSpec {
        space: MemSpace::Local,
        elem: ty.bytes() as u8,
        n: 1,
        sext: false,
        ty,
        data: vec![Some(v)],
        addr,
        off: 0,
    });
    let op = if store { Op::St(spec) } else { Op::Ld(spec) };
    fx.emit(op, line, None);
}
