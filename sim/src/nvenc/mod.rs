//! NVIDIA's encoder library (`libnvidia-encode.so.1`, the NVENC API) on the CPU: what ffmpeg's
//! `h264_nvenc` loads beside `libcuda.so.1`.
//!
//! The library exports `NvEncodeAPIGetMaxSupportedVersion` and `NvEncodeAPICreateInstance`,
//! which fills the API's function list; the structures are those of Video Codec SDK 11.1
//! ([`abi`]; nv-codec-headers n11.1.5.2, which Debian 12's ffmpeg 5.1 is built against), and
//! a client built against another API version is refused with NV_ENC_ERR_INVALID_VERSION. It
//! is the same shared object as the simulated driver (the launcher names it
//! `libnvidia-encode.so.1` too), so an encode session opens on a context of the simulated
//! driver and knows its GPU.
//!
//! What it does:
//! - A session opens on a CUDA context (`NvEncOpenEncodeSessionEx`, device type CUDA). A GPU
//!   without NVENC engines (the model's `[nvenc] engines = 0`: A100, H100, H200) refuses it
//!   with NV_ENC_ERR_UNSUPPORTED_DEVICE, as the real driver does; a GPU whose model sets
//!   `max_sessions` refuses one more than that with NV_ENC_ERR_OUT_OF_MEMORY, the GeForce
//!   drivers' answer.
//! - Queries: one codec (H.264), its profiles (Baseline, Main, High, progressive and
//!   constrained High), the presets P1–P7 (and the deprecated ones, for configurations), input
//!   formats NV12, YV12 and IYUV, and the capabilities of this encoder (no B pictures, CAVLC
//!   only, 4096 × 4096 at most, the GPU's engine count).
//! - Encoding: input buffers in host memory (`NvEncCreateInputBuffer`, lock, unlock) coded by
//!   [`h264`]: lossless (I_PCM and skipped macroblocks), with IDR pictures at the configured
//!   period, SPS and PPS as configured (`repeatSPSPPS`, `disableSPSPPS`,
//!   `NvEncGetSequenceParams`), slices (`sliceMode` 0, 2, 3), access unit delimiters. The
//!   client decides picture types or lets the encoder (`enablePTD`).
//! - Time: each picture occupies its session's engine for `pixels / (1920 × 1080) /
//!   h264_1080p_fps_per_engine` seconds (the model's rate), queued behind the pictures already
//!   on that engine, from any process of the machine ([`engines`]); `NvEncLockBitstream` waits
//!   until the picture's engine time has passed (or returns NV_ENC_ERR_LOCK_BUSY with
//!   `doNotWait`). A client's frame rate is therefore wall-clock time as the engines would
//!   give it, at least while this machine's CPU keeps up with them.
//! - Faults: `nvenc-fail` makes every `NvEncEncodePicture` fail with NV_ENC_ERR_GENERIC;
//!   `nvenc-engines=N` leaves N engines working.
//! - Not simulated (NV_ENC_ERR_UNIMPLEMENTED, with a last-error string saying so): registered
//!   CUDA resources as input (`NvEncRegisterResource`, `NvEncMapInputResource`), motion
//!   estimation only, encode statistics, reconfiguration, reference invalidation, async events
//!   (Windows only on the real driver too), `NvEncGetSequenceParamEx`.
//!
//! Every picture is recorded in the simulator's log (`"event":"encode"`, with its engine and
//! engine time), as are sessions opened and refused.

pub mod abi;
pub mod engines;
pub mod h264;

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;

use crate::driver::log;
use crate::driver::shared::{machine, Gpu};
use abi::*;

/// What the simulated encoder calls itself in its error strings.
pub const IMPLEMENTATION: &str =
    "gpugate-sim NVENC (simulated encoder, NVENC API 11.1; lossless H.264: I_PCM and skipped \
     macroblocks)";

/// The frame the model's encode rate is given for.
pub const RATE_FRAME: (u64, u64) = (1920, 1080);

/// Largest frame the encoder takes (its `NV_ENC_CAPS_WIDTH_MAX` / `HEIGHT_MAX`).
pub const MAX_SIDE: u32 = 4096;
/// Smallest (one macroblock).
pub const MIN_SIDE: u32 = 16;

/// A failure: the status returned and the text `NvEncGetLastErrorString` gives.
type Fail = (Status, String);
type NvResult<T = ()> = Result<T, Fail>;

fn fail<T>(status: Status, msg: impl Into<String>) -> NvResult<T> {
    Err((status, msg.into()))
}

// ----------------------------------------------------------------------------- handles

const TAG_SHIFT: u32 = 48;
const TAG_SESSION: u64 = 0x6e65;
const TAG_INPUT: u64 = 0x6e69;
const TAG_OUTPUT: u64 = 0x6e6f;

fn handle(tag: u64, id: u64) -> *mut c_void {
    ((tag << TAG_SHIFT) | id) as usize as *mut c_void
}

fn id_of(tag: u64, h: *mut c_void) -> Option<u64> {
    let h = h as usize as u64;
    (h >> TAG_SHIFT == tag && h & ((1 << TAG_SHIFT) - 1) != 0).then_some(h & ((1 << TAG_SHIFT) - 1))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

// ----------------------------------------------------------------------------- sessions

/// An input buffer: 4:2:0 8-bit, chroma after `height` luma rows.
struct Input {
    width: u32,
    height: u32,
    pitch: u32,
    format: u32,
    data: Vec<u8>,
    locked: bool,
}

/// What one encoded picture left in its bitstream buffer.
#[derive(Clone)]
struct Done {
    done_ns: u64,
    frame_idx: u32,
    time_stamp: u64,
    duration: u64,
    coded: h264::Coded,
}

enum OutState {
    Idle,
    Pending(Done),
    Locked,
}

struct Output {
    data: Vec<u8>,
    state: OutState,
}

/// An initialised encoder.
struct Init {
    encoder: h264::Encoder,
    width: u32,
    height: u32,
    ptd: bool,
    /// Engine time of one picture.
    frame_ns: u64,
    qp: u32,
}

struct Session {
    id: u64,
    gpu: usize,
    engine: u32,
    engines: u32,
    init: Option<Init>,
    inputs: HashMap<u64, Input>,
    outputs: HashMap<u64, Output>,
    last_error: CString,
    frames: u64,
}

type Registry = Mutex<HashMap<u64, Arc<Mutex<Session>>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

fn session(encoder: *mut c_void) -> NvResult<Arc<Mutex<Session>>> {
    let id = id_of(TAG_SESSION, encoder).ok_or((
        ERR_INVALID_ENCODERDEVICE,
        "not an encoder handle of this library".to_string(),
    ))?;
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
        .ok_or((
            ERR_INVALID_ENCODERDEVICE,
            "the encoder was destroyed".to_string(),
        ))
}

/// Runs `f` on the session; a failure becomes its last error and the returned status.
fn with_session(encoder: *mut c_void, f: impl FnOnce(&mut Session) -> NvResult) -> Status {
    guard(|| {
        let s = session(encoder)?;
        let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut s);
        if let Err((_, msg)) = &r {
            s.last_error = CString::new(format!("gpugate-sim: {msg}"))
                .unwrap_or_else(|_| c"gpugate-sim: error".to_owned());
        }
        r
    })
}

/// Runs an entry's body: a panic is NV_ENC_ERR_GENERIC with a line on stderr.
fn guard(f: impl FnOnce() -> NvResult) -> Status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SUCCESS,
        Ok(Err((status, _))) => status,
        Err(_) => {
            log::stderr("internal error in the NVENC library (returned NV_ENC_ERR_GENERIC)");
            ERR_GENERIC
        }
    }
}

/// Writes through a client's out-pointer.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
unsafe fn put<T>(p: *mut T, v: T) -> NvResult {
    if p.is_null() {
        return fail(
            ERR_INVALID_PTR,
            "a NULL pointer where the API writes a result",
        );
    }
    // SAFETY: non-null; the caller promises it is writable.
    unsafe { p.write(v) };
    Ok(())
}

/// A client's structure, checked for NULL and for its version word.
///
/// # Safety
/// `p` must be NULL or point to a `T`.
unsafe fn param<'a, T>(p: *mut T, version: u32, what: &str) -> NvResult<&'a mut T> {
    if p.is_null() {
        return fail(ERR_INVALID_PTR, format!("{what} is NULL"));
    }
    // SAFETY: non-null; every structure of this API starts with its u32 version word.
    let v = unsafe { *(p as *const u32) };
    if v != version {
        return fail(
            ERR_INVALID_VERSION,
            format!(
                "{what} has version {v:#x}, this library implements {version:#x} (NVENC API \
                 {API_MAJOR}.{API_MINOR})"
            ),
        );
    }
    // SAFETY: the caller's structure, of the right version.
    Ok(unsafe { &mut *p })
}

// ----------------------------------------------------------------------------- the GPU

/// The encoder engines of every GPU of the machine.
fn books() -> &'static [engines::Book] {
    static BOOKS: OnceLock<Vec<engines::Book>> = OnceLock::new();
    BOOKS.get_or_init(|| {
        let n = machine().map(|m| m.gpus.len()).unwrap_or(0);
        let dir = std::env::var_os(crate::config::ENV_STATE_DIR)
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from);
        (0..n)
            .map(|g| engines::Book::new(dir.as_ref().map(|d| d.join(format!("nvenc-gpu{g}")))))
            .collect()
    })
}

/// Engine time of one picture of `width` × `height` on `g`: the model's 1080p rate per
/// engine, scaled by pixel count.
pub fn frame_ns(g: &Gpu, width: u32, height: u32) -> u64 {
    let fps = g.model.nvenc.h264_1080p_fps_per_engine;
    let scale = (width as f64 * height as f64) / (RATE_FRAME.0 * RATE_FRAME.1) as f64;
    (scale / fps * 1e9).round() as u64
}

fn gpu(index: usize) -> NvResult<&'static Gpu> {
    let m = machine().map_err(|e| (ERR_GENERIC, e.to_string()))?;
    m.gpus
        .get(index)
        .ok_or((ERR_INVALID_DEVICE, format!("no GPU {index}")))
}

/// The CUDA context handle a session is opened on → its GPU.
fn context_gpu(ctx: *mut c_void) -> NvResult<usize> {
    let d = crate::driver::state::driver().map_err(|_| {
        (
            ERR_INVALID_DEVICE,
            "the CUDA driver is not initialised (cuInit)".to_string(),
        )
    })?;
    let st = d.lock();
    let id = st.ctx_from_handle(ctx as _).map_err(|_| {
        (
            ERR_INVALID_DEVICE,
            "the device is not a live CUDA context".to_string(),
        )
    })?;
    Ok(st.ctxs[&id].device)
}

/// The NVENC API version this machine's driver supports, as (major << 4) | minor.
fn max_api_version() -> NvResult<u32> {
    let cfg = crate::config::get().map_err(|e| {
        let msg = format!("bad configuration in the environment: {e}");
        log::stderr(&msg);
        (ERR_GENERIC, msg)
    })?;
    let (major, minor) = crate::driver_releases::nvenc_api_version(&cfg.driver_version_string());
    Ok((major << 4) | minor)
}

// ----------------------------------------------------------------------------- exports

/// `NVENCSTATUS NvEncodeAPIGetMaxSupportedVersion(uint32_t *version)`: the newest NVENC API
/// the machine's driver supports, `(major << 4) | minor` (R470 from 470.57.02: 11.1; R550:
/// 12.2; see `drivers::nvenc_api_version`).
///
/// # Safety
/// `version` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn NvEncodeAPIGetMaxSupportedVersion(version: *mut u32) -> Status {
    // SAFETY: the caller's out-pointer.
    guard(|| unsafe { put(version, max_api_version()?) })
}

/// `NVENCSTATUS NvEncodeAPICreateInstance(NV_ENCODE_API_FUNCTION_LIST *functionList)`: fills
/// the function list of a client whose list has version `NV_ENCODE_API_FUNCTION_LIST_VER`
/// (SDK 11.1).
///
/// # Safety
/// `list` must be NULL or point to an `NV_ENCODE_API_FUNCTION_LIST`.
#[no_mangle]
pub unsafe extern "C" fn NvEncodeAPICreateInstance(list: *mut FunctionList) -> Status {
    guard(|| {
        // SAFETY: the caller's list.
        let l = unsafe { param(list, FUNCTION_LIST_VER, "NV_ENCODE_API_FUNCTION_LIST") }?;
        let mut e: [FnPtr; FUNCTION_LIST_ENTRIES] = [std::ptr::null(); FUNCTION_LIST_ENTRIES];
        e[entry::OPEN_ENCODE_SESSION] = open_encode_session as FnPtr;
        e[entry::GET_ENCODE_GUID_COUNT] = get_encode_guid_count as FnPtr;
        e[entry::GET_ENCODE_PROFILE_GUID_COUNT] = get_encode_profile_guid_count as FnPtr;
        e[entry::GET_ENCODE_PROFILE_GUIDS] = get_encode_profile_guids as FnPtr;
        e[entry::GET_ENCODE_GUIDS] = get_encode_guids as FnPtr;
        e[entry::GET_INPUT_FORMAT_COUNT] = get_input_format_count as FnPtr;
        e[entry::GET_INPUT_FORMATS] = get_input_formats as FnPtr;
        e[entry::GET_ENCODE_CAPS] = get_encode_caps as FnPtr;
        e[entry::GET_ENCODE_PRESET_COUNT] = get_encode_preset_count as FnPtr;
        e[entry::GET_ENCODE_PRESET_GUIDS] = get_encode_preset_guids as FnPtr;
        e[entry::GET_ENCODE_PRESET_CONFIG] = get_encode_preset_config as FnPtr;
        e[entry::INITIALIZE_ENCODER] = initialize_encoder as FnPtr;
        e[entry::CREATE_INPUT_BUFFER] = create_input_buffer as FnPtr;
        e[entry::DESTROY_INPUT_BUFFER] = destroy_input_buffer as FnPtr;
        e[entry::CREATE_BITSTREAM_BUFFER] = create_bitstream_buffer as FnPtr;
        e[entry::DESTROY_BITSTREAM_BUFFER] = destroy_bitstream_buffer as FnPtr;
        e[entry::ENCODE_PICTURE] = encode_picture as FnPtr;
        e[entry::LOCK_BITSTREAM] = lock_bitstream as FnPtr;
        e[entry::UNLOCK_BITSTREAM] = unlock_bitstream as FnPtr;
        e[entry::LOCK_INPUT_BUFFER] = lock_input_buffer as FnPtr;
        e[entry::UNLOCK_INPUT_BUFFER] = unlock_input_buffer as FnPtr;
        e[entry::GET_ENCODE_STATS] = get_encode_stats as FnPtr;
        e[entry::GET_SEQUENCE_PARAMS] = get_sequence_params as FnPtr;
        e[entry::REGISTER_ASYNC_EVENT] = register_async_event as FnPtr;
        e[entry::UNREGISTER_ASYNC_EVENT] = unregister_async_event as FnPtr;
        e[entry::MAP_INPUT_RESOURCE] = map_input_resource as FnPtr;
        e[entry::UNMAP_INPUT_RESOURCE] = unmap_input_resource as FnPtr;
        e[entry::DESTROY_ENCODER] = destroy_encoder as FnPtr;
        e[entry::INVALIDATE_REF_FRAMES] = invalidate_ref_frames as FnPtr;
        e[entry::OPEN_ENCODE_SESSION_EX] = open_encode_session_ex as FnPtr;
        e[entry::REGISTER_RESOURCE] = register_resource as FnPtr;
        e[entry::UNREGISTER_RESOURCE] = unregister_resource as FnPtr;
        e[entry::RECONFIGURE_ENCODER] = reconfigure_encoder as FnPtr;
        e[entry::CREATE_MV_BUFFER] = create_mv_buffer as FnPtr;
        e[entry::DESTROY_MV_BUFFER] = destroy_mv_buffer as FnPtr;
        e[entry::RUN_MOTION_ESTIMATION_ONLY] = run_motion_estimation_only as FnPtr;
        e[entry::GET_LAST_ERROR_STRING] = get_last_error_string as FnPtr;
        e[entry::SET_IO_CUDA_STREAMS] = set_io_cuda_streams as FnPtr;
        e[entry::GET_ENCODE_PRESET_CONFIG_EX] = get_encode_preset_config_ex as FnPtr;
        e[entry::GET_SEQUENCE_PARAM_EX] = get_sequence_param_ex as FnPtr;
        l.entries = e;
        Ok(())
    })
}

// ----------------------------------------------------------------------------- sessions

fn open_session(device: *mut c_void, device_type: u32, api_version: u32) -> NvResult<u64> {
    let max = max_api_version()?;
    let (major, minor) = (api_version & 0xff, api_version >> 24);
    if (major << 4 | minor) > max {
        return fail(
            ERR_INVALID_VERSION,
            format!(
                "the client asks for NVENC API {major}.{minor}; this driver supports up to {}.{}",
                max >> 4,
                max & 0xf
            ),
        );
    }
    if api_version != API_VERSION {
        log::stderr(&format!(
            "{IMPLEMENTATION}: this client uses NVENC API {major}.{minor} structures; the \
             simulated encoder implements {API_MAJOR}.{API_MINOR}'s only \
             (NV_ENC_ERR_INVALID_VERSION)"
        ));
        return fail(ERR_INVALID_VERSION, "NVENC API version not simulated");
    }
    if device_type != DEVICE_TYPE_CUDA {
        return fail(
            ERR_UNSUPPORTED_DEVICE,
            format!("device type {device_type}: only CUDA devices are simulated"),
        );
    }
    let index = context_gpu(device)?;
    let g = gpu(index)?;
    let engines = g.nvenc_engines();
    let id = next_id();
    let refused = |why: &str, status: Status| -> NvResult<u64> {
        if log::enabled() {
            log::record(
                json!({"event": "encode_session", "gpu": index, "action": "refused",
                "reason": why}),
            );
        }
        fail(status, why)
    };
    let engine = match books()[index].open(engines, g.model.nvenc.max_sessions, id) {
        Err(e) => {
            let msg = format!("the simulator's engine book for GPU {index}: {e}");
            log::stderr(&msg);
            return fail(ERR_GENERIC, msg);
        }
        Ok(Err(engines::Refusal::NoEngine)) => {
            return refused("this GPU has no NVENC engine", ERR_UNSUPPORTED_DEVICE);
        }
        Ok(Err(engines::Refusal::SessionLimit { open, max })) => {
            return refused(
                &format!("{open} encode sessions are open; the driver allows {max} on this GPU"),
                ERR_OUT_OF_MEMORY,
            );
        }
        Ok(Ok(e)) => e,
    };
    if log::enabled() {
        log::record(
            json!({"event": "encode_session", "gpu": index, "action": "open",
            "session": id, "engine": engine, "engines": engines, "pid": std::process::id()}),
        );
    }
    let s = Session {
        id,
        gpu: index,
        engine,
        engines,
        init: None,
        inputs: HashMap::new(),
        outputs: HashMap::new(),
        last_error: CString::default(),
        frames: 0,
    };
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, Arc::new(Mutex::new(s)));
    Ok(id)
}

/// `NvEncOpenEncodeSessionEx`.
unsafe extern "C" fn open_encode_session_ex(
    params: *mut OpenEncodeSessionExParams,
    encoder: *mut *mut c_void,
) -> Status {
    guard(|| {
        if encoder.is_null() {
            return fail(ERR_INVALID_PTR, "encoder is NULL");
        }
        // SAFETY: the caller's parameters.
        let p = unsafe {
            param(
                params,
                OPEN_ENCODE_SESSION_EX_PARAMS_VER,
                "NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS",
            )
        }?;
        let id = open_session(p.device, p.device_type, p.api_version)?;
        // SAFETY: checked non-null; the caller's out-pointer.
        unsafe { encoder.write(handle(TAG_SESSION, id)) };
        Ok(())
    })
}

/// `NvEncOpenEncodeSession` (the pre-Ex form): as the Ex form at this API version.
unsafe extern "C" fn open_encode_session(
    device: *mut c_void,
    device_type: u32,
    encoder: *mut *mut c_void,
) -> Status {
    guard(|| {
        if encoder.is_null() {
            return fail(ERR_INVALID_PTR, "encoder is NULL");
        }
        let id = open_session(device, device_type, API_VERSION)?;
        // SAFETY: checked non-null; the caller's out-pointer.
        unsafe { encoder.write(handle(TAG_SESSION, id)) };
        Ok(())
    })
}

/// `NvEncDestroyEncoder`: the session and its buffers go; its engine is released.
unsafe extern "C" fn destroy_encoder(encoder: *mut c_void) -> Status {
    guard(|| {
        let s = session(encoder)?;
        let s = s.lock().unwrap_or_else(|p| p.into_inner());
        registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&s.id);
        if let Err(e) = books()[s.gpu].close(s.engines, s.id) {
            log::stderr(&format!(
                "the simulator's engine book for GPU {}: {e}",
                s.gpu
            ));
        }
        if log::enabled() {
            log::record(
                json!({"event": "encode_session", "gpu": s.gpu, "action": "close",
                "session": s.id, "frames": s.frames}),
            );
        }
        Ok(())
    })
}

/// `NvEncGetLastErrorString`: what the session's last failure was.
unsafe extern "C" fn get_last_error_string(encoder: *mut c_void) -> *const c_char {
    match session(encoder) {
        Ok(s) => s
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_error
            .as_ptr(),
        Err(_) => c"gpugate-sim: not an encoder handle of this library".as_ptr(),
    }
}

// ----------------------------------------------------------------------------- queries

const PROFILES: [(Guid, h264::Profile); 5] = [
    (PROFILE_BASELINE, h264::Profile::Baseline),
    (PROFILE_MAIN, h264::Profile::Main),
    (PROFILE_HIGH, h264::Profile::High),
    (PROFILE_PROGRESSIVE_HIGH, h264::Profile::ProgressiveHigh),
    (PROFILE_CONSTRAINED_HIGH, h264::Profile::ConstrainedHigh),
];

const INPUT_FORMATS: [u32; 3] = [BUFFER_FORMAT_NV12, BUFFER_FORMAT_YV12, BUFFER_FORMAT_IYUV];

fn h264_only(g: Guid) -> NvResult {
    if g == CODEC_H264 {
        Ok(())
    } else {
        fail(
            ERR_INVALID_PARAM,
            "unsupported codec GUID: the simulated encoder codes H.264 only",
        )
    }
}

/// Writes up to `size` of `items` to `out` and their count to `count`.
///
/// # Safety
/// `out` must be NULL or valid for `size` writes of `T`; `count` NULL or writable.
unsafe fn put_list<T: Copy>(items: &[T], out: *mut T, size: u32, count: *mut u32) -> NvResult {
    if out.is_null() {
        return fail(ERR_INVALID_PTR, "the array is NULL");
    }
    let n = items.len().min(size as usize);
    // SAFETY: the caller's array holds `size` elements.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), out, n) };
    // SAFETY: the caller's out-pointer.
    unsafe { put(count, n as u32) }
}

unsafe extern "C" fn get_encode_guid_count(encoder: *mut c_void, count: *mut u32) -> Status {
    // SAFETY: the caller's out-pointer.
    with_session(encoder, |_| unsafe { put(count, 1) })
}

unsafe extern "C" fn get_encode_guids(
    encoder: *mut c_void,
    guids: *mut Guid,
    size: u32,
    count: *mut u32,
) -> Status {
    // SAFETY: the caller's array and out-pointer.
    with_session(encoder, |_| unsafe {
        put_list(&[CODEC_H264], guids, size, count)
    })
}

unsafe extern "C" fn get_encode_profile_guid_count(
    encoder: *mut c_void,
    codec: Guid,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(count, PROFILES.len() as u32) }
    })
}

unsafe extern "C" fn get_encode_profile_guids(
    encoder: *mut c_void,
    codec: Guid,
    guids: *mut Guid,
    size: u32,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        let list: Vec<Guid> = PROFILES.iter().map(|(g, _)| *g).collect();
        // SAFETY: the caller's array and out-pointer.
        unsafe { put_list(&list, guids, size, count) }
    })
}

unsafe extern "C" fn get_input_format_count(
    encoder: *mut c_void,
    codec: Guid,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(count, INPUT_FORMATS.len() as u32) }
    })
}

unsafe extern "C" fn get_input_formats(
    encoder: *mut c_void,
    codec: Guid,
    formats: *mut u32,
    size: u32,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        // SAFETY: the caller's array and out-pointer.
        unsafe { put_list(&INPUT_FORMATS, formats, size, count) }
    })
}

/// The value of capability `cap` for `s`'s GPU, or None for an unknown query.
fn capability(s: &Session, cap: u32) -> NvResult<Option<i32>> {
    use abi::caps::*;
    let g = gpu(s.gpu)?;
    let mb_per_sec = g.model.nvenc.h264_1080p_fps_per_engine * (120.0 * 68.0);
    Ok(Some(match cap {
        // I and P pictures only; CAVLC; frames; no lossless transform bypass, no 4:4:4.
        NUM_MAX_BFRAMES => 0,
        SUPPORTED_RATECONTROL_MODES => 0x3f,
        LEVEL_MAX => 62,
        LEVEL_MIN => 10,
        WIDTH_MAX | HEIGHT_MAX => MAX_SIDE as i32,
        WIDTH_MIN | HEIGHT_MIN => MIN_SIDE as i32,
        MB_NUM_MAX => ((MAX_SIDE / 16) * (MAX_SIDE / 16)) as i32,
        MB_PER_SEC_MAX => mb_per_sec.round() as i32,
        NUM_MAX_TEMPORAL_LAYERS => 1,
        NUM_ENCODER_ENGINES => s.engines as i32,
        SUPPORT_QPELMV => 1,
        SUPPORT_MONOCHROME
        | SUPPORT_FIELD_ENCODING
        | SUPPORT_FMO
        | SUPPORT_BDIRECT_MODE
        | SUPPORT_CABAC
        | SUPPORT_ADAPTIVE_TRANSFORM
        | SUPPORT_STEREO_MVC
        | SUPPORT_HIERARCHICAL_PFRAMES
        | SUPPORT_HIERARCHICAL_BFRAMES
        | SEPARATE_COLOUR_PLANE
        | SUPPORT_TEMPORAL_SVC
        | SUPPORT_DYN_RES_CHANGE
        | SUPPORT_DYN_BITRATE_CHANGE
        | SUPPORT_DYN_FORCE_CONSTQP
        | SUPPORT_DYN_RCMODE_CHANGE
        | SUPPORT_SUBFRAME_READBACK
        | SUPPORT_CONSTRAINED_ENCODING
        | SUPPORT_INTRA_REFRESH
        | SUPPORT_CUSTOM_VBV_BUF_SIZE
        | SUPPORT_DYNAMIC_SLICE_MODE
        | SUPPORT_REF_PIC_INVALIDATION
        | PREPROC_SUPPORT
        | ASYNC_ENCODE_SUPPORT
        | SUPPORT_YUV444_ENCODE
        | SUPPORT_LOSSLESS_ENCODE
        | SUPPORT_SAO
        | SUPPORT_MEONLY_MODE
        | SUPPORT_LOOKAHEAD
        | SUPPORT_TEMPORAL_AQ
        | SUPPORT_10BIT_ENCODE
        | NUM_MAX_LTR_FRAMES
        | SUPPORT_WEIGHTED_PREDICTION
        | DYNAMIC_QUERY_ENCODER_CAPACITY
        | SUPPORT_BFRAME_REF_MODE
        | SUPPORT_EMPHASIS_LEVEL_MAP
        | SUPPORT_MULTIPLE_REF_FRAMES
        | SUPPORT_ALPHA_LAYER_ENCODING
        | SINGLE_SLICE_INTRA_REFRESH => 0,
        _ => return Ok(None),
    }))
}

unsafe extern "C" fn get_encode_caps(
    encoder: *mut c_void,
    codec: Guid,
    params: *mut CapsParam,
    value: *mut i32,
) -> Status {
    with_session(encoder, |s| {
        h264_only(codec)?;
        // SAFETY: the caller's parameters.
        let p = unsafe { param(params, CAPS_PARAM_VER, "NV_ENC_CAPS_PARAM") }?;
        let v = capability(s, p.caps_to_query)?.ok_or((
            ERR_INVALID_PARAM,
            format!("unknown capability {}", p.caps_to_query),
        ))?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(value, v) }
    })
}

unsafe extern "C" fn get_encode_preset_count(
    encoder: *mut c_void,
    codec: Guid,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(count, PRESETS_P.len() as u32) }
    })
}

unsafe extern "C" fn get_encode_preset_guids(
    encoder: *mut c_void,
    codec: Guid,
    guids: *mut Guid,
    size: u32,
    count: *mut u32,
) -> Status {
    with_session(encoder, |_| {
        h264_only(codec)?;
        // SAFETY: the caller's array and out-pointer.
        unsafe { put_list(&PRESETS_P, guids, size, count) }
    })
}

/// The configuration every preset gives (the encoder has one way of coding): I and P
/// pictures, an IDR picture only first, constant QP, CAVLC, one slice, 4:2:0.
fn preset_config(preset: Guid) -> NvResult<Config> {
    if !PRESETS_P.contains(&preset) && !PRESETS_LEGACY.contains(&preset) {
        return fail(ERR_INVALID_PARAM, "unknown preset GUID");
    }
    let mut c: Config = zeroed();
    c.version = CONFIG_VER;
    c.profile_guid = PROFILE_AUTOSELECT;
    c.gop_length = INFINITE_GOPLENGTH;
    c.frame_interval_p = 1;
    c.frame_field_mode = FRAME_FIELD_MODE_FRAME;
    c.mv_precision = MV_PRECISION_QUARTER_PEL;
    c.rc_params.version = RC_PARAMS_VER;
    c.rc_params.rate_control_mode = RC_CONSTQP;
    c.rc_params.const_qp = Qp {
        inter_p: 28,
        inter_b: 31,
        intra: 25,
    };
    c.h264.idr_period = INFINITE_GOPLENGTH;
    c.h264.entropy_coding_mode = ENTROPY_CODING_CAVLC;
    c.h264.chroma_format_idc = 1;
    c.h264.slice_mode = 3;
    c.h264.slice_mode_data = 1;
    Ok(c)
}

fn fill_preset(codec: Guid, preset: Guid, out: *mut PresetConfig) -> NvResult {
    h264_only(codec)?;
    // SAFETY: the caller's structure.
    let p = unsafe { param(out, PRESET_CONFIG_VER, "NV_ENC_PRESET_CONFIG") }?;
    if p.preset_cfg.version != CONFIG_VER {
        return fail(
            ERR_INVALID_VERSION,
            format!(
                "presetCfg has version {:#x}, this library implements {CONFIG_VER:#x}",
                p.preset_cfg.version
            ),
        );
    }
    p.preset_cfg = preset_config(preset)?;
    Ok(())
}

unsafe extern "C" fn get_encode_preset_config(
    encoder: *mut c_void,
    codec: Guid,
    preset: Guid,
    out: *mut PresetConfig,
) -> Status {
    with_session(encoder, |_| fill_preset(codec, preset, out))
}

unsafe extern "C" fn get_encode_preset_config_ex(
    encoder: *mut c_void,
    codec: Guid,
    preset: Guid,
    tuning: u32,
    out: *mut PresetConfig,
) -> Status {
    with_session(encoder, |_| {
        if tuning >= TUNING_INFO_COUNT {
            return fail(ERR_INVALID_PARAM, format!("unknown tuning info {tuning}"));
        }
        fill_preset(codec, preset, out)
    })
}

// ----------------------------------------------------------------------------- initialise

/// The stream settings from a client's configuration (or the preset's when it gives none).
fn settings(p: &InitializeParams, c: &Config) -> NvResult<(h264::Settings, u32)> {
    let unsupported = |what: &str| fail(ERR_UNSUPPORTED_PARAM, format!("{what} is not simulated"));
    let profile = if c.profile_guid == PROFILE_AUTOSELECT || c.profile_guid == Guid::default() {
        h264::Profile::Main
    } else {
        match PROFILES.iter().find(|(g, _)| *g == c.profile_guid) {
            Some((_, p)) => *p,
            None => return unsupported("this H.264 profile (4:4:4 or stereo)"),
        }
    };
    let intra_only = match c.frame_interval_p {
        0 => true,
        1 => false,
        n => return unsupported(&format!("frameIntervalP {n} (B pictures)")),
    };
    if c.frame_field_mode > FRAME_FIELD_MODE_FRAME {
        return unsupported("field or MBAFF coding");
    }
    let h = &c.h264;
    use h264_flags::*;
    for (flag, what) in [
        (ENABLE_TEMPORAL_SVC, "temporal SVC"),
        (ENABLE_STEREO_MVC, "stereo MVC"),
        (HIERARCHICAL_P_FRAMES, "hierarchical P pictures"),
        (HIERARCHICAL_B_FRAMES, "hierarchical B pictures"),
        (ENABLE_INTRA_REFRESH, "intra refresh"),
        (SINGLE_SLICE_INTRA_REFRESH, "intra refresh"),
        (ENABLE_LTR, "long-term references"),
        (
            QPPRIME_Y_ZERO_TRANSFORM_BYPASS,
            "transform bypass (lossless tuning)",
        ),
    ] {
        if h.flags & flag != 0 {
            return unsupported(what);
        }
    }
    if h.entropy_coding_mode == ENTROPY_CODING_CABAC {
        return unsupported("CABAC (the simulated encoder writes CAVLC)");
    }
    if h.chroma_format_idc > 1 || h.separate_colour_plane_flag != 0 {
        return unsupported("4:4:4 coding");
    }
    let slicing = match h.slice_mode {
        0 => h264::Slicing::Macroblocks(h.slice_mode_data),
        2 => h264::Slicing::Rows(h.slice_mode_data),
        3 => h264::Slicing::Count(h.slice_mode_data),
        1 => return unsupported("sliceMode 1 (slices by size in bytes)"),
        n => return fail(ERR_INVALID_PARAM, format!("sliceMode {n}")),
    };
    let qp = c.rc_params.const_qp.intra.min(51);
    let headers = if h.flags & DISABLE_SPSPPS != 0 {
        h264::Headers::Never
    } else if h.flags & REPEAT_SPSPPS != 0 {
        h264::Headers::EveryIdr
    } else {
        h264::Headers::First
    };
    Ok((
        h264::Settings {
            width: p.encode_width,
            height: p.encode_height,
            profile,
            level: h.level,
            max_refs: h.max_num_ref_frames,
            qp,
            frame_rate: (p.frame_rate_num > 0 && p.frame_rate_den > 0)
                .then_some((p.frame_rate_num, p.frame_rate_den)),
            idr_period: h.idr_period,
            gop_length: if intra_only { 1 } else { c.gop_length },
            headers,
            aud: h.flags & OUTPUT_AUD != 0,
            slicing,
        },
        qp,
    ))
}

unsafe extern "C" fn initialize_encoder(
    encoder: *mut c_void,
    params: *mut InitializeParams,
) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe { param(params, INITIALIZE_PARAMS_VER, "NV_ENC_INITIALIZE_PARAMS") }?;
        if s.init.is_some() {
            return fail(ERR_INVALID_CALL, "the encoder is initialised already");
        }
        h264_only(p.encode_guid)?;
        let (w, h) = (p.encode_width, p.encode_height);
        if !(MIN_SIDE..=MAX_SIDE).contains(&w)
            || !(MIN_SIDE..=MAX_SIDE).contains(&h)
            || !w.is_multiple_of(2)
            || !h.is_multiple_of(2)
        {
            return fail(
                ERR_INVALID_PARAM,
                format!("{w}x{h}: width and height must be even and from {MIN_SIDE} to {MAX_SIDE}"),
            );
        }
        if p.enable_encode_async != 0 {
            return fail(
                ERR_UNSUPPORTED_PARAM,
                "asynchronous encoding (completion events exist on Windows only)",
            );
        }
        use init_flags::*;
        for (flag, what) in [
            (ENABLE_EXTERNAL_ME_HINTS, "external motion hints"),
            (ENABLE_ME_ONLY_MODE, "motion estimation only"),
            (ENABLE_WEIGHTED_PREDICTION, "weighted prediction"),
            (ENABLE_OUTPUT_IN_VIDMEM, "output in video memory"),
        ] {
            if p.flags & flag != 0 {
                return fail(ERR_UNSUPPORTED_PARAM, format!("{what} is not simulated"));
            }
        }
        let config = if p.encode_config.is_null() {
            preset_config(p.preset_guid)?
        } else {
            // SAFETY: the caller's configuration.
            *unsafe { param(p.encode_config, CONFIG_VER, "NV_ENC_CONFIG") }?
        };
        let (set, qp) = settings(p, &config)?;
        let enc = h264::Encoder::new(set).map_err(|e| (ERR_INVALID_PARAM, e.to_string()))?;
        let g = gpu(s.gpu)?;
        s.init = Some(Init {
            encoder: enc,
            width: w,
            height: h,
            ptd: p.enable_ptd != 0,
            frame_ns: frame_ns(g, w, h),
            qp,
        });
        Ok(())
    })
}

unsafe extern "C" fn set_io_cuda_streams(
    encoder: *mut c_void,
    _input: *mut c_void,
    _output: *mut c_void,
) -> Status {
    // Pictures are coded when submitted; there is no stream to order them on.
    with_session(encoder, |_| Ok(()))
}

unsafe extern "C" fn get_sequence_params(
    encoder: *mut c_void,
    payload: *mut SequenceParamPayload,
) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe {
            param(
                payload,
                SEQUENCE_PARAM_PAYLOAD_VER,
                "NV_ENC_SEQUENCE_PARAM_PAYLOAD",
            )
        }?;
        let init = s.init.as_mut().ok_or((
            ERR_ENCODER_NOT_INITIALIZED,
            "NvEncInitializeEncoder first".to_string(),
        ))?;
        if p.spspps_buffer.is_null() {
            return fail(ERR_INVALID_PTR, "spsppsBuffer is NULL");
        }
        let mut headers = Vec::new();
        init.encoder.sequence_headers(&mut headers);
        if headers.len() > p.in_buffer_size as usize {
            return fail(
                ERR_NOT_ENOUGH_BUFFER,
                format!(
                    "the SPS and PPS take {} bytes, the buffer {}",
                    headers.len(),
                    p.in_buffer_size
                ),
            );
        }
        // SAFETY: the caller's buffer holds in_buffer_size bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                headers.as_ptr(),
                p.spspps_buffer as *mut u8,
                headers.len(),
            )
        };
        // SAFETY: the caller's out-pointer.
        unsafe { put(p.out_spspps_payload_size, headers.len() as u32) }
    })
}

// ----------------------------------------------------------------------------- buffers

fn initialised(s: &Session) -> NvResult<&Init> {
    s.init.as_ref().ok_or((
        ERR_ENCODER_NOT_INITIALIZED,
        "NvEncInitializeEncoder first".to_string(),
    ))
}

unsafe extern "C" fn create_input_buffer(
    encoder: *mut c_void,
    params: *mut CreateInputBuffer,
) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe {
            param(
                params,
                CREATE_INPUT_BUFFER_VER,
                "NV_ENC_CREATE_INPUT_BUFFER",
            )
        }?;
        initialised(s)?;
        if !INPUT_FORMATS.contains(&p.buffer_fmt) {
            return fail(
                ERR_UNSUPPORTED_PARAM,
                format!(
                    "input format {:#x}: the simulated encoder takes NV12, YV12 and IYUV",
                    p.buffer_fmt
                ),
            );
        }
        let (w, h) = (p.width, p.height);
        if w == 0
            || h == 0
            || !w.is_multiple_of(2)
            || !h.is_multiple_of(2)
            || w > MAX_SIDE
            || h > MAX_SIDE
        {
            return fail(ERR_INVALID_PARAM, format!("input buffer of {w}x{h}"));
        }
        // Rows start 64-byte aligned; the chroma follows `h` luma rows.
        let pitch = w.next_multiple_of(64);
        let size = pitch as usize * h as usize * 3 / 2;
        let id = next_id();
        s.inputs.insert(
            id,
            Input {
                width: w,
                height: h,
                pitch,
                format: p.buffer_fmt,
                data: vec![0; size],
                locked: false,
            },
        );
        p.input_buffer = handle(TAG_INPUT, id);
        Ok(())
    })
}

unsafe extern "C" fn destroy_input_buffer(encoder: *mut c_void, buffer: *mut c_void) -> Status {
    with_session(encoder, |s| {
        id_of(TAG_INPUT, buffer)
            .and_then(|id| s.inputs.remove(&id))
            .map(|_| ())
            .ok_or((
                ERR_INVALID_PTR,
                "not an input buffer of this encoder".into(),
            ))
    })
}

unsafe extern "C" fn create_bitstream_buffer(
    encoder: *mut c_void,
    params: *mut CreateBitstreamBuffer,
) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe {
            param(
                params,
                CREATE_BITSTREAM_BUFFER_VER,
                "NV_ENC_CREATE_BITSTREAM_BUFFER",
            )
        }?;
        initialised(s)?;
        let id = next_id();
        s.outputs.insert(
            id,
            Output {
                data: Vec::new(),
                state: OutState::Idle,
            },
        );
        p.bitstream_buffer = handle(TAG_OUTPUT, id);
        p.bitstream_buffer_ptr = std::ptr::null_mut();
        Ok(())
    })
}

unsafe extern "C" fn destroy_bitstream_buffer(encoder: *mut c_void, buffer: *mut c_void) -> Status {
    with_session(encoder, |s| {
        id_of(TAG_OUTPUT, buffer)
            .and_then(|id| s.outputs.remove(&id))
            .map(|_| ())
            .ok_or((
                ERR_INVALID_PTR,
                "not a bitstream buffer of this encoder".into(),
            ))
    })
}

fn input_mut(s: &mut Session, h: *mut c_void) -> NvResult<&mut Input> {
    id_of(TAG_INPUT, h)
        .and_then(|id| s.inputs.get_mut(&id))
        .ok_or((
            ERR_INVALID_PTR,
            "not an input buffer of this encoder".into(),
        ))
}

unsafe extern "C" fn lock_input_buffer(
    encoder: *mut c_void,
    params: *mut LockInputBuffer,
) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe { param(params, LOCK_INPUT_BUFFER_VER, "NV_ENC_LOCK_INPUT_BUFFER") }?;
        let b = input_mut(s, p.input_buffer)?;
        b.locked = true;
        p.buffer_data_ptr = b.data.as_mut_ptr() as *mut c_void;
        p.pitch = b.pitch;
        Ok(())
    })
}

unsafe extern "C" fn unlock_input_buffer(encoder: *mut c_void, buffer: *mut c_void) -> Status {
    with_session(encoder, |s| {
        let b = input_mut(s, buffer)?;
        if !b.locked {
            return fail(ERR_INVALID_CALL, "the input buffer is not locked");
        }
        b.locked = false;
        Ok(())
    })
}

// ----------------------------------------------------------------------------- encoding

/// The picture of an input buffer, as the encoder reads it.
fn frame_of(b: &Input) -> h264::Frame<'_> {
    let (pitch, rows) = (b.pitch as usize, b.height as usize);
    let (luma, chroma) = b.data.split_at(pitch * rows);
    let half = pitch / 2 * rows / 2;
    h264::Frame {
        luma,
        pitch,
        chroma: match b.format {
            BUFFER_FORMAT_NV12 => h264::Chroma::Interleaved(chroma),
            // YV12: V then U; IYUV: U then V.
            BUFFER_FORMAT_YV12 => h264::Chroma::Planar {
                cb: &chroma[half..],
                cr: &chroma[..half],
            },
            _ => h264::Chroma::Planar {
                cb: &chroma[..half],
                cr: &chroma[half..],
            },
        },
    }
}

unsafe extern "C" fn encode_picture(encoder: *mut c_void, params: *mut PicParams) -> Status {
    with_session(encoder, |s| {
        // SAFETY: the caller's parameters.
        let p = unsafe { param(params, PIC_PARAMS_VER, "NV_ENC_PIC_PARAMS") }?;
        initialised(s)?;
        if p.encode_pic_flags & PIC_FLAG_EOS != 0 {
            // Nothing is held back (no B pictures): the end of the stream flushes nothing.
            return Ok(());
        }
        let g = gpu(s.gpu)?;
        if g.faults.nvenc_fail {
            return fail(
                ERR_GENERIC,
                format!(
                    "NVENC engine {} of GPU {} did not complete the picture (simulated fault \
                     nvenc-fail)",
                    s.engine, s.gpu
                ),
            );
        }
        let (gpu_index, engine, engine_count, session_id) = (s.gpu, s.engine, s.engines, s.id);
        let Session {
            inputs,
            outputs,
            init,
            frames,
            ..
        } = s;
        let init = init.as_mut().expect("initialised");
        let input = id_of(TAG_INPUT, p.input_buffer)
            .and_then(|id| inputs.get(&id))
            .ok_or((
                ERR_INVALID_PTR,
                "inputBuffer is not an input buffer of this encoder".to_string(),
            ))?;
        let out = id_of(TAG_OUTPUT, p.output_bitstream)
            .and_then(|id| outputs.get_mut(&id))
            .ok_or((
                ERR_INVALID_PTR,
                "outputBitstream is not a bitstream buffer of this encoder".to_string(),
            ))?;
        if input.locked {
            return fail(ERR_INVALID_CALL, "the input buffer is still locked");
        }
        if !matches!(out.state, OutState::Idle) {
            return fail(
                ERR_INVALID_CALL,
                "the bitstream buffer still holds a picture not yet locked and unlocked",
            );
        }
        if p.buffer_fmt != 0 && p.buffer_fmt != input.format {
            return fail(
                ERR_INVALID_PARAM,
                format!(
                    "bufferFmt {:#x} is not the input buffer's {:#x}",
                    p.buffer_fmt, input.format
                ),
            );
        }
        if p.picture_struct > PIC_STRUCT_FRAME {
            return fail(ERR_UNSUPPORTED_PARAM, "field pictures are not simulated");
        }
        if input.width < init.width || input.height < init.height {
            return fail(
                ERR_INVALID_PARAM,
                format!(
                    "the input buffer ({}x{}) is smaller than the encode size ({}x{})",
                    input.width, input.height, init.width, init.height
                ),
            );
        }
        if p.input_pitch != 0 && p.input_pitch != input.pitch {
            return fail(
                ERR_INVALID_PARAM,
                format!(
                    "inputPitch {} is not the input buffer's pitch {}",
                    p.input_pitch, input.pitch
                ),
            );
        }
        let force = if init.ptd {
            if p.encode_pic_flags & PIC_FLAG_FORCEIDR != 0 {
                h264::Force::Idr
            } else if p.encode_pic_flags & PIC_FLAG_FORCEINTRA != 0 {
                h264::Force::Intra
            } else {
                h264::Force::None
            }
        } else {
            match p.picture_type {
                PIC_TYPE_IDR => h264::Force::Idr,
                PIC_TYPE_I => h264::Force::Intra,
                PIC_TYPE_P => h264::Force::Predicted,
                PIC_TYPE_B => return fail(ERR_UNSUPPORTED_PARAM, "B pictures are not simulated"),
                t => return fail(ERR_INVALID_PARAM, format!("pictureType {t}")),
            }
        };
        out.data.clear();
        let coded = init
            .encoder
            .encode(
                &frame_of(input),
                force,
                p.encode_pic_flags & PIC_FLAG_OUTPUT_SPSPPS != 0,
                &mut out.data,
            )
            .map_err(|e| (ERR_INVALID_PARAM, e.to_string()))?;
        let start = engines::now_ns();
        let done_ns = books()[gpu_index]
            .reserve(engine_count, engine, init.frame_ns)
            .map_err(|e| {
                let msg = format!("the simulator's engine book for GPU {gpu_index}: {e}");
                log::stderr(&msg);
                (ERR_GENERIC, msg)
            })?;
        *frames += 1;
        if log::enabled() {
            log::record(json!({
                "event": "encode", "gpu": gpu_index, "pid": std::process::id(),
                "session": session_id, "engine": engine,
                "width": init.width, "height": init.height,
                "picture": match coded.kind {
                    h264::Kind::Idr => "IDR", h264::Kind::Intra => "I", h264::Kind::Predicted => "P",
                },
                "bytes": out.data.len(), "intra_mbs": coded.intra_mbs,
                "skipped_mbs": coded.skipped_mbs,
                "seconds": init.frame_ns as f64 * 1e-9,
                "submitted": start as f64 * 1e-9, "done": done_ns as f64 * 1e-9,
            }));
        }
        out.state = OutState::Pending(Done {
            done_ns,
            frame_idx: p.frame_idx,
            time_stamp: p.input_time_stamp,
            duration: p.input_duration,
            coded,
        });
        Ok(())
    })
}

fn output_mut(s: &mut Session, h: *mut c_void) -> NvResult<&mut Output> {
    id_of(TAG_OUTPUT, h)
        .and_then(|id| s.outputs.get_mut(&id))
        .ok_or((
            ERR_INVALID_PTR,
            "not a bitstream buffer of this encoder".into(),
        ))
}

unsafe extern "C" fn lock_bitstream(encoder: *mut c_void, params: *mut LockBitstream) -> Status {
    guard(|| {
        let arc = session(encoder)?;
        let result = (|| {
            // SAFETY: the caller's parameters.
            let p = unsafe { param(params, LOCK_BITSTREAM_VER, "NV_ENC_LOCK_BITSTREAM") }?;
            // When the picture is done: wait for it with the session unlocked.
            let done_ns = {
                let mut s = arc.lock().unwrap_or_else(|e| e.into_inner());
                match &output_mut(&mut s, p.output_bitstream)?.state {
                    OutState::Pending(d) => d.done_ns,
                    OutState::Locked => {
                        return fail(ERR_INVALID_CALL, "the bitstream buffer is locked already")
                    }
                    OutState::Idle => {
                        return fail(ERR_INVALID_CALL, "no picture was encoded into this buffer")
                    }
                }
            };
            let now = engines::now_ns();
            if now < done_ns {
                if p.flags & 1 != 0 {
                    return fail(ERR_LOCK_BUSY, "the picture is still being encoded");
                }
                std::thread::sleep(std::time::Duration::from_nanos(done_ns - now));
            }
            let mut s = arc.lock().unwrap_or_else(|e| e.into_inner());
            let qp = initialised(&s)?.qp;
            let out = output_mut(&mut s, p.output_bitstream)?;
            let d = match std::mem::replace(&mut out.state, OutState::Idle) {
                OutState::Pending(d) => d,
                other => {
                    out.state = other;
                    return fail(
                        ERR_INVALID_CALL,
                        "the bitstream buffer changed while waiting",
                    );
                }
            };
            let c = &d.coded;
            if !p.slice_offsets.is_null() {
                // SAFETY: the client's array holds one entry per slice.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        c.slice_offsets.as_ptr(),
                        p.slice_offsets,
                        c.slice_offsets.len(),
                    )
                };
            }
            p.frame_idx = d.frame_idx;
            p.hw_encode_status = 0;
            p.num_slices = c.slice_offsets.len() as u32;
            p.bitstream_size_in_bytes = out.data.len() as u32;
            p.output_time_stamp = d.time_stamp;
            p.output_duration = d.duration;
            p.bitstream_buffer_ptr = out.data.as_mut_ptr() as *mut c_void;
            p.picture_type = match c.kind {
                h264::Kind::Idr => PIC_TYPE_IDR,
                h264::Kind::Intra => PIC_TYPE_I,
                h264::Kind::Predicted => PIC_TYPE_P,
            };
            p.picture_struct = PIC_STRUCT_FRAME;
            p.frame_avg_qp = qp;
            p.frame_satd = 0;
            p.ltr_frame_idx = 0;
            p.ltr_frame_bitmap = 0;
            p.temporal_id = 0;
            p.intra_mb_count = c.intra_mbs;
            p.inter_mb_count = c.skipped_mbs;
            p.average_mvx = 0;
            p.average_mvy = 0;
            p.alpha_layer_size_in_bytes = 0;
            out.state = OutState::Locked;
            Ok(())
        })();
        if let Err((_, msg)) = &result {
            arc.lock().unwrap_or_else(|e| e.into_inner()).last_error =
                CString::new(format!("gpugate-sim: {msg}"))
                    .unwrap_or_else(|_| c"gpugate-sim: error".to_owned());
        }
        result
    })
}

unsafe extern "C" fn unlock_bitstream(encoder: *mut c_void, buffer: *mut c_void) -> Status {
    with_session(encoder, |s| {
        let out = output_mut(s, buffer)?;
        match out.state {
            OutState::Locked => {
                out.state = OutState::Idle;
                Ok(())
            }
            _ => fail(ERR_INVALID_CALL, "the bitstream buffer is not locked"),
        }
    })
}

// ----------------------------------------------------------------------------- not simulated

fn not_simulated(encoder: *mut c_void, what: &str) -> Status {
    with_session(encoder, |_| {
        fail(
            ERR_UNIMPLEMENTED,
            format!("{what} is not simulated ({IMPLEMENTATION})"),
        )
    })
}

unsafe extern "C" fn get_encode_stats(encoder: *mut c_void, _stats: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncGetEncodeStats")
}

unsafe extern "C" fn register_async_event(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncRegisterAsyncEvent (Windows only)")
}

unsafe extern "C" fn unregister_async_event(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncUnregisterAsyncEvent (Windows only)")
}

unsafe extern "C" fn map_input_resource(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncMapInputResource (use input buffers)")
}

unsafe extern "C" fn unmap_input_resource(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncUnmapInputResource")
}

unsafe extern "C" fn invalidate_ref_frames(encoder: *mut c_void, _ts: u64) -> Status {
    not_simulated(encoder, "NvEncInvalidateRefFrames")
}

unsafe extern "C" fn register_resource(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncRegisterResource (use input buffers)")
}

unsafe extern "C" fn unregister_resource(encoder: *mut c_void, _r: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncUnregisterResource")
}

unsafe extern "C" fn reconfigure_encoder(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncReconfigureEncoder")
}

unsafe extern "C" fn create_mv_buffer(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncCreateMVBuffer (motion estimation only)")
}

unsafe extern "C" fn destroy_mv_buffer(encoder: *mut c_void, _b: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncDestroyMVBuffer (motion estimation only)")
}

unsafe extern "C" fn run_motion_estimation_only(encoder: *mut c_void, _p: *mut c_void) -> Status {
    not_simulated(encoder, "NvEncRunMotionEstimationOnly")
}

unsafe extern "C" fn get_sequence_param_ex(
    encoder: *mut c_void,
    _init: *mut c_void,
    _payload: *mut c_void,
) -> Status {
    not_simulated(
        encoder,
        "NvEncGetSequenceParamEx (use NvEncGetSequenceParams)",
    )
}
