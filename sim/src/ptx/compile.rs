//! Names → slots: the per-kernel compile context. Resolves registers (allocated on first use,
//! one slot per register actually used), special registers, immediates (materialised into
//! constant slots, deduplicated), variables (shared/local/param offsets, global/const
//! addresses) and labels, with the scopes and label namespaces that inlining a `.func` call
//! needs. Instruction selection, `call` included, is in [`super::instr`].

use std::collections::HashMap;

use super::ast::*;
use super::lex::Number;
use crate::ir::*;

/// A compile error: line and message (becomes an InvalidPtx log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileError {
    pub line: u32,
    pub msg: String,
}

pub(crate) type CResult<T> = Result<T, CompileError>;

/// An instruction's guard predicate: its slot and whether it is negated (`@!%p`); `None`:
/// unguarded.
pub(crate) type Guard = Option<(Slot, bool)>;

pub(crate) fn cerr<T>(line: u32, msg: impl Into<String>) -> CResult<T> {
    Err(CompileError {
        line,
        msg: msg.into(),
    })
}

/// Where a variable lives, as the compiled code addresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymLoc {
    /// Offset in the CTA's shared memory.
    Shared(u64),
    /// Offset in the thread's local frame.
    Local(u64),
    /// Offset in the kernel parameter buffer.
    Param(u64),
    /// Device address of a module `.global` variable.
    Global(u64),
    /// Device address of a module `.const` variable.
    Const(u64),
}

impl SymLoc {
    pub fn space(self) -> MemSpace {
        match self {
            SymLoc::Shared(_) => MemSpace::Shared,
            SymLoc::Local(_) => MemSpace::Local,
            SymLoc::Param(_) => MemSpace::Param,
            SymLoc::Global(_) => MemSpace::Global,
            SymLoc::Const(_) => MemSpace::Const,
        }
    }
    pub fn addr(self) -> u64 {
        match self {
            SymLoc::Shared(a)
            | SymLoc::Local(a)
            | SymLoc::Param(a)
            | SymLoc::Global(a)
            | SymLoc::Const(a) => a,
        }
    }
}

/// Bytes of one element of a declared type (`.pred` params are not allowed; `.b128` 16).
pub(crate) fn type_bytes(ty: &str) -> Option<u64> {
    if ty == ".b128" {
        return Some(16);
    }
    let t = Ty::parse(ty)?;
    if t == Ty::Pred {
        return None;
    }
    Some(t.bytes() as u64)
}

/// Size and alignment of a variable declaration (`dynamic`: an unsized array).
pub(crate) fn var_size(v: &VarDecl) -> CResult<(u64, u64, bool)> {
    let Some(eb) = type_bytes(&v.ty) else {
        return cerr(v.line, format!("bad variable type '{}'", v.ty));
    };
    let elem = eb * v.vec as u64;
    let mut n = 1u64;
    let mut dynamic = false;
    for d in &v.dims {
        match d {
            Some(k) => n = n.saturating_mul(*k),
            None => dynamic = true,
        }
    }
    let size = if dynamic { 0 } else { elem.saturating_mul(n) };
    let align = v.align.map_or(elem, |a| a as u64).max(1);
    if !align.is_power_of_two() {
        return cerr(v.line, format!("alignment {align} is not a power of two"));
    }
    Ok((size, align, dynamic))
}

/// The initial bytes of a variable (zeros where there is no initialiser).
pub(crate) fn var_init(v: &VarDecl, size: u64) -> CResult<Vec<u8>> {
    let mut out = vec![0u8; size as usize];
    let Some(init) = &v.init else {
        return Ok(out);
    };
    let ty = if v.ty == ".b128" {
        return cerr(v.line, "initialisers of .b128 variables are not supported");
    } else {
        Ty::parse(&v.ty).unwrap_or(Ty::B8)
    };
    let mut flat = Vec::new();
    fn walk(i: &Init, out: &mut Vec<Number>) {
        match i {
            Init::Num(n) => out.push(*n),
            Init::List(l) => l.iter().for_each(|x| walk(x, out)),
        }
    }
    walk(init, &mut flat);
    let eb = ty.bytes() as usize;
    if flat.len() * eb > out.len() {
        return cerr(
            v.line,
            format!(
                "too many initialisers for '{}' ({} elements)",
                v.name,
                flat.len()
            ),
        );
    }
    for (k, n) in flat.iter().enumerate() {
        let bits = imm_bits(*n, ty).ok_or(CompileError {
            line: v.line,
            msg: format!("initialiser of '{}' does not fit .{}", v.name, ty.name()),
        })?;
        out[k * eb..(k + 1) * eb].copy_from_slice(&bits.to_le_bytes()[..eb]);
    }
    Ok(out)
}

/// The bits of an immediate as an operand of type `ty` (low `ty.bits()` bits used).
pub(crate) fn imm_bits(n: Number, ty: Ty) -> Option<u64> {
    let mask = |v: u64| {
        if ty.bits() >= 64 {
            v
        } else {
            v & ((1u64 << ty.bits()) - 1)
        }
    };
    Some(match ty {
        Ty::F32 => match n {
            Number::F32Bits(b) => b as u64,
            Number::F64Bits(b) => (f64::from_bits(b) as f32).to_bits() as u64,
            Number::Float(f) => (f as f32).to_bits() as u64,
            Number::Int(i) => {
                // An integer literal used as a float operand: its value.
                ((i as i64) as f32).to_bits() as u64
            }
        },
        Ty::F64 => match n {
            Number::F32Bits(b) => (f32::from_bits(b) as f64).to_bits(),
            Number::F64Bits(b) => b,
            Number::Float(f) => f.to_bits(),
            Number::Int(i) => ((i as i64) as f64).to_bits(),
        },
        Ty::F16 | Ty::BF16 => {
            let v = match n {
                Number::F32Bits(b) => f32::from_bits(b) as f64,
                Number::F64Bits(b) => f64::from_bits(b),
                Number::Float(f) => f,
                // `mov.b16 %h, 0x3C00`-style bit patterns are integers.
                Number::Int(i) => return Some(mask(i)),
            };
            if ty == Ty::F16 {
                half::f16::from_f64(v).to_bits() as u64
            } else {
                half::bf16::from_f64(v).to_bits() as u64
            }
        }
        Ty::Pred => match n {
            Number::Int(i) => u64::from(i != 0),
            _ => return None,
        },
        _ => match n {
            Number::Int(i) => mask(i),
            // A float literal as an integer-typed operand: its bits (e.g. mov.b32 %r, 0f3F800000).
            Number::F32Bits(b) if ty.bits() == 32 => b as u64,
            Number::F64Bits(b) if ty.bits() == 64 => b,
            _ => return None,
        },
    })
}

/// What a name in an operand denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Reg(Opnd, Ty),
    Pred(Slot),
    Special(Opnd, Special),
    Dyn(Dyn),
    Var(SymLoc),
}

/// A declared register range or single register.
#[derive(Debug, Clone)]
struct RegScope {
    /// Exact names → type.
    names: HashMap<String, Ty>,
    /// `%r<N>` ranges: prefix → (type, count).
    ranges: HashMap<String, (Ty, u32)>,
    vars: HashMap<String, SymLoc>,
    /// Allocated slots of this scope's registers.
    slots: HashMap<String, (Opnd, Ty, bool)>,
}

impl RegScope {
    fn new() -> RegScope {
        RegScope {
            names: HashMap::new(),
            ranges: HashMap::new(),
            vars: HashMap::new(),
            slots: HashMap::new(),
        }
    }

    fn lookup_type(&self, name: &str) -> Option<Ty> {
        if let Some(t) = self.names.get(name) {
            return Some(*t);
        }
        let digits = name
            .bytes()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits == name.len() {
            return None;
        }
        let (prefix, num) = name.split_at(name.len() - digits);
        // `%r<8>` declares %r0..%r7; a leading zero (e.g. %r01) is a different name.
        if num.len() > 1 && num.starts_with('0') {
            return None;
        }
        let n: u32 = num.parse().ok()?;
        let (t, count) = self.ranges.get(prefix)?;
        (n < *count).then_some(*t)
    }
}

/// The module-level facts a kernel compile needs.
pub(crate) struct ModuleCtx<'a> {
    pub funcs: HashMap<String, &'a FuncAst>,
    /// Module `.global`/`.const` variables with their placed addresses.
    pub globals: HashMap<String, SymLoc>,
    /// Module-scope `.shared` declarations (allocated per kernel on first reference).
    pub shared: HashMap<String, &'a VarDecl>,
    /// Module-scope `.local` declarations.
    pub local: HashMap<String, &'a VarDecl>,
    pub sm: u32,
}

/// One instruction waiting for its branch target label.
struct Fixup {
    inst: usize,
    label: String,
    ns: u32,
    line: u32,
}

/// The compile context of one kernel (its entry and every function inlined into it).
pub(crate) struct Fx<'a, 'm> {
    pub m: &'m ModuleCtx<'a>,
    pub prog: Program,
    scopes: Vec<RegScope>,
    const32: HashMap<u32, Slot>,
    const64: HashMap<u64, Slot>,
    constpred: HashMap<u32, Slot>,
    specials: HashMap<Special, Opnd>,
    /// Label → instruction index, per inline namespace.
    labels: HashMap<(u32, String), u32>,
    fixups: Vec<Fixup>,
    /// Current label namespace (0 = the entry; each inlined call gets its own).
    pub ns: u32,
    next_ns: u32,
    /// The return label of the function being inlined (None in the entry).
    pub ret_target: Option<(u32, String)>,
    /// Functions on the inline stack (recursion check).
    pub call_stack: Vec<String>,
    /// Static shared bytes allocated so far and their maximal alignment.
    pub shared_bytes: u64,
    pub shared_align: u64,
    /// Dynamic (`.extern .shared`) arrays: patched to the dynamic base after compile.
    pub dyn_shared: Vec<(String, u64)>,
    /// Constant slots holding dynamic shared addresses (patched later): slot, is64, offset.
    dyn_patch: Vec<(Slot, bool, i64)>,
    pub module_shared: HashMap<String, u64>,
    pub module_local: HashMap<String, u64>,
    /// Kernel parameter offsets by name.
    pub params: HashMap<String, u64>,
    pub is_entry_ns: bool,
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

impl<'a, 'm> Fx<'a, 'm> {
    pub fn new(m: &'m ModuleCtx<'a>) -> Self {
        Fx {
            m,
            prog: Program::default(),
            scopes: vec![RegScope::new()],
            const32: HashMap::new(),
            const64: HashMap::new(),
            constpred: HashMap::new(),
            specials: HashMap::new(),
            labels: HashMap::new(),
            fixups: Vec::new(),
            ns: 0,
            next_ns: 1,
            ret_target: None,
            call_stack: Vec::new(),
            shared_bytes: 0,
            shared_align: 1,
            dyn_shared: Vec::new(),
            dyn_patch: Vec::new(),
            module_shared: HashMap::new(),
            module_local: HashMap::new(),
            params: HashMap::new(),
            is_entry_ns: true,
        }
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(RegScope::new());
    }

    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// A fresh label namespace for an inlined body; returns the previous one.
    pub fn enter_ns(&mut self) -> u32 {
        let old = self.ns;
        self.ns = self.next_ns;
        self.next_ns += 1;
        old
    }

    pub fn set_ns(&mut self, ns: u32) {
        self.ns = ns;
    }

    pub fn declare_reg(&mut self, d: &RegDecl) -> CResult<()> {
        let Some(ty) = Ty::parse(&d.ty) else {
            return cerr(d.line, format!("unsupported register type '{}'", d.ty));
        };
        let Some(sc) = self.scopes.last_mut() else {
            return cerr(d.line, "no scope");
        };
        match d.count {
            Some(n) => {
                sc.ranges.insert(d.name.clone(), (ty, n));
            }
            None => {
                sc.names.insert(d.name.clone(), ty);
            }
        }
        Ok(())
    }

    pub fn declare_var(&mut self, name: &str, loc: SymLoc) {
        if let Some(sc) = self.scopes.last_mut() {
            sc.vars.insert(name.to_string(), loc);
        }
    }

    /// Allocates `size` bytes of static shared memory.
    pub fn alloc_shared(&mut self, size: u64, align: u64) -> u64 {
        let off = align_up(self.shared_bytes, align);
        self.shared_bytes = off + size;
        self.shared_align = self.shared_align.max(align);
        off
    }

    /// Allocates `size` bytes of per-thread local memory.
    pub fn alloc_local(&mut self, size: u64, align: u64) -> u64 {
        let cur = self.prog.local_bytes as u64;
        let off = align_up(cur, align);
        self.prog.local_bytes = (off + size).min(u32::MAX as u64) as u32;
        off
    }

    /// Declares a function-scope variable.
    pub fn declare_local_var(&mut self, v: &VarDecl) -> CResult<()> {
        let (size, align, dynamic) = var_size(v)?;
        let loc = match v.space {
            Space::Shared => {
                if dynamic {
                    self.dyn_shared.push((v.name.clone(), align));
                    // Placeholder: resolved through `dyn_shared` by name.
                    SymLoc::Shared(u64::MAX)
                } else {
                    if v.init.is_some() {
                        return cerr(v.line, ".shared variables cannot be initialised");
                    }
                    SymLoc::Shared(self.alloc_shared(size, align))
                }
            }
            Space::Local | Space::Param => {
                if dynamic {
                    return cerr(v.line, format!("unsized local variable '{}'", v.name));
                }
                if v.init.is_some() {
                    return cerr(
                        v.line,
                        format!("initialised local variable '{}' is not supported", v.name),
                    );
                }
                SymLoc::Local(self.alloc_local(size, align))
            }
            Space::Global | Space::Const => {
                return cerr(
                    v.line,
                    format!(
                        "function-scope .global/.const variable '{}' is not supported",
                        v.name
                    ),
                )
            }
        };
        self.declare_var(&v.name, loc);
        Ok(())
    }

    fn find_var(&mut self, name: &str) -> Option<SymLoc> {
        for sc in self.scopes.iter().rev() {
            if let Some(l) = sc.vars.get(name) {
                return Some(*l);
            }
        }
        if let Some(o) = self.params.get(name) {
            return Some(SymLoc::Param(*o));
        }
        if let Some(l) = self.m.globals.get(name) {
            return Some(*l);
        }
        if let Some(o) = self.module_shared.get(name) {
            return Some(SymLoc::Shared(*o));
        }
        if let Some(v) = self.m.shared.get(name).copied() {
            let (size, align, dynamic) = var_size(v).ok()?;
            if dynamic {
                if !self.dyn_shared.iter().any(|(n, _)| n == name) {
                    self.dyn_shared.push((name.to_string(), align));
                }
                return Some(SymLoc::Shared(u64::MAX));
            }
            let off = self.alloc_shared(size, align);
            self.module_shared.insert(name.to_string(), off);
            return Some(SymLoc::Shared(off));
        }
        if let Some(o) = self.module_local.get(name) {
            return Some(SymLoc::Local(*o));
        }
        if let Some(v) = self.m.local.get(name).copied() {
            let (size, align, _) = var_size(v).ok()?;
            let off = self.alloc_local(size, align);
            self.module_local.insert(name.to_string(), off);
            return Some(SymLoc::Local(off));
        }
        None
    }

    /// Resolves a name in an operand.
    pub fn resolve(&mut self, name: &str, line: u32) -> CResult<Resolved> {
        // Registers, innermost scope first.
        for k in (0..self.scopes.len()).rev() {
            if let Some((o, t, is_pred)) = self.scopes[k].slots.get(name) {
                return Ok(if *is_pred {
                    Resolved::Pred(o.slot())
                } else {
                    Resolved::Reg(*o, *t)
                });
            }
            if let Some(ty) = self.scopes[k].lookup_type(name) {
                let (o, pred) = if ty == Ty::Pred {
                    let s = self.prog.npred;
                    self.prog.npred += 1;
                    (Opnd::r32(s), true)
                } else if ty.wide() {
                    let s = self.prog.n64;
                    self.prog.n64 += 1;
                    (Opnd::r64(s), false)
                } else {
                    let s = self.prog.n32;
                    self.prog.n32 += 1;
                    (Opnd::r32(s), false)
                };
                self.scopes[k].slots.insert(name.to_string(), (o, ty, pred));
                return Ok(if pred {
                    Resolved::Pred(o.slot())
                } else {
                    Resolved::Reg(o, ty)
                });
            }
        }
        if let Some(r) = self.special(name) {
            return Ok(r);
        }
        if let Some(l) = self.find_var(name) {
            return Ok(Resolved::Var(l));
        }
        if self.m.funcs.contains_key(name) {
            return cerr(
                line,
                format!("function address '{name}' is not supported by gpugate-sim"),
            );
        }
        cerr(line, format!("'{name}' is not defined"))
    }

    fn special(&mut self, name: &str) -> Option<Resolved> {
        let comp = |s: &str| match s {
            "x" => Some(0u8),
            "y" => Some(1),
            "z" => Some(2),
            _ => None,
        };
        let sp = if let Some(c) = name.strip_prefix("%tid.") {
            Special::Tid(comp(c)?)
        } else if let Some(c) = name.strip_prefix("%ntid.") {
            Special::Ntid(comp(c)?)
        } else if let Some(c) = name.strip_prefix("%ctaid.") {
            Special::Ctaid(comp(c)?)
        } else if let Some(c) = name.strip_prefix("%nctaid.") {
            Special::Nctaid(comp(c)?)
        } else {
            match name {
                "%laneid" => Special::LaneId,
                "%warpid" => Special::WarpId,
                "%nwarpid" => Special::NWarpId,
                "%smid" => Special::SmId,
                "%nsmid" => Special::NSmId,
                "%gridid" => Special::GridId,
                "%lanemask_eq" => Special::LaneMaskEq,
                "%lanemask_le" => Special::LaneMaskLe,
                "%lanemask_lt" => Special::LaneMaskLt,
                "%lanemask_ge" => Special::LaneMaskGe,
                "%lanemask_gt" => Special::LaneMaskGt,
                "%dynamic_smem_size" => Special::DynSmemSize,
                "%total_smem_size" => Special::TotalSmemSize,
                "%clock" => return Some(Resolved::Dyn(Dyn::Clock)),
                "%clock64" => return Some(Resolved::Dyn(Dyn::Clock64)),
                "%globaltimer" => return Some(Resolved::Dyn(Dyn::GlobalTimer)),
                _ if name.starts_with("%envreg") => Special::Zero,
                _ => return None,
            }
        };
        let wide = matches!(sp, Special::GridId);
        let o = *self.specials.entry(sp).or_insert_with(|| {
            if wide {
                let s = self.prog.n64;
                self.prog.n64 += 1;
                Opnd::r64(s)
            } else {
                let s = self.prog.n32;
                self.prog.n32 += 1;
                Opnd::r32(s)
            }
        });
        Some(Resolved::Special(o, sp))
    }

    /// A constant slot in the bank of `ty` holding `bits`.
    pub fn const_slot(&mut self, bits: u64, wide: bool) -> Opnd {
        /// The slot of constant `v` in one bank: the one that holds it already, else a new one.
        fn intern<V: Copy + Eq + std::hash::Hash>(
            v: V,
            slots: &mut HashMap<V, Slot>,
            count: &mut Slot,
            consts: &mut Vec<(Slot, V)>,
        ) -> Slot {
            *slots.entry(v).or_insert_with(|| {
                let s = *count;
                *count += 1;
                consts.push((s, v));
                s
            })
        }
        let p = &mut self.prog;
        if wide {
            Opnd::r64(intern(bits, &mut self.const64, &mut p.n64, &mut p.const64))
        } else {
            Opnd::r32(intern(
                bits as u32,
                &mut self.const32,
                &mut p.n32,
                &mut p.const32,
            ))
        }
    }

    /// A constant predicate slot (all lanes true or false).
    pub fn const_pred(&mut self, v: bool) -> Slot {
        let m = if v { u32::MAX } else { 0 };
        if let Some(s) = self.constpred.get(&m) {
            return *s;
        }
        let s = self.prog.npred;
        self.prog.npred += 1;
        self.constpred.insert(m, s);
        self.prog.constpred.push((s, m));
        s
    }

    /// A constant slot holding a variable's address in its space (+ `off`), `wide` picking the
    /// bank. Dynamic shared arrays are patched once the static layout is known.
    pub fn addr_const(&mut self, name: &str, loc: SymLoc, off: i64, wide: bool) -> Opnd {
        if let SymLoc::Shared(u64::MAX) = loc {
            // A fresh slot, not deduplicated: its value is patched.
            let o = if wide {
                let s = self.prog.n64;
                self.prog.n64 += 1;
                self.prog.const64.push((s, 0));
                Opnd::r64(s)
            } else {
                let s = self.prog.n32;
                self.prog.n32 += 1;
                self.prog.const32.push((s, 0));
                Opnd::r32(s)
            };
            let _ = name;
            self.dyn_patch.push((o.slot(), wide, off));
            return o;
        }
        let v = loc.addr().wrapping_add(off as u64);
        self.const_slot(v, wide)
    }

    /// Emits an instruction; returns its index.
    pub fn emit(&mut self, op: Op, line: u32, guard: Guard) -> usize {
        let (g, x) = match guard {
            Some((s, neg)) => (s, if neg { u32::MAX } else { 0 }),
            None => (NO_GUARD, 0),
        };
        self.prog.insts.push(Inst {
            op,
            guard: g,
            guard_xor: x,
            line,
            flops: 0,
            flop_kind: FLOPS_NONE,
            int_ops: 0,
        });
        self.prog.insts.len() - 1
    }

    pub fn set_flops(&mut self, idx: usize, flops: u8, kind: u8) {
        if let Some(i) = self.prog.insts.get_mut(idx) {
            i.flops = flops;
            i.flop_kind = kind;
        }
    }

    pub fn define_label(&mut self, name: &str, line: u32) -> CResult<()> {
        let key = (self.ns, name.to_string());
        if self.labels.contains_key(&key) {
            return cerr(line, format!("label '{name}' is defined twice"));
        }
        let at = self.prog.insts.len() as u32;
        self.labels.insert(key, at);
        Ok(())
    }

    /// Records that instruction `inst` branches to `label` (resolved at the end).
    pub fn branch_to(&mut self, inst: usize, label: &str, line: u32) {
        self.fixups.push(Fixup {
            inst,
            label: label.to_string(),
            ns: self.ns,
            line,
        });
    }

    /// A label unique to this compile (for inlined returns).
    pub fn fresh_label(&mut self) -> String {
        format!("$__ret{}", self.next_ns)
    }

    /// Resolves branch targets, places dynamic shared arrays, and finishes the program.
    pub fn finish(mut self) -> CResult<(Program, SharedLayout)> {
        for f in std::mem::take(&mut self.fixups) {
            let Some(t) = self.labels.get(&(f.ns, f.label.clone())) else {
                return cerr(f.line, format!("label '{}' is not defined", f.label));
            };
            if let Op::Bra { target } = &mut self.prog.insts[f.inst].op {
                *target = *t;
            }
        }
        // A trailing `exit` so that falling off the end ends the threads.
        let end_line = self.prog.insts.last().map_or(0, |i| i.line);
        self.emit(Op::Exit, end_line, None);
        for i in self.prog.insts.iter_mut() {
            i.int_ops = i.op.int_ops();
        }
        let dyn_align = self
            .dyn_shared
            .iter()
            .map(|(_, a)| *a)
            .max()
            .unwrap_or(16)
            .max(16);
        let base = align_up(self.shared_bytes, dyn_align);
        for (slot, wide, off) in std::mem::take(&mut self.dyn_patch) {
            let v = base.wrapping_add(off as u64);
            if wide {
                if let Some(e) = self.prog.const64.iter_mut().find(|e| e.0 == slot) {
                    e.1 = v;
                }
            } else if let Some(e) = self.prog.const32.iter_mut().find(|e| e.0 == slot) {
                e.1 = v as u32;
            }
        }
        self.prog.specials = self.specials.iter().map(|(s, o)| (*o, *s)).collect();
        self.prog.specials.sort_by_key(|(o, _)| o.0);
        let layout = SharedLayout {
            static_bytes: u32::try_from(self.shared_bytes).map_err(|_| CompileError {
                line: 0,
                msg: "static shared memory above 4 GiB".into(),
            })?,
            dynamic_align: dyn_align as u32,
        };
        Ok((self.prog, layout))
    }
}
