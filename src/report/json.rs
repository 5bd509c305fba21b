//! run.json: the run itself, pretty-printed. Every other report can be rendered from it.

use super::Reporter;
use crate::model::RunReport;

/// The JSON reporter (run.json).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Reporter for Json {
    fn file_name(&self) -> &'static str {
        "run.json"
    }
    fn render(&self, r: &RunReport) -> String {
        // A RunReport is plain data (no maps with non-string keys): serialising cannot fail.
        let mut s = serde_json::to_string_pretty(r).expect("RunReport serialises to JSON");
        s.push('\n');
        s
    }
}
