//! Driver entry points that ffmpeg's NVIDIA loader (nv-codec-headers' `cuda_load_functions`,
//! which `h264_nvenc` runs before it opens an encoder) requires to be present, beyond those
//! gpugate and cudarc use.
//!
//! ffmpeg's encode path with frames in host memory calls only `cuInit`, `cuDeviceGetCount`,
//! `cuDeviceGet`, `cuDeviceGetName`, `cuDeviceComputeCapability`, `cuCtxCreate_v2`,
//! `cuCtxPushCurrent_v2`, `cuCtxPopCurrent_v2` and `cuCtxDestroy_v2` (exported elsewhere and
//! working); the loader refuses a library without the others below. `cuMemAllocPitch_v2`
//! works. The rest — graphics interop, texture objects, arrays, the JIT linker, managed
//! memory, 2D copies, stream callbacks, and the legacy 32-bit `cuModuleGetGlobal` — are not
//! simulated: after `cuInit` they return CUDA_ERROR_NOT_SUPPORTED (before it,
//! CUDA_ERROR_NOT_INITIALIZED, as every call does). All of them are older than CUDA 9.0, so
//! every simulated driver release has them.

use std::ffi::{c_uint, c_void};

use cudarc::driver::sys::{CUdeviceptr, CUresult};

use super::state::driver;
use super::{guard, out};

/// Alignment of the pitch `cuMemAllocPitch` returns (the device's texture alignment, 512
/// bytes, which is also a multiple of its texture pitch alignment).
pub const PITCH_ALIGN: usize = 512;

/// `CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t
/// Height, unsigned int ElementSizeBytes)`: `Height` rows of `WidthInBytes` each, every row
/// starting a multiple of 512 bytes after the first; `ElementSizeBytes` must be 4, 8 or 16.
///
/// # Safety
/// `dptr` and `pitch` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocPitch_v2(
    dptr: *mut CUdeviceptr,
    pitch: *mut usize,
    width: usize,
    height: usize,
    element: c_uint,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        if dptr.is_null() || pitch.is_null() || width == 0 || height == 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        if ![4, 8, 16].contains(&element) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let p = width.next_multiple_of(PITCH_ALIGN);
        let size = p
            .checked_mul(height)
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
        let mut st = d.lock();
        let c = st.current()?;
        let dev = st.ctxs[&c].device;
        d.sticky(dev)?;
        let a = st.allocate(d.gpu(dev), c, size as u64, false)?;
        // SAFETY: both checked non-null; the caller's out-pointers.
        unsafe {
            out(dptr, a.base)?;
            out(pitch, p)
        }
    })
}

/// What an entry point that is present but not simulated returns.
fn not_supported() -> CUresult {
    guard(|| {
        driver()?;
        Err(CUresult::CUDA_ERROR_NOT_SUPPORTED)
    })
}

/// `CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)`: not
/// simulated (the host cannot reach simulated device addresses).
#[no_mangle]
pub extern "C" fn cuMemAllocManaged(
    _dptr: *mut CUdeviceptr,
    _size: usize,
    _flags: c_uint,
) -> CUresult {
    not_supported()
}

/// `CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy)`: not simulated.
#[no_mangle]
pub extern "C" fn cuMemcpy2D_v2(_copy: *const c_void) -> CUresult {
    not_supported()
}

/// `CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream)`: not simulated.
#[no_mangle]
pub extern "C" fn cuMemcpy2DAsync_v2(_copy: *const c_void, _stream: *mut c_void) -> CUresult {
    not_supported()
}

/// `CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
/// unsigned int flags)`: not simulated.
#[no_mangle]
pub extern "C" fn cuStreamAddCallback(
    _stream: *mut c_void,
    _callback: *mut c_void,
    _user: *mut c_void,
    _flags: c_uint,
) -> CUresult {
    not_supported()
}

/// `CUresult cuLinkCreate(unsigned int numOptions, CUjit_option *options, void **optionValues,
/// CUlinkState *stateOut)`: not simulated (modules load from PTX text only).
#[no_mangle]
pub extern "C" fn cuLinkCreate(
    _n: c_uint,
    _options: *mut c_void,
    _values: *mut *mut c_void,
    _state: *mut *mut c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size,
/// const char *name, unsigned int numOptions, CUjit_option *options, void **optionValues)`: not
/// simulated.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn cuLinkAddData(
    _state: *mut c_void,
    _kind: c_uint,
    _data: *mut c_void,
    _size: usize,
    _name: *const c_void,
    _n: c_uint,
    _options: *mut c_void,
    _values: *mut *mut c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuLinkComplete(CUlinkState state, void **cubinOut, size_t *sizeOut)`: not
/// simulated.
#[no_mangle]
pub extern "C" fn cuLinkComplete(
    _state: *mut c_void,
    _cubin: *mut *mut c_void,
    _size: *mut usize,
) -> CUresult {
    not_supported()
}

/// `CUresult cuLinkDestroy(CUlinkState state)`: not simulated.
#[no_mangle]
pub extern "C" fn cuLinkDestroy(_state: *mut c_void) -> CUresult {
    not_supported()
}

/// `CUresult cuModuleGetGlobal(CUdeviceptr_v1 *dptr, unsigned int *bytes, CUmodule hmod, const
/// char *name)`: the CUDA 3.1 form with 32-bit device pointers, which cannot hold the
/// simulator's addresses: not simulated (`cuModuleGetGlobal_v2` is).
#[no_mangle]
pub extern "C" fn cuModuleGetGlobal(
    _dptr: *mut c_uint,
    _bytes: *mut c_uint,
    _module: *mut c_void,
    _name: *const c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuTexObjectCreate(CUtexObject *pTexObject, const CUDA_RESOURCE_DESC *pResDesc,
/// const CUDA_TEXTURE_DESC *pTexDesc, const CUDA_RESOURCE_VIEW_DESC *pResViewDesc)`: not
/// simulated.
#[no_mangle]
pub extern "C" fn cuTexObjectCreate(
    _tex: *mut u64,
    _res: *const c_void,
    _desc: *const c_void,
    _view: *const c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuTexObjectDestroy(CUtexObject texObject)`: not simulated.
#[no_mangle]
pub extern "C" fn cuTexObjectDestroy(_tex: u64) -> CUresult {
    not_supported()
}

/// `CUresult cuGLGetDevices_v2(unsigned int *pCudaDeviceCount, CUdevice *pCudaDevices,
/// unsigned int cudaDeviceCount, CUGLDeviceList deviceList)`: no OpenGL here.
#[no_mangle]
pub extern "C" fn cuGLGetDevices_v2(
    _count: *mut c_uint,
    _devices: *mut i32,
    _size: c_uint,
    _list: c_uint,
) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsGLRegisterImage(CUgraphicsResource *pCudaResource, GLuint image, GLenum
/// target, unsigned int Flags)`: no OpenGL here.
#[no_mangle]
pub extern "C" fn cuGraphicsGLRegisterImage(
    _resource: *mut *mut c_void,
    _image: c_uint,
    _target: c_uint,
    _flags: c_uint,
) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsUnregisterResource(CUgraphicsResource resource)`: not simulated.
#[no_mangle]
pub extern "C" fn cuGraphicsUnregisterResource(_resource: *mut c_void) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsMapResources(unsigned int count, CUgraphicsResource *resources,
/// CUstream hStream)`: not simulated.
#[no_mangle]
pub extern "C" fn cuGraphicsMapResources(
    _count: c_uint,
    _resources: *mut *mut c_void,
    _stream: *mut c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsUnmapResources(unsigned int count, CUgraphicsResource *resources,
/// CUstream hStream)`: not simulated.
#[no_mangle]
pub extern "C" fn cuGraphicsUnmapResources(
    _count: c_uint,
    _resources: *mut *mut c_void,
    _stream: *mut c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsSubResourceGetMappedArray(CUarray *pArray, CUgraphicsResource resource,
/// unsigned int arrayIndex, unsigned int mipLevel)`: not simulated.
#[no_mangle]
pub extern "C" fn cuGraphicsSubResourceGetMappedArray(
    _array: *mut *mut c_void,
    _resource: *mut c_void,
    _index: c_uint,
    _level: c_uint,
) -> CUresult {
    not_supported()
}

/// `CUresult cuGraphicsResourceGetMappedPointer_v2(CUdeviceptr *pDevPtr, size_t *pSize,
/// CUgraphicsResource resource)`: not simulated.
#[no_mangle]
pub extern "C" fn cuGraphicsResourceGetMappedPointer_v2(
    _ptr: *mut CUdeviceptr,
    _size: *mut usize,
    _resource: *mut c_void,
) -> CUresult {
    not_supported()
}

/// `CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR
/// *pAllocateArray)`: CUDA arrays are not simulated.
#[no_mangle]
pub extern "C" fn cuArray3DCreate_v2(_array: *mut *mut c_void, _desc: *const c_void) -> CUresult {
    not_supported()
}

/// `CUresult cuArrayDestroy(CUarray hArray)`: CUDA arrays are not simulated.
#[no_mangle]
pub extern "C" fn cuArrayDestroy(_array: *mut c_void) -> CUresult {
    not_supported()
}
