//! The driver's state: contexts, streams, events, modules, functions, device allocations and
//! pinned host memory, behind one lock, and the handles that name them.
//!
//! Handles are opaque numbers, never pointers into this library: `(kind << 48) | id`, so a
//! stream passed where an event is expected is recognised as a bad handle, and a stale handle
//! is just an id that is no longer in its table (CUDA_ERROR_INVALID_HANDLE /
//! CUDA_ERROR_INVALID_CONTEXT, never a crash).
//!
//! Device memory lives at simulated device addresses: GPU `d` allocates upward from
//! `0x2_0000_0000 + d·2^40`, each allocation 256-byte aligned and followed by a 64 KiB gap, so
//! an access just past the end of one allocation touches no other and is an illegal address.
//! Addresses are not reused while live. Each allocation is backed by an anonymous
//! `MAP_NORESERVE` mapping, zero until touched, so a 24 GB model does not use 24 GB of RAM.
//!
//! Heavy work (a kernel, a large copy) runs outside the lock: the caller takes what it needs
//! (the allocations it touches, as `Arc`s that keep their memory mapped) and comes back to
//! advance the clocks.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cudarc::driver::sys::{CUcontext, CUevent, CUfunction, CUmodule, CUresult, CUstream};

use super::shared::{machine, Gpu, Machine};
use super::CuResult;
use crate::ptx;

/// Where GPU 0's allocations start.
pub const DEVICE_ADDRESS_BASE: u64 = 0x2_0000_0000;
/// The address window of each GPU.
pub const DEVICE_ADDRESS_SPAN: u64 = 1 << 40;
/// Alignment of every device allocation.
pub const ALLOC_ALIGN: u64 = 256;
/// Unused addresses after every allocation.
pub const GUARD_BYTES: u64 = 64 << 10;

/// `CU_STREAM_LEGACY`.
pub const STREAM_LEGACY: usize = 0x1;
/// `CU_STREAM_PER_THREAD`.
pub const STREAM_PER_THREAD: usize = 0x2;
/// `CU_STREAM_NON_BLOCKING`.
pub const STREAM_NON_BLOCKING: u32 = 0x1;

/// The kinds of handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Kind {
    Context = 0x1c,
    Stream = 0x2c,
    Event = 0x3c,
    Module = 0x4c,
    Function = 0x5c,
}

const KIND_SHIFT: u32 = 48;

/// The handle of `id` of `kind`.
pub fn handle(kind: Kind, id: u64) -> usize {
    (((kind as u64) << KIND_SHIFT) | id) as usize
}

/// The id in a handle of `kind`, or None when it is not one.
pub fn id_of(kind: Kind, h: usize) -> Option<u64> {
    let h = h as u64;
    (h >> KIND_SHIFT == kind as u64 && h & ((1 << KIND_SHIFT) - 1) != 0)
        .then_some(h & ((1 << KIND_SHIFT) - 1))
}

pub fn ctx_handle(id: u64) -> CUcontext {
    handle(Kind::Context, id) as CUcontext
}
pub fn stream_handle(id: u64) -> CUstream {
    handle(Kind::Stream, id) as CUstream
}
pub fn event_handle(id: u64) -> CUevent {
    handle(Kind::Event, id) as CUevent
}
pub fn module_handle(id: u64) -> CUmodule {
    handle(Kind::Module, id) as CUmodule
}
pub fn function_handle(id: u64) -> CUfunction {
    handle(Kind::Function, id) as CUfunction
}

/// A CUDA context.
#[derive(Debug)]
pub struct Ctx {
    pub device: usize,
    pub primary: bool,
    /// Retain count of a primary context.
    pub retain: u32,
    /// A primary context is active while retained; a created one from creation to destroy.
    pub active: bool,
    pub flags: u32,
    /// cuCtxSetLimit values by CUlimit.
    pub limits: HashMap<i32, u64>,
    /// Contexts whose memory this one may access (cuCtxEnablePeerAccess).
    pub peers: BTreeSet<u64>,
    /// The legacy default stream's clock, seconds.
    pub legacy_clock: f64,
    /// The per-thread default stream's clock (one for all threads).
    pub per_thread_clock: f64,
    pub cache_config: i32,
}

impl Ctx {
    fn new(device: usize, primary: bool) -> Ctx {
        Ctx {
            device,
            primary,
            retain: 0,
            active: !primary,
            flags: 0,
            limits: HashMap::new(),
            peers: BTreeSet::new(),
            legacy_clock: 0.0,
            per_thread_clock: 0.0,
            cache_config: 0,
        }
    }
}

/// A created stream.
#[derive(Debug)]
pub struct Stream {
    pub ctx: u64,
    pub flags: u32,
    pub priority: i32,
    pub clock: f64,
}

/// An event.
#[derive(Debug)]
pub struct Event {
    pub ctx: u64,
    pub flags: u32,
    /// The simulated time it was last recorded at.
    pub time: Option<f64>,
}

/// A loaded module.
pub struct ModuleRec {
    pub ctx: u64,
    pub module: Arc<ptx::Module>,
    /// (name, device address, size) of each module variable.
    pub vars: Vec<(String, u64, u64)>,
    /// Functions handed out, by entry name.
    pub functions: HashMap<String, u64>,
    pub const_bytes: u64,
}

/// A function handed out by cuModuleGetFunction.
pub struct FunctionRec {
    pub ctx: u64,
    pub module: u64,
    pub kernel: Arc<ptx::Kernel>,
    /// Raised by cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES); None = not raised.
    pub max_dynamic_shared: Option<u32>,
    pub carveout: i32,
    pub isa: (u32, u32),
    pub target_sm: u32,
    pub const_bytes: u64,
}

/// One device allocation: `size` bytes at device address `base`, stored at `ptr`.
#[derive(Debug)]
pub struct Allocation {
    pub base: u64,
    pub size: u64,
    /// What it counts against the device's memory (size rounded up to 256).
    pub charged: u64,
    pub ptr: *mut u8,
    map_len: usize,
    pub device: usize,
    pub ctx: u64,
    /// Module `.const` memory: read-only to kernels.
    pub read_only: bool,
}

// SAFETY: the mapping is owned by the allocation and freed only when the last Arc goes; kernel
// and copy code write it through raw pointers as a GPU's threads would.
unsafe impl Send for Allocation {}
unsafe impl Sync for Allocation {}

impl Drop for Allocation {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` are exactly what mmap returned, unmapped once, here.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.map_len) };
    }
}

/// Forces the stuck bit `cell` where it lies in `a` (after the driver wrote into `a`: a new
/// allocation, a copy, a memset), so that it reads constant.
pub fn force_stuck(a: &Allocation, cell: Option<crate::exec::StuckCell>) {
    let Some(c) = cell else { return };
    let Some(off) = c.address.checked_sub(a.base).filter(|o| *o < a.size) else {
        return;
    };
    // SAFETY: off < size, within the mapping the allocation owns.
    unsafe { c.force(a.ptr.add(off as usize)) };
}

/// Maps `len` bytes of zeroed, lazily backed memory; None when the host refuses.
pub fn map_zeroed(len: usize, noreserve: bool) -> Option<(*mut u8, usize)> {
    let map_len = len.max(1);
    let flags =
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | if noreserve { libc::MAP_NORESERVE } else { 0 };
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing; the result
    // is checked against MAP_FAILED before use.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            map_len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    (p != libc::MAP_FAILED).then_some((p as *mut u8, map_len))
}

/// Page-locked ("pinned") host memory from cuMemHostAlloc: real host memory, page aligned.
#[derive(Debug)]
pub struct Pinned {
    pub ptr: usize,
    pub len: usize,
    map_len: usize,
    pub ctx: u64,
    pub flags: u32,
}

impl Pinned {
    pub fn new(len: usize, ctx: u64, flags: u32) -> Option<Pinned> {
        let (p, map_len) = map_zeroed(len, false)?;
        Some(Pinned {
            ptr: p as usize,
            len,
            map_len,
            ctx,
            flags,
        })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.map_len) };
    }
}

/// The allocations and address cursor of one GPU.
#[derive(Debug)]
pub struct DevMem {
    next: u64,
    start: u64,
    end: u64,
    pub allocs: BTreeMap<u64, Arc<Allocation>>,
    /// The `stuck-bit` fault's cell once its word has an address (a fixed address from the
    /// start; `any`: in the largest allocation so far, whose size is the second field).
    pub stuck: Option<(crate::exec::StuckCell, u64)>,
}

/// Where a stream-ordered operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The legacy default stream (NULL or CU_STREAM_LEGACY) of a context.
    Legacy(u64),
    /// CU_STREAM_PER_THREAD of a context.
    PerThread(u64),
    /// A created stream.
    Stream(u64),
}

/// Everything behind the lock.
pub struct Inner {
    next_id: u64,
    pub ctxs: HashMap<u64, Ctx>,
    /// The primary context of each GPU (exists from the start, active while retained).
    pub primary: Vec<u64>,
    pub streams: HashMap<u64, Stream>,
    pub events: HashMap<u64, Event>,
    pub modules: HashMap<u64, ModuleRec>,
    pub functions: HashMap<u64, FunctionRec>,
    pub mem: Vec<DevMem>,
    /// Pinned host allocations by address.
    pub pinned: BTreeMap<usize, Pinned>,
}

/// The driver: the machine and the state.
pub struct Driver {
    pub machine: &'static Machine,
    inner: Mutex<Inner>,
}

static DRIVER: OnceLock<Result<Driver, &'static super::shared::BadMachine>> = OnceLock::new();
static INITIALIZED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's context stack (top = current).
    static CTX_STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn build() -> Result<Driver, &'static super::shared::BadMachine> {
    let machine = machine()?;
    let n = machine.gpus.len();
    let mut inner = Inner {
        next_id: 1,
        ctxs: HashMap::new(),
        primary: Vec::with_capacity(n),
        streams: HashMap::new(),
        events: HashMap::new(),
        modules: HashMap::new(),
        functions: HashMap::new(),
        mem: (0..n)
            .map(|d| {
                let start = DEVICE_ADDRESS_BASE + d as u64 * DEVICE_ADDRESS_SPAN;
                DevMem {
                    next: start,
                    start,
                    end: start + DEVICE_ADDRESS_SPAN - (1 << 32),
                    allocs: BTreeMap::new(),
                    stuck: None,
                }
            })
            .collect(),
        pinned: BTreeMap::new(),
    };
    for d in 0..n {
        let id = inner.new_id();
        inner.ctxs.insert(id, Ctx::new(d, true));
        inner.primary.push(id);
    }
    Ok(Driver {
        machine,
        inner: Mutex::new(inner),
    })
}

/// `cuInit`: builds the driver (once) and marks it initialised.
pub fn init() -> CuResult<&'static Driver> {
    let d = DRIVER
        .get_or_init(build)
        .as_ref()
        .map_err(|_| CUresult::CUDA_ERROR_INVALID_VALUE)?;
    INITIALIZED.store(true, Ordering::Release);
    Ok(d)
}

/// The initialised driver, or CUDA_ERROR_NOT_INITIALIZED before cuInit.
pub fn driver() -> CuResult<&'static Driver> {
    if !INITIALIZED.load(Ordering::Acquire) {
        return Err(CUresult::CUDA_ERROR_NOT_INITIALIZED);
    }
    match DRIVER.get() {
        Some(Ok(d)) => Ok(d),
        _ => Err(CUresult::CUDA_ERROR_NOT_INITIALIZED),
    }
}

/// The calling thread's current context id, unchecked.
pub fn current_id() -> Option<u64> {
    CTX_STACK.with(|s| s.borrow().last().copied())
}

/// Replaces the top of this thread's stack (cuCtxSetCurrent); None pops.
pub fn set_current(id: Option<u64>) {
    CTX_STACK.with(|s| {
        let mut s = s.borrow_mut();
        match id {
            Some(id) => match s.last_mut() {
                Some(top) => *top = id,
                None => s.push(id),
            },
            None => {
                s.pop();
            }
        }
    })
}

/// Pushes onto this thread's stack.
pub fn push_current(id: u64) {
    CTX_STACK.with(|s| s.borrow_mut().push(id))
}

/// Pops this thread's stack.
pub fn pop_current() -> Option<u64> {
    CTX_STACK.with(|s| s.borrow_mut().pop())
}

/// Removes `id` from this thread's stack (a destroyed context).
pub fn forget_current(id: u64) {
    CTX_STACK.with(|s| s.borrow_mut().retain(|&c| c != id))
}

impl Driver {
    /// The state, whatever a panicking holder left behind (every update keeps it consistent).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// GPU `d`.
    pub fn gpu(&self, d: usize) -> &'static Gpu {
        &self.machine.gpus[d]
    }

    /// A device ordinal as CUdevice, checked.
    pub fn device(&self, dev: i32) -> CuResult<usize> {
        if dev < 0 || dev as usize >= self.machine.gpus.len() {
            Err(CUresult::CUDA_ERROR_INVALID_DEVICE)
        } else {
            Ok(dev as usize)
        }
    }

    /// The device's sticky error, if any.
    pub fn sticky(&self, d: usize) -> CuResult {
        match self.gpu(d).sticky.load(Ordering::Acquire) {
            0 => Ok(()),
            code => Err(sticky_code(code)),
        }
    }

    /// Makes `code` the device's sticky error (the first one stays).
    pub fn set_sticky(&self, d: usize, code: CUresult) {
        let _ = self.gpu(d).sticky.compare_exchange(
            0,
            code as u32,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

/// The CUresult of a stored sticky error.
fn sticky_code(v: u32) -> CUresult {
    use CUresult as R;
    match v {
        700 => R::CUDA_ERROR_ILLEGAL_ADDRESS,
        716 => R::CUDA_ERROR_MISALIGNED_ADDRESS,
        719 => R::CUDA_ERROR_LAUNCH_FAILED,
        715 => R::CUDA_ERROR_ILLEGAL_INSTRUCTION,
        214 => R::CUDA_ERROR_ECC_UNCORRECTABLE,
        _ => R::CUDA_ERROR_UNKNOWN,
    }
}

impl Inner {
    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The current context, checked: CUDA_ERROR_INVALID_CONTEXT when there is none or it was
    /// destroyed or released.
    pub fn current(&self) -> CuResult<u64> {
        let id = current_id().ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
        self.live_ctx(id)?;
        Ok(id)
    }

    /// A context that exists and is active.
    pub fn live_ctx(&self, id: u64) -> CuResult<&Ctx> {
        match self.ctxs.get(&id) {
            Some(c) if c.active => Ok(c),
            _ => Err(CUresult::CUDA_ERROR_INVALID_CONTEXT),
        }
    }

    /// A context handle from the caller, checked.
    pub fn ctx_from_handle(&self, h: CUcontext) -> CuResult<u64> {
        let id = id_of(Kind::Context, h as usize).ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
        self.live_ctx(id)?;
        Ok(id)
    }

    /// Where an operation on stream `h` goes, and its context.
    pub fn target(&self, h: CUstream) -> CuResult<(u64, Target)> {
        match h as usize {
            0 | STREAM_LEGACY => {
                let c = self.current()?;
                Ok((c, Target::Legacy(c)))
            }
            STREAM_PER_THREAD => {
                let c = self.current()?;
                Ok((c, Target::PerThread(c)))
            }
            raw => {
                let id = id_of(Kind::Stream, raw).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
                let s = self
                    .streams
                    .get(&id)
                    .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
                self.live_ctx(s.ctx)?;
                Ok((s.ctx, Target::Stream(id)))
            }
        }
    }

    /// When work enqueued on `t` now would start: after everything before it on the stream,
    /// and, between the legacy default stream and blocking streams, after each other's work.
    pub fn start_of(&self, t: Target) -> f64 {
        match t {
            Target::Legacy(c) => {
                let ctx = &self.ctxs[&c];
                self.streams
                    .values()
                    .filter(|s| s.ctx == c && s.flags & STREAM_NON_BLOCKING == 0)
                    .map(|s| s.clock)
                    .fold(ctx.legacy_clock.max(ctx.per_thread_clock), f64::max)
            }
            Target::PerThread(c) => {
                let ctx = &self.ctxs[&c];
                ctx.per_thread_clock.max(ctx.legacy_clock)
            }
            Target::Stream(id) => {
                let s = &self.streams[&id];
                if s.flags & STREAM_NON_BLOCKING == 0 {
                    s.clock.max(self.ctxs[&s.ctx].legacy_clock)
                } else {
                    s.clock
                }
            }
        }
    }

    /// Sets `t`'s clock to `time`.
    pub fn set_clock(&mut self, t: Target, time: f64) {
        match t {
            Target::Legacy(c) => {
                if let Some(ctx) = self.ctxs.get_mut(&c) {
                    ctx.legacy_clock = time;
                }
            }
            Target::PerThread(c) => {
                if let Some(ctx) = self.ctxs.get_mut(&c) {
                    ctx.per_thread_clock = time;
                }
            }
            Target::Stream(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.clock = time;
                }
            }
        }
    }

    /// Enqueues an operation of `seconds` on `t`: returns (start, end) and advances the clock.
    pub fn enqueue(&mut self, t: Target, seconds: f64) -> (f64, f64) {
        let start = self.start_of(t);
        let end = start + seconds;
        self.set_clock(t, end);
        (start, end)
    }

    /// The allocation that holds `[addr, addr + len)` entirely, on any GPU.
    pub fn find_alloc(&self, addr: u64, len: u64) -> Option<Arc<Allocation>> {
        for m in &self.mem {
            if addr < m.start || addr >= m.end + (1 << 32) {
                continue;
            }
            let (_, a) = m.allocs.range(..=addr).next_back()?;
            let end = addr.checked_add(len)?;
            if addr >= a.base && end <= a.base + a.size {
                return Some(a.clone());
            }
            return None;
        }
        None
    }

    /// The allocation that starts exactly at `base`.
    pub fn alloc_at(&self, base: u64) -> Option<Arc<Allocation>> {
        self.mem.iter().find_map(|m| m.allocs.get(&base).cloned())
    }

    /// Whether `[p, p + len)` lies in pinned host memory.
    pub fn is_pinned(&self, p: usize, len: usize) -> bool {
        self.pinned
            .range(..=p)
            .next_back()
            .is_some_and(|(_, a)| p >= a.ptr && p.saturating_add(len) <= a.ptr + a.len)
    }

    /// Allocates `size` bytes of device memory on `gpu` for context `ctx`.
    pub fn allocate(
        &mut self,
        gpu: &Gpu,
        ctx: u64,
        size: u64,
        read_only: bool,
    ) -> CuResult<Arc<Allocation>> {
        if size == 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let charged = size
            .checked_add(ALLOC_ALIGN - 1)
            .ok_or(CUresult::CUDA_ERROR_OUT_OF_MEMORY)?
            & !(ALLOC_ALIGN - 1);
        let used = gpu.used_bytes.load(Ordering::Relaxed);
        let capacity = gpu.model.memory.total_bytes - gpu.model.memory.context_reserved_bytes;
        let limit = match gpu.faults.oom_after {
            Some(b) => b.min(capacity),
            None => capacity,
        };
        if used.saturating_add(charged) > limit {
            return Err(CUresult::CUDA_ERROR_OUT_OF_MEMORY);
        }
        let len = usize::try_from(size).map_err(|_| CUresult::CUDA_ERROR_OUT_OF_MEMORY)?;
        let d = gpu.index;
        let base = self.mem[d]
            .place(charged)
            .ok_or(CUresult::CUDA_ERROR_OUT_OF_MEMORY)?;
        let (ptr, map_len) = map_zeroed(len, true).ok_or(CUresult::CUDA_ERROR_OUT_OF_MEMORY)?;
        let a = Arc::new(Allocation {
            base,
            size,
            charged,
            ptr,
            map_len,
            device: d,
            ctx,
            read_only,
        });
        self.mem[d].allocs.insert(base, a.clone());
        gpu.used_bytes.fetch_add(charged, Ordering::Relaxed);
        if let Some(s) = gpu.faults.stuck_bit {
            let m = &mut self.mem[d];
            match s.address {
                Some(word) => m.stuck = Some((s.cell(word), 0)),
                None if m.stuck.is_none_or(|(_, held)| size > held) => {
                    m.stuck = Some((s.cell(base + ((size / 2) & !7)), size));
                }
                None => {}
            }
            force_stuck(&a, self.stuck_cell(d));
        }
        Ok(a)
    }

    /// GPU `d`'s stuck bit (the `stuck-bit` fault), once it has an address.
    pub fn stuck_cell(&self, d: usize) -> Option<crate::exec::StuckCell> {
        self.mem.get(d).and_then(|m| m.stuck).map(|(c, _)| c)
    }

    /// Frees the allocation at `base` (CUDA_ERROR_INVALID_VALUE when there is none).
    pub fn free(&mut self, machine: &Machine, base: u64) -> CuResult {
        for (d, m) in self.mem.iter_mut().enumerate() {
            if let Some(a) = m.allocs.remove(&base) {
                machine.gpus[d]
                    .used_bytes
                    .fetch_sub(a.charged, Ordering::Relaxed);
                return Ok(());
            }
        }
        Err(CUresult::CUDA_ERROR_INVALID_VALUE)
    }

    /// Frees everything a context owns and forgets its streams, events, modules and peers.
    pub fn release_resources(&mut self, machine: &Machine, ctx: u64) {
        self.streams.retain(|_, s| s.ctx != ctx);
        self.events.retain(|_, e| e.ctx != ctx);
        self.functions.retain(|_, f| f.ctx != ctx);
        self.modules.retain(|_, m| m.ctx != ctx);
        for (d, m) in self.mem.iter_mut().enumerate() {
            let gone: Vec<u64> = m
                .allocs
                .values()
                .filter(|a| a.ctx == ctx)
                .map(|a| a.base)
                .collect();
            for b in gone {
                if let Some(a) = m.allocs.remove(&b) {
                    machine.gpus[d]
                        .used_bytes
                        .fetch_sub(a.charged, Ordering::Relaxed);
                }
            }
        }
        self.pinned.retain(|_, p| p.ctx != ctx);
        for c in self.ctxs.values_mut() {
            c.peers.remove(&ctx);
        }
        if let Some(c) = self.ctxs.get_mut(&ctx) {
            c.peers.clear();
        }
    }

    /// The memory map of a launch in `ctx`: its allocations (and module variables) and those of
    /// the contexts it has peer access to, sorted by address; and the allocations themselves,
    /// which the caller keeps until the launch is over.
    pub fn memory_map(&self, ctx: u64) -> (crate::exec::MemoryMap, Vec<Arc<Allocation>>) {
        let mut owners: BTreeSet<u64> = BTreeSet::new();
        owners.insert(ctx);
        if let Some(c) = self.ctxs.get(&ctx) {
            owners.extend(c.peers.iter().copied());
        }
        let mut keep: Vec<Arc<Allocation>> = self
            .mem
            .iter()
            .flat_map(|m| m.allocs.values())
            .filter(|a| owners.contains(&a.ctx))
            .cloned()
            .collect();
        keep.sort_by_key(|a| a.base);
        let regions = keep
            .iter()
            .map(|a| crate::exec::Region {
                base: a.base,
                len: a.size,
                ptr: a.ptr,
                read_only: a.read_only,
            })
            .collect();
        (crate::exec::MemoryMap { regions }, keep)
    }
}

impl DevMem {
    /// A base address for `charged` bytes: the next one up, or, once the window is used up,
    /// the first gap between live allocations that fits (with its guard).
    fn place(&mut self, charged: u64) -> Option<u64> {
        let need = charged.checked_add(GUARD_BYTES)?;
        if self.next.checked_add(need)? <= self.end {
            let base = self.next;
            self.next += need;
            return Some(base);
        }
        let mut cursor = self.start;
        for a in self.allocs.values() {
            if a.base >= cursor && a.base - cursor >= need {
                return Some(cursor);
            }
            cursor = cursor.max(a.base + a.charged + GUARD_BYTES);
        }
        (self.end.checked_sub(cursor)? >= need).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_refuse_other_kinds() {
        let h = handle(Kind::Stream, 42);
        assert_eq!(id_of(Kind::Stream, h), Some(42));
        assert_eq!(id_of(Kind::Event, h), None);
        assert_eq!(id_of(Kind::Stream, 0), None);
        assert_eq!(id_of(Kind::Stream, 1), None);
        assert_eq!(id_of(Kind::Stream, handle(Kind::Stream, 0)), None);
    }

    #[test]
    fn addresses_are_aligned_guarded_and_fall_back_to_gaps() {
        let mut m = DevMem {
            next: 0x1000,
            start: 0x1000,
            end: 0x1000 + 4 * (GUARD_BYTES + 256),
            allocs: BTreeMap::new(),
            stuck: None,
        };
        let a = m.place(256).unwrap();
        let b = m.place(256).unwrap();
        assert_eq!(a % ALLOC_ALIGN, 0);
        assert_eq!(b - a, 256 + GUARD_BYTES);
        m.place(256).unwrap();
        m.place(256).unwrap();
        // The window is used up and nothing was freed (no allocs recorded here): the gap
        // search finds the whole window free again.
        assert_eq!(m.place(256), Some(0x1000));
    }

    #[test]
    fn zeroed_mappings_are_lazy_and_large() {
        let (p, len) = map_zeroed(32 << 30, true).expect("a 32 GiB NORESERVE mapping");
        // SAFETY: within the mapping.
        unsafe {
            assert_eq!(*p.add(12345), 0);
            *p.add((16 << 30) + 7) = 3;
            assert_eq!(*p.add((16 << 30) + 7), 3);
            libc::munmap(p as *mut libc::c_void, len);
        }
    }
}
