//! Function (untyped, stack and typed calls) and FunctionDefinition.

mod common;

use common::*;
use kiln::{ExternRef, FuncRef, ModuleConfig, ValueType};

const FUNCS: &str = r#"(module $funcs
    (import "env" "host" (func $host_import (param i32) (result i32)))
    (func $add (export "add") (param $lhs i32) (param $rhs i32) (result i32)
        local.get $lhs local.get $rhs i32.add)
    (func (export "swap") (param i64 i64) (result i64 i64) local.get 1 local.get 0)
    (func (export "split") (param i64) (result i32 i32 i32)
        local.get 0 i32.wrap_i64
        (i32.wrap_i64 (i64.shr_u (local.get 0) (i64.const 32)))
        i32.const 7)
    (func (export "mix") (param i32 i64 f32 f64) (result f64)
        local.get 0 f64.convert_i32_s
        local.get 1 f64.convert_i64_s f64.add
        local.get 2 f64.promote_f32 f64.add
        local.get 3 f64.add)
    (func (export "neg") (param i32) (result i32) i32.const 0 local.get 0 i32.sub)
    (func (export "nothing"))
    (func (export "ref_id") (param externref) (result externref) local.get 0)
    (func (export "is_null") (param externref) (result i32) local.get 0 ref.is_null)
    (func (export "via_import") (param i32) (result i32) local.get 0 call $host_import)
    (func (export "first") (export "second") (result i32) i32.const 1)
    (func (result i32) i32.const 2)
    (export "unnamed" (func 11)))"#;

fn setup(engine: kiln::EngineKind) -> (kiln::Runtime, kiln::Module) {
    let rt = runtime(engine);
    rt.new_host_module_builder("env")
        .new_function_builder()
        .with_func(|x: i32| x * 10)
        .export("host")
        .instantiate()
        .unwrap();
    let m = instantiate(&rt, FUNCS);
    (rt, m)
}

#[test]
fn call_returns_results() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let f = |name| m.exported_function(name).unwrap();
        assert_eq!(f("add").call(&[40, 2]).unwrap(), [42]);
        assert_eq!(
            f("add").call(&[kiln::encode_i32(-1), 1]).unwrap(),
            [0],
            "i32 arithmetic wraps"
        );
        assert_eq!(f("swap").call(&[1, 2]).unwrap(), [2, 1]);
        assert_eq!(
            f("split").call(&[0x0000_0002_0000_0001]).unwrap(),
            [1, 2, 7]
        );
        let mixed = f("mix")
            .call(&[
                kiln::encode_i32(-1),
                kiln::encode_i64(10),
                kiln::encode_f32(0.5),
                kiln::encode_f64(0.25),
            ])
            .unwrap();
        assert_eq!(kiln::decode_f64(mixed[0]), 9.75);
        assert_eq!(kiln::decode_i32(f("neg").call(&[5]).unwrap()[0]), -5);
        assert!(f("nothing").call(&[]).unwrap().is_empty());
        assert_eq!(f("ref_id").call(&[0xfeed]).unwrap(), [0xfeed]);
        assert_eq!(f("is_null").call(&[0]).unwrap(), [1]);
        assert_eq!(f("is_null").call(&[3]).unwrap(), [0]);
        assert_eq!(f("via_import").call(&[4]).unwrap(), [40]);
    });
}

#[test]
fn call_with_wrong_param_count_is_a_usage_error() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let add = m.exported_function("add").unwrap();
        for params in [&[][..], &[1], &[1, 2, 3]] {
            let err = add.call(params).unwrap_err();
            assert_usage(&err);
            assert!(err.to_string().contains('2'), "{err}");
        }
        let nothing = m.exported_function("nothing").unwrap();
        assert_usage(&nothing.call(&[0]).unwrap_err());
        let mix = m.exported_function("mix").unwrap();
        assert_usage(&mix.call(&[1, 2, 3]).unwrap_err());
        // The function still works afterwards.
        assert_eq!(add.call(&[1, 2]).unwrap(), [3]);
    });
}

#[test]
fn call_with_stack() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let add = m.exported_function("add").unwrap();
        let mut stack = [20, 22];
        add.call_with_stack(&mut stack).unwrap();
        assert_eq!(stack[0], 42, "the result overwrites the first slot");

        // Multi-value: results overwrite parameters in order.
        let swap = m.exported_function("swap").unwrap();
        let mut stack = [5, 6];
        swap.call_with_stack(&mut stack).unwrap();
        assert_eq!(stack, [6, 5]);

        // More results than parameters: the stack must hold the results.
        let split = m.exported_function("split").unwrap();
        let mut stack = [0x0000_0009_0000_0008, 0, 0];
        split.call_with_stack(&mut stack).unwrap();
        assert_eq!(stack, [8, 9, 7]);

        // A longer stack is fine; slots past max(params, results) are left alone.
        let mut stack = [1, 2, 99, 98];
        add.call_with_stack(&mut stack).unwrap();
        assert_eq!(stack, [3, 2, 99, 98]);

        // No params, no results: an empty stack.
        m.exported_function("nothing")
            .unwrap()
            .call_with_stack(&mut [])
            .unwrap();
    });
}

#[test]
fn call_with_short_stack_is_a_usage_error() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let add = m.exported_function("add").unwrap();
        assert_usage(&add.call_with_stack(&mut []).unwrap_err());
        assert_usage(&add.call_with_stack(&mut [1]).unwrap_err());
        // Results count too: split takes one parameter but needs three slots.
        let split = m.exported_function("split").unwrap();
        assert_usage(&split.call_with_stack(&mut [1]).unwrap_err());
        let err = split.call_with_stack(&mut [1, 2]).unwrap_err();
        assert_usage(&err);
        assert!(err.to_string().contains('3'), "{err}");
        let mut ok = [1, 2, 3];
        split.call_with_stack(&mut ok).unwrap();
        assert_eq!(ok, [1, 0, 7]);
    });
}

#[test]
fn typed_calls() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let f = |name| m.exported_function(name).unwrap();
        let add = f("add").typed::<(i32, i32), i32>().unwrap();
        assert_eq!(add.call((40, 2)).unwrap(), 42);
        assert_eq!(add.call((i32::MAX, 1)).unwrap(), i32::MIN);
        assert_eq!(add.function().definition().name(), "add");
        let add_u = f("add").typed::<(u32, u32), u32>().unwrap();
        assert_eq!(add_u.call((u32::MAX, 2)).unwrap(), 1);
        let neg = f("neg").typed::<i32, i32>().unwrap();
        assert_eq!(neg.call(7).unwrap(), -7);
        let swap = f("swap").typed::<(i64, i64), (i64, i64)>().unwrap();
        assert_eq!(swap.call((-1, 2)).unwrap(), (2, -1));
        let swap_u = f("swap").typed::<(u64, u64), (u64, u64)>().unwrap();
        assert_eq!(swap_u.call((u64::MAX, 0)).unwrap(), (0, u64::MAX));
        let split = f("split").typed::<u64, (u32, u32, i32)>().unwrap();
        assert_eq!(split.call(0x0000_0003_0000_0004).unwrap(), (4, 3, 7));
        let mix = f("mix").typed::<(i32, i64, f32, f64), f64>().unwrap();
        assert_eq!(mix.call((1, 2, 0.5, 0.25)).unwrap(), 3.75);
        let nothing = f("nothing").typed::<(), ()>().unwrap();
        nothing.call(()).unwrap();
        let ref_id = f("ref_id").typed::<ExternRef, ExternRef>().unwrap();
        assert_eq!(ref_id.call(ExternRef(77)).unwrap(), ExternRef(77));
        assert!(ref_id.call(ExternRef::NULL).unwrap().is_null());
        let is_null = f("is_null").typed::<ExternRef, i32>().unwrap();
        assert_eq!(is_null.call(ExternRef::NULL).unwrap(), 1);
        // A typed function can be cloned and used like the original.
        let again = add.clone();
        assert_eq!(again.call((1, 1)).unwrap(), 2);
    });
}

#[test]
fn typed_signature_mismatch_is_an_error() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let add = m.exported_function("add").unwrap();
        assert_usage(&add.typed::<(i32, i64), i32>().err().unwrap());
        assert_usage(&add.typed::<i32, i32>().err().unwrap());
        assert_usage(&add.typed::<(i32, i32, i32), i32>().err().unwrap());
        assert_usage(&add.typed::<(i32, i32), i64>().err().unwrap());
        assert_usage(&add.typed::<(i32, i32), ()>().err().unwrap());
        assert_usage(&add.typed::<(i32, i32), (i32, i32)>().err().unwrap());
        assert_usage(&add.typed::<(f32, f32), f32>().err().unwrap());
        let swap = m.exported_function("swap").unwrap();
        assert_usage(&swap.typed::<(i64, i64), i64>().err().unwrap());
        let ref_id = m.exported_function("ref_id").unwrap();
        assert_usage(&ref_id.typed::<FuncRef, ExternRef>().err().unwrap());
        assert_usage(&ref_id.typed::<u64, u64>().err().unwrap());
    });
}

#[test]
fn function_definition_of_exports() {
    each_engine(|engine| {
        let (_rt, m) = setup(engine);
        let add = m.exported_function("add").unwrap();
        let def = add.definition();
        assert_eq!(def.module_name(), "funcs");
        assert_eq!(def.index(), 1, "imports come first in the index space");
        assert_eq!(def.import(), None);
        assert_eq!(def.export_names(), ["add"]);
        assert_eq!(def.name(), "add");
        assert_eq!(def.debug_name(), "funcs.add");
        assert_eq!(def.param_types(), [ValueType::I32, ValueType::I32]);
        assert_eq!(def.param_names(), ["lhs", "rhs"]);
        assert_eq!(def.result_types(), [ValueType::I32]);
        assert_eq!(def.result_names(), [""]);
        assert!(!def.is_host_function());
        assert_eq!(
            format!("{def:?}"),
            "FunctionDefinition(funcs.add([I32, I32]) -> [I32])"
        );
        assert_eq!(format!("{add:?}"), "Function(funcs.add)");

        // Exported twice: one definition with both names.
        let first = m.exported_function("first").unwrap();
        assert_eq!(first.definition().export_names(), ["first", "second"]);
        assert_eq!(
            m.exported_function("second").unwrap().definition().index(),
            first.definition().index()
        );

        // No name section entry: the debug name uses the index; parameters unnamed.
        let unnamed = m.exported_function("unnamed").unwrap();
        assert_eq!(unnamed.definition().name(), "");
        assert_eq!(unnamed.definition().debug_name(), "funcs.$11");
        let swap = m.exported_function("swap").unwrap();
        assert_eq!(swap.definition().param_names(), ["", ""]);
        assert_eq!(swap.definition().result_types(), [ValueType::I64; 2]);
        assert_eq!(swap.definition().result_names(), ["", ""]);
        let nothing = m.exported_function("nothing").unwrap();
        assert!(nothing.definition().param_types().is_empty());
        assert!(nothing.definition().param_names().is_empty());
        assert!(nothing.definition().result_types().is_empty());
        let mix = m.exported_function("mix").unwrap();
        assert_eq!(
            mix.definition().param_types(),
            [
                ValueType::I32,
                ValueType::I64,
                ValueType::F32,
                ValueType::F64
            ]
        );
        let ref_id = m.exported_function("ref_id").unwrap();
        assert_eq!(ref_id.definition().param_types(), [ValueType::ExternRef]);
    });
}

#[test]
fn function_definition_of_anonymous_unnamed_module() {
    each_engine(|engine| {
        let rt = runtime(engine);
        // Binary without a name section.
        let mut module = wasm_encoder::Module::new();
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([wasm_encoder::ValType::I32], []);
        module.section(&types);
        let mut funcs = wasm_encoder::FunctionSection::new();
        funcs.function(0);
        module.section(&funcs);
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export("f", wasm_encoder::ExportKind::Func, 0);
        module.section(&exports);
        let mut code = wasm_encoder::CodeSection::new();
        let mut body = wasm_encoder::Function::new([]);
        body.instruction(&wasm_encoder::Instruction::End);
        code.function(&body);
        module.section(&code);
        let wasm = module.finish();
        let compiled = rt.compile(&wasm).unwrap();
        let def = &compiled.exported_functions()["f"];
        assert_eq!(def.module_name(), "");
        assert_eq!(def.name(), "");
        assert_eq!(def.debug_name(), ".$0");
        assert_eq!(def.param_names(), [""]);
        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        let f = m.exported_function("f").unwrap();
        assert_eq!(f.definition().debug_name(), ".$0");
        f.call(&[1]).unwrap();
    });
}

#[test]
fn function_definition_of_imports() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(FUNCS)).unwrap();
        let import = &compiled.imported_functions()[0];
        assert_eq!(import.import(), Some(("env", "host")));
        assert_eq!(import.index(), 0);
        assert_eq!(import.name(), "host_import");
        assert_eq!(import.debug_name(), "funcs.host_import");
        assert_eq!(import.module_name(), "funcs");
        assert_eq!(import.param_types(), [ValueType::I32]);
        assert_eq!(import.result_types(), [ValueType::I32]);
        assert!(!import.is_host_function());
    });
}

/// A funcref handed out by Kiln can be passed back to a function.
#[test]
fn funcref_round_trip() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (table $t 1 funcref)
                (func $seven (result i32) i32.const 7)
                (elem declare func $seven)
                (func (export "get") (result funcref) ref.func $seven)
                (func (export "run") (param funcref) (result i32)
                    (table.set $t (i32.const 0) (local.get 0))
                    (call_indirect (result i32) (i32.const 0))))"#,
        );
        let get = m.exported_function("get").unwrap();
        let run = m.exported_function("run").unwrap();
        let r = get.call(&[]).unwrap()[0];
        assert_ne!(r, 0);
        assert_eq!(kiln::decode_funcref(kiln::encode_funcref(r)), r);
        assert_eq!(run.call(&[r]).unwrap(), [7]);
        let typed = run.typed::<FuncRef, i32>().unwrap();
        assert_eq!(typed.call(FuncRef(r)).unwrap(), 7);
        // A made-up value is refused before it reaches Wasm.
        assert_usage(&run.call(&[0xdead_bee0]).unwrap_err());
        assert_usage(&typed.call(FuncRef(0xdead_bee0)).unwrap_err());
        // Null reaches Wasm and traps there.
        assert_trap(
            &run.call(&[0]).unwrap_err(),
            kiln::TrapCode::UninitializedElement,
        );
    });
}

/// Kiln bug: `MutableGlobal::set` documents that values obtained from Kiln are accepted
/// for funcref globals, but it refuses every non-null value.
#[test]
fn funcref_global_accepts_funcrefs_from_kiln() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (global $g (export "g") (mut funcref) (ref.null func))
                (func $seven (result i32) i32.const 7)
                (elem declare func $seven)
                (func (export "get") (result funcref) ref.func $seven))"#,
        );
        let r = m.exported_function("get").unwrap().call(&[]).unwrap()[0];
        let g = m.exported_global("g").unwrap().as_mutable().unwrap();
        assert!(g.set(r), "a funcref obtained from Kiln was refused");
        assert_eq!(g.get(), r);
    });
}

/// Kiln bug: a funcref read from a global with `Global::get` is obtained from Kiln, yet
/// passing it to a function is refused as "not a funcref obtained from this runtime"
/// (only funcrefs returned by calls are remembered).
#[test]
fn funcref_read_from_a_global_can_be_passed_back() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (table $t 1 funcref)
                (func $seven (result i32) i32.const 7)
                (global (export "g") funcref (ref.func $seven))
                (func (export "run") (param funcref) (result i32)
                    (table.set $t (i32.const 0) (local.get 0))
                    (call_indirect (result i32) (i32.const 0))))"#,
        );
        let r = m.exported_global("g").unwrap().get();
        assert_ne!(r, 0);
        let result = m.exported_function("run").unwrap().call(&[r]);
        assert_eq!(result.unwrap(), [7]);
    });
}
