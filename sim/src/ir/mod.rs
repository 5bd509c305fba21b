//! The contract between the PTX front end ([`crate::ptx`]) and the execution engine
//! ([`crate::exec`]): what the one produces and the other runs, and the conventions both must
//! keep. Both import it; neither imports the other for any of it.
//!
//! - `op`: one compiled instruction ([`Inst`]): its operation ([`Op`] and the specs of the
//!   generic forms), its operands as register-file slots ([`Opnd`], the 32-bit, 64-bit and
//!   predicate banks laid out `[slot][lane]`), its guard ([`NO_GUARD`]) and its counts for the
//!   time model (FLOPs by kind, [`Op::int_ops`]).
//! - `kernel`: a compiled kernel ([`Kernel`]): the parameter buffer's layout, the shared-memory
//!   layout, the register estimate, and its body ([`Program`]: instructions, slot counts,
//!   constant and special-register slots).
//! - `windows`: the generic-address windows of shared, local and parameter memory
//!   ([`SHARED_WINDOW`], [`LOCAL_WINDOW`], [`PARAM_WINDOW`], [`WINDOW_SIZE`]) and the
//!   conversions between them and the state spaces.

mod kernel;
mod op;
mod windows;

pub use kernel::{Kernel, ParamInfo};
pub(crate) use kernel::{Program, SharedLayout};
pub(crate) use op::*;
pub(crate) use windows::*;
