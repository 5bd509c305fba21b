//! One workload, from announcement to result: prepared, sampled with telemetry alongside,
//! verified ([`run_one`]). Every stage that measures something (a GPU's own workloads, the
//! peers, the host's) goes through it.

use std::sync::Arc;
use std::time::Instant;

use crate::measure::{self, SampleProgress, StoppingCriterion};
use crate::model::{BackendKind, Role, Verification, WorkloadResult};
use crate::probe::telemetry::GpuTelemetry;
use crate::workload::{Trial, WorkloadSpec};

use super::{gpu_warning, result_id, throttle_warning, Progress};

/// How often telemetry is sampled while a workload is measured.
pub const TELEMETRY_PERIOD: std::time::Duration = std::time::Duration::from_millis(50);

/// Where a result comes from.
pub(crate) struct Slot {
    pub(crate) backend: BackendKind,
    pub(crate) device: Option<u32>,
    pub(crate) device_name: String,
    pub(crate) role: Role,
}

/// Announces, prepares, measures and verifies one workload. Never fails: errors land in the
/// result. `prepare` gets the result's id (each workload's seed derives from it). `telemetry`
/// is the GPU's NVML, sampled while the workload is measured, with the instant the run started
/// (the zero of the trace's times).
pub(crate) fn run_one<'d>(
    spec: &WorkloadSpec,
    at: &Slot,
    (index, total): (usize, usize),
    prepare: impl FnOnce(&str) -> Result<Box<dyn Trial + 'd>, crate::workload::WorkloadError>,
    crit: &StoppingCriterion,
    telemetry: Option<(&Arc<GpuTelemetry>, Instant)>,
    progress: &mut dyn FnMut(Progress),
) -> WorkloadResult {
    let id = result_id(at.device, at.role, spec);
    progress(Progress::WorkloadStarted {
        index,
        total,
        id: &id,
    });
    let mut result = WorkloadResult {
        id: id.clone(),
        backend: at.backend,
        device: at.device,
        device_name: at.device_name.clone(),
        role: at.role,
        spec: *spec,
        implementation: String::new(),
        math_mode: None,
        work: spec.work(),
        measurement: None,
        verification: Verification::not_checked("not run"),
        error: None,
        telemetry: None,
        telemetry_trace: Vec::new(),
    };
    match prepare(&id) {
        Err(e) => result.error = Some(format!("could not prepare: {e}")),
        Ok(mut trial) => {
            let mut on_sample = |p| {
                progress(Progress::Sample {
                    index,
                    total,
                    id: &id,
                    progress: p,
                })
            };
            let how = Sampling {
                crit,
                telemetry,
                on_sample: &mut on_sample,
            };
            measure_and_verify(trial.as_mut(), how, &mut result);
        }
    }
    progress(Progress::WorkloadFinished {
        index,
        total,
        result: &result,
    });
    result
}

/// How a prepared workload is sampled: the stopping rule, NVML (with the run's start, the zero
/// of its trace) and where each sample's progress goes.
struct Sampling<'s> {
    crit: &'s StoppingCriterion,
    telemetry: Option<(&'s Arc<GpuTelemetry>, Instant)>,
    on_sample: &'s mut dyn FnMut(SampleProgress),
}

/// Measures a prepared workload (with telemetry around it) and verifies its output, into
/// `result`; a failure on the way is the result's error.
fn measure_and_verify(trial: &mut dyn Trial, how: Sampling<'_>, result: &mut WorkloadResult) {
    let info = trial.info();
    result.implementation = info.implementation;
    result.math_mode = info.math_mode;
    let recorder = how
        .telemetry
        .map(|(t, epoch)| t.clone().start(TELEMETRY_PERIOD, epoch));
    let measured = measure::measure_until(
        trial,
        &result.spec,
        how.crit,
        how.on_sample,
        &crate::stop::requested,
    );
    if let Some(recorded) = recorder.map(|r| r.finish()) {
        result.telemetry = Some(recorded.summary);
        result.telemetry_trace = recorded.trace;
    }
    match measured {
        Ok(mut m) => {
            if result.backend == BackendKind::Cuda {
                m.warnings = m.warnings.into_iter().map(gpu_warning).collect();
            }
            if let Some(w) = result.telemetry.as_ref().and_then(throttle_warning) {
                m.warnings.push(w);
            }
            result.measurement = Some(m);
        }
        // Still verify: a run that failed part-way may have left wrong output behind.
        Err(e) => result.error = Some(format!("failed while running: {e}")),
    }
    match trial.verify() {
        Ok(v) => result.verification = v,
        Err(e) => {
            result
                .error
                .get_or_insert(format!("could not read the result back: {e}"));
        }
    }
}
