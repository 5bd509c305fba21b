//! The PTX front end: text → a checked, compiled [`Module`].
//!
//! INTERFACE CONTRACT (the driver layer codes against exactly this; the implementation behind it
//! may change freely).

use std::sync::Arc;

/// What the loading device and driver accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The device's SM version as PTX spells it: 52 for sm_52, 80 for sm_80, 90 for sm_90.
    pub sm: u32,
    /// The newest PTX ISA the driver's JIT accepts, e.g. (8, 4).
    pub max_isa: (u32, u32),
}

/// Why a module did not load. `kind` picks the CUDA error code; `log` is the JIT error log
/// (what `CU_JIT_ERROR_LOG_BUFFER` receives), naming the line and the construct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// Syntax error, unknown directive or instruction, bad operand, `.target` above the device:
    /// CUDA_ERROR_INVALID_PTX.
    InvalidPtx,
    /// `.version` newer than the driver accepts: CUDA_ERROR_UNSUPPORTED_PTX_VERSION.
    UnsupportedPtxVersion,
}

/// A module-scope variable (`.global` or `.const`) that needs device memory before the module's
/// code can run. The loader asks the driver to place it (see [`Module::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleVar {
    pub name: String,
    pub size: usize,
    pub align: usize,
    /// Initial bytes (`size` long; zeros where the PTX gives no initialiser).
    pub init: Vec<u8>,
    pub constant: bool,
}

/// One kernel parameter as the ABI lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    pub size: usize,
    pub align: usize,
}

/// A loaded module.
pub struct Module {
    _private: (),
}

/// One `.entry` of a loaded module, ready to launch (see [`crate::exec::launch`]).
pub struct Kernel {
    _private: (),
}

impl Module {
    /// Parses and compiles `text`. `place` is called once per module-scope variable, in
    /// declaration order, and returns the device address where the driver put it (after copying
    /// `init` there); an `Err` from it aborts the load and is returned as is.
    pub fn load(
        text: &str,
        opts: &LoadOptions,
        place: &mut dyn FnMut(&ModuleVar) -> Result<u64, LoadError>,
    ) -> Result<Module, LoadError> {
        let _ = (text, opts, place);
        unimplemented!("ptx front end")
    }

    /// The `.version` the module declares.
    pub fn isa(&self) -> (u32, u32) {
        unimplemented!()
    }

    /// The SM of `.target` (52 for sm_52).
    pub fn target_sm(&self) -> u32 {
        unimplemented!()
    }

    /// An entry point by name.
    pub fn kernel(&self, name: &str) -> Option<Arc<Kernel>> {
        let _ = name;
        unimplemented!()
    }

    /// Names of every entry point, in file order.
    pub fn kernel_names(&self) -> Vec<String> {
        unimplemented!()
    }

    /// Module-scope variables with the address each was placed at (for cuModuleGetGlobal).
    pub fn vars(&self) -> Vec<(ModuleVar, u64)> {
        unimplemented!()
    }
}

impl Kernel {
    pub fn name(&self) -> &str {
        unimplemented!()
    }
    pub fn params(&self) -> &[ParamInfo] {
        unimplemented!()
    }
    /// `.maxntid` (x, y, z) when declared.
    pub fn maxntid(&self) -> Option<(u32, u32, u32)> {
        unimplemented!()
    }
    /// `.reqntid` (x, y, z) when declared.
    pub fn reqntid(&self) -> Option<(u32, u32, u32)> {
        unimplemented!()
    }
    /// `.minnctapersm` when declared.
    pub fn min_ctas_per_sm(&self) -> Option<u32> {
        unimplemented!()
    }
    /// Bytes of static `.shared` memory the entry uses.
    pub fn static_shared_bytes(&self) -> u32 {
        unimplemented!()
    }
    /// Bytes of `.local` memory per thread.
    pub fn local_bytes(&self) -> u32 {
        unimplemented!()
    }
    /// Registers per thread as a driver would report them (CU_FUNC_ATTRIBUTE_NUM_REGS): an
    /// estimate, since there is no register allocator here; at most 255.
    pub fn num_regs(&self) -> u32 {
        unimplemented!()
    }
    /// The line of the `.entry` directive in the module text (for logs).
    pub fn line(&self) -> u32 {
        unimplemented!()
    }
}
