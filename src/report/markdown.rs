//! report.md: the whole run for people — verdict, inventory, checks, results, mismatches,
//! module load times, warnings.

use std::fmt::Write;

use super::{fmt_gb, fmt_opt, fmt_pct, Reporter};
use crate::model::{BackendKind, Role, RunReport, VerifyStatus, WorkloadResult};

/// The Markdown reporter (report.md).
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

/// A table cell: pipes escaped, line breaks flattened, empty as "—".
fn cell(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "—".into();
    }
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out.push('\n');
}

fn device_label(w: &WorkloadResult) -> String {
    match (w.backend, w.device) {
        (BackendKind::Cuda, Some(d)) => format!("gpu{d} {} / cuda", w.device_name),
        (b, _) if w.device_name.is_empty() => format!("{b}"),
        (b, _) => format!("{} / {b}", w.device_name),
    }
}

fn verification_label(w: &WorkloadResult) -> String {
    let v = &w.verification;
    if let Some(e) = &w.error {
        return format!("error: {e}");
    }
    match v.status {
        VerifyStatus::Passed => format!("passed ({:.1e} ≤ {:.1e})", v.max_error, v.tolerance),
        VerifyStatus::Failed => format!(
            "**FAILED** ({:.1e} > {:.1e}, {} mismatch(es) shown below)",
            v.max_error,
            v.tolerance,
            v.mismatches.len()
        ),
        VerifyStatus::NotChecked => "not checked".into(),
    }
}

impl Reporter for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, r: &RunReport) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "# gpugate: {} (exit {})\n", r.verdict, r.exit_code);
        if let Some(banner) = super::simulated_banner(r) {
            let _ = writeln!(o, "> **{}**\n", cell(&banner));
        }

        if let Some(why) = &r.gpu_unavailable {
            let _ = writeln!(o, "> **GPU unavailable: {}**\n", cell(why));
        }
        if let Some(banner) = super::incomplete_banner(r) {
            let _ = writeln!(o, "> **{}**\n", cell(&banner));
        }

        // Run summary.
        let commit = r
            .tool
            .git_commit
            .as_deref()
            .map_or(String::new(), |c| format!(" (commit {c})"));
        let rows = vec![
            vec![
                "Profile".into(),
                cell(&format!(
                    "{} ({}): {}",
                    r.profile.name, r.profile.origin, r.profile.description
                )),
            ],
            vec![
                "Tool".into(),
                cell(&format!("{} {}{commit}", r.tool.name, r.tool.version)),
            ],
            vec!["Started".into(), cell(&r.started_at)],
            vec![
                "Finished".into(),
                cell(r.finished_at.as_deref().unwrap_or("")),
            ],
            vec!["Seed".into(), r.seed.to_string()],
            vec!["Level".into(), r.level.to_string()],
            vec!["Backend requested".into(), cell(&r.backend_requested)],
            vec![
                "Command line".into(),
                if r.command_line.is_empty() {
                    "—".into()
                } else {
                    format!("`{}`", cell(&r.command_line.join(" ")).replace('`', "'"))
                },
            ],
        ];
        table(&mut o, &["Run", ""], &rows);

        // Inventory.
        let _ = writeln!(o, "## Host\n");
        let h = &r.host;
        table(
            &mut o,
            &[
                "Hostname",
                "OS",
                "Kernel",
                "CPU",
                "Logical CPUs",
                "Memory (GB)",
                "Local disk (GB)",
            ],
            &[vec![
                cell(&h.hostname),
                cell(&h.os),
                cell(&h.kernel),
                cell(&h.cpu_model),
                h.logical_cpus.to_string(),
                fmt_gb(h.memory_bytes),
                fmt_gb(h.local_disk_bytes),
            ]],
        );

        let _ = writeln!(o, "## GPUs\n");
        if r.gpus.is_empty() {
            let _ = writeln!(
                o,
                "No GPU could be used{}.\n",
                r.gpu_unavailable
                    .as_deref()
                    .map_or(String::new(), |w| format!(": {}", cell(w)))
            );
        } else {
            let rows: Vec<Vec<String>> = r
                .gpus
                .iter()
                .map(|g| {
                    vec![
                        g.index.to_string(),
                        cell(&g.name),
                        cell(&g.pci_bus_id),
                        format!("{}.{}", g.compute_capability.0, g.compute_capability.1),
                        g.sm_count.to_string(),
                        format!("{}", g.sm_clock_khz / 1000),
                        fmt_gb(g.total_memory_bytes),
                        g.memory_bus_width_bits.to_string(),
                        format!("{}", g.memory_clock_khz / 1000),
                        match (g.pcie_link_gen, g.pcie_link_width) {
                            (Some(gen), Some(w)) => format!("gen {gen} x{w}"),
                            (Some(gen), None) => format!("gen {gen}"),
                            (None, Some(w)) => format!("x{w}"),
                            (None, None) => "—".into(),
                        },
                        format!(
                            "{}.{}",
                            g.driver_cuda_version / 1000,
                            (g.driver_cuda_version % 1000) / 10
                        ),
                        cell(&g.max_ptx_isa),
                        g.nvenc.engines_cell(),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "#",
                    "Name",
                    "PCI bus",
                    "CC",
                    "SMs",
                    "SM clock (MHz)",
                    "Memory (GB)",
                    "Bus (bits)",
                    "Memory clock (MHz)",
                    "PCIe",
                    "Driver CUDA",
                    "Max PTX ISA",
                    "NVENC engines",
                ],
                &rows,
            );
        }

        // Checks.
        let _ = writeln!(o, "## Checks\n");
        if r.checks.is_empty() {
            let _ = writeln!(o, "No checks were evaluated.\n");
        } else {
            let rows: Vec<Vec<String>> = r
                .checks
                .iter()
                .map(|c| {
                    let verdict = match c.verdict {
                        crate::model::Verdict::Pass | crate::model::Verdict::Skipped => {
                            c.verdict.to_string()
                        }
                        v => format!("**{v}**"),
                    };
                    vec![
                        format!("`{}` {}", c.id, cell(&c.title)),
                        verdict,
                        fmt_opt(c.observed, &c.unit),
                        fmt_opt(c.required, &c.unit),
                        fmt_pct(c.percent_of_spec),
                        cell(&c.unit),
                        cell(&c.reason),
                        cell(c.source.as_deref().unwrap_or("")),
                        cell(&c.hint),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "Check",
                    "Verdict",
                    "Observed",
                    "Required",
                    "% of spec",
                    "Unit",
                    "Reason",
                    "Source",
                    "Hint",
                ],
                &rows,
            );
        }

        // The other charts (checks, stream, roofline, samples, telemetry), until each has its
        // place in its section.
        let others: Vec<_> = super::charts::all(r)
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.kind,
                    super::charts::ChartKind::Gemm | super::charts::ChartKind::Video
                )
            })
            .collect();
        if !others.is_empty() {
            let _ = writeln!(o, "## Charts\n");
            for c in others {
                let _ = writeln!(o, "![{}]({})\n", c.title, c.file_name);
            }
        }

        // Results, one table per throughput unit.
        let _ = writeln!(o, "## Results\n");
        if r.results.is_empty() {
            let _ = writeln!(o, "No workload results.\n");
        }
        for unit in ["TFLOPS", "GB/s", "fps"] {
            let rows: Vec<Vec<String>> = r
                .results
                .iter()
                .filter(|w| w.spec.throughput_unit() == unit)
                .map(|w| {
                    let m = w.measurement.as_ref();
                    let implementation = if w.role == Role::Peer {
                        format!("{} (peer, not gated)", w.implementation)
                    } else {
                        w.implementation.clone()
                    };
                    vec![
                        format!("`{}`", w.id),
                        cell(&device_label(w)),
                        cell(&implementation),
                        cell(w.math_mode.as_deref().unwrap_or("")),
                        fmt_opt(m.map(|m| m.throughput.median), unit),
                        fmt_opt(m.map(|m| m.throughput.best), unit),
                        m.map_or("—".into(), |m| {
                            if m.iters_per_sample > 1 {
                                format!("{} × {}", m.summary.n, m.iters_per_sample)
                            } else {
                                m.summary.n.to_string()
                            }
                        }),
                        m.map_or("—".into(), |m| {
                            format!("{:.2}%", m.summary.rel_stddev * 100.0)
                        }),
                        cell(&verification_label(w)),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            let median = format!("Median {unit}");
            let best = format!("Best {unit}");
            let _ = writeln!(
                o,
                "### {}\n",
                match unit {
                    "TFLOPS" => "Compute (TFLOPS)",
                    "fps" => "Video (frames/s)",
                    _ => "Bandwidth (GB/s)",
                }
            );
            table(
                &mut o,
                &[
                    "ID",
                    "Device / backend",
                    "Implementation",
                    "Math mode",
                    &median,
                    &best,
                    "Samples",
                    "Rel. stddev",
                    "Verification",
                ],
                &rows,
            );
        }

        // GEMM: kernel against peak and peer.
        let gemm = super::gemm::gemm_rows(r);
        if !gemm.is_empty() {
            let _ = writeln!(
                o,
                "## GEMM: gpugate kernel vs peak and cuBLAS
"
            );
            let rows: Vec<Vec<String>> = gemm
                .iter()
                .map(|g| {
                    vec![
                        format!("`{}`", g.id),
                        g.precision_label(),
                        format!("{}×{}×{}", g.shape.0, g.shape.1, g.shape.2),
                        cell(&g.kernel_label()),
                        fmt_opt(g.tflops, "TFLOPS"),
                        g.percent_of_peak()
                            .map_or("—".into(), |p| format!("{p:.1}%")),
                        g.percent_of_peak_at_held_clock()
                            .map_or("—".into(), |p| format!("{p:.1}%")),
                        fmt_opt(g.peak, "TFLOPS"),
                        cell(g.peer_implementation.as_deref().unwrap_or("not run")),
                        fmt_opt(g.peer_tflops, "TFLOPS"),
                        g.ratio_to_peer()
                            .map_or("—".into(), |x| format!("{:.1}%", x * 100.0)),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "ID",
                    "GEMM",
                    "M×N×K",
                    "Kernel (math mode)",
                    "TFLOPS",
                    "% of peak",
                    "% of peak at held clock",
                    "Peak TFLOPS (this math)",
                    "Peer",
                    "Peer TFLOPS",
                    "Kernel / peer",
                ],
                &rows,
            );
        }

        for c in super::charts::all(r)
            .into_iter()
            .filter(|c| c.kind == super::charts::ChartKind::Gemm)
        {
            let _ = writeln!(o, "![{}]({})\n", c.title, c.file_name);
        }

        // Video stages: fps beside the GB/s and Gop/s they imply, against the stage's target.
        let video = super::video::video_rows(r);
        if !video.is_empty() {
            let _ = writeln!(o, "## Video stages\n\n{}\n", super::video::INTRO);
            let rows: Vec<Vec<String>> = video
                .iter()
                .map(|v| {
                    let mut c = v.cells();
                    c[0] = format!("`{}`", c[0]);
                    c.iter().map(|x| cell(x)).collect()
                })
                .collect();
            table(&mut o, &super::video::COLUMNS, &rows);
            for c in super::charts::all(r)
                .into_iter()
                .filter(|c| c.kind == super::charts::ChartKind::Video)
            {
                let _ = writeln!(o, "![{}]({})\n", c.title, c.file_name);
            }
        }

        // GEMM tuning: which variant each size class uses, and how the candidates did.
        for t in &r.tuning {
            if t.entries.is_empty() {
                continue;
            }
            let _ = writeln!(
                o,
                "## GEMM tuning, gpu{} ({}, driver {}, PTX {})
",
                t.device, t.key.gpu_name, t.key.driver_cuda_version, t.key.ptx_hash
            );
            let rows: Vec<Vec<String>> = t
                .entries
                .iter()
                .map(|e| {
                    let candidates = e
                        .candidates
                        .iter()
                        .map(|c| match (c.tflops, c.verified) {
                            (Some(x), true) => format!("{} {x:.2}", c.variant),
                            (Some(x), false) => format!("{} {x:.2} (wrong result)", c.variant),
                            (None, _) => format!(
                                "{} failed: {}",
                                c.variant,
                                c.error.as_deref().unwrap_or("?")
                            ),
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    vec![
                        e.precision.as_str().to_string(),
                        e.math.label().to_string(),
                        format!("{:?}", e.size_class).to_lowercase(),
                        format!("{}³", e.size),
                        format!("`{}`", e.variant),
                        if e.from_cache {
                            "cache".into()
                        } else {
                            "timed in this run".into()
                        },
                        cell(&candidates),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "Precision",
                    "Math",
                    "Size class",
                    "Timed at",
                    "Chosen variant",
                    "From",
                    "Candidates (TFLOPS)",
                ],
                &rows,
            );
        }

        // First mismatches.
        let failed: Vec<&WorkloadResult> = r
            .results
            .iter()
            .filter(|w| w.verification.status == VerifyStatus::Failed)
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(o, "## First mismatches\n");
            for w in failed {
                let v = &w.verification;
                let _ = writeln!(
                    o,
                    "### `{}` ({})\n\n{}: max error {:.3e} against tolerance {:.3e}, {} checked.\n",
                    w.id,
                    cell(&device_label(w)),
                    cell(&v.method),
                    v.max_error,
                    v.tolerance,
                    v.checked
                );
                if v.mismatches.is_empty() {
                    let _ = writeln!(o, "(no element-level mismatch recorded)\n");
                } else {
                    let rows: Vec<Vec<String>> = v
                        .mismatches
                        .iter()
                        .map(|m| vec![cell(&m.at), format!("{}", m.expected), format!("{}", m.got)])
                        .collect();
                    table(&mut o, &["At", "Expected", "Got"], &rows);
                }
            }
        }

        // Module loads.
        if !r.module_loads.is_empty() {
            let _ = writeln!(o, "## Module load (JIT) times\n");
            let rows: Vec<Vec<String>> = r
                .module_loads
                .iter()
                .map(|m| {
                    vec![
                        format!("gpu{}", m.device),
                        cell(&m.module),
                        cell(&m.target),
                        format!("{:.1}", m.seconds * 1e3),
                    ]
                })
                .collect();
            table(
                &mut o,
                &["GPU", "Module", "Target", "Load time (ms)"],
                &rows,
            );
            let total: f64 = r.module_loads.iter().map(|m| m.seconds).sum();
            let _ = writeln!(
                o,
                "Total {:.1} ms, never inside a timed sample.\n",
                total * 1e3
            );
        }

        // Kernel builds the driver (or the device) kept from loading.
        if !r.module_notes.is_empty() {
            let _ = writeln!(o, "## Kernel modules not at their best build\n");
            let rows: Vec<Vec<String>> = r
                .module_notes
                .iter()
                .map(|m| {
                    vec![
                        format!("gpu{}", m.device),
                        cell(&m.module),
                        cell(m.target.as_deref().unwrap_or("none")),
                        cell(m.refused.as_deref().unwrap_or("—")),
                        cell(m.refused_min_driver.as_deref().unwrap_or("—")),
                        cell(m.reason.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "GPU",
                    "Module",
                    "Loaded",
                    "Best for the GPU",
                    "It needs",
                    "Why",
                ],
                &rows,
            );
        }

        // Warnings and notes.
        let warnings: Vec<String> = super::warnings(r)
            .into_iter()
            .map(|w| format!("`{}`: {}", w.subject, cell(&w.text)))
            .collect();
        if !warnings.is_empty() {
            let _ = writeln!(o, "## Warnings\n");
            for w in warnings {
                let _ = writeln!(o, "- {w}");
            }
            o.push('\n');
        }
        if !r.notes.is_empty() {
            let _ = writeln!(o, "## Notes\n");
            for n in &r.notes {
                let _ = writeln!(o, "- {}", cell(n));
            }
            o.push('\n');
        }

        let _ = writeln!(
            o,
            "---\n\nVerdict {} → exit {}. Exit codes: 0 every check passed · 1 a check failed · \
             2 the tool could not run · 3 nothing failed but something was inconclusive. \
             Throughput units are decimal (TFLOPS = 1e12 FLOP/s, GB/s = 1e9 B/s).",
            r.verdict, r.exit_code
        );
        // Run text (profile and device names, reasons, notes) is data, never markup: no raw
        // HTML reaches a Markdown viewer (`<` is the only character that opens it; report.md
        // itself writes none).
        o.replace('<', "&lt;")
    }
}
