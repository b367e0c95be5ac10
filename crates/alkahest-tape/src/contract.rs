//! FMA contraction: `a*b + c` as one fused multiply-add.
//!
//! A fused operation rounds once instead of twice, so in the standard error
//! model it is never less accurate than the pair it replaces, and it halves
//! the arithmetic of multiply-add chains (a degree-n polynomial in Horner
//! form becomes n FMAs). It does change results in the last bits, and it can
//! make `x*x - y*y` asymmetric, so it is part of `optimize="speed"` only,
//! never of the as-written compile that every backend must match bit for bit.

use hashbrown::HashMap;

use crate::lower::eliminate_dead;
use crate::tape::{Op, Reg, Tape};

/// Whether this CPU fuses multiply-add in hardware. Where it does, every
/// tier runs `Op::Fma` as one instruction; elsewhere `f64::mul_add` is a
/// slow software routine, so contraction would cost instead of save.
pub fn hardware_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(target_arch = "aarch64")]
    {
        true
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Fuse each multiply whose only use is an addition into that addition.
///
/// Rewritten forms (`m = a*b` used once, `k` a constant):
/// `m + c`, `c + m` -> `fma(a, b, c)`; `m - k` -> `fma(a, b, -k)`;
/// `c - k*b` -> `fma(-k, b, c)`. Negating a constant is exact, so each form
/// is `a*b + c` with a single rounding. Returns the new tape and how many
/// operations were fused (0: the tape comes back unchanged).
pub fn contract_fma(tape: &Tape) -> (Tape, usize) {
    let uses = tape.use_counts();
    let single_mul = |r: Reg| match tape.ops()[r as usize] {
        Op::Mul(a, b) if uses[r as usize] == 1 => Some((a, b)),
        _ => None,
    };
    let konst = |r: Reg| match tape.ops()[r as usize] {
        Op::Const(c) => Some(c),
        _ => None,
    };
    // New tape: old register -> new register; negated constants are added
    // where first needed (each once) so operands still precede their use.
    let mut ops: Vec<Op> = Vec::with_capacity(tape.ops().len() + 4);
    let mut map: Vec<Reg> = Vec::with_capacity(tape.ops().len());
    let mut consts: HashMap<u64, Reg> = HashMap::new();
    let mut fused = 0;
    for op in tape.ops() {
        let m = |r: Reg| map[r as usize];
        let new = match *op {
            Op::Add(p, q) => match (single_mul(p), single_mul(q)) {
                (Some((a, b)), _) => Some(Op::Fma(m(a), m(b), m(q))),
                (None, Some((a, b))) => Some(Op::Fma(m(a), m(b), m(p))),
                _ => None,
            },
            Op::Sub(p, q) => match (single_mul(p), konst(q), single_mul(q)) {
                (Some((a, b)), Some(k), _) => {
                    let nk = const_reg(&mut ops, &mut consts, -k);
                    Some(Op::Fma(m(a), m(b), nk))
                }
                (_, _, Some((a, b))) => match (konst(a), konst(b)) {
                    (Some(k), _) => {
                        let nk = const_reg(&mut ops, &mut consts, -k);
                        Some(Op::Fma(nk, m(b), m(p)))
                    }
                    (None, Some(k)) => {
                        let nk = const_reg(&mut ops, &mut consts, -k);
                        Some(Op::Fma(nk, m(a), m(p)))
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let out = match new {
            Some(f) => {
                fused += 1;
                f
            }
            None => op.map_regs(|r| map[r as usize]),
        };
        if let Op::Const(c) = out {
            if let Some(&r) = consts.get(&c.to_bits()) {
                map.push(r);
                continue;
            }
            consts.insert(c.to_bits(), ops.len() as Reg);
        }
        map.push(ops.len() as Reg);
        ops.push(out);
    }
    if fused == 0 {
        return (tape.clone(), 0);
    }
    let outputs = tape.outputs().iter().map(|&o| map[o as usize]).collect();
    (eliminate_dead(tape.n_inputs(), ops, outputs), fused)
}

/// Register holding constant `c`, pushing it if not there yet.
fn const_reg(ops: &mut Vec<Op>, consts: &mut HashMap<u64, Reg>, c: f64) -> Reg {
    *consts.entry(c.to_bits()).or_insert_with(|| {
        ops.push(Op::Const(c));
        (ops.len() - 1) as Reg
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::UnaryFn;

    /// The tape's value at one point (the kernel's reference semantics).
    fn eval(t: &Tape, x: &[f64]) -> f64 {
        t.eval_point(x)[0]
    }

    fn tape(n_inputs: usize, ops: Vec<Op>) -> Tape {
        let output = (ops.len() - 1) as Reg;
        Tape::new(n_inputs, ops, vec![output]).unwrap()
    }

    #[test]
    fn horner_chain_becomes_all_fmas() {
        // ((2*x + 3)*x + 5)*x + 7
        let mut ops = vec![Op::Input(0), Op::Const(2.0)];
        let mut acc = 1;
        for c in [3.0, 5.0, 7.0] {
            ops.push(Op::Mul(acc, 0));
            ops.push(Op::Const(c));
            let n = ops.len() as Reg;
            ops.push(Op::Add(n - 2, n - 1));
            acc = n;
        }
        let t = tape(1, ops);
        let (c, fused) = contract_fma(&t);
        assert_eq!(fused, 3);
        assert_eq!(c.n_compute(), 3);
        assert!(
            c.ops()
                .iter()
                .all(|o| !matches!(o, Op::Mul(..) | Op::Add(..)))
        );
        for x in [0.0, -1.5, 0.1, 3.25, 1e300] {
            let want = ((2f64.mul_add(x, 3.0)).mul_add(x, 5.0)).mul_add(x, 7.0);
            assert_eq!(eval(&c, &[x]).to_bits(), want.to_bits(), "x = {x}");
        }
    }

    #[test]
    fn subtraction_of_and_from_constants() {
        // x*y - 0.1 and 0.3 - 3*x
        let t = tape(
            2,
            vec![
                Op::Input(0),
                Op::Input(1),
                Op::Mul(0, 1),
                Op::Const(0.1),
                Op::Sub(2, 3),
            ],
        );
        let (c, fused) = contract_fma(&t);
        assert_eq!((fused, c.n_compute()), (1, 1));
        let (x, y) = (0.7f64, 1.3);
        assert_eq!(eval(&c, &[x, y]).to_bits(), x.mul_add(y, -0.1).to_bits());

        let t = tape(
            1,
            vec![
                Op::Input(0),
                Op::Const(0.3),
                Op::Const(3.0),
                Op::Mul(2, 0),
                Op::Sub(1, 3),
            ],
        );
        let (c, fused) = contract_fma(&t);
        assert_eq!((fused, c.n_compute()), (1, 1));
        assert_eq!(
            eval(&c, &[0.1]).to_bits(),
            (-3f64).mul_add(0.1, 0.3).to_bits()
        );
    }

    #[test]
    fn shared_products_and_other_ops_are_left_alone() {
        // m = x*y is used twice: m + sin(m) keeps both ops; x - y*z with no
        // constant factor is not rewritten (it would need a negation).
        let t = tape(
            2,
            vec![
                Op::Input(0),
                Op::Input(1),
                Op::Mul(0, 1),
                Op::Unary(UnaryFn::Sin, 2),
                Op::Add(2, 3),
            ],
        );
        assert_eq!(contract_fma(&t), (t.clone(), 0));
        let t = tape(
            2,
            vec![Op::Input(0), Op::Input(1), Op::Mul(1, 1), Op::Sub(0, 2)],
        );
        assert_eq!(contract_fma(&t), (t.clone(), 0));
        // The product as the output is a use too.
        let t = Tape::new(
            2,
            vec![Op::Input(0), Op::Input(1), Op::Mul(0, 1), Op::Add(2, 0)],
            vec![2],
        )
        .unwrap();
        assert_eq!(contract_fma(&t).1, 0);
    }

    #[test]
    fn inputs_stay_first_and_negated_constants_are_shared() {
        // (x*y - 2) / (x*x - 2): two subtractions of one constant share -2.
        let t = tape(
            2,
            vec![
                Op::Input(0),
                Op::Input(1),
                Op::Const(2.0),
                Op::Mul(0, 1),
                Op::Sub(3, 2),
                Op::Mul(0, 0),
                Op::Sub(5, 2),
                Op::Div(4, 6),
            ],
        );
        let (c, fused) = contract_fma(&t);
        assert_eq!(fused, 2);
        assert_eq!(c.ops()[..2], [Op::Input(0), Op::Input(1)]);
        let negs = c
            .ops()
            .iter()
            .filter(|o| matches!(o, Op::Const(v) if *v == -2.0))
            .count();
        assert_eq!(negs, 1);
        let (x, y) = (1.1f64, -0.4);
        let want = x.mul_add(y, -2.0) / x.mul_add(x, -2.0);
        assert_eq!(eval(&c, &[x, y]).to_bits(), want.to_bits());
    }

    /// Random tapes of integer arithmetic: whenever every intermediate value
    /// is an integer below 2^40 the products and sums are exact, so fused and
    /// unfused must agree bit for bit; each fusion removes exactly one
    /// compute op, and the tape stays well formed.
    #[test]
    fn random_integer_tapes_agree_exactly() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let (mut checked, mut total_fused) = (0, 0);
        for _ in 0..3000 {
            let n_inputs = 1 + rnd(3) as usize;
            let mut ops: Vec<Op> = (0..n_inputs as u32).map(Op::Input).collect();
            for _ in 0..(2 + rnd(14)) {
                let len = ops.len() as u64;
                let (a, b) = (rnd(len) as Reg, rnd(len) as Reg);
                ops.push(match rnd(6) {
                    0 => Op::Const(rnd(7) as f64 - 3.0),
                    1 => Op::Add(a, b),
                    2 => Op::Sub(a, b),
                    3 => Op::Neg(a),
                    _ => Op::Mul(a, b),
                });
            }
            // Lowered tapes hold no dead ops; contract one like them.
            let out = (ops.len() - 1) as Reg;
            let t = crate::lower::eliminate_dead(n_inputs, ops, vec![out]);
            let xs: Vec<f64> = (0..n_inputs).map(|_| rnd(9) as f64 - 4.0).collect();
            let (c, fused) = contract_fma(&t);
            total_fused += fused;
            assert_eq!(c.ops()[..n_inputs], t.ops()[..n_inputs]);
            for (i, op) in c.ops().iter().enumerate() {
                assert!(op.operands().all(|r| (r as usize) < i), "{op:?} at {i}");
            }
            assert_eq!(c.n_compute() + fused, t.n_compute());
            // Exactness holds only while every value is a small integer.
            let vals = t.registers(&xs);
            if vals.iter().all(|v| v.abs() < (1u64 << 40) as f64) {
                assert_eq!(eval(&c, &xs).to_bits(), eval(&t, &xs).to_bits(), "{t:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "only {checked} tapes stayed exact");
        assert!(total_fused > 200, "only {total_fused} fusions exercised");
    }
}
