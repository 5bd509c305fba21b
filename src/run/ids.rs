//! Result ids: the stable name of every result (`gpu0.sgemm.4096x4096x4096`,
//! `gpu0.peer.dgemm.2048x2048x2048`, `host.stream.triad.f64`), which the checks, junit.xml and
//! each workload's seed ([`crate::seed::workload_seed`]) derive from.

use crate::model::Role;
use crate::workload::WorkloadSpec;

/// Stable id of a workload result.
pub fn result_id(device: Option<u32>, role: Role, spec: &WorkloadSpec) -> String {
    let dev = match device {
        Some(i) => format!("gpu{i}"),
        None => "host".into(),
    };
    match role {
        Role::Primary => format!("{dev}.{}", spec.name()),
        Role::Peer => format!("{dev}.peer.{}", spec.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendKind, DeviceInfo, Level};
    use crate::plan::plan;
    use crate::run::stages::props_of;
    use crate::workload::{GemmMath, Precision};

    #[test]
    fn one_peer_per_gpu_precision_and_shape_whatever_the_math() {
        let mut props = props_of(&DeviceInfo {
            compute_capability: (9, 0),
            total_memory_bytes: 80 << 30,
            free_memory_bytes: 79 << 30,
            l2_cache_bytes: 50 << 20,
            ..Default::default()
        });
        let mut jobs = Vec::new();
        for d in [0, 1] {
            for s in plan(Level::Standard, BackendKind::Cuda, Some(&props)) {
                jobs.push((Some(d), s));
            }
        }
        for s in plan(Level::Standard, BackendKind::Host, None) {
            jobs.push((None, s));
        }
        let gemms = |p: Precision, math: GemmMath| {
            jobs.iter()
                .filter(|(d, s)| {
                    *d == Some(0)
                        && matches!(*s, WorkloadSpec::Gemm { precision, math: m, .. }
                            if precision == p && m == math)
                })
                .count()
        };
        let (s, d, dtc, htc) = (
            gemms(Precision::F32, GemmMath::CudaCores),
            gemms(Precision::F64, GemmMath::CudaCores),
            gemms(Precision::F64, GemmMath::TensorCores),
            gemms(Precision::F16, GemmMath::TensorCores),
        );
        assert!(
            d > 0 && d == dtc,
            "sm_90 runs every DGEMM size on both maths"
        );
        // DGEMM: one peer per shape, not one per math; none for the host.
        let peers = |jobs: &[(Option<u32>, WorkloadSpec)]| {
            (0..2)
                .map(|g| {
                    let own: Vec<WorkloadSpec> = jobs
                        .iter()
                        .filter(|(d, _)| *d == Some(g))
                        .map(|(_, s)| *s)
                        .collect();
                    crate::peer::cublas_jobs(&own).len()
                })
                .sum::<usize>()
        };
        assert_eq!(peers(&jobs), 2 * (s + d + htc));
        // A peer is recorded on the CUDA-core spec, so its id names no math.
        let tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 2048,
            n: 2048,
            k: 2048,
            math: GemmMath::TensorCores,
        };
        let p = tc.peer_spec().unwrap();
        assert_eq!(p, WorkloadSpec::gemm(Precision::F64, 2048, 2048, 2048));
        assert_eq!(
            result_id(Some(0), Role::Peer, &p),
            "gpu0.peer.dgemm.2048x2048x2048"
        );
        assert_eq!(
            result_id(Some(0), Role::Primary, &tc),
            "gpu0.dgemm.tc.2048x2048x2048"
        );
        // An older GPU: no tensor-core DGEMM, one peer per GEMM as before.
        props.compute_capability = (5, 2);
        let old: Vec<_> = plan(Level::Standard, BackendKind::Cuda, Some(&props))
            .into_iter()
            .map(|s| (Some(0), s))
            .collect();
        let n_gemm = old
            .iter()
            .filter(|(_, s)| matches!(s, WorkloadSpec::Gemm { .. }))
            .count();
        assert_eq!(peers(&old), n_gemm);
    }
}
