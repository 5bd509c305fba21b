//! One warp and the CTA context it runs in: the state every instruction reads and writes. A
//! warp is its register file (`[slot][lane]` per bank, predicates as lane masks), its lane
//! groups (one PC each: divergence), its per-lane local frames and its cp.async queue; the
//! context ([`Ctx`]) is its CTA's on one worker thread: the kernel, memory, barriers, counters.
//! The interpreter (`interp`), the memory operations, the collectives and the matrix
//! instructions all work on these; this module depends on none of them.

use super::mem::{Fault, GlobalMem};
use super::race::Race;
use super::LaunchStats;
use crate::ir::*;

/// A set of lanes at one PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    pub pc: u32,
    pub mask: u32,
    /// Waiting at a collective until no other group can run.
    pub parked: bool,
}

/// One pending cp.async of one lane: lands in shared memory at its covering wait_group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpEntry {
    pub lane: u8,
    pub len: u8,
    /// The lane's commit-group number this copy belongs to.
    pub group: u32,
    pub dst: u32,
    pub data: [u8; 16],
    pub pc: u32,
}

/// Where a warp stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WarpState {
    Ready,
    /// At a CTA barrier (`id`), arrived with its live lanes.
    Waiting {
        id: u32,
        pc: u32,
    },
    Done,
}

/// One warp of a CTA.
pub(crate) struct Warp {
    pub idx: u32,
    pub r32: Vec<u32>,
    pub r64: Vec<u64>,
    pub preds: Vec<u32>,
    pub groups: Vec<Group>,
    /// Lanes that are threads of the CTA.
    pub exists: u32,
    /// Lanes that have not exited.
    pub live: u32,
    /// 32 per-lane local frames.
    pub local: Vec<u8>,
    pub cp: Vec<CpEntry>,
    pub committed: [u32; 32],
    /// Warp-sync epoch (race detector).
    pub wep: u16,
    pub state: WarpState,
}

impl Warp {
    pub fn new() -> Warp {
        Warp {
            idx: 0,
            r32: Vec::new(),
            r64: Vec::new(),
            preds: Vec::new(),
            groups: Vec::new(),
            exists: 0,
            live: 0,
            local: Vec::new(),
            cp: Vec::new(),
            committed: [0; 32],
            wep: 0,
            state: WarpState::Done,
        }
    }

    /// One operand's lane value (zero-extended).
    #[inline]
    pub fn rd(&self, o: Opnd, lane: u32) -> u64 {
        let i = o.slot() as usize * 32 + lane as usize;
        if o.is64() {
            self.r64[i]
        } else {
            self.r32[i] as u64
        }
    }

    /// Writes one lane of an operand (truncated to the register's width).
    #[inline]
    pub fn wr(&mut self, o: Opnd, lane: u32, v: u64) {
        let i = o.slot() as usize * 32 + lane as usize;
        if o.is64() {
            self.r64[i] = v;
        } else {
            self.r32[i] = v as u32;
        }
    }

    /// Sets predicate `d` to `v` in the lanes of `exec`.
    #[inline(always)]
    pub fn set_pred(&mut self, d: u32, exec: u32, v: u32) {
        let p = &mut self.preds[d as usize];
        *p = (*p & !exec) | (v & exec);
    }

    /// Writes `v` to the lanes of `exec` of 32-bit register `d`.
    #[inline]
    pub fn fill32(&mut self, d: u32, exec: u32, v: u32) {
        for l in super::lanes::lanes(exec) {
            self.r32[d as usize * 32 + l as usize] = v;
        }
    }

    /// Group `gi` continues at `pc` with lanes `mask`.
    #[inline(always)]
    pub(crate) fn save(&mut self, gi: usize, pc: u32, mask: u32) {
        self.groups[gi].pc = pc;
        self.groups[gi].mask = mask;
    }

    /// A whole operand row as u64 lanes.
    #[inline]
    pub fn row(&self, o: Opnd) -> [u64; 32] {
        let b = o.slot() as usize * 32;
        let mut out = [0u64; 32];
        if o.is64() {
            out.copy_from_slice(&self.r64[b..b + 32]);
        } else {
            for (k, v) in out.iter_mut().enumerate() {
                *v = self.r32[b + k] as u64;
            }
        }
        out
    }
}

/// Per-barrier state of a CTA.
#[derive(Debug, Clone, Default)]
pub(crate) struct BarState {
    /// Threads arrived.
    pub arrived: u32,
    /// Expected thread count when the barrier names one.
    pub count: Option<u32>,
    /// Warps waiting (warp index, the barrier's PC).
    pub waiting: Vec<(u32, u32)>,
    /// bar.red accumulators.
    pub popc: u32,
    pub all: bool,
    pub any: bool,
}

/// The execution context of one CTA on one worker thread.
pub(crate) struct Ctx<'a> {
    pub kernel: &'a Kernel,
    pub prog: &'a Program,
    pub global: GlobalMem<'a>,
    pub params: &'a [u8],
    pub shared: Vec<u8>,
    pub local_bytes: usize,
    pub race: Option<Race>,
    /// The sdc fault still to apply in this CTA (None: nothing pending).
    pub sdc: Option<Option<u32>>,
    /// The stuck bit's cell and its host address, when it lies in this launch's memory.
    pub stuck: Option<(super::StuckCell, usize)>,
    pub stats: LaunchStats,
    pub hw_fma: bool,
    pub clock: u64,
    pub block: [u32; 3],
    pub ntid: [u32; 3],
    pub nctaid: [u32; 3],
    pub dyn_smem: u32,
    pub bars: Vec<BarState>,
}

/// A fault with the PC of the instruction that raised it.
pub(crate) type Res<T> = Result<T, (u32, Fault)>;
