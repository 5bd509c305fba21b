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

/// What an interrupted run had done, for its wording: "3 of 25 workloads", or for a memory test
/// (which plans no workload) "the memory test of 2 GPU(s), 7 pattern(s) run to their end".
pub fn done_so_far(memtest: &[MemtestReport], finished: usize, planned: usize) -> String {
    if planned > 0 || memtest.is_empty() {
        return format!("{finished} of {planned} workloads");
    }
    let tested = memtest.iter().filter(|m| m.error.is_none()).count();
    let patterns: usize = memtest
        .iter()
        .map(|m| m.patterns.iter().filter(|p| p.failed.is_none()).count())
        .sum();
    format!("the memory test of {tested} GPU(s), {patterns} pattern(s) run to their end")
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
    /// Passes it made over the memory (each write or check of every word is one); absent in
    /// older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes: Option<u32>,
    /// Wall time it took, seconds; absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tested(device: u32, patterns: &[Option<&str>], error: Option<&str>) -> MemtestReport {
        MemtestReport {
            device,
            seed: 1,
            requested_share_percent: 90.0,
            free_bytes: 100,
            total_bytes: 200,
            covered_bytes: 90,
            allocations: 1,
            patterns: patterns
                .iter()
                .map(|f| PatternResult {
                    pattern: "stress".into(),
                    covered_bytes: 90,
                    errors: 0,
                    recorded: Vec::new(),
                    passes: Some(1),
                    seconds: Some(0.1),
                    failed: f.map(str::to_string),
                })
                .collect(),
            error: error.map(str::to_string),
        }
    }

    /// An interrupted memory test says what it did (GPUs tested, patterns run to their end),
    /// never "0 of 0 workloads"; a run of workloads counts them.
    #[test]
    fn an_interrupted_run_says_what_it_had_done() {
        let m = [
            tested(
                0,
                &[None, None, Some("stopped by a signal before its end")],
                None,
            ),
            tested(1, &[None, Some("stopped")], None),
            tested(2, &[], Some("the GPU could not be opened: busy")),
        ];
        assert_eq!(
            done_so_far(&m, 0, 0),
            "the memory test of 2 GPU(s), 3 pattern(s) run to their end"
        );
        assert_eq!(done_so_far(&[], 3, 25), "3 of 25 workloads");
        assert_eq!(done_so_far(&m, 3, 25), "3 of 25 workloads");
        assert_eq!(done_so_far(&[], 0, 0), "0 of 0 workloads");
    }
}
