//! Steady-state calls allocate nothing: `Function::call_with_stack` and
//! `TypedFunction::call`, after warm-up, under a counting global allocator.
//!
//! The allocator is process-wide, so this test binary has its own file; allocations are
//! counted per thread (only while the measuring thread asks for it), so tests running in
//! parallel do not disturb each other.

mod common;

use common::*;
use kiln::ValueType;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: thread-locals may be gone while a thread shuts down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is upheld by `System`; counting touches only const-initialised
// thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// How many allocations (including reallocations) `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

const CALLS: usize = 10_000;

const GUEST: &str = r#"(module
    (import "env" "typed" (func $typed (param i32 i64) (result i64)))
    (import "env" "stack" (func $stack (param i64) (result i64)))
    (memory 1)
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                           (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
    (func (export "sum_memory") (param $n i32) (result i64) (local $acc i64)
        (loop $l
            (i32.store (i32.mul (local.get $n) (i32.const 4)) (local.get $n))
            (local.set $acc (i64.add (local.get $acc)
                (i64.extend_i32_u (i32.load (i32.mul (local.get $n) (i32.const 4))))))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        local.get $acc)
    (func (export "swap") (param i64 f64) (result f64 i64) local.get 1 local.get 0)
    (func (export "via_host") (param i64) (result i64)
        (call $stack (call $typed (i32.const 2) (local.get 0)))))"#;

fn guest(rt: &kiln::Runtime) -> kiln::Module {
    rt.new_host_module_builder("env")
        .new_function_builder()
        .with_func(|a: i32, b: i64| a as i64 * b)
        .export("typed")
        .new_function_builder()
        .with_stack_func(&[ValueType::I64], &[ValueType::I64], |_, stack| {
            stack[0] += 1;
            Ok(())
        })
        .export("stack")
        .instantiate()
        .unwrap();
    instantiate(rt, GUEST)
}

/// Calls before measuring: enough for the tiered engine to queue every hot function.
fn warm_up_calls(engine: kiln::EngineKind) -> usize {
    match engine {
        kiln::EngineKind::Tiered => 2 * kiln::RuntimeConfig::new().tier_threshold() as usize,
        _ => 10,
    }
}

/// Waits until the tiered engine's background compiler has nothing left to do.
fn wait_for_tiering(rt: &kiln::Runtime) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while rt.tiering_stats().is_some_and(|s| s.queue_length > 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "tiering queue never drained"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[test]
fn the_counter_counts() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
    assert_eq!(
        allocations(|| {
            std::hint::black_box([1u8; 16]);
        }),
        0
    );
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = guest(&rt);
        let add = m.exported_function("add").unwrap();
        add.call(&[1, 2]).unwrap();
        // `Function::call` returns a fresh vector, so it does allocate.
        assert!(allocations(|| drop(add.call(&[1, 2]).unwrap())) >= 1);
    });
}

#[test]
fn call_with_stack_allocates_nothing() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = guest(&rt);
        let cases: [(&str, &[u64], &[u64]); 5] = [
            ("add", &[2, 3], &[5]),
            ("fib", &[12], &[144]),
            ("sum_memory", &[100], &[5050]),
            ("swap", &[7, 2.5f64.to_bits()], &[2.5f64.to_bits(), 7]),
            ("via_host", &[10], &[21]),
        ];
        for (name, params, results) in cases {
            let f = m.exported_function(name).unwrap();
            let mut stack = [0u64; 4];
            // Warm-up: translation, stack pools, thread-locals, and in the tiered engine
            // the tier-up (queueing a compilation allocates once).
            for _ in 0..warm_up_calls(engine) {
                stack[..params.len()].copy_from_slice(params);
                f.call_with_stack(&mut stack).unwrap();
            }
            wait_for_tiering(&rt);
            let n = allocations(|| {
                for _ in 0..CALLS {
                    stack[..params.len()].copy_from_slice(params);
                    f.call_with_stack(&mut stack).unwrap();
                }
            });
            assert_eq!(n, 0, "{name}: {n} allocations in {CALLS} calls");
            assert_eq!(&stack[..results.len()], results, "{name}");
        }
    });
}

#[test]
fn typed_calls_allocate_nothing() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = guest(&rt);
        let f = |name| m.exported_function(name).unwrap();
        let add = f("add").typed::<(i32, i32), i32>().unwrap();
        let fib = f("fib").typed::<i32, i32>().unwrap();
        let swap = f("swap").typed::<(i64, f64), (f64, i64)>().unwrap();
        let via_host = f("via_host").typed::<i64, i64>().unwrap();
        for _ in 0..warm_up_calls(engine) {
            add.call((1, 2)).unwrap();
            fib.call(10).unwrap();
            swap.call((1, 2.0)).unwrap();
            via_host.call(1).unwrap();
        }
        wait_for_tiering(&rt);
        let mut checksum = 0i64;
        let n = allocations(|| {
            for i in 0..CALLS as i32 {
                checksum += add.call((i, 1)).unwrap() as i64;
                checksum += fib.call(5).unwrap() as i64;
                let (x, y) = swap.call((i as i64, 0.5)).unwrap();
                checksum += x as i64 + y;
                checksum += via_host.call(1).unwrap();
            }
        });
        assert_eq!(n, 0, "{n} allocations in {CALLS} rounds of typed calls");
        let calls = CALLS as i64;
        let expected = (calls * (calls + 1) / 2) + 5 * calls + calls * (calls - 1) / 2 + 3 * calls;
        assert_eq!(checksum, expected);
    });
}

#[test]
fn memory_accessors_allocate_nothing() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = guest(&rt);
        let mem = m.memory().unwrap();
        mem.write_u64_le(0, 1);
        let mut buf = [0u8; 16];
        let n = allocations(|| {
            for i in 0..1000u32 {
                assert!(mem.write_u32_le(i * 4, i));
                assert_eq!(mem.read_u32_le(i * 4), Some(i));
                assert!(mem.write(8000, &[1; 16]));
                assert!(mem.read(8000, 16).unwrap().copy_to(&mut buf));
                assert_eq!(mem.read_u8(65536), None);
            }
        });
        assert_eq!(n, 0, "{n} allocations in memory accessors");
        assert_eq!(buf, [1; 16]);
    });
}
