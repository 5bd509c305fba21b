//! A compiled kernel as the engine launches it: the parameter buffer's layout, the shared-memory
//! layout, the register estimate, and the compiled body ([`Program`]). The front end fills
//! every field; the engine reads them.

use super::op::{Inst, Opnd, Slot, Special};

/// One kernel parameter as the ABI lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    pub size: usize,
    pub align: usize,
}

/// One `.entry` of a loaded module, ready to launch (see [`crate::exec::launch`]).
pub struct Kernel {
    pub(crate) name: String,
    pub(crate) params: Vec<ParamInfo>,
    /// Byte offset of each parameter in the parameter buffer.
    pub(crate) param_offsets: Vec<usize>,
    pub(crate) param_bytes: usize,
    pub(crate) maxntid: Option<(u32, u32, u32)>,
    pub(crate) reqntid: Option<(u32, u32, u32)>,
    pub(crate) minnctapersm: Option<u32>,
    pub(crate) shared: SharedLayout,
    pub(crate) num_regs: u32,
    pub(crate) line: u32,
    pub(crate) prog: Program,
}

/// A compiled kernel body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    pub insts: Vec<Inst>,
    pub n32: u32,
    pub n64: u32,
    pub npred: u32,
    /// Constant slots: (slot, value) per bank; predicate constants are lane masks.
    pub const32: Vec<(Slot, u32)>,
    pub const64: Vec<(Slot, u64)>,
    pub constpred: Vec<(Slot, u32)>,
    /// Special register slots (32-bit bank unless `wide`).
    pub specials: Vec<(Opnd, Special)>,
    /// Bytes of per-thread local memory (depots, inlined call frames).
    pub local_bytes: u32,
    /// Whether the kernel uses cp.async (the engine then keeps a queue per warp).
    pub uses_cp_async: bool,
}

/// Static shared-memory layout of a kernel (module `.shared` variables it references and its
/// own; `.extern .shared` arrays start at `dynamic_base`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedLayout {
    pub static_bytes: u32,
    pub dynamic_align: u32,
}

impl Kernel {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }
    /// `.maxntid` (x, y, z) when declared.
    pub fn maxntid(&self) -> Option<(u32, u32, u32)> {
        self.maxntid
    }
    /// `.reqntid` (x, y, z) when declared.
    pub fn reqntid(&self) -> Option<(u32, u32, u32)> {
        self.reqntid
    }
    /// `.minnctapersm` when declared.
    pub fn min_ctas_per_sm(&self) -> Option<u32> {
        self.minnctapersm
    }
    /// Bytes of static `.shared` memory the entry uses.
    pub fn static_shared_bytes(&self) -> u32 {
        self.shared.static_bytes
    }
    /// Bytes of `.local` memory per thread.
    pub fn local_bytes(&self) -> u32 {
        self.prog.local_bytes
    }
    /// Registers per thread as a driver would report them (CU_FUNC_ATTRIBUTE_NUM_REGS): an
    /// estimate, since there is no register allocator here; at most 255.
    pub fn num_regs(&self) -> u32 {
        self.num_regs
    }
    /// The line of the `.entry` directive in the module text (for logs).
    pub fn line(&self) -> u32 {
        self.line
    }
}
