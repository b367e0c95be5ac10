//! What each DAG node becomes in the dialect: recognition of polynomials
//! (`horner`, `poly_eval`) and rational functions (`rational_fn`) in one
//! variable, then liveness so that absorbed sub-expressions are not emitted.

use alkahest_core::{ExprId, ExprPool, Func, Node, NodeView, Number};
use hashbrown::HashMap;
use num_traits::ToPrimitive;

use crate::error::Result;

/// Integer exponents up to this magnitude are square-and-multiply chains
/// (the tape crate's rule, so every backend rounds alike).
pub(crate) const MAX_POWI: u64 = 1 << 31;

/// Largest degree a recognized polynomial may have (dense coefficients).
const MAX_DEGREE: usize = 64;
/// Largest `k` in a recognized denominator factor `P(x)**-k`.
const MAX_DEN_POWER: usize = 8;

/// One summand of a run-time coefficient: `c * f1 * f2 * ...`.
#[derive(Clone, Debug)]
pub(crate) struct Term {
    pub c: Option<f64>,
    pub factors: Vec<ExprId>,
}

/// What one node is emitted as.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    /// Function argument `index`.
    Sym(usize),
    /// An f64 constant.
    Const(f64),
    /// `alkahest.add`.
    Add(Vec<ExprId>),
    /// `alkahest.mul`.
    Mul(Vec<ExprId>),
    /// `alkahest.pow`: an exact exponent (or a non-constant one).
    Pow(ExprId, ExprId),
    /// `math.powf`, libm's `pow`, for a constant exponent that the tape crate
    /// does not rewrite (see [`rewritten_exponent`]): a float (`x**2.0`,
    /// `x**0.5`), another rational, a huge integer. `alkahest.pow` would
    /// turn a constant 2.0 into `x*x` and 0.5 into `sqrt`.
    PowLibm(ExprId, ExprId),
    /// An elementary function (math / arith ops, libm hypot).
    Func(Func, Vec<ExprId>),
    /// `alkahest.horner` (constant coefficients, ascending), plus the
    /// variable-free terms `rest` of the same sum.
    Horner {
        x: ExprId,
        coeffs: Vec<f64>,
        rest: Vec<ExprId>,
    },
    /// `alkahest.poly_eval`: run-time coefficients (each a sum of terms).
    PolyEval { x: ExprId, coeffs: Vec<Vec<Term>> },
    /// `alkahest.rational_fn`.
    Rational {
        x: ExprId,
        num: Vec<f64>,
        den: Vec<f64>,
    },
}

impl Plan {
    /// Nodes whose values this plan consumes.
    pub(crate) fn deps(&self) -> Vec<ExprId> {
        match self {
            Plan::Sym(_) | Plan::Const(_) => vec![],
            Plan::Add(v) | Plan::Mul(v) | Plan::Func(_, v) => v.clone(),
            Plan::Pow(b, e) | Plan::PowLibm(b, e) => vec![*b, *e],
            Plan::Horner { x, rest, .. } => {
                std::iter::once(*x).chain(rest.iter().copied()).collect()
            }
            Plan::Rational { x, .. } => vec![*x],
            Plan::PolyEval { x, coeffs } => {
                let mut v = vec![*x];
                for t in coeffs.iter().flatten() {
                    v.extend_from_slice(&t.factors);
                }
                v
            }
        }
    }
}

/// Plans for the nodes the output needs, in ascending (topological) order.
pub(crate) struct Planned {
    pub order: Vec<(ExprId, Plan)>,
}

/// Whether the tape crate lowers `x**e` for this constant exponent without
/// `pow` (its `pow_number`): an exact integer of magnitude at most
/// [`MAX_POWI`] (a multiplication chain, 1/chain when negative), an exact
/// `±1/2` (`sqrt`, `1/sqrt`) or an exact `p/3` (`cbrt` corrected, the
/// `thirds` recipe). Float exponents (`x**2.0`, `x**0.5`) and
/// every other number stay a `pow` call, whose special values differ:
/// `pow(-inf, 0.5)` is +inf where `sqrt` gives NaN, `pow(1e156, -2.0)` is
/// 1e-312 where `1/(x*x)` gives 0.
pub(crate) fn rewritten_exponent(e: &Number) -> bool {
    match e {
        Number::Int(n) => u64::try_from(n.magnitude()).is_ok_and(|m| m <= MAX_POWI),
        Number::Rat(r) => {
            let half = *r.denom() == 2u32.into() && r.numer().magnitude() == &1u32.into();
            half || alkahest_tape::thirds::third_exponent(r).is_some()
        }
        Number::Float(_) => false,
    }
}

fn small_int(node: &Node) -> Option<i64> {
    match node {
        Node::Integer(i) => i.to_i64(),
        _ => None,
    }
}

struct Planner<'v> {
    v: &'v NodeView<'v>,
    recognize: bool,
    /// Univariate polynomials with constant coefficients, by node.
    polys: HashMap<ExprId, (ExprId, Vec<f64>)>,
}

impl Planner<'_> {
    fn is_symbol(&self, id: ExprId) -> bool {
        matches!(self.v.node(id), Node::Symbol(_))
    }

    /// `u**k` with `u` a symbol and 2 <= k <= MAX_DEGREE.
    fn sym_power(&self, id: ExprId) -> Option<(ExprId, usize)> {
        if let Node::Pow([b, e]) = self.v.node(id) {
            let k = small_int(self.v.node(*e))?;
            if self.is_symbol(*b) && (2..=MAX_DEGREE as i64).contains(&k) {
                return Some((*b, k as usize));
            }
        }
        None
    }

    /// (variable, degree) of a factor that is `u` or `u**k`.
    fn var_factor(&self, id: ExprId) -> Option<(ExprId, usize)> {
        if self.is_symbol(id) {
            Some((id, 1))
        } else {
            self.sym_power(id)
        }
    }

    /// The variable a sum is most polynomial in: the symbol with the
    /// highest power among its terms (smallest id on ties).
    fn main_variable(&self, terms: &[ExprId]) -> Option<ExprId> {
        let mut best: Option<(usize, ExprId)> = None;
        for &t in terms {
            let factors: &[ExprId] = match self.v.node(t) {
                Node::Mul(f) => f,
                _ => std::slice::from_ref(&t),
            };
            for &f in factors {
                if let Some((u, k)) = self.var_factor(f) {
                    let better = match best {
                        None => true,
                        Some((bk, bu)) => k > bk || (k == bk && u < bu),
                    };
                    if better {
                        best = Some((k, u));
                    }
                }
            }
        }
        best.map(|(_, u)| u)
    }

    /// Split a term into (degree in u, constant factor, other factors).
    fn monomial(&self, t: ExprId, u: ExprId) -> (usize, Option<f64>, Vec<ExprId>) {
        if let Some(n) = self.v.node(t).number() {
            return (0, Some(n.to_f64()), vec![]);
        }
        match self.v.node(t) {
            Node::Mul(f) => {
                let mut c = None;
                let mut rest = f.as_ref();
                if let Some(n) = self.v.node(f[0]).number() {
                    c = Some(n.to_f64());
                    rest = &f[1..];
                }
                let mut deg = 0;
                let mut others = Vec::new();
                for &g in rest {
                    match self.var_factor(g) {
                        Some((w, k)) if w == u => deg += k,
                        _ => others.push(g),
                    }
                }
                (deg, c, others)
            }
            _ => match self.var_factor(t) {
                Some((w, k)) if w == u => (k, None, vec![]),
                _ => (0, None, vec![t]),
            },
        }
    }

    fn plan_add(&mut self, id: ExprId, terms: &[ExprId]) -> Plan {
        let generic = Plan::Add(terms.to_vec());
        let Some(u) = self.main_variable(terms) else {
            return generic;
        };
        let mut coeffs: Vec<Vec<Term>> = Vec::new();
        let mut with_u = 0;
        let mut free = Vec::new();
        for &t in terms {
            let (deg, c, factors) = self.monomial(t, u);
            if deg == 0 && !factors.is_empty() {
                free.push(t);
            }
            if deg > MAX_DEGREE {
                return generic;
            }
            if deg > 0 {
                with_u += 1;
            }
            if coeffs.len() <= deg {
                coeffs.resize(deg + 1, Vec::new());
            }
            coeffs[deg].push(Term { c, factors });
        }
        let degree = coeffs.len() - 1;
        // Constant coefficients in every term with the variable: Horner,
        // with variable-free terms added afterwards.
        let constant = coeffs[1..]
            .iter()
            .all(|ts| ts.iter().all(|t| t.factors.is_empty()));
        if constant {
            let rest = free;
            let mut dense = vec![0.0; degree + 1];
            for (d, ts) in coeffs.iter().enumerate() {
                for t in ts.iter().filter(|t| t.factors.is_empty()) {
                    dense[d] += t.c.unwrap_or(1.0);
                }
            }
            let nonzero = dense.iter().filter(|&&c| c != 0.0).count();
            // Horner form multiplies every coefficient by the variable,
            // zeros too: an infinite one would meet `0 * inf`.
            let finite = dense.iter().all(|c| c.is_finite());
            if degree >= 1 && nonzero >= 2 && finite {
                if rest.is_empty() {
                    self.polys.insert(id, (u, dense.clone()));
                }
                return Plan::Horner {
                    x: u,
                    coeffs: dense,
                    rest,
                };
            }
            return generic;
        }
        if degree >= 2 && with_u >= 2 {
            return Plan::PolyEval { x: u, coeffs };
        }
        generic
    }

    /// A factor as a constant-coefficient polynomial: a recognized sum,
    /// the variable itself or a power of it.
    fn poly_of(&self, id: ExprId) -> Option<(ExprId, Vec<f64>)> {
        if let Some(p) = self.polys.get(&id) {
            return Some(p.clone());
        }
        let (u, k) = self.var_factor(id)?;
        let mut c = vec![0.0; k + 1];
        c[k] = 1.0;
        Some((u, c))
    }

    /// `c * x^a * P * x^-b * Q**-1` as one rational function: at most one
    /// polynomial of two or more terms above and one below the line, each
    /// used as written. Products and powers of such polynomials are not
    /// expanded: the expanded coefficients of `(x + 1/3)**6` evaluated near
    /// `x = -1/3` cancel (a 2e-5 relative error where the written form is
    /// exact to an ulp). Monomial factors only shift coefficients, exactly.
    fn plan_rational(&self, coeff: f64, factors: &[ExprId]) -> Option<Plan> {
        // An infinite or NaN coefficient meets the zero coefficients of the
        // other factors in the products below (`-inf * (0 + y)` gives a NaN
        // constant term where `-inf * y` has none): kept as written.
        if !coeff.is_finite() {
            return None;
        }
        let mut x = None;
        let mut num = vec![coeff];
        let mut den = vec![1.0];
        let mut same = |u: ExprId| *x.get_or_insert(u) == u;
        let dense = |p: &[f64]| p.iter().filter(|&&c| c != 0.0).count() >= 2;
        let (mut dense_num, mut dense_den) = (0, 0);
        for &f in factors {
            if let Node::Pow([b, e]) = self.v.node(f)
                && let Some(k) = small_int(self.v.node(*e)).filter(|&k| k < 0)
            {
                let k = k.unsigned_abs() as usize;
                let (u, q) = self.poly_of(*b)?;
                if k > MAX_DEN_POWER || !same(u) {
                    return None;
                }
                if dense(&q) {
                    dense_den += 1;
                    if k > 1 || dense_den > 1 {
                        return None;
                    }
                }
                for _ in 0..k {
                    den = poly_mul(&den, &q);
                }
                continue;
            }
            let (u, p) = self.poly_of(f)?;
            if dense(&p) {
                dense_num += 1;
                if dense_num > 1 {
                    return None;
                }
            }
            if !same(u) {
                return None;
            }
            num = poly_mul(&num, &p);
        }
        let nz = |p: &[f64]| p.iter().filter(|&&c| c != 0.0).count();
        let useful = den.len() > 1 && (nz(&den) >= 2 || nz(&num) >= 2);
        if !useful || num.len() > MAX_DEGREE + 1 || den.len() > MAX_DEGREE + 1 {
            return None;
        }
        Some(Plan::Rational { x: x?, num, den })
    }

    fn plan(&mut self, id: ExprId, args: &HashMap<ExprId, usize>) -> Result<Plan> {
        let node = self.v.node(id);
        if let Some(n) = node.number() {
            return Ok(Plan::Const(n.to_f64()));
        }
        Ok(match node {
            Node::Symbol(name) => Plan::Sym(*args.get(&id).ok_or_else(|| {
                crate::error::Error::Kernel(alkahest_tape::Error::UnboundSymbol(name.to_string()))
            })?),
            Node::Add(terms) if self.recognize => self.plan_add(id, terms),
            Node::Add(terms) => Plan::Add(terms.to_vec()),
            Node::Mul(f) => {
                let rational = if self.recognize {
                    match self.v.node(f[0]).number() {
                        Some(c) => self.plan_rational(c.to_f64(), &f[1..]),
                        None => self.plan_rational(1.0, f),
                    }
                } else {
                    None
                };
                rational.unwrap_or_else(|| Plan::Mul(f.to_vec()))
            }
            Node::Pow([b, e])
                if self
                    .v
                    .node(*e)
                    .number()
                    .is_some_and(|n| !rewritten_exponent(&n)) =>
            {
                Plan::PowLibm(*b, *e)
            }
            Node::Pow([b, e]) => {
                let rational =
                    if self.recognize && small_int(self.v.node(*e)).is_some_and(|k| k < 0) {
                        self.plan_rational(1.0, &[id])
                    } else {
                        None
                    };
                rational.unwrap_or(Plan::Pow(*b, *e))
            }
            Node::Func(f, a) => Plan::Func(*f, a.to_vec()),
            Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
                unreachable!("numbers handled above")
            }
        })
    }
}

/// Dense polynomial product.
pub(crate) fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Validate `vars` (distinct symbols) and return each one's argument index.
pub(crate) fn arguments(pool: &ExprPool, vars: &[ExprId]) -> Result<HashMap<ExprId, usize>> {
    let v = pool.view();
    let mut args = HashMap::with_capacity(vars.len());
    for (index, &var) in vars.iter().enumerate() {
        match v.get(var) {
            Some(Node::Symbol(name)) => {
                if args.insert(var, index).is_some() {
                    return Err(alkahest_tape::Error::DuplicateVar(name.to_string()).into());
                }
            }
            Some(_) => {
                return Err(alkahest_tape::Error::NotASymbol {
                    index,
                    text: alkahest_core::to_string(pool, var),
                }
                .into());
            }
            None => return Err(alkahest_core::Error::UnknownId(var.0).into()),
        }
    }
    Ok(args)
}

/// Plan every node the outputs `exprs` need; `recognize` turns polynomial
/// and rational-function recognition on. An output that is a condition
/// (a comparison, `And`, ...) is an error, as in the tape crate.
pub(crate) fn plan(
    pool: &ExprPool,
    exprs: &[ExprId],
    vars: &[ExprId],
    recognize: bool,
) -> Result<Planned> {
    for &e in exprs {
        pool.check(e)?;
        if pool.is_condition(e) {
            return Err(
                alkahest_core::Error::ConditionAsNumber(alkahest_core::to_string(pool, e)).into(),
            );
        }
    }
    if exprs.is_empty() {
        return Err(crate::error::Error::InvalidArgument(
            "no outputs: give at least one expression".into(),
        ));
    }
    let args = arguments(pool, vars)?;
    let v = pool.view();
    let order = v.reachable(exprs);
    let mut p = Planner {
        v: &v,
        recognize,
        polys: HashMap::new(),
    };
    let mut plans: HashMap<ExprId, Plan> = HashMap::with_capacity(order.len());
    for &id in &order {
        let plan = p.plan(id, &args)?;
        plans.insert(id, plan);
    }
    // Liveness from the outputs: recognized sums and products absorb their
    // sub-terms, which then need no op of their own.
    let mut live = hashbrown::HashSet::with_capacity(order.len());
    let mut stack = exprs.to_vec();
    while let Some(id) = stack.pop() {
        if live.insert(id) {
            stack.extend(plans[&id].deps());
        }
    }
    let order = order
        .into_iter()
        .filter(|id| live.contains(id))
        .map(|id| {
            let plan = plans.remove(&id).expect("planned");
            (id, plan)
        })
        .collect();
    Ok(Planned { order })
}
