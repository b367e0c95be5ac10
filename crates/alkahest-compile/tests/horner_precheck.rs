//! `alkahest_core::may_be_polynomial`, which lets the speed optimizer skip
//! Horner-form attempts that would fail, never skips one that would
//! succeed: wherever it says no, `horner` fails.

use alkahest_core::{ExprPool, Func, horner, may_be_polynomial};
use alkahest_testkit::exprs::programs;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_no_means_horner_fails(prog in programs(1..=14)) {
        let p = ExprPool::new();
        let vars = [p.symbol("x").unwrap(), p.symbol("y").unwrap()];
        let e = prog.build(&p, &vars);
        for v in vars {
            if !may_be_polynomial(&p, e, v) {
                prop_assert!(horner(&p, e, v).is_err());
            }
        }
    }
}

/// A function of `x` is no polynomial in `x`; one whose argument cancels
/// to a constant is, and the check leaves it to `horner`.
#[test]
fn certain_and_uncertain_cases() {
    let p = ExprPool::new();
    let (x, y) = (p.symbol("x").unwrap(), p.symbol("y").unwrap());
    let one = p.integer(1).unwrap();
    let two = p.integer(2).unwrap();
    let sin = |a| p.func(Func::Sin, &[a]).unwrap();
    // sin(x*y) + x: certainly not a polynomial in x or y.
    let e = p.add(&[sin(p.mul(&[x, y]).unwrap()), x]).unwrap();
    assert!(!may_be_polynomial(&p, e, x) && horner(&p, e, x).is_err());
    assert!(!may_be_polynomial(&p, e, y) && horner(&p, e, y).is_err());
    // x**y: a symbolic exponent on x, and y in an exponent.
    let e = p.pow(x, y).unwrap();
    assert!(!may_be_polynomial(&p, e, x) && !may_be_polynomial(&p, e, y));
    // A polynomial, with a function of y as a coefficient.
    let e = p.add(&[p.mul(&[sin(y), x, x]).unwrap(), x]).unwrap();
    assert!(may_be_polynomial(&p, e, x) && horner(&p, e, x).is_ok());
    // sin((x + 1)**2 - x**2 - 2x) + x: the argument cancels to 1, so
    // horner accepts it as a coefficient; the check must not say no.
    let sq = p.pow(p.add(&[x, one]).unwrap(), two).unwrap();
    let minus = |a| p.mul(&[p.integer(-1).unwrap(), a]).unwrap();
    let arg = p
        .add(&[
            sq,
            minus(p.pow(x, two).unwrap()),
            minus(p.mul(&[two, x]).unwrap()),
        ])
        .unwrap();
    let e = p.add(&[sin(arg), x]).unwrap();
    assert!(horner(&p, e, x).is_ok());
    assert!(may_be_polynomial(&p, e, x));
}
