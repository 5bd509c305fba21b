//! Per GPU, the stream bandwidth of each operation (a bar: the median, a whisker: the noise
//! interval) against the GPU's theoretical memory bandwidth as the run recorded it.

use plotters::prelude::*;

use super::{
    devices, draw, fmt_tick, gpu_label, peaks, rows, title, Chart, ChartKind, Mark, BLUE, GREEN,
    GREY, RED,
};
use crate::gate::evaluate::noise_interval;
use crate::model::{BackendKind, Role, RunReport};
use crate::workload::WorkloadSpec;

struct Row {
    label: String,
    median: f64,
    lo: f64,
    hi: f64,
    /// Verified right (a wrong result's bandwidth is drawn, in red, but never counts).
    ok: bool,
}

fn rows_of(r: &RunReport, dev: u32) -> Vec<Row> {
    let mut found: Vec<(String, usize, Row)> = r
        .results
        .iter()
        .filter(|w| w.backend == BackendKind::Cuda && w.role == Role::Primary)
        .filter(|w| w.device == Some(dev))
        .filter_map(|w| {
            let WorkloadSpec::Stream { op, precision, n } = w.spec else {
                return None;
            };
            let m = w.measurement.as_ref()?;
            let (lo, hi) = noise_interval(m);
            let key = format!("{} {}", op.as_str(), precision.as_str());
            let row = Row {
                label: key.clone(),
                median: m.throughput.median,
                lo,
                hi,
                ok: w.error.is_none() && w.verification.passed(),
            };
            Some((key, n, row))
        })
        .collect();
    // Several array sizes of one operation: each row says its size.
    let keys: Vec<String> = found.iter().map(|f| f.0.clone()).collect();
    for (key, n, row) in &mut found {
        if keys.iter().filter(|k| *k == key).count() > 1 {
            row.label = format!("{key}, {} M elements", fmt_tick(*n as f64 / 1e6));
        }
    }
    found.into_iter().map(|f| f.2).collect()
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for dev in devices(r) {
        let rows = rows_of(r, dev);
        if rows.is_empty() {
            continue;
        }
        let peak = peaks(r, dev).and_then(|p| p.memory_gbps);
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(
            sim,
            format!("Stream bandwidth, {gpu}: GB/s per operation against peak"),
        );
        if let Some(svg) = render(&title, sim, &rows, peak) {
            out.push(Chart {
                file_name: format!("stream_gpu{dev}.svg"),
                title,
                kind: ChartKind::Stream,
                svg,
            });
        }
    }
    out
}

fn render(title: &str, sim: bool, rows: &[Row], peak: Option<f64>) -> Option<String> {
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let top = rows
        .iter()
        .map(|r| r.hi)
        .fold(peak.unwrap_or(0.0), f64::max);
    let (xmax, ticks) = super::nice_ticks(top * 1.04);
    let mut legend = vec![(Mark::Bar(BLUE), "median (verified)".to_string())];
    if rows.iter().any(|r| !r.ok) {
        legend.push((Mark::Bar(RED), "wrong or unverified".into()));
    }
    legend.push((Mark::Line(GREY), "noise interval".into()));
    legend.push(match peak {
        Some(p) => (Mark::Dashed(GREEN), format!("peak {} GB/s", fmt_tick(p))),
        None => (Mark::Dashed(GREY), "peak: unknown".into()),
    });
    draw(rows::height(rows.len(), sim), title, &legend, |area| {
        let mut chart = rows::build(area, &labels, 0.0..xmax, ticks, "GB/s (1e9 bytes/s)")?;
        let n = rows.len();
        for (i, row) in rows.iter().enumerate() {
            let y = rows::row_y(i, n);
            let c = if row.ok { BLUE } else { RED };
            chart.draw_series([Rectangle::new(
                [(0.0, y - 0.3), (row.median, y + 0.3)],
                c.filled(),
            )])?;
            chart.draw_series([
                rows::span(y, row.lo, row.hi, GREY),
                rows::tick(y, row.lo, 0.12, GREY),
                rows::tick(y, row.hi, 0.12, GREY),
            ])?;
        }
        if let Some(p) = peak {
            chart.draw_series(DashedLineSeries::new(
                [(p, -0.6), (p, n as f64 - 0.4)],
                6,
                4,
                GREEN.stroke_width(2),
            ))?;
        }
        Ok(())
    })
}
