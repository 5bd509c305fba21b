//! The generic-address windows: where `cvta` puts shared, local and parameter memory in the
//! generic address space. The front end folds `cvta` of a variable into a constant from these
//! bases; the engine converts at run time and tells a generic address's space by its window.
//! Global and `.const` addresses are device addresses, outside every window (the driver never
//! places an allocation inside one; a launch over one that does is refused).

use super::op::MemSpace;

/// Base of the generic-address window of shared memory (`cvta.shared`).
pub(crate) const SHARED_WINDOW: u64 = 0xFFFF_A000_0000_0000;
/// Base of the generic-address window of local memory (`cvta.local`).
pub(crate) const LOCAL_WINDOW: u64 = 0xFFFF_B000_0000_0000;
/// Base of the generic-address window of kernel parameters (`cvta.param`).
pub(crate) const PARAM_WINDOW: u64 = 0xFFFF_C000_0000_0000;
/// Size of each window.
pub(crate) const WINDOW_SIZE: u64 = 1 << 32;

/// A resolved generic address.
#[inline]
pub(crate) fn classify(addr: u64) -> (MemSpace, u64) {
    let s = addr.wrapping_sub(SHARED_WINDOW);
    if s < WINDOW_SIZE {
        return (MemSpace::Shared, s);
    }
    let l = addr.wrapping_sub(LOCAL_WINDOW);
    if l < WINDOW_SIZE {
        return (MemSpace::Local, l);
    }
    let p = addr.wrapping_sub(PARAM_WINDOW);
    if p < WINDOW_SIZE {
        return (MemSpace::Param, p);
    }
    (MemSpace::Global, addr)
}

/// The generic address of an address in `space`.
#[inline]
pub(crate) fn to_generic(space: MemSpace, a: u64) -> u64 {
    match space {
        MemSpace::Shared => SHARED_WINDOW.wrapping_add(a & 0xffff_ffff),
        MemSpace::Local => LOCAL_WINDOW.wrapping_add(a & 0xffff_ffff),
        MemSpace::Param => PARAM_WINDOW.wrapping_add(a & 0xffff_ffff),
        _ => a,
    }
}

/// The address in `space` of a generic address (as `cvta.to` computes it: no check).
#[inline]
pub(crate) fn from_generic(space: MemSpace, a: u64) -> u64 {
    match space {
        MemSpace::Shared => a.wrapping_sub(SHARED_WINDOW),
        MemSpace::Local => a.wrapping_sub(LOCAL_WINDOW),
        MemSpace::Param => a.wrapping_sub(PARAM_WINDOW),
        _ => a,
    }
}
