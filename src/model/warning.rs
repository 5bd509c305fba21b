//! What a measurement says beside its numbers: [`MeasurementWarning`], a closed list with the
//! data of each warning, written to run.json tagged by `kind` (schema 4 on) and turned into
//! text in one place, its `Display`, which every report calls. Code that reads a warning back
//! matches on its variant, never on its text.
//!
//! run.json files of schemas 1 to 3 stored warnings as text: [`read`] parses such a text once,
//! when the file is read ([`MeasurementWarning::from_legacy`]), into the variant that renders
//! to exactly that text, or into [`MeasurementWarning::Other`], which renders it verbatim.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

use super::{nonfinite, NVENC_UNKNOWN};

/// One warning on a measurement. Fractions are fractions (0.113 is 11.3 %), times seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MeasurementWarning {
    /// `invalid` of `samples` samples had a device time of zero or less, or not a number
    /// (`all_zero`: every one of them was exactly 0 s); they are left out of the summary.
    InvalidTime {
        invalid: usize,
        samples: usize,
        all_zero: bool,
    },
    /// Sampling stopped after `samples` samples and `seconds` because the run was asked to stop.
    Interrupted {
        samples: usize,
        #[serde(with = "nonfinite")]
        seconds: f64,
    },
    /// The timeout (`timeout_s`) came before the `wanted` samples: each sample is slow here.
    TooFewSamples {
        samples: usize,
        wanted: usize,
        #[serde(with = "nonfinite")]
        timeout_s: f64,
        #[serde(with = "nonfinite")]
        rel_stddev: f64,
    },
    /// The timeout came before the relative standard deviation fell below `target`.
    NoiseNotReached {
        #[serde(with = "nonfinite")]
        target: f64,
        #[serde(with = "nonfinite")]
        timeout_s: f64,
        #[serde(with = "nonfinite")]
        rel_stddev: f64,
        samples: usize,
    },
    /// The relative standard deviation is above `limit`; `on_gpu`: measured on a GPU, so the
    /// text names the GPU's likely causes.
    Noisy {
        #[serde(with = "nonfinite")]
        rel_stddev: f64,
        #[serde(with = "nonfinite")]
        limit: f64,
        #[serde(default, skip_serializing_if = "is_false")]
        on_gpu: bool,
    },
    /// The samples slowed down by `slowdown` from the start of the measurement to its end;
    /// `on_gpu` as for [`MeasurementWarning::Noisy`].
    Drift {
        #[serde(with = "nonfinite")]
        slowdown: f64,
        #[serde(default, skip_serializing_if = "is_false")]
        on_gpu: bool,
    },
    /// The slowest sample took `ratio` times the fastest.
    Spread {
        #[serde(with = "nonfinite")]
        ratio: f64,
    },
    /// NVML reported throttle `reasons` during `share` of the measurement; the SM clock it
    /// held (median) and the GPU's maximum, where both are known.
    Throttled {
        #[serde(with = "nonfinite")]
        share: f64,
        reasons: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sm_clock_held_mhz: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sm_clock_max_mhz: Option<u32>,
    },
    /// A hardware encode's frames per second are those while every session was encoding;
    /// `wall_fps`: each run's over the whole wall time, start-up included.
    EncodeSteadyFps {
        #[serde(with = "nonfinite_seq")]
        wall_fps: Vec<f64>,
    },
    /// ffmpeg reported no progress mid-run: the frames per second are over the wall time.
    EncodeNoProgress,
    /// The GPU's NVENC engine count is unknown: `sessions` sessions were run, as for one engine.
    NvencEnginesUnknown { sessions: usize },
    /// A warning of an older run.json that is none of the above, kept as it was written.
    Other { text: String },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What the text of a noisy GPU measurement adds: its likely causes.
const NOISY_ON_GPU: &str = ": another process on the GPU, clock changes or throttling";
/// What the text of a drifting GPU measurement adds.
const DRIFT_ON_GPU: &str = " (thermal or power throttling?)";
const INVALID_TIME_WHY: &str =
    "a time of zero or less is never a sample (the timer did not count, or nothing ran)";
const STEADY_FPS: &str = "fps while every session was encoding (start-up excluded); over the \
                          whole wall time, start-up included: ";
const NO_PROGRESS: &str =
    "ffmpeg reported no progress mid-run: fps over the wall time, start-up included";

impl fmt::Display for MeasurementWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MeasurementWarning::*;
        match self {
            InvalidTime {
                invalid,
                samples,
                all_zero,
            } => fmt_invalid_time(f, *invalid, *samples, *all_zero),
            Interrupted { samples, seconds } => write!(
                f,
                "interrupted after {samples} sample(s) in {seconds:.2} s: the run was asked to stop"
            ),
            TooFewSamples {
                samples,
                wanted,
                timeout_s,
                rel_stddev,
            } => write!(
                f,
                "took {samples} of the {wanted} samples wanted within {timeout_s:.1} s (each \
                 sample is slow here; rel. stddev {:.2}%)",
                rel_stddev * 100.0
            ),
            NoiseNotReached {
                target,
                timeout_s,
                rel_stddev,
                samples,
            } => write!(
                f,
                "did not reach {:.1}% noise within {timeout_s:.1} s (rel. stddev {:.2}% over \
                 {samples} samples)",
                target * 100.0,
                rel_stddev * 100.0
            ),
            Noisy {
                rel_stddev,
                limit,
                on_gpu,
            } => write!(
                f,
                "noisy: rel. stddev {:.1}% (> {:.0}%){}",
                rel_stddev * 100.0,
                limit * 100.0,
                if *on_gpu { NOISY_ON_GPU } else { "" }
            ),
            Drift { slowdown, on_gpu } => write!(
                f,
                "slowed down by {:.1}% during the measurement{}",
                slowdown * 100.0,
                if *on_gpu { DRIFT_ON_GPU } else { "" }
            ),
            Spread { ratio } => write!(f, "slowest sample took {ratio:.2}× the fastest"),
            Throttled {
                share,
                reasons,
                sm_clock_held_mhz,
                sm_clock_max_mhz,
            } => {
                write!(
                    f,
                    "throttled during {:.0}% of the measurement ({})",
                    share * 100.0,
                    reasons.join(", ")
                )?;
                match (sm_clock_held_mhz, sm_clock_max_mhz) {
                    (Some(held), Some(max)) => write!(f, "; SM clock held {held:.0} of {max} MHz"),
                    _ => Ok(()),
                }
            }
            EncodeSteadyFps { wall_fps } => {
                let each: Vec<String> = wall_fps.iter().map(|x| format!("{x:.1}")).collect();
                write!(f, "{STEADY_FPS}{} fps", each.join(", "))
            }
            EncodeNoProgress => f.write_str(NO_PROGRESS),
            NvencEnginesUnknown { sessions } => {
                write!(f, "{NVENC_UNKNOWN}: {sessions} sessions, as for one engine")
            }
            Other { text } => f.write_str(text),
        }
    }
}

/// The text of [`MeasurementWarning::InvalidTime`].
fn fmt_invalid_time(
    f: &mut fmt::Formatter<'_>,
    invalid: usize,
    samples: usize,
    all_zero: bool,
) -> fmt::Result {
    let what = if all_zero {
        "0 s"
    } else {
        "0 s or less, or not a number"
    };
    write!(
        f,
        "invalid device time: {invalid} of {samples} samples took {what} of device time: \
         {INVALID_TIME_WHY}; "
    )?;
    if invalid >= samples {
        f.write_str("no valid sample, so no throughput")
    } else {
        write!(
            f,
            "they are left out; the throughput is from the other {}",
            samples - invalid
        )
    }
}

impl MeasurementWarning {
    /// The warning an older run.json (schemas 1 to 3) wrote as `text`: the variant whose text
    /// is exactly `text`, or [`MeasurementWarning::Other`] with it. Never fails, never changes
    /// the text: `from_legacy(t).to_string() == t` for every `t`.
    pub fn from_legacy(text: &str) -> MeasurementWarning {
        legacy_candidates(text)
            .into_iter()
            .find(|w| w.to_string() == text)
            .unwrap_or_else(|| MeasurementWarning::Other { text: text.into() })
    }
}

/// The pieces of `s` between the literal parts `lits` (a hole between each two), or None when
/// `s` does not have that shape. The last literal must end `s` (an empty one takes the rest).
fn holes<'a>(s: &'a str, lits: &[&str]) -> Option<Vec<&'a str>> {
    let (first, rest_lits) = lits.split_first()?;
    let mut rest = s.strip_prefix(first)?;
    let mut out = Vec::new();
    for (i, lit) in rest_lits.iter().enumerate() {
        if i + 1 == rest_lits.len() {
            out.push(rest.strip_suffix(lit)?);
            rest = "";
        } else {
            let at = rest.find(lit)?;
            out.push(&rest[..at]);
            rest = &rest[at + lit.len()..];
        }
    }
    Some(out)
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// A percentage as the fraction it was written from: "11.32" is 0.1132 (read as 11.32e-2, so
/// the fraction is the nearest f64, not one rounding off from dividing by 100).
fn percent(s: &str) -> Option<f64> {
    let p: f64 = num(s)?;
    if p.is_finite() {
        num(&format!("{s}e-2"))
    } else {
        Some(p)
    }
}

/// Every variant that `text` may have been written from (with the numbers it shows); the caller
/// keeps the one whose text is exactly `text`.
fn legacy_candidates(text: &str) -> Vec<MeasurementWarning> {
    use MeasurementWarning::*;
    let mut out = Vec::new();
    let mut push = |w: Option<MeasurementWarning>| out.extend(w);
    if let Some(h) = holes(
        text,
        &["invalid device time: ", " of ", " samples took ", ""],
    ) {
        for all_zero in [true, false] {
            push((|| {
                Some(InvalidTime {
                    invalid: num(h[0])?,
                    samples: num(h[1])?,
                    all_zero,
                })
            })());
        }
    }
    push(
        holes(
            text,
            &[
                "interrupted after ",
                " sample(s) in ",
                " s: the run was asked to stop",
            ],
        )
        .and_then(|h| {
            Some(Interrupted {
                samples: num(h[0])?,
                seconds: num(h[1])?,
            })
        }),
    );
    push(sampling_timeout(text));
    for on_gpu in [false, true] {
        push(noisy_or_drift(text, on_gpu));
    }
    push(
        holes(text, &["slowest sample took ", "× the fastest"])
            .and_then(|h| Some(Spread { ratio: num(h[0])? })),
    );
    push(throttled(text));
    push(encode(text));
    out
}

/// "took … samples wanted within …" and "did not reach …% noise within …".
fn sampling_timeout(text: &str) -> Option<MeasurementWarning> {
    if let Some(h) = holes(
        text,
        &[
            "took ",
            " of the ",
            " samples wanted within ",
            " s (each sample is slow here; rel. stddev ",
            "%)",
        ],
    ) {
        return Some(MeasurementWarning::TooFewSamples {
            samples: num(h[0])?,
            wanted: num(h[1])?,
            timeout_s: num(h[2])?,
            rel_stddev: percent(h[3])?,
        });
    }
    let h = holes(
        text,
        &[
            "did not reach ",
            "% noise within ",
            " s (rel. stddev ",
            "% over ",
            " samples)",
        ],
    )?;
    Some(MeasurementWarning::NoiseNotReached {
        target: percent(h[0])?,
        timeout_s: num(h[1])?,
        rel_stddev: percent(h[2])?,
        samples: num(h[3])?,
    })
}

fn noisy_or_drift(text: &str, on_gpu: bool) -> Option<MeasurementWarning> {
    let noisy_end = format!("%){}", if on_gpu { NOISY_ON_GPU } else { "" });
    if let Some(h) = holes(text, &["noisy: rel. stddev ", "% (> ", &noisy_end]) {
        return Some(MeasurementWarning::Noisy {
            rel_stddev: percent(h[0])?,
            limit: percent(h[1])?,
            on_gpu,
        });
    }
    let drift_end = format!(
        "% during the measurement{}",
        if on_gpu { DRIFT_ON_GPU } else { "" }
    );
    let h = holes(text, &["slowed down by ", &drift_end])?;
    Some(MeasurementWarning::Drift {
        slowdown: percent(h[0])?,
        on_gpu,
    })
}

fn throttled(text: &str) -> Option<MeasurementWarning> {
    let reasons = |s: &str| -> Vec<String> {
        match s {
            "" => Vec::new(),
            s => s.split(", ").map(String::from).collect(),
        }
    };
    let head = ["throttled during ", "% of the measurement ("];
    if let Some(h) = holes(
        text,
        &[head[0], head[1], "); SM clock held ", " of ", " MHz"],
    ) {
        return Some(MeasurementWarning::Throttled {
            share: percent(h[0])?,
            reasons: reasons(h[1]),
            sm_clock_held_mhz: Some(num(h[2])?),
            sm_clock_max_mhz: Some(num(h[3])?),
        });
    }
    let h = holes(text, &[head[0], head[1], ")"])?;
    Some(MeasurementWarning::Throttled {
        share: percent(h[0])?,
        reasons: reasons(h[1]),
        sm_clock_held_mhz: None,
        sm_clock_max_mhz: None,
    })
}

fn encode(text: &str) -> Option<MeasurementWarning> {
    if text == NO_PROGRESS {
        return Some(MeasurementWarning::EncodeNoProgress);
    }
    if let Some(h) = holes(text, &[STEADY_FPS, " fps"]) {
        let wall_fps = h[0].split(", ").map(num).collect::<Option<Vec<f64>>>()?;
        return Some(MeasurementWarning::EncodeSteadyFps { wall_fps });
    }
    let unknown = format!("{NVENC_UNKNOWN}: ");
    let h = holes(text, &[&unknown, " sessions, as for one engine"])?;
    Some(MeasurementWarning::NvencEnginesUnknown {
        sessions: num(h[0])?,
    })
}

/// serde for `Measurement::warnings`: written as tagged objects; read from tagged objects
/// (schema 4 on) or from the text of schemas 1 to 3 ([`MeasurementWarning::from_legacy`]).
pub fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MeasurementWarning>, D::Error> {
    Ok(Vec::<Stored>::deserialize(d)?
        .into_iter()
        .map(|s| s.0)
        .collect())
}

/// One stored warning, in either form.
struct Stored(MeasurementWarning);

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = Stored;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a warning: an object with its \"kind\" (schema 4 on) or a text (schemas 1 \
                     to 3)",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Stored, E> {
                Ok(Stored(MeasurementWarning::from_legacy(s)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Stored, A::Error> {
                let d = serde::de::value::MapAccessDeserializer::new(map);
                MeasurementWarning::deserialize(d).map(Stored)
            }
        }
        d.deserialize_any(Either)
    }
}

/// serde for a list of f64 that may hold NaN or infinities, as [`nonfinite`] for one.
mod nonfinite_seq {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opt: Vec<Option<f64>> = v.iter().map(|x| x.is_finite().then_some(*x)).collect();
        opt.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }
}

#[cfg(test)]
mod tests;
