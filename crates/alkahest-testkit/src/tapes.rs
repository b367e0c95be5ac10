//! Random tapes, built straight at the op level (no expression pool): every
//! [`Op`] kind, every [`UnaryFn`], [`BinaryFn`] and [`CmpOp`], `Select` on
//! comparisons and on arbitrary values (NaN, ±0, ...), dead ops, and
//! several outputs that may repeat a register or name an input. Every tape
//! goes through [`Tape::new`], so it is valid by construction.

use std::ops::RangeInclusive;

use alkahest_tape::{BinaryFn, CmpOp, Op, Reg, Tape, UnaryFn};
use proptest::prelude::*;

/// Constants drawn for `Const` ops (half of the time; the other half are
/// uniform in `[-4, 4)`): signed zeros, NaN, infinity, a huge value, the
/// smallest subnormal and a few ordinary values.
pub const TAPE_CONSTANTS: [f64; 10] = [
    0.0,
    -0.0,
    1.0,
    -3.0,
    0.5,
    f64::NAN,
    f64::INFINITY,
    1e308,
    5e-324,
    -2.5,
];

/// Ordinary constants only, for tests that compare with a relative
/// tolerance (a NaN or infinite constant makes every point special).
pub const ORDINARY_CONSTANTS: [f64; 5] = [0.0, 0.5, 2.0, -1.0, 1.5];

/// One op as drawn: `(kind, function choice, three operand picks in
/// [0, 1), constant)`, resolved against the registers before it by
/// [`build_tape`].
pub type Draw = (u8, u8, [f64; 3], f64);

/// Number of op kinds a [`Draw`] chooses from (see [`build_tape`]).
pub const KINDS: u8 = 16;

/// The shape of random tapes; [`TapeGen::strategy`] draws them.
#[derive(Clone, Debug)]
pub struct TapeGen {
    /// Number of inputs (zero allowed).
    pub inputs: RangeInclusive<usize>,
    /// Number of ops after the inputs (at least one).
    pub ops: RangeInclusive<usize>,
    /// Number of outputs (at least one): the first is the last op, the
    /// others any register.
    pub outputs: RangeInclusive<usize>,
    /// Constants `Const` ops draw from half of the time.
    pub constants: &'static [f64],
}

impl TapeGen {
    /// Tapes with `inputs` inputs, `ops` more ops and `outputs` outputs,
    /// using [`TAPE_CONSTANTS`].
    pub fn new(
        inputs: RangeInclusive<usize>,
        ops: RangeInclusive<usize>,
        outputs: RangeInclusive<usize>,
    ) -> TapeGen {
        assert!(*ops.start() >= 1 && *outputs.start() >= 1);
        TapeGen {
            inputs,
            ops,
            outputs,
            constants: &TAPE_CONSTANTS,
        }
    }

    /// The same shape with other constants.
    pub fn constants(mut self, constants: &'static [f64]) -> TapeGen {
        self.constants = constants;
        self
    }

    /// The strategy.
    pub fn strategy(&self) -> BoxedStrategy<Tape> {
        let konst: BoxedStrategy<f64> = if self.constants.is_empty() {
            (-4.0f64..4.0).boxed()
        } else {
            prop_oneof![-4.0f64..4.0, proptest::sample::select(self.constants)].boxed()
        };
        let op = (
            0u8..KINDS,
            any::<u8>(),
            [0.0f64..1.0, 0.0f64..1.0, 0.0f64..1.0],
            konst,
        );
        (
            self.inputs.clone(),
            proptest::collection::vec(op, self.ops.clone()),
            proptest::collection::vec(0.0f64..1.0, self.outputs.clone()),
        )
            .prop_map(|(n, ops, outs)| build_tape(n, &ops, &outs))
            .boxed()
    }
}

/// Random tapes (see [`TapeGen::new`]).
pub fn tapes(
    inputs: RangeInclusive<usize>,
    ops: RangeInclusive<usize>,
    outputs: RangeInclusive<usize>,
) -> BoxedStrategy<Tape> {
    TapeGen::new(inputs, ops, outputs).strategy()
}

/// Resolve drawn ops into a valid tape with `n_inputs` inputs. Kinds: 0 a
/// constant, 1 `Neg`, 2-5 `Add`/`Sub`/`Mul`/`Div`, 6, 7 and 15 a unary
/// function, 8 a binary function, 9 `Fma`, 10-11 a comparison, 12-13
/// `Select` on an earlier comparison (on any value when there is none), 14
/// `Select` on any value. Operands lean towards recent registers so chains
/// get deep. `outs[0]` is ignored (output 0 is the last op); each further
/// `u` in `outs` names register `floor(u * n)`.
pub fn build_tape(n_inputs: usize, drawn: &[Draw], outs: &[f64]) -> Tape {
    let mut ops: Vec<Op> = (0..n_inputs as u32).map(Op::Input).collect();
    let mut cmps: Vec<Reg> = Vec::new();
    for &(kind, f, picks, konst) in drawn {
        let n = ops.len();
        let pick = |u: f64| -> Reg {
            if n == 0 {
                0
            } else {
                (n - 1 - ((u * u * n as f64) as usize).min(n - 1)) as Reg
            }
        };
        let [a, b, c] = picks.map(pick);
        let f = f as usize;
        let op = match kind % KINDS {
            _ if n == 0 => Op::Const(konst),
            0 => Op::Const(konst),
            1 => Op::Neg(a),
            2 => Op::Add(a, b),
            3 => Op::Sub(a, b),
            4 => Op::Mul(a, b),
            5 => Op::Div(a, b),
            6 | 7 | 15 => Op::Unary(UnaryFn::ALL[f % UnaryFn::ALL.len()], a),
            8 => Op::Binary(BinaryFn::ALL[f % BinaryFn::ALL.len()], a, b),
            9 => Op::Fma(a, b, c),
            10 | 11 => Op::Cmp(CmpOp::ALL[f % CmpOp::ALL.len()], a, b),
            12 | 13 if !cmps.is_empty() => Op::Select(cmps[f % cmps.len()], a, b),
            _ => Op::Select(c, a, b),
        };
        if matches!(op, Op::Cmp(..)) {
            cmps.push(n as Reg);
        }
        ops.push(op);
    }
    let n = ops.len();
    let mut outputs = vec![(n - 1) as Reg];
    outputs.extend(
        outs.iter()
            .skip(1)
            .map(|&u| ((u * n as f64) as usize).min(n - 1) as Reg),
    );
    Tape::new(n_inputs, ops, outputs).expect("operands precede their users")
}

/// Random wide tapes of the shape the JITs' grouped batch loops serve
/// (`alkahest_tape::output_groups`): 17-40 inputs and 17-40 outputs, each
/// output a small random tape (every op kind, up to 8 ops) over a window of
/// up to 4 neighbouring inputs; half of the outputs after the first also
/// read the output before them (shared work, so groups merge); a part
/// whose output is a constant adds an input to it. Some draws are still not
/// groupable (a long chain of parts, too much shared work): the tests check
/// results either way.
pub fn banded_tapes() -> BoxedStrategy<Tape> {
    let part = (
        0usize..40,
        any::<bool>(),
        TapeGen::new(1..=4, 1..=8, 1..=1).strategy(),
    );
    (17usize..=40, proptest::collection::vec(part, 17..=40))
        .prop_map(|(n_inputs, parts)| splice(n_inputs, &parts))
        .boxed()
}

/// One tape of `n_inputs` inputs computing each part in turn; part `k`'s
/// input `j` is input `(start + j) % n_inputs`, except that its input 0 is
/// the previous part's output when `chain` is set.
fn splice(n_inputs: usize, parts: &[(usize, bool, Tape)]) -> Tape {
    let mut ops: Vec<Op> = (0..n_inputs as u32).map(Op::Input).collect();
    let mut outputs: Vec<Reg> = Vec::new();
    for (start, chain, part) in parts {
        let mut map: Vec<Reg> = Vec::with_capacity(part.ops().len());
        for op in part.ops() {
            let r = match *op {
                Op::Input(0) if *chain && !outputs.is_empty() => outputs[outputs.len() - 1],
                Op::Input(j) => ((start + j as usize) % n_inputs) as Reg,
                other => {
                    ops.push(other.map_regs(|a| map[a as usize]));
                    (ops.len() - 1) as Reg
                }
            };
            map.push(r);
        }
        let mut out = map[part.outputs()[0] as usize];
        if matches!(ops[out as usize], Op::Const(_)) {
            // A constant output would leave the tape to the staged loops.
            ops.push(Op::Add(out, (*start % n_inputs) as Reg));
            out = (ops.len() - 1) as Reg;
        }
        outputs.push(out);
    }
    Tape::new(n_inputs, ops, outputs).expect("operands precede their users")
}

/// The first of `points` where a batch of `tape` differs from the
/// reference ([`Tape::registers`]) beyond [`crate::same`], described: `cols`
/// are the input columns and `outs[k][i]` output `k` at point `i`. Points
/// where a `copysign` reads a NaN's sign are skipped ([`reads_nan_sign`]).
pub fn batch_mismatch(
    tape: &Tape,
    cols: &[Vec<f64>],
    outs: &[Vec<f64>],
    points: impl IntoIterator<Item = usize>,
) -> Option<String> {
    for i in points {
        let x: Vec<f64> = cols.iter().map(|c| c[i]).collect();
        let regs = tape.registers(&x);
        if reads_nan_sign(tape, &regs) {
            continue;
        }
        for (k, &o) in tape.outputs().iter().enumerate() {
            let want = regs[o as usize];
            if !crate::same(outs[k][i], want) {
                return Some(format!(
                    "output {k}, point {i}: {} vs {want} at {x:?}",
                    outs[k][i]
                ));
            }
        }
    }
    None
}

/// Whether a `copysign` reads the sign of a NaN at a point (`regs` from
/// [`Tape::registers`]). The sign of a NaN is not part of the semantics
/// (IEEE 754 leaves it open, and [`crate::same`] ignores it), but
/// `copysign` makes it the sign of a number: x86's `sqrtsd` of -1 or
/// `divsd` of 0/0 gives -NaN, LLVM's constant folder +NaN, Cranelift's
/// `fmin` either; so `copysign(0, -sqrt(-1))` is -0 in one tier and +0 in
/// another. Differential tests skip such points.
pub fn reads_nan_sign(tape: &Tape, regs: &[f64]) -> bool {
    tape.ops()
        .iter()
        .any(|op| matches!(*op, Op::Binary(BinaryFn::Copysign, _, b) if regs[b as usize].is_nan()))
}

/// `f(x)` alone: one input, one output.
pub fn unary_tape(f: UnaryFn) -> Tape {
    Tape::new(1, vec![Op::Input(0), Op::Unary(f, 0)], vec![1]).unwrap()
}

/// `f(x, y)` alone: two inputs, one output.
pub fn binary_tape(f: BinaryFn) -> Tape {
    Tape::new(
        2,
        vec![Op::Input(0), Op::Input(1), Op::Binary(f, 0, 1)],
        vec![2],
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    use super::*;

    /// Most banded tapes are ones the JITs run in groups (else the tests
    /// that draw them would not reach the grouped loops).
    #[test]
    fn banded_tapes_are_mostly_groupable() {
        let mut runner = TestRunner::deterministic();
        let strategy = banded_tapes();
        let grouped = (0..100)
            .filter(|_| {
                let tape = strategy.new_tree(&mut runner).unwrap().current();
                alkahest_tape::output_groups(&tape).is_some()
            })
            .count();
        assert!(grouped >= 60, "{grouped} of 100 banded tapes groupable");
    }

    /// The generator reaches every op kind, function and comparison, and
    /// every output count of its range.
    #[test]
    fn covers_every_op_and_function() {
        let strategy = tapes(0..=3, 1..=30, 1..=4);
        let mut runner = TestRunner::deterministic();
        let mut seen: HashSet<String> = HashSet::new();
        let mut counts = HashSet::new();
        for _ in 0..400 {
            let tape = strategy.new_tree(&mut runner).unwrap().current();
            counts.insert(tape.n_outputs());
            for op in tape.ops() {
                let key = match op {
                    Op::Unary(f, _) => format!("{f:?}"),
                    Op::Binary(f, ..) => format!("{f:?}"),
                    Op::Cmp(k, ..) => format!("{k:?}"),
                    Op::Const(c) if c.is_nan() => "NaN".into(),
                    other => format!("{other:?}").split('(').next().unwrap().into(),
                };
                seen.insert(key);
            }
        }
        let mut want: Vec<String> = ["Input", "Const", "NaN", "Neg", "Add", "Sub", "Mul", "Div"]
            .into_iter()
            .chain(["Fma", "Select"])
            .map(String::from)
            .collect();
        want.extend(UnaryFn::ALL.iter().map(|f| format!("{f:?}")));
        want.extend(BinaryFn::ALL.iter().map(|f| format!("{f:?}")));
        want.extend(CmpOp::ALL.iter().map(|k| format!("{k:?}")));
        for w in want {
            assert!(seen.contains(&w), "{w} never generated");
        }
        assert_eq!(counts.len(), 4);
    }
}
