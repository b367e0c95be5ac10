//! Tape data types.

use alkahest_core::Func;

use crate::error::{Error, Result};

/// An SSA register: the index of the [`Op`] that defines it.
pub type Reg = u32;

/// One-argument functions, evaluated with the platform libm in the
/// interpreter (the reference) and through equivalent calls in backends.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs)]
pub enum UnaryFn {
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Abs,
    Log1p,
    Expm1,
    Asinh,
    Acosh,
    Atanh,
    Cbrt,
    Exp2,
    Log2,
    Log10,
    Erf,
    Erfc,
    /// `tgamma` in C.
    Gamma,
    /// `lgamma` in C: log of the absolute value of the gamma function.
    Lgamma,
    Floor,
    Ceil,
}

/// The facts about one tape function that backends need, in one row:
/// adding a function means adding a row here and its implementations.
#[derive(Clone, Copy, Debug)]
pub struct FnInfo {
    /// The C99 / libm symbol (what the interpreter calls, what C source and
    /// the CPU JITs call).
    pub c_name: &'static str,
    /// The libdevice symbol used by the NVPTX backend.
    pub libdevice: &'static str,
    /// Whether the function is a math-library call (as opposed to one
    /// instruction on every target: `sqrt`, `fabs`, `floor`, `ceil`,
    /// `copysign`, min/max). Cost models weigh calls much higher.
    pub call: bool,
    /// Proven or documented error bound of the glibc implementation, in
    /// units in the last place (0 for correctly rounded operations).
    pub ulps: u8,
    /// How the function moves with its argument over its whole domain:
    /// what ball (interval) arithmetic reads to enclose it from the ends of
    /// an input ball.
    pub monotone: Monotone,
}

/// A one-argument function's direction over its whole domain (jumps
/// included: `floor` and `ceil` jump upward).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Monotone {
    /// Nondecreasing: `x <= y` implies `f(x) <= f(y)`.
    Increasing,
    /// Nonincreasing.
    Decreasing,
    /// Neither (periodic, even, poles) or not a function of one argument:
    /// ball arithmetic has a rule of its own or none.
    No,
}

impl FnInfo {
    /// This row, nondecreasing.
    const fn increasing(self) -> FnInfo {
        FnInfo {
            monotone: Monotone::Increasing,
            ..self
        }
    }

    /// This row, nonincreasing.
    const fn decreasing(self) -> FnInfo {
        FnInfo {
            monotone: Monotone::Decreasing,
            ..self
        }
    }
}

const fn call(c_name: &'static str, libdevice: &'static str, ulps: u8) -> FnInfo {
    FnInfo {
        c_name,
        libdevice,
        call: true,
        ulps,
        monotone: Monotone::No,
    }
}

const fn inst(c_name: &'static str, libdevice: &'static str) -> FnInfo {
    FnInfo {
        c_name,
        libdevice,
        call: false,
        ulps: 0,
        monotone: Monotone::No,
    }
}

const UNARY_TABLE: [FnInfo; 28] = [
    call("sin", "__nv_sin", 1),
    call("cos", "__nv_cos", 1),
    call("tan", "__nv_tan", 2),
    call("asin", "__nv_asin", 1).increasing(),
    call("acos", "__nv_acos", 1).decreasing(),
    call("atan", "__nv_atan", 1).increasing(),
    call("sinh", "__nv_sinh", 2).increasing(),
    call("cosh", "__nv_cosh", 2),
    call("tanh", "__nv_tanh", 2).increasing(),
    call("exp", "__nv_exp", 1).increasing(),
    call("log", "__nv_log", 1).increasing(),
    inst("sqrt", "__nv_sqrt").increasing(),
    inst("fabs", "__nv_fabs"),
    call("log1p", "__nv_log1p", 1).increasing(),
    call("expm1", "__nv_expm1", 1).increasing(),
    call("asinh", "__nv_asinh", 2).increasing(),
    call("acosh", "__nv_acosh", 2).increasing(),
    call("atanh", "__nv_atanh", 2).increasing(),
    call("cbrt", "__nv_cbrt", 1).increasing(),
    call("exp2", "__nv_exp2", 1).increasing(),
    call("log2", "__nv_log2", 1).increasing(),
    call("log10", "__nv_log10", 2).increasing(),
    call("erf", "__nv_erf", 1).increasing(),
    call("erfc", "__nv_erfc", 3).decreasing(),
    call("tgamma", "__nv_tgamma", 9),
    call("lgamma", "__nv_lgamma", 4),
    inst("floor", "__nv_floor").increasing(),
    inst("ceil", "__nv_ceil").increasing(),
];

// glibc's libm, which Rust's std links on every Linux target. The
// interpreter calls these symbols directly (not Rust's own formulas, e.g.
// std's `asinh`) so that it computes exactly what the JITs' libm calls do.
unsafe extern "C" {
    safe fn sin(x: f64) -> f64;
    safe fn cos(x: f64) -> f64;
    safe fn tan(x: f64) -> f64;
    safe fn asin(x: f64) -> f64;
    safe fn acos(x: f64) -> f64;
    safe fn atan(x: f64) -> f64;
    safe fn sinh(x: f64) -> f64;
    safe fn cosh(x: f64) -> f64;
    safe fn tanh(x: f64) -> f64;
    safe fn exp(x: f64) -> f64;
    safe fn log(x: f64) -> f64;
    safe fn log1p(x: f64) -> f64;
    safe fn expm1(x: f64) -> f64;
    safe fn asinh(x: f64) -> f64;
    safe fn acosh(x: f64) -> f64;
    safe fn atanh(x: f64) -> f64;
    safe fn cbrt(x: f64) -> f64;
    safe fn exp2(x: f64) -> f64;
    safe fn log2(x: f64) -> f64;
    safe fn log10(x: f64) -> f64;
    safe fn erf(x: f64) -> f64;
    safe fn erfc(x: f64) -> f64;
    safe fn tgamma(x: f64) -> f64;
    safe fn atan2(y: f64, x: f64) -> f64;
    safe fn hypot(x: f64, y: f64) -> f64;
    safe fn pow(x: f64, y: f64) -> f64;
    safe fn fmod(x: f64, y: f64) -> f64;
}

/// `lgamma` without the global `signgam` write of C's `lgamma` (a data
/// race when many threads evaluate at once); the value is the same.
fn lgamma_reentrant(x: f64) -> f64 {
    unsafe extern "C" {
        fn lgamma_r(x: f64, sign: *mut i32) -> f64;
    }
    let mut sign = 0i32;
    // SAFETY: lgamma_r reads `x` and writes one int through a pointer to a
    // live local; it has no other side effects.
    unsafe { lgamma_r(x, &mut sign) }
}

impl UnaryFn {
    /// Every unary function.
    pub const ALL: [UnaryFn; 28] = [
        UnaryFn::Sin,
        UnaryFn::Cos,
        UnaryFn::Tan,
        UnaryFn::Asin,
        UnaryFn::Acos,
        UnaryFn::Atan,
        UnaryFn::Sinh,
        UnaryFn::Cosh,
        UnaryFn::Tanh,
        UnaryFn::Exp,
        UnaryFn::Log,
        UnaryFn::Sqrt,
        UnaryFn::Abs,
        UnaryFn::Log1p,
        UnaryFn::Expm1,
        UnaryFn::Asinh,
        UnaryFn::Acosh,
        UnaryFn::Atanh,
        UnaryFn::Cbrt,
        UnaryFn::Exp2,
        UnaryFn::Log2,
        UnaryFn::Log10,
        UnaryFn::Erf,
        UnaryFn::Erfc,
        UnaryFn::Gamma,
        UnaryFn::Lgamma,
        UnaryFn::Floor,
        UnaryFn::Ceil,
    ];

    /// This function's row of the table.
    pub fn info(self) -> &'static FnInfo {
        &UNARY_TABLE[self as usize]
    }

    /// The C / libm name (`fabs` for `Abs`, `tgamma` for `Gamma`).
    pub fn c_name(self) -> &'static str {
        self.info().c_name
    }

    /// Reference semantics: what the interpreter computes.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            UnaryFn::Sin => sin(x),
            UnaryFn::Cos => cos(x),
            UnaryFn::Tan => tan(x),
            UnaryFn::Asin => asin(x),
            UnaryFn::Acos => acos(x),
            UnaryFn::Atan => atan(x),
            UnaryFn::Sinh => sinh(x),
            UnaryFn::Cosh => cosh(x),
            UnaryFn::Tanh => tanh(x),
            UnaryFn::Exp => exp(x),
            UnaryFn::Log => log(x),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Abs => x.abs(),
            UnaryFn::Log1p => log1p(x),
            UnaryFn::Expm1 => expm1(x),
            UnaryFn::Asinh => asinh(x),
            UnaryFn::Acosh => acosh(x),
            UnaryFn::Atanh => atanh(x),
            UnaryFn::Cbrt => cbrt(x),
            UnaryFn::Exp2 => exp2(x),
            UnaryFn::Log2 => log2(x),
            UnaryFn::Log10 => log10(x),
            UnaryFn::Erf => erf(x),
            UnaryFn::Erfc => erfc(x),
            UnaryFn::Gamma => tgamma(x),
            UnaryFn::Lgamma => lgamma_reentrant(x),
            UnaryFn::Floor => x.floor(),
            UnaryFn::Ceil => x.ceil(),
        }
    }

    pub(crate) fn from_func(f: Func) -> Option<UnaryFn> {
        Some(match f {
            Func::Sin => UnaryFn::Sin,
            Func::Cos => UnaryFn::Cos,
            Func::Tan => UnaryFn::Tan,
            Func::Asin => UnaryFn::Asin,
            Func::Acos => UnaryFn::Acos,
            Func::Atan => UnaryFn::Atan,
            Func::Sinh => UnaryFn::Sinh,
            Func::Cosh => UnaryFn::Cosh,
            Func::Tanh => UnaryFn::Tanh,
            Func::Exp => UnaryFn::Exp,
            Func::Log => UnaryFn::Log,
            Func::Sqrt => UnaryFn::Sqrt,
            Func::Abs => UnaryFn::Abs,
            Func::Log1p => UnaryFn::Log1p,
            Func::Expm1 => UnaryFn::Expm1,
            Func::Asinh => UnaryFn::Asinh,
            Func::Acosh => UnaryFn::Acosh,
            Func::Atanh => UnaryFn::Atanh,
            Func::Cbrt => UnaryFn::Cbrt,
            Func::Exp2 => UnaryFn::Exp2,
            Func::Log2 => UnaryFn::Log2,
            Func::Log10 => UnaryFn::Log10,
            Func::Erf => UnaryFn::Erf,
            Func::Erfc => UnaryFn::Erfc,
            Func::Gamma => UnaryFn::Gamma,
            Func::Lgamma => UnaryFn::Lgamma,
            Func::Floor => UnaryFn::Floor,
            Func::Ceil => UnaryFn::Ceil,
            _ => return None,
        })
    }
}

/// Two-argument functions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BinaryFn {
    /// `atan2(y, x)`.
    Atan2,
    /// `sqrt(x*x + y*y)` without overflow.
    Hypot,
    /// NaN-propagating minimum (like `numpy.minimum`); `min(-0.0, 0.0)` is `-0.0`.
    Min,
    /// NaN-propagating maximum (like `numpy.maximum`); `max(-0.0, 0.0)` is `0.0`.
    Max,
    /// `powf` for non-integer exponents.
    Pow,
    /// `copysign(a, b)`: the magnitude of `a` with the sign bit of `b` (exact).
    Copysign,
    /// C `fmod(a, b)`: `a - b*trunc(a/b)` computed exactly, sign of `a`.
    Fmod,
}

const BINARY_TABLE: [FnInfo; 7] = [
    call("atan2", "__nv_atan2", 2),
    call("hypot", "__nv_hypot", 1),
    inst("fmin", "__nv_fmin"),
    inst("fmax", "__nv_fmax"),
    call("pow", "__nv_pow", 1),
    inst("copysign", "__nv_copysign"),
    call("fmod", "__nv_fmod", 0),
];

impl BinaryFn {
    /// Every binary function.
    pub const ALL: [BinaryFn; 7] = [
        BinaryFn::Atan2,
        BinaryFn::Hypot,
        BinaryFn::Min,
        BinaryFn::Max,
        BinaryFn::Pow,
        BinaryFn::Copysign,
        BinaryFn::Fmod,
    ];

    /// This function's row of the table.
    pub fn info(self) -> &'static FnInfo {
        &BINARY_TABLE[self as usize]
    }

    /// Reference semantics: what the interpreter computes.
    #[inline]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinaryFn::Atan2 => atan2(a, b),
            BinaryFn::Hypot => hypot(a, b),
            BinaryFn::Pow => pow(a, b),
            BinaryFn::Copysign => a.copysign(b),
            BinaryFn::Fmod => fmod(a, b),
            BinaryFn::Min => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if a < b || (a == b && a.is_sign_negative()) {
                    a
                } else {
                    b
                }
            }
            BinaryFn::Max => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if a > b || (a == b && a.is_sign_positive()) {
                    a
                } else {
                    b
                }
            }
        }
    }

    /// The C / libm name (`fmin`/`fmax` differ from ours on NaN and ±0).
    pub fn c_name(self) -> &'static str {
        self.info().c_name
    }
}

/// Comparisons. IEEE semantics: every comparison with a NaN operand is
/// false except `Ne`, which is true (as in C, NumPy and SymPy's numeric
/// evaluation). The result is 1.0 (true) or 0.0 (false).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    /// Every comparison.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Eq,
        CmpOp::Ne,
    ];

    /// The truth of `a op b`.
    #[inline]
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }

    /// Reference semantics: 1.0 where `a op b` holds, else 0.0.
    #[inline]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        if self.test(a, b) { 1.0 } else { 0.0 }
    }

    /// The C operator.
    pub fn c_op(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// Reference semantics of [`Op::Select`]: `a` where `c` is non-zero, else
/// `b`. Conditions are always 0.0 or 1.0 (comparisons and selections of
/// them), so the test is exact.
#[inline]
pub fn select(c: f64, a: f64, b: f64) -> f64 {
    if c != 0.0 { a } else { b }
}

/// One instruction. Register operands always refer to earlier ops.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Op {
    /// Input variable by position.
    Input(u32),
    /// A constant.
    Const(f64),
    /// `-a`.
    Neg(Reg),
    /// `a + b`.
    Add(Reg, Reg),
    /// `a - b`.
    Sub(Reg, Reg),
    /// `a * b`.
    Mul(Reg, Reg),
    /// `a / b`.
    Div(Reg, Reg),
    /// `f(a)`.
    Unary(UnaryFn, Reg),
    /// `f(a, b)`.
    Binary(BinaryFn, Reg, Reg),
    /// `a * b + c` with one rounding.
    Fma(Reg, Reg, Reg),
    /// `a op b` as 1.0 (true) or 0.0 (false).
    Cmp(CmpOp, Reg, Reg),
    /// `c != 0 ? a : b`, without branching (both sides are evaluated).
    Select(Reg, Reg, Reg),
}

impl Op {
    /// The same op with every register operand renamed by `f` (renumbering
    /// after ops are removed or inserted).
    pub fn map_regs(self, f: impl Fn(Reg) -> Reg) -> Op {
        match self {
            Op::Input(_) | Op::Const(_) => self,
            Op::Neg(a) => Op::Neg(f(a)),
            Op::Add(a, b) => Op::Add(f(a), f(b)),
            Op::Sub(a, b) => Op::Sub(f(a), f(b)),
            Op::Mul(a, b) => Op::Mul(f(a), f(b)),
            Op::Div(a, b) => Op::Div(f(a), f(b)),
            Op::Unary(u, a) => Op::Unary(u, f(a)),
            Op::Binary(b2, a, b) => Op::Binary(b2, f(a), f(b)),
            Op::Fma(a, b, c) => Op::Fma(f(a), f(b), f(c)),
            Op::Cmp(k, a, b) => Op::Cmp(k, f(a), f(b)),
            Op::Select(c, a, b) => Op::Select(f(c), f(a), f(b)),
        }
    }

    /// Whether the op calls a math-library function (`sin`, `exp`, `pow`,
    /// ...) rather than being an instruction.
    pub fn is_call(&self) -> bool {
        match self {
            Op::Unary(f, _) => f.info().call,
            Op::Binary(f, ..) => f.info().call,
            _ => false,
        }
    }

    /// A rough cost per point, for decisions that weigh work: a
    /// math-library call 20 units, a division or square root 4, other
    /// arithmetic 1, an input or constant 0.
    pub fn cost(&self) -> u32 {
        match self {
            Op::Input(_) | Op::Const(_) => 0,
            _ if self.is_call() => 20,
            Op::Unary(UnaryFn::Sqrt, _) | Op::Div(..) => 4,
            _ => 1,
        }
    }

    /// Register operands, in order.
    pub fn operands(&self) -> impl Iterator<Item = Reg> {
        let (n, r) = match *self {
            Op::Input(_) | Op::Const(_) => (0, [0; 3]),
            Op::Neg(a) | Op::Unary(_, a) => (1, [a, 0, 0]),
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Binary(_, a, b)
            | Op::Cmp(_, a, b) => (2, [a, b, 0]),
            Op::Fma(a, b, c) | Op::Select(a, b, c) => (3, [a, b, c]),
        };
        r.into_iter().take(n)
    }
}

/// A lowered expression: `ops[i]` defines register `i`; the first
/// `n_inputs` ops are `Input(0..n_inputs)` in order and no other op is an
/// input; every operand names an earlier register; `outputs` (at least one)
/// are the results, in order.
///
/// The fields are private and [`Tape::new`] checks these rules, so holding a
/// `Tape` is proof that it is well formed: the interpreter and every backend
/// rely on it (register indices in bounds, operands defined before use)
/// instead of checking again.
#[derive(Clone, Debug, PartialEq)]
pub struct Tape {
    n_inputs: usize,
    ops: Vec<Op>,
    outputs: Vec<Reg>,
}

/// The most ops a tape may have: registers are `u32` and one value is kept
/// free as a "no register" marker by passes that renumber.
pub const MAX_OPS: usize = (u32::MAX - 1) as usize;

impl Tape {
    /// Check the rules above and build the tape. This is the only way to
    /// make one, so every `Tape` in the program is valid.
    pub fn new(n_inputs: usize, ops: Vec<Op>, outputs: Vec<Reg>) -> Result<Tape> {
        let bad = |detail: String| Err(Error::InvalidTape(detail));
        if ops.len() > MAX_OPS {
            return bad(format!("{} ops (at most {MAX_OPS})", ops.len()));
        }
        if n_inputs > ops.len() {
            return bad(format!("{n_inputs} inputs but only {} ops", ops.len()));
        }
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Input(v) if i < n_inputs && v as usize == i => {}
                Op::Input(v) => {
                    return bad(format!(
                        "op {i} is Input({v}); inputs must be the first {n_inputs} ops, in order"
                    ));
                }
                _ if i < n_inputs => {
                    return bad(format!("op {i} is {op:?}, expected Input({i})"));
                }
                _ => {}
            }
            if let Some(r) = op.operands().find(|&r| r as usize >= i) {
                return bad(format!(
                    "op {i} ({op:?}) reads register {r}, not defined before it"
                ));
            }
        }
        if outputs.is_empty() {
            return bad("no outputs".into());
        }
        if let Some(&r) = outputs.iter().find(|&&r| r as usize >= ops.len()) {
            return bad(format!(
                "output register {r} out of range ({} ops)",
                ops.len()
            ));
        }
        Ok(Tape {
            n_inputs,
            ops,
            outputs,
        })
    }

    /// Number of input variables.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// The instructions, in evaluation order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Registers holding the results, in output order.
    pub fn outputs(&self) -> &[Reg] {
        &self.outputs
    }

    /// Number of outputs (1 for a scalar function).
    pub fn n_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// The parts, for passes that rebuild a tape (the result goes through
    /// [`Tape::new`] again).
    pub fn into_parts(self) -> (usize, Vec<Op>, Vec<Reg>) {
        (self.n_inputs, self.ops, self.outputs)
    }

    /// Number of instructions that are not inputs or constants (a size
    /// measure for tier selection).
    pub fn n_compute(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| !matches!(o, Op::Input(_) | Op::Const(_)))
            .count()
    }

    /// Whether most of the time per point goes into math-library calls
    /// (`sin`, `exp`, `pow`, ...) rather than arithmetic, by a rough cost
    /// model: a call ~20 units, a division or square root 4, other
    /// arithmetic 1. On such tapes code quality around the calls matters
    /// little: LLVM's cheapest code generation is within ~10% of its best
    /// and the interpreter's block loops beat Cranelift's scalar calls
    /// (benches/RESULTS.md, "Call-bound tapes").
    pub fn call_bound(&self) -> bool {
        let (mut calls, mut rest) = (0u64, 0u64);
        for op in &self.ops {
            if op.is_call() {
                calls += u64::from(op.cost());
            } else {
                rest += u64::from(op.cost());
            }
        }
        calls > 0 && calls >= rest
    }

    /// Every register's value at one point, op by op in plain `f64`
    /// arithmetic: the tape's meaning written out once, for tests and
    /// diagnostics (the interpreter is the fast form of the same semantics).
    pub fn registers(&self, inputs: &[f64]) -> Vec<f64> {
        let mut r: Vec<f64> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            let g = |i: Reg| r[i as usize];
            let v = match *op {
                Op::Input(i) => inputs[i as usize],
                Op::Const(c) => c,
                Op::Neg(a) => -g(a),
                Op::Add(a, b) => g(a) + g(b),
                Op::Sub(a, b) => g(a) - g(b),
                Op::Mul(a, b) => g(a) * g(b),
                Op::Div(a, b) => g(a) / g(b),
                Op::Unary(f, a) => f.apply(g(a)),
                Op::Binary(f, a, b) => f.apply(g(a), g(b)),
                Op::Fma(a, b, c) => g(a).mul_add(g(b), g(c)),
                Op::Cmp(k, a, b) => k.apply(g(a), g(b)),
                Op::Select(c, a, b) => select(g(c), g(a), g(b)),
            };
            r.push(v);
        }
        r
    }

    /// The outputs' values at one point (see [`Tape::registers`]).
    pub fn eval_point(&self, inputs: &[f64]) -> Vec<f64> {
        let r = self.registers(inputs);
        self.outputs.iter().map(|&o| r[o as usize]).collect()
    }

    /// How many times each register is read (each output counts once).
    pub fn use_counts(&self) -> Vec<u32> {
        let mut uses = vec![0u32; self.ops.len()];
        for op in &self.ops {
            for r in op.operands() {
                uses[r as usize] += 1;
            }
        }
        for &o in &self.outputs {
            uses[o as usize] += 1;
        }
        uses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tape(ops: Vec<Op>) -> Tape {
        let out = (ops.len() - 1) as u32;
        Tape::new(2, ops, vec![out]).unwrap()
    }

    #[test]
    fn new_rejects_malformed_tapes() {
        let bad = |n, ops: Vec<Op>, outs: Vec<Reg>| {
            assert!(
                matches!(
                    Tape::new(n, ops.clone(), outs.clone()),
                    Err(Error::InvalidTape(_))
                ),
                "{ops:?} {outs:?}"
            )
        };
        // A forward reference (the unsound case from issue 14).
        bad(0, vec![Op::Neg(1), Op::Const(1.0)], vec![1]);
        bad(1, vec![Op::Input(0), Op::Add(0, 1)], vec![1]);
        // Inputs out of place, missing or extra.
        bad(1, vec![Op::Const(1.0)], vec![0]);
        bad(2, vec![Op::Input(1), Op::Input(0)], vec![0]);
        bad(1, vec![Op::Input(0), Op::Input(1)], vec![1]);
        bad(3, vec![Op::Input(0)], vec![0]);
        // Outputs.
        bad(1, vec![Op::Input(0)], vec![]);
        bad(1, vec![Op::Input(0)], vec![1]);
        bad(1, vec![Op::Input(0), Op::Select(0, 0, 2)], vec![1]);
        let t = Tape::new(1, vec![Op::Input(0), Op::Neg(0)], vec![1, 0, 1]).unwrap();
        assert_eq!(t.eval_point(&[2.0]), vec![-2.0, 2.0, -2.0]);
    }

    #[test]
    fn comparisons_follow_ieee() {
        let nan = f64::NAN;
        for k in CmpOp::ALL {
            assert_eq!(k.apply(nan, 1.0), if k == CmpOp::Ne { 1.0 } else { 0.0 });
        }
        assert_eq!(CmpOp::Le.apply(-0.0, 0.0), 1.0);
        assert_eq!(select(1.0, 2.0, nan), 2.0);
    }

    #[test]
    fn tables_follow_declaration_order() {
        for (i, f) in UnaryFn::ALL.into_iter().enumerate() {
            assert_eq!(f as usize, i);
        }
        for (i, f) in BinaryFn::ALL.into_iter().enumerate() {
            assert_eq!(f as usize, i);
        }
        assert_eq!(UnaryFn::Gamma.c_name(), "tgamma");
        assert!((UnaryFn::Gamma.apply(5.0) - 24.0).abs() < 1e-12);
        assert!((UnaryFn::Lgamma.apply(5.0) - 24f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn call_bound_weighs_calls_against_arithmetic() {
        let io = || vec![Op::Input(0), Op::Input(1)];
        // sin(x) * cos(x): two calls, one multiply.
        let mut ops = io();
        ops.extend([
            Op::Unary(UnaryFn::Sin, 0),
            Op::Unary(UnaryFn::Cos, 0),
            Op::Mul(2, 3),
        ]);
        assert!(tape(ops).call_bound());
        // Arithmetic only, and sqrt / abs / min are not calls.
        let mut ops = io();
        ops.extend([
            Op::Unary(UnaryFn::Sqrt, 0),
            Op::Unary(UnaryFn::Abs, 2),
            Op::Binary(BinaryFn::Min, 3, 1),
            Op::Fma(4, 0, 1),
        ]);
        assert!(!tape(ops).call_bound());
        // One call (20) against 20 units of arithmetic: call-bound; one
        // more addition tips it the other way.
        let mut ops = io();
        ops.push(Op::Binary(BinaryFn::Pow, 0, 1));
        for i in 0..20 {
            ops.push(Op::Add(2 + i, 0));
        }
        assert!(tape(ops.clone()).call_bound());
        ops.push(Op::Add(22, 1));
        assert!(!tape(ops).call_bound());
    }
}
