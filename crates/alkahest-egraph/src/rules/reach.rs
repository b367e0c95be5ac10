//! Which rules can ever match, from the node kinds an e-graph holds.
//!
//! Searching a rule costs time even when it finds nothing: egg visits
//! every e-class with the pattern's root operation and walks its nodes, and
//! the runner checks its limits around each rule. A rule whose left side
//! needs an operation the e-graph lacks, and that no rule can build from
//! what it has, never matches; leaving it out of the run changes nothing
//! (the same rules fire on the same matches in the same order, so the
//! e-graph and its ids come out identical), but saves its searches. On
//! issue 17's mixed formula, about half of the rules need a trigonometric,
//! special or rounding function, a condition or a `where`.

use egg::{ENodeOrVar, Language, PatternAst};

use crate::lang::{Const, Math};
use crate::rules::Rw;

/// A set of node kinds (the variants of [`Math`]), one bit each.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Kinds(u64);

impl Kinds {
    /// No kind.
    pub(crate) const NONE: Kinds = Kinds(0);
    /// Every kind: what a right side written as code may build.
    const ALL: Kinds = Kinds(u64::MAX);

    /// The kind of `n`: arithmetic and leaves first, then one bit per
    /// [`alkahest_core::Func`] (49 of them, so 57 bits in all).
    pub(crate) fn of(n: &Math) -> Kinds {
        let bit = match n {
            Math::Add(_) => 0,
            Math::Sub(_) => 1,
            Math::Mul(_) => 2,
            Math::Div(_) => 3,
            Math::Neg(_) => 4,
            Math::Pow(_) => 5,
            Math::Num(_) => 6,
            Math::Sym(_) => 7,
            other => match other.func() {
                Some(f) => 8 + f as u32,
                // Every other variant is a function (`Math::func`).
                None => return Kinds::ALL,
            },
        };
        Kinds(1u64.checked_shl(bit).unwrap_or(u64::MAX))
    }

    /// The kinds of the operations in a pattern (its variables match
    /// anything, so they add none).
    fn of_pattern(ast: &PatternAst<Math>) -> Kinds {
        ast.as_ref().iter().fold(Kinds::NONE, |k, node| match node {
            ENodeOrVar::ENode(n) => k.with(Kinds::of(n)),
            ENodeOrVar::Var(_) => k,
        })
    }

    /// Both sets together.
    pub(crate) fn with(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    fn contains(self, other: Kinds) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the two sets share a kind.
    pub(crate) fn meets(self, other: Kinds) -> bool {
        self.0 & other.0 != 0
    }

    /// The position of a single kind's bit (`None` for a set of several).
    pub(crate) fn bit(self) -> Option<usize> {
        (self.0.count_ones() == 1).then_some(self.0.trailing_zeros() as usize)
    }
}

/// What a pattern needs of an e-graph's shape: for each of its operations
/// (by [`Kinds::bit`]), the kind of each child that is an operation too;
/// a variable child matches anything, so it needs nothing. A match binds
/// every pattern operation to an e-node of its kind and each such child to
/// an e-node of its kind in that e-node's child class, so an e-graph where
/// no node of kind `p` has a child class holding a `c` cannot match.
fn pattern_pairs(ast: &PatternAst<Math>) -> Vec<(usize, Kinds)> {
    let nodes = ast.as_ref();
    let mut out = Vec::new();
    for node in nodes {
        let ENodeOrVar::ENode(n) = node else { continue };
        let Some(p) = Kinds::of(n).bit() else {
            continue;
        };
        for &c in n.children() {
            if let ENodeOrVar::ENode(child) = &nodes[usize::from(c)] {
                let pair = (p, Kinds::of(child));
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
        }
    }
    out
}

/// The constants a pattern names.
fn pattern_constants(ast: &PatternAst<Math>) -> Vec<Const> {
    let mut out = Vec::new();
    for node in ast.as_ref() {
        if let ENodeOrVar::ENode(Math::Num(c)) = node
            && !out.contains(c)
        {
            out.push(c.clone());
        }
    }
    out
}

/// The rules of [`crate::rules::all`] with the kinds each needs (its left
/// side's operations) and may build (its right side's).
pub(crate) struct RuleTable {
    rules: Vec<Rw>,
    needs: Vec<Kinds>,
    builds: Vec<Kinds>,
    /// The constants each left side names (see [`crate::schedule`]).
    constants: Vec<Vec<Const>>,
    /// The (operation, child operation) pairs each left side needs (see
    /// [`pattern_pairs`] and [`crate::schedule`]).
    pairs: Vec<Vec<(usize, Kinds)>>,
}

impl RuleTable {
    /// The table of `rules`. A left side that is not a pattern needs
    /// nothing (it is always searched); a right side that is code builds
    /// what [`custom_builds`] says, or anything.
    pub(crate) fn new(rules: Vec<Rw>) -> RuleTable {
        let needs = rules
            .iter()
            .map(|r| {
                r.searcher
                    .get_pattern_ast()
                    .map_or(Kinds::NONE, Kinds::of_pattern)
            })
            .collect();
        let builds = rules
            .iter()
            .map(|r| match r.applier.get_pattern_ast() {
                Some(ast) => Kinds::of_pattern(ast),
                None => custom_builds(r.name.as_str()),
            })
            .collect();
        let constants = rules
            .iter()
            .map(|r| {
                r.searcher
                    .get_pattern_ast()
                    .map_or_else(Vec::new, pattern_constants)
            })
            .collect();
        let pairs = rules
            .iter()
            .map(|r| {
                r.searcher
                    .get_pattern_ast()
                    .map_or_else(Vec::new, pattern_pairs)
            })
            .collect();
        RuleTable {
            rules,
            needs,
            builds,
            constants,
            pairs,
        }
    }

    /// How many rules there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// Rule `i`.
    pub(crate) fn rule(&self, i: usize) -> &Rw {
        &self.rules[i]
    }

    /// What rule `i`'s left side needs of an e-graph to match (for the
    /// scheduler; the table lives as long as the process).
    pub(crate) fn needs_of(&'static self, i: usize) -> crate::schedule::Needs {
        crate::schedule::Needs {
            constants: &self.constants[i],
            pairs: &self.pairs[i],
        }
    }

    /// The rules, in order, that can match in an e-graph holding the kinds
    /// `present`: those whose needs are met by `present` together with
    /// whatever the rules so admitted can build (to a fixed point).
    /// Constants are always counted present (the analysis adds folded
    /// constants as leaves).
    pub(crate) fn reachable(&self, present: Kinds) -> Vec<usize> {
        let mut have = present.with(Kinds::of(&Math::Num(Const::int(0))));
        let mut admitted = vec![false; self.rules.len()];
        loop {
            let before = have;
            for (i, ok) in admitted.iter_mut().enumerate() {
                if !*ok && have.contains(self.needs[i]) {
                    *ok = true;
                    have = have.with(self.builds[i]);
                }
            }
            if have == before {
                break;
            }
        }
        admitted
            .iter()
            .enumerate()
            .filter_map(|(i, &ok)| ok.then_some(i))
            .collect()
    }
}

/// What a rule whose right side is code builds, by rule name: the
/// negative-constant rules build a constant and `*`/`neg` or `-`. An
/// unknown one may build anything.
fn custom_builds(name: &str) -> Kinds {
    let k = |n: Math| Kinds::of(&n);
    let id = egg::Id::from(0usize);
    match name {
        "add_neg_const" | "mul_neg_const" => k(Math::Num(Const::int(1)))
            .with(k(Math::Mul([id, id])))
            .with(k(Math::Neg(id)))
            .with(k(Math::Sub([id, id]))),
        _ => Kinds::ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::all;

    fn names(table: &RuleTable, rules: &[usize]) -> Vec<String> {
        rules
            .iter()
            .map(|&i| table.rule(i).name.to_string())
            .collect()
    }

    /// Every function has its own bit, distinct from the arithmetic ones.
    #[test]
    fn kinds_are_distinct() {
        let id = egg::Id::from(0usize);
        let mut seen = Kinds::NONE;
        for f in alkahest_core::Func::ALL {
            let args = vec![id; f.arity()];
            let n = Math::from_func(f, &args).expect("arity");
            let k = Kinds::of(&n);
            assert_eq!(k.0.count_ones(), 1, "{f:?}");
            assert!(!seen.contains(k), "{f:?} shares a bit");
            seen = seen.with(k);
        }
        for n in [
            Math::Add([id, id]),
            Math::Sub([id, id]),
            Math::Mul([id, id]),
            Math::Div([id, id]),
            Math::Neg(id),
            Math::Pow([id, id]),
            Math::Sym("x".into()),
        ] {
            let k = Kinds::of(&n);
            assert_eq!(k.0.count_ones(), 1);
            assert!(!seen.contains(k), "{n:?} shares a bit");
            seen = seen.with(k);
        }
    }

    /// Only rules that can never match are left out: the trigonometric
    /// ones go for a formula without trigonometry, stay when the formula
    /// has `tan` (rules rewrite it to `sin`/`cos`), and nothing is left out
    /// when every kind is present.
    #[test]
    fn leaves_out_only_what_cannot_match() {
        let table = RuleTable::new(all());
        let everything = table.reachable(Kinds::ALL);
        assert_eq!(everything.len(), table.len());

        let id = egg::Id::from(0usize);
        let arith = [
            Math::Add([id, id]),
            Math::Mul([id, id]),
            Math::Sym("x".into()),
        ]
        .iter()
        .fold(Kinds::NONE, |k, n| k.with(Kinds::of(n)));
        let some = names(&table, &table.reachable(arith));
        assert!(some.contains(&"add_comm".to_string()));
        assert!(!some.iter().any(|n| n == "pythagoras"), "{some:?}");
        assert!(some.len() < table.len());

        let with_tan = arith.with(Kinds::of(&Math::Tan(id)));
        let more = names(&table, &table.reachable(with_tan));
        assert!(more.len() >= some.len());
        for n in &some {
            assert!(more.contains(n), "{n} dropped when tan was added");
        }
    }
}
