//! The GPUs' health as the reports show it: each counter before and after the run per GPU, the
//! Xid events, and the health checks that failed, first. Only what the run recorded
//! (`RunReport::health`) and the gate decided (`gpuN.health.*` checks); a reading the driver
//! did not give is shown as "not available" with its reason.

use crate::model::health::{GpuHealth, HealthSnapshot, Reading};
use crate::model::{Check, RunReport, Verdict};

/// What the Health section says before its table.
pub const INTRO: &str = "Health counters read through NVML when the run started and when it \
    ended, per GPU, and the Xid events the driver reported in between (times in seconds since \
    the run started). ECC counts are since the driver loaded (volatile) and over the board's \
    life (aggregate).";

/// The columns of the table.
pub const COLUMNS: [&str; 4] = ["GPU", "Counter", "Before", "After"];

/// The health checks that did not pass, failures first.
pub fn failing(r: &RunReport) -> Vec<&Check> {
    let mut v: Vec<&Check> = r
        .checks
        .iter()
        .filter(|c| c.id.contains(".health.") && c.verdict != Verdict::Pass)
        .collect();
    v.sort_by_key(|c| c.verdict != Verdict::Fail);
    v
}

fn text<T: std::fmt::Display>(r: &Reading<T>) -> String {
    r.to_string()
}

fn flag(r: &Reading<bool>) -> String {
    match r {
        Reading::Value(true) => "yes".into(),
        Reading::Value(false) => "no".into(),
        other => other.to_string(),
    }
}

/// (counter, its text in a snapshot), in the table's order.
type Counter = (&'static str, fn(&HealthSnapshot) -> String);

const COUNTERS: &[Counter] = &[
    ("ECC mode", |s| match s.ecc_enabled {
        Reading::Value(on) => (if on { "on" } else { "off" }).into(),
        ref other => other.to_string(),
    }),
    ("Uncorrectable ECC, volatile", |s| {
        text(&s.ecc_uncorrected.volatile)
    }),
    ("Uncorrectable ECC, aggregate", |s| {
        text(&s.ecc_uncorrected.aggregate)
    }),
    ("Corrected ECC, volatile", |s| {
        text(&s.ecc_corrected.volatile)
    }),
    ("Corrected ECC, aggregate", |s| {
        text(&s.ecc_corrected.aggregate)
    }),
    ("Retired pages, single-bit", |s| text(&s.retired_pages_sbe)),
    ("Retired pages, double-bit", |s| text(&s.retired_pages_dbe)),
    ("Retirement pending", |s| flag(&s.retirement_pending)),
    ("Remapped rows, correctable", |s| {
        text(&s.remapped_rows_correctable)
    }),
    ("Remapped rows, uncorrectable", |s| {
        text(&s.remapped_rows_uncorrectable)
    }),
    ("Row remap pending", |s| flag(&s.remap_pending)),
    ("Row remap failure", |s| flag(&s.remap_failure)),
    ("PCIe replays", |s| text(&s.pcie_replays)),
    ("Read at (s)", |s| format!("{:.1}", s.at_s)),
];

/// One GPU's rows: every counter before and after, then its Xid events.
fn gpu_rows(h: &GpuHealth) -> Vec<[String; 4]> {
    let missing = || match &h.note {
        Some(n) => format!("not read ({n})"),
        None => "not read".to_string(),
    };
    let mut rows: Vec<[String; 4]> = COUNTERS
        .iter()
        .map(|(name, f)| {
            [
                format!("gpu{}", h.gpu),
                name.to_string(),
                h.before.as_ref().map_or_else(missing, f),
                h.after.as_ref().map_or_else(missing, f),
            ]
        })
        .collect();
    let events = match (&h.events_unwatched, h.events.is_empty()) {
        (Some(why), true) => format!("not watched ({why})"),
        (_, true) => "none".to_string(),
        _ => h
            .events
            .iter()
            .map(|e| format!("Xid {} at {:.1} s", e.xid, e.at_s))
            .collect::<Vec<_>>()
            .join(", "),
    };
    rows.push([
        format!("gpu{}", h.gpu),
        "Xid events during the run".into(),
        String::new(),
        events,
    ]);
    rows
}

/// Every GPU's rows, in the order the run recorded them, each GPU's followed by its
/// temperature against its limit where the gate judged one ([`temperature_limit`]).
pub fn health_rows(r: &RunReport) -> Vec<[String; 4]> {
    r.health
        .iter()
        .flat_map(|h| {
            let mut rows = gpu_rows(h);
            if let Some(limit) = temperature_limit(r, h.gpu) {
                let peak = temperature_check(r, h.gpu)
                    .and_then(|c| c.observed)
                    .map_or("no temperature sampled".to_string(), |t| {
                        format!("peak {t:.0} °C")
                    });
                rows.push([
                    format!("gpu{}", h.gpu),
                    "Temperature: peak, and its limit".into(),
                    String::new(),
                    format!("{peak}; limit {limit}"),
                ]);
            }
            rows
        })
        .collect()
}

/// GPU `gpu`'s temperature check, if the gate made one.
pub(crate) fn temperature_check(r: &RunReport, gpu: u32) -> Option<&Check> {
    let id = format!("gpu{gpu}.health.temperature");
    r.checks.iter().find(|c| c.id == id)
}

/// "92 °C (the GPU's slowdown temperature, NVML)": the limit GPU `gpu`'s
/// temperature check was judged against (`Check::required`) and whose it is (the recorded
/// profile's `max_temperature_c`, else the GPU's own); None where no limit was judged. Shown
/// beside the temperature in the health table and the burn-in's GPU line.
pub fn temperature_limit(r: &RunReport, gpu: u32) -> Option<String> {
    let limit = temperature_check(r, gpu)?.required?;
    let profile = r.profile.health.as_ref().and_then(|h| h.max_temperature_c);
    let whose = match profile {
        Some(_) => "the profile's max_temperature_c",
        None => "the GPU's slowdown temperature, NVML",
    };
    Some(format!("{limit:.0} °C ({whose})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::{EccCounts, HealthEvent};

    fn snap(at_s: f64, dbe: u64) -> HealthSnapshot {
        let na = || Reading::NotAvailable("not supported on this GPU".to_string());
        HealthSnapshot {
            at_s,
            ecc_enabled: Reading::Value(true),
            ecc_corrected: EccCounts {
                volatile: Reading::Value(0),
                aggregate: Reading::Value(0),
            },
            ecc_uncorrected: EccCounts {
                volatile: Reading::Value(dbe),
                aggregate: Reading::Value(dbe),
            },
            retired_pages_sbe: Reading::Value(0),
            retired_pages_dbe: Reading::Value(dbe as u32),
            retirement_pending: Reading::Value(dbe > 0),
            remapped_rows_correctable: na(),
            remapped_rows_uncorrectable: na(),
            remap_pending: Reading::NotAvailable("not supported on this GPU".to_string()),
            remap_failure: Reading::NotAvailable("not supported on this GPU".to_string()),
            pcie_replays: Reading::Value(0),
        }
    }

    /// The temperature row: the peak and the limit the check recorded, and whose limit it
    /// is (the recorded profile's, else the GPU's NVML slowdown temperature); none without
    /// a judged limit.
    #[test]
    fn the_temperature_row_shows_the_peak_beside_the_limit() {
        let mut r = crate::report::tests::sample_report();
        let row = |r: &RunReport| {
            health_rows(r)
                .into_iter()
                .find(|row| row[1].starts_with("Temperature"))
                .map(|row| row[3].clone())
        };
        // The sample sampled no temperature: its check is SKIPPED, with the limit it had.
        let nvml = "limit 92 °C (the GPU's slowdown temperature, NVML)";
        assert_eq!(
            row(&r).as_deref(),
            Some(format!("no temperature sampled; {nvml}").as_str())
        );
        let c = r
            .checks
            .iter_mut()
            .find(|c| c.id == "gpu0.health.temperature")
            .expect("the sample's temperature check");
        c.observed = Some(64.0);
        assert_eq!(
            row(&r).as_deref(),
            Some(format!("peak 64 °C; {nvml}").as_str())
        );
        r.profile.health.as_mut().unwrap().max_temperature_c = Some(85);
        let c = r
            .checks
            .iter_mut()
            .find(|c| c.id == "gpu0.health.temperature")
            .unwrap();
        c.required = Some(85.0);
        assert_eq!(
            temperature_limit(&r, 0).as_deref(),
            Some("85 °C (the profile's max_temperature_c)")
        );
        r.checks.retain(|c| c.id != "gpu0.health.temperature");
        assert_eq!(row(&r), None);
        assert_eq!(temperature_limit(&r, 0), None);
    }

    #[test]
    fn rows_show_before_after_not_available_and_events() {
        let h = GpuHealth {
            gpu: 0,
            before: Some(snap(0.2, 0)),
            after: Some(snap(9.0, 1)),
            events: vec![HealthEvent {
                gpu: 0,
                xid: 48,
                at_s: 3.25,
                interval: None,
            }],
            events_unwatched: None,
            note: None,
            slowdown_temperature_c: None,
        };
        let rows = gpu_rows(&h);
        let row = |name: &str| rows.iter().find(|r| r[1] == name).unwrap().clone();
        assert_eq!(row("Uncorrectable ECC, volatile")[2..], ["0", "1"]);
        assert_eq!(row("Retirement pending")[2..], ["no", "yes"]);
        assert_eq!(
            row("Remapped rows, correctable")[3],
            "not available (not supported on this GPU)"
        );
        assert_eq!(row("Xid events during the run")[3], "Xid 48 at 3.2 s");
        let unread = GpuHealth {
            before: None,
            after: None,
            events: Vec::new(),
            events_unwatched: Some("NVML could not be used".into()),
            note: Some("NVML not available: libnvidia-ml.so.1 was not found".into()),
            ..h
        };
        let rows = gpu_rows(&unread);
        assert!(
            rows[1][2].starts_with("not read (NVML not available"),
            "{rows:?}"
        );
        assert_eq!(
            rows.last().unwrap()[3],
            "not watched (NVML could not be used)"
        );
    }
}
