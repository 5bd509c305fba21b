//! Byte-for-byte comparison (transfers).

use super::MAX_MISMATCHES;
use crate::model::{Mismatch, Verification, VerifyStatus};

pub fn check_bytes(expected: &[u8], got: &[u8]) -> Verification {
    let mut mismatches = Vec::new();
    let mut bad = 0u64;
    if expected.len() != got.len() {
        mismatches.push(Mismatch {
            at: "length".into(),
            expected: expected.len() as f64,
            got: got.len() as f64,
        });
        bad += 1;
    }
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        if e != g {
            bad += 1;
            if mismatches.len() < MAX_MISMATCHES {
                mismatches.push(Mismatch {
                    at: format!("byte {i}"),
                    expected: *e as f64,
                    got: *g as f64,
                });
            }
        }
    }
    Verification {
        status: if bad == 0 {
            VerifyStatus::Passed
        } else {
            VerifyStatus::Failed
        },
        method: "byte-for-byte comparison after a round trip".into(),
        max_error: bad as f64,
        tolerance: 0.0,
        checked: expected.len() as u64,
        mismatches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_passes_and_a_flipped_bit_fails() {
        let a: Vec<u8> = (0..=255).collect();
        assert!(check_bytes(&a, &a).passed());
        let mut b = a.clone();
        b[200] ^= 4;
        let v = check_bytes(&a, &b);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.mismatches[0].at, "byte 200");
        assert!(!check_bytes(&a, &a[..10]).passed());
    }
}
