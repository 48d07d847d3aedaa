//! Memory and MemoryDefinition: sizes, growth, typed reads and writes at the edges, views.

mod common;

use common::*;
use kiln::{Memory, Runtime};

const PAGE: u32 = 65536;

const MEM: &str = r#"(module $mem
    (memory (export "mem") 1 3)
    (data (i32.const 0) "\01\02\03\04\05\06\07\08")
    (func (export "load8") (param i32) (result i32) local.get 0 i32.load8_u)
    (func (export "store8") (param i32 i32) local.get 0 local.get 1 i32.store8)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "size") (result i32) memory.size))"#;

fn memory(rt: &Runtime) -> (kiln::Module, Memory) {
    let m = instantiate(rt, MEM);
    let mem = m.memory().unwrap();
    (m, mem)
}

#[test]
fn definition() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (_m, mem) = memory(&rt);
        let def = mem.definition();
        assert_eq!(def.module_name(), "mem");
        assert_eq!(def.index(), 0);
        assert_eq!(def.import(), None);
        assert_eq!(def.export_names(), ["mem"]);
        assert_eq!(def.min(), 1);
        assert_eq!(def.max(), Some(3));
        // The definition describes the declaration, not the current size.
        assert_eq!(mem.grow(1), Some(1));
        assert_eq!(mem.definition().min(), 1);
    });
}

#[test]
fn size_and_grow() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (m, mem) = memory(&rt);
        assert_eq!(mem.size(), PAGE as u64);
        assert_eq!(mem.grow(0), Some(1));
        assert_eq!(mem.grow(1), Some(1));
        assert_eq!(mem.size(), 2 * PAGE as u64);
        // Past the declared maximum: refused, size unchanged.
        assert_eq!(mem.grow(2), None);
        assert_eq!(mem.grow(u32::MAX), None);
        assert_eq!(mem.size(), 2 * PAGE as u64);
        assert_eq!(mem.grow(1), Some(2));
        assert_eq!(mem.grow(1), None);
        assert_eq!(mem.grow(0), Some(3));
        // Wasm sees the host's growth and the host sees Wasm's.
        assert_eq!(m.exported_function("size").unwrap().call(&[]).unwrap(), [3]);
        assert_eq!(
            m.exported_function("grow").unwrap().call(&[1]).unwrap(),
            [u32::MAX as u64],
            "memory.grow past max returns -1"
        );
        // New pages are zeroed and usable.
        assert_eq!(mem.read_u64_le(3 * PAGE - 8), Some(0));
        assert!(mem.write_u64_le(3 * PAGE - 8, u64::MAX));

        let (m, mem) = memory(&runtime(engine));
        assert_eq!(
            m.exported_function("grow").unwrap().call(&[2]).unwrap(),
            [1]
        );
        assert_eq!(mem.size(), 3 * PAGE as u64);
    });
}

#[test]
fn grow_stops_at_the_runtime_memory_limit() {
    each_engine(|engine| {
        let rt = Runtime::with_config(config(engine).with_memory_limit_pages(4)).unwrap();
        let m = instantiate(&rt, r#"(module (memory (export "mem") 1))"#);
        let mem = m.memory().unwrap();
        assert_eq!(mem.definition().max(), None);
        assert_eq!(mem.grow(4), None);
        assert_eq!(mem.grow(3), Some(1));
        assert_eq!(mem.grow(1), None);
        assert_eq!(mem.size(), 4 * PAGE as u64);
        assert_eq!(mem.grow(0), Some(4));
        // Without a limit, an unbounded memory grows well past it.
        let rt = runtime(engine);
        let m = instantiate(&rt, r#"(module (memory (export "mem") 1))"#);
        assert_eq!(m.memory().unwrap().grow(16), Some(1));
    });
}

#[test]
fn typed_reads_and_writes_at_the_edges() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (_m, mem) = memory(&rt);
        let end = PAGE;

        assert_eq!(mem.read_u8(0), Some(1));
        assert_eq!(mem.read_u16_le(0), Some(0x0201));
        assert_eq!(mem.read_u32_le(0), Some(0x0403_0201));
        assert_eq!(mem.read_u64_le(0), Some(0x0807_0605_0403_0201));
        assert_eq!(mem.read_u32_le(1), Some(0x0504_0302), "unaligned");

        // u8
        assert!(mem.write_u8(end - 1, 0xab));
        assert_eq!(mem.read_u8(end - 1), Some(0xab));
        assert!(!mem.write_u8(end, 1));
        assert_eq!(mem.read_u8(end), None);
        assert_eq!(mem.read_u8(u32::MAX), None);
        // u16
        assert!(mem.write_u16_le(end - 2, 0xbeef));
        assert_eq!(mem.read_u16_le(end - 2), Some(0xbeef));
        assert_eq!(mem.read_u8(end - 2), Some(0xef), "little-endian");
        assert!(!mem.write_u16_le(end - 1, 1));
        assert_eq!(mem.read_u16_le(end - 1), None);
        assert_eq!(mem.read_u16_le(u32::MAX), None);
        // u32
        assert!(mem.write_u32_le(end - 4, 0xdead_beef));
        assert_eq!(mem.read_u32_le(end - 4), Some(0xdead_beef));
        assert!(!mem.write_u32_le(end - 3, 1));
        assert_eq!(mem.read_u32_le(end - 3), None);
        assert_eq!(mem.read_u32_le(u32::MAX - 2), None);
        // u64
        assert!(mem.write_u64_le(end - 8, 0x0123_4567_89ab_cdef));
        assert_eq!(mem.read_u64_le(end - 8), Some(0x0123_4567_89ab_cdef));
        assert!(!mem.write_u64_le(end - 7, 1));
        assert_eq!(mem.read_u64_le(end - 7), None);
        assert_eq!(mem.read_u64_le(u32::MAX - 3), None);
        // f32
        assert!(mem.write_f32_le(end - 4, -1.25));
        assert_eq!(mem.read_f32_le(end - 4), Some(-1.25));
        assert_eq!(mem.read_u32_le(end - 4), Some((-1.25f32).to_bits()));
        assert!(!mem.write_f32_le(end - 3, 1.0));
        assert_eq!(mem.read_f32_le(end - 3), None);
        // f64
        assert!(mem.write_f64_le(end - 8, 6.5e300));
        assert_eq!(mem.read_f64_le(end - 8), Some(6.5e300));
        assert_eq!(mem.read_u64_le(end - 8), Some(6.5e300f64.to_bits()));
        assert!(!mem.write_f64_le(end - 7, 1.0));
        assert_eq!(mem.read_f64_le(end - 7), None);
        // NaN payloads survive.
        let nan = f32::from_bits(0x7fc0_1234);
        assert!(mem.write_f32_le(100, nan));
        assert_eq!(mem.read_f32_le(100).unwrap().to_bits(), 0x7fc0_1234);
        let nan = f64::from_bits(0x7ff8_0000_0000_1234);
        assert!(mem.write_f64_le(100, nan));
        assert_eq!(
            mem.read_f64_le(100).unwrap().to_bits(),
            0x7ff8_0000_0000_1234
        );

        // A failed write changes nothing.
        let before = mem.read(end - 8, 8).unwrap().to_vec();
        assert!(!mem.write_u64_le(end - 4, 0));
        assert_eq!(mem.read(end - 8, 8).unwrap().to_vec(), before);

        // After growing, the old "one past the end" is valid.
        assert_eq!(mem.grow(1), Some(1));
        assert!(mem.write_u8(end, 9));
        assert_eq!(mem.read_u8(end), Some(9));
        assert_eq!(mem.read_u8(2 * end), None);
    });
}

#[test]
fn writes_are_visible_to_wasm_and_back() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (m, mem) = memory(&rt);
        assert!(mem.write_u8(500, 77));
        let load8 = m.exported_function("load8").unwrap();
        assert_eq!(load8.call(&[500]).unwrap(), [77]);
        m.exported_function("store8")
            .unwrap()
            .call(&[501, 0x1ff])
            .unwrap();
        assert_eq!(mem.read_u8(501), Some(0xff));
    });
}

#[test]
fn read_views() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (_m, mem) = memory(&rt);
        let view = mem.read(2, 4).unwrap();
        assert_eq!(view.len(), 4);
        assert!(!view.is_empty());
        assert_eq!(view.get(0), Some(3));
        assert_eq!(view.get(3), Some(6));
        assert_eq!(view.get(4), None, "index past the view");
        assert_eq!(view.get(usize::MAX), None);
        assert_eq!(view.to_vec(), [3, 4, 5, 6]);
        let mut out = [0u8; 4];
        assert!(view.copy_to(&mut out));
        assert_eq!(out, [3, 4, 5, 6]);
        // copy_to needs exactly the view's length.
        assert!(!view.copy_to(&mut [0u8; 3]));
        assert!(!view.copy_to(&mut [0u8; 5]));

        // A view reads the memory as it is now.
        assert!(mem.write_u8(2, 42));
        assert_eq!(view.get(0), Some(42));

        // Edges.
        let last = mem.read(PAGE - 4, 4).unwrap();
        assert_eq!(last.len(), 4);
        assert!(mem.read(PAGE - 4, 5).is_none());
        assert!(mem.read(PAGE, 1).is_none());
        assert!(mem.read(u32::MAX, 2).is_none());
        assert!(mem.read(0, u32::MAX).is_none());
        let empty = mem.read(PAGE, 0).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert_eq!(empty.get(0), None);
        assert!(empty.to_vec().is_empty());
        assert!(empty.copy_to(&mut []));
        assert!(mem.read(PAGE + 1, 0).is_none());
        let whole = mem.read(0, PAGE).unwrap();
        assert_eq!(whole.len(), PAGE as usize);
        assert_eq!(whole.to_vec().len(), PAGE as usize);

        // A view stays valid across growth (memories never move).
        let view = mem.read(0, 8).unwrap();
        assert_eq!(mem.grow(2), Some(1));
        assert_eq!(view.to_vec(), [1, 2, 42, 4, 5, 6, 7, 8]);
        assert!(mem.read(3 * PAGE - 1, 1).is_some());
    });
}

#[test]
fn write_bytes_and_strings() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (_m, mem) = memory(&rt);
        assert!(mem.write(1000, b"abc"));
        assert_eq!(mem.read(1000, 3).unwrap().to_vec(), b"abc");
        assert!(mem.write_str(2000, "héllo"));
        assert_eq!(
            mem.read(2000, "héllo".len() as u32).unwrap().to_vec(),
            "héllo".as_bytes()
        );
        // Exactly up to the end.
        assert!(mem.write(PAGE - 3, b"xyz"));
        assert_eq!(mem.read(PAGE - 3, 3).unwrap().to_vec(), b"xyz");
        assert!(mem.write_str(PAGE - 1, "!"));
        // One byte past: refused and nothing written.
        assert!(!mem.write(PAGE - 2, b"123"));
        assert_eq!(mem.read(PAGE - 3, 3).unwrap().to_vec(), b"xy!");
        assert!(!mem.write_str(PAGE, "a"));
        assert!(!mem.write(u32::MAX, b"ab"));
        // Empty writes succeed up to the end.
        assert!(mem.write(PAGE, b""));
        assert!(mem.write_str(0, ""));
    });
}

#[test]
fn memory_of_a_module_without_maximum_or_pages() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, r#"(module (memory (export "m") 0))"#);
        let mem = m.exported_memory("m").unwrap();
        assert_eq!(mem.size(), 0);
        assert_eq!(mem.definition().min(), 0);
        assert_eq!(mem.definition().max(), None);
        assert_eq!(mem.read_u8(0), None);
        assert!(!mem.write_u8(0, 1));
        assert!(mem.read(0, 0).unwrap().is_empty());
        assert!(mem.read(0, 1).is_none());
        assert_eq!(mem.grow(1), Some(0));
        assert!(mem.write_u8(0, 1));
        assert_eq!(mem.read_u8(0), Some(1));
    });
}

#[test]
fn memory_handles_are_shared() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let (m, mem) = memory(&rt);
        let copy = mem.clone();
        assert!(copy.write_u32_le(64, 123));
        assert_eq!(mem.read_u32_le(64), Some(123));
        assert_eq!(copy.grow(1), Some(1));
        assert_eq!(mem.size(), 2 * PAGE as u64);
        assert_eq!(m.memory().unwrap().size(), 2 * PAGE as u64);
    });
}
