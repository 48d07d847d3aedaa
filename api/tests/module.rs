//! Module: names, exports, definitions, globals, closing and formatting.

mod common;

use common::*;
use kiln::{CoreFeatures, Error, ModuleConfig, Runtime, ValueType};

const EXPORTS: &str = r#"(module $exports
    (memory $mem (export "mem") (export "memory") 1 2)
    (global (export "g") (mut i32) (i32.const 7))
    (func $get (export "get") (export "get_again") (result i32) global.get 0)
    (func (export "add") (param $a i32) (param $b i32) (result i32)
        local.get $a local.get $b i32.add)
    (func $hidden))"#;

#[test]
fn module_name_display_and_debug() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        assert_eq!(m.name(), "exports");
        assert_eq!(m.to_string(), "Module[exports]");
        assert_eq!(format!("{m:?}"), "Module[exports]");
        m.close_with_exit_code(3).unwrap();
        assert_eq!(m.to_string(), "Module[exports]");
        assert_eq!(format!("{m:?}"), "Module[exports] (closed, exit code 3)");

        let anon = instantiate(&rt, SPIN);
        assert_eq!(anon.name(), "");
        assert_eq!(anon.to_string(), "Module[]");
    });
}

#[test]
fn exported_function_lookup() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        let add = m.exported_function("add").unwrap();
        assert_eq!(add.call(&[2, 3]).unwrap(), [5]);
        assert_eq!(add.definition().export_names(), ["add"]);
        assert!(m.exported_function("hidden").is_none());
        assert!(m.exported_function("missing").is_none());
        // Other kinds are not functions.
        assert!(m.exported_function("mem").is_none());
        assert!(m.exported_function("g").is_none());
        // Both export names reach the same function.
        let a = m.exported_function("get").unwrap();
        let b = m.exported_function("get_again").unwrap();
        assert_eq!(a.definition().index(), b.definition().index());
        assert_eq!(a.call(&[]).unwrap(), b.call(&[]).unwrap());
    });
}

#[test]
fn exported_function_definitions() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        let defs = m.exported_function_definitions();
        assert_eq!(
            defs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["add", "get", "get_again"]
        );
        assert_eq!(defs["get"].export_names(), ["get", "get_again"]);
        assert_eq!(defs["get"].name(), "get");
        assert_eq!(defs["get"].debug_name(), "exports.get");
        assert_eq!(defs["add"].param_names(), ["a", "b"]);
        assert_eq!(defs["add"].module_name(), "exports");
        // The instance name wins over the name section.
        let compiled = rt.compile(&wat(EXPORTS)).unwrap();
        let renamed = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("renamed"))
            .unwrap();
        let defs = renamed.exported_function_definitions();
        assert_eq!(defs["get"].module_name(), "renamed");
        assert_eq!(defs["get"].debug_name(), "renamed.get");
        assert_eq!(
            renamed
                .exported_function("get")
                .unwrap()
                .definition()
                .debug_name(),
            "renamed.get"
        );
        // Nothing exported, nothing listed.
        assert!(
            instantiate(&rt, "(module (func))")
                .exported_function_definitions()
                .is_empty()
        );
    });
}

#[test]
fn memory_and_exported_memory() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        let mem = m.memory().unwrap();
        assert_eq!(mem.size(), 65536);
        let exported = m.exported_memory("mem").unwrap();
        let alias = m.exported_memory("memory").unwrap();
        // The same memory under every name.
        assert!(exported.write_u8(10, 99));
        assert_eq!(mem.read_u8(10), Some(99));
        assert_eq!(alias.read_u8(10), Some(99));
        assert_eq!(exported.definition(), mem.definition());
        assert!(m.exported_memory("g").is_none());
        assert!(m.exported_memory("nope").is_none());

        let defs = m.exported_memory_definitions();
        assert_eq!(
            defs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["mem", "memory"]
        );
        assert_eq!(defs["mem"].export_names(), ["mem", "memory"]);
        assert_eq!(defs["mem"].module_name(), "exports");
        assert_eq!(defs["mem"].min(), 1);
        assert_eq!(defs["mem"].max(), Some(2));

        // A module without memory has neither.
        let none = instantiate(&rt, SPIN);
        assert!(none.memory().is_none());
        assert!(none.exported_memory_definitions().is_empty());
        // An unexported memory is still the module's memory.
        let private = instantiate(&rt, "(module (memory 3))");
        assert_eq!(private.memory().unwrap().size(), 3 * 65536);
        assert!(
            private
                .memory()
                .unwrap()
                .definition()
                .export_names()
                .is_empty()
        );
        assert!(private.exported_memory_definitions().is_empty());
    });
}

#[test]
fn globals_of_every_type() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (global (export "i32") i32 (i32.const -5))
                (global (export "i64") i64 (i64.const -7))
                (global (export "f32") f32 (f32.const 1.5))
                (global (export "f64") f64 (f64.const -0.25))
                (global (export "externref") externref (ref.null extern))
                (global (export "funcref") funcref (ref.null func))
                (global (export "mut_i64") (mut i64) (i64.const 1))
                (func (export "f")))"#,
        );
        let g = |name| m.exported_global(name).unwrap();
        let cases = [
            (
                "i32",
                ValueType::I32,
                kiln::encode_i32(-5),
                "global(i32) = -5",
            ),
            (
                "i64",
                ValueType::I64,
                kiln::encode_i64(-7),
                "global(i64) = -7",
            ),
            (
                "f32",
                ValueType::F32,
                kiln::encode_f32(1.5),
                "global(f32) = 1.5",
            ),
            (
                "f64",
                ValueType::F64,
                kiln::encode_f64(-0.25),
                "global(f64) = -0.25",
            ),
            (
                "externref",
                ValueType::ExternRef,
                0,
                "global(externref) = 0x0",
            ),
            ("funcref", ValueType::FuncRef, 0, "global(funcref) = 0x0"),
        ];
        for (name, ty, value, display) in cases {
            let global = g(name);
            assert_eq!(global.ty(), ty, "{name}");
            assert!(!global.is_mutable(), "{name}");
            assert!(global.as_mutable().is_none(), "{name}");
            assert_eq!(global.get(), value, "{name}");
            assert_eq!(global.to_string(), display);
        }
        let mutable = g("mut_i64");
        assert!(mutable.is_mutable());
        assert_eq!(mutable.ty(), ValueType::I64);
        assert!(m.exported_global("f").is_none());
        assert!(m.exported_global("missing").is_none());
    });
}

#[test]
fn mutable_globals_are_shared_with_wasm() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (global $c (export "counter") (mut i32) (i32.const 41))
                (global $f (export "f64") (mut f64) (f64.const 0))
                (global $r (export "ref") (mut externref) (ref.null extern))
                (global $fr (export "fref") (mut funcref) (ref.null func))
                (func (export "bump") (result i32)
                    (global.set $c (i32.add (global.get $c) (i32.const 1)))
                    global.get $c)
                (func (export "get_ref") (result externref) global.get $r))"#,
        );
        let counter = m.exported_global("counter").unwrap();
        let setter = counter.as_mutable().unwrap();
        assert!(setter.set(kiln::encode_i32(-1)));
        assert_eq!(setter.get(), 0xffff_ffff);
        assert_eq!(setter.to_string(), "global(i32) = -1");
        assert_eq!(setter.global().ty(), ValueType::I32);
        let bump = m.exported_function("bump").unwrap();
        assert_eq!(bump.call(&[]).unwrap(), [0]);
        assert_eq!(counter.get(), 0, "wasm writes are visible to the host");

        let f = m.exported_global("f64").unwrap().as_mutable().unwrap();
        assert!(f.set(kiln::encode_f64(2.5)));
        assert_eq!(f.to_string(), "global(f64) = 2.5");

        let r = m.exported_global("ref").unwrap().as_mutable().unwrap();
        assert!(r.set(kiln::encode_externref(0x1234)));
        assert_eq!(r.to_string(), "global(externref) = 0x1234");
        assert_eq!(
            m.exported_function("get_ref").unwrap().call(&[]).unwrap(),
            [0x1234]
        );

        // A funcref global only takes null from the host.
        let fr = m.exported_global("fref").unwrap().as_mutable().unwrap();
        assert!(!fr.set(0xdead_beef));
        assert_eq!(fr.get(), 0);
        assert!(fr.set(0));
    });
}

#[test]
fn closed_module_calls_fail_with_the_exit_code() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        let add = m.exported_function("add").unwrap();
        let typed = add.typed::<(i32, i32), i32>().unwrap();
        assert!(!m.is_closed());
        assert_eq!(m.exit_code(), None);
        m.close_with_exit_code(42).unwrap();
        assert!(m.is_closed());
        assert_eq!(m.exit_code(), Some(42));
        assert_exit(&add.call(&[1, 2]).unwrap_err(), 42);
        assert_exit(&add.call_with_stack(&mut [1, 2]).unwrap_err(), 42);
        assert_exit(&typed.call((1, 2)).unwrap_err(), 42);
        // Handles obtained after closing fail the same way.
        assert_exit(
            &m.exported_function("get").unwrap().call(&[]).unwrap_err(),
            42,
        );
        // Closing again keeps the first code.
        m.close_with_exit_code(1).unwrap();
        m.close().unwrap();
        assert_eq!(m.exit_code(), Some(42));
        // The error is an ExitError.
        let err = add.call(&[1, 2]).unwrap_err();
        let exit = err.as_exit().unwrap();
        assert_eq!(exit.exit_code(), 42);
        assert!(!exit.is_interrupted() && !exit.is_deadline_exceeded());
        assert_eq!(err.to_string(), "module closed with exit_code(42)");
        assert!(err.as_trap().is_none());
    });
}

#[test]
fn close_with_code_zero() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        m.close().unwrap();
        assert!(m.is_closed());
        assert_eq!(m.exit_code(), Some(0));
        assert_exit(
            &m.exported_function("get").unwrap().call(&[]).unwrap_err(),
            0,
        );
        // Closing one module does not affect another.
        let other = instantiate(&rt, SPIN);
        assert!(!other.is_closed());
        assert_eq!(
            other
                .exported_function("answer")
                .unwrap()
                .call(&[])
                .unwrap(),
            [42]
        );
    });
}

#[test]
fn memory_and_globals_outlive_close() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, EXPORTS);
        let mem = m.memory().unwrap();
        let g = m.exported_global("g").unwrap();
        m.close().unwrap();
        drop(m);
        // Host handles keep their memory and global alive.
        assert!(mem.write_u32_le(0, 5));
        assert_eq!(mem.read_u32_le(0), Some(5));
        assert_eq!(g.get(), 7);
    });
}

#[test]
fn interrupt_handle_closes_the_module() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, SPIN);
        let handle = m.interrupt_handle();
        let handle2 = handle.clone();
        assert!(handle.interrupt(), "first interrupt closes");
        assert!(!handle2.interrupt(), "already closed");
        assert_eq!(m.exit_code(), Some(kiln::EXIT_CODE_INTERRUPTED));
        let err = m
            .exported_function("answer")
            .unwrap()
            .call(&[])
            .unwrap_err();
        assert!(err.as_exit().unwrap().is_interrupted());
        assert!(err.to_string().contains("interrupted"), "{err}");

        // A handle of a dropped module does nothing.
        let gone = instantiate(&rt, SPIN);
        let handle = gone.interrupt_handle();
        drop(gone);
        assert!(!handle.interrupt());
    });
}

#[test]
fn imported_memory_is_shared() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let provider = instantiate(&rt, r#"(module $provider (memory (export "mem") 1 8))"#);
        let consumer = instantiate(
            &rt,
            r#"(module $consumer (import "provider" "mem" (memory 1))
                (func (export "load") (param i32) (result i32) local.get 0 i32.load))"#,
        );
        let mem = consumer.memory().unwrap();
        let def = mem.definition();
        assert_eq!(def.import(), Some(("provider", "mem")));
        assert_eq!(def.module_name(), "consumer");
        assert_eq!(def.index(), 0);
        assert_eq!(def.min(), 1);
        assert_eq!(def.max(), None);
        assert!(def.export_names().is_empty());
        assert!(provider.memory().unwrap().write_u32_le(16, 0xabcd));
        assert_eq!(
            consumer
                .exported_function("load")
                .unwrap()
                .call(&[16])
                .unwrap(),
            [0xabcd]
        );
        assert_eq!(mem.read_u32_le(16), Some(0xabcd));
        let pdef = provider.memory().unwrap().definition().clone();
        assert_eq!(pdef.import(), None);
        assert_eq!(pdef.max(), Some(8));
    });
}

#[test]
fn errors_format_and_convert() {
    let exit = kiln::ExitError::new(7);
    assert_eq!(exit.exit_code(), 7);
    assert_eq!(exit.to_string(), "module closed with exit_code(7)");
    let interrupted = kiln::ExitError::new(kiln::EXIT_CODE_INTERRUPTED);
    assert!(interrupted.is_interrupted() && !interrupted.is_deadline_exceeded());
    assert_eq!(
        interrupted.to_string(),
        "module closed with exit_code(4294967295) (interrupted)"
    );
    let deadline = kiln::ExitError::new(kiln::EXIT_CODE_DEADLINE_EXCEEDED);
    assert!(deadline.is_deadline_exceeded() && !deadline.is_interrupted());
    assert!(deadline.to_string().ends_with("(deadline exceeded)"));

    let e = Error::Exit(exit);
    assert_eq!(e.as_exit(), Some(exit));
    assert_eq!(e.to_string(), exit.to_string());
    let t = Error::Trap(kiln::Trap::host("boom"));
    assert_eq!(t.as_trap().unwrap().message(), Some("boom"));
    assert!(t.as_exit().is_none());
    assert_eq!(t.to_string(), "wasm trap: host function error: boom");
    assert_eq!(Error::Compile("x".into()).to_string(), "compile error: x");
    assert_eq!(Error::Link("x".into()).to_string(), "link error: x");
    assert_eq!(Error::Unsupported("x".into()).to_string(), "unsupported: x");
    assert_eq!(
        Error::Instantiate("x".into()).to_string(),
        "instantiation error: x"
    );
    assert_eq!(Error::Usage("x".into()).to_string(), "x");
    // It is a std error, usable with `?` in `Box<dyn Error>` code.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Usage("u".into()));
    assert_eq!(boxed.to_string(), "u");
}

/// The module of the extended-constant-expression tests: every place a constant expression
/// appears (global initialisers, a data offset, an element offset and an element item)
/// computes from the imported `env.base` or from earlier globals.
const EXTENDED_CONST_USER: &str = r#"(module
    (import "env" "base" (global $base i32))
    (global $off (export "off") i32 (i32.add (global.get $base) (i32.const 8)))
    (global $below (export "below") i32
        (i32.sub (global.get $off) (i32.mul (i32.const 5) (i32.const 10))))
    (global $wide (export "wide") i64
        (i64.mul (i64.sub (i64.const 10) (i64.const 3)) (i64.add (i64.const 4) (i64.const 2))))
    (global $seven funcref (ref.func $seven))
    (memory (export "mem") 1)
    (data (i32.add (global.get $base) (i32.const 8)) "kiln")
    (table 128 funcref)
    (elem (i32.sub (global.get $base) (i32.const 15)) func $seven)
    (elem (table 0) (i32.add (global.get $off) (i32.const -20)) funcref
        (item global.get $seven))
    (elem $passive funcref (item global.get $seven))
    (func $seven (result i32) (i32.const 7))
    (func (export "init") (param i32)
        (table.init $passive (local.get 0) (i32.const 0) (i32.const 1)))
    (func (export "off_from_code") (result i32) (global.get $off))
    (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0)))
)"#;

fn extended_const_runtime(engine: kiln::EngineKind, base: i32) -> Runtime {
    let rt = Runtime::with_config(config(engine).with_core_features(CoreFeatures::V3))
        .expect("engine is available");
    let provider = instantiate(
        &rt,
        &format!(r#"(module (global (export "base") i32 (i32.const {base})))"#),
    );
    rt.register("env", &provider).unwrap();
    rt
}

#[test]
fn extended_constant_expressions_compute_globals_offsets_and_items() {
    each_engine(|engine| {
        for base in [16, 100] {
            let rt = extended_const_runtime(engine, base);
            let m = instantiate(&rt, EXTENDED_CONST_USER);
            let off = base + 8;
            assert_eq!(m.exported_global("off").unwrap().get(), off as u32 as u64);
            assert_eq!(
                m.exported_global("below").unwrap().get(),
                (off - 50) as u32 as u64
            );
            assert_eq!(m.exported_global("wide").unwrap().get(), 42);
            let run =
                |name: &str, args: &[u64]| m.exported_function(name).unwrap().call(args).unwrap();
            assert_eq!(run("off_from_code", &[]), [off as u32 as u64]);
            let mem = m.exported_memory("mem").unwrap();
            let at = |offset: i32| mem.read(offset as u32, 4).unwrap().to_vec();
            assert_eq!(at(off), b"kiln", "{engine:?}, base {base}");
            assert_eq!(
                at(base),
                [0; 4],
                "nothing is written at the unadjusted base"
            );
            // Both element segments reach the table at their computed offsets, and only
            // there.
            for slot in [base - 15, off - 20] {
                assert_eq!(run("call", &[slot as u64]), [7], "{engine:?}, slot {slot}");
            }
            let empty = (0..128)
                .find(|s| ![base - 15, off - 20].contains(s))
                .unwrap();
            let err = m
                .exported_function("call")
                .unwrap()
                .call(&[empty as u64])
                .unwrap_err();
            assert_trap(&err, kiln::TrapCode::UninitializedElement);
            // The passive segment's item, `global.get` of a defined global, fills the empty
            // slot through `table.init`.
            run("init", &[empty as u64]);
            assert_eq!(
                run("call", &[empty as u64]),
                [7],
                "{engine:?}, slot {empty}"
            );
        }
    });
}

#[test]
fn a_data_offset_computed_out_of_range_fails_instantiation() {
    let data_at_base_plus_8 = wat(r#"(module (import "env" "base" (global $base i32))
        (memory 1) (data (i32.add (global.get $base) (i32.const 8)) "kiln"))"#);
    each_engine(|engine| {
        // 65524 + 8 puts the 4 bytes of "kiln" at the very end of the one-page memory;
        // one more is out of bounds.
        let rt = extended_const_runtime(engine, 65524);
        rt.instantiate_bytes(&data_at_base_plus_8).unwrap();
        let rt = extended_const_runtime(engine, 65525);
        let err = rt
            .instantiate_bytes(&data_at_base_plus_8)
            .expect_err("the data segment is out of bounds");
        assert_trap(&err, kiln::TrapCode::MemoryOutOfBounds);
    });
}

#[test]
fn extended_constant_expressions_validate_by_feature_set() {
    each_engine(|engine| {
        let v2 = runtime(engine);
        let v3 = Runtime::with_config(config(engine).with_core_features(CoreFeatures::V3))
            .expect("engine is available");
        // Arithmetic on constants is accepted by both feature sets.
        let arithmetic = wat(r#"(module (global (export "g") i64
            (i64.sub (i64.const 1) (i64.mul (i64.const 3) (i64.const 4)))))"#);
        for rt in [&v2, &v3] {
            let m = rt.instantiate_bytes(&arithmetic).unwrap();
            assert_eq!(m.exported_global("g").unwrap().get(), (-11i64) as u64);
        }
        // `global.get` of a global defined in the module: 3.0 only (2.0 names imported
        // globals only).
        let defined = wat(r#"(module (global $a i32 (i32.const 5))
            (global (export "g") i32 (i32.mul (global.get $a) (global.get $a))))"#);
        assert!(matches!(compile_err(&v2, &defined), Error::Compile(_)));
        let m = v3.instantiate_bytes(&defined).unwrap();
        assert_eq!(m.exported_global("g").unwrap().get(), 25);
        // Never a later global, a mutable one, or an operator outside the extension.
        for invalid in [
            r#"(module (global i32 (global.get 1)) (global i32 (i32.const 0)))"#,
            r#"(module (global $m (mut i32) (i32.const 0))
                (global i32 (i32.add (global.get $m) (i32.const 1))))"#,
            r#"(module (global i32 (i32.div_u (i32.const 4) (i32.const 2))))"#,
            r#"(module (global i32 (i32.add (i32.const 1))))"#,
        ] {
            for rt in [&v2, &v3] {
                let err = compile_err(rt, &wat(invalid));
                assert!(matches!(err, Error::Compile(_)), "{invalid}: {err}");
            }
        }
    });
}

#[test]
fn an_invalid_module_is_invalid_even_when_it_uses_an_unsupported_feature() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_core_features(CoreFeatures::V3))
            .expect("engine is available");
        // A GC struct type (not built yet) in both; only the second body is well typed.
        let invalid = wat(r#"(module (type (struct))
            (func (result i32) (i64.const 0)))"#);
        let valid = wat(r#"(module (type (struct))
            (func (result i32) (i32.const 0)))"#);
        let err = compile_err(&rt, &invalid);
        assert!(
            matches!(&err, Error::Compile(m) if m.contains("type mismatch")),
            "{engine:?}: {err}"
        );
        let err = compile_err(&rt, &valid);
        assert!(matches!(err, Error::Unsupported(_)), "{engine:?}: {err}");
    });
}
