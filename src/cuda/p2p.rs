//! Peer to peer between two opened GPUs, for the P2P stage (`crate::p2p`): whether each can
//! access the other, peer access enabled, and timed copies between them: peer copies
//! (`cuMemcpyPeerAsync`), several at once on the GPUs' own streams (the bidirectional tests),
//! or staged through page-locked host memory where peer access is impossible (one way, or
//! both ways at once).
//!
//! A [`PeerPair`] owns, on each of its two GPUs, a stream and two timing events of its own
//! (never the device's, so a timed copy never meets a workload's timer), a buffer to send from,
//! a buffer to receive into and a portable pinned buffer (uploads, read-backs and the host
//! stage). Index 0 is the first GPU given, 1 the second.

use super::driver::{self, copy_dtoh, copy_htod, copy_peer, DeviceMem, Event, PinnedMem, Stream};
use super::{guarded, CudaDevice, CudaError};

/// Whether GPU `from` can access GPU `to`'s memory (`cuDeviceCanAccessPeer`).
pub fn can_access_peer(from: &CudaDevice, to: &CudaDevice) -> Result<bool, CudaError> {
    guarded("asking for peer access", || {
        from.ctx
            .can_access_peer(&to.ctx)
            .map_err(|e| CudaError::call("cuDeviceCanAccessPeer", e))
    })
}

/// Lets GPU `from` access GPU `to`'s memory (`cuCtxEnablePeerAccess`; already enabled is
/// success).
pub fn enable_peer_access(from: &CudaDevice, to: &CudaDevice) -> Result<(), CudaError> {
    guarded("enabling peer access", || {
        from.ctx
            .enable_peer_access(&to.ctx)
            .map_err(|e| CudaError::call("cuCtxEnablePeerAccess", e))
    })
}

/// One copy of a timed set: issued on GPU `issuer`'s stream, from GPU `from`'s send buffer into
/// GPU `to`'s receive buffer (indices into the pair).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCopy {
    pub issuer: usize,
    pub from: usize,
    pub to: usize,
}

struct End {
    stream: Stream,
    start: Event,
    stop: Event,
    send: DeviceMem,
    recv: DeviceMem,
    host: PinnedMem,
}

/// Two GPUs and the buffers, streams and events of their copies.
pub struct PeerPair<'a> {
    devs: [&'a CudaDevice; 2],
    bytes: usize,
    ends: [End; 2],
}

fn call(what: &'static str) -> impl Fn(driver::DriverError) -> CudaError {
    move |e| CudaError::call(what, e)
}

impl<'a> PeerPair<'a> {
    /// Buffers of `bytes` on both GPUs, their streams and events.
    pub fn new(a: &'a CudaDevice, b: &'a CudaDevice, bytes: usize) -> Result<Self, CudaError> {
        guarded("preparing peer copies", || {
            let end = |d: &CudaDevice| -> Result<End, CudaError> {
                Ok(End {
                    stream: Stream::new(&d.ctx).map_err(call("creating a stream"))?,
                    start: Event::timing(&d.ctx).map_err(call("creating a timing event"))?,
                    stop: Event::timing(&d.ctx).map_err(call("creating a timing event"))?,
                    send: DeviceMem::alloc(&d.ctx, bytes).map_err(call("allocating"))?,
                    recv: DeviceMem::alloc(&d.ctx, bytes).map_err(call("allocating"))?,
                    host: PinnedMem::alloc_portable(&d.ctx, bytes)
                        .map_err(call("allocating pinned memory"))?,
                })
            };
            Ok(PeerPair {
                devs: [a, b],
                bytes,
                ends: [end(a)?, end(b)?],
            })
        })
    }

    /// Bytes of each copy.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// GPU `i`'s send buffer filled with `data`, its receive buffer with `fill` bytes; both
    /// done when this returns.
    pub fn load(&mut self, i: usize, data: &[u8], fill: u8) -> Result<(), CudaError> {
        let n = self.bytes;
        let e = &mut self.ends[i];
        for (dst, bytes) in [(e.send.ptr(), Some(data)), (e.recv.ptr(), None)] {
            match bytes {
                Some(d) => e.host.as_mut_slice()[..n].copy_from_slice(&d[..n]),
                None => e.host.as_mut_slice()[..n].fill(fill),
            }
            // SAFETY: `n` bytes of pinned memory and of device memory, both owned here;
            // the stream is synchronised before the pinned buffer is touched again.
            unsafe { copy_htod(&e.stream, dst, e.host.as_ptr(), n) }
                .map_err(call("uploading to a GPU"))?;
            e.stream.synchronize().map_err(call("synchronising"))?;
        }
        Ok(())
    }

    /// What GPU `i`'s receive buffer holds.
    pub fn received(&mut self, i: usize) -> Result<Vec<u8>, CudaError> {
        let n = self.bytes;
        let e = &mut self.ends[i];
        // SAFETY: as in `load`; read on the host after the synchronisation.
        unsafe { copy_dtoh(&e.stream, e.host.as_mut_ptr(), e.recv.ptr(), n) }
            .map_err(call("reading back from a GPU"))?;
        e.stream.synchronize().map_err(call("synchronising"))?;
        Ok(e.host.as_slice()[..n].to_vec())
    }

    /// `iters` rounds of `copies` issued together (each on its issuer's stream, so copies of
    /// different issuers run at the same time), each copy's stream timed by its issuer's
    /// events; the seconds of each copy's `iters` copies, in the order given. Two copies may
    /// not share an issuer.
    pub fn time_peer(&self, copies: &[PeerCopy], iters: u64) -> Result<Vec<f64>, CudaError> {
        guarded("timing peer copies", || {
            for c in copies {
                let e = &self.ends[c.issuer];
                e.start
                    .record(&e.stream)
                    .map_err(call("recording an event"))?;
            }
            for _ in 0..iters {
                for c in copies {
                    let (from, to) = (&self.ends[c.from], &self.ends[c.to]);
                    let (src_ctx, dst_ctx) = (&self.devs[c.from].ctx, &self.devs[c.to].ctx);
                    // SAFETY: both buffers hold `bytes` and live as long as `self`; every
                    // stream is synchronised below before anything else uses them.
                    unsafe {
                        copy_peer(
                            &self.ends[c.issuer].stream,
                            (to.recv.ptr(), dst_ctx),
                            (from.send.ptr(), src_ctx),
                            self.bytes,
                        )
                    }
                    .map_err(call("cuMemcpyPeerAsync"))?;
                }
            }
            copies.iter().map(|c| self.stop(c.issuer)).collect()
        })
    }

    /// `iters` copies of each of `copies` (one, or two the opposite ways) staged through host
    /// memory, every copy's two legs on its own GPUs' streams: first each copy's device →
    /// pinned host legs on its source's stream (the sources' streams at the same time), then
    /// each copy's pinned host → device legs on its destination's stream (the same); each leg
    /// timed by its own GPU's events. The seconds of each copy (its two legs added), in the
    /// order given. Each copy is staged through its source's pinned buffer, so two copies may
    /// not share a source (nor, then, a destination: each GPU has one receive buffer).
    pub fn time_staged(&self, copies: &[PeerCopy], iters: u64) -> Result<Vec<f64>, CudaError> {
        guarded("timing host-staged copies", || {
            let down = self.staged_legs(copies, iters, true)?;
            let up = self.staged_legs(copies, iters, false)?;
            Ok(down.iter().zip(up).map(|(d, u)| d + u).collect())
        })
    }

    /// One leg of every staged copy, issued on every copy's stream before any is waited for:
    /// `down`, source → its pinned buffer on the source's stream; else that buffer → the
    /// destination on the destination's stream. The seconds of each copy's `iters` legs.
    fn staged_legs(
        &self,
        copies: &[PeerCopy],
        iters: u64,
        down: bool,
    ) -> Result<Vec<f64>, CudaError> {
        let gpu = |c: &PeerCopy| if down { c.from } else { c.to };
        for c in copies {
            let e = &self.ends[gpu(c)];
            e.start
                .record(&e.stream)
                .map_err(call("recording an event"))?;
        }
        for _ in 0..iters {
            for c in copies {
                let (f, t) = (&self.ends[c.from], &self.ends[c.to]);
                // SAFETY: `bytes` of pinned memory (the source's) and of device memory, all
                // owned by the pair; the down legs are waited for (`stop`) before the up legs
                // read the pinned buffer, and the up legs before anything else touches it.
                unsafe {
                    if down {
                        copy_dtoh(
                            &f.stream,
                            f.host.as_ptr() as *mut u8,
                            f.send.ptr(),
                            self.bytes,
                        )
                    } else {
                        copy_htod(&t.stream, t.recv.ptr(), f.host.as_ptr(), self.bytes)
                    }
                }
                .map_err(call(if down {
                    "copying device to pinned host"
                } else {
                    "copying pinned host to device"
                }))?;
            }
        }
        copies.iter().map(|c| self.stop(gpu(c))).collect()
    }

    /// Records GPU `i`'s stop event, waits for it, and gives the seconds since its start.
    fn stop(&self, i: usize) -> Result<f64, CudaError> {
        let e = &self.ends[i];
        e.stop
            .record(&e.stream)
            .map_err(call("recording an event"))?;
        e.stop
            .synchronize()
            .map_err(call("waiting for the copies"))?;
        self.devs[i]
            .elapsed_between(&e.start, &e.stop)
            .map_err(call("reading the event timer"))
    }
}

impl Drop for PeerPair<'_> {
    fn drop(&mut self) {
        // Nothing may still use the buffers when they are freed.
        for e in &self.ends {
            let _ = e.stream.synchronize();
        }
    }
}
