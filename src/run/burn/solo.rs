//! The burn's solo phase: before the machine is loaded at once, each GPU runs its rounds alone
//! for about one interval, one GPU after the other, the others waiting with their rings ready.
//! What each GPU reaches alone ([`SoloRun`], in the burn section) is set beside what the
//! machine reaches loaded at once (the gate's `machine.*` checks, the report's machine table):
//! GPUs that share a PCIe switch, a power supply or the cooling can be fast alone and slow
//! together. With one GPU there is nothing to compare: no solo phase (the run says so).
//!
//! [`SoloPhase`] is the order, pure: it is told what the GPUs' threads say and answers with
//! the [`Command`]s to send them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::measure::{stats, valid_samples};
use crate::model::burn::SoloRun;

use super::load::LANES;
use super::worker::{Command, Settings};

/// Who runs alone next, and when every GPU is loaded at once.
#[derive(Debug)]
pub(crate) struct SoloPhase {
    /// How long each GPU runs alone; `None`: no solo phase (one GPU).
    turn: Option<Duration>,
    /// GPUs whose ring is not ready yet (neither ready nor ended).
    waiting: BTreeSet<u32>,
    /// GPUs ready, in the order they said so.
    ready: Vec<u32>,
    /// GPUs still to run alone (the next one last), and the one running now.
    queue: Vec<u32>,
    current: Option<u32>,
    /// Whether the load was started (every ready GPU told [`Command::Load`]).
    loading: bool,
}

impl SoloPhase {
    /// The order for `devices`, each alone for `turn`; with fewer than two GPUs, none.
    pub(crate) fn new(devices: &[u32], turn: Duration) -> SoloPhase {
        SoloPhase {
            turn: (devices.len() > 1).then_some(turn),
            waiting: devices.iter().copied().collect(),
            ready: Vec::new(),
            queue: Vec::new(),
            current: None,
            loading: false,
        }
    }

    /// Whether the GPUs run alone first.
    pub(crate) fn runs(&self) -> bool {
        self.turn.is_some()
    }

    /// `device`'s ring is ready: once every GPU is ready (or ended), the first runs alone, or
    /// all are loaded.
    pub(crate) fn ready(&mut self, device: u32) -> Vec<(u32, Command)> {
        if self.waiting.remove(&device) {
            self.ready.push(device);
        }
        self.maybe_start()
    }

    /// `device`'s thread ended (an error, a stop): it is waited for no longer.
    pub(crate) fn ended(&mut self, device: u32) -> Vec<(u32, Command)> {
        self.waiting.remove(&device);
        self.ready.retain(|d| *d != device);
        self.queue.retain(|d| *d != device);
        if self.current == Some(device) {
            return self.next();
        }
        self.maybe_start()
    }

    /// `device` finished its turn alone: the next GPU's turn, or the load.
    pub(crate) fn solo_done(&mut self, device: u32) -> Vec<(u32, Command)> {
        if self.current == Some(device) {
            self.next()
        } else {
            Vec::new()
        }
    }

    fn maybe_start(&mut self) -> Vec<(u32, Command)> {
        if !self.waiting.is_empty() || self.loading || self.current.is_some() {
            return Vec::new();
        }
        if self.turn.is_some() && self.ready.len() > 1 && self.queue.is_empty() {
            // In device order (popped from the end).
            self.queue = self.ready.clone();
            self.queue.sort_unstable_by(|a, b| b.cmp(a));
        }
        self.next()
    }

    fn next(&mut self) -> Vec<(u32, Command)> {
        self.current = None;
        match (self.turn, self.queue.pop()) {
            (Some(turn), Some(d)) => {
                self.current = Some(d);
                vec![(d, Command::Solo(turn))]
            }
            _ => {
                self.loading = true;
                self.ready.iter().map(|d| (*d, Command::Load)).collect()
            }
        }
    }
}

/// A GPU's solo rounds as the burn section records them: per lane, the throughput of the
/// median seconds per launch.
pub(crate) fn solo_run(device: u32, samples: &[Vec<f64>; 3], wall_s: f64, s: &Settings) -> SoloRun {
    let mut run = SoloRun {
        device,
        duration_s: wall_s,
        rounds: samples[0].len(),
        ..SoloRun::default()
    };
    for (lane, lane_samples) in LANES.iter().zip(samples) {
        let spec = lane.spec(s.gemm_size, s.triad_elements);
        let valid = valid_samples(lane_samples);
        let rate = if valid.is_empty() {
            f64::NAN
        } else {
            spec.throughput(stats::summarize(&valid).median)
        };
        match lane {
            super::load::Lane::Sgemm => run.fp32_tflops = rate,
            super::load::Lane::Dgemm => run.fp64_tflops = rate,
            super::load::Lane::Triad => run.triad_gbps = rate,
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURN: Duration = Duration::from_secs(1);

    #[test]
    fn two_gpus_run_alone_in_turn_then_together() {
        let mut p = SoloPhase::new(&[0, 1], TURN);
        assert!(p.runs());
        assert!(p.ready(1).is_empty(), "GPU 0 is not ready yet");
        // In device order, whichever was ready first.
        assert_eq!(p.ready(0), vec![(0, Command::Solo(TURN))]);
        assert!(p.solo_done(1).is_empty(), "not GPU 1's turn");
        assert_eq!(p.solo_done(0), vec![(1, Command::Solo(TURN))]);
        assert_eq!(p.solo_done(1), vec![(1, Command::Load), (0, Command::Load)]);
        assert!(p.solo_done(1).is_empty());
    }

    #[test]
    fn one_gpu_is_loaded_at_once() {
        let mut p = SoloPhase::new(&[3], TURN);
        assert!(!p.runs());
        assert_eq!(p.ready(3), vec![(3, Command::Load)]);
    }

    #[test]
    fn a_gpu_that_ends_is_waited_for_no_longer() {
        // Before it is ready: the other runs alone, then is loaded.
        let mut p = SoloPhase::new(&[0, 1, 2], TURN);
        p.ready(0);
        p.ready(2);
        assert_eq!(p.ended(1), vec![(0, Command::Solo(TURN))]);
        // During its turn: the next one's turn.
        assert_eq!(p.ended(0), vec![(2, Command::Solo(TURN))]);
        assert_eq!(p.solo_done(2), vec![(2, Command::Load)]);
        // Of two, one ended before the start: the other alone is the load, no solo turn.
        let mut p = SoloPhase::new(&[0, 1], TURN);
        p.ready(0);
        assert_eq!(p.ended(1), vec![(0, Command::Load)]);
    }

    #[test]
    fn solo_rounds_give_the_median_rate_per_lane() {
        let s = Settings {
            duration: TURN,
            interval: TURN,
            gemm_size: 128,
            triad_elements: 1 << 10,
            memory_share: 0.1,
            seed: 1,
            epoch: std::time::Instant::now(),
        };
        let flops = 2.0 * 128f64.powi(3);
        // Lanes in LANES' order: SGEMM, triad, DGEMM.
        let samples = [vec![1e-3, 2e-3, 4e-3], vec![1e-4; 3], vec![1e-2; 3]];
        let r = solo_run(1, &samples, 0.5, &s);
        assert_eq!((r.device, r.rounds, r.duration_s), (1, 3, 0.5));
        assert!((r.fp32_tflops - flops / 2e-3 / 1e12).abs() < 1e-12, "{r:?}");
        assert!((r.fp64_tflops - flops / 1e-2 / 1e12).abs() < 1e-12, "{r:?}");
        assert!(r.triad_gbps > 0.0);
        let none = solo_run(0, &Default::default(), 0.0, &s);
        assert!(none.fp32_tflops.is_nan() && none.rounds == 0);
    }
}
