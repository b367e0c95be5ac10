//! Node kinds of the expression DAG.

use num_bigint::BigInt;
use num_rational::BigRational;

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

/// Elementary functions known to every backend.
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
}

impl Func {
    /// Every function, in a fixed order (used for tables and tests).
    pub const ALL: [Func; 20] = [
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
    ];

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Func::Atan2 | Func::Hypot | Func::Min | Func::Max => 2,
            Func::Fma => 3,
            _ => 1,
        }
    }

    /// Name as printed (valid in Python's `math`, SymPy and `alkahest`).
    pub fn name(self) -> &'static str {
        match self {
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Atan => "atan",
            Func::Atan2 => "atan2",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Tanh => "tanh",
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Log1p => "log1p",
            Func::Expm1 => "expm1",
            Func::Hypot => "hypot",
            Func::Fma => "fma",
            Func::Min => "Min",
            Func::Max => "Max",
        }
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
/// none of which is itself an `Add` (resp. `Mul`), at most one numeric
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
}
