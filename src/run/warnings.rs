//! What a run says beside its numbers: the warnings on a GPU result (its likely causes,
//! throttling) and the run's notes about a GPU (a kernel build the driver could not load,
//! stream arrays smaller than the cache).

use crate::model::{DeviceInfo, MeasurementWarning, ModuleChoice};
use crate::plan::{SizeOverrides, STREAM_L2_FACTOR};
use crate::probe::telemetry::TelemetrySummary;

/// A warning when the GPU reported throttle reasons during a measurement.
pub fn throttle_warning(t: &TelemetrySummary) -> Option<MeasurementWarning> {
    if t.samples == 0 || t.throttled_fraction <= 0.0 {
        return None;
    }
    Some(MeasurementWarning::Throttled {
        share: t.throttled_fraction,
        reasons: t.throttle_reasons.clone(),
        sm_clock_held_mhz: t.sm_clock_mhz_median,
        sm_clock_max_mhz: t.max_sm_clock_mhz,
    })
}

/// A sampler warning on a GPU result: noise and drift marked as on a GPU, so that they name
/// the GPU's likely causes (the sampler says only what the samples show: a host CPU result
/// keeps it so, with no guess about throttling).
pub fn gpu_warning(w: MeasurementWarning) -> MeasurementWarning {
    match w {
        MeasurementWarning::Noisy {
            rel_stddev, limit, ..
        } => MeasurementWarning::Noisy {
            rel_stddev,
            limit,
            on_gpu: true,
        },
        MeasurementWarning::Drift { slowdown, .. } => MeasurementWarning::Drift {
            slowdown,
            on_gpu: true,
        },
        other => other,
    }
}

/// The run's notes and records for GPU `gpu`'s kernel families that did not load the GPU's best
/// build because the driver's JIT (or the device) is too old: "GPU 0: gemm: compute_70 build
/// loaded instead of compute_80: …", or "GPU 0: kernel module 'stream' not loaded, its workloads
/// fail: …". Nothing for a family that loaded its best build.
pub fn module_notes(gpu: u32, set: &crate::kernels::KernelSet) -> Vec<(String, ModuleChoice)> {
    set.families
        .iter()
        .filter_map(|f| {
            let record = f.record(gpu);
            let reason = record.reason.as_deref()?;
            let note = match f.loaded {
                Some(_) => format!("GPU {gpu}: {reason}"),
                None => format!(
                    "GPU {gpu}: kernel module '{}' not loaded, its workloads fail: {reason}",
                    f.family
                ),
            };
            Some((note, record))
        })
        .collect()
}

/// A note for the report when `--stream-mib` makes the stream arrays smaller than
/// [`STREAM_L2_FACTOR`] × the GPU's L2 cache: the bandwidth measured is then partly the cache's.
pub(crate) fn small_stream_note(sizes: &SizeOverrides, d: &DeviceInfo) -> Option<String> {
    let bytes = sizes.stream_bytes?;
    let floor = STREAM_L2_FACTOR as u64 * d.l2_cache_bytes;
    (floor > 0 && (bytes as u64) < floor).then(|| {
        format!(
            "GPU {}: stream arrays of {} MiB (--stream-mib) are smaller than {STREAM_L2_FACTOR} × \
             its L2 cache ({:.1} MiB): their bandwidth may be partly the cache's, not DRAM's",
            d.index,
            bytes >> 20,
            floor as f64 / (1u64 << 20) as f64
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_a_warning_with_reasons_and_clock() {
        let mut t = crate::probe::telemetry::summarize(&[], Some(1114), None);
        assert_eq!(throttle_warning(&t), None, "no samples, no warning");
        t.samples = 20;
        t.throttled_fraction = 0.25;
        t.throttle_reasons = vec!["hw_thermal_slowdown".into(), "sw_power_cap".into()];
        t.sm_clock_mhz_median = Some(948.0);
        let w = throttle_warning(&t).unwrap();
        assert!(matches!(&w, MeasurementWarning::Throttled { share, .. } if *share == 0.25));
        assert_eq!(
            w.to_string(),
            "throttled during 25% of the measurement (hw_thermal_slowdown, sw_power_cap); SM clock held 948 of 1114 MHz"
        );
        t.throttled_fraction = 0.0;
        assert_eq!(throttle_warning(&t), None);
    }

    #[test]
    fn module_notes_say_which_build_loaded_and_what_to_install() {
        use crate::kernels::{select_modules, KernelModule, KernelSet};
        // The best builds: nothing to note.
        assert!(module_notes(0, &KernelSet::select((8, 0), 11000)).is_empty());
        assert!(module_notes(0, &KernelSet::select((5, 2), 10010)).is_empty());
        // An A100 on R418: gemm from compute_70, said so.
        let notes = module_notes(1, &KernelSet::select((8, 0), 10010));
        assert_eq!(notes.len(), 1);
        assert_eq!(
            notes[0].0,
            "GPU 1: gemm: compute_70 build loaded instead of compute_80: the driver's JIT accepts \
             up to PTX ISA 6.4; compute_80 needs 7.0 (R450+)"
        );
        let r = &notes[0].1;
        assert_eq!((r.device, r.module.as_str()), (1, "gemm"));
        assert_eq!(r.target.as_deref(), Some("compute_70"));
        assert_eq!(r.refused.as_deref(), Some("compute_80"));
        assert_eq!(r.refused_min_driver.as_deref(), Some("CUDA 11.0 (R450+)"));
        // A stream build patched to PTX ISA 8.0 on R470: that family is not loaded, its
        // workloads fail, and the note names R525.
        static PATCHED: [KernelModule; 2] = [
            KernelModule {
                name: "gemm",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "4.1",
                ptx: "",
                entries: &[],
            },
            KernelModule {
                name: "stream",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "8.0",
                ptx: "",
                entries: &[],
            },
        ];
        let set = KernelSet {
            families: select_modules(&PATCHED, (5, 2), 11040),
        };
        let notes = module_notes(0, &set);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].0.starts_with(
                "GPU 0: kernel module 'stream' not loaded, its workloads fail: the driver is too \
                 old for kernel module 'stream' (compute_52, PTX ISA 8.0)"
            ) && notes[0].0.contains("CUDA 12.0 or newer (R525+)"),
            "{}",
            notes[0].0
        );
        assert_eq!(notes[0].1.target, None);
        // The record survives run.json, and a run.json without module_notes still loads.
        let json = serde_json::to_string(&notes[0].1).unwrap();
        assert_eq!(
            serde_json::from_str::<ModuleChoice>(&json).unwrap(),
            notes[0].1
        );
        let old: ModuleChoice = serde_json::from_str(r#"{"device": 0, "module": "gemm"}"#).unwrap();
        assert_eq!((old.target, old.reason), (None, None));
    }
}
