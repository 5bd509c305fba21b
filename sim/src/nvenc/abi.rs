//! The NVENC API's C types, as the Video Codec SDK 11.1 headers lay them out (nv-codec-headers
//! n11.1.5.2, which Debian 12's ffmpeg 5.1 is built against).
//!
//! Only the structures the simulated encoder reads or writes are spelled out field by field;
//! every one has its exact size (the reserved tails included), and the fields it uses sit at
//! the offsets of the C header. Both were checked against the header with a C compiler (the
//! numbers are in this file's tests). Bit fields are `u32` words with named masks, in the order
//! GCC allocates them on x86-64 (first declared = least significant bit).

use std::ffi::c_void;

/// `NVENCAPI_MAJOR_VERSION` / `NVENCAPI_MINOR_VERSION` of the structures implemented here.
pub const API_MAJOR: u32 = 11;
pub const API_MINOR: u32 = 1;
/// `NVENCAPI_VERSION`: major | minor << 24.
pub const API_VERSION: u32 = API_MAJOR | (API_MINOR << 24);

/// `NVENCAPI_STRUCT_VERSION(ver)`.
pub const fn struct_version(ver: u32) -> u32 {
    API_VERSION | (ver << 16) | (0x7 << 28)
}

pub const CAPS_PARAM_VER: u32 = struct_version(1);
pub const CREATE_INPUT_BUFFER_VER: u32 = struct_version(1);
pub const CREATE_BITSTREAM_BUFFER_VER: u32 = struct_version(1);
pub const RC_PARAMS_VER: u32 = struct_version(1);
pub const CONFIG_VER: u32 = struct_version(7) | (1 << 31);
pub const INITIALIZE_PARAMS_VER: u32 = struct_version(5) | (1 << 31);
pub const PRESET_CONFIG_VER: u32 = struct_version(4) | (1 << 31);
pub const PIC_PARAMS_VER: u32 = struct_version(4) | (1 << 31);
pub const LOCK_BITSTREAM_VER: u32 = struct_version(1);
pub const LOCK_INPUT_BUFFER_VER: u32 = struct_version(1);
pub const SEQUENCE_PARAM_PAYLOAD_VER: u32 = struct_version(1);
pub const OPEN_ENCODE_SESSION_EX_PARAMS_VER: u32 = struct_version(1);
pub const FUNCTION_LIST_VER: u32 = struct_version(2);

/// `NVENCSTATUS`.
pub type Status = u32;
pub const SUCCESS: Status = 0;
pub const ERR_NO_ENCODE_DEVICE: Status = 1;
pub const ERR_UNSUPPORTED_DEVICE: Status = 2;
pub const ERR_INVALID_ENCODERDEVICE: Status = 3;
pub const ERR_INVALID_DEVICE: Status = 4;
pub const ERR_INVALID_PTR: Status = 6;
pub const ERR_INVALID_PARAM: Status = 8;
pub const ERR_INVALID_CALL: Status = 9;
pub const ERR_OUT_OF_MEMORY: Status = 10;
pub const ERR_ENCODER_NOT_INITIALIZED: Status = 11;
pub const ERR_UNSUPPORTED_PARAM: Status = 12;
pub const ERR_LOCK_BUSY: Status = 13;
pub const ERR_NOT_ENOUGH_BUFFER: Status = 14;
pub const ERR_INVALID_VERSION: Status = 15;
pub const ERR_GENERIC: Status = 20;
pub const ERR_UNIMPLEMENTED: Status = 22;

/// `NV_ENC_DEVICE_TYPE_CUDA`.
pub const DEVICE_TYPE_CUDA: u32 = 1;

/// `NV_ENC_BUFFER_FORMAT` values the simulated encoder takes (8-bit 4:2:0).
pub const BUFFER_FORMAT_NV12: u32 = 0x1;
pub const BUFFER_FORMAT_YV12: u32 = 0x10;
pub const BUFFER_FORMAT_IYUV: u32 = 0x100;

/// `NV_ENC_PIC_FLAGS`.
pub const PIC_FLAG_FORCEINTRA: u32 = 0x1;
pub const PIC_FLAG_FORCEIDR: u32 = 0x2;
pub const PIC_FLAG_OUTPUT_SPSPPS: u32 = 0x4;
pub const PIC_FLAG_EOS: u32 = 0x8;

/// `NV_ENC_PIC_STRUCT_FRAME`.
pub const PIC_STRUCT_FRAME: u32 = 1;

/// `NV_ENC_PIC_TYPE`.
pub const PIC_TYPE_P: u32 = 0;
pub const PIC_TYPE_B: u32 = 1;
pub const PIC_TYPE_I: u32 = 2;
pub const PIC_TYPE_IDR: u32 = 3;

/// `NV_ENC_PARAMS_FRAME_FIELD_MODE_FRAME`.
pub const FRAME_FIELD_MODE_FRAME: u32 = 1;
/// `NV_ENC_PARAMS_RC_CONSTQP`.
pub const RC_CONSTQP: u32 = 0;
/// `NV_ENC_MV_PRECISION_QUARTER_PEL`.
pub const MV_PRECISION_QUARTER_PEL: u32 = 3;
/// `NV_ENC_H264_ENTROPY_CODING_MODE_CABAC`.
pub const ENTROPY_CODING_CABAC: u32 = 1;
/// `NV_ENC_H264_ENTROPY_CODING_MODE_CAVLC`.
pub const ENTROPY_CODING_CAVLC: u32 = 2;
/// `NVENC_INFINITE_GOPLENGTH`.
pub const INFINITE_GOPLENGTH: u32 = 0xffff_ffff;
/// `NV_ENC_TUNING_INFO_COUNT`: tuning values are below it.
pub const TUNING_INFO_COUNT: u32 = 5;

/// `NV_ENC_CAPS`, in enum order.
pub mod caps {
    pub const NUM_MAX_BFRAMES: u32 = 0;
    pub const SUPPORTED_RATECONTROL_MODES: u32 = 1;
    pub const SUPPORT_FIELD_ENCODING: u32 = 2;
    pub const SUPPORT_MONOCHROME: u32 = 3;
    pub const SUPPORT_FMO: u32 = 4;
    pub const SUPPORT_QPELMV: u32 = 5;
    pub const SUPPORT_BDIRECT_MODE: u32 = 6;
    pub const SUPPORT_CABAC: u32 = 7;
    pub const SUPPORT_ADAPTIVE_TRANSFORM: u32 = 8;
    pub const SUPPORT_STEREO_MVC: u32 = 9;
    pub const NUM_MAX_TEMPORAL_LAYERS: u32 = 10;
    pub const SUPPORT_HIERARCHICAL_PFRAMES: u32 = 11;
    pub const SUPPORT_HIERARCHICAL_BFRAMES: u32 = 12;
    pub const LEVEL_MAX: u32 = 13;
    pub const LEVEL_MIN: u32 = 14;
    pub const SEPARATE_COLOUR_PLANE: u32 = 15;
    pub const WIDTH_MAX: u32 = 16;
    pub const HEIGHT_MAX: u32 = 17;
    pub const SUPPORT_TEMPORAL_SVC: u32 = 18;
    pub const SUPPORT_DYN_RES_CHANGE: u32 = 19;
    pub const SUPPORT_DYN_BITRATE_CHANGE: u32 = 20;
    pub const SUPPORT_DYN_FORCE_CONSTQP: u32 = 21;
    pub const SUPPORT_DYN_RCMODE_CHANGE: u32 = 22;
    pub const SUPPORT_SUBFRAME_READBACK: u32 = 23;
    pub const SUPPORT_CONSTRAINED_ENCODING: u32 = 24;
    pub const SUPPORT_INTRA_REFRESH: u32 = 25;
    pub const SUPPORT_CUSTOM_VBV_BUF_SIZE: u32 = 26;
    pub const SUPPORT_DYNAMIC_SLICE_MODE: u32 = 27;
    pub const SUPPORT_REF_PIC_INVALIDATION: u32 = 28;
    pub const PREPROC_SUPPORT: u32 = 29;
    pub const ASYNC_ENCODE_SUPPORT: u32 = 30;
    pub const MB_NUM_MAX: u32 = 31;
    pub const MB_PER_SEC_MAX: u32 = 32;
    pub const SUPPORT_YUV444_ENCODE: u32 = 33;
    pub const SUPPORT_LOSSLESS_ENCODE: u32 = 34;
    pub const SUPPORT_SAO: u32 = 35;
    pub const SUPPORT_MEONLY_MODE: u32 = 36;
    pub const SUPPORT_LOOKAHEAD: u32 = 37;
    pub const SUPPORT_TEMPORAL_AQ: u32 = 38;
    pub const SUPPORT_10BIT_ENCODE: u32 = 39;
    pub const NUM_MAX_LTR_FRAMES: u32 = 40;
    pub const SUPPORT_WEIGHTED_PREDICTION: u32 = 41;
    pub const DYNAMIC_QUERY_ENCODER_CAPACITY: u32 = 42;
    pub const SUPPORT_BFRAME_REF_MODE: u32 = 43;
    pub const SUPPORT_EMPHASIS_LEVEL_MAP: u32 = 44;
    pub const WIDTH_MIN: u32 = 45;
    pub const HEIGHT_MIN: u32 = 46;
    pub const SUPPORT_MULTIPLE_REF_FRAMES: u32 = 47;
    pub const SUPPORT_ALPHA_LAYER_ENCODING: u32 = 48;
    pub const NUM_ENCODER_ENGINES: u32 = 49;
    pub const SINGLE_SLICE_INTRA_REFRESH: u32 = 50;
    /// `NV_ENC_CAPS_EXPOSED_COUNT`: queries at or above it are invalid.
    pub const EXPOSED_COUNT: u32 = 51;
}

/// `GUID`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

const fn guid(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
    Guid {
        data1,
        data2,
        data3,
        data4,
    }
}

/// `NV_ENC_CODEC_H264_GUID` {6BC82762-4E63-4CA4-AA85-1E50F321F6BF}.
pub const CODEC_H264: Guid = guid(
    0x6bc8_2762,
    0x4e63,
    0x4ca4,
    [0xaa, 0x85, 0x1e, 0x50, 0xf3, 0x21, 0xf6, 0xbf],
);
/// `NV_ENC_CODEC_PROFILE_AUTOSELECT_GUID` {BFD6F8E7-233C-4341-8B3E-4818523803F4}.
pub const PROFILE_AUTOSELECT: Guid = guid(
    0xbfd6_f8e7,
    0x233c,
    0x4341,
    [0x8b, 0x3e, 0x48, 0x18, 0x52, 0x38, 0x03, 0xf4],
);
/// `NV_ENC_H264_PROFILE_BASELINE_GUID` {0727BCAA-78C4-4C83-8C2F-EF3DFF267C6A}.
pub const PROFILE_BASELINE: Guid = guid(
    0x0727_bcaa,
    0x78c4,
    0x4c83,
    [0x8c, 0x2f, 0xef, 0x3d, 0xff, 0x26, 0x7c, 0x6a],
);
/// `NV_ENC_H264_PROFILE_MAIN_GUID` {60B5C1D4-67FE-4790-94D5-C4726D7B6E6D}.
pub const PROFILE_MAIN: Guid = guid(
    0x60b5_c1d4,
    0x67fe,
    0x4790,
    [0x94, 0xd5, 0xc4, 0x72, 0x6d, 0x7b, 0x6e, 0x6d],
);
/// `NV_ENC_H264_PROFILE_HIGH_GUID` {E7CBC309-4F7A-4B89-AF2A-D537C92BE310}.
pub const PROFILE_HIGH: Guid = guid(
    0xe7cb_c309,
    0x4f7a,
    0x4b89,
    [0xaf, 0x2a, 0xd5, 0x37, 0xc9, 0x2b, 0xe3, 0x10],
);
/// `NV_ENC_H264_PROFILE_PROGRESSIVE_HIGH_GUID` {B405AFAC-F32B-417B-89C4-9ABEED3E5978}.
pub const PROFILE_PROGRESSIVE_HIGH: Guid = guid(
    0xb405_afac,
    0xf32b,
    0x417b,
    [0x89, 0xc4, 0x9a, 0xbe, 0xed, 0x3e, 0x59, 0x78],
);
/// `NV_ENC_H264_PROFILE_CONSTRAINED_HIGH_GUID` {AEC1BD87-E85B-48F2-84C3-98BCA6285072}.
pub const PROFILE_CONSTRAINED_HIGH: Guid = guid(
    0xaec1_bd87,
    0xe85b,
    0x48f2,
    [0x84, 0xc3, 0x98, 0xbc, 0xa6, 0x28, 0x50, 0x72],
);

/// The presets of SDK 10 and later, P1 (fastest) to P7 (slowest).
pub const PRESETS_P: [Guid; 7] = [
    // {FC0A8D3E-45F8-4CF8-80C7-298871590EBF}
    guid(
        0xfc0a_8d3e,
        0x45f8,
        0x4cf8,
        [0x80, 0xc7, 0x29, 0x88, 0x71, 0x59, 0x0e, 0xbf],
    ),
    // {F581CFB8-88D6-4381-93F0-DF13F9C27DAB}
    guid(
        0xf581_cfb8,
        0x88d6,
        0x4381,
        [0x93, 0xf0, 0xdf, 0x13, 0xf9, 0xc2, 0x7d, 0xab],
    ),
    // {36850110-3A07-441F-94D5-3670631F91F6}
    guid(
        0x3685_0110,
        0x3a07,
        0x441f,
        [0x94, 0xd5, 0x36, 0x70, 0x63, 0x1f, 0x91, 0xf6],
    ),
    // {90A7B826-DF06-4862-B9D2-CD6D73A08681}
    guid(
        0x90a7_b826,
        0xdf06,
        0x4862,
        [0xb9, 0xd2, 0xcd, 0x6d, 0x73, 0xa0, 0x86, 0x81],
    ),
    // {21C6E6B4-297A-4CBA-998F-B6CBDE72ADE3}
    guid(
        0x21c6_e6b4,
        0x297a,
        0x4cba,
        [0x99, 0x8f, 0xb6, 0xcb, 0xde, 0x72, 0xad, 0xe3],
    ),
    // {8E75C279-6299-4AB6-8302-0B215A335CF5}
    guid(
        0x8e75_c279,
        0x6299,
        0x4ab6,
        [0x83, 0x02, 0x0b, 0x21, 0x5a, 0x33, 0x5c, 0xf5],
    ),
    // {84848C12-6F71-4C13-931B-53E283F57974}
    guid(
        0x8484_8c12,
        0x6f71,
        0x4c13,
        [0x93, 0x1b, 0x53, 0xe2, 0x83, 0xf5, 0x79, 0x74],
    ),
];

/// The presets SDK 10 deprecated (still accepted by the driver): default, HP, HQ, BD, low
/// latency default / HQ / HP, lossless default / HP.
pub const PRESETS_LEGACY: [Guid; 9] = [
    // {B2DFB705-4EBD-4C49-9B5F-24A777D3E587}
    guid(
        0xb2df_b705,
        0x4ebd,
        0x4c49,
        [0x9b, 0x5f, 0x24, 0xa7, 0x77, 0xd3, 0xe5, 0x87],
    ),
    // {60E4C59F-E846-4484-A56D-CD45BE9FDDF6}
    guid(
        0x60e4_c59f,
        0xe846,
        0x4484,
        [0xa5, 0x6d, 0xcd, 0x45, 0xbe, 0x9f, 0xdd, 0xf6],
    ),
    // {34DBA71D-A77B-4B8F-9C3E-B6D5DA24C012}
    guid(
        0x34db_a71d,
        0xa77b,
        0x4b8f,
        [0x9c, 0x3e, 0xb6, 0xd5, 0xda, 0x24, 0xc0, 0x12],
    ),
    // {82E3E450-BDBB-4E40-989C-82A90DF9EF32}
    guid(
        0x82e3_e450,
        0xbdbb,
        0x4e40,
        [0x98, 0x9c, 0x82, 0xa9, 0x0d, 0xf9, 0xef, 0x32],
    ),
    // {49DF21C5-6DFA-4FEB-9787-6ACC9EFFB726}
    guid(
        0x49df_21c5,
        0x6dfa,
        0x4feb,
        [0x97, 0x87, 0x6a, 0xcc, 0x9e, 0xff, 0xb7, 0x26],
    ),
    // {C5F733B9-EA97-4CF9-BEC2-BF78A74FD105}
    guid(
        0xc5f7_33b9,
        0xea97,
        0x4cf9,
        [0xbe, 0xc2, 0xbf, 0x78, 0xa7, 0x4f, 0xd1, 0x05],
    ),
    // {67082A44-4BAD-48FA-98EA-93056D150A58}
    guid(
        0x6708_2a44,
        0x4bad,
        0x48fa,
        [0x98, 0xea, 0x93, 0x05, 0x6d, 0x15, 0x0a, 0x58],
    ),
    // {D5BFB716-C604-44E7-9BB8-DEA5510FC3AC}
    guid(
        0xd5bf_b716,
        0xc604,
        0x44e7,
        [0x9b, 0xb8, 0xde, 0xa5, 0x51, 0x0f, 0xc3, 0xac],
    ),
    // {149998E7-2364-411D-82EF-179888093409}
    guid(
        0x1499_98e7,
        0x2364,
        0x411d,
        [0x82, 0xef, 0x17, 0x98, 0x88, 0x09, 0x34, 0x09],
    ),
];

/// `NV_ENC_QP`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Qp {
    pub inter_p: u32,
    pub inter_b: u32,
    pub intra: u32,
}

/// `NV_ENC_RC_PARAMS` (128 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RcParams {
    pub version: u32,
    pub rate_control_mode: u32,
    pub const_qp: Qp,
    pub average_bit_rate: u32,
    pub max_bit_rate: u32,
    pub vbv_buffer_size: u32,
    pub vbv_initial_delay: u32,
    /// enableMinQP, enableMaxQP, enableInitialRCQP, enableAQ, reserved, enableLookahead, …
    pub flags: u32,
    pub min_qp: Qp,
    pub max_qp: Qp,
    pub initial_rc_qp: Qp,
    pub temporal_layer_idx_mask: u32,
    pub temporal_layer_qp: [u8; 8],
    pub target_quality: u8,
    pub target_quality_lsb: u8,
    pub lookahead_depth: u16,
    pub low_delay_key_frame_scale: u8,
    pub reserved1: [u8; 3],
    pub qp_map_mode: u32,
    pub multi_pass: u32,
    pub alpha_layer_bitrate_ratio: u32,
    pub cb_qp_index_offset: i8,
    pub cr_qp_index_offset: i8,
    pub reserved2: u16,
    pub reserved: [u32; 4],
}

/// `NV_ENC_CONFIG_H264` bit fields (the first word).
pub mod h264_flags {
    pub const ENABLE_TEMPORAL_SVC: u32 = 1 << 0;
    pub const ENABLE_STEREO_MVC: u32 = 1 << 1;
    pub const HIERARCHICAL_P_FRAMES: u32 = 1 << 2;
    pub const HIERARCHICAL_B_FRAMES: u32 = 1 << 3;
    pub const OUTPUT_AUD: u32 = 1 << 6;
    pub const DISABLE_SPSPPS: u32 = 1 << 7;
    pub const ENABLE_INTRA_REFRESH: u32 = 1 << 10;
    pub const REPEAT_SPSPPS: u32 = 1 << 12;
    pub const ENABLE_LTR: u32 = 1 << 14;
    pub const QPPRIME_Y_ZERO_TRANSFORM_BYPASS: u32 = 1 << 15;
    pub const SINGLE_SLICE_INTRA_REFRESH: u32 = 1 << 20;
}

/// `NV_ENC_CONFIG_H264` (1792 bytes, the size of the `NV_ENC_CODEC_CONFIG` union it is the
/// H.264 member of).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ConfigH264 {
    /// See [`h264_flags`].
    pub flags: u32,
    pub level: u32,
    pub idr_period: u32,
    pub separate_colour_plane_flag: u32,
    pub disable_deblocking_filter_idc: u32,
    pub num_temporal_layers: u32,
    pub sps_id: u32,
    pub pps_id: u32,
    pub adaptive_transform_mode: u32,
    pub fmo_mode: u32,
    pub bdirect_mode: u32,
    pub entropy_coding_mode: u32,
    pub stereo_mode: u32,
    pub intra_refresh_period: u32,
    pub intra_refresh_cnt: u32,
    pub max_num_ref_frames: u32,
    pub slice_mode: u32,
    pub slice_mode_data: u32,
    /// `NV_ENC_CONFIG_H264_VUI_PARAMETERS` (13 fields and 15 reserved words).
    pub vui: [u32; 28],
    pub ltr_num_frames: u32,
    pub ltr_trust_mode: u32,
    pub chroma_format_idc: u32,
    pub max_temporal_layers: u32,
    pub use_bframes_as_ref: u32,
    pub num_ref_l0: u32,
    pub num_ref_l1: u32,
    pub reserved1: [u32; 267],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_CONFIG` (3584 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub version: u32,
    pub profile_guid: Guid,
    pub gop_length: u32,
    pub frame_interval_p: i32,
    pub mono_chrome_encoding: u32,
    pub frame_field_mode: u32,
    pub mv_precision: u32,
    pub rc_params: RcParams,
    pub h264: ConfigH264,
    pub reserved: [u32; 278],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_PRESET_CONFIG` (5128 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PresetConfig {
    pub version: u32,
    pub preset_cfg: Config,
    pub reserved1: [u32; 255],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_INITIALIZE_PARAMS` bit fields.
pub mod init_flags {
    pub const ENABLE_EXTERNAL_ME_HINTS: u32 = 1 << 2;
    pub const ENABLE_ME_ONLY_MODE: u32 = 1 << 3;
    pub const ENABLE_WEIGHTED_PREDICTION: u32 = 1 << 4;
    pub const ENABLE_OUTPUT_IN_VIDMEM: u32 = 1 << 5;
}

/// `NV_ENC_INITIALIZE_PARAMS` (1808 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct InitializeParams {
    pub version: u32,
    pub encode_guid: Guid,
    pub preset_guid: Guid,
    pub encode_width: u32,
    pub encode_height: u32,
    pub dar_width: u32,
    pub dar_height: u32,
    pub frame_rate_num: u32,
    pub frame_rate_den: u32,
    pub enable_encode_async: u32,
    pub enable_ptd: u32,
    /// See [`init_flags`].
    pub flags: u32,
    pub priv_data_size: u32,
    pub priv_data: *mut c_void,
    pub encode_config: *mut Config,
    pub max_encode_width: u32,
    pub max_encode_height: u32,
    pub max_me_hint_counts_per_block: [[u32; 4]; 2],
    pub tuning_info: u32,
    pub buffer_format: u32,
    pub reserved: [u32; 287],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_OPEN_ENCODE_SESSION_EX_PARAMS` (1552 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OpenEncodeSessionExParams {
    pub version: u32,
    pub device_type: u32,
    pub device: *mut c_void,
    pub reserved: *mut c_void,
    pub api_version: u32,
    pub reserved1: [u32; 253],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_CAPS_PARAM` (256 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CapsParam {
    pub version: u32,
    pub caps_to_query: u32,
    pub reserved: [u32; 62],
}

/// `NV_ENC_CREATE_INPUT_BUFFER` (776 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CreateInputBuffer {
    pub version: u32,
    pub width: u32,
    pub height: u32,
    pub memory_heap: u32,
    pub buffer_fmt: u32,
    pub reserved: u32,
    pub input_buffer: *mut c_void,
    pub sys_mem_buffer: *mut c_void,
    pub reserved1: [u32; 57],
    pub reserved2: [*mut c_void; 63],
}

/// `NV_ENC_CREATE_BITSTREAM_BUFFER` (776 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CreateBitstreamBuffer {
    pub version: u32,
    pub size: u32,
    pub memory_heap: u32,
    pub reserved: u32,
    pub bitstream_buffer: *mut c_void,
    pub bitstream_buffer_ptr: *mut c_void,
    pub reserved1: [u32; 58],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_LOCK_INPUT_BUFFER` (1544 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LockInputBuffer {
    pub version: u32,
    /// doNotWait (bit 0).
    pub flags: u32,
    pub input_buffer: *mut c_void,
    pub buffer_data_ptr: *mut c_void,
    pub pitch: u32,
    pub reserved1: [u32; 251],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_PIC_PARAMS_H264` (1536 bytes, the `NV_ENC_CODEC_PIC_PARAMS` union's size).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PicParamsH264 {
    pub display_poc_syntax: u32,
    pub reserved3: u32,
    pub ref_pic_flag: u32,
    pub colour_plane_id: u32,
    pub force_intra_refresh_with_frame_cnt: u32,
    pub flags: u32,
    pub slice_type_data: *mut u8,
    pub slice_type_array_cnt: u32,
    pub sei_payload_array_cnt: u32,
    pub sei_payload_array: *mut c_void,
    pub slice_mode: u32,
    pub slice_mode_data: u32,
    pub ltr_mark_frame_idx: u32,
    pub ltr_use_frame_bitmap: u32,
    pub ltr_usage_mode: u32,
    pub force_intra_slice_count: u32,
    pub force_intra_slice_idx: *mut u32,
    pub h264_ext_pic_params: [u32; 32],
    pub reserved: [u32; 210],
    pub reserved2: [*mut c_void; 61],
}

/// `NV_ENC_PIC_PARAMS` (3344 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PicParams {
    pub version: u32,
    pub input_width: u32,
    pub input_height: u32,
    pub input_pitch: u32,
    pub encode_pic_flags: u32,
    pub frame_idx: u32,
    pub input_time_stamp: u64,
    pub input_duration: u64,
    pub input_buffer: *mut c_void,
    pub output_bitstream: *mut c_void,
    pub completion_event: *mut c_void,
    pub buffer_fmt: u32,
    pub picture_struct: u32,
    pub picture_type: u32,
    pub h264: PicParamsH264,
    pub me_hint_counts_per_block: [[u32; 4]; 2],
    pub me_external_hints: *mut c_void,
    pub reserved1: [u32; 6],
    pub reserved2: [*mut c_void; 2],
    pub qp_delta_map: *mut i8,
    pub qp_delta_map_size: u32,
    pub reserved_bit_fields: u32,
    pub me_hint_ref_pic_dist: [u16; 2],
    pub alpha_buffer: *mut c_void,
    pub reserved3: [u32; 286],
    pub reserved4: [*mut c_void; 59],
}

/// `NV_ENC_LOCK_BITSTREAM` (1544 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LockBitstream {
    pub version: u32,
    /// doNotWait (bit 0), ltrFrame (bit 1), getRCStats (bit 2).
    pub flags: u32,
    pub output_bitstream: *mut c_void,
    pub slice_offsets: *mut u32,
    pub frame_idx: u32,
    pub hw_encode_status: u32,
    pub num_slices: u32,
    pub bitstream_size_in_bytes: u32,
    pub output_time_stamp: u64,
    pub output_duration: u64,
    pub bitstream_buffer_ptr: *mut c_void,
    pub picture_type: u32,
    pub picture_struct: u32,
    pub frame_avg_qp: u32,
    pub frame_satd: u32,
    pub ltr_frame_idx: u32,
    pub ltr_frame_bitmap: u32,
    pub temporal_id: u32,
    pub reserved: [u32; 12],
    pub intra_mb_count: u32,
    pub inter_mb_count: u32,
    pub average_mvx: i32,
    pub average_mvy: i32,
    pub alpha_layer_size_in_bytes: u32,
    pub reserved1: [u32; 218],
    pub reserved2: [*mut c_void; 64],
}

/// `NV_ENC_SEQUENCE_PARAM_PAYLOAD` (1544 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SequenceParamPayload {
    pub version: u32,
    pub in_buffer_size: u32,
    pub sps_id: u32,
    pub pps_id: u32,
    pub spspps_buffer: *mut c_void,
    pub out_spspps_payload_size: *mut u32,
    pub reserved: [u32; 250],
    pub reserved2: [*mut c_void; 64],
}

/// An entry of the function list: every `PNVENC…` is a C function pointer (or NULL).
pub type FnPtr = *const c_void;

/// `NV_ENCODE_API_FUNCTION_LIST` (2552 bytes): 41 entries (one of them reserved), then 277
/// reserved pointers.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FunctionList {
    pub version: u32,
    pub reserved: u32,
    pub entries: [FnPtr; FUNCTION_LIST_ENTRIES],
    pub reserved2: [*mut c_void; 277],
}

/// Entries of the function list, in order (`reserved1` is entry 33).
pub const FUNCTION_LIST_ENTRIES: usize = 41;

/// The index of each entry in [`FunctionList::entries`].
pub mod entry {
    pub const OPEN_ENCODE_SESSION: usize = 0;
    pub const GET_ENCODE_GUID_COUNT: usize = 1;
    pub const GET_ENCODE_PROFILE_GUID_COUNT: usize = 2;
    pub const GET_ENCODE_PROFILE_GUIDS: usize = 3;
    pub const GET_ENCODE_GUIDS: usize = 4;
    pub const GET_INPUT_FORMAT_COUNT: usize = 5;
    pub const GET_INPUT_FORMATS: usize = 6;
    pub const GET_ENCODE_CAPS: usize = 7;
    pub const GET_ENCODE_PRESET_COUNT: usize = 8;
    pub const GET_ENCODE_PRESET_GUIDS: usize = 9;
    pub const GET_ENCODE_PRESET_CONFIG: usize = 10;
    pub const INITIALIZE_ENCODER: usize = 11;
    pub const CREATE_INPUT_BUFFER: usize = 12;
    pub const DESTROY_INPUT_BUFFER: usize = 13;
    pub const CREATE_BITSTREAM_BUFFER: usize = 14;
    pub const DESTROY_BITSTREAM_BUFFER: usize = 15;
    pub const ENCODE_PICTURE: usize = 16;
    pub const LOCK_BITSTREAM: usize = 17;
    pub const UNLOCK_BITSTREAM: usize = 18;
    pub const LOCK_INPUT_BUFFER: usize = 19;
    pub const UNLOCK_INPUT_BUFFER: usize = 20;
    pub const GET_ENCODE_STATS: usize = 21;
    pub const GET_SEQUENCE_PARAMS: usize = 22;
    pub const REGISTER_ASYNC_EVENT: usize = 23;
    pub const UNREGISTER_ASYNC_EVENT: usize = 24;
    pub const MAP_INPUT_RESOURCE: usize = 25;
    pub const UNMAP_INPUT_RESOURCE: usize = 26;
    pub const DESTROY_ENCODER: usize = 27;
    pub const INVALIDATE_REF_FRAMES: usize = 28;
    pub const OPEN_ENCODE_SESSION_EX: usize = 29;
    pub const REGISTER_RESOURCE: usize = 30;
    pub const UNREGISTER_RESOURCE: usize = 31;
    pub const RECONFIGURE_ENCODER: usize = 32;
    pub const RESERVED1: usize = 33;
    pub const CREATE_MV_BUFFER: usize = 34;
    pub const DESTROY_MV_BUFFER: usize = 35;
    pub const RUN_MOTION_ESTIMATION_ONLY: usize = 36;
    pub const GET_LAST_ERROR_STRING: usize = 37;
    pub const SET_IO_CUDA_STREAMS: usize = 38;
    pub const GET_ENCODE_PRESET_CONFIG_EX: usize = 39;
    pub const GET_SEQUENCE_PARAM_EX: usize = 40;
}

/// A zero-initialised value of a plain C structure (the way clients fill them: `{ 0 }`).
pub fn zeroed<T: Copy>() -> T {
    // SAFETY: only used for the `repr(C)` structures of this module, whose fields are integers,
    // integer arrays and raw pointers, for which all-zero bytes are valid values.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Sizes and offsets as GCC lays out nv-codec-headers n11.1.5.2's nvEncodeAPI.h on x86-64
    /// (printed by a C program with sizeof/offsetof over the header).
    #[test]
    fn layouts_match_the_sdk_11_1_header() {
        assert_eq!(size_of::<Guid>(), 16);
        assert_eq!(size_of::<FunctionList>(), 2552);
        assert_eq!(offset_of!(FunctionList, entries), 8);
        assert_eq!(size_of::<OpenEncodeSessionExParams>(), 1552);
        assert_eq!(offset_of!(OpenEncodeSessionExParams, device), 8);
        assert_eq!(offset_of!(OpenEncodeSessionExParams, api_version), 24);
        assert_eq!(size_of::<CapsParam>(), 256);
        assert_eq!(size_of::<CreateInputBuffer>(), 776);
        assert_eq!(offset_of!(CreateInputBuffer, input_buffer), 24);
        assert_eq!(offset_of!(CreateInputBuffer, sys_mem_buffer), 32);
        assert_eq!(size_of::<CreateBitstreamBuffer>(), 776);
        assert_eq!(offset_of!(CreateBitstreamBuffer, bitstream_buffer), 16);
        assert_eq!(offset_of!(CreateBitstreamBuffer, bitstream_buffer_ptr), 24);
        assert_eq!(size_of::<RcParams>(), 128);
        assert_eq!(offset_of!(RcParams, min_qp), 40);
        assert_eq!(offset_of!(RcParams, temporal_layer_qp), 80);
        assert_eq!(offset_of!(RcParams, qp_map_mode), 96);
        assert_eq!(offset_of!(RcParams, cb_qp_index_offset), 108);
        assert_eq!(offset_of!(RcParams, reserved), 112);
        assert_eq!(size_of::<ConfigH264>(), 1792);
        assert_eq!(offset_of!(ConfigH264, level), 4);
        assert_eq!(offset_of!(ConfigH264, idr_period), 8);
        assert_eq!(offset_of!(ConfigH264, adaptive_transform_mode), 32);
        assert_eq!(offset_of!(ConfigH264, entropy_coding_mode), 44);
        assert_eq!(offset_of!(ConfigH264, max_num_ref_frames), 60);
        assert_eq!(offset_of!(ConfigH264, slice_mode), 64);
        assert_eq!(offset_of!(ConfigH264, slice_mode_data), 68);
        assert_eq!(offset_of!(ConfigH264, vui), 72);
        assert_eq!(offset_of!(ConfigH264, ltr_num_frames), 184);
        assert_eq!(offset_of!(ConfigH264, chroma_format_idc), 192);
        assert_eq!(offset_of!(ConfigH264, num_ref_l1), 208);
        assert_eq!(offset_of!(ConfigH264, reserved1), 212);
        assert_eq!(offset_of!(ConfigH264, reserved2), 1280);
        assert_eq!(size_of::<Config>(), 3584);
        assert_eq!(offset_of!(Config, profile_guid), 4);
        assert_eq!(offset_of!(Config, gop_length), 20);
        assert_eq!(offset_of!(Config, frame_interval_p), 24);
        assert_eq!(offset_of!(Config, frame_field_mode), 32);
        assert_eq!(offset_of!(Config, mv_precision), 36);
        assert_eq!(offset_of!(Config, rc_params), 40);
        assert_eq!(offset_of!(Config, h264), 168);
        assert_eq!(offset_of!(Config, reserved), 1960);
        assert_eq!(offset_of!(Config, reserved2), 3072);
        assert_eq!(size_of::<InitializeParams>(), 1808);
        assert_eq!(offset_of!(InitializeParams, encode_width), 36);
        assert_eq!(offset_of!(InitializeParams, frame_rate_num), 52);
        assert_eq!(offset_of!(InitializeParams, enable_encode_async), 60);
        assert_eq!(offset_of!(InitializeParams, enable_ptd), 64);
        assert_eq!(offset_of!(InitializeParams, priv_data_size), 72);
        assert_eq!(offset_of!(InitializeParams, priv_data), 80);
        assert_eq!(offset_of!(InitializeParams, encode_config), 88);
        assert_eq!(offset_of!(InitializeParams, max_encode_width), 96);
        assert_eq!(
            offset_of!(InitializeParams, max_me_hint_counts_per_block),
            104
        );
        assert_eq!(offset_of!(InitializeParams, tuning_info), 136);
        assert_eq!(offset_of!(InitializeParams, buffer_format), 140);
        assert_eq!(offset_of!(InitializeParams, reserved), 144);
        assert_eq!(offset_of!(InitializeParams, reserved2), 1296);
        assert_eq!(size_of::<PresetConfig>(), 5128);
        assert_eq!(offset_of!(PresetConfig, preset_cfg), 8);
        assert_eq!(offset_of!(PresetConfig, reserved1), 3592);
        assert_eq!(size_of::<PicParamsH264>(), 1536);
        assert_eq!(offset_of!(PicParamsH264, slice_type_data), 24);
        assert_eq!(offset_of!(PicParamsH264, sei_payload_array), 40);
        assert_eq!(offset_of!(PicParamsH264, slice_mode), 48);
        assert_eq!(offset_of!(PicParamsH264, force_intra_slice_idx), 72);
        assert_eq!(offset_of!(PicParamsH264, h264_ext_pic_params), 80);
        assert_eq!(offset_of!(PicParamsH264, reserved), 208);
        assert_eq!(offset_of!(PicParamsH264, reserved2), 1048);
        assert_eq!(size_of::<PicParams>(), 3344);
        assert_eq!(offset_of!(PicParams, encode_pic_flags), 16);
        assert_eq!(offset_of!(PicParams, frame_idx), 20);
        assert_eq!(offset_of!(PicParams, input_time_stamp), 24);
        assert_eq!(offset_of!(PicParams, input_duration), 32);
        assert_eq!(offset_of!(PicParams, input_buffer), 40);
        assert_eq!(offset_of!(PicParams, output_bitstream), 48);
        assert_eq!(offset_of!(PicParams, completion_event), 56);
        assert_eq!(offset_of!(PicParams, buffer_fmt), 64);
        assert_eq!(offset_of!(PicParams, picture_struct), 68);
        assert_eq!(offset_of!(PicParams, picture_type), 72);
        assert_eq!(offset_of!(PicParams, h264), 80);
        assert_eq!(offset_of!(PicParams, me_hint_counts_per_block), 1616);
        assert_eq!(offset_of!(PicParams, me_external_hints), 1648);
        assert_eq!(offset_of!(PicParams, qp_delta_map), 1696);
        assert_eq!(offset_of!(PicParams, alpha_buffer), 1720);
        assert_eq!(offset_of!(PicParams, reserved3), 1728);
        assert_eq!(offset_of!(PicParams, reserved4), 2872);
        assert_eq!(size_of::<LockBitstream>(), 1544);
        assert_eq!(offset_of!(LockBitstream, output_bitstream), 8);
        assert_eq!(offset_of!(LockBitstream, slice_offsets), 16);
        assert_eq!(offset_of!(LockBitstream, frame_idx), 24);
        assert_eq!(offset_of!(LockBitstream, num_slices), 32);
        assert_eq!(offset_of!(LockBitstream, bitstream_size_in_bytes), 36);
        assert_eq!(offset_of!(LockBitstream, output_time_stamp), 40);
        assert_eq!(offset_of!(LockBitstream, bitstream_buffer_ptr), 56);
        assert_eq!(offset_of!(LockBitstream, picture_type), 64);
        assert_eq!(offset_of!(LockBitstream, frame_avg_qp), 72);
        assert_eq!(offset_of!(LockBitstream, temporal_id), 88);
        assert_eq!(offset_of!(LockBitstream, intra_mb_count), 140);
        assert_eq!(offset_of!(LockBitstream, alpha_layer_size_in_bytes), 156);
        assert_eq!(offset_of!(LockBitstream, reserved1), 160);
        assert_eq!(offset_of!(LockBitstream, reserved2), 1032);
        assert_eq!(size_of::<LockInputBuffer>(), 1544);
        assert_eq!(offset_of!(LockInputBuffer, input_buffer), 8);
        assert_eq!(offset_of!(LockInputBuffer, buffer_data_ptr), 16);
        assert_eq!(offset_of!(LockInputBuffer, pitch), 24);
        assert_eq!(size_of::<SequenceParamPayload>(), 1544);
        assert_eq!(offset_of!(SequenceParamPayload, spspps_buffer), 16);
        assert_eq!(
            offset_of!(SequenceParamPayload, out_spspps_payload_size),
            24
        );
    }

    /// The struct version words of SDK 11.1 (printed from the header's macros).
    #[test]
    fn struct_versions_match_the_sdk_11_1_header() {
        assert_eq!(API_VERSION, 0x0100_000b);
        assert_eq!(CAPS_PARAM_VER, 0x7101_000b);
        assert_eq!(CONFIG_VER, 0xf107_000b);
        assert_eq!(INITIALIZE_PARAMS_VER, 0xf105_000b);
        assert_eq!(PRESET_CONFIG_VER, 0xf104_000b);
        assert_eq!(PIC_PARAMS_VER, 0xf104_000b);
        assert_eq!(LOCK_BITSTREAM_VER, 0x7101_000b);
        assert_eq!(LOCK_INPUT_BUFFER_VER, 0x7101_000b);
        assert_eq!(OPEN_ENCODE_SESSION_EX_PARAMS_VER, 0x7101_000b);
        assert_eq!(FUNCTION_LIST_VER, 0x7102_000b);
        assert_eq!(CREATE_INPUT_BUFFER_VER, 0x7101_000b);
        assert_eq!(CREATE_BITSTREAM_BUFFER_VER, 0x7101_000b);
        assert_eq!(SEQUENCE_PARAM_PAYLOAD_VER, 0x7101_000b);
        assert_eq!(RC_PARAMS_VER, 0x7101_000b);
    }
}
