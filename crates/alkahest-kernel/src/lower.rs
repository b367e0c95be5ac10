//! DAG -> tape lowering.

use alkahest_core::{ExprId, ExprPool, Func, Node, NodeView, Number};
use hashbrown::HashMap;

use crate::error::{Error, Result};
use crate::tape::{BinaryFn, Op, Reg, Tape, UnaryFn};

/// Integer exponents up to this magnitude become multiplication chains
/// (at most ~62 multiplies); larger ones use `powf`.
const MAX_POWI: u64 = 1 << 31;

/// Value-numbering key: ops with equal keys compute equal values.
#[derive(PartialEq, Eq, Hash)]
struct Key(u8, u64, u32, u32, u32);

fn key(op: &Op) -> Key {
    match *op {
        Op::Input(i) => Key(0, i as u64, 0, 0, 0),
        Op::Const(c) => Key(1, c.to_bits(), 0, 0, 0),
        Op::Neg(a) => Key(2, 0, a, 0, 0),
        Op::Add(a, b) => Key(3, 0, a.min(b), a.max(b), 0),
        Op::Sub(a, b) => Key(4, 0, a, b, 0),
        Op::Mul(a, b) => Key(5, 0, a.min(b), a.max(b), 0),
        Op::Div(a, b) => Key(6, 0, a, b, 0),
        Op::Unary(f, a) => Key(7, f as u64, a, 0, 0),
        Op::Binary(f, a, b) => Key(8, f as u64, a, b, 0),
        Op::Fma(a, b, c) => Key(9, 0, a, b, c),
    }
}

struct Builder {
    ops: Vec<Op>,
    vn: HashMap<Key, Reg>,
}

impl Builder {
    fn push(&mut self, op: Op) -> Reg {
        let k = key(&op);
        if let Some(&r) = self.vn.get(&k) {
            return r;
        }
        let r = self.ops.len() as Reg;
        self.ops.push(op);
        self.vn.insert(k, r);
        r
    }

    fn konst(&mut self, c: f64) -> Reg {
        self.push(Op::Const(c))
    }

    /// `b ** n` for n > 0 by square-and-multiply, most significant bit first.
    /// The exact multiplication order is part of the semantics every backend
    /// shares.
    fn powi(&mut self, b: Reg, n: u64) -> Reg {
        debug_assert!(n > 0);
        let bits = 64 - n.leading_zeros();
        let mut acc = b;
        for i in (0..bits - 1).rev() {
            acc = self.push(Op::Mul(acc, acc));
            if (n >> i) & 1 == 1 {
                acc = self.push(Op::Mul(acc, b));
            }
        }
        acc
    }

    fn product(&mut self, regs: &[Reg]) -> Option<Reg> {
        let mut it = regs.iter().copied();
        let first = it.next()?;
        Some(it.fold(first, |acc, r| self.push(Op::Mul(acc, r))))
    }
}

fn number(node: &Node) -> Option<Number> {
    match node {
        Node::Integer(i) => Some(Number::Int(i.clone())),
        Node::Rational(r) => Some(Number::Rat(r.clone())),
        Node::Float(b) => Some(Number::Float(f64::from_bits(*b))),
        _ => None,
    }
}

struct Lowering<'a> {
    v: NodeView<'a>,
    b: Builder,
    regs: HashMap<ExprId, Reg>,
}

impl Lowering<'_> {
    fn reg(&self, id: ExprId) -> Reg {
        self.regs[&id]
    }

    /// `base ** e` for a numeric exponent.
    fn pow_number(&mut self, base: Reg, e: &Number) -> Reg {
        if let Number::Int(n) = e {
            let mag = n.magnitude();
            if let Some(m) = u64::try_from(mag).ok().filter(|&m| m <= MAX_POWI) {
                if m == 0 {
                    return self.b.konst(1.0);
                }
                let p = self.b.powi(base, m);
                return if e.is_negative() {
                    let one = self.b.konst(1.0);
                    self.b.push(Op::Div(one, p))
                } else {
                    p
                };
            }
        }
        if let Number::Rat(r) = e
            && *r.denom() == 2u32.into()
            && (*r.numer() == 1.into() || *r.numer() == (-1).into())
        {
            let s = self.b.push(Op::Unary(UnaryFn::Sqrt, base));
            return if e.is_negative() {
                let one = self.b.konst(1.0);
                self.b.push(Op::Div(one, s))
            } else {
                s
            };
        }
        let c = self.b.konst(e.to_f64());
        self.b.push(Op::Binary(BinaryFn::Pow, base, c))
    }

    /// A product given as optional coefficient and factors. Factors with a
    /// negative numeric exponent go to the denominator, so `a/b` is one
    /// division rather than a reciprocal and a multiply.
    fn product(&mut self, coeff: Option<Number>, factors: &[ExprId]) -> Reg {
        let mut num = Vec::new();
        let mut den = Vec::new();
        for &f in factors {
            if let Node::Pow([b, e]) = self.v.node(f)
                && let Some(en) = number(self.v.node(*e)).filter(Number::is_negative)
            {
                let br = self.reg(*b);
                den.push(self.pow_number(br, &en.neg()));
                continue;
            }
            num.push(self.reg(f));
        }
        let negate = coeff.as_ref().is_some_and(Number::is_exact_minus_one);
        if let Some(c) = coeff.filter(|c| !c.is_exact_one() && !c.is_exact_minus_one()) {
            let cr = self.b.konst(c.to_f64());
            num.insert(0, cr);
        }
        let n = self.b.product(&num);
        let r = match self.b.product(&den) {
            Some(d) => {
                let n = n.unwrap_or_else(|| self.b.konst(1.0));
                self.b.push(Op::Div(n, d))
            }
            None => n.unwrap_or_else(|| self.b.konst(1.0)),
        };
        if negate { self.b.push(Op::Neg(r)) } else { r }
    }

    /// Split a term into (is negative, register of its magnitude).
    fn signed_term(&mut self, t: ExprId) -> (bool, Reg) {
        match self.v.node(t) {
            Node::Mul(f) => {
                if let Some(c) = number(self.v.node(f[0])).filter(Number::is_negative) {
                    let rest = f[1..].to_vec();
                    return (true, self.product(Some(c.neg()), &rest));
                }
                (false, self.reg(t))
            }
            n => match number(n).filter(Number::is_negative) {
                Some(c) => (true, self.b.konst(c.neg().to_f64())),
                None => (false, self.reg(t)),
            },
        }
    }

    fn lower_node(&mut self, id: ExprId, inputs: &HashMap<ExprId, Reg>) -> Result<Reg> {
        let node = self.v.node(id).clone();
        Ok(match &node {
            Node::Symbol(name) => *inputs
                .get(&id)
                .ok_or_else(|| Error::UnboundSymbol(name.to_string()))?,
            Node::Integer(_) | Node::Rational(_) | Node::Float(_) => {
                let c = number(&node).map_or(f64::NAN, |n| n.to_f64());
                self.b.konst(c)
            }
            Node::Add(terms) => {
                let mut signed: Vec<(bool, Reg)> =
                    terms.iter().map(|&t| self.signed_term(t)).collect();
                // Positive terms first, so `-a + b` is `b - a`, not `-a + b`.
                signed.sort_by_key(|&(neg, _)| neg);
                let mut acc: Option<Reg> = None;
                for (neg, r) in signed {
                    acc = Some(match (acc, neg) {
                        (None, false) => r,
                        (None, true) => self.b.push(Op::Neg(r)),
                        (Some(a), false) => self.b.push(Op::Add(a, r)),
                        (Some(a), true) => self.b.push(Op::Sub(a, r)),
                    });
                }
                acc.unwrap_or_else(|| self.b.konst(0.0))
            }
            Node::Mul(f) => match number(self.v.node(f[0])) {
                Some(c) => self.product(Some(c), &f[1..]),
                None => self.product(None, f),
            },
            Node::Pow([b, e]) => {
                let br = self.reg(*b);
                match number(self.v.node(*e)) {
                    Some(en) => self.pow_number(br, &en),
                    None => {
                        let er = self.reg(*e);
                        self.b.push(Op::Binary(BinaryFn::Pow, br, er))
                    }
                }
            }
            Node::Func(f, args) => {
                let a: Vec<Reg> = args.iter().map(|&x| self.reg(x)).collect();
                let op = match f {
                    Func::Atan2 => Op::Binary(BinaryFn::Atan2, a[0], a[1]),
                    Func::Hypot => Op::Binary(BinaryFn::Hypot, a[0], a[1]),
                    Func::Min => Op::Binary(BinaryFn::Min, a[0], a[1]),
                    Func::Max => Op::Binary(BinaryFn::Max, a[0], a[1]),
                    Func::Fma => Op::Fma(a[0], a[1], a[2]),
                    other => Op::Unary(UnaryFn::from_func(*other).expect("unary function"), a[0]),
                };
                self.b.push(op)
            }
        })
    }
}

/// Lower `expr` with inputs `vars` (symbols, in argument order) into a tape.
///
/// Fails when `expr` uses a symbol missing from `vars`, or when `vars`
/// holds a non-symbol or a duplicate.
pub fn lower(pool: &ExprPool, expr: ExprId, vars: &[ExprId]) -> Result<Tape> {
    pool.check(expr)?;
    let v = pool.view();
    let mut b = Builder {
        ops: Vec::new(),
        vn: HashMap::new(),
    };
    let mut inputs: HashMap<ExprId, Reg> = HashMap::with_capacity(vars.len());
    for (index, &var) in vars.iter().enumerate() {
        match v.get(var) {
            Some(Node::Symbol(name)) => {
                let r = b.push(Op::Input(index as u32));
                if inputs.insert(var, r).is_some() {
                    return Err(Error::DuplicateVar(name.to_string()));
                }
            }
            Some(_) => {
                return Err(Error::NotASymbol {
                    index,
                    text: alkahest_core::to_string(pool, var),
                });
            }
            None => return Err(alkahest_core::Error::UnknownId(var.0).into()),
        }
    }
    let order = v.reachable(&[expr]);
    let mut l = Lowering {
        v,
        b,
        regs: HashMap::with_capacity(order.len()),
    };
    for id in order {
        let r = l.lower_node(id, &inputs)?;
        l.regs.insert(id, r);
    }
    let output = l.reg(expr);
    Ok(eliminate_dead(Tape {
        n_inputs: vars.len(),
        ops: l.b.ops,
        output,
    }))
}

/// Drop ops the output does not depend on (lowering emits a few, e.g. the
/// `-b` of `a + (-1)*b` once it became `a - b`). Inputs always stay.
pub(crate) fn eliminate_dead(t: Tape) -> Tape {
    let mut live = vec![false; t.ops.len()];
    live[t.output as usize] = true;
    for i in (0..t.ops.len()).rev() {
        if live[i] || matches!(t.ops[i], Op::Input(_)) {
            live[i] = true;
            for r in t.ops[i].operands() {
                live[r as usize] = true;
            }
        }
    }
    let mut new_index = vec![u32::MAX; t.ops.len()];
    let mut ops = Vec::with_capacity(t.ops.len());
    for (i, op) in t.ops.iter().enumerate() {
        if !live[i] {
            continue;
        }
        new_index[i] = ops.len() as u32;
        ops.push(op.map_regs(|r| new_index[r as usize]));
    }
    Tape {
        n_inputs: t.n_inputs,
        output: new_index[t.output as usize],
        ops,
    }
}
