//! The inventory text of `gpugate info`: host and GPUs, as the probe saw them.

use std::fmt::Write;

use super::fmt_gb;
use crate::gate::profile::{Machine, Profile, Scope};
use crate::kernels::KernelSet;
use crate::model::{DeviceInfo, HostInfo, ModuleChoice};

/// Per GPU and kernel family, the build that loads on the GPU's driver (the highest both the
/// device and the driver's PTX JIT take), or why none: what `gpugate info --json` lists as
/// `kernel_modules`. Computed from the inventory alone (compute capability and driver version);
/// nothing is loaded.
pub fn module_choices(gpus: &[DeviceInfo]) -> Vec<ModuleChoice> {
    gpus.iter()
        .flat_map(|g| {
            KernelSet::select(g.compute_capability, g.driver_cuda_version)
                .families
                .iter()
                .map(|f| f.record(g.index))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One line per kernel family of one GPU, for the inventory text.
fn module_lines(o: &mut String, g: &DeviceInfo) {
    for c in module_choices(std::slice::from_ref(g)) {
        let line = match (&c.target, &c.refused) {
            (Some(t), None) => format!(
                "{t} build loads (PTX ISA {}, drivers from {})",
                c.ptx_isa.as_deref().unwrap_or("?"),
                c.min_driver.as_deref().unwrap_or("?")
            ),
            (Some(t), Some(r)) => format!(
                "{t} build loads (PTX ISA {}, drivers from {}); not {r}, the best for this GPU: \
                 it needs PTX ISA {}, drivers from {}, and this driver accepts up to {}",
                c.ptx_isa.as_deref().unwrap_or("?"),
                c.min_driver.as_deref().unwrap_or("?"),
                c.refused_ptx_isa.as_deref().unwrap_or("?"),
                c.refused_min_driver.as_deref().unwrap_or("a newer release"),
                g.max_ptx_isa
            ),
            (None, _) => format!(
                "no build loads: {}",
                c.reason.as_deref().unwrap_or("unknown reason")
            ),
        };
        let _ = writeln!(o, "          kernel module {}: {line}", c.module);
    }
}

/// Host and GPU inventory as plain text; `unavailable` is why no GPU could be used, if so.
pub fn render_inventory(host: &HostInfo, gpus: &[DeviceInfo], unavailable: Option<&str>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "host      {}", host.hostname);
    let _ = writeln!(o, "os        {} (kernel {})", host.os, host.kernel);
    let _ = writeln!(o, "cpu       {} × {}", host.logical_cpus, host.cpu_model);
    let _ = writeln!(o, "memory    {} GB", fmt_gb(host.memory_bytes));
    let _ = writeln!(o, "disk      {} GB local", fmt_gb(host.local_disk_bytes));
    if let Some(why) = unavailable {
        let _ = writeln!(o, "GPU unavailable: {why}");
    }
    if gpus.is_empty() && unavailable.is_none() {
        let _ = writeln!(o, "no GPU found");
    }
    for g in gpus {
        let pcie = match (g.pcie_link_gen, g.pcie_link_width) {
            (Some(gen), Some(w)) => format!(", PCIe gen {gen} x{w}"),
            _ => String::new(),
        };
        let model = match crate::gate::lookup_gpu(&g.name) {
            Some(m) => format!("catalogue: {}", m.name),
            None => "not in the catalogue: targets derived from attributes".into(),
        };
        let _ = writeln!(
            o,
            "gpu{}      {} (sm_{}{}, {} SMs, {} MHz, {} GB, {}-bit bus at {} MHz{pcie}) [{}] {}",
            g.index,
            g.name,
            g.compute_capability.0,
            g.compute_capability.1,
            g.sm_count,
            g.sm_clock_khz / 1000,
            fmt_gb(g.total_memory_bytes),
            g.memory_bus_width_bits,
            g.memory_clock_khz / 1000,
            g.pci_bus_id,
            model
        );
        let _ = writeln!(
            o,
            "          driver CUDA {}.{}, PTX ISA up to {}",
            g.driver_cuda_version / 1000,
            (g.driver_cuda_version % 1000) / 10,
            g.max_ptx_isa
        );
        module_lines(&mut o, g);
        let _ = writeln!(o, "          video encode: {}", g.nvenc.engines_text());
        if let Some(nvml) = g.nvenc.nvml_text() {
            let _ = writeln!(o, "          video encode {nvml}");
        }
        if g.is_simulated() {
            let _ = writeln!(
                o,
                "          SIMULATED: gpugate-sim on the CPU, not a GPU (its checks fail unless \
                 a run is given --allow-simulated)"
            );
        }
    }
    o
}

/// A profile as text for `gpugate profiles show`: what the machine must have, and each target
/// with its spec, pass fraction, pass line and source.
pub fn render_profile(p: &Profile, origin: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "profile   {} ({origin})", p.name);
    let _ = writeln!(o, "          {}", p.description);
    gpu_lines(&mut o, &p.machine);
    host_lines(&mut o, &p.machine);
    health_lines(&mut o, p.health.as_ref());
    burn_lines(&mut o, p.burn.as_ref());
    p2p_lines(&mut o, p.p2p.as_ref());
    if p.targets.is_empty() {
        let _ = writeln!(o, "targets   none");
        return o;
    }
    let _ = writeln!(o, "targets");
    write_aligned(&mut o, &target_rows(&p.targets));
    if let Some(b) = p.burn.as_ref().filter(|b| !b.targets.is_empty()) {
        let _ = writeln!(
            o,
            "burn targets (gpugate burn: in place of the targets above of the same metric and \
             scope; machine = the GPUs loaded at once)"
        );
        write_aligned(&mut o, &target_rows(&b.targets));
    }
    o
}

/// The profile's GPUs: count and model, memory, PCIe link.
fn gpu_lines(o: &mut String, m: &Machine) {
    let model = if m.gpu_model.trim().is_empty() {
        "any model".to_string()
    } else {
        format!("\"{}\"", m.gpu_model)
    };
    let _ = writeln!(o, "gpus      {} × {model}", m.gpu_count);
    if let Some(v) = m.min_gpu_memory_gb {
        let _ = writeln!(o, "          at least {v:.1} GB memory each");
    }
    match (m.pcie_gen, m.pcie_width) {
        (Some(g), Some(w)) => {
            let _ = writeln!(o, "          PCIe gen {g} x{w} or better");
        }
        (Some(g), None) => {
            let _ = writeln!(o, "          PCIe gen {g} or better");
        }
        (None, Some(w)) => {
            let _ = writeln!(o, "          PCIe x{w} or wider");
        }
        (None, None) => {}
    }
}

/// The profile's host: vCPUs, memory, local disk.
fn host_lines(o: &mut String, m: &Machine) {
    let tol = crate::gate::profile::HOST_SIZE_TOLERANCE * 100.0;
    if let Some(v) = m.host_vcpus {
        let _ = writeln!(o, "host      at least {v} vCPUs");
    }
    if let Some(v) = m.host_memory_gb {
        let _ = writeln!(o, "          {v:.0} GB memory (passes at >= {tol:.0} %)");
    }
    if let Some(v) = m.local_disk_gb {
        let _ = writeln!(
            o,
            "          {v:.0} GB local disk (passes at >= {tol:.0} %)"
        );
    }
}

/// The profile's health limits (`[health]`), or that it sets none.
fn health_lines(o: &mut String, h: Option<&crate::model::profile::HealthLimits>) {
    let Some(h) = h else {
        let _ = writeln!(
            o,
            "health    no limits: a new uncorrectable ECC error, a pending retirement and a \
             critical Xid fail; the rest is reported"
        );
        return;
    };
    let _ = writeln!(
        o,
        "health    fails on a new uncorrectable ECC error, a pending retirement, a critical Xid"
    );
    let _ = writeln!(
        o,
        "          at most {} new corrected ECC errors, {} PCIe replays, {:.0} % of samples in \
         hardware slowdown or at a thermal limit",
        h.max_new_sbe,
        h.max_pcie_replays,
        100.0 * h.max_throttle_share
    );
    if let Some(t) = h.retired_pages_table {
        let _ = writeln!(
            o,
            "          fewer than {t} retired pages (the table's size)"
        );
    }
    if let Some(w) = h.power_target_w {
        let _ = writeln!(o, "          power target {w:.0} W (reported)");
    }
    match h.max_temperature_c {
        Some(c) => {
            let _ = writeln!(o, "          temperature below {c} °C");
        }
        None => {
            let _ = writeln!(
                o,
                "          temperature below each GPU's slowdown temperature (NVML)"
            );
        }
    }
    let _ = writeln!(o, "          source: {}", h.source);
}

/// The profile's burn-in durations and limits (`[burn]`), or gpugate's defaults.
fn burn_lines(o: &mut String, b: Option<&crate::model::profile::BurnLimits>) {
    let Some(b) = b else {
        let _ = writeln!(
            o,
            "burn      gpugate's defaults: 2, 10, 60 minutes; a fall of 10 %, 90 % of the best GPU"
        );
        return;
    };
    let mins = |v: Option<f64>, default: f64| match v {
        Some(s) => format!("{}", s / 60.0),
        None => format!("{default} (gpugate's)"),
    };
    let _ = writeln!(
        o,
        "burn      quick {}, standard {}, full {} minutes",
        mins(b.quick_duration_s, 2.0),
        mins(b.standard_duration_s, 10.0),
        mins(b.full_duration_s, 60.0)
    );
    let _ = writeln!(
        o,
        "          throughput falls at most {:.0} % from the first minute; every GPU at least \
         {:.0} % of the machine's best",
        100.0 * b.max_drift,
        100.0 * (1.0 - b.within_machine_share)
    );
    let _ = writeln!(o, "          source: {}", b.source);
}

/// The profile's peer-to-peer requirement (`[p2p]`), or that it has none.
fn p2p_lines(o: &mut String, x: Option<&crate::model::profile::P2pRequirement>) {
    let Some(x) = x else {
        let _ = writeln!(
            o,
            "p2p       no requirement: peer access and bandwidth reported, a wrong byte fails"
        );
        return;
    };
    let access = if x.require_peer_access || x.min_gbps.is_some() {
        "peer access required"
    } else {
        "peer access not required"
    };
    let speed = x.min_gbps.map_or_else(
        || "bandwidth reported".to_string(),
        |g| format!("each peer copy test at least {g} GB/s per direction"),
    );
    let _ = writeln!(o, "p2p       {access}; {speed}; a wrong byte fails");
    let _ = writeln!(o, "          source: {}", x.source);
}

/// The targets table: a header row, then per target its metric, scope, spec, pass fraction,
/// pass line and source.
fn target_rows(targets: &[crate::model::profile::Target]) -> Vec<[String; 6]> {
    let mut rows = vec![[
        "metric".to_string(),
        "scope".to_string(),
        "spec".to_string(),
        "pass".to_string(),
        "pass line".to_string(),
        "source".to_string(),
    ]];
    for t in targets {
        let unit = t.unit();
        let scope = match (t.scope, t.gpu) {
            (Scope::Machine, _) => "machine".to_string(),
            (Scope::Gpu, Some(g)) => format!("gpu{g}"),
            (Scope::Gpu, None) => "each gpu".to_string(),
        };
        rows.push([
            t.metric.to_string(),
            scope,
            format!("{} {unit}", super::fmt_value(t.spec(), unit)),
            format!("{:.0} %", t.pass_fraction * 100.0),
            format!("{} {unit}", super::fmt_value(t.required(), unit)),
            t.source.clone(),
        ]);
    }
    rows
}

/// `rows` as columns two spaces apart, indented by two, without trailing blanks.
fn write_aligned(o: &mut String, rows: &[[String; 6]]) {
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::from("  ");
        for (i, s) in r.iter().enumerate() {
            line.push_str(s);
            if i + 1 < r.len() {
                line.extend(std::iter::repeat_n(' ', widths[i] - s.chars().count() + 2));
            }
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
}
