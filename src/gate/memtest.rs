//! The memory test's checks: for each GPU the run tested (`RunReport::memtest`), one check per
//! pattern (`gpu0.memtest.moving_inversions_random`: any word read back wrong FAILS the GPU,
//! as does a pattern that did not run to its end) and one of coverage (`gpu0.memtest.coverage`:
//! below the profile's share of free memory it is INCONCLUSIVE, since nothing it did not look
//! at can be vouched for, and nothing that was tested is blamed).

use crate::memtest::Pattern;
use crate::model::memtest::{MemtestReport, PatternResult};
use crate::model::{CheckKind, Verdict};

use super::evaluate::{check, Draft};
use super::profile::Profile;

/// The coverage a profile without a `[memtest]` block asks for (`auto` included), percent of
/// free memory.
pub const DEFAULT_MEMTEST_COVERAGE: f64 = 90.0;
/// Where [`DEFAULT_MEMTEST_COVERAGE`] comes from.
pub const DEFAULT_MEMTEST_SOURCE: &str =
    "gpugate default (issue 19): the memory test covers at least 90 % of free memory";
/// Mismatches named in a failing check's reason (the rest are in its evidence and run.json).
const NAMED: usize = 3;

const ERROR_HINT: &str = "a memory cell that reads back what was not written makes the GPU \
    unfit: take it out of service, look for ECC errors and retired pages or row remaps \
    (nvidia-smi -q -d ECC,PAGE_RETIREMENT,ROW_REMAPPER) and Xid events (dmesg | grep -i xid), \
    and return it to the vendor if the errors repeat";

/// Every memory-test check of the run (`RunReport::memtest`), GPU by GPU, pattern by pattern.
pub(crate) fn memtest_checks(p: &Profile, tested: &[MemtestReport], out: &mut Vec<Draft>) {
    for m in tested {
        out.push(coverage_check(p, m));
        for pattern in Pattern::ALL {
            let result = m.patterns.iter().find(|x| x.pattern == pattern.name());
            out.push(pattern_check(m, pattern, result));
        }
    }
}

/// `gpuN.memtest.coverage`: the share of free memory tested against the profile's minimum.
fn coverage_check(p: &Profile, m: &MemtestReport) -> Draft {
    let mut c = check(
        "coverage_check",
        format!("gpu{}.memtest.coverage", m.device),
        CheckKind::Correctness,
        Some(m.device),
        "Memory test: share of the free memory tested",
        "% of free memory",
    );
    let (min, source) = match &p.memtest {
        Some(t) => (t.min_coverage_percent, t.source.clone()),
        None => (DEFAULT_MEMTEST_COVERAGE, DEFAULT_MEMTEST_SOURCE.to_string()),
    };
    c.required = Some(min);
    c.source = Some(source);
    let share = m.share_of_free_percent();
    c.observed = share;
    let total = m
        .share_of_total_percent()
        .map_or_else(String::new, |t| format!(", {t:.1} % of its total memory"));
    let bytes = format!(
        "{} bytes in {} allocation(s) of {} free{total}",
        m.covered_bytes, m.allocations, m.free_bytes
    );
    match (&m.error, share) {
        (Some(e), _) => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!("the memory test could not run: {e}");
            c.hint = "free the GPU's memory (nvidia-smi shows what holds it) and run \
                gpugate memtest again; a GPU whose memory cannot be tested is not fit"
                .into();
        }
        (None, Some(s)) if m.covered_bytes > 0 && s >= min => {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!("tested {s:.2} % of the free memory: {bytes}");
        }
        (None, s) => {
            c.verdict = Some(Verdict::Inconclusive);
            c.reason = format!(
                "tested {} of the free memory, below the {min} % asked: {bytes}; no error was \
                 found in what was tested, the rest was not looked at",
                s.map_or_else(|| "an unknown share".to_string(), |s| format!("{s:.2} %"))
            );
            c.hint = format!(
                "run gpugate memtest with --memory-share {min} or more (the default is 90) on a \
                 GPU that nothing else is using (nvidia-smi shows what holds its memory)"
            );
        }
    }
    c
}

/// `gpuN.memtest.<pattern>`: PASS when the pattern ran to its end and every word read back
/// right.
fn pattern_check(m: &MemtestReport, pattern: Pattern, result: Option<&PatternResult>) -> Draft {
    let mut c = check(
        "pattern_check",
        format!("gpu{}.memtest.{}", m.device, pattern.name()),
        CheckKind::Correctness,
        Some(m.device),
        pattern.title(),
        "words wrong",
    );
    let Some(x) = result else {
        c.verdict = Some(Verdict::Fail);
        c.reason = match &m.error {
            Some(e) => format!("not run: the memory test could not run: {e}"),
            None => "not run: the test stopped before this pattern (see run.complete)".into(),
        };
        c.hint = "run gpugate memtest to its end: a pattern that did not run vouches for \
            nothing"
            .into();
        return c;
    };
    c.observed = Some(x.errors as f64);
    c.required = Some(0.0);
    c.evidence = x.recorded.iter().map(|e| e.describe()).collect();
    if x.errors as usize > x.recorded.len() {
        c.evidence.push(format!(
            "… and {} more not recorded",
            x.errors as usize - x.recorded.len()
        ));
    }
    if x.errors > 0 {
        let named: Vec<String> = x
            .recorded
            .iter()
            .take(NAMED)
            .map(|e| e.describe())
            .collect();
        c.verdict = Some(Verdict::Fail);
        c.reason = format!(
            "{} word(s) read back wrong over {} bytes: {}{}",
            x.errors,
            x.covered_bytes,
            named.join("; "),
            if x.errors as usize > named.len() {
                "; …"
            } else {
                ""
            }
        );
        c.hint = ERROR_HINT.into();
    } else if let Some(why) = &x.failed {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("did not run to its end: {why}");
        c.hint = "a memory test that could not finish vouches for nothing: run it again; if \
            a launch fails again, look for Xid events (dmesg | grep -i xid)"
            .into();
    } else {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("every word read back right over {} bytes", x.covered_bytes);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::memtest::MemoryError;

    fn tested(covered: u64, errors: u64, error: Option<&str>) -> MemtestReport {
        MemtestReport {
            device: 1,
            seed: 7,
            requested_share_percent: 90.0,
            free_bytes: 1000 << 20,
            total_bytes: 1024 << 20,
            covered_bytes: covered,
            allocations: 1,
            patterns: Pattern::ALL
                .iter()
                .map(|p| PatternResult {
                    pattern: p.name().into(),
                    covered_bytes: covered,
                    errors: if *p == Pattern::Stress { errors } else { 0 },
                    recorded: (0..errors.min(2))
                        .map(|_| crate::memtest::memory_error(0x2_0000_1000, 32, 0, 1 << 9))
                        .collect(),
                    passes: Some(2),
                    seconds: Some(0.5),
                    failed: None,
                })
                .collect(),
            error: error.map(str::to_string),
        }
    }

    fn decide(p: &Profile, m: &MemtestReport) -> Vec<(String, Verdict, String)> {
        let mut drafts = Vec::new();
        memtest_checks(p, std::slice::from_ref(m), &mut drafts);
        drafts
            .into_iter()
            .map(|d| d.finish())
            .map(|c| (c.id, c.verdict, c.reason))
            .collect()
    }

    fn verdict(checks: &[(String, Verdict, String)], id: &str) -> Verdict {
        checks.iter().find(|c| c.0 == id).unwrap().1
    }

    #[test]
    fn coverage_below_the_profile_is_inconclusive_and_at_it_passes() {
        let mut p = crate::gate::load_profile("g2.large").unwrap().0;
        let mib = 1u64 << 20;
        // (covered of 1000 MiB free, the profile's minimum, verdict)
        for (covered, min, want) in [
            (900 * mib, Some(90.0), Verdict::Pass),
            (899 * mib, Some(90.0), Verdict::Inconclusive),
            (500 * mib, Some(50.0), Verdict::Pass),
            (499 * mib, Some(50.0), Verdict::Inconclusive),
            (900 * mib, None, Verdict::Pass),
            (899 * mib, None, Verdict::Inconclusive),
            (0, None, Verdict::Inconclusive),
        ] {
            p.memtest = min.map(|m| crate::model::profile::MemtestTarget {
                min_coverage_percent: m,
                source: "test".into(),
            });
            let c = decide(&p, &tested(covered, 0, None));
            assert_eq!(
                verdict(&c, "gpu1.memtest.coverage"),
                want,
                "{covered} {min:?}"
            );
            // Coverage never blames the patterns.
            assert_eq!(verdict(&c, "gpu1.memtest.stress"), Verdict::Pass);
        }
    }

    #[test]
    fn any_error_fails_its_pattern_naming_the_word_and_a_failed_test_fails_everything() {
        let p = crate::gate::load_profile("g2.large").unwrap().0;
        let c = decide(&p, &tested(900 << 20, 5, None));
        assert_eq!(verdict(&c, "gpu1.memtest.stress"), Verdict::Fail);
        let why = &c.iter().find(|c| c.0 == "gpu1.memtest.stress").unwrap().2;
        assert!(
            why.starts_with("5 word(s) read back wrong")
                && why.contains("0x200001000: bit 9 (expected 0x00000000, found 0x00000200)"),
            "{why}"
        );
        assert_eq!(verdict(&c, "gpu1.memtest.own_address"), Verdict::Pass);
        assert_eq!(verdict(&c, "gpu1.memtest.coverage"), Verdict::Pass);
        // A pattern that did not run, or did not finish, fails.
        let mut m = tested(900 << 20, 0, None);
        m.patterns.retain(|x| x.pattern != "random_sequence");
        m.patterns[0].failed = Some("memtest_check_u32: launch failed".into());
        let c = decide(&p, &m);
        assert_eq!(verdict(&c, "gpu1.memtest.random_sequence"), Verdict::Fail);
        assert_eq!(
            verdict(&c, "gpu1.memtest.address_walking_ones"),
            Verdict::Fail
        );
        // No test at all: every check fails with the reason.
        let mut m = tested(0, 0, Some("no device memory could be allocated"));
        m.patterns.clear();
        let c = decide(&p, &m);
        assert_eq!(c.len(), 8);
        assert!(c
            .iter()
            .all(|c| c.1 == Verdict::Fail && c.2.contains("no device memory could be allocated")));
    }

    #[test]
    fn an_error_names_every_bit_that_differs() {
        let e: MemoryError = crate::memtest::memory_error(0x100, 64, 0xF0, 0x0F);
        assert_eq!(e.bits, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            e.describe(),
            "0x100: bits 0, 1, 2, 3, 4, 5, 6, 7 (expected 0x00000000000000f0, found 0x000000000000000f)"
        );
    }
}
