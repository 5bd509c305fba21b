//! The burn-in (`gpugate burn`): every selected GPU loaded at once, in intervals, beside the
//! acceptance run and through the same stages ([`super::stages::Runner`]): options checked,
//! profile resolved, GPUs probed and selected, the run directory and first run.json; every
//! GPU's health counters read ([`health::BurnHealth`]); every GPU's memory tested at once
//! ([`super::memtest::memtest_gpus`], its memory freed before the ring is allocated), then each
//! GPU opened (modules, floors, tuning, telemetry); then one thread per GPU ([`worker::load_gpu`])
//! runs the load ([`load::GpuLoad`]) while this thread, which alone holds the run, records
//! each interval (run.json rewritten) with the Xid events polled at its end, shows progress and
//! keeps the results; the health counters read again; then the gate and every report
//! ([`super::stages::Runner::finish`]).

pub mod compare;
pub mod health;
pub mod load;
pub mod options;
pub mod results;
pub mod solo;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Instant;

use crate::error::Error;
use crate::gate::{Metric, Profile};
use crate::model::burn::{BurnSection, GpuBurn};
use crate::model::profile::BurnLimits;
use crate::model::DeviceInfo;

use super::memtest::memtest_gpus;
use super::stages::{OpenGpu, Plan, Probed, Runner};
use super::{Progress, RunOutcome};
use health::{BurnHealth, Span};
use load::LANES;
use solo::SoloPhase;
use worker::{Command, Event, Settings};

pub use options::{parse_duration, BurnDefaults, BurnOptions};

/// The metrics a burn measures: the profile's targets of these are gated, the others (the
/// acceptance run's transfers, video, encoder) are left to `gpugate run`.
pub const BURN_METRICS: [Metric; 3] = [Metric::Fp32Gemm, Metric::Fp64Gemm, Metric::StreamTriad];

/// Runs the burn-in and writes run.json (after every interval) and every report.
pub fn burn(opts: &BurnOptions, progress: &mut dyn FnMut(Progress)) -> Result<RunOutcome, Error> {
    opts.check()?;
    let run_opts = opts.run_options();
    let probed = Probed::probe(&run_opts, progress)?.map_profile(burn_profile);
    let profile = &probed.profile;
    let limits = profile.burn.as_ref();
    opts.check_with(limits)?;
    let mut runner = Runner::start(&run_opts, progress, &probed)?;
    let settings = settings(opts, limits, &runner.gpus(), runner.seed());
    let jobs = runner
        .gpus()
        .iter()
        .flat_map(|g| {
            LANES.map(|l| {
                (
                    Some(g.index),
                    l.spec(settings.gemm_size, settings.triad_elements),
                )
            })
        })
        .collect();
    let mut plan = runner.plan_of(jobs);
    let mut health = BurnHealth::begin(&runner.gpus(), runner.started());
    let open = test_and_open(&mut runner, &mut plan, opts.memtest_share(profile))?;
    if !crate::stop::requested() {
        let bytes = opts.p2p_bytes.unwrap_or(crate::p2p::DEFAULT_P2P_BYTES);
        super::p2p::p2p_gpus(&mut runner, &open, bytes)?;
    }
    let sec = section(&settings, opts, limits);
    runner.record(|r| r.burn = Some(sec))?;
    let loading = Instant::now();
    load_all(&mut runner, &open, &settings, &mut health)?;
    if let Some(signal) = crate::stop::signal_name() {
        runner.note(format!(
            "the burn was stopped by {signal} after {:.0} s of the {:.0} s asked for: its \
             results are what the GPUs did until then",
            loading.elapsed().as_secs_f64(),
            settings.duration.as_secs_f64()
        ));
    }
    runner.record_health(health.end())?;
    runner.finish(profile)
}

/// Every GPU's memory tested at once over `memtest_share` percent of its free memory
/// ([`memtest_gpus`]), then each GPU opened: the memory test's allocations are freed when it
/// returns, before the rings are allocated. A stop request ends the stage; the GPUs opened so
/// far are loaded.
fn test_and_open(
    runner: &mut Runner<'_>,
    plan: &mut Plan,
    memtest_share: f64,
) -> Result<Vec<(DeviceInfo, OpenGpu)>, Error> {
    let gpus = runner.gpus();
    memtest_gpus(runner, &gpus, memtest_share)?;
    let mut open = Vec::new();
    for gpu in gpus {
        if crate::stop::requested() {
            break;
        }
        if let Some(o) = runner.open_gpu(&gpu, plan)? {
            open.push((gpu, o));
        }
    }
    Ok(open)
}

/// The profile with only the targets a burn measures ([`BURN_METRICS`]), its `[[burn.target]]`s
/// in place of the targets of the same metric, scope and GPU (or added); it is recorded in
/// run.json, so `gpugate report` decides the burn again against the same targets (mapping it
/// again changes nothing).
pub fn burn_profile(mut p: Profile) -> Profile {
    let own = p
        .burn
        .as_ref()
        .map(|b| b.targets.clone())
        .unwrap_or_default();
    p.targets.retain(|t| BURN_METRICS.contains(&t.metric));
    for b in own {
        let slot = p
            .targets
            .iter_mut()
            .find(|t| t.metric == b.metric && t.scope == b.scope && t.gpu == b.gpu);
        match slot {
            Some(t) => *t = b,
            None => p.targets.push(b),
        }
    }
    p
}

/// The load's settings: the options resolved; triad arrays of at least
/// [`crate::plan::STREAM_L2_FACTOR`] × the largest L2 and of at least N² elements.
fn settings(
    opts: &BurnOptions,
    limits: Option<&BurnLimits>,
    gpus: &[DeviceInfo],
    seed: u64,
) -> Settings {
    let r = opts.resolved_with(limits);
    let l2 = gpus.iter().map(|g| g.l2_cache_bytes).max().unwrap_or(0) as usize;
    Settings {
        duration: r.duration,
        interval: r.interval,
        gemm_size: r.gemm_size,
        triad_elements: (r.gemm_size * r.gemm_size).max(crate::plan::STREAM_L2_FACTOR * l2 / 8),
        memory_share: r.memory_share,
        seed,
        epoch: Instant::now(),
    }
}

/// The burn section as it starts: the settings and limits (with their sources), no GPU yet.
fn section(s: &Settings, opts: &BurnOptions, limits: Option<&BurnLimits>) -> BurnSection {
    let rules = options::BurnRules::of(limits);
    BurnSection {
        duration_s: s.duration.as_secs_f64(),
        interval_s: s.interval.as_secs_f64(),
        gemm_size: s.gemm_size,
        triad_elements: s.triad_elements,
        memory_share: s.memory_share,
        within_machine_share: rules.within_machine_share,
        within_machine_source: rules.within_machine_source,
        max_drift: Some(rules.max_drift),
        drift_source: Some(rules.drift_source),
        duration_source: Some(opts.duration_source(limits)),
        gpus: Vec::new(),
        solo: Vec::new(),
    }
}

/// Every opened GPU on a thread of its own: once all rings are ready, each alone in turn (the
/// solo phase, [`solo`]), then all at once; this thread records what they report.
fn load_all(
    runner: &mut Runner<'_>,
    open: &[(DeviceInfo, OpenGpu)],
    settings: &Settings,
    health: &mut BurnHealth,
) -> Result<(), Error> {
    // The zero of the telemetry traces and the intervals' spans: the start of the run, as for
    // every run's telemetry and health events.
    let settings = Settings {
        epoch: runner.started(),
        ..*settings
    };
    let devices: Vec<u32> = open.iter().map(|(g, _)| g.index).collect();
    let mut phase = SoloPhase::new(&devices, settings.interval);
    runner.note(solo_note(&phase, &settings));
    let (tx, rx) = mpsc::channel();
    let mut state: BTreeMap<u32, GpuBurn> = BTreeMap::new();
    std::thread::scope(|scope| {
        let mut commands = BTreeMap::new();
        for (gpu, o) in open {
            let (tx, s) = (tx.clone(), &settings);
            let (ctx, crx) = mpsc::channel::<Command>();
            commands.insert(gpu.index, ctx);
            scope.spawn(move || worker::load_gpu(gpu, o, s, (&tx, crx)));
        }
        drop(tx);
        for event in rx {
            let next = match &event {
                Event::Ready { device } => phase.ready(*device),
                Event::Solo { device, .. } => phase.solo_done(*device),
                Event::Done(d) => phase.ended(d.device),
                _ => Vec::new(),
            };
            on_event(runner, (open, &settings), &mut state, health, event)?;
            for (device, c) in next {
                if let Some(to) = commands.get(&device) {
                    let _ = to.send(c);
                }
            }
        }
        Ok(())
    })
}

/// What the run says of its solo phase: how long each GPU runs alone, or why there is none.
fn solo_note(phase: &SoloPhase, s: &Settings) -> String {
    if phase.runs() {
        format!(
            "solo phase: before the machine is loaded at once, each GPU runs the load alone for \
             {:.0} s (one interval), one after the other; the sum of what they reach alone is \
             shown beside the machine's totals measured together (information, not gated)",
            s.interval.as_secs_f64()
        )
    } else {
        "no solo phase: one GPU, alone is the same as the load; its results are the machine's"
            .to_string()
    }
}

/// One event of a GPU's thread: recorded in the burn section (run.json saved), announced; at
/// the end of an interval the Xid events polled and the health so far recorded too; at the end
/// of the GPU's load its results kept.
fn on_event(
    runner: &mut Runner<'_>,
    (open, s): (&[(DeviceInfo, OpenGpu)], &Settings),
    state: &mut BTreeMap<u32, GpuBurn>,
    health: &mut BurnHealth,
    event: Event,
) -> Result<(), Error> {
    let mut health_so_far = None;
    match event {
        Event::Prepared {
            device,
            sets,
            asked,
            ring_bytes,
        } => {
            ring_note(runner, device, (sets, asked));
            let g = state.entry(device).or_default();
            (g.device, g.ring_sets, g.ring_bytes) = (device, sets, ring_bytes);
        }
        Event::Ready { .. } => return Ok(()),
        Event::Solo {
            device,
            samples,
            wall_s,
        } => return record_solo(runner, solo::solo_run(device, &samples, wall_s, s)),
        Event::Interval {
            device,
            mut row,
            sdc,
            freivalds,
            span_s: (from_s, to_s),
        } => {
            health_so_far = Some(health.interval_ended(
                device,
                Span {
                    index: row.index,
                    from_s,
                    to_s,
                },
            ));
            row.span_s = Some([from_s, to_s]);
            let left_s = (s.duration.as_secs_f64() - row.t_end_s).max(0.0);
            runner.announce(Progress::BurnInterval {
                device,
                row: &row,
                left_s,
            });
            let g = state.entry(device).or_default();
            g.device = device;
            g.sdc_count += row.errors;
            g.sdc.extend(sdc);
            g.sdc.truncate(crate::model::burn::MAX_SDC_RECORDS);
            g.freivalds.extend(freivalds);
            g.intervals.push(row);
        }
        Event::Done(done) => {
            let g = state.entry(done.device).or_default();
            g.device = done.device;
            g.error = done.error.clone();
            let Some((gpu, _)) = open.iter().find(|(d, _)| d.index == done.device) else {
                return Ok(());
            };
            let interrupted = crate::stop::requested();
            for r in results::gpu_results(gpu, &done, g, s, interrupted) {
                let (index, total) = runner.next_position();
                runner.announce(Progress::WorkloadFinished {
                    index,
                    total,
                    result: &r,
                });
                runner.keep(r)?;
            }
        }
    }
    let gpus: Vec<GpuBurn> = state.values().cloned().collect();
    runner.record(|r| {
        if let Some(b) = r.burn.as_mut() {
            b.gpus = gpus;
        }
        if let Some(h) = health_so_far {
            r.health = h;
        }
    })
}

/// A note when a GPU's ring holds fewer sets than the memory share asked for.
fn ring_note(runner: &mut Runner<'_>, device: u32, (sets, asked): (usize, usize)) {
    if sets < asked {
        runner.note(format!(
            "GPU {device}: the burn's ring holds {sets} of the {asked} sets the memory share \
             asked for: the next set did not fit in the GPU's free memory"
        ));
    }
}

/// A GPU's solo rounds kept in the burn section (run.json saved).
fn record_solo(runner: &mut Runner<'_>, run: crate::model::burn::SoloRun) -> Result<(), Error> {
    runner.record(|r| {
        if let Some(b) = r.burn.as_mut() {
            b.solo.push(run);
        }
    })
}
