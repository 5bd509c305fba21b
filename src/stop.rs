//! Stopping a run early: SIGINT and SIGTERM ask the run to stop at its next safe point.
//!
//! The binary calls [`install_signal_handlers`]; the handler only records the signal (it is
//! async-signal-safe: an atomic store and a `write(2)`). The pipeline polls [`requested`]
//! between workloads, between samples of a measurement, between the GEMM variants it tunes
//! and while ffmpeg encodes (whose processes it then kills), so it stops within about a
//! second — a single kernel launch already running on the GPU is the exception: it finishes
//! first. What was measured is then written as an incomplete run (`interrupted` in run.json,
//! a banner in every report, a failing `run.complete` check). A second signal ends the
//! process at once (exit 128 + the signal number); run.json, written atomically after every
//! workload, stays whole.
//!
//! The flag is process-wide, as signals are.

use std::sync::atomic::{AtomicI32, Ordering};

/// 0 while the run may go on; else the number of the signal that asked it to stop.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Whether the run was asked to stop.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::Relaxed) != 0
}

/// The name of the signal that asked the run to stop ("SIGINT", "SIGTERM"), if one did.
pub fn signal_name() -> Option<&'static str> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => Some("a signal"),
    }
}

/// Asks the run to stop, as the signal `signo` does (for a caller that is not a signal
/// handler; tests use it).
pub fn request(signo: i32) {
    let _ = SIGNAL.compare_exchange(0, signo, Ordering::Relaxed, Ordering::Relaxed);
}

extern "C" fn on_signal(signo: libc::c_int) {
    if SIGNAL
        .compare_exchange(0, signo, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        // The second signal: the user wants out now.
        const MSG: &[u8] = b"\ngpugate: stopped at once (second signal)\n";
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(128 + signo);
        }
    }
    const MSG: &[u8] = b"\ngpugate: stopping at the next safe point and writing what was \
        measured (an incomplete run); send the signal again to quit at once\n";
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
    }
}

/// Makes SIGINT and SIGTERM ask the run to stop instead of killing the process.
pub fn install_signal_handlers() {
    for signo in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only touches an atomic and calls
        // async-signal-safe functions; SA_RESTART keeps interrupted system calls going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signo, &action, std::ptr::null_mut());
        }
    }
}
