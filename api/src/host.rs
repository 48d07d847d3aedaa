//! Host functions: Rust code that Wasm modules import, built like wazero's host modules.

use crate::error::Result;
use crate::function::{NarrowSlots, panic_message};
use crate::memory::Memory;
use crate::module::{Module, ModuleInner, host_definition};
use crate::runtime::Runtime;
use crate::values::{ValueType, WasmValues};
use kiln_runtime::{FuncType, HostFunc, Trap};
use std::sync::{Arc, Weak};

/// What a host function sees of the module that called it.
pub struct Caller<'a> {
    inner: &'a kiln_runtime::Caller<'a>,
}

impl Caller<'_> {
    /// The calling module, if a module of this runtime made the call.
    pub fn module(&self) -> Option<Module> {
        ModuleInner::from_caller(self.inner).map(|inner| Module { inner })
    }

    /// The calling module's memory (its first memory).
    pub fn memory(&self) -> Option<Memory> {
        self.module()?.memory()
    }

    /// Which tier the calling code runs in: the interpreter, native code, or none (the
    /// embedder called the host function itself). A test hook for tiering; it never
    /// changes what a call does.
    pub fn tier(&self) -> crate::CallerTier {
        self.inner.tier()
    }

    /// Closes the calling module with `exit_code` and returns the trap the host function
    /// should return to unwind the call (WASI `proc_exit` is built on this).
    pub fn exit(&self, exit_code: u32) -> Trap {
        if let Some(m) = ModuleInner::from_caller(self.inner) {
            m.close_with(exit_code);
        }
        Trap::exit(exit_code)
    }
}

type StackFn = dyn Fn(&Caller<'_>, &mut [u64]) -> std::result::Result<(), Trap> + Send + Sync;

/// Typed host closures: `Fn(A, B, ...) -> R` where the arguments are [`crate::WasmValue`]s
/// (i32, u32, i64, u64, f32, f64, u128 for a v128, [`crate::ExternRef`], [`crate::FuncRef`])
/// and `R` is `()`, a value, a tuple of
/// values or a `Result` of those with a [`Trap`] as error.
pub trait IntoHostFunc<Params, Results>: Send + Sync + 'static {
    #[doc(hidden)]
    fn into_stack_fn(self) -> (FuncType, Arc<StackFn>);
}

/// The return type of a typed host closure.
pub trait HostReturn: Send + 'static {
    /// The values on success.
    type Values: WasmValues;
    /// Turns the return value into values or a trap.
    fn into_result(self) -> std::result::Result<Self::Values, Trap>;
}

impl<T: WasmValues> HostReturn for T {
    type Values = T;
    fn into_result(self) -> std::result::Result<T, Trap> {
        Ok(self)
    }
}

impl<T: WasmValues> HostReturn for std::result::Result<T, Trap> {
    type Values = T;
    fn into_result(self) -> std::result::Result<T, Trap> {
        self
    }
}

macro_rules! into_host_func {
    ($($a:ident $i:tt),*) => {
        impl<F, R, $($a),*> IntoHostFunc<($($a,)*), R> for F
        where
            F: Fn($($a),*) -> R + Send + Sync + 'static,
            R: HostReturn,
            $($a: crate::values::WasmValue,)*
        {
            #[allow(unused_variables, non_snake_case)]
            fn into_stack_fn(self) -> (FuncType, Arc<StackFn>) {
                let ty = FuncType::new(vec![$($a::TYPE),*], R::Values::types());
                let f = move |_: &Caller<'_>, stack: &mut [u64]| {
                    #[allow(unused_mut)] // no arguments: never advanced
                    let mut at = 0;
                    $(
                        let $a = <$a as crate::values::WasmValue>::read_slots(&stack[at..]);
                        at += <$a as crate::values::WasmValue>::SLOTS;
                    )*
                    let _ = at; // the last argument's offset step
                    let values = (self)($($a),*).into_result()?;
                    values.store(stack);
                    Ok(())
                };
                (ty, Arc::new(f))
            }
        }
    };
}

into_host_func!();
into_host_func!(A 0);
into_host_func!(A 0, B 1);
into_host_func!(A 0, B 1, C 2);
into_host_func!(A 0, B 1, C 2, D 3);
into_host_func!(A 0, B 1, C 2, D 3, E 4);
into_host_func!(A 0, B 1, C 2, D 3, E 4, G 5);
into_host_func!(A 0, B 1, C 2, D 3, E 4, G 5, H 6);
into_host_func!(A 0, B 1, C 2, D 3, E 4, G 5, H 6, I 7);

/// Calls `f` with every non-null funcref among `values` (of types `types`).
fn for_each_funcref(types: &[ValueType], values: &[u64], mut f: impl FnMut(u64)) {
    let mut slot = 0;
    for ty in types {
        if *ty == ValueType::FuncRef && values[slot] != 0 {
            f(values[slot]);
        }
        slot += ty.slots() as usize;
    }
}

/// Refuses funcref results a host function made up: a funcref is the address of an
/// indirection slot, and Wasm code calls through it, so only null and values Kiln handed
/// out (call results, global reads, parameters of host functions) may reach Wasm.
fn check_funcref_results(
    runtime: &Weak<crate::runtime::RuntimeInner>,
    function_name: &str,
    results: &[ValueType],
    stack: &[u64],
) -> std::result::Result<(), Trap> {
    let rt = runtime.upgrade();
    let mut forged = None;
    for_each_funcref(results, stack, |v| {
        if forged.is_none() && !rt.as_ref().is_some_and(|rt| rt.is_known_funcref(v)) {
            forged = Some(v);
        }
    });
    match forged {
        Some(v) => Err(Trap::host(format!(
            "host function `{function_name}` returned funcref {v:#x}, which is not a \
             funcref obtained from this runtime"
        ))),
        None => Ok(()),
    }
}

struct PendingFunction {
    export: String,
    name: String,
    ty: FuncType,
    func: Arc<StackFn>,
    param_names: Vec<String>,
    result_names: Vec<String>,
}

/// Builds a module of host functions that Wasm modules import by `module_name`
/// (wazero's `HostModuleBuilder`). Functions keep the order they were exported in.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// use std::sync::{Arc, Mutex};
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// runtime
///     .new_host_module_builder("env")
///     .new_function_builder()
///     .with_func(|a: i32, b: i32| a.wrapping_add(b))
///     .with_parameter_names(&["a", "b"])
///     .export("add")
///     .new_function_builder()
///     .with_stack_func(&[kiln::ValueType::I32], &[], move |caller, stack| {
///         // Read a byte of the calling module's memory.
///         let byte = caller.memory().and_then(|m| m.read_u8(stack[0] as u32));
///         log.lock().unwrap().push(byte);
///         Ok(())
///     })
///     .export("peek")
///     .instantiate()?;
/// let guest = runtime.instantiate_bytes(&wat::parse_str(r#"(module
///     (import "env" "add" (func $add (param i32 i32) (result i32)))
///     (import "env" "peek" (func $peek (param i32)))
///     (memory 1) (data (i32.const 7) "\2a")
///     (func (export "run") (result i32) i32.const 7 call $peek
///         i32.const 40 i32.const 2 call $add))"#).unwrap())?;
/// assert_eq!(guest.exported_function("run").unwrap().call(&[])?, vec![42]);
/// assert_eq!(*seen.lock().unwrap(), vec![Some(42)]);
/// # Ok(())
/// # }
/// ```
pub struct HostModuleBuilder {
    runtime: Runtime,
    name: String,
    functions: Vec<PendingFunction>,
}

/// Builds one host function of a [`HostModuleBuilder`].
pub struct HostFunctionBuilder<'a> {
    module: &'a mut HostModuleBuilder,
    ty: Option<FuncType>,
    func: Option<Arc<StackFn>>,
    name: Option<String>,
    param_names: Vec<String>,
    result_names: Vec<String>,
}

impl std::fmt::Debug for HostModuleBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostModuleBuilder")
            .field("name", &self.name)
            .field("functions", &self.functions.len())
            .finish()
    }
}

impl HostModuleBuilder {
    pub(crate) fn new(runtime: Runtime, name: String) -> HostModuleBuilder {
        HostModuleBuilder {
            runtime,
            name,
            functions: Vec::new(),
        }
    }

    /// Starts a new function; finish it with [`HostFunctionBuilder::export`].
    pub fn new_function_builder(&mut self) -> HostFunctionBuilder<'_> {
        HostFunctionBuilder {
            module: self,
            ty: None,
            func: None,
            name: None,
            param_names: Vec::new(),
            result_names: Vec::new(),
        }
    }

    /// Instantiates the host module under its name, so Wasm modules can import from it.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Instantiate`] when the name is taken, [`crate::Error::Usage`] when a
    /// function was exported without an implementation.
    pub fn instantiate(&mut self) -> Result<Module> {
        let rt = &self.runtime.inner;
        rt.check_open()?;
        let mut funcs = Vec::new();
        let mut defs = Vec::new();
        for (i, p) in std::mem::take(&mut self.functions).into_iter().enumerate() {
            let user = p.func.clone();
            let params = p.ty.params().to_vec();
            let results = p.ty.results().to_vec();
            let narrow_results = NarrowSlots::of(&results);
            let funcref_params = params.contains(&ValueType::FuncRef);
            let funcref_results = results.contains(&ValueType::FuncRef);
            let runtime = Arc::downgrade(rt);
            let function_name = p.name.clone();
            let wrapped = move |caller: &kiln_runtime::Caller<'_>, stack: &mut [u64]| {
                if funcref_params && let Some(rt) = runtime.upgrade() {
                    // The host may hand these back to Wasm (as a result, call parameter or
                    // global value): they are Kiln's own.
                    for_each_funcref(&params, stack, |v| rt.remember_funcref(v));
                }
                let caller = Caller { inner: caller };
                // No panic may cross into the runtime: it becomes a host error trap.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    user(&caller, stack)
                })) {
                    Ok(Ok(())) => {
                        // Native callers read only the low half of an i32/f32 slot, the
                        // interpreter the whole slot: normalise so every engine agrees.
                        narrow_results.apply(&results, stack);
                        if funcref_results {
                            check_funcref_results(&runtime, &function_name, &results, stack)?;
                        }
                        Ok(())
                    }
                    Ok(Err(trap)) => Err(trap),
                    Err(panic) => Err(Trap::host(format!(
                        "host function panicked: {}",
                        panic_message(&*panic)
                    ))),
                }
            };
            defs.push(host_definition(
                &self.name,
                i as u32,
                &p.name,
                vec![p.export.clone()],
                &p.ty,
                p.param_names,
                p.result_names,
            ));
            funcs.push((
                p.export,
                HostFunc {
                    ty: Arc::new(p.ty),
                    func: Arc::new(wrapped),
                    name: Some(p.name),
                },
            ));
        }
        let instance = kiln_runtime::Instance::host(&rt.engine, funcs);
        instance.set_name(self.name.clone());
        let inner = ModuleInner::new(self.name.clone(), instance, rt, defs);
        self.runtime.add_module(&inner)?;
        Ok(Module { inner })
    }
}

impl<'a> HostFunctionBuilder<'a> {
    /// Implements the function with a typed closure; the signature comes from its types.
    pub fn with_func<P, R>(mut self, f: impl IntoHostFunc<P, R>) -> HostFunctionBuilder<'a> {
        let (ty, func) = f.into_stack_fn();
        self.ty = Some(ty);
        self.func = Some(func);
        self
    }

    /// Implements the function in the stack style (wazero's `GoFunction`): parameters are
    /// read from `stack[..params]` and results written to `stack[..results]`.
    pub fn with_stack_func(
        mut self,
        params: &[ValueType],
        results: &[ValueType],
        f: impl Fn(&Caller<'_>, &mut [u64]) -> std::result::Result<(), Trap> + Send + Sync + 'static,
    ) -> HostFunctionBuilder<'a> {
        self.ty = Some(FuncType::new(params.to_vec(), results.to_vec()));
        self.func = Some(Arc::new(f));
        self
    }

    /// Names the function (for definitions and backtraces; defaults to the export name).
    pub fn with_name(mut self, name: impl Into<String>) -> HostFunctionBuilder<'a> {
        self.name = Some(name.into());
        self
    }

    /// Names the parameters.
    pub fn with_parameter_names(mut self, names: &[&str]) -> HostFunctionBuilder<'a> {
        self.param_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Names the results.
    pub fn with_result_names(mut self, names: &[&str]) -> HostFunctionBuilder<'a> {
        self.result_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Exports the function as `name` and returns to the module builder. A function
    /// without an implementation is exported as one that traps with a clear message.
    pub fn export(self, name: impl Into<String>) -> &'a mut HostModuleBuilder {
        let export = name.into();
        let (ty, func) = match (self.ty, self.func) {
            (Some(ty), Some(func)) => (ty, func),
            _ => {
                let msg = format!("host function `{export}` has no implementation");
                let f: Arc<StackFn> = Arc::new(move |_, _| Err(Trap::host(msg.clone())));
                (FuncType::new([], []), f)
            }
        };
        self.module.functions.push(PendingFunction {
            name: self.name.unwrap_or_else(|| export.clone()),
            export,
            ty,
            func,
            param_names: self.param_names,
            result_names: self.result_names,
        });
        self.module
    }
}
