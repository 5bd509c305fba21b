//! Driver and ISA selection: which build of each kernel family a device and its driver's PTX JIT
//! both take, and why a kernel or a GEMM path cannot run when none does.

use super::{
    cuda_version_string, gemm_variants_in, max_ptx_isa, min_driver_for_isa, GemmKernel,
    KernelModule, KernelRef, MODULES,
};
use crate::model::spec::{GemmMath, Precision};

/// for a device that reports no driver (test doubles that run no PTX).
pub const ANY_DRIVER: u32 = u32::MAX;

/// "a driver for CUDA 12.0 or newer (R525+)": the oldest driver whose JIT accepts PTX ISA `isa`.
pub fn driver_needed(isa: &str) -> String {
    match min_driver_for_isa(isa) {
        Some((v, branch)) => format!(
            "a driver for CUDA {} or newer ({branch}+)",
            cuda_version_string(v)
        ),
        None => format!("a driver newer than any gpugate knows (PTX ISA {isa})"),
    }
}

/// "CUDA 10.0 (R410+)": the oldest driver whose JIT accepts PTX ISA `isa`, when known.
pub fn min_driver_label(isa: &str) -> Option<String> {
    min_driver_for_isa(isa)
        .map(|(v, branch)| format!("CUDA {} ({branch}+)", cuda_version_string(v)))
}

/// "this driver (CUDA 11.4) accepts PTX ISA up to 7.4".
pub fn driver_accepts(driver: u32) -> String {
    match max_ptx_isa(driver).as_str() {
        "unknown" => format!(
            "this driver (CUDA {}) is older than CUDA 9.0, the oldest whose PTX JIT gpugate knows",
            cuda_version_string(driver)
        ),
        max => format!(
            "this driver (CUDA {}) accepts PTX ISA up to {max}",
            cuda_version_string(driver)
        ),
    }
}

/// What a device of compute capability `cc` on a driver for CUDA `driver` loads of one kernel
/// family: the highest build both can take, or none, and the builds the driver refused.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyChoice<'a> {
    pub family: &'static str,
    pub cc: (u32, u32),
    pub driver: u32,
    /// Every build of the family, lowest `min_cc` first.
    pub builds: Vec<&'a KernelModule>,
    /// The build that loads: the highest the device supports whose PTX ISA the driver accepts.
    pub loaded: Option<&'a KernelModule>,
    /// The highest build the device supports, whatever the driver (None: the device is older
    /// than every build).
    pub best: Option<&'a KernelModule>,
}

impl<'a> FamilyChoice<'a> {
    /// The best build for the device, when the driver's JIT refused it (a lower build, or none,
    /// loads instead).
    pub fn refused(&self) -> Option<&'a KernelModule> {
        match (self.best, self.loaded) {
            (Some(b), Some(l)) if std::ptr::eq(b, l) => None,
            (b, _) => b,
        }
    }

    /// The lowest build the device supports (what the driver must take for anything of the
    /// family to run).
    pub fn lowest_for_device(&self) -> Option<&'a KernelModule> {
        self.builds.iter().copied().find(|m| m.min_cc <= self.cc)
    }

    /// Why this family loads a lower build than the device's best, or none; None when it loads
    /// its best build. One sentence, e.g. "gemm: compute_70 build loaded instead of
    /// compute_80: the driver's JIT accepts up to PTX ISA 6.4; compute_80 needs 7.0 (R450+)".
    pub fn reason(&self) -> Option<String> {
        let refused = self.refused()?;
        let (family, driver) = (self.family, self.driver);
        Some(match (self.loaded, self.lowest_for_device()) {
            (Some(l), _) => format!(
                "{family}: {} build loaded instead of {}: the driver's JIT accepts up to PTX ISA \
                 {}; {} needs {} ({}+)",
                l.target,
                refused.target,
                max_ptx_isa(driver),
                refused.target,
                refused.ptx_isa,
                refused.min_driver().map_or("a newer driver", |(_, b)| b),
            ),
            (None, Some(low)) if std::ptr::eq(low, refused) => format!(
                "the driver is too old for kernel module '{family}' ({}, PTX ISA {}): it needs \
                 {}; {}",
                low.target,
                low.ptx_isa,
                driver_needed(low.ptx_isa),
                driver_accepts(driver)
            ),
            (None, Some(low)) => format!(
                "the driver is too old for every build of kernel module '{family}' this GPU can \
                 run: the lowest, {} (PTX ISA {}), needs {}, and {} (PTX ISA {}), the best for \
                 this GPU, needs {}; {}",
                low.target,
                low.ptx_isa,
                driver_needed(low.ptx_isa),
                refused.target,
                refused.ptx_isa,
                driver_needed(refused.ptx_isa),
                driver_accepts(driver)
            ),
            (None, None) => unreachable!("a refused build is one the device supports"),
        })
    }

    /// Why nothing of this family loads on the device (driver or device too old); None when a
    /// build loads.
    pub fn unavailable(&self) -> Option<String> {
        if self.loaded.is_some() {
            return None;
        }
        if self.best.is_none() {
            let lowest = self.builds.first().map_or("none", |m| m.target);
            return Some(format!(
                "compute capability {}.{} is below every build of kernel module '{}' (lowest: \
                 {lowest}); gpugate cannot run it on this GPU",
                self.cc.0, self.cc.1, self.family
            ));
        }
        self.reason()
    }

    /// The record of this choice for device `device` (run.json, `gpugate info --json`).
    pub fn record(&self, device: u32) -> crate::model::ModuleChoice {
        let refused = self.refused();
        crate::model::ModuleChoice {
            device,
            module: self.family.to_string(),
            target: self.loaded.map(|m| m.target.to_string()),
            ptx_isa: self.loaded.map(|m| m.ptx_isa.to_string()),
            min_driver: self.loaded.and_then(|m| min_driver_label(m.ptx_isa)),
            refused: refused.map(|m| m.target.to_string()),
            refused_ptx_isa: refused.map(|m| m.ptx_isa.to_string()),
            refused_min_driver: refused.and_then(|m| min_driver_label(m.ptx_isa)),
            reason: self.unavailable().or_else(|| self.reason()),
        }
    }

    /// Why `what` (a kernel, or a GEMM path), which is first in build `first` of this family, does
    /// not run here; None when the loaded build has it (`first` at or below the loaded one).
    pub fn missing(&self, what: &str, first: &KernelModule) -> Option<String> {
        if let Some(l) = self.loaded {
            if first.min_cc <= l.min_cc {
                return None;
            }
        }
        if first.min_cc > self.cc {
            return Some(format!(
                "{what} needs compute capability {}.{} or later (the {} build of kernel module \
                 '{}'); this device has {}.{}",
                first.min_cc.0, first.min_cc.1, first.target, self.family, self.cc.0, self.cc.1
            ));
        }
        Some(match self.loaded {
            None => format!(
                "{what} cannot run: {}",
                self.unavailable().unwrap_or_default()
            ),
            Some(l) => format!(
                "{what} is only in the {} build of kernel module '{}' and later, and the driver \
                 is too old for it: {} declares PTX ISA {} and needs {}; {} (the {} build was \
                 loaded instead)",
                first.target,
                self.family,
                first.target,
                first.ptx_isa,
                driver_needed(first.ptx_isa),
                driver_accepts(self.driver),
                l.target
            ),
        })
    }
}

/// For every kernel family in `modules` (alphabetical), what a device of compute capability
/// `cc` on a driver for CUDA `driver` (as `cuDriverGetVersion` numbers it) loads: per family,
/// the highest build the device supports (`min_cc <= cc`) whose PTX ISA the driver's JIT
/// accepts. A pure function: the loader, `gpugate info` and the tests all use it.
pub fn select_modules(
    modules: &[KernelModule],
    cc: (u32, u32),
    driver: u32,
) -> Vec<FamilyChoice<'_>> {
    let mut families: Vec<&'static str> = modules.iter().map(|m| m.name).collect();
    families.sort_unstable();
    families.dedup();
    families
        .into_iter()
        .map(|family| {
            let mut builds: Vec<&KernelModule> =
                modules.iter().filter(|m| m.name == family).collect();
            builds.sort_by_key(|m| m.min_cc);
            let on_device = || builds.iter().rev().copied().filter(|m| m.min_cc <= cc);
            let best = on_device().next();
            let loaded = on_device().find(|m| m.loads_on_driver(driver));
            FamilyChoice {
                family,
                cc,
                driver,
                loaded,
                best,
                builds,
            }
        })
        .collect()
}

/// What one device loaded (or would load) of every kernel family: [`select_modules`] over
/// [`MODULES`], with the questions the workloads ask of it.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelSet {
    pub families: Vec<FamilyChoice<'static>>,
}

impl KernelSet {
    /// The choice for a device of compute capability `cc` on a driver for CUDA `driver`.
    pub fn select(cc: (u32, u32), driver: u32) -> Self {
        KernelSet {
            families: select_modules(MODULES, cc, driver),
        }
    }

    /// The choice by compute capability alone ([`ANY_DRIVER`]).
    pub fn for_cc(cc: (u32, u32)) -> Self {
        Self::select(cc, ANY_DRIVER)
    }

    pub fn family(&self, name: &str) -> Option<&FamilyChoice<'static>> {
        self.families.iter().find(|f| f.family == name)
    }

    /// The build of `family` that is loaded.
    pub fn loaded(&self, family: &str) -> Option<&'static KernelModule> {
        self.family(family).and_then(|f| f.loaded)
    }

    /// Whether the loaded build of its family has this kernel.
    pub fn has(&self, k: KernelRef) -> bool {
        self.loaded(k.module)
            .is_some_and(|m| m.entries.contains(&k.entry))
    }

    /// Why `k` cannot run here (device or driver too old, in the words of
    /// [`FamilyChoice::missing`]); None when it is loaded. `what` names it in the message.
    pub fn why_not(&self, k: KernelRef, what: &str) -> Option<String> {
        if self.has(k) {
            return None;
        }
        let Some(f) = self.family(k.module) else {
            return Some(format!("{what}: no kernel module '{}' exists", k.module));
        };
        match f.builds.iter().find(|m| m.entries.contains(&k.entry)) {
            Some(first) => f.missing(what, first),
            None => Some(format!(
                "{what}: kernel '{}' is in no build of module '{}'",
                k.entry, k.module
            )),
        }
    }

    /// The GEMM variants of a precision and math in the loaded `gemm` build, in table order (the
    /// first is the default before tuning). Empty when the device or the driver has no such
    /// path.
    pub fn gemm_variants(&self, p: Precision, math: GemmMath) -> Vec<GemmKernel> {
        self.loaded("gemm")
            .map(|m| gemm_variants_in(p, math, m))
            .unwrap_or_default()
    }

    /// Why a GEMM of this precision and math cannot run here; None when the loaded build has a
    /// variant of it.
    pub fn why_no_gemm(&self, p: Precision, math: GemmMath) -> Option<String> {
        if !self.gemm_variants(p, math).is_empty() {
            return None;
        }
        let what = format!("{} GEMM on the {}", p.gemm_label(), math.label());
        let f = self.family("gemm")?;
        let first = f
            .builds
            .iter()
            .find(|m| !gemm_variants_in(p, math, m).is_empty())?;
        f.missing(&what, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{gemm_maths, gemm_variant, gemm_variants_for, stream_kernel, SGEMM};
    use crate::model::spec::StreamOp;

    /// A module table shaped like today's: gemm for compute_52/70/80, stream for compute_52,
    /// with the given PTX ISA versions (gemm 52, 70, 80, stream 52).
    fn table(isas: [&'static str; 4]) -> Vec<KernelModule> {
        let m = |name, target, min_cc, ptx_isa| KernelModule {
            name,
            target,
            min_cc,
            ptx_isa,
            ptx: "",
            entries: &[],
        };
        vec![
            m("gemm", "compute_52", (5, 2), isas[0]),
            m("gemm", "compute_70", (7, 0), isas[1]),
            m("gemm", "compute_80", (8, 0), isas[2]),
            m("stream", "compute_52", (5, 2), isas[3]),
        ]
    }

    const TODAY: [&str; 4] = ["4.1", "6.3", "7.0", "6.0"];
    type Cc = (u32, u32);
    type Target = Option<&'static str>;

    /// (family, loaded target or None) per family, in the selection's order.
    fn loaded<'a>(choices: &[FamilyChoice<'a>]) -> Vec<(&'static str, Option<&'static str>)> {
        choices
            .iter()
            .map(|c| (c.family, c.loaded.map(|m| m.target)))
            .collect()
    }

    #[test]
    fn selection_takes_the_highest_build_device_and_driver_both_accept() {
        let today = table(TODAY);
        assert_eq!(
            today.iter().map(|m| m.ptx_isa).collect::<Vec<_>>(),
            MODULES
                .iter()
                .filter(|m| !["video", "memtest", "compare"].contains(&m.name))
                .map(|m| m.ptx_isa)
                .collect::<Vec<_>>(),
            "the synthetic table is today's (gemm and stream; video, memtest and compare are compute_52 only, like stream)"
        );
        let (m40, v100, a100, h100) = ((5, 2), (7, 0), (8, 0), (9, 0));
        let c52 = Some("compute_52");
        let c70 = Some("compute_70");
        let c80 = Some("compute_80");
        #[rustfmt::skip]
        let cases: &[(Cc, u32, Target, Target)] = &[
            // device, driver, gemm, stream
            (m40, 9000, c52, c52),   // R384: ISA 6.0
            (m40, 10010, c52, c52),  // R418: 6.4
            (m40, 11000, c52, c52),  // R450: 7.0
            (m40, 11040, c52, c52),  // R470: 7.4
            (m40, 12000, c52, c52),  // R525: 8.0
            (v100, 9020, c52, c52),  // R396 (6.2) is below wmma .aligned (6.3)
            (v100, 10000, c70, c52), // R410: 6.3
            (a100, 10010, c70, c52), // R418: compute_80 (7.0) is too new, compute_70 is not
            (a100, 10020, c70, c52), // R440: 6.5
            (a100, 11000, c80, c52), // R450: 7.0
            (h100, 11040, c80, c52),
            (h100, 12040, c80, c52),
        ];
        for &(cc, driver, gemm, stream) in cases {
            let got = select_modules(&today, cc, driver);
            assert_eq!(
                loaded(&got),
                vec![("gemm", gemm), ("stream", stream)],
                "{cc:?} on {driver}"
            );
            // The best build is what the compute capability alone would pick.
            for c in &got {
                assert_eq!(
                    c.best.map(|m| m.target),
                    today
                        .iter()
                        .filter(|m| m.name == c.family && m.min_cc <= cc)
                        .max_by_key(|m| m.min_cc)
                        .map(|m| m.target)
                );
                assert!(c.unavailable().is_none(), "{cc:?} on {driver}");
            }
        }
        // The loaded build is the best one: nothing to say.
        for c in select_modules(&today, m40, 10010) {
            assert_eq!(c.reason(), None);
            assert_eq!(c.refused(), None);
        }
        // An A100 on R418 falls back to compute_70, and says why in one sentence.
        let got = select_modules(&today, a100, 10010);
        assert_eq!(got[0].refused().map(|m| m.target), Some("compute_80"));
        assert_eq!(
            got[0].reason().unwrap(),
            "gemm: compute_70 build loaded instead of compute_80: the driver's JIT accepts up to \
             PTX ISA 6.4; compute_80 needs 7.0 (R450+)"
        );
        assert_eq!(got[1].reason(), None);
        // The same, through KernelSet over the real table.
        let set = KernelSet::select(a100, 10010);
        assert_eq!(set.loaded("gemm").map(|m| m.target), Some("compute_70"));
        assert_eq!(
            KernelSet::select(a100, 11000)
                .loaded("gemm")
                .map(|m| m.target),
            c80
        );
        assert_eq!(
            KernelSet::for_cc(h100).loaded("gemm").map(|m| m.target),
            c80
        );
    }

    #[test]
    fn a_module_too_new_for_the_driver_refuses_its_family_only() {
        // stream patched to PTX ISA 8.0, on an R470 driver (CUDA 11.4, ISA 7.4).
        let patched = table(["4.1", "6.3", "7.0", "8.0"]);
        let got = select_modules(&patched, (5, 2), 11040);
        assert_eq!(
            loaded(&got),
            vec![("gemm", Some("compute_52")), ("stream", None)]
        );
        assert!(got[0].unavailable().is_none());
        let why = got[1].unavailable().expect("stream refused");
        assert_eq!(
            why,
            "the driver is too old for kernel module 'stream' (compute_52, PTX ISA 8.0): it \
             needs a driver for CUDA 12.0 or newer (R525+); this driver (CUDA 11.4) accepts PTX \
             ISA up to 7.4"
        );
        let rec = got[1].record(3);
        assert_eq!((rec.device, rec.module.as_str()), (3, "stream"));
        assert_eq!(
            (rec.target, rec.refused.as_deref()),
            (None, Some("compute_52"))
        );
        assert_eq!(rec.refused_min_driver.as_deref(), Some("CUDA 12.0 (R525+)"));
        assert_eq!(rec.reason.as_deref(), Some(why.as_str()));
        // gemm's compute_80 patched to 8.0 on an A100 with R470: compute_70 loads instead,
        // naming R525; stream is unaffected.
        let patched = table(["4.1", "6.3", "8.0", "6.0"]);
        let got = select_modules(&patched, (8, 0), 11040);
        assert_eq!(
            loaded(&got),
            vec![("gemm", Some("compute_70")), ("stream", Some("compute_52"))]
        );
        let why = got[0].reason().unwrap();
        assert!(why.contains("compute_80 needs 8.0 (R525+)"), "{why}");
        assert!(why.contains("up to PTX ISA 7.4"), "{why}");
    }

    #[test]
    fn an_old_device_or_an_old_driver_loads_nothing_and_says_why() {
        let today = table(TODAY);
        // Kepler (sm_37): below every build, whatever the driver.
        let got = select_modules(&today, (3, 7), 12040);
        assert_eq!(loaded(&got), vec![("gemm", None), ("stream", None)]);
        for c in &got {
            assert!(c.best.is_none() && c.refused().is_none() && c.reason().is_none());
            let why = c.unavailable().unwrap();
            assert!(
                why.contains("compute capability 3.7 is below every build")
                    && why.contains(&format!("'{}'", c.family))
                    && why.contains("compute_52"),
                "{why}"
            );
        }
        // A CUDA 8.0 driver is older than every PTX ISA gpugate knows: nothing loads, and each
        // family names the driver its lowest build needs.
        let got = select_modules(&today, (5, 2), 8000);
        assert_eq!(loaded(&got), vec![("gemm", None), ("stream", None)]);
        let why = got[0].unavailable().unwrap();
        assert_eq!(
            why,
            "the driver is too old for kernel module 'gemm' (compute_52, PTX ISA 4.1): it needs \
             a driver for CUDA 9.0 or newer (R384+); this driver (CUDA 8.0) is older than CUDA \
             9.0, the oldest whose PTX JIT gpugate knows"
        );
        // On an A100 it names both the lowest build and the best one.
        let got = select_modules(&today, (8, 0), 8000);
        let why = got[0].unavailable().unwrap();
        assert!(
            why.contains("every build of kernel module 'gemm' this GPU can run")
                && why.contains("compute_52 (PTX ISA 4.1), needs a driver for CUDA 9.0 or newer (R384+)")
                && why.contains("compute_80 (PTX ISA 7.0), the best for this GPU, needs a driver for CUDA 11.0 or newer (R450+)"),
            "{why}"
        );
        // An empty table selects nothing.
        assert!(select_modules(&[], (9, 0), 12000).is_empty());
    }

    #[test]
    fn the_kernels_offered_follow_the_build_loaded() {
        use GemmMath::{CudaCores, TensorCores};
        let a100 = (8, 0);
        // R418: compute_70 loaded. Register-pipelined SGEMM/DGEMM and HGEMM on the tensor cores
        // (wmma) are there; the cp.async pipelines and DMMA are not.
        let old = KernelSet::select(a100, 10010);
        assert_eq!(old.gemm_variants(Precision::F32, CudaCores).len(), 4);
        assert_eq!(old.gemm_variants(Precision::F64, CudaCores).len(), 4);
        assert!(old.gemm_variants(Precision::F64, TensorCores).is_empty());
        assert_eq!(old.gemm_variants(Precision::F16, TensorCores).len(), 2);
        assert!(old.why_no_gemm(Precision::F32, CudaCores).is_none());
        let why = old.why_no_gemm(Precision::F64, TensorCores).unwrap();
        assert_eq!(
            why,
            "FP64 GEMM on the tensor cores is only in the compute_80 build of kernel module \
             'gemm' and later, and the driver is too old for it: compute_80 declares PTX ISA 7.0 \
             and needs a driver for CUDA 11.0 or newer (R450+); this driver (CUDA 10.1) accepts \
             PTX ISA up to 6.4 (the compute_70 build was loaded instead)"
        );
        let s4 = gemm_variant("sgemm_f32_128x128x8_t8x8_s4").unwrap();
        assert!(!old.has(s4.kernel) && old.has(SGEMM.kernel));
        assert!(old
            .why_not(s4.kernel, s4.kernel.entry)
            .unwrap()
            .contains("R450+"));
        assert_eq!(old.why_not(SGEMM.kernel, "x"), None);
        let triad = stream_kernel(StreamOp::Triad, Precision::F64).unwrap();
        assert_eq!(old.why_not(triad, "triad"), None);
        // R450: everything the A100 runs.
        let new = KernelSet::select(a100, 11000);
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            for math in gemm_maths(p, a100) {
                assert_eq!(new.gemm_variants(p, math), gemm_variants_for(p, math, a100));
                assert!(new.why_no_gemm(p, math).is_none());
            }
        }
        // A path the device itself lacks is a compute-capability reason, not a driver one.
        let m40 = KernelSet::select((5, 2), 12000);
        let why = m40.why_no_gemm(Precision::F64, TensorCores).unwrap();
        assert!(
            why.contains("compute capability 8.0") && why.contains("5.2"),
            "{why}"
        );
        // Nothing of a family loaded: every kernel of it says why.
        let ancient = KernelSet::select((5, 2), 8000);
        let why = ancient.why_not(triad, "stream triad (f64)").unwrap();
        assert!(
            why.starts_with("stream triad (f64) cannot run: the driver is too old")
                && why.contains("R384+"),
            "{why}"
        );
    }
}
