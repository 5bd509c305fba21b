//! Finding the run.json files among the command's arguments and reading them, in parallel.
//!
//! A file argument is read whatever its name. A directory is searched (its subdirectories too)
//! for files named `run.json` or `*.run.json`; symbolic links are not followed, so a gpugate
//! output directory's `latest` link does not count its run twice.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::model::Unreadable;
use super::node::{read_node, NodeRecord};

/// The run.json files the arguments name, sorted, and the arguments that name nothing
/// readable (why).
pub fn find_inputs(args: &[PathBuf]) -> (Vec<PathBuf>, Vec<Unreadable>) {
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for a in args {
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => {
                let before = files.len();
                walk(a, &mut files, &mut bad);
                if files.len() == before {
                    bad.push(Unreadable {
                        path: a.display().to_string(),
                        reason: "no run.json in this directory or below it".into(),
                    });
                }
            }
            Ok(_) => files.push(a.clone()),
            Err(e) => bad.push(Unreadable {
                path: a.display().to_string(),
                reason: format!("cannot read it: {e}"),
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, bad)
}

fn is_run_json(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "run.json" || n.ends_with(".run.json"))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, bad: &mut Vec<Unreadable>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            bad.push(Unreadable {
                path: dir.display().to_string(),
                reason: format!("cannot list it: {e}"),
            });
            return;
        }
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let p = e.path();
        if t.is_dir() {
            walk(&p, files, bad);
        } else if t.is_file() && is_run_json(&p) {
            files.push(p);
        }
    }
}

/// Reads every file on all the host's cores; the records come back in `files` order.
pub fn read_all(files: &[PathBuf]) -> Vec<Result<NodeRecord, Unreadable>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<NodeRecord, Unreadable>>>> =
        Mutex::new(vec![None; files.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = read_node(f);
                out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
