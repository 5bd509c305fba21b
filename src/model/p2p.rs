//! Peer-to-peer between the GPUs of a machine, as run.json records it (`RunReport::p2p`): for
//! each pair of GPUs whether each can access the other (`cuDeviceCanAccessPeer`), and the copy
//! tests named as nvbandwidth names them, each with its bandwidth and its byte-for-byte
//! verification; where a pair has no peer access, the host-staged copies measured instead and
//! why. Optional: absent from runs that did not test P2P and from older files.

use serde::{Deserialize, Serialize};

use super::{Measurement, Verification, VerifyStatus};

/// nvbandwidth's test: a copy from the peer to the target GPU, issued on the target's context
/// (the target reads).
pub const READ_CE: &str = "device_to_device_memcpy_read_ce";
/// nvbandwidth's test: a copy from the target GPU to the peer, issued on the target's context
/// (the target writes).
pub const WRITE_CE: &str = "device_to_device_memcpy_write_ce";
/// nvbandwidth's test: [`READ_CE`] with a copy the other way (issued on the peer's context) at
/// the same time on a stream of its own; reported per direction (`_read1` the measured one,
/// `_read2` the other) and summed (`_total`).
pub const BIDIR_READ_CE: &str = "device_to_device_bidirectional_memcpy_read_ce";
/// nvbandwidth's test: [`WRITE_CE`] with a copy the other way at the same time (`_write1`,
/// `_write2`, `_total`).
pub const BIDIR_WRITE_CE: &str = "device_to_device_bidirectional_memcpy_write_ce";
/// gpugate's fallback where a pair has no peer access: device → pinned host memory → device,
/// each copy on its own GPU's stream. Not an nvbandwidth name, and never a peer copy.
pub const HOST_STAGED: &str = "host_staged_device_to_device_memcpy";
/// gpugate's fallback for the bidirectional tests: [`HOST_STAGED`] with a staged copy the other
/// way at the same time (each GPU's stream carries its own copy to the host, then the other's
/// from it); reported per direction and summed, as the peer bidirectional tests are. Not an
/// nvbandwidth name either: nvbandwidth's `host_to_device_bidirectional_memcpy_ce` and
/// `device_to_host_bidirectional_memcpy_ce` load one GPU's link both ways, and its older
/// `device_to_device_bidirectional_memcpy_ce` is a peer copy.
pub const HOST_STAGED_BIDIR: &str = "host_staged_device_to_device_bidirectional_memcpy";

/// The tests of a pair without peer access, in the order they run.
pub const HOST_STAGED_TESTS: [&str; 2] = [HOST_STAGED, HOST_STAGED_BIDIR];

/// Whether test `name` stages its copies through host memory (never a peer copy: never judged
/// against a peer bandwidth).
pub fn is_host_staged(name: &str) -> bool {
    HOST_STAGED_TESTS.contains(&name)
}

/// The peer tests of a pair with peer access, in the order they run.
pub const PEER_TESTS: [&str; 4] = [READ_CE, WRITE_CE, BIDIR_READ_CE, BIDIR_WRITE_CE];

/// The P2P stage of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct P2pSection {
    /// The GPUs the stage had (their indices), in order.
    pub gpus: Vec<u32>,
    /// Bytes of each copy.
    pub bytes: u64,
    /// Why nothing was tested (one GPU: no pair), or what else the reader must know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// One entry per pair of GPUs (`a` < `b`).
    pub pairs: Vec<P2pPair>,
}

/// One pair of GPUs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct P2pPair {
    pub a: u32,
    pub b: u32,
    /// `cuDeviceCanAccessPeer(a, b)`: GPU `a` can access `b`'s memory.
    pub a_to_b: bool,
    /// `cuDeviceCanAccessPeer(b, a)`.
    pub b_to_a: bool,
    /// Why the copies were staged through host memory instead of peer copies; None where
    /// peer access was used both ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Why the pair could not be tested (a driver error); its tests are then what ran before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tests: Vec<P2pTest>,
}

impl P2pPair {
    /// Whether both GPUs can access each other.
    pub fn peer_access(&self) -> bool {
        self.a_to_b && self.b_to_a
    }
}

/// One copy test of a pair in one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct P2pTest {
    /// The test's name: one of [`PEER_TESTS`] or [`HOST_STAGED_TESTS`].
    pub name: String,
    /// The GPU whose context issues the measured copy (nvbandwidth's "target"); for the
    /// host-staged copies, the measured copy's source.
    pub target: u32,
    /// The measured copy goes from `src` to `dst`.
    pub src: u32,
    pub dst: u32,
    /// The measured copy's samples; its throughput in GB/s (decimal).
    pub measurement: Measurement,
    /// A bidirectional test's other copy (peer or host-staged), running at the same time: its
    /// median GB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_gbps: Option<f64>,
    /// Every byte of the last copy (both copies for a bidirectional test) read back and
    /// compared with what was sent.
    pub verification: Verification,
}

impl P2pTest {
    /// The measured direction's median, GB/s.
    pub fn gbps(&self) -> f64 {
        self.measurement.throughput.median
    }

    /// Both directions summed (nvbandwidth's `_total`) for a bidirectional test.
    pub fn total_gbps(&self) -> Option<f64> {
        self.reverse_gbps.map(|r| r + self.gbps())
    }

    /// Whether the bytes arrived as sent.
    pub fn verified(&self) -> bool {
        self.verification.status == VerifyStatus::Passed
    }

    /// The id its checks carry: `gpu0_gpu1.device_to_device_memcpy_read_ce` (target first,
    /// then the peer; for the host-staged copies, source then destination).
    pub fn id(&self) -> String {
        let other = if self.target == self.src {
            self.dst
        } else {
            self.src
        };
        format!("gpu{}_gpu{}.{}", self.target, other, self.name)
    }
}
