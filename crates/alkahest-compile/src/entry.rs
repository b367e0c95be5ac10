//! The payload of an on-disk compile cache entry: everything needed to
//! rebuild a [`CompiledFn`](crate::CompiledFn) without rewriting, lowering
//! or (for LLVM) generating code again.
//!
//! The payload lives inside an `alkahest-persist` cache entry, which
//! already checks magic, key, length and checksum. This layer adds its own
//! magic and version, repeats the library version and CPU features (a
//! second line of defence next to the key), and validates the tape fully,
//! so a payload that decodes is one a backend can compile without
//! panicking. Layout: `docs/persistence-format.md`, "Compile cache payload".

use alkahest_core::ExprPool;
use alkahest_persist::wire::{self, put_bytes, put_varint};
use alkahest_tape::{BinaryFn, CmpOp, Op, Tape, UnaryFn};

use crate::config::Tier;
use crate::function::Rewrite;

/// First eight bytes of a compile cache payload.
pub const PAYLOAD_MAGIC: [u8; 8] = *b"ALKFN\0\0\x01";
/// Layout version of compile cache payloads; part of every disk key, so a
/// new layout never reads an old one.
/// Version 2: several outputs, comparison and selection ops, new functions.
pub const PAYLOAD_VERSION: u32 = 2;

/// The decoded payload.
pub(crate) struct Entry {
    pub(crate) tier: Tier,
    pub(crate) tape: Tape,
    pub(crate) notes: Vec<String>,
    /// The rewrite report, with the rewritten expression as pool-file bytes
    /// (it is loaded into the caller's pool only on a hit).
    pub(crate) rewrite: Option<(Vec<u8>, Rewrite)>,
    /// LLVM object code.
    pub(crate) object: Option<Vec<u8>>,
}

/// Why a payload was refused (for tests and diagnostics).
pub(crate) type Reject = &'static str;

fn tier_code(t: Tier) -> u8 {
    match t {
        Tier::Interpreter => 0,
        Tier::Cranelift => 1,
        Tier::Llvm => 2,
        Tier::Mlir => 3,
    }
}

fn tier_of(c: u8) -> Option<Tier> {
    Some(match c {
        0 => Tier::Interpreter,
        1 => Tier::Cranelift,
        2 => Tier::Llvm,
        3 => Tier::Mlir,
        _ => return None,
    })
}

// Function codes are fixed here rather than taken from enum order, so
// reordering the kernel's enums cannot silently change their meaning.
fn unary_code(f: UnaryFn) -> u8 {
    match f {
        UnaryFn::Sin => 0,
        UnaryFn::Cos => 1,
        UnaryFn::Tan => 2,
        UnaryFn::Asin => 3,
        UnaryFn::Acos => 4,
        UnaryFn::Atan => 5,
        UnaryFn::Sinh => 6,
        UnaryFn::Cosh => 7,
        UnaryFn::Tanh => 8,
        UnaryFn::Exp => 9,
        UnaryFn::Log => 10,
        UnaryFn::Sqrt => 11,
        UnaryFn::Abs => 12,
        UnaryFn::Log1p => 13,
        UnaryFn::Expm1 => 14,
        UnaryFn::Asinh => 15,
        UnaryFn::Acosh => 16,
        UnaryFn::Atanh => 17,
        UnaryFn::Cbrt => 18,
        UnaryFn::Exp2 => 19,
        UnaryFn::Log2 => 20,
        UnaryFn::Log10 => 21,
        UnaryFn::Erf => 22,
        UnaryFn::Erfc => 23,
        UnaryFn::Gamma => 24,
        UnaryFn::Lgamma => 25,
        UnaryFn::Floor => 26,
        UnaryFn::Ceil => 27,
    }
}

fn unary_of(c: u8) -> Option<UnaryFn> {
    UnaryFn::ALL.into_iter().find(|&f| unary_code(f) == c)
}

fn binary_code(f: BinaryFn) -> u8 {
    match f {
        BinaryFn::Atan2 => 0,
        BinaryFn::Hypot => 1,
        BinaryFn::Min => 2,
        BinaryFn::Max => 3,
        BinaryFn::Pow => 4,
        BinaryFn::Copysign => 5,
        BinaryFn::Fmod => 6,
    }
}

fn binary_of(c: u8) -> Option<BinaryFn> {
    BinaryFn::ALL.into_iter().find(|&f| binary_code(f) == c)
}

fn cmp_code(k: CmpOp) -> u8 {
    match k {
        CmpOp::Lt => 0,
        CmpOp::Le => 1,
        CmpOp::Gt => 2,
        CmpOp::Ge => 3,
        CmpOp::Eq => 4,
        CmpOp::Ne => 5,
    }
}

fn cmp_of(c: u8) -> Option<CmpOp> {
    CmpOp::ALL.into_iter().find(|&k| cmp_code(k) == c)
}

fn put_opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
    match v {
        None => out.push(0),
        Some(x) => {
            out.push(1);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
    }
}

/// Encode a tape: `n_inputs`, op count, ops, output count, outputs (all
/// varints but the tag bytes, function codes and constants).
pub(crate) fn encode_tape(out: &mut Vec<u8>, tape: &Tape) {
    put_varint(out, tape.n_inputs() as u64);
    put_varint(out, tape.ops().len() as u64);
    for op in tape.ops() {
        match *op {
            Op::Input(i) => {
                out.push(0);
                put_varint(out, u64::from(i));
            }
            Op::Const(c) => {
                out.push(1);
                out.extend_from_slice(&c.to_bits().to_le_bytes());
            }
            Op::Neg(a) => {
                out.push(2);
                put_varint(out, u64::from(a));
            }
            Op::Add(a, b) | Op::Sub(a, b) | Op::Mul(a, b) | Op::Div(a, b) => {
                out.push(match op {
                    Op::Add(..) => 3,
                    Op::Sub(..) => 4,
                    Op::Mul(..) => 5,
                    _ => 6,
                });
                put_varint(out, u64::from(a));
                put_varint(out, u64::from(b));
            }
            Op::Unary(f, a) => {
                out.push(7);
                out.push(unary_code(f));
                put_varint(out, u64::from(a));
            }
            Op::Binary(f, a, b) => {
                out.push(8);
                out.push(binary_code(f));
                put_varint(out, u64::from(a));
                put_varint(out, u64::from(b));
            }
            Op::Fma(a, b, c) | Op::Select(a, b, c) => {
                out.push(if matches!(op, Op::Fma(..)) { 9 } else { 11 });
                for r in [a, b, c] {
                    put_varint(out, u64::from(r));
                }
            }
            Op::Cmp(k, a, b) => {
                out.push(10);
                out.push(cmp_code(k));
                put_varint(out, u64::from(a));
                put_varint(out, u64::from(b));
            }
        }
    }
    put_varint(out, tape.n_outputs() as u64);
    for &o in tape.outputs() {
        put_varint(out, u64::from(o));
    }
}

/// Everything a payload holds, borrowed for encoding.
pub(crate) struct EntryRef<'a> {
    pub(crate) library_version: &'a str,
    pub(crate) cpu_features: &'a str,
    pub(crate) tier: Tier,
    pub(crate) tape: &'a Tape,
    pub(crate) notes: &'a [String],
    /// Pool-file bytes of the rewritten expression, and the report.
    pub(crate) rewrite: Option<(&'a [u8], &'a Rewrite)>,
    pub(crate) object: Option<&'a [u8]>,
}

/// Serialize a payload.
pub(crate) fn encode(e: &EntryRef<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 4 * e.tape.ops().len() + e.object.map_or(0, <[u8]>::len));
    out.extend_from_slice(&PAYLOAD_MAGIC);
    out.extend_from_slice(&PAYLOAD_VERSION.to_le_bytes());
    put_bytes(&mut out, e.library_version.as_bytes());
    put_bytes(&mut out, e.cpu_features.as_bytes());
    out.push(tier_code(e.tier));
    encode_tape(&mut out, e.tape);
    put_varint(&mut out, e.notes.len() as u64);
    for n in e.notes {
        put_bytes(&mut out, n.as_bytes());
    }
    match e.rewrite {
        None => out.push(0),
        Some((expr, rw)) => {
            out.push(1);
            put_bytes(&mut out, expr);
            put_varint(&mut out, rw.rules_fired.len() as u64);
            for (name, n) in &rw.rules_fired {
                put_bytes(&mut out, name.as_bytes());
                put_varint(&mut out, *n as u64);
            }
            put_bytes(&mut out, rw.stop_reason.as_bytes());
            put_varint(&mut out, rw.ops_before as u64);
            put_varint(&mut out, rw.ops_after as u64);
            put_opt_f64(&mut out, rw.error_bits_before);
            put_opt_f64(&mut out, rw.error_bits_after);
        }
    }
    match e.object {
        None => out.push(0),
        Some(obj) => {
            out.push(1);
            put_bytes(&mut out, obj);
        }
    }
    out
}

/// Bounds-checked cursor over a payload: the persist crate's wire reader
/// (one varint implementation for both formats), with its errors turned
/// into the reasons a rejected cache entry reports.
struct Reader<'a>(wire::Reader<'a>);

/// What was wrong, from the persist crate's error.
fn reason(e: alkahest_persist::Error) -> Reject {
    match e {
        alkahest_persist::Error::Malformed { what, .. }
        | alkahest_persist::Error::LimitExceeded { what, .. } => what,
        _ => "malformed payload",
    }
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, Reject> {
        self.0.u8().map_err(reason)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Reject> {
        self.0.take(n).map_err(reason)
    }

    fn varint(&mut self) -> Result<u64, Reject> {
        self.0.varint().map_err(reason)
    }

    /// A count or length, bounded by the bytes left (each item takes at
    /// least `min_bytes`), so nothing huge is allocated from a bad count.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Reject> {
        let n = self.varint()?;
        let left = self.0.remaining() as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err("count exceeds the payload");
        }
        Ok(n as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Reject> {
        let n = self.count(1)?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, Reject> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_owned)
            .map_err(|_| "string is not UTF-8")
    }

    fn f64(&mut self) -> Result<f64, Reject> {
        let b = self.take(8)?;
        Ok(f64::from_bits(u64::from_le_bytes(
            b.try_into().map_err(|_| "short f64")?,
        )))
    }

    fn opt_f64(&mut self) -> Result<Option<f64>, Reject> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.f64()?)),
            _ => Err("bad option tag"),
        }
    }

    fn usize(&mut self) -> Result<usize, Reject> {
        usize::try_from(self.varint()?).map_err(|_| "value too large")
    }
}

/// Decode a tape; [`Tape::new`] checks every invariant the backends rely
/// on, so a payload that decodes is safe to compile.
fn decode_tape(r: &mut Reader<'_>) -> Result<Tape, Reject> {
    let n_inputs = r.usize()?;
    let n_ops = r.count(2)?;
    let reg = |r: &mut Reader<'_>| -> Result<u32, Reject> {
        u32::try_from(r.varint()?).map_err(|_| "register index too large")
    };
    let mut ops = Vec::with_capacity(n_ops);
    for _ in 0..n_ops {
        let op = match r.u8()? {
            0 => Op::Input(reg(r)?),
            1 => Op::Const(r.f64()?),
            2 => Op::Neg(reg(r)?),
            3 => Op::Add(reg(r)?, reg(r)?),
            4 => Op::Sub(reg(r)?, reg(r)?),
            5 => Op::Mul(reg(r)?, reg(r)?),
            6 => Op::Div(reg(r)?, reg(r)?),
            7 => {
                let f = unary_of(r.u8()?).ok_or("unknown unary function")?;
                Op::Unary(f, reg(r)?)
            }
            8 => {
                let f = binary_of(r.u8()?).ok_or("unknown binary function")?;
                Op::Binary(f, reg(r)?, reg(r)?)
            }
            9 => Op::Fma(reg(r)?, reg(r)?, reg(r)?),
            10 => {
                let k = cmp_of(r.u8()?).ok_or("unknown comparison")?;
                Op::Cmp(k, reg(r)?, reg(r)?)
            }
            11 => Op::Select(reg(r)?, reg(r)?, reg(r)?),
            _ => return Err("unknown op tag"),
        };
        ops.push(op);
    }
    let n_outputs = r.count(1)?;
    let outputs = (0..n_outputs)
        .map(|_| reg(r))
        .collect::<Result<Vec<_>, _>>()?;
    Tape::new(n_inputs, ops, outputs).map_err(|_| "the tape is not well formed")
}

/// Parse a payload written by [`encode`] for this library version and CPU.
pub(crate) fn decode(
    data: &[u8],
    library_version: &str,
    cpu_features: &str,
) -> Result<Entry, Reject> {
    let mut r = Reader(wire::Reader::new(data, 0));
    if r.take(8)? != PAYLOAD_MAGIC {
        return Err("bad payload magic");
    }
    let version = u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| "short version")?);
    if version != PAYLOAD_VERSION {
        return Err("unsupported payload version");
    }
    if r.bytes()? != library_version.as_bytes() {
        return Err("written by another library version");
    }
    if r.bytes()? != cpu_features.as_bytes() {
        return Err("written for another CPU");
    }
    let tier = tier_of(r.u8()?).ok_or("unknown tier")?;
    let tape = decode_tape(&mut r)?;
    let n_notes = r.count(1)?;
    let notes = (0..n_notes)
        .map(|_| r.string())
        .collect::<Result<Vec<_>, _>>()?;
    let rewrite = match r.u8()? {
        0 => None,
        1 => {
            let expr = r.bytes()?.to_vec();
            let n_rules = r.count(2)?;
            let rules_fired = (0..n_rules)
                .map(|_| Ok((r.string()?, r.usize()?)))
                .collect::<Result<Vec<_>, Reject>>()?;
            let stop_reason = r.string()?;
            let ops_before = r.usize()?;
            let ops_after = r.usize()?;
            let error_bits_before = r.opt_f64()?;
            let error_bits_after = r.opt_f64()?;
            Some((
                expr,
                Rewrite {
                    // Placeholder: replaced by the ids the expressions get
                    // when loaded into the caller's pool.
                    exprs: Vec::new(),
                    rules_fired,
                    stop_reason,
                    ops_before,
                    ops_after,
                    error_bits_before,
                    error_bits_after,
                },
            ))
        }
        _ => return Err("bad rewrite tag"),
    };
    let object = match r.u8()? {
        0 => None,
        1 => Some(r.bytes()?.to_vec()),
        _ => return Err("bad object tag"),
    };
    if r.0.remaining() != 0 {
        return Err("bytes after the end of the payload");
    }
    if (tier == Tier::Llvm) != object.is_some() {
        return Err("object code present iff the tier is LLVM");
    }
    Ok(Entry {
        tier,
        tape,
        notes,
        rewrite,
        object,
    })
}

/// Pool-file bytes of the rewritten expressions (`None` if the pool
/// refuses, which cannot happen for ids the pool itself returned).
pub(crate) fn rewrite_expr_bytes(pool: &ExprPool, rw: &Rewrite) -> Option<Vec<u8>> {
    alkahest_persist::to_bytes(pool, &rw.exprs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alkahest_core::Func;

    fn sample() -> (ExprPool, Tape) {
        let pool = ExprPool::new();
        let x = pool.symbol("x").unwrap();
        let y = pool.symbol("y").unwrap();
        let s = pool.func(Func::Sin, &[x]).unwrap();
        let a = pool.func(Func::Atan2, &[y, s]).unwrap();
        let h = pool.float(1.5).unwrap();
        let m = pool.mul(&[a, h, x]).unwrap();
        let e = pool.add(&[m, y]).unwrap();
        let tape = alkahest_tape::lower(&pool, e, &[x, y]).unwrap();
        (pool, tape)
    }

    fn encoded(tape: &Tape, object: Option<&[u8]>, tier: Tier) -> Vec<u8> {
        encode(&EntryRef {
            library_version: "1.2.3",
            cpu_features: "cpu",
            tier,
            tape,
            notes: &["a note".to_string()],
            rewrite: None,
            object,
        })
    }

    #[test]
    fn round_trip_and_every_truncation_rejected() {
        let (_, tape) = sample();
        let bytes = encoded(&tape, None, Tier::Cranelift);
        let e = decode(&bytes, "1.2.3", "cpu").unwrap();
        assert_eq!(e.tape, tape);
        assert_eq!(e.tier, Tier::Cranelift);
        assert_eq!(e.notes, vec!["a note".to_string()]);
        for i in 0..bytes.len() {
            assert!(decode(&bytes[..i], "1.2.3", "cpu").is_err(), "prefix {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, "1.2.3", "cpu").is_err());
    }

    #[test]
    fn varints_follow_the_pool_format_rules() {
        // The payload reads varints with alkahest-persist's reader: a
        // length in a longer form than needed is malformed, as in pool files.
        let (_, tape) = sample();
        let bytes = encoded(&tape, None, Tier::Cranelift);
        assert_eq!(bytes[12], 5, "the version string's length");
        let mut padded = bytes[..12].to_vec();
        padded.extend([0x85, 0x00]);
        padded.extend(&bytes[13..]);
        assert_eq!(
            decode(&padded, "1.2.3", "cpu").err(),
            Some("varint is not in its shortest form")
        );
    }

    #[test]
    fn other_version_or_cpu_rejected() {
        let (_, tape) = sample();
        let bytes = encoded(&tape, None, Tier::Interpreter);
        assert_eq!(
            decode(&bytes, "1.2.4", "cpu").err(),
            Some("written by another library version")
        );
        assert_eq!(
            decode(&bytes, "1.2.3", "cpu2").err(),
            Some("written for another CPU")
        );
    }

    #[test]
    fn llvm_entries_need_their_object() {
        let (_, tape) = sample();
        assert!(decode(&encoded(&tape, None, Tier::Llvm), "1.2.3", "cpu").is_err());
        let with = encoded(&tape, Some(b"obj"), Tier::Llvm);
        assert_eq!(
            decode(&with, "1.2.3", "cpu").unwrap().object.as_deref(),
            Some(&b"obj"[..])
        );
    }

    /// Re-encode `tape` with its ops and outputs replaced (bypassing
    /// `Tape::new`, as a damaged file would).
    fn raw(n_inputs: usize, ops: &[Op], outputs: &[u32]) -> Vec<u8> {
        let ok = Tape::new(1, vec![Op::Input(0)], vec![0]).unwrap();
        let mut bytes = encoded(&ok, None, Tier::Interpreter);
        let mut tape_bytes = Vec::new();
        encode_tape(&mut tape_bytes, &ok);
        let start = bytes
            .windows(tape_bytes.len())
            .position(|w| w == tape_bytes.as_slice())
            .unwrap();
        let mut t = Vec::new();
        put_varint(&mut t, n_inputs as u64);
        put_varint(&mut t, ops.len() as u64);
        for op in ops {
            match *op {
                Op::Input(i) => {
                    t.push(0);
                    put_varint(&mut t, u64::from(i));
                }
                Op::Const(c) => {
                    t.push(1);
                    t.extend_from_slice(&c.to_bits().to_le_bytes());
                }
                Op::Neg(a) => {
                    t.push(2);
                    put_varint(&mut t, u64::from(a));
                }
                Op::Select(a, b, c) => {
                    t.push(11);
                    for r in [a, b, c] {
                        put_varint(&mut t, u64::from(r));
                    }
                }
                _ => unreachable!("only the ops these tests use"),
            }
        }
        put_varint(&mut t, outputs.len() as u64);
        for &o in outputs {
            put_varint(&mut t, u64::from(o));
        }
        bytes.splice(start..start + tape_bytes.len(), t);
        bytes
    }

    #[test]
    fn invalid_tapes_rejected() {
        let dec = |b: Vec<u8>| decode(&b, "1.2.3", "cpu").map(|e| e.tape);
        // The raw encoder itself round-trips a valid tape.
        let good = [Op::Input(0), Op::Const(2.0), Op::Neg(1)];
        assert!(dec(raw(1, &good, &[2, 0])).is_ok());
        // Output out of range, no output, forward reference, late input.
        assert!(dec(raw(1, &good, &[3])).is_err());
        assert!(dec(raw(1, &good, &[])).is_err());
        let fwd = [Op::Input(0), Op::Neg(2), Op::Const(1.0)];
        assert!(dec(raw(1, &fwd, &[1])).is_err());
        let late = [Op::Input(0), Op::Const(1.0), Op::Input(0)];
        assert!(dec(raw(1, &late, &[1])).is_err());
        let sel = [Op::Input(0), Op::Select(0, 0, 0), Op::Select(1, 0, 5)];
        assert!(dec(raw(1, &sel, &[1])).is_err());
    }

    #[test]
    fn multi_output_tapes_with_every_op_round_trip() {
        let pool = ExprPool::new();
        let x = pool.symbol("x").unwrap();
        let y = pool.symbol("y").unwrap();
        let lt = pool.func(Func::Lt, &[x, y]).unwrap();
        let m = pool.func(Func::Mod, &[x, y]).unwrap();
        let g = pool.func(Func::Gamma, &[x]).unwrap();
        let w = pool.select(lt, m, g).unwrap();
        let c = pool.func(Func::Copysign, &[x, y]).unwrap();
        let tape = alkahest_tape::lower_many(&pool, &[w, c, x], &[x, y]).unwrap();
        let bytes = encoded(&tape, None, Tier::Interpreter);
        assert_eq!(decode(&bytes, "1.2.3", "cpu").unwrap().tape, tape);
    }
}
