//! SVG charts, written by hand (no fonts or system libraries needed to make them): GEMM
//! throughput against size for gpugate's kernel, the cuBLAS peer and the GPU's peak.
//!
//! One chart per GPU, precision and math: `gemm_gpu0_f64.svg` (CUDA cores, against the vector
//! peak) and `gemm_gpu0_f64_tc.svg` (tensor cores, against the tensor-core peak where the
//! catalogue has one), so the two are never drawn against each other's peak.

use std::fmt::Write;

use super::gemm::{gemm_rows, GemmRow};
use crate::model::RunReport;
use crate::workload::{GemmMath, Precision};

/// One chart: its file name and SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file_name: String,
    pub title: String,
    pub svg: String,
}

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

pub(super) use crate::util::xml_escape as esc;

/// A "nice" upper bound for the y axis and its tick step.
fn nice_axis(max: f64) -> (f64, f64) {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// TFLOPS-against-size charts, one per GPU, precision and math with at least two sizes.
pub fn gemm_charts(r: &RunReport) -> Vec<Chart> {
    let rows = gemm_rows(r);
    let mut keys: Vec<(u32, Precision, GemmMath)> = rows
        .iter()
        .map(|g| (g.device, g.precision, g.math))
        .collect();
    keys.sort_by_key(|(d, p, m)| (*d, p.as_str(), *m));
    keys.dedup();
    let mut charts = Vec::new();
    for (dev, p, math) in keys {
        let mut pts: Vec<&GemmRow> = rows
            .iter()
            .filter(|g| g.device == dev && g.precision == p && g.math == math)
            .collect();
        pts.sort_by_key(|g| g.shape.0 * g.shape.1 * g.shape.2);
        if pts.len() < 2 {
            continue;
        }
        let info = r.gpus.iter().find(|g| g.index == dev);
        let gpu = info
            .map(|g| g.name.clone())
            .unwrap_or_else(|| format!("gpu{dev}"));
        let sim = if info.is_some_and(|g| g.simulated) {
            "SIMULATED, not a measurement: "
        } else {
            ""
        };
        let what = match p {
            Precision::F32 => "FP32",
            Precision::F64 => "FP64",
            Precision::F16 => "FP16-input",
        };
        let (title, suffix) = match math {
            GemmMath::CudaCores => (
                format!("{sim}{what} GEMM on gpu{dev} ({gpu}): TFLOPS against size"),
                "",
            ),
            GemmMath::TensorCores => (
                format!(
                    "{sim}{what} GEMM on the tensor cores of gpu{dev} ({gpu}): TFLOPS against size"
                ),
                "_tc",
            ),
        };
        charts.push(Chart {
            file_name: format!("gemm_gpu{dev}_{}{suffix}.svg", p.as_str()),
            svg: render(&title, &pts, math),
            title,
        });
    }
    charts
}

fn render(title: &str, pts: &[&GemmRow], math: GemmMath) -> String {
    // x: cube root of M·N·K (the "size" of a square GEMM), log scale.
    let size = |g: &GemmRow| ((g.shape.0 * g.shape.1 * g.shape.2) as f64).cbrt();
    let xs: Vec<f64> = pts.iter().map(|g| size(g).log2()).collect();
    let (x0, x1) = (xs[0], xs[xs.len() - 1].max(xs[0] + 1e-9));
    let peak = pts.iter().filter_map(|g| g.peak).fold(0.0, f64::max);
    let ymax = pts
        .iter()
        .flat_map(|g| [g.tflops, g.peer_tflops])
        .flatten()
        .fold(peak, f64::max);
    let (ytop, ystep) = nice_axis(ymax * 1.05);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| TOP + ph - y / ytop * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="14">{}</text>"#,
        esc(title)
    );
    // Axes and grid.
    let mut y = 0.0;
    while y <= ytop + 1e-9 {
        let yy = py(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            fmt_tick(y)
        );
        y += ystep;
    }
    for (g, x) in pts.iter().zip(&xs) {
        let xx = px(*x);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#999"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 5.0,
            TOP + ph + 18.0,
            size(g).round()
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        TOP + ph,
        TOP + ph,
        LEFT + pw,
        TOP + ph
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">size (∛(M·N·K), log scale)</text>"#,
        LEFT + pw / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">TFLOPS (1e12 FLOP/s)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // Series.
    let series = |vals: Vec<Option<f64>>, color: &str, dash: &str| -> String {
        let mut out = String::new();
        let pts: Vec<(f64, f64)> = xs
            .iter()
            .zip(vals)
            .filter_map(|(x, v)| v.map(|v| (px(*x), py(v))))
            .collect();
        if pts.len() >= 2 {
            let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                d.join(" ")
            );
        }
        for (x, y) in pts {
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"/>"#
            );
        }
        out
    };
    s.push_str(&series(
        pts.iter().map(|g| g.tflops).collect(),
        "#1f77b4",
        "none",
    ));
    s.push_str(&series(
        pts.iter().map(|g| g.peer_tflops).collect(),
        "#d62728",
        "6 4",
    ));
    if peak > 0.0 {
        let yy = py(peak);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#2ca02c" stroke-width="1.5" stroke-dasharray="2 3"/>"##,
            LEFT + pw
        );
    }
    // Legend.
    let lx = LEFT + pw + 14.0;
    let peak_label = match math {
        GemmMath::CudaCores => "peak (catalogue)",
        GemmMath::TensorCores if peak > 0.0 => "tensor peak (catalogue)",
        GemmMath::TensorCores => "tensor peak: unknown",
    };
    let entries = [
        ("#1f77b4", "none", "gpugate kernel"),
        ("#d62728", "6 4", "cuBLAS peer"),
        ("#2ca02c", "2 3", peak_label),
    ];
    for (i, (color, dash, label)) in entries.iter().enumerate() {
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_tick(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else if (v * 10.0) == (v * 10.0).round() {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendKind, DeviceInfo, Role};
    use crate::workload::{GemmMath, WorkloadSpec};

    fn sweep_report() -> RunReport {
        let p = crate::repo_path("tests/fixtures/no-gpu-host-quick.run.json");
        let mut r = crate::report::load_run(&p).unwrap();
        r.gpus = vec![DeviceInfo {
            index: 0,
            name: "Tesla M40 24GB".into(),
            ..Default::default()
        }];
        // Synthetic sweep built from the fixture's host SGEMM row (test data, not a GPU figure).
        let base = r
            .results
            .iter()
            .find(|w| w.id.contains("sgemm"))
            .unwrap()
            .clone();
        r.results.clear();
        for (i, s) in [256usize, 1024, 4096].iter().enumerate() {
            let mut w = base.clone();
            w.backend = BackendKind::Cuda;
            w.device = Some(0);
            w.spec = WorkloadSpec::Gemm {
                precision: Precision::F32,
                m: *s,
                n: *s,
                k: *s,
                math: crate::workload::GemmMath::CudaCores,
            };
            w.measurement.as_mut().unwrap().throughput.median = 1.0 + i as f64;
            let mut peer = w.clone();
            peer.role = Role::Peer;
            peer.measurement.as_mut().unwrap().throughput.median = 2.0 + i as f64;
            r.results.push(w);
            r.results.push(peer);
        }
        r
    }

    #[test]
    fn one_chart_per_gpu_and_precision_with_all_three_series() {
        let charts = gemm_charts(&sweep_report());
        assert_eq!(charts.len(), 1);
        let c = &charts[0];
        assert_eq!(c.file_name, "gemm_gpu0_f32.svg");
        assert!(c.svg.starts_with("<svg") && c.svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            c.svg.matches("<polyline").count(),
            2,
            "kernel and peer lines"
        );
        assert_eq!(c.svg.matches("<circle").count(), 6);
        assert!(c.svg.contains("peak (catalogue)") && c.svg.contains("stroke=\"#2ca02c\""));
        for label in [">256<", ">1024<", ">4096<"] {
            assert!(c.svg.contains(label), "x tick {label}");
        }
        // y axis reaches the M40's 7 TFLOPS peak
        assert!(c.svg.contains(">8<"), "{}", c.svg);
    }

    #[test]
    fn tensor_core_rows_get_their_own_chart_and_the_cuda_core_name_stays() {
        let mut r = sweep_report();
        // The same sweep again on the tensor cores (test data), twice as fast.
        let tc: Vec<_> = r
            .results
            .iter()
            .filter(|w| w.role == Role::Primary)
            .cloned()
            .map(|mut w| {
                if let WorkloadSpec::Gemm { ref mut math, .. } = w.spec {
                    *math = GemmMath::TensorCores;
                }
                w.id = crate::run::result_id(w.device, w.role, &w.spec);
                w.measurement.as_mut().unwrap().throughput.median *= 2.0;
                w
            })
            .collect();
        r.results.extend(tc);
        let charts = gemm_charts(&r);
        let names: Vec<&str> = charts.iter().map(|c| c.file_name.as_str()).collect();
        assert_eq!(names, ["gemm_gpu0_f32.svg", "gemm_gpu0_f32_tc.svg"]);
        let (fma, tc) = (&charts[0], &charts[1]);
        assert!(tc.title.contains("on the tensor cores"), "{}", tc.title);
        assert!(!fma.title.contains("tensor"), "{}", fma.title);
        // The M40 has no tensor peak: no peak line on the tensor-core chart, and it says so.
        assert!(fma.svg.contains("peak (catalogue)"));
        assert!(tc.svg.contains("tensor peak: unknown"));
        assert_eq!(
            tc.svg
                .matches("stroke=\"#2ca02c\" stroke-width=\"1.5\"")
                .count(),
            0
        );
        // Both draw the kernel and the one peer per shape.
        assert_eq!(tc.svg.matches("<polyline").count(), 2);
    }

    #[test]
    fn a_single_size_makes_no_chart() {
        let mut r = sweep_report();
        r.results.truncate(2);
        assert!(gemm_charts(&r).is_empty());
    }

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(7.35), (8.0, 2.0));
        assert_eq!(nice_axis(0.21), (0.25, 0.05));
        assert_eq!(nice_axis(0.0), (1.0, 0.25));
        assert_eq!(nice_axis(52.0), (60.0, 20.0));
    }
}
