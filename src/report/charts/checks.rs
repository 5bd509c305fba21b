//! Per GPU, every gated performance metric on one axis, as % of its spec: the measured median
//! (coloured by the check's verdict) with the noise interval the gate compared, the check's
//! pass line, and the spec at 100 %. Everything drawn is what the check records (its
//! `noise_interval` included): nothing of the gate is computed again here, and a check that
//! records no interval (no value was judged against its line) is not drawn.

use plotters::prelude::*;

use super::{
    devices, draw, gpu_label, rows, title, Chart, ChartKind, Mark, AMBER, GREEN, GREY, ORANGE, RED,
};
use crate::model::{CheckKind, RunReport, Verdict};
use crate::util::fmt_value;

/// One check on the chart, in % of its spec.
struct Row {
    label: String,
    median: f64,
    lo: f64,
    hi: f64,
    line: Option<f64>,
    verdict: Verdict,
}

fn rows_of(r: &RunReport, dev: u32) -> Vec<Row> {
    r.checks
        .iter()
        .filter(|c| c.device == Some(dev) && c.kind == CheckKind::Performance)
        .filter_map(|c| {
            let spec = c.spec.filter(|s| *s > 0.0)?;
            let observed = c.observed.filter(|v| v.is_finite())?;
            let interval = c.noise_interval?;
            Some((c, spec, observed, interval.lo, interval.hi))
        })
        .map(|(c, spec, observed, lo, hi)| {
            let pct = |v: f64| v / spec * 100.0;
            Row {
                label: format!(
                    "{} ({} {})",
                    super::check_name(c),
                    fmt_value(observed, &c.unit),
                    c.unit
                ),
                median: pct(observed),
                lo: pct(lo.min(observed)),
                hi: pct(hi.max(observed)),
                line: c.required.map(pct),
                verdict: c.verdict,
            }
        })
        .collect()
}

fn verdict_color(v: Verdict) -> RGBColor {
    match v {
        Verdict::Pass => GREEN,
        Verdict::Fail => RED,
        Verdict::Inconclusive => AMBER,
        Verdict::Skipped => GREY,
    }
}

pub(super) fn charts(r: &RunReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for dev in devices(r) {
        let rows = rows_of(r, dev);
        if rows.is_empty() {
            continue;
        }
        let (gpu, sim) = gpu_label(r, dev);
        let title = title(
            sim,
            format!("Performance checks, {gpu}: median against pass line and spec"),
        );
        if let Some(svg) = render(&title, sim, &rows) {
            out.push(Chart {
                file_name: format!("checks_gpu{dev}.svg"),
                title,
                kind: ChartKind::Checks,
                svg,
            });
        }
    }
    out
}

fn legend(rows: &[Row]) -> Vec<(Mark, String)> {
    let mut l = Vec::new();
    for v in [
        Verdict::Pass,
        Verdict::Inconclusive,
        Verdict::Fail,
        Verdict::Skipped,
    ] {
        if rows.iter().any(|r| r.verdict == v) {
            l.push((Mark::Dot(verdict_color(v)), format!("median, {v}")));
        }
    }
    l.push((Mark::Line(GREY), "noise interval (gate)".into()));
    l.push((Mark::Line(ORANGE), "pass line".into()));
    l.push((Mark::Dashed(GREEN), "spec (100 %)".into()));
    l
}

fn render(title: &str, sim: bool, rows: &[Row]) -> Option<String> {
    let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    let top = rows
        .iter()
        .flat_map(|r| [r.hi, r.line.unwrap_or(0.0)])
        .fold(110.0, f64::max);
    let (xmax, ticks) = super::nice_ticks(top * 1.04);
    draw(
        rows::height(rows.len(), sim),
        title,
        &legend(rows),
        |area| {
            let mut chart = rows::build(
                area,
                &labels,
                0.0..xmax,
                ticks,
                "% of spec (TFLOPS, GB/s and fps alike)",
            )?;
            let n = rows.len();
            let spec_y = (-0.6, n as f64 - 0.4);
            chart.draw_series(DashedLineSeries::new(
                [(100.0, spec_y.0), (100.0, spec_y.1)],
                6,
                4,
                GREEN.stroke_width(2),
            ))?;
            for (i, row) in rows.iter().enumerate() {
                let y = rows::row_y(i, n);
                let c = verdict_color(row.verdict);
                chart.draw_series([
                    rows::span(y, row.lo, row.hi, GREY),
                    rows::tick(y, row.lo, 0.12, GREY),
                    rows::tick(y, row.hi, 0.12, GREY),
                ])?;
                if let Some(line) = row.line {
                    chart.draw_series([rows::tick(y, line, 0.38, ORANGE)])?;
                }
                chart.draw_series([Circle::new((row.median, y), 5, c.filled())])?;
            }
            Ok(())
        },
    )
}
