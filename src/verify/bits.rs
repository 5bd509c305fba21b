//! Bit for bit: a repeated result against the first result computed from the same inputs on
//! the same GPU (the burn-in's check for silent data corruption). gpugate's kernels are
//! deterministic, so on a healthy GPU every bit is the same; any difference is SDC. The burn
//! compares on the GPU (`kernels/compare.cu`); [`compare_bits`] is its host twin, which the
//! kernel tests (`tests/integration/gpu/compare.rs`) hold the device to, and [`hex_bits`] how
//! the records show an element's bits.

/// The differences between two results, element by element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BitDiff {
    /// Elements that differ, in all.
    pub count: u64,
    /// The first of them (at most the limit given): (element index, expected bits, found bits).
    pub first: Vec<(u64, u64, u64)>,
}

/// Compares `found` with `expected`, elements of `elem_bytes` (1 to 8) bytes, little-endian as
/// the device stores them; keeps the first `limit` differences. A length mismatch counts every
/// element past the shorter one as different (its missing bits read as 0).
pub fn compare_bits(expected: &[u8], found: &[u8], elem_bytes: usize, limit: usize) -> BitDiff {
    assert!((1..=8).contains(&elem_bytes), "elements of 1 to 8 bytes");
    let mut diff = BitDiff::default();
    if expected == found {
        return diff;
    }
    let elems = expected.len().max(found.len()).div_ceil(elem_bytes);
    for i in 0..elems {
        let span = i * elem_bytes..(i + 1) * elem_bytes;
        let (e, f) = (bits_at(expected, span.clone()), bits_at(found, span));
        if e != f {
            diff.count += 1;
            if diff.first.len() < limit {
                diff.first.push((i as u64, e, f));
            }
        }
    }
    diff
}

/// The bits of one element (bytes past the end read as 0).
fn bits_at(buf: &[u8], span: std::ops::Range<usize>) -> u64 {
    let mut b = [0u8; 8];
    for (k, i) in span.enumerate() {
        b[k] = buf.get(i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// An element's bits as the reports show them: hexadecimal, two digits per byte.
pub fn hex_bits(bits: u64, elem_bytes: usize) -> String {
    format!("0x{:0width$x}", bits, width = elem_bytes * 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_results_have_no_difference() {
        let v: Vec<u8> = (0..64).collect();
        assert_eq!(compare_bits(&v, &v, 4, 10), BitDiff::default());
    }

    #[test]
    fn table_of_known_flips() {
        // (element bytes, byte flipped, bit, expected element index)
        for (eb, byte, bit, elem) in [(4, 0, 0, 0), (4, 7, 7, 1), (8, 8, 3, 1), (8, 15, 7, 1)] {
            let e = vec![0x5au8; 16];
            let mut f = e.clone();
            f[byte] ^= 1 << bit;
            let d = compare_bits(&e, &f, eb, 10);
            assert_eq!(d.count, 1, "{eb} {byte} {bit}");
            assert_eq!(d.first[0].0, elem);
            assert_eq!(d.first[0].1 ^ d.first[0].2, 1u64 << ((byte % eb) * 8 + bit));
        }
        assert_eq!(hex_bits(0x3f80_0000, 4), "0x3f800000");
        assert_eq!(hex_bits(1, 8), "0x0000000000000001");
    }

    #[test]
    fn the_limit_bounds_the_list_not_the_count() {
        let e = vec![0u8; 40];
        let f = vec![0xffu8; 40];
        let d = compare_bits(&e, &f, 4, 3);
        assert_eq!((d.count, d.first.len()), (10, 3));
    }

    proptest! {
        /// Any one flipped bit is found: exactly one element, the right index, the right bit.
        #[test]
        fn every_single_bit_flip_is_found(
            data in proptest::collection::vec(any::<u8>(), 8..256),
            at in any::<proptest::sample::Index>(),
            bit in 0u32..8,
            eb in prop_oneof![Just(4usize), Just(8usize)],
        ) {
            let byte = at.index(data.len());
            let mut found = data.clone();
            found[byte] ^= 1 << bit;
            let d = compare_bits(&data, &found, eb, 10);
            prop_assert_eq!(d.count, 1);
            let (i, e, f) = d.first[0];
            prop_assert_eq!(i as usize, byte / eb);
            prop_assert_eq!(e ^ f, 1u64 << ((byte % eb) as u32 * 8 + bit));
        }
    }
}
