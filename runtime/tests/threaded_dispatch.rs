//! Release builds dispatch by tail calls between instruction handlers (see
//! `interp/exec.rs`). Tail calls are an LLVM optimisation on stable Rust, so this test runs
//! hundreds of millions of instructions (loops, calls, `br_table`, memory, globals, an
//! indirect call) on a thread with a small native stack: if any handler on the path did
//! not tail-call its successor, the stack would overflow within a few thousand
//! instructions.
//!
//! In debug builds the trampoline backend runs instead and the test is ignored (too slow);
//! run it with `cargo test --release -p kiln-runtime --test threaded_dispatch`.

use kiln_runtime::{Engine, Extern, Instance, Module};

const WAT: &str = r#"
(module
  (memory 1)
  (global $g (mut i64) (i64.const 0))
  (table 1 funcref)
  (elem (i32.const 0) $inc)
  (type $t (func (param i64) (result i64)))
  (func $inc (type $t) (i64.add (local.get 0) (i64.const 1)))
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (loop $l
      (local.set $acc (call $inc (local.get $acc)))
      (i64.store (i32.and (local.get $i) (i32.const 1023)) (local.get $acc))
      (local.set $acc (i64.add (local.get $acc)
        (i64.load (i32.and (local.get $i) (i32.const 1023)))))
      (block $b2 (block $b1 (block $b0
        (br_table $b0 $b1 $b2 (i32.and (local.get $i) (i32.const 3))))
        (local.set $acc (i64.xor (local.get $acc) (i64.const 5))) (br $b2))
        (global.set $g (local.get $acc)))
      (if (i32.eqz (i32.and (local.get $i) (i32.const 255)))
        (then (local.set $acc (call_indirect (type $t) (local.get $acc) (i32.const 0)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (i64.add (local.get $acc) (global.get $g))))
"#;

#[test]
#[cfg_attr(debug_assertions, ignore = "release builds only (threaded backend)")]
fn threaded_dispatch_does_not_grow_the_native_stack() {
    let wasm = wat::parse_str(WAT).unwrap();
    let run = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let engine = Engine::default();
            let module = Module::new(&engine, &wasm).unwrap();
            let instance = Instance::new(&module, &[]).unwrap();
            let Some(Extern::Func(f)) = instance.export("run") else {
                panic!("no export")
            };
            // About 20 instructions per iteration: ~400 million instructions.
            let mut s = [20_000_000u64, 0];
            f.call(&mut s).unwrap();
            s[0]
        })
        .unwrap();
    let r = run.join().expect("the interpreter thread crashed");
    assert_ne!(r, 0);
}
