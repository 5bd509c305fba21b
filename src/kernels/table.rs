//! The JSON emitter: the kernel table as data (`kernels/table.json`, read by `kernels/build.py`).

use super::{
    referenced_entries, GemmMath, Pipeline, Precision, DGEMM_VARIANTS, HGEMM_VARIANTS, MODULES,
    SGEMM_VARIANTS,
};

/// threads, pipeline stages, blocks per SM and static shared memory.
pub fn table() -> serde_json::Value {
    use serde_json::json;
    let modules: Vec<_> = MODULES
        .iter()
        .map(|m| {
            json!({"name": m.name, "target": m.target, "min_cc": [m.min_cc.0, m.min_cc.1],
                   "ptx_isa": m.ptx_isa, "entries": m.entries})
        })
        .collect();
    let referenced: Vec<_> = referenced_entries()
        .into_iter()
        .map(|(k, cc)| json!({"module": k.module, "entry": k.entry, "min_cc": [cc.0, cc.1]}))
        .collect();
    let variants: Vec<_> = SGEMM_VARIANTS
        .iter()
        .chain(DGEMM_VARIANTS)
        .chain(HGEMM_VARIANTS)
        .map(|k| {
            let kind = match (k.math, k.pipeline) {
                (GemmMath::TensorCores, _) => "tc_variant",
                (GemmMath::CudaCores, Pipeline::Registers) => "variant",
                (GemmMath::CudaCores, Pipeline::CpAsync { .. }) => "async_variant",
            };
            let precision = match k.precision {
                Precision::F32 => "F32",
                Precision::F64 => "F64",
                Precision::F16 => "F16",
            };
            json!({"entry": k.kernel.entry, "kind": kind, "precision": precision,
                   "target": format!("compute_{}{}", k.min_cc.0, k.min_cc.1),
                   "bm": k.bm, "bn": k.bn, "bk": k.bk, "tm": k.tm, "tn": k.tn,
                   "minb": k.min_blocks_per_sm, "stages": k.pipeline.buffers(),
                   "threads": k.threads, "shared": k.shared_bytes()})
        })
        .collect();
    json!({
        "about": "generated from src/kernels/table.rs by `UPDATE_KERNEL_TABLE=1 cargo test -p gpugate \
                  --lib kernels::`; read by kernels/build.py; do not edit",
        "modules": modules,
        "referenced": referenced,
        "gemm_variants": variants,
    })
}
#[cfg(test)]
mod tests {
    /// kernels/table.json is what gpugate emits: build.py reads the table from there, never
    /// from this source file. `UPDATE_KERNEL_TABLE=1` rewrites it.
    #[test]
    fn the_committed_kernel_table_is_what_gpugate_emits() {
        let path = crate::repo_path("kernels/table.json");
        let want = serde_json::to_string_pretty(&super::table()).unwrap() + "\n";
        if std::env::var_os("UPDATE_KERNEL_TABLE").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "kernels/table.json is stale: run `UPDATE_KERNEL_TABLE=1 cargo test -p gpugate --lib \
             kernels::` and commit it"
        );
    }
}
