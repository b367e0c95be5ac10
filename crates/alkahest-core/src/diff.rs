//! Symbolic differentiation: derivatives, gradients, Jacobians and Hessians.
//!
//! Forward mode over the DAG. Children have smaller ids than their parents,
//! so one loop over the reachable nodes in ascending id order visits every
//! operand before its users; a memo maps each node to its derivative. There
//! is no recursion, so 100,000-deep chains cannot overflow the stack.
//!
//! A node that does not depend on the variable has derivative exact `0`; the
//! builders fold `0 * a -> 0` and `a + 0 -> a`, and no rule builds a term for
//! an operand whose derivative is zero, so results stay sparse. Every result
//! is built with the canonical builders, so it is hash-consed into the same
//! pool and shares nodes with the differentiated expression.
//!
//! The chain rule through a node with exactly one dependent operand is
//! deferred: the memo records "`factor` times the derivative of `inner`" and
//! the product is built once, when a sum, a `where` or a root needs it.
//! Products are flat, so building `cos(sin(x)) * cos(x)`, then
//! `cos(sin(sin(x))) * cos(sin(x)) * cos(x)`, ... level by level would cost
//! O(n^2) for `sin(sin(...x))`; deferred, it is one n-factor product.
//!
//! The condition of a `where` is never differentiated (a derivative of a
//! piecewise expression is piecewise with the same conditions), and neither
//! is anything that only a condition uses.

use std::f64::consts::{FRAC_2_SQRT_PI, LN_2, LOG2_E, LOG10_E};

use hashbrown::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::node::{ExprId, Func, Node};
use crate::pool::ExprPool;

/// Derivative of one node with respect to the current variable, as memoized.
#[derive(Clone, Copy)]
enum Deriv {
    /// Exact zero: the node does not depend on the variable, or its
    /// derivative vanishes identically (`floor`, `sign`, ...).
    Zero,
    /// A built expression (never the exact zero).
    Expr(ExprId),
    /// `factor * d(inner)`, not built yet (see the module docs).
    Chain { factor: ExprId, inner: ExprId },
}

/// One differentiation pass: a variable and the memo shared by its roots.
pub(crate) struct Pass<'p> {
    pool: &'p ExprPool,
    var: ExprId,
    zero: ExprId,
    one: ExprId,
    memo: HashMap<ExprId, Deriv>,
}

impl ExprPool {
    /// The first derivative of `expr` with respect to the symbol `var`.
    ///
    /// Fails with [`Error::NotASymbol`] when `var` is not a symbol, with
    /// [`Error::ConditionAsNumber`] when `expr` is a condition, and with
    /// [`Error::NotImplemented`] for `trigamma` of an argument that depends
    /// on `var` (its derivative is `polygamma(2, x)`, which is not provided).
    pub fn diff(&self, expr: ExprId, var: ExprId) -> Result<ExprId> {
        Ok(self.diff_roots(&[expr], var)?[0])
    }

    /// The `n`-th derivative of `expr` with respect to `var` (`expr` itself
    /// for `n = 0`; the arguments are checked as in [`ExprPool::diff`] even
    /// then). Stops early once a derivative is exactly zero.
    pub fn diff_n(&self, expr: ExprId, var: ExprId, n: usize) -> Result<ExprId> {
        self.check_var(var)?;
        self.check_root(expr)?;
        let zero = self.integer(0)?;
        let mut e = expr;
        for _ in 0..n {
            if e == zero {
                break;
            }
            e = self.diff(e, var)?;
        }
        Ok(e)
    }

    /// The gradient of `expr`: its derivative with respect to each of `vars`,
    /// in order.
    pub fn grad(&self, expr: ExprId, vars: &[ExprId]) -> Result<Vec<ExprId>> {
        let mut rows = self.jacobian(&[expr], vars)?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// The Jacobian of `exprs`: row `i` is the gradient of `exprs[i]`.
    ///
    /// One pass per variable differentiates all rows with one memo, so
    /// subexpressions shared between rows are differentiated once.
    pub fn jacobian(&self, exprs: &[ExprId], vars: &[ExprId]) -> Result<Vec<Vec<ExprId>>> {
        for &v in vars {
            self.check_var(v)?;
        }
        for &e in exprs {
            self.check_root(e)?;
        }
        let mut rows = vec![Vec::with_capacity(vars.len()); exprs.len()];
        for &v in vars {
            let column = self.diff_roots(exprs, v)?;
            for (row, d) in rows.iter_mut().zip(column) {
                row.push(d);
            }
        }
        Ok(rows)
    }

    /// The Hessian of `expr`: `H[i][j]` is the derivative of the `i`-th
    /// gradient component with respect to `vars[j]`. The gradient is computed
    /// once and then differentiated as a Jacobian (shared memo per variable).
    /// Both triangles are computed, so `H[i][j]` and `H[j][i]` are equal
    /// mathematically, though not necessarily the same id.
    pub fn hessian(&self, expr: ExprId, vars: &[ExprId]) -> Result<Vec<Vec<ExprId>>> {
        let g = self.grad(expr, vars)?;
        self.jacobian(&g, vars)
    }

    /// Fail unless `var` is a symbol of this pool.
    fn check_var(&self, var: ExprId) -> Result<()> {
        match self.node(var)? {
            Node::Symbol(_) => Ok(()),
            _ => Err(Error::NotASymbol(crate::to_string(self, var))),
        }
    }

    /// Fail unless `expr` is a number-valued expression of this pool.
    fn check_root(&self, expr: ExprId) -> Result<()> {
        self.check(expr)?;
        if self.is_condition(expr) {
            return Err(Error::ConditionAsNumber(crate::to_string(self, expr)));
        }
        Ok(())
    }

    /// The derivatives of every root with respect to `var`, sharing one memo.
    fn diff_roots(&self, roots: &[ExprId], var: ExprId) -> Result<Vec<ExprId>> {
        self.check_var(var)?;
        for &r in roots {
            self.check_root(r)?;
        }
        let nodes = self.numeric_dependencies(roots);
        let mut pass = Pass {
            pool: self,
            var,
            zero: self.integer(0)?,
            one: self.integer(1)?,
            memo: HashMap::with_capacity(nodes.len()),
        };
        for (id, node) in &nodes {
            let d = pass.node_deriv(*id, node)?;
            pass.memo.insert(*id, d);
        }
        roots.iter().map(|&r| pass.materialize(r)).collect()
    }

    /// Every node whose derivative the roots need, with a copy of the node,
    /// in ascending id order. The condition of a `where` is not followed.
    fn numeric_dependencies(&self, roots: &[ExprId]) -> Vec<(ExprId, Node)> {
        let v = self.view();
        let mut seen: HashSet<ExprId> = HashSet::new();
        let mut stack: Vec<ExprId> = roots.to_vec();
        let mut out = Vec::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let node = v.node(id);
            let children = match node {
                Node::Func(Func::Where, args) => &args[1..],
                n => n.children(),
            };
            stack.extend_from_slice(children);
            out.push((id, node.clone()));
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }
}

impl Pass<'_> {
    fn deriv(&self, id: ExprId) -> Deriv {
        self.memo.get(&id).copied().unwrap_or(Deriv::Zero)
    }

    fn wrap(&self, e: ExprId) -> Deriv {
        if e == self.zero {
            Deriv::Zero
        } else {
            Deriv::Expr(e)
        }
    }

    /// The derivative `factor * d(inner)`, deferred when that saves work.
    fn chain(&self, factor: ExprId, inner: ExprId) -> Deriv {
        if factor == self.zero {
            return Deriv::Zero;
        }
        match self.deriv(inner) {
            Deriv::Zero => Deriv::Zero,
            d if factor == self.one => d,
            Deriv::Expr(e) if e == self.one => Deriv::Expr(factor),
            _ => Deriv::Chain { factor, inner },
        }
    }

    /// Build the derivative of `id` (one flat product for a deferred chain)
    /// and remember it.
    fn materialize(&mut self, id: ExprId) -> Result<ExprId> {
        let mut factors = Vec::new();
        let mut cur = id;
        let base = loop {
            match self.deriv(cur) {
                Deriv::Zero => break self.zero,
                Deriv::Expr(e) => break e,
                Deriv::Chain { factor, inner } => {
                    factors.push(factor);
                    cur = inner;
                }
            }
        };
        if factors.is_empty() {
            return Ok(base);
        }
        factors.push(base);
        let e = self.pool.mul(&factors)?;
        self.memo.insert(id, self.wrap(e));
        Ok(e)
    }

    /// The derivative of one node, given those of its operands.
    fn node_deriv(&mut self, id: ExprId, node: &Node) -> Result<Deriv> {
        let args = match node {
            Node::Symbol(_) => {
                return Ok(if id == self.var {
                    Deriv::Expr(self.one)
                } else {
                    Deriv::Zero
                });
            }
            Node::Integer(_) | Node::Rational(_) | Node::Float(_) => return Ok(Deriv::Zero),
            n => n.children(),
        };
        // The condition of a `where` is not differentiated.
        let first = usize::from(matches!(node, Node::Func(Func::Where, _)));
        let dependent: Vec<usize> = (first..args.len())
            .filter(|&i| !matches!(self.deriv(args[i]), Deriv::Zero))
            .collect();
        if dependent.is_empty() {
            return Ok(Deriv::Zero);
        }
        let mut d = vec![self.zero; args.len()];
        // Every rule except the selections is linear in the operands'
        // derivatives, so with one dependent operand the rule evaluated at
        // derivative 1 is the factor of the chain rule. A selection keeps its
        // branches apart: `where(c, 1, 0) * a'` would turn a NaN or infinite
        // `a'` on the unselected side into NaN.
        let selection = matches!(node, Node::Func(Func::Where | Func::Min | Func::Max, _));
        if let [i] = dependent[..]
            && !selection
        {
            d[i] = self.one;
            let factor = self.rule(id, node, &d)?;
            return Ok(self.chain(factor, args[i]));
        }
        for &i in &dependent {
            d[i] = self.materialize(args[i])?;
        }
        let e = self.rule(id, node, &d)?;
        Ok(self.wrap(e))
    }

    /// The derivative of `node` (whose id is `id`) given the derivatives `d`
    /// of its operands, in operand order (exact zero for independent ones).
    fn rule(&self, id: ExprId, node: &Node, d: &[ExprId]) -> Result<ExprId> {
        let p = self.pool;
        match node {
            Node::Add(_) => {
                let terms: Vec<ExprId> = d.iter().copied().filter(|&t| t != self.zero).collect();
                p.add(&terms)
            }
            Node::Mul(factors) => {
                let mut terms = Vec::new();
                for (i, &di) in d.iter().enumerate() {
                    if di == self.zero {
                        continue;
                    }
                    let mut prod = Vec::with_capacity(factors.len());
                    prod.push(di);
                    prod.extend(
                        factors
                            .iter()
                            .enumerate()
                            .filter(|&(j, _)| j != i)
                            .map(|(_, &f)| f),
                    );
                    terms.push(p.mul(&prod)?);
                }
                p.add(&terms)
            }
            Node::Pow([b, e]) => self.pow_rule(id, *b, *e, d[0], d[1]),
            Node::Func(f, args) => self.func_rule(*f, id, args, d),
            Node::Symbol(_) | Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
                Ok(self.zero)
            }
        }
    }

    /// `(b**e)' = e*b**(e-1)*b'` for an exponent free of the variable,
    /// `b**e*log(b)*e'` for a base free of it, else
    /// `b**e*(e'*log(b) + e*b'/b)`.
    fn pow_rule(&self, id: ExprId, b: ExprId, e: ExprId, db: ExprId, de: ExprId) -> Result<ExprId> {
        let p = self.pool;
        if de == self.zero {
            let m1 = p.integer(-1)?;
            let em1 = p.add(&[e, m1])?;
            let bp = p.pow(b, em1)?;
            return p.mul(&[e, bp, db]);
        }
        let log_b = p.func(Func::Log, &[b])?;
        if db == self.zero {
            return p.mul(&[id, log_b, de]);
        }
        let t1 = p.mul(&[de, log_b])?;
        let t2 = p.mul(&[e, db, self.recip(b)?])?;
        let s = p.add(&[t1, t2])?;
        p.mul(&[id, s])
    }

    fn recip(&self, a: ExprId) -> Result<ExprId> {
        let m1 = self.pool.integer(-1)?;
        self.pool.pow(a, m1)
    }

    fn square(&self, a: ExprId) -> Result<ExprId> {
        let two = self.pool.integer(2)?;
        self.pool.pow(a, two)
    }

    fn f1(&self, f: Func, a: ExprId) -> Result<ExprId> {
        self.pool.func(f, &[a])
    }

    /// `1/sqrt(s)`.
    fn rsqrt(&self, s: ExprId) -> Result<ExprId> {
        let r = self.f1(Func::Sqrt, s)?;
        self.recip(r)
    }

    /// `trunc(q)`, which has no function of its own:
    /// `where(q < 0, ceiling(q), floor(q))`.
    fn trunc(&self, q: ExprId) -> Result<ExprId> {
        let p = self.pool;
        let zero = self.zero;
        let neg = p.func(Func::Lt, &[q, zero])?;
        let c = self.f1(Func::Ceil, q)?;
        let fl = self.f1(Func::Floor, q)?;
        p.select(neg, c, fl)
    }

    /// The derivative of `f(a...)` (whose id is `id`) given the derivatives
    /// `d` of its arguments: the function's rule from the core's table
    /// (`FuncInfo::derivative`, written in [`rules`]).
    fn func_rule(&self, f: Func, id: ExprId, a: &[ExprId], d: &[ExprId]) -> Result<ExprId> {
        (f.info().derivative)(self, &Call { f, id, a, d })
    }
}

/// What a derivative rule is given: the function, the node's id (rules may
/// reuse the node itself: `exp(u)' = exp(u) u'`), its arguments and their
/// derivatives (the exact zero for arguments free of the variable).
pub(crate) struct Call<'a> {
    pub(crate) f: Func,
    pub(crate) id: ExprId,
    pub(crate) a: &'a [ExprId],
    pub(crate) d: &'a [ExprId],
}

/// A function's derivative rule: the `derivative` column of the core's
/// function table.
pub(crate) type Rule = fn(&Pass<'_>, &Call<'_>) -> Result<ExprId>;

/// The derivative rules, one per function (shared where two functions
/// differ by a sign or a constant); the core's table names them.
pub(crate) mod rules {
    use super::*;

    fn int(c: &Pass<'_>, n: i64) -> Result<ExprId> {
        c.pool.integer(n)
    }

    pub(crate) fn sin(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Cos, c.a[0])?, c.d[0]])
    }

    pub(crate) fn cos(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[int(r, -1)?, r.f1(Func::Sin, c.a[0])?, c.d[0]])
    }

    /// `1 + tan(u)**2` reuses the node itself.
    pub(crate) fn tan(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.add(&[int(r, 1)?, r.square(c.id)?])?;
        r.pool.mul(&[s, c.d[0]])
    }

    /// `asin' = 1/sqrt(1 - u**2)`, `acos'` its negative.
    pub(crate) fn asin_acos(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.sub(int(r, 1)?, r.square(c.a[0])?)?;
        let sign = int(r, if c.f == Func::Asin { 1 } else { -1 })?;
        r.pool.mul(&[sign, c.d[0], r.rsqrt(s)?])
    }

    pub(crate) fn atan(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.add(&[int(r, 1)?, r.square(c.a[0])?])?;
        r.pool.mul(&[c.d[0], r.recip(s)?])
    }

    /// `atan2(y, x)' = (x*y' - y*x') / (x**2 + y**2)`.
    pub(crate) fn atan2(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let p = r.pool;
        let (y, x, dy, dx) = (c.a[0], c.a[1], c.d[0], c.d[1]);
        let num = p.sub(p.mul(&[x, dy])?, p.mul(&[y, dx])?)?;
        let den = p.add(&[r.square(x)?, r.square(y)?])?;
        p.mul(&[num, r.recip(den)?])
    }

    pub(crate) fn sinh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Cosh, c.a[0])?, c.d[0]])
    }

    pub(crate) fn cosh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Sinh, c.a[0])?, c.d[0]])
    }

    /// `1 - tanh(u)**2`, reusing the node.
    pub(crate) fn tanh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.sub(int(r, 1)?, r.square(c.id)?)?;
        r.pool.mul(&[s, c.d[0]])
    }

    pub(crate) fn exp(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[c.id, c.d[0]])
    }

    pub(crate) fn log(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[c.d[0], r.recip(c.a[0])?])
    }

    /// `sqrt(u)' = u' / (2*sqrt(u))`, reusing the node.
    pub(crate) fn sqrt(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool
            .mul(&[r.pool.rational(1, 2)?, c.d[0], r.recip(c.id)?])
    }

    pub(crate) fn abs(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Sign, c.a[0])?, c.d[0]])
    }

    pub(crate) fn log1p(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.add(&[int(r, 1)?, c.a[0]])?;
        r.pool.mul(&[c.d[0], r.recip(s)?])
    }

    pub(crate) fn expm1(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Exp, c.a[0])?, c.d[0]])
    }

    /// `hypot(a, b)' = (a*a' + b*b') / hypot(a, b)`.
    pub(crate) fn hypot(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let p = r.pool;
        let num = p.add(&[p.mul(&[c.a[0], c.d[0]])?, p.mul(&[c.a[1], c.d[1]])?])?;
        p.mul(&[num, r.recip(c.id)?])
    }

    pub(crate) fn fma(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let p = r.pool;
        let t1 = p.mul(&[c.d[0], c.a[1]])?;
        let t2 = p.mul(&[c.a[0], c.d[1]])?;
        p.add(&[t1, t2, c.d[2]])
    }

    /// The derivative of the selected argument (piecewise, with the
    /// selection's own condition).
    pub(crate) fn min_max(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let cmp = if c.f == Func::Min { Func::Le } else { Func::Ge };
        let cond = r.pool.func(cmp, &[c.a[0], c.a[1]])?;
        r.pool.select(cond, c.d[0], c.d[1])
    }

    pub(crate) fn asinh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.add(&[r.square(c.a[0])?, int(r, 1)?])?;
        r.pool.mul(&[c.d[0], r.rsqrt(s)?])
    }

    pub(crate) fn acosh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.add(&[r.square(c.a[0])?, int(r, -1)?])?;
        r.pool.mul(&[c.d[0], r.rsqrt(s)?])
    }

    pub(crate) fn atanh(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.pool.sub(int(r, 1)?, r.square(c.a[0])?)?;
        r.pool.mul(&[c.d[0], r.recip(s)?])
    }

    /// `cbrt(u)' = u' / (3*cbrt(u)**2)`, reusing the node.
    pub(crate) fn cbrt(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let p = r.pool;
        p.mul(&[p.rational(1, 3)?, c.d[0], p.pow(c.id, int(r, -2)?)?])
    }

    pub(crate) fn exp2(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.pool.float(LN_2)?, c.id, c.d[0]])
    }

    pub(crate) fn log2(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool
            .mul(&[r.pool.float(LOG2_E)?, c.d[0], r.recip(c.a[0])?])
    }

    pub(crate) fn log10(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool
            .mul(&[r.pool.float(LOG10_E)?, c.d[0], r.recip(c.a[0])?])
    }

    /// `erf(u)' = 2/sqrt(pi) * exp(-u**2) * u'`, `erfc'` the negative.
    pub(crate) fn erf_erfc(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let p = r.pool;
        let k = if c.f == Func::Erf {
            FRAC_2_SQRT_PI
        } else {
            -FRAC_2_SQRT_PI
        };
        let e = r.f1(Func::Exp, p.neg(r.square(c.a[0])?)?)?;
        p.mul(&[p.float(k)?, e, c.d[0]])
    }

    /// `gamma(u)' = gamma(u) * digamma(u) * u'`, reusing the node.
    pub(crate) fn gamma(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[c.id, r.f1(Func::Digamma, c.a[0])?, c.d[0]])
    }

    /// `loggamma(u)' = digamma(u) * u'` (log|gamma| where gamma < 0 too).
    pub(crate) fn loggamma(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Digamma, c.a[0])?, c.d[0]])
    }

    pub(crate) fn digamma(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.mul(&[r.f1(Func::Trigamma, c.a[0])?, c.d[0]])
    }

    pub(crate) fn trigamma(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        Err(Error::NotImplemented(format!(
            "cannot differentiate {}: the derivative of trigamma is polygamma(2, x), which Alkahest does not provide",
            crate::to_string(r.pool, c.id)
        )))
    }

    /// Piecewise constant: zero wherever the derivative exists.
    pub(crate) fn zero(r: &Pass<'_>, _: &Call<'_>) -> Result<ExprId> {
        Ok(r.zero)
    }

    /// `copysign(a, b) = |a|*sgn(b)`: `sign(a)*copysign(1, b)*a'`.
    pub(crate) fn copysign(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        let s = r.f1(Func::Sign, c.a[0])?;
        let one_b = r.pool.func(Func::Copysign, &[int(r, 1)?, c.a[1]])?;
        r.pool.mul(&[s, one_b, c.d[0]])
    }

    /// `fmod(a, b) = a - b*trunc(a/b)`; `Mod(a, b) = a - b*floor(a/b)`.
    pub(crate) fn fmod_mod(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        if c.d[1] == r.zero {
            return Ok(c.d[0]);
        }
        let p = r.pool;
        let q = p.div(c.a[0], c.a[1])?;
        let n = if c.f == Func::Fmod {
            r.trunc(q)?
        } else {
            r.f1(Func::Floor, q)?
        };
        p.sub(c.d[0], p.mul(&[c.d[1], n])?)
    }

    /// `where(c, a, b)' = where(c, a', b')`: the condition is not
    /// differentiated.
    pub(crate) fn select(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        r.pool.select(c.a[0], c.d[1], c.d[2])
    }

    /// Comparisons and connectives are conditions, not numbers.
    pub(crate) fn condition(r: &Pass<'_>, c: &Call<'_>) -> Result<ExprId> {
        Err(Error::ConditionAsNumber(crate::to_string(r.pool, c.id)))
    }
}
