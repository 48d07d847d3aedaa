//! Unit tests: hand-written functions translated and compiled with the verifier on.

use super::*;
use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use kiln_runtime::Engine;

fn isa() -> OwnedTargetIsa {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    flags.set("enable_verifier", "true").unwrap();
    cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(flags))
        .unwrap()
}

/// Translates and compiles every defined function of `wat`; returns the CLIF texts.
fn compile_with(wat: &str, opts: &TranslateOptions) -> Vec<String> {
    let isa = isa();
    let bytes = wat::parse_str(wat).expect("wat");
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).expect("module");
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    let mut out = Vec::new();
    for i in module.num_imported_funcs()..module.num_funcs() {
        let func = translate_function(&module, i, opts, &*isa, &mut fctx)
            .unwrap_or_else(|e| panic!("function {i}: {e}"));
        let text = func.display().to_string();
        ctx.clear();
        ctx.func = func;
        if let Err(e) = ctx.compile(&*isa, &mut ControlPlane::default()) {
            panic!("function {i}: {:?}\n{text}", e.inner);
        }
        out.push(text);
    }
    out
}

fn compile(wat: &str) -> Vec<String> {
    compile_with(wat, &TranslateOptions::default())
}

fn compile_all_options(wat: &str) {
    for bounds_checks in [BoundsChecks::GuardPages, BoundsChecks::Explicit] {
        for interrupt_checks in [false, true] {
            compile_with(
                wat,
                &TranslateOptions {
                    bounds_checks,
                    interrupt_checks,
                    direct_calls: interrupt_checks,
                },
            );
        }
    }
}

#[test]
fn signature_and_name() {
    let ty = FuncType::new([ValType::I32, ValType::FuncRef], [ValType::F64]);
    let sig = native_signature(&ty, CallConv::Tail);
    assert_eq!(sig.params.len(), 5);
    assert_eq!(sig.params[0].value_type, types::I64);
    assert_eq!(sig.params[2].value_type, types::I32, "depth");
    assert_eq!(sig.params[3].value_type, types::I32);
    assert_eq!(sig.params[4].value_type, types::I64);
    assert_eq!(sig.returns[0].value_type, types::F64);
    let clif = compile(r#"(module (func) (func (param i32) (result i32) local.get 0))"#);
    assert!(clif[0].contains("function u0:0"), "{}", clif[0]);
    assert!(clif[1].contains("function u0:1"), "{}", clif[1]);
    assert!(clif[1].contains("tail"), "{}", clif[1]);
}

#[test]
fn arithmetic_and_conversions() {
    compile_all_options(
        r#"(module
        (func (param i32 i32) (result i32)
          local.get 0 local.get 1 i32.add local.get 1 i32.sub local.get 0 i32.mul
          local.get 1 i32.div_s local.get 1 i32.div_u local.get 1 i32.rem_s local.get 1 i32.rem_u
          local.get 1 i32.and local.get 1 i32.or local.get 1 i32.xor local.get 1 i32.shl
          local.get 1 i32.shr_s local.get 1 i32.shr_u local.get 1 i32.rotl local.get 1 i32.rotr
          i32.clz i32.ctz i32.popcnt i32.eqz i32.extend8_s i32.extend16_s
          local.get 0 i32.eq local.get 0 i32.ne local.get 0 i32.lt_s local.get 0 i32.lt_u
          local.get 0 i32.gt_s local.get 0 i32.gt_u local.get 0 i32.le_s local.get 0 i32.le_u
          local.get 0 i32.ge_s local.get 0 i32.ge_u)
        (func (param i64 i64) (result i64)
          local.get 0 local.get 1 i64.add local.get 1 i64.sub local.get 0 i64.mul
          local.get 1 i64.div_s local.get 1 i64.div_u local.get 1 i64.rem_s local.get 1 i64.rem_u
          local.get 1 i64.and local.get 1 i64.or local.get 1 i64.xor local.get 1 i64.shl
          local.get 1 i64.shr_s local.get 1 i64.shr_u local.get 1 i64.rotl local.get 1 i64.rotr
          i64.clz i64.ctz i64.popcnt i64.extend8_s i64.extend16_s i64.extend32_s
          local.get 0 i64.lt_s i64.extend_i32_u i64.eqz i64.extend_i32_s)
        (func (param f32 f32) (result f32)
          local.get 0 local.get 1 f32.add local.get 1 f32.sub local.get 1 f32.mul
          local.get 1 f32.div local.get 1 f32.min local.get 1 f32.max local.get 1 f32.copysign
          f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt
          local.get 0 f32.lt f32.convert_i32_u)
        (func (param f64 f64) (result f64)
          local.get 0 local.get 1 f64.add local.get 1 f64.sub local.get 1 f64.mul
          local.get 1 f64.div local.get 1 f64.min local.get 1 f64.max local.get 1 f64.copysign
          f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt
          local.get 0 f64.ge f64.convert_i32_s)
        (func (param f32 f64 i32 i64) (result i32)
          local.get 0 i32.trunc_f32_s local.get 0 i32.trunc_f32_u i32.add
          local.get 1 i32.trunc_f64_s i32.add local.get 1 i32.trunc_f64_u i32.add
          local.get 0 i32.trunc_sat_f32_s i32.add local.get 0 i32.trunc_sat_f32_u i32.add
          local.get 1 i32.trunc_sat_f64_s i32.add local.get 1 i32.trunc_sat_f64_u i32.add
          local.get 0 i64.trunc_f32_s local.get 0 i64.trunc_f32_u i64.add
          local.get 1 i64.trunc_f64_s i64.add local.get 1 i64.trunc_f64_u i64.add
          local.get 0 i64.trunc_sat_f32_s i64.add local.get 0 i64.trunc_sat_f32_u i64.add
          local.get 1 i64.trunc_sat_f64_s i64.add local.get 1 i64.trunc_sat_f64_u i64.add
          i32.wrap_i64 i32.add
          local.get 2 f32.convert_i32_s local.get 3 f32.convert_i64_s f32.add
          local.get 3 f32.convert_i64_u f32.add local.get 1 f32.demote_f64 f32.add
          i32.reinterpret_f32 i32.add
          local.get 2 f64.convert_i32_u local.get 3 f64.convert_i64_s f64.add
          local.get 3 f64.convert_i64_u f64.add local.get 0 f64.promote_f32 f64.add
          i64.reinterpret_f64 f64.reinterpret_i64 f64.const -0x1p-1 f64.eq i32.add
          local.get 2 f32.reinterpret_i32 f32.const nan f32.ne i32.add
          i32.const -1 i64.const -9223372036854775808 i32.wrap_i64 i32.add i32.add)
        )"#,
    );
}

#[test]
fn control_flow() {
    compile_all_options(
        r#"(module
        (type $pair (func (param i32 i32) (result i32 i32)))
        (func (param i32) (result i32)
          (block (result i32)
            (loop (result i32)
              local.get 0 i32.const 1 i32.sub local.tee 0
              br_if 0
              i32.const 7)))
        (func (param i32) (result i32 i32)
          i32.const 1 i32.const 2
          (block (type $pair)
            (if (type $pair) (local.get 0)
              (then i32.add i32.const 3)
              (else))))
        (func (param i32) (result i32)
          (block (block (block
            (br_table 0 1 2 (local.get 0)))
            (return (i32.const 1)))
            (return (i32.const 2)))
          i32.const 3)
        (func (param i32) (result i32)
          (block (result i32) (block (result i32)
            (br_table 0 1 1 0 (i32.const 5) (local.get 0)))
            i32.const 1 i32.add))
        (func (param i32) (result i32)
          local.get 0
          (loop (param i32) (result i32)
            i32.const 1 i32.add
            local.get 0 br_table 0 1))
        (func (result i32)
          unreachable i32.add
          (block (loop unreachable (if (then) (else)))) br 0)
        (func (param i32) (result i32)
          (if (result i32) (local.get 0)
            (then (br 0 (i32.const 1)))
            (else (return (i32.const 2)))))
        (func (param i32) (result i32)
          (if (local.get 0) (then (return (i32.const 1))))
          (if (local.get 0) (then) (else unreachable))
          (loop (br 0))
          i32.const 3)
        (func (param i32) (result i32)
          local.get 0 local.get 0 local.get 0 select
          i32.const 0 i32.const 1 local.get 0 select (result i32) drop nop)
        (func (param i32 i32) (result i32)
          (local i64 f32 f64 funcref externref)
          local.get 0 local.get 1 (if (param i32) (result i32) (then) (else i32.const 1 i32.add))
          (block (param i32) (result i32) br 0))
        )"#,
    );
}

#[test]
fn memory_tables_globals_calls() {
    compile_all_options(
        r#"(module
        (type $t (func (param i32) (result i32)))
        (import "env" "f" (func $imp (param i32) (result i32)))
        (import "env" "g" (global $gi i32))
        (memory 1 2)
        (table $tab 2 funcref)
        (table $ext 1 externref)
        (global $g (mut i64) (i64.const 0))
        (global $r (mut funcref) (ref.null func))
        (global $c f32 (f32.const 1))
        (data $d "hello")
        (elem $e func $f)
        (func $f (param i32) (result i32)
          local.get 0 i32.load local.get 0 i32.load offset=4294967295 i32.add
          local.get 0 i64.load offset=2147483648 i32.wrap_i64 i32.add
          local.get 0 f32.load offset=4294967292 i32.trunc_sat_f32_s i32.add
          local.get 0 f64.load align=1 i32.trunc_sat_f64_u i32.add
          local.get 0 i32.load8_s i32.add local.get 0 i32.load8_u i32.add
          local.get 0 i32.load16_s i32.add local.get 0 i32.load16_u i32.add
          local.get 0 i64.load8_s local.get 0 i64.load8_u i64.add
          local.get 0 i64.load16_s i64.add local.get 0 i64.load16_u i64.add
          local.get 0 i64.load32_s i64.add local.get 0 i64.load32_u i64.add
          i32.wrap_i64 i32.add
          (i32.store (local.get 0) (i32.const 1))
          (i64.store offset=4294967295 (local.get 0) (i64.const 1))
          (f32.store (local.get 0) (f32.const 1))
          (f64.store (local.get 0) (f64.const 1))
          (i32.store8 (local.get 0) (i32.const 1))
          (i32.store16 (local.get 0) (i32.const 1))
          (i64.store8 (local.get 0) (i64.const 1))
          (i64.store16 (local.get 0) (i64.const 1))
          (i64.store32 (local.get 0) (i64.const 1))
          memory.size i32.add
          (memory.grow (i32.const 1)) i32.add
          (memory.fill (local.get 0) (i32.const 0) (i32.const 4))
          (memory.copy (local.get 0) (i32.const 0) (i32.const 4))
          (memory.init $d (local.get 0) (i32.const 0) (i32.const 4))
          data.drop $d)
        (func (param i32) (result i32)
          (table.set $tab (local.get 0) (ref.func $f))
          (table.get $tab (local.get 0)) ref.is_null
          (table.size $tab) i32.add
          (table.grow $tab (ref.null func) (i32.const 1)) i32.add
          (table.fill $tab (i32.const 0) (ref.null func) (i32.const 1))
          (table.copy $tab $tab (i32.const 0) (i32.const 1) (i32.const 1))
          (table.init $tab $e (i32.const 0) (i32.const 0) (i32.const 1))
          elem.drop $e
          (table.set $ext (i32.const 0) (ref.null extern))
          (global.set $g (i64.const 5))
          (global.get $g) i32.wrap_i64 i32.add
          (global.get $gi) i32.add
          (global.get $c) i32.trunc_f32_s i32.add
          (global.set $r (ref.func $f))
          (global.get $r) ref.is_null i32.add
          (call $imp (local.get 0)) i32.add
          (call $f (local.get 0)) i32.add
          (call_indirect $tab (type $t) (local.get 0) (i32.const 1)) i32.add)
        )"#,
    );
}

#[test]
fn guard_pages_and_explicit_checks_differ() {
    let wat = r#"(module (memory 1) (func (param i32) (result i32) (loop) local.get 0 i32.load))"#;
    let guard = compile_with(wat, &TranslateOptions::default());
    let explicit = compile_with(
        wat,
        &TranslateOptions {
            bounds_checks: BoundsChecks::Explicit,
            interrupt_checks: false,
            direct_calls: false,
        },
    );
    assert!(!guard[0].contains("heap_oob v"), "{}", guard[0]);
    assert!(explicit[0].contains("trapnz"), "{}", explicit[0]);
    assert!(!explicit[0].contains("user6"), "{}", explicit[0]);
    assert!(guard[0].contains("user6"), "{}", guard[0]);
}

/// The interrupt flag is polled at loop headers and before calls (once per block), not
/// at function entry.
#[test]
fn interrupt_polls_at_loops_and_calls_only() {
    let wat = r#"(module
      (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (param i32) (result i32)
        (call $leaf (call $leaf (local.get 0))))
      (func (param i32) (result i32)
        (if (result i32) (local.get 0)
          (then (call $leaf (local.get 0)))
          (else (call $leaf (i32.const 0))))))"#;
    let clif = compile(wat);
    let polls = |text: &str| text.matches("user6").count();
    assert_eq!(polls(&clif[0]), 0, "{}", clif[0]);
    assert_eq!(polls(&clif[1]), 1, "{}", clif[1]);
    assert_eq!(polls(&clif[2]), 2, "{}", clif[2]);
}

#[test]
fn fuel_charges_only_with_fuel_on_one_per_reachable_segment() {
    let wat = r#"(module (memory 1)
      (func (param $n i32) (local $i i32)
        (loop $l
          (i32.store (local.get $i) (local.get $i))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"#;
    let charges = |fuel: bool| {
        let engine = Engine::new(kiln_runtime::engine::Config {
            fuel,
            ..Default::default()
        });
        let bytes = wat::parse_str(wat).unwrap();
        let module = kiln_runtime::Module::new(&engine, &bytes).unwrap();
        let isa = isa();
        let mut fctx = FunctionBuilderContext::new();
        let func =
            translate_function(&module, 0, &TranslateOptions::default(), &*isa, &mut fctx).unwrap();
        let text = func.display().to_string();
        let mut ctx = Context::new();
        ctx.func = func;
        ctx.compile(&*isa, &mut ControlPlane::default())
            .unwrap_or_else(|e| panic!("{:?}\n{text}", e.inner));
        (text.matches("user8").count(), text)
    };
    let (off, text) = charges(false);
    assert_eq!(off, 0, "free when off: {text}");
    // Entry, loop header, after `br_if`, after the loop's `end`: the interpreter's segments.
    let (on, text) = charges(true);
    assert_eq!(on, 4, "{text}");
    assert!(
        text.contains("iconst.i64 11") || text.contains(", 11"),
        "{text}"
    );
}

#[test]
fn simd_types_and_operators_translate() {
    compile_all_options(
        r#"(module
        (memory 1)
        (global $g (mut v128) (v128.const i64x2 1 2))
        (table 1 funcref)
        (type $t (func (param v128 i32) (result v128 v128)))
        (func $f (type $t) (local.get 0) (local.get 0))
        (func (result i32) v128.const i64x2 1 2 i32x4.extract_lane 0)
        (func (param v128) (result v128) (local v128)
          (local.set 1 (local.get 0))
          (block (result v128) (local.get 1))
          (call $f (i32.const 0))
          (i32x4.add)
          (local.get 0)
          (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31)
          (global.set $g (global.get $g)))
        (func (param v128 i32) (result v128 v128)
          (call_indirect (type $t) (local.get 0) (local.get 1) (i32.const 0)))
        (func (param i32) (result v128)
          (v128.store offset=3 (local.get 0) (v128.load align=1 (local.get 0)))
          (drop (v128.load8_lane 3 (local.get 0) (v128.load16x4_s (local.get 0))))
          (v128.store64_lane 1 (local.get 0) (v128.load32_zero (local.get 0)))
          (v128.load64_splat offset=65535 (local.get 0)))
        (func (param v128 v128) (result i32)
          (i32.add
            (i8x16.bitmask (i8x16.gt_u (local.get 0) (local.get 1)))
            (i64x2.all_true (i64x2.shr_s (local.get 0) (i32.const 65)))))
        (func (param v128 v128) (result v128)
          (f32x4.pmin (f32x4.nearest (local.get 0)) (f64x2.promote_low_f32x4 (local.get 1)))
          (i32x4.trunc_sat_f64x2_u_zero)
          (i32x4.dot_i16x8_s (local.get 0))
          (i64x2.extmul_high_i32x4_u (local.get 1))
          (v128.bitselect (local.get 0) (local.get 1))
          (select (local.get 0) (i32.const 1))))"#,
    );
}

#[test]
fn relaxed_simd_translates_and_compiles() {
    let isa = isa();
    let mut config = kiln_runtime::Config::default();
    config.features |= wasmparser::WasmFeatures::RELAXED_SIMD;
    let engine = Engine::new(config);
    let bytes = wat::parse_str(
        r#"(module
        (func (param v128 v128 v128) (result v128)
          (i8x16.relaxed_swizzle (local.get 0) (local.get 1))
          (i32x4.relaxed_trunc_f32x4_s)
          (i32x4.relaxed_trunc_f32x4_u)
          (i32x4.relaxed_trunc_f64x2_s_zero)
          (i32x4.relaxed_trunc_f64x2_u_zero)
          (f32x4.relaxed_madd (local.get 1) (local.get 2))
          (f32x4.relaxed_nmadd (local.get 1) (local.get 2))
          (f64x2.relaxed_madd (local.get 1) (local.get 2))
          (f64x2.relaxed_nmadd (local.get 1) (local.get 2))
          (i8x16.relaxed_laneselect (local.get 1) (local.get 2))
          (i16x8.relaxed_laneselect (local.get 1) (local.get 2))
          (i32x4.relaxed_laneselect (local.get 1) (local.get 2))
          (i64x2.relaxed_laneselect (local.get 1) (local.get 2))
          (f32x4.relaxed_min (local.get 1))
          (f32x4.relaxed_max (local.get 1))
          (f64x2.relaxed_min (local.get 1))
          (f64x2.relaxed_max (local.get 1))
          (i16x8.relaxed_q15mulr_s (local.get 1))
          (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 1))
          (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 1) (local.get 2))))"#,
    )
    .unwrap();
    let module = kiln_runtime::Module::new(&engine, &bytes).unwrap();
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    ctx.func =
        translate_function(&module, 0, &TranslateOptions::default(), &*isa, &mut fctx).unwrap();
    let text = ctx.func.display().to_string();
    // The x86 instructions each relaxed result is defined by (RATIONALE.md).
    for ins in [
        "x86_pshufb",
        "x86_cvtt2dq",
        "blendv",
        "x86_pmulhrsw",
        "x86_pmaddubsw",
    ] {
        assert!(text.contains(ins), "no {ins} in\n{text}");
    }
    assert!(!text.contains("fma"), "relaxed_madd is unfused:\n{text}");
    if let Err(e) = ctx.compile(&*isa, &mut ControlPlane::default()) {
        panic!("{:?}\n{text}", e.inner);
    }
}

#[test]
fn unsupported_operators_are_errors_and_leave_the_context_reusable() {
    let isa = isa();
    let mut config = kiln_runtime::Config::default();
    config.features |= wasmparser::WasmFeatures::WIDE_ARITHMETIC;
    let engine = Engine::new(config);
    let bytes = wat::parse_str(
        r#"(module (func (param i64 i64 i64 i64) (result i64 i64)
        (i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#,
    )
    .unwrap();
    let module = kiln_runtime::Module::new(&engine, &bytes).unwrap();
    let mut fctx = FunctionBuilderContext::new();
    let err =
        translate_function(&module, 0, &TranslateOptions::default(), &*isa, &mut fctx).unwrap_err();
    assert!(err.to_string().starts_with("unsupported"), "{err}");
    // The context is reusable after a failure.
    let bytes = wat::parse_str("(module (func (result i32) i32.const 1))").unwrap();
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).unwrap();
    translate_function(&module, 0, &TranslateOptions::default(), &*isa, &mut fctx).unwrap();
}

#[test]
fn imports_and_bad_indices_are_errors() {
    let isa = isa();
    let bytes = wat::parse_str(r#"(module (import "a" "b" (func)) (func))"#).unwrap();
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).unwrap();
    let mut fctx = FunctionBuilderContext::new();
    let opts = TranslateOptions::default();
    for i in [0, 2, u32::MAX] {
        assert!(matches!(
            translate_function(&module, i, &opts, &*isa, &mut fctx),
            Err(TranslateError::Invalid(_))
        ));
    }
    translate_function(&module, 1, &opts, &*isa, &mut fctx).unwrap();
}

/// A body takes `vmctx` where the public entry takes `callee` and `caller_vmctx`; the
/// rest (depth, parameters, results, convention) is the same.
#[test]
fn body_signature_is_the_native_one_without_callee() {
    let ty = FuncType::new(
        [ValType::F32, ValType::ExternRef],
        [ValType::I64, ValType::F64],
    );
    let native = native_signature(&ty, CallConv::Tail);
    let body = body_signature(&ty, CallConv::Tail);
    assert_eq!(body.call_conv, native.call_conv);
    assert_eq!(body.params[0].value_type, types::I64, "vmctx");
    assert_eq!(body.params[1..], native.params[2..]);
    assert_eq!(body.returns, native.returns);
}

/// Wasm functions may return more values than the `tail` convention has registers for;
/// Cranelift then needs `enable_multi_ret_implicit_sret` (a return area the caller
/// allocates), which the engine's ISA must set.
#[test]
fn many_results_need_an_implicit_return_area() {
    let results = "i64 f64 ".repeat(20);
    let values = "(i64.const 1) (f64.const 2) ".repeat(20);
    let wat = format!(
        r#"(module
          (func $many (result {results}) {values})
          (func (result i64) (call $many) (drop) {drops}))"#,
        drops = "(drop) (drop) ".repeat(19)
    );
    let bytes = wat::parse_str(&wat).unwrap();
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).unwrap();
    let mut fctx = FunctionBuilderContext::new();
    let compile_all = |sret: bool, fctx: &mut FunctionBuilderContext| -> Result<(), String> {
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").unwrap();
        flags.set("enable_verifier", "true").unwrap();
        // Tail calls (the entry stub) need frame pointers.
        flags.set("preserve_frame_pointers", "true").unwrap();
        flags
            .set(
                "enable_multi_ret_implicit_sret",
                if sret { "true" } else { "false" },
            )
            .unwrap();
        let isa = cranelift_native::builder()
            .unwrap()
            .finish(settings::Flags::new(flags))
            .unwrap();
        let jit = TranslateOptions {
            direct_calls: true,
            ..TranslateOptions::default()
        };
        for i in 0..2 {
            let func =
                translate_function(&module, i, &TranslateOptions::default(), &*isa, fctx).unwrap();
            // Engine jit: the body, and the entry stub that tail-calls it.
            let body = translate_body(&module, i, &jit, &*isa, fctx).unwrap();
            let stub = entry_stub(module.func_type(i).unwrap(), i, false, &*isa, fctx);
            // Engine tiered: the body with its OSR path, its entry stub and its OSR stub.
            let (tiered, _) =
                translate_tiered_body(&module, i, &TranslateOptions::default(), &*isa, fctx)
                    .unwrap();
            let tiered_stub = entry_stub(module.func_type(i).unwrap(), i, true, &*isa, fctx);
            let osr = osr_stub(module.func_type(i).unwrap(), i, &*isa, fctx);
            for func in [func, body, stub, tiered, tiered_stub, osr] {
                let mut ctx = Context::for_function(func);
                ctx.compile(&*isa, &mut ControlPlane::default())
                    .map_err(|e| format!("{:?}", e.inner))?;
            }
        }
        Ok(())
    };
    compile_all(true, &mut fctx).unwrap();
    let err = compile_all(false, &mut fctx).unwrap_err();
    assert!(err.contains("Too many return values"), "{err}");
}

/// An OSR entry reads a v128 local from two frame slots (low half first) and stores v128
/// results into two slots: later locals and results sit one slot further. The OSR stub
/// loads the parameters and stores the results; the body loads the declared locals.
#[test]
fn osr_entry_with_v128_locals() {
    let isa = isa();
    let bytes = wat::parse_str(
        r#"(module (func (param i32 v128) (result v128 i32) (local f64 v128)
        (loop $l
          (local.set 3 (i32x4.add (local.get 1) (local.get 3)))
          (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (f64x2.splat (local.get 2))
        (local.get 0)))"#,
    )
    .unwrap();
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).unwrap();
    let mut fctx = FunctionBuilderContext::new();
    let (body, loops) =
        translate_tiered_body(&module, 0, &TranslateOptions::default(), &*isa, &mut fctx).unwrap();
    assert_eq!(loops, [0]);
    let stub = osr_stub(module.func_type(0).unwrap(), 0, &*isa, &mut fctx);
    let body_text = body.display().to_string();
    let stub_text = stub.display().to_string();
    // Parameters at slots 0 and 1-2 (the stub), declared locals at 3 and 4-5 (the body).
    for (text, load, at) in [
        (&stub_text, "load.i32", "\n"),
        (&stub_text, "load.i8x16", "+8\n"),
        (&body_text, "load.f64", "+24\n"),
        (&body_text, "load.i8x16", "+32\n"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(load) && (l.to_string() + "\n").ends_with(at)),
            "{load} {at:?} in {text}"
        );
    }
    // Results at slots 0-1 and 2.
    assert!(stub_text.contains("store"), "{stub_text}");
    assert!(stub_text.contains("+16\n"), "{stub_text}");
    for func in [body, stub] {
        let text = func.display().to_string();
        let mut ctx = Context::new();
        ctx.func = func;
        ctx.compile(&*isa, &mut ControlPlane::default())
            .unwrap_or_else(|e| panic!("{:?}\n{text}", e.inner));
    }
}

/// A tiered body calls another defined function of its module through the module's body
/// table (`vmctx.bodies`), with a cold fallback through the function's slot, and calls
/// imports through their slots only; `return_call` does the same as a tail call. A jit
/// body calls bodies directly and never reads the table.
#[test]
fn tiered_bodies_call_published_bodies_through_the_table() {
    // The engine's ISA: tail calls need frame pointers.
    let isa = crate::backend::host_isa().unwrap();
    let bytes = wat::parse_str(
        r#"(module
        (import "env" "h" (func $h (param i32) (result i32)))
        (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func $f (param i32) (result i32) (call $h (call $g (local.get 0))))
        (func $t (param i32) (result i32) (return_call $g (local.get 0))))"#,
    )
    .unwrap();
    let config = kiln_runtime::Config::default()
        .with_features(wasmparser::WasmFeatures::WASM2 | wasmparser::WasmFeatures::TAIL_CALL);
    let module = kiln_runtime::Module::new(&Engine::new(config), &bytes).unwrap();
    let opts = TranslateOptions {
        // No interrupt polls, whose builtin calls are indirect too.
        interrupt_checks: false,
        ..TranslateOptions::default()
    };
    let mut fctx = FunctionBuilderContext::new();
    let table_load = format!("v0+{}", kiln_runtime::vm::VMCTX_BODIES);
    let slot_load = format!("v0+{}", kiln_runtime::vm::VMCTX_FUNCS);
    let mut texts = Vec::new();
    for index in [2, 3] {
        let (func, _) = translate_tiered_body(&module, index, &opts, &*isa, &mut fctx).unwrap();
        let text = func.display().to_string();
        let mut ctx = Context::for_function(func);
        ctx.compile(&*isa, &mut ControlPlane::default())
            .unwrap_or_else(|e| panic!("{:?}\n{text}", e.inner));
        assert!(text.contains(&slot_load), "{text}");
        // Body `g` at word 0 of the table (imports are not in it), loaded at the call.
        let table = text
            .lines()
            .find(|l| l.ends_with(&table_load))
            .and_then(|l| l.split(" = ").next())
            .unwrap_or_else(|| panic!("no load of vmctx.bodies in {text}"))
            .trim();
        assert!(
            text.lines()
                .any(|l| l.contains("= load.i64 notrap aligned")
                    && l.ends_with(&format!(" {table}"))),
            "no load of the table's word 0 in {text}"
        );
        assert!(text.contains("cold"), "the slot path is cold: {text}");
        texts.push(text);
    }
    // `f`: `g` through its body or its slot, `h` through its slot.
    assert_eq!(
        texts[0].matches("= call_indirect").count(),
        3,
        "{}",
        texts[0]
    );
    // `t`: a tail call through `g`'s body or its slot.
    assert_eq!(
        texts[1].matches("return_call_indirect").count(),
        2,
        "{}",
        texts[1]
    );
    let jit = TranslateOptions {
        direct_calls: true,
        ..opts
    };
    let body = translate_body(&module, 2, &jit, &*isa, &mut fctx).unwrap();
    let text = body.display().to_string();
    assert!(!text.contains(&table_load), "{text}");
}
