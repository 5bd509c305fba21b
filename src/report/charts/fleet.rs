//! A fleet's distribution of one metric on one GPU model: a strip of one point per GPU
//! (spread vertically by a fixed jitter so equal values stay visible), the quartile box with
//! its median, the slow outliers in red and the fast ones in orange, the first
//! [`LABELLED`] of them labelled with their node and GPU. Beyond [`MAX_POINTS`] GPUs the
//! GPUs that are no outlier are drawn as a shaded histogram strip instead of points (every
//! outlier is still a point), so the chart of a 10,000-node fleet stays a small file.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw, fmt_tick, font, ticked, title, Chart, ChartKind, Mark, BLUE, GRID, ORANGE, RED};
use crate::fleet::model::{Distribution, FleetReport, Group, Side};
use crate::model::is_simulated_name;

/// Outliers labelled on a chart; the others are in the report's tables and fleet.json.
pub const LABELLED: usize = 8;
/// GPUs drawn one point each; above this, a histogram strip.
pub const MAX_POINTS: usize = 2000;
const HEIGHT: u32 = 290;
const BINS: usize = 120;

/// One chart per group, GPU model and metric, in the report's order.
pub fn charts(f: &FleetReport) -> Vec<Chart> {
    let mut out = Vec::new();
    for g in &f.groups {
        for d in &g.metrics {
            let sim = is_simulated_name(&d.gpu_model);
            let t = title(
                sim,
                format!(
                    "{} on {} ({}): {} GPUs, {}",
                    d.metric, d.gpu_model, g.profile, d.n, d.unit
                ),
            );
            if let Some(svg) = render(&t, f, d) {
                out.push(Chart {
                    file_name: file_name(out.len(), g, d),
                    title: t,
                    kind: ChartKind::Fleet,
                    svg,
                });
            }
        }
    }
    out
}

/// "fleet_003_g2-2xlarge_sgemm-384x384x384.svg": numbered, so two names never collide.
fn file_name(k: usize, g: &Group, d: &Distribution) -> String {
    let slug = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    format!("fleet_{k:03}_{}_{}.svg", slug(&g.profile), slug(&d.metric))
}

/// Ticks covering `lo..hi`: a round step, about five of them.
fn ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let span = (hi - lo).max(hi.abs() * 1e-6).max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let a = (lo / step).floor() * step;
    let b = (hi / step).ceil() * step;
    let n = ((b - a) / step).round() as usize;
    (a, b, (0..=n).map(|i| a + i as f64 * step).collect())
}

/// A fixed jitter in 0..1 for the i-th point (golden-ratio sequence).
fn jitter(i: usize) -> f64 {
    (i as f64 * 0.618_033_988_75).fract()
}

fn legend(d: &Distribution, many: bool) -> Vec<(Mark, String)> {
    let slow = d.outliers.iter().filter(|o| o.side == Side::Slow).count();
    let fast = d.outliers.len() - slow;
    let mut l = vec![if many {
        (Mark::Shade(BLUE), format!("{} GPUs, darker: more", d.n))
    } else {
        (Mark::Dot(BLUE), format!("one point per GPU ({})", d.n))
    }];
    l.push((Mark::Bar(GRID), "quartiles; line: median".into()));
    l.push((Mark::Dot(RED), format!("slow outliers: {slow}")));
    l.push((Mark::Dot(ORANGE), format!("fast outliers: {fast}")));
    if d.outliers.len() > LABELLED {
        l.push((Mark::Dot(RED), format!("labelled: the {LABELLED} furthest")));
    }
    l
}

fn render(t: &str, f: &FleetReport, d: &Distribution) -> Option<String> {
    let pad = ((d.max - d.min) * 0.06).max(d.median.abs() * 0.01);
    let (lo, hi, tk) = ticks(d.min - pad, d.max + pad);
    let many = d.n > MAX_POINTS;
    let x_desc = format!("{} ({})", d.metric, d.unit);
    draw(HEIGHT, t, &legend(d, many), |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .margin_left(30)
            .x_label_area_size(46)
            .build_cartesian_2d(ticked(lo..hi, tk), 0.0..1.0)?;
        let x_fmt = |v: &f64| fmt_tick(*v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .bold_line_style(GRID)
            .max_light_lines(0)
            .label_style(font(14))
            .axis_desc_style(font(15))
            .x_desc(x_desc.as_str())
            .x_label_formatter(&x_fmt)
            .draw()?;
        chart.draw_series([Rectangle::new([(d.q1, 0.06), (d.q3, 0.34)], GRID.filled())])?;
        chart.draw_series([PathElement::new(
            vec![(d.median, 0.04), (d.median, 0.36)],
            BLACK.stroke_width(2),
        )])?;
        let is_outlier = |i: usize| {
            d.outliers
                .iter()
                .any(|o| o.node == d.points[i].node && o.gpu == d.points[i].gpu)
        };
        if many {
            histogram(&mut chart, d, lo, hi, &is_outlier)?;
        } else {
            let pts = (0..d.points.len()).filter(|i| !is_outlier(*i));
            chart.draw_series(pts.map(|i| {
                let y = 0.08 + 0.24 * jitter(i);
                Circle::new((d.points[i].value, y), 3, BLUE.mix(0.6).filled())
            }))?;
        }
        for (k, o) in d.outliers.iter().enumerate() {
            let c = if o.side == Side::Slow { RED } else { ORANGE };
            let y = 0.08 + 0.24 * jitter(k + 7);
            chart.draw_series([Circle::new((o.value, y), 4, c.filled())])?;
        }
        labels(&mut chart, f, d, lo, hi)
    })
}

type Strip<'c, 'a> = ChartContext<
    'c,
    SVGBackend<'a>,
    Cartesian2d<
        super::Ticked<plotters::coord::types::RangedCoordf64>,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// The GPUs that are no outlier as bins along x, shaded by how many fall in each.
fn histogram(
    chart: &mut Strip,
    d: &Distribution,
    lo: f64,
    hi: f64,
    is_outlier: &dyn Fn(usize) -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let w = (hi - lo) / BINS as f64;
    let mut bins = vec![0usize; BINS];
    for (i, p) in d.points.iter().enumerate() {
        if !is_outlier(i) {
            let b = (((p.value - lo) / w) as usize).min(BINS - 1);
            bins[b] += 1;
        }
    }
    let most = bins.iter().copied().max().unwrap_or(1).max(1) as f64;
    chart.draw_series(
        bins.iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(b, n)| {
                let x0 = lo + b as f64 * w;
                let shade = 0.15 + 0.85 * (*n as f64 / most);
                Rectangle::new([(x0, 0.1), (x0 + w, 0.3)], BLUE.mix(shade).filled())
            }),
    )?;
    Ok(())
}

/// The first [`LABELLED`] outliers' names in the band above the strip, each joined to its
/// point by a thin line; a label on the right half of the plot is anchored at its right end.
fn labels(
    chart: &mut Strip,
    f: &FleetReport,
    d: &Distribution,
    lo: f64,
    hi: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    for (k, o) in d.outliers.iter().take(LABELLED).enumerate() {
        let c = if o.side == Side::Slow { RED } else { ORANGE };
        let y = 0.95 - 0.075 * k as f64;
        let point_y = 0.08 + 0.24 * jitter(k + 7);
        chart.draw_series([PathElement::new(
            vec![(o.value, point_y), (o.value, y - 0.02)],
            c.mix(0.5).stroke_width(1),
        )])?;
        let host = f
            .nodes
            .get(o.node)
            .map_or(o.hostname.as_str(), |n| n.hostname.as_str());
        let text = format!(
            "{host} gpu{}: {} ({:+.1} %)",
            o.gpu,
            fmt_tick(o.value),
            o.percent_from_median
        );
        let right = o.value > lo + (hi - lo) / 2.0;
        let anchor = Pos::new(if right { HPos::Right } else { HPos::Left }, VPos::Center);
        chart.draw_series([Text::new(
            text,
            (o.value, y),
            font(13).color(&c).pos(anchor),
        )])?;
    }
    Ok(())
}
