//! Shared helpers: random expressions built through `ExprPool`, and
//! comparison with the interpreter.

#![allow(dead_code)]

use alkahest_core::{ExprId, ExprPool, Func};
use alkahest_kernel::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};
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
    /// `where(cond, a, b)`.
    Where(Box<C>, Box<E>, Box<E>),
}

/// A condition tree (comparisons and connectives), only ever used where a
/// condition is expected.
#[derive(Clone, Debug)]
pub enum C {
    Cmp(Func, Box<E>, Box<E>),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
    Not(Box<C>),
}

/// Every numeric one-argument function (`sin` .. `ceiling`, `sign`).
pub fn unary() -> Vec<Func> {
    Func::numeric().filter(|f| f.arity() == 1).collect()
}

/// Every numeric two-argument function (`atan2`, `hypot`, `Min`, `Max`,
/// `copysign`, `fmod`, `Mod`).
pub fn binary() -> Vec<Func> {
    Func::numeric().filter(|f| f.arity() == 2).collect()
}

/// The comparisons.
pub const COMPARISONS: [Func; 6] = [Func::Lt, Func::Le, Func::Gt, Func::Ge, Func::Eq, Func::Ne];

/// Random trees over `n_vars` symbols with every operation and function,
/// comparisons and `where` included.
pub fn expr(n_vars: usize) -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        4 => (0..n_vars).prop_map(E::Var),
        1 => (-5i64..=5).prop_map(E::Int),
        1 => prop_oneof![
            (-10.0f64..10.0),
            Just(0.5),
            Just(-0.0),
            Just(1e-310),
            Just(-3.0),
        ]
        .prop_map(E::Float),
    ];
    let (un, bin) = (unary(), binary());
    leaf.prop_recursive(6, 48, 3, move |inner| {
        let b = |e: E| Box::new(e);
        let (un, bin) = (un.clone(), bin.clone());
        let cmp = (0..COMPARISONS.len(), inner.clone(), inner.clone())
            .prop_map(move |(k, x, y)| C::Cmp(COMPARISONS[k], b(x), b(y)));
        let cond = cmp.prop_recursive(2, 6, 2, |c| {
            let bc = |c: C| Box::new(c);
            prop_oneof![
                (c.clone(), c.clone()).prop_map(move |(x, y)| C::And(bc(x), bc(y))),
                (c.clone(), c.clone()).prop_map(move |(x, y)| C::Or(bc(x), bc(y))),
                c.prop_map(move |x| C::Not(bc(x))),
            ]
        });
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Add(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Sub(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Mul(b(x), b(y))),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Div(b(x), b(y))),
            inner.clone().prop_map(move |x| E::Neg(b(x))),
            (inner.clone(), -6i64..=7).prop_map(move |(x, n)| E::PowI(b(x), n)),
            (inner.clone(), any::<bool>()).prop_map(move |(x, s)| E::PowHalf(b(x), s)),
            (inner.clone(), inner.clone()).prop_map(move |(x, y)| E::Pow(b(x), b(y))),
            (0..un.len(), inner.clone()).prop_map(move |(f, x)| E::F1(un[f], b(x))),
            (0..bin.len(), inner.clone(), inner.clone()).prop_map(move |(f, x, y)| E::F2(
                bin[f],
                b(x),
                b(y)
            )),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(move |(x, y, z)| E::Fma(
                b(x),
                b(y),
                b(z)
            )),
            (cond, inner.clone(), inner).prop_map(move |(c, x, y)| E::Where(
                Box::new(c),
                b(x),
                b(y)
            )),
        ]
    })
}

/// `e` with variable indices reduced modulo `n`.
pub fn clamp(e: &E, n: usize) -> E {
    use E::*;
    let c = |x: &E| Box::new(clamp(x, n));
    match e {
        Var(i) => Var(i % n),
        Int(k) => Int(*k),
        Float(f) => Float(*f),
        Add(a, b) => Add(c(a), c(b)),
        Sub(a, b) => Sub(c(a), c(b)),
        Mul(a, b) => Mul(c(a), c(b)),
        Div(a, b) => Div(c(a), c(b)),
        Neg(a) => Neg(c(a)),
        PowI(a, k) => PowI(c(a), *k),
        PowHalf(a, s) => PowHalf(c(a), *s),
        Pow(a, b) => Pow(c(a), c(b)),
        F1(f, a) => F1(*f, c(a)),
        F2(f, a, b) => F2(*f, c(a), c(b)),
        Fma(a, b, d) => Fma(c(a), c(b), c(d)),
        Where(k, a, b) => Where(Box::new(clamp_cond(k, n)), c(a), c(b)),
    }
}

fn clamp_cond(k: &C, n: usize) -> C {
    let c = |x: &C| Box::new(clamp_cond(x, n));
    match k {
        C::Cmp(f, a, b) => C::Cmp(*f, Box::new(clamp(a, n)), Box::new(clamp(b, n))),
        C::And(a, b) => C::And(c(a), c(b)),
        C::Or(a, b) => C::Or(c(a), c(b)),
        C::Not(a) => C::Not(c(a)),
    }
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
        E::Where(c, x, y) => p.select(build_cond(p, vars, c), r(x), r(y)).unwrap(),
    }
}

/// Build a condition in `pool`.
pub fn build_cond(p: &ExprPool, vars: &[ExprId], c: &C) -> ExprId {
    let r = |c: &C| build_cond(p, vars, c);
    match c {
        C::Cmp(f, x, y) => p.func(*f, &[build(p, vars, x), build(p, vars, y)]).unwrap(),
        C::And(x, y) => p.func(Func::And, &[r(x), r(y)]).unwrap(),
        C::Or(x, y) => p.func(Func::Or, &[r(x), r(y)]).unwrap(),
        C::Not(x) => p.func(Func::Not, &[r(x)]).unwrap(),
    }
}

/// Random hand-built tapes, straight at the op level: every [`Op`] kind,
/// every function and comparison, `Select` on comparisons and on arbitrary
/// values (NaN, ±0, ...), dead ops, and 1 to 5 outputs that may repeat a
/// register or name an input. `n_inputs` inputs, up to `max_ops` ops more.
pub fn raw_tape(n_inputs: usize, max_ops: usize) -> impl Strategy<Value = Tape> {
    // Each op is drawn as (kind, function choice, three operand picks in
    // [0, 1)) and resolved against the registers defined before it.
    let op = (
        0u8..12,
        any::<u8>(),
        [0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0],
    );
    (
        proptest::collection::vec(op, 1..=max_ops),
        proptest::collection::vec(0.0f64..1.0, 1..=5),
    )
        .prop_map(move |(ops, outs)| build_raw(n_inputs, &ops, &outs))
}

/// Constants the raw tapes use.
pub const RAW_CONSTANTS: [f64; 10] = [
    0.0,
    -0.0,
    1.0,
    -3.0,
    0.5,
    f64::NAN,
    f64::INFINITY,
    1e308,
    5e-324,
    -2.5,
];

/// Resolve drawn ops into a valid tape (see [`raw_tape`]).
pub fn build_raw(n_inputs: usize, drawn: &[(u8, u8, [f64; 3])], outs: &[f64]) -> Tape {
    let mut ops: Vec<Op> = (0..n_inputs as u32).map(Op::Input).collect();
    let mut cmps: Vec<Reg> = Vec::new();
    for &(kind, f, picks) in drawn {
        let n = ops.len();
        // Bias towards recent registers so chains get deep.
        let pick = |u: f64| -> Reg {
            if n == 0 {
                0
            } else {
                (n - 1 - ((u * u) * n as f64) as usize).min(n - 1) as Reg
            }
        };
        let [a, b, c] = picks.map(pick);
        let op = match kind {
            _ if n == 0 => Op::Const(RAW_CONSTANTS[f as usize % RAW_CONSTANTS.len()]),
            0 => Op::Const(RAW_CONSTANTS[f as usize % RAW_CONSTANTS.len()]),
            1 => Op::Neg(a),
            2 => [Op::Add(a, b), Op::Sub(a, b), Op::Mul(a, b), Op::Div(a, b)][f as usize % 4],
            3 | 4 => Op::Unary(UnaryFn::ALL[f as usize % UnaryFn::ALL.len()], a),
            5 => Op::Binary(BinaryFn::ALL[f as usize % BinaryFn::ALL.len()], a, b),
            6 => Op::Fma(a, b, c),
            7 | 8 => Op::Cmp(CmpOp::ALL[f as usize % CmpOp::ALL.len()], a, b),
            // Select on a comparison (the usual case) ...
            9 | 10 if !cmps.is_empty() => {
                Op::Select(cmps[f as usize % cmps.len()].min((n - 1) as Reg), a, b)
            }
            // ... or on any value.
            _ => Op::Select(c, a, b),
        };
        if matches!(op, Op::Cmp(..)) {
            cmps.push(n as Reg);
        }
        ops.push(op);
    }
    let n = ops.len();
    let outputs = outs
        .iter()
        .map(|&u| ((u * n as f64) as usize).min(n - 1) as Reg)
        .collect();
    Tape::new(n_inputs, ops, outputs).expect("operands precede their users")
}

/// Equal bits, or both NaN. NaN payloads and signs are not compared: they
/// are not part of the semantics (Cranelift's `fmin`/`fmax` leave the sign
/// of a NaN result unspecified, and operand order of commutative operations
/// may differ when both operands are NaN).
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Exact bits, NaN payloads and signs included.
pub fn bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
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
