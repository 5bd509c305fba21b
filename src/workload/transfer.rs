//! Host↔device transfers through page-locked (pinned) host memory.

use std::sync::Arc;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::device::{DevBuf, KernelDevice, PinnedBuf};
use super::{Direction, Trial, TrialInfo, WorkloadError};
use crate::model::Verification;
use crate::verify::bytes::check_bytes;

struct TransferTrial<D: KernelDevice + ?Sized> {
    dev: Arc<D>,
    direction: Direction,
    data: Vec<u8>,
    host: PinnedBuf,
    device: DevBuf,
}

/// Random bytes from `seed`.
pub fn transfer_data(bytes: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// Prepares a pinned transfer of `bytes` random bytes. For host→device the pinned buffer holds
/// the data; for device→host the device buffer does and the pinned buffer starts zeroed.
pub fn prepare_transfer<D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    direction: Direction,
    bytes: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    if bytes == 0 {
        return Err(WorkloadError::Unsupported(
            "a transfer needs at least one byte".into(),
        ));
    }
    let data = transfer_data(bytes, seed);
    let host = dev.alloc_pinned(bytes)?;
    let device = match dev.alloc(bytes) {
        Ok(d) => d,
        Err(e) => {
            dev.free_pinned(host);
            return Err(e.into());
        }
    };
    let trial = TransferTrial {
        dev,
        direction,
        data,
        host,
        device,
    };
    match direction {
        Direction::HostToDevice => {
            trial.dev.write_pinned(host, &trial.data)?;
            trial.dev.upload(device, &vec![0u8; bytes])?;
        }
        Direction::DeviceToHost => {
            trial.dev.upload(device, &trial.data)?;
            trial.dev.write_pinned(host, &vec![0u8; bytes])?;
        }
    }
    Ok(Box::new(trial))
}

impl<D: KernelDevice + ?Sized> Trial for TransferTrial<D> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: match self.direction {
                Direction::HostToDevice => "cuMemcpyHtoDAsync from pinned memory".into(),
                Direction::DeviceToHost => "cuMemcpyDtoHAsync to pinned memory".into(),
            },
            math_mode: None,
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        self.dev.timer_start()?;
        for _ in 0..iters {
            match self.direction {
                Direction::HostToDevice => self.dev.copy_h2d(self.host, self.device)?,
                Direction::DeviceToHost => self.dev.copy_d2h(self.device, self.host)?,
            }
        }
        Ok(self.dev.timer_stop()?)
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let mut got = vec![0u8; self.data.len()];
        match self.direction {
            Direction::HostToDevice => self.dev.download(self.device, &mut got)?,
            Direction::DeviceToHost => self.dev.read_pinned(self.host, &mut got)?,
        }
        Ok(check_bytes(&self.data, &got))
    }
}

impl<D: KernelDevice + ?Sized> Drop for TransferTrial<D> {
    fn drop(&mut self) {
        self.dev.free(self.device);
        self.dev.free_pinned(self.host);
    }
}
