// "Time to result" in V8 (node): compile + instantiate + run of the same kernels at the
// same work sizes as benches/benches/time_to_result.rs (read from ttr-sizes.json, which
// that benchmark writes), each measurement in a fresh node process (so V8's module cache
// never helps), median of REPS runs.
//
// Usage: node benches/node/time_to_result.mjs WASM_DIR SIZES_JSON [REPS]
//   WASM_DIR: <kernel>.wasm files (cargo run -p kiln-benches --example dump_kernels -- DIR)
// Runs each size with V8's default tiering (Liftoff, then TurboFan for hot functions),
// Liftoff only (--liftoff --no-wasm-tier-up) and TurboFan only (--no-liftoff), and prints
// default / best-of-the-two-bounds.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "--one") {
  // Child: one measurement. argv: --one FILE ARG REPS
  const [, , , file, arg, reps] = process.argv;
  const bytes = readFileSync(file);
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, {});
  let r = 0n;
  for (let i = 0; i < Number(reps); i++) r = instance.exports.run(Number(arg));
  const t1 = performance.now();
  console.log(JSON.stringify({ ms: t1 - t0, checksum: r.toString() }));
  process.exit(0);
}

const [wasmDir, sizesPath, repsArg] = process.argv.slice(2);
const REPS = Number(repsArg ?? 5);
// Checksums are 64-bit: keep them as strings (JSON numbers would lose precision).
const sizes = JSON.parse(readFileSync(sizesPath, "utf8").replace(/"checksum":(-?\d+)/g, '"checksum":"$1"'));
const modes = {
  default: [],
  liftoff: ["--liftoff", "--no-wasm-tier-up"],
  turbofan: ["--no-liftoff"],
};

function measure(flags, s) {
  const times = [];
  for (let i = 0; i < REPS; i++) {
    const out = execFileSync(process.execPath, [...flags, self, "--one", `${wasmDir}/${s.kernel}.wasm`, String(s.arg), String(s.reps)]);
    const r = JSON.parse(out.toString());
    if (r.checksum !== String(s.checksum)) throw new Error(`${s.kernel} ${s.size}: checksum ${r.checksum} != ${s.checksum}`);
    times.push(r.ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

console.log(`node ${process.version}`);
console.log("| kernel | size | liftoff ms | turbofan ms | default ms | default / best |");
console.log("|---|---|---|---|---|---|");
for (const s of sizes) {
  const t = {};
  for (const [name, flags] of Object.entries(modes)) t[name] = measure(flags, s);
  const best = Math.min(t.liftoff, t.turbofan);
  console.log(`| ${s.kernel} | ${s.size} | ${t.liftoff.toFixed(2)} | ${t.turbofan.toFixed(2)} | ${t.default.toFixed(2)} | ${(t.default / best).toFixed(2)} |`);
}
