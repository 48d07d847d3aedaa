//! libFuzzer target `run`: see `kiln_fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln_fuzz::run(data);
});
