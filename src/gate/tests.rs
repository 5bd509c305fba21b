//! Table-driven tests of the gate rules.

use super::*;
use crate::model::*;
use crate::workload::{Direction, Precision, StreamOp, VideoStage, WorkloadSpec};

use crate::test_support::m40;

fn sgemm() -> WorkloadSpec {
    WorkloadSpec::Gemm {
        precision: Precision::F32,
        m: 4096,
        n: 4096,
        k: 4096,
        math: crate::workload::GemmMath::CudaCores,
    }
}
fn dgemm() -> WorkloadSpec {
    WorkloadSpec::Gemm {
        precision: Precision::F64,
        m: 2048,
        n: 2048,
        k: 2048,
        math: crate::workload::GemmMath::CudaCores,
    }
}
fn dgemm_tc() -> WorkloadSpec {
    WorkloadSpec::Gemm {
        precision: Precision::F64,
        m: 2048,
        n: 2048,
        k: 2048,
        math: crate::workload::GemmMath::TensorCores,
    }
}
fn triad(precision: Precision) -> WorkloadSpec {
    WorkloadSpec::Stream {
        op: StreamOp::Triad,
        precision,
        n: 1 << 26,
    }
}
fn xfer(direction: Direction) -> WorkloadSpec {
    WorkloadSpec::Transfer {
        direction,
        bytes: 1 << 28,
        pinned: true,
    }
}

use crate::test_support::measurement;

fn passed() -> Verification {
    Verification {
        status: VerifyStatus::Passed,
        method: "test".into(),
        max_error: 0.01,
        tolerance: 1.0,
        checked: 100,
        mismatches: vec![],
    }
}

fn result(device: u32, spec: WorkloadSpec, v: f64) -> WorkloadResult {
    WorkloadResult {
        id: format!("gpu{device}.{}", spec.name()),
        backend: BackendKind::Cuda,
        device: Some(device),
        device_name: "Tesla M40 24GB".into(),
        role: Role::Primary,
        spec,
        implementation: "kernel".into(),
        math_mode: None,
        work: spec.work(),
        measurement: Some(measurement(spec.throughput_unit(), v, 0.005)),
        verification: passed(),
        error: None,
        telemetry: None,
        telemetry_trace: Vec::new(),
    }
}

fn nvenc(sessions: usize) -> WorkloadSpec {
    WorkloadSpec::Encode {
        codec: crate::workload::EncodeCodec::H264,
        width: 1920,
        height: 1080,
        sessions,
        frames: 600,
    }
}

/// Healthy numbers for one M40 (all above the g2 pass lines, clear of the noise).
fn healthy(device: u32) -> Vec<WorkloadResult> {
    vec![
        result(device, sgemm(), 5.0),
        result(device, dgemm(), 0.19),
        result(device, triad(Precision::F64), 230.0),
        result(device, xfer(Direction::HostToDevice), 12.5),
        result(device, xfer(Direction::DeviceToHost), 12.8),
        result(device, nvenc(1), 280.0),
        result(device, nvenc(4), 520.0),
        // Video stages at 1080p: 0.6 of the G2 estimates (pass lines at 0.4).
        result(device, video(VideoStage::Nv12), 15000.0),
        result(device, video(VideoStage::Scale), 16500.0),
        result(device, video(VideoStage::Me), 250.0),
        result(device, video(VideoStage::Dct), 21000.0),
    ]
}

fn video(stage: VideoStage) -> WorkloadSpec {
    WorkloadSpec::Video {
        stage,
        width: 1920,
        height: 1080,
    }
}

fn report(gpus: usize) -> RunReport {
    let mut results = Vec::new();
    for i in 0..gpus as u32 {
        results.extend(healthy(i));
    }
    RunReport {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "gpugate".into(),
            version: "0.1.0".into(),
            git_commit: None,
        },
        started_at: "2025-01-01T00:00:00Z".into(),
        finished_at: None,
        complete: true,
        interrupted: None,
        command_line: vec![],
        seed: 1,
        level: Level::Standard,
        backend_requested: "auto".into(),
        profile: ProfileRef {
            name: "x".into(),
            origin: "builtin".into(),
            description: String::new(),
            machine: None,
            targets: None,
            memtest: None,
            health: None,
            burn: None,
            p2p: None,
        },
        host: HostInfo {
            hostname: "h".into(),
            os: "linux".into(),
            kernel: "6".into(),
            cpu_model: "Xeon".into(),
            logical_cpus: 28 * gpus.max(1) as u32,
            memory_bytes: 61_000_000_000 * gpus.max(1) as u64,
            local_disk_bytes: 1_650_000_000_000 * gpus.max(1) as u64,
        },
        gpus: (0..gpus as u32).map(m40).collect(),
        gpu_unavailable: None,
        peaks: Vec::new(),
        floors: Vec::new(),
        module_loads: vec![],
        module_notes: Vec::new(),
        tuning: Vec::new(),
        results,
        checks: vec![],
        notes: vec![],
        verdict: Verdict::Pass,
        exit_code: 0,
        allow_simulated: false,
        memtest: Vec::new(),
        health: Vec::new(),
        burn: None,
        p2p: None,
    }
}

fn profile(name: &str) -> Profile {
    load_profile(name).unwrap().0
}

fn set(r: &mut RunReport, id: &str, f: impl Fn(&mut WorkloadResult)) {
    let w = r
        .results
        .iter_mut()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("no result {id}"));
    f(w);
}

fn set_speed(r: &mut RunReport, id: &str, v: f64, spread: f64) {
    set(r, id, |w| {
        w.measurement = Some(measurement(w.spec.throughput_unit(), v, spread))
    });
}

type Case = (
    &'static str,
    &'static str,
    usize,
    fn(&mut RunReport, &mut Profile),
    &'static [(&'static str, Verdict)],
    Verdict,
);

const SGEMM0: &str = "gpu0.sgemm.4096x4096x4096";
const SGEMM1: &str = "gpu1.sgemm.4096x4096x4096";
const DGEMM0: &str = "gpu0.dgemm.2048x2048x2048";
const DGEMM1: &str = "gpu1.dgemm.2048x2048x2048";

fn cases() -> Vec<Case> {
    use Verdict::*;
    vec![
        (
            "healthy g2.large passes every check",
            "g2.large",
            1,
            |_, _| {},
            &[
                ("machine.gpu_count", Pass),
                ("gpu0.model", Pass),
                ("gpu0.memory", Pass),
                ("gpu0.pcie_gen", Pass),
                ("gpu0.pcie_width", Pass),
                ("host.vcpus", Pass),
                ("host.memory", Pass),
                ("host.local_disk", Pass),
                ("gpu0.fp32_gemm", Pass),
                ("gpu0.fp64_gemm", Pass),
                ("gpu0.stream_triad", Pass),
                ("gpu0.h2d", Pass),
                ("gpu0.d2h", Pass),
                ("gpu0.nvenc_engines", Pass),
                ("gpu0.nvenc_h264", Pass),
                ("gpu0.video_nv12", Pass),
                ("gpu0.video_scale", Pass),
                ("gpu0.video_me", Pass),
                ("gpu0.video_dct", Pass),
            ],
            Pass,
        ),
        (
            "slow FP32 fails",
            "g2.large",
            1,
            |r, _| set_speed(r, SGEMM0, 3.0, 0.005),
            &[("gpu0.fp32_gemm", Fail), ("gpu0.fp64_gemm", Pass)],
            Fail,
        ),
        (
            "noise straddling the pass line is inconclusive",
            "g2.large",
            1,
            |r, _| set_speed(r, SGEMM0, 4.2, 0.05),
            &[("gpu0.fp32_gemm", Inconclusive)],
            Inconclusive,
        ),
        (
            "median below the line but fast samples above it: inconclusive, not fail",
            "g2.large",
            1,
            |r, _| set_speed(r, SGEMM0, 4.1, 0.08),
            &[("gpu0.fp32_gemm", Inconclusive)],
            Inconclusive,
        ),
        (
            "a metric without target is skipped (reported only)",
            "g2.large",
            1,
            |_, p| p.targets.retain(|t| t.metric != Metric::Fp64Gemm),
            &[("gpu0.fp64_gemm", Skipped), ("gpu0.fp32_gemm", Pass)],
            Pass,
        ),
        (
            "GPU unavailable fails with the reason",
            "g2.large",
            0,
            |r, _| {
                r.gpu_unavailable = Some("libcuda.so not found (no NVIDIA driver)".into());
                r.host.logical_cpus = 28;
            },
            &[("machine.gpu_count", Fail), ("host.vcpus", Pass)],
            Fail,
        ),
        (
            "GPU unavailable also fails machine targets",
            "g2.2xlarge",
            0,
            |r, _| r.gpu_unavailable = Some("no CUDA device".into()),
            &[
                ("machine.gpu_count", Fail),
                ("machine.fp32_gemm", Fail),
                ("machine.fp64_gemm", Fail),
            ],
            Fail,
        ),
        (
            "wrong GPU model fails",
            "g2.large",
            1,
            |r, _| r.gpus[0].name = "Tesla P40".into(),
            &[("gpu0.model", Fail), ("gpu0.fp32_gemm", Pass)],
            Fail,
        ),
        (
            "a 12 GB M40 fails the memory and model checks",
            "g2.large",
            1,
            |r, _| {
                r.gpus[0].name = "Tesla M40".into();
                r.gpus[0].total_memory_bytes = 12_000_000_000;
            },
            &[("gpu0.model", Fail), ("gpu0.memory", Fail)],
            Fail,
        ),
        (
            "too few GPUs fails count and machine aggregate",
            "g2.2xlarge",
            1,
            |r, _| {
                r.host.logical_cpus = 56;
                r.host.memory_bytes = 122_000_000_000;
                r.host.local_disk_bytes = 3_300_000_000_000;
            },
            &[
                ("machine.gpu_count", Fail),
                ("gpu0.fp32_gemm", Pass),
                ("machine.fp32_gemm", Fail),
            ],
            Fail,
        ),
        (
            "more GPUs than the profile fails the count",
            "g2.large",
            2,
            |_, _| {},
            &[("machine.gpu_count", Fail), ("gpu1.fp32_gemm", Pass)],
            Fail,
        ),
        (
            "correctness failure beats speed",
            "g2.large",
            1,
            |r, _| {
                set_speed(r, SGEMM0, 6.5, 0.001);
                set(r, SGEMM0, |w| {
                    w.verification.status = VerifyStatus::Failed;
                    w.verification.mismatches = vec![Mismatch {
                        at: "C[12,7]".into(),
                        expected: 1.5,
                        got: 2.5,
                    }];
                });
            },
            &[
                ("gpu0.sgemm.4096x4096x4096.verify", Fail),
                ("gpu0.fp32_gemm", Fail),
            ],
            Fail,
        ),
        (
            "an unverified result does not count",
            "g2.large",
            1,
            |r, _| {
                set(r, SGEMM0, |w| {
                    w.verification = Verification::not_checked("none")
                })
            },
            &[("gpu0.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "a workload that could not run fails its target",
            "g2.large",
            1,
            |r, _| {
                set(r, SGEMM0, |w| {
                    w.measurement = None;
                    w.verification = Verification::not_checked("not run");
                    w.error = Some("CUDA_ERROR_OUT_OF_MEMORY".into());
                })
            },
            &[("gpu0.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "a GPU that produced no result for a target fails",
            "g2.large",
            1,
            |r, _| r.results.retain(|w| w.id != SGEMM0),
            &[("gpu0.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "host results never count as GPU results",
            "g2.large",
            1,
            |r, _| {
                r.results.retain(|w| w.id != SGEMM0);
                let mut h = result(0, sgemm(), 50.0);
                h.id = "host.sgemm.4096x4096x4096".into();
                h.backend = BackendKind::Host;
                h.device = None;
                r.results.push(h.clone());
                // Even a host result wrongly tagged with a device does not count.
                h.id = "host.sgemm.tagged".into();
                h.device = Some(0);
                h.verification.status = VerifyStatus::Failed;
                r.results.push(h);
            },
            &[("gpu0.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "peer (cuBLAS) results are not gated",
            "g2.large",
            1,
            |r, _| {
                set_speed(r, SGEMM0, 3.0, 0.001);
                let mut peer = result(0, sgemm(), 6.0);
                peer.id = "gpu0.cublas.sgemm.4096x4096x4096".into();
                peer.role = Role::Peer;
                r.results.push(peer);
            },
            &[("gpu0.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "the best of several sizes counts",
            "g2.large",
            1,
            |r, _| {
                set_speed(r, SGEMM0, 3.0, 0.001);
                let spec = WorkloadSpec::Gemm {
                    precision: Precision::F32,
                    m: 8192,
                    n: 8192,
                    k: 8192,
                    math: crate::workload::GemmMath::CudaCores,
                };
                r.results.push(result(0, spec, 5.2));
            },
            &[("gpu0.fp32_gemm", Pass)],
            Pass,
        ),
        (
            "stream triad uses f64 when present",
            "g2.large",
            1,
            |r, _| {
                set_speed(r, "gpu0.stream.triad.f64", 150.0, 0.001);
                r.results.push(result(0, triad(Precision::F32), 240.0));
            },
            &[("gpu0.stream_triad", Fail)],
            Fail,
        ),
        (
            "stream triad falls back to f32",
            "g2.large",
            1,
            |r, _| {
                r.results.retain(|w| w.id != "gpu0.stream.triad.f64");
                r.results.push(result(0, triad(Precision::F32), 240.0));
            },
            &[("gpu0.stream_triad", Pass)],
            Pass,
        ),
        (
            "machine aggregate for 2 GPUs passes",
            "g2.2xlarge",
            2,
            |_, _| {},
            &[
                ("machine.gpu_count", Pass),
                ("gpu0.fp32_gemm", Pass),
                ("gpu1.fp32_gemm", Pass),
                ("machine.fp32_gemm", Pass),
                ("machine.fp64_gemm", Pass),
            ],
            Pass,
        ),
        (
            "one slow GPU fails on its own even when the sum passes",
            "g2.2xlarge",
            2,
            |r, _| {
                set_speed(r, SGEMM0, 5.6, 0.001);
                set_speed(r, SGEMM1, 4.0, 0.001);
            },
            &[
                ("gpu0.fp32_gemm", Pass),
                ("gpu1.fp32_gemm", Fail),
                ("machine.fp32_gemm", Pass),
            ],
            Fail,
        ),
        (
            "a broken GPU fails the machine aggregate",
            "g2.2xlarge",
            2,
            |r, _| r.results.retain(|w| w.id != SGEMM1),
            &[("gpu1.fp32_gemm", Fail), ("machine.fp32_gemm", Fail)],
            Fail,
        ),
        (
            "an idle-downshifted PCIe link passes when transfers are fast",
            "g2.large",
            1,
            |r, _| r.gpus[0].pcie_link_gen = Some(1),
            &[("gpu0.pcie_gen", Pass)],
            Pass,
        ),
        (
            "a degraded PCIe link fails",
            "g2.large",
            1,
            |r, _| {
                r.gpus[0].pcie_link_width = Some(8);
                set_speed(r, "gpu0.transfer.h2d.pinned", 6.1, 0.001);
            },
            &[("gpu0.pcie_width", Fail), ("gpu0.h2d", Fail)],
            Fail,
        ),
        (
            "host memory passes at 95 % of nominal and fails below",
            "g2.large",
            1,
            |r, _| r.host.memory_bytes = 57_500_000_000,
            &[("host.memory", Pass)],
            Pass,
        ),
        (
            "host memory well below nominal fails",
            "g2.large",
            1,
            |r, _| r.host.memory_bytes = 50_000_000_000,
            &[("host.memory", Fail)],
            Fail,
        ),
        (
            "a fast tensor-core DGEMM never passes the FP64 target: the slow CUDA-core one fails it",
            "g2.large",
            1,
            |r, _| {
                // 0.5 TFLOPS on DMMA is well above the 0.2 spec; 0.05 on the CUDA cores is not.
                r.results.push(result(0, dgemm_tc(), 0.5));
                set_speed(r, DGEMM0, 0.05, 0.005);
            },
            &[("gpu0.fp64_gemm", Fail), ("gpu0.fp32_gemm", Pass)],
            Fail,
        ),
        (
            "a tensor-core DGEMM alone leaves the FP64 target without a result",
            "g2.large",
            1,
            |r, _| {
                r.results.retain(|w| w.id != DGEMM0);
                r.results.push(result(0, dgemm_tc(), 0.5));
            },
            &[("gpu0.fp64_gemm", Fail)],
            Fail,
        ),
        (
            "a slow tensor-core DGEMM beside a healthy CUDA-core one is not gated",
            "g2.large",
            1,
            |r, _| r.results.push(result(0, dgemm_tc(), 0.01)),
            &[("gpu0.fp64_gemm", Pass)],
            Pass,
        ),
        (
            "a wrong tensor-core DGEMM fails its correctness check, not the FP64 target",
            "g2.large",
            1,
            |r, _| {
                let mut w = result(0, dgemm_tc(), 0.5);
                w.verification.status = VerifyStatus::Failed;
                r.results.push(w);
            },
            &[
                ("gpu0.dgemm.tc.2048x2048x2048.verify", Fail),
                ("gpu0.fp64_gemm", Pass),
            ],
            Fail,
        ),
        (
            "machine FP64 sums CUDA-core DGEMMs only",
            "g2.2xlarge",
            2,
            |r, _| {
                for (d, id) in [(0, DGEMM0), (1, DGEMM1)] {
                    r.results.push(result(d, dgemm_tc(), 0.5));
                    set_speed(r, id, 0.05, 0.005);
                }
            },
            &[
                ("gpu0.fp64_gemm", Fail),
                ("gpu1.fp64_gemm", Fail),
                ("machine.fp64_gemm", Fail),
            ],
            Fail,
        ),
        (
            "a tensor-core DGEMM that cannot run fails its own run check, not the FP64 target",
            "g2.large",
            1,
            |r, _| {
                let mut w = result(0, dgemm_tc(), 0.5);
                w.measurement = None;
                w.error = Some("launch failed: CUDA_ERROR_LAUNCH_FAILED".into());
                r.results.push(w);
            },
            &[
                ("gpu0.dgemm.tc.2048x2048x2048.run", Fail),
                ("gpu0.fp64_gemm", Pass),
            ],
            Fail,
        ),
        (
            "a cuBLAS peer that cannot run is not a failure (peers are optional)",
            "g2.large",
            1,
            |r, _| {
                let mut w = result(0, dgemm_tc(), 0.5);
                w.id = "gpu0.peer.dgemm.2048x2048x2048".into();
                w.role = crate::model::Role::Peer;
                w.measurement = None;
                w.error = Some("CUBLAS_STATUS_NOT_SUPPORTED".into());
                r.results.push(w);
            },
            &[("gpu0.fp64_gemm", Pass)],
            Pass,
        ),
        (
            "too few vCPUs fails",
            "g2.large",
            1,
            |r, _| r.host.logical_cpus = 16,
            &[("host.vcpus", Fail)],
            Fail,
        ),
        (
            "a simulated GPU fails every GPU check, healthy numbers or not; host checks stand",
            "g2.large",
            1,
            |r, _| simulate(r, &[0]),
            &[
                ("machine.gpu_count", Fail),
                ("gpu0.model", Fail),
                ("gpu0.memory", Fail),
                ("gpu0.pcie_gen", Fail),
                ("gpu0.fp32_gemm", Fail),
                ("gpu0.fp64_gemm", Fail),
                ("gpu0.stream_triad", Fail),
                ("gpu0.h2d", Fail),
                ("gpu0.d2h", Fail),
                ("host.vcpus", Pass),
                ("host.memory", Pass),
            ],
            Fail,
        ),
        (
            "one simulated GPU of two: its checks and the machine's fail, the real one's stand",
            "g2.2xlarge",
            2,
            |r, _| simulate(r, &[1]),
            &[
                ("gpu0.fp32_gemm", Pass),
                ("gpu0.model", Pass),
                ("gpu1.fp32_gemm", Fail),
                ("gpu1.model", Fail),
                ("machine.fp32_gemm", Fail),
                ("machine.gpu_count", Fail),
            ],
            Fail,
        ),
        (
            "a GPU whose driver declared itself gpugate-sim is simulated, whatever its name \
             and stored flag say",
            "g2.large",
            1,
            |r, _| {
                r.gpus[0].driver_identity = Some("gpugate-sim 0.1.0: a simulated driver".into());
                r.gpus[0].simulated = false;
            },
            &[("gpu0.fp32_gemm", Fail), ("gpu0.model", Fail)],
            Fail,
        ),
        (
            "a GPU named after the simulator anywhere is simulated, whatever its stored flag says",
            "g2.large",
            1,
            |r, _| {
                r.gpus[0].name = "Tesla M40 24GB gpugate-sim edition".into();
                r.gpus[0].simulated = false;
            },
            &[("gpu0.fp32_gemm", Fail), ("gpu0.model", Fail)],
            Fail,
        ),
        (
            "with --allow-simulated a healthy simulated GPU passes",
            "g2.large",
            1,
            |r, _| {
                simulate(r, &[0]);
                r.allow_simulated = true;
            },
            &[
                ("machine.gpu_count", Pass),
                ("gpu0.model", Pass),
                ("gpu0.fp32_gemm", Pass),
                ("gpu0.d2h", Pass),
            ],
            Pass,
        ),
        (
            "with --allow-simulated a slow simulated GPU still fails",
            "g2.large",
            1,
            |r, _| {
                simulate(r, &[0]);
                r.allow_simulated = true;
                set_speed(r, SGEMM0, 2.5, 0.0);
            },
            &[("gpu0.fp32_gemm", Fail), ("gpu0.fp64_gemm", Pass)],
            Fail,
        ),
    ]
}

/// Marks GPUs as gpugate-sim devices, named as the simulator names them.
fn simulate(r: &mut RunReport, gpus: &[u32]) {
    for g in r.gpus.iter_mut().filter(|g| gpus.contains(&g.index)) {
        g.name = format!("{} {}", g.name, SIMULATED_MARK);
        g.simulated = true;
    }
}

#[test]
fn gate_rules() {
    let mut failures = Vec::new();
    for (name, prof, gpus, tweak, want, overall) in cases() {
        let mut p = profile(prof);
        let mut r = report(gpus);
        tweak(&mut r, &mut p);
        let checks = evaluate(&p, &r);
        for (id, verdict) in want {
            match checks.iter().find(|c| c.id == *id) {
                Some(c) if c.verdict == *verdict => {}
                Some(c) => failures.push(format!(
                    "{name}: {id} is {} (want {verdict}): {} / {}",
                    c.verdict, c.reason, c.hint
                )),
                None => failures.push(format!("{name}: no check {id}")),
            }
        }
        let got = RunReport::overall(&checks);
        if got != overall {
            let summary: Vec<String> = checks
                .iter()
                .filter(|c| c.verdict != Verdict::Pass)
                .map(|c| format!("{}={} ({})", c.id, c.verdict, c.reason))
                .collect();
            failures.push(format!(
                "{name}: overall {got} (want {overall}); {}",
                summary.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_simulated_device_check_says_so_and_keeps_what_the_simulator_gave() {
    let p = profile("g2.large");
    let mut r = report(1);
    simulate(&mut r, &[0]);
    let checks = evaluate(&p, &r);
    let c = checks.iter().find(|c| c.id == "gpu0.fp32_gemm").unwrap();
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.reason.starts_with("simulated device"), "{}", c.reason);
    assert!(c.reason.contains("(gpugate-sim)"), "{}", c.reason);
    assert!(c.reason.contains("PASS"), "{}", c.reason);
    assert_eq!(c.observed, Some(5.0));
    assert!(c.hint.contains("--allow-simulated"), "{}", c.hint);
    assert!(crate::model::is_simulated_name(&r.gpus[0].name));
    assert!(!crate::model::is_simulated_name("Tesla M40 24GB"));
}

#[test]
fn reasons_and_hints_say_what_to_do() {
    // GPU unavailable: the reason is carried through.
    let mut r = report(0);
    r.gpu_unavailable = Some("libcuda.so not found".into());
    let c = evaluate(&profile("g2.large"), &r);
    let count = c.iter().find(|c| c.id == "machine.gpu_count").unwrap();
    assert!(
        count.reason.contains("libcuda.so not found"),
        "{}",
        count.reason
    );
    assert!(!count.hint.is_empty());

    // Too few GPUs: the hint names both numbers and what to look for.
    let r = report(1);
    let c = evaluate(&profile("g2.2xlarge"), &r);
    let count = c.iter().find(|c| c.id == "machine.gpu_count").unwrap();
    assert!(
        count.hint.contains("1 GPU, the profile g2.2xlarge wants 2"),
        "{}",
        count.hint
    );
    assert!(count.hint.contains("Xid 79"), "{}", count.hint);

    // Performance: % of spec, required line, evidence.
    let r = report(1);
    let c = evaluate(&profile("g2.large"), &r);
    let fp32 = c.iter().find(|c| c.id == "gpu0.fp32_gemm").unwrap();
    assert_eq!(fp32.unit, "TFLOPS");
    assert!((fp32.required.unwrap() - 4.2).abs() < 1e-9);
    assert!((fp32.percent_of_spec.unwrap() - 5.0 / 7.0 * 100.0).abs() < 1e-9);
    assert_eq!(fp32.evidence, vec![SGEMM0.to_string()]);
    assert!(fp32.source.as_deref().unwrap().contains("datasheet"));

    // Correctness: the first mismatch is in the reason.
    let mut r = report(1);
    set(&mut r, SGEMM0, |w| {
        w.verification.status = VerifyStatus::Failed;
        w.verification.mismatches = vec![Mismatch {
            at: "C[3,4]".into(),
            expected: 1.0,
            got: f64::NAN,
        }];
    });
    let c = evaluate(&profile("g2.large"), &r);
    let v = c.iter().find(|c| c.kind == CheckKind::Correctness).unwrap();
    assert!(
        v.reason.contains("C[3,4] expected 1 got NaN"),
        "{}",
        v.reason
    );

    // Machine aggregate sums the per-GPU medians.
    let r = report(2);
    let c = evaluate(&profile("g2.2xlarge"), &r);
    let m = c.iter().find(|c| c.id == "machine.fp32_gemm").unwrap();
    assert!((m.observed.unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(m.evidence.len(), 2);
}

#[test]
fn auto_profile_gates_a_healthy_m40() {
    let r = report(1);
    let p = auto_profile(&r.gpus);
    let checks = evaluate(&p, &r);
    assert_eq!(RunReport::overall(&checks), Verdict::Pass, "{checks:#?}");
    assert!(!checks.iter().any(|c| c.id.starts_with("host.")));
}

#[test]
fn noise_interval_trims_outliers() {
    let mut m = measurement("TFLOPS", 5.0, 0.01);
    // One very slow outlier among 10 samples is trimmed.
    m.samples[0] = 1.0;
    let (lo, hi) = noise_interval(&m);
    assert!(lo > 4.9 && hi < 5.1, "{lo} {hi}");
    // Without samples: median ± 2 rel_stddev.
    m.samples.clear();
    m.summary.rel_stddev = 0.02;
    let (lo, hi) = noise_interval(&m);
    assert!((lo - 4.8).abs() < 1e-9 && (hi - 5.2).abs() < 1e-9);
}

fn video_me(width: usize, height: usize) -> WorkloadSpec {
    WorkloadSpec::Video {
        stage: crate::workload::VideoStage::Me,
        width,
        height,
    }
}

/// Gate cases for the video fps targets: a video_me target of 1000 fps at 1080p with a 0.4 pass
/// line (400 fps), against results at 1080p and at a quarter-HD frame (1/16 of the pixels).
#[test]
fn video_fps_targets() {
    use Verdict::*;
    type VideoCase = (&'static str, fn(&mut RunReport), Verdict, &'static str);
    let cases: [VideoCase; 7] = [
        (
            "1080p above the line passes",
            |r| r.results.push(result(0, video_me(1920, 1080), 600.0)),
            Pass,
            "reaches the pass line 400.0 fps",
        ),
        (
            "1080p below the line fails",
            |r| r.results.push(result(0, video_me(1920, 1080), 300.0)),
            Fail,
            "is below the pass line",
        ),
        (
            "noise straddling the line is inconclusive",
            |r| {
                r.results.push(result(0, video_me(1920, 1080), 400.0));
                set_speed(r, "gpu0.video.me.1080p", 400.0, 0.05);
            },
            Inconclusive,
            "straddles",
        ),
        (
            "a smaller frame counts in 1080p frames by pixel count, and says so",
            |r| r.results.push(result(0, video_me(480, 270), 8000.0)),
            Pass,
            "counted as 1080p frames by pixel count",
        ),
        (
            "1080p is used when both sizes ran",
            |r| {
                r.results.push(result(0, video_me(1920, 1080), 300.0));
                r.results.push(result(0, video_me(480, 270), 16000.0));
            },
            Fail,
            "300.0 fps",
        ),
        (
            "a wrong frame fails whatever its speed",
            |r| {
                let mut w = result(0, video_me(1920, 1080), 5000.0);
                w.verification.status = VerifyStatus::Failed;
                r.results.push(w);
            },
            Fail,
            "gave wrong results",
        ),
        ("no result fails", |_| {}, Fail, "no video_me result"),
    ];
    let mut failures = Vec::new();
    for (name, tweak, want, reason) in cases {
        let mut p = profile("g2.large");
        p.targets.retain(|t| t.metric.unit() != "fps");
        p.targets.push(Target {
            metric: Metric::VideoMe,
            scope: Scope::Gpu,
            gpu: None,
            spec_tflops: None,
            spec_gbps: None,
            spec_fps: Some(1000.0),
            pass_fraction: 0.4,
            source: "test".into(),
        });
        let mut r = report(1);
        r.results
            .retain(|w| !matches!(w.spec, WorkloadSpec::Video { .. }));
        tweak(&mut r);
        let checks = evaluate(&p, &r);
        let Some(c) = checks.iter().find(|c| c.id == "gpu0.video_me") else {
            failures.push(format!("{name}: no check gpu0.video_me"));
            continue;
        };
        if c.verdict != want || !c.reason.contains(reason) || c.unit != "fps" {
            failures.push(format!(
                "{name}: {} {} (want {want}, reason with {reason:?}): {}",
                c.verdict, c.unit, c.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const NVENC_X1: &str = "gpu0.nvenc.h264.1080p.x1";
const NVENC_X4: &str = "gpu0.nvenc.h264.1080p.x4";

/// NVENC engines (inventory) and hardware encode throughput: present, absent, required,
/// unknown; the concurrent aggregate is gated, a missing encoder fails with its reason.
#[test]
fn nvenc_engines_and_encode_throughput() {
    use Verdict::*;
    type Tweak = fn(&mut RunReport, &mut Profile);
    fn none(r: &mut RunReport, _: &mut Profile) {
        r.gpus[0].name = "NVIDIA H100 80GB HBM3".into();
        r.gpus[0].nvenc = crate::probe::gpu::nvenc_info(
            &r.gpus[0].name,
            Err(&crate::probe::telemetry::TelemetryError::NoDeviceId),
        );
    }
    #[allow(clippy::type_complexity)]
    let cases: &[(&str, Tweak, &[(&str, Option<Verdict>, &str)])] = &[
        (
            "present: 2 engines, 520 fps of 4 sessions",
            |_, _| {},
            &[
                ("gpu0.nvenc_engines", Some(Pass), "2 >= 2"),
                ("gpu0.nvenc_h264", Some(Pass), "520.0 fps"),
            ],
        ),
        (
            "absent where required: fails, saying so",
            none,
            &[(
                "gpu0.nvenc_engines",
                Some(Fail),
                "no NVENC engine on this GPU (catalogue: NVIDIA H100",
            )],
        ),
        (
            "absent and not required: no engine check, no encode check without results",
            |r, p| {
                none(r, p);
                p.machine.nvenc_engines = None;
                p.targets.retain(|t| t.metric != Metric::NvencH264);
                r.results
                    .retain(|w| !matches!(w.spec, WorkloadSpec::Encode { .. }));
            },
            &[
                ("gpu0.nvenc_engines", None, ""),
                ("gpu0.nvenc_h264", None, ""),
            ],
        ),
        (
            "fewer engines than required",
            |r, _| r.gpus[0].nvenc.engines = Some(1),
            &[("gpu0.nvenc_engines", Some(Fail), "1 NVENC engine(s) < 2")],
        ),
        (
            "unknown count where required fails, saying what to add",
            |r, _| {
                r.gpus[0].name = "NVIDIA A10G".into();
                r.gpus[0].nvenc = crate::model::NvencInfo {
                    nvml_encoder: Some(true),
                    ..Default::default()
                };
            },
            &[(
                "gpu0.nvenc_engines",
                Some(Fail),
                "NVENC engine count unknown for this GPU",
            )],
        ),
        (
            "the catalogue's engines, but the driver reports none",
            |r, _| r.gpus[0].nvenc.nvml_encoder = Some(false),
            &[(
                "gpu0.nvenc_engines",
                Some(Fail),
                "the driver reports no encoder",
            )],
        ),
        (
            "one engine's worth: the concurrent aggregate fails, the single session is not counted",
            |r, _| {
                set_speed(r, NVENC_X4, 270.0, 0.005);
                set_speed(r, NVENC_X1, 400.0, 0.005);
            },
            &[("gpu0.nvenc_h264", Some(Fail), "270.0 fps")],
        ),
        (
            "the encoder missing: the throughput check fails naming what to install",
            |r, _| {
                for id in [NVENC_X1, NVENC_X4] {
                    set(r, id, |w| {
                        w.measurement = None;
                        w.verification = Verification::not_checked("not run");
                        w.error = Some(
                            "ffmpeg's h264_nvenc could not load libnvidia-encode.so.1, the NVIDIA \
                             driver's video encode library: install it"
                                .into(),
                        );
                    });
                }
            },
            &[("gpu0.nvenc_h264", Some(Fail), "libnvidia-encode.so.1")],
        ),
        (
            "a bitstream that does not read back fails the check and its own",
            |r, _| {
                set(r, NVENC_X4, |w| {
                    w.verification.status = VerifyStatus::Failed;
                    w.verification.mismatches = vec![Mismatch {
                        at: "session 2: frames read back".into(),
                        expected: 600.0,
                        got: 597.0,
                    }];
                })
            },
            &[
                ("gpu0.nvenc_h264", Some(Fail), "gave wrong results"),
                (
                    "gpu0.nvenc.h264.1080p.x4.verify",
                    Some(Fail),
                    "session 2: frames read back",
                ),
            ],
        ),
        (
            "no target: reported, skipped",
            |_, p| p.targets.retain(|t| t.metric != Metric::NvencH264),
            &[("gpu0.nvenc_h264", Some(Skipped), "has no nvenc_h264 target")],
        ),
    ];
    let mut failures = Vec::new();
    for (name, tweak, want) in cases {
        let mut p = profile("g2.large");
        let mut r = report(1);
        tweak(&mut r, &mut p);
        let checks = evaluate(&p, &r);
        for (id, verdict, reason) in *want {
            let c = checks.iter().find(|c| c.id == *id);
            match (c, verdict) {
                (None, None) => {}
                (Some(c), Some(v)) if c.verdict == *v && c.reason.contains(reason) => {}
                (c, _) => failures.push(format!(
                    "{name}: {id}: want {verdict:?} with {reason:?}, got {:?}",
                    c.map(|c| (c.verdict, &c.reason, &c.hint))
                )),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The ids of a run's checks, sorted.
fn ids(checks: &[Check]) -> Vec<String> {
    let mut v: Vec<String> = checks.iter().map(|c| c.id.clone()).collect();
    v.sort();
    v
}

/// Every target of the profile is a check in every run, whatever the GPUs' state: the JUnit
/// test cases never change from run to run. A GPU that is not there FAILS each of its checks
/// with the reason.
#[test]
fn the_same_checks_every_time_whatever_the_gpus() {
    for (name, want) in [("g2.large", 1usize), ("g2.2xlarge", 2)] {
        let p = profile(name);
        let healthy = report(want);
        let all = ids(&evaluate(&p, &healthy));
        for gpu in 0..want {
            for m in [
                "fp32_gemm",
                "fp64_gemm",
                "stream_triad",
                "h2d",
                "d2h",
                "model",
            ] {
                assert!(all.contains(&format!("gpu{gpu}.{m}")), "{name}: {all:?}");
            }
        }
        assert!(all.contains(&"run.complete".to_string()));
        // No GPU at all.
        let mut none = report(0);
        none.gpu_unavailable = Some("no NVIDIA driver found".into());
        let checks = evaluate(&p, &none);
        assert_eq!(ids(&checks), all, "{name} without a GPU");
        for c in checks.iter().filter(|c| c.device.is_some()) {
            assert_eq!(c.verdict, Verdict::Fail, "{}", c.id);
            assert!(
                c.reason.starts_with("not measured"),
                "{}: {}",
                c.id,
                c.reason
            );
        }
        // One GPU fewer than the profile wants (the second fell off the bus).
        if want == 2 {
            let mut one = report(2);
            one.gpus.truncate(1);
            one.results.retain(|w| w.device != Some(1));
            let checks = evaluate(&p, &one);
            assert_eq!(ids(&checks), all, "{name} with one GPU");
            let c = checks.iter().find(|c| c.id == "gpu1.fp32_gemm").unwrap();
            assert_eq!(c.verdict, Verdict::Fail);
            assert_eq!(
                c.reason,
                "not measured: GPU 1 is not in this run (1 GPU(s) usable: 0)"
            );
            let c = checks.iter().find(|c| c.id == "gpu0.fp32_gemm").unwrap();
            assert_eq!(c.verdict, Verdict::Pass, "the GPU that is there is judged");
        }
        // A GPU with no results at all (the run stopped before it).
        let mut stopped = report(want);
        stopped.results.clear();
        let checks = evaluate(&p, &stopped);
        assert_eq!(ids(&checks), all, "{name} without results");
        let c = checks.iter().find(|c| c.id == "gpu0.fp32_gemm").unwrap();
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
    }
}

/// `run.complete` passes a finished run and fails one that was interrupted or killed, which
/// then never passes, whatever it measured.
#[test]
fn a_run_that_did_not_finish_never_passes() {
    let p = profile("g2.large");
    let done = report(1);
    let c = evaluate(&p, &done);
    let rc = c.iter().find(|c| c.id == "run.complete").unwrap();
    assert_eq!((rc.verdict, rc.kind), (Verdict::Pass, CheckKind::Run));
    assert_eq!(RunReport::overall(&c), Verdict::Pass);

    let mut killed = report(1);
    killed.complete = false;
    let c = evaluate(&p, &killed);
    let rc = c.iter().find(|c| c.id == "run.complete").unwrap();
    assert_eq!(rc.verdict, Verdict::Fail);
    assert!(rc.reason.contains("never completed"), "{}", rc.reason);
    assert_eq!(RunReport::overall(&c), Verdict::Fail);

    let mut stopped = report(1);
    stopped.complete = false;
    stopped.interrupted = Some(Interruption {
        signal: "SIGTERM".into(),
        at: "2026-11-30T12:00:00Z".into(),
        finished_workloads: 3,
        planned_workloads: 25,
    });
    let c = evaluate(&p, &stopped);
    let rc = c.iter().find(|c| c.id == "run.complete").unwrap();
    assert_eq!(rc.verdict, Verdict::Fail);
    assert!(
        rc.reason
            .starts_with("interrupted by SIGTERM at 2026-11-30T12:00:00Z after 3 of 25 workloads"),
        "{}",
        rc.reason
    );
    assert_eq!(RunReport::overall(&c), Verdict::Fail);
}

/// `gpugate report` never trusts a stored verdict or exit code: they are recomputed from the
/// results and the recorded profile, and a stored one that disagrees becomes a note.
#[test]
fn a_saved_run_is_decided_again_from_its_results_and_recorded_profile() {
    let p = profile("g2.large");
    let mut r = report(1);
    r.profile = ProfileRef::of(&p, "builtin".into());
    let honest = decide(&p, &r);
    assert_eq!(honest.verdict, Verdict::Pass);
    // Stored: exit 77 with verdict pass; and FAIL with exit 256 (which a u8 cast makes 0).
    for (verdict, code) in [
        (Verdict::Pass, 77),
        (Verdict::Fail, 256),
        (Verdict::Pass, 0),
    ] {
        r.verdict = verdict;
        r.exit_code = code;
        r.checks = honest.checks.clone();
        let d = redecide(&r);
        assert_eq!((d.verdict, d.exit_code), (Verdict::Pass, 0));
        let disagree = verdict != Verdict::Pass || code != 0;
        assert_eq!(
            d.notes.iter().any(|n| n.contains(&format!(
                "records verdict {verdict} and exit code {code}, but its results and profile \
                 give PASS (exit 0)"
            ))),
            disagree,
            "{:?}",
            d.notes
        );
    }
    // A failing result fails, whatever the stored checks say.
    set_speed(&mut r, "gpu0.sgemm.4096x4096x4096", 1.0, 0.001);
    r.verdict = Verdict::Pass;
    r.exit_code = 0;
    let d = redecide(&r);
    assert_eq!((d.verdict, d.exit_code), (Verdict::Fail, 1));
    // The recorded targets decide, not this gpugate's built-in profile of that name.
    let mut lenient = p.clone();
    for t in &mut lenient.targets {
        t.pass_fraction = 0.01;
    }
    r.profile = ProfileRef::of(&lenient, "builtin".into());
    assert_eq!(redecide(&r).verdict, Verdict::Pass);
    // Schema 1 recorded no targets: a built-in profile is found again by name (and said so),
    // a profile file is not: its stored checks are kept, but the verdict and exit code are
    // still recomputed from them.
    r.profile.machine = None;
    r.profile.targets = None;
    let d = redecide(&r);
    assert_eq!(d.verdict, Verdict::Fail);
    assert!(
        d.notes[0].contains("as this gpugate has it"),
        "{:?}",
        d.notes
    );
    r.profile.origin = "/etc/gpugate/mine.toml".into();
    r.checks = honest.checks.clone();
    r.checks[0].verdict = Verdict::Inconclusive;
    r.verdict = Verdict::Pass;
    r.exit_code = 0;
    let d = redecide(&r);
    assert_eq!((d.verdict, d.exit_code), (Verdict::Inconclusive, 3));
    assert!(d.notes[0].contains("checks as stored"), "{:?}", d.notes);
    assert!(
        d.notes[0].contains("/etc/gpugate/mine.toml"),
        "{:?}",
        d.notes
    );
    // Why, typed: the file's targets are not recorded; a built-in name no longer built in is
    // the profile loader's own error.
    assert!(matches!(
        crate::gate::profile_of(&r),
        Err(crate::gate::ProfileOfRunError::NotRecorded { ref path, .. }) if path == "/etc/gpugate/mine.toml"
    ));
    r.profile.origin = "builtin".into();
    r.profile.name = "g9.gone".into();
    assert!(matches!(
        crate::gate::profile_of(&r),
        Err(crate::gate::ProfileOfRunError::Builtin(_))
    ));
}

// ---------------------------------------------------------------- fail closed (issue 17, item 3)

/// A check starts undecided, and only a rule decides it: one no rule decided FAILS naming the
/// rule; PASS (like every verdict) needs a rule to give it; a performance check passed on a
/// value that is not a finite number above zero fails whatever rule passed it.
#[test]
fn a_check_no_rule_decides_fails_naming_the_rule() {
    use evaluate::{check, Draft};
    type Case = (
        &'static str,
        CheckKind,
        fn(&mut Draft),
        Verdict,
        &'static [&'static str],
    );
    let cases: &[Case] = &[
        (
            "nothing decided",
            CheckKind::Inventory,
            |_| {},
            Verdict::Fail,
            &[evaluate::UNDECIDED, "`the_rule`", "no rule decided"],
        ),
        (
            "a reason but no verdict",
            CheckKind::Performance,
            |c| {
                c.observed = Some(5.0);
                c.reason = "5 TFLOPS reaches the line".into();
            },
            Verdict::Fail,
            &[
                evaluate::UNDECIDED,
                "`the_rule`",
                "5 TFLOPS reaches the line",
            ],
        ),
        (
            "an explicit pass",
            CheckKind::Performance,
            |c| {
                c.observed = Some(5.0);
                c.verdict = Some(Verdict::Pass);
                c.reason = "5 TFLOPS reaches the line".into();
            },
            Verdict::Pass,
            &["5 TFLOPS reaches the line"],
        ),
        (
            "an explicit pass of an inventory check without a value",
            CheckKind::Inventory,
            |c| {
                c.verdict = Some(Verdict::Pass);
                c.reason = "matches".into();
            },
            Verdict::Pass,
            &["matches"],
        ),
        (
            "a performance pass on an infinite value",
            CheckKind::Performance,
            |c| {
                c.observed = Some(f64::INFINITY);
                c.verdict = Some(Verdict::Pass);
            },
            Verdict::Fail,
            &["inf TFLOPS: not a valid measurement", "`the_rule`"],
        ),
        (
            "a performance pass without a value",
            CheckKind::Performance,
            |c| c.verdict = Some(Verdict::Pass),
            Verdict::Fail,
            &["no value: not a valid measurement"],
        ),
        (
            "an explicit skip",
            CheckKind::Performance,
            |c| c.verdict = Some(Verdict::Skipped),
            Verdict::Skipped,
            &[],
        ),
        (
            "an explicit inconclusive",
            CheckKind::Inventory,
            |c| c.verdict = Some(Verdict::Inconclusive),
            Verdict::Inconclusive,
            &[],
        ),
    ];
    let mut failures = Vec::new();
    for (name, kind, decide, want, says) in cases {
        let mut d = check("the_rule", "gpu0.x".into(), *kind, Some(0), "X", "TFLOPS");
        assert_eq!(d.verdict, None, "a check starts undecided");
        decide(&mut d);
        let c = d.finish();
        if c.verdict != *want || !says.iter().all(|s| c.reason.contains(s)) {
            failures.push(format!(
                "{name}: {} {:?} / {:?}",
                c.verdict, c.reason, c.hint
            ));
        }
        if c.verdict == Verdict::Fail && c.hint.is_empty() {
            failures.push(format!("{name}: a failure without a hint"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every rule decides every check it makes: over every scenario of the rule table, no check is
/// left undecided.
#[test]
fn every_rule_decides_every_check_it_makes() {
    for (name, prof, gpus, tweak, _, _) in cases() {
        let mut p = profile(prof);
        let mut r = report(gpus);
        tweak(&mut r, &mut p);
        r.floors = (0..gpus as u32).map(|d| floor(d, 4e-6, 8e-6)).collect();
        for c in evaluate(&p, &r) {
            assert!(
                !c.reason.starts_with(evaluate::UNDECIDED),
                "{name}: {}: {}",
                c.id,
                c.reason
            );
        }
    }
}

/// A measurement of `spec` whose 10 samples take `t` seconds per iteration each (`t` may be
/// zero, negative or NaN), with the throughput the sampler computed from them before it
/// refused such times: `spec.throughput(t)`.
fn measured_at(spec: WorkloadSpec, t: f64) -> Measurement {
    let mut m = measurement(spec.throughput_unit(), spec.throughput(t), 0.0);
    m.samples = vec![t; 10];
    m.summary = crate::measure::stats::summarize(&m.samples);
    m
}

/// A throughput that is infinite, NaN, zero or negative (from a time of zero, NaN, infinity or
/// below zero) FAILS its target with the reason, and never passes a machine total either.
#[test]
fn non_finite_zero_or_negative_throughputs_fail() {
    type Case = (&'static str, f64, Option<f64>, &'static str);
    // (what, seconds per iteration, throughput in place of spec.throughput(t), reason)
    let cases: &[Case] = &[
        (
            "0 ms: infinite TFLOPS",
            0.0,
            None,
            "10 of 10 samples took 0 s of device time",
        ),
        ("a negative time", -1e-3, None, "a negative device time"),
        ("a NaN time", f64::NAN, None, "not a finite number"),
        (
            "an infinite time: 0 TFLOPS",
            f64::INFINITY,
            None,
            "not a finite number",
        ),
        (
            "an infinite throughput",
            2e-3,
            Some(f64::INFINITY),
            "its throughput is inf",
        ),
        (
            "a NaN throughput",
            2e-3,
            Some(f64::NAN),
            "its throughput is NaN",
        ),
        ("a zero throughput", 2e-3, Some(0.0), "its throughput is 0"),
        (
            "a negative throughput",
            2e-3,
            Some(-5.0),
            "its throughput is -5",
        ),
    ];
    let mut failures = Vec::new();
    for (what, t, throughput, says) in cases {
        for (prof, gpus) in [("g2.large", 1), ("g2.2xlarge", 2)] {
            let mut r = report(gpus);
            for id in [SGEMM0, SGEMM1].iter().take(gpus) {
                set(&mut r, id, |w| {
                    let mut m = measured_at(w.spec, *t);
                    if let Some(v) = throughput {
                        m.throughput.median = *v;
                    }
                    w.measurement = Some(m);
                });
            }
            let checks = evaluate(&profile(prof), &r);
            let ids = ["gpu0.fp32_gemm", "machine.fp32_gemm"];
            for c in checks.iter().filter(|c| ids.contains(&c.id.as_str())) {
                let ok = c.verdict == Verdict::Fail
                    && c.reason.contains("not a valid measurement")
                    && c.reason.contains(says)
                    && (c.id.starts_with("machine.") || c.hint.contains("impossible time"));
                if !ok {
                    failures.push(format!(
                        "{what} ({prof}): {} {} ({}) / {}",
                        c.id, c.verdict, c.reason, c.hint
                    ));
                }
                if c.observed.is_some_and(|v| !v.is_finite()) {
                    failures.push(format!("{what}: {} observed {:?}", c.id, c.observed));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `decide` itself fails a value or interval that is not a finite number above zero (a machine
/// total of a GPU without a valid value never gets there: it fails as a problem first).
#[test]
fn the_pass_line_is_never_compared_with_a_value_that_is_not_a_number() {
    let p = profile("g2.large");
    let t = p
        .targets
        .iter()
        .find(|t| t.metric == Metric::Fp32Gemm)
        .unwrap();
    for (v, lo, hi) in [
        (f64::INFINITY, f64::INFINITY, f64::INFINITY),
        (5.0, f64::NAN, 5.1),
        (5.0, 4.9, f64::INFINITY),
        (0.0, 0.0, 0.0),
        (-1.0, -2.0, 5.0),
    ] {
        let mut c = evaluate::check(
            "t",
            "gpu0.fp32_gemm".into(),
            CheckKind::Performance,
            Some(0),
            "",
            "TFLOPS",
        );
        evaluate::decide(&mut c, t, v, lo, hi);
        let c = c.finish();
        assert_eq!(c.verdict, Verdict::Fail, "{v} {lo} {hi}: {}", c.reason);
        assert!(
            c.reason.starts_with("not a valid measurement"),
            "{}",
            c.reason
        );
        assert_eq!(c.observed, None);
    }
}

// ---------------------------------------------------------------- too small (issue 17, item 8b)

fn floor(device: u32, launch_s: f64, copy_s: f64) -> GpuFloor {
    GpuFloor {
        device,
        launch_s: Some(launch_s),
        copy_s: Some(copy_s),
        note: None,
    }
}

/// Replaces result `id`'s workload with `spec` measured at `tput` (its unit), steady.
fn resize(r: &mut RunReport, id: &str, spec: WorkloadSpec, tput: f64) {
    set(r, id, |w| {
        w.spec = spec;
        w.work = spec.work();
        w.measurement = Some(measured_at(spec, spec.throughput(1.0) / tput));
    });
}

fn square(precision: Precision, n: usize) -> WorkloadSpec {
    WorkloadSpec::Gemm {
        precision,
        m: n,
        n,
        k: n,
        math: crate::workload::GemmMath::CudaCores,
    }
}

/// A failure of a size whose time at the pass line is within TOO_SMALL_FACTOR of the GPU's
/// recorded launch (or copy) floor says the size is too small to measure the GPU, with the
/// level's sizes, instead of blaming its clocks; a failure of a big enough size, a pass, and a
/// run that recorded no floor say nothing of size.
#[test]
fn a_size_too_small_to_measure_the_gpu_says_so_instead_of_blaming_it() {
    const TRIAD0: &str = "gpu0.stream.triad.f64";
    const H2D0: &str = "gpu0.transfer.h2d.pinned";
    type Case = (
        &'static str,
        &'static str,
        fn(&mut RunReport),
        &'static str,
        Verdict,
        Option<&'static [&'static str]>,
    );
    // The M40 fixture: launch floor 4 µs, copy floor 8 µs; g2.large's lines: FP32 4.2 TFLOPS,
    // FP64 0.15, triad 201.6 GB/s, h2d 10.24 GB/s.
    let cases: &[Case] = &[
        (
            // 2·256³ = 33.6 MFLOP: 7.99 µs at 4.2 TFLOPS, under 10 × 4 µs.
            "SGEMM 256³ at 2 TFLOPS",
            "g2.large",
            |r| resize(r, SGEMM0, square(Precision::F32, 256), 2.0),
            "gpu0.fp32_gemm",
            Verdict::Fail,
            Some(&[
                "too small to measure this GPU",
                "would take 7.99 µs",
                "10 × the 4.00 µs a launch costs",
                "it took 16.78 µs",
                "run the quick level's sizes, FP32 GEMM 4096 (leave out --gemm-sizes)",
            ]),
        ),
        (
            // 2·512³ = 268 MFLOP: 1.79 ms at 0.15 TFLOPS.
            "DGEMM 512³ at 0.1 TFLOPS: big enough, so the GPU is blamed",
            "g2.large",
            |r| resize(r, DGEMM0, square(Precision::F64, 512), 0.1),
            "gpu0.fp64_gemm",
            Verdict::Fail,
            None,
        ),
        (
            "SGEMM 256³ at 5 TFLOPS passes: nothing to excuse",
            "g2.large",
            |r| resize(r, SGEMM0, square(Precision::F32, 256), 5.0),
            "gpu0.fp32_gemm",
            Verdict::Pass,
            None,
        ),
        (
            "SGEMM 256³ at 2 TFLOPS in a run.json without floors: as before",
            "g2.large",
            |r| {
                resize(r, SGEMM0, square(Precision::F32, 256), 2.0);
                r.floors.clear();
            },
            "gpu0.fp32_gemm",
            Verdict::Fail,
            None,
        ),
        (
            // 3 arrays × 64 Ki doubles = 1.57 MB: 7.80 µs at 201.6 GB/s, under 40 µs.
            "triad over 512 KiB arrays at 150 GB/s",
            "g2.large",
            |r| {
                let spec = WorkloadSpec::Stream {
                    op: StreamOp::Triad,
                    precision: Precision::F64,
                    n: 1 << 16,
                };
                resize(r, TRIAD0, spec, 150.0);
            },
            "gpu0.stream_triad",
            Verdict::Fail,
            Some(&[
                "too small to measure this GPU",
                "one stream.triad.f64 would take 7.80 µs",
                "a launch costs",
                "stream arrays of 64 MiB, or 4 × the L2 cache",
            ]),
        ),
        (
            // 64 KiB: 6.40 µs at 10.24 GB/s, under 10 × the 8 µs copy floor.
            "h2d of 64 KiB at 6 GB/s",
            "g2.large",
            |r| {
                let spec = WorkloadSpec::Transfer {
                    direction: Direction::HostToDevice,
                    bytes: 1 << 16,
                    pinned: true,
                };
                resize(r, H2D0, spec, 6.0);
            },
            "gpu0.h2d",
            Verdict::Fail,
            Some(&[
                "too small to measure this GPU",
                "would take 6.40 µs",
                "the 8.00 µs a copy costs",
                "transfers of 64 MiB (leave out --stream-mib)",
            ]),
        ),
        (
            // 128×72 frames, 64 per launch: at the 1080p line of 10101.2 fps, each frame is
            // 9216 / 2073600 of one, so a launch takes 64 × 0.004444 / 10101.2 = 28.16 µs.
            "colour conversion of 128x72 frames at 1 M fps (4444 1080p fps)",
            "g2.large",
            |r| {
                let spec = WorkloadSpec::Video {
                    stage: VideoStage::Nv12,
                    width: 128,
                    height: 72,
                };
                resize(r, "gpu0.video.nv12.1080p", spec, 1e6);
            },
            "gpu0.video_nv12",
            Verdict::Fail,
            Some(&[
                "at the pass line one launch of 64 video.nv12.128x72 frames would take 28.16 µs \
                 (it took 64.00 µs)",
                "frames of 1920x1080 (leave out --video-sizes)",
            ]),
        ),
        (
            // The machine line (8.4 TFLOPS) shared by two GPUs: 7.99 µs each.
            "two GPUs at SGEMM 256³: the machine total says so too",
            "g2.2xlarge",
            |r| {
                resize(r, SGEMM0, square(Precision::F32, 256), 2.0);
                resize(r, SGEMM1, square(Precision::F32, 256), 2.0);
            },
            "machine.fp32_gemm",
            Verdict::Fail,
            Some(&["gpu0: too small to measure this GPU", "FP32 GEMM 4096"]),
        ),
    ];
    let mut failures = Vec::new();
    for (name, prof, tweak, id, want, says) in cases {
        let gpus = if *prof == "g2.2xlarge" { 2 } else { 1 };
        let mut r = report(gpus);
        r.level = Level::Quick;
        r.floors = (0..gpus as u32).map(|d| floor(d, 4e-6, 8e-6)).collect();
        tweak(&mut r);
        let checks = evaluate(&profile(prof), &r);
        let Some(c) = checks.iter().find(|c| c.id == *id) else {
            failures.push(format!("{name}: no check {id}"));
            continue;
        };
        let small = c.reason.contains("too small") || c.hint.contains("too small");
        let ok = c.verdict == *want
            && match says {
                Some(says) => {
                    says.iter()
                        .all(|s| c.reason.contains(s) || c.hint.contains(s))
                        && c.hint
                            .starts_with("the size is too small to measure this GPU")
                        && !c.hint.contains("throttle reasons")
                }
                None => !small,
            };
        if !ok {
            failures.push(format!("{name}: {} {} / {}", c.verdict, c.reason, c.hint));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// A check records how it was decided: the result(s) whose value it judged
/// (`decided_from`) and the noise interval it compared with its pass line
/// (`noise_interval`), which is what the gate computed from those results (one per GPU summed
/// for a machine check, video in 1080p frames), and which explains the verdict and appears in
/// the reason. A check whose value was not judged records neither.
#[test]
fn a_check_records_the_interval_and_results_it_was_decided_from() {
    type RecordCase = (
        &'static str,
        usize,
        &'static str,
        fn(&mut RunReport),
        &'static str,
        &'static [&'static str],
    );
    let cases: [RecordCase; 10] = [
        (
            "one result",
            1,
            "g2.large",
            |_| {},
            "gpu0.fp32_gemm",
            &[SGEMM0],
        ),
        (
            "the fastest of two sizes",
            1,
            "g2.large",
            |r| {
                let mut w = result(0, sgemm(), 5.5);
                w.id = "gpu0.sgemm.2048x2048x2048".into();
                r.results.push(w);
            },
            "gpu0.fp32_gemm",
            &["gpu0.sgemm.2048x2048x2048"],
        ),
        (
            "the FP64 triad over a faster FP32 one",
            1,
            "g2.large",
            |r| r.results.push(result(0, triad(Precision::F32), 300.0)),
            "gpu0.stream_triad",
            &["gpu0.stream.triad.f64"],
        ),
        (
            "the most concurrent encode sessions over a faster single one",
            1,
            "g2.large",
            |r| set_speed(r, "gpu0.nvenc.h264.1080p.x1", 900.0, 0.005),
            "gpu0.nvenc_h264",
            &["gpu0.nvenc.h264.1080p.x4"],
        ),
        (
            "a smaller video frame, in 1080p frames",
            1,
            "g2.large",
            |r| {
                r.results.retain(|w| w.id != "gpu0.video.me.1080p");
                r.results.push(result(0, video_me(1280, 720), 560.0));
            },
            "gpu0.video_me",
            &["gpu0.video.me.720p"],
        ),
        (
            "a straddling interval, inconclusive",
            1,
            "g2.large",
            |r| set_speed(r, SGEMM0, 4.25, 0.1),
            "gpu0.fp32_gemm",
            &[SGEMM0],
        ),
        (
            "below the line, failed",
            1,
            "g2.large",
            |r| set_speed(r, SGEMM0, 3.0, 0.01),
            "gpu0.fp32_gemm",
            &[SGEMM0],
        ),
        (
            "a machine check sums one result per GPU",
            2,
            "g2.2xlarge",
            |r| set_speed(r, SGEMM1, 4.6, 0.05),
            "machine.fp32_gemm",
            &[SGEMM0, SGEMM1],
        ),
        (
            "a wrong result: nothing judged",
            1,
            "g2.large",
            |r| set(r, SGEMM0, |w| w.verification.status = VerifyStatus::Failed),
            "gpu0.fp32_gemm",
            &[],
        ),
        (
            "a machine check with a GPU that did not run: nothing judged",
            2,
            "g2.2xlarge",
            |r| set(r, SGEMM1, |w| w.error = Some("launch failed".into())),
            "machine.fp32_gemm",
            &[],
        ),
    ];
    for (name, gpus, profile_name, mutate, id, from) in cases {
        let mut r = report(gpus);
        mutate(&mut r);
        let c = evaluate(&profile(profile_name), &r);
        let c = c
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{name}: no check {id}"));
        assert_eq!(c.decided_from, from, "{name}: {c:#?}");
        if from.is_empty() {
            assert_eq!(c.noise_interval, None, "{name}");
            continue;
        }
        // What the gate computes from the results it was decided from.
        let (mut lo, mut hi) = (0.0, 0.0);
        for wid in from {
            let w = r.results.iter().find(|w| w.id == *wid).unwrap();
            let (l, h) = noise_interval(w.measurement.as_ref().unwrap());
            let f = evaluate::video_scale_to_target(&w.spec);
            lo += l * f;
            hi += h * f;
        }
        let got = c
            .noise_interval
            .unwrap_or_else(|| panic!("{name}: no interval"));
        assert!(
            (got.lo - lo).abs() <= 1e-9 * lo && (got.hi - hi).abs() <= 1e-9 * hi,
            "{name}: recorded {got:?}, the gate's ({lo}, {hi})"
        );
        let o = c.observed.unwrap();
        assert!(got.lo <= o && o <= got.hi, "{name}: {o} outside {got:?}");
        // The recorded interval is the one the verdict and the reason came from.
        let line = c.required.unwrap();
        let want = if got.hi < line {
            Verdict::Fail
        } else if got.lo >= line {
            Verdict::Pass
        } else {
            Verdict::Inconclusive
        };
        assert_eq!(c.verdict, want, "{name}: {}", c.reason);
        let shown = format!(
            "noise interval {}–{}",
            crate::util::fmt_value(got.lo, &c.unit),
            crate::util::fmt_value(got.hi, &c.unit)
        );
        assert!(
            c.reason.contains(&shown),
            "{name}: {shown} not in {}",
            c.reason
        );
    }
}

#[path = "burn_tests.rs"]
mod burn_rules;
