//! The test harness of the PTX front end and the engine: reading the committed PTX, a small
//! "device" (allocations with gaps between them, so that overruns fault), launches with
//! default limits, host references.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use gpugate_sim::exec::{
    launch, DeviceLimits, ExecOptions, LaunchConfig, LaunchError, LaunchStats, MemoryMap, Region,
};
use gpugate_sim::ptx::{Kernel, LoadError, LoadOptions, Module};
use half::f16;

/// The committed modules and their targets.
pub const MODULES: &[(&str, u32)] = &[
    ("gemm.compute_52.ptx", 52),
    ("gemm.compute_70.ptx", 70),
    ("gemm.compute_80.ptx", 80),
    ("stream.compute_52.ptx", 52),
    ("video.compute_52.ptx", 52),
    ("memtest.compute_52.ptx", 52),
];

/// `kernels/ptx/<file>` of this repository.
pub fn ptx_text(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kernels/ptx")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A floating-point precision of test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prec {
    F16,
    F32,
    F64,
}

/// Device memory for tests: allocations 256-byte aligned with a 4 KiB gap after each.
pub struct Dev {
    bufs: Vec<(u64, Box<[u8]>, bool)>,
    next: u64,
}

impl Default for Dev {
    fn default() -> Self {
        Self::new()
    }
}

impl Dev {
    pub fn new() -> Dev {
        Dev {
            bufs: Vec::new(),
            next: 0x7f00_0000_0000,
        }
    }

    /// `bytes` bytes (filled with 0xAB), returns the device address.
    pub fn alloc(&mut self, bytes: usize) -> u64 {
        self.alloc_ro(bytes, false)
    }

    pub fn alloc_ro(&mut self, bytes: usize, read_only: bool) -> u64 {
        let a = self.next.div_ceil(256) * 256;
        self.next = a + bytes.max(1) as u64 + 4096;
        self.bufs
            .push((a, vec![0xABu8; bytes.max(1)].into_boxed_slice(), read_only));
        a
    }

    pub fn upload<T: Copy>(&mut self, data: &[T]) -> u64 {
        let n = std::mem::size_of_val(data);
        let a = self.alloc(n);
        self.write(a, data);
        a
    }

    /// The allocation holding `[addr, addr + n)` and the offset of `addr` in it.
    fn find(&self, addr: u64, n: usize, what: &str) -> (usize, usize) {
        let i = self
            .bufs
            .iter()
            .position(|(b, v, _)| addr >= *b && addr + n as u64 <= *b + v.len() as u64)
            .unwrap_or_else(|| panic!("{what} inside an allocation"));
        (i, (addr - self.bufs[i].0) as usize)
    }

    pub fn write<T: Copy>(&mut self, addr: u64, data: &[T]) {
        let n = std::mem::size_of_val(data);
        // SAFETY (test): plain-old-data reinterpretation.
        let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, n) };
        let (i, o) = self.find(addr, n, "write");
        self.bufs[i].1[o..o + n].copy_from_slice(bytes);
    }

    pub fn read<T: Copy + Default>(&self, addr: u64, n: usize) -> Vec<T> {
        let bytes = n * std::mem::size_of::<T>();
        let (i, o) = self.find(addr, bytes, "read");
        let buf = &self.bufs[i].1;
        let mut out = vec![T::default(); n];
        // SAFETY (test): plain-old-data reinterpretation of initialised bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(buf[o..].as_ptr(), out.as_mut_ptr() as *mut u8, bytes)
        };
        out
    }

    /// `v` stored in precision `p` (rounded to nearest): the address, and the values as stored.
    pub fn upload_as(&mut self, p: Prec, v: &[f64]) -> (u64, Vec<f64>) {
        match p {
            Prec::F16 => {
                let h: Vec<u16> = v.iter().map(|x| f16::from_f64(*x).to_bits()).collect();
                let stored = h.iter().map(|x| f16::from_bits(*x).to_f64()).collect();
                (self.upload(&h), stored)
            }
            Prec::F32 => {
                let f: Vec<f32> = v.iter().map(|x| *x as f32).collect();
                let stored = f.iter().map(|x| *x as f64).collect();
                (self.upload(&f), stored)
            }
            Prec::F64 => (self.upload(v), v.to_vec()),
        }
    }

    /// `n` values of precision `p` at `addr`, as f64.
    pub fn read_as(&self, p: Prec, addr: u64, n: usize) -> Vec<f64> {
        match p {
            Prec::F16 => self
                .read::<u16>(addr, n)
                .iter()
                .map(|x| f16::from_bits(*x).to_f64())
                .collect(),
            Prec::F32 => self
                .read::<f32>(addr, n)
                .iter()
                .map(|x| *x as f64)
                .collect(),
            Prec::F64 => self.read(addr, n),
        }
    }

    pub fn map(&mut self) -> MemoryMap {
        let mut regions: Vec<Region> = self
            .bufs
            .iter_mut()
            .map(|(b, v, ro)| Region {
                base: *b,
                len: v.len() as u64,
                ptr: v.as_mut_ptr(),
                read_only: *ro,
            })
            .collect();
        regions.sort_by_key(|r| r.base);
        MemoryMap { regions }
    }

    /// Loads PTX, placing module variables in this device's memory.
    pub fn load(&mut self, text: &str, sm: u32) -> Result<Module, LoadError> {
        let opts = LoadOptions {
            sm,
            max_isa: (8, 4),
        };
        let mut place = |v: &gpugate_sim::ptx::ModuleVar| {
            let a = self.alloc_ro(v.size, v.constant);
            self.write(a, &v.init);
            Ok(a)
        };
        Module::load(text, &opts, &mut place)
    }

    /// Runs a launch with default limits for `sm`.
    pub fn launch(
        &mut self,
        k: &Kernel,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[Vec<u8>],
        opts: ExecOptions,
    ) -> Result<LaunchStats, LaunchError> {
        let map = self.map();
        let cfg = LaunchConfig {
            grid,
            block,
            dynamic_shared_bytes: 0,
        };
        let refs: Vec<&[u8]> = params.iter().map(|p| p.as_slice()).collect();
        launch(k, &cfg, &refs, &map, &limits(90), &opts)
    }
}

pub fn limits(sm: u32) -> DeviceLimits {
    DeviceLimits {
        sm,
        max_threads_per_block: 1024,
        max_block_dim: [1024, 1024, 64],
        max_grid_dim: [i32::MAX as u32, 65535, 65535],
        max_shared_per_block: 48 * 1024,
        max_shared_per_block_optin: 227 * 1024,
    }
}

pub fn opts() -> ExecOptions {
    ExecOptions {
        workers: 2,
        racecheck: true,
        sdc: None,
        max_dynamic_shared_bytes: 0,
        stuck: None,
    }
}

pub fn opts_fast() -> ExecOptions {
    ExecOptions {
        racecheck: false,
        ..opts()
    }
}

/// Kernel argument bytes.
pub fn a_u32(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
pub fn a_i32(v: i32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
pub fn a_u64(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
pub fn a_f32(v: f32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
pub fn a_f64(v: f64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// The arguments of a GEMM entry: M, N, K and the A, B, C pointers.
pub fn gemm_args(m: usize, n: usize, k: usize, a: u64, b: u64, c: u64) -> Vec<Vec<u8>> {
    vec![
        a_i32(m as i32),
        a_i32(n as i32),
        a_i32(k as i32),
        a_u64(a),
        a_u64(b),
        a_u64(c),
    ]
}

/// A kernel of a module, by name.
pub fn kernel(m: &Module, name: &str) -> Arc<Kernel> {
    m.kernel(name)
        .unwrap_or_else(|| panic!("no kernel {name} in {:?}", m.kernel_names()))
}

/// A tiny deterministic generator (xorshift) for test inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// Wraps a kernel body into a module for sm_`sm` (hand-written test PTX).
pub fn module_src(sm: u32, body: &str) -> String {
    format!(".version 8.0\n.target sm_{sm}\n.address_size 64\n{body}\n")
}

/// C = A·B (row-major, f64 accumulate) for the references.
pub fn gemm_ref(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p];
            for j in 0..n {
                c[i * n + j] += x * b[p * n + j];
            }
        }
    }
    c
}
