//! Links the simulator's shared library with `-Bsymbolic`: its own calls between its exported
//! entry points (an NVML entry point calling its newer twin, cuBLAS calling the driver) bind to
//! its own definitions when it is linked, never through the dynamic symbol table. The launcher
//! hides the entry points an old driver lacks by renaming them in that table (`src/elf.rs`); a
//! reference by name from inside the library would then make the whole library fail to load.
//! Whether the compiler emits such references depends on inlining (the release build did, for
//! `nvmlDeviceGetCurrentClocksEventReasons`, the test build did not).

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-Bsymbolic");
    println!("cargo:rerun-if-changed=build.rs");
}
