//! The peer-to-peer checks, from the run's `p2p` section (`RunReport::p2p`) and the profile's
//! `[p2p]` requirement. Per pair of GPUs:
//!
//! - `machine.p2p.gpu0_gpu1.peer_access`: both GPUs can access each other
//!   (`cuDeviceCanAccessPeer` both ways, said once: [`access_ways`]) and peer access was
//!   enabled. Without it, FAIL where the profile requires peer access or a peer bandwidth, else
//!   SKIPPED with the reason (reported, not failed).
//! - `machine.p2p.<test id>` per copy test (`gpu0_gpu1.device_to_device_memcpy_read_ce`, …, or
//!   the host-staged fallbacks, one way and both ways): its median bandwidth, judged on its noise interval against the
//!   profile's `min_gbps` where it has one (peer tests only; a host-staged copy is never a peer
//!   copy), else reported; a copy whose bytes arrived wrong FAILS however fast it was.
//! - `machine.p2p.<test id>.verify`: every byte of the copy read back as sent; one wrong byte
//!   FAILS.
//! - `machine.p2p.gpu0_gpu1.run`: the pair could not be tested (a driver error): FAIL.

use crate::model::p2p::{is_host_staged, P2pPair, P2pSection, P2pTest};
use crate::model::profile::P2pRequirement;
use crate::model::{CheckKind, Interval, Verdict};
use crate::util::fmt_value;

use super::evaluate::{check, judge_interval, noise_interval, Draft};
use super::profile::Profile;

const UNIT: &str = "GB/s";

const ACCESS_HINT: &str = "enable P2P: on a VM, check that the hypervisor passes the GPUs \
    through with peer access (the cloud's instance documentation), and the VM's PCIe topology \
    (nvidia-smi topo -m: GPUs under one PCIe switch or host bridge can reach each other, \
    across sockets often not); on bare metal, enable ACS override / IOMMU passthrough as the \
    board vendor documents";

const BYTES_HINT: &str = "a copy between GPUs that delivers other bytes than were sent makes \
    the machine unfit: look for PCIe errors (nvidia-smi -q -d PCIE: replays; dmesg: AER), \
    reseat or replace the riser or switch, and run gpugate burn again";

const SLOW_HINT: &str = "check the PCIe topology (nvidia-smi topo -m) and each GPU's link \
    generation and width (nvidia-smi -q -d PCIE): a downtrained link or a path through the \
    CPU's interconnect slows peer copies";

/// Every P2P check of the run.
pub(crate) fn p2p_checks(p: &Profile, section: Option<&P2pSection>, out: &mut Vec<Draft>) {
    let Some(s) = section else {
        return;
    };
    let req = p.p2p.as_ref();
    for pair in &s.pairs {
        out.push(access_check(req, pair));
        if let Some(e) = &pair.error {
            let mut c = check(
                "p2p_checks",
                format!("machine.p2p.{}.run", pair_id(pair)),
                CheckKind::Run,
                None,
                &format!("P2P: GPU {} and GPU {} tested", pair.a, pair.b),
                "",
            );
            c.verdict = Some(Verdict::Fail);
            c.reason = format!("the copies between the two GPUs could not run: {e}");
            c.hint = "run gpugate burn again; a pair of GPUs that cannot copy to each \
                other is not fit"
                .into();
            out.push(c);
        }
        for t in &pair.tests {
            out.push(bandwidth_check(req, t));
            out.push(verify_check(t));
        }
    }
}

fn pair_id(pair: &P2pPair) -> String {
    format!("gpu{}_gpu{}", pair.a, pair.b)
}

/// Whether the profile needs peer access: asked for, or a peer bandwidth asked for.
fn needs_access(req: Option<&P2pRequirement>) -> bool {
    req.is_some_and(|r| r.require_peer_access || r.min_gbps.is_some())
}

/// `machine.p2p.gpuA_gpuB.peer_access`.
fn access_check(req: Option<&P2pRequirement>, pair: &P2pPair) -> Draft {
    let mut c = check(
        "access_check",
        format!("machine.p2p.{}.peer_access", pair_id(pair)),
        CheckKind::Inventory,
        None,
        &format!(
            "P2P: GPU {} and GPU {} can access each other",
            pair.a, pair.b
        ),
        "",
    );
    c.source = req.map(|r| r.source.clone());
    let ways = access_ways(pair);
    if pair.peer_access() && pair.fallback.is_none() {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("{ways}: peer access enabled both ways");
        return c;
    }
    // Why the copies were staged, as the P2P stage recorded it (it does not repeat the values);
    // a pair whose access could not be asked (its `error`) has none.
    let why = pair
        .fallback
        .as_deref()
        .map_or_else(String::new, |f| format!(": {f}"));
    // Where both GPUs may access each other but enabling it failed, the stage's reason says so.
    let what = if pair.peer_access() {
        "peer access not in use".to_string()
    } else {
        ways
    };
    if needs_access(req) {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("{what}, and the profile requires peer access{why}");
        c.hint = ACCESS_HINT.into();
    } else {
        c.verdict = Some(Verdict::Skipped);
        c.reason =
            format!("{what}, reported, not failed (the profile does not require peer access){why}");
    }
    c
}

/// What `cuDeviceCanAccessPeer` answered for a pair, said once: "= 0 both ways (GPU 0 → 1,
/// GPU 1 → 0)" where both answers are the same, else each way's.
pub(crate) fn access_ways(pair: &P2pPair) -> String {
    let (a, b) = (pair.a, pair.b);
    if pair.a_to_b == pair.b_to_a {
        format!(
            "cuDeviceCanAccessPeer = {} both ways (GPU {a} → {b}, GPU {b} → {a})",
            pair.a_to_b as u8
        )
    } else {
        format!(
            "cuDeviceCanAccessPeer = {} for GPU {a} → {b}, {} for GPU {b} → {a}",
            pair.a_to_b as u8, pair.b_to_a as u8
        )
    }
}

/// `machine.p2p.<test id>`: the bandwidth, against `min_gbps` where the profile has one.
fn bandwidth_check(req: Option<&P2pRequirement>, t: &P2pTest) -> Draft {
    let mut c = check(
        "bandwidth_check",
        format!("machine.p2p.{}", t.id()),
        CheckKind::Performance,
        None,
        &format!("P2P: {} GPU {} → GPU {}", t.name, t.src, t.dst),
        UNIT,
    );
    let gbps = t.gbps();
    let both = t.total_gbps().map_or_else(String::new, |total| {
        format!(
            " (the other way at the same time {}, total {} {UNIT})",
            fmt_value(t.reverse_gbps.unwrap_or(f64::NAN), UNIT),
            fmt_value(total, UNIT)
        )
    });
    let value = format!("{} {UNIT}{both}", fmt_value(gbps, UNIT));
    if !t.verified() {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!(
            "{value}, but the bytes did not arrive as sent: a wrong copy has no speed (see \
             {}.verify)",
            c.id
        );
        c.hint = BYTES_HINT.into();
        return c;
    }
    if !(gbps.is_finite() && gbps > 0.0) {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("not a valid measurement: {gbps} {UNIT}");
        c.hint = "run gpugate burn again; the copies' timing events gave no valid time".into();
        return c;
    }
    c.observed = Some(gbps);
    let (lo, hi) = noise_interval(&t.measurement);
    let line = req
        .and_then(|r| r.min_gbps.map(|m| (m, r.source.clone())))
        .filter(|_| !is_host_staged(&t.name));
    let Some((line, source)) = line else {
        c.verdict = Some(Verdict::Pass);
        c.reason = if is_host_staged(&t.name) {
            format!("{value} through host memory, verified; a host-staged copy is reported, never gated against a peer bandwidth")
        } else {
            format!("{value}, verified; reported, not gated (the profile sets no [p2p] min_gbps)")
        };
        return c;
    };
    c.required = Some(line);
    c.source = Some(source);
    c.noise_interval = Some(Interval { lo, hi });
    let interval = format!(
        "{value} (noise interval {}–{})",
        fmt_value(lo, UNIT),
        fmt_value(hi, UNIT)
    );
    let line_s = format!("the profile's {} {UNIT}", fmt_value(line, UNIT));
    judge_interval(
        &mut c,
        Interval { lo, hi },
        line,
        (&interval, &line_s),
        (
            SLOW_HINT,
            "run gpugate burn with --level full to sample longer",
        ),
    );
    c
}

/// `machine.p2p.<test id>.verify`: the bytes read back as sent.
fn verify_check(t: &P2pTest) -> Draft {
    let mut c = check(
        "verify_check",
        format!("machine.p2p.{}.verify", t.id()),
        CheckKind::Correctness,
        None,
        &format!(
            "P2P: {} GPU {} → GPU {} delivers the bytes sent",
            t.name, t.src, t.dst
        ),
        "bytes wrong",
    );
    let v = &t.verification;
    c.required = Some(0.0);
    if t.verified() {
        c.verdict = Some(Verdict::Pass);
        c.observed = Some(0.0);
        c.reason = format!("{} bytes compared: {}", v.checked, v.method);
        return c;
    }
    c.verdict = Some(Verdict::Fail);
    c.observed = Some(v.max_error);
    c.evidence = v
        .mismatches
        .iter()
        .map(|m| {
            format!(
                "{}: sent 0x{:02x}, got 0x{:02x}",
                m.at, m.expected as u8, m.got as u8
            )
        })
        .collect();
    let first = c.evidence.first().cloned().unwrap_or_default();
    c.reason = format!(
        "{} of {} bytes arrived wrong (first: {first}); {}",
        v.max_error, v.checked, v.method
    );
    c.hint = BYTES_HINT.into();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Check;
    use crate::test_support::p2p_section;

    fn profile(req: Option<(bool, Option<f64>)>) -> Profile {
        let mut p = crate::gate::auto_profile(&[crate::test_support::m40(0)]);
        p.p2p = req.map(|(access, min)| P2pRequirement {
            require_peer_access: access,
            min_gbps: min,
            source: "test".into(),
        });
        p
    }

    fn checks(p: &Profile, s: &P2pSection) -> Vec<Check> {
        let mut d = Vec::new();
        p2p_checks(p, Some(s), &mut d);
        d.into_iter().map(Draft::finish).collect()
    }

    fn verdict(c: &[Check], id: &str) -> Verdict {
        c.iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .verdict
    }

    const ACCESS: &str = "machine.p2p.gpu0_gpu1.peer_access";
    const READ01: &str = "machine.p2p.gpu0_gpu1.device_to_device_memcpy_read_ce";
    const STAGED: &str = "machine.p2p.gpu0_gpu1.host_staged_device_to_device_memcpy";

    /// Peer access and bandwidth against the profile's [p2p], table-driven: (requirement,
    /// peer access, GB/s) → (access verdict, the first test's verdict).
    #[test]
    fn access_and_bandwidth_follow_the_profile() {
        use Verdict::*;
        let table = [
            (None, true, 12.0, Pass, Pass),
            (Some((true, None)), true, 12.0, Pass, Pass),
            (Some((true, Some(10.0))), true, 12.0, Pass, Pass),
            (Some((false, Some(13.0))), true, 12.0, Pass, Fail),
            (Some((false, Some(12.0))), true, 12.0, Pass, Inconclusive),
            (None, false, 6.0, Skipped, Pass),
            (Some((false, None)), false, 6.0, Skipped, Pass),
            (Some((true, None)), false, 6.0, Fail, Pass),
            // A peer bandwidth asked for needs peer access; a host-staged copy is never
            // judged against it.
            (Some((false, Some(10.0))), false, 6.0, Fail, Pass),
        ];
        for (req, peer, gbps, access, first) in table {
            let c = checks(&profile(req), &p2p_section(peer, gbps, &[]));
            let what = format!("{req:?} peer {peer} {gbps}");
            assert_eq!(verdict(&c, ACCESS), access, "{what}");
            let first_id = if peer { READ01 } else { STAGED };
            assert_eq!(verdict(&c, first_id), first, "{what}");
            // Four tests each way, each with its verify check: peer (read, write and both
            // bidirectional) or host-staged (one way and both ways, each for both targets).
            assert_eq!(c.len(), if peer { 1 + 16 } else { 1 + 8 }, "{what}");
        }
        let c = checks(&profile(Some((true, None))), &p2p_section(false, 6.0, &[]));
        let a = c.iter().find(|c| c.id == ACCESS).unwrap();
        assert!(a.hint.contains("enable P2P"), "{}", a.hint);
        let both = "machine.p2p.gpu0_gpu1.host_staged_device_to_device_bidirectional_memcpy";
        let b = c.iter().find(|c| c.id == both).unwrap();
        assert_eq!(
            (b.verdict, b.required, b.observed),
            (Verdict::Pass, None, Some(6.0))
        );
        assert!(
            b.reason.starts_with(
                "6.0 GB/s (the other way at the same time 6.0, total 12.0 GB/s) through host \
                 memory, verified; a host-staged copy is reported, never gated"
            ),
            "{}",
            b.reason
        );
    }

    /// The access check says what cuDeviceCanAccessPeer answered once, per direction where the
    /// answers differ, then the stage's reason for staging (which does not repeat them):
    /// (a → b, b → a, enabling failed, profile requires) → the exact reason.
    #[test]
    fn the_access_reason_says_each_answer_once() {
        let staged = "peer access is not available both ways; staged";
        let enable = "cuDeviceCanAccessPeer allows peer access both ways, but enabling it failed";
        let table = [
            (
                true,
                true,
                None,
                false,
                "cuDeviceCanAccessPeer = 1 both ways (GPU 0 → 1, GPU 1 → 0): peer access \
                 enabled both ways"
                    .to_string(),
            ),
            (
                false,
                false,
                Some(staged),
                true,
                format!(
                    "cuDeviceCanAccessPeer = 0 both ways (GPU 0 → 1, GPU 1 → 0), and the \
                     profile requires peer access: {staged}"
                ),
            ),
            (
                true,
                false,
                Some(staged),
                false,
                format!(
                    "cuDeviceCanAccessPeer = 1 for GPU 0 → 1, 0 for GPU 1 → 0, reported, not \
                     failed (the profile does not require peer access): {staged}"
                ),
            ),
            (
                true,
                true,
                Some(enable),
                true,
                format!("peer access not in use, and the profile requires peer access: {enable}"),
            ),
        ];
        for (ab, ba, fallback, required, want) in table {
            let mut s = p2p_section(false, 6.0, &[]);
            let pair = &mut s.pairs[0];
            (pair.a_to_b, pair.b_to_a) = (ab, ba);
            pair.fallback = fallback.map(String::from);
            let req = required.then_some((true, None));
            let c = checks(&profile(req), &s);
            let a = c.iter().find(|c| c.id == ACCESS).unwrap();
            assert_eq!(a.reason, want);
            // Access both ways but not enabled is no access in use: judged as none.
            let used = ab && ba && fallback.is_none();
            let v = match (used, required) {
                (true, _) => Verdict::Pass,
                (false, true) => Verdict::Fail,
                (false, false) => Verdict::Skipped,
            };
            assert_eq!(a.verdict, v, "{want}");
            assert_eq!(
                a.reason.matches("cuDeviceCanAccessPeer =").count(),
                (fallback != Some(enable)) as usize
            );
        }
    }

    /// One wrong byte fails the test's verify check and its bandwidth check, whatever the
    /// profile; the tests that copied into the other GPU pass.
    #[test]
    fn a_wrong_byte_fails_the_copies_into_that_gpu_only() {
        let c = checks(&profile(None), &p2p_section(true, 12.0, &[0]));
        for (id, v) in [
            ("gpu0_gpu1.device_to_device_memcpy_read_ce", Verdict::Fail),
            ("gpu0_gpu1.device_to_device_memcpy_write_ce", Verdict::Pass),
            ("gpu1_gpu0.device_to_device_memcpy_write_ce", Verdict::Fail),
            ("gpu1_gpu0.device_to_device_memcpy_read_ce", Verdict::Pass),
            (
                "gpu0_gpu1.device_to_device_bidirectional_memcpy_read_ce",
                Verdict::Fail,
            ),
        ] {
            assert_eq!(verdict(&c, &format!("machine.p2p.{id}")), v, "{id}");
            assert_eq!(verdict(&c, &format!("machine.p2p.{id}.verify")), v, "{id}");
        }
        let v = c
            .iter()
            .find(|c| c.id == format!("{READ01}.verify"))
            .unwrap();
        assert_eq!(
            v.evidence,
            vec!["GPU 1 → 0: byte 524288: sent 0x5a, got 0x5b"]
        );
        assert!(
            v.reason.starts_with("1 of 1048576 bytes arrived wrong"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn no_section_no_checks_and_a_pair_that_failed_to_run_fails() {
        let mut d = Vec::new();
        p2p_checks(&profile(None), None, &mut d);
        assert!(d.is_empty());
        let mut s = p2p_section(true, 12.0, &[]);
        s.pairs[0].error = Some("CUDA_ERROR_LAUNCH_FAILED".into());
        let c = checks(&profile(None), &s);
        assert_eq!(verdict(&c, "machine.p2p.gpu0_gpu1.run"), Verdict::Fail);
    }
}
