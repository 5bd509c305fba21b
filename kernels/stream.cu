// stream.cu - BabelStream-style memory-bandwidth kernels, CUDA C for NVRTC.
//
// Entry points (names and signatures as documented in src/kernels/modules.rs `stream_kernel`);
// T = float (_f32) or double (_f64), n = elements per array, grid-stride loops over long long:
//   stream_copy_T (const T* a, T* c, long long n)                 c = a
//   stream_scale_T(const T* c, T* b, T scalar, long long n)       b = scalar * c
//   stream_add_T  (const T* a, const T* b, T* c, long long n)     c = a + b
//   stream_triad_T(const T* b, const T* c, T* a, T scalar, long long n)   a = b + scalar * c
//   stream_dot_T  (const T* a, const T* b, T* partial, long long n)
//       partial[blockIdx.x] = sum of a[i] * b[i] over the elements this block visited;
//       the block size must be STREAM_BLOCK = 256 (the host adds the gridDim.x partial sums).
// Any grid size works; one-dimensional blocks and grids.
//
// Static shared memory only, no atomics, no inline PTX (the dot reduction ends with warp shuffles).

#define STREAM_BLOCK 256

template <typename T>
__device__ __forceinline__ void stream_copy(const T* __restrict__ a, T* __restrict__ c, long long n)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        c[i] = a[i];
}

template <typename T>
__device__ __forceinline__ void stream_scale(const T* __restrict__ c, T* __restrict__ b, T scalar,
                                             long long n)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        b[i] = scalar * c[i];
}

template <typename T>
__device__ __forceinline__ void stream_add(const T* __restrict__ a, const T* __restrict__ b,
                                           T* __restrict__ c, long long n)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        c[i] = a[i] + b[i];
}

template <typename T>
__device__ __forceinline__ void stream_triad(const T* __restrict__ b, const T* __restrict__ c,
                                             T* __restrict__ a, T scalar, long long n)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        a[i] = b[i] + scalar * c[i];
}

// sdata: the block's STREAM_BLOCK-element shared scratch (declared in the entry point).
template <typename T>
__device__ __forceinline__ void stream_dot(const T* __restrict__ a, const T* __restrict__ b,
                                           T* __restrict__ partial, long long n, T* sdata)
{
    const unsigned tid = threadIdx.x;
    const long long stride = (long long)gridDim.x * blockDim.x;
    T sum = T(0);
    for (long long i = (long long)blockIdx.x * blockDim.x + tid; i < n; i += stride)
        sum += a[i] * b[i];

    // Tree reduction in shared memory down to 64 values, then one warp finishes with shuffles.
    sdata[tid] = sum;
    __syncthreads();
#pragma unroll
    for (unsigned s = STREAM_BLOCK / 2; s > 32; s >>= 1) {
        if (tid < s)
            sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid < 32) {
        T v = sdata[tid] + sdata[tid + 32];
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, off);
        if (tid == 0)
            partial[blockIdx.x] = v;
    }
}

// ---------------------------------------------------------------------------------------- f32

extern "C" __global__ void stream_copy_f32(const float* __restrict__ a, float* __restrict__ c, long long n)
{
    stream_copy(a, c, n);
}

extern "C" __global__ void stream_scale_f32(const float* __restrict__ c, float* __restrict__ b, float scalar,
                                            long long n)
{
    stream_scale(c, b, scalar, n);
}

extern "C" __global__ void stream_add_f32(const float* __restrict__ a, const float* __restrict__ b,
                                          float* __restrict__ c, long long n)
{
    stream_add(a, b, c, n);
}

extern "C" __global__ void stream_triad_f32(const float* __restrict__ b, const float* __restrict__ c,
                                            float* __restrict__ a, float scalar, long long n)
{
    stream_triad(b, c, a, scalar, n);
}

extern "C" __global__ void __launch_bounds__(STREAM_BLOCK)
stream_dot_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ partial,
               long long n)
{
    __shared__ float sdata[STREAM_BLOCK];
    stream_dot(a, b, partial, n, sdata);
}

// ---------------------------------------------------------------------------------------- f64

extern "C" __global__ void stream_copy_f64(const double* __restrict__ a, double* __restrict__ c, long long n)
{
    stream_copy(a, c, n);
}

extern "C" __global__ void stream_scale_f64(const double* __restrict__ c, double* __restrict__ b,
                                            double scalar, long long n)
{
    stream_scale(c, b, scalar, n);
}

extern "C" __global__ void stream_add_f64(const double* __restrict__ a, const double* __restrict__ b,
                                          double* __restrict__ c, long long n)
{
    stream_add(a, b, c, n);
}

extern "C" __global__ void stream_triad_f64(const double* __restrict__ b, const double* __restrict__ c,
                                            double* __restrict__ a, double scalar, long long n)
{
    stream_triad(b, c, a, scalar, n);
}

extern "C" __global__ void __launch_bounds__(STREAM_BLOCK)
stream_dot_f64(const double* __restrict__ a, const double* __restrict__ b, double* __restrict__ partial,
               long long n)
{
    __shared__ double sdata[STREAM_BLOCK];
    stream_dot(a, b, partial, n, sdata);
}
