//! The NVENC API of gpugate-sim, called in-process the way a client calls it: the function list
//! from `NvEncodeAPICreateInstance`, structures of SDK 11.1 (`nvenc::abi`), on a machine of a
//! slow M40 (GPU 0: one 1080p frame per 100 s per engine, so a 64 × 48 picture holds its engine
//! for 148 ms and waiting is visible) and an H100 (GPU 1, no NVENC).

mod driver_common;

use std::ffi::{c_char, c_void, CStr};
use std::time::{Duration, Instant};

use driver_common::*;
use gpugate_sim::nvenc::abi::{self, entry, *};
use gpugate_sim::nvenc::{NvEncodeAPICreateInstance, NvEncodeAPIGetMaxSupportedVersion};

/// The machine: a model file for the slow M40, then the H100.
fn setup() {
    static MODEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let path = MODEL.get_or_init(|| {
        let text = gpugate_sim::model::builtin_text("m40").unwrap().replace(
            "h264_1080p_fps_per_engine = 270.0",
            "h264_1080p_fps_per_engine = 0.01",
        );
        let p =
            std::env::temp_dir().join(format!("gpugate-sim-nvenc-api-{}.toml", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    });
    machine(&[path.as_str(), "h100"], &[]);
    init();
}

/// The function list, filled.
fn api() -> FunctionList {
    let mut l: FunctionList = abi::zeroed();
    l.version = FUNCTION_LIST_VER;
    // SAFETY: a valid list of the right version.
    assert_eq!(unsafe { NvEncodeAPICreateInstance(&mut l) }, SUCCESS);
    l
}

/// Entry `i` of the list as a function of type `F`.
///
/// # Safety
/// `F` must be the entry's C signature.
unsafe fn f<F: Copy>(l: &FunctionList, i: usize) -> F {
    assert!(!l.entries[i].is_null(), "entry {i} is filled");
    // SAFETY: the caller names the entry's signature; function pointers are pointer-sized.
    unsafe { std::mem::transmute_copy(&l.entries[i]) }
}

type OpenEx = unsafe extern "C" fn(*mut OpenEncodeSessionExParams, *mut *mut c_void) -> Status;
type Caps = unsafe extern "C" fn(*mut c_void, Guid, *mut CapsParam, *mut i32) -> Status;
type PresetEx = unsafe extern "C" fn(*mut c_void, Guid, Guid, u32, *mut PresetConfig) -> Status;
type Init = unsafe extern "C" fn(*mut c_void, *mut InitializeParams) -> Status;
type CreateIn = unsafe extern "C" fn(*mut c_void, *mut CreateInputBuffer) -> Status;
type CreateOut = unsafe extern "C" fn(*mut c_void, *mut CreateBitstreamBuffer) -> Status;
type LockIn = unsafe extern "C" fn(*mut c_void, *mut LockInputBuffer) -> Status;
type Handle = unsafe extern "C" fn(*mut c_void, *mut c_void) -> Status;
type Encode = unsafe extern "C" fn(*mut c_void, *mut PicParams) -> Status;
type LockOut = unsafe extern "C" fn(*mut c_void, *mut LockBitstream) -> Status;
type SeqParams = unsafe extern "C" fn(*mut c_void, *mut SequenceParamPayload) -> Status;
type Destroy = unsafe extern "C" fn(*mut c_void) -> Status;
type LastError = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type Count = unsafe extern "C" fn(*mut c_void, *mut u32) -> Status;
type Guids = unsafe extern "C" fn(*mut c_void, *mut Guid, u32, *mut u32) -> Status;

/// A new context on `dev` (current on this thread).
fn context(dev: i32) -> CUcontext {
    let mut c: CUcontext = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuCtxCreate_v2(&mut c, 0, dev) });
    c
}

fn open(
    l: &FunctionList,
    device: *mut c_void,
    api_version: u32,
    device_type: u32,
) -> (Status, *mut c_void) {
    let mut p: OpenEncodeSessionExParams = abi::zeroed();
    p.version = OPEN_ENCODE_SESSION_EX_PARAMS_VER;
    p.api_version = api_version;
    p.device_type = device_type;
    p.device = device;
    let mut e = std::ptr::null_mut();
    // SAFETY: the entry's signature; valid parameters.
    let r = unsafe { f::<OpenEx>(l, entry::OPEN_ENCODE_SESSION_EX)(&mut p, &mut e) };
    (r, e)
}

fn last_error(l: &FunctionList, e: *mut c_void) -> String {
    // SAFETY: the entry's signature; the string is NUL-terminated.
    unsafe { CStr::from_ptr(f::<LastError>(l, entry::GET_LAST_ERROR_STRING)(e)) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_function_list_is_filled_for_sdk_11_1_only() {
    setup();
    let mut l: FunctionList = abi::zeroed();
    // SAFETY: valid (or NULL) lists.
    unsafe {
        assert_eq!(
            NvEncodeAPICreateInstance(std::ptr::null_mut()),
            ERR_INVALID_PTR
        );
        l.version = 0x7002_000b; // NV_ENCODE_API_FUNCTION_LIST_VER of SDK 11.0
        assert_eq!(NvEncodeAPICreateInstance(&mut l), ERR_INVALID_VERSION);
        assert!(l.entries.iter().all(|e| e.is_null()), "nothing filled");
    }
    let l = api();
    for (i, e) in l.entries.iter().enumerate() {
        assert_eq!(e.is_null(), i == entry::RESERVED1, "entry {i}");
    }
    let mut v = 0;
    // SAFETY: a valid out-pointer.
    assert_eq!(
        unsafe { NvEncodeAPIGetMaxSupportedVersion(&mut v) },
        SUCCESS
    );
    assert_eq!(
        v,
        (12 << 4) | 2,
        "R550 (550.127.05) supports NVENC API 12.2"
    );
}

#[test]
fn sessions_open_on_contexts_of_gpus_with_nvenc_only() {
    setup();
    let l = api();
    let h100 = context(1);
    let (r, e) = open(&l, h100 as *mut c_void, API_VERSION, DEVICE_TYPE_CUDA);
    assert_eq!(r, ERR_UNSUPPORTED_DEVICE, "the H100 has no NVENC");
    assert!(e.is_null());
    let (r, _) = open(&l, 0x1234 as *mut c_void, API_VERSION, DEVICE_TYPE_CUDA);
    assert_eq!(r, ERR_INVALID_DEVICE, "not a context");
    let m40 = context(0);
    let (r, _) = open(&l, m40 as *mut c_void, API_VERSION, 0);
    assert_eq!(r, ERR_UNSUPPORTED_DEVICE, "DirectX");
    // Another SDK's structures: 12.0 is within the driver's 12.2 but not simulated; 13.0 is
    // beyond the driver.
    for api_version in [12, 13] {
        let (r, _) = open(&l, m40 as *mut c_void, api_version, DEVICE_TYPE_CUDA);
        assert_eq!(r, ERR_INVALID_VERSION, "API {api_version}.0");
    }
    let mut p: OpenEncodeSessionExParams = abi::zeroed();
    p.version = OPEN_ENCODE_SESSION_EX_PARAMS_VER + 1;
    let mut e = std::ptr::null_mut();
    // SAFETY: the entry's signature; valid pointers.
    let r = unsafe { f::<OpenEx>(&l, entry::OPEN_ENCODE_SESSION_EX)(&mut p, &mut e) };
    assert_eq!(r, ERR_INVALID_VERSION);
    let (r, e) = open(&l, m40 as *mut c_void, API_VERSION, DEVICE_TYPE_CUDA);
    assert_eq!(r, SUCCESS);
    // SAFETY: the entries' signatures; valid out-pointers.
    unsafe {
        let mut n = 0;
        assert_eq!(
            f::<Count>(&l, entry::GET_ENCODE_GUID_COUNT)(e, &mut n),
            SUCCESS
        );
        assert_eq!(n, 1);
        let mut g = [Guid::default(); 4];
        assert_eq!(
            f::<Guids>(&l, entry::GET_ENCODE_GUIDS)(e, g.as_mut_ptr(), 4, &mut n),
            SUCCESS
        );
        assert_eq!((n, g[0]), (1, CODEC_H264));
        let cap = |c: u32| {
            let mut p: CapsParam = abi::zeroed();
            p.version = CAPS_PARAM_VER;
            p.caps_to_query = c;
            let mut v = -1;
            let r = f::<Caps>(&l, entry::GET_ENCODE_CAPS)(e, CODEC_H264, &mut p, &mut v);
            (r, v)
        };
        assert_eq!(cap(caps::NUM_ENCODER_ENGINES), (SUCCESS, 2));
        assert_eq!(cap(caps::WIDTH_MAX), (SUCCESS, 4096));
        assert_eq!(cap(caps::NUM_MAX_BFRAMES), (SUCCESS, 0));
        assert_eq!(cap(caps::SUPPORT_CABAC), (SUCCESS, 0));
        assert_eq!(cap(caps::EXPOSED_COUNT).0, ERR_INVALID_PARAM);
        assert_eq!(f::<Destroy>(&l, entry::DESTROY_ENCODER)(e), SUCCESS);
        assert_eq!(
            f::<Count>(&l, entry::GET_ENCODE_GUID_COUNT)(e, &mut n),
            ERR_INVALID_ENCODERDEVICE,
            "a destroyed encoder"
        );
    }
}

/// A whole session: the preset, a configuration the encoder refuses (CABAC) and one it takes,
/// buffers, one picture, and its bitstream, which cannot be locked before the engine has
/// finished it (148 ms here).
#[test]
fn a_picture_is_ready_when_its_engine_time_has_passed() {
    setup();
    let l = api();
    let ctx = context(0);
    let (r, e) = open(&l, ctx as *mut c_void, API_VERSION, DEVICE_TYPE_CUDA);
    assert_eq!(r, SUCCESS);
    // SAFETY: the entries' signatures; valid structures of the right versions.
    unsafe {
        let mut preset: PresetConfig = abi::zeroed();
        preset.version = PRESET_CONFIG_VER;
        preset.preset_cfg.version = CONFIG_VER;
        let get = f::<PresetEx>(&l, entry::GET_ENCODE_PRESET_CONFIG_EX);
        assert_eq!(get(e, CODEC_H264, PRESETS_P[0], 2, &mut preset), SUCCESS);
        assert_eq!(preset.preset_cfg.frame_interval_p, 1);
        assert_eq!(preset.preset_cfg.rc_params.version, RC_PARAMS_VER);
        let mut bad = preset;
        bad.preset_cfg.version = CONFIG_VER - (1 << 16);
        assert_eq!(
            get(e, CODEC_H264, PRESETS_P[0], 2, &mut bad),
            ERR_INVALID_VERSION
        );
        assert_eq!(
            get(e, CODEC_H264, Guid::default(), 2, &mut preset),
            ERR_INVALID_PARAM
        );

        let mut config = preset.preset_cfg;
        config.rc_params.const_qp.intra = 23;
        config.h264.entropy_coding_mode = ENTROPY_CODING_CABAC;
        let mut ip: InitializeParams = abi::zeroed();
        ip.version = INITIALIZE_PARAMS_VER;
        ip.encode_guid = CODEC_H264;
        ip.preset_guid = PRESETS_P[0];
        ip.encode_width = 64;
        ip.encode_height = 48;
        ip.frame_rate_num = 30;
        ip.frame_rate_den = 1;
        ip.enable_ptd = 1;
        ip.encode_config = &mut config;
        let init = f::<Init>(&l, entry::INITIALIZE_ENCODER);
        assert_eq!(init(e, &mut ip), ERR_UNSUPPORTED_PARAM);
        assert!(last_error(&l, e).contains("CABAC"), "{}", last_error(&l, e));
        (*ip.encode_config).h264.entropy_coding_mode = 0;
        assert_eq!(init(e, &mut ip), SUCCESS);
        assert_eq!(init(e, &mut ip), ERR_INVALID_CALL, "initialised already");

        let mut payload: SequenceParamPayload = abi::zeroed();
        let mut headers = [0u8; 256];
        let mut size = 0u32;
        payload.version = SEQUENCE_PARAM_PAYLOAD_VER;
        payload.spspps_buffer = headers.as_mut_ptr() as *mut c_void;
        payload.in_buffer_size = 8;
        payload.out_spspps_payload_size = &mut size;
        let seq = f::<SeqParams>(&l, entry::GET_SEQUENCE_PARAMS);
        assert_eq!(seq(e, &mut payload), ERR_NOT_ENOUGH_BUFFER);
        payload.in_buffer_size = 256;
        assert_eq!(seq(e, &mut payload), SUCCESS);
        assert_eq!(&headers[..5], &[0, 0, 0, 1, 0x67], "an SPS first");
        assert!(size > 10 && size < 100, "{size}");

        let mut cin: CreateInputBuffer = abi::zeroed();
        cin.version = CREATE_INPUT_BUFFER_VER;
        cin.width = 64;
        cin.height = 48;
        cin.buffer_fmt = 0x1000; // YUV444: not taken
        let create_in = f::<CreateIn>(&l, entry::CREATE_INPUT_BUFFER);
        assert_eq!(create_in(e, &mut cin), ERR_UNSUPPORTED_PARAM);
        cin.buffer_fmt = BUFFER_FORMAT_NV12;
        assert_eq!(create_in(e, &mut cin), SUCCESS);
        let mut lin: LockInputBuffer = abi::zeroed();
        lin.version = LOCK_INPUT_BUFFER_VER;
        lin.input_buffer = cin.input_buffer;
        assert_eq!(
            f::<LockIn>(&l, entry::LOCK_INPUT_BUFFER)(e, &mut lin),
            SUCCESS
        );
        assert_eq!(lin.pitch, 64);
        let data = std::slice::from_raw_parts_mut(lin.buffer_data_ptr as *mut u8, 64 * 48 * 3 / 2);
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let unlock_in = f::<Handle>(&l, entry::UNLOCK_INPUT_BUFFER);
        assert_eq!(unlock_in(e, cin.input_buffer), SUCCESS);
        assert_eq!(
            unlock_in(e, cin.input_buffer),
            ERR_INVALID_CALL,
            "not locked"
        );

        let mut cout: CreateBitstreamBuffer = abi::zeroed();
        cout.version = CREATE_BITSTREAM_BUFFER_VER;
        assert_eq!(
            f::<CreateOut>(&l, entry::CREATE_BITSTREAM_BUFFER)(e, &mut cout),
            SUCCESS
        );

        let mut pic: PicParams = abi::zeroed();
        pic.version = PIC_PARAMS_VER;
        pic.input_buffer = cin.input_buffer;
        pic.output_bitstream = cout.bitstream_buffer;
        pic.buffer_fmt = BUFFER_FORMAT_NV12;
        pic.input_width = 64;
        pic.input_height = 48;
        pic.input_pitch = 64;
        pic.picture_struct = PIC_STRUCT_FRAME;
        pic.input_time_stamp = 4242;
        let encode = f::<Encode>(&l, entry::ENCODE_PICTURE);
        let submitted = Instant::now();
        assert_eq!(encode(e, &mut pic), SUCCESS);
        assert_eq!(
            encode(e, &mut pic),
            ERR_INVALID_CALL,
            "its bitstream is not locked yet"
        );

        let mut lock: LockBitstream = abi::zeroed();
        lock.version = LOCK_BITSTREAM_VER;
        lock.output_bitstream = cout.bitstream_buffer;
        lock.flags = 1; // doNotWait
        let lock_out = f::<LockOut>(&l, entry::LOCK_BITSTREAM);
        assert_eq!(
            lock_out(e, &mut lock),
            ERR_LOCK_BUSY,
            "the engine is still on it"
        );
        lock.flags = 0;
        assert_eq!(lock_out(e, &mut lock), SUCCESS);
        let waited = submitted.elapsed();
        // 64 · 48 / (1920 · 1080) / 0.01 fps = 148 ms of engine time.
        assert!(waited >= Duration::from_millis(140), "{waited:?}");
        assert_eq!(lock.picture_type, PIC_TYPE_IDR);
        assert_eq!(lock.output_time_stamp, 4242);
        assert_eq!(lock.frame_avg_qp, 23);
        assert_eq!(lock.num_slices, 1);
        assert_eq!(lock.intra_mb_count, 12);
        let bytes = std::slice::from_raw_parts(
            lock.bitstream_buffer_ptr as *const u8,
            lock.bitstream_size_in_bytes as usize,
        );
        assert_eq!(
            &bytes[..5],
            &[0, 0, 0, 1, 0x67],
            "SPS, PPS, then the IDR picture"
        );
        assert!(bytes.len() > 12 * 384);
        let unlock_out = f::<Handle>(&l, entry::UNLOCK_BITSTREAM);
        assert_eq!(unlock_out(e, cout.bitstream_buffer), SUCCESS);
        assert_eq!(unlock_out(e, cout.bitstream_buffer), ERR_INVALID_CALL);

        // What is not simulated says so.
        assert_eq!(
            f::<Handle>(&l, entry::REGISTER_RESOURCE)(e, std::ptr::null_mut()),
            ERR_UNIMPLEMENTED
        );
        let why = last_error(&l, e);
        assert!(
            why.starts_with("gpugate-sim: NvEncRegisterResource") && why.contains("not simulated"),
            "{why}"
        );

        assert_eq!(
            f::<Handle>(&l, entry::DESTROY_INPUT_BUFFER)(e, cin.input_buffer),
            SUCCESS
        );
        assert_eq!(
            f::<Handle>(&l, entry::DESTROY_INPUT_BUFFER)(e, cin.input_buffer),
            ERR_INVALID_PTR
        );
        assert_eq!(
            f::<Handle>(&l, entry::DESTROY_BITSTREAM_BUFFER)(e, cout.bitstream_buffer),
            SUCCESS
        );
        assert_eq!(f::<Destroy>(&l, entry::DESTROY_ENCODER)(e), SUCCESS);
    }
}
