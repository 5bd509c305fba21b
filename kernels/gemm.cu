// gemm.cu - gpugate's own GEMM kernels (row-major, C = A*B), CUDA C for NVRTC.
//
// Entry points (see src/kernels.rs, which must agree with the constants here):
//   sgemm_f32_128x128x8(int M, int N, int K, const float*  A, const float*  B, float*  C)
//   dgemm_f64_64x64x8  (int M, int N, int K, const double* A, const double* B, double* C)
// Launch: grid = (ceil(N / BN), ceil(M / BM)), block = (256, 1, 1), no dynamic shared memory.
//
// Both kernels are correct for any M, N, K >= 0 (tiles that overhang the matrices are filled with
// zeros on load and masked on store) and use vector loads/stores only where a row is aligned and
// the whole vector is in range. Scheme (both precisions):
//   * the block owns a BM x BN tile of C; each of the 256 threads owns a TM x TN sub-block kept in
//     registers, split in two halves per dimension (rows ty*TM/2 + [0, TM/2) and BM/2 + ty*TM/2 + ...)
//     so that the shared-memory fragment reads of a warp are broadcasts or contiguous;
//   * per k-step of BK, the A tile is stored transposed (k-major, As[k][m], rows padded so the
//     transposing stores are free of bank conflicts) and the B tile as is (Bs[k][n]);
//   * double buffering: the next k-tile is fetched from global memory into registers while the
//     current one is consumed from shared memory, then written into the other shared buffer, so
//     there is one __syncthreads() per k-tile.
// Arithmetic is plain FP32 / FP64 multiply-add (contracted to FMA by the compiler); no tensor
// cores, no TF32.
//
// Static shared memory only, no atomics, no inline PTX: the same source runs on the CPU in the
// test-only emulator (emu/).

#define SG_BM 128
#define SG_BN 128
#define SG_BK 8
#define SG_TM 8
#define SG_TN 8
#define SG_APAD 4   // As row = 132 floats: the two k-halves of a warp's transposing store hit disjoint banks

#define DG_BM 64
#define DG_BN 64
#define DG_BK 8
#define DG_TM 4
#define DG_TN 4
#define DG_APAD 4   // As row = 68 doubles (544 B, 16-byte aligned)

#define GEMM_THREADS 256

typedef unsigned long long gg_uptr;

// ----------------------------------------------------------------------------------------------
// SGEMM 128x128x8
// ----------------------------------------------------------------------------------------------

// Loads 4 consecutive elements A[row][k .. k+3] (k is the global column of r[0]).
__device__ __forceinline__ void sg_load_a(float (&r)[4], const float* __restrict__ p, bool row_ok,
                                          int k, int K, bool vec)
{
    if (row_ok && vec && k + 3 < K) {
        const float4 v = *reinterpret_cast<const float4*>(p);
        r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i)
            r[i] = (row_ok && k + i < K) ? p[i] : 0.0f;
    }
}

// Loads 4 consecutive elements B[k][col .. col+3].
__device__ __forceinline__ void sg_load_b(float (&r)[4], const float* __restrict__ p, bool k_ok,
                                          int col, int N, bool vec)
{
    if (k_ok && vec && col + 3 < N) {
        const float4 v = *reinterpret_cast<const float4*>(p);
        r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i)
            r[i] = (k_ok && col + i < N) ? p[i] : 0.0f;
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2)
sgemm_f32_128x128x8(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                    float* __restrict__ C)
{
    __shared__ __align__(16) float As[2][SG_BK][SG_BM + SG_APAD];
    __shared__ __align__(16) float Bs[2][SG_BK][SG_BN];

    const int tid = threadIdx.x;
    const int tx = tid & 15;          // column group: columns tx*4 + [0,4) and 64 + tx*4 + [0,4)
    const int ty = tid >> 4;          // row group:    rows    ty*4 + [0,4) and 64 + ty*4 + [0,4)
    const int bm = blockIdx.y * SG_BM;
    const int bn = blockIdx.x * SG_BN;

    // Global -> register loaders: A as 128 rows x (2 x 4) k, B as 8 k-rows x (32 x 4) columns.
    const int a_row = tid >> 1;
    const int a_k = (tid & 1) << 2;
    const int b_k = tid >> 5;
    const int b_col = (tid & 31) << 2;

    const bool a_row_ok = bm + a_row < M;
    const bool a_vec = ((K & 3) == 0) && ((reinterpret_cast<gg_uptr>(A) & 15) == 0);
    const bool b_vec = ((N & 3) == 0) && ((reinterpret_cast<gg_uptr>(B) & 15) == 0);
    const int a_grow = a_row_ok ? bm + a_row : 0;   // row of A this thread loads
    const int b_gcol = bn + b_col;                   // first column of B this thread loads

    float acc[SG_TM][SG_TN];
#pragma unroll
    for (int i = 0; i < SG_TM; ++i)
#pragma unroll
        for (int j = 0; j < SG_TN; ++j)
            acc[i][j] = 0.0f;

    float ra[4], rb[4];
    const int ntiles = (K + SG_BK - 1) / SG_BK;

    sg_load_a(ra, A + (long long)a_grow * K + a_k, a_row_ok, a_k, K, a_vec);
    sg_load_b(rb, B + (long long)b_k * N + b_gcol, b_k < K, b_gcol, N, b_vec);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        As[0][a_k + i][a_row] = ra[i];
    *reinterpret_cast<float4*>(&Bs[0][b_k][b_col]) = make_float4(rb[0], rb[1], rb[2], rb[3]);
    __syncthreads();

    for (int t = 0; t < ntiles; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < ntiles;
        if (more) {
            // Prefetch k-tile t+1 into registers; it lands in shared memory after the math.
            const int k0 = (t + 1) * SG_BK;
            sg_load_a(ra, A + ((long long)a_grow * K + (k0 + a_k)), a_row_ok, k0 + a_k, K, a_vec);
            sg_load_b(rb, B + ((long long)(k0 + b_k) * N + b_gcol), k0 + b_k < K, b_gcol, N, b_vec);
        }

        // Unrolled by 4, not 8: full unrolling lets ptxas for sm_90 hoist too many fragment loads
        // and spill under the 128-register cap of __launch_bounds__(256, 2).
#pragma unroll 4
        for (int kk = 0; kk < SG_BK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][SG_BM / 2 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][SG_BN / 2 + tx * 4]);
            const float a[SG_TM] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float b[SG_TN] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < SG_TM; ++i)
#pragma unroll
                for (int j = 0; j < SG_TN; ++j)
                    acc[i][j] += a[i] * b[j];
        }

        if (more) {
            const int nxt = cur ^ 1;
#pragma unroll
            for (int i = 0; i < 4; ++i)
                As[nxt][a_k + i][a_row] = ra[i];
            *reinterpret_cast<float4*>(&Bs[nxt][b_k][b_col]) = make_float4(rb[0], rb[1], rb[2], rb[3]);
        }
        __syncthreads();
    }

    const bool c_vec = ((N & 3) == 0) && ((reinterpret_cast<gg_uptr>(C) & 15) == 0);
#pragma unroll
    for (int i = 0; i < SG_TM; ++i) {
        const int row = bm + (i < 4 ? ty * 4 + i : SG_BM / 2 + ty * 4 + (i - 4));
        if (row < M) {
            float* crow = C + (long long)row * N;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int col = bn + h * (SG_BN / 2) + tx * 4;
                if (c_vec && col + 3 < N) {
                    *reinterpret_cast<float4*>(crow + col) =
                        make_float4(acc[i][h * 4 + 0], acc[i][h * 4 + 1], acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
                } else {
#pragma unroll
                    for (int j = 0; j < 4; ++j)
                        if (col + j < N)
                            crow[col + j] = acc[i][h * 4 + j];
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------------
// DGEMM 64x64x8
// ----------------------------------------------------------------------------------------------

// Loads A[row][k], A[row][k+1].
__device__ __forceinline__ void dg_load_a(double (&r)[2], const double* __restrict__ p, bool row_ok,
                                          int k, int K, bool vec)
{
    if (row_ok && vec && k + 1 < K) {
        const double2 v = *reinterpret_cast<const double2*>(p);
        r[0] = v.x; r[1] = v.y;
    } else {
#pragma unroll
        for (int i = 0; i < 2; ++i)
            r[i] = (row_ok && k + i < K) ? p[i] : 0.0;
    }
}

// Loads B[k][col], B[k][col+1].
__device__ __forceinline__ void dg_load_b(double (&r)[2], const double* __restrict__ p, bool k_ok,
                                          int col, int N, bool vec)
{
    if (k_ok && vec && col + 1 < N) {
        const double2 v = *reinterpret_cast<const double2*>(p);
        r[0] = v.x; r[1] = v.y;
    } else {
#pragma unroll
        for (int i = 0; i < 2; ++i)
            r[i] = (k_ok && col + i < N) ? p[i] : 0.0;
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS)
dgemm_f64_64x64x8(int M, int N, int K, const double* __restrict__ A, const double* __restrict__ B,
                  double* __restrict__ C)
{
    __shared__ __align__(16) double As[2][DG_BK][DG_BM + DG_APAD];
    __shared__ __align__(16) double Bs[2][DG_BK][DG_BN];

    const int tid = threadIdx.x;
    const int tx = tid & 15;          // columns tx*2 + [0,2) and 32 + tx*2 + [0,2)
    const int ty = tid >> 4;          // rows    ty*2 + [0,2) and 32 + ty*2 + [0,2)
    const int bm = blockIdx.y * DG_BM;
    const int bn = blockIdx.x * DG_BN;

    // Loaders: A as 64 rows x (4 x 2) k, B as 8 k-rows x (32 x 2) columns.
    const int a_row = tid >> 2;
    const int a_k = (tid & 3) << 1;
    const int b_k = tid >> 5;
    const int b_col = (tid & 31) << 1;

    const bool a_row_ok = bm + a_row < M;
    const bool a_vec = ((K & 1) == 0) && ((reinterpret_cast<gg_uptr>(A) & 15) == 0);
    const bool b_vec = ((N & 1) == 0) && ((reinterpret_cast<gg_uptr>(B) & 15) == 0);
    const double* a_ptr = A + (long long)(a_row_ok ? bm + a_row : 0) * K + a_k;
    const double* b_ptr = B + (long long)b_k * N + (bn + b_col);

    double acc[DG_TM][DG_TN];
#pragma unroll
    for (int i = 0; i < DG_TM; ++i)
#pragma unroll
        for (int j = 0; j < DG_TN; ++j)
            acc[i][j] = 0.0;

    double ra[2], rb[2];
    const int ntiles = (K + DG_BK - 1) / DG_BK;

    dg_load_a(ra, a_ptr, a_row_ok, a_k, K, a_vec);
    dg_load_b(rb, b_ptr, b_k < K, bn + b_col, N, b_vec);
    As[0][a_k + 0][a_row] = ra[0];
    As[0][a_k + 1][a_row] = ra[1];
    *reinterpret_cast<double2*>(&Bs[0][b_k][b_col]) = make_double2(rb[0], rb[1]);
    __syncthreads();

    for (int t = 0; t < ntiles; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < ntiles;
        if (more) {
            const int k0 = (t + 1) * DG_BK;
            a_ptr += DG_BK;
            b_ptr += (long long)DG_BK * N;
            dg_load_a(ra, a_ptr, a_row_ok, k0 + a_k, K, a_vec);
            dg_load_b(rb, b_ptr, k0 + b_k < K, bn + b_col, N, b_vec);
        }

#pragma unroll
        for (int kk = 0; kk < DG_BK; ++kk) {
            const double2 a0 = *reinterpret_cast<const double2*>(&As[cur][kk][ty * 2]);
            const double2 a1 = *reinterpret_cast<const double2*>(&As[cur][kk][DG_BM / 2 + ty * 2]);
            const double2 b0 = *reinterpret_cast<const double2*>(&Bs[cur][kk][tx * 2]);
            const double2 b1 = *reinterpret_cast<const double2*>(&Bs[cur][kk][DG_BN / 2 + tx * 2]);
            const double a[DG_TM] = {a0.x, a0.y, a1.x, a1.y};
            const double b[DG_TN] = {b0.x, b0.y, b1.x, b1.y};
#pragma unroll
            for (int i = 0; i < DG_TM; ++i)
#pragma unroll
                for (int j = 0; j < DG_TN; ++j)
                    acc[i][j] += a[i] * b[j];
        }

        if (more) {
            const int nxt = cur ^ 1;
            As[nxt][a_k + 0][a_row] = ra[0];
            As[nxt][a_k + 1][a_row] = ra[1];
            *reinterpret_cast<double2*>(&Bs[nxt][b_k][b_col]) = make_double2(rb[0], rb[1]);
        }
        __syncthreads();
    }

    const bool c_vec = ((N & 1) == 0) && ((reinterpret_cast<gg_uptr>(C) & 15) == 0);
#pragma unroll
    for (int i = 0; i < DG_TM; ++i) {
        const int row = bm + (i < 2 ? ty * 2 + i : DG_BM / 2 + ty * 2 + (i - 2));
        if (row < M) {
            double* crow = C + (long long)row * N;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int col = bn + h * (DG_BN / 2) + tx * 2;
                if (c_vec && col + 1 < N) {
                    *reinterpret_cast<double2*>(crow + col) = make_double2(acc[i][h * 2], acc[i][h * 2 + 1]);
                } else {
#pragma unroll
                    for (int j = 0; j < 2; ++j)
                        if (col + j < N)
                            crow[col + j] = acc[i][h * 2 + j];
                }
            }
        }
    }
}
