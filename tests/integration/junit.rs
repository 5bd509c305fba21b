//! junit.xml as a JUnit consumer reads it (Jenkins' JUnit plugin, GitLab's test reports,
//! junitparser): the suites with their declared `tests`, `failures`, `errors` and `skipped`
//! counts, and each test case's class, name and outcome — a `<failure>`, `<error>` or
//! `<skipped>` child, or none for a pass. Parsed as XML (roxmltree), never by substring: a file
//! a consumer cannot parse, or whose declared counts disagree with its cases, is an error.

// Each test file uses a part of this module.
#![allow(dead_code)]

use gpugate::model::{RunReport, Verdict};

/// A test case's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// `<failure type=… message=…>text</failure>`.
    Failure {
        kind: String,
        message: String,
        text: String,
    },
    Error {
        message: String,
    },
    Skipped {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
    /// `<property name value>` pairs, in order.
    pub properties: Vec<(String, String)>,
}

impl Suite {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }
    pub fn failures(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failure { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn case(&self, name: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.name == name)
    }
}

fn count_attr(n: roxmltree::Node, attr: &str) -> Result<Option<usize>, String> {
    n.attribute(attr)
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| format!("<{}> {attr}=\"{v}\" is not a count", n.tag_name().name()))
        })
        .transpose()
}

/// Checks that `n` declares the counts `cases` has (absent attributes are not checked, as a
/// consumer computes them itself).
fn declared_counts_agree(n: roxmltree::Node, cases: &[&Case]) -> Result<(), String> {
    let count = |f: &dyn Fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count();
    for (attr, actual) in [
        ("tests", cases.len()),
        ("failures", count(&|o| matches!(o, Outcome::Failure { .. }))),
        ("errors", count(&|o| matches!(o, Outcome::Error { .. }))),
        ("skipped", count(&|o| matches!(o, Outcome::Skipped { .. }))),
    ] {
        if let Some(declared) = count_attr(n, attr)? {
            if declared != actual {
                return Err(format!(
                    "<{} name={:?}> declares {attr}=\"{declared}\" but has {actual}",
                    n.tag_name().name(),
                    n.attribute("name").unwrap_or("")
                ));
            }
        }
    }
    Ok(())
}

fn case(n: roxmltree::Node) -> Result<Case, String> {
    let name = n
        .attribute("name")
        .ok_or("a <testcase> without a name")?
        .to_string();
    let outcomes: Vec<Outcome> = n
        .children()
        .filter(|c| c.is_element())
        .filter_map(|c| {
            let message = c.attribute("message").unwrap_or("").to_string();
            match c.tag_name().name() {
                "failure" => Some(Outcome::Failure {
                    kind: c.attribute("type").unwrap_or("").to_string(),
                    message,
                    text: c.text().unwrap_or("").to_string(),
                }),
                "error" => Some(Outcome::Error { message }),
                "skipped" => Some(Outcome::Skipped { message }),
                _ => None,
            }
        })
        .collect();
    if outcomes.len() > 1 {
        return Err(format!("test case {name} has {} outcomes", outcomes.len()));
    }
    Ok(Case {
        classname: n.attribute("classname").unwrap_or("").to_string(),
        name,
        outcome: outcomes.into_iter().next().unwrap_or(Outcome::Passed),
    })
}

/// The suites of a junit.xml, as a consumer reads them; an error for a file it could not read
/// or whose counts disagree with its cases.
pub fn read(xml: &str) -> Result<Vec<Suite>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    let suite_nodes: Vec<roxmltree::Node> = match root.tag_name().name() {
        "testsuites" => root
            .children()
            .filter(|c| c.has_tag_name("testsuite"))
            .collect(),
        "testsuite" => vec![root],
        other => return Err(format!("root element <{other}>, not <testsuites>")),
    };
    let mut suites = Vec::new();
    for s in suite_nodes {
        let cases = s
            .children()
            .filter(|c| c.has_tag_name("testcase"))
            .map(case)
            .collect::<Result<Vec<_>, _>>()?;
        declared_counts_agree(s, &cases.iter().collect::<Vec<_>>())?;
        let properties = s
            .children()
            .filter(|c| c.has_tag_name("properties"))
            .flat_map(|p| p.children().filter(|c| c.has_tag_name("property")))
            .map(|p| {
                (
                    p.attribute("name").unwrap_or("").to_string(),
                    p.attribute("value").unwrap_or("").to_string(),
                )
            })
            .collect();
        suites.push(Suite {
            name: s.attribute("name").unwrap_or("").to_string(),
            cases,
            properties,
        });
    }
    if root.has_tag_name("testsuites") {
        let all: Vec<&Case> = suites.iter().flat_map(|s| &s.cases).collect();
        declared_counts_agree(root, &all)?;
    }
    Ok(suites)
}

/// The one suite of a gpugate junit.xml, read as a consumer reads it, checked against the run
/// it came from: one test case per check, named by its id, in order; PASS a pass, FAIL a
/// failure of type "fail", INCONCLUSIVE a failure of type "inconclusive" (not a pass: exit 3),
/// SKIPPED skipped; and the verdict and exit code as properties.
pub fn assert_matches_run(xml: &str, r: &RunReport) -> Suite {
    let suites = read(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(suites.len(), 1, "{xml}");
    let suite = suites.into_iter().next().unwrap();
    assert_eq!(suite.name, format!("gpugate.{}", r.profile.name));
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(names, ids);
    for (case, check) in suite.cases.iter().zip(&r.checks) {
        let ok = match (&case.outcome, check.verdict) {
            (Outcome::Passed, Verdict::Pass) => true,
            (Outcome::Failure { kind, message, .. }, Verdict::Fail) => {
                kind == "fail" && message == &check.reason
            }
            (Outcome::Failure { kind, .. }, Verdict::Inconclusive) => kind == "inconclusive",
            (Outcome::Skipped { message }, Verdict::Skipped) => message == &check.reason,
            _ => false,
        };
        assert!(
            ok,
            "{}: {:?} for a {} check",
            case.name, case.outcome, check.verdict
        );
    }
    assert_eq!(
        suite.property("verdict"),
        Some(r.verdict.to_string().as_str())
    );
    assert_eq!(
        suite.property("exit_code"),
        Some(r.exit_code.to_string().as_str())
    );
    suite
}

/// A consumer refuses what gpugate must never write.
#[test]
fn the_reader_refuses_what_a_consumer_would() {
    let ok = r#"<testsuites tests="2" failures="1"><testsuite name="s" tests="2" failures="1" skipped="0"><testcase classname="k" name="a"/><testcase classname="k" name="b"><failure type="fail" message="m">t</failure></testcase></testsuite></testsuites>"#;
    let s = read(ok).unwrap();
    assert_eq!(
        (s[0].cases.len(), s[0].failures(), s[0].skipped()),
        (2, 1, 0)
    );
    for (bad, says) in [
        (
            ok.replace(
                r#"tests="2" failures="1"><testsuite"#,
                r#"tests="3" failures="1"><testsuite"#,
            ),
            "tests=\"3\"",
        ),
        (
            ok.replace(r#"skipped="0""#, r#"skipped="1""#),
            "skipped=\"1\"",
        ),
        (
            ok.replace(
                "</testcase></testsuite>",
                "<skipped/></testcase></testsuite>",
            ),
            "2 outcomes",
        ),
        (ok.replace("</testsuites>", ""), "not XML"),
        (ok.replace("testsuites", "results"), "root element"),
    ] {
        let e = read(&bad).unwrap_err();
        assert!(e.contains(says), "{e}");
    }
}
