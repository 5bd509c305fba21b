//! Small helpers used across layers, each in one place: a hash, a median, text escaping and
//! the number format of every report and check.

/// FNV-1a, 64 bits, over `bytes` (stable across runs and machines: seeds, cache keys).
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The median of `values` (the mean of the two middle ones for an even count), NaNs ignored;
/// None when none is left.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(crate::measure::stats::median(&values))
}

/// Text for XML, HTML and SVG, in content and in attribute values: `& < > " '` escaped, and
/// control characters (which XML 1.0 forbids) but tab and newline made spaces.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A number in its unit's precision: TFLOPS 2 decimals, GB/s, GB, fps and Gop/s 1 decimal,
/// whole numbers without decimals, anything else 2 decimals; NaN and ∞ as such.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    match unit {
        "TFLOPS" => format!("{v:.2}"),
        "GB/s" | "GB" | "fps" | "Gop/s" => format!("{v:.1}"),
        _ if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        // The FNV-1a 64 reference values for "" and "a".
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn median_ignores_nan_and_averages_the_middle_pair() {
        assert_eq!(median(vec![3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
    }

    #[test]
    fn escaping_and_formatting() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos; "
        );
        assert_eq!(fmt_value(4.8712, "TFLOPS"), "4.87");
        assert_eq!(fmt_value(229.44, "GB/s"), "229.4");
        assert_eq!(fmt_value(28.0, "vCPUs"), "28");
        assert_eq!(fmt_value(f64::NAN, "GB/s"), "NaN");
    }
}
