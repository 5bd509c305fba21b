// video.cu - the per-frame stages of a video encoder before entropy coding, CUDA C for NVRTC.
//
// Every stage is integer-exact: src/verify/video.rs computes the same integers on the host and
// compares every output (motion estimation: known vectors plus a full host search on sampled
// macroblocks). Each launch processes a batch of frames: blockIdx.z is the frame, and frame f of
// the batch starts at base + f * stride (strides in bytes, multiples of 256 chosen by the host).
// Frames are tightly packed (row pitch = width); w, h <= 4096 (the position mapping of the scaler
// is computed in 32-bit unsigned arithmetic, see video_map).
//
// Entry points (src/kernels/modules.rs `video_kernel`):
//
//   video_rgba_to_nv12(const unsigned* rgba, unsigned char* nv12, int w, int h,
//                      long long in_stride, long long out_stride)
//       RGBA8 (R in the lowest byte of each 32-bit pixel) -> NV12 (Y plane w*h, then the
//       interleaved Cb,Cr plane of ceil(w/2) x ceil(h/2) pairs, pitch 2*ceil(w/2)), BT.709
//       limited range; one thread per 2x2 block. Block (32, 8), grid (ceil(cw/32), ceil(ch/8),
//       frames).
//         Y  = ((47 R + 157 G + 16 B + 128) >> 8) + 16                      (every pixel)
//         Cb = ((-26 SR -  86 SG + 112 SB + 512) >> 10) + 128              (per 2x2 block)
//         Cr = ((112 SR - 102 SG -  10 SB + 512) >> 10) + 128
//       SR, SG, SB: sums over the 2x2 block, coordinates clamped to the frame (a block on an odd
//       edge repeats its last column / row); >> is an arithmetic shift (floor). Coefficients:
//       BT.709 (Kr = 0.2126, Kb = 0.0722) scaled by 219/255 (Y) or 224/255 (Cb, Cr) and 256,
//       rounded; Cb's G term is -86 (not -87) so that each chroma row sums to 0 (grey -> 128).
//
//   video_scale_nv12(const unsigned char* src, unsigned char* dst, int w, int h, int ow, int oh,
//                    long long in_stride, long long out_stride)
//       NV12 w x h -> NV12 ow x oh (the host uses ow = ceil(2w/3), oh = ceil(2h/3)), bilinear in
//       fixed point with 8 fractional bits. Every plane (Y; Cb and Cr of the chroma plane, each
//       ceil(.)/2 of its plane's size) maps output sample o of n_out to input position
//         s = floor((2o + 1) * n_in * 128 / n_out) - 128     (1/256 pixel; centre-aligned)
//         s = max(s, 0); i0 = min(s >> 8, n_in - 1); f = s & 255; i1 = min(i0 + 1, n_in - 1)
//       and the sample is
//         (p00 (256-fx)(256-fy) + p01 fx (256-fy) + p10 (256-fx) fy + p11 fx fy + 32768) >> 16
//       (p01 = (x1, y0), p10 = (x0, y1)). 1080p -> 720p: s = 1.5 o + 0.25 exactly.
//       Block (256), grid (ceil(2*ceil(ow/2) / 256), oh + ceil(oh/2), frames): row blockIdx.y <
//       oh is a luma row, the rest chroma rows (x indexes the interleaved Cb,Cr bytes).
//
//   video_me_sad16(const unsigned char* cur, const unsigned char* ref, unsigned* out, int w,
//                  int h, long long frame_stride, long long out_stride)
//       Full-search motion estimation of every full 16x16 macroblock of cur (floor(w/16) x
//       floor(h/16); a partial macroblock at the right or bottom edge is not searched) in ref,
//       over the vectors (vx, vy) in [-16, 16]^2 whose 16x16 candidate lies entirely inside the
//       frame (so no padding rule is needed), by the sum of absolute differences. The best is
//       the lowest SAD, then the smallest |vx| + |vy|, then raster order (smaller vy, then
//       smaller vx). out[mb] = SAD << 16 | (vy + 16) << 8 | (vx + 16), mb = my * floor(w/16) + mx.
//       One block of 256 threads per macroblock: grid (floor(w/16), floor(h/16), frames).
//
//   video_dct4x4_quant(const unsigned char* cur, const unsigned char* pred, short* out, int w,
//                      int h, long long frame_stride, long long out_stride)
//       For every full 4x4 block (floor(w/4) x floor(h/4); partial blocks at the edges are
//       skipped): residual X = cur - pred, H.264 forward core transform Y = Cf X Cf^T with
//       Cf = [[1,1,1,1],[2,1,-1,-2],[1,-1,-1,1],[1,-2,2,-1]], and quantisation at QP 28:
//         level = sign(c) * ((|c| * MF + 87381) >> 19)
//       MF = 8192 where row and column of the coefficient are both even, 3355 where both are
//       odd, 5243 elsewhere (H.264's MF for QP % 6 = 4; qbits = 15 + 28/6 = 19; rounding
//       offset 2^19 / 6, floored, as for inter blocks). Levels are int16, written in place:
//       coefficient (k, c) of block (bx, by) at row 4by + k, column 4bx + c of an output of
//       pitch 4*floor(w/4). One thread per block: block (32, 8), grid (ceil(bw/32),
//       ceil(bh/8), frames).
//
// Static shared memory only (motion estimation), no atomics, no inline PTX.

#define VIDEO_ME_THREADS 256
#define VIDEO_ME_RANGE 16
#define VIDEO_ME_SPAN (2 * VIDEO_ME_RANGE + 1)     // 33 vectors per axis
#define VIDEO_ME_WIN (16 + 2 * VIDEO_ME_RANGE)      // 48: the search window's side

typedef unsigned char u8;

// ------------------------------------------------------------------------------ colour (NV12)

__device__ __forceinline__ int video_luma(unsigned p)
{
    const int r = p & 255, g = (p >> 8) & 255, b = (p >> 16) & 255;
    return ((47 * r + 157 * g + 16 * b + 128) >> 8) + 16;
}

extern "C" __global__ void __launch_bounds__(256)
video_rgba_to_nv12(const unsigned* __restrict__ rgba, u8* __restrict__ nv12, int w, int h,
                   long long in_stride, long long out_stride)
{
    const int cw = (w + 1) >> 1, ch = (h + 1) >> 1;
    const int cx = blockIdx.x * 32 + threadIdx.x, cy = blockIdx.y * 8 + threadIdx.y;
    if (cx >= cw || cy >= ch)
        return;
    rgba = (const unsigned*)((const u8*)rgba + blockIdx.z * in_stride);
    nv12 += blockIdx.z * out_stride;
    const int x0 = 2 * cx, y0 = 2 * cy;
    const bool right = x0 + 1 < w, below = y0 + 1 < h;
    const int x1 = right ? x0 + 1 : x0, y1 = below ? y0 + 1 : y0;
    const unsigned p00 = rgba[y0 * w + x0], p01 = rgba[y0 * w + x1];
    const unsigned p10 = rgba[y1 * w + x0], p11 = rgba[y1 * w + x1];

    const int y00 = video_luma(p00), y01 = video_luma(p01);
    const int y10 = video_luma(p10), y11 = video_luma(p11);
    const int sr = (p00 & 255) + (p01 & 255) + (p10 & 255) + (p11 & 255);
    const int sg = ((p00 >> 8) & 255) + ((p01 >> 8) & 255) + ((p10 >> 8) & 255) + ((p11 >> 8) & 255);
    const int sb = ((p00 >> 16) & 255) + ((p01 >> 16) & 255) + ((p10 >> 16) & 255) + ((p11 >> 16) & 255);
    const int cb = ((-26 * sr - 86 * sg + 112 * sb + 512) >> 10) + 128;
    const int cr = ((112 * sr - 102 * sg - 10 * sb + 512) >> 10) + 128;

    u8* yrow0 = nv12 + y0 * w + x0;
    u8* yrow1 = nv12 + y1 * w + x0;
    u8* uv = nv12 + w * h + cy * (2 * cw) + 2 * cx;
    if ((w & 1) == 0) {
        // Even width: every pair below starts at an even offset of a 256-byte aligned frame.
        *(unsigned short*)yrow0 = (unsigned short)(y00 | (y01 << 8));
        if (below)
            *(unsigned short*)yrow1 = (unsigned short)(y10 | (y11 << 8));
        *(unsigned short*)uv = (unsigned short)(cb | (cr << 8));
    } else {
        yrow0[0] = (u8)y00;
        if (right)
            yrow0[1] = (u8)y01;
        if (below) {
            yrow1[0] = (u8)y10;
            if (right)
                yrow1[1] = (u8)y11;
        }
        uv[0] = (u8)cb;
        uv[1] = (u8)cr;
    }
}

// ------------------------------------------------------------------------------------ scaling

// Input position of output sample o (n_out samples) in a plane of n_in samples: index i0, next
// index i1 (clamped) and the weight of i1 in 1/256.
__device__ __forceinline__ void video_map(int o, int n_in, int n_out, int& i0, int& i1, int& f)
{
    int s = (int)(((unsigned)(2 * o + 1) * (unsigned)n_in * 128u) / (unsigned)n_out) - 128;
    s = max(s, 0);
    i0 = min(s >> 8, n_in - 1);
    f = s & 255;
    i1 = min(i0 + 1, n_in - 1);
}

extern "C" __global__ void __launch_bounds__(256)
video_scale_nv12(const u8* __restrict__ src, u8* __restrict__ dst, int w, int h, int ow, int oh,
                 long long in_stride, long long out_stride)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int row = blockIdx.y;
    src += blockIdx.z * in_stride;
    dst += blockIdx.z * out_stride;
    int ox, oy, n_in_x, n_in_y, n_out_x, n_out_y, pitch, step;
    const u8* plane;
    u8* out;
    if (row < oh) {
        if (x >= ow)
            return;
        ox = x;
        oy = row;
        n_in_x = w;
        n_in_y = h;
        n_out_x = ow;
        n_out_y = oh;
        plane = src;
        pitch = w;
        step = 1;
        out = dst + oy * ow + ox;
    } else {
        const int cw = (w + 1) >> 1, ch = (h + 1) >> 1;
        const int ocw = (ow + 1) >> 1, och = (oh + 1) >> 1;
        if (x >= 2 * ocw)
            return;
        ox = x >> 1;
        oy = row - oh;
        n_in_x = cw;
        n_in_y = ch;
        n_out_x = ocw;
        n_out_y = och;
        plane = src + w * h + (x & 1);
        pitch = 2 * cw;
        step = 2;
        out = dst + ow * oh + oy * (2 * ocw) + x;
    }
    int x0, x1, fx, y0, y1, fy;
    video_map(ox, n_in_x, n_out_x, x0, x1, fx);
    video_map(oy, n_in_y, n_out_y, y0, y1, fy);
    const unsigned p00 = plane[y0 * pitch + x0 * step], p01 = plane[y0 * pitch + x1 * step];
    const unsigned p10 = plane[y1 * pitch + x0 * step], p11 = plane[y1 * pitch + x1 * step];
    const unsigned gx = 256 - fx, gy = 256 - fy;
    const unsigned v = (p00 * (gx * gy) + p01 * (fx * gy) + p10 * (gx * fy) + p11 * (fx * fy) + 32768u) >> 16;
    *out = (u8)v;
}

// -------------------------------------------------------------------------- motion estimation

extern "C" __global__ void __launch_bounds__(VIDEO_ME_THREADS)
video_me_sad16(const u8* __restrict__ cur, const u8* __restrict__ ref, unsigned* __restrict__ out,
               int w, int h, long long frame_stride, long long out_stride)
{
    __shared__ u8 win[VIDEO_ME_WIN * VIDEO_ME_WIN];
    __shared__ u8 blk[16 * 16];
    __shared__ unsigned best[VIDEO_ME_THREADS];
    const int t = threadIdx.x;
    const int bx = blockIdx.x * 16, by = blockIdx.y * 16;
    cur += blockIdx.z * frame_stride;
    ref += blockIdx.z * frame_stride;
    out = (unsigned*)((u8*)out + blockIdx.z * out_stride);

    // The macroblock, and the part of the reference's 48x48 window around it that lies in the
    // frame (the rest is never read: candidates lie inside the frame).
    blk[t] = cur[(by + (t >> 4)) * w + bx + (t & 15)];
    for (int i = t; i < VIDEO_ME_WIN * VIDEO_ME_WIN; i += VIDEO_ME_THREADS) {
        const int gx = bx - VIDEO_ME_RANGE + i % VIDEO_ME_WIN;
        const int gy = by - VIDEO_ME_RANGE + i / VIDEO_ME_WIN;
        win[i] = (gx >= 0 && gx < w && gy >= 0 && gy < h) ? ref[gy * w + gx] : (u8)0;
    }
    __syncthreads();

    // key = SAD << 13 | (|vx| + |vy|) << 7 | (vy + 16) << 1 | (vx > 0): its minimum is the
    // lowest SAD, then the smallest |vx| + |vy|, then the smaller vy, then the smaller vx.
    unsigned mine = 0xffffffffu;
    for (int c = t; c < VIDEO_ME_SPAN * VIDEO_ME_SPAN; c += VIDEO_ME_THREADS) {
        const int vy = c / VIDEO_ME_SPAN - VIDEO_ME_RANGE;
        const int vx = c % VIDEO_ME_SPAN - VIDEO_ME_RANGE;
        if (bx + vx < 0 || bx + vx + 16 > w || by + vy < 0 || by + vy + 16 > h)
            continue;
        const u8* r = win + (vy + VIDEO_ME_RANGE) * VIDEO_ME_WIN + vx + VIDEO_ME_RANGE;
        unsigned sad = 0;
        for (int j = 0; j < 16; j++) {
#pragma unroll
            for (int i = 0; i < 16; i++)
                sad += abs((int)blk[j * 16 + i] - (int)r[j * VIDEO_ME_WIN + i]);
        }
        const unsigned key = (sad << 13) | ((unsigned)(abs(vx) + abs(vy)) << 7) |
                             ((unsigned)(vy + VIDEO_ME_RANGE) << 1) | (vx > 0 ? 1u : 0u);
        mine = min(mine, key);
    }
    best[t] = mine;
    __syncthreads();
#pragma unroll
    for (int s = VIDEO_ME_THREADS / 2; s > 0; s >>= 1) {
        if (t < s)
            best[t] = min(best[t], best[t + s]);
        __syncthreads();
    }
    if (t == 0) {
        const unsigned key = best[0];
        const int vy = (int)((key >> 1) & 63) - VIDEO_ME_RANGE;
        const int ax = (int)((key >> 7) & 63) - abs(vy);
        const int vx = (key & 1) ? ax : -ax;
        out[blockIdx.y * gridDim.x + blockIdx.x] =
            ((key >> 13) << 16) | ((unsigned)(vy + VIDEO_ME_RANGE) << 8) | (unsigned)(vx + VIDEO_ME_RANGE);
    }
}

// --------------------------------------------------------- residual, 4x4 transform, quantiser

// Four bytes of row y from column x, as a little-endian word (aligned: x and w multiples of 4).
__device__ __forceinline__ unsigned video_row4(const u8* p, int w, int x, int y, bool aligned)
{
    const u8* q = p + y * w + x;
    if (aligned)
        return *(const unsigned*)q;
    return (unsigned)q[0] | ((unsigned)q[1] << 8) | ((unsigned)q[2] << 16) | ((unsigned)q[3] << 24);
}

__device__ __forceinline__ int video_quant(int c, int mf)
{
    const int a = ((c < 0 ? -c : c) * mf + 87381) >> 19;
    return c < 0 ? -a : a;
}

extern "C" __global__ void __launch_bounds__(256)
video_dct4x4_quant(const u8* __restrict__ cur, const u8* __restrict__ pred, short* __restrict__ out,
                   int w, int h, long long frame_stride, long long out_stride)
{
    const int bw = w >> 2, bh = h >> 2;
    const int bx = blockIdx.x * 32 + threadIdx.x, by = blockIdx.y * 8 + threadIdx.y;
    if (bx >= bw || by >= bh)
        return;
    cur += blockIdx.z * frame_stride;
    pred += blockIdx.z * frame_stride;
    out = (short*)((u8*)out + blockIdx.z * out_stride);
    const bool aligned = (w & 3) == 0;

    // Residual rows through the 1-D transform: t[r][k] = sum_c X[r][c] Cf[k][c].
    int t[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const unsigned a = video_row4(cur, w, 4 * bx, 4 * by + r, aligned);
        const unsigned b = video_row4(pred, w, 4 * bx, 4 * by + r, aligned);
        int x[4];
#pragma unroll
        for (int c = 0; c < 4; c++)
            x[c] = (int)((a >> (8 * c)) & 255) - (int)((b >> (8 * c)) & 255);
        const int e0 = x[0] + x[3], e1 = x[1] + x[2], e2 = x[1] - x[2], e3 = x[0] - x[3];
        t[r][0] = e0 + e1;
        t[r][1] = (e3 << 1) + e2;
        t[r][2] = e0 - e1;
        t[r][3] = e3 - (e2 << 1);
    }
    // Columns: Y[k][c] = sum_r Cf[k][r] t[r][c]; then quantise and store row k.
    int y[4][4];
#pragma unroll
    for (int c = 0; c < 4; c++) {
        const int e0 = t[0][c] + t[3][c], e1 = t[1][c] + t[2][c];
        const int e2 = t[1][c] - t[2][c], e3 = t[0][c] - t[3][c];
        y[0][c] = e0 + e1;
        y[1][c] = (e3 << 1) + e2;
        y[2][c] = e0 - e1;
        y[3][c] = e3 - (e2 << 1);
    }
    const int pitch = 4 * bw;
#pragma unroll
    for (int k = 0; k < 4; k++) {
        int l[4];
#pragma unroll
        for (int c = 0; c < 4; c++) {
            const int mf = ((k | c) & 1) == 0 ? 8192 : ((k & c) & 1) ? 3355 : 5243;
            l[c] = video_quant(y[k][c], mf);
        }
        uint2 v;
        v.x = (unsigned)(l[0] & 0xffff) | ((unsigned)l[1] << 16);
        v.y = (unsigned)(l[2] & 0xffff) | ((unsigned)l[3] << 16);
        *(uint2*)(out + (4 * by + k) * pitch + 4 * bx) = v;
    }
}
