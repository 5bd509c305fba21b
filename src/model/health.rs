//! GPU health as run.json records it: the counters NVML gives before and after a run (ECC
//! errors, retired pages or remapped rows, PCIe replays) and the Xid events seen during it.
//! Reading them lives in `crate::probe::health`, judging them in `crate::gate::health`.
//!
//! Every reading is a [`Reading`]: a value, or "not available" with the reason (an entry point
//! this driver lacks, a GPU that does not support it, ECC off). A missing reading is never an
//! error.

use serde::{Deserialize, Serialize};

/// One reading: its value, or why there is none.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reading<T> {
    Value(T),
    /// Not available, with the reason ("not supported on this GPU", "not available on this
    /// driver (nvmlDeviceGetRemappedRows)").
    NotAvailable(String),
}

impl<T: Copy> Reading<T> {
    /// The value, if there is one.
    pub fn value(&self) -> Option<T> {
        match self {
            Reading::Value(v) => Some(*v),
            Reading::NotAvailable(_) => None,
        }
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Reading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reading::Value(v) => write!(f, "{v}"),
            Reading::NotAvailable(why) => write!(f, "not available ({why})"),
        }
    }
}

/// ECC error counts of one kind: corrected (single-bit) or uncorrected (double-bit), since the
/// driver loaded (volatile) and over the board's life (aggregate, kept in its InfoROM).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EccCounts {
    pub volatile: Reading<u64>,
    pub aggregate: Reading<u64>,
}

/// A GPU's health counters at one moment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HealthSnapshot {
    /// Seconds since the run started.
    pub at_s: f64,
    /// Whether ECC is on (the counters below need it).
    pub ecc_enabled: Reading<bool>,
    /// Corrected (single-bit) ECC errors.
    pub ecc_corrected: EccCounts,
    /// Uncorrected (double-bit) ECC errors.
    pub ecc_uncorrected: EccCounts,
    /// Pages retired for multiple single-bit errors (page retirement: GPUs before Ampere).
    pub retired_pages_sbe: Reading<u32>,
    /// Pages retired for a double-bit error.
    pub retired_pages_dbe: Reading<u32>,
    /// A page retirement waits for the next reset.
    pub retirement_pending: Reading<bool>,
    /// Rows remapped for correctable errors (row remapping: Ampere and later).
    pub remapped_rows_correctable: Reading<u32>,
    /// Rows remapped for uncorrectable errors.
    pub remapped_rows_uncorrectable: Reading<u32>,
    /// A row remap waits for the next reset.
    pub remap_pending: Reading<bool>,
    /// A row remap failed (no spare row left).
    pub remap_failure: Reading<bool>,
    /// PCIe replays since the driver loaded.
    pub pcie_replays: Reading<u64>,
}

/// An Xid event reported by the driver during the run (NVML's critical Xid event).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HealthEvent {
    /// The GPU's index in the run.
    pub gpu: u32,
    pub xid: u64,
    /// Seconds since the run started.
    pub at_s: f64,
    /// The burn-in's interval the event came in (`gpugate burn`; None: any other run, or an
    /// event before or after the load). Informational: the Xid rule names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<usize>,
}

/// One GPU's health over a run: the counters before and after, and its Xid events.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GpuHealth {
    pub gpu: u32,
    /// None when NVML could not be used (see `note`).
    pub before: Option<HealthSnapshot>,
    pub after: Option<HealthSnapshot>,
    /// Xid events seen during the run, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<HealthEvent>,
    /// Why the Xid events were not watched (None: they were, and `events` is all there was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_unwatched: Option<String>,
    /// Why readings are missing (NVML not available, the GPU not found by NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The GPU's own slowdown temperature, °C (NVML's
    /// `nvmlDeviceGetTemperatureThreshold(NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)`): the
    /// temperature limit where the profile sets none (`crate::gate::health`). Absent in files
    /// from before schema 6 and where NVML could not be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown_temperature_c: Option<Reading<u32>>,
}
