//! Helpers shared by the tiering crate's integration tests.

use kiln_runtime::{Extern, Instance, Trap};

/// Calls export `name` of `inst` with `args` (one slot each) and returns its result slots.
pub fn call(inst: &Instance, name: &str, args: &[u64]) -> Result<Vec<u64>, Trap> {
    let Some(Extern::Func(f)) = inst.export(name) else {
        panic!("no export {name}")
    };
    let mut stack = vec![0; f.ty().stack_len().max(args.len())];
    stack[..args.len()].copy_from_slice(args);
    f.call(&mut stack)?;
    stack.truncate(f.ty().results().iter().map(|t| t.slots() as usize).sum());
    Ok(stack)
}
