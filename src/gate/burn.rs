//! The burn-in's own rules (`gpugate burn`, the run's `burn` section): per GPU, silent data
//! corruption (any bit that differs from the first result FAILS), the reference checks
//! (Freivalds for the GEMMs, gold values for the triad), and the within-machine share (every
//! GPU reaches at least 1 − share of the best GPU of its machine, per metric). The burn's
//! throughput against the profile's absolute and machine targets is the ordinary rule of
//! [`super::evaluate`]: its results are the GPUs loaded at once, so a machine target is
//! judged on the machine's concurrent total; [`machine_together`] says so in those checks and
//! sets beside it, as information, the sum of what each GPU reached alone (the solo phase).

use crate::model::burn::{BurnSection, GpuBurn};
use crate::model::{CheckKind, RunReport, Verdict, WorkloadResult};
use crate::util::fmt_value;

use super::evaluate::{check, Draft};
use super::profile::Metric;
use super::workload_matches;

/// The burn's checks of every GPU of the run (none without a burn section).
pub(crate) fn burn(r: &RunReport, out: &mut Vec<Draft>) {
    let Some(b) = &r.burn else {
        return;
    };
    for g in &r.gpus {
        let gb = b.gpus.iter().find(|x| x.device == g.index);
        out.push(sdc(g.index, gb));
        out.push(reference(g.index, gb));
    }
    for metric in [Metric::Fp32Gemm, Metric::Fp64Gemm, Metric::StreamTriad] {
        within_machine(r, b, metric, out);
        machine_together(r, b, metric, out);
    }
    super::burn_drift::drift_checks(r, b, out);
}

/// Why a GPU has no interval to judge.
fn no_intervals(gb: Option<&GpuBurn>) -> String {
    match gb.and_then(|g| g.error.as_deref()) {
        Some(e) => format!("no interval finished: the load stopped: {e}"),
        None => "no interval finished on this GPU (it could not be opened, or the run stopped \
                 first)"
            .to_string(),
    }
}

/// `gpuN.burn.sdc`: every repeated result equal, bit for bit, to the first.
fn sdc(device: u32, gb: Option<&GpuBurn>) -> Draft {
    let mut c = check(
        "sdc",
        format!("gpu{device}.burn.sdc"),
        CheckKind::Correctness,
        Some(device),
        "Burn-in: results repeat bit for bit (silent data corruption)",
        "elements",
    );
    c.required = Some(0.0);
    let Some(g) = gb.filter(|g| !g.intervals.is_empty()) else {
        c.verdict = Some(Verdict::Fail);
        c.reason = no_intervals(gb);
        c.hint = "run the burn again; see the run's notes for the GPU".into();
        return c;
    };
    c.observed = Some(g.sdc_count as f64);
    match g.sdc.first() {
        None => {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!(
                "{} intervals: every result equal, bit for bit, to the first result of the same \
                 inputs",
                g.intervals.len()
            );
        }
        Some(e) => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{} elements differed from the first result of the same inputs; the first in \
                 interval {}, {}, element {}: expected bits {}, found {}",
                g.sdc_count, e.interval, e.buffer, e.element, e.expected_bits, e.found_bits
            );
            c.hint = "silent data corruption: take the GPU out of service and have it \
                      inspected (nvidia-smi -q -d ECC,PAGE_RETIREMENT; the vendor's diagnostic)"
                .into();
        }
    }
    c
}

/// `gpuN.burn.reference`: the first result of every lane, and one set each interval after,
/// against the reference.
fn reference(device: u32, gb: Option<&GpuBurn>) -> Draft {
    let mut c = check(
        "reference",
        format!("gpu{device}.burn.reference"),
        CheckKind::Correctness,
        Some(device),
        "Burn-in: results match the reference (Freivalds, gold values)",
        "checks",
    );
    let checks = gb.map(|g| g.freivalds.as_slice()).unwrap_or_default();
    let failed: Vec<_> = checks.iter().filter(|f| !f.passed).collect();
    c.observed = Some((checks.len() - failed.len()) as f64);
    c.required = Some(checks.len() as f64);
    if checks.is_empty() {
        c.verdict = Some(Verdict::Fail);
        c.reason = no_intervals(gb);
    } else if let Some(f) = failed.first() {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!(
            "{} of {} reference checks failed; the first in interval {}, {}: {}",
            failed.len(),
            checks.len(),
            f.interval,
            f.buffer,
            f.detail
        );
        c.hint =
            "a wrong result under load: take the GPU out of service and have it inspected".into();
    } else {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("all {} reference checks passed", checks.len());
    }
    c
}

/// The burn's result of `metric` on GPU `device`, with a valid median.
fn burn_result(r: &RunReport, device: u32, metric: Metric) -> Option<&WorkloadResult> {
    r.results.iter().find(|w| {
        w.device == Some(device)
            && workload_matches(&w.spec, metric)
            && w.measurement
                .as_ref()
                .is_some_and(|m| m.throughput.median.is_finite() && m.throughput.median > 0.0)
    })
}

/// `gpuN.burn.within_machine.<metric>`: at least (1 − share) × the best GPU of the machine.
fn within_machine(r: &RunReport, b: &BurnSection, metric: Metric, out: &mut Vec<Draft>) {
    let median = |w: &WorkloadResult| w.measurement.as_ref().map_or(0.0, |m| m.throughput.median);
    let best = r
        .gpus
        .iter()
        .filter_map(|g| burn_result(r, g.index, metric).map(|w| (g.index, median(w))))
        // The fastest; of equals, the lowest ordinal.
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
    for g in &r.gpus {
        let mut c = check(
            "within_machine",
            format!("gpu{}.burn.within_machine.{}", g.index, metric.as_str()),
            CheckKind::Performance,
            Some(g.index),
            &format!("Burn-in: {} within the machine's best GPU", metric.as_str()),
            metric.unit(),
        );
        c.source = Some(b.within_machine_source.clone());
        match (burn_result(r, g.index, metric), best) {
            (Some(w), Some((top, best))) => {
                let line = best * (1.0 - b.within_machine_share);
                let v = median(w);
                c.observed = Some(v);
                c.required = Some(line);
                c.spec = Some(best);
                c.percent_of_spec = Some(v / best * 100.0);
                c.decided_from = vec![w.id.clone()];
                c.evidence = vec![w.id.clone()];
                let pass = v >= line;
                c.verdict = Some(if pass { Verdict::Pass } else { Verdict::Fail });
                c.reason = format!(
                    "{} {unit} under load, {:.1} % of the machine's best (GPU {top}, {} {unit}); \
                     the line is {:.0} % of it",
                    fmt_value(v, metric.unit()),
                    v / best * 100.0,
                    fmt_value(best, metric.unit()),
                    (1.0 - b.within_machine_share) * 100.0,
                    unit = metric.unit()
                );
                if !pass {
                    c.hint = "slower than its neighbours under the same load: check its clocks, \
                              power and throttle reasons (nvidia-smi -q -d CLOCK,POWER,PERFORMANCE), \
                              its cooling and its PCIe slot"
                        .into();
                }
            }
            _ => {
                c.verdict = Some(Verdict::Fail);
                c.reason =
                    "not measured: the burn has no valid result of this metric on this GPU".into();
            }
        }
        out.push(c);
    }
}

/// The sum over the run's GPUs of what each reached alone in the solo phase (`None` when a GPU
/// has no finite value: no solo phase, one GPU, a GPU that did not run alone).
pub fn alone_sum(r: &RunReport, b: &BurnSection, metric: Metric) -> Option<f64> {
    if r.gpus.len() < 2 {
        return None;
    }
    r.gpus
        .iter()
        .map(|g| {
            b.solo
                .iter()
                .find(|s| s.device == g.index)
                .map(|s| s.value(metric))
                .filter(|v| v.is_finite())
        })
        .sum()
}

/// The sum over the run's GPUs of their burn results' medians: the machine loaded at once
/// (`None` when a GPU has no valid result).
pub fn together_sum(r: &RunReport, metric: Metric) -> Option<f64> {
    r.gpus
        .iter()
        .map(|g| {
            burn_result(r, g.index, metric)
                .and_then(|w| w.measurement.as_ref())
                .map(|m| m.throughput.median)
        })
        .sum()
}

/// `machine.<metric>` of a burn: titled as the GPUs loaded at once, its reason given the sum
/// of the solo phase beside it (information, never the verdict), and where alone would have
/// passed but together fails, the hint for GPUs that share something.
fn machine_together(r: &RunReport, b: &BurnSection, metric: Metric, out: &mut [Draft]) {
    let id = format!("machine.{}", metric.as_str());
    let alone = alone_sum(r, b, metric);
    for c in out
        .iter_mut()
        .filter(|c| c.rule == "machine" && (c.id == id || c.id.starts_with(&format!("{id}#"))))
    {
        c.title = c
            .title
            .replace("(machine: sum over ", "(machine loaded at once: sum over ");
        if c.observed.is_none() {
            // Nothing was measured: the reason already says why, and there is no together
            // to set beside an alone.
            continue;
        }
        c.reason.truncate(c.reason.trim_end_matches('.').len());
        let unit = metric.unit();
        let Some(alone) = alone else {
            c.reason.push_str(
                "; the GPUs loaded at once (no solo phase to compare with: see the run's notes)",
            );
            continue;
        };
        c.reason.push_str(&format!(
            "; the GPUs loaded at once. Each GPU alone (the solo phase, information, not \
             gated): {} {unit} in all",
            fmt_value(alone, unit)
        ));
        if let Some(v) = c.observed.filter(|v| alone > 0.0 && v.is_finite()) {
            c.reason
                .push_str(&format!(", together {:.1} % of that", v / alone * 100.0));
        }
        let line = c.required.unwrap_or(f64::INFINITY);
        if c.verdict == Some(Verdict::Fail) && alone >= line {
            c.hint = "alone the GPUs reach the machine's line, together they do not: they \
                      share something under load (a PCIe switch, the power supply, the \
                      cooling): compare nvidia-smi topo -m, each GPU's power draw and throttle \
                      reasons during the burn, and run the burn with fewer GPUs (--gpus)"
                .into();
        }
    }
}
