//! Real run.json files from real machines: they must load, gate the same way again, and render.

use super::*;
use std::path::Path;

use gpugate::model::RunReport;

fn load(name: &str) -> RunReport {
    gpugate::report::load_run(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_loads_and_regates_to_the_same_verdict() {
    let dir = std::fs::read_dir(fixture("")).unwrap();
    let mut n = 0;
    for e in dir {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        n += 1;
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let r = load(&name);
        assert_eq!(r.complete, r.interrupted.is_none(), "{name}");
        let d = gpugate::gate::redecide(&r);
        assert_eq!(
            d.verdict, r.verdict,
            "{name}: re-gating changed the verdict"
        );
        assert_eq!(d.exit_code, r.exit_code, "{name}");
        // Every stored check is decided again, with the same verdict (newer rules may add
        // checks, e.g. run.complete to a schema 1 file).
        for c in &r.checks {
            let again = d.checks.iter().find(|x| x.id == c.id);
            assert_eq!(
                again.map(|x| x.verdict),
                Some(c.verdict),
                "{name}: {}",
                c.id
            );
        }
    }
    assert!(n >= 1, "no fixtures found");
}

#[test]
fn the_no_gpu_fixture_says_why_the_gpu_checks_failed() {
    let r = load("no-gpu-host-quick.run.json");
    let reason = r
        .gpu_unavailable
        .clone()
        .expect("the no-GPU run records why");
    let failing: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.verdict == gpugate::model::Verdict::Fail)
        .collect();
    assert!(!failing.is_empty());
    assert!(failing
        .iter()
        .any(|c| c.reason.contains(&reason) || c.reason.to_lowercase().contains("gpu")));
}

/// A real run interrupted by SIGINT (on a machine without a GPU, gated against g2.large): it
/// records the interruption, every target of the profile is a check, and it fails, by its
/// run.complete check among others, in every report.
#[test]
fn the_interrupted_fixture_fails_in_every_report_with_every_check() {
    let mut r = load("interrupted-g2.large-quick.schema2.run.json");
    let i = r.interrupted.clone().expect("recorded");
    assert_eq!(i.signal, "SIGINT");
    assert_eq!(r.results.len(), i.finished_workloads);
    gpugate::report::decide_again(&mut r);
    assert_eq!(r.exit_code, 1);
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    for t in [
        "fp32_gemm",
        "fp64_gemm",
        "stream_triad",
        "h2d",
        "d2h",
        "video_me",
        "nvenc_h264",
    ] {
        assert!(ids.contains(&format!("gpu0.{t}").as_str()), "{ids:?}");
    }
    let complete = r.checks.iter().find(|c| c.id == "run.complete").unwrap();
    assert_eq!(complete.verdict, gpugate::model::Verdict::Fail);
    for (name, text) in gpugate::report::render_all(&r) {
        if name.ends_with(".svg") || name == "run.json" {
            continue;
        }
        assert!(
            text.contains("INCOMPLETE") || name == "junit.xml",
            "{name} has no banner"
        );
        if name == "junit.xml" {
            let suite = crate::junit::assert_matches_run(&text, &r);
            assert_eq!(suite.property("complete"), Some("false"));
        }
    }
}

/// run.json files of schemas 1 to 3 wrote a measurement's warnings as text; read today, each
/// is a typed warning that says the very same text, so their reports list what they listed.
/// The sampler's and the run's own warnings of schemas 2 and 3 are recognised (none is left as
/// `Other`); schema 1's "another process, clock changes" (on host results too) is kept as it was.
#[test]
fn old_text_warnings_are_read_typed_and_say_the_same() {
    use gpugate::model::MeasurementWarning;
    use gpugate::report::Reporter;
    let mut recognised = 0;
    for name in [
        "no-gpu-host-quick.run.json",
        "no-gpu-g2.2xlarge-quick.run.json",
        "interrupted-g2.large-quick.schema2.run.json",
        "no-gpu-auto-quick.schema2.run.json",
        "no-gpu-g2.large-quick.schema3.run.json",
    ] {
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
        let r = load(name);
        assert!(r.schema_version < 4, "{name}");
        let report = gpugate::report::Markdown.render(&r);
        // Written again (`gpugate report --out`), the run is in this gpugate's schema and says the same.
        let again = gpugate::report::parse_run(&gpugate::report::Json.render(&r), Path::new(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again.schema_version, gpugate::model::SCHEMA_VERSION);
        assert_eq!(
            gpugate::report::Markdown.render(&again),
            report,
            "{name}: written again, it renders otherwise"
        );
        for (w, stored) in r.results.iter().zip(raw["results"].as_array().unwrap()) {
            let (Some(m), Some(texts)) =
                (&w.measurement, stored["measurement"]["warnings"].as_array())
            else {
                continue;
            };
            let said: Vec<String> = m.warnings.iter().map(|x| x.to_string()).collect();
            let written: Vec<&str> = texts.iter().map(|t| t.as_str().unwrap()).collect();
            assert_eq!(said, written, "{name}: {}", w.id);
            for x in &m.warnings {
                if r.schema_version >= 2 {
                    assert!(
                        !matches!(x, MeasurementWarning::Other { .. }),
                        "{name}: {x:?}"
                    );
                    recognised += 1;
                }
                // An interruption is listed as it was written, host results' too.
                if matches!(x, MeasurementWarning::Interrupted { .. }) {
                    assert!(report.contains(&x.to_string()), "{name}: {x}");
                }
            }
        }
    }
    assert!(recognised >= 100, "{recognised}");
}

/// Every committed fixture, decided again and rendered by today's binary, matches its committed
/// rendering byte for byte (tests/fixtures/rendered/<fixture>/): a change to the rules or the
/// renderers shows here as a diff to review, never silently. `UPDATE_SNAPSHOTS=1` rewrites them.
#[test]
fn every_fixture_renders_as_committed() {
    let stale = stale_renderings(
        &fixture(""),
        update_requested(std::env::var_os("UPDATE_SNAPSHOTS").as_deref()),
    );
    assert!(
        stale.is_empty(),
        "renderings differ from the committed ones (review, then UPDATE_SNAPSHOTS=1):\n{}",
        stale.join("\n")
    );
}

/// Whether `UPDATE_SNAPSHOTS` asks to rewrite the renderings: only the value `1` does (as for
/// the unit tests' snapshots); unset, `0`, empty or anything else compares.
fn update_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// The renderings under `fixtures/rendered/` that differ from what today's binary gives for
/// the run.json files in `fixtures` (rewriting them first when `update`).
fn stale_renderings(fixtures: &Path, update: bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".run.json"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut stale = Vec::new();
    for name in names {
        let path = fixtures.join(&name);
        let mut r = gpugate::report::load_run(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        gpugate::report::decide_again(&mut r);
        let dir = fixtures
            .join("rendered")
            .join(name.trim_end_matches(".run.json"));
        for (file, text) in gpugate::report::render_all(&r) {
            if file == "junit.xml" {
                crate::junit::assert_matches_run(&text, &r);
            }
            let path = dir.join(&file);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    stale
}

/// Only `UPDATE_SNAPSHOTS=1` rewrites the committed renderings: with `0` (or any other value) a
/// stale rendering is reported, not overwritten (it once reacted to any value, so
/// `UPDATE_SNAPSHOTS=0` rewrote them all and passed).
#[test]
fn only_update_snapshots_1_rewrites_the_renderings() {
    use std::ffi::OsStr;
    for (value, update) in [
        (None, false),
        (Some("0"), false),
        (Some(""), false),
        (Some("no"), false),
        (Some("1"), true),
    ] {
        assert_eq!(update_requested(value.map(OsStr::new)), update, "{value:?}");
    }
    // On a copy of one fixture with a stale rendering: compared, it is reported and left as it
    // was; rewritten, it is fixed.
    let dir = tempfile::tempdir().unwrap();
    let name = "no-gpu-host-quick";
    std::fs::copy(
        fixture(&format!("{name}.run.json")),
        dir.path().join(format!("{name}.run.json")),
    )
    .unwrap();
    let rendered = dir.path().join("rendered").join(name);
    std::fs::create_dir_all(&rendered).unwrap();
    for e in std::fs::read_dir(fixture("rendered").join(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), rendered.join(e.file_name())).unwrap();
    }
    let md = rendered.join("report.md");
    std::fs::write(&md, "stale\n").unwrap();
    let stale = stale_renderings(dir.path(), update_requested(Some(OsStr::new("0"))));
    assert_eq!(stale, [md.display().to_string()]);
    assert_eq!(std::fs::read_to_string(&md).unwrap(), "stale\n");
    assert!(stale_renderings(dir.path(), true).is_empty());
    assert!(stale_renderings(dir.path(), false).is_empty());
    assert_ne!(std::fs::read_to_string(&md).unwrap(), "stale\n");
}
