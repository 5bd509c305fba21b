//! The test harness of the PTX front end and the engine: reading the committed PTX, device
//! memory for a launch, launches with default limits, host references.
#![allow(dead_code)]

use std::path::PathBuf;

/// The committed modules and their targets.
pub const MODULES: &[(&str, u32)] = &[
    ("gemm.compute_52.ptx", 52),
    ("gemm.compute_70.ptx", 70),
    ("gemm.compute_80.ptx", 80),
    ("stream.compute_52.ptx", 52),
];

/// `kernels/ptx/<file>` of this repository.
pub fn ptx_text(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kernels/ptx")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
