//! What can be run: a closed set of workloads, each knowing its bytes and FLOPs, and the
//! `Trial` interface that every backend's prepared workload implements.
//!
//! The GPU trials here are written once against [`device::KernelDevice`], so the same code
//! (allocation, launch configuration, argument order, read-back, verification) drives the CUDA
//! backend on a GPU and, in tests without one, on gpugate-sim's simulated GPU (`sim/`).

pub mod backend;
pub mod device;
pub mod encode;
pub mod gemm;
pub mod stream;
pub mod transfer;
pub mod video;

pub use crate::model::spec::{
    Direction, EncodeCodec, GemmMath, Precision, StreamOp, VideoStage, WorkloadSpec,
};
use crate::model::{Verification, Work};

impl Precision {
    /// Bytes of one input element.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F64 => 8,
            Precision::F16 => 2,
        }
    }
    /// Bytes of one output element (HGEMM writes FP32).
    pub fn output_bytes(self) -> usize {
        match self {
            Precision::F16 => 4,
            p => p.bytes(),
        }
    }
    pub fn epsilon(self) -> f64 {
        match self {
            Precision::F32 => f32::EPSILON as f64,
            Precision::F64 => f64::EPSILON,
            Precision::F16 => 9.765625e-4, // 2^-10
        }
    }
}

impl StreamOp {
    /// Arrays read and written per element.
    pub fn arrays_touched(self) -> usize {
        match self {
            StreamOp::Copy | StreamOp::Scale | StreamOp::Dot => 2,
            StreamOp::Add | StreamOp::Triad => 3,
        }
    }
    /// FLOPs per element.
    pub fn flops_per_element(self) -> usize {
        match self {
            StreamOp::Copy => 0,
            StreamOp::Scale | StreamOp::Add => 1,
            StreamOp::Triad | StreamOp::Dot => 2,
        }
    }
}

impl Direction {
    pub fn short(self) -> &'static str {
        match self {
            Direction::HostToDevice => "h2d",
            Direction::DeviceToHost => "d2h",
        }
    }
}

impl EncodeCodec {
    pub fn as_str(self) -> &'static str {
        match self {
            EncodeCodec::H264 => "h264",
        }
    }
}

impl WorkloadSpec {
    /// A GEMM on the CUDA cores (FMA).
    pub const fn gemm(precision: Precision, m: usize, n: usize, k: usize) -> WorkloadSpec {
        WorkloadSpec::Gemm {
            precision,
            m,
            n,
            k,
            math: GemmMath::CudaCores,
        }
    }

    /// The spec a cuBLAS peer of this GEMM is recorded under: the same precision and shape on
    /// the CUDA-core math, so that a shape measured on both maths has one peer (the peer's own
    /// math mode says what cuBLAS did). None for what is not a GEMM.
    pub fn peer_spec(&self) -> Option<WorkloadSpec> {
        match *self {
            WorkloadSpec::Gemm {
                precision, m, n, k, ..
            } => Some(WorkloadSpec::gemm(precision, m, n, k)),
            _ => None,
        }
    }

    /// Bytes and FLOPs of one iteration.
    pub fn work(&self) -> Work {
        match *self {
            WorkloadSpec::Gemm {
                precision, m, n, k, ..
            } => Work {
                flops: 2.0 * m as f64 * n as f64 * k as f64,
                bytes: ((m * k + k * n) * precision.bytes() + m * n * precision.output_bytes())
                    as f64,
                int_ops: 0.0,
            },
            WorkloadSpec::Stream { op, precision, n } => Work {
                flops: (op.flops_per_element() * n) as f64,
                bytes: (op.arrays_touched() * n * precision.bytes()) as f64,
                int_ops: 0.0,
            },
            WorkloadSpec::Transfer { bytes, .. } => Work {
                flops: 0.0,
                bytes: bytes as f64,
                int_ops: 0.0,
            },
            WorkloadSpec::Video {
                stage,
                width,
                height,
            } => video::video_work(stage, width, height),
            // The NV12 frame the encoder reads; the encoder's own work is fixed-function.
            WorkloadSpec::Encode { width, height, .. } => Work {
                flops: 0.0,
                bytes: (width * height * 3 / 2) as f64,
                int_ops: 0.0,
            },
        }
    }

    /// "TFLOPS" for GEMMs, "fps" (frames per second) for the video stages, "GB/s" for the
    /// rest.
    pub fn throughput_unit(&self) -> &'static str {
        match self {
            WorkloadSpec::Gemm { .. } => "TFLOPS",
            WorkloadSpec::Video { .. } | WorkloadSpec::Encode { .. } => "fps",
            _ => "GB/s",
        }
    }

    /// Throughput in [`Self::throughput_unit`] for one iteration taking `seconds`.
    pub fn throughput(&self, seconds: f64) -> f64 {
        let w = self.work();
        match self {
            WorkloadSpec::Gemm { .. } => w.flops / seconds / 1e12,
            WorkloadSpec::Video { .. } | WorkloadSpec::Encode { .. } => 1.0 / seconds,
            _ => w.bytes / seconds / 1e9,
        }
    }

    /// Stable short name, e.g. "sgemm.4096x4096x4096", "dgemm.tc.4096x4096x4096" (tensor
    /// cores), "stream.triad.f64", "transfer.h2d.pinned", "video.me.1080p".
    pub fn name(&self) -> String {
        match *self {
            WorkloadSpec::Gemm {
                precision,
                m,
                n,
                k,
                math,
            } => {
                let p = match precision {
                    Precision::F32 => "sgemm",
                    Precision::F64 => "dgemm",
                    Precision::F16 => "hgemm",
                };
                let tc = match math {
                    GemmMath::CudaCores => "",
                    GemmMath::TensorCores => ".tc",
                };
                format!("{p}{tc}.{m}x{n}x{k}")
            }
            WorkloadSpec::Stream { op, precision, .. } => {
                format!("stream.{}.{}", op.as_str(), precision.as_str())
            }
            WorkloadSpec::Transfer {
                direction, pinned, ..
            } => format!(
                "transfer.{}.{}",
                direction.short(),
                if pinned { "pinned" } else { "pageable" }
            ),
            WorkloadSpec::Video {
                stage,
                width,
                height,
            } => format!(
                "video.{}.{}",
                stage.as_str(),
                video::resolution_name(width, height)
            ),
            WorkloadSpec::Encode {
                codec,
                width,
                height,
                sessions,
                ..
            } => format!(
                "nvenc.{}.{}.x{sessions}",
                codec.as_str(),
                video::resolution_name(width, height)
            ),
        }
    }
}

/// What a prepared trial says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialInfo {
    /// Kernel entry or library call that does the work.
    pub implementation: String,
    pub math_mode: Option<String>,
}

/// Errors while preparing, running or verifying a workload. It names no backend's error type:
/// a backend's failure outside a device call is [`WorkloadError::Backend`], which carries the
/// backend's own error (the CUDA backend converts its errors into it at its edge, `src/cuda/`).
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("device error: {0}")]
    Device(#[from] device::DeviceError),
    /// The backend failed outside a device call (the GPU could not be opened, the cuBLAS peer
    /// was not run or failed, …): its own error, as itself ([`WorkloadError::backend_error`]).
    #[error(transparent)]
    Backend(device::BackendError),
    #[error("{0}")]
    Unsupported(String),
    /// The kernel the workload needs is in a module build this device did not load: the
    /// driver's JIT is too old for it (the message names the driver to install), or nothing of
    /// its family could be loaded.
    #[error("{0}")]
    NotLoaded(String),
}

impl WorkloadError {
    /// A backend's failure outside a device call, carrying the backend's own error.
    pub fn backend<E>(e: E) -> Self
    where
        E: std::error::Error + PartialEq + Send + Sync + 'static,
    {
        WorkloadError::Backend(device::BackendError::new(e))
    }

    /// The backend's own error of a backend failure, when it is an `E`.
    pub fn backend_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            WorkloadError::Backend(b) => b.downcast_ref(),
            _ => None,
        }
    }
}

/// One prepared workload on one device.
pub trait Trial {
    fn info(&self) -> TrialInfo;
    /// Runs `iters` iterations back to back; returns their total time in seconds (device time
    /// from events on a GPU, wall time on the host). Blocks until done.
    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError>;
    /// Checks the output of the last run against references.
    fn verify(&mut self) -> Result<Verification, WorkloadError>;
    /// The raw bytes of the last run's output, for a bit-for-bit comparison with another run
    /// of the same inputs (the burn-in's check for silent data corruption), with the size of
    /// one element. Trials without one output buffer say so.
    fn output(&mut self) -> Result<(Vec<u8>, usize), WorkloadError> {
        Err(WorkloadError::Unsupported(
            "this workload has no single output buffer to compare bit for bit".into(),
        ))
    }
    /// The device buffer [`Trial::output`] reads, with the size of one element, for a
    /// comparison on the device itself (the burn-in's compare kernel); `None` where there is no
    /// such buffer (the host backend, dot, …).
    fn device_output(&self) -> Option<(device::DevBuf, usize)> {
        None
    }
}
