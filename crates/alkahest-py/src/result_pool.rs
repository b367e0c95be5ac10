//! Memory for large fresh batch results, kept for reuse after the arrays
//! that used it are gone.
//!
//! Why: a result of tens of megabytes or more is a fresh `mmap` every call
//! (glibc maps anything above 32 MiB anew), so each call first page-faults
//! through its whole output while the kernel zeroes every page, and that
//! costs as much as computing it: the 24-output chem right-hand side at
//! 1M points takes 28 ns a point into a fresh result and 17 into memory
//! already written once. A loop of large batches (a parameter sweep, a
//! fit) gets warm memory back instead. At most [`MAX_BLOCKS`] blocks and
//! [`max_bytes`] bytes are kept, the most recently freed;
//! `release_result_pool()` frees them, and `ALKAHEST_RESULT_POOL_MB=0`
//! turns the pool off.
//!
//! A block is handed to NumPy inside a [`PooledResult`], the base object
//! of the result array; when NumPy drops the last array over it, the block
//! comes back here.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, OnceLock};

use numpy::PyArrayDyn;
use numpy::ndarray::{ArrayViewD, IxDyn};
use pyo3::prelude::*;

/// Fresh results of at least this many bytes come from the pool (smaller
/// ones are reused warm by the C allocator itself).
pub(crate) const POOL_MIN_BYTES: usize = 32 << 20;

/// Freed blocks kept at most.
const MAX_BLOCKS: usize = 2;

/// Bytes kept at most, unless `ALKAHEST_RESULT_POOL_MB` says otherwise.
const DEFAULT_MAX_BYTES: usize = 1 << 30;

/// Where a result starts within its block: a cache line, so that the
/// LLVM tier can stream to its columns.
const ALIGN: usize = 64;

fn max_bytes() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("ALKAHEST_RESULT_POOL_MB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(DEFAULT_MAX_BYTES, |mb| mb.saturating_mul(1 << 20))
    })
}

/// One allocation: zeroed by the allocator when new (large zeroed
/// allocations are fresh pages, zeroed by the kernel when first touched).
struct Block {
    base: NonNull<u8>,
    layout: Layout,
}

// SAFETY: a block is plain memory owned by whoever holds the `Block`.
unsafe impl Send for Block {}
// SAFETY: `&Block` gives no access to the memory itself.
unsafe impl Sync for Block {}

impl Block {
    /// A zeroed block holding at least `len` doubles from [`Block::data`].
    fn zeroed(len: usize) -> Option<Block> {
        let bytes = len.checked_mul(8)?.checked_add(ALIGN)?;
        // Alignment 16 (not 64) keeps Rust's `alloc_zeroed` on `calloc`,
        // which leaves fresh pages untouched; `data` skips to a line.
        let layout = Layout::from_size_align(bytes, 16).ok()?;
        // SAFETY: the layout has a non-zero size.
        let base = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        huge_pages(base.as_ptr(), bytes);
        Some(Block { base, layout })
    }

    /// The first cache-line boundary in the block.
    fn data(&self) -> *mut f64 {
        let skip = self.base.as_ptr().align_offset(ALIGN);
        // SAFETY: `skip < ALIGN`, and the block has `ALIGN` spare bytes.
        unsafe { self.base.as_ptr().add(skip).cast::<f64>() }
    }

    /// Doubles available from [`Block::data`].
    fn capacity(&self) -> usize {
        (self.layout.size() - self.base.as_ptr().align_offset(ALIGN)) / 8
    }
}

/// Ask Linux for transparent huge pages over the whole pages of
/// `[p, p + bytes)`, as NumPy does for its large arrays (where THP is in
/// `madvise` mode): a fresh result then faults in 2 MiB at a time. Without
/// it, the first write of a 38 MB result took 112 ns a point instead of
/// 28 (4 KiB faults). A refusal only costs speed.
fn huge_pages(p: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let skip = p.align_offset(PAGE);
        if bytes > skip + PAGE {
            let len = (bytes - skip) / PAGE * PAGE;
            // SAFETY: `[p + skip, p + skip + len)` is whole pages inside
            // this allocation; the advice changes no contents.
            unsafe {
                libc::madvise(p.add(skip).cast(), len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, bytes);
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `Block::zeroed` with this layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// Freed blocks, oldest first.
static FREE: Mutex<Vec<Block>> = Mutex::new(Vec::new());

fn free_list() -> MutexGuard<'static, Vec<Block>> {
    // A list of blocks is consistent after any panic.
    FREE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The base object of a pooled result array: owns its block, and gives it
/// back to the pool when NumPy drops it.
#[pyclass(frozen, module = "alkahest._alkahest")]
pub(crate) struct PooledResult {
    block: Option<Block>,
}

impl Drop for PooledResult {
    fn drop(&mut self) {
        if let Some(b) = self.block.take() {
            give_back(b);
        }
    }
}

fn give_back(block: Block) {
    let max = max_bytes();
    if block.layout.size() > max {
        return;
    }
    let dropped: Vec<Block> = {
        let mut free = free_list();
        free.push(block);
        let mut out = Vec::new();
        let total = |f: &Vec<Block>| f.iter().map(|b| b.layout.size()).sum::<usize>();
        while free.len() > MAX_BLOCKS || total(&free) > max {
            out.push(free.remove(0));
        }
        out
    };
    // Unmapped outside the lock.
    drop(dropped);
}

/// A block for `len` doubles: a freed one that fits (at most a quarter
/// larger), else a new, zeroed one. Returns whether it is zeroed.
fn take(len: usize) -> Option<(Block, bool)> {
    let reused = {
        let mut free = free_list();
        let fits = |b: &Block| b.capacity() >= len && b.capacity() - len <= len / 4;
        let pick = free
            .iter()
            .enumerate()
            .filter(|(_, b)| fits(b))
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        pick.map(|i| free.remove(i))
    };
    match reused {
        Some(b) => Some((b, false)),
        None => Block::zeroed(len).map(|b| (b, true)),
    }
}

/// A fresh C-contiguous float64 array of `shape` on pooled memory, and
/// whether it is all zeros (a new block is; a reused one holds an earlier
/// result). `None` when the allocation fails (the caller falls back to
/// NumPy's, which raises `MemoryError`).
pub(crate) fn array<'py>(py: Python<'py>, shape: &[usize]) -> Option<(Bound<'py, PyAny>, bool)> {
    let len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let (block, zeroed) = take(len)?;
    let data = block.data();
    // SAFETY: `data` is aligned and valid for `len` doubles (the block's
    // capacity), which are initialized (zeroed when new; an earlier
    // result when reused).
    let view = unsafe { ArrayViewD::from_shape_ptr(IxDyn(shape), data.cast_const()) };
    let owner = Bound::new(py, PooledResult { block: Some(block) }).ok()?;
    // SAFETY: the array's base object is `owner`, which owns the block
    // and never reallocates or frees it while alive.
    let arr = unsafe { PyArrayDyn::<f64>::borrow_from_array(&view, owner.into_any()) };
    Some((arr.into_any(), zeroed))
}

/// `release_result_pool()`: free the blocks kept for reuse; returns the
/// bytes freed.
#[pyfunction]
pub(crate) fn release_result_pool() -> usize {
    let blocks = std::mem::take(&mut *free_list());
    blocks.iter().map(|b| b.layout.size()).sum()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PooledResult>()?;
    m.add_function(wrap_pyfunction!(release_result_pool, m)?)?;
    Ok(())
}
