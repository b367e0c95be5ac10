//! Comparing doubles, special values, and deterministic input columns.

/// Equal bits, or both NaN. NaN payloads and signs are not compared: they
/// are not part of the semantics (Cranelift's `fmin`/`fmax` leave the sign
/// of a NaN result unspecified, and operand order of commutative
/// operations may differ when both operands are NaN).
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Exact bits, NaN payloads and signs included.
pub fn bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// Distance in units of the last place between two doubles: 0 for equal
/// values (`0.0` and `-0.0` included) and for two NaNs, `u64::MAX` when
/// only one is NaN.
pub fn ulps_apart(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    if a == b {
        return 0;
    }
    // Map the doubles onto a line of integers ordered like the values.
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

/// How far `got` is from `want`, in units of `want`'s last place (the
/// gap above `|want|`; fractional, for bounds like 1.5 ulp): 0 for equal
/// bits or two NaNs, infinite when only one is finite or NaN.
pub fn ulps_off(got: f64, want: f64) -> f64 {
    if got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    if !got.is_finite() || !want.is_finite() {
        return f64::INFINITY;
    }
    let u = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
    (got - want).abs() / u
}

/// IEEE special values and a few ordinary ones: NaN, infinities, signed
/// zeros, the smallest subnormals, a subnormal in the middle, the smallest
/// normal, the extremes, and ±1, 0.5, -2.5, 710 (where `exp` overflows),
/// ±1e300 and -1e-300.
pub const SPECIALS: [f64; 22] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    f64::MIN_POSITIVE / 4.0,
    -f64::MIN_POSITIVE / 4.0,
    1e-310,
    f64::MIN_POSITIVE,
    f64::MAX,
    f64::MIN,
    1.0,
    -1.0,
    0.5,
    -2.5,
    710.0,
    1e300,
    -1e300,
    -1e-300,
    1e-8,
];

/// Points where elementary functions change behaviour: integers and
/// half-integers (`floor`, `ceiling`, the poles and sign changes of
/// `gamma`), the overflow thresholds of `gamma` and `exp`, domain edges of
/// the inverse functions and ordinary values around them.
pub const FUNCTION_POINTS: [f64; 16] = [
    0.1,
    -0.5,
    2.0,
    -2.0,
    2.5,
    3.0,
    -7.0,
    171.5,
    -170.5,
    700.0,
    -745.0,
    1e-8,
    0.9999999999999999,
    1.0000000000000002,
    -1.7,
    27.0,
];

/// A small deterministic generator (xorshift64), so inputs are the same on
/// every run and every machine without a dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        s
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * (hi - lo)
    }
}

/// `n` points uniform in `[lo, hi)` from [`Rng`] seeded with `seed`.
pub fn uniform(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

/// `n_vars` columns of `n` points: one in five from [`SPECIALS`], the rest
/// uniform in `[-4, 4)`.
pub fn columns(n_vars: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(seed);
    (0..n_vars)
        .map(|_| {
            (0..n)
                .map(|_| {
                    let r = rng.next_u64();
                    if r.is_multiple_of(5) {
                        SPECIALS[(r >> 8) as usize % SPECIALS.len()]
                    } else {
                        rng.uniform(-4.0, 4.0)
                    }
                })
                .collect()
        })
        .collect()
}

/// `n` points of `n_vars` coordinates uniform in `[-2, 2)`, no special
/// values (for comparisons with a tolerance).
pub fn points(n_vars: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (0..n_vars).map(|_| rng.uniform(-2.0, 2.0)).collect())
        .collect()
}

/// The points of `columns` (column-major) as rows.
pub fn rows(columns: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = columns.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert!(same(f64::NAN, -f64::NAN) && !bits(f64::NAN, -f64::NAN));
        assert!(!same(0.0, -0.0));
        assert_eq!(ulps_apart(0.0, -0.0), 0);
        assert_eq!(ulps_apart(5e-324, -5e-324), 2);
        assert_eq!(ulps_apart(1.0, 1.0000000000000002), 1);
        assert_eq!(ulps_apart(1.0, f64::NAN), u64::MAX);
    }

    #[test]
    fn columns_are_deterministic_and_mixed() {
        let a = columns(2, 200, 3);
        let bits_of =
            |c: &[Vec<f64>]| -> Vec<u64> { c.iter().flatten().map(|v| v.to_bits()).collect() };
        assert_eq!(bits_of(&a), bits_of(&columns(2, 200, 3)));
        assert!(a[0].iter().any(|v| v.is_nan()) || a[1].iter().any(|v| v.is_nan()));
        assert!(
            points(3, 50, 1)
                .iter()
                .flatten()
                .all(|v| (-2.0..2.0).contains(v))
        );
    }
}
