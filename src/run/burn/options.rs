//! What `gpugate burn` is asked to do ([`BurnOptions`]), each level's defaults
//! ([`BurnDefaults`]), the parser of its durations ([`parse_duration`]) and the checks of the
//! options before anything is created ([`BurnOptions::check`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::gate::burn_drift::{DEFAULT_DRIFT_SOURCE, DEFAULT_MAX_DRIFT};
use crate::gate::{Profile, DEFAULT_MEMTEST_COVERAGE};
use crate::model::profile::{BurnLimits, MAX_BURN_DURATION_S};
use crate::model::Level;
use crate::plan::SizeOverrides;

use super::super::{BackendChoice, RunOptions};

/// The longest burn accepted ([`MAX_BURN_DURATION_S`]: a week).
pub const MAX_DURATION: Duration = Duration::from_secs(MAX_BURN_DURATION_S);

/// The within-machine share: every GPU must reach (1 − this) × the best GPU of its machine.
pub const WITHIN_MACHINE_SHARE: f64 = 0.10;
/// Where [`WITHIN_MACHINE_SHARE`] comes from.
pub const WITHIN_MACHINE_SOURCE: &str = "gpugate default (10 %): DESIGN.md, burn-in: every GPU \
     stays within a share of the best GPU of its machine";

/// What `gpugate burn` was asked to do.
#[derive(Debug, Clone)]
pub struct BurnOptions {
    /// Built-in profile name or TOML path; None = auto.
    pub profile: Option<String>,
    pub level: Level,
    /// Wall time of the load; None = the level's.
    pub duration: Option<Duration>,
    /// Wall time of one interval; None = [`BurnDefaults::interval`].
    pub interval: Option<Duration>,
    /// Square GEMM size; None = the level's.
    pub gemm_size: Option<usize>,
    /// Share of free memory the ring fills, 0 < share ≤ 1; None = 0.9.
    pub memory_share: Option<f64>,
    /// GPU ordinals; None = all.
    pub gpus: Option<Vec<u32>>,
    /// Bytes of each copy of the P2P stage; None = [`crate::p2p::DEFAULT_P2P_BYTES`].
    pub p2p_bytes: Option<usize>,
    pub out: PathBuf,
    pub seed: Option<u64>,
    pub retune: bool,
    pub allow_simulated: bool,
    pub command_line: Vec<String>,
}

/// A level's burn: duration, interval, GEMM size and memory share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnDefaults {
    pub duration: Duration,
    pub interval: Duration,
    pub gemm_size: usize,
    pub memory_share: f64,
}

impl BurnDefaults {
    /// The level's burn. GEMM sizes keep a Tesla M40's DGEMM (0.2 TFLOPS) at most 0.7 s per
    /// launch (4096³), so that a 10 s interval holds many launches of every lane.
    pub fn for_level(level: Level) -> BurnDefaults {
        let (minutes, gemm_size) = match level {
            Level::Quick => (2, 1024),
            Level::Standard => (10, 2048),
            Level::Full => (60, 4096),
        };
        BurnDefaults {
            duration: Duration::from_secs(minutes * 60),
            interval: Duration::from_secs(10),
            gemm_size,
            memory_share: 0.9,
        }
    }
}

/// The burn's limits as the gate will read them, each with where it came from: the
/// profile's `[burn]` block, else gpugate's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnRules {
    pub within_machine_share: f64,
    pub within_machine_source: String,
    pub max_drift: f64,
    pub drift_source: String,
}

impl BurnRules {
    pub fn of(limits: Option<&BurnLimits>) -> BurnRules {
        match limits {
            Some(l) => BurnRules {
                within_machine_share: l.within_machine_share,
                within_machine_source: format!("profile [burn]: {}", l.source),
                max_drift: l.max_drift,
                drift_source: format!("profile [burn]: {}", l.source),
            },
            None => BurnRules {
                within_machine_share: WITHIN_MACHINE_SHARE,
                within_machine_source: WITHIN_MACHINE_SOURCE.to_string(),
                max_drift: DEFAULT_MAX_DRIFT,
                drift_source: DEFAULT_DRIFT_SOURCE.to_string(),
            },
        }
    }
}

/// The profile's duration of `level`, where its `[burn]` block gives one.
fn profile_duration(level: Level, limits: Option<&BurnLimits>) -> Option<Duration> {
    let l = limits?;
    let secs = match level {
        Level::Quick => l.quick_duration_s,
        Level::Standard => l.standard_duration_s,
        Level::Full => l.full_duration_s,
    }?;
    Some(Duration::from_secs_f64(secs))
}

impl BurnOptions {
    /// The level's defaults with the user's overrides.
    pub fn resolved(&self) -> BurnDefaults {
        self.resolved_with(None)
    }

    /// The level's defaults, the profile's `[burn]` duration over them, the user's overrides
    /// over both.
    pub fn resolved_with(&self, limits: Option<&BurnLimits>) -> BurnDefaults {
        let d = BurnDefaults::for_level(self.level);
        let duration = profile_duration(self.level, limits).unwrap_or(d.duration);
        BurnDefaults {
            duration: self.duration.unwrap_or(duration),
            interval: self.interval.unwrap_or(d.interval),
            gemm_size: self.gemm_size.unwrap_or(d.gemm_size),
            memory_share: self.memory_share.unwrap_or(d.memory_share),
        }
    }

    /// Everything that makes the burn unable to run, before anything is created: a duration
    /// of 0 or above [`MAX_DURATION`], an interval of 0 or longer than the duration, a GPU
    /// named twice, a memory share outside (0, 100 %], a GEMM size of 0.
    pub fn check(&self) -> Result<(), Error> {
        self.check_with(None)
    }

    /// Where the duration comes from: `--duration`, the profile's `[burn]`, or the level.
    pub fn duration_source(&self, limits: Option<&BurnLimits>) -> String {
        let level = match self.level {
            Level::Quick => "quick",
            Level::Standard => "standard",
            Level::Full => "full",
        };
        if self.duration.is_some() {
            "--duration".into()
        } else if profile_duration(self.level, limits).is_some() {
            format!("profile [burn] {level}_duration_s")
        } else {
            format!("gpugate's {level} level")
        }
    }

    /// [`Self::check`] with the profile's `[burn]` duration in place of the level's.
    pub fn check_with(&self, limits: Option<&BurnLimits>) -> Result<(), Error> {
        let r = self.resolved_with(limits);
        let usage = |m: String| Err(Error::Usage(m));
        if r.duration.is_zero() || r.duration > MAX_DURATION {
            return usage(format!(
                "--duration {}: give more than 0 and at most 7 days (e.g. 10m, 2h)",
                show(r.duration)
            ));
        }
        if r.interval.is_zero() || r.interval > r.duration {
            return usage(format!(
                "--interval {}: give more than 0 and at most the duration ({}), e.g. 10s",
                show(r.interval),
                show(r.duration)
            ));
        }
        if let Some(list) = &self.gpus {
            if let Some(g) = list
                .iter()
                .find(|g| list.iter().filter(|h| h == g).count() > 1)
            {
                return usage(format!(
                    "--gpus names GPU {g} twice: name each GPU once (e.g. --gpus 0,1)"
                ));
            }
        }
        if !(r.memory_share > 0.0 && r.memory_share <= 1.0) {
            return usage(format!(
                "--memory-share {}: give a percentage above 0 and at most 100 (e.g. 90)",
                r.memory_share * 100.0
            ));
        }
        if r.gemm_size == 0 {
            return usage("--gemm-size 0: give a GEMM size of at least 1 (e.g. 384)".into());
        }
        Ok(())
    }

    /// The share of each GPU's free memory the burn's memory test covers, percent:
    /// `--memory-share` when it is given (the share the ring will load is the share tested),
    /// else the profile's `[memtest]` coverage (the gate's default without one), which the
    /// memory test's coverage check asks for.
    pub fn memtest_share(&self, profile: &Profile) -> f64 {
        match self.memory_share {
            Some(share) => share * 100.0,
            None => profile
                .memtest
                .as_ref()
                .map_or(DEFAULT_MEMTEST_COVERAGE, |m| m.min_coverage_percent),
        }
    }

    /// The acceptance run's options the shared stages read (start, plan, open, tune).
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            profile: self.profile.clone(),
            level: self.level,
            gpus: self.gpus.clone(),
            backend: BackendChoice::Cuda,
            out: self.out.clone(),
            seed: self.seed,
            retune: self.retune,
            sizes: SizeOverrides {
                gemm: Some(vec![self.resolved().gemm_size]),
                ..SizeOverrides::default()
            },
            sampling: Default::default(),
            allow_simulated: self.allow_simulated,
            command_line: self.command_line.clone(),
        }
    }
}

/// A duration that [`parse_duration`] refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadDuration {
    #[error("{0:?} is not a duration: write e.g. 10m, 90s or 2h")]
    NotADuration(String),
    #[error("{given:?}: unknown unit {unit:?}; write a number with ms, s, m, h or d (e.g. 10m)")]
    Unit { given: String, unit: String },
}

/// A duration as the user writes it: a number with `ms`, `s`, `m`, `h` or `d` (a bare number
/// is seconds), e.g. `10m`, `90s`, `1.5h`. Refuses what is not a finite number ≥ 0.
pub fn parse_duration(s: &str) -> Result<Duration, BadDuration> {
    let t = s.trim();
    let not_one = || BadDuration::NotADuration(s.to_string());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(not_one());
    }
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        other => {
            return Err(BadDuration::Unit {
                given: s.to_string(),
                unit: other.to_string(),
            })
        }
    };
    let v: f64 = num.parse().map_err(|_| not_one())?;
    let secs = v * scale;
    if !secs.is_finite() || secs > 1e12 {
        return Err(not_one());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration as the messages show it.
fn show(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts() -> BurnOptions {
        BurnOptions {
            profile: None,
            level: Level::Quick,
            duration: None,
            interval: None,
            gemm_size: None,
            memory_share: None,
            gpus: None,
            p2p_bytes: None,
            out: PathBuf::from("unused"),
            seed: None,
            retune: false,
            allow_simulated: false,
            command_line: Vec::new(),
        }
    }

    #[test]
    fn bad_options_are_refused_with_what_was_wrong() {
        let secs = |s: u64| Some(Duration::from_secs(s));
        let cases: Vec<(&str, BurnOptions, &str)> = vec![
            (
                "zero",
                BurnOptions {
                    duration: secs(0),
                    ..opts()
                },
                "--duration",
            ),
            (
                "a year",
                BurnOptions {
                    duration: secs(365 * 86400),
                    ..opts()
                },
                "7 days",
            ),
            (
                "interval 0",
                BurnOptions {
                    interval: secs(0),
                    ..opts()
                },
                "--interval",
            ),
            (
                "interval > duration",
                BurnOptions {
                    duration: secs(5),
                    interval: secs(6),
                    ..opts()
                },
                "at most the duration",
            ),
            (
                "gpu twice",
                BurnOptions {
                    gpus: Some(vec![0, 1, 0]),
                    ..opts()
                },
                "GPU 0 twice",
            ),
            (
                "share 101",
                BurnOptions {
                    memory_share: Some(1.01),
                    ..opts()
                },
                "--memory-share",
            ),
            (
                "share 0",
                BurnOptions {
                    memory_share: Some(0.0),
                    ..opts()
                },
                "--memory-share",
            ),
            (
                "gemm 0",
                BurnOptions {
                    gemm_size: Some(0),
                    ..opts()
                },
                "--gemm-size",
            ),
        ];
        for (name, o, needle) in cases {
            let e = o.check().expect_err(name).to_string();
            assert!(e.contains(needle), "{name}: {e}");
        }
        let fine = BurnOptions {
            duration: secs(3),
            interval: secs(1),
            gpus: Some(vec![0, 1]),
            memory_share: Some(1.0),
            ..opts()
        };
        fine.check().unwrap();
        assert_eq!(fine.run_options().sizes.gemm, Some(vec![1024]));
    }

    /// The profile's `[burn]` duration replaces the level's, `--duration` replaces both, and
    /// the section's limits come from the profile (else gpugate's defaults), with their source.
    #[test]
    fn the_profile_sets_the_duration_and_limits_and_the_command_line_wins() {
        let limits = BurnLimits {
            quick_duration_s: Some(30.0),
            standard_duration_s: None,
            full_duration_s: None,
            max_drift: 0.05,
            within_machine_share: 0.2,
            source: "the test's".into(),
            targets: Vec::new(),
        };
        let o = opts();
        assert_eq!(
            o.resolved_with(Some(&limits)).duration,
            Duration::from_secs(30)
        );
        assert_eq!(
            o.duration_source(Some(&limits)),
            "profile [burn] quick_duration_s"
        );
        assert_eq!(o.resolved_with(None).duration, Duration::from_secs(120));
        assert_eq!(o.duration_source(None), "gpugate's quick level");
        let standard = BurnOptions {
            level: Level::Standard,
            ..opts()
        };
        assert_eq!(
            standard.resolved_with(Some(&limits)).duration,
            Duration::from_secs(600)
        );
        let cli = BurnOptions {
            duration: Some(Duration::from_secs(7)),
            ..opts()
        };
        assert_eq!(
            cli.resolved_with(Some(&limits)).duration,
            Duration::from_secs(7)
        );
        assert_eq!(cli.duration_source(Some(&limits)), "--duration");
        // An interval longer than the profile's duration is refused as the level's would be.
        let long_interval = BurnOptions {
            interval: Some(Duration::from_secs(60)),
            ..opts()
        };
        long_interval.check().unwrap();
        let e = long_interval
            .check_with(Some(&limits))
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most the duration (30 s)"), "{e}");
        let rules = BurnRules::of(Some(&limits));
        assert_eq!((rules.max_drift, rules.within_machine_share), (0.05, 0.2));
        assert_eq!(rules.drift_source, "profile [burn]: the test's");
        let defaults = BurnRules::of(None);
        assert_eq!(defaults.max_drift, DEFAULT_MAX_DRIFT);
        assert_eq!(defaults.within_machine_source, WITHIN_MACHINE_SOURCE);
    }

    #[test]
    fn durations_parse_with_their_units() {
        for (s, secs) in [
            ("10m", 600.0),
            ("90s", 90.0),
            ("90", 90.0),
            ("1.5h", 5400.0),
        ] {
            assert_eq!(parse_duration(s).unwrap().as_secs_f64(), secs, "{s}");
        }
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172800);
        for bad in ["", "m", "10x", "-3s", "1e400", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_memory_test_covers_the_given_share_else_the_profiles() {
        let mut profile = crate::gate::auto_profile(&[]);
        profile.memtest = None;
        let given = BurnOptions {
            memory_share: Some(0.004),
            ..opts()
        };
        assert_eq!(given.memtest_share(&profile), 0.4);
        assert_eq!(opts().memtest_share(&profile), DEFAULT_MEMTEST_COVERAGE);
        profile.memtest = Some(crate::model::profile::MemtestTarget {
            min_coverage_percent: 75.0,
            source: "test".into(),
        });
        assert_eq!(opts().memtest_share(&profile), 75.0);
        assert_eq!(given.memtest_share(&profile), 0.4);
    }

    proptest! {
        /// Whole numbers of every unit read back exactly.
        #[test]
        fn whole_durations_round_trip(v in 0u64..100_000, unit in 0usize..4) {
            let (suffix, scale) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86400)][unit];
            let d = parse_duration(&format!("{v}{suffix}")).unwrap();
            prop_assert_eq!(d, Duration::from_secs(v * scale));
        }
    }
}
