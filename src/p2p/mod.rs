//! Peer to peer between the GPUs of a machine: for each pair, whether each GPU can access the
//! other (`cuDeviceCanAccessPeer`), then the copy tests named as nvbandwidth names them
//! (`model::p2p::PEER_TESTS`: read and write, one way and both ways at once), each measured by
//! the sampler (`measure::measure_until`, with its warm-up, batching and noise rules) and
//! verified byte for byte; where a pair has no peer access both ways, the copies staged
//! through pinned host memory (`model::p2p::HOST_STAGED_TESTS`: one way, and both ways at
//! once) are measured instead, and the pair records why. Nothing here prints or keeps the run: the stage that calls it
//! (`run::p2p`) records the section.
//!
//! - read (nvbandwidth: "a copy from the peer device to the target using the target's
//!   context"): the copy is issued on the target GPU's stream, pulling from the peer.
//! - write ("from the target device to the peer using the target's context"): issued on the
//!   target's stream, pushing to the peer.
//! - bidirectional: the same copy, with one the other way issued on the peer's stream at the
//!   same time; the measured direction is the test's bandwidth, the other its `reverse_gbps`,
//!   both summed its total, as nvbandwidth's `_read1`, `_read2` and `_total`.
//! - host-staged (no peer access): device → pinned host → device; its bidirectional test adds
//!   the staged copy the other way at the same time, reported as the peer ones are.
//!
//! Every test of an ordered pair (target, peer) runs for both targets of a pair.

use crate::cuda::p2p::{can_access_peer, enable_peer_access, PeerCopy, PeerPair};
use crate::cuda::CudaDevice;
use crate::measure::{measure_until, StoppingCriterion};
use crate::model::p2p::{
    is_host_staged, P2pPair, P2pSection, P2pTest, BIDIR_READ_CE, BIDIR_WRITE_CE, HOST_STAGED_BIDIR,
    HOST_STAGED_TESTS, PEER_TESTS, READ_CE, WRITE_CE,
};
use crate::model::spec::Direction;
use crate::model::{Measurement, Verification, VerifyStatus};
use crate::verify::bytes::check_bytes;
use crate::workload::transfer::transfer_data;
use crate::workload::{Trial, TrialInfo, WorkloadError, WorkloadSpec};

/// Bytes of each copy unless asked otherwise (`gpugate burn --p2p-mib`): 64 MiB, as
/// nvbandwidth's default buffer, large enough that a copy's latency is far below its time.
pub const DEFAULT_P2P_BYTES: usize = 64 << 20;

/// What the stage is asked to do.
#[derive(Debug, Clone)]
pub struct P2pOptions {
    /// Bytes of each copy.
    pub bytes: usize,
    /// The run's seed: each test's data derives from it.
    pub seed: u64,
    /// How each test is sampled.
    pub crit: StoppingCriterion,
}

/// What the stage reports as it goes (the runner turns it into progress).
pub trait P2pProgress {
    fn test_started(&mut self, pair: (u32, u32), test: &str);
}

impl<F: FnMut((u32, u32), &str)> P2pProgress for F {
    fn test_started(&mut self, pair: (u32, u32), test: &str) {
        self(pair, test)
    }
}

/// Every pair of `gpus` (index, device), in order; with fewer than two GPUs, a section that
/// says there is nothing to test. `stop` ends the stage between tests.
pub fn test_all(
    gpus: &[(u32, &CudaDevice)],
    opts: &P2pOptions,
    progress: &mut dyn P2pProgress,
    stop: &dyn Fn() -> bool,
) -> P2pSection {
    let mut s = P2pSection {
        gpus: gpus.iter().map(|(i, _)| *i).collect(),
        bytes: opts.bytes as u64,
        note: None,
        pairs: Vec::new(),
    };
    if gpus.len() < 2 {
        s.note = Some(format!(
            "peer to peer not tested: the run has {} GPU(s), and P2P needs two",
            gpus.len()
        ));
        return s;
    }
    for (k, &(a, da)) in gpus.iter().enumerate() {
        for &(b, db) in &gpus[k + 1..] {
            if stop() {
                s.note = Some("the P2P stage was stopped before every pair was tested".into());
                return s;
            }
            s.pairs
                .push(test_pair((a, da), (b, db), opts, progress, stop));
        }
    }
    s
}

/// One pair: its access both ways, then its tests (peer or host-staged).
fn test_pair(
    (a, da): (u32, &CudaDevice),
    (b, db): (u32, &CudaDevice),
    opts: &P2pOptions,
    progress: &mut dyn P2pProgress,
    stop: &dyn Fn() -> bool,
) -> P2pPair {
    let mut pair = P2pPair {
        a,
        b,
        ..P2pPair::default()
    };
    let access = can_access_peer(da, db).and_then(|x| Ok((x, can_access_peer(db, da)?)));
    match access {
        Ok((ab, ba)) => (pair.a_to_b, pair.b_to_a) = (ab, ba),
        Err(e) => {
            pair.error = Some(e.to_string());
            return pair;
        }
    }
    let peer = if pair.peer_access() {
        match enable_peer_access(da, db).and_then(|_| enable_peer_access(db, da)) {
            Ok(()) => true,
            Err(e) => {
                pair.fallback = Some(format!(
                    "cuDeviceCanAccessPeer allows peer access both ways, but enabling it \
                     failed ({e}): the copies were staged through pinned host memory instead"
                ));
                false
            }
        }
    } else {
        pair.fallback = Some(no_access_reason());
        false
    };
    let mut devs = PeerPair::new(da, db, opts.bytes);
    let result = match devs.as_mut() {
        Ok(p) => run_tests(p, &mut pair, peer, opts, progress, stop),
        Err(e) => Err(WorkloadError::from(e.clone())),
    };
    if let Err(e) = result {
        pair.error = Some(e.to_string());
    }
    pair
}

/// Why a pair's copies were staged where cuDeviceCanAccessPeer said 0 (one way or both): the
/// pair's `a_to_b` and `b_to_a` record which, and the check and the P2P matrix say it, so the
/// reason does not repeat the values.
fn no_access_reason() -> String {
    "peer access is not available both ways (typical of a VM whose hypervisor does not pass P2P through, or \
     of GPUs under different PCIe root complexes); the copies were staged through pinned host \
     memory instead (device → host → device), which is not a peer copy"
        .to_string()
}

/// The pair's tests in order; each is appended as it ends.
fn run_tests(
    devs: &mut PeerPair<'_>,
    pair: &mut P2pPair,
    peer: bool,
    opts: &P2pOptions,
    progress: &mut dyn P2pProgress,
    stop: &dyn Fn() -> bool,
) -> Result<(), WorkloadError> {
    let ids = [pair.a, pair.b];
    let mut plan: Vec<(&'static str, usize)> = Vec::new();
    let tests: &[&'static str] = if peer {
        &PEER_TESTS
    } else {
        &HOST_STAGED_TESTS
    };
    for target in [0, 1] {
        plan.extend(tests.iter().map(|t| (*t, target)));
    }
    for (k, (name, target)) in plan.into_iter().enumerate() {
        if stop() {
            break;
        }
        progress.test_started((pair.a, pair.b), name);
        let copies = copies_of(name, target);
        let seed = crate::util::fnv1a64(
            opts.seed
                .to_le_bytes()
                .into_iter()
                .chain((k as u64).to_le_bytes())
                .chain(ids[0].to_le_bytes())
                .chain(ids[1].to_le_bytes()),
        );
        pair.tests
            .push(one_test(devs, ids, name, &copies, seed, opts, stop)?);
    }
    Ok(())
}

/// The copies of test `name` with GPU `t` of the pair as its target (`p` the peer); the
/// measured copy first. A host-staged copy is given as a copy from `t` to `p` issued by `t`
/// (its legs run on both GPUs' streams: `PeerPair::time_staged`); both ways, with the copy
/// from `p` to `t` beside it.
pub fn copies_of(name: &str, t: usize) -> Vec<PeerCopy> {
    let p = 1 - t;
    let c = |issuer, from, to| PeerCopy { issuer, from, to };
    match name {
        READ_CE => vec![c(t, p, t)],
        WRITE_CE => vec![c(t, t, p)],
        BIDIR_READ_CE => vec![c(t, p, t), c(p, t, p)],
        BIDIR_WRITE_CE | HOST_STAGED_BIDIR => vec![c(t, t, p), c(p, p, t)],
        _ => vec![c(t, t, p)],
    }
}

/// One test: each GPU's send buffer filled with its own data (from `seed`), every receive
/// buffer with a byte no data starts with, the copies measured, then every copied buffer read
/// back and compared byte for byte.
fn one_test(
    devs: &mut PeerPair<'_>,
    ids: [u32; 2],
    name: &'static str,
    copies: &[PeerCopy],
    seed: u64,
    opts: &P2pOptions,
    stop: &dyn Fn() -> bool,
) -> Result<P2pTest, WorkloadError> {
    let n = devs.bytes();
    let data = [transfer_data(n, seed), transfer_data(n, seed ^ 0x9e37_79b9)];
    for (i, d) in data.iter().enumerate() {
        devs.load(i, d, !d[0])?;
    }
    let staged = is_host_staged(name);
    let measurement = {
        let mut trial = CopyTrial {
            devs,
            copies,
            staged,
            reverse: Vec::new(),
        };
        let m = measure(&mut trial, n, opts, stop)?;
        (m, trial.reverse)
    };
    let (measurement, reverse) = measurement;
    let mut checks = Vec::new();
    for c in copies {
        let got = devs.received(c.to)?;
        checks.push((c, check_bytes(&data[c.from], &got)));
    }
    let verification = merge(ids, checks);
    let m = copies[0];
    let reverse_gbps = (copies.len() > 1)
        .then(|| crate::util::median(reverse).map(|t| n as f64 / t / 1e9))
        .flatten()
        .filter(|g| g.is_finite());
    Ok(P2pTest {
        name: name.to_string(),
        target: ids[m.issuer],
        src: ids[m.from],
        dst: ids[m.to],
        measurement,
        reverse_gbps,
        verification,
    })
}

/// The sampler over a copy trial, with the GB/s of `n` bytes per iteration.
fn measure(
    trial: &mut CopyTrial<'_, '_>,
    n: usize,
    opts: &P2pOptions,
    stop: &dyn Fn() -> bool,
) -> Result<Measurement, WorkloadError> {
    // The sampler needs a workload for the throughput: a transfer of `n` bytes gives GB/s.
    let spec = WorkloadSpec::Transfer {
        direction: Direction::DeviceToHost,
        bytes: n,
        pinned: true,
    };
    measure_until(trial, &spec, &opts.crit, &mut |_| {}, stop)
}

/// One verification of every copy of a test: passed when each passed; otherwise the
/// mismatches of each failing copy, named by its direction.
fn merge(ids: [u32; 2], checks: Vec<(&PeerCopy, Verification)>) -> Verification {
    let mut out = Verification {
        status: VerifyStatus::Passed,
        method: "every byte of the last copy read back and compared with what was sent".into(),
        max_error: 0.0,
        tolerance: 0.0,
        checked: 0,
        mismatches: Vec::new(),
    };
    for (c, v) in checks {
        out.checked += v.checked;
        out.max_error += v.max_error;
        if v.status != VerifyStatus::Passed {
            out.status = v.status;
        }
        out.mismatches.extend(v.mismatches.into_iter().map(|mut m| {
            m.at = format!("GPU {} → {}: {}", ids[c.from], ids[c.to], m.at);
            m
        }));
    }
    out.mismatches.truncate(10);
    out
}

/// The copies of one test as a [`Trial`]: `run(iters)` issues `iters` rounds and gives the
/// measured copy's seconds; a second copy's seconds per copy are kept in `reverse`.
struct CopyTrial<'p, 'a> {
    devs: &'p PeerPair<'a>,
    copies: &'p [PeerCopy],
    staged: bool,
    reverse: Vec<f64>,
}

impl Trial for CopyTrial<'_, '_> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: if self.staged {
                "cuMemcpyDtoHAsync + cuMemcpyHtoDAsync through portable pinned memory".into()
            } else {
                "cuMemcpyPeerAsync".into()
            },
            math_mode: None,
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let times = if self.staged {
            self.devs.time_staged(self.copies, iters)?
        } else {
            self.devs.time_peer(self.copies, iters)?
        };
        if let Some(t) = times.get(1) {
            self.reverse.push(t / iters as f64);
        }
        Ok(times[0])
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        Ok(Verification::not_checked(
            "verified by the P2P stage after sampling",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::p2p::HOST_STAGED;

    /// The copies follow nvbandwidth's definitions: read pulls into the target on its own
    /// stream, write pushes from it; the bidirectional tests add the other way on the peer's.
    #[test]
    fn each_test_issues_its_copies_as_nvbandwidth_defines_them() {
        let c = |issuer, from, to| PeerCopy { issuer, from, to };
        let table: [(&str, usize, Vec<PeerCopy>); 9] = [
            (READ_CE, 0, vec![c(0, 1, 0)]),
            (READ_CE, 1, vec![c(1, 0, 1)]),
            (WRITE_CE, 0, vec![c(0, 0, 1)]),
            (BIDIR_READ_CE, 0, vec![c(0, 1, 0), c(1, 0, 1)]),
            (BIDIR_WRITE_CE, 1, vec![c(1, 1, 0), c(0, 0, 1)]),
            (HOST_STAGED, 1, vec![c(1, 1, 0)]),
            (HOST_STAGED, 0, vec![c(0, 0, 1)]),
            (HOST_STAGED_BIDIR, 0, vec![c(0, 0, 1), c(1, 1, 0)]),
            (HOST_STAGED_BIDIR, 1, vec![c(1, 1, 0), c(0, 0, 1)]),
        ];
        for (name, t, want) in table {
            assert_eq!(copies_of(name, t), want, "{name} target {t}");
        }
    }

    #[test]
    fn a_failed_copy_fails_the_merged_verification_naming_its_direction() {
        let c = PeerCopy {
            issuer: 0,
            from: 1,
            to: 0,
        };
        let good = check_bytes(&[1, 2, 3], &[1, 2, 3]);
        let bad = check_bytes(&[1, 2, 3], &[1, 0, 3]);
        let v = merge([4, 7], vec![(&c, good.clone()), (&c, bad)]);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.checked, 6);
        assert_eq!(v.max_error, 1.0);
        assert_eq!(v.mismatches[0].at, "GPU 7 → 4: byte 1");
        let ok = merge([4, 7], vec![(&c, good.clone()), (&c, good)]);
        assert_eq!(ok.status, VerifyStatus::Passed);
    }
}
