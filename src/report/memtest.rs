//! The memory test as the reports show it (`RunReport::memtest`): per GPU what was tested, the
//! patterns run (name, passes, bytes covered, time, errors) and every error the run recorded
//! (address, bits, expected and found value), a GPU with errors or a test that could not run
//! first. Only what the run recorded; the verdicts are the `gpuN.memtest.*` checks.

use crate::model::memtest::{MemoryError, MemtestReport, PatternResult};
use crate::model::RunReport;

/// What the section says before its tables.
pub const INTRO: &str = "The GPU memory test: each pattern writes every word of the memory \
    tested and reads it back, on every GPU at once. A pass is one write or check of every word. \
    Any word read back wrong fails its GPU. GPUs with an error are listed first.";

/// The columns of the patterns table.
pub const PATTERN_COLUMNS: [&str; 7] = [
    "GPU",
    "Pattern",
    "Passes",
    "Covered (GB)",
    "Time (s)",
    "Errors",
    "Result",
];

/// The columns of the errors table.
pub const ERROR_COLUMNS: [&str; 6] = ["GPU", "Pattern", "Address", "Bits", "Expected", "Found"];

/// Errors listed per GPU; the rest are counted in a line below the table.
pub const MAX_LISTED: usize = 20;

/// Whether a GPU's test found an error or could not run to its end.
pub fn failed(m: &MemtestReport) -> bool {
    m.error.is_some()
        || m.patterns
            .iter()
            .any(|p| p.errors > 0 || p.failed.is_some())
}

/// The GPUs' tests, those that failed first, then by device.
pub fn ordered(r: &RunReport) -> Vec<&MemtestReport> {
    let mut v: Vec<&MemtestReport> = r.memtest.iter().collect();
    v.sort_by_key(|m| (!failed(m), m.device));
    v
}

/// One line per GPU: what was tested, how many patterns and errors, or why it could not run.
pub fn gpu_summary(m: &MemtestReport) -> String {
    if let Some(why) = &m.error {
        return format!("GPU {}: not tested: {why}", m.device);
    }
    let errors: u64 = m.patterns.iter().map(|p| p.errors).sum();
    let share = m
        .share_of_free_percent()
        .map_or_else(String::new, |s| format!(" ({s:.1} % of the free memory)"));
    format!(
        "GPU {}: {}{share} in {} allocation(s), {} pattern(s) run, {}",
        m.device,
        fmt_bytes(m.covered_bytes),
        m.allocations,
        m.patterns.len(),
        match errors {
            0 => "no error".to_string(),
            n => format!("{n} word(s) read back wrong"),
        }
    )
}

/// Bytes for a reader: "21.0 MB", "21.60 GB".
fn fmt_bytes(b: u64) -> String {
    if b >= 1_000_000_000 {
        format!("{:.2} GB", b as f64 / 1e9)
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

/// A pattern's row: GPU, pattern, passes, GB covered, seconds, errors, result.
pub fn pattern_row(device: u32, p: &PatternResult) -> [String; 7] {
    let result = match (&p.failed, p.errors) {
        (_, n) if n > 0 => "FAIL".to_string(),
        (Some(why), _) => format!("did not finish: {why}"),
        (None, _) => "pass".to_string(),
    };
    [
        format!("gpu{device}"),
        p.pattern.clone(),
        p.passes.map_or_else(|| "—".into(), |n| n.to_string()),
        format!("{:.3}", p.covered_bytes as f64 / 1e9),
        p.seconds.map_or_else(|| "—".into(), |s| format!("{s:.1}")),
        p.errors.to_string(),
        result,
    ]
}

/// An error's row: GPU, pattern, address, bits, expected and found value.
pub fn error_row(device: u32, pattern: &str, e: &MemoryError) -> [String; 6] {
    let w = (e.width_bits / 4) as usize + 2;
    let bits: Vec<String> = e.bits.iter().map(|b| b.to_string()).collect();
    [
        format!("gpu{device}"),
        pattern.to_string(),
        format!("{:#x}", e.address),
        bits.join(", "),
        format!("{:#0w$x}", e.expected),
        format!("{:#0w$x}", e.found),
    ]
}

/// A GPU's error rows (at most [`MAX_LISTED`]), and the line that counts the rest (None when
/// every error is listed).
pub fn error_rows(m: &MemtestReport) -> (Vec<[String; 6]>, Option<String>) {
    let rows: Vec<[String; 6]> = m
        .patterns
        .iter()
        .flat_map(|p| {
            p.recorded
                .iter()
                .map(|e| error_row(m.device, &p.pattern, e))
        })
        .take(MAX_LISTED)
        .collect();
    let total: u64 = m.patterns.iter().map(|p| p.errors).sum();
    let rest = total.saturating_sub(rows.len() as u64);
    let line = (rest > 0).then(|| {
        format!(
            "GPU {}: {rest} more error(s) not listed ({total} in all; run.json's memtest \
             section records the first of each pattern)",
            m.device
        )
    });
    (rows, line)
}
