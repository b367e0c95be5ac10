//! DAG -> tape lowering.

use alkahest_core::{
    ExprId, ExprPool, Func, Node, NodeView, Number, Written, WrittenOp, WrittenView,
};
use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::special::{Emit, Special};
use crate::tape::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};

/// Integer exponents up to this magnitude become multiplication chains
/// (at most ~62 multiplies); larger ones use `powf`.
pub(crate) const MAX_POWI: u64 = 1 << 31;

/// Value-numbering key: ops with equal keys compute equal values.
#[derive(PartialEq, Eq, Hash)]
struct Key(u8, u64, u32, u32, u32);

fn key(op: &Op) -> Key {
    match *op {
        Op::Input(i) => Key(0, i as u64, 0, 0, 0),
        Op::Const(c) => Key(1, c.to_bits(), 0, 0, 0),
        Op::Neg(a) => Key(2, 0, a, 0, 0),
        Op::Add(a, b) => Key(3, 0, a.min(b), a.max(b), 0),
        Op::Sub(a, b) => Key(4, 0, a, b, 0),
        Op::Mul(a, b) => Key(5, 0, a.min(b), a.max(b), 0),
        Op::Div(a, b) => Key(6, 0, a, b, 0),
        Op::Unary(f, a) => Key(7, f as u64, a, 0, 0),
        Op::Binary(f, a, b) => Key(8, f as u64, a, b, 0),
        Op::Fma(a, b, c) => Key(9, 0, a, b, c),
        Op::Cmp(k, a, b) => Key(10, k as u64, a, b, 0),
        Op::Select(c, a, b) => Key(11, 0, c, a, b),
    }
}

struct Builder {
    ops: Vec<Op>,
    vn: HashMap<Key, Reg>,
}

impl Builder {
    fn push(&mut self, op: Op) -> Reg {
        let k = key(&op);
        if let Some(&r) = self.vn.get(&k) {
            return r;
        }
        let r = self.ops.len() as Reg;
        self.ops.push(op);
        self.vn.insert(k, r);
        r
    }

    fn konst(&mut self, c: f64) -> Reg {
        self.push(Op::Const(c))
    }

    /// `b ** n` for n > 0 (`special::powi`'s order).
    fn powi(&mut self, b: Reg, n: u64) -> Reg {
        let Ok(r) = crate::special::powi(self, b, n);
        r
    }

    fn product(&mut self, regs: &[Reg]) -> Option<Reg> {
        let mut it = regs.iter().copied();
        let first = it.next()?;
        Some(it.fold(first, |acc, r| self.push(Op::Mul(acc, r))))
    }
}

/// The special-function recipes emit straight into the tape (value
/// numbering shares their constants and any repeated operation).
impl Emit for Builder {
    type V = Reg;
    type Err = std::convert::Infallible;
    fn konst(&mut self, c: f64) -> std::result::Result<Reg, Self::Err> {
        Ok(Builder::konst(self, c))
    }
    fn add(&mut self, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Add(a, b)))
    }
    fn sub(&mut self, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Sub(a, b)))
    }
    fn mul(&mut self, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Mul(a, b)))
    }
    fn div(&mut self, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Div(a, b)))
    }
    fn unary(&mut self, f: UnaryFn, a: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Unary(f, a)))
    }
    fn binary(&mut self, f: BinaryFn, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Binary(f, a, b)))
    }
    fn cmp(&mut self, k: CmpOp, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Cmp(k, a, b)))
    }
    fn select(&mut self, c: Reg, a: Reg, b: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Select(c, a, b)))
    }
    fn neg(&mut self, a: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Neg(a)))
    }
    fn fma(&mut self, a: Reg, b: Reg, c: Reg) -> std::result::Result<Reg, Self::Err> {
        Ok(self.push(Op::Fma(a, b, c)))
    }
}

struct Lowering<'a> {
    v: NodeView<'a>,
    b: Builder,
    regs: HashMap<ExprId, Reg>,
}

impl Lowering<'_> {
    fn reg(&self, id: ExprId) -> Reg {
        self.regs[&id]
    }

    /// `base ** e` for a numeric exponent.
    fn pow_number(&mut self, base: Reg, e: &Number) -> Reg {
        if let Number::Int(n) = e {
            let mag = n.magnitude();
            if let Some(m) = u64::try_from(mag).ok().filter(|&m| m <= MAX_POWI) {
                if m == 0 {
                    return self.b.konst(1.0);
                }
                let p = self.b.powi(base, m);
                return if e.is_negative() {
                    let one = self.b.konst(1.0);
                    self.b.push(Op::Div(one, p))
                } else {
                    p
                };
            }
        }
        if let Number::Rat(r) = e
            && *r.denom() == 2u32.into()
            && (*r.numer() == 1.into() || *r.numer() == (-1).into())
        {
            let s = self.b.push(Op::Unary(UnaryFn::Sqrt, base));
            return if e.is_negative() {
                let one = self.b.konst(1.0);
                self.b.push(Op::Div(one, s))
            } else {
                s
            };
        }
        if let Number::Rat(r) = e
            && let Some((p, negative)) = crate::thirds::third_exponent(r)
        {
            let Ok(r) = crate::thirds::third_power(&mut self.b, base, p, negative);
            return r;
        }
        let c = self.b.konst(e.to_f64());
        self.b.push(Op::Binary(BinaryFn::Pow, base, c))
    }

    /// A product given as optional coefficient and factors. Factors with a
    /// negative exact exponent go to the denominator, so `a/b` is one
    /// division rather than a reciprocal and a multiply. A float exponent
    /// (`x**-2.0`, written as a power) stays a `pow` factor: `0.5 *
    /// x**-2.0` as `0.5 / x**2.0` overflowed to 0 at `x = 1e156`, where the
    /// written power gives 5e-313.
    fn product(&mut self, coeff: Option<Number>, factors: &[ExprId]) -> Reg {
        let mut num = Vec::new();
        let mut den = Vec::new();
        for &f in factors {
            if let Node::Pow([b, e]) = self.v.node(f)
                && let Some(en) = self
                    .v
                    .node(*e)
                    .number()
                    .filter(|n| n.is_negative() && !matches!(n, Number::Float(_)))
            {
                let br = self.reg(*b);
                den.push(self.pow_number(br, &en.neg()));
                continue;
            }
            num.push(self.reg(f));
        }
        let negate = coeff.as_ref().is_some_and(Number::is_exact_minus_one);
        if let Some(c) = coeff.filter(|c| !c.is_exact_one() && !c.is_exact_minus_one()) {
            let cr = self.b.konst(c.to_f64());
            num.insert(0, cr);
        }
        let n = self.b.product(&num);
        let r = match self.b.product(&den) {
            Some(d) => {
                let n = n.unwrap_or_else(|| self.b.konst(1.0));
                self.b.push(Op::Div(n, d))
            }
            None => n.unwrap_or_else(|| self.b.konst(1.0)),
        };
        if negate { self.b.push(Op::Neg(r)) } else { r }
    }

    /// Split a term into (is negative, register of its magnitude).
    fn signed_term(&mut self, t: ExprId) -> (bool, Reg) {
        match self.v.node(t) {
            Node::Mul(f) => {
                if let Some(c) = self.v.node(f[0]).number().filter(Number::is_negative) {
                    let rest = f[1..].to_vec();
                    return (true, self.product(Some(c.neg()), &rest));
                }
                (false, self.reg(t))
            }
            n => match n.number().filter(Number::is_negative) {
                Some(c) => (true, self.b.konst(c.neg().to_f64())),
                None => (false, self.reg(t)),
            },
        }
    }

    fn lower_node(&mut self, id: ExprId, inputs: &HashMap<ExprId, Reg>) -> Result<Reg> {
        let node = self.v.node(id).clone();
        Ok(match &node {
            Node::Symbol(name) => *inputs
                .get(&id)
                .ok_or_else(|| Error::UnboundSymbol(name.to_string()))?,
            Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
                let c = node.number().map_or(f64::NAN, |n| n.to_f64());
                self.b.konst(c)
            }
            Node::Add(terms) => {
                let mut signed: Vec<(bool, Reg)> =
                    terms.iter().map(|&t| self.signed_term(t)).collect();
                // Positive terms first, so `-a + b` is `b - a`, not `-a + b`.
                signed.sort_by_key(|&(neg, _)| neg);
                let mut acc: Option<Reg> = None;
                for (neg, r) in signed {
                    acc = Some(match (acc, neg) {
                        (None, false) => r,
                        (None, true) => self.b.push(Op::Neg(r)),
                        (Some(a), false) => self.b.push(Op::Add(a, r)),
                        (Some(a), true) => self.b.push(Op::Sub(a, r)),
                    });
                }
                acc.unwrap_or_else(|| self.b.konst(0.0))
            }
            Node::Mul(f) => match self.v.node(f[0]).number() {
                Some(c) => self.product(Some(c), &f[1..]),
                None => self.product(None, f),
            },
            Node::Pow([b, e]) => {
                let br = self.reg(*b);
                match self.v.node(*e).number() {
                    Some(en) => self.pow_number(br, &en),
                    None => {
                        let er = self.reg(*e);
                        self.b.push(Op::Binary(BinaryFn::Pow, br, er))
                    }
                }
            }
            Node::Func(f, args) => {
                let a: Vec<Reg> = args.iter().map(|&x| self.reg(x)).collect();
                self.func(*f, &a)?
            }
        })
    }

    /// `f(a...)` on lowered arguments (shared by the canonical and the
    /// written lowering).
    fn func(&mut self, f: Func, a: &[Reg]) -> Result<Reg> {
        let f = &f;
        let cmp = |k| Op::Cmp(k, a[0], a[1]);
        let op = match f {
            Func::Atan2 => Op::Binary(BinaryFn::Atan2, a[0], a[1]),
            Func::Hypot => Op::Binary(BinaryFn::Hypot, a[0], a[1]),
            Func::Min => Op::Binary(BinaryFn::Min, a[0], a[1]),
            Func::Max => Op::Binary(BinaryFn::Max, a[0], a[1]),
            Func::Copysign => Op::Binary(BinaryFn::Copysign, a[0], a[1]),
            Func::Fmod => Op::Binary(BinaryFn::Fmod, a[0], a[1]),
            Func::Fma => Op::Fma(a[0], a[1], a[2]),
            Func::Lt => cmp(CmpOp::Lt),
            Func::Le => cmp(CmpOp::Le),
            Func::Gt => cmp(CmpOp::Gt),
            Func::Ge => cmp(CmpOp::Ge),
            Func::Eq => cmp(CmpOp::Eq),
            Func::Ne => cmp(CmpOp::Ne),
            Func::Where => Op::Select(a[0], a[1], a[2]),
            Func::And => {
                let zero = self.b.konst(0.0);
                Op::Select(a[0], a[1], zero)
            }
            Func::Or => {
                let one = self.b.konst(1.0);
                Op::Select(a[0], one, a[1])
            }
            Func::Not => {
                let (zero, one) = (self.b.konst(0.0), self.b.konst(1.0));
                Op::Select(a[0], zero, one)
            }
            Func::Sign => return Ok(self.sign(a[0])),
            Func::Mod => return Ok(self.modulo(a[0], a[1])),
            Func::Digamma | Func::Trigamma => {
                let sp = if *f == Func::Digamma {
                    Special::Digamma
                } else {
                    Special::Trigamma
                };
                return match sp.expand(&mut self.b, a[0]) {
                    Ok(r) => Ok(r),
                    Err(never) => match never {},
                };
            }
            other => match UnaryFn::from_func(*other) {
                Some(u) => Op::Unary(u, a[0]),
                None => {
                    return Err(alkahest_core::Error::NotImplemented(format!(
                        "{} cannot be lowered to a tape yet",
                        other.name()
                    ))
                    .into());
                }
            },
        };
        Ok(self.b.push(op))
    }

    /// `sign(x)`: 1 above zero, -1 below, and `x` itself otherwise, so
    /// `sign(±0) = ±0` and `sign(NaN) = NaN` (NumPy's convention).
    fn sign(&mut self, x: Reg) -> Reg {
        let zero = self.b.konst(0.0);
        let (one, minus_one) = (self.b.konst(1.0), self.b.konst(-1.0));
        let neg = self.b.push(Op::Cmp(CmpOp::Lt, x, zero));
        let inner = self.b.push(Op::Select(neg, minus_one, x));
        let pos = self.b.push(Op::Cmp(CmpOp::Gt, x, zero));
        self.b.push(Op::Select(pos, one, inner))
    }

    /// Python's / SymPy's `a mod b` (sign of the divisor) from C's `fmod`
    /// (sign of the dividend): add `b` once when the signs differ.
    fn modulo(&mut self, a: Reg, b: Reg) -> Reg {
        let zero = self.b.konst(0.0);
        let r = self.b.push(Op::Binary(BinaryFn::Fmod, a, b));
        let nonzero = self.b.push(Op::Cmp(CmpOp::Ne, r, zero));
        let r_neg = self.b.push(Op::Cmp(CmpOp::Lt, r, zero));
        let b_neg = self.b.push(Op::Cmp(CmpOp::Lt, b, zero));
        let differ = self.b.push(Op::Cmp(CmpOp::Ne, r_neg, b_neg));
        let fix = self.b.push(Op::Select(nonzero, differ, zero));
        let shifted = self.b.push(Op::Add(r, b));
        self.b.push(Op::Select(fix, shifted, r))
    }
}

/// Lower `expr` with inputs `vars` (symbols, in argument order) into a
/// one-output tape.
///
/// Fails when `expr` uses a symbol missing from `vars`, or when `vars`
/// holds a non-symbol or a duplicate.
pub fn lower(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<Tape> {
    lower_many(pool, &[expr], vars)
}

/// Lower several expressions over the same inputs into one tape with an
/// output per expression, in order. Subexpressions shared between outputs
/// are computed once.
pub fn lower_many(pool: &ExprPool, exprs: &[ExprId], vars: &[ExprId]) -> Result<Tape> {
    let roots: Vec<Written> = exprs.iter().map(|&e| Written::expr(e)).collect();
    lower_written(pool, &roots, vars)
}

/// [`lower_many`] for expressions in their written form: each written step
/// becomes exactly one IEEE operation (`a + b`, `a / b`, `f(a)`, ...) in
/// the order written, and each canonical leaf is lowered as [`lower_many`]
/// lowers it. This is what `optimize="none"` evaluates. Shared steps and
/// equal operations are still computed once (value numbering changes no
/// result).
pub fn lower_written(pool: &ExprPool, roots: &[Written], vars: &[ExprId]) -> Result<Tape> {
    lower_overriding(pool, roots, vars, &[])
}

/// [`lower_written`] where each canonical node `id` of `overrides` is
/// computed from the written form given with it instead, wherever a parent
/// takes it as a whole operand (a rewritten expression that falls back to
/// its input, e.g. `where(|x| > R, series, input)`, then falls back to the
/// input as the user wrote it). A parent that looks inside the node (a sum
/// splitting off a negated term) still lowers it canonically: same value,
/// canonical order.
pub fn lower_overriding(
    pool: &ExprPool,
    roots: &[Written],
    vars: &[ExprId],
    overrides: &[(ExprId, Written)],
) -> Result<Tape> {
    for r in roots {
        match r.view() {
            WrittenView::Expr(e) => {
                pool.check(e)?;
                if pool.is_condition(e) {
                    return Err(
                        alkahest_core::Error::ConditionAsNumber(alkahest_core::to_string(pool, e))
                            .into(),
                    );
                }
            }
            WrittenView::Op(WrittenOp::Func(f), _) if f.returns_bool() => {
                return Err(alkahest_core::Error::ConditionAsNumber(format!(
                    "a {} condition",
                    f.name()
                ))
                .into());
            }
            WrittenView::Op(..) => {}
        }
    }
    if roots.is_empty() {
        return Err(Error::InvalidTape(
            "no outputs: give at least one expression".into(),
        ));
    }
    let leaves = Written::leaves(roots);
    let override_roots: Vec<Written> = overrides.iter().map(|(_, w)| w.clone()).collect();
    let override_leaves = Written::leaves(&override_roots);
    for &l in leaves.iter().chain(&override_leaves) {
        pool.check(l)?;
    }
    for &(id, _) in overrides {
        pool.check(id)?;
    }
    let v = pool.view();
    let mut b = Builder {
        ops: Vec::new(),
        vn: HashMap::new(),
    };
    let mut inputs: HashMap<ExprId, Reg> = HashMap::with_capacity(vars.len());
    for (index, &var) in vars.iter().enumerate() {
        match v.get(var) {
            Some(Node::Symbol(name)) => {
                let r = b.push(Op::Input(index as u32));
                if inputs.insert(var, r).is_some() {
                    return Err(Error::DuplicateVar(name.to_string()));
                }
            }
            Some(_) => {
                return Err(Error::NotASymbol {
                    index,
                    text: alkahest_core::to_string(pool, var),
                });
            }
            None => return Err(alkahest_core::Error::UnknownId(var.0).into()),
        }
    }
    let mut l = Lowering {
        v,
        b,
        regs: HashMap::new(),
    };
    if !overrides.is_empty() {
        for id in l.v.reachable(&override_leaves) {
            let r = l.lower_node(id, &inputs)?;
            l.regs.insert(id, r);
        }
        let regs = l.lower_steps(&override_roots)?;
        for (&(id, _), r) in overrides.iter().zip(regs) {
            l.regs.insert(id, r);
        }
    }
    for id in l.v.reachable(&leaves) {
        if l.regs.contains_key(&id) {
            continue;
        }
        let r = l.lower_node(id, &inputs)?;
        l.regs.insert(id, r);
    }
    let outputs = if roots.iter().all(|r| r.leaf().is_some()) {
        roots
            .iter()
            .filter_map(Written::leaf)
            .map(|e| l.reg(e))
            .collect()
    } else {
        l.lower_steps(roots)?
    };
    let ops = l.b.ops;
    if ops.len() > crate::tape::MAX_OPS {
        return Err(Error::InvalidTape(format!("{} ops is too many", ops.len())));
    }
    Ok(eliminate_dead(vars.len(), ops, outputs))
}

impl Lowering<'_> {
    /// The written steps above the (already lowered) canonical leaves,
    /// children first; the registers of `roots`.
    fn lower_steps(&mut self, roots: &[Written]) -> Result<Vec<Reg>> {
        let order = Written::post_order(roots);
        let mut regs: HashMap<*const (), Reg> = HashMap::with_capacity(order.len());
        let id_of = |w: &Written| -> *const () { w.identity() };
        for w in &order {
            let r = match w.view() {
                WrittenView::Expr(e) => self.reg(e),
                WrittenView::Op(op, args) => {
                    let a: Vec<Reg> = args.iter().map(|x| regs[&id_of(x)]).collect();
                    match op {
                        WrittenOp::Add => self.b.push(Op::Add(a[0], a[1])),
                        WrittenOp::Sub => self.b.push(Op::Sub(a[0], a[1])),
                        WrittenOp::Mul => self.b.push(Op::Mul(a[0], a[1])),
                        WrittenOp::Div => self.b.push(Op::Div(a[0], a[1])),
                        WrittenOp::Neg => self.b.push(Op::Neg(a[0])),
                        WrittenOp::Pow => {
                            // A constant exponent lowers as a canonical
                            // power does (`x**2` is `x*x`, `x**0.5` stays
                            // `pow`): that is what `**` means everywhere.
                            let exponent = args[1].leaf().and_then(|e| self.v.node(e).number());
                            match exponent {
                                Some(n) => self.pow_number(a[0], &n),
                                None => self.b.push(Op::Binary(BinaryFn::Pow, a[0], a[1])),
                            }
                        }
                        WrittenOp::Func(f) => self.func(f, &a)?,
                    }
                }
            };
            regs.insert(id_of(w), r);
        }
        Ok(roots.iter().map(|r| regs[&id_of(r)]).collect())
    }
}

/// Drop ops no output depends on (lowering emits a few, e.g. the `-b` of
/// `a + (-1)*b` once it became `a - b`). Inputs always stay.
///
/// The parts must already form a valid tape (they come from lowering or a
/// pass over a valid tape); renumbering keeps every rule.
pub(crate) fn eliminate_dead(n_inputs: usize, ops: Vec<Op>, outputs: Vec<Reg>) -> Tape {
    let mut live = vec![false; ops.len()];
    for &o in &outputs {
        live[o as usize] = true;
    }
    for i in (0..ops.len()).rev() {
        if live[i] || matches!(ops[i], Op::Input(_)) {
            live[i] = true;
            for r in ops[i].operands() {
                live[r as usize] = true;
            }
        }
    }
    let mut new_index = vec![u32::MAX; ops.len()];
    let mut kept = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        if !live[i] {
            continue;
        }
        new_index[i] = kept.len() as u32;
        kept.push(op.map_regs(|r| new_index[r as usize]));
    }
    let outputs = outputs.iter().map(|&o| new_index[o as usize]).collect();
    Tape::new(n_inputs, kept, outputs).expect("dead-code elimination keeps a tape valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thirds::third_power_ops;

    /// `x * (y * z)` as written, over (x, y, z).
    fn regrouped(p: &ExprPool) -> (ExprId, Written, Vec<ExprId>) {
        let (x, y, z) = (
            p.symbol("x").unwrap(),
            p.symbol("y").unwrap(),
            p.symbol("z").unwrap(),
        );
        let yz = p.mul(&[y, z]).unwrap();
        let w_yz = Written::op(
            p,
            WrittenOp::Mul,
            vec![Written::expr(y), Written::expr(z)],
            yz,
        );
        let e = p.mul(&[x, yz]).unwrap();
        let w = Written::op(p, WrittenOp::Mul, vec![Written::expr(x), w_yz], e);
        (e, w, vec![x, y, z])
    }

    /// `x ** (num/3)` over `x`.
    fn third(num: i64) -> Tape {
        let p = ExprPool::new();
        let x = p.symbol("x").unwrap();
        let e = p.rational(num, 3).unwrap();
        lower(&p, p.pow(x, e).unwrap(), &[x]).unwrap()
    }

    #[test]
    fn third_power_ops_counts_the_lowering() {
        for num in (-40i64..=40).filter(|n| n % 3 != 0) {
            assert_eq!(
                third(num).n_compute(),
                third_power_ops(num.unsigned_abs(), num < 0),
                "x**({num}/3)"
            );
        }
    }

    #[test]
    fn third_powers_of_cubes_are_exact() {
        for k in 1..=200i32 {
            let c = f64::from(k);
            let (x, tiny) = (c * c * c, c * 2f64.powi(-350));
            assert_eq!(third(1).eval_point(&[x])[0], c);
            assert_eq!(third(2).eval_point(&[x])[0], c * c);
            assert_eq!(third(4).eval_point(&[x])[0], x * c);
            assert_eq!(third(-1).eval_point(&[x])[0], 1.0 / c);
            // Scaled ends: a cube of a tiny (subnormal) or huge double.
            assert_eq!(third(1).eval_point(&[tiny * tiny * tiny])[0], tiny);
            let huge = c * 2f64.powi(330);
            assert_eq!(third(1).eval_point(&[huge * huge * huge])[0], huge);
        }
    }

    #[test]
    fn third_powers_keep_pows_special_values() {
        let specials = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -8.0,
            -1e-310,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for num in [1i64, 2, -1, -2, 4, -7, 301, -301] {
            let t = third(num);
            let y = num as f64 / 3.0;
            for x in specials {
                let (got, want) = (t.eval_point(&[x])[0], x.powf(y));
                let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
                // Finite nonzero results differ where `pow` is off (by up
                // to `|log x| 2^-54` relative: its exponent is not y).
                let close = want.is_finite() && want != 0.0 && (got / want - 1.0).abs() < 1e-13;
                assert!(
                    same || close,
                    "x**({num}/3) at {x:e}: {got:e}, pow {want:e}"
                );
            }
        }
    }

    #[test]
    fn written_steps_are_one_operation_each_in_order() {
        let p = ExprPool::new();
        let (e, w, vars) = regrouped(&p);
        let point = [1e300, 1e10, 1e-300];
        let canonical = lower(&p, e, &vars).unwrap().eval_point(&point)[0];
        let written = lower_written(&p, std::slice::from_ref(&w), &vars).unwrap();
        assert_eq!(canonical, f64::INFINITY);
        assert_eq!(written.eval_point(&point)[0], 1e300 * (1e10 * 1e-300));
        assert_eq!(written.n_compute(), 2);
        // A leaf root is exactly the canonical lowering.
        assert_eq!(
            lower_written(&p, &[Written::expr(e)], &vars).unwrap(),
            lower(&p, e, &vars).unwrap()
        );
    }

    #[test]
    fn overrides_replace_a_kept_input_by_its_written_form() {
        let p = ExprPool::new();
        let (e, w, vars) = regrouped(&p);
        let zero = p.integer(0).unwrap();
        let neg = p.func(Func::Lt, &[vars[0], zero]).unwrap();
        let guarded = p.select(neg, vars[1], e).unwrap();
        let point = [1e300, 1e10, 1e-300];
        let plain = lower(&p, guarded, &vars).unwrap().eval_point(&point)[0];
        let over = lower_overriding(&p, &[Written::expr(guarded)], &vars, &[(e, w)])
            .unwrap()
            .eval_point(&point)[0];
        assert_eq!(plain, f64::INFINITY);
        assert_eq!(over, 1e300 * (1e10 * 1e-300));
    }

    #[test]
    fn a_written_condition_is_not_an_output() {
        let p = ExprPool::new();
        let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
        let lt = p.func(Func::Lt, &[x, y]).unwrap();
        let w = Written::step(
            WrittenOp::Func(Func::Lt),
            vec![Written::expr(x), Written::expr(y)],
        );
        assert!(lower_written(&p, &[w], &[x, y]).is_err());
        assert!(lower_written(&p, &[Written::expr(lt)], &[x, y]).is_err());
    }
}
