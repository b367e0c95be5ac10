//! Canonical constructors: cheap normalization only.
//!
//! Builders flatten nested sums and products (up to a size, see below), fold
//! numeric constants exactly, drop exact identities (`+ 0`, `* 1`, `** 1`)
//! and sort operands into the canonical order. Nothing more: real
//! simplification belongs to the e-graph.
//!
//! **Bounded flattening.** [`ExprPool::add`] merges the operands of a sum
//! operand into the new sum only when that operand has at most
//! [`ExprPool::FLATTEN_LIMIT`] operands; a larger sum is kept whole, as one
//! operand (products alike, with [`ExprPool::mul`]). The pool is
//! append-only, so flattening without a bound made `s = s + t` in a loop
//! copy (and hash) the whole sum at every step: n steps cost O(n^2) time and
//! left O(n^2) child slots behind (10,000 terms: 10^8 slots, ~1 s; 100,000
//! terms: minutes and gigabytes). With the bound, each step copies at most
//! `FLATTEN_LIMIT + 1` operands, and a loop builds a chain of groups of
//! `FLATTEN_LIMIT + 1` operands: O(n * FLATTEN_LIMIT) time and memory.
//!
//! The trade: a sum of more than `FLATTEN_LIMIT` operands is no longer one
//! canonical flat node whatever the grouping it was built in. Numeric
//! constants fold within one level only (`(big + 1) + 2` keeps both if
//! `big + 1` is kept whole), and two groupings of the same long sum may be
//! different nodes (unequal ids) though they are equal as sums. Small sums
//! (every operand at most `FLATTEN_LIMIT` long) are exactly as before. The
//! rule depends only on each operand's own size, never on operand order, so
//! `add(&[a, b]) == add(&[b, a])` still holds, and building the operands of a
//! built node again gives the same node (pool files rebuild through here).
//! An exact integer zero annihilates a product (`0 * x -> 0`, as in SymPy);
//! a float `0.0` does not, so `0.0 * inf` keeps its IEEE meaning.
//! Float constants fold in the order operands meet; IEEE arithmetic is not
//! associative, so `(a + b) + c` and `a + (b + c)` with float constants may
//! differ in their last bit. Exact constants fold exactly, in any grouping.

use num_bigint::BigInt;
use num_traits::{One, Zero};

use crate::error::{Error, Result};
use crate::node::{ExprId, Func, Kind, Node};
use crate::number::Number;
use crate::pool::{ExprPool, NodeView};

#[derive(Clone, Copy, PartialEq)]
enum Assoc {
    Add,
    Mul,
}

impl ExprPool {
    /// A symbol (free variable). Same name, same id. The name must be
    /// non-empty and at most [`ExprPool::MAX_SYMBOL_BYTES`] bytes long
    /// (else [`Error::InvalidSymbolName`], holding the name shortened).
    pub fn symbol(&self, name: &str) -> Result<ExprId> {
        if name.is_empty() {
            return Err(Error::InvalidSymbolName(name.to_string()));
        }
        if name.len() > Self::MAX_SYMBOL_BYTES {
            let head: String = name.chars().take(32).collect();
            return Err(Error::InvalidSymbolName(format!(
                "{head}... ({} bytes)",
                name.len()
            )));
        }
        self.intern(Node::Symbol(name.into()))
    }

    /// An exact integer.
    pub fn integer(&self, value: impl Into<BigInt>) -> Result<ExprId> {
        self.number(Number::Int(value.into()))
    }

    /// The exact rational `p/q` in lowest terms (an integer when q divides p).
    pub fn rational(&self, p: impl Into<BigInt>, q: impl Into<BigInt>) -> Result<ExprId> {
        let (p, q) = (p.into(), q.into());
        let n = Number::rational(p.clone(), q).ok_or(Error::ZeroDenominator(p.to_string()))?;
        self.number(n)
    }

    /// A float constant.
    pub fn float(&self, value: f64) -> Result<ExprId> {
        self.number(Number::Float(value))
    }

    /// Intern any numeric constant.
    pub fn number(&self, n: Number) -> Result<ExprId> {
        let node = match n.normalize() {
            Number::Int(i) => Node::Integer(i),
            Number::Rat(r) => Node::Rational(r),
            Number::Float(f) => Node::Float(f.to_bits()),
        };
        self.intern(node)
    }

    /// The constant behind `id`, if it is one.
    pub fn as_number(&self, id: ExprId) -> Option<Number> {
        self.view().get(id).and_then(Node::number)
    }

    /// Largest sum (product) that [`ExprPool::add`] ([`ExprPool::mul`])
    /// merges into a new sum (product) when it is given as an operand; a
    /// longer one stays one nested operand. It bounds what one `s + t`
    /// copies, so building an n-term sum term by term costs O(n) steps of at
    /// most `FLATTEN_LIMIT + 1` operands each instead of O(n^2) (see the
    /// module docs for the trade). With 64, a 10^6-term loop leaves about
    /// 35 million child slots (140 MB) beside its 10^6 nodes (32: 20
    /// million, 128: 67 million), while every sum or product of up to 64
    /// operands stays flat, as does a dense polynomial of degree 64.
    pub const FLATTEN_LIMIT: usize = 64;

    /// n-ary sum (`0` for no operands). Sum operands of at most
    /// [`ExprPool::FLATTEN_LIMIT`] terms are merged in; longer ones stay
    /// nested.
    pub fn add(&self, terms: &[ExprId]) -> Result<ExprId> {
        self.assoc(Assoc::Add, terms)
    }

    /// n-ary product (`1` for no operands). Product operands of at most
    /// [`ExprPool::FLATTEN_LIMIT`] factors are merged in; longer ones stay
    /// nested.
    pub fn mul(&self, factors: &[ExprId]) -> Result<ExprId> {
        self.assoc(Assoc::Mul, factors)
    }

    /// `a - b`, stored as `a + (-1)*b`.
    pub fn sub(&self, a: ExprId, b: ExprId) -> Result<ExprId> {
        let nb = self.neg(b)?;
        self.add(&[a, nb])
    }

    /// `-a`, stored as `(-1)*a`.
    pub fn neg(&self, a: ExprId) -> Result<ExprId> {
        let m1 = self.integer(-1)?;
        self.mul(&[m1, a])
    }

    /// `a / b`, stored as `a * b**-1`.
    pub fn div(&self, a: ExprId, b: ExprId) -> Result<ExprId> {
        let m1 = self.integer(-1)?;
        let inv = self.pow(b, m1)?;
        self.mul(&[a, inv])
    }

    /// Whether `id` is a condition (a comparison, `And`, `Or` or `Not`)
    /// rather than a number.
    pub fn is_condition(&self, id: ExprId) -> bool {
        matches!(self.view().get(id), Some(Node::Func(f, _)) if f.returns_bool())
    }

    /// Check that `id` belongs to this pool and is of kind `want`.
    fn check_kind(&self, id: ExprId, want: Kind) -> Result<()> {
        self.check(id)?;
        let is_bool = self.is_condition(id);
        match (want, is_bool) {
            (Kind::Number, true) => Err(Error::ConditionAsNumber(crate::to_string(self, id))),
            (Kind::Bool, false) => Err(Error::NumberAsCondition(crate::to_string(self, id))),
            _ => Ok(()),
        }
    }

    /// `where(cond, a, b)`: `a` where `cond` holds, else `b`, chosen per
    /// point without branching. Equal branches fold to that branch.
    pub fn select(&self, cond: ExprId, a: ExprId, b: ExprId) -> Result<ExprId> {
        self.func(Func::Where, &[cond, a, b])
    }

    /// `piecewise((v1, c1), (v2, c2), ..., otherwise)`: the value of the
    /// first piece whose condition holds, as nested [`ExprPool::select`].
    /// `otherwise` is the value where no condition holds (SymPy's
    /// `(z, True)` piece); `None` makes it NaN, as SymPy's `Piecewise`
    /// without a `True` piece is undefined there.
    pub fn piecewise(
        &self,
        pieces: &[(ExprId, ExprId)],
        otherwise: Option<ExprId>,
    ) -> Result<ExprId> {
        let mut acc = match otherwise {
            Some(z) => {
                self.check_kind(z, Kind::Number)?;
                z
            }
            None => self.float(f64::NAN)?,
        };
        for &(value, cond) in pieces.iter().rev() {
            acc = self.select(cond, value, acc)?;
        }
        Ok(acc)
    }

    /// `base ** exponent`.
    pub fn pow(&self, base: ExprId, exponent: ExprId) -> Result<ExprId> {
        self.check_kind(base, Kind::Number)?;
        self.check_kind(exponent, Kind::Number)?;
        let (nb, ne) = {
            let v = self.view();
            (v.node(base).number(), v.node(exponent).number())
        };
        if let Some(e) = &ne {
            if e.is_exact_one() {
                return Ok(base);
            }
            if e.is_exact_zero() {
                return self.integer(1);
            }
        }
        if let Some(b) = &nb {
            if b.is_exact_one() {
                return self.integer(1);
            }
            if let Some(e) = &ne
                && let Some(folded) = b.pow(e)
            {
                return self.number(folded);
            }
        }
        self.intern(Node::Pow([base, exponent]))
    }

    /// Apply an elementary function.
    pub fn func(&self, f: Func, args: &[ExprId]) -> Result<ExprId> {
        if args.len() != f.arity() {
            return Err(Error::FuncArity {
                func: f.name(),
                expected: f.arity(),
                got: args.len(),
            });
        }
        for (&a, &k) in args.iter().zip(f.info().args) {
            self.check_kind(a, k)?;
        }
        if f == Func::Where && args[1] == args[2] {
            return Ok(args[1]);
        }
        self.intern(Node::Func(f, args.into()))
    }

    fn assoc(&self, kind: Assoc, operands: &[ExprId]) -> Result<ExprId> {
        let identity = || match kind {
            Assoc::Add => Number::Int(BigInt::zero()),
            Assoc::Mul => Number::Int(BigInt::one()),
        };
        let mut bad = None;
        let (coeff, rest) = {
            let v = self.view();
            let mut coeff = identity();
            let mut rest: Vec<ExprId> = Vec::with_capacity(operands.len());
            for &id in operands {
                let node = v.get(id).ok_or(Error::UnknownId(id.0))?;
                if let Node::Func(f, _) = node
                    && f.returns_bool()
                {
                    bad = Some(id);
                    break;
                }
                let flat: &[ExprId] = match (kind, node) {
                    (Assoc::Add, Node::Add(a)) | (Assoc::Mul, Node::Mul(a))
                        if a.len() <= Self::FLATTEN_LIMIT =>
                    {
                        a
                    }
                    _ => std::slice::from_ref(&id),
                };
                for &t in flat {
                    match v.node(t).number() {
                        Some(n) => {
                            coeff = match kind {
                                Assoc::Add => coeff.add(&n),
                                Assoc::Mul => coeff.mul(&n),
                            }
                        }
                        None => rest.push(t),
                    }
                }
            }
            sort_canonical(&v, &mut rest);
            (coeff, rest)
        };
        if let Some(id) = bad {
            return Err(Error::ConditionAsNumber(crate::to_string(self, id)));
        }
        let drop_coeff = match kind {
            Assoc::Add => coeff.is_exact_zero(),
            Assoc::Mul => {
                if coeff.is_exact_zero() {
                    return self.integer(0);
                }
                coeff.is_exact_one()
            }
        };
        let mut ops = Vec::with_capacity(rest.len() + 1);
        if !drop_coeff || rest.is_empty() {
            ops.push(self.number(coeff)?);
        }
        ops.extend(rest);
        if ops.len() == 1 {
            return Ok(ops[0]);
        }
        let ops = ops.into_boxed_slice();
        self.intern(match kind {
            Assoc::Add => Node::Add(ops),
            Assoc::Mul => Node::Mul(ops),
        })
    }
}

fn sort_canonical(v: &NodeView<'_>, ids: &mut [ExprId]) {
    ids.sort_by(|&a, &b| v.order(a, b));
}
