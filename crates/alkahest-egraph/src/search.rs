//! Which terms of the saturated e-graph to measure.
//!
//! The static stability cost picks one term; the sampled error decides.
//! Candidates are that term with some classes switched to other nodes of
//! theirs (an *overlay* over the cost-optimal choice). [`Search::seeds`]
//! measures the root's alternatives and single switches below them;
//! [`Search::climb`] then improves one candidate greedily, one class at a
//! time, on a chosen subset of the samples (all of them, or one side of a
//! regime split), so combinations of rewrites in different subterms are
//! found without enumerating them.

use std::cell::{Cell, RefCell};

use alkahest_core::{ExprId, ExprPool};
use egg::{Id, Language};
use hashbrown::{HashMap, HashSet};

use crate::accuracy::{Samples, point_errors};
use crate::analysis::MathGraph;
use crate::convert::build_with;
use crate::cost::{Cost, extract, node_cost};
use crate::error::Result;
use crate::lang::Math;

/// Nodes with their stability cost.
type Costed = Vec<(f64, Math)>;

/// Class choices that differ from the cost-optimal ones.
pub(crate) type Overlay = Vec<(Id, Math)>;

/// A measured candidate.
#[derive(Clone, Debug)]
pub(crate) struct Cand {
    /// The term, in the pool.
    pub expr: ExprId,
    /// Its tape operations.
    pub ops: usize,
    /// Bits of error at every sample.
    pub errs: Vec<f64>,
    /// How it was chosen from the e-graph (`None`: not from the e-graph).
    pub overlay: Option<Overlay>,
}

impl Cand {
    /// Mean error over `points` (all samples for `None`).
    pub fn mean(&self, points: Option<&[usize]>) -> f64 {
        mean(&self.errs, points)
    }
}

/// Mean of `errs` over `points` (all for `None`); infinite when empty.
pub(crate) fn mean(errs: &[f64], points: Option<&[usize]>) -> f64 {
    let (s, n) = match points {
        Some(p) => (p.iter().map(|&i| errs[i]).sum::<f64>(), p.len()),
        None => (errs.iter().sum::<f64>(), errs.len()),
    };
    if n == 0 { f64::INFINITY } else { s / n as f64 }
}

/// Root alternatives used as bases of further candidates.
const ROOT_BASES: usize = 10;
/// Classes of a term considered for switching (breadth first from the root).
const MAX_CLASSES: usize = 128;
/// Alternatives per class tried while climbing.
const PER_CLASS: usize = 4;
/// Improvements a climb makes at most.
const MAX_STEPS: usize = 8;

/// Parsed `(lhs, rhs)` of the accuracy rules ([`crate::rules::accuracy_patterns`])
/// whose right side is not a bare variable.
fn accuracy_rules() -> Vec<(egg::Pattern<Math>, egg::Pattern<Math>)> {
    crate::rules::accuracy_patterns()
        .into_iter()
        .filter_map(|(_, l, r)| {
            let (l, r) = (l.parse().ok()?, r.parse::<egg::Pattern<Math>>().ok()?);
            matches!(r.ast.as_ref().last(), Some(egg::ENodeOrVar::ENode(_))).then_some((l, r))
        })
        .collect()
}

/// The nodes that accuracy rules matching at class `cls` built: for every
/// match whose right side is present in the e-graph (the rule fired), every
/// node of the right side, with its class.
fn built_at(
    eg: &MathGraph,
    rules: &[(egg::Pattern<Math>, egg::Pattern<Math>)],
    cls: Id,
) -> Vec<(Id, Math)> {
    use egg::{ENodeOrVar, Searcher};
    let mut out = Vec::new();
    for (l, r) in rules {
        let Some(m) = l.search_eclass(eg, cls) else {
            continue;
        };
        let ast = r.ast.as_ref();
        for subst in &m.substs {
            let mut ids: Vec<Id> = Vec::with_capacity(ast.len());
            let mut built: Vec<(Id, Math)> = Vec::new();
            for p in ast {
                let id = match p {
                    ENodeOrVar::Var(v) => subst.get(*v).map(|&i| eg.find(i)),
                    ENodeOrVar::ENode(n) => {
                        let n = n.clone().map_children(|c| ids[usize::from(c)]);
                        let id = eg.lookup(n.clone());
                        if let Some(i) = id {
                            built.push((eg.find(i), n));
                        }
                        id
                    }
                };
                match id {
                    Some(i) => ids.push(i),
                    None => break,
                }
            }
            if ids.len() == ast.len() && eg.find(ids[ids.len() - 1]) == eg.find(cls) {
                out.extend(built);
            }
        }
    }
    out
}

/// Candidate measurement over one saturated e-graph.
pub(crate) struct Search<'a> {
    pool: &'a ExprPool,
    eg: &'a MathGraph,
    root: Id,
    vars: &'a [ExprId],
    samples: &'a Samples,
    reference: &'a [Option<f64>],
    costs: HashMap<Id, (f64, Math)>,
    /// The accuracy rules, parsed.
    rules: Vec<(egg::Pattern<Math>, egg::Pattern<Math>)>,
    /// Nodes that accuracy rules built (found so far): tried first.
    preferred: RefCell<HashSet<(Id, Math)>>,
    /// Classes whose accuracy-rule matches were looked at.
    searched: RefCell<HashSet<Id>>,
    /// Terms measured so far (a term is measured once).
    seen: RefCell<HashMap<ExprId, Cand>>,
    /// Measurements left.
    budget: Cell<usize>,
    /// Builds left (duplicates and cycles cost a build, not a measurement).
    builds: Cell<usize>,
}

impl<'a> Search<'a> {
    /// A search measuring at most `budget` terms.
    pub fn new(
        pool: &'a ExprPool,
        eg: &'a MathGraph,
        root: Id,
        vars: &'a [ExprId],
        samples: &'a Samples,
        reference: &'a [Option<f64>],
        budget: usize,
    ) -> Search<'a> {
        Search {
            pool,
            eg,
            root: eg.find(root),
            vars,
            samples,
            reference,
            costs: extract(eg, Cost::Stability),
            rules: accuracy_rules(),
            preferred: RefCell::new(HashSet::new()),
            searched: RefCell::new(HashSet::new()),
            seen: RefCell::new(HashMap::new()),
            budget: Cell::new(budget),
            builds: Cell::new(budget.saturating_mul(16)),
        }
    }

    /// Look for accuracy-rule matches at `classes` (once per class).
    fn prefer(&self, classes: &[Id]) {
        for &c in classes {
            let c = self.eg.find(c);
            if self.searched.borrow_mut().insert(c) {
                let built = built_at(self.eg, &self.rules, c);
                self.preferred.borrow_mut().extend(built);
            }
        }
    }

    /// Whether an accuracy rule built `n` in `cls`.
    fn is_preferred(&self, cls: Id, n: &Math) -> bool {
        self.preferred.borrow().contains(&(cls, n.clone()))
    }

    /// Allow `n` more measurements.
    pub fn add_budget(&self, n: usize) {
        self.budget.set(self.budget.get() + n);
        self.builds.set(self.builds.get() + 16 * n);
    }

    /// Ops and per-point errors of a term (`None` when it does not lower).
    pub fn measure(&self, e: ExprId) -> Result<Option<Cand>> {
        let Ok(tape) = alkahest_tape::lower(self.pool, e, self.vars) else {
            return Ok(None);
        };
        if let Some(c) = self.seen.borrow().get(&e) {
            return Ok(Some(c.clone()));
        }
        let errs = point_errors(self.pool, e, self.vars, self.samples, self.reference)?;
        let c = Cand {
            expr: e,
            ops: tape.n_compute(),
            errs: errs.into_iter().map(|x| x.unwrap_or(64.0)).collect(),
            overlay: None,
        };
        self.seen.borrow_mut().insert(e, c.clone());
        Ok(Some(c))
    }

    fn chosen<'b>(&'b self, ov: &'b Overlay, c: Id) -> Option<&'b Math> {
        ov.iter()
            .find(|(k, _)| *k == c)
            .map(|x| &x.1)
            .or_else(|| self.costs.get(&c).map(|x| &x.1))
    }

    /// Build and measure the term of `ov`, and whether it is new (a term
    /// measured before comes from the cache); `None` when out of budget,
    /// cyclic, or not lowerable.
    fn eval(&self, ov: Overlay) -> Result<Option<(Cand, bool)>> {
        if self.budget.get() == 0 || self.builds.get() == 0 {
            return Ok(None);
        }
        self.builds.set(self.builds.get() - 1);
        let Ok(e) = build_with(self.pool, self.eg, &|c| self.chosen(&ov, c), self.root) else {
            return Ok(None);
        };
        let new = !self.seen.borrow().contains_key(&e);
        if new {
            self.budget.set(self.budget.get() - 1);
        }
        Ok(self.measure(e)?.map(|mut c| {
            c.overlay = Some(ov);
            (c, new)
        }))
    }

    /// Other nodes of `cls` than `chosen`: the cheapest (by the stability
    /// cost) of each operator not yet chosen first, then the others
    /// cheapest first; of two nodes that only swap a commutative node's
    /// operands, the first. The static cost penalizes every possible
    /// cancellation alike, so the accurate rewrite is often not the
    /// cheapest node; variety reaches it within a small budget.
    fn others(&self, cls: Id, chosen: &Math) -> Vec<Math> {
        let eg = self.eg;
        let key = |n: &Math| -> Math {
            let mut k = n.clone();
            if let Math::Add(c) | Math::Mul(c) | Math::Min(c) | Math::Max(c) | Math::Hypot(c) =
                &mut k
            {
                c.sort();
            }
            k.map_children(|c| eg.find(c))
        };
        let mut keys = vec![key(chosen)];
        let mut alts: Vec<(f64, Math)> = Vec::new();
        let cls = eg.find(cls);
        for n in &eg[cls].nodes {
            // `1 * a`, `a + 0` in the class of `a`: a cycle.
            if n.children().iter().any(|&c| eg.find(c) == cls) {
                continue;
            }
            let k = key(n);
            if keys.contains(&k) {
                continue;
            }
            keys.push(k);
            let kids: Option<f64> = n
                .children()
                .iter()
                .map(|c| self.costs.get(&eg.find(*c)).map(|x| x.0))
                .sum();
            if let Some(kids) = kids {
                alts.push((node_cost(eg, n, Cost::Stability) + kids, n.clone()));
            }
        }
        alts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Nodes built by accuracy rules first.
        let (pref, alts): (Costed, Costed) = alts
            .into_iter()
            .partition(|(_, n)| self.is_preferred(cls, n));
        // Variety first: the cheapest node of each operator, then the rest.
        let mut first: Vec<Math> = Vec::new();
        let mut rest: Vec<Math> = Vec::new();
        let mut kinds = vec![std::mem::discriminant(chosen)];
        for (_, n) in alts {
            let k = std::mem::discriminant(&n);
            if kinds.contains(&k) {
                rest.push(n);
            } else {
                kinds.push(k);
                first.push(n);
            }
        }
        first.extend(rest);
        // Sign flips (`-a`, `k a` for a constant `k`) last: they rarely
        // change accuracy.
        let flip = |n: &Math| match n {
            Math::Neg(_) => true,
            Math::Mul([a, b]) => eg[*a].data.constant.is_some() || eg[*b].data.constant.is_some(),
            _ => false,
        };
        let (mut keep, flips): (Vec<Math>, Vec<Math>) = first.into_iter().partition(|n| !flip(n));
        keep.extend(flips);
        let mut out: Vec<Math> = pref.into_iter().map(|(_, n)| n).collect();
        out.extend(keep);
        out
    }

    /// The classes of `ov`'s term, breadth first from the root, without
    /// constants and symbols (nothing to gain there).
    fn classes(&self, ov: &Overlay) -> Vec<Id> {
        let mut out = vec![self.root];
        let mut seen: HashSet<Id> = out.iter().copied().collect();
        let mut k = 0;
        while k < out.len() && out.len() < MAX_CLASSES {
            if let Some(n) = self.chosen(ov, out[k]) {
                for &c in n.children() {
                    let c = self.eg.find(c);
                    if seen.insert(c) {
                        out.push(c);
                    }
                }
            }
            k += 1;
        }
        out.retain(|&c| {
            let cls = &self.eg[c];
            cls.data.constant.is_none() && !cls.nodes.iter().any(|n| matches!(n, Math::Sym(_)))
        });
        out.truncate(MAX_CLASSES);
        out
    }

    /// `ov` with class `c` switched to `n`.
    fn with(ov: &Overlay, c: Id, n: Math) -> Overlay {
        let mut v: Overlay = ov.iter().filter(|(k, _)| *k != c).cloned().collect();
        v.push((c, n));
        v
    }

    /// The cost-optimal term; the root switched to each of its cheapest
    /// [`ROOT_BASES`] other nodes; then, round robin over those bases, one
    /// class below the root switched to another node, until `max` terms are
    /// measured (or the budget runs out).
    pub fn seeds(&self, max: usize) -> Result<Vec<Cand>> {
        let mut out: Vec<Cand> = Vec::new();
        let mut bases: Vec<Overlay> = Vec::new();
        self.prefer(&[self.root]);
        if let Some((c, _)) = self.eval(Vec::new())? {
            out.push(c);
            bases.push(Vec::new());
        }
        let Some(top) = self.chosen(&Vec::new(), self.root).cloned() else {
            return Ok(out);
        };
        for n in self.others(self.root, &top).into_iter().take(ROOT_BASES) {
            let ov = vec![(self.root, n)];
            if let Some((c, new)) = self.eval(ov.clone())? {
                if new {
                    out.push(c);
                }
                bases.push(ov);
            }
        }
        let mut queues: Vec<std::vec::IntoIter<(Id, Math)>> = bases
            .iter()
            .map(|b| {
                let mut q = Vec::new();
                let classes = self.classes(b);
                self.prefer(&classes);
                for cls in classes.into_iter().skip(1) {
                    if let Some(chosen) = self.chosen(b, cls) {
                        q.extend(self.others(cls, chosen).into_iter().map(|n| (cls, n)));
                    }
                }
                q.into_iter()
            })
            .collect();
        while out.len() < max && self.budget.get() > 0 && self.builds.get() > 0 {
            let mut any = false;
            for (b, q) in bases.iter().zip(queues.iter_mut()) {
                let Some((cls, n)) = q.next() else { continue };
                any = true;
                if let Some((c, true)) = self.eval(Self::with(b, cls, n))? {
                    out.push(c);
                }
            }
            if !any {
                break;
            }
        }
        Ok(out)
    }

    /// Improve `start` greedily on `points` (all samples for `None`):
    /// switch one class of its term at a time, keeping the first switch
    /// that lowers the mean error there (or keeps it with fewer
    /// operations), until no switch helps, [`MAX_STEPS`] switches were kept,
    /// or the budget runs out. Switches to nodes that an accuracy rule built
    /// come first (in any class of the term), then each class's
    /// [`PER_CLASS`] first other nodes ([`Search::others`]).
    pub fn climb(&self, start: Cand, points: Option<&[usize]>) -> Result<Cand> {
        let Some(_) = start.overlay else {
            return Ok(start);
        };
        let mut cur = start;
        let mut cur_err = cur.mean(points);
        for _ in 0..MAX_STEPS {
            let ov = cur.overlay.clone().unwrap_or_default();
            let mut next = None;
            // First the nodes accuracy rules built (in every class of the
            // term), then the other nodes of each class.
            let classes = self.classes(&ov);
            self.prefer(&classes);
            let mut tries: Vec<(Id, Math)> = Vec::new();
            for &cls in &classes {
                let chosen = self.chosen(&ov, cls);
                for n in &self.eg[cls].nodes {
                    if Some(n) != chosen && self.is_preferred(cls, n) {
                        tries.push((cls, n.clone()));
                    }
                }
            }
            for &cls in &classes {
                if let Some(chosen) = self.chosen(&ov, cls).cloned() {
                    for n in self.others(cls, &chosen).into_iter().take(PER_CLASS) {
                        if !tries.contains(&(cls, n.clone())) {
                            tries.push((cls, n));
                        }
                    }
                }
            }
            for (cls, n) in tries {
                if self.budget.get() == 0 || self.builds.get() == 0 {
                    break;
                }
                let Some((c, _)) = self.eval(Self::with(&ov, cls, n))? else {
                    continue;
                };
                let e = c.mean(points);
                if e < cur_err - 1e-9 || (e <= cur_err + 1e-9 && c.ops < cur.ops) {
                    next = Some((c, e));
                    break;
                }
            }
            match next {
                Some((c, e)) => (cur, cur_err) = (c, e),
                None => break,
            }
        }
        Ok(cur)
    }
}
