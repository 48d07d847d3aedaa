//! Module: names, exports, definitions, globals, closing and formatting.

mod common;

use common::*;
use kiln::{Error, ModuleConfig, ValueType};

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
