//! The memory-test patterns as data: each [`Pattern`] is a list of [`Step`]s, each step one
//! launch of a kernel of `kernels/memtest.cu` over every allocation. [`word_value`] is the
//! Rust twin of the kernels' `memtest_value`; [`HostMemory`] runs the same steps on the host
//! over a memory with an optional stuck bit (the model the property tests prove the patterns
//! on, and that a test on gpugate-sim holds the kernels to).

/// One memory-test pattern (cuda_memtest / DCGM memtest). Its [`Pattern::name`] is the stable
/// last part of its check id (`gpu0.memtest.moving_inversions_random`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Walking ones over the address bits (cuda_memtest test 0): the words at index 0 and
    /// 2^k get their own index, then its complement; a stuck or shorted address line makes
    /// two of them one word.
    AddressWalkingOnes,
    /// Walking zeros over the address bits: index M−1 and (M−1) xor 2^k, M the largest power of
    /// two not above the words of the allocation.
    AddressWalkingZeros,
    /// Own address (cuda_memtest test 1): every 64-bit word holds its device address, then its
    /// complement.
    OwnAddress,
    /// Moving inversions with all zeros and all ones (memtest86 test 3): fill p; up: check p,
    /// write ¬p; down: check ¬p, write p; check p; for p = 0 and p = ¬0.
    MovingInversionsOnesZeros,
    /// Moving inversions with a random 32-bit pattern and its complement (seeded).
    MovingInversionsRandom,
    /// A seeded random sequence, one value per word (memtest86 test 7): written, checked and
    /// rewritten complemented, checked again.
    RandomSequence,
    /// Read-check-complement stress (cuda_memtest test 10): a random sequence, then rounds of
    /// reading, checking and writing the complement of every word.
    Stress,
}

impl Pattern {
    pub const ALL: [Pattern; 7] = [
        Pattern::AddressWalkingOnes,
        Pattern::AddressWalkingZeros,
        Pattern::OwnAddress,
        Pattern::MovingInversionsOnesZeros,
        Pattern::MovingInversionsRandom,
        Pattern::RandomSequence,
        Pattern::Stress,
    ];

    /// The stable name (check ids, run.json).
    pub fn name(self) -> &'static str {
        match self {
            Pattern::AddressWalkingOnes => "address_walking_ones",
            Pattern::AddressWalkingZeros => "address_walking_zeros",
            Pattern::OwnAddress => "own_address",
            Pattern::MovingInversionsOnesZeros => "moving_inversions_ones_zeros",
            Pattern::MovingInversionsRandom => "moving_inversions_random",
            Pattern::RandomSequence => "random_sequence",
            Pattern::Stress => "stress",
        }
    }

    /// A title for reports.
    pub fn title(self) -> &'static str {
        match self {
            Pattern::AddressWalkingOnes => "Memory test: walking ones over the address bits",
            Pattern::AddressWalkingZeros => "Memory test: walking zeros over the address bits",
            Pattern::OwnAddress => "Memory test: own address",
            Pattern::MovingInversionsOnesZeros => "Memory test: moving inversions, ones and zeros",
            Pattern::MovingInversionsRandom => "Memory test: moving inversions, random pattern",
            Pattern::RandomSequence => "Memory test: random sequence",
            Pattern::Stress => "Memory test: read-check-complement stress",
        }
    }

    /// The pattern of a stable name.
    pub fn from_name(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the pattern reads and writes every word of an allocation; the address-line
    /// patterns touch only the 2 + log2(words) words at the indices they walk.
    pub fn covers_every_word(self) -> bool {
        !matches!(
            self,
            Pattern::AddressWalkingOnes | Pattern::AddressWalkingZeros
        )
    }

    /// This pattern's own seed, from the run's memory-test seed.
    pub fn seed(self, seed: u64) -> u64 {
        let i = Pattern::ALL.iter().position(|p| *p == self).unwrap_or(0) as u64;
        splitmix64(seed ^ (i + 1).wrapping_mul(0xA076_1D64_78BD_642F))
    }
}

/// How a 32-bit step makes the value of word `i` (before its xor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// The same value in every word.
    Const(u32),
    /// A seeded random sequence: [`word_value`].
    Random(u64),
}

/// One launch over every allocation (kernels in `kernels/memtest.cu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `memtest_fill_u32`: word i = value(i) ^ x.
    Fill { values: Values, x: u32 },
    /// `memtest_check_u32`: word i read and compared with value(i) ^ x; with `rewrite`
    /// `Some(flip)` then written as value(i) ^ x ^ flip; `descending` walks down.
    Check {
        values: Values,
        x: u32,
        rewrite: Option<u32>,
        descending: bool,
    },
    /// `memtest_fill_addr_u64`: 64-bit word at address a = a ^ x.
    FillAddress { x: u64 },
    /// `memtest_check_addr_u64`.
    CheckAddress { x: u64 },
    /// `memtest_address_lines_u32`: write (or, with `check`, check) index ^ x at the walked
    /// indices.
    AddressLines { zeros: bool, x: u32, check: bool },
}

impl Step {
    /// Whether the step reads and compares (and so may report errors).
    pub fn checks(&self) -> bool {
        matches!(
            self,
            Step::Check { .. } | Step::CheckAddress { .. } | Step::AddressLines { check: true, .. }
        )
    }
}

/// The steps of `p`, from the run's memory-test `seed`; `stress_rounds` read-check-complement
/// rounds for [`Pattern::Stress`] (each reads every word twice).
pub fn steps(p: Pattern, seed: u64, stress_rounds: u32) -> Vec<Step> {
    let s = p.seed(seed);
    match p {
        Pattern::AddressWalkingOnes | Pattern::AddressWalkingZeros => {
            let zeros = p == Pattern::AddressWalkingZeros;
            [0, !0]
                .into_iter()
                .flat_map(|x| [false, true].map(|check| Step::AddressLines { zeros, x, check }))
                .collect()
        }
        Pattern::OwnAddress => [0, !0]
            .into_iter()
            .flat_map(|x| [Step::FillAddress { x }, Step::CheckAddress { x }])
            .collect(),
        Pattern::MovingInversionsOnesZeros => {
            [0, !0u32].into_iter().flat_map(moving_inversions).collect()
        }
        Pattern::MovingInversionsRandom => moving_inversions(word_value(Values::Random(s), 0)),
        Pattern::RandomSequence => {
            let values = Values::Random(s);
            vec![
                Step::Fill { values, x: 0 },
                check(values, 0, Some(!0), false),
                check(values, !0, None, false),
            ]
        }
        Pattern::Stress => {
            let values = Values::Random(s);
            let mut v = vec![Step::Fill { values, x: 0 }];
            for _ in 0..stress_rounds {
                v.push(check(values, 0, Some(!0), false));
                v.push(check(values, !0, Some(!0), false));
            }
            v.push(check(values, 0, None, false));
            v
        }
    }
}

fn check(values: Values, x: u32, rewrite: Option<u32>, descending: bool) -> Step {
    Step::Check {
        values,
        x,
        rewrite,
        descending,
    }
}

/// Fill p; up: check p, write ¬p; down: check ¬p, write p; check p.
fn moving_inversions(p: u32) -> Vec<Step> {
    let values = Values::Const(p);
    vec![
        Step::Fill { values, x: 0 },
        check(values, 0, Some(!0), false),
        check(values, !0, Some(!0), true),
        check(values, 0, None, false),
    ]
}

/// splitmix64's finaliser (Steele, Lea, Flood 2014), as the kernels compute it.
pub fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value of word `i` (of the whole test, see `first` in the kernels): the Rust twin of
/// `memtest_value` in `kernels/memtest.cu`.
pub fn word_value(values: Values, i: u64) -> u32 {
    match values {
        Values::Const(v) => v,
        Values::Random(seed) => {
            let z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            (splitmix64(z) >> 32) as u32
        }
    }
}

/// The words an address-line step walks in an allocation of `n` 32-bit words, in the order it
/// writes them: M = the largest power of two ≤ n; 0, 1, 2, 4, … M/2 (ones) or M−1 and
/// (M−1) ^ 2^k (zeros).
pub fn address_line_indices(n: u64, zeros: bool) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let m = 1u64 << (63 - n.leading_zeros());
    std::iter::once(0)
        .chain((0..m.trailing_zeros()).map(|k| 1u64 << k))
        .map(|bit| if zeros { (m - 1) ^ bit } else { bit })
        .collect()
}

/// A mismatch a check step found: the device address of the word, expected, found (32-bit
/// words: the low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    pub address: u64,
    pub expected: u64,
    pub found: u64,
}

/// A bit of device memory that reads constant: bit `bit` (0..7) of the byte at `address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckBit {
    pub address: u64,
    pub bit: u32,
    pub value: bool,
}

/// One allocation on the host, at device address `base`, with an optional stuck bit: the
/// model the patterns are proved on. Every write forces the stuck bit, so it reads constant.
#[derive(Debug, Clone)]
pub struct HostMemory {
    pub base: u64,
    /// The index of its first 32-bit word in the whole test (`first` in the kernels).
    pub first: u64,
    pub bytes: Vec<u8>,
    pub stuck: Option<StuckBit>,
}

impl HostMemory {
    /// `len` zero bytes (a multiple of 8) at device address `base` (8-aligned).
    pub fn new(base: u64, first: u64, len: usize, stuck: Option<StuckBit>) -> HostMemory {
        let mut m = HostMemory {
            base,
            first,
            bytes: vec![0; len],
            stuck,
        };
        m.force();
        m
    }

    fn force(&mut self) {
        if let Some(s) = self.stuck {
            if let Some(b) = s
                .address
                .checked_sub(self.base)
                .and_then(|o| self.bytes.get_mut(o as usize))
            {
                let mask = 1u8 << s.bit;
                *b = if s.value { *b | mask } else { *b & !mask };
            }
        }
    }

    fn read(&self, i: usize, width: usize) -> u64 {
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(&self.bytes[i * width..(i + 1) * width]);
        u64::from_le_bytes(v)
    }

    fn write(&mut self, i: usize, width: usize, v: u64) {
        self.bytes[i * width..(i + 1) * width].copy_from_slice(&v.to_le_bytes()[..width]);
        self.force();
    }

    /// Runs one step as the kernels do; the mismatches a check finds, in the order found.
    pub fn apply(&mut self, step: &Step) -> Vec<Mismatch> {
        let n32 = self.bytes.len() / 4;
        let mut found = Vec::new();
        let mut compare = |m: &HostMemory, i: usize, width: usize, expected: u64| {
            let f = m.read(i, width);
            if f != expected {
                found.push(Mismatch {
                    address: m.base + (i * width) as u64,
                    expected,
                    found: f,
                });
            }
        };
        match *step {
            Step::Fill { values, x } => {
                for i in 0..n32 {
                    let v = word_value(values, self.first + i as u64) ^ x;
                    self.write(i, 4, v as u64);
                }
            }
            Step::Check {
                values,
                x,
                rewrite,
                descending,
            } => {
                for t in 0..n32 {
                    let i = if descending { n32 - 1 - t } else { t };
                    let e = word_value(values, self.first + i as u64) ^ x;
                    compare(self, i, 4, e as u64);
                    if let Some(flip) = rewrite {
                        self.write(i, 4, (e ^ flip) as u64);
                    }
                }
            }
            Step::FillAddress { x } => {
                for i in 0..self.bytes.len() / 8 {
                    let a = self.base + 8 * i as u64;
                    self.write(i, 8, a ^ x);
                }
            }
            Step::CheckAddress { x } => {
                for i in 0..self.bytes.len() / 8 {
                    compare(self, i, 8, (self.base + 8 * i as u64) ^ x);
                }
            }
            Step::AddressLines { zeros, x, check } => {
                for i in address_line_indices(n32 as u64, zeros) {
                    let v = (i as u32 ^ x) as u64;
                    if check {
                        compare(self, i as usize, 4, v);
                    } else {
                        self.write(i as usize, 4, v);
                    }
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: u64 = 0x7f00_0020_0000;

    /// Every step of `p` on a fresh allocation of `words` 32-bit words; every mismatch found.
    fn run_host(p: Pattern, seed: u64, words: usize, stuck: Option<StuckBit>) -> Vec<Mismatch> {
        let mut m = HostMemory::new(BASE, 3 * words as u64, 4 * words, stuck);
        steps(p, seed, 2).iter().flat_map(|s| m.apply(s)).collect()
    }

    /// The byte offsets a pattern reads and writes in an allocation of `words` words.
    fn covered_bytes(p: Pattern, words: usize) -> Vec<u64> {
        if p.covers_every_word() {
            (0..4 * words as u64).collect()
        } else {
            let zeros = p == Pattern::AddressWalkingZeros;
            address_line_indices(words as u64, zeros)
                .into_iter()
                .flat_map(|i| 4 * i..4 * i + 4)
                .collect()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A stuck-at-0 or stuck-at-1 bit at any byte a pattern covers is found by it, at the
        /// word that holds the byte, with that bit among the bits that differ.
        #[test]
        fn every_pattern_finds_a_stuck_bit_anywhere_it_covers(
            half_words in 1usize..200,
            seed in any::<u64>(),
            pick in any::<prop::sample::Index>(),
            bit in 0u32..8,
            value in any::<bool>(),
        ) {
            let words = 2 * half_words;
            for p in Pattern::ALL {
                let covered = covered_bytes(p, words);
                let byte = covered[pick.index(covered.len())];
                let stuck = StuckBit { address: BASE + byte, bit, value };
                let found = run_host(p, seed, words, Some(stuck));
                let width = if p == Pattern::OwnAddress { 8 } else { 4 };
                let word = BASE + byte / width * width;
                let bit_in_word = (byte % width) as u32 * 8 + bit;
                prop_assert!(
                    found.iter().any(|m| m.address == word
                        && (m.expected ^ m.found) >> bit_in_word & 1 == 1
                        && (m.found >> bit_in_word & 1 == 1) == value),
                    "{}: stuck {:?} not found (found {:?})", p.name(), stuck, found
                );
                // Nothing else is wrong: every mismatch is that word, that bit.
                prop_assert!(found.iter().all(|m| m.address == word
                    && m.expected ^ m.found == 1 << bit_in_word), "{}: {:?}", p.name(), found);
            }
        }

        /// Healthy memory never reads wrong, whatever the size and seed.
        #[test]
        fn no_pattern_reports_healthy_memory(words in 1usize..300, seed in any::<u64>()) {
            let words = words * 2;
            for p in Pattern::ALL {
                prop_assert_eq!(run_host(p, seed, words, None), Vec::new(), "{}", p.name());
            }
        }

        /// The walked indices are the powers of two below M (and 0), or their complements
        /// within M − 1, all inside the allocation and all different.
        #[test]
        fn address_lines_walk_every_bit_below_the_size(n in 1u64..1 << 40, zeros in any::<bool>()) {
            let idx = address_line_indices(n, zeros);
            let m = 1u64 << (63 - n.leading_zeros());
            prop_assert_eq!(idx.len() as u32, m.trailing_zeros() + 1);
            let mut sorted = idx.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), idx.len());
            for (k, i) in idx.iter().enumerate().skip(1) {
                let differs = if zeros { (m - 1) ^ i } else { *i };
                prop_assert_eq!(differs, 1u64 << (k - 1));
                prop_assert!(*i < n);
            }
        }
    }

    /// Where a stuck bit is outside what an address-line pattern walks, it is not seen: the
    /// coverage those patterns claim is exactly the walked words.
    #[test]
    fn address_line_patterns_cover_only_the_walked_words() {
        let words = 64;
        for p in [Pattern::AddressWalkingOnes, Pattern::AddressWalkingZeros] {
            let covered = covered_bytes(p, words);
            let outside = (0..4 * words as u64)
                .find(|b| !covered.contains(b))
                .unwrap();
            for value in [false, true] {
                let stuck = StuckBit {
                    address: BASE + outside,
                    bit: 3,
                    value,
                };
                assert!(
                    run_host(p, 1, words, Some(stuck)).is_empty(),
                    "{}",
                    p.name()
                );
            }
        }
    }

    /// Two address lines shorted (index 0 and 2^k one word) are found by walking ones.
    #[test]
    fn walking_ones_finds_an_aliased_address_line() {
        let words = 64u64;
        let mut m = HostMemory::new(BASE, 0, 4 * words as usize, None);
        let mut found = Vec::new();
        for s in steps(Pattern::AddressWalkingOnes, 0, 2) {
            found.extend(m.apply(&s));
            if let Step::AddressLines { check: false, .. } = s {
                // Address line 4 stuck at 0: the write to word 16 lands in word 0.
                let w16: [u8; 4] = m.bytes[64..68].try_into().unwrap();
                m.bytes[0..4].copy_from_slice(&w16);
            }
        }
        assert!(found.iter().any(|e| e.address == BASE), "{found:?}");
    }

    #[test]
    fn names_are_stable_and_round_trip() {
        let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "address_walking_ones",
                "address_walking_zeros",
                "own_address",
                "moving_inversions_ones_zeros",
                "moving_inversions_random",
                "random_sequence",
                "stress",
            ]
        );
        for p in Pattern::ALL {
            assert_eq!(Pattern::from_name(p.name()), Some(p));
        }
    }

    /// The random sequence is splitmix64 (its published first outputs for seed 0: state
    /// 0x9E3779B97F4A7C15 → 0xE220A8397B1DCDAF) and differs from word to word and seed to seed.
    #[test]
    fn the_random_sequence_is_splitmix64() {
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0xE220_A839_7B1D_CDAF);
        assert_eq!(word_value(Values::Random(0), 0), 0xE220_A839);
        assert_ne!(
            word_value(Values::Random(0), 1),
            word_value(Values::Random(0), 0)
        );
        assert_ne!(
            word_value(Values::Random(1), 0),
            word_value(Values::Random(0), 0)
        );
        assert_eq!(word_value(Values::Const(7), 99), 7);
    }
}
