//! NVIDIA driver releases the simulated driver can be (`gpugate-sim --driver 418`): the CUDA
//! version each branch reports, the PTX ISA its JIT accepts (see [`crate::model::max_ptx_isa`]),
//! and which of the simulator's entry points, device attributes and NVML calls it did not have
//! yet — so that a program calling one of them on a simulated old driver fails exactly as on the
//! real one: the symbol is not there (`dlsym` finds nothing), the attribute is
//! CUDA_ERROR_INVALID_VALUE.
//!
//! Sources: NVIDIA's CUDA Toolkit release notes (the minimum driver of each CUDA release, whose
//! first branch is the one named here), `cuda.h` (the `_v2` entry points take over the plain
//! names from the release that introduced them; attribute numbers are appended in release
//! order) and the NVML API reference's change log. The version strings are releases of each
//! branch; any of them reports the same CUDA version.

/// One driver branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// "418" of R418.
    pub branch: u32,
    /// What `cuDriverGetVersion` reports: 10010 for CUDA 10.1.
    pub cuda_version: u32,
    /// A release of the branch, as `nvidia-smi` and NVML print it.
    pub version: &'static str,
}

/// Every branch the simulator knows, oldest first.
pub const RELEASES: &[Release] = &[
    rel(375, 8000, "375.88"),
    rel(384, 9000, "384.183"),
    rel(390, 9010, "390.157"),
    rel(396, 9020, "396.82"),
    rel(410, 10000, "410.129"),
    rel(418, 10010, "418.226.00"),
    rel(440, 10020, "440.118.02"),
    rel(450, 11000, "450.248.02"),
    rel(455, 11010, "455.45.01"),
    rel(460, 11020, "460.106.00"),
    rel(465, 11030, "465.31"),
    rel(470, 11040, "470.256.02"),
    rel(495, 11050, "495.46"),
    rel(510, 11060, "510.108.03"),
    rel(515, 11070, "515.105.01"),
    rel(520, 11080, "520.61.05"),
    rel(525, 12000, "525.147.05"),
    rel(530, 12010, "530.41.03"),
    rel(535, 12020, "535.247.01"),
    rel(545, 12030, "545.29.06"),
    rel(550, 12040, "550.144.03"),
    rel(555, 12050, "555.58.02"),
    rel(560, 12060, "560.35.03"),
    rel(565, 12070, "565.77"),
    rel(570, 12080, "570.172.08"),
    rel(575, 12090, "575.64.05"),
    rel(580, 13000, "580.95.05"),
    rel(590, 13010, "590.44.01"),
];

const fn rel(branch: u32, cuda_version: u32, version: &'static str) -> Release {
    Release {
        branch,
        cuda_version,
        version,
    }
}

/// "12.4" for 12040.
pub fn cuda_string(v: u32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// A driver as configured: its branch and CUDA version, and the version string it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    pub branch: u32,
    pub cuda_version: u32,
    pub version: String,
}

impl From<&Release> for Driver {
    fn from(r: &Release) -> Driver {
        Driver {
            branch: r.branch,
            cuda_version: r.cuda_version,
            version: r.version.to_string(),
        }
    }
}

/// Why a `--driver` value names no driver the simulator can be.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverSpecError {
    #[error(
        "bad driver '{spec}': give a branch (418, R470) or a version (470.256.02); known \
         branches: {}",
        known_branches()
    )]
    NotABranch { spec: String },
    #[error("unknown driver branch R{branch}; known: {}", known_branches())]
    UnknownBranch { branch: u32 },
    #[error("bad driver version '{version}': digits and dots, e.g. 470.256.02")]
    BadVersion { version: String },
}

/// "R418, R450, …": the branches the simulator knows.
fn known_branches() -> String {
    RELEASES
        .iter()
        .map(|r| format!("R{}", r.branch))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The driver a `--driver` value names: a branch ("418", "R418", "r418") or a full version
/// string ("470.256.02", kept as the reported version).
pub fn parse(spec: &str) -> Result<Driver, DriverSpecError> {
    let s = spec.trim();
    let digits = s.strip_prefix(['R', 'r']).unwrap_or(s);
    let (branch, full) = match digits.split_once('.') {
        Some((b, rest)) if !rest.is_empty() => (b, Some(s)),
        _ => (digits, None),
    };
    let branch: u32 = branch.parse().map_err(|_| DriverSpecError::NotABranch {
        spec: spec.to_string(),
    })?;
    let r = RELEASES
        .iter()
        .find(|r| r.branch == branch)
        .ok_or(DriverSpecError::UnknownBranch { branch })?;
    match full {
        Some(v)
            if v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Ok(Driver {
                version: v.to_string(),
                ..Driver::from(r)
            })
        }
        Some(v) => Err(DriverSpecError::BadVersion {
            version: v.to_string(),
        }),
        None => Ok(Driver::from(r)),
    }
}

/// The release for a CUDA version reported by a model file (its branch's first release).
pub fn for_cuda(cuda_version: u32) -> Option<&'static Release> {
    RELEASES
        .iter()
        .rev()
        .find(|r| r.cuda_version <= cuda_version)
}

/// Driver entry points the simulator exports that appeared after CUDA 9.0, with the CUDA
/// version (driver branch) that introduced them. Every other export is older than R384.
pub const DRIVER_ENTRY_POINTS: &[(&str, u32)] = &[
    ("cuDeviceGetUuid", 9020),
    ("cuDevicePrimaryCtxRelease_v2", 11000),
    ("cuDevicePrimaryCtxReset_v2", 11000),
    ("cuDevicePrimaryCtxSetFlags_v2", 11000),
    ("cuMemAllocAsync", 11020),
    ("cuMemFreeAsync", 11020),
    ("cuDeviceGetUuid_v2", 11040),
    ("cuCtxSetFlags", 12010),
    ("cuEventElapsedTime_v2", 12080),
];

/// NVML calls the simulator exports that appeared after R384, with the CUDA version of the
/// branch that introduced them.
///
/// The encoder queries `nvmlDeviceGetEncoderCapacity` and `nvmlDeviceGetEncoderStats` (with
/// `nvmlDeviceGetEncoderSessions` and the vGPU encoder queries) are dated by the earliest NVML
/// found documenting them: CUDA 9.1's (the "Encoder Structs" group in the nvidia-cuda-dev
/// 9.1.85 man pages), so R390. They may be one branch older (R384); the simulator errs late,
/// which only makes an R384 machine stricter than a real one, and both are older than R418,
/// the oldest driver gpugate supports. `nvmlDeviceGetEncoderUtilization` is older than every
/// branch simulated here (NVML had it for Kepler-era encoders), so it is not listed.
///
/// Row remapping (`nvmlDeviceGetRemappedRows`) and the event wait with MIG instance ids
/// (`nvmlEventSetWait_v2`) came with the A100, in R450 (CUDA 11.0). The other health queries
/// (`nvmlDeviceGetRetiredPages`, `nvmlDeviceGetRetiredPagesPendingStatus`,
/// `nvmlDeviceGetPcieReplayCounter`, the event sets and the plain `nvmlEventSetWait`) are older
/// than R384 (page retirement came with R319, Dynamic Page Retirement guide), so not listed.
pub const NVML_ENTRY_POINTS: &[(&str, u32)] = &[
    ("nvmlDeviceGetEncoderCapacity", 9010),
    ("nvmlDeviceGetEncoderStats", 9010),
    ("nvmlInitWithFlags", 9020),
    ("nvmlSystemGetCudaDriverVersion", 10000),
    ("nvmlDeviceGetPciInfo_v3", 10000),
    ("nvmlSystemGetCudaDriverVersion_v2", 10010),
    ("nvmlDeviceGetMemoryBusWidth", 11000),
    ("nvmlDeviceGetRemappedRows", 11000),
    ("nvmlEventSetWait_v2", 11000),
    ("nvmlDeviceGetCurrentClocksEventReasons", 12020),
];

/// Exports of the encoder library (`libnvidia-encode.so.1`) newer than R375, with the CUDA
/// version of the branch that introduced them: `NvEncodeAPIGetMaxSupportedVersion` came with
/// Video Codec SDK 8.1, whose minimum Linux driver is 390.25 (R390, CUDA 9.1; nv-codec-headers
/// n8.1.24.2, README). `NvEncodeAPICreateInstance` is older than every branch simulated here.
pub const NVENC_ENTRY_POINTS: &[(&str, u32)] = &[("NvEncodeAPIGetMaxSupportedVersion", 9010)];

/// Each NVENC API version with the first Linux driver that supports it: the "Minimum required
/// driver versions" of each nv-codec-headers release (FFmpeg's copies of NVIDIA's Video Codec
/// SDK headers; SDK 8.1 → 390.25, 9.0 → 418.30, 11.1 → 470.57.02, 12.2 → 550.54.14, …).
pub const NVENC_API_DRIVERS: &[((u32, u32), &str)] = &[
    ((8, 1), "390.25"),
    ((8, 2), "396.24"),
    ((9, 0), "418.30"),
    ((9, 1), "435.21"),
    ((10, 0), "445.87"),
    ((11, 0), "455.28"),
    ((11, 1), "470.57.02"),
    ((12, 0), "520.56.06"),
    ((12, 1), "530.41.03"),
    ((12, 2), "550.54.14"),
    ((13, 0), "570.0"),
];

/// The numbers of a version string, for comparing: "470.57.02" → [470, 57, 2].
fn version_numbers(v: &str) -> Vec<u32> {
    v.trim()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// The newest NVENC API (major, minor) that driver `version` supports (what its
/// `NvEncodeAPIGetMaxSupportedVersion` reports). A driver older than 390.25 reports 8.0 (the
/// entry point itself is missing from branches before R390).
pub fn nvenc_api_version(version: &str) -> (u32, u32) {
    let have = version_numbers(version);
    NVENC_API_DRIVERS
        .iter()
        .rev()
        .find(|(_, min)| have >= version_numbers(min))
        .map(|(api, _)| *api)
        .unwrap_or((8, 0))
}

/// The simulator's exports that a driver for CUDA `cuda_version` does not have.
pub fn missing_entry_points(cuda_version: u32) -> Vec<&'static str> {
    DRIVER_ENTRY_POINTS
        .iter()
        .chain(NVML_ENTRY_POINTS)
        .chain(NVENC_ENTRY_POINTS)
        .filter(|(_, since)| *since > cuda_version)
        .map(|(name, _)| *name)
        .collect()
}

/// The CUDA version that introduced device attribute number `attr` (`CUdevice_attribute`):
/// numbers are appended to the enum release by release.
pub fn attribute_since(attr: i32) -> u32 {
    match attr {
        ..=97 => 9000,
        98..=101 => 9020,
        102..=105 => 10020,
        106..=111 => 11000,
        112..=113 => 11010,
        114..=115 => 11020,
        116..=118 => 11030,
        _ => 12000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_versions_parse() {
        assert_eq!(parse("418").unwrap().cuda_version, 10010);
        assert_eq!(parse("R450").unwrap().cuda_version, 11000);
        assert_eq!(parse("r470").unwrap().cuda_version, 11040);
        let r = parse("470.82.01").unwrap();
        assert_eq!(
            (r.branch, r.cuda_version, r.version.as_str()),
            (470, 11040, "470.82.01")
        );
        assert_eq!(parse("525").unwrap().version, "525.147.05");
        for (bad, why) in [
            ("", "a branch"),
            ("R", "a branch"),
            ("419", "known"),
            ("fast", "a branch"),
            ("470.x", "digits"),
            ("470.", "a branch"),
        ] {
            let e = parse(bad).unwrap_err();
            let variant = match &e {
                DriverSpecError::NotABranch { .. } => "a branch",
                DriverSpecError::UnknownBranch { branch: 419 } => "known",
                DriverSpecError::UnknownBranch { .. } => "another branch",
                DriverSpecError::BadVersion { .. } => "digits",
            };
            assert_eq!(variant, why, "{bad}: {e:?}");
            let e = e.to_string();
            assert!(e.contains("R418") || e.contains("digits"), "{bad}: {e}");
        }
    }

    #[test]
    fn releases_are_ordered_and_cover_every_isa_step() {
        for w in RELEASES.windows(2) {
            assert!(w[0].branch < w[1].branch && w[0].cuda_version < w[1].cuda_version);
        }
        assert_eq!(for_cuda(12040).unwrap().branch, 550);
        assert_eq!(for_cuda(12045).unwrap().branch, 550);
        assert_eq!(for_cuda(7050), None);
        assert_eq!(cuda_string(10010), "10.1");
    }

    /// What each branch's encoder library reports, from the minimum drivers of the Video Codec
    /// SDK releases: Debian 12's ffmpeg (SDK 11.1) needs 470.57.02.
    #[test]
    fn nvenc_api_versions_follow_the_sdk_driver_minimums() {
        for (driver, api) in [
            ("375.88", (8, 0)),
            ("390.157", (8, 1)),
            ("418.226.00", (9, 0)),
            ("440.118.02", (9, 1)),
            ("450.248.02", (10, 0)),
            ("460.106.00", (11, 0)),
            ("470.42.01", (11, 0)),
            ("470.57.02", (11, 1)),
            ("470.256.02", (11, 1)),
            ("525.147.05", (12, 0)),
            ("535.247.01", (12, 1)),
            ("550.127.05", (12, 2)),
            ("570.124.06", (13, 0)),
            ("590.44.01", (13, 0)),
        ] {
            assert_eq!(nvenc_api_version(driver), api, "{driver}");
        }
        // Every release branch from R390 answers the version query.
        for r in RELEASES.iter().filter(|r| r.branch >= 390) {
            assert!(nvenc_api_version(r.version) >= (8, 1), "R{}", r.branch);
        }
    }

    #[test]
    fn old_drivers_lack_the_newer_entry_points() {
        let r418 = missing_entry_points(10010);
        for name in [
            "cuDevicePrimaryCtxRelease_v2",
            "cuMemAllocAsync",
            "cuDeviceGetUuid_v2",
            "cuEventElapsedTime_v2",
            "nvmlDeviceGetCurrentClocksEventReasons",
        ] {
            assert!(r418.contains(&name), "{name}");
        }
        assert!(!r418.contains(&"cuDeviceGetUuid"));
        // gpugate's encoder readings are all in R418's NVML; R384's lacks the newer two.
        assert!(!r418.iter().any(|n| n.contains("Encoder")));
        let r384 = missing_entry_points(9000);
        assert!(r384.contains(&"nvmlDeviceGetEncoderCapacity"));
        assert!(r384.contains(&"nvmlDeviceGetEncoderStats"));
        assert!(!r384.contains(&"nvmlDeviceGetEncoderUtilization"));
        assert!(!r418.contains(&"nvmlSystemGetCudaDriverVersion_v2"));
        // The health readings: row remapping and the event wait with instance ids came with
        // R450; page retirement, replays and the plain event wait are in R418.
        for name in ["nvmlDeviceGetRemappedRows", "nvmlEventSetWait_v2"] {
            assert!(r418.contains(&name), "{name}");
            assert!(!missing_entry_points(11000).contains(&name), "{name}");
        }
        assert!(!r418.iter().any(|n| n.contains("RetiredPages")
            || n.contains("PcieReplay")
            || *n == "nvmlEventSetWait"));
        let r470 = missing_entry_points(11040);
        assert_eq!(
            r470,
            [
                "cuCtxSetFlags",
                "cuEventElapsedTime_v2",
                "nvmlDeviceGetCurrentClocksEventReasons"
            ]
        );
        assert!(missing_entry_points(13010).is_empty());
        // The encoder's version query came with R390.
        assert!(missing_entry_points(9000).contains(&"NvEncodeAPIGetMaxSupportedVersion"));
        assert!(!missing_entry_points(9010).contains(&"NvEncodeAPIGetMaxSupportedVersion"));
        // Memory pools (attribute 115) came with CUDA 11.2.
        assert_eq!(attribute_since(115), 11020);
        assert!(attribute_since(16) <= 9000);
    }
}
