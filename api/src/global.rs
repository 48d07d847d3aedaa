//! Globals as the host sees them.

use crate::values::ValueType;
use std::fmt;

/// A global exported by a module. [`Global::as_mutable`] gives write access when the
/// global is mutable.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let wasm = wat::parse_str(r#"(module
///     (global (export "counter") (mut i32) (i32.const 41))
///     (global (export "pi") f64 (f64.const 3.14)))"#).unwrap();
/// let module = runtime.instantiate_bytes(&wasm)?;
/// let counter = module.exported_global("counter").unwrap();
/// counter.as_mutable().unwrap().set(kiln::encode_i32(42));
/// assert_eq!(kiln::decode_i32(counter.get()), 42);
/// assert_eq!(counter.to_string(), "global(i32) = 42");
/// assert!(module.exported_global("pi").unwrap().as_mutable().is_none());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Global {
    pub(crate) global: kiln_runtime::Global,
    /// For funcref globals: values read are remembered so the host may pass them back.
    pub(crate) runtime: std::sync::Weak<crate::runtime::RuntimeInner>,
}

/// A mutable global: a [`Global`] that can also be set.
#[derive(Clone)]
pub struct MutableGlobal {
    global: Global,
}

impl Global {
    /// The value type.
    pub fn ty(&self) -> ValueType {
        self.global.ty().content
    }

    /// Whether Wasm code and the host may change it.
    pub fn is_mutable(&self) -> bool {
        self.global.ty().mutable
    }

    /// The value (the low slot for a v128; see [`Global::get_v128`]).
    pub fn get(&self) -> u64 {
        let v = self.global.get()[0];
        if v != 0
            && self.ty() == ValueType::FuncRef
            && let Some(rt) = self.runtime.upgrade()
        {
            rt.remember_funcref(v);
        }
        v
    }

    /// The value of a v128 global.
    pub fn get_v128(&self) -> u128 {
        crate::decode_v128(self.global.get())
    }

    /// Write access, if the global is mutable.
    pub fn as_mutable(&self) -> Option<MutableGlobal> {
        self.is_mutable().then(|| MutableGlobal {
            global: self.clone(),
        })
    }
}

impl MutableGlobal {
    /// Sets the value. For a funcref global only 0 (null) or values obtained from Kiln
    /// (call results, global reads) are accepted; other values are refused (the global is
    /// left unchanged and `false` returned).
    pub fn set(&self, v: u64) -> bool {
        if self.global.ty() == ValueType::FuncRef
            && v != 0
            && !self
                .global
                .runtime
                .upgrade()
                .is_some_and(|rt| rt.is_known_funcref(v))
        {
            return false;
        }
        // An i32 or f32 is the low half of the slot (see `Function::call`).
        let v = if crate::function::is_narrow(self.global.ty()) {
            v & 0xFFFF_FFFF
        } else {
            v
        };
        self.global.global.set([v, 0]);
        true
    }

    /// Sets a v128 value.
    pub fn set_v128(&self, v: u128) {
        self.global.global.set(crate::encode_v128(v));
    }

    /// Read access.
    pub fn global(&self) -> &Global {
        &self.global
    }
}

impl std::ops::Deref for MutableGlobal {
    type Target = Global;
    fn deref(&self) -> &Global {
        &self.global
    }
}

impl fmt::Display for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.get();
        match self.ty() {
            ValueType::I32 => write!(f, "global({}) = {}", self.ty(), v as u32 as i32),
            ValueType::I64 => write!(f, "global({}) = {}", self.ty(), v as i64),
            ValueType::F32 => write!(f, "global({}) = {}", self.ty(), f32::from_bits(v as u32)),
            ValueType::F64 => write!(f, "global({}) = {}", self.ty(), f64::from_bits(v)),
            ValueType::V128 => write!(f, "global(v128) = {:#034x}", self.get_v128()),
            t => write!(f, "global({t}) = {v:#x}"),
        }
    }
}

impl fmt::Display for MutableGlobal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.global.fmt(f)
    }
}

impl fmt::Debug for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for MutableGlobal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mutable {}", self.global)
    }
}
