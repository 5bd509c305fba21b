//! GEMM autotuning on the device: on first use, every variant of a family (precision and math:
//! CUDA cores or tensor cores) that the device can run is timed on a representative size of each
//! size class, verified, and the fastest verified one is kept.
//!
//! Results are cached in a JSON file keyed by GPU UUID, driver version and a hash of the embedded
//! PTX, so a new driver or new kernels re-tune by themselves; `--retune` forces it. The table goes
//! into the report, so every GEMM number names the variant that produced it and why it was chosen.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::kernels::{gemm_variants_for, GemmKernel, MODULES};
pub use crate::model::tuning::{Candidate, SizeClass, TuningEntry, TuningKey, TuningTable};
use crate::model::{DeviceInfo, VerifyStatus};
use crate::workload::device::{DeviceProps, KernelDevice};
use crate::workload::gemm::{gemm_device_bytes, prepare_gemm_with};
use crate::workload::{GemmMath, Precision, WorkloadSpec};

impl TuningKey {
    pub fn for_device(d: &DeviceInfo) -> Self {
        TuningKey {
            gpu_uuid: d.uuid.clone(),
            gpu_name: d.name.clone(),
            driver_cuda_version: d.driver_cuda_version,
            ptx_hash: ptx_hash(),
        }
    }
}

/// FNV-1a 64 over every embedded PTX module.
pub fn ptx_hash() -> String {
    let h = crate::util::fnv1a64(
        MODULES
            .iter()
            .flat_map(|m| m.name.bytes().chain(m.target.bytes()).chain(m.ptx.bytes())),
    );
    format!("{h:016x}")
}

/// Where the cache lives: `$GPUGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/gpugate`, else
/// `$HOME/.cache/gpugate`; the file is `tuning.json`.
pub fn cache_path() -> Option<PathBuf> {
    let dir = std::env::var_os("GPUGATE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("gpugate")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/gpugate")))?;
    Some(dir.join("tuning.json"))
}

/// The cache file's content: one table per key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TuningCache {
    pub tables: Vec<TuningTable>,
}

impl TuningCache {
    /// Reads the cache; a missing or unreadable file is an empty cache (it is only a cache).
    pub fn load(path: &Path) -> TuningCache {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    pub fn find(&self, key: &TuningKey) -> Option<&TuningTable> {
        self.tables.iter().find(|t| &t.key == key)
    }

    /// Replaces the table with the same key (or adds it).
    pub fn put(&mut self, table: &TuningTable) {
        let mut t = table.clone();
        t.entries.iter_mut().for_each(|e| e.from_cache = false);
        self.tables.retain(|x| x.key != t.key);
        self.tables.push(t);
    }

    /// Writes the cache atomically (a temporary file of this process's own, then rename), so
    /// that runs sharing a cache (one per GPU from a scheduler, say) never fail each other: the
    /// last to finish wins, and each reads a whole file.
    pub fn store(&self, path: &Path) -> std::io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| std::io::Error::other("the cache path names no file"))?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomic(dir, name, text.as_bytes()).map(|_| ())
    }
}

/// The table for `key` from the cache (entries marked `from_cache`), or an empty one; with
/// `retune` the cache is ignored.
pub fn cached_or_empty(
    cache: &TuningCache,
    device: u32,
    key: &TuningKey,
    retune: bool,
) -> TuningTable {
    match cache.find(key) {
        Some(t) if !retune => {
            let mut t = t.clone();
            t.device = device;
            t.entries.iter_mut().for_each(|e| e.from_cache = true);
            t
        }
        _ => TuningTable::new(device, key.clone()),
    }
}

impl TuningTable {
    /// Keeps `entry` as the choice for its precision, math and size class, in place of any
    /// earlier one (from the cache, or timed at another size).
    pub fn replace(&mut self, entry: TuningEntry) {
        self.entries.retain(|e| {
            !(e.precision == entry.precision
                && e.math == entry.math
                && e.size_class == entry.size_class)
        });
        self.entries.push(entry);
    }
}

/// One precision, math and size class a run still has to time, and the square size to time it
/// at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneJob {
    pub precision: Precision,
    pub math: GemmMath,
    pub class: SizeClass,
    pub size: usize,
}

/// What a run tunes before it measures `specs` on a device: each precision, math and size class
/// of its GEMMs once, in run order, unless `table` holds a choice timed at the size it would be
/// timed at now. That size is the class's representative shrunk to fit ([`tune_size`]), or,
/// when the user set the GEMM sizes (`user_sizes`), the first of them in the class. A path
/// without a variant in the build loaded (`has_variants` false) is not tuned: its workloads
/// fail with that reason.
pub fn tuning_needed(
    table: &TuningTable,
    specs: &[WorkloadSpec],
    props: &DeviceProps,
    user_sizes: bool,
    has_variants: impl Fn(Precision, GemmMath) -> bool,
) -> Vec<TuneJob> {
    let mut jobs: Vec<TuneJob> = Vec::new();
    for spec in specs {
        let WorkloadSpec::Gemm {
            precision,
            m,
            n,
            k,
            math,
        } = *spec
        else {
            continue;
        };
        if !has_variants(precision, math) {
            continue;
        }
        let class = SizeClass::of(m, n, k);
        let size = if user_sizes {
            m.max(n).max(k)
        } else {
            tune_size(props, precision, class, TuneBudget::default())
        };
        let cached = table
            .entry(precision, math, class)
            .is_some_and(|e| e.size == size);
        let planned = jobs
            .iter()
            .any(|j| (j.precision, j.math, j.class) == (precision, math, class));
        if !cached && !planned {
            jobs.push(TuneJob {
                precision,
                math,
                class,
                size,
            });
        }
    }
    jobs
}

/// How long to time each candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneBudget {
    /// Timed iterations per candidate (after one warm-up launch), at most as many as fit in
    /// `slow_launch` of wall time…
    pub iters: u64,
    /// …unless the warm-up launch alone took longer than this (seconds, device or wall time):
    /// then that one counts.
    pub slow_launch: f64,
    /// Fraction of free device memory a representative GEMM may use.
    pub memory_fraction: f64,
}

/// Why a precision and math could not be tuned. The run then uses the default variant (or
/// fails the workload, when there is none to run) and says why in a note.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TuneError {
    /// The module build the driver let the device load has no variant of this path (the
    /// reason names the build and the driver to install).
    #[error("{0}")]
    BuildNotLoaded(String),
    /// No variant of this precision and math exists for the device's architecture.
    #[error(
        "no {} GEMM variant on the {} runs on compute capability {}.{}",
        precision.as_str(),
        math.label(),
        cc.0,
        cc.1
    )]
    NoVariant {
        precision: Precision,
        math: GemmMath,
        cc: (u32, u32),
    },
    /// Every variant failed to run, gave a wrong result or had no valid time: (variant, why)
    /// for each.
    #[error(
        "no {} GEMM variant on the {} produced a verified, timed result at {size}³: {}",
        precision.as_str(),
        math.label(),
        failures.iter().map(|(v, why)| format!("{v}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    NoneVerified {
        precision: Precision,
        math: GemmMath,
        size: usize,
        failures: Vec<(String, String)>,
    },
    /// The run was asked to stop (SIGINT, SIGTERM).
    #[error("interrupted: the run was asked to stop")]
    Interrupted,
}

impl Default for TuneBudget {
    fn default() -> Self {
        TuneBudget {
            iters: 5,
            slow_launch: 0.25,
            memory_fraction: 0.5,
        }
    }
}

/// Times every variant of `p` and `math` that the device can run on the representative size of
/// `class` (shrunk to fit memory), verifies each, and returns the entry with the fastest
/// verified variant. Err when the device has no such variant, or when none produced a verified
/// result (the errors are in the message).
pub fn tune_class<D: KernelDevice + ?Sized + 'static>(
    dev: &Arc<D>,
    p: Precision,
    math: GemmMath,
    class: SizeClass,
    budget: TuneBudget,
    seed: u64,
) -> Result<TuningEntry, TuneError> {
    let props = dev.props();
    let size = tune_size(&props, p, class, budget);
    tune_class_at(
        dev,
        p,
        math,
        props.compute_capability,
        class,
        size,
        budget,
        seed,
    )
}

/// The square size a class is tuned on by default: its representative, shrunk in steps of 256
/// until the GEMM fits in `budget.memory_fraction` of the device's free memory.
pub fn tune_size(
    props: &crate::workload::device::DeviceProps,
    p: Precision,
    class: SizeClass,
    budget: TuneBudget,
) -> usize {
    let mem = (props.free_memory.min(props.total_memory) as f64 * budget.memory_fraction) as u64;
    let mut size = class.representative();
    while size > 256 && gemm_device_bytes(p, size, size, size) > mem {
        size -= 256;
    }
    size
}

/// [`tune_class`] at a given square size, for a device of compute capability `cc` (normally
/// `dev.props().compute_capability`): the candidates are [`gemm_variants_for`]`(p, math, cc)`
/// that the build of the `gemm` module the device loaded holds (an older driver may have made
/// it load a lower build: its variants only are offered).
#[allow(clippy::too_many_arguments)]
pub fn tune_class_at<D: KernelDevice + ?Sized + 'static>(
    dev: &Arc<D>,
    p: Precision,
    math: GemmMath,
    cc: (u32, u32),
    class: SizeClass,
    size: usize,
    budget: TuneBudget,
    seed: u64,
) -> Result<TuningEntry, TuneError> {
    let loaded = dev.kernel_modules();
    let variants: Vec<GemmKernel> = gemm_variants_for(p, math, cc)
        .into_iter()
        .filter(|v| loaded.has(v.kernel))
        .collect();
    if variants.is_empty() {
        if let Some(why) = loaded.why_no_gemm(p, math) {
            return Err(TuneError::BuildNotLoaded(why));
        }
        return Err(TuneError::NoVariant {
            precision: p,
            math,
            cc,
        });
    }
    let mut candidates = Vec::new();
    for v in variants {
        if crate::stop::requested() {
            return Err(TuneError::Interrupted);
        }
        candidates.push(time_variant(dev, v, size, budget, seed));
    }
    let best = candidates
        .iter()
        .filter(|c| c.verified)
        .filter_map(|c| c.tflops.map(|t| (t, c.variant.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, variant)) => Ok(TuningEntry {
            precision: p,
            math,
            size_class: class,
            size,
            variant,
            candidates,
            from_cache: false,
        }),
        None => Err(TuneError::NoneVerified {
            precision: p,
            math,
            size,
            failures: candidates
                .iter()
                .map(|c| {
                    let why = c.error.as_deref().unwrap_or("wrong result");
                    (c.variant.clone(), why.to_string())
                })
                .collect(),
        }),
    }
}

/// How a candidate whose device time was not a valid time says so.
pub const INVALID_TUNE_TIME: &str = "invalid device time:";

fn time_variant<D: KernelDevice + ?Sized + 'static>(
    dev: &Arc<D>,
    v: GemmKernel,
    size: usize,
    budget: TuneBudget,
    seed: u64,
) -> Candidate {
    let name = v.kernel.entry.to_string();
    let fail = |e: String| Candidate {
        variant: name.clone(),
        tflops: None,
        verified: false,
        error: Some(e),
    };
    let mut t = match prepare_gemm_with(dev.clone(), v, size, size, size, seed) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let t0 = std::time::Instant::now();
    let first = match t.run(1) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let wall = t0.elapsed().as_secs_f64();
    let per_iter = if first.max(wall) > budget.slow_launch {
        first
    } else {
        // As many timed launches as fit in `slow_launch` of wall time, at most `iters`.
        let iters = ((budget.slow_launch / wall.max(1e-9)) as u64).clamp(1, budget.iters);
        match t.run(iters) {
            Ok(s) => s / iters as f64,
            Err(e) => return fail(e.to_string()),
        }
    };
    let verified = match t.verify() {
        Ok(ver) => ver.status == VerifyStatus::Passed,
        Err(e) => return fail(e.to_string()),
    };
    // A device time of zero or less is never a time: no speed, so never the fastest.
    if !super::valid_time(per_iter) {
        return Candidate {
            variant: name,
            tflops: None,
            verified,
            error: Some(format!(
                "{INVALID_TUNE_TIME} {per_iter} s per launch (the timer did not count, or \
                 nothing ran): this variant has no speed to compare"
            )),
        };
    }
    Candidate {
        variant: name,
        tflops: Some(2.0 * (size as f64).powi(3) / per_iter / 1e12),
        verified,
        error: if verified {
            None
        } else {
            Some("wrong result: this variant is never chosen".into())
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm_variants;

    /// Runs sharing one cache file store it at the same moment: every store succeeds, the file
    /// is whole, and no temporary file is left behind. (With one fixed temporary name, one
    /// writer's rename took the other's file away: "No such file or directory".)
    #[test]
    fn concurrent_stores_into_one_cache_never_fail_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tuning.json");
        let cache = TuningCache::default();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| (0..20).map(|_| cache.store(&path)).collect::<Vec<_>>()))
                .collect();
            for h in handles {
                for r in h.join().unwrap() {
                    r.unwrap();
                }
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<TuningCache>(&text).unwrap(), cache);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["tuning.json"], "{left:?}");
    }
    use crate::workload::device::{
        DevBuf, DeviceError, DeviceProps, KArg, KernelRef, LaunchConfig, PinnedBuf,
    };
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A device that runs GEMM launches on the host with a scripted time per entry point, and
    /// can be told to get one entry wrong.
    struct ScriptedGemmDevice {
        bufs: Mutex<HashMap<u64, Vec<u8>>>,
        next: Mutex<u64>,
        seconds_per_launch: HashMap<&'static str, f64>,
        broken: Option<&'static str>,
        clock: Mutex<f64>,
        cc: (u32, u32),
        /// What it says it loaded: by default every build (the tests pass the compute
        /// capability to tune for themselves).
        loads: crate::kernels::KernelSet,
    }

    impl ScriptedGemmDevice {
        fn new(times: &[(&'static str, f64)], broken: Option<&'static str>) -> Self {
            ScriptedGemmDevice {
                bufs: Mutex::default(),
                next: Mutex::new(1),
                seconds_per_launch: times.iter().copied().collect(),
                broken,
                clock: Mutex::new(0.0),
                cc: (5, 2),
                loads: crate::kernels::KernelSet::for_cc((9, 0)),
            }
        }
    }

    fn read<T: Copy + Default>(b: &[u8]) -> Vec<T> {
        let n = b.len() / std::mem::size_of::<T>();
        let mut v = vec![T::default(); n];
        // SAFETY: T is f32/f64 here; lengths match.
        unsafe {
            std::ptr::copy_nonoverlapping(
                b.as_ptr(),
                v.as_mut_ptr() as *mut u8,
                n * std::mem::size_of::<T>(),
            )
        };
        v
    }

    fn gemm<T: Copy + Default + std::ops::Mul<Output = T> + std::ops::Add<Output = T>>(
        m: usize,
        n: usize,
        k: usize,
        a: &[u8],
        b: &[u8],
    ) -> Vec<u8> {
        let (a, b) = (read::<T>(a), read::<T>(b));
        let mut c = vec![T::default(); m * n];
        for i in 0..m {
            for kk in 0..k {
                for j in 0..n {
                    c[i * n + j] = c[i * n + j] + a[i * k + kk] * b[kk * n + j];
                }
            }
        }
        let bytes = std::mem::size_of_val(&c[..]);
        let mut out = vec![0u8; bytes];
        // SAFETY: plain numbers.
        unsafe { std::ptr::copy_nonoverlapping(c.as_ptr() as *const u8, out.as_mut_ptr(), bytes) };
        out
    }

    impl KernelDevice for ScriptedGemmDevice {
        fn kernel_modules(&self) -> crate::kernels::KernelSet {
            self.loads.clone()
        }
        fn props(&self) -> DeviceProps {
            DeviceProps {
                name: "scripted".into(),
                sm_count: 1,
                l2_bytes: 1 << 20,
                total_memory: 1 << 30,
                free_memory: 1 << 30,
                compute_capability: self.cc,
            }
        }
        fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            self.bufs.lock().unwrap().insert(*n, vec![0; bytes]);
            Ok(DevBuf { id: *n, bytes })
        }
        fn free(&self, buf: DevBuf) {
            self.bufs.lock().unwrap().remove(&buf.id);
        }
        fn upload(&self, dst: DevBuf, src: &[u8]) -> Result<(), DeviceError> {
            self.bufs
                .lock()
                .unwrap()
                .get_mut(&dst.id)
                .unwrap()
                .copy_from_slice(src);
            Ok(())
        }
        fn download(&self, src: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
            dst.copy_from_slice(&self.bufs.lock().unwrap()[&src.id]);
            Ok(())
        }
        fn launch(
            &self,
            kernel: KernelRef,
            _cfg: LaunchConfig,
            args: &[KArg],
        ) -> Result<(), DeviceError> {
            let [KArg::I32(m), KArg::I32(n), KArg::I32(k), KArg::Buf(a), KArg::Buf(b), KArg::Buf(c)] =
                args
            else {
                return Err(DeviceError::Invalid("unexpected GEMM arguments".into()));
            };
            let (m, n, k) = (*m as usize, *n as usize, *k as usize);
            let mut bufs = self.bufs.lock().unwrap();
            let mut out = if kernel.entry.starts_with("sgemm") {
                gemm::<f32>(m, n, k, &bufs[&a.id], &bufs[&b.id])
            } else {
                gemm::<f64>(m, n, k, &bufs[&a.id], &bufs[&b.id])
            };
            if self.broken == Some(kernel.entry) || self.broken == Some("*") {
                // A wrong element: flip an exponent bit of C[0,0].
                let size = if kernel.entry.starts_with("sgemm") {
                    4
                } else {
                    8
                };
                out[size - 1] ^= 0x20;
            }
            bufs.insert(c.id, out);
            *self.clock.lock().unwrap() += self
                .seconds_per_launch
                .get(kernel.entry)
                .copied()
                .unwrap_or(1e-3);
            Ok(())
        }
        fn alloc_pinned(&self, _: usize) -> Result<PinnedBuf, DeviceError> {
            Err(DeviceError::Unavailable("no pinned memory".into()))
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
            *self.clock.lock().unwrap() = 0.0;
            Ok(())
        }
        fn timer_stop(&self) -> Result<f64, DeviceError> {
            Ok(*self.clock.lock().unwrap())
        }
    }

    fn small_budget() -> TuneBudget {
        TuneBudget {
            iters: 2,
            slow_launch: 10.0,
            memory_fraction: 0.5,
        }
    }

    /// Representative sizes are large; the tests tune a tiny class by giving it little memory.
    fn tiny_device(
        times: &[(&'static str, f64)],
        broken: Option<&'static str>,
    ) -> Arc<ScriptedGemmDevice> {
        Arc::new(ScriptedGemmDevice::new(times, broken))
    }

    #[test]
    fn the_fastest_verified_variant_wins_and_a_wrong_one_never_does() {
        use GemmMath::{CudaCores, TensorCores};
        for (p, math, cc) in [
            (Precision::F32, CudaCores, (5, 2)),
            (Precision::F64, CudaCores, (5, 2)),
            (Precision::F32, CudaCores, (9, 0)),
            (Precision::F64, CudaCores, (9, 0)),
            (Precision::F64, TensorCores, (8, 0)),
        ] {
            let vs = gemm_variants_for(p, math, cc);
            assert!(
                vs.len() >= 2,
                "{p:?} {math:?} at {cc:?} needs at least two variants to tune"
            );
            let fastest = vs[vs.len() - 1].kernel.entry;
            let second = vs[0].kernel.entry;
            let mut times: Vec<(&'static str, f64)> =
                vs.iter().map(|v| (v.kernel.entry, 3e-3)).collect();
            times.iter_mut().for_each(|t| {
                if t.0 == fastest {
                    t.1 = 1e-3
                } else if t.0 == second {
                    t.1 = 2e-3
                }
            });
            let tune = |dev: &Arc<ScriptedGemmDevice>| {
                tune_class_at(dev, p, math, cc, SizeClass::Small, 48, small_budget(), 1).unwrap()
            };
            // Correct everywhere: the fastest wins, among variants of this math only.
            let dev = tiny_device(&times, None);
            let e = tune(&dev);
            assert_eq!(e.variant, fastest);
            assert_eq!((e.precision, e.math), (p, math));
            assert_eq!(e.candidates.len(), vs.len());
            assert!(e.candidates.iter().all(|c| c.verified));
            for c in &e.candidates {
                let v = crate::kernels::gemm_variant(&c.variant).unwrap();
                assert!(v.math == math && v.runs_on(cc), "{} at {cc:?}", c.variant);
            }
            // The fastest is wrong: the next one wins, and the wrong one is marked.
            let dev = tiny_device(&times, Some(fastest));
            let e = tune(&dev);
            assert_eq!(e.variant, second);
            let bad = e.candidates.iter().find(|c| c.variant == fastest).unwrap();
            assert!(!bad.verified && bad.error.is_some());
        }
    }

    #[test]
    fn tflops_come_from_the_device_time() {
        let vs = gemm_variants(Precision::F32);
        let times: Vec<(&'static str, f64)> = vs.iter().map(|v| (v.kernel.entry, 2e-3)).collect();
        let dev = tiny_device(&times, None);
        let e = tune_class_at(
            &dev,
            Precision::F32,
            GemmMath::CudaCores,
            (5, 2),
            SizeClass::Small,
            40,
            small_budget(),
            3,
        )
        .unwrap();
        let expect = 2.0 * 40f64.powi(3) / 2e-3 / 1e12;
        for c in &e.candidates {
            assert!((c.tflops.unwrap() - expect).abs() < 1e-12);
        }
    }

    /// When every variant gives a wrong result, tuning fails naming each and why; nothing is
    /// chosen.
    #[test]
    fn no_verified_variant_is_an_error_naming_each_failure() {
        // (The scripted device computes FP32 and FP64 GEMMs.)
        for p in [Precision::F32, Precision::F64] {
            let variants = gemm_variants_for(p, GemmMath::CudaCores, (5, 2));
            // "*": every variant gets one element wrong.
            let dev = tiny_device(&[], Some("*"));
            let cores = GemmMath::CudaCores;
            let e = tune_class_at(
                &dev,
                p,
                cores,
                (5, 2),
                SizeClass::Small,
                48,
                small_budget(),
                1,
            )
            .unwrap_err();
            let TuneError::NoneVerified {
                precision,
                failures,
                ..
            } = e
            else {
                panic!("{e:?}")
            };
            assert_eq!(precision, p);
            let named: Vec<&str> = failures.iter().map(|(v, _)| v.as_str()).collect();
            let all: Vec<&str> = variants.iter().map(|v| v.kernel.entry).collect();
            assert_eq!(named, all);
        }
    }

    #[test]
    fn a_device_without_the_math_is_an_error_not_an_empty_tuning() {
        // The scripted device is sm_52: no tensor cores.
        let dev = tiny_device(&[], None);
        for p in [Precision::F64, Precision::F16] {
            let e = tune_class(
                &dev,
                p,
                GemmMath::TensorCores,
                SizeClass::Small,
                small_budget(),
                1,
            )
            .unwrap_err();
            assert_eq!(
                e,
                TuneError::NoVariant {
                    precision: p,
                    math: GemmMath::TensorCores,
                    cc: (5, 2)
                }
            );
            assert!(
                e.to_string().contains(&format!(
                    "no {} GEMM variant on the tensor cores",
                    p.as_str()
                )),
                "{e}"
            );
        }
    }

    /// An A100 on an R418 driver (PTX ISA 6.4) loaded the compute_70 build of `gemm`: the tuner
    /// offers its variants only (no cp.async pipelines), and refuses DGEMM on the tensor cores
    /// (compute_80 only) with the driver to install.
    #[test]
    fn the_candidates_follow_the_build_the_driver_let_the_device_load() {
        use GemmMath::{CudaCores, TensorCores};
        let a100 = (8, 0);
        let mut dev = ScriptedGemmDevice::new(&[], None);
        dev.cc = a100;
        dev.loads = crate::kernels::KernelSet::select(a100, 10010);
        let times: Vec<(&'static str, f64)> = gemm_variants(Precision::F32)
            .iter()
            .map(|v| (v.kernel.entry, 2e-3))
            .collect();
        dev.seconds_per_launch = times.into_iter().collect();
        let dev = Arc::new(dev);
        let tune =
            |p, math| tune_class_at(&dev, p, math, a100, SizeClass::Small, 40, small_budget(), 1);
        let e = tune(Precision::F32, CudaCores).unwrap();
        let names: Vec<&str> = e.candidates.iter().map(|c| c.variant.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| !n.ends_with("_s4") && !n.ends_with("_s2")),
            "{names:?}"
        );
        let e = tune(Precision::F64, TensorCores).unwrap_err();
        let TuneError::BuildNotLoaded(e) = e else {
            panic!("{e:?}: not the refused build")
        };
        assert!(
            e.contains("compute_80")
                && e.contains("CUDA 11.0 or newer (R450+)")
                && e.contains("CUDA 10.1")
                && e.contains("6.4"),
            "{e}"
        );
    }

    fn entry(p: Precision, math: GemmMath, class: SizeClass, variant: &str) -> TuningEntry {
        TuningEntry {
            precision: p,
            math,
            size_class: class,
            size: class.representative(),
            variant: variant.into(),
            candidates: vec![],
            from_cache: false,
        }
    }

    #[test]
    fn choose_uses_the_class_of_the_shape_and_the_math() {
        use GemmMath::{CudaCores, TensorCores};
        let mut t = TuningTable::new(0, TuningKey::for_device(&DeviceInfo::default()));
        let v = gemm_variants(Precision::F32)[1];
        t.entries.push(entry(
            Precision::F32,
            CudaCores,
            SizeClass::Medium,
            v.kernel.entry,
        ));
        assert_eq!(
            t.choose(Precision::F32, CudaCores, 4096, 2000, 3000),
            Some(v)
        );
        assert_eq!(t.choose(Precision::F32, CudaCores, 512, 512, 512), None);
        assert_eq!(t.choose(Precision::F64, CudaCores, 4096, 4096, 4096), None);
        assert_eq!(
            t.choose(Precision::F32, TensorCores, 4096, 4096, 4096),
            None
        );

        // DGEMM tuned on both maths: each GEMM gets its own math's choice.
        let fma = gemm_variants_for(Precision::F64, CudaCores, (9, 0))[1];
        let dmma = gemm_variants_for(Precision::F64, TensorCores, (9, 0))[1];
        t.entries.push(entry(
            Precision::F64,
            CudaCores,
            SizeClass::Large,
            fma.kernel.entry,
        ));
        t.entries.push(entry(
            Precision::F64,
            TensorCores,
            SizeClass::Large,
            dmma.kernel.entry,
        ));
        assert_eq!(
            t.choose(Precision::F64, CudaCores, 8192, 8192, 8192),
            Some(fma)
        );
        assert_eq!(
            t.choose(Precision::F64, TensorCores, 8192, 8192, 8192),
            Some(dmma)
        );

        // An entry whose variant is of another math (a damaged or foreign cache) is ignored.
        let mut bad = TuningTable::new(0, t.key.clone());
        bad.entries.push(entry(
            Precision::F64,
            CudaCores,
            SizeClass::Large,
            dmma.kernel.entry,
        ));
        assert_eq!(
            bad.choose(Precision::F64, CudaCores, 8192, 8192, 8192),
            None
        );
    }

    #[test]
    fn the_backend_runs_each_gemm_on_its_own_math() {
        use crate::workload::backend::{Backend, DeviceBackend};
        use crate::workload::WorkloadSpec;
        use GemmMath::{CudaCores, TensorCores};
        let tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 40,
            n: 24,
            k: 8,
            math: TensorCores,
        };
        let fma = WorkloadSpec::gemm(Precision::F64, 40, 24, 8);
        let kernel_of = |b: &DeviceBackend<ScriptedGemmDevice>, spec: &WorkloadSpec| {
            let mut t = b.prepare(spec, 1).map_err(|e| e.to_string())?;
            t.run(1).unwrap();
            assert!(t.verify().unwrap().passed());
            let name = t.info().implementation;
            Ok::<_, String>(
                crate::kernels::gemm_variant(name.trim_start_matches("gpugate ")).unwrap(),
            )
        };

        // sm_52: no tensor cores; the tensor-core GEMM is an error that says why.
        let old = DeviceBackend::new(
            tiny_device(&[], None),
            Some(0),
            crate::model::BackendKind::Cuda,
        );
        assert_eq!(kernel_of(&old, &fma).unwrap().math, CudaCores);
        let e = kernel_of(&old, &tc).unwrap_err();
        assert!(
            e.contains("FP64 GEMM on the tensor cores needs compute capability 8.0")
                && e.contains("this device has 5.2"),
            "{e}"
        );

        // sm_90: untuned, each math's default; tuned, each math's choice, even when the table
        // (damaged) names a variant of the other math for a class.
        let mut dev = ScriptedGemmDevice::new(&[], None);
        dev.cc = (9, 0);
        let mut new = DeviceBackend::new(Arc::new(dev), Some(0), crate::model::BackendKind::Cuda);
        let default_tc = crate::kernels::gemm_default_for(Precision::F64, TensorCores, (9, 0));
        assert_eq!(kernel_of(&new, &tc).ok(), default_tc);
        assert_eq!(kernel_of(&new, &fma).unwrap(), crate::kernels::DGEMM);
        let dmma = gemm_variants_for(Precision::F64, TensorCores, (9, 0))[2];
        let mut table = TuningTable::new(0, TuningKey::default());
        table.entries.push(entry(
            Precision::F64,
            TensorCores,
            SizeClass::Small,
            dmma.kernel.entry,
        ));
        table.entries.push(entry(
            Precision::F64,
            CudaCores,
            SizeClass::Small,
            dmma.kernel.entry,
        ));
        new.tuning = Some(table);
        assert_eq!(kernel_of(&new, &tc).unwrap(), dmma);
        assert_eq!(kernel_of(&new, &fma).unwrap(), crate::kernels::DGEMM);
    }

    #[test]
    fn cache_entries_without_a_math_are_cuda_core_entries() {
        // A cache file written before tensor-core variants existed.
        let old = r#"{"tables": [{"device": 0,
            "key": {"gpu_uuid": "GPU-1", "gpu_name": "Tesla M40 24GB",
                    "driver_cuda_version": 12040, "ptx_hash": "abc"},
            "entries": [{"precision": "f64", "size_class": "large", "size": 8192,
                         "variant": "dgemm_f64_64x64x8_t4x4", "candidates": []}]}]}"#;
        let c: TuningCache = serde_json::from_str(old).unwrap();
        let t = &c.tables[0];
        assert_eq!(t.entries[0].math, GemmMath::CudaCores);
        assert_eq!(
            t.choose(Precision::F64, GemmMath::CudaCores, 8192, 8192, 8192)
                .map(|v| v.kernel.entry),
            Some("dgemm_f64_64x64x8_t4x4")
        );
        assert_eq!(
            t.choose(Precision::F64, GemmMath::TensorCores, 8192, 8192, 8192),
            None
        );
    }

    #[test]
    fn cache_round_trips_and_is_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/tuning.json");
        assert_eq!(TuningCache::load(&path), TuningCache::default());
        let d = DeviceInfo {
            uuid: "GPU-1".into(),
            driver_cuda_version: 12040,
            ..Default::default()
        };
        let mut t = TuningTable::new(0, TuningKey::for_device(&d));
        t.entries.push(entry(
            Precision::F64,
            GemmMath::CudaCores,
            SizeClass::Large,
            gemm_variants(Precision::F64)[0].kernel.entry,
        ));
        t.entries.push(entry(
            Precision::F64,
            GemmMath::TensorCores,
            SizeClass::Large,
            "dgemm_f64_tc_64x64x8_w32x32_s4",
        ));
        let mut c = TuningCache::default();
        c.put(&t);
        c.put(&t); // replaces, never duplicates
        c.store(&path).unwrap();
        let back = TuningCache::load(&path);
        assert_eq!(back.tables.len(), 1);
        assert_eq!(back.find(&t.key), Some(&t));
        let newer_driver = TuningKey {
            driver_cuda_version: 12080,
            ..t.key.clone()
        };
        assert!(
            back.find(&newer_driver).is_none(),
            "a new driver must re-tune"
        );
        std::fs::write(&path, "{ truncated").unwrap();
        assert_eq!(TuningCache::load(&path), TuningCache::default());
    }

    /// A class is timed once per run, in run order, unless the table holds a choice timed at
    /// the size it would be timed at now; a new choice replaces the old one of its class.
    #[test]
    fn a_run_tunes_each_class_once_and_a_new_choice_replaces_the_old() {
        use GemmMath::{CudaCores, TensorCores};
        let props = DeviceProps {
            total_memory: 24 << 30,
            free_memory: 24 << 30,
            ..Default::default()
        };
        let mut t = TuningTable::new(0, TuningKey::for_device(&DeviceInfo::default()));
        let sgemm = |s| WorkloadSpec::gemm(Precision::F32, s, s, s);
        let dgemm_tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 4096,
            n: 4096,
            k: 4096,
            math: TensorCores,
        };
        let specs = [sgemm(1024), sgemm(512), dgemm_tc, sgemm(4096)];
        let all = |_: Precision, _: GemmMath| true;
        let classes = |jobs: Vec<TuneJob>| -> Vec<(Precision, GemmMath, SizeClass, usize)> {
            jobs.iter()
                .map(|j| (j.precision, j.math, j.class, j.size))
                .collect()
        };
        assert_eq!(
            classes(tuning_needed(&t, &specs, &props, false, all)),
            [
                (Precision::F32, CudaCores, SizeClass::Small, 1024),
                (Precision::F64, TensorCores, SizeClass::Medium, 4096),
                (Precision::F32, CudaCores, SizeClass::Medium, 4096),
            ]
        );
        // The user's sizes: the first GEMM of each class is the size it is timed at.
        assert_eq!(
            classes(tuning_needed(&t, &specs, &props, true, all))[0],
            (Precision::F32, CudaCores, SizeClass::Small, 1024)
        );
        // A path with nothing to choose from in the build loaded is not tuned.
        let no_tc = |_: Precision, m: GemmMath| m == CudaCores;
        assert_eq!(tuning_needed(&t, &specs, &props, false, no_tc).len(), 2);
        // A cached choice at the same size stands; one timed at another size is timed again.
        t.entries
            .push(entry(Precision::F32, CudaCores, SizeClass::Small, "old"));
        assert_eq!(tuning_needed(&t, &specs, &props, false, all).len(), 2);
        t.entries[0].size = 512;
        assert_eq!(tuning_needed(&t, &specs, &props, false, all).len(), 3);
        t.replace(entry(Precision::F32, CudaCores, SizeClass::Small, "new"));
        t.replace(entry(Precision::F32, TensorCores, SizeClass::Small, "tc"));
        assert_eq!(t.entries.len(), 2);
        let small = t
            .entry(Precision::F32, CudaCores, SizeClass::Small)
            .unwrap();
        assert_eq!((small.variant.as_str(), small.size), ("new", 1024));
    }
}
