//! Seeds: a fresh one for a run, and each workload's, derived from the run's and the workload's
//! stable id (so a run is reproduced from its recorded seed).

/// A fresh seed from the clock and the process id.
pub fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    splitmix(t ^ ((std::process::id() as u64) << 32))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of one workload: derived from the run's seed and the workload's stable id.
pub fn workload_seed(run_seed: u64, id: &str) -> u64 {
    splitmix(run_seed ^ crate::util::fnv1a64(id.bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_seeds_differ_by_id_and_run() {
        assert_ne!(
            workload_seed(1, "gpu0.sgemm"),
            workload_seed(1, "gpu0.dgemm")
        );
        assert_ne!(
            workload_seed(1, "gpu0.sgemm"),
            workload_seed(2, "gpu0.sgemm")
        );
        assert_eq!(workload_seed(7, "x"), workload_seed(7, "x"));
    }
}
