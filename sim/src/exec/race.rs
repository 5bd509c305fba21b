//! The shared-memory race detector: per byte, the last writer and the last two distinct readers,
//! each stamped with the CTA barrier epoch and the writer's warp-sync epoch. Two accesses by
//! different threads, at least one a write, race unless a barrier (`bar.sync`/`barrier`) lies
//! between them, or — same warp — a `bar.warp.sync`. Epochs only grow (per worker thread, across
//! blocks), so nothing is cleared at a barrier or between blocks: a stale stamp is simply older.

/// One recorded access: thread (CTA-linear), warp-sync epoch, barrier epoch (0 = none), PC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Acc {
    pub tid: u16,
    pub wep: u16,
    pub bar: u32,
    pub pc: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    w: Acc,
    r1: Acc,
    r2: Acc,
}

/// A detected race: the byte, the earlier access, and whether it was a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RaceHit {
    pub off: usize,
    pub prev: Acc,
    pub prev_write: bool,
}

/// The detector's state (one per worker thread, reused across blocks). Cells are per 4-byte
/// word while accesses cover whole words; a word touched by a narrower access is tracked per
/// byte from then on (until a whole-word write makes it uniform again), so the granularity is
/// the byte throughout.
#[derive(Default)]
pub(crate) struct Race {
    words: Vec<Cell>,
    split: Vec<bool>,
    bytes: Vec<Cell>,
    /// The current barrier epoch.
    pub bar: u32,
}

#[inline]
fn concurrent(prev: &Acc, tid: u16, wep: u16, bar: u32) -> bool {
    prev.bar == bar && prev.tid != tid && (prev.tid / 32 != tid / 32 || prev.wep == wep)
}

#[inline]
fn read_cell(c: &mut Cell, me: Acc) -> Result<(), (Acc, bool)> {
    if concurrent(&c.w, me.tid, me.wep, me.bar) {
        return Err((c.w, true));
    }
    if c.r1.bar != me.bar {
        c.r1 = me;
        c.r2.bar = 0;
    } else if c.r1.tid == me.tid {
        c.r1 = me;
    } else {
        c.r2 = c.r1;
        c.r1 = me;
    }
    Ok(())
}

#[inline]
fn write_cell(c: &mut Cell, me: Acc) -> Result<(), (Acc, bool)> {
    if concurrent(&c.w, me.tid, me.wep, me.bar) {
        return Err((c.w, true));
    }
    for r in [c.r1, c.r2] {
        if concurrent(&r, me.tid, me.wep, me.bar) {
            return Err((r, false));
        }
    }
    c.w = me;
    c.r1.bar = 0;
    c.r2.bar = 0;
    Ok(())
}

impl Race {
    /// A new block with `shared_len` bytes of shared memory: every older stamp becomes stale.
    pub fn begin_block(&mut self, shared_len: usize) {
        let nw = shared_len.div_ceil(4);
        if self.words.len() < nw {
            self.words.resize(nw, Cell::default());
            self.split.resize(nw, false);
            self.bytes.resize(nw * 4, Cell::default());
        }
        self.bar = self.bar.wrapping_add(2);
        if self.bar < 2 {
            // Wrapped: start afresh.
            self.words.iter_mut().for_each(|c| *c = Cell::default());
            self.bytes.iter_mut().for_each(|c| *c = Cell::default());
            self.split.iter_mut().for_each(|s| *s = false);
            self.bar = 2;
        }
    }

    /// A CTA barrier completed.
    pub fn barrier(&mut self) {
        self.bar = self.bar.wrapping_add(1);
    }

    #[inline(always)]
    fn scan<const WRITE: bool>(&mut self, off: usize, len: usize, me: Acc) -> Result<(), RaceHit> {
        let op = if WRITE { write_cell } else { read_cell };
        let write = WRITE;
        let end = (off + len).min(self.words.len() * 4);
        let mut a = off;
        while a < end {
            let wi = a / 4;
            let whole = a.is_multiple_of(4) && a + 4 <= end;
            if whole && !self.split[wi] {
                op(&mut self.words[wi], me).map_err(|(prev, pw)| RaceHit {
                    off: a,
                    prev,
                    prev_write: pw,
                })?;
                a += 4;
                continue;
            }
            if !self.split[wi] {
                let c = self.words[wi];
                self.bytes[wi * 4..wi * 4 + 4].fill(c);
                self.split[wi] = true;
            }
            let stop = if whole { a + 4 } else { (a + 1).min(end) };
            for b in a..stop {
                op(&mut self.bytes[b], me).map_err(|(prev, pw)| RaceHit {
                    off: b,
                    prev,
                    prev_write: pw,
                })?;
            }
            if whole && write {
                // A whole-word write makes the word uniform again.
                self.words[wi] = self.bytes[wi * 4];
                self.split[wi] = false;
            }
            a = stop;
        }
        Ok(())
    }

    /// A read or write of `[off, off + len)` by thread `tid` (warp epoch `wep`) at `pc`.
    #[inline]
    pub fn access(
        &mut self,
        write: bool,
        off: usize,
        len: usize,
        tid: u16,
        wep: u16,
        pc: u32,
    ) -> Result<(), RaceHit> {
        let me = Acc {
            tid,
            wep,
            bar: self.bar,
            pc,
        };
        if write {
            self.scan::<true>(off, len, me)
        } else {
            self.scan::<false>(off, len, me)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: bool = false;
    const W: bool = true;

    #[test]
    fn write_then_read_races_without_barrier() {
        let mut r = Race::default();
        r.begin_block(64);
        r.access(W, 0, 4, 0, 0, 1).unwrap();
        // Another warp reads it in the same barrier epoch.
        let e = r.access(R, 0, 4, 40, 0, 2).unwrap_err();
        assert!(e.prev_write);
        assert_eq!(e.prev.tid, 0);
        // After a barrier it is fine.
        let mut r = Race::default();
        r.begin_block(64);
        r.access(W, 0, 4, 0, 0, 1).unwrap();
        r.barrier();
        r.access(R, 0, 4, 40, 0, 2).unwrap();
        // Same warp: a warp sync orders them.
        r.access(W, 8, 4, 1, 0, 1).unwrap();
        assert!(r.access(R, 8, 4, 2, 0, 2).is_err());
        r.access(W, 16, 4, 1, 0, 1).unwrap();
        r.access(R, 16, 4, 2, 1, 2).unwrap();
        // Readers then a writer.
        r.access(R, 32, 1, 3, 1, 5).unwrap();
        r.access(R, 32, 1, 4, 1, 5).unwrap();
        assert!(r.access(W, 32, 1, 3, 1, 6).is_err());
        // A new block forgets everything.
        r.begin_block(64);
        r.access(R, 32, 1, 9, 0, 1).unwrap();
        // Byte granularity inside a word: neighbouring bytes by different threads are fine,
        // the same byte is not.
        r.access(W, 40, 1, 1, 0, 1).unwrap();
        r.access(W, 41, 1, 40, 0, 1).unwrap();
        r.access(W, 42, 2, 70, 0, 1).unwrap();
        assert!(r.access(R, 40, 4, 100, 0, 2).is_err());
        r.barrier();
        r.access(R, 40, 4, 100, 0, 2).unwrap();
        r.access(W, 40, 4, 100, 0, 3).unwrap();
        assert!(r.access(R, 41, 1, 3, 0, 4).is_err());
    }
}
