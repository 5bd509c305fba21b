//! The GPU memory test as run.json records it (`RunReport::memtest`): one [`MemtestReport`]
//! per GPU tested, a [`PatternResult`] per pattern run, and the errors found. The test itself
//! is `crate::memtest`; the checks it gives, `crate::gate` (`memtest_checks`).

use serde::{Deserialize, Serialize};

/// One GPU's memory test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemtestReport {
    pub device: u32,
    /// The seed the random patterns derive from (each pattern's own seed is derived from it
    /// and the pattern, `memtest::Pattern::seed`).
    pub seed: u64,
    /// The share of the free memory asked for (`--memory-share`, percent).
    pub requested_share_percent: f64,
    /// The GPU's free and total memory when the test allocated, bytes.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// Bytes allocated and tested (every pattern covers all of them, the address-line
    /// patterns through the words whose index walks the address bits).
    pub covered_bytes: u64,
    /// How many allocations held them (one when the driver could give it all at once).
    pub allocations: u32,
    /// The patterns run, in order (a run stopped by a signal has fewer).
    pub patterns: Vec<PatternResult>,
    /// Why the GPU could not be tested at all (no memory could be allocated, a launch failed
    /// before any pattern ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MemtestReport {
    /// Bytes covered as a percentage of the free memory (None when free memory is unknown).
    pub fn share_of_free_percent(&self) -> Option<f64> {
        (self.free_bytes > 0).then(|| 100.0 * self.covered_bytes as f64 / self.free_bytes as f64)
    }

    /// Bytes covered as a percentage of the total memory.
    pub fn share_of_total_percent(&self) -> Option<f64> {
        (self.total_bytes > 0).then(|| 100.0 * self.covered_bytes as f64 / self.total_bytes as f64)
    }
}

/// One pattern over every allocation of a GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternResult {
    /// The pattern's stable name (`moving_inversions_random`, …).
    pub pattern: String,
    /// Bytes it ran over.
    pub covered_bytes: u64,
    /// Every mismatch its checks found (may be more than `recorded`).
    pub errors: u64,
    /// The first mismatches, up to the run's cap.
    pub recorded: Vec<MemoryError>,
    /// Why it could not run to its end (a launch or copy failed); its errors so far stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// One word that read back wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryError {
    /// The device address of the word.
    pub address: u64,
    /// The word's width in bits (32, or 64 for the own-address pattern).
    pub width_bits: u32,
    /// The bits that differ, numbered from the least significant bit of the word (bit b is bit
    /// b % 8 of the byte at address + b / 8, little-endian).
    pub bits: Vec<u32>,
    pub expected: u64,
    pub found: u64,
}

impl MemoryError {
    /// "0x…: bit 5 (expected 0x00000000, found 0x00000020)".
    pub fn describe(&self) -> String {
        let digits = (self.width_bits / 4) as usize;
        let bits: Vec<String> = self.bits.iter().map(|b| b.to_string()).collect();
        format!(
            "{:#x}: bit{} {} (expected {:#0w$x}, found {:#0w$x})",
            self.address,
            if self.bits.len() == 1 { "" } else { "s" },
            bits.join(", "),
            self.expected,
            self.found,
            w = digits + 2
        )
    }
}
