//! The gate: turns a profile and a run's inventory and results into checks with verdicts.
//!
//! Rules (see the crate README for the operator-facing version):
//! - Inventory: GPU count (exact), model, memory per GPU, PCIe link per GPU, host vCPUs, host
//!   memory and local disk (the last two pass at >= 95 % of nominal).
//! - Performance: per GPU and target, the best (highest median) of the primary CUDA results of
//!   the matching workload; a machine-scope target sums the per-GPU bests. The FP32/FP64 GEMM
//!   targets are judged on CUDA-core GEMMs only: tensor-core (DMMA, HMMA) results are reported
//!   beside them, never counted against a vector target.
//! - Any matching result that is not verified as right FAILS the target, whatever its speed.
//! - Noise: the pass line is compared with an interval, not a point (see [`noise_interval`]).
//! - Host results never count as GPU results; they are reported, never gated.

use crate::model::{
    BackendKind, Check, CheckKind, DeviceInfo, Interval, Measurement, Role, RunReport, Verdict,
    VerifyStatus, WorkloadResult,
};
use crate::workload::{Direction, GemmMath, Precision, StreamOp, WorkloadSpec};

use super::catalogue::name_matches;
use super::profile::{
    pcie_gbps_per_lane, Metric, Profile, Scope, Target, HOST_SIZE_TOLERANCE, VIDEO_TARGET_FRAME,
};

/// Evaluates every rule of `profile` against `report`; the order is inventory, health
/// (`super::health`), correctness,
/// per-GPU performance, machine performance, the run's completeness. Every target of the
/// profile gives a check in every run, whatever the GPUs' state: one that could not be
/// measured FAILS with the reason.
pub fn evaluate(profile: &Profile, report: &RunReport) -> Vec<Check> {
    let mut drafts = Vec::new();
    inventory(profile, report, &mut drafts);
    super::health::run_health(profile, report, &mut drafts);
    correctness(report, &mut drafts);
    super::memtest::memtest_checks(profile, &report.memtest, &mut drafts);
    per_gpu(profile, report, &mut drafts);
    machine(profile, report, &mut drafts);
    super::burn::burn(report, &mut drafts);
    super::p2p::p2p_checks(profile, report.p2p.as_ref(), &mut drafts);
    // The one way from a rule's draft to a check: an undecided one fails here.
    let mut checks: Vec<Check> = drafts.into_iter().map(Draft::finish).collect();
    simulated_devices(report, &mut checks);
    completeness(report, &mut checks);
    checks
}

/// A simulated device (gpugate-sim) can never put a machine into service: unless the run was
/// given `--allow-simulated`, every check about one FAILS with "simulated device" (its observed
/// value and original decision stay in the reason), and so do the machine-wide GPU checks when
/// any GPU is simulated. Host checks are untouched.
fn simulated_devices(r: &RunReport, checks: &mut [Check]) {
    let simulated: Vec<&DeviceInfo> = r.gpus.iter().filter(|g| g.is_simulated()).collect();
    if simulated.is_empty() || r.allow_simulated {
        return;
    }
    for c in checks.iter_mut() {
        let device = match c.device {
            Some(d) => simulated.iter().find(|g| g.index == d).copied(),
            None if c.id.starts_with("machine.") => Some(simulated[0]),
            None => None,
        };
        let Some(g) = device else { continue };
        let was = format!("{}: {}", c.verdict, c.reason);
        c.verdict = Verdict::Fail;
        c.reason = format!(
            "simulated device: GPU {} ({}) is gpugate-sim, not a GPU; on the simulator this check \
             gave {was}",
            g.index, g.name
        );
        c.hint = "test the real GPU; pass --allow-simulated only to test gpugate itself".into();
    }
}

/// `run.complete`: PASSES when the run finished; FAILS for a run that was interrupted or
/// killed (a run that did not finish is never green, whatever it measured).
pub fn completeness(r: &RunReport, out: &mut Vec<Check>) {
    // A memory test plans no workload: it counts its patterns run to their end.
    let memtest_only = r.results.is_empty() && !r.memtest.is_empty();
    let mut c = check(
        "completeness",
        "run.complete".into(),
        CheckKind::Run,
        None,
        "The run finished",
        if memtest_only {
            "patterns"
        } else {
            "workloads"
        },
    );
    c.observed = Some(if memtest_only {
        let done = r.memtest.iter().flat_map(|m| &m.patterns);
        done.filter(|p| p.failed.is_none()).count() as f64
    } else {
        r.results.len() as f64
    });
    match (&r.interrupted, r.complete) {
        (_, true) => {
            c.verdict = Some(Verdict::Pass);
            c.reason = if r.results.is_empty() && !r.memtest.is_empty() {
                let did = crate::model::memtest::done_so_far(&r.memtest, 0, 0);
                format!("the run finished: {did}")
            } else {
                format!("the run finished: {} results", r.results.len())
            };
        }
        (Some(i), false) => {
            c.verdict = Some(Verdict::Fail);
            c.required = (!memtest_only).then_some(i.planned_workloads as f64);
            c.reason = format!(
                "interrupted by {} at {} after {}: what was measured is reported, the rest was \
                 not measured",
                i.signal,
                i.at,
                crate::model::memtest::done_so_far(
                    &r.memtest,
                    i.finished_workloads,
                    i.planned_workloads
                )
            );
            c.hint = "run it again to the end; a run that did not finish never passes".into();
        }
        (None, false) => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "the run did not finish: this run.json was saved mid-run ({} results) and \
                 never completed (the run was killed or crashed, or is still running)",
                r.results.len()
            );
            c.hint = "run it again to the end; if it dies again, look for an OOM kill or a \
                 crash in the system log (dmesg)"
                .into();
        }
    }
    out.push(c.finish());
}

/// The GPU indices the per-GPU targets are judged on: every GPU of the run, plus, when the
/// run has fewer than the profile wants, the missing ones (the lowest indices not present),
/// and any GPU a target names. A GPU that is not in the run FAILS each of its targets.
fn gpu_slots(p: &Profile, r: &RunReport) -> Vec<u32> {
    let mut slots: Vec<u32> = r.gpus.iter().map(|g| g.index).collect();
    let mut next = 0u32;
    while slots.len() < p.machine.gpu_count as usize {
        if !slots.contains(&next) {
            slots.push(next);
        }
        next += 1;
    }
    for t in &p.targets {
        if let (Scope::Gpu, Some(g)) = (t.scope, t.gpu) {
            if !slots.contains(&g) {
                slots.push(g);
            }
        }
    }
    slots.sort_unstable();
    slots
}

/// What to do about a GPU the profile wants that is not in the run.
const MISSING_GPU_HINT: &str =
    "see the GPU count check: every GPU the profile wants must be usable and measured";

/// Why a GPU the profile wants has no results in the run.
fn missing_gpu_reason(r: &RunReport, index: u32) -> String {
    match &r.gpu_unavailable {
        Some(_) if r.gpus.is_empty() => {
            "not measured: no GPU could be used (see machine.gpu_count for why)".to_string()
        }
        _ => format!(
            "not measured: GPU {index} is not in this run ({} GPU(s) usable: {})",
            r.gpus.len(),
            r.gpus
                .iter()
                .map(|g| g.index.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A check while the rules decide it: everything a [`Check`] holds, but its verdict starts
/// undecided (`None`) rather than PASS, and only a rule gives it one (`Some`), PASS included.
/// The gate hands out nothing but [`Draft::finish`]ed checks, and a check that no rule decided
/// FAILS there, naming the rule that made it: a value no rule judged never passes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    /// The rule (the function in this file) that made the check and must decide it.
    pub rule: &'static str,
    pub id: String,
    pub kind: CheckKind,
    pub device: Option<u32>,
    pub title: String,
    /// `None` until a rule decides.
    pub verdict: Option<Verdict>,
    pub observed: Option<f64>,
    pub required: Option<f64>,
    pub spec: Option<f64>,
    pub percent_of_spec: Option<f64>,
    pub unit: String,
    pub source: Option<String>,
    pub reason: String,
    pub hint: String,
    pub evidence: Vec<String>,
    /// The noise interval [`decide`] compared with the pass line.
    pub noise_interval: Option<Interval>,
    /// The result(s) the judged value came from.
    pub decided_from: Vec<String>,
}

/// What an undecided check's reason starts with.
pub const UNDECIDED: &str = "undecided:";

impl Draft {
    /// The check as decided. Undecided: FAIL, naming the rule. A performance check decided
    /// PASS on a value that is not a finite positive number: FAIL (a measurement that is not a
    /// number never passes, whichever rule let it through).
    pub fn finish(self) -> Check {
        let (verdict, reason, hint) = match self.verdict {
            Some(v) => (v, self.reason, self.hint),
            None => (
                Verdict::Fail,
                format!(
                    "{UNDECIDED} no rule decided this check: the rule `{}` (src/gate/evaluate.rs) \
                     made it and gave it no verdict, and a check no rule decided fails{}",
                    self.rule,
                    if self.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" (it had got as far as: {})", self.reason)
                    }
                ),
                "this is a bug in gpugate's gate, not in the machine: report it with the run.json"
                    .to_string(),
            ),
        };
        let (verdict, reason, hint, observed) = match (verdict, self.kind, self.observed) {
            (Verdict::Pass, CheckKind::Performance, v) if !v.is_some_and(valid_value) => (
                Verdict::Fail,
                format!(
                    "{}: not a valid measurement (the rule `{}` passed it: {reason})",
                    v.map_or_else(|| "no value".to_string(), |v| format!("{v} {}", self.unit)),
                    self.rule
                ),
                INVALID_HINT.to_string(),
                None,
            ),
            _ => (verdict, reason, hint, self.observed),
        };
        Check {
            id: self.id,
            kind: self.kind,
            device: self.device,
            title: self.title,
            verdict,
            observed,
            required: self.required,
            spec: self.spec,
            percent_of_spec: self.percent_of_spec.filter(|p| p.is_finite()),
            unit: self.unit,
            source: self.source,
            reason,
            hint,
            evidence: self.evidence,
            // Only a value that stands was judged by its interval.
            noise_interval: self.noise_interval.filter(|_| observed.is_some()),
            decided_from: self.decided_from,
        }
    }
}

/// A new, undecided check made by `rule`.
pub(crate) fn check(
    rule: &'static str,
    id: String,
    kind: CheckKind,
    device: Option<u32>,
    title: &str,
    unit: &str,
) -> Draft {
    Draft {
        rule,
        id,
        kind,
        device,
        title: title.to_string(),
        verdict: None,
        observed: None,
        required: None,
        spec: None,
        percent_of_spec: None,
        unit: unit.to_string(),
        source: None,
        reason: String::new(),
        hint: String::new(),
        evidence: Vec::new(),
        noise_interval: None,
        decided_from: Vec::new(),
    }
}

/// Whether a measured value can be judged: a finite number above zero. A throughput of zero,
/// below zero, infinite or NaN comes from a time that was not a time (an event timer that
/// reported 0 ms gives infinite TFLOPS), never from a GPU.
pub fn valid_value(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// What to do about a measurement that is not a valid number.
const INVALID_HINT: &str = "the GPU's timer gave an impossible time (zero, negative or not a \
    number), so nothing was measured: re-run; if it repeats, the driver's event timing is broken \
    (check the driver version, nvidia-smi and dmesg | grep -i xid); a measurement that is not a \
    number never passes";

/// The driver branches gpugate runs on: the oldest it supports ("R418", see
/// `crate::kernels::OLDEST_DRIVER`; every kernel family has a build that loads there), and the
/// oldest that loads every build ("R450"), from the modules' PTX ISA versions.
fn ptx_driver_range() -> (&'static str, &'static str) {
    let drivers = || {
        crate::kernels::MODULES
            .iter()
            .filter_map(|m| m.min_driver())
    };
    let newest = drivers().max().map_or("R525", |d| d.1);
    let mut families: Vec<&str> = crate::kernels::MODULES.iter().map(|m| m.name).collect();
    families.sort_unstable();
    families.dedup();
    // Per family its oldest build's driver; the newest of those is what every family needs.
    let oldest = families
        .iter()
        .filter_map(|f| {
            crate::kernels::MODULES
                .iter()
                .filter(|m| m.name == *f)
                .filter_map(|m| m.min_driver())
                .min()
        })
        .max()
        .into_iter()
        .chain([(crate::kernels::OLDEST_DRIVER, crate::kernels::OLDEST_BRANCH)])
        .max()
        .map_or(newest, |d| d.1);
    (oldest, newest)
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

// ---------------------------------------------------------------- inventory

/// The inventory checks, in this order: the GPU count; per GPU in the run its model, memory,
/// PCIe link and encoders; the same checks failed for each GPU the profile wants that is not
/// in the run; the host's CPUs, memory and local disk.
fn inventory(p: &Profile, r: &RunReport, out: &mut Vec<Draft>) {
    out.push(gpu_count_check(p, r));
    for g in &r.gpus {
        gpu_inventory(p, r, g, out);
    }
    missing_gpu_inventory(p, r, out);
    host_inventory(p, r, out);
}

/// One item of a GPU's inventory a profile can ask for: the key of its check id
/// (`gpuN.<key>`), its title and its unit.
#[derive(Debug, Clone, Copy)]
struct GpuItem {
    key: &'static str,
    title: &'static str,
    unit: &'static str,
}

const GPU_MODEL: GpuItem = GpuItem {
    key: "model",
    title: "GPU model",
    unit: "",
};
const GPU_MEMORY: GpuItem = GpuItem {
    key: "memory",
    title: "GPU memory",
    unit: "GB",
};
const PCIE_GEN: GpuItem = GpuItem {
    key: "pcie_gen",
    title: "PCIe link generation",
    unit: "gen",
};
const PCIE_WIDTH: GpuItem = GpuItem {
    key: "pcie_width",
    title: "PCIe link width",
    unit: "lanes",
};
const NVENC_ENGINES: GpuItem = GpuItem {
    key: "nvenc_engines",
    title: "NVENC engines (hardware video encoders)",
    unit: "engines",
};

/// The inventory check of `item` on GPU `index`, sourced from the profile, passing until told
/// otherwise.
fn gpu_item_check(rule: &'static str, p: &Profile, index: u32, item: GpuItem) -> Draft {
    let mut c = check(
        rule,
        format!("gpu{index}.{}", item.key),
        CheckKind::Inventory,
        Some(index),
        item.title,
        item.unit,
    );
    c.source = Some(format!("profile {}", p.name));
    c
}

/// `machine.gpu_count`: exactly as many usable GPUs as the profile wants.
fn gpu_count_check(p: &Profile, r: &RunReport) -> Draft {
    let want = p.machine.gpu_count as usize;
    let have = r.gpus.len();
    let mut c = check(
        "gpu_count_check",
        "machine.gpu_count".into(),
        CheckKind::Inventory,
        None,
        "GPU count",
        "GPUs",
    );
    c.observed = Some(have as f64);
    c.required = Some(want as f64);
    c.source = Some(format!("profile {}", p.name));
    match (&r.gpu_unavailable, want) {
        (Some(why), w) if w > 0 => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!("no GPU could be used: {why}");
            c.hint = format!(
                "the profile {} wants {}: install or repair the NVIDIA driver (nvidia-smi must \
                 list the GPUs), check that the driver is one gpugate supports ({} or newer; \
                 {} for every path of the newest GPUs; `gpugate info` shows what loads), and look \
                 for fallen-off-the-bus devices (dmesg | grep -i xid, Xid 79)",
                p.name,
                plural(w, "GPU"),
                ptx_driver_range().0,
                ptx_driver_range().1
            );
        }
        _ if have < want => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{} usable, the profile {} wants {}",
                plural(have, "GPU"),
                p.name,
                want
            );
            c.hint = format!(
                "this machine has {}, the profile {} wants {want}: check nvidia-smi; a missing GPU \
                 often means a device fallen off the bus (dmesg | grep -i xid, Xid 79), a GPU \
                 hidden by CUDA_VISIBLE_DEVICES, or one the driver failed to initialise; reseat or \
                 replace it before going live",
                plural(have, "GPU"),
                p.name
            );
        }
        _ if have > want => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{} usable, the profile {} wants exactly {want}",
                plural(have, "GPU"),
                p.name
            );
            c.hint = "more GPUs than the profile names: this is a different machine type; run \
                      with the profile for this machine (or --profile auto)"
                .into();
        }
        _ => {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!("{} usable, as the profile wants", plural(have, "GPU"));
        }
    }
    c
}

/// The inventory checks of one GPU in the run: model, memory, PCIe link generation and width,
/// NVENC engines (each only where the profile asks for it).
fn gpu_inventory(p: &Profile, r: &RunReport, g: &DeviceInfo, out: &mut Vec<Draft>) {
    let m = &p.machine;
    if !m.gpu_model.trim().is_empty() {
        out.push(gpu_model_check(p, g));
    }
    if let Some(min_gb) = m.min_gpu_memory_gb {
        out.push(gpu_memory_check(p, g, min_gb));
    }
    let gen = PcieReading {
        item: PCIE_GEN,
        required: m.pcie_gen,
        observed: g.pcie_link_gen,
    };
    pcie_check(p, r, g, gen, out);
    let width = PcieReading {
        item: PCIE_WIDTH,
        required: m.pcie_width,
        observed: g.pcie_link_width,
    };
    pcie_check(p, r, g, width, out);
    nvenc_check(p, g, out);
}

/// `gpuN.model`: the GPU's name matches the profile's `gpu_model`.
fn gpu_model_check(p: &Profile, g: &DeviceInfo) -> Draft {
    let want = &p.machine.gpu_model;
    let mut c = gpu_item_check("gpu_model_check", p, g.index, GPU_MODEL);
    if name_matches(&g.name, want) {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("{:?} matches {:?}", g.name, want);
    } else {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("{:?} does not match {:?}", g.name, want);
        c.hint = format!(
            "the profile {} is for {}; this is a different GPU: use the profile for this \
             machine (or --profile auto)",
            p.name, want
        );
    }
    c
}

/// `gpuN.memory`: the GPU's memory is at least `min_gb`.
fn gpu_memory_check(p: &Profile, g: &DeviceInfo, min_gb: f64) -> Draft {
    let gb = g.total_memory_bytes as f64 / 1e9;
    let mut c = gpu_item_check("gpu_memory_check", p, g.index, GPU_MEMORY);
    c.observed = Some(gb);
    c.required = Some(min_gb);
    if gb >= min_gb {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("{gb:.1} GB >= {min_gb:.1} GB");
    } else {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("{gb:.1} GB < {min_gb:.1} GB");
        c.hint = "less memory than the model has: a different SKU, or pages retired \
                  after ECC errors; check nvidia-smi -q -d MEMORY,ECC,PAGE_RETIREMENT"
            .into();
    }
    c
}

/// A GPU the profile wants that is not in the run fails each of its inventory checks.
fn missing_gpu_inventory(p: &Profile, r: &RunReport, out: &mut Vec<Draft>) {
    let m = &p.machine;
    // NaN: the check is wanted but has no number to require.
    let wanted: [(GpuItem, Option<f64>); 5] = [
        (
            GPU_MODEL,
            (!m.gpu_model.trim().is_empty()).then_some(f64::NAN),
        ),
        (GPU_MEMORY, m.min_gpu_memory_gb),
        (PCIE_GEN, m.pcie_gen.map(f64::from)),
        (PCIE_WIDTH, m.pcie_width.map(f64::from)),
        (NVENC_ENGINES, m.nvenc_engines.map(f64::from)),
    ];
    for index in gpu_slots(p, r) {
        if r.gpus.iter().any(|g| g.index == index) {
            continue;
        }
        for (item, required) in wanted {
            let Some(required) = required else { continue };
            let mut c = gpu_item_check("missing_gpu_inventory", p, index, item);
            c.required = required.is_finite().then_some(required);
            c.verdict = Some(Verdict::Fail);
            c.reason = missing_gpu_reason(r, index);
            c.hint = MISSING_GPU_HINT.into();
            out.push(c);
        }
    }
}

/// The host's inventory checks: logical CPUs, memory, local disk.
fn host_inventory(p: &Profile, r: &RunReport, out: &mut Vec<Draft>) {
    let m = &p.machine;
    if let Some(want) = m.host_vcpus {
        out.push(host_vcpus_check(p, r, want));
    }
    host_size_check(
        p,
        "host.memory",
        "Host memory",
        m.host_memory_gb,
        r.host.memory_bytes,
        "less host memory than the instance type: check free -g and dmesg for failed DIMMs \
         or a reduced memory map",
        out,
    );
    host_size_check(
        p,
        "host.local_disk",
        "Local disk",
        m.local_disk_gb,
        r.host.local_disk_bytes,
        "less local disk than the instance type: check lsblk for a missing or failed device",
        out,
    );
}

/// `host.vcpus`: at least `want` logical CPUs; inconclusive when the host did not say.
fn host_vcpus_check(p: &Profile, r: &RunReport, want: u32) -> Draft {
    let mut c = check(
        "host_vcpus_check",
        "host.vcpus".into(),
        CheckKind::Inventory,
        None,
        "Host logical CPUs",
        "vCPUs",
    );
    c.required = Some(want as f64);
    c.source = Some(format!("profile {}", p.name));
    let have = r.host.logical_cpus;
    if have == 0 {
        c.verdict = Some(Verdict::Inconclusive);
        c.reason = "the host's CPU count was not reported".into();
        c.hint = "the host inventory could not be read; re-run, or check /proc/cpuinfo".into();
    } else {
        c.observed = Some(have as f64);
        if have >= want {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!("{have} >= {want}");
        } else {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!("{have} < {want}");
            c.hint = "fewer vCPUs than the instance type: check the instance size, CPU \
                      hotplug and the cgroup/cpuset the tool runs in (nproc)"
                .into();
        }
    }
    c
}

/// `gpuN.nvenc_engines`, where the profile wants encoders: the GPU's NVENC engine count (the
/// catalogue's, or none from NVML) against the minimum. An unknown count fails: the profile
/// asks for something the run cannot confirm.
fn nvenc_check(p: &Profile, g: &DeviceInfo, out: &mut Vec<Draft>) {
    let Some(want) = p.machine.nvenc_engines else {
        return;
    };
    let mut c = gpu_item_check("nvenc_check", p, g.index, NVENC_ENGINES);
    c.required = Some(want as f64);
    c.source = Some(match &g.nvenc.source {
        Some(s) => format!("profile {}; count: {s}", p.name),
        None => format!("profile {}", p.name),
    });
    let n = &g.nvenc;
    match n.engines {
        Some(have) if have >= want && n.nvml_encoder == Some(false) && have > 0 => {
            c.observed = Some(have as f64);
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "the catalogue gives {have} NVENC engine(s) (>= {want}), but the driver reports no \
                 encoder on this GPU (NVML: Not Supported)"
            );
            c.hint = "NVENC is not usable here: a vGPU profile or passthrough without the \
                      encoder, or a driver without video support; check nvidia-smi -q -d \
                      ENCODER_STATS and the instance's GPU configuration"
                .into();
        }
        Some(have) if have >= want => {
            c.observed = Some(have as f64);
            c.verdict = Some(Verdict::Pass);
            c.reason = format!("{have} >= {want}");
        }
        Some(0) => {
            c.observed = Some(0.0);
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{} ({}); the profile {} wants {want} per GPU",
                crate::model::NO_NVENC,
                n.source.as_deref().unwrap_or("source unknown"),
                p.name
            );
            c.hint = "this GPU model cannot encode video in hardware: use a machine type with \
                      NVENC GPUs (the profile's gpu_model), or a profile that does not require \
                      encoders"
                .into();
        }
        Some(have) => {
            c.observed = Some(have as f64);
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{have} NVENC engine(s) < {want} ({})",
                n.source.as_deref().unwrap_or("source unknown")
            );
            c.hint = "a GPU model with fewer encoders than the profile's: use the profile for \
                      this machine (or --profile auto)"
                .into();
        }
        None => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "{} ({:?} is not in the GPU models catalogue{}); the profile {} wants {want}",
                crate::model::NVENC_UNKNOWN,
                g.name,
                match n.nvml_encoder {
                    Some(true) => ", and NVML reports an encoder but not how many engines",
                    _ => "",
                },
                p.name
            );
            c.hint = "add the GPU to profiles/gpus.toml with nvenc_engines and nvenc_source from \
                      NVIDIA's Video Encode and Decode GPU Support Matrix, or use a profile \
                      without nvenc_engines"
                .into();
        }
    }
    out.push(c);
}

/// One PCIe link property of a GPU: which one, what the profile requires (none: no check) and
/// what the driver reported (none: not reported).
#[derive(Debug, Clone, Copy)]
struct PcieReading {
    item: GpuItem,
    required: Option<u32>,
    observed: Option<u32>,
}

/// `gpuN.pcie_gen` / `gpuN.pcie_width`: the link as reported, and when it reads low, judged by
/// what the host-to-device copies reached.
fn pcie_check(p: &Profile, r: &RunReport, g: &DeviceInfo, link: PcieReading, out: &mut Vec<Draft>) {
    let Some(want) = link.required else { return };
    let mut c = gpu_item_check("pcie_check", p, g.index, link.item);
    c.required = Some(want as f64);
    let Some(have) = link.observed else {
        c.verdict = Some(Verdict::Skipped);
        c.reason = "the driver did not report the PCIe link".into();
        c.hint = "see the host-to-device bandwidth check instead".into();
        out.push(c);
        return;
    };
    c.observed = Some(have as f64);
    if have >= want {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("{have} >= {want}");
        out.push(c);
        return;
    }
    // A link reads lower than it is while the GPU idles (PCIe power saving trains it down), so
    // a low reading is judged by what the transfers reached.
    let h2d_line = p
        .targets
        .iter()
        .find(|t| t.metric == Metric::H2d && t.applies_to(g.index))
        .map(Target::required)
        .or_else(|| {
            let gen = p.machine.pcie_gen.unwrap_or(3);
            let width = p.machine.pcie_width.unwrap_or(16);
            pcie_gbps_per_lane(gen)
                .map(|l| l * width as f64 * super::profile::DEFAULT_PASS_FRACTION_TRANSFER)
        });
    let a = assess(r, g.index, Metric::H2d);
    match (a.best_value(), h2d_line) {
        (Some((v, _, _)), Some(line)) if a.clean() && v >= line => {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!(
                "reported {have} (< {want}), but host-to-device copies reach {v:.1} GB/s \
                 (>= {line:.1}): the link trains down while idle"
            );
            c.evidence = a.ids();
            c.decided_from.extend(a.best_id());
        }
        (Some((v, _, _)), Some(line)) => {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!(
                "reported {have} (< {want}) and host-to-device copies reach only {v:.1} GB/s \
                 (< {line:.1})"
            );
            c.hint = "the GPU's link trained below its slot: reseat the GPU or riser, check the \
                      slot, BIOS PCIe settings and nvidia-smi -q -d PCIE under load"
                .into();
            c.evidence = a.ids();
            c.decided_from.extend(a.best_id());
        }
        _ => {
            c.verdict = Some(Verdict::Inconclusive);
            c.reason = format!(
                "reported {have} (< {want}); no host-to-device measurement to tell an idle \
                 link from a degraded one"
            );
            c.hint = "check nvidia-smi -q -d PCIE while the GPU is busy, or re-run with \
                      transfers (--level standard or full)"
                .into();
        }
    }
    out.push(c);
}

fn host_size_check(
    p: &Profile,
    id: &str,
    title: &str,
    nominal_gb: Option<f64>,
    bytes: u64,
    hint: &str,
    out: &mut Vec<Draft>,
) {
    let Some(nominal) = nominal_gb else { return };
    let line = nominal * HOST_SIZE_TOLERANCE;
    let mut c = check(
        "host_size_check",
        id.into(),
        CheckKind::Inventory,
        None,
        title,
        "GB",
    );
    c.required = Some(line);
    c.spec = Some(nominal);
    c.source = Some(format!(
        "profile {} ({nominal:.0} GB nominal; passes at >= {:.0} %)",
        p.name,
        HOST_SIZE_TOLERANCE * 100.0
    ));
    if bytes == 0 {
        c.verdict = Some(Verdict::Inconclusive);
        c.reason = "not reported by the host inventory".into();
        c.hint = "the host inventory could not be read; re-run as a user who can read \
                  /proc/meminfo and /sys/block"
            .into();
    } else {
        let gb = bytes as f64 / 1e9;
        c.observed = Some(gb);
        c.percent_of_spec = Some(gb / nominal * 100.0);
        if gb >= line {
            c.verdict = Some(Verdict::Pass);
            c.reason = format!("{gb:.1} GB >= {line:.1} GB");
        } else {
            c.verdict = Some(Verdict::Fail);
            c.reason = format!("{gb:.1} GB < {line:.1} GB");
            c.hint = hint.into();
        }
    }
    out.push(c);
}

// ---------------------------------------------------------------- correctness

fn first_mismatches(r: &WorkloadResult, n: usize) -> String {
    let v = &r.verification;
    let mut s = format!(
        "{}: verification failed ({}; max error {:.3e}, tolerance {:.3e})",
        r.id, v.method, v.max_error, v.tolerance
    );
    if !v.mismatches.is_empty() {
        let firsts: Vec<String> = v
            .mismatches
            .iter()
            .take(n)
            .map(|m| format!("{} expected {} got {}", m.at, m.expected, m.got))
            .collect();
        s.push_str("; first mismatches: ");
        s.push_str(&firsts.join(", "));
    }
    s
}

const CORRECTNESS_HINT: &str = "wrong results make a machine unfit whatever its speed: look for \
    Xid and ECC errors (dmesg | grep -i xid; nvidia-smi -q -d ECC), re-run, and take the GPU out \
    of service if it repeats";

/// One Correctness check per CUDA result (gpugate's kernel or a peer library) whose output was
/// checked and found wrong, and one per kernel of gpugate's that could not run and that no
/// performance target covers. Host results are the tool's own references: never gated.
fn correctness(r: &RunReport, out: &mut Vec<Draft>) {
    for w in &r.results {
        if w.backend != BackendKind::Cuda || w.verification.status != VerifyStatus::Failed {
            continue;
        }
        let mut c = check(
            "correctness",
            format!("{}.verify", w.id),
            CheckKind::Correctness,
            w.device,
            &format!("Correctness of {}", w.spec.name()),
            "",
        );
        c.verdict = Some(Verdict::Fail);
        c.reason = first_mismatches(w, 3);
        c.hint = CORRECTNESS_HINT.into();
        c.source = Some(w.verification.method.clone());
        c.evidence = vec![w.id.clone()];
        out.push(c);
    }
    // gpugate's own kernels that could not run at all. A workload that a performance target
    // measures already fails that target; any other one (a tensor-core GEMM, HGEMM, the other
    // stream operations) fails here, so that no kernel that errors on a GPU is a silent skip.
    // (cuBLAS peers are optional: their errors stay warnings.)
    for w in &r.results {
        let Some(e) = &w.error else { continue };
        if w.backend != BackendKind::Cuda
            || w.role != Role::Primary
            || Metric::ALL.iter().any(|m| workload_matches(&w.spec, *m))
        {
            continue;
        }
        let mut c = check(
            "correctness",
            format!("{}.run", w.id),
            CheckKind::Correctness,
            w.device,
            &format!("Run of {}", w.spec.name()),
            "",
        );
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("{}: {e}", w.id);
        c.hint = "a kernel that cannot run on a GPU is a failure, never a skip: read the error, \
                  look for Xid errors (dmesg | grep -i xid) and re-run; if the error names a \
                  compute capability, report it as a gpugate bug"
            .into();
        c.evidence = vec![w.id.clone()];
        out.push(c);
    }
}

// ---------------------------------------------------------------- performance

/// Whether a workload is what a metric measures. The FP32 and FP64 GEMM targets are CUDA-core
/// (vector FMA) figures, so only CUDA-core GEMMs count for them: a tensor-core (DMMA) DGEMM is
/// reported, never gated against a vector target. Stream triad at either precision (the choice
/// between them is made in [`assess`]); transfers only from/to pinned memory.
pub fn workload_matches(spec: &WorkloadSpec, metric: Metric) -> bool {
    match (metric, spec) {
        (
            Metric::Fp32Gemm,
            WorkloadSpec::Gemm {
                precision, math, ..
            },
        ) => *precision == Precision::F32 && *math == GemmMath::CudaCores,
        (
            Metric::Fp64Gemm,
            WorkloadSpec::Gemm {
                precision, math, ..
            },
        ) => *precision == Precision::F64 && *math == GemmMath::CudaCores,
        (Metric::StreamTriad, WorkloadSpec::Stream { op, .. }) => *op == StreamOp::Triad,
        (
            Metric::H2d,
            WorkloadSpec::Transfer {
                direction, pinned, ..
            },
        ) => *pinned && *direction == Direction::HostToDevice,
        (
            Metric::D2h,
            WorkloadSpec::Transfer {
                direction, pinned, ..
            },
        ) => *pinned && *direction == Direction::DeviceToHost,
        (
            Metric::VideoNv12 | Metric::VideoScale | Metric::VideoMe | Metric::VideoDct,
            WorkloadSpec::Video { stage, .. },
        ) => Metric::video(*stage) == metric,
        // Every H.264 encode run of the GPU (the single session too, so that its failure
        // fails this check rather than standing alone); [`assess`] gates the concurrent one.
        (Metric::NvencH264, WorkloadSpec::Encode { codec, .. }) => {
            *codec == crate::workload::EncodeCodec::H264
        }
        _ => false,
    }
}

/// How a video result's fps converts to the targets' 1080p fps: 1 at 1080p, else the ratio of
/// its pixel count to 1080p's (every stage's work is proportional to the pixel count; a small
/// frame may still sit in the cache, which the check's reason says). 1 for what is not video.
pub fn video_scale_to_target(spec: &WorkloadSpec) -> f64 {
    match *spec {
        WorkloadSpec::Video { width, height, .. } => {
            (width * height) as f64 / (VIDEO_TARGET_FRAME.0 * VIDEO_TARGET_FRAME.1) as f64
        }
        _ => 1.0,
    }
}

/// Why a measurement is not a valid one, or None when it is: a sample whose device time is zero,
/// negative or not a number (a zero-time sample is an infinite throughput: the timer did not
/// count, or nothing ran), or a median throughput that is not a finite number above zero (no
/// valid sample at all). Such a result never passes: its checks FAIL with this reason.
pub fn invalid_measurement(m: &Measurement) -> Option<String> {
    let n = m.samples.len();
    let zero = m.samples.iter().filter(|t| **t == 0.0).count();
    let negative = m.samples.iter().filter(|t| **t < 0.0).count();
    let nan = m.samples.iter().filter(|t| !t.is_finite()).count();
    let mut bad = Vec::new();
    if zero > 0 {
        bad.push(format!("{zero} of {n} samples took 0 s of device time"));
    }
    if negative > 0 {
        bad.push(format!(
            "{negative} of {n} samples took a negative device time"
        ));
    }
    if nan > 0 {
        bad.push(format!(
            "{nan} of {n} samples have a device time that is not a finite number"
        ));
    }
    if !bad.is_empty() {
        return Some(format!(
            "{} (a device time of zero or less is never a sample: the GPU's event timer did not \
             count, or nothing ran)",
            bad.join(", ")
        ));
    }
    let v = m.throughput.median;
    if !valid_value(v) {
        return Some(format!(
            "its throughput is {v} {}, not a finite number above zero",
            m.throughput.unit
        ));
    }
    None
}

/// The noise interval of a measurement's throughput, (lo, hi): the throughput of the slowest
/// and the fastest sample of the middle 80 % of samples (10 % trimmed at each end, so one
/// outlier does not decide). With fewer than 3 samples it is median × (1 ± 2 · rel_stddev).
pub fn noise_interval(m: &Measurement) -> (f64, f64) {
    let med = m.throughput.median;
    let t_med = m.summary.median;
    let mut s: Vec<f64> = m
        .samples
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t > 0.0)
        .collect();
    let (lo, hi) = if s.len() >= 3 && t_med > 0.0 {
        s.sort_by(f64::total_cmp);
        let k = s.len() / 10;
        let fastest = s[k];
        let slowest = s[s.len() - 1 - k];
        (med * t_med / slowest, med * t_med / fastest)
    } else {
        let rel = if m.summary.rel_stddev.is_finite() {
            m.summary.rel_stddev.abs()
        } else {
            0.0
        };
        (med * (1.0 - 2.0 * rel).max(0.0), med * (1.0 + 2.0 * rel))
    };
    (lo.min(med), hi.max(med))
}

/// What the results of one GPU say about one metric.
struct Assessment<'a> {
    /// Every matching primary CUDA result of the GPU.
    candidates: Vec<&'a WorkloadResult>,
    /// The best (highest median) measured and verified result, with its (median, lo, hi).
    best: Option<(&'a WorkloadResult, f64, f64, f64)>,
}

impl Assessment<'_> {
    fn ids(&self) -> Vec<String> {
        self.candidates.iter().map(|r| r.id.clone()).collect()
    }
    /// The candidates that ran with an error, were not verified right, or whose measurement
    /// is not a valid one ([`invalid_measurement`]).
    fn bad(&self) -> Vec<&WorkloadResult> {
        self.candidates
            .iter()
            .copied()
            .filter(|r| {
                r.verification.status != VerifyStatus::Passed
                    || r.error.is_some()
                    || r.measurement
                        .as_ref()
                        .and_then(invalid_measurement)
                        .is_some()
            })
            .collect()
    }
    /// Every matching result ran and was verified right.
    fn clean(&self) -> bool {
        self.bad().is_empty()
    }
    /// The highest median of any measured candidate, verified or not (shown, never gated).
    fn fastest_any(&self) -> Option<f64> {
        self.candidates
            .iter()
            .filter_map(|w| {
                w.measurement
                    .as_ref()
                    .map(|m| m.throughput.median * video_scale_to_target(&w.spec))
            })
            .filter(|v| valid_value(*v))
            .max_by(f64::total_cmp)
    }
    fn best_value(&self) -> Option<(f64, f64, f64)> {
        self.best.map(|(_, v, lo, hi)| (v, lo, hi))
    }
    /// The id of the result [`Self::best_value`] is the value of (none when there is none).
    fn best_id(&self) -> Option<String> {
        self.best.map(|(w, ..)| w.id.clone())
    }
    /// Why this GPU has no verdict-worthy value: None when it is clean and measured.
    fn problem(&self, metric: Metric) -> Option<String> {
        let bad = self.bad();
        if let Some(w) = bad.first() {
            let more = if bad.len() > 1 {
                format!(" (and {} more)", bad.len() - 1)
            } else {
                String::new()
            };
            let invalid = w.measurement.as_ref().and_then(invalid_measurement);
            let why = if let Some(e) = &w.error {
                format!("{} did not run: {e}", w.id)
            } else if let (VerifyStatus::Passed, Some(why)) = (w.verification.status, invalid) {
                format!("{}: not a valid measurement: {why}", w.id)
            } else {
                match w.verification.status {
                    VerifyStatus::Failed => format!(
                        "{} gave wrong results (see check {}.verify), so its speed cannot count",
                        w.id, w.id
                    ),
                    _ => format!(
                        "{}: the result was not verified ({}), so its speed cannot count",
                        w.id, w.verification.method
                    ),
                }
            };
            return Some(format!("{why}{more}"));
        }
        if self.best.is_none() {
            return Some(if self.candidates.is_empty() {
                format!("no {metric} result from this GPU (the plan ran none, or the run stopped early)")
            } else {
                format!("no {metric} result of this GPU has a measurement")
            });
        }
        None
    }
}

fn assess(r: &RunReport, device: u32, metric: Metric) -> Assessment<'_> {
    let candidates: Vec<&WorkloadResult> = r
        .results
        .iter()
        .filter(|w| {
            w.backend == BackendKind::Cuda
                && w.role == Role::Primary
                && w.device == Some(device)
                && workload_matches(&w.spec, metric)
        })
        .collect();
    let good = |w: &&WorkloadResult| {
        w.error.is_none()
            && w.verification.status == VerifyStatus::Passed
            && w.measurement
                .as_ref()
                .is_some_and(|m| invalid_measurement(m).is_none())
    };
    let mut usable: Vec<&WorkloadResult> = candidates.iter().copied().filter(good).collect();
    // Stream triad: f64 when there is one (the BabelStream convention), else f32. For arrays far
    // larger than the caches the bandwidth does not depend on the element type.
    if metric == Metric::StreamTriad {
        let is_f64 = |w: &&WorkloadResult| {
            matches!(
                w.spec,
                WorkloadSpec::Stream {
                    precision: Precision::F64,
                    ..
                }
            )
        };
        if usable.iter().any(is_f64) {
            usable.retain(is_f64);
        }
    }
    // Hardware encode: the aggregate of the most concurrent sessions (2 × the engines), never
    // the single-session run beside it (one session cannot use a second engine).
    if metric == Metric::NvencH264 {
        let sessions = |w: &&WorkloadResult| match w.spec {
            WorkloadSpec::Encode { sessions, .. } => sessions,
            _ => 0,
        };
        if let Some(most) = usable.iter().map(sessions).max() {
            usable.retain(|w| sessions(w) == most);
        }
    }
    // Video: the 1080p result when there is one (the targets' frame size); otherwise every
    // size, each scaled to 1080p frames by its pixel count.
    let at_target_size = |w: &&WorkloadResult| video_scale_to_target(&w.spec) == 1.0;
    if usable.iter().any(at_target_size) {
        usable.retain(at_target_size);
    }
    let best = usable
        .into_iter()
        .filter_map(|w| {
            let m = w.measurement.as_ref()?;
            let (lo, hi) = noise_interval(m);
            let f = video_scale_to_target(&w.spec);
            Some((w, m.throughput.median * f, lo * f, hi * f))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Assessment { candidates, best }
}

/// What a check's reason adds when its value is a video result of another frame size, scaled
/// to 1080p frames.
fn scaled_note(a: &Assessment) -> Option<String> {
    let (w, ..) = a.best?;
    match w.spec {
        WorkloadSpec::Video { width, height, .. } if video_scale_to_target(&w.spec) != 1.0 => {
            let m = w.measurement.as_ref()?;
            Some(format!(
                " (measured {:.1} fps at {width}x{height}, given the run's --video-sizes; counted \
                 as 1080p frames by pixel count: × {width}·{height} / {}·{}. A frame that fits \
                 the caches measures them, not DRAM)",
                m.throughput.median, VIDEO_TARGET_FRAME.0, VIDEO_TARGET_FRAME.1
            ))
        }
        _ => None,
    }
}

use crate::util::fmt_value;

fn perf_hint(metric: Metric) -> &'static str {
    match metric {
        Metric::Fp32Gemm | Metric::Fp64Gemm => {
            "check clocks and throttle reasons (nvidia-smi -q -d PERFORMANCE,CLOCK), temperature \
             and power cap, and other processes on the GPU; compare with the cuBLAS peer result"
        }
        Metric::StreamTriad => {
            "check the memory clock, ECC and throttle reasons (nvidia-smi -q -d CLOCK,ECC,PERFORMANCE) \
             and other processes on the GPU"
        }
        Metric::VideoNv12 | Metric::VideoScale | Metric::VideoMe | Metric::VideoDct => {
            "the video stages are bound by memory bandwidth (colour, scale, transform) and integer \
             throughput (motion estimation): check the memory and SM clocks and throttle reasons \
             (nvidia-smi -q -d CLOCK,PERFORMANCE), and other processes on the GPU"
        }
        Metric::NvencH264 => {
            "check encoder utilisation and sessions (nvidia-smi -q -d ENCODER_STATS), other \
             encode sessions on the GPU, the driver's session limit, and the clocks"
        }
        Metric::H2d | Metric::D2h => {
            "check the PCIe link under load (nvidia-smi -q -d PCIE: generation and width), the \
             slot or riser, and NUMA placement (run on the GPU's NUMA node)"
        }
    }
}

/// A result is too small to measure its GPU when one launch of it would take, at the pass line,
/// less than this many times the GPU's floor (a kernel launch for GEMM, stream and video, a
/// small copy for transfers; `crate::measure::floor`): the fixed cost would then be more than a
/// tenth of the time, and a healthy GPU can fail its line on the launch alone.
pub const TOO_SMALL_FACTOR: f64 = 10.0;

/// Seconds as microseconds, for a reason.
fn micros(s: f64) -> String {
    format!("{:.2} µs", s * 1e6)
}

/// The sizes the run's level runs for `metric` on a GPU, and the option that replaced them.
fn level_sizes(level: crate::model::Level, metric: Metric) -> String {
    let gemm = |p: Precision, what: &str| {
        let sizes: Vec<String> = crate::plan::gpu_gemm_sizes(level, p)
            .iter()
            .map(|n| n.to_string())
            .collect();
        format!("{what} {} (leave out --gemm-sizes)", sizes.join(", "))
    };
    let mib = |b: usize| b >> 20;
    match metric {
        Metric::Fp32Gemm => gemm(Precision::F32, "FP32 GEMM"),
        Metric::Fp64Gemm => gemm(Precision::F64, "FP64 GEMM"),
        Metric::StreamTriad => format!(
            "stream arrays of {} MiB, or {} × the L2 cache where that is larger (leave out \
             --stream-mib)",
            mib(crate::plan::gpu_stream_array_bytes(level)),
            crate::plan::STREAM_L2_FACTOR
        ),
        Metric::H2d | Metric::D2h => format!(
            "transfers of {} MiB (leave out --stream-mib)",
            mib(crate::plan::gpu_transfer_bytes(level))
        ),
        Metric::VideoNv12 | Metric::VideoScale | Metric::VideoMe | Metric::VideoDct => {
            let sizes: Vec<String> = crate::plan::video_sizes(level)
                .iter()
                .map(|(w, h)| format!("{w}x{h}"))
                .collect();
            format!(
                "frames of {} (leave out --video-sizes)",
                sizes.join(" and ")
            )
        }
        Metric::NvencH264 => "the level's sizes".to_string(),
    }
}

/// Whether result `w` is too small to measure its GPU against the pass line `line` (in the
/// target's unit, and for video in 1080p frames per second): the time one launch (or copy)
/// would take at exactly the line, against the GPU's floor recorded in the run
/// ([`TOO_SMALL_FACTOR`]). A GEMM or stream iteration is one launch, a transfer one copy, and
/// a video launch processes a batch of frames (`VideoLayout::batch`, from the frame size
/// alone). Some((what the reason adds, the hint)) when it is too small; None when it is not,
/// or the run recorded no floor for its GPU (files written before gpugate measured it).
fn too_small(
    r: &RunReport,
    w: &WorkloadResult,
    metric: Metric,
    line: f64,
) -> Option<(String, String)> {
    let floor = r.floors.iter().find(|f| Some(f.device) == w.device)?;
    // (the floor, what it is the cost of, iterations per launch or copy)
    let (floor_s, what, per_op) = match w.spec {
        WorkloadSpec::Gemm { .. } | WorkloadSpec::Stream { .. } => (floor.launch_s?, "launch", 1.0),
        WorkloadSpec::Transfer { .. } => (floor.copy_s?, "copy", 1.0),
        WorkloadSpec::Video {
            stage,
            width,
            height,
        } => {
            let batch = crate::workload::video::VideoLayout::new(stage, width, height, 0).batch;
            (floor.launch_s?, "launch", batch as f64)
        }
        WorkloadSpec::Encode { .. } => return None,
    };
    if !(valid_value(floor_s) && valid_value(line)) {
        return None;
    }
    // Throughput is work over time: one iteration's throughput in 1 s over the line is the
    // time it takes at the line (a video line counts 1080p frames: scaled to this size).
    let at_line = per_op * w.spec.throughput(1.0) * video_scale_to_target(&w.spec) / line;
    if at_line >= TOO_SMALL_FACTOR * floor_s {
        return None;
    }
    let one = match w.spec {
        WorkloadSpec::Video { .. } => format!("launch of {per_op} {} frames", w.spec.name()),
        _ => w.spec.name(),
    };
    let took = w
        .measurement
        .as_ref()
        .map(|m| format!(" (it took {})", micros(per_op * m.summary.median)))
        .unwrap_or_default();
    let reason = format!(
        "; too small to measure this GPU: at the pass line one {one} would take {}{took}, less \
         than {TOO_SMALL_FACTOR} × the {} a {what} costs on this GPU whatever its size (its \
         {what} floor, timed when the GPU was opened), so this result cannot tell a slow GPU \
         from the cost of the {what}",
        micros(at_line),
        micros(floor_s),
    );
    let hint = format!(
        "the size is too small to measure this GPU, and says nothing about its clocks: run the \
         {} level's sizes, {}",
        r.level,
        level_sizes(r.level, metric)
    );
    Some((reason, hint))
}

const INCONCLUSIVE_HINT: &str = "the noise interval straddles the pass line: re-run with \
    --level full, and check for noisy neighbours, throttling or other processes on the GPU";

/// Fills verdict, reason and hint from a value with its noise interval. A value or interval
/// that is not finite and above zero FAILS, whatever the line: it is not a measurement.
pub(crate) fn decide(c: &mut Draft, t: &Target, value: f64, lo: f64, hi: f64) {
    let unit = t.unit();
    let spec = t.spec();
    let line = t.required();
    if !(valid_value(value) && valid_value(lo) && valid_value(hi)) {
        c.verdict = Some(Verdict::Fail);
        c.observed = None;
        c.reason = format!(
            "not a valid measurement: {value} {unit} (noise interval {lo}–{hi}) is not a finite \
             number above zero, so it says nothing about the pass line {} {unit}",
            fmt_value(line, unit)
        );
        c.hint = INVALID_HINT.into();
        return;
    }
    c.observed = Some(value);
    c.percent_of_spec = Some(value / spec * 100.0);
    c.noise_interval = Some(Interval { lo, hi });
    let interval = format!(
        "{} {unit} (noise interval {}–{})",
        fmt_value(value, unit),
        fmt_value(lo, unit),
        fmt_value(hi, unit)
    );
    let line_s = format!(
        "the pass line {} {unit} ({:.0} % of the {} spec)",
        fmt_value(line, unit),
        t.pass_fraction * 100.0,
        fmt_value(spec, unit)
    );
    judge_interval(
        c,
        Interval { lo, hi },
        line,
        (&interval, &line_s),
        (perf_hint(t.metric), INCONCLUSIVE_HINT),
    );
}

/// The noise rule: FAIL when the whole interval is below `line`, PASS when all of it reaches
/// it, INCONCLUSIVE when it straddles it. `said`: the interval and the line as the reason
/// words them; `hints`: what to do on FAIL and on INCONCLUSIVE.
pub(crate) fn judge_interval(
    c: &mut Draft,
    iv: Interval,
    line: f64,
    (interval, line_s): (&str, &str),
    (fail_hint, inconclusive_hint): (&str, &str),
) {
    if iv.hi < line {
        c.verdict = Some(Verdict::Fail);
        c.reason = format!("{interval} is below {line_s}");
        c.hint = fail_hint.into();
    } else if iv.lo >= line {
        c.verdict = Some(Verdict::Pass);
        c.reason = format!("{interval} reaches {line_s}");
    } else {
        c.verdict = Some(Verdict::Inconclusive);
        c.reason = format!("{interval} straddles {line_s}");
        c.hint = inconclusive_hint.into();
    }
}

fn perf_check(
    rule: &'static str,
    id: String,
    device: Option<u32>,
    title: String,
    t: &Target,
) -> Draft {
    let mut c = check(rule, id, CheckKind::Performance, device, &title, t.unit());
    c.required = Some(t.required());
    c.spec = Some(t.spec());
    c.source = Some(t.source.clone());
    c
}

/// The check of the `i`th target of `metric` on GPU `index`: "gpu0.fp32_gemm", then
/// "gpu0.fp32_gemm#2" for a second target of the same metric.
fn gpu_target_check(index: u32, metric: Metric, i: usize, t: &Target) -> Draft {
    let suffix = if i == 0 {
        String::new()
    } else {
        format!("#{}", i + 1)
    };
    perf_check(
        "per_gpu",
        format!("gpu{index}.{metric}{suffix}"),
        Some(index),
        metric.title().to_string(),
        t,
    )
}

/// What to do about a GPU's metric that has no verdict-worthy value ([`Assessment::problem`]).
fn problem_hint(a: &Assessment) -> &'static str {
    let bad = a.bad();
    if bad
        .iter()
        .any(|w| w.error.is_none() && w.verification.status == VerifyStatus::Failed)
    {
        CORRECTNESS_HINT
    } else if bad.iter().any(|w| {
        w.error.is_none()
            && w.measurement
                .as_ref()
                .and_then(invalid_measurement)
                .is_some()
    }) {
        INVALID_HINT
    } else {
        "re-run; if it repeats, read the error above and the run log (a workload that cannot \
         run on a GPU is a failure, never a skip)"
    }
}

fn per_gpu(p: &Profile, r: &RunReport, out: &mut Vec<Draft>) {
    for index in gpu_slots(p, r) {
        let present = r.gpus.iter().any(|g| g.index == index);
        for metric in Metric::ALL {
            let a = assess(r, index, metric);
            let targets: Vec<&Target> = p
                .targets
                .iter()
                .filter(|t| t.metric == metric && t.applies_to(index))
                .collect();
            if !present {
                for (i, t) in targets.into_iter().enumerate() {
                    let mut c = gpu_target_check(index, metric, i, t);
                    c.verdict = Some(Verdict::Fail);
                    c.reason = missing_gpu_reason(r, index);
                    c.hint = MISSING_GPU_HINT.into();
                    out.push(c);
                }
                continue;
            }
            if targets.is_empty() {
                if a.candidates.is_empty() {
                    continue;
                }
                // Reported, not gated (correctness failures still fail through their own check).
                let mut c = check(
                    "per_gpu",
                    format!("gpu{index}.{metric}"),
                    CheckKind::Performance,
                    Some(index),
                    metric.title(),
                    metric.unit(),
                );
                c.verdict = Some(Verdict::Skipped);
                c.observed = a.best_value().map(|(v, _, _)| v);
                c.reason = format!("the profile {} has no {metric} target", p.name);
                c.evidence = a.ids();
                out.push(c);
                continue;
            }
            for (i, t) in targets.into_iter().enumerate() {
                let mut c = gpu_target_check(index, metric, i, t);
                c.evidence = a.ids();
                match (a.problem(metric), a.best_value()) {
                    (None, Some((v, lo, hi))) => {
                        decide(&mut c, t, v, lo, hi);
                        c.decided_from.extend(a.best_id());
                        if let Some(note) = scaled_note(&a) {
                            c.reason.push_str(&note);
                        }
                        // A failure of a size that measures the launch, not the GPU, says so.
                        let small = a
                            .best
                            .and_then(|(w, ..)| too_small(r, w, metric, t.required()));
                        if let (Some(Verdict::Fail), Some((why, hint))) = (c.verdict, small) {
                            c.reason.push_str(&why);
                            c.hint = hint;
                        }
                    }
                    (problem, _) => {
                        c.verdict = Some(Verdict::Fail);
                        // Shown for information: an unverified speed never passes.
                        c.observed = a.fastest_any();
                        c.percent_of_spec = c.observed.map(|v| v / t.spec() * 100.0);
                        c.reason = problem.unwrap_or_default();
                        c.hint = problem_hint(&a).into();
                    }
                }
                out.push(c);
            }
        }
    }
}

/// What the GPUs' results add up to for a machine target.
struct MachineSum {
    /// The sum of each GPU's value, and of the ends of its noise interval.
    sum: f64,
    lo: f64,
    hi: f64,
    /// The result each GPU's value came from.
    decided_from: Vec<String>,
    /// Every result of the metric, of every GPU.
    evidence: Vec<String>,
    /// Why a GPU has no value, one per such GPU.
    problems: Vec<String>,
    /// The first GPU whose best result is too small for its `share` of the line: what the
    /// reason adds, and the hint.
    small: Option<(String, String)>,
}

fn machine_sum(r: &RunReport, metric: Metric, share: f64) -> MachineSum {
    let mut m = MachineSum {
        sum: 0.0,
        lo: 0.0,
        hi: 0.0,
        decided_from: Vec::new(),
        evidence: Vec::new(),
        problems: Vec::new(),
        small: None,
    };
    for g in &r.gpus {
        let a = assess(r, g.index, metric);
        m.evidence.extend(a.ids());
        match (a.problem(metric), a.best_value()) {
            (None, Some((v, l, h))) => {
                m.sum += v;
                m.lo += l;
                m.hi += h;
                m.decided_from.extend(a.best_id());
                if m.small.is_none() {
                    m.small = a
                        .best
                        .and_then(|(w, ..)| too_small(r, w, metric, share))
                        .map(|(why, hint)| {
                            (
                                format!("; gpu{}: {}", g.index, why.trim_start_matches("; ")),
                                hint,
                            )
                        });
                }
            }
            (problem, _) => {
                m.problems
                    .push(format!("gpu{}: {}", g.index, problem.unwrap_or_default()))
            }
        }
    }
    m
}

fn machine(p: &Profile, r: &RunReport, out: &mut Vec<Draft>) {
    for (i, t) in p
        .targets
        .iter()
        .filter(|t| t.scope == Scope::Machine)
        .enumerate()
    {
        let metric = t.metric;
        let dup = p.targets[..]
            .iter()
            .filter(|o| o.scope == Scope::Machine && o.metric == metric)
            .count()
            > 1;
        let suffix = if dup {
            format!("#{}", i + 1)
        } else {
            String::new()
        };
        let mut c = perf_check(
            "machine",
            format!("machine.{metric}{suffix}"),
            None,
            format!(
                "{} (machine: sum over {})",
                metric.title(),
                plural(r.gpus.len(), "GPU")
            ),
            t,
        );
        if r.gpus.is_empty() {
            c.verdict = Some(Verdict::Fail);
            c.reason = match &r.gpu_unavailable {
                Some(why) => format!("no GPU could be used: {why}"),
                None => "no GPU detected".into(),
            };
            c.hint = "see the GPU count check".into();
            out.push(c);
            continue;
        }
        let m = machine_sum(r, metric, t.required() / r.gpus.len() as f64);
        c.evidence = m.evidence;
        if m.problems.is_empty() {
            decide(&mut c, t, m.sum, m.lo, m.hi);
            c.decided_from = m.decided_from;
            if let (Some(Verdict::Fail), Some((why, hint))) = (c.verdict, m.small) {
                c.reason.push_str(&why);
                c.hint = hint;
            }
            if r.gpus.len() < p.machine.gpu_count as usize && c.verdict == Some(Verdict::Fail) {
                c.hint = format!(
                    "{} of the {} GPUs the profile wants are usable; see the GPU count check",
                    r.gpus.len(),
                    p.machine.gpu_count
                );
            }
        } else {
            c.verdict = Some(Verdict::Fail);
            c.reason = m.problems.join("; ");
            c.hint = "a GPU without a valid result makes the machine's total unknown: see that \
                      GPU's checks"
                .into();
        }
        out.push(c);
    }
}
