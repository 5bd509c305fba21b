//! The video stages as the reports show them: per GPU, stage and frame size, frames per second
//! beside the GB/s and integer Gop/s they imply, and the stage's target as the gate recorded it
//! (reporting never recomputes a target).

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample run's video results: a row per stage and size with the check's target (the
    /// chart is tested in `charts::tests`).
    #[test]
    fn rows_of_the_sample_run() {
        let r = crate::report::tests::sample_report();
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
    }
}
