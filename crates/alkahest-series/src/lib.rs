//! Taylor coefficients by truncated power-series arithmetic over the
//! kernel tape (automatic differentiation in Taylor mode): the coefficients
//! `f^(k)(a) / k!` of an expression in one variable about a point `a`.
//!
//! Pure `f64` arithmetic, no code generation: the `taylor()` of every build.
//! The MLIR backend (`alkahest-mlir`) builds `alkahest.series_taylor` on
//! these coefficients.
//!
//! Each tape operation maps to its series: sums, products and quotients by
//! the Cauchy product and its inverse, elementary functions by the
//! recurrences of their differential equations (`exp`, `sin`/`cos`,
//! `sqrt`, real powers) or by integrating their derivative's series (`log`,
//! `atan`, `asin`, `erf`, ...). Piecewise functions (`floor`, comparisons,
//! selections, `fmod`, `copysign`, `min`/`max`, `abs`) are constant or follow
//! one branch near a regular point and have no series (an error) where they
//! jump. `tgamma`, `lgamma`, `digamma` and `trigamma` have none here
//! ([`Error::Unsupported`]).

mod arith;
mod error;

use alkahest_core::{ExprId, ExprPool};
use alkahest_tape::Op;

use arith::{S, add, choose, compare, constant, div, mul, scale};
pub use error::{Error, Result};

/// `digamma` and `trigamma` lower to a piecewise approximation
/// (`alkahest_tape::special`) whose Taylor arithmetic would give the
/// approximation's derivatives, not theirs (polygamma functions): they
/// have no series here, like `tgamma`.
fn refuse_special(pool: &ExprPool, expr: ExprId) -> Result<()> {
    use alkahest_core::{Func, Node};
    pool.check(expr).map_err(alkahest_tape::Error::from)?;
    let v = pool.view();
    for id in v.reachable(&[expr]) {
        if let Node::Func(f @ (Func::Digamma | Func::Trigamma), _) = v.node(id) {
            return Err(Error::Unsupported {
                what: f.name().into(),
            });
        }
    }
    Ok(())
}

/// Highest order accepted (the arithmetic is quadratic in the order).
pub const MAX_ORDER: usize = 256;

/// The Taylor coefficients `t_k = f^(k)(center) / k!`, k = 0..=order, of
/// `expr` as a function of the symbol `var` (its only free symbol).
/// Fails when a coefficient is not finite (a singularity at the center).
pub fn taylor_coefficients(
    pool: &ExprPool,
    expr: ExprId,
    var: ExprId,
    center: f64,
    order: usize,
) -> Result<Vec<f64>> {
    if order > MAX_ORDER {
        return Err(Error::InvalidArgument(format!(
            "series order {order} exceeds {MAX_ORDER}"
        )));
    }
    if !center.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "series center must be finite, got {center}"
        )));
    }
    refuse_special(pool, expr)?;
    let tape = alkahest_tape::lower(pool, expr, &[var])?;
    let n = order + 1;
    let mut regs: Vec<S> = Vec::with_capacity(tape.ops().len());
    for op in tape.ops() {
        let r = |i: u32| -> &S { &regs[i as usize] };
        let v = match *op {
            Op::Input(_) => {
                let mut x = constant(center, n);
                if n > 1 {
                    x[1] = 1.0;
                }
                x
            }
            Op::Const(c) => constant(c, n),
            Op::Neg(a) => scale(r(a), -1.0),
            Op::Add(a, b) => add(r(a), r(b)),
            Op::Sub(a, b) => add(r(a), &scale(r(b), -1.0)),
            Op::Mul(a, b) => mul(r(a), r(b)),
            Op::Div(a, b) => div(r(a), r(b)),
            Op::Fma(a, b, c) => add(&mul(r(a), r(b)), r(c)),
            Op::Unary(f, a) => arith::unary(f, r(a))?,
            Op::Binary(f, a, b) => arith::binary(f, r(a), r(b))?,
            Op::Cmp(k, a, b) => compare(k, r(a), r(b)),
            Op::Select(c, a, b) => choose(r(c), r(a), r(b)),
        };
        regs.push(v);
    }
    let out = regs.swap_remove(tape.outputs()[0] as usize);
    if let Some(k) = out.iter().position(|c| !c.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "Taylor coefficient {k} at {center} is not finite (singular point?)"
        )));
    }
    Ok(out)
}
