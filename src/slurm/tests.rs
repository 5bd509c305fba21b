//! The Slurm health check's rules: the decision table, scontrol's output read, the drain
//! reason built from real runs, and the one-run-at-a-time lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::fleet::model::FailingCheck;
use crate::model::Verdict;

// `scontrol show node -o` lines as Slurm 22.05.8 (Debian bookworm) printed them.
const IDLE: &str = "NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=1 CPUTot=1 CPULoad=4.37 AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=localhost Port=17821 Version=22.05.8 OS=Linux 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=1 AllocMem=0 FreeMem=8848 Sockets=1 Boards=1 State=IDLE ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=2026-12-07T11:26:39 SlurmdStartTime=2026-12-07T21:00:43 LastBusyTime=2026-12-07T21:01:01 CfgTRES=cpu=1,mem=1M,billing=1 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s\n";
const BY_HAND: &str = "NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=1 CPUTot=1 CPULoad=4.37 AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=localhost Port=17821 Version=22.05.8 OS=Linux 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=1 AllocMem=0 FreeMem=8848 Sockets=1 Boards=1 State=IDLE+DRAIN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=2026-12-07T11:26:39 SlurmdStartTime=2026-12-07T21:00:43 LastBusyTime=2026-12-07T21:01:01 CfgTRES=cpu=1,mem=1M,billing=1 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s Reason=maintenance: fan [ticket 42] [root@2026-12-07T21:08:35]\n";
const OURS: &str = "NodeName=n1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=1 CPUTot=1 CPULoad=4.25 AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=localhost Port=17821 Version=22.05.8 OS=Linux 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=1 AllocMem=0 FreeMem=9793 Sockets=1 Boards=1 State=IDLE+DRAIN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=2026-12-07T11:26:39 SlurmdStartTime=2026-12-07T21:00:43 LastBusyTime=2026-12-07T21:00:43 CfgTRES=cpu=1,mem=1M,billing=1 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s Reason=gpugate: gpu0.fp32_gemm 3.1 < 4.2 TFLOPS (and 2 more) [root@2026-12-07T21:00:50]\n";
const DOWN: &str = "NodeName=n2 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 CPUEfctv=1 CPUTot=1 CPULoad=5.17 AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=localhost Port=17822 Version=22.05.8 OS=Linux 6.18.44-fc-v1300 #1 SMP PREEMPT_DYNAMIC @0  RealMemory=1 AllocMem=0 FreeMem=10270 Sockets=1 Boards=1 State=DOWN ThreadsPerCore=1 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=2026-12-07T11:26:39 SlurmdStartTime=2026-12-07T21:00:43 LastBusyTime=2026-12-07T21:02:53 CfgTRES=cpu=1,mem=1M,billing=1 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s Reason=Not responding [root@2026-12-07T21:08:35]\n";

fn node(state: &str, reason: Option<&str>) -> NodeState {
    NodeState {
        name: "n1".into(),
        state: state.split('+').map(str::to_string).collect(),
        reason: reason.map(str::to_string),
    }
}

#[test]
fn scontrol_show_node_lines_are_read() {
    let cases: [(&str, &str, &[&str], Option<&str>); 4] = [
        ("idle", IDLE, &["IDLE"], None),
        (
            "drained by a person (brackets in the reason)",
            BY_HAND,
            &["IDLE", "DRAIN"],
            Some("maintenance: fan [ticket 42]"),
        ),
        (
            "drained by gpugate",
            OURS,
            &["IDLE", "DRAIN"],
            Some("gpugate: gpu0.fp32_gemm 3.1 < 4.2 TFLOPS (and 2 more)"),
        ),
        ("down", DOWN, &["DOWN"], Some("Not responding")),
    ];
    for (what, text, state, reason) in cases {
        let n = parse_show_node(text).unwrap_or_else(|| panic!("{what}: not read"));
        assert_eq!(n.state, state, "{what}");
        assert_eq!(n.reason.as_deref(), reason, "{what}");
    }
    assert_eq!(parse_show_node("Node nosuch not found\n"), None);
    assert_eq!(parse_show_node(DOWN).unwrap().name, "n2");
}

#[test]
fn the_decision_table() {
    let fail = |r: &str| NodeResult::Fail { reason: r.into() };
    let ours = "gpugate: gpu1.fp32_gemm observed 1.42 TFLOPS vs required 2.00 TFLOPS";
    let drain = |r: &str| Action::Drain { reason: r.into() };
    let leave = |a: &Action| matches!(a, Action::Leave { .. });
    #[rustfmt::skip]
    let cases: Vec<(&str, NodeResult, NodeState, Option<Action>)> = vec![
        // (what, last finished run, node in Slurm, the action; None: left alone)
        ("FAIL on an idle node: drained", fail(ours), node("IDLE", None), Some(drain(ours))),
        ("FAIL on a busy node: drained (Slurm drains once the job ends)", fail(ours), node("MIXED", None), Some(drain(ours))),
        ("FAIL, already drained by gpugate with this reason", fail(ours), node("IDLE+DRAIN", Some(ours)), None),
        ("FAIL, drained by gpugate for another check: the reason updated", fail(ours), node("IDLE+DRAIN", Some("gpugate: gpu0.stream_triad 100 GB/s")), Some(drain(ours))),
        ("FAIL, drained by a person: the person's reason stays", fail(ours), node("IDLE+DRAIN", Some("maintenance: fan")), None),
        ("FAIL, down (not responding): Slurm's reason stays", fail(ours), node("DOWN", Some("Not responding")), None),
        ("PASS, drained by gpugate: resumed", NodeResult::Pass, node("IDLE+DRAIN", Some(ours)), Some(Action::Resume)),
        ("PASS, drained by gpugate while a job ends: resumed", NodeResult::Pass, node("MIXED+DRAIN", Some(ours)), Some(Action::Resume)),
        ("PASS, drained by a person: never resumed", NodeResult::Pass, node("IDLE+DRAIN", Some("maintenance: fan")), None),
        ("PASS, a person's reason that mentions gpugate later: never resumed", NodeResult::Pass, node("IDLE+DRAIN", Some("waiting on gpugate: ticket 7")), None),
        ("PASS, idle: nothing to do", NodeResult::Pass, node("IDLE", None), None),
        ("PASS, down and drained by gpugate: Slurm brings it back", NodeResult::Pass, node("DOWN+DRAIN", Some(ours)), None),
        ("PASS, down (not responding)", NodeResult::Pass, node("DOWN", Some("Not responding")), None),
        ("INCONCLUSIVE on an idle node: not drained", NodeResult::Inconclusive, node("IDLE", None), None),
        ("INCONCLUSIVE, drained by gpugate: not resumed", NodeResult::Inconclusive, node("IDLE+DRAIN", Some(ours)), None),
        ("no finished run, drained by gpugate: not resumed", NodeResult::NoRun, node("IDLE+DRAIN", Some(ours)), None),
        ("no finished run, idle", NodeResult::NoRun, node("IDLE", None), None),
        ("unreadable run, drained by gpugate: not resumed", NodeResult::Unreadable { why: "x".into() }, node("IDLE+DRAIN", Some(ours)), None),
    ];
    for (what, result, state, want) in cases {
        let got = decide(&result, &state);
        match want {
            Some(a) => assert_eq!(got, a, "{what}"),
            None => assert!(leave(&got), "{what}: {got:?}"),
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn failing(id: &str, verdict: Verdict, text: &str) -> FailingCheck {
    FailingCheck {
        id: id.into(),
        verdict,
        text: text.into(),
    }
}

#[test]
fn drain_reasons_from_real_runs() {
    // (fixture, its verdict decided again, the reason it drains with)
    let cases = [
        (
            "no-gpu-g2.2xlarge-quick.run.json",
            Verdict::Fail,
            "gpugate: machine.gpu_count observed 0 GPUs vs required 2 GPUs: no GPU could be used: no NVIDIA driver found: libc… (and 36 more)",
        ),
        (
            "no-gpu-g2.large-quick.schema3.run.json",
            Verdict::Fail,
            "gpugate: machine.gpu_count observed 0 GPUs vs required 1 GPUs: no GPU could be used: no NVIDIA driver found: libc… (and 18 more)",
        ),
        (
            "interrupted-g2.large-quick.schema2.run.json",
            Verdict::Fail,
            "gpugate: machine.gpu_count observed 0 GPUs vs required 1 GPUs: no GPU could be used: no NVIDIA driver found: libc… (and 19 more)",
        ),
        (
            "fleet/sim-m40x2-g2.2xlarge-quick.schema3.run.json",
            Verdict::Pass,
            "(passes: not drained)",
        ),
    ];
    for (name, verdict, reason) in cases {
        let rec = crate::fleet::node::read_node(&fixture(name)).expect(name);
        assert_eq!(rec.node.verdict, verdict, "{name}");
        let got = drain_reason(&rec.node.failing);
        if verdict == Verdict::Fail {
            assert_eq!(got, reason, "{name}");
            assert_eq!(got.chars().count(), MAX_REASON_CHARS, "{name}: cut to fit");
        } else {
            assert!(
                rec.node.failing.iter().all(|c| c.verdict != Verdict::Fail),
                "{name}"
            );
        }
    }
}

#[test]
fn drain_reasons_fit_and_count_the_rest() {
    let long = "x".repeat(300);
    let cases: Vec<(&str, Vec<FailingCheck>, String)> = vec![
        (
            "one failing check, short",
            vec![failing(
                "gpu0.fp32_gemm",
                Verdict::Fail,
                "observed 3.1 TFLOPS vs required 4.2 TFLOPS",
            )],
            "gpugate: gpu0.fp32_gemm observed 3.1 TFLOPS vs required 4.2 TFLOPS".into(),
        ),
        (
            "three failing and an inconclusive one: the inconclusive one is not counted",
            vec![
                failing(
                    "gpu0.memtest.coverage",
                    Verdict::Inconclusive,
                    "covered 40 %",
                ),
                failing(
                    "gpu1.fp32_gemm",
                    Verdict::Fail,
                    "observed 1.42 TFLOPS vs required 2.00 TFLOPS",
                ),
                failing("gpu1.stream_triad", Verdict::Fail, "slow"),
                failing("gpu1.h2d", Verdict::Fail, "slow"),
            ],
            "gpugate: gpu1.fp32_gemm observed 1.42 TFLOPS vs required 2.00 TFLOPS (and 2 more)"
                .into(),
        ),
        (
            "a long text is cut and marked, the count kept",
            vec![
                failing("gpu0.fp32_gemm", Verdict::Fail, &long),
                failing("gpu1.fp32_gemm", Verdict::Fail, "x"),
            ],
            format!(
                "gpugate: gpu0.fp32_gemm {}… (and 1 more)",
                "x".repeat(MAX_REASON_CHARS - 24 - 13 - 1)
            ),
        ),
        (
            "new lines become spaces",
            vec![failing(
                "gpu0.run.complete",
                Verdict::Fail,
                "interrupted\n  by SIGTERM",
            )],
            "gpugate: gpu0.run.complete interrupted by SIGTERM".into(),
        ),
        (
            "a FAIL with no failing check recorded",
            vec![],
            "gpugate: the run failed (no failing check recorded)".into(),
        ),
    ];
    for (what, checks, want) in cases {
        let got = drain_reason(&checks);
        assert_eq!(got, want, "{what}");
        assert!(got.chars().count() <= MAX_REASON_CHARS, "{what}");
        assert!(is_ours(&got), "{what}");
    }
}

proptest! {
    #[test]
    fn any_reason_is_read_back_as_set(reason in "[ -~]{0,200}", flags in prop::sample::select(vec!["IDLE", "IDLE+DRAIN", "MIXED+DRAIN", "DOWN+DRAIN", "ALLOCATED"])) {
        let reason = reason.trim().to_string();
        let line = if reason.is_empty() {
            format!("NodeName=n7 Arch=x86_64 State={flags} ThreadsPerCore=1 Partitions=gpu")
        } else {
            format!("NodeName=n7 Arch=x86_64 State={flags} ThreadsPerCore=1 Partitions=gpu Reason={reason} [slurm@2026-12-07T21:00:50]")
        };
        let n = parse_show_node(&line).expect("a node");
        prop_assert_eq!(n.name, "n7");
        prop_assert_eq!(n.state.join("+"), flags);
        let want = (!reason.is_empty() && reason != "(null)" && reason != "none").then_some(reason.as_str());
        // Fields some releases print after Reason are cut there.
        if !reason.contains(" Comment=") && !reason.contains(" Extra=") && !reason.contains(" ResumeAfterTime=") {
            prop_assert_eq!(n.reason.as_deref(), want);
        }
    }

    #[test]
    fn every_drain_reason_fits_and_is_ours(texts in prop::collection::vec(("[a-z0-9.]{1,40}", "\\PC{0,300}"), 1..6)) {
        let checks: Vec<FailingCheck> = texts
            .iter()
            .map(|(id, text)| failing(id, Verdict::Fail, text))
            .collect();
        let r = drain_reason(&checks);
        prop_assert!(r.chars().count() <= MAX_REASON_CHARS, "{r}");
        prop_assert!(is_ours(&r));
        prop_assert!(!r.contains('\n'));
        let nodes_reason = format!("NodeName=n1 State=IDLE+DRAIN Reason={r} [root@2026-12-07T21:00:50]");
        prop_assert_eq!(parse_show_node(&nodes_reason).and_then(|n| n.reason), Some(r.clone()));
    }
}

#[test]
fn one_run_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let held = RunLock::try_take(dir.path())
        .unwrap()
        .expect("a free lock is taken");
    assert!(
        RunLock::try_take(dir.path()).unwrap().is_none(),
        "taken twice"
    );
    // While a run holds the lock, `gpugate slurm run` runs nothing.
    let marker = dir.path().join("ran");
    let cmd: Vec<String> = ["sh", "-c", "touch \"$0\"", marker.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    assert!(run_locked(dir.path(), &cmd).unwrap().is_none());
    assert!(!marker.exists());
    drop(held);
    // Free: it runs, with --out STATE/out appended.
    let cmd: Vec<String> = ["sh", "-c", "echo \"$@\" > \"$0\"", marker.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    let status = run_locked(dir.path(), &cmd).unwrap().expect("ran");
    assert!(status.success());
    let args = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(
        args.trim(),
        format!("--out {}", dir.path().join(OUT_DIR).display())
    );
    assert!(
        RunLock::try_take(dir.path()).unwrap().is_some(),
        "released after the run"
    );
}

/// (what, start asked, node, last run's age, --interval, what happens; None: started)
type StartCase = (
    &'static str,
    bool,
    NodeState,
    Option<Duration>,
    Option<Duration>,
    Option<Started>,
);

#[test]
fn when_a_run_is_started() {
    let h = Duration::from_secs(3600);
    let m = Duration::from_secs(60);
    #[rustfmt::skip]
    let cases: Vec<StartCase> = vec![
        // (what, start asked, node, last run's age, --interval, what happens; None: started)
        ("idle, no run yet", true, node("IDLE", None), None, Some(h), None),
        ("idle, no interval: at every check", true, node("IDLE", None), Some(m), None, None),
        ("drained idle: a run is what brings it back", true, node("IDLE+DRAIN", Some("gpugate: x")), Some(h + m), Some(h), None),
        ("idle, the last run younger than the interval", true, node("IDLE", None), Some(m), Some(h), Some(Started::NotDue { age: m })),
        ("a job on the node", true, node("ALLOCATED", None), None, None, Some(Started::Busy { state: "ALLOCATED".into() })),
        ("a job on part of the node", true, node("MIXED+DRAIN", Some("gpugate: x")), None, None, Some(Started::Busy { state: "MIXED+DRAIN".into() })),
        ("not registered yet", true, node("UNKNOWN", None), None, None, Some(Started::Busy { state: "UNKNOWN".into() })),
        ("down", true, node("DOWN", Some("Not responding")), None, None, Some(Started::Busy { state: "DOWN".into() })),
        ("--no-start (a Prolog)", false, node("IDLE", None), None, None, Some(Started::Disabled)),
    ];
    for (what, start, state, age, interval, want) in cases {
        assert_eq!(start_decision(start, &state, age, interval), want, "{what}");
    }
}
