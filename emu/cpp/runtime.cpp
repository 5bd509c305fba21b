// runtime.cpp - the launcher of the CUDA emulation (see ../cuda_emu.h).
//
// emu_launch() runs a grid on the host: it takes a global lock (one launch at a time, so the
// function-scope statics that stand in for __shared__ are per-block storage), creates the block's
// threads once, and the threads walk the blocks in order (x fastest), meeting at a barrier
// after each block.
#include "../cuda_emu.h"
#include "entries.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// A reusable barrier. Threads that finish a block early leave it (`drop`) so the others are not
// held at a __syncthreads that the departed can no longer reach.
class Barrier {
public:
    void reset(unsigned expected)
    {
        std::lock_guard<std::mutex> l(m_);
        expected_ = expected;
        count_ = 0;
    }

    // Waits until the expected number of threads (fixed by reset) have arrived; the last one
    // runs `last` before anyone is released.
    template <typename F>
    void arrive_and_wait(F&& last)
    {
        std::unique_lock<std::mutex> l(m_);
        wait_locked(l, expected_, last);
    }
    void arrive_and_wait()
    {
        arrive_and_wait([] {});
    }
    // Same, for a barrier whose participants say how many they are (warps).
    void arrive_and_wait_n(unsigned expected)
    {
        std::unique_lock<std::mutex> l(m_);
        wait_locked(l, expected, [] {});
    }

    void drop()
    {
        std::lock_guard<std::mutex> l(m_);
        if (expected_ > 0)
            --expected_;
        if (count_ > 0 && count_ >= expected_)
            release();
    }

private:
    template <typename F>
    void wait_locked(std::unique_lock<std::mutex>& l, unsigned expected, F&& last)
    {
        const unsigned long long gen = gen_;
        if (++count_ >= expected) {
            last();
            release();
        } else {
            cv_.wait(l, [&] { return gen_ != gen; });
        }
    }

    void release()
    {
        count_ = 0;
        ++gen_;
        cv_.notify_all();
    }

    std::mutex m_;
    std::condition_variable cv_;
    unsigned expected_ = 0;
    unsigned count_ = 0;
    unsigned long long gen_ = 0;
};

struct Warp {
    Barrier bar;
    unsigned present = 0;                       // lanes that exist in this block
    alignas(16) unsigned char slots[32][16];
    alignas(16) unsigned char gather[32][512];   // warp_allgather
};

struct Launch {
    unsigned nthreads = 0;
    Barrier sync;        // __syncthreads
    Barrier block_end;   // between blocks
    std::unique_ptr<Warp[]> warps;
};

Launch* g_launch = nullptr;
std::mutex g_launch_lock;
thread_local unsigned t_linear = 0;

unsigned popcount(unsigned v)
{
    return static_cast<unsigned>(__builtin_popcount(v));
}

} // namespace

namespace gg_emu {

void syncthreads()
{
    g_launch->sync.arrive_and_wait();
}

void syncwarp(unsigned mask)
{
    Warp& w = g_launch->warps[t_linear / 32];
    const unsigned n = popcount(mask & w.present);
    if (n > 1)
        w.bar.arrive_and_wait_n(n);
}

void warp_exchange(unsigned mask, const void* value, std::size_t bytes, unsigned src_lane, void* out)
{
    Warp& w = g_launch->warps[t_linear / 32];
    const unsigned lane = t_linear % 32;
    const unsigned participants = mask & w.present;
    const unsigned n = popcount(participants);
    std::memcpy(w.slots[lane], value, bytes);
    if (n > 1)
        w.bar.arrive_and_wait_n(n);   // everyone has published
    const bool valid = src_lane < 32 && (participants >> src_lane & 1u);
    std::memcpy(out, w.slots[valid ? src_lane : lane], bytes);
    if (n > 1)
        w.bar.arrive_and_wait_n(n);   // everyone has read: the slots may be reused
}

void warp_allgather(const void* value, std::size_t bytes, void* out)
{
    Warp& w = g_launch->warps[t_linear / 32];
    const unsigned lane = t_linear % 32;
    const unsigned n = popcount(w.present);
    const auto* src = static_cast<const unsigned char*>(value);
    auto* dst = static_cast<unsigned char*>(out);
    // Through the per-lane gather buffers, a chunk at a time (one chunk for every fragment
    // gemm.cu gathers).
    for (std::size_t off = 0; off < bytes; off += sizeof w.gather[0]) {
        const std::size_t len = std::min(bytes - off, sizeof w.gather[0]);
        std::memcpy(w.gather[lane], src + off, len);
        if (n > 1)
            w.bar.arrive_and_wait_n(n);   // everyone has published
        for (unsigned l = 0; l < 32; ++l)
            if (w.present >> l & 1u)
                std::memcpy(dst + l * bytes + off, w.gather[l], len);
        if (n > 1)
            w.bar.arrive_and_wait_n(n);   // everyone has read
    }
}

} // namespace gg_emu

extern "C" {

unsigned emu_entry_count()
{
    return gg_emu_entry_count;
}

const char* emu_entry_name(unsigned i)
{
    return i < gg_emu_entry_count ? gg_emu_entries[i].name : nullptr;
}

const char* emu_entry_signature(unsigned i)
{
    return i < gg_emu_entry_count ? gg_emu_entries[i].signature : nullptr;
}

// Runs `entry` over a gx*gy*gz grid of bx*by*bz blocks. params[i] points at the i-th argument's
// value, as for cuLaunchKernel. Returns 0, or EMU_E_* (see entries.h).
int emu_launch(const char* entry, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
               unsigned bz, void** params)
{
    const EmuEntry* e = nullptr;
    for (unsigned i = 0; i < gg_emu_entry_count && entry; ++i)
        if (std::strcmp(gg_emu_entries[i].name, entry) == 0)
            e = &gg_emu_entries[i];
    if (!e)
        return EMU_E_UNKNOWN_ENTRY;
    const unsigned long long nthreads = 1ull * bx * by * bz;
    if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || nthreads > 1024)
        return EMU_E_BLOCK;
    if (gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535)
        return EMU_E_GRID;
    if (e->nparams > 0 && !params)
        return EMU_E_PARAMS;

    std::lock_guard<std::mutex> lock(g_launch_lock);
    Launch L;
    L.nthreads = static_cast<unsigned>(nthreads);
    L.sync.reset(L.nthreads);
    L.block_end.reset(L.nthreads);
    const unsigned nwarps = (L.nthreads + 31) / 32;
    L.warps.reset(new Warp[nwarps]);
    for (unsigned w = 0; w < nwarps; ++w) {
        const unsigned lanes = L.nthreads - w * 32 >= 32 ? 32 : L.nthreads - w * 32;
        L.warps[w].present = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1u);
    }
    g_launch = &L;

    const dim3 grid{gx, gy, gz};
    const dim3 block{bx, by, bz};
    // Threads start behind a gate, so that if the system cannot start them all, the ones that
    // did start can be told to leave before they reach a barrier that would never open.
    std::mutex gate_m;
    std::condition_variable gate_cv;
    bool gate_open = false, cancelled = false;

    auto body = [&, e, grid, block, params](unsigned linear) {
        {
            std::unique_lock<std::mutex> g(gate_m);
            gate_cv.wait(g, [&] { return gate_open; });
            if (cancelled)
                return;
        }
        t_linear = linear;
        threadIdx = uint3{linear % block.x, (linear / block.x) % block.y, linear / (block.x * block.y)};
        blockDim = block;
        gridDim = grid;
        for (unsigned z = 0; z < grid.z; ++z)
            for (unsigned y = 0; y < grid.y; ++y)
                for (unsigned x = 0; x < grid.x; ++x) {
                    blockIdx = uint3{x, y, z};
                    e->call(params);
                    gg_emu::cp_async_drain();   // copies still in flight land before the block ends
                    // Leave the block: no longer counted by __syncthreads; the last one to
                    // arrive re-arms it for the next block.
                    L.sync.drop();
                    L.block_end.arrive_and_wait([&L] { L.sync.reset(L.nthreads); });
                }
    };

    std::vector<std::thread> threads;
    bool started = true;
    try {
        threads.reserve(L.nthreads);
        for (unsigned t = 0; t < L.nthreads; ++t)
            threads.emplace_back(body, t);
    } catch (const std::exception&) {
        started = false;
    }
    {
        std::lock_guard<std::mutex> g(gate_m);
        gate_open = true;
        cancelled = !started;
    }
    gate_cv.notify_all();
    for (auto& t : threads)
        t.join();
    if (!started) {
        g_launch = nullptr;
        return EMU_E_THREADS;
    }
    g_launch = nullptr;
    return 0;
}

} // extern "C"
