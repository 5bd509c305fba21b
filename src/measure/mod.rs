//! The sampler: warm-up, batching of short kernels, adaptive stopping on measured noise with a
//! timeout, and warnings for noise, drift and outliers. It never prints: progress goes to a
//! callback.

pub mod floor;
pub mod stats;
pub mod tune;

use std::time::Instant;

use crate::model::{Level, Measurement, MeasurementWarning, StopReason, Summary, Throughput};
use crate::workload::{Trial, WorkloadError, WorkloadSpec};

/// When to stop sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppingCriterion {
    pub min_samples: usize,
    pub max_samples: usize,
    /// Minimum wall time spent sampling, seconds.
    pub min_time: f64,
    /// Hard limit on wall time spent sampling (the timeout), seconds.
    pub max_time: f64,
    /// Stop once stddev/mean falls below this (after min_samples and min_time).
    pub target_rel_noise: f64,
    /// Batch iterations so each sample lasts at least this long (device time), seconds…
    pub min_sample_time: f64,
    /// …but never batch so many that one sample takes longer than this on the wall clock,
    /// seconds. On a GPU a batch's wall time is about its device time, so this never binds;
    /// where the host is far slower than the device claims to be (a launch-bound kernel, a
    /// simulated GPU) it keeps samples short instead of batching thousands of launches.
    pub max_sample_wall: f64,
    /// Wall time spent warming up before sampling, seconds.
    pub warmup_time: f64,
}

/// The sampling times a user set in place of the level's (`gpugate run --min-time`,
/// `--timeout`), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SamplingOverrides {
    pub min_time: Option<f64>,
    pub max_time: Option<f64>,
}

impl SamplingOverrides {
    /// Whether the user set anything.
    pub fn any(&self) -> bool {
        self.min_time.is_some() || self.max_time.is_some()
    }
}

impl StoppingCriterion {
    /// The level's criterion with the user's sampling times in place of its own: a shorter
    /// least time also shortens the warm-up to at most that long, and each sample's wall time
    /// to at most a tenth of it (so the least number of samples fits in it where the host is
    /// slower than the device claims; on a GPU a sample's wall time is its device time).
    pub fn for_level_with(level: Level, o: SamplingOverrides) -> Self {
        let mut c = Self::for_level(level);
        if let Some(t) = o.min_time {
            c.min_time = t;
            c.warmup_time = c.warmup_time.min(t);
            c.max_sample_wall = c.max_sample_wall.min(t / c.min_samples as f64);
        }
        if let Some(t) = o.max_time {
            c.max_time = t;
        }
        c
    }

    /// The criterion of a run level: at least 10 samples and 0.5 s, 0.5 % noise target, and a
    /// timeout that grows with the level.
    pub fn for_level(level: Level) -> Self {
        let max_time = match level {
            Level::Quick => 1.0,
            Level::Standard => 5.0,
            Level::Full => 15.0,
        };
        StoppingCriterion {
            min_samples: 10,
            max_samples: 10_000,
            min_time: 0.5,
            max_time,
            target_rel_noise: 0.005,
            // Kernels shorter than 1 ms are batched; 1 ms samples keep event resolution
            // (~0.5 µs) and launch overhead far below the noise target.
            min_sample_time: 1e-3,
            max_sample_wall: 0.05,
            warmup_time: 0.1,
        }
    }
}

/// Progress of one measurement, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleProgress {
    pub samples: usize,
    pub elapsed: f64,
    pub rel_noise: f64,
}

/// Warnings worth a reader's attention ([`MeasurementWarning`]). The sampler does not know what
/// it timed, so its warnings say only what the samples show; the run marks a GPU result's noise
/// and drift as on a GPU, whose text then names the likely causes (see `run::gpu_warning`),
/// never a host CPU's.
pub const NOISY_REL_STDDEV: f64 = 0.05;
pub const DRIFT_WARNING: f64 = 0.05;
pub const SPREAD_WARNING: f64 = 1.5;

/// Runs `trial` until the criterion is met and returns the measurement.
pub fn measure(
    trial: &mut dyn Trial,
    spec: &WorkloadSpec,
    crit: &StoppingCriterion,
    progress: &mut dyn FnMut(SampleProgress),
) -> Result<Measurement, WorkloadError> {
    measure_until(trial, spec, crit, progress, &|| false)
}

/// [`measure`], stopping early (after at least one sample, with [`StopReason::Interrupted`]
/// and a warning) as soon as `stop` says so: it is asked after every warm-up batch and every
/// sample, each of which lasts at most about `crit.max_sample_wall` unless a single launch
/// is longer.
pub fn measure_until(
    trial: &mut dyn Trial,
    spec: &WorkloadSpec,
    crit: &StoppingCriterion,
    progress: &mut dyn FnMut(SampleProgress),
    stop: &dyn Fn() -> bool,
) -> Result<Measurement, WorkloadError> {
    let start = Instant::now();
    let iters = warm_up(trial, crit, stop, start)?;
    let warmup_seconds = start.elapsed().as_secs_f64();

    let sampling = Instant::now();
    let (samples, stop_reason) = sample(trial, iters, crit, progress, stop, sampling)?;
    // A device time of zero or less (or not a number) is never a sample: it is kept in
    // `samples` as it came, said in the warnings, and left out of everything computed from them.
    let valid = valid_samples(&samples);
    let summary = stats::summarize(&valid);
    let mut warnings = invalid_time_warning(&samples)
        .into_iter()
        .collect::<Vec<_>>();
    warnings.extend(self::warnings(
        &valid,
        samples.len(),
        &summary,
        stop_reason,
        crit,
        sampling,
    ));
    let throughput = Throughput {
        unit: spec.throughput_unit().to_string(),
        median: spec.throughput(summary.median),
        best: spec.throughput(summary.min),
        worst: spec.throughput(summary.max),
    };
    Ok(Measurement {
        samples,
        iters_per_sample: iters,
        summary,
        throughput,
        warmup_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
        stop_reason,
        warnings,
    })
}

/// Warm-up: the first launch, then until `crit.warmup_time` has passed since `start`;
/// calibrates the batch size on device time, bounded by wall time, and returns it.
fn warm_up(
    trial: &mut dyn Trial,
    crit: &StoppingCriterion,
    stop: &dyn Fn() -> bool,
    start: Instant,
) -> Result<u64, WorkloadError> {
    // A time that is not a valid sample (zero, negative, not a number) calibrates as 1 ns:
    // the wall-time bound then keeps the batch short.
    let calibrate = |t: f64| if valid_time(t) { t.max(1e-9) } else { 1e-9 };
    let mut per_iter = calibrate(trial.run(1)?);
    let mut per_iter_wall = start.elapsed().as_secs_f64();
    while start.elapsed().as_secs_f64() < crit.warmup_time && !stop() {
        let iters = batch_size(per_iter, per_iter_wall, crit);
        let t0 = Instant::now();
        per_iter = calibrate(trial.run(iters)? / iters as f64);
        per_iter_wall = t0.elapsed().as_secs_f64() / iters as f64;
    }
    Ok(batch_size(per_iter, per_iter_wall, crit))
}

/// Samples of `iters` iterations each (seconds per iteration), from `sampling` on, until the
/// criterion says stop or `stop` does; returns them with the reason sampling stopped.
fn sample(
    trial: &mut dyn Trial,
    iters: u64,
    crit: &StoppingCriterion,
    progress: &mut dyn FnMut(SampleProgress),
    stop: &dyn Fn() -> bool,
    sampling: Instant,
) -> Result<(Vec<f64>, StopReason), WorkloadError> {
    let mut samples = Vec::new();
    let mut running = stats::Running::default();
    let stop_reason = loop {
        let t = trial.run(iters)? / iters as f64;
        samples.push(t);
        if valid_time(t) {
            running.push(t);
        }
        let elapsed = sampling.elapsed().as_secs_f64();
        let rel_noise = running.rel_stddev();
        progress(SampleProgress {
            samples: samples.len(),
            elapsed,
            rel_noise,
        });
        if running.n() >= crit.min_samples
            && elapsed >= crit.min_time
            && rel_noise < crit.target_rel_noise
        {
            break StopReason::Converged;
        }
        if samples.len() >= crit.max_samples {
            break StopReason::MaxSamples;
        }
        if stop() {
            break StopReason::Interrupted;
        }
        // The timeout may cut below min_samples only for very slow workloads (keep >= 3).
        if elapsed >= crit.max_time && samples.len() >= crit.min_samples.min(3) {
            break StopReason::Timeout;
        }
    };
    Ok((samples, stop_reason))
}

/// Whether a device time (seconds) can be a sample: a finite number above zero.
pub fn valid_time(t: f64) -> bool {
    t.is_finite() && t > 0.0
}

/// The samples that are valid device times ([`valid_time`]), in order.
pub fn valid_samples(samples: &[f64]) -> Vec<f64> {
    samples.iter().copied().filter(|t| valid_time(*t)).collect()
}

/// The warning about the samples whose device time is zero, negative or not a number, if any:
/// how many, and whether they were all exactly zero.
pub fn invalid_time_warning(samples: &[f64]) -> Option<MeasurementWarning> {
    let n = samples.len();
    let bad = n - valid_samples(samples).len();
    (bad > 0).then(|| MeasurementWarning::InvalidTime {
        invalid: bad,
        samples: n,
        all_zero: samples.iter().filter(|t| **t == 0.0).count() == bad,
    })
}

/// What the (valid) samples show that a reader should know: an interruption, a timeout,
/// noise, drift and spread. `taken` counts every sample taken, valid or not; `sampling` is when
/// sampling began. Without a valid sample there is no noise to speak of: only an interruption.
fn warnings(
    samples: &[f64],
    taken: usize,
    summary: &Summary,
    stop_reason: StopReason,
    crit: &StoppingCriterion,
    sampling: Instant,
) -> Vec<MeasurementWarning> {
    let mut warnings = Vec::new();
    if stop_reason == StopReason::Interrupted {
        warnings.push(MeasurementWarning::Interrupted {
            samples: taken,
            seconds: sampling.elapsed().as_secs_f64(),
        });
    }
    if summary.n == 0 {
        return warnings;
    }
    if stop_reason == StopReason::Timeout && summary.n < crit.min_samples {
        // Too slow for the samples wanted, whatever the noise: say that, not "noise".
        warnings.push(MeasurementWarning::TooFewSamples {
            samples: summary.n,
            wanted: crit.min_samples,
            timeout_s: crit.max_time,
            rel_stddev: summary.rel_stddev,
        });
    } else if stop_reason == StopReason::Timeout {
        warnings.push(MeasurementWarning::NoiseNotReached {
            target: crit.target_rel_noise,
            timeout_s: crit.max_time,
            rel_stddev: summary.rel_stddev,
            samples: summary.n,
        });
    }
    if summary.rel_stddev > NOISY_REL_STDDEV {
        warnings.push(MeasurementWarning::Noisy {
            rel_stddev: summary.rel_stddev,
            limit: NOISY_REL_STDDEV,
            on_gpu: false,
        });
    }
    if let Some(d) = stats::drift(samples) {
        if d > DRIFT_WARNING {
            warnings.push(MeasurementWarning::Drift {
                slowdown: d,
                on_gpu: false,
            });
        }
    }
    if summary.max / summary.min > SPREAD_WARNING {
        warnings.push(MeasurementWarning::Spread {
            ratio: summary.max / summary.min,
        });
    }
    warnings
}

/// Iterations per sample: enough that one sample lasts at least `crit.min_sample_time` of
/// device time (`per_iter` seconds each), but not so many that it takes longer than
/// `crit.max_sample_wall` on the wall clock (`per_iter_wall` seconds each); at least 1.
pub fn batch_size(per_iter: f64, per_iter_wall: f64, crit: &StoppingCriterion) -> u64 {
    let by_device = if per_iter >= crit.min_sample_time {
        1
    } else {
        ((crit.min_sample_time / per_iter).ceil() as u64).clamp(1, 1_000_000)
    };
    let by_wall = if per_iter_wall > 0.0 {
        ((crit.max_sample_wall / per_iter_wall).floor() as u64).max(1)
    } else {
        u64::MAX
    };
    by_device.min(by_wall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verification;
    use crate::workload::{Precision, TrialInfo};

    /// A trial whose "device time" is scripted, so the sampler is tested without noise.
    struct Scripted {
        per_iter: Box<dyn FnMut(usize) -> f64>,
        calls: usize,
        sleep: f64,
    }

    impl Trial for Scripted {
        fn info(&self) -> TrialInfo {
            TrialInfo {
                implementation: "scripted".into(),
                math_mode: None,
            }
        }
        fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
            self.calls += 1;
            std::thread::sleep(std::time::Duration::from_secs_f64(self.sleep));
            Ok((self.per_iter)(self.calls) * iters as f64)
        }
        fn verify(&mut self) -> Result<Verification, WorkloadError> {
            Ok(Verification::not_checked("scripted"))
        }
    }

    fn fast_crit() -> StoppingCriterion {
        StoppingCriterion {
            min_samples: 10,
            max_samples: 500,
            min_time: 0.01,
            max_time: 0.2,
            target_rel_noise: 0.005,
            min_sample_time: 1e-3,
            max_sample_wall: 0.05,
            warmup_time: 0.0,
        }
    }

    const SPEC: WorkloadSpec = WorkloadSpec::Gemm {
        precision: Precision::F32,
        m: 1000,
        n: 1000,
        k: 1000,
        math: crate::workload::GemmMath::CudaCores,
    };

    #[test]
    fn steady_trial_converges_with_exact_throughput() {
        let mut t = Scripted {
            per_iter: Box::new(|_| 2e-3),
            calls: 0,
            sleep: 0.001,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        assert_eq!(m.stop_reason, StopReason::Converged);
        assert!(m.samples.len() >= 10);
        assert_eq!(m.iters_per_sample, 1);
        // 2e9 FLOP in 2 ms = 1 TFLOPS
        assert!((m.throughput.median - 1.0).abs() < 1e-12);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    /// Asked to stop, the sampler stops after the sample in flight and says so.
    #[test]
    fn a_stop_request_ends_sampling_after_the_sample_in_flight() {
        let mut t = Scripted {
            per_iter: Box::new(|c| if c % 2 == 0 { 2e-3 } else { 3e-3 }),
            calls: 0,
            sleep: 0.0,
        };
        let asked = std::cell::Cell::new(0usize);
        let m = measure_until(&mut t, &SPEC, &fast_crit(), &mut |_| {}, &|| {
            asked.set(asked.get() + 1);
            asked.get() > 3
        })
        .unwrap();
        assert_eq!(m.stop_reason, StopReason::Interrupted);
        assert!(m.samples.len() < 10, "{}", m.samples.len());
        assert!(
            matches!(m.warnings[0], MeasurementWarning::Interrupted { samples, .. } if samples == m.samples.len()),
            "{:?}",
            m.warnings
        );
    }

    /// The sampler says what the samples show, never a guess about GPUs: the run adds that to
    /// GPU results only (a host CPU is not "throttling").
    #[test]
    fn sampler_warnings_guess_no_cause() {
        let mut t = Scripted {
            per_iter: Box::new(|c| {
                1e-3 * (1.0 + c as f64 / 20.0) * if c % 2 == 0 { 1.0 } else { 1.3 }
            }),
            calls: 0,
            sleep: 0.0,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        use MeasurementWarning::{Drift, Noisy};
        assert!(
            m.warnings
                .iter()
                .any(|w| matches!(w, Noisy { on_gpu: false, .. })),
            "{:?}",
            m.warnings
        );
        assert!(
            m.warnings
                .iter()
                .any(|w| matches!(w, Drift { on_gpu: false, .. })),
            "{:?}",
            m.warnings
        );
        for w in m.warnings.iter().map(|w| w.to_string()) {
            assert!(!w.contains("throttl") && !w.contains("GPU"), "{w}");
        }
        let gpu: Vec<MeasurementWarning> = m
            .warnings
            .iter()
            .cloned()
            .map(crate::run::gpu_warning)
            .collect();
        assert!(
            gpu.iter().any(|w| matches!(w, Drift { on_gpu: true, .. })
                && w.to_string().ends_with("(thermal or power throttling?)")),
            "{gpu:?}"
        );
    }

    /// A device time of zero (a timer that does not count) is never a sample: every sample of
    /// such a trial is kept as it came, said in the warnings, and gives no throughput (where it
    /// gave infinite TFLOPS).
    #[test]
    fn a_zero_device_time_is_never_a_sample() {
        let mut t = Scripted {
            per_iter: Box::new(|_| 0.0),
            calls: 0,
            sleep: 0.001,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        assert!(m.samples.len() >= 3 && m.samples.iter().all(|s| *s == 0.0));
        assert_eq!(m.summary.n, 0);
        assert!(m.throughput.median.is_nan(), "{:?}", m.throughput);
        assert!(m.throughput.best.is_nan() && m.throughput.worst.is_nan());
        let n = m.samples.len();
        assert_eq!(
            m.warnings,
            [MeasurementWarning::InvalidTime {
                invalid: n,
                samples: n,
                all_zero: true
            }]
        );
        assert_eq!(
            m.warnings[0].to_string(),
            format!(
                "invalid device time: {n} of {n} samples took 0 s of device time: a time of zero \
                 or less is never a sample (the timer did not count, or nothing ran); no valid \
                 sample, so no throughput"
            )
        );
    }

    /// Among valid samples, the invalid ones (zero, negative, NaN) are left out of the summary
    /// and the throughput, and counted in the warning.
    #[test]
    fn invalid_samples_are_left_out_of_the_summary() {
        let mut t = Scripted {
            per_iter: Box::new(|c| match c % 4 {
                0 => 0.0,
                1 => -2e-3,
                2 => f64::NAN,
                _ => 2e-3,
            }),
            calls: 0,
            sleep: 0.001,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        let valid = m.samples.iter().filter(|s| **s == 2e-3).count();
        assert_eq!(m.stop_reason, StopReason::Converged);
        assert!(
            valid >= 10,
            "converged on 10 valid samples: {:?}",
            m.samples
        );
        assert_eq!(m.summary.n, valid);
        assert_eq!((m.summary.min, m.summary.max), (2e-3, 2e-3));
        assert!((m.throughput.median - 1.0).abs() < 1e-12);
        assert!((m.throughput.best - 1.0).abs() < 1e-12);
        let bad = m.samples.len() - valid;
        assert_eq!(
            m.warnings[0],
            MeasurementWarning::InvalidTime {
                invalid: bad,
                samples: m.samples.len(),
                all_zero: false
            }
        );
        let w = m.warnings[0].to_string();
        assert!(
            w.ends_with(&format!("the throughput is from the other {valid}")),
            "{w}"
        );
        assert!(
            !m.warnings
                .iter()
                .any(|w| matches!(w, MeasurementWarning::Spread { .. })),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn short_kernels_are_batched() {
        let mut t = Scripted {
            per_iter: Box::new(|_| 10e-6),
            calls: 0,
            sleep: 0.0,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        assert_eq!(m.iters_per_sample, 100);
        assert!((m.summary.median - 10e-6).abs() < 1e-15);
    }

    /// A steady workload whose samples are too slow to take the minimum number within the
    /// time limit is said to be slow, not noisy.
    #[test]
    fn a_slow_steady_trial_says_it_took_too_few_samples_not_that_it_was_noisy() {
        let mut t = Scripted {
            per_iter: Box::new(|_| 2e-3),
            calls: 0,
            sleep: 0.06,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        assert_eq!(m.stop_reason, StopReason::Timeout);
        assert!(m.summary.n < 10, "{}", m.summary.n);
        use MeasurementWarning::{NoiseNotReached, Noisy, TooFewSamples};
        assert!(
            m.warnings.iter().any(|w| matches!(w,
                TooFewSamples { samples, wanted: 10, .. } if *samples == m.summary.n)),
            "{:?}",
            m.warnings
        );
        assert!(
            !m.warnings
                .iter()
                .any(|w| matches!(w, NoiseNotReached { .. } | Noisy { .. })),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn noisy_trial_times_out_and_says_so() {
        let mut t = Scripted {
            per_iter: Box::new(|c| if c % 2 == 0 { 2e-3 } else { 3e-3 }),
            calls: 0,
            sleep: 0.001,
        };
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |_| {}).unwrap();
        assert_eq!(m.stop_reason, StopReason::Timeout);
        let has = |f: fn(&MeasurementWarning) -> bool| m.warnings.iter().any(f);
        assert!(has(|w| matches!(
            w,
            MeasurementWarning::NoiseNotReached { .. }
        )));
        assert!(has(|w| matches!(w, MeasurementWarning::Noisy { .. })));
    }

    #[test]
    fn a_slowdown_is_reported() {
        let mut t = Scripted {
            per_iter: Box::new(|c| if c < 20 { 2e-3 } else { 2.4e-3 }),
            calls: 0,
            sleep: 0.001,
        };
        let mut crit = fast_crit();
        crit.max_samples = 40;
        crit.max_time = 10.0;
        crit.target_rel_noise = 0.0; // never converge: run to max_samples
        let m = measure(&mut t, &SPEC, &crit, &mut |_| {}).unwrap();
        assert_eq!(m.stop_reason, StopReason::MaxSamples);
        assert!(
            m.warnings
                .iter()
                .any(|w| matches!(w, MeasurementWarning::Drift { .. })),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn progress_is_reported_per_sample() {
        let mut t = Scripted {
            per_iter: Box::new(|_| 2e-3),
            calls: 0,
            sleep: 0.0,
        };
        let mut seen = 0;
        let m = measure(&mut t, &SPEC, &fast_crit(), &mut |p| seen = p.samples).unwrap();
        assert_eq!(seen, m.samples.len());
    }

    #[test]
    fn batch_sizes() {
        let c = fast_crit();
        // By device time (a GPU, where wall ≈ device time per launch).
        assert_eq!(batch_size(1.0, 1.0, &c), 1);
        assert_eq!(batch_size(2.5e-4, 2.5e-4, &c), 4);
        assert_eq!(batch_size(1e-12, 0.0, &c), 1_000_000);
        // A launch-bound kernel: 2 µs of device time, 20 µs per launch on the host: still
        // batched to 1 ms of device time (500 launches = 10 ms of wall).
        assert!((500..=501).contains(&batch_size(2e-6, 2e-5, &c)));
        // A host far slower than the device claims (a simulator): 10 µs of device time but
        // 20 ms of wall per launch: 2 launches per sample (50 ms), not 100.
        assert_eq!(batch_size(1e-5, 2e-2, &c), 2);
        // Slower still: never below one launch.
        assert_eq!(batch_size(1e-5, 1.0, &c), 1);
    }

    #[test]
    fn slow_host_keeps_samples_short_and_exact() {
        // Each launch claims 10 µs of device time but takes 30 ms of wall.
        let mut t = Scripted {
            per_iter: Box::new(|_| 1e-5),
            calls: 0,
            sleep: 0.03,
        };
        let mut c = fast_crit();
        c.max_time = 0.3;
        let m = measure(&mut t, &SPEC, &c, &mut |_| {}).unwrap();
        assert_eq!(m.iters_per_sample, 1, "batching would take 2 s per sample");
        assert!((m.summary.median - 1e-5).abs() < 1e-12);
    }
}
