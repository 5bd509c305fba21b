//! Per GPU where NVML was sampled: SM clock, temperature and board power against the time since
//! the run started (every workload's readings on one trace), one panel each, the spans with an
//! active throttle reason shaded.

use plotters::prelude::*;

use super::{draw, gpu_label, title, Chart, ChartKind, Mark, BLUE, GREEN, RED};
use crate::model::telemetry::TelemetryPoint;
use crate::model::RunReport;

/// Pixels per panel.
const PANEL_H: u32 = 170;

/// A GPU's readings over the run, in time order.
fn trace(r: &RunReport, dev: u32) -> Vec<&TelemetryPoint> {
    let mut t: Vec<&TelemetryPoint> = r
        .results
        .iter()
        .filter(|w| w.device == Some(dev))
        .flat_map(|w| &w.telemetry_trace)
        .filter(|p| p.at_s.is_finite())
        .collect();
    t.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    t
}

/// The throttled spans (start, end, seconds): from a reading with a throttle reason to the next
/// reading; a last throttled reading lasts the trace's median gap.
pub(super) fn throttled_spans(t: &[&TelemetryPoint]) -> Vec<(f64, f64)> {
    let mut gaps: Vec<f64> = t.windows(2).map(|w| w[1].at_s - w[0].at_s).collect();
    gaps.sort_by(f64::total_cmp);
    let gap = gaps.get(gaps.len() / 2).copied().unwrap_or(0.05);
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for (i, p) in t.iter().enumerate() {
        if p.sample.throttle.is_empty() {
            continue;
        }
        let end = t.get(i + 1).map_or(p.at_s + gap, |n| n.at_s);
        match spans.last_mut() {
            Some(last) if last.1 >= p.at_s => last.1 = end,
            _ => spans.push((p.at_s, end)),
        }
    }
    spans
}

/// One panel: its axis label, colour and readings.
struct Panel {
    desc: &'static str,
    color: RGBColor,
    values: Vec<(f64, Option<f64>)>,
}

fn panels(t: &[&TelemetryPoint]) -> Vec<Panel> {
    let of = |f: fn(&TelemetryPoint) -> Option<f64>| t.iter().map(|p| (p.at_s, f(p))).collect();
    let all = [
        Panel {
            desc: "SM clock, MHz",
            color: BLUE,
            values: of(|p| p.sample.sm_clock_mhz.map(f64::from)),
        },
        Panel {
            desc: "temperature, °C",
            color: RED,
            values: of(|p| p.sample.temperature_c.map(f64::from)),
        },
        Panel {
            desc: "board power, W",
            color: GREEN,
            values: of(|p| p.sample.power_w),
        },
    ];
    all.into_iter()
        .filter(|p| p.values.iter().any(|v| v.1.is_some_and(f64::is_finite)))
        .collect()
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for dev in super::devices(r) {
        let t = trace(r, dev);
        let panels = panels(&t);
        if panels.is_empty() {
            continue;
        }
        let mut reasons: Vec<&str> = t
            .iter()
            .flat_map(|p| p.sample.throttle.iter().map(String::as_str))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(sim, format!("Telemetry over the run, {gpu} (NVML)"));
        let spans = throttled_spans(&t);
        let t_end = t
            .last()
            .map_or(1.0, |p| p.at_s)
            .max(spans.last().map_or(0.0, |s| s.1));
        let mut legend: Vec<(Mark, String)> = panels
            .iter()
            .map(|p| (Mark::Line(p.color), p.desc.to_string()))
            .collect();
        if !spans.is_empty() {
            legend.push((
                Mark::Shade(RED),
                format!("throttled: {}", reasons.join(", ")),
            ));
        }
        let height = (if sim { 48 } else { 30 }) + PANEL_H * panels.len() as u32 + 30;
        let svg = draw(height, &title, &legend, |area| {
            let parts = area.split_evenly((panels.len(), 1));
            for (i, (p, a)) in panels.iter().zip(&parts).enumerate() {
                let last = i + 1 == panels.len();
                panel(a, p, &spans, t_end, last)?;
            }
            Ok(())
        });
        if let Some(svg) = svg {
            out.push(Chart {
                file_name: format!("telemetry_gpu{dev}.svg"),
                title,
                kind: ChartKind::Telemetry,
                svg,
            });
        }
    }
    out
}

fn panel(
    area: &super::Area,
    p: &Panel,
    spans: &[(f64, f64)],
    t_end: f64,
    last: bool,
) -> super::Fallible {
    let vals: Vec<f64> = p
        .values
        .iter()
        .filter_map(|v| v.1)
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.02).max(1.0);
    let (y0, y1) = ((lo - pad).max(0.0), hi + pad);
    let mut chart = super::time_panel(area, p.desc, y0..y1, t_end, (last, "the run"))?;
    chart.draw_series(
        spans
            .iter()
            .map(|(a, b)| Rectangle::new([(*a, y0), (*b, y1)], RED.mix(0.15).filled())),
    )?;
    // A reading the device did not report breaks the line.
    for run in p.values.split(|v| v.1.is_none()) {
        let pts: Vec<(f64, f64)> = run.iter().filter_map(|v| Some((v.0, v.1?))).collect();
        chart.draw_series(LineSeries::new(pts, p.color.stroke_width(2)))?;
    }
    Ok(())
}
