//! The burn-in's compare kernels (`kernels/compare.cu`, through `gpugate::run::burn::compare`):
//! on 4- and 8-byte elements at small and odd sizes, every difference is counted, the logged
//! ones are real differences with their element and both bit patterns (as the host's
//! `gpugate::verify::bits::compare_bits` finds them), equal buffers give 0, and the log is
//! cleared on the device between uses.

use gpugate::run::burn::compare::{DeviceLog, Logged};
use gpugate::verify::bits::compare_bits;
use gpugate::workload::device::{DevBuf, KernelDevice};

use super::open;

/// The log's bound in these tests: small, so that some cases overflow it.
const CAP: usize = 4;

/// `n` elements of `elem` bytes, pseudo-random bits (no two neighbours alike).
fn pattern(n: usize, elem: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n * elem)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn element(bytes: &[u8], i: usize, elem: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..elem].copy_from_slice(&bytes[i * elem..(i + 1) * elem]);
    u64::from_le_bytes(w)
}

fn upload(dev: &dyn KernelDevice, bytes: &[u8]) -> DevBuf {
    let buf = dev.alloc(bytes.len()).unwrap();
    dev.upload(buf, bytes).unwrap();
    buf
}

/// Compares a copy of a pattern with one bit flipped (the top bit of the element: the whole
/// width is compared) at each of `at` against the pattern, under `tag`; checks the count and
/// that the log holds min(count, CAP) of exactly those differences.
fn case(dev: &dyn KernelDevice, log: &DeviceLog, (n, elem): (usize, usize), at: &[usize]) {
    let expected = pattern(n, elem);
    let mut found = expected.clone();
    for &i in at {
        found[(i + 1) * elem - 1] ^= 0x80;
    }
    let (e, f) = (upload(dev, &expected), upload(dev, &found));
    let tag = ((elem as u64) << 32) | n as u64;
    log.clear(dev).unwrap();
    log.compare(dev, (e, f), elem, tag).unwrap();
    let (count, logged) = log.read(dev).unwrap();
    let what = format!("{n} elements of {elem} bytes, flipped at {at:?}: {logged:?}");
    assert_eq!(count, at.len() as u64, "{what}");
    let host = compare_bits(&expected, &found, elem, usize::MAX);
    assert_eq!(count, host.count, "{what}");
    assert_eq!(logged.len(), at.len().min(CAP), "{what}");
    for l in &logged {
        let i = l.element as usize;
        assert!(at.contains(&i), "{what}");
        let want = Logged {
            tag,
            element: l.element,
            expected: element(&expected, i, elem),
            found: element(&found, i, elem),
        };
        assert_eq!(*l, want, "{what}");
        assert!(
            host.first.contains(&(l.element, l.expected, l.found)),
            "{what}"
        );
        assert_eq!(l.expected ^ l.found, 1 << (8 * elem - 1), "{what}");
    }
    dev.free(e);
    dev.free(f);
}

#[test]
#[ignore = "needs a GPU (run under gpugate-sim by gpu::gpu_suite_on_the_simulator)"]
fn compare_kernels_count_and_log_every_difference_at_odd_sizes() {
    let dev = open();
    let log = DeviceLog::new(&*dev, CAP).unwrap();
    // 1 element, one block's worth and one over, and more than one grid-stride sweep of the
    // simulated M40's 24 SMs × 8 blocks × 256 threads (49152).
    for elem in [4, 8] {
        for n in [1usize, 257, 50_001] {
            let last = n - 1;
            case(&*dev, &log, (n, elem), &[]);
            case(&*dev, &log, (n, elem), &[0]);
            case(&*dev, &log, (n, elem), &[last]);
            if n > 2 * CAP {
                // More differences than the log holds: all counted, CAP of them logged.
                let many: Vec<usize> = (0..CAP + 3).map(|k| k * (n / (CAP + 3))).collect();
                case(&*dev, &log, (n, elem), &many);
                case(&*dev, &log, (n, elem), &[0, last]);
            }
        }
    }
    log.free(&*dev);
}

#[test]
#[ignore = "needs a GPU (run under gpugate-sim by gpu::gpu_suite_on_the_simulator)"]
fn compare_launches_add_up_in_one_log_until_it_is_cleared() {
    let dev = open();
    let log = DeviceLog::new(&*dev, CAP).unwrap();
    let expected = pattern(100, 4);
    let mut found = expected.clone();
    found[4 * 7] ^= 1;
    let (e, f) = (upload(&*dev, &expected), upload(&*dev, &found));
    log.clear(&*dev).unwrap();
    log.compare(&*dev, (e, f), 4, 2).unwrap();
    log.compare(&*dev, (e, e), 4, 1).unwrap();
    log.compare(&*dev, (e, f), 4, 1).unwrap();
    let (count, logged) = log.read(&*dev).unwrap();
    assert_eq!(count, 2);
    // In order of tag, then element.
    assert_eq!(
        logged
            .iter()
            .map(|l| (l.tag, l.element))
            .collect::<Vec<_>>(),
        [(1, 7), (2, 7)]
    );
    log.clear(&*dev).unwrap();
    assert_eq!(log.read(&*dev).unwrap(), (0, Vec::new()));
    // Elements of another width, or buffers of different sizes, are refused before a launch.
    assert!(log.compare(&*dev, (e, f), 2, 0).is_err());
    let short = dev.alloc(8).unwrap();
    assert!(log.compare(&*dev, (e, short), 4, 0).is_err());
    for b in [e, f, short] {
        dev.free(b);
    }
    log.free(&*dev);
}
