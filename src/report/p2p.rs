//! Peer to peer as the reports show it: the P2P matrix (GPU × GPU: can the row's GPU access
//! the column's, and the bandwidth of the copies from the row's GPU to the column's), every
//! copy test in a table, and why a pair's copies were staged through the host, all as the
//! run's `p2p` section recorded them.

use crate::model::p2p::{P2pSection, P2pTest, HOST_STAGED, READ_CE, WRITE_CE};
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
    to the column's (read: pulled by the column's GPU; write: pushed by the row's).";

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

/// One row of the matrix per GPU: each cell the one-way copies from it to the column's GPU,
/// and whether every one of them arrived intact (None where there is nothing to say).
pub fn matrix_rows(s: &P2pSection) -> Vec<Vec<(String, Option<bool>)>> {
    s.gpus
        .iter()
        .map(|&from| {
            std::iter::once((format!("gpu{from}"), None))
                .chain(s.gpus.iter().map(|&to| matrix_cell(s, from, to)))
                .collect()
        })
        .collect()
}

fn matrix_cell(s: &P2pSection, from: u32, to: u32) -> (String, Option<bool>) {
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
    let gbps = |name: &str| {
        tests
            .iter()
            .find(|t| t.name == name)
            .map(|t| fmt_value(t.gbps(), "GB/s"))
    };
    let mut parts = vec![if can { "access" } else { "no access" }.to_string()];
    for (label, name) in [
        ("read", READ_CE),
        ("write", WRITE_CE),
        ("host-staged", HOST_STAGED),
    ] {
        if let Some(v) = gbps(name) {
            parts.push(format!("{label} {v}"));
        }
    }
    // The one-way tests shown here: a bidirectional test's bytes went both ways (its row in
    // the tests table says whether they arrived).
    let shown: Vec<&&P2pTest> = tests
        .iter()
        .filter(|t| [READ_CE, WRITE_CE, HOST_STAGED].contains(&t.name.as_str()))
        .collect();
    let ok = (!shown.is_empty()).then(|| shown.iter().all(|t| t.verified()));
    if ok == Some(false) {
        parts.push("WRONG BYTES".into());
    }
    (parts.join(" · "), ok)
}

/// One row per copy test, in the order they ran, with whether its bytes arrived intact.
pub fn test_rows(s: &P2pSection) -> Vec<(Vec<String>, bool)> {
    let gb = |v: f64| fmt_value(v, "GB/s");
    s.pairs
        .iter()
        .flat_map(|p| &p.tests)
        .map(|t| {
            let cells = vec![
                t.name.clone(),
                format!("gpu{} → gpu{}", t.src, t.dst),
                format!("gpu{}", t.target),
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

    /// The matrix exactly as every report lays it out.
    #[test]
    fn the_matrix_names_access_and_bandwidth_each_way() {
        let s = p2p_section(true, 12.4, &[0]);
        assert_eq!(matrix_header(&s), ["from \\ to", "gpu0", "gpu1"]);
        let rows = matrix_rows(&s);
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
        assert_eq!(rows[0][2].1, Some(true));
        assert_eq!(rows[1][1].1, Some(false));
        let staged = p2p_section(false, 6.2, &[]);
        assert_eq!(matrix_rows(&staged)[0][2].0, "no access · host-staged 6.2");
        assert!(pair_notes(&staged)[0].starts_with("gpu0 ↔ gpu1: cuDeviceCanAccessPeer = 0"));
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
