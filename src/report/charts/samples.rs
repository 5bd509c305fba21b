//! Per GPU, the noise behind each performance check's median: every sample of the result the
//! check was decided from, as throughput (the result's work over the sample's seconds per
//! iteration) in % of the median, with the quartiles, the noise interval the gate compared with
//! the pass line, and the pass line itself where it falls inside the plot.

use plotters::prelude::*;

use super::{
    devices, draw, gpu_label, measured_check, rows, title, Chart, ChartKind, Mark, BLUE, GREY,
    ORANGE,
};
use crate::model::{RunReport, WorkloadResult};
use crate::util::fmt_value;

struct Row {
    label: String,
    /// Each sample's throughput, % of the median, in the order taken.
    samples: Vec<f64>,
    q1: f64,
    q3: f64,
    lo: f64,
    hi: f64,
    /// The pass line, % of the median.
    line: Option<f64>,
}

/// A sample's throughput in the result's unit: its work over `t` seconds per iteration.
pub(super) fn sample_throughput(w: &WorkloadResult, t: f64) -> f64 {
    match w.spec.throughput_unit() {
        "TFLOPS" => w.work.flops / t / 1e12,
        "GB/s" => w.work.bytes / t / 1e9,
        _ => 1.0 / t,
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    let next = sorted.get(i + 1).copied().unwrap_or(sorted[i]);
    sorted[i] + (next - sorted[i]) * f
}

fn rows_of(r: &RunReport, dev: u32) -> Vec<Row> {
    r.checks
        .iter()
        .filter(|c| c.device == Some(dev))
        .filter_map(|c| measured_check(r, c))
        .filter_map(|(c, w)| {
            let m = w.measurement.as_ref()?;
            let med = m.throughput.median;
            let pct = |v: f64| v / med * 100.0;
            let samples: Vec<f64> = m
                .samples
                .iter()
                .filter(|t| t.is_finite() && **t > 0.0)
                .map(|t| pct(sample_throughput(w, *t)))
                .collect();
            if samples.is_empty() || med.is_nan() || med <= 0.0 {
                return None;
            }
            let mut sorted = samples.clone();
            sorted.sort_by(f64::total_cmp);
            // The check's pass line and recorded noise interval in the result's own frames
            // (video: 1080p frames scaled back to the frame size measured).
            let scale = c.observed.map_or(1.0, |o| o / med);
            let interval = c.noise_interval?;
            let (lo, hi) = (interval.lo / scale, interval.hi / scale);
            let unit = &m.throughput.unit;
            Some(Row {
                label: format!(
                    "{}: median {} {unit}, {} samples",
                    super::check_name(c),
                    fmt_value(med, unit),
                    samples.len()
                ),
                q1: quantile(&sorted, 0.25),
                q3: quantile(&sorted, 0.75),
                lo: pct(lo),
                hi: pct(hi),
                line: c.required.map(|l| pct(l / scale)),
                samples,
            })
        })
        .collect()
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for dev in devices(r) {
        let rows = rows_of(r, dev);
        if rows.is_empty() {
            continue;
        }
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(sim, format!("Samples behind each check's median, {gpu}"));
        if let Some(svg) = render(&title, sim, &rows) {
            out.push(Chart {
                file_name: format!("samples_gpu{dev}.svg"),
                title,
                kind: ChartKind::Samples,
                svg,
            });
        }
    }
    out
}

/// The median's mark.
const DARK: RGBColor = RGBColor(30, 30, 30);

/// The x range: every sample and noise interval, symmetric about the median, at least ±1 %.
fn extent(rows: &[Row]) -> f64 {
    let far = rows
        .iter()
        .flat_map(|r| r.samples.iter().chain([&r.lo, &r.hi]))
        .map(|v| (v - 100.0).abs())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let (top, _) = super::nice_ticks(far * 1.15);
    top
}

/// A sample's offset within its row: spread over the row by its index, the same every time.
fn jitter(i: usize) -> f64 {
    ((i * 7) % 11) as f64 / 10.0 * 0.4 - 0.2
}

fn render(title: &str, sim: bool, rows: &[Row]) -> Option<String> {
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let e = extent(rows);
    let (_, steps) = super::nice_ticks(e);
    // Mirrored about 100, every step gives up to 11 ticks on a narrow axis: where the steps
    // are fractions (labels like 99.75), every other one, so that their labels never touch.
    let fractional = steps.get(1).is_some_and(|s| s.fract() != 0.0);
    let stride = if steps.len() > 3 && fractional { 2 } else { 1 };
    let steps: Vec<f64> = steps.into_iter().step_by(stride).collect();
    let ticks: Vec<f64> = steps
        .iter()
        .rev()
        .map(|s| 100.0 - s)
        .chain(steps.iter().skip(1).map(|s| 100.0 + s))
        .collect();
    let mut legend = vec![
        (Mark::Dot(BLUE), "one sample".to_string()),
        (Mark::Line(DARK), "median".into()),
        (Mark::Shade(BLUE), "middle half (quartiles)".into()),
        (Mark::Line(GREY), "noise interval (gate)".into()),
    ];
    if rows
        .iter()
        .any(|r| r.line.is_some_and(|l| (l - 100.0).abs() <= e))
    {
        legend.push((Mark::Line(ORANGE), "pass line".into()));
    }
    draw(rows::height(rows.len(), sim), title, &legend, |area| {
        let mut chart = rows::build(
            area,
            &labels,
            100.0 - e..100.0 + e,
            ticks,
            "throughput, % of the check's median",
        )?;
        let n = rows.len();
        for (i, row) in rows.iter().enumerate() {
            let y = rows::row_y(i, n);
            chart.draw_series([Rectangle::new(
                [(row.q1, y - 0.3), (row.q3, y + 0.3)],
                BLUE.mix(0.18).filled(),
            )])?;
            chart.draw_series([
                rows::span(y - 0.38, row.lo, row.hi, GREY),
                rows::tick(y - 0.38, row.lo, 0.06, GREY),
                rows::tick(y - 0.38, row.hi, 0.06, GREY),
                rows::tick(y, 100.0, 0.3, DARK),
            ])?;
            if let Some(l) = row.line.filter(|l| (l - 100.0).abs() <= e) {
                chart.draw_series([rows::tick(y, l, 0.42, ORANGE)])?;
            }
            chart.draw_series(
                row.samples
                    .iter()
                    .enumerate()
                    .map(|(j, v)| Circle::new((*v, y + jitter(j)), 3, BLUE.mix(0.7).filled())),
            )?;
        }
        Ok(())
    })
}
