//! The `monotone` column of the function table, checked against libm on a
//! dense grid: ball arithmetic encloses the functions marked monotone from
//! the ends of a ball alone, so a wrong mark would give enclosures that
//! miss the true value.

use alkahest_tape::{Monotone, UnaryFn};

/// A sorted grid: dense near 0 and +-1, wide out to +-1e3.
fn grid() -> Vec<f64> {
    let mut xs: Vec<f64> = (-20_000..=20_000).map(|i| i as f64 * 1e-4).collect();
    xs.extend((-10_000..=10_000).map(|i| i as f64 * 0.1));
    xs.extend([-0.0, 5e-324, -5e-324, 1e-300, -1e-300]);
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs
}

fn ulp(v: f64) -> f64 {
    let a = v.abs();
    if a.is_finite() {
        f64::from_bits(a.to_bits() + 1) - a
    } else {
        0.0
    }
}

/// Whether `f` never moves against the direction on the grid (a few ulps
/// of libm wobble allowed), over the points where it is defined.
fn keeps(f: UnaryFn, increasing: bool) -> bool {
    let ys: Vec<f64> = grid()
        .into_iter()
        .map(|x| f.apply(x))
        .filter(|y| !y.is_nan())
        .collect();
    ys.windows(2).all(|w| {
        let (a, b) = if increasing {
            (w[0], w[1])
        } else {
            (w[1], w[0])
        };
        b >= a - 4.0 * ulp(a)
    })
}

#[test]
fn marked_functions_are_monotone_and_the_others_are_not() {
    for f in UnaryFn::ALL {
        match f.info().monotone {
            Monotone::Increasing => assert!(keeps(f, true), "{} is marked increasing", f.c_name()),
            Monotone::Decreasing => {
                assert!(keeps(f, false), "{} is marked decreasing", f.c_name())
            }
            Monotone::No => assert!(
                !keeps(f, true) && !keeps(f, false),
                "{} is monotone on the grid: mark it so ball arithmetic can use it",
                f.c_name()
            ),
        }
    }
}
