//! Module generation shared by the fuzz targets (`lib.rs`) and the Kiln-only differential
//! test (`api/tests/differential.rs`), which include this file by path: the seed PRNG, the
//! wasm-smith settings and the export of wasm-smith's fuel global.

/// splitmix64: a tiny, well-mixed PRNG, so that seeds are reproducible without a crate.
pub struct Prng(pub u64);

impl Prng {
    /// The generator of `seed`.
    pub fn new(seed: u64) -> Prng {
        Prng(seed ^ 0x6a09_e667_f3bc_c909)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// A random number below `n` (not exactly uniform; fine for picking cases).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// wasm-smith settings: WebAssembly 2.0, no imports, small modules (at least `min_funcs`
/// functions and `min_memories` memories). With
/// `avoid_traps`, wasm-smith guards loads, stores, divisions and conversions so that the
/// code runs further (traps end most calls early otherwise, mostly out of bounds).
pub fn smith_config(avoid_traps: bool, min_funcs: usize, min_memories: u32) -> wasm_smith::Config {
    wasm_smith::Config {
        // Proposals outside WebAssembly 2.0 (relaxed SIMD is 3.0).
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: false,
        compact_imports_enabled: false,
        max_memories: 1,
        // WebAssembly 2.0 proposals.
        simd_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        // No imports: the module runs on its own.
        max_imports: 0,
        min_imports: 0,
        // Everything observable from outside, and deterministic float bits.
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: true,
        // Small modules: quick to run in a debug build, and easy to read when one differs.
        min_types: 1,
        max_types: 12,
        min_funcs,
        max_funcs: 10,
        max_instructions: 100,
        min_memories,
        max_type_size: 100,
        max_globals: 6,
        max_tables: 2,
        max_table_elements: 64,
        max_elements: 16,
        max_element_segments: 4,
        max_data_segments: 4,
        max_memory32_bytes: 2 * 65536,
        disallow_traps: avoid_traps,
        ..wasm_smith::Config::default()
    }
}

/// Returns `wasm` with one more export: global `index` as `name`.
pub fn export_global(wasm: &[u8], name: &str, index: u32) -> Vec<u8> {
    const EXPORT: u8 = 7;
    // Sections that come after the export section (start, element, data count, code, data).
    const AFTER_EXPORT: [u8; 5] = [8, 9, 12, 10, 11];
    let exports_with = |existing: Option<wasmparser::ExportSectionReader<'_>>| {
        let mut section = wasm_encoder::ExportSection::new();
        for export in existing.into_iter().flatten() {
            let export = export.expect("generated export");
            let kind = match export.kind {
                wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                    wasm_encoder::ExportKind::Func
                }
                wasmparser::ExternalKind::Table => wasm_encoder::ExportKind::Table,
                wasmparser::ExternalKind::Memory => wasm_encoder::ExportKind::Memory,
                wasmparser::ExternalKind::Global => wasm_encoder::ExportKind::Global,
                wasmparser::ExternalKind::Tag => wasm_encoder::ExportKind::Tag,
            };
            section.export(export.name, kind, export.index);
        }
        section.export(name, wasm_encoder::ExportKind::Global, index);
        section
    };
    let mut out = wasm_encoder::Module::new();
    let mut done = false;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.expect("generated module");
        if let wasmparser::Payload::ExportSection(reader) = &payload {
            out.section(&exports_with(Some(reader.clone())));
            done = true;
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        if !done && AFTER_EXPORT.contains(&id) {
            out.section(&exports_with(None));
            done = true;
        }
        let data = &wasm[range.start as usize..range.end as usize];
        out.section(&wasm_encoder::RawSection { id, data });
    }
    if !done {
        out.section(&exports_with(None));
    }
    debug_assert_eq!(EXPORT, wasm_encoder::SectionId::Export as u8);
    out.finish()
}
