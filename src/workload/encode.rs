//! Hardware video encode throughput through a real encoder: ffmpeg's `h264_nvenc` (NVENC, the
//! GPU's fixed-function H.264 encoder; ffmpeg itself loads the driver's `libnvidia-encode`), or
//! `libx264` on the CPU, which drives the same code in tests on machines without a GPU.
//!
//! The measurement follows NVIDIA's AppEncPerf: synthetic NV12 frames, constant QP, the
//! fastest preset, one session and then N concurrent sessions, the aggregate frames per second.
//! A few distinct frames (seeded: a moving pattern with a little noise, never a flat or random
//! picture, so the bitstream is of ordinary size) are written once to a temporary file and
//! looped by ffmpeg (`-stream_loop -1`), so reading the input costs nothing.
//!
//! Timing: each session's wall time runs from spawning ffmpeg to its exit, and `aggregate_fps`
//! is all frames over the wall time of the slowest. That includes ffmpeg's start-up and the
//! encoder's initialisation (a CUDA context, without persistence mode easily a second), so the
//! measurement also reads ffmpeg's progress reports (`-progress`, every 0.1 s) and gives
//! `steady_fps`: the frames all sessions encoded in the window where every one of them was
//! encoding, over that window, which is what the hardware sustains. [`EncodeRun::fps`] is the
//! steady rate where the reports allow it (a run long enough to report mid-way), else the
//! aggregate.
//!
//! Checks: every bitstream is non-empty and `ffprobe -count_frames` (which decodes it) reads
//! back exactly the frames sent.
//!
//! Nothing here prints. A missing ffmpeg, ffprobe, encoder or driver library is a typed
//! [`EncodeError`] that names what is missing and what to install. Children still running at
//! the timeout are killed.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::model::{Mismatch, Verification, VerifyStatus};

/// The encoder ffmpeg drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    /// `h264_nvenc` on CUDA device `gpu` (ffmpeg's `-gpu`, in CUDA's ordinal order).
    Nvenc { gpu: u32 },
    /// `libx264` on the CPU (`ultrafast`, one thread per session): the same path without a
    /// GPU, for tests.
    Libx264,
}

impl Encoder {
    /// ffmpeg's name of the encoder.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            Encoder::Nvenc { .. } => "h264_nvenc",
            Encoder::Libx264 => "libx264",
        }
    }

    /// The encoder arguments: constant QP 23, no B-frames, the fastest preset. For NVENC:
    /// `p1` with low-latency tuning (the preset names of Video Codec SDK 10+, which ffmpeg
    /// 4.3 and later take); `legacy` uses the pre-SDK-10 name `llhp` for an ffmpeg that does
    /// not know `p1`.
    fn args(self, legacy: bool) -> Vec<String> {
        let mut a: Vec<String> = vec!["-c:v".into(), self.ffmpeg_name().into()];
        match self {
            Encoder::Nvenc { gpu } => {
                a.extend(["-gpu".into(), gpu.to_string()]);
                if legacy {
                    a.extend(["-preset".into(), "llhp".into()]);
                } else {
                    a.extend(["-preset", "p1", "-tune", "ll"].map(String::from));
                }
                a.extend(["-rc", "constqp", "-qp", "23", "-bf", "0"].map(String::from));
            }
            Encoder::Libx264 => {
                a.extend(
                    [
                        "-preset",
                        "ultrafast",
                        "-qp",
                        "23",
                        "-bf",
                        "0",
                        "-threads",
                        "1",
                    ]
                    .map(String::from),
                );
            }
        }
        a
    }
}

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    pub encoder: Encoder,
    pub width: usize,
    pub height: usize,
    /// Frames each session encodes.
    pub frames: usize,
    /// Concurrent sessions (each its own ffmpeg process).
    pub sessions: usize,
    /// Seed of the synthetic frames.
    pub seed: u64,
    /// Wall-clock limit of one run (all its sessions); children still running are killed.
    pub timeout: Duration,
    /// ffmpeg and ffprobe to run; None: looked up on the search path.
    pub ffmpeg: Option<PathBuf>,
    pub ffprobe: Option<PathBuf>,
    /// Where to look them up; None: the PATH environment variable.
    pub search_path: Option<std::ffi::OsString>,
}

impl EncodeOptions {
    /// The acceptance run's options: 1080p, `frames` per session.
    pub fn new(encoder: Encoder, sessions: usize, frames: usize, seed: u64) -> Self {
        EncodeOptions {
            encoder,
            width: 1920,
            height: 1080,
            frames,
            sessions,
            seed,
            timeout: default_timeout(frames, sessions),
            ffmpeg: None,
            ffprobe: None,
            search_path: None,
        }
    }
}

/// A generous limit: a minute of start-up, then 10 frames per second per session at worst
/// (a healthy NVENC does well over 100 at 1080p).
pub fn default_timeout(frames: usize, sessions: usize) -> Duration {
    Duration::from_secs(60 + (frames * sessions.max(1) / 10) as u64)
}

/// One session of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionResult {
    /// Seconds from spawning ffmpeg to its exit.
    pub seconds: f64,
    /// Bytes of the bitstream written.
    pub bytes: u64,
    /// Frames ffprobe decoded from the bitstream; None when it was not read back.
    pub frames_read_back: Option<u64>,
}

/// One measured run: `sessions` concurrent encodes of `frames` frames each.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeRun {
    pub encoder: &'static str,
    /// The ffmpeg version line, e.g. "ffmpeg version 5.1.6-0+deb12u1".
    pub ffmpeg_version: String,
    /// The encoder arguments used (after any fallback).
    pub encoder_args: Vec<String>,
    pub frames: usize,
    pub sessions: Vec<SessionResult>,
    /// Seconds from the first spawn to the last exit.
    pub wall_seconds: f64,
    /// All frames over `wall_seconds` (start-up included).
    pub aggregate_fps: f64,
    /// Frames per second while every session was encoding (start-up excluded), where ffmpeg's
    /// progress reports allow it.
    pub steady_fps: Option<f64>,
    /// Every bitstream non-empty with the frames sent.
    pub verification: Verification,
}

impl EncodeRun {
    /// The run's throughput: the steady rate where known, else the aggregate.
    pub fn fps(&self) -> f64 {
        self.steady_fps.unwrap_or(self.aggregate_fps)
    }
}

/// Why the encode measurement could not run. Every message names what is missing and what to
/// install or do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "ffmpeg was not found on PATH: the hardware encode check drives the encoder through \
         ffmpeg ({encoder}). Install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg, whose \
         build has h264_nvenc and libx264), or put it on PATH"
    )]
    FfmpegMissing { encoder: &'static str },
    #[error(
        "ffprobe was not found on PATH: it reads the encoded frames back. Install it with \
         ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)"
    )]
    FfprobeMissing,
    #[error(
        "this ffmpeg ({ffmpeg}, {version}) has no {encoder} encoder: install an ffmpeg built \
         with it (Debian/Ubuntu's ffmpeg package has h264_nvenc and libx264)"
    )]
    EncoderMissing {
        encoder: &'static str,
        ffmpeg: String,
        version: String,
    },
    #[error(
        "ffmpeg's h264_nvenc could not load libnvidia-encode.so.1, the NVIDIA driver's video \
         encode library: install it for the driver that runs (Debian/Ubuntu: \
         libnvidia-encode-<branch>, e.g. libnvidia-encode-535; NVIDIA's .run installer and \
         CUDA repository drivers include it); in a container, set \
         NVIDIA_DRIVER_CAPABILITIES=compute,utility,video (or all). ffmpeg said: {line}"
    )]
    NvencLibraryMissing { line: String },
    #[error(
        "ffmpeg's h264_nvenc could not load libcuda.so.1: install the NVIDIA driver (its CUDA \
         library); in a container, run with the NVIDIA container runtime. ffmpeg said: {line}"
    )]
    CudaLibraryMissing { line: String },
    #[error(
        "ffmpeg's h264_nvenc could not find {symbol} in libcuda.so.1: the CUDA driver library \
         loaded first is incomplete or not NVIDIA's (a simulator, a stub from a CUDA toolkit's \
         stubs directory, a mixed install): install the NVIDIA driver and make its \
         libcuda.so.1 the one on the library path; NVENC also needs the driver's \
         libnvidia-encode.so.1. ffmpeg said: {line}"
    )]
    CudaEntryPointMissing { symbol: String, line: String },
    #[error(
        "ffmpeg's h264_nvenc needs a newer NVIDIA driver than this one: update the driver, or \
         use an ffmpeg built against an older NVENC API (nv-codec-headers). ffmpeg said: \
         {detail}"
    )]
    DriverTooOld { detail: String },
    #[error(
        "the driver refused an encode session on this GPU (no NVENC on it, NVENC disabled, or \
         its session limit reached: check nvidia-smi -q -d ENCODER_STATS for other sessions). \
         ffmpeg said: {detail}"
    )]
    SessionRefused { detail: String },
    #[error("ffmpeg failed ({status}) encoding with {encoder}: {stderr_tail}")]
    Failed {
        encoder: &'static str,
        status: String,
        stderr_tail: String,
    },
    #[error(
        "the encode run did not finish within {seconds:.0} s (its ffmpeg processes were \
         killed): the encoder is far slower than it should be, or hung; look for Xid errors \
         (dmesg | grep -i xid) and other encode sessions (nvidia-smi -q -d ENCODER_STATS)"
    )]
    Timeout { seconds: f64 },
    #[error("interrupted: the run was asked to stop (its ffmpeg processes were killed)")]
    Interrupted,
    /// ffprobe gave no frame count for a bitstream (it could not decode it).
    #[error("ffprobe read no frame count ({status}): {stderr_tail}")]
    NoFrameCount { status: String, stderr_tail: String },
    #[error("{0}")]
    Io(String),
}

/// The first executable named `name` in the directories of `path` (PATH's syntax), or of the
/// PATH environment variable when `path` is None.
pub fn find_on_path(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let env = std::env::var_os("PATH");
    let path = path.or(env.as_deref())?;
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// ffmpeg and ffprobe, from the options or PATH, and ffmpeg's version line; checks that the
/// encoder is built in.
fn tools(opts: &EncodeOptions) -> Result<(PathBuf, PathBuf, String), EncodeError> {
    let encoder = opts.encoder.ffmpeg_name();
    let ffmpeg = opts
        .ffmpeg
        .clone()
        .or_else(|| find_on_path("ffmpeg", opts.search_path.as_deref()))
        .ok_or(EncodeError::FfmpegMissing { encoder })?;
    let ffprobe = opts
        .ffprobe
        .clone()
        .or_else(|| find_on_path("ffprobe", opts.search_path.as_deref()))
        .ok_or(EncodeError::FfprobeMissing)?;
    let out = |args: &[&str]| -> Result<String, EncodeError> {
        let o = Command::new(&ffmpeg)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| EncodeError::Io(format!("running {}: {e}", ffmpeg.display())))?;
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let version = out(&["-hide_banner", "-version"])?
        .lines()
        .next()
        .unwrap_or("ffmpeg (version unknown)")
        .split(" Copyright")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let encoders = out(&["-hide_banner", "-encoders"])?;
    if !encoders
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(encoder))
    {
        return Err(EncodeError::EncoderMissing {
            encoder,
            ffmpeg: ffmpeg.display().to_string(),
            version,
        });
    }
    Ok((ffmpeg, ffprobe, version))
}

// ------------------------------------------------------------------------------- frames

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Distinct frames written to the input file (ffmpeg loops them).
pub const DISTINCT_FRAMES: usize = 8;

/// Frame `k` of a seeded synthetic NV12 sequence, `width`×`height` (even sizes): smooth
/// gradients and seeded blocks that move a few pixels per frame, with ±2 of noise. An encoder
/// finds motion and texture in it, as in camera video; the bitstream stays of ordinary size.
pub fn synthetic_nv12(width: usize, height: usize, seed: u64, k: usize) -> Vec<u8> {
    let (w, h) = (width, height);
    let mut f = vec![0u8; w * h + w * h / 2];
    // 24 blocks of seeded position, size and level.
    let blocks: Vec<(usize, usize, usize, u8)> = (0..24u64)
        .map(|i| {
            let r = splitmix(seed ^ (i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
            (
                (r % w.max(1) as u64) as usize,
                ((r >> 16) % h.max(1) as u64) as usize,
                (8 + (r >> 32) % (w as u64 / 8).max(1)) as usize,
                (16 + (r >> 48) % 220) as u8,
            )
        })
        .collect();
    let (dx, dy) = (3 * k, 2 * k);
    let mut noise = splitmix(seed ^ (k as u64) << 32);
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = (x + dx, y + dy);
            let mut v = (16 + (sx * 160 / w.max(1) + sy * 60 / h.max(1)) % 220) as u8;
            for &(bx, by, s, level) in &blocks {
                if sx % w >= bx && sx % w < bx + s && sy % h >= by && sy % h < by + s {
                    v = level;
                }
            }
            noise = splitmix(noise);
            f[y * w + x] = v.saturating_add((noise % 5) as u8).saturating_sub(2);
        }
    }
    let uv = &mut f[w * h..];
    for y in 0..h / 2 {
        for x in 0..w / 2 {
            let (sx, sy) = (x + dx / 2, y + dy / 2);
            uv[y * w + 2 * x] = (64 + sx * 128 / (w / 2).max(1) % 128) as u8;
            uv[y * w + 2 * x + 1] = (192 - sy * 128 / (h / 2).max(1) % 128) as u8;
        }
    }
    f
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(seed: u64) -> Result<TempDir, EncodeError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "gpugate-encode-{}-{nanos}-{:x}",
            std::process::id(),
            seed & 0xffff
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| EncodeError::Io(format!("creating {}: {e}", dir.display())))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------------------- timing

/// ffmpeg's progress reports of one session: (seconds since the run started, frames done),
/// and when it exited.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    pub reports: Vec<(f64, u64)>,
    /// Seconds since the run started when the process exited.
    pub end: f64,
    /// Frames it encoded in all.
    pub frames: u64,
}

impl Trace {
    /// Frames done at time `t` (linear between reports; the exit counts as a report).
    fn frames_at(&self, t: f64) -> f64 {
        let mut pts: Vec<(f64, f64)> = self
            .reports
            .iter()
            .map(|&(t, f)| (t, f as f64))
            .filter(|&(pt, _)| pt < self.end)
            .collect();
        pts.push((self.end, self.frames as f64));
        let mut prev = (0.0, 0.0);
        for &(pt, pf) in &pts {
            if t <= pt {
                if pt <= prev.0 {
                    return pf;
                }
                return prev.1 + (pf - prev.1) * (t - prev.0) / (pt - prev.0);
            }
            prev = (pt, pf);
        }
        self.frames as f64
    }

    /// When it first reported an encoded frame (before its end), if it did.
    fn first_frame(&self) -> Option<f64> {
        self.reports
            .iter()
            .find(|&&(t, f)| f > 0 && f < self.frames && t < self.end)
            .map(|&(t, _)| t)
    }
}

/// The frames per second all sessions encoded together while every one of them was encoding:
/// from the latest first report of an encoded frame to the earliest exit. None when a session
/// never reported mid-way (a run too short for ffmpeg's reports) or the window is under 0.2 s.
pub fn steady_fps(traces: &[Trace]) -> Option<f64> {
    let starts: Option<Vec<f64>> = traces.iter().map(Trace::first_frame).collect();
    let t0 = starts?.into_iter().fold(f64::NEG_INFINITY, f64::max);
    let t1 = traces.iter().map(|t| t.end).fold(f64::INFINITY, f64::min);
    if traces.is_empty() || t1 - t0 < 0.2 {
        return None;
    }
    let frames: f64 = traces
        .iter()
        .map(|t| t.frames_at(t1) - t.frames_at(t0))
        .sum();
    (frames > 0.0).then(|| frames / (t1 - t0))
}

// ------------------------------------------------------------------------------- running

/// The last `n` non-empty lines of `text`, joined with " | ".
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// What a failed ffmpeg's stderr says, as an error.
pub fn classify_failure(encoder: &'static str, status: &str, stderr: &str) -> EncodeError {
    let line_with = |needle: &str| {
        stderr
            .lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().to_string())
    };
    if let Some(line) = line_with("libnvidia-encode") {
        return EncodeError::NvencLibraryMissing { line };
    }
    if let Some(line) = line_with("Cannot load libcuda") {
        return EncodeError::CudaLibraryMissing { line };
    }
    if let Some(line) = line_with("Cannot load cu") {
        let symbol = line
            .split("Cannot load ")
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string();
        return EncodeError::CudaEntryPointMissing { symbol, line };
    }
    if let Some(line) = line_with("required nvenc API version")
        .or_else(|| line_with("minimum required Nvidia driver"))
    {
        let related: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("nvenc API") || l.contains("Nvidia driver"))
            .collect();
        return EncodeError::DriverTooOld {
            detail: if related.is_empty() {
                line
            } else {
                related.join(" | ")
            },
        };
    }
    if let Some(line) = line_with("OpenEncodeSessionEx failed")
        .or_else(|| line_with("No capable devices found"))
        .or_else(|| line_with("No NVENC capable devices found"))
    {
        return EncodeError::SessionRefused { detail: line };
    }
    EncodeError::Failed {
        encoder,
        status: status.to_string(),
        stderr_tail: tail(stderr, 4),
    }
}

/// Whether a failure says that this ffmpeg does not know an option the newer preset needs.
fn refuses_new_preset(stderr: &str) -> bool {
    ["\"p1\"", "'p1'", "option preset", "'tune'", "option tune"]
        .iter()
        .any(|n| stderr.contains(n))
}

/// Whether a failure says that this ffmpeg does not know `-stats_period` (before 4.4).
fn refuses_stats_period(stderr: &str) -> bool {
    stderr.contains("stats_period")
}

struct Running {
    child: Child,
    progress: std::thread::JoinHandle<Vec<(f64, u64)>>,
    stderr: std::thread::JoinHandle<String>,
    exited: Option<(f64, ExitStatus)>,
}

fn spawn(ffmpeg: &Path, args: &[String], start: Instant) -> Result<Running, EncodeError> {
    let mut child = Command::new(ffmpeg)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| EncodeError::Io(format!("starting {}: {e}", ffmpeg.display())))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let progress = std::thread::spawn(move || {
        let mut reports = Vec::new();
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(v) = line.strip_prefix("frame=") {
                    if let Ok(f) = v.trim().parse::<u64>() {
                        reports.push((start.elapsed().as_secs_f64(), f));
                    }
                }
            }
        }
        reports
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut err) = stderr {
            let _ = err.read_to_string(&mut text);
        }
        // Keep the end: that is where ffmpeg says why it stopped.
        if text.len() > 64 * 1024 {
            let cut = text.len() - 64 * 1024;
            let cut = (cut..text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            text = text[cut..].to_string();
        }
        text
    });
    Ok(Running {
        child,
        progress,
        stderr,
        exited: None,
    })
}

/// Runs `sessions` ffmpeg processes at once and waits for all (killing them at the timeout).
/// Returns per session its trace, exit status and stderr.
fn run_all(
    ffmpeg: &Path,
    per_session: &[Vec<String>],
    timeout: Duration,
) -> Result<Vec<(Trace, ExitStatus, String)>, EncodeError> {
    let start = Instant::now();
    let mut running = Vec::new();
    for args in per_session {
        match spawn(ffmpeg, args, start) {
            Ok(r) => running.push(r),
            Err(e) => {
                for r in &mut running {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                }
                return Err(e);
            }
        }
    }
    loop {
        let mut all = true;
        for r in &mut running {
            if r.exited.is_none() {
                match r.child.try_wait() {
                    Ok(Some(status)) => r.exited = Some((start.elapsed().as_secs_f64(), status)),
                    Ok(None) => all = false,
                    Err(e) => {
                        let _ = r.child.kill();
                        let _ = r.child.wait();
                        return Err(EncodeError::Io(format!("waiting for ffmpeg: {e}")));
                    }
                }
            }
        }
        if all {
            break;
        }
        if crate::stop::requested() {
            for r in &mut running {
                if r.exited.is_none() {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                }
            }
            return Err(EncodeError::Interrupted);
        }
        if start.elapsed() > timeout {
            for r in &mut running {
                if r.exited.is_none() {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                }
            }
            return Err(EncodeError::Timeout {
                seconds: timeout.as_secs_f64(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(running
        .into_iter()
        .map(|r| {
            let (end, status) = r.exited.expect("every session exited");
            let reports = r.progress.join().unwrap_or_default();
            let stderr = r.stderr.join().unwrap_or_default();
            let frames = reports.last().map(|&(_, f)| f).unwrap_or(0);
            (
                Trace {
                    reports,
                    end,
                    frames,
                },
                status,
                stderr,
            )
        })
        .collect())
}

/// How many frames ffprobe decodes from `file`.
fn count_frames(ffprobe: &Path, file: &Path) -> Result<u64, EncodeError> {
    let o = Command::new(ffprobe)
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames"])
        .args(["-of", "default=nokey=1:noprint_wrappers=1"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| EncodeError::Io(format!("running {}: {e}", ffprobe.display())))?;
    let text = String::from_utf8_lossy(&o.stdout);
    text.trim()
        .parse::<u64>()
        .map_err(|_| EncodeError::NoFrameCount {
            status: o.status.to_string(),
            stderr_tail: tail(&String::from_utf8_lossy(&o.stderr), 2),
        })
}

/// Checks each session's bitstream: non-empty, and ffprobe decodes exactly `frames` frames.
pub fn verify_bitstreams(
    ffprobe: &Path,
    files: &[PathBuf],
    frames: usize,
) -> (Verification, Vec<(u64, Option<u64>)>) {
    let mut mismatches = Vec::new();
    let mut per = Vec::new();
    let mut max_error = 0.0f64;
    for (i, f) in files.iter().enumerate() {
        let bytes = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        if bytes == 0 {
            mismatches.push(Mismatch {
                at: format!("session {i}: bitstream bytes (empty or missing)"),
                expected: 1.0,
                got: 0.0,
            });
            max_error = max_error.max(frames as f64);
            per.push((0, None));
            continue;
        }
        match count_frames(ffprobe, f) {
            Ok(n) => {
                if n != frames as u64 {
                    mismatches.push(Mismatch {
                        at: format!("session {i}: frames read back"),
                        expected: frames as f64,
                        got: n as f64,
                    });
                    max_error = max_error.max((n as f64 - frames as f64).abs());
                }
                per.push((bytes, Some(n)));
            }
            Err(why) => {
                mismatches.push(Mismatch {
                    at: format!("session {i}: frames read back ({why})"),
                    expected: frames as f64,
                    got: 0.0,
                });
                max_error = max_error.max(frames as f64);
                per.push((bytes, None));
            }
        }
    }
    let v = Verification {
        status: if mismatches.is_empty() {
            VerifyStatus::Passed
        } else {
            VerifyStatus::Failed
        },
        method: format!(
            "each session's H.264 bitstream non-empty, and ffprobe -count_frames decodes the \
             {frames} frames sent"
        ),
        max_error,
        tolerance: 0.0,
        checked: files.len() as u64,
        mismatches: mismatches.into_iter().take(10).collect(),
    };
    (v, per)
}

/// The ffmpeg arguments of one session.
fn session_args(
    opts: &EncodeOptions,
    input: &Path,
    output: &Path,
    legacy_preset: bool,
    stats_period: bool,
) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-nostats"]
        .map(String::from)
        .to_vec();
    a.extend(["-progress".into(), "pipe:1".into()]);
    if stats_period {
        a.extend(["-stats_period".into(), "0.1".into()]);
    }
    a.extend(["-f", "rawvideo", "-pix_fmt", "nv12"].map(String::from));
    a.extend([
        "-video_size".into(),
        format!("{}x{}", opts.width, opts.height),
        "-framerate".into(),
        "30".into(),
        "-stream_loop".into(),
        "-1".into(),
        "-i".into(),
        input.display().to_string(),
        "-frames:v".into(),
        opts.frames.to_string(),
    ]);
    a.extend(opts.encoder.args(legacy_preset));
    a.extend(["-f".into(), "h264".into(), "-y".into()]);
    a.push(output.display().to_string());
    a
}

/// Encodes `opts.frames` frames in each of `opts.sessions` concurrent ffmpeg sessions and
/// measures the aggregate rate; checks every bitstream. See the module documentation.
pub fn encode(opts: &EncodeOptions) -> Result<EncodeRun, EncodeError> {
    let (ffmpeg, ffprobe, version) = tools(opts)?;
    if !opts.width.is_multiple_of(2)
        || !opts.height.is_multiple_of(2)
        || opts.width == 0
        || opts.height == 0
    {
        return Err(EncodeError::Io(format!(
            "NV12 frames need an even, non-zero size, not {}x{}",
            opts.width, opts.height
        )));
    }
    let sessions = opts.sessions.max(1);
    let dir = TempDir::new(opts.seed)?;
    let input = dir.0.join("frames.nv12");
    {
        let mut data = Vec::new();
        for k in 0..DISTINCT_FRAMES.min(opts.frames.max(1)) {
            data.extend(synthetic_nv12(opts.width, opts.height, opts.seed, k));
        }
        std::fs::write(&input, data)
            .map_err(|e| EncodeError::Io(format!("writing {}: {e}", input.display())))?;
    }
    let outputs: Vec<PathBuf> = (0..sessions)
        .map(|i| dir.0.join(format!("session{i}.h264")))
        .collect();
    let encoder = opts.encoder.ffmpeg_name();
    let (mut legacy, mut stats_period) = (false, true);
    let results = loop {
        let args: Vec<Vec<String>> = outputs
            .iter()
            .map(|o| session_args(opts, &input, o, legacy, stats_period))
            .collect();
        let results = run_all(&ffmpeg, &args, opts.timeout)?;
        let failed = results.iter().find(|(_, s, _)| !s.success());
        let Some((_, status, stderr)) = failed else {
            break results;
        };
        // An older ffmpeg: retry once without what it does not know.
        if stats_period && refuses_stats_period(stderr) {
            stats_period = false;
            continue;
        }
        if !legacy && matches!(opts.encoder, Encoder::Nvenc { .. }) && refuses_new_preset(stderr) {
            legacy = true;
            continue;
        }
        return Err(classify_failure(encoder, &status.to_string(), stderr));
    };
    let traces: Vec<Trace> = results.iter().map(|(t, _, _)| t.clone()).collect();
    let wall = traces.iter().map(|t| t.end).fold(0.0, f64::max);
    let total = (opts.frames * sessions) as f64;
    let (verification, per) = verify_bitstreams(&ffprobe, &outputs, opts.frames);
    Ok(EncodeRun {
        encoder,
        ffmpeg_version: version,
        encoder_args: opts.encoder.args(legacy),
        frames: opts.frames,
        sessions: traces
            .iter()
            .zip(per)
            .map(|(t, (bytes, n))| SessionResult {
                seconds: t.end,
                bytes,
                frames_read_back: n,
            })
            .collect(),
        wall_seconds: wall,
        aggregate_fps: if wall > 0.0 { total / wall } else { 0.0 },
        steady_fps: steady_fps(&traces),
        verification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(reports: &[(f64, u64)], end: f64, frames: u64) -> Trace {
        Trace {
            reports: reports.to_vec(),
            end,
            frames,
        }
    }

    #[test]
    fn steady_rate_is_the_window_where_every_session_encodes() {
        // Two sessions, 100 fps each once started; one starts 0.5 s later.
        let a = trace(&[(0.5, 10), (1.0, 60), (1.5, 110), (2.0, 160)], 2.4, 200);
        let b = trace(&[(1.0, 10), (1.5, 60), (2.0, 110), (2.5, 160)], 2.9, 200);
        let fps = steady_fps(&[a.clone(), b.clone()]).unwrap();
        assert!((fps - 200.0).abs() < 1e-9, "{fps}");
        // The wall-clock aggregate would have said 400 / 2.9 = 138 fps.
        // One session alone: its own rate.
        assert!((steady_fps(std::slice::from_ref(&a)).unwrap() - 100.0).abs() < 1e-9);
        // A session that never reported mid-way (too short a run): unknown.
        let quick = trace(&[(0.05, 30)], 0.05, 30);
        assert_eq!(steady_fps(&[a, quick]), None);
        assert_eq!(steady_fps(&[]), None);
    }

    #[test]
    fn failures_name_what_is_missing() {
        let e = classify_failure(
            "h264_nvenc",
            "exit status: 1",
            "[h264_nvenc @ 0x55] Cannot load libcuda.so.1\nError initializing output stream 0:0",
        );
        assert!(matches!(e, EncodeError::CudaLibraryMissing { .. }), "{e}");
        assert!(e.to_string().contains("install the NVIDIA driver"), "{e}");
        let e = classify_failure(
            "h264_nvenc",
            "exit status: 1",
            "[h264_nvenc @ 0x55] Cannot load libnvidia-encode.so.1\n",
        );
        assert!(e.to_string().contains("libnvidia-encode-<branch>"), "{e}");
        assert!(e.to_string().contains("NVIDIA_DRIVER_CAPABILITIES"), "{e}");
        let e = classify_failure(
            "h264_nvenc",
            "exit status: 1",
            "[h264_nvenc @ 0x5] Driver does not support the required nvenc API version. \
             Required: 11.1 Found: 9.0\n[h264_nvenc @ 0x5] The minimum required Nvidia driver \
             for nvenc is 470.57.02 or newer\n",
        );
        assert!(matches!(e, EncodeError::DriverTooOld { .. }), "{e}");
        assert!(e.to_string().contains("470.57.02"), "{e}");
        let e = classify_failure(
            "h264_nvenc",
            "exit status: 1",
            "[h264_nvenc @ 0x5] Cannot load cuMemAllocPitch_v2\nError initializing output",
        );
        assert!(
            matches!(&e, EncodeError::CudaEntryPointMissing { symbol, .. } if symbol == "cuMemAllocPitch_v2"),
            "{e}"
        );
        assert!(e.to_string().contains("libnvidia-encode.so.1"), "{e}");
        let e = classify_failure(
            "h264_nvenc",
            "exit status: 1",
            "[h264_nvenc @ 0x5] OpenEncodeSessionEx failed: out of memory (10): (no details)\n",
        );
        assert!(matches!(e, EncodeError::SessionRefused { .. }), "{e}");
        let e = classify_failure("libx264", "exit status: 1", "a\nb\nc\nd\ne\nboom\n");
        assert_eq!(
            e.to_string(),
            "ffmpeg failed (exit status: 1) encoding with libx264: c | d | e | boom"
        );
        assert!(refuses_new_preset(
            "[h264_nvenc] Unable to parse option value \"p1\""
        ));
        assert!(!refuses_new_preset("Cannot load libcuda.so.1"));
    }

    #[test]
    fn synthetic_frames_are_seeded_moving_and_not_flat() {
        let a = synthetic_nv12(64, 32, 7, 0);
        assert_eq!(a.len(), 64 * 32 * 3 / 2);
        assert_eq!(a, synthetic_nv12(64, 32, 7, 0));
        assert_ne!(a, synthetic_nv12(64, 32, 8, 0), "the seed matters");
        assert_ne!(a, synthetic_nv12(64, 32, 7, 1), "frames move");
        let luma = &a[..64 * 32];
        let (lo, hi) = (luma.iter().min().unwrap(), luma.iter().max().unwrap());
        assert!(hi - lo > 50, "texture, not a flat frame: {lo}..{hi}");
    }

    #[test]
    fn nvenc_arguments_pick_the_gpu_and_the_fastest_preset() {
        let a = Encoder::Nvenc { gpu: 3 }.args(false).join(" ");
        assert_eq!(
            a,
            "-c:v h264_nvenc -gpu 3 -preset p1 -tune ll -rc constqp -qp 23 -bf 0"
        );
        let legacy = Encoder::Nvenc { gpu: 0 }.args(true).join(" ");
        assert_eq!(
            legacy,
            "-c:v h264_nvenc -gpu 0 -preset llhp -rc constqp -qp 23 -bf 0"
        );
    }

    fn small(encoder: Encoder, sessions: usize) -> EncodeOptions {
        EncodeOptions {
            width: 160,
            height: 96,
            frames: 30,
            timeout: Duration::from_secs(60),
            ..EncodeOptions::new(encoder, sessions, 30, 42)
        }
    }

    /// The encode path end to end with libx264 (the CPU encoder in Debian's ffmpeg; CI
    /// installs it, `bash .ci/test`): one session, then two at once; every bitstream is read
    /// back with ffprobe.
    #[test]
    fn libx264_one_then_two_sessions() {
        for sessions in [1, 2] {
            let run = encode(&small(Encoder::Libx264, sessions)).unwrap_or_else(|e| {
                panic!("{e} (the tests need ffmpeg with libx264: bash .ci/test installs it)")
            });
            assert_eq!(run.encoder, "libx264");
            assert!(run.ffmpeg_version.starts_with("ffmpeg version"), "{run:?}");
            assert_eq!(run.sessions.len(), sessions);
            assert!(run.verification.passed(), "{:?}", run.verification);
            assert_eq!(run.verification.checked, sessions as u64);
            for s in &run.sessions {
                assert_eq!(s.frames_read_back, Some(30), "{run:?}");
                assert!(s.bytes > 0 && s.seconds > 0.0, "{run:?}");
            }
            assert!(run.aggregate_fps > 0.0 && run.fps() > 0.0, "{run:?}");
            assert!(
                run.encoder_args
                    .join(" ")
                    .contains("-preset ultrafast -qp 23"),
                "{run:?}"
            );
        }
    }

    #[test]
    fn a_missing_ffmpeg_or_ffprobe_says_what_to_install() {
        let mut o = small(Encoder::Nvenc { gpu: 0 }, 1);
        o.search_path = Some("/nonexistent-gpugate-dir".into());
        let e = encode(&o).unwrap_err();
        assert!(matches!(e, EncodeError::FfmpegMissing { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("ffmpeg was not found on PATH") && msg.contains("apt-get install ffmpeg"),
            "{msg}"
        );
        assert!(msg.contains("h264_nvenc"), "{msg}");
        // ffmpeg found, ffprobe not.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("ffmpeg");
        std::fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        o.search_path = Some(dir.path().as_os_str().to_owned());
        let e = encode(&o).unwrap_err();
        assert!(matches!(e, EncodeError::FfprobeMissing), "{e}");
        // Both there, but this "ffmpeg" lists no encoder.
        std::fs::copy(&fake, dir.path().join("ffprobe")).unwrap();
        let e = encode(&o).unwrap_err();
        assert!(matches!(e, EncodeError::EncoderMissing { .. }), "{e}");
        assert!(e.to_string().contains("has no h264_nvenc encoder"), "{e}");
    }

    /// On this machine: without a GPU (or its driver), ffmpeg's h264_nvenc cannot load
    /// libcuda.so.1 or libnvidia-encode.so.1, and the error says which and what to install; with
    /// one, the encode runs and checks out.
    #[test]
    fn nvenc_here_runs_or_names_the_missing_library() {
        match encode(&small(Encoder::Nvenc { gpu: 0 }, 1)) {
            Ok(run) => assert!(run.verification.passed(), "{run:?}"),
            Err(
                e @ (EncodeError::CudaLibraryMissing { .. }
                | EncodeError::NvencLibraryMissing { .. }
                | EncodeError::CudaEntryPointMissing { .. }
                | EncodeError::DriverTooOld { .. }
                | EncodeError::SessionRefused { .. }),
            ) => {
                let msg = e.to_string();
                assert!(msg.contains("install") || msg.contains("driver"), "{msg}");
            }
            Err(e) => panic!("unexpected: {e}"),
        }
    }

    /// A bitstream that is empty, or cut short, fails the check with what was read back.
    #[test]
    fn empty_or_truncated_bitstreams_fail_verification() {
        let o = small(Encoder::Libx264, 1);
        let (ffmpeg, ffprobe, _) = tools(&o).expect("ffmpeg and ffprobe (bash .ci/test)");
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.nv12");
        let mut data = Vec::new();
        for k in 0..4 {
            data.extend(synthetic_nv12(160, 96, 1, k));
        }
        std::fs::write(&input, data).unwrap();
        let good = dir.path().join("good.h264");
        let args = session_args(&o, &input, &good, false, true);
        let st = Command::new(&ffmpeg).args(&args).output().unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let (v, per) = verify_bitstreams(&ffprobe, std::slice::from_ref(&good), 30);
        assert!(v.passed(), "{v:?}");
        assert_eq!(per, [(std::fs::metadata(&good).unwrap().len(), Some(30))]);

        let empty = dir.path().join("empty.h264");
        std::fs::write(&empty, b"").unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.h264");
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        let missing = dir.path().join("missing.h264");
        let (v, per) = verify_bitstreams(&ffprobe, &[good, empty, cut, missing], 30);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.checked, 4);
        assert_eq!(v.mismatches.len(), 3, "{v:?}");
        assert!(v.mismatches[0].at.starts_with("session 1: bitstream bytes"));
        assert!(v.mismatches[1]
            .at
            .starts_with("session 2: frames read back"));
        assert!(v.mismatches[1].got < 30.0, "{v:?}");
        assert!(v.mismatches[2].at.starts_with("session 3: bitstream bytes"));
        assert_eq!(per[1], (0, None));
    }
}
