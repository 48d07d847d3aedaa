//! Entering native code, and leaving it when it traps: the entry stub, per-thread
//! activations, the registry of code ranges and the signal handler.
//!
//! The runtime enters native code only through `enter`: an assembly stub saves the
//! callee-saved registers and the stack pointer in an `Activation` on the Rust stack and
//! calls the array trampoline of the function's type. A trap in native code (a trap
//! instruction or a fault at a registered trap site, or a fault anywhere in native code
//! while the stack is exhausted) raises a signal; the handler finds the trap in the code
//! registry, records it and the frame-pointer chain of native frames in the thread's
//! innermost activation, and resumes at the stub's second exit with the saved stack
//! pointer, which returns "trapped" to `enter`. Only native frames are ever skipped: a
//! host function called from native code returns normally and reports its error through
//! `set_pending_trap` and a `TRAP_PENDING` trap in the adapter.
//!
//! Only Linux x86-64 has native code; elsewhere [`is_supported`] is false and nothing here
//! runs.

use super::{VMContext, VMFuncRef};
use crate::error::{FrameInfo, FrameSegment, Trap, TrapCode};
use crate::module::ModuleInner;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, RwLock, Weak};

/// Why a native trap site traps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeTrap {
    /// A Wasm trap of this kind.
    Code(TrapCode),
    /// A builtin or adapter recorded the trap with `set_pending_trap` just before.
    Pending,
}

/// A block of native code as the registry needs it: where its functions are and which
/// instructions are trap sites. Implemented by the tiering crate's code memory.
///
/// # Safety
///
/// The signal handler trusts these answers: a fault at a reported trap site, or inside
/// the reported range, is unwound as a Wasm trap, and [`NativeCode::entry`] addresses are
/// called. An implementation promises that the range is executable code it owns for as
/// long as it lives, that the functions and trap sites lie inside it and are those of the
/// code there, and that every entry is a function of that code following
/// [`crate::vm::abi`].
pub unsafe trait NativeCode: Send + Sync {
    /// The address range of the code.
    fn range(&self) -> Range<usize>;
    /// The Wasm functions in it: address range and function index, sorted by address.
    fn functions(&self) -> Vec<(Range<usize>, u32)>;
    /// The trap sites: absolute address of the instruction and the trap, sorted.
    fn traps(&self) -> Vec<(usize, NativeTrap)>;
    /// Entry of defined function `index` (imports first), if this code contains it.
    fn entry(&self, index: u32) -> Option<*const u8>;
}

struct CodeEntry {
    end: usize,
    functions: Vec<(Range<usize>, u32)>,
    traps: Vec<(usize, NativeTrap)>,
    module: Option<Weak<ModuleInner>>,
}

impl CodeEntry {
    fn function_at(&self, pc: usize) -> Option<u32> {
        let i = self.functions.partition_point(|(r, _)| r.start <= pc);
        let (r, index) = self.functions.get(i.checked_sub(1)?)?;
        r.contains(&pc).then_some(*index)
    }

    fn trap_at(&self, pc: usize) -> Option<NativeTrap> {
        let i = self.traps.binary_search_by_key(&pc, |(p, _)| *p).ok()?;
        Some(self.traps[i].1)
    }
}

/// Every registered block of native code, by start address.
static REGISTRY: RwLock<BTreeMap<usize, Arc<CodeEntry>>> = RwLock::new(BTreeMap::new());

fn lookup(pc: usize) -> Option<Arc<CodeEntry>> {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let (_, e) = reg.range(..=pc).next_back()?;
    (pc < e.end).then(|| e.clone())
}

/// Native code known to the signal handler and to backtraces; unregistered (before the code
/// itself is released) when dropped.
pub struct Registered {
    start: usize,
    code: Arc<dyn NativeCode>,
    /// The engine counters charged with the code's size, released on drop.
    charged: Option<(Arc<crate::limits::Accounting>, u64)>,
}

impl Registered {
    /// The code.
    pub fn code(&self) -> &Arc<dyn NativeCode> {
        &self.code
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
        reg.remove(&self.start);
        drop(reg);
        if let Some((a, bytes)) = self.charged.take() {
            a.release(crate::limits::Category::Code, bytes);
        }
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registered({:#x})", self.start)
    }
}

/// Registers `code` (compiled for `module`, or a trampoline block when `None`).
pub fn register(code: Arc<dyn NativeCode>, module: Option<&crate::Module>) -> Registered {
    let range = code.range();
    let entry = Arc::new(CodeEntry {
        end: range.end,
        functions: code.functions(),
        traps: code.traps(),
        module: module.map(|m| Arc::downgrade(&m.0)),
    });
    REGISTRY
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(range.start, entry);
    Registered {
        start: range.start,
        code,
        charged: None,
    }
}

/// Registers `code` compiled for `module` and charges its size to the module's engine
/// (released when the returned value, and so normally the module, is dropped).
///
/// # Errors
///
/// [`crate::Error::Limit`] when the engine's committed-byte budget would be exceeded
/// (the code is then not registered and is freed when `code` is dropped).
pub fn register_accounted(
    code: Arc<dyn NativeCode>,
    module: &crate::Module,
) -> crate::Result<Registered> {
    let bytes = code.range().len() as u64;
    let accounting = module.engine().accounting().clone();
    accounting.try_charge(crate::limits::Category::Code, bytes)?;
    let mut registered = register(code, Some(module));
    registered.charged = Some((accounting, bytes));
    Ok(registered)
}

/// Whether this platform runs native code.
pub const fn is_supported() -> bool {
    cfg!(all(target_arch = "x86_64", target_os = "linux"))
}

thread_local! {
    static PENDING: RefCell<Option<Trap>> = const { RefCell::new(None) };
    /// The innermost activation of this thread (read by the signal handler).
    static CURRENT: Cell<*mut Activation> = const { Cell::new(std::ptr::null_mut()) };
}

/// Records `trap` as the reason native code on this thread is about to trap with
/// `TRAP_PENDING`.
pub(crate) fn set_pending_trap(trap: Trap) {
    PENDING.with(|p| *p.borrow_mut() = Some(trap));
}

fn take_pending_trap() -> Trap {
    PENDING
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| Trap::host("native code trapped without a recorded reason"))
}

/// Return addresses a trap records at each end of the native frame chain (the ones between
/// are only counted): the frames a backtrace keeps, plus room for the trampoline or
/// adapter frame at either end, which are not Wasm frames.
const RAW_KEPT: usize = crate::error::BACKTRACE_KEPT_FRAMES + 2;

/// Where the `n`th return address of the chain (innermost first) is recorded: the first
/// `RAW_KEPT` in order, the later ones in a ring of `RAW_KEPT` that ends up holding the
/// outermost.
const fn frame_slot(n: usize) -> usize {
    if n < RAW_KEPT {
        n
    } else {
        RAW_KEPT + (n - RAW_KEPT) % RAW_KEPT
    }
}

/// One entry into native code, on the Rust stack of `enter`.
#[repr(C)]
struct Activation {
    /// Stack pointer saved by the entry stub (offset 0, written by assembly).
    sp: usize,
    /// Frames the callee may open (offset 8, passed to the trampoline by assembly).
    depth: u64,
    prev: *mut Activation,
    trap: Option<NativeTrap>,
    /// Return addresses recorded by the signal handler at [`frame_slot`] (only the slots
    /// of the first `nframes` are written; left uninitialised otherwise so that entering
    /// native code stays cheap).
    frames: [std::mem::MaybeUninit<usize>; 2 * RAW_KEPT],
    /// Native frames the signal handler walked.
    nframes: usize,
}

/// Calls `callee`'s native code with parameters in `values` and writes the results back
/// (the layout of `call_with_stack`). `caller_vmctx` is the calling instance's context.
///
/// # Errors
///
/// The trap, with the native frames of its backtrace (innermost first).
pub(crate) fn enter(
    callee: &VMFuncRef,
    caller_vmctx: *const VMContext,
    values: &mut [u64],
) -> Result<(), Trap> {
    use std::sync::atomic::Ordering;
    let tramp = callee.array_call.load(Ordering::Acquire);
    let code = callee.native_code.load(Ordering::Acquire);
    debug_assert!(!tramp.is_null() && !code.is_null());
    // SAFETY: a slot's array trampoline and code are published together for the slot's
    // function type and live as long as its instance; callers pass `values` sized for
    // the type.
    unsafe { enter_code(tramp as usize, code as usize, callee, caller_vmctx, values) }
}

/// Runs native code `code` through array trampoline `tramp` for `callee` (its slot),
/// with parameters and results in `values` (see [`super::abi`]). `enter` uses the slot's
/// own code; OSR entries are entered with the trampoline of `(i64) -> ()`.
///
/// # Safety
///
/// `tramp` must be an array trampoline of the engine's backend for the native type of
/// `code`, `code` compiled code for `callee`'s function (or an OSR entry of it), both kept
/// alive for the call, and `values` must have the slots the trampoline reads and writes.
#[doc(hidden)]
pub unsafe fn enter_code(
    tramp: usize,
    code: usize,
    callee: &VMFuncRef,
    caller_vmctx: *const VMContext,
    values: &mut [u64],
) -> Result<(), Trap> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        sys::prepare_thread();
        let max = inst_max_depth(callee);
        let depth = max
            .saturating_sub(crate::interp::outer_depth())
            .min(i32::MAX as usize);
        if depth == 0 {
            return Err(Trap::new(TrapCode::StackExhausted));
        }
        let mut act = Activation {
            sp: 0,
            depth: depth as u64,
            prev: CURRENT.get(),
            trap: None,
            frames: [std::mem::MaybeUninit::uninit(); 2 * RAW_KEPT],
            nframes: 0,
        };
        CURRENT.set(&mut act);
        // SAFETY: `tramp` is the array trampoline of the callee's type and `code` its
        // compiled code (both published together, kept alive by the callee's instance);
        // `values` holds max(params, results) slots as the trampoline expects. Traps come
        // back through the stub's second exit with the callee-saved registers restored.
        let status = unsafe {
            sys::kiln_enter(
                &mut act,
                tramp,
                code,
                callee as *const VMFuncRef as usize,
                caller_vmctx as usize,
                values.as_mut_ptr() as usize,
            )
        };
        CURRENT.set(act.prev);
        if status == 0 {
            return Ok(());
        }
        let mut trap = match act.trap {
            Some(NativeTrap::Code(code)) => Trap::new(code),
            Some(NativeTrap::Pending) | None => take_pending_trap(),
        };
        // SAFETY: the signal handler wrote the slots of the first `nframes` frames.
        let pc = |n: usize| unsafe { act.frames[frame_slot(n)].assume_init() };
        let n = act.nframes;
        let names = InstanceNames::new(callee);
        let frames = if n <= 2 * RAW_KEPT {
            FrameSegment::from(symbolize((0..n).map(pc), &names))
        } else {
            FrameSegment::new(
                symbolize((0..RAW_KEPT).map(pc), &names),
                n - 2 * RAW_KEPT,
                symbolize((n - RAW_KEPT..n).map(pc), &names),
            )
        };
        trap.extend_backtrace(frames);
        Err(trap)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        let _ = (tramp, code, callee, caller_vmctx, values);
        Err(Trap::host("unsupported: native code on this platform"))
    }
}

/// The call depth limit of the engine `callee` belongs to.
fn inst_max_depth(callee: &VMFuncRef) -> usize {
    let inst = crate::interp::instance_of_funcref(callee as *const VMFuncRef as u64);
    inst.engine.config().max_call_depth
}

/// The names of the instances native frames belong to. A return address tells the code
/// (and so the module) but not the instance: a frame of the entered function's module is
/// taken to be of the entered instance, a frame of another module of the instance that the
/// entered one imports from (calls between instances go through imports), else (a funcref
/// of an instance not imported) it is named after its module.
struct InstanceNames<'a> {
    entered: &'a crate::instance::InstanceInner,
}

impl<'a> InstanceNames<'a> {
    fn new(callee: &'a VMFuncRef) -> Self {
        InstanceNames {
            entered: crate::interp::instance_of_funcref(callee as *const VMFuncRef as u64),
        }
    }

    /// The name of the instance of `module` that a native frame belongs to.
    fn name(&self, module: &Arc<ModuleInner>) -> Option<String> {
        let of_module = |inst: &crate::instance::InstanceInner| {
            inst.module
                .as_ref()
                .is_some_and(|m| Arc::ptr_eq(&m.0, module))
        };
        if of_module(self.entered) {
            return self.entered.instance_name();
        }
        for &f in self.entered.funcs.iter() {
            let inst = crate::interp::instance_of_funcref(f as u64);
            if of_module(inst) {
                return inst.instance_name();
            }
        }
        module.names().module.clone()
    }
}

/// Wasm frames for the recorded return addresses (trampolines and adapters are skipped).
fn symbolize(pcs: impl Iterator<Item = usize>, names: &InstanceNames<'_>) -> Vec<FrameInfo> {
    let mut out = Vec::new();
    for pc in pcs {
        let Some(entry) = lookup(pc) else { continue };
        let Some(index) = entry.function_at(pc) else {
            continue;
        };
        let module = entry.module.as_ref().and_then(Weak::upgrade);
        out.push(FrameInfo {
            module: module.as_ref().and_then(|m| names.name(m)),
            func_index: index,
            func_name: module
                .as_ref()
                .and_then(|m| m.func_name(index).map(str::to_string)),
        });
    }
    out
}

/// The adapter path: runs `callee` (a host function or a Wasm function without native code)
/// for native code, parameters and results in `values`. Returns 0, or 1 after recording the
/// trap with `set_pending_trap`.
pub(crate) fn call_from_native(
    callee: *const VMFuncRef,
    caller_vmctx: *const VMContext,
    values: *mut u64,
    depth: u32,
) -> u32 {
    // Native recursion may have used most of the stack: the host function or interpreter
    // called here gets `CALL_ROOM` or the call traps.
    if let Err(trap) = super::stack::check_room() {
        set_pending_trap(trap);
        return 1;
    }
    // SAFETY: native code passes the slot it called through (alive: its instance is kept
    // alive by whoever holds the reference) and its own context.
    let (callee, caller) = unsafe {
        let caller = if caller_vmctx.is_null() {
            None
        } else {
            Some(&*((*caller_vmctx).instance as *const crate::instance::InstanceInner))
        };
        (&*callee, caller)
    };
    let inst = crate::interp::instance_of_funcref(callee as *const VMFuncRef as u64);
    let len = match inst.callee(callee.index) {
        crate::instance::Callee::Host(h) => h.ty.stack_len(),
        crate::instance::Callee::Wasm => inst
            .module
            .as_ref()
            .map_or(0, |m| m.0.func_type(callee.index).stack_len()),
    };
    // SAFETY: the adapter passes a buffer of max(params, results) slots of this type.
    let values = unsafe { std::slice::from_raw_parts_mut(values, len) };
    let max = inst.engine.config().max_call_depth;
    let r = crate::interp::with_outer_depth(max.saturating_sub(depth as usize), || {
        crate::interp::call_for_native(callee, caller, values)
    });
    match r {
        Ok(()) => 0,
        Err(t) => {
            set_pending_trap(t);
            1
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod sys {
    use super::{Activation, CURRENT, NativeTrap, frame_slot, lookup};
    use crate::error::TrapCode;
    use std::cell::Cell;
    use std::sync::Once;

    /// Saves the callee-saved registers and the stack pointer (into `act.sp`), then calls
    /// `tramp(code, callee, caller, values, act.depth)`. Returns 0; the signal handler makes it return
    /// 1 through [`kiln_resume`] instead.
    #[unsafe(naked)]
    pub(super) unsafe extern "C" fn kiln_enter(
        act: *mut Activation,
        tramp: usize,
        code: usize,
        callee: usize,
        caller: usize,
        values: usize,
    ) -> u32 {
        core::arch::naked_asm!(
            "push rbp",
            "mov rbp, rsp",
            "push rbx",
            "push r12",
            "push r13",
            "push r14",
            "push r15",
            "sub rsp, 8",
            "mov [rdi], rsp",
            "mov r10, [rdi + 8]",
            "mov rax, rsi",
            "mov rdi, rdx",
            "mov rsi, rcx",
            "mov rdx, r8",
            "mov rcx, r9",
            "mov r8, r10",
            "call rax",
            "xor eax, eax",
            "add rsp, 8",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbx",
            "pop rbp",
            "ret",
        )
    }

    /// The trapped exit of [`kiln_enter`]: entered by the signal handler with the stack
    /// pointer `kiln_enter` saved.
    #[unsafe(naked)]
    unsafe extern "C" fn kiln_resume() {
        core::arch::naked_asm!(
            "mov eax, 1",
            "add rsp, 8",
            "pop r15",
            "pop r14",
            "pop r13",
            "pop r12",
            "pop rbx",
            "pop rbp",
            "ret",
        )
    }

    const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

    /// The handlers installed before ours, to chain to for faults outside native code.
    static mut PREVIOUS: [std::mem::MaybeUninit<libc::sigaction>; 4] =
        [const { std::mem::MaybeUninit::uninit() }; 4];
    static INSTALL: Once = Once::new();

    thread_local! {
        static READY: Cell<bool> = const { Cell::new(false) };
        static ALT_STACK: RefCellAltStack = const { RefCellAltStack(Cell::new(std::ptr::null_mut())) };
    }

    /// An alternate signal stack this module allocated for the thread (freed at exit).
    struct RefCellAltStack(Cell<*mut libc::c_void>);

    const ALT_STACK_SIZE: usize = 64 * 1024;

    impl Drop for RefCellAltStack {
        fn drop(&mut self) {
            let p = self.0.get();
            if p.is_null() {
                return;
            }
            // SAFETY: disable the alternate stack before unmapping the memory we mapped for
            // it in `prepare_thread`.
            unsafe {
                let ss = libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: ALT_STACK_SIZE,
                };
                libc::sigaltstack(&ss, std::ptr::null_mut());
                libc::munmap(p, ALT_STACK_SIZE);
            }
        }
    }

    /// Installs the signal handlers (once per process) and makes sure this thread has an
    /// alternate signal stack, so a stack overflow in native code can be handled.
    pub(super) fn prepare_thread() {
        if READY.get() {
            return;
        }
        INSTALL.call_once(install_handlers);
        // SAFETY: querying and (if none) installing an alternate signal stack of memory we
        // map here and keep until the thread exits.
        unsafe {
            let mut old: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut old);
            if old.ss_flags & libc::SS_DISABLE != 0 {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    ALT_STACK_SIZE,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if p != libc::MAP_FAILED {
                    let ss = libc::stack_t {
                        ss_sp: p,
                        ss_flags: 0,
                        ss_size: ALT_STACK_SIZE,
                    };
                    libc::sigaltstack(&ss, std::ptr::null_mut());
                    ALT_STACK.with(|a| a.0.set(p));
                }
            }
        }
        READY.set(true);
    }

    fn install_handlers() {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: installing a handler with sigaction; `PREVIOUS` is written only here,
            // inside `Once`, before any handler can read it.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut sa.sa_mask);
                let prev = (*std::ptr::addr_of_mut!(PREVIOUS))[i].as_mut_ptr();
                libc::sigaction(sig, &sa, prev);
            }
        }
    }

    unsafe extern "C" fn handler(
        sig: libc::c_int,
        info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes a valid ucontext; we only read and write its general
        // registers, and read native frames through the frame-pointer chain of code we
        // generated (every native function keeps frame pointers).
        unsafe {
            let uc = ctx as *mut libc::ucontext_t;
            let gregs = &mut (*uc).uc_mcontext.gregs;
            let pc = gregs[libc::REG_RIP as usize] as usize;
            let act = CURRENT
                .try_with(|c| c.get())
                .unwrap_or(std::ptr::null_mut());
            if !act.is_null()
                && let Some(entry) = lookup(pc)
            {
                let site = entry.trap_at(pc);
                let trap = match site {
                    Some(t) => t,
                    // Not a trap site: a push, spill or probe hit the stack guard.
                    None if sig == libc::SIGSEGV || sig == libc::SIGBUS => {
                        NativeTrap::Code(TrapCode::StackExhausted)
                    }
                    None => return chain(sig, info, ctx),
                };
                drop(entry);
                let act = &mut *act;
                act.trap = Some(trap);
                // The only "call stack exhausted" trap site is the call-depth check at a
                // function's entry: that frame is one too many and never ran, so it is not
                // part of the backtrace (the interpreter refuses the call in the caller).
                let mut n = 0;
                if site != Some(NativeTrap::Code(TrapCode::StackExhausted)) {
                    act.frames[frame_slot(0)].write(pc);
                    n = 1;
                }
                let mut fp = gregs[libc::REG_RBP as usize] as usize;
                // The whole chain is walked (a backtrace counts every frame); only its
                // ends are kept. Callers' frames lie at higher addresses, so the walk ends.
                while fp != 0 && fp < act.sp.wrapping_add(1 << 30) {
                    let ret = *((fp + 8) as *const usize);
                    if lookup(ret).is_none() {
                        break;
                    }
                    // The call instruction, not the one after it.
                    act.frames[frame_slot(n)].write(ret - 1);
                    n += 1;
                    let next = *(fp as *const usize);
                    if next <= fp {
                        break;
                    }
                    fp = next;
                }
                act.nframes = n;
                gregs[libc::REG_RSP as usize] = act.sp as i64;
                gregs[libc::REG_RIP as usize] = kiln_resume as *const () as usize as i64;
                return;
            }
            chain(sig, info, ctx)
        }
    }

    /// Passes a signal that is not ours to the handler installed before.
    unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
            return;
        };
        // SAFETY: `PREVIOUS` was fully written before our handler was installed.
        unsafe {
            let prev = &*(*std::ptr::addr_of!(PREVIOUS))[i].as_ptr();
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                let f: unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(prev.sa_sigaction);
                f(sig, info, ctx);
            } else if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
                // Restore the default action; returning re-executes the faulting
                // instruction, which then terminates the process as it would have.
                libc::sigaction(sig, prev, std::ptr::null_mut());
            } else {
                let f: unsafe extern "C" fn(libc::c_int) = std::mem::transmute(prev.sa_sigaction);
                f(sig);
            }
        }
    }
}
