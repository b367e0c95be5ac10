//! The native functions generated code may call, and how each tape function
//! is compiled.
//!
//! Calls are imported under the C name from the kernel's function table
//! ([`UnaryFn::info`] / [`BinaryFn::info`]`.c_name`), and the JIT resolves
//! every such name through [`address`] (a lookup function installed ahead
//! of the default `dlsym`), so no name is ever resolved by the dynamic
//! loader behind our back. The addresses are those of the C symbols this
//! crate declares, which the linker resolves exactly as it resolves the
//! kernel's declarations of the same names (one program, one definition):
//! the functions the reference semantics ([`UnaryFn::apply`],
//! [`BinaryFn::apply`]) call, so compiled results are bit-identical to the
//! reference. Mostly that is glibc's libm; note that Rust programs define
//! `cbrt`, `fmod`, `floor`, `ceil` and `fma` themselves (compiler-builtins'
//! weak definitions win over `libm.so`), which is why the JIT must not look
//! these names up with `dlsym`: its `cbrt` (glibc's) can differ from the
//! reference's (CORE-MATH's correctly rounded one) in the last bit.
//!
//! Two names are wrappers instead:
//!
//! - `lgamma` resolves to a wrapper around `lgamma_r`, as the reference
//!   does: C's `lgamma` writes the global `signgam`, a data race when many
//!   threads call one compiled function at once. The value is the same.
//! - `fma` (the libcall Cranelift emits for `fma` on CPUs without the
//!   instruction) resolves to `f64::mul_add`, the reference's FMA.
//!
//! `floor` and `ceil` are listed too: Cranelift emits them as libcalls on
//! x86-64 CPUs without SSE4.1.

use alkahest_tape::{BinaryFn, UnaryFn};

/// Declares glibc's libm functions and the name -> address table over
/// them (plus the wrappers above).
macro_rules! libm_table {
    (unary: $($u:ident),+; binary: $($b:ident),+;) => {
        // Rust's std links libm on every target it supports here; see the
        // module docs for the few names Rust programs define themselves.
        unsafe extern "C" {
            $(safe fn $u(x: f64) -> f64;)+
            $(safe fn $b(x: f64, y: f64) -> f64;)+
        }

        /// The address generated code calls for the C function `name`, or
        /// `None` for a name this crate does not provide.
        pub(crate) fn address(name: &str) -> Option<*const u8> {
            Some(match name {
                $(stringify!($u) => $u as extern "C" fn(f64) -> f64 as *const u8,)+
                $(stringify!($b) => $b as extern "C" fn(f64, f64) -> f64 as *const u8,)+
                "lgamma" => alkahest_lgamma as extern "C" fn(f64) -> f64 as *const u8,
                "fma" => alkahest_fma as extern "C" fn(f64, f64, f64) -> f64 as *const u8,
                "floor" => alkahest_floor as extern "C" fn(f64) -> f64 as *const u8,
                "ceil" => alkahest_ceil as extern "C" fn(f64) -> f64 as *const u8,
                _ => return None,
            })
        }
    };
}

libm_table! {
    unary: sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, exp, log, log1p, expm1,
        asinh, acosh, atanh, cbrt, exp2, log2, log10, erf, erfc, tgamma;
    binary: atan2, hypot, pow, fmod;
}

/// `lgamma` without the `signgam` write (see the module docs).
extern "C" fn alkahest_lgamma(x: f64) -> f64 {
    UnaryFn::Lgamma.apply(x)
}

/// The reference's fused multiply-add.
extern "C" fn alkahest_fma(a: f64, b: f64, c: f64) -> f64 {
    a.mul_add(b, c)
}

extern "C" fn alkahest_floor(x: f64) -> f64 {
    x.floor()
}

extern "C" fn alkahest_ceil(x: f64) -> f64 {
    x.ceil()
}

/// A function the generated code calls: an index into a table of every
/// unary function followed by every binary function.
pub(crate) type Callee = usize;

/// Number of distinct [`Callee`] indices.
pub(crate) const N_CALLEES: usize = UnaryFn::ALL.len() + BinaryFn::ALL.len();

/// Whether `f` is compiled to a single Cranelift instruction (with the same
/// exact IEEE result as the reference) rather than a call. Keep in step
/// with the instruction arms of `codegen::build_bulk`.
pub(crate) fn unary_is_instruction(f: UnaryFn) -> bool {
    matches!(
        f,
        UnaryFn::Sqrt | UnaryFn::Abs | UnaryFn::Floor | UnaryFn::Ceil
    )
}

/// Whether `f` is compiled to a single Cranelift instruction; see
/// [`unary_is_instruction`].
pub(crate) fn binary_is_instruction(f: BinaryFn) -> bool {
    matches!(f, BinaryFn::Min | BinaryFn::Max | BinaryFn::Copysign)
}

/// The callee for a unary function compiled as a call.
pub(crate) fn unary_callee(f: UnaryFn) -> Callee {
    f as usize
}

/// The callee for a binary function compiled as a call.
pub(crate) fn binary_callee(f: BinaryFn) -> Callee {
    UnaryFn::ALL.len() + f as usize
}

/// The C name and arity of a callee.
pub(crate) fn callee_name(k: Callee) -> (&'static str, usize) {
    match k.checked_sub(UnaryFn::ALL.len()) {
        None => (UnaryFn::ALL[k].info().c_name, 1),
        Some(b) => (BinaryFn::ALL[b].info().c_name, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callees_are_consistent_with_the_kernel_tables() {
        for f in UnaryFn::ALL {
            assert_eq!(UnaryFn::ALL[unary_callee(f)], f);
            let (name, arity) = callee_name(unary_callee(f));
            assert_eq!((name, arity), (f.c_name(), 1));
            // Every function compiled as a call has an address of ours.
            assert!(unary_is_instruction(f) || address(name).is_some(), "{name}");
        }
        for f in BinaryFn::ALL {
            let (name, arity) = callee_name(binary_callee(f));
            assert_eq!((name, arity), (f.c_name(), 2));
            assert!(
                binary_is_instruction(f) || address(name).is_some(),
                "{name}"
            );
        }
        assert!(address("no_such_function").is_none());
    }

    /// The addresses are the reference's functions: same bits.
    #[test]
    fn addresses_compute_the_reference() {
        for f in UnaryFn::ALL {
            let Some(p) = address(f.c_name()) else {
                continue;
            };
            // SAFETY: every unary name maps to an `extern "C" fn(f64) -> f64`.
            let g: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(p) };
            for x in [0.3, -2.5, 7.0, -3.0, 0.0, -0.0, f64::INFINITY, f64::NAN] {
                assert_eq!(g(x).to_bits(), f.apply(x).to_bits(), "{f:?}({x})");
            }
        }
    }
}
