//! Shared helpers: random expressions built through `ExprPool`, and
//! comparison with the interpreter.

#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};
use proptest::prelude::*;

/// An expression tree to be built through the pool's canonical builders.
#[derive(Clone, Debug)]
pub enum E {
    Var(usize),
    Int(i64),
    Float(f64),
    Add(Box<E>, Box<E>),
    Sub(Box<E>, Box<E>),
    Mul(Box<E>, Box<E>),
    Div(Box<E>, Box<E>),
    Neg(Box<E>),
    PowI(Box<E>, i64),
    PowHalf(Box<E>, bool),
    Pow(Box<E>, Box<E>),
    F1(Func, Box<E>),
    F2(Func, Box<E>, Box<E>),
    Fma(Box<E>, Box<E>, Box<E>),
}

/// Every one-argument function.
pub const UNARY: [Func; 15] = [
    Func::Sin,
    Func::Cos,
    Func::Tan,
    Func::Asin,
    Func::Acos,
    Func::Atan,
    Func::Sinh,
    Func::Cosh,
    Func::Tanh,
    Func::Exp,
    Func::Log,
    Func::Sqrt,
    Func::Abs,
    Func::Log1p,
    Func::Expm1,
];

/// Every two-argument function.
pub const BINARY: [Func; 4] = [Func::Atan2, Func::Hypot, Func::Min, Func::Max];

/// Random trees over `n_vars` symbols with every operation and function.
pub fn expr(n_vars: usize) -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        4 => (0..n_vars).prop_map(E::Var),
        1 => (-5i64..=5).prop_map(E::Int),
        1 => prop_oneof![
            (-10.0f64..10.0),
            Just(0.5),
            Just(-0.0),
            Just(1e-310),
        ]
        .prop_map(E::Float),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        let b = |e: E| Box::new(e);
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Add(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Sub(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Mul(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Div(b(x), b(y))),
            inner.clone().prop_map(move |x| E::Neg(b(x))),
            (inner.clone(), -6i64..=7).prop_map(move |(x, n)| E::PowI(b(x), n)),
            (inner.clone(), any::<bool>()).prop_map(move |(x, s)| E::PowHalf(b(x), s)),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Pow(b(x), b(y))),
            (0..UNARY.len(), inner.clone()).prop_map(move |(f, x)| E::F1(UNARY[f], b(x))),
            (0..BINARY.len(), inner.clone(), inner.clone()).prop_map(move |(f, x, y)| E::F2(
                BINARY[f],
                b(x),
                b(y)
            )),
            (inner.clone(), inner.clone(), inner).prop_map(move |(x, y, z)| E::Fma(
                b(x),
                b(y),
                b(z)
            )),
        ]
    })
}

/// Build `e` in `pool` (trees here are shallow: recursion is fine in a test).
pub fn build(p: &ExprPool, vars: &[ExprId], e: &E) -> ExprId {
    let r = |e: &E| build(p, vars, e);
    match e {
        E::Var(i) => vars[*i],
        E::Int(n) => p.integer(*n).unwrap(),
        E::Float(f) => p.float(*f).unwrap(),
        E::Add(x, y) => p.add(&[r(x), r(y)]).unwrap(),
        E::Sub(x, y) => p.sub(r(x), r(y)).unwrap(),
        E::Mul(x, y) => p.mul(&[r(x), r(y)]).unwrap(),
        E::Div(x, y) => p.div(r(x), r(y)).unwrap(),
        E::Neg(x) => p.neg(r(x)).unwrap(),
        E::PowI(x, n) => p.pow(r(x), p.integer(*n).unwrap()).unwrap(),
        E::PowHalf(x, s) => {
            let h = p.rational(if *s { 1 } else { -1 }, 2).unwrap();
            p.pow(r(x), h).unwrap()
        }
        E::Pow(x, y) => p.pow(r(x), r(y)).unwrap(),
        E::F1(f, x) => p.func(*f, &[r(x)]).unwrap(),
        E::F2(f, x, y) => p.func(*f, &[r(x), r(y)]).unwrap(),
        E::Fma(x, y, z) => p.func(Func::Fma, &[r(x), r(y), r(z)]).unwrap(),
    }
}

/// Equal bits, or both NaN. NaN payloads and signs are not compared: they
/// are not part of the semantics (Cranelift's `fmin`/`fmax` leave the sign
/// of a NaN result unspecified, and operand order of commutative operations
/// may differ when both operands are NaN).
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Interesting doubles: specials, subnormals, and ordinary values.
pub const SPECIALS: [f64; 16] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-310,
    f64::MAX,
    -f64::MAX,
    1.0,
    -1.0,
    0.5,
    -2.5,
    710.0,
];

/// `n_vars` columns of `n` points mixing specials and ordinary values.
pub fn columns(n_vars: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n_vars)
        .map(|_| {
            (0..n)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        SPECIALS[(r >> 8) as usize % SPECIALS.len()]
                    } else {
                        ((r >> 11) as f64 / (1u64 << 53) as f64) * 8.0 - 4.0
                    }
                })
                .collect()
        })
        .collect()
}
