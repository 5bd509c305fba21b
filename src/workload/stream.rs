//! Stream (BabelStream-style) copy, scale, add, triad and dot on a [`KernelDevice`].

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::device::{as_bytes, as_bytes_mut, DevBuf, KArg, KernelDevice, LaunchConfig, Pod};
use super::{Precision, StreamOp, Trial, TrialInfo, WorkloadError};
use crate::kernels::{stream_kernel, STREAM_BLOCK};
use crate::model::Verification;
use crate::verify::stream::{check_dot, check_elementwise, StreamArrays};
use crate::verify::Elem;

/// Random inputs in [0.5, 1.5) and a random scalar in [0.3, 0.5): nonzero, and positive so that
/// a dropped block in dot shows.
pub fn stream_inputs<T: Elem>(n: usize, seed: u64) -> StreamArrays<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gen = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| T::from_f64(rng.gen_range(0.5..1.5)))
            .collect()
    };
    let a = gen(n);
    let b = gen(n);
    let c = gen(n);
    StreamArrays {
        a,
        b,
        c,
        scalar: T::from_f64(rng.gen_range(0.3..0.5)),
    }
}

/// Blocks for an `n`-element stream kernel on a device with `sm_count` SMs (grid-stride loops
/// cover the rest). Dot uses fewer blocks: each writes one partial sum.
pub fn stream_grid(op: StreamOp, n: usize, sm_count: u32) -> u32 {
    let want = n.div_ceil(STREAM_BLOCK as usize).max(1);
    let cap = if op == StreamOp::Dot {
        sm_count.max(1) as usize * 8
    } else {
        sm_count.max(1) as usize * 256
    };
    want.min(cap) as u32
}

/// Device bytes a stream trial needs.
pub fn stream_device_bytes(p: Precision, n: usize) -> u64 {
    (3 * n * p.bytes()) as u64
}

struct StreamTrial<T: Elem + Pod, D: KernelDevice + ?Sized> {
    dev: Arc<D>,
    op: StreamOp,
    n: usize,
    grid: u32,
    x: StreamArrays<T>,
    /// a, b, c, partial (dot only)
    bufs: Vec<DevBuf>,
}

/// Prepares one stream op: uploads a, b, c, and fills the op's output with NaN.
pub fn prepare_stream<D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    op: StreamOp,
    precision: Precision,
    n: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    if n == 0 {
        return Err(WorkloadError::Unsupported(
            "stream arrays must have at least one element".into(),
        ));
    }
    match precision {
        Precision::F32 => prepare_typed::<f32, D>(dev, op, n, seed),
        Precision::F64 => prepare_typed::<f64, D>(dev, op, n, seed),
        Precision::F16 => Err(WorkloadError::Unsupported(
            "there are no half-precision stream kernels".into(),
        )),
    }
}

fn prepare_typed<T: Elem + Pod, D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    op: StreamOp,
    n: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    let sz = std::mem::size_of::<T>();
    let grid = stream_grid(op, n, dev.props().sm_count);
    let x = stream_inputs::<T>(n, seed);
    let mut trial = StreamTrial {
        dev,
        op,
        n,
        grid,
        x,
        bufs: Vec::new(),
    };
    for _ in 0..3 {
        let b = trial.dev.alloc(n * sz)?; // freed by Drop on error
        trial.bufs.push(b);
    }
    if op == StreamOp::Dot {
        let p = trial.dev.alloc(grid as usize * sz)?;
        trial.bufs.push(p);
    }
    let nan = vec![0xFFu8; n * sz];
    if op == StreamOp::Dot {
        // A block that never writes its partial sum must not pass as zero.
        trial
            .dev
            .upload(trial.bufs[3], &nan[..grid as usize * sz])?;
    }
    let (a, b, c) = (trial.bufs[0], trial.bufs[1], trial.bufs[2]);
    let out = trial.output_buf();
    for (buf, host) in [(a, &trial.x.a), (b, &trial.x.b), (c, &trial.x.c)] {
        if Some(buf) == out {
            trial.dev.upload(buf, &nan)?;
        } else {
            trial.dev.upload(buf, as_bytes(host))?;
        }
    }
    Ok(Box::new(trial))
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> StreamTrial<T, D> {
    fn output_buf(&self) -> Option<DevBuf> {
        match self.op {
            StreamOp::Copy | StreamOp::Add => Some(self.bufs[2]),
            StreamOp::Scale => Some(self.bufs[1]),
            StreamOp::Triad => Some(self.bufs[0]),
            StreamOp::Dot => None,
        }
    }

    fn scalar_arg(&self) -> KArg {
        if std::mem::size_of::<T>() == 4 {
            KArg::F32(self.x.scalar.to_f64() as f32)
        } else {
            KArg::F64(self.x.scalar.to_f64())
        }
    }

    fn launch(&self) -> Result<(), WorkloadError> {
        let (a, b, c) = (
            KArg::Buf(self.bufs[0]),
            KArg::Buf(self.bufs[1]),
            KArg::Buf(self.bufs[2]),
        );
        let n = KArg::I64(self.n as i64);
        let s = self.scalar_arg();
        let args: Vec<KArg> = match self.op {
            StreamOp::Copy => vec![a, c, n],
            StreamOp::Scale => vec![c, b, s, n],
            StreamOp::Add => vec![a, b, c, n],
            StreamOp::Triad => vec![b, c, a, s, n],
            StreamOp::Dot => vec![a, b, KArg::Buf(self.bufs[3]), n],
        };
        let precision = if std::mem::size_of::<T>() == 4 {
            Precision::F32
        } else {
            Precision::F64
        };
        self.dev.launch(
            stream_kernel(self.op, precision).expect("FP32 and FP64 stream kernels exist"),
            LaunchConfig {
                grid: (self.grid, 1, 1),
                block: (STREAM_BLOCK, 1, 1),
                shared_bytes: 0,
            },
            &args,
        )?;
        Ok(())
    }
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> Trial for StreamTrial<T, D> {
    fn info(&self) -> TrialInfo {
        let precision = if std::mem::size_of::<T>() == 4 {
            Precision::F32
        } else {
            Precision::F64
        };
        TrialInfo {
            implementation: stream_kernel(self.op, precision)
                .map_or_else(String::new, |k| format!("gpugate {}", k.entry)),
            math_mode: None,
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        self.dev.timer_start()?;
        for _ in 0..iters {
            self.launch()?;
        }
        Ok(self.dev.timer_stop()?)
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let zero = T::from_f64(0.0);
        if self.op == StreamOp::Dot {
            let mut partial = vec![zero; self.grid as usize];
            self.dev
                .download(self.bufs[3], as_bytes_mut(&mut partial))?;
            // The host's share of the sum, compensated so that it adds no error of its own.
            let got = crate::verify::Sum::of(partial.iter().map(|v| v.to_f64()));
            let threads = self.grid as usize * STREAM_BLOCK as usize;
            return Ok(check_dot(
                &self.x.a,
                &self.x.b,
                got,
                self.n.div_ceil(threads),
            ));
        }
        let mut out = vec![zero; self.n];
        let buf = self.output_buf().expect("elementwise op has an output");
        self.dev.download(buf, as_bytes_mut(&mut out))?;
        Ok(check_elementwise(self.op, &self.x, &out))
    }

    fn output(&mut self) -> Result<(Vec<u8>, usize), WorkloadError> {
        let buf = self.output_buf().ok_or_else(|| {
            WorkloadError::Unsupported("dot leaves partial sums, not one output array".into())
        })?;
        let mut out = vec![0u8; buf.bytes];
        self.dev.download(buf, &mut out)?;
        Ok((out, std::mem::size_of::<T>()))
    }
    fn device_output(&self) -> Option<(DevBuf, usize)> {
        Some((self.output_buf()?, std::mem::size_of::<T>()))
    }
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> Drop for StreamTrial<T, D> {
    fn drop(&mut self) {
        for b in self.bufs.drain(..) {
            self.dev.free(b);
        }
    }
}
