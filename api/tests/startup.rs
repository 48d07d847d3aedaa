//! Start-up: what the default engine leaves for later (worker threads, native linking of
//! instances) stays invisible to programs, in every engine.

mod common;

use common::{config, each_engine, wat};
use kiln::{CallerTier, EngineKind, ModuleConfig, Runtime, ValueType};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// A host module `env` with `double(i32) -> i32`, which also records the tier of its caller.
fn double_module(rt: &Runtime) -> Arc<Mutex<Vec<CallerTier>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    rt.new_host_module_builder("env")
        .new_function_builder()
        .with_stack_func(
            &[ValueType::I32],
            &[ValueType::I32],
            move |caller, stack| {
                log.lock().unwrap().push(caller.tier());
                stack[0] = u64::from((stack[0] as u32).wrapping_mul(2));
                Ok(())
            },
        )
        .export("double")
        .instantiate()
        .expect("host module");
    seen
}

/// Module `lib`: `inc` and a table holding `square`.
const LIB: &str = r#"(module
    (type $t (func (param i32) (result i32)))
    (table (export "table") 1 funcref)
    (elem (i32.const 0) $square)
    (func $square (type $t) (i32.mul (local.get 0) (local.get 0)))
    (func (export "inc") (type $t) (i32.add (local.get 0) (i32.const 1))))"#;

/// Calls the host, another instance directly and another instance's table:
/// `run(x) = double(x) + inc(x) + square(x)`.
const APP: &str = r#"(module
    (type $t (func (param i32) (result i32)))
    (import "env" "double" (func $double (type $t)))
    (import "lib" "inc" (func $inc (type $t)))
    (import "lib" "table" (table 1 funcref))
    (func (export "run") (param $x i32) (result i32)
        (i32.add
            (i32.add (call $double (local.get $x)) (call $inc (local.get $x)))
            (call_indirect (type $t) (local.get $x) (i32.const 0)))))"#;

fn instantiate_lib(rt: &Runtime) {
    let lib = rt.compile(&wat(LIB)).unwrap();
    rt.instantiate(&lib, ModuleConfig::new().with_name("lib"))
        .unwrap();
}

fn expected_run(x: u32) -> u32 {
    x.wrapping_mul(2)
        .wrapping_add(x.wrapping_add(1))
        .wrapping_add(x.wrapping_mul(x))
}

/// A runtime that only runs cold code has started no compiler thread and built no native
/// entry for its instances (engine `tiered`), and computes what every engine computes.
#[test]
fn cold_code_starts_no_compiler_thread_and_links_no_instance() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_tier_threshold(1000)).unwrap();
        let seen = double_module(&rt);
        instantiate_lib(&rt);
        let app = rt.instantiate_bytes(&wat(APP)).unwrap();
        let run = app.exported_function("run").unwrap();
        for x in 0..5 {
            assert_eq!(run.call(&[x]).unwrap()[0] as u32, expected_run(x as u32));
        }
        let tiers = seen.lock().unwrap().clone();
        assert_eq!(tiers.len(), 5);
        match engine {
            EngineKind::Tiered => {
                let stats = rt.tiering_stats().unwrap();
                assert_eq!(stats.functions_queued, 0, "{stats:?}");
                assert_eq!(stats.worker_threads, 0, "{stats:?}");
                assert!(!stats.native_linked, "{stats:?}");
                assert!(tiers.iter().all(|t| *t == CallerTier::Interpreter));
            }
            EngineKind::Jit => {
                assert!(rt.tiering_stats().is_none());
                assert!(tiers.iter().all(|t| *t == CallerTier::Native));
            }
            _ => {
                assert!(rt.tiering_stats().is_none());
                assert!(tiers.iter().all(|t| *t == CallerTier::Interpreter));
            }
        }
    });
}

/// Instances created before the first tier-up (host functions, an exporting module, the
/// importing one) are reached from native code published later, through direct calls,
/// imports and a table; so is an instance created after it.
#[test]
fn instances_created_before_the_first_tier_up_are_reached_from_native_code() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_tier_threshold(1).with_tier_sync(true))
            .unwrap();
        let seen = double_module(&rt);
        instantiate_lib(&rt);
        let app = rt.compile(&wat(APP)).unwrap();
        let first = rt
            .instantiate(&app, ModuleConfig::new().with_name(""))
            .unwrap();
        if engine == EngineKind::Tiered {
            assert!(!rt.tiering_stats().unwrap().native_linked);
        }
        let run = first.exported_function("run").unwrap();
        for x in [0u32, 7, 65_535, u32::MAX] {
            assert_eq!(
                run.call(&[u64::from(x)]).unwrap()[0] as u32,
                expected_run(x)
            );
        }
        let second = rt
            .instantiate(&app, ModuleConfig::new().with_name(""))
            .unwrap();
        let run2 = second.exported_function("run").unwrap();
        assert_eq!(run2.call(&[9]).unwrap()[0] as u32, expected_run(9));
        let tiers = seen.lock().unwrap().clone();
        assert_eq!(tiers.len(), 5);
        if engine == EngineKind::Interp {
            assert!(tiers.iter().all(|t| *t == CallerTier::Interpreter));
        } else {
            // Threshold 1, synchronous: `run` is native from its first call in `tiered`.
            assert!(tiers.iter().all(|t| *t == CallerTier::Native), "{tiers:?}");
        }
        if engine == EngineKind::Tiered {
            let stats = rt.tiering_stats().unwrap();
            assert!(stats.native_linked, "{stats:?}");
            assert_eq!(stats.worker_threads, 0, "synchronous: {stats:?}");
            assert!(stats.functions_compiled >= 1, "{stats:?}");
        }
    });
}

/// First jobs submitted from several threads at once start the background compiler
/// threads once, and every function still compiles and computes the same results.
#[test]
fn first_jobs_racing_from_several_threads_start_the_workers_once() {
    const FUNCS: usize = 4;
    let mut text = String::from("(module\n");
    for i in 0..FUNCS {
        text.push_str(&format!(
            "(func (export \"f{i}\") (param i32) (result i32) \
             (i32.add (i32.mul (local.get 0) (i32.const {m})) (i32.const {i})))\n",
            m = i + 3
        ));
    }
    text.push(')');
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_tier_threshold(1).with_tier_workers(2))
            .unwrap();
        let m = rt.instantiate_bytes(&wat(&text)).unwrap();
        let barrier = Arc::new(Barrier::new(FUNCS));
        let handles: Vec<_> = (0..FUNCS)
            .map(|i| {
                let f = m.exported_function(&format!("f{i}")).unwrap();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for x in 0..50u64 {
                        let want = (x * (i as u64 + 3) + i as u64) as u32;
                        assert_eq!(f.call(&[x]).unwrap()[0] as u32, want);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        if engine != EngineKind::Tiered {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = rt.tiering_stats().unwrap();
            if stats.functions_compiled == FUNCS as u64 {
                assert_eq!(stats.worker_threads, 2, "{stats:?}");
                assert!(stats.native_linked, "{stats:?}");
                break;
            }
            assert!(Instant::now() < deadline, "never compiled: {stats:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}

/// Function and parameter names come from the name sections as before they were stored
/// as sorted ranges: with two `name` sections, names of both are found and of two names
/// for one function the later one wins.
#[test]
fn names_of_two_name_sections_resolve_as_before() {
    let mut wasm = wat(r#"(module
        (func (export "first") (param i32) (result i32) (local.get 0))
        (func (export "second") (param i32 i32) (result i32) (local.get 1)))"#);
    let name = |out: &mut Vec<u8>, s: &str| {
        common::leb128_u32(out, s.len() as u32);
        out.extend_from_slice(s.as_bytes());
    };
    let subsection = |section: &mut Vec<u8>, id: u8, sub: &[u8]| {
        section.push(id);
        common::leb128_u32(section, sub.len() as u32);
        section.extend_from_slice(sub);
    };
    // First section: function names 0 → "zero", 1 → "old".
    let mut sub = Vec::new();
    common::leb128_u32(&mut sub, 2);
    for (index, n) in [(0, "zero"), (1, "old")] {
        common::leb128_u32(&mut sub, index);
        name(&mut sub, n);
    }
    let mut section = Vec::new();
    subsection(&mut section, 1, &sub);
    common::append_custom_section(&mut wasm, "name", &section);
    // Second section: function name 1 → "one", local names of function 1.
    let mut sub = Vec::new();
    common::leb128_u32(&mut sub, 1);
    common::leb128_u32(&mut sub, 1);
    name(&mut sub, "one");
    let mut section = Vec::new();
    subsection(&mut section, 1, &sub);
    let mut sub = Vec::new();
    common::leb128_u32(&mut sub, 1);
    common::leb128_u32(&mut sub, 1);
    common::leb128_u32(&mut sub, 2);
    for (index, n) in [(0, "lhs"), (1, "rhs")] {
        common::leb128_u32(&mut sub, index);
        name(&mut sub, n);
    }
    subsection(&mut section, 2, &sub);
    common::append_custom_section(&mut wasm, "name", &section);
    each_engine(|engine| {
        let rt = common::runtime(engine);
        let m = rt.instantiate_bytes(&wasm).unwrap();
        let first = m.exported_function("first").unwrap();
        let second = m.exported_function("second").unwrap();
        assert_eq!(first.definition().name(), "zero");
        assert_eq!(second.definition().name(), "one");
        assert_eq!(first.definition().param_names(), [""]);
        assert_eq!(second.definition().param_names(), ["lhs", "rhs"]);
        assert_eq!(second.call(&[1, 2]).unwrap()[0], 2);
    });
}
