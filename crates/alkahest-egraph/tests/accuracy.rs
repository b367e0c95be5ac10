//! The accuracy suite: textbook-unstable formulas measured in bits of error
//! against an MPFR reference (>= 384 bits, i.e. more than 100 digits) on
//! samples from their problematic ranges; and well-conditioned formulas,
//! measured on fresh samples, that must not get worse.

mod common;
#[path = "common/formulas.rs"]
mod formulas;

use alkahest_core::ExprPool;
use alkahest_egraph::{Cost, Options, Samples, error_bits, free_symbols, simplify};

fn options(f: &formulas::Formula) -> Options {
    let mut o = Options::new(Cost::Stability).with_samples(256);
    for &(v, lo, hi) in f.ranges {
        o = o.with_range(v, lo, hi);
    }
    o
}

/// Bits of error on samples the optimizer never saw (another seed).
fn fresh_error(pool: &ExprPool, e: alkahest_core::ExprId, f: &formulas::Formula) -> f64 {
    let vars = free_symbols(pool, e).unwrap();
    let v = pool.view();
    let ranges: Vec<Option<(f64, f64)>> = vars
        .iter()
        .map(|&id| {
            let name = match v.node(id) {
                alkahest_core::Node::Symbol(s) => s.to_string(),
                _ => unreachable!(),
            };
            f.ranges.iter().find(|r| r.0 == name).map(|r| (r.1, r.2))
        })
        .collect();
    drop(v);
    let s = Samples::new(&ranges, 256, 0xfeed_beef).unwrap();
    error_bits(pool, e, &vars, &s).unwrap()
}

#[test]
fn unstable_formulas_within_two_bits_on_average() {
    assert!(formulas::UNSTABLE.len() >= 20);
    let pool = ExprPool::new();
    let (mut naive, mut opt) = (0.0, 0.0);
    let mut lines = Vec::new();
    for f in formulas::UNSTABLE {
        let e = common::parse(&pool, f.src);
        let r = simplify(&pool, e, &options(f)).unwrap();
        let before = fresh_error(&pool, e, f);
        let after = fresh_error(&pool, r.expr, f);
        lines.push(format!(
            "{:14} {before:6.2} -> {after:6.2}  {}",
            f.name,
            alkahest_core::to_string(&pool, r.expr)
        ));
        // Every formula must be unstable naively, and improve.
        assert!(before > 10.0, "{}: naive only {before} bits", f.name);
        assert!(after < before, "{}: {before} -> {after}", f.name);
        naive += before;
        opt += after;
    }
    let n = formulas::UNSTABLE.len() as f64;
    let (naive, opt) = (naive / n, opt / n);
    println!("{}", lines.join("\n"));
    assert!(naive > 30.0, "naive mean {naive}");
    assert!(
        opt <= 2.0,
        "optimized mean {opt} bits\n{}",
        lines.join("\n")
    );
}

#[test]
fn well_conditioned_formulas_never_get_worse() {
    let pool = ExprPool::new();
    for f in formulas::STABLE {
        let e = common::parse(&pool, f.src);
        let r = simplify(&pool, e, &options(f)).unwrap();
        let (b, a) = (r.error_bits_before.unwrap(), r.error_bits_after.unwrap());
        // Candidates within 0.05 bits count as ties and go to fewer ops.
        assert!(
            a <= b + 0.05,
            "{}: {b} -> {a} on the optimizer's samples",
            f.name
        );
        let (fb, fa) = (fresh_error(&pool, e, f), fresh_error(&pool, r.expr, f));
        assert!(fa <= fb + 0.5, "{}: {fb} -> {fa} on fresh samples", f.name);
    }
}

#[test]
fn error_bits_definition() {
    use alkahest_egraph::ulp_bits;
    assert_eq!(ulp_bits(1.0, 1.0), 0.0);
    assert_eq!(ulp_bits(1.0f64.next_up(), 1.0), 1.0);
    assert_eq!(ulp_bits(-0.0, 0.0), 0.0);
    assert_eq!(ulp_bits(f64::NAN, 1.0), 64.0);
    assert!((ulp_bits(f64::MIN_POSITIVE, -f64::MIN_POSITIVE) - 53.0).abs() < 0.01);
}
