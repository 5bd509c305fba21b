//! Where a run's files go: a directory per run, and a `latest` link.
//!
//! ```text
//! DIR/                       the --out directory (default ./gpugate-out)
//!   runs/20261130T122725Z-4821/   one run's files, written by that run only:
//!       run.json report.md report.html junit.xml *.svg
//!   latest -> runs/20261130T122725Z-4821   the last run that wrote its reports
//! ```
//!
//! - Two runs never mix files: each has its own directory, created with `create_dir` (an id
//!   already taken gets a suffix), so even concurrent runs into one DIR stay apart.
//! - A finished run's files are never lost to a later one: nothing under `runs/` is deleted or
//!   rewritten by another run. `latest` moves only once a run has written all of its reports
//!   (complete, or interrupted and written as incomplete); a run that is killed outright or
//!   cannot write leaves it where it was.
//! - `latest` is a relative symlink replaced atomically (a new link renamed over the old one),
//!   so a reader always finds a whole run behind it. With concurrent runs it names the one
//!   that finished last; each run also prints its own directory.

use std::path::{Path, PathBuf};

/// The subdirectory of DIR that holds the runs.
pub const RUNS: &str = "runs";
/// The link to the last run that wrote its reports.
pub const LATEST: &str = "latest";

/// One run's own directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// The --out directory.
    pub root: PathBuf,
    /// `root/runs/<id>`.
    pub dir: PathBuf,
    /// The directory's name, e.g. "20261130T122725Z-4821".
    pub id: String,
}

/// "2026-11-30T12:27:25Z" → "20261130T122725Z".
fn compact(rfc3339: &str) -> String {
    rfc3339.chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// Creates `root/runs/<time>-<pid>[-N]/` for a run started at `started_at` (RFC 3339): the
/// first name not taken. Creating it is also the check that `root` can be written.
pub fn create_run_dir(root: &Path, started_at: &str) -> std::io::Result<RunDir> {
    let runs = root.join(RUNS);
    std::fs::create_dir_all(&runs)?;
    let base = format!("{}-{}", compact(started_at), std::process::id());
    for n in 1.. {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = runs.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                return Ok(RunDir {
                    root: root.to_path_buf(),
                    dir,
                    id,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("an unbounded range always yields")
}

/// Points `root/latest` at this run: a new relative link renamed over the old one, so the
/// switch is atomic. Fails (leaving the old link) when something that is not a link is in
/// the way.
pub fn point_latest(run: &RunDir) -> std::io::Result<PathBuf> {
    let latest = run.root.join(LATEST);
    if let Ok(meta) = std::fs::symlink_metadata(&latest) {
        if !meta.file_type().is_symlink() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a link gpugate made; move it away to have `latest` \
                     name the newest run",
                    latest.display()
                ),
            ));
        }
    }
    let tmp = crate::files::temp_path(&run.root, LATEST);
    let target = Path::new(RUNS).join(&run.id);
    std::os::unix::fs::symlink(&target, &tmp)?;
    if let Err(e) = std::fs::rename(&tmp, &latest) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_gets_its_own_directory_and_latest_follows_the_last_written() {
        let root = tempfile::tempdir().unwrap();
        let at = "2026-11-30T12:27:25Z";
        let a = create_run_dir(root.path(), at).unwrap();
        let b = create_run_dir(root.path(), at).unwrap();
        assert_eq!(a.id, format!("20261130T122725Z-{}", std::process::id()));
        assert_eq!(b.id, format!("{}-2", a.id));
        assert!(a.dir.is_dir() && b.dir.is_dir());
        std::fs::write(a.dir.join("run.json"), "a").unwrap();
        std::fs::write(b.dir.join("run.json"), "b").unwrap();
        point_latest(&a).unwrap();
        let latest = root.path().join(LATEST);
        assert_eq!(
            std::fs::read_to_string(latest.join("run.json")).unwrap(),
            "a"
        );
        point_latest(&b).unwrap();
        assert_eq!(
            std::fs::read_to_string(latest.join("run.json")).unwrap(),
            "b"
        );
        assert_eq!(
            std::fs::read_link(&latest).unwrap(),
            Path::new("runs").join(&b.id),
            "a relative link: the directory can be moved or copied whole"
        );
        // Nothing of a is touched, and no temporary link is left behind.
        assert_eq!(
            std::fs::read_to_string(a.dir.join("run.json")).unwrap(),
            "a"
        );
        let mut names: Vec<String> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["latest", "runs"]);
    }

    #[test]
    fn a_directory_named_latest_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(LATEST)).unwrap();
        std::fs::write(root.path().join(LATEST).join("keep"), "x").unwrap();
        let a = create_run_dir(root.path(), "2026-11-30T12:27:25Z").unwrap();
        let e = point_latest(&a).unwrap_err();
        assert!(e.to_string().contains("is not a link gpugate made"), "{e}");
        assert!(root.path().join(LATEST).join("keep").is_file());
    }

    #[test]
    fn an_out_that_cannot_be_written_is_an_error_not_a_panic() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(create_run_dir(&file, "2026-11-30T12:27:25Z").is_err());
    }
}
