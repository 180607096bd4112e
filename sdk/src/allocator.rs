//! The plugins' memory allocator inside the sandbox: size classes with free lists.
//!
//! A plugin call lives in a fresh instance whose memory the host throws away when the call
//! returns, and most of what it allocates is small and short-lived: the keys and strings of a
//! parsed answer, the paths of the fields it reads, the strings of the records it maps. The
//! C library's `dlmalloc`, which Rust uses on `wasm32-wasip2` by default, splits, coalesces
//! and bins every block for a long-lived process; in the Taobao plugin it was a fifth of the
//! guest's time (BENCHMARKS.md, issue 18, stop 32). Here a small block is taken from the free
//! list of its size class (powers of two from [`MIN_CLASS_BYTES`] to [`MAX_CLASS_BYTES`]),
//! or cut from the current chunk, and given back to that list: a few instructions each way.
//! Larger blocks go to the C library's allocator, as before.
//!
//! What it costs: a freed block serves only its own class (at most twice the size asked for,
//! and memory one class freed is not reused by another), bounded by the call's memory limit
//! like everything else; a call that needs more memory than that fails as it would have.
//!
//! A component instance runs one thread (wasm32-wasip2 has no threads), so the state is
//! plain cells; where wasm has threads (the `atomics` target feature) `lib.rs` does not
//! install it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest block: two pointers, so that nothing smaller than a `String`'s heap part is
/// rounded up twice.
const MIN_CLASS_BYTES: usize = 16;
/// The largest block served from a class; larger ones go to the C library (a parsed answer's
/// body, a `Vec` of a page's records): they are few, and rounding them up would waste most.
const MAX_CLASS_BYTES: usize = 4 << 10;
/// Classes 16, 32, …, 4096.
const CLASSES: usize = (MAX_CLASS_BYTES / MIN_CLASS_BYTES).trailing_zeros() as usize + 1;
/// What a chunk asks of the C library at a time: a wasm page.
const CHUNK_BYTES: usize = 64 << 10;

/// The class of a block of `layout`, or `None` when it is too large (or too aligned) for one.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_CLASS_BYTES);
    if size > MAX_CLASS_BYTES {
        return None;
    }
    Some((size.next_power_of_two() / MIN_CLASS_BYTES).trailing_zeros() as usize)
}

fn class_bytes(class: usize) -> usize {
    MIN_CLASS_BYTES << class
}

struct State {
    /// Head of each class's free list; a free block's first word points at the next one.
    free: [*mut u8; CLASSES],
    /// The unused part of the current chunk.
    next: *mut u8,
    end: *mut u8,
}

/// The allocator; see the module's comment.
pub struct SizeClasses {
    state: UnsafeCell<State>,
}

// SAFETY: a component instance has one thread (`lib.rs` installs it only without the `atomics` target feature), so
// the state is never reached from two threads.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> Self {
        Self {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
            }),
        }
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every block handed out is `class_bytes(class)` long and aligned to that size (a power
// of two, at least the layout's size and alignment): chunks are aligned to `CHUNK_BYTES` and
// cut at multiples of the class, and a block comes back to the list of the class it was cut
// for, since `dealloc` gets the same layout `alloc` did. Larger layouts go to `System` both
// ways.
unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            return unsafe { System.alloc(layout) };
        };
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            state.free[class] = unsafe { *(head as *mut *mut u8) };
            return head;
        }
        let bytes = class_bytes(class);
        let mut start = state.next.wrapping_add(state.next.align_offset(bytes));
        if state.next.is_null() || (state.end as usize).saturating_sub(start as usize) < bytes {
            // SAFETY: CHUNK_BYTES is a non-zero power of two.
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK_BYTES, CHUNK_BYTES)) };
            if chunk.is_null() {
                return chunk;
            }
            state.end = chunk.wrapping_add(CHUNK_BYTES);
            start = chunk;
        }
        state.next = start.wrapping_add(bytes);
        start
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return unsafe { System.dealloc(block, layout) };
        };
        let state = unsafe { &mut *self.state.get() };
        unsafe { *(block as *mut *mut u8) = state.free[class] };
        state.free[class] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, fits isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_sizes_and_alignments() {
        let of = |size, align| class_of(Layout::from_size_align(size, align).unwrap()).map(class_bytes);
        assert_eq!(of(1, 1), Some(16));
        assert_eq!(of(16, 8), Some(16));
        assert_eq!(of(17, 1), Some(32));
        assert_eq!(of(24, 8), Some(32));
        assert_eq!(of(8, 64), Some(64));
        assert_eq!(of(4096, 1), Some(4096));
        assert_eq!(of(4097, 1), None);
        assert_eq!(of(8, 8192), None);
        assert_eq!(CLASSES, 9);
    }

    #[test]
    fn blocks_are_aligned_distinct_reused_and_keep_their_bytes_when_they_grow() {
        let a = SizeClasses::new();
        unsafe {
            let l24 = Layout::from_size_align(24, 8).unwrap();
            let x = a.alloc(l24);
            let y = a.alloc(l24);
            assert_ne!(x, y);
            assert_eq!(x as usize % 32, 0);
            a.dealloc(x, l24);
            assert_eq!(a.alloc(l24), x, "a freed block serves the next of its class");
            // Growing within the class keeps the block; past it moves the bytes.
            assert_eq!(a.realloc(y, l24, 30), y);
            ptr::copy_nonoverlapping(b"abcdefgh".as_ptr(), y, 8);
            let z = a.realloc(y, Layout::from_size_align(30, 8).unwrap(), 100);
            assert_eq!(std::slice::from_raw_parts(z, 8), b"abcdefgh");
            // A large block and one too aligned for a class go to the system allocator.
            let big = Layout::from_size_align(10_000, 8).unwrap();
            let b = a.alloc(big);
            let b = a.realloc(b, big, 20_000);
            a.dealloc(b, Layout::from_size_align(20_000, 8).unwrap());
            // Many blocks: each of its class's size apart, across chunks.
            let l4k = Layout::from_size_align(4096, 1).unwrap();
            let blocks: Vec<usize> = (0..40).map(|_| a.alloc(l4k) as usize).collect();
            let mut sorted = blocks.clone();
            sorted.sort();
            assert!(sorted.windows(2).all(|w| w[1] - w[0] >= 4096));
        }
    }
}
