//! The reference interpreter.
//!
//! It runs a [`Tape`] over blocks of points, numexpr-style: each instruction
//! loops over a block of [`BLOCK`] values held in a small scratch buffer, so
//! dispatch costs once per block, not once per point, and the scratch stays
//! in L1/L2 cache. Registers are mapped onto a few reusable slots by a
//! linear-scan allocation, so a 100,000-op chain needs only a handful of
//! slots. Arithmetic is plain IEEE-754 double precision and functions are the
//! platform libm: this is the semantics every other backend is tested against.

use alkahest_tape::{BinaryFn, CmpOp, Evaluator, Op, Tape, UnaryFn, select};

/// Points per block. 256 doubles per slot keep a typical working set in L1.
pub const BLOCK: usize = 256;

/// One instruction on slots.
#[derive(Clone, Copy, Debug)]
enum Instr {
    Input(u32, u32),
    Const(f64, u32),
    Neg(u32, u32),
    Add(u32, u32, u32),
    Sub(u32, u32, u32),
    Mul(u32, u32, u32),
    Div(u32, u32, u32),
    Unary(UnaryFn, u32, u32),
    Binary(BinaryFn, u32, u32, u32),
    Fma(u32, u32, u32, u32),
    Cmp(CmpOp, u32, u32, u32),
    Select(u32, u32, u32, u32),
}

/// A tape prepared for interpretation.
#[derive(Clone, Debug)]
pub struct Interpreter {
    n_inputs: usize,
    program: Vec<Instr>,
    n_slots: usize,
    out_slots: Vec<u32>,
}

impl Interpreter {
    /// Prepare `tape` (slot allocation; linear in the tape's length). The
    /// tape is valid by construction, so every register index is in range.
    pub fn new(tape: &Tape) -> Self {
        let n = tape.ops().len();
        let mut last_use = vec![0usize; n];
        for (i, op) in tape.ops().iter().enumerate() {
            for r in op.operands() {
                last_use[r as usize] = i;
            }
        }
        for &o in tape.outputs() {
            last_use[o as usize] = usize::MAX;
        }
        let mut slot_of = vec![u32::MAX; n];
        let mut free: Vec<u32> = Vec::new();
        let mut n_slots = 0u32;
        let mut program = Vec::with_capacity(n);
        for (i, op) in tape.ops().iter().enumerate() {
            let src: Vec<u32> = op.operands().map(|r| slot_of[r as usize]).collect();
            // Free operands that die here first: the destination may reuse
            // one of them (every instruction is elementwise, so in place is safe).
            let mut seen = [u32::MAX; 3];
            for (k, r) in op.operands().enumerate() {
                if last_use[r as usize] == i && !seen.contains(&r) {
                    free.push(slot_of[r as usize]);
                }
                seen[k] = r;
            }
            let dst = free.pop().unwrap_or_else(|| {
                n_slots += 1;
                n_slots - 1
            });
            slot_of[i] = dst;
            program.push(match *op {
                Op::Input(v) => Instr::Input(v, dst),
                Op::Const(c) => Instr::Const(c, dst),
                Op::Neg(_) => Instr::Neg(src[0], dst),
                Op::Add(..) => Instr::Add(src[0], src[1], dst),
                Op::Sub(..) => Instr::Sub(src[0], src[1], dst),
                Op::Mul(..) => Instr::Mul(src[0], src[1], dst),
                Op::Div(..) => Instr::Div(src[0], src[1], dst),
                Op::Unary(f, _) => Instr::Unary(f, src[0], dst),
                Op::Binary(f, ..) => Instr::Binary(f, src[0], src[1], dst),
                Op::Fma(..) => Instr::Fma(src[0], src[1], src[2], dst),
                Op::Cmp(k, ..) => Instr::Cmp(k, src[0], src[1], dst),
                Op::Select(..) => Instr::Select(src[0], src[1], src[2], dst),
            });
            // A value nobody reads (an unused input) frees its slot at once.
            if last_use[i] == 0 {
                free.push(dst);
            }
        }
        Interpreter {
            n_inputs: tape.n_inputs(),
            program,
            n_slots: n_slots as usize,
            out_slots: tape
                .outputs()
                .iter()
                .map(|&o| slot_of[o as usize])
                .collect(),
        }
    }

    /// Number of scratch slots (each [`BLOCK`] doubles in batch mode).
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// Run the program on `len` points. Slot `s` lives at
    /// `scratch[s*stride .. s*stride + len]`; inputs come from `columns`
    /// starting at point `start`.
    fn run(
        &self,
        scratch: &mut [f64],
        stride: usize,
        len: usize,
        columns: &[&[f64]],
        start: usize,
    ) {
        assert!(scratch.len() >= self.n_slots * stride && len <= stride);
        let base = scratch.as_mut_ptr();
        // SAFETY: every slot index is < n_slots (by construction in `new`),
        // so `s*stride + i` with `i < len <= stride` stays inside `scratch`
        // (asserted above). Sources and destination may alias (in-place
        // reuse); each element is read before it is written, through raw
        // pointers, so no `&mut` aliases a live `&`.
        let at = |s: u32, i: usize| unsafe { base.add(s as usize * stride + i) };
        macro_rules! map {
            ($d:expr, |$i:ident| $e:expr) => {
                for $i in 0..len {
                    let v = $e;
                    // SAFETY: see above.
                    unsafe { *at($d, $i) = v };
                }
            };
        }
        // SAFETY: see above.
        let rd = |s: u32, i: usize| unsafe { *at(s, i) };
        for ins in &self.program {
            match *ins {
                Instr::Input(v, d) => {
                    let col = &columns[v as usize][start..start + len];
                    map!(d, |i| col[i]);
                }
                Instr::Const(c, d) => map!(d, |_i| c),
                Instr::Neg(a, d) => map!(d, |i| -rd(a, i)),
                Instr::Add(a, b, d) => map!(d, |i| rd(a, i) + rd(b, i)),
                Instr::Sub(a, b, d) => map!(d, |i| rd(a, i) - rd(b, i)),
                Instr::Mul(a, b, d) => map!(d, |i| rd(a, i) * rd(b, i)),
                Instr::Div(a, b, d) => map!(d, |i| rd(a, i) / rd(b, i)),
                Instr::Unary(f, a, d) => unary_block(
                    f,
                    len,
                    |i| rd(a, i),
                    |i, v| {
                        // SAFETY: see above.
                        unsafe { *at(d, i) = v }
                    },
                ),
                Instr::Binary(f, a, b, d) => map!(d, |i| f.apply(rd(a, i), rd(b, i))),
                // SAFETY: slots as above; `fma_block` reads each element
                // before writing it, like `map!`.
                Instr::Fma(a, b, c, d) => unsafe {
                    fma_block(at(a, 0), at(b, 0), at(c, 0), at(d, 0), len)
                },
                Instr::Cmp(k, a, b, d) => match k {
                    CmpOp::Lt => map!(d, |i| CmpOp::Lt.apply(rd(a, i), rd(b, i))),
                    CmpOp::Le => map!(d, |i| CmpOp::Le.apply(rd(a, i), rd(b, i))),
                    CmpOp::Gt => map!(d, |i| CmpOp::Gt.apply(rd(a, i), rd(b, i))),
                    CmpOp::Ge => map!(d, |i| CmpOp::Ge.apply(rd(a, i), rd(b, i))),
                    CmpOp::Eq => map!(d, |i| CmpOp::Eq.apply(rd(a, i), rd(b, i))),
                    CmpOp::Ne => map!(d, |i| CmpOp::Ne.apply(rd(a, i), rd(b, i))),
                },
                Instr::Select(c, a, b, d) => map!(d, |i| select(rd(c, i), rd(a, i), rd(b, i))),
            }
        }
    }
}

impl Interpreter {
    /// Run the program on one point, one `f64` per slot: the block loops of
    /// [`Interpreter::run`] cost a loop set-up per instruction (~10% of a
    /// scalar call on an 850-op tape; the rest is dispatch and libm). The
    /// body is compiled twice on x86-64 (with and without the `fma`
    /// feature, like [`fma_block`]) so `Fma` is one instruction where the
    /// CPU has it.
    fn run_point(&self, slots: &mut [f64], inputs: &[f64], out: &mut [f64]) {
        #[inline(always)]
        fn body(program: &[Instr], slots: &mut [f64], inputs: &[f64]) {
            for ins in program {
                let r = |s: u32| slots[s as usize];
                let (v, d) = match *ins {
                    Instr::Input(i, d) => (inputs[i as usize], d),
                    Instr::Const(c, d) => (c, d),
                    Instr::Neg(a, d) => (-r(a), d),
                    Instr::Add(a, b, d) => (r(a) + r(b), d),
                    Instr::Sub(a, b, d) => (r(a) - r(b), d),
                    Instr::Mul(a, b, d) => (r(a) * r(b), d),
                    Instr::Div(a, b, d) => (r(a) / r(b), d),
                    Instr::Unary(f, a, d) => (f.apply(r(a)), d),
                    Instr::Binary(f, a, b, d) => (f.apply(r(a), r(b)), d),
                    Instr::Fma(a, b, c, d) => (r(a).mul_add(r(b), r(c)), d),
                    Instr::Cmp(k, a, b, d) => (k.apply(r(a), r(b)), d),
                    Instr::Select(c, a, b, d) => (select(r(c), r(a), r(b)), d),
                };
                slots[d as usize] = v;
            }
        }
        assert!(slots.len() >= self.n_slots && inputs.len() >= self.n_inputs);
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "fma")]
            fn hw(program: &[Instr], slots: &mut [f64], inputs: &[f64]) {
                body(program, slots, inputs)
            }
            if alkahest_tape::hardware_fma() {
                // SAFETY: the CPU has FMA (checked).
                unsafe { hw(&self.program, slots, inputs) };
                self.gather(slots, out);
                return;
            }
        }
        body(&self.program, slots, inputs);
        self.gather(slots, out);
    }

    /// Copy the output slots of a one-point run into `out`.
    fn gather(&self, slots: &[f64], out: &mut [f64]) {
        for (o, &s) in out.iter_mut().zip(&self.out_slots) {
            *o = slots[s as usize];
        }
    }
}

/// `d[i] = a[i]*b[i] + c[i]` with one rounding, for `i < len`.
///
/// `f64::mul_add` is a call into libm's software-or-hardware `fma` unless the
/// crate is built for an FMA target, so on x86-64 the block is compiled a
/// second time with the `fma` feature and picked at run time.
///
/// # Safety
/// Each pointer is valid for `len` elements; `d` may alias any source (every
/// element is read before it is written).
unsafe fn fma_block(a: *const f64, b: *const f64, c: *const f64, d: *mut f64, len: usize) {
    #[inline(always)]
    unsafe fn body(a: *const f64, b: *const f64, c: *const f64, d: *mut f64, len: usize) {
        for i in 0..len {
            // SAFETY: per the caller's contract.
            unsafe {
                let v = (*a.add(i)).mul_add(*b.add(i), *c.add(i));
                *d.add(i) = v;
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        unsafe fn hw(a: *const f64, b: *const f64, c: *const f64, d: *mut f64, len: usize) {
            // SAFETY: per the caller's contract.
            unsafe { body(a, b, c, d, len) }
        }
        if alkahest_tape::hardware_fma() {
            // SAFETY: the CPU has FMA (checked); pointers per the contract.
            return unsafe { hw(a, b, c, d, len) };
        }
    }
    // SAFETY: per the caller's contract.
    unsafe { body(a, b, c, d, len) }
}

/// Monomorphize the per-function loop so the match is outside it.
#[inline(always)]
fn unary_block(
    f: UnaryFn,
    len: usize,
    get: impl Fn(usize) -> f64,
    mut put: impl FnMut(usize, f64),
) {
    macro_rules! go {
        ($m:expr) => {
            for i in 0..len {
                put(i, $m(get(i)))
            }
        };
    }
    // Each arm is the reference `apply` with a constant function, so the
    // match inside `apply` folds away and the loop calls libm directly.
    macro_rules! arms {
        ($($v:ident),* $(,)?) => {
            match f {
                $(UnaryFn::$v => go!(|x| UnaryFn::$v.apply(x)),)*
            }
        };
    }
    arms!(
        Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Tanh, Exp, Log, Sqrt, Abs, Log1p, Expm1,
        Asinh, Acosh, Atanh, Cbrt, Exp2, Log2, Log10, Erf, Erfc, Gamma, Lgamma, Floor, Ceil,
    )
}

impl Evaluator for Interpreter {
    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    fn n_outputs(&self) -> usize {
        self.out_slots.len()
    }

    fn eval(&self, inputs: &[f64], out: &mut [f64]) {
        // Small functions (the common case for scalar calls) run without
        // touching the allocator.
        const SMALL: usize = 32;
        if self.n_slots <= SMALL {
            let mut slots = [0.0; SMALL];
            return self.run_point(&mut slots, inputs, out);
        }
        let mut slots = vec![0.0; self.n_slots];
        self.run_point(&mut slots, inputs, out)
    }

    fn eval_columns(&self, columns: &[&[f64]], outs: &mut [&mut [f64]]) {
        let n = outs.first().map_or(0, |o| o.len());
        let mut scratch = vec![0.0; self.n_slots.max(1) * BLOCK];
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            self.run(&mut scratch, BLOCK, len, columns, start);
            for (out, &s) in outs.iter_mut().zip(&self.out_slots) {
                let o = s as usize * BLOCK;
                out[start..start + len].copy_from_slice(&scratch[o..o + len]);
            }
            start += len;
        }
    }
}
