//! One GPU loaded for the whole burn, on a thread of its own ([`load_gpu`]): the ring prepared,
//! the first results checked, then interval after interval of rounds, each interval ending with
//! the bit-for-bit comparison of every set on the GPU, the reference check of a set that
//! differed, and its row. Nothing
//! here prints or writes run.json: every interval and the end go as [`Event`]s to the thread
//! that holds the run ([`super::burn`]).

use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use crate::model::burn::{BurnInterval, FreivaldsRecord, SdcRecord};
use crate::model::telemetry::TelemetryPoint;
use crate::model::DeviceInfo;
use crate::run::one::TELEMETRY_PERIOD;
use crate::run::stages::OpenGpu;
use crate::workload::WorkloadError;

use super::load::{ring_sets, set_bytes, GpuLoad, Lane, Tally, LANES};

/// What every GPU's load is asked to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) duration: Duration,
    pub(crate) interval: Duration,
    pub(crate) gemm_size: usize,
    pub(crate) triad_elements: usize,
    pub(crate) memory_share: f64,
    /// The run's seed, and its start: the zero of the telemetry traces and of the intervals'
    /// spans ([`Event::Interval`]) on the run's clock.
    pub(crate) seed: u64,
    pub(crate) epoch: Instant,
}

/// What the run tells a GPU's thread once its ring is ready ([`Event::Ready`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Command {
    /// Run rounds alone for this long (the other GPUs wait), then say [`Event::Solo`] and wait
    /// for the next command.
    Solo(Duration),
    /// Start the intervals: every GPU is loaded at once.
    Load,
}

/// What a GPU's thread tells the run.
pub(crate) enum Event {
    /// The ring is in place.
    Prepared {
        device: u32,
        /// Sets in place, and sets the memory share asked for.
        sets: usize,
        asked: usize,
        ring_bytes: u64,
    },
    /// The first results are checked: the GPU waits for a [`Command`].
    Ready { device: u32 },
    /// Its solo rounds ended: per lane, seconds per launch of each round, and their wall time.
    Solo {
        device: u32,
        samples: [Vec<f64>; 3],
        wall_s: f64,
    },
    /// An interval ended.
    Interval {
        device: u32,
        row: BurnInterval,
        sdc: Vec<SdcRecord>,
        freivalds: Vec<FreivaldsRecord>,
        /// When the interval started and when its comparison ended, seconds on the run's
        /// clock (`Settings::epoch`): where the burn's health events are placed.
        span_s: (f64, f64),
    },
    /// The load ended (its time ran out, the run was stopped, or an error).
    Done(Box<Finished>),
}

/// How a GPU's load ended: per lane, seconds per launch of every round, and the telemetry.
pub(crate) struct Finished {
    pub(crate) device: u32,
    pub(crate) samples: [Vec<f64>; 3],
    pub(crate) trace: Vec<TelemetryPoint>,
    pub(crate) error: Option<String>,
    pub(crate) wall_s: f64,
}

/// Loads one GPU for the burn's duration (see the module documentation), after the solo
/// rounds `commands` ask for.
pub(crate) fn load_gpu(
    gpu: &DeviceInfo,
    open: &OpenGpu,
    s: &Settings,
    (tx, commands): (&Sender<Event>, Receiver<Command>),
) {
    let started = Instant::now();
    let mut done = Finished {
        device: gpu.index,
        samples: Default::default(),
        trace: Vec::new(),
        error: None,
        wall_s: 0.0,
    };
    if let Err(e) = prepare_and_run(gpu, open, s, (tx, commands), &mut done) {
        done.error = Some(e.to_string());
    }
    done.wall_s = started.elapsed().as_secs_f64();
    let _ = tx.send(Event::Done(Box::new(done)));
}

/// The ring of `gpu`, sized to its share of free memory, and the intervals over it.
fn prepare_and_run(
    gpu: &DeviceInfo,
    open: &OpenGpu,
    s: &Settings,
    (tx, commands): (&Sender<Event>, Receiver<Command>),
    done: &mut Finished,
) -> Result<(), WorkloadError> {
    let (n, triad) = (s.gemm_size, s.triad_elements);
    let budget = (gpu.free_memory_bytes as f64 * s.memory_share) as u64;
    let sets = ring_sets(budget, n, triad);
    let seed_of = |lane: Lane| {
        let id = crate::run::result_id(
            Some(gpu.index),
            crate::model::Role::Primary,
            &lane.spec(n, triad),
        );
        crate::run::workload_seed(s.seed, &id)
    };
    let mut load = GpuLoad::prepare(&open.backend, (n, triad), sets, seed_of)?;
    let _ = tx.send(Event::Prepared {
        device: gpu.index,
        sets: load.sets,
        asked: sets,
        ring_bytes: load.sets as u64 * set_bytes(n, triad),
    });
    let first = load.first_results(0)?;
    let _ = tx.send(Event::Ready { device: gpu.index });
    loop {
        match commands.recv() {
            Ok(Command::Solo(d)) => solo(&mut load, gpu.index, d, tx)?,
            Ok(Command::Load) => break,
            // The run ended before the load (an error on its thread).
            Err(_) => return Ok(()),
        }
    }
    let started = Instant::now();
    let mut index = 0;
    while started.elapsed() < s.duration && !crate::stop::requested() {
        let checks = if index == 0 {
            first.clone()
        } else {
            Vec::new()
        };
        let from_s = s.epoch.elapsed().as_secs_f64();
        let (row, sdc, freivalds) = interval(&mut load, open, s, (index, started), checks, done)?;
        let _ = tx.send(Event::Interval {
            device: gpu.index,
            row,
            sdc,
            freivalds,
            span_s: (from_s, s.epoch.elapsed().as_secs_f64()),
        });
        index += 1;
    }
    Ok(())
}

/// The solo rounds: rounds for `d` (at least one, unless the run is stopping), timed as the
/// intervals' are; their outputs are compared at the end of the first interval, as every
/// round's but an interval's last are overwritten before its comparison.
fn solo(
    load: &mut GpuLoad,
    device: u32,
    d: Duration,
    tx: &Sender<Event>,
) -> Result<(), WorkloadError> {
    let started = Instant::now();
    let mut samples: [Vec<f64>; 3] = Default::default();
    while !crate::stop::requested() {
        let mut round = [Tally::default(); 3];
        load.round(&mut round)?;
        for (i, r) in round.iter().enumerate() {
            samples[i].push(r.seconds / r.launches.max(1) as f64);
        }
        if started.elapsed() >= d {
            break;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let _ = tx.send(Event::Solo {
        device,
        samples,
        wall_s,
    });
    Ok(())
}

/// One interval: rounds until its end (or the burn's, or a stop), then every set compared with
/// the first results and one set checked against the reference.
fn interval(
    load: &mut GpuLoad,
    open: &OpenGpu,
    s: &Settings,
    (index, started): (usize, Instant),
    mut freivalds: Vec<FreivaldsRecord>,
    done: &mut Finished,
) -> Result<(BurnInterval, Vec<SdcRecord>, Vec<FreivaldsRecord>), WorkloadError> {
    let t_start = started.elapsed();
    let end = (s.interval * (index as u32 + 1)).min(s.duration);
    let recorder = open
        .telemetry
        .as_ref()
        .map(|t| t.clone().start(TELEMETRY_PERIOD, s.epoch));
    let mut tally = [Tally::default(); 3];
    loop {
        let mut round = [Tally::default(); 3];
        load.round(&mut round)?;
        for (i, r) in round.iter().enumerate() {
            done.samples[i].push(r.seconds / r.launches.max(1) as f64);
            tally[i].seconds += r.seconds;
            tally[i].launches += r.launches;
        }
        if started.elapsed() >= end || crate::stop::requested() {
            break;
        }
    }
    let t_end = started.elapsed();
    // The comparison is queued first: the GPU runs it while the telemetry stops.
    load.queue_comparison()?;
    let recording = recorder.map(|r| r.finish());
    let mut sdc = Vec::new();
    let (errors, differed) = load.read_comparison(index, &mut sdc)?;
    freivalds.extend(load.periodic_check(index, &differed)?);
    let mut row = BurnInterval {
        index,
        t_start_s: t_start.as_secs_f64(),
        t_end_s: t_end.as_secs_f64(),
        errors,
        ..BurnInterval::default()
    };
    rates(&mut row, &tally, s);
    if let Some(rec) = recording {
        row.sm_clock_mhz = rec.summary.sm_clock_mhz_median;
        row.temperature_c = rec.summary.temperature_c_max;
        row.power_w = rec.summary.power_w_median;
        row.throttle_reasons = rec.summary.throttle_reasons.clone();
        done.trace.extend(rec.trace);
    }
    Ok((row, sdc, freivalds))
}

/// The interval's throughput per lane, from the device time of its launches.
fn rates(row: &mut BurnInterval, tally: &[Tally; 3], s: &Settings) {
    for (lane, t) in LANES.iter().zip(tally) {
        let spec = lane.spec(s.gemm_size, s.triad_elements);
        let per_launch = if t.launches > 0 {
            t.seconds / t.launches as f64
        } else {
            f64::NAN
        };
        let rate = spec.throughput(per_launch);
        match lane {
            Lane::Sgemm => row.fp32_tflops = rate,
            Lane::Dgemm => row.fp64_tflops = rate,
            Lane::Triad => row.triad_gbps = rate,
        }
        row.launches += t.launches;
        row.busy_s += t.seconds;
    }
}
