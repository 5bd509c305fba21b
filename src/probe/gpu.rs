//! The GPUs the CUDA driver can see, or why none can be used.

use crate::cuda;
use crate::model::DeviceInfo;

/// Every GPU the driver reports, or the reason none can be used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuInventory {
    pub devices: Vec<DeviceInfo>,
    /// Why no GPU can be used (no driver, no device, driver error); None when `devices` is
    /// the full list.
    pub unavailable: Option<String>,
}

/// Lists the GPUs through the CUDA driver. Never panics: with no driver, no device or a driver
/// error it returns no devices and the reason (which says what to do).
pub fn gpus() -> GpuInventory {
    from_results(cuda::driver_status().map(|_| ()), cuda::list_devices)
}

fn from_results(
    status: Result<(), String>,
    list: impl FnOnce() -> Result<Vec<DeviceInfo>, String>,
) -> GpuInventory {
    if let Err(reason) = status {
        return GpuInventory {
            devices: Vec::new(),
            unavailable: Some(reason),
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
            unavailable: Some(reason),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_reports_every_outcome() {
        let no_driver = from_results(Err("no NVIDIA driver found".into()), || {
            panic!("must not list without a driver")
        });
        assert!(no_driver.devices.is_empty());
        assert_eq!(
            no_driver.unavailable.as_deref(),
            Some("no NVIDIA driver found")
        );

        let list_failed = from_results(Ok(()), || Err("GPU 0: boom".into()));
        assert!(list_failed.devices.is_empty());
        assert_eq!(list_failed.unavailable.as_deref(), Some("GPU 0: boom"));

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
