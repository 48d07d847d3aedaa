//! Instances: linking, allocation of memories/tables/globals, segment initialisation, the
//! start function, and the handles (`Func`, `Extern`) embedders hold.

use crate::engine::Engine;
use crate::error::{Error, Result, Trap, TrapCode};
use crate::interp::{self, FuncCode};
use crate::module::{ConstExpr, ConstOp, DataMode, ElemMode, ExportIndex, Module};
use crate::types::{ExternType, FuncType, Limits, ValType};
use crate::vm::{
    Global, MemView, Memory, Table, VMContext, VMFuncRef, VMGlobalDefinition, VMMemoryDefinition,
    VMTableDefinition,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Weak};

/// The signature of a host function: reads its parameters from the slice and writes its
/// results back into it (wazero's stack style). The slice is `max(params, results)` slots.
pub type HostFn = dyn Fn(&Caller<'_>, &mut [u64]) -> std::result::Result<(), Trap> + Send + Sync;

/// A host function and its signature.
#[derive(Clone)]
pub struct HostFunc {
    /// Signature.
    pub ty: Arc<FuncType>,
    /// The implementation.
    pub func: Arc<HostFn>,
    /// Name (for backtraces and definitions).
    pub name: Option<String>,
}

/// What a host function can see of the Wasm code that called it.
pub struct Caller<'a> {
    pub(crate) instance: Option<&'a InstanceInner>,
    pub(crate) tier: CallerTier,
}

/// Which tier the code calling a host function runs in (a test hook for tiering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerTier {
    /// The embedder called the host function directly.
    Host,
    /// An interpreted Wasm function.
    Interpreter,
    /// A Wasm function in native code.
    Native,
}

impl Caller<'_> {
    /// The tier of the calling code.
    pub fn tier(&self) -> CallerTier {
        self.tier
    }

    /// The calling instance, if a Wasm function made the call.
    pub fn instance(&self) -> Option<Instance> {
        self.instance
            .and_then(|i| i.self_weak.upgrade())
            .map(Instance)
    }

    /// Memory 0 of the calling instance.
    pub fn memory(&self) -> Option<Memory> {
        self.instance.and_then(|i| i.memories.first().cloned())
    }
}

/// What a function index of an instance refers to.
pub(crate) enum Callee<'a> {
    /// A function defined in Wasm (its code comes from [`InstanceInner::code`]).
    Wasm,
    Host(&'a HostFunc),
}

/// An instantiated module (or a group of host functions).
pub(crate) struct InstanceInner {
    pub module: Option<Module>,
    pub engine: Engine,
    #[allow(
        dead_code,
        reason = "owns data that raw pointers in the VM context refer to"
    )]
    pub vmctx: Box<VMContext>,
    /// Indirection slots of the functions defined here.
    #[allow(
        dead_code,
        reason = "owns data that raw pointers in the VM context refer to"
    )]
    pub func_refs: Box<[VMFuncRef]>,
    /// Every function of the index space (imports point into other instances).
    pub funcs: Box<[*const VMFuncRef]>,
    pub memories: Vec<Memory>,
    #[allow(
        dead_code,
        reason = "owns data that raw pointers in the VM context refer to"
    )]
    pub mem_defs: Box<[*const VMMemoryDefinition]>,
    pub tables: Vec<Table>,
    #[allow(
        dead_code,
        reason = "owns data that raw pointers in the VM context refer to"
    )]
    pub table_defs: Box<[*const VMTableDefinition]>,
    pub globals: Vec<Global>,
    pub global_defs: Box<[*const VMGlobalDefinition]>,
    pub type_ids: Box<[u32]>,
    pub host_funcs: Vec<HostFunc>,
    pub dropped_elems: Box<[AtomicBool]>,
    pub dropped_datas: Box<[AtomicBool]>,
    pub interrupt: Arc<AtomicU32>,
    pub num_imported_funcs: u32,
    /// Export names of a host instance.
    pub host_exports: HashMap<String, u32>,
    /// Instances this one imports functions from (they must outlive it).
    #[allow(
        dead_code,
        reason = "owns data that raw pointers in the VM context refer to"
    )]
    pub keepalive: Vec<Arc<dyn Send + Sync>>,
    pub self_weak: Weak<InstanceInner>,
    pub name: std::sync::Mutex<Option<String>>,
    /// Data the embedding layer attaches (the `kiln` crate keeps its module handle here).
    pub embedder: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
}

#[allow(unsafe_code)]
// SAFETY: the raw pointers point into data owned by this instance or by instances kept
// alive through `keepalive`; everything they reach is atomic or immutable after
// construction.
unsafe impl Send for InstanceInner {}
#[allow(unsafe_code)]
// SAFETY: see above.
unsafe impl Sync for InstanceInner {}

impl InstanceInner {
    pub(crate) fn callee(&self, index: u32) -> Callee<'_> {
        match &self.module {
            Some(_) => Callee::Wasm,
            None => Callee::Host(&self.host_funcs[index as usize]),
        }
    }

    /// The interpreter code of defined function `index`, translating it on first use.
    pub(crate) fn code(&self, index: u32) -> std::result::Result<&FuncCode, Trap> {
        let module = self.module.as_ref().expect("wasm function has a module");
        let def = &module.0.defined[(index - self.num_imported_funcs) as usize];
        let code = def.code.get_or_init(|| {
            self.engine.count_interpreted();
            interp::translate(&module.0, index).map(Arc::new)
        });
        match code {
            Ok(c) => Ok(c),
            Err(e) => Err(Trap::host(format!("translation failed: {e}"))),
        }
    }

    #[inline]
    pub(crate) fn mem0_view(&self) -> MemView {
        match self.memories.first() {
            Some(m) => m.view(),
            None => MemView::EMPTY,
        }
    }

    pub(crate) fn func_name(&self, index: u32) -> Option<String> {
        match &self.module {
            Some(m) => m.func_name(index).map(str::to_string),
            None => self
                .host_funcs
                .get(index as usize)
                .and_then(|h| h.name.clone()),
        }
    }

    pub(crate) fn instance_name(&self) -> Option<String> {
        let n = self.name.lock().unwrap_or_else(|e| e.into_inner()).clone();
        n.or_else(|| {
            self.module
                .as_ref()
                .and_then(|m| m.name().map(str::to_string))
        })
    }

    /// Keeps the instance owning funcref `v` alive as long as `owner_of_storage` needs it.
    pub(crate) fn owner_arc(v: u64) -> Option<Arc<dyn Send + Sync>> {
        if v == 0 {
            return None;
        }
        let inst = interp::instance_of_funcref(v);
        inst.self_weak.upgrade().map(|a| a as Arc<dyn Send + Sync>)
    }
}

/// The bit of an interrupt word that stops calls: code of the instance, and calls from the
/// host that entered through it wherever their code runs, trap with `Interrupted` at their
/// next poll. It stays set (a stopped instance never runs again).
pub const INTERRUPT_STOP: u32 = 1;

/// One *poke* of an interrupt word (added and later subtracted; the count sits above
/// [`INTERRUPT_STOP`]). A poke makes code of the instance take the slow path of its polls,
/// which stops the call only if the instance it entered through is stopped: that is how
/// stopping an instance reaches its calls while they run code of other instances. Polls
/// compare the whole word with zero, so the fast path is unchanged.
pub const INTERRUPT_POKE: u32 = 2;

/// A live instance. Cloning is cheap and shares it.
#[derive(Clone)]
pub struct Instance(pub(crate) Arc<InstanceInner>);

/// A function of some instance.
#[derive(Clone)]
pub struct Func {
    instance: Instance,
    index: u32,
}

/// A [`Func`] that does not keep its instance alive.
#[derive(Clone)]
pub struct WeakFunc {
    instance: Weak<InstanceInner>,
    index: u32,
}

impl WeakFunc {
    /// A handle that never upgrades.
    pub fn dangling() -> WeakFunc {
        WeakFunc {
            instance: Weak::new(),
            index: 0,
        }
    }

    /// The function, if its instance is still alive.
    pub fn upgrade(&self) -> Option<Func> {
        Some(Func {
            instance: Instance(self.instance.upgrade()?),
            index: self.index,
        })
    }
}

/// An importable / exportable entity.
#[derive(Clone)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl Extern {
    /// The type of the entity as import matching sees it (current sizes).
    pub fn ty(&self) -> ExternType {
        match self {
            Extern::Func(f) => ExternType::Func(f.ty().clone()),
            Extern::Table(t) => ExternType::Table(t.current_type()),
            Extern::Memory(m) => ExternType::Memory(m.current_type()),
            Extern::Global(g) => ExternType::Global(g.ty()),
        }
    }
}

impl Func {
    /// Creates a host function.
    pub fn host(
        engine: &Engine,
        ty: FuncType,
        name: Option<String>,
        f: impl Fn(&Caller<'_>, &mut [u64]) -> std::result::Result<(), Trap> + Send + Sync + 'static,
    ) -> Func {
        let host = HostFunc {
            ty: Arc::new(ty),
            func: Arc::new(f),
            name,
        };
        let inst = Instance::new_host(engine, vec![host]);
        Func {
            instance: inst,
            index: 0,
        }
    }

    /// The signature.
    pub fn ty(&self) -> &FuncType {
        let r = self.vmfuncref();
        let inst = interp::instance_of_funcref(r as *const _ as u64);
        match inst.callee(r.index) {
            Callee::Host(h) => &h.ty,
            Callee::Wasm => inst
                .module
                .as_ref()
                .expect("wasm function has a module")
                .func_type(r.index)
                .expect("valid index"),
        }
    }

    fn vmfuncref(&self) -> &VMFuncRef {
        let p = self.instance.0.funcs[self.index as usize];
        interp::funcref(p as u64)
    }

    /// The instance this handle was obtained from.
    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Index of the function in the instance's function space.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether this is a host function.
    pub fn is_host(&self) -> bool {
        let r = self.vmfuncref();
        matches!(
            interp::instance_of_funcref(r as *const _ as u64).callee(r.index),
            Callee::Host(_)
        )
    }

    /// Calls the function: parameters in `stack[..params]`, results out in
    /// `stack[..results]`; `stack` must hold `max(param slots, result slots)`.
    ///
    /// The call *enters through* this handle's instance (for an imported function, the
    /// importer): stopping that instance ([`INTERRUPT_STOP`] in its interrupt word) stops
    /// the call wherever its code runs, once the word of the running code's instance is
    /// poked ([`INTERRUPT_POKE`]).
    pub fn call(&self, stack: &mut [u64]) -> std::result::Result<(), Trap> {
        let p = self.instance.0.funcs[self.index as usize];
        interp::with_entered(&self.instance.0.interrupt, || {
            interp::invoke(interp::funcref(p as u64), stack)
        })
    }

    /// A handle that does not keep the instance alive.
    pub fn downgrade(&self) -> WeakFunc {
        WeakFunc {
            instance: Arc::downgrade(&self.instance.0),
            index: self.index,
        }
    }

    /// The funcref value of this function (an opaque non-zero `u64`).
    pub fn to_raw(&self) -> u64 {
        self.instance.0.funcs[self.index as usize] as u64
    }

    /// The indirection slot of this function (for the optimizing tier and diagnostics).
    /// Its code pointers cannot be written through it (see [`VMFuncRef`]).
    pub fn slot(&self) -> &VMFuncRef {
        self.vmfuncref()
    }
}

fn limits_match(actual: Limits, expected: Limits) -> bool {
    actual.min >= expected.min
        && match expected.max {
            None => true,
            Some(em) => actual.max.is_some_and(|am| am <= em),
        }
}

fn eval_const(
    expr: &ConstExpr,
    globals: &[Global],
    funcs: &[*const VMFuncRef],
) -> Result<[u64; 2]> {
    let mut stack: Vec<[u64; 2]> = Vec::new();
    for op in &expr.0 {
        let v = match *op {
            ConstOp::I32(v) => [v as u32 as u64, 0],
            ConstOp::I64(v) => [v as u64, 0],
            ConstOp::F32(v) => [v as u64, 0],
            ConstOp::F64(v) => [v, 0],
            ConstOp::V128(v) => [v as u64, (v >> 64) as u64],
            ConstOp::RefNull => [0, 0],
            ConstOp::RefFunc(f) => [funcs[f as usize] as u64, 0],
            ConstOp::GlobalGet(g) => globals[g as usize].get(),
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().unwrap_or_default()[0] as u32;
                let a = stack.pop().unwrap_or_default()[0] as u32;
                let r = match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                [r as u64, 0]
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().unwrap_or_default()[0];
                let a = stack.pop().unwrap_or_default()[0];
                let r = match *op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                };
                [r, 0]
            }
        };
        if expr.0.len() == 1 {
            // Nearly every expression is a single instruction: no stack needed.
            return Ok(v);
        }
        stack.push(v);
    }
    stack
        .pop()
        .ok_or_else(|| Error::Compile("empty constant expression".into()))
}

impl Instance {
    /// Creates an instance of host functions, exported under the given names.
    pub fn host(engine: &Engine, funcs: Vec<(String, HostFunc)>) -> Instance {
        let exports = funcs
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i as u32))
            .collect();
        Instance::new_host_with_exports(
            engine,
            funcs.into_iter().map(|(_, f)| f).collect(),
            exports,
        )
    }

    fn new_host(engine: &Engine, host_funcs: Vec<HostFunc>) -> Instance {
        Instance::new_host_with_exports(engine, host_funcs, HashMap::new())
    }

    fn new_host_with_exports(
        engine: &Engine,
        host_funcs: Vec<HostFunc>,
        host_exports: HashMap<String, u32>,
    ) -> Instance {
        let type_ids: Box<[u32]> = host_funcs
            .iter()
            .map(|h| engine.intern_type(&h.ty))
            .collect();
        let n = host_funcs.len();
        let inner = Arc::new_cyclic(|weak: &Weak<InstanceInner>| {
            let vmctx = Box::new(VMContext {
                memory0: std::ptr::null(),
                memories: std::ptr::null(),
                tables: std::ptr::null(),
                globals: std::ptr::null(),
                funcs: std::ptr::null(),
                type_ids: std::ptr::null(),
                interrupt: std::ptr::null(),
                instance: weak.as_ptr() as *const (),
                fuel: &**engine.fuel_counter(),
                bodies: std::ptr::null(),
            });
            let vmctx_ptr: *const VMContext = &*vmctx;
            let func_refs: Box<[VMFuncRef]> = (0..n)
                .map(|i| VMFuncRef {
                    // The adapter, set by `link_slots`.
                    native_code: AtomicPtr::new(std::ptr::null_mut()),
                    vmctx: vmctx_ptr,
                    type_id: type_ids[i],
                    index: i as u32,
                    interp_code: AtomicPtr::new(std::ptr::null_mut()),
                    array_call: AtomicPtr::new(std::ptr::null_mut()),
                })
                .collect();
            let funcs: Box<[*const VMFuncRef]> =
                func_refs.iter().map(|r| r as *const VMFuncRef).collect();
            InstanceInner {
                module: None,
                engine: engine.clone(),
                vmctx,
                func_refs,
                funcs,
                memories: Vec::new(),
                mem_defs: Box::new([]),
                tables: Vec::new(),
                table_defs: Box::new([]),
                globals: Vec::new(),
                global_defs: Box::new([]),
                type_ids,
                host_funcs,
                dropped_elems: Box::new([]),
                dropped_datas: Box::new([]),
                interrupt: engine.interrupt_flag(),
                num_imported_funcs: 0,
                host_exports,
                keepalive: Vec::new(),
                self_weak: weak.clone(),
                name: std::sync::Mutex::new(None),
                embedder: std::sync::OnceLock::new(),
            }
        });
        // Linking a host instance does not fail (a type without an adapter keeps a null
        // entry, as it always has).
        let _ = engine.link_or_defer(&inner);
        Instance(inner)
    }

    /// Instantiates `module` with `imports` given in the module's import order: links,
    /// allocates, initialises segments and runs the start function.
    ///
    /// # Errors
    ///
    /// [`Error::Link`] for missing or mistyped imports, [`Error::Unsupported`] for SIMD
    /// modules (not executable yet), [`Error::Instantiate`] for limits, and
    /// [`Error::Trap`] when a segment is out of bounds or the start function traps.
    pub fn new(module: &Module, imports: &[Extern]) -> Result<Instance> {
        Instance::new_with_interrupt(module, imports, module.engine().interrupt_flag())
    }

    /// Like [`Instance::new`], with the interrupt word of this instance (by default the
    /// engine's flag, which interrupts every call of the engine); see [`INTERRUPT_STOP`].
    ///
    /// # Errors
    ///
    /// As [`Instance::new`].
    pub fn new_with_interrupt(
        module: &Module,
        imports: &[Extern],
        interrupt: Arc<AtomicU32>,
    ) -> Result<Instance> {
        let inst = Instance::allocate(module, imports, interrupt)?;
        inst.initialize()?;
        Ok(inst)
    }

    fn allocate(
        module: &Module,
        imports: &[Extern],
        interrupt: Arc<AtomicU32>,
    ) -> Result<Instance> {
        let m = &module.0;
        let engine = m.engine.clone();
        if imports.len() != m.imports.len() {
            return Err(Error::Link(format!(
                "expected {} imports, got {}",
                m.imports.len(),
                imports.len()
            )));
        }
        let mut funcs: Vec<*const VMFuncRef> = Vec::with_capacity(m.funcs.len());
        let mut memories = Vec::new();
        let mut tables = Vec::new();
        let mut globals = Vec::new();
        let mut keepalive: Vec<Arc<dyn Send + Sync>> = Vec::new();
        for (imp, ext) in m.imports.iter().zip(imports) {
            let bad = || {
                Error::Link(format!(
                    "incompatible import type for {}::{}: expected {}, got {}",
                    imp.module,
                    imp.name,
                    imp.ty.kind_name(),
                    ext.ty().kind_name()
                ))
            };
            match (&imp.ty, ext) {
                (ExternType::Func(ft), Extern::Func(f)) => {
                    if f.ty() != ft {
                        return Err(Error::Link(format!(
                            "incompatible import type for {}::{}: expected func {ft}, got func {}",
                            imp.module,
                            imp.name,
                            f.ty()
                        )));
                    }
                    if !f.instance.0.engine.same(&engine) {
                        return Err(Error::Link("import from another engine".into()));
                    }
                    funcs.push(f.instance.0.funcs[f.index as usize]);
                    keepalive.push(f.instance.0.clone());
                }
                (ExternType::Table(tt), Extern::Table(t)) => {
                    let actual = t.current_type();
                    if actual.element != tt.element || !limits_match(actual.limits, tt.limits) {
                        return Err(bad());
                    }
                    tables.push(t.clone());
                }
                (ExternType::Memory(mt), Extern::Memory(mem)) => {
                    let actual = mem.current_type();
                    if !limits_match(actual.limits, mt.limits) {
                        return Err(bad());
                    }
                    memories.push(mem.clone());
                }
                (ExternType::Global(gt), Extern::Global(g)) => {
                    if g.ty() != *gt {
                        return Err(bad());
                    }
                    globals.push(g.clone());
                }
                _ => return Err(bad()),
            }
        }
        let limits = engine.config();
        for mt in &m.memories[m.num_imported_memories as usize..] {
            memories.push(Memory::new_accounted(
                *mt,
                limits.memory_limit_pages,
                engine.accounting(),
            )?);
        }
        for tt in &m.tables[m.num_imported_tables as usize..] {
            tables.push(Table::new_accounted(
                *tt,
                0,
                limits.table_limit_elements,
                engine.accounting(),
            )?);
        }
        let num_imported_funcs = m.num_imported_funcs;
        let num_defined = m.funcs.len() - num_imported_funcs as usize;
        let type_ids: Box<[u32]> = m.type_ids.clone().into_boxed_slice();
        let mem_defs: Box<[*const VMMemoryDefinition]> =
            memories.iter().map(|x| x.definition()).collect();
        let table_defs: Box<[*const VMTableDefinition]> =
            tables.iter().map(|x| x.definition()).collect();
        // Boxed data never moves, so the context can point into it before the instance
        // itself exists; only the back pointer to the instance is filled in last.
        let mut vmctx = Box::new(VMContext {
            memory0: mem_defs.first().copied().unwrap_or(std::ptr::null()),
            memories: mem_defs.as_ptr(),
            tables: table_defs.as_ptr(),
            globals: std::ptr::null(),
            funcs: std::ptr::null(),
            type_ids: type_ids.as_ptr(),
            interrupt: &*interrupt,
            instance: std::ptr::null(),
            fuel: &**engine.fuel_counter(),
            // The module outlives the instance, which holds it.
            bodies: m
                .tiering
                .as_ref()
                .map_or(std::ptr::null(), |t| t.bodies.as_ptr()),
        });
        let vmctx_ptr: *const VMContext = &*vmctx;
        let func_refs: Box<[VMFuncRef]> = (0..num_defined)
            .map(|i| {
                let index = num_imported_funcs + i as u32;
                VMFuncRef {
                    native_code: AtomicPtr::new(std::ptr::null_mut()),
                    vmctx: vmctx_ptr,
                    type_id: type_ids[m.funcs[index as usize] as usize],
                    index,
                    interp_code: AtomicPtr::new(std::ptr::null_mut()),
                    array_call: AtomicPtr::new(std::ptr::null_mut()),
                }
            })
            .collect();
        // Engine `tiered`: linking and joining the module's live list happen under one
        // lock, so code published meanwhile reaches this instance either way.
        let mut live = m
            .tiering
            .as_ref()
            .map(|t| t.live.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(backend) = engine.backend() {
            check_guarded(backend.as_ref(), &memories)?;
        }
        funcs.extend(func_refs.iter().map(|r| r as *const VMFuncRef));
        let funcs = funcs.into_boxed_slice();
        for (i, gt) in m.globals[m.num_imported_globals as usize..]
            .iter()
            .enumerate()
        {
            let v = eval_const(&m.global_inits[i], &globals, &funcs)?;
            globals.push(Global::new(*gt, v));
        }
        let global_defs: Box<[*const VMGlobalDefinition]> =
            globals.iter().map(|g| g.definition()).collect();
        vmctx.globals = global_defs.as_ptr();
        vmctx.funcs = funcs.as_ptr();
        let inner = Arc::new_cyclic(|weak: &Weak<InstanceInner>| {
            vmctx.instance = weak.as_ptr() as *const ();
            InstanceInner {
                module: Some(module.clone()),
                engine: engine.clone(),
                vmctx,
                func_refs,
                funcs,
                memories,
                mem_defs,
                tables,
                table_defs,
                globals,
                global_defs,
                type_ids,
                host_funcs: Vec::new(),
                dropped_elems: (0..m.elems.len()).map(|_| AtomicBool::new(false)).collect(),
                dropped_datas: (0..m.datas.len()).map(|_| AtomicBool::new(false)).collect(),
                interrupt,
                num_imported_funcs,
                host_exports: HashMap::new(),
                keepalive,
                self_weak: weak.clone(),
                name: std::sync::Mutex::new(None),
                embedder: std::sync::OnceLock::new(),
            }
        });
        if let Some(live) = live.as_mut() {
            live.push(Arc::downgrade(&inner));
        }
        engine.link_or_defer(&inner)?;
        drop(live);
        let owner = Arc::as_ptr(&inner) as usize;
        for t in &inner.tables[m.num_imported_tables as usize..] {
            t.set_owner(owner);
        }
        for g in &inner.globals[m.num_imported_globals as usize..] {
            g.set_owner(owner);
        }
        Ok(Instance(inner))
    }

    fn initialize(&self) -> Result<()> {
        let inst = &self.0;
        let m = &inst.module.as_ref().expect("module instance").0;
        for (i, seg) in m.elems.iter().enumerate() {
            match &seg.mode {
                ElemMode::Active { table, offset } => {
                    let off = eval_const(offset, &inst.globals, &inst.funcs)?[0] as u32 as u64;
                    let t = &inst.tables[*table as usize];
                    let n = seg.items.len() as u64;
                    if off + n > t.size() {
                        return Err(Trap::new(TrapCode::TableOutOfBounds).into());
                    }
                    for (k, item) in seg.items.iter().enumerate() {
                        let v = eval_const(item, &inst.globals, &inst.funcs)?[0];
                        retain_in_table(t, v);
                        t.set(off + k as u64, v);
                    }
                    inst.dropped_elems[i].store(true, Ordering::Relaxed);
                }
                ElemMode::Declared => inst.dropped_elems[i].store(true, Ordering::Relaxed),
                ElemMode::Passive => {}
            }
        }
        for (i, seg) in m.datas.iter().enumerate() {
            if let DataMode::Active { memory, offset } = &seg.mode {
                let off = eval_const(offset, &inst.globals, &inst.funcs)?[0] as u32 as u64;
                let view = inst.memories[*memory as usize].view();
                view.write(off, &m.bytes[seg.range.clone()])
                    .map_err(|c| Error::Trap(Trap::new(c)))?;
                inst.dropped_datas[i].store(true, Ordering::Relaxed);
            }
        }
        if let Some(start) = m.start {
            let f = Func {
                instance: self.clone(),
                index: start,
            };
            f.call(&mut [])?;
        }
        Ok(())
    }

    /// The module this instance was created from (`None` for host functions).
    pub fn module(&self) -> Option<&Module> {
        self.0.module.as_ref()
    }

    /// Looks up export `name`.
    pub fn export(&self, name: &str) -> Option<Extern> {
        let Some(m) = self.0.module.as_ref() else {
            let index = *self.0.host_exports.get(name)?;
            return Some(Extern::Func(Func {
                instance: self.clone(),
                index,
            }));
        };
        Some(match m.export_index(name)? {
            ExportIndex::Func(i) => Extern::Func(Func {
                instance: self.clone(),
                index: i,
            }),
            ExportIndex::Table(i) => Extern::Table(self.0.tables[i as usize].clone()),
            ExportIndex::Memory(i) => Extern::Memory(self.0.memories[i as usize].clone()),
            ExportIndex::Global(i) => Extern::Global(self.0.globals[i as usize].clone()),
        })
    }

    /// Function `index` of the instance's function space.
    pub fn func(&self, index: u32) -> Option<Func> {
        ((index as usize) < self.0.funcs.len()).then(|| Func {
            instance: self.clone(),
            index,
        })
    }

    /// Memory `index`.
    pub fn memory(&self, index: u32) -> Option<&Memory> {
        self.0.memories.get(index as usize)
    }

    /// Global `index`.
    pub fn global(&self, index: u32) -> Option<&Global> {
        self.0.globals.get(index as usize)
    }

    /// The interrupt word of this instance (see [`INTERRUPT_STOP`], [`INTERRUPT_POKE`]).
    pub fn interrupt_flag(&self) -> &Arc<AtomicU32> {
        &self.0.interrupt
    }

    /// Export names of a host instance, in no particular order.
    pub fn host_export_names(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.host_exports.iter().map(|(n, i)| (n.as_str(), *i))
    }

    /// The host function behind function `index` of a host instance.
    pub fn host_func(&self, index: u32) -> Option<&HostFunc> {
        if self.0.module.is_some() {
            return None;
        }
        self.0.host_funcs.get(index as usize)
    }

    /// Attaches embedder data once; returns false if some was already attached.
    pub fn set_embedder_data(&self, data: Box<dyn std::any::Any + Send + Sync>) -> bool {
        self.0.embedder.set(data).is_ok()
    }

    /// The embedder data attached with [`Instance::set_embedder_data`].
    pub fn embedder_data(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        self.0.embedder.get().map(|b| &**b)
    }

    /// Sets the instance name shown in backtraces.
    pub fn set_name(&self, name: impl Into<String>) {
        *self.0.name.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.into());
    }

    /// The instance name: the one set, else the module's from the name section.
    pub fn name(&self) -> Option<String> {
        self.0.instance_name()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// Whether two handles are the same instance.
    pub fn same(&self, other: &Instance) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Fails when the engine's native code needs guard pages that `memories` lack (checked at
/// instantiation even while linking is deferred, so code published later can use them).
fn check_guarded(backend: &dyn crate::engine::NativeBackend, memories: &[Memory]) -> Result<()> {
    if backend.needs_guarded_memory() && memories.iter().any(|m| !m.is_guarded()) {
        return Err(Error::Instantiate(
            "native code needs 8 GiB of address space per memory, which could not be reserved"
                .into(),
        ));
    }
    Ok(())
}

/// Points the indirection slots of `inst` at native code: compiled code where the module
/// has it (engine `jit`) or has published it (engine `tiered`), else the adapter of the
/// function's type (always the adapter for host functions). See
/// [`Engine::link_or_defer`] for when.
pub(crate) fn link_slots(
    backend: &dyn crate::engine::NativeBackend,
    inst: &InstanceInner,
) -> Result<()> {
    let Some(module) = &inst.module else {
        for (r, h) in inst.func_refs.iter().zip(&inst.host_funcs) {
            if let Ok(t) = backend.trampolines(&h.ty) {
                r.native_code.store(t.adapter as *mut u8, Ordering::Release);
            }
        }
        return Ok(());
    };
    let m = &module.0;
    let code = m.native.get();
    let mut cache: HashMap<u32, crate::engine::Trampolines> = HashMap::new();
    for r in inst.func_refs.iter() {
        let ty_index = m.funcs[r.index as usize];
        let t = match cache.get(&ty_index) {
            Some(t) => *t,
            None => {
                let t = backend.trampolines(&m.types[ty_index as usize])?;
                cache.insert(ty_index, t);
                t
            }
        };
        let published = m.tiering.as_ref().and_then(|t| {
            let e = t.funcs[(r.index - m.num_imported_funcs) as usize]
                .entry
                .load(Ordering::SeqCst);
            (e != 0).then_some(e as *const u8)
        });
        match code.and_then(|c| c.code().entry(r.index)).or(published) {
            Some(entry) => {
                r.native_code.store(entry as *mut u8, Ordering::Release);
                r.array_call
                    .store(t.array_call as *mut u8, Ordering::Release);
            }
            None => r.native_code.store(t.adapter as *mut u8, Ordering::Release),
        }
    }
    Ok(())
}

/// Makes `table` keep alive the instance that owns funcref `v`, unless that is the table's
/// own instance (which would be a cycle).
pub(crate) fn retain_in_table(table: &Table, v: u64) {
    if v == 0 || table.element() != ValType::FuncRef {
        return;
    }
    let owner = interp::instance_of_funcref(v) as *const InstanceInner as usize;
    if owner != table.owner()
        && let Some(a) = InstanceInner::owner_arc(v)
    {
        table.keep_alive(a);
    }
}

/// Same as [`retain_in_table`] for a global.
pub(crate) fn retain_in_global(global: &Global, v: u64) {
    if v == 0 || global.ty().content != ValType::FuncRef {
        return;
    }
    let owner = interp::instance_of_funcref(v) as *const InstanceInner as usize;
    if owner != global.owner()
        && let Some(a) = InstanceInner::owner_arc(v)
    {
        global.keep_alive(a);
    }
}

/// Evaluates an element-segment item in the context of `inst`.
pub(crate) fn eval_item(inst: &InstanceInner, e: &ConstExpr) -> Result<u64> {
    Ok(eval_const(e, &inst.globals, &inst.funcs)?[0])
}
