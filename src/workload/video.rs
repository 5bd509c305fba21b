//! Video-encode-style stages on a [`KernelDevice`]: the per-frame work an encoder does before
//! entropy coding, each stage integer-exact so that every output can be checked bit for bit
//! against the host references in `crate::verify::video`.
//!
//! - `nv12`: RGBA8 → NV12, BT.709 limited range, integer arithmetic;
//! - `scale`: NV12 W×H → ⌈2W/3⌉×⌈2H/3⌉ (1080p → 720p), bilinear in fixed point;
//! - `me`: full-search motion estimation of 16×16 macroblocks over ±16 pixels (1089 positions)
//!   by SAD, with a fixed tie-break;
//! - `dct`: residual, H.264 4×4 integer core transform and flat quantisation of every 4×4 block.
//!
//! One iteration of a trial is one frame; the trial walks a ring of frames larger than the
//! L2 cache, so that the memory-bound stages measure DRAM.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::device::KernelDevice;
use super::{Trial, WorkloadError};
use crate::model::Work;

/// One stage of the video pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoStage {
    Nv12,
    Scale,
    Me,
    Dct,
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

/// "1080p" for 1920×1080, "2160p" for 3840×2160, "720p" for 1280×720, else "WxH".
pub fn resolution_name(width: usize, height: usize) -> String {
    match (width, height) {
        (1920, 1080) => "1080p".into(),
        (3840, 2160) => "2160p".into(),
        (1280, 720) => "720p".into(),
        (w, h) => format!("{w}x{h}"),
    }
}

/// Bytes moved and integer operations of one frame of a stage at `width`×`height` (the input
/// frame's size).
pub fn video_work(stage: VideoStage, width: usize, height: usize) -> Work {
    let px = (width * height) as f64;
    match stage {
        VideoStage::Nv12 => Work {
            flops: 0.0,
            bytes: px * 4.0 + px * 1.5,
            int_ops: 0.0,
        },
        VideoStage::Scale => Work {
            flops: 0.0,
            bytes: px * 1.5 + px * 1.5 * 4.0 / 9.0,
            int_ops: 0.0,
        },
        VideoStage::Me => Work {
            flops: 0.0,
            bytes: px * 2.0,
            int_ops: 0.0,
        },
        VideoStage::Dct => Work {
            flops: 0.0,
            bytes: px * 2.0 + px * 2.0,
            int_ops: 0.0,
        },
    }
}

/// Device bytes a video trial needs (its whole ring of frames and outputs).
pub fn video_device_bytes(stage: VideoStage, width: usize, height: usize, l2_bytes: u64) -> u64 {
    let _ = l2_bytes;
    (video_work(stage, width, height).bytes * 8.0) as u64
}

/// Prepares one stage at `width`×`height`.
pub fn prepare_video<D: KernelDevice + ?Sized + 'static>(
    _dev: Arc<D>,
    stage: VideoStage,
    width: usize,
    height: usize,
    _seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    Err(WorkloadError::Unsupported(format!(
        "video {} at {} is not implemented yet",
        stage.as_str(),
        resolution_name(width, height)
    )))
}
