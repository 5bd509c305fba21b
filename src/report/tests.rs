//! Snapshot tests of the renderers and tests of reading run.json back.
//!
//! Snapshots live in src/report/snapshots/. After an intended change of the output, regenerate
//! them with `UPDATE_SNAPSHOTS=1 cargo test -p gpugate --lib report` and review the diff.

use std::path::PathBuf;

use super::*;
use crate::gate;
use crate::model::telemetry::TelemetrySummary;
use crate::model::*;
use crate::workload::{Direction, Precision, StreamOp, VideoStage, WorkloadSpec};

fn snapshot_dir() -> PathBuf {
    crate::repo_path("src/report/snapshots")
}

pub(super) fn check_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read snapshot {}: {e}; create it with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the snapshot at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             If the change is intended, run with UPDATE_SNAPSHOTS=1 and review the diff.",
            first + 1,
            expected.lines().nth(first).unwrap_or("<end>"),
            actual.lines().nth(first).unwrap_or("<end>")
        );
    }
}

use crate::test_support::m40;

/// Deterministic samples around `v` (throughput) with a relative spread.
fn measurement(unit: &str, v: f64, spread: f64, iters: u64) -> Measurement {
    let t_med = 0.02;
    let wiggle = [
        0.0, 0.4, -0.3, 0.9, -1.0, 0.1, -0.2, 0.6, -0.5, 0.3, 1.0, -0.8,
    ];
    let samples: Vec<f64> = wiggle.iter().map(|w| t_med / (1.0 + spread * w)).collect();
    Measurement {
        samples,
        iters_per_sample: iters,
        summary: Summary {
            n: 12,
            median: t_med,
            mean: t_med,
            min: t_med / (1.0 + spread),
            max: t_med / (1.0 - spread),
            stddev: t_med * spread * 0.6,
            rel_stddev: spread * 0.6,
        },
        throughput: Throughput {
            unit: unit.into(),
            median: v,
            best: v * (1.0 + spread),
            worst: v * (1.0 - spread),
        },
        warmup_seconds: 0.2,
        total_seconds: 0.6,
        stop_reason: StopReason::Converged,
        warnings: vec![],
    }
}

fn verified(method: &str) -> Verification {
    Verification {
        status: VerifyStatus::Passed,
        method: method.into(),
        max_error: 0.0123,
        tolerance: 1.0,
        checked: 4096,
        mismatches: vec![],
    }
}

fn result(
    id: &str,
    device: Option<u32>,
    spec: WorkloadSpec,
    implementation: &str,
    v: f64,
) -> WorkloadResult {
    let (backend, device_name) = match device {
        Some(_) => (BackendKind::Cuda, "Tesla M40 24GB"),
        None => (BackendKind::Host, "Intel Xeon E5-2670 v2"),
    };
    WorkloadResult {
        id: id.into(),
        backend,
        device,
        device_name: device_name.into(),
        role: Role::Primary,
        spec,
        implementation: implementation.into(),
        math_mode: match spec {
            WorkloadSpec::Gemm { .. } => Some("FP32 FMA".into()),
            _ => None,
        },
        work: spec.work(),
        measurement: Some(measurement(spec.throughput_unit(), v, 0.004, 1)),
        verification: verified("gold values"),
        error: None,
        telemetry: None,
        telemetry_trace: Vec::new(),
    }
}

/// A synthetic G2.large run (test data: its numbers were never measured) with something of everything: a peer, a failed verification, a host result,
/// a warning, a timeout, module loads and notes, and a tensor-core DGEMM that an M40 (sm_52)
/// cannot run (its error is the backend's own message).
pub(crate) fn sample_report() -> RunReport {
    let sgemm = WorkloadSpec::Gemm {
        precision: Precision::F32,
        m: 4096,
        n: 4096,
        k: 4096,
        math: crate::workload::GemmMath::CudaCores,
    };
    let dgemm = WorkloadSpec::Gemm {
        precision: Precision::F64,
        m: 2048,
        n: 2048,
        k: 2048,
        math: crate::workload::GemmMath::CudaCores,
    };
    let dgemm_tc = WorkloadSpec::Gemm {
        precision: Precision::F64,
        m: 2048,
        n: 2048,
        k: 2048,
        math: crate::workload::GemmMath::TensorCores,
    };
    let triad = WorkloadSpec::Stream {
        op: StreamOp::Triad,
        precision: Precision::F64,
        n: 1 << 26,
    };
    let h2d = WorkloadSpec::Transfer {
        direction: Direction::HostToDevice,
        bytes: 1 << 28,
        pinned: true,
    };
    let d2h = WorkloadSpec::Transfer {
        direction: Direction::DeviceToHost,
        bytes: 1 << 28,
        pinned: true,
    };
    let mut results = vec![
        result(
            "gpu0.sgemm.4096x4096x4096",
            Some(0),
            sgemm,
            "sgemm_f32_tiled_128x64",
            4.87,
        ),
        result(
            "gpu0.cublas.sgemm.4096x4096x4096",
            Some(0),
            sgemm,
            "cublasSgemm",
            4.93,
        ),
        result(
            "gpu0.dgemm.2048x2048x2048",
            Some(0),
            dgemm,
            "dgemm_f64_tiled_64x64",
            0.195,
        ),
        result(
            "gpu0.stream.triad.f64",
            Some(0),
            triad,
            "stream_triad_f64",
            229.4,
        ),
        result(
            "gpu0.transfer.h2d.pinned",
            Some(0),
            h2d,
            "cuMemcpyHtoDAsync",
            10.3,
        ),
        result(
            "gpu0.transfer.d2h.pinned",
            Some(0),
            d2h,
            "cuMemcpyDtoHAsync",
            12.6,
        ),
        result(
            "host.sgemm.1024x1024x1024",
            None,
            WorkloadSpec::Gemm {
                precision: Precision::F32,
                m: 1024,
                n: 1024,
                k: 1024,
                math: crate::workload::GemmMath::CudaCores,
            },
            "matrixmultiply::sgemm",
            0.61,
        ),
    ];
    results[1].role = Role::Peer;
    results[1].math_mode = Some("cuBLAS pedantic FP32".into());
    results[0].verification = verified("Freivalds (3 vectors, f64) + 64 sampled elements in f64");
    results[2].math_mode = Some("FP64 FMA".into());
    results[2].verification = Verification {
        status: VerifyStatus::Failed,
        method: "Freivalds (3 vectors, f64) + 64 sampled elements in f64".into(),
        max_error: 3.5e-2,
        tolerance: 1.0e-9,
        checked: 2048 * 3 + 64,
        mismatches: vec![
            Mismatch {
                at: "C[12,7]".into(),
                expected: 511.25,
                got: 511.75,
            },
            Mismatch {
                at: "C[12,8]".into(),
                expected: -3.0,
                got: f64::NAN,
            },
        ],
    };
    // The h2d link is noisy: the pass line (10.24 GB/s) sits inside its interval.
    results[4].measurement = Some(measurement("GB/s", 10.3, 0.03, 4));
    results[4].measurement.as_mut().unwrap().stop_reason = StopReason::Timeout;
    results[3]
        .measurement
        .as_mut()
        .unwrap()
        .warnings
        .push(MeasurementWarning::Other {
            text: "SM clock fell to 949 MHz during sampling (thermal slowdown)".into(),
        });
    // NVML saw the SGEMM hold its clock, and the triad run hot and throttled.
    results[0].telemetry = Some(TelemetrySummary {
        samples: 40,
        sm_clock_mhz_median: Some(1114.0),
        sm_clock_mhz_min: Some(1114),
        max_sm_clock_mhz: Some(1114),
        mem_clock_mhz_median: Some(3004.0),
        temperature_c_max: Some(71),
        power_w_median: Some(231.0),
        power_limit_w: Some(250.0),
        throttle_reasons: Vec::new(),
        throttled_fraction: 0.0,
    });
    results[3].telemetry = Some(TelemetrySummary {
        samples: 30,
        sm_clock_mhz_median: Some(1020.0),
        sm_clock_mhz_min: Some(949),
        max_sm_clock_mhz: Some(1114),
        mem_clock_mhz_median: Some(3004.0),
        temperature_c_max: Some(88),
        power_w_median: Some(248.0),
        power_limit_w: Some(250.0),
        throttle_reasons: vec!["hw_thermal_slowdown".into(), "sw_power_cap".into()],
        throttled_fraction: 0.4,
    });
    let mut tc = result("gpu0.dgemm.tc.2048x2048x2048", Some(0), dgemm_tc, "", 0.0);
    tc.math_mode = None;
    tc.measurement = None;
    tc.verification = Verification::not_checked("not run");
    tc.error = Some(
        "could not prepare: FP64 GEMM on the tensor cores needs compute capability 8.0 or later; \
         this device has 5.2"
            .into(),
    );
    results.insert(3, tc);
    // Video: three stages at 1080p above their lines, scaling at 1080p below its line, and a
    // 2160p motion estimation (reported beside, not gated: 1080p is).
    let video = |stage, width, height| WorkloadSpec::Video {
        stage,
        width,
        height,
    };
    for (stage, (w, h), fps) in [
        (VideoStage::Nv12, (1920, 1080), 17250.0),
        (VideoStage::Scale, (1920, 1080), 9800.0),
        (VideoStage::Me, (1920, 1080), 301.5),
        (VideoStage::Me, (3840, 2160), 74.8),
        (VideoStage::Dct, (1920, 1080), 23900.0),
    ] {
        let spec = video(stage, w, h);
        let entry = crate::kernels::video_kernel(stage).entry;
        let mut v = result(&format!("gpu0.{}", spec.name()), Some(0), spec, entry, fps);
        v.verification = verified("every output bit for bit against the host reference");
        results.push(v);
    }
    // The hardware encoder: one session, then four concurrent sessions.
    for (sessions, fps) in [(1, 285.0), (4, 548.0)] {
        let spec = WorkloadSpec::Encode {
            codec: crate::workload::EncodeCodec::H264,
            width: 1920,
            height: 1080,
            sessions,
            frames: 600,
        };
        let mut e = result(
            &format!("gpu0.{}", spec.name()),
            Some(0),
            spec,
            "ffmpeg h264_nvenc",
            fps,
        );
        e.verification = verified("bitstreams non-empty, 600 frames each read back by ffprobe");
        results.push(e);
    }

    let mut r = RunReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "gpugate".into(),
            version: "0.1.0".into(),
            git_commit: Some("7e9971d".into()),
        },
        started_at: "2026-01-02T03:04:05Z".into(),
        finished_at: Some("2026-01-02T03:05:10Z".into()),
        complete: true,
        interrupted: None,
        command_line: vec![
            "gpugate".into(),
            "run".into(),
            "--profile".into(),
            "g2.large".into(),
        ],
        seed: 1234567,
        level: Level::Standard,
        backend_requested: "auto".into(),
        profile: ProfileRef::of(
            &crate::gate::load_profile("g2.large").unwrap().0,
            "builtin".into(),
        ),
        host: HostInfo {
            hostname: "synthetic-test-data (not a measurement)".into(),
            os: "Ubuntu 22.04.4 LTS".into(),
            kernel: "5.15.0-105-generic".into(),
            cpu_model: "Intel(R) Xeon(R) CPU E5-2670 v2 @ 2.50GHz".into(),
            logical_cpus: 28,
            memory_bytes: 60_500_000_000,
            local_disk_bytes: 1_650_000_000_000,
        },
        gpus: vec![m40(0)],
        gpu_unavailable: None,
        peaks: vec![crate::gate::profile::peaks_for_device(&m40(0))],
        floors: Vec::new(),
        tuning: vec![sample_tuning()],
        module_loads: vec![
            ModuleLoad {
                device: 0,
                module: "gemm".into(),
                target: "compute_52".into(),
                seconds: 0.412,
            },
            ModuleLoad {
                device: 0,
                module: "stream".into(),
                target: "compute_52".into(),
                seconds: 0.0315,
            },
        ],
        module_notes: Vec::new(),
        results,
        checks: vec![],
        notes: vec!["cuBLAS found at libcublas.so.12 (peer results are not gated)".into()],
        verdict: Verdict::Pass,
        exit_code: 0,
        allow_simulated: false,
        memtest: Vec::new(),
        health: vec![sample_health()],
        burn: None,
        p2p: None,
    };
    // Seconds per iteration as the median throughput implies (the charts derive each sample's
    // throughput from them and the work).
    for w in &mut r.results {
        if let Some(m) = w.measurement.as_mut() {
            let f = w.spec.throughput(1.0) / m.throughput.median / m.summary.median;
            if f.is_finite() && f > 0.0 {
                m.samples.iter_mut().for_each(|t| *t *= f);
                let s = &mut m.summary;
                for t in [
                    &mut s.median,
                    &mut s.mean,
                    &mut s.min,
                    &mut s.max,
                    &mut s.stddev,
                ] {
                    *t *= f;
                }
            }
        }
    }
    let (profile, _) = gate::load_profile("g2.large").unwrap();
    r.checks = gate::evaluate(&profile, &r);
    r.verdict = RunReport::overall(&r.checks);
    r.exit_code = exit::for_verdict(r.verdict);
    r
}

/// GPU 0's health over the sample run: two corrected ECC errors and an application Xid, both
/// reported; row remapping not available (an M40).
fn sample_health() -> crate::model::health::GpuHealth {
    use crate::model::health::{EccCounts, GpuHealth, HealthEvent, HealthSnapshot, Reading};
    let snap = |at_s: f64, sbe: u64| HealthSnapshot {
        at_s,
        ecc_enabled: Reading::Value(true),
        ecc_corrected: EccCounts {
            volatile: Reading::Value(sbe),
            aggregate: Reading::Value(sbe + 3),
        },
        ecc_uncorrected: EccCounts {
            volatile: Reading::Value(0),
            aggregate: Reading::Value(0),
        },
        retired_pages_sbe: Reading::Value(1),
        retired_pages_dbe: Reading::Value(0),
        retirement_pending: Reading::Value(false),
        remapped_rows_correctable: Reading::NotAvailable("not supported on this GPU".into()),
        remapped_rows_uncorrectable: Reading::NotAvailable("not supported on this GPU".into()),
        remap_pending: Reading::NotAvailable("not supported on this GPU".into()),
        remap_failure: Reading::NotAvailable("not supported on this GPU".into()),
        pcie_replays: Reading::Value(4),
    };
    GpuHealth {
        gpu: 0,
        before: Some(snap(0.4, 0)),
        after: Some(snap(61.0, 2)),
        events: vec![HealthEvent {
            gpu: 0,
            xid: 13,
            at_s: 12.5,
            interval: None,
        }],
        events_unwatched: None,
        note: None,
        // NVML's slowdown temperature: the temperature check's limit (g2.large sets none).
        slowdown_temperature_c: Some(Reading::Value(92)),
    }
}

fn unavailable_report() -> RunReport {
    let mut r = sample_report();
    r.health.clear();
    r.gpus.clear();
    r.results.retain(|w| w.backend == BackendKind::Host);
    r.module_loads.clear();
    r.notes.clear();
    r.gpu_unavailable =
        Some("the NVIDIA driver library libcuda.so.1 was not found (no driver installed?)".into());
    let (profile, _) = gate::load_profile("g2.large").unwrap();
    r.checks = gate::evaluate(&profile, &r);
    r.verdict = RunReport::overall(&r.checks);
    r.exit_code = exit::for_verdict(r.verdict);
    r
}

/// A host-only run's sampler warnings are one line, with no guess about throttling; a GPU
/// result's stay one line each.
#[test]
fn host_noise_is_one_line_and_never_a_throttling_guess() {
    let mut r = unavailable_report();
    let host = r.results[0].clone();
    r.results.clear();
    for (i, noise) in [0.07, 0.44, 0.13].into_iter().enumerate() {
        let mut w = host.clone();
        w.id = format!("host.stream.{i}");
        let m = w.measurement.as_mut().unwrap();
        m.summary.rel_stddev = noise;
        m.warnings = vec![
            MeasurementWarning::Noisy {
                rel_stddev: noise,
                limit: 0.05,
                on_gpu: false,
            },
            MeasurementWarning::Drift {
                slowdown: 0.092,
                on_gpu: false,
            },
        ];
        r.results.push(w);
    }
    r.results.push(host);
    let lines = warnings(&r);
    assert_eq!(
        lines,
        vec![Warning {
            subject: "host".into(),
            text: "3 of 4 host CPU results were noisy or drifted while sampled (rel. stddev \
                   7.0–44.0 %): usual on a shared or busy CPU; host results are reported, \
                   never gated"
                .into()
        }]
    );
    for text in [Markdown.render(&r), html::Html.render(&r)] {
        assert!(!text.contains("throttl"), "{text}");
        assert_eq!(text.matches("noisy or drifted").count(), 1);
    }
}

#[test]
fn sample_report_has_the_expected_verdicts() {
    let r = sample_report();
    let v = |id: &str| r.checks.iter().find(|c| c.id == id).map(|c| c.verdict);
    assert_eq!(v("gpu0.fp32_gemm"), Some(Verdict::Pass));
    assert_eq!(v("gpu0.fp64_gemm"), Some(Verdict::Fail));
    assert_eq!(v("gpu0.dgemm.2048x2048x2048.verify"), Some(Verdict::Fail));
    assert_eq!(v("gpu0.h2d"), Some(Verdict::Inconclusive));
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.exit_code, 1);
    // The tensor-core DGEMM is reported, never evidence for the FP64 (vector) target.
    let fp64 = r.checks.iter().find(|c| c.id == "gpu0.fp64_gemm").unwrap();
    assert_eq!(fp64.evidence, ["gpu0.dgemm.2048x2048x2048"]);
    let rows = super::gemm::gemm_rows(&r);
    let tc = rows.iter().find(|g| g.id.contains(".tc.")).unwrap();
    assert_eq!(tc.precision_label(), "FP64 (tensor cores)");
    assert_eq!((tc.peak, tc.kernel_label().as_str()), (None, "—"));
}

#[test]
fn markdown_snapshot() {
    check_snapshot("sample.md", &Markdown.render(&sample_report()));
}

#[test]
fn html_snapshot() {
    let html = super::html::Html.render(&sample_report());
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</body></html>"));
    // Self-contained: the only URL is the SVG namespace of the inline charts.
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert_eq!(html.matches("<tr>").count(), html.matches("</tr>").count());
    check_snapshot("sample.html", &html);
}

#[test]
fn junit_snapshot() {
    let r = sample_report();
    let xml = super::junit::Junit.render(&r);
    // Parsed as XML, as a JUnit reader sees it: one suite, a test case per check named by its
    // id, the declared counts those of the cases (FAIL and INCONCLUSIVE are failures).
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    let cases: Vec<_> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let names: Vec<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(names, ids);
    let with = |tag: &str| {
        cases
            .iter()
            .filter(|c| c.children().any(|k| k.has_tag_name(tag)))
            .count()
    };
    let count = |v: Verdict| r.checks.iter().filter(|c| c.verdict == v).count();
    assert_eq!(
        with("failure"),
        count(Verdict::Fail) + count(Verdict::Inconclusive)
    );
    assert_eq!(with("skipped"), count(Verdict::Skipped));
    for n in [doc.root_element(), suites[0]] {
        assert_eq!(n.attribute("tests"), Some(cases.len().to_string().as_str()));
        assert_eq!(n.attribute("failures"), Some("5"));
        assert_eq!(
            n.attribute("skipped"),
            Some(with("skipped").to_string().as_str())
        );
    }
    check_snapshot("sample.junit.xml", &xml);
}

#[test]
fn console_snapshot() {
    check_snapshot("sample.console.txt", &Console.render(&sample_report()));
}

#[test]
fn gpu_unavailable_snapshots() {
    let r = unavailable_report();
    let md = Markdown.render(&r);
    assert!(md.contains("> **GPU unavailable:** the NVIDIA driver library"));
    check_snapshot("unavailable.md", &md);
    let console = Console.render(&r);
    assert!(console.ends_with("verdict: FAIL (exit 1)\n"), "{console}");
    check_snapshot("unavailable.console.txt", &console);
}

/// The sample run as if its GPU had been gpugate-sim's M40, checks re-evaluated.
fn simulated_report(allow: bool) -> RunReport {
    let mut r = sample_report();
    r.gpus[0].name = format!("{} {}", r.gpus[0].name, crate::model::SIMULATED_MARK);
    r.gpus[0].simulated = true;
    r.allow_simulated = allow;
    let profile = crate::gate::load_profile("g2.large").unwrap().0;
    r.checks = crate::gate::evaluate(&profile, &r);
    r.verdict = RunReport::overall(&r.checks);
    r.exit_code = crate::model::exit::for_verdict(r.verdict);
    r
}

#[test]
fn simulated_runs_say_so_in_every_report() {
    for allow in [false, true] {
        let r = simulated_report(allow);
        let banner = super::simulated_banner(&r).unwrap();
        assert!(banner.starts_with("SIMULATED: GPU 0 (Tesla M40 24GB (gpugate-sim))"));
        assert_eq!(banner.contains("was given --allow-simulated"), allow);
        let md = Markdown.render(&r);
        let header: Vec<&str> = md.lines().take(3).collect();
        assert!(header[2].starts_with("> **SIMULATED: GPU 0"), "{header:?}");
        let html = super::html::Html.render(&r);
        assert!(html.contains(r#"<p class="banner"><b>SIMULATED: GPU 0"#));
        let xml = super::junit::Junit.render(&r);
        assert!(xml.contains(r#"<property name="simulated" value="true"/>"#));
        assert!(xml.contains(&format!(
            r#"<property name="allow_simulated" value="{allow}"/>"#
        )));
        let console = Console.render(&r);
        assert_eq!(console.lines().nth(1), Some(banner.as_str()));
        let last2: Vec<&str> = console.lines().rev().take(2).collect();
        assert_eq!(last2[1], banner);
        // A second SGEMM size makes a chart.
        let mut r = r;
        let mut w = r
            .results
            .iter()
            .find(|w| w.id == "gpu0.sgemm.4096x4096x4096")
            .unwrap()
            .clone();
        w.spec = WorkloadSpec::Gemm {
            precision: Precision::F32,
            m: 2048,
            n: 2048,
            k: 2048,
            math: crate::workload::GemmMath::CudaCores,
        };
        w.id = "gpu0.sgemm.2048x2048x2048".into();
        r.results.push(w);
        let charts = super::charts::all(&r);
        assert!(charts
            .iter()
            .any(|c| c.kind == super::charts::ChartKind::Gemm));
        for chart in charts {
            assert!(chart.title.starts_with("SIMULATED"), "{}", chart.title);
            assert!(chart.svg.contains("SIMULATED"));
        }
    }
    // Without --allow-simulated every GPU check fails; the host checks stand.
    let r = simulated_report(false);
    assert_eq!(r.exit_code, 1);
    for c in &r.checks {
        if c.device == Some(0) || c.id.starts_with("machine.") {
            assert_eq!(c.verdict, Verdict::Fail, "{}", c.id);
        }
    }
    check_snapshot("simulated.console.txt", &Console.render(&r));
    // A real GPU's reports carry no banner.
    assert!(super::simulated_banner(&sample_report()).is_none());
    assert!(!Markdown.render(&sample_report()).contains("SIMULATED"));
}

/// Right after the verdict (and the run's banners), every report lists the checks that failed
/// or were inconclusive, one line each, in check order, before the run table and the full
/// checks table; a run where every check passed has no such list.
#[test]
fn failing_checks_come_first_in_every_report() {
    let r = sample_report();
    let want: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Inconclusive))
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        want.len(),
        5,
        "the sample has 4 failures and 1 inconclusive"
    );
    assert!(r.checks.len() > 20);
    // report.md: the title, then the list, each line naming its check, verdict and values.
    let md = Markdown.render(&r);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "# gpugate: FAIL (exit 1)");
    assert_eq!(lines[2], "## Why FAIL: 4 checks failed, 1 inconclusive");
    let items: Vec<&str> = lines[4..4 + want.len()].to_vec();
    for (line, id) in items.iter().zip(&want) {
        assert!(line.starts_with(&format!("- `{id}` **")), "{line}");
    }
    assert!(items[3].contains("**INCONCLUSIVE** observed 10.3 GB/s vs required 10.2 GB/s"));
    assert!(md.find("## Why FAIL").unwrap() < md.find("| Run |").unwrap());
    assert!(md.find("| Run |").unwrap() < md.find("## Checks").unwrap());
    // report.html: the same list is the first thing after the title.
    let html = super::html::Html.render(&r);
    let after_title = &html[html.find("</h1>").unwrap() + 6..];
    assert!(after_title.starts_with("<h2>Why FAIL: 4 checks failed, 1 inconclusive</h2>\n<ul>"));
    let list = &after_title[..after_title.find("</ul>").unwrap()];
    let ids: Vec<&str> = list
        .split("<li><code>")
        .skip(1)
        .map(|li| &li[..li.find("</code>").unwrap()])
        .collect();
    assert_eq!(ids, want);
    // The console: the verdict line, then one line per check, then the table.
    let console = Console.render(&r);
    let lines: Vec<&str> = console.lines().collect();
    assert_eq!(
        lines[2],
        "verdict: FAIL (exit 1): 4 checks failed, 1 inconclusive"
    );
    for (line, id) in lines[3..3 + want.len()].iter().zip(&want) {
        assert_eq!(line.split_whitespace().next(), Some(*id), "{line}");
    }
    assert!(lines[3 + want.len() + 1].starts_with("CHECK "));
    // A run where every check passed opens with its run table.
    let mut pass = r.clone();
    for c in &mut pass.checks {
        c.verdict = Verdict::Pass;
    }
    pass.verdict = Verdict::Pass;
    pass.exit_code = 0;
    let md = Markdown.render(&pass);
    assert!(!md.contains("## Why"), "{md}");
    assert_eq!(md.lines().nth(2), Some("| Run |  |"));
    let console = Console.render(&pass);
    assert_eq!(console.lines().nth(2), Some("verdict: PASS (exit 0)"));
}

#[test]
fn console_ends_with_the_verdict_line() {
    let mut r = sample_report();
    for (verdict, code) in [
        (Verdict::Pass, 0),
        (Verdict::Fail, 1),
        (Verdict::Inconclusive, 3),
    ] {
        r.verdict = verdict;
        r.exit_code = code;
        let out = Console.render(&r);
        let last = out.lines().last().unwrap();
        assert_eq!(last, format!("verdict: {verdict} (exit {code})"));
    }
}

#[test]
fn profile_and_inventory_text() {
    let (p, origin) = gate::load_profile("g2.2xlarge").unwrap();
    let text = info::render_profile(&p, &origin);
    assert!(text.contains("2 × \"Tesla M40 24GB\""), "{text}");
    assert!(text.contains("fp32_gemm"), "{text}");
    assert!(text.contains("8.40 TFLOPS"), "{text}");
    assert!(
        text.contains("at most 10 new corrected ECC errors, 100 PCIe replays, 5 %"),
        "{text}"
    );
    assert!(text.contains("fewer than 63 retired pages"), "{text}");
    assert!(
        text.contains("burn      quick 2, standard 10, full 60 minutes"),
        "{text}"
    );
    assert!(
        text.contains("falls at most 10 % from the first minute; every GPU at least 90 %"),
        "{text}"
    );
    assert!(
        text.contains("p2p       peer access not required; bandwidth reported; a wrong byte fails"),
        "{text}"
    );
    // The burn's own targets, after the acceptance run's: FP32 per GPU at 55 %, the machine's
    // concurrent triad.
    let burn = &text[text
        .find("burn targets (gpugate burn")
        .expect("burn targets")..];
    assert!(
        burn.contains("fp32_gemm     each gpu  7.00 TFLOPS   55 %  3.85 TFLOPS"),
        "{burn}"
    );
    assert!(
        burn.contains("stream_triad  machine   576.0 GB/s    70 %  403.2 GB/s"),
        "{burn}"
    );
    let r = sample_report();
    let text = info::render_inventory(&r.host, &r.gpus, None);
    assert!(text.contains("Tesla M40 24GB") && text.contains("catalogue: Tesla M40 24GB"));
    assert!(!text.contains("SIMULATED"));
    let sim = simulated_report(false);
    let text = info::render_inventory(&sim.host, &sim.gpus, None);
    assert!(text.contains("catalogue: Tesla M40 24GB"), "{text}");
    assert!(text.contains("SIMULATED: gpugate-sim on the CPU"), "{text}");
    let text = info::render_inventory(&r.host, &[], Some("no driver"));
    assert!(text.contains("GPU unavailable: no driver"));
}

/// `gpugate info` gives every GPU's NVENC engines with their source, says so of a GPU without
/// one, and shows NVML's encoder readings where there are some.
#[test]
fn inventory_shows_the_nvenc_engines() {
    let r = sample_report();
    let encode = |g: &crate::model::DeviceInfo| -> Vec<String> {
        info::render_inventory(&r.host, std::slice::from_ref(g), None)
            .lines()
            .filter(|l| l.trim_start().starts_with("video encode"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let mut m40 = m40(0);
    m40.nvenc = crate::probe::gpu::nvenc_info(
        &m40.name,
        Ok(crate::probe::telemetry::EncoderReadings {
            supported: Some(true),
            capacity_h264_percent: Some(100),
            utilization_percent: Some(0),
            sessions: Some(0),
            average_fps: Some(0),
            average_latency_us: Some(0),
            note: None,
        }),
    );
    let lines = encode(&m40);
    assert!(
        lines[0].starts_with("video encode: 2 NVENC engines (catalogue: Tesla M40 24GB; NVIDIA Video Encode and Decode GPU Support Matrix"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "video encode NVML: H.264 capacity 100 %, utilisation 0 %, 0 sessions"
    );
    let mut h100 = m40.clone();
    h100.name = "NVIDIA H100 80GB HBM3".into();
    h100.nvenc = crate::probe::gpu::nvenc_info(
        &h100.name,
        Err(&crate::probe::telemetry::TelemetryError::NoDeviceId),
    );
    let lines = encode(&h100);
    assert!(
        lines[0].starts_with("video encode: no NVENC engine on this GPU (catalogue: NVIDIA H100"),
        "{lines:?}"
    );
    let mut odd = m40.clone();
    odd.name = "NVIDIA A10G".into();
    odd.nvenc = crate::model::NvencInfo::default();
    assert!(encode(&odd)[0].contains("NVENC engine count unknown for this GPU"));
}

/// `gpugate info` shows, per GPU, the PTX ISA its driver accepts and, per kernel family, the
/// build that loads there or why none does.
#[test]
fn inventory_shows_the_build_of_every_kernel_module_on_the_driver() {
    let r = sample_report();
    let lines = |gpus: &[crate::model::DeviceInfo]| -> Vec<String> {
        info::render_inventory(&r.host, gpus, None)
            .lines()
            // (the video encode lines have their own test)
            .filter(|l| l.starts_with("          ") && !l.contains("video encode"))
            .map(|l| l.trim().to_string())
            .collect()
    };
    // An M40 on R525+: every compute_52 build.
    assert_eq!(
        lines(&[m40(0)]),
        [
            "driver CUDA 12.4, PTX ISA up to 8.4",
            "kernel module compare: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
            "kernel module gemm: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
            "kernel module memtest: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
            "kernel module stream: compute_52 build loads (PTX ISA 6.0, drivers from CUDA 9.0 (R384+))",
            "kernel module video: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
        ]
    );
    // An A100 on R418: gemm falls back to compute_70, saying what compute_80 needs.
    let mut a100 = m40(1);
    a100.name = "NVIDIA A100-SXM4-40GB".into();
    a100.compute_capability = (8, 0);
    a100.driver_cuda_version = 10010;
    a100.max_ptx_isa = crate::kernels::max_ptx_isa(10010);
    assert_eq!(
        lines(std::slice::from_ref(&a100))[..4],
        [
            "driver CUDA 10.1, PTX ISA up to 6.4",
            "kernel module compare: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
            "kernel module gemm: compute_70 build loads (PTX ISA 6.3, drivers from CUDA 10.0 \
             (R410+)); not compute_80, the best for this GPU: it needs PTX ISA 7.0, drivers from \
             CUDA 11.0 (R450+), and this driver accepts up to 6.4",
            "kernel module memtest: compute_52 build loads (PTX ISA 4.1, drivers from CUDA 9.0 (R384+))",
        ]
    );
    // A CUDA 8.0 driver: no build of either family, each saying what to install.
    let mut old = m40(0);
    old.driver_cuda_version = 8000;
    old.max_ptx_isa = crate::kernels::max_ptx_isa(8000);
    let text = lines(&[old]);
    assert!(
        text[1].starts_with("kernel module compare: no build loads")
            && text[2].starts_with("kernel module gemm: no build loads: the driver is too old")
            && text[2].contains("R384+"),
        "{text:?}"
    );
    assert!(
        text[3].starts_with("kernel module memtest: no build loads"),
        "{text:?}"
    );
    assert!(
        text[4].starts_with("kernel module stream: no build loads"),
        "{text:?}"
    );
    // The same, as `gpugate info --json` lists it.
    let choices = info::module_choices(&[m40(0), a100]);
    assert_eq!(choices.len(), 10);
    let gemm_a100 = &choices[6];
    assert_eq!((gemm_a100.device, gemm_a100.module.as_str()), (1, "gemm"));
    assert_eq!(gemm_a100.target.as_deref(), Some("compute_70"));
    assert_eq!(gemm_a100.refused.as_deref(), Some("compute_80"));
    assert!(choices[0].reason.is_none() && choices[0].refused.is_none());
}

/// A run whose GPU loaded a lower build (or none) of a family says so in the report.
#[test]
fn markdown_lists_the_kernel_modules_the_driver_kept_back() {
    let mut r = sample_report();
    let notes = crate::run::module_notes(0, &crate::kernels::KernelSet::select((8, 0), 10010));
    for (note, record) in notes {
        r.notes.push(note);
        r.module_notes.push(record);
    }
    let md = Markdown.render(&r);
    assert!(
        md.contains("## Kernel modules not at their best build"),
        "{md}"
    );
    assert!(
        md.contains("| gpu0 | gemm | compute_70 | compute_80 | CUDA 11.0 (R450+) |"),
        "{md}"
    );
    assert!(
        md.contains("GPU 0: gemm: compute_70 build loaded instead of compute_80"),
        "{md}"
    );
    // Without module notes the section is absent, and run.json does not carry the field.
    let plain = sample_report();
    assert!(!Markdown.render(&plain).contains("not at their best build"));
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("module_notes"));
    assert!(serde_json::to_string(&r)
        .unwrap()
        .contains("\"module_notes\""));
    let json = serde_json::to_string(&r.module_notes).unwrap();
    let back: Vec<ModuleChoice> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r.module_notes);
}

#[test]
fn json_round_trips_through_disk_with_nan() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample_report();
    let path = write_json_atomic(&r, dir.path()).unwrap();
    assert_eq!(path, dir.path().join("run.json"));
    assert!(!dir.path().join("run.json.tmp").exists());
    let back = load_run(&path).unwrap();
    // NaN (written as null) reads back as NaN.
    assert!(back.results[2].verification.mismatches[1].got.is_nan());
    // serde_json's default float parsing may differ in the last bit, so compare what the
    // reports show, and the structure.
    assert_eq!(Markdown.render(&back), Markdown.render(&r));
    assert_eq!(Console.render(&back), Console.render(&r));
    let key = |c: &Check| (c.id.clone(), c.verdict, c.reason.clone(), c.hint.clone());
    assert_eq!(
        back.checks.iter().map(key).collect::<Vec<_>>(),
        r.checks.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(back.results.len(), r.results.len());
}

#[test]
fn write_all_writes_every_report_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("out");
    // A stale temporary file from a crashed run does not matter.
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("run.json.tmp"), "{ torn").unwrap();
    let r = sample_report();
    let written = write_all(&r, &sub).unwrap();
    assert_eq!(
        written,
        vec![
            sub.join("run.json"),
            sub.join("report.md"),
            sub.join("report.html"),
            sub.join("junit.xml"),
            sub.join("checks_gpu0.svg"),
            sub.join("stream_gpu0.svg"),
            sub.join("video_gpu0.svg"),
            sub.join("roofline_gpu0.svg"),
            sub.join("samples_gpu0.svg"),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(sub.join("report.md")).unwrap(),
        Markdown.render(&r)
    );
    assert!(load_run(&sub.join("run.json")).is_ok());
    let leftovers: Vec<_> = std::fs::read_dir(&sub)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Only the torn file a crashed writer left: each writer uses (and removes) its own.
    assert_eq!(leftovers, ["run.json.tmp"]);
}

#[test]
fn load_run_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let full = Json.render(&sample_report());
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let newer = full.replacen(
        &format!("\"schema_version\": {SCHEMA_VERSION}"),
        "\"schema_version\": 7",
        1,
    );
    let shape = full.replacen("\"seed\":", "\"sead\":", 1);
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            write("truncated.json", &full[..full.len() / 2]),
            "the file is truncated or not JSON",
        ),
        (write("empty.json", ""), "the file is truncated or not JSON"),
        (
            write("text.json", "hello world"),
            "the file is truncated or not JSON",
        ),
        (
            write("foreign.json", r#"{"name": "other tool", "results": []}"#),
            "is not a gpugate run.json (it has no schema_version)",
        ),
        (
            write("array.json", "[1, 2, 3]"),
            "is not a gpugate run.json",
        ),
        (
            write("shape.json", &shape),
            "is not a gpugate run.json (wrong shape",
        ),
        (
            write("newer.json", &newer),
            "written by a newer gpugate (schema 7); this one reads schema 6",
        ),
        (dir.path().join("missing.json"), "cannot read"),
    ];
    for (path, want) in cases {
        let e = load_run(&path).unwrap_err().to_string();
        assert!(e.contains(want), "{}: {e}", path.display());
        assert!(e.contains(&path.display().to_string()), "{e}");
    }
    // Truncation names a line and column.
    let e = load_run(&dir.path().join("truncated.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(" at line ") && e.contains(" column "), "{e}");
}

#[test]
fn numbers_are_formatted_by_unit() {
    assert_eq!(fmt_value(4.8712, "TFLOPS"), "4.87");
    assert_eq!(fmt_value(229.44, "GB/s"), "229.4");
    assert_eq!(fmt_value(28.0, "vCPUs"), "28");
    assert_eq!(fmt_pct(Some(69.57)), "69.6%");
    assert_eq!(fmt_opt(None, "GB"), "—");
}

/// A `<script>` (or any tag) in run text — a profile or device name, a note — reaches report.md
/// as text, never as markup (HTML and JUnit escape it too).
#[test]
fn run_text_never_becomes_markup_in_any_report() {
    let mut r = sample_report();
    r.profile.name = "<script>alert(1)</script>".into();
    r.gpus[0].name = "Tesla <img src=x onerror=alert(2)>".into();
    r.notes.push("<b>bold</b> note".into());
    let md = Markdown.render(&r);
    assert!(
        !md.contains("<script") && !md.contains("<img") && !md.contains("<b>"),
        "{md}"
    );
    assert!(md.contains("&lt;script>alert(1)&lt;/script>"), "{md}");
    let html = html::Html.render(&r);
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"));
    let junit = junit::Junit.render(&r);
    assert!(!junit.contains("<script>") && !junit.contains("<img"));
}

/// The M40's FP32 tuning for large GEMMs: one variant timed, one wrong, one that failed.
fn sample_tuning() -> crate::model::tuning::TuningTable {
    use crate::model::tuning::*;
    let candidate =
        |variant: &str, tflops: Option<f64>, verified: bool, error: Option<&str>| Candidate {
            variant: variant.into(),
            tflops,
            verified,
            error: error.map(Into::into),
        };
    TuningTable {
        device: 0,
        key: TuningKey {
            gpu_uuid: "GPU-00000000-0000-0000-0000-000000000000".into(),
            gpu_name: "Tesla M40 24GB".into(),
            driver_cuda_version: 12040,
            ptx_hash: "0123456789abcdef".into(),
        },
        entries: vec![TuningEntry {
            precision: Precision::F32,
            math: crate::workload::GemmMath::CudaCores,
            size_class: SizeClass::Large,
            size: 8192,
            variant: "sgemm_f32_tiled_128x64".into(),
            candidates: vec![
                candidate("sgemm_f32_tiled_128x64", Some(4.91), true, None),
                candidate("sgemm_f32_tiled_64x64", Some(5.20), false, None),
                candidate(
                    "sgemm_f32_tiled_128x128",
                    None,
                    false,
                    Some("out of registers"),
                ),
            ],
            from_cache: false,
        }],
    }
}

/// report.md and report.html are one document laid out twice: every heading, banner, table
/// cell, list item and chart of the document is in both, and the sections report.html once
/// lacked (tuning, mismatches, JIT times, telemetry) are there.
#[test]
fn markdown_and_html_carry_the_same_document() {
    use super::document::{build, Block};
    for r in [
        sample_report(),
        unavailable_report(),
        simulated_report(false),
    ] {
        let doc = build(&r);
        let md = Markdown.render(&r);
        let html = super::html::Html.render(&r);
        let md_has = |t: &str| md.contains(&t.replace('|', "\\|").replace('<', "&lt;"));
        let html_has = |t: &str| html.contains(&crate::util::xml_escape(t));
        let mut texts: Vec<String> = Vec::new();
        for b in &doc.blocks {
            match b {
                Block::Heading { text, .. } => texts.push(text.clone()),
                Block::Banner(s) | Block::Paragraph(s) => {
                    texts.extend(s.iter().map(|s| s.as_str().trim().to_string()))
                }
                Block::Table(t) => {
                    texts.extend(t.header.iter().cloned());
                    texts.extend(
                        t.rows
                            .iter()
                            .flatten()
                            .flat_map(|c| c.spans.iter().map(|s| s.as_str().trim().to_string())),
                    );
                }
                Block::List(items) => texts.extend(
                    items
                        .iter()
                        .flatten()
                        .map(|s| s.as_str().trim().to_string()),
                ),
                Block::Chart(c) => {
                    assert!(md.contains(&c.file_name), "{}", c.file_name);
                    assert!(html.contains(&c.svg), "{}", c.file_name);
                }
                Block::Footer(t) => texts.push(t.clone()),
            }
        }
        for t in texts.iter().filter(|t| !t.is_empty()) {
            assert!(md_has(t), "report.md lacks {t:?}");
            assert!(html_has(t), "report.html lacks {t:?}");
        }
    }
    let html = super::html::Html.render(&sample_report());
    for section in [
        "<h2>Checks</h2>",
        "<h2>GPUs</h2>",
        "<h2>First mismatches</h2>",
        "<h2>Module load (JIT) times</h2>",
        "<h2>Telemetry</h2>",
        "<h2>GEMM tuning, gpu0 (Tesla M40 24GB, driver 12040, PTX 0123456789abcdef)</h2>",
        "<h2>Notes</h2>",
    ] {
        assert!(html.contains(section), "report.html lacks {section}");
    }
}

/// Results that did not run for the same reason are one warning naming them all (a GPU
/// without a working encoder listed its reason once per encode workload).
#[test]
fn results_that_failed_alike_are_one_warning() {
    let mut r = sample_report();
    let why = "could not prepare: the GPU fell off the bus".to_string();
    let ids: Vec<String> = r.results.iter().take(3).map(|w| w.id.clone()).collect();
    for w in r.results.iter_mut().take(3) {
        w.error = Some(why.clone());
    }
    let same: Vec<Warning> = warnings(&r)
        .into_iter()
        .filter(|w| w.text == format!("did not run: {why}"))
        .collect();
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(same[0].subject, ids.join(", "));
    // Another reason stays a line of its own.
    r.results[1].error = Some("could not prepare: out of memory".into());
    assert_eq!(
        warnings(&r)
            .iter()
            .filter(|w| w.text.starts_with("did not run"))
            .count(),
        3
    );
}

/// A run.json written before checks recorded how they were decided (schema 2: no
/// `noise_interval`, no `decided_from`) still loads; deciding it again on reading (what
/// `gpugate report` does) records both, and its charts are those of the run as gated today.
/// Where its checks are shown as stored (a schema 1 file gated against a profile file, whose
/// targets it does not record), they have no interval to draw: the checks and samples charts
/// are left out, nothing recomputed in their place, and the charts of the results stay.
#[test]
fn an_older_run_json_without_recorded_intervals_still_renders() {
    let r = sample_report();
    assert!(r.checks.iter().any(|c| c.noise_interval.is_some()));
    let mut v = serde_json::to_value(&r).unwrap();
    v["schema_version"] = 2.into();
    for c in v["checks"].as_array_mut().unwrap() {
        let c = c.as_object_mut().unwrap();
        c.remove("noise_interval");
        c.remove("decided_from");
    }
    let text = serde_json::to_string_pretty(&v).unwrap();
    let mut old = parse_run(&text, std::path::Path::new("old.run.json")).unwrap();
    assert_eq!(old.schema_version, 2);
    assert!(old
        .checks
        .iter()
        .all(|c| c.noise_interval.is_none() && c.decided_from.is_empty()));
    let d = gate::redecide(&old);
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    assert_eq!(
        d.checks, r.checks,
        "decided again, the checks record it all"
    );
    old.checks = d.checks;
    let svgs = |r: &RunReport| -> Vec<(String, String)> {
        charts::all(r)
            .into_iter()
            .map(|c| (c.file_name, c.svg))
            .collect()
    };
    assert_eq!(svgs(&old), svgs(&r));

    // Schema 1, gated against a profile file: the checks as stored, without intervals.
    v["schema_version"] = 1.into();
    v["profile"]["origin"] = "/etc/gpugate/mine.toml".into();
    let p = v["profile"].as_object_mut().unwrap();
    p.remove("machine");
    p.remove("targets");
    let text = serde_json::to_string_pretty(&v).unwrap();
    let mut old = parse_run(&text, std::path::Path::new("old.run.json")).unwrap();
    let d = gate::redecide(&old);
    assert!(d.notes[0].starts_with("checks as stored"), "{:?}", d.notes);
    assert!(
        d.notes[0].contains("the checks and samples charts are not drawn"),
        "{:?}",
        d.notes
    );
    old.checks = d.checks;
    let names: Vec<String> = charts::all(&old).into_iter().map(|c| c.file_name).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("checks_") || n.starts_with("samples_")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n == "stream_gpu0.svg"), "{names:?}");
    let html = super::html::Html.render(&old);
    assert!(html.contains("gpu0.fp32_gemm"));
}

/// Two GPUs' memory tests: GPU 0 clean, GPU 1 with 25 stuck words in `stress` (22 recorded)
/// and a pattern that did not finish.
fn memtest_sample() -> Vec<crate::model::memtest::MemtestReport> {
    use crate::model::memtest::{MemoryError, MemtestReport, PatternResult};
    let pattern = |name: &str, errors: u64, recorded: usize, failed: Option<&str>| PatternResult {
        pattern: name.into(),
        covered_bytes: 20_971_520,
        errors,
        recorded: (0..recorded as u64)
            .map(|k| MemoryError {
                address: 0x7f00_0000_1000 + 4 * k,
                width_bits: 32,
                bits: vec![5],
                expected: 0x0000_00ff,
                found: 0x0000_00df,
            })
            .collect(),
        passes: Some(if failed.is_some() { 1 } else { 8 }),
        seconds: Some(1.25),
        failed: failed.map(str::to_string),
    };
    let gpu = |device: u32, patterns: Vec<PatternResult>| MemtestReport {
        device,
        seed: 7,
        requested_share_percent: 90.0,
        free_bytes: 23_068_672,
        total_bytes: 25_165_824,
        covered_bytes: 20_971_520,
        allocations: 1,
        patterns,
        error: None,
    };
    vec![
        gpu(0, vec![pattern("stress", 0, 0, None)]),
        gpu(
            1,
            vec![
                pattern("stress", 25, 22, None),
                pattern(
                    "walking_ones",
                    0,
                    0,
                    Some("stopped by a signal before its end"),
                ),
            ],
        ),
    ]
}

/// The memory test's section in report.md (the HTML has the same blocks): a line per GPU, the
/// failing GPU first; the patterns with passes, bytes, time, errors and result; the errors
/// with address, bits, expected and found, 20 listed and the rest counted.
#[test]
fn the_memory_test_section_lists_patterns_and_errors_failing_gpu_first() {
    let mut r = sample_report();
    r.memtest = memtest_sample();
    let md = Markdown.render(&r);
    let section = &md[md.find("## Memory test").expect("a memory test section")..];
    let section = &section[..section[3..].find("\n## ").unwrap() + 3];
    let lines: Vec<&str> = section.lines().collect();
    let at = |s: &str| {
        lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("no line {s:?} in\n{section}"))
    };
    let gpu1 = at(
        "- **FAIL** GPU 1: 21.0 MB (90.9 % of the free memory) in 1 \
                   allocation(s), 2 pattern(s) run, 25 word(s) read back wrong",
    );
    let gpu0 = at(
        "- **pass** GPU 0: 21.0 MB (90.9 % of the free memory) in 1 \
                   allocation(s), 1 pattern(s) run, no error",
    );
    assert!(gpu1 < gpu0, "{section}");
    at("| GPU | Pattern | Passes | Covered (GB) | Time (s) | Errors | Result |");
    let stress1 = at("| gpu1 | stress | 8 | 0.021 | 1.2 | 25 | **FAIL** |");
    at("| gpu1 | walking_ones | 1 | 0.021 | 1.2 | 0 | did not finish: stopped by a signal before its end |");
    let stress0 = at("| gpu0 | stress | 8 | 0.021 | 1.2 | 0 | pass |");
    assert!(stress1 < stress0, "{section}");
    at("### Memory errors");
    at("| GPU | Pattern | Address | Bits | Expected | Found |");
    at("| gpu1 | stress | 0x7f0000001000 | 5 | 0x000000ff | 0x000000df |");
    let errors = lines
        .iter()
        .filter(|l| l.starts_with("| gpu1 | stress | 0x"))
        .count();
    assert_eq!(errors, super::memtest::MAX_LISTED);
    at(
        "GPU 1: 5 more error(s) not listed (25 in all; run.json's memtest section records the \
        first of each pattern)",
    );
    // The HTML report has the same section.
    let html = super::html::Html.render(&r);
    assert!(html.contains("Memory errors") && html.contains("0x7f0000001000"));
    // A run without a memory test has no such section.
    assert!(!Markdown.render(&sample_report()).contains("## Memory test"));
}
