//! Exact constant folding for the canonical builders.

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// A numeric constant: exact integer, exact rational, or IEEE double.
///
/// Exact values combine exactly; as soon as a float takes part the result is
/// a float (the same rule as SymPy and as every numeric language).
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    /// Exact integer.
    Int(BigInt),
    /// Exact rational (denominator > 1 after [`Number::normalize`]).
    Rat(BigRational),
    /// IEEE-754 double.
    Float(f64),
}

/// Integer powers whose result would exceed this many bits stay unevaluated,
/// so `10**10**9` cannot exhaust memory.
const MAX_EXACT_POW_BITS: u64 = 1 << 16;

impl Number {
    /// Turn an integral rational into an integer.
    pub fn normalize(self) -> Number {
        match self {
            Number::Rat(r) if r.denom().is_one() => Number::Int(r.numer().clone()),
            n => n,
        }
    }

    /// Value rounded to the nearest double.
    pub fn to_f64(&self) -> f64 {
        match self {
            Number::Int(i) => i.to_f64().unwrap_or(f64::NAN),
            Number::Rat(r) => r.to_f64().unwrap_or(f64::NAN),
            Number::Float(f) => *f,
        }
    }

    /// Exact zero (a float 0.0 is not: `0.0 * inf` must stay NaN).
    pub fn is_exact_zero(&self) -> bool {
        matches!(self, Number::Int(i) if i.is_zero())
    }

    /// Exact one.
    pub fn is_exact_one(&self) -> bool {
        matches!(self, Number::Int(i) if i.is_one())
    }

    /// Exact minus one.
    pub fn is_exact_minus_one(&self) -> bool {
        matches!(self, Number::Int(i) if *i == BigInt::from(-1))
    }

    /// True for negative values (floats included, NaN excluded).
    pub fn is_negative(&self) -> bool {
        match self {
            Number::Int(i) => i.is_negative(),
            Number::Rat(r) => r.is_negative(),
            Number::Float(f) => *f < 0.0 || (*f == 0.0 && f.is_sign_negative()),
        }
    }

    fn to_rat(&self) -> Option<BigRational> {
        match self {
            Number::Int(i) => Some(BigRational::from_integer(i.clone())),
            Number::Rat(r) => Some(r.clone()),
            Number::Float(_) => None,
        }
    }

    /// Sum.
    pub fn add(&self, other: &Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a + b),
            _ => match (self.to_rat(), other.to_rat()) {
                (Some(a), Some(b)) => Number::Rat(a + b).normalize(),
                _ => Number::Float(self.to_f64() + other.to_f64()),
            },
        }
    }

    /// Product.
    pub fn mul(&self, other: &Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a * b),
            _ => match (self.to_rat(), other.to_rat()) {
                (Some(a), Some(b)) => Number::Rat(a * b).normalize(),
                _ => Number::Float(self.to_f64() * other.to_f64()),
            },
        }
    }

    /// Negation.
    pub fn neg(&self) -> Number {
        match self {
            Number::Int(a) => Number::Int(-a),
            Number::Rat(a) => Number::Rat(-a),
            Number::Float(f) => Number::Float(-f),
        }
    }

    /// `self ** exp` when it folds to a constant of the same exactness;
    /// `None` when the result is irrational (`2**(1/2)`), undefined (`0**-1`)
    /// or too large to hold exactly. Floats fold with `powf`.
    pub fn pow(&self, exp: &Number) -> Option<Number> {
        if let (Number::Float(_), _) | (_, Number::Float(_)) = (self, exp) {
            return Some(Number::Float(self.to_f64().powf(exp.to_f64())));
        }
        let Number::Int(e) = exp else { return None };
        let base = self.to_rat()?;
        if e.is_zero() {
            return Some(Number::Int(BigInt::one()));
        }
        if base.is_zero() && e.is_negative() {
            return None;
        }
        let mag = e.abs().to_u64()?;
        let bits = base.numer().bits().max(base.denom().bits()).max(1);
        if bits.saturating_mul(mag) > MAX_EXACT_POW_BITS {
            return None;
        }
        let m = u32::try_from(mag).ok()?;
        let mut r = BigRational::new(
            num_traits::pow(base.numer().clone(), m as usize),
            num_traits::pow(base.denom().clone(), m as usize),
        );
        if e.is_negative() {
            r = r.recip();
        }
        Some(Number::Rat(r).normalize())
    }

    /// Build an exact rational `p/q` in lowest terms (`None` when q == 0).
    pub fn rational(p: BigInt, q: BigInt) -> Option<Number> {
        if q.is_zero() {
            return None;
        }
        let g = p.gcd(&q);
        let (mut p, mut q) = (p / &g, q / &g);
        if q.is_negative() {
            p = -p;
            q = -q;
        }
        Some(Number::Rat(BigRational::new_raw(p, q)).normalize())
    }
}
