//! `gpugate memtest` end to end on gpugate-sim (the release binaries, as `sim_runs`): a stuck
//! bit FAILS the GPU with its address, bit, expected and found value in run.json, report.md
//! and junit.xml; healthy memory passes on two GPUs tested at once; bad input is exit 2 with
//! nothing created.
//!
//! The simulator's device memory lives in host RAM, so the runs use an M40 model with 24 MiB
//! of memory (`small_m40`): about 20 MiB tested, a second or two per run.

use std::path::{Path, PathBuf};

use gpugate::model::{RunReport, Verdict};

use crate::sim::Sim;

/// The simulated M40 with `memory.total_bytes` = 24 MiB (2 MiB reserved for the context),
/// written into `dir`.
pub(crate) fn small_m40(dir: &Path) -> PathBuf {
    let shown = std::process::Command::new(crate::sim::launcher())
        .args(["models", "m40"])
        .output()
        .expect("gpugate-sim models m40");
    let mut text = String::from_utf8(shown.stdout).unwrap();
    for (key, value) in [
        ("total_bytes", "25_165_824"),
        ("context_reserved_bytes", "2_097_152"),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} in the m40 model"))
            .to_string();
        text = text.replace(&line, &format!("{key} = {value}"));
    }
    let path = dir.join("m40-24mib.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `gpugate memtest --allow-simulated --out DIR/out ARGS…` on `gpus` small M40s with `faults`:
/// the exit code, the run, its directory.
fn memtest_run(
    dir: &Path,
    gpus: usize,
    faults: &[&str],
    args: &[&str],
) -> (i32, RunReport, PathBuf, String) {
    let model = small_m40(dir);
    let models = vec![model.to_str().unwrap(); gpus];
    let mut sim = Sim::new(&models).release();
    for f in faults {
        sim = sim.fault(f);
    }
    let out = dir.join("out");
    let mut all = vec!["memtest", "--allow-simulated", "--seed", "7", "--out"];
    all.push(out.to_str().unwrap());
    all.extend_from_slice(args);
    let o = sim.gpugate(&all);
    let text = format!("{}\n{}", crate::stdout(&o), crate::stderr(&o));
    let run_dir =
        std::fs::canonicalize(out.join("latest")).unwrap_or_else(|e| panic!("{e}: {text}"));
    let report = gpugate::report::load_run(&run_dir.join("run.json")).unwrap();
    (o.status.code().unwrap_or(-1), report, run_dir, text)
}

fn verdict_of(r: &RunReport, id: &str) -> Verdict {
    r.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .verdict
}

#[test]
fn memtest_on_a_stuck_bit_fails_the_gpu_naming_address_bit_expected_and_found() {
    if crate::sim::stand_down_for_the_real_gpu("memtest_on_a_stuck_bit_fails_the_gpu") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = memtest_run(tmp.path(), 1, &["stuck-bit=any:5"], &[]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(r.verdict, Verdict::Fail, "{text}");
    let m = &r.memtest[0];
    assert!(m.share_of_free_percent().unwrap() >= 90.0, "{m:?}");
    assert_eq!(verdict_of(&r, "gpu0.memtest.coverage"), Verdict::Pass);
    // The stuck word is in the middle of the one allocation (the largest), at every pattern
    // that reads every word; the address-line walk does not reach it.
    let mut address = None;
    for p in gpugate::memtest::Pattern::ALL {
        let result = m.patterns.iter().find(|x| x.pattern == p.name()).unwrap();
        let id = format!("gpu0.memtest.{}", p.name());
        if !p.covers_every_word() {
            assert_eq!(result.errors, 0, "{id}");
            assert_eq!(verdict_of(&r, &id), Verdict::Pass, "{id}");
            continue;
        }
        assert_eq!(verdict_of(&r, &id), Verdict::Fail, "{id}: {text}");
        assert!(result.errors >= 1, "{id}");
        for e in &result.recorded {
            assert_eq!(e.bits, vec![5], "{id}: {e:?}");
            assert_eq!(e.found, e.expected | 1 << 5, "{id}: stuck at 1: {e:?}");
            assert_eq!(
                *address.get_or_insert(e.address),
                e.address,
                "{id}: one word"
            );
        }
    }
    // Every report says where and what: report.md and junit.xml name the word and the bit.
    let e = &m.patterns[2].recorded[0];
    let described = e.describe();
    assert!(described.contains("bit 5 (expected 0x"), "{described}");
    for file in ["report.md", "junit.xml", "report.html"] {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            body.contains(&format!("{:#x}: bit 5", e.address)),
            "{file} does not name the stuck word"
        );
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("gpu0.memtest.moving_inversions_random"),
        "{junit}"
    );
    // The memory test's section of report.md: the failing GPU, its patterns with their passes
    // and the errors' table with address, bit, expected and found value.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("## Memory test\n"), "{md}");
    assert!(md.contains("- **FAIL** GPU 0: "), "{md}");
    let p = m.patterns.iter().find(|p| !p.recorded.is_empty()).unwrap();
    let first = &p.recorded[0];
    let w = first.width_bits as usize / 4 + 2;
    let row = format!(
        "| gpu0 | {} | {:#x} | 5 | {:#0w$x} | {:#0w$x} |",
        p.pattern, first.address, first.expected, first.found
    );
    assert!(
        md.contains("### Memory errors") && md.contains(&row),
        "{row}\n{md}"
    );
}

#[test]
fn memtest_on_healthy_memory_passes_and_bad_input_creates_nothing() {
    if crate::sim::stand_down_for_the_real_gpu("memtest_on_healthy_memory_passes") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Two GPUs, tested at the same time: each one's memory is allocated before the other's
    // last pattern ends (one after the other, GPU 1 would start after GPU 0's last line).
    let (code, r, dir, text) = memtest_run(tmp.path(), 2, &[], &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        r.memtest.iter().map(|m| m.device).collect::<Vec<_>>(),
        [0, 1]
    );
    for m in &r.memtest {
        assert_eq!(m.patterns.len(), 7);
        assert!(m
            .patterns
            .iter()
            .all(|p| p.passes.unwrap_or(0) >= 1 && p.seconds.is_some()));
    }
    assert!(r
        .checks
        .iter()
        .filter(|c| c.id.contains(".memtest."))
        .all(|c| c.verdict == Verdict::Pass));
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s:?} in {text}"));
    for (gpu, other) in [(0, 1), (1, 0)] {
        let allocated = at(&format!("gpu{gpu}: memory test over"));
        let other_last = at(&format!("[7/7] gpu{other}.memtest.stress: no error"));
        assert!(
            allocated < other_last,
            "GPU {gpu} waited for GPU {other}:\n{text}"
        );
    }
    let complete = r.checks.iter().find(|c| c.id == "run.complete").unwrap();
    assert!(
        complete
            .reason
            .contains("the memory test of 2 GPU(s), 14 pattern(s) run to their end"),
        "{}",
        complete.reason
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for line in [
        "- **pass** GPU 0: ",
        "- **pass** GPU 1: ",
        "| gpu1 | stress | ",
    ] {
        assert!(md.contains(line), "{line}: {md}");
    }
    // A share above 100 % (or below 1 %) is refused before anything is created.
    for bad in ["101", "0.5", "lots"] {
        let out = tmp.path().join(format!("bad-{bad}"));
        let o = crate::gpugate(&[
            "memtest",
            "--memory-share",
            bad,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = crate::stderr(&o);
        assert!(err.contains("--memory-share"), "{bad}: {err}");
        assert!(!out.exists(), "{bad}: the run created {}", out.display());
    }
}
