//! SVG charts drawn with `plotters` (its SVG backend only: no fonts, no system libraries; text
//! is left to the viewer's sans-serif). One file per kind of chart; [`all`] draws every chart a
//! run has data for, from what run.json records and nothing else (peaks from `r.peaks`, targets
//! from the checks, noise from the samples). A chart with no data is not drawn.
//!
//! Every chart has a title (a simulated GPU's charts say so first, in red, on a line of their
//! own), axis labels with units, and a legend to the right of the plot, never over it. The
//! output is deterministic: the same run gives the same bytes.

use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{Check, CheckKind, GpuPeaks, RunReport, WorkloadResult};

mod burn;
mod checks;
pub mod fleet;
mod gemm;
mod roofline;
mod rows;
mod samples;
mod stream;
mod telemetry;
mod video;

#[cfg(test)]
mod tests;

/// What a chart shows, so that a report places it in its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Per GPU, every gated performance metric as % of its spec, with the pass lines.
    Checks,
    /// GEMM TFLOPS against size per precision and math: kernel, cuBLAS peer, peak.
    Gemm,
    /// Stream bandwidth per operation against the memory peak.
    Stream,
    /// Video frames per second per stage against the stage's target.
    Video,
    /// Per GPU, every workload's achieved FLOP/s against its arithmetic intensity.
    Roofline,
    /// Per GPU, the samples behind each performance check's median.
    Samples,
    /// Per GPU, SM clock, temperature and power over the run (NVML).
    Telemetry,
    /// Per GPU, the burn-in's intervals over time: throughput, SM clock, temperature, power,
    /// throttled and corrupted intervals shaded.
    Burn,
    /// A fleet's distribution of one metric on one GPU model (`gpugate fleet`; drawn from a
    /// `FleetReport` by [`fleet::charts`], never by [`all`]).
    Fleet,
}

/// One chart: its file name, title, kind and SVG text.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub file_name: String,
    pub title: String,
    pub kind: ChartKind,
    pub svg: String,
}

/// Every chart of the run, by kind (checks, GEMM, stream, video, roofline, samples, telemetry,
/// burn-in), then by GPU.
pub fn all(r: &RunReport) -> Vec<Chart> {
    let mut out = checks::charts(r);
    out.extend(gemm::charts(r));
    out.extend(stream::charts(r));
    out.extend(video::charts(r));
    out.extend(roofline::charts(r));
    out.extend(samples::charts(r));
    out.extend(telemetry::charts(r));
    out.extend(burn::charts(r));
    out
}

// ---------------------------------------------------------------- shared by the charts

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Fallible = Result<(), Box<dyn std::error::Error>>;

/// The width of every chart, pixels.
const WIDTH: u32 = 780;
/// The legend column to the right of every plot, pixels.
const LEGEND_W: u32 = 210;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const BROWN: RGBColor = RGBColor(140, 86, 75);
const AMBER: RGBColor = RGBColor(200, 150, 0);
const GREY: RGBColor = RGBColor(110, 110, 110);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// What the title of a simulated GPU's chart starts with.
const SIM_MARK: &str = "SIMULATED, not a measurement";

/// A text style; plotters' size is 1.24 × the SVG font size.
fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().into()
}

/// An axis with the ticks a chart chooses (plotters' own key-point wrapper cannot take a label
/// formatter).
struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, _: H) -> Vec<f64> {
        self.ticks.clone()
    }
    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// `x` (a range, or a log-scale range) with exactly `ticks`.
fn ticked<X: AsRangedCoord<Value = f64>>(x: X, ticks: Vec<f64>) -> Ticked<X::CoordDescType> {
    Ticked {
        inner: x.into(),
        ticks,
    }
}

/// A panel over time, as [`time_panel`] gives it: time on x, the panel's value on y.
type TimeChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked<RangedCoordf64>, RangedCoordf64>>;

/// A panel's plot over time since `what` started (the telemetry and burn charts): the x axis
/// from 0 to its last tick past `t_end` (so that no grid line falls outside the plot), `y` as
/// given and described by `y_desc`; only the `last` panel of a stack names the time axis. The
/// mesh is drawn; the caller draws its series.
fn time_panel<'a, 'b>(
    area: &'a Area<'b>,
    y_desc: &str,
    y: Range<f64>,
    t_end: f64,
    (last, what): (bool, &str),
) -> Result<TimeChart<'a, 'b>, Box<dyn std::error::Error>> {
    let (x_end, xticks) = nice_ticks(t_end);
    let mut chart = ChartBuilder::on(area)
        .margin_top(10)
        .margin_right(18)
        .margin_left(6)
        .x_label_area_size(if last { 46 } else { 22 })
        .y_label_area_size(64)
        .build_cartesian_2d(ticked(0.0..x_end, xticks), y)?;
    let fmt = |v: &f64| fmt_tick(*v);
    let x_desc = format!("time since {what} started, s");
    let mut mesh = chart.configure_mesh();
    mesh.bold_line_style(GRID)
        .max_light_lines(0)
        .label_style(font(13))
        .axis_desc_style(font(14))
        .y_labels(4)
        .y_desc(y_desc)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt);
    if last {
        mesh.x_desc(x_desc);
    }
    mesh.draw()?;
    Ok(chart)
}

/// A legend entry's symbol.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Line(RGBColor),
    Dashed(RGBColor),
    Dot(RGBColor),
    Bar(RGBColor),
    Shade(RGBColor),
}

/// "gpu0 (Tesla M40 24GB)" and whether that GPU is simulated.
fn gpu_label(r: &RunReport, dev: u32) -> (String, bool) {
    match r.gpus.iter().find(|g| g.index == dev) {
        Some(g) => (format!("gpu{dev} ({})", g.name), g.is_simulated()),
        None => (format!("gpu{dev}"), false),
    }
}

/// A chart title, prefixed with [`SIM_MARK`] for a simulated GPU.
fn title(simulated: bool, text: String) -> String {
    if simulated {
        format!("{SIM_MARK}: {text}")
    } else {
        text
    }
}

/// The GPUs with a result or a check, in order.
fn devices(r: &RunReport) -> Vec<u32> {
    let mut d: Vec<u32> = r
        .results
        .iter()
        .filter_map(|w| w.device)
        .chain(r.checks.iter().filter_map(|c| c.device))
        .collect();
    d.sort_unstable();
    d.dedup();
    d
}

/// The peaks a GPU's charts are drawn against: those the run recorded, else (a schema 1
/// run.json) this gpugate's own, as the GEMM table does ([`super::gemm::gemm_peak`]).
fn peaks(r: &RunReport, dev: u32) -> Option<GpuPeaks> {
    if let Some(p) = r.peaks.iter().find(|p| p.device == dev) {
        return Some(p.clone());
    }
    let g = r.gpus.iter().find(|g| g.index == dev)?;
    Some(crate::gate::profile::peaks_for_device(g))
}

/// A performance check with a measured value and a spec, with the result its value was
/// decided from (recorded by the gate in `decided_from`): for a GPU's check the one result it
/// counted. None for a check that records no such result (nothing was judged, a machine
/// check's sum, or an older run.json's checks shown as stored).
fn measured_check<'a>(r: &'a RunReport, c: &'a Check) -> Option<(&'a Check, &'a WorkloadResult)> {
    if c.kind != CheckKind::Performance {
        return None;
    }
    c.observed.filter(|v| v.is_finite())?;
    c.spec.filter(|s| *s > 0.0)?;
    let [id] = c.decided_from.as_slice() else {
        return None;
    };
    let w = r.results.iter().find(|w| &w.id == id)?;
    Some((c, w))
}

/// A check's name on a chart: its id without the GPU ("fp32_gemm", "video_nv12#2").
fn check_name(c: &Check) -> &str {
    c.id.split_once('.').map_or(c.id.as_str(), |(_, rest)| rest)
}

/// A tick label: no trailing zeros, at most three significant decimals.
fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    let s = if a >= 1e6 {
        return format!("{}M", fmt_tick(v / 1e6));
    } else if a >= 1e4 {
        return format!("{}k", fmt_tick(v / 1e3));
    } else if a >= 100.0 && (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        // Two decimals, also above 100: the samples chart's ticks are 100 ± a small step
        // (98.75, 99, …), which whole numbers would label "100 100 101 101".
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "0" || s == "-0" {
        format!("{v:.1e}")
    } else {
        s
    }
}

/// A "nice" upper bound for a linear axis from 0 and its ticks.
fn nice_ticks(max: f64) -> (f64, Vec<f64>) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil() as usize;
    let ticks = (0..=n).map(|i| i as f64 * step).collect();
    (n as f64 * step, ticks)
}

/// Decades covering `lo..hi` (both > 0) on a log axis: the range and its ticks.
fn decades(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let d0 = lo.log10().floor() as i32;
    let d1 = (hi.log10().ceil() as i32).max(d0 + 1);
    let ticks = (d0..=d1).map(|d| 10f64.powi(d)).collect();
    (10f64.powi(d0), 10f64.powi(d1), ticks)
}

/// Splits a legend label over two lines when it is too long for the legend column.
fn wrap(label: &str) -> Vec<String> {
    const MAX: usize = 26;
    if label.chars().count() <= MAX {
        return vec![label.to_string()];
    }
    let cut = label
        .char_indices()
        .filter(|(i, c)| *c == ' ' && label[..*i].chars().count() <= MAX)
        .map(|(i, _)| i)
        .next_back();
    match cut {
        Some(i) => vec![label[..i].to_string(), label[i + 1..].to_string()],
        None => vec![label.to_string()],
    }
}

fn draw_legend(area: &Area, entries: &[(Mark, String)]) -> Fallible {
    let mut y = 12;
    for (mark, label) in entries {
        let (x0, x1, yc) = (8, 32, y);
        match *mark {
            Mark::Line(c) => area.draw(&PathElement::new(
                vec![(x0, yc), (x1, yc)],
                c.stroke_width(2),
            ))?,
            Mark::Dashed(c) => {
                for x in (x0..x1).step_by(8) {
                    area.draw(&PathElement::new(
                        vec![(x, yc), (x + 4, yc)],
                        c.stroke_width(2),
                    ))?;
                }
            }
            Mark::Dot(c) => area.draw(&Circle::new((20, yc), 4, c.filled()))?,
            Mark::Bar(c) => area.draw(&Rectangle::new([(x0, yc - 5), (x1, yc + 5)], c.filled()))?,
            Mark::Shade(c) => area.draw(&Rectangle::new(
                [(x0, yc - 6), (x1, yc + 6)],
                c.mix(0.25).filled(),
            ))?,
        }
        for line in wrap(label) {
            area.draw(&Text::new(
                line,
                (38, y),
                font(14).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            y += 16;
        }
        y += 6;
    }
    Ok(())
}

/// Draws one chart of `height` pixels: white ground, the title (a simulated GPU's mark in red
/// on its own line), the legend in a column on the right, and `body` in the rest. None if
/// plotters refused to draw (it never does with finite data).
fn draw(
    height: u32,
    title: &str,
    legend: &[(Mark, String)],
    body: impl FnOnce(&Area) -> Fallible,
) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let run = || -> Fallible {
            root.fill(&WHITE)?;
            let (mark, rest) = match title.split_once(": ") {
                Some((mark, rest)) if mark == SIM_MARK => (Some(mark), rest),
                _ => (None, title),
            };
            let head_h = if mark.is_some() { 48 } else { 30 };
            let (head, main) = root.split_vertically(head_h);
            if let Some(mark) = mark {
                let style = ("sans-serif", 16, FontStyle::Bold).into_font().color(&RED);
                head.draw(&Text::new(mark.to_string(), (12, 8), style))?;
            }
            head.draw(&Text::new(rest.to_string(), (12, head_h - 22), font(17)))?;
            let (plot, side) = main.split_horizontally(WIDTH - LEGEND_W);
            draw_legend(&side.margin(8, 0, 0, 0), legend)?;
            body(&plot)?;
            root.present()?;
            Ok(())
        };
        run().ok()?;
    }
    Some(svg)
}
