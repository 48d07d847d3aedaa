//! Differential test: random WebAssembly 2.0 modules (wasm-smith, SIMD included, no imports)
//! run in the interpreter and as native code (both bounds-check strategies); every export
//! must give the same results or the same trap, and leave the same memory and globals.
//!
//! `KILN_DIFF_SEEDS=n` runs `n` modules instead of the default; `KILN_DIFF_FIRST=s` starts
//! at seed `s`.

use arbitrary::Unstructured;
use kiln_runtime::{
    Config, Engine, EngineKind, Extern, Instance, Module, TrapCode, ValType, vm::native,
};
use kiln_tiering::CraneliftBackend;
use kiln_tiering::translate::{BoundsChecks, TranslateOptions};
use std::sync::Arc;

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: true,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        tail_call_enabled: false,
        compact_imports_enabled: false,
        max_memories: 1,
        max_tables: 3,
        max_imports: 0,
        min_types: 3,
        min_funcs: 5,
        max_funcs: 30,
        max_instructions: 200,
        max_memory32_bytes: 4 << 16,
        max_table_elements: 100,
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: false,
        ..wasm_smith::Config::default()
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Arguments that hit interesting cases: small values, boundaries, random bits.
    fn arg(&mut self, ty: ValType) -> u64 {
        let pick = self.next() % 8;
        match ty {
            ValType::I32 => match pick {
                0 => 0,
                1 => 1,
                2 => u32::MAX as u64,
                3 => 0x8000_0000,
                4 => self.next() % 70_000,
                _ => self.next() as u32 as u64,
            },
            ValType::I64 => match pick {
                0 => 0,
                1 => 1,
                2 => u64::MAX,
                3 => 1 << 63,
                _ => self.next(),
            },
            ValType::F32 => match pick {
                0 => 0,
                1 => (-1.5f32).to_bits() as u64,
                2 => f32::NAN.to_bits() as u64,
                3 => 4.0e9f32.to_bits() as u64,
                _ => ((self.next() % 20_000) as f32 - 10_000.0).to_bits() as u64,
            },
            ValType::F64 => match pick {
                0 => 0,
                1 => (-0.0f64).to_bits(),
                2 => f64::NAN.to_bits(),
                3 => 1.0e19f64.to_bits(),
                _ => ((self.next() % 20_000) as f64 / 3.0 - 3000.0).to_bits(),
            },
            _ => 0,
        }
    }
}

/// What a call did, normalised for comparison across engines.
#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<u64>),
    Trap(TrapCode),
}

fn normalise(ty: ValType, v: u64) -> u64 {
    match ty {
        ValType::I32 | ValType::F32 => v & 0xffff_ffff,
        // References are addresses that differ between instances: compare null-ness.
        ValType::FuncRef | ValType::ExternRef => (v != 0) as u64,
        _ => v,
    }
}

/// Memory contents and global values of an instance.
fn state(module: &Module, inst: &Instance) -> (Vec<u8>, Vec<u64>) {
    let mem = match inst.memory(0) {
        Some(m) => {
            let v = m.view();
            v.slice(0, v.len() as u64).unwrap_or(&[]).to_vec()
        }
        None => Vec::new(),
    };
    // A v128 global contributes both of its slots.
    let globals = module
        .globals()
        .iter()
        .enumerate()
        .flat_map(|(i, g)| {
            let v = inst.global(i as u32).map_or([0, 0], |g| g.get());
            match g.content {
                ValType::V128 => vec![v[0], v[1]],
                ty => vec![normalise(ty, v[0])],
            }
        })
        .collect();
    (mem, globals)
}

struct Run {
    module: Module,
    instance: Result<Instance, String>,
}

fn instantiate(engine: &Engine, bytes: &[u8]) -> Run {
    let module = Module::new(engine, bytes).unwrap_or_else(|e| panic!("module: {e}"));
    let instance = Instance::new(&module, &[]).map_err(|e| match e {
        kiln_runtime::Error::Trap(t) => format!("trap {:?}", t.code()),
        other => format!("{other}"),
    });
    Run { module, instance }
}

fn call(inst: &Instance, name: &str, args: &[u64]) -> Outcome {
    let Some(Extern::Func(f)) = inst.export(name) else {
        panic!("export {name}")
    };
    let ty = f.ty().clone();
    let mut stack = vec![0u64; ty.stack_len()];
    stack[..args.len()].copy_from_slice(args);
    match f.call(&mut stack) {
        Ok(()) => {
            // Each result's slots, normalised (a v128 keeps both of its slots exact).
            let mut values = Vec::new();
            let mut slots = stack.iter();
            for &t in ty.results() {
                for _ in 0..t.slots() {
                    values.push(normalise(t, *slots.next().expect("result slot")));
                }
            }
            Outcome::Values(values)
        }
        Err(t) => Outcome::Trap(t.code()),
    }
}

#[test]
fn native_code_agrees_with_the_interpreter() {
    if !native::is_supported() {
        println!("skipped: no native code on this platform");
        return;
    }
    let count: u64 = std::env::var("KILN_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let first: u64 = std::env::var("KILN_DIFF_FIRST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let interp = Engine::new(Config::default());
    let jits: Vec<(&str, Engine)> = [
        ("guard pages", BoundsChecks::GuardPages),
        ("explicit checks", BoundsChecks::Explicit),
    ]
    .into_iter()
    .map(|(name, bounds_checks)| {
        let backend = CraneliftBackend::new(TranslateOptions {
            bounds_checks,
            interrupt_checks: true,
            // Cover both call forms too: direct calls with guard pages, slots otherwise.
            direct_calls: bounds_checks == BoundsChecks::GuardPages,
        })
        .expect("backend");
        (
            name,
            Engine::with_backend(Config::default(), EngineKind::Jit, Some(Arc::new(backend))),
        )
    })
    .collect();

    let mut calls = 0usize;
    let mut modules = 0usize;
    for seed in first..first + count {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let data = rng.bytes(64 * 1024);
        let mut u = Unstructured::new(&data);
        let Ok(mut m) = wasm_smith::Module::new(smith_config(), &mut u) else {
            continue;
        };
        if m.ensure_termination(1_000).is_err() {
            continue;
        }
        let bytes = m.to_bytes();
        if std::env::var_os("KILN_DIFF_DEBUG").is_some() {
            let md = Module::new(&interp, &bytes).unwrap();
            println!(
                "seed {seed}: {} bytes, {} funcs, {} exports",
                bytes.len(),
                md.num_funcs(),
                md.exports().count()
            );
        }
        let reference = instantiate(&interp, &bytes);
        let runs: Vec<(&str, Run)> = jits
            .iter()
            .map(|(name, e)| (*name, instantiate(e, &bytes)))
            .collect();
        for (name, run) in &runs {
            if let (Err(a), Err(b)) = (&reference.instance, &run.instance) {
                assert_eq!(a, b, "seed {seed} ({name}): instantiation");
            }
            assert_eq!(
                reference.instance.is_ok(),
                run.instance.is_ok(),
                "seed {seed} ({name}): instantiation {:?} vs {:?}",
                reference.instance.as_ref().err(),
                run.instance.as_ref().err()
            );
        }
        let Ok(ref_inst) = &reference.instance else {
            continue;
        };
        modules += 1;
        let exports: Vec<(String, kiln_runtime::FuncType)> = reference
            .module
            .exports()
            .filter_map(|(n, t)| match t {
                kiln_runtime::ExternType::Func(ft) => Some((n.to_string(), ft)),
                _ => None,
            })
            .collect();
        for (name, ty) in &exports {
            // A v128 takes two slots (low half first), random bits in both.
            let args: Vec<u64> = ty
                .params()
                .iter()
                .flat_map(|&t| match t {
                    ValType::V128 => vec![rng.next(), rng.next()],
                    _ => vec![rng.arg(t)],
                })
                .collect();
            let expected = call(ref_inst, name, &args);
            if expected == Outcome::Trap(TrapCode::StackExhausted) {
                // Frame sizes differ between tiers: exhaustion depth is not comparable.
                continue;
            }
            let expected_state = state(&reference.module, ref_inst);
            for (engine, run) in &runs {
                let inst = run.instance.as_ref().unwrap();
                let got = call(inst, name, &args);
                assert_eq!(
                    expected, got,
                    "seed {seed} ({engine}): export {name}{ty} args {args:x?}"
                );
                assert!(
                    expected_state == state(&run.module, inst),
                    "seed {seed} ({engine}): state after export {name}{ty} args {args:x?}"
                );
            }
            calls += 1;
        }
    }
    println!("{modules} modules, {calls} calls agree");
    assert!(modules > count as usize / 4, "too few usable modules");
}
