//! The GEMM comparison: gpugate's kernel against the GPU's peak and the cuBLAS peer, per size.
//!
//! A row is one GEMM per (device, precision, math, shape). Its peak is the peak of that math:
//! the vector peak (catalogue or derived) for the CUDA cores, the catalogue's tensor-core peak
//! for the tensor cores, or none; a tensor-core number is never divided by a CUDA-core peak.

use crate::model::{BackendKind, DeviceInfo, GpuPeaks, Role, RunReport, WorkloadResult};
use crate::workload::{GemmMath, Precision, WorkloadSpec};

/// One row: a primary CUDA GEMM result with its peer (same device, precision and shape, any
/// math: cuBLAS is measured once per shape) and the peak of its math.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmRow {
    pub id: String,
    pub device: u32,
    pub precision: Precision,
    /// CUDA cores or tensor cores.
    pub math: GemmMath,
    pub shape: (usize, usize, usize),
    pub implementation: String,
    pub math_mode: String,
    pub tflops: Option<f64>,
    /// The GPU's nominal peak for this precision and math, TFLOPS: CUDA cores from the
    /// catalogue or derived from the device's attributes; tensor cores from the catalogue only.
    pub peak: Option<f64>,
    pub peer_implementation: Option<String>,
    pub peer_tflops: Option<f64>,
    /// Why a peer that was tried has no number: "failed (see warnings)" when it did not run,
    /// "wrong result (see checks)" when its output was wrong, "not verified" otherwise; None
    /// when it has a number or was never tried.
    pub peer_problem: Option<String>,
    /// Median SM clock held during the measurement / the GPU's maximum SM clock (telemetry).
    pub held_clock_fraction: Option<f64>,
}

impl GemmRow {
    /// "FP32", "FP64", "FP64 (tensor cores)", "FP16-input (tensor cores)", …
    pub fn precision_label(&self) -> String {
        gemm_label(self.precision, self.math)
    }

    /// "kernel (math mode)", the kernel alone when it named no math mode, "—" when it never
    /// got as far as naming itself (it could not be prepared).
    pub fn kernel_label(&self) -> String {
        match (self.implementation.is_empty(), self.math_mode.is_empty()) {
            (true, true) => "—".into(),
            (false, true) => self.implementation.clone(),
            (true, false) => format!("({})", self.math_mode),
            (false, false) => format!("{} ({})", self.implementation, self.math_mode),
        }
    }

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

    /// The peer's column: its label, or "not run" when no peer was tried for this shape.
    pub fn peer_label(&self) -> String {
        self.peer_implementation
            .clone()
            .unwrap_or_else(|| "not run".into())
    }
}

/// Why a peer result has no number to compare, if it has none.
fn peer_problem(p: &WorkloadResult) -> Option<String> {
    if p.error.is_some() {
        Some("failed (see warnings)".into())
    } else if p.verification.status == crate::model::VerifyStatus::Failed {
        Some("wrong result (see checks)".into())
    } else if !p.verification.passed() || median(p).is_none() {
        Some("not verified".into())
    } else {
        None
    }
}

impl GemmRow {
    /// The peer's TFLOPS as a report cell: the number, or why there is none.
    pub fn peer_tflops_cell(&self, fmt: impl Fn(Option<f64>) -> String) -> String {
        match (&self.peer_problem, self.peer_tflops) {
            (Some(why), None) => why.clone(),
            (_, t) => fmt(t),
        }
    }
}

fn median(w: &WorkloadResult) -> Option<f64> {
    w.measurement.as_ref().map(|m| m.throughput.median)
}

/// A GEMM's precision with its math where that is the tensor cores: "FP64",
/// "FP64 (tensor cores)", "FP16-input (tensor cores)".
pub fn gemm_label(p: Precision, math: GemmMath) -> String {
    let p = match p {
        Precision::F32 => "FP32",
        Precision::F64 => "FP64",
        Precision::F16 => "FP16-input",
    };
    match math {
        GemmMath::CudaCores => p.to_string(),
        GemmMath::TensorCores => format!("{p} (tensor cores)"),
    }
}

/// The peak a GEMM of this precision and math is compared with, TFLOPS: the peaks the run
/// recorded for its GPU (so a later gpugate renders the same "% of peak"), else, for a schema 1
/// run.json, this gpugate's own (see [`peak_of`]).
pub fn gemm_peak(r: &RunReport, g: &DeviceInfo, p: Precision, math: GemmMath) -> Option<f64> {
    match r.peaks.iter().find(|x| x.device == g.index) {
        Some(recorded) => peak_of(recorded, p, math),
        None => peak_of(&crate::gate::profile::peaks_for_device(g), p, math),
    }
}

/// The peak of one precision and math among a GPU's peaks. CUDA cores: the FP32 and FP64 vector
/// peaks (catalogue, or derived for an unknown GPU). Tensor cores: the catalogue's dense
/// tensor-core figure where it has one. HGEMM on the CUDA cores: none (the catalogue has no
/// figure for FP16 inputs on the CUDA cores, nor any TF32 one, which gpugate never measures).
pub fn peak_of(peaks: &GpuPeaks, p: Precision, math: GemmMath) -> Option<f64> {
    match (p, math) {
        (Precision::F32, GemmMath::CudaCores) => peaks.fp32_tflops,
        (Precision::F64, GemmMath::CudaCores) => peaks.fp64_tflops,
        (Precision::F64, GemmMath::TensorCores) => peaks.fp64_tensor_tflops,
        (Precision::F16, GemmMath::TensorCores) => peaks.fp16_tensor_tflops,
        _ => None,
    }
}

/// Rows for every primary CUDA GEMM in the run, in run order.
pub fn gemm_rows(r: &RunReport) -> Vec<GemmRow> {
    let mut rows = Vec::new();
    for w in &r.results {
        let (
            WorkloadSpec::Gemm {
                precision,
                m,
                n,
                k,
                math,
            },
            Some(dev),
            Role::Primary,
            BackendKind::Cuda,
        ) = (w.spec, w.device, w.role, w.backend)
        else {
            continue;
        };
        let peer = r.results.iter().find(|p| {
            p.role == Role::Peer && p.device == Some(dev) && Some(p.spec) == w.spec.peer_spec()
        });
        let peak = r
            .gpus
            .iter()
            .find(|g| g.index == dev)
            .and_then(|g| gemm_peak(r, g, precision, math));
        rows.push(GemmRow {
            id: w.id.clone(),
            device: dev,
            precision,
            math,
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
            peer_problem: peer.and_then(peer_problem),
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

    /// A peer that failed, gave a wrong result or was never run says so in its TFLOPS cell; a
    /// measured one gives its number.
    #[test]
    fn a_peer_without_a_number_says_why() {
        let mut r = load("no-gpu-host-quick.run.json");
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
        peer.implementation = "cuBLAS 12.4.5 (gpugate-sim) sgemm".into();
        let cell = |r: &RunReport| {
            let row = gemm_rows(r).remove(0);
            (row.peer_label(), row.peer_tflops_cell(|t| format!("{t:?}")))
        };
        r.results = vec![w.clone()];
        assert_eq!(cell(&r), ("not run".into(), "None".into()));
        r.results = vec![w.clone(), peer.clone()];
        let measured = peer.measurement.as_ref().unwrap().throughput.median;
        assert_eq!(cell(&r).1, format!("{:?}", Some(measured)));
        assert!(cell(&r)
            .0
            .starts_with("cuBLAS 12.4.5 (gpugate-sim) sgemm ("));
        let mut failed = peer.clone();
        failed.error = Some("failed while running: CUBLAS_STATUS_EXECUTION_FAILED".into());
        failed.measurement = None;
        failed.verification = crate::model::Verification::not_checked("not verified");
        r.results = vec![w.clone(), failed];
        assert_eq!(cell(&r).1, "failed (see warnings)");
        let mut wrong = peer.clone();
        wrong.verification.status = crate::model::VerifyStatus::Failed;
        r.results = vec![w.clone(), wrong];
        assert_eq!(cell(&r).1, "wrong result (see checks)");
        assert_eq!(gemm_rows(&r)[0].ratio_to_peer(), None);
    }

    fn peak(g: &DeviceInfo, p: Precision, math: GemmMath) -> Option<f64> {
        peak_of(&crate::gate::profile::peaks_for_device(g), p, math)
    }

    /// A run's recorded peaks are the ones its report shows, whatever this gpugate's catalogue
    /// says now: re-rendering an old run never changes its "% of peak".
    #[test]
    fn recorded_peaks_win_over_the_catalogue() {
        let mut r = crate::report::tests::sample_report();
        let row = |r: &RunReport| {
            gemm_rows(r)
                .into_iter()
                .find(|x| x.precision == Precision::F32 && x.math == GemmMath::CudaCores)
                .unwrap()
        };
        assert_eq!(r.peaks.len(), 1, "the sample run records its GPU's peaks");
        assert_eq!(row(&r).peak, Some(7.0));
        r.peaks[0].fp32_tflops = Some(6.0);
        assert_eq!(row(&r).peak, Some(6.0), "recorded, not looked up");
        r.peaks.clear();
        assert_eq!(
            row(&r).peak,
            Some(7.0),
            "schema 1: this gpugate's catalogue"
        );
    }

    #[test]
    fn tensor_core_rows_have_their_own_peak_and_share_the_peer() {
        let mut r = load("no-gpu-host-quick.run.json");
        let base = r
            .results
            .iter()
            .find(|w| w.id.contains("dgemm"))
            .unwrap()
            .clone();
        // Test data (the fixture's host DGEMM row dressed as GPU rows): a CUDA-core DGEMM at
        // 40 TFLOPS, a DMMA one at 60, one cuBLAS peer at 55 for the shape.
        let (m, n, k) = match base.spec {
            WorkloadSpec::Gemm { m, n, k, .. } => (m, n, k),
            _ => unreachable!(),
        };
        let at = |math: GemmMath, role: Role, v: f64| {
            let mut w = base.clone();
            w.backend = BackendKind::Cuda;
            w.device = Some(0);
            w.role = role;
            w.spec = WorkloadSpec::Gemm {
                precision: Precision::F64,
                m,
                n,
                k,
                math,
            };
            w.id = crate::run::result_id(Some(0), role, &w.spec);
            w.measurement.as_mut().unwrap().throughput.median = v;
            w
        };
        r.results = vec![
            at(GemmMath::CudaCores, Role::Primary, 40.0),
            at(GemmMath::TensorCores, Role::Primary, 60.0),
            at(GemmMath::CudaCores, Role::Peer, 55.0),
        ];
        let gpu = |name: &str| DeviceInfo {
            index: 0,
            name: name.into(),
            compute_capability: (9, 0),
            sm_count: 132,
            sm_clock_khz: 1_980_000,
            ..Default::default()
        };

        // H100 SXM: the catalogue knows both peaks.
        r.gpus = vec![gpu("NVIDIA H100 80GB HBM3")];
        let rows = gemm_rows(&r);
        assert_eq!(rows.len(), 2, "one row per math, the peer is not a row");
        let (fma, dmma) = (&rows[0], &rows[1]);
        assert_eq!(
            (fma.math, dmma.math),
            (GemmMath::CudaCores, GemmMath::TensorCores)
        );
        assert_eq!(fma.precision_label(), "FP64");
        assert_eq!(dmma.precision_label(), "FP64 (tensor cores)");
        assert_eq!(fma.peak, Some(34.0), "vector FP64 peak");
        assert_eq!(dmma.peak, Some(66.9), "DMMA peak");
        assert!((dmma.percent_of_peak().unwrap() - 60.0 / 66.9 * 100.0).abs() < 1e-9);
        for row in &rows {
            assert_eq!(
                row.peer_tflops,
                Some(55.0),
                "{}: the shape's one peer",
                row.id
            );
        }
        assert!((dmma.ratio_to_peer().unwrap() - 60.0 / 55.0).abs() < 1e-12);

        // A GPU the catalogue does not know: the CUDA-core peak is derived from its
        // attributes, the tensor-core one is unknown, never the CUDA-core one.
        r.gpus = vec![gpu("NVIDIA Hypothetical X1")];
        let rows = gemm_rows(&r);
        assert!(rows[0].peak.is_some());
        assert_eq!(rows[1].peak, None);
        assert_eq!(rows[1].percent_of_peak(), None);

        // A catalogued GPU without a tensor figure (V100 has no DMMA) shows none either.
        assert_eq!(
            peak(
                &gpu("Tesla V100-SXM2-16GB"),
                Precision::F64,
                GemmMath::TensorCores
            ),
            None
        );
        assert_eq!(
            peak(
                &gpu("Tesla V100-SXM2-16GB"),
                Precision::F16,
                GemmMath::TensorCores
            ),
            Some(125.0)
        );
        assert_eq!(
            peak(&gpu("Tesla M40 24GB"), Precision::F16, GemmMath::CudaCores),
            None
        );
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
        assert!(md.contains("| f32 | CUDA cores | medium | 4096³ | `sgemm_b` | cache | sgemm_a 1.50 (wrong result); sgemm_b 1.25 |"), "{md}");
    }

    #[test]
    fn efficiency_at_the_held_clock() {
        let row = GemmRow {
            id: "x".into(),
            device: 0,
            precision: Precision::F32,
            math: GemmMath::CudaCores,
            shape: (1, 1, 1),
            implementation: String::new(),
            math_mode: String::new(),
            tflops: Some(3.5),
            peak: Some(7.0),
            peer_implementation: None,
            peer_tflops: None,
            peer_problem: None,
            // e.g. 948 of 1114 MHz held
            held_clock_fraction: Some(948.0 / 1114.0),
        };
        assert!((row.percent_of_peak().unwrap() - 50.0).abs() < 1e-9);
        let at_held = row.percent_of_peak_at_held_clock().unwrap();
        assert!((at_held - 3.5 / (7.0 * 948.0 / 1114.0) * 100.0).abs() < 1e-9);
        assert!(at_held > 58.0 && at_held < 59.0);
    }
}
