//! The memory test's kernels do exactly what its host model says (`gpugate::memtest::HostMemory`,
//! on which the property tests prove the patterns): every step of every pattern, run on the
//! device and on the model over the same bytes, leaves the same bytes and reports the same
//! mismatches, with a bit flipped behind each check's back so that every check has one to find.

use gpugate::memtest::{launch_step, steps, HostMemory, Pattern, Step};
use gpugate::workload::device::KernelDevice;

use super::open;

/// 32-bit words of the allocation: not a power of two (the address-line walk stops below it)
/// nor a multiple of the grid.
const WORDS: usize = 4 * 1000 + 6;
/// The index of its first word in a notional larger test (`first` in the kernels).
const FIRST: u64 = 12_345;
const CAP: usize = 8;

fn download(dev: &dyn KernelDevice, buf: gpugate::workload::device::DevBuf) -> Vec<u8> {
    let mut v = vec![0u8; buf.bytes];
    dev.download(buf, &mut v).expect("download");
    v
}

#[test]
#[ignore = "needs a GPU (run under gpugate-sim by gpu::gpu_suite_on_the_simulator)"]
fn memtest_kernels_match_the_host_model_step_by_step() {
    let dev = open();
    let buf = dev.alloc(4 * WORDS).unwrap();
    let log = dev.alloc(8 * (1 + 3 * CAP)).unwrap();
    // The allocation's device address, from the own-address fill.
    launch_step(&*dev, buf, FIRST, &Step::FillAddress { x: 0 }, log, CAP).unwrap();
    let first_word: [u8; 8] = download(&*dev, buf)[..8].try_into().unwrap();
    let base = u64::from_le_bytes(first_word);
    assert!(
        base != 0 && base.is_multiple_of(256),
        "device address {base:#x}"
    );
    let mut flips = 0usize;
    for p in Pattern::ALL {
        let mut host = HostMemory::new(base, FIRST, 4 * WORDS, None);
        host.bytes = download(&*dev, buf);
        for (k, step) in steps(p, 0xC0FFEE, 2).iter().enumerate() {
            if step.checks() {
                // A bit flipped behind the check's back, on both sides, in a word it reads.
                let walked = gpugate::memtest::patterns::address_line_indices(
                    WORDS as u64,
                    matches!(step, Step::AddressLines { zeros: true, .. }),
                );
                let word = if p.covers_every_word() {
                    (k * 997 + 13) % WORDS
                } else {
                    walked[k % walked.len()] as usize
                };
                let byte = 4 * word + k % 4;
                host.bytes[byte] ^= 1 << (k % 8);
                let mut b = download(&*dev, buf);
                b[byte] ^= 1 << (k % 8);
                dev.upload(buf, &b).unwrap();
                flips += 1;
            }
            let (count, mut on_device) = launch_step(&*dev, buf, FIRST, step, log, CAP).unwrap();
            let mut on_host = host.apply(step);
            on_device.sort_by_key(|m| m.address);
            on_host.sort_by_key(|m| m.address);
            assert_eq!(
                count as usize,
                on_host.len(),
                "{} step {k} {step:?}",
                p.name()
            );
            assert_eq!(on_device, on_host, "{} step {k} {step:?}", p.name());
            if step.checks() {
                assert!(
                    count >= 1,
                    "{} step {k}: the flipped bit was not found",
                    p.name()
                );
            }
            assert!(
                download(&*dev, buf) == host.bytes,
                "{} step {k} {step:?}: the device's bytes differ from the model's",
                p.name()
            );
        }
    }
    assert!(flips > 20);
    dev.free(buf);
    dev.free(log);
    println!("memtest kernels match the host model: {flips} flipped bits found");
}

/// The stuck bit this file's fault test runs under: bit 5 of the word in the middle of the
/// largest allocation, stuck at 1 (the default value).
const STUCK_FAULT: &str = "stuck-bit=any:5";

#[test]
#[ignore = "needs a GPU with a stuck bit (run under gpugate-sim by stuck_bit_fault_on_the_simulator)"]
fn every_pattern_finds_the_simulators_stuck_bit() {
    let faults = std::env::var(gpugate_sim::config::ENV_FAULTS).unwrap_or_default();
    if !faults.contains(STUCK_FAULT) {
        println!("no stuck bit on this machine ({faults:?}): nothing to find");
        return;
    }
    let dev = open();
    // The largest allocation of the process, so the stuck word is in its middle.
    let buf = dev.alloc(4 * WORDS).unwrap();
    let log = dev.alloc(8 * (1 + 3 * CAP)).unwrap();
    launch_step(&*dev, buf, 0, &Step::FillAddress { x: 0 }, log, CAP).unwrap();
    let base = u64::from_le_bytes(download(&*dev, buf)[..8].try_into().unwrap());
    let word = base + ((4 * WORDS as u64 / 2) & !7);
    for p in Pattern::ALL {
        let mut found = Vec::new();
        for step in steps(p, 7, 2) {
            found.extend(launch_step(&*dev, buf, 0, &step, log, CAP).unwrap().1);
        }
        if p.covers_every_word() {
            assert!(!found.is_empty(), "{}: nothing found", p.name());
        }
        // Every mismatch is the stuck bit, reading 1 where 0 was written.
        for m in &found {
            assert_eq!(m.address / 4 * 4, word, "{}: {m:x?}", p.name());
            assert_eq!(m.expected ^ m.found, 1 << 5, "{}: {m:x?}", p.name());
            assert_eq!(m.found & 1 << 5, 1 << 5, "{}: {m:x?}", p.name());
        }
        println!("{}: stuck bit found {} times", p.name(), found.len());
    }
    // A copy into device memory cannot clear it either.
    dev.upload(buf, &vec![0u8; 4 * WORDS]).unwrap();
    let back = download(&*dev, buf);
    let at = (word - base) as usize;
    assert_eq!(back[at], 1 << 5, "the stuck byte after a copy of zeros");
    assert_eq!(back.iter().filter(|b| **b != 0).count(), 1);
    dev.free(buf);
    dev.free(log);
}

/// `gpugate-sim --fault stuck-bit=any:5`: every pattern over all the words finds it, at its
/// address and bit, and nothing else.
#[test]
fn stuck_bit_fault_on_the_simulator() {
    if crate::sim::stand_down_for_the_real_gpu("stuck_bit_fault_on_the_simulator") {
        return;
    }
    let sim = crate::sim::Sim::new(&["m40"]).fault(STUCK_FAULT);
    let (_, text) = super::gpu_suite_on_the_simulator::run_ignored_on(
        &sim,
        &["gpu::memtest::every_pattern_finds_the_simulators_stuck_bit"],
    );
    for p in Pattern::ALL.into_iter().filter(|p| p.covers_every_word()) {
        assert!(
            text.contains(&format!("{}: stuck bit found", p.name())),
            "{}:\n{text}",
            p.name()
        );
    }
}
