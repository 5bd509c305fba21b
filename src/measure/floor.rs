//! A GPU's floors: what one kernel launch and one small copy cost on it whatever their size,
//! timed when the GPU is opened, before anything else runs on it.
//!
//! A workload that takes about as long as a launch (or, for a transfer, as a copy of nothing)
//! measures the launch, not the GPU: the gate compares the time each result would take at its
//! pass line with these floors and, when it is within a small factor of them, says the size is
//! too small to measure this GPU instead of blaming its clocks. The floors are recorded per GPU
//! in run.json ([`crate::model::GpuFloor`]), so that `gpugate report` decides the same way.
//!
//! Both are measured the way every sample is ([`crate::workload::Trial::run`]): device time
//! between the device's two events around a batch of back-to-back operations, divided by the
//! batch, the fastest of [`FLOOR_BATCHES`] batches after one warm-up operation.

use crate::kernels::stream_kernel;
use crate::model::GpuFloor;
use crate::workload::device::{DeviceError, KArg, KernelDevice, LaunchConfig};
use crate::workload::{Precision, StreamOp};

/// Launches (and copies) per timed batch.
pub const FLOOR_BATCH: u64 = 32;
/// Timed batches; the fastest counts.
pub const FLOOR_BATCHES: u64 = 3;
/// Kernel launches the launch floor makes on a GPU: one warm-up, then the batches. (Tests that
/// count a GPU's launches, such as the simulator's `launch-fail-after`, add these.)
pub const FLOOR_LAUNCHES: u64 = 1 + FLOOR_BATCH * FLOOR_BATCHES;
/// Bytes of each copy the copy floor times.
pub const FLOOR_COPY_BYTES: usize = 4;

/// Measures the launch and copy floors of `dev` (GPU `device`). Never fails: a floor that
/// cannot be measured is None, with why in `note`.
pub fn measure_floors(dev: &dyn KernelDevice, device: u32) -> GpuFloor {
    let mut notes = Vec::new();
    let launch_s = launch_floor(dev)
        .map_err(|e| notes.push(format!("launch floor not measured: {e}")))
        .ok();
    let copy_s = copy_floor(dev)
        .map_err(|e| notes.push(format!("copy floor not measured: {e}")))
        .ok();
    GpuFloor {
        device,
        launch_s,
        copy_s,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// Why a floor could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    /// The device failed an operation (a launch, a copy, an allocation, the timer).
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The kernel the launch floor times is not loaded on this GPU.
    #[error("{entry} is not loaded on this GPU")]
    NotLoaded { entry: &'static str },
    /// A batch whose device time is zero, negative or not a number.
    #[error("the timer gave {per_op} s per operation over {FLOOR_BATCH} of them, not a time")]
    NotATime { per_op: f64 },
}

/// The fastest batch of `op`, per operation, in seconds: one warm-up, then [`FLOOR_BATCHES`]
/// timed batches of [`FLOOR_BATCH`]. A batch whose device time is zero, negative or not a
/// number is not a time: an error saying what the timer gave.
fn fastest(
    dev: &dyn KernelDevice,
    op: &dyn Fn() -> Result<(), DeviceError>,
) -> Result<f64, FloorError> {
    op()?;
    dev.synchronize()?;
    let mut best = f64::INFINITY;
    for _ in 0..FLOOR_BATCHES {
        dev.timer_start()?;
        for _ in 0..FLOOR_BATCH {
            op()?;
        }
        let t = dev.timer_stop()? / FLOOR_BATCH as f64;
        if !super::valid_time(t) {
            return Err(FloorError::NotATime { per_op: t });
        }
        best = best.min(t);
    }
    Ok(best)
}

/// Seconds per launch of an empty kernel: the stream copy kernel over no elements (one block
/// of one warp, which returns at once).
fn launch_floor(dev: &dyn KernelDevice) -> Result<f64, FloorError> {
    let kernel = stream_kernel(StreamOp::Copy, Precision::F32).expect("the f32 copy kernel");
    if !dev.kernel_modules().has(kernel) {
        return Err(FloorError::NotLoaded {
            entry: kernel.entry,
        });
    }
    let buf = dev.alloc(4)?;
    let cfg = LaunchConfig {
        grid: (1, 1, 1),
        block: (32, 1, 1),
        shared_bytes: 0,
    };
    let args = [KArg::Buf(buf), KArg::Buf(buf), KArg::I64(0)];
    let t = fastest(dev, &|| dev.launch(kernel, cfg, &args));
    dev.free(buf);
    t
}

/// Seconds per host-to-device copy of [`FLOOR_COPY_BYTES`] from pinned memory.
fn copy_floor(dev: &dyn KernelDevice) -> Result<f64, FloorError> {
    let host = dev.alloc_pinned(FLOOR_COPY_BYTES)?;
    let buf = match dev.alloc(FLOOR_COPY_BYTES) {
        Ok(b) => b,
        Err(e) => {
            dev.free_pinned(host);
            return Err(e.into());
        }
    };
    let t = dev
        .write_pinned(host, &[0x5A; FLOOR_COPY_BYTES])
        .map_err(FloorError::from)
        .and_then(|()| fastest(dev, &|| dev.copy_h2d(host, buf)));
    dev.free(buf);
    dev.free_pinned(host);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::device::{DevBuf, DeviceError, DeviceProps, KernelRef, PinnedBuf};
    use std::cell::Cell;

    /// A device whose operations cost `launch` and `copy` seconds of device time each (the
    /// first of each slower, as a cold one is), counted between the timer's start and stop.
    struct Timed {
        launch: f64,
        copy: f64,
        clock: Cell<f64>,
        started: Cell<f64>,
        first: Cell<bool>,
        launches: Cell<u64>,
    }

    impl Timed {
        fn new(launch: f64, copy: f64) -> Self {
            Timed {
                launch,
                copy,
                clock: Cell::new(0.0),
                started: Cell::new(0.0),
                first: Cell::new(true),
                launches: Cell::new(0),
            }
        }
        fn tick(&self, t: f64) {
            let cold = if self.first.replace(false) { 10.0 } else { 1.0 };
            self.clock.set(self.clock.get() + t * cold);
        }
    }

    impl KernelDevice for Timed {
        fn props(&self) -> DeviceProps {
            DeviceProps {
                compute_capability: (9, 0),
                ..Default::default()
            }
        }
        fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
            Ok(DevBuf { id: 1, bytes })
        }
        fn free(&self, _: DevBuf) {}
        fn upload(&self, _: DevBuf, _: &[u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn download(&self, _: DevBuf, _: &mut [u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn launch(&self, _: KernelRef, _: LaunchConfig, _: &[KArg]) -> Result<(), DeviceError> {
            self.launches.set(self.launches.get() + 1);
            self.tick(self.launch);
            Ok(())
        }
        fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError> {
            Ok(PinnedBuf { id: 2, bytes })
        }
        fn free_pinned(&self, _: PinnedBuf) {}
        fn write_pinned(&self, _: PinnedBuf, _: &[u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn read_pinned(&self, _: PinnedBuf, _: &mut [u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn copy_h2d(&self, _: PinnedBuf, _: DevBuf) -> Result<(), DeviceError> {
            self.tick(self.copy);
            Ok(())
        }
        fn copy_d2h(&self, _: DevBuf, _: PinnedBuf) -> Result<(), DeviceError> {
            self.tick(self.copy);
            Ok(())
        }
        fn synchronize(&self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn timer_start(&self) -> Result<(), DeviceError> {
            self.started.set(self.clock.get());
            Ok(())
        }
        fn timer_stop(&self) -> Result<f64, DeviceError> {
            Ok(self.clock.get() - self.started.get())
        }
    }

    #[test]
    fn floors_are_the_time_of_one_launch_and_one_small_copy() {
        let dev = Timed::new(2.5e-6, 5e-6);
        let f = measure_floors(&dev, 3);
        assert_eq!(f.device, 3);
        assert!((f.launch_s.unwrap() - 2.5e-6).abs() < 1e-15, "{f:?}");
        assert!((f.copy_s.unwrap() - 5e-6).abs() < 1e-15, "{f:?}");
        assert_eq!(f.note, None);
        assert_eq!(dev.launches.get(), FLOOR_LAUNCHES);
    }

    /// A timer that reports no elapsed time gives no floor, and says so.
    #[test]
    fn a_timer_that_does_not_count_gives_no_floor() {
        let dev = Timed::new(0.0, 0.0);
        let f = measure_floors(&dev, 0);
        assert_eq!((f.launch_s, f.copy_s), (None, None));
        let note = f.note.unwrap();
        assert!(note.contains("launch floor not measured"), "{note}");
        assert!(note.contains("the timer gave 0 s per operation"), "{note}");
        assert!(matches!(
            launch_floor(&dev),
            Err(FloorError::NotATime { per_op }) if per_op == 0.0
        ));
    }
}
