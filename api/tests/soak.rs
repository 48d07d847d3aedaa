//! Soak test for long-running embedders: many instantiate / call / close cycles on engine
//! `tiered` with tier-ups happening, a fresh module compiled every few hundred cycles (so
//! code is allocated and freed all along), while the runtime's committed bytes stay
//! bounded and return to zero at the end.
//!
//! `KILN_SOAK_CYCLES` sets the number of cycles (default 100 000; `.ci/run` also runs it in
//! release).

mod common;

use common::wat;
use kiln::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use std::time::{Duration, Instant};

/// Cycles per compiled module: each module is compiled, tiered up, and dropped after this
/// many instantiations.
const CYCLES_PER_MODULE: u64 = 500;

fn module_text(generation: u64) -> String {
    format!(
        r#"(module
            (memory 1)
            (func $step (param i32) (result i32)
              (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const {generation})))
            (func (export "run") (param $n i32) (result i32)
              (local $acc i32)
              (local.set $acc (local.get $n))
              (block $done
                (loop $l
                  (br_if $done (i32.eqz (local.get $n)))
                  (local.set $acc (call $step (local.get $acc)))
                  (i32.store (i32.const 0) (local.get $acc))
                  (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                  (br $l)))
              (i32.load (i32.const 0))))"#
    )
}

/// What `run(n)` of module `generation` returns (the stored accumulator; 0 for n = 0).
fn expected(generation: u64, n: u32) -> u32 {
    let mut acc = n;
    for _ in 0..n {
        acc = acc.wrapping_mul(3).wrapping_add(generation as u32);
    }
    if n == 0 { 0 } else { acc }
}

#[test]
fn soak_instantiate_call_close() {
    let engine = if EngineKind::Tiered.is_available() {
        EngineKind::Tiered
    } else {
        EngineKind::Interp
    };
    let cycles: u64 = std::env::var("KILN_SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = Runtime::with_config(
        RuntimeConfig::new()
            .with_engine(engine)
            .with_tier_threshold(2)
            // Every instance is closed before the next: more than a few live is a leak.
            .with_max_instances(4),
    )
    .unwrap();
    let start = Instant::now();
    // One module's memory (64 KiB), its table-free instance, and the code of at most two
    // generations (the current one and one whose last tiering job is still finishing).
    let bound_memories = 65536;
    let mut peak = rt.committed_bytes();
    let mut peak_code = 0;
    let mut compiled = None;
    for cycle in 0..cycles {
        let generation = cycle / CYCLES_PER_MODULE;
        if cycle % CYCLES_PER_MODULE == 0 {
            // Dropping the previous compiled module (after its last instance) frees its code.
            compiled = Some(rt.compile(&wat(&module_text(generation))).unwrap());
        }
        let m = rt
            .instantiate(compiled.as_ref().unwrap(), ModuleConfig::new())
            .unwrap();
        let n = (cycle % 7) as u32;
        let got = m
            .exported_function("run")
            .unwrap()
            .call(&[n as u64])
            .unwrap();
        assert_eq!(got, [expected(generation, n) as u64], "cycle {cycle}");
        if cycle % 97 == 0 {
            // Sampled while the instance is alive: its page is committed.
            let c = rt.committed_bytes();
            assert_eq!(c.memories, bound_memories, "cycle {cycle}: {c:?}");
            assert_eq!(c.tables, 0);
            peak_code = peak_code.max(c.code);
            peak.total = peak.total.max(c.total);
        }
        m.close().unwrap();
        drop(m);
        assert_eq!(rt.live_instances(), 0, "cycle {cycle}");
    }
    drop(compiled);
    let elapsed = start.elapsed();
    let stats = rt.tiering_stats();
    // Wait for the background compiler to finish what is queued; code of dropped modules
    // is then not published, or freed with them.
    let deadline = Instant::now() + Duration::from_secs(20);
    while rt.committed_bytes().total != 0 {
        assert!(
            Instant::now() < deadline,
            "still committed after the soak: {:?}",
            rt.committed_bytes()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let modules = cycles.div_ceil(CYCLES_PER_MODULE);
    eprintln!(
        "soak: {cycles} cycles, {modules} modules in {elapsed:.1?}; peak committed {} bytes, \
         peak code {peak_code} bytes; tiering {stats:?}",
        peak.total
    );
    if let Some(stats) = stats {
        // Tier-ups happened for (nearly) every module: both functions of each.
        assert!(
            stats.functions_compiled >= modules,
            "only {} functions compiled for {modules} modules",
            stats.functions_compiled
        );
        // Code of at most a few generations is alive at once, however long the soak.
        assert!(peak_code <= 16 * 1024, "code grew to {peak_code} bytes");
    }
}
