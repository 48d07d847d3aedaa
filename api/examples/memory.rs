//! Reading and writing a module's linear memory from the host, and growing it.
//!
//! Run with `cargo run -p kiln --example memory`.

use kiln::{Runtime, RuntimeConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::with_config(RuntimeConfig::new())?;
    let module = runtime.instantiate_bytes(&wat::parse_str(
        r#"(module
            (memory (export "memory") 1 4)
            ;; Sums `n` little-endian u32 values starting at `ptr`.
            (func (export "sum") (param $ptr i32) (param $n i32) (result i32) (local $acc i32)
                (block $done
                    (loop $next
                        (br_if $done (i32.eqz (local.get $n)))
                        (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $ptr))))
                        (local.set $ptr (i32.add (local.get $ptr) (i32.const 4)))
                        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                        (br $next)))
                local.get $acc)
            ;; Upper-cases ASCII letters in place.
            (func (export "upper") (param $ptr i32) (param $len i32)
                (local $end i32) (local $c i32)
                (local.set $end (i32.add (local.get $ptr) (local.get $len)))
                (block $done
                    (loop $next
                        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
                        (local.set $c (i32.load8_u (local.get $ptr)))
                        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                                     (i32.le_u (local.get $c) (i32.const 122)))
                            (then (i32.store8 (local.get $ptr)
                                (i32.sub (local.get $c) (i32.const 32)))))
                        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
                        (br $next)))))"#,
    )?)?;
    let memory = module
        .exported_memory("memory")
        .expect("memory is exported");
    assert_eq!(memory.size(), 65536);
    assert_eq!(memory.definition().max(), Some(4));

    // Typed writes, then let Wasm read them.
    for (i, v) in [10u32, 20, 30, 40].into_iter().enumerate() {
        assert!(memory.write_u32_le(1024 + 4 * i as u32, v));
    }
    let sum = module
        .exported_function("sum")
        .expect("sum is exported")
        .typed::<(u32, u32), u32>()?;
    assert_eq!(sum.call((1024, 4))?, 100);

    // Bytes in, Wasm changes them, bytes out.
    let text = "hello, kiln";
    assert!(memory.write_str(2048, text));
    module
        .exported_function("upper")
        .expect("upper is exported")
        .call(&[2048, text.len() as u64])?;
    let shouted = String::from_utf8(memory.read(2048, text.len() as u32).unwrap().to_vec())?;
    assert_eq!(shouted, "HELLO, KILN");

    // Accesses are bounds-checked: the last byte is fine, one past it is refused.
    assert!(memory.write_u8(65535, 1));
    assert!(!memory.write_u8(65536, 1));
    assert_eq!(memory.read_u64_le(65532), None);

    // Growing makes room; the declared maximum still holds.
    assert_eq!(memory.grow(1), Some(1));
    assert!(memory.write_f64_le(65536, std::f64::consts::PI));
    assert_eq!(memory.read_f64_le(65536), Some(std::f64::consts::PI));
    assert_eq!(memory.grow(3), None);

    println!(
        "memory: sum = {}, upper = {shouted:?}, size = {} pages",
        sum.call((1024, 4))?,
        memory.size() / 65536
    );
    Ok(())
}
