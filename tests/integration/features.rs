//! The release binaries the README builds (`cargo build --release -p gpugate -p gpugate-sim`)
//! and the tests `.ci/test` runs (`cargo test --workspace --release`) are one build only while
//! every crate of the first resolves the same features in the second: Cargo turns on for the
//! tests the features their dev-dependencies ask of shared crates, and a crate built with other
//! features is built again, with everything above it (gpugate included: minutes on a 2-core
//! machine). Cargo.toml names those features for the release build (serde's `alloc`,
//! bitflags' `std`); this test finds a new one, from `cargo tree`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each package (`name vX.Y.Z`) of the tree and its features, with or without dev-dependencies.
fn features(with_dev: bool) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args([
        "tree",
        "--offline",
        "-e",
        "features",
        "-p",
        "gpugate",
        "-p",
        "gpugate-sim",
        "-f",
        "{p} {f}",
        "--prefix",
        "none",
    ]);
    if !with_dev {
        cmd.args(["--edges", "normal,build"]);
    }
    let o = cmd.output().expect("cargo tree runs");
    assert!(
        o.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        // "serde v1.0.229 default,derive,std" (a package); "serde feature \"std\"" (a feature
        // node, skipped); "(*)" marks a repeat.
        let mut parts = line.split_whitespace();
        let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !version.starts_with('v') {
            continue;
        }
        let feats = parts
            .next()
            .filter(|f| !f.starts_with('('))
            .map(|f| f.split(',').map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default();
        out.entry(format!("{name} {version}"))
            .or_default()
            .extend(feats);
    }
    out
}

#[test]
fn the_tests_resolve_the_release_builds_features() {
    // The device bundle runs the test executables on a GPU machine without cargo or the
    // simulator: the build it would check is not there.
    if crate::sim::stand_down_for_the_real_gpu("the_tests_resolve_the_release_builds_features") {
        return;
    }
    let release = features(false);
    let tests = features(true);
    assert!(
        release.keys().any(|k| k.starts_with("serde v")),
        "cargo tree lists no serde: {release:?}"
    );
    let differ: Vec<String> = release
        .iter()
        .filter_map(|(pkg, feats)| {
            let more: Vec<&String> = tests.get(pkg)?.difference(feats).collect();
            (!more.is_empty()).then(|| format!("{pkg}: the tests add {more:?}"))
        })
        .collect();
    assert!(
        differ.is_empty(),
        "the dev-dependencies turn on features the release build lacks, so `.ci/test` would \
         build these crates (and gpugate) twice; name the features in Cargo.toml's \
         [dependencies] as serde's alloc is:\n{}",
        differ.join("\n")
    );
}
