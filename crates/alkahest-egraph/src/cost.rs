//! Extraction costs and the extractor.
//!
//! egg's own `Extractor` recomputes costs by sweeping all classes until a
//! fixpoint, which is quadratic on a deep chain; this one is Knuth's
//! generalization of Dijkstra's algorithm: a class is settled by the first
//! node whose children are all settled, popped in cost order. It is
//! O(n log n), and the chosen nodes can never form a cycle.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use alkahest_tape::special::Special;
use egg::{Id, Language};
use hashbrown::HashMap;

use crate::analysis::{Facts, MathGraph, node_facts};
use crate::lang::{Const, Math};

/// Which extraction cost to minimize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cost {
    /// Number of tape operations (speed).
    Ops,
    /// Operation count plus penalties for cancellation- and overflow-prone
    /// shapes, confirmed by sampled error measurement (accuracy).
    Stability,
}

/// Penalty for an addition/subtraction of computed values that may cancel.
const CANCEL: f64 = 16.0;
/// Penalty for an operation whose result may overflow although its
/// operands are bounded (it creates the overflow: `exp(800)`, `1/exp(-800)`,
/// `x*x` for `x ~ 1e200`).
const OVERFLOW: f64 = 8.0;
/// Magnitude treated as "may overflow" in interval facts.
const HUGE: f64 = 1e300;

/// Tape operations of `x ** n` for an exact integer `n` (square-and-multiply,
/// plus one division when negative), `±1/2` (`sqrt`) or `p/3` (`cbrt` and
/// its correction), as the tape crate lowers it.
fn powi_ops(n: &Const) -> Option<f64> {
    let r = n.exact()?;
    if r.is_integer() {
        let m = r.numer().magnitude();
        let m: u64 = m.try_into().ok()?;
        if m == 0 {
            return Some(0.0);
        }
        let bits = 64 - m.leading_zeros() as u64;
        let ops = (bits - 1) + (m.count_ones() as u64 - 1);
        Some(ops as f64 + if r.is_negative_int() { 1.0 } else { 0.0 })
    } else if *r.denom() == 2u32.into() && r.numer().magnitude() == &1u32.into() {
        Some(if r.is_negative_int() { 2.0 } else { 1.0 })
    } else if let Some((p, negative)) = alkahest_tape::thirds::third_exponent(r) {
        Some(alkahest_tape::thirds::third_power_ops(p, negative) as f64)
    } else {
        None
    }
}

trait NegInt {
    fn is_negative_int(&self) -> bool;
}

impl NegInt for num_rational::BigRational {
    fn is_negative_int(&self) -> bool {
        num_traits::Signed::is_negative(self)
    }
}

fn is_leaf(eg: &MathGraph, id: Id) -> bool {
    let c = &eg[id];
    c.data.constant.is_some() || c.nodes.iter().any(|n| matches!(n, Math::Sym(_)))
}

/// The node's own cost (children excluded).
///
/// The base is the number of tape operations the node lowers to, the
/// measure `Tape::n_compute` that finally decides between candidates: one
/// for arithmetic, every libm call (`erf`, `gamma`, ... like `sin`), and
/// the one-instruction functions (`floor`, `ceil`, `copysign`, `fabs`,
/// min/max), one comparison or one select for a comparison, `and`, `or`,
/// `not` or `where`; `sign` lowers to two comparisons and two selects,
/// `Mod` to `fmod` plus a sign fix-up of seven operations, `digamma` and
/// `trigamma` to their recipes; constants the lowering adds are free, as in
/// `n_compute`.
pub(crate) fn node_cost(eg: &MathGraph, node: &Math, cost: Cost) -> f64 {
    let base = match node {
        Math::Num(_) | Math::Sym(_) => 0.0,
        Math::Pow([_, e]) => eg[*e]
            .data
            .constant
            .as_ref()
            .and_then(powi_ops)
            .unwrap_or(1.0),
        Math::Sign(_) => 4.0,
        Math::Mod(_) => 8.0,
        Math::Digamma(_) => Special::Digamma.ops() as f64,
        Math::Trigamma(_) => Special::Trigamma.ops() as f64,
        _ => 1.0,
    };
    if cost == Cost::Ops {
        return base;
    }
    let f = |id: &Id| -> &Facts { &eg[*id].data };
    let penalty = match node {
        Math::Add([a, b]) | Math::Sub([a, b]) => {
            let (fa, fb) = (f(a), f(b));
            let safe = if matches!(node, Math::Add(_)) {
                (fa.is_nonneg() && fb.is_nonneg()) || (fa.is_nonpos() && fb.is_nonpos())
            } else {
                (fa.is_nonneg() && fb.is_nonpos()) || (fa.is_nonpos() && fb.is_nonneg())
            };
            if safe || (is_leaf(eg, *a) && is_leaf(eg, *b)) {
                0.0
            } else {
                CANCEL
            }
        }
        _ => 0.0,
    };
    let mag = |x: &Facts| x.hi.max(-x.lo);
    // The node's own interval (the class's may be looser or tighter).
    let creates_overflow = !node.is_leaf()
        && node.children().iter().all(|c| mag(f(c)) <= HUGE)
        && mag(&node_facts(
            node,
            &|i| eg[i].data.clone(),
            &eg.analysis.ranges,
        )) > HUGE;
    base + penalty + if creates_overflow { OVERFLOW } else { 0.0 }
}

/// A heap entry: a node's tree cost and its index.
#[derive(PartialEq)]
struct Item(f64, usize);

impl Eq for Item {}

impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Item {
    // Reversed: BinaryHeap is a max-heap and we pop the cheapest first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then_with(|| o.1.cmp(&self.1))
    }
}

/// Per class, the cheapest node and its tree cost ([`extract`]).
pub(crate) type Extraction = HashMap<Id, (f64, Math)>;

/// For every class reachable by costs, the cheapest node and its tree cost.
///
/// Classes are numbered densely and a node's users kept in one flat array,
/// so the sweep allocates a handful of vectors rather than one per node
/// and class (it runs up to three times per compile, on the patience
/// hook's schedule).
pub(crate) fn extract(eg: &MathGraph, cost: Cost) -> Extraction {
    const NONE: u32 = u32::MAX;
    let n_ids = eg
        .classes()
        .map(|c| usize::from(c.id) + 1)
        .max()
        .unwrap_or(0);
    let mut dense = vec![NONE; n_ids];
    let mut class_ids: Vec<Id> = Vec::with_capacity(eg.number_of_classes());
    // Flatten nodes: (dense class, node).
    let mut nodes: Vec<(u32, &Math)> = Vec::with_capacity(eg.total_size());
    for c in eg.classes() {
        let d = class_ids.len() as u32;
        dense[usize::from(c.id)] = d;
        class_ids.push(c.id);
        nodes.extend(c.iter().map(|n| (d, n)));
    }
    let class_of = |id: Id| dense[usize::from(eg.find(id))] as usize;
    let n_classes = class_ids.len();
    // Each node's distinct child classes, flat, and how many it waits for.
    let mut kids: Vec<u32> = Vec::with_capacity(nodes.len() * 2);
    let mut kid_end: Vec<u32> = Vec::with_capacity(nodes.len());
    let mut pending: Vec<u32> = Vec::with_capacity(nodes.len());
    let mut n_users = vec![0u32; n_classes + 1];
    for (_, n) in &nodes {
        let start = kids.len();
        for &c in n.children() {
            let k = class_of(c) as u32;
            if !kids[start..].contains(&k) {
                kids.push(k);
                n_users[k as usize] += 1;
            }
        }
        pending.push((kids.len() - start) as u32);
        kid_end.push(kids.len() as u32);
    }
    // Users of each class, flat: class k's are users[first[k]..first[k + 1]].
    let mut first = Vec::with_capacity(n_classes + 1);
    let mut acc = 0u32;
    for &u in &n_users {
        first.push(acc);
        acc += u;
    }
    let mut fill = first.clone();
    let mut users = vec![0u32; acc as usize];
    let mut start = 0usize;
    for (i, &end) in kid_end.iter().enumerate() {
        for &k in &kids[start..end as usize] {
            users[fill[k as usize] as usize] = i as u32;
            fill[k as usize] += 1;
        }
        start = end as usize;
    }
    let own: Vec<f64> = nodes.iter().map(|(_, n)| node_cost(eg, n, cost)).collect();
    let mut heap = BinaryHeap::new();
    for (i, (_, n)) in nodes.iter().enumerate() {
        if n.is_leaf() {
            heap.push(Item(own[i], i));
        }
    }
    // Per dense class: its tree cost, once settled.
    let mut settled: Vec<Option<f64>> = vec![None; n_classes];
    let mut best: Extraction = HashMap::with_capacity(n_classes);
    while let Some(Item(c, i)) = heap.pop() {
        let cls = nodes[i].0 as usize;
        if settled[cls].is_some() {
            continue;
        }
        settled[cls] = Some(c);
        best.insert(class_ids[cls], (c, nodes[i].1.clone()));
        for &u in &users[first[cls] as usize..first[cls + 1] as usize] {
            let u = u as usize;
            pending[u] -= 1;
            if pending[u] == 0 {
                let (ucls, un) = nodes[u];
                if settled[ucls as usize].is_some() {
                    continue;
                }
                let total = un.children().iter().fold(own[u], |acc, &ch| {
                    acc + settled[class_of(ch)].unwrap_or(f64::INFINITY)
                });
                heap.push(Item(total, u));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use alkahest_core::{ExprPool, Func};
    use egg::Runner;

    use super::*;
    use crate::analysis::MathAnalysis;
    use crate::convert::{add_to_egraph, build_in_pool};

    /// Both costs extract every class of a saturated e-graph with
    /// conditions, and the chosen terms build in the pool: no condition is
    /// ever chosen where a number is expected (the builders would refuse).
    #[test]
    fn extraction_keeps_conditions_in_place() {
        let pool = ExprPool::new();
        let x = pool.symbol("x").unwrap();
        let y = pool.symbol("y").unwrap();
        let one = pool.integer(1).unwrap();
        let xy = pool.mul(&[x, y]).unwrap();
        let s = pool.add(&[xy, x]).unwrap();
        let lt = pool.func(Func::Lt, &[s, one]).unwrap();
        let ne = pool.func(Func::Ne, &[x, y]).unwrap();
        let c = pool.func(Func::And, &[lt, ne]).unwrap();
        let nc = pool.func(Func::Not, &[c]).unwrap();
        let e1 = pool.func(Func::Exp, &[x]).unwrap();
        let m = pool.sub(e1, one).unwrap();
        let w = pool.select(nc, m, s).unwrap();
        let sg = pool.func(Func::Sign, &[w]).unwrap();
        let md = pool.func(Func::Mod, &[sg, y]).unwrap();
        let root_expr = pool.add(&[md, w]).unwrap();
        let mut eg = MathGraph::new(MathAnalysis::default());
        let root = add_to_egraph(&pool, root_expr, &mut eg).unwrap();
        let runner = Runner::default()
            .with_egraph(eg)
            .with_iter_limit(6)
            .run(crate::rules::all().iter());
        let eg = &runner.egraph;
        for cost in [Cost::Ops, Cost::Stability] {
            let best: HashMap<Id, Math> = extract(eg, cost)
                .into_iter()
                .map(|(k, (_, n))| (k, n))
                .collect();
            assert_eq!(best.len(), eg.number_of_classes());
            for (&cls, n) in &best {
                assert_eq!(
                    n.returns_bool(),
                    eg[cls].nodes.iter().all(Math::returns_bool),
                    "{n:?}"
                );
            }
            let out = build_in_pool(&pool, eg, &best, root).unwrap();
            assert!(!pool.is_condition(out));
            // exp(x) - 1 became expm1(x): one op fewer.
            let text = alkahest_core::to_string(&pool, out);
            assert!(text.contains("expm1"), "{text}");
        }
    }
}
