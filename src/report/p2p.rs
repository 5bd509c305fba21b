//! Peer to peer as the reports show it: the P2P matrix (GPU × GPU: can the row's GPU access
//! the column's, and the bandwidth of the copies from the row's GPU to the column's), every
//! copy test in a table, and why a pair's copies were staged through the host, all as the
//! run's `p2p` section recorded them.

use crate::model::p2p::{
    is_host_staged, P2pSection, P2pTest, HOST_STAGED, HOST_STAGED_BIDIR, READ_CE, WRITE_CE,
};
use crate::model::{Check, Verdict};
use crate::util::fmt_value;

/// What the P2P section says before its tables.
pub const INTRO: &str = "Copies between every pair of GPUs, named as nvbandwidth names its \
    tests: in a read test the receiving GPU's context pulls from its peer, in a write test the \
    sending GPU's context pushes; a bidirectional test runs a copy the other way at the same \
    time (its bandwidth is the other way's column, the total both summed). Every copied byte is \
    read back and compared with what was sent. GB/s = 1e9 B/s.";

/// The matrix's caption.
pub const MATRIX_NOTE: &str = "Row → column: whether the row's GPU can access the column's \
    memory (cuDeviceCanAccessPeer), and the median bandwidth of the copies from the row's GPU \
    to the column's (read: pulled by the column's GPU; write: pushed by the row's; host-staged, \
    where a pair has no peer access: device → pinned host memory → device, never a peer copy; \
    both ways: with the copy from the column's GPU to the row's at the same time, and the \
    total of both). The bidirectional peer tests are in the table below. Green: peer access \
    and every byte right; red: wrong bytes, or no peer access where the profile requires it.";

/// The tests a matrix cell shows, with their labels: the peer copies one way, and without peer
/// access the host-staged copies, one way and both ways at once.
const MATRIX_TESTS: [(&str, &str); 4] = [
    ("read", READ_CE),
    ("write", WRITE_CE),
    ("host-staged", HOST_STAGED),
    ("host-staged both ways", HOST_STAGED_BIDIR),
];

/// The columns of the tests table.
pub const COLUMNS: [&str; 7] = [
    "test",
    "copy",
    "issued by",
    "GB/s",
    "other way GB/s",
    "total GB/s",
    "bytes",
];

/// The header of the matrix: "from \\ to" and one column per GPU.
pub fn matrix_header(s: &P2pSection) -> Vec<String> {
    std::iter::once("from \\ to".to_string())
        .chain(s.gpus.iter().map(|g| format!("gpu{g}")))
        .collect()
}

/// One row of the matrix per GPU: each cell the copies from it to the column's GPU that the
/// matrix shows, and its mark: FAIL where bytes arrived wrong or the pair's peer access check
/// (among `checks`) failed, PASS with peer access and every byte right, none otherwise (no
/// peer access that the profile does not require: the numbers are information).
pub fn matrix_rows(s: &P2pSection, checks: &[Check]) -> Vec<Vec<(String, Option<Verdict>)>> {
    s.gpus
        .iter()
        .map(|&from| {
            std::iter::once((format!("gpu{from}"), None))
                .chain(s.gpus.iter().map(|&to| matrix_cell(s, checks, from, to)))
                .collect()
        })
        .collect()
}

fn matrix_cell(s: &P2pSection, checks: &[Check], from: u32, to: u32) -> (String, Option<Verdict>) {
    if from == to {
        return ("—".into(), None);
    }
    let Some(pair) = s
        .pairs
        .iter()
        .find(|p| (p.a, p.b) == (from, to) || (p.a, p.b) == (to, from))
    else {
        return ("not tested".into(), None);
    };
    let can = if pair.a == from {
        pair.a_to_b
    } else {
        pair.b_to_a
    };
    let tests: Vec<&P2pTest> = pair
        .tests
        .iter()
        .filter(|t| t.src == from && t.dst == to)
        .collect();
    let gb = |v: f64| fmt_value(v, "GB/s");
    let access_id = format!("machine.p2p.gpu{}_gpu{}.peer_access", pair.a, pair.b);
    let required = !can
        && checks
            .iter()
            .any(|c| c.id == access_id && c.verdict == Verdict::Fail);
    let access = match (can, required) {
        (true, _) => "access",
        (false, true) => "no access (required)",
        (false, false) => "no access",
    };
    let mut parts = vec![access.to_string()];
    for (label, name) in MATRIX_TESTS {
        let Some(t) = tests.iter().find(|t| t.name == name) else {
            continue;
        };
        match t.total_gbps() {
            Some(total) => parts.push(format!("{label} {} (total {})", gb(t.gbps()), gb(total))),
            None => parts.push(format!("{label} {}", gb(t.gbps()))),
        }
    }
    // The tests shown here: the peer bidirectional tests are the tests table's alone.
    let shown: Vec<&&P2pTest> = tests
        .iter()
        .filter(|t| MATRIX_TESTS.iter().any(|(_, n)| *n == t.name))
        .collect();
    let wrong = shown.iter().any(|t| !t.verified());
    if wrong {
        parts.push("WRONG BYTES".into());
    }
    let mark = if wrong || required {
        Some(Verdict::Fail)
    } else if can && !shown.is_empty() {
        Some(Verdict::Pass)
    } else {
        None
    };
    (parts.join(" · "), mark)
}

/// One row per copy test, in the order they ran, with whether its bytes arrived intact.
pub fn test_rows(s: &P2pSection) -> Vec<(Vec<String>, bool)> {
    let gb = |v: f64| fmt_value(v, "GB/s");
    s.pairs
        .iter()
        .flat_map(|p| &p.tests)
        .map(|t| {
            // A staged copy's legs run on both GPUs' streams, through the host.
            let (copy, issued) = if is_host_staged(&t.name) {
                (
                    format!("gpu{} → host → gpu{}", t.src, t.dst),
                    format!("gpu{}, then gpu{}", t.src, t.dst),
                )
            } else {
                (
                    format!("gpu{} → gpu{}", t.src, t.dst),
                    format!("gpu{}", t.target),
                )
            };
            let cells = vec![
                t.name.clone(),
                copy,
                issued,
                gb(t.gbps()),
                t.reverse_gbps.map_or_else(|| "—".into(), gb),
                t.total_gbps().map_or_else(|| "—".into(), gb),
                if t.verified() {
                    format!("{} compared, all right", t.verification.checked)
                } else {
                    format!(
                        "{} of {} wrong",
                        t.verification.max_error, t.verification.checked
                    )
                },
            ];
            (cells, t.verified())
        })
        .collect()
}

/// Per pair, what the reader must know besides the numbers: why its copies were staged, or
/// why it could not be tested.
pub fn pair_notes(s: &P2pSection) -> Vec<String> {
    let mut out: Vec<String> = s.note.iter().cloned().collect();
    for p in &s.pairs {
        if let Some(f) = &p.fallback {
            out.push(format!("gpu{} ↔ gpu{}: {f}", p.a, p.b));
        }
        if let Some(e) = &p.error {
            out.push(format!(
                "gpu{} ↔ gpu{}: not tested to its end: {e}",
                p.a, p.b
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::p2p_section;

    /// The access check's verdict as the gate records it.
    fn access_check(v: Verdict) -> Check {
        Check {
            id: "machine.p2p.gpu0_gpu1.peer_access".into(),
            kind: crate::model::CheckKind::Inventory,
            device: None,
            title: String::new(),
            verdict: v,
            observed: None,
            required: None,
            spec: None,
            percent_of_spec: None,
            unit: String::new(),
            source: None,
            reason: String::new(),
            hint: String::new(),
            evidence: vec![],
            noise_interval: None,
            decided_from: vec![],
        }
    }

    /// The matrix exactly as every report lays it out, with its marks.
    #[test]
    fn the_matrix_names_access_and_bandwidth_each_way() {
        use Verdict::*;
        let s = p2p_section(true, 12.4, &[0]);
        assert_eq!(matrix_header(&s), ["from \\ to", "gpu0", "gpu1"]);
        let rows = matrix_rows(&s, &[access_check(Pass)]);
        let text: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(|(t, _)| t.as_str()).collect())
            .collect();
        assert_eq!(
            text,
            [
                vec!["gpu0", "—", "access · read 12.4 · write 12.4"],
                vec!["gpu1", "access · read 12.4 · write 12.4 · WRONG BYTES", "—"],
            ]
        );
        assert_eq!(rows[0][2].1, Some(Pass));
        assert_eq!(rows[1][1].1, Some(Fail));
        // Without peer access: the host-staged copies one way and both ways; a wrong byte
        // (into GPU 1) marks both cells (into GPU 0, the bidirectional test's other way, which
        // that test verified); the access, required (its check failed) or not, marks the cell
        // FAIL or leaves it unmarked.
        let both = "host-staged 6.2 · host-staged both ways 6.2 (total 12.4)";
        let table = [
            (
                &[1][..],
                Skipped,
                format!("no access · {both} · WRONG BYTES"),
                Some(Fail),
            ),
            (
                &[],
                Fail,
                format!("no access (required) · {both}"),
                Some(Fail),
            ),
            (&[], Skipped, format!("no access · {both}"), None),
        ];
        for (wrong, access, text, mark) in table {
            let rows = matrix_rows(&p2p_section(false, 6.2, wrong), &[access_check(access)]);
            for cell in [&rows[0][2], &rows[1][1]] {
                assert_eq!(cell, &(text.clone(), mark), "{wrong:?} {access:?}");
            }
        }
        let clean = p2p_section(false, 6.2, &[]);
        assert_eq!(
            pair_notes(&clean),
            ["gpu0 ↔ gpu1: peer access is not available both ways"]
        );
        assert_eq!(
            test_rows(&clean)[1].0,
            [
                "host_staged_device_to_device_bidirectional_memcpy",
                "gpu0 → host → gpu1",
                "gpu0, then gpu1",
                "6.2",
                "6.2",
                "12.4",
                "1048576 compared, all right"
            ]
        );
        let t = test_rows(&s);
        assert_eq!(t.len(), 8);
        assert_eq!(
            t[2].0,
            [
                "device_to_device_bidirectional_memcpy_read_ce",
                "gpu1 → gpu0",
                "gpu0",
                "12.4",
                "12.4",
                "24.8",
                "1 of 1048576 wrong"
            ]
        );
    }
}
