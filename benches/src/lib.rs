//! Shared helpers for Kiln benchmarks: the benchmark kernels (WAT sources under `wasm/`
//! plus a generator for the many-functions module), native Rust reference
//! implementations of every kernel's checksum, and a thin wrapper that runs a kernel on
//! Kiln's interpreter.
//!
//! Every kernel module imports nothing and exports `run: [i32] -> [i64]`: the parameter
//! is the work size, the result a checksum that must be identical on every engine.

use std::fmt::Write as _;

pub mod corpus;

/// WAT source of the recursive Fibonacci kernel.
pub const FIB_WAT: &str = include_str!("../wasm/fib.wat");
/// WAT source of the tight integer loop kernel.
pub const LOOP_WAT: &str = include_str!("../wasm/loop.wat");
/// WAT source of the sieve + quicksort (memory-heavy) kernel.
pub const SIEVE_WAT: &str = include_str!("../wasm/sieve.wat");
/// WAT source of the Mandelbrot (f64) kernel.
pub const FLOAT_WAT: &str = include_str!("../wasm/float.wat");
/// WAT source of the `br_table` bytecode-interpreter kernel.
pub const SWITCH_WAT: &str = include_str!("../wasm/switch.wat");

/// Number of functions of the generated many-functions module.
pub const MANY_FUNCTIONS: u32 = 5000;

/// Every `CHAIN`-th generated function ends a call chain; the others tail their body with
/// a direct call of the next function, so one `call_indirect` runs up to `CHAIN` functions.
const CHAIN: u32 = 8;

/// Which kernel a [`Kernel`] is (selects the reference implementation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// Recursive Fibonacci.
    Fib,
    /// Tight integer loop.
    Loop,
    /// Sieve of Eratosthenes plus quicksort over linear memory.
    Sieve,
    /// Mandelbrot set in f64.
    Float,
    /// `br_table` dispatch loop.
    Switch,
    /// Thousands of small functions reached through `call_indirect`.
    ManyFunctions,
}

/// One benchmark kernel: its binary and the work sizes the benchmarks use.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Short name, used in benchmark ids (`startup/<name>`, `execute/<name>`).
    pub name: &'static str,
    /// Which kernel this is.
    pub kind: KernelKind,
    /// The module's binary encoding.
    pub wasm: Vec<u8>,
    /// Tiny work size for the start-up benchmarks (first call after instantiation).
    pub startup_arg: i32,
    /// Work size of one steady-state call (a few milliseconds in an interpreter).
    pub execute_arg: i32,
}

impl Kernel {
    /// The checksum `run(arg)` must return, computed natively in Rust.
    pub fn reference(&self, arg: i32) -> i64 {
        let n = arg as u32;
        match self.kind {
            KernelKind::Fib => reference::fib(n),
            KernelKind::Loop => reference::int_loop(n),
            KernelKind::Sieve => reference::sieve(n),
            KernelKind::Float => reference::mandelbrot(n),
            KernelKind::Switch => reference::switch(n),
            KernelKind::ManyFunctions => reference::many_functions(MANY_FUNCTIONS, n),
        }
    }
}

fn wat_to_wasm(name: &str, wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap_or_else(|e| panic!("kernel {name}: invalid WAT: {e}"))
}

/// All kernels, converted to binary (done once, outside any timed code).
pub fn kernels() -> Vec<Kernel> {
    let k = |name, kind, wat: &str, startup_arg, execute_arg| Kernel {
        name,
        kind,
        wasm: wat_to_wasm(name, wat),
        startup_arg,
        execute_arg,
    };
    vec![
        k("fib", KernelKind::Fib, FIB_WAT, 5, 25),
        k("loop", KernelKind::Loop, LOOP_WAT, 16, 250_000),
        k("sieve", KernelKind::Sieve, SIEVE_WAT, 256, 1 << 17),
        k("float", KernelKind::Float, FLOAT_WAT, 4, 128),
        k("switch", KernelKind::Switch, SWITCH_WAT, 16, 250_000),
        k(
            "many-functions",
            KernelKind::ManyFunctions,
            &many_functions_wat(MANY_FUNCTIONS),
            8,
            20_000,
        ),
    ]
}

/// Per-function parameters of the generated many-functions module; shared by the WAT
/// generator and the reference implementation so the two cannot drift apart.
#[derive(Clone, Copy, Debug)]
struct GenFunc {
    /// 0: mul, 1: add, 2: xor, 3: rotl (with `c`).
    op_a: u32,
    /// 0: add, 1: sub, 2: xor (with `d`).
    op_b: u32,
    c: u32,
    d: u32,
    /// Shift amount 1..=31.
    s: u32,
    k: u32,
    /// Whether the body ends with `call $f{i+1}`.
    calls_next: bool,
}

fn gen_func(i: u32, count: u32) -> GenFunc {
    let h = i.wrapping_add(1).wrapping_mul(0x9E37_79B1);
    GenFunc {
        op_a: i % 4,
        op_b: (i / 4) % 3,
        c: h | 1,
        d: h.rotate_left(11) ^ 0x5bd1_e995,
        s: 1 + (h >> 27) % 31,
        k: (h >> 8) & 0xffff,
        calls_next: i % CHAIN != CHAIN - 1 && i + 1 < count,
    }
}

/// Generates the many-functions kernel: `count` small `(i32) -> i32` functions (a few
/// arithmetic ops, an `if`, and in most cases a direct call of the next function), all
/// placed in a table, and `run(n)`, which makes `n` `call_indirect`s spread over the table
/// and folds their results. Used mainly to measure start-up (validation, translation of
/// the functions actually called, table initialisation).
pub fn many_functions_wat(count: u32) -> String {
    assert!(count > 0);
    let mut w = String::with_capacity(count as usize * 200);
    w.push_str("(module\n  (type $t (func (param i32) (result i32)))\n");
    let _ = writeln!(w, "  (table {count} {count} funcref)");
    w.push_str("  (elem (i32.const 0) func");
    for i in 0..count {
        let _ = write!(w, " $f{i}");
    }
    w.push_str(")\n");
    for i in 0..count {
        let g = gen_func(i, count);
        let op_a = ["i32.mul", "i32.add", "i32.xor", "i32.rotl"][g.op_a as usize];
        let op_b = ["i32.add", "i32.sub", "i32.xor"][g.op_b as usize];
        let _ = writeln!(
            w,
            "  (func $f{i} (type $t) (local i32)\n    \
             local.get 0\n    i32.const {c}\n    {op_a}\n    local.tee 1\n    \
             i32.const {d}\n    {op_b}\n    local.get 1\n    i32.const {s}\n    i32.shr_u\n    \
             i32.xor\n    local.tee 1\n    i32.const 1\n    i32.and\n    \
             if (result i32)\n      local.get 1\n      i32.const {k}\n      i32.add\n    \
             else\n      local.get 1\n      i32.const {k}\n      i32.sub\n    end",
            c = g.c as i32,
            d = g.d as i32,
            s = g.s,
            k = g.k,
        );
        if g.calls_next {
            let _ = writeln!(w, "    call $f{}", i + 1);
        }
        w.push_str("  )\n");
    }
    let _ = writeln!(
        w,
        r#"  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $x i32) (local $acc i64)
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x
          (call_indirect (type $t)
            (i32.xor (local.get $x) (local.get $i))
            (i32.rem_u (i32.mul (local.get $i) (i32.const 7919)) (i32.const {count}))))
        (local.set $acc
          (i64.add (i64.mul (local.get $acc) (i64.const 31)) (i64.extend_i32_u (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $acc))
)"#
    );
    w
}

/// One chunk of generated straight-line-and-branchy code for the compile-time benchmarks:
/// i32/i64/f64 arithmetic on locals, a load and a store, an `if`/`else`, a `br_if` out of
/// a block, a `select` and a short counted loop (about 120 bytes of code). `i` varies the
/// constants so chunks are not identical. Uses locals `$a $c $i` (i32), `$b` (i64),
/// `$x` (f64) and memory 0 (one page).
fn code_chunk(w: &mut String, i: u32) {
    let h = i.wrapping_add(1).wrapping_mul(0x9E37_79B1);
    let _ = write!(
        w,
        "    (local.set $a (i32.add (i32.mul (local.get $a) (i32.const {c1}))
      (i32.load offset={o1} (i32.and (local.get $a) (i32.const 0xfff0)))))
    (local.set $b (i64.xor (i64.rotl (local.get $b) (i64.const {s})) (i64.extend_i32_u (local.get $a))))
    (if (i32.and (local.get $a) (i32.const {bit}))
      (then (local.set $x (f64.add (local.get $x) (f64.convert_i64_s (local.get $b)))))
      (else (local.set $x (f64.mul (local.get $x) (f64.const 0.5)))))
    (i32.store offset={o2} (i32.and (i32.wrap_i64 (local.get $b)) (i32.const 0xfff0)) (local.get $a))
    (block $k{i}
      (br_if $k{i} (i32.eqz (local.get $a)))
      (local.set $b (i64.sub (local.get $b) (i64.const {c2}))))
    (local.set $c (select (local.get $a) (i32.const {c3}) (i32.lt_u (local.get $c) (local.get $a))))
    (local.set $i (i32.const 0))
    (loop $l{i}
      (local.set $c (i32.xor (i32.shl (local.get $c) (i32.const 1)) (local.get $i)))
      (br_if $l{i} (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))))
",
        c1 = (h | 1) as i32,
        o1 = h % 8,
        s = 1 + (h >> 27) % 63,
        bit = 1u32 << (h % 31),
        o2 = (h >> 8) % 8,
        c2 = i64::from(h.rotate_left(7)),
        c3 = (h >> 3) as i32,
    );
}

/// A function `$name: [i32] -> [i64]` of `chunks` code chunks. The body runs only for a
/// non-zero argument, so calling it with 0 costs its translation (or compilation) and
/// almost nothing else.
fn generated_function(w: &mut String, name: &str, chunks: u32, salt: u32) {
    let _ = writeln!(
        w,
        "  (func ${name} (param $n i32) (result i64) (local $a i32) (local $c i32) (local $i i32)
    (local $b i64) (local $x f64)
    (if (local.get $n) (then
    (local.set $a (local.get $n))"
    );
    for i in 0..chunks {
        code_chunk(w, salt.wrapping_mul(7919).wrapping_add(i));
    }
    w.push_str(
        "    ))
    (i64.add (i64.add (local.get $b) (i64.reinterpret_f64 (local.get $x)))
      (i64.extend_i32_u (i32.xor (local.get $a) (local.get $c)))))\n",
    );
}

/// Code chunks of the 1x function of the compile-time benchmark (about 4 KiB of code).
pub const COMPILE_FUNCTION_CHUNKS: u32 = 32;

/// A module with one generated function of `chunks` code chunks, exported as `run: [i32]
/// -> [i64]` (`run(0)` returns at once; see `generated_function`).
pub fn one_function_wat(chunks: u32) -> String {
    let mut w = String::with_capacity(chunks as usize * 900 + 400);
    w.push_str("(module\n  (memory 1)\n");
    generated_function(&mut w, "f", chunks, 0);
    w.push_str("  (export \"run\" (func $f)))\n");
    w
}

/// A module of `functions` generated functions of `chunks` code chunks each, plus
/// `run: [i32] -> [i64]`, which calls every one of them with its argument (so `run(0)`
/// makes every function translated or compiled, whatever the engine does lazily, and
/// executes almost nothing else).
pub fn large_module_wat(functions: u32, chunks: u32) -> String {
    let mut w = String::with_capacity((functions * chunks) as usize * 900 + 400);
    w.push_str("(module\n  (memory 1)\n");
    for f in 0..functions {
        generated_function(&mut w, &format!("f{f}"), chunks, f + 1);
    }
    w.push_str("  (func (export \"run\") (param $n i32) (result i64) (local $acc i64)\n");
    for f in 0..functions {
        let _ = writeln!(
            w,
            "    (local.set $acc (i64.add (local.get $acc) (call $f{f} (local.get $n))))"
        );
    }
    w.push_str("    (local.get $acc)))\n");
    w
}

/// Functions and chunks per function of the large module of the compile-throughput
/// benchmark: a little over 1 MiB of code.
pub const LARGE_MODULE_SHAPE: (u32, u32) = (300, 30);

/// The size in bytes of the code section of a binary module (function bodies with their
/// local declarations): what "KiB of Wasm code" counts in the compile benchmarks.
///
/// # Panics
///
/// If `wasm` is not a well-formed module.
pub fn code_section_size(wasm: &[u8]) -> usize {
    fn uleb(bytes: &[u8], pos: &mut usize) -> usize {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = bytes[*pos];
            *pos += 1;
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    assert_eq!(&wasm[..4], b"\0asm", "not a Wasm module");
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = uleb(wasm, &mut pos);
        if id == 10 {
            return size;
        }
        pos += size;
    }
    0
}

/// Native Rust versions of the kernels, mirroring the WAT operation by operation.
pub mod reference {
    use super::{GenFunc, gen_func};

    /// `fib.wat`.
    pub fn fib(n: u32) -> i64 {
        if n < 2 {
            i64::from(n)
        } else {
            fib(n - 1).wrapping_add(fib(n - 2))
        }
    }

    /// `loop.wat`.
    pub fn int_loop(n: u32) -> i64 {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut acc: u64 = 0;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            acc = acc
                .wrapping_mul(31)
                .wrapping_add(x)
                .rotate_left(i & 63)
                .wrapping_add(u64::from(i));
        }
        (acc ^ x) as i64
    }

    /// `sieve.wat`.
    pub fn sieve(n: u32) -> i64 {
        let n = n.min(0x10_0000) as usize;
        let mut flags = vec![1u8; n];
        let mut i = 2usize;
        while i * i < n {
            if flags[i] != 0 {
                let mut j = i * i;
                while j < n {
                    flags[j] = 0;
                    j += i;
                }
            }
            i += 1;
        }
        let (mut count, mut sum) = (0u64, 0u64);
        for (i, &f) in flags.iter().enumerate().skip(2) {
            if f != 0 {
                count += 1;
                sum += i as u64;
            }
        }
        let k = n >> 3;
        let mut seed: u32 = 12345;
        let mut values: Vec<i32> = (0..k)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed ^ (seed >> 16)) as i32
            })
            .collect();
        values.sort_unstable();
        let acc = values.iter().fold(0u64, |acc, &v| {
            acc.wrapping_mul(31).wrapping_add(v as i64 as u64)
        });
        // A correct sort leaves no inversions, so that term is 0.
        ((count << 40).wrapping_add(sum)).wrapping_add(acc.wrapping_mul(3)) as i64
    }

    /// `float.wat`.
    pub fn mandelbrot(n: u32) -> i64 {
        let fn_ = f64::from(n);
        let mut total: u64 = 0;
        let mut mag = 0.0f64;
        for py in 0..n {
            let ci = 3.0 * f64::from(py) / fn_ - 1.5;
            for px in 0..n {
                let cr = 3.0 * f64::from(px) / fn_ - 2.0;
                let (mut zr, mut zi, mut zr2, mut zi2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
                let mut it = 0u32;
                while zr2 + zi2 <= 4.0 && it < 100 {
                    zi = 2.0 * zr * zi + ci;
                    zr = zr2 - zi2 + cr;
                    zr2 = zr * zr;
                    zi2 = zi * zi;
                    it += 1;
                }
                total += u64::from(it);
                mag += (zr2 + zi2).sqrt();
            }
        }
        (total.wrapping_mul(1_000_003) ^ mag.to_bits()) as i64
    }

    /// `switch.wat`.
    pub fn switch(n: u32) -> i64 {
        const PROGRAM: [u8; 32] = [
            0, 1, 2, 3, 4, 5, 6, 0, 2, 1, 5, 3, 4, 6, 7, 0, //
            1, 3, 2, 5, 4, 0, 6, 1, 7, 2, 3, 5, 0, 4, 6, 7,
        ];
        let (mut a, mut b): (u64, u64) = (1, 0x0123_4567_89AB_CDEF);
        let mut pc: u32 = 0;
        for _ in 0..n {
            match PROGRAM[pc as usize] {
                0 => a = a.wrapping_add(b),
                1 => b ^= a << 7,
                2 => a = a.rotate_left(9),
                3 => b = b.wrapping_add(0x9E37_79B9_7F4A_7C15),
                4 => a = a.wrapping_mul(0x5851_F42D_4C95_7F2D),
                5 if a & 1 != 0 => {
                    pc = (pc + 5) & 31;
                    continue;
                }
                5 => {}
                6 => {
                    b = b.wrapping_sub(a);
                    a ^= b >> 11;
                }
                _ => {
                    pc = (pc * 7 + 3) & 31;
                    continue;
                }
            }
            pc = (pc + 1) & 31;
        }
        (a ^ b.rotate_left(1) ^ (u64::from(pc) << 56)) as i64
    }

    fn gen_call(funcs: &[GenFunc], i: usize, x: u32) -> u32 {
        let g = funcs[i];
        let t = match g.op_a {
            0 => x.wrapping_mul(g.c),
            1 => x.wrapping_add(g.c),
            2 => x ^ g.c,
            _ => x.rotate_left(g.c & 31),
        };
        let r = match g.op_b {
            0 => t.wrapping_add(g.d),
            1 => t.wrapping_sub(g.d),
            _ => t ^ g.d,
        } ^ (t >> g.s);
        let r = if r & 1 != 0 {
            r.wrapping_add(g.k)
        } else {
            r.wrapping_sub(g.k)
        };
        if g.calls_next {
            gen_call(funcs, i + 1, r)
        } else {
            r
        }
    }

    /// The module of [`super::many_functions_wat`]`(count)`.
    pub fn many_functions(count: u32, n: u32) -> i64 {
        let funcs: Vec<GenFunc> = (0..count).map(|i| gen_func(i, count)).collect();
        let (mut x, mut acc) = (0u32, 0u64);
        for i in 0..n {
            let index = i.wrapping_mul(7919) % count;
            x = gen_call(&funcs, index as usize, x ^ i);
            acc = acc.wrapping_mul(31).wrapping_add(u64::from(x));
        }
        acc as i64
    }
}

/// Running kernels on Kiln's interpreter.
pub mod kiln {
    use kiln_runtime::{Engine, Extern, Func, Instance, Module};

    /// Compiles and instantiates `wasm` (no imports) and returns its `run` export.
    ///
    /// # Panics
    ///
    /// If the module does not compile or instantiate, or has no function export `run`.
    pub fn instantiate(engine: &Engine, wasm: &[u8]) -> Func {
        let module = Module::new(engine, wasm).expect("kiln: compile");
        let instance = Instance::new(&module, &[]).expect("kiln: instantiate");
        match instance.export("run") {
            Some(Extern::Func(f)) => f,
            _ => panic!("kiln: no function export `run`"),
        }
    }

    /// Calls `run: [i32] -> [i64]`.
    pub fn call(run: &Func, arg: i32) -> Result<i64, kiln_runtime::Trap> {
        let mut stack = [u64::from(arg as u32)];
        run.call(&mut stack)?;
        Ok(stack[0] as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kiln must agree with the native reference on every kernel (the benchmark asserts
    /// the same, plus agreement with wasmi, at the benchmark's work sizes).
    #[test]
    fn kiln_matches_reference() {
        let engine = kiln_runtime::Engine::default();
        for kernel in kernels() {
            let run = kiln::instantiate(&engine, &kernel.wasm);
            for arg in [0, 1, kernel.startup_arg, kernel.execute_arg / 16] {
                let got = kiln::call(&run, arg)
                    .unwrap_or_else(|e| panic!("{}: run({arg}) trapped: {e}", kernel.name));
                assert_eq!(got, kernel.reference(arg), "{}: run({arg})", kernel.name);
            }
        }
    }

    /// The compile-benchmark modules are valid, `run(0)` runs, sizes are as documented.
    #[test]
    fn generated_compile_modules() {
        let engine = kiln_runtime::Engine::default();
        let one = wat::parse_str(one_function_wat(COMPILE_FUNCTION_CHUNKS)).unwrap();
        let size = code_section_size(&one);
        assert!(
            (3 * 1024..6 * 1024).contains(&size),
            "1x function: {size} bytes"
        );
        let run = kiln::instantiate(&engine, &one);
        assert_eq!(kiln::call(&run, 0).unwrap(), 0);
        kiln::call(&run, 12345).unwrap();
        let x4 = wat::parse_str(one_function_wat(4 * COMPILE_FUNCTION_CHUNKS)).unwrap();
        let ratio = code_section_size(&x4) as f64 / size as f64;
        assert!((3.8..4.2).contains(&ratio), "4x function is {ratio}x");

        let (functions, chunks) = LARGE_MODULE_SHAPE;
        let large = wat::parse_str(large_module_wat(functions, chunks)).unwrap();
        let large_size = code_section_size(&large);
        eprintln!("1x function: {size} bytes of code; large module: {large_size} bytes");
        assert!(large_size >= 1 << 20, "large module under 1 MiB");
        let run = kiln::instantiate(&engine, &large);
        assert_eq!(kiln::call(&run, 0).unwrap(), 0);
        kiln::call(&run, 7).unwrap();
    }

    #[test]
    fn reference_spot_values() {
        assert_eq!(reference::fib(25), 75025);
        // 2, 3, 5, 7: four primes below 10, summing to 17; 10 / 8 = 1 value to sort.
        let n = 10;
        let k = kernels()
            .into_iter()
            .find(|k| k.kind == KernelKind::Sieve)
            .unwrap();
        let seed = 12345u32.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let v = i64::from((seed ^ (seed >> 16)) as i32);
        assert_eq!(k.reference(n), (4i64 << 40) + 17 + 3 * v);
    }
}
