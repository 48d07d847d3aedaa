//! A loom model of how `Module::publish` installs native code into an indirection slot
//! while other threads call through it (RATIONALE.md, "How is code published without stale
//! call sites?"), with the orderings of `runtime/src/module.rs` (`publish`),
//! `runtime/src/interp/exec.rs` (the fast path's cached `interp_code` and the slow path
//! `enter`) and `runtime/src/vm/native.rs` (`array_call` then `native_code`).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p kiln-runtime --test loom_publish --release
//! ```
//!
//! The `weakened_*` tests run the same model with one ordering weakened and expect loom to
//! find the failing interleaving, so the model is known to be able to fail.
//!
//! Engine `tiered` also publishes the function's *body* into the module's body table
//! (`TierState::publish_body`), which tiered bodies read at every call of the function
//! (`call_published` in the translator): the `body_*` tests model that word next to the
//! slot.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

/// What the slot's fields hold, as small integers instead of pointers.
const ADAPTER: usize = 1; // `native_code` before publication: the adapter into the interpreter
const NATIVE: usize = 2; // the published code
const TRAMPOLINE: usize = 3; // the published array trampoline
const FUNC_CODE: usize = 4; // the interpreter's code, cached in `interp_code`
const BODY: usize = 5; // the published body's address, in the module's body table
const REGISTERED: usize = 6; // the code block is mapped executable and registered

/// The orderings of the protocol (the real ones in [`REAL`]).
#[derive(Clone, Copy)]
struct Orderings {
    /// `publish`: the three stores.
    publish_native: Ordering,
    publish_array: Ordering,
    publish_clear: Ordering,
    /// `publish`: whether the clear is a swap (else a plain store).
    publish_clear_swap: bool,
    /// `enter`: caching with a swap, then re-reading `array_call`.
    enter_cache: Ordering,
    enter_cache_swap: bool,
    enter_recheck: Ordering,
    /// `call_native`: loading the trampoline, then the code.
    native_array: Ordering,
    native_code: Ordering,
    /// `publish_body`: the store of the body's address (after registering the code).
    publish_body: Ordering,
    /// A tiered body's call: loading the callee's body word. The generated code uses a
    /// plain load whose value the call depends on (x86-64 keeps loads in order); the
    /// model states that as `Acquire`.
    body_load: Ordering,
}

const REAL: Orderings = Orderings {
    publish_native: Ordering::SeqCst,
    publish_array: Ordering::SeqCst,
    publish_clear: Ordering::AcqRel,
    publish_clear_swap: true,
    enter_cache: Ordering::AcqRel,
    enter_cache_swap: true,
    enter_recheck: Ordering::Acquire,
    native_array: Ordering::Acquire,
    native_code: Ordering::Acquire,
    publish_body: Ordering::Release,
    body_load: Ordering::Acquire,
};

/// One `VMFuncRef` of one instance.
struct Slot {
    native_code: AtomicUsize,
    array_call: AtomicUsize,
    interp_code: AtomicUsize,
    /// What each thread did, for the failure message (not part of the model).
    log: std::sync::Mutex<Vec<String>>,
}

impl Slot {
    fn note(&self, what: String) {
        self.log.lock().unwrap().push(what);
    }

    fn trace(&self) -> String {
        self.log.lock().unwrap().join("; ")
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            native_code: AtomicUsize::new(ADAPTER),
            array_call: AtomicUsize::new(0),
            interp_code: AtomicUsize::new(0),
            log: std::sync::Mutex::new(Vec::new()),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Ran {
    Interpreter,
    Native,
}

/// `Module::publish` for one slot.
fn publish(slot: &Slot, o: Orderings) {
    slot.native_code.store(NATIVE, o.publish_native);
    slot.array_call.store(TRAMPOLINE, o.publish_array);
    slot.note("publish: stored array_call".into());
    if o.publish_clear_swap {
        slot.interp_code.swap(0, o.publish_clear);
    } else {
        slot.interp_code.store(0, o.publish_clear);
    }
    slot.note("publish: cleared interp_code".into());
}

/// `call_native`: the trampoline it found must come with the published code.
fn call_native(slot: &Slot, o: Orderings) -> Ran {
    let tramp = slot.array_call.load(o.native_array);
    let code = slot.native_code.load(o.native_code);
    assert_eq!(tramp, TRAMPOLINE);
    assert_eq!(
        code, NATIVE,
        "native call through the trampoline reached the adapter"
    );
    Ran::Native
}

/// A host call (`Function::call`) or a native caller: only `array_call` decides.
fn host_call(slot: &Slot, o: Orderings) -> Ran {
    if slot.array_call.load(o.native_array) != 0 {
        return call_native(slot, o);
    }
    Ran::Interpreter
}

/// An interpreter call through the slot: the fast path (cached entry, `Relaxed`) and else
/// `enter`.
fn call(slot: &Slot, o: Orderings) -> Ran {
    let me = format!("{:?}", thread::current().id());
    let cached = slot.interp_code.load(Ordering::Relaxed);
    slot.note(format!("{me} fast path reads {cached}"));
    if cached != 0 {
        return Ran::Interpreter;
    }
    let tramp = slot.array_call.load(Ordering::Acquire);
    slot.note(format!("{me} enter reads array_call {tramp}"));
    if tramp != 0 {
        return call_native(slot, o);
    }
    if o.enter_cache_swap {
        slot.interp_code.swap(FUNC_CODE, o.enter_cache);
    } else {
        slot.interp_code.store(FUNC_CODE, o.enter_cache);
    }
    let again = slot.array_call.load(o.enter_recheck);
    slot.note(format!("{me} cached, fence, re-reads array_call {again}"));
    if again != 0 {
        slot.interp_code.swap(0, o.enter_cache);
        return call_native(slot, o);
    }
    Ran::Interpreter
}

/// The module's side of a published function: its code block and its body-table word.
struct ModuleCode {
    /// The code block: mapping it executable and registering it are plain writes before
    /// the body is published (`REGISTERED` once done).
    code: AtomicUsize,
    /// The function's word in the body table: 0, then `BODY`.
    body: AtomicUsize,
}

impl ModuleCode {
    fn new() -> ModuleCode {
        ModuleCode {
            code: AtomicUsize::new(0),
            body: AtomicUsize::new(0),
        }
    }
}

/// `Module::publish` in engine `tiered`: registers the code block, publishes the body
/// (`publish_body`), then the slot.
fn publish_with_body(slot: &Slot, module: &ModuleCode, o: Orderings) {
    module.code.store(REGISTERED, Ordering::Relaxed);
    module.body.store(BODY, o.publish_body);
    publish(slot, o);
}

#[derive(Debug, PartialEq, Eq)]
enum BodyCall {
    /// Straight to the published body.
    Body,
    /// Through the slot (the body was not published yet).
    Slot(Ran),
}

/// A tiered body's call of the function: its body when the word is set (whose code must
/// then be registered), else the slot, as a native caller.
fn body_call(slot: &Slot, module: &ModuleCode, o: Orderings) -> BodyCall {
    if module.body.load(o.body_load) == BODY {
        assert_eq!(
            module.code.load(Ordering::Relaxed),
            REGISTERED,
            "a body call reached code that was not registered"
        );
        return BodyCall::Body;
    }
    BodyCall::Slot(host_call(slot, o))
}

/// A publisher races with a tiered body calling the function and an interpreter call;
/// every body call reaches registered code, the slot ends up clean, and a body call after
/// publication (learnt through a flag) goes to the body: no call site stays stale.
fn body_model(o: Orderings) {
    loom::model(move || {
        let slot = Arc::new(Slot::new());
        let module = Arc::new(ModuleCode::new());
        let published = Arc::new(AtomicUsize::new(0));
        let native = {
            let (slot, module, published) = (slot.clone(), module.clone(), published.clone());
            thread::spawn(move || {
                let p = published.load(Ordering::Acquire) == 1;
                let ran = body_call(&slot, &module, o);
                if p {
                    assert_eq!(
                        ran,
                        BodyCall::Body,
                        "a body call after publication was stale"
                    );
                }
            })
        };
        let interpreted = {
            let slot = slot.clone();
            thread::spawn(move || {
                call(&slot, o);
            })
        };
        publish_with_body(&slot, &module, o);
        published.store(1, Ordering::Release);
        native.join().unwrap();
        interpreted.join().unwrap();
        assert_eq!(
            slot.interp_code.load(Ordering::Relaxed),
            0,
            "a stale interpreter entry survived the publication: {}",
            slot.trace()
        );
        assert_eq!(body_call(&slot, &module, o), BodyCall::Body);
    });
}

/// A publisher races with `callers` (`true`: an interpreter call, `false`: a host call);
/// after they are done the slot holds no cached interpreter entry and every call goes native
/// ("after publication completes, no caller runs the interpreter entry"). Every native call
/// reaches the published code.
fn model_with(o: Orderings, callers: &'static [bool]) {
    loom::model(move || {
        let slot = Arc::new(Slot::new());
        let callers: Vec<_> = callers
            .iter()
            .map(|&interpreted| {
                let slot = slot.clone();
                thread::spawn(move || {
                    if interpreted {
                        call(&slot, o);
                    } else {
                        host_call(&slot, o);
                    }
                })
            })
            .collect();
        publish(&slot, o);
        for c in callers {
            c.join().unwrap();
        }
        assert_eq!(
            slot.interp_code.load(Ordering::Relaxed),
            0,
            "a stale interpreter entry survived the publication: {}",
            slot.trace()
        );
        assert_eq!(call(&slot, o), Ran::Native);
    });
}

/// A call that starts after `publish` has returned, in a thread that learns of it through
/// a flag, while one other caller may be in its slow path: it goes native unless that
/// caller's transient cache store is in flight, which this test states as a property of the
/// protocol (see RATIONALE.md): a caller that started after publication and after every
/// slow path running alongside it had finished, never runs the interpreter.
fn model_after_publication(o: Orderings) {
    loom::model(move || {
        let slot = Arc::new(Slot::new());
        let published = Arc::new(AtomicUsize::new(0));
        let other_done = Arc::new(AtomicUsize::new(0));
        let other = {
            let (slot, other_done) = (slot.clone(), other_done.clone());
            thread::spawn(move || {
                call(&slot, o);
                other_done.store(1, Ordering::Release);
            })
        };
        let late = {
            let (slot, published, other_done) =
                (slot.clone(), published.clone(), other_done.clone());
            thread::spawn(move || {
                let p = published.load(Ordering::Acquire) == 1;
                let d = other_done.load(Ordering::Acquire) == 1;
                let ran = call(&slot, o);
                if p && d {
                    assert_eq!(ran, Ran::Native, "a call after publication was interpreted");
                }
            })
        };
        publish(&slot, o);
        published.store(1, Ordering::Release);
        other.join().unwrap();
        late.join().unwrap();
    });
}

/// An interpreter caller and a host caller (the model the `weakened_*` tests use).
fn model(o: Orderings) {
    model_with(o, &[true, false]);
}

#[test]
fn publication_leaves_no_stale_entry() {
    model(REAL);
}

/// Two interpreter callers: one's transient cache must not outlive the other's view.
#[test]
fn publication_leaves_no_stale_entry_with_two_interpreter_callers() {
    model_with(REAL, &[true, true]);
}

#[test]
fn calls_after_publication_go_native() {
    model_after_publication(REAL);
}

/// The strict reading ("no call that starts after `publish` returns is interpreted") does
/// not hold: another caller's slow path may have stored the cache just before re-reading
/// `array_call`, and a third call reads that transient entry. Loom finds it; the call runs
/// the same function in the interpreter (same results), once.
#[test]
#[should_panic(expected = "a call after publication was interpreted")]
fn strict_reading_has_a_transient_window() {
    loom::model(|| {
        let slot = Arc::new(Slot::new());
        let published = Arc::new(AtomicUsize::new(0));
        let other = {
            let slot = slot.clone();
            thread::spawn(move || {
                call(&slot, REAL);
            })
        };
        let late = {
            let (slot, published) = (slot.clone(), published.clone());
            thread::spawn(move || {
                let p = published.load(Ordering::Acquire) == 1;
                let ran = call(&slot, REAL);
                if p {
                    assert_eq!(ran, Ran::Native, "a call after publication was interpreted");
                }
            })
        };
        publish(&slot, REAL);
        published.store(1, Ordering::Release);
        other.join().unwrap();
        late.join().unwrap();
    });
}

#[test]
fn body_calls_reach_registered_code_and_none_stays_stale() {
    body_model(REAL);
}

#[test]
#[should_panic(expected = "not registered")]
fn weakened_publish_body_store_is_caught() {
    body_model(Orderings {
        publish_body: Ordering::Relaxed,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "not registered")]
fn weakened_body_load_is_caught() {
    body_model(Orderings {
        body_load: Ordering::Relaxed,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "reached the adapter")]
fn weakened_publish_array_store_is_caught() {
    model(Orderings {
        publish_array: Ordering::Relaxed,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "reached the adapter")]
fn weakened_native_load_is_caught() {
    model(Orderings {
        native_array: Ordering::Relaxed,
        ..REAL
    });
}

/// The protocol as it was before this model: `SeqCst` store of the cache then `SeqCst`
/// re-read, and a `SeqCst` store clearing it. Correct in C++20 (all four accesses are in the
/// single total order), but loom models `SeqCst` accesses as `AcqRel` (tokio-rs/loom#180)
/// and so finds a stale entry; the code now uses swaps, which loom checks exactly.
#[test]
#[should_panic(expected = "stale interpreter entry")]
fn seq_cst_accesses_are_beyond_loom() {
    model(Orderings {
        publish_clear: Ordering::SeqCst,
        publish_clear_swap: false,
        enter_cache: Ordering::SeqCst,
        enter_cache_swap: false,
        enter_recheck: Ordering::SeqCst,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "stale interpreter entry")]
fn weakened_enter_swap_to_release_is_caught() {
    model(Orderings {
        enter_cache: Ordering::Release,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "stale interpreter entry")]
fn weakened_publish_clear_to_acquire_is_caught() {
    model(Orderings {
        publish_clear: Ordering::Acquire,
        ..REAL
    });
}

#[test]
#[should_panic(expected = "stale interpreter entry")]
fn weakened_publish_clear_to_plain_store_is_caught() {
    model(Orderings {
        publish_clear: Ordering::Release,
        publish_clear_swap: false,
        ..REAL
    });
}

/// Why every write of `interp_code` is a swap: loom orders a plain store and a swap from
/// unsynchronized threads inconsistently. Here the swap reads the initial 0 (so the store
/// of 5 must come after its 7) yet, after both threads are joined, the value is 7, which
/// C11 forbids. A protocol mixing plain stores and swaps on one location would get false
/// alarms from loom; with swaps only, loom checks it exactly.
#[test]
#[should_panic(expected = "r=0 v=7")]
fn loom_mixes_up_plain_stores_and_swaps() {
    loom::model(|| {
        let x = Arc::new(AtomicUsize::new(0));
        let x1 = x.clone();
        let t1 = thread::spawn(move || x1.store(5, Ordering::Release));
        let x2 = x.clone();
        let t2 = thread::spawn(move || x2.swap(7, Ordering::AcqRel));
        t1.join().unwrap();
        let r = t2.join().unwrap();
        let v = x.load(Ordering::Relaxed);
        assert!(!(r == 0 && v == 7), "r={r} v={v}");
    });
}
