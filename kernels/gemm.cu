// gemm.cu - gpugate's own GEMM kernels (row-major, C = A*B), CUDA C for NVRTC.
//
// One templated implementation, gg_gemm<G, T, BM, BN, BK, TM, TN, KU>, instantiated as three
// families of explicit entry points. Every entry has the signature
//   (int M, int N, int K, const G* A, const G* B, T* C)
//   sgemm: G = T = float;  dgemm: G = T = double;
//   hgemm: G = unsigned short holding IEEE binary16 bit patterns, T = float (FP32 accumulate and
//          FP32 output)
// and its name encodes the tile: <s|d|h>gemm_<f32|f64|f16>_<BM>x<BN>x<BK>_t<TM>x<TN>.
// Launch: grid = (ceil(N / BN), ceil(M / BM)), block = ((BM/TM) * (BN/TN), 1, 1), no dynamic
// shared memory. src/kernels.rs (SGEMM_VARIANTS / DGEMM_VARIANTS / HGEMM_VARIANTS) must agree
// with the list at the end of this file, including the second argument of __launch_bounds__
// (min_blocks_per_sm); kernels/build.py --check verifies both.
//
// Every variant is correct for any M, N, K >= 0 (tiles that overhang the matrices are filled
// with zeros on load and masked on store; K = 0 writes zeros) and uses vector loads/stores only
// where a row is aligned and the whole vector is in range. Scheme:
//   * the block owns a BM x BN tile of C; its (BM/TM) x (BN/TN) threads each own a TM x TN
//     sub-block kept in registers, split into TM/VA row chunks of VA rows and TN/VB column chunks
//     of VB columns (VA, VB = up to 16 bytes of T), the chunks of one thread spaced a whole
//     thread-row apart, so that a warp's shared-memory fragment reads are broadcasts (A) or
//     contiguous 16-byte vectors (B);
//   * per k-step of BK, the A tile is stored transposed (k-major, As[k][m]) with its rows padded
//     to BM + 4 elements ((BM + 4) % 8 == 4), and the B tile as is (Bs[k][n]). The global loader
//     gives each 32-byte sector of an A row to adjacent lanes and the next sector's chunks to the
//     next warp, so a warp's transposing stores fall into disjoint banks (float and double, any
//     loader width) while each warp still reads whole sectors;
//   * double buffering: the next k-tile is fetched from global memory into registers while the
//     current one is consumed from shared memory, then written into the other shared buffer, so
//     there is one __syncthreads() per k-tile.
// Arithmetic is plain FP32 / FP64 multiply-add (contracted to FMA by the compiler); no tensor
// cores, no TF32. HGEMM runs on every GPU from sm_52, which has no FP16 arithmetic: the loaders
// keep the fetched halves packed (two per 32-bit register) until the tile is stored, convert
// each one to float exactly (gg_half_to_float, plain integer/float code) and store float tiles,
// so its shared memory and inner loop are SGEMM's.
//
// Static shared memory only (2 * BK * (BM + 4 + BN) * sizeof(T) bytes), no atomics, no inline
// PTX: the same source runs on the CPU in the test-only emulator (emu/), which calls the
// extern "C" wrappers below.

typedef unsigned long long gg_uptr;

// ----------------------------------------------------------------------------------------------
// Vector access of 1, 2 or 4 consecutive elements (at most 16 bytes, naturally aligned).
// ----------------------------------------------------------------------------------------------

template <typename T, int V>
struct GgVec;

template <>
struct GgVec<float, 1> {
    static __device__ __forceinline__ void load(float* r, const float* p) { r[0] = *p; }
    static __device__ __forceinline__ void store(float* p, const float* r) { *p = r[0]; }
};
template <>
struct GgVec<float, 2> {
    static __device__ __forceinline__ void load(float* r, const float* p)
    {
        const float2 v = *reinterpret_cast<const float2*>(p);
        r[0] = v.x; r[1] = v.y;
    }
    static __device__ __forceinline__ void store(float* p, const float* r)
    {
        *reinterpret_cast<float2*>(p) = make_float2(r[0], r[1]);
    }
};
template <>
struct GgVec<float, 4> {
    static __device__ __forceinline__ void load(float* r, const float* p)
    {
        const float4 v = *reinterpret_cast<const float4*>(p);
        r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    }
    static __device__ __forceinline__ void store(float* p, const float* r)
    {
        *reinterpret_cast<float4*>(p) = make_float4(r[0], r[1], r[2], r[3]);
    }
};
template <>
struct GgVec<double, 1> {
    static __device__ __forceinline__ void load(double* r, const double* p) { r[0] = *p; }
    static __device__ __forceinline__ void store(double* p, const double* r) { *p = r[0]; }
};
template <>
struct GgVec<double, 2> {
    static __device__ __forceinline__ void load(double* r, const double* p)
    {
        const double2 v = *reinterpret_cast<const double2*>(p);
        r[0] = v.x; r[1] = v.y;
    }
    static __device__ __forceinline__ void store(double* p, const double* r)
    {
        *reinterpret_cast<double2*>(p) = make_double2(r[0], r[1]);
    }
};

// ----------------------------------------------------------------------------------------------
// IEEE binary16 -> binary32, exact for every bit pattern (sm_52 has no FP16 arithmetic, and no
// inline PTX is used, so this is plain code that the emulator runs as is).
// ----------------------------------------------------------------------------------------------

// h: a binary16 bit pattern in the low 16 bits. Normals and subnormals in one multiply: the 15
// exponent/mantissa bits shifted into a float's place (<< 13) read as a float of exponent
// e - 127 (a float subnormal for a half subnormal); scaling by 2^112 rebiases it to e - 15,
// exactly (a power-of-two scale of a value that lands in float's normal range). Infinity and NaN
// (exponent 31) keep their payload; a NaN is made quiet, as the hardware and the `half` crate do.
__device__ __forceinline__ float gg_half_to_float(unsigned h)
{
    const unsigned em = h & 0x7fffu;
    const unsigned sign = (h & 0x8000u) << 16;
    unsigned bits = __float_as_uint(__uint_as_float(em << 13) * 0x1p112f);
    if (em >= 0x7c00u)
        bits = 0x7f800000u | (em << 13) | (em > 0x7c00u ? 0x00400000u : 0u);
    return __uint_as_float(bits | sign);
}

// ----------------------------------------------------------------------------------------------
// Loader registers: how a thread holds the elements it fetched from global memory (type G)
// until it stores them into shared memory (type T). Raw[(L + PER - 1) / PER] holds L elements.
// ----------------------------------------------------------------------------------------------

template <typename G, typename T>
struct GgIn;

// SGEMM / DGEMM: the elements themselves.
template <typename T>
struct GgIn<T, T> {
    typedef T Raw;
    static constexpr int PER = 1;
    template <int L>
    static __device__ __forceinline__ void load(Raw* r, const T* p) { GgVec<T, L>::load(r, p); }
    // Elements are put in order i = 0, 1, ...
    static __device__ __forceinline__ void put(Raw* r, int i, T v) { r[i] = v; }
    static __device__ __forceinline__ T get(const Raw* r, int i) { return r[i]; }
};

// HGEMM: binary16 bit patterns, two per 32-bit register (element 2j in the low half of r[j],
// as in memory on a little-endian GPU), converted to float by get().
template <>
struct GgIn<unsigned short, float> {
    typedef unsigned Raw;
    static constexpr int PER = 2;
    template <int L>
    static __device__ __forceinline__ void load(Raw* r, const unsigned short* p)
    {
        static_assert(L == 1 || L == 2 || L == 4 || L == 8, "1 to 8 halves (16 bytes)");
        if constexpr (L == 1) {
            r[0] = *p;
        } else if constexpr (L == 2) {
            r[0] = *reinterpret_cast<const unsigned*>(p);
        } else if constexpr (L == 4) {
            const uint2 v = *reinterpret_cast<const uint2*>(p);
            r[0] = v.x; r[1] = v.y;
        } else {
            const uint4 v = *reinterpret_cast<const uint4*>(p);
            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
        }
    }
    static __device__ __forceinline__ void put(Raw* r, int i, unsigned short v)
    {
        if (i % 2 == 0)
            r[i / 2] = v;
        else
            r[i / 2] |= (unsigned)v << 16;
    }
    static __device__ __forceinline__ float get(const Raw* r, int i)
    {
        return gg_half_to_float(i % 2 == 0 ? (r[i / 2] & 0xffffu) : (r[i / 2] >> 16));
    }
};

__device__ __forceinline__ constexpr int gg_min(int a, int b) { return a < b ? a : b; }

// ----------------------------------------------------------------------------------------------
// The implementation
// ----------------------------------------------------------------------------------------------

// G: element type of A and B in global memory; T: float or double, the type of the shared tiles,
// the arithmetic and C (G == T, or G = unsigned short (binary16) with T = float).
// BM x BN: block tile of C. BK: k-step. TM x TN: thread tile.
// KU: unroll factor of the k-loop over one tile. Every variant below unrolls fully (KU = BK): with
// the shift/mask index arithmetic of this file that fits every register cap without spills, and
// it is what ptxas schedules best. A partial unroll is the knob to turn if a new variant spills
// (e.g. 128x128x8_t8x8 at KU = 2 needs 114 / 122 registers on sm_52 / sm_90).
template <typename G, typename T, int BM, int BN, int BK, int TM, int TN, int KU>
__device__ __forceinline__ void gg_gemm(int M, int N, int K, const G* __restrict__ A,
                                        const G* __restrict__ B, T* __restrict__ C)
{
    typedef GgIn<G, T> In;
    constexpr int VMAX = 16 / (int)sizeof(T);   // elements of T in a 16-byte vector
    constexpr int VMAXG = 16 / (int)sizeof(G);  // elements of G in a 16-byte vector
    constexpr int TX = BN / TN;                 // threads along N
    constexpr int TY = BM / TM;                 // threads along M
    constexpr int NT = TX * TY;                 // threads per block

    // Fragments: TM rows as CM chunks of VA consecutive rows, TN columns as CN chunks of VB.
    constexpr int VA = gg_min(TM, VMAX);
    constexpr int VB = gg_min(TN, VMAX);
    constexpr int CM = TM / VA;
    constexpr int CN = TN / VB;

    // A loader: each thread loads PA vectors of LA consecutive k of one row per tile.
    constexpr int EA = BM * BK / NT;
    constexpr int LA = gg_min(gg_min(EA, VMAXG), BK);
    constexpr int PA = EA / LA;
    constexpr int SA = gg_min(BK / LA, 32 / (LA * (int)sizeof(G)));  // chunks per 32-byte sector
    // B loader: each thread loads PB vectors of LB consecutive columns of one k-row per tile,
    // stored into shared memory as vectors of SB elements of T.
    constexpr int EB = BK * BN / NT;
    constexpr int LB = gg_min(EB, VMAXG);
    constexpr int PB = EB / LB;
    constexpr int CB = BN / LB;                 // vectors per B row
    constexpr int SB = gg_min(LB, VMAX);
    // Loader registers per vector (halves travel packed, two per register).
    constexpr int RA = (LA + In::PER - 1) / In::PER;
    constexpr int RB = (LB + In::PER - 1) / In::PER;

    constexpr int APAD = 4;                     // (BM + APAD) % 8 == 4: conflict-free transposes
    constexpr int AS = BM + APAD;

    static_assert(BM % TM == 0 && BN % TN == 0, "tile must be a multiple of the thread tile");
    static_assert(NT % 32 == 0 && NT <= 1024, "threads per block: whole warps, at most 1024");
    static_assert(TM % VA == 0 && TN % VB == 0, "thread tile must be whole vectors");
    static_assert(EA * NT == BM * BK && PA * LA == EA && BK % LA == 0, "A tile loader shape");
    static_assert(EB * NT == BK * BN && PB * LB == EB && BN % LB == 0, "B tile loader shape");
    static_assert(LB % SB == 0, "B tile shared-memory stores");
    static_assert((BK / LA) % SA == 0 && BM % (32 / SA) == 0, "A loader: whole sectors per warp");
    static_assert(AS % 8 == 4, "A row padding");
    static_assert((AS * sizeof(T)) % 16 == 0 && (BN * sizeof(T)) % 16 == 0, "16-byte rows");
    static_assert(2 * BK * (AS + BN) * sizeof(T) <= 48 * 1024, "static shared memory > 48 KB");
    static_assert(BK % KU == 0, "KU must divide BK");

    __shared__ __align__(16) T As[2][BK][AS];
    __shared__ __align__(16) T Bs[2][BK][BN];

    const unsigned tid = threadIdx.x;   // unsigned: the divisions below are shifts and masks
    const int tx = (int)(tid % TX);
    const int ty = (int)(tid / TX);
    const int bm = blockIdx.y * BM;
    const int bn = blockIdx.x * BN;

    // Loader coordinates. A: flat index f = tid + p * NT -> (chunk c, row); adjacent lanes take
    // the SA chunks of one sector of a row, then the next row; the next sector is another warp's.
    int a_row[PA], a_k[PA];
    bool a_ok[PA];
    long long a_off[PA];
#pragma unroll
    for (int p = 0; p < PA; ++p) {
        const unsigned f = tid + p * NT;
        const unsigned rest = f / SA;
        a_row[p] = (int)(rest % BM);
        a_k[p] = (int)(((rest / BM) * SA + f % SA) * LA);
        a_ok[p] = bm + a_row[p] < M;
        a_off[p] = (long long)(a_ok[p] ? bm + a_row[p] : 0) * K;
    }
    int b_k[PB], b_col[PB];
#pragma unroll
    for (int p = 0; p < PB; ++p) {
        const unsigned f = tid + p * NT;
        b_k[p] = (int)(f / CB);
        b_col[p] = (int)((f % CB) * LB);
    }
    const bool a_vec = (K % LA == 0) && (reinterpret_cast<gg_uptr>(A) % (LA * sizeof(G)) == 0);
    const bool b_vec = (N % LB == 0) && (reinterpret_cast<gg_uptr>(B) % (LB * sizeof(G)) == 0);

    typename In::Raw ra[PA][RA], rb[PB][RB];

    // Fetches k-tile starting at k0 into ra / rb (zeros outside the matrices).
    auto fetch = [&](int k0) {
#pragma unroll
        for (int p = 0; p < PA; ++p) {
            const int k = k0 + a_k[p];
            const G* src = A + (a_off[p] + k);
            if (a_ok[p] && a_vec && k + LA <= K) {
                In::template load<LA>(ra[p], src);
            } else {
#pragma unroll
                for (int i = 0; i < LA; ++i)
                    In::put(ra[p], i, (a_ok[p] && k + i < K) ? src[i] : G(0));
            }
        }
#pragma unroll
        for (int p = 0; p < PB; ++p) {
            const int k = k0 + b_k[p];
            const int col = bn + b_col[p];
            const G* src = B + ((long long)k * N + col);
            if (k < K && b_vec && col + LB <= N) {
                In::template load<LB>(rb[p], src);
            } else {
#pragma unroll
                for (int i = 0; i < LB; ++i)
                    In::put(rb[p], i, (k < K && col + i < N) ? src[i] : G(0));
            }
        }
    };
    // Stores the fetched tile into shared buffer `buf` (A transposed), converting to T.
    auto stash = [&](int buf) {
#pragma unroll
        for (int p = 0; p < PA; ++p)
#pragma unroll
            for (int i = 0; i < LA; ++i)
                As[buf][a_k[p] + i][a_row[p]] = In::get(ra[p], i);
#pragma unroll
        for (int p = 0; p < PB; ++p) {
            if constexpr (In::PER == 1 && SB == LB) {
                GgVec<T, LB>::store(&Bs[buf][b_k[p]][b_col[p]], rb[p]);   // SGEMM, DGEMM
            } else {
                T v[LB];
#pragma unroll
                for (int i = 0; i < LB; ++i)
                    v[i] = In::get(rb[p], i);
#pragma unroll
                for (int c = 0; c < LB / SB; ++c)
                    GgVec<T, SB>::store(&Bs[buf][b_k[p]][b_col[p] + c * SB], &v[c * SB]);
            }
        }
    };

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j)
            acc[i][j] = T(0);

    const int ntiles = (K + BK - 1) / BK;
    fetch(0);
    stash(0);
    __syncthreads();

    for (int t = 0; t < ntiles; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < ntiles;
        if (more)
            fetch((t + 1) * BK);   // lands in shared memory after the math

#pragma unroll KU
        for (int kk = 0; kk < BK; ++kk) {
            T a[TM], b[TN];
#pragma unroll
            for (int c = 0; c < CM; ++c)
                GgVec<T, VA>::load(&a[c * VA], &As[cur][kk][c * (TY * VA) + ty * VA]);
#pragma unroll
            for (int c = 0; c < CN; ++c)
                GgVec<T, VB>::load(&b[c * VB], &Bs[cur][kk][c * (TX * VB) + tx * VB]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j)
                    acc[i][j] += a[i] * b[j];
        }

        if (more)
            stash(cur ^ 1);
        __syncthreads();
    }

    const bool c_vec = (N % VB == 0) && (reinterpret_cast<gg_uptr>(C) % (VB * sizeof(T)) == 0);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        const int row = bm + (i / VA) * (TY * VA) + ty * VA + i % VA;
        if (row < M) {
            T* crow = C + (long long)row * N;
#pragma unroll
            for (int c = 0; c < CN; ++c) {
                const int col = bn + c * (TX * VB) + tx * VB;
                if (c_vec && col + VB <= N) {
                    GgVec<T, VB>::store(crow + col, &acc[i][c * VB]);
                } else {
#pragma unroll
                    for (int j = 0; j < VB; ++j)
                        if (col + j < N)
                            crow[col + j] = acc[i][c * VB + j];
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The variants (entry points). Keep in step with SGEMM_VARIANTS / DGEMM_VARIANTS /
// HGEMM_VARIANTS in src/kernels.rs: __launch_bounds__(threads, min_blocks_per_sm).
// ----------------------------------------------------------------------------------------------

// SGEMM, large tile (the default before tuning): 256 threads, 8x8 per thread, two blocks per SM
// on sm_52 (<= 128 registers).
extern "C" __global__ void __launch_bounds__(256, 2)
sgemm_f32_128x128x8_t8x8(int M, int N, int K, const float* __restrict__ A,
                         const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<float, float, 128, 128, 8, 8, 8, 8>(M, N, K, A, B, C);
}

// SGEMM 128x64: half the columns per block (twice the blocks of 128x128), 8x4 per thread.
extern "C" __global__ void __launch_bounds__(256, 2)
sgemm_f32_128x64x8_t8x4(int M, int N, int K, const float* __restrict__ A,
                        const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<float, float, 128, 64, 8, 8, 4, 8>(M, N, K, A, B, C);
}

// SGEMM 64x64, k-step 8: small tiles for small or skinny shapes and GPUs with many SMs; four
// blocks per SM on sm_52 (<= 64 registers).
extern "C" __global__ void __launch_bounds__(256, 4)
sgemm_f32_64x64x8_t4x4(int M, int N, int K, const float* __restrict__ A,
                       const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<float, float, 64, 64, 8, 4, 4, 8>(M, N, K, A, B, C);
}

// SGEMM 64x64, k-step 16: half the __syncthreads() per k of the k-step-8 variant; four blocks
// per SM.
extern "C" __global__ void __launch_bounds__(256, 4)
sgemm_f32_64x64x16_t4x4(int M, int N, int K, const float* __restrict__ A,
                        const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<float, float, 64, 64, 16, 4, 4, 16>(M, N, K, A, B, C);
}

// DGEMM 64x64 (the default before tuning): 256 threads, 4x4 doubles per thread, two blocks per
// SM.
extern "C" __global__ void __launch_bounds__(256, 2)
dgemm_f64_64x64x8_t4x4(int M, int N, int K, const double* __restrict__ A,
                       const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm<double, double, 64, 64, 8, 4, 4, 8>(M, N, K, A, B, C);
}

// DGEMM 128x64: 8x4 doubles per thread (more reuse per shared-memory load), two blocks per SM.
extern "C" __global__ void __launch_bounds__(256, 2)
dgemm_f64_128x64x8_t8x4(int M, int N, int K, const double* __restrict__ A,
                        const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm<double, double, 128, 64, 8, 8, 4, 8>(M, N, K, A, B, C);
}

// DGEMM 32x32: 2x2 doubles per thread, for small and skinny shapes; four blocks per SM.
extern "C" __global__ void __launch_bounds__(256, 4)
dgemm_f64_32x32x8_t2x2(int M, int N, int K, const double* __restrict__ A,
                       const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm<double, double, 32, 32, 8, 2, 2, 8>(M, N, K, A, B, C);
}

// DGEMM 64x64, k-step 16: half the __syncthreads() per k; 33 KB of shared memory per block, so
// two blocks per SM on sm_52 by registers and by shared memory alike.
extern "C" __global__ void __launch_bounds__(256, 2)
dgemm_f64_64x64x16_t4x4(int M, int N, int K, const double* __restrict__ A,
                        const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm<double, double, 64, 64, 16, 4, 4, 16>(M, N, K, A, B, C);
}

// HGEMM (binary16 A and B, FP32 accumulate, FP32 C) on CUDA cores, for every GPU from sm_52: the
// SGEMM default's tile; 256 threads, 8x8 floats per thread, two blocks per SM (<= 128 registers).
extern "C" __global__ void __launch_bounds__(256, 2)
hgemm_f16_128x128x8_t8x8(int M, int N, int K, const unsigned short* __restrict__ A,
                         const unsigned short* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<unsigned short, float, 128, 128, 8, 8, 8, 8>(M, N, K, A, B, C);
}

// HGEMM 64x64: small tiles for small or skinny shapes; four blocks per SM (<= 64 registers).
extern "C" __global__ void __launch_bounds__(256, 4)
hgemm_f16_64x64x8_t4x4(int M, int N, int K, const unsigned short* __restrict__ A,
                       const unsigned short* __restrict__ B, float* __restrict__ C)
{
    gg_gemm<unsigned short, float, 64, 64, 8, 4, 4, 8>(M, N, K, A, B, C);
}
