//! The autotuner on the device: every GEMM variant of each precision and math the device has is
//! run, verified and timed (device time from events), the chosen one is a verified candidate,
//! and the backend then runs the choice. (On the simulator the times come from its time model:
//! which variant wins there says nothing about a GPU; that every variant runs correctly
//! through the tuner does.)

use gpugate::kernels::gemm_variants_for;
use gpugate::measure::tune::{tune_class_at, SizeClass, TuneBudget, TuningTable};
use gpugate::model::BackendKind;
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::{GemmMath, Precision, WorkloadSpec};

use super::{cc, open};

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_variant_is_timed_and_verified_and_the_backend_uses_the_choice() {
    let dev = open();
    let cc = cc(&dev);
    let budget = TuneBudget {
        iters: 1,
        slow_launch: 0.0,
        memory_fraction: 0.5,
    };
    let mut tuned = 0;
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        for math in [GemmMath::CudaCores, GemmMath::TensorCores] {
            let variants = gemm_variants_for(p, math, cc);
            if variants.is_empty() {
                assert!(tune_class_at(&dev, p, math, cc, SizeClass::Small, 37, budget, 9).is_err());
                continue;
            }
            let e = tune_class_at(&dev, p, math, cc, SizeClass::Small, 37, budget, 9)
                .expect("tuning succeeds");
            assert_eq!(e.candidates.len(), variants.len());
            // On the simulator no variant can beat the model's peak × efficiency of its unit.
            let ceiling = super::sim_model(&dev).map(|m| match (p, math) {
                (Precision::F64, GemmMath::CudaCores) => {
                    m.time.fp64_tflops * m.time.fp64_efficiency
                }
                (Precision::F64, GemmMath::TensorCores) => {
                    m.time.fp64_tensor_tflops * m.time.fp64_tensor_efficiency
                }
                (_, GemmMath::TensorCores) => {
                    m.time.fp16_tensor_tflops * m.time.fp16_tensor_efficiency
                }
                _ => m.time.fp32_tflops * m.time.fp32_efficiency,
            });
            for c in &e.candidates {
                assert!(c.verified, "{} did not verify: {:?}", c.variant, c.error);
                let tflops = c.tflops.unwrap();
                assert!(tflops > 0.0 && tflops.is_finite(), "{c:?}");
                if let Some(ceiling) = ceiling {
                    assert!(
                        tflops <= ceiling * (1.0 + 1e-4),
                        "{c:?} above {ceiling} TFLOPS"
                    );
                }
            }
            assert!(variants.iter().any(|v| v.kernel.entry == e.variant));

            let mut table = TuningTable::new(0, Default::default());
            table.entries.push(e.clone());
            let mut backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
            backend.tuning = Some(table);
            let spec = WorkloadSpec::Gemm {
                precision: p,
                m: 33,
                n: 17,
                k: 9,
                math,
            };
            let mut t = backend.prepare(&spec, 1).unwrap();
            assert!(
                t.info().implementation.ends_with(&e.variant),
                "{}",
                t.info().implementation
            );
            let secs = t.run(1).unwrap();
            assert!(secs > 0.0 && secs.is_finite());
            if let Some(m) = super::sim_model(&dev) {
                // At least one launch interval: a 33×17×9 GEMM is shorter than it.
                super::assert_modelled(secs, m.time.launch_interval_us * 1e-6, 1e-4, "33x17x9");
            }
            assert!(t.verify().unwrap().passed());
            tuned += 1;
        }
    }
    // FP32 and FP64 on the CUDA cores, HGEMM on both everywhere from sm_70, DMMA from sm_80.
    let expected = 3 + usize::from(cc >= (7, 0)) + usize::from(cc >= (8, 0));
    assert_eq!(tuned, expected, "{cc:?}");
}
