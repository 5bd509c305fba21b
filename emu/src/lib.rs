//! `gpugate-emu`: a test-only CPU emulation of the CUDA execution model.
//!
//! The build script compiles every `kernels/*.cu` with the host C++ compiler, force-including
//! `cuda_emu.h` (one block at a time; the block's threads are real threads; `__syncthreads` is a
//! barrier; `__shared__` is per-block static storage; warp shuffles are emulated), and generates a
//! table of the `extern "C" __global__` entry points with their parameter kinds.
//!
//! [`EmuDevice`] implements [`KernelDevice`] on top of it, so the GPU workloads of `gpugate` run
//! unchanged on a machine without a GPU: buffers are host memory (256-byte aligned), a buffer
//! argument passes the host address as the device pointer, timers are wall time. It finds index
//! and tiling bugs; it says nothing about speed, and the GPU run remains the authority.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::Mutex;
use std::time::Instant;

use gpugate::workload::device::{
    DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef, LaunchConfig, PinnedBuf,
};

mod ffi {
    use super::*;
    extern "C" {
        pub fn emu_entry_count() -> c_uint;
        pub fn emu_entry_name(i: c_uint) -> *const c_char;
        pub fn emu_entry_signature(i: c_uint) -> *const c_char;
        pub fn emu_launch(
            entry: *const c_char,
            gx: c_uint,
            gy: c_uint,
            gz: c_uint,
            bx: c_uint,
            by: c_uint,
            bz: c_uint,
            params: *mut *mut c_void,
        ) -> c_int;
        pub fn gg_emu_half_to_float(h: c_uint) -> f32;
    }
}

/// `gg_half_to_float` of `kernels/gemm.cu` (the IEEE binary16 → binary32 conversion of the
/// HGEMM loaders), called directly through an emulator hook (`cpp/gemm_probes.inc`).
pub fn gemm_half_to_f32(bits: u16) -> f32 {
    // SAFETY: a pure function of its argument.
    unsafe { ffi::gg_emu_half_to_float(bits as c_uint) }
}

/// Alignment of every emulated allocation (cudaMalloc gives at least 256 bytes).
pub const ALIGN: usize = 256;

/// Largest static shared memory a block may use on sm_52 (and the most a launch may ask for).
pub const MAX_SHARED_BYTES: u32 = 48 * 1024;

#[repr(C, align(256))]
#[derive(Clone, Copy)]
struct Chunk([u8; ALIGN]);

/// Host storage of one emulated allocation: 256-byte aligned, zero-filled.
struct Storage {
    chunks: Vec<Chunk>,
    bytes: usize,
}

impl Storage {
    fn new(bytes: usize) -> Result<Self, DeviceError> {
        let n = bytes.div_ceil(ALIGN).max(1);
        let mut chunks = Vec::new();
        chunks
            .try_reserve_exact(n)
            .map_err(|_| DeviceError(format!("out of host memory allocating {bytes} bytes")))?;
        chunks.resize(n, Chunk([0; ALIGN]));
        Ok(Storage { chunks, bytes })
    }
    fn as_slice(&self) -> &[u8] {
        // SAFETY: `chunks` holds at least `bytes` initialised bytes, contiguously.
        unsafe { std::slice::from_raw_parts(self.chunks.as_ptr() as *const u8, self.bytes) }
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.chunks.as_mut_ptr() as *mut u8, self.bytes) }
    }
    fn addr(&mut self) -> u64 {
        self.chunks.as_mut_ptr() as usize as u64
    }
}

#[derive(Default)]
struct State {
    next_id: u64,
    device: HashMap<u64, Storage>,
    pinned: HashMap<u64, Storage>,
    timer: Option<Instant>,
}

/// An entry point of the emulated kernels and its parameter kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmuEntry {
    pub name: String,
    /// One character per parameter: `p` pointer, `i` int, `u` unsigned, `l` long long,
    /// `L` unsigned long long, `f` float, `d` double.
    pub signature: String,
}

/// Every entry point compiled into the emulator, in source order.
pub fn entries() -> Vec<EmuEntry> {
    // SAFETY: the table is static, NUL-terminated strings, indices below the count.
    unsafe {
        (0..ffi::emu_entry_count())
            .map(|i| EmuEntry {
                name: CStr::from_ptr(ffi::emu_entry_name(i))
                    .to_string_lossy()
                    .into_owned(),
                signature: CStr::from_ptr(ffi::emu_entry_signature(i))
                    .to_string_lossy()
                    .into_owned(),
            })
            .collect()
    }
}

/// The CPU emulator as a [`KernelDevice`].
pub struct EmuDevice {
    state: Mutex<State>,
    entries: HashMap<String, String>,
    compute_capability: (u32, u32),
}

impl Default for EmuDevice {
    fn default() -> Self {
        Self::new()
    }
}

impl EmuDevice {
    pub fn new() -> Self {
        EmuDevice {
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            entries: entries()
                .into_iter()
                .map(|e| (e.name, e.signature))
                .collect(),
            compute_capability: (5, 2),
        }
    }

    /// An emulated device that reports compute capability `cc` (default: 5.2, the M40), so
    /// that code choosing kernels by architecture (the sm_70 / sm_80 paths, the tuner, the
    /// self-test) can be driven through them. The emulator itself runs every entry whatever
    /// the capability, through the plain fallbacks of the inline PTX.
    pub fn with_compute_capability(cc: (u32, u32)) -> Self {
        EmuDevice {
            compute_capability: cc,
            ..Self::new()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Launches like [`KernelDevice::launch`], but passes buffer argument `i` as a pointer
    /// `offsets[i]` bytes past the start of its allocation (missing offsets are 0): how the
    /// tests hand a kernel operands that are not 16-byte aligned, as an offset pointer into a
    /// larger allocation would be on the GPU.
    pub fn launch_at(
        &self,
        kernel: KernelRef,
        cfg: LaunchConfig,
        args: &[KArg],
        offsets: &[usize],
    ) -> Result<(), DeviceError> {
        let signature = self.entries.get(kernel.entry).ok_or_else(|| {
            DeviceError(format!(
                "emulator: no kernel entry {} (module {})",
                kernel.entry, kernel.module
            ))
        })?;
        let (gx, gy, gz) = cfg.grid;
        let (bx, by, bz) = cfg.block;
        let threads = bx as u64 * by as u64 * bz as u64;
        if bx == 0 || by == 0 || bz == 0 || threads > 1024 || bz > 64 {
            return Err(DeviceError(format!(
                "{}: invalid block {bx}x{by}x{bz} (at most 1024 threads)",
                kernel.entry
            )));
        }
        if gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535 {
            return Err(DeviceError(format!(
                "{}: invalid grid {gx}x{gy}x{gz}",
                kernel.entry
            )));
        }
        if cfg.shared_bytes > MAX_SHARED_BYTES {
            return Err(DeviceError(format!(
                "{}: {} bytes of dynamic shared memory requested (max {MAX_SHARED_BYTES})",
                kernel.entry, cfg.shared_bytes
            )));
        }
        if signature.len() != args.len() {
            return Err(DeviceError(format!(
                "{}: takes {} arguments ({signature}), {} given",
                kernel.entry,
                signature.len(),
                args.len()
            )));
        }

        // Hold the buffer table for the whole launch: no buffer can be freed under the kernel.
        let mut st = self.lock();
        let mut values = vec![[0u8; 8]; args.len()];
        for (i, (arg, kind)) in args.iter().zip(signature.chars()).enumerate() {
            let bytes: [u8; 8] = match (arg, kind) {
                (KArg::Buf(b) | KArg::BufAt(b, _), 'p') => {
                    let s = st
                        .device
                        .get_mut(&b.id)
                        .ok_or_else(|| missing("device", b.id))?;
                    let offset = match arg {
                        KArg::BufAt(_, o) => *o,
                        _ => offsets.get(i).copied().unwrap_or(0),
                    };
                    if offset > s.bytes {
                        return Err(DeviceError(format!(
                            "{}: argument {i} is offset {offset} bytes into a {}-byte buffer",
                            kernel.entry, s.bytes
                        )));
                    }
                    (s.addr() + offset as u64).to_ne_bytes()
                }
                (KArg::I32(v), 'i' | 'u') => pad(&v.to_ne_bytes()),
                (KArg::I64(v), 'l' | 'L') => v.to_ne_bytes(),
                (KArg::F32(v), 'f') => pad(&v.to_ne_bytes()),
                (KArg::F64(v), 'd') => v.to_ne_bytes(),
                (arg, kind) => {
                    return Err(DeviceError(format!(
                        "{}: argument {i} is {arg:?} but the kernel expects {}",
                        kernel.entry,
                        kind_name(kind)
                    )))
                }
            };
            values[i] = bytes;
        }
        let mut params: Vec<*mut c_void> = values
            .iter_mut()
            .map(|v| v.as_mut_ptr() as *mut c_void)
            .collect();
        let name = CString::new(kernel.entry).map_err(|_| DeviceError("bad entry name".into()))?;
        // SAFETY: `params` points at one 8-byte value per declared parameter, of the declared
        // kind (checked above); pointer arguments are live allocations, kept alive by `st`.
        let rc =
            unsafe { ffi::emu_launch(name.as_ptr(), gx, gy, gz, bx, by, bz, params.as_mut_ptr()) };
        drop(st);
        match rc {
            0 => Ok(()),
            1 => Err(DeviceError(format!(
                "emulator: no kernel entry {}",
                kernel.entry
            ))),
            2 => Err(DeviceError(format!("{}: invalid block", kernel.entry))),
            3 => Err(DeviceError(format!("{}: invalid grid", kernel.entry))),
            5 => Err(DeviceError(format!(
                "{}: the host could not start {threads} threads for a block",
                kernel.entry
            ))),
            other => Err(DeviceError(format!(
                "{}: emulated launch failed ({other})",
                kernel.entry
            ))),
        }
    }

    /// Number of live device allocations (for leak checks in tests).
    pub fn live_buffers(&self) -> usize {
        self.lock().device.len()
    }

    /// Number of live pinned allocations.
    pub fn live_pinned(&self) -> usize {
        self.lock().pinned.len()
    }
}

fn missing(what: &str, id: u64) -> DeviceError {
    DeviceError(format!(
        "emulator: no {what} buffer with id {id} (freed or foreign)"
    ))
}

fn host_memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    let total = field("MemTotal:").unwrap_or(8 << 30);
    let free = field("MemAvailable:").unwrap_or(total / 2);
    (total, free)
}

impl KernelDevice for EmuDevice {
    fn props(&self) -> DeviceProps {
        let (total, free) = host_memory();
        DeviceProps {
            name: "CPU emulator".to_string(),
            sm_count: 2,
            l2_bytes: 64 * 1024,
            total_memory: total,
            free_memory: free,
            compute_capability: self.compute_capability,
        }
    }

    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
        let storage = Storage::new(bytes)?;
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.device.insert(id, storage);
        Ok(DevBuf { id, bytes })
    }

    fn free(&self, buf: DevBuf) {
        self.lock().device.remove(&buf.id);
    }

    fn upload(&self, dst: DevBuf, src: &[u8]) -> Result<(), DeviceError> {
        let mut st = self.lock();
        let s = st
            .device
            .get_mut(&dst.id)
            .ok_or_else(|| missing("device", dst.id))?;
        if src.len() > s.bytes {
            return Err(DeviceError(format!(
                "upload of {} bytes into a {}-byte buffer",
                src.len(),
                s.bytes
            )));
        }
        s.as_mut_slice()[..src.len()].copy_from_slice(src);
        Ok(())
    }

    fn download(&self, src: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        let st = self.lock();
        let s = st
            .device
            .get(&src.id)
            .ok_or_else(|| missing("device", src.id))?;
        if dst.len() > s.bytes {
            return Err(DeviceError(format!(
                "download of {} bytes from a {}-byte buffer",
                dst.len(),
                s.bytes
            )));
        }
        dst.copy_from_slice(&s.as_slice()[..dst.len()]);
        Ok(())
    }

    fn launch(
        &self,
        kernel: KernelRef,
        cfg: LaunchConfig,
        args: &[KArg],
    ) -> Result<(), DeviceError> {
        self.launch_at(kernel, cfg, args, &[])
    }

    fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError> {
        let storage = Storage::new(bytes)?;
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.pinned.insert(id, storage);
        Ok(PinnedBuf { id, bytes })
    }

    fn free_pinned(&self, buf: PinnedBuf) {
        self.lock().pinned.remove(&buf.id);
    }

    fn write_pinned(&self, dst: PinnedBuf, src: &[u8]) -> Result<(), DeviceError> {
        let mut st = self.lock();
        let s = st
            .pinned
            .get_mut(&dst.id)
            .ok_or_else(|| missing("pinned", dst.id))?;
        if src.len() > s.bytes {
            return Err(DeviceError(format!(
                "write of {} bytes into a {}-byte pinned buffer",
                src.len(),
                s.bytes
            )));
        }
        s.as_mut_slice()[..src.len()].copy_from_slice(src);
        Ok(())
    }

    fn read_pinned(&self, src: PinnedBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        let st = self.lock();
        let s = st
            .pinned
            .get(&src.id)
            .ok_or_else(|| missing("pinned", src.id))?;
        if dst.len() > s.bytes {
            return Err(DeviceError(format!(
                "read of {} bytes from a {}-byte pinned buffer",
                dst.len(),
                s.bytes
            )));
        }
        dst.copy_from_slice(&s.as_slice()[..dst.len()]);
        Ok(())
    }

    fn copy_h2d(&self, src: PinnedBuf, dst: DevBuf) -> Result<(), DeviceError> {
        let mut st = self.lock();
        let st = &mut *st;
        let s = st
            .pinned
            .get(&src.id)
            .ok_or_else(|| missing("pinned", src.id))?;
        let d = st
            .device
            .get_mut(&dst.id)
            .ok_or_else(|| missing("device", dst.id))?;
        if s.bytes > d.bytes {
            return Err(DeviceError(format!(
                "copy of {} bytes into a {}-byte device buffer",
                s.bytes, d.bytes
            )));
        }
        d.as_mut_slice()[..s.bytes].copy_from_slice(s.as_slice());
        Ok(())
    }

    fn copy_d2h(&self, src: DevBuf, dst: PinnedBuf) -> Result<(), DeviceError> {
        let mut st = self.lock();
        let st = &mut *st;
        let s = st
            .device
            .get(&src.id)
            .ok_or_else(|| missing("device", src.id))?;
        let d = st
            .pinned
            .get_mut(&dst.id)
            .ok_or_else(|| missing("pinned", dst.id))?;
        if s.bytes > d.bytes {
            return Err(DeviceError(format!(
                "copy of {} bytes into a {}-byte pinned buffer",
                s.bytes, d.bytes
            )));
        }
        d.as_mut_slice()[..s.bytes].copy_from_slice(s.as_slice());
        Ok(())
    }

    fn synchronize(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn timer_start(&self) -> Result<(), DeviceError> {
        self.lock().timer = Some(Instant::now());
        Ok(())
    }

    fn timer_stop(&self) -> Result<f64, DeviceError> {
        let start = self
            .lock()
            .timer
            .take()
            .ok_or_else(|| DeviceError("timer_stop without timer_start".into()))?;
        Ok(start.elapsed().as_secs_f64())
    }
}

fn pad(b: &[u8; 4]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(b);
    out
}

fn kind_name(kind: char) -> &'static str {
    match kind {
        'p' => "a pointer (KArg::Buf)",
        'i' => "an int (KArg::I32)",
        'u' => "an unsigned int (KArg::I32)",
        'l' => "a long long (KArg::I64)",
        'L' => "an unsigned long long (KArg::I64)",
        'f' => "a float (KArg::F32)",
        'd' => "a double (KArg::F64)",
        _ => "an unsupported type",
    }
}
