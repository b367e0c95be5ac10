//! C99 source emission.
//!
//! The tape is printed as one self-contained C function. Values read more
//! than once become `const double` temporaries (so shared subexpressions are
//! computed once, as in every other backend); single-use values are inlined
//! into their user up to a small nesting depth, which keeps simple formulas
//! on one line and keeps deep chains from producing expressions a C compiler
//! would refuse to parse. Ops no output depends on are not emitted.
//!
//! A one-output tape becomes `double f(double x, double y) { ... return ...; }`.
//! A tape with `m > 1` outputs becomes
//! `void f(double x, double y, double *out) { ... out[0] = ...; ... }`,
//! writing `out[0..m)` after every shared temporary has been computed once
//! ([`emit_function`]); [`emit_function_out`] emits that form for any number
//! of outputs, with a chosen name for the pointer.
//!
//! Functions are the C99 `<math.h>` functions named in the kernel's table
//! (`UnaryFn::c_name`, `BinaryFn::c_name`); link with `-lm`. Comparisons
//! are `(a < b ? 1.0 : 0.0)` and selections `(c != 0.0 ? a : b)` (a
//! comparison used once as a condition is folded: `(a < b ? x : y)`); C's
//! relational operators have the tape's IEEE semantics (false on NaN, `!=`
//! true), as long as the caller does not compile with `-ffast-math`.
//!
//! Semantics follow the tape with these documented exceptions, inherent to
//! C99's library: `min`/`max` are emitted as NaN-propagating expressions
//! around `fmin`/`fmax`, whose choice between `-0.0` and `+0.0` is
//! unspecified; the caller's compiler flags decide contraction into FMA
//! (use `-ffp-contract=off` for bit-compatibility with the interpreter);
//! the function results are whatever the linked libm computes (the same
//! bits as the interpreter's when that is the same glibc, except `cbrt`:
//! Rust programs link compiler-builtins' correctly rounded `cbrt`, so the
//! kernel's reference may differ from glibc's in the last bit); and C's `lgamma`
//! writes the global `signgam`, so an emitted function that uses it is not
//! safe to call from several threads at once (the kernel calls `lgamma_r`,
//! which is not C99).

use alkahest_tape::{BinaryFn, Op, Reg, Tape, UnaryFn};

/// Errors of C emission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A name that is not a valid C identifier, is a C keyword or a
    /// `<math.h>` name the code uses, or clashes with another name of the
    /// same function.
    #[error(
        "{what} {name:?} is not a valid C identifier here (letters, digits and '_', not starting with a digit, not a C keyword or <math.h> name, distinct from the function's other names)"
    )]
    InvalidName {
        /// "function name", "variable name" or "output pointer name".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The same parameter name twice.
    #[error("parameter name {0:?} is used twice")]
    DuplicateName(String),
    /// Wrong number of parameter names.
    #[error("tape has {expected} input(s) but {got} parameter name(s) were given")]
    Arity {
        /// Tape inputs.
        expected: usize,
        /// Names given.
        got: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

const KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Imaginary",
];

/// Names from `<math.h>` the emitted code uses besides the tape functions'
/// own (which come from the kernel's table): a parameter must not shadow
/// any of them.
const MATH_EXTRA_NAMES: &[&str] = &["fma", "isnan", "NAN", "INFINITY"];

/// Whether `s` names something the emitted code takes from `<math.h>`.
fn is_math_name(s: &str) -> bool {
    MATH_EXTRA_NAMES.contains(&s)
        || UnaryFn::ALL.iter().any(|f| f.c_name() == s)
        || BinaryFn::ALL.iter().any(|f| f.c_name() == s)
}

/// True for a valid, non-reserved C identifier.
pub fn is_c_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let ok_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    ok_start
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
        && !s.starts_with("__")
}

/// How deep single-use values are inlined before a temporary is forced.
const MAX_INLINE_DEPTH: u32 = 8;

fn literal(c: f64) -> String {
    if c.is_nan() {
        "NAN".into()
    } else if c.is_infinite() {
        if c > 0.0 {
            "INFINITY".into()
        } else {
            "(-INFINITY)".into()
        }
    } else {
        let mut s = format!("{c:?}");
        if !s.contains(['.', 'e', 'E']) {
            s.push_str(".0");
        }
        if c.is_sign_negative() {
            format!("({s})")
        } else {
            s
        }
    }
}

/// Emit a C99 function computing `tape`, with `param_names[i]` naming
/// input `i`:
///
/// - one output: `double fn_name(double v0, double v1, ...) { ... return ...; }`;
/// - `m > 1` outputs: `void fn_name(double v0, ..., double *out) { ... }`
///   writing output `k` to `out[k]` for `k < m` (as [`emit_function_out`];
///   the pointer is `out`, or `out_`, `out__`, ... when a parameter already
///   has that name).
///
/// A function with no inputs takes `(void)` (resp. just the pointer).
pub fn emit_function(tape: &Tape, param_names: &[&str], fn_name: &str) -> Result<String> {
    if tape.n_outputs() == 1 {
        return emit(tape, param_names, fn_name, None);
    }
    let mut out = String::from("out");
    while param_names.contains(&out.as_str()) {
        out.push('_');
    }
    emit(tape, param_names, fn_name, Some(&out))
}

/// Emit `void fn_name(double v0, ..., double *out_name) { ... }` writing
/// output `k` of `tape` to `out_name[k]`, for any number of outputs (one
/// included).
///
/// This is the form [`emit_function`] uses for several outputs; it exists
/// separately for callers that want one calling convention whatever the
/// number of outputs (generated glue code, a table of function pointers),
/// or that choose the pointer's name. Fails with [`Error::InvalidName`]
/// when `out_name` is not a valid identifier or equals a parameter or
/// function name.
pub fn emit_function_out(
    tape: &Tape,
    param_names: &[&str],
    fn_name: &str,
    out_name: &str,
) -> Result<String> {
    emit(tape, param_names, fn_name, Some(out_name))
}

/// Check a name used in the emitted function's signature.
fn check_name(what: &'static str, name: &str) -> Result<()> {
    if !is_c_identifier(name) || is_math_name(name) {
        return Err(Error::InvalidName {
            what,
            name: name.into(),
        });
    }
    Ok(())
}

/// How a register is referenced from its users.
struct Text {
    /// A name, a literal, or an inlined expression already wrapped in
    /// parentheses where needed.
    expr: String,
    /// For an inlined comparison, its bare test (`a < b`), so that a
    /// `Select` on it reads `(a < b ? x : y)` rather than testing 1.0/0.0.
    test: Option<String>,
    /// Nesting depth of inlined operations.
    depth: u32,
}

fn emit(tape: &Tape, param_names: &[&str], fn_name: &str, out: Option<&str>) -> Result<String> {
    check_name("function name", fn_name)?;
    if param_names.len() != tape.n_inputs() {
        return Err(Error::Arity {
            expected: tape.n_inputs(),
            got: param_names.len(),
        });
    }
    for (i, n) in param_names.iter().enumerate() {
        check_name("variable name", n)?;
        if *n == fn_name {
            return Err(Error::InvalidName {
                what: "variable name",
                name: n.to_string(),
            });
        }
        if param_names[..i].contains(n) {
            return Err(Error::DuplicateName(n.to_string()));
        }
    }
    if let Some(o) = out {
        check_name("output pointer name", o)?;
        if o == fn_name || param_names.contains(&o) {
            return Err(Error::InvalidName {
                what: "output pointer name",
                name: o.to_string(),
            });
        }
    }
    // Temporaries are `t<N>` with a prefix no parameter (or the output
    // pointer) starts with.
    let mut prefix = String::from("t");
    while param_names
        .iter()
        .chain(out.as_slice())
        .any(|n| n.starts_with(prefix.as_str()))
    {
        prefix.push('_');
    }

    let ops = tape.ops();
    let outputs = tape.outputs();
    // Live ops, and how often each register is read by live ops or
    // outputs (each output counts once).
    let mut live = vec![false; ops.len()];
    for &o in outputs {
        live[o as usize] = true;
    }
    let mut uses = vec![0u32; ops.len()];
    for &o in outputs {
        uses[o as usize] += 1;
    }
    for i in (0..ops.len()).rev() {
        if live[i] {
            for r in ops[i].operands() {
                live[r as usize] = true;
                uses[r as usize] += 1;
            }
        }
    }
    let mut is_output = vec![false; ops.len()];
    for &o in outputs {
        is_output[o as usize] = true;
    }
    // min/max repeat their operands textually, so those must be names.
    let mut must_name = vec![false; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        if let (true, Op::Binary(BinaryFn::Min | BinaryFn::Max, a, b)) = (live[i], *op) {
            must_name[a as usize] = true;
            must_name[b as usize] = true;
        }
    }
    let mut text: Vec<Text> = Vec::with_capacity(ops.len());
    let mut body = String::new();
    let mut n_temps = 0usize;
    for (i, op) in ops.iter().enumerate() {
        if !live[i] {
            // Never referenced; keeps indices aligned.
            text.push(Text {
                expr: String::new(),
                test: None,
                depth: 0,
            });
            continue;
        }
        let t = |r: Reg| text[r as usize].expr.as_str();
        let mut test = None;
        let expr = match *op {
            Op::Input(v) => param_names[v as usize].to_string(),
            Op::Const(c) => literal(c),
            Op::Neg(a) => format!("(-{})", t(a)),
            Op::Add(a, b) => format!("({} + {})", t(a), t(b)),
            Op::Sub(a, b) => format!("({} - {})", t(a), t(b)),
            Op::Mul(a, b) => format!("({} * {})", t(a), t(b)),
            Op::Div(a, b) => format!("({} / {})", t(a), t(b)),
            Op::Unary(f, a) => format!("{}({})", f.c_name(), t(a)),
            Op::Binary(f @ (BinaryFn::Min | BinaryFn::Max), a, b) => format!(
                "((isnan({a}) || isnan({b})) ? NAN : {f}({a}, {b}))",
                a = t(a),
                b = t(b),
                f = f.c_name()
            ),
            Op::Binary(f, a, b) => format!("{}({}, {})", f.c_name(), t(a), t(b)),
            Op::Fma(a, b, c) => format!("fma({}, {}, {})", t(a), t(b), t(c)),
            Op::Cmp(k, a, b) => {
                let cond = format!("{} {} {}", t(a), k.c_op(), t(b));
                let e = format!("({cond} ? 1.0 : 0.0)");
                test = Some(cond);
                e
            }
            Op::Select(c, a, b) => {
                let cond = match &text[c as usize].test {
                    Some(cond) => cond.clone(),
                    None => format!("{} != 0.0", t(c)),
                };
                format!("({cond} ? {} : {})", t(a), t(b))
            }
        };
        let d = op
            .operands()
            .map(|r| text[r as usize].depth)
            .max()
            .map_or(0, |m| m + 1);
        let is_leaf = matches!(op, Op::Input(_) | Op::Const(_));
        let single = uses[i] <= 1 && !must_name[i];
        if is_leaf || (single && d < MAX_INLINE_DEPTH && !is_output[i]) {
            // Inlined into its one user.
            let depth = if is_leaf { 0 } else { d };
            text.push(Text { expr, test, depth });
        } else if single && is_output[i] {
            // Read by nothing but its output slot: printed there.
            text.push(Text {
                expr,
                test: None,
                depth: d,
            });
        } else {
            let name = format!("{prefix}{n_temps}");
            n_temps += 1;
            body.push_str(&format!(
                "    const double {name} = {};\n",
                strip_parens(&expr)
            ));
            text.push(Text {
                expr: name,
                test: None,
                depth: 0,
            });
        }
    }
    let mut params: Vec<String> = param_names.iter().map(|n| format!("double {n}")).collect();
    let result = |r: Reg| strip_parens(&text[r as usize].expr).to_string();
    Ok(match out {
        None => {
            let params = if params.is_empty() {
                "void".to_string()
            } else {
                params.join(", ")
            };
            let ret = result(outputs[0]);
            if body.is_empty() {
                format!("double {fn_name}({params}) {{ return {ret}; }}")
            } else {
                format!("double {fn_name}({params}) {{\n{body}    return {ret};\n}}")
            }
        }
        Some(o) => {
            params.push(format!("double *{o}"));
            let params = params.join(", ");
            for (k, &r) in outputs.iter().enumerate() {
                body.push_str(&format!("    {o}[{k}] = {};\n", result(r)));
            }
            format!("void {fn_name}({params}) {{\n{body}}}")
        }
    })
}

/// Drop one pair of outer parentheses when they enclose the whole text.
fn strip_parens(s: &str) -> &str {
    if !(s.starts_with('(') && s.ends_with(')')) {
        return s;
    }
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i != s.len() - 1 {
                    return s;
                }
            }
            _ => {}
        }
    }
    &s[1..s.len() - 1]
}
