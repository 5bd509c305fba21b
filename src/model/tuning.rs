//! The GEMM tuning a run used, as run.json and the tuning cache record it, with the lookups of
//! the data itself (a shape's size class, a table's entry). How variants are timed and chosen
//! lives in `crate::measure::tune`; which kernel a table names for a GEMM, in
//! `crate::kernels` (`TuningTable::choose`).

use serde::{Deserialize, Serialize};

use super::spec::{GemmMath, Precision};

/// GEMM size classes, by the largest dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeClass {
    /// max(M, N, K) ≤ 1536
    Small,
    /// ≤ 6144
    Medium,
    /// larger
    Large,
}

/// What identifies a tuning result: another GPU, driver or set of kernels tunes again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TuningKey {
    pub gpu_uuid: String,
    pub gpu_name: String,
    pub driver_cuda_version: u32,
    /// FNV-1a 64 of every embedded PTX module, hex.
    pub ptx_hash: String,
}

/// One variant's showing on a representative size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub variant: String,
    /// None when it failed to run or verify.
    pub tflops: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

/// The choice for one precision, math and size class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningEntry {
    pub precision: Precision,
    /// CUDA cores or tensor cores: only variants of this math were candidates. Absent in cache
    /// files written before tensor-core variants existed: CUDA cores.
    #[serde(default)]
    pub math: GemmMath,
    pub size_class: SizeClass,
    /// Square size the variants were timed on.
    pub size: usize,
    /// The chosen variant's entry point.
    pub variant: String,
    pub candidates: Vec<Candidate>,
    /// True when this entry came from the cache file rather than from timing in this run.
    #[serde(default)]
    pub from_cache: bool,
}

/// The tuning of one GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningTable {
    pub device: u32,
    pub key: TuningKey,
    pub entries: Vec<TuningEntry>,
}

impl SizeClass {
    pub fn of(m: usize, n: usize, k: usize) -> SizeClass {
        let d = m.max(n).max(k);
        if d <= 1536 {
            SizeClass::Small
        } else if d <= 6144 {
            SizeClass::Medium
        } else {
            SizeClass::Large
        }
    }
    /// The square size the class is tuned on.
    pub fn representative(self) -> usize {
        match self {
            SizeClass::Small => 1024,
            SizeClass::Medium => 4096,
            SizeClass::Large => 8192,
        }
    }
}

impl TuningTable {
    pub fn new(device: u32, key: TuningKey) -> Self {
        TuningTable {
            device,
            key,
            entries: Vec::new(),
        }
    }

    pub fn entry(&self, p: Precision, math: GemmMath, class: SizeClass) -> Option<&TuningEntry> {
        self.entries
            .iter()
            .find(|e| e.precision == p && e.math == math && e.size_class == class)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes() {
        assert_eq!(SizeClass::of(1024, 1024, 1024), SizeClass::Small);
        assert_eq!(SizeClass::of(1000, 4096, 17), SizeClass::Medium);
        assert_eq!(SizeClass::of(8192, 8192, 8192), SizeClass::Large);
        assert_eq!(SizeClass::of(1, 1, 1), SizeClass::Small);
    }
}
