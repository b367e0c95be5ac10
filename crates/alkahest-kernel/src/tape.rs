//! Tape data types.

use alkahest_core::Func;

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
}

impl UnaryFn {
    /// Every unary function.
    pub const ALL: [UnaryFn; 15] = [
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
    ];

    /// The C / libm name (`fabs` for `Abs`).
    pub fn c_name(self) -> &'static str {
        match self {
            UnaryFn::Sin => "sin",
            UnaryFn::Cos => "cos",
            UnaryFn::Tan => "tan",
            UnaryFn::Asin => "asin",
            UnaryFn::Acos => "acos",
            UnaryFn::Atan => "atan",
            UnaryFn::Sinh => "sinh",
            UnaryFn::Cosh => "cosh",
            UnaryFn::Tanh => "tanh",
            UnaryFn::Exp => "exp",
            UnaryFn::Log => "log",
            UnaryFn::Sqrt => "sqrt",
            UnaryFn::Abs => "fabs",
            UnaryFn::Log1p => "log1p",
            UnaryFn::Expm1 => "expm1",
        }
    }

    /// Reference semantics: what the interpreter computes.
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            UnaryFn::Sin => x.sin(),
            UnaryFn::Cos => x.cos(),
            UnaryFn::Tan => x.tan(),
            UnaryFn::Asin => x.asin(),
            UnaryFn::Acos => x.acos(),
            UnaryFn::Atan => x.atan(),
            UnaryFn::Sinh => x.sinh(),
            UnaryFn::Cosh => x.cosh(),
            UnaryFn::Tanh => x.tanh(),
            UnaryFn::Exp => x.exp(),
            UnaryFn::Log => x.ln(),
            UnaryFn::Sqrt => x.sqrt(),
            UnaryFn::Abs => x.abs(),
            UnaryFn::Log1p => x.ln_1p(),
            UnaryFn::Expm1 => x.exp_m1(),
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
}

impl BinaryFn {
    /// Reference semantics: what the interpreter computes.
    #[inline]
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinaryFn::Atan2 => a.atan2(b),
            BinaryFn::Hypot => a.hypot(b),
            BinaryFn::Pow => a.powf(b),
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
        match self {
            BinaryFn::Atan2 => "atan2",
            BinaryFn::Hypot => "hypot",
            BinaryFn::Min => "fmin",
            BinaryFn::Max => "fmax",
            BinaryFn::Pow => "pow",
        }
    }
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
        }
    }

    /// Register operands, in order.
    pub fn operands(&self) -> impl Iterator<Item = Reg> {
        let (n, r) = match *self {
            Op::Input(_) | Op::Const(_) => (0, [0; 3]),
            Op::Neg(a) | Op::Unary(_, a) => (1, [a, 0, 0]),
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) | Op::Binary(_, a, b) => {
                (2, [a, b, 0])
            }
            Op::Fma(a, b, c) => (3, [a, b, c]),
        };
        r.into_iter().take(n)
    }
}

/// A lowered expression: `ops[i]` defines register `i`; the first
/// `n_inputs` ops are `Input(0..n_inputs)` in order; `output` is the result.
#[derive(Clone, Debug, PartialEq)]
pub struct Tape {
    /// Number of input variables.
    pub n_inputs: usize,
    /// The instructions, in evaluation order.
    pub ops: Vec<Op>,
    /// Register holding the result.
    pub output: Reg,
}

impl Tape {
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
            match op {
                Op::Input(_) | Op::Const(_) => {}
                Op::Unary(UnaryFn::Sqrt, _) | Op::Div(..) => rest += 4,
                Op::Unary(UnaryFn::Abs, _) | Op::Binary(BinaryFn::Min | BinaryFn::Max, ..) => {
                    rest += 1
                }
                Op::Unary(..) | Op::Binary(..) => calls += 20,
                _ => rest += 1,
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
            };
            r.push(v);
        }
        r
    }

    /// How many times each register is read (the output counts once).
    pub fn use_counts(&self) -> Vec<u32> {
        let mut uses = vec![0u32; self.ops.len()];
        for op in &self.ops {
            for r in op.operands() {
                uses[r as usize] += 1;
            }
        }
        uses[self.output as usize] += 1;
        uses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tape(ops: Vec<Op>) -> Tape {
        Tape {
            n_inputs: 2,
            output: (ops.len() - 1) as u32,
            ops,
        }
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
