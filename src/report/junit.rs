//! junit.xml: every check as a JUnit test case, for CI systems and schedulers that read JUnit.
//!
//! Stable names: the test case name is the check id (`gpu0.fp32_gemm`, `machine.gpu_count`, …),
//! the class name its kind. FAIL is a `<failure>`, INCONCLUSIVE a `<failure type="inconclusive">`
//! (it is not a pass: the exit code is 3), SKIPPED a `<skipped>` with the reason.

use std::fmt::Write;

use super::{fmt_opt, Reporter};
use crate::model::{Check, CheckKind, RunReport, Verdict};

/// The JUnit reporter (junit.xml).
#[derive(Debug, Clone, Copy, Default)]
pub struct Junit;

pub use crate::util::xml_escape;

impl Reporter for Junit {
    fn file_name(&self) -> &'static str {
        "junit.xml"
    }

    fn render(&self, r: &RunReport) -> String {
        let mut o = String::new();
        let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        suite_headers(&mut o, r);
        properties(&mut o, r);
        for c in &r.checks {
            testcase(&mut o, c);
        }
        let _ = writeln!(o, "  </testsuite>");
        let _ = writeln!(o, "</testsuites>");
        o
    }
}

/// The opening `<testsuites>` and `<testsuite>` elements, with the checks' tallies.
fn suite_headers(o: &mut String, r: &RunReport) {
    let count = |v: Verdict| r.checks.iter().filter(|c| c.verdict == v).count();
    let failures = count(Verdict::Fail) + count(Verdict::Inconclusive);
    let _ = writeln!(
        o,
        r#"<testsuites name="gpugate" tests="{}" failures="{failures}" skipped="{}">"#,
        r.checks.len(),
        count(Verdict::Skipped)
    );
    let _ = writeln!(
        o,
        r#"  <testsuite name="gpugate.{}" tests="{}" failures="{failures}" skipped="{}" timestamp="{}">"#,
        xml_escape(&r.profile.name),
        r.checks.len(),
        count(Verdict::Skipped),
        xml_escape(&r.started_at)
    );
}

/// The suite's `<properties>`: the run's verdict, exit code, completeness, seed, level, tool
/// version and GPU state.
fn properties(o: &mut String, r: &RunReport) {
    let _ = writeln!(o, "    <properties>");
    for (k, v) in [
        ("verdict", r.verdict.to_string()),
        ("exit_code", r.exit_code.to_string()),
        ("complete", r.complete.to_string()),
        (
            "interrupted",
            r.interrupted
                .as_ref()
                .map(|i| i.signal.clone())
                .unwrap_or_default(),
        ),
        ("seed", r.seed.to_string()),
        ("level", r.level.to_string()),
        ("tool_version", r.tool.version.clone()),
        (
            "gpu_unavailable",
            r.gpu_unavailable.clone().unwrap_or_default(),
        ),
        ("simulated", r.simulated().to_string()),
        ("allow_simulated", r.allow_simulated.to_string()),
    ] {
        let _ = writeln!(
            o,
            r#"      <property name="{k}" value="{}"/>"#,
            xml_escape(&v)
        );
    }
    let _ = writeln!(o, "    </properties>");
}

/// One check as a `<testcase>`, with a `<failure>` or `<skipped>` unless it passed.
fn testcase(o: &mut String, c: &Check) {
    let kind = match c.kind {
        CheckKind::Performance => "performance",
        CheckKind::Correctness => "correctness",
        CheckKind::Inventory => "inventory",
        CheckKind::Run => "run",
    };
    let _ = writeln!(
        o,
        r#"    <testcase classname="gpugate.{kind}" name="{}" time="0">"#,
        xml_escape(&c.id)
    );
    let failure = |o: &mut String, kind: &str| {
        let _ = writeln!(
            o,
            r#"      <failure type="{kind}" message="{}">{}</failure>"#,
            xml_escape(&c.reason),
            xml_escape(&detail(c))
        );
    };
    match c.verdict {
        Verdict::Pass => {}
        Verdict::Fail => failure(o, "fail"),
        Verdict::Inconclusive => failure(o, "inconclusive"),
        Verdict::Skipped => {
            let _ = writeln!(o, r#"      <skipped message="{}"/>"#, xml_escape(&c.reason));
        }
    }
    let _ = writeln!(o, "    </testcase>");
}

/// A failure's text: the title, observed and required values, percent of spec, the reason and
/// the hint.
fn detail(c: &Check) -> String {
    let mut detail = c.title.clone();
    if c.observed.is_some() || c.required.is_some() {
        let _ = write!(
            detail,
            ": observed {} {unit}, required {} {unit}",
            fmt_opt(c.observed, &c.unit),
            fmt_opt(c.required, &c.unit),
            unit = c.unit
        );
    }
    if let Some(p) = c.percent_of_spec {
        let _ = write!(detail, " ({p:.1}% of spec)");
    }
    let _ = write!(detail, ". {}", c.reason);
    if !c.hint.is_empty() {
        let _ = write!(detail, " Hint: {}", c.hint);
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            xml_escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(xml_escape("x\u{1}y"), "x y");
    }
}
