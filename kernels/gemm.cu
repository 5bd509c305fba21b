// gemm.cu - gpugate's own GEMM kernels (row-major, C = A*B), CUDA C for NVRTC.
//
// Four templates, instantiated as explicit entry points of three families (SGEMM, DGEMM, HGEMM):
//   gg_gemm        CUDA cores, double buffering through registers (every GPU from sm_52);
//   gg_gemm_async  CUDA cores, STAGES-deep cp.async pipeline (sm_80+; same thread tile, GgTile);
//   gg_dmma        DGEMM on the tensor cores, mma.sync m8n8k4 f64 (sm_80+);
//   gg_hmma        HGEMM on the tensor cores, wmma m16n16k16 with FP32 accumulate (sm_70+).
// The sm_70+ / sm_80+ entries sit behind #if __CUDA_ARCH__ >= ... and are built into the
// compute_70 / compute_80 modules. What follows up to "Static shared memory" describes gg_gemm;
// the others are described where they are defined. Every entry has the signature
//   (int M, int N, int K, const G* A, const G* B, T* C)
//   sgemm: G = T = float;  dgemm: G = T = double;
//   hgemm: G = unsigned short holding IEEE binary16 bit patterns, T = float (FP32 accumulate and
//          FP32 output)
// and its name encodes the tile: <s|d|h>gemm_<f32|f64|f16>_<BM>x<BN>x<BK>_t<TM>x<TN>, with
// _s<STAGES> for the cp.async ones and _tc_..._w<WM>x<WN>_s<STAGES> (warp tile) on the tensor
// cores. Launch: grid = (ceil(N / BN), ceil(M / BM)), block = ((BM/TM) * (BN/TN), 1, 1) on the
// CUDA cores, 32 * (BM/WM) * (BN/WN) threads on the tensor cores; no dynamic shared memory. src/kernels/gemm.rs (SGEMM_VARIANTS / DGEMM_VARIANTS / HGEMM_VARIANTS) must agree
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
// Static shared memory only (gg_gemm: 2 * BK * (BM + 4 + BN) * sizeof(T) bytes), no atomics.
// Inline PTX only for cp.async, mma.sync and wmma. Without a GPU, the tests run the committed PTX
// itself on the simulated GPU of the workspace (sim/, gpugate-sim).

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
// IEEE binary16 -> binary32, exact for every bit pattern (sm_52 has no FP16 arithmetic: plain
// integer and float code, no inline PTX).
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
// The CUDA-core thread tile: shape, inner product of one staged k-tile, and the store of C.
// Shared by both pipelines (gg_gemm: registers; gg_gemm_async: cp.async).
// ----------------------------------------------------------------------------------------------

// T: float or double. BM x BN: block tile of C, TM x TN: thread tile. Threads are laid out
// TX = BN/TN along N (fastest) by TY = BM/TM along M.
template <typename T, int BM, int BN, int TM, int TN>
struct GgTile {
    static constexpr int VMAX = 16 / (int)sizeof(T);   // elements of T in a 16-byte vector
    static constexpr int TX = BN / TN;                 // threads along N
    static constexpr int TY = BM / TM;                 // threads along M
    static constexpr int NT = TX * TY;                 // threads per block
    // Fragments: TM rows as CM chunks of VA consecutive rows, TN columns as CN chunks of VB.
    static constexpr int VA = gg_min(TM, VMAX);
    static constexpr int VB = gg_min(TN, VMAX);
    static constexpr int CM = TM / VA;
    static constexpr int CN = TN / VB;
    static constexpr int AS = BM + 4;                  // (BM + 4) % 8 == 4: conflict-free transposes

    static_assert(BM % TM == 0 && BN % TN == 0, "tile must be a multiple of the thread tile");
    static_assert(NT % 32 == 0 && NT <= 1024, "threads per block: whole warps, at most 1024");
    static_assert(TM % VA == 0 && TN % VB == 0, "thread tile must be whole vectors");
    static_assert(AS % 8 == 4, "A row padding");
    static_assert((AS * sizeof(T)) % 16 == 0 && (BN * sizeof(T)) % 16 == 0, "16-byte rows");

    // acc += As^T * Bs over the BK k-rows of one staged tile (As: k-major, transposed A).
    template <int BK, int KU>
    static __device__ __forceinline__ void mac(T (&acc)[TM][TN], const T (*As)[AS],
                                               const T (*Bs)[BN], int tx, int ty)
    {
#pragma unroll KU
        for (int kk = 0; kk < BK; ++kk) {
            T a[TM], b[TN];
#pragma unroll
            for (int c = 0; c < CM; ++c)
                GgVec<T, VA>::load(&a[c * VA], &As[kk][c * (TY * VA) + ty * VA]);
#pragma unroll
            for (int c = 0; c < CN; ++c)
                GgVec<T, VB>::load(&b[c * VB], &Bs[kk][c * (TX * VB) + tx * VB]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j)
                    acc[i][j] += a[i] * b[j];
        }
    }

    // Writes the thread's TM x TN tile of C (rows/columns outside M x N are skipped).
    static __device__ __forceinline__ void store(int M, int N, T* __restrict__ C,
                                                 const T (&acc)[TM][TN], int bm, int bn, int tx,
                                                 int ty)
    {
        const bool c_vec =
            (N % VB == 0) && (reinterpret_cast<gg_uptr>(C) % (VB * sizeof(T)) == 0);
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
};

// KU (the unroll of a k-tile's inner loop) for one variant where ptxas for sm_70 / sm_75 (the
// compute_70 build) would spill at the full unroll that every other architecture takes.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700 && __CUDA_ARCH__ < 800
#define GG_KU_SM7X(full, sm7x) (sm7x)
#else
#define GG_KU_SM7X(full, sm7x) (full)
#endif

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
    typedef GgTile<T, BM, BN, TM, TN> Tile;
    constexpr int VMAX = Tile::VMAX;            // elements of T in a 16-byte vector
    constexpr int VMAXG = 16 / (int)sizeof(G);  // elements of G in a 16-byte vector
    constexpr int TX = Tile::TX;
    constexpr int NT = Tile::NT;

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

    constexpr int AS = Tile::AS;

    static_assert(EA * NT == BM * BK && PA * LA == EA && BK % LA == 0, "A tile loader shape");
    static_assert(EB * NT == BK * BN && PB * LB == EB && BN % LB == 0, "B tile loader shape");
    static_assert(LB % SB == 0, "B tile shared-memory stores");
    static_assert((BK / LA) % SA == 0 && BM % (32 / SA) == 0, "A loader: whole sectors per warp");
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

        Tile::template mac<BK, KU>(acc, As[cur], Bs[cur], tx, ty);

        if (more)
            stash(cur ^ 1);
        __syncthreads();
    }

    Tile::store(M, N, C, acc, bm, bn, tx, ty);
}

// ----------------------------------------------------------------------------------------------
// Asynchronous copies global -> shared (cp.async, sm_80+). In the sm_70 build they are plain
// loads and stores (synchronous: no overlap, same results) and commit / wait are no-ops. The
// simulator (sim/) lands each copy only at the wait that covers it, as the hardware may, so a
// stage read before its wait shows up there as a wrong result. These and the tensor-core
// instructions below are the file's only inline PTX.
// ----------------------------------------------------------------------------------------------

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define GG_CP_ASYNC 1
#endif

template <int BYTES>
struct GgRaw;
template <>
struct GgRaw<4> { typedef unsigned type; };
template <>
struct GgRaw<8> { typedef uint2 type; };
template <>
struct GgRaw<16> { typedef uint4 type; };

// Copies BYTES (4, 8 or 16, naturally aligned at both ends) from src to the shared dst when
// `valid`; fills dst with zeros otherwise (src is then not read, but must still be a valid
// global address).
template <int BYTES>
__device__ __forceinline__ void gg_cp_async(void* dst, const void* src, bool valid)
{
#ifdef GG_CP_ASYNC
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    if constexpr (BYTES == 16)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
                     "r"(valid ? 16 : 0) : "memory");
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(d), "l"(src),
                     "n"(BYTES), "r"(valid ? BYTES : 0) : "memory");
#else
    typedef typename GgRaw<BYTES>::type R;   // sm_70 / sm_75: a plain, synchronous copy
    R v{};
    if (valid)
        v = *reinterpret_cast<const R*>(src);
    *reinterpret_cast<R*>(dst) = v;
#endif
}

__device__ __forceinline__ void gg_cp_async_commit()
{
#ifdef GG_CP_ASYNC
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void gg_cp_async_wait()
{
#ifdef GG_CP_ASYNC
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// Stages V consecutive elements of T (V * sizeof(T) == 16 bytes) at src into the shared dst
// (16-byte aligned): one 16-byte cp.async when the whole vector is in range and aligned (`vec`),
// else element by element, zero-filled past `nvalid` (those copies are cp.async too for 4- and
// 8-byte T, with `any`, an element-aligned pointer into the operand, as the unread source; plain
// loads and stores for binary16). A vector wholly out of range is zeroed with a plain shared
// store: a 16-byte zero-fill cp.async would still need a 16-byte aligned source, which an
// operand at an odd element offset does not have (found by gpugate-sim's alignment check).
template <typename T, int V>
__device__ __forceinline__ void gg_stage(T* dst, const T* src, int nvalid, bool vec, const T* any)
{
    static_assert(V * sizeof(T) == 16, "a 16-byte vector");
    if (vec && nvalid >= V) {
        gg_cp_async<16>(dst, src, true);
    } else if (nvalid <= 0) {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0u, 0u, 0u, 0u);
    } else if constexpr (sizeof(T) >= 4) {
#pragma unroll
        for (int i = 0; i < V; ++i)
            gg_cp_async<(int)sizeof(T)>(dst + i, i < nvalid ? src + i : any, i < nvalid);
    } else {
#pragma unroll
        for (int i = 0; i < V; ++i)
            dst[i] = i < nvalid ? src[i] : T(0);
    }
}

// ----------------------------------------------------------------------------------------------
// CUDA cores with a STAGES-deep cp.async pipeline (sm_80+): the same thread tile and inner loop
// as gg_gemm, but the tiles go from global to shared memory without passing through registers,
// STAGES - 1 of them in flight while one is consumed. A is still stored transposed: it is
// copied element by element (4 or 8 bytes per cp.async) into As[k][m], adjacent lanes taking
// the consecutive k of one 32-byte sector of a row (conflict-free banks, as in gg_gemm); B goes
// in 16-byte vectors. One __syncthreads() per k-tile.
// ----------------------------------------------------------------------------------------------

template <typename T, int BM, int BN, int BK, int TM, int TN, int STAGES, int KU>
__device__ __forceinline__ void gg_gemm_async(int M, int N, int K, const T* __restrict__ A,
                                              const T* __restrict__ B, T* __restrict__ C)
{
    typedef GgTile<T, BM, BN, TM, TN> Tile;
    constexpr int NT = Tile::NT;
    constexpr int TX = Tile::TX;
    constexpr int AS = Tile::AS;
    constexpr int V = 16 / (int)sizeof(T);           // elements per 16-byte vector
    constexpr int SE = gg_min(BK, 32 / (int)sizeof(T));   // k per 32-byte sector of an A row
    constexpr int EA = BM * BK / NT;                 // A elements per thread per tile
    constexpr int VBT = BK * BN / V;                 // B vectors per tile
    constexpr int PB = (VBT + NT - 1) / NT;          // B vectors per thread (the last partial)
    constexpr int CB = BN / V;                       // B vectors per row

    static_assert(EA * NT == BM * BK && BK % SE == 0, "A tile loader shape");
    static_assert(BN % V == 0, "B rows are whole vectors");
    static_assert(STAGES >= 2, "at least two stages");
    static_assert(STAGES * BK * (AS + BN) * sizeof(T) <= 48 * 1024,
                  "static shared memory > 48 KB");

    __shared__ __align__(16) T As[STAGES][BK][AS];
    __shared__ __align__(16) T Bs[STAGES][BK][BN];

    const unsigned tid = threadIdx.x;
    const int tx = (int)(tid % TX);
    const int ty = (int)(tid / TX);
    const int bm = blockIdx.y * BM;
    const int bn = blockIdx.x * BN;

    const bool b_vec = (N % V == 0) && (reinterpret_cast<gg_uptr>(B) % 16 == 0);

    // Issues the copies of the k-tile starting at k0 into stage s. (The loader coordinates are
    // recomputed from tid each time, shifts and masks, rather than kept in registers.)
    auto load = [&](int s, int k0) {
#pragma unroll
        for (int p = 0; p < EA; ++p) {
            const unsigned f = tid + p * NT;
            const unsigned rest = f / SE;
            const int r = (int)(rest % BM);
            const int kr = (int)((rest / BM) * SE + f % SE);
            const int row = bm + r;
            const int k = k0 + kr;
            const bool ok = row < M && k < K;
            gg_cp_async<(int)sizeof(T)>(&As[s][kr][r], ok ? A + ((long long)row * K + k) : A,
                                        ok);
        }
#pragma unroll
        for (int p = 0; p < PB; ++p) {
            const int f = (int)tid + p * NT;
            if (VBT % NT == 0 || f < VBT) {
                const int kr = f / CB;
                const int c = (f % CB) * V;
                const int k = k0 + kr;
                const int col = bn + c;
                const int nvalid = k < K ? gg_min(N - col, V) : 0;
                gg_stage<T, V>(&Bs[s][kr][c], B + ((long long)(k < K ? k : 0) * N + col),
                               nvalid, b_vec, B);
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
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ntiles)
            load(s, s * BK);
        gg_cp_async_commit();   // one group per stage, empty or not, to keep the count
    }
    for (int t = 0; t < ntiles; ++t) {
        gg_cp_async_wait<STAGES - 2>();   // tile t has landed (for this thread) ...
        __syncthreads();                  // ... for every thread; and tile t - 1 is consumed
        const int next = t + STAGES - 1;
        if (next < ntiles)
            load(next % STAGES, next * BK);   // into the stage tile t - 1 used
        gg_cp_async_commit();
        const int cur = t % STAGES;
        Tile::template mac<BK, KU>(acc, As[cur], Bs[cur], tx, ty);
    }

    Tile::store(M, N, C, acc, bm, bn, tx, ty);
}

// ----------------------------------------------------------------------------------------------
// Tensor cores, shared by DMMA and HMMA: the block owns a BM x BN tile of C, split into warp
// tiles of WM x WN (warps laid out along N fastest); A is staged as is (BM rows of BK + PAD,
// k contiguous) and B as is (BK rows of BN + PAD), in 16-byte cp.async vectors, STAGES deep.
// ----------------------------------------------------------------------------------------------

template <typename G, int BM, int BN, int BK, int STAGES, int PAD, int NT>
struct GgTcStage {
    static constexpr int V = 16 / (int)sizeof(G);   // elements per 16-byte vector
    static constexpr int LDA = BK + PAD;
    static constexpr int LDB = BN + PAD;
    static constexpr int VA = BM * BK / V;          // A vectors per tile
    static constexpr int VBT = BK * BN / V;         // B vectors per tile
    static_assert(BK % V == 0 && BN % V == 0, "tile rows are whole vectors");
    static_assert(VA % NT == 0 && VBT % NT == 0, "every thread copies as many vectors");
    static_assert((LDA * sizeof(G)) % 16 == 0 && (LDB * sizeof(G)) % 16 == 0, "16-byte rows");

    // Issues the copies of the k-tile starting at k0 (zeros outside the matrices).
    static __device__ __forceinline__ void load(G (*As)[LDA], G (*Bs)[LDB], int M, int N, int K,
                                                const G* __restrict__ A,
                                                const G* __restrict__ B, int bm, int bn, int k0,
                                                bool a_vec, bool b_vec)
    {
        const int tid = (int)threadIdx.x;
#pragma unroll
        for (int p = 0; p < VA / NT; ++p) {
            const int f = tid + p * NT;
            const int r = f / (BK / V);
            const int c = (f % (BK / V)) * V;
            const int row = bm + r;
            const int k = k0 + c;
            const int nvalid = row < M ? gg_min(K - k, V) : 0;
            gg_stage<G, V>(&As[r][c], A + ((long long)(row < M ? row : 0) * K + k), nvalid,
                           a_vec, A);
        }
#pragma unroll
        for (int p = 0; p < VBT / NT; ++p) {
            const int f = tid + p * NT;
            const int r = f / (BN / V);
            const int c = (f % (BN / V)) * V;
            const int k = k0 + r;
            const int col = bn + c;
            const int nvalid = k < K ? gg_min(N - col, V) : 0;
            gg_stage<G, V>(&Bs[r][c], B + ((long long)(k < K ? k : 0) * N + col), nvalid, b_vec,
                           B);
        }
    }
};

// ---- DMMA: mma.sync.aligned.m8n8k4.row.col.f64 (sm_80+) ---------------------------------------
// Per warp and k-step of 4, for each 8x8 tile (i, j) of its warp tile: lane l (g = l / 4,
// q = l % 4) holds a = A[8i + g][q], b = B[q][8j + g] and the accumulators
// C[8i + g][8j + 2q], C[8i + g][8j + 2q + 1].
template <int MT, int NTL>
__device__ __forceinline__ void gg_dmma_step(double (&acc)[MT][NTL][2], const double (&a)[MT],
                                             const double (&b)[NTL])
{
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NTL; ++j)
            asm volatile("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0, %1}, {%2}, {%3}, "
                         "{%0, %1};\n"
                         : "+d"(acc[i][j][0]), "+d"(acc[i][j][1])
                         : "d"(a[i]), "d"(b[j]));
}

template <int BM, int BN, int BK, int WM, int WN, int STAGES>
__device__ __forceinline__ void gg_dmma(int M, int N, int K, const double* __restrict__ A,
                                        const double* __restrict__ B, double* __restrict__ C)
{
    constexpr int WX = BN / WN;                 // warps along N
    constexpr int NT = (BM / WM) * WX * 32;
    constexpr int MT = WM / 8, NTL = WN / 8;    // 8x8 tiles per warp
    typedef GgTcStage<double, BM, BN, BK, STAGES, 4, NT> St;
    static_assert(BM % WM == 0 && BN % WN == 0 && WM % 8 == 0 && WN % 8 == 0 && BK % 4 == 0,
                  "warp tiles of whole 8x8 tiles, k-steps of 4");
    static_assert(STAGES >= 2, "at least two stages");
    static_assert(STAGES * (BM * St::LDA + BK * St::LDB) * sizeof(double) <= 48 * 1024,
                  "static shared memory > 48 KB");

    __shared__ __align__(16) double As[STAGES][BM][St::LDA];
    __shared__ __align__(16) double Bs[STAGES][BK][St::LDB];

    const int warp = (int)threadIdx.x / 32, lane = (int)threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4;
    const int wm = (warp / WX) * WM, wn = (warp % WX) * WN;
    const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
    const bool a_vec = (K % 2 == 0) && (reinterpret_cast<gg_uptr>(A) % 16 == 0);
    const bool b_vec = (N % 2 == 0) && (reinterpret_cast<gg_uptr>(B) % 16 == 0);

    double acc[MT][NTL][2];
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NTL; ++j)
            acc[i][j][0] = acc[i][j][1] = 0.0;

    const int ntiles = (K + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ntiles)
            St::load(As[s], Bs[s], M, N, K, A, B, bm, bn, s * BK, a_vec, b_vec);
        gg_cp_async_commit();
    }
    for (int t = 0; t < ntiles; ++t) {
        gg_cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int next = t + STAGES - 1;
        if (next < ntiles)
            St::load(As[next % STAGES], Bs[next % STAGES], M, N, K, A, B, bm, bn, next * BK,
                     a_vec, b_vec);
        gg_cp_async_commit();
        const int cur = t % STAGES;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 4) {
            double a[MT], b[NTL];
#pragma unroll
            for (int i = 0; i < MT; ++i)
                a[i] = As[cur][wm + 8 * i + g][kk + q];
#pragma unroll
            for (int j = 0; j < NTL; ++j)
                b[j] = Bs[cur][kk + q][wn + 8 * j + g];
            gg_dmma_step<MT, NTL>(acc, a, b);
        }
    }

    const bool c_vec = (N % 2 == 0) && (reinterpret_cast<gg_uptr>(C) % 16 == 0);
#pragma unroll
    for (int i = 0; i < MT; ++i) {
        const int row = bm + wm + 8 * i + g;
        if (row >= M)
            continue;
#pragma unroll
        for (int j = 0; j < NTL; ++j) {
            const int col = bn + wn + 8 * j + 2 * q;
            double* c = C + ((long long)row * N + col);
            if (c_vec && col + 2 <= N) {
                GgVec<double, 2>::store(c, acc[i][j]);
            } else {
                if (col < N)
                    c[0] = acc[i][j][0];
                if (col + 1 < N)
                    c[1] = acc[i][j][1];
            }
        }
    }
}

// ---- HMMA: wmma m16n16k16, binary16 inputs, FP32 accumulate (sm_70+) --------------------------
// Fragments are 8 32-bit registers (A and B: 16 halves, packed two per register; C: 8 floats)
// in the hardware's own layout, loaded from and stored to shared memory by wmma itself (nothing
// else depends on that layout).
#if __CUDA_ARCH__ >= 700

// Loads the 16x16 A (row-major, ldm halves per row) or B (row-major, k x n) fragment.
template <bool IS_A>
__device__ __forceinline__ void gg_wmma_load(unsigned (&f)[8], const unsigned short* p, int ldm)
{
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    if constexpr (IS_A)
        asm volatile("wmma.load.a.sync.aligned.row.m16n16k16.shared.f16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7}, [%8], %9;\n"
                     : "=r"(f[0]), "=r"(f[1]), "=r"(f[2]), "=r"(f[3]), "=r"(f[4]), "=r"(f[5]),
                       "=r"(f[6]), "=r"(f[7])
                     : "r"(a), "r"(ldm));
    else
        asm volatile("wmma.load.b.sync.aligned.row.m16n16k16.shared.f16 "
                     "{%0, %1, %2, %3, %4, %5, %6, %7}, [%8], %9;\n"
                     : "=r"(f[0]), "=r"(f[1]), "=r"(f[2]), "=r"(f[3]), "=r"(f[4]), "=r"(f[5]),
                       "=r"(f[6]), "=r"(f[7])
                     : "r"(a), "r"(ldm));
}

// acc[i][j] += A_i * B_j for the warp's FM x FN fragments.
template <int FM, int FN>
__device__ __forceinline__ void gg_wmma_step(float (&acc)[FM][FN][8], const unsigned (&a)[FM][8],
                                             const unsigned (&b)[FN][8])
{
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) {
            float* d = acc[i][j];
            asm volatile("wmma.mma.sync.aligned.row.row.m16n16k16.f32.f32 "
                         "{%0, %1, %2, %3, %4, %5, %6, %7}, "
                         "{%8, %9, %10, %11, %12, %13, %14, %15}, "
                         "{%16, %17, %18, %19, %20, %21, %22, %23}, "
                         "{%0, %1, %2, %3, %4, %5, %6, %7};\n"
                         : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]),
                           "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
                         : "r"(a[i][0]), "r"(a[i][1]), "r"(a[i][2]), "r"(a[i][3]), "r"(a[i][4]),
                           "r"(a[i][5]), "r"(a[i][6]), "r"(a[i][7]), "r"(b[j][0]), "r"(b[j][1]),
                           "r"(b[j][2]), "r"(b[j][3]), "r"(b[j][4]), "r"(b[j][5]), "r"(b[j][6]),
                           "r"(b[j][7]));
        }
}

// Stores a 16x16 FP32 accumulator fragment to shared memory (row-major, ldm floats per row).
__device__ __forceinline__ void gg_wmma_store(float* p, const float (&d)[8], int ldm)
{
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("wmma.store.d.sync.aligned.row.m16n16k16.shared.f32 "
                 "[%0], {%1, %2, %3, %4, %5, %6, %7, %8}, %9;\n" ::"r"(a),
                 "f"(d[0]), "f"(d[1]), "f"(d[2]), "f"(d[3]), "f"(d[4]), "f"(d[5]), "f"(d[6]),
                 "f"(d[7]), "r"(ldm)
                 : "memory");
}

template <int BM, int BN, int BK, int WM, int WN, int STAGES>
__device__ __forceinline__ void gg_hmma(int M, int N, int K, const unsigned short* __restrict__ A,
                                        const unsigned short* __restrict__ B,
                                        float* __restrict__ C)
{
    constexpr int WX = BN / WN;                 // warps along N
    constexpr int NW = (BM / WM) * WX;          // warps
    constexpr int NT = NW * 32;
    constexpr int FM = WM / 16, FN = WN / 16;   // 16x16 fragments per warp
    typedef GgTcStage<unsigned short, BM, BN, BK, STAGES, 8, NT> St;
    static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 16 == 0 && BK % 16 == 0,
                  "warp tiles of whole 16x16 fragments, k-steps of 16");
    static_assert(STAGES >= 2, "at least two stages");
    static_assert(STAGES * (BM * St::LDA + BK * St::LDB) * 2 <= 48 * 1024,
                  "static shared memory > 48 KB");
    // The epilogue reuses the A stages as one 16x16 float scratch per warp.
    static_assert(NW * 16 * 16 * 4 <= STAGES * BM * St::LDA * 2, "epilogue scratch");
    // wmma wants 32-byte aligned fragments and ldm a multiple of 8 halves / 4 floats.
    static_assert((BM * St::LDA * 2) % 32 == 0 && (BK * St::LDB * 2) % 32 == 0 &&
                  (16 * St::LDA * 2) % 32 == 0 && (16 * St::LDB * 2) % 32 == 0,
                  "32-byte aligned fragments");

    __shared__ __align__(128) unsigned short As[STAGES][BM][St::LDA];
    __shared__ __align__(128) unsigned short Bs[STAGES][BK][St::LDB];

    const int warp = (int)threadIdx.x / 32, lane = (int)threadIdx.x % 32;
    const int wm = (warp / WX) * WM, wn = (warp % WX) * WN;
    const int bm = blockIdx.y * BM, bn = blockIdx.x * BN;
    const bool a_vec = (K % 8 == 0) && (reinterpret_cast<gg_uptr>(A) % 16 == 0);
    const bool b_vec = (N % 8 == 0) && (reinterpret_cast<gg_uptr>(B) % 16 == 0);

    float acc[FM][FN][8];
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j)
#pragma unroll
            for (int e = 0; e < 8; ++e)
                acc[i][j][e] = 0.0f;

    const int ntiles = (K + BK - 1) / BK;
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ntiles)
            St::load(As[s], Bs[s], M, N, K, A, B, bm, bn, s * BK, a_vec, b_vec);
        gg_cp_async_commit();
    }
    for (int t = 0; t < ntiles; ++t) {
        gg_cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int next = t + STAGES - 1;
        if (next < ntiles)
            St::load(As[next % STAGES], Bs[next % STAGES], M, N, K, A, B, bm, bn, next * BK,
                     a_vec, b_vec);
        gg_cp_async_commit();
        const int cur = t % STAGES;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            unsigned a[FM][8], b[FN][8];
#pragma unroll
            for (int i = 0; i < FM; ++i)
                gg_wmma_load<true>(a[i], &As[cur][wm + 16 * i][kk], St::LDA);
#pragma unroll
            for (int j = 0; j < FN; ++j)
                gg_wmma_load<false>(b[j], &Bs[cur][kk][wn + 16 * j], St::LDB);
            gg_wmma_step<FM, FN>(acc, a, b);
        }
    }

    // Epilogue: each fragment through the warp's scratch, then masked, coalesced stores.
    gg_cp_async_wait<0>();
    __syncthreads();
    float* scratch = reinterpret_cast<float*>(&As[0][0][0]) + warp * 256;
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) {
            gg_wmma_store(scratch, acc[i][j], 16);
            __syncwarp();
#pragma unroll
            for (int e = 0; e < 8; ++e) {
                const int idx = e * 32 + lane;   // 16 x 16, two rows per pass of the warp
                const int row = bm + wm + 16 * i + idx / 16;
                const int col = bn + wn + 16 * j + idx % 16;
                if (row < M && col < N)
                    C[(long long)row * N + col] = scratch[idx];
            }
            __syncwarp();
        }
}

#endif  // sm_70+

// ----------------------------------------------------------------------------------------------
// The variants (entry points). Keep in step with SGEMM_VARIANTS / DGEMM_VARIANTS /
// HGEMM_VARIANTS in src/kernels/gemm.rs: __launch_bounds__(threads, min_blocks_per_sm).
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
    gg_gemm<double, double, 128, 64, 8, 8, 4, GG_KU_SM7X(8, 1)>(M, N, K, A, B, C);
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


// ----------------------------------------------------------------------------------------------
// sm_70+: HGEMM on the tensor cores (wmma, FP32 accumulate).
// ----------------------------------------------------------------------------------------------
#if __CUDA_ARCH__ >= 700

// 8 warps of 64x32, k-step 32, two stages (cp.async on sm_80+, plain copies on sm_70/75).
extern "C" __global__ void __launch_bounds__(256, 1)
hgemm_f16_tc_128x128x32_w64x32_s2(int M, int N, int K, const unsigned short* __restrict__ A,
                                  const unsigned short* __restrict__ B, float* __restrict__ C)
{
    gg_hmma<128, 128, 32, 64, 32, 2>(M, N, K, A, B, C);
}

// 4 warps of 32x32: small tiles for small shapes; two blocks per SM.
extern "C" __global__ void __launch_bounds__(128, 2)
hgemm_f16_tc_64x64x32_w32x32_s2(int M, int N, int K, const unsigned short* __restrict__ A,
                                const unsigned short* __restrict__ B, float* __restrict__ C)
{
    gg_hmma<64, 64, 32, 32, 32, 2>(M, N, K, A, B, C);
}

#endif  // sm_70+

// ----------------------------------------------------------------------------------------------
// sm_80+: cp.async pipelines on the CUDA cores, and DGEMM on the tensor cores (DMMA).
// ----------------------------------------------------------------------------------------------
#if __CUDA_ARCH__ >= 800

// SGEMM, the large tile with four stages (three k-tiles in flight); 33 KB of shared memory.
extern "C" __global__ void __launch_bounds__(256, 2)
sgemm_f32_128x128x8_t8x8_s4(int M, int N, int K, const float* __restrict__ A,
                            const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm_async<float, 128, 128, 8, 8, 8, 4, 4>(M, N, K, A, B, C);
}

// SGEMM 128x64, four stages.
extern "C" __global__ void __launch_bounds__(256, 2)
sgemm_f32_128x64x8_t8x4_s4(int M, int N, int K, const float* __restrict__ A,
                           const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm_async<float, 128, 64, 8, 8, 4, 4, 8>(M, N, K, A, B, C);
}

// SGEMM, the large tile with k-step 16 and two stages (half the __syncthreads() per k).
extern "C" __global__ void __launch_bounds__(256, 2)
sgemm_f32_128x128x16_t8x8_s2(int M, int N, int K, const float* __restrict__ A,
                             const float* __restrict__ B, float* __restrict__ C)
{
    gg_gemm_async<float, 128, 128, 16, 8, 8, 2, 16>(M, N, K, A, B, C);
}

// DGEMM on the CUDA cores, four stages.
extern "C" __global__ void __launch_bounds__(256, 2)
dgemm_f64_64x64x8_t4x4_s4(int M, int N, int K, const double* __restrict__ A,
                          const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm_async<double, 64, 64, 8, 4, 4, 4, 8>(M, N, K, A, B, C);
}

// DGEMM on the CUDA cores, 128x64, three stages.
extern "C" __global__ void __launch_bounds__(256, 2)
dgemm_f64_128x64x8_t8x4_s3(int M, int N, int K, const double* __restrict__ A,
                           const double* __restrict__ B, double* __restrict__ C)
{
    gg_gemm_async<double, 128, 64, 8, 8, 4, 3, 2>(M, N, K, A, B, C);
}

// DGEMM on the tensor cores: 4 warps of 32x32 (16 DMMA tiles each), four stages.
extern "C" __global__ void __launch_bounds__(128, 2)
dgemm_f64_tc_64x64x8_w32x32_s4(int M, int N, int K, const double* __restrict__ A,
                               const double* __restrict__ B, double* __restrict__ C)
{
    gg_dmma<64, 64, 8, 32, 32, 4>(M, N, K, A, B, C);
}

// DGEMM on the tensor cores: 4 warps of 64x32, two stages.
extern "C" __global__ void __launch_bounds__(128, 1)
dgemm_f64_tc_128x64x8_w64x32_s2(int M, int N, int K, const double* __restrict__ A,
                                const double* __restrict__ B, double* __restrict__ C)
{
    gg_dmma<128, 64, 8, 64, 32, 2>(M, N, K, A, B, C);
}

// DGEMM on the tensor cores: 4 warps of 32x64, three stages.
extern "C" __global__ void __launch_bounds__(128, 1)
dgemm_f64_tc_64x128x8_w32x64_s3(int M, int N, int K, const double* __restrict__ A,
                                const double* __restrict__ B, double* __restrict__ C)
{
    gg_dmma<64, 128, 8, 32, 64, 3>(M, N, K, A, B, C);
}

#endif  // sm_80+
