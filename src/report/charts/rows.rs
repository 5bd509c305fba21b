//! The layout the checks, stream, video and samples charts share: one labelled row per item on
//! the y axis (first item on top), a value axis along x. Labels sit left of the plot, so a long
//! one never runs into its neighbour.

use plotters::coord::ranged1d::{AsRangedCoord, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{fmt_tick, font, ticked, Area, Ticked, GRID};

/// The plot of a rows chart: x as given, y the rows.
pub(super) type RowsChart<'c, 'a, X> =
    ChartContext<'c, SVGBackend<'a>, Cartesian2d<Ticked<X>, Ticked<RangedCoordf64>>>;

/// Pixels per row.
pub(super) const ROW_H: u32 = 30;

/// The height of a rows chart with `n` rows (title, rows, x axis and its label).
pub(super) fn height(n: usize, simulated: bool) -> u32 {
    let head = if simulated { 48 } else { 30 };
    (head + 20 + ROW_H * n as u32 + 64).max(220)
}

/// The y value of row `i` of `n` (row 0 on top).
pub(super) fn row_y(i: usize, n: usize) -> f64 {
    (n - 1 - i) as f64
}

/// Builds the plot: `labels` down the left, `x` along the bottom with `ticks`, described by
/// `x_desc` (with its unit), light grid lines.
pub(super) fn build<'c, 'a, X>(
    area: &'c Area<'a>,
    labels: &[String],
    x: X,
    ticks: Vec<f64>,
    x_desc: &str,
) -> Result<RowsChart<'c, 'a, X::CoordDescType>, Box<dyn std::error::Error>>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64>,
{
    let n = labels.len();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_w = (longest as u32 * 7 + 16).clamp(60, 300);
    let y = ticked(-0.6..n as f64 - 0.4, (0..n).map(|i| i as f64).collect());
    let mut chart = ChartBuilder::on(area)
        .margin_top(14)
        .margin_right(18)
        .margin_left(6)
        .margin_bottom(6)
        .x_label_area_size(50)
        .y_label_area_size(label_w)
        .build_cartesian_2d(ticked(x, ticks), y)?;
    let label_of = |v: &f64| {
        let i = v.round();
        if i < 0.0 || i as usize >= n {
            return String::new();
        }
        labels[n - 1 - i as usize].clone()
    };
    let x_fmt = |v: &f64| fmt_tick(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .max_light_lines(0)
        .label_style(font(14))
        .axis_desc_style(font(15))
        .x_desc(x_desc)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&label_of)
        .draw()?;
    Ok(chart)
}

/// A horizontal line of a row from `x0` to `x1`, `half` rows thick from its centre (0 = a line).
pub(super) fn span(y: f64, x0: f64, x1: f64, color: RGBColor) -> PathElement<(f64, f64)> {
    PathElement::new(vec![(x0, y), (x1, y)], color.stroke_width(2))
}

/// A short vertical mark across row `y` at `x` (a pass line, a spec), `half` rows up and down.
pub(super) fn tick(y: f64, x: f64, half: f64, color: RGBColor) -> PathElement<(f64, f64)> {
    PathElement::new(vec![(x, y - half), (x, y + half)], color.stroke_width(3))
}
