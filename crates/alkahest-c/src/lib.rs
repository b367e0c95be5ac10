//! C99 source emission.
//!
//! The tape is printed as one self-contained C function. Values read more
//! than once become `const double` temporaries (so shared subexpressions are
//! computed once, as in every other backend); single-use values are inlined
//! into their user up to a small nesting depth, which keeps simple formulas
//! on one line and keeps deep chains from producing expressions a C compiler
//! would refuse to parse.
//!
//! Semantics follow the tape with two documented exceptions inherent to
//! C99's library: `min`/`max` are emitted as NaN-propagating expressions
//! around `fmin`/`fmax`, whose choice between `-0.0` and `+0.0` is
//! unspecified; and the caller's compiler flags decide contraction into FMA
//! (use `-ffp-contract=off` for bit-compatibility with the interpreter).

use alkahest_kernel::{BinaryFn, Op, Tape};

/// Errors of C emission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A name that is not a valid C identifier, or is a C keyword.
    #[error(
        "{what} {name:?} is not a valid C identifier (letters, digits and '_', not starting with a digit, not a C keyword)"
    )]
    InvalidName {
        /// "function name" or "variable name".
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

/// Names from `<math.h>` that a parameter must not shadow.
const MATH_NAMES: &[&str] = &[
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "exp", "log",
    "sqrt", "fabs", "log1p", "expm1", "hypot", "fma", "fmin", "fmax", "pow", "isnan", "NAN",
    "INFINITY",
];

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

/// Emit `double fn_name(double v0, double v1, ...) { ... }` computing `tape`,
/// with `param_names[i]` naming input `i`.
pub fn emit_function(tape: &Tape, param_names: &[&str], fn_name: &str) -> Result<String> {
    if !is_c_identifier(fn_name) || MATH_NAMES.contains(&fn_name) {
        return Err(Error::InvalidName {
            what: "function name",
            name: fn_name.into(),
        });
    }
    if param_names.len() != tape.n_inputs {
        return Err(Error::Arity {
            expected: tape.n_inputs,
            got: param_names.len(),
        });
    }
    for (i, n) in param_names.iter().enumerate() {
        if !is_c_identifier(n) || MATH_NAMES.contains(n) || *n == fn_name {
            return Err(Error::InvalidName {
                what: "variable name",
                name: n.to_string(),
            });
        }
        if param_names[..i].contains(n) {
            return Err(Error::DuplicateName(n.to_string()));
        }
    }
    // Temporaries are `t<N>` with a prefix no parameter starts with.
    let mut prefix = String::from("t");
    while param_names.iter().any(|n| n.starts_with(prefix.as_str())) {
        prefix.push('_');
    }

    let uses = tape.use_counts();
    // min/max repeat their operands textually, so those must be names.
    let mut must_name = vec![false; tape.ops.len()];
    for op in &tape.ops {
        if let Op::Binary(BinaryFn::Min | BinaryFn::Max, a, b) = *op {
            must_name[a as usize] = true;
            must_name[b as usize] = true;
        }
    }
    // text[r]: how register r is referenced (a name, a literal, or an inlined
    // expression already wrapped in parentheses where needed).
    let mut text: Vec<String> = Vec::with_capacity(tape.ops.len());
    let mut depth: Vec<u32> = Vec::with_capacity(tape.ops.len());
    let mut body = String::new();
    let mut n_temps = 0usize;
    for (i, op) in tape.ops.iter().enumerate() {
        let t = |r: u32| text[r as usize].as_str();
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
        };
        let d = op
            .operands()
            .map(|r| depth[r as usize])
            .max()
            .map_or(0, |m| m + 1);
        let is_leaf = matches!(op, Op::Input(_) | Op::Const(_));
        let inline = is_leaf
            || (uses[i] <= 1 && d < MAX_INLINE_DEPTH && i as u32 != tape.output && !must_name[i]);
        if inline {
            text.push(expr);
            depth.push(if is_leaf { 0 } else { d });
        } else if i as u32 == tape.output {
            text.push(expr);
            depth.push(d);
        } else {
            let name = format!("{prefix}{n_temps}");
            n_temps += 1;
            body.push_str(&format!(
                "    const double {name} = {};\n",
                strip_parens(&expr)
            ));
            text.push(name);
            depth.push(0);
        }
    }
    let params = if param_names.is_empty() {
        "void".to_string()
    } else {
        param_names
            .iter()
            .map(|n| format!("double {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ret = strip_parens(&text[tape.output as usize]).to_string();
    Ok(if body.is_empty() {
        format!("double {fn_name}({params}) {{ return {ret}; }}")
    } else {
        format!("double {fn_name}({params}) {{\n{body}    return {ret};\n}}")
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
