//! Compile configuration.

use crate::error::{Error, Result};

/// Where compiled code runs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Tier {
    /// The block interpreter: no compile latency.
    Interpreter,
    /// Cranelift JIT: fast compile, good code.
    Cranelift,
    /// LLVM JIT: slower compile, vectorized loops; best for large batches.
    Llvm,
    /// MLIR: the alkahest dialect lowered through arith/math to LLVM and run
    /// by MLIR's ExecutionEngine (chosen only on request).
    Mlir,
}

impl Tier {
    /// Lower-case name, as used by Python (`f.tier`, `force_tier=`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Interpreter => "interpreter",
            Tier::Cranelift => "cranelift",
            Tier::Llvm => "llvm",
            Tier::Mlir => "mlir",
        }
    }

    /// Parse a tier name (`"jit"` is accepted for LLVM, after its feature).
    pub fn parse(s: &str) -> Result<Tier> {
        match s {
            "interpreter" | "interp" => Ok(Tier::Interpreter),
            "cranelift" => Ok(Tier::Cranelift),
            "llvm" | "jit" => Ok(Tier::Llvm),
            "mlir" => Ok(Tier::Mlir),
            _ => Err(Error::UnknownOption {
                what: "tier",
                value: s.into(),
                expected: "'interpreter', 'cranelift', 'llvm', 'mlir'",
            }),
        }
    }
}

/// Which rewriting runs before lowering.
///
/// The default canonicalizes ([`Optimize::Speed`]) in builds with the
/// e-graph optimizer (cargo feature `egraph`), and is [`Optimize::None`]
/// in builds without it, where asking for rewriting only adds a note.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Optimize {
    /// Compile the expression as written.
    None,
    /// Fewest operations: e-graph rewriting (rules assume finite inputs),
    /// Horner form for polynomials, and `a*b + c` fused into one FMA on
    /// CPUs that have it. Agrees with the written form within rounding.
    Speed,
    /// Most accurate form (StabilityCost).
    Accuracy,
}

impl Default for Optimize {
    fn default() -> Self {
        if cfg!(feature = "egraph") {
            Optimize::Speed
        } else {
            Optimize::None
        }
    }
}

impl Optimize {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Optimize::None => "none",
            Optimize::Speed => "speed",
            Optimize::Accuracy => "accuracy",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Result<Optimize> {
        match s {
            "none" => Ok(Optimize::None),
            "speed" => Ok(Optimize::Speed),
            "accuracy" => Ok(Optimize::Accuracy),
            _ => Err(Error::UnknownOption {
                what: "optimize",
                value: s.into(),
                expected: "'none', 'speed', 'accuracy'",
            }),
        }
    }
}

/// How to compile: the planned number of evaluations steers the tier choice
/// (compile latency only pays off over enough points), `force_tier` pins it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CompileConfig {
    /// Points the caller expects to evaluate in total (None: unknown, treated
    /// as "few" for small expressions). The thresholds per tier, and the
    /// call-bound tapes that skip Cranelift, are in `plan.rs`.
    pub expected_evals: Option<u64>,
    /// Use this tier (falling back, with a note, if it is unavailable).
    pub force_tier: Option<Tier>,
    /// Rewriting before lowering.
    pub optimize: Optimize,
    /// Allow value-changing floating-point optimizations (reassociation,
    /// contraction, approximate functions) in native tiers. Off by default:
    /// NaN and infinities keep their IEEE meaning.
    pub fast_math: bool,
    /// LLVM's batch loop calls the same scalar libm routines as every other
    /// CPU path instead of glibc's vector math library (libmvec, a few ulps
    /// from libm), so batches are bit-identical to scalar calls and the
    /// interpreter on every tier, before and after an upgrade. Arithmetic
    /// stays vectorized; call-heavy expressions lose the vector routines'
    /// speed (benches/RESULTS.md). Off by default.
    pub exact_math: bool,
    /// Build the planned tier before returning. By default a function
    /// planned for LLVM returns at once on a cheaper tier (its
    /// [`Plan::interim`](crate::Plan::interim)) and swaps LLVM in when a
    /// background thread has built it; with `wait` it returns only once
    /// LLVM is built, as does a batch that calls for a faster tier.
    pub wait: bool,
    /// Where the inputs lie, by variable name: the accuracy sampling of the
    /// optimizer draws points there only, and its guards use it (a
    /// `where` keeping a rewrite defined outside the domain folds away).
    /// Empty: the whole float range. Results outside the domain are still
    /// computed, from a form chosen for inside it.
    pub domain: Domain,
}

/// Declared input intervals `[lo, hi]` by variable name, sorted by name
/// (see [`CompileConfig::domain`]). Hashes and compares the bounds' bits.
#[derive(Clone, Debug, Default)]
pub struct Domain(Vec<(String, f64, f64)>);

impl Domain {
    /// A domain from `(name, lo, hi)` entries: each interval must be
    /// non-empty (`lo <= hi`) and neither bound NaN; a name given twice is
    /// an error.
    pub fn new<S: Into<String>>(entries: impl IntoIterator<Item = (S, f64, f64)>) -> Result<Self> {
        let mut v: Vec<(String, f64, f64)> = Vec::new();
        for (name, lo, hi) in entries {
            let name = name.into();
            let bad = |reason: &str| Error::BadDomain {
                var: name.clone(),
                reason: reason.to_owned(),
            };
            if lo.is_nan() || hi.is_nan() {
                return Err(bad("a bound is NaN"));
            }
            if lo > hi {
                return Err(bad(&format!("empty interval [{lo}, {hi}]")));
            }
            if v.iter().any(|(n, ..)| *n == name) {
                return Err(bad("given twice"));
            }
            v.push((name, lo, hi));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Domain(v))
    }

    /// The entries, sorted by name.
    pub fn entries(&self) -> &[(String, f64, f64)] {
        &self.0
    }

    /// Whether no interval is declared (the whole float range).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries as text with the bounds' bits (cache keys).
    pub(crate) fn key_text(&self) -> String {
        self.key()
    }

    fn key(&self) -> String {
        self.0
            .iter()
            .map(|(n, lo, hi)| format!("{n:?}:{:x}:{:x}", lo.to_bits(), hi.to_bits()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl PartialEq for Domain {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Domain {}

impl std::hash::Hash for Domain {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl CompileConfig {
    /// A stable byte encoding, part of disk cache keys. `wait` is not in
    /// it: it changes when code is built, not what is built.
    pub fn key_bytes(&self) -> Vec<u8> {
        format!(
            "evals={:?};tier={:?};opt={};fast={};exact={};domain={}",
            self.expected_evals,
            self.force_tier.map(Tier::name),
            self.optimize.name(),
            self.fast_math,
            self.exact_math,
            self.domain.key()
        )
        .into_bytes()
    }
}
