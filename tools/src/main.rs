//! `kiln`: the Kiln command line.
//!
//! ```text
//! kiln run [--engine E] [--dir HOST[::GUEST][:ro]]... [--env NAME[=VALUE]]... [--invoke NAME]
//!          [--fuel N] [--timeout DURATION] [--max-memory SIZE] [--trap-unknown-imports]
//!          [--stats] FILE.wasm|FILE.wat [ARGS...]
//! kiln compile FILE
//! kiln inspect FILE
//! kiln --version
//! ```
//!
//! Kiln's own flags stand before FILE; everything after FILE is handed to the guest
//! unchanged, flags included: without `--invoke` as the WASI program's argv (argv[0] is
//! FILE as given), with `--invoke` as the export's arguments (even `-5`).
//!
//! Exit status of `run`: the guest's `proc_exit` code (0-255; a larger code exits 1 with a
//! warning), 0 when `_start` (or the invoked export) returns, 134 when execution traps or
//! runs past `--timeout`, 1 when the module fails to load, validate, link or instantiate, 2
//! for usage errors.
//! Results of `--invoke` go to stdout, one per line; every diagnostic goes to stderr.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kiln::{
    CompiledModule, EntityType, Error, FuncType, ModuleConfig, Runtime, RuntimeConfig, Trap,
    ValueType as ValType,
};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit status for a module that fails to load, validate, link or instantiate.
const EXIT_LOAD: u8 = 1;
/// Exit status for a usage error (the same one clap uses).
const EXIT_USAGE: u8 = 2;
/// Exit status for a trap (what an `abort()`ed native process reports: 128 + SIGABRT).
const EXIT_TRAP: u8 = 134;

const STATUS_HELP: &str = "Exit status of `run`: the guest's exit code (0-255; larger codes exit 1), \
0 when it returns, 1 load/validate/link error, 2 usage error, 134 trap or timeout.";

#[derive(Parser, Debug)]
#[command(
    name = "kiln",
    version,
    about = "Kiln: a WebAssembly runtime",
    propagate_version = true,
    after_help = STATUS_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WASI command module (its `_start`), or call one export with --invoke.
    #[command(after_help = ARGS_HELP)]
    Run(RunArgs),
    /// Decode and validate a module, and report its size.
    Compile(FileArgs),
    /// List a module's imports, exports, memories and custom sections.
    Inspect(FileArgs),
}

const ARGS_HELP: &str = "\
Without --invoke, FILE must be a WASI command (it exports `_start`): the arguments after
FILE are its argv (argv[0] is FILE), it sees only the --dir directories and --env
variables, and its stdin, stdout and stderr are Kiln's.

With --invoke, the arguments are parsed by the export's parameter types:
  i32, i64        signed decimal or 0x hex (i32 accepts -2147483648..4294967295)
  f32, f64        decimal or exponent notation, inf, -inf, nan
  v128            0x followed by 32 hex digits, the 16 bytes in memory order
  funcref         null, or the index of a function of the module
  externref       null, or a number N (the host reference N)
Results are printed to stdout in the same notations, one per line.

A reactor (a module that exports `_initialize` instead of `_start`) gets its
`_initialize` run before the --invoke'd export.

Exit status: the guest's exit code (0-255; larger codes exit 1), 0 when it returns,
1 load/validate/link error, 2 usage error, 134 trap or timeout.";

#[derive(Args, Debug)]
struct RunArgs {
    /// Execution engine (default: tiered where this build has it, else interp).
    #[arg(long, value_enum, default_value_t = EngineChoice::default_engine(), value_name = "ENGINE")]
    engine: EngineChoice,

    /// Tiered engine: hotness (calls plus loop back-edges) at which a function is
    /// compiled to native code.
    #[arg(long, value_name = "N")]
    tier_threshold: Option<u32>,

    /// Tiered engine: compile hot code on the running thread instead of in the
    /// background.
    #[arg(long)]
    tier_sync: bool,

    /// Tiered engine: background compiler threads (default: one per core beyond the
    /// first, at least 1, at most 4).
    #[arg(long, value_name = "N")]
    tier_workers: Option<usize>,

    /// Call this exported function instead of running `_start`.
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,

    /// Give the guest the host directory HOST, under the name GUEST (default: HOST).
    /// With `:ro` at the end the guest can only read it: changes fail with EPERM.
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    dirs: Vec<String>,

    /// Set the guest environment variable NAME to VALUE, or with NAME alone to the
    /// host's value (left unset when the host has none).
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    envs: Vec<String>,

    /// Stop the guest when it has run this long (`500ms`, `2s`, `1.5m`, `1h`): it is
    /// closed as by a deadline and Kiln exits with status 134.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// Cap every memory of the guest at SIZE: bytes, or with a suffix `KiB`, `MiB`,
    /// `GiB` or `pages` (64 KiB each), a whole number of pages up to 4 GiB. Growing past
    /// it fails (`memory.grow` returns -1); a module that needs more to start fails to
    /// instantiate.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_size)]
    max_memory: Option<u32>,

    /// Define every function import that nothing provides as a function that traps
    /// (naming the import) when called, instead of failing to link. Missing memories,
    /// tables and globals still fail.
    #[arg(long)]
    trap_unknown_imports: bool,

    /// Stop the guest after N units of fuel (one per Wasm operator, the same count in
    /// every engine): running out traps with "all fuel consumed" (exit status 134).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Print tiering statistics (and the fuel used, with --fuel) to stderr when the run
    /// ends.
    #[arg(long)]
    stats: bool,

    /// The module (a binary `.wasm` or a text `.wat` file), then the guest's arguments:
    /// everything after FILE belongs to the guest, even `-5` or `--x`.
    #[arg(
        value_name = "FILE",
        value_names = ["FILE", "ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    file_and_args: Vec<OsString>,
}

#[derive(Args, Debug)]
struct FileArgs {
    /// The module (a binary `.wasm` or a text `.wat` file).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

impl RunArgs {
    fn file(&self) -> &Path {
        // clap guarantees at least one value (FILE is required).
        self.file_and_args.first().map_or(Path::new(""), Path::new)
    }

    fn guest_args(&self) -> Result<Vec<String>, Failure> {
        self.file_and_args
            .iter()
            .skip(1)
            .map(|a| utf8(a, "argument"))
            .collect()
    }
}

fn utf8(a: &OsString, what: &str) -> Result<String, Failure> {
    a.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::Usage(format!("{what} {} is not valid UTF-8", a.display())))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineChoice {
    /// The interpreter.
    Interp,
    /// Compile every function to native code before running it.
    Jit,
    /// Interpret first, compile hot functions in the background.
    Tiered,
}

impl EngineChoice {
    fn default_engine() -> EngineChoice {
        if kiln::EngineKind::Tiered.is_available() {
            EngineChoice::Tiered
        } else {
            EngineChoice::Interp
        }
    }

    fn name(self) -> &'static str {
        match self {
            EngineChoice::Interp => "interp",
            EngineChoice::Jit => "jit",
            EngineChoice::Tiered => "tiered",
        }
    }
}

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
enum Failure {
    /// Bad command line or arguments that do not fit the export: exit 2.
    Usage(String),
    /// The module could not be read, decoded, validated, linked or instantiated: exit 1.
    Load(String),
    /// Execution trapped: exit 134.
    Trap(String),
    /// The guest exited with this code (`proc_exit`).
    Exit(u32),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Load(_) => EXIT_LOAD,
            Failure::Trap(_) => EXIT_TRAP,
            Failure::Exit(code) => u8::try_from(*code).unwrap_or(1),
        }
    }

    fn report(&self, command: &str) {
        let mut err = std::io::stderr().lock();
        // Nothing sensible is left to do when stderr itself is gone.
        let _ = match self {
            Failure::Usage(m) => writeln!(
                err,
                "error: {m}\n\nFor more information, try 'kiln {command} --help'."
            ),
            Failure::Load(m) | Failure::Trap(m) => writeln!(err, "error: {m}"),
            Failure::Exit(code) if *code > 255 => writeln!(
                err,
                "warning: the guest exited with code {code}, which does not fit an exit \
                 status; exiting with 1"
            ),
            Failure::Exit(_) => Ok(()),
        };
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Trap(t) => Failure::Trap(format!("trap: {t}")),
            // Stopped from outside: reported like a trap (wasmtime's timeout is one).
            Error::Exit(e) if e.is_deadline_exceeded() || e.is_interrupted() => {
                Failure::Trap(format!("stopped: {e}"))
            }
            Error::Usage(_) => Failure::Usage(e.to_string()),
            Error::Exit(e) => Failure::Exit(e.exit_code()),
            _ => Failure::Load(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Prints help/version to stdout (status 0) or the usage error to stderr (2).
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let (name, result) = match &cli.command {
        Command::Run(args) => ("run", run(args)),
        Command::Compile(args) => ("compile", compile(&args.file)),
        Command::Inspect(args) => ("inspect", inspect(&args.file)),
    };
    // Whatever the guest wrote must be out before we exit.
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.report(name);
            ExitCode::from(f.exit_code())
        }
    }
}

/// `--stats`: what the tiered engine did, on stderr.
fn print_stats(engine: EngineChoice, runtime: Option<&Runtime>) {
    let Some(s) = runtime.and_then(Runtime::tiering_stats) else {
        eprintln!(
            "tiering statistics: not available ({} engine)",
            match engine {
                EngineChoice::Interp => "interpreter",
                other => other.name(),
            }
        );
        return;
    };
    eprintln!(
        "tiering statistics: {} functions interpreted, {} jobs queued, {} deferred, {} functions \
         compiled in {} batches, {} OSR entries compiled, {} OSR transfers, {} failed, \
         compile time {:.3} ms total, {:.3} ms max, {} code bytes, queue length {} (max {}), \
         {} compiler threads",
        s.functions_interpreted,
        s.functions_queued,
        s.functions_deferred,
        s.functions_compiled,
        s.batches_compiled,
        s.osr_compiled,
        s.osr_entries,
        s.compile_failures,
        s.total_compile_time.as_secs_f64() * 1e3,
        s.max_compile_time.as_secs_f64() * 1e3,
        s.code_bytes,
        s.queue_length,
        s.max_queue_length,
        s.worker_threads
    );
}

/// Tier-up settings of `kiln run` (threshold, synchronous, compiler threads).
type TierFlags = (Option<u32>, bool, Option<usize>);

/// Loads and validates FILE in a runtime of `engine` with the `tier` settings, when
/// `fuel` is set that much fuel, and when `max_memory_pages` is set that memory limit.
fn load(
    file: &Path,
    engine: EngineChoice,
    tier: TierFlags,
    fuel: Option<u64>,
    max_memory_pages: Option<u32>,
) -> Result<(Runtime, CompiledModule), Failure> {
    let (tier_threshold, tier_sync, tier_workers) = tier;
    let available = kiln::EngineKind::from_name(engine.name()).is_some_and(|k| k.is_available());
    if !available {
        return Err(Failure::Usage(format!(
            "engine `{}` is not built yet",
            engine.name()
        )));
    }
    if engine != EngineChoice::Tiered
        && (tier_threshold.is_some() || tier_sync || tier_workers.is_some())
    {
        return Err(Failure::Usage(
            "--tier-threshold, --tier-sync and --tier-workers apply to the tiered engine only"
                .into(),
        ));
    }
    let bytes = read_module(file)?;
    let engine = kiln::EngineKind::from_name(engine.name()).unwrap_or_default();
    let mut config = RuntimeConfig::new()
        .with_engine(engine)
        .with_tier_sync(tier_sync)
        .with_fuel(fuel.is_some());
    if let Some(t) = tier_threshold {
        config = config.with_tier_threshold(t);
    }
    if let Some(w) = tier_workers {
        config = config.with_tier_workers(w);
    }
    if let Some(pages) = max_memory_pages {
        config = config.with_memory_limit_pages(pages);
    }
    let runtime = Runtime::with_config(config).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(fuel) = fuel {
        runtime
            .set_fuel(fuel)
            .map_err(|e| Failure::Usage(e.to_string()))?;
    }
    let compiled = runtime
        .compile(&bytes)
        .map_err(|e| Failure::Load(format!("{}: {e}", file.display())))?;
    Ok((runtime, compiled))
}

/// The WASI configuration of `kiln run`: real stdio, clocks and randomness, the `--dir`
/// directories and `--env` variables, and `argv`.
fn wasi_config(args: &RunArgs, argv: Vec<String>) -> Result<ModuleConfig, Failure> {
    let mut config = ModuleConfig::new()
        .with_args(argv)
        .with_stdin(std::io::stdin())
        .with_stdout(std::io::stdout())
        .with_stderr(std::io::stderr())
        .with_sys_walltime()
        .with_sys_nanotime()
        .with_sys_nanosleep();
    if let Ok(random) = std::fs::File::open("/dev/urandom") {
        config = config.with_rand_source(random);
    }
    for dir in &args.dirs {
        let (spec, read_only) = match dir.strip_suffix(":ro") {
            Some(spec) => (spec, true),
            None => (dir.as_str(), false),
        };
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(Failure::Usage(format!(
                "--dir `{dir}`: expected HOST, HOST::GUEST, HOST:ro or HOST::GUEST:ro"
            )));
        }
        if !Path::new(host).is_dir() {
            return Err(Failure::Usage(format!(
                "--dir `{dir}`: `{host}` is not a directory"
            )));
        }
        config = if read_only {
            config.with_readonly_preopen_dir(host, guest)
        } else {
            config.with_preopen_dir(host, guest)
        };
    }
    for env in &args.envs {
        match env.split_once('=') {
            Some((name, value)) if !name.is_empty() => config = config.with_env(name, value),
            Some(_) => {
                return Err(Failure::Usage(format!(
                    "--env `{env}`: expected NAME=VALUE or NAME"
                )));
            }
            // NAME alone: the host's value, as wasmtime does; unset on the host, unset here.
            None => match std::env::var(env) {
                Ok(value) => config = config.with_env(env, value),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Failure::Usage(format!(
                        "--env `{env}`: the host's value is not valid UTF-8"
                    )));
                }
            },
        }
    }
    Ok(config)
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let loaded = args.guest_args().and_then(|g| {
        Ok((
            g,
            load(
                args.file(),
                args.engine,
                (args.tier_threshold, args.tier_sync, args.tier_workers),
                args.fuel,
                args.max_memory,
            )?,
        ))
    });
    match loaded {
        Ok((guest_args, (runtime, compiled))) => {
            let r = run_loaded(args, &runtime, &compiled, guest_args);
            if args.stats {
                print_stats(args.engine, Some(&runtime));
                if let (Some(budget), Some(left)) = (args.fuel, runtime.fuel()) {
                    eprintln!("fuel: {} used, {left} left", budget - left);
                }
            }
            r
        }
        Err(e) => {
            if args.stats {
                print_stats(args.engine, None);
            }
            Err(e)
        }
    }
}

fn run_loaded(
    args: &RunArgs,
    runtime: &Runtime,
    compiled: &CompiledModule,
    guest_args: Vec<String>,
) -> Result<(), Failure> {
    let file = args.file();

    // The only host module Kiln offers is WASI; --trap-unknown-imports fills in the
    // functions of any other.
    let imports = compiled.imports();
    let mut trapping: BTreeMap<&str, BTreeMap<&str, &FuncType>> = BTreeMap::new();
    for import in imports
        .iter()
        .filter(|i| i.module() != kiln::wasi::MODULE_NAME)
    {
        match import.ty() {
            EntityType::Func(ty) if args.trap_unknown_imports => {
                // The same name imported twice with two types stays a link error.
                trapping
                    .entry(import.module())
                    .or_default()
                    .entry(import.name())
                    .or_insert(ty);
            }
            ty => {
                let hint = if matches!(ty, EntityType::Func(_)) {
                    " (--trap-unknown-imports defines missing functions as traps)"
                } else {
                    ""
                };
                return Err(Failure::Load(format!(
                    "link error: unknown import `{}::{}` ({}); kiln run provides only {}{hint}",
                    import.module(),
                    import.name(),
                    ty.kind_name(),
                    kiln::wasi::MODULE_NAME
                )));
            }
        }
    }
    kiln::wasi::instantiate(runtime)?;
    for (module_name, functions) in trapping {
        define_trapping_imports(runtime, module_name, functions)?;
    }

    let Some(name) = &args.invoke else {
        // A WASI command: `_start` runs as part of instantiation.
        if !matches!(compiled.export_type("_start"), Some(EntityType::Func(_))) {
            return Err(Failure::Usage(format!(
                "{} is not a WASI command (it has no `_start`); use --invoke NAME to call \
                 an export ({})",
                file.display(),
                exported_functions(compiled)
            )));
        }
        let mut argv = vec![utf8(&args.file_and_args[0], "FILE")?];
        argv.extend(guest_args);
        let deadline = args.timeout.map(|t| Instant::now() + t);
        let config = with_deadline(wasi_config(args, argv)?, deadline);
        return match runtime.instantiate(compiled, config) {
            Ok(_) => Ok(()),
            Err(Error::Exit(e)) if e.exit_code() == 0 => Ok(()),
            Err(e) => Err(run_failure(e, args.timeout)),
        };
    };
    invoke(args, runtime, compiled, name, &guest_args)
}

/// Instantiates host module `module_name` with one function per entry of `functions`,
/// each trapping with a message that names the import.
fn define_trapping_imports(
    runtime: &Runtime,
    module_name: &str,
    functions: BTreeMap<&str, &FuncType>,
) -> Result<(), Failure> {
    let mut builder = runtime.new_host_module_builder(module_name);
    for (name, ty) in functions {
        let message = format!(
            "called unknown import `{module_name}::{name}`, which --trap-unknown-imports \
             defined as a trap"
        );
        builder
            .new_function_builder()
            .with_stack_func(ty.params(), ty.results(), move |_, _| {
                Err(Trap::host(message.clone()))
            })
            .export(name);
    }
    builder.instantiate()?;
    Ok(())
}

/// `config` with what is left until `deadline` as its start timeout (instantiation runs
/// `_start` and a reactor's `_initialize`).
fn with_deadline(config: ModuleConfig, deadline: Option<Instant>) -> ModuleConfig {
    match deadline {
        Some(d) => config.with_start_timeout(d.saturating_duration_since(Instant::now())),
        None => config,
    }
}

/// What a failed run reports: a deadline that `--timeout` set is named as such.
fn run_failure(e: Error, timeout: Option<Duration>) -> Failure {
    match (&e, timeout) {
        (Error::Exit(exit), Some(t)) if exit.is_deadline_exceeded() => Failure::Trap(format!(
            "timeout: the guest ran for longer than {t:?} (deadline exceeded)"
        )),
        _ => e.into(),
    }
}

fn invoke(
    args: &RunArgs,
    runtime: &Runtime,
    compiled: &CompiledModule,
    name: &str,
    guest_args: &[String],
) -> Result<(), Failure> {
    let ty = match compiled.export_type(name) {
        Some(EntityType::Func(ty)) => ty.clone(),
        Some(other) => {
            return Err(Failure::Usage(format!(
                "export `{name}` is a {}, not a function",
                other.kind_name()
            )));
        }
        None => return Err(Failure::Usage(missing_export(compiled, name))),
    };
    // Arguments are checked before instantiation so that a bad command line never runs
    // the module's start function.
    let params = parse_args(&ty, guest_args, compiled.function_count())?;

    // `_start` belongs to command modules run without --invoke; a reactor's
    // `_initialize` runs first, as WASI expects.
    let argv = vec![utf8(&args.file_and_args[0], "FILE")?];
    let config = wasi_config(args, argv)?.with_start_functions(&["_initialize"]);
    // One budget for `_initialize` and the call.
    let deadline = args.timeout.map(|t| Instant::now() + t);
    let instance = runtime
        .instantiate(compiled, with_deadline(config, deadline))
        .map_err(|e| run_failure(e, args.timeout))?;
    let Some(func) = instance.exported_function(name) else {
        return Err(Failure::Load(format!(
            "export `{name}` disappeared after instantiation"
        )));
    };
    let mut stack = vec![0u64; ty.stack_len()];
    let mut slot = 0;
    for p in &params {
        match *p {
            Param::Slots(lo, hi) => {
                stack[slot] = lo;
                if let Some(hi) = hi {
                    stack[slot + 1] = hi;
                }
            }
            Param::FuncIndex(i) => {
                return Err(Failure::Usage(format!(
                    "funcref argument {i}: only `null` can be passed as a funcref"
                )));
            }
        }
        slot += p.slots();
    }
    let called = match deadline {
        Some(d) => func.call_with_stack_deadline(&mut stack, d),
        None => func.call_with_stack(&mut stack),
    };
    match called {
        Ok(()) => {}
        Err(Error::Exit(e)) if e.exit_code() == 0 => return Ok(()),
        Err(e) => return Err(run_failure(e, args.timeout)),
    }

    let mut out = String::new();
    let mut slot = 0;
    for &result in ty.results() {
        let lo = stack[slot];
        let hi = stack.get(slot + 1).copied().unwrap_or(0);
        out.push_str(&format_value(result, lo, hi));
        out.push('\n');
        slot += result.slots() as usize;
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head -0`) is not the module's fault; report, don't panic.
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Load(format!("cannot write results: {e}")))
}

/// `kiln compile FILE`: decode and validate, then report.
fn compile(file: &Path) -> Result<(), Failure> {
    let (_, compiled) = load(file, EngineChoice::Interp, (None, false, None), None, None)?;
    println!(
        "{}: valid; {} functions ({} imported), {} bytes of code{}",
        file.display(),
        compiled.function_count(),
        compiled.imported_functions().len(),
        compiled.code_size(),
        if compiled.uses_simd() {
            " (uses SIMD)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `kiln inspect FILE`: the module's interface.
fn inspect(file: &Path) -> Result<(), Failure> {
    let (_, compiled) = load(file, EngineChoice::Interp, (None, false, None), None, None)?;
    let mut out = String::new();
    let name = if compiled.name().is_empty() {
        "(unnamed)"
    } else {
        compiled.name()
    };
    out.push_str(&format!("module: {name}\n"));
    let functions = compiled.function_count();
    let imported = compiled.imported_functions().len() as u32;
    out.push_str(&format!(
        "functions: {functions} ({imported} imported, {} defined)\n",
        functions - imported
    ));
    out.push_str(&format!("code size: {} bytes\n", compiled.code_size()));
    let imports = compiled.imports();
    out.push_str(&format!("imports ({}):\n", imports.len()));
    for i in imports {
        out.push_str(&format!(
            "  {}::{}: {}\n",
            i.module(),
            i.name(),
            extern_type(i.ty())
        ));
    }
    let exports = compiled.exports();
    out.push_str(&format!("exports ({}):\n", exports.len()));
    for e in exports {
        out.push_str(&format!("  {}: {}\n", e.name(), extern_type(e.ty())));
    }
    let memories = compiled.memories();
    out.push_str(&format!("memories ({}):\n", memories.len()));
    for (i, mem) in memories.iter().enumerate() {
        let max = mem
            .max()
            .map_or("no maximum".to_string(), |x| format!("max {x}"));
        let mut exported = mem.export_names().to_vec();
        exported.sort();
        out.push_str(&format!(
            "  {i}: min {} pages, {max}{}{}\n",
            mem.min(),
            if mem.import().is_some() {
                ", imported"
            } else {
                ""
            },
            if exported.is_empty() {
                String::new()
            } else {
                format!(", exported as {}", exported.join(", "))
            }
        ));
    }
    let customs = compiled.custom_sections();
    out.push_str(&format!("custom sections ({}):\n", customs.len()));
    for section in customs {
        out.push_str(&format!(
            "  {}: {} bytes\n",
            section.name(),
            section.data().len()
        ));
    }
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::Load(format!("cannot write: {e}")))
}

fn extern_type(ty: &EntityType) -> String {
    let limits = |min: u64, max: Option<u64>| match max {
        Some(max) => format!("{min}..{max}"),
        None => format!("{min}.."),
    };
    match ty {
        EntityType::Func(f) => format!("func {f}"),
        EntityType::Memory(m) => format!("memory {} pages", limits(m.limits.min, m.limits.max)),
        EntityType::Table(t) => {
            format!("table {} {}", limits(t.limits.min, t.limits.max), t.element)
        }
        EntityType::Global(g) => format!(
            "global {}{}",
            if g.mutable { "mut " } else { "" },
            g.content
        ),
    }
}

fn exported_functions(module: &CompiledModule) -> String {
    let funcs: Vec<String> = module
        .exports()
        .iter()
        .filter(|e| matches!(e.ty(), EntityType::Func(_)))
        .map(|e| format!("`{}`", e.name()))
        .collect();
    if funcs.is_empty() {
        "it exports no functions".to_string()
    } else {
        format!("exported functions: {}", funcs.join(", "))
    }
}

/// Reads FILE: `.wat` is text, anything else is binary unless it is not a Wasm binary but
/// parses as text.
fn read_module(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Load(format!("cannot read {}: {e}", path.display())))?;
    let is_wat = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wat"));
    if is_wat {
        return wat::parse_bytes(&bytes)
            .map(|b| b.into_owned())
            .map_err(|e| Failure::Load(with_path(e, path).to_string()));
    }
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    match wat::parse_bytes(&bytes) {
        Ok(b) => Ok(b.into_owned()),
        Err(e) if looks_like_text(&bytes) => Err(Failure::Load(with_path(e, path).to_string())),
        Err(_) => Err(Failure::Load(format!(
            "{}: not a WebAssembly module (no `\\0asm` header, and not WebAssembly text)",
            path.display()
        ))),
    }
}

/// Whether `bytes` look like an attempt at the text format: UTF-8 starting with `(` or a
/// comment, after whitespace.
fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| {
        let s = s.trim_start();
        s.starts_with('(') || s.starts_with(";;") || s.starts_with("(;")
    })
}

fn with_path(mut e: wat::Error, path: &Path) -> wat::Error {
    e.set_path(path);
    e
}

fn missing_export(module: &CompiledModule, name: &str) -> String {
    format!(
        "module has no exported function `{name}` ({})",
        exported_functions(module)
    )
}

/// One parsed argument.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Param {
    /// Raw slot values: the low slot and, for `v128`, the high one.
    Slots(u64, Option<u64>),
    /// A funcref given as a function index, resolved once the instance exists.
    FuncIndex(u32),
}

impl Param {
    fn slots(&self) -> usize {
        match self {
            Param::Slots(_, Some(_)) => 2,
            _ => 1,
        }
    }
}

fn parse_args(ty: &FuncType, args: &[String], num_funcs: u32) -> Result<Vec<Param>, Failure> {
    let params = ty.params();
    if params.len() != args.len() {
        return Err(Failure::Usage(format!(
            "function of type {ty} takes {} argument{}, got {}",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len()
        )));
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (&t, a))| {
            parse_value(t, a, num_funcs).map_err(|why| {
                Failure::Usage(format!(
                    "argument {} `{a}` is not a valid {t}: {why}",
                    i + 1
                ))
            })
        })
        .collect()
}

fn parse_value(ty: ValType, s: &str, num_funcs: u32) -> Result<Param, String> {
    let one = |v: u64| Param::Slots(v, None);
    match ty {
        ValType::I32 => {
            let v = parse_int(s)?;
            if !(i32::MIN as i128..=u32::MAX as i128).contains(&v) {
                return Err("out of range (-2147483648..4294967295)".into());
            }
            Ok(one(v as u32 as u64))
        }
        ValType::I64 => {
            let v = parse_int(s)?;
            if !(i64::MIN as i128..=u64::MAX as i128).contains(&v) {
                return Err("out of range (-9223372036854775808..18446744073709551615)".into());
            }
            Ok(one(v as u64))
        }
        ValType::F32 => parse_float::<f32>(s).map(|f| one(f.to_bits() as u64)),
        ValType::F64 => parse_float::<f64>(s).map(|f| one(f.to_bits())),
        ValType::V128 => {
            let hex = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .ok_or("expected 0x followed by 32 hex digits")?;
            if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("expected 0x followed by 32 hex digits".into());
            }
            let mut bytes = [0u8; 16];
            for (k, b) in bytes.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).map_err(|e| e.to_string())?;
            }
            let v = u128::from_le_bytes(bytes);
            Ok(Param::Slots(v as u64, Some((v >> 64) as u64)))
        }
        ValType::FuncRef => {
            if s == "null" {
                return Ok(one(0));
            }
            let v =
                parse_int(s).map_err(|e| format!("expected `null` or a function index: {e}"))?;
            match u32::try_from(v) {
                Ok(i) if i < num_funcs => Ok(Param::FuncIndex(i)),
                _ => Err(format!(
                    "function index out of range (the module has {num_funcs} functions)"
                )),
            }
        }
        ValType::ExternRef => {
            if s == "null" {
                return Ok(one(0));
            }
            let v = parse_int(s).map_err(|e| format!("expected `null` or a number: {e}"))?;
            // Host reference N travels as N + 1 so that 0 stays null.
            match u64::try_from(v) {
                Ok(n) if n < u64::MAX => Ok(one(n + 1)),
                _ => Err("out of range (0..18446744073709551614)".into()),
            }
        }
    }
}

/// The longest `--timeout`: far beyond any run, and far from overflowing an `Instant`.
const MAX_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 3600);

/// `--timeout`: a positive decimal number and a unit, `ms`, `s`, `m` or `h` (`500ms`,
/// `2s`, `1.5m`), at most a year.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit: write e.g. `500ms`, `2s`, `1m` or `1h`"))?;
    let (number, unit) = s.split_at(split);
    let seconds_per_unit = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit `{unit}` (expected ms, s, m or h)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    match Duration::try_from_secs_f64(value * seconds_per_unit) {
        Ok(d) if d.is_zero() => Err("a timeout must be longer than zero".into()),
        Ok(d) if d <= MAX_TIMEOUT => Ok(d),
        _ => Err(format!(
            "`{s}` is more than a year; leave --timeout out for no limit"
        )),
    }
}

/// `--max-memory`: bytes, or a number with a suffix `KiB`, `MiB`, `GiB` or `pages`
/// (case-insensitive), as a whole number of 64 KiB pages up to 4 GiB.
fn parse_memory_size(s: &str) -> Result<u32, String> {
    const PAGE: u64 = 65536;
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let unit: u64 = match suffix.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "page" | "pages" => PAGE,
        other => {
            return Err(format!(
                "unknown suffix `{other}` (expected KiB, MiB, GiB or pages)"
            ));
        }
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` does not start with a whole number"))?;
    let bytes = value
        .checked_mul(unit)
        .filter(|&b| b <= 65536 * PAGE)
        .ok_or_else(|| format!("`{s}` is more than 4 GiB, the most a 32-bit memory can have"))?;
    if bytes % PAGE != 0 {
        return Err(format!(
            "`{s}` is not a whole number of 64 KiB pages ({bytes} bytes)"
        ));
    }
    Ok((bytes / PAGE) as u32)
}

/// Signed decimal or `0x` hex, with an optional sign; wide enough for every i64 and u64.
fn parse_int(s: &str) -> Result<i128, String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (digits, radix) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (body, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(if radix == 16 {
            "expected hex digits after 0x".into()
        } else {
            "expected a decimal or 0x hex integer".into()
        });
    }
    // More than 32 significant digits cannot fit in the range checked later anyway.
    let magnitude = u128::from_str_radix(digits, radix).map_err(|_| "out of range".to_string())?;
    let magnitude = i128::try_from(magnitude).map_err(|_| "out of range".to_string())?;
    Ok(if neg { -magnitude } else { magnitude })
}

fn parse_float<F: std::str::FromStr>(s: &str) -> Result<F, String> {
    // Rust's parser also accepts `inf`, `infinity` and `nan` in any case, with a sign.
    s.parse::<F>()
        .map_err(|_| "expected a decimal float, inf, -inf or nan".to_string())
}

fn format_value(ty: ValType, lo: u64, hi: u64) -> String {
    match ty {
        ValType::I32 => (lo as u32 as i32).to_string(),
        ValType::I64 => (lo as i64).to_string(),
        ValType::F32 => {
            let f = f32::from_bits(lo as u32);
            format_float(f, f.is_nan())
        }
        ValType::F64 => {
            let f = f64::from_bits(lo);
            format_float(f, f.is_nan())
        }
        ValType::V128 => {
            let mut s = String::from("0x");
            for b in lo.to_le_bytes().iter().chain(hi.to_le_bytes().iter()) {
                s.push_str(&format!("{b:02x}"));
            }
            s
        }
        ValType::FuncRef => {
            if lo == 0 {
                return "null".into();
            }
            // An opaque, non-zero reference value.
            lo.to_string()
        }
        ValType::ExternRef => {
            if lo == 0 {
                "null".into()
            } else {
                (lo - 1).to_string()
            }
        }
    }
}

/// `{}` Display, except that NaN is `nan` (Rust prints `NaN`); infinities are `inf`/`-inf`.
fn format_float(v: impl std::fmt::Display, is_nan: bool) -> String {
    if is_nan { "nan".into() } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("-0xFF"), Ok(-255));
        assert_eq!(parse_int("+7"), Ok(7));
        assert!(parse_int("").is_err());
        assert!(parse_int("-").is_err());
        assert!(parse_int("0x").is_err());
        assert!(parse_int("1.5").is_err());
        assert!(parse_int("99999999999999999999999999999999999999999999").is_err());
        let i32_of = |s| parse_value(ValType::I32, s, 0);
        assert_eq!(i32_of("-2147483648"), Ok(Param::Slots(0x8000_0000, None)));
        assert_eq!(i32_of("4294967295"), Ok(Param::Slots(0xffff_ffff, None)));
        assert_eq!(i32_of("-1"), Ok(Param::Slots(0xffff_ffff, None)));
        assert!(i32_of("4294967296").is_err());
        assert!(i32_of("-2147483649").is_err());
        let i64_of = |s| parse_value(ValType::I64, s, 0);
        assert_eq!(i64_of("-1"), Ok(Param::Slots(u64::MAX, None)));
        assert_eq!(
            i64_of("0xffffffffffffffff"),
            Ok(Param::Slots(u64::MAX, None))
        );
        assert!(i64_of("18446744073709551616").is_err());
        assert!(i64_of("-9223372036854775809").is_err());
    }

    #[test]
    fn floats() {
        let f = |s| parse_value(ValType::F32, s, 0);
        assert_eq!(f("1.5"), Ok(Param::Slots(1.5f32.to_bits() as u64, None)));
        assert_eq!(
            f("-inf"),
            Ok(Param::Slots(f32::NEG_INFINITY.to_bits() as u64, None))
        );
        assert!(matches!(f("nan"), Ok(Param::Slots(b, None)) if f32::from_bits(b as u32).is_nan()));
        assert!(f("x").is_err());
        assert_eq!(format_float(f64::NAN, true), "nan");
        assert_eq!(format_float(f64::INFINITY, false), "inf");
        assert_eq!(format_float(f64::NEG_INFINITY, false), "-inf");
        assert_eq!(format_float(0.1f32, false), "0.1");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("8784h"), Ok(MAX_TIMEOUT));
        for bad in [
            "",
            "5",
            "s",
            "2x",
            "1..5s",
            "0s",
            "-1s",
            "1e400s",
            "8785h",
            "1e30",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("65536"), Ok(1));
        assert_eq!(parse_memory_size("64MiB"), Ok(1024));
        assert_eq!(parse_memory_size("64 mib"), Ok(1024));
        assert_eq!(parse_memory_size("128KiB"), Ok(2));
        assert_eq!(parse_memory_size("4GiB"), Ok(65536));
        assert_eq!(parse_memory_size("3pages"), Ok(3));
        assert_eq!(parse_memory_size("0"), Ok(0));
        for bad in [
            "",
            "MiB",
            "1000",
            "4097MiB",
            "65537pages",
            "1KB",
            "-1",
            "99999999999999999999GiB",
        ] {
            assert!(parse_memory_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v128_round_trip() {
        let s = "0x000102030405060708090a0b0c0d0e0f";
        let Ok(Param::Slots(lo, Some(hi))) = parse_value(ValType::V128, s, 0) else {
            panic!("v128 did not parse");
        };
        assert_eq!(lo, 0x0706_0504_0302_0100);
        assert_eq!(hi, 0x0f0e_0d0c_0b0a_0908);
        assert!(parse_value(ValType::V128, "0x00", 0).is_err());
    }
}
