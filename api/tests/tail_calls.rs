//! Tail calls (`return_call`, `return_call_indirect`; WebAssembly 3.0) in every engine and
//! tiering setup: deep tail recursion within a small call-depth limit, mutual recursion
//! through a table, a tail call of a host function, arguments of other types and counts
//! than the caller's, and the same fuel charges everywhere.

mod common;

use kiln::{CoreFeatures, EngineKind, Module, Runtime, RuntimeConfig, TrapCode};

const MODULE: &str = r#"(module
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (type $parity (func (param i64) (result i32)))
  (table funcref (elem $even $odd))

  ;; 2 * n by n tail calls of itself.
  (func $count (export "count") (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $count (i64.sub (local.get $n) (i64.const 1))
                                (i64.add (local.get $acc) (i64.const 2))))))

  ;; Whether n is even, by mutual tail calls through the table.
  (func $even (export "even") (type $parity)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 1))
      (else (return_call_indirect (type $parity)
              (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
  (func $odd (type $parity)
    (if (result i32) (i64.eqz (local.get 0))
      (then (i32.const 0))
      (else (return_call_indirect (type $parity)
              (i64.sub (local.get 0) (i64.const 1)) (i32.const 0)))))

  ;; A tail call of a host function.
  (func (export "via_host") (param i32) (result i32)
    (return_call $twice (i32.add (local.get 0) (i32.const 1))))

  ;; A callee with more parameters, of other types, than its caller has slots in use.
  (func $sum3 (param i32 i64 f64) (result f64)
    (f64.add (f64.convert_i32_s (local.get 0))
             (f64.add (f64.convert_i64_s (local.get 1)) (local.get 2))))
  (func (export "widen") (param $x i32) (result f64) (local $l i64)
    (local.set $l (i64.const 40))
    (return_call $sum3 (local.get $x) (local.get $l) (f64.const 0.5)))

  ;; A tail call into a table slot that holds no function traps.
  (func (export "bad_slot") (result i32)
    (return_call_indirect (type $parity) (i64.const 0) (i32.const 7)))
)"#;

/// Every engine, and tiered at thresholds 1 (sync), 10 (sync: the recursion crosses the
/// tier-up) and 1000, each with fuel on and off; the call depth limit is far below the
/// recursion depths used, so only real tail calls pass.
fn setups() -> Vec<(String, RuntimeConfig)> {
    let base = |engine| {
        RuntimeConfig::new()
            .with_engine(engine)
            .with_core_features(CoreFeatures::V3)
            .with_max_call_depth(500)
    };
    let mut out = Vec::new();
    for engine in common::ENGINES {
        if !engine.is_available() {
            eprintln!("skipping engine `{}`: not built", engine.name());
            continue;
        }
        let configs: Vec<(String, RuntimeConfig)> = if engine == EngineKind::Tiered {
            [(1, true), (10, true), (1000, false)]
                .into_iter()
                .map(|(t, sync)| {
                    (
                        format!("tiered (threshold {t})"),
                        base(engine).with_tier_threshold(t).with_tier_sync(sync),
                    )
                })
                .collect()
        } else {
            vec![(engine.name().to_string(), base(engine))]
        };
        for (name, config) in configs {
            out.push((format!("{name}, fuel on"), config.clone().with_fuel(true)));
            out.push((name, config));
        }
    }
    out
}

fn instantiate(rt: &Runtime) -> Module {
    rt.new_host_module_builder("host")
        .new_function_builder()
        .with_func(|x: i32| x.wrapping_mul(2))
        .export("twice")
        .instantiate()
        .expect("host module");
    rt.instantiate_bytes(&common::wat(MODULE))
        .expect("instantiate")
}

#[test]
fn tail_calls_run_in_constant_depth_in_every_engine() {
    for (setup, config) in setups() {
        let fuel = config.fuel();
        let rt = Runtime::with_config(config).expect("engine is available");
        let m = instantiate(&rt);
        if fuel {
            rt.set_fuel(u64::MAX / 2).expect("fuel on");
        }
        let count = m.exported_function("count").unwrap();
        let even = m.exported_function("even").unwrap();
        // Several calls, so that tiered at threshold 10 runs some of them native.
        for n in [0u64, 1, 7, 100_000, 250_000] {
            let r = count
                .call(&[n, 3])
                .unwrap_or_else(|e| panic!("{setup}: count {n}: {e}"));
            assert_eq!(r, [2 * n + 3], "{setup}: count {n}");
            let r = even
                .call(&[n])
                .unwrap_or_else(|e| panic!("{setup}: even {n}: {e}"));
            assert_eq!(r, [(n % 2 == 0) as u64], "{setup}: even {n}");
        }
        let via_host = m.exported_function("via_host").unwrap();
        for x in [0u64, 20, 0xffff_ffff] {
            let want = (x as u32).wrapping_add(1).wrapping_mul(2) as u64;
            assert_eq!(
                via_host.call(&[x]).unwrap(),
                [want],
                "{setup}: via_host {x}"
            );
        }
        let widen = m.exported_function("widen").unwrap();
        assert_eq!(
            widen.call(&[kiln::encode_i32(-3)]).unwrap(),
            [kiln::encode_f64(37.5)],
            "{setup}: widen"
        );
        let err = m
            .exported_function("bad_slot")
            .unwrap()
            .call(&[])
            .unwrap_err();
        common::assert_trap(&err, TrapCode::UndefinedElement);
    }
}

#[test]
fn tail_calls_cost_the_same_fuel_in_every_engine() {
    let mut used: Vec<(String, Vec<u64>)> = Vec::new();
    for (setup, config) in setups().into_iter().filter(|(_, c)| c.fuel()) {
        let rt = Runtime::with_config(config).expect("engine is available");
        let m = instantiate(&rt);
        let mut spent = Vec::new();
        for (name, args) in [
            ("count", vec![50u64, 0]),
            ("even", vec![31]),
            ("via_host", vec![4]),
            ("widen", vec![1]),
        ] {
            // Repeated so that tiered runs both tiers.
            for _ in 0..12 {
                rt.set_fuel(1_000_000).unwrap();
                m.exported_function(name).unwrap().call(&args).unwrap();
                spent.push(1_000_000 - rt.fuel().unwrap());
            }
        }
        // Running out of fuel inside a tail-call loop stops it in every engine, at once.
        rt.set_fuel(1_000).unwrap();
        let err = m
            .exported_function("count")
            .unwrap()
            .call(&[1_000_000, 0])
            .unwrap_err();
        common::assert_trap(&err, TrapCode::OutOfFuel);
        spent.push(rt.fuel().unwrap());
        used.push((setup, spent));
    }
    assert!(used.len() >= 2, "fuel is compared between setups");
    let (_, first) = &used[0];
    assert!(
        first[..first.len() - 1].iter().all(|&f| f > 0),
        "calls cost fuel: {first:?}"
    );
    for (setup, spent) in &used[1..] {
        assert_eq!(spent, &used[0].1, "{setup} against {}", used[0].0);
    }
}

#[test]
fn an_endless_tail_call_loop_can_be_interrupted_in_every_engine() {
    let wasm = common::wat(
        r#"(module
        (type $v (func))
        (table funcref (elem $spin_indirect))
        (func $spin (export "spin") (return_call $spin))
        (func $spin_indirect (export "spin_indirect")
          (return_call_indirect (type $v) (i32.const 0))))"#,
    );
    for (setup, config) in setups().into_iter().filter(|(_, c)| !c.fuel()) {
        for name in ["spin", "spin_indirect"] {
            let rt = Runtime::with_config(config.clone().with_interruption(true)).unwrap();
            let m = rt.instantiate_bytes(&wasm).expect("instantiate");
            let handle = m.interrupt_handle();
            let f = m.exported_function(name).unwrap();
            let (result, _) = common::run_bounded(common::STOP_BOUND * 2, move || {
                let stopper = std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    assert!(handle.interrupt());
                });
                let r = f.call(&[]);
                stopper.join().expect("interrupting thread");
                r
            });
            let err = result.expect_err("an endless loop only ends by interruption");
            common::assert_exit(&err, kiln::EXIT_CODE_INTERRUPTED);
            eprintln!("{setup}: {name} interrupted");
        }
    }
}
