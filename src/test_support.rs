//! Fixtures shared by the unit tests (compiled only for `cargo test`).

use crate::model::DeviceInfo;

/// A Tesla M40 24GB as the probe reports it (datasheet clocks, memory and link), GPU `index`.
/// Test data, never a measurement.
pub(crate) fn m40(index: u32) -> DeviceInfo {
    DeviceInfo {
        index,
        name: "Tesla M40 24GB".into(),
        uuid: format!("GPU-0000000{index}-m40"),
        pci_bus_id: format!("0000:0{}:00.0", index + 4),
        compute_capability: (5, 2),
        sm_count: 24,
        sm_clock_khz: 1_114_000,
        memory_clock_khz: 3_004_000,
        memory_bus_width_bits: 384,
        total_memory_bytes: 24_062_000_000,
        free_memory_bytes: 23_900_000_000,
        l2_cache_bytes: 3 << 20,
        driver_cuda_version: 12040,
        max_ptx_isa: "8.4".into(),
        pcie_link_gen: Some(3),
        pcie_link_width: Some(16),
        simulated: false,
        driver_identity: None,
        nvenc: crate::model::NvencInfo {
            engines: Some(2),
            source: Some("catalogue: Tesla M40 24GB".into()),
            ..Default::default()
        },
    }
}

/// A measurement whose median throughput is `v` (in `unit`) and whose 10 samples spread
/// ±`spread` (relative). Test data.
pub(crate) fn measurement(unit: &str, v: f64, spread: f64) -> crate::model::Measurement {
    use crate::model::{Measurement, StopReason, Summary, Throughput};
    let t_med = 0.01;
    let samples: Vec<f64> = (0..10)
        .map(|i| {
            let thr = v * (1.0 - spread + 2.0 * spread * i as f64 / 9.0);
            v * t_med / thr
        })
        .collect();
    Measurement {
        samples,
        iters_per_sample: 1,
        summary: Summary {
            n: 10,
            median: t_med,
            mean: t_med,
            min: t_med * (1.0 - spread),
            max: t_med * (1.0 + spread),
            stddev: t_med * spread / 2.0,
            rel_stddev: spread / 2.0,
        },
        throughput: Throughput {
            unit: unit.into(),
            median: v,
            best: v * (1.0 + spread),
            worst: v * (1.0 - spread),
        },
        warmup_seconds: 0.1,
        total_seconds: 1.0,
        stop_reason: StopReason::Converged,
        warnings: vec![],
    }
}

/// [`measurement`] in GB/s.
pub(crate) fn gbps_measurement(gbps: f64, spread: f64) -> crate::model::Measurement {
    measurement("GB/s", gbps, spread)
}

/// A P2P section of GPUs 0 and 1 as the P2P stage writes it: with `peer`, the four peer tests
/// both ways at `gbps` (bidirectional: `gbps` the other way too), else the host-staged copies
/// one way and both ways, each way at `gbps`, with the fallback's reason; every test's bytes right except those into the
/// GPUs of `wrong_into`. Test data, never a measurement.
pub(crate) fn p2p_section(
    peer: bool,
    gbps: f64,
    wrong_into: &[u32],
) -> crate::model::p2p::P2pSection {
    use crate::model::p2p::*;
    use crate::model::{Mismatch, Verification, VerifyStatus};
    let mut tests = Vec::new();
    let names: Vec<&str> = if peer {
        PEER_TESTS.to_vec()
    } else {
        HOST_STAGED_TESTS.to_vec()
    };
    for target in [0u32, 1] {
        let peer_gpu = 1 - target;
        for name in &names {
            let (src, dst) = if *name == READ_CE || *name == BIDIR_READ_CE {
                (peer_gpu, target)
            } else {
                (target, peer_gpu)
            };
            let bidir = [BIDIR_READ_CE, BIDIR_WRITE_CE, HOST_STAGED_BIDIR].contains(name);
            let wrong = wrong_into.contains(&dst) || (bidir && wrong_into.contains(&src));
            let verification = Verification {
                status: if wrong {
                    VerifyStatus::Failed
                } else {
                    VerifyStatus::Passed
                },
                method: "every byte of the last copy read back and compared with what was sent"
                    .into(),
                max_error: wrong as u8 as f64,
                tolerance: 0.0,
                checked: 1 << 20,
                mismatches: if wrong {
                    vec![Mismatch {
                        at: format!("GPU {src} → {dst}: byte 524288"),
                        expected: 0x5a as f64,
                        got: 0x5b as f64,
                    }]
                } else {
                    vec![]
                },
            };
            tests.push(P2pTest {
                name: name.to_string(),
                target,
                src,
                dst,
                measurement: gbps_measurement(gbps, 0.01),
                reverse_gbps: bidir.then_some(gbps),
                verification,
            });
        }
    }
    P2pSection {
        gpus: vec![0, 1],
        bytes: 1 << 20,
        note: None,
        pairs: vec![P2pPair {
            a: 0,
            b: 1,
            a_to_b: peer,
            b_to_a: peer,
            fallback: (!peer).then(|| "peer access is not available both ways".to_string()),
            error: None,
            tests,
        }],
    }
}
