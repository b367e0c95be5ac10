//! Why a faster tier was not used, as values.
//!
//! A [`Fallback`] displays as the note the Python layer turns into a
//! `FallbackWarning` (`CompiledFn::notes`); the text is part of the
//! interface (tests and users match on it).

use std::fmt;

use crate::config::Tier;
use crate::tiers::cargo_feature;

/// One tier given up for another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Fallback {
    /// The tier that was wanted.
    pub from: Tier,
    /// The tier used instead.
    pub to: Tier,
    /// Why.
    pub reason: Reason,
    /// Which calls it concerns.
    pub scope: Scope,
}

/// Why a tier was not used.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// This build lacks the tier (the cargo feature named).
    NotCompiledIn(&'static str),
    /// The backend could not compile this expression (its error, as text).
    BackendFailed(String),
    /// The tier starts from the source expression, and the function was
    /// built from a bare tape.
    NeedsSource,
    /// The tier starts from the canonical expression, and `optimize="none"`
    /// evaluates this one as written, in an order the canonical form lost.
    AsWritten,
}

/// Which calls a [`Fallback`] concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The function (every call, or every batch after an upgrade).
    Function,
    /// Scalar calls that were moving up (see `Plan::scalar_move`); batches
    /// are not affected.
    ScalarCalls,
}

/// How notes name a tier's backend.
fn label(t: Tier) -> &'static str {
    match t {
        Tier::Interpreter => "interpreter",
        Tier::Cranelift => "Cranelift",
        Tier::Llvm => "LLVM",
        Tier::Mlir => "MLIR",
    }
}

const TIERS: [Tier; 4] = [Tier::Interpreter, Tier::Cranelift, Tier::Llvm, Tier::Mlir];

impl Fallback {
    /// A fallback of the whole function.
    pub(crate) fn function(from: Tier, to: Tier, reason: Reason) -> Self {
        Fallback {
            from,
            to,
            reason,
            scope: Scope::Function,
        }
    }

    /// What the reason says, before the consequence.
    fn cause(from: Tier, reason: &Reason) -> String {
        let l = label(from);
        match reason {
            Reason::NotCompiledIn(feature) => {
                format!("this build has no {l} tier (cargo feature '{feature}')")
            }
            Reason::BackendFailed(e) => format!("{l} could not compile this expression ({e})"),
            Reason::NeedsSource => format!("the {l} tier needs the source expression"),
            Reason::AsWritten => format!(
                "the {l} tier compiles the canonical form, and optimize='none' evaluates this expression as written"
            ),
        }
    }

    /// The consequence, after the cause.
    fn consequence(scope: Scope, to: Tier) -> String {
        match scope {
            Scope::Function => format!("; falling back to the {} tier", to.name()),
            Scope::ScalarCalls => format!("; scalar calls stay on the {}", to.name()),
        }
    }

    /// The fallback whose note is `s`, the inverse of its `Display` (notes
    /// come back as text from a disk cache entry and from
    /// [`crate::CompiledFn::notes`]); `None` for other notes.
    pub fn parse(s: &str) -> Option<Fallback> {
        let (cause, to, scope) = TIERS.iter().find_map(|&to| {
            [Scope::Function, Scope::ScalarCalls]
                .into_iter()
                .find_map(|scope| {
                    s.strip_suffix(Self::consequence(scope, to).as_str())
                        .map(|c| (c, to, scope))
                })
        })?;
        let (from, reason) = TIERS.iter().find_map(|&from| {
            let reason = parse_cause(cause, from)?;
            Some((from, reason))
        })?;
        Some(Fallback {
            from,
            to,
            reason,
            scope,
        })
    }
}

fn parse_cause(cause: &str, from: Tier) -> Option<Reason> {
    let exact = [
        Reason::NotCompiledIn(cargo_feature(from)),
        Reason::NeedsSource,
        Reason::AsWritten,
    ];
    if let Some(r) = exact
        .into_iter()
        .find(|r| Fallback::cause(from, r) == cause)
    {
        return Some(r);
    }
    let template = Fallback::cause(from, &Reason::BackendFailed("\u{0}".into()));
    let (before, after) = template.split_once('\u{0}')?;
    let e = cause.strip_prefix(before)?.strip_suffix(after)?;
    Some(Reason::BackendFailed(e.to_owned()))
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::cause(self.from, &self.reason))?;
        f.write_str(&Self::consequence(self.scope, self.to))
    }
}

/// A note on a compiled function: a fallback, or other text (the optimizer
/// was not compiled in, the disk cache could not be written, ...).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Note {
    Fallback(Fallback),
    Text(String),
}

impl Note {
    /// A note read back as text (from a disk cache entry).
    pub(crate) fn from_text(s: String) -> Note {
        match Fallback::parse(&s) {
            Some(f) => Note::Fallback(f),
            None => Note::Text(s),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Fallback(x) => x.fmt(f),
            Note::Text(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Fallback> {
        let mut v = Vec::new();
        for from in [Tier::Cranelift, Tier::Llvm, Tier::Mlir] {
            for to in TIERS {
                for scope in [Scope::Function, Scope::ScalarCalls] {
                    for reason in [
                        Reason::NotCompiledIn(cargo_feature(from)),
                        Reason::NeedsSource,
                        Reason::AsWritten,
                        Reason::BackendFailed(
                            "boom (at op 3); falling back to the llvm tier".into(),
                        ),
                        Reason::BackendFailed(String::new()),
                    ] {
                        v.push(Fallback {
                            from,
                            to,
                            reason,
                            scope,
                        });
                    }
                }
            }
        }
        v
    }

    /// The texts the Python layer has always shown.
    #[test]
    fn notes_read_as_before() {
        let f = |from, to, reason| Fallback::function(from, to, reason).to_string();
        assert_eq!(
            f(Tier::Mlir, Tier::Llvm, Reason::NotCompiledIn("mlir")),
            "this build has no MLIR tier (cargo feature 'mlir'); falling back to the llvm tier"
        );
        assert_eq!(
            f(
                Tier::Cranelift,
                Tier::Interpreter,
                Reason::NotCompiledIn("cranelift")
            ),
            "this build has no Cranelift tier (cargo feature 'cranelift'); falling back to the interpreter tier"
        );
        assert_eq!(
            f(
                Tier::Llvm,
                Tier::Cranelift,
                Reason::BackendFailed("bad".into())
            ),
            "LLVM could not compile this expression (bad); falling back to the cranelift tier"
        );
        assert_eq!(
            f(Tier::Mlir, Tier::Llvm, Reason::NeedsSource),
            "the MLIR tier needs the source expression; falling back to the llvm tier"
        );
        let scalar = Fallback {
            scope: Scope::ScalarCalls,
            ..Fallback::function(
                Tier::Cranelift,
                Tier::Interpreter,
                Reason::BackendFailed("x".into()),
            )
        };
        assert_eq!(
            scalar.to_string(),
            "Cranelift could not compile this expression (x); scalar calls stay on the interpreter"
        );
    }

    #[test]
    fn notes_parse_back() {
        for f in all() {
            assert_eq!(Fallback::parse(&f.to_string()), Some(f.clone()), "{f}");
            assert_eq!(Note::from_text(f.to_string()), Note::Fallback(f));
        }
        for other in [
            "compile cache: writing an entry failed (disk full); this function is not persisted",
            "optimize='speed' needs the e-graph optimizer, which this build lacks (cargo feature 'egraph'); compiling the expression as written",
            "; falling back to the llvm tier",
            "",
        ] {
            assert_eq!(Fallback::parse(other), None, "{other}");
            assert_eq!(Note::from_text(other.into()), Note::Text(other.into()));
        }
    }
}
