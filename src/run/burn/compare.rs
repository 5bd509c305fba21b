//! The bit-for-bit comparison on the GPU (`kernels/compare.cu`): one error log in device memory
//! per GPU, cleared by a kernel at the start of an interval, filled by one compare launch per
//! buffer (queued on the GPU's stream behind the round's kernels, no copy), and read back once
//! (the count and at most `cap` entries, a few hundred bytes) at the interval's end.

use crate::kernels::compare_kernel;
use crate::workload::device::{
    as_bytes_mut, DevBuf, DeviceError, KArg, KernelDevice, LaunchConfig,
};

/// Threads per block of the compare kernels.
const BLOCK: u32 = 256;

/// One logged difference: the caller's tag of the buffer, the element, and its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Logged {
    pub tag: u64,
    pub element: u64,
    pub expected: u64,
    pub found: u64,
}

/// An error log of `cap` entries in device memory (`8 · (1 + 4 · cap)` bytes).
pub struct DeviceLog {
    buf: DevBuf,
    cap: usize,
}

impl DeviceLog {
    /// Allocates the log on `dev` (cleared by [`DeviceLog::clear`], not here).
    pub fn new(dev: &dyn KernelDevice, cap: usize) -> Result<DeviceLog, DeviceError> {
        let buf = dev.alloc(8 * Self::words(cap))?;
        Ok(DeviceLog { buf, cap })
    }

    fn words(cap: usize) -> usize {
        1 + 4 * cap
    }

    /// Frees the log's memory.
    pub fn free(&self, dev: &dyn KernelDevice) {
        dev.free(self.buf);
    }

    /// Queues the kernel that zeroes the log.
    pub fn clear(&self, dev: &dyn KernelDevice) -> Result<(), DeviceError> {
        let words = Self::words(self.cap) as i64;
        dev.launch(
            compare_kernel("compare_clear_log"),
            grid_for(dev, words),
            &[KArg::Buf(self.buf), KArg::I32(words as i32)],
        )
    }

    /// Queues the comparison of `found` with `expected` (`elem`-byte elements, 4 or 8), its
    /// differences logged under `tag`.
    pub fn compare(
        &self,
        dev: &dyn KernelDevice,
        (expected, found): (DevBuf, DevBuf),
        elem: usize,
        tag: u64,
    ) -> Result<(), DeviceError> {
        let entry = match elem {
            4 => "compare_bits_u32",
            8 => "compare_bits_u64",
            _ => {
                return Err(DeviceError::Invalid(format!(
                    "no compare kernel for {elem}-byte elements (4 or 8)"
                )))
            }
        };
        if expected.bytes != found.bytes {
            return Err(DeviceError::Invalid(format!(
                "comparing buffers of {} and {} bytes",
                expected.bytes, found.bytes
            )));
        }
        let n = (found.bytes / elem) as i64;
        let args = [
            KArg::Buf(expected),
            KArg::Buf(found),
            KArg::I64(n),
            KArg::I64(tag as i64),
            KArg::Buf(self.buf),
            KArg::I32(self.cap as i32),
        ];
        dev.launch(compare_kernel(entry), grid_for(dev, n), &args)
    }

    /// Waits for the queued comparisons and reads the log: how many elements differed, and the
    /// logged ones (at most `cap`) in order of tag and element.
    pub fn read(&self, dev: &dyn KernelDevice) -> Result<(u64, Vec<Logged>), DeviceError> {
        let mut words = vec![0u64; Self::words(self.cap)];
        dev.download(self.buf, as_bytes_mut(&mut words))?;
        let logged = (words[0] as usize).min(self.cap);
        let mut found: Vec<Logged> = words[1..1 + 4 * logged]
            .chunks_exact(4)
            .map(|w| Logged {
                tag: w[0],
                element: w[1],
                expected: w[2],
                found: w[3],
            })
            .collect();
        found.sort();
        Ok((words[0], found))
    }
}

/// A grid-stride launch over `n` elements: at most 8 blocks per SM.
fn grid_for(dev: &dyn KernelDevice, n: i64) -> LaunchConfig {
    let most = dev.props().sm_count.max(1) as u64 * 8;
    let blocks = (n.max(1) as u64).div_ceil(BLOCK as u64).min(most) as u32;
    LaunchConfig {
        grid: (blocks, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}
