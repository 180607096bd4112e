//! Modes that exhaust a resource: CPU time, memory, stack, output size.
//!
//! Every loop and allocation goes through [`black_box`] so the optimizer cannot prove the work
//! useless and delete it: the point is that the host, not the compiler, stops it.

use std::hint::black_box;

use crate::wharf::connector::types::{ConnectorError, OrderPage};

/// Size of each allocation in mode `memory`.
const CHUNK_BYTES: usize = 1 << 20;

/// Where mode `memory` gives up: 1 GiB, 16 times the host's 64 MiB memory cap, so reaching it
/// means the host enforced no cap at all.
const MEMORY_CEILING_BYTES: usize = 1 << 30;

/// Byte written over every allocated chunk, so each page is really touched (not a zeroed page
/// an allocator could hand out lazily).
const TOUCH_BYTE: u8 = 0xA5;

/// Cursor size for mode `huge-output`: 100 MB, beyond the host's 64 MiB memory cap, so the
/// string cannot even be built.
pub const HUGE_OUTPUT_BYTES: usize = 100 * 1000 * 1000;

/// Cursor size for mode `big-output`: 20 MB fits in 64 MiB of memory, so only the host's cap on
/// the size of what a call returns can stop it.
pub const BIG_OUTPUT_BYTES: usize = 20 * 1000 * 1000;

/// Mode `loop`: spins until the host interrupts it.
pub fn spin() -> ! {
    let mut turns: u64 = 0;
    loop {
        turns = black_box(turns).wrapping_add(1);
    }
}

/// Mode `memory`: keeps allocating and writing 1 MiB chunks.
///
/// A failed allocation aborts, as in any Rust program, which traps the call. Reaching the
/// ceiling means nothing stopped it, and the error says so.
pub fn hoard_memory() -> Result<OrderPage, ConnectorError> {
    let mut held: Vec<Vec<u8>> = Vec::new();
    while held.len() * CHUNK_BYTES < MEMORY_CEILING_BYTES {
        let chunk = vec![TOUCH_BYTE; CHUNK_BYTES];
        held.push(black_box(chunk));
    }
    let held_mib = (black_box(&held).len() * CHUNK_BYTES) >> 20;
    Err(crate::platform_error("memory", format!("held {held_mib} MiB without being stopped")))
}

/// Mode `recursion`: recurses until the stack runs out.
pub fn recurse_without_end() -> Result<OrderPage, ConnectorError> {
    let depth = descend(0);
    Err(crate::platform_error("recursion", format!("came back from depth {depth}, which should never happen")))
}

/// One level of the recursion: not a tail call (the result is used after it returns) and with
/// a local kept alive across it, so every level costs real stack on both the wasm value stack
/// and the shadow stack in linear memory.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    // Never true; it only keeps the compiler from seeing a recursion without a base case.
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let frame = black_box([depth; 8]);
    let below = black_box(descend(black_box(depth + 1)));
    below ^ frame[(depth % 8) as usize]
}

/// Modes `huge-output` and `big-output`: an empty page whose cursor is `bytes` of `x`.
pub fn oversized_page(bytes: usize) -> OrderPage {
    let mut cursor = String::with_capacity(bytes);
    cursor.extend(std::iter::repeat_n('x', bytes));
    OrderPage { orders: Vec::new(), next_cursor: Some(black_box(cursor)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_page_carries_exactly_the_asked_bytes() {
        let page = oversized_page(1000);
        assert!(page.orders.is_empty());
        let cursor = page.next_cursor.unwrap();
        assert_eq!(cursor.len(), 1000);
        assert!(cursor.bytes().all(|b| b == b'x'));
    }
}
