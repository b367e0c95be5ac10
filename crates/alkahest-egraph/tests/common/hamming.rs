//! Textbook unstable formulas in the style of Hamming's chapter 3 (and the
//! FPBench `hamming` suite's families), written for this crate, measured
//! on samples uniform over the float64 bit patterns of the whole range.

/// A formula: short name, source text, and whether it is only reported
/// (not expected to improve; none is at present).
pub struct Unstable {
    /// Short name for tables.
    pub name: &'static str,
    /// Source text (parsed by `common::parse`).
    pub src: &'static str,
    /// Not expected to improve.
    pub report_only: bool,
}

macro_rules! u {
    ($name:literal, $src:literal) => {
        Unstable {
            name: $name,
            src: $src,
            report_only: false,
        }
    };
    ($name:literal, $src:literal, report) => {
        Unstable {
            name: $name,
            src: $src,
            report_only: true,
        }
    };
}

/// The benchmark set.
pub const HAMMING: &[Unstable] = &[
    u!("quadp", "(-b + sqrt(b**2 - 4*a*c))/(2*a)"),
    u!("quadm", "(-b - sqrt(b**2 - 4*a*c))/(2*a)"),
    u!("2frac", "1/(x + 1) - 1/x"),
    u!("3frac", "1/(x + 1) - 2/x + 1/(x - 1)"),
    u!("2sqrt", "sqrt(x + 1) - sqrt(x)"),
    u!("2isqrt", "1/sqrt(x) - 1/sqrt(x + 1)"),
    u!("2cbrt", "cbrt(x + 1) - cbrt(x)"),
    u!("2nthrt", "(x + 1)**(1/4) - x**(1/4)"),
    u!("2log", "log(x + 1) - log(x)"),
    u!("logq", "log((1 - x)/(1 + x))"),
    u!("2sin", "sin(x + e) - sin(x)"),
    u!("2cos", "cos(x + e) - cos(x)"),
    u!("2tan", "tan(x + e) - tan(x)"),
    u!("2atan", "atan(x + 1) - atan(x)"),
    u!("cos2", "(1 - cos(x))/x**2"),
    u!("1-cos", "1 - cos(x)"),
    u!("cos2x", "cos(x)**2 - sin(x)**2"),
    u!("tan-sin", "tan(x) - sin(x)"),
    u!("x-sin", "x - sin(x)"),
    u!("invcot", "1/x - 1/tan(x)"),
    u!("expm1", "exp(x) - 1"),
    u!("expm1/x", "(exp(x) - 1)/x"),
    u!("expq2", "exp(x)/(exp(x) - 1)"),
    u!("sinh", "(exp(x) - exp(-x))/2"),
    u!("expdiff", "exp(x) - exp(y)"),
    u!("softplus", "log(1 + exp(x))"),
    u!("logistic", "exp(x)/(1 + exp(x))"),
    u!("lse", "log(exp(x) + exp(y))"),
    u!("hypot", "sqrt(x**2 + y**2)"),
    u!("x/hypot", "x/sqrt(x**2 + y**2)"),
    u!("sqrt(x2+1)-x", "sqrt(x**2 + 1) - x"),
    u!("x-sqrt(x2-1)", "x - sqrt(x**2 - 1)"),
];
