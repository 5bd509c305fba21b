//! The hardware-encoder peer: NVENC driven through ffmpeg ([`crate::workload::encode`]), after
//! every GPU's own workloads, gated on its own target. Everything about it is here: which GPUs
//! encode and how much ([`encode_plan`], [`EncodePlan`]), one encode workload
//! ([`encode_one`]: the runs, with telemetry around them) and its result ([`encode_result`]).

use std::sync::Arc;
use std::time::Instant;

use crate::gate::{self, Profile};
use crate::model::{
    BackendKind, DeviceInfo, Level, MeasurementWarning, Role, Verification, WorkloadResult,
};
use crate::probe::telemetry::{self as nvml, TelemetrySummary};
use crate::run::{result_id, throttle_warning, workload_seed, Progress, TELEMETRY_PERIOD};
use crate::workload::encode::{encode, EncodeError, EncodeOptions, EncodeRun, Encoder};
use crate::workload::{EncodeCodec, WorkloadSpec};

use super::{Peer, PeerJob, PeerSite};

/// The hardware encoder (NVENC through ffmpeg), after every GPU's own workloads: one session,
/// then 2 × engines at once ([`EncodePlan`]). Its results are gated (nvenc_h264 targets).
pub struct Nvenc {
    plans: Vec<(u32, EncodePlan)>,
    /// Per GPU, why the encoder could not run at all: its next job fails with the same reason
    /// without trying again.
    failed: Vec<(u32, EncodeFailure)>,
    /// The frames per session the user set (`--encode-frames`), if any.
    user_frames: Option<usize>,
}

impl Nvenc {
    /// The encode plan of each GPU that has encoders or whose profile asks for encode
    /// throughput ([`encode_plan`]), with `frames` per session in place of the level's when
    /// given.
    pub fn new(
        profile: &Profile,
        gpus: &[DeviceInfo],
        level: Level,
        frames: Option<usize>,
    ) -> Nvenc {
        Nvenc {
            plans: gpus
                .iter()
                .filter_map(|g| {
                    let mut p = encode_plan(profile, g, level)?;
                    if let Some(f) = frames {
                        p.frames = f;
                    }
                    Some((g.index, p))
                })
                .collect(),
            failed: Vec::new(),
            user_frames: frames,
        }
    }

    /// The run's note when the user set the frames per session (`--encode-frames`) in place of
    /// the level's; None when nothing encodes or the level's count stands.
    pub fn frames_note(&self) -> Option<String> {
        let ((_, plan), n) = (self.plans.first()?, self.user_frames?);
        Some(format!(
            "hardware encode: {n} frames per session (--encode-frames) in place of the level's {}",
            plan.level_frames
        ))
    }

    fn plan_of(&self, gpu: u32) -> Option<&EncodePlan> {
        self.plans.iter().find(|(g, _)| *g == gpu).map(|(_, p)| p)
    }
}

impl Peer for Nvenc {
    fn name(&self) -> &'static str {
        "hardware encode"
    }

    fn plan(&self, gpu: &DeviceInfo, _own: &[WorkloadSpec]) -> Vec<PeerJob> {
        self.plan_of(gpu.index).map_or_else(Vec::new, |p| {
            p.specs()
                .into_iter()
                .map(|spec| PeerJob { spec, after: None })
                .collect()
        })
    }

    fn measure(&mut self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult {
        let gpu = site.gpu;
        let mut failed = self
            .failed
            .iter()
            .find(|(g, _)| *g == gpu.index)
            .map(|(_, why)| why.clone());
        let Some(plan) = self.plan_of(gpu.index) else {
            let why = EncodeFailure::NotPlanned { gpu: gpu.index };
            return encode_result(gpu, job.spec, Err(why), None);
        };
        if failed.is_none() {
            failed = plan.refused.clone();
        }
        let r = encode_one(
            gpu,
            plan,
            job.spec,
            (site.seed, site.epoch),
            &mut failed,
            site.position,
            site.progress,
        );
        if let Some(why) = failed {
            self.failed.retain(|(g, _)| *g != gpu.index);
            self.failed.push((gpu.index, why));
        }
        r
    }

    fn failure_note(&self, gpu: &DeviceInfo, error: &str) -> Option<String> {
        Some(format!(
            "GPU {}: hardware encode not measured: {error}",
            gpu.index
        ))
    }
}

/// Why a hardware encode workload could not run on a GPU. It stays typed until its result
/// records it (`WorkloadResult::error`, its message) and is what a GPU's later encode jobs
/// fail with, without trying again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeFailure {
    /// The encoder could not run (no ffmpeg, no NVENC library, a refused session, …).
    #[error(transparent)]
    Encoder(#[from] EncodeError),
    /// The GPU has no NVENC engine (`evidence`: how that is known) and the profile asks for
    /// hardware encode throughput: nothing is encoded.
    #[error(
        "{} ({evidence}); the profile asks for hardware encode throughput",
        crate::model::NO_NVENC
    )]
    NoNvenc { evidence: String },
    /// No encode was planned on this GPU.
    #[error("no hardware encode was planned on GPU {gpu}")]
    NotPlanned { gpu: u32 },
    /// The job's workload is not a hardware encode.
    #[error("{name} is not a hardware encode")]
    NotAnEncode { name: String },
    /// The encoder ran no run at all.
    #[error("no encode run")]
    NoRun,
}

/// How a GPU's hardware encode is measured in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodePlan {
    /// Concurrent sessions of the gated run: 2 × the NVENC engines (2 when the count is
    /// unknown).
    pub sessions: usize,
    /// Frames per session: 600 (300 at --level quick), or the user's (`--encode-frames`).
    pub frames: usize,
    /// The level's frames per session (what `frames` replaced, if the user set it).
    pub level_frames: usize,
    /// Runs of the concurrent sessions, each a sample: 1 quick, 3 standard, 5 full.
    pub repetitions: usize,
    /// Why nothing can be encoded on this GPU (it has no NVENC); its result carries this.
    pub refused: Option<EncodeFailure>,
}

impl EncodePlan {
    /// The workloads: the single session and the concurrent one (only the latter, failing,
    /// on a GPU without NVENC).
    pub fn specs(&self) -> Vec<WorkloadSpec> {
        let spec = |sessions| WorkloadSpec::Encode {
            codec: EncodeCodec::H264,
            width: 1920,
            height: 1080,
            sessions,
            frames: self.frames,
        };
        if self.refused.is_some() {
            vec![spec(self.sessions)]
        } else {
            vec![spec(1), spec(self.sessions)]
        }
    }
}

/// The encode runs for GPU `g`: on every GPU with NVENC engines (catalogue), and on any GPU
/// whose profile sets an nvenc_h264 target (there a GPU without NVENC gets a failing result
/// saying so); None elsewhere: a GPU without NVENC that nothing asks about is not a failure.
pub fn encode_plan(profile: &Profile, g: &DeviceInfo, level: Level) -> Option<EncodePlan> {
    let wanted = profile.targets.iter().any(|t| {
        t.metric == gate::Metric::NvencH264
            && (t.applies_to(g.index) || t.scope == gate::profile::Scope::Machine)
    });
    let engines = g.nvenc.engines;
    if engines.unwrap_or(0) == 0 && !wanted {
        return None;
    }
    let (frames, repetitions) = match level {
        Level::Quick => (300, 1),
        Level::Standard => (600, 3),
        Level::Full => (600, 5),
    };
    let (sessions, refused) = match engines {
        Some(0) => (
            2,
            Some(EncodeFailure::NoNvenc {
                evidence: g.nvenc.source.as_deref().unwrap_or("source unknown").into(),
            }),
        ),
        Some(n) => (2 * n as usize, None),
        None => (2, None),
    };
    Some(EncodePlan {
        sessions,
        frames,
        level_frames: frames,
        repetitions,
        refused,
    })
}

/// A workload result from encode runs (one sample each), or from why they could not run.
pub fn encode_result(
    gpu: &DeviceInfo,
    spec: WorkloadSpec,
    runs: Result<Vec<EncodeRun>, EncodeFailure>,
    telemetry: Option<TelemetrySummary>,
) -> WorkloadResult {
    let mut r = WorkloadResult {
        id: result_id(Some(gpu.index), Role::Primary, &spec),
        backend: BackendKind::Cuda,
        device: Some(gpu.index),
        device_name: gpu.name.clone(),
        role: Role::Primary,
        spec,
        implementation: "ffmpeg h264_nvenc".into(),
        math_mode: None,
        work: spec.work(),
        measurement: None,
        verification: Verification::not_checked("not run"),
        error: None,
        telemetry,
        telemetry_trace: Vec::new(),
    };
    let runs = match runs {
        Ok(runs) if !runs.is_empty() => runs,
        Ok(_) => {
            r.error = Some(EncodeFailure::NoRun.to_string());
            return r;
        }
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    let first = &runs[0];
    let WorkloadSpec::Encode {
        sessions, frames, ..
    } = spec
    else {
        unreachable!("encode results are for Encode specs")
    };
    r.implementation = format!(
        "{}, {} {}; {sessions} concurrent session(s) × {frames} frames of 1920x1080 NV12 ({} seeded synthetic frames looped)",
        first.ffmpeg_version,
        first.encoder,
        first.encoder_args[2..].join(" "),
        crate::workload::encode::DISTINCT_FRAMES
    );
    r.measurement = Some(encode_measurement(&runs, sessions * frames));
    r.verification = runs
        .iter()
        .map(|x| x.verification.clone())
        .find(|v| !v.passed())
        .unwrap_or_else(|| {
            let mut v = first.verification.clone();
            v.checked = runs.iter().map(|x| x.verification.checked).sum();
            v
        });
    r
}

/// The measurement of encode runs (each a sample) of `frames_per_run` frames in all.
fn encode_measurement(runs: &[EncodeRun], frames_per_run: usize) -> crate::model::Measurement {
    let samples: Vec<f64> = runs.iter().map(|x| 1.0 / x.fps()).collect();
    let summary = crate::measure::stats::summarize(&samples);
    let warnings = vec![if runs.iter().all(|x| x.steady_fps.is_some()) {
        MeasurementWarning::EncodeSteadyFps {
            wall_fps: runs.iter().map(|x| x.aggregate_fps).collect(),
        }
    } else {
        MeasurementWarning::EncodeNoProgress
    }];
    crate::model::Measurement {
        samples: samples.clone(),
        iters_per_sample: frames_per_run as u64,
        throughput: crate::model::Throughput {
            unit: "fps".into(),
            median: 1.0 / summary.median,
            best: 1.0 / summary.min,
            worst: 1.0 / summary.max,
        },
        summary,
        warmup_seconds: 0.0,
        total_seconds: runs.iter().map(|x| x.wall_seconds).sum(),
        stop_reason: crate::model::StopReason::MaxSamples,
        warnings,
    }
}

/// One hardware-encode workload on `gpu` (`spec`, an encode of `plan`): announced, encoded
/// (`plan.repetitions` runs of the concurrent sessions, one of the single session), checked,
/// with telemetry. `failed` carries why the encoder could not run at all: set, the workload
/// fails with it without trying again; a workload that cannot encode sets it.
pub(crate) fn encode_one(
    gpu: &DeviceInfo,
    plan: &EncodePlan,
    spec: WorkloadSpec,
    (seed, epoch): (u64, Instant),
    failed: &mut Option<EncodeFailure>,
    (index, total): (usize, usize),
    progress: &mut dyn FnMut(Progress),
) -> WorkloadResult {
    let id = result_id(Some(gpu.index), Role::Primary, &spec);
    progress(Progress::WorkloadStarted {
        index,
        total,
        id: &id,
    });
    let sessions = match spec {
        WorkloadSpec::Encode { sessions, .. } => sessions,
        other => {
            *failed = Some(EncodeFailure::NotAnEncode { name: other.name() });
            0
        }
    };
    let (runs, telemetry) = match failed.clone() {
        // The encoder could not run at all (no NVENC, no ffmpeg, no driver library): the
        // concurrent run fails with the same reason, without trying again.
        Some(why) => (Err(why), None),
        None => {
            let opts = EncodeOptions::new(
                Encoder::Nvenc { gpu: gpu.index },
                sessions,
                plan.frames,
                workload_seed(seed, &id),
            );
            let reps = if sessions == 1 { 1 } else { plan.repetitions };
            let (runs, telemetry) = encode_repeated(gpu, &opts, reps, epoch);
            if let Err(e) = &runs {
                *failed = Some(e.clone());
            }
            (runs, telemetry)
        }
    };
    let (summary, trace) = telemetry
        .map(|t| (Some(t.summary), t.trace))
        .unwrap_or_default();
    let mut r = encode_result(gpu, spec, runs, summary);
    r.telemetry_trace = trace;
    if let (Some(m), Some(w)) = (
        r.measurement.as_mut(),
        r.telemetry.as_ref().and_then(throttle_warning),
    ) {
        m.warnings.push(w);
    }
    if gpu.nvenc.engines.is_none() && sessions > 1 {
        if let Some(m) = r.measurement.as_mut() {
            m.warnings
                .push(MeasurementWarning::NvencEnginesUnknown { sessions });
        }
    }
    progress(Progress::WorkloadFinished {
        index,
        total,
        result: &r,
    });
    r
}

/// `reps` encodes of `opts` on `gpu` with NVML sampled throughout (timed from `epoch`); the
/// first error stops them.
fn encode_repeated(
    gpu: &DeviceInfo,
    opts: &EncodeOptions,
    reps: usize,
    epoch: Instant,
) -> (
    Result<Vec<EncodeRun>, EncodeFailure>,
    Option<nvml::Recording>,
) {
    let t = nvml::open(&gpu.uuid, &gpu.pci_bus_id).ok().map(Arc::new);
    let recorder = t.map(|t| t.start(TELEMETRY_PERIOD, epoch));
    let mut runs = Vec::new();
    let mut err = None;
    for _ in 0..reps {
        match encode(opts) {
            Ok(run) => runs.push(run),
            Err(e) => {
                err = Some(EncodeFailure::Encoder(e));
                break;
            }
        }
    }
    let telemetry = recorder.map(|r| r.finish());
    match err {
        Some(e) => (Err(e), telemetry),
        None => (Ok(runs), telemetry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::peers_for;
    use crate::peer::tests::site_run;
    use crate::workload::Precision;

    #[test]
    fn encode_runs_where_there_are_engines_or_a_target() {
        let g2 = gate::load_profile("g2.large").unwrap().0;
        let m40 = crate::test_support::m40(0);
        let auto = gate::auto_profile(std::slice::from_ref(&m40));
        // An M40: 2 engines, 4 concurrent sessions, with or without a target.
        for p in [&g2, &auto] {
            let plan = encode_plan(p, &m40, Level::Standard).unwrap();
            assert_eq!((plan.sessions, plan.frames, plan.repetitions), (4, 600, 3));
            let names: Vec<String> = plan.specs().iter().map(|s| s.name()).collect();
            assert_eq!(names, ["nvenc.h264.1080p.x1", "nvenc.h264.1080p.x4"]);
        }
        assert_eq!(encode_plan(&g2, &m40, Level::Quick).unwrap().frames, 300);
        // An H100 (no NVENC): nothing unless the profile asks; then one failing result.
        let mut h100 = m40.clone();
        h100.name = "NVIDIA H100 80GB HBM3".into();
        h100.nvenc = crate::probe::gpu::nvenc_info(
            &h100.name,
            Err(&crate::probe::telemetry::TelemetryError::NoDeviceId),
        );
        let auto = gate::auto_profile(std::slice::from_ref(&h100));
        assert_eq!(encode_plan(&auto, &h100, Level::Full), None);
        let plan = encode_plan(&g2, &h100, Level::Full).unwrap();
        let refused = plan.refused.clone().unwrap();
        assert!(
            matches!(&refused, EncodeFailure::NoNvenc { .. }),
            "{refused:?}"
        );
        assert!(refused
            .to_string()
            .starts_with("no NVENC engine on this GPU"));
        assert_eq!(plan.specs().len(), 1);
        let r = encode_result(
            &h100,
            plan.specs()[0],
            Err(plan.refused.clone().unwrap()),
            None,
        );
        assert_eq!(r.id, "gpu0.nvenc.h264.1080p.x2");
        assert!(r.error.as_deref().unwrap().contains("no NVENC engine"));
        // Unknown count, target set: 2 sessions, as for one engine.
        let mut odd = m40.clone();
        odd.nvenc = Default::default();
        assert_eq!(encode_plan(&g2, &odd, Level::Quick).unwrap().sessions, 2);
        assert_eq!(
            encode_plan(&gate::auto_profile(&[odd.clone()]), &odd, Level::Quick),
            None
        );
    }

    #[test]
    fn the_encoder_plans_at_the_end_and_a_gpu_without_nvenc_fails_without_encoding() {
        let g2 = gate::load_profile("g2.large").unwrap().0;
        let m40 = crate::test_support::m40(0);
        let mut h100 = crate::test_support::m40(1);
        h100.name = "NVIDIA H100 80GB HBM3".into();
        h100.nvenc = crate::probe::gpu::nvenc_info(
            &h100.name,
            Err(&crate::probe::telemetry::TelemetryError::NoDeviceId),
        );
        let mut nvenc = Nvenc::new(&g2, &[m40.clone(), h100.clone()], Level::Quick, None);
        let own = [WorkloadSpec::gemm(Precision::F32, 64, 64, 64)];
        // The M40: one session, then four (2 × its 2 engines), after everything else.
        let jobs = nvenc.plan(&m40, &own);
        let names: Vec<String> = jobs.iter().map(|j| j.spec.name()).collect();
        assert_eq!(names, ["nvenc.h264.1080p.x1", "nvenc.h264.1080p.x4"]);
        assert!(jobs.iter().all(|j| j.after.is_none()));
        // The H100 has no NVENC and g2.large asks for encode throughput: one failing job.
        let jobs = nvenc.plan(&h100, &own);
        assert_eq!(jobs.len(), 1);
        let (r, seen) = site_run(&mut nvenc, &jobs[0], &h100);
        let err = r.error.clone().unwrap();
        assert!(err.starts_with("no NVENC engine on this GPU"), "{err}");
        assert_eq!(r.id, "gpu1.nvenc.h264.1080p.x2");
        assert_eq!(seen.len(), 2);
        assert_eq!(
            nvenc.failure_note(&h100, &err).unwrap(),
            format!("GPU 1: hardware encode not measured: {err}")
        );
        // auto asks nothing of a GPU without NVENC: no job.
        let auto = Nvenc::new(
            &gate::auto_profile(std::slice::from_ref(&h100)),
            &[h100.clone()],
            Level::Quick,
            None,
        );
        assert!(auto.plan(&h100, &own).is_empty());
        // --encode-frames: every session encodes that many, and a note says so.
        let frames = |n: &Nvenc| -> Vec<usize> {
            n.plan(&m40, &own)
                .iter()
                .map(|j| match j.spec {
                    WorkloadSpec::Encode { frames, .. } => frames,
                    _ => 0,
                })
                .collect()
        };
        assert_eq!(frames(&nvenc), [300, 300], "the quick level's");
        let short = Nvenc::new(&g2, std::slice::from_ref(&m40), Level::Quick, Some(60));
        assert_eq!(frames(&short), [60, 60]);
        let (_, notes) = peers_for(&g2, std::slice::from_ref(&m40), Level::Quick, Some(60));
        assert!(
            notes.iter().any(|n| n
                == "hardware encode: 60 frames per session (--encode-frames) in place of the \
                    level's 300"),
            "{notes:?}"
        );
    }

    /// An encoder that cannot run at all fails the GPU's next encode with the same reason,
    /// without trying again (GPU 9: no machine this runs on has one, GPU or not).
    #[test]
    fn an_encoder_that_cannot_run_is_not_tried_twice() {
        let g2 = gate::load_profile("g2.large").unwrap().0;
        let m40 = crate::test_support::m40(9);
        let mut nvenc = Nvenc::new(&g2, std::slice::from_ref(&m40), Level::Quick, None);
        let jobs = nvenc.plan(&m40, &[]);
        let (first, _) = site_run(&mut nvenc, &jobs[0], &m40);
        let why = first
            .error
            .clone()
            .expect("no NVENC here: the encode fails");
        // Remembered typed, as the encoder's own error, and recorded as its message.
        let [(9, EncodeFailure::Encoder(e))] = nvenc.failed.as_slice() else {
            panic!("{:?}", nvenc.failed)
        };
        assert_eq!(e.to_string(), why);
        let (second, _) = site_run(&mut nvenc, &jobs[1], &m40);
        assert_eq!(second.error.as_deref(), Some(why.as_str()));
    }
}
