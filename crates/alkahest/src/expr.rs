//! Expressions bound to their pool, with operator overloading.

use std::fmt;
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

use alkahest_core::{ExprId, ExprPool, Func};

use crate::error::{Error, Result};

/// Where every expression of one computation lives.
///
/// A `Pool` hash-conses expressions: building the same expression twice
/// gives the same node, so common subexpressions are found for free and
/// compiled once. Expressions borrow their pool ([`Expr<'p>`](Expr)), so
/// they are `Copy` and combine with plain operators. The pool is
/// thread-safe (`Send + Sync`).
#[derive(Default)]
pub struct Pool {
    inner: ExprPool,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("nodes", &self.inner.len())
            .finish()
    }
}

/// Unwrap a builder result that cannot fail for a well-typed expression of
/// one pool. What remains is a full pool (2^32 nodes), which, like a full
/// `Vec`, is a panic rather than a `Result` on every operator.
fn built(r: alkahest_core::Result<ExprId>) -> ExprId {
    match r {
        Ok(id) => id,
        Err(e) => panic!("alkahest: {e}"),
    }
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A symbol (an input variable). The same name gives the same
    /// expression. Fails for an empty name or one longer than
    /// [`ExprPool::MAX_SYMBOL_BYTES`] bytes.
    pub fn symbol(&self, name: &str) -> Result<Expr<'_>> {
        let id = self.inner.symbol(name)?;
        Ok(self.wrap(id))
    }

    /// Several symbols from names separated by spaces or commas, as in
    /// SymPy's `symbols("x y z")`.
    pub fn symbols(&self, names: &str) -> Result<Vec<Expr<'_>>> {
        names
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| self.symbol(s))
            .collect()
    }

    /// A float constant.
    pub fn float(&self, value: f64) -> Expr<'_> {
        self.wrap(built(self.inner.float(value)))
    }

    /// An exact integer constant (exact arithmetic is folded exactly).
    pub fn integer(&self, value: i64) -> Expr<'_> {
        self.wrap(built(self.inner.integer(value)))
    }

    /// The exact rational `p/q`; fails when `q` is zero.
    pub fn rational(&self, p: i64, q: i64) -> Result<Expr<'_>> {
        let id = self.inner.rational(p, q)?;
        Ok(self.wrap(id))
    }

    /// The underlying [`ExprPool`], for the lower-level crates' APIs.
    pub fn raw(&self) -> &ExprPool {
        &self.inner
    }

    /// Number of distinct nodes built so far.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing was built yet.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// An [`Expr`] for an id of this pool (from the lower-level API); fails
    /// for an id this pool never handed out, and for a condition.
    pub fn expr(&self, id: ExprId) -> Result<Expr<'_>> {
        self.inner.check(id)?;
        if self.inner.is_condition(id) {
            return Err(Error::Core(alkahest_core::Error::ConditionAsNumber(
                alkahest_core::to_string(&self.inner, id),
            )));
        }
        Ok(self.wrap(id))
    }

    fn wrap(&self, id: ExprId) -> Expr<'_> {
        Expr { pool: self, id }
    }
}

/// A numeric expression of a [`Pool`].
///
/// `Copy`, cheap (a pool reference and an id), and combined with `+ - * /`
/// and unary `-` with other expressions, `f64` and `i32` (integers stay
/// exact: `x * 2` is `2*x`, `x * 2.0` is `2.0*x`). Methods mirror `f64`'s
/// (`sin`, `ln`, `powi`, `mul_add`, ...). Equality is structural identity
/// within the pool (two equal expressions are the same node).
///
/// # Panics
///
/// Combining expressions of two different pools panics (it is a bug in the
/// calling code, like indexing out of bounds); so does a pool that reaches
/// its capacity of 2^32 nodes.
#[derive(Clone, Copy)]
pub struct Expr<'p> {
    pool: &'p Pool,
    id: ExprId,
}

impl PartialEq for Expr<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.pool, other.pool) && self.id == other.id
    }
}

impl Eq for Expr<'_> {}

impl std::hash::Hash for Expr<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Display for Expr<'_> {
    /// Python/SymPy syntax (`x**2 + sin(y)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&alkahest_core::to_string(&self.pool.inner, self.id))
    }
}

impl fmt::Debug for Expr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({self})")
    }
}

impl<'p> Expr<'p> {
    /// The node id, for the lower-level crates' APIs.
    pub fn id(self) -> ExprId {
        self.id
    }

    /// The pool it belongs to.
    pub fn pool(self) -> &'p Pool {
        self.pool
    }

    fn raw(self) -> &'p ExprPool {
        &self.pool.inner
    }

    fn same_pool(self, other: Expr<'_>) {
        assert!(
            std::ptr::eq(self.pool, other.pool),
            "alkahest: expressions belong to different Pools; build every expression of one \
             computation in the same pool"
        );
    }

    fn wrap(self, id: ExprId) -> Expr<'p> {
        Expr {
            pool: self.pool,
            id,
        }
    }

    fn f1(self, f: Func) -> Expr<'p> {
        self.wrap(built(self.raw().func(f, &[self.id])))
    }

    fn f2(self, f: Func, other: Expr<'p>) -> Expr<'p> {
        self.same_pool(other);
        self.wrap(built(self.raw().func(f, &[self.id, other.id])))
    }

    fn cmp(self, f: Func, other: Expr<'p>) -> Cond<'p> {
        self.same_pool(other);
        Cond {
            pool: self.pool,
            id: built(self.raw().func(f, &[self.id, other.id])),
        }
    }

    /// The value of a float constant (or of an exact constant, rounded).
    pub fn as_f64(self) -> Option<f64> {
        self.raw().as_number(self.id).map(|n| n.to_f64())
    }

    /// `self ** n` with an exact integer exponent (a multiplication chain
    /// when compiled).
    pub fn powi(self, n: i32) -> Expr<'p> {
        let e = built(self.raw().integer(n));
        self.wrap(built(self.raw().pow(self.id, e)))
    }

    /// `self ** x` with a float exponent.
    pub fn powf(self, x: f64) -> Expr<'p> {
        let e = built(self.raw().float(x));
        self.wrap(built(self.raw().pow(self.id, e)))
    }

    /// `self ** other`.
    pub fn pow(self, other: Expr<'p>) -> Expr<'p> {
        self.same_pool(other);
        self.wrap(built(self.raw().pow(self.id, other.id)))
    }

    /// `self * a + b`, one fused multiply-add.
    pub fn mul_add(self, a: Expr<'p>, b: Expr<'p>) -> Expr<'p> {
        self.same_pool(a);
        self.same_pool(b);
        self.wrap(built(self.raw().func(Func::Fma, &[self.id, a.id, b.id])))
    }

    /// The derivative with respect to `var` (a symbol). Fails for functions
    /// without a derivative here (`trigamma`, whose derivative is
    /// polygamma(2, x)) and when `var` is not a symbol.
    pub fn diff(self, var: Expr<'p>) -> Result<Expr<'p>> {
        self.same_pool(var);
        Ok(self.wrap(self.raw().diff(self.id, var.id)?))
    }

    /// `self < other`, a condition for [`Cond::select`].
    pub fn lt(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Lt, other)
    }

    /// `self <= other`.
    pub fn le(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Le, other)
    }

    /// `self > other`.
    pub fn gt(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Gt, other)
    }

    /// `self >= other`.
    pub fn ge(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Ge, other)
    }

    /// Numeric `self == other` (NaN is unequal to everything). `==` on
    /// `Expr` itself is structural identity.
    pub fn num_eq(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Eq, other)
    }

    /// Numeric `self != other` (true for NaN).
    pub fn num_ne(self, other: Expr<'p>) -> Cond<'p> {
        self.cmp(Func::Ne, other)
    }
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {
        impl<'p> Expr<'p> {
            $($(#[$doc])* pub fn $name(self) -> Expr<'p> { self.f1(Func::$f) })*
        }
    };
}

unary! {
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Tangent.
    tan => Tan;
    /// Arcsine.
    asin => Asin;
    /// Arccosine.
    acos => Acos;
    /// Arctangent.
    atan => Atan;
    /// Hyperbolic sine.
    sinh => Sinh;
    /// Hyperbolic cosine.
    cosh => Cosh;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Inverse hyperbolic sine.
    asinh => Asinh;
    /// Inverse hyperbolic cosine.
    acosh => Acosh;
    /// Inverse hyperbolic tangent.
    atanh => Atanh;
    /// `e**self`.
    exp => Exp;
    /// `2**self`.
    exp2 => Exp2;
    /// `e**self - 1`, accurate near zero.
    exp_m1 => Expm1;
    /// Natural logarithm.
    ln => Log;
    /// Base-2 logarithm.
    log2 => Log2;
    /// Base-10 logarithm.
    log10 => Log10;
    /// `ln(1 + self)`, accurate near zero.
    ln_1p => Log1p;
    /// Square root (NaN below zero).
    sqrt => Sqrt;
    /// Cube root.
    cbrt => Cbrt;
    /// Absolute value.
    abs => Abs;
    /// Error function.
    erf => Erf;
    /// Complementary error function.
    erfc => Erfc;
    /// Gamma function.
    gamma => Gamma;
    /// Logarithm of the absolute value of the gamma function.
    lgamma => Lgamma;
    /// Digamma function ψ = Γ'/Γ.
    digamma => Digamma;
    /// Trigamma function ψ' (the derivative of digamma).
    trigamma => Trigamma;
    /// Largest integer not above.
    floor => Floor;
    /// Smallest integer not below.
    ceil => Ceil;
    /// Sign: -1, +1, or the argument itself for ±0 and NaN.
    signum => Sign;
}

macro_rules! binary {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {
        impl<'p> Expr<'p> {
            $($(#[$doc])* pub fn $name(self, other: Expr<'p>) -> Expr<'p> { self.f2(Func::$f, other) })*
        }
    };
}

binary! {
    /// Four-quadrant arctangent of `self / other`.
    atan2 => Atan2;
    /// `sqrt(self**2 + other**2)` without overflow.
    hypot => Hypot;
    /// Minimum (NaN propagates, like `numpy.minimum`).
    min => Min;
    /// Maximum (NaN propagates).
    max => Max;
    /// `self` with the sign of `other`.
    copysign => Copysign;
    /// C `fmod`: the remainder has the sign of `self`.
    fmod => Fmod;
    /// Python's `%`: the remainder has the sign of `other`.
    py_mod => Mod;
}

/// A condition (a comparison, or `&`, `|`, `!` of conditions): what
/// [`Cond::select`] chooses by. A separate type, so that a condition can
/// never be used where a number is expected.
#[derive(Clone, Copy)]
pub struct Cond<'p> {
    pool: &'p Pool,
    id: ExprId,
}

impl fmt::Debug for Cond<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cond({})",
            alkahest_core::to_string(&self.pool.inner, self.id)
        )
    }
}

impl<'p> Cond<'p> {
    /// `then` where the condition holds, else `otherwise`, per point and
    /// without branching (both sides are evaluated, like `numpy.where`).
    pub fn select(self, then: Expr<'p>, otherwise: Expr<'p>) -> Expr<'p> {
        then.same_pool(otherwise);
        assert!(
            std::ptr::eq(self.pool, then.pool),
            "alkahest: condition and values belong to different Pools"
        );
        then.wrap(built(self.pool.inner.select(
            self.id,
            then.id,
            otherwise.id,
        )))
    }

    fn logic(self, f: Func, other: Cond<'p>) -> Cond<'p> {
        assert!(
            std::ptr::eq(self.pool, other.pool),
            "alkahest: conditions belong to different Pools"
        );
        Cond {
            pool: self.pool,
            id: built(self.pool.inner.func(f, &[self.id, other.id])),
        }
    }
}

impl<'p> BitAnd for Cond<'p> {
    type Output = Cond<'p>;
    fn bitand(self, rhs: Cond<'p>) -> Cond<'p> {
        self.logic(Func::And, rhs)
    }
}

impl<'p> BitOr for Cond<'p> {
    type Output = Cond<'p>;
    fn bitor(self, rhs: Cond<'p>) -> Cond<'p> {
        self.logic(Func::Or, rhs)
    }
}

impl<'p> Not for Cond<'p> {
    type Output = Cond<'p>;
    fn not(self) -> Cond<'p> {
        Cond {
            pool: self.pool,
            id: built(self.pool.inner.func(Func::Not, &[self.id])),
        }
    }
}

impl<'p> Neg for Expr<'p> {
    type Output = Expr<'p>;
    fn neg(self) -> Expr<'p> {
        self.wrap(built(self.raw().neg(self.id)))
    }
}

impl<'p> Add for Expr<'p> {
    type Output = Expr<'p>;
    fn add(self, rhs: Expr<'p>) -> Expr<'p> {
        self.same_pool(rhs);
        self.wrap(built(self.raw().add(&[self.id, rhs.id])))
    }
}

impl<'p> Sub for Expr<'p> {
    type Output = Expr<'p>;
    fn sub(self, rhs: Expr<'p>) -> Expr<'p> {
        self.same_pool(rhs);
        self.wrap(built(self.raw().sub(self.id, rhs.id)))
    }
}

impl<'p> Mul for Expr<'p> {
    type Output = Expr<'p>;
    fn mul(self, rhs: Expr<'p>) -> Expr<'p> {
        self.same_pool(rhs);
        self.wrap(built(self.raw().mul(&[self.id, rhs.id])))
    }
}

impl<'p> Div for Expr<'p> {
    type Output = Expr<'p>;
    fn div(self, rhs: Expr<'p>) -> Expr<'p> {
        self.same_pool(rhs);
        self.wrap(built(self.raw().div(self.id, rhs.id)))
    }
}

/// A number that becomes a constant of the other operand's pool.
trait Constant: Copy {
    fn lift(self, pool: &Pool) -> Expr<'_>;
}

impl Constant for f64 {
    fn lift(self, pool: &Pool) -> Expr<'_> {
        pool.float(self)
    }
}

impl Constant for i32 {
    fn lift(self, pool: &Pool) -> Expr<'_> {
        pool.integer(i64::from(self))
    }
}

macro_rules! scalar_ops {
    ($($t:ty),*) => {$(
        impl<'p> Add<$t> for Expr<'p> {
            type Output = Expr<'p>;
            fn add(self, rhs: $t) -> Expr<'p> { self + rhs.lift(self.pool) }
        }
        impl<'p> Add<Expr<'p>> for $t {
            type Output = Expr<'p>;
            fn add(self, rhs: Expr<'p>) -> Expr<'p> { self.lift(rhs.pool) + rhs }
        }
        impl<'p> Sub<$t> for Expr<'p> {
            type Output = Expr<'p>;
            fn sub(self, rhs: $t) -> Expr<'p> { self - rhs.lift(self.pool) }
        }
        impl<'p> Sub<Expr<'p>> for $t {
            type Output = Expr<'p>;
            fn sub(self, rhs: Expr<'p>) -> Expr<'p> { self.lift(rhs.pool) - rhs }
        }
        impl<'p> Mul<$t> for Expr<'p> {
            type Output = Expr<'p>;
            fn mul(self, rhs: $t) -> Expr<'p> { self * rhs.lift(self.pool) }
        }
        impl<'p> Mul<Expr<'p>> for $t {
            type Output = Expr<'p>;
            fn mul(self, rhs: Expr<'p>) -> Expr<'p> { self.lift(rhs.pool) * rhs }
        }
        impl<'p> Div<$t> for Expr<'p> {
            type Output = Expr<'p>;
            fn div(self, rhs: $t) -> Expr<'p> { self / rhs.lift(self.pool) }
        }
        impl<'p> Div<Expr<'p>> for $t {
            type Output = Expr<'p>;
            fn div(self, rhs: Expr<'p>) -> Expr<'p> { self.lift(rhs.pool) / rhs }
        }
    )*};
}

scalar_ops!(f64, i32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_build_canonical_nodes() {
        let pool = Pool::new();
        let x = pool.symbol("x").unwrap();
        let y = pool.symbol("y").unwrap();
        // Hash-consing: the same expression twice is the same node.
        assert_eq!(x * y + 1, 1 + y * x);
        assert_eq!((x * 2).to_string(), "2*x");
        assert_eq!(x + 0, x);
        assert_eq!(x * 1.0, 1.0 * x);
        assert_eq!((x / 2.0 + x.sin()).to_string(), "0.5*x + sin(x)");
        assert_eq!(x.powi(2).diff(x).unwrap(), 2 * x);
    }

    #[test]
    fn symbols_and_errors() {
        let pool = Pool::new();
        let v = pool.symbols("a, b c").unwrap();
        assert_eq!(v.len(), 3);
        assert!(pool.symbol("").is_err());
        assert!(pool.rational(1, 0).is_err());
        assert_eq!(pool.rational(4, 2).unwrap(), pool.integer(2));
        assert!(x_trigamma_diff_fails(&pool));
    }

    fn x_trigamma_diff_fails(pool: &Pool) -> bool {
        let x = pool.symbol("x").unwrap();
        // gamma's derivative is gamma * digamma; trigamma's (polygamma(2,
        // x)) is not provided.
        x.gamma().diff(x).unwrap() == x.gamma() * x.digamma() && x.trigamma().diff(x).is_err()
    }

    #[test]
    #[should_panic(expected = "different Pools")]
    fn mixing_pools_panics() {
        let (a, b) = (Pool::new(), Pool::new());
        let _ = a.symbol("x").unwrap() + b.symbol("x").unwrap();
    }

    #[test]
    fn conditions_select() {
        let pool = Pool::new();
        let x = pool.symbol("x").unwrap();
        let zero = pool.integer(0);
        let e = (x.lt(zero) | !x.ge(zero)).select(-x, x);
        let f = crate::compile(&[e], &[x], &crate::Config::default()).unwrap();
        assert_eq!(f.call_scalar(&[-2.0]).unwrap(), 2.0);
        assert_eq!(f.call_scalar(&[3.0]).unwrap(), 3.0);
        // NaN compares false everywhere but in `num_ne` (compiled as
        // written: the e-graph's rules assume finite inputs).
        let g = x.num_ne(x).select(pool.float(1.0), pool.float(0.0));
        let as_written = crate::Config {
            optimize: crate::Optimize::None,
            ..Default::default()
        };
        let g = crate::compile(&[g], &[x], &as_written).unwrap();
        assert_eq!(g.call_scalar(&[f64::NAN]).unwrap(), 1.0);
        assert_eq!(g.call_scalar(&[1.0]).unwrap(), 0.0);
    }
}
