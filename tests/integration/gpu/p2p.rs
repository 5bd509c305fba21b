//! Peer to peer through gpugate's CUDA path (`gpugate::cuda::p2p`, `gpugate::p2p`) on two GPUs
//! opened in this process. Under gpugate-sim they run on two M40s whose GPU 0 corrupts every
//! peer copy into its memory (`gpu=0:p2p-sdc`), from `gpu_suite_on_the_simulator::p2p`; on a
//! real machine with two GPUs, `--ignored gpu::p2p::` runs them there (the corruption asserts
//! are the simulator's only).

use gpugate::cuda::p2p::{can_access_peer, enable_peer_access, PeerCopy, PeerPair};
use gpugate::cuda::CudaDevice;
use gpugate::measure::StoppingCriterion;
use gpugate::model::p2p::{HOST_STAGED, PEER_TESTS};
use gpugate::model::{Level, VerifyStatus};
use gpugate::p2p::{test_all, P2pOptions};

use super::simulated;

fn open_two() -> (CudaDevice, CudaDevice) {
    let open = |i| {
        CudaDevice::open(i)
            .unwrap_or_else(|e| panic!("opening GPU {i}: {e}"))
            .0
    };
    (open(0), open(1))
}

/// The driver layer: access both ways, enabling twice is fine, a peer copy and a staged copy
/// carry the bytes, timed at the model's link rate (peer) and at the two links' times added
/// (staged).
#[test]
#[ignore = "needs two GPUs (runs under gpugate-sim from gpu_suite_on_the_simulator::p2p)"]
fn peer_and_staged_copies_carry_the_bytes_at_the_modelled_rates() {
    let (a, b) = open_two();
    assert!(can_access_peer(&a, &b).unwrap() && can_access_peer(&b, &a).unwrap());
    for _ in 0..2 {
        enable_peer_access(&a, &b).unwrap();
        enable_peer_access(&b, &a).unwrap();
    }
    let n = 1 << 20;
    let mut pair = PeerPair::new(&a, &b, n).unwrap();
    let data: Vec<u8> = (0..n).map(|i| (i * 13 % 251) as u8).collect();
    pair.load(1, &data, 0).unwrap();
    pair.load(0, &data, 0).unwrap();
    // GPU 1 → GPU 0 arrives corrupted on the simulator (p2p-sdc on GPU 0); GPU 0 → 1 exact.
    let copies = [
        PeerCopy {
            issuer: 0,
            from: 1,
            to: 0,
        },
        PeerCopy {
            issuer: 1,
            from: 0,
            to: 1,
        },
    ];
    let t = pair.time_peer(&copies, 3).unwrap();
    assert_eq!(pair.received(1).unwrap(), data, "GPU 0 → 1");
    let into0 = pair.received(0).unwrap();
    if simulated(&a) {
        let wrong: Vec<usize> = (0..n).filter(|&i| into0[i] != data[i]).collect();
        assert_eq!(
            wrong,
            vec![n / 2],
            "p2p-sdc flips one bit of the copy into GPU 0"
        );
        // Each copy crosses the slower link once at the model's PCIe efficiency, both at once.
        use gpugate_sim::driver::timing::{copy_seconds, CopyKind, Factors};
        let m = super::sim_model(&a).unwrap();
        let f = Factors::healthy(&m);
        let kind = CopyKind::Peer {
            other_link: f.link,
            direct: true,
        };
        let want = 3.0 * copy_seconds(&m, f, kind, n as u64);
        for s in &t {
            super::assert_modelled(*s, want, 1e-3, "3 peer copies");
        }
    } else {
        assert_eq!(into0, data, "GPU 1 → 0");
    }
    // Staged through host memory, one way and then both ways at once: the bytes arrive exact
    // on any machine (no peer copy, so p2p-sdc never touches them); on the simulator each copy
    // takes its two legs (down to the host, then up) at the pinned rate, added, and both ways
    // at once each copy takes what it takes alone: each GPU's link carries its own copy's leg
    // to the host and then the other's from it, and the model gives host memory no limit.
    let modelled =
        super::sim_model(&a).map(|m| 2.0 * 3.0 * super::pinned_copy_seconds(&m, n as u64));
    let there = PeerCopy {
        issuer: 0,
        from: 0,
        to: 1,
    };
    let back = PeerCopy {
        issuer: 1,
        from: 1,
        to: 0,
    };
    // GPU 1 sends other bytes; every receive buffer starts as 0xff, which no data byte is.
    let other: Vec<u8> = data.iter().map(|b| b + 1).collect();
    pair.load(0, &data, 0xff).unwrap();
    pair.load(1, &other, 0xff).unwrap();
    let staged = pair.time_staged(&[there], 3).unwrap();
    assert_eq!(pair.received(1).unwrap(), data, "staged 0 → 1");
    assert_eq!(
        pair.received(0).unwrap(),
        vec![0xff; n],
        "nothing staged 1 → 0"
    );
    pair.load(1, &other, 0xff).unwrap();
    let both = pair.time_staged(&[there, back], 3).unwrap();
    assert_eq!(pair.received(1).unwrap(), data, "staged 0 → 1, both ways");
    assert_eq!(pair.received(0).unwrap(), other, "staged 1 → 0, both ways");
    assert_eq!(both.len(), 2);
    if let Some(one) = modelled {
        super::assert_modelled(staged[0], one, 1e-3, "3 host-staged copies");
        for (s, way) in both.iter().zip(["0 → 1", "1 → 0"]) {
            let what = format!("3 host-staged copies {way}, both at once");
            super::assert_modelled(*s, one, 1e-3, &what);
        }
    }
}

/// The stage: every nvbandwidth test both ways, each verified byte for byte; on the simulator
/// exactly the tests that copy into GPU 0 fail their verification.
#[test]
#[ignore = "needs two GPUs (runs under gpugate-sim from gpu_suite_on_the_simulator::p2p)"]
fn the_stage_runs_every_test_and_catches_a_corrupted_copy() {
    let (a, b) = open_two();
    let mut crit = StoppingCriterion::for_level(Level::Quick);
    crit.min_time = 0.02;
    crit.warmup_time = 0.01;
    crit.max_sample_wall = 0.002;
    let opts = P2pOptions {
        bytes: 1 << 18,
        seed: 7,
        crit,
    };
    let mut seen = Vec::new();
    let mut progress = |pair: (u32, u32), t: &str| seen.push((pair, t.to_string()));
    let s = test_all(&[(0, &a), (1, &b)], &opts, &mut progress, &|| false);
    assert_eq!(s.pairs.len(), 1);
    let p = &s.pairs[0];
    assert!(
        p.peer_access() && p.fallback.is_none() && p.error.is_none(),
        "{p:?}"
    );
    let names: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
    let want: Vec<&str> = PEER_TESTS
        .iter()
        .chain(PEER_TESTS.iter())
        .copied()
        .collect();
    assert_eq!(names, want);
    assert_eq!(seen.len(), 8);
    assert!(!names.contains(&HOST_STAGED));
    for t in &p.tests {
        assert!(t.gbps() > 0.0 && t.measurement.summary.n >= 3, "{}", t.id());
        let into0 = t.dst == 0 || t.reverse_gbps.is_some();
        let corrupted = simulated(&a) && into0;
        let want = if corrupted {
            VerifyStatus::Failed
        } else {
            VerifyStatus::Passed
        };
        assert_eq!(t.verification.status, want, "{}", t.id());
        if corrupted {
            assert_eq!(t.verification.max_error, 1.0, "{}", t.id());
            let at = &t.verification.mismatches[0].at;
            assert!(at.starts_with("GPU 1 → 0: byte "), "{at}");
        }
    }
}
