//! run.json: the run itself, pretty-printed. Every other report can be rendered from it.

use std::borrow::Cow;

use super::Reporter;
use crate::model::{RunReport, SCHEMA_VERSION};

/// The JSON reporter (run.json).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Reporter for Json {
    fn file_name(&self) -> &'static str {
        "run.json"
    }
    fn render(&self, r: &RunReport) -> String {
        // Written in this gpugate's schema, whatever schema the run was read from (`gpugate
        // report` on an older file): its warnings, for one, are written typed (schema 4), which
        // an older gpugate must refuse as newer rather than misread.
        let r = match r.schema_version {
            SCHEMA_VERSION => Cow::Borrowed(r),
            _ => Cow::Owned(RunReport {
                schema_version: SCHEMA_VERSION,
                ..r.clone()
            }),
        };
        // A RunReport is plain data (no maps with non-string keys): serialising cannot fail.
        let mut s = serde_json::to_string_pretty(&*r).expect("RunReport serialises to JSON");
        s.push('\n');
        s
    }
}
