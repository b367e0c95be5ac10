//! Whole-range sampling, the user domain, and the escalating MPFR ground
//! truth.

mod common;

use alkahest_core::ExprPool;
use alkahest_egraph::{
    Cost, GroundTruth, Options, Precision, Reference, Sampled, Sampler, free_symbols, simplify,
};

/// `Sampler` with the given fields.
fn sample(
    pool: &ExprPool,
    e: alkahest_core::ExprId,
    ranges: &[Option<(f64, f64)>],
    (points, max_draws): (usize, usize),
    seed: u64,
    precision: Precision,
) -> Sampled {
    let vars = free_symbols(pool, e).unwrap();
    let s = Sampler {
        ranges: ranges.to_vec(),
        points,
        max_draws,
        seed,
        precision,
    };
    s.sample(pool, e, &vars).unwrap()
}

fn truth_at(src: &str, point: &[f64], prec: Precision) -> (Reference, u32) {
    let pool = ExprPool::new();
    let e = common::parse(&pool, src);
    let vars = free_symbols(&pool, e).unwrap();
    GroundTruth::new(&pool, e, &vars, prec).unwrap().at(point)
}

#[test]
fn whole_range_keeps_only_finite_ground_truth() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "sqrt(x)");
    let s = sample(&pool, e, &[None], (200, 4000), 1, Precision::default());
    assert_eq!(s.stats.valid, 200);
    assert_eq!(s.samples.len(), 200);
    assert!(s.samples.columns[0].iter().all(|&x| x >= 0.0));
    // About half the bit patterns are negative: drawn, dropped, counted.
    assert!(s.stats.undefined > 100, "{:?}", s.stats);
    assert_eq!(s.stats.drawn, s.stats.valid + s.stats.undefined);
    // Every binade is as likely: most points are far from 1.
    let big = s.samples.columns[0]
        .iter()
        .filter(|x| x.abs() > 1e10)
        .count();
    let tiny = s.samples.columns[0]
        .iter()
        .filter(|x| x.abs() < 1e-10)
        .count();
    assert!(big > 40 && tiny > 40, "{big} {tiny}");
}

#[test]
fn the_user_domain_bounds_the_samples() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "log(x) + y");
    let ranges = [Some((0.0, f64::INFINITY)), Some((-2.0, 3.0))];
    let s = sample(&pool, e, &ranges, (100, 800), 2, Precision::default());
    assert_eq!(s.stats.valid, 100);
    assert!(s.samples.columns[0].iter().all(|&x| x >= 0.0));
    assert!(
        s.samples.columns[1]
            .iter()
            .all(|&y| (-2.0..=3.0).contains(&y))
    );
    // A draw budget smaller than the request returns what it found.
    let s = sample(&pool, e, &[None, None], (100, 120), 2, Precision::default());
    assert_eq!(s.stats.drawn, 120);
    assert!(s.stats.valid < 100 && s.stats.valid == s.samples.len());
}

#[test]
fn ground_truth_escalates_past_absorbed_terms() {
    // A flattened sum is rounded once: exact at any precision.
    let (r, _) = truth_at("(x + 1) - x", &[1e300], Precision::default());
    assert_eq!(r, Reference::Value(1.0));
    // 1e300 + 1 inside a square root needs about 1000 bits; 128 and 256
    // would both say 0.
    let (r, p) = truth_at("sqrt(x + 1) - sqrt(x)", &[1e300], Precision::default());
    let want = 0.5 / 1e150;
    let got = r.value().unwrap();
    assert!(
        (got - want).abs() <= 2.0 * (want.next_up() - want),
        "{got} vs {want}"
    );
    assert!(p >= 1024, "{p}");
    let (r, _) = truth_at("exp(x) - 1", &[1e-300], Precision::default());
    assert_eq!(r, Reference::Value(1e-300));
    // exp of a tiny argument rounds to exactly 1 at 128 and 256 bits;
    // two precisions agreeing on 0 here would be wrong.
    let (r, _) = truth_at(
        "log(exp(x) + exp(y))",
        &[-5.687873631483001e270, -1.0102415358606765e-79],
        Precision::default(),
    );
    assert_eq!(r, Reference::Value(-1.0102415358606765e-79));
    // Undefined points and intermediates beyond 2^2200 are told apart.
    assert_eq!(
        truth_at("log(x)", &[-1.0], Precision::default()).0,
        Reference::Undefined
    );
    assert_eq!(
        truth_at("exp(x)*exp(-x)", &[2000.0], Precision::default()).0,
        Reference::OutOfRange
    );
    assert_eq!(
        truth_at("exp(x)", &[800.0], Precision::default()).0,
        Reference::Undefined
    );
}

#[test]
fn points_that_never_settle_are_given_up_and_counted() {
    let tight = Precision {
        start: 128,
        max: 256,
    };
    assert_eq!(
        truth_at("sqrt(x + 1) - sqrt(x)", &[1e300], tight).0,
        Reference::Unstable
    );
    let pool = ExprPool::new();
    let e = common::parse(&pool, "sqrt(x + 1) - sqrt(x)");
    let s = sample(&pool, e, &[Some((1e200, 1e300))], (20, 40), 3, tight);
    assert_eq!(s.stats.valid, 0);
    assert_eq!(s.stats.unstable, 40);
}

#[test]
fn simplify_reports_its_sampling() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "log(x + 1) - log(x)");
    let r = simplify(&pool, e, &Options::new(Cost::Stability).with_samples(64)).unwrap();
    let s = r.sampling.clone().unwrap();
    assert_eq!(s.valid, 64);
    assert!(s.undefined > 0, "{s:?}");
    assert!(r.error_bits_before.unwrap() > 10.0);
    assert!(r.error_bits_after.unwrap() < 1.0, "{r:?}");
}

#[test]
fn a_domain_decides_the_domain_keeping_selection() {
    let pool = ExprPool::new();
    let e = common::parse(&pool, "log(x + 1) - log(x)");
    // Without a domain the result keeps log's domain with a selection...
    let r = simplify(&pool, e, &Options::new(Cost::Stability).with_samples(64)).unwrap();
    let text = alkahest_core::to_string(&pool, r.expr);
    assert!(
        text.contains("log1p") && text.contains("Piecewise"),
        "{text}"
    );
    // ...which `x > 0` decides (bounds are closed: `x >= 1e-300`).
    let opts = Options::new(Cost::Stability)
        .with_samples(64)
        .with_domain([("x", 1e-300, f64::INFINITY)]);
    let r = simplify(&pool, e, &opts).unwrap();
    let text = alkahest_core::to_string(&pool, r.expr);
    assert!(
        text.contains("log1p") && !text.contains("Piecewise"),
        "{text}"
    );
    // A bad domain is a typed error; infinite bounds are fine.
    let bad = Options::new(Cost::Stability).with_domain([("x", 1.0, f64::NAN)]);
    assert!(simplify(&pool, e, &bad).is_err());
}
