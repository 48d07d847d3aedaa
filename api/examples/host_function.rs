//! Host functions in both styles: a typed closure and a stack function that reads the
//! calling module's memory.
//!
//! Run with `cargo run -p kiln --example host_function`.

use kiln::{Runtime, RuntimeConfig, Trap, ValueType};
use std::sync::{Arc, Mutex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = Runtime::with_config(RuntimeConfig::new())?;

    // Lines the guest logs, collected by the host.
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();

    runtime
        .new_host_module_builder("env")
        // Typed style: the signature comes from the closure's types.
        .new_function_builder()
        .with_func(|celsius: f64| celsius * 9.0 / 5.0 + 32.0)
        .with_parameter_names(&["celsius"])
        .with_result_names(&["fahrenheit"])
        .export("to_fahrenheit")
        // Stack style: parameters and results are u64 slots; the caller gives memory access.
        .new_function_builder()
        .with_stack_func(
            &[ValueType::I32, ValueType::I32],
            &[],
            move |caller, stack| {
                let (ptr, len) = (kiln::decode_u32(stack[0]), kiln::decode_u32(stack[1]));
                let memory = caller.memory().ok_or_else(|| Trap::host("no memory"))?;
                let bytes = memory
                    .read(ptr, len)
                    .ok_or_else(|| Trap::host("log message out of range"))?
                    .to_vec();
                let text = String::from_utf8(bytes).map_err(|e| Trap::host(e.to_string()))?;
                sink.lock().unwrap().push(text);
                Ok(())
            },
        )
        .with_parameter_names(&["ptr", "len"])
        .export("log")
        .instantiate()?;

    let guest = runtime.instantiate_bytes(&wat::parse_str(
        r#"(module $guest
            (import "env" "to_fahrenheit" (func $to_f (param f64) (result f64)))
            (import "env" "log" (func $log (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "converting")
            (func (export "convert") (param $c f64) (result f64)
                (call $log (i32.const 0) (i32.const 10))
                (call $to_f (local.get $c))))"#,
    )?)?;

    let convert = guest
        .exported_function("convert")
        .expect("convert is exported")
        .typed::<f64, f64>()?;
    let fahrenheit = convert.call(100.0)?;
    assert_eq!(fahrenheit, 212.0);
    assert_eq!(*log.lock().unwrap(), ["converting"]);

    // The host functions' definitions carry the names given to the builder.
    let env = runtime.module("env").expect("env is instantiated");
    let defs = env.exported_function_definitions();
    assert_eq!(defs["to_fahrenheit"].param_names(), ["celsius"]);
    assert_eq!(defs["log"].param_types(), [ValueType::I32, ValueType::I32]);

    println!(
        "host_function: 100°C = {fahrenheit}°F, guest logged {:?}",
        log.lock().unwrap()
    );
    Ok(())
}
