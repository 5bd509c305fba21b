//! Faults as the driver shows them, on a machine of ten M40s:
//! 0 slow=0.5, 1 throttle + pcie=3,8, 2 oom-after=1MiB, 3 launch-fail-after=0, 4 healthy,
//! 5 launch-fail-after=1 + sdc=add_one, 6 and 7 healthy (for kernels that fault: a kernel fault
//! is sticky, so each gets a GPU of its own), 8 no-p2p and 9 p2p-sdc (faults of peer access and
//! peer copies only, on GPUs no faulting kernel makes sticky, since the tests run at once).

mod driver_common;

use std::ffi::{c_int, c_void};

use driver_common::*;
use gpugate_sim::driver::timing::{self, CopyKind, Factors};
use gpugate_sim::nvml;

const MODELS: [&str; 10] = ["m40"; 10];
const FAULTS: [&str; 9] = [
    "gpu=0:slow=0.5",
    "gpu=1:throttle",
    "gpu=1:pcie=3,8",
    "gpu=2:oom-after=1MiB",
    "gpu=3:launch-fail-after=0",
    "gpu=5:launch-fail-after=1",
    "gpu=5:sdc=add_one",
    // GPUs of their own: 6 and 7 are made sticky by the access tests running beside these.
    "gpu=8:no-p2p",
    "gpu=9:p2p-sdc",
];

fn setup() {
    machine(&MODELS, &FAULTS);
    init();
}

/// Simulated milliseconds of one pinned H2D copy of `bytes` on `dev`.
fn h2d_ms(dev: CUdevice, bytes: usize) -> f32 {
    let ctx = new_ctx(dev);
    let d = alloc(bytes);
    let mut h: *mut c_void = std::ptr::null_mut();
    // SAFETY: valid pointers and sizes.
    unsafe {
        ok(cuMemHostAlloc(&mut h, bytes, 0));
        let s = new_stream(1);
        let (a, b) = (new_event(0), new_event(0));
        ok(cuEventRecord(a, s));
        ok(cuMemcpyHtoDAsync_v2(d, h, bytes, s));
        ok(cuEventRecord(b, s));
        let ms = elapsed_ms(a, b);
        ok(cuMemFreeHost(h));
        ok(cuCtxDestroy_v2(ctx));
        ms
    }
}

/// Simulated milliseconds of one D2D copy of `bytes` on `dev`.
fn d2d_ms(dev: CUdevice, bytes: usize) -> f32 {
    let ctx = new_ctx(dev);
    let (x, y) = (alloc(bytes), alloc(bytes));
    let s = new_stream(1);
    let (a, b) = (new_event(0), new_event(0));
    ok(cuEventRecord(a, s));
    ok(cuMemcpyDtoDAsync_v2(y, x, bytes, s));
    ok(cuEventRecord(b, s));
    let ms = elapsed_ms(a, b);
    ok(cuCtxDestroy_v2(ctx));
    ms
}

#[test]
fn slow_halves_copy_throughput() {
    setup();
    let bytes = 64 << 20;
    let healthy = h2d_ms(4, bytes);
    let slow = h2d_ms(0, bytes);
    // The 8 µs latency is not slowed, only the transfer.
    let latency = 0.008;
    let ratio = (slow - latency) / (healthy - latency);
    assert!((ratio - 2.0).abs() < 1e-3, "{healthy} ms vs {slow} ms");
    let ratio = (d2d_ms(0, bytes) - latency) / (d2d_ms(4, bytes) - latency);
    assert!((ratio - 2.0).abs() < 1e-3, "{ratio}");
}

#[test]
fn a_downtrained_link_slows_host_copies_only() {
    setup();
    let bytes = 64 << 20;
    let healthy = h2d_ms(4, bytes);
    let x8 = h2d_ms(1, bytes);
    let ratio = (x8 - 0.008) / (healthy - 0.008);
    assert!((ratio - 2.0).abs() < 1e-3, "gen3 x8 vs x16: {ratio}");
    // Device-to-device copies do not cross the link; throttling is a compute clock.
    assert_eq!(d2d_ms(1, bytes), d2d_ms(4, bytes));
}

#[test]
fn oom_after_limits_live_allocations() {
    setup();
    let ctx = new_ctx(2);
    let a = alloc(512 << 10);
    let b = alloc(512 << 10);
    let mut p: CUdeviceptr = 0;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(
            cuMemAlloc_v2(&mut p, 256),
            CUresult::CUDA_ERROR_OUT_OF_MEMORY
        );
        let s = new_stream(1);
        assert_eq!(
            cuMemAllocAsync(&mut p, 256, s),
            CUresult::CUDA_ERROR_OUT_OF_MEMORY
        );
        // A module's variables need device memory too.
        assert_eq!(
            load_ptx(ADD_ONE_PTX).unwrap_err().0,
            CUresult::CUDA_ERROR_OUT_OF_MEMORY
        );
        // cuMemGetInfo still reports the model's memory: the fault is the allocator failing.
        let (mut free, mut total) = (0usize, 0usize);
        ok(cuMemGetInfo_v2(&mut free, &mut total));
        assert!(free > 20 << 30, "{free}");
        ok(cuMemFree_v2(a));
        ok(cuMemAlloc_v2(&mut p, 256));
        ok(cuMemFree_v2(p));
        ok(cuMemFree_v2(b));
    }
    ok(cuCtxDestroy_v2(ctx));
}

fn ecc_count(dev: u32) -> u64 {
    let mut h: nvml::NvmlDevice = std::ptr::null_mut();
    let mut n = 99u64;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(nvml::nvmlInit_v2(), 0);
        assert_eq!(nvml::nvmlDeviceGetHandleByIndex_v2(dev, &mut h), 0);
        assert_eq!(nvml::nvmlDeviceGetTotalEccErrors(h, 1, 0, &mut n), 0);
        assert_eq!(nvml::nvmlShutdown(), 0);
    }
    n
}

#[test]
fn launch_fail_after_is_a_sticky_uncorrectable_ecc_error() {
    setup();
    let log = machine(&MODELS, &FAULTS);
    assert_eq!(ecc_count(3), 0);
    let ctx = new_ctx(3);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let d = alloc(4096);
    let s = new_stream(1);
    let e = new_event(0);
    let mut args = [d, 1024];
    // The launch itself succeeds, as an asynchronous launch does…
    ok(launch(f, 4, 256, s, &mut args));
    // …and everything after it on the device reports the error.
    let ecc = CUresult::CUDA_ERROR_ECC_UNCORRECTABLE;
    // SAFETY: valid handles and pointers.
    unsafe {
        assert_eq!(cuCtxSynchronize(), ecc);
        assert_eq!(cuStreamSynchronize(s), ecc);
        assert_eq!(cuStreamQuery(std::ptr::null_mut()), ecc);
        assert_eq!(cuEventRecord(e, s), ecc);
        assert_eq!(cuEventSynchronize(e), ecc);
        let mut p: CUdeviceptr = 0;
        assert_eq!(cuMemAlloc_v2(&mut p, 16), ecc);
        assert_eq!(htod(d, &[1, 2, 3]), ecc);
        let mut b = [0u8; 4];
        assert_eq!(dtoh(&mut b, d), ecc);
        assert_eq!(cuMemsetD8_v2(d, 0, 4), ecc);
        assert_eq!(launch(f, 4, 256, s, &mut args), ecc);
        assert_eq!(load_ptx(ADD_ONE_PTX).unwrap_err().0, ecc);
        let mut c: CUcontext = std::ptr::null_mut();
        assert_eq!(cuCtxCreate_v2(&mut c, 0, 3), ecc);
        // Queries of the device itself still answer.
        let mut v = 0;
        ok(cuDeviceGetAttribute(&mut v, 16 as c_int, 3));
    }
    assert_eq!(ecc_count(3), 1, "NVML counts the uncorrectable error");
    assert_eq!(ecc_count(4), 0, "on that GPU only");
    // Other GPUs are unaffected.
    let other = new_ctx(4);
    let q = alloc(16);
    ok(htod(q, &[1; 16]));
    ok(cuCtxDestroy_v2(other));
    let rec = log_records(log)
        .into_iter()
        .find(|r| r["event"] == "launch" && r["gpu"] == 3)
        .expect("the failed launch is logged");
    assert_eq!(rec["error"]["code"], "CUDA_ERROR_ECC_UNCORRECTABLE");
    assert_eq!(rec["kernel"], "add_one");
    let _ = ctx;
}

#[test]
fn launch_fail_after_n_lets_n_launches_run_and_sdc_flips_a_bit() {
    setup();
    let ctx = new_ctx(5);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let n = 256usize;
    let d = alloc(n * 4);
    let zeros = vec![0u8; n * 4];
    ok(htod(d, &zeros));
    let mut args = [d, n as u64];
    ok(launch(f, 1, 256, std::ptr::null_mut(), &mut args));
    let mut back = vec![0u8; n * 4];
    ok(dtoh(&mut back, d));
    let vals: Vec<f32> = back
        .chunks(4)
        .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    // sdc=add_one: one stored result has its top mantissa bit flipped (1.0 → 1.5).
    assert_eq!(vals.iter().filter(|&&v| v == 1.0).count(), n - 1);
    assert_eq!(vals.iter().filter(|&&v| v == 1.5).count(), 1);
    ok(launch(f, 1, 256, std::ptr::null_mut(), &mut args));
    assert_eq!(cuCtxSynchronize(), CUresult::CUDA_ERROR_ECC_UNCORRECTABLE);
    let _ = ctx;
}

/// Simulated milliseconds of one add_one launch over `n` floats on `dev`, and its log record.
fn add_one_ms(dev: CUdevice, n: usize) -> (f32, serde_json::Value) {
    let log = machine(&MODELS, &FAULTS);
    let ctx = new_ctx(dev);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let d = alloc(n * 4);
    let s = new_stream(1);
    let (a, b) = (new_event(0), new_event(0));
    let mut args = [d, n as u64];
    ok(cuEventRecord(a, s));
    ok(launch(f, n.div_ceil(256) as u32, 256, s, &mut args));
    ok(cuEventRecord(b, s));
    let ms = elapsed_ms(a, b);
    let rec = log_records(log)
        .into_iter()
        .rev()
        .find(|r| {
            r["event"] == "launch"
                && r["gpu"] == dev
                && r["stats"]["threads"] == n.div_ceil(256) * 256
        })
        .expect("the launch is logged");
    ok(cuCtxDestroy_v2(ctx));
    (ms, rec)
}

#[test]
fn slow_scales_kernel_time_and_throttle_leaves_memory_bound_kernels_alone() {
    setup();
    let n = 1 << 20;
    let (healthy, rec) = add_one_ms(4, n);
    assert_eq!(rec["bound"], "memory");
    assert_eq!(rec["stats"]["global_bytes_read"], 4 * n);
    assert_eq!(rec["stats"]["global_bytes_written"], 4 * n);
    // The event pair sees exactly the time model's seconds.
    let secs = rec["seconds"].as_f64().unwrap();
    assert!((healthy as f64 / (secs * 1e3) - 1.0).abs() < 1e-4);
    // The GPU-side launch gap (ms) does not scale; the work does.
    let gap = (gpugate_sim::model::load("m40").unwrap().time.launch_gap_us * 1e-3) as f32;
    let (slow, _) = add_one_ms(0, n);
    assert!(((slow - gap) / (healthy - gap) - 2.0).abs() < 1e-3);
    // Throttling lowers the SM clock, not the memory's: a memory-bound kernel keeps its time.
    let (throttled, _) = add_one_ms(1, n);
    assert_eq!(throttled, healthy);
}

#[test]
fn an_illegal_address_is_sticky_and_logged() {
    setup();
    let log = machine(&MODELS, &FAULTS);
    let ctx = new_ctx(6);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let d = alloc(1000 * 4);
    // 1024 elements over a 1000-element buffer: the last 24 threads fall off its end.
    let mut args = [d, 1024];
    ok(launch(f, 4, 256, std::ptr::null_mut(), &mut args));
    let code = CUresult::CUDA_ERROR_ILLEGAL_ADDRESS;
    assert_eq!(cuCtxSynchronize(), code);
    let mut b = [0u8; 4];
    assert_eq!(dtoh(&mut b, d), code);
    let mut p: CUdeviceptr = 0;
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { cuMemAlloc_v2(&mut p, 16) }, code);
    let rec = log_records(log)
        .into_iter()
        .find(|r| r["event"] == "launch" && r["gpu"] == 6 && !r["error"].is_null())
        .expect("the fault is logged");
    assert_eq!(rec["error"]["code"], "CUDA_ERROR_ILLEGAL_ADDRESS");
    assert_eq!(rec["sticky"], true);
    let why = rec["error"]["log"].as_str().unwrap();
    assert!(why.contains("add_one"), "{why}");
    let _ = ctx;
}

#[test]
fn a_misaligned_access_is_sticky() {
    setup();
    let ctx = new_ctx(7);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let d = alloc(4096);
    let mut args = [d + 2, 16];
    ok(launch(f, 1, 256, std::ptr::null_mut(), &mut args));
    let code = CUresult::CUDA_ERROR_MISALIGNED_ADDRESS;
    assert_eq!(cuCtxSynchronize(), code);
    assert_eq!(cuStreamSynchronize(std::ptr::null_mut()), code);
    let _ = ctx;
}

#[test]
fn configuration_errors_are_returned_at_once_and_not_sticky() {
    setup();
    let ctx = new_ctx(4);
    let (m, _) = load_ptx(ADD_ONE_PTX).unwrap();
    let f = get_function(m, "add_one").unwrap();
    let d = alloc(4096);
    let mut args = [d, 16];
    assert_eq!(
        launch(f, 0, 256, std::ptr::null_mut(), &mut args),
        CUresult::CUDA_ERROR_INVALID_VALUE,
        "an empty grid"
    );
    assert_eq!(
        launch(f, 1, 512, std::ptr::null_mut(), &mut args),
        CUresult::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES,
        "above .maxntid"
    );
    let mut ptrs: Vec<*mut c_void> = args
        .iter_mut()
        .map(|a| a as *mut u64 as *mut c_void)
        .collect();
    // SAFETY: one pointer per parameter.
    let r = unsafe {
        cuLaunchKernel(
            f,
            1,
            1,
            1,
            32,
            1,
            1,
            64 << 10,
            std::ptr::null_mut(),
            ptrs.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(
        r,
        CUresult::CUDA_ERROR_INVALID_VALUE,
        "64 KiB of dynamic shared memory"
    );
    ok(cuCtxSynchronize());
    ok(launch(f, 1, 32, std::ptr::null_mut(), &mut args));
    ok(cuCtxSynchronize());
    ok(cuCtxDestroy_v2(ctx));
}

/// Simulated milliseconds of one peer copy of `bytes` from GPU `src` to GPU `dst`, peer access
/// enabled first when `enable`; the bytes that arrived.
fn peer_copy(dst: CUdevice, src: CUdevice, bytes: usize, enable: bool) -> (f32, Vec<u8>) {
    let sc = new_ctx(src);
    let ps = alloc(bytes);
    let data: Vec<u8> = (0..bytes).map(|i| (i * 7) as u8).collect();
    ok(htod(ps, &data));
    let dc = new_ctx(dst);
    let pd = alloc(bytes);
    if enable {
        ok(cuCtxEnablePeerAccess(sc, 0));
    }
    let s = new_stream(1);
    let (a, b) = (new_event(0), new_event(0));
    ok(cuEventRecord(a, s));
    ok(cuMemcpyPeerAsync(pd, dc, ps, sc, bytes, s));
    ok(cuEventRecord(b, s));
    let ms = elapsed_ms(a, b);
    let mut back = vec![0u8; bytes];
    ok(dtoh(&mut back, pd));
    ok(cuCtxDestroy_v2(dc));
    ok(cuCtxDestroy_v2(sc));
    (ms, back)
}

/// `no-p2p`: cuDeviceCanAccessPeer answers 0 both ways for a pair with the GPU, enabling fails as
/// the real driver does, and a peer copy still arrives, staged through the host: slower than a
/// direct one between two healthy GPUs, by the two links' times added up.
#[test]
fn no_p2p_denies_peer_access_and_stages_copies() {
    setup();
    let mut can = -1;
    // SAFETY: valid out-pointer.
    unsafe {
        for (a, b, want) in [(8, 4, 0), (4, 8, 0), (4, 9, 1), (9, 4, 1)] {
            ok(cuDeviceCanAccessPeer(&mut can, a, b));
            assert_eq!(can, want, "{a} -> {b}");
        }
    }
    let a = new_ctx(8);
    let b = new_ctx(4);
    assert_eq!(
        cuCtxEnablePeerAccess(a, 0),
        CUresult::CUDA_ERROR_PEER_ACCESS_UNSUPPORTED
    );
    ok(cuCtxDestroy_v2(b));
    ok(cuCtxDestroy_v2(a));

    let bytes = 4 << 20;
    let (staged, got) = peer_copy(4, 8, bytes, false);
    let want: Vec<u8> = (0..bytes).map(|i| (i * 7) as u8).collect();
    assert!(got == want, "a staged copy still carries the bytes");
    // Between two healthy GPUs with peer access enabled: over the link, about twice as fast.
    let m = gpugate_sim::model::load("m40").unwrap();
    let f = Factors::healthy(&m);
    let time = |direct| {
        let kind = CopyKind::Peer {
            other_link: f.link,
            direct,
        };
        timing::copy_seconds(&m, f, kind, bytes as u64) * 1e3
    };
    let (enabled, _) = peer_copy(4, 9, bytes, true);
    assert!(
        (enabled as f64 / time(true) - 1.0).abs() < 1e-4,
        "{enabled} ms"
    );
    assert!(
        (staged as f64 / time(false) - 1.0).abs() < 1e-4,
        "{staged} ms"
    );
    assert!(
        staged > 1.9 * enabled,
        "staged {staged} ms, direct {enabled} ms"
    );
}

/// `p2p-sdc`: every peer copy into the GPU's memory has one bit flipped; copies out of it and
/// copies within it are exact.
#[test]
fn p2p_sdc_flips_one_bit_of_every_peer_copy_into_the_gpu() {
    setup();
    let bytes = 4096;
    let want: Vec<u8> = (0..bytes).map(|i| (i * 7) as u8).collect();
    for enable in [true, false] {
        let (_, got) = peer_copy(9, 4, bytes, enable);
        let diff: Vec<usize> = (0..bytes).filter(|&i| got[i] != want[i]).collect();
        assert_eq!(diff, vec![bytes / 2]);
        assert_eq!(got[bytes / 2] ^ want[bytes / 2], 1);
    }
    let (_, out) = peer_copy(4, 9, bytes, true);
    assert!(out == want, "a copy out of the GPU is exact");
}
