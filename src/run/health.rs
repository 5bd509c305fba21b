//! Health over a run: every GPU's counters read when the run starts and when it ends, and
//! their Xid events watched in between ([`HealthWatch`]). The acceptance run begins it after
//! `Runner::start` and ends it before `Runner::finish`; a burn-in does the same around its
//! intervals, polling the events as each interval ends ([`HealthWatch::poll`]).
//!
//! NVML is opened for this on its own (by UUID, as the telemetry does): a GPU NVML cannot
//! find, or a machine without NVML, records why and is judged "not available", never failed
//! for it.

use std::sync::Arc;
use std::time::Instant;

use crate::model::health::{GpuHealth, HealthEvent, HealthSnapshot, Reading};
use crate::model::DeviceInfo;
use crate::probe::health::{slowdown_temperature, snapshot, XidWatchError, XidWatcher};
use crate::probe::telemetry::{self as nvml, GpuTelemetry};

/// One GPU being watched.
struct Watched {
    gpu: u32,
    device: Option<Arc<GpuTelemetry>>,
    before: Option<HealthSnapshot>,
    /// The GPU's slowdown temperature, or why it is not known.
    slowdown_c: Reading<u32>,
    note: Option<String>,
    events: Vec<HealthEvent>,
}

/// The health of a run's GPUs between [`HealthWatch::begin`] and [`HealthWatch::end`].
pub struct HealthWatch {
    epoch: Instant,
    gpus: Vec<Watched>,
    watcher: Result<XidWatcher, XidWatchError>,
}

impl HealthWatch {
    /// Reads every GPU's counters now and starts watching their Xid events; `epoch` is the
    /// start of the run (the zero of every time recorded).
    pub fn begin(gpus: &[DeviceInfo], epoch: Instant) -> HealthWatch {
        let mut watched: Vec<Watched> = gpus
            .iter()
            .map(|g| {
                let opened = nvml::open(&g.uuid, &g.pci_bus_id).map(Arc::new);
                let slowdown_c = match &opened {
                    Ok(d) => slowdown_temperature(d),
                    Err(e) => Reading::NotAvailable(format!("NVML: {e}")),
                };
                Watched {
                    gpu: g.index,
                    before: None,
                    slowdown_c,
                    note: opened.as_ref().err().map(|e| e.to_string()),
                    device: opened.ok(),
                    events: Vec::new(),
                }
            })
            .collect();
        for w in &mut watched {
            let at_s = epoch.elapsed().as_secs_f64();
            w.before = w.device.as_deref().map(|d| snapshot(d, at_s));
        }
        let devices: Vec<(u32, Arc<GpuTelemetry>)> = watched
            .iter()
            .filter_map(|w| w.device.clone().map(|d| (w.gpu, d)))
            .collect();
        let watcher = if devices.is_empty() {
            Err(XidWatchError::NoNvml)
        } else {
            XidWatcher::start(&devices, epoch)
        };
        HealthWatch {
            epoch,
            gpus: watched,
            watcher,
        }
    }

    /// The Xid events since the last poll (kept for [`HealthWatch::end`] too).
    pub fn poll(&mut self) -> Vec<HealthEvent> {
        let new = match &self.watcher {
            Ok(w) => w.poll(),
            Err(_) => Vec::new(),
        };
        self.keep(&new);
        new
    }

    fn keep(&mut self, events: &[HealthEvent]) {
        for e in events {
            if let Some(w) = self.gpus.iter_mut().find(|w| w.gpu == e.gpu) {
                w.events.push(e.clone());
            }
        }
    }

    /// Each GPU's health so far, for a run.json written while the run goes on: the counters
    /// read at the start, the events polled until now, no reading after yet.
    pub fn so_far(&self) -> Vec<GpuHealth> {
        self.gpus
            .iter()
            .map(|w| GpuHealth {
                gpu: w.gpu,
                before: w.before.clone(),
                after: None,
                events: w.events.clone(),
                events_unwatched: match &self.watcher {
                    Ok(x) => x
                        .unwatched
                        .iter()
                        .find(|(g, _)| *g == w.gpu)
                        .map(|(_, why)| why.clone()),
                    Err(why) => Some(why.to_string()),
                },
                note: w.note.clone(),
                slowdown_temperature_c: Some(w.slowdown_c.clone()),
            })
            .collect()
    }

    /// Stops watching, reads every GPU's counters again and gives each GPU's health.
    pub fn end(mut self) -> Vec<GpuHealth> {
        let watcher = std::mem::replace(&mut self.watcher, Err(XidWatchError::NoNvml));
        let (last, unwatched) = match watcher {
            Ok(w) => {
                let unwatched = w.unwatched.clone();
                (w.finish(), unwatched)
            }
            Err(why) => (Vec::new(), vec![(u32::MAX, why.to_string())]),
        };
        self.keep(&last);
        let epoch = self.epoch;
        self.gpus
            .into_iter()
            .map(|w| {
                let why = unwatched
                    .iter()
                    .find(|(g, _)| *g == w.gpu || *g == u32::MAX)
                    .map(|(_, why)| why.clone());
                let at_s = epoch.elapsed().as_secs_f64();
                GpuHealth {
                    gpu: w.gpu,
                    after: w.device.as_deref().map(|d| snapshot(d, at_s)),
                    before: w.before,
                    events: w.events,
                    events_unwatched: why,
                    note: w.note,
                    slowdown_temperature_c: Some(w.slowdown_c),
                }
            })
            .collect()
    }
}
