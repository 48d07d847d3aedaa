//! The tiering policy of engine `tiered`: hot functions and loops reported by the
//! interpreter are compiled by the [`CraneliftBackend`] and published into the module.
//!
//! Requests go into a crossbeam channel drained by a rayon pool of
//! [`Config::tier_workers`](kiln_runtime::Config::tier_workers) threads, so the thread
//! that found the code hot never waits (the pool starts with the first job: a program that
//! never gets hot pays nothing for it); with [`Config::tier_sync`](kiln_runtime::Config)
//! the compilation runs on that thread instead, before it goes on (tests use this for
//! deterministic tier-ups). Jobs hold [`WeakModule`]s: a module dropped while its code
//! compiles is not published into, and the code is freed.

use crate::backend::CraneliftBackend;
use kiln_runtime::{Module, NativeBackend, TierPolicy, TierStats, WeakModule};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One compilation request.
struct Job {
    module: WeakModule,
    index: u32,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    started: AtomicU64,
    compiled: AtomicU64,
    failed: AtomicU64,
    osr_compiled: AtomicU64,
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
    worker: Arc<Worker>,
    sync: bool,
    /// Background threads to start.
    workers: usize,
    /// The queue of the background threads, created with them by the first job (`None`
    /// when they could not be started: jobs then run on the caller's thread).
    queue: OnceLock<Option<crossbeam_channel::Sender<Job>>>,
}

struct Worker {
    backend: Arc<CraneliftBackend>,
    counters: Counters,
}

impl Tiering {
    /// A policy compiling with `backend`, with the threads and mode of `config`. No
    /// thread starts before the first job (see [`TierStats::worker_threads`]).
    pub fn new(backend: Arc<CraneliftBackend>, config: &kiln_runtime::Config) -> Tiering {
        Tiering {
            worker: Arc::new(Worker {
                backend,
                counters: Counters::default(),
            }),
            sync: config.tier_sync,
            workers: config.tier_workers.max(1),
            queue: OnceLock::new(),
        }
    }

    /// Starts the background threads and returns the sender of their queue, or `None`
    /// when no thread could be started.
    fn start_workers(&self) -> Option<crossbeam_channel::Sender<Job>> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.workers)
            .thread_name(|i| format!("kiln-tier-{i}"))
            .build()
            .ok()?;
        for _ in 0..self.workers {
            let rx = rx.clone();
            let worker = self.worker.clone();
            // Each task drains the queue until the policy (and its sender) is dropped;
            // then the pool's threads finish.
            pool.spawn(move || {
                for job in rx.iter() {
                    worker.run(job);
                }
            });
        }
        self.worker
            .counters
            .threads
            .fetch_add(self.workers as u64, Ordering::Relaxed);
        Some(tx)
    }

    fn submit(&self, job: Job) {
        self.worker.counters.queued.fetch_add(1, Ordering::Relaxed);
        if self.sync {
            return self.worker.run(job);
        }
        // The first job starts the threads; jobs racing with it wait for them (`OnceLock`).
        match self.queue.get_or_init(|| self.start_workers()) {
            Some(tx) => {
                if let Err(e) = tx.send(job) {
                    self.worker.run(e.into_inner());
                }
            }
            // No threads: compile on the caller's thread rather than never.
            None => self.worker.run(job),
        }
    }
}

impl Worker {
    fn run(&self, job: Job) {
        let c = &self.counters;
        c.started.fetch_add(1, Ordering::Relaxed);
        let Some(module) = job.module.upgrade() else {
            // The module is gone: nothing to publish into.
            c.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let start = Instant::now();
        // Publication trusts the code to suit the module's engine (guard pages or bounds
        // checks, interrupt checks): only this engine's own backend may compile for it.
        let engine_backend = module.engine().backend().map(Arc::as_ptr);
        let compiled =
            if engine_backend.is_some_and(|b| std::ptr::addr_eq(b, Arc::as_ptr(&self.backend))) {
                self.backend.compile_function(&module, job.index)
            } else {
                Err(kiln_runtime::Error::Unsupported(
                    "tiering: the policy's backend is not the module engine's backend".into(),
                ))
            };
        let elapsed = start.elapsed();
        {
            let mut t = c.times.lock().unwrap_or_else(|e| e.into_inner());
            t.0 += elapsed;
            t.1 = t.1.max(elapsed);
        }
        let published = compiled.and_then(|code| {
            let osr = code.osr.is_some();
            // SAFETY: `code` is what the module engine's own backend (checked above)
            // compiled for this module and `job.index`.
            unsafe { module.publish(job.index, code) }.map(|()| osr)
        });
        match published {
            Ok(osr) => {
                c.compiled.fetch_add(1, Ordering::Relaxed);
                if osr {
                    c.osr_compiled.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(
                    target: "kiln::tier",
                    module = module.name().unwrap_or(""),
                    func = job.index,
                    osr_entry = osr,
                    micros = elapsed.as_micros() as u64,
                    "tier-up"
                );
            }
            Err(e) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                module.tier_failed(job.index);
                tracing::debug!(
                    target: "kiln::tier",
                    func = job.index,
                    error = %e,
                    "tier-up failed; staying in the interpreter"
                );
            }
        }
    }
}

impl TierPolicy for Tiering {
    fn function_hot(&self, module: &Module, index: u32) {
        self.submit(Job {
            module: module.downgrade(),
            index,
        });
    }

    fn stats(&self) -> TierStats {
        let c = &self.worker.counters;
        let (total, max) = *c.times.lock().unwrap_or_else(|e| e.into_inner());
        let queued = c.queued.load(Ordering::Relaxed);
        let osr_compiled = c.osr_compiled.load(Ordering::Relaxed);
        TierStats {
            functions_queued: queued,
            functions_compiled: c.compiled.load(Ordering::Relaxed),
            compile_failures: c.failed.load(Ordering::Relaxed),
            osr_compiled,
            total_compile_time: total,
            max_compile_time: max,
            queue_length: queued.saturating_sub(c.started.load(Ordering::Relaxed)),
            worker_threads: c.threads.load(Ordering::Relaxed),
            ..TierStats::default()
        }
    }
}
