//! report.html: one self-contained page (inline CSS and SVG charts, nothing fetched) with the
//! verdict, the checks, the GEMM comparison with its charts, every result and the notes.

use std::fmt::Write;

use super::junit::xml_escape as esc;
use super::{charts, fmt_opt, fmt_pct, gemm, Reporter};
use crate::model::{RunReport, Verdict, VerifyStatus};

/// The HTML reporter (report.html).
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}\
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.PASS{background:#d9f2d9}.FAIL{background:#f8d0d0}\
.INCONCLUSIVE{background:#fbeec2}.SKIPPED{background:#e8e8e8}\
.banner{padding:.6em 1em;border:1px solid #c00;background:#fdecec}";

fn table(o: &mut String, header: &[&str], rows: &[Vec<(String, Option<&str>)>]) {
    let _ = write!(o, "<table><tr>");
    for h in header {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    let _ = writeln!(o, "</tr>");
    for r in rows {
        let _ = write!(o, "<tr>");
        for (text, class) in r {
            match class {
                Some(c) => {
                    let _ = write!(o, r#"<td class="{c}">{}</td>"#, esc(text));
                }
                None => {
                    let _ = write!(o, "<td>{}</td>", esc(text));
                }
            }
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
}

fn plain(s: impl Into<String>) -> (String, Option<&'static str>) {
    (s.into(), None)
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Inconclusive => "INCONCLUSIVE",
        Verdict::Skipped => "SKIPPED",
    }
}

impl Reporter for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, r: &RunReport) -> String {
        let mut o = String::new();
        let title = format!("gpugate: {} (exit {})", r.verdict, r.exit_code);
        let _ = writeln!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
            esc(&title)
        );
        let _ = writeln!(
            o,
            r#"<h1 class="{}">{}</h1>"#,
            verdict_class(r.verdict),
            esc(&title)
        );
        if let Some(banner) = super::incomplete_banner(r) {
            let _ = writeln!(o, r#"<p class="banner"><b>{}</b></p>"#, esc(&banner));
        }
        if let Some(banner) = super::simulated_banner(r) {
            let _ = writeln!(o, r#"<p class="banner"><b>{}</b></p>"#, esc(&banner));
        }
        if let Some(why) = &r.gpu_unavailable {
            let _ = writeln!(
                o,
                r#"<p class="banner"><b>GPU unavailable:</b> {}</p>"#,
                esc(why)
            );
        }
        let _ = writeln!(
            o,
            "<p>Profile <b>{}</b> ({}) · level {} · seed {} · gpugate {}{} · started {}</p>",
            esc(&r.profile.name),
            esc(&r.profile.origin),
            r.level,
            r.seed,
            esc(&r.tool.version),
            r.tool
                .git_commit
                .as_deref()
                .map(|c| format!(" ({})", esc(c)))
                .unwrap_or_default(),
            esc(&r.started_at)
        );
        let gpus: Vec<String> = r
            .gpus
            .iter()
            .map(|g| {
                format!(
                    "gpu{} {} (sm_{}{}, {} SMs, {:.1} GB, NVENC engines: {})",
                    g.index,
                    g.name,
                    g.compute_capability.0,
                    g.compute_capability.1,
                    g.sm_count,
                    g.total_memory_bytes as f64 / 1e9,
                    g.nvenc.engines_cell()
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "<p>Host {} · {} · {} logical CPUs · {:.1} GB memory<br>GPUs: {}</p>",
            esc(&r.host.hostname),
            esc(&r.host.cpu_model),
            r.host.logical_cpus,
            r.host.memory_bytes as f64 / 1e9,
            esc(&if gpus.is_empty() {
                "none".into()
            } else {
                gpus.join("; ")
            })
        );

        let _ = writeln!(o, "<h2>Checks</h2>");
        let rows: Vec<_> = r
            .checks
            .iter()
            .map(|c| {
                vec![
                    plain(&c.id),
                    (c.verdict.to_string(), Some(verdict_class(c.verdict))),
                    plain(fmt_opt(c.observed, &c.unit)),
                    plain(fmt_opt(c.required, &c.unit)),
                    plain(fmt_pct(c.percent_of_spec)),
                    plain(&c.unit),
                    plain(&c.reason),
                    plain(&c.hint),
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
                "Hint",
            ],
            &rows,
        );

        let g = gemm::gemm_rows(r);
        if !g.is_empty() {
            let _ = writeln!(o, "<h2>GEMM: gpugate kernel vs peak and cuBLAS</h2>");
            let rows: Vec<_> = g
                .iter()
                .map(|g| {
                    vec![
                        plain(&g.id),
                        plain(g.precision_label()),
                        plain(g.kernel_label()),
                        plain(fmt_opt(g.tflops, "TFLOPS")),
                        plain(fmt_pct(g.percent_of_peak())),
                        plain(fmt_pct(g.percent_of_peak_at_held_clock())),
                        plain(
                            g.peer_implementation
                                .clone()
                                .unwrap_or_else(|| "not run".into()),
                        ),
                        plain(fmt_opt(g.peer_tflops, "TFLOPS")),
                        plain(fmt_pct(g.ratio_to_peer().map(|x| x * 100.0))),
                    ]
                })
                .collect();
            table(
                &mut o,
                &[
                    "ID",
                    "GEMM",
                    "Kernel (math mode)",
                    "TFLOPS",
                    "% of peak",
                    "% of peak at held clock",
                    "Peer",
                    "Peer TFLOPS",
                    "Kernel / peer",
                ],
                &rows,
            );
            for c in charts::all(r)
                .into_iter()
                .filter(|c| c.kind == charts::ChartKind::Gemm)
            {
                let _ = writeln!(o, "<figure>{}</figure>", c.svg);
            }
        }

        let video = super::video::video_rows(r);
        if !video.is_empty() {
            // INTRO is the tool's own text (no markup characters), not run text.
            let _ = writeln!(o, "<h2>Video stages</h2><p>{}</p>", super::video::INTRO);
            let rows: Vec<_> = video
                .iter()
                .map(|v| {
                    let mut c: Vec<_> = v.cells().into_iter().map(plain).collect();
                    if let Some(last) = c.last_mut() {
                        last.1 = Some(if v.ok { "PASS" } else { "FAIL" });
                    }
                    c
                })
                .collect();
            table(&mut o, &super::video::COLUMNS, &rows);
            for c in charts::all(r)
                .into_iter()
                .filter(|c| c.kind == charts::ChartKind::Video)
            {
                let _ = writeln!(o, "<figure>{}</figure>", c.svg);
            }
        }

        // The other charts (checks, stream, roofline, samples, telemetry), until each has its
        // place in its section.
        let others: Vec<_> = charts::all(r)
            .into_iter()
            .filter(|c| !matches!(c.kind, charts::ChartKind::Gemm | charts::ChartKind::Video))
            .collect();
        if !others.is_empty() {
            let _ = writeln!(o, "<h2>Charts</h2>");
            for c in others {
                let _ = writeln!(o, "<figure>{}</figure>", c.svg);
            }
        }

        let _ = writeln!(o, "<h2>Results</h2>");
        let rows: Vec<_> = r
            .results
            .iter()
            .map(|w| {
                let m = w.measurement.as_ref();
                let unit = w.spec.throughput_unit();
                let verification = match (&w.error, w.verification.status) {
                    (Some(e), _) => (format!("error: {e}"), Some("FAIL")),
                    (None, VerifyStatus::Passed) => ("passed".to_string(), Some("PASS")),
                    (None, VerifyStatus::Failed) => ("FAILED".to_string(), Some("FAIL")),
                    (None, VerifyStatus::NotChecked) => ("not checked".to_string(), None),
                };
                vec![
                    plain(&w.id),
                    plain(format!("{} / {}", w.device_name, w.backend)),
                    plain(&w.implementation),
                    plain(w.math_mode.clone().unwrap_or_default()),
                    plain(format!(
                        "{} {unit}",
                        fmt_opt(m.map(|m| m.throughput.median), unit)
                    )),
                    plain(m.map_or("—".into(), |m| m.summary.n.to_string())),
                    plain(m.map_or("—".into(), |m| {
                        format!("{:.2}%", m.summary.rel_stddev * 100.0)
                    })),
                    verification,
                ]
            })
            .collect();
        table(
            &mut o,
            &[
                "ID",
                "Device / backend",
                "Implementation",
                "Math mode",
                "Median",
                "Samples",
                "Rel. stddev",
                "Verification",
            ],
            &rows,
        );

        let warnings: Vec<String> = super::warnings(r)
            .into_iter()
            .map(|w| format!("{}: {}", w.subject, w.text))
            .chain(r.notes.iter().cloned())
            .collect();
        if !warnings.is_empty() {
            let _ = writeln!(o, "<h2>Warnings and notes</h2><ul>");
            for w in warnings {
                let _ = writeln!(o, "<li>{}</li>", esc(&w));
            }
            let _ = writeln!(o, "</ul>");
        }
        let _ = writeln!(o, "</body></html>");
        o
    }
}
