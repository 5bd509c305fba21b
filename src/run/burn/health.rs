//! The burn-in's health stage ([`BurnHealth`], over `crate::run::health::HealthWatch`): every
//! GPU's NVML counters (ECC, retired pages or remapped rows, PCIe replays) read before the
//! memory test and the load, its Xid events polled as each interval ends and recorded with the
//! interval they came in ([`interval_of`]), the counters read again after the load. The gate
//! judges them as it judges an acceptance run's (`crate::gate::health`), the throttle share
//! over the burn's own interval telemetry included.

use std::collections::BTreeMap;
use std::time::Instant;

pub(crate) use crate::model::burn::{interval_of, Span};
use crate::model::health::GpuHealth;
use crate::model::DeviceInfo;
use crate::run::health::HealthWatch;

/// The health of a burn's GPUs, watched from before the memory test to after the load.
pub(crate) struct BurnHealth {
    watch: HealthWatch,
    /// Per GPU, its finished intervals in order.
    spans: BTreeMap<u32, Vec<Span>>,
}

impl BurnHealth {
    /// Reads every GPU's counters and starts watching their Xid events; `epoch` is the start
    /// of the run (the zero of the telemetry and of the spans).
    pub(crate) fn begin(gpus: &[DeviceInfo], epoch: Instant) -> BurnHealth {
        BurnHealth {
            watch: HealthWatch::begin(gpus, epoch),
            spans: BTreeMap::new(),
        }
    }

    /// GPU `gpu` finished an interval: its span is kept and the Xid events since the last
    /// poll are polled. Gives the health so far (no reading after yet), every event with the
    /// interval it came in where that interval has ended.
    pub(crate) fn interval_ended(&mut self, gpu: u32, span: Span) -> Vec<GpuHealth> {
        self.spans.entry(gpu).or_default().push(span);
        self.watch.poll();
        tagged(self.watch.so_far(), &self.spans)
    }

    /// Stops watching and reads the counters again: each GPU's health over the burn, every
    /// event with its interval (None: before the first interval or after the last).
    pub(crate) fn end(self) -> Vec<GpuHealth> {
        tagged(self.watch.end(), &self.spans)
    }
}

/// `health` with each event's interval from its GPU's spans.
fn tagged(mut health: Vec<GpuHealth>, spans: &BTreeMap<u32, Vec<Span>>) -> Vec<GpuHealth> {
    for h in &mut health {
        let gpu_spans = spans.get(&h.gpu).map_or(&[][..], |s| s.as_slice());
        for e in &mut h.events {
            e.interval = interval_of(gpu_spans, e.at_s);
        }
    }
    health
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::HealthEvent;

    fn spans() -> Vec<Span> {
        [(0, 2.0, 3.1), (1, 3.2, 4.3), (2, 4.4, 5.5)]
            .map(|(index, from_s, to_s)| Span {
                index,
                from_s,
                to_s,
            })
            .to_vec()
    }

    #[test]
    fn an_event_takes_the_interval_it_came_in() {
        // (moment, interval): before the load, at a start, inside, between two intervals
        // (the earlier one's comparison), at the last end, after the load.
        let cases = [
            (0.5, None),
            (2.0, Some(0)),
            (2.5, Some(0)),
            (3.15, Some(0)),
            (3.2, Some(1)),
            (5.5, Some(2)),
            (5.6, None),
        ];
        for (at_s, want) in cases {
            assert_eq!(interval_of(&spans(), at_s), want, "at {at_s} s");
        }
        assert_eq!(interval_of(&[], 1.0), None);
    }

    #[test]
    fn each_gpus_events_are_tagged_by_its_own_intervals() {
        let event = |gpu, at_s| HealthEvent {
            gpu,
            xid: 79,
            at_s,
            interval: None,
        };
        let health = |gpu, at_s| GpuHealth {
            gpu,
            before: None,
            after: None,
            events: vec![event(gpu, at_s)],
            events_unwatched: None,
            note: None,
            slowdown_temperature_c: None,
        };
        let mut by_gpu = BTreeMap::new();
        by_gpu.insert(0, spans());
        let later: Vec<Span> = spans()
            .into_iter()
            .map(|s| Span {
                from_s: s.from_s + 1.0,
                to_s: s.to_s + 1.0,
                ..s
            })
            .collect();
        by_gpu.insert(1, later);
        let out = tagged(
            vec![health(0, 3.5), health(1, 3.5), health(2, 3.5)],
            &by_gpu,
        );
        let got: Vec<Option<usize>> = out.iter().map(|h| h.events[0].interval).collect();
        assert_eq!(got, [Some(1), Some(0), None]);
    }
}
