//! Every committed PTX module loads, and every entry runs against a host reference.

mod common;

use common::*;
use gpugate_sim::ptx::{LoadErrorKind, LoadOptions, Module};

#[test]
fn every_module_loads_for_its_own_and_higher_targets() {
    for (file, sm) in MODULES {
        let text = ptx_text(file);
        for dev in [52u32, 70, 80, 90] {
            let opts = LoadOptions {
                sm: dev,
                max_isa: (8, 4),
            };
            let r = Module::load(&text, &opts, &mut |_v| Ok(0x1000));
            if dev >= *sm {
                let m = r.unwrap_or_else(|e| panic!("{file} on sm_{dev}: {}", e.log));
                assert!(!m.kernel_names().is_empty());
                assert_eq!(m.target_sm(), *sm);
            } else {
                let e = r.err().expect("must not load below its target");
                assert_eq!(e.kind, LoadErrorKind::InvalidPtx, "{file} on sm_{dev}");
                assert!(
                    e.log.contains("SM version specified by .target is higher"),
                    "{}",
                    e.log
                );
            }
        }
    }
}
