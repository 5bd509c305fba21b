//! The PTX front end: text → a checked, compiled [`Module`].
//!
//! INTERFACE CONTRACT (the driver layer codes against exactly this; the implementation behind it
//! may change freely).
//!
//! Pipeline: `lex` (tokens) → `parse` (syntax tree) → `compile` (names resolved to slots, the
//! per-kernel context) and `instr` (every instruction checked and lowered to the IR of
//! [`crate::ir`], `.func` calls inlined) → `regs` (registers packed into slots). The result, a
//! [`Kernel`] per entry, is `ir::Kernel`: the engine runs it without importing anything of this
//! module. Anything the front end does not know fails the load with
//! [`LoadErrorKind::InvalidPtx`] and a ptxas-style log naming the line and the construct;
//! nothing is skipped silently.
//!
//! Accepted: `.version`, `.target sm_XX[a|f]` (+ `texmode_unified`, `debug`), `.address_size 64`,
//! `.file`/`.loc`, `.pragma`; `.visible`/`.weak`/`.extern`/`.common` linkage; `.entry` and
//! `.func` (declarations, bodies, `.param` and return values; calls are inlined, recursion is
//! refused) with `.maxntid`, `.reqntid`, `.minnctapersm`, `.maxnreg`, `.noreturn`; `.reg` (ranges
//! `%r<N>`, every scalar type), `.global`/`.const`/`.shared`/`.local`/`.param` variables with
//! `.align`, `.v2/.v4`, arrays and numeric initialisers (module `.shared`/`.local` and `.extern
//! .shared` dynamic arrays included); labels, guards `@%p`/`@!%p`, vectors, `_` sinks,
//! `[reg]`, `[reg+imm]`, `[var]`, `[var+imm]`, `[imm]` addresses, decimal/hex/octal/binary/`U`
//! integers, `0f`/`0d` and decimal floats.
//!
//! Instructions: add sub mul mad fma div rem abs neg min max (integers of every width incl.
//! `.hi/.lo/.wide/.sat`, f16/f16x2/bf16/bf16x2/f32/f64 with `.rn/.rz/.rm/.rp`, `.ftz`, `.sat`,
//! `.approx/.full`, `.NaN`), mul24 mad24 sad, and or xor not cnot (incl. `.pred`), shl shr bfe
//! bfi prmt (all modes) lop3 shf popc clz brev bfind dp4a dp2a, setp (every comparison, `.and/
//! .or/.xor`, `p|q`) set selp slct testp copysign, rcp sqrt rsqrt ex2 lg2 sin cos tanh, cvt
//! (every integer/float pair, `.rni/.rzi/.rmi/.rpi`, `.rn/.rz/.rm/.rp`, `.sat`, `.ftz`, `.relu`,
//! f16/bf16 and `.f16x2/.bf16x2` packing), cvta/cvta.to (global, shared, local, const, param),
//! isspacep, mov (registers, immediates, special registers, variable addresses, packing and
//! unpacking), ld/ldu/st (every space, `.nc`, cache/eviction/ordering hints, `.v2/.v4`), atom
//! and red (global/shared/generic; add min max inc dec and or xor exch cas on 32/64-bit types,
//! add on f32/f64), cp.async (ca/cg, src-size or ignore-src, cache hints) with commit_group,
//! wait_group, wait_all, bar/barrier (sync/arrive/red, ids and counts), bar.warp.sync,
//! shfl(.sync), vote(.sync), activemask, redux.sync (32-bit integers), mma.sync m8n8k4 f64,
//! wmma load/mma/store m16n16k16 (f16 inputs, f16/f32 accumulators), bra/bra.uni, call, ret,
//! exit, trap, brkpt, membar, fence, nanosleep, pmevent, prefetch.
//!
//! Where each instruction is compiled: `instr::compile_instr` (`instr/mod.rs`) dispatches on
//! the opcode to one file per family under `instr/`:
//!
//! | file | instructions |
//! |---|---|
//! | `mov.rs` | mov |
//! | `cvt.rs` | cvt |
//! | `arith.rs` | add sub mul mad fma div rem mul24 mad24 sad; abs neg not cnot popc clz brev bfind rcp sqrt rsqrt ex2 lg2 sin cos tanh; min max and or xor shl shr copysign |
//! | `bits.rs` | bfe bfi prmt lop3 shf slct dp4a dp2a |
//! | `compare.rs` | setp set selp testp |
//! | `memory.rs` | ld ldu st, atom red, cp.async (commit_group, wait_group, wait_all), cvta, isspacep |
//! | `collective.rs` | bar barrier (sync, arrive, red), bar.warp.sync, shfl, vote, activemask, redux |
//! | `mma.rs` | mma, wmma (load, mma, store) |
//! | `control.rs` | bra, call (a `.func` inlined), ret |
//! | `mod.rs` itself | exit trap brkpt, and the hints compiled to nothing: membar fence nanosleep pmevent prefetch |
//!
//! What the families share is in `instr/form.rs` (the modifier set `Mods`, the operand count, the errors
//! of a wrong form) and `instr/operands.rs` (operands as slots).
//!
//! Refused (InvalidPtx naming the instruction): textures and surfaces, ldmatrix/stmatrix,
//! wgmma/tcgen05/mbarrier/bulk copies, other mma shapes and types, `.cc` carries, brx.idx,
//! indirect calls, `.v8`, `.b128` values, vector registers, address initialisers,
//! `.address_size 32`.

use std::collections::HashMap;
use std::sync::Arc;

mod ast;
mod compile;
mod instr;
mod lex;
mod parse;
mod regs;

pub use crate::ir::{Kernel, ParamInfo};

/// What the loading device and driver accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The device's SM version as PTX spells it: 52 for sm_52, 80 for sm_80, 90 for sm_90.
    pub sm: u32,
    /// The newest PTX ISA the driver's JIT accepts, e.g. (8, 4).
    pub max_isa: (u32, u32),
}

/// Why a module did not load. `kind` picks the CUDA error code; `log` is the JIT error log
/// (what `CU_JIT_ERROR_LOG_BUFFER` receives), naming the line and the construct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// Syntax error, unknown directive or instruction, bad operand, `.target` above the device:
    /// CUDA_ERROR_INVALID_PTX.
    InvalidPtx,
    /// `.version` newer than the driver accepts: CUDA_ERROR_UNSUPPORTED_PTX_VERSION.
    UnsupportedPtxVersion,
}

/// A module-scope variable (`.global` or `.const`) that needs device memory before the module's
/// code can run. The loader asks the driver to place it (see [`Module::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleVar {
    pub name: String,
    pub size: usize,
    pub align: usize,
    /// Initial bytes (`size` long; zeros where the PTX gives no initialiser).
    pub init: Vec<u8>,
    pub constant: bool,
}

/// A loaded module.
pub struct Module {
    isa: (u32, u32),
    target_sm: u32,
    kernels: Vec<Arc<Kernel>>,
    vars: Vec<(ModuleVar, u64)>,
}

fn ptxas_log(line: u32, severity: &str, msg: &str) -> String {
    format!("ptxas application ptx input, line {line}; {severity}   : {msg}")
}

fn invalid(line: u32, msg: &str) -> LoadError {
    LoadError {
        kind: LoadErrorKind::InvalidPtx,
        log: ptxas_log(line, "error", msg),
    }
}

impl Module {
    /// Parses and compiles `text`. `place` is called once per module-scope variable, in
    /// declaration order, and returns the device address where the driver put it (after copying
    /// `init` there); an `Err` from it aborts the load and is returned as is.
    pub fn load(
        text: &str,
        opts: &LoadOptions,
        place: &mut dyn FnMut(&ModuleVar) -> Result<u64, LoadError>,
    ) -> Result<Module, LoadError> {
        let toks =
            lex::lex(text).map_err(|e| invalid(e.line, &format!("syntax error: {}", e.msg)))?;
        let ast = parse::parse(&toks).map_err(|e| invalid(e.line, &e.msg))?;

        let (isa, target_sm) = check_header(&ast, opts)?;
        let (mctx, vars) = module_scope(&ast, target_sm, place)?;
        let mut kernels = Vec::new();
        for f in &ast.funcs {
            if f.kind != ast::FuncKind::Entry || f.body.is_none() {
                continue;
            }
            let k = compile_kernel(&mctx, f).map_err(|e| invalid(e.line, &e.msg))?;
            kernels.push(Arc::new(k));
        }
        Ok(Module {
            isa,
            target_sm,
            kernels,
            vars,
        })
    }

    /// The `.version` the module declares.
    pub fn isa(&self) -> (u32, u32) {
        self.isa
    }

    /// The SM of `.target` (52 for sm_52).
    pub fn target_sm(&self) -> u32 {
        self.target_sm
    }

    /// An entry point by name.
    pub fn kernel(&self, name: &str) -> Option<Arc<Kernel>> {
        self.kernels.iter().find(|k| k.name == name).cloned()
    }

    /// Names of every entry point, in file order.
    pub fn kernel_names(&self) -> Vec<String> {
        self.kernels.iter().map(|k| k.name.clone()).collect()
    }

    /// Module-scope variables with the address each was placed at (for cuModuleGetGlobal).
    pub fn vars(&self) -> Vec<(ModuleVar, u64)> {
        self.vars.clone()
    }
}

/// Checks `.version` against the driver's JIT, `.target` against the device and
/// `.address_size 64`; returns the module's ISA and target SM.
fn check_header(ast: &ast::ModuleAst, opts: &LoadOptions) -> Result<((u32, u32), u32), LoadError> {
    let Some((isa, vline)) = ast.version else {
        return Err(invalid(1, "missing .version directive at start of file"));
    };
    if isa > opts.max_isa {
        return Err(LoadError {
            kind: LoadErrorKind::UnsupportedPtxVersion,
            log: ptxas_log(
                vline,
                "fatal",
                &format!(
                    "Unsupported .version {}.{}; current version is '{}.{}'",
                    isa.0, isa.1, opts.max_isa.0, opts.max_isa.1
                ),
            ),
        });
    }
    let Some((targets, tline)) = &ast.target else {
        return Err(invalid(vline, "missing .target directive"));
    };
    let mut target_sm = None;
    for t in targets {
        if let Some(num) = t.strip_prefix("sm_") {
            let digits: String = num.chars().take_while(|c| c.is_ascii_digit()).collect();
            let suffix = &num[digits.len()..];
            let v: u32 = digits
                .parse()
                .map_err(|_| invalid(*tline, &format!("unknown target '{t}'")))?;
            if !(suffix.is_empty() || suffix == "a" || suffix == "f") {
                return Err(invalid(*tline, &format!("unknown target '{t}'")));
            }
            target_sm = Some(v);
        } else if matches!(t.as_str(), "texmode_unified" | "debug") {
        } else {
            return Err(invalid(
                *tline,
                &format!("target option '{t}' is not supported by gpugate-sim"),
            ));
        }
    }
    let Some(target_sm) = target_sm else {
        return Err(invalid(*tline, "'.target' names no sm_XX"));
    };
    if target_sm > opts.sm {
        return Err(invalid(
            *tline,
            "SM version specified by .target is higher than default SM version assumed",
        ));
    }
    match ast.address_size {
        Some((64, _)) => {}
        Some((n, l)) => {
            return Err(invalid(
                l,
                &format!(".address_size {n} is not supported by gpugate-sim (64 only)"),
            ))
        }
        None => {
            return Err(invalid(
                *tline,
                "32-bit addressing (no .address_size 64) is not supported by gpugate-sim",
            ))
        }
    }
    Ok((isa, target_sm))
}

/// The module scope the kernels compile against: its `.global` and `.const` variables, each
/// placed by `place` in declaration order (also returned with their addresses, for
/// cuModuleGetGlobal), its `.shared` and `.local` declarations, and its functions by name (a
/// definition wins over a declaration; two definitions are refused).
fn module_scope<'a>(
    ast: &'a ast::ModuleAst,
    target_sm: u32,
    place: &mut dyn FnMut(&ModuleVar) -> Result<u64, LoadError>,
) -> Result<(compile::ModuleCtx<'a>, Vec<(ModuleVar, u64)>), LoadError> {
    // Module-scope variables.
    let mut vars = Vec::new();
    let mut globals = HashMap::new();
    let mut shared = HashMap::new();
    let mut local = HashMap::new();
    for v in &ast.vars {
        match v.space {
            ast::Space::Global | ast::Space::Const => {
                let (size, align, dynamic) =
                    compile::var_size(v).map_err(|e| invalid(e.line, &e.msg))?;
                if dynamic || (v.external && v.init.is_none()) {
                    return Err(invalid(
                        v.line,
                        &format!(
                            "external variable '{}' is not defined in the module",
                            v.name
                        ),
                    ));
                }
                let init = compile::var_init(v, size).map_err(|e| invalid(e.line, &e.msg))?;
                let mv = ModuleVar {
                    name: v.name.clone(),
                    size: size as usize,
                    align: align as usize,
                    init,
                    constant: v.space == ast::Space::Const,
                };
                let addr = place(&mv)?;
                let loc = if mv.constant {
                    compile::SymLoc::Const(addr)
                } else {
                    compile::SymLoc::Global(addr)
                };
                globals.insert(v.name.clone(), loc);
                vars.push((mv, addr));
            }
            ast::Space::Shared => {
                shared.insert(v.name.clone(), v);
            }
            ast::Space::Local => {
                local.insert(v.name.clone(), v);
            }
            ast::Space::Param => {
                return Err(invalid(v.line, "module-scope .param variable"));
            }
        }
    }
    let mut funcs = HashMap::new();
    for f in &ast.funcs {
        if let Some(prev) = funcs.insert(f.name.clone(), f) {
            if prev.body.is_some() && f.body.is_some() {
                return Err(invalid(
                    f.line,
                    &format!("function '{}' is defined twice", f.name),
                ));
            }
            if prev.body.is_some() {
                funcs.insert(f.name.clone(), prev);
            }
        }
    }
    let mctx = compile::ModuleCtx {
        funcs,
        globals,
        shared,
        local,
        sm: target_sm,
    };
    Ok((mctx, vars))
}

fn compile_kernel(mctx: &compile::ModuleCtx, f: &ast::FuncAst) -> compile::CResult<Kernel> {
    let mut fx = compile::Fx::new(mctx);
    let mut params = Vec::new();
    let mut offsets = Vec::new();
    let mut off = 0usize;
    for p in &f.params {
        if p.space != ".param" {
            return compile::cerr(p.line, "entry parameters must be .param");
        }
        let Some(eb) = compile::type_bytes(&p.ty) else {
            return compile::cerr(p.line, format!("bad parameter type '{}'", p.ty));
        };
        let mut n = 1u64;
        for d in &p.dims {
            match d {
                Some(k) => n = n.saturating_mul(*k),
                None => return compile::cerr(p.line, "unsized parameter"),
            }
        }
        let size = (eb * n) as usize;
        let align = p.align.map_or(eb as usize, |a| a as usize).max(1);
        off = off.div_ceil(align) * align;
        fx.params.insert(p.name.clone(), off as u64);
        params.push(ParamInfo { size, align });
        offsets.push(off);
        off += size;
    }
    let Some(body) = &f.body else {
        return compile::cerr(f.line, "entry without a body");
    };
    instr::compile_body(&mut fx, body)?;
    let (mut prog, shared) = fx.finish()?;
    let peak = regs::allocate(&mut prog);
    let num_regs = regs::estimate(peak, f);
    Ok(Kernel {
        name: f.name.clone(),
        params,
        param_offsets: offsets,
        param_bytes: off,
        maxntid: f.maxntid,
        reqntid: f.reqntid,
        minnctapersm: f.minnctapersm,
        shared,
        num_regs,
        line: f.line,
        prog,
    })
}
