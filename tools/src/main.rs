//! `kiln`: the Kiln command line.
//!
//! ```text
//! kiln run [--engine interp|jit|tiered] --invoke NAME FILE.wasm|FILE.wat [ARGS...]
//! ```
//!
//! Kiln's own flags stand before FILE; everything after FILE is handed to the guest (for
//! `--invoke`, the export's arguments, even when they look like flags, such as `-5`).
//!
//! Exit status: 0 on success, 1 when the module fails to load, validate, link or
//! instantiate, 2 for usage errors, 134 when execution traps. Results go to stdout, one
//! per line; every diagnostic goes to stderr.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kiln::core::{ExternType, FuncType, Module, ValType};
use kiln::{Error, ModuleConfig, Runtime, RuntimeConfig};
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Exit status for a module that fails to load, validate, link or instantiate.
const EXIT_LOAD: u8 = 1;
/// Exit status for a usage error (the same one clap uses).
const EXIT_USAGE: u8 = 2;
/// Exit status for a trap (what an `abort()`ed native process reports: 128 + SIGABRT).
const EXIT_TRAP: u8 = 134;

#[derive(Parser, Debug)]
#[command(
    name = "kiln",
    version,
    about = "Kiln: a WebAssembly runtime",
    propagate_version = true,
    after_help = "Exit status: 0 success, 1 load/validate/link error, 2 usage error, 134 trap."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load a module and call one of its exported functions.
    #[command(after_help = ARGS_HELP)]
    Run(RunArgs),
}

const ARGS_HELP: &str = "\
Arguments are parsed by the export's parameter types:
  i32, i64        signed decimal or 0x hex (i32 accepts -2147483648..4294967295)
  f32, f64        decimal or exponent notation, inf, -inf, nan
  v128            0x followed by 32 hex digits, the 16 bytes in memory order
  funcref         null, or the index of a function of the module
  externref       null, or a number N (the host reference N)
Results are printed to stdout in the same notations, one per line.

Exit status: 0 success, 1 load/validate/link error, 2 usage error, 134 trap.";

#[derive(Args, Debug)]
struct RunArgs {
    /// Execution engine.
    #[arg(long, value_enum, default_value_t = EngineChoice::Interp, value_name = "ENGINE")]
    engine: EngineChoice,

    /// Name of the exported function to call.
    #[arg(long, value_name = "NAME")]
    invoke: String,

    /// The module (a binary `.wasm` or a text `.wat` file), then the arguments of the
    /// invoked function: everything after FILE belongs to the guest, even `-5` or `--x`.
    #[arg(
        value_name = "FILE",
        value_names = ["FILE", "ARGS"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    file_and_args: Vec<OsString>,
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
            .map(|a| {
                a.to_str().map(str::to_owned).ok_or_else(|| {
                    Failure::Usage(format!("argument {} is not valid UTF-8", a.display()))
                })
            })
            .collect()
    }
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
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Load(_) => EXIT_LOAD,
            Failure::Trap(_) => EXIT_TRAP,
        }
    }

    fn report(&self) {
        let mut err = std::io::stderr().lock();
        // Nothing sensible is left to do when stderr itself is gone.
        let _ = match self {
            Failure::Usage(m) => writeln!(
                err,
                "error: {m}\n\nFor more information, try 'kiln run --help'."
            ),
            Failure::Load(m) => writeln!(err, "error: {m}"),
            Failure::Trap(m) => writeln!(err, "error: {m}"),
        };
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Trap(_) => Failure::Trap(e.to_string()),
            Error::Usage(_) => Failure::Usage(e.to_string()),
            Error::Exit(_) => Failure::Trap(e.to_string()),
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
    let result = match cli.command {
        Command::Run(args) => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            f.report();
            ExitCode::from(f.exit_code())
        }
    }
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    if args.engine != EngineChoice::Interp {
        return Err(Failure::Usage(format!(
            "engine `{}` is not built yet (available: interp)",
            args.engine.name()
        )));
    }
    let file = args.file();
    let guest_args = args.guest_args()?;
    let bytes = read_module(file)?;
    let engine = kiln::EngineKind::from_name(args.engine.name()).unwrap_or_default();
    let runtime = Runtime::with_config(RuntimeConfig::new().with_engine(engine))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let compiled = runtime
        .compile(&bytes)
        .map_err(|e| Failure::Load(format!("{}: {e}", file.display())))?;
    let module = compiled.inner();

    // Kiln has no host functions to offer yet: any import is unresolvable.
    if let Some(import) = module.imports().next() {
        return Err(Failure::Load(format!(
            "link error: unknown import `{}::{}` ({}); kiln run provides no imports",
            import.module,
            import.name,
            import.ty.kind_name()
        )));
    }

    let ty = match module.export_type(&args.invoke) {
        Some(ExternType::Func(ty)) => ty,
        Some(other) => {
            return Err(Failure::Usage(format!(
                "export `{}` is a {}, not a function",
                args.invoke,
                other.kind_name()
            )));
        }
        None => return Err(Failure::Usage(missing_export(module, &args.invoke))),
    };
    // Arguments are checked before instantiation so that a bad command line never runs
    // the module's start function.
    let params = parse_args(&ty, &guest_args, module.num_funcs())?;

    // `_start` belongs to command modules run without --invoke: not run here.
    let instance = runtime.instantiate(&compiled, ModuleConfig::new().with_start_functions(&[]))?;
    let Some(func) = instance.exported_function(&args.invoke) else {
        return Err(Failure::Load(format!(
            "export `{}` disappeared after instantiation",
            args.invoke
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
    func.call_with_stack(&mut stack).map_err(|e| match e {
        Error::Trap(t) => Failure::Trap(format!("trap: {t}")),
        other => Failure::from(other),
    })?;

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

fn missing_export(module: &Module, name: &str) -> String {
    let funcs: Vec<String> = module
        .exports()
        .filter(|(_, ty)| matches!(ty, ExternType::Func(_)))
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    if funcs.is_empty() {
        format!("module has no exported function `{name}` (it exports no functions)")
    } else {
        format!(
            "module has no exported function `{name}` (exported functions: {})",
            funcs.join(", ")
        )
    }
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
