//! The cost of crossing the boundary between the host and Wasm through Kiln's embedding
//! API (the `kiln` crate), next to wasmi 2.0 doing the same thing, plus what Kiln's
//! interruption support costs.
//!
//! Groups (engines side by side in each group, so ratios come from one run):
//!
//! - `host_to_wasm/{kiln_call, kiln_call_with_stack, kiln_typed, wasmi_call, wasmi_typed}`:
//!   one call from Rust of an exported `add: [i32 i32] -> [i32]`. `kiln_call` is
//!   `Function::call` (allocates the result `Vec`), `kiln_call_with_stack` reuses one
//!   `u64` stack, `kiln_typed` is `TypedFunction::call`; `wasmi_call` is `Func::call` with
//!   reused `Val` slices, `wasmi_typed` is `TypedFunc::call`.
//! - `wasm_to_host/{kiln_func, kiln_stack_func, wasmi_func_wrap}`: one call from Rust of
//!   an exported function that calls an imported host `add: [i32 i32] -> [i32]`
//!   `HOST_CALLS` times in a loop. The throughput is set to `HOST_CALLS` elements, so
//!   criterion also reports host calls per second; the time per host call is the
//!   iteration time divided by `HOST_CALLS` (it includes the loop's own few instructions).
//! - `interruption/{kiln_enabled, kiln_disabled, kiln_deadline}`: one call of a counter
//!   loop of `LOOP_ITERATIONS` iterations in runtimes with interruption on and off, and
//!   with interruption on through `Function::call_with_deadline` with a far deadline.
//! - `deadline_overhead/{kiln_call, kiln_call_with_deadline}`: the trivial `add` called
//!   plainly and with a far deadline, which shows the per-call cost of registering with
//!   (and cancelling at) the deadline watchdog thread without a long loop hiding it.
//!
//! Every Kiln runtime uses `RuntimeConfig::interpreter()`; wasmi runs with its default
//! `Config`. Modules are compiled, instantiated and warmed up (so lazily translated
//! function bodies are translated) outside the timed code, and before each group the
//! results of every variant are checked against each other and against a Rust reference,
//! also outside the timed code.

use criterion::{Criterion, SamplingMode, Throughput};
use kiln::{Function, Runtime, RuntimeConfig, TypedFunction, ValueType};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The trivial export of the host-to-Wasm benches.
const ADD_WAT: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))"#;

/// `run(n)` calls the imported `add` n times, folding the loop counter into an
/// accumulator, and returns the accumulator.
const HOST_CALLER_WAT: &str = r#"(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32)
    (local $acc i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (local.set $acc (call $add (local.get $acc) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n)))))
    (local.get $acc)))"#;

/// `count(n)`: a tight counter loop (one back-edge per iteration) that sums the counter.
const COUNTER_WAT: &str = r#"(module
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (local $acc i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $next
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $n)))))
    (local.get $acc)))"#;

/// Host calls made by one call of `run` in the `wasm_to_host` group.
const HOST_CALLS: i32 = 1000;

/// Iterations of the counter loop in the `interruption` group.
const LOOP_ITERATIONS: i32 = 1_000_000;

/// Arguments of the host-to-Wasm calls.
const A: i32 = 20;
const B: i32 = 22;

/// A deadline no benchmark call can reach.
const FAR: Duration = Duration::from_secs(3600);

/// What `run(n)` and `count(n)` return: the wrapping sum of `0..n`.
fn sum_below(n: i32) -> i32 {
    (0..n).fold(0i32, |acc, i| acc.wrapping_add(i))
}

fn wat(source: &str) -> Vec<u8> {
    wat::parse_str(source).expect("benchmark WAT parses")
}

fn kiln_runtime(interruption: bool) -> Runtime {
    Runtime::with_config(RuntimeConfig::interpreter().with_interruption(interruption))
        .expect("kiln: interpreter runtime")
}

fn kiln_export(runtime: &Runtime, wasm: &[u8], name: &str) -> Function {
    runtime
        .instantiate_bytes(wasm)
        .expect("kiln: instantiate")
        .exported_function(name)
        .unwrap_or_else(|| panic!("kiln: export `{name}`"))
}

/// A wasmi store with an instance of `wasm`, whose imports come from `linker`.
fn wasmi_instance(
    engine: &wasmi::Engine,
    linker: &wasmi::Linker<()>,
    wasm: &[u8],
) -> (wasmi::Store<()>, wasmi::Instance) {
    let module = wasmi::Module::new(engine, wasm).expect("wasmi: compile");
    let mut store = wasmi::Store::new(engine, ());
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .expect("wasmi: instantiate");
    (store, instance)
}

fn bench_host_to_wasm(c: &mut Criterion) {
    let wasm = wat(ADD_WAT);

    let runtime = kiln_runtime(true);
    let add = kiln_export(&runtime, &wasm, "add");
    let add_typed: TypedFunction<(i32, i32), i32> = add.typed().expect("kiln: typed add");

    let engine = wasmi::Engine::default();
    let linker = wasmi::Linker::<()>::new(&engine);
    let (mut store, instance) = wasmi_instance(&engine, &linker, &wasm);
    let wasmi_add = instance
        .get_func(&store, "add")
        .expect("wasmi: export `add`");
    let wasmi_add_typed = instance
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .expect("wasmi: typed export `add`");

    // Every variant returns the same sum (this also translates the body in both engines).
    let expected = A.wrapping_add(B);
    let params = [kiln::encode_i32(A), kiln::encode_i32(B)];
    assert_eq!(
        add.call(&params).expect("kiln: call"),
        [kiln::encode_i32(expected)]
    );
    let mut stack = params;
    add.call_with_stack(&mut stack)
        .expect("kiln: call_with_stack");
    assert_eq!(kiln::decode_i32(stack[0]), expected);
    assert_eq!(add_typed.call((A, B)).expect("kiln: typed call"), expected);
    let wasmi_params = [wasmi::Val::I32(A), wasmi::Val::I32(B)];
    let mut wasmi_results = [wasmi::Val::I32(0)];
    wasmi_add
        .call(&mut store, &wasmi_params, &mut wasmi_results)
        .expect("wasmi: call");
    assert_eq!(wasmi_results[0].i32(), Some(expected));
    assert_eq!(
        wasmi_add_typed
            .call(&mut store, (A, B))
            .expect("wasmi: typed call"),
        expected
    );

    let mut group = c.benchmark_group("host_to_wasm");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("kiln_call", |b| {
        b.iter(|| add.call(black_box(&params)).expect("kiln: call"))
    });
    group.bench_function("kiln_call_with_stack", |b| {
        let mut stack = [0u64; 2];
        b.iter(|| {
            stack = black_box(params);
            add.call_with_stack(&mut stack)
                .expect("kiln: call_with_stack");
            stack[0]
        })
    });
    group.bench_function("kiln_typed", |b| {
        b.iter(|| add_typed.call(black_box((A, B))).expect("kiln: typed call"))
    });
    group.bench_function("wasmi_call", |b| {
        b.iter(|| {
            wasmi_add
                .call(&mut store, black_box(&wasmi_params), &mut wasmi_results)
                .expect("wasmi: call");
            black_box(&wasmi_results);
        })
    });
    group.bench_function("wasmi_typed", |b| {
        b.iter(|| {
            wasmi_add_typed
                .call(&mut store, black_box((A, B)))
                .expect("wasmi: typed call")
        })
    });
    group.finish();
}

fn bench_wasm_to_host(c: &mut Criterion) {
    let wasm = wat(HOST_CALLER_WAT);

    // One runtime per host-function style, so both host modules can be named "env".
    let typed_runtime = kiln_runtime(true);
    typed_runtime
        .new_host_module_builder("env")
        .new_function_builder()
        .with_func(|a: i32, b: i32| a.wrapping_add(b))
        .export("add")
        .instantiate()
        .expect("kiln: typed host module");
    let kiln_typed_run: TypedFunction<i32, i32> = kiln_export(&typed_runtime, &wasm, "run")
        .typed()
        .expect("kiln: typed run");

    let stack_runtime = kiln_runtime(true);
    stack_runtime
        .new_host_module_builder("env")
        .new_function_builder()
        .with_stack_func(
            &[ValueType::I32, ValueType::I32],
            &[ValueType::I32],
            |_, stack| {
                let sum = kiln::decode_i32(stack[0]).wrapping_add(kiln::decode_i32(stack[1]));
                stack[0] = kiln::encode_i32(sum);
                Ok(())
            },
        )
        .export("add")
        .instantiate()
        .expect("kiln: stack host module");
    let kiln_stack_run: TypedFunction<i32, i32> = kiln_export(&stack_runtime, &wasm, "run")
        .typed()
        .expect("kiln: typed run");

    let engine = wasmi::Engine::default();
    let mut linker = wasmi::Linker::<()>::new(&engine);
    linker
        .func_wrap("env", "add", |a: i32, b: i32| a.wrapping_add(b))
        .expect("wasmi: define env.add");
    let (mut store, instance) = wasmi_instance(&engine, &linker, &wasm);
    let wasmi_run = instance
        .get_typed_func::<i32, i32>(&store, "run")
        .expect("wasmi: typed export `run`");

    let expected = sum_below(HOST_CALLS);
    assert_eq!(
        kiln_typed_run.call(HOST_CALLS).expect("kiln: run"),
        expected
    );
    assert_eq!(
        kiln_stack_run.call(HOST_CALLS).expect("kiln: run"),
        expected
    );
    assert_eq!(
        wasmi_run.call(&mut store, HOST_CALLS).expect("wasmi: run"),
        expected
    );

    let mut group = c.benchmark_group("wasm_to_host");
    group
        .throughput(Throughput::Elements(HOST_CALLS as u64))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("kiln_func", |b| {
        b.iter(|| {
            kiln_typed_run
                .call(black_box(HOST_CALLS))
                .expect("kiln: run")
        })
    });
    group.bench_function("kiln_stack_func", |b| {
        b.iter(|| {
            kiln_stack_run
                .call(black_box(HOST_CALLS))
                .expect("kiln: run")
        })
    });
    group.bench_function("wasmi_func_wrap", |b| {
        b.iter(|| {
            wasmi_run
                .call(&mut store, black_box(HOST_CALLS))
                .expect("wasmi: run")
        })
    });
    group.finish();
}

fn bench_interruption(c: &mut Criterion) {
    // Note: today the interpreter loads the interrupt flag at every loop back-edge (and
    // function entry) whatever the config says; `with_interruption` only decides whether
    // closing a module (or a deadline) sets that flag and so stops running calls. So
    // `kiln_enabled` and `kiln_disabled` run the same code and are expected to be equal
    // within noise; the pair is here to show it, and to catch the difference once a
    // configuration without the check exists. `kiln_deadline` adds one registration with
    // the watchdog thread per call (see also `deadline_overhead`).
    let wasm = wat(COUNTER_WAT);
    let enabled_runtime = kiln_runtime(true);
    let enabled = kiln_export(&enabled_runtime, &wasm, "count");
    let disabled_runtime = kiln_runtime(false);
    let disabled = kiln_export(&disabled_runtime, &wasm, "count");

    let params = [kiln::encode_i32(LOOP_ITERATIONS)];
    let expected = [kiln::encode_i32(sum_below(LOOP_ITERATIONS))];
    assert_eq!(enabled.call(&params).expect("kiln: count"), expected);
    assert_eq!(disabled.call(&params).expect("kiln: count"), expected);
    assert_eq!(
        enabled
            .call_with_deadline(&params, Instant::now() + FAR)
            .expect("kiln: count with deadline"),
        expected
    );
    // wasmi agrees too (it is not timed here: the group is about Kiln's own overhead).
    let engine = wasmi::Engine::default();
    let linker = wasmi::Linker::<()>::new(&engine);
    let (mut store, instance) = wasmi_instance(&engine, &linker, &wasm);
    let wasmi_count = instance
        .get_typed_func::<i32, i32>(&store, "count")
        .expect("wasmi: typed export `count`");
    assert_eq!(
        wasmi_count
            .call(&mut store, LOOP_ITERATIONS)
            .map(kiln::encode_i32)
            .expect("wasmi: count"),
        expected[0]
    );

    let mut group = c.benchmark_group("interruption");
    // One call takes milliseconds: flat sampling with few samples keeps the run short.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("kiln_enabled", |b| {
        b.iter(|| enabled.call(black_box(&params)).expect("kiln: count"))
    });
    group.bench_function("kiln_disabled", |b| {
        b.iter(|| disabled.call(black_box(&params)).expect("kiln: count"))
    });
    group.bench_function("kiln_deadline", |b| {
        b.iter(|| {
            enabled
                .call_with_deadline(black_box(&params), Instant::now() + FAR)
                .expect("kiln: count with deadline")
        })
    });
    group.finish();
}

fn bench_deadline_overhead(c: &mut Criterion) {
    let wasm = wat(ADD_WAT);
    let runtime = kiln_runtime(true);
    let add = kiln_export(&runtime, &wasm, "add");
    let params = [kiln::encode_i32(A), kiln::encode_i32(B)];
    let expected = [kiln::encode_i32(A.wrapping_add(B))];
    assert_eq!(add.call(&params).expect("kiln: call"), expected);
    assert_eq!(
        add.call_with_deadline(&params, Instant::now() + FAR)
            .expect("kiln: call with deadline"),
        expected
    );

    let mut group = c.benchmark_group("deadline_overhead");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("kiln_call", |b| {
        b.iter(|| add.call(black_box(&params)).expect("kiln: call"))
    });
    group.bench_function("kiln_call_with_deadline", |b| {
        b.iter(|| {
            add.call_with_deadline(black_box(&params), Instant::now() + FAR)
                .expect("kiln: call with deadline")
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_host_to_wasm(&mut c);
    bench_wasm_to_host(&mut c);
    bench_interruption(&mut c);
    bench_deadline_overhead(&mut c);
    c.final_summary();
}
