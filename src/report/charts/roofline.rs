//! A roofline per GPU: each measured and verified workload that does floating-point work as a
//! point (arithmetic intensity = FLOPs / bytes of one iteration, from `result.work`; achieved
//! TFLOP/s = FLOPs / median seconds per iteration), under the compute ceilings (the FP32 and
//! FP64 peaks, and a tensor-core peak where a tensor-core result is drawn) and the memory
//! bandwidth ceiling, log-log.

use plotters::prelude::*;

use super::{
    devices, draw, fmt_tick, font, gpu_label, peaks, title, Chart, ChartKind, Mark, BLUE, BROWN,
    GREY, GRID, ORANGE, PURPLE, RED,
};
use crate::model::{BackendKind, GpuPeaks, Role, RunReport};
use crate::workload::{GemmMath, Precision, WorkloadSpec};

const HEIGHT: u32 = 460;

/// The families of points, each its colour and legend label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Fp32Gemm,
    Fp64Gemm,
    TensorGemm,
    Stream,
    Other,
}

impl Family {
    fn of(spec: &WorkloadSpec) -> Family {
        match spec {
            WorkloadSpec::Gemm {
                math: GemmMath::TensorCores,
                ..
            }
            | WorkloadSpec::Gemm {
                precision: Precision::F16,
                ..
            } => Family::TensorGemm,
            WorkloadSpec::Gemm {
                precision: Precision::F32,
                ..
            } => Family::Fp32Gemm,
            WorkloadSpec::Gemm { .. } => Family::Fp64Gemm,
            WorkloadSpec::Stream { .. } => Family::Stream,
            _ => Family::Other,
        }
    }
    fn color(self) -> RGBColor {
        match self {
            Family::Fp32Gemm => BLUE,
            Family::Fp64Gemm => PURPLE,
            Family::TensorGemm => BROWN,
            Family::Stream => ORANGE,
            Family::Other => GREY,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Family::Fp32Gemm => "FP32 GEMM",
            Family::Fp64Gemm => "FP64 GEMM",
            Family::TensorGemm => "tensor-core GEMM",
            Family::Stream => "stream",
            Family::Other => "other",
        }
    }
}

/// A point: (FLOP/byte, TFLOP/s).
fn points(r: &RunReport, dev: u32) -> Vec<(Family, f64, f64)> {
    r.results
        .iter()
        .filter(|w| w.backend == BackendKind::Cuda && w.role == Role::Primary)
        .filter(|w| w.device == Some(dev) && w.error.is_none() && w.verification.passed())
        .filter(|w| w.work.flops > 0.0 && w.work.bytes > 0.0)
        .filter_map(|w| {
            let t = w.measurement.as_ref()?.summary.median;
            let achieved = w.work.flops / t / 1e12;
            (t > 0.0 && achieved.is_finite())
                .then(|| (Family::of(&w.spec), w.work.flops / w.work.bytes, achieved))
        })
        .collect()
}

/// The compute ceilings to draw: (label, TFLOPS).
fn ceilings(p: &GpuPeaks, pts: &[(Family, f64, f64)]) -> Vec<(String, f64)> {
    let mut c = Vec::new();
    let mut add = |name: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| *v > 0.0) {
            c.push((format!("{name} peak {} TFLOPS", fmt_tick(v)), v));
        }
    };
    add("FP32", p.fp32_tflops);
    add("FP64", p.fp64_tflops);
    if pts.iter().any(|p| p.0 == Family::TensorGemm) {
        add("FP16 tensor", p.fp16_tensor_tflops);
        add("FP64 tensor", p.fp64_tensor_tflops);
    }
    c
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for dev in devices(r) {
        let pts = points(r, dev);
        if pts.is_empty() {
            continue;
        }
        let p = peaks(r, dev);
        let bw = p.as_ref().and_then(|p| p.memory_gbps).filter(|b| *b > 0.0);
        let roofs = p.as_ref().map(|p| ceilings(p, &pts)).unwrap_or_default();
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(
            sim,
            format!("Roofline, {gpu}: achieved FLOP/s against intensity"),
        );
        if let Some(svg) = render(&title, sim, &pts, bw, &roofs) {
            out.push(Chart {
                file_name: format!("roofline_gpu{dev}.svg"),
                title,
                kind: ChartKind::Roofline,
                svg,
            });
        }
    }
    out
}

/// The knee of a compute ceiling: the intensity at which the bandwidth ceiling reaches it,
/// FLOP/byte (TFLOPS × 1e12 / (GB/s × 1e9)).
pub(super) fn knee(peak_tflops: f64, bw_gbps: f64) -> f64 {
    peak_tflops * 1e3 / bw_gbps
}

fn legend(
    pts: &[(Family, f64, f64)],
    bw: Option<f64>,
    roofs: &[(String, f64)],
) -> Vec<(Mark, String)> {
    let mut fams: Vec<Family> = pts.iter().map(|p| p.0).collect();
    fams.sort();
    fams.dedup();
    let mut l: Vec<(Mark, String)> = fams
        .iter()
        .map(|f| (Mark::Dot(f.color()), f.label().to_string()))
        .collect();
    if let Some(b) = bw {
        l.push((Mark::Line(RED), format!("memory {} GB/s", fmt_tick(b))));
    }
    for (i, (label, _)) in roofs.iter().enumerate() {
        l.push((Mark::Dashed(roof_color(i)), label.clone()));
    }
    l
}

fn roof_color(i: usize) -> RGBColor {
    [RGBColor(0, 0, 0), RGBColor(120, 120, 120), BROWN, PURPLE][i % 4]
}

fn render(
    title: &str,
    sim: bool,
    pts: &[(Family, f64, f64)],
    bw: Option<f64>,
    roofs: &[(String, f64)],
) -> Option<String> {
    let knees: Vec<f64> = match bw {
        Some(b) => roofs.iter().map(|(_, p)| knee(*p, b)).collect(),
        None => Vec::new(),
    };
    let xs = pts.iter().map(|p| p.1).chain(knees.iter().copied());
    let (xlo, xhi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let (x0, x1, xticks) = super::decades(xlo / 2.0, xhi * 2.0);
    let ys = pts.iter().map(|p| p.2).chain(roofs.iter().map(|r| r.1));
    let (ylo, yhi) = ys.fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let (y0, y1, yticks) = super::decades(ylo / 2.0, yhi * 1.5);
    draw(
        HEIGHT + if sim { 18 } else { 0 },
        title,
        &legend(pts, bw, roofs),
        |area| {
            let mut chart = ChartBuilder::on(area)
                .margin(14)
                .x_label_area_size(46)
                .y_label_area_size(64)
                .build_cartesian_2d(
                    super::ticked((x0..x1).log_scale(), xticks),
                    super::ticked((y0..y1).log_scale(), yticks),
                )?;
            let fmt = |v: &f64| fmt_tick(*v);
            chart
                .configure_mesh()
                .bold_line_style(GRID)
                .max_light_lines(0)
                .label_style(font(14))
                .axis_desc_style(font(15))
                .x_desc("arithmetic intensity, FLOP/byte (log scale)")
                .y_desc("achieved TFLOP/s (log scale)")
                .x_label_formatter(&fmt)
                .y_label_formatter(&fmt)
                .draw()?;
            if let Some(b) = bw {
                // The bandwidth ceiling up to the highest knee (or across the plot without one).
                let end = knees.iter().copied().fold(0.0, f64::max);
                let end = if end > 0.0 { end } else { x1 };
                let at = |x: f64| b * x / 1e3;
                let start = x0.max(y0 * 1e3 / b);
                chart.draw_series(LineSeries::new(
                    [(start, at(start)), (end, at(end))],
                    RED.stroke_width(2),
                ))?;
            }
            for (i, (_, p)) in roofs.iter().enumerate() {
                let from = bw.map_or(x0, |b| knee(*p, b));
                chart.draw_series(DashedLineSeries::new(
                    [(from, *p), (x1, *p)],
                    8,
                    4,
                    roof_color(i).stroke_width(2),
                ))?;
            }
            chart.draw_series(
                pts.iter()
                    .map(|(f, x, y)| Circle::new((*x, *y), 5, f.color().filled())),
            )?;
            Ok(())
        },
    )
}
