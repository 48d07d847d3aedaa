//! Value types, the `u64` slot encoding and the traits behind typed calls.
//!
//! Every value crosses the API as `u64` slots: i32 zero-extended, f32 as its bits in the low
//! half, i64 and f64 as their bits, a reference as one opaque slot with 0 for null, and a
//! v128 as two slots, low half first. The high half of an i32 or f32 slot passed in is
//! ignored (every engine clears it).

pub use kiln_runtime::ValType as ValueType;

/// The kind of an import or export, with its text-format name.
///
/// ```
/// assert_eq!(kiln::ExternType::Memory.name(), "memory");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExternType {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
}

impl ExternType {
    /// `func`, `table`, `memory` or `global`.
    pub fn name(self) -> &'static str {
        match self {
            ExternType::Func => "func",
            ExternType::Table => "table",
            ExternType::Memory => "memory",
            ExternType::Global => "global",
        }
    }
}

impl std::fmt::Display for ExternType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Encodes an i32 (zero-extended). `assert_eq!(kiln::encode_i32(-1), 0xffff_ffff);`
///
/// ```
/// assert_eq!(kiln::encode_i32(-1), 0xffff_ffff);
/// assert_eq!(kiln::decode_i32(kiln::encode_i32(-7)), -7);
/// ```
pub fn encode_i32(v: i32) -> u64 {
    v as u32 as u64
}

/// Decodes an i32 from the low 32 bits.
pub fn decode_i32(v: u64) -> i32 {
    v as u32 as i32
}

/// Encodes a u32.
///
/// ```
/// assert_eq!(kiln::decode_u32(kiln::encode_u32(u32::MAX)), u32::MAX);
/// ```
pub fn encode_u32(v: u32) -> u64 {
    v as u64
}

/// Decodes a u32 from the low 32 bits.
pub fn decode_u32(v: u64) -> u32 {
    v as u32
}

/// Encodes an i64.
///
/// ```
/// assert_eq!(kiln::decode_i64(kiln::encode_i64(-5)), -5);
/// ```
pub fn encode_i64(v: i64) -> u64 {
    v as u64
}

/// Decodes an i64.
pub fn decode_i64(v: u64) -> i64 {
    v as i64
}

/// Encodes an f32 as its bits.
///
/// ```
/// assert_eq!(kiln::decode_f32(kiln::encode_f32(1.5)), 1.5);
/// ```
pub fn encode_f32(v: f32) -> u64 {
    v.to_bits() as u64
}

/// Decodes an f32 from the low 32 bits.
pub fn decode_f32(v: u64) -> f32 {
    f32::from_bits(v as u32)
}

/// Encodes an f64 as its bits.
///
/// ```
/// assert_eq!(kiln::decode_f64(kiln::encode_f64(-0.25)), -0.25);
/// ```
pub fn encode_f64(v: f64) -> u64 {
    v.to_bits()
}

/// Decodes an f64.
pub fn decode_f64(v: u64) -> f64 {
    f64::from_bits(v)
}

/// Encodes an externref: any host value; 0 is null.
///
/// ```
/// assert_eq!(kiln::decode_externref(kiln::encode_externref(42)), 42);
/// ```
pub fn encode_externref(v: usize) -> u64 {
    v as u64
}

/// Decodes an externref.
pub fn decode_externref(v: u64) -> usize {
    v as usize
}

/// Encodes a funcref obtained from Kiln (opaque; 0 is null).
///
/// ```
/// assert_eq!(kiln::decode_funcref(kiln::encode_funcref(0)), 0);
/// ```
pub fn encode_funcref(v: u64) -> u64 {
    v
}

/// Decodes a funcref.
pub fn decode_funcref(v: u64) -> u64 {
    v
}

/// Encodes a v128 as two slots, low half first.
///
/// ```
/// let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
/// assert_eq!(kiln::decode_v128(kiln::encode_v128(v)), v);
/// assert_eq!(kiln::encode_v128(v)[0], 0x8899_aabb_ccdd_eeff);
/// ```
pub fn encode_v128(v: u128) -> [u64; 2] {
    [v as u64, (v >> 64) as u64]
}

/// Decodes a v128 from two slots, low half first.
pub fn decode_v128(v: [u64; 2]) -> u128 {
    v[0] as u128 | (v[1] as u128) << 64
}

/// An externref value in typed calls and typed host functions: any host number, 0 = null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExternRef(pub u64);

impl ExternRef {
    /// The null reference.
    pub const NULL: ExternRef = ExternRef(0);

    /// Whether this is null.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

/// A funcref value in typed calls: opaque, obtained from Kiln; 0 = null.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncRef(pub u64);

impl FuncRef {
    /// The null reference.
    pub const NULL: FuncRef = FuncRef(0);
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that stands for one Wasm value in typed calls and typed host functions:
/// `i32`/`u32` (i32), `i64`/`u64` (i64), `f32`, `f64`, `u128` (v128, two slots, low half
/// first), [`ExternRef`] and [`FuncRef`].
///
/// ```
/// use kiln::WasmValue;
/// let mut slots = [0u64; 2];
/// 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128.write_slots(&mut slots);
/// assert_eq!(slots, [0x8899_aabb_ccdd_eeff, 0x0011_2233_4455_6677]);
/// assert_eq!(<u128 as WasmValue>::SLOTS, 2);
/// assert_eq!(i32::read_slots(&[kiln::encode_i32(-3)]), -3);
/// ```
pub trait WasmValue: sealed::Sealed + Copy + Send + Sync + 'static {
    /// Its Wasm type.
    const TYPE: ValueType;
    /// How many `u64` slots it takes: 2 for a v128, 1 otherwise.
    const SLOTS: usize = 1;
    /// Encodes into `slots[..SLOTS]`.
    fn write_slots(self, slots: &mut [u64]);
    /// Decodes from `slots[..SLOTS]`.
    fn read_slots(slots: &[u64]) -> Self;
}

macro_rules! wasm_value {
    ($($t:ty => $vt:ident, |$x:ident| $enc:expr, |$y:ident| $dec:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl WasmValue for $t {
            const TYPE: ValueType = ValueType::$vt;
            #[inline]
            fn write_slots(self, slots: &mut [u64]) {
                let $x = self;
                slots[0] = $enc;
            }
            #[inline]
            fn read_slots(slots: &[u64]) -> Self {
                let $y = slots[0];
                $dec
            }
        }
    )*};
}

wasm_value! {
    i32 => I32, |x| encode_i32(x), |v| decode_i32(v);
    u32 => I32, |x| encode_u32(x), |v| decode_u32(v);
    i64 => I64, |x| encode_i64(x), |v| decode_i64(v);
    u64 => I64, |x| x, |v| v;
    f32 => F32, |x| encode_f32(x), |v| decode_f32(v);
    f64 => F64, |x| encode_f64(x), |v| decode_f64(v);
    ExternRef => ExternRef, |x| x.0, |v| ExternRef(v);
    FuncRef => FuncRef, |x| x.0, |v| FuncRef(v);
}

impl sealed::Sealed for u128 {}

/// A v128: two slots, low half first.
impl WasmValue for u128 {
    const TYPE: ValueType = ValueType::V128;
    const SLOTS: usize = 2;
    #[inline]
    fn write_slots(self, slots: &mut [u64]) {
        slots[..2].copy_from_slice(&encode_v128(self));
    }
    #[inline]
    fn read_slots(slots: &[u64]) -> Self {
        decode_v128([slots[0], slots[1]])
    }
}

/// A list of Wasm values: `()`, a single [`WasmValue`], or a tuple of them (up to 8).
pub trait WasmValues: Sized + Send + 'static {
    /// Number of slots they take (one per value, two per v128).
    const LEN: usize;
    /// Their Wasm types.
    fn types() -> Vec<ValueType>;
    /// Writes them into `stack[..LEN]`.
    fn store(self, stack: &mut [u64]);
    /// Reads them from `stack[..LEN]`.
    fn load(stack: &[u64]) -> Self;
}

impl WasmValues for () {
    const LEN: usize = 0;
    fn types() -> Vec<ValueType> {
        Vec::new()
    }
    fn store(self, _: &mut [u64]) {}
    fn load(_: &[u64]) -> Self {}
}

impl<T: WasmValue> WasmValues for T {
    const LEN: usize = T::SLOTS;
    fn types() -> Vec<ValueType> {
        vec![T::TYPE]
    }
    #[inline]
    fn store(self, stack: &mut [u64]) {
        self.write_slots(stack);
    }
    #[inline]
    fn load(stack: &[u64]) -> Self {
        T::read_slots(stack)
    }
}

macro_rules! wasm_tuple {
    ($n:expr; $($t:ident $i:tt),*) => {
        impl<$($t: WasmValue),*> WasmValues for ($($t,)*) {
            const LEN: usize = 0 $(+ $t::SLOTS)*;
            fn types() -> Vec<ValueType> {
                vec![$($t::TYPE),*]
            }
            #[inline]
            #[allow(unused_assignments)] // the last value's offset step
            fn store(self, stack: &mut [u64]) {
                let mut at = 0;
                $(
                    self.$i.write_slots(&mut stack[at..]);
                    at += $t::SLOTS;
                )*
            }
            #[inline]
            #[allow(unused_assignments)] // the last value's offset step
            fn load(stack: &[u64]) -> Self {
                let mut at = 0;
                ($({
                    let v = $t::read_slots(&stack[at..]);
                    at += $t::SLOTS;
                    v
                },)*)
            }
        }
    };
}

wasm_tuple!(1; A 0);
wasm_tuple!(2; A 0, B 1);
wasm_tuple!(3; A 0, B 1, C 2);
wasm_tuple!(4; A 0, B 1, C 2, D 3);
wasm_tuple!(5; A 0, B 1, C 2, D 3, E 4);
wasm_tuple!(6; A 0, B 1, C 2, D 3, E 4, F 5);
wasm_tuple!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
wasm_tuple!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
