//! The tiering policy of engine `tiered`: hot functions and loops reported by the
//! interpreter are compiled by the [`CraneliftBackend`] and published into the module.
//!
//! Requests go into a bounded priority queue ([`crate::queue`]) served by
//! [`Config::tier_workers`](kiln_runtime::Config::tier_workers) threads of a rayon pool,
//! woken through a crossbeam channel, so the thread that found the code hot never waits
//! (the pool starts with the first request: a program that never gets hot pays nothing for
//! it). A worker takes the hottest waiting function and the next hottest of its module,
//! compiles them into one code block appended to the module's [`CodeRegion`], and
//! registers and publishes the block at once. With
//! [`Config::tier_sync`](kiln_runtime::Config) the compilation runs on the requesting
//! thread instead, one function at a time, before it goes on (tests use this for
//! deterministic tier-ups). Requests hold [`WeakModule`]s: a module dropped while its code
//! waits or compiles is not published into, and the code is freed.

use crate::backend::CraneliftBackend;
use crate::code_memory::CodeRegion;
use crate::queue::{Limits, Probe, RequestQueue};
use kiln_runtime::{Module, TierPolicy, TierStats, WeakModule};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The bounds of the queue and its batches (see RATIONALE.md, "A compile pipeline that
/// scales", for the measurements behind them).
const LIMITS: Limits = Limits {
    capacity: 4096,
    batch_functions: 32,
    batch_bytes: 16 * 1024,
    stale_after: Duration::from_millis(100),
};

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    compiled: AtomicU64,
    failed: AtomicU64,
    deferred: AtomicU64,
    batches: AtomicU64,
    osr_compiled: AtomicU64,
    code_bytes: AtomicU64,
    /// Background threads started.
    threads: AtomicU64,
    /// (total, max) compile time.
    times: Mutex<(Duration, Duration)>,
}

/// Kiln's [`TierPolicy`]: compile hot functions and loops with Cranelift.
///
/// ```
/// # if !kiln_runtime::vm::native::is_supported() { return; }
/// use kiln_runtime::{Config, Engine};
/// use kiln_tiering::{CraneliftBackend, Tiering};
/// use std::sync::Arc;
/// let config = Config::default().with_tier_threshold(10);
/// let backend = Arc::new(CraneliftBackend::new(Default::default()).unwrap());
/// let policy = Arc::new(Tiering::new(backend.clone(), &config));
/// let engine = Engine::with_tiering(config, backend, policy);
/// assert_eq!(engine.tier_stats().unwrap().functions_compiled, 0);
/// ```
pub struct Tiering {
    shared: Arc<Shared>,
    sync: bool,
    /// Background threads to start.
    workers: usize,
    /// Wakes the background threads, created with them by the first request (`None` when
    /// they could not be started: requests are then compiled on the caller's thread).
    wake: OnceLock<Option<crossbeam_channel::Sender<()>>>,
}

/// What the policy and its threads share.
struct Shared {
    backend: Arc<CraneliftBackend>,
    counters: Counters,
    queue: Mutex<RequestQueue<WeakModule>>,
}

impl Tiering {
    /// A policy compiling with `backend`, with the threads and mode of `config`. No
    /// thread starts before the first request (see [`TierStats::worker_threads`]).
    pub fn new(backend: Arc<CraneliftBackend>, config: &kiln_runtime::Config) -> Tiering {
        Tiering {
            shared: Arc::new(Shared {
                backend,
                counters: Counters::default(),
                queue: Mutex::new(RequestQueue::new(LIMITS)),
            }),
            sync: config.tier_sync,
            workers: config.tier_workers.max(1),
            wake: OnceLock::new(),
        }
    }

    /// Starts the background threads and returns the sender that wakes them, or `None`
    /// when no thread could be started.
    fn start_workers(&self) -> Option<crossbeam_channel::Sender<()>> {
        // One pending wake-up per thread is enough: a woken thread serves the queue until
        // it is empty.
        let (tx, rx) = crossbeam_channel::bounded::<()>(self.workers);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.workers)
            .thread_name(|i| format!("kiln-tier-{i}"))
            .build()
            .ok()?;
        for _ in 0..self.workers {
            let rx = rx.clone();
            let shared = self.shared.clone();
            // Each task serves the queue until the policy (and its sender) is dropped;
            // then the pool's threads finish.
            pool.spawn(move || {
                for () in rx.iter() {
                    shared.drain();
                }
            });
        }
        self.shared
            .counters
            .threads
            .fetch_add(self.workers as u64, Ordering::Relaxed);
        Some(tx)
    }

    fn submit(&self, module: &Module, index: u32, in_loop: bool) {
        let shared = &self.shared;
        shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        if self.sync {
            return shared.compile(module, &[index]);
        }
        let (calls, backedges) = module.hotness(index).unwrap_or_default();
        let back = shared.lock_queue().push(
            module.downgrade(),
            index,
            in_loop,
            calls.wrapping_add(backedges),
            Instant::now(),
        );
        if back.is_some() {
            // The queue is full: this function waits in the interpreter until it gets
            // hot again.
            shared.counters.deferred.fetch_add(1, Ordering::Relaxed);
            module.tier_cool(index);
            return;
        }
        // The first request starts the threads; requests racing with it wait for them
        // (`OnceLock`).
        match self.wake.get_or_init(|| self.start_workers()) {
            Some(tx) => match tx.try_send(()) {
                // A full channel: every thread has a wake-up pending already.
                Ok(()) | Err(crossbeam_channel::TrySendError::Full(())) => {}
                Err(crossbeam_channel::TrySendError::Disconnected(())) => shared.drain(),
            },
            // No threads: compile on the caller's thread rather than never.
            None => shared.drain(),
        }
    }
}

impl Shared {
    fn lock_queue(&self) -> std::sync::MutexGuard<'_, RequestQueue<WeakModule>> {
        // A poisoned queue is taken over: every step leaves it a valid list of requests.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Compiles and publishes batches until the queue is empty.
    fn drain(&self) {
        loop {
            // The module of the last request probed, upgraded once for its neighbours.
            let mut last: Option<(WeakModule, Option<Module>)> = None;
            let popped = self.lock_queue().pop_batch(
                Instant::now(),
                |key, index| {
                    if !last.as_ref().is_some_and(|(weak, _)| weak.same(key)) {
                        last = Some((key.clone(), key.upgrade()));
                    }
                    let module = last.as_ref()?.1.as_ref()?;
                    let (calls, backedges) = module.hotness(index)?;
                    Some(Probe {
                        heat: calls.wrapping_add(backedges),
                        size: module.func_body(index).map_or(0, <[u8]>::len),
                    })
                },
                WeakModule::same,
            );
            drop(last);
            let c = &self.counters;
            c.failed
                .fetch_add(popped.gone.len() as u64, Ordering::Relaxed);
            for r in &popped.cooled {
                if let Some(module) = r.key.upgrade() {
                    module.tier_cool(r.index);
                }
                c.deferred.fetch_add(1, Ordering::Relaxed);
            }
            let Some(first) = popped.batch.first() else {
                return;
            };
            let Some(module) = first.key.upgrade() else {
                // The module is gone: nothing to publish into.
                c.failed
                    .fetch_add(popped.batch.len() as u64, Ordering::Relaxed);
                continue;
            };
            let indices: Vec<u32> = popped.batch.iter().map(|r| r.index).collect();
            self.compile(&module, &indices);
        }
    }

    /// Compiles functions `indices` of `module` into one block and publishes it.
    fn compile(&self, module: &Module, indices: &[u32]) {
        let c = &self.counters;
        let failed = |index: u32, error: &kiln_runtime::Error| {
            c.failed.fetch_add(1, Ordering::Relaxed);
            module.tier_failed(index);
            tracing::debug!(
                target: "kiln::tier",
                func = index,
                error = %error,
                "tier-up failed; staying in the interpreter"
            );
        };
        // Publication trusts the code to suit the module's engine (guard pages or bounds
        // checks, interrupt checks): only this engine's own backend may compile for it.
        let engine_backend = module.engine().backend().map(Arc::as_ptr);
        if !engine_backend.is_some_and(|b| std::ptr::addr_eq(b, Arc::as_ptr(&self.backend))) {
            let e = kiln_runtime::Error::Unsupported(
                "tiering: the policy's backend is not the module engine's backend".into(),
            );
            return indices.iter().for_each(|&i| failed(i, &e));
        }
        let Some(region) = module.tier_backend_state(CodeRegion::new) else {
            let e = kiln_runtime::Error::Unsupported(
                "tiering: the module has no code region of this backend".into(),
            );
            return indices.iter().for_each(|&i| failed(i, &e));
        };
        let start = Instant::now();
        let outcome = self.backend.compile_batch(module, indices, &region);
        let elapsed = start.elapsed();
        {
            let mut t = c.times.lock().unwrap_or_else(|e| e.into_inner());
            t.0 += elapsed;
            t.1 = t.1.max(elapsed);
        }
        for (index, e) in &outcome.failed {
            failed(*index, e);
        }
        let Some(batch) = outcome.batch else {
            return;
        };
        let published: Vec<(u32, bool)> = batch
            .functions
            .iter()
            .map(|f| (f.index, f.osr.is_some()))
            .collect();
        // SAFETY: the batch is what the module engine's own backend (checked above)
        // compiled for this module and these functions.
        match unsafe { module.publish_batch(batch) } {
            Ok(()) => {
                c.batches.fetch_add(1, Ordering::Relaxed);
                c.code_bytes
                    .fetch_add(outcome.code_bytes as u64, Ordering::Relaxed);
                c.compiled
                    .fetch_add(published.len() as u64, Ordering::Relaxed);
                let osr = published.iter().filter(|p| p.1).count();
                c.osr_compiled.fetch_add(osr as u64, Ordering::Relaxed);
                tracing::debug!(
                    target: "kiln::tier",
                    module = module.name().unwrap_or(""),
                    functions = published.len(),
                    first = published[0].0,
                    osr_entries = osr,
                    micros = elapsed.as_micros() as u64,
                    "tier-up"
                );
            }
            Err(e) => published.iter().for_each(|&(i, _)| failed(i, &e)),
        }
    }
}

impl TierPolicy for Tiering {
    fn function_hot(&self, module: &Module, index: u32) {
        self.submit(module, index, false);
    }

    fn loop_hot(&self, module: &Module, index: u32) {
        self.submit(module, index, true);
    }

    fn stats(&self) -> TierStats {
        let c = &self.shared.counters;
        let (total, max) = *c.times.lock().unwrap_or_else(|e| e.into_inner());
        let (queue_length, max_queue_length) = {
            let q = self.shared.lock_queue();
            (q.len() as u64, q.max_len() as u64)
        };
        TierStats {
            functions_queued: c.queued.load(Ordering::Relaxed),
            functions_compiled: c.compiled.load(Ordering::Relaxed),
            compile_failures: c.failed.load(Ordering::Relaxed),
            functions_deferred: c.deferred.load(Ordering::Relaxed),
            batches_compiled: c.batches.load(Ordering::Relaxed),
            osr_compiled: c.osr_compiled.load(Ordering::Relaxed),
            total_compile_time: total,
            max_compile_time: max,
            queue_length,
            max_queue_length,
            code_bytes: c.code_bytes.load(Ordering::Relaxed),
            worker_threads: c.threads.load(Ordering::Relaxed),
            ..TierStats::default()
        }
    }
}
