// memtest.cu - GPU memory test kernels (cuda_memtest / DCGM memtest patterns), CUDA C for NVRTC.
//
// The patterns themselves (which steps, in which order, with which values) are host code:
// src/memtest/patterns.rs, whose `word_value` is the Rust twin of `memtest_value` below (a test
// on gpugate-sim holds the two equal). These kernels are the steps. Words are 32-bit unsigned
// (own address: 64-bit). `first` is the index of p[0] among the words of the whole test, so a
// value does not depend on how the memory was split into allocations.
//
// Values (kind, seed, x): MEMTEST_CONST: (unsigned)seed ^ x
//                         MEMTEST_RANDOM: the high 32 bits of splitmix64(seed + (i + 1) * golden) ^ x
//                         where i = first + the word's index (a seeded random sequence).
//
// Error log (`log`, device memory, unsigned long long): log[0] counts every mismatch (atom.add);
// the first `cap` mismatches also write log[1 + 3k .. 3 + 3k] = (device address of the word,
// expected, found). The host zeroes log[0] before a check.
//
// Entry points (grid-stride loops over long long; any 1-D grid and block):
//   memtest_fill_u32(unsigned* p, long long n, long long first, int kind,
//                    unsigned long long seed, unsigned x)
//       p[i] = value(kind, seed, first + i) ^ x
//   memtest_check_u32(unsigned* p, long long n, long long first, int kind,
//                     unsigned long long seed, unsigned x, unsigned flip, int rewrite,
//                     int descending, unsigned long long* log, int cap)
//       each word read and compared with value ^ x (a mismatch is logged); with rewrite, then
//       written as value ^ x ^ flip (the moving-inversions step); descending: the threads walk
//       from the top of the buffer down.
//   memtest_fill_addr_u64(unsigned long long* p, long long n, unsigned long long x)
//       p[i] = (device address of p[i]) ^ x                                  (own address)
//   memtest_check_addr_u64(unsigned long long* p, long long n, unsigned long long x,
//                          unsigned long long* log, int cap)
//   memtest_address_lines_u32(unsigned* p, long long n, int zeros, unsigned x, int check,
//                             unsigned long long* log, int cap)
//       one thread (launch 1 x 1): M = the largest power of two <= n; the words at index 0 and
//       2^k (walking ones; zeros: M-1 and (M-1) ^ 2^k), k = 0 .. log2(M)-1, written in that order
//       with value (unsigned)index ^ x, or (check) read and compared: a stuck or shorted address
//       line makes two of them one word, and the later write shows at the earlier index.
//
// No shared memory; one atomic, on the error counter (inline PTX, see memtest_log). The
// grid-stride loops are not unrolled (`#pragma unroll 1`): memory-bound, they gain nothing, and
// NVRTC's unrolled form computes its trip count with a 64-bit division, which makes ptxas
// 12.0.140 accept the module at PTX ISA 4.0 for sm_52 (below what the reference allows), so
// `build.py --check` could not prove the module's declared 4.1.

#define MEMTEST_CONST 0
#define MEMTEST_RANDOM 1

__device__ __forceinline__ unsigned memtest_value(int kind, unsigned long long seed, long long i)
{
    if (kind == MEMTEST_CONST)
        return (unsigned)seed;
    unsigned long long z = seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return (unsigned)(z >> 32);
}

__device__ __forceinline__ void memtest_log(unsigned long long* log, int cap, const void* at,
                                            unsigned long long expected,
                                            unsigned long long found)
{
    // atomicAdd in C would pull NVRTC's nv/target tables (two dozen .global variables) into
    // the module; the one atomic is written in PTX (generic addressing, PTX ISA 1.x).
    unsigned long long k;
    asm volatile("atom.add.u64 %0, [%1], 1;" : "=l"(k) : "l"(log) : "memory");
    if (k < (unsigned long long)cap) {
        log[1 + 3 * k] = (unsigned long long)at;
        log[2 + 3 * k] = expected;
        log[3 + 3 * k] = found;
    }
}

extern "C" __global__ void memtest_fill_u32(unsigned* p, long long n, long long first, int kind,
                                            unsigned long long seed, unsigned x)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        p[i] = memtest_value(kind, seed, first + i) ^ x;
}

extern "C" __global__ void memtest_check_u32(unsigned* p, long long n, long long first, int kind,
                                             unsigned long long seed, unsigned x, unsigned flip,
                                             int rewrite, int descending,
                                             unsigned long long* log, int cap)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += stride) {
        const long long i = descending ? n - 1 - t : t;
        const unsigned expected = memtest_value(kind, seed, first + i) ^ x;
        const unsigned found = p[i];
        if (found != expected)
            memtest_log(log, cap, p + i, expected, found);
        if (rewrite)
            p[i] = expected ^ flip;
    }
}

extern "C" __global__ void memtest_fill_addr_u64(unsigned long long* p, long long n,
                                                 unsigned long long x)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        p[i] = (unsigned long long)(p + i) ^ x;
}

extern "C" __global__ void memtest_check_addr_u64(unsigned long long* p, long long n,
                                                  unsigned long long x, unsigned long long* log,
                                                  int cap)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned long long expected = (unsigned long long)(p + i) ^ x;
        const unsigned long long found = p[i];
        if (found != expected)
            memtest_log(log, cap, p + i, expected, found);
    }
}

extern "C" __global__ void memtest_address_lines_u32(unsigned* p, long long n, int zeros,
                                                     unsigned x, int check,
                                                     unsigned long long* log, int cap)
{
    if (blockIdx.x != 0 || threadIdx.x != 0 || n < 1)
        return;
    long long m = 1;
    while (m <= n / 2)
        m *= 2;
    for (long long bit = 0; bit < m; bit = bit ? 2 * bit : 1) {
        const long long i = zeros ? (m - 1) ^ bit : bit;
        const unsigned value = (unsigned)i ^ x;
        if (!check) {
            p[i] = value;
        } else {
            const unsigned found = p[i];
            if (found != value)
                memtest_log(log, cap, p + i, value, found);
        }
    }
}
