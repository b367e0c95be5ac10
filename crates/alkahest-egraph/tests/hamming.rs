//! The textbook-unstable benchmark set (`common/hamming.rs`) on samples
//! uniform over the float64 bit patterns of the whole range: `Cost::Stability`
//! is never worse than written on its samples, fixes what the rules cover,
//! and splits the quadratic formula into regimes. The full table (256
//! samples, fresh-sample check) is `examples/hamming_report.rs`.

mod common;
#[path = "common/hamming.rs"]
mod hamming;

use std::time::Duration;

use alkahest_core::ExprPool;
use alkahest_egraph::{Cost, Options, Sampler, free_symbols, simplify};

/// Saturation bounded by nodes and iterations, not by the (shared,
/// debug-build) machine's speed.
fn options(samples: usize) -> Options {
    Options::new(Cost::Stability)
        .with_samples(samples)
        .with_time_limit(Duration::from_secs(20))
}

#[test]
fn whole_range_never_worse_and_mostly_fixed() {
    let pool = ExprPool::new();
    let (mut before, mut after, mut n) = (0.0, 0.0, 0.0);
    let mut lines = Vec::new();
    for f in hamming::HAMMING {
        let e = common::parse(&pool, f.src);
        let r = simplify(&pool, e, &options(48)).unwrap();
        let (b, a) = (r.error_bits_before.unwrap(), r.error_bits_after.unwrap());
        lines.push(format!(
            "{:12} {b:6.2} -> {a:6.2}  {}",
            f.name,
            alkahest_core::to_string(&pool, r.expr)
        ));
        // Never worse than written, on the samples that chose it.
        assert!(a <= b, "{}: {b} -> {a}", f.name);
        assert_eq!(r.sampling.as_ref().unwrap().valid, 48, "{}", f.name);
        if !f.report_only {
            before += b;
            after += a;
            n += 1.0;
        }
    }
    let (before, after) = (before / n, after / n);
    println!("{}", lines.join("\n"));
    assert!(before > 20.0, "written: mean {before} bits");
    assert!(
        after < 2.0,
        "stability: mean {after} bits\n{}",
        lines.join("\n")
    );
}

#[test]
fn the_quadratic_formula_gets_regimes_on_b() {
    let pool = ExprPool::new();
    for src in [
        "(-b + sqrt(b**2 - 4*a*c))/(2*a)",
        "(-b - sqrt(b**2 - 4*a*c))/(2*a)",
    ] {
        let e = common::parse(&pool, src);
        let r = simplify(&pool, e, &options(128)).unwrap();
        let g = r.regime.as_ref().unwrap_or_else(|| panic!("{src}: {r:?}"));
        assert_eq!(g.var, "b");
        assert!(g.threshold.abs() < 1e-100, "{g:?}");
        let (b, a) = (r.error_bits_before.unwrap(), r.error_bits_after.unwrap());
        assert!(b > 20.0 && a < 2.0, "{src}: {b} -> {a}");
        assert!(a + 1.0 <= g.single_bits, "{g:?}");
        // Off: no split (the best single candidate, still never worse).
        let r = simplify(&pool, e, &options(128).with_regimes(false)).unwrap();
        assert!(r.regime.is_none());
        assert!(r.error_bits_after.unwrap() <= b);
    }
}

#[test]
fn series_remove_structural_cancellation() {
    // Cancellation that no identity removes: a truncated series around 0
    // (or in 1/x at infinity) wins near its centre; it is selected only
    // within the radius where its truncation error is below half an ulp,
    // so the result is never worse than written even where the
    // whole-range samples are sparse ([1e-3, 1e3] holds ~1% of them).
    let pool = ExprPool::new();
    for src in [
        "x - sin(x)",
        "1/x - 1/tan(x)",
        "(x - sin(x))/(x - tan(x))",
        "1/(x + 1) - 2/x + 1/(x - 1)",
    ] {
        let e = common::parse(&pool, src);
        let r = simplify(&pool, e, &options(128)).unwrap();
        let (b, a) = (r.error_bits_before.unwrap(), r.error_bits_after.unwrap());
        assert!(b > 10.0 && a < 1.0, "{src}: {b} -> {a}");
        let vars = free_symbols(&pool, e).unwrap();
        let mut mid = Sampler::new(vec![Some((-1e3, 1e3))], 200);
        mid.seed = 7;
        let m = mid.sample(&pool, e, &vars).unwrap();
        let bits = |x| {
            alkahest_egraph::accuracy::error_bits_against(&pool, x, &vars, &m.samples, &m.reference)
                .unwrap()
                .unwrap()
        };
        let (mb, ma) = (bits(e), bits(r.expr));
        assert!(ma <= mb + 0.1, "{src} on [-1e3, 1e3]: {mb} -> {ma}");
    }
}
