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

use super::device::{DevBuf, KArg, KernelDevice, LaunchConfig};
use super::{Trial, TrialInfo, WorkloadError};
use crate::kernels::video_kernel;
pub use crate::model::spec::VideoStage;
use crate::model::{Verification, Work};
use crate::verify::video::{
    blocks4, check_dct_frame, check_me_frame, check_nv12_frame, check_scale_frame, chroma_dims,
    macroblocks, me_axis, me_interior, nv12_bytes, rgba_to_nv12, scaled_dims, Exact, MAX_SIDE,
};

/// "1080p" for 1920×1080, "2160p" for 3840×2160, "720p" for 1280×720, else "WxH".
pub fn resolution_name(width: usize, height: usize) -> String {
    match (width, height) {
        (1920, 1080) => "1080p".into(),
        (3840, 2160) => "2160p".into(),
        (1280, 720) => "720p".into(),
        (w, h) => format!("{w}x{h}"),
    }
}

/// The vector the motion-estimation reference is translated by: `ref(x + 5, y − 3) =
/// cur(x, y)`, so every macroblock whose candidate at (5, −3) lies in the frame must find it
/// with SAD 0.
pub const ME_TRUE_VECTOR: (i32, i32) = (5, -3);

/// Frames of the last launch that `verify` checks: its first (`blockIdx.z` = 0) and its last
/// ones, this many in all.
pub const VERIFY_FRAMES: usize = 8;

/// Most frames one launch processes (`gridDim.z`).
pub const MAX_BATCH: usize = 64;

/// Integer instructions gpugate's kernel of a stage executes per operation [`video_work`]
/// counts: the counted arithmetic plus what the formulas leave out (address arithmetic, byte
/// unpacking, loop control, the position mapping of the scaler). Measured by gpugate-sim from
/// the committed PTX (its `int_ops`: 32-bit integer instructions per executing lane; a frame of
/// 200×120) and held to it by the end-to-end test
/// `sim_runs::healthy_simulated_m40_passes_g2_large_but_the_encoder_it_lacks`, which re-measures
/// them from its launch log (frames of 480×270, motion estimation 100×70). The video targets' integer bound divides by the
/// executed count, not the counted one, so that an estimate never asks more of a card than the
/// shipped kernel can give (`crate::gate::profile::video_spec_fps`).
pub fn kernel_int_instructions_per_op(stage: VideoStage) -> f64 {
    match stage {
        VideoStage::Nv12 => 2.57,
        VideoStage::Scale => 6.12,
        VideoStage::Me => 1.26,
        VideoStage::Dct => 1.82,
    }
}

/// Bytes moved and integer operations of one frame of a stage at `width`×`height` (the input
/// frame's size).
///
/// Bytes are the least DRAM traffic the stage needs: every input byte the kernel uses read
/// once, every output byte written once (re-reads of the motion search window and of the
/// scaler's neighbours are served by the caches).
///
/// Integer operations count the arithmetic of the formulas (`kernels/video.cu`), not address
/// arithmetic, loads, stores or byte unpacking: a multiply-add is 2, a multiply, add,
/// subtract, shift, absolute value, negation or compare is 1 (an absolute difference is 2):
/// - `nv12`: 8 per pixel (Y: multiply, 2 multiply-adds, add, shift, add) and 25 per 2×2 block
///   (9 adds for ΣR, ΣG, ΣB; 8 each for Cb and Cr);
/// - `scale`: 15 per output sample of each plane (2 weight complements, 4 weight products,
///   multiply + 3 multiply-adds, rounding add, shift); the position mapping, per output row
///   and column, is not counted;
/// - `me`: 769 per candidate searched (256 absolute differences and accumulating adds, and the
///   compare of its key), over every candidate inside the frame of every full macroblock;
/// - `dct`: 176 per full 4×4 block (16 residual subtracts; 2 × 4 one-dimensional transforms of
///   8 adds/subtracts and 2 shifts; 16 quantisations of absolute value, multiply-add, shift and
///   sign).
pub fn video_work(stage: VideoStage, width: usize, height: usize) -> Work {
    let (w, h) = (width, height);
    let (bytes, int_ops) = match stage {
        VideoStage::Nv12 => {
            let (cw, ch) = chroma_dims(w, h);
            (4 * w * h + nv12_bytes(w, h), 8 * w * h + 25 * cw * ch)
        }
        VideoStage::Scale => {
            let (ow, oh) = scaled_dims(w, h);
            let (ocw, och) = chroma_dims(ow, oh);
            (
                nv12_bytes(w, h) + nv12_bytes(ow, oh),
                15 * (ow * oh + 2 * ocw * och),
            )
        }
        VideoStage::Me => {
            let (mbw, mbh) = macroblocks(w, h);
            let per_axis = |mbs: usize, n: usize| -> usize {
                (0..mbs).map(|m| me_axis(16 * m, n).count()).sum()
            };
            let candidates = per_axis(mbw, w) * per_axis(mbh, h);
            let nmb = mbw * mbh;
            // The macroblocks of cur, the part of ref any candidate touches, one word per MB.
            let ref_w = w.min(16 * mbw + 16);
            let ref_h = h.min(16 * mbh + 16);
            let ref_bytes = if nmb == 0 { 0 } else { ref_w * ref_h };
            (256 * nmb + ref_bytes + 4 * nmb, 769 * candidates)
        }
        VideoStage::Dct => {
            let (bw, bh) = blocks4(w, h);
            (64 * bw * bh, 176 * bw * bh)
        }
    };
    Work {
        flops: 0.0,
        bytes: bytes as f64,
        int_ops: int_ops as f64,
    }
}

/// Where a trial's frames live: per-frame inputs (one plane set, or two for `me` and `dct`:
/// current and reference) and output, each slot starting at a multiple of 256 bytes, `ring`
/// slots, `batch` frames per launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoLayout {
    pub inputs: usize,
    pub in_bytes: usize,
    pub out_bytes: usize,
    pub in_stride: usize,
    pub out_stride: usize,
    pub batch: usize,
    pub ring: usize,
}

impl VideoLayout {
    pub fn new(stage: VideoStage, w: usize, h: usize, l2_bytes: u64) -> VideoLayout {
        let (inputs, in_bytes, out_bytes) = match stage {
            VideoStage::Nv12 => (1, 4 * w * h, nv12_bytes(w, h)),
            VideoStage::Scale => {
                let (ow, oh) = scaled_dims(w, h);
                (1, nv12_bytes(w, h), nv12_bytes(ow, oh))
            }
            VideoStage::Me => {
                let (mbw, mbh) = macroblocks(w, h);
                (2, w * h, 4 * mbw * mbh)
            }
            VideoStage::Dct => {
                let (bw, bh) = blocks4(w, h);
                (2, w * h, 2 * 16 * bw * bh)
            }
        };
        let round = |b: usize| b.max(1).div_ceil(256) * 256;
        let (in_stride, out_stride) = (round(in_bytes), round(out_bytes));
        // Enough frames per launch that a small frame is not launch-bound: about 16 MiB moved,
        // or 2^30 integer operations for motion estimation.
        let work = video_work(stage, w, h);
        let batch = match stage {
            VideoStage::Me => (2f64.powi(30) / work.int_ops.max(1.0)).ceil(),
            _ => (16.0 * 1024.0 * 1024.0 / work.bytes.max(1.0)).ceil(),
        }
        .clamp(1.0, MAX_BATCH as f64) as usize;
        // More than twice the L2 cache, at least two frames, a whole number of batches.
        let slot = inputs * in_stride + out_stride;
        let ring = ((2 * l2_bytes as usize) / slot + 1).max(2).div_ceil(batch) * batch;
        VideoLayout {
            inputs,
            in_bytes,
            out_bytes,
            in_stride,
            out_stride,
            batch,
            ring,
        }
    }

    /// Device bytes of the whole ring.
    pub fn device_bytes(&self) -> u64 {
        (self.ring * (self.inputs * self.in_stride + self.out_stride)) as u64
    }
}

/// Device bytes a video trial needs (its whole ring of frames and outputs).
pub fn video_device_bytes(stage: VideoStage, width: usize, height: usize, l2_bytes: u64) -> u64 {
    VideoLayout::new(stage, width, height, l2_bytes).device_bytes()
}

/// Distinct input frames in a ring: slot s holds frame s mod `DISTINCT_FRAMES` (the ring only
/// has to be larger than the L2 cache; generating and checking more distinct frames buys
/// nothing).
pub const DISTINCT_FRAMES: usize = 4;

/// Seeded noise (splitmix64), `len` bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The input planes of distinct frame `index` of a trial: RGBA noise (nv12), NV12 (scale), or the
/// current frame and its reference (me, dct): noise, and the reference the current frame
/// translated by [`ME_TRUE_VECTOR`] (noise where the translation leaves the frame).
pub fn video_inputs(
    stage: VideoStage,
    w: usize,
    h: usize,
    seed: u64,
    index: usize,
) -> Vec<Vec<u8>> {
    let seed = seed ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    match stage {
        VideoStage::Nv12 => vec![noise(seed, 4 * w * h)],
        // A valid NV12 frame (Y in 16..=235, chroma in 16..=240): the colour conversion of
        // RGBA noise.
        VideoStage::Scale => vec![rgba_to_nv12(&noise(seed, 4 * w * h), w, h)],
        VideoStage::Me | VideoStage::Dct => {
            let cur = noise(seed, w * h);
            let mut refr = noise(seed ^ 0x5555_5555_5555_5555, w * h);
            let (dx, dy) = ME_TRUE_VECTOR;
            for y in 0..h {
                for x in 0..w {
                    let (sx, sy) = (x as i64 - dx as i64, y as i64 - dy as i64);
                    if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                        refr[y * w + x] = cur[sy as usize * w + sx as usize];
                    }
                }
            }
            vec![cur, refr]
        }
    }
}

/// Byte the outputs are filled with before any launch: no stage can write it (NV12 samples, and
/// scaled samples of NV12 input, stay within 16..=240; a SAD of 65535 exceeds 256·255; a level
/// of 0x7F7F exceeds any (|c|·MF + f) >> 19), so an output never written fails.
fn sentinel(stage: VideoStage) -> u8 {
    match stage {
        VideoStage::Dct => 0x7F,
        _ => 0xFF,
    }
}

struct VideoTrial<D: KernelDevice + ?Sized> {
    dev: Arc<D>,
    stage: VideoStage,
    w: usize,
    h: usize,
    seed: u64,
    layout: VideoLayout,
    /// Inputs (1 or 2 buffers), then the output.
    bufs: Vec<DevBuf>,
    /// Next ring slot to process.
    next: usize,
    /// First slot and frame count of the last launch.
    last: Option<(usize, usize)>,
}

/// Prepares one stage at `width`×`height`: a ring of frames larger than twice the L2 cache
/// (see [`VideoLayout`]), uploaded once; the outputs filled with a byte no stage writes.
pub fn prepare_video<D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    stage: VideoStage,
    width: usize,
    height: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    let min = if stage == VideoStage::Me { 16 } else { 2 };
    if width < min || height < min || width > MAX_SIDE || height > MAX_SIDE {
        return Err(WorkloadError::Unsupported(format!(
            "video {} needs frames of {min}..{MAX_SIDE} pixels a side, not {width}x{height}",
            stage.as_str()
        )));
    }
    let layout = VideoLayout::new(stage, width, height, dev.props().l2_bytes);
    let mut trial = VideoTrial {
        dev,
        stage,
        w: width,
        h: height,
        seed,
        layout,
        bufs: Vec::new(),
        next: 0,
        last: None,
    };
    let frames: Vec<Vec<Vec<u8>>> = (0..DISTINCT_FRAMES.min(layout.ring))
        .map(|i| video_inputs(stage, width, height, seed, i))
        .collect();
    for p in 0..layout.inputs {
        let plane: Vec<&[u8]> = frames.iter().map(|f| f[p].as_slice()).collect();
        let mut host = vec![0u8; layout.ring * layout.in_stride];
        for (s, slot) in host.chunks_mut(layout.in_stride).enumerate() {
            slot[..layout.in_bytes].copy_from_slice(plane[s % plane.len()]);
        }
        let b = trial.dev.alloc(host.len())?; // freed by Drop on error
        trial.bufs.push(b);
        trial.dev.upload(b, &host)?;
    }
    let out_len = layout.ring * layout.out_stride;
    let b = trial.dev.alloc(out_len)?;
    trial.bufs.push(b);
    trial.dev.upload(b, &vec![sentinel(stage); out_len])?;
    Ok(Box::new(trial))
}

impl<D: KernelDevice + ?Sized> VideoTrial<D> {
    fn out(&self) -> DevBuf {
        *self.bufs.last().expect("an output buffer")
    }

    /// Frames `first..first + n` of the ring, in one launch.
    fn launch(&self, first: usize, n: usize) -> Result<(), WorkloadError> {
        let l = &self.layout;
        let (w, h) = (self.w, self.h);
        let at = |b: DevBuf, stride: usize| KArg::BufAt(b, first * stride);
        let input = at(self.bufs[0], l.in_stride);
        let output = at(self.out(), l.out_stride);
        let (wi, hi) = (KArg::I32(w as i32), KArg::I32(h as i32));
        let (sin, sout) = (
            KArg::I64(l.in_stride as i64),
            KArg::I64(l.out_stride as i64),
        );
        let z = n as u32;
        let (grid, block, args) = match self.stage {
            VideoStage::Nv12 => {
                let (cw, ch) = chroma_dims(w, h);
                (
                    (cw.div_ceil(32) as u32, ch.div_ceil(8) as u32, z),
                    (32, 8, 1),
                    vec![input, output, wi, hi, sin, sout],
                )
            }
            VideoStage::Scale => {
                let (ow, oh) = scaled_dims(w, h);
                let (ocw, och) = chroma_dims(ow, oh);
                (
                    ((2 * ocw).div_ceil(256) as u32, (oh + och) as u32, z),
                    (256, 1, 1),
                    vec![
                        input,
                        output,
                        wi,
                        hi,
                        KArg::I32(ow as i32),
                        KArg::I32(oh as i32),
                        sin,
                        sout,
                    ],
                )
            }
            // Current and reference frames in, one output: the same arguments, their own grid.
            VideoStage::Me | VideoStage::Dct => {
                let (grid, block) = if self.stage == VideoStage::Me {
                    let (mbw, mbh) = macroblocks(w, h);
                    ((mbw as u32, mbh as u32, z), (256, 1, 1))
                } else {
                    let (bw, bh) = blocks4(w, h);
                    (
                        (bw.div_ceil(32) as u32, bh.div_ceil(8) as u32, z),
                        (32, 8, 1),
                    )
                };
                let reference = at(self.bufs[1], l.in_stride);
                (
                    grid,
                    block,
                    vec![input, reference, output, wi, hi, sin, sout],
                )
            }
        };
        self.dev.launch(
            video_kernel(self.stage),
            LaunchConfig {
                grid,
                block,
                shared_bytes: 0,
            },
            &args,
        )?;
        Ok(())
    }
}

impl<D: KernelDevice + ?Sized> Trial for VideoTrial<D> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: format!(
                "gpugate {} ({} frames per launch, ring of {})",
                video_kernel(self.stage).entry,
                self.layout.batch,
                self.layout.ring
            ),
            math_mode: None,
        }
    }

    /// Processes `iters` frames, walking the ring: launches of up to `batch` frames (a launch
    /// does not wrap around the ring's end).
    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let mut left = iters as usize;
        self.dev.timer_start()?;
        while left > 0 {
            let n = left
                .min(self.layout.batch)
                .min(self.layout.ring - self.next);
            self.launch(self.next, n)?;
            self.last = Some((self.next, n));
            self.next = (self.next + n) % self.layout.ring;
            left -= n;
        }
        Ok(self.dev.timer_stop()?)
    }

    /// Checks the first frame of the last launch and its last frames, up to [`VERIFY_FRAMES`]:
    /// colour, scale and transform every output; motion estimation every macroblock with a
    /// known answer and a full host search of sampled ones.
    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let Some((first, n)) = self.last else {
            return Ok(Verification::not_checked("no frame was processed"));
        };
        let l = self.layout;
        let (w, h) = (self.w, self.h);
        let mut out = vec![0u8; (first + n) * l.out_stride];
        self.dev.download(self.out(), &mut out)?;
        let mut tally = Exact::default();
        let distinct = DISTINCT_FRAMES.min(l.ring);
        let mut searched = 0;
        // The first frame of the launch (blockIdx.z = 0) and its last VERIFY_FRAMES - 1.
        let slots: Vec<usize> = std::iter::once(first)
            .chain((first + 1).max(first + n - (VERIFY_FRAMES - 1).min(n))..first + n)
            .collect();
        for &slot in &slots {
            let inputs = video_inputs(self.stage, w, h, self.seed, slot % distinct);
            let got = &out[slot * l.out_stride..][..l.out_bytes];
            match self.stage {
                VideoStage::Nv12 => check_nv12_frame(&mut tally, slot, &inputs[0], w, h, got),
                VideoStage::Scale => check_scale_frame(&mut tally, slot, &inputs[0], w, h, got),
                VideoStage::Dct => {
                    let levels: Vec<i16> = got
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]]))
                        .collect();
                    check_dct_frame(&mut tally, slot, &inputs[0], &inputs[1], w, h, &levels);
                }
                VideoStage::Me => {
                    let words: Vec<u32> = got
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    let search = me_sample(w, h, self.seed ^ slot as u64, slot + 1 == first + n);
                    searched += search.len();
                    check_me_frame(
                        &mut tally,
                        slot,
                        &inputs[0],
                        &inputs[1],
                        w,
                        h,
                        ME_TRUE_VECTOR,
                        &search,
                        &words,
                    );
                }
            }
        }
        let frames = match slots.as_slice() {
            [one] => format!("frame {one}"),
            [a, b, ..] if b - a > 1 => format!(
                "frames {a} and {b}..{} (the first and last of a launch of {n})",
                first + n - 1
            ),
            _ => format!("frames {first}..{}", first + n - 1),
        };
        let method = match self.stage {
            VideoStage::Nv12 => format!(
                "every Y, Cb and Cr byte of {frames} against the host's integer BT.709 conversion"
            ),
            VideoStage::Scale => format!(
                "every output sample of {frames} against the host's fixed-point bilinear scaler"
            ),
            VideoStage::Dct => format!(
                "every level of {frames} against the host's residual, 4x4 core transform and \
                 QP 28 quantiser"
            ),
            VideoStage::Me => format!(
                "{frames}: every macroblock whose candidate at ({}, {}) is inside the frame \
                 returns that vector with SAD 0 (the reference is the current frame translated \
                 by it), and {searched} sampled macroblocks match a full host search",
                ME_TRUE_VECTOR.0, ME_TRUE_VECTOR.1
            ),
        };
        Ok(tally.finish(method))
    }
}

/// Macroblocks searched in full on the host in one frame: the first (the one a fault in the
/// first block of a launch would hit) and, in the last frame of the launch, every macroblock
/// the known vector does not cover (the top row and the right column, for (5, −3)) plus 16 at
/// random from `seed` (at most 224 + 18).
pub fn me_sample(w: usize, h: usize, seed: u64, last: bool) -> Vec<usize> {
    let (mbw, mbh) = macroblocks(w, h);
    let nmb = mbw * mbh;
    let mut out = vec![0];
    if last {
        out.extend(
            (0..nmb)
                .filter(|&mb| !me_interior(w, h, mb % mbw, mb / mbw, ME_TRUE_VECTOR))
                .take(224),
        );
        let r = noise(seed, 16 * 8);
        out.extend(
            r.chunks_exact(8).map(|c| {
                (u64::from_le_bytes(c.try_into().expect("8 bytes")) % nmb as u64) as usize
            }),
        );
        out.push(nmb - 1);
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl<D: KernelDevice + ?Sized> Drop for VideoTrial<D> {
    fn drop(&mut self) {
        for b in self.bufs.drain(..) {
            self.dev.free(b);
        }
    }
}
