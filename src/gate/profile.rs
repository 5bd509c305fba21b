//! Machine profiles: what a machine must have (inventory) and reach (targets), read from TOML.
//!
//! Built-in profiles are embedded from `profiles/*.toml`; a file path overrides them. `auto`
//! builds a profile from the detected GPUs and the GPU models catalogue.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::catalogue::{lookup_gpu, GpuModel};
pub use crate::model::profile::{
    BurnLimits, HealthLimits, Machine, MemtestTarget, Metric, P2pRequirement, Profile, Scope,
    Target,
};
use crate::model::DeviceInfo;

/// Embedded built-in profiles: (name, TOML text).
const BUILTIN: &[(&str, &str)] = &[
    ("g2.large", include_str!("../../profiles/g2.large.toml")),
    ("g2.2xlarge", include_str!("../../profiles/g2.2xlarge.toml")),
];

/// Host memory and local disk pass at this fraction of the profile's nominal size: the OS sees
/// a little less memory than was sold (firmware and kernel reservations), and disks are sold in
/// rounded sizes.
pub const HOST_SIZE_TOLERANCE: f64 = 0.95;

/// Default pass fractions, used by `auto` (the same as the built-in G2 profiles; see there).
pub const DEFAULT_PASS_FRACTION_FP32_GEMM: f64 = 0.60;
pub const DEFAULT_PASS_FRACTION_FP64_GEMM: f64 = 0.75;
pub const DEFAULT_PASS_FRACTION_STREAM_TRIAD: f64 = 0.70;
pub const DEFAULT_PASS_FRACTION_TRANSFER: f64 = 0.65;
/// Pass fraction of the video-stage targets. Their spec is an estimate from first principles
/// ([`video_spec_fps`]), not yet calibrated on a real card, so the line is low: it fails a card
/// that runs the stages at well under half the speed its bandwidth and integer units allow, not
/// one whose kernels are merely less efficient than the model.
pub const DEFAULT_PASS_FRACTION_VIDEO: f64 = 0.40;

/// The frame size the video targets are written for: their fps are 1080p frames per second.
pub const VIDEO_TARGET_FRAME: (usize, usize) = (1920, 1080);

/// The estimated 1080p frame rate of a video stage on a GPU with the given FP32 peak and
/// memory bandwidth, with its derivation: the lower of
/// - the bandwidth bound: `memory_gbps` × 1e9 / (the stage's DRAM bytes per 1080p frame), and
/// - the integer bound: (FP32 TFLOPS × 1e12 / 2 × INT32 lanes / FP32 lanes per SM) / (the
///   integer instructions gpugate's kernel executes per 1080p frame), i.e. one 32-bit integer
///   instruction per INT32 lane per clock ([`int32_lanes_per_sm`]; the FP32 peak counts an FMA
///   as 2 FLOPs, so FP32 TFLOPS / 2 is FP32 lanes × clock); the instructions are the operations
///   `crate::workload::video::video_work` counts × the kernel's measured
///   `kernel_int_instructions_per_op`.
///
/// An estimate until a real card calibrates it; every target built from it says so.
pub fn video_spec_fps(
    stage: crate::workload::VideoStage,
    fp32_tflops: f64,
    memory_gbps: f64,
    cc: (u32, u32),
) -> (f64, String) {
    let (w, h) = VIDEO_TARGET_FRAME;
    let work = crate::workload::video::video_work(stage, w, h);
    let (int_lanes, fp32_lanes) = (int32_lanes_per_sm(cc), fp32_lanes_per_sm(cc));
    let int_rate = fp32_tflops * 1e12 / 2.0 * int_lanes as f64 / fp32_lanes as f64;
    let lanes = if int_lanes == fp32_lanes {
        String::new()
    } else {
        format!(
            " × {int_lanes}/{fp32_lanes} INT32:FP32 lanes of sm_{}{}",
            cc.0, cc.1
        )
    };
    let bw = if work.bytes > 0.0 {
        memory_gbps * 1e9 / work.bytes
    } else {
        f64::INFINITY
    };
    let ratio = crate::workload::video::kernel_int_instructions_per_op(stage);
    let instructions = work.int_ops * ratio;
    let int = if instructions > 0.0 {
        int_rate / instructions
    } else {
        f64::INFINITY
    };
    let fps = bw.min(int);
    let fps = if fps >= 100.0 {
        fps.round()
    } else {
        (fps * 10.0).round() / 10.0
    };
    let why = if bw <= int {
        format!(
            "bandwidth bound: {memory_gbps} GB/s / {:.2} MB per 1080p frame; integer bound \
             {int:.0} fps",
            work.bytes / 1e6
        )
    } else {
        format!(
            "integer bound: {:.2} T instructions/s (FP32 {fp32_tflops} TFLOPS / 2{lanes}) / \
             {:.3} G integer instructions per 1080p frame ({:.3} Gops × {ratio} executed per \
             op); bandwidth bound {bw:.0} fps",
            int_rate / 1e12,
            instructions / 1e9,
            work.int_ops / 1e9
        )
    };
    (fps, why)
}

/// The four video-stage targets for a GPU of the given peaks; `of` names where the peaks come
/// from (the catalogue entry, or the device attributes).
pub fn video_targets(fp32_tflops: f64, memory_gbps: f64, cc: (u32, u32), of: &str) -> Vec<Target> {
    crate::workload::VideoStage::ALL
        .into_iter()
        .filter(|_| fp32_tflops > 0.0 && memory_gbps > 0.0)
        .map(|stage| {
            let (fps, why) = video_spec_fps(stage, fp32_tflops, memory_gbps, cc);
            target(
                Metric::video(stage),
                fps,
                DEFAULT_PASS_FRACTION_VIDEO,
                format!("estimate, derived from {of} ({why}); not yet calibrated on a real card"),
            )
        })
        .collect()
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Fp32Gemm,
        Metric::Fp64Gemm,
        Metric::StreamTriad,
        Metric::H2d,
        Metric::D2h,
        Metric::VideoNv12,
        Metric::VideoScale,
        Metric::VideoMe,
        Metric::VideoDct,
        Metric::NvencH264,
    ];

    /// The video-stage metric of a stage.
    pub fn video(stage: crate::workload::VideoStage) -> Metric {
        use crate::workload::VideoStage;
        match stage {
            VideoStage::Nv12 => Metric::VideoNv12,
            VideoStage::Scale => Metric::VideoScale,
            VideoStage::Me => Metric::VideoMe,
            VideoStage::Dct => Metric::VideoDct,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Fp32Gemm => "fp32_gemm",
            Metric::Fp64Gemm => "fp64_gemm",
            Metric::StreamTriad => "stream_triad",
            Metric::H2d => "h2d",
            Metric::D2h => "d2h",
            Metric::VideoNv12 => "video_nv12",
            Metric::VideoScale => "video_scale",
            Metric::VideoMe => "video_me",
            Metric::VideoDct => "video_dct",
            Metric::NvencH264 => "nvenc_h264",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// "TFLOPS", "GB/s" or "fps".
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Fp32Gemm | Metric::Fp64Gemm => "TFLOPS",
            Metric::StreamTriad | Metric::H2d | Metric::D2h => "GB/s",
            Metric::VideoNv12
            | Metric::VideoScale
            | Metric::VideoMe
            | Metric::VideoDct
            | Metric::NvencH264 => "fps",
        }
    }

    /// The profile key that carries this metric's spec value.
    pub fn spec_key(self) -> &'static str {
        match self {
            Metric::Fp32Gemm | Metric::Fp64Gemm => "spec_tflops",
            Metric::StreamTriad | Metric::H2d | Metric::D2h => "spec_gbps",
            _ => "spec_fps",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Metric::Fp32Gemm => "FP32 GEMM throughput",
            Metric::Fp64Gemm => "FP64 GEMM throughput",
            Metric::StreamTriad => "Memory bandwidth (stream triad)",
            Metric::H2d => "Host-to-device bandwidth (pinned)",
            Metric::D2h => "Device-to-host bandwidth (pinned)",
            Metric::VideoNv12 => "Video colour conversion RGBA → NV12, 1080p",
            Metric::VideoScale => "Video scaling 1080p → 720p",
            Metric::VideoMe => "Video motion estimation, 1080p",
            Metric::VideoDct => "Video 4×4 transform and quantisation, 1080p",
            Metric::NvencH264 => "Hardware H.264 encode (NVENC), 1080p aggregate",
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Target {
    /// The nominal value, in [`Metric::unit`].
    pub fn spec(&self) -> f64 {
        self.spec_tflops
            .or(self.spec_gbps)
            .or(self.spec_fps)
            .unwrap_or(0.0)
    }
    /// The pass line: spec × pass_fraction.
    pub fn required(&self) -> f64 {
        self.spec() * self.pass_fraction
    }
    pub fn unit(&self) -> &'static str {
        self.metric.unit()
    }
    /// Whether this target applies to GPU `index` (scope gpu only).
    pub fn applies_to(&self, index: u32) -> bool {
        self.scope == Scope::Gpu && self.gpu.is_none_or(|g| g == index)
    }
}

/// Why a profile could not be used. Every message says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "unknown profile {name:?}: the built-in profiles are {builtin} (or `auto`, from the \
         detected GPUs); to use your own, pass a path to a TOML file, e.g. --profile ./my.toml"
    )]
    UnknownName { name: String, builtin: String },
    #[error("cannot read profile {}: {source}{advice}", path.display())]
    Io {
        path: PathBuf,
        source: crate::files::ReadError,
        /// ". Check the path, or name a built-in profile (…)" where the OS refused the file;
        /// empty when the file was read but is too large or not text (its message advises).
        advice: String,
    },
    #[error(
        "{origin}:{line}:{column}: malformed profile: {message}. Fix the TOML there; the built-in \
         profiles in profiles/ show the schema"
    )]
    Malformed {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{origin}:{line}:{column}: target #{index} has unknown metric {metric:?}; the known \
         metrics are {known}"
    )]
    UnknownMetric {
        origin: String,
        line: usize,
        column: usize,
        index: usize,
        metric: String,
        known: String,
    },
    #[error(
        "{origin}: target #{index} ({metric}) {problem}: every number carries its unit in its \
         key; write `{expected} = …` for {metric}"
    )]
    MissingUnit {
        origin: String,
        index: usize,
        metric: String,
        problem: String,
        expected: &'static str,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_metrics() -> String {
    Metric::ALL
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn malformed(text: &str, origin: &str, e: &toml::de::Error) -> ProfileError {
    let start = e.span().map(|s| s.start);
    let (line, column) = start.map_or((1, 1), |s| line_col(text, s));
    let mut message = e.message().trim().to_string();
    if message.is_empty() {
        // toml gives no reason for some syntax errors (`key =` at the end of the file, a
        // carriage return alone): say what stands where it stopped.
        let next = start
            .and_then(|s| text.get(s..))
            .and_then(|rest| rest.chars().next());
        message = match next {
            None => "unexpected end of file".to_string(),
            Some(c) => format!("unexpected {c:?}"),
        };
    }
    ProfileError::Malformed {
        origin: origin.to_string(),
        line,
        column,
        message,
    }
}

/// Parses and validates a profile. `origin` names it in error messages (a path or "builtin:NAME").
pub fn parse_profile(text: &str, origin: &str) -> Result<Profile, ProfileError> {
    // 1. Syntax.
    let table: toml::Table = toml::from_str(text).map_err(|e| malformed(text, origin, &e))?;

    // 2. Metrics and units, before the schema, for messages that say what to do.
    #[derive(Deserialize)]
    struct ProbeTarget {
        metric: Option<toml::Spanned<String>>,
    }
    #[derive(Deserialize)]
    struct ProbeFile {
        #[serde(default)]
        target: Vec<ProbeTarget>,
    }
    if let Ok(probe) = toml::from_str::<ProbeFile>(text) {
        for (i, t) in probe.target.iter().enumerate() {
            if let Some(m) = &t.metric {
                if Metric::parse(m.get_ref()).is_none() {
                    let (line, column) = line_col(text, m.span().start);
                    return Err(ProfileError::UnknownMetric {
                        origin: origin.to_string(),
                        line,
                        column,
                        index: i + 1,
                        metric: m.get_ref().clone(),
                        known: known_metrics(),
                    });
                }
            }
        }
    }
    if let Some(toml::Value::Array(targets)) = table.get("target") {
        for (i, t) in targets.iter().enumerate() {
            let Some(t) = t.as_table() else { continue };
            let Some(metric) = t
                .get("metric")
                .and_then(|m| m.as_str())
                .and_then(Metric::parse)
            else {
                continue;
            };
            let unitless = t.keys().find(|k| {
                (k.starts_with("spec") || k.starts_with("min"))
                    && !matches!(k.as_str(), "spec_tflops" | "spec_gbps" | "spec_fps")
            });
            let problem = if let Some(k) = unitless {
                Some(format!("has key `{k}`, whose name carries no known unit"))
            } else if !["spec_tflops", "spec_gbps", "spec_fps"]
                .iter()
                .any(|k| t.contains_key(*k))
            {
                Some("gives no spec value".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ProfileError::MissingUnit {
                    origin: origin.to_string(),
                    index: i + 1,
                    metric: metric.as_str().to_string(),
                    problem,
                    expected: metric.spec_key(),
                });
            }
        }
    }

    // 3. Schema.
    let profile: Profile = toml::from_str(text).map_err(|e| malformed(text, origin, &e))?;

    // 4. Meaning.
    validate(&profile, origin)?;
    no_duplicate_targets(&profile, text, origin)?;
    Ok(profile)
}

/// Two targets for the same metric, scope and GPU would be two verdicts on one number: the
/// profile is refused, naming both.
fn no_duplicate_targets(p: &Profile, text: &str, origin: &str) -> Result<(), ProfileError> {
    #[derive(Deserialize)]
    struct At {
        metric: toml::Spanned<String>,
    }
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        target: Vec<At>,
    }
    let lines: Vec<usize> = toml::from_str::<File>(text)
        .map(|f| {
            f.target
                .iter()
                .map(|t| line_col(text, t.metric.span().start).0)
                .collect()
        })
        .unwrap_or_default();
    for (i, a) in p.targets.iter().enumerate() {
        for (j, b) in p.targets.iter().enumerate().skip(i + 1) {
            if (a.metric, a.scope, a.gpu) == (b.metric, b.scope, b.gpu) {
                let at = |k: usize| {
                    lines
                        .get(k)
                        .map_or(String::new(), |l| format!(" (line {l})"))
                };
                let whom = match (a.scope, a.gpu) {
                    (Scope::Machine, _) => "the machine".to_string(),
                    (Scope::Gpu, None) => "every GPU".to_string(),
                    (Scope::Gpu, Some(g)) => format!("GPU {g}"),
                };
                return Err(ProfileError::Invalid {
                    origin: origin.to_string(),
                    message: format!(
                        "target #{}{} and target #{}{} are both {} for {whom}: keep one",
                        i + 1,
                        at(i),
                        j + 1,
                        at(j),
                        a.metric
                    ),
                });
            }
        }
    }
    Ok(())
}

fn validate(p: &Profile, origin: &str) -> Result<(), ProfileError> {
    if p.name.trim().is_empty() {
        return Err(invalid(
            origin,
            "`name` is empty: give the profile a name".into(),
        ));
    }
    validate_machine_sizes(&p.machine, origin)?;
    if let Some(m) = &p.memtest {
        let v = m.min_coverage_percent;
        if !(v.is_finite() && v > 0.0 && v <= 100.0) {
            return Err(invalid(
                origin,
                format!(
                    "[memtest] min_coverage_percent = {v} is not a share: give a percentage \
                     above 0 and at most 100"
                ),
            ));
        }
    }
    for (i, t) in p.targets.iter().enumerate() {
        let n = i + 1;
        validate_spec_key(t, n, origin)?;
        validate_target_values(t, n, &p.machine, origin)?;
    }
    if let Some(h) = &p.health {
        validate_health(h, origin)?;
    }
    if let Some(b) = &p.burn {
        validate_burn(b, origin)?;
        validate_burn_targets(b, &p.machine, origin)?;
    }
    if let Some(x) = &p.p2p {
        validate_p2p(x, origin)?;
    }
    Ok(())
}

/// The `[p2p]` block: a bandwidth above 0 where one is given, and a source.
fn validate_p2p(x: &P2pRequirement, origin: &str) -> Result<(), ProfileError> {
    if let Some(v) = x.min_gbps {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(
                origin,
                format!(
                    "[p2p] min_gbps = {v} is not a bandwidth: give GB/s above 0 (each peer copy \
                     test, each direction), or leave the key out to report P2P bandwidth \
                     without gating it"
                ),
            ));
        }
    }
    if x.source.trim().is_empty() {
        return Err(invalid(
            origin,
            "[p2p] source is empty: say where the requirement comes from".into(),
        ));
    }
    Ok(())
}

/// The `[burn]` block: durations above 0 and at most a week, shares in (0, 1), a source.
fn validate_burn(b: &BurnLimits, origin: &str) -> Result<(), ProfileError> {
    let bad = |message: String| Err(invalid(origin, message));
    let week = crate::model::profile::MAX_BURN_DURATION_S as f64;
    for (key, v) in [
        ("quick_duration_s", b.quick_duration_s),
        ("standard_duration_s", b.standard_duration_s),
        ("full_duration_s", b.full_duration_s),
    ] {
        if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0 && *v <= week)) {
            return bad(format!(
                "[burn] {key} = {v} is not a duration: give seconds above 0 and at most a week \
                 (604800), e.g. 600"
            ));
        }
    }
    for (key, v) in [
        ("max_drift", b.max_drift),
        ("within_machine_share", b.within_machine_share),
    ] {
        if !(v.is_finite() && v > 0.0 && v < 1.0) {
            return bad(format!(
                "[burn] {key} = {v} is not a share: give a fraction above 0 and below 1 (e.g. \
                 0.10 for 10 %)"
            ));
        }
    }
    if b.source.trim().is_empty() {
        return bad("[burn] source is empty: say where each value comes from".into());
    }
    Ok(())
}

/// The `[[burn.target]]`s: each a valid target of a metric the burn measures, one per metric,
/// scope and GPU.
fn validate_burn_targets(b: &BurnLimits, m: &Machine, origin: &str) -> Result<(), ProfileError> {
    let burn_metrics = crate::run::burn::BURN_METRICS;
    let here = format!("{origin} [burn]");
    for (i, t) in b.targets.iter().enumerate() {
        let n = i + 1;
        if !burn_metrics.contains(&t.metric) {
            return Err(invalid(
                origin,
                format!(
                    "[[burn.target]] #{n} ({}): a burn measures only fp32_gemm, fp64_gemm and \
                     stream_triad; put this target in the profile's [[target]]s",
                    t.metric
                ),
            ));
        }
        validate_spec_key(t, n, &here)?;
        validate_target_values(t, n, m, &here)?;
        let same = |o: &&Target| o.metric == t.metric && o.scope == t.scope && o.gpu == t.gpu;
        if b.targets[..i].iter().any(|o| same(&o)) {
            return Err(invalid(
                origin,
                format!(
                    "[[burn.target]] #{n} ({}) repeats an earlier one of the same metric, scope \
                     and GPU: keep one",
                    t.metric
                ),
            ));
        }
    }
    Ok(())
}

/// The highest `[health] max_temperature_c` accepted, °C: above any GPU's shutdown
/// temperature (NVML reports them in the 90s and low 100s), so a larger number is a typing
/// mistake.
pub const MAX_TEMPERATURE_C: u32 = 150;

/// The `[health]` limits: a share in [0, 1], a positive power target, a temperature limit
/// in 1..=[`MAX_TEMPERATURE_C`], a source.
fn validate_health(h: &HealthLimits, origin: &str) -> Result<(), ProfileError> {
    let bad = |message: String| Err(invalid(origin, message));
    if !(0.0..=1.0).contains(&h.max_throttle_share) {
        return bad(format!(
            "[health] max_throttle_share = {} is not a share: give a fraction from 0 to 1 of \
             the telemetry samples",
            h.max_throttle_share
        ));
    }
    if h.power_target_w
        .is_some_and(|w| !(w.is_finite() && w > 0.0))
    {
        return bad("[health] power_target_w must be a number of watts above 0".into());
    }
    if let Some(c) = h
        .max_temperature_c
        .filter(|c| !(1..=MAX_TEMPERATURE_C).contains(c))
    {
        return bad(format!(
            "[health] max_temperature_c = {c} is not a GPU temperature limit: give degrees C \
             from 1 to {MAX_TEMPERATURE_C}, or leave the key out to use the GPU's own slowdown \
             temperature"
        ));
    }
    if h.retired_pages_table == Some(0) {
        return bad(
            "[health] retired_pages_table = 0: give the size of the GPU's page \
                    retirement table, or leave the key out for a GPU that remaps rows"
                .into(),
        );
    }
    if h.source.trim().is_empty() {
        return bad("[health] source is empty: say where each limit comes from".into());
    }
    Ok(())
}

/// The problem `message` of the profile read from `origin`.
fn invalid(origin: &str, message: String) -> ProfileError {
    ProfileError::Invalid {
        origin: origin.to_string(),
        message,
    }
}

/// The machine's sizes in GB are non-negative numbers.
fn validate_machine_sizes(m: &Machine, origin: &str) -> Result<(), ProfileError> {
    for (key, v) in [
        ("min_gpu_memory_gb", m.min_gpu_memory_gb),
        ("host_memory_gb", m.host_memory_gb),
        ("local_disk_gb", m.local_disk_gb),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    origin,
                    format!(
                        "[machine] {key} = {v} is not a size: give a non-negative number of GB"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Target #`n` gives exactly one spec value, under the key of its metric's unit.
fn validate_spec_key(t: &Target, n: usize, origin: &str) -> Result<(), ProfileError> {
    let metric = t.metric;
    let given: Vec<&str> = [
        ("spec_tflops", t.spec_tflops),
        ("spec_gbps", t.spec_gbps),
        ("spec_fps", t.spec_fps),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|_| k))
    .collect();
    let message = match given.as_slice() {
        [] => {
            return Err(ProfileError::MissingUnit {
                origin: origin.to_string(),
                index: n,
                metric: metric.as_str().to_string(),
                problem: "gives no spec value".into(),
                expected: metric.spec_key(),
            })
        }
        [one] if *one != metric.spec_key() => format!(
            "target #{n} ({metric}) is measured in {}: write {}, not {one}",
            metric.unit(),
            metric.spec_key()
        ),
        [_] => return Ok(()),
        several => format!(
            "target #{n} ({metric}) gives {}: keep only {}",
            several.join(" and "),
            metric.spec_key()
        ),
    };
    Err(ProfileError::Invalid {
        origin: origin.to_string(),
        message,
    })
}

/// Target #`n`'s values make sense: a positive spec, a pass fraction in (0, 1], a pass line
/// that is a normal positive number, a source, `gpu` only on a GPU-scope target, and a machine
/// with GPUs.
fn validate_target_values(
    t: &Target,
    n: usize,
    m: &Machine,
    origin: &str,
) -> Result<(), ProfileError> {
    let metric = t.metric;
    let spec = t.spec();
    if !(spec.is_finite() && spec > 0.0) {
        return Err(invalid(
            origin,
            format!(
                "target #{n} ({metric}): {} = {spec} must be a positive number",
                metric.spec_key()
            ),
        ));
    }
    if !(t.pass_fraction > 0.0 && t.pass_fraction <= 1.0) {
        return Err(invalid(origin, format!(
            "target #{n} ({metric}): pass_fraction = {} must be in (0, 1], e.g. 0.6 for 60 % of spec",
            t.pass_fraction
        )));
    }
    // A pass line that underflows to zero (a subnormal spec) would pass anything.
    if !(t.required().is_normal() && t.required() > 0.0) {
        return Err(invalid(
            origin,
            format!(
                "target #{n} ({metric}): {} = {spec} × pass_fraction {} gives a pass line of \
             {}, which passes anything: give the spec in {}",
                metric.spec_key(),
                t.pass_fraction,
                t.required(),
                metric.unit()
            ),
        ));
    }
    if t.source.trim().is_empty() {
        return Err(invalid(
            origin,
            format!(
                "target #{n} ({metric}): `source` is empty: say where the number comes from \
             (datasheet, instance type spec, derived)"
            ),
        ));
    }
    if t.scope == Scope::Machine && t.gpu.is_some() {
        return Err(invalid(
            origin,
            format!("target #{n} ({metric}): `gpu` only applies to scope = \"gpu\""),
        ));
    }
    if m.gpu_count == 0 {
        return Err(invalid(
            origin,
            format!("target #{n} ({metric}) needs GPUs but [machine] gpu_count = 0"),
        ));
    }
    Ok(())
}

/// The built-in profiles, embedded from `profiles/*.toml`.
pub fn builtin_profiles() -> Vec<Profile> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            parse_profile(text, &format!("builtin:{name}"))
                .unwrap_or_else(|e| panic!("built-in profile {name} is broken: {e}"))
        })
        .collect()
}

/// The largest profile file read (a profile is a few KiB of TOML).
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Loads a profile by built-in name or from a file. A value containing '/' (or '\\'), ending in
/// `.toml`, or naming an existing file is a path. Returns the profile and its origin: "builtin"
/// or the path. (`auto` is not handled here: build it with [`auto_profile`].)
pub fn load_profile(name_or_path: &str) -> Result<(Profile, String), ProfileError> {
    let is_path = name_or_path.contains('/')
        || name_or_path.contains('\\')
        || name_or_path.ends_with(".toml")
        || Path::new(name_or_path).is_file();
    if name_or_path.eq_ignore_ascii_case("auto") {
        return Err(ProfileError::Invalid {
            origin: "auto".into(),
            message: "`auto` is built from the GPUs detected at run time, not loaded: leave \
                      --profile out (auto is the default) or name a built-in profile or a file"
                .into(),
        });
    }
    if is_path {
        let path = PathBuf::from(name_or_path);
        let text = crate::files::read_text_capped(&path, MAX_PROFILE_BYTES, "profile").map_err(
            |source| ProfileError::Io {
                path: path.clone(),
                advice: if source.is_os_error() {
                    format!(
                        ". Check the path, or name a built-in profile ({})",
                        builtin_names()
                    )
                } else {
                    String::new()
                },
                source,
            },
        )?;
        let profile = parse_profile(&text, name_or_path)?;
        return Ok((profile, name_or_path.to_string()));
    }
    BUILTIN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name_or_path))
        .map(|(n, text)| {
            let p = parse_profile(text, &format!("builtin:{n}"))?;
            Ok((p, "builtin".to_string()))
        })
        .unwrap_or_else(|| {
            Err(ProfileError::UnknownName {
                name: name_or_path.to_string(),
                builtin: builtin_names(),
            })
        })
}

/// Theoretical x16-normalised PCIe bandwidth per lane, GB/s, by generation (after line coding).
pub fn pcie_gbps_per_lane(gen: u32) -> Option<f64> {
    match gen {
        1 => Some(0.25),
        2 => Some(0.5),
        3 => Some(15.75 / 16.0),
        4 => Some(31.5 / 16.0),
        5 => Some(63.0 / 16.0),
        6 => Some(121.0 / 16.0),
        _ => None,
    }
}

/// 32-bit integer add lanes per SM by compute capability: the CUDA C++ Programming Guide's
/// arithmetic-instruction throughput table ("32-bit integer add, extended-precision add,
/// subtract"): 128 on 5.x and 6.1/6.2, 64 on 6.0 and from 7.0 on (Volta's separate INT32 units;
/// Ampere GA10x, Ada and Hopper keep 64 INT32 lanes beside 128 FP32 ones).
pub fn int32_lanes_per_sm(cc: (u32, u32)) -> u32 {
    match cc {
        (5, _) => 128,
        (6, 0) => 64,
        (6, _) => 128,
        (3, _) => 160,
        _ => 64,
    }
}

/// FP32 lanes (CUDA cores) per SM by compute capability.
pub fn fp32_lanes_per_sm(cc: (u32, u32)) -> u32 {
    match cc {
        (3, _) => 192,
        (5, _) => 128,
        (6, 0) => 64,
        (6, _) => 128,
        (7, _) => 64,
        (8, 0) => 64,
        (8, _) => 128,
        _ => 128,
    }
}

/// FP64 : FP32 throughput ratio by compute capability, as (numerator, denominator).
pub fn fp64_ratio(cc: (u32, u32)) -> (u32, u32) {
    match cc {
        (3, 5) | (3, 7) => (1, 3),
        (3, _) => (1, 24),
        (5, _) => (1, 32),
        (6, 0) => (1, 2),
        (6, _) => (1, 32),
        (7, 0) => (1, 2),
        (7, _) => (1, 32),
        (8, 0) => (1, 2),
        (8, _) => (1, 64),
        (9, 0) => (1, 2),
        (10, _) => (1, 2),
        _ => (1, 64),
    }
}

fn target(metric: Metric, spec: f64, pass_fraction: f64, source: String) -> Target {
    let value = |key: &str| (metric.spec_key() == key).then_some(spec);
    Target {
        metric,
        scope: Scope::Gpu,
        gpu: None,
        spec_tflops: value("spec_tflops"),
        spec_gbps: value("spec_gbps"),
        spec_fps: value("spec_fps"),
        pass_fraction,
        source,
    }
}

fn transfer_targets(gen: u32, width: u32, source: String) -> Vec<Target> {
    let Some(per_lane) = pcie_gbps_per_lane(gen) else {
        return Vec::new();
    };
    let spec = (per_lane * width as f64 * 100.0).round() / 100.0;
    [Metric::H2d, Metric::D2h]
        .into_iter()
        .map(|m| target(m, spec, DEFAULT_PASS_FRACTION_TRANSFER, source.clone()))
        .collect()
}

fn catalogue_targets(m: &GpuModel) -> Vec<Target> {
    let src = |what: &str| format!("catalogue: {} ({what}; {})", m.name, m.source);
    let mut t = vec![
        target(
            Metric::Fp32Gemm,
            m.fp32_tflops,
            DEFAULT_PASS_FRACTION_FP32_GEMM,
            src("FP32"),
        ),
        target(
            Metric::Fp64Gemm,
            m.fp64_tflops,
            DEFAULT_PASS_FRACTION_FP64_GEMM,
            src("FP64"),
        ),
        target(
            Metric::StreamTriad,
            m.memory_gbps,
            DEFAULT_PASS_FRACTION_STREAM_TRIAD,
            src("memory bandwidth"),
        ),
    ];
    t.extend(transfer_targets(
        m.pcie_gen,
        16,
        format!(
            "derived: PCIe {}.0 x16 theoretical (catalogue: {})",
            m.pcie_gen, m.name
        ),
    ));
    t.extend(video_targets(
        m.fp32_tflops,
        m.memory_gbps,
        m.cc(),
        &format!("catalogue: {}", m.name),
    ));
    t
}

fn derived_targets(d: &DeviceInfo) -> Vec<Target> {
    let mut t = Vec::new();
    let (major, minor) = d.compute_capability;
    let lanes = fp32_lanes_per_sm(d.compute_capability);
    let mhz = d.sm_clock_khz as f64 / 1e3;
    if d.sm_count > 0 && d.sm_clock_khz > 0 {
        let fp32 = d.sm_count as f64 * lanes as f64 * 2.0 * mhz * 1e6 / 1e12;
        let fp32 = (fp32 * 1000.0).round() / 1000.0;
        t.push(target(
            Metric::Fp32Gemm,
            fp32,
            DEFAULT_PASS_FRACTION_FP32_GEMM,
            format!(
                "derived from device attributes ({} SMs × {lanes} FP32 lanes (sm_{major}{minor}) × 2 × {mhz:.0} MHz)",
                d.sm_count
            ),
        ));
        let (num, den) = fp64_ratio(d.compute_capability);
        let fp64 = (fp32 * num as f64 / den as f64 * 1000.0).round() / 1000.0;
        t.push(target(
            Metric::Fp64Gemm,
            fp64,
            DEFAULT_PASS_FRACTION_FP64_GEMM,
            format!(
                "derived from device attributes (FP32 peak × {num}/{den} FP64 ratio of sm_{major}{minor})"
            ),
        ));
    }
    if d.memory_bus_width_bits > 0 && d.memory_clock_khz > 0 {
        let mem_mhz = d.memory_clock_khz as f64 / 1e3;
        let gbps = d.memory_bus_width_bits as f64 / 8.0 * mem_mhz * 1e6 * 2.0 / 1e9;
        t.push(target(
            Metric::StreamTriad,
            (gbps * 10.0).round() / 10.0,
            DEFAULT_PASS_FRACTION_STREAM_TRIAD,
            format!(
                "derived from device attributes ({}-bit bus / 8 × {mem_mhz:.0} MHz × 2 (DDR))",
                d.memory_bus_width_bits
            ),
        ));
    }
    let peak = |m: Metric| t.iter().find(|x| x.metric == m).map(|x| x.spec());
    if let (Some(fp32), Some(gbps)) = (peak(Metric::Fp32Gemm), peak(Metric::StreamTriad)) {
        t.extend(video_targets(
            fp32,
            gbps,
            d.compute_capability,
            "the device attributes",
        ));
    }
    if let (Some(gen), Some(width)) = (d.pcie_link_gen, d.pcie_link_width) {
        t.extend(transfer_targets(
            gen,
            width,
            format!("derived from the reported PCIe link (gen {gen} x{width}, theoretical)"),
        ));
    }
    t
}

/// A GPU's nominal peaks: the catalogue's where it knows the GPU, else derived from the
/// device's attributes (vector FP32/FP64 and bandwidth only), as `auto` sets its targets.
pub fn peaks_for_device(d: &DeviceInfo) -> crate::model::GpuPeaks {
    let (targets, model) = targets_for_device(d);
    let spec = |m: Metric| {
        targets
            .iter()
            .find(|t| t.metric == m && t.scope == Scope::Gpu)
            .map(Target::spec)
    };
    crate::model::GpuPeaks {
        device: d.index,
        catalogue_model: model.as_ref().map(|m| m.name.clone()),
        fp32_tflops: spec(Metric::Fp32Gemm),
        fp64_tflops: spec(Metric::Fp64Gemm),
        fp64_tensor_tflops: model.as_ref().and_then(|m| m.fp64_tensor_tflops),
        fp16_tensor_tflops: model.as_ref().and_then(|m| m.fp16_tensor_tflops),
        memory_gbps: spec(Metric::StreamTriad),
        source: match &model {
            Some(m) => m.source.clone(),
            None => targets
                .iter()
                .find(|t| t.metric == Metric::Fp32Gemm)
                .map_or_else(String::new, |t| t.source.clone()),
        },
    }
}

/// The targets `auto` sets for one GPU, and whether they came from the catalogue.
pub fn targets_for_device(d: &DeviceInfo) -> (Vec<Target>, Option<GpuModel>) {
    match lookup_gpu(&d.name) {
        Some(m) => (catalogue_targets(&m), Some(m)),
        None => (derived_targets(d), None),
    }
}

/// A profile built from the detected GPUs: targets from the GPU models catalogue per detected
/// model, or derived from the device attributes for an unknown model. It wants at least one GPU
/// (all detected ones) and sets no host inventory requirements.
pub fn auto_profile(gpus: &[DeviceInfo]) -> Profile {
    let per_gpu: Vec<(Vec<Target>, Option<GpuModel>)> =
        gpus.iter().map(targets_for_device).collect();
    let uniform = per_gpu.windows(2).all(|w| w[0].0 == w[1].0);
    let targets: Vec<Target> = if uniform {
        per_gpu.first().map(|(t, _)| t.clone()).unwrap_or_default()
    } else {
        gpus.iter()
            .zip(&per_gpu)
            .flat_map(|(d, (ts, _))| {
                ts.iter().cloned().map(move |mut t| {
                    t.gpu = Some(d.index);
                    t
                })
            })
            .collect()
    };
    let described: Vec<String> = gpus
        .iter()
        .zip(&per_gpu)
        .map(|(d, (_, m))| match m {
            Some(m) => format!("gpu{}: {} (catalogue: {})", d.index, d.name, m.name),
            None => format!(
                "gpu{}: {} (not in the catalogue: targets derived from device attributes)",
                d.index, d.name
            ),
        })
        .collect();
    let description = if gpus.is_empty() {
        "auto: no GPU detected; wants at least one".to_string()
    } else {
        format!(
            "auto: targets for the detected GPUs; {}",
            described.join("; ")
        )
    };
    Profile {
        name: "auto".into(),
        description,
        machine: Machine {
            gpu_model: String::new(),
            gpu_count: gpus.len().max(1) as u32,
            min_gpu_memory_gb: None,
            host_vcpus: None,
            host_memory_gb: None,
            local_disk_gb: None,
            pcie_gen: None,
            pcie_width: None,
            nvenc_engines: None,
        },
        targets,
        memtest: None,
        // auto knows no health limits: the rules that need none still apply, the others
        // report what they saw (`gate::health`).
        health: None,
        burn: None,
        p2p: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m40() -> DeviceInfo {
        crate::test_support::m40(0)
    }

    #[test]
    fn builtin_profiles_parse_with_the_g2_numbers() {
        let all = builtin_profiles();
        assert_eq!(all.len(), 2);
        let large = &all[0];
        assert_eq!(large.name, "g2.large");
        assert_eq!(large.machine.gpu_count, 1);
        assert_eq!(large.machine.host_vcpus, Some(28));
        let fp32 = large
            .targets
            .iter()
            .find(|t| t.metric == Metric::Fp32Gemm)
            .unwrap();
        assert_eq!(fp32.spec_tflops, Some(7.0));
        assert!((fp32.required() - 4.2).abs() < 1e-9);
        let big = &all[1];
        assert_eq!(big.machine.gpu_count, 2);
        let machine: Vec<_> = big
            .targets
            .iter()
            .filter(|t| t.scope == Scope::Machine)
            .map(|t| (t.metric, t.spec()))
            .collect();
        assert_eq!(
            machine,
            vec![
                (Metric::Fp32Gemm, 14.0),
                (Metric::Fp64Gemm, 0.4),
                (Metric::NvencH264, 1080.0)
            ]
        );
        // Two NVENC engines per GPU, and 540 fps of 1080p H.264 each (an estimate).
        for p in [large, big] {
            assert_eq!(p.machine.nvenc_engines, Some(2), "{}", p.name);
            let t = p
                .targets
                .iter()
                .find(|t| t.metric == Metric::NvencH264 && t.scope == Scope::Gpu)
                .unwrap();
            assert_eq!((t.spec_fps, t.pass_fraction), (Some(540.0), 0.60));
            assert!(t.source.starts_with("estimate"), "{}", t.source);
            // The memory test must cover 90 % of free memory, with its source.
            let m = p.memtest.as_ref().expect("a [memtest] block");
            assert_eq!(m.min_coverage_percent, 90.0);
            assert!(m.source.contains("issue 19"), "{}", m.source);
        }
    }

    #[test]
    fn a_memtest_coverage_outside_0_to_100_is_refused() {
        let text = include_str!("../../profiles/g2.large.toml");
        for bad in ["0.0", "100.5", "-5.0", "nan"] {
            let t = text.replace(
                "min_coverage_percent = 90.0",
                &format!("min_coverage_percent = {bad}"),
            );
            let e = parse_profile(&t, "x.toml").unwrap_err().to_string();
            assert!(e.contains("min_coverage_percent"), "{bad}: {e}");
        }
        let t = text.replace(
            "min_coverage_percent = 90.0",
            "min_coverage_percent = 100.0",
        );
        assert!(parse_profile(&t, "x.toml").is_ok());
    }

    #[test]
    fn load_by_name_and_by_path() {
        let (p, origin) = load_profile("g2.2xlarge").unwrap();
        assert_eq!(
            (p.name.as_str(), origin.as_str()),
            ("g2.2xlarge", "builtin")
        );
        let (p, _) = load_profile("G2.Large").unwrap();
        assert_eq!(p.name, "g2.large");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        let text = include_str!("../../profiles/g2.large.toml").replace("g2.large", "mine");
        std::fs::write(&path, text).unwrap();
        let (p, origin) = load_profile(path.to_str().unwrap()).unwrap();
        assert_eq!(p.name, "mine");
        assert_eq!(origin, path.to_str().unwrap());
    }

    #[test]
    fn profile_errors_say_what_and_where() {
        let e = load_profile("auto").unwrap_err().to_string();
        assert!(e.contains("leave --profile out"), "{e}");
        let e = load_profile("g3.huge").unwrap_err().to_string();
        assert!(e.contains("g2.large, g2.2xlarge"), "{e}");

        let e = load_profile("/nonexistent/p.toml").unwrap_err().to_string();
        assert!(e.contains("/nonexistent/p.toml"), "{e}");

        let base = include_str!("../../profiles/g2.large.toml");
        let count_line = base.lines().position(|l| l == "gpu_count = 1").unwrap() + 1;
        let at_count = format!("x.toml:{count_line}:");
        let after_count = format!("x.toml:{}:", count_line + 1);
        let cases: &[(&str, String, &str)] = &[
            (
                "syntax",
                base.replace("gpu_count = 1", "gpu_count = = 1"),
                &at_count,
            ),
            (
                "unknown field",
                base.replace("gpu_count = 1", "gpu_count = 1\ngpu_kount = 1"),
                &after_count,
            ),
            (
                "unknown metric",
                base.replace("metric = \"fp64_gemm\"", "metric = \"fp16_gemm\""),
                "unknown metric \"fp16_gemm\"",
            ),
            (
                "unitless key",
                base.replace("spec_tflops = 7.0", "spec = 7.0"),
                "write `spec_tflops = …`",
            ),
            (
                "wrong unit",
                base.replace("spec_tflops = 7.0", "spec_gbps = 7.0"),
                "write spec_tflops, not spec_gbps",
            ),
            (
                "fraction",
                base.replace("pass_fraction = 0.60", "pass_fraction = 60"),
                "must be in (0, 1]",
            ),
            (
                "a pass line that underflows to zero (found by the property tests)",
                base.replace("spec_tflops = 7.0", "spec_tflops = 5e-324"),
                "which passes anything",
            ),
        ];
        for (what, text, want) in cases {
            let e = parse_profile(text, "x.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{what}: {e}");
        }
        // The unknown metric is located.
        let text = base.replace("metric = \"fp64_gemm\"", "metric = \"fp16_gemm\"");
        let line = text.lines().position(|l| l.contains("fp16_gemm")).unwrap() + 1;
        let e = parse_profile(&text, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
    }

    /// toml gives no reason for some syntax errors (a key without a value at the end of the
    /// file, a carriage return alone); the error still says what is wrong and where (it read
    /// "malformed profile: ." before).
    #[test]
    fn a_syntax_error_without_a_reason_from_toml_still_says_what() {
        let base = include_str!("../../profiles/g2.large.toml");
        let cut = |key: &str| {
            let at = base.find(&format!("\n{key} = ")).unwrap() + key.len() + 4;
            base[..at].to_string()
        };
        let cases: &[(&str, String, &str)] = &[
            (
                "key = at the end",
                "name = ".into(),
                "x.toml:1:8: malformed profile: unexpected end of file.",
            ),
            (
                "key= at the end",
                "name=".into(),
                "x.toml:1:6: malformed profile: unexpected end of file.",
            ),
            (
                "a carriage return alone",
                "\r/".into(),
                "x.toml:1:1: malformed profile: unexpected '\\r'.",
            ),
            (
                "cut after gpu_count =",
                cut("gpu_count"),
                "malformed profile: unexpected end of file.",
            ),
            (
                "cut after pass_fraction =",
                cut("pass_fraction"),
                "malformed profile: unexpected end of file.",
            ),
        ];
        for (what, text, want) in cases {
            let e = parse_profile(text, "x.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{what}: {e}");
            let line = text.lines().count();
            assert!(e.starts_with(&format!("x.toml:{line}:")), "{what}: {e}");
        }
    }

    #[test]
    fn auto_from_catalogue_and_derived() {
        let p = auto_profile(&[m40()]);
        assert_eq!(p.machine.gpu_count, 1);
        assert_eq!(p.machine.host_vcpus, None);
        let fp32 = p
            .targets
            .iter()
            .find(|t| t.metric == Metric::Fp32Gemm)
            .unwrap();
        assert_eq!(fp32.spec(), 7.0);
        assert!(fp32.source.contains("Tesla M40 24GB"));
        assert!(fp32.gpu.is_none());

        let mut unknown = m40();
        unknown.name = "Mystery GPU".into();
        let p = auto_profile(&[unknown]);
        let spec = |m: Metric| p.targets.iter().find(|t| t.metric == m).unwrap().spec();
        assert!((spec(Metric::Fp32Gemm) - 6.844).abs() < 1e-3);
        assert!((spec(Metric::Fp64Gemm) - 0.214).abs() < 1e-3);
        assert!((spec(Metric::StreamTriad) - 288.4).abs() < 0.05);
        assert!((spec(Metric::H2d) - 15.75).abs() < 1e-9);
        assert!(p.targets[0]
            .source
            .starts_with("derived from device attributes"));

        // Mixed models: per-GPU targets.
        let mut h100 = m40();
        h100.index = 1;
        h100.name = "NVIDIA H100 80GB HBM3".into();
        let p = auto_profile(&[m40(), h100]);
        assert_eq!(p.machine.gpu_count, 2);
        assert!(p.targets.iter().all(|t| t.gpu.is_some()));
        assert!(p
            .targets
            .iter()
            .any(|t| t.gpu == Some(1) && t.metric == Metric::Fp32Gemm && t.spec() == 67.0));

        // No GPU: still wants one.
        let p = auto_profile(&[]);
        assert_eq!(p.machine.gpu_count, 1);
        assert!(p.targets.is_empty());
    }

    #[test]
    fn profiles_round_trip_through_toml() {
        for p in builtin_profiles() {
            let text = toml::to_string(&p).unwrap();
            assert_eq!(parse_profile(&text, "rt").unwrap(), p);
        }
    }

    /// g2.large with `power_target_w = 249.0` replaced by `to`, parsed.
    fn base_with(to: &str) -> Profile {
        let base = include_str!("../../profiles/g2.large.toml");
        let text = base.replace("power_target_w = 249.0", to);
        assert_ne!(text, base);
        parse_profile(&text, "t.toml").unwrap()
    }

    #[test]
    fn the_g2_profiles_carry_the_m40_health_limits_and_bad_ones_are_refused() {
        for p in builtin_profiles() {
            let h = p.health.as_ref().expect("a [health] block");
            assert_eq!(h.retired_pages_table, Some(63), "{}", p.name);
            assert_eq!(h.power_target_w, Some(249.0), "{}", p.name);
            assert_eq!((h.max_new_sbe, h.max_pcie_replays), (10, 100), "{}", p.name);
            assert_eq!(h.max_throttle_share, 0.05, "{}", p.name);
            assert!(h.source.contains("DCGM"), "{}", p.name);
            // No published M40 slowdown temperature: the GPU's own (NVML) is the limit.
            assert_eq!(h.max_temperature_c, None, "{}", p.name);
            assert!(
                h.source.contains("NVML_TEMPERATURE_THRESHOLD_SLOWDOWN"),
                "{}",
                p.name
            );
        }
        // A limit of the profile's own is read and kept.
        let own = base_with("power_target_w = 249.0\nmax_temperature_c = 85");
        assert_eq!(own.health.unwrap().max_temperature_c, Some(85));
        let base = include_str!("../../profiles/g2.large.toml");
        for (from, to, says) in [
            (
                "max_throttle_share = 0.05",
                "max_throttle_share = 5",
                "not a share",
            ),
            (
                "retired_pages_table = 63",
                "retired_pages_table = 0",
                "retired_pages_table = 0",
            ),
            (
                "power_target_w = 249.0",
                "power_target_w = -1.0",
                "power_target_w",
            ),
            ("max_new_sbe = 10", "max_sbe = 10", "unknown field"),
            (
                "power_target_w = 249.0",
                "power_target_w = 249.0\nmax_temperature_c = 0",
                "max_temperature_c = 0 is not a GPU temperature limit",
            ),
            (
                "power_target_w = 249.0",
                "power_target_w = 249.0\nmax_temperature_c = 151",
                "from 1 to 150",
            ),
        ] {
            let text = base.replace(from, to);
            let e = parse_profile(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
    }

    #[test]
    fn the_g2_profiles_carry_their_burn_block_and_bad_values_are_refused() {
        for p in builtin_profiles() {
            let b = p.burn.as_ref().expect("a [burn] block");
            assert_eq!(
                (b.quick_duration_s, b.standard_duration_s, b.full_duration_s),
                (Some(120.0), Some(600.0), Some(3600.0)),
                "{}",
                p.name
            );
            assert_eq!(
                (b.max_drift, b.within_machine_share),
                (0.10, 0.10),
                "{}",
                p.name
            );
            assert!(b.source.contains("max_drift"), "{}", p.name);
        }
        let base = include_str!("../../profiles/g2.large.toml");
        for (from, to, says) in [
            (
                "max_drift = 0.10",
                "max_drift = 10",
                "[burn] max_drift = 10 is not a share",
            ),
            (
                "max_drift = 0.10",
                "max_drift = 0.0",
                "[burn] max_drift = 0 is not a share",
            ),
            (
                "within_machine_share = 0.10",
                "within_machine_share = 1.0",
                "[burn] within_machine_share = 1 is not a share",
            ),
            (
                "standard_duration_s = 600",
                "standard_duration_s = 0",
                "[burn] standard_duration_s = 0 is not a duration",
            ),
            (
                "full_duration_s = 3600",
                "full_duration_s = 1e9",
                "[burn] full_duration_s = 1000000000 is not a duration",
            ),
            ("max_drift = 0.10", "drift = 0.10", "unknown field"),
        ] {
            let text = base.replace(from, to);
            let e = parse_profile(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
        let line = base
            .lines()
            .find(|l| l.starts_with("source = \"quick"))
            .unwrap();
        let text = base.replace(line, "source = \" \"");
        let e = parse_profile(&text, "t.toml").unwrap_err().to_string();
        assert!(e.contains("[burn] source is empty"), "{e}");
    }

    /// `[[burn.target]]`: G2.large's sustained FP32 line, G2.2xlarge's with the machine's
    /// concurrent FP32, FP64 and triad; a bad one is refused saying which and why.
    #[test]
    fn burn_targets_are_read_and_bad_ones_refused() {
        let scopes = |name: &str| -> Vec<(Metric, Scope)> {
            let p = load_profile(name).unwrap().0;
            p.burn
                .unwrap()
                .targets
                .iter()
                .map(|t| (t.metric, t.scope))
                .collect()
        };
        assert_eq!(scopes("g2.large"), [(Metric::Fp32Gemm, Scope::Gpu)]);
        assert_eq!(
            scopes("g2.2xlarge"),
            [
                (Metric::Fp32Gemm, Scope::Gpu),
                (Metric::Fp32Gemm, Scope::Machine),
                (Metric::Fp64Gemm, Scope::Machine),
                (Metric::StreamTriad, Scope::Machine),
            ]
        );
        let base = include_str!("../../profiles/g2.large.toml");
        let first = "[[burn.target]]\nmetric = \"fp32_gemm\"";
        assert!(base.contains(first));
        let again = "\n[[burn.target]]\nmetric = \"fp32_gemm\"\nscope = \"gpu\"\n\
                     spec_tflops = 7.0\npass_fraction = 0.5\nsource = \"x\"\n";
        for (text, says) in [
            (
                base.replace("pass_fraction = 0.55", "pass_fraction = 1.5"),
                "[burn]: target #1 (fp32_gemm): pass_fraction = 1.5 must be in (0, 1]",
            ),
            (
                base.replace(first, "[[burn.target]]\nmetric = \"h2d\""),
                "[[burn.target]] #1 (h2d): a burn measures only fp32_gemm",
            ),
            (
                base.to_string() + again,
                "[[burn.target]] #2 (fp32_gemm) repeats an earlier one",
            ),
        ] {
            let e = parse_profile(&text, "t.toml").unwrap_err().to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
    }
}

#[cfg(test)]
mod video_target_tests {
    use super::*;
    use crate::workload::VideoStage;

    /// The G2 profiles' video targets are the derivation from the catalogue's M40 entry (FP32
    /// 7.0 TFLOPS, 288 GB/s), stage by stage, with the estimate's pass fraction: a change to the
    /// stages' work formulas must be carried into the profiles.
    #[test]
    fn g2_video_targets_are_the_m40_derivation() {
        let m40 = crate::gate::catalogue::lookup_gpu("Tesla M40 24GB").unwrap();
        for name in ["g2.large", "g2.2xlarge"] {
            let p = load_profile(name).unwrap().0;
            let mut want = Vec::new();
            for stage in VideoStage::ALL {
                let (fps, _) = video_spec_fps(stage, m40.fp32_tflops, m40.memory_gbps, m40.cc());
                want.push(format!("{} = {fps}", Metric::video(stage)));
                let t = p
                    .targets
                    .iter()
                    .find(|t| t.metric == Metric::video(stage))
                    .unwrap_or_else(|| panic!("{name} has no {} target", Metric::video(stage)));
                assert_eq!(
                    t.spec_fps,
                    Some(fps),
                    "{name}: {} spec_fps; the derivation gives {want:?}",
                    t.metric
                );
                assert_eq!(t.pass_fraction, DEFAULT_PASS_FRACTION_VIDEO, "{name}");
                assert!(t.source.contains("estimate"), "{name}: {}", t.source);
            }
        }
    }

    /// Bandwidth-bound and integer-bound stages: each bound is computed, the lower one wins, and
    /// the source says which.
    #[test]
    fn video_spec_is_the_lower_bound_and_says_which() {
        for stage in VideoStage::ALL {
            let w = crate::workload::video::video_work(stage, 1920, 1080);
            let (fps, why) = video_spec_fps(stage, 7.0, 288.0, (5, 2));
            let bw = 288e9 / w.bytes;
            let int = 3.5e12
                / (w.int_ops * crate::workload::video::kernel_int_instructions_per_op(stage));
            let want = bw.min(int);
            assert!(
                (fps - want).abs() <= want * 0.01 + 0.05,
                "{stage:?}: {fps} vs {want}"
            );
            let bound = if bw <= int {
                "bandwidth bound"
            } else {
                "integer bound"
            };
            assert!(why.starts_with(bound), "{stage:?}: {why}");
            // Twice the bandwidth and twice the FP32 peak: twice the frames.
            let (f2, _) = video_spec_fps(stage, 14.0, 576.0, (5, 2));
            assert!((f2 / fps - 2.0).abs() < 0.01, "{stage:?}: {f2} vs {fps}");
        }
    }

    /// Hopper has 64 INT32 lanes beside 128 FP32 ones per SM: its integer bound is half of what
    /// its FP32 peak alone would say, and the source says why.
    #[test]
    fn integer_bound_counts_int32_lanes() {
        use crate::workload::VideoStage::Me;
        let (m40_like, _) = video_spec_fps(Me, 60.0, 3350.0, (5, 2));
        let (h100, why) = video_spec_fps(Me, 60.0, 3350.0, (9, 0));
        assert!((m40_like / h100 - 2.0).abs() < 0.01, "{m40_like} vs {h100}");
        assert!(why.contains("64/128 INT32:FP32 lanes of sm_90"), "{why}");
        assert_eq!(int32_lanes_per_sm((5, 2)), 128);
        assert_eq!(int32_lanes_per_sm((8, 6)), 64);
    }

    /// `auto` on an M40 sets the four video targets from the catalogue.
    #[test]
    fn auto_sets_video_targets() {
        let p = auto_profile(&[crate::test_support::m40(0)]);
        for stage in VideoStage::ALL {
            let t = p
                .targets
                .iter()
                .find(|t| t.metric == Metric::video(stage))
                .unwrap();
            assert_eq!(
                t.spec_fps,
                Some(video_spec_fps(stage, 7.0, 288.0, (5, 2)).0)
            );
            assert!(
                t.source.contains("catalogue: Tesla M40 24GB"),
                "{}",
                t.source
            );
        }
    }

    /// A target given twice (same metric, scope and GPU) is refused naming both; the same
    /// metric for another scope or another GPU is not a duplicate.
    #[test]
    fn duplicate_targets_are_refused_naming_both_lines() {
        let t = |metric: &str, scope: &str, gpu: &str| {
            format!(
                "[[target]]\nmetric = \"{metric}\"\nscope = \"{scope}\"\n{gpu}spec_tflops = 7.0\npass_fraction = 0.6\nsource = \"s\"\n"
            )
        };
        let base = "name = \"t\"\ndescription = \"\"\n[machine]\ngpu_count = 2\n";
        let text = format!(
            "{base}{}{}{}",
            t("fp32_gemm", "gpu", ""),
            t("fp32_gemm", "machine", ""),
            t("fp32_gemm", "gpu", "gpu = 1\n")
        );
        parse_profile(&text, "t").unwrap();
        let text = format!("{text}{}", t("fp32_gemm", "gpu", ""));
        let e = parse_profile(&text, "my.toml").unwrap_err().to_string();
        assert!(
            e.contains(
                "target #1 (line 6) and target #4 (line 25) are both fp32_gemm for every GPU"
            ),
            "{e}"
        );
        assert!(e.starts_with("my.toml"), "{e}");
    }

    /// spec_fps is the key of the fps metrics and only of them.
    #[test]
    fn fps_targets_take_spec_fps_only() {
        let base = "name = \"t\"\ndescription = \"\"\n[machine]\ngpu_count = 1\n[[target]]\nscope = \"gpu\"\npass_fraction = 0.5\nsource = \"s\"\n";
        let ok = format!("{base}metric = \"video_me\"\nspec_fps = 100.0\n");
        if let Err(e) = parse_profile(&ok, "t") {
            panic!("{e}");
        }
        let e = parse_profile(
            &format!("{base}metric = \"video_me\"\nspec_gbps = 100.0\n"),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("write spec_fps, not spec_gbps"), "{e}");
        let e = parse_profile(
            &format!("{base}metric = \"stream_triad\"\nspec_fps = 100.0\n"),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("write spec_gbps, not spec_fps"), "{e}");
        let e = parse_profile(
            &format!("{base}metric = \"video_me\"\nspec_fps = 1.0\nspec_tflops = 1.0\n"),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("spec_tflops and spec_fps: keep only spec_fps"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod props;
