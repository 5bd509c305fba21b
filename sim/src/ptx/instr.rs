//! Instruction selection: one PTX instruction (opcode, modifiers, operands) → IR ops. Every
//! modifier must be understood: an unknown one fails the load naming the instruction, never a
//! silent skip.

use super::ast::*;
use super::compile::*;
use super::lex::Number;
use crate::ir::*;

/// The modifiers of an opcode, each consumed at most once; leftovers are an error.
struct Mods<'s> {
    opcode: &'s str,
    list: Vec<&'s str>,
    used: Vec<bool>,
    line: u32,
}

impl<'s> Mods<'s> {
    fn new(opcode: &'s str, line: u32) -> Mods<'s> {
        let list: Vec<&str> = opcode.split('.').skip(1).collect();
        let used = vec![false; list.len()];
        Mods {
            opcode,
            list,
            used,
            line,
        }
    }

    /// Consumes the first unused modifier that `f` makes something of.
    fn take<T>(&mut self, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        for (i, x) in self.list.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            if let Some(v) = f(x) {
                self.used[i] = true;
                return Some(v);
            }
        }
        None
    }

    /// Consumes modifier `m` if present.
    fn has(&mut self, m: &str) -> bool {
        self.take(|x| (x == m).then_some(())).is_some()
    }

    /// Consumes the first unused modifier among `opts`.
    fn one_of(&mut self, opts: &[&'static str]) -> Option<&'static str> {
        self.take(|x| opts.iter().copied().find(|o| *o == x))
    }

    /// Consumes the first unused modifier named in `table`; its value.
    fn pick<T: Copy>(&mut self, table: &[(&str, T)]) -> Option<T> {
        self.take(|x| table.iter().find(|(k, _)| *k == x).map(|(_, v)| *v))
    }

    /// [`Mods::pick`], or the error that the instruction needs one of the table (`why`).
    fn pick_or<T: Copy>(&mut self, table: &[(&str, T)], why: &str) -> CResult<T> {
        match self.pick(table) {
            Some(v) => Ok(v),
            None => mismatch(self.line, self.opcode, why),
        }
    }

    /// Consumes every type modifier, in order.
    fn types(&mut self) -> Vec<Ty> {
        std::iter::from_fn(|| self.take(Ty::parse)).collect()
    }

    /// Exactly one type.
    fn ty(&mut self) -> CResult<Ty> {
        let t = self.types();
        match t.as_slice() {
            [t] => Ok(*t),
            [] => cerr(
                self.line,
                format!("instruction '{}' needs a type", self.opcode),
            ),
            _ => cerr(
                self.line,
                format!("instruction '{}' has more than one type", self.opcode),
            ),
        }
    }

    /// Consumes modifiers that only hint at caching or memory ordering.
    fn drop_hints(&mut self) {
        let hint = |x: &str| {
            let h = matches!(
                x,
                "ca" | "cg"
                    | "cs"
                    | "lu"
                    | "cv"
                    | "wb"
                    | "wt"
                    | "volatile"
                    | "relaxed"
                    | "acquire"
                    | "release"
                    | "acq_rel"
                    | "weak"
                    | "sc"
                    | "cta"
                    | "gpu"
                    | "sys"
                    | "unified"
            ) || x.starts_with("L1::")
                || x.starts_with("L2::")
                || x.starts_with("level::");
            h.then_some(())
        };
        while self.take(hint).is_some() {}
    }

    fn rnd(&mut self) -> Option<Rnd> {
        self.pick(&[
            ("rn", Rnd::Rn),
            ("rz", Rnd::Rz),
            ("rm", Rnd::Rm),
            ("rp", Rnd::Rp),
            ("rna", Rnd::Rna),
        ])
    }

    fn finish(self) -> CResult<()> {
        for (i, x) in self.list.iter().enumerate() {
            if !self.used[i] {
                return cerr(
                    self.line,
                    format!(
                        "instruction '{}': modifier '.{}' is not supported by gpugate-sim",
                        self.opcode, x
                    ),
                );
            }
        }
        Ok(())
    }
}

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

pub(crate) fn unknown<T>(line: u32, opcode: &str) -> CResult<T> {
    cerr(
        line,
        format!("Not a name of any known instruction: '{opcode}'"),
    )
}

pub(crate) fn unsupported<T>(line: u32, opcode: &str, why: &str) -> CResult<T> {
    cerr(
        line,
        format!("instruction '{opcode}' is not supported by gpugate-sim ({why})"),
    )
}

fn nops(ins: &InstrAst, n: usize) -> CResult<()> {
    if ins.operands.len() != n {
        return cerr(
            ins.line,
            format!(
                "instruction '{}' takes {} operands, found {}",
                ins.opcode,
                n,
                ins.operands.len()
            ),
        );
    }
    Ok(())
}

fn mismatch<T>(line: u32, opcode: &str, what: &str) -> CResult<T> {
    cerr(
        line,
        format!("Arguments mismatch for instruction '{opcode}': {what}"),
    )
}

/// `v`, or the error that the instruction needs `what` (a modifier).
fn need<T>(v: Option<T>, ins: &InstrAst, what: &str) -> CResult<T> {
    v.ok_or_else(|| CompileError {
        line: ins.line,
        msg: format!("instruction '{}' needs {what}", ins.opcode),
    })
}

/// Fails unless the module's target is at least sm_`sm`, as ptxas does for `feature`.
pub(crate) fn need_sm(fx: &Fx, ins: &InstrAst, feature: &str, sm: u32) -> CResult<()> {
    if fx.m.sm < sm {
        return cerr(
            ins.line,
            format!(
                "Feature '{feature}' requires .target sm_{sm} or higher ('{}')",
                ins.opcode
            ),
        );
    }
    Ok(())
}

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

/// `mov` within one bank.
fn mov_op(d: Opnd, a: Opnd, wide: bool) -> Op {
    by_width!(
        wide,
        Mov32,
        Mov64 {
            d: d.slot(),
            a: a.slot()
        }
    )
}

/// `d = a` (`invert`: `d = !a`) on predicates.
fn pred_copy(d: Slot, a: Slot, invert: bool) -> Op {
    if invert {
        Op::Pred {
            f: PredOp::Not,
            d,
            a,
            b: a,
        }
    } else {
        Op::MovPred { d, a }
    }
}

/// Operands `first..first + N` as value sources of types `tys` (registers of exactly that
/// size), in order.
fn srcs<const N: usize>(
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

/// The membermask operand `k` of a `.sync` warp collective; [`NO_MEMBERMASK`] (the executing
/// lanes) for the pre-sm_70 form without one.
fn membermask(fx: &mut Fx, ins: &InstrAst, sync: bool, k: usize) -> CResult<Slot> {
    if sync {
        Ok(src(fx, &ins.operands[k], Ty::B32, false, ins)?.slot())
    } else {
        Ok(NO_MEMBERMASK)
    }
}

/// Emits `op` once every modifier is accounted for.
fn emit_plain(fx: &mut Fx, ins: &InstrAst, m: Mods, op: Op, g: Guard) -> CResult<()> {
    m.finish()?;
    fx.emit(op, ins.line, g);
    Ok(())
}

/// A value source of type `ty`: a register of that size (wider if `relaxed`), an immediate,
/// a special register, or a variable's address.
pub(crate) fn src(
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

/// A destination register of type `ty` (wider if `relaxed`).
fn dst(fx: &mut Fx, op: &Operand, ty: Ty, relaxed: bool, ins: &InstrAst) -> CResult<Opnd> {
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
fn psrc(fx: &mut Fx, op: &Operand, ins: &InstrAst) -> CResult<(Slot, bool)> {
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

fn pdst(fx: &mut Fx, op: &Operand, ins: &InstrAst) -> CResult<Slot> {
    match op {
        Operand::Name(n, 0) => match fx.resolve(n, ins.line)? {
            Resolved::Pred(s) => Ok(s),
            _ => mismatch(ins.line, &ins.opcode, &format!("'{n}' is not a predicate")),
        },
        _ => mismatch(ins.line, &ins.opcode, "expected a predicate destination"),
    }
}

/// An address operand: (the variable's location if the base is a variable, the base operand,
/// the offset).
pub(crate) fn address(
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
fn access_space(
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

fn space_mod(m: &mut Mods) -> Option<MemSpace> {
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

fn float_kind(ty: Ty) -> u8 {
    match ty {
        Ty::F32 => FLOPS_F32,
        Ty::F64 => FLOPS_F64,
        Ty::F16 | Ty::F16x2 | Ty::BF16 | Ty::BF16x2 => FLOPS_F16,
        _ => FLOPS_NONE,
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

/// A generic ALU op with the defaults: round to nearest, no `.ftz`/`.sat`/`.approx`, `e` = `a`,
/// `cty` = `ty`.
fn alu(f: AluFn, ty: Ty, d: Opnd, a: Opnd, b: Opnd, c: Opnd) -> AluSpec {
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

fn alu_op(s: AluSpec) -> Op {
    Op::Alu(Box::new(s))
}

/// Compiles one instruction.
pub(crate) fn compile_instr(fx: &mut Fx, ins: &InstrAst) -> CResult<()> {
    let g = guard(fx, ins)?;
    let base = ins.opcode.split('.').next().unwrap_or("");
    let line = ins.line;
    let mut m = Mods::new(&ins.opcode, line);
    match base {
        "mov" => compile_mov(fx, ins, m, g),
        "add" | "sub" | "mul" | "mad" | "fma" | "div" | "rem" | "mul24" | "mad24" | "sad" => {
            compile_arith(fx, ins, base, m, g)
        }
        "abs" | "neg" | "not" | "cnot" | "popc" | "clz" | "brev" | "bfind" | "rcp" | "sqrt"
        | "rsqrt" | "ex2" | "lg2" | "sin" | "cos" | "tanh" => compile_unary(fx, ins, base, m, g),
        "min" | "max" | "and" | "or" | "xor" | "shl" | "shr" | "copysign" => {
            compile_binary(fx, ins, base, m, g)
        }
        "bfe" | "bfi" | "prmt" | "lop3" | "shf" | "slct" | "dp4a" | "dp2a" => {
            compile_bits(fx, ins, base, m, g)
        }
        "setp" | "set" => compile_setp(fx, ins, base == "set", m, g),
        "selp" => {
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 4)?;
            let d = dst(fx, &ins.operands[0], ty, false, ins)?;
            let [mut a, mut b] = srcs(fx, ins, 1, [ty, ty])?;
            let (p, neg) = psrc(fx, &ins.operands[3], ins)?;
            if neg {
                std::mem::swap(&mut a, &mut b);
            }
            let (d, a, b) = (d.slot(), a.slot(), b.slot());
            fx.emit(by_width!(ty.wide(), Selp32, Selp64 { d, a, b, p }), line, g);
            Ok(())
        }
        "cvt" => compile_cvt(fx, ins, m, g),
        "cvta" => compile_cvta(fx, ins, m, g),
        "isspacep" => {
            let sp = need(space_mod(&mut m), ins, "a state space")?;
            m.finish()?;
            nops(ins, 2)?;
            let d = pdst(fx, &ins.operands[0], ins)?;
            let a = src(fx, &ins.operands[1], Ty::U64, false, ins)?;
            fx.emit(Op::IsSpace { space: sp, d, a }, line, g);
            Ok(())
        }
        "ld" | "ldu" | "st" => compile_ldst(fx, ins, base == "st", m, g),
        "atom" | "red" => compile_atom(fx, ins, base == "red", m, g),
        "cp" => compile_cp(fx, ins, m, g),
        "bar" | "barrier" => compile_bar(fx, ins, base, m, g),
        "bra" => {
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
        "ret" => {
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
        "call" => super::inline::compile_call(fx, ins, m, g),
        "shfl" => compile_shfl(fx, ins, m, g),
        "vote" => compile_vote(fx, ins, m, g),
        "activemask" => {
            m.has("b32");
            m.finish()?;
            nops(ins, 1)?;
            let d = dst(fx, &ins.operands[0], Ty::B32, false, ins)?;
            fx.emit(Op::ActiveMask { d: d.slot() }, line, g);
            Ok(())
        }
        "redux" => compile_redux(fx, ins, m, g),
        "mma" => compile_mma(fx, ins, m, g),
        "wmma" => super::tensor::compile_wmma(fx, ins, m.list.clone(), g),
        "testp" => {
            let test = m.pick(&[
                ("finite", 0),
                ("infinite", 1),
                ("number", 2),
                ("notanumber", 3),
                ("normal", 4),
                ("subnormal", 5),
            ]);
            let test = need(test, ins, "a test")?;
            let ty = m.ty()?;
            m.finish()?;
            nops(ins, 2)?;
            if ty != Ty::F32 && ty != Ty::F64 {
                return mismatch(line, &ins.opcode, "testp needs .f32 or .f64");
            }
            let d = pdst(fx, &ins.operands[0], ins)?;
            let a = src(fx, &ins.operands[1], ty, false, ins)?;
            fx.emit(Op::Testp { test, ty, d, a }, line, g);
            Ok(())
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

fn compile_mov(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, 2)?;
    let (d_op, a_op) = (&ins.operands[0], &ins.operands[1]);
    if ty == Ty::Pred {
        let d = pdst(fx, d_op, ins)?;
        let (a, neg) = psrc(fx, a_op, ins)?;
        fx.emit(pred_copy(d, a, neg), line, g);
        return Ok(());
    }
    // `{a, b}`: the part width and type of a vector of `n` parts packing a `ty`.
    let parts_of = |n: usize| -> CResult<(u32, Ty)> {
        let n = n as u32;
        if !(n == 2 || n == 4) || ty.bits() % n != 0 || ty.bits() / n < 8 {
            return mismatch(line, &ins.opcode, "bad vector operand");
        }
        let pb = ty.bits() / n;
        let pty = match pb {
            8 => Ty::B8,
            16 => Ty::B16,
            _ => Ty::B32,
        };
        Ok((pb, pty))
    };
    if let Operand::Vector(parts) = a_op {
        let (pb, pty) = parts_of(parts.len())?;
        let d = dst(fx, d_op, ty, false, ins)?;
        let mut ps = Vec::new();
        for p in parts {
            ps.push(src(fx, p, pty, pb == 8, ins)?);
        }
        fx.emit(
            Op::Pack {
                d,
                parts: ps.into_boxed_slice(),
                part_bits: pb as u8,
            },
            line,
            g,
        );
        return Ok(());
    }
    if let Operand::Vector(parts) = d_op {
        let (pb, pty) = parts_of(parts.len())?;
        let a = src(fx, a_op, ty, false, ins)?;
        let mut ps = Vec::new();
        for p in parts {
            ps.push(match p {
                Operand::Sink => None,
                _ => Some(dst(fx, p, pty, pb == 8, ins)?),
            });
        }
        fx.emit(
            Op::Unpack {
                a,
                parts: ps.into_boxed_slice(),
                part_bits: pb as u8,
            },
            line,
            g,
        );
        return Ok(());
    }
    if let Operand::Name(n, 0) = a_op {
        if let Resolved::Dyn(which) = fx.resolve(n, line)? {
            let d = dst(fx, d_op, ty, false, ins)?;
            fx.emit(ReadDynOp(d, which), line, g);
            return Ok(());
        }
    }
    let d = dst(fx, d_op, ty, false, ins)?;
    let a = src(fx, a_op, ty, false, ins)?;
    fx.emit(mov_op(d, a, ty.wide()), line, g);
    Ok(())
}

#[allow(non_snake_case)]
fn ReadDynOp(d: Opnd, which: Dyn) -> Op {
    Op::ReadDyn { d, which }
}

fn compile_arith(fx: &mut Fx, ins: &InstrAst, base: &str, mut m: Mods, g: Guard) -> CResult<()> {
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
    let plain_f = float && matches!(rnd, None | Some(Rnd::Rn)) && !ftz && !sat;
    let (sd, sa, sb, sc) = (d.slot(), a.slot(), b.slot(), c.slot());
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
        _ => {
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
            if (f == AluFn::Mul24Lo
                || f == AluFn::Mul24Hi
                || f == AluFn::Mad24Lo
                || f == AluFn::Mad24Hi)
                && ty.bits() != 32
            {
                return mismatch(line, &ins.opcode, "mul24/mad24 need a 32-bit type");
            }
            alu_op(AluSpec {
                rnd: rnd.unwrap_or(Rnd::Rn),
                ftz,
                sat,
                approx: approx || full,
                ..alu(f, ty, d, a, b, c)
            })
        }
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

fn compile_unary(fx: &mut Fx, ins: &InstrAst, base: &str, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_binary(fx: &mut Fx, ins: &InstrAst, base: &str, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_bits(fx: &mut Fx, ins: &InstrAst, base: &str, mut m: Mods, g: Guard) -> CResult<()> {
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

/// The comparisons of setp/set: (modifier, operation, whether it forces an unsigned compare).
const COMPARISONS: [(&str, CmpOp, bool); 18] = [
    ("eq", CmpOp::Eq, false),
    ("ne", CmpOp::Ne, false),
    ("lt", CmpOp::Lt, false),
    ("le", CmpOp::Le, false),
    ("gt", CmpOp::Gt, false),
    ("ge", CmpOp::Ge, false),
    ("lo", CmpOp::Lt, true),
    ("ls", CmpOp::Le, true),
    ("hi", CmpOp::Gt, true),
    ("hs", CmpOp::Ge, true),
    ("equ", CmpOp::Equ, false),
    ("neu", CmpOp::Neu, false),
    ("ltu", CmpOp::Ltu, false),
    ("leu", CmpOp::Leu, false),
    ("gtu", CmpOp::Gtu, false),
    ("geu", CmpOp::Geu, false),
    ("num", CmpOp::Num, false),
    ("nan", CmpOp::Nan, false),
];

fn compile_setp(fx: &mut Fx, ins: &InstrAst, is_set: bool, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    // The first comparison of the table that is present (a second one is left over).
    let Some((_, cmp, force_u)) = COMPARISONS.into_iter().find(|(s, _, _)| m.has(s)) else {
        return mismatch(line, &ins.opcode, "missing comparison");
    };
    let boolop = m.pick(&[
        ("and", BoolOp::And),
        ("or", BoolOp::Or),
        ("xor", BoolOp::Xor),
    ]);
    let ftz = m.has("ftz");
    let tys = m.types();
    m.finish()?;
    let (ty, set_dty) = if is_set {
        match tys.as_slice() {
            [d, s] => (*s, Some(*d)),
            _ => return mismatch(line, &ins.opcode, "set needs .dtype.stype"),
        }
    } else {
        match tys.as_slice() {
            [t] => (*t, None),
            _ => return mismatch(line, &ins.opcode, "setp needs one type"),
        }
    };
    if force_u && ty.is_float() {
        return mismatch(line, &ins.opcode, "unsigned comparison of floats");
    }
    if !ty.is_float()
        && matches!(
            cmp,
            CmpOp::Equ
                | CmpOp::Neu
                | CmpOp::Ltu
                | CmpOp::Leu
                | CmpOp::Gtu
                | CmpOp::Geu
                | CmpOp::Num
                | CmpOp::Nan
        )
    {
        return mismatch(line, &ins.opcode, "float comparison of integers");
    }
    let nexp = if boolop.is_some() { 4 } else { 3 };
    nops(ins, nexp)?;
    let [a, b] = srcs(fx, ins, 1, [ty, ty])?;
    let comb = match boolop {
        Some(bo) => {
            let (c, neg) = psrc(fx, &ins.operands[3], ins)?;
            Some((bo, c, neg))
        }
        None => None,
    };
    if let Some(dty) = set_dty {
        let d = dst(fx, &ins.operands[0], dty, false, ins)?;
        let spec = SetpSpec {
            cmp,
            ty,
            ftz,
            p: None,
            q: None,
            a,
            b,
            comb,
            set_dst: Some((d, dty)),
        };
        fx.emit(Op::Setp(Box::new(spec)), line, g);
        return Ok(());
    }
    let (p, q) = match &ins.operands[0] {
        Operand::Pair(p, q) => (pdst(fx, p, ins)?, Some(pdst(fx, q, ins)?)),
        other => (pdst(fx, other, ins)?, None),
    };
    let t = if ty.is_float() {
        CmpTy::F
    } else if ty.is_signed() && !force_u {
        CmpTy::S
    } else {
        CmpTy::U
    };
    let fast_ty = matches!(ty, Ty::F32 | Ty::F64) || (ty.is_int() && ty.bits() >= 32);
    if comb.is_none() && q.is_none() && !ftz && fast_ty {
        let (a, b) = (a.slot(), b.slot());
        fx.emit(
            by_width!(ty.wide(), Setp32, Setp64 { cmp, t, d: p, a, b }),
            line,
            g,
        );
        return Ok(());
    }
    let spec = SetpSpec {
        cmp,
        // lo/ls/hi/hs on a signed type compare as unsigned.
        ty: if force_u {
            match ty.bits() {
                16 => Ty::U16,
                32 => Ty::U32,
                _ => Ty::U64,
            }
        } else {
            ty
        },
        ftz,
        p: Some(p),
        q,
        a,
        b,
        comb,
        set_dst: None,
    };
    fx.emit(Op::Setp(Box::new(spec)), line, g);
    Ok(())
}

fn compile_cvt(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_cvta(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_ldst(fx: &mut Fx, ins: &InstrAst, store: bool, mut m: Mods, g: Guard) -> CResult<()> {
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
const ATOM_OPS: [(&str, AtomOp); 10] = [
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

fn compile_atom(fx: &mut Fx, ins: &InstrAst, red: bool, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_cp(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
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

fn compile_bar(fx: &mut Fx, ins: &InstrAst, base: &str, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    if base == "bar" && m.has("warp") {
        if !m.has("sync") {
            return mismatch(line, &ins.opcode, "bar.warp needs .sync");
        }
        m.finish()?;
        nops(ins, 1)?;
        let mask = src(fx, &ins.operands[0], Ty::B32, false, ins)?;
        fx.emit(Op::WarpSync { mask: mask.slot() }, line, g);
        return Ok(());
    }
    m.has("cta");
    let aligned = base == "bar" || m.has("aligned");
    let kind = if m.has("sync") {
        BarKind::Sync { aligned }
    } else if m.has("arrive") {
        BarKind::Arrive
    } else if m.has("red") {
        let r = m.pick_or(
            &[
                ("popc", BarRed::Popc),
                ("and", BarRed::And),
                ("or", BarRed::Or),
            ],
            "bar.red needs .popc, .and or .or",
        )?;
        BarKind::Red(r)
    } else {
        return unsupported(line, &ins.opcode, "this barrier form is not implemented");
    };
    if let BarKind::Red(r) = kind {
        let want = if r == BarRed::Popc { Ty::U32 } else { Ty::Pred };
        if m.ty()? != want {
            return mismatch(line, &ins.opcode, "bar.red type");
        }
    }
    m.finish()?;
    let ops = &ins.operands;
    let (dst_red, rest) = match kind {
        BarKind::Red(r) => {
            if ops.len() < 3 || ops.len() > 4 {
                return nops(ins, 3);
            }
            let d = if r == BarRed::Popc {
                dst(fx, &ops[0], Ty::U32, false, ins)?.slot()
            } else {
                pdst(fx, &ops[0], ins)?
            };
            let (c, neg) = psrc(fx, &ops[ops.len() - 1], ins)?;
            (Some((d, c, neg)), &ops[1..ops.len() - 1])
        }
        _ => (None, &ops[..]),
    };
    if rest.is_empty() || rest.len() > 2 {
        return mismatch(
            line,
            &ins.opcode,
            "barrier needs an id and an optional count",
        );
    }
    if kind == BarKind::Arrive && rest.len() != 2 {
        return mismatch(line, &ins.opcode, "bar.arrive needs a thread count");
    }
    let id = src(fx, &rest[0], Ty::U32, false, ins)?.slot();
    let count = match rest.get(1) {
        Some(c) => Some(src(fx, c, Ty::U32, false, ins)?.slot()),
        None => None,
    };
    fx.emit(
        Op::Bar(Box::new(BarSpec {
            kind,
            id,
            count,
            red: dst_red,
        })),
        line,
        g,
    );
    Ok(())
}

fn compile_shfl(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let sync = m.has("sync");
    let mode = m.pick_or(
        &[
            ("up", ShflMode::Up),
            ("down", ShflMode::Down),
            ("bfly", ShflMode::Bfly),
            ("idx", ShflMode::Idx),
        ],
        "shfl needs a mode",
    )?;
    let ty = m.ty()?;
    m.finish()?;
    if ty != Ty::B32 {
        return mismatch(line, &ins.opcode, "shfl needs .b32");
    }
    nops(ins, if sync { 5 } else { 4 })?;
    let (d, p) = match &ins.operands[0] {
        Operand::Pair(d, p) => (
            dst(fx, d, Ty::B32, false, ins)?.slot(),
            Some(pdst(fx, p, ins)?),
        ),
        other => (dst(fx, other, Ty::B32, false, ins)?.slot(), None),
    };
    let [a, b, c] = srcs(fx, ins, 1, [Ty::B32; 3])?.map(Opnd::slot);
    let mask = membermask(fx, ins, sync, 4)?;
    fx.emit(
        Op::Shfl(Box::new(ShflSpec {
            mode,
            d,
            p,
            a,
            b,
            c,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

fn compile_vote(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    let sync = m.has("sync");
    let mode = m.pick_or(
        &[
            ("all", VoteMode::All),
            ("any", VoteMode::Any),
            ("uni", VoteMode::Uni),
            ("ballot", VoteMode::Ballot),
        ],
        "vote needs a mode",
    )?;
    let ty = m.ty()?;
    m.finish()?;
    nops(ins, if sync { 3 } else { 2 })?;
    let d = if mode == VoteMode::Ballot {
        if ty != Ty::B32 {
            return mismatch(line, &ins.opcode, "vote.ballot needs .b32");
        }
        dst(fx, &ins.operands[0], Ty::B32, false, ins)?.slot()
    } else {
        if ty != Ty::Pred {
            return mismatch(line, &ins.opcode, "vote needs .pred");
        }
        pdst(fx, &ins.operands[0], ins)?
    };
    let (a, a_neg) = psrc(fx, &ins.operands[1], ins)?;
    let mask = membermask(fx, ins, sync, 2)?;
    fx.emit(
        Op::Vote(Box::new(VoteSpec {
            mode,
            d,
            a,
            a_neg,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

fn compile_redux(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
    let line = ins.line;
    if !m.has("sync") {
        return mismatch(line, &ins.opcode, "redux needs .sync");
    }
    let op = m.pick_or(&ATOM_OPS[..6], "redux needs an operation")?;
    let ty = m.ty()?;
    m.finish()?;
    if !matches!(ty, Ty::U32 | Ty::S32 | Ty::B32) {
        return unsupported(
            line,
            &ins.opcode,
            "only 32-bit integer redux is implemented",
        );
    }
    nops(ins, 3)?;
    let d = dst(fx, &ins.operands[0], ty, false, ins)?.slot();
    let a = src(fx, &ins.operands[1], ty, false, ins)?.slot();
    let mask = membermask(fx, ins, true, 2)?;
    fx.emit(
        Op::Redux(Box::new(ReduxSpec {
            op,
            signed: ty == Ty::S32,
            d,
            a,
            mask,
        })),
        line,
        g,
    );
    Ok(())
}

pub(crate) fn vec_regs(
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

fn compile_mma(fx: &mut Fx, ins: &InstrAst, mut m: Mods, g: Guard) -> CResult<()> {
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
