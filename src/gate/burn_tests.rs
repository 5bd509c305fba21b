//! Table-driven tests of the burn-in's rules ([`crate::gate::burn`]), on the healthy two-GPU
//! report of the gate's tests with a burn section added.

use super::*;
use crate::model::burn::{BurnInterval, BurnSection, FreivaldsRecord, GpuBurn, SdcRecord};

/// A clean burn of `gpus` GPUs: two intervals each, no error, reference checks passed.
fn clean_burn(gpus: u32) -> BurnSection {
    let gpu = |device| GpuBurn {
        device,
        ring_sets: 2,
        ring_bytes: 1 << 20,
        intervals: (0..2)
            .map(|index| BurnInterval {
                index,
                launches: 12,
                ..BurnInterval::default()
            })
            .collect(),
        freivalds: vec![FreivaldsRecord {
            interval: 0,
            buffer: "sgemm ring set 0, C".into(),
            passed: true,
            detail: "Freivalds".into(),
            first_mismatch: None,
        }],
        ..GpuBurn::default()
    };
    BurnSection {
        duration_s: 20.0,
        interval_s: 10.0,
        gemm_size: 4096,
        triad_elements: 1 << 20,
        memory_share: 0.9,
        within_machine_share: 0.10,
        within_machine_source: "test".into(),
        max_drift: None,
        drift_source: None,
        duration_source: None,
        gpus: (0..gpus).map(gpu).collect(),
        solo: Vec::new(),
    }
}

type BurnCase = (
    &'static str,
    fn(&mut RunReport),
    &'static [(&'static str, Verdict)],
    &'static str,
);

#[test]
fn burn_rules() {
    let cases: Vec<BurnCase> = vec![
        (
            "clean",
            |_| {},
            &[
                ("gpu0.burn.sdc", Verdict::Pass),
                ("gpu1.burn.sdc", Verdict::Pass),
                ("gpu1.burn.reference", Verdict::Pass),
                ("gpu1.burn.within_machine.fp32_gemm", Verdict::Pass),
                ("gpu1.burn.within_machine.stream_triad", Verdict::Pass),
            ],
            "",
        ),
        (
            "sdc on gpu1 fails gpu1 alone, naming interval, buffer, element and bits",
            |r| {
                let g = &mut r.burn.as_mut().unwrap().gpus[1];
                g.sdc_count = 2;
                g.sdc.push(SdcRecord {
                    interval: 1,
                    buffer: "dgemm ring set 3, C".into(),
                    element: 77,
                    expected_bits: "0x3ff0000000000000".into(),
                    found_bits: "0x3ff0000000000001".into(),
                });
            },
            &[
                ("gpu0.burn.sdc", Verdict::Pass),
                ("gpu1.burn.sdc", Verdict::Fail),
            ],
            "interval 1, dgemm ring set 3, C, element 77: expected bits 0x3ff0000000000000, \
             found 0x3ff0000000000001",
        ),
        (
            // 4.4 TFLOPS passes the G2 line (4.2) but not 90 % of the best GPU (4.5).
            "a GPU above its own line but below 90 % of the best fails the share",
            |r| set_speed(r, SGEMM1, 4.4, 0.005),
            &[
                ("gpu1.fp32_gemm", Verdict::Pass),
                ("gpu1.burn.within_machine.fp32_gemm", Verdict::Fail),
                ("gpu0.burn.within_machine.fp32_gemm", Verdict::Pass),
            ],
            "88.0 % of the machine's best (GPU 0",
        ),
        (
            "at 91 % of the best it passes",
            |r| set_speed(r, SGEMM1, 4.55, 0.005),
            &[("gpu1.burn.within_machine.fp32_gemm", Verdict::Pass)],
            "",
        ),
        (
            "intervals without a value skip the drift",
            |_| {},
            &[("gpu0.burn.drift.fp32_gemm", Verdict::Skipped)],
            "fewer than two intervals with a valid value",
        ),
        (
            "steady intervals pass the drift, gpu1 falling by 20 % fails it alone",
            |r| {
                let b = r.burn.as_mut().unwrap();
                for (g, fp32) in [(0, [5.0, 5.0]), (1, [5.0, 4.0])] {
                    for (row, v) in b.gpus[g].intervals.iter_mut().zip(fp32) {
                        row.fp32_tflops = v;
                    }
                }
            },
            &[
                ("gpu0.burn.drift.fp32_gemm", Verdict::Pass),
                ("gpu1.burn.drift.fp32_gemm", Verdict::Fail),
                ("gpu1.burn.drift.fp64_gemm", Verdict::Skipped),
            ],
            "5.00 TFLOPS at the start (1 intervals), 4.00 TFLOPS at the end (1 intervals): fell \
             20.0 %",
        ),
        (
            "a failed reference check fails the reference rule",
            |r| r.burn.as_mut().unwrap().gpus[0].freivalds[0].passed = false,
            &[
                ("gpu0.burn.reference", Verdict::Fail),
                ("gpu0.burn.sdc", Verdict::Pass),
            ],
            "1 of 1 reference checks failed; the first in interval 0",
        ),
        (
            "a GPU whose load stopped before an interval fails with the reason",
            |r| {
                let g = &mut r.burn.as_mut().unwrap().gpus[1];
                g.intervals.clear();
                g.freivalds.clear();
                g.error = Some("CUDA_ERROR_ECC_UNCORRECTABLE".into());
            },
            &[
                ("gpu1.burn.sdc", Verdict::Fail),
                ("gpu1.burn.reference", Verdict::Fail),
            ],
            "the load stopped: CUDA_ERROR_ECC_UNCORRECTABLE",
        ),
    ];
    let p = profile("g2.2xlarge");
    for (name, change, want, says) in cases {
        let mut r = report(2);
        r.burn = Some(clean_burn(2));
        change(&mut r);
        let checks = evaluate(&p, &r);
        for (id, verdict) in want {
            let c = checks
                .iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("{name}: no {id}"));
            assert_eq!(c.verdict, *verdict, "{name}: {id}: {}", c.reason);
        }
        assert!(
            says.is_empty() || checks.iter().any(|c| c.reason.contains(says)),
            "{name}: no reason says {says:?}"
        );
    }
}

/// A run without a burn section (`gpugate run`) has none of the burn's checks.
#[test]
fn a_run_without_a_burn_has_no_burn_checks() {
    let checks = evaluate(&profile("g2.2xlarge"), &report(2));
    assert!(checks.iter().all(|c| !c.id.contains(".burn.")));
}

/// The solo phase of a two-GPU burn: each GPU alone at `fp32` TFLOPS.
fn solo(fp32: f64) -> Vec<crate::model::burn::SoloRun> {
    (0..2)
        .map(|device| crate::model::burn::SoloRun {
            device,
            duration_s: 10.0,
            rounds: 20,
            fp32_tflops: fp32,
            fp64_tflops: 0.19,
            triad_gbps: 230.0,
        })
        .collect()
}

type TogetherCase = (
    &'static str,
    f64,
    Option<f64>,
    &'static [(&'static str, Verdict)],
    &'static [&'static str],
);

/// The G2.2xlarge's burn targets (`burn_profile`): each GPU against its sustained line (3.85
/// TFLOPS), the machine's concurrent total against 8.4; the solo phase's sum is information in
/// the machine check, never its verdict, and where alone would pass but together fails the
/// hint names what GPUs share.
#[test]
fn machine_targets_judge_the_gpus_loaded_at_once() {
    let cases: &[TogetherCase] = &[
        (
            "4.0 each together: both pass their own line, the machine's 8.0 fails; alone 9.8",
            4.0,
            Some(4.9),
            &[
                ("gpu0.fp32_gemm", Verdict::Pass),
                ("gpu1.fp32_gemm", Verdict::Pass),
                ("gpu1.burn.within_machine.fp32_gemm", Verdict::Pass),
                ("machine.fp32_gemm", Verdict::Fail),
            ],
            &[
                "the GPUs loaded at once. Each GPU alone (the solo phase, information, not gated): \
                 9.80 TFLOPS in all, together 81.6 % of that",
                "they share something under load",
            ],
        ),
        (
            "4.5 each together passes whatever alone says",
            4.5,
            Some(3.0),
            &[("machine.fp32_gemm", Verdict::Pass)],
            &["6.00 TFLOPS in all, together 150.0 % of that"],
        ),
        (
            "no solo phase: said so, the verdict the same",
            4.0,
            None,
            &[("machine.fp32_gemm", Verdict::Fail)],
            &["no solo phase to compare with"],
        ),
    ];
    let p = crate::run::burn::burn_profile(profile("g2.2xlarge"));
    let line = |id: &str| {
        p.targets
            .iter()
            .find(|t| t.metric.as_str() == id && t.scope == crate::gate::Scope::Gpu)
            .map(|t| t.required())
    };
    assert!((line("fp32_gemm").unwrap() - 3.85).abs() < 1e-9);
    for (name, together, alone, want, says) in cases {
        let mut r = report(2);
        let mut b = clean_burn(2);
        b.solo = alone.map(solo).unwrap_or_default();
        r.burn = Some(b);
        set_speed(&mut r, SGEMM0, *together, 0.001);
        set_speed(&mut r, SGEMM1, *together, 0.001);
        let checks = evaluate(&p, &r);
        for (id, verdict) in *want {
            let c = checks
                .iter()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("{name}: no {id}"));
            assert_eq!(c.verdict, *verdict, "{name}: {id}: {}", c.reason);
        }
        let m = checks.iter().find(|c| c.id == "machine.fp32_gemm").unwrap();
        assert!(m.title.contains("loaded at once"), "{name}: {}", m.title);
        for s in *says {
            let text = format!("{} {}", m.reason, m.hint);
            assert!(text.contains(s), "{name}: {s:?} not in {text}");
        }
        if *together >= 4.5 || alone.is_none() {
            assert!(!m.hint.contains("share something"), "{name}: {}", m.hint);
        }
    }
    // Only the burn's metrics are left, its targets in place of the acceptance run's.
    assert!(p.targets.iter().all(|t| matches!(
        t.metric,
        Metric::Fp32Gemm | Metric::Fp64Gemm | Metric::StreamTriad
    )));
    let triad_machine = p
        .targets
        .iter()
        .filter(|t| t.metric == Metric::StreamTriad && t.scope == crate::gate::Scope::Machine);
    assert_eq!(triad_machine.count(), 1);
    // Mapped again (what `gpugate report` does with the recorded profile): the same.
    assert_eq!(crate::run::burn::burn_profile(p.clone()), p);
}
