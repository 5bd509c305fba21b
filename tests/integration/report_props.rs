//! Property tests: `gpugate report` over random mutations of the real fixtures never panics.
//! Every case ends as the command would: a report decided again (exit 0, 1 or 3), or a
//! refusal (exit 2) with a message that names the file.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// The fixtures' texts, read once.
fn fixtures() -> &'static [String] {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        let mut v: Vec<_> = std::fs::read_dir(fixture(""))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        v.sort();
        v.iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node of a JSON document, as a path from the root.
fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                at.push(Step::Key(k.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Step::Index(i));
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, s| match s {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// Values a careless or hostile edit puts into a run.json.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            Just(0.0),
            Just(-1.0),
            Just(1e308),
            Just(-1e-308),
            Just(256.0),
            any::<f64>().prop_filter("JSON numbers are finite", |x| x.is_finite())
        ]
        .prop_map(Value::from),
        "[a-z<>&\" ]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("pass"),
            Just("fail"),
            Just("inconclusive"),
            Just("skipped"),
            Just("cuda"),
            Just("host"),
            Just("gpu0.fp32_gemm"),
            Just("auto"),
            Just("builtin"),
        ]
        .prop_map(Value::from),
        Just(Value::Array(vec![])),
        Just(Value::Object(Default::default())),
    ]
}

/// One edit: 0 replaces the node, 1 deletes it from its parent, 2 duplicates it in its
/// parent array (or replaces it, at the root).
fn mutate(text: &str, pick: prop::sample::Index, how: u8, new: Value) -> String {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    let mut all = Vec::new();
    paths(&doc, &mut Vec::new(), &mut all);
    let path = all[pick.index(all.len())].clone();
    match (how, path.split_last()) {
        (1, Some((last, parent))) => match (node(&mut doc, parent), last) {
            (Value::Object(o), Step::Key(k)) => {
                o.remove(k);
            }
            (Value::Array(a), Step::Index(i)) => {
                a.remove(*i);
            }
            _ => {}
        },
        (2, Some((Step::Index(i), parent))) => {
            if let Value::Array(a) = node(&mut doc, parent) {
                let x = a[*i].clone();
                a.insert(*i, x);
            }
        }
        _ => *node(&mut doc, &path) = new,
    }
    serde_json::to_string_pretty(&doc).unwrap()
}

/// What `gpugate report` does with a run.json's text, in memory: the exit code, and the
/// message where it is 2.
fn report_of(text: &str) -> (i32, String) {
    let path = Path::new("/fuzz/run.json");
    match gpugate::report::parse_run(text, path) {
        Ok(mut r) => {
            gpugate::report::decide_again(&mut r);
            let outputs = gpugate::report::render_all(&r);
            assert!(outputs
                .iter()
                .any(|(n, t)| n == "junit.xml" && t.contains("<testsuites")));
            (r.exit_code, String::new())
        }
        Err(e) => (2, e.to_string()),
    }
}

fn assert_exit(code: i32, message: &str) {
    assert!([0, 1, 2, 3].contains(&code), "exit {code}");
    if code == 2 {
        assert!(message.contains("/fuzz/run.json"), "{message}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn report_over_edited_fixtures_never_panics(
        which in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
        how in 0u8..3,
        new in value(),
    ) {
        let texts = fixtures();
        let text = mutate(&texts[which.index(texts.len())], pick, how, new);
        let (code, message) = report_of(&text);
        assert_exit(code, &message);
    }

    #[test]
    fn report_over_damaged_bytes_never_panics(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        how in 0u8..3,
        byte in any::<u8>(),
    ) {
        let texts = fixtures();
        let mut bytes = texts[which.index(texts.len())].clone().into_bytes();
        let i = at.index(bytes.len());
        match how {
            0 => bytes.truncate(i),
            1 => bytes[i] = byte,
            _ => bytes.insert(i, byte),
        }
        // Not UTF-8 any more: the file reader refuses it before parsing (tested apart).
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        let (code, message) = report_of(&text);
        assert_exit(code, &message);
    }
}

/// The same through the binary, for a few edits: what the process does, exit code and all.
#[test]
fn the_report_command_over_edited_fixtures_ends_in_a_known_exit_code() {
    use proptest::test_runner::{Config, TestRunner};
    let dir = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &(
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                0u8..3,
                value(),
            ),
            |(which, pick, how, new)| {
                let texts = fixtures();
                let text = mutate(&texts[which.index(texts.len())], pick, how, new);
                let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = dir.path().join(format!("{i}.json"));
                std::fs::write(&p, &text).unwrap();
                let out = dir.path().join(format!("out{i}"));
                let o = gpugate(&[
                    "report",
                    p.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ]);
                let code = o.status.code().expect("exited, not killed by a signal");
                assert!([0, 1, 2, 3].contains(&code), "exit {code}: {}", stderr(&o));
                assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
                if code == 2 {
                    assert!(stderr(&o).starts_with("gpugate: error: "), "{}", stderr(&o));
                } else {
                    assert!(out.join("latest/junit.xml").is_file());
                }
                Ok(())
            },
        )
        .unwrap();
}
