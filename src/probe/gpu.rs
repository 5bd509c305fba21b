//! The GPUs the CUDA driver can see, or why none can be used.

use super::telemetry::{self, EncoderReadings, PcieLink, TelemetryError};
use crate::cuda;
use crate::model::{DeviceInfo, NvencInfo};

/// Every GPU the driver reports, or the reason none can be used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuInventory {
    pub devices: Vec<DeviceInfo>,
    /// Why no GPU can be used (no driver, no device, driver error); None when `devices` is
    /// the full list.
    pub unavailable: Option<String>,
}

/// Lists the GPUs through the CUDA driver, then adds what only NVML knows (the PCIe link, the
/// video encoder's readings) and the NVENC engine count from the GPU models catalogue.
/// Never panics: with no driver, no device or a driver error it returns no devices and the
/// reason (which says what to do); without NVML the PCIe fields stay `None`.
pub fn gpus() -> GpuInventory {
    let mut inv = from_results(cuda::driver_status().map(|_| ()), cuda::list_devices);
    // All devices are opened before any is closed, so NVML is initialised once for the lot
    // (nvmlInit can take seconds on GPUs without persistence mode).
    let opened: Vec<_> = inv
        .devices
        .iter()
        .map(|d| telemetry::open(&d.uuid, &d.pci_bus_id))
        .collect();
    let links: Vec<_> = opened
        .iter()
        .map(|t| t.as_ref().ok().and_then(|t| t.pcie_link()))
        .collect();
    fill_pcie_link(&mut inv.devices, links);
    for (d, t) in inv.devices.iter_mut().zip(&opened) {
        d.nvenc = nvenc_info(&d.name, t.as_ref().map(|t| t.encoder()));
    }
    inv
}

/// The NVENC record of a GPU named `name`: the engine count and its source from the GPU
/// models catalogue; for a GPU the catalogue does not know, "none" when NVML says the GPU has
/// no encoder, else unknown. `readings` is what NVML said, or why NVML could not be asked.
pub fn nvenc_info(name: &str, readings: Result<EncoderReadings, &TelemetryError>) -> NvencInfo {
    let mut n = NvencInfo::default();
    if let Some(m) = crate::gate::lookup_gpu(name) {
        if let (Some(e), Some(src)) = (m.nvenc_engines, m.nvenc_source) {
            n.engines = Some(e);
            n.source = Some(format!("catalogue: {}; {src}", m.name));
        }
    }
    match readings {
        Ok(r) => {
            n.nvml_encoder = r.supported;
            n.capacity_h264_percent = r.capacity_h264_percent;
            n.utilization_percent = r.utilization_percent;
            n.sessions = r.sessions;
            n.average_fps = r.average_fps;
            n.average_latency_us = r.average_latency_us;
            n.nvml_note = r.note;
        }
        Err(why) => n.nvml_note = Some(format!("no encoder readings: {why}")),
    }
    if n.engines.is_none() && n.nvml_encoder == Some(false) {
        n.engines = Some(0);
        n.source = Some(
            "NVML: the driver reports no H.264 encoder on this GPU (nvmlDeviceGetEncoderCapacity: \
             Not Supported)"
                .into(),
        );
    }
    n
}

/// Fills `pcie_link_gen` / `pcie_link_width` with the MAXIMUM link NVML reports: the highest
/// generation and width that the GPU and its slot can both run, i.e. the capability of the link,
/// which is what a profile's PCIe requirement is about. The CURRENT link is not used here: an
/// idle GPU trains its link down (e.g. to gen 1) to save power, so reading it at inventory time
/// would flag healthy machines. Whether the link actually delivers is judged by the measured
/// host↔device transfer bandwidth. Devices NVML cannot describe keep `None`.
fn fill_pcie_link(devices: &mut [DeviceInfo], links: Vec<Option<PcieLink>>) {
    for (d, link) in devices.iter_mut().zip(links) {
        if let Some(l) = link {
            d.pcie_link_gen = Some(l.max_gen);
            d.pcie_link_width = Some(l.max_width);
        }
    }
}

/// The inventory from the driver's status and, when it is usable, its list of devices; the
/// driver's error is recorded as its message (`GpuInventory::unavailable`).
fn from_results(
    status: Result<(), cuda::CudaError>,
    list: impl FnOnce() -> Result<Vec<DeviceInfo>, cuda::CudaError>,
) -> GpuInventory {
    if let Err(reason) = status {
        return GpuInventory {
            devices: Vec::new(),
            unavailable: Some(reason.to_string()),
        };
    }
    match list() {
        Ok(devices) if devices.is_empty() => GpuInventory {
            devices,
            unavailable: Some("the NVIDIA driver reports no CUDA device".to_string()),
        },
        Ok(devices) => GpuInventory {
            devices,
            unavailable: None,
        },
        Err(reason) => GpuInventory {
            devices: Vec::new(),
            unavailable: Some(reason.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_reports_every_outcome() {
        use crate::cuda::CudaError;
        let no_driver = from_results(Err(CudaError::NoDriver), || {
            panic!("must not list without a driver")
        });
        assert!(no_driver.devices.is_empty());
        assert_eq!(no_driver.unavailable, Some(CudaError::NoDriver.to_string()));

        let boom = CudaError::Gpu {
            ordinal: 0,
            source: Box::new(CudaError::NotADriver),
        };
        let list_failed = from_results(Ok(()), || Err(boom.clone()));
        assert!(list_failed.devices.is_empty());
        assert_eq!(list_failed.unavailable, Some(boom.to_string()));
        assert!(boom.to_string().starts_with("GPU 0: "), "{boom}");

        let empty = from_results(Ok(()), || Ok(Vec::new()));
        assert!(empty.unavailable.unwrap().contains("no CUDA device"));

        let one = from_results(Ok(()), || {
            Ok(vec![DeviceInfo {
                name: "Tesla M40 24GB".into(),
                ..Default::default()
            }])
        });
        assert_eq!(one.devices.len(), 1);
        assert!(one.unavailable.is_none());
    }

    #[test]
    fn pcie_link_uses_the_maximum_link() {
        let mut devices = vec![
            DeviceInfo {
                index: 0,
                ..Default::default()
            },
            DeviceInfo {
                index: 1,
                ..Default::default()
            },
        ];
        let gpu0 = PcieLink {
            current_gen: 1,
            current_width: 8,
            max_gen: 3,
            max_width: 16,
        };
        fill_pcie_link(&mut devices, vec![Some(gpu0), None]);
        assert_eq!(devices[0].pcie_link_gen, Some(3));
        assert_eq!(devices[0].pcie_link_width, Some(16));
        // NVML could not describe GPU 1: unknown, not zero.
        assert_eq!(devices[1].pcie_link_gen, None);
        assert_eq!(devices[1].pcie_link_width, None);
    }

    #[test]
    fn nvenc_from_the_catalogue_else_none_from_nvml_else_unknown() {
        let idle = EncoderReadings {
            supported: Some(true),
            capacity_h264_percent: Some(100),
            utilization_percent: Some(0),
            sessions: Some(0),
            average_fps: Some(0),
            average_latency_us: Some(0),
            note: None,
        };
        let none = EncoderReadings {
            supported: Some(false),
            note: Some("the driver reports no encoder on this GPU (Not Supported)".into()),
            ..Default::default()
        };
        // Catalogue: M40 2 engines, with NVML's readings beside.
        let m40 = nvenc_info("Tesla M40 24GB", Ok(idle.clone()));
        assert_eq!(m40.engines, Some(2));
        assert!(m40.source.as_deref().unwrap().contains("Support Matrix"));
        assert_eq!(m40.capacity_h264_percent, Some(100));
        assert!(m40
            .engines_text()
            .starts_with("2 NVENC engines (catalogue: Tesla M40 24GB"));
        assert_eq!(
            m40.nvml_text().unwrap(),
            "NVML: H.264 capacity 100 %, utilisation 0 %, 0 sessions"
        );
        // Catalogue: the H100 has none, whatever NVML says.
        let h100 = nvenc_info("NVIDIA H100 80GB HBM3", Ok(none.clone()));
        assert_eq!(h100.engines, Some(0));
        assert!(h100
            .engines_text()
            .starts_with("no NVENC engine on this GPU"));
        // Not in the catalogue: none from NVML, else unknown.
        let odd = nvenc_info("NVIDIA A10G", Ok(none));
        assert_eq!(odd.engines, Some(0));
        assert!(odd.source.as_deref().unwrap().starts_with("NVML"));
        let odd = nvenc_info("NVIDIA A10G", Ok(idle));
        assert_eq!(odd.engines, None);
        assert!(odd
            .engines_text()
            .starts_with("NVENC engine count unknown for this GPU"));
        // No NVML: the catalogue still counts, and the reason is kept.
        let no_nvml = TelemetryError::LibraryNotFound { tried: Vec::new() };
        let m40 = nvenc_info("Tesla M40 24GB", Err(&no_nvml));
        assert_eq!((m40.engines, m40.nvml_encoder), (Some(2), None));
        assert!(m40
            .nvml_text()
            .unwrap()
            .contains("no encoder readings: NVML not available"));
        let old = nvenc_info(
            "Tesla M40 24GB",
            Ok(EncoderReadings {
                note: Some("not available on this driver (nvmlDeviceGetEncoderStats)".into()),
                ..Default::default()
            }),
        );
        assert_eq!(
            old.nvml_text().unwrap(),
            "NVML: not available on this driver (nvmlDeviceGetEncoderStats)"
        );
    }

    /// On this machine (whatever it has): never panics, and either lists GPUs or says why not.
    #[test]
    fn gpus_on_this_machine() {
        let inv = gpus();
        if inv.devices.is_empty() {
            let reason = inv.unavailable.expect("a reason when there are no GPUs");
            assert!(
                reason.contains("libcuda") || reason.contains("driver"),
                "reason should name the driver: {reason}"
            );
        } else {
            assert!(inv.unavailable.is_none());
            for (i, d) in inv.devices.iter().enumerate() {
                assert_eq!(d.index as usize, i);
            }
        }
    }
}
