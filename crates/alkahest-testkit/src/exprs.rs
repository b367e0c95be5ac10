//! Random expressions, built through an [`ExprPool`]'s canonical builders.
//!
//! A [`Program`] is a list of [`Step`]s, each combining earlier nodes, so
//! programs build DAGs (shared subexpressions) and work with any number of
//! variables (indices are taken modulo what exists). Numbers and conditions
//! are kept apart: comparisons and connectives build conditions, which only
//! `where` reads, so every program builds without a kind error.

use std::ops::RangeInclusive;

use alkahest_core::{ExprId, ExprPool, Func};
use proptest::prelude::*;
use proptest::strategy::Union;

/// One construction step. Operand fields count back from the newest node
/// (`0` is the last one built), modulo the number of nodes so far; condition
/// fields likewise over the conditions built so far.
#[derive(Clone, Debug)]
pub enum Step {
    /// An exact integer.
    Int(i64),
    /// A float constant.
    Float(f64),
    /// `a + b`.
    Add(usize, usize),
    /// `a - b`.
    Sub(usize, usize),
    /// `a * b`.
    Mul(usize, usize),
    /// `a / b`.
    Div(usize, usize),
    /// `-a`.
    Neg(usize),
    /// `a ** n` for an integer `n`.
    PowI(usize, i64),
    /// `a ** (1/2)` (`true`) or `a ** (-1/2)`.
    PowHalf(usize, bool),
    /// `a ** b` with a symbolic exponent.
    Pow(usize, usize),
    /// A numeric function of the first `arity` operands.
    Func(Func, usize, usize, usize),
    /// A polynomial in variable `v` with these coefficients (constant
    /// first).
    Poly(usize, Vec<i64>),
    /// A quotient of two polynomials in variable `v`.
    RationalFn(usize, Vec<i64>, Vec<i64>),
    /// A new condition: the comparison `k(a, b)`.
    Cmp(Func, usize, usize),
    /// A new condition: `And` of two conditions.
    And(usize, usize),
    /// A new condition: `Or` of two conditions.
    Or(usize, usize),
    /// A new condition: `Not` of a condition.
    Not(usize),
    /// `where(cond, a, b)`; with no condition built yet, `Lt(a, b)`.
    Where(usize, usize, usize),
}

/// The comparisons, in the kernel's `CmpOp` order.
pub const COMPARISONS: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

/// Every numeric one-argument function (`sin` .. `ceiling`, `sign`).
pub fn unary_funcs() -> Vec<Func> {
    Func::numeric().filter(|f| f.arity() == 1).collect()
}

/// Every numeric two-argument function (`atan2`, `hypot`, `Min`, `Max`,
/// `copysign`, `fmod`, `Mod`).
pub fn binary_funcs() -> Vec<Func> {
    Func::numeric().filter(|f| f.arity() == 2).collect()
}

/// What random programs may contain.
#[derive(Clone, Debug)]
pub struct ExprGen {
    /// The functions `Step::Func` applies (none: no function steps).
    pub funcs: Vec<Func>,
    /// Comparisons, `And`/`Or`/`Not` and `where`.
    pub conditions: bool,
    /// Polynomials and quotients of polynomials in one variable.
    pub polynomials: bool,
    /// Powers with a symbolic exponent (`pow` calls).
    pub symbolic_pow: bool,
}

impl ExprGen {
    /// Everything: every numeric function ([`Func::numeric`], `fma`
    /// included), conditions and `where`, polynomials, symbolic powers.
    pub fn all() -> ExprGen {
        ExprGen {
            funcs: Func::numeric().collect(),
            conditions: true,
            polynomials: true,
            symbolic_pow: true,
        }
    }

    /// The same with only `funcs` applied.
    pub fn funcs(mut self, funcs: &[Func]) -> ExprGen {
        self.funcs = funcs.to_vec();
        self
    }

    /// The same without conditions and `where`.
    pub fn without_conditions(mut self) -> ExprGen {
        self.conditions = false;
        self
    }

    /// The same without symbolic powers.
    pub fn without_symbolic_pow(mut self) -> ExprGen {
        self.symbolic_pow = false;
        self
    }

    fn step(&self) -> BoxedStrategy<Step> {
        // Operands lean towards recent nodes so expressions get deep.
        let i = || prop_oneof![3 => 0usize..3, 1 => 0usize..64];
        let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
            (1, (-5i64..=5).prop_map(Step::Int).boxed()),
            (
                1,
                prop_oneof![
                    -10.0f64..10.0,
                    Just(0.5),
                    Just(-0.0),
                    Just(1e-310),
                    Just(-3.0)
                ]
                .prop_map(Step::Float)
                .boxed(),
            ),
            (3, (i(), i()).prop_map(|(a, b)| Step::Add(a, b)).boxed()),
            (2, (i(), i()).prop_map(|(a, b)| Step::Sub(a, b)).boxed()),
            (3, (i(), i()).prop_map(|(a, b)| Step::Mul(a, b)).boxed()),
            (2, (i(), i()).prop_map(|(a, b)| Step::Div(a, b)).boxed()),
            (1, i().prop_map(Step::Neg).boxed()),
            (
                2,
                (i(), -6i64..=7).prop_map(|(a, n)| Step::PowI(a, n)).boxed(),
            ),
            (
                1,
                (i(), any::<bool>())
                    .prop_map(|(a, s)| Step::PowHalf(a, s))
                    .boxed(),
            ),
        ];
        if self.symbolic_pow {
            arms.push((1, (i(), i()).prop_map(|(a, b)| Step::Pow(a, b)).boxed()));
        }
        if !self.funcs.is_empty() {
            let funcs = self.funcs.clone();
            arms.push((
                5,
                (proptest::sample::select(funcs), i(), i(), i())
                    .prop_map(|(f, a, b, c)| Step::Func(f, a, b, c))
                    .boxed(),
            ));
        }
        if self.polynomials {
            let coeffs = |lo: usize, hi: usize, m: i64| proptest::collection::vec(-m..=m, lo..hi);
            arms.push((
                1,
                (0usize..3, coeffs(2, 6, 4))
                    .prop_map(|(v, c)| Step::Poly(v, c))
                    .boxed(),
            ));
            arms.push((
                1,
                (0usize..3, coeffs(1, 4, 3), coeffs(2, 4, 3))
                    .prop_map(|(v, n, d)| Step::RationalFn(v, n, d))
                    .boxed(),
            ));
        }
        if self.conditions {
            arms.push((
                2,
                (proptest::sample::select(COMPARISONS.to_vec()), i(), i())
                    .prop_map(|(k, a, b)| Step::Cmp(k, a, b))
                    .boxed(),
            ));
            arms.push((
                1,
                prop_oneof![
                    (i(), i()).prop_map(|(a, b)| Step::And(a, b)),
                    (i(), i()).prop_map(|(a, b)| Step::Or(a, b)),
                    i().prop_map(Step::Not),
                ]
                .boxed(),
            ));
            arms.push((
                2,
                (i(), i(), i())
                    .prop_map(|(c, a, b)| Step::Where(c, a, b))
                    .boxed(),
            ));
        }
        Union::new_weighted(arms).boxed()
    }

    /// Programs of `steps` steps.
    pub fn programs(&self, steps: RangeInclusive<usize>) -> BoxedStrategy<Program> {
        proptest::collection::vec(self.step(), steps)
            .prop_map(Program)
            .boxed()
    }
}

/// Programs of `steps` steps with everything ([`ExprGen::all`]).
pub fn programs(steps: RangeInclusive<usize>) -> BoxedStrategy<Program> {
    ExprGen::all().programs(steps)
}

/// A random expression: see [`Step`].
#[derive(Clone, Debug)]
pub struct Program(pub Vec<Step>);

fn poly(p: &ExprPool, x: ExprId, coeffs: &[i64]) -> ExprId {
    let terms: Vec<ExprId> = coeffs
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let xk = p.pow(x, p.integer(k as i64).unwrap()).unwrap();
            p.mul(&[p.integer(c).unwrap(), xk]).unwrap()
        })
        .collect();
    p.add(&terms).unwrap()
}

impl Program {
    /// Every number node the program builds in `p` over `vars` (at least
    /// one), in order: the variables and the constants 2 and 1/3 first,
    /// then one node per step that builds a number.
    pub fn nodes(&self, p: &ExprPool, vars: &[ExprId]) -> Vec<ExprId> {
        let mut nodes: Vec<ExprId> = vars.to_vec();
        nodes.push(p.integer(2).unwrap());
        nodes.push(p.rational(1, 3).unwrap());
        let mut conds: Vec<ExprId> = Vec::new();
        // With no variables, polynomials are in the constant 2.
        let two = nodes[vars.len()];
        let var = |v: usize| {
            if vars.is_empty() {
                two
            } else {
                vars[v % vars.len()]
            }
        };
        for s in &self.0 {
            let n = |i: usize| nodes[nodes.len() - 1 - i % nodes.len()];
            let cond = |i: usize| conds[conds.len() - 1 - i % conds.len()];
            let built = match s {
                Step::Int(k) => p.integer(*k),
                Step::Float(f) => p.float(*f),
                Step::Add(a, b) => p.add(&[n(*a), n(*b)]),
                Step::Sub(a, b) => p.sub(n(*a), n(*b)),
                Step::Mul(a, b) => p.mul(&[n(*a), n(*b)]),
                Step::Div(a, b) => p.div(n(*a), n(*b)),
                Step::Neg(a) => p.neg(n(*a)),
                Step::PowI(a, k) => p.pow(n(*a), p.integer(*k).unwrap()),
                Step::PowHalf(a, s) => {
                    p.pow(n(*a), p.rational(if *s { 1 } else { -1 }, 2).unwrap())
                }
                Step::Pow(a, b) => p.pow(n(*a), n(*b)),
                Step::Func(f, a, b, c) => p.func(*f, &[n(*a), n(*b), n(*c)][..f.arity()]),
                Step::Poly(v, c) => Ok(poly(p, var(*v), c)),
                Step::RationalFn(v, num, den) => {
                    p.div(poly(p, var(*v), num), poly(p, var(*v), den))
                }
                Step::Cmp(k, a, b) => {
                    conds.push(p.func(*k, &[n(*a), n(*b)]).unwrap());
                    continue;
                }
                Step::And(_, _) | Step::Or(_, _) | Step::Not(_) if conds.is_empty() => continue,
                Step::And(a, b) => {
                    conds.push(p.func(Func::And, &[cond(*a), cond(*b)]).unwrap());
                    continue;
                }
                Step::Or(a, b) => {
                    conds.push(p.func(Func::Or, &[cond(*a), cond(*b)]).unwrap());
                    continue;
                }
                Step::Not(a) => {
                    conds.push(p.func(Func::Not, &[cond(*a)]).unwrap());
                    continue;
                }
                Step::Where(c, a, b) => {
                    let c = if conds.is_empty() {
                        p.func(Func::Lt, &[n(*a), n(*b)]).unwrap()
                    } else {
                        cond(*c)
                    };
                    p.select(c, n(*a), n(*b))
                }
            };
            nodes.push(built.unwrap_or_else(|e| panic!("step {s:?}: {e}")));
        }
        nodes
    }

    /// The expression: the last number node.
    pub fn build(&self, p: &ExprPool, vars: &[ExprId]) -> ExprId {
        *self.nodes(p, vars).last().unwrap()
    }

    /// Several outputs sharing subexpressions: the last node, then the
    /// nodes `picks` name (counting back from the last, modulo the node
    /// count; repeats, variables and constants allowed).
    pub fn outputs(&self, p: &ExprPool, vars: &[ExprId], picks: &[usize]) -> Vec<ExprId> {
        let nodes = self.nodes(p, vars);
        let mut outs = vec![*nodes.last().unwrap()];
        outs.extend(
            picks
                .iter()
                .map(|&i| nodes[nodes.len() - 1 - i % nodes.len()]),
        );
        outs
    }
}

/// A pool with the symbols `x`, `y`, `z`, ... (the first `n_vars`; `x0`,
/// `x1`, ... beyond three).
pub fn pool(n_vars: usize) -> (ExprPool, Vec<ExprId>) {
    let p = ExprPool::new();
    let vars = (0..n_vars)
        .map(|i| {
            let name = match i {
                0..=2 => ["x", "y", "z"][i].to_string(),
                _ => format!("x{i}"),
            };
            p.symbol(&name).unwrap()
        })
        .collect();
    (p, vars)
}

/// A banded many-output function over `2 * cells` inputs (`u_i`, `v_i`
/// interleaved) with as many outputs: each output pair reads its cell and
/// the two beside it, like a discretized PDE's right-hand side, with exact
/// operations only (no libm call), so every tier's results are the same
/// bits. The shape the backends' grouped batch loops are for
/// (`alkahest_tape::output_groups`). Returns the outputs and the inputs.
pub fn banded(p: &ExprPool, cells: usize) -> (Vec<ExprId>, Vec<ExprId>) {
    let u: Vec<_> = (0..cells)
        .map(|i| p.symbol(&format!("u{i}")).unwrap())
        .collect();
    let v: Vec<_> = (0..cells)
        .map(|i| p.symbol(&format!("v{i}")).unwrap())
        .collect();
    let num = |x: f64| p.float(x).unwrap();
    let mut outs = Vec::new();
    for i in 0..cells {
        let (ul, ur) = (u[i.saturating_sub(1)], u[(i + 1).min(cells - 1)]);
        let (vl, vr) = (v[i.saturating_sub(1)], v[(i + 1).min(cells - 1)]);
        let u2v = p.mul(&[u[i], u[i], v[i]]).unwrap();
        let lap = p
            .add(&[ul, ur, p.mul(&[num(-2.0), u[i]]).unwrap()])
            .unwrap();
        outs.push(p.add(&[u2v, lap]).unwrap());
        let lt = p.func(Func::Lt, &[u[i], v[i]]).unwrap();
        let other = p.sub(p.mul(&[num(0.5), vl]).unwrap(), vr).unwrap();
        outs.push(
            p.select(lt, p.func(Func::Floor, &[u2v]).unwrap(), other)
                .unwrap(),
        );
    }
    let vars = (0..cells).flat_map(|i| [u[i], v[i]]).collect();
    (outs, vars)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use alkahest_tape::{BinaryFn, CmpOp, Op, UnaryFn, lower, lower_many};
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// Lowered, the generator's programs reach every tape function,
    /// comparison, `Select` and `Fma`, from one, two and three variables.
    #[test]
    fn covers_conditions_and_every_function() {
        let strategy = programs(1..=12);
        let mut runner = TestRunner::deterministic();
        let mut seen: HashSet<String> = HashSet::new();
        for k in 0..1500 {
            let prog = strategy.new_tree(&mut runner).unwrap().current();
            let (p, vars) = pool(1 + k % 3);
            let e = prog.build(&p, &vars);
            let tape = lower(&p, e, &vars).unwrap();
            for op in tape.ops() {
                seen.insert(match op {
                    Op::Unary(f, _) => format!("{f:?}"),
                    Op::Binary(f, ..) => format!("{f:?}"),
                    Op::Cmp(k, ..) => format!("{k:?}"),
                    Op::Select(..) => "Select".into(),
                    Op::Fma(..) => "Fma".into(),
                    _ => continue,
                });
            }
        }
        let want = UnaryFn::ALL
            .iter()
            .map(|f| format!("{f:?}"))
            .chain(BinaryFn::ALL.iter().map(|f| format!("{f:?}")))
            .chain(CmpOp::ALL.iter().map(|k| format!("{k:?}")))
            .chain(["Select".to_string(), "Fma".to_string()]);
        for w in want {
            assert!(seen.contains(&w), "{w} never generated");
        }
    }

    #[test]
    fn outputs_share_one_pool() {
        let prog = Program(vec![
            Step::Func(Func::Sin, 0, 0, 0),
            Step::Cmp(Func::Lt, 0, 1),
            Step::Where(0, 0, 1),
            Step::Not(0),
            Step::Poly(1, vec![1, 2, 3]),
        ]);
        let (p, vars) = pool(2);
        let outs = prog.outputs(&p, &vars, &[1, 2, 7]);
        assert_eq!(outs.len(), 4);
        let tape = lower_many(&p, &outs, &vars).unwrap();
        assert_eq!(tape.n_outputs(), 4);
        assert_eq!(
            alkahest_core::to_string(&p, outs[0]),
            "3*y**2 + 2*y + 1",
            "{:?}",
            outs
        );
    }
}
