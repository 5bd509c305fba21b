//! Typed errors of the library. The binary maps them to exit code 2 with their message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Profile(#[from] crate::gate::ProfileError),
    #[error("{0}")]
    Report(#[from] crate::report::ReportError),
    #[error("cannot write {path}: {source}. Pass --out with a directory you can write to.")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}
