#[path = "../tests/common/mod.rs"]
mod common;
use alkahest_egraph::*;
fn main() {
    let pool = alkahest_core::ExprPool::new();
    let cases: &[(&str, &[(&str, f64, f64)])] = &[
        ("exp(x) - 1", &[("x", -1e-10, 1e-10)]),
        ("log(1 + x)", &[("x", -1e-10, 1e-10)]),
        ("sqrt(x + 1) - sqrt(x)", &[("x", 1e10, 1e15)]),
        ("(-b + sqrt(b**2 - 4*a*c))/(2*a)", &[("a", 1.0, 2.0), ("b", 1e8, 1e9), ("c", 1.0, 2.0)]),
        ("1/(1+exp(-x))", &[("x", -1000.0, -710.0)]),
        ("sin(x + e) - sin(x)", &[("x", 1.0, 2.0), ("e", 1e-12, 1e-10)]),
    ];
    for (src, ranges) in cases {
        let e = common::parse(&pool, src);
        let mut o = Options::new(Cost::Stability);
        for (n, lo, hi) in *ranges { o = o.with_range(n, *lo, *hi); }
        let t = std::time::Instant::now();
        let r = simplify(&pool, e, &o).unwrap();
        println!("{src} -> {}  {:?} bits {:?} -> {:?} ops {}->{} {:?} nodes {} {:?}", alkahest_core::to_string(&pool, r.expr), r.stop_reason, r.error_bits_before, r.error_bits_after, r.ops_before, r.ops_after, t.elapsed(), r.egraph_nodes, r.iterations);
    }
}
