//! Node kinds of the expression DAG.

use num_bigint::BigInt;
use num_rational::BigRational;

use crate::diff::{Rule, rules};
use crate::number::Number;

/// Index of an expression inside its [`crate::ExprPool`].
///
/// Ids are dense and handed out in creation order; a node's children always
/// have smaller ids than the node itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ExprId(pub u32);

impl ExprId {
    /// The id as a `usize` index.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A 128-bit structural hash that is independent of the pool and of creation
/// order: equal structure gives an equal key in every pool and every process.
/// It is the cache key for compiled code and the address of an expression
/// after a pool is saved and reloaded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ContentKey(pub u128);

/// Functions known to every backend: elementary functions, comparisons,
/// logical connectives and the branch-free selection `where`.
///
/// Conditions are ordinary nodes whose value is a truth value (1.0 or 0.0
/// once lowered); the builders keep them apart from numbers, so a comparison
/// can only appear where a condition is expected (see [`Func::returns_bool`]).
/// New variants go at the end: a function's position is its tag in content
/// keys and pool files.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[allow(missing_docs)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Abs,
    Log1p,
    Expm1,
    Hypot,
    Fma,
    Min,
    Max,
    Asinh,
    Acosh,
    Atanh,
    Cbrt,
    Exp2,
    Log2,
    Log10,
    Erf,
    Erfc,
    Gamma,
    Lgamma,
    Floor,
    Ceil,
    Sign,
    Copysign,
    /// C `fmod`: the remainder has the sign of the dividend.
    Fmod,
    /// SymPy / Python `Mod`: the remainder has the sign of the divisor.
    Mod,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Not,
    /// `where(cond, a, b)`: `a` where `cond` holds, else `b`.
    Where,
    /// The digamma function ψ(x) = Γ'(x)/Γ(x) (SymPy's `polygamma(0, x)`).
    Digamma,
    /// The trigamma function ψ₁(x) = ψ'(x) (SymPy's `polygamma(1, x)`).
    Trigamma,
}

/// What kind of value a function takes or returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A real number.
    Number,
    /// A truth value (a comparison or a logical connective).
    Bool,
}

/// The facts about one function that the core needs, kept in one row.
#[derive(Clone, Copy, Debug)]
pub struct FuncInfo {
    /// Name as printed (valid in SymPy and in `alkahest`).
    pub name: &'static str,
    /// Argument kinds; their count is the arity.
    pub args: &'static [Kind],
    /// Kind of the result.
    pub result: Kind,
    /// The derivative rule (`crate::diff::rules`): what `diff` builds for
    /// this function given its arguments' derivatives.
    pub(crate) derivative: Rule,
}

const N1: &[Kind] = &[Kind::Number];
const N2: &[Kind] = &[Kind::Number, Kind::Number];
const N3: &[Kind] = &[Kind::Number, Kind::Number, Kind::Number];
const B1: &[Kind] = &[Kind::Bool];
const B2: &[Kind] = &[Kind::Bool, Kind::Bool];
const BNN: &[Kind] = &[Kind::Bool, Kind::Number, Kind::Number];

const fn num(name: &'static str, args: &'static [Kind], derivative: Rule) -> FuncInfo {
    FuncInfo {
        name,
        args,
        result: Kind::Number,
        derivative,
    }
}

const fn cond(name: &'static str, args: &'static [Kind]) -> FuncInfo {
    FuncInfo {
        name,
        args,
        result: Kind::Bool,
        derivative: rules::condition,
    }
}

/// One row per [`Func`], in declaration order.
const TABLE: [FuncInfo; 49] = [
    num("sin", N1, rules::sin),
    num("cos", N1, rules::cos),
    num("tan", N1, rules::tan),
    num("asin", N1, rules::asin_acos),
    num("acos", N1, rules::asin_acos),
    num("atan", N1, rules::atan),
    num("atan2", N2, rules::atan2),
    num("sinh", N1, rules::sinh),
    num("cosh", N1, rules::cosh),
    num("tanh", N1, rules::tanh),
    num("exp", N1, rules::exp),
    num("log", N1, rules::log),
    num("sqrt", N1, rules::sqrt),
    num("abs", N1, rules::abs),
    num("log1p", N1, rules::log1p),
    num("expm1", N1, rules::expm1),
    num("hypot", N2, rules::hypot),
    num("fma", N3, rules::fma),
    num("Min", N2, rules::min_max),
    num("Max", N2, rules::min_max),
    num("asinh", N1, rules::asinh),
    num("acosh", N1, rules::acosh),
    num("atanh", N1, rules::atanh),
    num("cbrt", N1, rules::cbrt),
    num("exp2", N1, rules::exp2),
    num("log2", N1, rules::log2),
    num("log10", N1, rules::log10),
    num("erf", N1, rules::erf_erfc),
    num("erfc", N1, rules::erf_erfc),
    num("gamma", N1, rules::gamma),
    num("loggamma", N1, rules::loggamma),
    num("floor", N1, rules::zero),
    num("ceiling", N1, rules::zero),
    num("sign", N1, rules::zero),
    num("copysign", N2, rules::copysign),
    num("fmod", N2, rules::fmod_mod),
    num("Mod", N2, rules::fmod_mod),
    cond("Lt", N2),
    cond("Le", N2),
    cond("Gt", N2),
    cond("Ge", N2),
    cond("Eq", N2),
    cond("Ne", N2),
    cond("And", B2),
    cond("Or", B2),
    cond("Not", B1),
    num("where", BNN, rules::select),
    num("digamma", N1, rules::digamma),
    num("trigamma", N1, rules::trigamma),
];

impl Func {
    /// Every function, in a fixed order (used for tables and tests).
    pub const ALL: [Func; 49] = [
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Atan2,
        Func::Sinh,
        Func::Cosh,
        Func::Tanh,
        Func::Exp,
        Func::Log,
        Func::Sqrt,
        Func::Abs,
        Func::Log1p,
        Func::Expm1,
        Func::Hypot,
        Func::Fma,
        Func::Min,
        Func::Max,
        Func::Asinh,
        Func::Acosh,
        Func::Atanh,
        Func::Cbrt,
        Func::Exp2,
        Func::Log2,
        Func::Log10,
        Func::Erf,
        Func::Erfc,
        Func::Gamma,
        Func::Lgamma,
        Func::Floor,
        Func::Ceil,
        Func::Sign,
        Func::Copysign,
        Func::Fmod,
        Func::Mod,
        Func::Lt,
        Func::Le,
        Func::Gt,
        Func::Ge,
        Func::Eq,
        Func::Ne,
        Func::And,
        Func::Or,
        Func::Not,
        Func::Where,
        Func::Digamma,
        Func::Trigamma,
    ];

    /// Every function that takes and returns numbers only (the elementary
    /// functions: what random-expression generators may pick from).
    pub fn numeric() -> impl Iterator<Item = Func> {
        Func::ALL.into_iter().filter(|f| f.is_numeric())
    }

    /// This function's row of the table.
    pub fn info(self) -> &'static FuncInfo {
        &TABLE[self as usize]
    }

    /// Number of arguments.
    pub fn arity(self) -> usize {
        self.info().args.len()
    }

    /// Name as printed (valid in SymPy and `alkahest`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the result is a truth value (comparisons, `And`, `Or`, `Not`).
    pub fn returns_bool(self) -> bool {
        self.info().result == Kind::Bool
    }

    /// Whether every argument and the result are numbers.
    pub fn is_numeric(self) -> bool {
        self.info().result == Kind::Number && self.info().args.iter().all(|&k| k == Kind::Number)
    }

    /// Inverse of [`Func::name`].
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn tag(self) -> u8 {
        self as u8
    }
}

/// One node of the DAG. Operands refer to earlier nodes of the same pool.
///
/// Invariants kept by the builders (never construct these by hand):
/// `Rational` has a denominator > 1; `Add`/`Mul` have at least two operands,
/// none of which is itself an `Add` (resp. `Mul`) of at most
/// [`crate::ExprPool::FLATTEN_LIMIT`] operands (longer ones stay nested, so
/// passes must not assume sums and products are flat), at most one numeric
/// operand which comes first, and operands in canonical order.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Node {
    /// A free variable.
    Symbol(Box<str>),
    /// An exact integer of any size.
    Integer(BigInt),
    /// An exact rational p/q with q > 1 in lowest terms.
    Rational(BigRational),
    /// A float constant, stored by bit pattern (so -0.0 and NaN are distinct keys).
    Float(u64),
    /// n-ary sum.
    Add(Box<[ExprId]>),
    /// n-ary product.
    Mul(Box<[ExprId]>),
    /// `[base, exponent]`.
    Pow([ExprId; 2]),
    /// Elementary function application.
    Func(Func, Box<[ExprId]>),
}

impl Node {
    /// Operands of the node (empty for leaves).
    pub fn children(&self) -> &[ExprId] {
        match self {
            Node::Add(a) | Node::Mul(a) | Node::Func(_, a) => a,
            Node::Pow(be) => be,
            _ => &[],
        }
    }

    /// The constant this node is, if it is a number (integer, rational or
    /// float).
    pub fn number(&self) -> Option<Number> {
        match self {
            Node::Integer(i) => Some(Number::Int(i.clone())),
            Node::Rational(r) => Some(Number::Rat(r.clone())),
            Node::Float(b) => Some(Number::Float(f64::from_bits(*b))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_follow_declaration_order() {
        for (i, f) in Func::ALL.into_iter().enumerate() {
            assert_eq!(f as usize, i, "{f:?}");
            assert_eq!(Func::from_name(f.name()), Some(f));
        }
        assert!(Func::Lt.returns_bool() && !Func::Where.returns_bool());
        assert!(!Func::Where.is_numeric() && Func::Erf.is_numeric());
    }
}
