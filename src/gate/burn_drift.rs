//! The burn-in's drift rule (`gpuN.burn.drift.<metric>`): per GPU and metric, the fall of the
//! throughput from the first minute of the burn to its last minute, and the least-squares
//! slope over all its intervals; a fall beyond the profile's `[burn] max_drift` FAILS.
//!
//! The windows: for a burn of at least two minutes (first interval's start to last
//! interval's end), the first window is the intervals that end within its first minute and
//! the last window those that start within its last minute (each at least one interval); a
//! shorter burn compares its last interval with its first. Each window's value is the mean of
//! its intervals. The slope is the least-squares line through every interval's value at its
//! midpoint, per minute, relative to the mean of the values. Intervals without a valid value
//! (no launch of the lane) are left out.

use crate::model::burn::{BurnInterval, BurnSection};
use crate::model::{CheckKind, RunReport, Verdict};
use crate::util::fmt_value;

use super::evaluate::{check, Draft};
use super::profile::Metric;

/// gpugate's drift limit, where neither the profile nor the run.json gives one.
pub const DEFAULT_MAX_DRIFT: f64 = 0.10;
/// Where [`DEFAULT_MAX_DRIFT`] comes from.
pub const DEFAULT_DRIFT_SOURCE: &str = "gpugate default (10 %): a GPU whose throughput falls \
     by more than a tenth under a steady load is heating, throttling or failing; not calibrated \
     on a real card";

/// A burn shorter than this (seconds) compares its last interval with its first.
pub const WINDOW_S: f64 = 60.0;

/// One GPU's drift of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// Mean of the first window, and of the last.
    pub first: f64,
    pub last: f64,
    /// 1 − last / first: positive when the throughput fell.
    pub fall: f64,
    /// Least-squares slope, per minute, relative to the mean of the values.
    pub slope_per_min: f64,
    /// Intervals in the first and the last window, and in all.
    pub first_n: usize,
    pub last_n: usize,
    pub n: usize,
}

/// The metric's value in one interval.
pub fn interval_value(row: &BurnInterval, metric: Metric) -> f64 {
    match metric {
        Metric::Fp32Gemm => row.fp32_tflops,
        Metric::Fp64Gemm => row.fp64_tflops,
        _ => row.triad_gbps,
    }
}

/// The drift of `metric` over `rows`; None with fewer than two valid intervals.
pub fn drift(rows: &[BurnInterval], metric: Metric) -> Option<Drift> {
    let pts: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| (r.t_start_s, r.t_end_s, interval_value(r, metric)))
        .filter(|p| p.2.is_finite() && p.2 > 0.0)
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let (t0, t1) = (pts[0].0, pts[pts.len() - 1].1);
    let long = t1 - t0 >= 2.0 * WINDOW_S;
    let first: Vec<f64> = pts
        .iter()
        .enumerate()
        .filter(|(i, p)| *i == 0 || (long && p.1 <= t0 + WINDOW_S))
        .map(|(_, p)| p.2)
        .collect();
    let last: Vec<f64> = pts
        .iter()
        .enumerate()
        .filter(|(i, p)| *i == pts.len() - 1 || (long && p.0 >= t1 - WINDOW_S))
        .map(|(_, p)| p.2)
        .collect();
    let (first_mean, last_mean) = (mean(&first), mean(&last));
    Some(Drift {
        first: first_mean,
        last: last_mean,
        fall: 1.0 - last_mean / first_mean,
        slope_per_min: slope(&pts),
        first_n: first.len(),
        last_n: last.len(),
        n: pts.len(),
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The least-squares slope of the values over the intervals' midpoints, per minute, relative
/// to their mean (0 when every interval has the same midpoint).
fn slope(pts: &[(f64, f64, f64)]) -> f64 {
    let xs: Vec<f64> = pts.iter().map(|p| (p.0 + p.1) / 2.0 / 60.0).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.2).collect();
    let (mx, my) = (mean(&xs), mean(&ys));
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return 0.0;
    }
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    sxy / sxx / my
}

/// The drift checks of every GPU of the run and every metric the burn measures.
pub(crate) fn drift_checks(r: &RunReport, b: &BurnSection, out: &mut Vec<Draft>) {
    let limit = b.max_drift.unwrap_or(DEFAULT_MAX_DRIFT);
    let source = b
        .drift_source
        .clone()
        .unwrap_or_else(|| DEFAULT_DRIFT_SOURCE.to_string());
    for g in &r.gpus {
        let rows = b
            .gpus
            .iter()
            .find(|x| x.device == g.index)
            .map_or(&[][..], |x| x.intervals.as_slice());
        for metric in [Metric::Fp32Gemm, Metric::Fp64Gemm, Metric::StreamTriad] {
            let mut c = drift_check(g.index, metric, drift(rows, metric), limit);
            c.source = Some(source.clone());
            out.push(c);
        }
    }
}

/// `gpuN.burn.drift.<metric>` of one drift (None: too few intervals, skipped).
fn drift_check(device: u32, metric: Metric, d: Option<Drift>, limit: f64) -> Draft {
    let mut c = check(
        "drift",
        format!("gpu{device}.burn.drift.{}", metric.as_str()),
        CheckKind::Performance,
        Some(device),
        &format!(
            "Burn-in: {} holds from the first minute to the end",
            metric.as_str()
        ),
        "%",
    );
    // Observed: the share of the first minute's throughput the last minute kept (a positive
    // value, whichever way it moved); the line is 1 − the limit.
    c.required = Some((1.0 - limit) * 100.0);
    let Some(d) = d else {
        c.verdict = Some(Verdict::Skipped);
        c.reason = "fewer than two intervals with a valid value: no drift to measure (a \
                    --duration of at least two --interval measures it)"
            .into();
        return c;
    };
    let unit = metric.unit();
    c.observed = Some(d.last / d.first * 100.0);
    let pass = d.fall <= limit;
    c.verdict = Some(if pass { Verdict::Pass } else { Verdict::Fail });
    c.reason = format!(
        "{} {unit} at the start ({} intervals), {} {unit} at the end ({} intervals): {} {:.1} %; \
         slope {:+.2} % per minute over {} intervals; the limit is a fall of {:.0} %",
        fmt_value(d.first, unit),
        d.first_n,
        fmt_value(d.last, unit),
        d.last_n,
        if d.fall >= 0.0 { "fell" } else { "rose" },
        d.fall.abs() * 100.0,
        d.slope_per_min * 100.0,
        d.n,
        limit * 100.0
    );
    if !pass {
        c.hint = "the GPU slows under a steady load: look at its clocks, temperature and \
                  throttle reasons over the burn (the report's charts; nvidia-smi -q -d \
                  CLOCK,TEMPERATURE,PERFORMANCE) and at its cooling"
            .into();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `secs`-second intervals with the given FP32 values (FP64 and triad steady).
    fn rows(secs: f64, fp32: &[f64]) -> Vec<BurnInterval> {
        fp32.iter()
            .enumerate()
            .map(|(i, v)| BurnInterval {
                index: i,
                t_start_s: i as f64 * secs,
                t_end_s: (i + 1) as f64 * secs,
                fp32_tflops: *v,
                fp64_tflops: 0.2,
                triad_gbps: 200.0,
                ..BurnInterval::default()
            })
            .collect()
    }

    /// A 10-minute burn in 10 s intervals: `f(i)` is interval i's FP32 TFLOPS.
    fn ten_minutes(f: impl Fn(usize) -> f64) -> Vec<BurnInterval> {
        rows(10.0, &(0..60).map(f).collect::<Vec<_>>())
    }

    #[test]
    fn drift_verdicts() {
        // Deterministic noise of ±4 %: alternating, with a slower period on top.
        let noise = |i: usize| {
            1.0 + 0.04 * if i.is_multiple_of(2) { 1.0 } else { -1.0 } * ((i % 7) as f64 / 6.0)
        };
        let cases: Vec<(&str, Vec<BurnInterval>, Option<Verdict>, &str)> = vec![
            (
                "steady",
                ten_minutes(|_| 5.0),
                Some(Verdict::Pass),
                "fell 0.0 %",
            ),
            (
                "a 20 % linear fall over the burn fails",
                ten_minutes(|i| 5.0 * (1.0 - 0.2 * i as f64 / 59.0)),
                Some(Verdict::Fail),
                "per minute over 60 intervals",
            ),
            (
                "a 20 % step in the last minutes fails",
                ten_minutes(|i| if i >= 50 { 4.0 } else { 5.0 }),
                Some(Verdict::Fail),
                "fell 20.0 %",
            ),
            (
                "noise of ±4 % passes",
                ten_minutes(|i| 5.0 * noise(i)),
                Some(Verdict::Pass),
                "",
            ),
            (
                "a fall of 8 % passes a 10 % limit",
                ten_minutes(|i| if i >= 30 { 4.6 } else { 5.0 }),
                Some(Verdict::Pass),
                "fell 8.0 %",
            ),
            (
                "a rise passes",
                ten_minutes(|i| if i >= 30 { 5.5 } else { 5.0 }),
                Some(Verdict::Pass),
                "rose 10.0 %",
            ),
            (
                "a short burn compares its last interval with its first",
                rows(1.0, &[5.0, 5.0, 4.0]),
                Some(Verdict::Fail),
                "(1 intervals), 4",
            ),
            (
                "one interval is skipped",
                rows(10.0, &[5.0]),
                Some(Verdict::Skipped),
                "fewer than two",
            ),
            (
                "intervals without a launch are left out",
                rows(10.0, &[5.0, f64::NAN, 0.0, 5.0]),
                Some(Verdict::Pass),
                "over 2 intervals",
            ),
        ];
        for (name, rows, want, says) in cases {
            let c = drift_check(0, Metric::Fp32Gemm, drift(&rows, Metric::Fp32Gemm), 0.10);
            assert_eq!(c.verdict, want, "{name}: {}", c.reason);
            assert!(c.reason.contains(says), "{name}: {}", c.reason);
            // The other metrics of the same rows are steady.
            let d = drift(&rows, Metric::StreamTriad);
            assert!(
                d.is_none_or(|d| d.fall == 0.0 && d.slope_per_min == 0.0),
                "{name}"
            );
        }
    }

    #[test]
    fn windows_are_the_first_and_last_minute_and_the_slope_is_per_minute() {
        // 5 TFLOPS falling by 0.01 TFLOPS every 10 s interval: 0.06 per minute.
        let d = drift(&ten_minutes(|i| 5.0 - 0.01 * i as f64), Metric::Fp32Gemm).unwrap();
        assert_eq!((d.first_n, d.last_n, d.n), (6, 6, 60));
        assert!((d.first - 4.975).abs() < 1e-9, "{}", d.first);
        assert!((d.last - 4.435).abs() < 1e-9, "{}", d.last);
        let mean = 5.0 - 0.01 * 29.5;
        assert!(
            (d.slope_per_min + 0.06 / mean).abs() < 1e-9,
            "{}",
            d.slope_per_min
        );
    }
}
