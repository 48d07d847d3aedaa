//! Host functions: typed closures and stack functions, the Caller, names, errors, panics
//! and exits.

mod common;

use common::*;
use kiln::{Error, ExternRef, ModuleConfig, Trap, TrapCode, ValueType};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn typed_closures_of_every_value_type() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|a: i32, b: i64, c: f32, d: f64| a as f64 + b as f64 + c as f64 + d)
            .export("sum")
            .new_function_builder()
            .with_func(|x: i64| (x as i32, x >> 32, x as f32, -(x as f64)))
            .export("explode")
            .new_function_builder()
            .with_func(|r: ExternRef, n: u32| ExternRef(r.0 + n as u64))
            .export("offset_ref")
            .new_function_builder()
            .with_func(|| 5u32)
            .export("five")
            .new_function_builder()
            .with_func(|_: i32| {})
            .export("sink")
            .new_function_builder()
            .with_func(
                |a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32| {
                    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h
                },
            )
            .export("eight")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
                (import "env" "sum" (func $sum (param i32 i64 f32 f64) (result f64)))
                (import "env" "explode" (func $explode (param i64) (result i32 i64 f32 f64)))
                (import "env" "offset_ref" (func $offset_ref (param externref i32) (result externref)))
                (import "env" "five" (func $five (result i32)))
                (import "env" "sink" (func $sink (param i32)))
                (import "env" "eight" (func $eight (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
                (func (export "sum") (result f64)
                    (call $sum (i32.const -1) (i64.const 10) (f32.const 0.5) (f64.const 0.25)))
                (func (export "explode") (param i64) (result i32 i64 f32 f64)
                    local.get 0 call $explode)
                (func (export "offset_ref") (param externref) (result externref)
                    (call $offset_ref (local.get 0) (i32.const 3)))
                (func (export "five") (result i32) (call $sink (i32.const 1)) call $five)
                (func (export "eight") (result i32)
                    (call $eight (i32.const 1) (i32.const 1) (i32.const 1) (i32.const 1)
                                 (i32.const 1) (i32.const 1) (i32.const 1) (i32.const 1))))"#,
        );
        let f = |name| m.exported_function(name).unwrap();
        assert_eq!(f("sum").typed::<(), f64>().unwrap().call(()).unwrap(), 9.75);
        let (a, b, c, d) = f("explode")
            .typed::<i64, (i32, i64, f32, f64)>()
            .unwrap()
            .call(0x0000_0002_0000_0004)
            .unwrap();
        assert_eq!((a, b), (4, 2));
        assert_eq!(c, 0x0000_0002_0000_0004u64 as f32);
        assert_eq!(d, -(0x0000_0002_0000_0004u64 as f64));
        let offset = f("offset_ref").typed::<ExternRef, ExternRef>().unwrap();
        assert_eq!(offset.call(ExternRef(100)).unwrap(), ExternRef(103));
        assert_eq!(f("five").call(&[]).unwrap(), [5]);
        assert_eq!(f("eight").call(&[]).unwrap(), [36]);
    });
}

#[test]
fn typed_closures_capture_state() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(move |x: i32| {
                seen.fetch_add(1, Ordering::SeqCst);
                x
            })
            .export("count")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module (import "env" "count" (func $c (param i32) (result i32)))
                (func (export "run") (param i32) (result i32)
                    (loop $l
                        (drop (call $c (local.get 0)))
                        (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
                    local.get 0))"#,
        );
        m.exported_function("run").unwrap().call(&[25]).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 25);
    });
}

#[test]
fn stack_functions_with_and_without_the_caller() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_stack_func(
                &[ValueType::I32, ValueType::I32],
                &[ValueType::I32],
                |_, stack| {
                    let (a, b) = (kiln::decode_i32(stack[0]), kiln::decode_i32(stack[1]));
                    stack[0] = kiln::encode_i32(a * b);
                    Ok(())
                },
            )
            .export("mul")
            .new_function_builder()
            // More results than params: the stack is long enough for the results.
            .with_stack_func(
                &[ValueType::I64],
                &[ValueType::I64, ValueType::I64, ValueType::I64],
                |_, stack| {
                    assert_eq!(stack.len(), 3);
                    let x = stack[0];
                    stack[0] = x + 1;
                    stack[1] = x + 2;
                    stack[2] = x + 3;
                    Ok(())
                },
            )
            .export("fan")
            .new_function_builder()
            // Sum `len` bytes of the caller's memory at `ptr`.
            .with_stack_func(
                &[ValueType::I32, ValueType::I32],
                &[ValueType::I32],
                |caller, stack| {
                    let mem = caller.memory().ok_or_else(|| Trap::host("no memory"))?;
                    let view = mem
                        .read(stack[0] as u32, stack[1] as u32)
                        .ok_or_else(|| Trap::host("out of range"))?;
                    stack[0] = view.to_vec().iter().map(|&b| b as u64).sum();
                    Ok(())
                },
            )
            .export("sum_bytes")
            .new_function_builder()
            // Write into the caller's memory.
            .with_stack_func(&[ValueType::I32], &[], |caller, stack| {
                let mem = caller.memory().unwrap();
                assert!(mem.write_str(stack[0] as u32, "hi from host"));
                Ok(())
            })
            .export("greet")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module $guest
                (import "env" "mul" (func $mul (param i32 i32) (result i32)))
                (import "env" "fan" (func $fan (param i64) (result i64 i64 i64)))
                (import "env" "sum_bytes" (func $sum (param i32 i32) (result i32)))
                (import "env" "greet" (func $greet (param i32)))
                (memory (export "memory") 1)
                (data (i32.const 16) "\01\02\03\04")
                (func (export "mul") (param i32 i32) (result i32)
                    local.get 0 local.get 1 call $mul)
                (func (export "fan") (param i64) (result i64)
                    local.get 0 call $fan i64.add i64.add)
                (func (export "sum") (param i32 i32) (result i32)
                    local.get 0 local.get 1 call $sum)
                (func (export "greet") (param i32) local.get 0 call $greet))"#,
        );
        let f = |name| m.exported_function(name).unwrap();
        assert_eq!(
            kiln::decode_i32(f("mul").call(&[kiln::encode_i32(-6), 7]).unwrap()[0]),
            -42
        );
        assert_eq!(f("fan").call(&[10]).unwrap(), [36]);
        assert_eq!(f("sum").call(&[16, 4]).unwrap(), [10]);
        f("greet").call(&[100]).unwrap();
        let mem = m.memory().unwrap();
        assert_eq!(mem.read(100, 12).unwrap().to_vec(), b"hi from host");
        // An out-of-range request is the host's error.
        let err = f("sum").call(&[65530, 100]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::HostError);
        assert_eq!(trap.message(), Some("out of range"));
    });
}

#[test]
fn caller_module_calls_other_exports() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let names = Arc::new(Mutex::new(Vec::new()));
        let seen = names.clone();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_stack_func(
                &[ValueType::I32],
                &[ValueType::I32],
                move |caller, stack| {
                    let module = caller.module().ok_or_else(|| Trap::host("no caller"))?;
                    seen.lock().unwrap().push(module.name().to_string());
                    let double = module
                        .exported_function("double")
                        .ok_or_else(|| Trap::host("no double"))?;
                    let r = double
                        .call(&[stack[0]])
                        .map_err(|e| Trap::host(e.to_string()))?;
                    stack[0] = r[0] + 1;
                    Ok(())
                },
            )
            .export("double_plus_one")
            .instantiate()
            .unwrap();
        let text = r#"(module $calls_back
            (import "env" "double_plus_one" (func $h (param i32) (result i32)))
            (func (export "double") (param i32) (result i32) local.get 0 i32.const 2 i32.mul)
            (func (export "run") (param i32) (result i32) local.get 0 call $h))"#;
        let compiled = rt.compile(&wat(text)).unwrap();
        let a = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        assert_eq!(
            a.exported_function("run").unwrap().call(&[20]).unwrap(),
            [41]
        );
        // The caller is the calling instance, whatever its name.
        let b = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("other"))
            .unwrap();
        assert_eq!(b.exported_function("run").unwrap().call(&[1]).unwrap(), [3]);
        assert_eq!(*names.lock().unwrap(), ["calls_back", "other"]);
    });
}

#[test]
fn caller_memory_is_none_without_memory() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let had_memory = Arc::new(Mutex::new(None));
        let record = had_memory.clone();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_stack_func(&[], &[], move |caller, _| {
                *record.lock().unwrap() = Some(caller.memory().is_some());
                Ok(())
            })
            .export("probe")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module (import "env" "probe" (func $p)) (func (export "run") call $p))"#,
        );
        m.exported_function("run").unwrap().call(&[]).unwrap();
        assert_eq!(*had_memory.lock().unwrap(), Some(false));
    });
}

#[test]
fn host_definitions_carry_names() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let host = rt
            .new_host_module_builder("env")
            .new_function_builder()
            .with_func(|a: i32, b: i32| a + b)
            .with_parameter_names(&["a", "b"])
            .with_result_names(&["sum"])
            .export("add")
            .new_function_builder()
            .with_stack_func(
                &[ValueType::F64],
                &[ValueType::F64, ValueType::I64],
                |_, _| Ok(()),
            )
            .with_name("split_float")
            .with_parameter_names(&["x"])
            .export("split")
            .new_function_builder()
            .with_func(|_: ExternRef| {})
            .export("unnamed")
            .instantiate()
            .unwrap();
        assert_eq!(host.name(), "env");
        assert!(host.memory().is_none());
        let defs = host.exported_function_definitions();
        assert_eq!(
            defs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["add", "split", "unnamed"]
        );
        let add = &defs["add"];
        assert!(add.is_host_function());
        assert_eq!(add.module_name(), "env");
        assert_eq!(add.index(), 0);
        assert_eq!(add.import(), None);
        assert_eq!(add.export_names(), ["add"]);
        assert_eq!(add.name(), "add");
        assert_eq!(add.debug_name(), "env.add");
        assert_eq!(add.param_types(), [ValueType::I32, ValueType::I32]);
        assert_eq!(add.param_names(), ["a", "b"]);
        assert_eq!(add.result_types(), [ValueType::I32]);
        assert_eq!(add.result_names(), ["sum"]);

        let split = &defs["split"];
        assert_eq!(split.index(), 1);
        assert_eq!(split.name(), "split_float");
        assert_eq!(split.debug_name(), "env.split_float");
        assert_eq!(split.export_names(), ["split"]);
        assert_eq!(split.param_types(), [ValueType::F64]);
        assert_eq!(split.param_names(), ["x"]);
        assert_eq!(split.result_types(), [ValueType::F64, ValueType::I64]);
        assert_eq!(split.result_names(), ["", ""]);

        let unnamed = &defs["unnamed"];
        assert_eq!(unnamed.index(), 2);
        assert_eq!(unnamed.param_types(), [ValueType::ExternRef]);
        assert_eq!(unnamed.param_names(), [""]);
        assert!(unnamed.result_types().is_empty());

        // The same definition through the exported function.
        let f = host.exported_function("add").unwrap();
        assert_eq!(f.definition().param_names(), ["a", "b"]);
        assert!(f.definition().is_host_function());
    });
}

#[test]
fn host_functions_can_be_called_directly() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let host = rt
            .new_host_module_builder("env")
            .new_function_builder()
            .with_func(|a: i64, b: i64| a - b)
            .export("sub")
            .new_function_builder()
            .with_stack_func(&[], &[ValueType::I32], |caller, stack| {
                // Not called from Wasm: no calling module.
                stack[0] = caller.module().is_none() as u64;
                Ok(())
            })
            .export("orphan")
            .instantiate()
            .unwrap();
        let sub = host.exported_function("sub").unwrap();
        assert_eq!(
            sub.typed::<(i64, i64), i64>()
                .unwrap()
                .call((2, 5))
                .unwrap(),
            -3
        );
        assert_usage(&sub.call(&[1]).unwrap_err());
        let orphan = host.exported_function("orphan").unwrap();
        assert_eq!(orphan.call(&[]).unwrap(), [1]);
        assert!(rt.module("env").is_some());
    });
}

#[test]
fn host_error_becomes_a_trap_with_its_message() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_stack_func(&[ValueType::I32], &[], |_, stack| {
                Err(Trap::host(format!("bad input {}", stack[0])))
            })
            .export("fail")
            .new_function_builder()
            .with_func(|x: i32| -> Result<i32, Trap> {
                if x < 0 {
                    Err(Trap::host("negative"))
                } else {
                    Ok(x * 2)
                }
            })
            .export("checked_double")
            .new_function_builder()
            .with_func(|x: i32| -> Result<(i32, i32), Trap> { Ok((x, -x)) })
            .export("pair")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module $g
                (import "env" "fail" (func $fail (param i32)))
                (import "env" "checked_double" (func $cd (param i32) (result i32)))
                (import "env" "pair" (func $pair (param i32) (result i32 i32)))
                (func $inner (export "fail") (param i32) local.get 0 call $fail)
                (func $outer (export "outer") (param i32) local.get 0 call $inner)
                (func (export "checked_double") (param i32) (result i32) local.get 0 call $cd)
                (func (export "pair") (param i32) (result i32 i32) local.get 0 call $pair))"#,
        );
        let err = m
            .exported_function("outer")
            .unwrap()
            .call(&[7])
            .unwrap_err();
        let trap = assert_trap(&err, TrapCode::HostError);
        assert_eq!(trap.message(), Some("bad input 7"));
        assert!(err.to_string().contains("bad input 7"), "{err}");
        let names: Vec<_> = trap
            .backtrace()
            .iter()
            .filter_map(|f| f.func_name.as_deref())
            .collect();
        assert!(
            names == ["inner", "outer"],
            "backtrace names the Wasm frames: {names:?}"
        );
        // The module stays open after a trap.
        assert!(!m.is_closed());

        let cd = m
            .exported_function("checked_double")
            .unwrap()
            .typed::<i32, i32>()
            .unwrap();
        assert_eq!(cd.call(21).unwrap(), 42);
        let err = cd.call(-1).unwrap_err();
        assert_eq!(
            assert_trap(&err, TrapCode::HostError).message(),
            Some("negative")
        );
        let pair = m
            .exported_function("pair")
            .unwrap()
            .typed::<i32, (i32, i32)>()
            .unwrap();
        assert_eq!(pair.call(3).unwrap(), (3, -3));
    });
}

#[test]
fn host_panic_becomes_a_trap() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|x: i32| -> i32 {
                if x == 13 {
                    panic!("unlucky {x}");
                }
                x
            })
            .export("picky")
            .new_function_builder()
            .with_stack_func(&[], &[], |_, _| std::panic::panic_any(17u8))
            .export("odd_panic")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
                (import "env" "picky" (func $p (param i32) (result i32)))
                (import "env" "odd_panic" (func $o))
                (func (export "picky") (param i32) (result i32) local.get 0 call $p)
                (func (export "odd") call $o))"#,
        );
        let picky = m.exported_function("picky").unwrap();
        let err = picky.call(&[13]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::HostError);
        assert!(
            trap.message().unwrap().contains("unlucky 13"),
            "{:?}",
            trap.message()
        );
        // Everything still works after the panic.
        assert_eq!(picky.call(&[12]).unwrap(), [12]);
        let err = m.exported_function("odd").unwrap().call(&[]).unwrap_err();
        assert_trap(&err, TrapCode::HostError);
        // Called directly from the host, too.
        let host_picky = rt
            .module("env")
            .unwrap()
            .exported_function("picky")
            .unwrap();
        assert!(matches!(host_picky.call(&[13]), Err(Error::Trap(_))));
    });
}

#[test]
fn host_exit_closes_the_calling_module() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let after_exit = Arc::new(AtomicU64::new(0));
        let after = after_exit.clone();
        rt.new_host_module_builder("wasi")
            .new_function_builder()
            .with_stack_func(&[ValueType::I32], &[], |caller, stack| {
                Err(caller.exit(stack[0] as u32))
            })
            .export("proc_exit")
            .new_function_builder()
            .with_func(move || {
                after.fetch_add(1, Ordering::SeqCst);
            })
            .export("after")
            .instantiate()
            .unwrap();
        let text = r#"(module
            (import "wasi" "proc_exit" (func $exit (param i32)))
            (import "wasi" "after" (func $after))
            (func (export "exit") (param i32) local.get 0 call $exit call $after)
            (func (export "ok") (result i32) i32.const 1))"#;
        let compiled = rt.compile(&wat(text)).unwrap();
        let m = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("exiting"))
            .unwrap();
        let exit = m.exported_function("exit").unwrap();
        let ok = m.exported_function("ok").unwrap();
        let err = exit.call(&[3]).unwrap_err();
        assert_exit(&err, 3);
        assert_eq!(
            after_exit.load(Ordering::SeqCst),
            0,
            "nothing runs after exit"
        );
        assert!(m.is_closed());
        assert_eq!(m.exit_code(), Some(3));
        assert_exit(&ok.call(&[]).unwrap_err(), 3);
        assert!(rt.module("exiting").is_none(), "the name is freed");
        // The host module itself stays open.
        assert!(!rt.module("wasi").unwrap().is_closed());

        // Exit code 0 is still an exit error for the call.
        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        assert_exit(
            &m.exported_function("exit").unwrap().call(&[0]).unwrap_err(),
            0,
        );
        assert_eq!(m.exit_code(), Some(0));
    });
}

#[test]
fn exit_from_a_start_function() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("wasi")
            .new_function_builder()
            .with_stack_func(&[ValueType::I32], &[], |caller, stack| {
                Err(caller.exit(stack[0] as u32))
            })
            .export("proc_exit")
            .instantiate()
            .unwrap();
        let text = |code: u32| {
            format!(
                r#"(module (import "wasi" "proc_exit" (func $exit (param i32)))
                    (global (export "after") (mut i32) (i32.const 0))
                    (func (export "_start") (call $exit (i32.const {code})))
                    (func (export "next") (global.set 0 (i32.const 1))))"#
            )
        };
        // Exit code 0: instantiation succeeds, the module is closed, later start
        // functions do not run.
        let compiled = rt.compile(&wat(&text(0))).unwrap();
        let m = rt
            .instantiate(
                &compiled,
                ModuleConfig::new().with_start_functions(&["_start", "next"]),
            )
            .unwrap();
        assert!(m.is_closed());
        assert_eq!(m.exit_code(), Some(0));
        assert_eq!(m.exported_global("after").unwrap().get(), 0);
        // Non-zero: instantiation fails with the exit error.
        let compiled = rt.compile(&wat(&text(3))).unwrap();
        let err = rt
            .instantiate(&compiled, ModuleConfig::new().with_name("x"))
            .unwrap_err();
        assert_exit(&err, 3);
        assert!(rt.module("x").is_none());
    });
}

#[test]
fn function_without_implementation_traps() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .export("todo")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module (import "env" "todo" (func $t)) (func (export "run") call $t))"#,
        );
        let err = m.exported_function("run").unwrap().call(&[]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::HostError);
        assert!(trap.message().unwrap().contains("todo"), "{trap}");
    });
}

#[test]
fn host_signature_mismatch_is_a_link_error() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|x: i32| x)
            .export("id")
            .instantiate()
            .unwrap();
        for import in [
            "(func (param i64) (result i64))",
            "(func (param i32))",
            "(func (param i32) (result i32 i32))",
            "(global i32)",
        ] {
            let err = rt
                .instantiate_bytes(&wat(&format!(r#"(module (import "env" "id" {import}))"#)))
                .unwrap_err();
            match &err {
                Error::Link(msg) => assert!(msg.contains("id"), "{msg}"),
                other => panic!("{import}: expected a link error, got {other:?}"),
            }
        }
        let err = rt
            .instantiate_bytes(&wat(r#"(module (import "env" "missing" (func)))"#))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Link(m) if m.contains("missing")),
            "{err:?}"
        );
    });
}

#[test]
fn host_module_is_shared_by_many_guests() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let total = Arc::new(AtomicU64::new(0));
        let t = total.clone();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(move |x: i64| {
                t.fetch_add(x as u64, Ordering::SeqCst);
            })
            .export("add")
            .instantiate()
            .unwrap();
        let compiled = rt
            .compile(&wat(
                r#"(module (import "env" "add" (func $add (param i64)))
                    (func (export "run") (param i64) local.get 0 call $add))"#,
            ))
            .unwrap();
        for i in 1..=4 {
            let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
            m.exported_function("run").unwrap().call(&[i]).unwrap();
        }
        assert_eq!(total.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn exporting_a_name_twice_keeps_the_last_function() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let host = rt
            .new_host_module_builder("env")
            .new_function_builder()
            .with_func(|| 1i32)
            .export("f")
            .new_function_builder()
            .with_func(|| 2i64)
            .export("f")
            .instantiate()
            .unwrap();
        let defs = host.exported_function_definitions();
        assert_eq!(defs.len(), 1);
        assert_eq!(defs["f"].result_types(), [ValueType::I64]);
        assert_eq!(host.exported_function("f").unwrap().call(&[]).unwrap(), [2]);
        let m = instantiate(
            &rt,
            r#"(module (import "env" "f" (func $f (result i64)))
                (func (export "run") (result i64) call $f))"#,
        );
        assert_eq!(m.exported_function("run").unwrap().call(&[]).unwrap(), [2]);
    });
}

/// A funcref is the address of an indirection slot that Wasm code calls through: a host
/// function may hand Wasm null or a funcref Kiln gave it (here one it received as a
/// parameter earlier), but a made-up one traps before Wasm can call it.
#[test]
fn host_funcref_results_must_come_from_kiln() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let kept = Arc::new(AtomicU64::new(0));
        let (keep, give) = (kept.clone(), kept.clone());
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_stack_func(&[ValueType::FuncRef], &[], move |_, stack| {
                keep.store(stack[0], Ordering::SeqCst);
                Ok(())
            })
            .export("keep")
            .new_function_builder()
            .with_stack_func(&[], &[ValueType::FuncRef], move |_, stack| {
                stack[0] = give.load(Ordering::SeqCst);
                Ok(())
            })
            .export("give")
            .new_function_builder()
            .with_func(|| kiln::FuncRef(0x1000))
            .export("forge")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
                (import "env" "keep" (func $keep (param funcref)))
                (import "env" "give" (func $give (result funcref)))
                (import "env" "forge" (func $forge (result funcref)))
                (table $t 1 funcref)
                (func $seven (result i32) i32.const 7)
                (elem declare func $seven)
                (func (export "keep") ref.func $seven call $keep)
                (func (export "call_given") (result i32)
                    (table.set $t (i32.const 0) (call $give))
                    (call_indirect (result i32) (i32.const 0)))
                (func (export "call_forged") (result i32)
                    (table.set $t (i32.const 0) (call $forge))
                    (call_indirect (result i32) (i32.const 0))))"#,
        );
        let call = |name: &str| m.exported_function(name).unwrap().call(&[]);
        // Null is fine (and traps in Wasm as an uninitialised element).
        assert_trap(
            &call("call_given").unwrap_err(),
            TrapCode::UninitializedElement,
        );
        call("keep").unwrap();
        assert_ne!(kept.load(Ordering::SeqCst), 0);
        assert_eq!(call("call_given").unwrap(), [7]);
        let err = call("call_forged").unwrap_err();
        let trap = assert_trap(&err, TrapCode::HostError);
        assert!(
            trap.to_string()
                .contains("not a funcref obtained from this runtime"),
            "{trap}"
        );
        // The instance is intact: the kept funcref still works.
        assert_eq!(call("call_given").unwrap(), [7]);
    });
}
