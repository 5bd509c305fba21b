//! Inventory: what is here. The host (CPU, memory, disks, OS) and the GPUs the driver can see,
//! and their NVML telemetry (clocks, temperature, power, throttle reasons, PCIe link) where the
//! driver's `libnvidia-ml` is present, and their health counters and Xid events (`health`).
//!
//! Nothing here prints or panics. The parsers take file text as input so they are tested with
//! literal fixtures; missing or odd fields give empty strings and zeros, never an error.

pub mod gpu;
pub mod health;
pub mod host;
pub mod telemetry;

pub use gpu::{gpus, GpuInventory};
pub use host::host;
pub use telemetry::{
    nvml_status, GpuTelemetry, PcieLink, Recording, TelemetryError, TelemetryPoint,
    TelemetryRecorder, TelemetrySample, TelemetrySummary,
};
