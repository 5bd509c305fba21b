//! The GPU models catalogue (`profiles/gpus.toml`): reference numbers per GPU model, and the
//! matcher that maps a CUDA device name onto an entry.

use serde::{Deserialize, Serialize};

/// The catalogue as embedded in the binary.
pub const CATALOGUE_TOML: &str = include_str!("../../profiles/gpus.toml");

/// Reference numbers of one GPU model. All throughputs are datasheet peaks (boost clock).
/// `fp32_tflops` and `fp64_tflops` are the vector units only (FP32 is not TF32, FP64 is not
/// DMMA); the tensor-core peaks are separate, optional fields, set only where a datasheet or
/// whitepaper states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuModel {
    /// Display name, e.g. "Tesla M40 24GB".
    pub name: String,
    /// Substrings of the CUDA device name that identify the model (case-insensitive, whole
    /// words; the longest matching pattern in the catalogue wins).
    #[serde(rename = "match")]
    pub patterns: Vec<String>,
    pub architecture: String,
    /// "major.minor", e.g. "5.2".
    pub compute_capability: String,
    pub fp32_tflops: f64,
    pub fp64_tflops: f64,
    /// FP64 on the tensor cores (DMMA, sm_80+), dense, TFLOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp64_tensor_tflops: Option<f64>,
    /// FP16 inputs with FP32 accumulate on the tensor cores (sm_70+), dense (not the "with
    /// sparsity" figure), TFLOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16_tensor_tflops: Option<f64>,
    pub memory_gbps: f64,
    pub memory_gb: f64,
    pub pcie_gen: u32,
    pub source: String,
    /// Hardware video encoders (NVENC) on the chip; `Some(0)` = none (A100, H100, H200), None =
    /// not known to the catalogue (never guessed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvenc_engines: Option<u32>,
    /// Where `nvenc_engines` comes from; set exactly when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvenc_source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    gpu: Vec<GpuModel>,
}

impl GpuModel {
    /// The compute capability as (major, minor); (0, 0) when the field does not parse.
    pub fn cc(&self) -> (u32, u32) {
        let mut it = self
            .compute_capability
            .split('.')
            .map(|x| x.trim().parse::<u32>().ok());
        match (it.next().flatten(), it.next().flatten()) {
            (Some(a), Some(b)) => (a, b),
            _ => (0, 0),
        }
    }
}

/// Every model in the embedded catalogue, in file order.
pub fn catalogue() -> Vec<GpuModel> {
    // The file is part of the binary and covered by tests; a parse failure is a build defect.
    toml::from_str::<CatalogueFile>(CATALOGUE_TOML)
        .expect("profiles/gpus.toml is embedded and must parse")
        .gpu
}

/// The catalogue entry for a CUDA device name, if any (the longest matching pattern wins).
pub fn lookup_gpu(name: &str) -> Option<GpuModel> {
    let mut best: Option<(usize, GpuModel)> = None;
    for model in catalogue() {
        let longest = model
            .patterns
            .iter()
            .filter(|p| name_matches(name, p))
            .map(|p| p.len())
            .max();
        if let Some(len) = longest {
            if best.as_ref().is_none_or(|(l, _)| len > *l) {
                best = Some((len, model));
            }
        }
    }
    best.map(|(_, m)| m)
}

/// Whether `pattern` occurs in `name`, case-insensitively, on word boundaries: the characters
/// just before and after the occurrence (if any) are not ASCII letters or digits. So "A10"
/// matches "NVIDIA A10" but not "NVIDIA A100-SXM4-40GB" or "NVIDIA A10G". An empty pattern
/// matches every name.
pub fn name_matches(name: &str, pattern: &str) -> bool {
    let hay = name.to_ascii_lowercase();
    let needle = pattern.trim().to_ascii_lowercase();
    if needle.is_empty() {
        return true;
    }
    let bytes = hay.as_bytes();
    let mut from = 0;
    while let Some(pos) = hay[from..].find(&needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after_ok = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
        while !hay.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_parses_and_has_the_required_models() {
        let cat = catalogue();
        for want in [
            "Tesla M40 24GB",
            "Tesla P40",
            "Tesla P100 PCIe 16GB",
            "Tesla V100 SXM2 16GB",
            "Tesla V100 PCIe 16GB",
            "Tesla T4",
            "NVIDIA A10",
            "NVIDIA A100 SXM4 40GB",
            "NVIDIA A100 SXM4 80GB",
            "NVIDIA L4",
            "NVIDIA L40S",
            "NVIDIA H100 SXM5 80GB",
            "NVIDIA H100 PCIe",
            "NVIDIA H200 SXM",
        ] {
            assert!(cat.iter().any(|m| m.name == want), "missing {want}");
        }
        for m in &cat {
            assert!(m.fp32_tflops > 0.0 && m.fp64_tflops > 0.0, "{}", m.name);
            assert!(m.fp64_tflops <= m.fp32_tflops, "{}", m.name);
            assert!(m.memory_gbps > 0.0 && m.memory_gb > 0.0, "{}", m.name);
            assert!((3..=6).contains(&m.pcie_gen), "{}", m.name);
            assert!(!m.source.is_empty() && !m.patterns.is_empty(), "{}", m.name);
        }
    }

    #[test]
    fn tensor_peaks_only_where_the_architecture_has_them() {
        let cat = catalogue();
        for m in &cat {
            let cc = m.cc();
            assert!(cc >= (5, 0), "{}: compute capability {:?}", m.name, cc);
            if let Some(t) = m.fp64_tensor_tflops {
                // DMMA exists from sm_80 on (A100, H100, H200), and beats the vector FP64 peak.
                assert!(cc >= (8, 0), "{}: FP64 tensor peak on sm_{cc:?}", m.name);
                assert!(t > m.fp64_tflops, "{}", m.name);
                assert!(m.source.contains("FP64 tensor"), "{}: source", m.name);
            }
            if let Some(t) = m.fp16_tensor_tflops {
                assert!(cc >= (7, 0), "{}: FP16 tensor peak on sm_{cc:?}", m.name);
                assert!(t > m.fp32_tflops, "{}", m.name);
                assert!(m.source.contains("FP16 tensor"), "{}: source", m.name);
            }
        }
        let get = |name: &str| cat.iter().find(|m| m.name == name).unwrap();
        assert_eq!(get("Tesla M40 24GB").fp64_tensor_tflops, None);
        assert_eq!(get("Tesla M40 24GB").fp16_tensor_tflops, None);
        assert_eq!(get("Tesla V100 SXM2 16GB").fp64_tensor_tflops, None);
        assert_eq!(get("Tesla V100 SXM2 16GB").fp16_tensor_tflops, Some(125.0));
        assert_eq!(get("NVIDIA A100 SXM4 80GB").fp64_tensor_tflops, Some(19.5));
        assert_eq!(get("NVIDIA H100 SXM5 80GB").fp64_tensor_tflops, Some(66.9));
        assert_eq!(get("NVIDIA H100 PCIe").fp16_tensor_tflops, Some(756.0));
    }

    #[test]
    fn nvenc_engines_from_the_support_matrix_where_known() {
        let cat = catalogue();
        for m in &cat {
            assert_eq!(
                m.nvenc_engines.is_some(),
                m.nvenc_source.is_some(),
                "{}: a count needs its source and a source its count",
                m.name
            );
            if let Some(src) = &m.nvenc_source {
                assert!(src.contains("Support Matrix"), "{}: {src}", m.name);
            }
        }
        let engines = |name: &str| cat.iter().find(|m| m.name == name).unwrap().nvenc_engines;
        let cases = [
            ("Tesla M40 24GB", Some(2)),
            ("Tesla M40", Some(2)),
            ("Tesla P40", Some(2)),
            ("Tesla P100 PCIe 16GB", Some(3)),
            ("Tesla P100 SXM2", Some(3)),
            ("Tesla T4", Some(1)),
            ("NVIDIA A10", Some(1)),
            ("NVIDIA L4", Some(2)),
            ("NVIDIA L40S", Some(3)),
            ("NVIDIA A100 SXM4 40GB", Some(0)),
            ("NVIDIA A100 PCIe 80GB", Some(0)),
            ("NVIDIA H100 SXM5 80GB", Some(0)),
            ("NVIDIA H100 PCIe", Some(0)),
            ("NVIDIA H200 SXM", Some(0)),
            // Not in the list the catalogue was filled from: unknown, not guessed.
            ("Tesla V100 SXM2 16GB", None),
            ("NVIDIA L40", None),
        ];
        for (name, want) in cases {
            assert_eq!(engines(name), want, "{name}");
        }
    }

    #[test]
    fn cuda_device_names_map_to_the_right_model() {
        let cases = [
            ("Tesla M40 24GB", Some("Tesla M40 24GB")),
            ("Tesla M40", Some("Tesla M40")),
            ("Tesla P40", Some("Tesla P40")),
            ("Tesla P100-PCIE-16GB", Some("Tesla P100 PCIe 16GB")),
            ("Tesla P100-SXM2-16GB", Some("Tesla P100 SXM2")),
            ("Tesla V100-SXM2-32GB", Some("Tesla V100 SXM2 32GB")),
            ("Tesla V100-PCIE-16GB", Some("Tesla V100 PCIe 16GB")),
            ("Tesla T4", Some("Tesla T4")),
            ("NVIDIA A10", Some("NVIDIA A10")),
            ("NVIDIA A10G", None),
            ("NVIDIA A100-SXM4-40GB", Some("NVIDIA A100 SXM4 40GB")),
            ("NVIDIA A100-SXM4-80GB", Some("NVIDIA A100 SXM4 80GB")),
            ("NVIDIA A100 80GB PCIe", Some("NVIDIA A100 PCIe 80GB")),
            ("NVIDIA L4", Some("NVIDIA L4")),
            ("NVIDIA L40S", Some("NVIDIA L40S")),
            ("NVIDIA L40", Some("NVIDIA L40")),
            ("NVIDIA H100 80GB HBM3", Some("NVIDIA H100 SXM5 80GB")),
            ("NVIDIA H100 PCIe", Some("NVIDIA H100 PCIe")),
            ("NVIDIA H100 NVL", Some("NVIDIA H100 NVL")),
            ("NVIDIA H200", Some("NVIDIA H200 SXM")),
            ("NVIDIA H200 NVL", Some("NVIDIA H200 NVL")),
            ("NVIDIA GH200 480GB", None),
            ("NVIDIA GeForce RTX 4090", None),
        ];
        for (device, want) in cases {
            let got = lookup_gpu(device).map(|m| m.name);
            assert_eq!(got.as_deref(), want, "device name {device:?}");
        }
    }

    #[test]
    fn matching_is_case_insensitive_and_word_bounded() {
        assert!(name_matches("tesla m40 24gb", "Tesla M40 24GB"));
        assert!(name_matches("Tesla M40 24GB", ""));
        assert!(!name_matches("Tesla M400", "Tesla M40"));
        assert!(!name_matches("XTesla M40", "Tesla M40"));
    }
}
