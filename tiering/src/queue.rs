//! The compile queue of engine `tiered`: requests for hot functions, served hottest first
//! in batches of one module's functions.
//!
//! The queue does not take a request's heat at face value: each time a worker takes a
//! batch, it reads every waiting function's live counter (calls plus back-edges, which the
//! interpreter keeps counting while the function waits). A function whose count keeps
//! rising moves up; one whose count has not moved for [`Limits::stale_after`] was hot once
//! and is not any more, and is handed back (the policy makes it requestable again). A
//! function hot in a loop of a running frame, which waits for its OSR entry, goes first
//! and alone. The queue holds at most [`Limits::capacity`] call requests; beyond that a new
//! one is handed back at once.

use std::time::{Duration, Instant};

/// The bounds of the queue and its batches.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Call requests the queue holds (loop requests are always taken).
    pub capacity: usize,
    /// Functions per batch.
    pub batch_functions: usize,
    /// Wasm body bytes per batch (a larger function makes a batch of its own).
    pub batch_bytes: usize,
    /// How long a queued function may go without being called or looping before its
    /// request is dropped.
    pub stale_after: Duration,
}

/// One request: function `index` of the module `key` stands for.
#[derive(Debug)]
pub struct Request<K> {
    /// The module.
    pub key: K,
    /// The function.
    pub index: u32,
    /// Whether a running frame got hot in one of its loops.
    pub in_loop: bool,
    /// The function's heat when it was queued.
    queued_heat: u32,
    /// Its heat when last read, and when it last grew.
    last_heat: u32,
    last_growth: Instant,
}

/// What a worker took from the queue.
#[derive(Debug)]
pub struct Popped<K> {
    /// Functions of one module to compile together, hottest first.
    pub batch: Vec<Request<K>>,
    /// Requests dropped because their functions cooled down.
    pub cooled: Vec<Request<K>>,
    /// Requests whose module is gone.
    pub gone: Vec<Request<K>>,
}

/// What the queue needs to know of a waiting function, read when a batch is taken.
#[derive(Clone, Copy, Debug)]
pub struct Probe {
    /// Calls plus back-edges so far (wrapping).
    pub heat: u32,
    /// Size of the Wasm body in bytes.
    pub size: usize,
}

/// The waiting requests (see the module documentation).
#[derive(Debug)]
pub struct RequestQueue<K> {
    entries: Vec<Request<K>>,
    limits: Limits,
    max_len: usize,
}

impl<K> RequestQueue<K> {
    /// An empty queue with `limits`.
    pub fn new(limits: Limits) -> RequestQueue<K> {
        RequestQueue {
            entries: Vec::new(),
            limits,
            max_len: 0,
        }
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no request waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most requests that ever waited at once.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Queues function `index` of `key`, whose heat is `heat` now. Returns the request
    /// back when the queue is full (never for a loop request).
    pub fn push(
        &mut self,
        key: K,
        index: u32,
        in_loop: bool,
        heat: u32,
        now: Instant,
    ) -> Option<Request<K>> {
        let request = Request {
            key,
            index,
            in_loop,
            queued_heat: heat,
            last_heat: heat,
            last_growth: now,
        };
        if !in_loop && self.entries.len() >= self.limits.capacity {
            return Some(request);
        }
        self.entries.push(request);
        self.max_len = self.max_len.max(self.entries.len());
        None
    }

    /// Takes the next batch: the hottest request (a loop request first, alone) and the
    /// hottest others of its module, up to the batch bounds. `probe` reads a function's
    /// counters (`None`: its module is gone); `same` tells whether two keys are one module.
    pub fn pop_batch(
        &mut self,
        now: Instant,
        mut probe: impl FnMut(&K, u32) -> Option<Probe>,
        same: impl Fn(&K, &K) -> bool,
    ) -> Popped<K> {
        let mut popped = Popped {
            batch: Vec::new(),
            cooled: Vec::new(),
            gone: Vec::new(),
        };
        // Read every waiting function's counters; drop the gone and the cooled.
        let mut sizes = Vec::with_capacity(self.entries.len());
        let mut i = 0;
        while i < self.entries.len() {
            let e = &mut self.entries[i];
            let Some(p) = probe(&e.key, e.index) else {
                popped.gone.push(self.entries.swap_remove(i));
                continue;
            };
            if p.heat != e.last_heat {
                e.last_heat = p.heat;
                e.last_growth = now;
            }
            if !e.in_loop && now.duration_since(e.last_growth) >= self.limits.stale_after {
                popped.cooled.push(self.entries.swap_remove(i));
                continue;
            }
            sizes.push(p.size);
            i += 1;
        }
        let Some(best) = (0..self.entries.len()).max_by_key(|&i| self.entries[i].score()) else {
            return popped;
        };
        let alone = self.entries[best].in_loop || sizes[best] >= self.limits.batch_bytes;
        let mut chosen = vec![best];
        if !alone {
            // The module's other call requests, hottest first.
            let key = &self.entries[best].key;
            let mut others: Vec<usize> = (0..self.entries.len())
                .filter(|&i| {
                    i != best && !self.entries[i].in_loop && same(key, &self.entries[i].key)
                })
                .collect();
            let want = self.limits.batch_functions.saturating_sub(1);
            if others.len() > want && want > 0 {
                others.select_nth_unstable_by_key(want - 1, |&i| {
                    std::cmp::Reverse(self.entries[i].score())
                });
                others.truncate(want);
            }
            others.sort_unstable_by_key(|&i| std::cmp::Reverse(self.entries[i].score()));
            let mut bytes = sizes[best];
            for i in others {
                if chosen.len() >= self.limits.batch_functions {
                    break;
                }
                if bytes + sizes[i] <= self.limits.batch_bytes {
                    bytes += sizes[i];
                    chosen.push(i);
                }
            }
        }
        // Remove from the highest position down, so the lower ones stay valid; then put
        // the batch back in order of heat.
        let order: Vec<u32> = chosen.iter().map(|&i| self.entries[i].index).collect();
        chosen.sort_unstable_by(|a, b| b.cmp(a));
        for i in chosen {
            popped.batch.push(self.entries.swap_remove(i));
        }
        popped
            .batch
            .sort_by_key(|r| order.iter().position(|&i| i == r.index));
        popped
    }
}

impl<K> Request<K> {
    /// Loop requests first; then how much hotter the function got since it was queued;
    /// then how hot it is.
    fn score(&self) -> (bool, u32, u32) {
        (
            self.in_loop,
            self.last_heat.wrapping_sub(self.queued_heat),
            self.last_heat,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const LIMITS: Limits = Limits {
        capacity: 4,
        batch_functions: 3,
        batch_bytes: 100,
        stale_after: Duration::from_millis(100),
    };

    /// Heat and size of `(module, function)`; a module missing from the map is gone.
    struct World(HashMap<(u32, u32), (u32, usize)>);

    impl World {
        fn probe(&self, key: &u32, index: u32) -> Option<Probe> {
            self.0
                .get(&(*key, index))
                .map(|&(heat, size)| Probe { heat, size })
        }
    }

    fn pop(q: &mut RequestQueue<u32>, world: &World, now: Instant) -> Popped<u32> {
        q.pop_batch(now, |k, i| world.probe(k, i), |a, b| a == b)
    }

    fn indices(rs: &[Request<u32>]) -> Vec<(u32, u32)> {
        rs.iter().map(|r| (r.key, r.index)).collect()
    }

    #[test]
    fn functions_that_keep_getting_hotter_move_up() {
        let t0 = Instant::now();
        let mut q = RequestQueue::new(LIMITS);
        for f in 0..4 {
            assert!(q.push(7, f, false, 1000, t0).is_none());
        }
        // Since queued: function 2 got 50 hotter, 3 got 10 hotter, 0 and 1 did not move.
        let world = World(HashMap::from([
            ((7, 0), (1000, 10)),
            ((7, 1), (1000, 10)),
            ((7, 2), (1050, 10)),
            ((7, 3), (1010, 10)),
        ]));
        let p = pop(&mut q, &world, t0 + Duration::from_millis(1));
        assert_eq!(indices(&p.batch)[..2], [(7, 2), (7, 3)]);
        assert_eq!(p.batch.len(), 3, "up to the batch's function bound");
        assert_eq!(q.len(), 1);
        assert!(p.cooled.is_empty() && p.gone.is_empty());
    }

    #[test]
    fn a_loop_request_goes_first_and_alone() {
        let t0 = Instant::now();
        let mut q = RequestQueue::new(LIMITS);
        q.push(1, 0, false, 1000, t0);
        q.push(1, 1, false, 1000, t0);
        q.push(1, 2, true, 1000, t0);
        let world = World(HashMap::from([
            ((1, 0), (5000, 10)),
            ((1, 1), (5000, 10)),
            ((1, 2), (1000, 10)),
        ]));
        let p = pop(&mut q, &world, t0);
        assert_eq!(indices(&p.batch), [(1, 2)]);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn batches_hold_one_module_within_the_byte_bound() {
        let t0 = Instant::now();
        let mut q = RequestQueue::new(LIMITS);
        q.push(1, 0, false, 0, t0);
        q.push(2, 0, false, 0, t0);
        q.push(1, 1, false, 0, t0);
        q.push(1, 2, false, 0, t0);
        let world = World(HashMap::from([
            ((1, 0), (90, 60)),
            ((2, 0), (80, 10)),
            ((1, 1), (70, 50)),
            ((1, 2), (10, 30)),
        ]));
        let p = pop(&mut q, &world, t0);
        // Module 1's hottest (60 bytes), not its next (50 more bytes would pass 100), but
        // its third (30); module 2 waits.
        assert_eq!(indices(&p.batch), [(1, 0), (1, 2)]);
        let p = pop(&mut q, &world, t0);
        assert_eq!(indices(&p.batch), [(2, 0)]);
        // A function over the byte bound is a batch of its own.
        q.push(1, 3, false, 0, t0);
        let world = World(HashMap::from([((1, 1), (70, 500)), ((1, 3), (1, 5))]));
        let p = pop(&mut q, &world, t0);
        assert_eq!(indices(&p.batch), [(1, 1)]);
    }

    #[test]
    fn functions_that_cooled_down_are_dropped_and_gone_modules_discarded() {
        let t0 = Instant::now();
        let mut q = RequestQueue::new(LIMITS);
        q.push(1, 0, false, 1000, t0);
        q.push(1, 1, false, 1000, t0);
        q.push(1, 2, true, 1000, t0);
        q.push(9, 0, false, 1000, t0);
        // Function 1 is still being called, 0 is not; module 9 is gone; the loop request
        // never cools (its frame is waiting for the OSR entry).
        let world = World(HashMap::from([
            ((1, 0), (1000, 10)),
            ((1, 1), (1001, 10)),
            ((1, 2), (1000, 10)),
        ]));
        let later = t0 + LIMITS.stale_after;
        let p = pop(&mut q, &world, later);
        assert_eq!(indices(&p.cooled), [(1, 0)]);
        assert_eq!(indices(&p.gone), [(9, 0)]);
        assert_eq!(indices(&p.batch), [(1, 2)]);
        assert_eq!(indices(&q.entries), [(1, 1)]);
    }

    #[test]
    fn a_full_queue_hands_call_requests_back_but_takes_loop_requests() {
        let t0 = Instant::now();
        let mut q = RequestQueue::new(LIMITS);
        for f in 0..4 {
            assert!(q.push(1, f, false, 0, t0).is_none());
        }
        let back = q.push(1, 4, false, 0, t0).expect("full");
        assert_eq!((back.key, back.index), (1, 4));
        assert!(q.push(1, 5, true, 0, t0).is_none());
        assert_eq!((q.len(), q.max_len()), (5, 5));
        let world = World(HashMap::new());
        let p = pop(&mut q, &world, t0);
        assert_eq!(p.gone.len(), 5);
        assert!(q.is_empty());
        assert_eq!(q.max_len(), 5);
    }
}
