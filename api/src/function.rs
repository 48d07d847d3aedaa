//! Calling exported functions.

use crate::definitions::FunctionDefinition;
use crate::error::{Error, ExitError, Result};
use crate::module::ModuleInner;
use crate::values::{ValueType, WasmValues};
use kiln_runtime::{Trap, TrapCode};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

/// An exported function of a module (wazero's `api.Function`).
///
/// Calls take `&self`: a `Function` can be cloned and called from several threads (each
/// call runs on its caller's thread with its own interpreter stack). Memory views can
/// never dangle across calls because memories never move (see [`crate::MemoryView`]).
/// A `Function` does not keep a closed module's memory alive: once the module is closed,
/// calls fail with its exit error.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let wasm = wat::parse_str(r#"(module
///     (func (export "swap") (param i64 i64) (result i64 i64) local.get 1 local.get 0))"#)
///     .unwrap();
/// let module = runtime.instantiate_bytes(&wasm)?;
/// let swap = module.exported_function("swap").unwrap();
/// assert_eq!(swap.call(&[1, 2])?, vec![2, 1]);
/// let mut stack = [3, 4];
/// swap.call_with_stack(&mut stack)?;
/// assert_eq!(stack, [4, 3]);
/// assert!(swap.call(&[1]).is_err()); // wrong number of parameters
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Function {
    module: Arc<ModuleInner>,
    /// Weak, so that a handle kept by the host does not keep a closed module's memory
    /// alive; a call holds the function strongly while it runs.
    func: kiln_runtime::WeakFunc,
    definition: FunctionDefinition,
    param_slots: usize,
    result_slots: usize,
    funcref_params: bool,
    funcref_results: bool,
    /// The i32 and f32 slots among the parameters / results (see [`mask_narrow`]).
    narrow_params: NarrowSlots,
    narrow_results: NarrowSlots,
}

impl Function {
    pub(crate) fn new(
        module: Arc<ModuleInner>,
        func: kiln_runtime::WeakFunc,
        definition: FunctionDefinition,
    ) -> Function {
        let slots = |types: &[ValueType]| types.iter().map(|t| t.slots() as usize).sum();
        let (params, results) = (definition.param_types(), definition.result_types());
        Function {
            param_slots: slots(params),
            result_slots: slots(results),
            funcref_params: params.contains(&ValueType::FuncRef),
            funcref_results: results.contains(&ValueType::FuncRef),
            narrow_params: NarrowSlots::of(params),
            narrow_results: NarrowSlots::of(results),
            module,
            func,
            definition,
        }
    }

    /// What the function is: names, index, import/export and signature.
    pub fn definition(&self) -> &FunctionDefinition {
        &self.definition
    }

    /// Calls with `params` (one slot per value, two for a v128) and returns the results.
    /// Only the low 32 bits of an i32 or f32 parameter count; results come back
    /// zero-extended.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] when the number of parameter slots is wrong, [`Error::Trap`] when
    /// the code traps, [`Error::Exit`] when the module is or gets closed.
    pub fn call(&self, params: &[u64]) -> Result<Vec<u64>> {
        if params.len() != self.param_slots {
            return Err(Error::Usage(format!(
                "expected {} params, but passed {}",
                self.param_slots,
                params.len()
            )));
        }
        let mut stack = vec![0u64; self.param_slots.max(self.result_slots)];
        stack[..params.len()].copy_from_slice(params);
        self.call_with_stack(&mut stack)?;
        stack.truncate(self.result_slots);
        Ok(stack)
    }

    /// Calls with the parameters in `stack[..params]`; on success the results are in
    /// `stack[..results]`. `stack` must hold at least max(param slots, result slots). On an
    /// error the contents of `stack` are unspecified. Allocates nothing.
    ///
    /// # Errors
    ///
    /// As [`Function::call`]; [`Error::Usage`] when `stack` is too short.
    pub fn call_with_stack(&self, stack: &mut [u64]) -> Result<()> {
        let _call = self.module.begin_call()?;
        let need = self.param_slots.max(self.result_slots);
        if stack.len() < need {
            return Err(Error::Usage(format!(
                "need {need} params, but stack size is {}",
                stack.len()
            )));
        }
        self.invoke(&mut stack[..need])
    }

    /// [`Function::call`] that is stopped (closing the module with
    /// [`EXIT_CODE_DEADLINE_EXCEEDED`](crate::EXIT_CODE_DEADLINE_EXCEEDED)) if it runs past
    /// `deadline`.
    ///
    /// # Errors
    ///
    /// As [`Function::call`].
    pub fn call_with_deadline(&self, params: &[u64], deadline: Instant) -> Result<Vec<u64>> {
        self.require_interruption()?;
        if params.len() != self.param_slots {
            return self.call(params);
        }
        let _guard = crate::watchdog::arm(&self.module, deadline);
        self.call(params)
    }

    /// [`Function::call_with_stack`] with a deadline.
    ///
    /// # Errors
    ///
    /// As [`Function::call_with_stack`].
    pub fn call_with_stack_deadline(&self, stack: &mut [u64], deadline: Instant) -> Result<()> {
        self.require_interruption()?;
        if stack.len() < self.param_slots.max(self.result_slots) {
            return self.call_with_stack(stack);
        }
        let _guard = crate::watchdog::arm(&self.module, deadline);
        self.call_with_stack(stack)
    }

    fn require_interruption(&self) -> Result<()> {
        match self.module.runtime.upgrade() {
            Some(rt) if !rt.config.interruption() => Err(Error::Usage(
                "call deadlines need interruption enabled in the runtime config".into(),
            )),
            _ => Ok(()),
        }
    }

    /// A typed view of the function: checks the signature once, then calls without
    /// allocating.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
    /// let wasm = wat::parse_str(r#"(module (func (export "mix") (param i32 i64) (result f64)
    ///     local.get 0 f64.convert_i32_s local.get 1 f64.convert_i64_s f64.add))"#).unwrap();
    /// let module = runtime.instantiate_bytes(&wasm)?;
    /// let mix = module.exported_function("mix").unwrap().typed::<(i32, i64), f64>()?;
    /// assert_eq!(mix.call((1, 2))?, 3.0);
    /// assert!(module.exported_function("mix").unwrap().typed::<i32, f64>().is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] when `P` or `R` do not match the signature.
    pub fn typed<P: WasmValues, R: WasmValues>(&self) -> Result<TypedFunction<P, R>> {
        let (params, results) = (P::types(), R::types());
        if params != self.definition.param_types() || results != self.definition.result_types() {
            return Err(Error::Usage(format!(
                "typed signature {params:?} -> {results:?} does not match {:?} -> {:?}",
                self.definition.param_types(),
                self.definition.result_types()
            )));
        }
        if P::LEN.max(R::LEN) > TYPED_STACK {
            return Err(Error::Usage(format!(
                "typed calls take at most {TYPED_STACK} values"
            )));
        }
        Ok(TypedFunction {
            func: self.clone(),
            _types: PhantomData,
        })
    }

    fn invoke(&self, stack: &mut [u64]) -> Result<()> {
        if self.funcref_params {
            self.check_funcref_params(stack)?;
        }
        self.narrow_params
            .apply(self.definition.param_types(), stack);
        // The module was open when the call began; if a close has released the instance
        // since, the call fails as it would have a moment later.
        let Some(func) = self.func.upgrade() else {
            return Err(self
                .module
                .check_open()
                .err()
                .unwrap_or_else(|| Error::Usage("the function's instance is gone".into())));
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func.call(stack)));
        match result {
            Ok(Ok(())) => {
                self.narrow_results
                    .apply(self.definition.result_types(), stack);
                if self.funcref_results {
                    self.register_funcref_results(stack);
                }
                Ok(())
            }
            Ok(Err(trap)) => Err(trap_error(&self.module, trap)),
            Err(panic) => Err(Error::Trap(Trap::host(format!(
                "internal error: {}",
                panic_message(&panic)
            )))),
        }
    }

    fn check_funcref_params(&self, stack: &[u64]) -> Result<()> {
        let Some(rt) = self.module.runtime.upgrade() else {
            return Ok(());
        };
        let mut slot = 0;
        for ty in self.definition.param_types() {
            if *ty == ValueType::FuncRef && stack[slot] != 0 && !rt.is_known_funcref(stack[slot]) {
                return Err(Error::Usage(format!(
                    "parameter {slot} is not a funcref obtained from this runtime (or its \
                     module was closed)"
                )));
            }
            slot += ty.slots() as usize;
        }
        Ok(())
    }

    fn register_funcref_results(&self, stack: &[u64]) {
        let Some(rt) = self.module.runtime.upgrade() else {
            return;
        };
        let mut slot = 0;
        for ty in self.definition.result_types() {
            if *ty == ValueType::FuncRef && stack[slot] != 0 {
                rt.remember_funcref(stack[slot]);
            }
            slot += ty.slots() as usize;
        }
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Function({})", self.definition.debug_name())
    }
}

/// Whether values of `ty` take only the low 32 bits of their slot.
pub(crate) fn is_narrow(ty: ValueType) -> bool {
    matches!(ty, ValueType::I32 | ValueType::F32)
}

/// Clears the high 32 bits of every i32 and f32 slot of `values` (of types `types`).
/// Values cross the API as `u64` slots: native code reads only the low half of such a
/// slot while the interpreter copies whole slots, so without this a caller's garbage
/// high bits would come back, or reach a host function, in some engines and not others.
pub(crate) fn mask_narrow(types: &[ValueType], values: &mut [u64]) {
    let mut slot = 0;
    for ty in types {
        if is_narrow(*ty) {
            values[slot] &= 0xFFFF_FFFF;
        }
        slot += ty.slots() as usize;
    }
}

/// Which slots of a list of values hold an i32 or f32, computed once per signature so that
/// a call masks them without walking the types.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NarrowSlots {
    /// No i32 or f32.
    None,
    /// Bit `i` set: slot `i` is an i32 or f32.
    Mask(u64),
    /// Some beyond slot 63: [`mask_narrow`] walks the types.
    Walk,
}

impl NarrowSlots {
    pub(crate) fn of(types: &[ValueType]) -> NarrowSlots {
        let mut mask = 0u64;
        let mut slot = 0;
        for ty in types {
            if is_narrow(*ty) {
                if slot >= 64 {
                    return NarrowSlots::Walk;
                }
                mask |= 1 << slot;
            }
            slot += ty.slots() as usize;
        }
        if mask == 0 {
            NarrowSlots::None
        } else {
            NarrowSlots::Mask(mask)
        }
    }

    /// [`mask_narrow`] of `types` on `values`.
    #[inline]
    pub(crate) fn apply(self, types: &[ValueType], values: &mut [u64]) {
        match self {
            NarrowSlots::None => {}
            NarrowSlots::Mask(mut mask) => {
                while mask != 0 {
                    values[mask.trailing_zeros() as usize] &= 0xFFFF_FFFF;
                    mask &= mask - 1;
                }
            }
            NarrowSlots::Walk => mask_narrow(types, values),
        }
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Turns a trap out of a call into the API error: exits and interruptions become
/// [`Error::Exit`].
pub(crate) fn trap_error(module: &ModuleInner, trap: Trap) -> Error {
    match trap.code() {
        TrapCode::Exit => Error::Exit(ExitError::new(trap.exit_code().unwrap_or(0))),
        TrapCode::Interrupted => Error::Exit(ExitError::new(
            module.exit_code().unwrap_or(crate::EXIT_CODE_INTERRUPTED),
        )),
        _ => Error::Trap(trap),
    }
}

const TYPED_STACK: usize = 16;

/// A function with a signature checked once, called with Rust values and no allocation.
pub struct TypedFunction<P, R> {
    func: Function,
    _types: PhantomData<fn(P) -> R>,
}

impl<P: WasmValues, R: WasmValues> TypedFunction<P, R> {
    /// Calls the function.
    ///
    /// # Errors
    ///
    /// As [`Function::call`].
    #[inline]
    pub fn call(&self, params: P) -> Result<R> {
        let mut stack = [0u64; TYPED_STACK];
        params.store(&mut stack);
        self.func
            .call_with_stack(&mut stack[..P::LEN.max(R::LEN)])?;
        Ok(R::load(&stack))
    }

    /// The untyped function.
    pub fn function(&self) -> &Function {
        &self.func
    }
}

impl<P, R> Clone for TypedFunction<P, R> {
    fn clone(&self) -> Self {
        TypedFunction {
            func: self.func.clone(),
            _types: PhantomData,
        }
    }
}

impl<P, R> std::fmt::Debug for TypedFunction<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TypedFunction({})", self.func.definition().debug_name())
    }
}
