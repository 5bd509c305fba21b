//! GEMM throughput against size for gpugate's kernel, the cuBLAS peer and the GPU's peak.
//!
//! One chart per GPU, precision and math with at least two sizes: `gemm_gpu0_f64.svg` (CUDA
//! cores, against the vector peak) and `gemm_gpu0_f64_tc.svg` (tensor cores, against the
//! tensor-core peak where the run recorded one), so the two are never drawn against each
//! other's peak.

use plotters::prelude::*;

use super::{
    draw, fmt_tick, font, gpu_label, title, Chart, ChartKind, Mark, BLUE, GREEN, GRID, RED,
};
use crate::model::RunReport;
use crate::report::gemm::{gemm_label, gemm_rows, GemmRow};
use crate::workload::{GemmMath, Precision};

/// Chart height, pixels (without the simulated mark's line).
const HEIGHT: u32 = 400;

/// A GEMM's size on the chart: ∛(M·N·K), the side of the square GEMM of as much work.
fn size(g: &GemmRow) -> f64 {
    ((g.shape.0 * g.shape.1 * g.shape.2) as f64).cbrt()
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
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
        pts.sort_by(|a, b| size(a).total_cmp(&size(b)));
        pts.dedup_by(|a, b| size(a) == size(b));
        if pts.len() < 2 {
            continue;
        }
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(
            sim,
            format!("{} GEMM, {gpu}: TFLOPS against size", gemm_label(p, math)),
        );
        let suffix = match math {
            GemmMath::CudaCores => "",
            GemmMath::TensorCores => "_tc",
        };
        if let Some(svg) = render(&title, sim, &pts, math) {
            charts.push(Chart {
                file_name: format!("gemm_gpu{dev}_{}{suffix}.svg", p.as_str()),
                title,
                kind: ChartKind::Gemm,
                svg,
            });
        }
    }
    charts
}

fn legend(pts: &[&GemmRow], math: GemmMath, peak: Option<f64>) -> Vec<(Mark, String)> {
    let mut l = vec![(Mark::Line(BLUE), "gpugate kernel".to_string())];
    if pts.iter().any(|g| g.peer_tflops.is_some()) {
        l.push((Mark::Dashed(RED), "cuBLAS peer".into()));
    }
    l.push(match (peak, math) {
        (Some(p), GemmMath::CudaCores) => {
            (Mark::Dashed(GREEN), format!("peak {} TFLOPS", fmt_tick(p)))
        }
        (Some(p), GemmMath::TensorCores) => (
            Mark::Dashed(GREEN),
            format!("tensor peak {} TFLOPS", fmt_tick(p)),
        ),
        (None, GemmMath::CudaCores) => (Mark::Dashed(GREY_PEAK), "peak: unknown".into()),
        (None, GemmMath::TensorCores) => (Mark::Dashed(GREY_PEAK), "tensor peak: unknown".into()),
    });
    l
}

const GREY_PEAK: RGBColor = RGBColor(190, 190, 190);

fn render(title: &str, sim: bool, pts: &[&GemmRow], math: GemmMath) -> Option<String> {
    let peak = pts.iter().filter_map(|g| g.peak).reduce(f64::max);
    let ymax = pts
        .iter()
        .flat_map(|g| [g.tflops, g.peer_tflops])
        .flatten()
        .fold(peak.unwrap_or(0.0), f64::max);
    let (ytop, yticks) = super::nice_ticks(ymax * 1.05);
    let sizes: Vec<f64> = pts.iter().map(|g| size(g)).collect();
    let (x0, x1) = (sizes[0] / 1.25, sizes[sizes.len() - 1] * 1.25);
    let height = HEIGHT + if sim { 18 } else { 0 };
    draw(height, title, &legend(pts, math, peak), |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(
                super::ticked((x0..x1).log_scale(), sizes.clone()),
                super::ticked(0.0..ytop, yticks),
            )?;
        let fmt_x = |v: &f64| format!("{:.0}", v.round());
        let fmt_y = |v: &f64| fmt_tick(*v);
        chart
            .configure_mesh()
            .bold_line_style(GRID)
            .max_light_lines(0)
            .label_style(font(14))
            .axis_desc_style(font(15))
            .x_desc("size: ∛(M·N·K), log scale")
            .y_desc("TFLOPS (1e12 FLOP/s)")
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .draw()?;
        if let Some(p) = peak {
            chart.draw_series(DashedLineSeries::new(
                [(x0, p), (x1, p)],
                3,
                4,
                GREEN.stroke_width(2),
            ))?;
        }
        let series = |f: fn(&GemmRow) -> Option<f64>| -> Vec<(f64, f64)> {
            pts.iter().filter_map(|g| Some((size(g), f(g)?))).collect()
        };
        let peer = series(|g| g.peer_tflops);
        chart.draw_series(DashedLineSeries::new(
            peer.clone(),
            8,
            5,
            RED.stroke_width(2),
        ))?;
        chart.draw_series(peer.iter().map(|p| Circle::new(*p, 4, RED.filled())))?;
        let kernel = series(|g| g.tflops);
        chart.draw_series(LineSeries::new(kernel.clone(), BLUE.stroke_width(2)))?;
        chart.draw_series(kernel.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))?;
        Ok(())
    })
}
