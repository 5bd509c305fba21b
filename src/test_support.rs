//! Fixtures shared by the unit tests (compiled only for `cargo test`).

use crate::model::DeviceInfo;

/// A Tesla M40 24GB as the probe reports it (datasheet clocks, memory and link), GPU `index`.
/// Test data, never a measurement.
pub(crate) fn m40(index: u32) -> DeviceInfo {
    DeviceInfo {
        index,
        name: "Tesla M40 24GB".into(),
        uuid: format!("GPU-0000000{index}-m40"),
        pci_bus_id: format!("0000:0{}:00.0", index + 4),
        compute_capability: (5, 2),
        sm_count: 24,
        sm_clock_khz: 1_114_000,
        memory_clock_khz: 3_004_000,
        memory_bus_width_bits: 384,
        total_memory_bytes: 24_062_000_000,
        free_memory_bytes: 23_900_000_000,
        l2_cache_bytes: 3 << 20,
        driver_cuda_version: 12040,
        max_ptx_isa: "8.4".into(),
        pcie_link_gen: Some(3),
        pcie_link_width: Some(16),
        simulated: false,
        driver_identity: None,
        nvenc: crate::model::NvencInfo {
            engines: Some(2),
            source: Some("catalogue: Tesla M40 24GB".into()),
            ..Default::default()
        },
    }
}
