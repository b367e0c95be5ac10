//! The fixed table of native functions generated code may call.
//!
//! Each entry is an `extern "C"` wrapper around exactly the `f64` method the
//! interpreter uses ([`UnaryFn::apply`] / [`BinaryFn::apply`]), so compiled
//! results are bit-identical to the reference. The JIT resolves these names
//! through its own symbol table, never through `dlsym`.

use alkahest_kernel::{BinaryFn, UnaryFn};

macro_rules! wrappers {
    ($($name:ident = |$($a:ident),+| $body:expr;)+) => {
        $(
            extern "C" fn $name($($a: f64),+) -> f64 {
                $body
            }
        )+
    };
}

wrappers! {
    alkahest_sin = |x| x.sin();
    alkahest_cos = |x| x.cos();
    alkahest_tan = |x| x.tan();
    alkahest_asin = |x| x.asin();
    alkahest_acos = |x| x.acos();
    alkahest_atan = |x| x.atan();
    alkahest_sinh = |x| x.sinh();
    alkahest_cosh = |x| x.cosh();
    alkahest_tanh = |x| x.tanh();
    alkahest_exp = |x| x.exp();
    alkahest_log = |x| x.ln();
    alkahest_log1p = |x| x.ln_1p();
    alkahest_expm1 = |x| x.exp_m1();
    alkahest_atan2 = |y, x| y.atan2(x);
    alkahest_hypot = |x, y| x.hypot(y);
    alkahest_pow = |x, y| x.powf(y);
    alkahest_fma = |a, b, c| a.mul_add(b, c);
}

/// How a unary function is compiled.
pub(crate) enum UnaryLowering {
    /// A single Cranelift instruction with the same IEEE result.
    Sqrt,
    /// Sign-bit clear, as `f64::abs`.
    Abs,
    /// A call into the symbol table (index into [`symbols`]).
    Call(usize),
}

/// Every native symbol the generated code can reference: (name, address, arity).
pub(crate) fn symbols() -> [(&'static str, *const u8, usize); 17] {
    [
        ("alkahest_sin", alkahest_sin as *const u8, 1),
        ("alkahest_cos", alkahest_cos as *const u8, 1),
        ("alkahest_tan", alkahest_tan as *const u8, 1),
        ("alkahest_asin", alkahest_asin as *const u8, 1),
        ("alkahest_acos", alkahest_acos as *const u8, 1),
        ("alkahest_atan", alkahest_atan as *const u8, 1),
        ("alkahest_sinh", alkahest_sinh as *const u8, 1),
        ("alkahest_cosh", alkahest_cosh as *const u8, 1),
        ("alkahest_tanh", alkahest_tanh as *const u8, 1),
        ("alkahest_exp", alkahest_exp as *const u8, 1),
        ("alkahest_log", alkahest_log as *const u8, 1),
        ("alkahest_log1p", alkahest_log1p as *const u8, 1),
        ("alkahest_expm1", alkahest_expm1 as *const u8, 1),
        ("alkahest_atan2", alkahest_atan2 as *const u8, 2),
        ("alkahest_hypot", alkahest_hypot as *const u8, 2),
        ("alkahest_pow", alkahest_pow as *const u8, 2),
        ("alkahest_fma", alkahest_fma as *const u8, 3),
    ]
}

/// Number of entries in [`symbols`].
pub(crate) const N_SYMBOLS: usize = 17;

/// How `f` is compiled.
pub(crate) fn unary(f: UnaryFn) -> UnaryLowering {
    UnaryLowering::Call(match f {
        UnaryFn::Sqrt => return UnaryLowering::Sqrt,
        UnaryFn::Abs => return UnaryLowering::Abs,
        UnaryFn::Sin => 0,
        UnaryFn::Cos => 1,
        UnaryFn::Tan => 2,
        UnaryFn::Asin => 3,
        UnaryFn::Acos => 4,
        UnaryFn::Atan => 5,
        UnaryFn::Sinh => 6,
        UnaryFn::Cosh => 7,
        UnaryFn::Tanh => 8,
        UnaryFn::Exp => 9,
        UnaryFn::Log => 10,
        UnaryFn::Log1p => 11,
        UnaryFn::Expm1 => 12,
    })
}

/// Symbol index for a binary function that is a call (`None` for Min/Max,
/// which are single Cranelift instructions).
pub(crate) fn binary(f: BinaryFn) -> Option<usize> {
    match f {
        BinaryFn::Atan2 => Some(13),
        BinaryFn::Hypot => Some(14),
        BinaryFn::Pow => Some(15),
        BinaryFn::Min | BinaryFn::Max => None,
    }
}
