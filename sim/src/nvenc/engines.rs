//! The NVENC engines of one simulated GPU, shared by every process of the simulated machine.
//!
//! Each encode session is a client of the driver, and sessions are often separate processes
//! (one ffmpeg per session). As on a GPU, a session is bound to one engine when it opens (the
//! engine with the fewest sessions), and the engines are shared: each frame occupies its
//! session's engine for the frame's time, after the frames queued on that engine before it.
//! So N sessions on E engines together encode at min(N, E) × one engine's rate.
//!
//! The book of engines (when each engine is next free, and the open sessions with their
//! process and engine) lives in a small text file per GPU in the machine's state directory,
//! which the launcher creates (`GPUGATE_SIM_STATE_DIR`); every update holds an exclusive
//! `flock` on it. Sessions of processes that have exited (killed, crashed) are dropped at the
//! next update. Without a state directory (the library loaded in-process by a test), the book
//! is this process's alone.
//!
//! Times are `CLOCK_MONOTONIC` nanoseconds, which every process of the machine shares.

use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Mutex;

/// Nanoseconds of `CLOCK_MONOTONIC`.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC always exists on
    // Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One open session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pid: u32,
    id: u64,
    engine: u32,
}

/// The book: when each engine is next free, and the sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    busy_until: Vec<u64>,
    sessions: Vec<Entry>,
}

const HEADER: &str = "gpugate-sim nvenc engines 1";

impl State {
    fn parse(text: &str) -> State {
        let mut s = State::default();
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return s;
        }
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["busy", rest @ ..] => {
                    s.busy_until = rest.iter().filter_map(|x| x.parse().ok()).collect();
                }
                ["session", pid, id, engine] => {
                    if let (Ok(pid), Ok(id), Ok(engine)) = (pid.parse(), id.parse(), engine.parse())
                    {
                        s.sessions.push(Entry { pid, id, engine });
                    }
                }
                _ => {}
            }
        }
        s
    }

    fn text(&self) -> String {
        let mut t = format!("{HEADER}\nbusy");
        for b in &self.busy_until {
            t.push_str(&format!(" {b}"));
        }
        t.push('\n');
        for e in &self.sessions {
            t.push_str(&format!("session {} {} {}\n", e.pid, e.id, e.engine));
        }
        t
    }

    /// Sizes the engine list and drops sessions of processes that are gone.
    fn tidy(&mut self, engines: u32) {
        self.busy_until.resize(engines as usize, 0);
        self.sessions
            .retain(|e| e.engine < engines.max(1) && process_alive(e.pid));
    }
}

/// Whether process `pid` exists.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Why a session could not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The GPU has no working engine.
    NoEngine,
    /// The driver's session limit is reached.
    SessionLimit { open: u32, max: u32 },
}

/// The engines of one GPU.
pub struct Book {
    /// The shared file, or None: this process's book only.
    path: Option<PathBuf>,
    local: Mutex<State>,
}

impl Book {
    pub fn new(path: Option<PathBuf>) -> Book {
        Book {
            path,
            local: Mutex::new(State::default()),
        }
    }

    /// Runs `f` on the book, sized to `engines`, under the lock; writes it back.
    fn update<R>(&self, engines: u32, f: impl FnOnce(&mut State) -> R) -> std::io::Result<R> {
        let Some(path) = &self.path else {
            let mut s = self.local.lock().unwrap_or_else(|p| p.into_inner());
            s.tidy(engines);
            return Ok(f(&mut s));
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // SAFETY: flock on a descriptor this function owns; released when the file closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let mut s = State::parse(&text);
        s.tidy(engines);
        let r = f(&mut s);
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(s.text().as_bytes())?;
        Ok(r)
    }

    /// Opens session `id` of this process on one of `engines` engines (the one with the fewest
    /// sessions, the lowest of equals), unless the GPU has none or `max_sessions` (0 = no
    /// limit) are open.
    pub fn open(
        &self,
        engines: u32,
        max_sessions: u32,
        id: u64,
    ) -> std::io::Result<Result<u32, Refusal>> {
        if engines == 0 {
            return Ok(Err(Refusal::NoEngine));
        }
        self.update(engines, |s| {
            let open = s.sessions.len() as u32;
            if max_sessions > 0 && open >= max_sessions {
                return Err(Refusal::SessionLimit {
                    open,
                    max: max_sessions,
                });
            }
            let engine = (0..engines)
                .min_by_key(|e| s.sessions.iter().filter(|x| x.engine == *e).count())
                .unwrap_or(0);
            s.sessions.push(Entry {
                pid: std::process::id(),
                id,
                engine,
            });
            Ok(engine)
        })
    }

    /// Closes session `id` of this process.
    pub fn close(&self, engines: u32, id: u64) -> std::io::Result<()> {
        let pid = std::process::id();
        self.update(engines.max(1), |s| {
            s.sessions.retain(|e| !(e.pid == pid && e.id == id))
        })
    }

    /// Queues `ns` nanoseconds of work on `engine` from now or when it is next free, whichever
    /// is later; returns when it completes.
    pub fn reserve(&self, engines: u32, engine: u32, ns: u64) -> std::io::Result<u64> {
        let now = now_ns();
        self.update(engines, |s| {
            let slot = &mut s.busy_until[engine as usize];
            let done = (*slot).max(now) + ns;
            *slot = done;
            done
        })
    }

    /// Sessions open on the GPU (all processes).
    pub fn open_sessions(&self, engines: u32) -> std::io::Result<u32> {
        self.update(engines.max(1), |s| s.sessions.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_reads_back_what_it_wrote() {
        let s = State {
            busy_until: vec![5, 7],
            sessions: vec![Entry {
                pid: 12,
                id: 3,
                engine: 1,
            }],
        };
        assert_eq!(State::parse(&s.text()), s);
        assert_eq!(State::parse("something else\nbusy 1 2\n"), State::default());
    }

    #[test]
    fn sessions_spread_over_engines_and_share_their_time() {
        let b = Book::new(None);
        let engines: Vec<u32> = (0..4).map(|i| b.open(2, 0, i).unwrap().unwrap()).collect();
        assert_eq!(engines, [0, 1, 0, 1]);
        assert_eq!(b.open_sessions(2).unwrap(), 4);
        // Two frames on engine 0 queue one after the other; engine 1 runs beside them.
        let t0 = now_ns();
        let a = b.reserve(2, 0, 1_000_000_000).unwrap();
        let c = b.reserve(2, 0, 1_000_000_000).unwrap();
        let d = b.reserve(2, 1, 1_000_000_000).unwrap();
        assert_eq!(c - a, 1_000_000_000);
        assert!(d < c && d >= t0 + 1_000_000_000);
        b.close(2, 0).unwrap();
        b.close(2, 2).unwrap();
        assert_eq!(b.open_sessions(2).unwrap(), 2);
        // With engine 0 free again, the next session goes there.
        assert_eq!(b.open(2, 0, 9).unwrap(), Ok(0));
    }

    #[test]
    fn no_engine_and_the_session_limit_refuse() {
        let b = Book::new(None);
        assert_eq!(b.open(0, 0, 1).unwrap(), Err(Refusal::NoEngine));
        assert_eq!(b.open(2, 2, 1).unwrap(), Ok(0));
        assert_eq!(b.open(2, 2, 2).unwrap(), Ok(1));
        assert_eq!(
            b.open(2, 2, 3).unwrap(),
            Err(Refusal::SessionLimit { open: 2, max: 2 })
        );
    }

    /// Through the file: a session of a process that no longer exists is dropped.
    #[test]
    fn sessions_of_dead_processes_are_dropped() {
        let dir = std::env::temp_dir().join(format!("gpugate-sim-engines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nvenc-gpu0");
        // A child that has exited: its pid is free (or reused by an unrelated process, which
        // a later check would see alive; the test only needs one dead pid).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(
            &path,
            format!("{HEADER}\nbusy 0 0\nsession {dead} 1 0\nsession {dead} 2 1\n"),
        )
        .unwrap();
        let b = Book::new(Some(path.clone()));
        assert_eq!(b.open_sessions(2).unwrap(), 0);
        assert_eq!(b.open(2, 1, 5).unwrap(), Ok(0));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("session {} 5 0", std::process::id())),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
