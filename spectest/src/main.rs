//! `kiln-spectest`: runs WebAssembly `.wast` scripts against Kiln.
//!
//! Usage: `kiln-spectest [--engine interp|jit|tiered] [--tier-threshold N] [--tier-sync]
//! [--wasm3] [--must-pass FILE] [-v] PATH...`. Prints one line per file and then
//! `N passed, N failed, N skipped`; exits non-zero when anything failed. With
//! `--must-pass`, only the files on the list must pass (no failure, no skip): a last line
//! `must-pass: ...` says whether they did, and the exit status follows it.

use anyhow::{Context, Result, bail};
use clap::Parser;
use kiln_spectest::{EngineChoice, MustPassList, Options, Summary, run_file};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(version, about = "Runs WebAssembly .wast spec scripts against Kiln")]
struct Args {
    /// Engine: interp, jit or tiered (default: tiered where this build has it, else
    /// interp).
    #[arg(long)]
    engine: Option<String>,
    /// Hotness threshold for tier-up (tiered engine only).
    #[arg(long)]
    tier_threshold: Option<u32>,
    /// Compile hot functions on the calling thread (tiered engine only).
    #[arg(long)]
    tier_sync: bool,
    /// Validate with the WebAssembly 3.0 feature set instead of 2.0.
    #[arg(long)]
    wasm3: bool,
    /// A list of .wast files, relative to the folder given as PATH, one per line (`#`
    /// comments): the run fails when one of them fails or skips a command, or is missing;
    /// other files may fail.
    #[arg(long, value_name = "FILE")]
    must_pass: Option<PathBuf>,
    /// Print every failure (not just the first few per file).
    #[arg(short, long)]
    verbose: bool,
    /// Files or folders (searched recursively for .wast files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Collects the `.wast` files under `path` with their names relative to `root` (the PATH
/// argument they came from; a file given directly is named by its file name).
fn collect(root: &Path, path: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "wast") {
                collect(root, &e, out)?;
            }
        }
    } else if path.exists() {
        let relative = match path.strip_prefix(root) {
            Ok(r) if !r.as_os_str().is_empty() => r,
            _ => Path::new(path.file_name().unwrap_or(path.as_os_str())),
        };
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        out.push((path.to_path_buf(), name));
    } else {
        bail!("no such file or folder: {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiln-spectest: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: Args) -> Result<ExitCode> {
    let default_engine = if kiln::EngineKind::Tiered.is_available() {
        "tiered"
    } else {
        "interp"
    };
    let engine_name = args.engine.as_deref().unwrap_or(default_engine);
    let engine = match engine_name {
        "interp" => EngineChoice::Interp,
        "jit" if kiln::EngineKind::Jit.is_available() => EngineChoice::Jit,
        "tiered" if kiln::EngineKind::Tiered.is_available() => EngineChoice::Tiered,
        "jit" | "tiered" => bail!("engine `{engine_name}` is not built yet"),
        other => bail!("unknown engine `{other}` (expected interp, jit or tiered)"),
    };
    if engine != EngineChoice::Tiered && (args.tier_threshold.is_some() || args.tier_sync) {
        bail!("--tier-threshold and --tier-sync apply to the tiered engine only");
    }
    let must_pass = match &args.must_pass {
        Some(list) => Some(MustPassList::parse(
            &std::fs::read_to_string(list)
                .with_context(|| format!("reading the must-pass list {}", list.display()))?,
        )),
        None => None,
    };
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, p, &mut files)?;
    }
    let options = Options {
        engine,
        wasm3: args.wasm3,
        verbose: args.verbose,
        tier_threshold: args.tier_threshold,
        tier_sync: args.tier_sync,
    };
    let results: Vec<(PathBuf, String, Summary)> = files
        .par_iter()
        .map(|(f, name)| (f.clone(), name.clone(), run_file(f, &options)))
        .collect();
    let mut total = Summary::default();
    for (path, _, s) in &results {
        println!(
            "{}: {} passed, {} failed, {} skipped",
            path.display(),
            s.passed,
            s.failed,
            s.skipped
        );
        for msg in &s.messages {
            eprintln!("{msg}");
        }
        total.add(s);
    }
    if engine == EngineChoice::Tiered {
        println!(
            "tiering: {} functions tiered up, {} OSR entries compiled, {} frames entered native code by OSR",
            total.tiered_up, total.osr_compiled, total.osr_entries
        );
    }
    println!(
        "{} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    if let Some(list) = must_pass {
        let named: Vec<(String, Summary)> =
            results.into_iter().map(|(_, name, s)| (name, s)).collect();
        let report = list.check(&named);
        println!("{}", report.summary_line());
        return Ok(if report.ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    Ok(if total.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
