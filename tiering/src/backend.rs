//! The Cranelift backend the runtime calls ([`kiln_runtime::NativeBackend`]): compiles
//! modules (in parallel on the rayon pool) and per-signature trampolines into executable
//! memory registered with the runtime's trap handler.

use crate::code_memory::{CodeBuilder, CodeRegion};
use crate::trampoline;
use crate::translate::{
    BODY_NAMESPACE, BoundsChecks, TranslateOptions, entry_stub, translate_body, translate_function,
};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, ir};
use cranelift_codegen::{FinalizedRelocTarget, MachTrap};
use cranelift_frontend::FunctionBuilderContext;
use kiln_runtime::vm::native::{self, NativeCode, Registered};
use kiln_runtime::{
    BatchFunction, CompiledBatch, Error, FuncType, Module, NativeBackend, OsrEntry, Result,
    Trampolines,
};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cranelift for the host, as Kiln configures it.
///
/// # Errors
///
/// When the host is not supported by Cranelift.
pub fn host_isa() -> std::result::Result<OwnedTargetIsa, String> {
    let mut flags = settings::builder();
    let verify = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    for (k, v) in [
        ("opt_level", "speed"),
        // Backtraces and the trap handler walk frame pointers.
        ("preserve_frame_pointers", "true"),
        // Large frames touch every page, so stack overflow always hits the guard page.
        ("enable_probestack", "true"),
        ("probestack_strategy", "inline"),
        // Wasm functions may return more values than there are return registers.
        ("enable_multi_ret_implicit_sret", "true"),
        ("enable_verifier", verify),
    ] {
        flags
            .set(k, v)
            .map_err(|e| format!("cranelift setting {k}: {e}"))?;
    }
    let builder = cranelift_native::builder()?;
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())
}

/// Compiles `func` to machine code and its trap sites.
///
/// # Errors
///
/// When Cranelift rejects the function or the code needs relocations.
pub fn compile_function(
    isa: &dyn TargetIsa,
    ctx: &mut Context,
    func: ir::Function,
) -> std::result::Result<Compiled, String> {
    ctx.clear();
    ctx.func = func;
    let names = ctx.func.params.user_named_funcs().clone();
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| format!("code generation failed: {:?}", e.inner))?;
    let mut calls = Vec::new();
    for r in code.buffer.relocs() {
        let target = match (&r.kind, &r.target) {
            (
                Reloc::X86CallPCRel4 | Reloc::X86PCRel4,
                FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)),
            ) => &names[*name],
            (kind, target) => {
                return Err(format!(
                    "unsupported: code with relocation {kind:?} to {target:?}"
                ));
            }
        };
        calls.push(DirectCall {
            offset: r.offset,
            target: target.index,
            body: target.namespace == BODY_NAMESPACE,
            addend: r.addend,
        });
    }
    Ok(Compiled {
        code: code.code_buffer().to_vec(),
        traps: code.buffer.traps().to_vec(),
        calls,
    })
}

/// A `call rel32` to another function of the same code block, to patch at layout.
#[derive(Clone, Copy, Debug)]
pub struct DirectCall {
    /// Offset of the 32-bit displacement within the calling function.
    pub offset: u32,
    /// Wasm index of the called function.
    pub target: u32,
    /// Whether the call enters the function's body (`u1:target`) rather than its public
    /// entry (`u0:target`).
    pub body: bool,
    /// Added to the target address (Cranelift's convention for PC-relative fields).
    pub addend: i64,
}

/// One compiled function: code, trap sites and direct calls to patch.
#[derive(Clone)]
pub struct Compiled {
    /// Machine code.
    pub code: Vec<u8>,
    /// Trap sites.
    pub traps: Vec<MachTrap>,
    /// Direct calls.
    pub calls: Vec<DirectCall>,
}

/// Kiln's optimizing tier as a [`NativeBackend`].
pub struct CraneliftBackend {
    isa: OwnedTargetIsa,
    options: TranslateOptions,
    trampolines: Mutex<HashMap<FuncType, Trampolines>>,
    /// Code of the trampolines (lives as long as the backend).
    trampoline_code: Mutex<Vec<Registered>>,
    /// The stubs of tiered functions by type (see [`CraneliftBackend::tiered_stub`]).
    stubs: Mutex<HashMap<(FuncType, Stub), Compiled>>,
}

/// The stubs of a tiered function, which call its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Stub {
    /// The public entry ([`entry_stub`]).
    Entry,
    /// The OSR entry ([`osr_stub`](crate::translate::osr_stub)).
    Osr,
}

impl CraneliftBackend {
    /// A backend for the host with `options`.
    ///
    /// # Errors
    ///
    /// When native code is not supported on this host.
    pub fn new(options: TranslateOptions) -> std::result::Result<CraneliftBackend, String> {
        if !native::is_supported() {
            return Err("unsupported: native code on this platform (Linux x86-64 only)".into());
        }
        Ok(CraneliftBackend {
            isa: host_isa()?,
            options,
            trampolines: Mutex::new(HashMap::new()),
            trampoline_code: Mutex::new(Vec::new()),
            stubs: Mutex::new(HashMap::new()),
        })
    }

    /// The target ISA.
    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    /// The translation options.
    pub fn options(&self) -> &TranslateOptions {
        &self.options
    }

    /// Translates and compiles defined function `index` of `module`: its public entry
    /// and, with direct calls, its body (the entry is then an
    /// [`crate::translate::entry_stub`]).
    ///
    /// # Errors
    ///
    /// Translation or code generation errors.
    pub fn compile_one(
        &self,
        module: &Module,
        index: u32,
        fctx: &mut FunctionBuilderContext,
        ctx: &mut Context,
    ) -> Result<CompiledFunction> {
        self.compile_entry(module, index, self.options.direct_calls, fctx, ctx)
    }

    /// Translates and compiles defined function `index` as a body plus entry stub (the
    /// body calls itself directly; other calls follow the options).
    ///
    /// # Errors
    ///
    /// Translation or code generation errors.
    pub fn compile_body_and_stub(
        &self,
        module: &Module,
        index: u32,
        fctx: &mut FunctionBuilderContext,
        ctx: &mut Context,
    ) -> Result<CompiledFunction> {
        self.compile_entry(module, index, true, fctx, ctx)
    }

    fn compile_entry(
        &self,
        module: &Module,
        index: u32,
        with_body: bool,
        fctx: &mut FunctionBuilderContext,
        ctx: &mut Context,
    ) -> Result<CompiledFunction> {
        let translate = if with_body {
            translate_body
        } else {
            translate_function
        };
        let func =
            translate(module, index, &self.options, &*self.isa, fctx).map_err(translate_err)?;
        let code = self.compile_translated(index, ctx, func)?;
        if !with_body {
            return Ok(CompiledFunction {
                entry: code,
                body: None,
            });
        }
        let ty = module
            .func_type(index)
            .ok_or_else(|| Error::Compile(format!("no function {index}")))?;
        let stub = entry_stub(ty, index, false, &*self.isa, fctx);
        Ok(CompiledFunction {
            entry: self.compile_translated(index, ctx, stub)?,
            body: Some(code),
        })
    }

    /// Translates and compiles defined function `index` for engine `tiered`: its body
    /// (which OSR entries enter too), the public entry stub and, when a loop can be
    /// entered, the OSR stub with the ordinals of those loops.
    ///
    /// # Errors
    ///
    /// Translation or code generation errors.
    pub fn compile_tiered(
        &self,
        module: &Module,
        index: u32,
        fctx: &mut FunctionBuilderContext,
        ctx: &mut Context,
    ) -> Result<TieredFunction> {
        let (func, loops) =
            crate::translate::translate_tiered_body(module, index, &self.options, &*self.isa, fctx)
                .map_err(translate_err)?;
        let body = self.compile_translated(index, ctx, func)?;
        let ty = module
            .func_type(index)
            .ok_or_else(|| Error::Compile(format!("no function {index}")))?;
        let entry = self.tiered_stub(ty, index, Stub::Entry, fctx, ctx)?;
        let osr = if loops.is_empty() {
            None
        } else {
            Some((self.tiered_stub(ty, index, Stub::Osr, fctx, ctx)?, loops))
        };
        Ok(TieredFunction { body, entry, osr })
    }

    /// A stub of tiered function `index` of type `ty`. Stubs of one type differ only in
    /// the body they call, a direct call patched at layout, so each is compiled once per
    /// type and reused with its call retargeted: the two stubs cost ~55 µs of compile per
    /// function, a sixth of a small function's job (measured on the switch kernel).
    fn tiered_stub(
        &self,
        ty: &FuncType,
        index: u32,
        kind: Stub,
        fctx: &mut FunctionBuilderContext,
        ctx: &mut Context,
    ) -> Result<Compiled> {
        let key = (ty.clone(), kind);
        let cached = self
            .stubs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let mut stub = match cached {
            Some(stub) => stub,
            None => {
                let func = match kind {
                    Stub::Entry => entry_stub(ty, index, true, &*self.isa, fctx),
                    Stub::Osr => crate::translate::osr_stub(ty, index, &*self.isa, fctx),
                };
                let stub = self.compile_translated(index, ctx, func)?;
                self.stubs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, stub.clone());
                stub
            }
        };
        // A stub's only direct call is to its function's body.
        for call in &mut stub.calls {
            call.target = index;
        }
        Ok(stub)
    }

    /// Compiles defined functions `indices` of `module` for engine `tiered` (see
    /// [`CraneliftBackend::compile_tiered`]) into one code block appended to `region`
    /// (the module's). A function that cannot be compiled is reported in
    /// [`BatchOutcome::failed`] and left out; the others still make the batch.
    pub fn compile_batch(
        &self,
        module: &Module,
        indices: &[u32],
        region: &CodeRegion,
    ) -> BatchOutcome {
        let mut failed = Vec::new();
        let mut builder = CodeBuilder::default();
        let mut placed = Vec::with_capacity(indices.len());
        with_contexts(|fctx, ctx| {
            for &index in indices {
                match self.compile_tiered(module, index, fctx, ctx) {
                    Ok(c) => placed.push(Placed::push(&mut builder, index, c)),
                    Err(e) => failed.push((index, e)),
                }
            }
        });
        if placed.is_empty() {
            return BatchOutcome {
                batch: None,
                failed,
                code_bytes: 0,
            };
        }
        let code_bytes = builder.len();
        let memory = match builder.finish_in(region) {
            Ok(memory) => memory,
            Err(e) => {
                let message = format!("cannot map code memory: {e}");
                failed.extend(
                    placed
                        .iter()
                        .map(|p| (p.index, Error::Compile(message.clone()))),
                );
                return BatchOutcome {
                    batch: None,
                    failed,
                    code_bytes: 0,
                };
            }
        };
        let functions = placed.into_iter().map(|p| p.resolve(&memory)).collect();
        BatchOutcome {
            batch: Some(CompiledBatch {
                code: Arc::new(memory),
                functions,
            }),
            failed,
            code_bytes,
        }
    }

    fn compile_translated(
        &self,
        index: u32,
        ctx: &mut Context,
        func: ir::Function,
    ) -> Result<Compiled> {
        compile_function(&*self.isa, ctx, func).map_err(|m| {
            if let Some(rest) = m.strip_prefix("unsupported: ") {
                Error::Unsupported(rest.to_string())
            } else {
                Error::Compile(format!("function {index}: {m}"))
            }
        })
    }
}

fn translate_err(e: crate::translate::TranslateError) -> Error {
    match e {
        crate::translate::TranslateError::Unsupported(m) => Error::Unsupported(m),
        other => Error::Compile(other.to_string()),
    }
}

/// A tiered function's code pushed into a [`CodeBuilder`]: its offsets there.
struct Placed {
    index: u32,
    entry: usize,
    body: usize,
    /// The OSR stub's offset and the loops it enters.
    osr: Option<(usize, Vec<u32>)>,
}

impl Placed {
    /// Pushes the entry stub, the body and the OSR stub of function `index`.
    fn push(builder: &mut CodeBuilder, index: u32, c: TieredFunction) -> Placed {
        let entry = builder.push(Some(index), &c.entry);
        let body = builder.push_body(index, &c.body);
        // The OSR stub's frame sits under the body's: left out of backtraces, like the
        // trampolines.
        let osr = c
            .osr
            .map(|(stub, loops)| (builder.push(None, &stub), loops));
        Placed {
            index,
            entry,
            body,
            osr,
        }
    }

    /// The function's addresses once the builder's code is in `memory`.
    fn resolve(self, memory: &crate::code_memory::CodeMemory) -> BatchFunction {
        BatchFunction {
            index: self.index,
            entry: memory.address(self.entry),
            body: Some(memory.address(self.body)),
            osr: self.osr.map(|(at, loops)| OsrEntry {
                entry: memory.address(at),
                loops,
            }),
        }
    }
}

/// What [`CraneliftBackend::compile_batch`] made of a batch.
pub struct BatchOutcome {
    /// The code of the functions that compiled, if any did.
    pub batch: Option<CompiledBatch>,
    /// The functions that did not, and why.
    pub failed: Vec<(u32, Error)>,
    /// Bytes of machine code in the batch.
    pub code_bytes: usize,
}

/// Runs `f` with this thread's Cranelift contexts. The worker threads keep them between
/// jobs: their buffers are already grown (and their pages mapped) for the next function.
fn with_contexts<R>(f: impl FnOnce(&mut FunctionBuilderContext, &mut Context) -> R) -> R {
    thread_local! {
        static CONTEXTS: std::cell::RefCell<Option<(FunctionBuilderContext, Context)>> =
            const { std::cell::RefCell::new(None) };
    }
    let (mut fctx, mut ctx) = CONTEXTS
        .with(|c| c.borrow_mut().take())
        .unwrap_or_else(|| (FunctionBuilderContext::new(), Context::new()));
    let r = f(&mut fctx, &mut ctx);
    CONTEXTS.with(|c| *c.borrow_mut() = Some((fctx, ctx)));
    r
}

/// The code of one Wasm function in engine `tiered` (see
/// [`CraneliftBackend::compile_tiered`]).
pub struct TieredFunction {
    /// The body.
    pub body: Compiled,
    /// The public entry, a stub calling the body.
    pub entry: Compiled,
    /// The OSR entry, a stub calling the body, and the loops it can enter.
    pub osr: Option<(Compiled, Vec<u32>)>,
}

/// The code of one Wasm function.
pub struct CompiledFunction {
    /// The public entry ([`native_signature`](crate::translate::native_signature)).
    pub entry: Compiled,
    /// The body that direct calls enter, when the entry is a stub.
    pub body: Option<Compiled>,
}

// SAFETY: every address handed out is code this backend generated with Cranelift from the
// translator (`translate`, `trampoline`) for the function or signature asked for, following
// `kiln_runtime::vm::abi`: module code and tiered functions come with the `CodeMemory` that
// holds them (read-execute, unmapped only when the last owner drops it), trampolines are
// registered and kept in `trampoline_code` for as long as the backend lives. Guard-page
// code is generated only when `needs_guarded_memory` says so (`options.bounds_checks`),
// and the trap sites reported are Cranelift's own.
unsafe impl NativeBackend for CraneliftBackend {
    fn compile_module(&self, module: &Module) -> Result<Arc<dyn NativeCode>> {
        let first = module.num_imported_funcs();
        let compiled: Vec<(u32, CompiledFunction)> = (first..module.num_funcs())
            .into_par_iter()
            .map_init(
                || (FunctionBuilderContext::new(), Context::new()),
                |(fctx, ctx), index| Ok((index, self.compile_one(module, index, fctx, ctx)?)),
            )
            .collect::<Result<_>>()?;
        let mut builder = CodeBuilder::default();
        for (index, c) in &compiled {
            builder.push(Some(*index), &c.entry);
            if let Some(body) = &c.body {
                builder.push_body(*index, body);
            }
        }
        let memory = builder
            .finish()
            .map_err(|e| Error::Compile(format!("cannot map code memory: {e}")))?;
        Ok(Arc::new(memory))
    }

    fn trampolines(&self, ty: &FuncType) -> Result<Trampolines> {
        let mut cache = self.trampolines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(ty) {
            return Ok(*t);
        }
        let mut fctx = FunctionBuilderContext::new();
        let mut ctx = Context::new();
        let isa = &*self.isa;
        let array = trampoline::array_call_trampoline(ty, isa, &mut fctx);
        let adapter = trampoline::adapter(ty, isa, &mut fctx);
        let mut builder = CodeBuilder::default();
        let c = compile_function(isa, &mut ctx, array).map_err(Error::Compile)?;
        let array_at = builder.push(None, &c);
        let c = compile_function(isa, &mut ctx, adapter).map_err(Error::Compile)?;
        let adapter_at = builder.push(None, &c);
        let memory = builder
            .finish()
            .map_err(|e| Error::Compile(format!("cannot map code memory: {e}")))?;
        let t = Trampolines {
            array_call: memory.address(array_at),
            adapter: memory.address(adapter_at),
        };
        let registered = native::register(Arc::new(memory), None);
        self.trampoline_code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(registered);
        cache.insert(ty.clone(), t);
        Ok(t)
    }

    fn compile_function(
        &self,
        module: &Module,
        index: u32,
    ) -> Result<kiln_runtime::CompiledFunction> {
        if self.options.direct_calls {
            return Err(Error::Unsupported(
                "single functions with direct calls (engine jit compiles whole modules)".into(),
            ));
        }
        let c = with_contexts(|fctx, ctx| self.compile_tiered(module, index, fctx, ctx))?;
        let mut builder = CodeBuilder::default();
        let placed = Placed::push(&mut builder, index, c);
        let memory = builder
            .finish()
            .map_err(|e| Error::Compile(format!("cannot map code memory: {e}")))?;
        let f = placed.resolve(&memory);
        Ok(kiln_runtime::CompiledFunction {
            entry: f.entry,
            body: f.body,
            osr: f.osr,
            code: Arc::new(memory),
        })
    }

    fn needs_guarded_memory(&self) -> bool {
        self.options.bounds_checks == BoundsChecks::GuardPages
    }
}
