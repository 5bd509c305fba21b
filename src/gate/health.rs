//! The health rules: a GPU's counters before and after a run, its Xid events and its telemetry
//! against the profile's `[health]` limits. Pure: [`health_checks`] takes what was read and
//! gives the checks, one per rule and GPU, each naming the GPU and the moment (seconds since
//! the run started). The acceptance run feeds it through [`super::evaluate`]; a burn-in calls
//! it with its own before/after snapshots, events and telemetry.
//!
//! - `gpuN.health.ecc_uncorrected`: an uncorrectable (double-bit) ECC error new during the run
//!   (the volatile or aggregate count rose), or one since the driver loaded, FAILS.
//! - `gpuN.health.ecc_corrected`: new corrected errors are reported; above the profile's
//!   `max_new_sbe` they FAIL.
//! - `gpuN.health.retired_memory`: retired pages at the profile's `retired_pages_table` (the
//!   table is full) FAIL; on a GPU that remaps rows, a failed remap FAILS.
//! - `gpuN.health.retirement_pending`: a page retirement or row remap waiting for a reset FAILS.
//! - `gpuN.health.pcie_replays`: NVML's replay count above `max_pcie_replays` FAILS.
//! - `gpuN.health.xid`: a critical Xid ([`CRITICAL_XIDS`]) FAILS; others are reported.
//! - `gpuN.health.hw_slowdown`: hardware slowdown or a thermal limit in more than
//!   `max_throttle_share` of the telemetry samples FAILS; a software power cap is reported.
//! - `gpuN.health.temperature`: a sampled temperature at or above the limit FAILS, naming the
//!   peak and the moment the limit was reached. The limit is the profile's
//!   `max_temperature_c`, else the GPU's own slowdown temperature as NVML reported it
//!   (`GpuHealth::slowdown_temperature_c`); with neither it is SKIPPED as "not available"
//!   (a run.json from before schema 6 recorded neither and gets no such check).
//!
//! In a burn-in, a moment is named with the interval it fell in (`model::burn::interval_of`
//! over the GPU's recorded interval spans).
//!
//! A reading the driver does not give is SKIPPED as "not available" with its reason, never a
//! failure; a rule whose limit the profile does not set reports what it saw and passes.

use crate::model::burn::{interval_of, Span};
use crate::model::health::{EccCounts, GpuHealth, HealthSnapshot, Reading};
use crate::model::profile::HealthLimits;
use crate::model::telemetry::TelemetryPoint;
use crate::model::{Check, CheckKind, Verdict};

use super::evaluate::{check, Draft};

/// The Xids that FAIL a GPU, with what they mean. Source: NVIDIA's Xid catalogue ("XID
/// Errors", docs.nvidia.com/deploy/xid-errors) and the Dynamic Page Retirement guide (Xid 48, 63,
/// 64). These are hardware, memory and bus faults; the application errors (13 graphics engine
/// exception, 31 memory page fault, 43 GPU stopped processing, 45 preemptive cleanup) come from
/// a program's bug as often as from the GPU, so they and every Xid not listed are reported and
/// never fail on their own (a sick GPU also shows in its counters and results).
pub const CRITICAL_XIDS: &[(u64, &str)] = &[
    (48, "double-bit ECC error"),
    (63, "page retirement or row remap recorded"),
    (64, "page retirement or row remap failure"),
    (74, "NVLink error"),
    (79, "GPU has fallen off the bus"),
    (92, "high single-bit ECC error rate"),
    (94, "contained ECC error"),
    (95, "uncontained ECC error"),
];

/// Where the rules that need no limit come from.
const NVML_ECC: &str = "NVML ECC counters: an uncorrectable error corrupts data (NVIDIA Dynamic \
    Page Retirement guide)";
const RETIREMENT: &str = "NVIDIA Dynamic Page Retirement guide: a retirement takes effect at the \
    next reset";
const XID_CATALOGUE: &str = "NVIDIA Xid catalogue (docs.nvidia.com/deploy/xid-errors)";

/// The throttle reasons that count as a hardware slowdown or a thermal limit
/// (`probe::telemetry::throttle_reason_names`); `sw_power_cap` is reported, never counted.
pub const SLOWDOWN_REASONS: &[&str] = &[
    "hw_slowdown",
    "hw_thermal_slowdown",
    "sw_thermal_slowdown",
    "hw_power_brake",
];

/// Where the temperature limit comes from when the profile sets none.
const NVML_SLOWDOWN: &str = "the GPU's own slowdown temperature, NVML \
    nvmlDeviceGetTemperatureThreshold (NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: where its hardware \
    slowdown begins); DCGM's diagnostics likewise judge a GPU against its reported limit";

/// The health checks of one GPU (see the module documentation), finished: what the burn-in
/// calls. `trace` is the GPU's telemetry over the run; `spans` its burn intervals on the
/// run's clock (empty outside a burn-in), to name the interval of a moment.
pub fn health_checks(
    limits: Option<&HealthLimits>,
    h: &GpuHealth,
    trace: &[TelemetryPoint],
    spans: &[Span],
) -> Vec<Check> {
    let mut out = Vec::new();
    health_drafts(limits, h, trace, spans, &mut out);
    out.into_iter().map(Draft::finish).collect()
}

/// "at 6.5 s", or "at 6.5 s, in burn interval 2" where the moment fell in one of `spans`.
fn moment(at_s: f64, spans: &[Span]) -> String {
    match interval_of(spans, at_s) {
        Some(k) => format!("at {at_s:.1} s, in burn interval {k}"),
        None => format!("at {at_s:.1} s"),
    }
}

/// The drafts of [`health_checks`], for `evaluate`.
pub(crate) fn health_drafts(
    limits: Option<&HealthLimits>,
    h: &GpuHealth,
    trace: &[TelemetryPoint],
    spans: &[Span],
    out: &mut Vec<Draft>,
) {
    let limit = |key: &str| {
        limits.map_or_else(
            || "no limit in the profile".to_string(),
            |_| format!("the profile's [health] {key} (sources: gpugate profiles show)"),
        )
    };
    let drafts = [
        (ecc_uncorrected(h), NVML_ECC.to_string()),
        (ecc_corrected(limits, h), limit("max_new_sbe")),
        (retired_memory(limits, h), limit("retired_pages_table")),
        (retirement_pending(h), RETIREMENT.to_string()),
        (pcie_replays(limits, h), limit("max_pcie_replays")),
        (xid(h), XID_CATALOGUE.to_string()),
        (
            hw_slowdown(limits, h.gpu, trace, spans),
            limit("max_throttle_share"),
        ),
    ];
    out.extend(drafts.into_iter().map(|(mut d, source)| {
        d.source = Some(source);
        d
    }));
    out.extend(temperature(limits, h, trace, spans));
}

fn draft(rule: &'static str, gpu: u32, name: &str, title: &str, unit: &str) -> Draft {
    check(
        rule,
        format!("gpu{gpu}.health.{name}"),
        CheckKind::Inventory,
        Some(gpu),
        title,
        unit,
    )
}

/// The snapshots to judge, or the check SKIPPED with why they are missing.
fn snapshots<'a>(
    h: &'a GpuHealth,
    d: &mut Draft,
) -> Option<(Option<&'a HealthSnapshot>, &'a HealthSnapshot)> {
    match &h.after {
        Some(after) => Some((h.before.as_ref(), after)),
        None => {
            d.verdict = Some(Verdict::Skipped);
            d.reason = format!(
                "not available: GPU {}'s health counters were not read ({})",
                h.gpu,
                h.note.as_deref().unwrap_or("no reading after the run")
            );
            None
        }
    }
}

/// A reading not available: SKIPPED with its reason.
fn not_available<T>(d: &mut Draft, gpu: u32, what: &str, r: &Reading<T>) -> bool {
    if let Reading::NotAvailable(why) = r {
        d.verdict = Some(Verdict::Skipped);
        d.reason = format!("not available: GPU {gpu}'s {what}: {why}");
        return true;
    }
    false
}

/// The rise of a count from before to after (0 when either is missing).
fn rise(before: Option<u64>, after: Option<u64>) -> u64 {
    match (before, after) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => 0,
    }
}

/// The new errors of an ECC counter pair: the larger rise of the volatile and the aggregate
/// count (either may be reset or missing on its own).
fn ecc_rise(before: Option<&EccCounts>, after: &EccCounts) -> u64 {
    rise(
        before.and_then(|b| b.volatile.value()),
        after.volatile.value(),
    )
    .max(rise(
        before.and_then(|b| b.aggregate.value()),
        after.aggregate.value(),
    ))
}

/// A count judged against a profile limit: above it FAILS with `hint`, within it PASSES, and
/// with no limit in the profile it is reported and PASSES. `saw` says what was counted.
fn against_limit(d: &mut Draft, saw: &str, count: u64, max: Option<u64>, hint: &str) {
    match max {
        Some(max) if count > max => {
            d.required = Some(max as f64);
            d.verdict = Some(Verdict::Fail);
            d.reason = format!("{saw}: more than the profile's {max}");
            d.hint = hint.into();
        }
        Some(max) => {
            d.required = Some(max as f64);
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}: within the profile's {max}");
        }
        None => {
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}: reported (the profile sets no limit)");
        }
    }
}

/// "between 0.4 s and 12.0 s", the window between two snapshots.
fn window(before: Option<&HealthSnapshot>, after: &HealthSnapshot) -> String {
    match before {
        Some(b) => format!("between {:.1} s and {:.1} s", b.at_s, after.at_s),
        None => format!("by {:.1} s", after.at_s),
    }
}

fn ecc_uncorrected(h: &GpuHealth) -> Draft {
    let mut d = draft(
        "ecc_uncorrected",
        h.gpu,
        "ecc_uncorrected",
        "No uncorrectable ECC error",
        "errors",
    );
    let Some((before, after)) = snapshots(h, &mut d) else {
        return d;
    };
    let (b, a) = (before.map(|s| &s.ecc_uncorrected), &after.ecc_uncorrected);
    if not_available(&mut d, h.gpu, "uncorrectable ECC count", &a.volatile) {
        return d;
    }
    let vol = a.volatile.value().unwrap_or(0);
    let new = ecc_rise(b, a);
    d.observed = Some(vol as f64);
    d.required = Some(0.0);
    let life = match a.aggregate.value() {
        Some(n) => format!("; {n} over the board's life"),
        None => String::new(),
    };
    if new > 0 {
        d.verdict = Some(Verdict::Fail);
        d.reason = format!(
            "{new} new uncorrectable ECC error(s) on GPU {} {}{life}",
            h.gpu,
            window(before, after)
        );
        d.hint = "take the GPU out of service: an uncorrectable error corrupts data; reset it \
                  to retire the page (row) and run again, and replace it if they recur"
            .into();
    } else if vol > 0 {
        d.verdict = Some(Verdict::Fail);
        d.reason = format!(
            "{vol} uncorrectable ECC error(s) on GPU {} since the driver loaded, already at \
             {:.1} s{life}",
            h.gpu,
            before.unwrap_or(after).at_s
        );
        d.hint = "an uncorrectable error happened before this run: reset the GPU (or reboot) \
                  and run again; replace it if they recur"
            .into();
    } else {
        d.verdict = Some(Verdict::Pass);
        d.reason = format!(
            "0 uncorrectable ECC errors on GPU {} {}{life}",
            h.gpu,
            window(before, after)
        );
    }
    d
}

fn ecc_corrected(limits: Option<&HealthLimits>, h: &GpuHealth) -> Draft {
    let mut d = draft(
        "ecc_corrected",
        h.gpu,
        "ecc_corrected",
        "Corrected ECC errors within the limit",
        "errors",
    );
    let Some((before, after)) = snapshots(h, &mut d) else {
        return d;
    };
    let (b, a) = (before.map(|s| &s.ecc_corrected), &after.ecc_corrected);
    if not_available(&mut d, h.gpu, "corrected ECC count", &a.volatile) {
        return d;
    }
    let new = ecc_rise(b, a);
    d.observed = Some(new as f64);
    let saw = format!(
        "{new} new corrected ECC error(s) on GPU {} {} ({} since the driver loaded)",
        h.gpu,
        window(before, after),
        a.volatile
    );
    against_limit(
        &mut d,
        &saw,
        new,
        limits.map(|l| l.max_new_sbe),
        "the memory is degrading: watch for retired pages, and replace the GPU if the rate \
         keeps up",
    );
    d
}

fn retired_memory(limits: Option<&HealthLimits>, h: &GpuHealth) -> Draft {
    let mut d = draft(
        "retired_memory",
        h.gpu,
        "retired_memory",
        "Retired pages or remapped rows within the table",
        "pages",
    );
    let Some((_, after)) = snapshots(h, &mut d) else {
        return d;
    };
    match (
        after.retired_pages_sbe.value(),
        after.retired_pages_dbe.value(),
    ) {
        (Some(sbe), Some(dbe)) => retired_pages(&mut d, limits, h.gpu, after, sbe + dbe, dbe),
        _ => remapped_rows(&mut d, h.gpu, after),
    }
    d
}

fn retired_pages(
    d: &mut Draft,
    limits: Option<&HealthLimits>,
    gpu: u32,
    after: &HealthSnapshot,
    total: u32,
    dbe: u32,
) {
    d.observed = Some(f64::from(total));
    let saw = format!(
        "{total} page(s) retired on GPU {gpu} at {:.1} s ({dbe} for double-bit errors)",
        after.at_s
    );
    match limits.and_then(|l| l.retired_pages_table) {
        Some(table) if total >= table => {
            d.required = Some(f64::from(table));
            d.verdict = Some(Verdict::Fail);
            d.reason = format!("{saw}: the retirement table of {table} pages is full");
            d.hint = "no page can be retired any more: the next failing cell corrupts data; \
                      replace the GPU"
                .into();
        }
        Some(table) => {
            d.required = Some(f64::from(table));
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}, of a table of {table}");
        }
        None => {
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}: reported (the profile gives no table size)");
        }
    }
}

fn remapped_rows(d: &mut Draft, gpu: u32, after: &HealthSnapshot) {
    d.unit = "rows".into();
    if not_available(d, gpu, "retired pages", &after.retired_pages_sbe)
        && not_available(d, gpu, "row remapping", &after.remap_failure)
    {
        d.reason = format!(
            "not available: GPU {gpu} reports neither retired pages ({}) nor remapped rows ({})",
            after.retired_pages_sbe, after.remap_failure
        );
        return;
    }
    let rows = [
        &after.remapped_rows_correctable,
        &after.remapped_rows_uncorrectable,
    ];
    let total: u32 = rows.iter().filter_map(|r| r.value()).sum();
    d.observed = Some(f64::from(total));
    if after.remap_failure.value() == Some(true) {
        d.verdict = Some(Verdict::Fail);
        d.reason = format!(
            "a row remap failed on GPU {gpu} by {:.1} s ({total} rows remapped): no spare row \
             was left",
            after.at_s
        );
        d.hint = "the memory cannot repair itself any more: replace the GPU".into();
    } else {
        d.verdict = Some(Verdict::Pass);
        d.reason = format!(
            "{total} row(s) remapped on GPU {gpu} at {:.1} s ({} for uncorrectable errors), \
             no remap failure",
            after.at_s, after.remapped_rows_uncorrectable
        );
    }
}

fn retirement_pending(h: &GpuHealth) -> Draft {
    let mut d = draft(
        "retirement_pending",
        h.gpu,
        "retirement_pending",
        "No page retirement or row remap pending",
        "",
    );
    let Some((before, after)) = snapshots(h, &mut d) else {
        return d;
    };
    let pending = [
        ("page retirement", &after.retirement_pending),
        ("row remap", &after.remap_pending),
    ];
    let known: Vec<(&str, bool)> = pending
        .iter()
        .filter_map(|(what, r)| r.value().map(|v| (*what, v)))
        .collect();
    if known.is_empty() {
        d.verdict = Some(Verdict::Skipped);
        d.reason = format!(
            "not available: GPU {} reports no pending retirement ({}) nor remap ({})",
            h.gpu, after.retirement_pending, after.remap_pending
        );
    } else if let Some((what, _)) = known.iter().find(|(_, v)| *v) {
        let already = before.is_some_and(|b| {
            [&b.retirement_pending, &b.remap_pending]
                .iter()
                .any(|r| r.value() == Some(true))
        });
        let when = match before {
            Some(b) if already => format!("already at {:.1} s", b.at_s),
            _ => window(before, after),
        };
        d.verdict = Some(Verdict::Fail);
        d.reason = format!(
            "a {what} is pending on GPU {} {when}: the bad memory is still in use until the \
             GPU is reset",
            h.gpu
        );
        d.hint = "reset the GPU (nvidia-smi -r, or reboot) so the retirement takes effect, then \
                  run again"
            .into();
    } else {
        d.verdict = Some(Verdict::Pass);
        d.reason = format!("nothing pending on GPU {} at {:.1} s", h.gpu, after.at_s);
    }
    d
}

fn pcie_replays(limits: Option<&HealthLimits>, h: &GpuHealth) -> Draft {
    let mut d = draft(
        "pcie_replays",
        h.gpu,
        "pcie_replays",
        "PCIe replays within the limit",
        "replays",
    );
    let Some((before, after)) = snapshots(h, &mut d) else {
        return d;
    };
    if not_available(&mut d, h.gpu, "PCIe replay counter", &after.pcie_replays) {
        return d;
    }
    let n = after.pcie_replays.value().unwrap_or(0);
    let new = rise(before.and_then(|b| b.pcie_replays.value()), Some(n));
    d.observed = Some(n as f64);
    let saw = format!(
        "{n} PCIe replay(s) on GPU {} since the driver loaded, at {:.1} s ({new} during the run)",
        h.gpu, after.at_s
    );
    against_limit(
        &mut d,
        &saw,
        n,
        limits.map(|l| l.max_pcie_replays),
        "the PCIe link is unreliable: reseat the GPU, check the riser and slot, and look at the \
         link in the inventory",
    );
    d
}

/// What an Xid means, if it is critical.
pub fn critical_xid(xid: u64) -> Option<&'static str> {
    CRITICAL_XIDS
        .iter()
        .find(|(x, _)| *x == xid)
        .map(|(_, what)| *what)
}

fn xid(h: &GpuHealth) -> Draft {
    let mut d = draft("xid", h.gpu, "xid", "No critical Xid event", "events");
    let described: Vec<String> = h
        .events
        .iter()
        .map(|e| {
            let when = match e.interval {
                Some(i) => format!("at {:.1} s, in burn interval {i}", e.at_s),
                None => format!("at {:.1} s", e.at_s),
            };
            match critical_xid(e.xid) {
                Some(what) => format!("Xid {} ({what}) {when}", e.xid),
                None => format!("Xid {} {when} (not critical: reported)", e.xid),
            }
        })
        .collect();
    let critical: Vec<&String> = h
        .events
        .iter()
        .zip(&described)
        .filter(|(e, _)| critical_xid(e.xid).is_some())
        .map(|(_, s)| s)
        .collect();
    d.observed = Some(critical.len() as f64);
    d.evidence = described.clone();
    if !critical.is_empty() {
        d.verdict = Some(Verdict::Fail);
        d.required = Some(0.0);
        d.reason = format!(
            "{} critical Xid event(s) on GPU {}: {}",
            critical.len(),
            h.gpu,
            critical
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        d.hint = "look the Xid up in NVIDIA's Xid catalogue and the system log (dmesg); take \
                  the GPU out of service until it is understood"
            .into();
    } else if let Some(why) = &h.events_unwatched {
        d.verdict = Some(Verdict::Skipped);
        d.reason = format!(
            "not available: GPU {}'s Xid events were not watched: {why}",
            h.gpu
        );
    } else {
        d.verdict = Some(Verdict::Pass);
        d.reason = if described.is_empty() {
            format!("no Xid event on GPU {} during the run", h.gpu)
        } else {
            format!("GPU {}: {}", h.gpu, described.join("; "))
        };
    }
    d
}

/// (samples, in slowdown, at the SW power cap, first slowdown time) over a GPU's trace.
fn slowdown_share(trace: &[TelemetryPoint]) -> (usize, usize, usize, Option<f64>) {
    let slow = |p: &&TelemetryPoint| {
        p.sample
            .throttle
            .iter()
            .any(|r| SLOWDOWN_REASONS.contains(&r.as_str()))
    };
    let first = trace.iter().find(slow).map(|p| p.at_s);
    let capped = trace
        .iter()
        .filter(|p| p.sample.throttle.iter().any(|r| r == "sw_power_cap"))
        .count();
    (
        trace.len(),
        trace.iter().filter(slow).count(),
        capped,
        first,
    )
}

fn hw_slowdown(
    limits: Option<&HealthLimits>,
    gpu: u32,
    trace: &[TelemetryPoint],
    spans: &[Span],
) -> Draft {
    let mut d = draft(
        "hw_slowdown",
        gpu,
        "hw_slowdown",
        "No hardware slowdown or thermal limit",
        "share of samples",
    );
    let (n, slow, capped, first) = slowdown_share(trace);
    if n == 0 {
        d.verdict = Some(Verdict::Skipped);
        d.reason = format!("not available: no telemetry was sampled on GPU {gpu}");
        return d;
    }
    let share = slow as f64 / n as f64;
    d.observed = Some(share);
    let cap = if capped > 0 {
        format!("; the software power cap in {capped} of {n} (reported, not a failure)")
    } else {
        String::new()
    };
    let saw = match first {
        Some(t) => format!(
            "GPU {gpu} in hardware slowdown or at a thermal limit in {slow} of {n} samples \
             ({:.0} %), first {}{cap}",
            100.0 * share,
            moment(t, spans)
        ),
        None => format!("no hardware slowdown or thermal limit on GPU {gpu} in {n} samples{cap}"),
    };
    match limits.map(|l| l.max_throttle_share) {
        Some(max) if share > max => {
            d.required = Some(max);
            d.verdict = Some(Verdict::Fail);
            d.reason = format!("{saw}: more than the profile's {:.0} %", 100.0 * max);
            d.hint = "the GPU cannot hold its clocks: check its cooling (airflow, fans, inlet \
                      temperature) and power delivery"
                .into();
        }
        Some(max) => {
            d.required = Some(max);
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}: within the profile's {:.0} %", 100.0 * max);
        }
        None => {
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("{saw}: reported (the profile sets no limit)");
        }
    }
    d
}

/// A GPU's temperature limit, as [`temperature_limit`] finds it.
enum TemperatureLimit {
    /// The limit in °C, whose it is ("the profile's limit of 85 °C") and its source.
    Known {
        max: u32,
        whose: String,
        source: String,
    },
    /// Neither the profile nor NVML gives one: the check is SKIPPED with this reason.
    Unknown { why: String },
}

/// The temperature limit of GPU `h` and where it comes from: the profile's, else the GPU's
/// slowdown temperature; `None`: nothing recorded (an older run.json), no check.
fn temperature_limit(limits: Option<&HealthLimits>, h: &GpuHealth) -> Option<TemperatureLimit> {
    if let Some(max) = limits.and_then(|l| l.max_temperature_c) {
        return Some(TemperatureLimit::Known {
            max,
            whose: format!("the profile's limit of {max} °C"),
            source: "the profile's [health] max_temperature_c (sources: gpugate profiles show)"
                .into(),
        });
    }
    Some(match h.slowdown_temperature_c.as_ref()? {
        Reading::Value(c) => TemperatureLimit::Known {
            max: *c,
            whose: format!("its slowdown temperature of {c} °C (NVML)"),
            source: NVML_SLOWDOWN.into(),
        },
        Reading::NotAvailable(why) => TemperatureLimit::Unknown {
            why: format!(
                "not available: no temperature limit for GPU {}: the profile sets no \
                 max_temperature_c and the GPU's slowdown temperature is not known ({why})",
                h.gpu
            ),
        },
    })
}

/// `gpuN.health.temperature`: the hottest sample against the limit ([`temperature_limit`]).
fn temperature(
    limits: Option<&HealthLimits>,
    h: &GpuHealth,
    trace: &[TelemetryPoint],
    spans: &[Span],
) -> Option<Draft> {
    let limit = temperature_limit(limits, h)?;
    let gpu = h.gpu;
    let mut d = draft(
        "temperature",
        gpu,
        "temperature",
        "Temperature below the limit",
        "°C",
    );
    let (max, whose, source) = match limit {
        TemperatureLimit::Known { max, whose, source } => (max, whose, source),
        TemperatureLimit::Unknown { why } => {
            d.verdict = Some(Verdict::Skipped);
            d.reason = why;
            d.hint = "set [health] max_temperature_c in the profile".into();
            d.source = Some("no limit: neither the profile nor NVML gives one".into());
            return Some(d);
        }
    };
    d.source = Some(source);
    d.required = Some(f64::from(max));
    let temps: Vec<(f64, u32)> = trace
        .iter()
        .filter_map(|p| p.sample.temperature_c.map(|t| (p.at_s, t)))
        .collect();
    // The first sample at the peak: max_by_key keeps the last of equals, so search in reverse.
    let Some(&(peak_at, peak)) = temps.iter().rev().max_by_key(|(_, t)| *t) else {
        d.verdict = Some(Verdict::Skipped);
        d.reason = format!("not available: no temperature was sampled on GPU {gpu}");
        return Some(d);
    };
    d.observed = Some(f64::from(peak));
    let peaked = format!("peak {peak} °C {}", moment(peak_at, spans));
    match temps.iter().find(|(_, t)| *t >= max) {
        Some(&(at, t)) => {
            d.verdict = Some(Verdict::Fail);
            d.reason = format!(
                "GPU {gpu} reached {t} °C {}, at or above {whose} ({peaked})",
                moment(at, spans)
            );
            d.hint = "the GPU runs too hot: check the air flow through the chassis (blanking \
                      panels, cables in the way, the GPU's slot in the server's cooling), the \
                      fans and their speed and the inlet temperature, then run again"
                .into();
        }
        None => {
            d.verdict = Some(Verdict::Pass);
            d.reason = format!("GPU {gpu}: {peaked}, below {whose}");
        }
    }
    Some(d)
}

/// Every GPU's health checks of a run: its recorded health (`RunReport::health`) and the
/// telemetry of its results, against the profile's limits. A run that recorded no health
/// (older files, no GPU) gets none.
pub(crate) fn run_health(
    p: &crate::model::profile::Profile,
    r: &crate::model::RunReport,
    out: &mut Vec<Draft>,
) {
    for h in &r.health {
        let mut trace: Vec<TelemetryPoint> = r
            .results
            .iter()
            .filter(|w| w.device == Some(h.gpu))
            .flat_map(|w| w.telemetry_trace.iter().cloned())
            .collect();
        trace.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        // A burn-in's lanes (SGEMM, triad, DGEMM) share one trace: each reading counts once.
        trace.dedup_by(|a, b| a.at_s == b.at_s);
        let spans = r
            .burn
            .as_ref()
            .and_then(|b| b.gpus.iter().find(|g| g.device == h.gpu))
            .map(|g| g.spans())
            .unwrap_or_default();
        health_drafts(p.health.as_ref(), h, &trace, &spans, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::{EccCounts, HealthEvent};
    use crate::model::telemetry::TelemetrySample;

    fn counts(v: u64) -> EccCounts {
        EccCounts {
            volatile: Reading::Value(v),
            aggregate: Reading::Value(v),
        }
    }

    /// A healthy M40's counters at `at_s`.
    fn snap(at_s: f64) -> HealthSnapshot {
        fn na<T>() -> Reading<T> {
            Reading::NotAvailable("not supported on this GPU".to_string())
        }
        HealthSnapshot {
            at_s,
            ecc_enabled: Reading::Value(true),
            ecc_corrected: counts(0),
            ecc_uncorrected: counts(0),
            retired_pages_sbe: Reading::Value(0),
            retired_pages_dbe: Reading::Value(0),
            retirement_pending: Reading::Value(false),
            remapped_rows_correctable: na(),
            remapped_rows_uncorrectable: na(),
            remap_pending: na(),
            remap_failure: na(),
            pcie_replays: Reading::Value(0),
        }
    }

    fn healthy() -> GpuHealth {
        GpuHealth {
            gpu: 1,
            before: Some(snap(0.5)),
            after: Some(snap(10.0)),
            events: Vec::new(),
            events_unwatched: None,
            note: None,
            slowdown_temperature_c: Some(Reading::Value(92)),
        }
    }

    fn limits() -> HealthLimits {
        HealthLimits {
            max_new_sbe: 10,
            max_pcie_replays: 100,
            max_throttle_share: 0.05,
            retired_pages_table: Some(62),
            power_target_w: Some(249.0),
            max_temperature_c: None,
            source: "test".into(),
        }
    }

    fn samples(n: usize, with: &[(usize, &str)]) -> Vec<TelemetryPoint> {
        (0..n)
            .map(|i| TelemetryPoint {
                at_s: i as f64,
                sample: TelemetrySample {
                    throttle: with
                        .iter()
                        .filter(|(k, _)| i < *k)
                        .map(|(_, r)| r.to_string())
                        .collect(),
                    temperature_c: Some(60),
                    ..TelemetrySample::default()
                },
            })
            .collect()
    }

    fn after(h: &mut GpuHealth) -> &mut HealthSnapshot {
        h.after.as_mut().unwrap()
    }

    type Case = (
        &'static str,
        fn(&mut GpuHealth),
        &'static str,
        Verdict,
        &'static str,
    );

    /// (what, change to a healthy GPU 1, the check, its verdict, what its reason says)
    const CASES: &[Case] = &[
        ("new DBE", |h| after(h).ecc_uncorrected = counts(1), "ecc_uncorrected", Verdict::Fail,
         "1 new uncorrectable ECC error(s) on GPU 1 between 0.5 s and 10.0 s"),
        ("DBE before the run", |h| {
            h.before.as_mut().unwrap().ecc_uncorrected = counts(2);
            after(h).ecc_uncorrected = counts(2);
        }, "ecc_uncorrected", Verdict::Fail, "since the driver loaded, already at 0.5 s"),
        ("aggregate DBE rose", |h| after(h).ecc_uncorrected.aggregate = Reading::Value(1),
         "ecc_uncorrected", Verdict::Fail, "1 new uncorrectable"),
        ("old aggregate DBE only", |h| {
            h.before.as_mut().unwrap().ecc_uncorrected.aggregate = Reading::Value(4);
            after(h).ecc_uncorrected.aggregate = Reading::Value(4);
        }, "ecc_uncorrected", Verdict::Pass, "4 over the board's life"),
        ("ECC off", |h| after(h).ecc_uncorrected.volatile = Reading::NotAvailable("ECC is off".into()),
         "ecc_uncorrected", Verdict::Skipped, "not available: GPU 1's uncorrectable ECC count: ECC is off"),
        ("10 new SBE", |h| after(h).ecc_corrected = counts(10), "ecc_corrected", Verdict::Pass,
         "within the profile's 10"),
        ("11 new SBE", |h| after(h).ecc_corrected = counts(11), "ecc_corrected", Verdict::Fail,
         "11 new corrected ECC error(s) on GPU 1 between 0.5 s and 10.0 s (11 since the driver loaded): more than the profile's 10"),
        ("61 retired pages", |h| after(h).retired_pages_sbe = Reading::Value(61), "retired_memory",
         Verdict::Pass, "61 page(s) retired on GPU 1 at 10.0 s (0 for double-bit errors), of a table of 62"),
        ("62 retired pages", |h| {
            after(h).retired_pages_sbe = Reading::Value(61);
            after(h).retired_pages_dbe = Reading::Value(1);
        }, "retired_memory", Verdict::Fail, "the retirement table of 62 pages is full"),
        ("pending retirement", |h| after(h).retirement_pending = Reading::Value(true),
         "retirement_pending", Verdict::Fail, "a page retirement is pending on GPU 1 between 0.5 s and 10.0 s"),
        ("pending before the run", |h| {
            h.before.as_mut().unwrap().retirement_pending = Reading::Value(true);
            after(h).retirement_pending = Reading::Value(true);
        }, "retirement_pending", Verdict::Fail, "a page retirement is pending on GPU 1 already at 0.5 s"),
        ("two critical Xids", |h| {
            h.events.push(HealthEvent { gpu: 1, xid: 13, at_s: 1.0, interval: None });
            h.events.push(HealthEvent { gpu: 1, xid: 48, at_s: 2.0, interval: None });
            h.events.push(HealthEvent { gpu: 1, xid: 94, at_s: 3.0, interval: None });
        }, "xid", Verdict::Fail,
         "2 critical Xid event(s) on GPU 1: Xid 48 (double-bit ECC error) at 2.0 s; Xid 94 (contained ECC error) at 3.0 s"),
        ("row remap failure", |h| {
            let a = after(h);
            a.retired_pages_sbe = Reading::NotAvailable("not supported".into());
            a.remap_failure = Reading::Value(true);
            a.remapped_rows_uncorrectable = Reading::Value(3);
        }, "retired_memory", Verdict::Fail, "a row remap failed on GPU 1 by 10.0 s (3 rows remapped)"),
        ("row remap pending", |h| {
            let a = after(h);
            a.retirement_pending = Reading::NotAvailable("not supported".into());
            a.remap_pending = Reading::Value(true);
        }, "retirement_pending", Verdict::Fail, "a row remap is pending on GPU 1"),
        ("100 replays", |h| after(h).pcie_replays = Reading::Value(100), "pcie_replays", Verdict::Pass,
         "within the profile's 100"),
        ("101 replays", |h| after(h).pcie_replays = Reading::Value(101), "pcie_replays", Verdict::Fail,
         "101 PCIe replay(s) on GPU 1 since the driver loaded, at 10.0 s (101 during the run): more than the profile's 100"),
        ("Xid 79", |h| h.events.push(HealthEvent { gpu: 1, xid: 79, at_s: 2.25, interval: None }), "xid", Verdict::Fail,
         "1 critical Xid event(s) on GPU 1: Xid 79 (GPU has fallen off the bus) at 2.2 s"),
        ("Xid 79 in a burn interval", |h| h.events.push(HealthEvent { gpu: 1, xid: 79, at_s: 6.5, interval: Some(2) }),
         "xid", Verdict::Fail,
         "1 critical Xid event(s) on GPU 1: Xid 79 (GPU has fallen off the bus) at 6.5 s, in burn interval 2"),
        ("Xid 13 in a burn interval", |h| h.events.push(HealthEvent { gpu: 1, xid: 13, at_s: 4.0, interval: Some(0) }),
         "xid", Verdict::Pass, "GPU 1: Xid 13 at 4.0 s, in burn interval 0 (not critical: reported)"),
        ("Xid 13", |h| h.events.push(HealthEvent { gpu: 1, xid: 13, at_s: 3.0, interval: None }), "xid", Verdict::Pass,
         "GPU 1: Xid 13 at 3.0 s (not critical: reported)"),
        ("events not watched", |h| h.events_unwatched = Some("no event sets on this driver".into()),
         "xid", Verdict::Skipped, "Xid events were not watched: no event sets on this driver"),
        ("no reading after", |h| {
            h.after = None;
            h.note = Some("NVML not available".into());
        }, "pcie_replays", Verdict::Skipped, "not read (NVML not available)"),
    ];

    fn find(checks: &[Check], name: &str) -> Check {
        let id = format!("gpu1.health.{name}");
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .clone()
    }

    #[test]
    fn every_rule_decides_its_cases() {
        for (what, change, name, verdict, says) in CASES {
            let mut h = healthy();
            change(&mut h);
            let checks = health_checks(Some(&limits()), &h, &samples(20, &[]), &[]);
            let c = find(&checks, name);
            assert_eq!(c.verdict, *verdict, "{what}: {}", c.reason);
            assert!(c.reason.contains(says), "{what}: {}", c.reason);
            assert_eq!(c.device, Some(1), "{what}");
            // Only the rule under test moved.
            let others = checks
                .iter()
                .filter(|o| o.id != c.id && o.verdict == Verdict::Fail);
            assert_eq!(others.count(), 0, "{what}");
        }
    }

    #[test]
    fn a_healthy_gpu_passes_every_rule() {
        let checks = health_checks(Some(&limits()), &healthy(), &samples(20, &[]), &[]);
        let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "gpu1.health.ecc_uncorrected",
                "gpu1.health.ecc_corrected",
                "gpu1.health.retired_memory",
                "gpu1.health.retirement_pending",
                "gpu1.health.pcie_replays",
                "gpu1.health.xid",
                "gpu1.health.hw_slowdown",
                "gpu1.health.temperature",
            ]
        );
        assert!(
            checks.iter().all(|c| c.verdict == Verdict::Pass),
            "{checks:#?}"
        );
        let source = |id: &str| checks.iter().find(|c| c.id == id).unwrap().source.clone();
        assert_eq!(
            source("gpu1.health.pcie_replays").as_deref(),
            Some("the profile's [health] max_pcie_replays (sources: gpugate profiles show)")
        );
        assert!(source("gpu1.health.xid").unwrap().contains("Xid catalogue"));
    }

    #[test]
    fn slowdown_over_the_share_fails_and_a_power_cap_is_reported() {
        let share = |trace: &[TelemetryPoint]| {
            find(
                &health_checks(Some(&limits()), &healthy(), trace, &[]),
                "hw_slowdown",
            )
        };
        // 1 of 20 samples is 5 %: at the limit, not above it.
        let c = share(&samples(20, &[(1, "hw_slowdown")]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
        let c = share(&samples(20, &[(2, "hw_thermal_slowdown")]));
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
        assert!(c.reason.contains("GPU 1 in hardware slowdown or at a thermal limit in 2 of 20 samples (10 %), first at 0.0 s"), "{}", c.reason);
        let c = share(&samples(20, &[(20, "sw_power_cap")]));
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.reason);
        assert!(
            c.reason.contains("software power cap in 20 of 20"),
            "{}",
            c.reason
        );
        let c = share(&[]);
        assert_eq!(c.verdict, Verdict::Skipped, "{}", c.reason);
    }

    #[test]
    fn without_limits_the_limit_rules_report_and_the_others_still_fail() {
        let mut h = healthy();
        after(&mut h).ecc_corrected = counts(500);
        after(&mut h).pcie_replays = Reading::Value(5000);
        after(&mut h).retired_pages_sbe = Reading::Value(62);
        let checks = health_checks(None, &h, &samples(10, &[(10, "hw_slowdown")]), &[]);
        for name in [
            "ecc_corrected",
            "pcie_replays",
            "retired_memory",
            "hw_slowdown",
        ] {
            let c = find(&checks, name);
            assert_eq!(c.verdict, Verdict::Pass, "{name}: {}", c.reason);
            assert!(
                c.reason.contains("reported (the profile"),
                "{name}: {}",
                c.reason
            );
        }
        after(&mut h).ecc_uncorrected = counts(1);
        h.events.push(HealthEvent {
            gpu: 1,
            xid: 48,
            at_s: 4.0,
            interval: None,
        });
        let checks = health_checks(None, &h, &[], &[]);
        assert_eq!(find(&checks, "ecc_uncorrected").verdict, Verdict::Fail);
        assert_eq!(find(&checks, "xid").verdict, Verdict::Fail);
        assert_eq!(find(&checks, "retirement_pending").verdict, Verdict::Pass);
    }

    /// A trace of temperatures, one sample per second from 0 s.
    fn temps(t: &[u32]) -> Vec<TelemetryPoint> {
        t.iter()
            .enumerate()
            .map(|(i, &c)| TelemetryPoint {
                at_s: i as f64,
                sample: TelemetrySample {
                    temperature_c: Some(c),
                    ..TelemetrySample::default()
                },
            })
            .collect()
    }

    /// Three burn intervals on the run's clock: 0 from 1.0 s, 1 from 2.5 s, 2 from 4.0 s to
    /// 5.5 s.
    fn three_spans() -> Vec<Span> {
        [(0, 1.0, 2.4), (1, 2.5, 3.9), (2, 4.0, 5.5)]
            .map(|(index, from_s, to_s)| Span {
                index,
                from_s,
                to_s,
            })
            .to_vec()
    }

    type TempCase = (
        &'static str,
        Option<u32>,
        Option<Reading<u32>>,
        &'static [u32],
        bool,
        Option<Verdict>,
        &'static str,
    );

    /// (what, the profile's max_temperature_c, NVML's slowdown temperature, the trace (one a
    /// second), in a burn (three intervals), the verdict (None: no check), what it says)
    const TEMP_CASES: &[TempCase] = &[
        ("below the profile's limit", Some(85), Some(Reading::Value(92)), &[60, 84, 70], false,
         Some(Verdict::Pass), "GPU 1: peak 84 °C at 1.0 s, below the profile's limit of 85 °C"),
        ("at the profile's limit", Some(85), Some(Reading::Value(92)), &[60, 85, 90, 86], false,
         Some(Verdict::Fail),
         "GPU 1 reached 85 °C at 1.0 s, at or above the profile's limit of 85 °C (peak 90 °C at 2.0 s)"),
        ("the profile's limit over NVML's", Some(95), Some(Reading::Value(92)), &[60, 93], false,
         Some(Verdict::Pass), "below the profile's limit of 95 °C"),
        ("NVML's slowdown temperature without a profile limit", None, Some(Reading::Value(92)),
         &[60, 80, 92, 92], false, Some(Verdict::Fail),
         "GPU 1 reached 92 °C at 2.0 s, at or above its slowdown temperature of 92 °C (NVML) (peak 92 °C at 2.0 s)"),
        ("one below NVML's", None, Some(Reading::Value(92)), &[91], false, Some(Verdict::Pass),
         "peak 91 °C at 0.0 s, below its slowdown temperature of 92 °C (NVML)"),
        ("named with its burn interval", None, Some(Reading::Value(92)),
         &[60, 61, 70, 80, 92, 92], true, Some(Verdict::Fail),
         "GPU 1 reached 92 °C at 4.0 s, in burn interval 2, at or above"),
        ("no limit known", None,
         Some(Reading::NotAvailable(String::new())), &[99], false, Some(Verdict::Skipped),
         "not available: no temperature limit for GPU 1: the profile sets no max_temperature_c"),
        ("no temperature sampled", Some(85), None, &[], false, Some(Verdict::Skipped),
         "not available: no temperature was sampled on GPU 1"),
        ("a file from before schema 6: no limit recorded, no check", None, None, &[99], false,
         None, ""),
    ];

    #[test]
    fn the_temperature_rule_decides_its_cases() {
        for (what, max, nvml, trace, burn, verdict, says) in TEMP_CASES {
            let l = HealthLimits {
                max_temperature_c: *max,
                ..limits()
            };
            let h = GpuHealth {
                slowdown_temperature_c: nvml.clone(),
                ..healthy()
            };
            let spans = if *burn { three_spans() } else { Vec::new() };
            let checks = health_checks(Some(&l), &h, &temps(trace), &spans);
            let c = checks.iter().find(|c| c.id == "gpu1.health.temperature");
            assert_eq!(c.map(|c| c.verdict), *verdict, "{what}: {c:?}");
            let Some(c) = c else { continue };
            assert!(c.reason.contains(says), "{what}: {}", c.reason);
            assert_eq!(c.device, Some(1), "{what}");
            if c.verdict == Verdict::Fail {
                assert!(c.hint.contains("air flow"), "{what}: {}", c.hint);
            }
            let source = c.source.as_deref().unwrap();
            match (max, c.verdict) {
                (_, Verdict::Skipped) => {}
                (Some(_), _) => assert!(source.contains("max_temperature_c"), "{what}: {source}"),
                (None, _) => assert!(source.contains("NVML_TEMPERATURE_THRESHOLD_SLOWDOWN")),
            }
        }
        // Without any [health] limits (auto), NVML's slowdown temperature still applies.
        let checks = health_checks(None, &healthy(), &temps(&[92]), &[]);
        let c = find(&checks, "temperature");
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
    }

    /// In a burn, the slowdown's first sample is named with the interval it fell in.
    #[test]
    fn a_slowdown_in_a_burn_names_its_interval() {
        let trace: Vec<TelemetryPoint> = samples(6, &[])
            .into_iter()
            .map(|mut p| {
                if p.at_s >= 3.0 {
                    p.sample.throttle = vec!["hw_thermal_slowdown".into()];
                }
                p
            })
            .collect();
        let checks = health_checks(Some(&limits()), &healthy(), &trace, &three_spans());
        let c = find(&checks, "hw_slowdown");
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
        assert!(
            c.reason
                .contains("in 3 of 6 samples (50 %), first at 3.0 s, in burn interval 1"),
            "{}",
            c.reason
        );
    }

    proptest::proptest! {
        /// Whatever the trace and the limit: FAIL exactly when the hottest sample reaches the
        /// limit, and the check records that sample as observed.
        #[test]
        fn the_temperature_verdict_follows_the_peak(
            trace in proptest::collection::vec(20u32..110, 1..60),
            max in 60u32..100,
        ) {
            let l = HealthLimits { max_temperature_c: Some(max), ..limits() };
            let c = find(&health_checks(Some(&l), &healthy(), &temps(&trace), &[]), "temperature");
            let peak = *trace.iter().max().unwrap();
            let want = if peak >= max { Verdict::Fail } else { Verdict::Pass };
            proptest::prop_assert_eq!(c.verdict, want, "{}", c.reason);
            proptest::prop_assert_eq!(c.observed, Some(f64::from(peak)));
        }
    }

    proptest::proptest! {
        /// Whatever the trace: FAIL exactly when the share of samples with a slowdown or thermal
        /// reason is above the limit; a power cap alone never moves the verdict.
        #[test]
        fn the_slowdown_verdict_follows_the_share(
            n in 1usize..200,
            slow_frac in 0.0f64..=1.0,
            capped_frac in 0.0f64..=1.0,
            reason in proptest::sample::select(SLOWDOWN_REASONS.to_vec()),
            max in 0.0f64..=1.0,
        ) {
            let slow = ((n as f64) * slow_frac) as usize;
            let capped = ((n as f64) * capped_frac) as usize;
            let trace = samples(n, &[(slow, reason), (capped, "sw_power_cap")]);
            let l = HealthLimits { max_throttle_share: max, ..limits() };
            let c = find(&health_checks(Some(&l), &healthy(), &trace, &[]), "hw_slowdown");
            let want = if slow as f64 / n as f64 > max { Verdict::Fail } else { Verdict::Pass };
            proptest::prop_assert_eq!(c.verdict, want, "{}", c.reason);
        }
    }

    /// A burn-in records its one trace per GPU in each of its three lanes' results: the
    /// slowdown share counts each reading once ("2 of 20 samples", not "6 of 60").
    #[test]
    fn a_trace_shared_by_a_burns_lanes_counts_each_reading_once() {
        let path = "tests/fixtures/no-gpu-g2.large-quick.schema3.run.json";
        let text = include_str!("../../tests/fixtures/no-gpu-g2.large-quick.schema3.run.json");
        let mut r = crate::report::parse_run(text, std::path::Path::new(path)).unwrap();
        let lane = r.results[0].clone();
        r.results = (0..3)
            .map(|i| crate::model::WorkloadResult {
                id: format!("lane{i}"),
                device: Some(0),
                telemetry_trace: samples(20, &[(2, "hw_slowdown")]),
                ..lane.clone()
            })
            .collect();
        r.health = vec![GpuHealth {
            gpu: 0,
            ..healthy()
        }];
        let profile = crate::model::profile::Profile {
            health: Some(limits()),
            ..crate::gate::auto_profile(&r.gpus)
        };
        let mut drafts = Vec::new();
        run_health(&profile, &r, &mut drafts);
        let checks: Vec<Check> = drafts.into_iter().map(Draft::finish).collect();
        let c = checks
            .iter()
            .find(|c| c.id == "gpu0.health.hw_slowdown")
            .expect("the slowdown check");
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.reason);
        assert!(
            c.reason.contains("in 2 of 20 samples (10 %)"),
            "{}",
            c.reason
        );
    }
}
