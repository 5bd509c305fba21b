//! The PTX ISA table: which PTX ISA the JIT of each CUDA release's driver accepts, the first
//! driver branch of each release, and the oldest driver gpugate supports. Data, and the questions
//! asked of it: what a driver's JIT takes ([`max_ptx_isa`], [`ptx_supported`]), which driver a
//! module needs ([`min_driver_for_isa`]), how a driver version reads in a message
//! ([`driver_label`]). The selection ([`select_modules`](super::select_modules)), the CUDA
//! backend's messages and the gate all read it here.

/// The oldest driver gpugate supports, as `cuDriverGetVersion` numbers its CUDA version.
///
/// R418 (CUDA 10.1): the first long-term support branch of the data-centre driver lifecycle
/// NVIDIA introduced in 2019, still on old M40 images, and the oldest driver gpugate is tested
/// against (`cargo test` runs the whole GPU path on a simulated R418). Every entry point in
/// the driver layer's `DRIVER_CALLS` (`src/cuda/driver.rs`) is older (the newest required one, `cuDevicePrimaryCtxRetain`, came with
/// CUDA 7.0; `cuDeviceGetUuid` with 9.2), and its PTX JIT (ISA 6.4) takes every compute_52
/// module and gemm's compute_70 one. Older drivers (R375–R410) would take the compute_52 modules
/// too, but are untested.
pub const OLDEST_DRIVER: u32 = 10010;
/// The branch of [`OLDEST_DRIVER`].
pub const OLDEST_BRANCH: &str = "R418";

/// PTX ISA versions and the first CUDA release (driver) whose JIT accepts them, newest first.
///
/// From the PTX ISA release history (PTX ISA manual, "Release Notes"). CUDA 12.6 kept ISA 8.5;
/// ISA 8.6 came with 12.7, which shipped no driver. The third column is the first driver branch
/// of that CUDA release, for messages.
const PTX_ISA_TABLE: &[(u32, &str, &str)] = &[
    (13010, "9.1", "R590"),
    (13000, "9.0", "R580"),
    (12090, "8.8", "R575"),
    (12080, "8.7", "R570"),
    (12070, "8.6", "R565"),
    (12050, "8.5", "R555"),
    (12040, "8.4", "R550"),
    (12030, "8.3", "R545"),
    (12020, "8.2", "R535"),
    (12010, "8.1", "R530"),
    (12000, "8.0", "R525"),
    (11080, "7.8", "R520"),
    (11070, "7.7", "R515"),
    (11060, "7.6", "R510"),
    (11050, "7.5", "R495"),
    (11040, "7.4", "R470"),
    (11030, "7.3", "R465"),
    (11020, "7.2", "R460"),
    (11010, "7.1", "R455"),
    (11000, "7.0", "R450"),
    (10020, "6.5", "R440"),
    (10010, "6.4", "R418"),
    (10000, "6.3", "R410"),
    (9020, "6.2", "R396"),
    (9010, "6.1", "R390"),
    (9000, "6.0", "R384"),
];

/// The highest PTX ISA the JIT of a driver for CUDA `driver_cuda_version` accepts, e.g. "8.4"
/// for 12040. A driver newer than the table gets the newest ISA the table knows (it accepts at
/// least that); one older than CUDA 9.0 gets "unknown", which [`ptx_supported`] rejects.
pub fn max_ptx_isa(driver_cuda_version: u32) -> String {
    PTX_ISA_TABLE
        .iter()
        .find(|(first, _, _)| driver_cuda_version >= *first)
        .map(|(_, isa, _)| isa.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether a driver for CUDA `driver_cuda_version` can JIT PTX that declares `.version isa`.
pub fn ptx_supported(driver_cuda_version: u32, isa: &str) -> bool {
    match (parse_isa(&max_ptx_isa(driver_cuda_version)), parse_isa(isa)) {
        (Some(max), Some(want)) => want <= max,
        _ => false,
    }
}

/// The oldest CUDA release (as `cuDriverGetVersion` numbers it) and driver branch that accept
/// PTX ISA `isa`, when the table knows it.
pub fn min_driver_for_isa(isa: &str) -> Option<(u32, &'static str)> {
    let want = parse_isa(isa)?;
    PTX_ISA_TABLE
        .iter()
        .rev()
        .find(|(_, i, _)| parse_isa(i).is_some_and(|have| have >= want))
        .map(|(v, _, branch)| (*v, *branch))
}

/// Driver branches older than the PTX ISA table's, for messages about them.
const OLDER_BRANCHES: &[(u32, &str)] = &[(8000, "R375"), (7050, "R352"), (7000, "R346")];

/// The first driver branch of the CUDA release a driver reports, e.g. "R418" for 10010 (any
/// R418 driver reports CUDA 10.1). None before CUDA 7.0.
pub fn driver_branch(driver_cuda_version: u32) -> Option<&'static str> {
    PTX_ISA_TABLE
        .iter()
        .map(|(v, _, b)| (*v, *b))
        .chain(OLDER_BRANCHES.iter().copied())
        .find(|(first, _)| driver_cuda_version >= *first)
        .map(|(_, b)| b)
}

/// "CUDA 10.1, R418": a driver version for messages.
pub fn driver_label(driver_cuda_version: u32) -> String {
    match driver_branch(driver_cuda_version) {
        Some(b) => format!("CUDA {}, {b}", cuda_version_string(driver_cuda_version)),
        None => format!("CUDA {}", cuda_version_string(driver_cuda_version)),
    }
}

/// "12.4" for 12040.
pub fn cuda_version_string(v: u32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

fn parse_isa(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptx_isa_table_matches_cuda_releases() {
        let cases = [
            (12000, "8.0"),
            (12010, "8.1"),
            (12020, "8.2"),
            (12030, "8.3"),
            (12040, "8.4"),
            (12050, "8.5"),
            (12060, "8.5"),
            (12080, "8.7"),
            (12090, "8.8"),
            (13000, "9.0"),
            (13010, "9.1"),
            (11000, "7.0"),
            (11020, "7.2"),
            (11040, "7.4"),
            (11080, "7.8"),
            (10020, "6.5"),
            (9000, "6.0"),
        ];
        for (v, isa) in cases {
            assert_eq!(max_ptx_isa(v), isa, "driver {v}");
        }
        // Newer than the table: the newest known ISA (the driver accepts at least that).
        assert_eq!(max_ptx_isa(13040), "9.1");
        assert_eq!(max_ptx_isa(99990), "9.1");
        // Older than the table.
        assert_eq!(max_ptx_isa(8000), "unknown");
        assert_eq!(max_ptx_isa(0), "unknown");
    }

    #[test]
    fn ptx_support_compares_versions_numerically() {
        assert!(ptx_supported(12000, "8.0"));
        assert!(ptx_supported(12040, "8.0"));
        assert!(ptx_supported(13000, "8.0"));
        assert!(ptx_supported(12040, "7.8"));
        assert!(!ptx_supported(11080, "8.0"));
        assert!(!ptx_supported(12000, "8.1"));
        assert!(!ptx_supported(12060, "8.6"));
        assert!(ptx_supported(12090, "8.8"));
        assert!(!ptx_supported(12090, "9.0"));
        // "8.10" would be newer than "8.9", not older.
        assert!(!ptx_supported(12090, "8.10"));
        // Garbage and unknown drivers are never supported.
        assert!(!ptx_supported(12040, "eight"));
        assert!(!ptx_supported(12040, ""));
        assert!(!ptx_supported(0, "6.0"));
    }

    #[test]
    fn every_embedded_module_runs_on_an_r450_driver_and_the_m40_ones_on_r384() {
        for m in crate::kernels::MODULES {
            assert!(
                ptx_supported(11000, m.ptx_isa),
                "{} {} needs ISA {}",
                m.name,
                m.target,
                m.ptx_isa
            );
            if m.min_cc <= (5, 2) {
                assert!(ptx_supported(9000, m.ptx_isa), "{} {}", m.name, m.target);
            }
        }
    }

    #[test]
    fn min_driver_for_isa_names_the_release() {
        assert_eq!(min_driver_for_isa("8.0"), Some((12000, "R525")));
        assert_eq!(min_driver_for_isa("8.5"), Some((12050, "R555")));
        assert_eq!(min_driver_for_isa("8.7"), Some((12080, "R570")));
        assert_eq!(min_driver_for_isa("7.0"), Some((11000, "R450")));
        assert_eq!(min_driver_for_isa("99.0"), None);
        assert_eq!(min_driver_for_isa("x"), None);
        assert_eq!(cuda_version_string(12040), "12.4");
        assert_eq!(cuda_version_string(13000), "13.0");
    }

    #[test]
    fn driver_branches_come_from_the_ptx_isa_table_and_older_releases() {
        assert_eq!(driver_branch(10010), Some("R418"));
        assert_eq!(driver_branch(11040), Some("R470"));
        assert_eq!(driver_branch(7050), Some("R352"));
        assert_eq!(driver_branch(6050), None);
        assert_eq!(driver_label(6050), "CUDA 6.5");
        assert_eq!(driver_branch(OLDEST_DRIVER), Some(OLDEST_BRANCH));
    }
}
