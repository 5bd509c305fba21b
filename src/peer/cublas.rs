//! The cuBLAS peer: the vendor GEMM library, measured beside gpugate's GEMMs for comparison and
//! never gated.

use crate::cuda::{self, BlasError, CublasLibrary};
use crate::model::{BackendKind, DeviceInfo, Role, WorkloadResult};
use crate::run::one::{run_one, Slot};
use crate::run::workload_seed;
use crate::workload::{WorkloadError, WorkloadSpec};

use super::{Context, Peer, PeerJob, PeerSite};

/// cuBLAS: beside the first GEMM of each precision and shape on a GPU (whatever its math):
/// sgemm (pedantic FP32), dgemm, gemmEx for FP16 inputs. Its results are peers: compared with
/// gpugate's kernel in the reports, never gated.
pub struct Cublas(CublasLibrary);

impl Cublas {
    /// cuBLAS, if it is installed and fits the driver; else why not.
    pub fn probe() -> Result<Cublas, BlasError> {
        cuda::cublas_status().map(Cublas)
    }

    /// The run's note naming the library found: "cuBLAS peer: cuBLAS 12.4.5 (gpugate-sim) from
    /// /…/libgpugate_sim.so, compared with gpugate's GEMMs, never gated".
    pub fn found_note(&self) -> String {
        format!(
            "cuBLAS peer: {} from {}, compared with gpugate's GEMMs, never gated",
            self.0.label(),
            self.0
                .path
                .as_deref()
                .unwrap_or("a file the loader does not name")
        )
    }
}

impl Peer for Cublas {
    fn name(&self) -> &'static str {
        "cuBLAS"
    }

    fn plan(&self, _gpu: &DeviceInfo, own: &[WorkloadSpec]) -> Vec<PeerJob> {
        cublas_jobs(own)
    }

    fn measure(&mut self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult {
        let at = Slot {
            backend: BackendKind::Cuda,
            device: Some(site.gpu.index),
            device_name: site.gpu.name.clone(),
            role: Role::Peer,
        };
        let (dev, seed) = (site.dev, site.seed);
        let prepare = |id: &str| match (dev, job.spec) {
            (
                Context::Open(dev),
                WorkloadSpec::Gemm {
                    precision, m, n, k, ..
                },
            ) => Ok(dev.cublas_gemm_trial(precision, m, n, k, workload_seed(seed, id))?),
            (Context::Open(_), other) => Err(WorkloadError::Unsupported(format!(
                "cuBLAS has no peer for {}",
                other.name()
            ))),
            (Context::Failed(e), _) => Err(WorkloadError::from(e.clone())),
            (Context::Closed, _) => Err(WorkloadError::Unsupported(
                "the GPU's own workloads are done: no context to run cuBLAS in".into(),
            )),
        };
        run_one(
            &job.spec,
            &at,
            site.position,
            prepare,
            site.crit,
            site.telemetry.map(|t| (t, site.epoch)),
            site.progress,
        )
    }

    /// One note per GPU whose cuBLAS results failed: the warnings say how, and nothing is gated.
    fn failure_note(&self, gpu: &DeviceInfo, _error: &str) -> Option<String> {
        Some(format!(
            "GPU {}: cuBLAS peer failed (see the warnings); peers are compared with gpugate's \
             GEMMs, never gated",
            gpu.index
        ))
    }
}

/// cuBLAS's jobs on a GPU whose own workloads are `own`: one per GEMM precision and shape (a
/// tensor-core and a CUDA-core GEMM of one shape share it), after the first of them.
pub fn cublas_jobs(own: &[WorkloadSpec]) -> Vec<PeerJob> {
    let mut jobs: Vec<PeerJob> = Vec::new();
    for spec in own {
        if let Some(p) = spec.peer_spec() {
            if !jobs.iter().any(|j| j.spec == p) {
                jobs.push(PeerJob {
                    spec: p,
                    after: Some(*spec),
                });
            }
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::CudaError;
    use crate::measure::StoppingCriterion;
    use crate::model::Level;
    use crate::peer::tests::site_run;
    use crate::workload::{GemmMath, Precision, StreamOp};
    use std::time::Instant;

    #[test]
    fn cublas_follows_the_first_gemm_of_each_precision_and_shape() {
        let sgemm = WorkloadSpec::gemm(Precision::F32, 1024, 1024, 1024);
        let dgemm = WorkloadSpec::gemm(Precision::F64, 2048, 2048, 2048);
        let dgemm_tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 2048,
            n: 2048,
            k: 2048,
            math: GemmMath::TensorCores,
        };
        let triad = WorkloadSpec::Stream {
            op: StreamOp::Triad,
            precision: Precision::F32,
            n: 1 << 20,
        };
        let jobs = cublas_jobs(&[triad, dgemm_tc, sgemm, dgemm, triad]);
        // One per shape, after the first GEMM of it (the tensor-core DGEMM came first), on
        // the CUDA-core spec (a peer names no math); nothing for the stream.
        assert_eq!(
            jobs,
            [
                PeerJob {
                    spec: dgemm,
                    after: Some(dgemm_tc)
                },
                PeerJob {
                    spec: sgemm,
                    after: Some(sgemm)
                },
            ]
        );
    }

    #[test]
    fn a_peer_without_a_context_fails_its_result_with_the_reason() {
        let gpu = crate::test_support::m40(0);
        let job = cublas_jobs(&[WorkloadSpec::gemm(Precision::F32, 64, 64, 64)])[0];
        let (r, seen) = site_run(&mut Cublas(CublasLibrary::default()), &job, &gpu);
        assert_eq!(r.role, Role::Peer);
        assert_eq!(r.id, "gpu0.peer.sgemm.64x64x64");
        assert!(r.measurement.is_none());
        assert!(
            r.error
                .as_deref()
                .unwrap()
                .contains("no context to run cuBLAS in"),
            "{r:?}"
        );
        assert_eq!(
            seen,
            [
                "start gpu0.peer.sgemm.64x64x64",
                "done gpu0.peer.sgemm.64x64x64"
            ]
        );
    }

    /// On a GPU that could not be opened, cuBLAS's job fails with the very error the GPU
    /// gave (typed, so the result says what the open said), never a generic one.
    #[test]
    fn a_peer_on_a_gpu_that_could_not_be_opened_fails_with_its_error() {
        let gpu = crate::test_support::m40(0);
        let job = cublas_jobs(&[WorkloadSpec::gemm(Precision::F64, 64, 64, 64)])[0];
        let why = CudaError::NoSuchGpu {
            ordinal: 0,
            count: 0,
        };
        let crit = StoppingCriterion::for_level(Level::Quick);
        let site = PeerSite {
            gpu: &gpu,
            dev: Context::Failed(&why),
            seed: 7,
            position: (1, 1),
            crit: &crit,
            telemetry: None,
            epoch: Instant::now(),
            progress: &mut |_| {},
        };
        let r = Cublas(CublasLibrary::default()).measure(&job, site);
        assert_eq!(r.id, "gpu0.peer.dgemm.64x64x64");
        assert_eq!(
            r.error.as_deref(),
            Some(format!("could not prepare: {why}").as_str())
        );
    }
}
