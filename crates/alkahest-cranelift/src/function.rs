//! The compiled-function handle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use alkahest_tape::{Evaluator, MAX_GROUP_INPUTS, MAX_GROUP_OUTPUTS, OutputGroup, Tape};
use cranelift_jit::JITModule;

use crate::codegen::{self, Options};
use crate::error::{Error, Result};

/// `alkahest_eval_scalar(inputs, out)`: reads `n_inputs` doubles from
/// `inputs` and writes `n_outputs` doubles to `out`.
type ScalarFn = unsafe extern "C" fn(*const f64, *mut f64);
/// `alkahest_eval_bulk(cols, n_vars, outs, n_points)`: reads `cols[v][i]`
/// and writes `outs[k][i]` for `v < n_vars`, `k < n_outputs`,
/// `i < n_points`; does nothing unless `n_vars == n_inputs`.
type BulkFn = unsafe extern "C" fn(*const *const f64, u64, *const *mut f64, u64);

/// Column pointer tables up to this many entries live on the stack.
const STACK_TABLE: usize = 16;

/// A tape compiled to native code by Cranelift.
///
/// The handle owns the machine code: dropping it unmaps the code pages, so
/// compiling and dropping in a loop does not grow memory. The code touches
/// only its arguments and its own stack frame, so one handle may be called
/// from many threads at once.
///
/// All outputs of a multi-output tape are computed in one pass, sharing
/// subexpressions: [`Evaluator::eval`] fills `out[0..n_outputs]` and
/// [`Evaluator::eval_columns`] one column per output.
pub struct CraneliftFn {
    scalar: ScalarFn,
    bulk: BulkFn,
    n_inputs: usize,
    n_outputs: usize,
    code_size: usize,
    /// The module owning the code pages. Only `Drop` touches it; the mutex
    /// exists to make the handle `Sync` without an `unsafe impl`.
    module: Mutex<Option<JITModule>>,
    /// A wide tape's output groups, for large batches (see [`Grouped`]).
    grouped: Option<Box<Grouped>>,
}

/// Batches of at least this many points run group by group once the
/// groups' code exists; smaller ones run the whole tape's loop (a group's
/// loop gains nothing on a few points).
const GROUPED_MIN_POINTS: usize = 256;
/// The groups are planned and their code compiled once this many points
/// have gone through batches: it costs about as much as compiling the
/// whole tape (about 2.5 ms against 2.0 on the Brusselator right-hand
/// side), which batches of this size repay (134 -> 68 ns a point there).
const GROUPED_AFTER_POINTS: u64 = 65_536;

/// The grouped batch loop of a wide tape with many outputs, each group
/// needing few inputs (`alkahest_tape::output_groups`): a block of points
/// runs one small loop per group instead of the whole tape's loop, which
/// computes every output of a point at once and keeps every input live
/// (on the 60-output Brusselator right-hand side, 1M points: 134 -> 68 ns
/// a point). The groups are planned and compiled on demand (see
/// [`GROUPED_AFTER_POINTS`]), so compiling the function and calling it
/// on single points cost what they did (planning alone took 31 us of a
/// 1.2 ms compile). Each output goes through the same operations as in the
/// whole tape: the same bits.
struct Grouped {
    /// The tape, for planning its groups ([`alkahest_tape::may_group`] said
    /// it might have some).
    tape: Tape,
    options: Options,
    /// Points evaluated in batches so far.
    seen: AtomicU64,
    /// The groups and their bulk entries, once compiled (`None` if the
    /// tape has no groups or compiling failed: the whole tape's loop then
    /// serves every batch).
    code: OnceLock<Option<GroupCode>>,
}

/// The compiled groups: one bulk entry per group, in one module.
struct GroupCode {
    groups: Vec<OutputGroup>,
    bulk: Vec<BulkFn>,
    /// Owns the code pages (see [`CraneliftFn::module`]).
    module: Mutex<Option<JITModule>>,
}

impl GroupCode {
    /// `outs[k][i]` for every output and point, block by block, group by
    /// group (columns checked by the caller: `n` points each, outputs
    /// distinct unique borrows).
    fn run(&self, columns: &[&[f64]], outs: &mut [&mut [f64]], n: usize) {
        let n_inputs = columns.len();
        let block = alkahest_tape::group_block_points(n_inputs) as usize;
        let mut i0 = 0;
        while i0 < n {
            let cnt = block.min(n - i0);
            for (g, &f) in self.groups.iter().zip(&self.bulk) {
                let mut cols = [std::ptr::null::<f64>(); MAX_GROUP_INPUTS];
                for (slot, &c) in cols.iter_mut().zip(&g.cols) {
                    *slot = columns[c][i0..].as_ptr();
                }
                let mut dst = [std::ptr::null_mut::<f64>(); MAX_GROUP_OUTPUTS];
                for (slot, &k) in dst.iter_mut().zip(&g.outs) {
                    *slot = outs[k][i0..].as_mut_ptr();
                }
                // SAFETY: `cols[s]` points at `cnt` readable f64 of input
                // column `g.cols[s]` and `dst[s]` at `cnt` writable f64 of
                // output column `g.outs[s]` (every column holds `n >= i0 +
                // cnt` points); the group's entry reads `g.cols.len()`
                // columns and writes `g.outs.len()` (its tape's counts, at
                // most the tables' lengths). Output columns are distinct
                // unique borrows, so they alias nothing else.
                unsafe {
                    f(
                        cols.as_ptr(),
                        g.cols.len() as u64,
                        dst.as_ptr().cast(),
                        cnt as u64,
                    );
                }
            }
            i0 += cnt;
        }
    }
}

impl Drop for GroupCode {
    fn drop(&mut self) {
        let slot = self.module.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = slot.take() {
            // SAFETY: `&mut self` proves no call through `bulk` is in
            // flight (calls borrow the owning handle), and the pointers die
            // with `self`.
            unsafe { module.free_memory() };
        }
    }
}

impl Grouped {
    /// The groups' code for a batch of `n` points, planning and compiling
    /// it (once) when the batches so far have reached
    /// [`GROUPED_AFTER_POINTS`].
    fn code_for(&self, n: usize) -> Option<&GroupCode> {
        if n < GROUPED_MIN_POINTS {
            return None;
        }
        if let Some(code) = self.code.get() {
            return code.as_ref();
        }
        let seen = self.seen.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if seen < GROUPED_AFTER_POINTS {
            return None;
        }
        self.code
            .get_or_init(|| {
                let groups = alkahest_tape::output_groups(&self.tape)?;
                let c = codegen::compile_groups(&groups, &self.options).ok()?;
                // SAFETY: each address is a finalized function defined with
                // the bulk signature `(ptr, i64, ptr, i64) -> ()` in the
                // host's default calling convention, `extern "C"`.
                let bulk = c
                    .bulk
                    .iter()
                    .map(|&f| unsafe { std::mem::transmute::<*const u8, BulkFn>(f) })
                    .collect();
                Some(GroupCode {
                    groups,
                    bulk,
                    module: Mutex::new(Some(c.module)),
                })
            })
            .as_ref()
    }
}

/// Compile `tape` to native code for the host CPU.
///
/// A `Tape` is valid by construction, so this fails only with
/// [`Error::TooManyLive`] for a tape whose stack frame would be
/// unreasonably large, [`Error::UnsupportedFunction`] for a function this
/// crate cannot call, and [`Error::Module`] if Cranelift itself fails.
pub fn compile(tape: &Tape) -> Result<CraneliftFn> {
    compile_with(tape, &Options::default())
}

/// [`compile`] with explicit settings.
pub fn compile_with(tape: &Tape, options: &Options) -> Result<CraneliftFn> {
    let plan = codegen::plan(tape)?;
    let c = codegen::compile(tape, &plan, options)?;
    // SAFETY: `c.scalar` and `c.bulk` are the finalized addresses of the
    // functions defined with exactly these signatures (`build_scalar`:
    // (ptr, ptr) -> (); `build_bulk`: (ptr, i64, ptr, i64) -> ()) in the
    // host's default calling convention, which is `extern "C"`.
    let (scalar, bulk) = unsafe {
        (
            std::mem::transmute::<*const u8, ScalarFn>(c.scalar),
            std::mem::transmute::<*const u8, BulkFn>(c.bulk),
        )
    };
    let grouped = alkahest_tape::may_group(tape).then(|| {
        Box::new(Grouped {
            tape: tape.clone(),
            options: options.clone(),
            seen: AtomicU64::new(0),
            code: OnceLock::new(),
        })
    });
    Ok(CraneliftFn {
        scalar,
        bulk,
        n_inputs: tape.n_inputs(),
        n_outputs: tape.n_outputs(),
        code_size: c.code_size,
        module: Mutex::new(Some(c.module)),
        grouped,
    })
}

/// Run `f` on a table of the pointers `ptrs`, on the stack when small.
fn with_table<T>(ptrs: impl ExactSizeIterator<Item = *const T>, f: impl FnOnce(*const *const T)) {
    if ptrs.len() <= STACK_TABLE {
        let mut t = [std::ptr::null::<T>(); STACK_TABLE];
        for (slot, p) in t.iter_mut().zip(ptrs) {
            *slot = p;
        }
        f(t.as_ptr());
    } else {
        let t: Vec<*const T> = ptrs.collect();
        f(t.as_ptr());
    }
}

impl CraneliftFn {
    /// Bytes of machine code in both entry points.
    pub fn code_size(&self) -> usize {
        self.code_size
    }

    /// Evaluate points stored in contiguous column-major buffers.
    ///
    /// Input: variable `v` at point `i` is `data[v * n + i]` (a C-contiguous
    /// `(n_inputs, n)` array, or Fortran-contiguous `(n, n_inputs)`).
    /// Output: one contiguous column per output, in order — output `k` at
    /// point `i` goes to `out[k * n + i]` (a C-contiguous `(n_outputs, n)`
    /// array). The point count is `n = out.len() / n_outputs`, so for a
    /// one-output function `out` is simply the output column.
    ///
    /// Fails with [`Error::OutputShape`] when `out.len()` is not a multiple
    /// of `n_outputs`, and [`Error::Shape`] when `data.len() != n_inputs * n`.
    pub fn eval_column_major(&self, data: &[f64], out: &mut [f64]) -> Result<()> {
        let m = self.n_outputs;
        if !out.len().is_multiple_of(m) {
            return Err(Error::OutputShape {
                n_outputs: m,
                got: out.len(),
            });
        }
        let n = out.len() / m;
        let expected = self.n_inputs.checked_mul(n);
        if expected != Some(data.len()) {
            return Err(Error::Shape {
                expected: expected.unwrap_or(usize::MAX),
                got: data.len(),
            });
        }
        let (base, obase) = (data.as_ptr(), out.as_mut_ptr());
        // `wrapping_add` keeps this safe to compute; for n == 0 the pointers
        // are never dereferenced.
        with_table(
            (0..self.n_inputs).map(|v| base.wrapping_add(v * n)),
            |table| {
                with_table(
                    (0..m).map(|k| obase.wrapping_add(k * n).cast_const()),
                    |outs| {
                        // SAFETY: table[v] points at `n` readable f64 (column
                        // v of `data`, whose length was checked above);
                        // outs[k] at `n` writable f64 (column k of `out`,
                        // `m * n` long), derived from the unique borrow
                        // `out`, so disjoint from `data` and from each other.
                        unsafe { (self.bulk)(table, self.n_inputs as u64, outs.cast(), n as u64) }
                    },
                )
            },
        );
        Ok(())
    }
}

impl Evaluator for CraneliftFn {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// # Panics
    /// If `inputs.len() != self.n_inputs()` or `out.len() !=
    /// self.n_outputs()` (the caller's contract; checked here because the
    /// native code would access memory out of bounds).
    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        assert_eq!(inputs.len(), self.n_inputs, "wrong number of inputs");
        assert_eq!(out.len(), self.n_outputs, "wrong number of outputs");
        // SAFETY: the scalar entry reads `n_inputs` f64 from `inputs` and
        // writes `n_outputs` f64 to `out` (both lengths asserted above;
        // `out` is a unique borrow, so it aliases nothing), and writes
        // nothing else outside its frame.
        unsafe { (self.scalar)(inputs.as_ptr(), out.as_mut_ptr()) }
    }

    /// The first output, without the provided method's allocation when
    /// there are few outputs (the scalar entry always writes all of them).
    ///
    /// # Panics
    /// If `inputs.len() != self.n_inputs()`.
    fn eval_scalar(&self, inputs: &[f64]) -> f64 {
        if self.n_outputs <= STACK_TABLE {
            let mut out = [0.0; STACK_TABLE];
            self.eval(inputs, &mut out[..self.n_outputs]);
            out[0]
        } else {
            let mut out = vec![0.0; self.n_outputs];
            self.eval(inputs, &mut out);
            out[0]
        }
    }

    /// # Panics
    /// If there are not `n_inputs` input and `n_outputs` output columns of
    /// one length (the caller's contract, see
    /// `alkahest_tape::check_columns`).
    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        assert_eq!(columns.len(), self.n_inputs, "wrong number of columns");
        assert_eq!(outs.len(), self.n_outputs, "wrong number of outputs");
        let n = outs[0].len();
        assert!(
            columns.iter().all(|c| c.len() == n) && outs.iter().all(|o| o.len() == n),
            "columns of different lengths"
        );
        if let Some(g) = &self.grouped
            && let Some(code) = g.code_for(n)
        {
            code.run(columns, outs, n);
            return;
        }
        with_table(columns.iter().map(|c| c.as_ptr()), |table| {
            with_table(
                outs.iter_mut().map(|o| o.as_mut_ptr().cast_const()),
                |otable| {
                    // SAFETY: table[v] points at column v, which holds
                    // `n` f64; otable[k] at output column k, which has
                    // `n` writable slots (lengths asserted above). Each
                    // output column is a distinct unique borrow, so they
                    // alias neither each other nor the input columns.
                    unsafe { (self.bulk)(table, self.n_inputs as u64, otable.cast(), n as u64) }
                },
            )
        });
    }
}

impl Drop for CraneliftFn {
    fn drop(&mut self) {
        let slot = self.module.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(module) = slot.take() {
            // SAFETY: `&mut self` proves no call through `scalar`/`bulk` is in
            // flight (calls borrow `&self`), and the pointers die with `self`.
            unsafe { module.free_memory() };
        }
    }
}

impl std::fmt::Debug for CraneliftFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CraneliftFn")
            .field("n_inputs", &self.n_inputs)
            .field("n_outputs", &self.n_outputs)
            .field("code_size", &self.code_size)
            .finish_non_exhaustive()
    }
}
