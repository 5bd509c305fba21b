//! The load-following power and heat of a simulated GPU: what NVML reports as its power,
//! temperature and utilisation while work runs on it, so that the telemetry of a burn rises and
//! levels off as a real one does. Each GPU has its own [`HeatState`]; the driver tells it when
//! an operation starts and ends on the GPU ([`HeatState::begin`], [`HeatState::end`]) and NVML
//! reads it ([`HeatState::reading`]).
//!
//! The model (the constants of a model file's `[nvml]` section, sim/README.md, "NVML"):
//!
//! - **Load** `b(t)`: the SMs' busy share of the operation running on the GPU, from the
//!   simulated timeline (a kernel's busy time over its time: below 1 when back-to-back kernels
//!   are shorter than the launch interval; 1 for a memset). The simulator runs an operation on
//!   the host when it is enqueued, over as much wall time as the host takes: the operation's
//!   share counts over that wall time. Between operations the GPU is idle, except for gaps
//!   shorter than [`QUEUE_HOLD_S`], which the work a real host queues ahead would cover. Copies
//!   run on the copy engines, not the SMs, and count as gaps.
//! - **Utilisation** `u`: the load averaged over the last [`UTILIZATION_WINDOW_S`] (a first-order
//!   average), what `nvmlDeviceGetUtilizationRates` reports.
//! - **Power**: `P = idle_power_w + D·u + leakage_w_per_c·(T − idle_temperature_c)`, capped by
//!   `power_limit_w`, where `D = load_power_w − idle_power_w − leakage_w_per_c·(load_temperature_c −
//!   idle_temperature_c)`: an idle GPU at its idle temperature draws `idle_power_w`, a fully
//!   loaded one at its load temperature `load_power_w`, and a GPU that heats draws more (static
//!   leakage grows with temperature). Under the `power-cap` fault the board asks for
//!   [`POWER_CAP_DEMAND`] × its power above idle, more than its limit at full load, and is held
//!   at the limit.
//! - **Temperature**: first order, `dT/dt = (T_amb + R·P − T) / thermal_time_constant_s`, with
//!   `R` and `T_amb` from the model's two steady states: `R = (load_temperature_c −
//!   idle_temperature_c) / (load_power_w − idle_power_w)`, `T_amb = idle_temperature_c −
//!   R·idle_power_w`. A loaded GPU rises towards `load_temperature_c` and levels off there.
//!
//! Time is wall time since the simulated driver started (`crate::driver::shared::uptime_s`),
//! the clock of the health faults; the `thermal=RISE[@T]` fault adds its rise on top of this
//! temperature (`crate::health::HealthFaults::temperature_c`).

use crate::model::Nvml;

/// The window of the utilisation average, seconds: NVML's sample period is "between 1 second
/// and 1/6 second, depending on the product" (nvmlUtilization_t); the older, slower end.
pub const UTILIZATION_WINDOW_S: f64 = 1.0;

/// A gap between two operations shorter than this, seconds, keeps the GPU loaded: a real host
/// queues work ahead, while the simulator runs each operation when it is enqueued. A model
/// assumption.
pub const QUEUE_HOLD_S: f64 = 0.1;

/// Under `power-cap`, the board asks for this many times the model's power above idle: more
/// than its limit at full load, so it is held at the limit. A model assumption.
pub const POWER_CAP_DEMAND: f64 = 1.5;

/// The longest integration step, seconds (the updates are exact exponentials per step; the
/// step only bounds how late the power follows the temperature).
const STEP_S: f64 = 0.05;

/// The constants of one GPU's power and heat, from its model's `[nvml]` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thermal {
    pub idle_power_w: f64,
    /// Power of the SMs at full load, above idle, at the idle temperature (`D`).
    pub dynamic_w: f64,
    pub leakage_w_per_c: f64,
    pub idle_c: f64,
    pub ambient_c: f64,
    /// Thermal resistance to the air, °C per W (`R`).
    pub r_c_per_w: f64,
    pub tau_s: f64,
    pub limit_w: f64,
    /// 1, or [`POWER_CAP_DEMAND`] under `power-cap`.
    pub demand: f64,
}

impl Thermal {
    /// The constants of `n`; `power_cap`: the `power-cap` fault.
    pub fn of(n: &Nvml, power_cap: bool) -> Thermal {
        let (p0, p1) = (f64::from(n.idle_power_w), f64::from(n.load_power_w));
        let (t0, t1) = (
            f64::from(n.idle_temperature_c),
            f64::from(n.load_temperature_c),
        );
        let r = (t1 - t0) / (p1 - p0);
        Thermal {
            idle_power_w: p0,
            dynamic_w: p1 - p0 - n.leakage_w_per_c * (t1 - t0),
            leakage_w_per_c: n.leakage_w_per_c,
            idle_c: t0,
            ambient_c: t0 - r * p0,
            r_c_per_w: r,
            tau_s: n.thermal_time_constant_s,
            limit_w: f64::from(n.power_limit_w),
            demand: if power_cap { POWER_CAP_DEMAND } else { 1.0 },
        }
    }

    /// The power the board asks for at utilisation `u` and temperature `t_c`, W.
    pub fn demand_w(&self, u: f64, t_c: f64) -> f64 {
        let above_idle =
            self.dynamic_w * u.clamp(0.0, 1.0) + self.leakage_w_per_c * (t_c - self.idle_c);
        (self.idle_power_w + self.demand * above_idle).max(0.0)
    }

    /// The power drawn, W: the demand, at most the limit.
    pub fn power_w(&self, u: f64, t_c: f64) -> f64 {
        self.demand_w(u, t_c).min(self.limit_w)
    }

    /// Whether the board is held at its power limit.
    pub fn capped(&self, u: f64, t_c: f64) -> bool {
        self.demand_w(u, t_c) >= self.limit_w
    }

    /// The temperature the GPU levels off at while drawing `p_w`, °C.
    pub fn steady_c(&self, p_w: f64) -> f64 {
        self.ambient_c + self.r_c_per_w * p_w
    }
}

/// What NVML reads of a GPU's power and heat at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub power_w: f64,
    pub temperature_c: f64,
    /// 0 to 1.
    pub utilization: f64,
    /// Held at the power limit.
    pub capped: bool,
}

/// One GPU's power and heat state, advanced in wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatState {
    /// The time the state is at, seconds since the driver started.
    at_s: f64,
    temperature_c: f64,
    utilization: f64,
    /// Operations running on the GPU now.
    running: u32,
    /// When the last operation ended.
    last_end_s: f64,
    /// The busy share of the last operation (of the running one, until it ends).
    share: f64,
}

impl HeatState {
    /// An idle GPU at its idle temperature at `now_s`.
    pub fn new(th: &Thermal, now_s: f64) -> HeatState {
        HeatState {
            at_s: now_s,
            temperature_c: th.idle_c,
            utilization: 0.0,
            running: 0,
            last_end_s: f64::NEG_INFINITY,
            share: 1.0,
        }
    }

    /// The load from `t` on, until the next event or the end of the queue's hold.
    fn load_at(&self, t: f64) -> f64 {
        if self.running > 0 || t < self.last_end_s + QUEUE_HOLD_S {
            self.share
        } else {
            0.0
        }
    }

    /// Brings the state to `now_s` (a time before the state's is ignored).
    pub fn advance(&mut self, th: &Thermal, now_s: f64) {
        while self.at_s < now_s {
            let load = self.load_at(self.at_s);
            let step = STEP_S.max((now_s - self.at_s) / 1000.0);
            let mut next = (self.at_s + step).min(now_s);
            let hold_end = self.last_end_s + QUEUE_HOLD_S;
            if self.running == 0 && self.at_s < hold_end && hold_end < next {
                next = hold_end;
            }
            let dt = next - self.at_s;
            self.utilization +=
                (load - self.utilization) * (1.0 - (-dt / UTILIZATION_WINDOW_S).exp());
            let p = th.power_w(self.utilization, self.temperature_c);
            self.temperature_c +=
                (th.steady_c(p) - self.temperature_c) * (1.0 - (-dt / th.tau_s).exp());
            self.at_s = next;
        }
    }

    /// An operation starts on the GPU at `now_s`.
    pub fn begin(&mut self, th: &Thermal, now_s: f64) {
        self.advance(th, now_s);
        self.running += 1;
    }

    /// An operation ends at `now_s`; `share` is the SMs' busy share of it on the simulated
    /// timeline (0 to 1).
    pub fn end(&mut self, th: &Thermal, now_s: f64, share: f64) {
        self.advance(th, now_s);
        self.running = self.running.saturating_sub(1);
        self.last_end_s = now_s;
        self.share = share.clamp(0.0, 1.0);
    }

    /// The power, temperature and utilisation at `now_s`.
    pub fn reading(&mut self, th: &Thermal, now_s: f64) -> Reading {
        self.advance(th, now_s);
        Reading {
            power_w: th.power_w(self.utilization, self.temperature_c),
            temperature_c: self.temperature_c,
            utilization: self.utilization,
            capped: self.capped(th),
        }
    }

    fn capped(&self, th: &Thermal) -> bool {
        th.capped(self.utilization, self.temperature_c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m40(power_cap: bool) -> Thermal {
        Thermal::of(&crate::model::load("m40").unwrap().nvml, power_cap)
    }

    /// A GPU loaded without a gap (operations back to back, `share` each) for `secs`, read
    /// every second: (power W, temperature °C) per second.
    fn loaded(th: &Thermal, secs: u32, share: f64) -> Vec<(f64, f64)> {
        let mut s = HeatState::new(th, 0.0);
        let mut out = Vec::new();
        let mut t = 0.0;
        for k in 1..=secs {
            while t < f64::from(k) {
                s.begin(th, t);
                t += 0.02;
                s.end(th, t, share);
            }
            let r = s.reading(th, t);
            out.push((r.power_w, r.temperature_c));
        }
        out
    }

    #[test]
    fn the_model_holds_the_m40_steady_states() {
        let th = m40(false);
        // Idle at the idle temperature draws the idle power; full load at the load
        // temperature the load power; each is its own steady state.
        assert!((th.power_w(0.0, 32.0) - 30.0).abs() < 1e-9);
        assert!((th.power_w(1.0, 64.0) - 225.0).abs() < 1e-9);
        assert!((th.steady_c(30.0) - 32.0).abs() < 1e-9);
        assert!((th.steady_c(225.0) - 64.0).abs() < 1e-9);
    }

    #[test]
    fn a_loaded_gpu_heats_and_draws_more_than_an_idle_one_then_levels_off() {
        let th = m40(false);
        let busy = loaded(&th, 600, 1.0);
        let mut idle = HeatState::new(&th, 0.0);
        let cold = idle.reading(&th, 600.0);
        assert_eq!((cold.power_w, cold.temperature_c), (30.0, 32.0));
        assert_eq!(cold.utilization, 0.0);
        // Rising: every second hotter and drawing more than the one before, for the first
        // minute.
        for w in busy[..60].windows(2) {
            assert!(w[1].1 > w[0].1 && w[1].0 > w[0].0, "{w:?}");
        }
        assert!(busy[0].0 > cold.power_w + 100.0, "{:?}", busy[0]);
        // Levelled off at the load temperature and power after many time constants.
        let (p, t) = busy[599];
        assert!(
            (t - 64.0).abs() < 0.1 && (p - 225.0).abs() < 0.5,
            "{p} W, {t} °C"
        );
        let (p2, t2) = busy[598];
        assert!((t - t2).abs() < 0.01 && (p - p2).abs() < 0.01);
        // Half a load (kernels shorter than the launch interval) levels off lower.
        let (ph, th_c) = loaded(&th, 600, 0.5)[599];
        assert!(
            ph < p - 50.0 && th_c < t - 5.0 && th_c > 40.0,
            "{ph} W, {th_c} °C"
        );
    }

    #[test]
    fn an_idle_gap_cools_a_gpu_and_a_short_one_does_not_count() {
        let th = m40(false);
        let mut s = HeatState::new(&th, 0.0);
        s.begin(&th, 0.0);
        s.end(&th, 30.0, 1.0);
        // Within the queue's hold the GPU is still loaded.
        let hot = s.reading(&th, 30.0 + QUEUE_HOLD_S / 2.0);
        assert!(hot.utilization > 0.99, "{hot:?}");
        let later = s.reading(&th, 60.0);
        assert!(later.temperature_c < hot.temperature_c - 1.0, "{later:?}");
        assert!(later.utilization < 0.01 && later.power_w < hot.power_w - 150.0);
    }

    #[test]
    fn power_never_exceeds_the_limit_and_power_cap_holds_it_there() {
        for cap in [false, true] {
            let th = m40(cap);
            for u in 0..=20 {
                for t in 20..=100 {
                    let (u, t) = (f64::from(u) / 20.0, f64::from(t));
                    assert!(th.power_w(u, t) <= 250.0, "{u} {t}");
                }
            }
        }
        // A healthy M40 at full load stays below its 250 W limit; under power-cap it is held
        // at the limit (and flagged), while idle it is not.
        let free = loaded(&m40(false), 60, 1.0);
        assert!(free.iter().all(|r| r.0 < 250.0));
        let th = m40(true);
        let capped = loaded(&th, 60, 1.0);
        assert!(capped[5..].iter().all(|r| r.0 == 250.0), "{capped:?}");
        assert!(th.capped(1.0, 64.0) && !th.capped(0.0, 32.0));
        // Held at 250 W it levels off hotter than at 225 W.
        assert!(capped[59].1 > free[59].1);
    }
}
