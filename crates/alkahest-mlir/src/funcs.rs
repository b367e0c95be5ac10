//! How the tape's functions are spelled in MLIR: one place that maps the
//! tape crate's [`UnaryFn`] / [`BinaryFn`] (and their [`FnInfo`] rows) to
//! `math` / `arith` ops or to libm calls, and the core's [`Func`] to them.
//!
//! Most functions are the `math` op named after the C function
//! (`math.<c_name>`), so names come from the tape crate's table; only the
//! functions MLIR 19 spells differently (`math.absf`, `math.powf`,
//! `arith.minimumf`, ...) or lacks (`erfc`, `tgamma`, `lgamma`, `hypot`:
//! a `func.call` to the libm symbol `c_name`) are listed here.
//!
//! [`FnInfo`]: alkahest_tape::FnInfo

use std::sync::LazyLock;

use alkahest_core::Func;
use alkahest_tape::special::Special;
use alkahest_tape::{BinaryFn, CmpOp, UnaryFn};
use hashbrown::HashMap;

/// How a function is emitted in the alkahest and arith/math modules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Spelling {
    /// One op of this name (operands in order, one `f64` result).
    Op(String),
    /// `func.call @<libm symbol>`, declared `(f64, ...) -> f64` in the module.
    Call(&'static str),
}

/// A tape function: what [`Spelling`]s name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TapeFn {
    Unary(UnaryFn),
    Binary(BinaryFn),
}

impl TapeFn {
    /// Number of `f64` arguments.
    pub(crate) fn arity(self) -> usize {
        match self {
            TapeFn::Unary(_) => 1,
            TapeFn::Binary(_) => 2,
        }
    }

    /// The C / libm name (from the tape crate's table).
    pub(crate) fn c_name(self) -> &'static str {
        match self {
            TapeFn::Unary(f) => f.info().c_name,
            TapeFn::Binary(f) => f.info().c_name,
        }
    }
}

/// The spelling of a one-argument function: `math.<c_name>` unless MLIR 19
/// names it differently or has no op for it.
pub(crate) fn unary_spelling(f: UnaryFn) -> Spelling {
    match f {
        UnaryFn::Abs => Spelling::Op("math.absf".into()),
        // No math op in MLIR 19 (math.erfc arrived in MLIR 20).
        UnaryFn::Erfc | UnaryFn::Gamma | UnaryFn::Lgamma => Spelling::Call(f.info().c_name),
        _ => Spelling::Op(format!("math.{}", f.info().c_name)),
    }
}

/// The spelling of a two-argument function.
pub(crate) fn binary_spelling(f: BinaryFn) -> Spelling {
    Spelling::Op(
        match f {
            BinaryFn::Hypot => return Spelling::Call(f.info().c_name),
            // NaN-propagating, -0 < +0: the tape's min/max, not C's fmin/fmax.
            BinaryFn::Min => "arith.minimumf",
            BinaryFn::Max => "arith.maximumf",
            BinaryFn::Pow => "math.powf",
            // LLVM `frem`, i.e. C fmod (exact).
            BinaryFn::Fmod => "arith.remf",
            BinaryFn::Atan2 | BinaryFn::Copysign => {
                return Spelling::Op(format!("math.{}", f.info().c_name));
            }
        }
        .into(),
    )
}

/// The spelling of a tape function.
pub(crate) fn spelling(f: TapeFn) -> Spelling {
    match f {
        TapeFn::Unary(u) => unary_spelling(u),
        TapeFn::Binary(b) => binary_spelling(b),
    }
}

/// Every tape function by the op name, and by the callee, that spells it.
struct Index {
    ops: HashMap<String, TapeFn>,
    calls: HashMap<&'static str, TapeFn>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let mut index = Index {
        ops: HashMap::new(),
        calls: HashMap::new(),
    };
    let all = UnaryFn::ALL
        .into_iter()
        .map(TapeFn::Unary)
        .chain(BinaryFn::ALL.into_iter().map(TapeFn::Binary));
    for f in all {
        let clash = match spelling(f) {
            Spelling::Op(name) => index.ops.insert(name, f),
            Spelling::Call(c) => index.calls.insert(c, f),
        };
        debug_assert!(clash.is_none(), "two functions spelled alike: {f:?}");
    }
    index
});

/// The tape function an op of this name computes (`math.sin`, `arith.remf`, ...).
pub(crate) fn of_op(name: &str) -> Option<TapeFn> {
    INDEX.ops.get(name).copied()
}

/// The tape function a `func.call` of this libm symbol computes.
pub(crate) fn of_callee(name: &str) -> Option<TapeFn> {
    INDEX.calls.get(name).copied()
}

/// The reentrant `lgamma` the JIT calls (C's `lgamma` writes the global
/// `signgam`: a data race when several threads evaluate at once).
pub(crate) const LGAMMA_R: &str = "lgamma_r";

/// Whether `name` is a symbol a module may declare (a libm function), so
/// that a user function may not take it.
pub(crate) fn is_reserved(name: &str) -> bool {
    name == LGAMMA_R || of_callee(name).is_some() || of_special_callee(name).is_some()
}

/// The callee that stands for a recipe function (`digamma`, `trigamma`)
/// in the alkahest dialect. No library defines it: the lowering to every
/// target expands the call with the tape crate's recipe
/// (`alkahest_tape::special`), the one the tape uses, so every tier
/// computes the same operations (ball arithmetic encloses it instead).
pub(crate) fn special_callee(f: Special) -> &'static str {
    match f {
        Special::Digamma => "alkahest_digamma",
        Special::Trigamma => "alkahest_trigamma",
    }
}

/// The recipe function a callee name stands for.
pub(crate) fn of_special_callee(name: &str) -> Option<Special> {
    Special::ALL
        .into_iter()
        .find(|&f| special_callee(f) == name)
}

/// What one core function becomes in the alkahest dialect: the tape crate's
/// lowering (`crates/alkahest-tape/src/lower.rs`) spelled as dialect ops,
/// so that every tier computes the same thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lowered {
    /// A tape function of the arguments.
    Fn(TapeFn),
    /// `math.fma`.
    Fma,
    /// `alkahest.cmp` of the two arguments.
    Cmp(CmpOp),
    /// `alkahest.select(c, a, b)`.
    Where,
    /// `select(a, b, 0)`.
    And,
    /// `select(a, 1, b)`.
    Or,
    /// `select(a, 0, 1)`.
    Not,
    /// `sign(x)` from two comparisons and two selections.
    Sign,
    /// Python's `a mod b` from `fmod`, comparisons and selections.
    Mod,
    /// `func.call @alkahest_digamma` / `@alkahest_trigamma`, expanded when
    /// lowered (see [`special_callee`]).
    Special(Special),
}

/// How the core's function `f` is lowered (the tape crate's `UnaryFn::from_func`
/// is private to the tape crate, hence this one match).
pub(crate) fn lowered(f: Func) -> Lowered {
    use Lowered::Fn;
    let u = |u| Fn(TapeFn::Unary(u));
    let b = |b| Fn(TapeFn::Binary(b));
    match f {
        Func::Sin => u(UnaryFn::Sin),
        Func::Cos => u(UnaryFn::Cos),
        Func::Tan => u(UnaryFn::Tan),
        Func::Asin => u(UnaryFn::Asin),
        Func::Acos => u(UnaryFn::Acos),
        Func::Atan => u(UnaryFn::Atan),
        Func::Sinh => u(UnaryFn::Sinh),
        Func::Cosh => u(UnaryFn::Cosh),
        Func::Tanh => u(UnaryFn::Tanh),
        Func::Exp => u(UnaryFn::Exp),
        Func::Log => u(UnaryFn::Log),
        Func::Sqrt => u(UnaryFn::Sqrt),
        Func::Abs => u(UnaryFn::Abs),
        Func::Log1p => u(UnaryFn::Log1p),
        Func::Expm1 => u(UnaryFn::Expm1),
        Func::Asinh => u(UnaryFn::Asinh),
        Func::Acosh => u(UnaryFn::Acosh),
        Func::Atanh => u(UnaryFn::Atanh),
        Func::Cbrt => u(UnaryFn::Cbrt),
        Func::Exp2 => u(UnaryFn::Exp2),
        Func::Log2 => u(UnaryFn::Log2),
        Func::Log10 => u(UnaryFn::Log10),
        Func::Erf => u(UnaryFn::Erf),
        Func::Erfc => u(UnaryFn::Erfc),
        Func::Gamma => u(UnaryFn::Gamma),
        Func::Lgamma => u(UnaryFn::Lgamma),
        Func::Floor => u(UnaryFn::Floor),
        Func::Ceil => u(UnaryFn::Ceil),
        Func::Atan2 => b(BinaryFn::Atan2),
        Func::Hypot => b(BinaryFn::Hypot),
        Func::Min => b(BinaryFn::Min),
        Func::Max => b(BinaryFn::Max),
        Func::Copysign => b(BinaryFn::Copysign),
        Func::Fmod => b(BinaryFn::Fmod),
        Func::Fma => Lowered::Fma,
        Func::Lt => Lowered::Cmp(CmpOp::Lt),
        Func::Le => Lowered::Cmp(CmpOp::Le),
        Func::Gt => Lowered::Cmp(CmpOp::Gt),
        Func::Ge => Lowered::Cmp(CmpOp::Ge),
        Func::Eq => Lowered::Cmp(CmpOp::Eq),
        Func::Ne => Lowered::Cmp(CmpOp::Ne),
        Func::Where => Lowered::Where,
        Func::And => Lowered::And,
        Func::Or => Lowered::Or,
        Func::Not => Lowered::Not,
        Func::Sign => Lowered::Sign,
        Func::Mod => Lowered::Mod,
        Func::Digamma => Lowered::Special(Special::Digamma),
        Func::Trigamma => Lowered::Special(Special::Trigamma),
    }
}

/// The `predicate` attribute of `alkahest.cmp`: the comparison's name in
/// lower case (`lt`, `le`, `gt`, `ge`, `eq`, `ne`).
pub(crate) fn predicate(k: CmpOp) -> String {
    format!("{k:?}").to_ascii_lowercase()
}

/// The comparison a `predicate` attribute names.
pub(crate) fn of_predicate(p: &str) -> Option<CmpOp> {
    CmpOp::ALL.into_iter().find(|&k| predicate(k) == p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_are_distinct_and_round_trip() {
        assert_eq!(
            INDEX.ops.len() + INDEX.calls.len(),
            UnaryFn::ALL.len() + BinaryFn::ALL.len()
        );
        for f in UnaryFn::ALL {
            let back = match unary_spelling(f) {
                Spelling::Op(name) => of_op(&name),
                Spelling::Call(c) => of_callee(c),
            };
            assert_eq!(back, Some(TapeFn::Unary(f)));
        }
        for f in BinaryFn::ALL {
            let back = match binary_spelling(f) {
                Spelling::Op(name) => of_op(&name),
                Spelling::Call(c) => of_callee(c),
            };
            assert_eq!(back, Some(TapeFn::Binary(f)));
        }
        assert_eq!(of_op("math.log10"), Some(TapeFn::Unary(UnaryFn::Log10)));
        assert_eq!(of_callee("tgamma"), Some(TapeFn::Unary(UnaryFn::Gamma)));
        assert!(is_reserved("hypot") && is_reserved("lgamma_r") && !is_reserved("sin"));
        assert!(is_reserved("alkahest_digamma") && is_reserved("alkahest_trigamma"));
        for f in Special::ALL {
            assert_eq!(of_special_callee(special_callee(f)), Some(f));
            assert_eq!(of_callee(special_callee(f)), None);
        }
        for k in CmpOp::ALL {
            assert_eq!(of_predicate(&predicate(k)), Some(k));
        }
    }

    #[test]
    fn every_core_function_has_a_lowering() {
        for f in Func::ALL {
            if let Lowered::Fn(t) = lowered(f) {
                assert_eq!(t.arity(), f.arity(), "{f:?}");
            }
        }
    }
}
