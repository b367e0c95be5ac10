//! The accuracy suite: textbook-unstable formulas with the input ranges
//! where they lose accuracy (cancellation or overflow), and well-conditioned
//! formulas that must never get worse.

/// A formula, its variables' sample ranges, and what goes wrong naively.
pub struct Formula {
    /// Short name for tables.
    pub name: &'static str,
    /// Source text (parsed by `common::parse`).
    pub src: &'static str,
    /// `(var, lo, hi)` sample ranges.
    pub ranges: &'static [(&'static str, f64, f64)],
}

macro_rules! f {
    ($name:literal, $src:literal, [$(($v:literal, $lo:expr, $hi:expr)),*]) => {
        Formula { name: $name, src: $src, ranges: &[$(($v, $lo, $hi)),*] }
    };
}

/// Cancellation- and overflow-prone formulas.
pub const UNSTABLE: &[Formula] = &[
    f!("expm1", "exp(x) - 1", [("x", -1e-9, 1e-9)]),
    f!("expm1/x", "(exp(x) - 1)/x", [("x", -1e-9, 1e-9)]),
    f!("log1p", "log(1 + x)", [("x", -1e-9, 1e-9)]),
    f!("sqrt-diff", "sqrt(x + 1) - sqrt(x)", [("x", 1e10, 1e15)]),
    f!("sqrt(x2+1)-x", "sqrt(x**2 + 1) - x", [("x", 1e6, 1e15)]),
    f!("x-sqrt(x2-1)", "x - sqrt(x**2 - 1)", [("x", 1e6, 1e15)]),
    f!(
        "quadratic+",
        "(-b + sqrt(b**2 - 4*a*c))/(2*a)",
        [("a", 1.0, 2.0), ("b", 1e8, 1e9), ("c", 1.0, 2.0)]
    ),
    f!(
        "quadratic-",
        "(-b - sqrt(b**2 - 4*a*c))/(2*a)",
        [("a", 1.0, 2.0), ("b", -1e9, -1e8), ("c", 1.0, 2.0)]
    ),
    f!("logistic", "1/(1 + exp(-x))", [("x", -745.0, -710.0)]),
    f!(
        "logistic-exp",
        "exp(x)/(1 + exp(x))",
        [("x", 710.0, 1000.0)]
    ),
    f!("softplus", "log(1 + exp(x))", [("x", 710.0, 1e6)]),
    f!(
        "logsumexp",
        "log(exp(x) + exp(y))",
        [("x", 710.0, 1000.0), ("y", 710.0, 1000.0)]
    ),
    f!(
        "hypot-big",
        "sqrt(x**2 + y**2)",
        [("x", 1e160, 1e300), ("y", 1e160, 1e300)]
    ),
    f!(
        "hypot-small",
        "sqrt(x**2 + y**2)",
        [("x", 1e-300, 1e-170), ("y", 1e-300, 1e-170)]
    ),
    f!("1-cos", "1 - cos(x)", [("x", 1e-9, 1e-5)]),
    f!("(1-cos)/x2", "(1 - cos(x))/x**2", [("x", 1e-9, 1e-5)]),
    f!("cosh-1", "cosh(x) - 1", [("x", 1e-9, 1e-5)]),
    f!("sinh-naive", "(exp(x) - exp(-x))/2", [("x", 1e-12, 1e-6)]),
    f!(
        "sin-diff",
        "sin(x + e) - sin(x)",
        [("x", 1.0, 2.0), ("e", 1e-12, 1e-8)]
    ),
    f!(
        "cos-diff",
        "cos(x + e) - cos(x)",
        [("x", 1.0, 2.0), ("e", 1e-12, 1e-8)]
    ),
    f!(
        "tan-diff",
        "tan(x + e) - tan(x)",
        [("x", 0.1, 1.0), ("e", 1e-12, 1e-8)]
    ),
    f!("atan-diff", "atan(x + 1) - atan(x)", [("x", 1e6, 1e12)]),
    f!("recip-diff", "1/(x + 1) - 1/x", [("x", 1e8, 1e15)]),
    f!("log-ratio", "log(x + 1) - log(x)", [("x", 1e8, 1e15)]),
    f!(
        "square-diff",
        "(x + e)**2 - x**2",
        [("x", 1.0, 2.0), ("e", 1e-12, 1e-8)]
    ),
    f!("(1+x)^3-1", "(1 + x)**3 - 1", [("x", -1e-9, 1e-9)]),
];

/// Well-conditioned formulas: optimization must not make them worse.
pub const STABLE: &[Formula] = &[
    f!("poly", "x**3 + 2*x**2 + 3*x + 4", [("x", 1.0, 10.0)]),
    f!(
        "sincos",
        "sin(x)*cos(y)",
        [("x", -3.0, 3.0), ("y", -3.0, 3.0)]
    ),
    f!(
        "exp-sum",
        "exp(x) + exp(y)",
        [("x", -5.0, 5.0), ("y", -5.0, 5.0)]
    ),
    f!(
        "sqrt-sum",
        "sqrt(x) + sqrt(y)",
        [("x", 1.0, 100.0), ("y", 1.0, 100.0)]
    ),
    f!("log", "log(x*y)", [("x", 2.0, 100.0), ("y", 2.0, 100.0)]),
    f!("ratio", "(x + 1)/(x + 2)", [("x", 0.0, 10.0)]),
    f!(
        "prod",
        "x*y*z + x*y",
        [("x", 1.0, 2.0), ("y", 1.0, 2.0), ("z", 1.0, 2.0)]
    ),
    f!(
        "tanh",
        "tanh(x) + atan(y)",
        [("x", -2.0, 2.0), ("y", -2.0, 2.0)]
    ),
];
