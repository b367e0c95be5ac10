//! The routine library (`codegen::library`): a tape's module calls `pow`,
//! `fmod`, `lgamma` and `tgamma` through cells that loading binds to the
//! process's one build of each routine, built at the loading tape's level
//! and, from level 0, rebuilt at full level by `upgrade_library` and
//! swapped in with the same bits.
//!
//! One test: the library is per process, and the counts below would race
//! with other tests of the same binary. A tape may need more than one entry
//! (at 4 lanes or fewer, the routine on two vectors at once and the one on
//! a single vector: `ALKAHEST_SIMD_WIDTH=4`), so the counts are per entry.

use std::collections::BTreeSet;

use alkahest_llvm::{
    LlvmOptions, compile, emit_object, library_routines, load_object, optimized_ir, upgrade_library,
};
use alkahest_tape::{BinaryFn, Evaluator, Op, Tape, UnaryFn};
use alkahest_testkit::tapes::{binary_tape, unary_tape};
use alkahest_testkit::values::uniform;

/// The bulk entry's values, as bits.
fn bulk_bits(f: &impl Evaluator, cols: &[&[f64]]) -> Vec<u64> {
    let mut out = vec![0.0; cols[0].len()];
    f.eval_columns(cols, &mut [&mut out]);
    out.iter().map(|v| v.to_bits()).collect()
}

/// `fmod(x, y) + 1`: another tape calling the same routine.
fn fmod_plus_one() -> Tape {
    Tape::new(
        2,
        vec![
            Op::Input(0),
            Op::Input(1),
            Op::Binary(BinaryFn::Fmod, 0, 1),
            Op::Const(1.0),
            Op::Add(2, 3),
        ],
        vec![4],
    )
    .unwrap()
}

/// How many library entries `tape`'s module calls (distinct cell symbols).
fn entries(tape: &Tape, opts: &LlvmOptions) -> usize {
    let ir = optimized_ir(tape, opts).unwrap();
    let names: BTreeSet<&str> = ir
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("alkahest_rt_"))
        .collect();
    names.len()
}

#[test]
fn each_routine_is_built_once_and_upgraded_with_the_same_bits() {
    let level0 = LlvmOptions {
        opt_level: 0,
        ..LlvmOptions::default()
    };
    let xs = uniform(1001, 0.5, 5.0, 3);
    let ys = uniform(1001, 0.25, 2.0, 4);
    assert_eq!(library_routines(), (0, 0));

    // Without the library, the object carries its own routine: loading it
    // builds nothing.
    let own = LlvmOptions {
        routine_library: false,
        ..LlvmOptions::default()
    };
    let obj = emit_object(&binary_tape(BinaryFn::Pow), &own).unwrap();
    // SAFETY: the bytes come from `emit_object` in this process.
    let q = unsafe { load_object(&obj) }.unwrap();
    assert_eq!(library_routines(), (0, 0));

    // A tape at full level gets its routine at full level at once, with
    // the same bits.
    let pow_n = entries(&binary_tape(BinaryFn::Pow), &LlvmOptions::default());
    let fmod_n = entries(&binary_tape(BinaryFn::Fmod), &level0);
    assert!(pow_n >= 1 && fmod_n >= 1);
    let p = compile(&binary_tape(BinaryFn::Pow), &LlvmOptions::default()).unwrap();
    assert_eq!(library_routines(), (pow_n, 0));
    assert_eq!(bulk_bits(&p, &[&xs, &ys]), bulk_bits(&q, &[&xs, &ys]));
    assert!(!upgrade_library().unwrap());
    assert!(
        bulk_bits(&p, &[&xs, &ys])
            .iter()
            .all(|&b| f64::from_bits(b) > 0.0)
    );

    // At level 0: built at level 0 on first use, then shared by a second
    // tape and by a loaded object.
    let f = compile(&binary_tape(BinaryFn::Fmod), &level0).unwrap();
    let built = pow_n + fmod_n;
    assert_eq!(library_routines(), (built, fmod_n));
    let g = compile(&fmod_plus_one(), &level0).unwrap();
    let obj = emit_object(&binary_tape(BinaryFn::Fmod), &level0).unwrap();
    // SAFETY: the bytes come from `emit_object` in this process.
    let h = unsafe { load_object(&obj) }.unwrap();
    assert_eq!(library_routines(), (built, fmod_n));
    let mut odd = ys.clone();
    odd[7] = 0.0; // a lane for libm's fmod, in one vector
    let before = [&ys, &odd].map(|y| bulk_bits(&f, &[&xs, y]));
    let g_before = bulk_bits(&g, &[&xs, &ys]);
    // Rebuilt at full level and swapped under the live functions.
    let mut upgraded = 0;
    while upgrade_library().unwrap() {
        upgraded += 1;
    }
    assert_eq!(upgraded, fmod_n);
    assert_eq!(library_routines(), (built, 0));
    assert_eq!([&ys, &odd].map(|y| bulk_bits(&f, &[&xs, y])), before);
    assert_eq!(bulk_bits(&g, &[&xs, &ys]), g_before);
    assert_eq!(bulk_bits(&h, &[&xs, &ys]), before[0]);
    let k = compile(&binary_tape(BinaryFn::Fmod), &level0).unwrap();
    assert_eq!(bulk_bits(&k, &[&xs, &ys]), before[0]);
    assert_eq!(library_routines(), (built, 0));

    // lgamma and tgamma likewise.
    let mut n = built;
    for f in [UnaryFn::Lgamma, UnaryFn::Gamma] {
        let new = entries(&unary_tape(f), &level0);
        let t = compile(&unary_tape(f), &level0).unwrap();
        n += new;
        assert_eq!(library_routines(), (n, new));
        let before = bulk_bits(&t, &[&xs]);
        while upgrade_library().unwrap() {}
        assert_eq!(library_routines(), (n, 0));
        assert_eq!(bulk_bits(&t, &[&xs]), before, "{f:?}");
    }
}
