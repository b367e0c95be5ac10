//! Symbolic differentiation: exact structure, deep chains, errors, and
//! agreement with central finite differences.

use std::collections::HashMap;
use std::f64::consts::FRAC_2_SQRT_PI;

use alkahest_core::{Error, ExprId, ExprPool, Func, Node, Number};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// A small f64 evaluator (a loop over the DAG, like everything else here).
// ---------------------------------------------------------------------------

/// `erf` by its Maclaurin series: about 1e-13 absolute for |x| <= 3, which
/// is where the tests use it.
fn erf(x: f64) -> f64 {
    let mut sum = 0.0;
    let mut power = x; // (-1)^n x^(2n+1) / n!
    for n in 0..400 {
        let t = power / (2 * n + 1) as f64;
        sum += t;
        if t.abs() < 1e-18 * sum.abs().max(1e-300) {
            break;
        }
        power *= -x * x / (n + 1) as f64;
    }
    sum * FRAC_2_SQRT_PI
}

unsafe extern "C" {
    safe fn tgamma(x: f64) -> f64;
    fn lgamma_r(x: f64, sign: *mut i32) -> f64;
}

fn lgamma(x: f64) -> f64 {
    let mut sign = 0i32;
    // SAFETY: lgamma_r writes one int through a pointer to a live local.
    unsafe { lgamma_r(x, &mut sign) }
}

/// ψ^(k)(x) for k = 0, 1 on x > 0, written independently of the tape crate's
/// recipe: upward recurrence to x >= 30, then six terms of the asymptotic
/// series (about 1e-15 relative, plenty for finite differences).
fn polygamma01(k: u32, mut x: f64) -> f64 {
    const B: [f64; 6] = [
        1.0 / 6.0,
        -1.0 / 30.0,
        1.0 / 42.0,
        -1.0 / 30.0,
        5.0 / 66.0,
        -691.0 / 2730.0,
    ];
    let mut acc = 0.0;
    while x < 30.0 {
        acc -= if k == 0 { 1.0 / x } else { -1.0 / (x * x) };
        x += 1.0;
    }
    if k == 0 {
        let mut s = x.ln() - 0.5 / x;
        for (i, b) in B.iter().enumerate() {
            let n = 2 * (i as i32 + 1);
            s -= b / (n as f64 * x.powi(n));
        }
        acc + s
    } else {
        let mut s = 1.0 / x + 0.5 / (x * x);
        for (i, b) in B.iter().enumerate() {
            s += b / x.powi(2 * (i as i32 + 1) + 1);
        }
        acc + s
    }
}

fn func_value(f: Func, a: &[f64]) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    let u = a[0];
    match f {
        Func::Sin => u.sin(),
        Func::Cos => u.cos(),
        Func::Tan => u.tan(),
        Func::Asin => u.asin(),
        Func::Acos => u.acos(),
        Func::Atan => u.atan(),
        Func::Atan2 => a[0].atan2(a[1]),
        Func::Sinh => u.sinh(),
        Func::Cosh => u.cosh(),
        Func::Tanh => u.tanh(),
        Func::Exp => u.exp(),
        Func::Log => u.ln(),
        Func::Sqrt => u.sqrt(),
        Func::Abs => u.abs(),
        Func::Log1p => u.ln_1p(),
        Func::Expm1 => u.exp_m1(),
        Func::Hypot => a[0].hypot(a[1]),
        Func::Fma => a[0].mul_add(a[1], a[2]),
        Func::Min => a[0].min(a[1]),
        Func::Max => a[0].max(a[1]),
        Func::Asinh => u.asinh(),
        Func::Acosh => u.acosh(),
        Func::Atanh => u.atanh(),
        Func::Cbrt => u.cbrt(),
        Func::Exp2 => u.exp2(),
        Func::Log2 => u.log2(),
        Func::Log10 => u.log10(),
        Func::Erf => erf(u),
        Func::Erfc => 1.0 - erf(u),
        Func::Gamma => tgamma(u),
        Func::Lgamma => lgamma(u),
        Func::Digamma => polygamma01(0, u),
        Func::Trigamma => polygamma01(1, u),
        Func::Floor => u.floor(),
        Func::Ceil => u.ceil(),
        Func::Sign => {
            if u == 0.0 || u.is_nan() {
                u
            } else {
                u.signum()
            }
        }
        Func::Copysign => a[0].copysign(a[1]),
        Func::Fmod => a[0] % a[1],
        Func::Mod => a[0] - a[1] * (a[0] / a[1]).floor(),
        Func::Lt => b(a[0] < a[1]),
        Func::Le => b(a[0] <= a[1]),
        Func::Gt => b(a[0] > a[1]),
        Func::Ge => b(a[0] >= a[1]),
        Func::Eq => b(a[0] == a[1]),
        Func::Ne => b(a[0] != a[1]),
        Func::And => b(a[0] != 0.0 && a[1] != 0.0),
        Func::Or => b(a[0] != 0.0 || a[1] != 0.0),
        Func::Not => b(a[0] == 0.0),
        Func::Where => {
            if a[0] != 0.0 {
                a[1]
            } else {
                a[2]
            }
        }
    }
}

/// Value of `root` with the symbols bound by `env`.
fn eval(p: &ExprPool, root: ExprId, env: &[(&str, f64)]) -> f64 {
    eval_with_magnitude(p, root, env).0
}

/// Value of `root` and the largest finite magnitude of any value computed
/// on the way (a bound on the rounding error: about that times epsilon).
fn eval_with_magnitude(p: &ExprPool, root: ExprId, env: &[(&str, f64)]) -> (f64, f64) {
    let v = p.view();
    let mut val: HashMap<ExprId, f64> = HashMap::new();
    let mut mag = 0.0f64;
    for id in v.reachable(&[root]) {
        let node = v.node(id);
        let args: Vec<f64> = node.children().iter().map(|c| val[c]).collect();
        let r = match node {
            Node::Symbol(s) => {
                env.iter()
                    .find(|(n, _)| **n == **s)
                    .unwrap_or_else(|| panic!("unbound symbol {s}"))
                    .1
            }
            Node::Integer(i) => Number::Int(i.clone()).to_f64(),
            Node::Rational(r) => Number::Rat(r.clone()).to_f64(),
            Node::Float(bits) => f64::from_bits(*bits),
            Node::Add(_) => args.iter().sum(),
            Node::Mul(_) => args.iter().product(),
            Node::Pow(_) => args[0].powf(args[1]),
            Node::Func(f, _) => func_value(*f, &args),
        };
        if r.is_finite() {
            mag = mag.max(r.abs());
        }
        val.insert(id, r);
    }
    (val[&root], mag)
}

// ---------------------------------------------------------------------------
// Finite-difference comparison.
// ---------------------------------------------------------------------------

const NAMES: [&str; 2] = ["x", "y"];

enum Outcome {
    Agree,
    /// Finite differences are not trustworthy at this point (a jump or kink
    /// within a few steps, overflow, or cancellation noise).
    Unreliable(String),
    Disagree(String),
}

/// Compare `d`, the derivative of `f` with respect to `NAMES[k]`, with a
/// central difference at `pt` (relative step 1e-6, tolerance 1e-5 relative).
/// The difference is also taken with twice the step; when the two disagree,
/// the point is not smooth enough to judge. Nor is it when the rounding error
/// of the values the function passes through, over the step, is too large.
fn check(p: &ExprPool, f: ExprId, d: ExprId, k: usize, pt: [f64; 2]) -> Outcome {
    let mut mag = 0.0f64;
    let mut at = |delta: f64| {
        let mut q = pt;
        q[k] += delta;
        let (v, m) = eval_with_magnitude(p, f, &[(NAMES[0], q[0]), (NAMES[1], q[1])]);
        mag = mag.max(m);
        v
    };
    let h = 1e-6 * (1.0 + pt[k].abs());
    let fd1 = (at(h) - at(-h)) / (2.0 * h);
    let fd2 = (at(2.0 * h) - at(-2.0 * h)) / (4.0 * h);
    // A much smaller step: a piecewise-constant function whose jumps are
    // as dense as the steps above (floor of a steep function) has h and 2h
    // differences that agree with each other but not with this one.
    let tiny = h * 1e-3;
    let fd_tiny = (at(tiny) - at(-tiny)) / (2.0 * tiny);
    let rounding = 16.0 * f64::EPSILON * mag / h;
    let sym = eval(p, d, &[(NAMES[0], pt[0]), (NAMES[1], pt[1])]);
    let scale = 1.0 + fd1.abs();
    let info = || {
        format!(
            "f = {}, d/d{} = {}, at {pt:?}: symbolic {sym}, fd {fd1} (2h: {fd2})",
            alkahest_core::to_string(p, f),
            NAMES[k],
            alkahest_core::to_string(p, d),
        )
    };
    if !fd1.is_finite()
        || !fd2.is_finite()
        || (fd1 - fd2).abs() > 1e-6 * scale
        || rounding > 1e-6 * scale
        || (fd_tiny - fd1).abs() > 1e-3 * scale + 16.0 * f64::EPSILON * mag / tiny
    {
        return Outcome::Unreliable(info());
    }
    if !sym.is_finite() {
        // A removable singularity of the formula (0 * inf) at this point.
        return Outcome::Unreliable(info());
    }
    if (sym - fd1).abs() <= 1e-5 * scale {
        Outcome::Agree
    } else {
        Outcome::Disagree(info())
    }
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

struct S {
    p: ExprPool,
    x: ExprId,
    y: ExprId,
    z: ExprId,
}

fn setup() -> S {
    let p = ExprPool::new();
    let x = p.symbol("x").unwrap();
    let y = p.symbol("y").unwrap();
    let z = p.symbol("z").unwrap();
    S { p, x, y, z }
}

impl S {
    fn int(&self, n: i64) -> ExprId {
        self.p.integer(n).unwrap()
    }
    fn rat(&self, a: i64, b: i64) -> ExprId {
        self.p.rational(a, b).unwrap()
    }
    fn f(&self, f: Func, args: &[ExprId]) -> ExprId {
        self.p.func(f, args).unwrap()
    }
    fn f1(&self, f: Func, a: ExprId) -> ExprId {
        self.f(f, &[a])
    }
    fn add(&self, a: &[ExprId]) -> ExprId {
        self.p.add(a).unwrap()
    }
    fn mul(&self, a: &[ExprId]) -> ExprId {
        self.p.mul(a).unwrap()
    }
    fn pow(&self, a: ExprId, b: ExprId) -> ExprId {
        self.p.pow(a, b).unwrap()
    }
    fn powi(&self, a: ExprId, n: i64) -> ExprId {
        self.pow(a, self.int(n))
    }
    fn d(&self, e: ExprId, v: ExprId) -> ExprId {
        self.p.diff(e, v).unwrap()
    }
}

// ---------------------------------------------------------------------------
// Exact structure.
// ---------------------------------------------------------------------------

#[test]
fn power_rule_is_exact() {
    let s = setup();
    let x3 = s.powi(s.x, 3);
    let want = s.mul(&[s.int(3), s.powi(s.x, 2)]);
    assert_eq!(s.d(x3, s.x), want);
    assert_eq!(s.d(s.x, s.x), s.int(1));
    // x**(1/2) -> 1/2 * x**(-1/2)
    let sq = s.pow(s.x, s.rat(1, 2));
    let want = s.mul(&[s.rat(1, 2), s.pow(s.x, s.rat(-1, 2))]);
    assert_eq!(s.d(sq, s.x), want);
}

#[test]
fn independent_expressions_have_exact_zero_derivative() {
    let s = setup();
    let zero = s.int(0);
    let siny = s.f1(Func::Sin, s.y);
    let gy = s.f1(Func::Gamma, s.y);
    for e in [
        s.int(5),
        s.rat(2, 3),
        s.p.float(2.5).unwrap(),
        s.y,
        s.mul(&[siny, s.powi(s.y, 2)]),
        gy,
        s.f(Func::Atan2, &[s.y, s.z]),
    ] {
        assert_eq!(s.d(e, s.x), zero, "{}", alkahest_core::to_string(&s.p, e));
    }
    // Piecewise-constant functions of x also differentiate to exact zero.
    for f in [Func::Floor, Func::Ceil, Func::Sign] {
        assert_eq!(s.d(s.f1(f, s.x), s.x), zero);
    }
}

#[test]
fn sums_products_and_chains() {
    let s = setup();
    let (sinx, cosx) = (s.f1(Func::Sin, s.x), s.f1(Func::Cos, s.x));
    let e = s.add(&[s.mul(&[s.x, s.y]), sinx]);
    assert_eq!(s.d(e, s.x), s.add(&[s.y, cosx]));
    assert_eq!(s.d(e, s.y), s.x);
    // Chain rule: one flat product.
    let sinsin = s.f1(Func::Sin, sinx);
    assert_eq!(s.d(sinsin, s.x), s.mul(&[s.f1(Func::Cos, sinx), cosx]));
    // n-ary product rule: d(x*y*sin(x)) = y*sin(x) + x*y*cos(x).
    let e = s.mul(&[s.x, s.y, sinx]);
    let want = s.add(&[s.mul(&[s.y, sinx]), s.mul(&[s.x, s.y, cosx])]);
    assert_eq!(s.d(e, s.x), want);
    // exp reuses itself; 2**x = 2**x * log(2).
    let ex = s.f1(Func::Exp, s.x);
    assert_eq!(s.d(ex, s.x), ex);
    let two_x = s.pow(s.int(2), s.x);
    assert_eq!(s.d(two_x, s.x), s.mul(&[two_x, s.f1(Func::Log, s.int(2))]));
    // x**y with respect to both.
    let xy = s.pow(s.x, s.y);
    let ym1 = s.add(&[s.y, s.int(-1)]);
    assert_eq!(s.d(xy, s.x), s.mul(&[s.y, s.pow(s.x, ym1)]));
    assert_eq!(s.d(xy, s.y), s.mul(&[xy, s.f1(Func::Log, s.x)]));
}

#[test]
fn jacobian_shares_work_and_stays_sparse() {
    let s = setup();
    let sinx = s.f1(Func::Sin, s.x);
    let rows = [s.mul(&[sinx, s.y]), s.mul(&[sinx, s.z])];
    let j = s.p.jacobian(&rows, &[s.x, s.y, s.z]).unwrap();
    let n = s.p.len();
    let cosx = s.f1(Func::Cos, s.x);
    assert_eq!(s.p.len(), n, "cos(x) was built by the Jacobian");
    let zero = s.int(0);
    assert_eq!(j[0], vec![s.mul(&[cosx, s.y]), sinx, zero]);
    assert_eq!(j[1], vec![s.mul(&[cosx, s.z]), zero, sinx]);
    // Both rows refer to the one cos(x) node.
    for row in &j {
        assert!(s.p.view().reachable(&[row[0]]).contains(&cosx));
    }
    // grad is a one-row Jacobian.
    assert_eq!(s.p.grad(rows[0], &[s.x, s.y, s.z]).unwrap(), j[0]);
    assert!(s.p.jacobian(&[], &[s.x]).unwrap().is_empty());
    assert_eq!(s.p.jacobian(&rows, &[]).unwrap(), vec![vec![]; 2]);
}

#[test]
fn hessian_of_a_polynomial() {
    let s = setup();
    let siny = s.f1(Func::Sin, s.y);
    let f = s.add(&[s.mul(&[s.powi(s.x, 2), s.y]), siny]);
    let h = s.p.hessian(f, &[s.x, s.y]).unwrap();
    let two_x = s.mul(&[s.int(2), s.x]);
    assert_eq!(h[0], vec![s.mul(&[s.int(2), s.y]), two_x]);
    assert_eq!(h[1], vec![two_x, s.mul(&[s.int(-1), siny])]);
}

#[test]
fn higher_derivatives() {
    let s = setup();
    let x5 = s.powi(s.x, 5);
    assert_eq!(s.p.diff_n(x5, s.x, 0).unwrap(), x5);
    assert_eq!(
        s.p.diff_n(x5, s.x, 3).unwrap(),
        s.mul(&[s.int(60), s.powi(s.x, 2)])
    );
    assert_eq!(s.p.diff_n(x5, s.x, 5).unwrap(), s.int(120));
    assert_eq!(s.p.diff_n(x5, s.x, 1000).unwrap(), s.int(0));
    let sinx = s.f1(Func::Sin, s.x);
    assert_eq!(s.p.diff_n(sinx, s.x, 2).unwrap(), s.mul(&[s.int(-1), sinx]));
    assert_eq!(s.p.diff_n(sinx, s.x, 4).unwrap(), sinx);
}

#[test]
fn piecewise_derivatives_stay_piecewise() {
    let s = setup();
    let zero = s.int(0);
    let neg = s.f(Func::Lt, &[s.x, zero]);
    let minus_x = s.p.neg(s.x).unwrap();
    let f = s.p.select(neg, minus_x, s.powi(s.x, 2)).unwrap();
    let want = s.p.select(neg, s.int(-1), s.mul(&[s.int(2), s.x])).unwrap();
    assert_eq!(s.d(f, s.x), want);
    // A guarded sqrt keeps its guard: no NaN leaks from the other side.
    let pos = s.f(Func::Gt, &[s.x, zero]);
    let sq = s.f1(Func::Sqrt, s.x);
    let g = s.p.select(pos, sq, zero).unwrap();
    let dg = s.d(g, s.x);
    assert!(matches!(s.p.node(dg).unwrap(), Node::Func(Func::Where, _)));
    assert_eq!(eval(&s.p, dg, &[("x", -1.0)]), 0.0);
    // Min / Max.
    let m = s.f(Func::Min, &[s.x, s.y]);
    let le = s.f(Func::Le, &[s.x, s.y]);
    assert_eq!(s.d(m, s.x), s.p.select(le, s.int(1), zero).unwrap());
    let m = s.f(Func::Max, &[s.x, s.y]);
    let ge = s.f(Func::Ge, &[s.x, s.y]);
    assert_eq!(s.d(m, s.y), s.p.select(ge, zero, s.int(1)).unwrap());
    // Branches free of x: zero, whatever the condition.
    let h = s.p.select(neg, s.y, s.int(3)).unwrap();
    assert_eq!(s.d(h, s.x), zero);
}

#[test]
fn conditions_are_not_differentiated() {
    let s = setup();
    let sinx = s.f1(Func::Sin, s.x);
    let c = s.f(Func::Lt, &[sinx, s.int(0)]);
    let f = s.p.select(c, s.x, s.int(2)).unwrap();
    let d = s.d(f, s.x);
    assert_eq!(d, s.p.select(c, s.int(1), s.int(0)).unwrap());
    // cos(x) was never built: sin(x) appears only in the condition.
    let n = s.p.len();
    s.f1(Func::Cos, s.x);
    assert_eq!(s.p.len(), n + 1);
}

#[test]
fn errors() {
    let s = setup();
    let f = s.f1(Func::Sin, s.x);
    let x1 = s.add(&[s.x, s.int(1)]);
    assert!(matches!(s.p.diff(f, x1), Err(Error::NotASymbol(t)) if t == "x + 1"));
    assert!(matches!(s.p.diff(f, s.int(2)), Err(Error::NotASymbol(_))));
    assert!(matches!(s.p.grad(f, &[s.x, x1]), Err(Error::NotASymbol(_))));
    assert!(matches!(s.p.diff_n(f, x1, 0), Err(Error::NotASymbol(_))));
    let lt = s.f(Func::Lt, &[s.x, s.y]);
    assert!(matches!(
        s.p.diff(lt, s.x),
        Err(Error::ConditionAsNumber(_))
    ));
    assert!(matches!(
        s.p.jacobian(&[f, lt], &[s.x]),
        Err(Error::ConditionAsNumber(_))
    ));
    // trigamma's derivative would be polygamma(2, .), which is not provided.
    let e = s.f1(Func::Trigamma, s.powi(s.x, 2));
    match s.p.diff(e, s.x) {
        Err(Error::NotImplemented(msg)) => {
            assert!(
                msg.contains("polygamma(2, x)") && msg.contains("trigamma"),
                "{msg}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Independent of the variable: fine.
    assert_eq!(s.d(e, s.y), s.int(0));
    assert!(matches!(
        s.p.diff(ExprId(1_000_000), s.x),
        Err(Error::UnknownId(_))
    ));
    assert!(matches!(
        s.p.diff(f, ExprId(1_000_000)),
        Err(Error::UnknownId(_))
    ));
}

// ---------------------------------------------------------------------------
// Deep chains: no recursion, no quadratic blow-up.
// ---------------------------------------------------------------------------

const DEEP: usize = 100_000;

#[test]
fn deep_sin_chain() {
    let s = setup();
    let mut e = s.x;
    for _ in 0..DEEP {
        e = s.f1(Func::Sin, e);
    }
    let d = s.d(e, s.x);
    match s.p.node(d).unwrap() {
        Node::Mul(f) => assert_eq!(f.len(), DEEP),
        other => panic!("{other:?}"),
    }
    let x0 = 0.5f64;
    let (mut v, mut want) = (x0, 1.0f64);
    for _ in 0..DEEP {
        want *= v.cos();
        v = v.sin();
    }
    let got = eval(&s.p, d, &[("x", x0)]);
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
}

#[test]
fn deep_mixed_chain() {
    // f_k = sin(f_{k-1}) + y, f_0 = x.
    let s = setup();
    let mut e = s.x;
    for _ in 0..DEEP {
        let t = s.f1(Func::Sin, e);
        e = s.add(&[t, s.y]);
    }
    let g = s.p.grad(e, &[s.x, s.y]).unwrap();
    let (x0, y0) = (0.3f64, -0.2f64);
    let (mut v, mut dx, mut dy) = (x0, 1.0f64, 0.0f64);
    for _ in 0..DEEP {
        let c = v.cos();
        dx *= c;
        dy = c * dy + 1.0;
        v = v.sin() + y0;
    }
    let env = [("x", x0), ("y", y0)];
    for (got, want) in [(eval(&s.p, g[0], &env), dx), (eval(&s.p, g[1], &env), dy)] {
        assert!(
            (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
            "{got} vs {want}"
        );
    }
}

// ---------------------------------------------------------------------------
// Numeric agreement: every differentiable function at fixed points.
// ---------------------------------------------------------------------------

const POINTS: [[f64; 2]; 4] = [[0.3, 0.7], [0.9, -0.4], [-0.6, 0.55], [1.2, 0.35]];

#[test]
fn every_function_matches_finite_differences() {
    let s = setup();
    let (x, y) = (s.x, s.y);
    // a = x*y + x/3 (|a| < 1 at the points), b = y**2 - x + 1/2.
    let a = s.add(&[s.mul(&[x, y]), s.mul(&[s.rat(1, 3), x])]);
    let b = s.add(&[s.powi(y, 2), s.p.neg(x).unwrap(), s.rat(1, 2)]);
    let positive = s.add(&[s.powi(x, 2), y, s.int(2)]);
    let small = s.mul(&[s.rat(1, 2), x, y]);
    let mut cases: Vec<(String, ExprId)> = Vec::new();
    let mut covered = Vec::new();
    for f in Func::numeric() {
        let args: Vec<ExprId> = match f {
            Func::Trigamma => continue,
            Func::Log
            | Func::Sqrt
            | Func::Log1p
            | Func::Log2
            | Func::Log10
            | Func::Acosh
            | Func::Gamma
            | Func::Lgamma
            | Func::Digamma => vec![positive],
            Func::Asin | Func::Acos | Func::Atanh => vec![small],
            Func::Fma => vec![a, b, s.p.sub(x, y).unwrap()],
            _ if f.arity() == 2 => vec![a, b],
            _ => vec![a],
        };
        covered.push(f);
        cases.push((f.name().to_string(), s.f(f, &args)));
    }
    assert_eq!(covered.len(), Func::numeric().count() - 1);
    let lt = s.f(Func::Lt, &[x, y]);
    let sxy = s.f1(Func::Sin, s.mul(&[x, y]));
    cases.push(("where".into(), s.p.select(lt, sxy, s.powi(x, 3)).unwrap()));
    let one_x2 = s.add(&[s.int(1), s.powi(x, 2)]);
    let x2y2 = s.add(&[s.powi(x, 2), s.powi(y, 2)]);
    let siny = s.f1(Func::Sin, y);
    for (name, e) in [
        ("pow sym", s.pow(one_x2, siny)),
        ("pow base const", s.pow(s.int(2), s.mul(&[x, y]))),
        ("pow int", s.powi(a, 3)),
        ("pow neg rat", s.pow(x2y2, s.rat(-3, 2))),
        ("pow float", s.pow(one_x2, s.p.float(2.5).unwrap())),
        ("pow neg", s.powi(b, -2)),
        ("product", s.mul(&[x, y, siny, a])),
        ("nested", s.f1(Func::Exp, s.f1(Func::Sin, s.mul(&[a, b])))),
    ] {
        cases.push((name.into(), e));
    }
    for (name, e) in &cases {
        let g = s.p.grad(*e, &[x, y]).unwrap();
        for pt in POINTS {
            for (k, &d) in g.iter().enumerate() {
                if let Outcome::Unreliable(m) | Outcome::Disagree(m) = check(&s.p, *e, d, k, pt) {
                    panic!("{name}: {m}");
                }
            }
        }
    }
}

#[test]
fn hessian_matches_finite_differences_of_the_gradient() {
    let s = setup();
    let (x, y) = (s.x, s.y);
    let xy = s.mul(&[x, y]);
    let f = s.add(&[
        s.f1(Func::Sin, xy),
        s.mul(&[s.powi(x, 3), s.f1(Func::Exp, y)]),
        s.f(Func::Atan2, &[y, s.add(&[x, s.int(2)])]),
    ]);
    let g = s.p.grad(f, &[x, y]).unwrap();
    let h = s.p.hessian(f, &[x, y]).unwrap();
    for pt in POINTS {
        let env = [("x", pt[0]), ("y", pt[1])];
        let (h01, h10) = (eval(&s.p, h[0][1], &env), eval(&s.p, h[1][0], &env));
        assert!((h01 - h10).abs() <= 1e-12 * (1.0 + h01.abs()));
        for (i, row) in h.iter().enumerate() {
            for (j, &hij) in row.iter().enumerate() {
                if let Outcome::Unreliable(m) | Outcome::Disagree(m) = check(&s.p, g[i], hij, j, pt)
                {
                    panic!("H[{i}][{j}]: {m}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Random expressions.
// ---------------------------------------------------------------------------

/// A random expression in x and y, built into a pool by `build` with the
/// arguments of partial functions moved into their domains.
#[derive(Clone, Debug)]
enum Recipe {
    X,
    Y,
    Int(i64),
    Add(Box<Recipe>, Box<Recipe>),
    Mul(Box<Recipe>, Box<Recipe>),
    /// Exponent index into `EXPONENTS`.
    Pow(Box<Recipe>, usize),
    PowSym(Box<Recipe>, Box<Recipe>),
    F1(Func, Box<Recipe>),
    F2(Func, Box<Recipe>, Box<Recipe>),
    Fma(Box<Recipe>, Box<Recipe>, Box<Recipe>),
    Where(Box<Recipe>, Box<Recipe>, Box<Recipe>, Box<Recipe>),
}

/// (p, q) of a rational exponent; q = 0 marks the float 2.5.
const EXPONENTS: [(i64, i64); 9] = [
    (-3, 1),
    (-2, 1),
    (-1, 1),
    (2, 1),
    (3, 1),
    (4, 1),
    (1, 2),
    (-3, 2),
    (5, 0),
];

fn funcs(arity: usize) -> Vec<Func> {
    Func::numeric()
        // The gamma family has poles all over the negative axis, where
        // random arguments land; every_function_matches_finite_differences
        // checks them on positive arguments.
        .filter(|f| {
            f.arity() == arity
                && !matches!(
                    f,
                    Func::Gamma | Func::Lgamma | Func::Digamma | Func::Trigamma
                )
        })
        .collect()
}

fn recipe() -> impl Strategy<Value = Recipe> {
    let leaf = prop_oneof![
        2 => Just(Recipe::X),
        2 => Just(Recipe::Y),
        1 => (-3i64..4).prop_map(Recipe::Int),
    ];
    leaf.prop_recursive(6, 48, 3, |inner| {
        let b = |r: Recipe| Box::new(r);
        prop_oneof![
            1 => (inner.clone(), inner.clone()).prop_map(move |(a, c)| Recipe::Add(b(a), b(c))),
            1 => (inner.clone(), inner.clone()).prop_map(move |(a, c)| Recipe::Mul(b(a), b(c))),
            1 => (inner.clone(), 0..EXPONENTS.len()).prop_map(move |(a, e)| Recipe::Pow(b(a), e)),
            1 => (inner.clone(), inner.clone()).prop_map(move |(a, c)| Recipe::PowSym(b(a), b(c))),
            3 => (proptest::sample::select(funcs(1)), inner.clone())
                .prop_map(move |(f, a)| Recipe::F1(f, b(a))),
            2 => (proptest::sample::select(funcs(2)), inner.clone(), inner.clone())
                .prop_map(move |(f, a, c)| Recipe::F2(f, b(a), b(c))),
            1 => (inner.clone(), inner.clone(), inner.clone())
                .prop_map(move |(a, c, e)| Recipe::Fma(b(a), b(c), b(e))),
            1 => (inner.clone(), inner.clone(), inner.clone(), inner)
                .prop_map(move |(a, c, e, g)| Recipe::Where(b(a), b(c), b(e), b(g))),
        ]
    })
}

fn build(s: &S, r: &Recipe) -> ExprId {
    // 1 + a**2 > 0.
    let positive = |a: ExprId| s.add(&[s.int(1), s.powi(a, 2)]);
    // tanh(a)/2 in (-1/2, 1/2).
    let unit = |a: ExprId| s.mul(&[s.rat(1, 2), s.f1(Func::Tanh, a)]);
    match r {
        Recipe::X => s.x,
        Recipe::Y => s.y,
        Recipe::Int(n) => s.int(*n),
        Recipe::Add(a, c) => s.add(&[build(s, a), build(s, c)]),
        Recipe::Mul(a, c) => s.mul(&[build(s, a), build(s, c)]),
        Recipe::Pow(a, e) => {
            let a = build(s, a);
            let (num, den) = EXPONENTS[*e];
            let exp = if den == 0 {
                s.p.float(2.5).unwrap()
            } else {
                s.rat(num, den)
            };
            let base = if den == 1 && num > 0 { a } else { positive(a) };
            s.pow(base, exp)
        }
        Recipe::PowSym(a, c) => {
            let a = build(s, a);
            let c = build(s, c);
            s.pow(positive(a), c)
        }
        Recipe::F1(f, a) => {
            let a = build(s, a);
            let arg = match f {
                Func::Log | Func::Sqrt | Func::Log2 | Func::Log10 | Func::Cbrt => positive(a),
                Func::Acosh => s.add(&[s.int(1), positive(a)]),
                Func::Log1p => s.powi(a, 2),
                Func::Asin | Func::Acos | Func::Atanh => unit(a),
                Func::Tan => s.f1(Func::Tanh, a),
                Func::Erf | Func::Erfc => s.mul(&[s.int(2), s.f1(Func::Tanh, a)]),
                _ => a,
            };
            s.f1(*f, arg)
        }
        Recipe::F2(f, a, c) => {
            let a = build(s, a);
            let c = build(s, c);
            let c = match f {
                Func::Fmod | Func::Mod => positive(c),
                _ => c,
            };
            s.f(*f, &[a, c])
        }
        Recipe::Fma(a, c, e) => {
            let args = [build(s, a), build(s, c), build(s, e)];
            s.f(Func::Fma, &args)
        }
        Recipe::Where(a, c, e, g) => {
            let cond = s.f(Func::Lt, &[build(s, a), build(s, c)]);
            s.p.select(cond, build(s, e), build(s, g)).unwrap()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The gradient of a random expression agrees with finite differences
    /// wherever those are trustworthy, and equals the separate derivatives.
    #[test]
    fn random_gradients_match_finite_differences(
        r in recipe(),
        x0 in -1.5f64..1.5,
        y0 in -1.5f64..1.5,
    ) {
        let s = setup();
        let f = build(&s, &r);
        let g = s.p.grad(f, &[s.x, s.y]).unwrap();
        prop_assert_eq!(g[0], s.d(f, s.x));
        prop_assert_eq!(g[1], s.d(f, s.y));
        for (k, &d) in g.iter().enumerate() {
            if let Outcome::Disagree(msg) = check(&s.p, f, d, k, [x0, y0]) {
                prop_assert!(false, "{}", msg);
            }
        }
    }

    /// Second derivatives agree with finite differences of the gradient,
    /// and the Jacobian of a vector equals its rows' gradients.
    #[test]
    fn random_hessians_match_finite_differences(
        r in recipe(),
        r2 in recipe(),
        x0 in -1.5f64..1.5,
        y0 in -1.5f64..1.5,
    ) {
        let s = setup();
        let f = build(&s, &r);
        let f2 = build(&s, &r2);
        let vars = [s.x, s.y];
        let j = s.p.jacobian(&[f, f2], &vars).unwrap();
        prop_assert_eq!(&j[0], &s.p.grad(f, &vars).unwrap());
        prop_assert_eq!(&j[1], &s.p.grad(f2, &vars).unwrap());
        let h = s.p.hessian(f, &vars).unwrap();
        for (i, row) in h.iter().enumerate() {
            for (k, &hik) in row.iter().enumerate() {
                if let Outcome::Disagree(msg) = check(&s.p, j[0][i], hik, k, [x0, y0]) {
                    prop_assert!(false, "H[{}][{}]: {}", i, k, msg);
                }
            }
        }
    }
}

/// d/dx gamma(u) = gamma(u) digamma(u) u', d/dx loggamma(u) = digamma(u) u',
/// d/dx digamma(u) = trigamma(u) u': the exact structure (reusing the
/// gamma node), and values against finite differences at positive points.
#[test]
fn gamma_family_derivatives() {
    let s = setup();
    let x = s.x;
    let g = s.f1(Func::Gamma, x);
    let dg = s.f1(Func::Digamma, x);
    assert_eq!(s.d(g, x), s.mul(&[g, dg]));
    assert_eq!(s.d(s.f1(Func::Lgamma, x), x), dg);
    assert_eq!(s.d(dg, x), s.f1(Func::Trigamma, x));
    assert_eq!(
        s.p.diff_n(s.f1(Func::Lgamma, x), x, 2).unwrap(),
        s.f1(Func::Trigamma, x)
    );
    // Chain rule through u = x**2 + 1.
    let u = s.add(&[s.powi(x, 2), s.int(1)]);
    for f in [Func::Gamma, Func::Lgamma, Func::Digamma] {
        let e = s.f1(f, u);
        let d = s.d(e, x);
        for pt in [[0.4, 0.0], [1.3, 0.0], [2.5, 0.0]] {
            if let Outcome::Unreliable(m) | Outcome::Disagree(m) = check(&s.p, e, d, 0, pt) {
                panic!("{f:?}: {m}");
            }
        }
    }
}
