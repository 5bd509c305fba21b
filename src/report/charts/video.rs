//! Per GPU, the video stages: 1080p frames per second per stage (a bar per stage, the 1080p
//! result where measured, else the largest frame), against the stage's spec and pass line as
//! the checks recorded them, on a log axis (the stages differ by orders of magnitude).

use plotters::prelude::*;

use super::{draw, gpu_label, rows, title, Chart, ChartKind, Mark, BLUE, GREEN, ORANGE, RED};
use crate::model::RunReport;
use crate::report::video::{video_rows, VideoRow};
use crate::workload::VideoStage;

/// Per stage, the row the gate uses: 1080p if measured, else the largest frame.
fn bars(rows: &[VideoRow], dev: u32) -> Vec<&VideoRow> {
    let mut bars = Vec::new();
    for stage in VideoStage::ALL {
        let of_stage: Vec<&VideoRow> = rows
            .iter()
            .filter(|v| v.device == dev && v.stage == stage)
            .collect();
        let pick = of_stage
            .iter()
            .find(|v| (v.width, v.height) == crate::gate::profile::VIDEO_TARGET_FRAME)
            .or_else(|| of_stage.iter().max_by_key(|v| v.width * v.height));
        if let Some(v) = pick {
            bars.push(*v);
        }
    }
    bars
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let rows = video_rows(r);
    let mut devices: Vec<u32> = rows.iter().map(|v| v.device).collect();
    devices.dedup();
    let mut charts = Vec::new();
    for dev in devices {
        let bars = bars(&rows, dev);
        if bars.is_empty() {
            continue;
        }
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(
            sim,
            format!("Video stages, {gpu}: 1080p frames/s against target"),
        );
        if let Some(svg) = render(&title, sim, &bars) {
            charts.push(Chart {
                file_name: format!("video_gpu{dev}.svg"),
                title,
                kind: ChartKind::Video,
                svg,
            });
        }
    }
    charts
}

/// Red: a wrong result, or a value below its pass line.
fn below(b: &VideoRow, v: f64) -> bool {
    !b.ok || b.pass_line.is_some_and(|line| v < line)
}

fn render(title: &str, sim: bool, bars: &[&VideoRow]) -> Option<String> {
    let values: Vec<f64> = bars
        .iter()
        .flat_map(|b| [b.fps_1080p, b.spec, b.pass_line])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let (x0, x1, ticks) = if values.is_empty() {
        super::decades(1.0, 1000.0)
    } else {
        super::decades(lo, hi)
    };
    let labels: Vec<String> = bars
        .iter()
        .map(|b| format!("{} ({})", b.stage.as_str(), b.frame()))
        .collect();
    let mut legend = vec![(Mark::Bar(BLUE), "measured (verified)".to_string())];
    if bars
        .iter()
        .any(|b| b.fps_1080p.is_some_and(|v| below(b, v)))
    {
        legend.push((Mark::Bar(RED), "below pass line or wrong".into()));
    }
    legend.push((Mark::Line(GREEN), "spec (estimate)".into()));
    legend.push((Mark::Line(ORANGE), "pass line".into()));
    draw(rows::height(bars.len(), sim), title, &legend, |area| {
        let mut chart = rows::build(
            area,
            &labels,
            (x0..x1).log_scale(),
            ticks,
            "1080p frames/s (log scale)",
        )?;
        let n = bars.len();
        for (i, b) in bars.iter().enumerate() {
            let y = rows::row_y(i, n);
            if let Some(v) = b.fps_1080p.filter(|v| *v > 0.0) {
                let c = if below(b, v) { RED } else { BLUE };
                chart.draw_series([Rectangle::new(
                    [(x0, y - 0.3), (v.min(x1), y + 0.3)],
                    c.filled(),
                )])?;
            }
            if let Some(s) = b.spec.filter(|v| *v > 0.0) {
                chart.draw_series([rows::tick(y, s, 0.42, GREEN)])?;
            }
            if let Some(l) = b.pass_line.filter(|v| *v > 0.0) {
                chart.draw_series([rows::tick(y, l, 0.42, ORANGE)])?;
            }
        }
        Ok(())
    })
}
