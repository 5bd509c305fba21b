//! The simulated encoder's H.264 bitstream: lossless, and simple enough to check by eye.
//!
//! Every macroblock is either I_PCM (its 384 samples written as they are) or P_Skip (a copy of
//! the same macroblock of one reference picture). So the decoded pictures equal the input
//! exactly, and the stream is valid H.264 (ITU-T H.264, the syntax of clause 7, CAVLC):
//!
//! - SPS (7.3.2.1.1): the requested profile (Baseline 66, Main 77, High 100 with the progressive
//!   and constrained High flags), a level chosen for the frame size and reference pictures
//!   (table A-1), `pic_order_cnt_type` 2 (output order = decoding order, no B pictures), frame
//!   cropping for widths and heights that are not multiples of 16, and VUI with the frame rate
//!   and `max_num_reorder_frames` 0.
//! - PPS (7.3.2.2): CAVLC, one reference index, the picture QP, the deblocking filter control
//!   present (every slice disables the filter, `disable_deblocking_filter_idc` 1).
//! - IDR pictures: I slices of I_PCM macroblocks (`mb_type` 25, `pcm_alignment_zero_bit`s, 256
//!   luma and 2 × 64 chroma samples, 7.3.5).
//! - Other pictures: the encoder looks for each macroblock in its reference pictures (every
//!   picture is a reference; up to 16 are kept, a sliding window, 8.2.5.3) and picks the
//!   picture holding most of them unchanged. A P slice then codes those macroblocks as skipped
//!   (`mb_skip_run`, 7.3.4) and the others as I_PCM (`mb_type` 30 in a P slice); the chosen
//!   picture is moved to index 0 of the reference list by `ref_pic_list_modification`
//!   (`abs_diff_pic_num_minus1`, 7.3.3.1). Every motion vector in the stream is zero, so the
//!   predicted vector of every P_Skip macroblock is zero (8.4.1.1) and a skipped macroblock is
//!   an exact copy. A picture with nothing in common with its references is an I picture.
//! - NAL units (7.3.1) in the byte-stream format of Annex B (four-byte start codes), with
//!   emulation prevention bytes (0x000003) wherever the payload holds 0x0000 followed by a byte
//!   ≤ 3.
//!
//! - The first access unit carries an SEI message, user data unregistered (D.1.6), saying that
//!   the stream comes from gpugate-sim's simulated encoder ([`LABEL`]).
//!
//! Input whose pictures repeat (a looped clip, a static screen) therefore codes small; new
//! pictures cost their raw size. I_PCM pictures exceed every level's bit-rate limits (table
//! A-1), which decoders do not enforce; the level is chosen for frame size and the decoded
//! picture buffer only.

use std::collections::VecDeque;
use std::sync::Arc;

/// Samples of one 4:2:0 macroblock: 256 luma, 64 Cb, 64 Cr (the order of `pcm_sample_*`).
pub const MB_BYTES: usize = 384;

/// `log2_max_frame_num`: frame numbers wrap at 65536.
const LOG2_MAX_FRAME_NUM: u32 = 16;

/// The text of the SEI message that labels every stream as simulated.
pub const LABEL: &str = "gpugate-sim: simulated NVENC, lossless H.264 (I_PCM and skipped \
                         macroblocks); not a hardware encode";

/// The UUID of that message (`uuid_iso_iec_11578`, version 4, generated once for gpugate-sim).
const LABEL_UUID: [u8; 16] = [
    0x3f, 0x8e, 0x1c, 0x52, 0x96, 0x0b, 0x4d, 0x27, 0xa1, 0x5c, 0x7e, 0x09, 0xd2, 0x64, 0xb8, 0x13,
];

/// The most reference pictures the encoder keeps (`max_num_ref_frames` ≤ 16).
pub const MAX_REFS: u32 = 16;

/// `mb_type` of I_PCM in an I slice (table 7-11) and in a P slice (5 + 25, table 7-13).
const MB_TYPE_I_PCM_IN_I: u32 = 25;
const MB_TYPE_I_PCM_IN_P: u32 = 30;

/// The H.264 profiles the encoder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Baseline,
    Main,
    High,
    /// High with `constraint_set4_flag` (frame coding only).
    ProgressiveHigh,
    /// High with `constraint_set4_flag` and `constraint_set5_flag` (no B slices).
    ConstrainedHigh,
}

impl Profile {
    /// `profile_idc`.
    pub fn idc(self) -> u32 {
        match self {
            Profile::Baseline => 66,
            Profile::Main => 77,
            Profile::High | Profile::ProgressiveHigh | Profile::ConstrainedHigh => 100,
        }
    }
}

/// One row of table A-1: the level as NVENC numbers it (`NV_ENC_LEVEL`: 10 × the level, 9 for
/// level 1b), `MaxFS` and `MaxDpbMbs` (macroblocks).
struct LevelLimits {
    nvenc: u32,
    max_fs: u32,
    max_dpb_mbs: u32,
}

const fn lim(nvenc: u32, max_fs: u32, max_dpb_mbs: u32) -> LevelLimits {
    LevelLimits {
        nvenc,
        max_fs,
        max_dpb_mbs,
    }
}

/// Table A-1, in increasing order (1b right after 1).
const LEVELS: &[LevelLimits] = &[
    lim(10, 99, 396),
    lim(9, 99, 396),
    lim(11, 396, 900),
    lim(12, 396, 2376),
    lim(13, 396, 2376),
    lim(20, 396, 2376),
    lim(21, 792, 4752),
    lim(22, 1620, 8100),
    lim(30, 1620, 8100),
    lim(31, 3600, 18000),
    lim(32, 5120, 20480),
    lim(40, 8192, 32768),
    lim(41, 8192, 32768),
    lim(42, 8704, 34816),
    lim(50, 22080, 110400),
    lim(51, 36864, 184320),
    lim(52, 36864, 184320),
    lim(60, 139264, 696320),
    lim(61, 139264, 696320),
    lim(62, 139264, 696320),
];

/// The level written in the SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// As NVENC numbers it: 10 × the level (51 = 5.1), 9 = 1b.
    pub nvenc: u32,
}

impl Level {
    /// `level_idc` and `constraint_set3_flag` for `profile` (level 1b is 11 with the flag in
    /// Baseline and Main, 9 in High profiles: A.3.1, A.3.2).
    fn idc_and_set3(self, profile: Profile) -> (u32, bool) {
        match (self.nvenc, profile) {
            (9, Profile::Baseline | Profile::Main) => (11, true),
            (n, _) => (n, false),
        }
    }

    /// "5.1", "1b".
    pub fn name(self) -> String {
        match self.nvenc {
            9 => "1b".into(),
            n => format!("{}.{}", n / 10, n % 10),
        }
    }
}

/// Whether a frame of `mbw` × `mbh` macroblocks fits `l` (A.3.1 f, g: the frame size and each
/// dimension below √(8 · MaxFS)).
fn fits(l: &LevelLimits, mbw: u32, mbh: u32) -> bool {
    let side = ((8 * l.max_fs) as f64).sqrt();
    mbw * mbh <= l.max_fs && mbw as f64 <= side && mbh as f64 <= side
}

/// `MaxDpbFrames` (A.3.1 h): reference pictures the level's buffer holds at this frame size.
fn dpb_frames(l: &LevelLimits, mbw: u32, mbh: u32) -> u32 {
    (l.max_dpb_mbs / (mbw * mbh)).min(16)
}

/// Why settings or a frame cannot be coded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodingError {
    #[error("4:2:0 frames need an even, non-zero width and height, not {width}x{height}")]
    OddSize { width: u32, height: u32 },
    #[error("unknown H.264 level {0}")]
    UnknownLevel(u32),
    #[error(
        "a frame of {mbw}x{mbh} macroblocks does not fit H.264 level {level} (table A-1: at \
         most {max_fs} macroblocks)"
    )]
    LevelTooSmall {
        mbw: u32,
        mbh: u32,
        level: String,
        max_fs: u32,
    },
    #[error(
        "H.264 level {level}'s decoded picture buffer cannot hold one {mbw}x{mbh}-macroblock frame"
    )]
    DpbTooSmall { level: String, mbw: u32, mbh: u32 },
    #[error(
        "a frame of {mbw}x{mbh} macroblocks is larger than H.264 allows (level 6.2: 139264 \
         macroblocks)"
    )]
    FrameTooLarge { mbw: u32, mbh: u32 },
    #[error("QP {0} is outside 0..51")]
    QpOutOfRange(u32),
    #[error(
        "the {plane} plane holds {bytes} bytes, too few for {rows} rows of {row_bytes} at pitch \
         {pitch}"
    )]
    PlaneTooSmall {
        plane: &'static str,
        bytes: usize,
        rows: usize,
        row_bytes: usize,
        pitch: usize,
    },
}

/// The level and the number of reference pictures for a frame of `mbw` × `mbh` macroblocks:
/// the `requested` level (NVENC's number; 0 = choose), with as many of the `wanted` reference
/// pictures as it holds; or the lowest level that holds the frame and all of them (the highest
/// that holds the frame, when none holds them all). An error says why none will do.
pub fn choose_level(
    mbw: u32,
    mbh: u32,
    wanted: u32,
    requested: u32,
) -> Result<(Level, u32), CodingError> {
    let wanted = wanted.clamp(1, MAX_REFS);
    if requested != 0 {
        let l = LEVELS
            .iter()
            .find(|l| l.nvenc == requested)
            .ok_or(CodingError::UnknownLevel(requested))?;
        if !fits(l, mbw, mbh) {
            return Err(CodingError::LevelTooSmall {
                mbw,
                mbh,
                level: Level { nvenc: l.nvenc }.name(),
                max_fs: l.max_fs,
            });
        }
        let refs = dpb_frames(l, mbw, mbh).min(wanted);
        if refs == 0 {
            return Err(CodingError::DpbTooSmall {
                level: Level { nvenc: l.nvenc }.name(),
                mbw,
                mbh,
            });
        }
        return Ok((Level { nvenc: l.nvenc }, refs));
    }
    let fitting: Vec<&LevelLimits> = LEVELS
        .iter()
        .filter(|l| l.nvenc != 9 && fits(l, mbw, mbh))
        .collect();
    if let Some(l) = fitting.iter().find(|l| dpb_frames(l, mbw, mbh) >= wanted) {
        return Ok((Level { nvenc: l.nvenc }, wanted));
    }
    match fitting.last() {
        Some(l) if dpb_frames(l, mbw, mbh) > 0 => {
            Ok((Level { nvenc: l.nvenc }, dpb_frames(l, mbw, mbh)))
        }
        _ => Err(CodingError::FrameTooLarge { mbw, mbh }),
    }
}

// ----------------------------------------------------------------------------- bit writing

/// Writes bits most significant first, as the syntax's u(n), ue(v) and se(v) (7.2, 9.1).
#[derive(Default)]
pub struct BitWriter {
    pub bytes: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    pub fn new() -> BitWriter {
        BitWriter::default()
    }

    /// u(n): the low `n` (≤ 32) bits of `v`.
    pub fn u(&mut self, n: u32, v: u64) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (v & ((1u64 << n) - 1));
        self.bits += n;
        while self.bits >= 8 {
            self.bits -= 8;
            self.bytes.push((self.acc >> self.bits) as u8);
        }
        self.acc &= (1u64 << self.bits) - 1;
    }

    /// ue(v): Exp-Golomb (9.1): `len − 1` zeros, then `v + 1` in `len` bits.
    pub fn ue(&mut self, v: u32) {
        let x = v as u64 + 1;
        let len = 64 - x.leading_zeros();
        self.u(len - 1, 0);
        self.u(len, x);
    }

    /// se(v): 9.1.1, k > 0 → 2k − 1, k ≤ 0 → −2k.
    pub fn se(&mut self, v: i32) {
        let k = if v > 0 {
            2 * v as i64 - 1
        } else {
            -2 * v as i64
        };
        self.ue(k as u32);
    }

    pub fn byte_aligned(&self) -> bool {
        self.bits == 0
    }

    /// Zero bits up to the next byte boundary (`pcm_alignment_zero_bit`).
    pub fn align_zero(&mut self) {
        if self.bits > 0 {
            self.u(8 - self.bits, 0);
        }
    }

    /// Whole bytes at a byte boundary.
    pub fn raw(&mut self, data: &[u8]) {
        assert!(self.byte_aligned(), "raw bytes at a byte boundary only");
        self.bytes.extend_from_slice(data);
    }

    /// `rbsp_trailing_bits()`: the stop bit, then zeros to the byte boundary.
    pub fn trailing(&mut self) {
        self.u(1, 1);
        self.align_zero();
    }

    /// Empties the writer, keeping its allocation.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.acc = 0;
        self.bits = 0;
    }
}

/// NAL unit types (table 7-1).
pub mod nal {
    pub const SLICE: u32 = 1;
    pub const IDR: u32 = 5;
    pub const SEI: u32 = 6;
    pub const SPS: u32 = 7;
    pub const PPS: u32 = 8;
    pub const AUD: u32 = 9;
}

/// Appends one NAL unit in the byte-stream format: start code, header, and the RBSP with
/// emulation prevention bytes (7.4.1: within the payload, 0x00 0x00 followed by 0x00, 0x01,
/// 0x02 or 0x03 gets a 0x03 inserted before the third byte).
pub fn write_nal(out: &mut Vec<u8>, ref_idc: u32, kind: u32, rbsp: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1, ((ref_idc << 5) | kind) as u8]);
    escape(rbsp, out);
}

/// The index of the first zero byte of `data` at or after `from`, if any (eight bytes at a
/// time: a zero byte makes `(x − 0x01…01) & !x & 0x80…80` non-zero).
fn next_zero(data: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= data.len() {
        let x = u64::from_le_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            break;
        }
        i += 8;
    }
    data[i..].iter().position(|&b| b == 0).map(|p| i + p)
}

/// RBSP → EBSP (emulation prevention).
pub fn escape(rbsp: &[u8], out: &mut Vec<u8>) {
    out.reserve(rbsp.len() + rbsp.len() / 256);
    let mut copied = 0;
    let mut i = 0;
    while let Some(z) = next_zero(rbsp, i) {
        // Two zeros at z, z + 1 followed by a byte ≤ 3 at z + 2.
        if z + 2 < rbsp.len() && rbsp[z + 1] == 0 && rbsp[z + 2] <= 3 {
            out.extend_from_slice(&rbsp[copied..z + 2]);
            out.push(3);
            copied = z + 2;
            i = z + 2;
        } else {
            i = z + 1;
        }
    }
    out.extend_from_slice(&rbsp[copied..]);
}

// ----------------------------------------------------------------------------- pictures

/// The input picture: 8-bit 4:2:0, the luma plane and the chroma as NVENC's input buffers
/// hold it.
pub struct Frame<'a> {
    pub luma: &'a [u8],
    pub pitch: usize,
    pub chroma: Chroma<'a>,
}

/// Where a frame's chroma is.
pub enum Chroma<'a> {
    /// NV12: one plane of Cb, Cr pairs, with the luma pitch.
    Interleaved(&'a [u8]),
    /// Separate Cb and Cr planes (IYUV, YV12), each with half the luma pitch.
    Planar { cb: &'a [u8], cr: &'a [u8] },
}

/// A decoded picture (equal to its input): its samples as macroblocks (384 per macroblock in
/// raster order) with a hash of each, and as the input held them (rows of the visible width,
/// luma then chroma in the input's layout), to find a whole picture repeated cheaply.
#[derive(Clone, Default)]
struct Picture {
    mbs: Vec<u8>,
    hashes: Vec<u64>,
    raw: Vec<u8>,
    /// The input's chroma was interleaved (NV12) rather than planar.
    interleaved: bool,
}

impl Picture {
    /// Whether `frame` (`w` × `h`) holds exactly this picture's samples.
    fn same_as(&self, frame: &Frame, w: usize, h: usize) -> bool {
        let interleaved = matches!(frame.chroma, Chroma::Interleaved(_));
        if interleaved != self.interleaved || self.raw.is_empty() {
            return false;
        }
        let mut at = 0;
        let mut rows_equal = |plane: &[u8], rows: usize, pitch: usize, bytes: usize| {
            (0..rows).all(|y| {
                let same = plane[y * pitch..y * pitch + bytes] == self.raw[at..at + bytes];
                at += bytes;
                same
            })
        };
        let (cw, ch) = (w / 2, h / 2);
        rows_equal(frame.luma, h, frame.pitch, w)
            && match frame.chroma {
                Chroma::Interleaved(uv) => rows_equal(uv, ch, frame.pitch, 2 * cw),
                Chroma::Planar { cb, cr } => {
                    rows_equal(cb, ch, frame.pitch / 2, cw)
                        && rows_equal(cr, ch, frame.pitch / 2, cw)
                }
            }
    }

    /// Keeps `frame`'s visible rows (for [`Picture::same_as`]).
    fn keep_raw(&mut self, frame: &Frame, w: usize, h: usize) {
        self.raw.clear();
        self.interleaved = matches!(frame.chroma, Chroma::Interleaved(_));
        let mut rows = |plane: &[u8], rows: usize, pitch: usize, bytes: usize| {
            for y in 0..rows {
                self.raw
                    .extend_from_slice(&plane[y * pitch..y * pitch + bytes]);
            }
        };
        let (cw, ch) = (w / 2, h / 2);
        rows(frame.luma, h, frame.pitch, w);
        match frame.chroma {
            Chroma::Interleaved(uv) => rows(uv, ch, frame.pitch, 2 * cw),
            Chroma::Planar { cb, cr } => {
                rows(cb, ch, frame.pitch / 2, cw);
                rows(cr, ch, frame.pitch / 2, cw);
            }
        }
    }
}

/// A 64-bit hash of one macroblock's samples (to find candidate matches; matches are then
/// compared byte for byte).
fn mb_hash(mb: &[u8]) -> u64 {
    mb.chunks_exact(8).fold(0x243f_6a88_85a3_08d3, |h, w| {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        (h.rotate_left(5) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

/// What kind of picture to code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Idr,
    Intra,
    Predicted,
}

/// What the caller asks of one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    /// The encoder decides (the GOP structure).
    None,
    /// An I picture (not IDR).
    Intra,
    /// An IDR picture.
    Idr,
    /// A P picture (when the caller decides picture types; an I picture when nothing can be
    /// predicted).
    Predicted,
}

/// What one coded picture was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    pub kind: Kind,
    /// Byte offset of each slice NAL unit in the picture's bitstream.
    pub slice_offsets: Vec<u32>,
    /// Macroblocks coded I_PCM.
    pub intra_mbs: u32,
    /// Macroblocks skipped (copied from the reference picture).
    pub skipped_mbs: u32,
}

/// When the SPS and PPS go into the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// Before the first picture only.
    First,
    /// Before every IDR picture.
    EveryIdr,
    /// Never (the client takes them from `sequence_headers`).
    Never,
}

/// How slices divide a picture (NVENC's `sliceMode`, `sliceModeData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slicing {
    /// N macroblocks per slice (0: one slice).
    Macroblocks(u32),
    /// N macroblock rows per slice.
    Rows(u32),
    /// N slices per picture.
    Count(u32),
}

/// Everything that fixes the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub width: u32,
    pub height: u32,
    pub profile: Profile,
    /// NVENC's level number, 0 = the encoder chooses.
    pub level: u32,
    /// Reference pictures wanted (0: as many as the level allows, up to 16).
    pub max_refs: u32,
    /// The picture QP written in the PPS (I_PCM and skipped macroblocks do not use it).
    pub qp: u32,
    /// Frames per second as (numerator, denominator), for the VUI timing.
    pub frame_rate: Option<(u32, u32)>,
    /// Pictures between IDR pictures (0 or `u32::MAX`: only the first).
    pub idr_period: u32,
    /// Pictures between I pictures (0 or `u32::MAX`: none but the IDRs; 1: all intra).
    pub gop_length: u32,
    pub headers: Headers,
    /// An access unit delimiter before every picture.
    pub aud: bool,
    pub slicing: Slicing,
}

/// The parameters fixed once for the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub mbw: u32,
    pub mbh: u32,
    pub level: Level,
    pub refs: u32,
}

/// The encoder of one stream.
pub struct Encoder {
    set: Settings,
    seq: Sequence,
    /// Macroblock ranges of the slices of every picture.
    slices: Vec<(usize, usize)>,
    /// Reference pictures, newest first (index k − 1 holds the picture k pictures back). A
    /// picture that repeats an earlier one shares it.
    dpb: VecDeque<Arc<Picture>>,
    /// A picture's buffers to reuse (one that left the reference window).
    spare: Picture,
    /// How far back the last whole repeated picture was found (looked at first next time).
    repeat_distance: usize,
    /// Pictures since the last IDR picture (0 for the IDR itself); None before the first.
    since_idr: Option<u64>,
    /// `frame_num` of the next picture.
    next_frame_num: u32,
    idr_pic_id: u32,
    headers_written: bool,
    labelled: bool,
    rbsp: BitWriter,
}

impl Encoder {
    /// An encoder for `set`, or why the settings cannot be coded.
    pub fn new(set: Settings) -> Result<Encoder, CodingError> {
        if set.width == 0
            || set.height == 0
            || !set.width.is_multiple_of(2)
            || !set.height.is_multiple_of(2)
        {
            return Err(CodingError::OddSize {
                width: set.width,
                height: set.height,
            });
        }
        let (mbw, mbh) = (set.width.div_ceil(16), set.height.div_ceil(16));
        let wanted = if set.max_refs == 0 {
            MAX_REFS
        } else {
            set.max_refs
        };
        let (level, refs) = choose_level(mbw, mbh, wanted, set.level)?;
        if set.qp > 51 {
            return Err(CodingError::QpOutOfRange(set.qp));
        }
        let slices = slice_ranges(set.slicing, mbw as usize, mbh as usize);
        Ok(Encoder {
            seq: Sequence {
                mbw,
                mbh,
                level,
                refs,
            },
            slices,
            dpb: VecDeque::new(),
            spare: Picture::default(),
            repeat_distance: 1,
            since_idr: None,
            next_frame_num: 0,
            idr_pic_id: 0,
            headers_written: false,
            labelled: false,
            rbsp: BitWriter::new(),
            set,
        })
    }

    pub fn sequence(&self) -> &Sequence {
        &self.seq
    }

    pub fn settings(&self) -> &Settings {
        &self.set
    }

    /// The SPS and PPS NAL units, as a client puts them in a container's header.
    pub fn sequence_headers(&mut self, out: &mut Vec<u8>) {
        self.rbsp.clear();
        write_sps(&mut self.rbsp, &self.set, &self.seq);
        write_nal(out, 3, nal::SPS, &self.rbsp.bytes);
        self.rbsp.clear();
        write_pps(&mut self.rbsp, &self.set);
        write_nal(out, 3, nal::PPS, &self.rbsp.bytes);
    }

    /// The kind of the next picture.
    fn decide(&self, force: Force) -> Kind {
        let Some(idx) = self.since_idr.map(|i| i + 1) else {
            return Kind::Idr;
        };
        let period = |p: u32| (p != 0 && p != u32::MAX).then_some(p as u64);
        // NVENC: an idrPeriod of 0 means "as gopLength".
        let idr_period = match self.set.idr_period {
            0 => period(self.set.gop_length),
            p => period(p),
        };
        match force {
            Force::Idr => Kind::Idr,
            Force::Intra => Kind::Intra,
            Force::Predicted => Kind::Predicted,
            Force::None if idr_period.is_some_and(|p| idx >= p) => Kind::Idr,
            Force::None if period(self.set.gop_length).is_some_and(|g| idx % g == 0) => Kind::Intra,
            Force::None => Kind::Predicted,
        }
    }

    /// Codes one picture into `out` (an access unit: the delimiter if asked, SPS and PPS when
    /// due or `with_headers`, then its slices).
    pub fn encode(
        &mut self,
        frame: &Frame,
        force: Force,
        with_headers: bool,
        out: &mut Vec<u8>,
    ) -> Result<Coded, CodingError> {
        self.check_planes(frame)?;
        let mut kind = self.decide(force);
        let total = (self.seq.mbw * self.seq.mbh) as usize;
        // The reference picture (k pictures back) and which macroblocks it holds unchanged.
        let mut reference: Option<(usize, Vec<bool>)> = None;
        // The decoded picture: a whole repeat shares the picture it repeats.
        let mut repeat: Option<Arc<Picture>> = None;
        if kind == Kind::Predicted {
            if let Some(k) = self.whole_repeat(frame) {
                repeat = Some(self.dpb[k - 1].clone());
                reference = Some((k, vec![true; total]));
                self.repeat_distance = k;
            }
        }
        let mut cur = std::mem::take(&mut self.spare);
        if repeat.is_none() {
            self.gather(frame, &mut cur);
            if kind == Kind::Predicted {
                reference = self.best_reference(&cur);
                if reference.is_none() {
                    kind = Kind::Intra;
                }
            }
        }
        let frame_num = if kind == Kind::Idr {
            0
        } else {
            self.next_frame_num
        };
        let headers = with_headers
            || match self.set.headers {
                Headers::First => !self.headers_written,
                Headers::EveryIdr => kind == Kind::Idr,
                Headers::Never => false,
            };
        if self.set.aud {
            self.rbsp.clear();
            // primary_pic_type: 0 = I slices only, 1 = I and P.
            self.rbsp.u(3, if kind == Kind::Predicted { 1 } else { 0 });
            self.rbsp.trailing();
            write_nal(out, 0, nal::AUD, &self.rbsp.bytes);
        }
        if headers {
            self.sequence_headers(out);
            self.headers_written = true;
        }
        if !self.labelled {
            self.rbsp.clear();
            write_label_sei(&mut self.rbsp);
            write_nal(out, 0, nal::SEI, &self.rbsp.bytes);
            self.labelled = true;
        }
        let mut coded = Coded {
            kind,
            slice_offsets: Vec::with_capacity(self.slices.len()),
            intra_mbs: 0,
            skipped_mbs: 0,
        };
        for s in 0..self.slices.len() {
            let (first, end) = self.slices[s];
            coded.slice_offsets.push(out.len() as u32);
            self.rbsp.clear();
            let w = &mut self.rbsp;
            w.ue(first as u32);
            w.ue(if kind == Kind::Predicted { 5 } else { 7 });
            w.ue(0);
            w.u(LOG2_MAX_FRAME_NUM, frame_num as u64);
            if kind == Kind::Idr {
                w.ue(self.idr_pic_id);
            }
            if let Some((k, _)) = &reference {
                // num_ref_idx_active_override_flag, then the reference list modification.
                w.u(1, 0);
                if *k == 1 {
                    w.u(1, 0);
                } else {
                    w.u(1, 1);
                    w.ue(0);
                    w.ue(*k as u32 - 1);
                    w.ue(3);
                }
            }
            // dec_ref_pic_marking(): every picture is a reference.
            if kind == Kind::Idr {
                w.u(1, 0);
                w.u(1, 0);
            } else {
                w.u(1, 0);
            }
            w.se(0);
            w.ue(1);
            match &reference {
                None => {
                    for mb in first..end {
                        w.ue(MB_TYPE_I_PCM_IN_I);
                        w.align_zero();
                        w.raw(&cur.mbs[mb * MB_BYTES..(mb + 1) * MB_BYTES]);
                    }
                    coded.intra_mbs += (end - first) as u32;
                }
                Some((_, same)) => {
                    let mut run = 0;
                    for (mb, &skip) in same.iter().enumerate().take(end).skip(first) {
                        if skip {
                            run += 1;
                            continue;
                        }
                        w.ue(run);
                        run = 0;
                        w.ue(MB_TYPE_I_PCM_IN_P);
                        w.align_zero();
                        w.raw(&cur.mbs[mb * MB_BYTES..(mb + 1) * MB_BYTES]);
                        coded.intra_mbs += 1;
                    }
                    if run > 0 {
                        w.ue(run);
                    }
                }
            }
            w.trailing();
            let (ref_idc, nal_type) = if kind == Kind::Idr {
                (3, nal::IDR)
            } else {
                (2, nal::SLICE)
            };
            write_nal(out, ref_idc, nal_type, &self.rbsp.bytes);
        }
        if reference.is_some() {
            coded.skipped_mbs = total as u32 - coded.intra_mbs;
        }
        // The decoded picture (equal to the input) becomes a reference; the oldest leaves the
        // sliding window.
        if kind == Kind::Idr {
            self.dpb.clear();
            self.idr_pic_id = (self.idr_pic_id + 1) % 65536;
            self.since_idr = Some(0);
        } else {
            self.since_idr = self.since_idr.map(|i| i + 1);
        }
        self.next_frame_num = (frame_num + 1) % (1 << LOG2_MAX_FRAME_NUM);
        let decoded = match repeat {
            Some(p) => {
                self.spare = cur;
                p
            }
            None => Arc::new(cur),
        };
        self.dpb.push_front(decoded);
        if self.dpb.len() > self.seq.refs as usize {
            if let Some(Ok(p)) = self.dpb.pop_back().map(Arc::try_unwrap) {
                self.spare = p;
            }
        }
        Ok(coded)
    }

    /// How many pictures back `frame` was coded before, exactly (the distance of the last
    /// repeat first, then the nearest), if it was.
    fn whole_repeat(&self, frame: &Frame) -> Option<usize> {
        let (w, h) = (self.set.width as usize, self.set.height as usize);
        let n = self.dpb.len();
        let last = self.repeat_distance;
        std::iter::once(last)
            .filter(|&k| k >= 1 && k <= n)
            .chain((1..=n).filter(|&k| k != last))
            .find(|&k| self.dpb[k - 1].same_as(frame, w, h))
    }

    /// The reference picture holding most of `cur`'s macroblocks unchanged (the nearest one
    /// among equals), as (pictures back, which macroblocks are unchanged); None when no
    /// reference holds any.
    fn best_reference(&self, cur: &Picture) -> Option<(usize, Vec<bool>)> {
        let mut best: Option<(usize, usize)> = None;
        for (i, r) in self.dpb.iter().enumerate() {
            let n = r
                .hashes
                .iter()
                .zip(&cur.hashes)
                .filter(|(a, b)| a == b)
                .count();
            if n > 0 && best.is_none_or(|(_, m)| n > m) {
                best = Some((i, n));
            }
        }
        let (i, _) = best?;
        let r = &self.dpb[i];
        let same: Vec<bool> = (0..cur.hashes.len())
            .map(|mb| {
                let span = mb * MB_BYTES..(mb + 1) * MB_BYTES;
                r.hashes[mb] == cur.hashes[mb] && r.mbs[span.clone()] == cur.mbs[span]
            })
            .collect();
        same.iter().any(|&s| s).then_some((i + 1, same))
    }

    /// Checks that every row the encoder reads is in `frame`'s planes.
    fn check_planes(&self, frame: &Frame) -> Result<(), CodingError> {
        let (w, h) = (self.set.width as usize, self.set.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let cpitch = match frame.chroma {
            Chroma::Interleaved(_) => frame.pitch,
            Chroma::Planar { .. } => frame.pitch / 2,
        };
        // Every row read must be in the planes given.
        let need = |plane: &[u8], rows: usize, pitch: usize, row_bytes: usize, what| {
            if pitch < row_bytes || plane.len() < (rows - 1) * pitch + row_bytes {
                Err(CodingError::PlaneTooSmall {
                    plane: what,
                    bytes: plane.len(),
                    rows,
                    row_bytes,
                    pitch,
                })
            } else {
                Ok(())
            }
        };
        need(frame.luma, h, frame.pitch, w, "luma")?;
        match frame.chroma {
            Chroma::Interleaved(uv) => need(uv, ch, cpitch, 2 * cw, "chroma")?,
            Chroma::Planar { cb, cr } => {
                need(cb, ch, cpitch, cw, "Cb")?;
                need(cr, ch, cpitch, cw, "Cr")?;
            }
        }
        Ok(())
    }

    /// Copies `frame` (checked by [`Encoder::check_planes`]) into `pic` as macroblocks (samples
    /// past the right and bottom edges repeat the last column and row, inside the same
    /// macroblock), hashes each, and keeps its rows.
    fn gather(&self, frame: &Frame, pic: &mut Picture) {
        let (w, h) = (self.set.width as usize, self.set.height as usize);
        let (mbw, mbh) = (self.seq.mbw as usize, self.seq.mbh as usize);
        let (cw, ch) = (w / 2, h / 2);
        let cpitch = match frame.chroma {
            Chroma::Interleaved(_) => frame.pitch,
            Chroma::Planar { .. } => frame.pitch / 2,
        };
        pic.mbs.resize(mbw * mbh * MB_BYTES, 0);
        pic.hashes.resize(mbw * mbh, 0);
        for my in 0..mbh {
            for r in 0..16 {
                let y = (my * 16 + r).min(h - 1);
                let row = &frame.luma[y * frame.pitch..y * frame.pitch + w];
                for mx in 0..mbw {
                    let dst = &mut pic.mbs[(my * mbw + mx) * MB_BYTES + r * 16..][..16];
                    let x0 = mx * 16;
                    if x0 + 16 <= w {
                        dst.copy_from_slice(&row[x0..x0 + 16]);
                    } else {
                        for (c, d) in dst.iter_mut().enumerate() {
                            *d = row[(x0 + c).min(w - 1)];
                        }
                    }
                }
            }
            for r in 0..8 {
                let y = (my * 8 + r).min(ch - 1);
                for mx in 0..mbw {
                    let base = (my * mbw + mx) * MB_BYTES + 256 + r * 8;
                    let (cb_dst, cr_dst) = pic.mbs[base..base + 72].split_at_mut(64);
                    let (cb_dst, cr_dst) = (&mut cb_dst[..8], &mut cr_dst[..8]);
                    let x0 = mx * 8;
                    match frame.chroma {
                        Chroma::Interleaved(uv) if x0 + 8 <= cw => {
                            let src = &uv[y * cpitch + 2 * x0..][..16];
                            for c in 0..8 {
                                cb_dst[c] = src[2 * c];
                                cr_dst[c] = src[2 * c + 1];
                            }
                        }
                        Chroma::Planar { cb, cr } if x0 + 8 <= cw => {
                            cb_dst.copy_from_slice(&cb[y * cpitch + x0..][..8]);
                            cr_dst.copy_from_slice(&cr[y * cpitch + x0..][..8]);
                        }
                        _ => {
                            for c in 0..8 {
                                let x = (x0 + c).min(cw - 1);
                                let (b, rr) = match frame.chroma {
                                    Chroma::Interleaved(uv) => {
                                        (uv[y * cpitch + 2 * x], uv[y * cpitch + 2 * x + 1])
                                    }
                                    Chroma::Planar { cb, cr } => {
                                        (cb[y * cpitch + x], cr[y * cpitch + x])
                                    }
                                };
                                cb_dst[c] = b;
                                cr_dst[c] = rr;
                            }
                        }
                    }
                }
            }
        }
        for (h, mb) in pic.hashes.iter_mut().zip(pic.mbs.chunks_exact(MB_BYTES)) {
            *h = mb_hash(mb);
        }
        pic.keep_raw(frame, w, h);
    }
}

/// The macroblock ranges of the slices of a picture of `mbw` × `mbh` macroblocks.
fn slice_ranges(s: Slicing, mbw: usize, mbh: usize) -> Vec<(usize, usize)> {
    let total = mbw * mbh;
    let chunks = |per: usize| -> Vec<(usize, usize)> {
        (0..total)
            .step_by(per)
            .map(|a| (a, (a + per).min(total)))
            .collect()
    };
    match s {
        Slicing::Macroblocks(0) => vec![(0, total)],
        Slicing::Macroblocks(n) => chunks(n as usize),
        Slicing::Rows(0) => vec![(0, total)],
        Slicing::Rows(n) => chunks(n as usize * mbw),
        Slicing::Count(0) => vec![(0, total)],
        Slicing::Count(n) => {
            let n = (n as usize).min(mbh);
            (0..n)
                .map(|i| (i * mbh / n * mbw, (i + 1) * mbh / n * mbw))
                .collect()
        }
    }
}

/// `seq_parameter_set_rbsp()` (7.3.2.1.1) with VUI (E.1.1).
fn write_sps(w: &mut BitWriter, set: &Settings, seq: &Sequence) {
    let (level_idc, set3) = seq.level.idc_and_set3(set.profile);
    let (set4, set5) = match set.profile {
        Profile::ProgressiveHigh => (true, false),
        Profile::ConstrainedHigh => (true, true),
        _ => (false, false),
    };
    w.u(8, set.profile.idc() as u64);
    for flag in [false, false, false, set3, set4, set5] {
        w.u(1, flag as u64);
    }
    w.u(2, 0);
    w.u(8, level_idc as u64);
    w.ue(0); // seq_parameter_set_id
    if set.profile.idc() == 100 {
        w.ue(1); // chroma_format_idc: 4:2:0
        w.ue(0); // bit_depth_luma_minus8
        w.ue(0); // bit_depth_chroma_minus8
        w.u(1, 0); // qpprime_y_zero_transform_bypass_flag
        w.u(1, 0); // seq_scaling_matrix_present_flag
    }
    w.ue(LOG2_MAX_FRAME_NUM - 4);
    w.ue(2); // pic_order_cnt_type
    w.ue(seq.refs); // max_num_ref_frames
    w.u(1, 0); // gaps_in_frame_num_value_allowed_flag
    w.ue(seq.mbw - 1);
    w.ue(seq.mbh - 1);
    w.u(1, 1); // frame_mbs_only_flag
    w.u(1, 1); // direct_8x8_inference_flag
               // Cropping in 4:2:0 frame units of two samples (CropUnitX = CropUnitY = 2).
    let right = (seq.mbw * 16 - set.width) / 2;
    let bottom = (seq.mbh * 16 - set.height) / 2;
    if right > 0 || bottom > 0 {
        w.u(1, 1);
        w.ue(0);
        w.ue(right);
        w.ue(0);
        w.ue(bottom);
    } else {
        w.u(1, 0);
    }
    w.u(1, 1); // vui_parameters_present_flag
    w.u(1, 0); // aspect_ratio_info_present_flag
    w.u(1, 0); // overscan_info_present_flag
    w.u(1, 0); // video_signal_type_present_flag
    w.u(1, 0); // chroma_loc_info_present_flag
    match set.frame_rate {
        // A frame lasts two ticks of time_scale (E.2.1).
        Some((num, den)) if num > 0 && den > 0 && num <= u32::MAX / 2 => {
            w.u(1, 1);
            w.u(32, den as u64);
            w.u(32, 2 * num as u64);
            w.u(1, 1); // fixed_frame_rate_flag
        }
        _ => w.u(1, 0),
    }
    w.u(1, 0); // nal_hrd_parameters_present_flag
    w.u(1, 0); // vcl_hrd_parameters_present_flag
    w.u(1, 0); // pic_struct_present_flag
    w.u(1, 1); // bitstream_restriction_flag
    w.u(1, 1); // motion_vectors_over_pic_boundaries_flag
    w.ue(0); // max_bytes_per_pic_denom: no limit
    w.ue(0); // max_bits_per_mb_denom: no limit
    w.ue(15); // log2_max_mv_length_horizontal
    w.ue(15); // log2_max_mv_length_vertical
    w.ue(0); // max_num_reorder_frames
    w.ue(seq.refs); // max_dec_frame_buffering
    w.trailing();
}

/// `sei_rbsp()` (7.3.2.3) with one `user_data_unregistered` message (payload type 5, D.1.6):
/// the UUID, then [`LABEL`].
fn write_label_sei(w: &mut BitWriter) {
    let mut size = LABEL_UUID.len() + LABEL.len();
    w.u(8, 5); // payloadType
    while size >= 255 {
        w.u(8, 0xff);
        size -= 255;
    }
    w.u(8, size as u64);
    w.raw(&LABEL_UUID);
    w.raw(LABEL.as_bytes());
    w.trailing();
}

/// `pic_parameter_set_rbsp()` (7.3.2.2).
fn write_pps(w: &mut BitWriter, set: &Settings) {
    w.ue(0); // pic_parameter_set_id
    w.ue(0); // seq_parameter_set_id
    w.u(1, 0); // entropy_coding_mode_flag: CAVLC
    w.u(1, 0); // bottom_field_pic_order_in_frame_present_flag
    w.ue(0); // num_slice_groups_minus1
    w.ue(0); // num_ref_idx_l0_default_active_minus1
    w.ue(0); // num_ref_idx_l1_default_active_minus1
    w.u(1, 0); // weighted_pred_flag
    w.u(2, 0); // weighted_bipred_idc
    w.se(set.qp as i32 - 26); // pic_init_qp_minus26
    w.se(0); // pic_init_qs_minus26
    w.se(0); // chroma_qp_index_offset
    w.u(1, 1); // deblocking_filter_control_present_flag
    w.u(1, 0); // constrained_intra_pred_flag
    w.u(1, 0); // redundant_pic_cnt_present_flag
    w.trailing();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(f: impl FnOnce(&mut BitWriter)) -> String {
        let mut w = BitWriter::new();
        f(&mut w);
        let mut s: String = w.bytes.iter().map(|b| format!("{b:08b}")).collect();
        s.push_str(&format!("{:0n$b}", w.acc, n = w.bits as usize));
        if w.bits == 0 {
            s.truncate(w.bytes.len() * 8);
        }
        s
    }

    /// Exp-Golomb codes from table 9-2 and se(v) from table 9-3.
    #[test]
    fn exp_golomb_codes_are_the_standards() {
        for (v, code) in [
            (0, "1"),
            (1, "010"),
            (2, "011"),
            (3, "00100"),
            (6, "00111"),
            (7, "0001000"),
            (25, "000011010"),
            (30, "000011111"),
        ] {
            assert_eq!(bits(|w| w.ue(v)), code, "ue({v})");
        }
        for (v, code) in [
            (0, "1"),
            (1, "010"),
            (-1, "011"),
            (2, "00100"),
            (-3, "00111"),
        ] {
            assert_eq!(bits(|w| w.se(v)), code, "se({v})");
        }
        // Large values (a skip run over a whole 8K picture) still fit.
        let s = bits(|w| w.ue(139_264));
        assert_eq!(s.len(), 2 * 18 - 1);
        assert_eq!(bits(|w| w.u(3, 0b101)), "101");
        assert_eq!(
            bits(|w| {
                w.u(3, 0b101);
                w.trailing()
            }),
            "10110000"
        );
    }

    #[test]
    fn emulation_prevention_breaks_every_start_code_pattern() {
        let cases: [(&[u8], &[u8]); 7] = [
            (&[0, 0, 0], &[0, 0, 3, 0]),
            (&[0, 0, 1], &[0, 0, 3, 1]),
            (&[0, 0, 2], &[0, 0, 3, 2]),
            (&[0, 0, 3], &[0, 0, 3, 3]),
            (&[0, 0, 4], &[0, 0, 4]),
            (&[5, 0, 0, 0, 0, 0, 9], &[5, 0, 0, 3, 0, 0, 3, 0, 9]),
            (&[0, 0], &[0, 0]),
        ];
        for (rbsp, want) in cases {
            let mut out = Vec::new();
            escape(rbsp, &mut out);
            assert_eq!(out, want, "{rbsp:?}");
        }
        // A long payload of zeros (a black I_PCM picture): no 0x0000 followed by ≤ 3 remains.
        let mut zeros = vec![0u8; 1000];
        zeros.push(0x80);
        let mut out = Vec::new();
        escape(&zeros, &mut out);
        assert!(out
            .windows(3)
            .all(|w| !(w[0] == 0 && w[1] == 0 && w[2] <= 3) || w[2] == 3));
        let unescaped: Vec<u8> = {
            let mut v = Vec::new();
            let mut z = 0;
            for &b in &out {
                if z >= 2 && b == 3 {
                    z = 0;
                    continue;
                }
                z = if b == 0 { z + 1 } else { 0 };
                v.push(b);
            }
            v
        };
        assert_eq!(unescaped, zeros);
    }

    #[test]
    fn levels_come_from_table_a1() {
        // 1080p (120 × 68 macroblocks, 8160): 16 references need MaxDpbMbs ≥ 130560: 5.1.
        let (l, refs) = choose_level(120, 68, 16, 0).unwrap();
        assert_eq!((l.name(), refs), ("5.1".into(), 16));
        // QCIF (11 × 9 = 99 macroblocks): 16 × 99 = 1584 ≤ 2376: level 1.2.
        assert_eq!(choose_level(11, 9, 16, 0).unwrap().0.name(), "1.2");
        // A requested level holds what it can: 4.1 holds 4 1080p frames.
        assert_eq!(
            choose_level(120, 68, 16, 41).unwrap(),
            (Level { nvenc: 41 }, 4)
        );
        let e = choose_level(120, 68, 16, 30).unwrap_err();
        assert!(
            matches!(&e, CodingError::LevelTooSmall { level, .. } if level == "3.0"),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("does not fit H.264 level 3.0"),
            "{e}"
        );
        // 4096 × 2304 (256 × 144): level 5.1 fits the frame but holds 5; 6.0 holds 16.
        assert_eq!(choose_level(256, 144, 16, 0).unwrap().0.name(), "6.0");
        assert_eq!(
            choose_level(1024, 1024, 1, 0),
            Err(CodingError::FrameTooLarge {
                mbw: 1024,
                mbh: 1024
            })
        );
        assert_eq!(
            Level { nvenc: 9 }.idc_and_set3(Profile::Main),
            (11, true),
            "level 1b in Main is 11 with constraint_set3"
        );
        assert_eq!(Level { nvenc: 9 }.idc_and_set3(Profile::High), (9, false));
    }

    #[test]
    fn slices_cover_the_picture_in_order() {
        for s in [
            Slicing::Macroblocks(0),
            Slicing::Macroblocks(7),
            Slicing::Rows(2),
            Slicing::Count(1),
            Slicing::Count(3),
            Slicing::Count(50),
        ] {
            let r = slice_ranges(s, 11, 9);
            assert_eq!(r[0].0, 0, "{s:?}");
            assert_eq!(r.last().unwrap().1, 99, "{s:?}");
            for w in r.windows(2) {
                assert_eq!(w[0].1, w[1].0, "{s:?}");
            }
            assert!(r.iter().all(|(a, b)| a < b), "{s:?}");
        }
        assert_eq!(slice_ranges(Slicing::Count(3), 11, 9).len(), 3);
        assert_eq!(slice_ranges(Slicing::Count(50), 11, 9).len(), 9);
    }

    fn settings(w: u32, h: u32) -> Settings {
        Settings {
            width: w,
            height: h,
            profile: Profile::Main,
            level: 0,
            max_refs: 0,
            qp: 23,
            frame_rate: Some((30, 1)),
            idr_period: 250,
            gop_length: 250,
            headers: Headers::EveryIdr,
            aud: false,
            slicing: Slicing::Count(1),
        }
    }

    fn planes(w: usize, h: usize, seed: u8) -> Vec<u8> {
        (0..w * h * 3 / 2)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn frame(data: &[u8], w: usize, h: usize) -> Frame<'_> {
        Frame {
            luma: &data[..w * h],
            pitch: w,
            chroma: Chroma::Interleaved(&data[w * h..]),
        }
    }

    /// The decisions the stream is made of: an IDR first (all I_PCM, with headers), a repeated
    /// picture found k pictures back and skipped entirely, a new picture intra, and the IDR
    /// period and forced types obeyed.
    #[test]
    fn repeats_are_skipped_and_new_pictures_are_intra() {
        let (w, h) = (40, 30);
        let mut e = Encoder::new(settings(w, h)).unwrap();
        assert_eq!(e.sequence().mbw * e.sequence().mbh, 6);
        let a = planes(w as usize, h as usize, 1);
        let b = planes(w as usize, h as usize, 2);
        let mut out = Vec::new();
        let c = e
            .encode(&frame(&a, 40, 30), Force::None, false, &mut out)
            .unwrap();
        assert_eq!((c.kind, c.intra_mbs, c.skipped_mbs), (Kind::Idr, 6, 0));
        // Start code, then SPS (0x67), then PPS, the label (SEI, 0x06), the IDR slice (0x65).
        assert_eq!(&out[..5], &[0, 0, 0, 1, 0x67]);
        let label = out
            .windows(LABEL.len())
            .position(|w| w == LABEL.as_bytes())
            .expect("the first access unit says it is simulated");
        assert_eq!(
            &out[label - 16 - 2 - 5..label - 16 - 2],
            &[0, 0, 0, 1, 0x06]
        );
        assert!(out.len() > 6 * MB_BYTES);
        let mut out = Vec::new();
        let c = e
            .encode(&frame(&b, 40, 30), Force::None, false, &mut out)
            .unwrap();
        assert_eq!(c.kind, Kind::Intra, "nothing in common with the IDR");
        assert_eq!(&out[..5], &[0, 0, 0, 1, 0x41], "a non-IDR slice");
        let mut out = Vec::new();
        let c = e
            .encode(&frame(&a, 40, 30), Force::None, false, &mut out)
            .unwrap();
        assert_eq!(
            (c.kind, c.skipped_mbs, c.intra_mbs),
            (Kind::Predicted, 6, 0)
        );
        assert!(
            out.len() < 32,
            "a skipped picture is a few bytes: {}",
            out.len()
        );
        // One macroblock changed: it alone is coded.
        let mut d = a.clone();
        d[0] ^= 1;
        let mut out = Vec::new();
        let c = e
            .encode(&frame(&d, 40, 30), Force::None, false, &mut out)
            .unwrap();
        assert_eq!(
            (c.kind, c.skipped_mbs, c.intra_mbs),
            (Kind::Predicted, 5, 1)
        );
        let c = e
            .encode(&frame(&a, 40, 30), Force::Idr, false, &mut Vec::new())
            .unwrap();
        assert_eq!(c.kind, Kind::Idr);
        let c = e
            .encode(&frame(&a, 40, 30), Force::Intra, false, &mut Vec::new())
            .unwrap();
        assert_eq!(c.kind, Kind::Intra);
        // The IDR period: with 3, every third picture is IDR.
        let mut e = Encoder::new(Settings {
            idr_period: 3,
            gop_length: 3,
            ..settings(w, h)
        })
        .unwrap();
        let kinds: Vec<Kind> = (0..7)
            .map(|_| {
                e.encode(&frame(&a, 40, 30), Force::None, false, &mut Vec::new())
                    .unwrap()
                    .kind
            })
            .collect();
        use Kind::*;
        assert_eq!(
            kinds,
            [Idr, Predicted, Predicted, Idr, Predicted, Predicted, Idr]
        );
    }

    /// Eight distinct pictures looped (gpugate's synthetic input): once the loop has gone round,
    /// every picture is found 8 pictures back and skipped.
    #[test]
    fn a_looped_clip_is_found_a_loop_back() {
        let (w, h) = (32, 32);
        let clips: Vec<Vec<u8>> = (0..8).map(|i| planes(32, 32, 10 + i)).collect();
        let mut e = Encoder::new(settings(w, h)).unwrap();
        for i in 0..24 {
            let c = e
                .encode(
                    &frame(&clips[i % 8], 32, 32),
                    Force::None,
                    false,
                    &mut Vec::new(),
                )
                .unwrap();
            if i >= 8 {
                assert_eq!((c.kind, c.intra_mbs), (Kind::Predicted, 0), "picture {i}");
            } else {
                assert_ne!(c.kind, Kind::Predicted, "picture {i}");
            }
        }
    }

    #[test]
    fn bad_sizes_and_short_planes_are_refused() {
        for (w, h) in [(33, 32), (32, 0)] {
            assert!(
                matches!(Encoder::new(settings(w, h)), Err(CodingError::OddSize { width, height }) if (width, height) == (w, h)),
            );
        }
        let mut e = Encoder::new(settings(32, 32)).unwrap();
        let short = vec![0u8; 32 * 32];
        let f = Frame {
            luma: &short,
            pitch: 32,
            chroma: Chroma::Interleaved(&short[..100]),
        };
        let err = e
            .encode(&f, Force::None, false, &mut Vec::new())
            .unwrap_err();
        assert!(
            matches!(
                err,
                CodingError::PlaneTooSmall {
                    plane: "chroma",
                    bytes: 100,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("chroma"), "{err}");
    }
}
