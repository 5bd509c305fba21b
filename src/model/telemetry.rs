//! GPU telemetry as run.json records it. Sampling it (NVML) lives in `crate::probe::telemetry`.

use serde::{Deserialize, Serialize};

/// One reading of a GPU's state. A field is `None` when the device does not report it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct TelemetrySample {
    pub sm_clock_mhz: Option<u32>,
    pub mem_clock_mhz: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
    /// Active throttle reasons ([`throttle_reason_names`]); empty when none or unknown.
    pub throttle: Vec<String>,
}

/// What the telemetry saw during one measurement.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TelemetrySummary {
    /// How many samples were taken.
    pub samples: usize,
    /// Median SM clock over the samples that had one, MHz.
    pub sm_clock_mhz_median: Option<f64>,
    /// Lowest SM clock seen, MHz.
    pub sm_clock_mhz_min: Option<u32>,
    /// The device's maximum SM clock, MHz (for efficiency against the clock actually held).
    pub max_sm_clock_mhz: Option<u32>,
    /// Median memory clock, MHz.
    pub mem_clock_mhz_median: Option<f64>,
    /// Highest GPU temperature seen, °C.
    pub temperature_c_max: Option<u32>,
    /// Median board power, W.
    pub power_w_median: Option<f64>,
    /// Enforced power limit, W.
    pub power_limit_w: Option<f64>,
    /// Every throttle reason seen in any sample, sorted, without duplicates.
    pub throttle_reasons: Vec<String>,
    /// Fraction of samples with at least one throttle reason; 0 when there are no samples.
    pub throttled_fraction: f64,
}

/// One telemetry reading with its time: seconds since the run started, so that the readings
/// of every workload on a GPU form one trace over the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TelemetryPoint {
    pub at_s: f64,
    pub sample: TelemetrySample,
}
