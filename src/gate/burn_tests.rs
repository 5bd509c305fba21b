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
