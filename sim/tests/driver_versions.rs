//! Simulated driver releases (`--driver`): the version a driver reports, the PTX ISA it accepts,
//! the device attributes it knows, and the entry points it lacks — hidden from the library the
//! launcher hands out, so that `dlsym` finds nothing, as on the real old driver.

mod driver_common;

use std::ffi::{c_char, CStr, CString};
use std::path::PathBuf;
use std::process::Command;

use driver_common::*;
use gpugate_sim::{config, driver_releases, elf, nvml};

const BIN: &str = env!("CARGO_BIN_EXE_gpugate-sim");

/// The simulator library cargo built for these tests (as the launcher finds it).
fn library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [
        deps.join("libgpugate_sim.so"),
        deps.join("../libgpugate_sim.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .expect("libgpugate_sim.so beside the test executable")
}

/// dlopen's view of a library file: which of `names` it exports.
fn exported(path: &std::path::Path, names: &[&str]) -> Vec<bool> {
    let p = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: dlopen of a shared object built from this crate; nothing in it is called.
    let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!h.is_null(), "dlopen {}", path.display());
    let found = names
        .iter()
        .map(|n| {
            let c = CString::new(*n).unwrap();
            // SAFETY: a valid handle and a NUL-terminated name.
            !unsafe { libc::dlsym(h, c.as_ptr()) }.is_null()
        })
        .collect();
    // SAFETY: the handle came from dlopen above.
    unsafe { libc::dlclose(h) };
    found
}

#[test]
fn hidden_symbols_are_not_found_and_the_others_are() {
    let lib = library();
    let bytes = std::fs::read(&lib).unwrap();
    let hide = driver_releases::missing_entry_points(10010);
    let patched = elf::hide_symbols(&bytes, &hide).unwrap();
    assert_eq!(patched.len(), bytes.len());
    let dir = tempfile_dir("hide");
    let out = dir.join("libcuda.so.1");
    std::fs::write(&out, &patched).unwrap();
    let keep = [
        "cuInit",
        "cuDevicePrimaryCtxRelease",
        "cuDeviceGetUuid",
        "nvmlInit_v2",
    ];
    assert_eq!(
        exported(&lib, &hide),
        vec![true; hide.len()],
        "the original has them all"
    );
    assert_eq!(exported(&out, &hide), vec![false; hide.len()]);
    assert_eq!(exported(&out, &keep), vec![true; keep.len()]);
    // A name that is not a whole entry of the table is refused, not half-renamed.
    let e = elf::hide_symbols(&bytes, &["cuDevicePrimaryCtx"]).unwrap_err();
    assert!(e.0.contains("0 times"), "{e}");
    // The names stay; only the symbols' binding and visibility change.
    let before = elf::dynamic_symbols(&bytes).unwrap();
    let after = elf::dynamic_symbols(&patched).unwrap();
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.name, b.name);
        assert_eq!(
            a.visible,
            b.visible && !hide.contains(&b.name.as_str()),
            "{}",
            a.name
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Every simulated driver release, in the build profile these tests run in (the release build
/// too, where the compiler may call one entry point from another through the PLT): the copy the
/// launcher would hand out loads with every relocation bound at once (`RTLD_NOW`), finds none of
/// the entry points that release lacked, and an entry point it has that calls one it lacks
/// (NVML's pre-R535 throttle-reasons name calls the clocks-event-reasons one) still works.
#[test]
fn every_driver_release_loads_and_what_it_lacks_still_works_inside() {
    let bytes = std::fs::read(library()).unwrap();
    let dir = tempfile_dir("releases");
    let mut tried = 0;
    for r in driver_releases::RELEASES {
        let hide = driver_releases::missing_entry_points(r.cuda_version);
        if hide.is_empty() {
            continue;
        }
        let patched = elf::hide_symbols(&bytes, &hide).unwrap();
        let path = dir.join(format!("libcuda-r{}.so.1", r.branch));
        std::fs::write(&path, &patched).unwrap();
        let p = CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: dlopen of a copy of this crate's own shared object.
        let h = unsafe { libc::dlopen(p.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(
            !h.is_null(),
            "R{}: {}",
            r.branch,
            // SAFETY: dlerror returns a NUL-terminated message after a failed dlopen.
            unsafe { CStr::from_ptr(libc::dlerror()) }.to_string_lossy()
        );
        let sym = |n: &str| {
            let c = CString::new(n).unwrap();
            // SAFETY: a valid handle and a NUL-terminated name.
            unsafe { libc::dlsym(h, c.as_ptr()) }
        };
        for n in &hide {
            assert!(sym(n).is_null(), "R{} still exports {n}", r.branch);
        }
        if hide.contains(&"nvmlDeviceGetCurrentClocksEventReasons") {
            type Init = unsafe extern "C" fn() -> nvml::NvmlReturn;
            type Handle = unsafe extern "C" fn(u32, *mut *mut std::ffi::c_void) -> nvml::NvmlReturn;
            type Reasons =
                unsafe extern "C" fn(*mut std::ffi::c_void, *mut u64) -> nvml::NvmlReturn;
            let (init, handle, reasons) = (
                sym("nvmlInit_v2"),
                sym("nvmlDeviceGetHandleByIndex_v2"),
                sym("nvmlDeviceGetCurrentClocksThrottleReasons"),
            );
            assert!(!init.is_null() && !handle.is_null() && !reasons.is_null());
            // SAFETY: the entry points have these C signatures (NVML's API reference).
            unsafe {
                let init: Init = std::mem::transmute(init);
                let handle: Handle = std::mem::transmute(handle);
                let reasons: Reasons = std::mem::transmute(reasons);
                assert_eq!(init(), nvml::NVML_SUCCESS, "R{}", r.branch);
                let mut dev = std::ptr::null_mut();
                assert_eq!(handle(0, &mut dev), nvml::NVML_SUCCESS, "R{}", r.branch);
                let mut mask = u64::MAX;
                assert_eq!(reasons(dev, &mut mask), nvml::NVML_SUCCESS, "R{}", r.branch);
                assert_ne!(mask, u64::MAX, "R{}: the mask was written", r.branch);
            }
            tried += 1;
        }
        // The copies stay loaded: each holds its own state, and unloading a Rust cdylib that
        // started threads is not safe.
    }
    assert!(
        tried >= 5,
        "the throttle-reasons forwarding was tried on {tried} releases"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir(what: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gpugate-sim-driver-versions-{}-{what}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_launcher_hands_out_an_r418_library_and_refuses_an_unknown_driver() {
    let out = Command::new(BIN)
        .args(["--driver", "R418", "--", "env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(env.contains("GPUGATE_SIM_DRIVER=R418"), "{env}");
    let path = env
        .lines()
        .find_map(|l| l.strip_prefix("LD_LIBRARY_PATH="))
        .unwrap();
    let dir = PathBuf::from(path.split(':').next().unwrap());
    assert!(
        dir.to_str().unwrap().ends_with("-cuda10010-cublas12"),
        "{}",
        dir.display()
    );
    let target = std::fs::canonicalize(dir.join("libcuda.so.1")).unwrap();
    assert_eq!(target, dir.join("libgpugate_sim.so"));
    // A later launch hands out the very same file, never a rewritten copy: a process that
    // loaded libcuda.so.1 and later loads libcublas.so.12 by name must get one object (a copy
    // replaced in between gave it two simulators that shared nothing).
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&target).unwrap().ino();
    let again = Command::new(BIN)
        .args(["--driver", "R418", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::metadata(&target).unwrap().ino(), inode);
    for name in ["libcuda.so", "libnvidia-ml.so.1", "libcublas.so.12"] {
        assert_eq!(
            std::fs::canonicalize(dir.join(name)).unwrap(),
            target,
            "{name}"
        );
    }
    assert_eq!(
        exported(
            &target,
            &["cuInit", "cuDevicePrimaryCtxRelease_v2", "cuMemAllocAsync"]
        ),
        [true, false, false]
    );
    // A current driver gets the library itself.
    let out = Command::new(BIN).args(["--", "env"]).output().unwrap();
    let env = String::from_utf8_lossy(&out.stdout);
    assert!(!env.contains("GPUGATE_SIM_DRIVER="), "{env}");
    for bad in ["419", "x", "470.a"] {
        let out = Command::new(BIN)
            .args(["--driver", bad, "--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--driver"),
            "{bad}"
        );
    }
}

/// In-process: an A100 on an R418 driver (CUDA 10.1, PTX ISA 6.4).
#[test]
fn an_r418_driver_reports_its_version_and_refuses_newer_attributes_and_ptx() {
    let mut cfg = config::Config::build(&["a100".into()], &[]).unwrap();
    cfg.driver = Some(driver_releases::parse("418").unwrap());
    assert!(config::install_for_tests(cfg));
    init();
    let mut v = 0;
    ok(unsafe { cuDriverGetVersion(&mut v) });
    assert_eq!(v, 10010);
    let mut x = 0;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(
            cuDeviceGetAttribute(&mut x, 115, 0),
            CUresult::CUDA_ERROR_INVALID_VALUE,
            "memory pools came with CUDA 11.2"
        );
        ok(cuDeviceGetAttribute(&mut x, 16, 0));
    }
    assert_eq!(x, 108, "SMs");
    let ctx = new_ctx(0);
    // A module at ISA 6.4 loads; 6.5 does not.
    let ptx = |isa: &str| {
        format!(
            ".version {isa}\n.target sm_80\n.address_size 64\n.visible .entry k()\n{{\n\tret;\n}}\n"
        )
    };
    assert!(load_ptx(&ptx("6.4")).is_ok());
    let e = load_ptx(&ptx("6.5")).unwrap_err();
    assert_eq!(e.0, CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "{}", e.1);
    ok(cuCtxDestroy_v2(ctx));
    // NVML says the same driver.
    assert_eq!(nvml::nvmlInit_v2(), nvml::NVML_SUCCESS);
    let mut buf = [0 as c_char; 96];
    // SAFETY: a 96-byte buffer.
    let r = unsafe { nvml::nvmlSystemGetDriverVersion(buf.as_mut_ptr(), 96) };
    assert_eq!(r, nvml::NVML_SUCCESS);
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(s.to_str().unwrap(), "418.226.00");
}
