//! The health faults of a simulated GPU (what a burn-in watches through NVML): ECC errors that
//! appear at a time, retired pages (or remapped rows), Xid events, PCIe replays, a GPU that heats
//! up until a hardware slowdown, and a software power cap (their grammar is in
//! `config::FAULT_GRAMMAR`). This file holds their parser ([`parse_health_fault`], called by `config::parse_fault`) and the state they give at a
//! moment ([`HealthFaults`]'s methods), which NVML (`crate::nvml_health`, `crate::nvml`) and the
//! time model (`crate::driver::timing`) read.
//!
//! Times (`@T`) are wall-clock seconds since the simulated driver started in the process: the
//! first call into the driver or NVML builds the machine ([`crate::driver::shared::machine`])
//! and starts its clock ([`crate::driver::shared::uptime_s`]). Wall time, not the simulated
//! device timeline: the device timeline only advances while kernels run, and health readings and
//! events come from the driver whether or not the GPU is busy, as on a real machine.

/// The fault names this file parses.
pub const HEALTH_FAULT_NAMES: &[&str] = &[
    "ecc",
    "retired-pages",
    "xid",
    "pcie-replays",
    "thermal",
    "power-cap",
];

/// The SM clock under `power-cap`, as a fraction of the max clock: a model assumption (a board
/// at its power cap loses a few percent of clock), not a measured figure.
pub const POWER_CAP_CLOCK_FRACTION: f64 = 0.95;

/// The largest Xid number the grammar accepts (NVIDIA's catalogue runs past 150).
pub const MAX_XID: u32 = 999;

/// One health fault, as parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthFault {
    /// `ecc=sbe@T` (`double` false) or `ecc=dbe@T`.
    Ecc { double: bool, at_s: f64 },
    /// `retired-pages=N[,pending]`.
    RetiredPages { pages: u32, pending: bool },
    /// `xid=N@T`.
    Xid { xid: u32, at_s: f64 },
    /// `pcie-replays=N`.
    PcieReplays(u32),
    /// `thermal=RISE[@T]`.
    Thermal {
        rise_c_per_s: f64,
        slowdown_at_s: Option<f64>,
    },
    /// `power-cap`.
    PowerCap,
}

/// The health faults of one GPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthFaults {
    /// When a corrected ECC error appears.
    pub sbe_at_s: Option<f64>,
    /// When an uncorrected ECC error appears.
    pub dbe_at_s: Option<f64>,
    /// Pages retired before the run, and whether a retirement is pending.
    pub retired_pages: Option<(u32, bool)>,
    /// (Xid, time) events.
    pub xids: Vec<(u32, f64)>,
    pub pcie_replays: Option<u32>,
    /// (°C per second, hardware slowdown from).
    pub thermal: Option<(f64, Option<f64>)>,
    pub power_cap: bool,
}

impl HealthFaults {
    /// Adds one parsed fault (a second one of the same kind replaces the first, except Xids,
    /// which add up).
    pub fn apply(&mut self, f: &HealthFault) {
        match *f {
            HealthFault::Ecc {
                double: false,
                at_s,
            } => self.sbe_at_s = Some(at_s),
            HealthFault::Ecc { double: true, at_s } => self.dbe_at_s = Some(at_s),
            HealthFault::RetiredPages { pages, pending } => {
                self.retired_pages = Some((pages, pending))
            }
            HealthFault::Xid { xid, at_s } => self.xids.push((xid, at_s)),
            HealthFault::PcieReplays(n) => self.pcie_replays = Some(n),
            HealthFault::Thermal {
                rise_c_per_s,
                slowdown_at_s,
            } => self.thermal = Some((rise_c_per_s, slowdown_at_s)),
            HealthFault::PowerCap => self.power_cap = true,
        }
    }

    /// Corrected ECC errors at `now_s`.
    pub fn corrected(&self, now_s: f64) -> u64 {
        u64::from(self.sbe_at_s.is_some_and(|t| now_s >= t))
    }

    /// Uncorrected ECC errors at `now_s`.
    pub fn uncorrected(&self, now_s: f64) -> u64 {
        u64::from(self.dbe_at_s.is_some_and(|t| now_s >= t))
    }

    /// Pages retired for multiple single-bit errors, and for double-bit errors, at `now_s`.
    pub fn retired(&self, now_s: f64) -> (u32, u32) {
        (
            self.retired_pages.map_or(0, |(n, _)| n),
            self.uncorrected(now_s) as u32,
        )
    }

    /// Whether a retirement (a row remap) waits for a reset at `now_s`.
    pub fn pending(&self, now_s: f64) -> bool {
        self.retired_pages.is_some_and(|(_, p)| p) || self.uncorrected(now_s) > 0
    }

    /// Whether the GPU is in hardware (thermal) slowdown at `now_s`.
    pub fn hw_slowdown(&self, now_s: f64) -> bool {
        self.thermal
            .is_some_and(|(_, at)| at.is_some_and(|t| now_s >= t))
    }

    /// The temperature reported at `now_s`, °C, from the model's temperature `model_c`
    /// (`crate::power`): `thermal=RISE[@T]` adds RISE °C per second since the driver started,
    /// up to the slowdown temperature, which it reports from T on.
    pub fn temperature_c(&self, model_c: f64, slowdown_c: u32, now_s: f64) -> u32 {
        match self.thermal {
            _ if self.hw_slowdown(now_s) => slowdown_c,
            Some((rise, _)) => {
                let t = model_c + rise * now_s.max(0.0);
                t.min(f64::from(slowdown_c)).round() as u32
            }
            None => model_c.round() as u32,
        }
    }

    /// The (Xid, time) events of the GPU, the Xid 48 of a double-bit error included, in time
    /// order.
    pub fn xid_events(&self) -> Vec<(u32, f64)> {
        let mut v = self.xids.clone();
        if let Some(t) = self.dbe_at_s {
            v.push((48, t));
        }
        v.sort_by(|a, b| a.1.total_cmp(&b.1));
        v
    }
}

/// A health fault's value that [`parse_health_fault`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadHealthFault {
    #[error("{name} needs a value: {name}={form}")]
    NeedsValue { name: String, form: &'static str },
    #[error("'{0}' is not a time: T is seconds since the simulated driver started, a number >= 0")]
    Time(String),
    #[error("{0} needs a whole number, e.g. {0}=3")]
    NotWhole(&'static str),
    #[error("ecc needs a time: ecc=sbe@T or ecc=dbe@T")]
    EccTime,
    #[error("ecc is sbe@T (corrected) or dbe@T (uncorrected)")]
    EccKind,
    #[error("retired-pages is N or N,pending")]
    RetiredPagesForm,
    #[error("xid needs a time: xid=N@T")]
    XidTime,
    #[error("the Xid must be 1 to {MAX_XID}")]
    XidRange,
    #[error("power-cap takes no value")]
    PowerCapValue,
    #[error("thermal=RISE[@T] needs 0 < RISE <= 100 (degrees C per second)")]
    ThermalRise,
    #[error("'{0}' is not a health fault")]
    Unknown(String),
}

/// A time `T` of `@T`: seconds, a finite number >= 0.
fn parse_time(t: &str) -> Result<f64, BadHealthFault> {
    match t.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(BadHealthFault::Time(t.to_string())),
    }
}

/// A whole number for `what`.
fn whole(v: &str, what: &'static str) -> Result<u32, BadHealthFault> {
    v.trim().parse().map_err(|_| BadHealthFault::NotWhole(what))
}

/// Parses the health fault `name` with its value `arg` (`None`: no `=`), or says what was
/// wrong. `name` is one of [`HEALTH_FAULT_NAMES`].
pub fn parse_health_fault(name: &str, arg: Option<&str>) -> Result<HealthFault, BadHealthFault> {
    let need = |form: &'static str| {
        arg.filter(|a| !a.is_empty())
            .ok_or_else(|| BadHealthFault::NeedsValue {
                name: name.to_string(),
                form,
            })
    };
    Ok(match name {
        "ecc" => {
            let v = need("sbe@T or dbe@T")?;
            let (kind, t) = v.split_once('@').ok_or(BadHealthFault::EccTime)?;
            let double = match kind.trim() {
                "sbe" => false,
                "dbe" => true,
                _ => return Err(BadHealthFault::EccKind),
            };
            HealthFault::Ecc {
                double,
                at_s: parse_time(t)?,
            }
        }
        "retired-pages" => {
            let v = need("N[,pending]")?;
            let (n, pending) = match v.split_once(',') {
                Some((n, "pending")) => (n, true),
                Some(_) => return Err(BadHealthFault::RetiredPagesForm),
                None => (v, false),
            };
            HealthFault::RetiredPages {
                pages: whole(n, "retired-pages")?,
                pending,
            }
        }
        "xid" => {
            let v = need("N@T")?;
            let (n, t) = v.split_once('@').ok_or(BadHealthFault::XidTime)?;
            let xid = whole(n, "xid")?;
            if !(1..=MAX_XID).contains(&xid) {
                return Err(BadHealthFault::XidRange);
            }
            HealthFault::Xid {
                xid,
                at_s: parse_time(t)?,
            }
        }
        "pcie-replays" => HealthFault::PcieReplays(whole(need("N")?, "pcie-replays")?),
        "thermal" => parse_thermal(need("RISE[@T]")?)?,
        "power-cap" => match arg {
            Some(_) => return Err(BadHealthFault::PowerCapValue),
            None => HealthFault::PowerCap,
        },
        other => return Err(BadHealthFault::Unknown(other.to_string())),
    })
}

/// `thermal=RISE[@T]`.
fn parse_thermal(v: &str) -> Result<HealthFault, BadHealthFault> {
    let (rise, at) = match v.split_once('@') {
        Some((r, t)) => (r, Some(parse_time(t)?)),
        None => (v, None),
    };
    match rise.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 100.0 => Ok(HealthFault::Thermal {
            rise_c_per_s: r,
            slowdown_at_s: at,
        }),
        _ => Err(BadHealthFault::ThermalRise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_states_follow_time() {
        let mut h = HealthFaults::default();
        for f in [
            HealthFault::Ecc {
                double: true,
                at_s: 2.0,
            },
            HealthFault::Xid { xid: 79, at_s: 1.0 },
            HealthFault::Thermal {
                rise_c_per_s: 10.0,
                slowdown_at_s: Some(3.0),
            },
        ] {
            h.apply(&f);
        }
        assert_eq!((h.uncorrected(1.9), h.uncorrected(2.0)), (0, 1));
        assert_eq!((h.pending(1.0), h.pending(2.5)), (false, true));
        assert_eq!(h.retired(2.5), (0, 1));
        assert_eq!(h.xid_events(), vec![(79, 1.0), (48, 2.0)]);
        assert_eq!(h.temperature_c(60.0, 90, 1.0), 70);
        assert_eq!(h.temperature_c(60.0, 90, 2.9), 89);
        assert!(!h.hw_slowdown(2.9) && h.hw_slowdown(3.0));
        assert_eq!(h.temperature_c(60.0, 90, 3.0), 90);
        assert_eq!(HealthFaults::default().temperature_c(60.4, 90, 50.0), 60);
    }
}
