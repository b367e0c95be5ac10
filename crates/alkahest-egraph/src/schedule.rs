//! The rule scheduler of [`crate::simplify`]'s saturation run.
//!
//! The policy is egg's default (`BackoffScheduler`): a rule whose search
//! finds more than its match limit (1,000, doubled at each ban) is banned
//! for a number of iterations (5, doubled at each ban), and when nothing
//! else changes, the runner fast-forwards to the next unban instead of
//! stopping. What differs is only what a search costs; the same rules
//! fire on the same matches, so the e-graph comes out identical:
//! - a rule whose left side names a constant the e-graph lacks (`x * 0`,
//!   `x ** (1/2)`, `exp(0)`) cannot match, and is not searched: egg would
//!   visit every class with the pattern's root operation to find that out;
//! - nor is one whose left side nests an operation in another in a way no
//!   e-node does (`log(a) + log(b)` where no `+` has a child class holding
//!   a `log`; see `rules::reach::pattern_pairs`), checked against a table
//!   of (operation, child operation) pairs built once per iteration;
//! - statistics live in a vector by rule position, not a map by name;
//! - the runner's limits are checked every [`SEARCHES_PER_LIMIT_CHECK`]
//!   searches instead of after each (a check reads the clock). The e-graph
//!   does not change while rules are searched, so only the time limit, a
//!   safety net, can end a search phase, and it now overshoots by at most
//!   that many searches.
//!
//! On issue 17's mixed formula these, with [`crate::rules::reach`], took
//! the saturation from about 225 to about 205 us.

use egg::{Id, Language, RewriteScheduler, RunnerLimits, RunnerResult, SearchMatches};
use hashbrown::{HashMap, HashSet};

use crate::analysis::{MathAnalysis, MathGraph};
use crate::lang::{Const, Math};
use crate::rules::Rw;
use crate::rules::reach::Kinds;

/// Matches above which a rule is banned, before any ban (egg's default).
const MATCH_LIMIT: usize = 1_000;
/// Iterations of a rule's first ban (egg's default); each ban doubles it.
const BAN_LENGTH: usize = 5;
/// See the module documentation.
const SEARCHES_PER_LIMIT_CHECK: usize = 8;

#[derive(Clone, Copy, Default)]
struct Stats {
    banned_until: usize,
    times_banned: u32,
}

/// What a rule's left side needs of the e-graph before it can match.
#[derive(Clone, Copy, Default)]
pub(crate) struct Needs {
    /// The constants it names.
    pub(crate) constants: &'static [Const],
    /// Its (operation, child operation) pairs.
    pub(crate) pairs: &'static [(usize, Kinds)],
}

/// Backoff scheduling for one run, over rules given in the order the
/// runner passes them.
pub(crate) struct Backoff {
    /// Per rule: what its left side needs.
    needs: Vec<Needs>,
    stats: Vec<Stats>,
}

impl Backoff {
    /// A scheduler for a run over rules whose left sides need `needs[i]`
    /// (in the runner's rule order).
    pub(crate) fn new(needs: Vec<Needs>) -> Backoff {
        let stats = vec![Stats::default(); needs.len()];
        Backoff { needs, stats }
    }
}

/// For each operation kind (by [`Kinds::bit`]), the kinds held by the
/// child classes of its e-nodes.
struct Nesting([Kinds; 64]);

impl Nesting {
    fn of(egraph: &MathGraph) -> Nesting {
        let kinds: HashMap<Id, Kinds> = egraph
            .classes()
            .map(|c| {
                (
                    c.id,
                    c.iter().fold(Kinds::NONE, |k, n| k.with(Kinds::of(n))),
                )
            })
            .collect();
        let mut below = [Kinds::NONE; 64];
        for class in egraph.classes() {
            for node in class.iter() {
                let Some(p) = Kinds::of(node).bit() else {
                    continue;
                };
                for &c in node.children() {
                    if let Some(&k) = kinds.get(&egraph.find(c)) {
                        below[p] = below[p].with(k);
                    }
                }
            }
        }
        Nesting(below)
    }

    /// Whether every pair in `pairs` occurs.
    fn has(&self, pairs: &[(usize, Kinds)]) -> bool {
        pairs.iter().all(|&(p, c)| self.0[p].meets(c))
    }
}

/// The constants the e-graph holds as leaves (what a pattern's constant can
/// match).
fn constants(egraph: &MathGraph) -> HashSet<&Const> {
    let mut out = HashSet::new();
    for class in egraph.classes() {
        for node in class.iter() {
            if let Math::Num(c) = node {
                out.insert(c);
            }
        }
    }
    out
}

impl RewriteScheduler<Math, MathAnalysis> for Backoff {
    fn can_stop(&mut self, iteration: usize) -> bool {
        // Rules still banned: move every ban forward so that the nearest
        // ends now, and go on instead of stopping.
        let Some(nearest) = self
            .stats
            .iter()
            .map(|s| s.banned_until)
            .filter(|&b| b > iteration)
            .min()
        else {
            return true;
        };
        let delta = nearest - iteration;
        for s in self.stats.iter_mut().filter(|s| s.banned_until > iteration) {
            s.banned_until -= delta;
        }
        false
    }

    fn search_rewrites<'a>(
        &mut self,
        iteration: usize,
        egraph: &MathGraph,
        rewrites: &[&'a Rw],
        limits: &RunnerLimits,
    ) -> RunnerResult<Vec<Vec<SearchMatches<'a, Math>>>> {
        // Rules the runner passes beyond those given (none in this crate)
        // are searched with no constant check.
        if self.stats.len() < rewrites.len() {
            self.stats.resize(rewrites.len(), Stats::default());
        }
        let present = constants(egraph);
        let nesting = Nesting::of(egraph);
        let mut matches = Vec::with_capacity(rewrites.len());
        for (i, rw) in rewrites.iter().enumerate() {
            matches.push(self.search_one(i, iteration, egraph, rw, (&present, &nesting)));
            if (i + 1) % SEARCHES_PER_LIMIT_CHECK == 0 || i + 1 == rewrites.len() {
                limits.check_limits(iteration, egraph)?;
            }
        }
        Ok(matches)
    }
}

impl Backoff {
    fn search_one<'a>(
        &mut self,
        i: usize,
        iteration: usize,
        egraph: &MathGraph,
        rw: &'a Rw,
        (present, nesting): (&HashSet<&Const>, &Nesting),
    ) -> Vec<SearchMatches<'a, Math>> {
        let stats = &mut self.stats[i];
        if iteration < stats.banned_until {
            return Vec::new();
        }
        let needs = self.needs.get(i).copied().unwrap_or_default();
        if !needs.constants.iter().all(|c| present.contains(c)) || !nesting.has(needs.pairs) {
            return Vec::new();
        }
        let threshold = MATCH_LIMIT
            .checked_shl(stats.times_banned)
            .unwrap_or(usize::MAX);
        let found = rw.search_with_limit(egraph, threshold.saturating_add(1));
        let total: usize = found.iter().map(|m| m.substs.len()).sum();
        if total > threshold {
            let length = BAN_LENGTH
                .checked_shl(stats.times_banned)
                .unwrap_or(usize::MAX);
            stats.times_banned += 1;
            stats.banned_until = iteration.saturating_add(length);
            Vec::new()
        } else {
            found
        }
    }
}

#[cfg(test)]
mod tests {
    use alkahest_core::{ExprPool, Func};
    use egg::Runner;

    use super::*;
    use crate::convert::add_to_egraph;
    use crate::rules::all;
    use crate::rules::reach::RuleTable;

    /// Run `rules` on `expr` with egg's own scheduler and with [`Backoff`]
    /// (constants checked): the e-graphs must be identical, class for
    /// class, after every iteration count, including runs long enough to
    /// ban the commuting rules.
    fn same_as_egg(pool: &ExprPool, expr: alkahest_core::ExprId, iters: usize, limit: usize) {
        let table: &'static RuleTable = Box::leak(Box::new(RuleTable::new(all())));
        let fresh = || {
            let mut eg = MathGraph::new(MathAnalysis::default());
            add_to_egraph(pool, expr, &mut eg).expect("converts");
            eg.rebuild();
            eg
        };
        let every: Vec<usize> = (0..table.len()).collect();
        let rules: Vec<&Rw> = every.iter().map(|&i| table.rule(i)).collect();
        let theirs = Runner::default()
            .with_egraph(fresh())
            .with_iter_limit(iters)
            .with_node_limit(limit)
            .run(rules.iter().copied());
        let ours = Runner::default()
            .with_scheduler(Backoff::new(
                every.iter().map(|&i| table.needs_of(i)).collect(),
            ))
            .with_egraph(fresh())
            .with_iter_limit(iters)
            .with_node_limit(limit)
            .run(rules.iter().copied());
        assert_eq!(theirs.iterations.len(), ours.iterations.len());
        for (a, b) in theirs.iterations.iter().zip(&ours.iterations) {
            assert_eq!(a.applied, b.applied);
            assert_eq!(a.egraph_nodes, b.egraph_nodes);
        }
        let dump = |eg: &MathGraph| {
            let mut v: Vec<String> = eg
                .classes()
                .flat_map(|c| c.iter().map(move |n| format!("{} {n:?}", c.id)))
                .collect();
            v.sort();
            v
        };
        assert_eq!(dump(&theirs.egraph), dump(&ours.egraph));
    }

    /// The nesting table rules out `log(a) + log(b)` where no `+` has a
    /// `log` child class (egg's search agrees: no match), and keeps it
    /// where one does, even if the rule then does not match.
    #[test]
    fn nesting_rules_out_only_patterns_that_cannot_match() {
        let table: &'static RuleTable = Box::leak(Box::new(RuleTable::new(all())));
        let i = (0..table.len())
            .find(|&i| table.rule(i).name.as_str() == "log_add")
            .expect("log_add");
        let p = ExprPool::new();
        let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
        let log_x = p.func(Func::Log, &[x]).unwrap();
        let graph = |e| {
            let mut eg = MathGraph::new(MathAnalysis::default());
            add_to_egraph(&p, e, &mut eg).expect("converts");
            eg.rebuild();
            eg
        };
        // log(x) * y + x: the log is under a `*`, not a `+`.
        let under_mul = graph(p.add(&[p.mul(&[log_x, y]).unwrap(), x]).unwrap());
        assert!(!Nesting::of(&under_mul).has(table.needs_of(i).pairs));
        assert!(table.rule(i).search(&under_mul).is_empty());
        // log(x) + y: a `+` with a `log` child, one `log` only.
        let under_add = graph(p.add(&[log_x, y]).unwrap());
        assert!(Nesting::of(&under_add).has(table.needs_of(i).pairs));
        assert!(table.rule(i).search(&under_add).is_empty());
        // log(x) + log(y): a match.
        let log_y = p.func(Func::Log, &[y]).unwrap();
        let both = graph(p.add(&[log_x, log_y]).unwrap());
        assert!(Nesting::of(&both).has(table.needs_of(i).pairs));
        assert!(!table.rule(i).search(&both).is_empty());
    }

    #[test]
    fn same_e_graph_as_egg_scheduler() {
        let p = ExprPool::new();
        let (x, y, z) = (
            p.symbol("x").unwrap(),
            p.symbol("y").unwrap(),
            p.symbol("z").unwrap(),
        );
        let one = p.integer(1).unwrap();
        let q = p.rational(-1, 4).unwrap();
        let exp = p.func(Func::Exp, &[p.mul(&[q, x, y]).unwrap()]).unwrap();
        let log = p.func(Func::Log, &[p.add(&[one, z]).unwrap()]).unwrap();
        let y2 = p.pow(y, p.integer(2).unwrap()).unwrap();
        let root = p
            .pow(p.add(&[x, y2, z]).unwrap(), p.rational(1, 2).unwrap())
            .unwrap();
        let t = p.func(Func::Tanh, &[p.sub(x, z).unwrap()]).unwrap();
        let mixed = p
            .add(&[p.mul(&[exp, log]).unwrap(), p.mul(&[root, t]).unwrap()])
            .unwrap();
        same_as_egg(&p, mixed, 4, 2_000);
        // Wide enough for the associativity and commutativity rules to
        // find more than 1,000 matches, be banned and unbanned (add_comm,
        // add_assoc_l/r and add_neg_const are, from iteration 3 on, and
        // the run ends at 10,199 nodes): a wrong ban would show as a
        // different e-graph.
        let syms: Vec<_> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|n| p.symbol(n).unwrap())
            .collect();
        let prod = p.mul(&syms[..4]).unwrap();
        let s = p.func(Func::Sin, &[x]).unwrap();
        let wide = p.add(&[&syms[..], &[prod, s, y2]].concat()).unwrap();
        same_as_egg(&p, wide, 12, 50_000);
    }
}
