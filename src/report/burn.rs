//! The burn-in as the reports show it (`gpugate burn`): per GPU its ring and one row per
//! interval (throughput, launches, errors, SM clock, temperature, power, throttle reasons),
//! and the first SDC records, all as the run's `burn` section recorded them.

use crate::model::burn::{BurnInterval, BurnSection, GpuBurn};
use crate::model::RunReport;

/// What the Burn-in section says before its tables.
pub const INTRO: &str = "Every GPU loaded at once, interval by interval: throughput from the \
    device time of the interval's launches, errors = elements that differed, bit for bit, from \
    the first result of the same inputs. NVML's readings are the interval's median SM clock, \
    highest temperature and median power.";

/// The columns of an interval row.
pub const COLUMNS: [&str; 10] = [
    "interval",
    "from s",
    "to s",
    "FP32 TFLOPS",
    "FP64 TFLOPS",
    "triad GB/s",
    "launches",
    "errors",
    "SM MHz · °C · W",
    "throttle",
];

/// The limits the burn was judged by, each with where it came from.
pub fn limits_line(b: &BurnSection) -> String {
    let drift = b
        .max_drift
        .unwrap_or(crate::gate::burn_drift::DEFAULT_MAX_DRIFT);
    format!(
        "Duration from {}. Drift: a fall of at most {:.0} % from the first minute to the last \
         ({}). Within the machine: every GPU at least {:.0} % of the best ({}).",
        b.duration_source
            .as_deref()
            .unwrap_or("the run (not recorded)"),
        drift * 100.0,
        b.drift_source
            .as_deref()
            .unwrap_or(crate::gate::burn_drift::DEFAULT_DRIFT_SOURCE),
        (1.0 - b.within_machine_share) * 100.0,
        b.within_machine_source
    )
}

/// The paragraph above a GPU's table: its ring, and why its load stopped, if it did.
pub fn gpu_summary(g: &GpuBurn) -> String {
    let mut s = format!(
        "gpu{}: a ring of {} set(s) ({:.1} MB), {} interval(s), {} element(s) differed",
        g.device,
        g.ring_sets,
        g.ring_bytes as f64 / 1e6,
        g.intervals.len(),
        g.sdc_count
    );
    if let Some(e) = &g.error {
        s.push_str(&format!("; the load stopped: {e}"));
    }
    s
}

/// One interval's cells, in [`COLUMNS`] order.
pub fn interval_cells(i: &BurnInterval) -> Vec<String> {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    vec![
        i.index.to_string(),
        format!("{:.1}", i.t_start_s),
        format!("{:.1}", i.t_end_s),
        format!("{:.2}", i.fp32_tflops),
        format!("{:.3}", i.fp64_tflops),
        format!("{:.1}", i.triad_gbps),
        i.launches.to_string(),
        i.errors.to_string(),
        format!(
            "{} · {} · {}",
            opt(i.sm_clock_mhz),
            opt(i.temperature_c.map(f64::from)),
            opt(i.power_w)
        ),
        if i.throttle_reasons.is_empty() {
            "-".to_string()
        } else {
            i.throttle_reasons.join(", ")
        },
    ]
}

/// The first SDC records of every GPU, one line each.
pub fn sdc_lines(r: &RunReport) -> Vec<String> {
    let Some(b) = &r.burn else {
        return Vec::new();
    };
    b.gpus
        .iter()
        .flat_map(|g| {
            g.sdc.iter().map(move |e| {
                format!(
                    "gpu{}: interval {}, {}, element {}: expected bits {}, found {}",
                    g.device, e.interval, e.buffer, e.element, e.expected_bits, e.found_bits
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_reads_as_its_numbers() {
        let i = BurnInterval {
            index: 3,
            t_start_s: 30.0,
            t_end_s: 40.04,
            fp32_tflops: 4.7196,
            fp64_tflops: 0.1923,
            triad_gbps: 229.31,
            launches: 120,
            errors: 2,
            sm_clock_mhz: Some(1114.0),
            temperature_c: Some(64),
            power_w: None,
            throttle_reasons: vec!["sw_thermal".into()],
            ..BurnInterval::default()
        };
        assert_eq!(
            interval_cells(&i),
            [
                "3",
                "30.0",
                "40.0",
                "4.72",
                "0.192",
                "229.3",
                "120",
                "2",
                "1114 · 64 · -",
                "sw_thermal"
            ]
        );
        let g = GpuBurn {
            device: 1,
            ring_sets: 2,
            ring_bytes: 86_000_000,
            intervals: vec![i],
            sdc_count: 2,
            error: Some("CUDA_ERROR_ECC_UNCORRECTABLE".into()),
            ..GpuBurn::default()
        };
        assert_eq!(
            gpu_summary(&g),
            "gpu1: a ring of 2 set(s) (86.0 MB), 1 interval(s), 2 element(s) differed; the \
             load stopped: CUDA_ERROR_ECC_UNCORRECTABLE"
        );
    }
}
