//! The burn-in over time (`gpugate burn`), per GPU: FP32 and FP64 TFLOPS, triad GB/s, SM
//! clock, temperature and power of every interval (at its midpoint, one panel each, against
//! the time since the load started), the intervals with a throttle reason shaded amber and
//! those with silent data corruption shaded red, as the run's `burn` section recorded them;
//! the temperature limit the GPU's `health.temperature` check was judged against and the
//! profile's power target drawn dashed across their panels.

use plotters::prelude::*;

use super::{
    draw, gpu_label, title, Chart, ChartKind, Mark, AMBER, BLUE, BROWN, GREEN, ORANGE, PURPLE, RED,
};
use crate::model::burn::{BurnInterval, GpuBurn};
use crate::model::RunReport;

/// Pixels per panel.
const PANEL_H: u32 = 130;

/// One panel: its axis label, colour, one value per interval (None: not measured) and the
/// limit drawn across it, if any (its value and legend text).
struct Panel {
    desc: &'static str,
    color: RGBColor,
    values: Vec<(f64, Option<f64>)>,
    limit: Option<(f64, String)>,
}

/// The panel the temperature limit is drawn on, and the power target's.
const TEMPERATURE: &str = "temperature, °C";
const POWER: &str = "board power, W";

/// The limits of GPU `device`'s temperature and power panels: the temperature its
/// `gpuN.health.temperature` check was judged against (`Check::required`, never computed
/// again here) and the recorded profile's power target.
fn limits(r: &RunReport, device: u32) -> [(&'static str, Option<(f64, String)>); 2] {
    let temperature = crate::report::health::temperature_check(r, device)
        .and_then(|c| c.required)
        .filter(|v| v.is_finite())
        .map(|v| (v, format!("temperature limit, {v:.0} °C")));
    let power = r
        .profile
        .health
        .as_ref()
        .and_then(|h| h.power_target_w)
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| (v, format!("power target, {v:.0} W")));
    [(TEMPERATURE, temperature), (POWER, power)]
}

/// The panels with at least one value.
fn panels(rows: &[BurnInterval]) -> Vec<Panel> {
    let of = |f: fn(&BurnInterval) -> Option<f64>| {
        rows.iter()
            .map(|r| {
                let v = f(r).filter(|v| v.is_finite() && *v > 0.0);
                ((r.t_start_s + r.t_end_s) / 2.0, v)
            })
            .collect()
    };
    let all = [
        ("FP32 GEMM, TFLOPS", BLUE, of(|r| Some(r.fp32_tflops))),
        ("FP64 GEMM, TFLOPS", ORANGE, of(|r| Some(r.fp64_tflops))),
        ("triad, GB/s", PURPLE, of(|r| Some(r.triad_gbps))),
        ("SM clock, MHz", BROWN, of(|r| r.sm_clock_mhz)),
        (TEMPERATURE, RED, of(|r| r.temperature_c.map(f64::from))),
        (POWER, GREEN, of(|r| r.power_w)),
    ];
    all.into_iter()
        .map(|(desc, color, values)| Panel {
            desc,
            color,
            values,
            limit: None,
        })
        .filter(|p| p.values.iter().any(|v| v.1.is_some()))
        .collect()
}

/// The spans (start, end) of the intervals `pick` selects, adjacent ones merged.
fn spans(rows: &[BurnInterval], pick: impl Fn(&BurnInterval) -> bool) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for r in rows.iter().filter(|r| pick(r)) {
        match out.last_mut() {
            Some(last) if last.1 >= r.t_start_s => last.1 = r.t_end_s,
            _ => out.push((r.t_start_s, r.t_end_s)),
        }
    }
    out
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let Some(b) = &r.burn else {
        return Vec::new();
    };
    b.gpus.iter().filter_map(|g| gpu_chart(r, g)).collect()
}

/// One GPU's chart (None without an interval).
fn gpu_chart(r: &RunReport, g: &GpuBurn) -> Option<Chart> {
    let mut panels = panels(&g.intervals);
    if panels.is_empty() {
        return None;
    }
    for (desc, limit) in limits(r, g.device) {
        if let Some(p) = panels.iter_mut().find(|p| p.desc == desc) {
            p.limit = limit;
        }
    }
    let throttled = spans(&g.intervals, |i| !i.throttle_reasons.is_empty());
    let errors = spans(&g.intervals, |i| i.errors > 0);
    let t_end = g.intervals.iter().map(|i| i.t_end_s).fold(1.0, f64::max);
    let (gpu, sim) = gpu_label(r, g.device);
    let title = title(sim, format!("Burn-in over time, {gpu}"));
    let mut legend: Vec<(Mark, String)> = panels
        .iter()
        .map(|p| (Mark::Line(p.color), p.desc.to_string()))
        .collect();
    legend.extend(
        panels
            .iter()
            .filter_map(|p| Some((Mark::Dashed(p.color), p.limit.as_ref()?.1.clone()))),
    );
    if !throttled.is_empty() {
        let mut reasons: Vec<&str> = g
            .intervals
            .iter()
            .flat_map(|i| i.throttle_reasons.iter().map(String::as_str))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        legend.push((
            Mark::Shade(AMBER),
            format!("throttled: {}", reasons.join(", ")),
        ));
    }
    if !errors.is_empty() {
        legend.push((
            Mark::Shade(RED),
            format!("SDC: {} element(s) differed", g.sdc_count),
        ));
    }
    let height = (if sim { 48 } else { 30 }) + PANEL_H * panels.len() as u32 + 30;
    let shades = [(throttled, AMBER), (errors, RED)];
    let svg = draw(height, &title, &legend, |area| {
        let parts = area.split_evenly((panels.len(), 1));
        for (i, (p, a)) in panels.iter().zip(&parts).enumerate() {
            panel(a, p, &shades, t_end, i + 1 == panels.len())?;
        }
        Ok(())
    })?;
    Some(Chart {
        file_name: format!("burn_gpu{}.svg", g.device),
        title,
        kind: ChartKind::Burn,
        svg,
    })
}

fn panel(
    area: &super::Area,
    p: &Panel,
    shades: &[(Vec<(f64, f64)>, RGBColor)],
    t_end: f64,
    last: bool,
) -> super::Fallible {
    // The range holds the values and the limit, so that the gap between them shows.
    let (lo, hi) = p
        .values
        .iter()
        .filter_map(|v| v.1)
        .chain(p.limit.as_ref().map(|l| l.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    // At least ±5 % of the value around a steady line, so that noise is not drawn as a cliff.
    let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.05).max(1e-6);
    let (y0, y1) = ((lo - pad).max(0.0), hi + pad);
    let mut chart = super::time_panel(area, p.desc, y0..y1, t_end, (last, "the load"))?;
    for (spans, color) in shades {
        chart.draw_series(
            spans
                .iter()
                .map(|(a, b)| Rectangle::new([(*a, y0), (*b, y1)], color.mix(0.2).filled())),
        )?;
    }
    if let Some((limit, _)) = &p.limit {
        // Dashed: a segment every 2 % of the time axis, half of it drawn.
        let step = t_end / 50.0;
        chart.draw_series((0..50).map(|k| {
            let x = k as f64 * step;
            PathElement::new(
                vec![(x, *limit), (x + step / 2.0, *limit)],
                p.color.stroke_width(1),
            )
        }))?;
    }
    // An interval without a value breaks the line.
    for run in p.values.split(|v| v.1.is_none()) {
        let pts: Vec<(f64, f64)> = run.iter().filter_map(|v| Some((v.0, v.1?))).collect();
        chart.draw_series(LineSeries::new(pts.clone(), p.color.stroke_width(2)))?;
        chart.draw_series(pts.into_iter().map(|c| Circle::new(c, 3, p.color.filled())))?;
    }
    Ok(())
}
