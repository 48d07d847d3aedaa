//! libFuzzer target `validate`: see `kiln_fuzz::validate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln_fuzz::validate(data);
});
