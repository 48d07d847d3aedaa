//! SIMD in the interpreter beyond the spec suite's single instructions: v128 values through
//! loops whose constants are hoisted (their slots move after translation), instructions
//! with a trailing `Imm`/`Ext`, calls, `call_indirect`, multi-value results, block
//! parameters, `br_table`, `select` and globals. The same computation runs once inline in
//! a loop and once as a function called per iteration (no hoisting, different slots); the
//! two must agree. In release builds it runs long enough to prove that the SIMD handlers
//! tail-call their successors (see `threaded_dispatch.rs`).

use kiln_runtime::{Engine, Extern, Instance, Module};

const WAT: &str = r#"
(module
  (memory 1)
  (type $step_t (func (param v128 v128 i32) (result v128 v128)))
  (table 1 funcref)
  (elem (i32.const 0) $step)
  (global $g (mut v128) (v128.const i64x2 0 0))

  ;; One iteration, with every constant materialised in place (no loop here).
  (func $step (type $step_t) (param $v v128) (param $w v128) (param $i i32)
      (result v128 v128)
    (local.set $v (i32x4.add (local.get $v) (i32x4.splat (i32.const 3))))
    (local.set $v (i32x4.shl (local.get $v) (i32.const 33)))
    (local.set $w (v128.bitselect (local.get $v) (local.get $w)
      (v128.const i64x2 -1 0x00ff00ff00ff00ff)))
    (v128.store offset=16 (i32.const 32) (local.get $w))
    (local.set $w (v128.load32_lane 1 (i32.const 40) (local.get $w)))
    (v128.store16_lane offset=2 3 (i32.const 8) (local.get $v))
    (local.set $w (i16x8.add (local.get $w) (v128.load16_splat (i32.const 10))))
    (local.set $v (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (local.get $v) (local.get $w)))
    (local.set $v (i16x8.replace_lane 2 (local.get $v) (local.get $i)))
    (local.set $w (f32x4.replace_lane 3 (local.get $w) (f32.const 1.5)))
    (i32x4.mul (local.get $w) (v128.const i32x4 3 5 7 9))
    (block $b (param v128) (result v128)
      (br_table $b $b (i32.and (local.get $i) (i32.const 1))))
    (local.set $w)
    (local.set $v (select (result v128) (local.get $v) (i8x16.popcnt (local.get $v))
      (i32.and (local.get $i) (i32.const 2))))
    (global.set $g (v128.xor (global.get $g) (local.get $v)))
    (local.get $v) (local.get $w))

  (func (export "looped") (param $n i32) (result i64)
    (local $i i32) (local $v v128) (local $w v128)
    (local.set $v (v128.const i32x4 1 2 3 4))
    (global.set $g (v128.const i64x2 0 0))
    (loop $l
      (local.set $v (i32x4.add (local.get $v) (i32x4.splat (i32.const 3))))
      (local.set $v (i32x4.shl (local.get $v) (i32.const 33)))
      (local.set $w (v128.bitselect (local.get $v) (local.get $w)
        (v128.const i64x2 -1 0x00ff00ff00ff00ff)))
      (v128.store offset=16 (i32.const 32) (local.get $w))
      (local.set $w (v128.load32_lane 1 (i32.const 40) (local.get $w)))
      (v128.store16_lane offset=2 3 (i32.const 8) (local.get $v))
      (local.set $w (i16x8.add (local.get $w) (v128.load16_splat (i32.const 10))))
      (local.set $v (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
        (local.get $v) (local.get $w)))
      (local.set $v (i16x8.replace_lane 2 (local.get $v) (local.get $i)))
      (local.set $w (f32x4.replace_lane 3 (local.get $w) (f32.const 1.5)))
      (i32x4.mul (local.get $w) (v128.const i32x4 3 5 7 9))
      (block $b (param v128) (result v128)
        (br_table $b $b (i32.and (local.get $i) (i32.const 1))))
      (local.set $w)
      (local.set $v (select (result v128) (local.get $v) (i8x16.popcnt (local.get $v))
        (i32.and (local.get $i) (i32.const 2))))
      (global.set $g (v128.xor (global.get $g) (local.get $v)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (call $digest (local.get $v) (local.get $w)))

  (func (export "called") (param $n i32) (result i64)
    (local $i i32) (local $v v128) (local $w v128)
    (local.set $v (v128.const i32x4 1 2 3 4))
    (global.set $g (v128.const i64x2 0 0))
    (loop $l
      (if (i32.and (local.get $i) (i32.const 4))
        (then (call $step (local.get $v) (local.get $w) (local.get $i))
              (local.set $w) (local.set $v))
        (else (call_indirect (type $step_t) (local.get $v) (local.get $w) (local.get $i)
                (i32.const 0))
              (local.set $w) (local.set $v)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (call $digest (local.get $v) (local.get $w)))

  (func $digest (param $v v128) (param $w v128) (result i64)
    (i64.add
      (i64.xor (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $w)))
      (i64.add (i64x2.extract_lane 1 (local.get $v))
        (i64.xor (i64x2.extract_lane 0 (local.get $w))
          (i64x2.extract_lane 1 (global.get $g))))))
)
"#;

fn run(name: &str, n: u32) -> u64 {
    let engine = Engine::default();
    let module = Module::new(&engine, &wat::parse_str(WAT).expect("wat")).expect("module");
    let instance = Instance::new(&module, &[]).expect("instance");
    let Some(Extern::Func(f)) = instance.export(name) else {
        panic!("no export {name}")
    };
    let mut s = [n as u64, 0];
    f.call(&mut s).expect("call");
    s[0]
}

#[test]
fn hoisted_and_called_simd_agree() {
    for n in [1, 2, 3, 5, 8, 13, 100] {
        let (a, b) = (run("looped", n), run("called", n));
        assert_eq!(a, b, "n = {n}");
        assert_ne!(a, 0, "n = {n}");
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release builds only (threaded backend)")]
fn simd_handlers_do_not_grow_the_native_stack() {
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| (run("looped", 2_000_000), run("called", 2_000_000)))
        .unwrap()
        .join()
        .expect("the interpreter thread crashed");
    assert_eq!(r.0, r.1);
}
