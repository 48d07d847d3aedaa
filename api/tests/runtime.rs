//! Runtime, RuntimeConfig, CompiledModule and ModuleConfig; compile and link errors.

mod common;

use common::*;
use kiln::{
    CoreFeatures, EXIT_CODE_DEADLINE_EXCEEDED, EngineKind, Error, ModuleConfig, Runtime,
    RuntimeConfig, ValueType,
};
use std::time::{Duration, Instant};

#[test]
fn engines_not_built_yet_are_unsupported() {
    for engine in ENGINES {
        let result = Runtime::with_config(RuntimeConfig::new().with_engine(engine));
        if engine.is_available() {
            let rt = result.expect("an available engine builds a runtime");
            assert_eq!(rt.config().engine(), engine);
        } else {
            match result {
                Err(Error::Unsupported(msg)) => assert!(msg.contains(engine.name()), "{msg}"),
                Err(e) => panic!("{}: expected Unsupported, got {e:?}", engine.name()),
                Ok(_) => panic!("{}: expected Unsupported, got a runtime", engine.name()),
            }
        }
    }
    // The interpreter is always built; the others are the subject of later work.
    assert!(EngineKind::Interp.is_available());
}

#[test]
fn engine_kind_names_and_default() {
    for engine in ENGINES {
        assert_eq!(EngineKind::from_name(engine.name()), Some(engine));
    }
    assert_eq!(EngineKind::Interp.name(), "interp");
    assert_eq!(EngineKind::Jit.name(), "jit");
    assert_eq!(EngineKind::Tiered.name(), "tiered");
    assert_eq!(EngineKind::from_name("cranelift"), None);
    assert!(EngineKind::default().is_available());
    assert_eq!(
        EngineKind::default() == EngineKind::Tiered,
        EngineKind::Tiered.is_available()
    );
}

#[test]
fn runtime_new_uses_the_default_config() {
    let rt = Runtime::new().unwrap();
    assert_eq!(rt.config().engine(), EngineKind::default());
    assert_eq!(rt.config().core_features(), CoreFeatures::V2);
    assert_eq!(rt.config().memory_limit_pages(), 65536);
    assert!(rt.config().interruption());
    assert!(!rt.is_closed());
    let m = instantiate(&rt, SPIN);
    assert_eq!(
        m.exported_function("answer").unwrap().call(&[]).unwrap(),
        [42]
    );
}

#[test]
fn runtime_config_getters() {
    each_engine(|engine| {
        let cfg = config(engine)
            .with_core_features(CoreFeatures::V3)
            .with_memory_limit_pages(100)
            .with_interruption(false)
            .with_max_call_depth(0);
        assert_eq!(cfg.engine(), engine);
        assert_eq!(cfg.core_features(), CoreFeatures::V3);
        assert_eq!(cfg.memory_limit_pages(), 100);
        assert!(!cfg.interruption());
        // The limit is clamped to the 32-bit address space.
        assert_eq!(
            config(engine)
                .with_memory_limit_pages(100_000)
                .memory_limit_pages(),
            65536
        );
        assert_eq!(RuntimeConfig::interpreter().engine(), EngineKind::Interp);
        let rt = Runtime::with_config(cfg).unwrap();
        assert_eq!(rt.config().memory_limit_pages(), 100);
        assert!(!rt.config().interruption());
    });
}

#[test]
fn core_features_v2_rejects_tail_calls() {
    each_engine(|engine| {
        let wasm = wat(r#"(module (func $f (return_call $f)))"#);
        let rt = runtime(engine);
        assert!(matches!(rt.compile(&wasm), Err(Error::Compile(_))));
        let rt3 =
            Runtime::with_config(config(engine).with_core_features(CoreFeatures::V3)).unwrap();
        // WebAssembly 3.0 validates it (executing it may be unsupported).
        match rt3.compile(&wasm) {
            Ok(_) | Err(Error::Unsupported(_)) => {}
            Err(e) => panic!("V3 should accept tail calls at compile time, got {e:?}"),
        }
    });
}

#[test]
fn compile_and_instantiate() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(SPIN)).unwrap();
        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        assert_eq!(
            m.exported_function("answer").unwrap().call(&[]).unwrap(),
            [42]
        );
        assert_eq!(m.name(), "");
    });
}

#[test]
fn anonymous_modules_can_be_instantiated_many_times() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module (global $g (mut i32) (i32.const 0))
                    (func (export "next") (result i32)
                        (global.set $g (i32.add (global.get $g) (i32.const 1)))
                        global.get $g))"#))
            .unwrap();
        let modules: Vec<_> = (0..5)
            .map(|_| rt.instantiate(&compiled, ModuleConfig::new()).unwrap())
            .collect();
        // Each instance has its own state.
        let next = modules[0].exported_function("next").unwrap();
        assert_eq!(next.call(&[]).unwrap(), [1]);
        assert_eq!(next.call(&[]).unwrap(), [2]);
        for m in &modules[1..] {
            assert_eq!(m.exported_function("next").unwrap().call(&[]).unwrap(), [1]);
        }
        // An explicit empty name makes even a named module anonymous.
        let named = rt.compile(&wat(r#"(module $named)"#)).unwrap();
        assert_eq!(named.name(), "named");
        for _ in 0..3 {
            let m = rt
                .instantiate(&named, ModuleConfig::new().with_name(""))
                .unwrap();
            assert_eq!(m.name(), "");
        }
        assert!(rt.module("named").is_none());
    });
}

#[test]
fn duplicate_module_names_are_refused() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(SPIN)).unwrap();
        let a = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("a"))
            .unwrap();
        let err = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("a"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Instantiate(m) if m.contains("a")),
            "{err:?}"
        );
        // The name from the name section is used by default, and is refused the same way.
        let named = rt.compile(&wat(r#"(module $a)"#)).unwrap();
        assert!(matches!(
            rt.instantiate(&named, ModuleConfig::new()),
            Err(Error::Instantiate(_))
        ));
        // A host module cannot take the name either.
        assert!(matches!(
            rt.new_host_module_builder("a").instantiate(),
            Err(Error::Instantiate(_))
        ));
        // Closing frees the name.
        a.close().unwrap();
        let again = rt.instantiate(&named, ModuleConfig::new()).unwrap();
        assert_eq!(again.name(), "a");
    });
}

#[test]
fn runtime_module_looks_up_open_named_modules() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(SPIN)).unwrap();
        assert!(rt.module("m").is_none());
        let m = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("m"))
            .unwrap();
        let found = rt.module("m").expect("module m");
        assert_eq!(found.name(), "m");
        // It is the same instance: closing the looked-up handle closes the original.
        found.close_with_exit_code(4).unwrap();
        assert_eq!(m.exit_code(), Some(4));
        assert!(rt.module("m").is_none());
        assert!(rt.module("").is_none());
    });
}

#[test]
fn register_makes_a_module_importable_under_another_name() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let provider = instantiate(
            &rt,
            r#"(module (func (export "seven") (result i32) i32.const 7))"#,
        );
        rt.register("lib", &provider).unwrap();
        assert!(rt.module("lib").is_some());
        let user = instantiate(
            &rt,
            r#"(module (import "lib" "seven" (func $s (result i32)))
                (func (export "run") (result i32) call $s))"#,
        );
        assert_eq!(
            user.exported_function("run").unwrap().call(&[]).unwrap(),
            [7]
        );
        // The name is now taken.
        assert!(matches!(
            rt.register("lib", &provider),
            Err(Error::Instantiate(_))
        ));
        // A closed module cannot be registered.
        provider.close_with_exit_code(9).unwrap();
        let err = rt.register("lib2", &provider).unwrap_err();
        assert_exit(&err, 9);
    });
}

/// Kiln bug: `Runtime::module` is documented to return only open modules, and closing a
/// module is documented to free its name, but names added by `Runtime::register` survive
/// `Module::close` (only the instance name is forgotten), so imports still link to the
/// closed module and the alias can never be reused.
#[test]
fn registered_alias_is_forgotten_when_the_module_closes() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let provider = instantiate(
            &rt,
            r#"(module (func (export "seven") (result i32) i32.const 7))"#,
        );
        rt.register("alias", &provider).unwrap();
        provider.close().unwrap();
        assert!(
            rt.module("alias").is_none(),
            "Runtime::module returned a closed module through its registered alias"
        );
        let other = instantiate(&rt, SPIN);
        rt.register("alias", &other)
            .expect("the alias of a closed module is free again");
    });
}

#[test]
fn closing_the_runtime_closes_its_modules() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(SPIN)).unwrap();
        let a = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("a"))
            .unwrap();
        let b = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        let host = rt
            .new_host_module_builder("env")
            .new_function_builder()
            .with_func(|| 1i32)
            .export("one")
            .instantiate()
            .unwrap();
        let answer = b.exported_function("answer").unwrap();
        assert!(!rt.is_closed());
        rt.close_with_exit_code(5).unwrap();
        assert!(rt.is_closed());
        for m in [&a, &b, &host] {
            assert!(m.is_closed(), "{m:?}");
            assert_eq!(m.exit_code(), Some(5));
        }
        assert_exit(&answer.call(&[]).unwrap_err(), 5);
        assert!(rt.module("a").is_none());
        // Closing again is harmless and keeps the first code.
        rt.close().unwrap();
        assert_eq!(a.exit_code(), Some(5));
    });
}

#[test]
fn closed_runtime_refuses_compile_and_instantiate() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(SPIN)).unwrap();
        rt.close_with_exit_code(2).unwrap();
        assert_exit(&compile_err(&rt, &wat(SPIN)), 2);
        assert_exit(
            &rt.instantiate(&compiled, ModuleConfig::new()).unwrap_err(),
            2,
        );
        assert_exit(&rt.instantiate_bytes(&wat(SPIN)).unwrap_err(), 2);

        let rt = runtime(engine);
        rt.close().unwrap();
        assert_exit(&compile_err(&rt, &wat(SPIN)), 0);
    });
}

/// Kiln bug: a closed runtime still instantiates host modules (`HostModuleBuilder::
/// instantiate` never checks whether the runtime is closed), and the new module is open.
#[test]
fn closed_runtime_refuses_host_modules() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.close_with_exit_code(2).unwrap();
        let result = rt
            .new_host_module_builder("env")
            .new_function_builder()
            .with_func(|| 1i32)
            .export("one")
            .instantiate();
        match result {
            Err(e) => assert_exit(&e, 2),
            Ok(m) => panic!("a closed runtime instantiated host module {m:?}"),
        }
    });
}

#[test]
fn compiled_module_metadata() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module $meta
                    (import "env" "log" (func $log (param $msg i32)))
                    (import "env" "mem" (memory 1 4))
                    (func $double (export "double") (export "twice") (param $x i64) (result i64)
                        local.get $x local.get $x i64.add)
                    (func (export "nop"))
                    (func $internal))"#))
            .unwrap();
        assert_eq!(compiled.name(), "meta");
        assert_eq!(compiled.function_count(), 4);
        assert!(compiled.code_size() > 0);

        let imports = compiled.imported_functions();
        assert_eq!(imports.len(), 1);
        assert_eq!(imports[0].import(), Some(("env", "log")));
        assert_eq!(imports[0].index(), 0);
        assert_eq!(imports[0].name(), "log");
        assert_eq!(imports[0].module_name(), "meta");
        assert_eq!(imports[0].param_types(), [ValueType::I32]);
        assert!(imports[0].export_names().is_empty());

        let exports = compiled.exported_functions();
        assert_eq!(
            exports.keys().map(String::as_str).collect::<Vec<_>>(),
            ["double", "nop", "twice"]
        );
        let double = &exports["double"];
        assert_eq!(double.index(), 1);
        assert_eq!(double.import(), None);
        assert_eq!(double.export_names(), ["double", "twice"]);
        assert_eq!(double.param_types(), [ValueType::I64]);
        assert_eq!(double.param_names(), ["x"]);
        assert_eq!(double.result_types(), [ValueType::I64]);
        assert_eq!(exports["twice"].index(), 1);
        assert_eq!(exports["nop"].debug_name(), "meta.$2");

        let memories = compiled.imported_memories();
        assert_eq!(memories.len(), 1);
        assert_eq!(memories[0].import(), Some(("env", "mem")));
        assert_eq!(memories[0].min(), 1);
        assert_eq!(memories[0].max(), Some(4));
        assert!(compiled.exported_memories().is_empty());

        let with_memory = rt
            .compile(&wat(r#"(module (memory (export "a") (export "b") 2))"#))
            .unwrap();
        assert!(with_memory.imported_memories().is_empty());
        let mems = with_memory.exported_memories();
        assert_eq!(mems.len(), 2);
        assert_eq!(mems["a"], mems["b"]);
        assert_eq!(mems["a"].export_names(), ["a", "b"]);
        assert_eq!(mems["a"].min(), 2);
        assert_eq!(mems["a"].max(), None);
        assert_eq!(with_memory.name(), "");
        assert_eq!(with_memory.code_size(), 0);
        assert_eq!(with_memory.function_count(), 0);
        assert!(with_memory.imports().is_empty());
    });
}

/// Kiln bug: an imported function that the module exports again is missing from
/// `CompiledModule::exported_functions` (its export names are consumed by
/// `imported_functions`), while `Module::exported_function_definitions` lists it.
#[test]
fn compiled_module_lists_reexported_imports() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module (import "env" "f" (func $f (param i32)))
                    (export "again" (func $f)))"#))
            .unwrap();
        assert_eq!(compiled.imported_functions()[0].export_names(), ["again"]);
        let def = compiled
            .exported_functions()
            .get("again")
            .expect("re-exported import listed in exported_functions");
        assert_eq!(def.import(), Some(("env", "f")));
    });
}

#[test]
fn custom_sections() {
    each_engine(|engine| {
        let rt = runtime(engine);
        // Appended by hand after the other sections.
        let mut wasm = wat(r#"(module (func (export "f")))"#);
        append_custom_section(&mut wasm, "producers-x", b"\x01\x02\x03");
        append_custom_section(&mut wasm, "empty", b"");
        let compiled = rt.compile(&wasm).unwrap();
        let sections: Vec<_> = compiled
            .custom_sections()
            .iter()
            .filter(|s| s.name() != "name")
            .collect();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].name(), "producers-x");
        assert_eq!(sections[0].data(), [1, 2, 3]);
        assert_eq!(sections[1].name(), "empty");
        assert!(sections[1].data().is_empty());
        // Built with wasm-encoder, before any other section.
        let mut module = wasm_encoder::Module::new();
        module.section(&wasm_encoder::CustomSection {
            name: "meta".into(),
            data: std::borrow::Cow::Borrowed(b"hello"),
        });
        let compiled = rt.compile(&module.finish()).unwrap();
        assert_eq!(compiled.custom_sections().len(), 1);
        assert_eq!(compiled.custom_sections()[0].name(), "meta");
        assert_eq!(compiled.custom_sections()[0].data(), b"hello");
        // A module without custom sections has none.
        let plain = rt.compile(&wasm_encoder::Module::new().finish()).unwrap();
        assert!(plain.custom_sections().is_empty());
    });
}

#[test]
fn start_functions_default_to_start() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let text = r#"(module
            (global $log (export "log") (mut i32) (i32.const 0))
            (func $push (param i32)
                (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10))
                    (local.get 0))))
            (func (export "_start") (call $push (i32.const 1)))
            (func (export "init") (call $push (i32.const 2)))
            (func (export "init2") (call $push (i32.const 3))))"#;
        let compiled = rt.compile(&wat(text)).unwrap();
        let log = |m: &kiln::Module| m.exported_global("log").unwrap().get();

        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        assert_eq!(log(&m), 1, "_start runs by default");
        assert_eq!(ModuleConfig::new().start_functions(), ["_start"]);

        let cfg = ModuleConfig::new().with_start_functions(&["init2", "missing", "init"]);
        assert_eq!(cfg.start_functions(), ["init2", "missing", "init"]);
        let m = rt.instantiate(&compiled, cfg).unwrap();
        assert_eq!(log(&m), 32, "in order, missing ones skipped");

        let m = rt
            .instantiate(&compiled, ModuleConfig::new().with_start_functions(&[]))
            .unwrap();
        assert_eq!(log(&m), 0, "an empty list runs none");
        assert!(!m.is_closed());
    });
}

#[test]
fn module_config_name() {
    each_engine(|engine| {
        let rt = runtime(engine);
        assert_eq!(ModuleConfig::new().name(), "");
        let cfg = ModuleConfig::new().with_name("guest");
        assert_eq!(cfg.name(), "guest");
        let compiled = rt.compile(&wat(r#"(module $own)"#)).unwrap();
        let m = rt.instantiate(&compiled, cfg).unwrap();
        assert_eq!(m.name(), "guest");
        assert!(rt.module("guest").is_some());
        assert!(rt.module("own").is_none());
        let own = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        assert_eq!(own.name(), "own");
    });
}

#[test]
fn trapping_start_function_fails_instantiation_and_frees_the_name() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module (func (export "_start") unreachable))"#))
            .unwrap();
        let err = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("t"))
            .unwrap_err();
        assert_trap(&err, kiln::TrapCode::Unreachable);
        assert!(rt.module("t").is_none());
        // The name is free again.
        let ok = rt
            .instantiate(
                &compiled,
                ModuleConfig::new().with_name("t").with_start_functions(&[]),
            )
            .unwrap();
        assert!(!ok.is_closed());

        // The same for the start section.
        let err = rt
            .instantiate_bytes(&wat(r#"(module (func $s unreachable) (start $s))"#))
            .unwrap_err();
        assert_trap(&err, kiln::TrapCode::Unreachable);
    });
}

#[test]
fn start_timeout_stops_an_infinite_start_function() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module (func (export "_start") (loop br 0)))"#))
            .unwrap();
        let (rt2, c2) = (rt.clone(), compiled.clone());
        let (result, took) = run_bounded(STOP_BOUND, move || {
            rt2.instantiate(
                &c2,
                ModuleConfig::new()
                    .with_name("looping")
                    .with_start_timeout(Duration::from_millis(50)),
            )
        });
        assert!(took >= Duration::from_millis(50), "{took:?}");
        let err = result.unwrap_err();
        assert_exit(&err, EXIT_CODE_DEADLINE_EXCEEDED);
        assert!(err.as_exit().unwrap().is_deadline_exceeded());
        assert!(rt.module("looping").is_none());

        // A start function that finishes in time is not affected.
        let quick = rt
            .compile(&wat(r#"(module (func (export "_start")))"#))
            .unwrap();
        let m = rt
            .instantiate(
                &quick,
                ModuleConfig::new().with_start_timeout(Duration::from_millis(50)),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!m.is_closed(), "the deadline ends with instantiation");
    });
}

/// `ModuleConfig::with_start_timeout` covers the start section too, which runs inside
/// `Instance::new`, before the module exists (it once hung `Runtime::instantiate`).
#[test]
fn start_timeout_covers_the_start_section() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let wasm = wat(r#"(module (func $s (loop br 0)) (start $s))"#);
        let (result, _) = run_bounded(STOP_BOUND, move || {
            rt.instantiate(
                &rt.compile(&wasm).unwrap(),
                ModuleConfig::new().with_start_timeout(Duration::from_millis(50)),
            )
        });
        assert_exit(&result.unwrap_err(), EXIT_CODE_DEADLINE_EXCEEDED);
    });
}

/// A start deadline that passes just as instantiation finishes (after the start section's
/// last interrupt poll) either fails the instantiation with the deadline exit code or has
/// no effect: a module that instantiation returns is never interrupted or closed by it.
/// Found by the `run` fuzzer on a loaded machine (its first call failed as "interrupted").
/// The timeouts sweep the start section's own run time, so some land in that window.
#[test]
fn start_deadline_at_the_end_of_instantiation_leaves_a_working_module() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module
                (global $n (mut i32) (i32.const 0))
                (func $s (loop (global.set $n (i32.add (global.get $n) (i32.const 1)))
                               (br_if 0 (i32.lt_u (global.get $n) (i32.const 300000)))))
                (start $s)
                (func (export "f") (result i32) (global.get $n)))"#))
            .unwrap();
        let started = Instant::now();
        rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        let start_time = started.elapsed().max(Duration::from_micros(20));
        let (mut ok, mut stopped) = (0, 0);
        for step in 0..400u32 {
            let timeout = start_time * step / 200;
            match rt.instantiate(&compiled, ModuleConfig::new().with_start_timeout(timeout)) {
                Ok(m) => {
                    let f = m.exported_function("f").unwrap();
                    assert_eq!(f.call(&[]).unwrap(), vec![300000], "timeout {timeout:?}");
                    m.close().unwrap();
                    ok += 1;
                }
                Err(e) => {
                    assert_exit(&e, EXIT_CODE_DEADLINE_EXCEEDED);
                    stopped += 1;
                }
            }
        }
        // The longest timeouts are twice the start's run time.
        assert!(ok > 0, "{ok} instantiated, {stopped} stopped");
    });
}

#[test]
fn malformed_bytes_are_a_compile_error() {
    each_engine(|engine| {
        let rt = runtime(engine);
        for bytes in [
            &b""[..],
            b"\0asm",
            b"not wasm at all",
            b"\0asm\x02\0\0\0",
            b"\0asm\x01\0\0\0\x01\xff",
        ] {
            match rt.compile(bytes) {
                Err(Error::Compile(msg)) => assert!(!msg.is_empty()),
                other => panic!("{bytes:?}: expected a compile error, got {:?}", other.err()),
            }
        }
        assert!(matches!(
            rt.instantiate_bytes(b"garbage"),
            Err(Error::Compile(_))
        ));
    });
}

#[test]
fn invalid_module_is_a_compile_error() {
    each_engine(|engine| {
        let rt = runtime(engine);
        for text in [
            // Type mismatch: i64 returned where i32 is declared.
            r#"(module (func (result i32) i64.const 1))"#,
            // Unknown local.
            r#"(module (func local.get 3 drop))"#,
            // Two memories in WebAssembly 2.0.
            r#"(module (memory 1) (memory 1))"#,
        ] {
            let err = compile_err(&rt, &wat(text));
            assert!(matches!(err, Error::Compile(_)), "{text}: {err:?}");
            assert!(err.to_string().starts_with("compile error: "), "{err}");
        }
    });
}

#[test]
fn unknown_imports_are_link_errors_naming_the_import() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let err = rt
            .instantiate_bytes(&wat(r#"(module (import "nowhere" "thing" (func)))"#))
            .unwrap_err();
        match &err {
            Error::Link(msg) => {
                assert!(msg.contains("nowhere") && msg.contains("thing"), "{msg}")
            }
            other => panic!("expected a link error, got {other:?}"),
        }
        instantiate(&rt, r#"(module $lib (func (export "present")))"#);
        let err = rt
            .instantiate_bytes(&wat(r#"(module (import "lib" "absent" (func)))"#))
            .unwrap_err();
        match &err {
            Error::Link(msg) => assert!(msg.contains("lib") && msg.contains("absent"), "{msg}"),
            other => panic!("expected a link error, got {other:?}"),
        }
        // Right name, wrong type.
        let err = rt
            .instantiate_bytes(&wat(
                r#"(module (import "lib" "present" (func (param i32))))"#,
            ))
            .unwrap_err();
        match &err {
            Error::Link(msg) => assert!(msg.contains("present"), "{msg}"),
            other => panic!("expected a link error, got {other:?}"),
        }
        // Right name, wrong kind.
        let err = rt
            .instantiate_bytes(&wat(r#"(module (import "lib" "present" (memory 1)))"#))
            .unwrap_err();
        assert!(matches!(err, Error::Link(_)), "{err:?}");
    });
}

#[test]
fn simd_modules_run_in_every_engine() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module (func (export "splat") (param i32) (result i32)
                local.get 0 i32x4.splat i32x4.extract_lane 1))"#,
        );
        let splat = m.exported_function("splat").unwrap();
        assert_eq!(splat.call(&[9]).unwrap(), [9], "engine {engine:?}");
    });
}

#[test]
fn instantiation_limits() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_memory_limit_pages(4)).unwrap();
        let err = rt
            .instantiate_bytes(&wat(r#"(module (memory 5))"#))
            .unwrap_err();
        // A typed limit error naming the limit, the request and the maximum.
        let limit = err.as_limit().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(
            (limit.kind, limit.requested, limit.allowed),
            (kiln::LimitKind::MemoryPages, 5, 4)
        );
        // A declared maximum above the limit is clamped, not refused.
        let m = instantiate(&rt, r#"(module (memory 1 100))"#);
        assert_eq!(m.memory().unwrap().grow(3), Some(1));
        assert_eq!(m.memory().unwrap().grow(1), None);
    });
}

/// Kiln bug: a `CompiledModule` compiled by one runtime can be instantiated by another,
/// and then silently runs under the first runtime's engine: its memory limit applies, and
/// imports from the second runtime's modules fail with the confusing link error "import
/// from another engine". Either refuse it clearly or make it work.
#[test]
fn compiled_module_from_another_runtime() {
    each_engine(|engine| {
        let a = Runtime::with_config(config(engine).with_memory_limit_pages(4)).unwrap();
        let b = runtime(engine);
        let refused = |e: &Error| matches!(e, Error::Usage(_) | Error::Instantiate(_));

        let memory = a
            .compile(&wat(r#"(module (memory (export "m") 1))"#))
            .unwrap();
        match b.instantiate(&memory, ModuleConfig::new()) {
            Err(e) => assert!(refused(&e), "unclear refusal: {e:?}"),
            Ok(m) => assert_eq!(
                m.memory().unwrap().grow(10),
                Some(1),
                "runtime b has no 4-page limit"
            ),
        }

        b.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|| 1i32)
            .export("one")
            .instantiate()
            .unwrap();
        let importer = a
            .compile(&wat(
                r#"(module (import "env" "one" (func $one (result i32)))
                    (func (export "run") (result i32) call $one))"#,
            ))
            .unwrap();
        match b.instantiate(&importer, ModuleConfig::new()) {
            Err(e) => assert!(refused(&e), "unclear refusal: {e:?}"),
            Ok(m) => assert_eq!(m.exported_function("run").unwrap().call(&[]).unwrap(), [1]),
        }
    });
}

/// A compiled module lists every import and export with its type, every memory, and
/// whether it uses SIMD: what tools need, through the public API alone.
#[test]
fn compiled_module_lists_imports_exports_and_memories() {
    use kiln::{EntityType, FuncType, GlobalType, Limits, MemoryType, TableType};
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt
            .compile(&wat(r#"(module
                (import "env" "f" (func (param i32 f64) (result i64)))
                (import "env" "mem" (memory 1 4))
                (import "env" "g" (global (mut i32)))
                (table (export "tab") 2 funcref)
                (export "m1" (memory 0))
                (export "m0" (memory 0))
                (global (export "k") f32 (f32.const 1))
                (func (export "run") (result v128) v128.const i64x2 1 2))"#))
            .unwrap();
        let imports: Vec<_> = compiled
            .imports()
            .iter()
            .map(|i| (i.module(), i.name(), i.ty().clone()))
            .collect();
        let i32_f64_i64 = FuncType::new([ValueType::I32, ValueType::F64], [ValueType::I64]);
        assert_eq!(
            imports,
            [
                ("env", "f", EntityType::Func(i32_f64_i64)),
                (
                    "env",
                    "mem",
                    EntityType::Memory(MemoryType {
                        limits: Limits {
                            min: 1,
                            max: Some(4)
                        },
                        memory64: false,
                        shared: false,
                    })
                ),
                (
                    "env",
                    "g",
                    EntityType::Global(GlobalType {
                        content: ValueType::I32,
                        mutable: true
                    })
                ),
            ]
        );
        let exports: Vec<_> = compiled.exports().iter().map(|e| e.name()).collect();
        assert_eq!(exports, ["tab", "m1", "m0", "k", "run"]);
        assert_eq!(
            compiled.export_type("tab"),
            Some(&EntityType::Table(TableType {
                element: ValueType::FuncRef,
                limits: Limits { min: 2, max: None },
            }))
        );
        let Some(EntityType::Func(run)) = compiled.export_type("run") else {
            panic!("run is a function");
        };
        assert_eq!(run.results(), [ValueType::V128]);
        assert_eq!(run.stack_len(), 2);
        assert_eq!(compiled.export_type("k").unwrap().kind_name(), "global");
        assert_eq!(compiled.export_type("missing"), None);
        let memories = compiled.memories();
        assert_eq!(memories.len(), 1);
        assert_eq!(memories[0].import(), Some(("env", "mem")));
        assert_eq!((memories[0].min(), memories[0].max()), (1, Some(4)));
        assert_eq!(memories[0].export_names(), ["m1", "m0"]);
        let defined = rt
            .compile(&wat(r#"(module (memory (export "m") 3))"#))
            .unwrap();
        assert_eq!(defined.memories()[0].import(), None);
        assert_eq!(defined.memories()[0].min(), 3);
        assert!(compiled.uses_simd());
        assert!(!rt.compile(&wat("(module)")).unwrap().uses_simd());
    });
}

/// Tier inspection through the public API: a hot function of engine `tiered` reports its
/// interpreted calls and then that it was tiered up; the other engines never tier up.
#[test]
fn compiled_module_reports_hotness_and_tier_up() {
    each_engine(|engine| {
        let config = config(engine).with_tier_threshold(3).with_tier_sync(true);
        let rt = Runtime::with_config(config).unwrap();
        let compiled = rt
            .compile(&wat(r#"(module
                (import "env" "nop" (func))
                (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))"#))
            .unwrap();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|| {})
            .export("nop")
            .instantiate()
            .unwrap();
        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        let f = m.exported_function("f").unwrap();
        let index = f.definition().index();
        assert_eq!(index, 1);
        assert_eq!(compiled.hotness(0), None, "an import has no counters");
        assert_eq!(compiled.hotness(7), None, "no such function");
        assert!(!compiled.is_tiered_up(index));
        for k in 0..5 {
            assert_eq!(f.call(&[k]).unwrap(), [k + 1]);
        }
        let (calls, backedges) = compiled.hotness(index).unwrap();
        assert_eq!(backedges, 0);
        match engine {
            EngineKind::Tiered => {
                assert!(compiled.is_tiered_up(index));
                // Counted while interpreted, up to the threshold.
                assert_eq!(calls, 3);
            }
            EngineKind::Jit => {
                assert!(!compiled.is_tiered_up(index));
                assert_eq!(calls, 0, "never interpreted");
            }
            EngineKind::Interp => {
                assert!(!compiled.is_tiered_up(index));
                assert_eq!(calls, 5);
            }
        }
    });
}

#[test]
fn a_start_timeout_too_large_for_the_clock_is_no_deadline() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let wasm = wat(r#"(module
            (global $ran (export "ran") (mut i32) (i32.const 0))
            (func $start (global.set $ran (i32.const 1)))
            (start $start))"#);
        let compiled = rt.compile(&wasm).unwrap();
        let module = rt
            .instantiate(
                &compiled,
                ModuleConfig::new().with_start_timeout(Duration::MAX),
            )
            .expect("Duration::MAX is no deadline, not an overflow");
        assert_eq!(module.exported_global("ran").unwrap().get(), 1);
    });
}
