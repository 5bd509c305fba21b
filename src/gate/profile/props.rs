//! Property tests of the profile parser: whatever the text, `parse_profile` returns (it never
//! panics); every error names the origin and says what is wrong; every profile it accepts keeps
//! the promises `validate` makes (positive finite specs, pass fractions in (0, 1], one spec
//! key in the metric's unit, non-negative sizes, no target given twice) and survives a round
//! trip through TOML.
//!
//! Four sources of text: arbitrary strings (and TOML-like noise, and random bytes made
//! UTF-8); TOML built from the real keys with values of every type and range, keys left out,
//! stray and repeated, [machine] missing or twice, targets given twice; the built-in profiles
//! with lines deleted, duplicated, swapped, inserted or given random values, or cut short; and
//! valid profiles with one number out of its key's range, which must be refused by name.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::*;

const ORIGIN: &str = "fuzz.toml";

/// Cases per property: the five properties and the outcome census together take about 2.5 s
/// on one thread of a debug build.
const CASES: u32 = 2000;

// --------------------------------------------------------------------------------- oracle

/// The outcome of parsing `text` keeps the parser's promises.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse_profile(text, ORIGIN) {
        Ok(p) => check_profile(&p),
        Err(e) => check_error(&e, text),
    }
}

fn check_profile(p: &Profile) -> Result<(), TestCaseError> {
    prop_assert!(!p.name.trim().is_empty(), "empty name accepted");
    let m = &p.machine;
    for (key, v) in [
        ("min_gpu_memory_gb", m.min_gpu_memory_gb),
        ("host_memory_gb", m.host_memory_gb),
        ("local_disk_gb", m.local_disk_gb),
    ] {
        if let Some(v) = v {
            prop_assert!(v.is_finite() && v >= 0.0, "{key} = {v} accepted");
        }
    }
    for (i, t) in p.targets.iter().enumerate() {
        let spec = t.spec();
        prop_assert!(spec.is_finite() && spec > 0.0, "target {i}: spec {spec}");
        prop_assert!(
            t.pass_fraction > 0.0 && t.pass_fraction <= 1.0,
            "target {i}: pass_fraction {}",
            t.pass_fraction
        );
        let required = t.required();
        prop_assert!(
            required.is_finite() && required > 0.0,
            "target {i}: {required}"
        );
        let given: Vec<&str> = [
            ("spec_tflops", t.spec_tflops),
            ("spec_gbps", t.spec_gbps),
            ("spec_fps", t.spec_fps),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|_| k))
        .collect();
        prop_assert_eq!(given, vec![t.metric.spec_key()], "target {}", i);
        prop_assert!(!t.source.trim().is_empty(), "target {i}: empty source");
        prop_assert!(t.scope == Scope::Gpu || t.gpu.is_none(), "target {i}");
        prop_assert!(m.gpu_count > 0, "targets on a machine without GPUs");
        for u in &p.targets[i + 1..] {
            prop_assert!(
                (t.metric, t.scope, t.gpu) != (u.metric, u.scope, u.gpu),
                "duplicate target {:?}",
                t.metric
            );
        }
    }
    let text = toml::to_string(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
    match parse_profile(&text, "round trip") {
        Ok(back) => prop_assert_eq!(&back, p, "round trip through\n{}", text),
        Err(e) => prop_assert!(false, "the round trip fails: {e}\n{text}"),
    }
    Ok(())
}

fn check_error(e: &ProfileError, text: &str) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    prop_assert!(
        shown.starts_with(ORIGIN),
        "the origin is not named: {shown}"
    );
    prop_assert!(
        shown.len() > ORIGIN.len() + 10,
        "says nothing about what is wrong: {shown}"
    );
    // A located error points inside the text: at most one line past its last.
    let lines = text.matches('\n').count() + 1;
    let (line, column) = match e {
        ProfileError::Malformed {
            line,
            column,
            message,
            ..
        } => {
            prop_assert!(!message.trim().is_empty(), "empty message: {shown}");
            (*line, *column)
        }
        ProfileError::UnknownMetric { line, column, .. } => (*line, *column),
        ProfileError::Invalid { message, .. } => {
            prop_assert!(!message.trim().is_empty(), "empty message: {shown}");
            (1, 1)
        }
        ProfileError::MissingUnit { problem, .. } => {
            prop_assert!(!problem.trim().is_empty(), "empty problem: {shown}");
            (1, 1)
        }
        ProfileError::UnknownName { .. } | ProfileError::Io { .. } => {
            return Err(TestCaseError::fail(format!("not a parse error: {shown}")))
        }
    };
    prop_assert!(
        (1..=lines).contains(&line) && column >= 1,
        "{line}:{column} is outside the {lines} lines: {shown}"
    );
    Ok(())
}

// ------------------------------------------------------------------------------ TOML values

/// TOML text of a float, NaN and the infinities included.
fn toml_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        let s = format!("{v:?}");
        if s.contains(['.', 'e']) {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// A TOML value of any type, with the edge cases of each.
fn any_value() -> impl Strategy<Value = String> {
    let words = |w: &'static [&'static str]| prop::sample::select(w).prop_map(String::from);
    prop_oneof![
        words(&[
            "0",
            "1",
            "2",
            "-1",
            "28",
            "4294967295",
            "4294967296",
            "-4294967296",
            "9223372036854775807",
            "-9223372036854775808",
            "99999999999999999999",
            "0x10",
            "0o17",
            "0b1",
            "1_000",
            "+3",
            "007",
        ]),
        words(&[
            "0.0", "-0.0", "0.5", "0.6", "1.0", "1.5", "-7.0", "60.0", "1e308", "1e309", "-1e308",
            "5e-324", "1e-320", "nan", "+nan", "-nan", "inf", "+inf", "-inf", "1.", ".5", "1e",
            "1_0.5",
        ]),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(toml_float),
        words(&[
            "\"\"",
            "\" \"",
            "\"gpu\"",
            "\"machine\"",
            "\"GPU\"",
            "\"fp32_gemm\"",
            "\"fp16_gemm\"",
            "\"Tesla M40 24GB\"",
            "''",
            "'gpu'",
            "\"\\u00e9t\\u00e9\"",
            "\"\\uD800\"",
            "\"a\\\"b\"",
            "\"\"\"multi\nline\"\"\"",
            "'''multi\nline'''",
            "\"é☃\u{1F600}\"",
            "\"unterminated",
        ]),
        "[a-zA-Z0-9 _.]{0,12}".prop_map(|s| format!("\"{s}\"")),
        words(&[
            "true",
            "false",
            "[]",
            "[1, 2]",
            "[\"a\", 1]",
            "[[1], [2]]",
            "{}",
            "{ a = 1 }",
            "{ metric = \"fp32_gemm\" }",
            "1979-05-27T07:32:00Z",
            "1979-05-27",
            "07:32:00",
        ]),
        // Garbage where a value should be.
        "[^\n]{0,10}",
    ]
}

/// A required key: mostly a value it takes; sometimes left out, sometimes any value at all.
fn field(good: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        40 => good.prop_map(Some),
        1 => any_value().prop_map(Some),
    ]
}

/// An optional key: left out as often as given.
fn optional(good: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        12 => Just(None),
        12 => good.prop_map(Some),
        1 => any_value().prop_map(Some),
    ]
}

fn quoted(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    s.prop_map(|s| format!("\"{s}\""))
}

/// Numbers of the right type that no spec, fraction or size may be: the validation's edges.
fn out_of_range() -> impl Strategy<Value = String> {
    prop::sample::select(&[
        "0",
        "0.0",
        "-0.0",
        "-1",
        "-1.0",
        "-1e-300",
        "nan",
        "-nan",
        "inf",
        "-inf",
        "1.0000001",
        "1.5",
        "60",
        "1e308",
        "1e-320",
    ])
    .prop_map(String::from)
}

/// A spec value: mostly positive; one in ten at an edge of the range.
fn positive() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => (1e-3f64..1e5).prop_map(toml_float),
        1 => out_of_range(),
    ]
}

/// A pass fraction: mostly in (0, 1]; one in ten at an edge of the range.
fn fraction() -> impl Strategy<Value = String> {
    prop_oneof![
        7 => (0.01f64..=1.0).prop_map(toml_float),
        1 => Just("1.0".to_string()),
        1 => Just("1".to_string()),
        1 => out_of_range(),
    ]
}

/// `key = value` lines of the keys given.
fn render(lines: &mut String, fields: &[(&str, &Option<String>)]) {
    for (key, value) in fields {
        if let Some(v) = value {
            lines.push_str(&format!("{key} = {v}\n"));
        }
    }
}

/// Keys that do not belong, and keys of the wrong table.
const STRAY_KEYS: &[&str] = &[
    "gpu_kount",
    "min_gpu_memory",
    "spec",
    "min_fps",
    "spec_tflop",
    "\"\"",
    "\"quoted key\"",
    "a.b",
    "name",
    "metric",
    "gpu_count",
    "pass_fraction",
    "spec_tflops",
    "spec_gbps",
    "spec_fps",
];

fn stray() -> impl Strategy<Value = Vec<(String, String)>> {
    let pair = (
        prop::sample::select(STRAY_KEYS).prop_map(String::from),
        any_value(),
    );
    prop_oneof![
        30 => Just(Vec::new()),
        1 => prop::collection::vec(pair, 1..3),
    ]
}

fn render_stray(lines: &mut String, stray: &[(String, String)]) {
    for (k, v) in stray {
        lines.push_str(&format!("{k} = {v}\n"));
    }
}

// ------------------------------------------------------------------- structured profiles

fn machine() -> impl Strategy<Value = String> {
    let size = || {
        optional(prop_oneof![
            4 => (0.0f64..5000.0).prop_map(toml_float),
            1 => out_of_range(),
        ])
    };
    let count = |hi: u32| {
        optional(prop_oneof![
            20 => (0..=hi).prop_map(|v| v.to_string()),
            1 => prop::sample::select(&["-1", "4294967296", "1.0"][..]).prop_map(String::from),
        ])
    };
    (
        (
            optional(quoted("[a-zA-Z0-9 ]{0,16}")),
            field((1u32..=8).prop_map(|v| v.to_string())),
            size(),
            count(64),
            size(),
            size(),
        ),
        (
            count(7),
            count(32),
            count(4),
            stray(),
            prop::bool::weighted(0.95),
        ),
    )
        .prop_map(
            |(
                (gpu_model, gpu_count, min_mem, vcpus, host_mem, disk),
                (gen, width, nvenc, stray, header),
            )| {
                let mut s = if header {
                    "[machine]\n".to_string()
                } else {
                    // No header: the keys land in whatever table is open.
                    String::new()
                };
                render(
                    &mut s,
                    &[
                        ("gpu_model", &gpu_model),
                        ("gpu_count", &gpu_count),
                        ("min_gpu_memory_gb", &min_mem),
                        ("host_vcpus", &vcpus),
                        ("host_memory_gb", &host_mem),
                        ("local_disk_gb", &disk),
                        ("pcie_gen", &gen),
                        ("pcie_width", &width),
                        ("nvenc_engines", &nvenc),
                    ],
                );
                render_stray(&mut s, &stray);
                s
            },
        )
}

/// The spec key a target gets: its metric's own (mostly), another unit's, or a unitless one.
fn spec_key_for(metric: Option<Metric>, choice: usize) -> &'static str {
    const OTHERS: [&str; 5] = ["spec_tflops", "spec_gbps", "spec_fps", "spec", "min_tflops"];
    match (metric, choice) {
        (Some(m), 0..=5) => m.spec_key(),
        (None, 0..=5) => "spec_tflops",
        (_, c) => OTHERS[c % OTHERS.len()],
    }
}

fn target() -> impl Strategy<Value = String> {
    let metric = prop_oneof![
        30 => prop::sample::select(Metric::ALL.to_vec()).prop_map(|m| (Some(m), Some(format!("\"{m}\"")))),
        1 => any_value().prop_map(|v| (None, Some(v))),
        1 => Just((None, None)),
    ];
    let scope = field(prop::sample::select(vec!["\"gpu\"", "\"machine\""]).prop_map(String::from));
    let gpu = prop_oneof![
        12 => Just(None),
        4 => (0u32..3).prop_map(|g| Some(g.to_string())),
        1 => any_value().prop_map(Some),
    ];
    (
        (metric, scope, gpu),
        (0usize..8, field(positive()), field(fraction())),
        (field(quoted("[a-z ]{0,12}")), stray()),
    )
        .prop_map(
            |((metric, scope, gpu), (choice, spec, pass), (source, stray))| {
                let mut s = "[[target]]\n".to_string();
                let key = spec_key_for(metric.0, choice);
                render(
                    &mut s,
                    &[
                        ("metric", &metric.1),
                        ("scope", &scope),
                        ("gpu", &gpu),
                        (key, &spec),
                        ("pass_fraction", &pass),
                        ("source", &source),
                    ],
                );
                render_stray(&mut s, &stray);
                s
            },
        )
}

/// A whole profile: top-level keys, [machine] (first, last or twice) and 0 to 4 targets, one
/// of them sometimes given twice.
fn profile_text() -> impl Strategy<Value = String> {
    (
        field(quoted("[a-z0-9. ]{0,10}")),
        field(quoted("[a-z ]{0,10}")),
        stray(),
        machine(),
        prop::collection::vec(target(), 0..5),
        (0usize..8, prop::bool::weighted(0.3)),
    )
        .prop_map(
            |(name, description, stray, machine, mut targets, (place, twice))| {
                let mut s = String::new();
                render(&mut s, &[("name", &name), ("description", &description)]);
                render_stray(&mut s, &stray);
                if twice && !targets.is_empty() {
                    targets.push(targets[0].clone());
                }
                let targets = targets.concat();
                match place {
                    0 => s.push_str(&format!("{targets}{machine}")),
                    1 => s.push_str(&format!("{machine}{targets}{machine}")),
                    _ => s.push_str(&format!("{machine}{targets}")),
                }
                s
            },
        )
}

// ---------------------------------------------------------------- edits of the built-ins

#[derive(Debug, Clone)]
enum Edit {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    /// The value of a `key = value` line (or the whole line) becomes a random token.
    Value(prop::sample::Index, String),
    Insert(prop::sample::Index, String),
    /// Cut the text at a character.
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    use prop::sample::Index;
    let line = prop_oneof![
        (prop::sample::select(STRAY_KEYS), any_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        Just("[machine]".to_string()),
        Just("[[target]]".to_string()),
        "[^\n]{0,20}",
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Edit::Delete),
        2 => any::<Index>().prop_map(Edit::Duplicate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        4 => (any::<Index>(), any_value()).prop_map(|(i, v)| Edit::Value(i, v)),
        2 => (any::<Index>(), line).prop_map(|(i, l)| Edit::Insert(i, l)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cut = None;
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match e {
            Edit::Delete(i) => {
                lines.remove(i.index(n));
            }
            Edit::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            Edit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            Edit::Value(i, v) => {
                let l = &mut lines[i.index(n)];
                *l = match l.split_once('=') {
                    Some((key, _)) => format!("{key}= {v}"),
                    None => v.clone(),
                };
            }
            Edit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
            Edit::Truncate(i) => cut = Some(*i),
        }
    }
    let mut text = lines.join("\n");
    if let Some(i) = cut {
        let at: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        if !at.is_empty() {
            text.truncate(at[i.index(at.len())]);
        }
    }
    text
}

// ---------------------------------------------------------------- one value out of range

/// What a number means, and so which values it may not take.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Spec,
    Fraction,
    Size,
}

impl Kind {
    /// Values of the right type out of the key's range.
    fn bad(self) -> &'static [&'static str] {
        match self {
            Kind::Spec => &[
                "0", "0.0", "-0.0", "-1", "-1e-300", "nan", "-nan", "inf", "-inf",
            ],
            Kind::Fraction => &[
                "0",
                "0.0",
                "-0.0",
                "-0.5",
                "nan",
                "inf",
                "-inf",
                "1.0000001",
                "1.5",
                "60",
            ],
            Kind::Size => &["-1", "-1e-300", "nan", "-nan", "inf", "-inf"],
        }
    }
}

/// A profile with every value in range, as lines, and the lines that hold a checked number:
/// (line, kind, key).
type Numbered = (Vec<String>, Vec<(usize, Kind, &'static str)>);

fn valid_profile() -> impl Strategy<Value = Numbered> {
    (
        1u32..=8,
        prop::collection::vec(prop::option::of(0.0f64..5000.0), 3),
        prop::sample::subsequence(Metric::ALL.to_vec(), 1..5),
        prop::collection::vec((1e-3f64..1e5, 0.01f64..=1.0), 4),
    )
        .prop_map(|(count, sizes, metrics, values)| {
            let mut lines: Vec<String> = vec![
                "name = \"p\"".into(),
                "description = \"\"".into(),
                "[machine]".into(),
                format!("gpu_count = {count}"),
            ];
            let mut numbers = Vec::new();
            let mut number = |lines: &mut Vec<String>, kind, key: &'static str, v: f64| {
                numbers.push((lines.len(), kind, key));
                lines.push(format!("{key} = {}", toml_float(v)));
            };
            for (key, v) in ["min_gpu_memory_gb", "host_memory_gb", "local_disk_gb"]
                .into_iter()
                .zip(sizes)
            {
                if let Some(v) = v {
                    number(&mut lines, Kind::Size, key, v);
                }
            }
            for (m, (spec, pass)) in metrics.iter().zip(values) {
                lines.push("[[target]]".into());
                lines.push(format!("metric = \"{m}\""));
                lines.push("scope = \"gpu\"".into());
                number(&mut lines, Kind::Spec, m.spec_key(), spec);
                number(&mut lines, Kind::Fraction, "pass_fraction", pass);
                lines.push("source = \"s\"".into());
            }
            (lines, numbers)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// A profile that is valid but for one number out of its key's range (a spec that is not
    /// positive and finite, a pass fraction outside (0, 1], a size that is negative or not
    /// finite) is refused, and the message names the key.
    #[test]
    fn a_value_out_of_range_is_refused_naming_its_key(
        (lines, numbers) in valid_profile(),
        pick in any::<prop::sample::Index>(),
        bad in any::<prop::sample::Index>(),
    ) {
        let text = lines.join("\n");
        match parse_profile(&text, ORIGIN) {
            Ok(p) => check_profile(&p)?,
            Err(e) => prop_assert!(false, "premise: the valid profile is refused: {e}\n{text}"),
        }
        let (at, kind, key) = *pick.get(&numbers);
        let value = *bad.get(kind.bad());
        let mut lines = lines;
        lines[at] = format!("{key} = {value}");
        let text = lines.join("\n");
        match parse_profile(&text, ORIGIN) {
            Ok(_) => prop_assert!(false, "{key} = {value} accepted"),
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(
                    matches!(e, ProfileError::Invalid { .. }),
                    "{key} = {value}: {shown}"
                );
                prop_assert!(shown.contains(&format!("{key} = ")), "{key} = {value}: {shown}");
            }
        }
    }

    #[test]
    fn any_string_is_answered(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn toml_like_noise_and_lossy_bytes_are_answered(
        noise in "[\\[\\]{}=\"'.,#a-z_0-9 \t\n+\\-\\\\é]{0,200}",
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        check(&noise)?;
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn structured_profiles_are_answered(text in profile_text()) {
        check(&text)?;
    }

    #[test]
    fn edited_builtin_profiles_are_answered(
        which in 0..BUILTIN.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        check(&apply(BUILTIN[which].1, &edits))?;
    }
}

/// The structured generator reaches the parser's every stage: some profiles are accepted, and
/// each kind of refusal happens (else the properties above would test less than they say).
#[test]
fn structured_profiles_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = profile_text();
    let mut seen = std::collections::BTreeMap::new();
    let n = 1000;
    for _ in 0..n {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        let outcome = match parse_profile(&text, ORIGIN) {
            Ok(p) if p.targets.is_empty() => "accepted, no targets",
            Ok(_) => "accepted, with targets",
            Err(ProfileError::Malformed { .. }) => "malformed",
            Err(ProfileError::UnknownMetric { .. }) => "unknown metric",
            Err(ProfileError::MissingUnit { .. }) => "missing unit",
            Err(ProfileError::Invalid { message, .. }) if message.contains("both") => "duplicate",
            Err(ProfileError::Invalid { .. }) => "invalid",
            Err(_) => "other",
        };
        *seen.entry(outcome).or_insert(0) += 1;
    }
    for outcome in [
        "accepted, no targets",
        "accepted, with targets",
        "malformed",
        "unknown metric",
        "missing unit",
        "duplicate",
        "invalid",
    ] {
        let count = seen.get(outcome).copied().unwrap_or(0);
        assert!(count >= n / 200, "{outcome}: {count} of {n}: {seen:?}");
    }
}
