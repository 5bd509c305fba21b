// cuda_emu.h - a small CPU emulation of the CUDA execution model, force-included (g++ -include)
// before each kernels/*.cu when the test-only crate gpugate-emu builds them for the host.
//
// Model: one launch at a time (a global mutex), one block at a time; the block's threads are real
// threads that walk the grid's blocks together, with a barrier between blocks. Hence
//   * __shared__ is `static`: function-scope statics are per-block storage here;
//   * __syncthreads() is a real barrier over the block's threads (threads that have returned
//     from the kernel no longer count, as on the hardware);
//   * warp shuffles exchange values through a per-warp buffer between two warp barriers;
//   * threadIdx / blockIdx / blockDim / gridDim are thread_local.
// __CUDA_ARCH__ stays undefined, so arch-specific paths and inline PTX are compiled out; any
// plain C++ fallback they need lives next to them in the .cu file.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <math.h>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is already a GNU C++ keyword.

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ------------------------------------------------------------------------- vector types

#define GG_EMU_VEC2(T, N, A)                                                                       \
    struct __attribute__((aligned(A))) N##2 {                                                     \
        T x, y;                                                                                    \
    };                                                                                             \
    inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define GG_EMU_VEC4(T, N, A)                                                                       \
    struct __attribute__((aligned(A))) N##4 {                                                     \
        T x, y, z, w;                                                                              \
    };                                                                                             \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }

GG_EMU_VEC2(float, float, 8)
GG_EMU_VEC4(float, float, 16)
GG_EMU_VEC2(double, double, 16)
GG_EMU_VEC4(double, double, 16)
GG_EMU_VEC2(int, int, 8)
GG_EMU_VEC4(int, int, 16)
GG_EMU_VEC2(unsigned, uint, 8)
GG_EMU_VEC4(unsigned, uint, 16)
#undef GG_EMU_VEC2
#undef GG_EMU_VEC4

// ------------------------------------------------------------------------- runtime hooks

namespace gg_emu {
// Block-wide barrier (defined in runtime.cpp).
void syncthreads();
// Warp-wide exchange: every participating lane (mask) of the caller's warp publishes `bytes`
// bytes from `value`, then receives into `out` what lane `src_lane` published. A lane that does
// not participate yields the caller's own value.
void warp_exchange(unsigned mask, const void* value, std::size_t bytes, unsigned src_lane, void* out);
void syncwarp(unsigned mask);
// Warp-wide all-gather (every lane of the caller's warp must call it): each lane publishes
// `bytes` bytes from `value`; `out` receives 32 records of `bytes` bytes, lane l's at
// out + l * bytes (a lane that does not exist in the block leaves its record untouched). For
// the emulator fallbacks of the warp-wide tensor-core instructions.
void warp_allgather(const void* value, std::size_t bytes, void* out);

// cp.async, emulated faithfully enough to catch a pipeline that reads a stage before waiting for
// it: each thread queues its copies; commit closes the open group; wait(n) performs the copies
// of every committed group but the newest n (in order), as cp.async.wait_group does. Copies
// still pending when the thread leaves a block are performed then (runtime.cpp), as the
// hardware completes them.
struct CpAsync {
    void* dst;
    const void* src;
    unsigned bytes;
    bool valid;   // false: zero-fill, src not read
};
inline thread_local std::vector<std::vector<CpAsync>> t_cp_groups;   // committed, oldest first
inline thread_local std::vector<CpAsync> t_cp_open;                  // not yet committed

inline void cp_async(void* dst, const void* src, unsigned bytes, bool valid)
{
    t_cp_open.push_back(CpAsync{dst, src, bytes, valid});
}
inline void cp_async_commit()
{
    t_cp_groups.push_back(std::move(t_cp_open));
    t_cp_open.clear();
}
inline void cp_async_wait(std::size_t n)
{
    std::size_t done = 0;
    while (t_cp_groups.size() - done > n) {
        for (const CpAsync& c : t_cp_groups[done]) {
            if (c.valid)
                std::memcpy(c.dst, c.src, c.bytes);
            else
                std::memset(c.dst, 0, c.bytes);
        }
        ++done;
    }
    t_cp_groups.erase(t_cp_groups.begin(), t_cp_groups.begin() + done);
}
// At the end of a block: the open group too (a copy never committed still lands).
inline void cp_async_drain()
{
    cp_async_commit();
    cp_async_wait(0);
}

inline unsigned lane_id()
{
    const unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    return linear % 32u;
}

template <typename T>
inline T shfl_from(unsigned mask, T var, unsigned src_lane)
{
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16, "shuffle of an unsupported type");
    T out;
    warp_exchange(mask, &var, sizeof(T), src_lane, &out);
    return out;
}
} // namespace gg_emu

inline void __syncthreads() { gg_emu::syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { gg_emu::syncwarp(mask); }

// Lanes are split into segments of `width`; a source outside the caller's segment yields the
// caller's own value, as on the hardware.
template <typename T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize)
{
    const unsigned lane = gg_emu::lane_id();
    const unsigned seg = lane & ~unsigned(width - 1);
    return gg_emu::shfl_from(mask, var, seg + (unsigned(src_lane) & unsigned(width - 1)));
}

template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    const unsigned lane = gg_emu::lane_id();
    const unsigned seg = lane & ~unsigned(width - 1);
    const unsigned src = lane + delta;
    return gg_emu::shfl_from(mask, var, src - seg < unsigned(width) ? src : lane);
}

template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    const unsigned lane = gg_emu::lane_id();
    const unsigned seg = lane & ~unsigned(width - 1);
    return gg_emu::shfl_from(mask, var, lane - seg >= delta ? lane - delta : lane);
}

template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize)
{
    const unsigned lane = gg_emu::lane_id();
    const unsigned seg = lane & ~unsigned(width - 1);
    const unsigned src = lane ^ unsigned(lane_mask);
    return gg_emu::shfl_from(mask, var, src - seg < unsigned(width) ? src : lane);
}

// ------------------------------------------------------------------------- device functions

template <typename T>
inline T __ldg(const T* p)
{
    return *p;
}

template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b)
{
    return b < a ? b : a;
}
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b)
{
    return a < b ? b : a;
}

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
