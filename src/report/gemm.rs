//! The GEMM comparison: gpugate's kernel against the GPU's peak and the cuBLAS peer, per size.

use crate::gate::profile::{targets_for_device, Metric, Scope};
use crate::model::{BackendKind, Role, RunReport, WorkloadResult};
use crate::workload::{Precision, WorkloadSpec};

/// One row: a primary CUDA GEMM result with its peer (same device and shape) and the peak.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmRow {
    pub id: String,
    pub device: u32,
    pub precision: Precision,
    pub shape: (usize, usize, usize),
    pub implementation: String,
    pub math_mode: String,
    pub tflops: Option<f64>,
    /// The GPU's nominal peak for this precision (catalogue or derived), TFLOPS.
    pub peak: Option<f64>,
    pub peer_implementation: Option<String>,
    pub peer_tflops: Option<f64>,
    /// Median SM clock held during the measurement / the GPU's maximum SM clock (telemetry).
    pub held_clock_fraction: Option<f64>,
}

impl GemmRow {
    pub fn percent_of_peak(&self) -> Option<f64> {
        Some(self.tflops? / self.peak? * 100.0)
    }
    /// TFLOPS against the peak scaled to the SM clock actually held during the measurement.
    pub fn percent_of_peak_at_held_clock(&self) -> Option<f64> {
        Some(self.tflops? / (self.peak? * self.held_clock_fraction?) * 100.0)
    }
    /// Kernel TFLOPS / peer TFLOPS.
    pub fn ratio_to_peer(&self) -> Option<f64> {
        Some(self.tflops? / self.peer_tflops?)
    }
}

fn median(w: &WorkloadResult) -> Option<f64> {
    w.measurement.as_ref().map(|m| m.throughput.median)
}

/// Rows for every primary CUDA GEMM in the run, in run order.
pub fn gemm_rows(r: &RunReport) -> Vec<GemmRow> {
    let mut rows = Vec::new();
    for w in &r.results {
        let (
            WorkloadSpec::Gemm {
                precision, m, n, k, ..
            },
            Some(dev),
            Role::Primary,
            BackendKind::Cuda,
        ) = (w.spec, w.device, w.role, w.backend)
        else {
            continue;
        };
        let peer = r
            .results
            .iter()
            .find(|p| p.role == Role::Peer && p.device == Some(dev) && p.spec == w.spec);
        // The catalogue has no FP16 figures: HGEMM rows show no peak.
        let metric = match precision {
            Precision::F32 => Some(Metric::Fp32Gemm),
            Precision::F64 => Some(Metric::Fp64Gemm),
            Precision::F16 => None,
        };
        let peak = r.gpus.iter().find(|g| g.index == dev).and_then(|g| {
            targets_for_device(g)
                .0
                .iter()
                .find(|t| Some(t.metric) == metric && t.scope == Scope::Gpu)
                .map(|t| t.spec())
        });
        rows.push(GemmRow {
            id: w.id.clone(),
            device: dev,
            precision,
            shape: (m, n, k),
            implementation: w.implementation.clone(),
            math_mode: w.math_mode.clone().unwrap_or_default(),
            tflops: if w.verification.passed() {
                median(w)
            } else {
                None
            },
            peak,
            peer_implementation: peer.map(|p| {
                format!(
                    "{} ({})",
                    p.implementation,
                    p.math_mode.as_deref().unwrap_or("?")
                )
            }),
            peer_tflops: peer.filter(|p| p.verification.passed()).and_then(median),
            held_clock_fraction: w.telemetry.as_ref().and_then(|t| {
                let f = t.sm_clock_mhz_median? / t.max_sm_clock_mhz? as f64;
                (f > 0.0 && f.is_finite()).then_some(f)
            }),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceInfo;

    fn load(name: &str) -> RunReport {
        let p = crate::repo_path("tests/fixtures").join(name);
        crate::report::load_run(&p).unwrap()
    }

    #[test]
    fn kernel_peer_and_peak_are_paired_by_device_and_shape() {
        let mut r = load("no-gpu-host-quick.run.json");
        assert!(
            gemm_rows(&r).is_empty(),
            "host results are not GPU GEMM rows"
        );
        // Turn the host GEMM into a CUDA result on an M40, and add a peer twice as fast.
        r.gpus = vec![DeviceInfo {
            index: 0,
            name: "Tesla M40 24GB".into(),
            ..Default::default()
        }];
        let mut w = r
            .results
            .iter()
            .find(|w| w.id.contains("sgemm"))
            .unwrap()
            .clone();
        w.backend = BackendKind::Cuda;
        w.device = Some(0);
        let mut peer = w.clone();
        peer.role = Role::Peer;
        peer.implementation = "cuBLAS sgemm".into();
        let m = peer.measurement.as_mut().unwrap();
        m.throughput.median *= 2.0;
        r.results = vec![w.clone(), peer];
        let rows = gemm_rows(&r);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.peak, Some(7.0));
        assert_eq!(
            row.percent_of_peak_at_held_clock(),
            None,
            "no telemetry, no held clock"
        );
        assert!((row.ratio_to_peer().unwrap() - 0.5).abs() < 1e-12);
        let t = w.measurement.unwrap().throughput.median;
        assert!((row.percent_of_peak().unwrap() - t / 7.0 * 100.0).abs() < 1e-9);
        assert!(row
            .peer_implementation
            .as_deref()
            .unwrap()
            .starts_with("cuBLAS sgemm"));
    }

    #[test]
    fn markdown_shows_the_tuning_table() {
        use crate::measure::tune::{Candidate, SizeClass, TuningEntry, TuningKey, TuningTable};
        use crate::report::Reporter;
        let mut r = load("no-gpu-host-quick.run.json");
        let mut t = TuningTable::new(
            0,
            TuningKey {
                gpu_uuid: "GPU-x".into(),
                gpu_name: "Test GPU".into(),
                driver_cuda_version: 12040,
                ptx_hash: "abc".into(),
            },
        );
        t.entries.push(TuningEntry {
            precision: Precision::F32,
            math: crate::workload::GemmMath::CudaCores,
            size_class: SizeClass::Medium,
            size: 4096,
            variant: "sgemm_b".into(),
            candidates: vec![
                Candidate {
                    variant: "sgemm_a".into(),
                    tflops: Some(1.5),
                    verified: false,
                    error: Some("wrong result".into()),
                },
                Candidate {
                    variant: "sgemm_b".into(),
                    tflops: Some(1.25),
                    verified: true,
                    error: None,
                },
            ],
            from_cache: true,
        });
        r.tuning = vec![t];
        let md = crate::report::markdown::Markdown.render(&r);
        assert!(
            md.contains("## GEMM tuning, gpu0 (Test GPU, driver 12040, PTX abc)"),
            "{md}"
        );
        assert!(md.contains("| f32 | medium | 4096³ | `sgemm_b` | cache | sgemm_a 1.50 (wrong result); sgemm_b 1.25 |"), "{md}");
    }

    #[test]
    fn efficiency_at_the_held_clock() {
        let row = GemmRow {
            id: "x".into(),
            device: 0,
            precision: Precision::F32,
            shape: (1, 1, 1),
            implementation: String::new(),
            math_mode: String::new(),
            tflops: Some(3.5),
            peak: Some(7.0),
            peer_implementation: None,
            peer_tflops: None,
            // e.g. 948 of 1114 MHz held
            held_clock_fraction: Some(948.0 / 1114.0),
        };
        assert!((row.percent_of_peak().unwrap() - 50.0).abs() < 1e-9);
        let at_held = row.percent_of_peak_at_held_clock().unwrap();
        assert!((at_held - 3.5 / (7.0 * 948.0 / 1114.0) * 100.0).abs() < 1e-9);
        assert!(at_held > 58.0 && at_held < 59.0);
    }
}
