//! Wasm shapes that the interpreter's translator rewrites: results redirected into locals
//! that the operand stack still reads (copy elimination), `local.tee` chains, block and
//! `br_if` values, an `i32.add` of a constant folded into a load or store address (which
//! must wrap at 32 bits), rotates by constants and the fused xor-and-rotate, and `select`
//! into a local. Every engine must compute what the same arithmetic computes in Rust.

mod common;

use common::*;

const FORMS: &str = r#"(module
    (memory 1)
    ;; old x (a pending read), then x = x + 5: returns old * 3 - new.
    (func (export "set_pending") (param $x i32) (result i32)
        local.get $x
        local.get $x i32.const 5 i32.add local.set $x
        i32.const 3 i32.mul
        local.get $x i32.sub)
    ;; Two pending reads of x at different depths, x overwritten by a fused
    ;; xor-and-rotate (an instruction followed by its immediate), then by a `local.tee`.
    (func (export "set_pending_fused") (param $x i32) (param $y i32) (result i32)
        local.get $x
        local.get $y
        local.get $x
        local.get $x local.get $y i32.xor i32.const 7 i32.rotl local.set $x
        i32.add
        local.get $x i32.const 1 i32.add local.tee $x
        i32.xor
        i32.xor
        local.get $x i32.const 16 i32.shl
        i32.add)
    ;; A `local.tee` chain while both locals are pending: a, b (old), then
    ;; b = a = x * y, then old a - old b + a * 7 + b.
    (func (export "tee_chain") (param $x i32) (param $y i32) (result i32)
        (local $a i32) (local $b i32)
        local.get $x local.set $a
        local.get $y local.set $b
        local.get $a
        local.get $b
        local.get $x local.get $y i32.mul local.tee $a local.tee $b drop
        i32.sub
        local.get $a i32.const 7 i32.mul i32.add
        local.get $b i32.add)
    ;; Block results: a block value set into a local that is pending below it.
    (func (export "block_result") (param $x i32) (param $c i32) (result i32)
        local.get $x
        (block (result i32)
            (if (result i32) (local.get $c)
                (then local.get $x i32.const 10 i32.mul)
                (else local.get $x i32.const 3 i32.sub)))
        local.set $x
        i32.const 100 i32.mul
        local.get $x i32.add)
    ;; `br_if` carrying a local that is overwritten before the branch: the branch value
    ;; is the old x; the fall-through value the new one.
    (func (export "br_if_value") (param $x i32) (param $c i32) (result i32)
        (block (result i32)
            local.get $x
            local.get $x i32.const 1000 i32.add local.set $x
            local.get $c br_if 0
            drop
            local.get $x)
        local.get $x i32.const 2 i32.mul i32.add)
    ;; p[-1] = v; returns p[-1] + p[-2] (both through `i32.add` of a negative constant,
    ;; whose 32-bit sum wraps back into memory).
    (func (export "store_load_below") (param $p i32) (param $v i32) (result i32)
        local.get $p i32.const -4 i32.add local.get $v i32.store
        local.get $p i32.const -4 i32.add i32.load
        local.get $p i32.const -8 i32.add i32.load
        i32.add)
    (func (export "load8_wrapping") (param $p i32) (result i32)
        local.get $p i32.const -1 i32.add i32.load8_u)
    (func (export "store64_wrapping") (param $p i32) (param $v i64) (result i64)
        local.get $p i32.const -8 i32.add local.get $v i64.store
        local.get $p i32.const -8 i32.add i64.load32_s
        local.get $p i32.const -8 i32.add i64.load16_s i64.add)
    ;; Rotates by constants, in a loop (where constants are hoisted) and outside it.
    (func (export "rotates32") (param $x i32) (param $n i32) (result i32)
        (local $acc i32)
        local.get $x i32.const 37 i32.rotl local.get $x i32.const -3 i32.rotr i32.xor
        local.set $acc
        (block (loop
            local.get $n i32.eqz br_if 1
            local.get $acc local.get $x i32.xor i32.const 13 i32.rotl
            local.get $acc i32.const 5 i32.rotr i32.add
            local.set $acc
            local.get $x i32.const 1 i32.add local.set $x
            local.get $n i32.const 1 i32.sub local.set $n
            br 0))
        local.get $acc)
    (func (export "rotates64") (param $x i64) (param $n i32) (result i64)
        (local $acc i64)
        local.get $x i64.const 100 i64.rotl local.get $x i64.const -7 i64.rotr i64.xor
        local.set $acc
        (block (loop
            local.get $n i32.eqz br_if 1
            local.get $acc local.get $x i64.xor i64.const 23 i64.rotl
            local.get $acc i64.const 64 i64.rotr i64.add
            local.set $acc
            local.get $x i64.const 3 i64.add local.set $x
            local.get $n i32.const 1 i32.sub local.set $n
            br 0))
        local.get $acc)
    ;; select of two locals into one of them, while that local is pending.
    (func (export "select_into") (param $a i32) (param $b i32) (param $c i32) (result i32)
        local.get $a
        local.get $a local.get $b local.get $c select local.set $a
        i32.const 1000 i32.mul
        local.get $a i32.add)
    ;; The `__stack_pointer` pattern clang emits: a frame below the global's value.
    (global $sp (export "sp") (mut i32) (i32.const 4096))
    (global $wide (export "wide") (mut i64) (i64.const -1))
    (func (export "push_frame") (param $n i32) (param $v i32) (result i32)
        (local $fp i32)
        global.get $sp local.get $n i32.sub local.tee $fp global.set $sp
        local.get $fp local.get $v i32.store
        local.get $fp i64.extend_i32_u global.get $wide i64.add global.set $wide
        global.get $sp i32.load)
    (func (export "select_i64") (param $a i64) (param $b i64) (param $c i32) (result i64)
        (local $r i64)
        local.get $b local.get $a local.get $c select local.set $r
        local.get $r local.get $a i64.sub))"#;

/// The pairs of `i32` arguments every two-argument function is called with.
const ARGS: [(i32, i32); 6] = [
    (0, 0),
    (1, 2),
    (-7, 3),
    (i32::MAX, -1),
    (i32::MIN, 12345),
    (0x1234_5678, 0x0F0F_0F0F),
];

#[test]
fn copy_elimination_keeps_pending_reads() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let f = |name| m.exported_function(name).unwrap();
        let set_pending = f("set_pending").typed::<i32, i32>().unwrap();
        let fused = f("set_pending_fused").typed::<(i32, i32), i32>().unwrap();
        let tee_chain = f("tee_chain").typed::<(i32, i32), i32>().unwrap();
        for (x, y) in ARGS {
            let new = x.wrapping_add(5);
            assert_eq!(
                set_pending.call(x).unwrap(),
                x.wrapping_mul(3).wrapping_sub(new),
                "{engine:?} set_pending({x})"
            );
            let x1 = (x ^ y).rotate_left(7);
            let x2 = x1.wrapping_add(1);
            let expected = (x ^ (y.wrapping_add(x) ^ x2)).wrapping_add(x2 << 16);
            assert_eq!(
                fused.call((x, y)).unwrap(),
                expected,
                "{engine:?} set_pending_fused({x}, {y})"
            );
            let p = x.wrapping_mul(y);
            let expected = x
                .wrapping_sub(y)
                .wrapping_add(p.wrapping_mul(7))
                .wrapping_add(p);
            assert_eq!(
                tee_chain.call((x, y)).unwrap(),
                expected,
                "{engine:?} tee_chain({x}, {y})"
            );
        }
    });
}

#[test]
fn block_and_branch_values_keep_old_locals() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let f = |name| m.exported_function(name).unwrap();
        let block_result = f("block_result").typed::<(i32, i32), i32>().unwrap();
        let br_if_value = f("br_if_value").typed::<(i32, i32), i32>().unwrap();
        for (x, _) in ARGS {
            for c in [0, 1, -1] {
                let new = if c != 0 {
                    x.wrapping_mul(10)
                } else {
                    x.wrapping_sub(3)
                };
                assert_eq!(
                    block_result.call((x, c)).unwrap(),
                    x.wrapping_mul(100).wrapping_add(new),
                    "{engine:?} block_result({x}, {c})"
                );
                let new = x.wrapping_add(1000);
                let carried = if c != 0 { x } else { new };
                assert_eq!(
                    br_if_value.call((x, c)).unwrap(),
                    carried.wrapping_add(new.wrapping_mul(2)),
                    "{engine:?} br_if_value({x}, {c})"
                );
            }
        }
    });
}

#[test]
fn added_constant_addresses_wrap_at_32_bits() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let f = |name| m.exported_function(name).unwrap();
        let store_load = f("store_load_below").typed::<(u32, i32), i32>().unwrap();
        let load8 = f("load8_wrapping").typed::<u32, u32>().unwrap();
        let store64 = f("store64_wrapping").typed::<(u32, i64), i64>().unwrap();
        // Memory starts zeroed: p[-2] holds what the previous call stored at p[-1] when
        // the calls step p by 4.
        let mut previous = 0i32;
        for (k, v) in [7i32, -9, 0x7fff_0001].into_iter().enumerate() {
            let p = 100 + 4 * k as u32;
            assert_eq!(
                store_load.call((p, v)).unwrap(),
                v.wrapping_add(previous),
                "{engine:?} store_load_below({p}, {v})"
            );
            previous = v;
        }
        // Byte 107 is the top byte of the last value stored (at 104..108).
        assert_eq!(load8.call(108).unwrap(), 0x7f, "{engine:?} load8(108)");
        let v = -0x1234_5678_9abc_def0_i64;
        let expected = (v as i32) as i64 + (v as i16) as i64;
        assert_eq!(store64.call((208, v)).unwrap(), expected, "{engine:?}");
        // Addresses below 0 wrap to the top of the 32-bit space: out of bounds.
        let err = load8.call(0).unwrap_err();
        assert_trap(&err, kiln::TrapCode::MemoryOutOfBounds);
        let err = store_load.call((2, 1)).unwrap_err();
        assert_trap(&err, kiln::TrapCode::MemoryOutOfBounds);
        let err = store64.call((7, 1)).unwrap_err();
        assert_trap(&err, kiln::TrapCode::MemoryOutOfBounds);
    });
}

#[test]
fn rotates_by_constants() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let f = |name| m.exported_function(name).unwrap();
        let rot32 = f("rotates32").typed::<(u32, i32), u32>().unwrap();
        let rot64 = f("rotates64").typed::<(u64, i32), u64>().unwrap();
        for (x, _) in ARGS {
            let x = x as u32;
            for n in [0, 1, 9] {
                let mut acc = x.rotate_left(37 % 32) ^ x.rotate_right((-3i32 as u32) % 32);
                let mut xi = x;
                for _ in 0..n {
                    acc = (acc ^ xi).rotate_left(13).wrapping_add(acc.rotate_right(5));
                    xi = xi.wrapping_add(1);
                }
                assert_eq!(
                    rot32.call((x, n)).unwrap(),
                    acc,
                    "{engine:?} rot32({x}, {n})"
                );
                let x64 = (x as u64) << 29 | 0x8000_0000_0000_0001;
                let mut acc =
                    x64.rotate_left(100 % 64) ^ x64.rotate_right((-7i64 as u64 % 64) as u32);
                let mut xi = x64;
                for _ in 0..n {
                    acc = (acc ^ xi).rotate_left(23).wrapping_add(acc.rotate_right(0));
                    xi = xi.wrapping_add(3);
                }
                assert_eq!(
                    rot64.call((x64, n)).unwrap(),
                    acc,
                    "{engine:?} rot64({x64}, {n})"
                );
            }
        }
    });
}

#[test]
fn select_into_a_pending_local() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let f = |name| m.exported_function(name).unwrap();
        let select_into = f("select_into").typed::<(i32, i32, i32), i32>().unwrap();
        let select_i64 = f("select_i64").typed::<(i64, i64, i32), i64>().unwrap();
        for (a, b) in ARGS {
            for c in [0, 2, -1] {
                let chosen = if c != 0 { a } else { b };
                assert_eq!(
                    select_into.call((a, b, c)).unwrap(),
                    a.wrapping_mul(1000).wrapping_add(chosen),
                    "{engine:?} select_into({a}, {b}, {c})"
                );
                let (a, b) = ((a as i64) << 20, (b as i64) * 3);
                let chosen = if c != 0 { b } else { a };
                assert_eq!(
                    select_i64.call((a, b, c)).unwrap(),
                    chosen.wrapping_sub(a),
                    "{engine:?} select_i64({a}, {b}, {c})"
                );
            }
        }
    });
}

#[test]
fn numeric_global_set() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FORMS);
        let push = m
            .exported_function("push_frame")
            .unwrap()
            .typed::<(i32, i32), i32>()
            .unwrap();
        let sp = m.exported_global("sp").unwrap();
        let wide = m.exported_global("wide").unwrap();
        let (mut expected_sp, mut expected_wide) = (4096u64, u64::MAX);
        for (n, v) in [(16, 7), (32, -3), (8, i32::MIN)] {
            assert_eq!(
                push.call((n, v)).unwrap(),
                v,
                "{engine:?} push_frame({n}, {v})"
            );
            expected_sp -= n as u64;
            expected_wide = expected_wide.wrapping_add(expected_sp);
            assert_eq!(sp.get(), expected_sp, "{engine:?} sp");
            assert_eq!(wide.get(), expected_wide, "{engine:?} wide");
        }
    });
}
