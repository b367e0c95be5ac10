//! The pool file format (see `docs/persistence-format.md`): writer, and a
//! loader that validates everything before it touches the caller's pool.
//!
//! Loading happens in three phases:
//! 1. the envelope: magic, version, announced length, checksum;
//! 2. the body is parsed into plain records, checking structure, child
//!    indices, arities, operand kinds (conditions only where conditions
//!    are expected), denominators, UTF-8 and size/work limits;
//! 3. the records are rebuilt through the canonical builders in a private
//!    scratch pool; each rebuilt node must equal its record (so the file
//!    was canonical) and the content keys must match the keys stored in
//!    the file. Only then are the nodes interned into the target pool,
//!    which can no longer fail except for a full pool.

use alkahest_core::{ContentKey, ExprId, ExprPool, Func, Kind, Node, NodeView, Written};
use num_bigint::BigInt;
use num_traits::{One, Signed};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::error::{Error, Result};
use crate::wire::{Reader, put_bytes, put_varint};
use crate::written_codec;

/// First eight bytes of every pool file.
pub const MAGIC: [u8; 8] = *b"ALKPOOL\0";
/// The newest format version this build reads and writes. Version 2 adds
/// the written-forms section ([`FLAG_WRITTEN`]); a file without one is
/// still written as version 1, byte for byte as before.
pub const FORMAT_VERSION: u32 = 2;
/// Header flag: the file holds a whole pool (ids are preserved when it is
/// loaded into a fresh pool), not just the sub-DAG of some roots.
pub const FLAG_WHOLE_POOL: u32 = 1;
/// Header flag (version 2): the roots' written forms follow the roots (see
/// [`to_bytes_written`]); the roots after the first `k` are their leaves.
pub const FLAG_WRITTEN: u32 = 2;
const KNOWN_FLAGS: u32 = FLAG_WHOLE_POOL | FLAG_WRITTEN;

/// Longest symbol name accepted, in bytes: the core's
/// [`ExprPool::MAX_SYMBOL_BYTES`], so every name a pool accepts saves and
/// loads again.
pub const MAX_SYMBOL_BYTES: u64 = ExprPool::MAX_SYMBOL_BYTES as u64;
/// Longest integer (or rational numerator/denominator) accepted, in bytes.
pub const MAX_NUMBER_BYTES: u64 = 1 << 20;

const HEADER_LEN: usize = 24;
const TRAILER_LEN: usize = 8;
/// Smallest possible node record (a tag, a length, one byte).
const MIN_RECORD_BYTES: usize = 3;
/// A root entry is a varint index and a 16-byte content key.
const MIN_ROOT_BYTES: usize = 17;
const DIGEST_SEED: u64 = 0x706f_6f6c_6b65_7973; // "poolkeys"

const TAG_SYMBOL: u8 = 1;
const TAG_INTEGER: u8 = 2;
const TAG_RATIONAL: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_ADD: u8 = 5;
const TAG_MUL: u8 = 6;
const TAG_POW: u8 = 7;
const TAG_FUNC: u8 = 8;

/// Stable on-disk code of a function. Independent of the order of
/// [`Func`]'s variants, so reordering the enum cannot change old files; the
/// exhaustive match makes adding a function a compile error here.
///
/// Codes are never renumbered or reused. Codes 0-19 are the original
/// elementary functions; 20-46 were added within format version 1
/// (2026-12, with the core's new functions, comparisons, connectives and
/// `where`): every file written before still loads unchanged, and a reader
/// that predates them refuses a file that uses them with
/// [`Error::Malformed`] ("unknown function code") rather than misreading
/// it. A new function takes the next free code (49, ...): 47 is `digamma`
/// and 48 `trigamma` (added 2026-12 the same way).
///
/// | code | fn | code | fn | code | fn |
/// |---|---|---|---|---|---|
/// | 20 | asinh | 29 | gamma | 38 | Le |
/// | 21 | acosh | 30 | loggamma | 39 | Gt |
/// | 22 | atanh | 31 | floor | 40 | Ge |
/// | 23 | cbrt | 32 | ceiling | 41 | Eq |
/// | 24 | exp2 | 33 | sign | 42 | Ne |
/// | 25 | log2 | 34 | copysign | 43 | And |
/// | 26 | log10 | 35 | fmod | 44 | Or |
/// | 27 | erf | 36 | Mod | 45 | Not |
/// | 28 | erfc | 37 | Lt | 46 | where |
fn func_code(f: Func) -> u8 {
    match f {
        Func::Sin => 0,
        Func::Cos => 1,
        Func::Tan => 2,
        Func::Asin => 3,
        Func::Acos => 4,
        Func::Atan => 5,
        Func::Atan2 => 6,
        Func::Sinh => 7,
        Func::Cosh => 8,
        Func::Tanh => 9,
        Func::Exp => 10,
        Func::Log => 11,
        Func::Sqrt => 12,
        Func::Abs => 13,
        Func::Log1p => 14,
        Func::Expm1 => 15,
        Func::Hypot => 16,
        Func::Fma => 17,
        Func::Min => 18,
        Func::Max => 19,
        Func::Asinh => 20,
        Func::Acosh => 21,
        Func::Atanh => 22,
        Func::Cbrt => 23,
        Func::Exp2 => 24,
        Func::Log2 => 25,
        Func::Log10 => 26,
        Func::Erf => 27,
        Func::Erfc => 28,
        Func::Gamma => 29,
        Func::Lgamma => 30,
        Func::Floor => 31,
        Func::Ceil => 32,
        Func::Sign => 33,
        Func::Copysign => 34,
        Func::Fmod => 35,
        Func::Mod => 36,
        Func::Lt => 37,
        Func::Le => 38,
        Func::Gt => 39,
        Func::Ge => 40,
        Func::Eq => 41,
        Func::Ne => 42,
        Func::And => 43,
        Func::Or => 44,
        Func::Not => 45,
        Func::Where => 46,
        Func::Digamma => 47,
        Func::Trigamma => 48,
    }
}

fn func_from_code(code: u8) -> Option<Func> {
    Func::ALL.into_iter().find(|&f| func_code(f) == code)
}

// ---------------------------------------------------------------- writing

/// Serialize the sub-DAG reachable from `roots`: every reachable node is
/// written once, children by back-reference, so sharing is kept and the
/// size is linear in the number of distinct nodes.
///
/// Fails only when a root is not an id of `pool`.
pub fn to_bytes(pool: &ExprPool, roots: &[ExprId]) -> Result<Vec<u8>> {
    let v = pool.view();
    if let Some(bad) = roots.iter().find(|r| v.get(**r).is_none()) {
        return Err(Error::UnknownId(bad.0));
    }
    let sub = Subset::reachable(&v, roots);
    let order = sub.ids();
    let index = |id: ExprId| sub.rank(id);
    Ok(encode(&v, &order, roots, 0, index, None))
}

/// [`to_bytes`] keeping how each root was written (one [`Written`] per
/// root), so `optimize="none"` evaluates the loaded expressions as the
/// user wrote them. Roots whose written form is just themselves need
/// nothing more; if every root is such, the file is exactly
/// [`to_bytes`]'s (format version 1).
pub fn to_bytes_written(pool: &ExprPool, roots: &[ExprId], written: &[Written]) -> Result<Vec<u8>> {
    if written.len() != roots.len() {
        return Err(Error::Malformed {
            offset: 0,
            what: "one written form per root is needed",
        });
    }
    if written.iter().zip(roots).all(|(w, &r)| w.leaf() == Some(r)) {
        return to_bytes(pool, roots);
    }
    let leaves = Written::leaves(written);
    let section = written_codec::encode(written, &leaves)?;
    let mut all = roots.to_vec();
    all.extend(&leaves);
    let v = pool.view();
    if let Some(bad) = all.iter().find(|r| v.get(**r).is_none()) {
        return Err(Error::UnknownId(bad.0));
    }
    let sub = Subset::reachable(&v, &all);
    let order = sub.ids();
    let index = |id: ExprId| sub.rank(id);
    Ok(encode(
        &v,
        &order,
        &all,
        FLAG_WRITTEN,
        index,
        Some((roots.len(), &section)),
    ))
}

/// Serialize the whole pool. Loading the result with [`from_bytes`] gives
/// a pool in which every node has its original id; the roots are the
/// nodes that are no other node's child.
pub fn pool_to_bytes(pool: &ExprPool) -> Vec<u8> {
    let v = pool.view();
    let n = v.len();
    let order: Vec<ExprId> = (0..n as u32).map(ExprId).collect();
    let mut is_child = vec![false; n];
    for &id in &order {
        for c in v.node(id).children() {
            is_child[c.index()] = true;
        }
    }
    let roots: Vec<ExprId> = order
        .iter()
        .copied()
        .filter(|id| !is_child[id.index()])
        .collect();
    encode(&v, &order, &roots, FLAG_WHOLE_POOL, |id| id.0 as u64, None)
}

/// The nodes reachable from some roots as a bitset over the pool's ids,
/// with per-word prefix counts: a node's position among the reachable
/// nodes (its record index) is O(1), with no hashing and no sorting.
struct Subset {
    words: Vec<u64>,
    /// `prefix[w]` = set bits in `words[..w]`.
    prefix: Vec<u32>,
}

impl Subset {
    fn reachable(v: &NodeView<'_>, roots: &[ExprId]) -> Self {
        let mut words = vec![0u64; v.len().div_ceil(64)];
        let mut stack: Vec<ExprId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            let (w, bit) = (id.index() / 64, 1u64 << (id.index() % 64));
            if words[w] & bit == 0 {
                words[w] |= bit;
                stack.extend_from_slice(v.node(id).children());
            }
        }
        let mut prefix = Vec::with_capacity(words.len());
        let mut total = 0u32;
        for w in &words {
            prefix.push(total);
            total += w.count_ones();
        }
        Subset { words, prefix }
    }

    /// The reachable ids in ascending (topological) order.
    fn ids(&self) -> Vec<ExprId> {
        let mut out = Vec::new();
        for (i, &w) in self.words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                out.push(ExprId((i * 64) as u32 + w.trailing_zeros()));
                w &= w - 1;
            }
        }
        out
    }

    /// Position of a reachable `id` among the reachable ids.
    fn rank(&self, id: ExprId) -> u64 {
        let (w, b) = (id.index() / 64, id.index() % 64);
        let below = self.words[w] & ((1u64 << b) - 1);
        u64::from(self.prefix[w] + below.count_ones())
    }
}

fn encode(
    v: &NodeView<'_>,
    order: &[ExprId],
    roots: &[ExprId],
    flags: u32,
    index: impl Fn(ExprId) -> u64,
    written: Option<(usize, &[u8])>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 8 * order.len() + 32);
    out.extend_from_slice(&MAGIC);
    let version: u32 = if written.is_some() { 2 } else { 1 };
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // total length, patched below
    put_varint(&mut out, order.len() as u64);
    put_varint(&mut out, roots.len() as u64);
    let mut digest = Xxh3::with_seed(DIGEST_SEED);
    for (i, &id) in order.iter().enumerate() {
        digest.update(&v.key(id).0.to_le_bytes());
        let back = |out: &mut Vec<u8>, c: &ExprId| put_varint(out, i as u64 - 1 - index(*c));
        match v.node(id) {
            Node::Symbol(s) => {
                out.push(TAG_SYMBOL);
                put_bytes(&mut out, s.as_bytes());
            }
            Node::Integer(z) => {
                out.push(TAG_INTEGER);
                put_bytes(&mut out, &z.to_signed_bytes_le());
            }
            Node::Rational(r) => {
                out.push(TAG_RATIONAL);
                put_bytes(&mut out, &r.numer().to_signed_bytes_le());
                put_bytes(&mut out, &r.denom().to_signed_bytes_le());
            }
            Node::Float(bits) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&bits.to_le_bytes());
            }
            Node::Add(a) | Node::Mul(a) => {
                out.push(if matches!(v.node(id), Node::Add(_)) {
                    TAG_ADD
                } else {
                    TAG_MUL
                });
                put_varint(&mut out, a.len() as u64);
                a.iter().for_each(|c| back(&mut out, c));
            }
            Node::Pow(be) => {
                out.push(TAG_POW);
                be.iter().for_each(|c| back(&mut out, c));
            }
            Node::Func(f, a) => {
                out.push(TAG_FUNC);
                out.push(func_code(*f));
                put_varint(&mut out, a.len() as u64);
                a.iter().for_each(|c| back(&mut out, c));
            }
        }
    }
    for &r in roots {
        put_varint(&mut out, index(r));
        out.extend_from_slice(&v.key(r).0.to_le_bytes());
    }
    if let Some((k, section)) = written {
        put_varint(&mut out, k as u64);
        put_bytes(&mut out, section);
    }
    out.extend_from_slice(&digest.digest128().to_le_bytes());
    let total = (out.len() + TRAILER_LEN) as u64;
    out[16..24].copy_from_slice(&total.to_le_bytes());
    let sum = xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

// ---------------------------------------------------------------- reading

/// A node record as parsed, children as file indices (all smaller than the
/// record's own index).
enum Rec {
    Symbol(String),
    Integer(BigInt),
    Rational(BigInt, BigInt),
    Float(u64),
    Add(Vec<u32>),
    Mul(Vec<u32>),
    Pow([u32; 2]),
    Func(Func, Vec<u32>),
}

struct Parsed {
    recs: Vec<Rec>,
    roots: Vec<(u32, ContentKey)>,
    digest: u128,
    /// With [`FLAG_WRITTEN`]: how many roots are the saved expressions (the
    /// rest are the leaves of their written forms), and the encoded forms.
    written: Option<(usize, Vec<u8>)>,
}

/// Check the envelope (magic, version, length, checksum, flags) and return
/// the body between header and trailer.
fn envelope(bytes: &[u8]) -> Result<(&[u8], u32)> {
    let found = bytes.len() as u64;
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            Error::Truncated {
                expected: (HEADER_LEN + TRAILER_LEN) as u64,
                found,
            }
        } else {
            Error::BadMagic
        });
    }
    if bytes[..8] != MAGIC {
        return Err(Error::BadMagic);
    }
    let min = (HEADER_LEN + TRAILER_LEN) as u64;
    if bytes.len() < 12 {
        return Err(Error::Truncated {
            expected: min,
            found,
        });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version == 0 || version > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if found < min {
        return Err(Error::Truncated {
            expected: min,
            found,
        });
    }
    let flags = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
    let total = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    if found < total {
        return Err(Error::Truncated {
            expected: total,
            found,
        });
    }
    if found > total {
        return Err(Error::TrailingBytes {
            extra: found - total,
        });
    }
    let (content, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    let stored = u64::from_le_bytes(trailer.try_into().expect("8 bytes"));
    let computed = xxh3_64(content);
    if stored != computed {
        return Err(Error::ChecksumMismatch { stored, computed });
    }
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::UnsupportedFlags(flags & !KNOWN_FLAGS));
    }
    // The written-forms section exists from version 2 on.
    if flags & FLAG_WRITTEN != 0 && version < 2 {
        return Err(Error::UnsupportedFlags(FLAG_WRITTEN));
    }
    Ok((&content[HEADER_LEN..], flags))
}

/// Bounds the CPU time a file can cost: every record is charged roughly the
/// nanoseconds its rebuild may take (sorting operands, comparing symbol
/// names, big-number arithmetic and gcds, which are quadratic), and the
/// total must stay linear in the file size.
struct Budget {
    left: u64,
}

impl Budget {
    fn new(file_len: usize) -> Self {
        Budget {
            left: (1u64 << 30).saturating_add(256u64.saturating_mul(file_len as u64)),
        }
    }

    fn charge(&mut self, units: u64) -> Result<()> {
        match self.left.checked_sub(units) {
            Some(l) => {
                self.left = l;
                Ok(())
            }
            None => Err(Error::LimitExceeded {
                what: "rebuild work (big numbers, long symbol names or wide sums)",
                value: units,
                limit: self.left,
            }),
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Parsed> {
    let (body, flags) = envelope(bytes)?;
    let mut r = Reader::new(body, HEADER_LEN);
    let mut budget = Budget::new(bytes.len());

    let n_nodes = r.varint()?;
    let n_roots = r.varint()?;
    let max_nodes = (r.remaining() / MIN_RECORD_BYTES).min(u32::MAX as usize) as u64;
    if n_nodes > max_nodes {
        return Err(Error::LimitExceeded {
            what: "node count",
            value: n_nodes,
            limit: max_nodes,
        });
    }
    let max_roots = (r.remaining() / MIN_ROOT_BYTES) as u64;
    if n_roots > max_roots {
        return Err(Error::LimitExceeded {
            what: "root count",
            value: n_roots,
            limit: max_roots,
        });
    }

    let n = n_nodes as usize;
    let mut recs: Vec<Rec> = Vec::with_capacity(n);
    // Per record: bytes of a number or symbol name (what makes operations
    // on it expensive) and whether it is a number.
    let mut weight: Vec<(u64, bool)> = Vec::with_capacity(n);
    // Per record: whether it is a condition rather than a number.
    let mut is_cond: Vec<bool> = Vec::with_capacity(n);
    for i in 0..n {
        let index = i as u64;
        let children = |r: &mut Reader<'_>, count: u64| -> Result<Vec<u32>> {
            // `count <= remaining` bounds the allocation by the file size.
            if count > r.remaining() as u64 {
                return Err(r.malformed("operand count runs past the end of the data"));
            }
            let mut out = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let back = r.varint()?;
                if back >= index {
                    return Err(Error::BadChild { index });
                }
                out.push((index - 1 - back) as u32);
            }
            Ok(out)
        };
        let tag_offset = r.offset();
        let rec = match r.u8()? {
            TAG_SYMBOL => {
                let name = r.len_prefixed("symbol name bytes", MAX_SYMBOL_BYTES)?;
                let s = std::str::from_utf8(name).map_err(|_| Error::BadSymbol { index })?;
                if s.is_empty() {
                    return Err(Error::BadSymbol { index });
                }
                weight.push((name.len() as u64, false));
                Rec::Symbol(s.to_owned())
            }
            TAG_INTEGER => {
                let b = r.len_prefixed("integer bytes", MAX_NUMBER_BYTES)?;
                if b.is_empty() {
                    return Err(r.malformed("integer with no bytes"));
                }
                weight.push((b.len() as u64, true));
                Rec::Integer(BigInt::from_signed_bytes_le(b))
            }
            TAG_RATIONAL => {
                let p = r.len_prefixed("numerator bytes", MAX_NUMBER_BYTES)?;
                let q = r.len_prefixed("denominator bytes", MAX_NUMBER_BYTES)?;
                if p.is_empty() || q.is_empty() {
                    return Err(r.malformed("rational with an empty part"));
                }
                let (p, q) = (
                    BigInt::from_signed_bytes_le(p),
                    BigInt::from_signed_bytes_le(q),
                );
                if !q.is_positive() || q.is_one() {
                    return Err(Error::BadRational { index });
                }
                let w = (p.bits().max(q.bits()) / 8 + 1).max(1);
                // Rebuilding reduces p/q with a gcd: quadratic.
                budget.charge(w.saturating_mul(w))?;
                weight.push((w, true));
                Rec::Rational(p, q)
            }
            TAG_FLOAT => {
                weight.push((8, true));
                Rec::Float(u64::from_le_bytes(r.array::<8>()?))
            }
            tag @ (TAG_ADD | TAG_MUL) => {
                let count = r.varint()?;
                if count < 2 {
                    return Err(Error::NonCanonical { index });
                }
                let c = children(&mut r, count)?;
                numbers_only(&is_cond, &c, index)?;
                charge_assoc(&mut budget, &weight, &c)?;
                weight.push((0, false));
                if tag == TAG_ADD {
                    Rec::Add(c)
                } else {
                    Rec::Mul(c)
                }
            }
            TAG_POW => {
                let c = children(&mut r, 2)?;
                numbers_only(&is_cond, &c, index)?;
                charge_numbers(&mut budget, &weight, &c)?;
                weight.push((0, false));
                Rec::Pow([c[0], c[1]])
            }
            TAG_FUNC => {
                let code = r.u8()?;
                let f = func_from_code(code).ok_or(Error::Malformed {
                    offset: tag_offset + 1,
                    what: "unknown function code",
                })?;
                let count = r.varint()?;
                if count != f.arity() as u64 {
                    return Err(Error::BadArity {
                        index,
                        func: f.name(),
                        expected: f.arity(),
                        got: count,
                    });
                }
                let c = children(&mut r, count)?;
                for (&k, &want) in c.iter().zip(f.info().args) {
                    check_kind(is_cond[k as usize], want, index)?;
                }
                weight.push((0, false));
                Rec::Func(f, c)
            }
            _ => {
                return Err(Error::Malformed {
                    offset: tag_offset,
                    what: "unknown node tag",
                });
            }
        };
        budget.charge(64)?;
        is_cond.push(matches!(&rec, Rec::Func(f, _) if f.returns_bool()));
        recs.push(rec);
    }

    let mut roots = Vec::with_capacity(n_roots as usize);
    for _ in 0..n_roots {
        let at = r.offset();
        let i = r.varint()?;
        if i >= n_nodes {
            return Err(Error::Malformed {
                offset: at,
                what: "root index is not a node of the file",
            });
        }
        let key = ContentKey(u128::from_le_bytes(r.array::<16>()?));
        roots.push((i as u32, key));
    }
    let written = if flags & FLAG_WRITTEN != 0 {
        let at = r.offset();
        let k = r.varint()?;
        if k > roots.len() as u64 {
            return Err(Error::Malformed {
                offset: at,
                what: "more written expressions than roots",
            });
        }
        let section = r.len_prefixed("written-form bytes", bytes.len() as u64)?;
        Some((k as usize, section.to_vec()))
    } else {
        None
    };
    let digest = u128::from_le_bytes(r.array::<16>()?);
    if r.remaining() != 0 {
        return Err(r.malformed("unexpected bytes after the node-key digest"));
    }
    Ok(Parsed {
        recs,
        roots,
        digest,
        written,
    })
}

/// An operand's kind against the kind its position expects.
fn check_kind(is_cond: bool, want: Kind, index: u64) -> Result<()> {
    match (want, is_cond) {
        (Kind::Number, true) => Err(Error::BadKind {
            index,
            what: "a condition is used where a number is expected",
        }),
        (Kind::Bool, false) => Err(Error::BadKind {
            index,
            what: "a number is used where a condition is expected",
        }),
        _ => Ok(()),
    }
}

/// Operands of sums, products and powers are numbers.
fn numbers_only(is_cond: &[bool], children: &[u32], index: u64) -> Result<()> {
    for &c in children {
        check_kind(is_cond[c as usize], Kind::Number, index)?;
    }
    Ok(())
}

fn charge_numbers(budget: &mut Budget, weight: &[(u64, bool)], children: &[u32]) -> Result<()> {
    for &c in children {
        let (w, is_number) = weight[c as usize];
        if is_number {
            budget.charge(w.saturating_mul(w))?;
        }
    }
    Ok(())
}

/// Sorting `k` operands costs about `k log k` comparisons, each as long as
/// the longest symbol name among them; folding numeric operands costs
/// big-number arithmetic.
fn charge_assoc(budget: &mut Budget, weight: &[(u64, bool)], children: &[u32]) -> Result<()> {
    let k = children.len() as u64;
    let log = 64 - k.leading_zeros() as u64;
    let longest_name = children
        .iter()
        .map(|&c| weight[c as usize])
        .filter(|(_, is_number)| !is_number)
        .map(|(w, _)| w)
        .max()
        .unwrap_or(0);
    budget.charge(k.saturating_mul(log).saturating_mul(8 + longest_name / 8))?;
    charge_numbers(budget, weight, children)
}

/// Rebuild one record through the canonical builders, children mapped by
/// `id_of`.
fn build(pool: &ExprPool, rec: &Rec, id_of: impl Fn(u32) -> ExprId) -> Result<ExprId> {
    let ids = |c: &[u32]| c.iter().map(|&i| id_of(i)).collect::<Vec<_>>();
    Ok(match rec {
        Rec::Symbol(s) => pool.symbol(s)?,
        Rec::Integer(z) => pool.integer(z.clone())?,
        Rec::Rational(p, q) => pool.rational(p.clone(), q.clone())?,
        Rec::Float(bits) => pool.float(f64::from_bits(*bits))?,
        Rec::Add(c) => pool.add(&ids(c))?,
        Rec::Mul(c) => pool.mul(&ids(c))?,
        Rec::Pow([b, e]) => pool.pow(id_of(*b), id_of(*e))?,
        Rec::Func(f, c) => pool.func(*f, &ids(c))?,
    })
}

/// True when `node` (of a scratch pool whose ids equal file indices) is
/// exactly the record.
fn same(node: &Node, rec: &Rec) -> bool {
    let eq =
        |a: &[ExprId], b: &[u32]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == *y);
    match (node, rec) {
        (Node::Symbol(a), Rec::Symbol(b)) => **a == **b,
        (Node::Integer(a), Rec::Integer(b)) => a == b,
        (Node::Rational(a), Rec::Rational(p, q)) => a.numer() == p && a.denom() == q,
        (Node::Float(a), Rec::Float(b)) => a == b,
        (Node::Add(a), Rec::Add(b)) | (Node::Mul(a), Rec::Mul(b)) => eq(a, b),
        (Node::Pow(a), Rec::Pow(b)) => eq(a, b),
        (Node::Func(f, a), Rec::Func(g, b)) => f == g && eq(a, b),
        _ => false,
    }
}

/// Fully validate `bytes` by rebuilding it in a fresh pool, whose ids then
/// equal the file's node indices.
fn validate(bytes: &[u8]) -> Result<(ExprPool, Parsed)> {
    let parsed = parse(bytes)?;
    let scratch = ExprPool::new();
    let mut digest = Xxh3::with_seed(DIGEST_SEED);
    for (i, rec) in parsed.recs.iter().enumerate() {
        let index = i as u64;
        let id = build(&scratch, rec, ExprId)?;
        let v = scratch.view();
        // A canonical, duplicate-free file adds exactly one node per record,
        // and that node is the record itself.
        if id.index() != i || v.len() != i + 1 || !same(v.node(id), rec) {
            return Err(Error::NonCanonical { index });
        }
        digest.update(&v.key(id).0.to_le_bytes());
    }
    if digest.digest128() != parsed.digest {
        return Err(Error::KeyMismatch {
            what: "node digest",
            index: 0,
        });
    }
    {
        let v = scratch.view();
        for (k, &(i, key)) in parsed.roots.iter().enumerate() {
            if v.key(ExprId(i)) != key {
                return Err(Error::KeyMismatch {
                    what: "root",
                    index: k as u64,
                });
            }
        }
    }
    // The written forms decode over the leaf roots, one per saved
    // expression: checked here so that loading stays all or nothing.
    if let Some((k, section)) = &parsed.written {
        let leaves: Vec<ExprId> = parsed.roots[*k..].iter().map(|&(i, _)| ExprId(i)).collect();
        let forms = written_codec::decode(section, 0, &leaves)?;
        if forms.len() != *k {
            return Err(Error::Malformed {
                offset: 0,
                what: "the written forms are not one per saved expression",
            });
        }
    }
    Ok((scratch, parsed))
}

/// Load a pool file into a new pool; returns the pool and the roots in the
/// order they were saved. For a file from [`pool_to_bytes`], every node
/// keeps its original id.
pub fn from_bytes(bytes: &[u8]) -> Result<(ExprPool, Vec<ExprId>)> {
    let (pool, parsed) = validate(bytes)?;
    let k = parsed.written.as_ref().map_or(parsed.roots.len(), |w| w.0);
    let roots = parsed.roots[..k].iter().map(|&(i, _)| ExprId(i)).collect();
    Ok((pool, roots))
}

/// Load a pool file into an existing pool (nodes it already has are
/// shared, not duplicated) and return the roots' ids in that pool.
///
/// The whole file is validated before the first node is interned, so on
/// any error `pool` is left exactly as it was. The one failure possible
/// after that point is the pool running out of ids, which is checked
/// up front as well (barring other threads filling the pool meanwhile).
pub fn load_into(pool: &ExprPool, bytes: &[u8]) -> Result<Vec<ExprId>> {
    Ok(load_into_written(pool, bytes)?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// [`load_into`], with each saved expression's written form (just the
/// expression itself when the file has none for it; see
/// [`to_bytes_written`]).
pub fn load_into_written(pool: &ExprPool, bytes: &[u8]) -> Result<Vec<(ExprId, Written)>> {
    let (scratch, parsed) = validate(bytes)?;
    drop(scratch);
    let n = parsed.recs.len();
    if pool.len().saturating_add(n) > u32::MAX as usize {
        return Err(Error::Core(alkahest_core::Error::PoolFull));
    }
    let mut ids: Vec<ExprId> = Vec::with_capacity(n);
    for rec in &parsed.recs {
        let id = build(pool, rec, |i| ids[i as usize])?;
        ids.push(id);
    }
    let v = pool.view();
    let mut roots = Vec::with_capacity(parsed.roots.len());
    for (k, &(i, key)) in parsed.roots.iter().enumerate() {
        let id = ids[i as usize];
        // Cannot fail: the builders are deterministic functions of
        // structure, and the scratch rebuild matched these keys.
        if v.key(id) != key {
            return Err(Error::KeyMismatch {
                what: "root",
                index: k as u64,
            });
        }
        roots.push(id);
    }
    drop(v);
    Ok(match &parsed.written {
        None => roots
            .into_iter()
            .map(|id| (id, Written::expr(id)))
            .collect(),
        Some((k, section)) => {
            let forms = written_codec::decode(section, 0, &roots[*k..])?;
            if forms.len() != *k {
                return Err(Error::Malformed {
                    offset: 0,
                    what: "the written forms are not one per saved expression",
                });
            }
            roots[..*k].iter().copied().zip(forms).collect()
        }
    })
}
