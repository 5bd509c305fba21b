//! A GPU's burn as ordinary results: one [`WorkloadResult`] per lane (SGEMM, DGEMM, triad),
//! whose samples are the device seconds per launch of every round, so that the gate judges
//! the burn's throughput against the profile's targets as it judges an acceptance run's (and
//! the machine targets as the sum of GPUs loaded at once). Its verification is the lane's
//! reference checks and bit-for-bit comparisons: any SDC or failed check makes it wrong.

use crate::measure::{self, stats};
use crate::model::burn::GpuBurn;
use crate::model::{
    BackendKind, DeviceInfo, Measurement, Mismatch, Role, StopReason, Throughput, Verification,
    VerifyStatus, WorkloadResult,
};
use crate::probe::telemetry::summarize;

use super::load::{Lane, LANES};
use super::worker::{Finished, Settings};

/// The three results of one GPU's burn.
pub(crate) fn gpu_results(
    gpu: &DeviceInfo,
    done: &Finished,
    burn: &GpuBurn,
    s: &Settings,
    interrupted: bool,
) -> Vec<WorkloadResult> {
    LANES
        .iter()
        .zip(&done.samples)
        .map(|(lane, samples)| {
            let spec = lane.spec(s.gemm_size, s.triad_elements);
            let mut r = WorkloadResult {
                id: crate::run::result_id(Some(gpu.index), Role::Primary, &spec),
                backend: BackendKind::Cuda,
                device: Some(gpu.index),
                device_name: gpu.name.clone(),
                role: Role::Primary,
                spec,
                implementation: format!("gpugate burn-in ({} lane)", lane.name()),
                math_mode: None,
                work: spec.work(),
                measurement: measurement(&spec, samples, done.wall_s, interrupted),
                verification: verification(*lane, burn),
                error: done.error.clone(),
                telemetry: None,
                telemetry_trace: done.trace.clone(),
            };
            if !r.telemetry_trace.is_empty() {
                let samples: Vec<_> = r.telemetry_trace.iter().map(|p| p.sample.clone()).collect();
                r.telemetry = Some(summarize(&samples, None, None));
            }
            r
        })
        .collect()
}

/// The lane's samples as a measurement (None when no round ran).
fn measurement(
    spec: &crate::model::WorkloadSpec,
    samples: &[f64],
    wall_s: f64,
    interrupted: bool,
) -> Option<Measurement> {
    if samples.is_empty() {
        return None;
    }
    let valid = measure::valid_samples(samples);
    let summary = stats::summarize(&valid);
    let warnings = measure::invalid_time_warning(samples).into_iter().collect();
    Some(Measurement {
        samples: samples.to_vec(),
        iters_per_sample: 1,
        throughput: Throughput {
            unit: spec.throughput_unit().to_string(),
            median: spec.throughput(summary.median),
            best: spec.throughput(summary.min),
            worst: spec.throughput(summary.max),
        },
        summary,
        warmup_seconds: 0.0,
        total_seconds: wall_s,
        stop_reason: if interrupted {
            StopReason::Interrupted
        } else {
            StopReason::Timeout
        },
        warnings,
    })
}

/// The lane's reference checks and bit-for-bit comparisons as one verification.
fn verification(lane: Lane, burn: &GpuBurn) -> Verification {
    let prefix = format!("{} ", lane.name());
    let checks: Vec<_> = burn
        .freivalds
        .iter()
        .filter(|f| f.buffer.starts_with(&prefix))
        .collect();
    let sdc: Vec<_> = burn
        .sdc
        .iter()
        .filter(|e| e.buffer.starts_with(&prefix))
        .collect();
    let mut mismatches: Vec<Mismatch> = sdc
        .iter()
        .take(crate::verify::MAX_MISMATCHES)
        .map(|e| Mismatch {
            at: format!(
                "interval {}, {}, element {} (bits {}, the first result's {})",
                e.interval, e.buffer, e.element, e.found_bits, e.expected_bits
            ),
            expected: value_of(&e.expected_bits),
            got: value_of(&e.found_bits),
        })
        .collect();
    for f in checks.iter().filter(|f| !f.passed).take(3) {
        let m = f.first_mismatch.as_ref();
        mismatches.push(Mismatch {
            at: format!(
                "interval {}, {}, against the reference: {}",
                f.interval,
                f.buffer,
                m.map_or("no element recorded", |m| m.at.as_str())
            ),
            expected: m.map_or(f64::NAN, |m| m.expected),
            got: m.map_or(f64::NAN, |m| m.got),
        });
    }
    let ok = !checks.is_empty() && mismatches.is_empty();
    Verification {
        status: if checks.is_empty() {
            VerifyStatus::NotChecked
        } else if ok {
            VerifyStatus::Passed
        } else {
            VerifyStatus::Failed
        },
        method: format!(
            "every result compared bit for bit with the first; {} reference checks ({})",
            checks.len(),
            checks.first().map_or("none ran", |c| c.detail.as_str())
        ),
        max_error: if ok { 0.0 } else { f64::NAN },
        tolerance: 0.0,
        checked: checks.len() as u64,
        mismatches,
    }
}

/// The value of an element's bits as [`crate::verify::bits::hex_bits`] wrote them: an f32
/// for 4 bytes, an f64 for 8 (NaN for anything else).
fn value_of(hex: &str) -> f64 {
    let digits = hex.trim_start_matches("0x");
    match (u64::from_str_radix(digits, 16), digits.len()) {
        (Ok(b), 8) => f32::from_bits(b as u32) as f64,
        (Ok(b), 16) => f64::from_bits(b),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::bits::hex_bits;

    #[test]
    fn sdc_bits_read_back_as_their_values() {
        assert_eq!(value_of(&hex_bits(1.5f32.to_bits() as u64, 4)), 1.5);
        assert_eq!(value_of(&hex_bits((-2.25f64).to_bits(), 8)), -2.25);
        assert!(value_of("0x12").is_nan());
    }
}
