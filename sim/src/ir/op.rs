//! The compiled form of an instruction, as a kernel's flat instruction list holds it (see
//! [`super::Program`]): its operands are register-file slot indices (immediates and special registers are materialised into slots filled when a warp
//! starts), so that the engine's hot loop decodes each instruction once per warp and reads
//! only slots.
//!
//! Register banks (per warp, laid out `[slot][lane]`):
//! - 32-bit bank (`u32`): `.b8/.b16/.b32`, `.u*`/`.s*` of those sizes, `.f16`, `.f16x2`, `.f32`
//!   (16-bit values live in the low half, upper half zero);
//! - 64-bit bank (`u64`): `.b64`, `.u64`, `.s64`, `.f64`;
//! - predicate bank: one `u32` lane mask per predicate register.

/// A slot index into one bank.
pub(crate) type Slot = u32;

/// An operand in either the 32-bit or the 64-bit bank (bit 31 set: 64-bit bank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Opnd(pub u32);

impl Opnd {
    const B64: u32 = 1 << 31;
    pub fn r32(s: Slot) -> Opnd {
        Opnd(s)
    }
    pub fn r64(s: Slot) -> Opnd {
        Opnd(s | Self::B64)
    }
    pub fn is64(self) -> bool {
        self.0 & Self::B64 != 0
    }
    pub fn slot(self) -> Slot {
        self.0 & !Self::B64
    }
}

/// A PTX scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    B8,
    B16,
    B32,
    B64,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    F16x2,
    BF16,
    BF16x2,
    F32,
    F64,
    Pred,
}

impl Ty {
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s.trim_start_matches('.') {
            "b8" => Ty::B8,
            "b16" => Ty::B16,
            "b32" => Ty::B32,
            "b64" => Ty::B64,
            "u8" => Ty::U8,
            "u16" => Ty::U16,
            "u32" => Ty::U32,
            "u64" => Ty::U64,
            "s8" => Ty::S8,
            "s16" => Ty::S16,
            "s32" => Ty::S32,
            "s64" => Ty::S64,
            "f16" => Ty::F16,
            "f16x2" => Ty::F16x2,
            "bf16" => Ty::BF16,
            "bf16x2" => Ty::BF16x2,
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            "pred" => Ty::Pred,
            _ => return None,
        })
    }

    /// Size in bits (predicates: 1).
    pub fn bits(self) -> u32 {
        match self {
            Ty::B8 | Ty::U8 | Ty::S8 => 8,
            Ty::B16 | Ty::U16 | Ty::S16 | Ty::F16 | Ty::BF16 => 16,
            Ty::B32 | Ty::U32 | Ty::S32 | Ty::F32 | Ty::F16x2 | Ty::BF16x2 => 32,
            Ty::B64 | Ty::U64 | Ty::S64 | Ty::F64 => 64,
            Ty::Pred => 1,
        }
    }

    pub fn bytes(self) -> u32 {
        self.bits().div_ceil(8)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Ty::S8 | Ty::S16 | Ty::S32 | Ty::S64)
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            Ty::F16 | Ty::F16x2 | Ty::BF16 | Ty::BF16x2 | Ty::F32 | Ty::F64
        )
    }

    pub fn is_int(self) -> bool {
        !self.is_float() && self != Ty::Pred
    }

    /// Whether a register of this type lives in the 64-bit bank.
    pub fn wide(self) -> bool {
        self.bits() == 64
    }

    pub fn name(self) -> &'static str {
        match self {
            Ty::B8 => "b8",
            Ty::B16 => "b16",
            Ty::B32 => "b32",
            Ty::B64 => "b64",
            Ty::U8 => "u8",
            Ty::U16 => "u16",
            Ty::U32 => "u32",
            Ty::U64 => "u64",
            Ty::S8 => "s8",
            Ty::S16 => "s16",
            Ty::S32 => "s32",
            Ty::S64 => "s64",
            Ty::F16 => "f16",
            Ty::F16x2 => "f16x2",
            Ty::BF16 => "bf16",
            Ty::BF16x2 => "bf16x2",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
            Ty::Pred => "pred",
        }
    }
}

/// Floating-point rounding of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Rnd {
    /// Nearest even (`.rn`, and the default).
    Rn,
    /// Toward zero (`.rz`).
    Rz,
    /// Toward −∞ (`.rm`).
    Rm,
    /// Toward +∞ (`.rp`).
    Rp,
    /// Nearest-away (`.rna`, cvt to tf32 only).
    Rna,
}

/// Integer rounding of a float (cvt `.rni`/`.rzi`/`.rmi`/`.rpi`, or round-to-integral f→f).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IRnd {
    Rni,
    Rzi,
    Rmi,
    Rpi,
}

/// A comparison of setp/set/slct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    // unsigned spellings are mapped onto Lt/Le/Gt/Ge with an unsigned type
    /// Unordered-or-equal etc. (floats).
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

/// How setp combines its comparison with a third predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BoolOp {
    And,
    Or,
    Xor,
}

/// Comparison domain of the fast setp forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CmpTy {
    S,
    U,
    F,
}

/// Integer ALU operations with fast lane loops (both widths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IntOp {
    Add,
    Sub,
    MulLo,
    And,
    Or,
    Xor,
    Shl,
    ShrU,
    ShrS,
    MinS,
    MinU,
    MaxS,
    MaxU,
}

/// Floating ALU operations with fast lane loops (`.rn`, no `.ftz`/`.sat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FOp {
    Add,
    Sub,
    Mul,
}

/// Predicate logic on lane masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PredOp {
    And,
    Or,
    Xor,
    Not,
}

/// Conversions with dedicated lane loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CvtFast {
    /// 32 → 64, sign-extending.
    S64S32,
    /// 32 → 64, zero-extending.
    U64U32,
    /// 64 → 32, truncating.
    Trunc64,
    /// f32 → f64.
    F64F32,
    /// s32 → f32 (.rn).
    F32S32,
    /// u32 → f32 (.rn).
    F32U32,
    /// f16 (low half) → f32.
    F32F16,
    /// f64 → f32 (.rn).
    F32F64,
    /// s32 → f64.
    F64S32,
    /// u32 → f64.
    F64U32,
}

/// Every per-lane ALU function of the generic path (slow but complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AluFn {
    Add,
    Sub,
    Mul,
    MulHi,
    MulWide,
    Mul24Lo,
    Mul24Hi,
    MadLo,
    MadHi,
    MadWide,
    Mad24Lo,
    Mad24Hi,
    Fma,
    Div,
    Rem,
    Abs,
    Neg,
    Min,
    Max,
    MinNaN,
    MaxNaN,
    And,
    Or,
    Xor,
    Not,
    Cnot,
    Shl,
    Shr,
    Popc,
    Clz,
    Brev,
    Bfind,
    BfindShift,
    Bfe,
    Bfi,
    Prmt(u8),
    Sad,
    Lop3(u8),
    ShfL {
        clamp: bool,
    },
    ShfR {
        clamp: bool,
    },
    Rcp,
    Sqrt,
    Rsqrt,
    Ex2,
    Lg2,
    Sin,
    Cos,
    Tanh,
    Copysign,
    Slct,
    Dp4a {
        a_signed: bool,
        b_signed: bool,
    },
    Dp2a {
        a_signed: bool,
        b_signed: bool,
        hi: bool,
    },
}

/// Operand and modifiers of one generic ALU instruction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AluSpec {
    pub f: AluFn,
    /// The instruction type (the operand type of a/b; for `.wide` the source type).
    pub ty: Ty,
    pub d: Opnd,
    pub a: Opnd,
    pub b: Opnd,
    pub c: Opnd,
    /// Fourth source (bfi's length).
    pub e: Opnd,
    pub rnd: Rnd,
    pub ftz: bool,
    pub sat: bool,
    /// `.approx` (transcendentals, div).
    pub approx: bool,
    /// Third operand type where it differs (slct's c, shift amounts: u32).
    pub cty: Ty,
}

/// setp with a combining predicate, two destinations, or a type without a fast path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SetpSpec {
    pub cmp: CmpOp,
    pub ty: Ty,
    pub ftz: bool,
    pub p: Option<Slot>,
    pub q: Option<Slot>,
    pub a: Opnd,
    pub b: Opnd,
    pub comb: Option<(BoolOp, Slot, bool)>,
    /// `set` instead of `setp`: a value destination (`dty`) instead of predicates.
    pub set_dst: Option<(Opnd, Ty)>,
}

/// A conversion (cvt) in full generality.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CvtSpec {
    pub dty: Ty,
    pub sty: Ty,
    pub rnd: Option<Rnd>,
    pub irnd: Option<IRnd>,
    pub sat: bool,
    pub ftz: bool,
    /// `.relu` (f16/bf16 destinations).
    pub relu: bool,
    pub d: Opnd,
    pub a: Opnd,
    /// cvt.rn.f16x2.f32 d, a, b packs two (b in the low half).
    pub b: Option<Opnd>,
}

/// Memory state space of a load or store as the engine resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MemSpace {
    Global,
    Shared,
    Local,
    Param,
    Const,
    Generic,
}

impl MemSpace {
    pub fn name(self) -> &'static str {
        match self {
            MemSpace::Global => "global",
            MemSpace::Shared => "shared",
            MemSpace::Local => "local",
            MemSpace::Param => "param",
            MemSpace::Const => "const",
            MemSpace::Generic => "generic",
        }
    }
}

/// A load or store (scalar or vector).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemSpec {
    pub space: MemSpace,
    /// Bytes per element.
    pub elem: u8,
    /// Elements (1, 2 or 4).
    pub n: u8,
    /// Loads into a wider register sign-extend.
    pub sext: bool,
    /// Element type (for the SDC bit choice and logs).
    pub ty: Ty,
    /// Data registers (destinations of a load, sources of a store); `None` = sink.
    pub data: Vec<Option<Opnd>>,
    pub addr: Opnd,
    pub off: i64,
}

/// Atomic and reduction operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AtomOp {
    Add,
    Min,
    Max,
    Inc,
    Dec,
    And,
    Or,
    Xor,
    Exch,
    Cas,
}

/// `atom` / `red`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AtomSpec {
    pub op: AtomOp,
    pub ty: Ty,
    pub space: MemSpace,
    /// `None` for `red`.
    pub d: Option<Opnd>,
    pub addr: Opnd,
    pub off: i64,
    pub b: Opnd,
    pub c: Option<Opnd>,
}

/// `cp.async`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CpAsyncSpec {
    pub dst: Opnd,
    pub dst_off: i64,
    pub src: Opnd,
    pub src_off: i64,
    pub cp_size: u8,
    pub src_size: Option<Opnd>,
    pub ignore_src: Option<(Slot, bool)>,
    pub cg: bool,
}

/// Shuffle modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// `shfl.sync`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShflSpec {
    pub mode: ShflMode,
    pub d: Slot,
    pub p: Option<Slot>,
    pub a: Slot,
    pub b: Slot,
    pub c: Slot,
    /// The membermask's slot, or [`NO_MEMBERMASK`].
    pub mask: Slot,
}

/// `vote.sync` and `activemask`, `redux.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum VoteMode {
    All,
    Any,
    Uni,
    Ballot,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VoteSpec {
    pub mode: VoteMode,
    /// Predicate destination (all/any/uni) or 32-bit destination (ballot).
    pub d: Slot,
    pub a: Slot,
    pub a_neg: bool,
    /// The membermask's slot, or [`NO_MEMBERMASK`].
    pub mask: Slot,
}

/// `redux.sync`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReduxSpec {
    pub op: AtomOp,
    pub signed: bool,
    pub d: Slot,
    pub a: Slot,
    pub mask: Slot,
}

/// `mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MmaSpec {
    pub d: [Slot; 2],
    pub a: Slot,
    pub b: Slot,
    pub c: [Slot; 2],
}

/// Which matrix a wmma load reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WmmaFrag {
    A,
    B,
    C,
}

/// `wmma.load` / `wmma.store` (m16n16k16; A/B f16, C/D f32 or f16).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WmmaLdSt {
    pub frag: WmmaFrag,
    pub row_major: bool,
    pub space: MemSpace,
    /// Element type in memory (f16 for A/B, f32 or f16 for C/D).
    pub ty: Ty,
    pub regs: Vec<Slot>,
    pub addr: Opnd,
    pub off: i64,
    pub stride: Option<Slot>,
}

/// `wmma.mma` m16n16k16 (f16 inputs, f32 or f16 accumulators).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WmmaMma {
    pub d: Vec<Slot>,
    pub a: Vec<Slot>,
    pub b: Vec<Slot>,
    pub c: Vec<Slot>,
    pub dty: Ty,
    pub cty: Ty,
}

/// Barrier flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BarKind {
    /// `bar.sync` / `barrier.sync` (aligned or not).
    Sync { aligned: bool },
    /// `bar.arrive`.
    Arrive,
    /// `bar.red.popc.u32` / `.and.pred` / `.or.pred`.
    Red(BarRed),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BarRed {
    Popc,
    And,
    Or,
}

/// A barrier instruction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BarSpec {
    pub kind: BarKind,
    pub id: Slot,
    pub count: Option<Slot>,
    /// bar.red: destination (32-bit slot for popc, predicate for and/or) and the input
    /// predicate with its negation.
    pub red: Option<(Slot, Slot, bool)>,
}

/// Special registers read at run time (the rest are materialised when a warp starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dyn {
    Clock,
    Clock64,
    GlobalTimer,
}

/// One compiled instruction's operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Nop,
    Bra {
        target: u32,
    },
    /// Ends the executing lanes (`exit`, `ret` of the entry).
    Exit,
    Trap,
    Bar(Box<BarSpec>),
    WarpSync {
        mask: Slot,
    },
    Mov32 {
        d: Slot,
        a: Slot,
    },
    Mov64 {
        d: Slot,
        a: Slot,
    },
    MovPred {
        d: Slot,
        a: Slot,
    },
    /// `mov.b32 d, {a, b}` / `mov.b64 d, {a, b}` / `{a,b,c,d}`: parts low to high.
    Pack {
        d: Opnd,
        parts: Box<[Opnd]>,
        part_bits: u8,
    },
    /// `mov.b64 {a, b}, d` and friends.
    Unpack {
        a: Opnd,
        parts: Box<[Option<Opnd>]>,
        part_bits: u8,
    },
    ReadDyn {
        d: Opnd,
        which: Dyn,
    },
    I32 {
        f: IntOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    I64 {
        f: IntOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    /// 64-bit shift by a 32-bit amount.
    Sh64 {
        f: IntOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    F32 {
        f: FOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    F64 {
        f: FOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    Fma32 {
        d: Slot,
        a: Slot,
        b: Slot,
        c: Slot,
    },
    Fma64 {
        d: Slot,
        a: Slot,
        b: Slot,
        c: Slot,
    },
    Mad32 {
        d: Slot,
        a: Slot,
        b: Slot,
        c: Slot,
    },
    Mad64 {
        d: Slot,
        a: Slot,
        b: Slot,
        c: Slot,
    },
    MulWide {
        signed: bool,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    Setp32 {
        cmp: CmpOp,
        t: CmpTy,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    Setp64 {
        cmp: CmpOp,
        t: CmpTy,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    Selp32 {
        d: Slot,
        a: Slot,
        b: Slot,
        p: Slot,
    },
    Selp64 {
        d: Slot,
        a: Slot,
        b: Slot,
        p: Slot,
    },
    Cvt {
        k: CvtFast,
        d: Slot,
        a: Slot,
    },
    Pred {
        f: PredOp,
        d: Slot,
        a: Slot,
        b: Slot,
    },
    Alu(Box<AluSpec>),
    Setp(Box<SetpSpec>),
    CvtGen(Box<CvtSpec>),
    /// `selp` of predicates (`selp.pred` is not PTX; kept for `mov.pred` of constants).
    Ld(Box<MemSpec>),
    St(Box<MemSpec>),
    /// `cvta.*` / `cvta.to.*`: space ↔ generic.
    Cvta {
        to_generic: bool,
        space: MemSpace,
        d: Opnd,
        a: Opnd,
    },
    /// `isspacep.*`.
    IsSpace {
        space: MemSpace,
        d: Slot,
        a: Opnd,
    },
    Atom(Box<AtomSpec>),
    CpAsync(Box<CpAsyncSpec>),
    CpCommit,
    CpWait {
        n: u32,
    },
    Shfl(Box<ShflSpec>),
    Vote(Box<VoteSpec>),
    Redux(Box<ReduxSpec>),
    ActiveMask {
        d: Slot,
    },
    Mma(Box<MmaSpec>),
    WmmaLoad(Box<WmmaLdSt>),
    WmmaStore(Box<WmmaLdSt>),
    WmmaMma(Box<WmmaMma>),
    /// `testp.*` (generic; c = which test).
    Testp {
        test: u8,
        ty: Ty,
        d: Slot,
        a: Opnd,
    },
}

/// "No guard predicate".
pub(crate) const NO_GUARD: u32 = u32::MAX;

/// The membermask slot of a warp collective written without one (`shfl`, `vote` before sm_70):
/// the lanes that execute it.
pub(crate) const NO_MEMBERMASK: Slot = u32::MAX;

/// Which counter an instruction's FLOPs go to ([`Inst::flop_kind`]).
pub(crate) const FLOPS_NONE: u8 = 0;
pub(crate) const FLOPS_F32: u8 = 1;
pub(crate) const FLOPS_F64: u8 = 2;
/// f16, bf16 and their packed pairs.
pub(crate) const FLOPS_F16: u8 = 3;

/// One compiled instruction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inst {
    pub op: Op,
    /// Guard predicate slot or [`NO_GUARD`].
    pub guard: u32,
    /// XOR applied to the guard mask (`!0` for `@!%p`).
    pub guard_xor: u32,
    /// PTX line.
    pub line: u32,
    /// FLOPs per executing lane and which counter: [`FLOPS_NONE`], [`FLOPS_F32`],
    /// [`FLOPS_F64`] or [`FLOPS_F16`].
    pub flops: u8,
    pub flop_kind: u8,
    /// Integer ALU operations per executing lane (see [`Op::int_ops`]).
    pub int_ops: u8,
}

impl Op {
    /// Integer ALU operations of one lane of this instruction, for the time model's integer
    /// unit: 1 for a 32-bit (or narrower) integer add, subtract, multiply, multiply-add,
    /// min/max, absolute value, negation, logic, shift, bit-field, permute, compare or select;
    /// 2 for the 64-bit forms (two 32-bit operations on the hardware); 0 for everything else
    /// (moves, conversions, predicate logic, loads and stores, floating point, branches).
    pub fn int_ops(&self) -> u8 {
        let by_width = |bits: u32| if bits > 32 { 2 } else { 1 };
        match self {
            Op::I32 { .. } | Op::Mad32 { .. } | Op::Selp32 { .. } => 1,
            Op::I64 { .. } | Op::Sh64 { .. } | Op::Mad64 { .. } | Op::MulWide { .. } => 2,
            Op::Selp64 { .. } => 2,
            Op::Setp32 { t, .. } => u8::from(*t != CmpTy::F),
            Op::Setp64 { t, .. } => 2 * u8::from(*t != CmpTy::F),
            Op::Alu(s) if s.ty.is_int() => {
                let wide = matches!(s.f, AluFn::MulWide | AluFn::MadWide);
                if wide {
                    2
                } else {
                    by_width(s.ty.bits())
                }
            }
            Op::Setp(s) if s.ty.is_int() => by_width(s.ty.bits()),
            _ => 0,
        }
    }
}

/// Special registers materialised when a warp starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Special {
    Tid(u8),
    Ntid(u8),
    Ctaid(u8),
    Nctaid(u8),
    LaneId,
    WarpId,
    NWarpId,
    SmId,
    NSmId,
    GridId,
    LaneMaskEq,
    LaneMaskLe,
    LaneMaskLt,
    LaneMaskGe,
    LaneMaskGt,
    DynSmemSize,
    TotalSmemSize,
    /// `%envreg<n>`: zero.
    Zero,
}

/// How an instruction touches a register operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Use,
    Def,
    /// Read and written (or written in part).
    UseDef,
}

/// Visits a bare slot of a known bank as an operand.
fn slot_op(s: &mut Slot, wide: bool, role: Role, f: &mut dyn FnMut(&mut Opnd, Role)) {
    let mut o = if wide { Opnd::r64(*s) } else { Opnd::r32(*s) };
    f(&mut o, role);
    *s = o.slot();
}

impl Op {
    /// Calls `f` with every 32/64-bit register operand (predicates excluded) and how the
    /// instruction uses it; `f` may rewrite the operand (same bank).
    pub fn for_each_reg(&mut self, f: &mut dyn FnMut(&mut Opnd, Role)) {
        use Role::*;
        match self {
            Op::Nop | Op::Bra { .. } | Op::Exit | Op::Trap | Op::CpCommit | Op::CpWait { .. } => {}
            Op::MovPred { .. } | Op::Pred { .. } => {}
            Op::Bar(b) => {
                slot_op(&mut b.id, false, Use, f);
                if let Some(c) = b.count.as_mut() {
                    slot_op(c, false, Use, f);
                }
                if b.kind == BarKind::Red(BarRed::Popc) {
                    if let Some((d, _, _)) = b.red.as_mut() {
                        slot_op(d, false, UseDef, f);
                    }
                }
            }
            Op::WarpSync { mask } => slot_op(mask, false, Use, f),
            Op::Mov32 { d, a } => {
                slot_op(a, false, Use, f);
                slot_op(d, false, Def, f);
            }
            Op::Mov64 { d, a } => {
                slot_op(a, true, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::Pack { d, parts, .. } => {
                parts.iter_mut().for_each(|p| f(p, Use));
                f(d, Def);
            }
            Op::Unpack { a, parts, .. } => {
                f(a, Use);
                parts.iter_mut().flatten().for_each(|p| f(p, Def));
            }
            Op::ReadDyn { d, .. } => f(d, Def),
            Op::I32 { d, a, b, .. } | Op::F32 { d, a, b, .. } => {
                slot_op(a, false, Use, f);
                slot_op(b, false, Use, f);
                slot_op(d, false, Def, f);
            }
            Op::I64 { d, a, b, .. } | Op::F64 { d, a, b, .. } => {
                slot_op(a, true, Use, f);
                slot_op(b, true, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::Sh64 { d, a, b, .. } => {
                slot_op(a, true, Use, f);
                slot_op(b, false, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::Fma32 { d, a, b, c } | Op::Mad32 { d, a, b, c } => {
                slot_op(a, false, Use, f);
                slot_op(b, false, Use, f);
                slot_op(c, false, Use, f);
                slot_op(d, false, Def, f);
            }
            Op::Fma64 { d, a, b, c } | Op::Mad64 { d, a, b, c } => {
                slot_op(a, true, Use, f);
                slot_op(b, true, Use, f);
                slot_op(c, true, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::MulWide { d, a, b, .. } => {
                slot_op(a, false, Use, f);
                slot_op(b, false, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::Setp32 { a, b, .. } => {
                slot_op(a, false, Use, f);
                slot_op(b, false, Use, f);
            }
            Op::Setp64 { a, b, .. } => {
                slot_op(a, true, Use, f);
                slot_op(b, true, Use, f);
            }
            Op::Selp32 { d, a, b, .. } => {
                slot_op(a, false, Use, f);
                slot_op(b, false, Use, f);
                slot_op(d, false, Def, f);
            }
            Op::Selp64 { d, a, b, .. } => {
                slot_op(a, true, Use, f);
                slot_op(b, true, Use, f);
                slot_op(d, true, Def, f);
            }
            Op::Cvt { k, d, a } => {
                let (dw, aw) = match k {
                    CvtFast::S64S32 | CvtFast::U64U32 => (true, false),
                    CvtFast::Trunc64 => (false, true),
                    CvtFast::F64F32 | CvtFast::F64S32 | CvtFast::F64U32 => (true, false),
                    CvtFast::F32S32 | CvtFast::F32U32 | CvtFast::F32F16 => (false, false),
                    CvtFast::F32F64 => (false, true),
                };
                slot_op(a, aw, Use, f);
                slot_op(d, dw, Def, f);
            }
            Op::Alu(s) => {
                f(&mut s.a, Use);
                f(&mut s.b, Use);
                f(&mut s.c, Use);
                f(&mut s.e, Use);
                f(&mut s.d, Def);
            }
            Op::Setp(s) => {
                f(&mut s.a, Use);
                f(&mut s.b, Use);
                if let Some((d, _)) = s.set_dst.as_mut() {
                    f(d, Def);
                }
            }
            Op::CvtGen(s) => {
                f(&mut s.a, Use);
                if let Some(b) = s.b.as_mut() {
                    f(b, Use);
                }
                f(&mut s.d, Def);
            }
            Op::Ld(m) => {
                f(&mut m.addr, Use);
                m.data.iter_mut().flatten().for_each(|o| f(o, Def));
            }
            Op::St(m) => {
                f(&mut m.addr, Use);
                m.data.iter_mut().flatten().for_each(|o| f(o, Use));
            }
            Op::Cvta { d, a, .. } => {
                f(a, Use);
                f(d, Def);
            }
            Op::IsSpace { a, .. } => f(a, Use),
            Op::Atom(s) => {
                f(&mut s.addr, Use);
                f(&mut s.b, Use);
                if let Some(c) = s.c.as_mut() {
                    f(c, Use);
                }
                if let Some(d) = s.d.as_mut() {
                    f(d, Def);
                }
            }
            Op::CpAsync(s) => {
                f(&mut s.dst, Use);
                f(&mut s.src, Use);
                if let Some(z) = s.src_size.as_mut() {
                    f(z, Use);
                }
            }
            Op::Shfl(s) => {
                slot_op(&mut s.a, false, Use, f);
                slot_op(&mut s.b, false, Use, f);
                slot_op(&mut s.c, false, Use, f);
                if s.mask != NO_MEMBERMASK {
                    slot_op(&mut s.mask, false, Use, f);
                }
                slot_op(&mut s.d, false, Def, f);
            }
            Op::Vote(s) => {
                if s.mask != NO_MEMBERMASK {
                    slot_op(&mut s.mask, false, Use, f);
                }
                if s.mode == VoteMode::Ballot {
                    slot_op(&mut s.d, false, Def, f);
                }
            }
            Op::Redux(s) => {
                slot_op(&mut s.a, false, Use, f);
                slot_op(&mut s.mask, false, Use, f);
                slot_op(&mut s.d, false, Def, f);
            }
            Op::ActiveMask { d } => slot_op(d, false, Def, f),
            Op::Mma(s) => {
                slot_op(&mut s.a, true, Use, f);
                slot_op(&mut s.b, true, Use, f);
                s.c.iter_mut().for_each(|x| slot_op(x, true, Use, f));
                s.d.iter_mut().for_each(|x| slot_op(x, true, Def, f));
            }
            Op::WmmaLoad(s) => {
                f(&mut s.addr, Use);
                if let Some(st) = s.stride.as_mut() {
                    slot_op(st, false, Use, f);
                }
                // f16 fragments are written half by half.
                s.regs.iter_mut().for_each(|x| slot_op(x, false, UseDef, f));
            }
            Op::WmmaStore(s) => {
                f(&mut s.addr, Use);
                if let Some(st) = s.stride.as_mut() {
                    slot_op(st, false, Use, f);
                }
                s.regs.iter_mut().for_each(|x| slot_op(x, false, Use, f));
            }
            Op::WmmaMma(s) => {
                s.a.iter_mut()
                    .chain(s.b.iter_mut())
                    .chain(s.c.iter_mut())
                    .for_each(|x| slot_op(x, false, Use, f));
                let role = if s.dty == Ty::F16 { UseDef } else { Def };
                s.d.iter_mut().for_each(|x| slot_op(x, false, role, f));
            }
            Op::Testp { a, .. } => f(a, Use),
        }
    }
}
