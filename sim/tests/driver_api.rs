//! The CUDA driver API of gpugate-sim, called in-process through the rlib, on a healthy
//! four-GPU machine: m40 (0), m40 (1), a100 (2), h100 (3).
//!
//! Tests run in parallel threads of one process and share the machine, so each works in its own
//! created context (contexts are per thread) and the tests that count memory or reset the
//! primary context have a GPU to themselves (GPU 1).

mod driver_common;

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};

use cudarc::driver::sys::{CUdevice_attribute as A, CUfunction_attribute as F};
use driver_common::*;
use gpugate_sim::driver::errors::{cuGetErrorName, cuGetErrorString};
use gpugate_sim::driver::timing::{self, CopyKind, Factors};
use gpugate_sim::model;

const MODELS: [&str; 4] = ["m40", "m40", "a100", "h100"];

fn setup() {
    machine(&MODELS, &[]);
    init();
}

#[test]
fn initialises_and_reports_the_machine() {
    setup();
    assert_eq!(cuInit(1), CUresult::CUDA_ERROR_INVALID_VALUE);
    let mut v = 0;
    // SAFETY: valid out-pointers (and NULL on purpose).
    unsafe {
        ok(cuDriverGetVersion(&mut v));
        assert_eq!(v, 12040, "the first GPU's driver (m40: CUDA 12.4)");
        assert_eq!(
            cuDriverGetVersion(std::ptr::null_mut()),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        let mut n = 0;
        ok(cuDeviceGetCount(&mut n));
        assert_eq!(n, 4);
        let mut d: CUdevice = -1;
        ok(cuDeviceGet(&mut d, 3));
        assert_eq!(d, 3);
        assert_eq!(cuDeviceGet(&mut d, 4), CUresult::CUDA_ERROR_INVALID_DEVICE);
        assert_eq!(cuDeviceGet(&mut d, -1), CUresult::CUDA_ERROR_INVALID_DEVICE);
        assert_eq!(
            cuDeviceGet(std::ptr::null_mut(), 0),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
    }
}

#[test]
fn devices_report_their_model() {
    setup();
    let mut uuids = std::collections::HashSet::new();
    let mut pci = std::collections::HashSet::new();
    for (dev, key) in MODELS.iter().enumerate() {
        let dev = dev as CUdevice;
        let m = model::load(key).unwrap();
        let mut name = [0 as c_char; 128];
        // SAFETY: the buffer holds 128 bytes.
        ok(unsafe { cuDeviceGetName(name.as_mut_ptr(), 128, dev) });
        // SAFETY: NUL-terminated by the call.
        let name = unsafe { CStr::from_ptr(name.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(name, m.name);
        assert!(name.ends_with("(gpugate-sim)"));

        let u = uuid(dev);
        let mut u1 = cudarc::driver::sys::CUuuid { bytes: [0; 16] };
        // SAFETY: a valid out-pointer.
        ok(unsafe { cuDeviceGetUuid(&mut u1, dev) });
        assert_eq!(u1.bytes.map(|b| b as u8), u);
        assert!(uuids.insert(format_uuid(&u)), "UUIDs differ per GPU");

        let bus_id = format_pci_bus_id(
            attr(A::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID as c_int, dev).unwrap() as u32,
            attr(A::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID as c_int, dev).unwrap() as u32,
            attr(A::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID as c_int, dev).unwrap() as u32,
        );
        assert!(pci.insert(bus_id), "PCI bus ids differ per GPU");

        let mut total = 0usize;
        // SAFETY: a valid out-pointer.
        ok(unsafe { cuDeviceTotalMem_v2(&mut total, dev) });
        assert_eq!(total as u64, m.memory.total_bytes);
        let (mut ma, mut mi) = (0, 0);
        // SAFETY: valid out-pointers.
        ok(unsafe { cuDeviceComputeCapability(&mut ma, &mut mi, dev) });
        assert_eq!([ma as u32, mi as u32], m.compute.capability);

        let c = &m.compute;
        for (a, want) in [
            (
                A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                c.capability[0] as i32,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                c.capability[1] as i32,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                c.sm_count as i32,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_CLOCK_RATE,
                c.sm_clock_max_mhz as i32 * 1000,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE,
                m.memory.clock_mhz as i32 * 1000,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH,
                m.memory.bus_width_bits as i32,
            ),
            (
                A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
                m.memory.l2_bytes as i32,
            ),
            (A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024),
            (A::CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32),
            (A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 49152),
            (
                A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                c.shared_per_block_optin as i32,
            ),
            (A::CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 1),
            (A::CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 1),
            (A::CU_DEVICE_ATTRIBUTE_ECC_ENABLED, 1),
            (A::CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, 1),
            (
                A::CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT,
                c.async_engines as i32,
            ),
            (A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, i32::MAX),
            (A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 64),
            (A::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, 65536),
        ] {
            assert_eq!(attr(a as c_int, dev), Ok(want), "{key}: {a:?}");
        }
        // An attribute the simulator does not model, or no attribute at all.
        for a in [
            A::CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH as c_int,
            9999,
            -1,
        ] {
            assert_eq!(attr(a, dev), Err(CUresult::CUDA_ERROR_INVALID_VALUE), "{a}");
        }
        assert_eq!(
            attr(A::CU_DEVICE_ATTRIBUTE_WARP_SIZE as c_int, 7),
            Err(CUresult::CUDA_ERROR_INVALID_DEVICE)
        );
    }
    // Names are truncated to the buffer, NUL-terminated.
    let mut small = [1 as c_char; 6];
    // SAFETY: the buffer holds 6 bytes.
    ok(unsafe { cuDeviceGetName(small.as_mut_ptr(), 6, 0) });
    // SAFETY: NUL-terminated by the call.
    assert_eq!(
        unsafe { CStr::from_ptr(small.as_ptr()) }.to_str(),
        Ok("Tesla")
    );
    let mut bus = [0 as c_char; 32];
    // SAFETY: the buffer holds 32 bytes.
    ok(unsafe { cuDeviceGetPCIBusId(bus.as_mut_ptr(), 32, 0) });
    // SAFETY: NUL-terminated by the call.
    assert_eq!(
        unsafe { CStr::from_ptr(bus.as_ptr()) }.to_str(),
        Ok("0000:04:00.0")
    );
}

#[test]
fn primary_context_is_shared_retained_and_reset() {
    setup();
    let dev = 1;
    let m = model::load("m40").unwrap();
    let reserved = m.memory.context_reserved_bytes as usize;
    let total_model = m.memory.total_bytes as usize;
    // SAFETY: valid out-pointers throughout.
    unsafe {
        let (mut a, mut b): (CUcontext, CUcontext) = (std::ptr::null_mut(), std::ptr::null_mut());
        ok(cuDevicePrimaryCtxRetain(&mut a, dev));
        ok(cuDevicePrimaryCtxRetain(&mut b, dev));
        assert_eq!(a, b, "one primary context per device");
        let (mut flags, mut active) = (9u32, 0);
        ok(cuDevicePrimaryCtxGetState(dev, &mut flags, &mut active));
        assert_eq!((flags, active), (0, 1));
        ok(cuCtxSetCurrent(a));
        let (mut free, mut total) = (0usize, 0usize);
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert_eq!(total, total_model);
        assert_eq!(free, total - reserved);
        let p = alloc(1 << 20);
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert_eq!(free, total - reserved - (1 << 20));
        // A size that is not a multiple of 256 is charged rounded up.
        let q = alloc(1000);
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert_eq!(free, total - reserved - (1 << 20) - 1024);
        ok(cuMemFree_v2(q));
        assert_eq!(cuMemFree_v2(q), CUresult::CUDA_ERROR_INVALID_VALUE);

        ok(cuDevicePrimaryCtxRelease_v2(dev));
        ok(cuDevicePrimaryCtxGetState(dev, &mut flags, &mut active));
        assert_eq!(active, 1, "still retained once");
        ok(cuDevicePrimaryCtxRelease(dev));
        ok(cuDevicePrimaryCtxGetState(dev, &mut flags, &mut active));
        assert_eq!(active, 0, "the last release deactivates it");
        assert_eq!(
            cuDevicePrimaryCtxRelease_v2(dev),
            CUresult::CUDA_ERROR_INVALID_CONTEXT
        );
        // Still current on this thread, but inactive.
        assert_eq!(
            cuMemGetInfo_v2(&mut free, &mut total),
            CUresult::CUDA_ERROR_INVALID_CONTEXT
        );
        // Retained again: same handle, and the old allocation went with the reset.
        ok(cuDevicePrimaryCtxRetain(&mut b, dev));
        assert_eq!(a, b);
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert_eq!(free, total - reserved);
        assert_eq!(cuMemFree_v2(p), CUresult::CUDA_ERROR_INVALID_VALUE);
        ok(cuDevicePrimaryCtxSetFlags_v2(dev, 4));
        ok(cuDevicePrimaryCtxGetState(dev, &mut flags, &mut active));
        assert_eq!(flags, 4);
        assert_eq!(
            cuDevicePrimaryCtxSetFlags_v2(dev, 0x1000),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // Reset frees everything but keeps it retained.
        let _ = alloc(4096);
        ok(cuDevicePrimaryCtxReset_v2(dev));
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert_eq!(free, total - reserved);
        assert_eq!(cuCtxDestroy_v2(a), CUresult::CUDA_ERROR_INVALID_CONTEXT);
        ok(cuDevicePrimaryCtxRelease_v2(dev));
        ok(cuCtxSetCurrent(std::ptr::null_mut()));
    }
}

#[test]
fn contexts_stack_per_thread() {
    setup();
    std::thread::spawn(|| {
        // SAFETY: valid out-pointers throughout.
        unsafe {
            let mut cur: CUcontext = 1 as CUcontext;
            ok(cuCtxGetCurrent(&mut cur));
            assert!(cur.is_null(), "a new thread has no context");
            assert_eq!(cuCtxSynchronize(), CUresult::CUDA_ERROR_INVALID_CONTEXT);
            let mut p: CUdeviceptr = 0;
            assert_eq!(
                cuMemAlloc_v2(&mut p, 16),
                CUresult::CUDA_ERROR_INVALID_CONTEXT
            );

            let a = new_ctx(0);
            let b = new_ctx(2);
            ok(cuCtxGetCurrent(&mut cur));
            assert_eq!(cur, b);
            let mut d: CUdevice = -1;
            ok(cuCtxGetDevice(&mut d));
            assert_eq!(d, 2);
            let mut popped: CUcontext = std::ptr::null_mut();
            ok(cuCtxPopCurrent_v2(&mut popped));
            assert_eq!(popped, b);
            ok(cuCtxGetCurrent(&mut cur));
            assert_eq!(cur, a);
            ok(cuCtxPushCurrent_v2(b));
            ok(cuCtxSetCurrent(std::ptr::null_mut()));
            ok(cuCtxGetCurrent(&mut cur));
            assert_eq!(cur, a, "SetCurrent(NULL) pops");
            ok(cuCtxSetCurrent(b));
            ok(cuCtxGetCurrent(&mut cur));
            assert_eq!(cur, b, "SetCurrent replaces the top");

            let mut v = 0u32;
            ok(cuCtxGetApiVersion(b, &mut v));
            assert_eq!(v, 3020);
            let mut lim = 0usize;
            ok(cuCtxGetLimit(&mut lim, 0));
            assert_eq!(lim, 1024, "stack size");
            ok(cuCtxSetLimit(0, 4096));
            ok(cuCtxGetLimit(&mut lim, 0));
            assert_eq!(lim, 4096);
            ok(cuCtxGetLimit(&mut lim, 6));
            assert_eq!(
                cuCtxGetLimit(&mut lim, 99),
                CUresult::CUDA_ERROR_UNSUPPORTED_LIMIT
            );
            let (mut lo, mut hi) = (1, 1);
            ok(cuCtxGetStreamPriorityRange(&mut lo, &mut hi));
            assert_eq!((lo, hi), (0, -5));
            ok(cuCtxGetStreamPriorityRange(std::ptr::null_mut(), &mut hi));

            // The persisting-L2 limit needs sm_80: the M40 refuses it.
            ok(cuCtxSetCurrent(a));
            assert_eq!(
                cuCtxGetLimit(&mut lim, 6),
                CUresult::CUDA_ERROR_UNSUPPORTED_LIMIT
            );

            ok(cuCtxDestroy_v2(b));
            assert_eq!(cuCtxDestroy_v2(b), CUresult::CUDA_ERROR_INVALID_CONTEXT);
            assert_eq!(cuCtxPushCurrent_v2(b), CUresult::CUDA_ERROR_INVALID_CONTEXT);
            ok(cuCtxSynchronize());
            ok(cuCtxDestroy_v2(a));
            ok(cuCtxGetCurrent(&mut cur));
            assert!(cur.is_null(), "destroyed contexts leave the stack");
            assert_eq!(
                cuCtxPopCurrent_v2(&mut popped),
                CUresult::CUDA_ERROR_INVALID_CONTEXT
            );
        }
    })
    .join()
    .unwrap();
}

#[test]
fn device_memory_copies_and_memsets_round_trip() {
    setup();
    let ctx = new_ctx(0);
    // SAFETY: every pointer passed is valid for the sizes given (or deliberately bad where the
    // call must refuse it without touching it).
    unsafe {
        let mut p: CUdeviceptr = 0;
        assert_eq!(cuMemAlloc_v2(&mut p, 0), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(
            cuMemAlloc_v2(&mut p, 1 << 50),
            CUresult::CUDA_ERROR_OUT_OF_MEMORY
        );
        let a = alloc(4096);
        let b = alloc(4096);
        assert_eq!(a % 256, 0);
        assert!(
            a >= 0x2_0000_0000,
            "device addresses are not host addresses"
        );
        let src: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 1) as u8).collect();
        ok(htod(a, &src));
        ok(cuMemcpyDtoD_v2(b, a, 4096));
        let mut back = vec![0u8; 4096];
        ok(dtoh(&mut back, b));
        assert_eq!(back, src);
        // Fresh memory reads as zero.
        let c = alloc(1 << 20);
        let mut z = vec![1u8; 64];
        ok(dtoh(&mut z, c + 4096));
        assert!(z.iter().all(|&x| x == 0));
        // Offsets inside an allocation work; anything past its end does not.
        ok(htod(a + 100, &[9, 9]));
        assert_eq!(htod(a + 4095, &[1, 2]), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(htod(a + 4096, &[1]), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(dtoh(&mut back, a + 1), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(htod(0, &[1]), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(
            cuMemcpyDtoD_v2(b, a, 4097),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // Zero bytes is a no-op.
        ok(cuMemcpyHtoD_v2(a, std::ptr::null(), 0));

        ok(cuMemsetD8_v2(a, 0xab, 16));
        ok(cuMemsetD16_v2(a + 16, 0x1234, 8));
        ok(cuMemsetD32_v2(a + 32, 0xdead_beef, 4));
        assert_eq!(
            cuMemsetD32_v2(a + 2, 0, 1),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuMemsetD16_v2(a + 1, 0, 1),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuMemsetD8_v2(a + 4000, 0, 100),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        let mut m = [0u8; 48];
        ok(dtoh(&mut m, a));
        assert!(m[..16].iter().all(|&x| x == 0xab));
        assert_eq!(u16::from_ne_bytes([m[16], m[17]]), 0x1234);
        assert_eq!(u16::from_ne_bytes([m[30], m[31]]), 0x1234);
        assert_eq!(
            u32::from_ne_bytes(m[44..48].try_into().unwrap()),
            0xdead_beef
        );

        // Unified addressing: cuMemcpy tells device from host memory by the address.
        let mut host = [0u8; 8];
        ok(cuMemcpy(host.as_mut_ptr() as CUdeviceptr, a + 32, 4));
        assert_eq!(
            u32::from_ne_bytes(host[..4].try_into().unwrap()),
            0xdead_beef
        );
        let v = [5u8; 8];
        ok(cuMemcpy(b, v.as_ptr() as CUdeviceptr, 8));
        ok(dtoh(&mut host, b));
        assert_eq!(host, [5; 8]);

        // Async forms on a stream.
        let s = new_stream(1);
        ok(cuMemcpyHtoDAsync_v2(
            b,
            src.as_ptr() as *const c_void,
            4096,
            s,
        ));
        ok(cuMemsetD32Async(b, 7, 2, s));
        ok(cuMemcpyDtoHAsync_v2(
            back.as_mut_ptr() as *mut c_void,
            b,
            4096,
            s,
        ));
        ok(cuStreamSynchronize(s));
        assert_eq!(&back[..8], &[7, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(&back[8..], &src[8..]);
        let mut d: CUdeviceptr = 0;
        ok(cuMemAllocAsync(&mut d, 512, s));
        ok(cuMemsetD8Async(d, 3, 512, s));
        ok(cuMemFreeAsync(d, s));
        assert_eq!(cuMemFreeAsync(d, s), CUresult::CUDA_ERROR_INVALID_VALUE);

        // Freeing needs the base address of a live allocation.
        assert_eq!(cuMemFree_v2(a + 8), CUresult::CUDA_ERROR_INVALID_VALUE);
        ok(cuMemFree_v2(a));
        assert_eq!(cuMemFree_v2(a), CUresult::CUDA_ERROR_INVALID_VALUE);
        assert_eq!(htod(a, &[1]), CUresult::CUDA_ERROR_INVALID_VALUE);
        ok(cuStreamDestroy_v2(s));
        ok(cuCtxDestroy_v2(ctx));
    }
}

#[test]
fn pinned_memory_is_real_host_memory() {
    use cudarc::driver::sys::CUpointer_attribute as P;
    setup();
    let ctx = new_ctx(0);
    // SAFETY: valid out-pointers; the pinned buffer is used within its size.
    unsafe {
        let mut h: *mut c_void = std::ptr::null_mut();
        ok(cuMemHostAlloc(&mut h, 10_000, 0));
        assert_eq!(h as usize % 4096, 0, "page aligned");
        let s = std::slice::from_raw_parts_mut(h as *mut u8, 10_000);
        s.fill(0x5a);
        let d = alloc(10_000);
        ok(cuMemcpyHtoD_v2(d, h, 10_000));
        let mut back = vec![0u8; 10_000];
        ok(dtoh(&mut back, d));
        assert!(back.iter().all(|&x| x == 0x5a));
        assert_eq!(
            cuMemHostAlloc(&mut h, 16, 0x100),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        let mut h2: *mut c_void = std::ptr::null_mut();
        ok(cuMemAllocHost_v2(&mut h2, 64));

        let mut mt = 0u32;
        ok(cuPointerGetAttribute(
            &mut mt as *mut u32 as *mut c_void,
            P::CU_POINTER_ATTRIBUTE_MEMORY_TYPE as c_int,
            d + 10,
        ));
        assert_eq!(mt, 2, "device");
        ok(cuPointerGetAttribute(
            &mut mt as *mut u32 as *mut c_void,
            P::CU_POINTER_ATTRIBUTE_MEMORY_TYPE as c_int,
            h as CUdeviceptr + 100,
        ));
        assert_eq!(mt, 1, "host");
        let mut c: CUcontext = std::ptr::null_mut();
        ok(cuPointerGetAttribute(
            &mut c as *mut CUcontext as *mut c_void,
            P::CU_POINTER_ATTRIBUTE_CONTEXT as c_int,
            d,
        ));
        assert_eq!(c, ctx);
        let mut start: CUdeviceptr = 0;
        ok(cuPointerGetAttribute(
            &mut start as *mut CUdeviceptr as *mut c_void,
            P::CU_POINTER_ATTRIBUTE_RANGE_START_ADDR as c_int,
            d + 99,
        ));
        assert_eq!(start, d);
        let mut ord: c_int = -1;
        ok(cuPointerGetAttribute(
            &mut ord as *mut c_int as *mut c_void,
            P::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL as c_int,
            d,
        ));
        assert_eq!(ord, 0);
        let stack = 0u64;
        assert_eq!(
            cuPointerGetAttribute(
                &mut mt as *mut u32 as *mut c_void,
                P::CU_POINTER_ATTRIBUTE_MEMORY_TYPE as c_int,
                &stack as *const u64 as CUdeviceptr,
            ),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "memory the driver does not know"
        );

        ok(cuMemFreeHost(h));
        ok(cuMemFreeHost(h2));
        assert_eq!(cuMemFreeHost(h), CUresult::CUDA_ERROR_INVALID_VALUE);
        let mut on_stack = [0u8; 4];
        assert_eq!(
            cuMemFreeHost(on_stack.as_mut_ptr() as *mut c_void),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuCtxDestroy_v2(ctx));
    }
}

#[test]
fn events_time_copies_on_the_models_link() {
    setup();
    let ctx = new_ctx(0);
    let m = model::load("m40").unwrap();
    let f = Factors::healthy(&m);
    // SAFETY: valid pointers and sizes throughout.
    unsafe {
        let s = new_stream(1);
        let (e0, e1) = (new_event(0), new_event(1));
        let bytes = 8usize << 20;
        let d = alloc(bytes);
        let mut h: *mut c_void = std::ptr::null_mut();
        ok(cuMemHostAlloc(&mut h, bytes, 0));

        ok(cuEventRecord(e0, s));
        ok(cuMemcpyHtoDAsync_v2(d, h, bytes, s));
        ok(cuEventRecord(e1, s));
        ok(cuEventSynchronize(e1));
        ok(cuEventQuery(e1));
        let ms = elapsed_ms(e0, e1);
        let want =
            timing::copy_seconds(&m, f, CopyKind::HostToDevice { pinned: true }, bytes as u64);
        assert!(((ms as f64) / (want * 1e3) - 1.0).abs() < 1e-4, "{ms} ms");
        let gbps = bytes as f64 / (ms as f64 * 1e-3) / 1e9;
        assert!(
            (12.0..13.0).contains(&gbps),
            "pinned H2D on PCIe 3.0 x16: {gbps}"
        );
        let mut v2 = 0f32;
        ok(cuEventElapsedTime_v2(&mut v2, e0, e1));
        assert_eq!(v2, ms);

        // Pageable host memory is slower.
        let pageable = vec![1u8; bytes];
        ok(cuEventRecord(e0, s));
        ok(cuMemcpyHtoDAsync_v2(
            d,
            pageable.as_ptr() as *const c_void,
            bytes,
            s,
        ));
        ok(cuEventRecord(e1, s));
        assert!(elapsed_ms(e0, e1) > 1.5 * ms);

        // Device-to-device copies run at the memory's rate.
        let d2 = alloc(bytes);
        ok(cuEventRecord(e0, s));
        ok(cuMemcpyDtoDAsync_v2(d2, d, bytes, s));
        ok(cuEventRecord(e1, s));
        let want = timing::copy_seconds(&m, f, CopyKind::DeviceToDevice, bytes as u64);
        assert!(((elapsed_ms(e0, e1) as f64) / (want * 1e3) - 1.0).abs() < 1e-4);

        // Timing needs recorded, timing-enabled events.
        let quiet = new_event(2);
        let fresh = new_event(0);
        let mut x = 0f32;
        assert_eq!(
            cuEventElapsedTime(&mut x, e0, fresh),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        ok(cuEventRecord(quiet, s));
        assert_eq!(
            cuEventElapsedTime(&mut x, e0, quiet),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        assert_eq!(
            cuEventElapsedTime(std::ptr::null_mut(), e0, e1),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // Interprocess events must disable timing.
        let mut e: CUevent = std::ptr::null_mut();
        assert_eq!(cuEventCreate(&mut e, 4), CUresult::CUDA_ERROR_INVALID_VALUE);
        ok(cuEventCreate(&mut e, 6));
        assert_eq!(
            cuEventCreate(&mut e, 0x80),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );

        // An event recorded on a stream of another context is refused.
        let other = new_ctx(0);
        let s_other = new_stream(0);
        ok(cuCtxSetCurrent(ctx));
        assert_eq!(
            cuEventRecord(e0, s_other),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        ok(cuStreamDestroy_v2(s_other));
        // A never-recorded event is complete, and waiting on it is no dependency.
        ok(cuEventQuery(fresh));
        ok(cuStreamWaitEvent(s, fresh, 0));
        assert_eq!(
            cuStreamWaitEvent(s, fresh, 7),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );

        ok(cuEventDestroy_v2(fresh));
        assert_eq!(
            cuEventDestroy_v2(fresh),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        assert_eq!(cuEventQuery(fresh), CUresult::CUDA_ERROR_INVALID_HANDLE);
        ok(cuMemFreeHost(h));
        ok(cuStreamDestroy_v2(s));
        assert_eq!(cuStreamSynchronize(s), CUresult::CUDA_ERROR_INVALID_HANDLE);
        ok(cuCtxDestroy_v2(other));
        ok(cuCtxDestroy_v2(ctx));
    }
}

#[test]
fn the_legacy_stream_orders_blocking_streams_and_events_join_streams() {
    setup();
    let ctx = new_ctx(0);
    // SAFETY: valid pointers and sizes throughout.
    unsafe {
        let blocking = new_stream(0);
        let free = new_stream(1);
        let (e0, e1, e2) = (new_event(0), new_event(0), new_event(0));
        let bytes = 4usize << 20;
        let d = alloc(bytes);
        let mut h: *mut c_void = std::ptr::null_mut();
        ok(cuMemHostAlloc(&mut h, bytes, 0));

        ok(cuEventRecord(e0, std::ptr::null_mut()));
        ok(cuMemcpyHtoDAsync_v2(d, h, bytes, blocking));
        // The legacy stream waits for the blocking stream's copy…
        ok(cuEventRecord(e1, std::ptr::null_mut()));
        let copy_ms = elapsed_ms(e0, e1);
        assert!(copy_ms > 0.1, "{copy_ms}");
        // …the non-blocking stream does not.
        ok(cuEventRecord(e2, free));
        assert!(elapsed_ms(e0, e2) < copy_ms);
        // Until it waits on an event recorded after the copy.
        ok(cuStreamWaitEvent(free, e1, 0));
        ok(cuEventRecord(e2, free));
        assert_eq!(elapsed_ms(e0, e2), copy_ms);
        // CU_STREAM_LEGACY is the NULL stream.
        ok(cuEventRecord(e2, 1 as CUstream));
        assert_eq!(elapsed_ms(e1, e2), 0.0);
        // Synchronous copies run on the legacy stream and move it forward.
        ok(cuMemcpyHtoD_v2(d, h, bytes));
        ok(cuEventRecord(e2, std::ptr::null_mut()));
        assert!((elapsed_ms(e1, e2) - copy_ms).abs() < 1e-3);
        let mut prio = 9;
        ok(cuStreamGetPriority(blocking, &mut prio));
        assert_eq!(prio, 0);
        let mut s: CUstream = std::ptr::null_mut();
        ok(cuStreamCreateWithPriority(&mut s, 1, -100));
        ok(cuStreamGetPriority(s, &mut prio));
        assert_eq!(prio, -5, "clamped to the greatest priority");
        let mut fl = 9;
        ok(cuStreamGetFlags(s, &mut fl));
        assert_eq!(fl, 1);
        assert_eq!(
            cuStreamCreate(&mut s, 2),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuStreamQuery(blocking));
        ok(cuMemFreeHost(h));
        ok(cuCtxDestroy_v2(ctx));
        assert_eq!(cuStreamQuery(free), CUresult::CUDA_ERROR_INVALID_HANDLE);
    }
}

#[test]
fn peer_access_between_simulated_gpus() {
    setup();
    // SAFETY: valid pointers and sizes throughout.
    unsafe {
        let mut can = -1;
        ok(cuDeviceCanAccessPeer(&mut can, 2, 3));
        assert_eq!(can, 1);
        ok(cuDeviceCanAccessPeer(&mut can, 2, 2));
        assert_eq!(can, 0);
        assert_eq!(
            cuDeviceCanAccessPeer(&mut can, 2, 9),
            CUresult::CUDA_ERROR_INVALID_DEVICE
        );
        let a = new_ctx(2);
        let pa = alloc(1024);
        let b = new_ctx(3);
        let pb = alloc(1024);
        ok(cuCtxEnablePeerAccess(a, 0));
        assert_eq!(
            cuCtxEnablePeerAccess(a, 0),
            CUresult::CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED
        );
        assert_eq!(
            cuCtxEnablePeerAccess(b, 0),
            CUresult::CUDA_ERROR_INVALID_CONTEXT
        );
        ok(cuCtxDisablePeerAccess(a));
        assert_eq!(
            cuCtxDisablePeerAccess(a),
            CUresult::CUDA_ERROR_PEER_ACCESS_NOT_ENABLED
        );
        assert_eq!(
            cuCtxEnablePeerAccess(a, 1),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        let same = new_ctx(3);
        ok(cuCtxSetCurrent(b));
        assert_eq!(
            cuCtxEnablePeerAccess(same, 0),
            CUresult::CUDA_ERROR_PEER_ACCESS_UNSUPPORTED
        );

        let data: Vec<u8> = (0..1024).map(|i| i as u8).collect();
        ok(htod(pb, &data));
        ok(cuMemcpyPeer(pa, a, pb, b, 1024));
        let s = new_stream(1);
        ok(cuMemcpyPeerAsync(pb + 512, b, pa, a, 512, s));
        ok(cuCtxSetCurrent(a));
        let mut back = vec![0u8; 1024];
        ok(dtoh(&mut back, pa));
        assert_eq!(back, data);
        // A pointer that is not memory of the named context's device is refused.
        assert_eq!(
            cuMemcpyPeer(pa, b, pb, a, 16),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // Unified addressing also copies across GPUs.
        ok(cuMemcpy(pa, pb, 16));
        ok(cuCtxDestroy_v2(same));
        ok(cuCtxDestroy_v2(b));
        ok(cuCtxDestroy_v2(a));
    }
}

#[test]
fn error_names_and_strings() {
    setup();
    let name = |c: c_int| {
        let mut p: *const c_char = std::ptr::null();
        // SAFETY: a valid out-pointer.
        let r = unsafe { cuGetErrorName(c, &mut p) };
        // SAFETY: a static NUL-terminated string when non-null.
        (
            r,
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap()),
        )
    };
    let desc = |c: c_int| {
        let mut p: *const c_char = std::ptr::null();
        // SAFETY: a valid out-pointer.
        let r = unsafe { cuGetErrorString(c, &mut p) };
        // SAFETY: a static NUL-terminated string when non-null.
        (
            r,
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap()),
        )
    };
    for (code, n, d) in [
        (0, "CUDA_SUCCESS", "no error"),
        (1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"),
        (2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"),
        (3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"),
        (101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"),
        (201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"),
        (
            214,
            "CUDA_ERROR_ECC_UNCORRECTABLE",
            "uncorrectable ECC error encountered",
        ),
        (
            218,
            "CUDA_ERROR_INVALID_PTX",
            "a PTX JIT compilation failed",
        ),
        (400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"),
        (500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"),
        (
            700,
            "CUDA_ERROR_ILLEGAL_ADDRESS",
            "an illegal memory access was encountered",
        ),
        (716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"),
        (
            719,
            "CUDA_ERROR_LAUNCH_FAILED",
            "unspecified launch failure",
        ),
    ] {
        assert_eq!(name(code), (CUresult::CUDA_SUCCESS, Some(n)));
        assert_eq!(desc(code), (CUresult::CUDA_SUCCESS, Some(d)));
    }
    assert_eq!(name(12345), (CUresult::CUDA_ERROR_INVALID_VALUE, None));
    assert_eq!(desc(-1), (CUresult::CUDA_ERROR_INVALID_VALUE, None));
    // SAFETY: NULL on purpose: refused, not written.
    assert_eq!(
        unsafe { cuGetErrorName(0, std::ptr::null_mut()) },
        CUresult::CUDA_ERROR_INVALID_VALUE
    );
}

#[test]
fn bad_handles_are_errors_not_crashes() {
    setup();
    let ctx = new_ctx(0);
    let junk = [0x1234usize, 0xdead_beef, usize::MAX, 0x2c00_0000_0000_ffff];
    // SAFETY: the handles are garbage on purpose; the driver must refuse them.
    unsafe {
        for j in junk {
            assert_eq!(
                cuStreamSynchronize(j as CUstream),
                CUresult::CUDA_ERROR_INVALID_HANDLE
            );
            assert_eq!(
                cuEventRecord(j as CUevent, std::ptr::null_mut()),
                CUresult::CUDA_ERROR_INVALID_HANDLE
            );
            assert_eq!(
                cuModuleUnload(j as CUmodule),
                CUresult::CUDA_ERROR_INVALID_HANDLE
            );
            let mut v = 0;
            assert_eq!(
                cuFuncGetAttribute(&mut v, 0, j as CUfunction),
                CUresult::CUDA_ERROR_INVALID_HANDLE
            );
            assert_eq!(
                cuCtxSetCurrent(j as CUcontext),
                CUresult::CUDA_ERROR_INVALID_CONTEXT
            );
            assert_eq!(
                launch(j as CUfunction, 1, 1, std::ptr::null_mut(), &mut []),
                CUresult::CUDA_ERROR_INVALID_HANDLE
            );
        }
        // A stream handle is not an event handle.
        let s = new_stream(0);
        assert_eq!(
            cuEventQuery(s as CUevent),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        ok(cuCtxDestroy_v2(ctx));
    }
}

#[test]
fn modules_load_with_jit_logs_and_report_functions_and_globals() {
    setup();
    let ctx = new_ctx(0);
    let (m, info) = load_ptx(ADD_ONE_PTX).expect("the test module loads");
    assert!(
        info.contains("PTX ISA 6.0") && info.contains("sm_52"),
        "{info}"
    );
    let f = get_function(m, "add_one").unwrap();
    assert_eq!(
        get_function(m, "add_one"),
        Ok(f),
        "the same handle each time"
    );
    assert_eq!(get_function(m, "nope"), Err(CUresult::CUDA_ERROR_NOT_FOUND));
    let fattr = |a: F| {
        let mut v = -1;
        // SAFETY: a valid out-pointer.
        ok(unsafe { cuFuncGetAttribute(&mut v, a as c_int, f) });
        v
    };
    assert_eq!(
        fattr(F::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
        256,
        ".maxntid"
    );
    assert_eq!(fattr(F::CU_FUNC_ATTRIBUTE_PTX_VERSION), 60);
    assert_eq!(fattr(F::CU_FUNC_ATTRIBUTE_BINARY_VERSION), 52);
    assert_eq!(fattr(F::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES), 0);
    assert_eq!(fattr(F::CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES), 0);
    assert_eq!(fattr(F::CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES), 8);
    let regs = fattr(F::CU_FUNC_ATTRIBUTE_NUM_REGS);
    assert!((1..=255).contains(&regs), "{regs}");
    assert_eq!(
        fattr(F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES),
        49152
    );
    // SAFETY: plain calls with valid handles.
    unsafe {
        assert_eq!(
            cuFuncSetAttribute(
                f,
                F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES as c_int,
                49153
            ),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "the M40 has no opt-in beyond 48 KiB"
        );
        ok(cuFuncSetAttribute(
            f,
            F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES as c_int,
            1024,
        ));
        assert_eq!(
            fattr(F::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES),
            1024
        );
        assert_eq!(
            cuFuncSetAttribute(f, F::CU_FUNC_ATTRIBUTE_NUM_REGS as c_int, 3),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        ok(cuFuncSetCacheConfig(f, 1));
        let mut blocks = 0;
        ok(cuOccupancyMaxActiveBlocksPerMultiprocessor(
            &mut blocks,
            f,
            256,
            0,
        ));
        assert!((1..=8).contains(&blocks), "{blocks}");
        ok(cuOccupancyMaxActiveBlocksPerMultiprocessor(
            &mut blocks,
            f,
            512,
            0,
        ));
        assert_eq!(blocks, 0, "above .maxntid");

        // Module globals live in device memory with their initial values.
        let name = c"counter";
        let (mut p, mut n): (CUdeviceptr, usize) = (0, 0);
        ok(cuModuleGetGlobal_v2(&mut p, &mut n, m, name.as_ptr()));
        assert_eq!(n, 4);
        let mut v = [0u8; 4];
        ok(dtoh(&mut v, p));
        assert_eq!(u32::from_ne_bytes(v), 7);
        let (mut c, mut cn): (CUdeviceptr, usize) = (0, 0);
        ok(cuModuleGetGlobal_v2(&mut c, &mut cn, m, c"scale".as_ptr()));
        assert_eq!(cn, 8);
        let mut t = [0u8; 8];
        ok(dtoh(&mut t, c));
        assert_eq!(f32::from_ne_bytes(t[4..].try_into().unwrap()), 2.0);
        assert_eq!(
            cuModuleGetGlobal_v2(&mut p, &mut n, m, c"nope".as_ptr()),
            CUresult::CUDA_ERROR_NOT_FOUND
        );
        // Module memory is not the user's to free.
        assert_eq!(cuMemFree_v2(p), CUresult::CUDA_ERROR_INVALID_VALUE);

        // `extra` is not supported.
        let mut slots = [0u64; 2];
        let mut ptrs: Vec<*mut c_void> = slots
            .iter_mut()
            .map(|s| s as *mut u64 as *mut c_void)
            .collect();
        let mut extra = [std::ptr::null_mut::<c_void>(); 1];
        assert_eq!(
            cuLaunchKernel(
                f,
                1,
                1,
                1,
                32,
                1,
                1,
                0,
                std::ptr::null_mut(),
                ptrs.as_mut_ptr(),
                extra.as_mut_ptr()
            ),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // kernelParams is required for a kernel with parameters.
        assert_eq!(
            cuLaunchKernel(
                f,
                1,
                1,
                1,
                32,
                1,
                1,
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut()
            ),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        // A function launched on a stream of another context is refused.
        let other = new_ctx(0);
        let s = new_stream(1);
        ok(cuCtxSetCurrent(ctx));
        assert_eq!(
            launch(f, 1, 32, s, &mut slots),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        ok(cuCtxDestroy_v2(other));

        ok(cuModuleUnload(m));
        assert_eq!(cuModuleUnload(m), CUresult::CUDA_ERROR_INVALID_HANDLE);
        assert_eq!(
            cuFuncGetAttribute(&mut blocks, 0, f),
            CUresult::CUDA_ERROR_INVALID_HANDLE
        );
        assert_eq!(
            dtoh(&mut v, p),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "freed with the module"
        );
        ok(cuModuleLoadData(
            &mut std::ptr::null_mut(),
            c"\n.version 6.0\n.target sm_52\n.address_size 64\n".as_ptr() as *const c_void,
        ));
    }
    ok(cuCtxDestroy_v2(ctx));
}

#[test]
fn bad_ptx_fails_with_the_real_codes_and_a_log() {
    setup();
    let ctx = new_ctx(0);
    let (code, log) = load_ptx("this is not PTX").unwrap_err();
    assert_eq!(code, CUresult::CUDA_ERROR_INVALID_PTX);
    assert!(!log.is_empty());
    // An instruction the front end does not know is named.
    let bad = ADD_ONE_PTX.replace("add.f32 \t%f2", "frobnicate.f32 \t%f2");
    let (code, log) = load_ptx(&bad).unwrap_err();
    assert_eq!(code, CUresult::CUDA_ERROR_INVALID_PTX);
    assert!(log.contains("frobnicate"), "{log}");
    // Newer than the driver's JIT (CUDA 12.4 accepts up to 8.4).
    let (code, log) = load_ptx(&ADD_ONE_PTX.replace(".version 6.0", ".version 8.5")).unwrap_err();
    assert_eq!(code, CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
    assert!(log.contains("8.5"), "{log}");
    ok(
        load_ptx(&ADD_ONE_PTX.replace(".version 6.0", ".version 8.4"))
            .map(|_| ())
            .map_or_else(|e| e.0, |_| CUresult::CUDA_SUCCESS),
    );
    // A target above the device.
    let (code, _) = load_ptx(&ADD_ONE_PTX.replace("sm_52", "sm_80")).unwrap_err();
    assert_eq!(code, CUresult::CUDA_ERROR_INVALID_PTX);
    // A cubin is not PTX.
    let mut m: CUmodule = std::ptr::null_mut();
    // SAFETY: a NUL-terminated buffer with an ELF header.
    let r = unsafe { cuModuleLoadData(&mut m, c"\x7fELF\x02\x01\x01".as_ptr() as *const c_void) };
    assert_eq!(r, CUresult::CUDA_ERROR_INVALID_IMAGE);
    // SAFETY: NULL image on purpose.
    assert_eq!(
        unsafe { cuModuleLoadData(&mut m, std::ptr::null()) },
        CUresult::CUDA_ERROR_INVALID_VALUE
    );
    // A PTX file, and a file that is not there.
    let file = std::env::temp_dir().join(format!("gpugate-sim-add-one-{}.ptx", std::process::id()));
    std::fs::write(&file, ADD_ONE_PTX).unwrap();
    let path = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
    // SAFETY: valid out-pointer and NUL-terminated paths.
    unsafe {
        ok(cuModuleLoad(&mut m, path.as_ptr()));
        ok(cuModuleUnload(m));
        assert_eq!(
            cuModuleLoad(&mut m, c"/no/such/file.ptx".as_ptr()),
            CUresult::CUDA_ERROR_FILE_NOT_FOUND
        );
    }
    let _ = std::fs::remove_file(file);
    // An option that does not exist.
    let mut opts: [c_int; 1] = [999];
    let mut vals: [*mut c_void; 1] = [std::ptr::null_mut()];
    // SAFETY: one option, one value.
    let r = unsafe {
        cuModuleLoadDataEx(
            &mut m,
            ADD_ONE_PTX.as_ptr() as *const c_void,
            1,
            opts.as_mut_ptr(),
            vals.as_mut_ptr(),
        )
    };
    assert_eq!(r, CUresult::CUDA_ERROR_INVALID_VALUE);
    // The module variables of a failed load are not left behind (GPU 0 has no accounting
    // of its own here; the next successful load still places them).
    ok(cuCtxDestroy_v2(ctx));
}

/// Runs the PTX and checks the clock and the log.
#[test]
fn launches_run_the_ptx_and_advance_the_stream_clock() {
    setup();
    let log = machine(&MODELS, &[]);
    let ctx = new_ctx(3);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let n = 1000usize;
    let data: Vec<f32> = (0..n).map(|i| i as f32).collect();
    // SAFETY: plain byte views of f32s.
    let bytes = unsafe { std::slice::from_raw_parts(data.as_ptr() as *const u8, n * 4) };
    let d = alloc(n * 4);
    ok(htod(d, bytes));
    let s = new_stream(1);
    let (e0, e1) = (new_event(0), new_event(0));
    ok(cuEventRecord(e0, s));
    let mut args = [d, n as u64];
    ok(launch(f, n.div_ceil(256) as u32, 256, s, &mut args));
    ok(cuEventRecord(e1, s));
    let mut back = vec![0u8; n * 4];
    ok(dtoh(&mut back, d));
    for (i, c) in back.chunks(4).enumerate() {
        assert_eq!(f32::from_ne_bytes(c.try_into().unwrap()), i as f32 + 1.0);
    }
    let mut v2 = 0f32;
    // SAFETY: a valid out-pointer.
    ok(unsafe { cuEventElapsedTime_v2(&mut v2, e0, e1) });
    let h100 = model::load("h100").unwrap();
    // Milliseconds as f32: allow its rounding.
    assert!(v2 as f64 >= h100.time.launch_interval_us * 1e-3 * (1.0 - 1e-6));
    let rec = log_records(log)
        .into_iter()
        .rev()
        .find(|r| r["event"] == "launch" && r["kernel"] == "add_one" && r["gpu"] == 3)
        .expect("a launch record");
    assert_eq!(rec["stats"]["global_bytes_read"], 4000);
    assert_eq!(rec["stats"]["global_bytes_written"], 4000);
    assert_eq!(rec["error"], serde_json::Value::Null);
    // A block above .maxntid is refused at launch, not sticky.
    assert_eq!(
        launch(f, 1, 512, s, &mut args),
        CUresult::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
    );
    ok(cuStreamSynchronize(s));
    ok(cuCtxDestroy_v2(ctx));
}

#[test]
fn copies_are_logged_with_their_bytes() {
    setup();
    let log = machine(&MODELS, &[]);
    let ctx = new_ctx(2);
    let d = alloc(123_457);
    let src = vec![3u8; 123_457];
    ok(htod(d, &src));
    let recs = log_records(log);
    let r = recs
        .iter()
        .find(|r| r["event"] == "copy" && r["bytes"] == 123_457)
        .expect("the copy is logged");
    assert_eq!(r["kind"], "htod");
    assert_eq!(r["gpu"], 2);
    assert_eq!(r["pinned"], false);
    assert!(r["seconds"].as_f64().unwrap() > 0.0);
    ok(cuCtxDestroy_v2(ctx));
}

#[test]
fn unused_flag_values_are_refused() {
    setup();
    let mut c: CUcontext = std::ptr::null_mut();
    // SAFETY: valid out-pointer.
    unsafe {
        assert_eq!(
            cuCtxCreate_v2(&mut c, 5, 0),
            CUresult::CUDA_ERROR_INVALID_VALUE
        );
        assert_eq!(
            cuCtxCreate_v2(&mut c, 0, 9),
            CUresult::CUDA_ERROR_INVALID_DEVICE
        );
        let _: c_uint = 0;
    }
}
