// compare.cu - the burn-in's bit-for-bit comparison on the GPU, CUDA C for NVRTC.
//
// The burn keeps the first (reference-checked) result of each lane on the device and compares
// every later result with it here, so that only a count and a small log come back to the host
// (src/run/burn/compare.rs).
//
// Error log (`log`, device memory, unsigned long long): log[0] counts every differing element
// (atom.add); the first `cap` differences also write log[1 + 4k .. 4 + 4k] = (tag, element
// index, expected bits, found bits). `tag` is the caller's name for the buffer compared (the
// burn: lane and ring set). Which differences are logged when there are more than `cap` depends
// on the order the threads run in; every one is counted. The log is written with atomics only
// (atom.add for the count, atom.exch for the entries and to clear it).
//
// Entry points (grid-stride loops over long long; any 1-D grid and block):
//   compare_clear_log(unsigned long long* log, int words)
//       log[0 .. words) = 0 (before the comparisons of an interval; no copy from the host)
//   compare_bits_u32(const unsigned* expected, const unsigned* found, long long n,
//                    unsigned long long tag, unsigned long long* log, int cap)
//   compare_bits_u64(const unsigned long long* expected, const unsigned long long* found,
//                    long long n, unsigned long long tag, unsigned long long* log, int cap)
//       every element i < n whose bits differ is counted and (within `cap`) logged.
//
// No shared memory. The loops are not unrolled (`#pragma unroll 1`), as in memtest.cu: memory
// bound, and NVRTC's unrolled trip count would pull in a 64-bit division.

// *at = v (atom.exch, written in PTX as memtest.cu's atom.add is); returns the old value.
__device__ __forceinline__ unsigned long long compare_put(unsigned long long* at,
                                                          unsigned long long v)
{
    unsigned long long old;
    asm volatile("atom.exch.b64 %0, [%1], %2;" : "=l"(old) : "l"(at), "l"(v) : "memory");
    return old;
}

__device__ __forceinline__ void compare_log(unsigned long long* log, int cap,
                                            unsigned long long tag, long long i,
                                            unsigned long long expected,
                                            unsigned long long found)
{
    unsigned long long k;
    asm volatile("atom.add.u64 %0, [%1], 1;" : "=l"(k) : "l"(log) : "memory");
    if (k < (unsigned long long)cap) {
        compare_put(log + 1 + 4 * k, tag);
        compare_put(log + 2 + 4 * k, (unsigned long long)i);
        compare_put(log + 3 + 4 * k, expected);
        compare_put(log + 4 + 4 * k, found);
    }
}

extern "C" __global__ void compare_clear_log(unsigned long long* log, int words)
{
    const int stride = gridDim.x * blockDim.x;
#pragma unroll 1
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < words; i += stride)
        compare_put(log + i, 0ull);
}

extern "C" __global__ void compare_bits_u32(const unsigned* expected, const unsigned* found,
                                            long long n, unsigned long long tag,
                                            unsigned long long* log, int cap)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned e = expected[i];
        const unsigned f = found[i];
        if (e != f)
            compare_log(log, cap, tag, i, e, f);
    }
}

extern "C" __global__ void compare_bits_u64(const unsigned long long* expected,
                                            const unsigned long long* found, long long n,
                                            unsigned long long tag, unsigned long long* log,
                                            int cap)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
#pragma unroll 1
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const unsigned long long e = expected[i];
        const unsigned long long f = found[i];
        if (e != f)
            compare_log(log, cap, tag, i, e, f);
    }
}
