//! Closing a module releases its memory even while the host holds its funcrefs and
//! `Function` handles; those then fail cleanly.

mod common;

use common::*;
use kiln::{Function, Module};

/// A module with a 1 MiB memory that hands out a funcref of its own function.
const OWNER: &str = r#"(module
    (memory 16)
    (func $seven (result i32) i32.const 7)
    (elem declare func $seven)
    (func (export "get") (result funcref) ref.func $seven)
    (func (export "seven") (result i32) i32.const 7))"#;

/// Calls a funcref given by the host through its own table (which then keeps the
/// funcref's instance alive until this module goes).
const CALLER: &str = r#"(module
    (type $t (func (result i32)))
    (table 1 funcref)
    (func (export "call") (param funcref) (result i32)
        (table.set (i32.const 0) (local.get 0))
        (call_indirect (type $t) (i32.const 0))))"#;

const INSTANCES: usize = 10;
const MEMORY_BYTES: u64 = 16 * 65536;

/// Instantiates [`OWNER`] `INSTANCES` times; returns each module, its `seven` handle and
/// the funcref it handed out, after checking the funcref works when passed to a
/// [`CALLER`] (closed again, so that its table keeps nothing alive).
fn owners(rt: &kiln::Runtime) -> Vec<(Module, Function, u64)> {
    (0..INSTANCES)
        .map(|_| {
            let m = instantiate(rt, OWNER);
            let funcref = m.exported_function("get").unwrap().call(&[]).unwrap()[0];
            assert_ne!(funcref, 0);
            let caller = instantiate(rt, CALLER);
            let call = caller.exported_function("call").unwrap();
            assert_eq!(call.call(&[funcref]).unwrap(), [7]);
            caller.close().unwrap();
            let seven = m.exported_function("seven").unwrap();
            (m, seven, funcref)
        })
        .collect()
}

#[test]
fn closing_releases_memory_held_through_funcrefs_and_function_handles() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let baseline = rt.committed_bytes();
        let owners = owners(&rt);
        let held = rt.committed_bytes();
        assert!(
            held.memories >= baseline.memories + INSTANCES as u64 * MEMORY_BYTES,
            "{held:?} vs {baseline:?}"
        );
        for (m, _, _) in &owners {
            m.close_with_exit_code(3).unwrap();
        }
        // Everything the closed instances committed is back, though the host still holds
        // the modules, their `Function` handles and their funcrefs.
        assert_eq!(rt.committed_bytes(), baseline);
        let caller = instantiate(&rt, CALLER);
        let call = caller.exported_function("call").unwrap();
        for (m, seven, funcref) in &owners {
            assert_exit(&seven.call(&[]).unwrap_err(), 3);
            assert_exit(
                &m.exported_function("seven").unwrap().call(&[]).unwrap_err(),
                3,
            );
            assert_usage(&call.call(&[*funcref]).unwrap_err());
            assert!(m.memory().is_none());
        }
        // The refused calls left the live module usable: a null funcref traps as usual.
        assert_trap(
            &call.call(&[0]).unwrap_err(),
            kiln::TrapCode::UninitializedElement,
        );
        assert!(!caller.is_closed());
    });
}

#[test]
fn dropping_the_handles_of_an_open_module_releases_it() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let baseline = rt.committed_bytes();
        let handles: Vec<Function> = (0..INSTANCES)
            .map(|_| instantiate(&rt, OWNER).exported_function("seven").unwrap())
            .collect();
        for seven in &handles {
            assert_eq!(seven.call(&[]).unwrap(), [7]);
        }
        assert!(
            rt.committed_bytes().memories >= baseline.memories + INSTANCES as u64 * MEMORY_BYTES
        );
        drop(handles);
        assert_eq!(rt.committed_bytes(), baseline);
    });
}
