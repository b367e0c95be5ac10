//! Divisions that share a denominator: where the host takes them through
//! the denominator's reciprocal (the codegen `division` module), every
//! quotient must still carry the IEEE division's bits. Checked bit for bit
//! against Rust's `/` on quotients next to rounding midpoints, across the
//! whole exponent range, at the edges of the covered range, and on zeros,
//! subnormals, infinities and NaN; in the direct loop (unrolled and not)
//! and in the loops of many outputs. (Returning `a y` alone, or covering a
//! lane when only one of `a`, `b` is in range, fails here; returning the
//! first correction `q1` does not: it rounds right on every case drawn,
//! and the second correction is there for Markstein's proof.)

mod common;

use alkahest_core::{ExprId, ExprPool};
use alkahest_llvm::{LlvmOptions, compile, optimized_ir, shared_vector_division};
use alkahest_tape::lower_many;
use alkahest_testkit::values::Rng;
use common::{SPECIALS, same};

/// `k` outputs `(x_(i mod m) + i + 1) / d` over inputs `x_0..x_m` and `d`
/// (the last input).
fn quotients(k: usize, m: usize) -> (ExprPool, Vec<ExprId>, Vec<ExprId>) {
    let p = ExprPool::new();
    let xs: Vec<ExprId> = (0..m)
        .map(|i| p.symbol(&format!("x{i}")).unwrap())
        .collect();
    let d = p.symbol("d").unwrap();
    let outs = (0..k)
        .map(|i| {
            let a = p
                .add(&[xs[i % m], p.integer(i as i64 + 1).unwrap()])
                .unwrap();
            p.div(a, d).unwrap()
        })
        .collect();
    let mut vars = xs;
    vars.push(d);
    (p, outs, vars)
}

/// A double of any sign, biased exponent in `lo..hi` and any mantissa.
fn double(g: &mut Rng, lo: u64, hi: u64) -> f64 {
    let r = g.next_u64();
    let e = lo + (r >> 11) % (hi - lo);
    f64::from_bits((r & (1 << 63)) | (e << 52) | (g.next_u64() >> 12))
}

/// Columns of `n` points: `k` numerator inputs and the denominator.
fn columns(k: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut g = Rng::new(seed);
    // The special values, and the covered range's edges and neighbours.
    let specials: Vec<f64> = SPECIALS
        .iter()
        .copied()
        .chain([
            f64::powi(2.0, -480),
            -f64::powi(2.0, 480),
            f64::powi(2.0, -481) * 1.999_999_999_999_999_8,
            f64::powi(2.0, 480) * (1.0 + f64::EPSILON),
            3.0,
        ])
        .collect();
    let mut d = Vec::with_capacity(n);
    let mut nums = vec![Vec::with_capacity(n); k];
    let mut hard = vec![None; n];
    for i in 0..n {
        // Whole vectors of ordinary values, so that most take the
        // reciprocal, and one in four with values it leaves to the divider.
        let wild = (i / 8) % 4 == 0;
        let b = match (wild, i % 5) {
            (true, 0 | 1) => specials[(i * 3) % specials.len()],
            (true, _) => double(&mut g, 1, 2047),
            (false, _) => double(&mut g, 1023 - 40, 1023 + 40),
        };
        d.push(b);
        for (j, col) in nums.iter_mut().enumerate() {
            let a = match (wild, (i + j) % 8) {
                (true, 0..=2) => specials[(i * 7 + j) % specials.len()],
                (true, _) => double(&mut g, 1, 2047),
                // A quotient 2^-53 ulp from a midpoint, over its own
                // denominator (`d` of the lane is replaced below).
                (false, 0..=4) => {
                    let (a, hard_b) = hard_case(&mut g, j as f64 + 1.0);
                    hard[i] = Some(hard_b);
                    a
                }
                // Whole-number quotients.
                (false, 5) => b * (g.next_u64() % 1000) as f64,
                (false, _) => double(&mut g, 1023 - 100, 1023 + 100),
            };
            col.push(a);
        }
    }
    // Each point's numerators are made for one hard denominator (the
    // last one drawn): the others' quotients are ordinary in-range ones.
    for (b, h) in d.iter_mut().zip(&hard) {
        if let Some(h) = h {
            *b = *h;
        }
    }
    nums.push(d);
    nums
}

/// A numerator `a` (minus `c`, which the tape adds back exactly) and a
/// denominator `b` whose quotient is `2^-53` of an ulp from the midpoint
/// between two doubles: `b = B 2^f`, `a = A 2^e` with `B` odd, `A (2^53) =
/// (2M + 1) B + t` for `t = ±1`, so `a/b = (M + 1/2 + t/(2B)) 2^(e - f - 52)`
/// (hard for any quotient that is not correctly rounded).
fn hard_case(g: &mut Rng, c: f64) -> (f64, f64) {
    const P53: u64 = 1 << 53;
    loop {
        let b_int = (1u64 << 52) | (g.next_u64() & ((1 << 52) - 1)) | 1;
        // The inverse of `b_int` modulo 2^64 by Newton's iteration.
        let mut inv = b_int;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(b_int.wrapping_mul(inv)));
        }
        let t: i128 = if g.next_u64().is_multiple_of(2) {
            1
        } else {
            -1
        };
        let k = (((-t) as u64).wrapping_mul(inv)) % P53;
        let odd = u128::from(k + P53); // 2M + 1, in [2^53, 2^54)
        let p = odd * u128::from(b_int);
        let a_int = (p as i128 + t) / i128::from(P53);
        if a_int >= i128::from(P53) {
            continue;
        }
        let e = (g.next_u64() % 60) as i32;
        let f = (g.next_u64() % 200) as i32 - 100;
        let sign = if g.next_u64().is_multiple_of(2) {
            1.0
        } else {
            -1.0
        };
        let a = sign * a_int as f64 * f64::powi(2.0, e);
        let b = b_int as f64 * f64::powi(2.0, f);
        return (a - c, b);
    }
}

fn check(k: usize, m: usize, n: usize, seed: u64) {
    let (p, outs, vars) = quotients(k, m);
    let tape = lower_many(&p, &outs, &vars).unwrap();
    let opts = LlvmOptions::default();
    let ir = optimized_ir(&tape, &opts).unwrap();
    assert_eq!(
        ir.contains("div_join"),
        shared_vector_division().unwrap(),
        "reciprocal divisions where the host takes them, only there"
    );
    let f = compile(&tape, &opts).unwrap();
    let cols = columns(m, n, seed);
    let got = common::bulk_at(&f, &cols, n, |_| 0);
    let d = &cols[m];
    let mut bad = 0;
    for (j, col) in got.iter().enumerate() {
        for i in 0..n {
            let a = cols[j % m][i] + (j + 1) as f64;
            let want = a / d[i];
            let ok = same(col[i], want);
            if !ok && bad < 5 {
                eprintln!("{a:e} / {:e}: got {:e}, want {want:e}", d[i], col[i]);
            }
            bad += usize::from(!ok);
        }
    }
    assert_eq!(bad, 0, "{bad} quotients differ from IEEE division");
}

#[test]
fn few_outputs_keep_the_division_bits() {
    check(3, 3, 200_003, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn many_outputs_keep_the_division_bits() {
    // More than 16 outputs: the staged (or grouped) loop.
    check(20, 3, 60_001, 0xD1B5_4A32_D192_ED03);
}
