//! The GPU memory test (`gpugate memtest`, and a stage a burn-in can call): the cuda_memtest /
//! DCGM memtest patterns ([`Pattern`]) over a share of the GPU's free memory, every mismatch
//! with its device address, bits, expected and found value.
//!
//! - [`patterns`]: the patterns as lists of steps, the value generator the kernels share, and
//!   the host model they are proved on.
//! - [`run()`](run): one GPU's test through the device interface (`KernelDevice`), allocating in
//!   chunks when one allocation cannot take the whole share, reporting progress through a
//!   callback (it never prints) and stopping between steps when a signal asks.

pub mod patterns;

pub use patterns::{steps, word_value, HostMemory, Mismatch, Pattern, Step, StuckBit, Values};

use crate::kernels::memtest_kernel;
use crate::model::memtest::{MemoryError, MemtestReport, PatternResult};
use crate::workload::device::{as_bytes, as_bytes_mut, DevBuf, KArg, KernelDevice, LaunchConfig};

/// The default share of free memory tested, percent (`--memory-share`).
pub const DEFAULT_SHARE_PERCENT: f64 = 90.0;
/// Read-check-complement rounds of [`Pattern::Stress`].
pub const STRESS_ROUNDS: u32 = 4;
/// Mismatches recorded per pattern; the rest are counted.
pub const MAX_RECORDED: usize = 32;
/// Allocations are multiples of this many bytes (every word width divides it).
pub const CHUNK_ALIGN: u64 = 4096;
/// The smallest allocation tried when a larger one is refused.
pub const MIN_CHUNK: u64 = 1 << 20;
/// Threads per block of the grid-stride kernels.
const BLOCK: u32 = 256;

/// What a memory test is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct MemtestOptions {
    /// Share of the free memory to allocate and test, percent, in (0, 100].
    pub share_percent: f64,
    pub seed: u64,
    pub patterns: Vec<Pattern>,
    pub stress_rounds: u32,
    pub max_recorded: usize,
}

impl MemtestOptions {
    /// Every pattern over `share_percent` of free memory.
    pub fn new(share_percent: f64, seed: u64) -> MemtestOptions {
        MemtestOptions {
            share_percent,
            seed,
            patterns: Pattern::ALL.to_vec(),
            stress_rounds: STRESS_ROUNDS,
            max_recorded: MAX_RECORDED,
        }
    }
}

/// What a memory test says while it runs.
#[derive(Debug)]
pub enum MemtestProgress<'a> {
    /// The memory it will test is allocated.
    Allocated {
        device: u32,
        bytes: u64,
        allocations: u32,
    },
    PatternStarted {
        device: u32,
        index: usize,
        total: usize,
        pattern: Pattern,
        bytes: u64,
    },
    PatternFinished {
        device: u32,
        index: usize,
        total: usize,
        result: &'a PatternResult,
    },
}

/// The memory under test: the allocations and the error log.
struct Arena {
    chunks: Vec<DevBuf>,
    log: DevBuf,
    cap: usize,
}

/// Tests the memory of `dev` (GPU `device`): allocates `share_percent` of its free memory
/// (in chunks if need be) and runs each pattern over all of it, stopping between steps when
/// `crate::stop::requested()`. Never fails: what could not be done is in the report's `error`
/// or a pattern's `failed`.
pub fn run(
    dev: &dyn KernelDevice,
    device: u32,
    opts: &MemtestOptions,
    progress: &mut dyn FnMut(MemtestProgress),
) -> MemtestReport {
    let props = dev.props();
    let mut report = MemtestReport {
        device,
        seed: opts.seed,
        requested_share_percent: opts.share_percent,
        free_bytes: props.free_memory,
        total_bytes: props.total_memory,
        covered_bytes: 0,
        allocations: 0,
        patterns: Vec::new(),
        error: None,
    };
    let arena = match allocate(dev, props.free_memory, opts) {
        Ok(a) => a,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.covered_bytes = arena.chunks.iter().map(|c| c.bytes as u64).sum();
    report.allocations = arena.chunks.len() as u32;
    progress(MemtestProgress::Allocated {
        device,
        bytes: report.covered_bytes,
        allocations: report.allocations,
    });
    let total = opts.patterns.len();
    for (index, &pattern) in opts.patterns.iter().enumerate() {
        if crate::stop::requested() {
            break;
        }
        progress(MemtestProgress::PatternStarted {
            device,
            index,
            total,
            pattern,
            bytes: report.covered_bytes,
        });
        let result = run_pattern(dev, &arena, pattern, opts);
        progress(MemtestProgress::PatternFinished {
            device,
            index,
            total,
            result: &result,
        });
        report.patterns.push(result);
    }
    for c in arena.chunks {
        dev.free(c);
    }
    dev.free(arena.log);
    report
}

/// Why the memory test, or one of its steps, could not run on a GPU (recorded as text in
/// run.json: the memory report's `error`, a pattern's `failed`).
#[derive(Debug, thiserror::Error)]
pub enum MemtestError {
    #[error("could not allocate the error log: {0}")]
    Log(crate::workload::device::DeviceError),
    #[error(
        "no device memory could be allocated for the test ({want} of {free} free bytes asked)"
    )]
    NoMemory { want: u64, free: u64 },
    /// A step's launch or one of its copies failed; `what` names the step or copy.
    #[error("{what}: {source}")]
    Step {
        what: String,
        source: crate::workload::device::DeviceError,
    },
}

/// The error log and as much of `share_percent` of `free` as the device gives, largest
/// allocations first: a refused allocation is tried again at half the size, down to
/// [`MIN_CHUNK`].
fn allocate(
    dev: &dyn KernelDevice,
    free: u64,
    opts: &MemtestOptions,
) -> Result<Arena, MemtestError> {
    let cap = opts.max_recorded.max(1);
    let log = dev.alloc(8 * (1 + 3 * cap)).map_err(MemtestError::Log)?;
    // The share rounded up to whole chunks (so that the test covers at least what was asked),
    // within what is free beside the log.
    let log_bytes = (8 * (1 + 3 * cap) as u64).next_multiple_of(256);
    let asked =
        ((free as f64 * opts.share_percent / 100.0).ceil() as u64).next_multiple_of(CHUNK_ALIGN);
    let room = free.saturating_sub(log_bytes);
    let want = asked.min(room - room % CHUNK_ALIGN);
    let mut left = want;
    let mut size = left;
    let mut chunks = Vec::new();
    while left >= CHUNK_ALIGN && size >= CHUNK_ALIGN {
        let try_size = size.min(left);
        match dev.alloc(try_size as usize) {
            Ok(b) => {
                chunks.push(b);
                left -= try_size;
            }
            Err(_) if try_size > MIN_CHUNK => size = (try_size / 2).next_multiple_of(CHUNK_ALIGN),
            Err(_) => break,
        }
    }
    if chunks.is_empty() {
        dev.free(log);
        return Err(MemtestError::NoMemory { want, free });
    }
    Ok(Arena { chunks, log, cap })
}

/// One pattern over every allocation; a failed launch or copy ends it (`failed`).
fn run_pattern(
    dev: &dyn KernelDevice,
    arena: &Arena,
    pattern: Pattern,
    opts: &MemtestOptions,
) -> PatternResult {
    let started = std::time::Instant::now();
    let mut result = PatternResult {
        pattern: pattern.name().to_string(),
        covered_bytes: arena.chunks.iter().map(|c| c.bytes as u64).sum(),
        errors: 0,
        recorded: Vec::new(),
        passes: Some(0),
        seconds: None,
        failed: None,
    };
    'steps: for step in steps(pattern, opts.seed, opts.stress_rounds) {
        if crate::stop::requested() {
            result.failed = Some("stopped by a signal before its end".into());
            break;
        }
        let mut first = 0u64;
        for &chunk in &arena.chunks {
            if let Err(e) = run_step(dev, arena, chunk, first, &step, &mut result, opts) {
                result.failed = Some(e.to_string());
                break 'steps;
            }
            first += chunk.bytes as u64 / 4;
        }
        result.passes = result.passes.map(|p| p + 1);
    }
    result.seconds = Some(started.elapsed().as_secs_f64());
    result
}

/// One step over one allocation (`first`: the index of its first 32-bit word in the test);
/// a check's mismatches are added to `result`.
fn run_step(
    dev: &dyn KernelDevice,
    arena: &Arena,
    chunk: DevBuf,
    first: u64,
    step: &Step,
    result: &mut PatternResult,
    opts: &MemtestOptions,
) -> Result<(), MemtestError> {
    let (count, found) = launch_step(dev, chunk, first, step, arena.log, arena.cap)?;
    result.errors += count;
    let width = if matches!(step, Step::CheckAddress { .. }) {
        64
    } else {
        32
    };
    for m in found {
        if result.recorded.len() >= opts.max_recorded {
            break;
        }
        result
            .recorded
            .push(memory_error(m.address, width, m.expected, m.found));
    }
    Ok(())
}

/// Launches one step over the allocation `chunk` (`first`: the index of its first 32-bit word
/// in the test) with the error log `log` of `cap` entries (`8 · (1 + 3 · cap)` bytes). For a
/// check: how many mismatches it counted and the first `cap` of them, in the order the
/// device logged them. Errors name the step that failed.
pub fn launch_step(
    dev: &dyn KernelDevice,
    chunk: DevBuf,
    first: u64,
    step: &Step,
    log: DevBuf,
    cap: usize,
) -> Result<(u64, Vec<Mismatch>), MemtestError> {
    let fail = |what: &str, source: crate::workload::device::DeviceError| MemtestError::Step {
        what: what.to_string(),
        source,
    };
    if step.checks() {
        let zeros = vec![0u64; 1 + 3 * cap];
        dev.upload(log, as_bytes(&zeros))
            .map_err(|e| fail("clearing the error log", e))?;
    }
    let (entry, args, cfg) = launch_of(dev, chunk, first, step, log, cap);
    dev.launch(memtest_kernel(entry), cfg, &args)
        .map_err(|e| fail(entry, e))?;
    if !step.checks() {
        return Ok((0, Vec::new()));
    }
    let mut words = vec![0u64; 1 + 3 * cap];
    dev.download(log, as_bytes_mut(&mut words))
        .map_err(|e| fail("reading the error log", e))?;
    let logged = (words[0] as usize).min(cap);
    let found = (0..logged)
        .map(|k| Mismatch {
            address: words[1 + 3 * k],
            expected: words[2 + 3 * k],
            found: words[3 + 3 * k],
        })
        .collect();
    Ok((words[0], found))
}

/// A mismatch as run.json records it: the bits that differ.
pub fn memory_error(address: u64, width_bits: u32, expected: u64, found: u64) -> MemoryError {
    let diff = expected ^ found;
    MemoryError {
        address,
        width_bits,
        bits: (0..width_bits).filter(|b| diff >> b & 1 == 1).collect(),
        expected,
        found,
    }
}

/// The entry, arguments (in the order of its C signature) and geometry of one step.
fn launch_of(
    dev: &dyn KernelDevice,
    chunk: DevBuf,
    first: u64,
    step: &Step,
    log: DevBuf,
    cap: usize,
) -> (&'static str, Vec<KArg>, LaunchConfig) {
    let n32 = (chunk.bytes / 4) as i64;
    let n64 = (chunk.bytes / 8) as i64;
    let (log, cap) = (KArg::Buf(log), KArg::I32(cap as i32));
    let values = |v: Values| match v {
        Values::Const(c) => (KArg::I32(0), KArg::I64(c as i64)),
        Values::Random(s) => (KArg::I32(1), KArg::I64(s as i64)),
    };
    let p = KArg::Buf(chunk);
    let (entry, args, n) = match *step {
        Step::Fill { values: v, x } => {
            let (kind, seed) = values(v);
            let args = vec![
                p,
                KArg::I64(n32),
                KArg::I64(first as i64),
                kind,
                seed,
                u32_arg(x),
            ];
            ("memtest_fill_u32", args, n32)
        }
        Step::Check {
            values: v,
            x,
            rewrite,
            descending,
        } => {
            let (kind, seed) = values(v);
            let args = vec![
                p,
                KArg::I64(n32),
                KArg::I64(first as i64),
                kind,
                seed,
                u32_arg(x),
                u32_arg(rewrite.unwrap_or(0)),
                KArg::I32(rewrite.is_some() as i32),
                KArg::I32(descending as i32),
                log,
                cap,
            ];
            ("memtest_check_u32", args, n32)
        }
        Step::FillAddress { x } => {
            let args = vec![p, KArg::I64(n64), KArg::I64(x as i64)];
            ("memtest_fill_addr_u64", args, n64)
        }
        Step::CheckAddress { x } => {
            let args = vec![p, KArg::I64(n64), KArg::I64(x as i64), log, cap];
            ("memtest_check_addr_u64", args, n64)
        }
        Step::AddressLines { zeros, x, check } => {
            let args = vec![
                p,
                KArg::I64(n32),
                KArg::I32(zeros as i32),
                u32_arg(x),
                KArg::I32(check as i32),
                log,
                cap,
            ];
            ("memtest_address_lines_u32", args, 1)
        }
    };
    (entry, args, grid_for(dev, n))
}

/// A 32-bit unsigned argument, passed as its bits.
fn u32_arg(v: u32) -> KArg {
    KArg::I32(v as i32)
}

/// A grid-stride launch over `n` items: enough blocks to fill the GPU, no more than needed.
fn grid_for(dev: &dyn KernelDevice, n: i64) -> LaunchConfig {
    let (block, most) = if n <= 1 {
        (1, 1)
    } else {
        (BLOCK, dev.props().sm_count.max(1) * 8)
    };
    let blocks = (n.max(1) as u64).div_ceil(block as u64).min(most as u64) as u32;
    LaunchConfig {
        grid: (blocks, 1, 1),
        block: (block, 1, 1),
        shared_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::device::{DeviceError, DeviceProps, PinnedBuf};
    use std::cell::RefCell;

    /// A device with `free` bytes that refuses any allocation above `largest`; its kernels
    /// find nothing wrong (the error log stays zero).
    struct Fragmented {
        free: u64,
        largest: usize,
        allocs: RefCell<Vec<usize>>,
        launches: RefCell<usize>,
    }

    impl KernelDevice for Fragmented {
        fn props(&self) -> DeviceProps {
            DeviceProps {
                sm_count: 4,
                total_memory: self.free + (1 << 20),
                free_memory: self.free,
                compute_capability: (5, 2),
                ..DeviceProps::default()
            }
        }
        fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
            let used: usize = self.allocs.borrow().iter().sum();
            if bytes > self.largest || (used + bytes) as u64 > self.free {
                return Err(DeviceError::Unavailable("out of memory".into()));
            }
            self.allocs.borrow_mut().push(bytes);
            let id = self.allocs.borrow().len() as u64;
            Ok(DevBuf { id, bytes })
        }
        fn free(&self, _: DevBuf) {}
        fn upload(&self, _: DevBuf, _: &[u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn download(&self, _: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
            dst.fill(0);
            Ok(())
        }
        fn launch(&self, _: KernelRef, _: LaunchConfig, _: &[KArg]) -> Result<(), DeviceError> {
            *self.launches.borrow_mut() += 1;
            Ok(())
        }
        fn alloc_pinned(&self, _: usize) -> Result<PinnedBuf, DeviceError> {
            Err(DeviceError::Unavailable("none".into()))
        }
        fn free_pinned(&self, _: PinnedBuf) {}
        fn write_pinned(&self, _: PinnedBuf, _: &[u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn read_pinned(&self, _: PinnedBuf, _: &mut [u8]) -> Result<(), DeviceError> {
            Ok(())
        }
        fn copy_h2d(&self, _: PinnedBuf, _: DevBuf) -> Result<(), DeviceError> {
            Ok(())
        }
        fn copy_d2h(&self, _: DevBuf, _: PinnedBuf) -> Result<(), DeviceError> {
            Ok(())
        }
        fn synchronize(&self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn timer_start(&self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn timer_stop(&self) -> Result<f64, DeviceError> {
            Ok(1e-3)
        }
    }

    use crate::workload::device::KernelRef;

    fn device(free: u64, largest: usize) -> Fragmented {
        Fragmented {
            free,
            largest,
            allocs: RefCell::new(Vec::new()),
            launches: RefCell::new(0),
        }
    }

    #[test]
    fn a_share_the_driver_gives_only_in_pieces_is_covered_in_chunks() {
        let mib = 1u64 << 20;
        // (free, largest single allocation, share): every case covers at least the share.
        for (free, largest, share) in [
            (100 * mib, 1 << 40, 90.0),
            (100 * mib, 32 << 20, 90.0),
            (100 * mib, 5 << 20, 100.0),
            (64 * mib + 12_345, 3 << 20, 37.5),
        ] {
            let dev = device(free, largest);
            let r = run(&dev, 0, &MemtestOptions::new(share, 1), &mut |_| {});
            assert_eq!(r.error, None);
            let covered = 100.0 * r.covered_bytes as f64 / free as f64;
            assert!(
                covered >= share.min(99.9) && r.covered_bytes <= free,
                "{free} {largest} {share}: covered {covered} %"
            );
            assert_eq!(r.allocations as usize + 1, dev.allocs.borrow().len());
            assert!(dev.allocs.borrow().iter().all(|a| *a <= largest));
            assert_eq!(r.share_of_free_percent(), Some(covered));
            assert_eq!(r.patterns.len(), 7);
            assert!(r
                .patterns
                .iter()
                .all(|p| p.errors == 0 && p.failed.is_none()));
        }
    }

    #[test]
    fn memory_that_cannot_be_allocated_is_an_error_not_a_pass() {
        let dev = device(100 << 20, 1 << 19);
        let r = run(&dev, 3, &MemtestOptions::new(90.0, 1), &mut |_| {});
        assert!(r
            .error
            .unwrap()
            .contains("no device memory could be allocated"));
        assert!(r.patterns.is_empty());
        assert_eq!(*dev.launches.borrow(), 0);
    }
}
