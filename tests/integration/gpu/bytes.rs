//! A bandwidth benchmark must move the bytes it says it moves: for every stream workload (copy,
//! scale, add, triad, dot; f32 and f64) and both transfer workloads, the global bytes the
//! simulator counted for the timed launch or copy equal `WorkloadSpec::work().bytes` within
//! 1 %. A kernel that moved each byte twice (or half of them) is 100 % (50 %) off.
//!
//! The simulator writes one JSON line per launch and copy to its log (`gpugate-sim --log`,
//! `GPUGATE_SIM_LOG` in the child; `sim/README.md`, "The log"); the in-process test reads what
//! each timed `run(1)` appended. The wrapper runs it alone in its child, so nothing else writes
//! to that log meanwhile.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use gpugate::model::BackendKind;
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::device::KernelDevice;
use gpugate::workload::{Direction, Precision, StreamOp, WorkloadSpec};
use serde_json::Value;

use super::{open, simulated};

const TEST: &str = "gpu::bytes::stream_and_transfer_workloads_move_the_bytes_they_declare";

/// The JSON records appended to `log` since byte `from`.
fn records_since(log: &Path, from: u64) -> Vec<Value> {
    let mut f = std::fs::File::open(log).expect("the simulator's log");
    f.seek(SeekFrom::Start(from)).unwrap();
    let mut text = String::new();
    f.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l}: {e}")))
        .collect()
}

/// The workloads whose bytes are compared: every stream op in both precisions at an odd size
/// that fills the grid, and a small one (a few blocks: a kernel that re-reads its tail per block
/// shows most there); both pinned transfer directions.
fn specs() -> Vec<WorkloadSpec> {
    let mut v = Vec::new();
    for precision in [Precision::F32, Precision::F64] {
        for op in StreamOp::ALL {
            for n in [100_003, 4099] {
                v.push(WorkloadSpec::Stream { op, precision, n });
            }
        }
    }
    for direction in [Direction::HostToDevice, Direction::DeviceToHost] {
        for bytes in [100_003, (1 << 20) + 3] {
            v.push(WorkloadSpec::Transfer {
                direction,
                bytes,
                pinned: true,
            });
        }
    }
    v
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn stream_and_transfer_workloads_move_the_bytes_they_declare() {
    let dev = open();
    if !simulated(&dev) {
        eprintln!("a real GPU counts no bytes: nothing to compare (the simulator's test)");
        return;
    }
    let log = std::env::var_os("GPUGATE_SIM_LOG")
        .map(std::path::PathBuf::from)
        .expect("run under `gpugate-sim --log FILE` (GPUGATE_SIM_LOG is not set)");
    let backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
    let mut compared = 0;
    for spec in specs() {
        let declared = spec.work().bytes;
        let label = match spec {
            WorkloadSpec::Stream { n, .. } => format!("{} n={n}", spec.name()),
            _ => format!("{} {declared} B", spec.name()),
        };
        let mut trial = backend.prepare(&spec, 3).unwrap();
        dev.synchronize().unwrap();
        let from = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        trial.run(1).unwrap();
        dev.synchronize().unwrap();
        let records = records_since(&log, from);
        // The timed region is exactly one launch or one copy.
        let work: Vec<&Value> = records
            .iter()
            .filter(|r| r["event"] == "launch" || r["event"] == "copy")
            .collect();
        assert_eq!(work.len(), 1, "{}: {records:?}", label);
        let r = work[0];
        let counted = match spec {
            WorkloadSpec::Stream { op, precision, .. } => {
                assert_eq!(r["event"], "launch", "{}", label);
                let entry = gpugate::kernels::stream_kernel(op, precision)
                    .unwrap()
                    .entry;
                assert_eq!(r["kernel"], entry, "{}", label);
                assert!(r["error"].is_null(), "{}: {r}", label);
                let s = &r["stats"];
                s["global_bytes_read"].as_f64().expect("bytes read")
                    + s["global_bytes_written"].as_f64().expect("bytes written")
            }
            WorkloadSpec::Transfer { direction, .. } => {
                let kind = match direction {
                    Direction::HostToDevice => "htod",
                    Direction::DeviceToHost => "dtoh",
                };
                assert_eq!(r["event"], "copy", "{}", label);
                assert_eq!(r["kind"], kind, "{}", label);
                assert_eq!(r["pinned"], true, "{}", label);
                r["bytes"].as_f64().expect("bytes")
            }
            WorkloadSpec::Gemm { .. }
            | WorkloadSpec::Video { .. }
            | WorkloadSpec::Encode { .. } => {
                unreachable!()
            }
        };
        let off = (counted - declared).abs() / declared;
        eprintln!(
            "{}: declared {declared} B, counted {counted} B ({:+.3} %)",
            label,
            100.0 * (counted - declared) / declared
        );
        assert!(
            off <= 0.01,
            "{}: the simulator counted {counted} global bytes, the workload declares {declared} \
             ({:.1} % off): {r}",
            label,
            100.0 * off
        );
        assert!(trial.verify().unwrap().passed(), "{}", label);
        compared += 1;
    }
    assert_eq!(compared, 24);
}

/// Runs the test above on a simulated M40 with a log.
#[test]
fn stream_and_transfer_bytes_match_the_simulators_count() {
    if crate::sim::stand_down_for_the_real_gpu(
        "stream_and_transfer_bytes_match_the_simulators_count",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sim.jsonl");
    let (passed, text) =
        super::gpu_suite_on_the_simulator::run_ignored(&["m40"], Some(&log), &["--exact", TEST]);
    assert_eq!(passed, 1, "{text}");
    assert!(text.contains("declared"), "{text}");
}
