//! The autotuner on the emulator: every real GEMM variant is run, verified and timed, and the
//! chosen one is a verified candidate. (Emulator times are wall time: which variant wins here
//! says nothing about a GPU; that every variant runs correctly through the tuner does.)

use std::sync::Arc;

use gpugate::kernels::gemm_variants_for;
use gpugate::measure::tune::{tune_class_at, SizeClass, TuneBudget};
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::device::KernelDevice;
use gpugate::workload::{GemmMath, Precision, WorkloadSpec};
use gpugate_emu::EmuDevice;

#[test]
fn every_variant_is_timed_and_verified_and_the_backend_uses_the_choice() {
    let dev = Arc::new(EmuDevice::new());
    let budget = TuneBudget {
        iters: 1,
        slow_launch: 0.0,
        memory_fraction: 0.5,
    };
    let cc = dev.props().compute_capability;
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        let math = GemmMath::CudaCores;
        let variants = gemm_variants_for(p, math, cc);
        let e = tune_class_at(&dev, p, math, cc, SizeClass::Small, 37, budget, 9)
            .expect("tuning succeeds");
        assert_eq!(e.candidates.len(), variants.len());
        for c in &e.candidates {
            assert!(c.verified, "{} did not verify: {:?}", c.variant, c.error);
            assert!(c.tflops.unwrap() > 0.0);
        }
        assert!(variants.iter().any(|v| v.kernel.entry == e.variant));

        let mut table = gpugate::measure::tune::TuningTable::new(0, Default::default());
        table.entries.push(e.clone());
        let mut backend =
            DeviceBackend::new(dev.clone(), Some(0), gpugate::model::BackendKind::Cuda);
        backend.tuning = Some(table);
        let spec = WorkloadSpec::gemm(p, 33, 17, 9);
        let mut t = backend.prepare(&spec, 1).unwrap();
        assert!(
            t.info().implementation.ends_with(&e.variant),
            "{}",
            t.info().implementation
        );
        t.run(1).unwrap();
        assert!(t.verify().unwrap().passed());
    }
}
