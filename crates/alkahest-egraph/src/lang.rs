//! The egg language mirroring the pool's node kinds.
//!
//! Sums and products are binary here (`+`, `*`), and subtraction, division
//! and negation are explicit nodes (`-`, `/`, `neg`): rules read like
//! textbook algebra, and the extraction cost sees the operations the tape
//! will really execute. Conversion back goes through the pool's canonical
//! builders, which flatten and sort again.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use alkahest_core::{Func, Number};
use egg::{Id, Symbol, define_language};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A numeric constant: exact rational (integers included) or an IEEE double
/// stored by bit pattern (so `-0.0` and NaN stay distinct, as in the pool).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Const {
    /// Exact rational; integers have denominator 1. Shared, so that an
    /// e-node stays small (a `BigRational` inline made every `Math` node
    /// 72 bytes) and copying one copies no digits.
    Exact(Arc<BigRational>),
    /// A float constant's bits.
    Float(u64),
}

impl Const {
    /// Exact integer constant.
    pub fn int(i: i64) -> Const {
        Const::rational(BigRational::from_integer(BigInt::from(i)))
    }

    /// Exact rational constant.
    pub fn rational(r: BigRational) -> Const {
        Const::Exact(Arc::new(r))
    }

    /// The exact value, if this is exact.
    pub fn exact(&self) -> Option<&BigRational> {
        match self {
            Const::Exact(r) => Some(r),
            Const::Float(_) => None,
        }
    }

    /// Value rounded to the nearest double.
    pub fn to_f64(&self) -> f64 {
        match self {
            Const::Exact(r) => r.to_f64().unwrap_or(f64::NAN),
            Const::Float(b) => f64::from_bits(*b),
        }
    }

    /// The same value as a core [`Number`].
    pub fn to_number(&self) -> Number {
        match self {
            Const::Exact(r) if r.denom().is_one() => Number::Int(r.numer().clone()),
            Const::Exact(r) => Number::Rat(BigRational::clone(r)),
            Const::Float(b) => Number::Float(f64::from_bits(*b)),
        }
    }

    /// From a core [`Number`].
    pub fn from_number(n: &Number) -> Const {
        match n {
            Number::Int(i) => Const::rational(BigRational::from_integer(i.clone())),
            Number::Rat(r) => Const::rational(r.clone()),
            Number::Float(f) => Const::Float(f.to_bits()),
        }
    }

    /// True for an exact integer.
    pub fn is_integer(&self) -> bool {
        matches!(self, Const::Exact(r) if r.is_integer())
    }

    /// True for the exact value zero.
    pub fn is_exact_zero(&self) -> bool {
        matches!(self, Const::Exact(r) if r.is_zero())
    }

    /// True for a nonzero value (exact or a nonzero, non-NaN float).
    pub fn is_nonzero(&self) -> bool {
        match self {
            Const::Exact(r) => !r.is_zero(),
            Const::Float(b) => {
                let f = f64::from_bits(*b);
                f != 0.0 && !f.is_nan()
            }
        }
    }

    /// True for a negative value.
    pub fn is_negative(&self) -> bool {
        match self {
            Const::Exact(r) => r.is_negative(),
            Const::Float(b) => f64::from_bits(*b) < 0.0,
        }
    }
}

/// Hashes an exact value's numerator and denominator as they are: a
/// `BigRational` is kept in lowest terms with a positive denominator, so
/// equal values have equal parts. (`Ratio`'s own hash expands the value as
/// a continued fraction, BigInt divisions on every e-node lookup.)
impl Hash for Const {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Const::Exact(r) => {
                0u8.hash(h);
                r.numer().hash(h);
                r.denom().hash(h);
            }
            Const::Float(b) => {
                1u8.hash(h);
                b.hash(h);
            }
        }
    }
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Const::Exact(r) if r.denom().is_one() => write!(f, "{}", r.numer()),
            Const::Exact(r) => write!(f, "{}/{}", r.numer(), r.denom()),
            // `f` suffix keeps floats apart from exact integers when parsed back.
            Const::Float(b) => write!(f, "{:?}f", f64::from_bits(*b)),
        }
    }
}

impl FromStr for Const {
    type Err = String;

    /// `3`, `-1`, `1/2` are exact; `2.5f`, `1e300f`, `inff` are floats.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(body) = s.strip_suffix('f')
            && let Ok(v) = body.parse::<f64>()
        {
            return Ok(Const::Float(v.to_bits()));
        }
        if let Some((p, q)) = s.split_once('/') {
            let p: BigInt = p.parse().map_err(|_| format!("bad rational {s}"))?;
            let q: BigInt = q.parse().map_err(|_| format!("bad rational {s}"))?;
            if q.is_zero() {
                return Err(format!("zero denominator in {s}"));
            }
            return Ok(Const::rational(BigRational::new(p, q)));
        }
        let i: BigInt = s.parse().map_err(|_| format!("not a constant: {s}"))?;
        Ok(Const::rational(BigRational::from_integer(i)))
    }
}

define_language! {
    /// Alkahest expressions as an egg language (binary sums and products).
    /// Variants are named by their operator (`"+"` is `Add`, `"pow"` is
    /// `Pow`, functions by their C / Python name, comparisons by their
    /// operator: `"<"` is `Lt`); `Num` and `Sym` are leaves.
    ///
    /// Every [`Func`] has a variant. Comparisons (`<` `<=` `>` `>=` `==`
    /// `!=`) and `and`/`or`/`not` are *conditions* (their value is a truth
    /// value, 1 or 0 once lowered; see [`Math::returns_bool`]); `where(c, a,
    /// b)` is a number. The pool's builders only accept conditions in
    /// condition positions (the first argument of `where`, the operands of
    /// `and`/`or`/`not`), and no rule moves a condition or builds one
    /// anywhere but as the first argument of a `where` it builds (see
    /// [`crate::rules`]), so an e-class holds only conditions or only numbers.
    #[allow(missing_docs)]
    pub enum Math {
        "+" = Add([Id; 2]),
        "-" = Sub([Id; 2]),
        "*" = Mul([Id; 2]),
        "/" = Div([Id; 2]),
        "neg" = Neg(Id),
        "pow" = Pow([Id; 2]),
        "sin" = Sin(Id),
        "cos" = Cos(Id),
        "tan" = Tan(Id),
        "asin" = Asin(Id),
        "acos" = Acos(Id),
        "atan" = Atan(Id),
        "atan2" = Atan2([Id; 2]),
        "sinh" = Sinh(Id),
        "cosh" = Cosh(Id),
        "tanh" = Tanh(Id),
        "exp" = Exp(Id),
        "log" = Log(Id),
        "sqrt" = Sqrt(Id),
        "abs" = Abs(Id),
        "log1p" = Log1p(Id),
        "expm1" = Expm1(Id),
        "hypot" = Hypot([Id; 2]),
        "fma" = Fma([Id; 3]),
        "min" = Min([Id; 2]),
        "max" = Max([Id; 2]),
        "asinh" = Asinh(Id),
        "acosh" = Acosh(Id),
        "atanh" = Atanh(Id),
        "cbrt" = Cbrt(Id),
        "exp2" = Exp2(Id),
        "log2" = Log2(Id),
        "log10" = Log10(Id),
        "erf" = Erf(Id),
        "erfc" = Erfc(Id),
        "gamma" = Gamma(Id),
        "lgamma" = Lgamma(Id),
        "floor" = Floor(Id),
        "ceil" = Ceil(Id),
        "sign" = Sign(Id),
        "copysign" = Copysign([Id; 2]),
        "fmod" = Fmod([Id; 2]),
        "mod" = Mod([Id; 2]),
        "<" = Lt([Id; 2]),
        "<=" = Le([Id; 2]),
        ">" = Gt([Id; 2]),
        ">=" = Ge([Id; 2]),
        "==" = Eq([Id; 2]),
        "!=" = Ne([Id; 2]),
        "and" = And([Id; 2]),
        "or" = Or([Id; 2]),
        "not" = Not(Id),
        "where" = Where([Id; 3]),
        "digamma" = Digamma(Id),
        "trigamma" = Trigamma(Id),
        Num(Const),
        Sym(Symbol),
    }
}

impl Math {
    /// The node for `f(args)`; `None` when the arity is wrong.
    pub fn from_func(f: Func, a: &[Id]) -> Option<Math> {
        if a.len() != f.arity() {
            return None;
        }
        let two = || [a[0], a[1]];
        Some(match f {
            Func::Sin => Math::Sin(a[0]),
            Func::Cos => Math::Cos(a[0]),
            Func::Tan => Math::Tan(a[0]),
            Func::Asin => Math::Asin(a[0]),
            Func::Acos => Math::Acos(a[0]),
            Func::Atan => Math::Atan(a[0]),
            Func::Atan2 => Math::Atan2(two()),
            Func::Sinh => Math::Sinh(a[0]),
            Func::Cosh => Math::Cosh(a[0]),
            Func::Tanh => Math::Tanh(a[0]),
            Func::Exp => Math::Exp(a[0]),
            Func::Log => Math::Log(a[0]),
            Func::Sqrt => Math::Sqrt(a[0]),
            Func::Abs => Math::Abs(a[0]),
            Func::Log1p => Math::Log1p(a[0]),
            Func::Expm1 => Math::Expm1(a[0]),
            Func::Hypot => Math::Hypot(two()),
            Func::Fma => Math::Fma([a[0], a[1], a[2]]),
            Func::Min => Math::Min(two()),
            Func::Max => Math::Max(two()),
            Func::Asinh => Math::Asinh(a[0]),
            Func::Acosh => Math::Acosh(a[0]),
            Func::Atanh => Math::Atanh(a[0]),
            Func::Cbrt => Math::Cbrt(a[0]),
            Func::Exp2 => Math::Exp2(a[0]),
            Func::Log2 => Math::Log2(a[0]),
            Func::Log10 => Math::Log10(a[0]),
            Func::Erf => Math::Erf(a[0]),
            Func::Erfc => Math::Erfc(a[0]),
            Func::Gamma => Math::Gamma(a[0]),
            Func::Lgamma => Math::Lgamma(a[0]),
            Func::Floor => Math::Floor(a[0]),
            Func::Ceil => Math::Ceil(a[0]),
            Func::Sign => Math::Sign(a[0]),
            Func::Copysign => Math::Copysign(two()),
            Func::Fmod => Math::Fmod(two()),
            Func::Mod => Math::Mod(two()),
            Func::Lt => Math::Lt(two()),
            Func::Le => Math::Le(two()),
            Func::Gt => Math::Gt(two()),
            Func::Ge => Math::Ge(two()),
            Func::Eq => Math::Eq(two()),
            Func::Ne => Math::Ne(two()),
            Func::And => Math::And(two()),
            Func::Or => Math::Or(two()),
            Func::Not => Math::Not(a[0]),
            Func::Where => Math::Where([a[0], a[1], a[2]]),
            Func::Digamma => Math::Digamma(a[0]),
            Func::Trigamma => Math::Trigamma(a[0]),
        })
    }

    /// The function this node applies, if it is one (every node but the
    /// arithmetic `+ - * / neg pow` and the leaves).
    pub fn func(&self) -> Option<Func> {
        Some(match self {
            Math::Sin(_) => Func::Sin,
            Math::Cos(_) => Func::Cos,
            Math::Tan(_) => Func::Tan,
            Math::Asin(_) => Func::Asin,
            Math::Acos(_) => Func::Acos,
            Math::Atan(_) => Func::Atan,
            Math::Atan2(_) => Func::Atan2,
            Math::Sinh(_) => Func::Sinh,
            Math::Cosh(_) => Func::Cosh,
            Math::Tanh(_) => Func::Tanh,
            Math::Exp(_) => Func::Exp,
            Math::Log(_) => Func::Log,
            Math::Sqrt(_) => Func::Sqrt,
            Math::Abs(_) => Func::Abs,
            Math::Log1p(_) => Func::Log1p,
            Math::Expm1(_) => Func::Expm1,
            Math::Hypot(_) => Func::Hypot,
            Math::Fma(_) => Func::Fma,
            Math::Min(_) => Func::Min,
            Math::Max(_) => Func::Max,
            Math::Asinh(_) => Func::Asinh,
            Math::Acosh(_) => Func::Acosh,
            Math::Atanh(_) => Func::Atanh,
            Math::Cbrt(_) => Func::Cbrt,
            Math::Exp2(_) => Func::Exp2,
            Math::Log2(_) => Func::Log2,
            Math::Log10(_) => Func::Log10,
            Math::Erf(_) => Func::Erf,
            Math::Erfc(_) => Func::Erfc,
            Math::Gamma(_) => Func::Gamma,
            Math::Lgamma(_) => Func::Lgamma,
            Math::Floor(_) => Func::Floor,
            Math::Ceil(_) => Func::Ceil,
            Math::Sign(_) => Func::Sign,
            Math::Copysign(_) => Func::Copysign,
            Math::Fmod(_) => Func::Fmod,
            Math::Mod(_) => Func::Mod,
            Math::Lt(_) => Func::Lt,
            Math::Le(_) => Func::Le,
            Math::Gt(_) => Func::Gt,
            Math::Ge(_) => Func::Ge,
            Math::Eq(_) => Func::Eq,
            Math::Ne(_) => Func::Ne,
            Math::And(_) => Func::And,
            Math::Or(_) => Func::Or,
            Math::Not(_) => Func::Not,
            Math::Where(_) => Func::Where,
            Math::Digamma(_) => Func::Digamma,
            Math::Trigamma(_) => Func::Trigamma,
            Math::Add(_)
            | Math::Sub(_)
            | Math::Mul(_)
            | Math::Div(_)
            | Math::Neg(_)
            | Math::Pow(_)
            | Math::Num(_)
            | Math::Sym(_) => return None,
        })
    }

    /// Whether the node is a condition (a comparison or `and`/`or`/`not`):
    /// its value is a truth value, and it may only be used as the first
    /// argument of `where` or an operand of `and`/`or`/`not`.
    pub fn returns_bool(&self) -> bool {
        self.func().is_some_and(Func::returns_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Saturation copies, hashes and compares e-nodes all the time: an
    /// exact constant's digits stay behind a pointer so that a node stays
    /// small (a `BigRational` inline made it 80 bytes).
    #[test]
    fn e_nodes_stay_small() {
        assert!(
            std::mem::size_of::<Math>() <= 24,
            "{}",
            std::mem::size_of::<Math>()
        );
        let a = Const::rational(BigRational::new(BigInt::from(1), BigInt::from(3)));
        let b: Const = "1/3".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "1/3");
    }
}
