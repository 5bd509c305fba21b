//! The simulated encoder (`libnvidia-encode.so.1`) as Debian's ffmpeg drives it: ffmpeg's
//! `h264_nvenc` run under the launcher, exactly as gpugate runs it. The streams decode (with
//! ffmpeg's own H.264 decoder) to the very pictures sent; a GPU without NVENC, an old driver,
//! the session limit and the faults fail as the real driver does; and encode time follows the
//! model's engines across processes.
//!
//! These tests need ffmpeg and ffprobe (Debian's ffmpeg package; `bash .ci/test` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gpugate-sim");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory of its own for each test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("gpugate-sim-nvenc-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool(name: &str) -> &'static str {
    let ok = Command::new(name)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{name} is needed by the encoder tests (Debian: apt-get install ffmpeg; bash .ci/test \
         installs it)"
    );
    if name == "ffmpeg" {
        "ffmpeg"
    } else {
        "ffprobe"
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `n` frames of `w` × `h` 4:2:0 (NV12 or I420: the chroma bytes are noise either way): a seeded noisy picture with a block of
/// other noise that moves 8 pixels per frame, in a loop of `period` distinct frames. So the
/// stream has new pictures, pictures that share most macroblocks with an earlier one, and
/// whole repeats; every sample value 0–255 occurs, zeros included (emulation prevention).
fn frames(w: usize, h: usize, n: usize, period: usize) -> Vec<u8> {
    let size = w * h * 3 / 2;
    let mut base = vec![0u8; size];
    let mut s = 7u64;
    for b in base.iter_mut() {
        s = splitmix(s);
        *b = (s >> 56) as u8;
    }
    let mut out = Vec::with_capacity(size * n);
    for i in 0..n {
        let k = i % period;
        let mut f = base.clone();
        let (x0, y0) = (
            (8 * k) % w.saturating_sub(16).max(1),
            (4 * k) % h.saturating_sub(16).max(1),
        );
        let mut t = 1000 + k as u64;
        for y in y0..(y0 + 16).min(h) {
            for x in x0..(x0 + 16).min(w) {
                t = splitmix(t);
                f[y * w + x] = (t >> 56) as u8;
            }
        }
        out.extend_from_slice(&f);
    }
    out
}

/// ffmpeg through the launcher with `sim_args` before `--`.
fn ffmpeg(sim_args: &[&str], args: &[&str]) -> Output {
    Command::new(BIN)
        .args(sim_args)
        .arg("--")
        .arg(tool("ffmpeg"))
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("run gpugate-sim")
}

/// gpugate's encoder arguments (`workload::encode`, NVENC): fastest preset, low latency,
/// constant QP, no B pictures.
const GPUGATE_ARGS: [&str; 12] = [
    "-c:v",
    "h264_nvenc",
    "-gpu",
    "0",
    "-preset",
    "p1",
    "-tune",
    "ll",
    "-rc",
    "constqp",
    "-qp",
    "23",
];

/// Encodes raw `input` (`fmt`, `w`×`h`) with h264_nvenc and `extra` arguments into `out`.
fn encode(
    sim_args: &[&str],
    input: &Path,
    fmt: &str,
    (w, h): (usize, usize),
    extra: &[&str],
    out: &Path,
) -> Output {
    let size = format!("{w}x{h}");
    let mut args = vec![
        "-f",
        "rawvideo",
        "-pix_fmt",
        fmt,
        "-video_size",
        &size,
        "-framerate",
        "30",
        "-i",
        input.to_str().unwrap(),
    ];
    args.extend(GPUGATE_ARGS);
    args.extend(["-bf", "0"]);
    args.extend(extra);
    args.extend(["-y", out.to_str().unwrap()]);
    ffmpeg(sim_args, &args)
}

/// ffprobe's count of decoded frames and the stream's profile and level.
fn probe(file: &Path) -> (u64, String, u32) {
    let o = Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,profile,level",
            "-of",
            "default=nw=1",
        ])
        .arg(file)
        .output()
        .unwrap();
    let s = text(&o.stdout);
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    (
        field("nb_read_frames").parse().unwrap_or(0),
        field("profile"),
        field("level").parse().unwrap_or(0),
    )
}

/// The pictures of `file` decoded by ffmpeg as raw `fmt`.
fn decode(file: &Path, fmt: &str, out: &Path) -> Vec<u8> {
    let o = Command::new(tool("ffmpeg"))
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-f", "rawvideo", "-pix_fmt", fmt, "-y"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "decoding {}: {}",
        file.display(),
        text(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

/// The picture types ffprobe sees, in order ("I", "P"), and which are key frames.
fn picture_types(file: &Path) -> Vec<(String, bool)> {
    let o = Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pict_type,key_frame",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .unwrap();
    text(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.get(1).unwrap_or(&"").to_string(), f[0] == "1")
        })
        .collect()
}

/// The stream decodes to exactly the frames sent, at sizes that are and are not multiples of
/// 16 (frame cropping), from NV12 and from planar 4:2:0 input (ffmpeg's YV12 buffers), and
/// carries the label that says it is simulated.
#[test]
fn ffmpeg_h264_nvenc_output_decodes_to_the_input_exactly() {
    let dir = Scratch::new("lossless");
    for (w, h, fmt) in [
        (176, 144, "nv12"),
        (100, 70, "nv12"),
        (34, 18, "yuv420p"),
        (64, 48, "yuv420p"),
    ] {
        let n = 14;
        let raw = frames(w, h, n, 5);
        let input = dir.path(&format!("in-{w}x{h}.{fmt}"));
        std::fs::write(&input, &raw).unwrap();
        let out = dir.path(&format!("out-{w}x{h}-{fmt}.h264"));
        let o = encode(&[], &input, fmt, (w, h), &["-f", "h264"], &out);
        assert!(o.status.success(), "{w}x{h} {fmt}: {}", text(&o.stderr));
        let (count, profile, _) = probe(&out);
        assert_eq!(count, n as u64, "{w}x{h} {fmt}");
        assert_eq!(profile, "Main", "ffmpeg's default profile, as asked");
        let back = decode(&out, fmt, &dir.path(&format!("dec-{w}x{h}.{fmt}")));
        assert!(
            back == raw,
            "{w}x{h} {fmt}: the decoded pictures differ from the input"
        );
        let stream = std::fs::read(&out).unwrap();
        assert!(
            stream.windows(11).any(|win| win == b"gpugate-sim"),
            "the stream says it is simulated"
        );
        // One IDR, then P pictures (the repeats and the moved block) and I pictures only
        // where nothing could be predicted.
        let types = picture_types(&out);
        assert_eq!(types.len(), n);
        assert_eq!(types[0], ("I".to_string(), true));
        assert!(types[5..].iter().all(|(t, _)| t == "P"), "{types:?}");
    }
}

/// The encoder's options as ffmpeg sets them: an IDR period (`-g`), several slices, an MP4
/// with the SPS and PPS in the container (global header: NvEncGetSequenceParams), and High
/// profile; every stream still decodes exactly.
#[test]
fn idr_period_slices_global_header_and_profiles_are_obeyed() {
    let dir = Scratch::new("options");
    let (w, h, n) = (96, 64, 12);
    let raw = frames(w, h, n, 4);
    let input = dir.path("in.nv12");
    std::fs::write(&input, &raw).unwrap();
    for (name, extra) in [
        ("gop", vec!["-g", "5", "-f", "h264"]),
        ("slices", vec!["-slices", "3", "-f", "h264"]),
        ("mp4", vec!["-f", "mp4"]),
        ("high", vec!["-profile:v", "high", "-f", "h264"]),
    ] {
        let out = dir.path(&format!("out-{name}"));
        let o = encode(&[], &input, "nv12", (w, h), &extra, &out);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let (count, profile, _) = probe(&out);
        assert_eq!(count, n as u64, "{name}");
        let back = decode(&out, "nv12", &dir.path(&format!("dec-{name}.nv12")));
        assert!(
            back == raw,
            "{name}: the decoded pictures differ from the input"
        );
        let keys: Vec<usize> = picture_types(&out)
            .iter()
            .enumerate()
            .filter(|(_, (_, k))| *k)
            .map(|(i, _)| i)
            .collect();
        match name {
            "gop" => assert_eq!(keys, [0, 5, 10], "an IDR picture every 5"),
            "high" => assert_eq!(profile, "High"),
            _ => assert_eq!(keys, [0], "{name}"),
        }
    }
}

/// H100 (no NVENC engine) and an M40 whose engines are all taken away by the fault: the
/// session is refused as the real driver refuses it on an A100 or H100.
#[test]
fn a_gpu_without_nvenc_refuses_the_encode_session() {
    let dir = Scratch::new("no-nvenc");
    let input = dir.path("in.nv12");
    std::fs::write(&input, frames(64, 48, 2, 2)).unwrap();
    for sim in [
        vec!["--model", "h100"],
        vec!["--model", "m40", "--fault", "nvenc-engines=0"],
    ] {
        let o = encode(
            &sim,
            &input,
            "nv12",
            (64, 48),
            &["-f", "h264"],
            &dir.path("o.h264"),
        );
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{sim:?}");
        assert!(
            err.contains("OpenEncodeSessionEx failed: unsupported device (2)"),
            "{sim:?}: {err}"
        );
        assert!(err.contains("No capable devices found"), "{sim:?}: {err}");
    }
}

/// `nvenc-fail`: the session opens, and every picture fails with a generic error whose text
/// (NvEncGetLastErrorString, which ffmpeg prints) names the simulated fault.
#[test]
fn nvenc_fail_fails_the_pictures_with_a_generic_error() {
    let dir = Scratch::new("fail");
    let input = dir.path("in.nv12");
    std::fs::write(&input, frames(64, 48, 3, 3)).unwrap();
    let o = encode(
        &["--fault", "nvenc-fail"],
        &input,
        "nv12",
        (64, 48),
        &["-f", "h264"],
        &dir.path("o.h264"),
    );
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("EncodePicture failed!: generic error (20)"),
        "{err}"
    );
    assert!(err.contains("simulated fault nvenc-fail"), "{err}");
}

/// The NVENC API a driver supports: R450 (API 10.0) is too old for Debian's ffmpeg (11.1),
/// which says which driver it needs; R384 has no NvEncodeAPIGetMaxSupportedVersion at all; R470
/// (470.256.02, API 11.1) encodes.
#[test]
fn old_drivers_refuse_as_their_encoder_libraries_did() {
    let dir = Scratch::new("drivers");
    let input = dir.path("in.nv12");
    std::fs::write(&input, frames(64, 48, 3, 3)).unwrap();
    let run = |driver: &str| {
        encode(
            &["--driver", driver],
            &input,
            "nv12",
            (64, 48),
            &["-f", "h264"],
            &dir.path(&format!("o{driver}.h264")),
        )
    };
    let o = run("450");
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(
            "Driver does not support the required nvenc API version. Required: 11.1 Found: 10.0"
        ),
        "{err}"
    );
    assert!(
        err.contains("The minimum required Nvidia driver for nvenc is 470.57.02 or newer"),
        "{err}"
    );
    let o = run("384");
    let err = text(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("Cannot load NvEncodeAPIGetMaxSupportedVersion"),
        "{err}"
    );
    let o = run("470");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(probe(&dir.path("o470.h264")).0, 3);
}

/// A copy of the built-in m40 model with `edits` (key = value lines replaced), written into
/// `dir`.
fn model_file(dir: &Scratch, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = gpugate_sim::model::builtin_text("m40").unwrap().to_string();
    for (key, value) in edits {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no {key} in the m40 model"))
            .to_string();
        text = text.replace(&line, &format!("{key} = {value}"));
    }
    let p = dir.path(&format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// The encode records of a simulator log.
fn encode_records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "encode")
        .collect()
}

/// The encode rate while every session was encoding: the pictures completed between the last
/// session's first submission and the first session's last completion, over that window
/// (ffmpeg's start-up, which differs per process, stays out); the window's length; and the
/// pictures each engine coded (all of them).
fn steady_rate(records: &[serde_json::Value]) -> (f64, f64, Vec<usize>) {
    use std::collections::BTreeMap;
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
    let mut sessions: BTreeMap<(u64, u64), (f64, f64)> = BTreeMap::new();
    let mut per_engine = vec![0; 2];
    for r in records {
        let key = (r["pid"].as_u64().unwrap(), r["session"].as_u64().unwrap());
        let e = sessions.entry(key).or_insert((f64::INFINITY, 0.0));
        e.0 = e.0.min(f(r, "submitted"));
        e.1 = e.1.max(f(r, "done"));
        per_engine[r["engine"].as_u64().unwrap() as usize] += 1;
    }
    let t0 = sessions.values().map(|s| s.0).fold(0.0, f64::max);
    let t1 = sessions.values().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let done = records
        .iter()
        .filter(|r| f(r, "done") > t0 && f(r, "done") <= t1)
        .count();
    (done as f64 / (t1 - t0), t1 - t0, per_engine)
}

/// `sessions` concurrent ffmpeg processes (one simulated machine: one launcher running a
/// shell) encoding `frames` frames of `input` each.
fn concurrent(
    sim_args: &[&str],
    input: &Path,
    (w, h): (usize, usize),
    sessions: usize,
    frames: usize,
    dir: &Scratch,
) -> Output {
    let mut script = String::new();
    for i in 0..sessions {
        script.push_str(&format!(
            "ffmpeg -hide_banner -nostdin -loglevel error -f rawvideo -pix_fmt nv12 -video_size \
             {w}x{h} -framerate 30 -stream_loop -1 -i {} -frames:v {frames} {} -bf 0 -f h264 -y \
             {} & ",
            input.display(),
            GPUGATE_ARGS.join(" "),
            dir.path(&format!("s{i}.h264")).display()
        ));
    }
    script.push_str("wait");
    Command::new(BIN)
        .args(sim_args)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap()
}

/// Encode time is the model's: a picture of w × h holds its engine for w·h / 1920·1080 /
/// `h264_1080p_fps_per_engine` seconds, and sessions (separate processes) share the engines,
/// one engine per session: N sessions on E engines encode at min(N, E) × one engine's rate.
///
/// The model here runs 1 frame per second per engine at 1080p, so a 192 × 108 frame (1 % of
/// the pixels) takes 10 ms of engine time: far more than this machine's CPU needs to prepare
/// one, so the engines stay busy and the measured rates are the modelled ones. Rates come from
/// the simulator's log, over the window where every session was encoding (ffmpeg's start-up
/// differs per process). The band: no faster than the model, give or take the one completion
/// per engine that the window's edges can catch (an engine never codes two pictures at once),
/// and at most 15 % slower (an engine idles only when a CPU starved by other work is late with
/// the next picture; ffmpeg keeps three in flight). Concurrent sessions encode for about a
/// second each: ffmpeg's start-up on a loaded machine can differ by more than the 0.3 s that
/// 30 frames take, which left no window where both encoded.
#[test]
fn sessions_share_the_models_engines_across_processes() {
    let dir = Scratch::new("engines");
    let model = model_file(&dir, "slow-m40", &[("h264_1080p_fps_per_engine", "1.0")]);
    let model = model.to_str().unwrap();
    let (w, h) = (192, 108);
    let input = dir.path("in.nv12");
    std::fs::write(&input, frames(w, h, 4, 4)).unwrap();
    let per_engine = 100.0; // 1 fps at 1080p → 100 fps at 1 % of the pixels.
    for (sessions, faults, engines_used, frames) in [
        (1, None, 1, 30),
        (2, None, 2, 100),
        (4, None, 2, 80),
        (2, Some("nvenc-engines=1"), 1, 60),
    ] {
        let log = dir.path(&format!("log-{sessions}-{}", faults.is_some()));
        let mut sim = vec!["--model", model, "--log", log.to_str().unwrap()];
        if let Some(f) = faults {
            sim.extend(["--fault", f]);
        }
        let o = concurrent(&sim, &input, (w, h), sessions, frames, &dir);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let records = encode_records(&log);
        assert_eq!(records.len(), sessions * frames);
        for r in &records {
            let s = r["seconds"].as_f64().unwrap();
            assert!((s - 0.01).abs() < 1e-9, "engine time of one frame: {s}");
        }
        let (fps, window, by_engine) = steady_rate(&records);
        let want = per_engine * engines_used as f64;
        assert!(
            window > 0.1,
            "{sessions} session(s): a window of {window} s"
        );
        assert!(
            fps <= want + engines_used as f64 / window + 1e-6 && fps >= want * 0.85,
            "{sessions} session(s), {faults:?}: {fps:.1} fps over {window:.2} s, the model \
             gives {want}"
        );
        let busy = by_engine.iter().filter(|&&n| n > 0).count();
        assert_eq!(busy, engines_used, "{sessions} sessions: {by_engine:?}");
    }
}

/// The rate scales with pixels from the model's 1080p figure: on the built-in M40 (270 fps per
/// engine at 1080p) a 1080p picture takes 1/270 s of engine time, a 960 × 540 one a quarter of
/// that.
#[test]
fn engine_time_scales_with_pixels_from_the_models_1080p_rate() {
    let dir = Scratch::new("scale");
    for (w, h, want) in [(1920, 1080, 1.0 / 270.0), (960, 540, 0.25 / 270.0)] {
        let input = dir.path("in.nv12");
        std::fs::write(&input, frames(w, h, 2, 2)).unwrap();
        let log = dir.path("log");
        let o = encode(
            &["--log", log.to_str().unwrap()],
            &input,
            "nv12",
            (w, h),
            &["-f", "h264"],
            &dir.path("o.h264"),
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let records = encode_records(&log);
        assert_eq!(records.len(), 2);
        for r in records {
            let s = r["seconds"].as_f64().unwrap();
            assert!((s - want).abs() < 1e-9, "{w}x{h}: {s} s, want {want}");
        }
    }
}

/// A model with a session limit (as GeForce boards had): while one session is open, a second
/// process's session is refused with out of memory, the GeForce drivers' answer; once the
/// first has closed, a new one opens.
#[test]
fn the_models_session_limit_holds_across_processes() {
    let dir = Scratch::new("limit");
    let model = model_file(
        &dir,
        "capped",
        &[("max_sessions", "1"), ("h264_1080p_fps_per_engine", "1.0")],
    );
    let (w, h) = (192, 108);
    let input = dir.path("in.nv12");
    std::fs::write(&input, frames(w, h, 2, 2)).unwrap();
    let one = |out: &str, frames: usize| {
        format!(
            "ffmpeg -hide_banner -nostdin -loglevel error -f rawvideo -pix_fmt nv12 -video_size \
             {w}x{h} -stream_loop -1 -i {} -frames:v {frames} {} -bf 0 -f h264 -y {}",
            input.display(),
            GPUGATE_ARGS.join(" "),
            dir.path(out).display()
        )
    };
    // The first encodes 200 frames (2 s); the second starts once the first's session is open
    // (the simulator's log says so); the third after the first has finished.
    let log = dir.path("log");
    let script = format!(
        "{} >/dev/null 2>first.err & until grep -q '\"action\":\"open\"' {log}; do sleep \
         0.05; done; {} 2>second.err; echo second=$?; wait; {} 2>third.err && echo third=ok",
        one("a.h264", 200),
        one("b.h264", 5),
        one("c.h264", 5),
        log = log.display()
    );
    let o = Command::new(BIN)
        .args([
            "--model",
            model.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .args(["--", "sh", "-c", &script])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    let err = |f: &str| std::fs::read_to_string(dir.path(f)).unwrap_or_default();
    assert!(
        out.contains("second=") && !out.contains("second=0"),
        "{out}"
    );
    assert!(
        err("second.err").contains("OpenEncodeSessionEx failed: out of memory (10)"),
        "{}",
        err("second.err")
    );
    assert!(out.contains("third=ok"), "{out}\n{}", err("third.err"));
    assert_eq!(probe(&dir.path("a.h264")).0, 200, "{}", err("first.err"));
}
