//! Address resolution and checks: which allocation (global), which byte of the CTA's shared
//! memory, of the thread's local frame or of the parameter buffer an access touches; bounds and
//! alignment faults as a GPU raises them.

use std::cell::Cell;

use super::{LaunchErrorKind, Region};
use crate::ir::MemSpace;

/// A fault raised by one lane of one instruction; the block runner adds kernel, line, block
/// and thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub kind: LaunchErrorKind,
    pub lane: Option<u32>,
    pub addr: Option<u64>,
    pub msg: String,
}

impl Fault {
    pub fn new(kind: LaunchErrorKind, msg: impl Into<String>) -> Fault {
        Fault {
            kind,
            lane: None,
            addr: None,
            msg: msg.into(),
        }
    }

    pub fn at(mut self, lane: u32, addr: u64) -> Fault {
        self.lane = Some(lane);
        self.addr = Some(addr);
        self
    }

    pub fn lane(mut self, lane: u32) -> Fault {
        self.lane = Some(lane);
        self
    }
}

/// The global memory of a launch: the driver's allocations, with the last hit cached.
pub(crate) struct GlobalMem<'a> {
    regions: &'a [Region],
    last: Cell<usize>,
}

impl<'a> GlobalMem<'a> {
    pub fn new(regions: &'a [Region]) -> GlobalMem<'a> {
        GlobalMem {
            regions,
            last: Cell::new(0),
        }
    }

    /// The host pointer of `[addr, addr + len)` if one allocation holds all of it, and whether
    /// that allocation is read-only.
    #[inline]
    pub fn lookup(&self, addr: u64, len: u64) -> Option<(*mut u8, bool)> {
        let i = self.last.get();
        if let Some(r) = self.regions.get(i) {
            let off = addr.wrapping_sub(r.base);
            if off < r.len && len <= r.len - off {
                // SAFETY: off + len ≤ r.len, within the allocation the driver keeps alive.
                return Some((unsafe { r.ptr.add(off as usize) }, r.read_only));
            }
        }
        let k = self.regions.partition_point(|r| r.base <= addr);
        if k == 0 {
            return None;
        }
        let r = &self.regions[k - 1];
        let off = addr - r.base;
        if off < r.len && len <= r.len - off {
            self.last.set(k - 1);
            // SAFETY: as above.
            return Some((unsafe { r.ptr.add(off as usize) }, r.read_only));
        }
        None
    }

    /// A description of the allocations near `addr` for fault logs.
    pub fn nearest(&self, addr: u64) -> String {
        let k = self.regions.partition_point(|r| r.base <= addr);
        if k == 0 {
            return match self.regions.first() {
                Some(r) => format!("below the first allocation at {:#x}", r.base),
                None => "no device memory is allocated".into(),
            };
        }
        let r = &self.regions[k - 1];
        let end = r.base + r.len;
        if addr >= end {
            format!(
                "{} bytes past the end of the allocation [{:#x}, {:#x})",
                addr - end,
                r.base,
                end
            )
        } else {
            format!(
                "the access runs past the end of the allocation [{:#x}, {:#x})",
                r.base, end
            )
        }
    }
}

pub(crate) fn misaligned(space: MemSpace, write: bool, len: u64, addr: u64, lane: u32) -> Fault {
    Fault::new(
        LaunchErrorKind::MisalignedAddress,
        format!(
            "misaligned {} {} of {} bytes at address {:#x} (needs {}-byte alignment)",
            space.name(),
            if write { "write" } else { "read" },
            len,
            addr,
            len
        ),
    )
    .at(lane, addr)
}

pub(crate) fn out_of_bounds(
    space: MemSpace,
    write: bool,
    len: u64,
    addr: u64,
    lane: u32,
    why: &str,
) -> Fault {
    Fault::new(
        LaunchErrorKind::IllegalAddress,
        format!(
            "out-of-bounds {} {} of {} bytes at address {:#x} ({})",
            space.name(),
            if write { "write" } else { "read" },
            len,
            addr,
            why
        ),
    )
    .at(lane, addr)
}
