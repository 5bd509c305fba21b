//! Inventory: what is here. The host (CPU, memory, disks, OS) and the GPUs the driver can see.
//!
//! Nothing here prints or panics. The parsers take file text as input so they are tested with
//! literal fixtures; missing or odd fields give empty strings and zeros, never an error.

pub mod gpu;
pub mod host;

pub use gpu::{gpus, GpuInventory};
pub use host::host;
