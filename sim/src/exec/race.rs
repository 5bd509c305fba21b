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

/// The detector's state (one per worker thread, reused across blocks).
#[derive(Default)]
pub(crate) struct Race {
    cells: Vec<Cell>,
    /// The current barrier epoch.
    pub bar: u32,
}

#[inline]
fn concurrent(prev: &Acc, tid: u16, wep: u16, bar: u32) -> bool {
    prev.bar == bar && prev.tid != tid && (prev.tid / 32 != tid / 32 || prev.wep == wep)
}

impl Race {
    /// A new block with `shared_len` bytes of shared memory: every older stamp becomes stale.
    pub fn begin_block(&mut self, shared_len: usize) {
        if self.cells.len() < shared_len {
            self.cells.resize(shared_len, Cell::default());
        }
        self.bar = self.bar.wrapping_add(2);
        if self.bar < 2 {
            // Wrapped: start afresh.
            self.cells.iter_mut().for_each(|c| *c = Cell::default());
            self.bar = 2;
        }
    }

    /// A CTA barrier completed.
    pub fn barrier(&mut self) {
        self.bar = self.bar.wrapping_add(1);
    }

    /// A read of `[off, off + len)` by thread `tid` (warp epoch `wep`) at `pc`.
    #[inline]
    pub fn read(
        &mut self,
        off: usize,
        len: usize,
        tid: u16,
        wep: u16,
        pc: u32,
    ) -> Result<(), RaceHit> {
        let bar = self.bar;
        let me = Acc { tid, wep, bar, pc };
        let cells = match self.cells.get_mut(off..off + len) {
            Some(c) => c,
            None => return Ok(()),
        };
        for (k, c) in cells.iter_mut().enumerate() {
            if concurrent(&c.w, tid, wep, bar) {
                return Err(RaceHit {
                    off: off + k,
                    prev: c.w,
                    prev_write: true,
                });
            }
            if c.r1.bar != bar {
                c.r1 = me;
                c.r2.bar = 0;
            } else if c.r1.tid == tid {
                c.r1 = me;
            } else {
                c.r2 = c.r1;
                c.r1 = me;
            }
        }
        Ok(())
    }

    /// A write of `[off, off + len)` by thread `tid` at `pc`.
    #[inline]
    pub fn write(
        &mut self,
        off: usize,
        len: usize,
        tid: u16,
        wep: u16,
        pc: u32,
    ) -> Result<(), RaceHit> {
        let bar = self.bar;
        let me = Acc { tid, wep, bar, pc };
        let cells = match self.cells.get_mut(off..off + len) {
            Some(c) => c,
            None => return Ok(()),
        };
        for (k, c) in cells.iter_mut().enumerate() {
            if concurrent(&c.w, tid, wep, bar) {
                return Err(RaceHit {
                    off: off + k,
                    prev: c.w,
                    prev_write: true,
                });
            }
            for r in [c.r1, c.r2] {
                if concurrent(&r, tid, wep, bar) {
                    return Err(RaceHit {
                        off: off + k,
                        prev: r,
                        prev_write: false,
                    });
                }
            }
            c.w = me;
            c.r1.bar = 0;
            c.r2.bar = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_races_without_barrier() {
        let mut r = Race::default();
        r.begin_block(64);
        r.write(0, 4, 0, 0, 1).unwrap();
        // Another warp reads it in the same barrier epoch.
        let e = r.read(0, 4, 40, 0, 2).unwrap_err();
        assert!(e.prev_write);
        assert_eq!(e.prev.tid, 0);
        // After a barrier it is fine.
        let mut r = Race::default();
        r.begin_block(64);
        r.write(0, 4, 0, 0, 1).unwrap();
        r.barrier();
        r.read(0, 4, 40, 0, 2).unwrap();
        // Same warp: a warp sync orders them.
        r.write(8, 4, 1, 0, 1).unwrap();
        assert!(r.read(8, 4, 2, 0, 2).is_err());
        r.write(16, 4, 1, 0, 1).unwrap();
        r.read(16, 4, 2, 1, 2).unwrap();
        // Readers then a writer.
        r.read(32, 1, 3, 1, 5).unwrap();
        r.read(32, 1, 4, 1, 5).unwrap();
        assert!(r.write(32, 1, 3, 1, 6).is_err());
        // A new block forgets everything.
        r.begin_block(64);
        r.read(32, 1, 9, 0, 1).unwrap();
    }
}
