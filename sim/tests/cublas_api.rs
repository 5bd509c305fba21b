//! The simulated cuBLAS called in-process, on a machine of five GPUs: 0 m40, 1 h100, 2 m40
//! with `cublas-fail`, 3 m40 (operands out of bounds: a sticky fault), 4 m40 with
//! `launch-fail-after=1` and `sdc=cublas_sgemm`. Expected values come from host references on
//! small integers (exact in every type), expected times from the model files' numbers and
//! the time model's formula written out here.

mod driver_common;

use std::ffi::{c_int, c_uint, c_void};

use cudarc::cublas::sys::cublasStatus_t as S;
use driver_common::*;
use gpugate_sim::cublas::*;

const MODELS: [&str; 5] = ["m40", "h100", "m40", "m40", "m40"];
const FAULTS: [&str; 3] = [
    "gpu=2:cublas-fail",
    "gpu=4:launch-fail-after=1",
    "gpu=4:sdc=cublas_sgemm",
];

const OP_N: c_int = 0;
const OP_T: c_int = 1;
const R_16F: c_int = 2;
const R_32F: c_int = 0;
const R_64F: c_int = 1;
const COMPUTE_32F: c_int = 68;
const COMPUTE_32F_FAST_TF32: c_int = 77;
const COMPUTE_64F: c_int = 70;
const GEMM_DEFAULT: c_int = -1;
const DEFAULT_MATH: c_uint = 0;
const PEDANTIC_MATH: c_uint = 2;

fn setup() {
    machine(&MODELS, &FAULTS);
    init();
}

#[track_caller]
fn okb(s: S) {
    assert_eq!(s, S::CUBLAS_STATUS_SUCCESS);
}

fn create() -> *mut c_void {
    let mut h = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    okb(unsafe { cublasCreate_v2(&mut h) });
    h
}

fn upload<T: Copy>(v: &[T]) -> CUdeviceptr {
    let bytes = std::mem::size_of_val(v);
    let p = alloc(bytes.max(1));
    // SAFETY: plain data viewed as bytes.
    ok(htod(p, unsafe {
        std::slice::from_raw_parts(v.as_ptr() as *const u8, bytes)
    }));
    p
}

fn download<T: Copy + Default>(p: CUdeviceptr, n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    // SAFETY: plain data viewed as bytes.
    ok(dtoh(
        unsafe {
            std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, n * std::mem::size_of::<T>())
        },
        p,
    ));
    v
}

/// A small integer in [-4, 4] from an index: products and sums of these stay exact.
fn small(i: usize) -> f64 {
    ((i * 7 + 3) % 9) as f64 - 4.0
}

/// Column-major C = alpha·op(A)·op(B) + beta·C in f64 (C's padding rows untouched).
#[allow(clippy::too_many_arguments)]
fn reference(
    (ta, tb): (bool, bool),
    (m, n, k): (usize, usize, usize),
    alpha: f64,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    beta: f64,
    c: &mut [f64],
    ldc: usize,
) {
    for j in 0..n {
        for i in 0..m {
            let s: f64 = (0..k)
                .map(|p| {
                    let av = if ta { a[p + i * lda] } else { a[i + p * lda] };
                    let bv = if tb { b[j + p * ldb] } else { b[p + j * ldb] };
                    av * bv
                })
                .sum();
            c[i + j * ldc] = alpha * s + beta * c[i + j * ldc];
        }
    }
}

/// Simulated milliseconds between two events around `f`, run on `stream`.
fn timed(stream: CUstream, f: impl FnOnce()) -> f64 {
    let (a, b) = (new_event(0), new_event(0));
    ok(cuEventRecord(a, stream));
    f();
    ok(cuEventRecord(b, stream));
    elapsed_ms(a, b) as f64
}

/// What the time model says a GEMM of `flops` on a unit of `peak` TFLOPS at `eff` takes, in
/// ms (compute-bound: the launch gap plus the FLOPs at peak × efficiency).
fn model_ms(model: &str, flops: f64, peak: f64, eff: f64) -> f64 {
    let m = gpugate_sim::model::load(model).unwrap();
    (m.time.launch_gap_us * 1e-6 + flops / (peak * 1e12 * eff)) * 1e3
}

#[track_caller]
fn close(got: f64, want: f64) {
    assert!(
        (got / want - 1.0).abs() < 1e-5,
        "{got} ms, the model says {want} ms"
    );
}

#[test]
fn version_and_properties() {
    setup();
    let m40 = gpugate_sim::model::load("m40").unwrap();
    assert_eq!(m40.cublas.version, "12.4.5");
    let mut v = [0 as c_int; 3];
    for (kind, slot) in v.iter_mut().enumerate() {
        // SAFETY: a valid out-pointer.
        okb(unsafe { cublasGetProperty(kind as c_int, slot) });
    }
    assert_eq!(v, [12, 4, 5], "the machine's cuBLAS is GPU 0's model's");
    let mut x = 0;
    // SAFETY: valid or NULL out-pointers.
    unsafe {
        assert_eq!(cublasGetProperty(3, &mut x), S::CUBLAS_STATUS_INVALID_VALUE);
        assert_eq!(
            cublasGetProperty(0, std::ptr::null_mut()),
            S::CUBLAS_STATUS_INVALID_VALUE
        );
    }
    let ctx = new_ctx(0);
    let h = create();
    // SAFETY: a valid out-pointer.
    okb(unsafe { cublasGetVersion_v2(h, &mut x) });
    assert_eq!(x, 120405);
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

#[test]
fn handles_streams_and_math_modes() {
    setup();
    let ctx = new_ctx(0);
    // SAFETY: NULL is refused before anything is written.
    assert_eq!(
        unsafe { cublasCreate_v2(std::ptr::null_mut()) },
        S::CUBLAS_STATUS_INVALID_VALUE
    );
    let h = create();
    let s = new_stream(1);
    okb(cublasSetStream_v2(h, s as *mut c_void));
    let mut got: *mut c_void = std::ptr::null_mut();
    let mut mode: c_uint = 9;
    // SAFETY: valid out-pointers.
    unsafe {
        okb(cublasGetStream_v2(h, &mut got));
        assert_eq!(got, s as *mut c_void);
        okb(cublasGetMathMode(h, &mut mode));
        assert_eq!(mode, DEFAULT_MATH);
        okb(cublasSetMathMode(h, PEDANTIC_MATH));
        okb(cublasGetMathMode(h, &mut mode));
        assert_eq!(mode, PEDANTIC_MATH);
        // TF32 with the reduced-precision-reduction flag is a valid mode; 5 and 8 are not
        // simulated modes.
        okb(cublasSetMathMode(h, 3 | 16));
        assert_eq!(cublasSetMathMode(h, 5), S::CUBLAS_STATUS_INVALID_VALUE);
        assert_eq!(cublasSetMathMode(h, 8), S::CUBLAS_STATUS_INVALID_VALUE);
    }
    okb(cublasDestroy_v2(h));
    // A destroyed handle, or one cuBLAS never made, is NOT_INITIALIZED.
    assert_eq!(cublasDestroy_v2(h), S::CUBLAS_STATUS_NOT_INITIALIZED);
    assert_eq!(
        cublasSetStream_v2(s as *mut c_void, std::ptr::null_mut()),
        S::CUBLAS_STATUS_NOT_INITIALIZED,
        "a stream handle is not a cuBLAS handle"
    );
    assert_eq!(
        cublasSetMathMode(0x1234 as *mut c_void, 0),
        S::CUBLAS_STATUS_NOT_INITIALIZED
    );
    ok(cuCtxDestroy_v2(ctx));
}

/// SGEMM through the driver's device memory, every transpose combination, padded leading
/// dimensions, alpha and beta; timed on the handle's stream at the model's cuBLAS SGEMM rate.
#[test]
fn sgemm_is_the_blas_product_on_device_memory_timed_by_the_model() {
    setup();
    let ctx = new_ctx(0);
    let h = create();
    let s = new_stream(1);
    okb(cublasSetStream_v2(h, s as *mut c_void));
    // SAFETY: pedantic math is a valid mode.
    okb(cublasSetMathMode(h, PEDANTIC_MATH));
    // 2·m·n·k FLOPs outlast the M40's 4 µs launch interval at its cuBLAS SGEMM rate.
    let (m, n, k) = (256usize, 160usize, 257usize);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let lda = if ta { k + 3 } else { m + 2 };
        let ldb = if tb { n + 1 } else { k + 5 };
        let ldc = m + 4;
        let a: Vec<f64> = (0..lda * if ta { m } else { k }).map(small).collect();
        let b: Vec<f64> = (0..ldb * if tb { k } else { n })
            .map(|i| small(i + 1))
            .collect();
        let mut c: Vec<f64> = (0..ldc * n).map(|i| small(i + 2)).collect();
        let f32s = |v: &[f64]| v.iter().map(|x| *x as f32).collect::<Vec<f32>>();
        let (da, db, dc) = (upload(&f32s(&a)), upload(&f32s(&b)), upload(&f32s(&c)));
        let (alpha, beta) = (2.0f32, -1.0f32);
        let ms = timed(s, || {
            // SAFETY: host scalars; the operands span what the sizes describe.
            okb(unsafe {
                cublasSgemm_v2(
                    h,
                    if ta { OP_T } else { OP_N },
                    if tb { OP_T } else { OP_N },
                    m as c_int,
                    n as c_int,
                    k as c_int,
                    &alpha,
                    da as *const f32,
                    lda as c_int,
                    db as *const f32,
                    ldb as c_int,
                    &beta,
                    dc as *mut f32,
                    ldc as c_int,
                )
            })
        });
        let before = c.clone();
        reference(
            (ta, tb),
            (m, n, k),
            2.0,
            &a,
            lda,
            &b,
            ldb,
            -1.0,
            &mut c,
            ldc,
        );
        let got: Vec<f32> = download(dc, ldc * n);
        for (i, (g, w)) in got.iter().zip(&c).enumerate() {
            assert_eq!(*g as f64, *w, "{ta} {tb}: C[{i}]");
        }
        assert_ne!(c, before, "the product changed C");
        let m40 = gpugate_sim::model::load("m40").unwrap();
        let flops = 2.0 * (m * n * k) as f64;
        let want = model_ms(
            "m40",
            flops,
            m40.time.fp32_tflops,
            m40.cublas.sgemm_efficiency,
        );
        assert!(want > m40.time.launch_interval_us * 1e-3, "compute-bound");
        close(ms, want);
    }
    // Each GEMM is in the log, on this GPU, with its seconds and unit.
    let recs = log_records(machine(&MODELS, &FAULTS));
    let r = recs
        .iter()
        .find(|r| r["event"] == "cublas" && r["m"] == 256 && r["transa"] == "T")
        .expect("the SGEMM is logged");
    assert_eq!(r["call"], "cublasSgemm_v2");
    assert_eq!(r["kernel"], "cublas_sgemm");
    assert_eq!(r["unit"], "fp32");
    assert_eq!(r["flops"], 2 * 256 * 160 * 257);
    assert_eq!(r["bound"], "fp32");
    assert!(r["error"].is_null());
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

/// beta = 0: C's NaNs never propagate (BLAS does not read C); the default stream of the
/// context is used when none was set.
#[test]
fn beta_zero_does_not_read_c() {
    setup();
    let ctx = new_ctx(0);
    let h = create();
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let ident = [1.0f32, 0.0, 0.0, 1.0];
    let (da, db, dc) = (upload(&a), upload(&ident), upload(&[f32::NAN; 4]));
    let (one, zero) = (1.0f32, 0.0f32);
    let ms = timed(std::ptr::null_mut(), || {
        // SAFETY: host scalars; 2×2 operands.
        okb(unsafe {
            cublasSgemm_v2(
                h,
                OP_N,
                OP_N,
                2,
                2,
                2,
                &one,
                da as *const f32,
                2,
                db as *const f32,
                2,
                &zero,
                dc as *mut f32,
                2,
            )
        })
    });
    assert_eq!(download::<f32>(dc, 4), a);
    let m40 = gpugate_sim::model::load("m40").unwrap();
    close(ms, m40.time.launch_interval_us * 1e-3);
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

/// DGEMM on an H100: on the FP64 tensor cores in default math (as cuBLAS uses DMMA), on the
/// FP64 units in pedantic math, each at the model's cuBLAS DGEMM efficiency.
#[test]
fn dgemm_runs_on_dmma_in_default_math_where_the_model_has_it() {
    setup();
    let ctx = new_ctx(1);
    let h = create();
    // Long enough on DMMA to outlast the H100's 2.5 µs launch interval.
    let (m, n, k) = (512usize, 384usize, 512usize);
    let a: Vec<f64> = (0..m * k).map(small).collect();
    let b: Vec<f64> = (0..k * n).map(|i| small(i + 4)).collect();
    let (da, db, dc) = (upload(&a), upload(&b), upload(&vec![0.0f64; m * n]));
    let (one, zero) = (1.0f64, 0.0f64);
    let run = || {
        // SAFETY: host scalars; operands of the sizes given.
        okb(unsafe {
            cublasDgemm_v2(
                h,
                OP_N,
                OP_N,
                m as c_int,
                n as c_int,
                k as c_int,
                &one,
                da as *const f64,
                m as c_int,
                db as *const f64,
                k as c_int,
                &zero,
                dc as *mut f64,
                m as c_int,
            )
        })
    };
    let h100 = gpugate_sim::model::load("h100").unwrap();
    let flops = 2.0 * (m * n * k) as f64;
    let dmma = timed(std::ptr::null_mut(), run);
    let mut want = vec![0.0; m * n];
    reference(
        (false, false),
        (m, n, k),
        1.0,
        &a,
        m,
        &b,
        k,
        0.0,
        &mut want,
        m,
    );
    assert_eq!(download::<f64>(dc, m * n), want);
    let interval = h100.time.launch_interval_us * 1e-3;
    let want = model_ms(
        "h100",
        flops,
        h100.time.fp64_tensor_tflops,
        h100.cublas.dgemm_efficiency,
    );
    assert!(want > interval, "compute-bound");
    close(dmma, want);
    okb(cublasSetMathMode(h, PEDANTIC_MATH));
    let fp64 = timed(std::ptr::null_mut(), run);
    close(
        fp64,
        model_ms(
            "h100",
            flops,
            h100.time.fp64_tflops,
            h100.cublas.dgemm_efficiency,
        ),
    );
    assert!(
        fp64 > dmma,
        "DMMA ({dmma} ms) is faster than the FP64 units ({fp64} ms)"
    );
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

/// gemmEx with FP16 A and B and FP32 C and compute (gpugate's HGEMM peer): exact on small
/// integers; on the M40 the FP32 units at the cuBLAS HGEMM efficiency (timed), on the H100 the
/// FP16 tensor cores (its log record; a product that outlasts the launch interval there would
/// take seconds on this CPU). Combinations the simulator does not run are NOT_SUPPORTED; a bad
/// algorithm is INVALID_VALUE.
#[test]
fn gemmex_fp16_inputs_fp32_accumulate() {
    setup();
    let (m, n, k) = (256usize, 160usize, 256usize);
    let a: Vec<f64> = (0..m * k).map(small).collect();
    let b: Vec<f64> = (0..k * n).map(|i| small(i + 5)).collect();
    let halves = |v: &[f64]| {
        v.iter()
            .map(|x| half::f16::from_f64(*x).to_bits())
            .collect::<Vec<u16>>()
    };
    let mut want = vec![0.0; m * n];
    reference(
        (false, false),
        (m, n, k),
        1.0,
        &a,
        m,
        &b,
        k,
        0.0,
        &mut want,
        m,
    );
    for (dev, model) in [(0, "m40"), (1, "h100")] {
        let ctx = new_ctx(dev);
        let h = create();
        let (da, db, dc) = (
            upload(&halves(&a)),
            upload(&halves(&b)),
            upload(&vec![f32::NAN; m * n]),
        );
        let (one, zero) = (1.0f32, 0.0f32);
        let call = |compute: c_int, ct: c_int, algo: c_int| {
            // SAFETY: float scalars; operands of the sizes given.
            unsafe {
                cublasGemmEx(
                    h,
                    OP_N,
                    OP_N,
                    m as c_int,
                    n as c_int,
                    k as c_int,
                    &one as *const f32 as *const c_void,
                    da as *const c_void,
                    R_16F,
                    m as c_int,
                    db as *const c_void,
                    R_16F,
                    k as c_int,
                    &zero as *const f32 as *const c_void,
                    dc as *mut c_void,
                    ct,
                    m as c_int,
                    compute,
                    algo,
                )
            }
        };
        let ms = timed(std::ptr::null_mut(), || {
            okb(call(COMPUTE_32F, R_32F, GEMM_DEFAULT))
        });
        let got: Vec<f32> = download(dc, m * n);
        assert_eq!(
            got.iter().map(|x| *x as f64).collect::<Vec<_>>(),
            want,
            "{model}"
        );
        let md = gpugate_sim::model::load(model).unwrap();
        let rec = log_records(machine(&MODELS, &FAULTS))
            .into_iter()
            .rev()
            .find(|r| r["event"] == "cublas" && r["gpu"] == dev && r["call"] == "cublasGemmEx")
            .expect("the gemmEx is logged");
        assert_eq!(rec["kernel"], "cublas_hgemm");
        if md.time.fp16_tensor_tflops > 0.0 {
            assert_eq!(rec["unit"], "fp16_tensor", "{model}");
            assert_eq!(rec["bound"], "overhead", "{model}");
            close(ms, md.time.launch_interval_us * 1e-3);
        } else {
            assert_eq!(rec["unit"], "fp32", "{model}");
            let flops = 2.0 * (m * n * k) as f64;
            let want = model_ms(
                model,
                flops,
                md.time.fp32_tflops,
                md.cublas.hgemm_efficiency,
            );
            assert!(want > md.time.launch_interval_us * 1e-3, "compute-bound");
            close(ms, want);
        }
        assert_eq!(
            call(COMPUTE_32F_FAST_TF32, R_32F, GEMM_DEFAULT),
            S::CUBLAS_STATUS_NOT_SUPPORTED
        );
        assert_eq!(
            call(COMPUTE_64F, R_32F, GEMM_DEFAULT),
            S::CUBLAS_STATUS_NOT_SUPPORTED
        );
        assert_eq!(
            call(COMPUTE_32F, R_64F, GEMM_DEFAULT),
            S::CUBLAS_STATUS_NOT_SUPPORTED
        );
        assert_eq!(call(COMPUTE_32F, R_32F, 42), S::CUBLAS_STATUS_INVALID_VALUE);
        okb(cublasDestroy_v2(h));
        ok(cuCtxDestroy_v2(ctx));
    }
}

/// cuBLAS's argument checks: CUBLAS_STATUS_INVALID_VALUE, and nothing runs.
#[test]
fn bad_arguments_are_invalid_value() {
    setup();
    let ctx = new_ctx(0);
    let h = create();
    let buf = upload(&[0.0f32; 64]);
    let p = buf as *mut f32;
    let (one, zero) = (1.0f32, 0.0f32);
    type Args = (c_int, c_int, c_int, c_int, c_int, c_int, c_int, c_int, bool);
    // transa, transb, m, n, k, lda, ldb, ldc, NULL alpha
    let cases: [(&str, Args); 8] = [
        ("transa 3", (3, OP_N, 2, 2, 2, 2, 2, 2, false)),
        ("transb -1", (OP_N, -1, 2, 2, 2, 2, 2, 2, false)),
        ("m < 0", (OP_N, OP_N, -1, 2, 2, 2, 2, 2, false)),
        ("k < 0", (OP_N, OP_N, 2, 2, -2, 2, 2, 2, false)),
        ("lda < m", (OP_N, OP_N, 4, 2, 2, 3, 2, 4, false)),
        ("Aᵀ: lda < k", (OP_T, OP_N, 2, 2, 4, 3, 4, 2, false)),
        ("ldc < m", (OP_N, OP_N, 4, 2, 2, 4, 2, 3, false)),
        ("alpha NULL", (OP_N, OP_N, 2, 2, 2, 2, 2, 2, true)),
    ];
    for (what, (ta, tb, m, n, k, lda, ldb, ldc, null_alpha)) in cases {
        let alpha: *const f32 = if null_alpha { std::ptr::null() } else { &one };
        // SAFETY: scalars valid or NULL; the buffer holds 64 floats.
        let r = unsafe { cublasSgemm_v2(h, ta, tb, m, n, k, alpha, p, lda, p, ldb, &zero, p, ldc) };
        assert_eq!(r, S::CUBLAS_STATUS_INVALID_VALUE, "{what}");
    }
    // An empty product is done at once.
    // SAFETY: nothing is read or written for m = 0.
    okb(unsafe { cublasSgemm_v2(h, OP_N, OP_N, 0, 2, 2, &one, p, 1, p, 2, &zero, p, 1) });
    assert_eq!(
        // SAFETY: a handle cuBLAS never made is refused first.
        unsafe {
            cublasSgemm_v2(
                ((0x6c_usize << 48) | 999) as *mut c_void,
                OP_N,
                OP_N,
                2,
                2,
                2,
                &one,
                p,
                2,
                p,
                2,
                &zero,
                p,
                2,
            )
        },
        S::CUBLAS_STATUS_NOT_INITIALIZED
    );
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

/// An operand past the end of its allocation: the GEMM's kernel faults as a GPU's does, a
/// sticky CUDA_ERROR_ILLEGAL_ADDRESS that the call itself does not report; every later call on
/// the device returns it, and later GEMMs fail to launch.
#[test]
fn an_operand_outside_memory_is_a_sticky_illegal_address() {
    setup();
    let _ctx = new_ctx(3);
    let h = create();
    let small_c = upload(&[0.0f32; 8]);
    let ab = upload(&[1.0f32; 16]);
    let (one, zero) = (1.0f32, 0.0f32);
    // C is 4×4 = 16 floats, its allocation 8.
    // SAFETY: the device pointers are only used by the simulator, which checks them.
    let r = unsafe {
        cublasSgemm_v2(
            h,
            OP_N,
            OP_N,
            4,
            4,
            4,
            &one,
            ab as *const f32,
            4,
            ab as *const f32,
            4,
            &zero,
            small_c as *mut f32,
            4,
        )
    };
    okb(r);
    assert_eq!(cuCtxSynchronize(), CUresult::CUDA_ERROR_ILLEGAL_ADDRESS);
    // SAFETY: as above.
    let again = unsafe {
        cublasSgemm_v2(
            h,
            OP_N,
            OP_N,
            2,
            2,
            2,
            &one,
            ab as *const f32,
            2,
            ab as *const f32,
            2,
            &zero,
            ab as *mut f32,
            2,
        )
    };
    assert_eq!(again, S::CUBLAS_STATUS_EXECUTION_FAILED);
    let recs = log_records(machine(&MODELS, &FAULTS));
    assert!(recs.iter().any(|r| r["event"] == "cublas"
        && r["gpu"] == 3
        && r["error"]["code"] == "CUDA_ERROR_ILLEGAL_ADDRESS"));
    okb(cublasDestroy_v2(h));
}

/// `cublas-fail`: handles work, every GEMM fails to launch and leaves C alone.
#[test]
fn cublas_fail_fails_every_gemm() {
    setup();
    let ctx = new_ctx(2);
    let h = create();
    okb(cublasSetMathMode(h, PEDANTIC_MATH));
    let ab = upload(&[1.0f32; 4]);
    let c = upload(&[7.0f32; 4]);
    let (one, zero) = (1.0f32, 0.0f32);
    // SAFETY: 2×2 operands.
    let r = unsafe {
        cublasSgemm_v2(
            h,
            OP_N,
            OP_N,
            2,
            2,
            2,
            &one,
            ab as *const f32,
            2,
            ab as *const f32,
            2,
            &zero,
            c as *mut f32,
            2,
        )
    };
    assert_eq!(r, S::CUBLAS_STATUS_EXECUTION_FAILED);
    assert_eq!(download::<f32>(c, 4), [7.0; 4]);
    ok(cuCtxSynchronize());
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
}

/// A cuBLAS GEMM is a launch for the faults: `sdc=cublas_sgemm` flips the most significant
/// mantissa bit of C's first element, and `launch-fail-after=1` makes the second launch an
/// uncorrectable ECC error.
#[test]
fn gemms_are_launches_for_sdc_and_launch_fail_after() {
    setup();
    let ctx = new_ctx(4);
    let h = create();
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let ident = [1.0f32, 0.0, 0.0, 1.0];
    let (da, db, dc) = (upload(&a), upload(&ident), upload(&[0.0f32; 4]));
    let (one, zero) = (1.0f32, 0.0f32);
    let run = || {
        // SAFETY: 2×2 operands.
        unsafe {
            cublasSgemm_v2(
                h,
                OP_N,
                OP_N,
                2,
                2,
                2,
                &one,
                da as *const f32,
                2,
                db as *const f32,
                2,
                &zero,
                dc as *mut f32,
                2,
            )
        }
    };
    okb(run());
    let got: Vec<f32> = download(dc, 4);
    assert_eq!(got[0].to_bits(), 1.0f32.to_bits() ^ (1 << 22), "{got:?}");
    assert_eq!(&got[1..], &a[1..]);
    okb(run());
    assert_eq!(cuCtxSynchronize(), CUresult::CUDA_ERROR_ECC_UNCORRECTABLE);
    okb(cublasDestroy_v2(h));
    let _ = ctx;
}

/// A handle's stream must belong to its context: a stream of another context fails the launch.
#[test]
fn a_stream_of_another_context_fails_the_launch() {
    setup();
    let other = new_ctx(0);
    let foreign = new_stream(1);
    let ctx = new_ctx(0);
    let h = create();
    okb(cublasSetStream_v2(h, foreign as *mut c_void));
    let buf = upload(&[1.0f32; 4]);
    let (one, zero) = (1.0f32, 0.0f32);
    // SAFETY: 2×2 operands.
    let r = unsafe {
        cublasSgemm_v2(
            h,
            OP_N,
            OP_N,
            2,
            2,
            2,
            &one,
            buf as *const f32,
            2,
            buf as *const f32,
            2,
            &zero,
            buf as *mut f32,
            2,
        )
    };
    assert_eq!(r, S::CUBLAS_STATUS_EXECUTION_FAILED);
    okb(cublasDestroy_v2(h));
    ok(cuCtxDestroy_v2(ctx));
    ok(cuCtxDestroy_v2(other));
}

/// With no current context, cublasCreate uses device 0's primary context and makes it current
/// (as the CUDA runtime inside cuBLAS does).
#[test]
fn without_a_context_cublas_takes_device_0s_primary_context() {
    setup();
    std::thread::spawn(|| {
        let h = create();
        let mut cur: CUcontext = std::ptr::null_mut();
        let mut primary: CUcontext = std::ptr::null_mut();
        // SAFETY: valid out-pointers.
        unsafe {
            ok(cuCtxGetCurrent(&mut cur));
            ok(cuDevicePrimaryCtxRetain(&mut primary, 0));
        }
        assert!(!cur.is_null());
        assert_eq!(cur, primary);
        okb(cublasDestroy_v2(h));
        ok(cuDevicePrimaryCtxRelease_v2(0));
        ok(cuDevicePrimaryCtxRelease_v2(0));
    })
    .join()
    .unwrap();
}
