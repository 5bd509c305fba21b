//! The form of one instruction: its modifiers ([`Mods`]: each consumed at most once, a leftover
//! refused), its operand count, the target it needs, and the errors a wrong form gives, in
//! ptxas's words.

use crate::ir::*;
use crate::ptx::ast::*;
use crate::ptx::compile::*;

/// The modifiers of an opcode, each consumed at most once; leftovers are an error.
pub(super) struct Mods<'s> {
    opcode: &'s str,
    pub(super) list: Vec<&'s str>,
    used: Vec<bool>,
    line: u32,
}

impl<'s> Mods<'s> {
    pub(super) fn new(opcode: &'s str, line: u32) -> Mods<'s> {
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
    pub(super) fn take<T>(&mut self, f: impl Fn(&str) -> Option<T>) -> Option<T> {
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
    pub(super) fn has(&mut self, m: &str) -> bool {
        self.take(|x| (x == m).then_some(())).is_some()
    }

    /// Consumes the first unused modifier among `opts`.
    pub(super) fn one_of(&mut self, opts: &[&'static str]) -> Option<&'static str> {
        self.take(|x| opts.iter().copied().find(|o| *o == x))
    }

    /// Consumes the first unused modifier named in `table`; its value.
    pub(super) fn pick<T: Copy>(&mut self, table: &[(&str, T)]) -> Option<T> {
        self.take(|x| table.iter().find(|(k, _)| *k == x).map(|(_, v)| *v))
    }

    /// [`Mods::pick`], or the error that the instruction needs one of the table (`why`).
    pub(super) fn pick_or<T: Copy>(&mut self, table: &[(&str, T)], why: &str) -> CResult<T> {
        match self.pick(table) {
            Some(v) => Ok(v),
            None => mismatch(self.line, self.opcode, why),
        }
    }

    /// Consumes every type modifier, in order.
    pub(super) fn types(&mut self) -> Vec<Ty> {
        std::iter::from_fn(|| self.take(Ty::parse)).collect()
    }

    /// Exactly one type.
    pub(super) fn ty(&mut self) -> CResult<Ty> {
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
    pub(super) fn drop_hints(&mut self) {
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

    pub(super) fn rnd(&mut self) -> Option<Rnd> {
        self.pick(&[
            ("rn", Rnd::Rn),
            ("rz", Rnd::Rz),
            ("rm", Rnd::Rm),
            ("rp", Rnd::Rp),
            ("rna", Rnd::Rna),
        ])
    }

    pub(super) fn finish(self) -> CResult<()> {
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

pub(super) fn nops(ins: &InstrAst, n: usize) -> CResult<()> {
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

pub(super) fn mismatch<T>(line: u32, opcode: &str, what: &str) -> CResult<T> {
    cerr(
        line,
        format!("Arguments mismatch for instruction '{opcode}': {what}"),
    )
}

/// `v`, or the error that the instruction needs `what` (a modifier).
pub(super) fn need<T>(v: Option<T>, ins: &InstrAst, what: &str) -> CResult<T> {
    v.ok_or_else(|| CompileError {
        line: ins.line,
        msg: format!("instruction '{}' needs {what}", ins.opcode),
    })
}

/// Fails unless the module's target is at least sm_`sm`, as ptxas does for `feature`.
pub(super) fn need_sm(fx: &Fx, ins: &InstrAst, feature: &str, sm: u32) -> CResult<()> {
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

pub(super) fn unknown<T>(line: u32, opcode: &str) -> CResult<T> {
    cerr(
        line,
        format!("Not a name of any known instruction: '{opcode}'"),
    )
}

pub(super) fn unsupported<T>(line: u32, opcode: &str, why: &str) -> CResult<T> {
    cerr(
        line,
        format!("instruction '{opcode}' is not supported by gpugate-sim ({why})"),
    )
}

/// Emits `op` once every modifier is accounted for.
pub(super) fn emit_plain(fx: &mut Fx, ins: &InstrAst, m: Mods, op: Op, g: Guard) -> CResult<()> {
    m.finish()?;
    fx.emit(op, ins.line, g);
    Ok(())
}
