//! The scalar math functions generated code calls, bound to the very
//! functions this binary links.
//!
//! The interpreter (the reference) calls `cbrt`, `sin`, ... through Rust
//! `extern "C"` declarations, which the linker resolves at build time — and
//! not always to glibc: in Rust binaries `cbrt` and `fmod`, for example,
//! resolve to compiler-builtins' own copies (hidden, so `dlsym` cannot see
//! them). Looking the names up in the process at JIT time would then call a
//! different `cbrt` (glibc's), one ulp apart on some inputs. So every JIT
//! instance defines these names as absolute symbols at the addresses this
//! crate's identical declarations resolve to, which in one linked binary
//! are the interpreter's: the scalar entry computes exactly what the
//! interpreter computes. (libmvec's vector variants and anything else are
//! still found in the process.)

/// Declares the functions and lists them with their addresses.
macro_rules! bind {
    (unary: $($u:ident)*; binary: $($b:ident)*;) => {
        unsafe extern "C" {
            $(fn $u(x: f64) -> f64;)*
            $(fn $b(x: f64, y: f64) -> f64;)*
            fn lgamma_r(x: f64, sign: *mut i32) -> f64;
        }

        /// Every bound function: its C name and address.
        pub(crate) fn functions() -> Vec<(&'static str, u64)> {
            type U = unsafe extern "C" fn(f64) -> f64;
            type B = unsafe extern "C" fn(f64, f64) -> f64;
            type L = unsafe extern "C" fn(f64, *mut i32) -> f64;
            vec![
                $((stringify!($u), $u as U as usize as u64),)*
                $((stringify!($b), $b as B as usize as u64),)*
                ("lgamma_r", lgamma_r as L as usize as u64),
            ]
        }
    };
}

// Every function with `FnInfo::call` in the kernel's tables (`lgamma` as
// `lgamma_r`, see `codegen::ops::Kind::Lgamma`); a test checks the list against
// the tables.
bind! {
    unary: sin cos tan asin acos atan sinh cosh tanh exp log log1p expm1
        asinh acosh atanh cbrt exp2 log2 log10 erf erfc tgamma;
    binary: atan2 hypot pow fmod;
}

/// The symbol generated code calls for a libm function with C name `name`.
pub(crate) fn symbol(name: &str) -> &str {
    if name == "lgamma" { "lgamma_r" } else { name }
}

#[cfg(test)]
mod tests {
    use alkahest_tape::{BinaryFn, UnaryFn};

    #[test]
    fn every_library_call_is_bound() {
        let bound: Vec<&str> = super::functions().iter().map(|f| f.0).collect();
        let calls = UnaryFn::ALL
            .iter()
            .map(|f| f.info())
            .chain(BinaryFn::ALL.iter().map(|f| f.info()))
            .filter(|i| i.call);
        for info in calls {
            let name = super::symbol(info.c_name);
            assert!(bound.contains(&name), "{name} is not bound");
        }
        assert!(super::functions().iter().all(|f| f.1 != 0));
    }
}
