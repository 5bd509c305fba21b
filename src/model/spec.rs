//! What ran, as run.json records it: the closed set of workloads and their parameters, with
//! their names and closed lists (`as_str`, labels, `ALL`). Their behaviour (bytes, FLOPs,
//! tolerances) is implemented beside the workloads (`crate::workload`).

use serde::{Deserialize, Serialize};

/// Element precision. `F16` exists for GEMM only: half-precision inputs, FP32 accumulation
/// and FP32 output (HGEMM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    F64,
    F16,
}

/// How a GEMM's multiply-adds are done: on the CUDA cores (FMA, the arithmetic the FP32 and
/// FP64 peaks of a datasheet count) or on the tensor cores (`mma.sync` / `wmma`: DMMA for FP64
/// on sm_80+, HMMA for FP16 inputs on sm_70+). Every GEMM result names its math; a
/// tensor-core number is never reported as a CUDA-core one.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GemmMath {
    #[default]
    CudaCores,
    TensorCores,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamOp {
    Copy,
    Scale,
    Add,
    Triad,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HostToDevice,
    DeviceToHost,
}

/// Everything gpugate can run. Row-major GEMM: C[M×N] = A[M×K] · B[K×N].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    Gemm {
        precision: Precision,
        m: usize,
        n: usize,
        k: usize,
        /// Absent in run.json files written before tensor-core paths existed: CUDA cores.
        #[serde(default, skip_serializing_if = "is_cuda_cores")]
        math: GemmMath,
    },
    Stream {
        op: StreamOp,
        precision: Precision,
        /// Elements per array.
        n: usize,
    },
    Transfer {
        direction: Direction,
        bytes: usize,
        pinned: bool,
    },
    /// One stage of the video pipeline on frames of `width`×`height` (one iteration = one
    /// frame; see `crate::workload::video`).
    Video {
        stage: VideoStage,
        width: usize,
        height: usize,
    },
    /// Hardware video encode (NVENC through ffmpeg, see `crate::workload::encode`): `sessions` concurrent
    /// sessions of `frames` frames each, `width`×`height` NV12 in. One iteration = one frame
    /// of the aggregate (so the throughput is the aggregate frames per second).
    Encode {
        codec: EncodeCodec,
        width: usize,
        height: usize,
        sessions: usize,
        frames: usize,
    },
}

/// What a hardware encode workload encodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeCodec {
    H264,
}

/// One stage of the video pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoStage {
    Nv12,
    Scale,
    Me,
    Dct,
}

fn is_cuda_cores(m: &GemmMath) -> bool {
    *m == GemmMath::CudaCores
}

// Their names (what run.json, the reports and the messages call them) and the closed lists.

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
            Precision::F16 => "f16",
        }
    }
    /// How messages name a GEMM of this precision: "FP32", "FP64", "FP16-input".
    pub fn gemm_label(self) -> &'static str {
        match self {
            Precision::F32 => "FP32",
            Precision::F64 => "FP64",
            Precision::F16 => "FP16-input",
        }
    }
}

impl GemmMath {
    pub fn as_str(self) -> &'static str {
        match self {
            GemmMath::CudaCores => "cuda_cores",
            GemmMath::TensorCores => "tensor_cores",
        }
    }
    /// Human label, e.g. for report headings.
    pub fn label(self) -> &'static str {
        match self {
            GemmMath::CudaCores => "CUDA cores",
            GemmMath::TensorCores => "tensor cores",
        }
    }
}

impl StreamOp {
    pub const ALL: [StreamOp; 5] = [
        StreamOp::Copy,
        StreamOp::Scale,
        StreamOp::Add,
        StreamOp::Triad,
        StreamOp::Dot,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            StreamOp::Copy => "copy",
            StreamOp::Scale => "scale",
            StreamOp::Add => "add",
            StreamOp::Triad => "triad",
            StreamOp::Dot => "dot",
        }
    }
}

impl VideoStage {
    pub const ALL: [VideoStage; 4] = [
        VideoStage::Nv12,
        VideoStage::Scale,
        VideoStage::Me,
        VideoStage::Dct,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStage::Nv12 => "nv12",
            VideoStage::Scale => "scale",
            VideoStage::Me => "me",
            VideoStage::Dct => "dct",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            VideoStage::Nv12 => "colour conversion RGBA8 → NV12 (BT.709)",
            VideoStage::Scale => "scaling NV12 by 2/3 (bilinear, fixed point)",
            VideoStage::Me => "motion estimation (16×16, ±16 full search, SAD)",
            VideoStage::Dct => "residual + 4×4 integer transform + quantisation",
        }
    }
}
