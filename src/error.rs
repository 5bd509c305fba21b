//! Typed errors of the library. The binary maps them to exit code 2 with their message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Profile(#[from] crate::gate::ProfileError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("cannot write {path}: {err}. Pass --out with a directory you can write to.")]
    Output { path: PathBuf, err: std::io::Error },
    #[error("{0}")]
    Usage(String),
}
