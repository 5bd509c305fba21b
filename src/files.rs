//! Reading the user's files and writing gpugate's own, safely.
//!
//! - [`read_text_capped`]: a file read with a size cap (a profile named `/dev/zero` or a huge
//!   file is refused, never read into memory) and as UTF-8 text, with an error that says which
//!   of the three went wrong.
//! - [`write_atomic`]: a file written through a temporary name of its own (process id and a
//!   counter) and renamed into place, so readers and a crash see the old complete file or the
//!   new one, and concurrent writers into one directory never take each other's temporary file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The OS refused (not found, a directory, no permission, …).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Larger than the cap.
    #[error("it is larger than {} (the most a {what} may be); check that the path names a {what}", human(*cap))]
    TooLarge { cap: u64, what: &'static str },
    /// Not UTF-8.
    #[error("it is not UTF-8 text (invalid byte at offset {offset}); a {what} is a text file: save it as UTF-8")]
    NotUtf8 { offset: usize, what: &'static str },
}

impl ReadError {
    /// Whether checking the path is the advice (the OS could not open or read it), as opposed
    /// to a file that was read but is not what it should be.
    pub fn is_os_error(&self) -> bool {
        matches!(self, ReadError::Io(_))
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `path` as UTF-8 text of at most `cap` bytes. `what` names the kind of file in the
/// messages ("profile", "run.json"). A larger file (or an endless one) is refused after reading
/// `cap + 1` bytes.
pub fn read_text_capped(path: &Path, cap: u64, what: &'static str) -> Result<String, ReadError> {
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let mut bytes = Vec::new();
    f.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap, what });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
        what,
    })
}

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A temporary name for `name` in `dir` that no other writer uses: `.NAME.PID.SEQ.tmp`.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    let seq = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()))
}

/// Writes `bytes` to `dir/name` through a temporary file of this writer's own and a rename.
/// Returns the path written. The temporary file is removed when anything fails.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = temp_path(dir, name);
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it_all() {
        let e = read_text_capped(Path::new("/dev/zero"), 1 << 20, "profile").unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "it is larger than 1 MiB (the most a profile may be); check that the path names a profile"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abcd").unwrap();
        assert_eq!(read_text_capped(&p, 4, "profile").unwrap(), "abcd");
        assert!(matches!(
            read_text_capped(&p, 3, "profile"),
            Err(ReadError::TooLarge { cap: 3, .. })
        ));
    }

    #[test]
    fn non_utf8_says_so_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"[machine]\n\xff").unwrap();
        let e = read_text_capped(&p, 1 << 20, "profile").unwrap_err();
        assert!(!e.is_os_error());
        assert!(
            e.to_string()
                .contains("not UTF-8 text (invalid byte at offset 10)"),
            "{e}"
        );
        let d = read_text_capped(dir.path(), 1 << 20, "profile").unwrap_err();
        assert!(d.is_os_error(), "{d}");
    }

    #[test]
    fn concurrent_atomic_writes_of_one_name_all_succeed_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        write_atomic(&d, "report.md", format!("writer {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(text.starts_with("writer ") && text.ends_with('\n') && text.lines().count() == 1);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.md")]);
    }
}
