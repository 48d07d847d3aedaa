//! Translator and validator paths that the spec suite does not reach: large code sections
//! (validated in parallel while parsing), constants hoisted out of loops, fused
//! instructions and rotated loops, checked against straightforward expectations.

use kiln_runtime::{Engine, Error, Extern, Instance, Module};
use std::fmt::Write as _;

/// A module with `n` functions `f_i(x) = x * 3 + i` (plus `run`, which calls `f_k(x)`),
/// large enough for parallel validation; function `bad` (if any) is invalid.
fn many(n: u32, bad: Option<u32>, simd_at: Option<u32>) -> Vec<u8> {
    let mut w = String::from("(module (type $t (func (param i32) (result i32)))\n");
    let _ = writeln!(w, "(table {n} funcref) (elem (i32.const 0) func");
    for i in 0..n {
        let _ = write!(w, " $f{i}");
    }
    w.push_str(")\n");
    for i in 0..n {
        let body = if Some(i) == bad {
            "local.get 0 i64.const 1 i32.add".to_string()
        } else if Some(i) == simd_at {
            "local.get 0 i32x4.splat i32x4.extract_lane 1".to_string()
        } else {
            format!(
                "local.get 0 i32.const 3 i32.mul i32.const {i} i32.add \
                 local.get 0 i32.const 7 i32.xor drop local.get 0 drop local.get 0 drop"
            )
        };
        let _ = writeln!(w, "(func $f{i} (type $t) {body})");
    }
    w.push_str(
        "(func (export \"run\") (param i32 i32) (result i32) \
         local.get 0 local.get 1 call_indirect (type $t)))",
    );
    wat::parse_str(&w).expect("wat")
}

fn run2(module: &Module, a: i32, b: i32) -> i32 {
    let inst = Instance::new(module, &[]).expect("instance");
    let Some(Extern::Func(f)) = inst.export("run") else {
        panic!("no run")
    };
    let mut s = [a as u32 as u64, b as u32 as u64];
    f.call(&mut s).expect("call");
    s[0] as i32
}

#[test]
fn large_modules_validate_in_parallel() {
    let engine = Engine::default();
    let n = 12_000;
    let bytes = many(n, None, None);
    assert!(
        bytes.len() > 256 * 1024,
        "large enough for parallel validation"
    );
    let module = Module::new(&engine, &bytes).expect("valid");
    assert!(!module.uses_simd());
    assert_eq!(run2(&module, 5, 7777), 5 * 3 + 7777);

    for bad in [0, 5_000, n - 1] {
        match Module::new(&engine, &many(n, Some(bad), None)) {
            Err(Error::Compile(msg)) => assert!(msg.contains("type mismatch"), "{msg}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("invalid function {bad} accepted"),
        }
    }
    let simd = Module::new(&engine, &many(n, None, Some(9_000))).expect("valid");
    assert!(simd.uses_simd());
}

fn run1(wat: &str, arg: i64) -> i64 {
    let engine = Engine::default();
    let module = Module::new(&engine, &wat::parse_str(wat).expect("wat")).expect("module");
    let inst = Instance::new(&module, &[]).expect("instance");
    let Some(Extern::Func(f)) = inst.export("run") else {
        panic!("no run")
    };
    let mut s = [arg as u64, 0];
    f.call(&mut s).expect("call");
    s[0] as i64
}

#[test]
fn hoisted_constants_survive_calls_and_results() {
    // Constants in a loop live in slots after the locals; a call from the loop must not
    // clobber them, and results (slots 0..) must not move.
    let wat = r#"(module
      (func $id (param i64) (result i64) local.get 0)
      (func (export "run") (param i64) (result i64) (local $i i64) (local $acc i64)
        (loop $l
          (local.set $acc (i64.add (local.get $acc)
            (call $id (i64.const 0x123456789))))
          (local.set $acc (i64.xor (local.get $acc) (i64.const 0x55555555555)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if $l (i64.lt_u (local.get $i) (local.get 0))))
        (local.get $acc)))"#;
    let mut acc = 0i64;
    for _ in 0..10 {
        acc = acc.wrapping_add(0x123456789) ^ 0x55555555555;
    }
    assert_eq!(run1(wat, 10), acc);
}

#[test]
fn fused_float_and_integer_arithmetic() {
    let wat = r#"(module
      (func (export "run") (param i64) (result i64)
        (local $x f64) (local $y f64) (local $i i64) (local $h i64)
        (local.set $x (f64.const 1.5))
        (local.set $y (f64.const 0.25))
        (local.set $h (local.get 0))
        (loop $l
          (local.set $x (f64.add (f64.mul (local.get $x) (local.get $y)) (f64.const 1.0)))
          (local.set $y (f64.sub (f64.const 2.0) (f64.sub (local.get $x) (local.get $y))))
          (local.set $x (f64.mul (local.get $y) (f64.add (local.get $x) (f64.const 0.5))))
          (local.set $x (f64.mul (local.get $x) (f64.const 0.25)))
          (local.set $h (i64.xor (local.get $h) (i64.shl (local.get $h) (i64.const 13))))
          (local.set $h (i64.add (i64.mul (local.get $h) (i64.const 31)) (local.get $i)))
          (local.set $h (i64.or (i64.and (local.get $h) (i64.const 0xff)) (local.get $h)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if $l (f64.lt (f64.convert_i64_u (local.get $i)) (f64.const 20))))
        (i64.xor (local.get $h) (i64.reinterpret_f64 (local.get $x)))))"#;
    let (mut x, mut y, mut h) = (1.5f64, 0.25f64, 99u64);
    let mut i = 0u64;
    loop {
        x = x * y + 1.0;
        y = 2.0 - (x - y);
        x = y * (x + 0.5);
        x *= 0.25;
        h ^= h << 13;
        h = h.wrapping_mul(31).wrapping_add(i);
        h = (h & 0xff) | h;
        i += 1;
        if (i as f64) >= 20.0 {
            break;
        }
    }
    assert!(x.is_finite());
    assert_eq!(run1(wat, 99), (h ^ x.to_bits()) as i64);
}

#[test]
fn rotated_loops_exit_and_continue() {
    // `loop (br_if $exit test) body (br $loop)` with several back-edges.
    let wat = r#"(module
      (func (export "run") (param i64) (result i64) (local $i i64) (local $s i64)
        (block $done
          (loop $l
            (br_if $done (i64.ge_u (local.get $i) (local.get 0)))
            (local.set $i (i64.add (local.get $i) (i64.const 1)))
            (if (i64.eqz (i64.and (local.get $i) (i64.const 1)))
              (then (local.set $s (i64.add (local.get $s) (local.get $i))) (br $l)))
            (local.set $s (i64.sub (local.get $s) (i64.const 1)))
            (br $l)))
        (local.get $s)))"#;
    for n in [0i64, 1, 2, 7, 100] {
        let mut s = 0i64;
        for i in 1..=n {
            if i % 2 == 0 { s += i } else { s -= 1 }
        }
        assert_eq!(run1(wat, n), s, "n = {n}");
    }
}
