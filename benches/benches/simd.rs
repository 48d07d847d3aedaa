//! SIMD kernels against their scalar versions, in every Kiln engine.
//!
//! `benches/wasm/simd.wat` holds two kernels, each written twice in one module:
//!
//! - `dot`: the dot product of two 4096-element i32 arrays (`i32x4.mul` + `i32x4.add`
//!   against `i32.mul` + `i32.add`);
//! - `count`: how many bytes of a 32 KiB buffer equal a needle (`i8x16.eq` +
//!   `i8x16.bitmask` + `i32.popcnt` against a byte loop).
//!
//! Groups `simd/<kernel>/<engine>` hold `scalar` and `simd` side by side, so their ratio
//! comes from one run. Engines: `interp`, `jit` and `tiered` (this build's available ones);
//! `tiered` is measured once both functions run native code (it is warmed up until the
//! runtime's statistics say every function was compiled). Before timing, every engine's
//! result is checked against a Rust computation of the same sums.
//!
//! Groups `relaxed/<kernel>/<engine>` hold `v2` and `relaxed`: the same loop
//! (`benches/wasm/relaxed.wat`) with a relaxed SIMD instruction or its WebAssembly 2.0
//! counterpart (`i8x16.swizzle`, `i32x4.trunc_sat_f32x4_s`, `f32x4.min`,
//! `i16x8.q15mulr_sat_s`, `v128.bitselect`), in `interp` and `jit` (3.0 mode). The relaxed
//! twins' results are checked to be the same in both engines first.

use criterion::{Criterion, criterion_group, criterion_main};
use kiln::{CoreFeatures, EngineKind, Module, Runtime, RuntimeConfig, TypedFunction};
use std::hint::black_box;
use std::time::{Duration, Instant};

const WAT: &str = include_str!("../wasm/simd.wat");
const RELAXED_WAT: &str = include_str!("../wasm/relaxed.wat");
/// The kernels of `relaxed.wat`, each exported as `<kernel>_v2` and `<kernel>_relaxed`.
const RELAXED_KERNELS: [&str; 5] = ["swizzle", "trunc", "min", "q15mulr", "laneselect"];
/// Seed of the xorshift fill (`init`).
const SEED: i32 = 0x1234_5678;
/// The byte `count` looks for.
const NEEDLE: i32 = 0x2a;
/// Repetitions per call: a call does 4096 multiply-adds or scans 32 KiB per repetition.
const REPS: i32 = 16;

/// The bytes `init(SEED)` writes to the first 64 KiB of memory.
fn reference_memory() -> Vec<u8> {
    let mut x = (SEED as u32) | 1;
    let mut out = Vec::with_capacity(65536);
    while out.len() < 65536 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// What `dot_*(REPS)` and `count_*(NEEDLE, REPS)` return, computed in Rust.
fn reference_results() -> (i64, i64) {
    let mem = reference_memory();
    let word = |at: usize| i32::from_le_bytes(mem[at..at + 4].try_into().expect("4 bytes"));
    let dot = (0..4096).fold(0i32, |sum, i| {
        sum.wrapping_add(word(4 * i).wrapping_mul(word(16384 + 4 * i)))
    });
    let count = mem[32768..].iter().filter(|&&b| b == NEEDLE as u8).count();
    (
        i64::from(dot as u32) * i64::from(REPS),
        count as i64 * i64::from(REPS),
    )
}

/// An instance with its four kernels, after `init`.
struct Kernels {
    runtime: Runtime,
    _module: Module,
    dot_scalar: TypedFunction<i32, i64>,
    dot_simd: TypedFunction<i32, i64>,
    count_scalar: TypedFunction<(i32, i32), i64>,
    count_simd: TypedFunction<(i32, i32), i64>,
}

impl Kernels {
    fn new(engine: EngineKind) -> Kernels {
        let runtime = Runtime::with_config(RuntimeConfig::new().with_engine(engine))
            .expect("engine is available");
        let wasm = wat::parse_str(WAT).expect("simd.wat parses");
        let module = runtime.instantiate_bytes(&wasm).expect("instantiate");
        let func = |name: &str| module.exported_function(name).expect("export");
        func("init")
            .typed::<i32, ()>()
            .expect("init type")
            .call(SEED)
            .expect("init");
        Kernels {
            dot_scalar: func("dot_scalar").typed().expect("type"),
            dot_simd: func("dot_simd").typed().expect("type"),
            count_scalar: func("count_scalar").typed().expect("type"),
            count_simd: func("count_simd").typed().expect("type"),
            _module: module,
            runtime,
        }
    }

    /// Checks every kernel against Rust; for `tiered`, keeps calling until all five
    /// functions are compiled (so the measurement is of native code).
    fn check_and_warm_up(&self, engine: EngineKind) {
        let (dot, count) = reference_results();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert_eq!(self.dot_scalar.call(REPS).expect("dot_scalar"), dot);
            assert_eq!(self.dot_simd.call(REPS).expect("dot_simd"), dot);
            assert_eq!(
                self.count_scalar
                    .call((NEEDLE, REPS))
                    .expect("count_scalar"),
                count
            );
            assert_eq!(
                self.count_simd.call((NEEDLE, REPS)).expect("count_simd"),
                count
            );
            let compiled = self
                .runtime
                .tiering_stats()
                .map_or(u64::MAX, |s| s.functions_compiled);
            if engine != EngineKind::Tiered || compiled >= 4 {
                return;
            }
            assert!(Instant::now() < deadline, "tiered: kernels never compiled");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn bench_simd(c: &mut Criterion) {
    let engines = [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered];
    for engine in engines.into_iter().filter(|e| e.is_available()) {
        let kernels = Kernels::new(engine);
        kernels.check_and_warm_up(engine);
        let mut group = c.benchmark_group(format!("simd/dot/{}", engine.name()));
        group.bench_function("scalar", |b| {
            b.iter(|| kernels.dot_scalar.call(black_box(REPS)).expect("run"))
        });
        group.bench_function("simd", |b| {
            b.iter(|| kernels.dot_simd.call(black_box(REPS)).expect("run"))
        });
        group.finish();
        let mut group = c.benchmark_group(format!("simd/count/{}", engine.name()));
        group.bench_function("scalar", |b| {
            b.iter(|| {
                kernels
                    .count_scalar
                    .call(black_box((NEEDLE, REPS)))
                    .expect("run")
            })
        });
        group.bench_function("simd", |b| {
            b.iter(|| {
                kernels
                    .count_simd
                    .call(black_box((NEEDLE, REPS)))
                    .expect("run")
            })
        });
        group.finish();
    }
}

fn bench_relaxed(c: &mut Criterion) {
    let engines = [EngineKind::Interp, EngineKind::Jit];
    let instances: Vec<(EngineKind, Runtime, Module)> = engines
        .into_iter()
        .filter(|e| e.is_available())
        .map(|engine| {
            let config = RuntimeConfig::new()
                .with_engine(engine)
                .with_core_features(CoreFeatures::V3);
            let runtime = Runtime::with_config(config).expect("engine is available");
            let wasm = wat::parse_str(RELAXED_WAT).expect("relaxed.wat parses");
            let module = runtime.instantiate_bytes(&wasm).expect("instantiate");
            let init = module.exported_function("init").expect("init");
            init.typed::<i32, ()>()
                .expect("type")
                .call(SEED)
                .expect("init");
            (engine, runtime, module)
        })
        .collect();
    let kernel = |module: &Module, name: &str| -> TypedFunction<i32, i64> {
        let f = module.exported_function(name).expect("export");
        f.typed().expect("type")
    };
    // Relaxed results are fixed per instruction: every engine must compute the same.
    for name in RELAXED_KERNELS {
        let name = format!("{name}_relaxed");
        let results: Vec<i64> = instances
            .iter()
            .map(|(_, _, m)| kernel(m, &name).call(1).expect("run"))
            .collect();
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "{name}: {results:?}"
        );
    }
    for name in RELAXED_KERNELS {
        for (engine, _, module) in &instances {
            let mut group = c.benchmark_group(format!("relaxed/{name}/{}", engine.name()));
            for variant in ["v2", "relaxed"] {
                let f = kernel(module, &format!("{name}_{variant}"));
                group.bench_function(variant, |b| {
                    b.iter(|| f.call(black_box(REPS)).expect("run"))
                });
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_simd, bench_relaxed
}
criterion_main!(benches);
