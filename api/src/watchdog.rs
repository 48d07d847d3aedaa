//! One background thread that enforces call deadlines by closing modules.

use crate::module::ModuleInner;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Instant;

/// What a deadline stops: a module (closed with the deadline exit code) or, before a
/// module exists, the interrupt word of the instance being created.
enum Target {
    Module(Weak<ModuleInner>),
    Flag(Weak<AtomicU32>),
}

struct Entry {
    deadline: Instant,
    seq: u64,
    target: Target,
    done: Arc<AtomicBool>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let w: &'static Watchdog = Box::leak(Box::new(Watchdog {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("kiln-deadlines".into())
            .spawn(move || w.run())
            .expect("spawn the deadline thread");
        w
    })
}

impl Watchdog {
    fn run(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while let Some(Reverse(top)) = state.heap.peek() {
                if top.done.load(Ordering::Acquire) {
                    state.heap.pop();
                    continue;
                }
                if top.deadline > now {
                    break;
                }
                let Some(Reverse(e)) = state.heap.pop() else {
                    break;
                };
                match e.target {
                    Target::Module(m) => {
                        if let Some(m) = m.upgrade() {
                            m.close_with(crate::EXIT_CODE_DEADLINE_EXCEEDED);
                        }
                    }
                    Target::Flag(f) => {
                        if let Some(f) = f.upgrade() {
                            f.fetch_or(kiln_runtime::INTERRUPT_STOP, Ordering::Release);
                        }
                    }
                }
            }
            state = match state.heap.peek() {
                Some(Reverse(top)) => {
                    let wait = top.deadline.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// A registered deadline; dropping it cancels the deadline.
pub(crate) struct DeadlineGuard {
    done: Arc<AtomicBool>,
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        // Under the watchdog's lock, which it holds while it fires deadlines: once the
        // guard is gone the deadline can no longer fire late (a start deadline that set an
        // instance's interrupt word after instantiation had finished left a healthy module
        // that failed its next call as "interrupted"; found by the `run` fuzzer).
        let _state = watchdog().state.lock().unwrap_or_else(|e| e.into_inner());
        self.done.store(true, Ordering::Release);
    }
}

/// Closes `module` with the deadline exit code if the guard is still alive at `deadline`.
pub(crate) fn arm(module: &Arc<ModuleInner>, deadline: Instant) -> DeadlineGuard {
    arm_target(Target::Module(Arc::downgrade(module)), deadline)
}

/// Sets `flag` if the guard is still alive at `deadline`.
pub(crate) fn arm_flag(flag: &Arc<AtomicU32>, deadline: Instant) -> DeadlineGuard {
    arm_target(Target::Flag(Arc::downgrade(flag)), deadline)
}

fn arm_target(target: Target, deadline: Instant) -> DeadlineGuard {
    let w = watchdog();
    let done = Arc::new(AtomicBool::new(false));
    let mut state = w.state.lock().unwrap_or_else(|e| e.into_inner());
    state.seq += 1;
    let seq = state.seq;
    state.heap.push(Reverse(Entry {
        deadline,
        seq,
        target,
        done: done.clone(),
    }));
    drop(state);
    w.wake.notify_one();
    DeadlineGuard { done }
}
