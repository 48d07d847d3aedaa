//! Traps: every kind, with its TrapCode and a backtrace named from the name section.

mod common;

use common::*;
use kiln::{Error, Module, Runtime, TrapCode};

const TRAPS: &str = r#"(module $traps
    (type $i32_to_i32 (func (param i32) (result i32)))
    (type $void (func))
    (memory 1)
    (table $t 3 funcref)
    (elem (i32.const 0) $void_fn $id)
    (func $void_fn)
    (func $id (param i32) (result i32) local.get 0)
    (func $do_unreachable unreachable)
    (func $do_div (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
    (func $do_rem (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_u)
    (func $do_load (param i32) (result i32) local.get 0 i32.load)
    (func $do_store (param i32) local.get 0 i64.const 1 i64.store)
    (func $do_indirect (param i32) (result i32)
        (call_indirect (type $i32_to_i32) (i32.const 5) (local.get 0)))
    (func $do_trunc (param f32) (result i32) local.get 0 i32.trunc_f32_s)
    (func $do_table_get (param i32) (result funcref) local.get 0 table.get $t)
    (func $recurse (param i32) (result i32)
        (call $recurse (i32.add (local.get 0) (i32.const 1))))
    (func $middle (param i32) (result i32)
        (block (br_if 0 (i32.ne (local.get 0) (i32.const 0))) call $do_unreachable)
        (i32.eqz (local.get 0)) drop
        (if (i32.eq (local.get 0) (i32.const 1))
            (then (drop (call $do_div (i32.const 1) (i32.const 0)))))
        local.get 0)
    (func (export "unreachable") call $do_unreachable)
    (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 call $do_div)
    (func (export "rem") (param i64 i64) (result i64) local.get 0 local.get 1 call $do_rem)
    (func (export "load") (param i32) (result i32) local.get 0 call $do_load)
    (func (export "store") (param i32) local.get 0 call $do_store)
    (func (export "indirect") (param i32) (result i32) local.get 0 call $do_indirect)
    (func (export "trunc") (param f32) (result i32) local.get 0 call $do_trunc)
    (func (export "table_get") (param i32) (result funcref) local.get 0 call $do_table_get)
    (func (export "recurse") (result i32) i32.const 0 call $recurse)
    (func $outer (export "nested") (param i32) (result i32) local.get 0 call $middle))"#;

fn module(rt: &Runtime) -> Module {
    instantiate(rt, TRAPS)
}

/// Names of the backtrace frames, innermost first.
fn frame_names(err: &Error) -> Vec<String> {
    err.as_trap()
        .expect("a trap")
        .backtrace()
        .iter()
        .map(|f| {
            f.func_name
                .clone()
                .unwrap_or_else(|| format!("#{}", f.func_index))
        })
        .collect()
}

#[track_caller]
fn check(m: &Module, export: &str, params: &[u64], code: TrapCode, inner: &str) {
    let err = m
        .exported_function(export)
        .unwrap()
        .call(params)
        .unwrap_err();
    let trap = assert_trap(&err, code);
    assert_eq!(trap.message(), None);
    let names = frame_names(&err);
    assert_eq!(names.len(), 2, "{export}: {names:?}");
    assert_eq!(names[0], inner, "{export}: innermost frame");
    assert_eq!(trap.backtrace()[0].module.as_deref(), Some("traps"));
    // The outer frame is the exported function, which has no name in the name section.
    assert!(names[1].starts_with('#'), "{export}: {names:?}");
    // The error text has the kind and the backtrace.
    let text = err.to_string();
    assert!(text.starts_with("wasm trap: "), "{text}");
    assert!(text.contains(code.message()), "{text}");
    assert!(text.contains(&format!("traps!{inner}")), "{text}");
    // The module stays usable after a trap.
    assert!(!m.is_closed());
}

#[test]
fn unreachable() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        check(
            &m,
            "unreachable",
            &[],
            TrapCode::Unreachable,
            "do_unreachable",
        );
        check(
            &m,
            "unreachable",
            &[],
            TrapCode::Unreachable,
            "do_unreachable",
        );
    });
}

#[test]
fn integer_division() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        check(&m, "div", &[1, 0], TrapCode::IntegerDivideByZero, "do_div");
        check(
            &m,
            "div",
            &[kiln::encode_i32(i32::MIN), kiln::encode_i32(-1)],
            TrapCode::IntegerOverflow,
            "do_div",
        );
        check(&m, "rem", &[1, 0], TrapCode::IntegerDivideByZero, "do_rem");
        assert_eq!(
            m.exported_function("div").unwrap().call(&[9, 3]).unwrap(),
            [3]
        );
    });
}

#[test]
fn memory_out_of_bounds() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        check(&m, "load", &[65533], TrapCode::MemoryOutOfBounds, "do_load");
        check(
            &m,
            "load",
            &[u32::MAX as u64],
            TrapCode::MemoryOutOfBounds,
            "do_load",
        );
        check(
            &m,
            "store",
            &[65529],
            TrapCode::MemoryOutOfBounds,
            "do_store",
        );
        // The last valid offsets work.
        assert_eq!(
            m.exported_function("load").unwrap().call(&[65532]).unwrap(),
            [0]
        );
        m.exported_function("store")
            .unwrap()
            .call(&[65528])
            .unwrap();
    });
}

#[test]
fn indirect_calls() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        let indirect = m.exported_function("indirect").unwrap();
        assert_eq!(indirect.call(&[1]).unwrap(), [5], "slot 1 holds $id");
        check(
            &m,
            "indirect",
            &[0],
            TrapCode::IndirectCallTypeMismatch,
            "do_indirect",
        );
        // Slot 2 is null.
        check(
            &m,
            "indirect",
            &[2],
            TrapCode::UninitializedElement,
            "do_indirect",
        );
        check(
            &m,
            "indirect",
            &[3],
            TrapCode::UndefinedElement,
            "do_indirect",
        );
        check(
            &m,
            "table_get",
            &[3],
            TrapCode::TableOutOfBounds,
            "do_table_get",
        );
    });
}

#[test]
fn invalid_conversion() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        check(
            &m,
            "trunc",
            &[kiln::encode_f32(f32::NAN)],
            TrapCode::InvalidConversionToInteger,
            "do_trunc",
        );
        check(
            &m,
            "trunc",
            &[kiln::encode_f32(3e9)],
            TrapCode::IntegerOverflow,
            "do_trunc",
        );
    });
}

#[test]
fn stack_exhaustion() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        let recurse = m.exported_function("recurse").unwrap();
        let err = recurse.call(&[]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::StackExhausted);
        assert!(trap.frame_count() > 100, "{} frames", trap.frame_count());
        let names = frame_names(&err);
        assert_eq!(names[0], "recurse");
        assert!(names[..names.len() - 1].iter().all(|n| n == "recurse"));
        // The thread and the module are fine afterwards.
        assert_eq!(
            recurse.call(&[]).unwrap_err().as_trap().unwrap().code(),
            TrapCode::StackExhausted
        );
        assert_eq!(
            m.exported_function("div").unwrap().call(&[4, 2]).unwrap(),
            [2]
        );

        // A smaller configured depth is honoured.
        let rt = Runtime::with_config(config(engine).with_max_call_depth(50)).unwrap();
        let m = module(&rt);
        let err = m
            .exported_function("recurse")
            .unwrap()
            .call(&[])
            .unwrap_err();
        assert_trap(&err, TrapCode::StackExhausted);
        let frames = frame_names(&err).len();
        assert!((45..=55).contains(&frames), "{frames} frames for depth 50");
    });
}

#[test]
fn backtrace_lists_every_frame() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = module(&rt);
        let nested = m.exported_function("nested").unwrap();
        let err = nested.call(&[0]).unwrap_err();
        assert_trap(&err, TrapCode::Unreachable);
        assert_eq!(frame_names(&err), ["do_unreachable", "middle", "outer"]);
        let err = nested.call(&[1]).unwrap_err();
        assert_trap(&err, TrapCode::IntegerDivideByZero);
        assert_eq!(frame_names(&err), ["do_div", "middle", "outer"]);
        let bt = err.as_trap().unwrap().backtrace();
        assert_eq!(bt[0].to_string(), "traps!do_div");
        assert!(bt.iter().all(|f| f.module.as_deref() == Some("traps")));
        assert_eq!(nested.call(&[2]).unwrap(), [2]);
    });
}

#[test]
fn backtrace_of_unnamed_functions_uses_indices() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine)).unwrap();
        // No names: built without a name section.
        let mut module = wasm_encoder::Module::new();
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([], []);
        module.section(&types);
        let mut funcs = wasm_encoder::FunctionSection::new();
        funcs.function(0);
        funcs.function(0);
        module.section(&funcs);
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export("run", wasm_encoder::ExportKind::Func, 1);
        module.section(&exports);
        let mut code = wasm_encoder::CodeSection::new();
        let mut f0 = wasm_encoder::Function::new([]);
        f0.instruction(&wasm_encoder::Instruction::Unreachable);
        f0.instruction(&wasm_encoder::Instruction::End);
        code.function(&f0);
        let mut f1 = wasm_encoder::Function::new([]);
        f1.instruction(&wasm_encoder::Instruction::Call(0));
        f1.instruction(&wasm_encoder::Instruction::End);
        code.function(&f1);
        module.section(&code);
        let m = rt.instantiate_bytes(&module.finish()).unwrap();
        let err = m.exported_function("run").unwrap().call(&[]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::Unreachable);
        let bt = trap.backtrace();
        assert_eq!(bt.len(), 2);
        assert_eq!((bt[0].func_index, bt[1].func_index), (0, 1));
        assert_eq!(bt[0].func_name, None);
        assert_eq!(bt[0].module, None);
        assert_eq!(bt[0].to_string(), "<module>!<func 0>");
    });
}

#[test]
fn trap_in_an_imported_wasm_function_names_both_modules() {
    each_engine(|engine| {
        let rt = runtime(engine);
        instantiate(
            &rt,
            r#"(module $lib (func $boom (export "boom") unreachable))"#,
        );
        let m = instantiate(
            &rt,
            r#"(module $app (import "lib" "boom" (func $imported_boom))
                (func $run (export "run") call $imported_boom))"#,
        );
        let err = m.exported_function("run").unwrap().call(&[]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::Unreachable);
        let frames: Vec<_> = trap.backtrace().iter().map(|f| f.to_string()).collect();
        assert_eq!(frames, ["lib!boom", "app!run"]);
    });
}

#[test]
fn trap_in_a_start_function_section() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let err = rt
            .instantiate_bytes(&wat(
                r#"(module $s (memory 1) (func $init i32.const 70000 i32.load drop) (start $init))"#,
            ))
            .unwrap_err();
        let trap = assert_trap(&err, TrapCode::MemoryOutOfBounds);
        assert_eq!(trap.backtrace()[0].func_name.as_deref(), Some("init"));
        // Out-of-bounds data segments trap at instantiation too.
        let err = rt
            .instantiate_bytes(&wat(r#"(module (memory 1) (data (i32.const 65535) "ab"))"#))
            .unwrap_err();
        assert_trap(&err, TrapCode::MemoryOutOfBounds);
    });
}
