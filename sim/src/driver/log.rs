//! The simulator's log: one JSON object per line in the file named by `GPUGATE_SIM_LOG`
//! (launches, copies, memsets, module loads, kernel faults), and `gpugate-sim:` lines on
//! stderr for what a user must see (kernel faults, bad configuration).
//!
//! Record shapes (every record has `event` and `gpu`):
//! - `{"event":"launch","gpu":0,"kernel":"…","grid":[x,y,z],"block":[x,y,z],
//!   "dynamic_shared_bytes":n,"stream":"0x…","stats":{…LaunchStats…},"seconds":s,
//!   "start":t0,"end":t1,"bound":"fp32|fp64|fp64_tensor|fp16_tensor|memory|issue|overhead",
//!   "error":null|{"code":"CUDA_ERROR_…","log":"…"}}`
//! - `{"event":"copy","gpu":0,"kind":"htod|dtoh|dtod|peer|htoh","bytes":n,"pinned":bool,
//!   "seconds":s,"start":t0,"end":t1,"stream":"0x…"}`
//! - `{"event":"memset","gpu":0,"bytes":n,"seconds":s,…}`
//! - `{"event":"module_load","gpu":0,"entries":[…],"isa":"8.0","target":"sm_52","error":null|…}`

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// Writes a `gpugate-sim: …` line on stderr.
pub fn stderr(msg: &str) {
    let _ = writeln!(std::io::stderr(), "gpugate-sim: {msg}");
}

fn file() -> Option<&'static Mutex<File>> {
    static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = crate::config::get().ok()?.log.clone()?;
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                stderr(&format!(
                    "cannot open the log file {}: {e} (logging is off)",
                    path.display()
                ));
                None
            }
        }
    })
    .as_ref()
}

/// Whether records go anywhere (skip building them otherwise).
pub fn enabled() -> bool {
    file().is_some()
}

/// Appends one record (a JSON object) as one line.
pub fn record(v: Value) {
    if let Some(f) = file() {
        let mut line = v.to_string();
        line.push('\n');
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.write_all(line.as_bytes());
    }
}

/// A handle as the log prints it.
pub fn handle<T>(p: *mut T) -> String {
    format!("{:#x}", p as usize)
}
