//! A run's life: interrupted by a signal or killed outright, and runs and reports that write
//! at the same moment. Nothing finished is lost, nothing unfinished is green, no writer fails
//! another.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use gpugate::model::{RunReport, Verdict};

/// Starts a host run and returns it once it has finished `n` workloads (its progress lines on
/// stderr), with the rest of its stderr collected by a thread.
fn start_and_wait_for(out: &Path, n: usize) -> (Child, std::thread::JoinHandle<String>) {
    let mut cmd = Command::new(bin());
    cmd.args(host_run_args(out));
    spawn_until(cmd, &format!("[{n}/"))
}

/// Spawns `cmd` and returns it once a line of its stderr starts with `want`, with the rest of
/// its stderr collected by a thread.
pub(crate) fn spawn_until(
    mut cmd: Command,
    want: &str,
) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpugate runs");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with(want) {
            let rest = std::thread::spawn(move || {
                let mut s = seen;
                for l in lines.map_while(Result::ok) {
                    s.push_str(&l);
                    s.push('\n');
                }
                s
            });
            return (child, rest);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the run ended before a line {want:?}:\n{seen}");
}

/// Waits for a child, with a generous guard against a hang (not a speed assertion).
pub(crate) fn wait(child: &mut Child) -> Option<i32> {
    let guard = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if guard.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the run did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_run(path: &Path) -> RunReport {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The run directories under DIR/runs.
fn runs(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Puts a finished run into `out` (a fixture re-rendered with `--out` gets a run directory of
/// its own and `latest`, as a run does).
fn with_a_finished_run(out: &Path) {
    let o = gpugate(&[
        "report",
        fixture("no-gpu-host-quick.run.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

fn assert_run_complete_fails(junit: &str) {
    let suites = crate::junit::read(junit).unwrap_or_else(|e| panic!("{e}\n{junit}"));
    assert_eq!(suites.len(), 1, "{junit}");
    let case = suites[0]
        .case("run.complete")
        .unwrap_or_else(|| panic!("no run.complete test case:\n{junit}"));
    assert!(
        matches!(&case.outcome, crate::junit::Outcome::Failure { kind, .. } if kind == "fail"),
        "{case:?}"
    );
    assert!(suites[0].cases.len() > 1, "{junit}");
    assert_eq!(suites[0].property("complete"), Some("false"));
}

/// SIGINT stops the run at its next safe point: what was measured is written as an incomplete
/// run, every report says so, junit.xml has a failing run.complete case, the exit code is 1,
/// and the run that was there before keeps its files. Re-rendered, it stays a failure.
#[test]
fn an_interrupted_run_is_written_incomplete_and_never_green() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A finished run already in DIR (a re-rendered fixture is one, with its own directory).
    with_a_finished_run(&out);
    let before = runs(&out);
    assert_eq!(before.len(), 1);
    let before_md = std::fs::read_to_string(before[0].join("report.md")).unwrap();

    let (mut child, rest) = start_and_wait_for(&out, 2);
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let code = wait(&mut child);
    let err = rest.join().unwrap();
    let mut console = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut console).unwrap();
    assert_eq!(code, Some(1), "stderr:\n{err}\nstdout:\n{console}");
    assert!(err.contains("stopping at the next safe point"), "{err}");

    let now = runs(&out);
    assert_eq!(now.len(), 2, "{now:?}");
    let new = now.iter().find(|p| **p != before[0]).unwrap();
    assert_eq!(
        std::fs::canonicalize(out.join("latest")).unwrap(),
        std::fs::canonicalize(new).unwrap(),
        "latest names the interrupted run, which wrote its reports"
    );
    assert_eq!(
        std::fs::read_to_string(before[0].join("report.md")).unwrap(),
        before_md,
        "the earlier run's files are untouched"
    );
    let r = read_run(&new.join("run.json"));
    assert!(!r.complete);
    let i = r
        .interrupted
        .as_ref()
        .expect("the interruption is recorded");
    assert_eq!(i.signal, "SIGINT");
    assert!(i.finished_workloads >= 2 && i.finished_workloads < i.planned_workloads);
    assert_eq!(r.results.len(), i.finished_workloads);
    assert_eq!((r.verdict, r.exit_code), (Verdict::Fail, 1));
    let banner = "INCOMPLETE: the run was interrupted by SIGINT";
    for f in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(new.join(f)).unwrap();
        assert!(text.contains(banner), "{f}:\n{text}");
    }
    assert!(console.contains(banner), "{console}");
    let junit = std::fs::read_to_string(new.join("junit.xml")).unwrap();
    assert_run_complete_fails(&junit);
    // Every target still has its check (auto wants a GPU: its count check fails too).
    assert!(r.checks.iter().any(|c| c.id == "machine.gpu_count"));

    // Re-rendered beside itself, it is still a failure with a failing run.complete.
    let o = gpugate(&["report", new.join("run.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_run_complete_fails(&std::fs::read_to_string(new.join("junit.xml")).unwrap());
}

/// A run killed outright (SIGKILL: no chance to write anything) leaves `latest` on the run
/// before it and its partial run.json in its own directory; rendered, that is incomplete and
/// failing, never "tests=0 failures=0" and never exit 3.
#[test]
fn a_killed_run_leaves_latest_alone_and_its_partial_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    with_a_finished_run(&out);
    let latest_before = std::fs::read_link(out.join("latest")).unwrap();

    let (mut child, rest) = start_and_wait_for(&out, 2);
    child.kill().unwrap();
    let _ = child.wait();
    let _ = rest.join();
    assert_eq!(
        std::fs::read_link(out.join("latest")).unwrap(),
        latest_before,
        "a killed run never moves latest"
    );
    let killed = runs(&out)
        .into_iter()
        .find(|p| !latest_before.ends_with(p.file_name().unwrap()))
        .unwrap();
    let partial = read_run(&killed.join("run.json"));
    assert!(!partial.complete && partial.interrupted.is_none());
    // Progress is said before run.json is saved: the second result may not be in it yet.
    assert!(!partial.results.is_empty());

    let o = gpugate(&["report", killed.join("run.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("INCOMPLETE: this run.json was saved mid-run"));
    let junit = std::fs::read_to_string(killed.join("junit.xml")).unwrap();
    assert_run_complete_fails(&junit);
    // Its run.json is the record: re-rendering never rewrites it.
    assert_eq!(read_run(&killed.join("run.json")), partial);
}

/// Reports written at the same moment, into one directory and into one --out each: none
/// fails, every file is whole, and each --out gets a run directory of its own.
#[test]
fn concurrent_reports_never_fail_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let run = shared.join("run.json");
    std::fs::copy(fixture("no-gpu-g2.2xlarge-quick.run.json"), &run).unwrap();
    let n = 24;
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..n {
        let mut c = Command::new(bin());
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        match i % 3 {
            // Beside the run.json, all into the same directory.
            0 => c.args(["report", run.to_str().unwrap()]),
            // All into one --out.
            1 => c.args([
                "report",
                run.to_str().unwrap(),
                "--out",
                dir.path().join("one-out").to_str().unwrap(),
            ]),
            // Each into its own --out.
            _ => c.args([
                "report",
                run.to_str().unwrap(),
                "--out",
                dir.path().join(format!("own-{i}")).to_str().unwrap(),
            ]),
        };
        children.push((format!("report #{i}"), c.spawn().unwrap()));
    }
    for (what, c) in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
    }
    let whole = |d: &Path| {
        let md = std::fs::read_to_string(d.join("report.md")).unwrap();
        assert!(
            md.starts_with("# gpugate: FAIL (exit 1)"),
            "{}",
            d.display()
        );
        let html = std::fs::read_to_string(d.join("report.html")).unwrap();
        assert!(html.trim_end().ends_with("</html>"), "{}", d.display());
        let junit = std::fs::read_to_string(d.join("junit.xml")).unwrap();
        // The reports are of the run decided again (the stored checks are an older gpugate's).
        let mut run = gpugate::report::load_run(&d.join("run.json")).unwrap();
        gpugate::report::decide_again(&mut run);
        crate::junit::assert_matches_run(&junit, &run);
        let tmp: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".tmp"))
            .collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    };
    whole(&shared);
    let one = runs(&dir.path().join("one-out"));
    assert_eq!(
        one.len(),
        n / 3,
        "one run directory per report into one --out"
    );
    for d in &one {
        whole(d);
    }
    whole(&dir.path().join("one-out/latest"));
    for i in (0..n).filter(|i| i % 3 == 2) {
        whole(&dir.path().join(format!("own-{i}/latest")));
    }
}

/// Runs at the same moment into one --out and into their own: each has its own directory
/// with its own complete files, none fails another, and `latest` names one of them, whole.
#[test]
fn concurrent_runs_never_mix_files() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let outs = [shared.clone(), shared.clone(), dir.path().join("own")];
    let children: Vec<Child> = outs
        .iter()
        .map(|out| {
            Command::new(bin())
                .args(host_run_args(out))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        // auto without a GPU: the GPU count fails; nothing else may go wrong.
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
    let both = runs(&shared);
    assert_eq!(both.len(), 2, "{both:?}");
    for d in both.iter().chain(runs(&outs[2]).iter()) {
        let r = read_run(&d.join("run.json"));
        assert!(r.complete, "{}", d.display());
        assert_eq!(r.results.len(), 14, "{}", d.display());
        let md = std::fs::read_to_string(d.join("report.md")).unwrap();
        assert!(
            md.contains(&r.started_at),
            "report.md is this run's: {}",
            d.display()
        );
    }
    let latest = std::fs::canonicalize(shared.join("latest")).unwrap();
    assert!(both
        .iter()
        .any(|d| std::fs::canonicalize(d).unwrap() == latest));
}

/// On a simulated M40 the CUDA path stops too: during the tuning of the GEMM variants (a fresh
/// tuning cache) and during the measurement of the GPU's workloads. Each time the run is
/// written as interrupted, its GPU peaks recorded, and it fails.
#[test]
fn a_simulated_gpu_run_stops_while_tuning_and_while_measuring() {
    if crate::sim::stand_down_for_the_real_gpu(
        "a_simulated_gpu_run_stops_while_tuning_and_while_measuring",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sim = crate::sim::Sim::new(&["m40"]);
    let cache = dir.path().join("cache");
    for (n, wait_for) in ["gpu0: tuning", "[2/"].into_iter().enumerate() {
        let out = dir.path().join(format!("out{n}"));
        let args = [
            "run",
            "--backend",
            "cuda",
            "--level",
            "quick",
            "--gemm-sizes",
            "256",
            "--stream-mib",
            "2",
            "--video-sizes",
            "480x270,me=100x70",
            "--allow-simulated",
            "--profile",
            "g2.large",
            "--out",
            out.to_str().unwrap(),
        ];
        let mut cmd = sim.command(&bin(), &args);
        // The first run tunes from an empty cache; the second finds the first's choices (or
        // tunes what the first did not finish) and is stopped among its workloads.
        cmd.env("GPUGATE_CACHE_DIR", &cache);
        let (mut child, rest) = spawn_until(cmd, wait_for);
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let code = wait(&mut child);
        let err = rest.join().unwrap();
        assert_eq!(code, Some(1), "{wait_for}: {err}");
        let r = read_run(&out.join("latest/run.json"));
        let i = r
            .interrupted
            .as_ref()
            .unwrap_or_else(|| panic!("{wait_for}: {err}"));
        assert_eq!(i.signal, "SIGINT");
        assert!(
            i.finished_workloads < i.planned_workloads,
            "{wait_for}: {i:?}"
        );
        assert_eq!(r.peaks.len(), 1);
        assert_eq!(
            r.peaks[0].fp32_tflops,
            Some(7.0),
            "the M40's catalogue peak"
        );
        let complete = r.checks.iter().find(|c| c.id == "run.complete").unwrap();
        assert_eq!(complete.verdict, Verdict::Fail);
        if n == 0 {
            assert!(
                r.results.is_empty(),
                "stopped while tuning: {:?}",
                r.results.len()
            );
            // The tuner itself stopped between its variants (the signal came as it began).
            assert!(
                r.notes
                    .iter()
                    .any(|n| n.contains("interrupted: the run was asked to stop")),
                "{:?}",
                r.notes
            );
        } else {
            assert!(!r.results.is_empty());
        }
    }
}

/// `gpugate memtest` follows the same rules: SIGINT between two steps of a pattern writes the
/// run as interrupted, the patterns it did not finish FAIL, and so does `run.complete`.
#[test]
fn an_interrupted_memtest_is_written_incomplete_and_fails() {
    if crate::sim::stand_down_for_the_real_gpu("an_interrupted_memtest_is_written_incomplete") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = crate::memtest_runs::small_m40(dir.path());
    let sim = crate::sim::Sim::new(&[model.to_str().unwrap()]);
    let out = dir.path().join("out");
    let args = [
        "memtest",
        "--allow-simulated",
        "--out",
        out.to_str().unwrap(),
    ];
    let (mut child, rest) = spawn_until(sim.command(&bin(), &args), "[2/7] gpu0.memtest.");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let code = wait(&mut child);
    let err = rest.join().unwrap();
    assert_eq!(code, Some(1), "{err}");
    let r = read_run(&out.join("latest/run.json"));
    assert_eq!(
        r.interrupted.as_ref().map(|i| i.signal.as_str()),
        Some("SIGINT"),
        "{err}"
    );
    let tested = r.memtest[0].patterns.len();
    assert!((2..7).contains(&tested), "{tested} patterns: {err}");
    let verdict = |id: &str| r.checks.iter().find(|c| c.id == id).unwrap().verdict;
    assert_eq!(verdict("run.complete"), Verdict::Fail);
    assert_eq!(verdict("gpu0.memtest.address_walking_ones"), Verdict::Pass);
    assert_eq!(verdict("gpu0.memtest.stress"), Verdict::Fail);
    // What it had done is said as a memory test's: GPUs tested and patterns run to their end
    // (a memory test plans no workload: never "after 0 of 0 workloads").
    let done = r.memtest[0]
        .patterns
        .iter()
        .filter(|p| p.failed.is_none())
        .count();
    let said = format!("after the memory test of 1 GPU(s), {done} pattern(s) run to their end");
    let complete = r.checks.iter().find(|c| c.id == "run.complete").unwrap();
    assert!(complete.reason.contains(&said), "{}", complete.reason);
    let md = std::fs::read_to_string(out.join("latest/report.md")).unwrap();
    assert!(md.contains(&said), "{md}");
    assert!(r.notes.iter().any(|n| n.contains(&said)), "{:?}", r.notes);
    for text in [&md, &err, &complete.reason] {
        assert!(!text.contains("0 of 0 workloads"), "{text}");
    }
}
