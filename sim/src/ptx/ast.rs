//! The PTX syntax tree: what [`super::parse`] reads, before names are resolved and instructions
//! compiled.

use super::lex::Number;

/// A module: header directives, module-scope variables and functions, in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModuleAst {
    pub version: Option<((u32, u32), u32)>,
    /// `.target` entries (e.g. `sm_80`, `texmode_independent`) and the line.
    pub target: Option<(Vec<String>, u32)>,
    pub address_size: Option<(u32, u32)>,
    pub vars: Vec<VarDecl>,
    pub funcs: Vec<FuncAst>,
}

/// State spaces of variables and memory instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    Global,
    Const,
    Shared,
    Local,
    Param,
}

impl Space {
    pub fn from_directive(s: &str) -> Option<Space> {
        Some(match s {
            ".global" => Space::Global,
            ".const" => Space::Const,
            ".shared" => Space::Shared,
            ".local" => Space::Local,
            ".param" => Space::Param,
            _ => return None,
        })
    }
}

/// An initialiser: a scalar or a (nested) brace list of numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Init {
    Num(Number),
    List(Vec<Init>),
}

/// A variable declaration in any state space (`.global`, `.const`, `.shared`, `.local`, and
/// `.param` ones inside function bodies).
#[derive(Debug, Clone)]
pub(crate) struct VarDecl {
    pub line: u32,
    pub space: Space,
    pub align: Option<u32>,
    /// Element type as written, e.g. `.b8`, `.u32`, `.f32`.
    pub ty: String,
    /// `.v2` / `.v4` element vectors.
    pub vec: u32,
    pub name: String,
    /// Array dimensions; `None` for an unsized dimension (`[]`, `.extern .shared`).
    pub dims: Vec<Option<u64>>,
    pub init: Option<Init>,
    pub external: bool,
}

/// A kernel or function parameter (or return value) declaration.
#[derive(Debug, Clone)]
pub(crate) struct ParamDecl {
    pub line: u32,
    /// `.param` or `.reg`.
    pub space: String,
    pub ty: String,
    pub align: Option<u32>,
    pub name: String,
    pub dims: Vec<Option<u64>>,
}

/// `.entry` or `.func`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FuncKind {
    Entry,
    Func,
}

/// A function with its performance directives and body (`None` for a declaration).
#[derive(Debug, Clone)]
pub(crate) struct FuncAst {
    pub line: u32,
    pub kind: FuncKind,
    pub name: String,
    pub rets: Vec<ParamDecl>,
    pub params: Vec<ParamDecl>,
    pub maxntid: Option<(u32, u32, u32)>,
    pub reqntid: Option<(u32, u32, u32)>,
    pub minnctapersm: Option<u32>,
    pub maxnreg: Option<u32>,
    pub body: Option<Vec<Stmt>>,
}

/// An address expression: `[base]`, `[base+off]`, `[off]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AddrExpr {
    /// A register or variable name.
    pub base: Option<String>,
    pub offset: i64,
}

/// An instruction operand as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// A register, special register, variable, label or function name, with an optional
    /// `+offset` (variables only).
    Name(String, i64),
    /// `!%p`: a negated predicate.
    NotPred(String),
    Imm(Number),
    Vector(Vec<Operand>),
    Addr(AddrExpr),
    /// `d|p`: a destination with a predicate destination (setp, shfl).
    Pair(Box<Operand>, Box<Operand>),
    /// `_`: a sink.
    Sink,
    /// `(a, b, …)`: the argument lists of `call`.
    List(Vec<Operand>),
}

/// One instruction.
#[derive(Debug, Clone)]
pub(crate) struct InstrAst {
    pub line: u32,
    /// `@%p` / `@!%p`.
    pub guard: Option<(String, bool)>,
    pub opcode: String,
    pub operands: Vec<Operand>,
}

/// A register declaration: `%r<8>` (count) or a single name.
#[derive(Debug, Clone)]
pub(crate) struct RegDecl {
    pub line: u32,
    pub ty: String,
    pub name: String,
    /// `Some(n)`: names `name0 … name{n-1}`.
    pub count: Option<u32>,
}

/// A statement in a function body.
#[derive(Debug, Clone)]
pub(crate) enum Stmt {
    Label(String, u32),
    Instr(InstrAst),
    Reg(RegDecl),
    Var(VarDecl),
    Block(Vec<Stmt>),
}
