//! The video stages as the reports show them: per GPU, stage and frame size, frames per second
//! beside the GB/s and integer Gop/s they imply, and the stage's target as the gate recorded it
//! (reporting never recomputes a target).

use std::fmt::Write;

use super::charts::{esc, Chart};
use super::{fmt_opt, fmt_pct};
use crate::gate::evaluate::video_scale_to_target;
use crate::gate::profile::Metric;
use crate::model::{BackendKind, Check, Role, RunReport, VerifyStatus};
use crate::workload::video::resolution_name;
use crate::workload::{VideoStage, WorkloadSpec};

/// One video result.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRow {
    pub id: String,
    pub device: u32,
    pub stage: VideoStage,
    pub width: usize,
    pub height: usize,
    pub fps: Option<f64>,
    /// fps counted in 1080p frames (× pixels / 1080p's pixels): what the targets are written in.
    pub fps_1080p: Option<f64>,
    /// DRAM bytes per frame × fps, GB/s.
    pub gbps: Option<f64>,
    /// Integer operations per frame × fps, Gop/s.
    pub gops: Option<f64>,
    /// The stage's target on this GPU (spec and pass line, 1080p fps), from the run's check.
    pub spec: Option<f64>,
    pub pass_line: Option<f64>,
    /// "passed", "FAILED", "error: …", "not checked".
    pub verification: String,
    pub ok: bool,
}

/// What the Video stages section says before its table (Markdown and HTML alike).
pub const INTRO: &str = "Frames per second of gpugate's video kernels (each output checked bit \
    for bit on the host). Targets are in 1080p frames per second, estimated from the GPU's \
    bandwidth and integer throughput until a real card calibrates them; a result at another frame \
    size is counted in 1080p frames by its pixel count.";

/// The columns of the Video stages table, for [`VideoRow::cells`].
pub const COLUMNS: [&str; 11] = [
    "ID",
    "Stage",
    "Frame",
    "fps",
    "1080p fps",
    "GB/s",
    "Gop/s",
    "Target fps (spec)",
    "Pass line",
    "% of spec",
    "Verification",
];

impl VideoRow {
    /// The row's [`COLUMNS`] as plain text (each renderer escapes and marks up its own way).
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.stage.as_str().to_string(),
            format!("{}×{}", self.width, self.height),
            fmt_opt(self.fps, "fps"),
            fmt_opt(self.fps_1080p, "fps"),
            fmt_opt(self.gbps, "GB/s"),
            fmt_opt(self.gops, "Gop/s"),
            fmt_opt(self.spec, "fps"),
            fmt_opt(self.pass_line, "fps"),
            fmt_pct(self.percent_of_spec()),
            self.verification.clone(),
        ]
    }

    /// "1080p", "2160p", "640x360".
    pub fn frame(&self) -> String {
        resolution_name(self.width, self.height)
    }
    /// 1080p fps / spec × 100.
    pub fn percent_of_spec(&self) -> Option<f64> {
        Some(self.fps_1080p? / self.spec? * 100.0)
    }
}

fn stage_check(r: &RunReport, device: u32, stage: VideoStage) -> Option<&Check> {
    let id = format!("gpu{device}.{}", Metric::video(stage));
    r.checks.iter().find(|c| c.id == id)
}

/// Every primary CUDA video result, by device, stage and frame size.
pub fn video_rows(r: &RunReport) -> Vec<VideoRow> {
    let mut rows: Vec<VideoRow> = r
        .results
        .iter()
        .filter(|w| w.backend == BackendKind::Cuda && w.role == Role::Primary)
        .filter_map(|w| {
            let WorkloadSpec::Video {
                stage,
                width,
                height,
            } = w.spec
            else {
                return None;
            };
            let device = w.device?;
            let fps = w.measurement.as_ref().map(|m| m.throughput.median);
            let check = stage_check(r, device, stage);
            let (verification, ok) = match (&w.error, w.verification.status) {
                (Some(e), _) => (format!("error: {e}"), false),
                (None, VerifyStatus::Passed) => ("passed".to_string(), true),
                (None, VerifyStatus::Failed) => ("FAILED".to_string(), false),
                (None, _) => ("not checked".to_string(), false),
            };
            Some(VideoRow {
                id: w.id.clone(),
                device,
                stage,
                width,
                height,
                fps,
                fps_1080p: fps.map(|f| f * video_scale_to_target(&w.spec)),
                gbps: fps.map(|f| f * w.work.bytes / 1e9),
                gops: fps.map(|f| f * w.work.int_ops / 1e9),
                spec: check.and_then(|c| c.spec),
                pass_line: check.and_then(|c| c.required),
                verification,
                ok,
            })
        })
        .collect();
    rows.sort_by_key(|v| (v.device, v.stage, v.width * v.height));
    rows
}

// ---------------------------------------------------------------- chart

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 60.0;

/// "1 000 000" style tick labels for a log axis.
fn fmt_fps(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

/// One chart per GPU with video results: 1080p frames per second per stage (a bar per stage,
/// the largest frame size measured), against the stage's spec and pass line, on a log axis
/// (the stages differ by orders of magnitude).
pub fn video_charts(r: &RunReport) -> Vec<Chart> {
    let rows = video_rows(r);
    let mut devices: Vec<u32> = rows.iter().map(|v| v.device).collect();
    devices.dedup();
    let mut charts = Vec::new();
    for dev in devices {
        // Per stage, the row the gate would use: 1080p if measured, else the largest frame.
        let mut bars: Vec<&VideoRow> = Vec::new();
        for stage in VideoStage::ALL {
            let of_stage: Vec<&VideoRow> = rows
                .iter()
                .filter(|v| v.device == dev && v.stage == stage)
                .collect();
            let pick = of_stage
                .iter()
                .find(|v| (v.width, v.height) == crate::gate::evaluate::VIDEO_TARGET_FRAME)
                .or_else(|| of_stage.iter().max_by_key(|v| v.width * v.height));
            if let Some(v) = pick {
                bars.push(v);
            }
        }
        if bars.is_empty() {
            continue;
        }
        let info = r.gpus.iter().find(|g| g.index == dev);
        let gpu = info
            .map(|g| g.name.clone())
            .unwrap_or_else(|| format!("gpu{dev}"));
        let sim = if info.is_some_and(|g| g.simulated) {
            "SIMULATED, not a measurement: "
        } else {
            ""
        };
        let title = format!("{sim}Video stages, gpu{dev} ({gpu}): 1080p frames/s against target");
        charts.push(Chart {
            file_name: format!("video_gpu{dev}.svg"),
            svg: render(&title, &bars),
            title,
        });
    }
    charts
}

fn render(title: &str, bars: &[&VideoRow]) -> String {
    let values: Vec<f64> = bars
        .iter()
        .flat_map(|b| [b.fps_1080p, b.spec, b.pass_line])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let (d0, d1) = if values.is_empty() {
        (0, 3)
    } else {
        let d0 = lo.log10().floor() as i32;
        (d0, (hi.log10().ceil() as i32).max(d0 + 1))
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let py = |v: f64| TOP + ph - (v.log10() - d0 as f64) / (d1 - d0) as f64 * ph;
    let slot = pw / bars.len() as f64;
    let bw = slot * 0.5;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    // A simulated run's mark on its own line, in red, so that neither it nor the title is cut.
    let (mark, rest) = match title.split_once(": ") {
        Some((mark, rest)) if mark.starts_with("SIMULATED") => (Some(mark), rest),
        _ => (None, title),
    };
    if let Some(mark) = mark {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#d62728">{}</text>"##,
            esc(mark)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="38" font-size="14">{}</text>"#,
        esc(rest)
    );
    // Axes and decade ticks.
    for d in d0..=d1 {
        let v = 10f64.powi(d);
        let y = py(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            fmt_fps(v)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        TOP + ph,
        TOP + ph,
        LEFT + pw,
        TOP + ph
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" transform="rotate(-90 18 {:.1})" text-anchor="middle">frames/s (1080p frames, log scale)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">stage (frame size measured)</text>"#,
        LEFT + pw / 2.0,
        H - 12.0
    );
    for (i, b) in bars.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        if let Some(v) = b.fps_1080p.filter(|v| *v > 0.0) {
            let y = py(v).min(TOP + ph);
            let color = match (b.ok, b.pass_line) {
                (false, _) => "#d62728",
                (true, Some(line)) if v < line => "#d62728",
                _ => "#1f77b4",
            };
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{color}"><title>{}: {:.1} fps</title></rect>"#,
                cx - bw / 2.0,
                TOP + ph - y,
                esc(&b.id),
                v
            );
        }
        for (value, color, dash) in [(b.spec, "#2ca02c", "none"), (b.pass_line, "#ff7f0e", "6 3")] {
            if let Some(v) = value.filter(|v| *v > 0.0) {
                let y = py(v);
                let _ = writeln!(
                    s,
                    r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                    cx - bw / 2.0 - 8.0,
                    cx + bw / 2.0 + 8.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{} ({})</text>"#,
            TOP + ph + 18.0,
            b.stage.as_str(),
            b.frame()
        );
    }
    let lx = W - RIGHT + 16.0;
    let legend = [
        ("#1f77b4", "rect", "measured (verified)"),
        ("#d62728", "rect", "below line or wrong"),
        ("#2ca02c", "none", "spec (estimate)"),
        ("#ff7f0e", "6 3", "pass line"),
    ];
    for (i, (color, kind, label)) in legend.iter().enumerate() {
        let ly = TOP + 10.0 + i as f64 * 20.0;
        if *kind == "rect" {
            let _ = writeln!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="20" height="10" fill="{color}"/>"#,
                ly - 5.0
            );
        } else {
            let _ = writeln!(
                s,
                r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{kind}"/>"#,
                lx + 20.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 26.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample run's video results: a row per stage and size with the check's target, and a
    /// chart with a bar per stage (1080p where measured), the spec and the pass line, a red bar
    /// for the stage below its line, axis labels and a legend; a simulated GPU's chart says so
    /// on a line of its own.
    #[test]
    fn rows_and_chart_of_the_sample_run() {
        let mut r = crate::report::tests::sample_report();
        let rows = video_rows(&r);
        assert_eq!(rows.len(), 5);
        let scale = rows.iter().find(|v| v.stage == VideoStage::Scale).unwrap();
        assert_eq!(scale.spec, Some(27580.0));
        assert!(scale.pass_line.is_some_and(|l| (l - 11032.0).abs() < 1e-6));
        let me4k = rows
            .iter()
            .find(|v| v.stage == VideoStage::Me && v.width == 3840)
            .unwrap();
        assert!((me4k.fps_1080p.unwrap() / me4k.fps.unwrap() - 4.0).abs() < 1e-9);
        let charts = video_charts(&r);
        assert_eq!(charts.len(), 1);
        let svg = &charts[0].svg;
        assert_eq!(charts[0].file_name, "video_gpu0.svg");
        assert_eq!(
            svg.matches("<rect x=").count(),
            4 + 2,
            "4 bars + 2 legend boxes"
        );
        assert_eq!(svg.matches("fill=\"#d62728\"><title>").count(), 1, "{svg}");
        assert!(
            svg.contains("gpu0.video.me.1080p"),
            "1080p is the bar, not 2160p"
        );
        assert!(svg.contains("frames/s (1080p frames, log scale)"));
        assert!(svg.contains("spec (estimate)") && svg.contains("pass line"));
        assert!(!svg.contains("SIMULATED"));
        r.gpus[0].simulated = true;
        let svg = &video_charts(&r)[0].svg;
        assert!(
            svg.contains(">SIMULATED, not a measurement</text>"),
            "{svg}"
        );
    }
}
