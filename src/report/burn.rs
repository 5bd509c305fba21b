//! The burn-in as the reports show it (`gpugate burn`): per GPU its ring and one row per
//! interval (throughput, launches, errors, SM clock, temperature, power, throttle reasons),
//! and the first SDC records, all as the run's `burn` section recorded them.

use crate::gate::burn::{alone_sum, together_sum};
use crate::gate::Metric;
use crate::model::burn::{BurnInterval, BurnSection, GpuBurn};
use crate::model::{RunReport, Verdict};
use crate::util::fmt_value;

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

/// The limits the burn was judged by, each with where it came from (said once where the two
/// come from the same place, as a profile's `[burn]` block gives one source for both).
pub fn limits_line(b: &BurnSection) -> String {
    let drift = b
        .max_drift
        .unwrap_or(crate::gate::burn_drift::DEFAULT_MAX_DRIFT);
    let drift_source = b
        .drift_source
        .as_deref()
        .unwrap_or(crate::gate::burn_drift::DEFAULT_DRIFT_SOURCE);
    let duration = b
        .duration_source
        .as_deref()
        .unwrap_or("the run (not recorded)");
    let drift_rule = format!(
        "Drift: a fall of at most {:.0} % from the first minute to the last",
        drift * 100.0
    );
    let share_rule = format!(
        "Within the machine: every GPU at least {:.0} % of the best",
        (1.0 - b.within_machine_share) * 100.0
    );
    if drift_source == b.within_machine_source {
        format!(
            "Duration from {duration}. {drift_rule}. {share_rule}. Source of both: {drift_source}."
        )
    } else {
        format!(
            "Duration from {duration}. {drift_rule} ({drift_source}). {share_rule} ({}).",
            b.within_machine_source
        )
    }
}

/// What the Burn-in section says of the load: what it was asked for, or, where no GPU could be
/// loaded, that none was (the failing checks say why).
pub fn load_line(b: &BurnSection) -> String {
    let asked = format!(
        "{} s in intervals of {} s; GEMMs of {}, triad arrays of {} elements, ring buffers in \
         {:.0} % of each GPU's free memory",
        b.duration_s,
        b.interval_s,
        b.gemm_size,
        b.triad_elements,
        b.memory_share * 100.0
    );
    if b.gpus.is_empty() {
        format!("No GPU was loaded (the failing checks above say why). Asked for: {asked}.")
    } else {
        format!("{INTRO} {asked}.")
    }
}

/// What the machine table says before it.
pub const MACHINE_INTRO: &str = "The machine as one: per metric, the sum of what each GPU \
    reached alone (the solo phase before the load, information), the machine's total with \
    every GPU loaded at once (what the machine targets judge), their ratio, and the machine's \
    pass line where the profile has one.";

/// The columns of the machine table.
pub const MACHINE_COLUMNS: [&str; 5] = [
    "metric",
    "each GPU alone, summed",
    "all GPUs at once",
    "together / alone",
    "machine line",
];

/// The machine table's rows (two GPUs or more; none for one), each with the verdict of the
/// machine's check of the metric where there is one.
pub fn machine_rows(r: &RunReport) -> Vec<([String; 5], Option<Verdict>)> {
    let Some(b) = &r.burn else {
        return Vec::new();
    };
    if r.gpus.len() < 2 {
        return Vec::new();
    }
    let metrics = [Metric::Fp32Gemm, Metric::Fp64Gemm, Metric::StreamTriad];
    metrics
        .iter()
        .map(|&m| {
            let unit = m.unit();
            let value = |v: Option<f64>| {
                v.map_or("-".to_string(), |v| {
                    format!("{} {unit}", fmt_value(v, unit))
                })
            };
            let (alone, together) = (alone_sum(r, b, m), together_sum(r, m));
            let check = r
                .checks
                .iter()
                .find(|c| c.id == format!("machine.{}", m.as_str()));
            let ratio = match (alone, together) {
                (Some(a), Some(t)) if a > 0.0 => format!("{:.1} %", t / a * 100.0),
                _ => "-".to_string(),
            };
            let cells = [
                m.as_str().to_string(),
                value(alone),
                value(together),
                ratio,
                value(check.and_then(|c| c.required)),
            ];
            (cells, check.map(|c| c.verdict))
        })
        .collect()
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

    /// The sample run as a two-GPU burn: GPU 1 a copy of GPU 0, each alone 10 % faster than
    /// together; decided against the G2.2xlarge's burn targets.
    fn two_gpu_burn() -> RunReport {
        use crate::model::burn::SoloRun;
        let mut r = crate::report::tests::sample_report();
        let mut g1 = r.gpus[0].clone();
        g1.index = 1;
        r.gpus.push(g1);
        let copies: Vec<_> = r
            .results
            .iter()
            .filter(|w| w.device == Some(0))
            .map(|w| {
                let mut c = w.clone();
                c.device = Some(1);
                c.id = c.id.replacen("gpu0.", "gpu1.", 1);
                c
            })
            .collect();
        r.results.extend(copies);
        let median = |m: Metric| together_sum(&r, m).unwrap() / 2.0;
        let solo = |device| SoloRun {
            device,
            duration_s: 10.0,
            rounds: 12,
            fp32_tflops: median(Metric::Fp32Gemm) * 1.1,
            fp64_tflops: median(Metric::Fp64Gemm) * 1.1,
            triad_gbps: f64::NAN,
        };
        let solo = vec![solo(0), solo(1)];
        r.burn = Some(BurnSection {
            duration_s: 60.0,
            interval_s: 10.0,
            gemm_size: 4096,
            triad_elements: 1 << 20,
            memory_share: 0.5,
            within_machine_share: 0.1,
            within_machine_source: "test".into(),
            max_drift: None,
            drift_source: None,
            duration_source: None,
            gpus: Vec::new(),
            solo,
        });
        let p = crate::run::burn::burn_profile(crate::gate::load_profile("g2.2xlarge").unwrap().0);
        r.checks = crate::gate::evaluate(&p, &r);
        r
    }

    #[test]
    fn the_machine_table_sets_alone_beside_together() {
        let r = two_gpu_burn();
        let rows = machine_rows(&r);
        let text: Vec<String> = rows
            .iter()
            .map(|(c, v)| format!("{} | {v:?}", c.join(" | ")))
            .collect();
        // The sample's DGEMMs gave wrong results: measured together, but their speed cannot
        // count for the machine's check.
        assert_eq!(
            text,
            [
                "fp32_gemm | 10.71 TFLOPS | 9.74 TFLOPS | 90.9 % | 8.40 TFLOPS | Some(Pass)",
                "fp64_gemm | 0.43 TFLOPS | 0.39 TFLOPS | 90.9 % | 0.30 TFLOPS | Some(Fail)",
                "stream_triad | - | 458.8 GB/s | - | 403.2 GB/s | Some(Pass)",
            ]
        );
        use crate::report::Reporter;
        let md = crate::report::markdown::Markdown.render(&r);
        let at = md
            .find(MACHINE_INTRO)
            .expect("the machine table's paragraph");
        assert!(
            md[at..].contains(
                "| metric | each GPU alone, summed | all GPUs at once | together / alone | \
                 machine line |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| fp32_gemm | 10.71 TFLOPS | 9.74 TFLOPS | 90.9 % |"),
            "{md}"
        );
        let mut one = r.clone();
        one.gpus.truncate(1);
        assert!(machine_rows(&one).is_empty(), "one GPU: no machine table");
    }

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

    fn section(drift_source: &str, share_source: &str, gpus: Vec<GpuBurn>) -> BurnSection {
        BurnSection {
            duration_s: 120.0,
            interval_s: 10.0,
            gemm_size: 1024,
            triad_elements: 1 << 20,
            memory_share: 0.9,
            within_machine_share: 0.1,
            within_machine_source: share_source.into(),
            max_drift: Some(0.15),
            drift_source: Some(drift_source.into()),
            duration_source: Some("profile [burn] quick_duration_s".into()),
            gpus,
            solo: Vec::new(),
        }
    }

    #[test]
    fn the_limits_name_a_shared_source_once_and_separate_sources_each() {
        assert_eq!(
            limits_line(&section("profile [burn]: S", "profile [burn]: S", vec![])),
            "Duration from profile [burn] quick_duration_s. Drift: a fall of at most 15 % from \
             the first minute to the last. Within the machine: every GPU at least 90 % of the \
             best. Source of both: profile [burn]: S."
        );
        assert_eq!(
            limits_line(&section("D", "W", vec![])),
            "Duration from profile [burn] quick_duration_s. Drift: a fall of at most 15 % from \
             the first minute to the last (D). Within the machine: every GPU at least 90 % of \
             the best (W)."
        );
    }

    #[test]
    fn a_burn_that_loaded_no_gpu_says_so_instead_of_describing_a_load() {
        let none = load_line(&section("D", "W", vec![]));
        assert!(none.starts_with("No GPU was loaded"), "{none}");
        assert!(!none.contains(INTRO), "{none}");
        assert!(none.contains("120 s in intervals of 10 s"), "{none}");
        let one = load_line(&section("D", "W", vec![GpuBurn::default()]));
        assert!(one.starts_with(INTRO), "{one}");
        assert!(
            one.ends_with("ring buffers in 90 % of each GPU's free memory."),
            "{one}"
        );
    }
}
